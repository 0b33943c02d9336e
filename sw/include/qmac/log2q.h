/* log2q.h - power-of-two (logarithmic) weight quantization, for weight compression (not for
 * linear integer compute):
 *     q(x) = sign(x) * 2^clip(round(log2 |x|), lo, hi),  q(0) = 0.
 * Two rounding conventions are offered; the log-domain one is the default (enum value 0):
 *  - QMAC_LOG2_ROUND_LOG (default): round log2|x| to the nearest integer, i.e. the boundary
 *    between 2^k and 2^(k+1) is at 2^(k+1/2) = sqrt(2) * 2^k (LogQuant, Miyashita et al. 2016).
 *    The boundary is irrational, so no float32 input is ever a tie.
 *  - QMAC_LOG2_ROUND_LINEAR: nearest power of two in linear distance, boundary at 1.5 * 2^k
 *    (INQ, Zhou et al. 2017); the tie |x| == 1.5 * 2^k goes to the larger magnitude 2^(k+1).
 * Both are decided exactly from the float32's significand (no libm log2 call, so no rounding
 * error near a boundary).
 *
 * Codes: an unsigned `bits`-bit integer, the top bit the sign (1 = negative) and the low bits-1
 * bits m: m == 0 encodes 0 (only with sign 0), m in [1, hi - lo + 1] encodes 2^(lo + m - 1).
 * So hi - lo + 1 <= 2^(bits-1) - 1 exponents fit (e.g. 4 bits: 7 exponents). */
#ifndef QMAC_LOG2Q_H
#define QMAC_LOG2Q_H

#include <stddef.h>
#include <stdint.h>

#include "qmac/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    QMAC_LOG2_ROUND_LOG = 0,   /* boundary at 2^(k + 1/2): the default */
    QMAC_LOG2_ROUND_LINEAR = 1 /* boundary at 1.5 * 2^k                */
} qmac_log2_rounding;

typedef struct {
    int32_t lo, hi;              /* exponent range, -126 <= lo <= hi <= 127 (normal float32 powers) */
    qmac_log2_rounding rounding; /* QMAC_LOG2_ROUND_LOG unless set                               */
    int32_t flush_to_zero;       /* 0: a nonzero x whose rounded exponent is below lo gives
                                    +-2^lo (plain clip); 1: it gives 0                            */
    int32_t bits;                /* code width for encode/decode, [2, 8]                          */
} qmac_log2_params;

/* Validate the parameters (range, rounding, and that hi - lo + 1 <= 2^(bits-1) - 1).
 * Errors: QMAC_ERR_INVALID_ARG naming the bad field. */
qmac_status qmac_log2_check(const qmac_log2_params *p);

/* The rounded, unclipped exponent k of a finite nonzero x: |x| rounds to 2^k under r.
 * (Subnormal inputs are handled; the result is in [-149, 128].) */
int32_t qmac_log2_exponent(float x, qmac_log2_rounding r);

/* q(x) for one value; NaN gives 0, +-inf gives +-2^hi. Parameters must have passed
 * qmac_log2_check. */
float qmac_log2q_f32(float x, const qmac_log2_params *p);

/* The code of q(x) (same rules). */
uint8_t qmac_log2_encode_one(float x, const qmac_log2_params *p);

/* Decode one code. Errors: QMAC_ERR_INVALID_ARG for a code with bits above `bits`, "negative
 * zero" (sign set, m == 0) or m > hi - lo + 1 - codes come from data and are always checked. */
qmac_status qmac_log2_decode_one(uint8_t code, const qmac_log2_params *p, float *y);

/* Array versions. Errors: those of qmac_log2_check; decode also names the first bad code's index
 * (y is then partially written). */
qmac_status qmac_log2q_array(const float *x, size_t n, const qmac_log2_params *p, float *y);
qmac_status qmac_log2_encode(const float *x, size_t n, const qmac_log2_params *p, uint8_t *codes);
qmac_status qmac_log2_decode(const uint8_t *codes, size_t n, const qmac_log2_params *p, float *y);

#ifdef __cplusplus
}
#endif
#endif /* QMAC_LOG2Q_H */
