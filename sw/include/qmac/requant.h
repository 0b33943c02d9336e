/* requant.h - requantization of int32 accumulators to 8-bit outputs, in the three rules that
 * real frameworks use (see docs/quantization.md). Each rule is bit-exact with its framework. */
#ifndef QMAC_REQUANT_H
#define QMAC_REQUANT_H

#include <stdint.h>

#include "qmac/status.h"
#include "qmac/types.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    QMAC_REQUANT_TFLITE = 0, /* A: TFLite reference, SRDHM then RDBPOT (two roundings)      */
    QMAC_REQUANT_SINGLE = 1, /* B: TFLite built with TFLITE_SINGLE_ROUNDING / ruy (one rounding) */
    QMAC_REQUANT_ONNXRT = 2  /* C: float32 scale, round half to even (ONNX Runtime MLAS, x86)  */
} qmac_requant_rule;

/* Parse "tflite" | "single" | "onnxrt" (also "A"/"B"/"C"). Returns 0 on success. */
int qmac_requant_rule_parse(const char *s, qmac_requant_rule *rule);
const char *qmac_requant_rule_name(qmac_requant_rule rule);

/* QuantizeMultiplier: real multiplier m ~= qm * 2^(shift - 31), qm in [2^30, 2^31) (or 0).
 * Rule A follows tflite::QuantizeMultiplier exactly (frexp, round half away from zero, the
 * qm == 2^31 carry, shift < -31 flushes to (0, 0)). Rule B additionally saturates shift > 30
 * to (2^31 - 1, 30) and rejects m < 0. m == 0 gives (0, 0).
 * Range of m: finite; rule A accepts |m| < 2^31 (shift <= 31), rule B m >= 0.
 * Errors: QMAC_ERR_INVALID_ARG (NaN, infinite, out of range, or rule C which has no Q31 form). */
qmac_status qmac_quantize_multiplier(double m, qmac_requant_rule rule, int32_t *qm, int32_t *shift);

/* gemmlowp SaturatingRoundingDoublingHighMul: (a*b + nudge) / 2^31 truncating, nudge 2^30 for
 * a*b >= 0 and 1 - 2^30 otherwise; a == b == INT32_MIN saturates to INT32_MAX. */
int32_t qmac_srdhm(int32_t a, int32_t b);

/* gemmlowp RoundingDivideByPOT: x / 2^e rounded to nearest, ties away from zero. e in [0, 31]. */
int32_t qmac_rdbpot(int32_t x, int e);

/* Rule A: MultiplyByQuantizedMultiplier = RDBPOT(SRDHM(x << max(shift,0), qm), max(-shift,0)).
 * shift in [-31, 31]. The left shift is done modulo 2^32 (two's complement wrap), which is what
 * TFLite's int32 multiply by (1 << shift) does on every target. */
int32_t qmac_mbqm(int32_t x, int32_t qm, int32_t shift);

/* Rule B: (x * qm + 2^(30 - shift)) >> (31 - shift), arithmetic shift (round half up), the
 * result saturated to int32. qm >= 0, shift in [-31, 30]. */
int32_t qmac_mbqm_single(int32_t x, int32_t qm, int32_t shift);

/* Rule C: f = (float)acc (round to nearest even); f *= scale (float32, no FMA);
 * f = clamp(f, qmin - zp, qmax - zp); return (int32)nearbyintf(f) + zp (ties to even).
 * scale finite and > 0. The result lies in [qmin, qmax]. */
int32_t qmac_requant_float(int32_t acc, float scale, int32_t zp, int32_t qmin, int32_t qmax);

/* A prepared requantization of a tensor of accumulators whose channel is the innermost axis
 * (NHWC activations, [M, N] matmul outputs). Arrays are owned by the caller and must outlive
 * the struct. */
typedef struct {
    qmac_requant_rule rule;
    int32_t n_ch;              /* 1 = per-tensor, else per-channel with channel = i % n_ch  */
    const int32_t *multiplier; /* [n_ch] rules A/B: Q31 multiplier                      */
    const int32_t *shift;      /* [n_ch] rules A/B: exponent, > 0 = left shift            */
    const float *scale;        /* [n_ch] rule C: effective float32 scale                   */
    int32_t out_zp;            /* output zero point, within [act_min, act_max]'s type range */
    int32_t act_min, act_max;  /* final clamp (type range intersected with fused activation) */
} qmac_requant;

/* Prepare a requantization with effective scale s_in * s_w[c] / s_out per channel:
 *  - rules A/B: QuantizeMultiplier((double)s_in * (double)s_w[c] / (double)s_out) as TFLite does;
 *  - rule C: (s_in * s_w[c]) / s_out evaluated in float32 in that order, as ONNX Runtime does.
 * n_ch >= 1 entries of s_w; mult/shift/scale are caller arrays of n_ch (each may be NULL when
 * the rule does not use it). All scales must be finite and > 0; act_min <= out_zp is not
 * required, but qmin <= act_min <= act_max <= qmax of out_dt is.
 * Errors: QMAC_ERR_INVALID_ARG naming the bad value. */
qmac_status qmac_requant_prepare(qmac_requant *rq, qmac_requant_rule rule, float s_in, const float *s_w,
                                 int32_t n_ch, float s_out, int32_t out_zp, int32_t act_min, int32_t act_max,
                                 int32_t *mult, int32_t *shift, float *scale);

/* Requantize one accumulator of channel c (0 <= c < n_ch, or any c when n_ch == 1). */
int32_t qmac_requant_one(const qmac_requant *rq, int32_t c, int32_t acc);

/* Requantize count accumulators (channel innermost) into out of type out_dt (INT8 or UINT8). */
void qmac_requant_tensor(const qmac_requant *rq, const int32_t *acc, size_t count, qmac_dtype out_dt,
                         void *out);

/* One lane of the accelerator's post-processing unit (hw/rtl/qmac_requant.sv, docs/isa.md "POST"),
 * defined for every bit pattern of its data inputs: the hardware never traps on data.
 *   v = acc + bias (32-bit wrap)
 *   omode BIN:  bit = (v < (int32)mult) XOR (shift & 1)                          -> returns 0 or 1
 *   otherwise zp, lo, hi = out_zp, clamp_min, clamp_max read as int8 (S8) or uint8 (U8), and
 *     TFLITE: y = qmac_mbqm(v, mult, clamp(shift, -31, 31));  r = clamp(y + zp, lo, hi)
 *     SINGLE: y = qmac_mbqm_single(v, mult, clamp(shift, -31, 30)); r = clamp(y + zp, lo, hi)
 *     FLOAT:  p = (float)v * float_from_bits(mult) in binary32, round to nearest even; a NaN p
 *             counts as 0; p = clamp(p, lo - zp, hi - zp); r = (int32)nearbyintf(p) + zp
 *             (exactly qmac_requant_float for finite positive scales). Subnormal scales and
 *             products are exact IEEE values, not flushed to zero: with an empty clamp range a
 *             tiny negative p and -0 clamp differently (the RTL keeps them exact too).
 *   returns r & 0xff, the output byte.
 * clamp(x, lo, hi) is x < lo ? lo : x > hi ? hi : x. rule and omode take the qmac_rule and
 * qmac_omode values of isa_gen.h (CONFIG refuses the others); shift is the lane's int8 shift. */
uint32_t qmac_rq_lane(uint32_t rule, uint32_t omode, uint8_t out_zp, uint8_t clamp_min, uint8_t clamp_max,
                      int32_t acc, int32_t bias, uint32_t mult, int8_t shift);

/* Store an int32 that is already within the type's range into element i of a buffer. */
void qmac_store_int(qmac_dtype dt, void *data, size_t i, int32_t v);

#ifdef __cplusplus
}
#endif
#endif /* QMAC_REQUANT_H */
