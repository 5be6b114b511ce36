/* codec.c - codec names and the classical codecs: store and zstd. */
#include "codec_cm.h"
#include "codec_float.h"
#include "internal.h"

#include <string.h>
#include <zstd.h>
#include <zstd_errors.h>

static const char *const codec_names[HLZ_CODEC_COUNT] = {
    [HLZ_CODEC_STORE] = "store", [HLZ_CODEC_ZSTD] = "zstd", [HLZ_CODEC_LLM] = "llm",
    [HLZ_CODEC_FLOAT] = "float", [HLZ_CODEC_ROBUST] = "robust", [HLZ_CODEC_CM] = "cm",
};

const char *hlz_codec_name(unsigned codec_id)
{
    return codec_id < HLZ_CODEC_COUNT ? codec_names[codec_id] : "?";
}

int hlz_codec_from_name(const char *name, hlz_codec_id *out)
{
    if (strcmp(name, "auto") == 0) { *out = HLZ_CODEC_AUTO; return 0; }
    for (unsigned i = 0; i < HLZ_CODEC_COUNT; i++)
        if (strcmp(name, codec_names[i]) == 0) { *out = (hlz_codec_id)i; return 0; }
    return -1;
}

int hlz_mix_from_name(const char *name)
{
    static const char *const levels[] = {"none", "match", "context", "full"};
    static const int parts[] = {0, HLZ_MIX_MATCH, HLZ_MIX_MATCH | HLZ_MIX_CONTEXT, HLZ_MIX_ALL};
    for (unsigned i = 0; i < sizeof levels / sizeof levels[0]; i++)
        if (strcmp(name, levels[i]) == 0) return parts[i];
    return -1;
}

static const char *const reason_names[HLZ_REASON_COUNT] = {
    [HLZ_REASON_FORCED] = "forced by --codec",
    [HLZ_REASON_INCOMPRESSIBLE] = "incompressible (high entropy, zstd probe gained nothing)",
    [HLZ_REASON_COMPRESSIBLE] = "compressible (zstd probe gained)",
    [HLZ_REASON_FALLBACK] = "codec output was not smaller than the raw bytes",
    [HLZ_REASON_TEXT] = "text",
    [HLZ_REASON_TENSOR] = "tensors (a GGUF/safetensors header, or a float array)",
    [HLZ_REASON_MIXING] = "not text for the model, level >= 8: cm and zstd tried",
};

const char *hlz_reason_name(unsigned reason)
{
    return reason < HLZ_REASON_COUNT ? reason_names[reason] : "?";
}

int hlz_zstd_level(int level)
{
    static const int map[HLZ_LEVEL_MAX + 1] = {0, 1, 3, 5, 7, 9, 12, 15, 17, 19};
    if (level < HLZ_LEVEL_MIN) level = HLZ_LEVEL_MIN;
    if (level > HLZ_LEVEL_MAX) level = HLZ_LEVEL_MAX;
    return map[level];
}

static hlz_status zstd_encode(int level, const uint8_t *src, size_t size, uint8_t *dst,
                              size_t dst_capacity, size_t *coded_size, hlz_error *error)
{
    ZSTD_CCtx *cctx = ZSTD_createCCtx();
    if (!cctx) return hlz_fail(error, HLZ_ERR_NOMEM, "out of memory for the zstd compressor");
    /* The chunk record already holds the size and a stronger checksum. */
    ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, hlz_zstd_level(level));
    ZSTD_CCtx_setParameter(cctx, ZSTD_c_contentSizeFlag, 0);
    ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 0);
    ZSTD_CCtx_setParameter(cctx, ZSTD_c_dictIDFlag, 0);
    size_t n = ZSTD_compress2(cctx, dst, dst_capacity, src, size);
    ZSTD_freeCCtx(cctx);
    if (ZSTD_isError(n)) {
        *coded_size = 0;
        if (ZSTD_getErrorCode(n) == ZSTD_error_dstSize_tooSmall)
            return hlz_fail(error, HLZ_ERR_CODEC, "zstd output larger than its input");
        return hlz_fail(error, HLZ_ERR_CODEC, "zstd: %s", ZSTD_getErrorName(n));
    }
    *coded_size = n;
    return HLZ_OK;
}

hlz_status hlz_codec_encode(unsigned id, int level, const uint8_t *src, size_t size,
                            uint8_t *dst, size_t dst_capacity, size_t *coded_size,
                            hlz_error *error)
{
    switch (id) {
    case HLZ_CODEC_STORE:
        if (dst_capacity < size) return hlz_fail(error, HLZ_ERR_PARAM, "store: output buffer too small");
        memcpy(dst, src, size);
        *coded_size = size;
        return HLZ_OK;
    case HLZ_CODEC_ZSTD:
        return zstd_encode(level, src, size, dst, dst_capacity, coded_size, error);
    case HLZ_CODEC_CM:
        return hlz_cm_encode(src, size, dst, dst_capacity, coded_size, error);
    default:
        *coded_size = 0;
        return hlz_fail(error, HLZ_ERR_UNSUPPORTED, "the %s codec is not available in this build",
                        hlz_codec_name(id));
    }
}

hlz_status hlz_codec_decode(unsigned id, const uint8_t *src, size_t coded_size,
                            uint8_t *dst, size_t raw_size, hlz_error *error)
{
    switch (id) {
    case HLZ_CODEC_STORE:
        if (coded_size != raw_size)
            return hlz_fail(error, HLZ_ERR_CORRUPT, "stored chunk has the wrong size");
        memcpy(dst, src, raw_size);
        return HLZ_OK;
    case HLZ_CODEC_ZSTD: {
        size_t n = ZSTD_decompress(dst, raw_size, src, coded_size);
        if (ZSTD_isError(n))
            return hlz_fail(error, HLZ_ERR_CORRUPT, "corrupt zstd data (%s)", ZSTD_getErrorName(n));
        if (n != raw_size)
            return hlz_fail(error, HLZ_ERR_CORRUPT, "corrupt zstd data (%zu bytes instead of %zu)", n, raw_size);
        return HLZ_OK;
    }
    case HLZ_CODEC_FLOAT:
        return hlz_float_decode(src, coded_size, dst, raw_size, error);
    case HLZ_CODEC_CM:
        return hlz_cm_decode(src, coded_size, dst, raw_size, error);
    default:
        return hlz_fail(error, HLZ_ERR_UNSUPPORTED, "the %s codec is not available in this build",
                        hlz_codec_name(id));
    }
}
