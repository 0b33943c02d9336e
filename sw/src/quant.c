/* quant.c - affine quantization and the ONNX Runtime / TFLite choice of scale and zero point. */
#include "qmac/quant.h"

#include <float.h>
#include <math.h>
#include <stdio.h>

qmac_status qmac_qrange(int bits, int is_signed, int narrow, int32_t *qmin, int32_t *qmax)
{
    if (bits < 2 || bits > 16)
        return qmac_set_error(QMAC_ERR_INVALID_ARG, "quantization bit width %d is outside [2, 16]", bits);
    int32_t lo, hi;
    if (is_signed) {
        lo = -(INT32_C(1) << (bits - 1));
        hi = (INT32_C(1) << (bits - 1)) - 1;
    } else {
        lo = 0;
        hi = (INT32_C(1) << bits) - 1;
    }
    if (narrow)
        lo += 1;
    *qmin = lo;
    *qmax = hi;
    return QMAC_OK;
}

qmac_status qmac_qrange_onnxrt(qmac_dtype dt, int symmetric, int reduce_range, int32_t *qmin, int32_t *qmax)
{
    int32_t lo, hi;
    switch (dt) {
    case QMAC_DT_INT8:
        lo = reduce_range ? -64 : symmetric ? -127 : -128;
        hi = reduce_range ? 64 : 127;
        break;
    case QMAC_DT_UINT8:
        lo = 0;
        hi = reduce_range ? 127 : symmetric ? 254 : 255;
        break;
    case QMAC_DT_INT16:
        lo = reduce_range ? -16384 : symmetric ? -32767 : -32768;
        hi = reduce_range ? 16384 : 32767;
        break;
    case QMAC_DT_UINT16:
        lo = 0;
        hi = reduce_range ? 32767 : symmetric ? 65534 : 65535;
        break;
    default:
        return qmac_set_error(QMAC_ERR_INVALID_ARG, "onnxrt quantization range: unsupported dtype %s",
                              qmac_dtype_name(dt));
    }
    *qmin = lo;
    *qmax = hi;
    return QMAC_OK;
}

float qmac_round_f32(float v, qmac_rounding r)
{
    if (!isfinite(v))
        return v;
    if (r == QMAC_ROUND_HALF_AWAY)
        return roundf(v); /* C roundf: halfway cases away from zero, whatever the rounding mode */
    /* Half to even. For |v| < 2^23, v - floor(v) is exact; above, v is already integral. */
    float f = floorf(v);
    float d = v - f;
    if (d > 0.5f || (d == 0.5f && fmodf(f, 2.0f) != 0.0f))
        f += 1.0f;
    return f;
}

int32_t qmac_quantize_f32(float x, float scale, int32_t zp, int32_t qmin, int32_t qmax, qmac_rounding r)
{
    const float v = x / scale; /* one float32 division, as ORT's and TFLite's kernels do */
    if (isnan(v))
        return qmin;
    /* The sum is exact in double for any integral float up to 2^53 and beyond it the clamp
     * decides anyway. */
    const double t = (double)qmac_round_f32(v, r) + (double)zp;
    if (t <= (double)qmin)
        return qmin;
    if (t >= (double)qmax)
        return qmax;
    return (int32_t)t;
}

float qmac_dequantize_f32(int32_t q, float scale, int32_t zp)
{
    const int64_t d = (int64_t)q - (int64_t)zp;
    return (float)d * scale;
}

/* ---------------------------------------------------------------- arrays */

qmac_status qmac_axis_split(const int64_t *shape, int32_t rank, int32_t axis, size_t *outer, size_t *axis_len,
                            size_t *inner)
{
    if (rank < 1 || axis < -rank || axis >= rank)
        return qmac_set_error(QMAC_ERR_INVALID_ARG, "axis %d is outside [-%d, %d] for a rank-%d tensor",
                              (int)axis, (int)rank, (int)rank - 1, (int)rank);
    const int32_t ax = axis < 0 ? axis + rank : axis;
    size_t o = 1, in = 1;
    for (int32_t i = 0; i < rank; ++i) {
        if (shape[i] < 0)
            return qmac_set_error(QMAC_ERR_INVALID_ARG, "dimension %d of the tensor is negative (%lld)",
                                  (int)i, (long long)shape[i]);
        if (i < ax)
            o *= (size_t)shape[i];
        else if (i > ax)
            in *= (size_t)shape[i];
    }
    *outer = o;
    *axis_len = (size_t)shape[ax];
    *inner = in;
    return QMAC_OK;
}

qmac_status qmac_qparams_check(const qmac_qparams *qp, size_t axis_len, int32_t *qmin, int32_t *qmax)
{
    if (qp->bits < 2 || qp->bits > 8)
        return qmac_set_error(QMAC_ERR_INVALID_ARG, "quantized array bit width %d is outside [2, 8]",
                              (int)qp->bits);
    qmac_status st = qmac_qrange(qp->bits, qp->is_signed, qp->narrow, qmin, qmax);
    if (st != QMAC_OK)
        return st;
    if (qp->n < 1 || (qp->n != 1 && (size_t)qp->n != axis_len))
        return qmac_set_error(QMAC_ERR_INVALID_ARG,
                              "%d quantization parameters for an axis of length %zu (need 1 or %zu)",
                              (int)qp->n, axis_len, axis_len);
    if (!qp->scale)
        return qmac_set_error(QMAC_ERR_INVALID_ARG, "quantization scale array is NULL");
    for (int32_t c = 0; c < qp->n; ++c) {
        if (!(isfinite(qp->scale[c]) && qp->scale[c] > 0.0f))
            return qmac_set_error(QMAC_ERR_INVALID_ARG, "scale[%d] = %g must be finite and > 0", (int)c,
                                  (double)qp->scale[c]);
        const int32_t z = qp->zp ? qp->zp[c] : 0;
        if (z < *qmin || z > *qmax)
            return qmac_set_error(QMAC_ERR_INVALID_ARG, "zero point[%d] = %d is outside [%d, %d]", (int)c,
                                  (int)z, (int)*qmin, (int)*qmax);
    }
    return QMAC_OK;
}

qmac_status qmac_quantize_nbit(const float *x, size_t outer, size_t axis_len, size_t inner,
                               const qmac_qparams *qp, qmac_rounding r, void *y)
{
    int32_t qmin, qmax;
    qmac_status st = qmac_qparams_check(qp, axis_len, &qmin, &qmax);
    if (st != QMAC_OK)
        return st;
    int8_t *ys = (int8_t *)y;
    uint8_t *yu = (uint8_t *)y;
    size_t i = 0;
    for (size_t o = 0; o < outer; ++o) {
        for (size_t a = 0; a < axis_len; ++a) {
            const size_t c = qp->n == 1 ? 0 : a;
            const float s = qp->scale[c];
            const int32_t z = qp->zp ? qp->zp[c] : 0;
            for (size_t k = 0; k < inner; ++k, ++i) {
                const int32_t q = qmac_quantize_f32(x[i], s, z, qmin, qmax, r);
                if (qp->is_signed)
                    ys[i] = (int8_t)q;
                else
                    yu[i] = (uint8_t)q;
            }
        }
    }
    return QMAC_OK;
}

qmac_status qmac_dequantize_nbit(const void *q, size_t outer, size_t axis_len, size_t inner,
                                 const qmac_qparams *qp, float *y)
{
    int32_t qmin, qmax;
    qmac_status st = qmac_qparams_check(qp, axis_len, &qmin, &qmax);
    if (st != QMAC_OK)
        return st;
    const int8_t *qs = (const int8_t *)q;
    const uint8_t *qu = (const uint8_t *)q;
    size_t i = 0;
    for (size_t o = 0; o < outer; ++o) {
        for (size_t a = 0; a < axis_len; ++a) {
            const size_t c = qp->n == 1 ? 0 : a;
            const float s = qp->scale[c];
            const int32_t z = qp->zp ? qp->zp[c] : 0;
            for (size_t k = 0; k < inner; ++k, ++i)
                y[i] = qmac_dequantize_f32(qp->is_signed ? (int32_t)qs[i] : (int32_t)qu[i], s, z);
        }
    }
    return QMAC_OK;
}

static qmac_qparams qp8(int is_signed, int32_t n, const float *scale, const int32_t *zp)
{
    qmac_qparams qp = {8, is_signed, 0, n, scale, zp};
    return qp;
}

qmac_status qmac_quantize_s8(const float *x, size_t n, float scale, int32_t zp, qmac_rounding r, int8_t *y)
{
    const qmac_qparams qp = qp8(1, 1, &scale, &zp);
    return qmac_quantize_nbit(x, 1, 1, n, &qp, r, y);
}

qmac_status qmac_quantize_u8(const float *x, size_t n, float scale, int32_t zp, qmac_rounding r, uint8_t *y)
{
    const qmac_qparams qp = qp8(0, 1, &scale, &zp);
    return qmac_quantize_nbit(x, 1, 1, n, &qp, r, y);
}

qmac_status qmac_dequantize_s8(const int8_t *q, size_t n, float scale, int32_t zp, float *y)
{
    const qmac_qparams qp = qp8(1, 1, &scale, &zp);
    return qmac_dequantize_nbit(q, 1, 1, n, &qp, y);
}

qmac_status qmac_dequantize_u8(const uint8_t *q, size_t n, float scale, int32_t zp, float *y)
{
    const qmac_qparams qp = qp8(0, 1, &scale, &zp);
    return qmac_dequantize_nbit(q, 1, 1, n, &qp, y);
}

static int32_t axis_n(size_t axis_len)
{
    return axis_len > (size_t)INT32_MAX ? -1 : (int32_t)axis_len;
}

qmac_status qmac_quantize_axis_s8(const float *x, size_t outer, size_t axis_len, size_t inner,
                                  const float *scale, const int32_t *zp, qmac_rounding r, int8_t *y)
{
    const qmac_qparams qp = qp8(1, axis_n(axis_len), scale, zp);
    return qmac_quantize_nbit(x, outer, axis_len, inner, &qp, r, y);
}

qmac_status qmac_quantize_axis_u8(const float *x, size_t outer, size_t axis_len, size_t inner,
                                  const float *scale, const int32_t *zp, qmac_rounding r, uint8_t *y)
{
    const qmac_qparams qp = qp8(0, axis_n(axis_len), scale, zp);
    return qmac_quantize_nbit(x, outer, axis_len, inner, &qp, r, y);
}

qmac_status qmac_dequantize_axis_s8(const int8_t *q, size_t outer, size_t axis_len, size_t inner,
                                    const float *scale, const int32_t *zp, float *y)
{
    const qmac_qparams qp = qp8(1, axis_n(axis_len), scale, zp);
    return qmac_dequantize_nbit(q, outer, axis_len, inner, &qp, y);
}

qmac_status qmac_dequantize_axis_u8(const uint8_t *q, size_t outer, size_t axis_len, size_t inner,
                                    const float *scale, const int32_t *zp, float *y)
{
    const qmac_qparams qp = qp8(0, axis_n(axis_len), scale, zp);
    return qmac_dequantize_nbit(q, outer, axis_len, inner, &qp, y);
}

/* ---------------------------------------------------------------- scale / zero point */

/* numpy.round on a double: round half to even. */
static double round_half_even_d(double v)
{
    double f = floor(v);
    double d = v - f;
    if (d > 0.5 || (d == 0.5 && fmod(f, 2.0) != 0.0))
        f += 1.0;
    return f;
}

static int32_t clamp_i32(double v, int32_t lo, int32_t hi)
{
    if (v <= (double)lo)
        return lo;
    if (v >= (double)hi)
        return hi;
    return (int32_t)v;
}

/* ONNX Runtime quant_utils.compute_scale_zp with float32 inputs. */
static qmac_status qparams_onnxrt(float rmin, float rmax, int32_t qmin, int32_t qmax, int symmetric,
                                  float *scale, int32_t *zp)
{
    if (qmin > 0 || qmax < 0)
        return qmac_set_error(QMAC_ERR_INVALID_ARG, "onnxrt qparams need qmin <= 0 <= qmax, got [%d, %d]",
                              (int)qmin, (int)qmax);
    float lo = rmin < 0.0f ? rmin : 0.0f;
    float hi = rmax > 0.0f ? rmax : 0.0f;
    if (symmetric) {
        const float absmax = fabsf(lo) > fabsf(hi) ? fabsf(lo) : fabsf(hi);
        lo = -absmax;
        hi = absmax;
    }
    const float dr = hi - lo; /* numpy float32 subtraction */
    const double s = (double)dr / ((double)qmax - (double)qmin);
    if (!isfinite(s))
        return qmac_set_error(QMAC_ERR_INVALID_ARG, "range [%g, %g] gives an infinite scale", (double)rmin,
                              (double)rmax);
    if (s < (double)FLT_MIN) {
        *scale = 1.0f;
        *zp = 0;
        return QMAC_OK;
    }
    double z;
    if (symmetric)
        z = round_half_even_d(((double)qmin + (double)qmax) / 2.0);
    else
        z = round_half_even_d((double)qmin - (double)lo / s);
    const float sf = (float)s;
    if (!isfinite(sf))
        return qmac_set_error(QMAC_ERR_INVALID_ARG, "scale %g overflows float32", s);
    *scale = sf;
    *zp = clamp_i32(z, qmin, qmax);
    return QMAC_OK;
}

/* tflite::ChooseQuantizationParams (double), or the converter's symmetric weight scale. */
static qmac_status qparams_tflite(float rmin, float rmax, int32_t qmin, int32_t qmax, int symmetric,
                                  float *scale, int32_t *zp)
{
    const float lo = rmin < 0.0f ? rmin : 0.0f;
    const float hi = rmax > 0.0f ? rmax : 0.0f;
    if (symmetric) {
        if (qmax <= 0)
            return qmac_set_error(QMAC_ERR_INVALID_ARG, "tflite symmetric qparams need qmax > 0, got %d",
                                  (int)qmax);
        const float absmax = fabsf(lo) > fabsf(hi) ? fabsf(lo) : fabsf(hi);
        const float s = absmax / (float)qmax;
        if (!isfinite(s))
            return qmac_set_error(QMAC_ERR_INVALID_ARG, "range [%g, %g] gives an infinite scale",
                                  (double)rmin, (double)rmax);
        *scale = absmax == 0.0f ? 1.0f : s;
        *zp = 0;
        return QMAC_OK;
    }
    if (lo == hi) { /* the point range {0}: TFLite returns scale 0 */
        *scale = 1.0f;
        *zp = clamp_i32(0.0, qmin, qmax);
        return QMAC_OK;
    }
    const double qmin_d = (double)qmin, qmax_d = (double)qmax;
    const double rmin_d = (double)lo, rmax_d = (double)hi;
    const double s = (rmax_d - rmin_d) / (qmax_d - qmin_d);
    const double zp_from_min = qmin_d - rmin_d / s;
    const double zp_from_max = qmax_d - rmax_d / s;
    const double err_min = fabs(qmin_d) + fabs(rmin_d / s);
    const double err_max = fabs(qmax_d) + fabs(rmax_d / s);
    const double zd = err_min < err_max ? zp_from_min : zp_from_max;
    int32_t z;
    if (zd < qmin_d)
        z = qmin;
    else if (zd > qmax_d)
        z = qmax;
    else
        z = (int32_t)round(zd); /* C round: halfway cases away from zero, like std::round */
    const float sf = (float)s;
    if (!isfinite(sf))
        return qmac_set_error(QMAC_ERR_INVALID_ARG, "scale %g overflows float32", s);
    *scale = sf;
    *zp = z;
    return QMAC_OK;
}

qmac_status qmac_choose_qparams(float rmin, float rmax, int32_t qmin, int32_t qmax, int symmetric,
                                qmac_qparams_rule rule, float *scale, int32_t *zp)
{
    if (isnan(rmin) || isnan(rmax))
        return qmac_set_error(QMAC_ERR_INVALID_ARG, "range [%g, %g] contains NaN", (double)rmin,
                              (double)rmax);
    if (qmin >= qmax)
        return qmac_set_error(QMAC_ERR_INVALID_ARG, "code range [%d, %d] is empty", (int)qmin, (int)qmax);
    switch (rule) {
    case QMAC_QPARAMS_ONNXRT: return qparams_onnxrt(rmin, rmax, qmin, qmax, symmetric, scale, zp);
    case QMAC_QPARAMS_TFLITE: return qparams_tflite(rmin, rmax, qmin, qmax, symmetric, scale, zp);
    }
    return qmac_set_error(QMAC_ERR_INVALID_ARG, "unknown qparams rule %d", (int)rule);
}

qmac_status qmac_choose_qparams_axis(const float *rmin, const float *rmax, int32_t n, int32_t qmin,
                                     int32_t qmax, int symmetric, qmac_qparams_rule rule, float *scale,
                                     int32_t *zp)
{
    if (n < 1)
        return qmac_set_error(QMAC_ERR_INVALID_ARG, "per-channel qparams: %d channels", (int)n);
    for (int32_t c = 0; c < n; ++c) {
        qmac_status st =
            qmac_choose_qparams(rmin[c], rmax[c], qmin, qmax, symmetric, rule, &scale[c], &zp[c]);
        if (st != QMAC_OK) {
            char why[256];
            snprintf(why, sizeof why, "%s", qmac_last_error()); /* the detail buffer is rewritten next */
            return qmac_set_error(st, "channel %d: %s", (int)c, why);
        }
    }
    return QMAC_OK;
}

qmac_status qmac_quantize_symmetric_tflite_s8(const float *w, size_t outer, size_t axis_len, size_t inner,
                                              float *scale, int8_t *q)
{
    const size_t count = outer * axis_len * inner;
    for (size_t i = 0; i < count; ++i)
        if (!isfinite(w[i]))
            return qmac_set_error(QMAC_ERR_INVALID_ARG, "weight %zu is %g", i, (double)w[i]);
    for (size_t a = 0; a < axis_len; ++a) {
        float absmax = 0.0f;
        for (size_t o = 0; o < outer; ++o)
            for (size_t k = 0; k < inner; ++k) {
                const float v = fabsf(w[(o * axis_len + a) * inner + k]);
                if (v > absmax)
                    absmax = v;
            }
        scale[a] = absmax / 127.0f;
        const float inv = absmax == 0.0f ? 0.0f : 127.0f / absmax;
        for (size_t o = 0; o < outer; ++o)
            for (size_t k = 0; k < inner; ++k) {
                const size_t i = (o * axis_len + a) * inner + k;
                volatile float prod = w[i] * inv; /* float32 product, then TfLiteRound */
                float r = roundf(prod);
                if (r > 127.0f)
                    r = 127.0f;
                if (r < -127.0f)
                    r = -127.0f;
                q[i] = (int8_t)r;
            }
    }
    return QMAC_OK;
}
