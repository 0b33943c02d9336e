/* eltwise.c - reference elementwise kernels: TFLite int8 Add/Mul (fixed-point), ONNX Runtime
 * QLinearAdd (float32 with FMA, x86 MLAS order), fused-activation ranges, clamp and concat.
 * The ORT formula was read from onnxruntime/core/mlas/lib/intrinsics/avx2/qladd_avx2.cpp and
 * contrib_ops/cpu/quantization/qlinear_binary_op.cc, and proven bit-exact against onnxruntime
 * 1.23 by tests/oracles/ort_eltwise_pool.py. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "kern_util.h"
#include "qmac/kernels.h"

/* ---------------------------------------------------------------- TFLite Add / Mul */

static int finite_positive(float s)
{
    return isfinite(s) && s > 0.0f;
}

qmac_status qmac_add_tflite_prepare(float a_scale, int32_t a_zp, float b_scale, int32_t b_zp, float y_scale,
                                    int32_t y_zp, int32_t act_min, int32_t act_max, qmac_add_tflite_params *p)
{
    if (!p)
        return qmac_set_error(QMAC_ERR_INVALID_ARG, "add (tflite): params pointer is NULL");
    if (!finite_positive(a_scale) || !finite_positive(b_scale) || !finite_positive(y_scale))
        return qmac_set_error(QMAC_ERR_INVALID_ARG,
                              "add (tflite): scales a %g, b %g, y %g must be finite and > 0", (double)a_scale,
                              (double)b_scale, (double)y_scale);
    if (a_zp < -128 || a_zp > 255 || b_zp < -128 || b_zp > 255 || y_zp < -128 || y_zp > 255)
        return qmac_set_error(QMAC_ERR_INVALID_ARG,
                              "add (tflite): zero points a %d, b %d, y %d must be in [-128, 255]", (int)a_zp,
                              (int)b_zp, (int)y_zp);
    if (act_min > act_max || act_min < -128 || act_max > 255)
        return qmac_set_error(QMAC_ERR_INVALID_ARG, "add (tflite): activation range [%d, %d] is invalid",
                              (int)act_min, (int)act_max);
    /* TFLite PrepareGeneralAdd: all in double, from the float scales */
    const int32_t left_shift = 20;
    const double twice_max = 2.0 * (a_scale > b_scale ? (double)a_scale : (double)b_scale);
    const double real_a = (double)a_scale / twice_max;
    const double real_b = (double)b_scale / twice_max;
    const double real_out = twice_max / ((double)(1 << left_shift) * (double)y_scale);
    if (real_out >= 1.0)
        return qmac_set_error(QMAC_ERR_INVALID_ARG,
                              "add (tflite): output multiplier %g must be < 1 (y_scale %g too small)",
                              real_out, (double)y_scale);
    memset(p, 0, sizeof *p);
    qmac_status st = qmac_quantize_multiplier(real_a, QMAC_REQUANT_TFLITE, &p->a_mult, &p->a_shift);
    if (st == QMAC_OK)
        st = qmac_quantize_multiplier(real_b, QMAC_REQUANT_TFLITE, &p->b_mult, &p->b_shift);
    if (st == QMAC_OK)
        st = qmac_quantize_multiplier(real_out, QMAC_REQUANT_TFLITE, &p->out_mult, &p->out_shift);
    if (st != QMAC_OK)
        return st;
    p->left_shift = left_shift;
    p->a_offset = -a_zp;
    p->b_offset = -b_zp;
    p->out_zp = y_zp;
    p->act_min = act_min;
    p->act_max = act_max;
    return QMAC_OK;
}

/* x * 2^s modulo 2^32 (TFLite multiplies by 1 << left_shift in int32; defined here as a wrap). */
static int32_t shl_wrap(int32_t x, int32_t s)
{
    return qmac_u32_to_i32((uint32_t)x << s);
}

int32_t qmac_add_tflite_one(const qmac_add_tflite_params *p, int32_t a, int32_t b)
{
    const int32_t sa = shl_wrap(a + p->a_offset, p->left_shift);
    const int32_t sb = shl_wrap(b + p->b_offset, p->left_shift);
    const int32_t ra = qmac_mbqm(sa, p->a_mult, p->a_shift);
    const int32_t rb = qmac_mbqm(sb, p->b_mult, p->b_shift);
    const int32_t raw_sum = qmac_u32_to_i32((uint32_t)ra + (uint32_t)rb);
    const int32_t raw_out = qmac_mbqm(raw_sum, p->out_mult, p->out_shift);
    return qmac_clamp_i32((int64_t)raw_out + p->out_zp, p->act_min, p->act_max);
}

int32_t qmac_mul_tflite_one(const qmac_mul_tflite_params *p, int32_t a, int32_t b)
{
    const int64_t prod = ((int64_t)a + p->a_offset) * ((int64_t)b + p->b_offset);
    const int32_t raw = qmac_mbqm(qmac_u32_to_i32((uint32_t)prod), p->out_mult, p->out_shift);
    return qmac_clamp_i32((int64_t)raw + p->out_zp, p->act_min, p->act_max);
}

/* ---------------------------------------------------------------- ONNX Runtime QLinearAdd */

qmac_status qmac_add_onnxrt_prepare(float a_scale, int32_t a_zp, float b_scale, int32_t b_zp, float y_scale,
                                    int32_t y_zp, qmac_dtype y_dt, qmac_add_onnxrt_params *p)
{
    if (!p)
        return qmac_set_error(QMAC_ERR_INVALID_ARG, "add (onnxrt): params pointer is NULL");
    if (!qmac_is_q8(y_dt))
        return qmac_set_error(QMAC_ERR_INVALID_ARG, "add (onnxrt): dtype %s must be int8 or uint8",
                              qmac_dtype_name(y_dt));
    if (!finite_positive(a_scale) || !finite_positive(b_scale) || !finite_positive(y_scale))
        return qmac_set_error(QMAC_ERR_INVALID_ARG,
                              "add (onnxrt): scales a %g, b %g, y %g must be finite and > 0", (double)a_scale,
                              (double)b_scale, (double)y_scale);
    int32_t lo, hi;
    qmac_dtype_range(y_dt, &lo, &hi);
    if (a_zp < lo || a_zp > hi || b_zp < lo || b_zp > hi || y_zp < lo || y_zp > hi)
        return qmac_set_error(QMAC_ERR_INVALID_ARG,
                              "add (onnxrt): zero points a %d, b %d, y %d must be within %s", (int)a_zp,
                              (int)b_zp, (int)y_zp, qmac_dtype_name(y_dt));
    memset(p, 0, sizeof *p);
    p->ratio_a = a_scale / y_scale;
    p->ratio_b = b_scale / y_scale;
    /* MLAS: FixedPart = zC - (rA * zA + rB * zB); the compiler contracts the sum into
     * fma(rA, zA, rB * zB) (GCC, -ffp-contract=fast), which is what the shipped binary computes. */
    const float prod_b = p->ratio_b * (float)b_zp;
    p->bias = (float)y_zp - fmaf(p->ratio_a, (float)a_zp, prod_b);
    p->a_zp = a_zp;
    p->b_zp = b_zp;
    p->y_zp = y_zp;
    p->qmin = lo;
    p->qmax = hi;
    return QMAC_OK;
}

/* cvtps2dq (round half to even, out of range -> INT32_MIN), then the saturating packs. */
static int32_t ort_round_saturate(const qmac_add_onnxrt_params *p, float f)
{
    return qmac_clamp_i32(qmac_x86_f32_to_i32(nearbyintf(f)), p->qmin, p->qmax);
}

int32_t qmac_add_onnxrt_one(const qmac_add_onnxrt_params *p, int32_t a, int32_t b)
{
    /* MLAS AVX2: c = fma(b, rB, FixedPart); c = fma(a, rA, c) */
    const float t = fmaf((float)b, p->ratio_b, p->bias);
    return ort_round_saturate(p, fmaf((float)a, p->ratio_a, t));
}

int32_t qmac_add_onnxrt_one_a_scalar(const qmac_add_onnxrt_params *p, int32_t a, int32_t b)
{
    /* ORT passes (B span, A scalar) to MLAS: the roles of A and B swap in every step. */
    const float prod_a = p->ratio_a * (float)p->a_zp;
    const float bias = (float)p->y_zp - fmaf(p->ratio_b, (float)p->b_zp, prod_a);
    const float t = fmaf((float)a, p->ratio_a, bias);
    return ort_round_saturate(p, fmaf((float)b, p->ratio_b, t));
}

int qmac_add_onnxrt_a_is_scalar(int32_t a_rank, const int64_t *a_shape, int32_t y_rank,
                                const int64_t *y_shape)
{
    int32_t axis = y_rank - 1;
    while (axis >= 0 && y_shape[axis] == 1)
        --axis;
    if (axis < 0)
        return 1; /* one output element: ORT takes the "input 0 is scalar" path */
    const int32_t a_axis = axis - (y_rank - a_rank);
    return a_axis < 0 || a_shape[a_axis] == 1;
}

qmac_status qmac_add_onnxrt_span(const qmac_add_onnxrt_params *p, qmac_dtype dt, const void *a, size_t a_len,
                                 const void *b, size_t b_len, void *y)
{
    if (!p || !a || !b || !y)
        return qmac_set_error(QMAC_ERR_INVALID_ARG, "add (onnxrt): NULL params or buffer");
    int32_t lo = 0, hi = 0;
    if (!qmac_is_q8(dt) || !qmac_dtype_range(dt, &lo, &hi) || lo != p->qmin || hi != p->qmax)
        return qmac_set_error(QMAC_ERR_INVALID_ARG,
                              "add (onnxrt): dtype %s does not match the prepared params",
                              qmac_dtype_name(dt));
    const size_t n = a_len > b_len ? a_len : b_len;
    if (a_len == 0 || b_len == 0 || (a_len != 1 && a_len != n) || (b_len != 1 && b_len != n))
        return qmac_set_error(QMAC_ERR_SHAPE, "add (onnxrt): span lengths %zu and %zu must be equal or 1",
                              a_len, b_len);
    for (size_t i = 0; i < n; ++i) {
        const int32_t av = qmac_load_int(dt, a, a_len == 1 ? 0 : i);
        const int32_t bv = qmac_load_int(dt, b, b_len == 1 ? 0 : i);
        const int32_t q =
            a_len == 1 ? qmac_add_onnxrt_one_a_scalar(p, av, bv) : qmac_add_onnxrt_one(p, av, bv);
        qmac_store_int(dt, y, i, q);
    }
    return QMAC_OK;
}

/* ---------------------------------------------------------------- activations, clamp, concat */

/* zp + round(f / scale) with TfLiteRound (half away from zero), saturated to int32. */
static int64_t tflite_quantize(float f, float scale, int32_t zp)
{
    const float q = roundf(f / scale);
    const float limit = 2147483648.0f;
    const int64_t qi = q >= limit ? INT64_C(2147483648) : (q <= -limit ? -INT64_C(2147483648) : (int64_t)q);
    return qi + zp;
}

qmac_status qmac_activation_range(qmac_activation act, float scale, int32_t zp, qmac_dtype dt, int32_t *lo,
                                  int32_t *hi)
{
    if (!lo || !hi)
        return qmac_set_error(QMAC_ERR_INVALID_ARG, "activation range: NULL output");
    int32_t qmin, qmax;
    if (!qmac_is_qtype(dt) || !qmac_dtype_range(dt, &qmin, &qmax))
        return qmac_set_error(QMAC_ERR_INVALID_ARG, "activation range: dtype %s is not a quantized type",
                              qmac_dtype_name(dt));
    if (!finite_positive(scale))
        return qmac_set_error(QMAC_ERR_INVALID_ARG, "activation range: scale %g must be finite and > 0",
                              (double)scale);
    if (zp < qmin || zp > qmax)
        return qmac_set_error(QMAC_ERR_INVALID_ARG, "activation range: zero point %d is outside %s", (int)zp,
                              qmac_dtype_name(dt));
    int64_t l = qmin, h = qmax;
    switch (act) {
    case QMAC_ACT_NONE: break;
    case QMAC_ACT_RELU: l = zp; break;
    case QMAC_ACT_RELU6:
        l = zp;
        h = tflite_quantize(6.0f, scale, zp);
        break;
    case QMAC_ACT_RELU_N1_TO_1:
        l = tflite_quantize(-1.0f, scale, zp);
        h = tflite_quantize(1.0f, scale, zp);
        break;
    default: return qmac_set_error(QMAC_ERR_INVALID_ARG, "activation range: unknown activation %d", (int)act);
    }
    *lo = qmac_clamp_i32(l, qmin, qmax);
    *hi = qmac_clamp_i32(h, qmin, qmax);
    return QMAC_OK;
}

void qmac_clamp(size_t count, qmac_dtype dt, const void *x, int32_t lo, int32_t hi, void *y)
{
    for (size_t i = 0; i < count; ++i)
        qmac_store_int(dt, y, i, qmac_clamp_i32(qmac_load_int(dt, x, i), lo, hi));
}

void qmac_concat(int32_t n, const void *const *inputs, const int32_t *len, size_t outer, size_t inner,
                 size_t elem_size, void *y)
{
    unsigned char *dst = y;
    for (size_t o = 0; o < outer; ++o)
        for (int32_t i = 0; i < n; ++i) {
            const size_t row = (size_t)len[i] * inner * elem_size; /* bytes of input i per outer step */
            memcpy(dst, (const unsigned char *)inputs[i] + o * row, row);
            dst += row;
        }
}
