/*
 * fuzz_decompress.c - libFuzzer target for the archive reader.
 *
 * Feeds bytes, through the public API only, to
 *   1. hlz_decompress_file (1 or 2 threads, see below),
 *   2. hlz_list_file,
 *   3. hlz_index_read and hlz_decode_chunk for every chunk of the index.
 * None of them may crash, leak or trip ASan/UBSan. Beyond that the target
 * checks properties that must hold whenever a call reports HLZ_OK, and
 * aborts (a finding) when one does not:
 *   - decoding wrote exactly stats.raw_bytes bytes and consumed the whole
 *     input (stats.archive_bytes == input size);
 *   - listing the same bytes also succeeds, with the same totals;
 *   - for a single archive, the index agrees with the stream (chunk count,
 *     content size) and every chunk decodes through the index to the same
 *     bytes the stream produced;
 *   - a failing call sets hlz_error.status to the status it returns.
 *
 * Each input is run in up to three variants:
 *   A. the bytes as given;
 *   B. the same bytes with every check value repaired (header, record,
 *      payload, index and trailer checks), so that mutations get past the
 *      checks and reach the codecs and the consistency checks behind them,
 *      including the raw checksum, which B leaves as it was;
 *   C. B with the raw checksum of every chunk that decodes repaired too, and
 *      the index and trailer rewritten to agree with the records before
 *      them, so that mutated, resized or dropped records can decode to HLZ_OK.
 * B and C are skipped when they equal the previous variant. The repair only
 * rewrites bytes (it uses the internal record writers to stay in step with
 * the format), so the library still sees nothing but an input FILE.
 * Threads: variant A uses 2 threads when the XOR of all input bytes is odd,
 * else 1; B uses the other count and C the same as A.
 *
 * Build: make build-fuzz/fuzz_decompress; run: make fuzz (tests/fuzz/run.sh).
 */
#include "hlz.h"
#include "internal.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

/* ---- the output sink --------------------------------------------------------- */

/* Output of the stream decoder: a FILE (fopencookie) that counts every byte
 * and keeps the first KEEP_MAX of them to compare with hlz_decode_chunk.
 * Counting instead of buffering everything keeps memory bounded when a tiny
 * input decodes to a lot of output. */
#define KEEP_MAX ((size_t)16 << 20)

typedef struct {
    uint64_t total;
    uint8_t *kept;
    size_t kept_size, kept_capacity;
} sink;

static ssize_t sink_write(void *cookie, const char *buf, size_t size)
{
    sink *s = cookie;
    s->total += size;
    if (s->kept_size < KEEP_MAX) {
        size_t take = size < KEEP_MAX - s->kept_size ? size : KEEP_MAX - s->kept_size;
        if (s->kept_size + take > s->kept_capacity) {
            size_t cap = s->kept_capacity ? s->kept_capacity : 4096;
            while (cap < s->kept_size + take) cap *= 2;
            if (cap > KEEP_MAX) cap = KEEP_MAX;
            uint8_t *grown = realloc(s->kept, cap);
            if (!grown) return -1;
            s->kept = grown;
            s->kept_capacity = cap;
        }
        memcpy(s->kept + s->kept_size, buf, take);
        s->kept_size += take;
    }
    return (ssize_t)size;
}

/* ---- properties ------------------------------------------------------------------ */

static void fail(const char *what)
{
    fprintf(stderr, "fuzz_decompress: property violated: %s\n", what);
    abort();
}

static void check_error(hlz_status st, const hlz_error *e, const char *call)
{
    if (st == HLZ_OK) return;
    if ((unsigned)st >= HLZ_STATUS_COUNT) fail(call);
    if (e->status != st) {
        fprintf(stderr, "%s: returned %s but the error says %s (%s)\n", call, hlz_status_name(st),
                hlz_status_name(e->status), e->message);
        fail("error status differs from the returned status");
    }
    if (memchr(e->message, '\0', sizeof e->message) == NULL) fail("error message not terminated");
}

typedef struct {
    uint64_t headers, chunks; /* over all archives */
    uint64_t in_archive;      /* chunks of the current archive */
    uint64_t raw_in_archive;  /* its content bytes so far */
} list_count;

static int on_header(void *user, const hlz_header_info *h)
{
    list_count *c = user;
    c->headers++;
    c->in_archive = 0;
    c->raw_in_archive = 0;
    if (memchr(h->model_name, '\0', sizeof h->model_name) == NULL) fail("model name not terminated");
    return 0;
}

static int on_chunk(void *user, const hlz_chunk_info *ch)
{
    list_count *c = user;
    if (ch->index != c->in_archive) fail("list: chunk numbers out of order");
    if (ch->raw_offset != c->raw_in_archive) fail("list: raw offsets are not contiguous");
    c->in_archive++;
    c->raw_in_archive += ch->raw_size;
    c->chunks++;
    (void)hlz_codec_name(ch->codec);
    (void)hlz_reason_name(ch->reason);
    return 0;
}

static FILE *open_input(uint8_t *bytes, size_t size)
{
    FILE *f = fmemopen(bytes, size, "rb");
    if (!f) abort(); /* the harness itself failed, not the library */
    return f;
}

/* Runs the three readers on `bytes` (which fmemopen may not modify: read
 * mode) and checks the properties above. */
static void run_readers(uint8_t *bytes, size_t size, int threads)
{
    /* 1. The streaming decoder. */
    sink out_sink = {0};
    cookie_io_functions_t io = {.write = sink_write};
    FILE *out = fopencookie(&out_sink, "wb", io);
    if (!out) abort();
    FILE *in = open_input(bytes, size);
    hlz_options options;
    hlz_options_default(&options);
    options.threads = threads;
    hlz_stats dstats;
    hlz_error derr = {0};
    hlz_status dst = hlz_decompress_file(in, out, &options, &dstats, &derr);
    fclose(in);
    fclose(out); /* hlz_decompress_file has flushed it on success */
    check_error(dst, &derr, "hlz_decompress_file");
    if (dst == HLZ_OK) {
        if (out_sink.total != dstats.raw_bytes) {
            fprintf(stderr, "decoded %llu bytes, stats.raw_bytes %llu\n", (unsigned long long)out_sink.total,
                    (unsigned long long)dstats.raw_bytes);
            fail("decode output size differs from stats.raw_bytes");
        }
        if (dstats.archive_bytes != size) fail("decode succeeded without consuming the whole input");
    }

    /* 2. The lister. */
    list_count counts = {0};
    hlz_list_callbacks cb = {.on_header = on_header, .on_chunk = on_chunk, .user = &counts};
    hlz_stats lstats;
    hlz_error lerr = {0};
    in = open_input(bytes, size);
    hlz_status lst = hlz_list_file(in, &cb, &lstats, &lerr);
    fclose(in);
    check_error(lst, &lerr, "hlz_list_file");
    if (lst == HLZ_OK && lstats.chunks != counts.chunks) fail("list: stats.chunks differs from callbacks");
    if (dst == HLZ_OK) {
        if (lst != HLZ_OK) {
            fprintf(stderr, "list failed: %s\n", lerr.message);
            fail("decode succeeded but list failed");
        }
        if (lstats.raw_bytes != dstats.raw_bytes || lstats.archive_bytes != dstats.archive_bytes ||
            lstats.chunks != dstats.chunks)
            fail("list and decode disagree on the totals");
    }

    /* 3. Random access through the index. */
    hlz_index index;
    hlz_error ierr = {0};
    in = open_input(bytes, size);
    hlz_status ist = hlz_index_read(in, &index, &ierr);
    check_error(ist, &ierr, "hlz_index_read");
    bool single = dst == HLZ_OK && counts.headers == 1;
    if (single && ist != HLZ_OK) {
        fprintf(stderr, "index read failed: %s\n", ierr.message);
        fail("a single archive decodes but its index does not read");
    }
    if (ist == HLZ_OK) {
        if (single && (index.chunk_count != dstats.chunks || index.raw_size != dstats.raw_bytes))
            fail("index and stream disagree on chunk count or content size");
        uint32_t largest = 0;
        uint64_t raw_sum = 0;
        for (uint64_t i = 0; i < index.chunk_count; i++) {
            const hlz_chunk_info *c = &index.chunks[i];
            if (c->raw_size > largest) largest = c->raw_size;
            if (c->raw_offset != raw_sum) fail("index: raw offsets are not contiguous");
            raw_sum += c->raw_size;
            if (hlz_index_find(&index, c->raw_offset) != i) fail("hlz_index_find misses a chunk start");
        }
        if (raw_sum != index.raw_size) fail("index: chunk sizes do not add up to raw_size");
        if (hlz_index_find(&index, index.raw_size) != index.chunk_count) fail("hlz_index_find past the end");
        uint8_t *dst_buf = malloc(largest ? largest : 1);
        if (!dst_buf) abort();
        for (uint64_t i = 0; i < index.chunk_count; i++) {
            const hlz_chunk_info *c = &index.chunks[i];
            hlz_error cerr = {0};
            hlz_status cst = hlz_decode_chunk(in, &index, i, dst_buf, largest, &cerr);
            check_error(cst, &cerr, "hlz_decode_chunk");
            if (single) {
                if (cst != HLZ_OK) {
                    fprintf(stderr, "chunk %llu: %s\n", (unsigned long long)i, cerr.message);
                    fail("the stream decodes but a chunk does not decode through the index");
                }
                if (c->raw_offset + c->raw_size <= out_sink.kept_size &&
                    memcmp(dst_buf, out_sink.kept + c->raw_offset, c->raw_size) != 0)
                    fail("a chunk decoded through the index differs from the stream output");
            }
        }
        /* Requests the API must refuse without touching memory. */
        hlz_error perr = {0};
        if (hlz_decode_chunk(in, &index, index.chunk_count, dst_buf, largest, &perr) != HLZ_ERR_PARAM)
            fail("hlz_decode_chunk accepted a chunk past the end");
        if (index.chunk_count > 0 && index.chunks[0].raw_size > 0 &&
            hlz_decode_chunk(in, &index, 0, dst_buf, index.chunks[0].raw_size - 1, &perr) != HLZ_ERR_PARAM)
            fail("hlz_decode_chunk accepted a buffer that is too small");
        free(dst_buf);
        hlz_index_free(&index);
    }
    fclose(in);
    free(out_sink.kept);
}

/* ---- check repair (variants B and C) -------------------------------------------- */

/* Largest raw size the repair decodes to compute a raw checksum. */
#define REPAIR_RAW_MAX ((uint32_t)1 << 20)

/* Scratch space kept for the whole run: large allocations are slow under
 * ASan (each one is a fresh mapping), and every input needs this one. */
static uint8_t *scratch(size_t size)
{
    static uint8_t *buf;
    static size_t capacity;
    if (size > capacity) {
        free(buf);
        buf = malloc(size);
        capacity = buf ? size : 0;
    }
    return buf;
}

/* Copies `in` to a new buffer with check values recomputed; with `rebuild`,
 * also the raw checksums of chunks that decode, and each index and trailer
 * rewritten to agree with the records before them. Anything it does not
 * recognise is copied unchanged from there on. Returns NULL when out of
 * memory. */
static uint8_t *repair(const uint8_t *in, size_t n, bool rebuild, size_t *out_size)
{
    /* A rebuilt index has at most one entry per record of at least
     * HLZ_CHUNK_RECORD_SIZE bytes, and may replace a shorter one. */
    size_t cap = n + n / HLZ_CHUNK_RECORD_SIZE * HLZ_INDEX_ENTRY_SIZE + HLZ_INDEX_FIXED_SIZE + HLZ_TRAILER_SIZE + 64;
    uint8_t *out = malloc(cap);
    uint32_t *sizes = malloc((n / HLZ_CHUNK_RECORD_SIZE + 1) * sizeof *sizes);
    if (!out || !sizes) {
        free(out);
        free(sizes);
        return NULL;
    }
    size_t pos = 0, o = 0;
    while (pos < n) {
        /* Header: the check value is its last four bytes. */
        if (n - pos < 12 || memcmp(in + pos, hlz_magic, HLZ_MAGIC_SIZE) != 0) break;
        size_t hs = hlz_le16(in + pos + 10);
        if (hs < HLZ_HEADER_FIXED_SIZE || hs > n - pos) break;
        size_t archive_start = o;
        memcpy(out + o, in + pos, hs);
        hlz_put32(out + o + hs - 4, hlz_check32(out + o, hs - 4));
        o += hs;
        pos += hs;

        uint64_t chunk = 0, raw_total = 0;
        while (pos < n && in[pos] == HLZ_RECORD_CHUNK && n - pos >= HLZ_CHUNK_RECORD_SIZE) {
            const uint8_t *h = in + pos;
            hlz_chunk_record r = {
                .codec = h[1], .reason = h[2], .entropy32 = h[3], .utf8_percent = h[4],
                .probe_percent = h[5], .raw_size = hlz_le32(h + 8), .coded_size = hlz_le32(h + 12),
                .checksum = hlz_le64(h + 16),
            };
            const uint8_t *payload = h + HLZ_CHUNK_RECORD_SIZE;
            size_t avail = n - pos - HLZ_CHUNK_RECORD_SIZE;
            size_t take = r.coded_size < avail ? r.coded_size : avail;
            if (take == r.coded_size) {
                r.payload_check = hlz_check32(payload, take);
                if (rebuild && r.raw_size > 0 && r.raw_size <= REPAIR_RAW_MAX) {
                    uint8_t *raw = scratch(REPAIR_RAW_MAX);
                    hlz_error e;
                    if (raw && hlz_codec_decode(r.codec, payload, take, raw, r.raw_size, &e) == HLZ_OK)
                        r.checksum = hlz_checksum64(raw, r.raw_size, chunk);
                }
            }
            hlz_chunk_record_write(&r, out + o);
            /* Keep the reserved bytes (6 and 7) as they were, re-checked. */
            out[o + 6] = h[6];
            out[o + 7] = h[7];
            hlz_put32(out + o + HLZ_CHUNK_RECORD_SIZE - 4, hlz_check32(out + o, HLZ_CHUNK_RECORD_SIZE - 4));
            memcpy(out + o + HLZ_CHUNK_RECORD_SIZE, payload, take);
            o += HLZ_CHUNK_RECORD_SIZE + take;
            pos += HLZ_CHUNK_RECORD_SIZE + take;
            sizes[chunk++] = r.coded_size;
            raw_total += r.raw_size;
        }
        if (pos >= n || in[pos] != HLZ_RECORD_INDEX) break;

        /* Index, then trailer. */
        uint64_t index_offset = o - archive_start;
        uint64_t count = n - pos >= 9 ? hlz_le64(in + pos + 1) : UINT64_MAX;
        size_t index_size = 0;
        if (count <= (n - pos) / HLZ_INDEX_ENTRY_SIZE &&
            HLZ_INDEX_FIXED_SIZE + count * HLZ_INDEX_ENTRY_SIZE <= n - pos)
            index_size = HLZ_INDEX_FIXED_SIZE + (size_t)count * HLZ_INDEX_ENTRY_SIZE;
        else if (rebuild && n - pos >= HLZ_TRAILER_SIZE)
            index_size = n - pos - HLZ_TRAILER_SIZE; /* assume the trailer ends the input */
        else
            break;
        if (rebuild) {
            o += hlz_index_record_write(chunk, raw_total, sizes, out + o);
        } else {
            memcpy(out + o, in + pos, index_size);
            hlz_put32(out + o + index_size - 4, hlz_check32(out + o, index_size - 4));
            o += index_size;
        }
        pos += index_size;
        if (n - pos < HLZ_TRAILER_SIZE) break;
        hlz_trailer_write(rebuild ? index_offset : hlz_le64(in + pos), out + o);
        o += HLZ_TRAILER_SIZE;
        pos += HLZ_TRAILER_SIZE;
    }
    memcpy(out + o, in + pos, n - pos);
    o += n - pos;
    free(sizes);
    *out_size = o;
    return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* A private copy: fmemopen wants a writable buffer, and ASan then sees
     * exactly `size` bytes. */
    uint8_t *a = malloc(size ? size : 1);
    if (!a) return 0;
    if (size) memcpy(a, data, size);
    uint8_t parity = 0;
    for (size_t i = 0; i < size; i++) parity ^= data[i];
    int threads = (parity & 1) ? 2 : 1;
    run_readers(a, size, threads);

    size_t b_size, c_size;
    uint8_t *b = repair(a, size, false, &b_size);
    if (b && (b_size != size || memcmp(a, b, size) != 0)) run_readers(b, b_size, 3 - threads);
    uint8_t *c = repair(a, size, true, &c_size);
    if (c && b && (c_size != b_size || memcmp(b, c, b_size) != 0)) run_readers(c, c_size, threads);
    free(a);
    free(b);
    free(c);
    return 0;
}
