/* format.c - serialising and checking the records of doc/format.md. */
#include "internal.h"

#include <string.h>

const uint8_t hlz_magic[HLZ_MAGIC_SIZE] = {0x89, 'H', 'L', 'Z', '\r', '\n', 0x1a, '\n'};
const uint8_t hlz_end_magic[4] = {'H', 'L', 'Z', 'E'};

size_t hlz_header_write(const hlz_header *h, uint8_t *out)
{
    size_t size = HLZ_HEADER_FIXED_SIZE + h->model_name_size + h->options_size;
    memcpy(out, hlz_magic, HLZ_MAGIC_SIZE);
    hlz_put16(out + 8, h->version);
    hlz_put16(out + 10, (uint16_t)size);
    hlz_put32(out + 12, h->flags);
    hlz_put32(out + 16, h->chunk_size);
    memcpy(out + 20, h->model_fingerprint, 16);
    hlz_put16(out + 36, h->model_name_size);
    memcpy(out + 38, h->model_name, h->model_name_size);
    uint8_t *p = out + 38 + h->model_name_size;
    hlz_put16(p, h->options_size);
    memcpy(p + 2, h->options, h->options_size);
    p += 2 + h->options_size;
    hlz_put32(p, hlz_check32(out, (size_t)(p - out)));
    return size;
}

hlz_status hlz_header_size(const uint8_t *prefix, size_t *size, hlz_error *error)
{
    if (memcmp(prefix, hlz_magic, HLZ_MAGIC_SIZE) != 0)
        return hlz_fail(error, HLZ_ERR_NOT_ARCHIVE, "not an hlz archive (unknown magic number)");
    uint16_t version = hlz_le16(prefix + 8);
    if (version == 0)
        return hlz_fail(error, HLZ_ERR_CORRUPT, "corrupt header: format version 0");
    if (version > HLZ_FORMAT_VERSION)
        return hlz_fail(error, HLZ_ERR_VERSION,
                        "archive format version %u is newer than this hlz supports (%d); upgrade hlz",
                        version, HLZ_FORMAT_VERSION);
    *size = hlz_le16(prefix + 10);
    if (*size < HLZ_HEADER_FIXED_SIZE)
        return hlz_fail(error, HLZ_ERR_CORRUPT, "corrupt header: size %zu is below the minimum %d",
                        *size, HLZ_HEADER_FIXED_SIZE);
    return HLZ_OK;
}

/* Options are {u16 tag, u16 length, value} records filling the options area. */
static hlz_status check_options(hlz_header *h, const uint8_t *p, size_t size, hlz_error *error)
{
    size_t at = 0;
    while (at < size) {
        if (size - at < 4)
            return hlz_fail(error, HLZ_ERR_CORRUPT, "corrupt header: option record cut short");
        uint16_t tag = hlz_le16(p + at), length = hlz_le16(p + at + 2);
        if (length > size - at - 4)
            return hlz_fail(error, HLZ_ERR_CORRUPT, "corrupt header: option %u overruns the header", tag);
        if (tag == HLZ_OPTION_LLM) {
            if (length != HLZ_OPTION_LLM_SIZE || h->has_llm)
                return hlz_fail(error, HLZ_ERR_CORRUPT, "corrupt header: llm option");
            memcpy(h->llm_option, p + at + 4, HLZ_OPTION_LLM_SIZE);
            h->has_llm = true;
        } else if (tag & HLZ_OPTION_CRITICAL)
            return hlz_fail(error, HLZ_ERR_VERSION,
                            "archive needs option %u, which this hlz does not know; upgrade hlz", tag);
        at += 4 + (size_t)length;
    }
    return HLZ_OK;
}

hlz_status hlz_header_parse(const uint8_t *data, size_t size, hlz_header *h, hlz_error *error)
{
    size_t declared;
    hlz_status st = hlz_header_size(data, &declared, error);
    if (st != HLZ_OK) return st;
    if (declared != size)
        return hlz_fail(error, HLZ_ERR_CORRUPT, "corrupt header: size field disagrees");
    if (hlz_check32(data, size - 4) != hlz_le32(data + size - 4))
        return hlz_fail(error, HLZ_ERR_CORRUPT, "corrupt header: check value mismatch");
    h->version = hlz_le16(data + 8);
    h->flags = hlz_le32(data + 12);
    h->chunk_size = hlz_le32(data + 16);
    memcpy(h->model_fingerprint, data + 20, 16);
    uint16_t name_size = hlz_le16(data + 36);
    if (h->flags != 0)
        return hlz_fail(error, HLZ_ERR_VERSION, "archive uses header flags 0x%x unknown to this hlz",
                        (unsigned)h->flags);
    if (h->chunk_size < HLZ_CHUNK_SIZE_MIN || h->chunk_size > HLZ_CHUNK_SIZE_MAX)
        return hlz_fail(error, HLZ_ERR_CORRUPT, "corrupt header: chunk size %u outside %u..%u",
                        (unsigned)h->chunk_size, (unsigned)HLZ_CHUNK_SIZE_MIN, (unsigned)HLZ_CHUNK_SIZE_MAX);
    if (name_size > 255 || (size_t)name_size > size - HLZ_HEADER_FIXED_SIZE)
        return hlz_fail(error, HLZ_ERR_CORRUPT, "corrupt header: model name length %u", name_size);
    h->model_name_size = (uint8_t)name_size;
    memcpy(h->model_name, data + 38, name_size);
    h->model_name[name_size] = '\0';
    if (memchr(h->model_name, '\0', name_size))
        return hlz_fail(error, HLZ_ERR_CORRUPT, "corrupt header: NUL byte in model name");
    const uint8_t *p = data + 38 + name_size;
    h->options_size = hlz_le16(p);
    if ((size_t)HLZ_HEADER_FIXED_SIZE + name_size + h->options_size != size)
        return hlz_fail(error, HLZ_ERR_CORRUPT, "corrupt header: options length disagrees with size");
    memcpy(h->options, p + 2, h->options_size);
    h->has_llm = false;
    return check_options(h, h->options, h->options_size, error);
}

void hlz_chunk_record_write(const hlz_chunk_record *r, uint8_t out[HLZ_CHUNK_RECORD_SIZE])
{
    out[0] = HLZ_RECORD_CHUNK;
    out[1] = r->codec;
    out[2] = r->reason;
    out[3] = r->entropy32;
    out[4] = r->utf8_percent;
    out[5] = r->probe_percent;
    out[6] = out[7] = 0;
    hlz_put32(out + 8, r->raw_size);
    hlz_put32(out + 12, r->coded_size);
    hlz_put64(out + 16, r->checksum);
    hlz_put32(out + 24, r->payload_check);
    hlz_put32(out + 28, hlz_check32(out, 28));
}

hlz_status hlz_chunk_record_parse(const uint8_t in[HLZ_CHUNK_RECORD_SIZE], uint32_t chunk_size,
                                  uint64_t chunk, hlz_chunk_record *r, hlz_error *error)
{
    const unsigned long long n = (unsigned long long)chunk;
    if (in[0] != HLZ_RECORD_CHUNK)
        return hlz_fail(error, HLZ_ERR_CORRUPT, "chunk %llu: corrupt record (type byte 0x%02x)", n, in[0]);
    if (hlz_check32(in, 28) != hlz_le32(in + 28))
        return hlz_fail(error, HLZ_ERR_CORRUPT, "chunk %llu: corrupt record (check value mismatch)", n);
    r->codec = in[1];
    r->reason = in[2];
    r->entropy32 = in[3];
    r->utf8_percent = in[4];
    r->probe_percent = in[5];
    r->raw_size = hlz_le32(in + 8);
    r->coded_size = hlz_le32(in + 12);
    r->checksum = hlz_le64(in + 16);
    r->payload_check = hlz_le32(in + 24);
    if (in[6] != 0 || in[7] != 0)
        return hlz_fail(error, HLZ_ERR_CORRUPT, "chunk %llu: corrupt record (reserved bytes set)", n);
    if (r->codec >= HLZ_CODEC_COUNT)
        return hlz_fail(error, HLZ_ERR_VERSION, "chunk %llu: unknown codec id %u; upgrade hlz", n, r->codec);
    if (r->reason >= HLZ_REASON_COUNT || r->utf8_percent > 100)
        return hlz_fail(error, HLZ_ERR_CORRUPT, "chunk %llu: corrupt record (scout fields)", n);
    if (r->raw_size == 0 || r->raw_size > chunk_size)
        return hlz_fail(error, HLZ_ERR_CORRUPT, "chunk %llu: corrupt record (raw size %u, chunk size %u)",
                        n, (unsigned)r->raw_size, (unsigned)chunk_size);
    if (r->coded_size > r->raw_size || (r->codec == HLZ_CODEC_STORE && r->coded_size != r->raw_size))
        return hlz_fail(error, HLZ_ERR_CORRUPT, "chunk %llu: corrupt record (coded size %u for raw size %u)",
                        n, (unsigned)r->coded_size, (unsigned)r->raw_size);
    return HLZ_OK;
}

size_t hlz_index_record_write(uint64_t count, uint64_t raw_size, const uint32_t *coded_sizes, uint8_t *out)
{
    out[0] = HLZ_RECORD_INDEX;
    hlz_put64(out + 1, count);
    hlz_put64(out + 9, raw_size);
    for (uint64_t i = 0; i < count; i++) hlz_put32(out + 17 + 4 * i, coded_sizes[i]);
    size_t body = 17 + 4 * (size_t)count;
    hlz_put32(out + body, hlz_check32(out, body));
    return body + 4;
}

hlz_status hlz_check_raw_total(uint64_t count, uint64_t raw_size, uint32_t chunk_size, hlz_error *error)
{
    bool ok = count == 0 ? raw_size == 0
                         : count <= UINT64_MAX / chunk_size && raw_size > (count - 1) * chunk_size &&
                               raw_size <= count * chunk_size;
    if (!ok)
        return hlz_fail(error, HLZ_ERR_CORRUPT, "corrupt index: %llu bytes cannot fill %llu chunks",
                        (unsigned long long)raw_size, (unsigned long long)count);
    return HLZ_OK;
}

hlz_status hlz_index_record_parse(const uint8_t *data, size_t size, uint64_t *count,
                                  uint64_t *raw_size, hlz_error *error)
{
    if (size < HLZ_INDEX_FIXED_SIZE || data[0] != HLZ_RECORD_INDEX)
        return hlz_fail(error, HLZ_ERR_CORRUPT, "corrupt index record");
    *count = hlz_le64(data + 1);
    *raw_size = hlz_le64(data + 9);
    if (*count > (size - HLZ_INDEX_FIXED_SIZE) / HLZ_INDEX_ENTRY_SIZE ||
        HLZ_INDEX_FIXED_SIZE + *count * HLZ_INDEX_ENTRY_SIZE != size)
        return hlz_fail(error, HLZ_ERR_CORRUPT, "corrupt index: chunk count disagrees with its size");
    if (hlz_check32(data, size - 4) != hlz_le32(data + size - 4))
        return hlz_fail(error, HLZ_ERR_CORRUPT, "corrupt index: check value mismatch");
    return HLZ_OK;
}

void hlz_trailer_write(uint64_t index_offset, uint8_t out[HLZ_TRAILER_SIZE])
{
    hlz_put64(out, index_offset);
    hlz_put32(out + 8, hlz_check32(out, 8));
    memcpy(out + 12, hlz_end_magic, 4);
}

hlz_status hlz_trailer_parse(const uint8_t in[HLZ_TRAILER_SIZE], uint64_t *index_offset, hlz_error *error)
{
    if (memcmp(in + 12, hlz_end_magic, 4) != 0)
        return hlz_fail(error, HLZ_ERR_CORRUPT, "corrupt trailer: end marker missing");
    if (hlz_check32(in, 8) != hlz_le32(in + 8))
        return hlz_fail(error, HLZ_ERR_CORRUPT, "corrupt trailer: check value mismatch");
    *index_offset = hlz_le64(in);
    return HLZ_OK;
}

bool hlz_header_uses_model(const hlz_header *h)
{
    uint8_t any = 0;
    for (int i = 0; i < 16; i++) any |= h->model_fingerprint[i];
    return any != 0 || h->model_name_size != 0;
}

hlz_status hlz_payload_check(const hlz_chunk_record *r, const uint8_t *payload, uint64_t chunk, hlz_error *error)
{
    if (hlz_check32(payload, r->coded_size) != r->payload_check)
        return hlz_fail(error, HLZ_ERR_CORRUPT, "chunk %llu: corrupt data (check value mismatch)",
                        (unsigned long long)chunk);
    return HLZ_OK;
}

void hlz_fingerprint_hex(const uint8_t fingerprint[16], char out[33])
{
    for (int i = 0; i < 16; i++) snprintf(out + 2 * i, 3, "%02x", fingerprint[i]);
}
