/* decompress.c - the streaming reader: decode (hlz -d), verify (hlz -t) and
 * list (hlz -l) walk the same records with the same checks.
 *
 * Chunk records are read in batches, decoded in parallel, verified against
 * their checksums and written in order. At the index the reader checks that
 * it lists exactly the chunks seen, and at the trailer that it points back
 * at the index, so a missing, repeated or truncated record is an error. */
#include "device.h"
#include "internal.h"
#include "llm.h"
#include "robust.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

typedef enum { WALK_DECODE, WALK_LIST } walk_mode;

/* Chunks decoded at once when the model is on the GPU: each step costs
 * about the same for a few or a few thousand of them (4096: two cohorts of
 * 2048; an H200 took 1.6 us of GPU time a token in steps of ~1800 tokens,
 * 2.1 us in steps of ~900). Their buffers (two chunks each) take at most
 * LOCKSTEP_HOST_BYTES of host memory. */
#define LOCKSTEP_MIN 16
#define LOCKSTEP_MAX 4096
#define LOCKSTEP_HOST_BYTES ((uint64_t)1 << 30)
/* On the CPU a lockstep step evaluates its chunks' tokens as one batch, which
 * reads each weight once for all of them (bench/cpu_lockstep.sh, 32 KiB on 2
 * cores: 1.44x faster in 16 chunks at -T 2, 1.26x in 8, 1.8x in 16 or 4 at
 * -T 1; with one chunk per thread it was slower, 18.3 s against 15.9 s in an
 * earlier single run). So a batch of at least
 * CPU_LOCKSTEP_FROM model-coded chunks per thread goes in lockstep; the
 * reader gathers up to CPU_LOCKSTEP_BATCH chunks per thread, as long as their
 * buffers take at most CPU_LOCKSTEP_BYTES and so do the walk's sessions and
 * logits. */
#define CPU_LOCKSTEP_FROM 4
#define CPU_LOCKSTEP_BATCH 8
#define CPU_LOCKSTEP_BYTES ((uint64_t)512 << 20)

typedef struct {
    FILE *in;
    uint64_t offset;      /* bytes consumed from `in` */
    uint64_t archive_start;
} reader;

static hlz_status read_exact(reader *r, void *buf, size_t size, const char *what, hlz_error *error)
{
    size_t got = size ? fread(buf, 1, size, r->in) : 0;
    r->offset += got;
    if (got == size) return HLZ_OK;
    if (ferror(r->in)) return hlz_fail(error, HLZ_ERR_IO, "read error: %s", strerror(errno));
    return hlz_fail(error, HLZ_ERR_TRUNCATED, "archive is truncated (it ends inside the %s)", what);
}

/* Skips `size` bytes by reading them, so that pipes work too. */
static hlz_status skip_bytes(reader *r, uint64_t size, hlz_error *error)
{
    uint8_t buf[65536];
    while (size > 0) {
        size_t n = size < sizeof buf ? (size_t)size : sizeof buf;
        hlz_status st = read_exact(r, buf, n, "chunk data", error);
        if (st != HLZ_OK) return st;
        size -= n;
    }
    return HLZ_OK;
}

typedef struct {
    hlz_chunk_record record;
    uint64_t number;
    uint8_t *coded;
    uint8_t *raw;
    uint32_t capacity;    /* bytes at coded and at raw: the chunk size they were made for */
    const hlz_llm *llm;   /* for llm chunks */
    hlz_llm_stream stream; /* a model-coded chunk started for the lockstep walk */
    bool started;
    hlz_status status;
    hlz_error error;
} job;

/* After the chunk's codec ran: name the chunk in an error, check the checksum. */
static void decode_done(job *j)
{
    hlz_chunk_record *r = &j->record;
    if (j->status != HLZ_OK) {
        /* Name the chunk: the codec's message does not know it. */
        hlz_error inner = j->error;
        j->status = hlz_fail(&j->error, j->status, "chunk %llu: %s", (unsigned long long)j->number, inner.message);
        return;
    }
    if (hlz_checksum64(j->raw, r->raw_size, j->number) != r->checksum)
        j->status = hlz_fail(&j->error, HLZ_ERR_CHECKSUM, "chunk %llu: checksum mismatch, the data is corrupt",
                             (unsigned long long)j->number);
}

static bool model_coded(const job *j)
{
    return j->record.codec == HLZ_CODEC_LLM || j->record.codec == HLZ_CODEC_ROBUST;
}

static void decode_job(void *context, size_t i)
{
    job *j = &((job *)context)[i];
    hlz_chunk_record *r = &j->record;
    if ((j->status = hlz_payload_check(r, j->coded, j->number, &j->error)) != HLZ_OK) return;
    if (r->codec == HLZ_CODEC_LLM)
        j->status = hlz_llm_decode(j->llm, j->coded, r->coded_size, j->raw, r->raw_size, &j->error);
    else if (r->codec == HLZ_CODEC_ROBUST)
        j->status = hlz_robust_decode(j->llm, j->coded, r->coded_size, j->raw, r->raw_size, &j->error);
    else
        j->status = hlz_codec_decode(r->codec, j->coded, r->coded_size, j->raw, r->raw_size, &j->error);
    decode_done(j);
}

/* The lockstep path, first part: other codecs decode whole; model-coded
 * chunks only start (their tokens come from hlz_llm_walk_decode_many). */
static void start_job(void *context, size_t i)
{
    job *j = &((job *)context)[i];
    hlz_chunk_record *r = &j->record;
    j->started = false;
    if (!model_coded(j)) {
        decode_job(context, i);
        return;
    }
    if ((j->status = hlz_payload_check(r, j->coded, j->number, &j->error)) != HLZ_OK) return;
    j->status = (r->codec == HLZ_CODEC_LLM ? hlz_llm_decode_start : hlz_robust_decode_start)(
        j->llm, j->coded, r->coded_size, r->raw_size, &j->stream, &j->error);
    if (j->status == HLZ_OK) j->started = true;
    else decode_done(j);
}

/* The last part: the end of each model-coded stream, detokenizing, checksums. */
static void finish_job(void *context, size_t i)
{
    job *j = &((job *)context)[i];
    if (!j->started) return;
    hlz_chunk_record *r = &j->record;
    j->started = false;
    j->status = (r->codec == HLZ_CODEC_LLM ? hlz_llm_decode_finish : hlz_robust_decode_finish)(
        j->llm, &j->stream, j->raw, r->raw_size, &j->error);
    decode_done(j);
}

typedef struct {
    walk_mode mode;
    FILE *out;
    int threads;
    const hlz_options *options;
    const hlz_list_callbacks *callbacks;
    job *jobs;
    size_t job_count, job_capacity;
    hlz_llm *llm;           /* the current archive's llm codec, made at its first llm chunk */
    bool lockstep;          /* decode model-coded chunks in lockstep (the GPU; the CPU for batches of lockstep_from) */
    size_t lockstep_from;   /* model-coded chunks a batch needs for the lockstep walk (0: any) */
    uint64_t host_bytes;    /* chunk buffers a batch may take (lockstep) ... */
    size_t batch_min;       /* ... once it has this many chunks (the CPU's thread count) */
    bool find;              /* HLZ_LOCKSTEP=find: token searches on the CPU too (tests) */
    size_t cohorts;         /* HLZ_LOCKSTEP_COHORTS=N: the lockstep walk's cohorts (0: lockstep_cohorts decides) */
    hlz_llm_stream *streams; /* job_capacity of them, for the lockstep walk */
    uint64_t raw_done, stopped;
} walker;

/* Cohorts for a lockstep walk of `m` chunks: on the GPU two, once each has
 * LOCKSTEP_MIN chunks, so that one's host work overlaps the other's
 * evaluation (a single walk left the GPU idle about 40% of the time,
 * bench/results/2026-12-02-gpu-session5.txt); one on the CPU, where the
 * evaluation is the host's work. HLZ_LOCKSTEP_COHORTS=N forces N (1: off). */
static size_t lockstep_cohorts(const walker *w, size_t m)
{
    if (w->cohorts) return w->cohorts;
    return w->options->model->cuda && m >= 2 * LOCKSTEP_MIN ? 2 : 1;
}

/* The model-coded chunks of the batch advance together, one token each per
 * batched evaluation; everything else runs on the threads as usual. */
static void decode_lockstep(walker *w)
{
    hlz_parallel_for(w->threads, w->job_count, start_job, w->jobs);
    size_t m = 0;
    for (size_t i = 0; i < w->job_count; i++)
        if (w->jobs[i].started) w->streams[m++] = w->jobs[i].stream;
    hlz_error e;
    /* On the CPU each step's batched evaluation takes every thread (the walk's own work spreads over them too). */
    hlz_model *model = w->options->model;
    int kept = model->threads;
    if (!model->cuda) hlz_model_set_threads(model, w->threads);
    hlz_status st = w->llm ? hlz_llm_walk_decode_many(w->llm, w->streams, m, w->threads, lockstep_cohorts(w, m), &e)
                           : HLZ_OK;
    if (!model->cuda) hlz_model_set_threads(model, kept);
    m = 0;
    for (size_t i = 0; i < w->job_count; i++) {
        job *j = &w->jobs[i];
        if (!j->started) continue;
        j->stream = w->streams[m++];
        if (st != HLZ_OK) j->stream.status = st, j->stream.error = e;
    }
    hlz_parallel_for(w->threads, w->job_count, finish_job, w->jobs);
}

static hlz_status flush_jobs(walker *w, reader *r, hlz_error *error)
{
    if (w->llm && w->options->model) hlz_model_set_threads(w->options->model, w->job_count == 1 ? w->threads : 1);
    size_t coded = 0;
    for (size_t i = 0; i < w->job_count; i++) coded += model_coded(&w->jobs[i]);
    if (w->lockstep && w->llm && coded >= w->lockstep_from) decode_lockstep(w);
    else hlz_parallel_for(w->threads, w->job_count, decode_job, w->jobs);
    size_t n = w->job_count;
    w->job_count = 0;
    for (size_t i = 0; i < n; i++) {
        job *j = &w->jobs[i];
        if (j->status != HLZ_OK) {
            if (error) *error = j->error;
            return j->status;
        }
        if (w->out && fwrite(j->raw, 1, j->record.raw_size, w->out) != j->record.raw_size)
            return hlz_fail(error, HLZ_ERR_IO, "write error: %s", strerror(errno));
        w->raw_done += j->record.raw_size;
    }
    if (w->options && w->options->progress) w->options->progress(w->options->progress_user, r->offset, w->raw_done);
    return HLZ_OK;
}

static hlz_status queue_job(walker *w, const hlz_chunk_record *record, uint64_t number, reader *r,
                            uint32_t chunk_size, hlz_error *error)
{
    job *j = &w->jobs[w->job_count];
    /* Concatenated archives may have different chunk sizes: the buffers grow. */
    if (!j->raw || j->capacity < chunk_size) {
        free(j->raw), free(j->coded);
        j->raw = malloc(chunk_size);
        j->coded = malloc(chunk_size);
        j->capacity = chunk_size;
        if (!j->raw || !j->coded) return hlz_fail(error, HLZ_ERR_NOMEM, "out of memory for chunk buffers");
    }
    j->record = *record;
    j->number = number;
    j->llm = w->llm;
    hlz_status st = read_exact(r, j->coded, record->coded_size, "chunk data", error);
    if (st != HLZ_OK) return st;
    w->job_count++;
    if (w->job_count == w->job_capacity ||
        (w->lockstep && w->job_count >= w->batch_min &&
         (uint64_t)(w->job_count + 1) * 2 * chunk_size > w->host_bytes))
        return flush_jobs(w, r, error);
    return HLZ_OK;
}

static void free_jobs(walker *w)
{
    for (size_t i = 0; i < w->job_capacity; i++) {
        free(w->jobs[i].raw);
        free(w->jobs[i].coded);
        w->jobs[i].raw = w->jobs[i].coded = NULL;
    }
}

/* Prepares the llm codec for an archive's first llm chunk: the archive's
 * model must be the one given, fingerprint for fingerprint. */
static hlz_status start_llm(walker *w, const hlz_header *h, const hlz_llm_params *params, hlz_error *error)
{
    char want[33], have[33];
    hlz_fingerprint_hex(h->model_fingerprint, want);
    const char *name = h->model_name_size ? h->model_name : "(unnamed)";
    hlz_model *model = w->options ? w->options->model : NULL;
    if (!model)
        return hlz_fail(error, HLZ_ERR_MODEL, "this archive needs the model '%s' (fingerprint %s); give it with --model",
                        name, want);
    hlz_model_info info;
    hlz_model_get_info(model, &info);
    if (memcmp(info.fingerprint, h->model_fingerprint, 16) != 0) {
        hlz_fingerprint_hex(info.fingerprint, have);
        return hlz_fail(error, HLZ_ERR_MODEL,
                        "this archive needs the model '%s' (fingerprint %s), not '%s' (fingerprint %s); give it with --model",
                        name, want, info.name[0] ? info.name : "(unnamed)", have);
    }
    hlz_model_set_threads(model, 1);
    hlz_status st = hlz_llm_create(model, params, &w->llm, error);
    if (st == HLZ_OK && w->find) hlz_llm_set_stats(w->llm, true);
    return st;
}

/* Reads one archive whose first `have` bytes (of the magic) are in `first`. */
static hlz_status walk_archive(walker *w, reader *r, const uint8_t *first, size_t have,
                               hlz_stats *stats, hlz_error *error)
{
    uint8_t prefix[12];
    memcpy(prefix, first, have);
    hlz_status st = read_exact(r, prefix + have, sizeof prefix - have, "header", error);
    if (st == HLZ_ERR_TRUNCATED && memcmp(prefix, hlz_magic, have) != 0)
        return hlz_fail(error, HLZ_ERR_NOT_ARCHIVE, "not an hlz archive (unknown magic number)");
    if (st != HLZ_OK) return st;
    size_t header_size;
    if ((st = hlz_header_size(prefix, &header_size, error)) != HLZ_OK) return st;

    hlz_header *header = malloc(sizeof *header);
    uint8_t *header_bytes = malloc(header_size);
    uint32_t *coded_sizes = NULL;
    uint8_t *index = NULL;
    uint64_t chunks = 0, capacity = 0, raw_total = 0;
    bool short_seen = false;
    hlz_llm_params llm_params = {0};
    if (!header || !header_bytes) { st = hlz_fail(error, HLZ_ERR_NOMEM, "out of memory"); goto done; }
    memcpy(header_bytes, prefix, sizeof prefix);
    if ((st = read_exact(r, header_bytes + sizeof prefix, header_size - sizeof prefix, "header", error)) != HLZ_OK)
        goto done;
    if ((st = hlz_header_parse(header_bytes, header_size, header, error)) != HLZ_OK) goto done;
    if (header->has_llm && (st = hlz_llm_option_parse(header->llm_option, HLZ_OPTION_LLM_SIZE, &llm_params, error)))
        goto done;
    if (w->mode == WALK_LIST && w->callbacks && w->callbacks->on_header) {
        hlz_header_info info;
        memset(&info, 0, sizeof info);
        info.chunk_size = header->chunk_size;
        info.format_version = header->version;
        info.flags = header->flags;
        memcpy(info.model_fingerprint, header->model_fingerprint, 16);
        memcpy(info.model_name, header->model_name, (size_t)header->model_name_size + 1);
        info.attention = header->has_llm ? llm_params.attention : HLZ_ATTENTION_FLOAT;
        if (w->callbacks->on_header(w->callbacks->user, &info)) { w->stopped = 1; goto done; }
    }

    for (;;) {
        uint64_t record_offset = r->offset - r->archive_start;
        uint8_t rec[HLZ_CHUNK_RECORD_SIZE];
        if ((st = read_exact(r, rec, 1, "record list", error)) != HLZ_OK) goto done;
        if (rec[0] == HLZ_RECORD_INDEX) break;
        if ((st = read_exact(r, rec + 1, sizeof rec - 1, "chunk record", error)) != HLZ_OK) goto done;
        hlz_chunk_record record;
        if ((st = hlz_chunk_record_parse(rec, header->chunk_size, chunks, &record, error)) != HLZ_OK) goto done;
        if (short_seen) {
            st = hlz_fail(error, HLZ_ERR_CORRUPT, "chunk %llu: follows a chunk that was not full",
                          (unsigned long long)chunks);
            goto done;
        }
        short_seen = record.raw_size < header->chunk_size;
        if (chunks == capacity) {
            capacity = capacity ? 2 * capacity : 64;
            uint32_t *grown = realloc(coded_sizes, capacity * sizeof *grown);
            if (!grown) { st = hlz_fail(error, HLZ_ERR_NOMEM, "out of memory"); goto done; }
            coded_sizes = grown;
        }
        coded_sizes[chunks] = record.coded_size;
        bool model_coded = record.codec == HLZ_CODEC_LLM || record.codec == HLZ_CODEC_ROBUST;
        if (model_coded && !header->has_llm) {
            st = hlz_fail(error, HLZ_ERR_CORRUPT, "chunk %llu: %s data in an archive without llm settings",
                          (unsigned long long)chunks, hlz_codec_name(record.codec));
            goto done;
        }
        if (model_coded && w->mode == WALK_DECODE && !w->llm &&
            (st = start_llm(w, header, &llm_params, error)) != HLZ_OK)
            goto done;
        uint64_t tokens = 0;
        double model_bits = 0, mismatch = 0;
        unsigned mix = 0;
        if (w->mode == WALK_LIST && model_coded) {
            /* Read the payload to report its tokens and the model's cross-entropy. */
            uint8_t *payload = malloc(record.coded_size ? record.coded_size : 1);
            if (!payload) { st = hlz_fail(error, HLZ_ERR_NOMEM, "out of memory"); goto done; }
            st = read_exact(r, payload, record.coded_size, "chunk data", error);
            hlz_robust_params robust;
            if (st == HLZ_OK && record.codec == HLZ_CODEC_LLM)
                hlz_llm_payload_info(payload, record.coded_size, &tokens, &model_bits, &mix, NULL);
            if (st == HLZ_OK && record.codec == HLZ_CODEC_ROBUST &&
                hlz_robust_payload_info(payload, record.coded_size, &robust, &tokens, &model_bits, NULL) == HLZ_OK)
                mismatch = (double)robust.mismatch / HLZ_ROBUST_ONE;
            free(payload);
            if (st != HLZ_OK) goto done;
        }
        if (w->mode == WALK_LIST) {
            if (!model_coded && (st = skip_bytes(r, record.coded_size, error)) != HLZ_OK) goto done;
            if (w->callbacks && w->callbacks->on_chunk) {
                hlz_chunk_info info = {
                    .index = chunks, .offset = record_offset, .raw_offset = raw_total,
                    .raw_size = record.raw_size, .coded_size = record.coded_size, .codec = record.codec,
                    .reason = record.reason, .entropy = record.entropy32 / 32.0,
                    .utf8_percent = record.utf8_percent, .probe_percent = record.probe_percent,
                    .checksum = record.checksum, .tokens = tokens, .model_bits = model_bits, .mismatch = mismatch, .mix = mix,
                };
                if (w->callbacks->on_chunk(w->callbacks->user, &info)) { w->stopped = 1; goto done; }
            }
        } else if ((st = queue_job(w, &record, chunks, r, header->chunk_size, error)) != HLZ_OK) {
            goto done;
        }
        chunks++;
        raw_total += record.raw_size;
    }
    if (w->mode == WALK_DECODE && (st = flush_jobs(w, r, error)) != HLZ_OK) goto done;

    /* The index: it must list exactly the chunks seen. */
    uint64_t index_offset = r->offset - 1 - r->archive_start;
    size_t index_size = HLZ_INDEX_FIXED_SIZE + HLZ_INDEX_ENTRY_SIZE * (size_t)chunks;
    index = malloc(index_size);
    if (!index) { st = hlz_fail(error, HLZ_ERR_NOMEM, "out of memory for the index"); goto done; }
    index[0] = HLZ_RECORD_INDEX;
    if ((st = read_exact(r, index + 1, index_size - 1, "index", error)) != HLZ_OK) goto done;
    uint64_t count, index_raw;
    if (hlz_le64(index + 1) != chunks) {
        st = hlz_fail(error, HLZ_ERR_CORRUPT, "corrupt index: it lists %llu chunks, the archive holds %llu",
                      (unsigned long long)hlz_le64(index + 1), (unsigned long long)chunks);
        goto done;
    }
    if ((st = hlz_index_record_parse(index, index_size, &count, &index_raw, error)) != HLZ_OK) goto done;
    if (index_raw != raw_total) { st = hlz_fail(error, HLZ_ERR_CORRUPT, "corrupt index: content size disagrees"); goto done; }
    for (uint64_t i = 0; i < chunks; i++)
        if (hlz_le32(index + 17 + 4 * i) != coded_sizes[i]) {
            st = hlz_fail(error, HLZ_ERR_CORRUPT, "corrupt index: entry %llu disagrees with its chunk",
                          (unsigned long long)i);
            goto done;
        }
    uint8_t trailer[HLZ_TRAILER_SIZE];
    uint64_t trailer_index_offset;
    if ((st = read_exact(r, trailer, sizeof trailer, "trailer", error)) != HLZ_OK) goto done;
    if ((st = hlz_trailer_parse(trailer, &trailer_index_offset, error)) != HLZ_OK) goto done;
    if (trailer_index_offset != index_offset) {
        st = hlz_fail(error, HLZ_ERR_CORRUPT, "corrupt trailer: it does not point at the index");
        goto done;
    }
    if (stats) {
        stats->raw_bytes += raw_total;
        stats->archive_bytes += r->offset - r->archive_start;
        stats->chunks += chunks;
    }
done:
    if (w->jobs && st != HLZ_OK) w->job_count = 0;
    hlz_llm_free(w->llm); /* per archive: the next one may name another model or settings */
    w->llm = NULL;
    free(header);
    free(header_bytes);
    free(coded_sizes);
    free(index);
    return st;
}

/* The memory a chunk takes in a lockstep walk: its key/value caches (1024
 * positions at most: the prime, the carried tokens and a window of the
 * default settings fit) and n_vocab times 8 bytes (on the GPU each step's
 * row of logits and the hybrid decoder's kept table; on the CPU its rows
 * of carried and step logits). Never 0. */
static uint64_t walk_bytes_per_chunk(const hlz_model_config *c)
{
    uint64_t positions = c->n_ctx < 1024 ? c->n_ctx : 1024;
    return (uint64_t)c->n_layer * positions * c->n_head_kv * c->head_dim * 2 * sizeof(float) +
           (uint64_t)c->n_vocab * (sizeof(float) + sizeof(uint32_t)) + 1;
}

static hlz_status walk(walker *w, FILE *in, hlz_stats *stats, hlz_error *error)
{
    reader r = {.in = in};
    if (stats) memset(stats, 0, sizeof *stats);
    hlz_status st = HLZ_OK;
    if (w->mode == WALK_DECODE) {
        w->job_capacity = (size_t)(w->threads > 0 ? w->threads : 1);
        hlz_model *model = w->options ? w->options->model : NULL;
        /* HLZ_LOCKSTEP=1 (or =find, with token searches) takes the GPU's
         * lockstep path on the CPU too, so that tests cover it anywhere. */
        const char *force = getenv("HLZ_LOCKSTEP");
        bool forced = force && (strcmp(force, "1") == 0 || strcmp(force, "find") == 0);
        w->find = forced && strcmp(force, "find") == 0;
        const char *cohorts = getenv("HLZ_LOCKSTEP_COHORTS");
        char *end;
        unsigned long n = cohorts ? strtoul(cohorts, &end, 10) : 0;
        w->cohorts = cohorts && *cohorts && !*end ? (size_t)n : 0;
        w->host_bytes = LOCKSTEP_HOST_BYTES;
        if (model && forced && !model->cuda) {
            w->lockstep = true;
            if (w->job_capacity < LOCKSTEP_MIN) w->job_capacity = LOCKSTEP_MIN;
        } else if (model && !model->cuda && !(force && strcmp(force, "0") == 0)) {
            /* HLZ_LOCKSTEP=0: chunk by chunk always (comparisons). */
            uint64_t fit = CPU_LOCKSTEP_BYTES / walk_bytes_per_chunk(&model->config);
            uint64_t batch = (uint64_t)w->job_capacity * CPU_LOCKSTEP_BATCH;
            batch = batch < fit ? batch : fit;
            w->lockstep = true;
            w->lockstep_from = w->job_capacity * CPU_LOCKSTEP_FROM;
            w->host_bytes = CPU_LOCKSTEP_BYTES, w->batch_min = w->job_capacity; /* as many as threads in any case */
            if (batch > w->job_capacity) w->job_capacity = (size_t)batch;
        }
        if (model && model->cuda) {
            /* As many chunks in flight as a quarter of the free GPU memory
             * holds, within LOCKSTEP_MIN..LOCKSTEP_MAX. */
            size_t fit = hlz_cuda_free_memory() / 4 / walk_bytes_per_chunk(&model->config);
            fit = fit < LOCKSTEP_MIN ? LOCKSTEP_MIN : fit > LOCKSTEP_MAX ? LOCKSTEP_MAX : fit;
            w->lockstep = true;
            if (fit > w->job_capacity) w->job_capacity = fit;
        }
        w->jobs = calloc(w->job_capacity, sizeof *w->jobs);
        w->streams = w->lockstep ? calloc(w->job_capacity, sizeof *w->streams) : NULL;
        if (!w->jobs || (w->lockstep && !w->streams)) {
            free(w->jobs);
            return hlz_fail(error, HLZ_ERR_NOMEM, "out of memory");
        }
    }
    for (uint64_t archives = 0;; archives++) {
        uint8_t first;
        size_t got = fread(&first, 1, 1, in);
        if (got == 0) {
            if (ferror(in)) st = hlz_fail(error, HLZ_ERR_IO, "read error: %s", strerror(errno));
            else if (archives == 0) st = hlz_fail(error, HLZ_ERR_NOT_ARCHIVE, "not an hlz archive (empty input)");
            break;
        }
        r.offset++;
        r.archive_start = r.offset - 1;
        if (archives > 0 && first != hlz_magic[0]) {
            st = hlz_fail(error, HLZ_ERR_CORRUPT, "unexpected data after the end of the archive");
            break;
        }
        st = walk_archive(w, &r, &first, 1, stats, error);
        if (st != HLZ_OK || w->stopped) break;
    }
    if (w->jobs) {
        free_jobs(w);
        free(w->jobs);
        free(w->streams);
    }
    if (st == HLZ_OK && w->out && fflush(w->out) != 0)
        st = hlz_fail(error, HLZ_ERR_IO, "write error: %s", strerror(errno));
    return st;
}

hlz_status hlz_decompress_file(FILE *in, FILE *out, const hlz_options *options,
                               hlz_stats *stats, hlz_error *error)
{
    int threads = options ? options->threads : 1;
    if (threads < 1 || threads > HLZ_THREADS_MAX)
        return hlz_fail(error, HLZ_ERR_PARAM, "thread count %d is outside 1..%d", threads, HLZ_THREADS_MAX);
    walker w = {.mode = WALK_DECODE, .out = out, .threads = threads, .options = options};
    return walk(&w, in, stats, error);
}

hlz_status hlz_list_file(FILE *in, const hlz_list_callbacks *callbacks, hlz_stats *stats, hlz_error *error)
{
    walker w = {.mode = WALK_LIST, .callbacks = callbacks, .threads = 1};
    return walk(&w, in, stats, error);
}
