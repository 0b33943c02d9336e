/* compile.c - the graph compiler (compile.h, docs/compiler.md).
 *
 * Pass 1 (classify) walks the nodes in order and gives every value a home: HOST (a graph input,
 * or the result of a host step) or ACCEL (a tensor in the arena, "channels innermost" layout,
 * possibly an alias of another one's bytes after a free reshape), turns each lowerable node into
 * a layer and checks what it can (types, quantization, layouts); pass 2 plans the arena by
 * liveness; pass 3 lowers each layer into the program and the data image. */
#include "qmac/compile.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "graph_util.h"
#include "qmac/accel.h"
#include "qmac/add_prog.h"
#include "qmac/accel_timing.h"
#include "qmac/axi_mem.h"
#include "qmac/conv_prog.h"
#include "qmac/gemm_prog.h"

enum { V_NONE = 0, V_HOST, V_ACCEL };

typedef struct {
    int kind;
    int after;             /* HOST: computed after the program (depends on an accelerator result) */
    int host_in, host_out; /* ACCEL root: written / read by the host */
    qmac_dtype dtype;
    int32_t rank;
    int64_t shape[QMAC_MAX_RANK];
    int32_t cax;              /* ACCEL: channel axis (-1: a flattened view, see flat_view()) */
    int64_t lay_c, lay_inner; /* ACCEL: the layout's channels and pixels per outer index */
    int32_t dq_of;     /* HOST after: the accelerator value it is a dequantization (+ reshapes) of, or -1 */
    int32_t dq_node;   /* ... by this DEQUANTIZE node */
    int packed;        /* ACCEL: bipolar codes packed 8 per byte (compile.h) */
    int needed;        /* HOST after: a graph output depends on it */
    int32_t fp_src;    /* HOST: 1 + the float layer it depends on, 0: none */
    int32_t root;      /* ACCEL: the value whose bytes these are */
    int32_t def, last; /* ACCEL root: first layer writing it (-1: host), last layer reading it */
    uint32_t off;      /* ACCEL root: arena offset */
    uint8_t fill;      /* host input: padding-channel byte */
    qmac_im2col col;   /* host input: written as its reader's windows (col.on), see compile.h */
} vinfo;

typedef struct {
    int32_t node;
    const char *kind;
    struct add_info *add; /* add: its program and operands (owned) */
    struct cat_info *cat; /* concat with requantized inputs: their programs (owned) */
} layer;

/* An add's operand k: the output's rows (full) or the G rows of one pixel repeated for every
 * pixel (chan: a per-channel or scalar broadcast); a constant is written into the data image. */
struct add_info {
    qmac_add_plan plan;
    int chan[2], konst[2];
};

/* A concat's input k is requantized (on[k]) by a one-input program (b ignored), proven on all 256
 * codes the same way as an add's. */
struct cat_info {
    int on[QMAC_MAX_NODE_IO];
    qmac_add_plan plan[QMAC_MAX_NODE_IO];
};

typedef struct {
    const qmac_graph *g;
    const qmac_compile_opts *o;
    uint32_t n; /* array dim */
    vinfo *v;
    layer *lay;
    int32_t n_lay;
    int32_t *pre, *post;
    int32_t n_pre, n_post;
    qmac_model *m;
    struct fshape *fs;   /* [n_values]: every value's shape in a reference run (host float steps) */
    int32_t first_float; /* 1 + the first node run in float on the host, 0: none */
    uint8_t *data;       /* growing data image */
    size_t data_len, data_cap;
} cc;

static const char *vname(const cc *c, int32_t id)
{
    return c->g->values[id].name;
}

static int64_t count_of(int32_t rank, const int64_t *shape)
{
    int64_t k = 1;
    for (int32_t i = 0; i < rank; ++i)
        k *= shape[i];
    return k;
}

static uint32_t cdiv(uint64_t a, uint64_t b)
{
    return (uint32_t)((a + b - 1) / b);
}

/* The layout of an accelerator tensor whose channels are on axis cax. */
static void set_layout(vinfo *v, int32_t cax)
{
    v->cax = cax;
    v->lay_c = v->shape[cax];
    v->lay_inner = count_of(v->rank - cax - 1, v->shape + cax + 1);
}

/* Channels, pixels and bytes of an accelerator tensor's layout. */
static void layout_of(const cc *c, const vinfo *v, uint32_t *channels, uint32_t *pixels, uint32_t *groups)
{
    const int64_t ch = v->lay_c;
    *channels = (uint32_t)ch;
    *pixels = v->col.on ? (uint32_t)v->shape[0] * v->col.out[0] * v->col.out[1]
              : ch      ? (uint32_t)(count_of(v->rank, v->shape) / ch)
                        : 0;
    *groups = cdiv((uint64_t)ch, v->packed ? 8u * c->n : c->n);
}

static uint64_t bytes_of(const cc *c, const vinfo *v)
{
    uint32_t ch, px, gr;
    layout_of(c, v, &ch, &px, &gr);
    return (uint64_t)px * gr * c->n;
}

static int is_q8(qmac_dtype dt)
{
    return dt == QMAC_DT_INT8 || dt == QMAC_DT_UINT8;
}

/* ------------------------------------------------------------------ pass 1: classify */

/* Value id of node input k when it is a run-time activation (not a constant). */
static int is_act(const cc *c, const qmac_node *n, int32_t k)
{
    return k < n->n_in && n->in[k] >= 0 && !c->g->values[n->in[k]].is_const;
}

#define MATMUL_ROWS (-2) /* use_accel(): rows of a matmul's A (channels last, or a flattened view) */

/* An accelerator layer reads value id with channels on axis cax (or MATMUL_ROWS). A host value
 * becomes a host-written input tensor. */
static qmac_status use_accel(cc *c, const qmac_node *n, int32_t id, int32_t cax, int32_t zp)
{
    vinfo *v = &c->v[id];
    if (v->kind == V_HOST) {
        if (v->after && v->fp_src)
            return FAIL(QMAC_ERR_UNSUPPORTED, n,
                        "reads '%s', which depends on the float layer '%s': not lowered (the host runs "
                        "float layers only before or after the accelerator program, not between its layers)",
                        vname(c, id), c->g->nodes[v->fp_src - 1].name);
        if (v->after)
            return FAIL(QMAC_ERR_UNSUPPORTED, n,
                        "reads '%s', which is only computed on the host after the accelerator program (a "
                        "layout change or float step the accelerator cannot do): not lowered",
                        vname(c, id));
        if (!is_q8(v->dtype))
            return FAIL(QMAC_ERR_UNSUPPORTED, n, "input '%s' is %s; the accelerator reads int8 or uint8",
                        vname(c, id), qmac_dtype_name(v->dtype));
        v->kind = V_ACCEL;
        v->host_in = 1;
        v->root = id;
        v->def = -1;
        v->last = -1;
        set_layout(v, cax == MATMUL_ROWS ? v->rank - 1 : cax);
        v->fill = (uint8_t)(zp & 0xff);
    }
    if (v->kind != V_ACCEL)
        return FAIL(QMAC_ERR_INTERNAL, n, "input '%s' has no value", vname(c, id));
    if (cax == MATMUL_ROWS ? v->cax >= 0 && v->cax != v->rank - 1 : v->cax != cax)
        return FAIL(QMAC_ERR_UNSUPPORTED, n,
                    "needs the channels of '%s' on axis %d, but its layout has them %s%d (a reshape that "
                    "moves the channel axis is not lowered)",
                    vname(c, id), (int)(cax == MATMUL_ROWS ? v->rank - 1 : cax),
                    v->cax < 0 ? "flattened with the pixels of axis " : "on axis ",
                    (int)(v->cax < 0 ? 1 : v->cax));
    vinfo *r = &c->v[v->root];
    if (r->last < c->n_lay)
        r->last = c->n_lay;
    return QMAC_OK;
}

/* The output of the layer being added: a fresh arena tensor. */
static void def_accel(cc *c, int32_t id, qmac_dtype dt, int32_t rank, const int64_t *shape, int32_t cax)
{
    vinfo *v = &c->v[id];
    v->kind = V_ACCEL;
    v->dtype = dt;
    v->rank = rank;
    memcpy(v->shape, shape, sizeof(int64_t) * (size_t)rank);
    set_layout(v, cax);
    v->root = id;
    v->def = c->n_lay;
    v->last = c->n_lay;
}

static qmac_status add_layer(cc *c, int32_t node, const char *kind)
{
    layer *l = realloc(c->lay, sizeof *l * (size_t)(c->n_lay + 1));
    if (!l)
        return qmac_set_error(QMAC_ERR_NOMEM, "out of memory");
    c->lay = l;
    l[c->n_lay].node = node;
    l[c->n_lay].kind = kind;
    l[c->n_lay].add = NULL;
    l[c->n_lay].cat = NULL;
    c->n_lay++;
    return QMAC_OK;
}

static qmac_status check_qparams(const qmac_node *n, int nch)
{
    if (n->qx.dynamic || n->qw.dynamic || n->qy.dynamic)
        return FAIL(QMAC_ERR_UNSUPPORTED, n, "run-time quantization parameters are not lowered");
    if (n->out_int32)
        return FAIL(QMAC_ERR_UNSUPPORTED, n,
                    "int32 outputs (ConvInteger / MatMulInteger) are not lowered: the accelerator's "
                    "outputs are requantized 8-bit values");
    if (n->qx.n != 1 || n->qy.n != 1 || n->qx.block || n->qy.block || n->qw.block)
        return FAIL(QMAC_ERR_UNSUPPORTED, n, "input and output must be quantized per tensor");
    if (n->qw.n != 1 && n->qw.n != nch)
        return FAIL(QMAC_ERR_SHAPE, n, "%d weight scales for %d output channels", (int)n->qw.n, nch);
    if (!is_q8(n->qy.dtype))
        return FAIL(QMAC_ERR_UNSUPPORTED, n, "output type %s", qmac_dtype_name(n->qy.dtype));
    return QMAC_OK;
}

static qmac_status check_bias(const cc *c, const qmac_node *n, int k, int64_t nch)
{
    if (n->n_in <= k)
        return QMAC_OK;
    const qmac_value *b = &c->g->values[n->in[k]];
    if (!b->is_const)
        return FAIL(QMAC_ERR_UNSUPPORTED, n, "a bias that is not a constant is not lowered");
    if (b->konst.dtype != QMAC_DT_INT32 || (int64_t)qmac_tensor_count(&b->konst) != nch)
        return FAIL(QMAC_ERR_SHAPE, n, "bias must be %lld int32 values", (long long)nch);
    return QMAC_OK;
}

/* Nodes (and graph outputs) reading value id. */
static int32_t readers(const cc *c, int32_t id)
{
    int32_t r = 0;
    for (int32_t k = 0; k < c->g->n_outputs; ++k)
        r += c->g->outputs[k] == id;
    for (int32_t i = 0; i < c->g->n_nodes; ++i)
        for (int32_t k = 0; k < c->g->nodes[i].n_in; ++k)
            r += c->g->nodes[i].in[k] == id;
    return r;
}

/* ---- QONNX layers (graph.h qmac_qonnx_stage): binary mode, packed values, checks */

static const qmac_node *node_writing(const cc *c, int32_t id)
{
    for (int32_t i = 0; i < c->g->n_nodes; ++i)
        for (int32_t k = 0; k < c->g->nodes[i].n_out; ++k)
            if (c->g->nodes[i].out[k] == id)
                return &c->g->nodes[i];
    return NULL;
}

/* A QONNX layer whose codes are -1 / +1 (one threshold, zero point 0). */
static int bipolar_out(const qmac_node *n)
{
    const qmac_qonnx_stage *s = n ? n->qs : NULL;
    return s && s->oq == QMAC_OQ_THRESH && s->n_thr == 1 && s->code0 == -1 && s->code_step == 2 &&
           n->qy.n == 1 && n->qy.zp[0] == 0;
}

static int bipolar_const(const qmac_tensor *w, const qmac_qinfo *q)
{
    if (w->dtype != QMAC_DT_INT8)
        return 0;
    for (int32_t k = 0; k < q->n; ++k)
        if (q->zp[k] != 0)
            return 0;
    for (size_t e = 0; e < qmac_tensor_count(w); ++e) {
        const int8_t v = ((const int8_t *)w->data)[e];
        if (v != 1 && v != -1)
            return 0;
    }
    return 1;
}

/* A QONNX conv/matmul of -1/+1 activations and weights that the array runs in binary mode
 * (XNOR-popcount) when its input is packed. A padded convolution is not: QONNX pads the float
 * +-s activations with 0, which no packed bit means (it runs in int8 mode on the codes). */
static int bin_capable(const cc *c, const qmac_node *n)
{
    if (!n->qs || (n->op != QMAC_NODE_CONV && n->op != QMAC_NODE_MATMUL) || n->n_in != 2 ||
        !c->g->values[n->in[1]].is_const || n->qx.n != 1 || n->qx.zp[0] != 0 ||
        !bipolar_out(node_writing(c, n->in[0])) || !bipolar_const(&c->g->values[n->in[1]].konst, &n->qw))
        return 0;
    if (n->op == QMAC_NODE_CONV)
        return n->group == 1 &&
               (n->auto_pad == QMAC_PAD_VALID || (n->auto_pad == QMAC_PAD_EXPLICIT && !n->pads[0] &&
                                                  !n->pads[1] && !n->pads[2] && !n->pads[3]));
    return 1;
}

/* Value id is written packed: bipolar codes that only binary-capable layers read (as their
 * activations) and the host does not. */
static int want_packed(const cc *c, int32_t id)
{
    for (int32_t k = 0; k < c->g->n_outputs; ++k)
        if (c->g->outputs[k] == id)
            return 0;
    int32_t r = 0;
    for (int32_t i = 0; i < c->g->n_nodes; ++i)
        for (int32_t k = 0; k < c->g->nodes[i].n_in; ++k)
            if (c->g->nodes[i].in[k] == id) {
                if (k != 0 || !bin_capable(c, &c->g->nodes[i]))
                    return 0;
                ++r;
            }
    return r > 0;
}

/* The codes a value can hold: its QONNX producer's (through moves), else its type's range. */
static void code_range(const cc *c, int32_t id, int32_t *lo, int32_t *hi)
{
    qmac_dtype_range(c->v[id].dtype, lo, hi);
    const qmac_node *p = node_writing(c, id);
    while (p && (p->op == QMAC_NODE_RESHAPE || p->op == QMAC_NODE_TRANSPOSE || p->op == QMAC_NODE_MAXPOOL))
        p = node_writing(c, p->in[0]);
    const qmac_qonnx_stage *s = p ? p->qs : NULL;
    if (s && s->oq == QMAC_OQ_INT) {
        *lo = s->qmin;
        *hi = s->qmax;
    } else if (s && s->oq == QMAC_OQ_THRESH) {
        const int32_t e = s->code0 + s->code_step * s->n_thr;
        *lo = s->code0 < e ? s->code0 : e;
        *hi = s->code0 < e ? e : s->code0;
    }
}

/* What the hardware can reproduce of a QONNX layer's output stage. */
static qmac_status check_qonnx(const qmac_node *n)
{
    const qmac_qonnx_stage *s = n->qs;
    if (s->oq == QMAC_OQ_FLOAT)
        return FAIL(QMAC_ERR_UNSUPPORTED, n,
                    "its output is float (no quantizer after the layer): the accelerator writes 8-bit codes; "
                    "add a Quant, BipolarQuant or MultiThreshold after it");
    if (s->oq == QMAC_OQ_THRESH && s->n_thr > 1)
        return FAIL(
            QMAC_ERR_UNSUPPORTED, n,
            "a MultiThreshold of %d thresholds is not lowered (the accelerator's requantization is one "
            "threshold or one affine map per channel)",
            (int)s->n_thr);
    if (n->qx.n != 1 || n->qx.dynamic)
        return FAIL(QMAC_ERR_UNSUPPORTED, n, "activations must be quantized per tensor");
    if (!is_q8(n->qy.dtype))
        return FAIL(QMAC_ERR_UNSUPPORTED, n, "output type %s", qmac_dtype_name(n->qy.dtype));
    return QMAC_OK;
}

static qmac_status classify_conv(cc *c, int32_t i, const qmac_node *n)
{
    qmac_status st;
    if (!is_act(c, n, 0) || n->n_in < 2 || !c->g->values[n->in[1]].is_const)
        return FAIL(QMAC_ERR_UNSUPPORTED, n, "weights must be a constant");
    const vinfo *x = &c->v[n->in[0]];
    const qmac_tensor *w = &c->g->values[n->in[1]].konst;
    if (x->rank != 3 && x->rank != 4)
        return FAIL(QMAC_ERR_UNSUPPORTED, n, "input rank %d (1-D and 2-D convolutions are lowered)",
                    (int)x->rank);
    if (!is_q8(x->dtype) || !is_q8(w->dtype) || w->rank != x->rank)
        return FAIL(QMAC_ERR_UNSUPPORTED, n, "input %s and weights %s of rank %d", qmac_dtype_name(x->dtype),
                    qmac_dtype_name(w->dtype), (int)w->rank);
    const int64_t M = w->shape[0];
    if (n->qs ? (st = check_qonnx(n)) != QMAC_OK
              : (st = check_qparams(n, (int)M)) || (st = check_bias(c, n, 2, M)))
        return st;
    const int sp = x->rank - 2;
    const int64_t C = x->shape[1], H = sp == 2 ? x->shape[2] : 1, W = x->shape[x->rank - 1];
    const int32_t kh = sp == 2 ? (int32_t)w->shape[2] : 1, kw = (int32_t)w->shape[w->rank - 1];
    if (n->group < 1 || C % n->group || M % n->group || w->shape[1] * n->group != C)
        return FAIL(QMAC_ERR_SHAPE, n,
                    "input channels %lld, weight [%lld, %lld, ...] and group %d do not fit", (long long)C,
                    (long long)M, (long long)w->shape[1], (int)n->group);
    qmac_node nn = *n;
    if (sp == 1) {
        nn.strides[0] = nn.dilations[0] = 1;
    }
    int32_t pt = 0, pl, pa, oh = 1, ow;
    if (sp == 2 && (st = qmac_node_conv_axis(&nn, 0, (int32_t)H, kh, &pt, &pa, &oh)))
        return st;
    if ((st = qmac_node_conv_axis(&nn, 1, (int32_t)W, kw, &pl, &pa, &ow)))
        return st;
    if ((st = use_accel(c, n, n->in[0], 1, n->qx.zp[0])))
        return st;
    /* a host-written input with few channels that only this convolution reads: the host writes
     * its windows (im2col), so each vector carries C kh kw channels instead of C */
    vinfo *xv = &c->v[n->in[0]];
    const uint64_t K = (uint64_t)C * (uint64_t)kh * (uint64_t)kw;
    if (xv->host_in && xv->root == n->in[0] && n->group == 1 && readers(c, n->in[0]) == 1 &&
        (uint64_t)cdiv(K, c->n) < (uint64_t)cdiv((uint64_t)C, c->n) * (uint64_t)kh * (uint64_t)kw &&
        K <= 65535) {
        xv->col = (qmac_im2col){.on = 1,
                                .kernel = {(uint32_t)kh, (uint32_t)kw},
                                .strides = {(uint32_t)nn.strides[0], (uint32_t)nn.strides[1]},
                                .dilations = {(uint32_t)nn.dilations[0], (uint32_t)nn.dilations[1]},
                                .pads = {(uint32_t)pt, (uint32_t)pl},
                                .out = {(uint32_t)oh, (uint32_t)ow}};
        xv->lay_c = (int64_t)K;
        xv->lay_inner = (int64_t)oh * ow;
    }
    x = &c->v[n->in[0]];
    int64_t ysh[4] = {x->shape[0], M, sp == 2 ? oh : ow, ow};
    def_accel(c, n->out[0], n->qy.dtype, x->rank, ysh, 1);
    c->v[n->out[0]].packed = bipolar_out(n) && want_packed(c, n->out[0]);
    return add_layer(c, i, x->packed ? "bconv" : "conv");
}

static qmac_status classify_matmul(cc *c, int32_t i, const qmac_node *n)
{
    qmac_status st;
    if (!is_act(c, n, 0))
        return FAIL(QMAC_ERR_UNSUPPORTED, n, "A must be a run-time tensor");
    if (n->n_in < 2 || !c->g->values[n->in[1]].is_const)
        return FAIL(QMAC_ERR_UNSUPPORTED, n, "B must be a constant (a run-time B is not lowered)");
    const vinfo *a = &c->v[n->in[0]];
    const qmac_tensor *b = &c->g->values[n->in[1]].konst;
    int64_t bk, bn;
    int lead_ones = 1;
    for (int32_t k = 0; k + 2 < b->rank; ++k)
        lead_ones &= b->shape[k] == 1;
    if (b->rank < 2 || !lead_ones || (n->trans_b && b->rank != 2))
        return FAIL(QMAC_ERR_UNSUPPORTED, n, "B must be a matrix (a 1-D or batched B is not lowered)");
    bk = b->shape[b->rank - (n->trans_b ? 1 : 2)];
    bn = b->shape[b->rank - (n->trans_b ? 2 : 1)];
    if (a->rank < 1 || a->shape[a->rank - 1] != bk)
        return FAIL(QMAC_ERR_SHAPE, n, "A's last dimension is not B's K = %lld", (long long)bk);
    if (!is_q8(a->dtype) || !is_q8(b->dtype))
        return FAIL(QMAC_ERR_UNSUPPORTED, n, "A %s, B %s", qmac_dtype_name(a->dtype),
                    qmac_dtype_name(b->dtype));
    if (n->qs ? (st = check_qonnx(n)) != QMAC_OK
              : (st = check_qparams(n, (int)bn)) || (st = check_bias(c, n, 2, bn)))
        return st;
    int64_t ysh[QMAC_MAX_RANK];
    int32_t ry = a->rank;
    memcpy(ysh, a->shape, sizeof(int64_t) * (size_t)ry);
    ysh[ry - 1] = bn;
    if (b->rank > ry) /* B's leading ones broadcast into the output's rank */
        return FAIL(QMAC_ERR_UNSUPPORTED, n, "B has a higher rank than A");
    if ((st = use_accel(c, n, n->in[0], MATMUL_ROWS, n->qx.zp[0])))
        return st;
    def_accel(c, n->out[0], n->qy.dtype, ry, ysh, ry - 1);
    c->v[n->out[0]].packed = bipolar_out(n) && want_packed(c, n->out[0]);
    return add_layer(c, i, c->v[n->in[0]].packed ? "bmatmul" : "matmul");
}

/* A reshape of an accelerator tensor is free when its channel axis survives as an axis of the same
 * size with the same number of elements after it (the bytes do not move); returns that axis or -1. */
static int32_t alias_axis(const vinfo *x, int32_t rank, const int64_t *sh)
{
    const int64_t C = x->lay_c, inner = x->lay_inner;
    for (int32_t a = rank - 1; a >= 0; --a)
        if (sh[a] == C && count_of(rank - a - 1, sh + a + 1) == inner)
            return a;
    return -1;
}

static qmac_status host_node(cc *c, int32_t i, const qmac_node *n, int after)
{
    int32_t **list = after ? &c->post : &c->pre;
    int32_t *cnt = after ? &c->n_post : &c->n_pre;
    int32_t *l = realloc(*list, sizeof *l * (size_t)(*cnt + 1));
    if (!l)
        return qmac_set_error(QMAC_ERR_NOMEM, "out of memory");
    *list = l;
    l[(*cnt)++] = i;
    for (int32_t k = 0; k < n->n_out; ++k) {
        c->v[n->out[k]].kind = V_HOST;
        c->v[n->out[k]].after = after;
    }
    return QMAC_OK;
}

/* The host reads accelerator value id after the program. */
static void read_back(cc *c, int32_t id)
{
    c->v[c->v[id].root].last = INT32_MAX;
    c->v[id].host_out = 1;
}

static qmac_status classify_host(cc *c, int32_t i, const qmac_node *n)
{
    /* inputs: host values, or accelerator values the host reads back after the program (which
     * ones is decided at the end: only those a graph output needs) */
    int after = 0;
    int32_t fp_src = 0;
    for (int32_t k = 0; k < n->n_in; ++k) {
        if (!is_act(c, n, k))
            continue;
        const vinfo *v = &c->v[n->in[k]];
        if (v->kind == V_ACCEL)
            after = 1;
        else if (v->kind == V_HOST)
            after |= v->after;
        else
            return FAIL(QMAC_ERR_INTERNAL, n, "input '%s' has no value", vname(c, n->in[k]));
        if (v->fp_src > fp_src)
            fp_src = v->fp_src;
    }
    const vinfo *x = &c->v[n->in[0]];
    vinfo *y = &c->v[n->out[0]];
    y->rank = x->rank;
    memcpy(y->shape, x->shape, sizeof y->shape);
    y->dtype = x->dtype;
    y->dq_of = -1;
    y->fp_src = fp_src;
    qmac_status st = host_node(c, i, n, after);
    if (st != QMAC_OK)
        return st;
    switch (n->op) {
    case QMAC_NODE_QUANTIZE: y->dtype = n->qy.dtype; break;
    case QMAC_NODE_DEQUANTIZE:
        y->dtype = QMAC_DT_FLOAT32;
        if (x->kind == V_ACCEL && n->qx.n == 1 && !n->qx.dynamic) {
            y->dq_of = n->in[0];
            y->dq_node = i;
        }
        break;
    case QMAC_NODE_RESHAPE:
        y->dq_of = x->kind == V_HOST ? x->dq_of : -1;
        y->dq_node = x->dq_node;
        return qmac_node_reshape_shape(c->g, n, x->rank, x->shape, &y->rank, y->shape);
    case QMAC_NODE_TRANSPOSE:
        for (int32_t k = 0; k < x->rank; ++k) {
            const int32_t p = n->n_perm ? n->perm[k] : x->rank - 1 - k;
            if (p < 0 || p >= x->rank)
                return FAIL(QMAC_ERR_SHAPE, n, "bad perm");
            y->shape[k] = x->shape[p];
        }
        break;
    default: break;
    }
    return QMAC_OK;
}

/* Value y as a view of accelerator value x with another shape, when the bytes need not move:
 * an alias when the channel axis survives (alias_axis), or a flattened view [outer, C * inner]
 * (Flatten of an NCHW map) that only a matmul reads: its rows are the outer index's pixels, one
 * after the other, and the matmul's weights are permuted to match. Returns 0 when neither. */
static int make_view(cc *c, int32_t xid, int32_t yid, int32_t rank, const int64_t *sh)
{
    const vinfo *x = &c->v[xid];
    vinfo *y = &c->v[yid];
    const int32_t a = alias_axis(x, rank, sh);
    const int flat = x->cax >= 0 && rank == 2 && sh[1] == x->lay_c * x->lay_inner && x->lay_inner > 1;
    if (a < 0 && !flat)
        return 0;
    const qmac_dtype dt = x->dtype;
    *y = *x;
    y->kind = V_ACCEL;
    y->dtype = dt;
    y->host_in = y->host_out = 0;
    y->rank = rank;
    memcpy(y->shape, sh, sizeof(int64_t) * (size_t)rank);
    y->cax = a >= 0 ? a : -1;
    return 1;
}

static qmac_status classify_reshape(cc *c, int32_t i, const qmac_node *n)
{
    const vinfo *x = &c->v[n->in[0]];
    if (x->kind != V_ACCEL)
        return classify_host(c, i, n);
    int64_t sh[QMAC_MAX_RANK];
    int32_t r;
    qmac_status st = qmac_node_reshape_shape(c->g, n, x->rank, x->shape, &r, sh);
    if (st != QMAC_OK)
        return st;
    if (!make_view(c, n->in[0], n->out[0], r, sh)) /* the bytes would move: the host does it after */
        return classify_host(c, i, n);
    return QMAC_OK;
}

/* QuantizeLinear of DequantizeLinear(x) (through reshapes) with the same type, scale and zero
 * point is x itself (|q - zp| <= 255, so the float round trip is exact): the reshape of the
 * integers, as QDQ models write a Flatten between two quantized layers. */
static qmac_status classify_quantize(cc *c, int32_t i, const qmac_node *n)
{
    const vinfo *x = &c->v[n->in[0]];
    if (x->kind == V_HOST && x->after && x->dq_of >= 0) {
        const qmac_node *dq = &c->g->nodes[x->dq_node];
        const vinfo *src = &c->v[x->dq_of];
        if (n->qy.n == 1 && !n->qy.dynamic && n->qy.dtype == src->dtype &&
            n->qy.scale[0] == dq->qx.scale[0] && n->qy.zp[0] == dq->qx.zp[0] &&
            make_view(c, x->dq_of, n->out[0], x->rank, x->shape))
            return QMAC_OK;
    }
    if (x->kind != V_HOST)
        return FAIL(QMAC_ERR_UNSUPPORTED, n, "quantizes '%s' (%s): the host quantizes float32 tensors",
                    vname(c, n->in[0]), qmac_dtype_name(x->dtype));
    /* after the program: only host steps and graph outputs may read the result (use_accel says
     * so otherwise, naming the float layer) */
    return classify_host(c, i, n);
}

/* After the walk: keep the host steps after the program that a graph output depends on; the
 * accelerator values they read are read back. */
static void settle_host_after(cc *c)
{
    const qmac_graph *g = c->g;
    for (int32_t k = 0; k < g->n_outputs; ++k) {
        const int32_t id = g->outputs[k];
        if (c->v[id].kind == V_ACCEL)
            read_back(c, id);
        else
            c->v[id].needed = 1;
    }
    int32_t w = 0;
    for (int32_t j = c->n_post - 1; j >= 0; --j) { /* reverse order: consumers before producers */
        const qmac_node *n = &g->nodes[c->post[j]];
        int need = 0;
        for (int32_t k = 0; k < n->n_out; ++k)
            need |= c->v[n->out[k]].needed;
        if (!need) {
            c->post[j] = -1;
            continue;
        }
        for (int32_t k = 0; k < n->n_in; ++k) {
            if (!is_act(c, n, k))
                continue;
            if (c->v[n->in[k]].kind == V_ACCEL)
                read_back(c, n->in[k]);
            else
                c->v[n->in[k]].needed = 1;
        }
    }
    for (int32_t j = 0; j < c->n_post; ++j)
        if (c->post[j] >= 0)
            c->post[w++] = c->post[j];
    c->n_post = w;
}

/* Spatial geometry of a pool on x (rank 3 or 4): per axis (0: H, 1: W) the input rows ORT's
 * negative SAME head pad drops, head and tail padding, and the output size. */
typedef struct {
    int32_t h, w, kh, kw, sh, sw, dh, dw;
    int32_t crop[2], head[2], tail[2], out[2];
} pool_geom;

static qmac_status pool_geometry(const qmac_node *n, const vinfo *x, pool_geom *p)
{
    const int sp = x->rank - 2;
    qmac_status st;
    memset(p, 0, sizeof *p);
    p->h = sp == 2 ? (int32_t)x->shape[2] : 1;
    p->w = (int32_t)x->shape[x->rank - 1];
    p->kh = sp == 2 ? n->kernel[0] : 1;
    p->kw = n->kernel[1];
    p->sh = sp == 2 ? n->strides[0] : 1;
    p->sw = n->strides[1];
    p->dh = sp == 2 ? n->dilations[0] : 1;
    p->dw = n->dilations[1];
    p->out[0] = 1;
    if (sp == 2 && (st = qmac_node_pool_axis(n, 0, p->h, p->kh, p->sh, p->dh, &p->crop[0], &p->head[0],
                                             &p->tail[0], &p->out[0])))
        return st;
    return qmac_node_pool_axis(n, 1, p->w, p->kw, p->sw, p->dw, &p->crop[1], &p->head[1], &p->tail[1],
                               &p->out[1]);
}

/* A global average pool as ONNX Runtime computes it (integer sum, then rule C with scale
 * x_scale / (y_scale * HW)); other rules' pools are not lowered. */
static int is_global_avg(const qmac_node *n, const vinfo *x)
{
    if (n->op == QMAC_NODE_GLOBAL_AVGPOOL)
        return 1;
    const int sp = x->rank - 2;
    return n->op == QMAC_NODE_AVGPOOL && n->kernel[1] == x->shape[x->rank - 1] &&
           (sp == 1 || n->kernel[0] == x->shape[2]) && n->auto_pad != QMAC_PAD_SAME_UPPER &&
           n->auto_pad != QMAC_PAD_SAME_LOWER && !n->pads[0] && !n->pads[1] && !n->pads[2] && !n->pads[3];
}

static qmac_status classify_pool(cc *c, int32_t i, const qmac_node *n)
{
    const vinfo *x = &c->v[n->in[0]];
    qmac_status st;
    if (!is_act(c, n, 0) || (x->rank != 3 && x->rank != 4) || !is_q8(x->dtype))
        return FAIL(QMAC_ERR_UNSUPPORTED, n, "pooling of a %s tensor of rank %d is not lowered",
                    qmac_dtype_name(x->dtype), (int)x->rank);
    int64_t ysh[4] = {x->shape[0], x->shape[1], 1, 1};
    const char *kind = "maxpool";
    if (n->op == QMAC_NODE_MAXPOOL) {
        pool_geom p;
        if ((st = pool_geometry(n, x, &p)))
            return st;
        ysh[2] = x->rank == 4 ? p.out[0] : p.out[1];
        ysh[3] = p.out[1];
    } else {
        if (!is_global_avg(n, x))
            return FAIL(QMAC_ERR_UNSUPPORTED, n,
                        "an average pool over a window smaller than the image is not lowered (ONNX Runtime "
                        "sums dequantized floats, which the integer vector unit does not reproduce)");
        if (c->o->rule != QMAC_REQUANT_ONNXRT)
            return FAIL(QMAC_ERR_UNSUPPORTED, n, "a global average pool is lowered for rule onnxrt only");
        if (n->qx.n != 1 || n->qy.n != 1 || n->qx.dynamic || n->qy.dynamic || n->qx.dtype != x->dtype ||
            n->qy.dtype != x->dtype)
            return FAIL(QMAC_ERR_UNSUPPORTED, n, "needs per-tensor quantization of one type");
        const int64_t hw = count_of(x->rank - 2, x->shape + 2);
        const float scale = n->qx.scale[0] / (n->qy.scale[0] * (float)hw);
        if (hw >= ((int64_t)1 << 24) || !(scale >= 0x1.0p-32f && scale < 256.0f))
            return FAIL(QMAC_ERR_INVALID_ARG, n,
                        "x_scale / (y_scale * %lld) = %g is outside ONNX Runtime's range", (long long)hw,
                        (double)scale);
        kind = "avgpool";
    }
    if ((st = use_accel(c, n, n->in[0], 1, n->qx.n ? n->qx.zp[0] : 0)))
        return st;
    def_accel(c, n->out[0], x->dtype, x->rank, ysh, 1);
    return add_layer(c, i, kind);
}

/* A clamp of 8-bit values (Relu, Clip left standing): a copy through POST's clamp. */
static qmac_status classify_clamp(cc *c, int32_t i, const qmac_node *n)
{
    const vinfo *x = &c->v[n->in[0]];
    if (x->kind == V_HOST && x->after) /* codes the host computes after the program (a float last
                                          layer's QuantizeLinear): the host clamps them too */
        return classify_host(c, i, n);
    if (!is_q8(x->dtype))
        return FAIL(QMAC_ERR_UNSUPPORTED, n, "a clamp of %s values is not lowered (only int8/uint8)",
                    qmac_dtype_name(x->dtype));
    const int32_t cax = x->kind == V_ACCEL ? x->cax : x->rank >= 3 ? 1 : x->rank - 1;
    qmac_status st = use_accel(c, n, n->in[0], cax, 0);
    if (st != QMAC_OK)
        return st;
    x = &c->v[n->in[0]];
    if (x->cax < 0)
        return FAIL(QMAC_ERR_UNSUPPORTED, n, "a clamp of a flattened view is not lowered");
    def_accel(c, n->out[0], x->dtype, x->rank, x->shape, x->cax);
    return add_layer(c, i, "clamp");
}

/* Concat: each input copied into its slice of the output. Along the channel axis the slices must
 * start on a row boundary (every input but the last a multiple of N channels); along any other
 * axis every slice is whole pixels. An input with other quantization parameters than the output
 * (QLinearConcat) goes through a vector-unit program on its way, proven equal to the reference's
 * float requantization on all 256 codes (add_prog.h, with the second operand ignored). */
static qmac_status classify_concat(cc *c, int32_t i, const qmac_node *n)
{
    const vinfo *x0 = &c->v[n->in[0]];
    qmac_status st;
    const qmac_dtype dt = n->qin ? n->qy.dtype : x0->dtype;
    if (!is_q8(dt))
        return FAIL(QMAC_ERR_UNSUPPORTED, n, "a concat of %s tensors is not lowered", qmac_dtype_name(dt));
    const int32_t rank = x0->rank, ax = n->axis < 0 ? n->axis + rank : n->axis;
    int64_t ysh[QMAC_MAX_RANK];
    memcpy(ysh, x0->shape, sizeof ysh);
    ysh[ax] = 0;
    const int32_t cax = x0->kind == V_ACCEL && x0->cax >= 0 ? x0->cax : (rank >= 3 ? 1 : rank - 1);
    struct cat_info *info = NULL;
    for (int32_t k = 0; k < n->n_in; ++k) {
        if (!is_act(c, n, k))
            return FAIL(QMAC_ERR_UNSUPPORTED, n, "a constant input of a concat is not lowered");
        const vinfo *x = &c->v[n->in[k]];
        if (x->rank != rank || x->dtype != dt)
            return FAIL(QMAC_ERR_SHAPE, n, "inputs differ in rank or type");
        if (ax == cax && k + 1 < n->n_in && x->shape[ax] % c->n)
            return FAIL(
                QMAC_ERR_UNSUPPORTED, n,
                "input %d has %lld channels, not a multiple of %u: its successors would not start on a "
                "buffer row (not lowered)",
                (int)k, (long long)x->shape[ax], c->n);
        ysh[ax] += x->shape[ax];
        if ((st = use_accel(c, n, n->in[k], cax, n->qin && n->qin[k].n ? n->qin[k].zp[0] : 0)))
            return st;
        if (!n->qin || !n->qin[k].n ||
            (n->qin[k].scale[0] == n->qy.scale[0] && n->qin[k].zp[0] == n->qy.zp[0]))
            continue;
        if (!info && !(info = calloc(1, sizeof *info)))
            return qmac_set_error(QMAC_ERR_NOMEM, "out of memory");
        qmac_requant_elem rq;
        qmac_requant_elem_prepare(&n->qin[k], &n->qy, &rq);
        const double r = (double)rq.in_scale / rq.out_scale;
        info->on[k] = 1;
        if ((st = qmac_add_plan_make(dt, dt, dt, rq.lo, rq.hi, r, 0.0, rq.out_zp - rq.in_zp * r,
                                     qmac_requant_elem_eval, &rq, &info->plan[k])) != QMAC_OK) {
            free(info);
            return FAIL(st, n, "input %d's requantization: %s", (int)k, qmac_last_error());
        }
    }
    def_accel(c, n->out[0], dt, rank, ysh, cax);
    if ((st = add_layer(c, i, "concat")) != QMAC_OK) {
        free(info);
        return st;
    }
    c->lay[c->n_lay - 1].cat = info;
    return QMAC_OK;
}

/* Operand x of an add with output shape y (right-aligned): 0 the same shape, 1 a broadcast along
 * every axis but (possibly) the channel axis cax, -1 anything else. */
static int add_operand_form(int32_t xr, const int64_t *xs, int32_t yr, const int64_t *ys, int32_t cax)
{
    if (xr > yr)
        return -1;
    if (xr == yr && !memcmp(xs, ys, sizeof(int64_t) * (size_t)xr))
        return 0;
    for (int32_t a = 0; a < xr; ++a) {
        const int32_t ya = a + yr - xr;
        if (xs[a] != 1 && (ya != cax || xs[a] != ys[ya]))
            return -1;
    }
    return 1;
}

/* An add of two 8-bit tensors under any rule: a vector-unit program planned (and proven equal to
 * the rule's add on all 65536 input pairs) here, see add_prog.h. Operands: an activation of the
 * output's shape, or a per-channel / scalar broadcast (an activation of shape [1, C, 1, 1], or any
 * constant). */
static qmac_status classify_add(cc *c, int32_t i, const qmac_node *n)
{
    if (n->qx.dynamic || n->qw.dynamic || n->qy.dynamic)
        return FAIL(QMAC_ERR_UNSUPPORTED, n, "run-time quantization parameters are not lowered");
    int32_t rk[2];
    const int64_t *sh[2];
    qmac_dtype dt[2];
    int act[2];
    for (int k = 0; k < 2; ++k) {
        act[k] = is_act(c, n, k);
        const qmac_value *gv = &c->g->values[n->in[k]];
        const vinfo *v = &c->v[n->in[k]];
        rk[k] = act[k] ? v->rank : gv->konst.rank;
        sh[k] = act[k] ? v->shape : gv->konst.shape;
        dt[k] = act[k] ? v->dtype : gv->konst.dtype;
    }
    if (!is_q8(dt[0]) || !is_q8(dt[1]) || !is_q8(n->qy.dtype))
        return FAIL(QMAC_ERR_UNSUPPORTED, n, "an add of %s and %s into %s is not lowered (only int8/uint8)",
                    qmac_dtype_name(dt[0]), qmac_dtype_name(dt[1]), qmac_dtype_name(n->qy.dtype));
    /* the output's shape (numpy broadcasting) must be that of an activation operand: its layout */
    const int32_t yr = rk[0] > rk[1] ? rk[0] : rk[1];
    int64_t ys[QMAC_MAX_RANK];
    for (int32_t a = 0; a < yr; ++a) {
        const int32_t a0 = a - (yr - rk[0]), a1 = a - (yr - rk[1]);
        const int64_t d0 = a0 >= 0 ? sh[0][a0] : 1, d1 = a1 >= 0 ? sh[1][a1] : 1;
        if (d0 != d1 && d0 != 1 && d1 != 1)
            return FAIL(QMAC_ERR_SHAPE, n, "input shapes do not broadcast");
        ys[a] = d0 == 1 ? d1 : d0;
    }
    int full = -1;
    for (int k = 1; k >= 0; --k)
        if (act[k] && rk[k] == yr && !memcmp(sh[k], ys, sizeof(int64_t) * (size_t)yr))
            full = k;
    if (full < 0)
        return FAIL(QMAC_ERR_UNSUPPORTED, n,
                    "an add with no activation of the output's shape is not lowered");
    const vinfo *fv = &c->v[n->in[full]];
    const int32_t cax = fv->kind == V_ACCEL ? fv->cax : fv->rank >= 3 ? 1 : fv->rank - 1;
    if (cax < 0)
        return FAIL(QMAC_ERR_UNSUPPORTED, n, "an add of a flattened view is not lowered");
    struct add_info *info = calloc(1, sizeof *info);
    if (!info)
        return qmac_set_error(QMAC_ERR_NOMEM, "out of memory");
    qmac_status st = QMAC_OK;
    for (int k = 0; k < 2 && st == QMAC_OK; ++k) {
        const int form = add_operand_form(rk[k], sh[k], fv->rank, fv->shape, cax);
        info->chan[k] = form == 1;
        info->konst[k] = !act[k];
        if (form < 0 || (form == 1 && act[k] && (rk[k] != fv->rank || sh[k][cax] != fv->shape[cax])))
            st = FAIL(QMAC_ERR_UNSUPPORTED, n,
                      "'%s' broadcasts along other axes than a per-channel or scalar operand (not lowered)",
                      vname(c, n->in[k]));
    }
    qmac_add_pair pair;
    if (st == QMAC_OK)
        st = qmac_add_pair_prepare(n, c->o->rule,
                                   qmac_add_onnxrt_a_is_scalar(rk[0], sh[0], fv->rank, fv->shape), &pair);
    if (st == QMAC_OK &&
        (st = qmac_add_plan_make(dt[0], dt[1], n->qy.dtype, pair.lo, pair.hi, pair.ra, pair.rb, pair.c,
                                 qmac_add_pair_eval, &pair, &info->plan)) != QMAC_OK)
        st = FAIL(st, n, "%s", qmac_last_error());
    for (int k = 0; k < 2 && st == QMAC_OK; ++k)
        if (act[k])
            st = use_accel(c, n, n->in[k], cax, k ? n->qw.zp[0] : n->qx.zp[0]);
    if (st == QMAC_OK) {
        fv = &c->v[n->in[full]];
        def_accel(c, n->out[0], n->qy.dtype, fv->rank, fv->shape, cax);
        st = add_layer(c, i, "add");
    }
    if (st != QMAC_OK) {
        free(info);
        return st;
    }
    c->lay[c->n_lay - 1].add = info;
    return QMAC_OK;
}

struct fshape {
    int set;
    qmac_dtype dtype;
    int32_t rank;
    int64_t shape[QMAC_MAX_RANK];
};

static qmac_status record_shape(void *ctx, int32_t value, const qmac_tensor *t)
{
    struct fshape *f = &((cc *)ctx)->fs[value];
    f->set = 1;
    f->dtype = t->dtype;
    f->rank = t->rank;
    memcpy(f->shape, t->shape, sizeof(int64_t) * (size_t)t->rank);
    return QMAC_OK;
}

/* The shapes of all values, from one reference run on zero inputs of the compiled shapes (a float
 * op's output shape is whatever the reference computes). */
static qmac_status infer_shapes(cc *c)
{
    const qmac_graph *g = c->g;
    qmac_tensor *in = calloc((size_t)g->n_inputs + 1, sizeof *in),
                *out = calloc((size_t)g->n_outputs + 1, sizeof *out);
    c->fs = calloc((size_t)g->n_values + 1, sizeof *c->fs);
    qmac_status st = in && out && c->fs ? QMAC_OK : qmac_set_error(QMAC_ERR_NOMEM, "out of memory");
    for (int32_t k = 0; k < g->n_inputs && st == QMAC_OK; ++k) {
        const vinfo *v = &c->v[g->inputs[k]];
        st = qmac_tensor_alloc(&in[k], v->dtype, v->rank, v->shape);
    }
    if (st == QMAC_OK)
        st = qmac_exec_ref_observe(g, c->o->rule, in, g->n_inputs, out, record_shape, c);
    for (int32_t k = 0; in && k < g->n_inputs; ++k)
        qmac_tensor_free(&in[k]);
    for (int32_t k = 0; out && k < g->n_outputs; ++k)
        qmac_tensor_free(&out[k]);
    free(in);
    free(out);
    return st;
}

/* A float layer (a layer left float, or an op on dequantized values): a host step before the
 * program when its inputs are, else after it. */
static qmac_status classify_float(cc *c, int32_t i, const qmac_node *n)
{
    for (int32_t k = 0; n->fp && k < n->n_in; ++k) { /* a layer over blocked weights: refused */
        const qmac_node *d = n->in[k] >= 0 ? node_writing(c, n->in[k]) : NULL;
        if (d && d->op == QMAC_NODE_DEQUANTIZE && d->qx.block > 0)
            return FAIL(QMAC_ERR_UNSUPPORTED, n,
                        "its weights '%s' are quantized in blocks of %d along axis %d (ONNX opset 21 "
                        "blocked quantization): not lowered. The array sums a layer's products into one "
                        "int32 accumulator per output and requantizes it with one scale per output "
                        "channel; products with several weight scales per output cannot share that sum "
                        "bit-exactly (docs/quantization.md)",
                        vname(c, d->in[0]), (int)d->qx.block, (int)d->qx.axis);
    }
    qmac_status st = c->fs ? QMAC_OK : infer_shapes(c);
    if (!c->first_float)
        c->first_float = i + 1;
    if (st == QMAC_OK)
        st = classify_host(c, i, n);
    for (int32_t k = 0; k < n->n_out && st == QMAC_OK; ++k) {
        vinfo *y = &c->v[n->out[k]];
        const struct fshape *f = &c->fs[n->out[k]];
        if (!f->set)
            return FAIL(QMAC_ERR_INTERNAL, n, "output '%s' has no shape", vname(c, n->out[k]));
        y->kind = V_HOST;
        y->dtype = f->dtype;
        y->rank = f->rank;
        memcpy(y->shape, f->shape, sizeof(int64_t) * (size_t)f->rank);
        if (n->fp)
            y->fp_src = i + 1;
    }
    return st;
}

/* Node n runs on the host in float: a float op, or an op whose input is float (dequantized). */
static int float_step(const cc *c, const qmac_node *n)
{
    if (n->fp)
        return 1;
    if (n->op == QMAC_NODE_QUANTIZE || n->op == QMAC_NODE_RESHAPE || n->op == QMAC_NODE_TRANSPOSE ||
        n->op == QMAC_NODE_DEQUANTIZE)
        return 0;
    for (int32_t k = 0; k < n->n_in; ++k)
        if (is_act(c, n, k) && c->v[n->in[k]].dtype == QMAC_DT_FLOAT32)
            return 1;
    return 0;
}

static qmac_status classify(cc *c)
{
    const qmac_graph *g = c->g;
    for (int32_t k = 0; k < g->n_inputs; ++k) {
        vinfo *v = &c->v[g->inputs[k]];
        const qmac_value *gv = &g->values[g->inputs[k]];
        v->kind = V_HOST;
        v->dtype = gv->decl_dtype;
        if (c->o->inputs) {
            v->rank = c->o->inputs[k].rank;
            memcpy(v->shape, c->o->inputs[k].shape, sizeof(int64_t) * (size_t)v->rank);
        } else {
            if (gv->decl_rank < 0)
                return qmac_set_error(QMAC_ERR_SHAPE, "input '%s' has no declared shape; give its shape",
                                      gv->name);
            v->rank = gv->decl_rank;
            for (int32_t d = 0; d < v->rank; ++d)
                v->shape[d] = gv->decl_shape[d] < 0 ? 1 : gv->decl_shape[d];
        }
    }
    for (int32_t i = 0; i < g->n_nodes; ++i) {
        const qmac_node *n = &g->nodes[i];
        qmac_status st;
        for (int32_t k = 0; k < n->n_in; ++k)
            if (is_act(c, n, k) && c->v[n->in[k]].kind == V_NONE)
                return FAIL(QMAC_ERR_INTERNAL, n, "input '%s' is not computed before", vname(c, n->in[k]));
        if (float_step(c, n)) {
            if ((st = classify_float(c, i, n)))
                return st;
            continue;
        }
        switch (n->op) {
        case QMAC_NODE_CONV: st = classify_conv(c, i, n); break;
        case QMAC_NODE_MATMUL: st = classify_matmul(c, i, n); break;
        case QMAC_NODE_MAXPOOL:
        case QMAC_NODE_AVGPOOL:
        case QMAC_NODE_GLOBAL_AVGPOOL: st = classify_pool(c, i, n); break;
        case QMAC_NODE_CLAMP: st = classify_clamp(c, i, n); break;
        case QMAC_NODE_CONCAT: st = classify_concat(c, i, n); break;
        case QMAC_NODE_ADD: st = classify_add(c, i, n); break;
        case QMAC_NODE_RESHAPE: st = classify_reshape(c, i, n); break;
        case QMAC_NODE_QUANTIZE: st = classify_quantize(c, i, n); break;
        case QMAC_NODE_DEQUANTIZE:
        case QMAC_NODE_TRANSPOSE: st = classify_host(c, i, n); break;
        default:
            return FAIL(QMAC_ERR_UNSUPPORTED, n, "%s is not lowered to the accelerator",
                        qmac_node_kind_name(n->op));
        }
        if (st != QMAC_OK)
            return st;
    }
    for (int32_t k = 0; k < g->n_outputs; ++k)
        if (c->v[g->outputs[k]].kind == V_NONE)
            return qmac_set_error(QMAC_ERR_INTERNAL, "output '%s' is not computed", vname(c, g->outputs[k]));
    if (c->first_float && !c->n_lay) /* float steps and no accelerator layer: a float model */
        return FAIL(QMAC_ERR_UNSUPPORTED, &g->nodes[c->first_float - 1],
                    "a float op is not lowered, and no layer of the model is quantized for the "
                    "accelerator (quantize the model first: qmac quantize)");
    settle_host_after(c);
    return QMAC_OK;
}

/* ------------------------------------------------------------------ pass 2: arena */

typedef struct {
    int32_t id;
    uint64_t size;
} alloc_item;

static int by_size_desc(const void *a, const void *b)
{
    const alloc_item *x = a, *y = b;
    if (x->size != y->size)
        return x->size < y->size ? 1 : -1;
    return x->id - y->id;
}

/* Greedy by size: each root tensor at the lowest N-aligned offset that overlaps no placed tensor
 * whose lifetime [def, last] intersects its own. */
static qmac_status plan(cc *c, uint64_t *arena)
{
    const qmac_graph *g = c->g;
    alloc_item *it = malloc(sizeof *it * ((size_t)g->n_values + 1));
    int32_t n = 0;
    if (!it)
        return qmac_set_error(QMAC_ERR_NOMEM, "out of memory");
    for (int32_t id = 0; id < g->n_values; ++id)
        if (c->v[id].kind == V_ACCEL && c->v[id].root == id)
            it[n++] = (alloc_item){id, (bytes_of(c, &c->v[id]) + c->n - 1) / c->n * c->n};
    qsort(it, (size_t)n, sizeof *it, by_size_desc);
    *arena = 0;
    for (int32_t i = 0; i < n; ++i) {
        vinfo *v = &c->v[it[i].id];
        uint64_t off = 0;
        for (int moved = 1; moved;) {
            moved = 0;
            for (int32_t j = 0; j < i; ++j) {
                const vinfo *u = &c->v[it[j].id];
                const int live = c->o->keep_all || !(u->last < v->def || v->last < u->def);
                if (live && off < u->off + it[j].size && u->off < off + it[i].size) {
                    off = u->off + it[j].size;
                    moved = 1;
                }
            }
        }
        v->off = (uint32_t)off;
        if (off + it[i].size > *arena)
            *arena = off + it[i].size;
    }
    free(it);
    return *arena > UINT32_MAX / 2 ? qmac_set_error(QMAC_ERR_INVALID_ARG, "activations need %llu bytes",
                                                    (unsigned long long)*arena)
                                   : QMAC_OK;
}

/* ------------------------------------------------------------------ pass 3: lowering */

/* Reserve len bytes (N-aligned) of the data image; returns the offset or SIZE_MAX. */
static size_t data_alloc(cc *c, size_t len)
{
    const size_t off = (c->data_len + c->n - 1) / c->n * c->n;
    if (off + len > c->data_cap) {
        size_t cap = c->data_cap ? c->data_cap : 4096;
        while (cap < off + len)
            cap *= 2;
        uint8_t *d = realloc(c->data, cap);
        if (!d)
            return SIZE_MAX;
        memset(d + c->data_cap, 0, cap - c->data_cap);
        c->data = d;
        c->data_cap = cap;
    }
    c->data_len = off + len;
    return off;
}

static uint32_t vaddr(const cc *c, int32_t id)
{
    return c->m->base + c->v[c->v[id].root].off;
}

/* The requantization parameter table of nch channels (padded to a multiple of N) at data offset
 * *off: bias, multiplier (float32 bits for rule C), shift, weight zero point. */
static qmac_status pack_params(cc *c, const qmac_node *n, int32_t nch, const int32_t *bias, size_t *off)
{
    const uint32_t cols = cdiv((uint64_t)nch, c->n) * c->n;
    int32_t *b = calloc(cols, sizeof *b), *mult = calloc(cols, sizeof *mult),
            *shift = calloc(cols, sizeof *shift);
    uint32_t *pm = calloc(cols, sizeof *pm);
    int8_t *ps = calloc(cols, 1);
    uint8_t *pz = calloc(cols, 1);
    float *scale = calloc(cols, sizeof *scale), *sw = calloc(cols, sizeof *sw);
    qmac_status st = QMAC_OK;
    if (!b || !mult || !shift || !pm || !ps || !pz || !scale || !sw) {
        st = qmac_set_error(QMAC_ERR_NOMEM, "out of memory");
        goto out;
    }
    int32_t lo, hi;
    qmac_node_out_range(n, n->qy.dtype, &lo, &hi);
    for (int32_t k = 0; k < nch; ++k)
        sw[k] = n->qw.scale[n->qw.n == 1 ? 0 : k];
    qmac_requant rq;
    st = qmac_requant_prepare(&rq, c->o->rule, n->qx.scale[0], sw, nch, n->qy.scale[0], n->qy.zp[0], lo, hi,
                              mult, shift, scale);
    if (st != QMAC_OK) {
        st = FAIL(st, n, "%s", qmac_last_error());
        goto out;
    }
    for (int32_t k = 0; k < nch; ++k) {
        b[k] = bias ? bias[k] : 0;
        if (c->o->rule == QMAC_REQUANT_ONNXRT) {
            memcpy(&pm[k], &scale[k], 4);
        } else {
            pm[k] = (uint32_t)mult[k];
            ps[k] = (int8_t)shift[k];
        }
        pz[k] = (uint8_t)(n->qw.zp[n->qw.n == 1 ? 0 : k] & 0xff);
    }
    *off = data_alloc(c, qmac_gemm_prog_param_bytes(&c->o->hw, cols));
    if (*off == SIZE_MAX) {
        st = qmac_set_error(QMAC_ERR_NOMEM, "out of memory");
        goto out;
    }
    qmac_gemm_prog_pack_params(&c->o->hw, cols, b, pm, ps, pz, c->data + *off);
out:
    free(b);
    free(mult);
    free(shift);
    free(pm);
    free(ps);
    free(pz);
    free(scale);
    free(sw);
    return st;
}

/* Append p (without its END) to the model's program. */
static qmac_status append_prog(cc *c, const qmac_prog *p)
{
    for (size_t i = 0; i + 1 < p->n_insn; ++i) {
        qmac_status st = qmac_prog_push_words(&c->m->prog, qmac_prog_insn(p, i));
        if (st != QMAC_OK)
            return st;
    }
    return QMAC_OK;
}

/* CONFIG fields of a conv/matmul layer: types, zero points, rule, output clamp. */
static void set_quant(const cc *c, const qmac_node *n, qmac_dtype xdt, qmac_dtype wdt, qmac_dtype ydt,
                      qmac_conv_prog_desc *d)
{
    d->act_signed = xdt == QMAC_DT_INT8;
    d->wgt_signed = wdt == QMAC_DT_INT8;
    d->act_zp = (uint32_t)(n->qx.zp[0] & 0xff);
    d->rule = c->o->rule == QMAC_REQUANT_TFLITE   ? QMAC_RULE_TFLITE
              : c->o->rule == QMAC_REQUANT_SINGLE ? QMAC_RULE_SINGLE
                                                  : QMAC_RULE_FLOAT;
    d->omode = ydt == QMAC_DT_INT8 ? QMAC_OMODE_S8 : QMAC_OMODE_U8;
    int32_t lo, hi;
    qmac_node_out_range(n, ydt, &lo, &hi);
    d->out_zp = (uint32_t)(n->qy.zp[0] & 0xff);
    d->clamp_min = (uint32_t)(lo & 0xff);
    d->clamp_max = (uint32_t)(hi & 0xff);
}

/* The convolution program of layer L for every image of the batch: geometry, weights, params. */
typedef struct {
    qmac_conv_prog_desc d;
    uint32_t batch;
    const uint8_t *w; /* OHWI */
    const int32_t *bias;
    int64_t acc_off; /* binary mode: what the padding bits add to every accumulator */
} conv_job;

/* ---- the output stage of a QONNX layer on the accelerator */

static uint32_t omode_of(qmac_dtype dt)
{
    return dt == QMAC_DT_INT8 ? QMAC_OMODE_S8 : QMAC_OMODE_U8;
}

typedef struct {
    const qmac_qonnx_stage *s;
    int32_t ch;
    int64_t off; /* the accelerator accumulates acc + off */
    uint32_t rule, omode;
    uint8_t zp, lo, hi;
    int32_t bias, c0, c1;
    uint32_t mult;
    int8_t shift;
} stage_hw;

static int32_t stage_ref(const stage_hw *h, int64_t acc)
{
    return qmac_qonnx_code(h->s, h->ch, qmac_qonnx_value(h->s, h->ch, (int32_t)acc));
}

static int32_t stage_acc(const stage_hw *h, int64_t acc)
{
    const uint32_t r = qmac_rq_lane(h->rule, h->omode, h->zp, h->lo, h->hi, (int32_t)(acc + h->off), h->bias,
                                    h->mult, h->shift);
    return h->omode == QMAC_OMODE_BIN  ? (r ? h->c0 : h->c1)
           : h->omode == QMAC_OMODE_S8 ? (int8_t)r
                                       : (int32_t)r;
}

/* Both functions are monotone in acc (the stage's float steps each are, so is the requantization),
 * so they are equal on [lo, hi] iff equal at both ends of every run of equal reference codes: at
 * most 256 runs, each end found by bisection. Returns the first accumulator where they differ, or
 * hi + 1. */
static int64_t stage_diff(const stage_hw *h, int64_t lo, int64_t hi)
{
    int64_t a = lo;
    int32_t fa = stage_ref(h, a);
    if (stage_acc(h, a) != fa)
        return a;
    while (a < hi) {
        int64_t l = a + 1, r = hi;
        if (stage_ref(h, hi) == fa)
            return stage_acc(h, hi) == fa ? hi + 1 : hi;
        while (l < r) { /* the first accumulator with another code */
            const int64_t mid = l + (r - l) / 2;
            if (stage_ref(h, mid) != fa)
                r = mid;
            else
                l = mid + 1;
        }
        if (stage_acc(h, l - 1) != fa)
            return l - 1;
        a = l;
        fa = stage_ref(h, a);
        if (stage_acc(h, a) != fa)
            return a;
    }
    return hi + 1;
}

/* The threshold of a two-level stage over [lo, hi]: code c1 iff acc >= tau (flip 0) or acc <= tau
 * (flip 1); a constant code gives tau = lo (all c1) or hi + 1 (all c0). */
static void stage_threshold(const stage_hw *h, int64_t lo, int64_t hi, int64_t *tau, int *flip)
{
    const int32_t f_lo = stage_ref(h, lo), f_hi = stage_ref(h, hi);
    *flip = 0;
    if (f_lo == f_hi) {
        *tau = f_lo == h->c1 ? lo : hi + 1;
        return;
    }
    int64_t l = lo, r = hi;
    *flip = f_lo == h->c1;
    while (l < r) {
        const int64_t mid = *flip ? l + (r - l + 1) / 2 : l + (r - l) / 2;
        const int up = stage_ref(h, mid) == h->c1;
        if (*flip) {
            if (up)
                l = mid;
            else
                r = mid - 1;
        } else if (up) {
            r = mid;
        } else {
            l = mid + 1;
        }
    }
    *tau = l;
}

/* The accumulator range of each output channel of QONNX layer n: the input codes' range minus
 * the zero point, times each weight (minus its zero point), summed. */
static void acc_ranges(const cc *c, const qmac_node *n, int64_t *lo, int64_t *hi)
{
    const qmac_tensor *w = &c->g->values[n->in[1]].konst;
    const int32_t nch = n->qs->nch;
    int32_t xl, xh;
    code_range(c, n->in[0], &xl, &xh);
    xl -= n->qx.zp[0];
    xh -= n->qx.zp[0];
    const size_t cnt = qmac_tensor_count(w), per = cnt / (size_t)nch;
    for (int32_t k = 0; k < nch; ++k)
        lo[k] = hi[k] = 0;
    for (size_t e = 0; e < cnt; ++e) {
        const int32_t ch =
            n->op == QMAC_NODE_CONV || n->trans_b ? (int32_t)(e / per) : (int32_t)(e % (size_t)nch);
        const int64_t wv = qmac_load_int(w->dtype, w->data, e) - n->qw.zp[n->qw.n == 1 ? 0 : ch];
        const int64_t p = wv * xl, q = wv * xh;
        lo[ch] += p < q ? p : q;
        hi[ch] += p < q ? q : p;
    }
}

/* The parameter table and CONFIG fields of a QONNX layer: per channel, the bias, multiplier and
 * shift under which the accelerator's requantization of acc + acc_off equals the stage's code
 * for every accumulator the layer can produce (checked, stage_diff). Two-level stages become a
 * threshold (omode BIN when the output is packed, else rule C with a slope of +-(c1 - c0) around
 * the threshold, clamped to the two codes); Quant stages rule C with the stage's affine map. */
static qmac_status qonnx_params(cc *c, const qmac_node *n, conv_job *j, size_t *off)
{
    qmac_conv_prog_desc *d = &j->d;
    const qmac_qonnx_stage *s = n->qs;
    const int32_t nch = s->nch;
    const uint32_t cols = cdiv((uint64_t)nch, c->n) * c->n;
    const int two = s->oq == QMAC_OQ_THRESH;
    stage_hw h = {.s = s,
                  .off = j->acc_off,
                  .rule = QMAC_RULE_FLOAT,
                  .omode = c->v[n->out[0]].packed ? QMAC_OMODE_BIN : omode_of(n->qy.dtype),
                  .c0 = s->code0,
                  .c1 = s->code0 + s->code_step};
    const int32_t zp = two ? h.c1 : (int32_t)s->zp, lo = two ? (h.c0 < h.c1 ? h.c0 : h.c1) : s->qmin,
                  hi = two ? (h.c0 < h.c1 ? h.c1 : h.c0) : s->qmax;
    h.zp = (uint8_t)(zp & 0xff);
    h.lo = (uint8_t)(lo & 0xff);
    h.hi = (uint8_t)(hi & 0xff);
    d->rule = h.rule;
    d->omode = h.omode;
    d->out_zp = h.zp;
    d->clamp_min = h.lo;
    d->clamp_max = h.hi;
    int32_t *b = calloc(cols, sizeof *b);
    uint32_t *m = calloc(cols, sizeof *m);
    int8_t *sh = calloc(cols, 1);
    int64_t *alo = calloc((size_t)nch, sizeof *alo), *ahi = calloc((size_t)nch, sizeof *ahi);
    qmac_status st = b && m && sh && alo && ahi ? QMAC_OK : qmac_set_error(QMAC_ERR_NOMEM, "out of memory");
    if (st == QMAC_OK)
        acc_ranges(c, n, alo, ahi);
    for (uint32_t k = (uint32_t)nch; k < cols && st == QMAC_OK; ++k) /* padding lanes: bit 0 / code zp */
        m[k] = h.omode == QMAC_OMODE_BIN ? 0x80000000u : 0u;
    for (int32_t k = 0; k < nch && st == QMAC_OK; ++k) {
        h.ch = k;
        if (alo[k] + h.off < INT32_MIN || ahi[k] + h.off + 1 > INT32_MAX) {
            st = FAIL(QMAC_ERR_UNSUPPORTED, n, "output channel %d: accumulators of [%lld, %lld] exceed int32",
                      (int)k, (long long)alo[k], (long long)ahi[k]);
            break;
        }
        if (two) {
            int64_t tau;
            int flip;
            stage_threshold(&h, alo[k], ahi[k], &tau, &flip);
            const int64_t t = tau + h.off;
            if (h.omode == QMAC_OMODE_BIN) { /* bit (1 = c0) = (acc < mult) ^ shift */
                h.bias = 0;
                h.mult = (uint32_t)(int32_t)(flip ? t + 1 : t);
                h.shift = (int8_t)flip;
            } else { /* c1 + clamp(2 (acc - t) (c1 - c0)...) */
                const float slope = (float)(flip ? h.c0 - h.c1 : h.c1 - h.c0);
                h.bias = (int32_t)-t;
                memcpy(&h.mult, &slope, 4);
                h.shift = 0;
            }
        } else { /* the stage's affine map v = a acc + b, divided by the output scale */
            double a = s->in_scale[k], bb = 0.0;
            for (int32_t e = 0; e < s->n_epi; ++e) {
                const double q = s->epi[e].k[s->epi[e].n == 1 ? 0 : k];
                switch (s->epi[e].op) {
                case QMAC_EPI_MUL:
                    a *= q;
                    bb *= q;
                    break;
                case QMAC_EPI_DIV:
                    a /= q;
                    bb /= q;
                    break;
                case QMAC_EPI_ADD: bb += q; break;
                case QMAC_EPI_SUB: bb -= q; break;
                default: break; /* Relu / Clip: left to the clamp, and to the check below */
                }
            }
            const float scale = (float)(a / s->scale);
            const double bias = a != 0.0 ? nearbyint(bb / a) - (double)h.off : 0.0;
            h.bias = fabs(bias) < 2147483647.0 ? (int32_t)bias : 0;
            memcpy(&h.mult, &scale, 4);
            h.shift = 0;
        }
        const int64_t bad = stage_diff(&h, alo[k], ahi[k]);
        if (bad <= ahi[k]) {
            st = FAIL(
                QMAC_ERR_UNSUPPORTED, n,
                "output channel %d: the accelerator's requantization differs from the QONNX arithmetic at "
                "accumulator %lld (code %d, accelerator %d); power-of-two scales with an integer bias are "
                "exact",
                (int)k, (long long)bad, (int)stage_ref(&h, bad), (int)stage_acc(&h, bad));
            break;
        }
        b[k] = h.bias;
        m[k] = h.mult;
        sh[k] = h.shift;
    }
    if (st == QMAC_OK && (*off = data_alloc(c, qmac_gemm_prog_param_bytes(&c->o->hw, cols))) == SIZE_MAX)
        st = qmac_set_error(QMAC_ERR_NOMEM, "out of memory");
    if (st == QMAC_OK)
        qmac_gemm_prog_pack_params(&c->o->hw, cols, b, m, sh, NULL, c->data + *off);
    free(b);
    free(m);
    free(sh);
    free(alo);
    free(ahi);
    return st;
}

static qmac_status emit_conv(cc *c, const qmac_node *n, conv_job *j, qmac_model_layer *ml)
{
    qmac_conv_prog_desc *d = &j->d;
    const qmac_hw_config *hw = &c->o->hw;
    qmac_status st;
    size_t p_off = 0, w_off;
    if ((st = n->qs ? qonnx_params(c, n, j, &p_off) : pack_params(c, n, (int32_t)d->cout, j->bias, &p_off)))
        return st;
    if (d->omode == QMAC_OMODE_BIN && cdiv(d->cout, c->n) % 8u) { /* zeros for the unwritten bit groups */
        const size_t z = data_alloc(c, c->n);
        if (z == SIZE_MAX)
            return qmac_set_error(QMAC_ERR_NOMEM, "out of memory");
        d->zero_addr = c->m->data_addr + (uint32_t)z;
    }
    const size_t wb = qmac_conv_prog_weight_bytes(hw, d);
    if ((w_off = data_alloc(c, wb)) == SIZE_MAX)
        return qmac_set_error(QMAC_ERR_NOMEM, "out of memory");
    uint8_t *wzp = malloc(d->cout + 1u);
    if (!wzp)
        return qmac_set_error(QMAC_ERR_NOMEM, "out of memory");
    for (uint32_t k = 0; k < d->cout; ++k)
        wzp[k] = (uint8_t)(n->qw.zp[n->qw.n == 1 ? 0 : k] & 0xff);
    qmac_conv_prog_pack_weights(hw, d, j->w, wzp, c->data + w_off);
    free(wzp);
    /* addresses inside the data image are relative until the image's address is known: the
     * image follows the arena, whose size is final here */
    d->w_addr = c->m->data_addr + (uint32_t)w_off;
    d->param_addr = c->m->data_addr + (uint32_t)p_off;
    const uint32_t gx = cdiv(d->cin, c->n), gy = cdiv(d->cout, c->n);
    const uint32_t oh = qmac_conv_prog_out_h(d), ow = qmac_conv_prog_out_w(d);
    const uint32_t x0 = d->x_addr, y0 = d->y_addr;
    for (uint32_t b = 0; b < j->batch; ++b) {
        qmac_prog p;
        qmac_prog_init(&p);
        qmac_conv_prog_info info;
        d->x_addr = x0 + b * d->h * d->w * gx * c->n;
        d->y_addr = y0 + b * oh * ow * (d->omode == QMAC_OMODE_BIN ? cdiv(gy, 8) : gy) * c->n;
        st = qmac_conv_prog_build(hw, d, &p, &info);
        if (st == QMAC_OK)
            st = append_prog(c, &p);
        qmac_prog_free(&p);
        if (st != QMAC_OK)
            return st == QMAC_ERR_NOMEM ? st : FAIL(st, n, "%s", qmac_last_error());
        ml->macs += info.macs;
        ml->vectors += info.vectors;
    }
    return QMAC_OK;
}

/* A layer in binary mode: rows x k weight codes (-1/+1 bytes, row stride k) become rows x kb
 * bytes of packed bits (input channel i at bit i % 8 of byte i / 8, 1 = -1; the rest 0), and
 * CONFIG bin with activations counted in bytes. Each padding bit (0 in both operands) adds +1 to
 * the dot product: the caller sets acc_off. Frees *wt on success and on failure. */
static qmac_status binary_mode(uint8_t **wt, size_t rows, size_t k, uint32_t kb, conv_job *j,
                               qmac_model_layer *ml)
{
    uint8_t *wb = calloc(rows * kb + 1, 1);
    if (!wb) {
        free(*wt);
        return qmac_set_error(QMAC_ERR_NOMEM, "out of memory");
    }
    for (size_t r = 0; r < rows; ++r)
        for (size_t i = 0; i < k; ++i)
            if ((int8_t)(*wt)[r * k + i] < 0)
                wb[r * kb + i / 8] |= (uint8_t)(1u << (i % 8));
    free(*wt);
    *wt = wb;
    j->d.cin = kb;
    j->d.bin = 1;
    j->d.act_zp = 0;
    ml->binary = 1;
    return QMAC_OK;
}

static qmac_status lower_conv(cc *c, const qmac_node *n, qmac_model_layer *ml)
{
    const vinfo *x = &c->v[n->in[0]], *y = &c->v[n->out[0]];
    const qmac_tensor *w = &c->g->values[n->in[1]].konst;
    const int sp = x->rank - 2;
    conv_job j;
    memset(&j, 0, sizeof j);
    qmac_conv_prog_desc *d = &j.d;
    d->h = sp == 2 ? (uint32_t)x->shape[2] : 1;
    d->w = (uint32_t)x->shape[x->rank - 1];
    d->cin = (uint32_t)x->shape[1];
    d->cout = (uint32_t)w->shape[0];
    d->kh = sp == 2 ? (uint32_t)w->shape[2] : 1;
    d->kw = (uint32_t)w->shape[w->rank - 1];
    qmac_node nn = *n;
    if (sp == 1)
        nn.strides[0] = nn.dilations[0] = 1;
    d->stride_h = (uint32_t)nn.strides[0];
    d->stride_w = (uint32_t)nn.strides[1];
    d->dil_h = (uint32_t)nn.dilations[0];
    d->dil_w = (uint32_t)nn.dilations[1];
    int32_t pb = 0, pa = 0, o;
    qmac_status st;
    if (sp == 2 && (st = qmac_node_conv_axis(&nn, 0, (int32_t)d->h, (int32_t)d->kh, &pb, &pa, &o)))
        return st;
    d->pad_t = (uint32_t)pb;
    d->pad_b = (uint32_t)pa;
    if ((st = qmac_node_conv_axis(&nn, 1, (int32_t)d->w, (int32_t)d->kw, &pb, &pa, &o)))
        return st;
    d->pad_l = (uint32_t)pb;
    d->pad_r = (uint32_t)pa;
    d->groups = (uint32_t)n->group;
    d->x_addr = vaddr(c, n->in[0]);
    d->y_addr = vaddr(c, n->out[0]);
    set_quant(c, n, x->dtype, w->dtype, y->dtype, d);
    j.batch = (uint32_t)x->shape[0];
    j.bias = n->n_in > 2 ? (const int32_t *)c->g->values[n->in[2]].konst.data : NULL;
    /* OIHW -> OHWI */
    const size_t cin_g = (size_t)w->shape[1], taps = (size_t)d->kh * d->kw;
    uint8_t *wt = malloc((size_t)d->cout * taps * cin_g + 1);
    if (!wt)
        return qmac_set_error(QMAC_ERR_NOMEM, "out of memory");
    const uint8_t *src = w->data;
    for (size_t oc = 0; oc < d->cout; ++oc)
        for (size_t ic = 0; ic < cin_g; ++ic)
            for (size_t t = 0; t < taps; ++t)
                wt[(oc * taps + t) * cin_g + ic] = src[(oc * cin_g + ic) * taps + t];
    if (x->col.on) { /* the host wrote the windows: a 1 x 1 convolution over them, whose weights
                        are the OHWI rows as they are */
        d->h = x->col.out[0];
        d->w = x->col.out[1];
        d->cin = (uint32_t)(cin_g * taps);
        d->kh = d->kw = d->stride_h = d->stride_w = d->dil_h = d->dil_w = 1;
        d->pad_t = d->pad_b = d->pad_l = d->pad_r = 0;
    }
    if (x->packed) { /* binary mode: Cin bits per tap, 8 per byte of Gb rows of N bytes */
        const uint32_t cb = cdiv(cin_g, 8u * c->n) * c->n;
        if ((st = binary_mode(&wt, (size_t)d->cout * taps, cin_g, cb, &j, ml)))
            return st;
        j.acc_off = (int64_t)taps * (8 * (int64_t)cb - (int64_t)cin_g);
    }
    j.w = wt;
    st = emit_conv(c, n, &j, ml);
    free(wt);
    if (x->packed)
        ml->macs =
            (uint64_t)qmac_conv_prog_out_h(d) * qmac_conv_prog_out_w(d) * d->cout * taps * cin_g * j.batch;
    return st;
}

/* A matmul is the 1 x 1 convolution of a (pixels x 1) image: each row of A one pixel. */
static qmac_status lower_matmul(cc *c, const qmac_node *n, qmac_model_layer *ml)
{
    const vinfo *a = &c->v[n->in[0]], *y = &c->v[n->out[0]];
    const qmac_tensor *b = &c->g->values[n->in[1]].konst;
    const uint32_t K = (uint32_t)a->shape[a->rank - 1], N = (uint32_t)y->shape[y->rank - 1];
    /* a flattened view: each row is `inner` pixels of G N bytes; weight row i G N + ch is the
     * logical row ch * inner + i (rows of padding channels: the zero point, as conv_prog pads) */
    const uint32_t inner = a->cax < 0 ? (uint32_t)a->lay_inner : 1,
                   gn = cdiv((uint64_t)a->lay_c, c->n) * c->n;
    const uint32_t Kp = a->cax < 0 ? inner * gn : K;
    conv_job j;
    memset(&j, 0, sizeof j);
    qmac_conv_prog_desc *d = &j.d;
    d->h = (uint32_t)(count_of(a->rank, a->shape) / K);
    d->w = 1;
    d->cin = Kp;
    d->cout = N;
    d->kh = d->kw = d->stride_h = d->stride_w = d->dil_h = d->dil_w = d->groups = 1;
    d->x_addr = vaddr(c, n->in[0]);
    d->y_addr = vaddr(c, n->out[0]);
    set_quant(c, n, a->dtype, b->dtype, y->dtype, d);
    j.batch = 1;
    j.bias = n->n_in > 2 ? (const int32_t *)c->g->values[n->in[2]].konst.data : NULL;
    uint8_t *wt = malloc((size_t)Kp * N + 1);
    if (!wt)
        return qmac_set_error(QMAC_ERR_NOMEM, "out of memory");
    const uint8_t *src = b->data;
    for (size_t o = 0; o < N; ++o) /* [K, N] (or [N, K] for transB) -> [N][Kp] */
        for (size_t kp = 0; kp < Kp; ++kp) {
            const size_t ch = kp % gn, k = inner == 1 ? kp : ch * inner + kp / gn;
            if (inner > 1 && ch >= (size_t)a->lay_c)
                wt[o * Kp + kp] = (uint8_t)(n->qw.zp[n->qw.n == 1 ? 0 : o] & 0xff);
            else
                wt[o * Kp + kp] = n->trans_b ? src[o * K + k] : src[k * N + o];
        }
    if (a->packed) { /* binary mode: K channels are K bits, 8 per byte of a row of Kb bytes */
        const uint32_t Kb = cdiv(K, 8u * c->n) * c->n;
        qmac_status st = binary_mode(&wt, N, K, Kb, &j, ml);
        if (st != QMAC_OK)
            return st;
        j.acc_off = 8 * (int64_t)Kb - K;
    }
    j.w = wt;
    qmac_status st = emit_conv(c, n, &j, ml);
    free(wt);
    if (inner > 1 || a->packed) /* padding rows / bits are not useful MACs */
        ml->macs = (uint64_t)d->h * K * N;
    return st;
}

/* ------------------------------------------------------------------ vector-unit layers */

static qmac_status push(cc *c, qmac_insn in)
{
    return qmac_prog_push(&c->m->prog, &in);
}

/* CONFIG (rule C) and the same bias and float multiplier in every lane, loaded into ACC rows
 * 0 .. 2 and PARAM: POST then computes clamp(rne((v + bias) * mult) + zp). Multiplier 1 and bias
 * 0 copy (and clamp) integers exactly. */
static qmac_status post_setup(cc *c, qmac_dtype dt, int32_t zp, int32_t lo, int32_t hi, int32_t bias,
                              float mult)
{
    const uint32_t n = c->n;
    int32_t b[QMAC_ACCEL_MAX_DIM];
    uint32_t m[QMAC_ACCEL_MAX_DIM];
    int8_t sh[QMAC_ACCEL_MAX_DIM] = {0};
    uint32_t bits;
    memcpy(&bits, &mult, 4);
    for (uint32_t k = 0; k < n; ++k) {
        b[k] = bias;
        m[k] = bits;
    }
    const size_t off = data_alloc(c, qmac_gemm_prog_param_bytes(&c->o->hw, n));
    if (off == SIZE_MAX)
        return qmac_set_error(QMAC_ERR_NOMEM, "out of memory");
    qmac_gemm_prog_pack_params(&c->o->hw, n, b, m, sh, NULL, c->data + off);
    qmac_status st;
    if ((st = push(c, QMAC_INSN_CONFIG(.rule = QMAC_RULE_FLOAT, .omode = omode_of(dt),
                                       .out_zp = (uint32_t)zp & 0xffu, .clamp_min = (uint32_t)lo & 0xffu,
                                       .clamp_max = (uint32_t)hi & 0xffu))) ||
        (st = push(c, QMAC_INSN_LOAD(.buf = QMAC_BUF_ACC, .dram = c->m->data_addr + (uint32_t)off,
                                     .x_size = 3, .y_size = 1, .z_size = 1, .x_stride = 4 * n))))
        return st;
    return push(c, QMAC_INSN_PARAM(.acc = 0));
}

static uint32_t min_u32(uint64_t a, uint64_t b)
{
    return (uint32_t)(a < b ? a : b);
}

static qmac_status lower_maxpool(cc *c, const qmac_node *n, qmac_model_layer *ml)
{
    const vinfo *x = &c->v[n->in[0]];
    const qmac_hw_config *hw = &c->o->hw;
    pool_geom p;
    qmac_status st = pool_geometry(n, x, &p);
    if (st != QMAC_OK)
        return st;
    (void)ml;
    const uint32_t N = c->n, G = cdiv((uint64_t)x->shape[1], N), OH = (uint32_t)p.out[0],
                   OW = (uint32_t)p.out[1];
    const uint32_t H = (uint32_t)p.h, W = (uint32_t)p.w, Hc = H - (uint32_t)p.crop[0],
                   Wc = W - (uint32_t)p.crop[1];
    const uint32_t Wp = (uint32_t)p.head[1] + Wc + (uint32_t)p.tail[1];
    if (p.head[1] > 255 || p.tail[1] > 255 || p.head[0] > 255 || p.tail[0] > 255)
        return FAIL(QMAC_ERR_UNSUPPORTED, n, "padding wider than a LOAD's 255 rows");
    int32_t lo, hi;
    qmac_node_out_range(n, x->dtype, &lo, &hi);
    /* output rows per tile: input rows (with padding) x Wp in INP, th OW in ACC (after the 3
     * parameter rows) and OUT */
    const uint32_t cap = min_u32(min_u32(hw->acc_rows - 3, hw->out_rows), 65535);
    uint32_t t = OH;
    while (t > 0 && (((uint64_t)(t - 1) * (uint32_t)p.sh + (uint64_t)(p.kh - 1) * (uint32_t)p.dh + 1) * Wp >
                         hw->inp_rows ||
                     (uint64_t)t * OW > cap))
        --t;
    if (t == 0)
        return FAIL(QMAC_ERR_UNSUPPORTED, n,
                    "one output row does not fit the buffers (column tiling is not built)");
    if ((st = post_setup(c, x->dtype, 0, lo, hi, 0, 1.0f)))
        return st;
    const uint32_t pad = x->dtype == QMAC_DT_INT8 ? 0x80u : 0u, sgn = x->dtype == QMAC_DT_INT8;
    const uint32_t xa = vaddr(c, n->in[0]), ya = vaddr(c, n->out[0]);
    for (uint32_t b = 0; b < (uint32_t)x->shape[0]; ++b)
        for (uint32_t oy0 = 0; oy0 < OH; oy0 += t) {
            const uint32_t th = OH - oy0 < t ? OH - oy0 : t;
            const int64_t lo_r = (int64_t)oy0 * p.sh - p.head[0];
            const int64_t hi_r = (int64_t)(oy0 + th - 1) * p.sh - p.head[0] + (int64_t)(p.kh - 1) * p.dh;
            const uint32_t py0 = lo_r < 0 ? (uint32_t)-lo_r : 0;
            const uint32_t py1 = hi_r > (int64_t)Hc - 1 ? (uint32_t)(hi_r - ((int64_t)Hc - 1)) : 0;
            const int64_t first = lo_r < 0 ? 0 : lo_r;
            const int64_t rows = hi_r - lo_r + 1 - py0 - py1;
            if (rows <= 0 || py0 > 255 || py1 > 255)
                return FAIL(QMAC_ERR_UNSUPPORTED, n, "a tile of windows entirely in padding is not lowered");
            for (uint32_t g = 0; g < G; ++g) {
                const uint64_t src =
                    xa +
                    ((((uint64_t)b * H + (uint32_t)p.crop[0] + (uint64_t)first) * W + (uint32_t)p.crop[1]) *
                         G +
                     g) *
                        N;
                if ((st = push(c, QMAC_INSN_LOAD(.buf = QMAC_BUF_INP, .pad_value = pad, .dram = (uint32_t)src,
                                                 .x_size = Wc, .y_size = (uint32_t)rows, .z_size = 1,
                                                 .x_stride = G * N, .y_stride = W * G * N,
                                                 .pad_x0 = (uint32_t)p.head[1],
                                                 .pad_x1 = Wp - (uint32_t)p.head[1] - Wc, .pad_y0 = py0,
                                                 .pad_y1 = py1))))
                    return st;
                for (int32_t ky = 0; ky < p.kh; ++ky)
                    for (int32_t kx = 0; kx < p.kw; ++kx) {
                        const int first_tap = ky == 0 && kx == 0;
                        if ((st = push(c,
                                       QMAC_INSN_VALU(.alu = first_tap ? QMAC_ALU_MOV : QMAC_ALU_MAX,
                                                      .a_buf = QMAC_ABUF_INP, .a_signed = sgn, .b = 3,
                                                      .a = (uint32_t)(ky * p.dh) * Wp + (uint32_t)(kx * p.dw),
                                                      .dst = 3, .count0 = OW, .count1 = th,
                                                      .a_s0 = (uint32_t)p.sw, .a_s1 = (uint32_t)p.sh * Wp,
                                                      .dst_s0 = 1, .dst_s1 = OW, .b_s0 = 1, .b_s1 = OW))))
                            return st;
                    }
                if ((st = push(c, QMAC_INSN_POST(.acc = 3, .count0 = th * OW, .count1 = 1, .acc_s0 = 1,
                                                 .out_s0 = 1))) ||
                    (st = push(
                         c,
                         QMAC_INSN_STORE(.buf = QMAC_BUF_OUT,
                                         .dram = (uint32_t)(ya + (((uint64_t)b * OH + oy0) * OW * G + g) * N),
                                         .x_size = th * OW, .y_size = 1, .z_size = 1, .x_stride = G * N))))
                    return st;
            }
        }
    return QMAC_OK;
}

/* ONNX Runtime's global average pool: per image and channel group, the int32 sum of the pixels
 * (VALU MOV of the first, ADD of the rest, chunked to INP), then POST with bias -zp HW and the
 * float multiplier x_scale / (y_scale * HW). */
static qmac_status lower_global_avg(cc *c, const qmac_node *n, qmac_model_layer *ml)
{
    const vinfo *x = &c->v[n->in[0]];
    const qmac_hw_config *hw = &c->o->hw;
    const uint32_t N = c->n, G = cdiv((uint64_t)x->shape[1], N);
    const uint32_t P = (uint32_t)count_of(x->rank - 2, x->shape + 2);
    (void)ml;
    if (G + 3 > hw->acc_rows || G > hw->out_rows || G > hw->inp_rows)
        return FAIL(QMAC_ERR_UNSUPPORTED, n, "%u channel groups do not fit the buffers", G);
    int32_t lo, hi;
    qmac_dtype_range(x->dtype, &lo, &hi);
    const float scale = n->qx.scale[0] / (n->qy.scale[0] * (float)P);
    const int32_t bias = (int32_t)(0u - (uint32_t)((int64_t)n->qx.zp[0] * P));
    qmac_status st = post_setup(c, x->dtype, n->qy.zp[0], lo, hi, bias, scale);
    const uint32_t R = min_u32(hw->inp_rows / G, 65535), sgn = x->dtype == QMAC_DT_INT8;
    const uint32_t xa = vaddr(c, n->in[0]), ya = vaddr(c, n->out[0]);
    for (uint32_t b = 0; b < (uint32_t)x->shape[0] && st == QMAC_OK; ++b) {
        for (uint32_t p0 = 0; p0 < P && st == QMAC_OK; p0 += R) {
            const uint32_t pr = P - p0 < R ? P - p0 : R;
            st = push(c, QMAC_INSN_LOAD(.buf = QMAC_BUF_INP, .dram = xa + ((b * P + p0) * G) * N,
                                        .x_size = pr * G, .y_size = 1, .z_size = 1, .x_stride = N));
            /* count1 walks the groups (ACC row 3 + g), count0 the pixels of the chunk */
            if (st == QMAC_OK && p0 == 0)
                st = push(c, QMAC_INSN_VALU(.alu = QMAC_ALU_MOV, .a_buf = QMAC_ABUF_INP, .a_signed = sgn,
                                            .dst = 3, .count0 = 1, .count1 = G, .a_s1 = 1, .dst_s1 = 1));
            const uint32_t skip = p0 == 0 ? 1 : 0;
            if (st == QMAC_OK && pr > skip)
                st = push(c, QMAC_INSN_VALU(.alu = QMAC_ALU_ADD, .a_buf = QMAC_ABUF_INP, .a_signed = sgn,
                                            .b = 3, .a = skip * G, .dst = 3, .count0 = pr - skip, .count1 = G,
                                            .a_s0 = G, .a_s1 = 1, .dst_s1 = 1, .b_s1 = 1));
        }
        if (st == QMAC_OK)
            st = push(c, QMAC_INSN_POST(.acc = 3, .count0 = G, .count1 = 1, .acc_s0 = 1, .out_s0 = 1));
        if (st == QMAC_OK)
            st = push(c, QMAC_INSN_STORE(.buf = QMAC_BUF_OUT, .dram = ya + b * G * N, .x_size = G,
                                         .y_size = 1, .z_size = 1, .x_stride = N));
    }
    return st;
}

/* Copy `lines` lines of `rows` rows (N bytes each, consecutive) from src (line stride ss) to dst
 * (line stride ds) through INP; clamp != 0: through a MOV to ACC and POST (its setup done by the
 * caller) to apply POST's clamp; plan != NULL: through that one-input vector program and POST. */
static qmac_status copy_lines(cc *c, uint64_t src, uint64_t ss, uint64_t dst, uint64_t ds, uint64_t lines,
                              uint64_t rows, int clamp, uint32_t sgn, const qmac_add_plan *plan)
{
    const qmac_hw_config *hw = &c->o->hw;
    const uint32_t N = c->n;
    const uint64_t acc_cap = (hw->acc_rows - 3) / (plan ? QMAC_ADD_PROG_ACC_SETS : 1);
    uint64_t cap = clamp || plan ? min_u32(min_u32(hw->inp_rows, acc_cap), hw->out_rows) : hw->inp_rows;
    cap = cap > 65535 ? 65535 : cap;
    qmac_status st = QMAC_OK;
    for (uint64_t l = 0; l < lines && st == QMAC_OK;) {
        /* whole lines per chunk when a line fits, else part of one line */
        const uint64_t lc = rows <= cap ? (lines - l < cap / rows ? lines - l : cap / rows) : 1; /* <= cap */
        for (uint64_t r0 = 0; r0 < rows && st == QMAC_OK; r0 += cap) {
            const uint32_t rr = (uint32_t)(rows - r0 < cap ? rows - r0 : cap);
            const uint32_t s0 = (uint32_t)(src + l * ss + r0 * N), d0 = (uint32_t)(dst + l * ds + r0 * N);
            const uint32_t tot = rr * (uint32_t)lc;
            uint32_t yrow = 3;
            st = push(c, QMAC_INSN_LOAD(.buf = QMAC_BUF_INP, .dram = s0, .x_size = rr, .y_size = (uint32_t)lc,
                                        .z_size = 1, .x_stride = N, .y_stride = (uint32_t)ss));
            if (st == QMAC_OK && plan) {
                const qmac_add_walk w = {.ia = 0, .ib = 0, .acc = 3, .count0 = tot, .count1 = 1};
                st = qmac_add_plan_emit(plan, &w, &c->m->prog, &yrow);
            } else if (st == QMAC_OK && clamp) {
                st = push(c, QMAC_INSN_VALU(.alu = QMAC_ALU_MOV, .a_buf = QMAC_ABUF_INP, .a_signed = sgn,
                                            .dst = 3, .count0 = tot, .count1 = 1, .a_s0 = 1, .dst_s0 = 1));
            }
            if (st == QMAC_OK && (clamp || plan))
                st = push(c,
                          QMAC_INSN_POST(.acc = yrow, .count0 = tot, .count1 = 1, .acc_s0 = 1, .out_s0 = 1));
            if (st == QMAC_OK)
                st = push(c, QMAC_INSN_STORE(.buf = clamp || plan ? QMAC_BUF_OUT : QMAC_BUF_INP, .dram = d0,
                                             .x_size = rr, .y_size = (uint32_t)lc, .z_size = 1, .x_stride = N,
                                             .y_stride = (uint32_t)ds));
        }
        l += lc;
    }
    return st;
}

static qmac_status lower_clamp(cc *c, const qmac_node *n, qmac_model_layer *ml)
{
    const vinfo *x = &c->v[n->in[0]];
    (void)ml;
    int32_t qmin, qmax;
    qmac_dtype_range(x->dtype, &qmin, &qmax);
    double lo = n->has_lo ? ceil(n->lo) : qmin, hi = n->has_hi ? floor(n->hi) : qmax;
    lo = lo < qmin ? qmin : lo > qmax ? qmax : lo;
    hi = hi < qmin ? qmin : hi > qmax ? qmax : hi;
    if (lo > hi) /* the reference clamps to lo first, then to hi */
        lo = hi;
    uint32_t ch, px, gr;
    layout_of(c, x, &ch, &px, &gr);
    qmac_status st = post_setup(c, x->dtype, 0, (int32_t)lo, (int32_t)hi, 0, 1.0f);
    if (st == QMAC_OK)
        st = copy_lines(c, vaddr(c, n->in[0]), 0, vaddr(c, n->out[0]), 0, 1, (uint64_t)px * gr, 1,
                        x->dtype == QMAC_DT_INT8, NULL);
    return st;
}

static qmac_status lower_concat(cc *c, const qmac_node *n, const struct cat_info *info)
{
    const vinfo *y = &c->v[n->out[0]];
    const int32_t ax = n->axis < 0 ? n->axis + y->rank : n->axis;
    const uint64_t N = c->n, Gy = cdiv((uint64_t)y->lay_c, c->n);
    uint64_t off = 0; /* channel groups (channel axis) or pixels of the block (other axes) */
    for (int32_t k = 0; k < n->n_in; ++k) {
        const vinfo *x = &c->v[n->in[k]];
        uint32_t ch, px, gx;
        layout_of(c, x, &ch, &px, &gx);
        const qmac_add_plan *p = info && info->on[k] ? &info->plan[k] : NULL;
        qmac_status st = p ? post_setup(c, p->dt_y, 0, p->lo, p->hi, 0, qmac_add_plan_post_mult(p)) : QMAC_OK;
        if (st != QMAC_OK)
            return st;
        if (ax == y->cax) {
            st = copy_lines(c, vaddr(c, n->in[k]), gx * N, vaddr(c, n->out[0]) + off * N, Gy * N, px, gx, 0,
                            0, p);
            off += gx;
        } else {
            /* pixels = outer lines x block; the block is the pixels of axes ax.. (channel axis excluded) */
            uint64_t blk = 1, blk_y = 1;
            for (int32_t a = ax; a < y->rank; ++a)
                if (a != y->cax) {
                    blk *= (uint64_t)x->shape[a];
                    blk_y *= (uint64_t)y->shape[a];
                }
            st = copy_lines(c, vaddr(c, n->in[k]), blk * gx * N, vaddr(c, n->out[0]) + off * gx * N,
                            blk_y * gx * N, px / blk, blk * gx, 0, 0, p);
            off += blk;
        }
        if (st != QMAC_OK)
            return st;
    }
    return QMAC_OK;
}

/* A constant operand of an add in the output y's layout: every pixel (full) or one (chan). */
static qmac_status add_constant(cc *c, const qmac_tensor *k, const vinfo *y, int chan, uint8_t fill,
                                uint32_t *addr)
{
    uint32_t ch, px, gr;
    layout_of(c, y, &ch, &px, &gr);
    const size_t pixels = chan ? 1 : px, off = data_alloc(c, pixels * gr * c->n);
    if (off == SIZE_MAX)
        return qmac_set_error(QMAC_ERR_NOMEM, "out of memory");
    memset(c->data + off, fill, pixels * gr * c->n);
    const size_t C = (size_t)y->lay_c, inner = (size_t)y->lay_inner,
                 cnt = (size_t)count_of(y->rank, y->shape);
    for (size_t e = 0; e < cnt; ++e) {
        const size_t outer = e / (C * inner), cc_ = e / inner % C, in = e % inner, p = outer * inner + in;
        if (chan && p)
            continue;
        size_t src = 0, rem = e, stride = 1; /* e's index in k, broadcast (right-aligned) */
        for (int32_t a = y->rank - 1; a >= 0; --a) {
            const size_t idx = rem % (size_t)y->shape[a];
            rem /= (size_t)y->shape[a];
            const int32_t ka = a - (y->rank - k->rank);
            if (ka >= 0) {
                if (k->shape[ka] != 1)
                    src += idx * stride;
                stride *= (size_t)k->shape[ka];
            }
        }
        c->data[off + p * gr * c->n + cc_] = ((const uint8_t *)k->data)[src];
    }
    *addr = c->m->data_addr + (uint32_t)off;
    return QMAC_OK;
}

/* An add: passes of whole pixels (G rows each), double-buffered: the LOADs of pass k + 1 go before
 * pass k's vector program, into the other INP slot, so the DMA streams while the vector unit
 * computes. A per-channel operand's G rows are loaded once and read with outer stride 0. */
static qmac_status lower_add(cc *c, const qmac_node *n, const struct add_info *info)
{
    const qmac_hw_config *hw = &c->o->hw;
    const qmac_add_plan *p = &info->plan;
    const vinfo *y = &c->v[n->out[0]];
    const uint32_t N = c->n;
    uint32_t ch, px, G;
    layout_of(c, y, &ch, &px, &G);
    const uint32_t R = min_u32(min_u32(hw->inp_rows / 4 > G ? (hw->inp_rows - 2 * G) / 4 : 0,
                                       (hw->acc_rows - 3) / (2 * QMAC_ADD_PROG_ACC_SETS)),
                               min_u32(hw->out_rows / 2, 65535));
    const uint32_t pp = G ? R / G : 0; /* pixels per pass */
    if (pp == 0)
        return FAIL(QMAC_ERR_UNSUPPORTED, n, "%u channel groups do not fit the buffers for an add", G);
    qmac_status st = post_setup(c, p->dt_y, 0, p->lo, p->hi, 0, qmac_add_plan_post_mult(p));
    uint32_t addr[2];
    for (int k = 0; k < 2 && st == QMAC_OK; ++k) {
        if (info->konst[k])
            st = add_constant(c, &c->g->values[n->in[k]].konst, y, info->chan[k],
                              (uint8_t)((k ? n->qw.zp[0] : n->qx.zp[0]) & 0xff), &addr[k]);
        else
            addr[k] = vaddr(c, n->in[k]);
        if (st == QMAC_OK && info->chan[k]) /* its G rows, after the two slots */
            st = push(c, QMAC_INSN_LOAD(.buf = QMAC_BUF_INP, .dram = addr[k],
                                        .sram = 4 * pp * G + (uint32_t)k * G, .x_size = G, .y_size = 1,
                                        .z_size = 1, .x_stride = N));
    }
    const uint32_t ya = vaddr(c, n->out[0]);
    const uint64_t passes = (px + pp - 1) / pp;
    for (uint64_t k = 0; k <= passes && st == QMAC_OK; ++k) {
        for (int o = 0; o < 2 && k < passes && st == QMAC_OK; ++o) { /* the loads of pass k, slot k % 2 */
            const uint32_t np = (uint32_t)(px - k * pp < pp ? px - k * pp : pp), slot = (uint32_t)(k & 1);
            if (!info->chan[o])
                st = push(c, QMAC_INSN_LOAD(.buf = QMAC_BUF_INP, .dram = (uint32_t)(addr[o] + k * pp * G * N),
                                            .sram = (slot * 2 + (uint32_t)o) * pp * G, .x_size = np * G,
                                            .y_size = 1, .z_size = 1, .x_stride = N));
        }
        if (k == 0 || st != QMAC_OK)
            continue;
        const uint64_t j = k - 1; /* compute and store pass j */
        const uint32_t np = (uint32_t)(px - j * pp < pp ? px - j * pp : pp), slot = (uint32_t)(j & 1);
        const qmac_add_walk w = {
            .ia = info->chan[0] ? 4 * pp * G : slot * 2 * pp * G,
            .a_s1 = info->chan[0] ? 0 : G,
            .ib = info->chan[1] ? 4 * pp * G + G : (slot * 2 + 1) * pp * G,
            .b_s1 = info->chan[1] ? 0 : G,
            .acc = 3 + slot * QMAC_ADD_PROG_ACC_SETS * pp * G,
            .count0 = G,
            .count1 = np,
        };
        uint32_t yrow = 0;
        st = qmac_add_plan_emit(p, &w, &c->m->prog, &yrow);
        if (st == QMAC_OK)
            st = push(c, QMAC_INSN_POST(.acc = yrow, .count0 = np * G, .count1 = 1, .acc_s0 = 1,
                                        .out = slot * pp * G, .out_s0 = 1));
        if (st == QMAC_OK)
            st = push(c, QMAC_INSN_STORE(.buf = QMAC_BUF_OUT, .dram = (uint32_t)(ya + j * pp * G * N),
                                         .sram = slot * pp * G, .x_size = np * G, .y_size = 1, .z_size = 1,
                                         .x_stride = N));
    }
    return st;
}

/* Bytes a layer's LOADs read and STOREs write (padding rows are not memory traffic). */
static void dma_bytes(const cc *c, qmac_model_layer *ml)
{
    for (size_t i = ml->insn_first; i < ml->insn_end; ++i) {
        qmac_insn in;
        if (qmac_insn_decode(qmac_prog_insn(&c->m->prog, i), &in, NULL) != QMAC_FAULT_NONE)
            continue;
        if (in.op == QMAC_OP_LOAD)
            ml->bytes_in += qmac_dma_data_rows(&in) * qmac_buf_row_bytes(&c->o->hw, (qmac_buf)in.u.load.buf);
        else if (in.op == QMAC_OP_STORE)
            ml->bytes_out +=
                qmac_dma_data_rows(&in) * qmac_buf_row_bytes(&c->o->hw, (qmac_buf)in.u.store.buf);
    }
}

static char *dup_str(const char *s)
{
    const size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

/* Where and how accelerator value id lies in memory (name left NULL). */
static void describe(const cc *c, int32_t id, qmac_model_tensor *t)
{
    const vinfo *v = &c->v[id];
    memset(t, 0, sizeof *t);
    t->value = id;
    t->dtype = v->dtype;
    t->rank = v->rank;
    memcpy(t->shape, v->shape, sizeof t->shape);
    t->cax = v->cax;
    t->addr = vaddr(c, id);
    layout_of(c, v, &t->channels, &t->pixels, &t->groups);
    t->inner = (uint32_t)v->lay_inner;
    t->fill = v->fill;
    t->im2col = v->col;
    t->packed = v->packed;
}

/* The boundary tensors: host-written roots and host-read values. */
static qmac_status boundary(cc *c)
{
    qmac_model *m = c->m;
    const int32_t nv = c->g->n_values;
    m->in = calloc((size_t)nv + 1, sizeof *m->in);
    m->out = calloc((size_t)nv + 1, sizeof *m->out);
    if (!m->in || !m->out)
        return qmac_set_error(QMAC_ERR_NOMEM, "out of memory");
    for (int32_t id = 0; id < nv; ++id) {
        const vinfo *v = &c->v[id];
        if (v->kind != V_ACCEL || !(v->host_in || v->host_out))
            continue;
        qmac_model_tensor *t = v->host_in ? &m->in[m->n_in++] : &m->out[m->n_out++];
        describe(c, id, t);
        if (!(t->name = dup_str(vname(c, id))))
            return qmac_set_error(QMAC_ERR_NOMEM, "out of memory");
        if (v->host_in && v->host_out) { /* a graph input that is also read back */
            qmac_model_tensor *o = &m->out[m->n_out++];
            *o = *t;
            if (!(o->name = dup_str(t->name)))
                return qmac_set_error(QMAC_ERR_NOMEM, "out of memory");
        }
    }
    return QMAC_OK;
}

void qmac_compile_opts_default(qmac_compile_opts *o)
{
    memset(o, 0, sizeof *o);
    qmac_hw_config_default(&o->hw);
    o->rule = QMAC_REQUANT_ONNXRT;
}

void qmac_model_free(qmac_model *m)
{
    if (!m)
        return;
    for (int32_t k = 0; m->in && k < m->n_in; ++k)
        free(m->in[k].name);
    for (int32_t k = 0; m->out && k < m->n_out; ++k)
        free(m->out[k].name);
    for (int32_t k = 0; m->layers && k < m->n_layers; ++k) {
        free(m->layers[k].name);
        free(m->layers[k].onnx_ops);
    }
    free(m->in);
    free(m->out);
    free(m->layers);
    free(m->host_pre);
    free(m->host_post);
    free(m->data);
    qmac_prog_free(&m->prog);
    free(m);
}

static qmac_status lower_all(cc *c)
{
    qmac_model *m = c->m;
    m->layers = calloc((size_t)c->n_lay + 1, sizeof *m->layers);
    if (!m->layers)
        return qmac_set_error(QMAC_ERR_NOMEM, "out of memory");
    for (int32_t i = 0; i < c->n_lay; ++i) {
        const qmac_node *n = &c->g->nodes[c->lay[i].node];
        qmac_model_layer *ml = &m->layers[m->n_layers++];
        ml->node = c->lay[i].node;
        ml->kind = c->lay[i].kind;
        if (!(ml->name = dup_str(n->name)) || !(ml->onnx_ops = dup_str(n->onnx_ops)))
            return qmac_set_error(QMAC_ERR_NOMEM, "out of memory");
        ml->insn_first = m->prog.n_insn;
        qmac_status st;
        switch (n->op) {
        case QMAC_NODE_CONV: st = lower_conv(c, n, ml); break;
        case QMAC_NODE_MATMUL: st = lower_matmul(c, n, ml); break;
        case QMAC_NODE_MAXPOOL: st = lower_maxpool(c, n, ml); break;
        case QMAC_NODE_AVGPOOL:
        case QMAC_NODE_GLOBAL_AVGPOOL: st = lower_global_avg(c, n, ml); break;
        case QMAC_NODE_CLAMP: st = lower_clamp(c, n, ml); break;
        case QMAC_NODE_CONCAT: st = lower_concat(c, n, c->lay[i].cat); break;
        case QMAC_NODE_ADD: st = lower_add(c, n, c->lay[i].add); break;
        default: st = FAIL(QMAC_ERR_INTERNAL, n, "no lowering"); break;
        }
        if (st != QMAC_OK)
            return st;
        ml->insn_end = m->prog.n_insn;
        describe(c, n->out[0], &ml->y);
        dma_bytes(c, ml);
    }
    return qmac_prog_push(&m->prog, &QMAC_INSN_END());
}

qmac_status qmac_compile(const qmac_graph *g, const qmac_compile_opts *o, qmac_model **out)
{
    qmac_clear_error();
    *out = NULL;
    qmac_status st = qmac_hw_config_check(&o->hw);
    if (st != QMAC_OK)
        return st;
    if (o->base % 4096)
        return qmac_set_error(QMAC_ERR_INVALID_ARG, "base address 0x%x is not a multiple of 4096", o->base);
    cc c;
    memset(&c, 0, sizeof c);
    c.g = g;
    c.o = o;
    c.n = o->hw.dim;
    c.v = calloc((size_t)g->n_values + 1, sizeof *c.v);
    c.m = calloc(1, sizeof *c.m);
    if (!c.v || !c.m) {
        st = qmac_set_error(QMAC_ERR_NOMEM, "out of memory");
        goto out;
    }
    for (int32_t id = 0; id < g->n_values; ++id)
        c.v[id].dq_of = -1;
    qmac_model *m = c.m;
    m->hw = o->hw;
    m->rule = o->rule;
    m->base = o->base;
    qmac_prog_init(&m->prog);
    uint64_t arena = 0;
    if ((st = classify(&c)) || (st = plan(&c, &arena)))
        goto out;
    m->arena_size = (uint32_t)arena;
    m->data_addr = (uint32_t)(o->base + (arena + 4095) / 4096 * 4096);
    if ((st = lower_all(&c)) || (st = boundary(&c)))
        goto out;
    m->data_size = (uint32_t)c.data_len;
    m->data = c.data;
    c.data = NULL;
    m->prog_addr = m->data_addr + (m->data_size + 4095u) / 4096u * 4096u;
    const uint64_t end = (uint64_t)m->prog_addr + m->prog.n_insn * QMAC_INSN_BYTES;
    if (end > UINT32_MAX) {
        st = qmac_set_error(QMAC_ERR_INVALID_ARG,
                            "the model needs %llu bytes from 0x%x: beyond 32-bit addresses",
                            (unsigned long long)(end - o->base), o->base);
        goto out;
    }
    m->size = (uint32_t)(end - o->base);
    m->host_pre = c.pre;
    m->n_host_pre = c.n_pre;
    m->host_post = c.post;
    m->n_host_post = c.n_post;
    c.pre = c.post = NULL;
out:
    if (st != QMAC_OK) {
        qmac_model_free(c.m);
        c.m = NULL;
    }
    *out = c.m;
    free(c.v);
    free(c.fs);
    for (int32_t i = 0; i < c.n_lay; ++i) {
        free(c.lay[i].add);
        free(c.lay[i].cat);
    }
    free(c.lay);
    free(c.pre);
    free(c.post);
    free(c.data);
    return st;
}

/* ------------------------------------------------------------------ running */

qmac_status qmac_model_image(const qmac_model *m, uint8_t **image)
{
    uint8_t *im = calloc((size_t)m->size + 1, 1);
    unsigned char *pb = NULL;
    size_t plen = 0;
    *image = NULL;
    if (!im)
        return qmac_set_error(QMAC_ERR_NOMEM, "out of memory (%u bytes of accelerator memory)", m->size);
    qmac_status st = qmac_prog_to_bytes(&m->prog, &pb, &plen);
    if (st != QMAC_OK) {
        free(im);
        return st;
    }
    if (m->data_size)
        memcpy(im + (m->data_addr - m->base), m->data, m->data_size);
    memcpy(im + (m->prog_addr - m->base), pb, plen);
    free(pb);
    *image = im;
    return QMAC_OK;
}

typedef struct {
    qmac_model *m;
    uint64_t *retire; /* per instruction */
} est_ctx;

static void on_retire(void *ctx, uint64_t cycle, qmac_timing_src src, uint64_t pc, const qmac_insn *insn)
{
    est_ctx *e = ctx;
    (void)src;
    (void)insn;
    if (pc < e->m->prog.n_insn)
        e->retire[pc] = cycle;
}

qmac_status qmac_model_estimate(qmac_model *m)
{
    qmac_timing_config tc;
    qmac_timing_config_default(&tc);
    tc.hw = m->hw;
    qmac_axi_mem_config mc;
    qmac_timing_mem_config(&tc, m->base, m->size, &mc);
    qmac_axi_mem *mem = NULL;
    qmac_timing *t = NULL;
    uint8_t *im = NULL;
    est_ctx e = {m, calloc(m->prog.n_insn + 1, sizeof(uint64_t))};
    qmac_status st = e.retire ? QMAC_OK : qmac_set_error(QMAC_ERR_NOMEM, "out of memory");
    if (st == QMAC_OK)
        st = qmac_axi_mem_create(&mc, &mem);
    if (st == QMAC_OK)
        st = qmac_timing_create(&tc, &t);
    if (st == QMAC_OK)
        st = qmac_model_image(m, &im);
    if (st == QMAC_OK) {
        uint64_t b, s;
        memcpy(qmac_axi_mem_data(mem, &b, &s), im, m->size);
        qmac_timing_set_retire_cb(t, on_retire, &e);
        const qmac_window win = {m->base, m->base + m->size - 1};
        qmac_timing_stats ts;
        st = qmac_timing_run(t, NULL, mem, m->prog_addr, &win, UINT64_MAX, &ts);
        if (st == QMAC_OK && (!ts.done || ts.fault != QMAC_FAULT_NONE))
            st =
                qmac_set_error(QMAC_ERR_INTERNAL, "the cycle model stopped with fault %s at instruction %llu",
                               qmac_fault_name(ts.fault), (unsigned long long)ts.fault_pc);
        if (st == QMAC_OK) {
            uint64_t prev = 0;
            for (int32_t k = 0; k < m->n_layers; ++k) {
                qmac_model_layer *l = &m->layers[k];
                uint64_t last = prev;
                for (size_t i = l->insn_first; i < l->insn_end; ++i)
                    if (e.retire[i] > last)
                        last = e.retire[i];
                l->cycles = last - prev;
                prev = last;
            }
            m->total_cycles = ts.cycles;
        }
    }
    free(im);
    free(e.retire);
    qmac_timing_free(t);
    qmac_axi_mem_free(mem);
    return st;
}

qmac_status qmac_model_backend_golden(void *ctx, const qmac_model *m, uint8_t *image)
{
    (void)ctx;
    qmac_accel *a = NULL;
    qmac_status st = qmac_accel_create(&m->hw, &a);
    if (st != QMAC_OK)
        return st;
    const qmac_accel_mem am = {image, m->base, m->size};
    const qmac_window win = {m->base, m->base + m->size - 1};
    qmac_accel_result res;
    qmac_accel_run(a, &am, m->prog_addr, &win, UINT64_MAX, &res);
    qmac_accel_free(a);
    if (!res.done || res.fault != QMAC_FAULT_NONE)
        return qmac_set_error(
            QMAC_ERR_INTERNAL, "the golden model stopped with fault %s at instruction %llu (%s)",
            qmac_fault_name(res.fault), (unsigned long long)res.fault_pc, res.why ? res.why : "");
    return QMAC_OK;
}

/* Element e of a tensor <-> (pixel, channel) of the channels-innermost layout. */
static size_t layout_byte(const qmac_model *m, const qmac_model_tensor *t, size_t e)
{
    const size_t C = t->channels, inner = t->inner;
    const size_t outer = e / (C * inner), ch = e / inner % C, in = e % inner;
    return (t->addr - m->base) + ((outer * inner + in) * t->groups) * m->hw.dim + (t->packed ? ch / 8 : ch);
}

qmac_status qmac_model_read(const qmac_model *m, const uint8_t *image, const qmac_model_tensor *t,
                            qmac_tensor *out)
{
    qmac_status st = qmac_tensor_alloc(out, t->dtype, t->rank, t->shape);
    if (st != QMAC_OK)
        return st;
    const size_t cnt = qmac_tensor_count(out);
    for (size_t e = 0; e < cnt; ++e) {
        const uint8_t b = image[layout_byte(m, t, e)];
        ((uint8_t *)out->data)[e] = t->packed ? (b >> (e / t->inner % t->channels % 8) & 1u ? 0xffu : 1u) : b;
    }
    return QMAC_OK;
}

/* The windows of an im2col input (compile.h). */
static void write_im2col(const qmac_model *m, uint8_t *image, const qmac_model_tensor *t,
                         const qmac_tensor *x)
{
    const qmac_im2col *k = &t->im2col;
    const size_t C = (size_t)x->shape[1], H = x->rank == 4 ? (size_t)x->shape[2] : 1,
                 W = (size_t)x->shape[x->rank - 1];
    const uint8_t *src = x->data;
    uint8_t *dst = image + (t->addr - m->base);
    for (size_t b = 0; b < (size_t)x->shape[0]; ++b)
        for (size_t oy = 0; oy < k->out[0]; ++oy)
            for (size_t ox = 0; ox < k->out[1]; ++ox) {
                uint8_t *row = dst + ((b * k->out[0] + oy) * k->out[1] + ox) * t->groups * m->hw.dim;
                for (size_t ky = 0; ky < k->kernel[0]; ++ky)
                    for (size_t kx = 0; kx < k->kernel[1]; ++kx) {
                        const int64_t iy = (int64_t)(oy * k->strides[0] + ky * k->dilations[0]) - k->pads[0],
                                      ix = (int64_t)(ox * k->strides[1] + kx * k->dilations[1]) - k->pads[1];
                        if (iy < 0 || iy >= (int64_t)H || ix < 0 || ix >= (int64_t)W)
                            continue; /* the fill */
                        for (size_t ch = 0; ch < C; ++ch)
                            row[(ky * k->kernel[1] + kx) * C + ch] =
                                src[((b * C + ch) * H + (size_t)iy) * W + (size_t)ix];
                    }
            }
}

void qmac_model_write(const qmac_model *m, uint8_t *image, const qmac_model_tensor *t, const qmac_tensor *x)
{
    memset(image + (t->addr - m->base), t->fill, (size_t)t->pixels * t->groups * m->hw.dim);
    if (t->im2col.on) {
        write_im2col(m, image, t, x);
        return;
    }
    const size_t cnt = qmac_tensor_count(x);
    for (size_t e = 0; e < cnt; ++e)
        image[layout_byte(m, t, e)] = ((const uint8_t *)x->data)[e];
}

static int same_shape(const qmac_tensor *x, const qmac_model_tensor *t)
{
    if (x->rank != t->rank)
        return 0;
    for (int32_t k = 0; k < x->rank; ++k)
        if (x->shape[k] != t->shape[k])
            return 0;
    return 1;
}

qmac_status qmac_model_run(const qmac_graph *g, const qmac_model *m, const qmac_tensor *inputs,
                           int32_t n_inputs, qmac_model_backend backend, void *ctx, qmac_tensor *outputs)
{
    qmac_status begin = qmac_graph_run_begin(g, n_inputs, outputs);
    if (begin != QMAC_OK)
        return begin;
    qmac_tensor *vals = calloc((size_t)g->n_values + 1, sizeof *vals);
    uint8_t *ready = calloc((size_t)g->n_values + 1, 1), *im = NULL;
    qmac_status st = vals && ready ? QMAC_OK : qmac_set_error(QMAC_ERR_NOMEM, "out of memory");
    for (int32_t k = 0; k < n_inputs && st == QMAC_OK; ++k) {
        const int32_t id = g->inputs[k];
        if ((st = qmac_graph_check_input(g, k, &inputs[k])) == QMAC_OK &&
            (st = qmac_tensor_clone(&vals[id], &inputs[k])) == QMAC_OK)
            ready[id] = 1;
    }
    if (st == QMAC_OK)
        st = qmac_exec_ref_nodes(g, m->rule, vals, ready, m->host_pre, m->n_host_pre);
    if (st == QMAC_OK)
        st = qmac_model_image(m, &im);
    for (int32_t k = 0; k < m->n_in && st == QMAC_OK; ++k) {
        const qmac_model_tensor *t = &m->in[k];
        const qmac_tensor *x = &vals[t->value];
        char a[128], b[128];
        if (!ready[t->value]) {
            st = qmac_set_error(QMAC_ERR_INTERNAL, "accelerator input '%s' was not computed", t->name);
        } else if (x->dtype != t->dtype || !same_shape(x, t)) {
            st = qmac_set_error(QMAC_ERR_SHAPE, "'%s' is %s %s but the model was compiled for %s %s", t->name,
                                qmac_dtype_name(x->dtype), qmac_shape_str(x->shape, x->rank, a, sizeof a),
                                qmac_dtype_name(t->dtype), qmac_shape_str(t->shape, t->rank, b, sizeof b));
        } else {
            qmac_model_write(m, im, t, x);
        }
    }
    if (st == QMAC_OK)
        st = backend(ctx, m, im);
    for (int32_t k = 0; k < m->n_out && st == QMAC_OK; ++k) {
        const qmac_model_tensor *t = &m->out[k];
        qmac_tensor_free(&vals[t->value]);
        if ((st = qmac_model_read(m, im, t, &vals[t->value])) != QMAC_OK)
            break;
        ready[t->value] = 1;
    }
    if (st == QMAC_OK)
        st = qmac_exec_ref_nodes(g, m->rule, vals, ready, m->host_post, m->n_host_post);
    for (int32_t k = 0; k < g->n_outputs && st == QMAC_OK; ++k) {
        if (!ready[g->outputs[k]])
            st = qmac_set_error(QMAC_ERR_INTERNAL, "output '%s' was not computed",
                                g->values[g->outputs[k]].name);
        else
            st = qmac_tensor_clone(&outputs[k], &vals[g->outputs[k]]);
    }
    if (st != QMAC_OK)
        for (int32_t k = 0; k < g->n_outputs; ++k)
            qmac_tensor_free(&outputs[k]);
    for (int32_t id = 0; vals && id < g->n_values; ++id)
        qmac_tensor_free(&vals[id]);
    free(vals);
    free(ready);
    free(im);
    return st;
}
