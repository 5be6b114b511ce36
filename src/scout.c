/* scout.c - the cheap per-chunk pre-scan that picks a codec. */
#include "internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#define PROBE_SLICES 4
#define PROBE_SLICE_SIZE (16 * 1024)
#define PROBE_LEVEL 1
/* Store when the data looks random by both measures. */
#define STORE_MIN_ENTROPY32 (7 * 32 + 16) /* 7.5 bits per byte */
#define STORE_MIN_PROBE_PERCENT 98

uint8_t hlz_entropy32(const uint8_t *data, size_t size)
{
    if (size == 0) return 0;
    size_t counts[256] = {0};
    for (size_t i = 0; i < size; i++) counts[data[i]]++;
    /* Only informational and recorded as an integer, so libm is fine here:
     * the value never feeds a probability the decoder must reproduce. */
    double bits = 0;
    for (int s = 0; s < 256; s++) {
        if (counts[s] == 0) continue;
        double p = (double)counts[s] / (double)size;
        bits -= p * log2(p);
    }
    double scaled = floor(bits * 32.0 + 1e-9);
    return scaled >= 255 ? 255 : (uint8_t)scaled;
}

/* Length of the well-formed UTF-8 sequence at p (RFC 3629, Table 3-7 of the
 * Unicode standard), or 0 if the bytes there are not one. */
static size_t utf8_sequence(const uint8_t *p, size_t left)
{
    uint8_t b = p[0];
    if (b < 0x80) return 1;
    size_t n;
    uint8_t lo = 0x80, hi = 0xbf;
    if (b >= 0xc2 && b <= 0xdf) n = 2;
    else if (b >= 0xe0 && b <= 0xef) {
        n = 3;
        if (b == 0xe0) lo = 0xa0;     /* no overlongs */
        if (b == 0xed) hi = 0x9f;     /* no surrogates */
    } else if (b >= 0xf0 && b <= 0xf4) {
        n = 4;
        if (b == 0xf0) lo = 0x90;
        if (b == 0xf4) hi = 0x8f;     /* at most U+10FFFF */
    } else return 0;
    if (left < n) return 0;
    if (p[1] < lo || p[1] > hi) return 0;
    for (size_t i = 2; i < n; i++)
        if (p[i] < 0x80 || p[i] > 0xbf) return 0;
    return n;
}

/* Bytes in well-formed sequences, the plain way: the definition. */
static size_t utf8_good_ref(const uint8_t *data, size_t size)
{
    size_t good = 0, i = 0;
    while (i < size) {
        size_t n = utf8_sequence(data + i, size - i);
        if (n == 0) { i++; continue; }
        good += n;
        i += n;
    }
    return good;
}

uint8_t hlz_utf8_percent_ref(const uint8_t *data, size_t size)
{
    return size == 0 ? 100 : (uint8_t)((utf8_good_ref(data, size) * 100) / size);
}

/* Per lead byte: sequence length (0: not a lead) and the range of the
 * second byte (utf8_sequence's rules). */
typedef struct { uint8_t n, lo, hi; } utf8_lead;
static utf8_lead leads[256];
static volatile int leads_ready;

static void init_leads(void)
{
    if (leads_ready) return; /* benign race: every thread writes the same */
    for (int b = 0; b < 256; b++) {
        utf8_lead l = {0, 0x80, 0xbf};
        if (b < 0x80) l.n = 1;
        else if (b >= 0xc2 && b <= 0xdf) l.n = 2;
        else if (b >= 0xe0 && b <= 0xef) l.n = 3, l.lo = b == 0xe0 ? 0xa0 : 0x80, l.hi = b == 0xed ? 0x9f : 0xbf;
        else if (b >= 0xf0 && b <= 0xf4) l.n = 4, l.lo = b == 0xf0 ? 0x90 : 0x80, l.hi = b == 0xf4 ? 0x8f : 0xbf;
        leads[b] = l;
    }
    leads_ready = 1;
}

/* The same count, computed per position: a byte that is not a
 * continuation byte (10xxxxxx) is never inside a well-formed sequence that
 * starts earlier, so the plain loop steps on every such byte, and the
 * count is the sum over positions of the length of the well-formed
 * sequence starting there (0 if none, and continuation bytes start none).
 * No position depends on another: the plain loop's branch per byte (about
 * every other one mispredicted on weights, half of a bf16 GGUF's
 * compression time) and its chain of steps are gone. Tests compare the two. */
uint8_t hlz_utf8_percent(const uint8_t *data, size_t size)
{
    if (size == 0) return 100;
    init_leads();
    size_t good = 0, i = 0;
    while (i + 8 <= size) {
        uint64_t w;
        memcpy(&w, data + i, 8);
        if (!(w & 0x8080808080808080ull)) { good += 8, i += 8; continue; } /* ASCII */
        for (size_t end = i + 8 < size - 3 ? i + 8 : size - 3; i < end; i++) {
            const uint8_t *p = data + i;
            utf8_lead l = leads[p[0]];
            unsigned c2 = (p[1] >= l.lo) & (p[1] <= l.hi), c3 = (p[2] & 0xc0) == 0x80, c4 = (p[3] & 0xc0) == 0x80;
            unsigned ok = (l.n == 1) | ((l.n == 2) & c2) | ((l.n == 3) & c2 & c3) | ((l.n == 4) & c2 & c3 & c4);
            good += ok * l.n;
        }
        if (i >= size - 3) break;
    }
    /* The last bytes, where a sequence may not fit: the plain loop from here
     * adds nothing for continuation bytes (counted above with their lead). */
    return (uint8_t)(((good + utf8_good_ref(data + i, size - i)) * 100) / size);
}

/* zstd level-1 output of a few slices spread over the chunk, as a
 * percentage of their size (capped at 255). 255 when the probe fails. */
static uint8_t zstd_probe(const uint8_t *data, size_t size)
{
    uint8_t sample[PROBE_SLICES * PROBE_SLICE_SIZE];
    size_t sample_size = 0;
    if (size <= sizeof sample) {
        memcpy(sample, data, size);
        sample_size = size;
    } else {
        size_t stride = (size - PROBE_SLICE_SIZE) / (PROBE_SLICES - 1);
        for (int i = 0; i < PROBE_SLICES; i++) {
            memcpy(sample + sample_size, data + (size_t)i * stride, PROBE_SLICE_SIZE);
            sample_size += PROBE_SLICE_SIZE;
        }
    }
    size_t bound = ZSTD_compressBound(sample_size);
    uint8_t *out = malloc(bound);
    if (!out) return 255;
    size_t coded = ZSTD_compress(out, bound, sample, sample_size, PROBE_LEVEL);
    free(out);
    if (ZSTD_isError(coded) || sample_size == 0) return 255;
    size_t percent = coded * 100 / sample_size;
    return percent > 255 ? 255 : (uint8_t)percent;
}

void hlz_scout(const uint8_t *data, size_t size, hlz_scout_result *result)
{
    result->entropy32 = hlz_entropy32(data, size);
    result->utf8_percent = hlz_utf8_percent(data, size);
    result->probe_percent = zstd_probe(data, size);
    if (result->entropy32 >= STORE_MIN_ENTROPY32 && result->probe_percent >= STORE_MIN_PROBE_PERCENT) {
        result->codec = HLZ_CODEC_STORE;
        result->reason = HLZ_REASON_INCOMPRESSIBLE;
    } else {
        result->codec = HLZ_CODEC_ZSTD;
        result->reason = HLZ_REASON_COMPRESSIBLE;
    }
}
