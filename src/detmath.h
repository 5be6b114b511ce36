/* detmath.h - deterministic double-precision elementary functions (see detmath.c). */
#ifndef HLZ_DETMATH_H
#define HLZ_DETMATH_H

/* e^x; 0 below -708, +inf above 709. */
double hlz_det_exp(double x);
/* Natural logarithm; -inf for 0, nan for negative x. */
double hlz_det_log(double x);
/* sin x and cos x for |x| < 2^30 (RoPE angles are far smaller). */
void hlz_det_sincos(double x, double *s, double *c);

#endif
