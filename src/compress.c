/* compress.c - the streaming compressor: chunker, scout, codecs, container.
 *
 * Chunks are read in batches of `threads` chunks, encoded in parallel and
 * written in order; each chunk depends only on its own bytes and the
 * options, so the archive is the same for every thread count. */
#include "codec_cm.h"
#include "codec_float.h"
#include "internal.h"
#include "llm.h"
#include "robust.h"
#include "model.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void hlz_options_default(hlz_options *options)
{
    memset(options, 0, sizeof *options);
    options->codec = HLZ_CODEC_AUTO;
    options->chunk_size = HLZ_CHUNK_SIZE_DEFAULT;
    options->level = HLZ_LEVEL_DEFAULT;
    options->threads = 1;
    options->mix = HLZ_MIX_ALL;
}

#define CM_PROBE_SIZE (16 * 1024)

typedef struct {
    uint8_t *raw;
    uint8_t *coded;       /* capacity chunk_size */
    uint8_t *spare;       /* a second output, when two codecs are tried */
    size_t raw_size;
    uint64_t number;        /* position in the archive */
    const uint8_t *payload; /* coded, or raw when stored */
    hlz_segment *segs;      /* the float codec's plan (HLZ_SEGMENTS_MAX) */
    size_t nseg;
    hlz_chunk_record record;
    hlz_status status;
    hlz_error error;
} slot;

typedef struct {
    const hlz_options *options;
    const hlz_llm *llm;   /* NULL when no model is used */
    hlz_robust_params robust; /* for codec robust */
    slot *slots;
    const hlz_tensor_map *map; /* tensors named by a header in the first chunk */
} batch;

/* Text the model should see: nearly all valid UTF-8, not random-looking, and
 * almost no control bytes other than tab, newline and carriage return
 * (binary tables can be valid ASCII). */
static bool text_like(const hlz_scout_result *s, const uint8_t *p, size_t n)
{
    if (s->utf8_percent < 95 || s->entropy32 >= 7 * 32) return false;
    size_t control = 0;
    for (size_t i = 0; i < n; i++) control += (p[i] < 0x20 && p[i] != '\t' && p[i] != '\n' && p[i] != '\r') || p[i] == 0x7f;
    return control * 100 < n;
}

/* Level 9, a chunk the scout found incompressible: does cm shrink its first
 * 16 KiB by at least 1%? Compressed media (JPEG's Huffman codes) often does;
 * random and deflated data do not. Costs about 40 ms per chunk. */
static bool cm_sample_gains(slot *s)
{
    size_t n = s->raw_size < CM_PROBE_SIZE ? s->raw_size : CM_PROBE_SIZE, coded = 0;
    hlz_error ignored;
    return n >= 1024 && hlz_cm_encode(s->raw, n, s->spare, n - n / 100, &coded, &ignored) == HLZ_OK;
}

/* Codes the slot with codec `id` into its coded buffer (capacity raw - 1:
 * output that does not shrink is useless). HLZ_ERR_CODEC means "did not fit". */
static hlz_status try_codec(const batch *b, slot *s, unsigned id, uint8_t *dst, size_t *coded)
{
    if (id == HLZ_CODEC_LLM)
        return hlz_llm_encode(b->llm, s->raw, s->raw_size, dst, s->raw_size - 1, coded, &s->error);
    if (id == HLZ_CODEC_ROBUST)
        return hlz_robust_encode(b->llm, &b->robust, s->raw, s->raw_size, dst, s->raw_size - 1, coded, NULL,
                                 &s->error);
    if (id == HLZ_CODEC_FLOAT)
        return hlz_float_encode(s->segs, s->nseg, b->options->level, s->raw, s->raw_size, dst, s->raw_size - 1,
                                coded, &s->error);
    return hlz_codec_encode(id, b->options->level, s->raw, s->raw_size, dst, s->raw_size - 1, coded, &s->error);
}

static void encode_slot(void *context, size_t i)
{
    batch *b = context;
    slot *s = &b->slots[i];
    hlz_scout_result scout;
    hlz_scout(s->raw, s->raw_size, &scout);
    hlz_chunk_record *r = &s->record;
    r->entropy32 = scout.entropy32;
    r->utf8_percent = scout.utf8_percent;
    r->probe_percent = scout.probe_percent;
    r->raw_size = (uint32_t)s->raw_size;
    r->checksum = hlz_checksum64(s->raw, s->raw_size, s->number);
    if (b->options->codec == HLZ_CODEC_AUTO) {
        r->codec = scout.codec;
        r->reason = scout.reason;
        if (b->llm && text_like(&scout, s->raw, s->raw_size)) r->codec = HLZ_CODEC_LLM, r->reason = HLZ_REASON_TEXT;
        else if (r->codec == HLZ_CODEC_ZSTD && b->options->level >= HLZ_CM_LEVEL_MIN)
            r->codec = HLZ_CODEC_CM, r->reason = HLZ_REASON_MIXING;
        else if (r->codec == HLZ_CODEC_STORE && b->options->level >= HLZ_LEVEL_MAX && cm_sample_gains(s))
            r->codec = HLZ_CODEC_CM, r->reason = HLZ_REASON_MIXING;
    } else {
        r->codec = (uint8_t)b->options->codec;
        r->reason = HLZ_REASON_FORCED;
    }
    if (r->reason != HLZ_REASON_TEXT && (r->codec != HLZ_CODEC_STORE || r->reason != HLZ_REASON_FORCED)) {
        /* Tensors: the header's map, or a guessed float array clearly better than the zstd probe. */
        unsigned percent = 100;
        s->nseg = hlz_float_plan(b->map, s->number * b->options->chunk_size, s->raw, s->raw_size, s->segs,
                                 &percent);
        if (r->codec == HLZ_CODEC_FLOAT && s->nseg == 0)
            s->segs[0] = (hlz_segment){HLZ_SEG_BYTES, s->raw_size}, s->nseg = 1;
        if (b->options->codec == HLZ_CODEC_AUTO && s->nseg && percent == 0)
            r->codec = HLZ_CODEC_FLOAT, r->reason = HLZ_REASON_TENSOR;
        else if (b->options->codec == HLZ_CODEC_AUTO && s->nseg && percent < 97) {
            /* A guess from a sample: keep it only if it beats zstd's fastest level on the whole chunk. */
            size_t fcoded = 0, zcoded = 0;
            hlz_error ignored;
            hlz_status fst = try_codec(b, s, HLZ_CODEC_FLOAT, s->coded, &fcoded);
            hlz_status zst = hlz_codec_encode(HLZ_CODEC_ZSTD, 1, s->raw, s->raw_size, s->spare, s->raw_size - 1,
                                              &zcoded, &ignored);
            if (fst == HLZ_OK && (zst != HLZ_OK || fcoded < zcoded))
                r->codec = HLZ_CODEC_FLOAT, r->reason = HLZ_REASON_TENSOR;
        }
    }
    s->status = HLZ_OK;
    if (r->codec != HLZ_CODEC_STORE) {
        size_t coded = 0;
        hlz_status st = try_codec(b, s, r->codec, s->coded, &coded);
        if (st != HLZ_OK && st != HLZ_ERR_CODEC) {
            s->status = st;
            return;
        }
        if (r->reason == HLZ_REASON_TEXT && b->options->level >= HLZ_CM_LEVEL_MIN) {
            /* Text the model predicts badly (URLs, tables, code) can go further with cm: keep the smaller. */
            size_t ccoded = 0;
            hlz_status cst = try_codec(b, s, HLZ_CODEC_CM, s->spare, &ccoded);
            if (cst != HLZ_OK && cst != HLZ_ERR_CODEC) {
                s->status = cst;
                return;
            }
            if (cst == HLZ_OK && (st != HLZ_OK || ccoded < coded)) {
                uint8_t *t = s->coded;
                s->coded = s->spare, s->spare = t;
                coded = ccoded, st = HLZ_OK, r->codec = HLZ_CODEC_CM;
            }
        }
        if (r->reason == HLZ_REASON_TEXT || r->reason == HLZ_REASON_MIXING ||
            (r->reason == HLZ_REASON_TENSOR && r->codec == HLZ_CODEC_FLOAT)) {
            /* Keep the smaller of llm (or float) and zstd: zstd costs little next to the model,
             * and some quantized tensors hold repeats that only zstd finds. Next to the float
             * codec zstd at level 9 (-19) costs 40 times the coding: a float chunk runs it only
             * when zstd's fastest level comes within 10% of the float size (it never did on
             * bf16 or fp32 weights; it does on quantized blocks and on repeats). The same for cm, whose
             * match model finds the repeats zstd would. */
            size_t zcoded = 0;
            hlz_status zst = HLZ_ERR_CODEC;
            bool worth = (r->codec != HLZ_CODEC_FLOAT && r->codec != HLZ_CODEC_CM) || st != HLZ_OK;
            if (!worth) {
                hlz_error ignored;
                size_t probe = 0;
                worth = hlz_codec_encode(HLZ_CODEC_ZSTD, 1, s->raw, s->raw_size, s->spare, s->raw_size - 1, &probe,
                                         &ignored) != HLZ_OK || probe < coded + coded / 10;
            }
            if (worth) zst = try_codec(b, s, HLZ_CODEC_ZSTD, s->spare, &zcoded);
            if (zst != HLZ_OK && zst != HLZ_ERR_CODEC) {
                s->status = zst;
                return;
            }
            if (zst == HLZ_OK && (st != HLZ_OK || zcoded < coded)) {
                uint8_t *t = s->coded;
                s->coded = s->spare, s->spare = t;
                coded = zcoded, st = HLZ_OK, r->codec = HLZ_CODEC_ZSTD;
            }
        }
        if (st == HLZ_OK) {
            r->coded_size = (uint32_t)coded;
            s->payload = s->coded;
            return;
        }
        r->codec = HLZ_CODEC_STORE;
        r->reason = HLZ_REASON_FALLBACK;
    }
    r->coded_size = r->raw_size;
    s->payload = s->raw;
}

static void encode_and_check(void *context, size_t i)
{
    encode_slot(context, i);
    slot *s = &((batch *)context)->slots[i];
    if (s->status == HLZ_OK) s->record.payload_check = hlz_check32(s->payload, s->record.coded_size);
}

/* Reads until `size` bytes or end of input; returns the count read. */
static size_t read_full(FILE *in, uint8_t *buf, size_t size)
{
    size_t got = 0;
    while (got < size) {
        size_t n = fread(buf + got, 1, size - got, in);
        if (n == 0) break;
        got += n;
    }
    return got;
}

static hlz_status write_all(FILE *out, const void *data, size_t size, uint64_t *offset, hlz_error *error)
{
    if (size && fwrite(data, 1, size, out) != size)
        return hlz_fail(error, HLZ_ERR_IO, "write error: %s", strerror(errno));
    *offset += size;
    return HLZ_OK;
}

static hlz_status check_options(const hlz_options *o, hlz_error *error)
{
    if (o->chunk_size < HLZ_CHUNK_SIZE_MIN || o->chunk_size > HLZ_CHUNK_SIZE_MAX)
        return hlz_fail(error, HLZ_ERR_PARAM, "chunk size %u is outside %u..%u bytes",
                        (unsigned)o->chunk_size, (unsigned)HLZ_CHUNK_SIZE_MIN, (unsigned)HLZ_CHUNK_SIZE_MAX);
    if (o->level < HLZ_LEVEL_MIN || o->level > HLZ_LEVEL_MAX)
        return hlz_fail(error, HLZ_ERR_PARAM, "level %d is outside %d..%d", o->level, HLZ_LEVEL_MIN,
                        HLZ_LEVEL_MAX);
    if (o->threads < 1 || o->threads > HLZ_THREADS_MAX)
        return hlz_fail(error, HLZ_ERR_PARAM, "thread count %d is outside 1..%d", o->threads, HLZ_THREADS_MAX);
    if ((o->codec == HLZ_CODEC_LLM || o->codec == HLZ_CODEC_ROBUST) && !o->model)
        return hlz_fail(error, HLZ_ERR_PARAM, "the %s codec needs a model", hlz_codec_name(o->codec));
    if (o->mix & ~HLZ_MIX_ALL) return hlz_fail(error, HLZ_ERR_PARAM, "unknown online model parts 0x%x", o->mix);
    if (o->attention >= HLZ_ATTENTION_COUNT)
        return hlz_fail(error, HLZ_ERR_PARAM, "unknown attention arithmetic %u", o->attention);
    hlz_robust_params robust;
    if (o->codec == HLZ_CODEC_ROBUST && hlz_robust_params_default(o->mismatch, &robust) != 0)
        return hlz_fail(error, HLZ_ERR_PARAM, "the robust codec needs a mismatch C in (1, 65535], not %g", o->mismatch);
    if (o->codec != HLZ_CODEC_AUTO && o->codec != HLZ_CODEC_STORE && o->codec != HLZ_CODEC_ZSTD &&
        o->codec != HLZ_CODEC_LLM && o->codec != HLZ_CODEC_ROBUST && o->codec != HLZ_CODEC_FLOAT &&
        o->codec != HLZ_CODEC_CM)
        return hlz_fail(error, HLZ_ERR_UNSUPPORTED, "the %s codec is not available in this build",
                        hlz_codec_name(o->codec));
    return HLZ_OK;
}

hlz_status hlz_compress_file(FILE *in, FILE *out, const hlz_options *options,
                             hlz_stats *stats, hlz_error *error)
{
    hlz_options defaults;
    if (!options) {
        hlz_options_default(&defaults);
        options = &defaults;
    }
    hlz_status st = check_options(options, error);
    if (st != HLZ_OK) return st;

    size_t slot_count = (size_t)options->threads;
    size_t chunk_size = options->chunk_size;
    slot *slots = calloc(slot_count, sizeof *slots);
    uint32_t *coded_sizes = NULL;
    uint8_t *index = NULL;
    hlz_llm *llm = NULL;
    hlz_header *header = NULL;
    hlz_tensor_map map = {0, NULL};
    uint64_t chunks = 0, coded_capacity = 0, raw_total = 0, offset = 0;
    if (!slots) return hlz_fail(error, HLZ_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < slot_count; i++) {
        slots[i].raw = malloc(chunk_size);
        slots[i].coded = malloc(chunk_size);
        slots[i].spare = malloc(chunk_size);
        slots[i].segs = malloc(HLZ_SEGMENTS_MAX * sizeof *slots[i].segs);
        if (!slots[i].raw || !slots[i].coded || !slots[i].spare || !slots[i].segs) {
            st = hlz_fail(error, HLZ_ERR_NOMEM, "out of memory for %zu chunk buffers", slot_count);
            goto done;
        }
    }

    header = calloc(1, sizeof *header); /* 64 KiB: kept off the stack */
    if (!header) { st = hlz_fail(error, HLZ_ERR_NOMEM, "out of memory"); goto done; }
    header->version = 1; /* 2 only where hybrid llm chunks need it (below) */
    header->chunk_size = options->chunk_size;
    if (options->model && options->codec != HLZ_CODEC_STORE && options->codec != HLZ_CODEC_ZSTD &&
        options->codec != HLZ_CODEC_CM) {
        hlz_llm_params params;
        hlz_llm_params_default(options->model, &params);
        params.attention = (uint8_t)options->attention;
        if ((st = hlz_llm_create(options->model, &params, &llm, error)) != HLZ_OK) goto done;
        hlz_llm_set_mix(llm, options->mix);
        /* Hybrid llm chunks are new in version 2: older readers then ask for an upgrade. */
        if (options->mix) header->version = 2;
        hlz_model_info info;
        hlz_model_get_info(options->model, &info);
        memcpy(header->model_fingerprint, info.fingerprint, 16);
        size_t name = strlen(info.name);
        header->model_name_size = (uint8_t)(name > 255 ? 255 : name);
        memcpy(header->model_name, info.name, header->model_name_size);
        hlz_llm_option_write(&params, header->options);
        header->options_size = 4 + HLZ_OPTION_LLM_SIZE;
    }
    uint8_t header_bytes[HLZ_HEADER_FIXED_SIZE + 255 + 4 + HLZ_OPTION_LLM_SIZE];
    size_t header_size = hlz_header_write(header, header_bytes);
    if ((st = write_all(out, header_bytes, header_size, &offset, error)) != HLZ_OK) goto done;

    batch b = {.options = options, .llm = llm, .slots = slots, .map = &map};
    if (options->codec == HLZ_CODEC_ROBUST) hlz_robust_params_default(options->mismatch, &b.robust);
    bool at_end = false;
    while (!at_end) {
        size_t filled = 0;
        while (filled < slot_count) {
            slots[filled].raw_size = read_full(in, slots[filled].raw, chunk_size);
            if (ferror(in)) {
                st = hlz_fail(error, HLZ_ERR_IO, "read error: %s", strerror(errno));
                goto done;
            }
            slots[filled].number = chunks + filled;
            if (slots[filled].raw_size > 0) filled++;
            if (feof(in)) { at_end = true; break; }
        }
        if (chunks == 0 && filled > 0) hlz_tensor_map_build(slots[0].raw, slots[0].raw_size, &map);
        /* One chunk: the model may use every thread; several: one thread each. */
        if (options->model) hlz_model_set_threads(options->model, filled == 1 ? options->threads : 1);
        hlz_parallel_for(options->threads, filled, encode_and_check, &b);
        for (size_t i = 0; i < filled; i++) {
            slot *s = &slots[i];
            if (s->status != HLZ_OK) {
                st = s->status;
                if (error) *error = s->error;
                goto done;
            }
            if (chunks == coded_capacity) {
                coded_capacity = coded_capacity ? 2 * coded_capacity : 64;
                uint32_t *grown = realloc(coded_sizes, coded_capacity * sizeof *grown);
                if (!grown) { st = hlz_fail(error, HLZ_ERR_NOMEM, "out of memory"); goto done; }
                coded_sizes = grown;
            }
            coded_sizes[chunks++] = s->record.coded_size;
            raw_total += s->raw_size;
            uint8_t record[HLZ_CHUNK_RECORD_SIZE];
            hlz_chunk_record_write(&s->record, record);
            if ((st = write_all(out, record, sizeof record, &offset, error)) != HLZ_OK) goto done;
            if ((st = write_all(out, s->payload, s->record.coded_size, &offset, error)) != HLZ_OK) goto done;
        }
        if (options->progress) options->progress(options->progress_user, raw_total, offset);
    }

    uint64_t index_offset = offset;
    index = malloc(HLZ_INDEX_FIXED_SIZE + HLZ_INDEX_ENTRY_SIZE * chunks);
    if (!index) { st = hlz_fail(error, HLZ_ERR_NOMEM, "out of memory for the index"); goto done; }
    size_t index_size = hlz_index_record_write(chunks, raw_total, coded_sizes, index);
    if ((st = write_all(out, index, index_size, &offset, error)) != HLZ_OK) goto done;
    uint8_t trailer[HLZ_TRAILER_SIZE];
    hlz_trailer_write(index_offset, trailer);
    if ((st = write_all(out, trailer, sizeof trailer, &offset, error)) != HLZ_OK) goto done;
    if (fflush(out) != 0) { st = hlz_fail(error, HLZ_ERR_IO, "write error: %s", strerror(errno)); goto done; }
    if (stats) {
        stats->raw_bytes = raw_total;
        stats->archive_bytes = offset;
        stats->chunks = chunks;
    }
done:
    for (size_t i = 0; i < slot_count; i++) {
        free(slots[i].raw);
        free(slots[i].coded);
        free(slots[i].spare);
        free(slots[i].segs);
    }
    hlz_tensor_map_free(&map);
    free(slots);
    free(coded_sizes);
    free(index);
    hlz_llm_free(llm);
    free(header);
    return st;
}
