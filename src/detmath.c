/* detmath.c - double-precision exp, log, sin and cos built from + - * / and
 * bit operations only, so every machine computes the same bits (libm does
 * not promise that). Used for tables computed once per model: RoPE
 * frequencies and angles. Accuracy is about 1e-15 relative, far more than
 * the float tables need; what matters is that it is the same everywhere. */
#include "detmath.h"

#include <stdint.h>
#include <string.h>

static double with_exponent(double m, int e) /* m * 2^e for normal results */
{
    uint64_t bits = (uint64_t)(e + 1023) << 52;
    double scale;
    memcpy(&scale, &bits, 8);
    return m * scale;
}

static double round_even_d(double v) { return (v + 6755399441055744.0) - 6755399441055744.0; } /* |v| < 2^51 */

static const double LN2_HI = 6.93147180369123816490e-01, LN2_LO = 1.90821492927058770002e-10;

double hlz_det_exp(double x)
{
    if (x != x) return x;
    if (x > 709.0) return 1.0 / 0.0;
    if (x < -708.0) return 0.0;
    double n = round_even_d(x * 1.4426950408889634);
    double r = (x - n * LN2_HI) - n * LN2_LO;       /* |r| <= 0.35 */
    double term = 1.0, sum = 1.0;
    for (int k = 1; k <= 17; k++) {                  /* Taylor: r^17/17! < 1e-22 */
        term = term * r / (double)k;
        sum = sum + term;
    }
    return with_exponent(sum, (int)n);
}

double hlz_det_log(double x)
{
    if (!(x > 0.0)) return x == 0.0 ? -1.0 / 0.0 : 0.0 / 0.0;
    if (x == 1.0 / 0.0) return x;
    uint64_t bits;
    memcpy(&bits, &x, 8);
    int e = (int)((bits >> 52) & 0x7ff);
    if (e == 0) return hlz_det_log(x * 4503599627370496.0) - 52 * 0.69314718055994530942; /* subnormal */
    e -= 1023;
    bits = (bits & 0x000fffffffffffffull) | 0x3ff0000000000000ull; /* mantissa in [1, 2) */
    double m;
    memcpy(&m, &bits, 8);
    if (m > 1.4142135623730951) m = m / 2.0, e++;    /* m in [0.707, 1.414] */
    double s = (m - 1.0) / (m + 1.0), s2 = s * s;   /* log m = 2 atanh s, |s| <= 0.172 */
    double term = s, sum = s;
    for (int k = 3; k <= 41; k += 2) {
        term = term * s2;
        sum = sum + term / (double)k;
    }
    return (double)e * LN2_HI + ((double)e * LN2_LO + 2.0 * sum);
}

/* sin and cos of |r| <= pi/4 by their Taylor series. */
static double sin_small(double r)
{
    double r2 = r * r, term = r, sum = r;
    for (int k = 2; k <= 22; k += 2) {
        term = -term * r2 / (double)(k * (k + 1));
        sum = sum + term;
    }
    return sum;
}

static double cos_small(double r)
{
    double r2 = r * r, term = 1.0, sum = 1.0;
    for (int k = 1; k <= 22; k += 2) {
        term = -term * r2 / (double)(k * (k + 1));
        sum = sum + term;
    }
    return sum;
}

/* x = k * pi/2 + r, pi/2 in three parts (Cody-Waite), valid for |x| < 2^30. */
static double reduce(double x, long *k)
{
    static const double P1 = 1.57079632673412561417e+00, P2 = 6.07710050650619224932e-11,
                        P3 = 2.02226624879595063154e-21;
    double n = round_even_d(x * 0.63661977236758134308);
    *k = (long)n;
    return ((x - n * P1) - n * P2) - n * P3;
}

void hlz_det_sincos(double x, double *s, double *c)
{
    long k;
    double r = reduce(x, &k), sr = sin_small(r), cr = cos_small(r);
    switch (k & 3) {
    case 0: *s = sr;  *c = cr;  break;
    case 1: *s = cr;  *c = -sr; break;
    case 2: *s = -sr; *c = -cr; break;
    default: *s = -cr; *c = sr; break;
    }
}
