/* exec.c - the reference executor: runs a qmac_graph node by node with the reference kernels.
 * ONNX semantics (NCHW): spatial ops transpose to the kernels' NHWC layout and back. Every node
 * first checks its operands (types, shapes, parameters), then computes; a failure names the
 * node. Run-time tensors are freed after their last use. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qmac/graph.h"
#include "qmac/kernels.h"
#include "qmac/quant.h"

#include "graph_util.h"

typedef struct {
    const qmac_graph *g;
    qmac_requant_rule rule;
    qmac_tensor *rt; /* run-time tensor of each value id */
    uint8_t *ready;  /* 1 when rt[id] holds a computed tensor */
    int32_t *last;   /* index of the last node that reads each value */
} exec_t;

static const qmac_tensor *val(const exec_t *e, int32_t id)
{
    const qmac_value *v = &e->g->values[id];
    if (v->is_const)
        return &v->konst;
    return e->ready[id] ? &e->rt[id] : NULL;
}

static qmac_status operand(const exec_t *e, const qmac_node *n, int32_t k, const qmac_tensor **t)
{
    if (k >= n->n_in)
        return FAIL(QMAC_ERR_INTERNAL, n, "missing operand %d", (int)k);
    *t = val(e, n->in[k]);
    if (!*t)
        return FAIL(QMAC_ERR_INTERNAL, n, "input '%s' was not computed", e->g->values[n->in[k]].name);
    return QMAC_OK;
}

/* Allocate output k of node n. */
static qmac_status make_out(exec_t *e, const qmac_node *n, int32_t k, qmac_dtype dt, int32_t rank,
                            const int64_t *shape, qmac_tensor **out)
{
    const int32_t id = n->out[k];
    qmac_tensor_free(&e->rt[id]);
    qmac_status st = qmac_tensor_alloc(&e->rt[id], dt, rank, shape);
    if (st != QMAC_OK)
        return FAIL(st, n, "output '%s': %s", e->g->values[id].name, qmac_last_error());
    e->ready[id] = 1;
    *out = &e->rt[id];
    return QMAC_OK;
}

static int is_float(qmac_dtype dt)
{
    return dt == QMAC_DT_FLOAT32 || dt == QMAC_DT_FLOAT16 || dt == QMAC_DT_FLOAT64;
}

static int is_q8(qmac_dtype dt)
{
    return dt == QMAC_DT_INT8 || dt == QMAC_DT_UINT8;
}

static double load_f(const qmac_tensor *t, size_t i)
{
    switch (t->dtype) {
    case QMAC_DT_FLOAT32: return ((const float *)t->data)[i];
    case QMAC_DT_FLOAT64: return ((const double *)t->data)[i];
    case QMAC_DT_FLOAT16: return qmac_f16_to_f32(((const uint16_t *)t->data)[i]);
    case QMAC_DT_INT64: return (double)((const int64_t *)t->data)[i];
    case QMAC_DT_BOOL: return ((const uint8_t *)t->data)[i];
    default: return qmac_load_int(t->dtype, t->data, i);
    }
}

static void store_f(qmac_tensor *t, size_t i, double v)
{
    switch (t->dtype) {
    case QMAC_DT_FLOAT32: ((float *)t->data)[i] = (float)v; break;
    case QMAC_DT_FLOAT64: ((double *)t->data)[i] = v; break;
    case QMAC_DT_FLOAT16: ((uint16_t *)t->data)[i] = qmac_f32_to_f16((float)v); break;
    case QMAC_DT_INT64: ((int64_t *)t->data)[i] = (int64_t)v; break;
    case QMAC_DT_BOOL: ((uint8_t *)t->data)[i] = (uint8_t)v; break;
    default: qmac_store_int(t->dtype, t->data, i, (int32_t)v); break;
    }
}

/* ------------------------------------------------------------------ layout helpers */

/* [N, C, S] (S = H*W) <-> [N, S, C] for elements of esz bytes. */
static void nchw_to_nhwc(const void *src, size_t esz, size_t N, size_t C, size_t S, void *dst)
{
    const uint8_t *s = src;
    uint8_t *d = dst;
    for (size_t n = 0; n < N; ++n)
        for (size_t c = 0; c < C; ++c)
            for (size_t p = 0; p < S; ++p)
                memcpy(d + ((n * S + p) * C + c) * esz, s + ((n * C + c) * S + p) * esz, esz);
}

static void nhwc_to_nchw(const void *src, size_t esz, size_t N, size_t C, size_t S, void *dst)
{
    const uint8_t *s = src;
    uint8_t *d = dst;
    for (size_t n = 0; n < N; ++n)
        for (size_t c = 0; c < C; ++c)
            for (size_t p = 0; p < S; ++p)
                memcpy(d + ((n * C + c) * S + p) * esz, s + ((n * S + p) * C + c) * esz, esz);
}

/* Spatial view of an NCHW (or NCL) tensor: H = 1 for 1-D. */
static qmac_status spatial_dims(const qmac_node *n, const qmac_tensor *x, qmac_dims *d)
{
    if (x->rank != n->spatial + 2)
        return FAIL(QMAC_ERR_SHAPE, n, "input has rank %d, expected %d ([N, C, %s])", (int)x->rank,
                    (int)n->spatial + 2, n->spatial == 2 ? "H, W" : "L");
    for (int32_t i = 0; i < x->rank; ++i)
        if (x->shape[i] < 1 || x->shape[i] > INT32_MAX / 2)
            return FAIL(QMAC_ERR_SHAPE, n, "input dimension %d is %lld", (int)i, (long long)x->shape[i]);
    d->n = (int32_t)x->shape[0];
    d->c = (int32_t)x->shape[1];
    d->h = n->spatial == 2 ? (int32_t)x->shape[2] : 1;
    d->w = (int32_t)x->shape[x->rank - 1];
    return QMAC_OK;
}

/* ------------------------------------------------------------------ quantize / dequantize */

/* Index of the (scale, zp) pair for flat element i of a tensor of shape x under q. */
typedef struct {
    size_t inner, dim, outer_mul; /* per-axis / blocked helpers */
    int32_t block;
    size_t sdim;
    int mode; /* 0 per-tensor, 1 per-axis, 2 blocked */
} qindex;

static qmac_status qindex_init(const qmac_node *n, const qmac_qinfo *q, const qmac_tensor *x, qindex *qi)
{
    memset(qi, 0, sizeof *qi);
    if (q->n == 1 && q->block == 0)
        return QMAC_OK;
    int32_t axis = q->axis < 0 ? q->axis + x->rank : q->axis;
    if (axis < 0 || axis >= x->rank)
        return FAIL(QMAC_ERR_INVALID_ARG, n, "axis %d is out of range for rank %d", (int)q->axis,
                    (int)x->rank);
    qi->inner = 1;
    for (int32_t k = axis + 1; k < x->rank; ++k)
        qi->inner *= (size_t)x->shape[k];
    qi->dim = (size_t)x->shape[axis];
    if (q->block > 0) {
        if (q->srank != x->rank)
            return FAIL(QMAC_ERR_SHAPE, n, "blocked scale has rank %d, input %d", (int)q->srank,
                        (int)x->rank);
        for (int32_t k = 0; k < x->rank; ++k) {
            int64_t want = k == axis ? (x->shape[k] + q->block - 1) / q->block : x->shape[k];
            if (q->sshape[k] != want)
                return FAIL(QMAC_ERR_SHAPE, n, "blocked scale dimension %d is %lld, expected %lld", (int)k,
                            (long long)q->sshape[k], (long long)want);
        }
        qi->mode = 2;
        qi->block = q->block;
        qi->sdim = (size_t)q->sshape[axis];
        return QMAC_OK;
    }
    if ((size_t)q->n != qi->dim)
        return FAIL(QMAC_ERR_SHAPE, n, "%d scales for axis %d of size %zu", (int)q->n, (int)axis, qi->dim);
    qi->mode = 1;
    return QMAC_OK;
}

static size_t qindex_of(const qindex *qi, size_t i)
{
    if (qi->mode == 0)
        return 0;
    const size_t a = (i / qi->inner) % qi->dim;
    if (qi->mode == 1)
        return a;
    const size_t outer = i / (qi->inner * qi->dim), in = i % qi->inner;
    return (outer * qi->sdim + a / (size_t)qi->block) * qi->inner + in;
}

static qmac_status run_quantize(exec_t *e, const qmac_node *n)
{
    const qmac_tensor *x;
    qmac_tensor *y;
    qmac_status st;
    if ((st = operand(e, n, 0, &x)))
        return st;
    if (!is_float(x->dtype))
        return FAIL(QMAC_ERR_INVALID_ARG, n, "input is %s, expected float", qmac_dtype_name(x->dtype));
    qindex qi;
    if ((st = qindex_init(n, &n->qy, x, &qi)) || (st = make_out(e, n, 0, n->qy.dtype, x->rank, x->shape, &y)))
        return st;
    int32_t qmin, qmax;
    qmac_dtype_range(n->qy.dtype, &qmin, &qmax);
    const size_t cnt = qmac_tensor_count(x);
    if (n->qs) { /* a QONNX quantizer, per tensor */
        for (size_t i = 0; i < cnt; ++i)
            qmac_store_int(y->dtype, y->data, i, qmac_qonnx_code(n->qs, 0, (float)load_f(x, i)));
        return QMAC_OK;
    }
    for (size_t i = 0; i < cnt; ++i) {
        const size_t p = qindex_of(&qi, i);
        const float v = (float)load_f(x, i);
        qmac_store_int(y->dtype, y->data, i,
                       qmac_quantize_f32(v, n->qy.scale[p], n->qy.zp[p], qmin, qmax, QMAC_ROUND_HALF_EVEN));
    }
    return QMAC_OK;
}

static qmac_status run_dequantize(exec_t *e, const qmac_node *n)
{
    const qmac_tensor *x;
    qmac_tensor *y;
    qmac_status st;
    if ((st = operand(e, n, 0, &x)))
        return st;
    if (n->qx.dtype != QMAC_DT_INVALID && x->dtype != n->qx.dtype)
        return FAIL(QMAC_ERR_INVALID_ARG, n, "input is %s but its zero point is %s",
                    qmac_dtype_name(x->dtype), qmac_dtype_name(n->qx.dtype));
    if (x->dtype != QMAC_DT_INT8 && x->dtype != QMAC_DT_UINT8 && x->dtype != QMAC_DT_INT32)
        return FAIL(QMAC_ERR_UNSUPPORTED, n, "dequantizing %s is not supported (int8, uint8, int32)",
                    qmac_dtype_name(x->dtype));
    qindex qi;
    const qmac_dtype out_dt = n->qx.sdtype == QMAC_DT_FLOAT16 ? QMAC_DT_FLOAT16 : QMAC_DT_FLOAT32;
    if ((st = qindex_init(n, &n->qx, x, &qi)) || (st = make_out(e, n, 0, out_dt, x->rank, x->shape, &y)))
        return st;
    const size_t cnt = qmac_tensor_count(x);
    for (size_t i = 0; i < cnt; ++i) {
        const size_t p = qindex_of(&qi, i);
        store_f(y, i, qmac_dequantize_f32(qmac_load_int(x->dtype, x->data, i), n->qx.scale[p], n->qx.zp[p]));
    }
    return QMAC_OK;
}

/* ------------------------------------------------------------------ requantization set-up */

typedef struct {
    qmac_requant rq;
    int32_t *mult, *shift;
    float *scale;
} rq_buf;

static void rq_free(rq_buf *r)
{
    free(r->mult);
    free(r->shift);
    free(r->scale);
}

/* Requantization for an op with per-tensor x, per-tensor or per-channel w (nch channels), y. */
static qmac_status rq_setup(const exec_t *e, const qmac_node *n, int32_t nch, rq_buf *r)
{
    memset(r, 0, sizeof *r);
    if (n->qx.n != 1 || n->qy.n != 1 || n->qx.block || n->qy.block)
        return FAIL(QMAC_ERR_UNSUPPORTED, n, "input and output must be quantized per tensor");
    if (n->qw.n != 1 && n->qw.n != nch)
        return FAIL(QMAC_ERR_SHAPE, n, "%d weight scales for %d output channels", (int)n->qw.n, (int)nch);
    r->mult = calloc((size_t)nch, sizeof *r->mult);
    r->shift = calloc((size_t)nch, sizeof *r->shift);
    r->scale = calloc((size_t)nch, sizeof *r->scale);
    float *sw = malloc((size_t)nch * sizeof *sw);
    if (!r->mult || !r->shift || !r->scale || !sw) {
        free(sw);
        return FAIL(QMAC_ERR_NOMEM, n, "out of memory");
    }
    for (int32_t c = 0; c < nch; ++c)
        sw[c] = n->qw.scale[n->qw.n == 1 ? 0 : c];
    int32_t lo, hi;
    qmac_node_out_range(n, n->qy.dtype, &lo, &hi);
    qmac_status st = qmac_requant_prepare(&r->rq, e->rule, n->qx.scale[0], sw, nch, n->qy.scale[0],
                                          n->qy.zp[0], lo, hi, r->mult, r->shift, r->scale);
    free(sw);
    if (st != QMAC_OK)
        return FAIL(st, n, "%s", qmac_last_error());
    return QMAC_OK;
}

/* Per-channel zero points of w as an int32 array (NULL when per-tensor). */
static qmac_status w_zero_points(const qmac_node *n, int32_t nch, int32_t **zp)
{
    *zp = NULL;
    if (n->qw.n <= 1)
        return QMAC_OK;
    if (n->qw.n != nch)
        return FAIL(QMAC_ERR_SHAPE, n, "%d weight zero points for %d channels", (int)n->qw.n, (int)nch);
    *zp = malloc((size_t)nch * sizeof **zp);
    if (!*zp)
        return FAIL(QMAC_ERR_NOMEM, n, "out of memory");
    memcpy(*zp, n->qw.zp, (size_t)nch * sizeof **zp);
    return QMAC_OK;
}

static qmac_status check_q8(const qmac_node *n, const qmac_tensor *t, const qmac_qinfo *q, const char *what)
{
    if (!is_q8(t->dtype))
        return FAIL(QMAC_ERR_INVALID_ARG, n, "%s is %s, expected int8 or uint8", what,
                    qmac_dtype_name(t->dtype));
    if (q->dtype != QMAC_DT_INVALID && q->dtype != t->dtype)
        return FAIL(QMAC_ERR_INVALID_ARG, n, "%s is %s but its zero point is %s", what,
                    qmac_dtype_name(t->dtype), qmac_dtype_name(q->dtype));
    return QMAC_OK;
}

static qmac_status check_bias(const qmac_node *n, const qmac_tensor *b, int32_t nch)
{
    if (b->dtype != QMAC_DT_INT32)
        return FAIL(QMAC_ERR_INVALID_ARG, n, "bias is %s, expected int32", qmac_dtype_name(b->dtype));
    if (!(b->rank == 1 && b->shape[0] == nch) && !(b->rank == 2 && b->shape[0] == 1 && b->shape[1] == nch))
        return FAIL(QMAC_ERR_SHAPE, n, "bias must have shape [%d] (or [1, %d])", (int)nch, (int)nch);
    return QMAC_OK;
}

/* ------------------------------------------------------------------ conv */

/* ------------------------------------------------------------------ float ops (float models) */

static qmac_status check_float(const qmac_node *n, const qmac_tensor *t, const char *what)
{
    if (t->dtype != QMAC_DT_FLOAT32)
        return FAIL(QMAC_ERR_UNSUPPORTED, n, "%s is %s: a float op takes float32", what,
                    qmac_dtype_name(t->dtype));
    return QMAC_OK;
}

/* Float convolution: NCHW input, OIHW weights, each output a double sum rounded to float32 once
 * (a framework sums in float32 in its own order: results agree to a few ulps, not bit for bit). */
static qmac_status run_conv_float(exec_t *e, const qmac_node *n)
{
    const qmac_tensor *x, *w, *b = NULL;
    qmac_tensor *y;
    qmac_status st;
    if ((st = operand(e, n, 0, &x)) || (st = operand(e, n, 1, &w)) ||
        (n->n_in > 2 && (st = operand(e, n, 2, &b))))
        return st;
    if ((st = check_float(n, x, "input")) || (st = check_float(n, w, "weight")) ||
        (b && (st = check_float(n, b, "bias"))))
        return st;
    qmac_node nn = *n;
    if (x->rank == 3 || x->rank == 4)
        nn.spatial = x->rank - 2;
    qmac_dims xd;
    if ((st = spatial_dims(&nn, x, &xd)))
        return st;
    if (w->rank != x->rank)
        return FAIL(QMAC_ERR_SHAPE, n, "weight rank %d differs from input rank %d", (int)w->rank,
                    (int)x->rank);
    const int32_t M = (int32_t)w->shape[0], cpg = (int32_t)w->shape[1];
    const int32_t kh = nn.spatial == 2 ? (int32_t)w->shape[2] : 1, kw = (int32_t)w->shape[w->rank - 1];
    if (n->group < 1 || M % n->group || cpg * n->group != xd.c)
        return FAIL(QMAC_ERR_SHAPE, n, "input channels %d, weight [%d, %d, ...] and group %d do not fit",
                    (int)xd.c, (int)M, (int)cpg, (int)n->group);
    if (b && qmac_tensor_count(b) != (size_t)M)
        return FAIL(QMAC_ERR_SHAPE, n, "bias has %zu values for %d output channels", qmac_tensor_count(b),
                    (int)M);
    const int32_t sh = nn.spatial == 2 ? n->strides[0] : 1, sw = n->strides[1];
    const int32_t dh = nn.spatial == 2 ? n->dilations[0] : 1, dw = n->dilations[1];
    nn.strides[0] = sh;
    nn.dilations[0] = dh;
    int32_t pt = 0, pb = 0, pl, pr, oh = 1, ow;
    if (nn.spatial == 2 && (st = qmac_node_conv_axis(&nn, 0, xd.h, kh, &pt, &pb, &oh)))
        return st;
    if ((st = qmac_node_conv_axis(&nn, 1, xd.w, kw, &pl, &pr, &ow)))
        return st;
    int64_t ysh[4] = {xd.n, M, oh, ow};
    if (nn.spatial == 1)
        ysh[2] = ow;
    if ((st = make_out(e, n, 0, QMAC_DT_FLOAT32, x->rank, ysh, &y)))
        return st;
    const float *xv = x->data, *wv = w->data, *bv = b ? b->data : NULL;
    float *yv = y->data;
    const int32_t mpg = M / n->group;
    for (int32_t in = 0; in < xd.n; ++in)
        for (int32_t m = 0; m < M; ++m) {
            const int32_t c0 = m / mpg * cpg;
            for (int32_t oy = 0; oy < oh; ++oy)
                for (int32_t ox = 0; ox < ow; ++ox) {
                    double acc = bv ? bv[m] : 0.0;
                    for (int32_t ci = 0; ci < cpg; ++ci)
                        for (int32_t ky = 0; ky < kh; ++ky) {
                            const int32_t iy = oy * sh - pt + ky * dh;
                            if (iy < 0 || iy >= xd.h)
                                continue;
                            const float *xr =
                                xv + (((size_t)in * (size_t)xd.c + (size_t)(c0 + ci)) * (size_t)xd.h +
                                      (size_t)iy) *
                                         (size_t)xd.w;
                            const float *wr =
                                wv + (((size_t)m * (size_t)cpg + (size_t)ci) * (size_t)kh + (size_t)ky) *
                                         (size_t)kw;
                            for (int32_t kx = 0; kx < kw; ++kx) {
                                const int32_t ix = ox * sw - pl + kx * dw;
                                if (ix >= 0 && ix < xd.w)
                                    acc += (double)xr[ix] * wr[kx];
                            }
                        }
                    yv[(((size_t)in * (size_t)M + (size_t)m) * (size_t)oh + (size_t)oy) * (size_t)ow +
                       (size_t)ox] = (float)acc;
                }
        }
    return QMAC_OK;
}

/* The output of a QONNX layer from its accumulators (graph.h, qmac_qonnx_stage): element i is
 * channel (i / inner) % nch. */
static qmac_status qonnx_out(exec_t *e, const qmac_node *n, const int32_t *acc, int32_t rank,
                             const int64_t *shape, size_t inner)
{
    const qmac_qonnx_stage *s = n->qs;
    if (s->need_rank && rank != s->need_rank)
        return FAIL(QMAC_ERR_SHAPE, n,
                    "the output stage normalizes axis 1, so the output must be %d-D (it is %d-D)",
                    (int)s->need_rank, (int)rank);
    qmac_tensor *y;
    qmac_status st =
        make_out(e, n, 0, s->oq == QMAC_OQ_FLOAT ? QMAC_DT_FLOAT32 : n->qy.dtype, rank, shape, &y);
    if (st != QMAC_OK)
        return st;
    const size_t cnt = qmac_tensor_count(y);
    for (size_t i = 0; i < cnt; ++i) {
        const int32_t c = (int32_t)(i / inner % (size_t)s->nch);
        const float v = qmac_qonnx_value(s, c, acc[i]);
        if (s->oq == QMAC_OQ_FLOAT)
            ((float *)y->data)[i] = v;
        else
            qmac_store_int(y->dtype, y->data, i, qmac_qonnx_code(s, c, v));
    }
    return QMAC_OK;
}

static qmac_status run_conv(exec_t *e, const qmac_node *n)
{
    if (n->fp)
        return run_conv_float(e, n);
    const qmac_tensor *x, *w, *b = NULL;
    qmac_status st;
    if ((st = operand(e, n, 0, &x)) || (st = operand(e, n, 1, &w)))
        return st;
    if (n->n_in > 2 && (st = operand(e, n, 2, &b)))
        return st;
    qmac_node nn =
        *n; /* spatial rank comes from the input for ConvInteger/QLinearConv without kernel_shape */
    if (x->rank == 3 || x->rank == 4)
        nn.spatial = x->rank - 2;
    qmac_dims xd;
    if ((st = spatial_dims(&nn, x, &xd)) || (st = check_q8(n, x, &n->qx, "input")) ||
        (st = check_q8(n, w, &n->qw, "weight")))
        return st;
    if (w->rank != x->rank)
        return FAIL(QMAC_ERR_SHAPE, n, "weight rank %d differs from input rank %d", (int)w->rank,
                    (int)x->rank);
    const int32_t M = (int32_t)w->shape[0];
    const int32_t kh = nn.spatial == 2 ? (int32_t)w->shape[2] : 1, kw = (int32_t)w->shape[w->rank - 1];
    if (n->kernel[1] && (n->kernel[0] != kh || n->kernel[1] != kw))
        return FAIL(QMAC_ERR_SHAPE, n, "kernel_shape does not match the weight shape");
    if (n->group < 1 || xd.c % n->group || M % n->group || w->shape[1] * n->group != xd.c)
        return FAIL(QMAC_ERR_SHAPE, n, "input channels %d, weight [%d, %lld, ...] and group %d do not fit",
                    (int)xd.c, (int)M, (long long)w->shape[1], (int)n->group);
    if (b && (st = check_bias(n, b, M)))
        return st;
    qmac_conv_params p;
    memset(&p, 0, sizeof p);
    p.stride_h = nn.spatial == 2 ? n->strides[0] : 1;
    p.stride_w = n->strides[1];
    p.dil_h = nn.spatial == 2 ? n->dilations[0] : 1;
    p.dil_w = n->dilations[1];
    p.groups = n->group;
    qmac_dims yd = {xd.n, 1, 1, M};
    nn.strides[0] = p.stride_h;
    nn.dilations[0] = p.dil_h;
    if (nn.spatial == 2) {
        if ((st = qmac_node_conv_axis(&nn, 0, xd.h, kh, &p.pad_top, &p.pad_bottom, &yd.h)))
            return st;
    }
    if ((st = qmac_node_conv_axis(&nn, 1, xd.w, kw, &p.pad_left, &p.pad_right, &yd.w)))
        return st;
    const qmac_dims wd = {M, kh, kw, (int32_t)w->shape[1]};
    if ((st = qmac_conv2d_check(&p, &xd, &wd, &yd)))
        return FAIL(st, n, "%s", qmac_last_error());

    int64_t yshape[4] = {yd.n, M, yd.h, yd.w};
    if (nn.spatial == 1)
        yshape[2] = yd.w;
    const size_t xs = (size_t)xd.h * (size_t)xd.w, ys = (size_t)yd.h * (size_t)yd.w;
    const size_t wk = (size_t)kh * (size_t)kw;
    void *xh = malloc(qmac_tensor_nbytes(x));
    void *wh = malloc(qmac_tensor_nbytes(w));
    int32_t *acc = malloc(qmac_dims_count(&yd) * sizeof *acc);
    int32_t *acc_nchw = malloc(qmac_dims_count(&yd) * sizeof *acc);
    int32_t *wzp = NULL;
    rq_buf r;
    memset(&r, 0, sizeof r);
    qmac_tensor *y;
    if (!xh || !wh || !acc || !acc_nchw) {
        st = FAIL(QMAC_ERR_NOMEM, n, "out of memory");
        goto out;
    }
    nchw_to_nhwc(x->data, 1, (size_t)xd.n, (size_t)xd.c, xs, xh);
    nchw_to_nhwc(w->data, 1, (size_t)M, (size_t)w->shape[1], wk, wh); /* OIHW -> OHWI */
    if ((st = w_zero_points(n, M, &wzp)))
        goto out;
    const qmac_qbuf xb = {x->dtype, xh, n->qx.zp[0], NULL};
    const qmac_qbuf wb = {w->dtype, wh, n->qw.zp[0], wzp};
    if ((st = qmac_conv2d_acc(&p, &xd, &xb, &wd, &wb, b ? b->data : NULL, &yd, acc))) {
        st = FAIL(st, n, "%s", qmac_last_error());
        goto out;
    }
    nhwc_to_nchw(acc, sizeof *acc, (size_t)yd.n, (size_t)M, ys, acc_nchw);
    if (n->qs) {
        st = qonnx_out(e, n, acc_nchw, x->rank, yshape, ys);
        goto out;
    }
    if (n->out_int32) {
        if ((st = make_out(e, n, 0, QMAC_DT_INT32, x->rank, yshape, &y)))
            goto out;
        memcpy(y->data, acc_nchw, qmac_dims_count(&yd) * sizeof *acc);
        goto out;
    }
    if ((st = rq_setup(e, n, M, &r)) || (st = make_out(e, n, 0, n->qy.dtype, x->rank, yshape, &y)))
        goto out;
    for (size_t i = 0; i < qmac_dims_count(&yd); ++i)
        qmac_store_int(y->dtype, y->data, i,
                       qmac_requant_one(&r.rq, (int32_t)((i / ys) % (size_t)M), acc_nchw[i]));
out:
    free(xh);
    free(wh);
    free(acc);
    free(acc_nchw);
    free(wzp);
    rq_free(&r);
    return st;
}

/* ------------------------------------------------------------------ broadcasting */

/* numpy broadcast of a and b shapes into out; per-dim strides of a and b over out (0 = repeat). */
typedef struct {
    int32_t rank;
    int64_t shape[QMAC_MAX_RANK];
    size_t sa[QMAC_MAX_RANK], sb[QMAC_MAX_RANK];
} bcast;

static int bcast_init(int32_t ra, const int64_t *a, int32_t rb, const int64_t *b, bcast *o)
{
    o->rank = ra > rb ? ra : rb;
    size_t stra = 1, strb = 1;
    for (int32_t k = o->rank - 1; k >= 0; --k) {
        const int32_t ia = k - (o->rank - ra), ib = k - (o->rank - rb);
        const int64_t da = ia >= 0 ? a[ia] : 1, db = ib >= 0 ? b[ib] : 1;
        if (da != db && da != 1 && db != 1)
            return -1;
        o->shape[k] = da == 1 ? db : da;
        o->sa[k] = da == 1 ? 0 : stra;
        o->sb[k] = db == 1 ? 0 : strb;
        stra *= (size_t)da;
        strb *= (size_t)db;
    }
    return 0;
}

static void bcast_index(const bcast *o, size_t i, size_t *ia, size_t *ib)
{
    *ia = *ib = 0;
    for (int32_t k = o->rank - 1; k >= 0; --k) {
        const size_t d = (size_t)o->shape[k];
        const size_t c = i % d;
        i /= d;
        *ia += c * o->sa[k];
        *ib += c * o->sb[k];
    }
}

/* ------------------------------------------------------------------ matmul */

/* Float MatMul / Gemm: A [..., M, K] times a 2-D B ([K, N], or [N, K] with transB), plus an
 * optional bias of N values or of the output's shape; double sums rounded once. */
static qmac_status run_matmul_float(exec_t *e, const qmac_node *n)
{
    const qmac_tensor *a, *b, *c = NULL;
    qmac_tensor *y;
    qmac_status st;
    if ((st = operand(e, n, 0, &a)) || (st = operand(e, n, 1, &b)) ||
        (n->n_in > 2 && (st = operand(e, n, 2, &c))))
        return st;
    if ((st = check_float(n, a, "A")) || (st = check_float(n, b, "B")) ||
        (c && (st = check_float(n, c, "C"))))
        return st;
    if (a->rank < 2 || b->rank != 2)
        return FAIL(QMAC_ERR_UNSUPPORTED, n, "a float matmul needs A of rank >= 2 and a 2-D B (ranks %d, %d)",
                    (int)a->rank, (int)b->rank);
    const int64_t K = a->shape[a->rank - 1], N = n->trans_b ? b->shape[0] : b->shape[1];
    if ((n->trans_b ? b->shape[1] : b->shape[0]) != K)
        return FAIL(QMAC_ERR_SHAPE, n, "A has K = %lld, B does not match", (long long)K);
    int64_t ysh[QMAC_MAX_RANK];
    memcpy(ysh, a->shape, sizeof(int64_t) * (size_t)a->rank);
    ysh[a->rank - 1] = N;
    if ((st = make_out(e, n, 0, QMAC_DT_FLOAT32, a->rank, ysh, &y)))
        return st;
    const size_t rows = qmac_tensor_count(a) / (size_t)K, cnt = qmac_tensor_count(y);
    const size_t nc = c ? qmac_tensor_count(c) : 0;
    if (c && nc != (size_t)N && nc != cnt && nc != 1)
        return FAIL(QMAC_ERR_SHAPE, n, "bias of %zu values for an output of %zu", nc, cnt);
    const float *av = a->data, *bv = b->data, *cv = c ? c->data : NULL;
    float *yv = y->data;
    for (size_t r = 0; r < rows; ++r)
        for (int64_t j = 0; j < N; ++j) {
            double acc = !cv ? 0.0 : nc == cnt ? cv[r * (size_t)N + (size_t)j] : cv[nc == 1 ? 0 : (size_t)j];
            for (int64_t k = 0; k < K; ++k)
                acc += (double)av[r * (size_t)K + (size_t)k] *
                       bv[n->trans_b ? (size_t)j * (size_t)K + (size_t)k : (size_t)k * (size_t)N + (size_t)j];
            yv[r * (size_t)N + (size_t)j] = (float)acc;
        }
    return QMAC_OK;
}

static qmac_status run_matmul(exec_t *e, const qmac_node *n)
{
    if (n->fp)
        return run_matmul_float(e, n);
    const qmac_tensor *a, *b, *bias = NULL;
    qmac_status st;
    if ((st = operand(e, n, 0, &a)) || (st = operand(e, n, 1, &b)))
        return st;
    if (n->n_in > 2 && (st = operand(e, n, 2, &bias)))
        return st;
    if ((st = check_q8(n, a, &n->qx, "A")) || (st = check_q8(n, b, &n->qw, "B")))
        return st;
    if (a->rank < 1 || b->rank < 1)
        return FAIL(QMAC_ERR_SHAPE, n, "matmul operands must have rank >= 1");
    if (n->trans_b && b->rank != 2)
        return FAIL(QMAC_ERR_SHAPE, n, "Gemm B must be 2-D");
    /* promote 1-D operands as numpy.matmul does */
    int64_t ash[QMAC_MAX_RANK + 1], bsh[QMAC_MAX_RANK + 1];
    int32_t ra = a->rank, rb = b->rank;
    memcpy(ash, a->shape, sizeof(int64_t) * (size_t)ra);
    memcpy(bsh, b->shape, sizeof(int64_t) * (size_t)rb);
    if (n->trans_b) {
        int64_t t = bsh[0];
        bsh[0] = bsh[1];
        bsh[1] = t;
    }
    const int a1 = ra == 1, b1 = rb == 1;
    if (a1) {
        ash[1] = ash[0];
        ash[0] = 1;
        ra = 2;
    }
    if (b1) {
        bsh[1] = 1;
        rb = 2;
    }
    const int64_t M = ash[ra - 2], K = ash[ra - 1], N = bsh[rb - 1];
    if (bsh[rb - 2] != K)
        return FAIL(QMAC_ERR_SHAPE, n, "A has K = %lld but B has K = %lld", (long long)K,
                    (long long)bsh[rb - 2]);
    if (M > INT32_MAX || K > INT32_MAX || N > INT32_MAX)
        return FAIL(QMAC_ERR_SHAPE, n, "matrix too large");
    bcast bc;
    if (bcast_init(ra - 2, ash, rb - 2, bsh, &bc))
        return FAIL(QMAC_ERR_SHAPE, n, "batch dimensions do not broadcast");
    if (bias && (st = check_bias(n, bias, (int32_t)N)))
        return st;
    int64_t ysh[QMAC_MAX_RANK + 2];
    int32_t ry = 0;
    for (int32_t k = 0; k < bc.rank; ++k)
        ysh[ry++] = bc.shape[k];
    if (!a1)
        ysh[ry++] = M;
    if (!b1)
        ysh[ry++] = N;
    if (ry > QMAC_MAX_RANK)
        return FAIL(QMAC_ERR_UNSUPPORTED, n, "output rank too large");
    size_t batches = 1;
    for (int32_t k = 0; k < bc.rank; ++k)
        batches *= (size_t)bc.shape[k];
    const size_t mk = (size_t)(M * K), kn = (size_t)(K * N), mn = (size_t)(M * N);
    int32_t *acc = malloc((batches * mn + 1) * sizeof *acc);
    void *bt = NULL;
    int32_t *bzp = NULL;
    rq_buf r;
    memset(&r, 0, sizeof r);
    qmac_tensor *y;
    if (!acc) {
        st = FAIL(QMAC_ERR_NOMEM, n, "out of memory");
        goto out;
    }
    const void *bdata = b->data;
    if (n->trans_b) { /* [N, K] -> [K, N] */
        bt = malloc(kn + 1);
        if (!bt) {
            st = FAIL(QMAC_ERR_NOMEM, n, "out of memory");
            goto out;
        }
        for (int64_t i = 0; i < N; ++i)
            for (int64_t k = 0; k < K; ++k)
                ((uint8_t *)bt)[k * N + i] = ((const uint8_t *)b->data)[i * K + k];
        bdata = bt;
    }
    if ((st = w_zero_points(n, (int32_t)N, &bzp)))
        goto out;
    for (size_t bi = 0; bi < batches; ++bi) {
        size_t ia, ib;
        bcast_index(&bc, bi, &ia, &ib);
        const qmac_qbuf ab = {a->dtype, (const uint8_t *)a->data + ia * mk, n->qx.zp[0], NULL};
        const qmac_qbuf bb = {b->dtype, (const uint8_t *)bdata + ib * kn, n->qw.zp[0], bzp};
        if ((st = qmac_matmul_acc((int32_t)M, (int32_t)K, (int32_t)N, &ab, &bb, bias ? bias->data : NULL,
                                  acc + bi * mn))) {
            st = FAIL(st, n, "%s", qmac_last_error());
            goto out;
        }
    }
    const size_t total = batches * mn;
    if (n->qs) {
        st = qonnx_out(e, n, acc, ry, ysh, 1);
        goto out;
    }
    if (n->out_int32) {
        if ((st = make_out(e, n, 0, QMAC_DT_INT32, ry, ysh, &y)))
            goto out;
        if (total)
            memcpy(y->data, acc, total * sizeof *acc);
        goto out;
    }
    if ((st = rq_setup(e, n, (int32_t)N, &r)) || (st = make_out(e, n, 0, n->qy.dtype, ry, ysh, &y)))
        goto out;
    qmac_requant_tensor(&r.rq, acc, total, y->dtype, y->data);
out:
    free(acc);
    free(bt);
    free(bzp);
    rq_free(&r);
    return st;
}

/* ------------------------------------------------------------------ add */

/* A float model's Add: float32 sums, numpy broadcasting. */
static qmac_status run_add_float(exec_t *e, const qmac_node *n)
{
    const qmac_tensor *a, *b;
    qmac_tensor *y;
    qmac_status st;
    if ((st = operand(e, n, 0, &a)) || (st = operand(e, n, 1, &b)) || (st = check_float(n, a, "A")) ||
        (st = check_float(n, b, "B")))
        return st;
    bcast bc;
    if (bcast_init(a->rank, a->shape, b->rank, b->shape, &bc))
        return FAIL(QMAC_ERR_SHAPE, n, "input shapes do not broadcast");
    if ((st = make_out(e, n, 0, QMAC_DT_FLOAT32, bc.rank, bc.shape, &y)))
        return st;
    for (size_t i = 0, cnt = qmac_tensor_count(y); i < cnt; ++i) {
        size_t ia, ib;
        bcast_index(&bc, i, &ia, &ib);
        ((float *)y->data)[i] = ((const float *)a->data)[ia] + ((const float *)b->data)[ib];
    }
    return QMAC_OK;
}

static qmac_status run_add(exec_t *e, const qmac_node *n)
{
    if (n->fp)
        return run_add_float(e, n);
    const qmac_tensor *a, *b;
    qmac_tensor *y;
    qmac_status st;
    if ((st = operand(e, n, 0, &a)) || (st = operand(e, n, 1, &b)) || (st = check_q8(n, a, &n->qx, "A")) ||
        (st = check_q8(n, b, &n->qw, "B")))
        return st;
    bcast bc;
    if (bcast_init(a->rank, a->shape, b->rank, b->shape, &bc))
        return FAIL(QMAC_ERR_SHAPE, n, "input shapes do not broadcast");
    qmac_add_pair pair;
    if ((st = qmac_add_pair_prepare(
             n, e->rule, qmac_add_onnxrt_a_is_scalar(a->rank, a->shape, bc.rank, bc.shape), &pair)) ||
        (st = make_out(e, n, 0, n->qy.dtype, bc.rank, bc.shape, &y)))
        return st;
    const size_t cnt = qmac_tensor_count(y);
    for (size_t i = 0; i < cnt; ++i) {
        size_t ia, ib;
        bcast_index(&bc, i, &ia, &ib);
        const int32_t va = qmac_load_int(a->dtype, a->data, ia), vb = qmac_load_int(b->dtype, b->data, ib);
        qmac_store_int(y->dtype, y->data, i, qmac_add_pair_eval(&pair, va, vb));
    }
    return QMAC_OK;
}

/* ------------------------------------------------------------------ pooling */

/* Pool geometry; crop_h/crop_w rows/columns are removed from the start of the input first. */
static qmac_status pool_geometry(const qmac_node *n, const qmac_tensor *x, qmac_dims *xd, qmac_pool_params *p,
                                 qmac_dims *yd, int64_t *yshape, int32_t *crop_h, int32_t *crop_w)
{
    qmac_status st;
    qmac_node nn = *n;
    if ((st = spatial_dims(&nn, x, xd)))
        return st;
    memset(p, 0, sizeof *p);
    p->k_h = n->spatial == 2 ? n->kernel[0] : 1;
    p->k_w = n->kernel[1];
    p->stride_h = n->spatial == 2 ? n->strides[0] : 1;
    p->stride_w = n->strides[1];
    p->dil_h = n->spatial == 2 ? n->dilations[0] : 1;
    p->dil_w = n->dilations[1];
    *yd = (qmac_dims){xd->n, 1, 1, xd->c};
    *crop_h = 0;
    if (n->spatial == 2 && (st = qmac_node_pool_axis(n, 0, xd->h, p->k_h, p->stride_h, p->dil_h, crop_h,
                                                     &p->pad_top, &p->pad_bottom, &yd->h)))
        return st;
    if ((st = qmac_node_pool_axis(n, 1, xd->w, p->k_w, p->stride_w, p->dil_w, crop_w, &p->pad_left,
                                  &p->pad_right, &yd->w)))
        return st;
    yshape[0] = yd->n;
    yshape[1] = yd->c;
    yshape[2] = n->spatial == 2 ? yd->h : yd->w;
    yshape[3] = yd->w;
    return QMAC_OK;
}

static qmac_status run_pool_on(exec_t *e, const qmac_node *n, const qmac_tensor *x, qmac_tensor *cropped);

static qmac_status run_pool(exec_t *e, const qmac_node *n)
{
    const qmac_tensor *x;
    qmac_tensor cropped;
    memset(&cropped, 0, sizeof cropped);
    qmac_status st = operand(e, n, 0, &x);
    if (st == QMAC_OK)
        st = run_pool_on(e, n, x, &cropped);
    qmac_tensor_free(&cropped);
    return st;
}

static qmac_status run_pool_on(exec_t *e, const qmac_node *n, const qmac_tensor *x, qmac_tensor *cropped)
{
    qmac_tensor *y;
    qmac_status st;
    qmac_dims xd, yd;
    qmac_pool_params p;
    int64_t ysh[4];
    if (n->op == QMAC_NODE_GLOBAL_AVGPOOL) {
        if (x->rank < 3)
            return FAIL(QMAC_ERR_SHAPE, n, "input rank %d < 3", (int)x->rank);
        qmac_node nn = *n;
        nn.spatial = x->rank - 2;
        if (nn.spatial > 2)
            return FAIL(QMAC_ERR_UNSUPPORTED, n, "%d-D pooling", (int)nn.spatial);
        if ((st = spatial_dims(&nn, x, &xd)))
            return st;
        yd = (qmac_dims){xd.n, 1, 1, xd.c};
        ysh[0] = xd.n;
        ysh[1] = xd.c;
        ysh[2] = ysh[3] = 1;
    } else {
        int32_t ch, cw;
        if ((st = pool_geometry(n, x, &xd, &p, &yd, ysh, &ch, &cw)))
            return st;
        if (ch || cw) { /* ORT's negative SAME head pad: drop the leading rows/columns */
            int64_t csh[4] = {xd.n, xd.c, xd.h - ch, xd.w - cw};
            const int32_t cr = n->spatial == 2 ? 4 : 3;
            if (cr == 3)
                csh[2] = xd.w - cw;
            qmac_tensor *tmp = cropped;
            if ((st = qmac_tensor_alloc(tmp, x->dtype, cr, csh)))
                return FAIL(st, n, "%s", qmac_last_error());
            const size_t esz = qmac_dtype_size(x->dtype);
            for (int32_t b = 0; b < xd.n * xd.c; ++b)
                for (int32_t r = ch; r < xd.h; ++r)
                    memcpy((uint8_t *)tmp->data +
                               (((size_t)b * (size_t)(xd.h - ch) + (size_t)(r - ch)) * (size_t)(xd.w - cw)) *
                                   esz,
                           (const uint8_t *)x->data +
                               (((size_t)b * (size_t)xd.h + (size_t)r) * (size_t)xd.w + (size_t)cw) * esz,
                           (size_t)(xd.w - cw) * esz);
            x = tmp;
            xd.h -= ch;
            xd.w -= cw;
        }
    }
    const int32_t rank = x->rank;
    if ((n->op == QMAC_NODE_MAXPOOL || n->fp) && is_float(x->dtype)) { /* float: max, or sum / count */
        const int avg = n->op != QMAC_NODE_MAXPOOL;
        if (n->op == QMAC_NODE_GLOBAL_AVGPOOL)
            p = (qmac_pool_params){
                .k_h = xd.h, .k_w = xd.w, .stride_h = 1, .stride_w = 1, .dil_h = 1, .dil_w = 1};
        if ((st = make_out(e, n, 0, x->dtype, rank, ysh, &y)))
            return st;
        for (int32_t b = 0; b < xd.n; ++b)
            for (int32_t c = 0; c < xd.c; ++c)
                for (int32_t oy = 0; oy < yd.h; ++oy)
                    for (int32_t ox = 0; ox < yd.w; ++ox) {
                        double m = avg ? 0.0 : -INFINITY, count = 0;
                        for (int32_t ky = 0; ky < p.k_h; ++ky)
                            for (int32_t kx = 0; kx < p.k_w; ++kx) {
                                const int32_t iy = oy * p.stride_h - p.pad_top + ky * p.dil_h;
                                const int32_t ix = ox * p.stride_w - p.pad_left + kx * p.dil_w;
                                if (n->count_include_pad && iy < xd.h + p.pad_bottom &&
                                    ix < xd.w + p.pad_right)
                                    ++count; /* pads count, the ceil-mode overhang does not */
                                if (iy < 0 || iy >= xd.h || ix < 0 || ix >= xd.w)
                                    continue;
                                const double v = load_f(
                                    x, (((size_t)b * (size_t)xd.c + (size_t)c) * (size_t)xd.h + (size_t)iy) *
                                               (size_t)xd.w +
                                           (size_t)ix);
                                if (avg) {
                                    m += v;
                                    count += !n->count_include_pad;
                                } else if (v > m || isnan(v)) {
                                    m = v;
                                }
                            }
                        if (avg)
                            m = (float)m / (float)count;
                        store_f(y,
                                (((size_t)b * (size_t)xd.c + (size_t)c) * (size_t)yd.h + (size_t)oy) *
                                        (size_t)yd.w +
                                    (size_t)ox,
                                m);
                    }
        return QMAC_OK;
    }
    if (!is_q8(x->dtype))
        return FAIL(QMAC_ERR_UNSUPPORTED, n, "pooling on %s tensors", qmac_dtype_name(x->dtype));
    if (n->op != QMAC_NODE_MAXPOOL && (st = check_q8(n, x, &n->qx, "input")))
        return st;
    if (n->op != QMAC_NODE_MAXPOOL && (n->qx.n != 1 || n->qy.n != 1 || n->qx.dtype != n->qy.dtype))
        return FAIL(QMAC_ERR_UNSUPPORTED, n, "pooling needs per-tensor quantization of one type");
    const size_t S = (size_t)xd.h * (size_t)xd.w, SY = (size_t)yd.h * (size_t)yd.w;
    void *xh = malloc(qmac_tensor_nbytes(x) + 1);
    void *yh = malloc(qmac_dims_count(&yd) + 1);
    if (!xh || !yh) {
        free(xh);
        free(yh);
        return FAIL(QMAC_ERR_NOMEM, n, "out of memory");
    }
    nchw_to_nhwc(x->data, 1, (size_t)xd.n, (size_t)xd.c, S, xh);
    const qmac_dtype dt = x->dtype;
    int32_t lo, hi;
    qmac_node_out_range(n, dt, &lo, &hi);
    const int same_q = n->qx.n && n->qy.n && n->qx.scale[0] == n->qy.scale[0] && n->qx.zp[0] == n->qy.zp[0];
    switch (n->op) {
    case QMAC_NODE_MAXPOOL: st = qmac_maxpool(&p, &xd, dt, xh, &yd, lo, hi, yh); break;
    case QMAC_NODE_AVGPOOL:
        if (e->rule == QMAC_REQUANT_ONNXRT) {
            st = qmac_avgpool_onnxrt(&p, n->count_include_pad, &xd, dt, xh, n->qx.scale[0], n->qx.zp[0], &yd,
                                     n->qy.scale[0], n->qy.zp[0], yh);
        } else if (!same_q || n->count_include_pad) {
            st = qmac_set_error(QMAC_ERR_UNSUPPORTED,
                                "the %s rule's average pool needs equal input/output "
                                "quantization and count_include_pad=0",
                                qmac_requant_rule_name(e->rule));
        } else {
            st = qmac_avgpool_tflite(&p, &xd, dt, xh, &yd, lo, hi, yh);
        }
        break;
    default: /* global average pool */
        if (e->rule == QMAC_REQUANT_ONNXRT)
            st = qmac_global_avgpool_onnxrt(&xd, dt, xh, n->qx.scale[0], n->qx.zp[0], n->qy.scale[0],
                                            n->qy.zp[0], yh);
        else if (!same_q)
            st = qmac_set_error(QMAC_ERR_UNSUPPORTED,
                                "the %s rule's global average pool needs equal "
                                "input/output quantization",
                                qmac_requant_rule_name(e->rule));
        else
            st = qmac_global_avgpool_tflite(&xd, dt, xh, lo, hi, yh);
        break;
    }
    if (st == QMAC_OK && (st = make_out(e, n, 0, dt, rank, ysh, &y)) == QMAC_OK)
        nhwc_to_nchw(yh, 1, (size_t)yd.n, (size_t)yd.c, SY, y->data);
    else if (st != QMAC_OK)
        st = FAIL(st, n, "%s", qmac_last_error());
    free(xh);
    free(yh);
    return st;
}

/* ------------------------------------------------------------------ elementwise clamp */

static qmac_status run_clamp(exec_t *e, const qmac_node *n)
{
    const qmac_tensor *x;
    qmac_tensor *y;
    qmac_status st;
    if ((st = operand(e, n, 0, &x)) || (st = make_out(e, n, 0, x->dtype, x->rank, x->shape, &y)))
        return st;
    const size_t cnt = qmac_tensor_count(x);
    int32_t qmin, qmax;
    if (qmac_dtype_range(x->dtype, &qmin, &qmax) || x->dtype == QMAC_DT_INT32) {
        if (x->dtype == QMAC_DT_INT32) {
            qmin = INT32_MIN;
            qmax = INT32_MAX;
        }
        double lo = n->has_lo ? ceil(n->lo) : qmin, hi = n->has_hi ? floor(n->hi) : qmax;
        lo = lo < qmin ? qmin : lo > qmax ? qmax : lo;
        hi = hi < qmin ? qmin : hi > qmax ? qmax : hi;
        for (size_t i = 0; i < cnt; ++i) {
            int32_t v = qmac_load_int(x->dtype, x->data, i);
            if (v < (int32_t)lo)
                v = (int32_t)lo;
            if (v > (int32_t)hi)
                v = (int32_t)hi;
            qmac_store_int(y->dtype, y->data, i, v);
        }
        return QMAC_OK;
    }
    if (!is_float(x->dtype))
        return FAIL(QMAC_ERR_UNSUPPORTED, n, "clamp on %s tensors", qmac_dtype_name(x->dtype));
    for (size_t i = 0; i < cnt; ++i) {
        double v = load_f(x, i);
        if (n->has_lo && v < n->lo)
            v = (float)n->lo;
        if (n->has_hi && v > n->hi)
            v = (float)n->hi;
        store_f(y, i, v);
    }
    return QMAC_OK;
}

/* ------------------------------------------------------------------ data movement */

static qmac_status run_reshape(exec_t *e, const qmac_node *n)
{
    const qmac_tensor *x;
    qmac_tensor *y;
    qmac_status st;
    if ((st = operand(e, n, 0, &x)))
        return st;
    int64_t sh[QMAC_MAX_RANK];
    int32_t r = 0;
    const size_t cnt = qmac_tensor_count(x);
    if ((st = qmac_node_reshape_shape(e->g, n, x->rank, x->shape, &r, sh)))
        return st;
    if ((st = make_out(e, n, 0, x->dtype, r, sh, &y)))
        return st;
    if (cnt)
        memcpy(y->data, x->data, qmac_tensor_nbytes(x));
    return QMAC_OK;
}

static qmac_status run_transpose(exec_t *e, const qmac_node *n)
{
    const qmac_tensor *x;
    qmac_tensor *y;
    qmac_status st;
    if ((st = operand(e, n, 0, &x)))
        return st;
    const int32_t r = x->rank;
    int32_t perm[QMAC_MAX_RANK];
    int seen[QMAC_MAX_RANK] = {0};
    if (n->n_perm && n->n_perm != r)
        return FAIL(QMAC_ERR_SHAPE, n, "perm has %d entries for rank %d", (int)n->n_perm, (int)r);
    for (int32_t k = 0; k < r; ++k) {
        perm[k] = n->n_perm ? n->perm[k] : r - 1 - k;
        if (perm[k] < 0 || perm[k] >= r || seen[perm[k]]++)
            return FAIL(QMAC_ERR_INVALID_ARG, n, "perm is not a permutation");
    }
    int64_t sh[QMAC_MAX_RANK];
    for (int32_t k = 0; k < r; ++k)
        sh[k] = x->shape[perm[k]];
    if ((st = make_out(e, n, 0, x->dtype, r, sh, &y)))
        return st;
    size_t xstr[QMAC_MAX_RANK];
    size_t acc = 1;
    for (int32_t k = r - 1; k >= 0; --k) {
        xstr[k] = acc;
        acc *= (size_t)x->shape[k];
    }
    const size_t esz = qmac_dtype_size(x->dtype), cnt = qmac_tensor_count(y);
    for (size_t i = 0; i < cnt; ++i) {
        size_t rem = i, src = 0;
        for (int32_t k = r - 1; k >= 0; --k) {
            const size_t c = rem % (size_t)sh[k];
            rem /= (size_t)sh[k];
            src += c * xstr[perm[k]];
        }
        memcpy((uint8_t *)y->data + i * esz, (const uint8_t *)x->data + src * esz, esz);
    }
    return QMAC_OK;
}

static qmac_status run_concat(exec_t *e, const qmac_node *n)
{
    const qmac_tensor *xs[QMAC_MAX_NODE_IO];
    qmac_tensor *y;
    qmac_status st;
    for (int32_t k = 0; k < n->n_in; ++k)
        if ((st = operand(e, n, k, &xs[k])))
            return st;
    const qmac_tensor *x0 = xs[0];
    const int32_t r = x0->rank;
    const int32_t ax = n->axis < 0 ? n->axis + r : n->axis;
    if (ax < 0 || ax >= r)
        return FAIL(QMAC_ERR_INVALID_ARG, n, "axis %d for rank %d", (int)n->axis, (int)r);
    const qmac_dtype out_dt = n->qin ? n->qy.dtype : x0->dtype;
    int64_t sh[QMAC_MAX_RANK];
    memcpy(sh, x0->shape, sizeof(int64_t) * (size_t)r);
    sh[ax] = 0;
    for (int32_t k = 0; k < n->n_in; ++k) {
        if (xs[k]->rank != r)
            return FAIL(QMAC_ERR_SHAPE, n, "input %d has rank %d, expected %d", (int)k, (int)xs[k]->rank,
                        (int)r);
        if (xs[k]->dtype != (n->qin ? n->qin[k].dtype : x0->dtype))
            return FAIL(QMAC_ERR_INVALID_ARG, n, "input %d is %s", (int)k, qmac_dtype_name(xs[k]->dtype));
        for (int32_t d = 0; d < r; ++d)
            if (d != ax && xs[k]->shape[d] != x0->shape[d])
                return FAIL(QMAC_ERR_SHAPE, n, "input %d differs in dimension %d", (int)k, (int)d);
        sh[ax] += xs[k]->shape[ax];
    }
    if ((st = make_out(e, n, 0, out_dt, r, sh, &y)))
        return st;
    size_t outer = 1, inner = 1;
    for (int32_t d = 0; d < ax; ++d)
        outer *= (size_t)sh[d];
    for (int32_t d = ax + 1; d < r; ++d)
        inner *= (size_t)sh[d];
    const size_t esz = qmac_dtype_size(out_dt);
    size_t off = 0; /* offset along the axis */
    for (int32_t k = 0; k < n->n_in; ++k) {
        const qmac_tensor *x = xs[k];
        const size_t len = (size_t)x->shape[ax] * inner;
        const int requant =
            n->qin && !(n->qin[k].scale[0] == n->qy.scale[0] && n->qin[k].zp[0] == n->qy.zp[0]);
        qmac_requant_elem rq;
        if (requant)
            qmac_requant_elem_prepare(&n->qin[k], &n->qy, &rq);
        for (size_t o = 0; o < outer; ++o) {
            const size_t dst = o * (size_t)sh[ax] * inner + off * inner;
            if (!requant) {
                memcpy((uint8_t *)y->data + dst * esz, (const uint8_t *)x->data + o * len * esz, len * esz);
                continue;
            }
            for (size_t j = 0; j < len; ++j)
                qmac_store_int(out_dt, y->data, dst + j,
                               qmac_requant_elem_eval(&rq, qmac_load_int(x->dtype, x->data, o * len + j), 0));
        }
        off += (size_t)x->shape[ax];
    }
    return QMAC_OK;
}

/* ------------------------------------------------------------------ driver */

static qmac_status run_op(exec_t *e, const qmac_node *n)
{
    switch (n->op) {
    case QMAC_NODE_QUANTIZE: return run_quantize(e, n);
    case QMAC_NODE_DEQUANTIZE: return run_dequantize(e, n);
    case QMAC_NODE_CONV: return run_conv(e, n);
    case QMAC_NODE_MATMUL: return run_matmul(e, n);
    case QMAC_NODE_ADD: return run_add(e, n);
    case QMAC_NODE_AVGPOOL:
    case QMAC_NODE_GLOBAL_AVGPOOL:
    case QMAC_NODE_MAXPOOL: return run_pool(e, n);
    case QMAC_NODE_CLAMP: return run_clamp(e, n);
    case QMAC_NODE_RESHAPE: return run_reshape(e, n);
    case QMAC_NODE_TRANSPOSE: return run_transpose(e, n);
    case QMAC_NODE_CONCAT: return run_concat(e, n);
    case QMAC_NODE_COUNT: break;
    }
    return FAIL(QMAC_ERR_INTERNAL, n, "unknown op %d", (int)n->op);
}

/* Resolve run-time quantization parameters (scales/zero points fed as graph inputs). */
static qmac_status resolve_q(const exec_t *e, const qmac_node *n, const qmac_qinfo *src, qmac_qinfo *dst)
{
    if (src->scale_id < 0) { /* integer op: run-time zero point, unit scale */
        const qmac_tensor *z = val(e, src->zp_id);
        if (!z)
            return FAIL(QMAC_ERR_INTERNAL, n, "zero point was not computed");
        const size_t cnt = qmac_tensor_count(z);
        if (!is_q8(z->dtype) || cnt == 0)
            return FAIL(QMAC_ERR_INVALID_ARG, n, "zero point '%s' must be a non-empty int8/uint8 tensor",
                        e->g->values[src->zp_id].name);
        memset(dst, 0, sizeof *dst);
        dst->scale = malloc(cnt * sizeof *dst->scale);
        dst->zp = malloc(cnt * sizeof *dst->zp);
        if (!dst->scale || !dst->zp)
            return FAIL(QMAC_ERR_NOMEM, n, "out of memory");
        for (size_t j = 0; j < cnt; ++j) {
            dst->scale[j] = 1.0f;
            dst->zp[j] = qmac_load_int(z->dtype, z->data, j);
        }
        dst->n = (int32_t)cnt;
        dst->dtype = z->dtype;
        dst->axis = src->axis;
        dst->srank = z->rank;
        return QMAC_OK;
    }
    const qmac_tensor *s = val(e, src->scale_id);
    const qmac_tensor *z = src->zp_id >= 0 ? val(e, src->zp_id) : NULL;
    if (!s || (src->zp_id >= 0 && !z))
        return FAIL(QMAC_ERR_INTERNAL, n, "quantization parameters were not computed");
    const char *zn = src->zp_id >= 0 ? e->g->values[src->zp_id].name : NULL;
    char label[300];
    snprintf(label, sizeof label, "node '%s'", n->name);
    return qmac_qinfo_fill(dst, label, e->g->values[src->scale_id].name, s, zn, z, src->dtype, src->axis,
                           src->block);
}

static qmac_status run_node(exec_t *e, const qmac_node *n)
{
    if (!n->qx.dynamic && !n->qw.dynamic && !n->qy.dynamic)
        return run_op(e, n);
    qmac_node nn = *n;
    qmac_qinfo q[3];
    memset(q, 0, sizeof q);
    qmac_status st = QMAC_OK;
    if (n->qx.dynamic && (st = resolve_q(e, n, &n->qx, &q[0])) == QMAC_OK)
        nn.qx = q[0];
    if (st == QMAC_OK && n->qw.dynamic && (st = resolve_q(e, n, &n->qw, &q[1])) == QMAC_OK)
        nn.qw = q[1];
    if (st == QMAC_OK && n->qy.dynamic && (st = resolve_q(e, n, &n->qy, &q[2])) == QMAC_OK)
        nn.qy = q[2];
    if (st == QMAC_OK)
        st = run_op(e, &nn);
    for (int k = 0; k < 3; ++k)
        qmac_qinfo_free(&q[k]);
    return st;
}

qmac_status qmac_graph_check_input(const qmac_graph *g, int32_t k, const qmac_tensor *in)
{
    const qmac_value *v = &g->values[g->inputs[k]];
    char a[128], b[128];
    if (v->decl_dtype != QMAC_DT_INVALID && in->dtype != v->decl_dtype)
        return qmac_set_error(QMAC_ERR_INVALID_ARG, "input %d ('%s') is %s, the model expects %s", (int)k,
                              v->name, qmac_dtype_name(in->dtype), qmac_dtype_name(v->decl_dtype));
    if (v->decl_rank >= 0) {
        int bad = in->rank != v->decl_rank;
        for (int32_t d = 0; !bad && d < in->rank; ++d)
            bad = v->decl_shape[d] >= 0 && v->decl_shape[d] != in->shape[d];
        if (bad)
            return qmac_set_error(QMAC_ERR_SHAPE, "input %d ('%s') has shape %s, the model expects %s",
                                  (int)k, v->name, qmac_shape_str(in->shape, in->rank, a, sizeof a),
                                  qmac_shape_str(v->decl_shape, v->decl_rank, b, sizeof b));
    }
    return QMAC_OK;
}

static qmac_status bind_input(exec_t *e, int32_t k, const qmac_tensor *in)
{
    const int32_t id = e->g->inputs[k];
    qmac_status st = qmac_graph_check_input(e->g, k, in);
    if (st == QMAC_OK)
        st = qmac_tensor_clone(&e->rt[id], in);
    if (st == QMAC_OK)
        e->ready[id] = 1;
    return st;
}

qmac_status qmac_exec_ref_nodes(const qmac_graph *g, qmac_requant_rule rule, qmac_tensor *vals,
                                uint8_t *ready, const int32_t *nodes, int32_t n)
{
    exec_t e = {g, rule, vals, ready, NULL};
    qmac_status st = QMAC_OK;
    for (int32_t i = 0; i < n && st == QMAC_OK; ++i)
        st = run_node(&e, &g->nodes[nodes[i]]);
    return st;
}

qmac_status qmac_exec_ref(const qmac_graph *g, qmac_requant_rule rule, const qmac_tensor *inputs,
                          int32_t n_inputs, qmac_tensor *outputs)
{
    return qmac_exec_ref_observe(g, rule, inputs, n_inputs, outputs, NULL, NULL);
}

qmac_status qmac_exec_ref_observe(const qmac_graph *g, qmac_requant_rule rule, const qmac_tensor *inputs,
                                  int32_t n_inputs, qmac_tensor *outputs, qmac_value_observer fn, void *ctx)
{
    qmac_status begin = qmac_graph_run_begin(g, n_inputs, outputs);
    if (begin != QMAC_OK)
        return begin;
    exec_t e;
    memset(&e, 0, sizeof e);
    e.g = g;
    e.rule = rule;
    e.rt = calloc((size_t)g->n_values + 1, sizeof *e.rt);
    e.ready = calloc((size_t)g->n_values + 1, 1);
    e.last = malloc(((size_t)g->n_values + 1) * sizeof *e.last);
    qmac_status st = QMAC_OK;
    if (!e.rt || !e.ready || !e.last) {
        st = qmac_set_error(QMAC_ERR_NOMEM, "out of memory");
        goto out;
    }
    for (int32_t v = 0; v < g->n_values; ++v)
        e.last[v] = -1;
    for (int32_t i = 0; i < g->n_nodes; ++i)
        for (int32_t k = 0; k < g->nodes[i].n_in; ++k)
            e.last[g->nodes[i].in[k]] = i;
    for (int32_t k = 0; k < g->n_outputs; ++k)
        e.last[g->outputs[k]] = g->n_nodes; /* keep until the end */
    for (int32_t k = 0; k < n_inputs && st == QMAC_OK; ++k) {
        st = bind_input(&e, k, &inputs[k]);
        if (st == QMAC_OK && fn)
            st = fn(ctx, g->inputs[k], &e.rt[g->inputs[k]]);
    }
    for (int32_t i = 0; i < g->n_nodes && st == QMAC_OK; ++i) {
        st = run_node(&e, &g->nodes[i]);
        for (int32_t k = 0; k < g->nodes[i].n_out && st == QMAC_OK && fn; ++k)
            if (e.ready[g->nodes[i].out[k]])
                st = fn(ctx, g->nodes[i].out[k], &e.rt[g->nodes[i].out[k]]);
        for (int32_t k = 0; k < g->nodes[i].n_in && st == QMAC_OK; ++k) {
            const int32_t v = g->nodes[i].in[k];
            if (e.last[v] == i && !g->values[v].is_const) {
                qmac_tensor_free(&e.rt[v]);
                e.ready[v] = 0;
            }
        }
    }
    for (int32_t k = 0; k < g->n_outputs && st == QMAC_OK; ++k) {
        const qmac_tensor *t = val(&e, g->outputs[k]);
        if (!t) {
            st = qmac_set_error(QMAC_ERR_INTERNAL, "output '%s' was not computed",
                                g->values[g->outputs[k]].name);
            break;
        }
        st = qmac_tensor_clone(&outputs[k], t);
    }
    if (st != QMAC_OK)
        for (int32_t k = 0; k < g->n_outputs; ++k)
            qmac_tensor_free(&outputs[k]);
out:
    if (e.rt)
        for (int32_t v = 0; v < g->n_values; ++v)
            qmac_tensor_free(&e.rt[v]);
    free(e.rt);
    free(e.ready);
    free(e.last);
    return st;
}
