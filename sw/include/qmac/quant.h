/* quant.h - affine (uniform) quantization: float32 <-> n-bit integers, per tensor or per axis, and
 * the choice of scale and zero point from a real range following ONNX Runtime's or TFLite's rules.
 *
 * Quantization relation: real = scale * (q - zp). Quantize: q = saturate(round(x / scale) + zp).
 * Per-axis tensors are viewed as [outer, axis_len, inner] (row-major): element (o, a, i) uses
 * scale[a] and zp[a]. qmac_axis_split() computes that view from a shape and an axis.
 * Nothing here allocates. */
#ifndef QMAC_QUANT_H
#define QMAC_QUANT_H

#include <stddef.h>
#include <stdint.h>

#include "qmac/status.h"
#include "qmac/types.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Rounding of x / scale to an integer. */
typedef enum {
    QMAC_ROUND_HALF_EVEN = 0, /* ties to even: ONNX QuantizeLinear, ONNX Runtime (nearbyintf)      */
    QMAC_ROUND_HALF_AWAY = 1  /* ties away from zero: TFLite Quantize (TfLiteRound = std::round)     */
} qmac_rounding;

/* Integer range of a b-bit code: signed [-2^(b-1) + narrow, 2^(b-1) - 1], unsigned
 * [narrow, 2^b - 1]. "narrow" drops the lowest code as TensorFlow's narrow_range does
 * (int8 narrow = [-127, 127], uint8 narrow = [1, 255]).
 * Range of bits: [2, 16]. Errors: QMAC_ERR_INVALID_ARG naming the bad value. */
qmac_status qmac_qrange(int bits, int is_signed, int narrow, int32_t *qmin, int32_t *qmax);

/* The range ONNX Runtime's quantizer uses for a type (quant_utils.get_qmin_qmax_for_qType):
 * reduce_range first (int8 [-64, 64], uint8 [0, 127], int16 [-16384, 16384], uint16 [0, 32767]),
 * else symmetric (int8 [-127, 127], uint8 [0, 254], int16 [-32767, 32767], uint16 [0, 65534]),
 * else the full type range. dt: INT8, UINT8, INT16 or UINT16. Errors: QMAC_ERR_INVALID_ARG. */
qmac_status qmac_qrange_onnxrt(qmac_dtype dt, int symmetric, int reduce_range, int32_t *qmin, int32_t *qmax);

/* Quantize one value: v = x / scale evaluated as one float32 division (never a multiplication by
 * a reciprocal), rounded with r, plus zp, saturated to [qmin, qmax] (the sum is exact: it is done
 * in double, so no int32 overflow and no float32 absorption).
 *  - NaN (x, or x / scale) gives qmin. This is what ONNX Runtime 1.23 does on x86 (measured with
 *    QuantizeLinear on int8 and uint8, vector and scalar paths); TFLite leaves it undefined.
 *  - +inf and overflowing quotients saturate to qmax, -inf to qmin.
 * Ranges: scale finite and > 0 (not checked here; the array functions check), qmin <= qmax. */
int32_t qmac_quantize_f32(float x, float scale, int32_t zp, int32_t qmin, int32_t qmax, qmac_rounding r);

/* Dequantize one value: (float)(q - zp) * scale, the difference taken exactly (int64), then
 * converted to float32 (round to nearest even) and multiplied in float32 as ONNX Runtime and
 * TFLite do. */
float qmac_dequantize_f32(int32_t q, float scale, int32_t zp);

/* Round a float to an integral float with the given rule (exact, independent of the FPU rounding
 * mode). NaN and infinities are returned unchanged. */
float qmac_round_f32(float v, qmac_rounding r);

/* ---------------------------------------------------------------- arrays */

/* View of a tensor of shape[rank] around one axis: [outer, axis_len, inner]. axis may be negative
 * (counted from the end, as in ONNX). A rank-0 tensor has no axis. Errors: QMAC_ERR_INVALID_ARG
 * (axis outside [-rank, rank - 1], negative dimension). */
qmac_status qmac_axis_split(const int64_t *shape, int32_t rank, int32_t axis, size_t *outer, size_t *axis_len,
                            size_t *inner);

/* Quantization parameters of an n-bit tensor, per tensor (n == 1) or per axis (n == axis_len).
 * Values of 2..8 bits are stored one per byte: int8_t when is_signed, else uint8_t (packing
 * several codes per byte is the caller's business). */
typedef struct {
    int32_t bits;       /* [2, 8]                                                  */
    int32_t is_signed;  /* 1: two's complement codes in int8_t; 0: uint8_t          */
    int32_t narrow;     /* 1: drop the lowest code (see qmac_qrange)                */
    int32_t n;          /* number of (scale, zp) pairs: 1, or the axis length       */
    const float *scale; /* [n], each finite and > 0                                 */
    const int32_t *zp;  /* [n], each within the code range; NULL means all zero     */
} qmac_qparams;

/* Check a qmac_qparams against an axis length (n must be 1 or axis_len) and return its code
 * range. Errors: QMAC_ERR_INVALID_ARG naming the bad field or channel. */
qmac_status qmac_qparams_check(const qmac_qparams *qp, size_t axis_len, int32_t *qmin, int32_t *qmax);

/* y[o][a][i] = qmac_quantize_f32(x[o][a][i], scale[a'], zp[a'], qmin, qmax, r) with a' = a, or 0
 * when qp->n == 1. x and y have outer * axis_len * inner elements; y is int8_t or uint8_t as
 * qp->is_signed says. Errors: those of qmac_qparams_check (nothing is written then). */
qmac_status qmac_quantize_nbit(const float *x, size_t outer, size_t axis_len, size_t inner,
                               const qmac_qparams *qp, qmac_rounding r, void *y);

/* Inverse: y = qmac_dequantize_f32(q, scale[a'], zp[a']). Codes are trusted (not range-checked). */
qmac_status qmac_dequantize_nbit(const void *q, size_t outer, size_t axis_len, size_t inner,
                                 const qmac_qparams *qp, float *y);

/* Per-tensor int8 [-128, 127] / uint8 [0, 255] shortcuts. scale finite > 0, zp within the type.
 * Errors: QMAC_ERR_INVALID_ARG. */
qmac_status qmac_quantize_s8(const float *x, size_t n, float scale, int32_t zp, qmac_rounding r, int8_t *y);
qmac_status qmac_quantize_u8(const float *x, size_t n, float scale, int32_t zp, qmac_rounding r, uint8_t *y);
qmac_status qmac_dequantize_s8(const int8_t *q, size_t n, float scale, int32_t zp, float *y);
qmac_status qmac_dequantize_u8(const uint8_t *q, size_t n, float scale, int32_t zp, float *y);

/* Per-axis int8 / uint8 shortcuts (ONNX QuantizeLinear/DequantizeLinear with an axis): scale and
 * zp have axis_len entries (zp may be NULL). */
qmac_status qmac_quantize_axis_s8(const float *x, size_t outer, size_t axis_len, size_t inner,
                                  const float *scale, const int32_t *zp, qmac_rounding r, int8_t *y);
qmac_status qmac_quantize_axis_u8(const float *x, size_t outer, size_t axis_len, size_t inner,
                                  const float *scale, const int32_t *zp, qmac_rounding r, uint8_t *y);
qmac_status qmac_dequantize_axis_s8(const int8_t *q, size_t outer, size_t axis_len, size_t inner,
                                    const float *scale, const int32_t *zp, float *y);
qmac_status qmac_dequantize_axis_u8(const uint8_t *q, size_t outer, size_t axis_len, size_t inner,
                                    const float *scale, const int32_t *zp, float *y);

/* ---------------------------------------------------------------- scale / zero point from a range */

typedef enum {
    /* ONNX Runtime quant_utils.compute_scale_zp (checked against onnxruntime 1.23.2):
     *   rmin = min(rmin, 0), rmax = max(rmax, 0)                         (float32)
     *   symmetric: absmax = max(|rmin|, |rmax|), rmin = -absmax, rmax = absmax
     *   scale = (double)(float32)(rmax - rmin) / ((double)qmax - qmin)    (float64)
     *   scale < FLT_MIN (float32's smallest normal) -> (scale 1.0, zp 0)
     *   symmetric: zp = round_half_even((qmin + qmax) / 2.0)
     *   else:      zp = round_half_even((double)qmin - (double)rmin / scale)   (scale still double)
     *   the scale is then rounded to float32.
     * Requires qmin <= 0 <= qmax (ONNX Runtime raises otherwise). Pass the range ORT uses for the
     * tensor (qmac_qrange_onnxrt: symmetric int8 is [-127, 127], symmetric uint8 [0, 254]). */
    QMAC_QPARAMS_ONNXRT = 0,
    /* TFLite.
     * Asymmetric: tflite::ChooseQuantizationParams (kernels/internal/quantization_util.h), all in
     * double: scale = (rmax - rmin) / (qmax - qmin); the zero point is taken from the (rmin, qmin)
     * or the (rmax, qmax) pair, whichever has the smaller error term |q| + |r / scale|, then nudged:
     * clamped to [qmin, qmax] and rounded half away from zero; scale stored as float32.
     * TFLite CHECK-fails unless rmin <= 0 <= rmax; qmac first extends the range to include 0, as
     * the converter does. For the point range {0} TFLite returns scale 0; qmac returns scale 1.0
     * and zp = clamp(0, qmin, qmax) so that the result stays usable.
     * Symmetric (the converter's int8 weights, tools/optimize/quantization_utils.cc):
     * zp = 0 and scale = absmax / qmax in float32 (absmax / 127 for the int8 range [-127, 127]);
     * absmax == 0 gives scale 1.0 (TFLite writes 0). Requires qmax > 0. */
    QMAC_QPARAMS_TFLITE = 1
} qmac_qparams_rule;

/* Scale and zero point for the real range [rmin, rmax] and the code range [qmin, qmax].
 * rmin, rmax must not be NaN; an infinite range or scale is rejected. rmin > rmax is accepted
 * (both rules only look at the range extended to contain 0), qmin < qmax is required.
 * Errors: QMAC_ERR_INVALID_ARG naming the bad value. */
qmac_status qmac_choose_qparams(float rmin, float rmax, int32_t qmin, int32_t qmax, int symmetric,
                                qmac_qparams_rule rule, float *scale, int32_t *zp);

/* Per-channel: n ranges -> n (scale, zp) pairs. Stops at the first bad channel, whose index the
 * error message names. */
qmac_status qmac_choose_qparams_axis(const float *rmin, const float *rmax, int32_t n, int32_t qmin,
                                     int32_t qmax, int symmetric, qmac_qparams_rule rule, float *scale,
                                     int32_t *zp);

/* The TFLite converter's symmetric int8 weight quantization (tools/optimize SymmetricPerChannel-
 * Quantization / SymmetricQuantizeTensor), bit-exact: per index a of the axis,
 * absmax = max |w| over [outer, a, inner], scale[a] = absmax / 127.0f (float32; 0 when absmax
 * is 0, as TFLite writes it), inv = 127.0f / absmax (float32; 0 when absmax is 0), and
 * q = clamp(roundf(w * inv), -127, 127) - a multiplication by the float32 reciprocal, which can
 * differ by one code from qmac_quantize_f32's division. Per-tensor: axis_len = 1.
 * Errors: QMAC_ERR_INVALID_ARG for a NaN or infinite weight (named by index). */
qmac_status qmac_quantize_symmetric_tflite_s8(const float *w, size_t outer, size_t axis_len, size_t inner,
                                              float *scale, int8_t *q);

#ifdef __cplusplus
}
#endif
#endif /* QMAC_QUANT_H */
