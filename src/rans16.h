/*
 * rans16.h - the float codec's entropy coder: static rANS with 12-bit
 * frequencies, 32 interleaved 32-bit states and 16-bit renormalization
 * (doc/format.md, "Codec 3", rANS block). Internal, not installed.
 *
 * Symbol i of a block belongs to state i mod 32. A decoding round takes
 * states 0..31 in order; each state that falls below 2^15 after its symbol
 * reads the next 16-bit word. That order is what lets the AVX2 decoder
 * (rans16_avx2.c) do 8 states in a few vector instructions: their words are
 * consecutive, so one load and one shuffle refill all 8 lanes. Four such
 * vectors a round keep the gathers and multiplies of one vector from
 * waiting on the previous one (8 states alone were latency-bound: 2.3 ns a
 * symbol against 0.8 for 32). The encoder mirrors it (hlz_rans_encode_avx2).
 * The plain C versions (rans16.c) are the definition; tests compare them.
 */
#ifndef HLZ_RANS16_H
#define HLZ_RANS16_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HLZ_RANS_PROB_BITS 12
#define HLZ_RANS_TOTAL (1u << HLZ_RANS_PROB_BITS)
#define HLZ_RANS_LANES 32 /* fixed by the format; a multiple of 8 (the AVX2 vectors) */
#define HLZ_RANS_L (1u << 15) /* states live in [2^15, 2^31) */

/* Encoder view of one symbol of a table (F. Giesen's division-free form),
 * packed for gathers: info = (f - 1) | bias << 12 | shift << 25. */
typedef struct {
    uint32_t rcp, info;
} hlz_rans_sym;

/* Encoder symbols of a table freq[256] (summing to HLZ_RANS_TOTAL). */
void hlz_rans_enc_table(const uint32_t *freq, hlz_rans_sym *syms);

/* Decoder slots of a table: entry = (f - 1) | (slot - start) << 12 | symbol << 24. */
void hlz_rans_dec_table(const uint32_t *freq, uint32_t *slots);

/* Encodes sym[0..n): symbol i with the table syms + 256 * sel[i / block]
 * (sel NULL: the table syms; block a multiple of HLZ_RANS_LANES). Returns
 * where in `words` the *nwords words start, in reading order; words needs
 * room for n + HLZ_RANS_SLACK words (a symbol writes at most one). state
 * receives the final states, which the decoder starts from. */
#define HLZ_RANS_SLACK 8
const uint16_t *hlz_rans_encode_ref(const uint8_t *sym, size_t n, const hlz_rans_sym *syms, const uint8_t *sel, size_t block,
                         uint16_t *words, size_t *nwords, uint32_t state[HLZ_RANS_LANES]);
const uint16_t *hlz_rans_encode_avx2(const uint8_t *sym, size_t n, const hlz_rans_sym *syms, const uint8_t *sel, size_t block,
                          uint16_t *words, size_t *nwords, uint32_t state[HLZ_RANS_LANES]);
const uint16_t *hlz_rans_encode(const uint8_t *sym, size_t n, const hlz_rans_sym *syms, const uint8_t *sel, size_t block,
                     uint16_t *words, size_t *nwords, uint32_t state[HLZ_RANS_LANES]);
/* Both encoders' last, partial round (the first they code): symbols from
 * n rounded down to a whole round; words below w; returns the new w. */
uint16_t *hlz_rans_encode_tail(const uint8_t *sym, size_t n, const hlz_rans_sym *syms, const uint8_t *sel,
                               size_t block, uint16_t *w, uint32_t *x);

/* Decoder state: the states and the unread words [p, end). */
typedef struct {
    uint32_t x[HLZ_RANS_LANES];
    const uint8_t *p, *end;
} hlz_rans_dec;

/* Decodes n symbols with the slot table `slots` into dst. A call must
 * start at a symbol index that is a multiple of HLZ_RANS_LANES (every call
 * but the last decodes a multiple of it). False when the words run out. */
bool hlz_rans_decode_ref(hlz_rans_dec *d, const uint32_t *slots, uint8_t *dst, size_t n);
bool hlz_rans_decode_avx2(hlz_rans_dec *d, const uint32_t *slots, uint8_t *dst, size_t n);
/* The AVX2 version where this build and CPU have it (and HLZ_CPU is not scalar), else the reference. */
bool hlz_rans_decode(hlz_rans_dec *d, const uint32_t *slots, uint8_t *dst, size_t n);

/* bf16/fp16 values from their two planes (codec 3, kind 1): exponent-like
 * byte e[i] and sign+mantissa byte r[i] into the little-endian value
 * ((r & 0x80) << 8) | (e << 7) | (r & 0x7f) at dst + 2i. */
void hlz_merge16_ref(const uint8_t *e, const uint8_t *r, uint8_t *dst, size_t n);
void hlz_merge16_avx2(const uint8_t *e, const uint8_t *r, uint8_t *dst, size_t n);
void hlz_merge16(const uint8_t *e, const uint8_t *r, uint8_t *dst, size_t n);

/* Byte counts of e[0..n) added to hist[i / HLZ_COUNT_BLOCK][256]. */
#define HLZ_COUNT_BLOCK 4096
void hlz_count_blocks(const uint8_t *e, size_t n, uint32_t (*hist)[256]);
/* The same with blocks of `block` symbols. */
void hlz_count_blocks_of(const uint8_t *e, size_t n, size_t block, uint32_t (*hist)[256]);

/* The inverse (the encoder's split), with hlz_count_blocks of e. */
void hlz_split16_ref(const uint8_t *src, size_t n, uint8_t *e, uint8_t *r, uint32_t (*hist)[256]);
void hlz_split16_avx2(const uint8_t *src, size_t n, uint8_t *e, uint8_t *r, uint32_t (*hist)[256]);
void hlz_split16(const uint8_t *src, size_t n, uint8_t *e, uint8_t *r, uint32_t (*hist)[256]);

/* bf16 values in the joint layout (codec 3, kind 6): h = (v >> 5) & 1023
 * (the exponent and the top 2 mantissa bits) becomes the byte s[i] = 0 for
 * h = 0, h - base + 1 for h in [base, base + 253], else 255 (an escape, whose
 * h the caller keeps apart); the sign and the low 5 mantissa bits, l =
 * ((v >> 10) & 32) | (v & 31), are packed 64 values into 48 bytes (bytes j
 * < 48 hold l[j] in bits 0-5 and bits 2(j / 16)..+1 of l[48 + j % 16] in
 * bits 6-7), the last n % 64 values one byte each. base in 1..HLZ_J_BASE_MAX. */
#define HLZ_J_BASE_MAX 770
#define HLZ_J_ESCAPE 255
static inline size_t hlz_j_low_size(size_t n) { return n / 64 * 48 + n % 64; }
void hlz_split16j_ref(const uint8_t *src, size_t n, unsigned base, uint8_t *s, uint8_t *low);
void hlz_split16j_avx2(const uint8_t *src, size_t n, unsigned base, uint8_t *s, uint8_t *low);
void hlz_split16j(const uint8_t *src, size_t n, unsigned base, uint8_t *s, uint8_t *low);
/* The inverse, escapes aside: an escape's value comes out as if h were
 * (base + 254) & 1023 (the caller patches it). */
void hlz_merge16j_ref(const uint8_t *s, const uint8_t *low, unsigned base, uint8_t *dst, size_t n);
void hlz_merge16j_avx2(const uint8_t *s, const uint8_t *low, unsigned base, uint8_t *dst, size_t n);
void hlz_merge16j(const uint8_t *s, const uint8_t *low, unsigned base, uint8_t *dst, size_t n);

/* The table planner's inner loop (codec_float.c): out[c] = sum over j <
 * npresent of hist[present[j]] * cost[present[j]][c], c < 16, for a block
 * of at most 65536 symbols and costs below 2^15 (no sum overflows). */
#define HLZ_PLAN_TABLES 16
void hlz_block_costs_ref(const uint32_t *hist, const uint8_t *present, int npresent, const uint16_t (*cost)[HLZ_PLAN_TABLES],
                         uint32_t *out);
void hlz_block_costs_avx2(const uint32_t *hist, const uint8_t *present, int npresent, const uint16_t (*cost)[HLZ_PLAN_TABLES],
                          uint32_t *out);
void hlz_block_costs(const uint32_t *hist, const uint8_t *present, int npresent, const uint16_t (*cost)[HLZ_PLAN_TABLES],
                     uint32_t *out);

/* True when the AVX2 versions are in this build and the CPU runs them. */
bool hlz_rans_have_avx2(void);

#endif
