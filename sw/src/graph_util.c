/* graph_util.c - see graph_util.h. */
#include "graph_util.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "qmac/kernels.h"
#include "qmac/quant.h"

qmac_status qmac_node_fail(qmac_status st, const qmac_node *n, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return qmac_set_error(st, "node '%s' (%s): %s", n->name, n->onnx_ops, msg);
}

qmac_status qmac_graph_run_begin(const qmac_graph *g, int32_t n_inputs, qmac_tensor *outputs)
{
    qmac_clear_error();
    for (int32_t k = 0; k < g->n_outputs; ++k)
        memset(&outputs[k], 0, sizeof outputs[k]);
    if (n_inputs != g->n_inputs)
        return qmac_set_error(QMAC_ERR_INVALID_ARG, "the model has %d input(s), %d given", (int)g->n_inputs,
                              (int)n_inputs);
    return QMAC_OK;
}

void qmac_node_out_range(const qmac_node *n, qmac_dtype dt, int32_t *lo, int32_t *hi)
{
    qmac_dtype_range(dt, lo, hi);
    if (n->has_act) {
        *lo = n->act_min;
        *hi = n->act_max;
    }
}

/* Output size and padding of one spatial axis, ONNX rules (auto_pad, ceil_mode). */
qmac_status qmac_node_conv_axis(const qmac_node *n, int ax, int32_t in, int32_t k, int32_t *pb, int32_t *pa,
                                int32_t *out)
{
    const int32_t s = n->strides[ax], d = n->dilations[ax];
    const int32_t eff = (k - 1) * d + 1;
    *pb = n->pads[ax];
    *pa = n->pads[ax + 2];
    if (n->auto_pad == QMAC_PAD_SAME_UPPER || n->auto_pad == QMAC_PAD_SAME_LOWER) {
        qmac_same_padding(in, k, s, d, n->auto_pad == QMAC_PAD_SAME_LOWER, pb, pa, out);
        return QMAC_OK;
    }
    if (n->auto_pad == QMAC_PAD_VALID)
        *pb = *pa = 0;
    const int64_t span = (int64_t)in + *pb + *pa - eff;
    if (span < 0)
        return FAIL(QMAC_ERR_SHAPE, n, "kernel extent %d exceeds padded input %d", (int)eff,
                    (int)(in + *pb + *pa));
    int64_t o = span / s + 1;
    if (n->ceil_mode) {
        o = (span + s - 1) / s + 1;
        /* the last window must start inside the input or the leading padding */
        if ((o - 1) * s >= (int64_t)in + *pb)
            --o;
    }
    *out = (int32_t)o;
    return QMAC_OK;
}

/* One spatial axis of a pool, exactly as ONNX Runtime's pool_attributes.h computes it: SAME pads
 * from the undilated kernel with C-truncating halves (a kernel smaller than the stride gives a
 * negative head pad, which shifts every window into the image), output size with floor or
 * ceil mode, and ceil mode dropping a last window that would start past the head pad. The
 * kernels take non-negative pads, so a negative head becomes a crop of the input and the tail is
 * extended to cover windows that overhang the padded input (their taps are skipped anyway). */
qmac_status qmac_node_pool_axis(const qmac_node *n, int ax, int32_t in, int32_t k, int32_t s, int32_t d,
                                int32_t *crop, int32_t *head, int32_t *tail, int32_t *out)
{
    int64_t ph = n->pads[ax], pt = n->pads[ax + 2];
    if (n->auto_pad == QMAC_PAD_VALID) {
        ph = pt = 0;
    } else if (n->auto_pad == QMAC_PAD_SAME_UPPER || n->auto_pad == QMAC_PAD_SAME_LOWER) {
        const int64_t target = ((int64_t)in + s - 1) / s;
        const int64_t need = (target - 1) * s + k - in;
        ph = n->auto_pad == QMAC_PAD_SAME_UPPER ? need / 2 : (need + 1) / 2;
        pt = need - ph;
    }
    const int64_t eff = (int64_t)(k - 1) * d + 1;
    const int64_t num = (int64_t)in + ph + pt - eff;
    int64_t o = num / s + 1;
    if (n->ceil_mode) {
        o = (int64_t)ceil((double)num / (double)s) + 1;
        if ((o - 1) * s >= (int64_t)in + ph)
            --o;
    }
    if (o < 1 || o > INT32_MAX)
        return FAIL(QMAC_ERR_SHAPE, n, "pooling window (%lld taps) leaves no output on an axis of %d",
                    (long long)eff, (int)in);
    *crop = ph < 0 ? (int32_t)-ph : 0;
    if (*crop >= in)
        return FAIL(QMAC_ERR_SHAPE, n, "SAME padding shifts every window out of the input");
    const int64_t h = ph < 0 ? 0 : ph, in2 = in - *crop;
    int64_t t = pt < 0 ? 0 : pt;
    const int64_t cover = (o - 1) * s + eff - in2 - h;
    if (cover > t)
        t = cover;
    *head = (int32_t)h;
    *tail = (int32_t)t;
    *out = (int32_t)o;
    return QMAC_OK;
}

qmac_status qmac_node_reshape_shape(const qmac_graph *g, const qmac_node *n, int32_t rank,
                                    const int64_t *shape, int32_t *out_rank, int64_t *out_shape)
{
    size_t cnt = 1;
    for (int32_t k = 0; k < rank; ++k)
        cnt *= (size_t)shape[k];
    *out_rank = 0;
    switch (n->reshape_kind) {
    case 0: { /* Reshape */
        const qmac_tensor *s = &g->values[n->shape_id].konst;
        const size_t k = qmac_tensor_count(s);
        if (k > QMAC_MAX_RANK)
            return FAIL(QMAC_ERR_UNSUPPORTED, n, "target rank %zu", k);
        int infer = -1;
        size_t known = 1;
        for (size_t i = 0; i < k; ++i) {
            int64_t d = ((const int64_t *)s->data)[i];
            if (d == 0 && !n->allowzero) {
                if ((int32_t)i >= rank)
                    return FAIL(QMAC_ERR_SHAPE, n, "shape[%zu] = 0 copies a dimension the input lacks", i);
                d = shape[i];
            }
            if (d == -1) {
                if (infer >= 0)
                    return FAIL(QMAC_ERR_SHAPE, n, "more than one -1 in the target shape");
                infer = (int)i;
                d = 1;
            } else if (d < 0) {
                return FAIL(QMAC_ERR_SHAPE, n, "negative target dimension %lld", (long long)d);
            } else {
                known *= (size_t)d;
            }
            out_shape[i] = d;
        }
        if (infer >= 0) {
            if (known == 0 || cnt % known)
                return FAIL(QMAC_ERR_SHAPE, n, "cannot infer the -1 dimension");
            out_shape[infer] = (int64_t)(cnt / known);
        }
        *out_rank = (int32_t)k;
        break;
    }
    case 1: { /* Flatten */
        int32_t ax = n->flatten_axis < 0 ? n->flatten_axis + rank : n->flatten_axis;
        if (ax < 0 || ax > rank)
            return FAIL(QMAC_ERR_INVALID_ARG, n, "flatten axis %d for rank %d", (int)n->flatten_axis,
                        (int)rank);
        int64_t outer = 1, inner = 1;
        for (int32_t k = 0; k < rank; ++k) {
            if (k < ax)
                outer *= shape[k];
            else
                inner *= shape[k];
        }
        out_shape[0] = outer;
        out_shape[1] = inner;
        *out_rank = 2;
        break;
    }
    case 2: { /* Squeeze */
        for (int32_t k = 0; k < rank; ++k) {
            int drop = 0;
            if (n->n_axes < 0) {
                drop = shape[k] == 1;
            } else {
                for (int32_t j = 0; j < n->n_axes; ++j)
                    if ((n->axes[j] < 0 ? n->axes[j] + rank : n->axes[j]) == k)
                        drop = 1;
                if (drop && shape[k] != 1)
                    return FAIL(QMAC_ERR_SHAPE, n, "cannot squeeze axis %d of size %lld", (int)k,
                                (long long)shape[k]);
            }
            if (!drop)
                out_shape[(*out_rank)++] = shape[k];
        }
        break;
    }
    case 3: { /* Unsqueeze */
        const int32_t orank = rank + n->n_axes;
        if (orank > QMAC_MAX_RANK)
            return FAIL(QMAC_ERR_UNSUPPORTED, n, "output rank %d", (int)orank);
        int ins[QMAC_MAX_RANK] = {0};
        for (int32_t j = 0; j < n->n_axes; ++j) {
            int64_t a = n->axes[j] < 0 ? n->axes[j] + orank : n->axes[j];
            if (a < 0 || a >= orank || ins[a])
                return FAIL(QMAC_ERR_INVALID_ARG, n, "bad unsqueeze axis %lld", (long long)n->axes[j]);
            ins[a] = 1;
        }
        for (int32_t k = 0, src = 0; k < orank; ++k)
            out_shape[(*out_rank)++] = ins[k] ? 1 : shape[src++];
        break;
    }
    default: /* Identity */
        *out_rank = rank;
        memcpy(out_shape, shape, sizeof(int64_t) * (size_t)rank);
        break;
    }
    size_t want = 1;
    for (int32_t k = 0; k < *out_rank; ++k)
        want *= (size_t)out_shape[k];
    if (want != cnt)
        return FAIL(QMAC_ERR_SHAPE, n, "cannot reshape %zu elements into %zu", cnt, want);
    return QMAC_OK;
}

/* ------------------------------------------------------------------ add */

qmac_status qmac_add_pair_prepare(const qmac_node *n, qmac_requant_rule rule, int a_scalar, qmac_add_pair *p)
{
    if (n->qx.n != 1 || n->qw.n != 1 || n->qy.n != 1)
        return FAIL(QMAC_ERR_UNSUPPORTED, n, "add needs per-tensor quantization");
    memset(p, 0, sizeof *p);
    p->rule = rule;
    p->a_scalar = a_scalar;
    qmac_node_out_range(n, n->qy.dtype, &p->lo, &p->hi);
    const float sa = n->qx.scale[0], sb = n->qw.scale[0], sy = n->qy.scale[0];
    const int32_t za = n->qx.zp[0], zb = n->qw.zp[0], zy = n->qy.zp[0];
    qmac_status st;
    if (rule == QMAC_REQUANT_ONNXRT) {
        st = qmac_add_onnxrt_prepare(sa, za, sb, zb, sy, zy, n->qy.dtype, &p->po);
        p->ra = p->po.ratio_a;
        p->rb = p->po.ratio_b;
        p->c = p->po.bias;
    } else {
        st = qmac_add_tflite_prepare(sa, za, sb, zb, sy, zy, p->lo, p->hi, &p->pt);
        p->ra = (double)sa / sy;
        p->rb = (double)sb / sy;
        p->c = zy - za * p->ra - zb * p->rb;
    }
    if (st == QMAC_OK && rule == QMAC_REQUANT_SINGLE) {
        /* single rounding: the same multipliers, re-derived with rule B's QuantizeMultiplier */
        qmac_add_tflite_params *t = &p->pt;
        const double tm = 2.0 * fmax((double)sa, (double)sb);
        if (qmac_quantize_multiplier((double)sa / tm, QMAC_REQUANT_SINGLE, &t->a_mult, &t->a_shift) ||
            qmac_quantize_multiplier((double)sb / tm, QMAC_REQUANT_SINGLE, &t->b_mult, &t->b_shift) ||
            qmac_quantize_multiplier(tm / ((double)(1 << t->left_shift) * (double)sy), QMAC_REQUANT_SINGLE,
                                     &t->out_mult, &t->out_shift))
            st = QMAC_ERR_INVALID_ARG;
    }
    return st == QMAC_OK ? QMAC_OK : FAIL(st, n, "%s", qmac_last_error());
}

int32_t qmac_add_pair_eval(const void *ctx, int32_t a, int32_t b)
{
    const qmac_add_pair *p = ctx;
    int32_t y;
    if (p->rule == QMAC_REQUANT_ONNXRT) {
        y = p->a_scalar ? qmac_add_onnxrt_one_a_scalar(&p->po, a, b) : qmac_add_onnxrt_one(&p->po, a, b);
    } else if (p->rule == QMAC_REQUANT_SINGLE) {
        const qmac_add_tflite_params *t = &p->pt;
        const int32_t sa = qmac_mbqm_single((a + t->a_offset) * (1 << t->left_shift), t->a_mult, t->a_shift);
        const int32_t sb = qmac_mbqm_single((b + t->b_offset) * (1 << t->left_shift), t->b_mult, t->b_shift);
        y = qmac_mbqm_single(sa + sb, t->out_mult, t->out_shift) + t->out_zp;
    } else {
        y = qmac_add_tflite_one(&p->pt, a, b);
    }
    return y < p->lo ? p->lo : y > p->hi ? p->hi : y;
}

void qmac_requant_elem_prepare(const qmac_qinfo *in, const qmac_qinfo *out, qmac_requant_elem *p)
{
    p->in_scale = in->scale[0];
    p->in_zp = in->zp[0];
    p->out_scale = out->scale[0];
    p->out_zp = out->zp[0];
    qmac_dtype_range(out->dtype, &p->lo, &p->hi);
}

int32_t qmac_requant_elem_eval(const void *ctx, int32_t a, int32_t b)
{
    const qmac_requant_elem *p = ctx;
    (void)b;
    return qmac_quantize_f32(qmac_dequantize_f32(a, p->in_scale, p->in_zp), p->out_scale, p->out_zp, p->lo,
                             p->hi, QMAC_ROUND_HALF_EVEN);
}
