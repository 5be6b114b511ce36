/* index.c - random access: find and decode one chunk through the index. */
#include "internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static hlz_status read_at(FILE *in, uint64_t offset, void *buf, size_t size, const char *what, hlz_error *error)
{
    if (offset > (uint64_t)INT64_MAX || fseeko(in, (off_t)offset, SEEK_SET) != 0)
        return hlz_fail(error, HLZ_ERR_IO, "cannot seek in the archive: %s", strerror(errno));
    if (size && fread(buf, 1, size, in) != size) {
        if (ferror(in)) return hlz_fail(error, HLZ_ERR_IO, "read error: %s", strerror(errno));
        return hlz_fail(error, HLZ_ERR_TRUNCATED, "archive is truncated (it ends inside the %s)", what);
    }
    return HLZ_OK;
}

hlz_status hlz_index_read(FILE *in, hlz_index *index, hlz_error *error)
{
    memset(index, 0, sizeof *index);
    if (fseeko(in, 0, SEEK_END) != 0)
        return hlz_fail(error, HLZ_ERR_IO, "cannot seek in the archive: %s", strerror(errno));
    off_t end = ftello(in);
    if (end < 0) return hlz_fail(error, HLZ_ERR_IO, "cannot seek in the archive: %s", strerror(errno));
    uint64_t file_size = (uint64_t)end;

    uint8_t prefix[12];
    hlz_status st = read_at(in, 0, prefix, sizeof prefix, "header", error);
    if (st == HLZ_ERR_TRUNCATED) return hlz_fail(error, HLZ_ERR_NOT_ARCHIVE, "not an hlz archive (too short)");
    if (st != HLZ_OK) return st;
    size_t header_size;
    if ((st = hlz_header_size(prefix, &header_size, error)) != HLZ_OK) return st;
    if (file_size < header_size + HLZ_INDEX_FIXED_SIZE + HLZ_TRAILER_SIZE)
        return hlz_fail(error, HLZ_ERR_TRUNCATED, "archive is truncated (too short for its index)");

    uint8_t *header_bytes = malloc(header_size);
    hlz_header *header = malloc(sizeof *header);
    uint8_t *record = NULL;
    if (!header_bytes || !header) { st = hlz_fail(error, HLZ_ERR_NOMEM, "out of memory"); goto done; }
    if ((st = read_at(in, 0, header_bytes, header_size, "header", error)) != HLZ_OK) goto done;
    if ((st = hlz_header_parse(header_bytes, header_size, header, error)) != HLZ_OK) goto done;

    uint8_t trailer[HLZ_TRAILER_SIZE];
    uint64_t index_offset;
    if ((st = read_at(in, file_size - HLZ_TRAILER_SIZE, trailer, sizeof trailer, "trailer", error)) != HLZ_OK) goto done;
    if ((st = hlz_trailer_parse(trailer, &index_offset, error)) != HLZ_OK) goto done;
    if (index_offset < header_size || index_offset > file_size - HLZ_TRAILER_SIZE - HLZ_INDEX_FIXED_SIZE) {
        st = hlz_fail(error, HLZ_ERR_CORRUPT, "corrupt trailer: index offset out of range");
        goto done;
    }
    size_t record_size = (size_t)(file_size - HLZ_TRAILER_SIZE - index_offset);
    record = malloc(record_size);
    if (!record) { st = hlz_fail(error, HLZ_ERR_NOMEM, "out of memory for the index"); goto done; }
    if ((st = read_at(in, index_offset, record, record_size, "index", error)) != HLZ_OK) goto done;
    uint64_t count, raw_size;
    if ((st = hlz_index_record_parse(record, record_size, &count, &raw_size, error)) != HLZ_OK) goto done;
    if ((st = hlz_check_raw_total(count, raw_size, header->chunk_size, error)) != HLZ_OK) goto done;

    index->chunks = calloc(count ? count : 1, sizeof *index->chunks);
    if (!index->chunks) { st = hlz_fail(error, HLZ_ERR_NOMEM, "out of memory for the index"); goto done; }
    uint64_t offset = header_size;
    for (uint64_t i = 0; i < count; i++) {
        hlz_chunk_info *c = &index->chunks[i];
        c->index = i;
        c->offset = offset;
        c->raw_offset = i * header->chunk_size;
        c->raw_size = i + 1 < count ? header->chunk_size : (uint32_t)(raw_size - c->raw_offset);
        c->coded_size = hlz_le32(record + 17 + 4 * i);
        if (c->coded_size > c->raw_size) {
            st = hlz_fail(error, HLZ_ERR_CORRUPT, "corrupt index: entry %llu is larger than its chunk",
                          (unsigned long long)i);
            goto done;
        }
        offset += HLZ_CHUNK_RECORD_SIZE + (uint64_t)c->coded_size;
    }
    if (offset != index_offset) {
        st = hlz_fail(error, HLZ_ERR_CORRUPT, "corrupt index: chunk sizes do not add up to the index position");
        goto done;
    }
    index->chunk_count = count;
    index->raw_size = raw_size;
    index->header.chunk_size = header->chunk_size;
    index->header.format_version = header->version;
    index->header.flags = header->flags;
    memcpy(index->header.model_fingerprint, header->model_fingerprint, 16);
    memcpy(index->header.model_name, header->model_name, (size_t)header->model_name_size + 1);
    index->header.attention = header->has_llm ? header->llm_option[1] : HLZ_ATTENTION_FLOAT; /* llm.h's option */
done:
    free(header_bytes);
    free(header);
    free(record);
    if (st != HLZ_OK) hlz_index_free(index);
    return st;
}

void hlz_index_free(hlz_index *index)
{
    free(index->chunks);
    memset(index, 0, sizeof *index);
}

uint64_t hlz_index_find(const hlz_index *index, uint64_t raw_offset)
{
    if (raw_offset >= index->raw_size) return index->chunk_count;
    return raw_offset / index->header.chunk_size;
}

hlz_status hlz_decode_chunk(FILE *in, const hlz_index *index, uint64_t chunk,
                            uint8_t *dst, size_t dst_capacity, hlz_error *error)
{
    if (chunk >= index->chunk_count)
        return hlz_fail(error, HLZ_ERR_PARAM, "chunk %llu does not exist (the archive has %llu)",
                        (unsigned long long)chunk, (unsigned long long)index->chunk_count);
    const hlz_chunk_info *c = &index->chunks[chunk];
    if (dst_capacity < c->raw_size) return hlz_fail(error, HLZ_ERR_PARAM, "output buffer too small");
    uint8_t head[HLZ_CHUNK_RECORD_SIZE];
    hlz_status st = read_at(in, c->offset, head, sizeof head, "chunk record", error);
    if (st != HLZ_OK) return st;
    hlz_chunk_record r;
    if ((st = hlz_chunk_record_parse(head, index->header.chunk_size, chunk, &r, error)) != HLZ_OK) return st;
    if (r.raw_size != c->raw_size || r.coded_size != c->coded_size)
        return hlz_fail(error, HLZ_ERR_CORRUPT, "chunk %llu: record disagrees with the index", (unsigned long long)chunk);
    uint8_t *coded = malloc(r.coded_size ? r.coded_size : 1);
    if (!coded) return hlz_fail(error, HLZ_ERR_NOMEM, "out of memory");
    st = read_at(in, c->offset + HLZ_CHUNK_RECORD_SIZE, coded, r.coded_size, "chunk data", error);
    if (st == HLZ_OK) st = hlz_payload_check(&r, coded, chunk, error);
    if (st == HLZ_OK) {
        hlz_error inner;
        st = hlz_codec_decode(r.codec, coded, r.coded_size, dst, r.raw_size, &inner);
        if (st != HLZ_OK) hlz_fail(error, st, "chunk %llu: %s", (unsigned long long)chunk, inner.message);
        else if (hlz_checksum64(dst, r.raw_size, chunk) != r.checksum)
            st = hlz_fail(error, HLZ_ERR_CHECKSUM, "chunk %llu: checksum mismatch, the data is corrupt",
                          (unsigned long long)chunk);
    }
    free(coded);
    return st;
}
