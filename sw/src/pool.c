/* pool.c - reference pooling: max pool, TFLite integer average pool, and ONNX Runtime's
 * QLinearAveragePool / QLinearGlobalAveragePool in ORT's exact float32 operation order (x86).
 * The ORT formulas were read from onnxruntime/contrib_ops/cpu/quantization/qlinear_pool.cc and
 * core/mlas/lib/qlgavgpool.cpp and proven bit-exact against onnxruntime 1.23 by
 * tests/oracles/ort_eltwise_pool.py. */
#include <math.h>
#include <stdint.h>

#include "kern_util.h"
#include "qmac/kernels.h"

/* In-image taps of one window along one axis: the taps i in [0, k) with 0 <= base + i*dil < in
 * are consecutive; *first receives the first one. Returns their count (0 when the window lies
 * entirely in the padding). int64 arithmetic: no overflow for any int32 geometry. */
static int32_t window_taps(int64_t base, int32_t k, int32_t dil, int32_t in, int32_t *first)
{
    const int64_t lo = base >= 0 ? 0 : (-base + dil - 1) / dil;
    const int64_t last_pos = (int64_t)in - 1 - base;
    int64_t hi = last_pos < 0 ? -1 : last_pos / dil;
    if (hi > (int64_t)k - 1)
        hi = (int64_t)k - 1;
    *first = (int32_t)(lo < k ? lo : k);
    return hi >= lo ? (int32_t)(hi - lo + 1) : 0;
}

qmac_status qmac_pool_check(const qmac_pool_params *p, const qmac_dims *x_dims, const qmac_dims *y_dims)
{
    if (!p)
        return qmac_set_error(QMAC_ERR_INVALID_ARG, "pool: params pointer is NULL");
    qmac_status st;
    if ((st = qmac_dims_check(x_dims, "pool input")) != QMAC_OK ||
        (st = qmac_dims_check(y_dims, "pool output")) != QMAC_OK)
        return st;
    if (p->k_h < 1 || p->k_w < 1)
        return qmac_set_error(QMAC_ERR_INVALID_ARG, "pool: kernel %dx%d must be >= 1", (int)p->k_h,
                              (int)p->k_w);
    if (p->stride_h < 1 || p->stride_w < 1)
        return qmac_set_error(QMAC_ERR_INVALID_ARG, "pool: stride (%d, %d) must be >= 1", (int)p->stride_h,
                              (int)p->stride_w);
    if (p->dil_h < 1 || p->dil_w < 1)
        return qmac_set_error(QMAC_ERR_INVALID_ARG, "pool: dilation (%d, %d) must be >= 1", (int)p->dil_h,
                              (int)p->dil_w);
    if (p->pad_top < 0 || p->pad_left < 0 || p->pad_bottom < 0 || p->pad_right < 0)
        return qmac_set_error(QMAC_ERR_INVALID_ARG, "pool: pads (t %d, l %d, b %d, r %d) must be >= 0",
                              (int)p->pad_top, (int)p->pad_left, (int)p->pad_bottom, (int)p->pad_right);
    if (y_dims->n != x_dims->n || y_dims->c != x_dims->c)
        return qmac_set_error(QMAC_ERR_SHAPE, "pool: output dims [%d, ., ., %d] must keep N = %d and C = %d",
                              (int)y_dims->n, (int)y_dims->c, (int)x_dims->n, (int)x_dims->c);
    const int32_t fh =
        qmac_conv_out_size(x_dims->h, p->k_h, p->stride_h, p->dil_h, p->pad_top, p->pad_bottom, 0);
    const int32_t ch =
        qmac_conv_out_size(x_dims->h, p->k_h, p->stride_h, p->dil_h, p->pad_top, p->pad_bottom, 1);
    const int32_t fw =
        qmac_conv_out_size(x_dims->w, p->k_w, p->stride_w, p->dil_w, p->pad_left, p->pad_right, 0);
    const int32_t cw =
        qmac_conv_out_size(x_dims->w, p->k_w, p->stride_w, p->dil_w, p->pad_left, p->pad_right, 1);
    if (fh < 1 || fw < 1)
        return qmac_set_error(QMAC_ERR_SHAPE, "pool: a %dx%d window does not fit the padded %dx%d input",
                              (int)p->k_h, (int)p->k_w, (int)x_dims->h, (int)x_dims->w);
    if ((y_dims->h != fh && y_dims->h != ch) || (y_dims->w != fw && y_dims->w != cw))
        return qmac_set_error(QMAC_ERR_SHAPE,
                              "pool: output %dx%d should be %dx%d (floor) or %dx%d (ceil mode)",
                              (int)y_dims->h, (int)y_dims->w, (int)fh, (int)fw, (int)ch, (int)cw);
    int32_t first;
    for (int32_t o = 0; o < y_dims->h; ++o)
        if (!window_taps((int64_t)o * p->stride_h - p->pad_top, p->k_h, p->dil_h, x_dims->h, &first))
            return qmac_set_error(QMAC_ERR_SHAPE,
                                  "pool: window of output row %d lies entirely in the padding", (int)o);
    for (int32_t o = 0; o < y_dims->w; ++o)
        if (!window_taps((int64_t)o * p->stride_w - p->pad_left, p->k_w, p->dil_w, x_dims->w, &first))
            return qmac_set_error(QMAC_ERR_SHAPE,
                                  "pool: window of output column %d lies entirely in the padding", (int)o);
    return QMAC_OK;
}

/* dtype, buffers and activation range of the TFLite-style pools (x and y share quantization). */
static qmac_status check_int_pool(qmac_dtype dt, const void *x, const void *y, int32_t act_min,
                                  int32_t act_max, const char *what)
{
    if (!x || !y)
        return qmac_set_error(QMAC_ERR_INVALID_ARG, "%s: input or output buffer is NULL", what);
    if (!qmac_is_qtype(dt))
        return qmac_set_error(QMAC_ERR_INVALID_ARG, "%s: dtype %s is not int8/uint8/int16/uint16", what,
                              qmac_dtype_name(dt));
    int32_t lo, hi;
    qmac_dtype_range(dt, &lo, &hi);
    if (act_min < lo || act_max > hi || act_min > act_max)
        return qmac_set_error(QMAC_ERR_INVALID_ARG, "%s: activation range [%d, %d] is not within %s [%d, %d]",
                              what, (int)act_min, (int)act_max, qmac_dtype_name(dt), (int)lo, (int)hi);
    return QMAC_OK;
}

qmac_status qmac_maxpool(const qmac_pool_params *p, const qmac_dims *x_dims, qmac_dtype dt, const void *x,
                         const qmac_dims *y_dims, int32_t act_min, int32_t act_max, void *y)
{
    qmac_status st = qmac_pool_check(p, x_dims, y_dims);
    if (st == QMAC_OK)
        st = check_int_pool(dt, x, y, act_min, act_max, "maxpool");
    if (st != QMAC_OK)
        return st;
    for (int32_t n = 0; n < y_dims->n; ++n)
        for (int32_t oy = 0; oy < y_dims->h; ++oy)
            for (int32_t ox = 0; ox < y_dims->w; ++ox)
                for (int32_t c = 0; c < y_dims->c; ++c) {
                    const int64_t by = (int64_t)oy * p->stride_h - p->pad_top;
                    const int64_t bx = (int64_t)ox * p->stride_w - p->pad_left;
                    int32_t fy, fx;
                    const int32_t ny = window_taps(by, p->k_h, p->dil_h, x_dims->h, &fy);
                    const int32_t nx = window_taps(bx, p->k_w, p->dil_w, x_dims->w, &fx);
                    int32_t best = INT32_MIN; /* the check guarantees at least one in-image tap */
                    /* only in-image taps are visited: padded taps never win */
                    for (int32_t ky = fy; ky < fy + ny; ++ky) {
                        const int32_t iy = (int32_t)(by + (int64_t)ky * p->dil_h);
                        for (int32_t kx = fx; kx < fx + nx; ++kx) {
                            const int32_t ix = (int32_t)(bx + (int64_t)kx * p->dil_w);
                            const int32_t v = qmac_load_int(dt, x, qmac_nhwc_index(x_dims, n, iy, ix, c));
                            if (v > best)
                                best = v;
                        }
                    }
                    qmac_store_int(dt, y, qmac_nhwc_index(y_dims, n, oy, ox, c),
                                   qmac_clamp_i32(best, act_min, act_max));
                }
    return QMAC_OK;
}

qmac_status qmac_avgpool_tflite(const qmac_pool_params *p, const qmac_dims *x_dims, qmac_dtype dt,
                                const void *x, const qmac_dims *y_dims, int32_t act_min, int32_t act_max,
                                void *y)
{
    qmac_status st = qmac_pool_check(p, x_dims, y_dims);
    if (st == QMAC_OK)
        st = check_int_pool(dt, x, y, act_min, act_max, "avgpool");
    if (st != QMAC_OK)
        return st;
    for (int32_t n = 0; n < y_dims->n; ++n)
        for (int32_t oy = 0; oy < y_dims->h; ++oy)
            for (int32_t ox = 0; ox < y_dims->w; ++ox)
                for (int32_t c = 0; c < y_dims->c; ++c) {
                    const int64_t by = (int64_t)oy * p->stride_h - p->pad_top;
                    const int64_t bx = (int64_t)ox * p->stride_w - p->pad_left;
                    int32_t fy, fx;
                    const int32_t ny = window_taps(by, p->k_h, p->dil_h, x_dims->h, &fy);
                    const int32_t nx = window_taps(bx, p->k_w, p->dil_w, x_dims->w, &fx);
                    int64_t sum = 0; /* < 2^40 taps of |v| <= 2^16: no overflow */
                    /* only in-image taps: padded taps are neither summed nor counted */
                    for (int32_t ky = fy; ky < fy + ny; ++ky) {
                        const int32_t iy = (int32_t)(by + (int64_t)ky * p->dil_h);
                        for (int32_t kx = fx; kx < fx + nx; ++kx) {
                            const int32_t ix = (int32_t)(bx + (int64_t)kx * p->dil_w);
                            sum += qmac_load_int(dt, x, qmac_nhwc_index(x_dims, n, iy, ix, c));
                        }
                    }
                    const int64_t count = (int64_t)ny * nx;
                    /* TFLite: rounding half away from zero by C's truncating division */
                    const int64_t avg = sum > 0 ? (sum + count / 2) / count : (sum - count / 2) / count;
                    qmac_store_int(dt, y, qmac_nhwc_index(y_dims, n, oy, ox, c),
                                   qmac_clamp_i32(avg, act_min, act_max));
                }
    return QMAC_OK;
}

qmac_status qmac_global_avgpool_tflite(const qmac_dims *x_dims, qmac_dtype dt, const void *x, int32_t act_min,
                                       int32_t act_max, void *y)
{
    qmac_status st = qmac_dims_check(x_dims, "global avgpool input");
    if (st != QMAC_OK)
        return st;
    const qmac_pool_params p = {x_dims->h, x_dims->w, 1, 1, 1, 1, 0, 0, 0, 0};
    const qmac_dims y_dims = {x_dims->n, 1, 1, x_dims->c};
    return qmac_avgpool_tflite(&p, x_dims, dt, x, &y_dims, act_min, act_max, y);
}

/* Scales, zero points and dtype of the ORT pools. */
static qmac_status check_ort_quant(qmac_dtype dt, const void *x, const void *y, float x_scale, int32_t x_zp,
                                   float y_scale, int32_t y_zp, const char *what)
{
    if (!x || !y)
        return qmac_set_error(QMAC_ERR_INVALID_ARG, "%s: input or output buffer is NULL", what);
    if (!qmac_is_q8(dt))
        return qmac_set_error(QMAC_ERR_INVALID_ARG, "%s: dtype %s must be int8 or uint8", what,
                              qmac_dtype_name(dt));
    if (!(isfinite(x_scale) && x_scale > 0.0f) || !(isfinite(y_scale) && y_scale > 0.0f))
        return qmac_set_error(QMAC_ERR_INVALID_ARG, "%s: scales x %g, y %g must be finite and > 0", what,
                              (double)x_scale, (double)y_scale);
    int32_t lo, hi;
    qmac_dtype_range(dt, &lo, &hi);
    if (x_zp < lo || x_zp > hi || y_zp < lo || y_zp > hi)
        return qmac_set_error(QMAC_ERR_INVALID_ARG, "%s: zero points x %d, y %d must be within %s [%d, %d]",
                              what, (int)x_zp, (int)y_zp, qmac_dtype_name(dt), (int)lo, (int)hi);
    return QMAC_OK;
}

qmac_status qmac_global_avgpool_onnxrt(const qmac_dims *x_dims, qmac_dtype dt, const void *x, float x_scale,
                                       int32_t x_zp, float y_scale, int32_t y_zp, void *y)
{
    qmac_status st = qmac_dims_check(x_dims, "global avgpool input");
    if (st == QMAC_OK)
        st = check_ort_quant(dt, x, y, x_scale, x_zp, y_scale, y_zp, "global avgpool");
    if (st != QMAC_OK)
        return st;
    const int64_t image = (int64_t)x_dims->h * x_dims->w;
    if (image >= ((int64_t)1 << 24))
        return qmac_set_error(QMAC_ERR_INVALID_ARG,
                              "global avgpool: H*W = %lld must be < 2^24 (ONNX Runtime's computation range)",
                              (long long)image);
    /* MLAS: scale = ScaleInput / (ScaleOutput * (float)ImageSize), float32, this order */
    const float denom = y_scale * (float)image;
    const float scale = x_scale / denom;
    if (!(scale >= 0x1.0p-32f && scale < 256.0f))
        return qmac_set_error(QMAC_ERR_INVALID_ARG,
                              "global avgpool: x_scale / (y_scale * H*W) = %g must be in [2^-32, 256) "
                              "(ONNX Runtime's computation range)",
                              (double)scale);
    int32_t qmin, qmax;
    qmac_dtype_range(dt, &qmin, &qmax);
    /* MLAS: int32 sum of the raw values plus the bias -x_zp * ImageSize, both modulo 2^32 */
    const uint32_t bias = 0u - (uint32_t)((int64_t)x_zp * image);
    for (int32_t n = 0; n < x_dims->n; ++n)
        for (int32_t c = 0; c < x_dims->c; ++c) {
            uint32_t sum = bias;
            for (int32_t h = 0; h < x_dims->h; ++h)
                for (int32_t w = 0; w < x_dims->w; ++w)
                    sum += (uint32_t)qmac_load_int(dt, x, qmac_nhwc_index(x_dims, n, h, w, c));
            /* MlasRequantizeOutput: (float)acc * scale, clamp to [qmin - zp, qmax - zp], RNE, + zp */
            const int32_t q = qmac_requant_float(qmac_u32_to_i32(sum), scale, y_zp, qmin, qmax);
            qmac_store_int(dt, y, (size_t)n * (size_t)x_dims->c + (size_t)c, q);
        }
    return QMAC_OK;
}

qmac_status qmac_avgpool_onnxrt(const qmac_pool_params *p, int count_include_pad, const qmac_dims *x_dims,
                                qmac_dtype dt, const void *x, float x_scale, int32_t x_zp,
                                const qmac_dims *y_dims, float y_scale, int32_t y_zp, void *y)
{
    qmac_status st = qmac_pool_check(p, x_dims, y_dims);
    if (st == QMAC_OK)
        st = check_ort_quant(dt, x, y, x_scale, x_zp, y_scale, y_zp, "avgpool");
    if (st != QMAC_OK)
        return st;
    if (p->dil_h != 1 || p->dil_w != 1)
        return qmac_set_error(QMAC_ERR_UNSUPPORTED,
                              "avgpool (onnxrt): QLinearAveragePool has no dilation, got (%d, %d)",
                              (int)p->dil_h, (int)p->dil_w);
    if (p->pad_top >= p->k_h || p->pad_bottom >= p->k_h || p->pad_left >= p->k_w || p->pad_right >= p->k_w)
        return qmac_set_error(QMAC_ERR_INVALID_ARG,
                              "avgpool (onnxrt): pads (t %d, l %d, b %d, r %d) must be smaller "
                              "than the %dx%d kernel (ONNX Runtime rejects them)",
                              (int)p->pad_top, (int)p->pad_left, (int)p->pad_bottom, (int)p->pad_right,
                              (int)p->k_h, (int)p->k_w);
    /* ORT falls back to QLinearGlobalAveragePool (integer sum) when the kernel covers the image and
     * there is no padding. */
    if (p->k_h == x_dims->h && p->k_w == x_dims->w && p->pad_top == 0 && p->pad_left == 0 &&
        p->pad_bottom == 0 && p->pad_right == 0)
        return qmac_global_avgpool_onnxrt(x_dims, dt, x, x_scale, x_zp, y_scale, y_zp, y);

    int32_t qmin, qmax;
    qmac_dtype_range(dt, &qmin, &qmax);
    for (int32_t n = 0; n < y_dims->n; ++n)
        for (int32_t oy = 0; oy < y_dims->h; ++oy) {
            /* ORT clips the window to the image, not to the padded image */
            int64_t h0 = (int64_t)oy * p->stride_h - p->pad_top;
            const int64_t h1 = h0 + p->k_h < x_dims->h ? h0 + p->k_h : x_dims->h;
            h0 = h0 > 0 ? h0 : 0;
            for (int32_t ox = 0; ox < y_dims->w; ++ox) {
                int64_t w0 = (int64_t)ox * p->stride_w - p->pad_left;
                const int64_t w1 = w0 + p->k_w < x_dims->w ? w0 + p->k_w : x_dims->w;
                w0 = w0 > 0 ? w0 : 0;
                const int64_t count = count_include_pad ? (int64_t)p->k_h * p->k_w : (h1 - h0) * (w1 - w0);
                for (int32_t c = 0; c < y_dims->c; ++c) {
                    /* dequantize each tap (x_scale * (x - zp)), sum in float32 row by row */
                    float sum = 0.0f;
                    for (int32_t ih = (int32_t)h0; ih < h1; ++ih)
                        for (int32_t iw = (int32_t)w0; iw < w1; ++iw) {
                            const int32_t v = qmac_load_int(dt, x, qmac_nhwc_index(x_dims, n, ih, iw, c));
                            const float deq = x_scale * (float)(v - x_zp);
                            sum = sum + deq; /* separate statements: no contraction into an FMA */
                        }
                    const float avg = sum / (float)count;
                    const float t = avg / y_scale;
                    const float r = nearbyintf(t + (float)y_zp); /* round half to even */
                    qmac_store_int(dt, y, qmac_nhwc_index(y_dims, n, oy, ox, c),
                                   qmac_clamp_i32(qmac_x86_f32_to_i32(r), qmin, qmax));
                }
            }
        }
    return QMAC_OK;
}
