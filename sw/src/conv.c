/* conv.c - reference convolutions: output-size and SAME-padding arithmetic, the Prepare-style
 * check, integer convolution (grouped, dilated), TFLite depthwise, and the requantized conv.
 * Written for clarity: these loops are the oracle the fast paths and the RTL are checked against. */
#include <stdint.h>

#include "kern_util.h"
#include "qmac/kernels.h"

qmac_status qmac_dims_check(const qmac_dims *d, const char *name)
{
    if (!d)
        return qmac_set_error(QMAC_ERR_INVALID_ARG, "%s: dims pointer is NULL", name);
    if (d->n < 1 || d->h < 1 || d->w < 1 || d->c < 1)
        return qmac_set_error(QMAC_ERR_SHAPE, "%s: dims [%d, %d, %d, %d] must all be >= 1", name, (int)d->n,
                              (int)d->h, (int)d->w, (int)d->c);
    const uint64_t limit = (uint64_t)1 << 40;
    uint64_t count = (uint64_t)d->n;
    const int32_t rest[3] = {d->h, d->w, d->c};
    for (int i = 0; i < 3; ++i) {
        count *= (uint64_t)rest[i]; /* both factors < 2^40 and < 2^31: no uint64 overflow */
        if (count >= limit)
            return qmac_set_error(QMAC_ERR_SHAPE, "%s: dims [%d, %d, %d, %d] hold too many elements", name,
                                  (int)d->n, (int)d->h, (int)d->w, (int)d->c);
    }
    return QMAC_OK;
}

int32_t qmac_conv_out_size(int32_t in, int32_t k, int32_t stride, int32_t dil, int32_t pad_before,
                           int32_t pad_after, int ceil_mode)
{
    if (in < 1 || k < 1 || stride < 1 || dil < 1 || pad_before < 0 || pad_after < 0)
        return 0;
    const int64_t eff_k = (int64_t)(k - 1) * dil + 1;
    const int64_t span = (int64_t)in + pad_before + pad_after - eff_k; /* last valid window start */
    if (span < 0)
        return 0;
    int64_t out = (ceil_mode ? (span + stride - 1) / stride : span / stride) + 1;
    /* Ceil mode (pooling): a last window that would start inside the trailing padding is dropped,
     * as ONNX Runtime (>= 1.17) and PyTorch do (onnx/onnx#5711). */
    if (ceil_mode && (out - 1) * stride >= (int64_t)in + pad_before)
        --out;
    return out > INT32_MAX ? INT32_MAX : (int32_t)out;
}

void qmac_same_padding(int32_t in, int32_t k, int32_t stride, int32_t dil, int lower, int32_t *before,
                       int32_t *after, int32_t *out)
{
    if (in < 1 || k < 1 || stride < 1 || dil < 1) {
        *before = *after = *out = 0;
        return;
    }
    const int64_t o = ((int64_t)in + stride - 1) / stride;
    int64_t total = (o - 1) * stride + (int64_t)(k - 1) * dil + 1 - in;
    if (total < 0)
        total = 0;
    const int64_t b = lower ? (total + 1) / 2 : total / 2; /* the odd pixel goes after (upper) or before */
    *before = (int32_t)b;
    *after = (int32_t)(total - b);
    *out = (int32_t)o;
}

/* Checks shared by conv2d and depthwise: strides, dilations, pads and output spatial size. */
static qmac_status check_window(const qmac_conv_params *p, const qmac_dims *x_dims, int32_t kh, int32_t kw,
                                const qmac_dims *y_dims)
{
    if (p->stride_h < 1 || p->stride_w < 1)
        return qmac_set_error(QMAC_ERR_INVALID_ARG, "conv: stride (%d, %d) must be >= 1", (int)p->stride_h,
                              (int)p->stride_w);
    if (p->dil_h < 1 || p->dil_w < 1)
        return qmac_set_error(QMAC_ERR_INVALID_ARG, "conv: dilation (%d, %d) must be >= 1", (int)p->dil_h,
                              (int)p->dil_w);
    if (p->pad_top < 0 || p->pad_left < 0 || p->pad_bottom < 0 || p->pad_right < 0)
        return qmac_set_error(QMAC_ERR_INVALID_ARG, "conv: pads (t %d, l %d, b %d, r %d) must be >= 0",
                              (int)p->pad_top, (int)p->pad_left, (int)p->pad_bottom, (int)p->pad_right);
    const int32_t oh = qmac_conv_out_size(x_dims->h, kh, p->stride_h, p->dil_h, p->pad_top, p->pad_bottom, 0);
    const int32_t ow = qmac_conv_out_size(x_dims->w, kw, p->stride_w, p->dil_w, p->pad_left, p->pad_right, 0);
    if (oh < 1 || ow < 1)
        return qmac_set_error(QMAC_ERR_SHAPE,
                              "conv: a %dx%d kernel (dilation %d, %d) does not fit the padded %dx%d input",
                              (int)kh, (int)kw, (int)p->dil_h, (int)p->dil_w, (int)x_dims->h, (int)x_dims->w);
    if (y_dims->n != x_dims->n || y_dims->h != oh || y_dims->w != ow)
        return qmac_set_error(QMAC_ERR_SHAPE, "conv: output dims [%d, %d, %d, c] should be [%d, %d, %d, c]",
                              (int)y_dims->n, (int)y_dims->h, (int)y_dims->w, (int)x_dims->n, (int)oh,
                              (int)ow);
    return QMAC_OK;
}

qmac_status qmac_conv2d_check(const qmac_conv_params *p, const qmac_dims *x_dims, const qmac_dims *w_dims,
                              const qmac_dims *y_dims)
{
    if (!p)
        return qmac_set_error(QMAC_ERR_INVALID_ARG, "conv: params pointer is NULL");
    qmac_status st;
    if ((st = qmac_dims_check(x_dims, "conv input")) != QMAC_OK ||
        (st = qmac_dims_check(w_dims, "conv weights")) != QMAC_OK ||
        (st = qmac_dims_check(y_dims, "conv output")) != QMAC_OK)
        return st;
    if (p->groups < 1)
        return qmac_set_error(QMAC_ERR_INVALID_ARG, "conv: groups %d must be >= 1", (int)p->groups);
    if (x_dims->c % p->groups != 0 || w_dims->n % p->groups != 0)
        return qmac_set_error(QMAC_ERR_SHAPE, "conv: groups %d must divide Cin %d and Cout %d",
                              (int)p->groups, (int)x_dims->c, (int)w_dims->n);
    if (w_dims->c != x_dims->c / p->groups)
        return qmac_set_error(QMAC_ERR_SHAPE,
                              "conv: weights have %d input channels, expected Cin/groups = %d",
                              (int)w_dims->c, (int)(x_dims->c / p->groups));
    if (y_dims->c != w_dims->n)
        return qmac_set_error(QMAC_ERR_SHAPE, "conv: output has %d channels, weights have Cout = %d",
                              (int)y_dims->c, (int)w_dims->n);
    return check_window(p, x_dims, w_dims->h, w_dims->w, y_dims);
}

/* Validate a quantized buffer: dtype readable by the accumulate kernels, data present, zero points
 * within the dtype's range (n_zp entries when per-channel; per-channel not allowed if n_zp == 0). */
static qmac_status check_qbuf(const qmac_qbuf *q, const char *name, int32_t n_zp)
{
    if (!q || !q->data)
        return qmac_set_error(QMAC_ERR_INVALID_ARG, "%s: buffer is NULL", name);
    if (!qmac_is_qtype(q->dtype))
        return qmac_set_error(QMAC_ERR_INVALID_ARG, "%s: dtype %s is not int8/uint8/int16/uint16", name,
                              qmac_dtype_name(q->dtype));
    int32_t lo, hi;
    qmac_dtype_range(q->dtype, &lo, &hi);
    if (q->zp_ch) {
        if (n_zp == 0)
            return qmac_set_error(QMAC_ERR_INVALID_ARG, "%s: per-channel zero points are not supported here",
                                  name);
        for (int32_t i = 0; i < n_zp; ++i)
            if (q->zp_ch[i] < lo || q->zp_ch[i] > hi)
                return qmac_set_error(QMAC_ERR_INVALID_ARG, "%s: zero point [%d] = %d is outside [%d, %d]",
                                      name, (int)i, (int)q->zp_ch[i], (int)lo, (int)hi);
    } else if (q->zp < lo || q->zp > hi) {
        return qmac_set_error(QMAC_ERR_INVALID_ARG, "%s: zero point %d is outside [%d, %d]", name, (int)q->zp,
                              (int)lo, (int)hi);
    }
    return QMAC_OK;
}

static int32_t zp_of(const qmac_qbuf *q, int32_t ch)
{
    return q->zp_ch ? q->zp_ch[ch] : q->zp;
}

qmac_status qmac_conv2d_acc(const qmac_conv_params *p, const qmac_dims *x_dims, const qmac_qbuf *x,
                            const qmac_dims *w_dims, const qmac_qbuf *w, const int32_t *bias,
                            const qmac_dims *y_dims, int32_t *acc)
{
    qmac_status st = qmac_conv2d_check(p, x_dims, w_dims, y_dims);
    if (st != QMAC_OK)
        return st;
    if ((st = check_qbuf(x, "conv input", 0)) != QMAC_OK ||
        (st = check_qbuf(w, "conv weights", w_dims->n)) != QMAC_OK)
        return st;
    if (!acc)
        return qmac_set_error(QMAC_ERR_INVALID_ARG, "conv: output buffer is NULL");

    const int32_t cout = w_dims->n, cin_g = w_dims->c, cout_g = cout / p->groups;
    for (int32_t n = 0; n < y_dims->n; ++n)
        for (int32_t oy = 0; oy < y_dims->h; ++oy)
            for (int32_t ox = 0; ox < y_dims->w; ++ox)
                for (int32_t oc = 0; oc < cout; ++oc) {
                    const int32_t g = oc / cout_g;
                    const int32_t wzp = zp_of(w, oc);
                    uint32_t sum = bias ? (uint32_t)bias[oc] : 0u;
                    for (int32_t ky = 0; ky < w_dims->h; ++ky) {
                        const int64_t iy = (int64_t)oy * p->stride_h - p->pad_top + (int64_t)ky * p->dil_h;
                        if (iy < 0 || iy >= x_dims->h)
                            continue; /* padded tap: (zp - zp) * w = 0 */
                        for (int32_t kx = 0; kx < w_dims->w; ++kx) {
                            const int64_t ix =
                                (int64_t)ox * p->stride_w - p->pad_left + (int64_t)kx * p->dil_w;
                            if (ix < 0 || ix >= x_dims->w)
                                continue;
                            for (int32_t ic = 0; ic < cin_g; ++ic) {
                                const int32_t xv = qmac_load_int(
                                    x->dtype, x->data,
                                    qmac_nhwc_index(x_dims, n, (int32_t)iy, (int32_t)ix, g * cin_g + ic));
                                const int32_t wv =
                                    qmac_load_int(w->dtype, w->data, qmac_nhwc_index(w_dims, oc, ky, kx, ic));
                                sum = qmac_mac_u32(sum, xv - x->zp, wv - wzp);
                            }
                        }
                    }
                    acc[qmac_nhwc_index(y_dims, n, oy, ox, oc)] = qmac_u32_to_i32(sum);
                }
    return QMAC_OK;
}

qmac_status qmac_depthwise_conv2d_check(const qmac_conv_params *p, const qmac_dims *x_dims,
                                        const qmac_dims *w_dims, int32_t depth_mult, const qmac_dims *y_dims)
{
    if (!p)
        return qmac_set_error(QMAC_ERR_INVALID_ARG, "depthwise: params pointer is NULL");
    qmac_status st;
    if ((st = qmac_dims_check(x_dims, "depthwise input")) != QMAC_OK ||
        (st = qmac_dims_check(w_dims, "depthwise weights")) != QMAC_OK ||
        (st = qmac_dims_check(y_dims, "depthwise output")) != QMAC_OK)
        return st;
    if (depth_mult < 1)
        return qmac_set_error(QMAC_ERR_INVALID_ARG, "depthwise: depth multiplier %d must be >= 1",
                              (int)depth_mult);
    if (w_dims->n != 1)
        return qmac_set_error(QMAC_ERR_SHAPE, "depthwise: filter dims must be [1, KH, KW, Cout], got n = %d",
                              (int)w_dims->n);
    if ((int64_t)w_dims->c != (int64_t)x_dims->c * depth_mult)
        return qmac_set_error(QMAC_ERR_SHAPE,
                              "depthwise: filter has %d channels, expected Cin %d x multiplier %d",
                              (int)w_dims->c, (int)x_dims->c, (int)depth_mult);
    if (y_dims->c != w_dims->c)
        return qmac_set_error(QMAC_ERR_SHAPE, "depthwise: output has %d channels, filter has %d",
                              (int)y_dims->c, (int)w_dims->c);
    return check_window(p, x_dims, w_dims->h, w_dims->w, y_dims);
}

qmac_status qmac_depthwise_conv2d_acc(const qmac_conv_params *p, const qmac_dims *x_dims, const qmac_qbuf *x,
                                      const qmac_dims *w_dims, const qmac_qbuf *w, int32_t depth_mult,
                                      const int32_t *bias, const qmac_dims *y_dims, int32_t *acc)
{
    qmac_status st = qmac_depthwise_conv2d_check(p, x_dims, w_dims, depth_mult, y_dims);
    if (st != QMAC_OK)
        return st;
    if ((st = check_qbuf(x, "depthwise input", 0)) != QMAC_OK ||
        (st = check_qbuf(w, "depthwise weights", w_dims->c)) != QMAC_OK)
        return st;
    if (!acc)
        return qmac_set_error(QMAC_ERR_INVALID_ARG, "depthwise: output buffer is NULL");

    for (int32_t n = 0; n < y_dims->n; ++n)
        for (int32_t oy = 0; oy < y_dims->h; ++oy)
            for (int32_t ox = 0; ox < y_dims->w; ++ox)
                for (int32_t oc = 0; oc < y_dims->c; ++oc) {
                    const int32_t ic = oc / depth_mult; /* oc = ic * depth_mult + m */
                    const int32_t wzp = zp_of(w, oc);
                    uint32_t sum = bias ? (uint32_t)bias[oc] : 0u;
                    for (int32_t ky = 0; ky < w_dims->h; ++ky) {
                        const int64_t iy = (int64_t)oy * p->stride_h - p->pad_top + (int64_t)ky * p->dil_h;
                        if (iy < 0 || iy >= x_dims->h)
                            continue;
                        for (int32_t kx = 0; kx < w_dims->w; ++kx) {
                            const int64_t ix =
                                (int64_t)ox * p->stride_w - p->pad_left + (int64_t)kx * p->dil_w;
                            if (ix < 0 || ix >= x_dims->w)
                                continue;
                            const int32_t xv = qmac_load_int(
                                x->dtype, x->data, qmac_nhwc_index(x_dims, n, (int32_t)iy, (int32_t)ix, ic));
                            const int32_t wv =
                                qmac_load_int(w->dtype, w->data, qmac_nhwc_index(w_dims, 0, ky, kx, oc));
                            sum = qmac_mac_u32(sum, xv - x->zp, wv - wzp);
                        }
                    }
                    acc[qmac_nhwc_index(y_dims, n, oy, ox, oc)] = qmac_u32_to_i32(sum);
                }
    return QMAC_OK;
}

qmac_status qmac_requant_check(const qmac_requant *rq, int32_t n_ch, qmac_dtype y_dt, const char *what)
{
    if (!rq)
        return qmac_set_error(QMAC_ERR_INVALID_ARG, "%s: requantization is NULL", what);
    if (!qmac_is_q8(y_dt))
        return qmac_set_error(QMAC_ERR_INVALID_ARG, "%s: output dtype %s must be int8 or uint8", what,
                              qmac_dtype_name(y_dt));
    if (rq->n_ch != 1 && rq->n_ch != n_ch)
        return qmac_set_error(QMAC_ERR_SHAPE, "%s: requantization has %d channels, expected 1 or %d", what,
                              (int)rq->n_ch, (int)n_ch);
    int32_t lo, hi;
    qmac_dtype_range(y_dt, &lo, &hi);
    if (rq->act_min < lo || rq->act_max > hi || rq->act_min > rq->act_max)
        return qmac_set_error(QMAC_ERR_INVALID_ARG, "%s: activation range [%d, %d] is not within %s [%d, %d]",
                              what, (int)rq->act_min, (int)rq->act_max, qmac_dtype_name(y_dt), (int)lo,
                              (int)hi);
    if (rq->rule == QMAC_REQUANT_ONNXRT) {
        if (!rq->scale)
            return qmac_set_error(QMAC_ERR_INVALID_ARG, "%s: rule onnxrt needs the scale array", what);
    } else if (rq->rule == QMAC_REQUANT_TFLITE || rq->rule == QMAC_REQUANT_SINGLE) {
        if (!rq->multiplier || !rq->shift)
            return qmac_set_error(QMAC_ERR_INVALID_ARG, "%s: rule %s needs multiplier and shift arrays", what,
                                  qmac_requant_rule_name(rq->rule));
        for (int32_t c = 0; c < rq->n_ch; ++c) {
            const int32_t lo_s = -31, hi_s = rq->rule == QMAC_REQUANT_SINGLE ? 30 : 31;
            if (rq->shift[c] < lo_s || rq->shift[c] > hi_s || rq->multiplier[c] < 0)
                return qmac_set_error(QMAC_ERR_INVALID_ARG,
                                      "%s: channel %d multiplier %d / shift %d out of range", what, (int)c,
                                      (int)rq->multiplier[c], (int)rq->shift[c]);
        }
    } else {
        return qmac_set_error(QMAC_ERR_INVALID_ARG, "%s: unknown requantization rule %d", what,
                              (int)rq->rule);
    }
    return QMAC_OK;
}

qmac_status qmac_conv2d_q(const qmac_conv_params *p, const qmac_dims *x_dims, const qmac_qbuf *x,
                          const qmac_dims *w_dims, const qmac_qbuf *w, const int32_t *bias,
                          const qmac_requant *rq, const qmac_dims *y_dims, qmac_dtype y_dt, void *y,
                          int32_t *scratch)
{
    if (!y || !scratch)
        return qmac_set_error(QMAC_ERR_INVALID_ARG, "conv: output or scratch buffer is NULL");
    qmac_status st = qmac_conv2d_acc(p, x_dims, x, w_dims, w, bias, y_dims, scratch);
    if (st != QMAC_OK)
        return st;
    if ((st = qmac_requant_check(rq, w_dims->n, y_dt, "conv")) != QMAC_OK)
        return st;
    qmac_requant_tensor(rq, scratch, qmac_dims_count(y_dims), y_dt, y);
    return QMAC_OK;
}
