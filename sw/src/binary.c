/* binary.c - binary quantization, LCE bit packing and the reference binary layers. */
#include "qmac/binary.h"

#include <limits.h>
#include <math.h>
#include <string.h>

void qmac_sign_f32(const float *x, size_t n, int8_t *y)
{
    for (size_t i = 0; i < n; ++i)
        y[i] = (int8_t)(x[i] < 0.0f ? -1 : 1);
}

void qmac_sign_s8(const int8_t *q, size_t n, int32_t zp, int8_t *y)
{
    for (size_t i = 0; i < n; ++i)
        y[i] = (int8_t)((int32_t)q[i] < zp ? -1 : 1);
}

void qmac_step_f32(const float *x, size_t n, uint8_t *y)
{
    for (size_t i = 0; i < n; ++i)
        y[i] = (uint8_t)(x[i] > 0.0f ? 1 : 0);
}

void qmac_step_s8(const int8_t *q, size_t n, int32_t zp, uint8_t *y)
{
    for (size_t i = 0; i < n; ++i)
        y[i] = (uint8_t)((int32_t)q[i] > zp ? 1 : 0);
}

/* ---------------------------------------------------------------- packing */

static qmac_status check_channels(int32_t channels)
{
    if (channels < 1)
        return qmac_set_error(QMAC_ERR_INVALID_ARG, "bit packing: %d channels (need >= 1)", (int)channels);
    return QMAC_OK;
}

qmac_status qmac_bpack_f32(const float *x, size_t rows, int32_t channels, uint32_t *packed)
{
    qmac_status st = check_channels(channels);
    if (st != QMAC_OK)
        return st;
    const size_t nw = (size_t)qmac_bwords(channels);
    for (size_t r = 0; r < rows; ++r) {
        const float *xr = x + r * (size_t)channels;
        uint32_t *pr = packed + r * nw;
        memset(pr, 0, nw * sizeof *pr);
        for (int32_t c = 0; c < channels; ++c)
            if (xr[c] < 0.0f)
                pr[c / 32] |= UINT32_C(1) << (c % 32);
    }
    return QMAC_OK;
}

qmac_status qmac_bpack_s8(const int8_t *q, int32_t zp, size_t rows, int32_t channels, uint32_t *packed)
{
    qmac_status st = check_channels(channels);
    if (st != QMAC_OK)
        return st;
    const size_t nw = (size_t)qmac_bwords(channels);
    for (size_t r = 0; r < rows; ++r) {
        const int8_t *qr = q + r * (size_t)channels;
        uint32_t *pr = packed + r * nw;
        memset(pr, 0, nw * sizeof *pr);
        for (int32_t c = 0; c < channels; ++c)
            if ((int32_t)qr[c] < zp)
                pr[c / 32] |= UINT32_C(1) << (c % 32);
    }
    return QMAC_OK;
}

qmac_status qmac_bunpack_f32(const uint32_t *packed, size_t rows, int32_t channels, float *x)
{
    qmac_status st = check_channels(channels);
    if (st != QMAC_OK)
        return st;
    const size_t nw = (size_t)qmac_bwords(channels);
    for (size_t r = 0; r < rows; ++r)
        for (int32_t c = 0; c < channels; ++c)
            x[r * (size_t)channels + (size_t)c] =
                ((packed[r * nw + (size_t)(c / 32)] >> (c % 32)) & 1u) ? -1.0f : 1.0f;
    return QMAC_OK;
}

qmac_status qmac_bunpack_s8(const uint32_t *packed, size_t rows, int32_t channels, int8_t *y)
{
    qmac_status st = check_channels(channels);
    if (st != QMAC_OK)
        return st;
    const size_t nw = (size_t)qmac_bwords(channels);
    for (size_t r = 0; r < rows; ++r)
        for (int32_t c = 0; c < channels; ++c)
            y[r * (size_t)channels + (size_t)c] =
                (int8_t)(((packed[r * nw + (size_t)(c / 32)] >> (c % 32)) & 1u) ? -1 : 1);
    return QMAC_OK;
}

int32_t qmac_popcount32(uint32_t v)
{
    v = v - ((v >> 1) & 0x55555555u);
    v = (v & 0x33333333u) + ((v >> 2) & 0x33333333u);
    v = (v + (v >> 4)) & 0x0f0f0f0fu;
    return (int32_t)((v * 0x01010101u) >> 24);
}

int32_t qmac_bdot(const uint32_t *a, const uint32_t *w, int32_t k_bits)
{
    const int32_t full = k_bits / 32;
    const int32_t tail = k_bits % 32;
    int32_t pc = 0;
    for (int32_t i = 0; i < full; ++i)
        pc += qmac_popcount32(a[i] ^ w[i]);
    if (tail)
        pc += qmac_popcount32((a[full] ^ w[full]) & ((UINT32_C(1) << tail) - 1u));
    return k_bits - 2 * pc;
}

/* ---------------------------------------------------------------- thresholds */

/* fl(fl(scale * d) + bias) >= 0, without contraction into an FMA */
static int affine_nonneg(float scale, float bias, int32_t d)
{
    volatile float m = scale * (float)d;
    volatile float v = m + bias;
    return v >= 0.0f;
}

qmac_status qmac_bthreshold_from_affine(float scale, float bias, int32_t *tau, uint8_t *flip)
{
    if (!isfinite(scale) || !isfinite(bias))
        return qmac_set_error(QMAC_ERR_INVALID_ARG, "threshold from scale %g, bias %g: not finite",
                              (double)scale, (double)bias);
    const int32_t lo = -(INT32_C(1) << 24), hi = INT32_C(1) << 24;
    *flip = 0;
    if (scale == 0.0f) {
        *tau = bias >= 0.0f ? INT32_MIN : INT32_MAX;
        return QMAC_OK;
    }
    if (scale > 0.0f) {
        /* predicate false ... false true ... true: find the first true */
        if (affine_nonneg(scale, bias, lo)) {
            *tau = INT32_MIN;
            return QMAC_OK;
        }
        if (!affine_nonneg(scale, bias, hi)) {
            *tau = INT32_MAX;
            return QMAC_OK;
        }
        int32_t a = lo, b = hi; /* pred(a) false, pred(b) true */
        while (b - a > 1) {
            const int32_t m = a + (b - a) / 2;
            if (affine_nonneg(scale, bias, m))
                b = m;
            else
                a = m;
        }
        *tau = b;
        return QMAC_OK;
    }
    /* scale < 0: predicate true ... true false ... false: find the last true */
    *flip = 1;
    if (!affine_nonneg(scale, bias, lo)) {
        *tau = INT32_MIN;
        return QMAC_OK;
    }
    if (affine_nonneg(scale, bias, hi)) {
        *tau = INT32_MAX;
        return QMAC_OK;
    }
    int32_t a = lo, b = hi; /* pred(a) true, pred(b) false */
    while (b - a > 1) {
        const int32_t m = a + (b - a) / 2;
        if (affine_nonneg(scale, bias, m))
            a = m;
        else
            b = m;
    }
    *tau = a;
    return QMAC_OK;
}

/* ---------------------------------------------------------------- output stage */

static qmac_status check_bout(const qmac_bout *out, int32_t cout)
{
    switch (out->kind) {
    case QMAC_BOUT_INT32: return QMAC_OK;
    case QMAC_BOUT_INT8:
        if (!out->rq)
            return qmac_set_error(QMAC_ERR_INVALID_ARG, "binary layer: int8 output without a requant");
        if (out->rq->n_ch != 1 && out->rq->n_ch != cout)
            return qmac_set_error(QMAC_ERR_INVALID_ARG, "binary layer: requant has %d channels, Cout is %d",
                                  (int)out->rq->n_ch, (int)cout);
        if (out->rq->act_min < -128 || out->rq->act_max > 127 || out->rq->act_min > out->rq->act_max)
            return qmac_set_error(QMAC_ERR_INVALID_ARG, "binary layer: int8 output range [%d, %d] is invalid",
                                  (int)out->rq->act_min, (int)out->rq->act_max);
        return QMAC_OK;
    case QMAC_BOUT_BITS:
        if (!out->tau)
            return qmac_set_error(QMAC_ERR_INVALID_ARG, "binary layer: bit output without thresholds");
        return QMAC_OK;
    }
    return qmac_set_error(QMAC_ERR_INVALID_ARG, "binary layer: unknown output kind %d", (int)out->kind);
}

/* Start output row `row` (clears the packed words of BITS outputs). */
static void begin_row(const qmac_bout *out, int32_t cout, size_t row, void *y)
{
    if (out->kind == QMAC_BOUT_BITS) {
        const size_t nw = (size_t)qmac_bwords(cout);
        memset((uint32_t *)y + row * nw, 0, nw * sizeof(uint32_t));
    }
}

/* Write output channel c of row `row` from its dot product. */
static void emit(const qmac_bout *out, int32_t cout, size_t row, int32_t c, int32_t dot, void *y)
{
    switch (out->kind) {
    case QMAC_BOUT_INT32: ((int32_t *)y)[row * (size_t)cout + (size_t)c] = dot; break;
    case QMAC_BOUT_INT8: {
        const uint32_t b = out->bias ? (uint32_t)out->bias[c] : 0u;
        const int32_t acc = (int32_t)((uint32_t)dot + b); /* wraps modulo 2^32 */
        ((int8_t *)y)[row * (size_t)cout + (size_t)c] = (int8_t)qmac_requant_one(out->rq, c, acc);
        break;
    }
    case QMAC_BOUT_BITS: {
        const int plus = (out->flip && out->flip[c]) ? dot <= out->tau[c] : dot >= out->tau[c];
        if (!plus)
            ((uint32_t *)y)[row * (size_t)qmac_bwords(cout) + (size_t)(c / 32)] |= UINT32_C(1) << (c % 32);
        break;
    }
    }
}

/* ---------------------------------------------------------------- layers */

qmac_status qmac_bconv2d(const qmac_bconv_params *p, const qmac_dims *x_dims, const uint32_t *x,
                         const qmac_dims *w_dims, const uint32_t *w, const qmac_bout *out,
                         const qmac_dims *y_dims, void *y)
{
    const qmac_conv_params *cp = &p->conv;
    if (cp->stride_h < 1 || cp->stride_w < 1 || cp->dil_h < 1 || cp->dil_w < 1)
        return qmac_set_error(QMAC_ERR_INVALID_ARG,
                              "bconv2d: stride (%d, %d) and dilation (%d, %d) must be >= 1",
                              (int)cp->stride_h, (int)cp->stride_w, (int)cp->dil_h, (int)cp->dil_w);
    if (cp->pad_top < 0 || cp->pad_left < 0 || cp->pad_bottom < 0 || cp->pad_right < 0)
        return qmac_set_error(QMAC_ERR_INVALID_ARG, "bconv2d: negative padding");
    if (p->pad != QMAC_BPAD_ONE && p->pad != QMAC_BPAD_ZERO)
        return qmac_set_error(QMAC_ERR_INVALID_ARG, "bconv2d: unknown padding mode %d", (int)p->pad);
    if (x_dims->n < 1 || x_dims->h < 1 || x_dims->w < 1 || x_dims->c < 1 || w_dims->n < 1 || w_dims->h < 1 ||
        w_dims->w < 1 || w_dims->c < 1)
        return qmac_set_error(QMAC_ERR_SHAPE, "bconv2d: input and filter dimensions must be >= 1");
    const int32_t groups = cp->groups;
    const int32_t cin = x_dims->c, cout = w_dims->n, cin_g = w_dims->c;
    if (groups < 1 || cin % groups != 0 || cout % groups != 0 || cin / groups != cin_g)
        return qmac_set_error(QMAC_ERR_SHAPE, "bconv2d: Cin %d, Cout %d, filter Cin %d do not fit %d groups",
                              (int)cin, (int)cout, (int)cin_g, (int)groups);
    if (groups > 1 && cin_g % 32 != 0)
        return qmac_set_error(QMAC_ERR_SHAPE,
                              "bconv2d: grouped binary conv needs Cin/groups (%d) a multiple of 32",
                              (int)cin_g);
    const int64_t ext_h = (int64_t)(w_dims->h - 1) * cp->dil_h + 1;
    const int64_t ext_w = (int64_t)(w_dims->w - 1) * cp->dil_w + 1;
    const int64_t span_h = (int64_t)x_dims->h + cp->pad_top + cp->pad_bottom - ext_h;
    const int64_t span_w = (int64_t)x_dims->w + cp->pad_left + cp->pad_right - ext_w;
    if (span_h < 0 || span_w < 0)
        return qmac_set_error(QMAC_ERR_SHAPE, "bconv2d: the %dx%d filter does not fit the padded %dx%d input",
                              (int)w_dims->h, (int)w_dims->w, (int)x_dims->h, (int)x_dims->w);
    const int64_t oh = span_h / cp->stride_h + 1, ow = span_w / cp->stride_w + 1;
    if (y_dims->n != x_dims->n || y_dims->h != oh || y_dims->w != ow || y_dims->c != cout)
        return qmac_set_error(QMAC_ERR_SHAPE,
                              "bconv2d: output is [%d, %d, %d, %d], expected [%d, %lld, %lld, %d]",
                              (int)y_dims->n, (int)y_dims->h, (int)y_dims->w, (int)y_dims->c, (int)x_dims->n,
                              (long long)oh, (long long)ow, (int)cout);
    qmac_status st = check_bout(out, cout);
    if (st != QMAC_OK)
        return st;

    const int32_t xw = qmac_bwords(cin);   /* words per input pixel   */
    const int32_t fw = qmac_bwords(cin_g); /* words per filter tap    */
    const int32_t cout_g = cout / groups;
    size_t row = 0;
    for (int32_t n = 0; n < x_dims->n; ++n) {
        for (int32_t oy = 0; oy < y_dims->h; ++oy) {
            for (int32_t ox = 0; ox < y_dims->w; ++ox, ++row) {
                begin_row(out, cout, row, y);
                for (int32_t oc = 0; oc < cout; ++oc) {
                    const int32_t g = oc / cout_g;
                    int32_t dot = 0;
                    for (int32_t ky = 0; ky < w_dims->h; ++ky) {
                        const int32_t iy = oy * cp->stride_h - cp->pad_top + ky * cp->dil_h;
                        for (int32_t kx = 0; kx < w_dims->w; ++kx) {
                            const int32_t ix = ox * cp->stride_w - cp->pad_left + kx * cp->dil_w;
                            const uint32_t *wt =
                                w + (((size_t)oc * (size_t)w_dims->h + (size_t)ky) * (size_t)w_dims->w +
                                     (size_t)kx) *
                                        (size_t)fw;
                            if (iy < 0 || iy >= x_dims->h || ix < 0 || ix >= x_dims->w) {
                                if (p->pad == QMAC_BPAD_ONE) {
                                    int32_t pc = 0;
                                    for (int32_t k = 0; k < fw; ++k) {
                                        const int32_t bits = (k == fw - 1 && cin_g % 32) ? cin_g % 32 : 32;
                                        const uint32_t m =
                                            bits == 32 ? 0xffffffffu : (UINT32_C(1) << bits) - 1u;
                                        pc += qmac_popcount32(wt[k] & m);
                                    }
                                    dot += cin_g - 2 * pc;
                                }
                                continue;
                            }
                            const uint32_t *xt =
                                x +
                                (((size_t)n * (size_t)x_dims->h + (size_t)iy) * (size_t)x_dims->w +
                                 (size_t)ix) *
                                    (size_t)xw +
                                (size_t)g * (size_t)(cin_g / 32);
                            dot += qmac_bdot(xt, wt, cin_g);
                        }
                    }
                    emit(out, cout, row, oc, dot, y);
                }
            }
        }
    }
    return QMAC_OK;
}

qmac_status qmac_bdense(int32_t batches, int32_t depth, int32_t cout, const uint32_t *x, const uint32_t *w,
                        const qmac_bout *out, void *y)
{
    if (batches < 1 || depth < 1 || cout < 1)
        return qmac_set_error(QMAC_ERR_INVALID_ARG, "bdense: batches %d, depth %d, cout %d must be >= 1",
                              (int)batches, (int)depth, (int)cout);
    qmac_status st = check_bout(out, cout);
    if (st != QMAC_OK)
        return st;
    const size_t nw = (size_t)qmac_bwords(depth);
    for (int32_t b = 0; b < batches; ++b) {
        begin_row(out, cout, (size_t)b, y);
        for (int32_t c = 0; c < cout; ++c)
            emit(out, cout, (size_t)b, c, qmac_bdot(x + (size_t)b * nw, w + (size_t)c * nw, depth), y);
    }
    return QMAC_OK;
}

qmac_status qmac_xnor_alpha(const float *w, int32_t cout, size_t per_filter, float *alpha)
{
    if (cout < 1 || per_filter == 0)
        return qmac_set_error(QMAC_ERR_INVALID_ARG, "xnor alpha: %d filters of %zu weights", (int)cout,
                              per_filter);
    for (int32_t c = 0; c < cout; ++c) {
        double sum = 0.0;
        const float *wc = w + (size_t)c * per_filter;
        for (size_t i = 0; i < per_filter; ++i)
            sum += fabs((double)wc[i]);
        alpha[c] = (float)(sum / (double)per_filter);
    }
    return QMAC_OK;
}
