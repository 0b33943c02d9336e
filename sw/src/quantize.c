/* quantize.c - `qmac quantize`: plan, calibrate and write a QDQ model (quantize.h).
 *
 * The plan walks the float model's nodes in order, as ONNX Runtime's QDQ quantizer does (1.23,
 * onnxruntime/quantization/qdq_quantizer.py and operators/):
 *   Conv, Gemm           input 0 and output 0 are activations; input 1 a weight (per channel
 *                        along axis 0, or Gemm's N axis); input 2 an int32 bias (s_x * s_w)
 *   MatMul               a constant operand is a weight (per channel along axis 1), the other an
 *                        activation; the output an activation
 *   Add, Concat,         every input and output an activation (a constant input is quantized
 *   GlobalAveragePool    with the activation type)
 *   Relu, Clip           when the input is quantized: with asymmetric activations and the input
 *                        read only by this node (and not a graph input or output) the node goes
 *                        and its producer writes its output (the clamp lives in the output range);
 *                        else input and output are activations
 *   MaxPool, AveragePool, when the input is quantized, the output shares its parameters
 *   Reshape, Transpose,
 *   Squeeze, Unsqueeze
 * Every activation T then gets T -> QuantizeLinear -> DequantizeLinear -> readers, with ORT's
 * names (T_QuantizeLinear_Output, T_DequantizeLinear_Output; a graph output keeps its name on the
 * DequantizeLinear and its producer writes T_QuantizeLinear_Input), initializers T_scale and
 * T_zero_point; a weight W becomes W_quantized, W_scale, W_zero_point and a DequantizeLinear to
 * W_DequantizeLinear_Output; a bias B becomes B_quantized (+ _scale, _zero_point) dequantized
 * into B itself.
 *
 * QONNX output (opts qonnx, binary): one Quant per Q/DQ pair (T_Quant_Output), W_quantized as the
 * dequantized floats with a Quant, B as floats; no second Quant after a reshape, transpose or max
 * pool. A binary layer's weight W becomes W_sign, W_alpha and a BipolarQuant; its input T (moved
 * back through reshapes to where its producer writes it) T - T_t and a BipolarQuant of scale T_s;
 * its bias (B, or a new LAYER_bias) absorbs t. */
#include "qmac/quantize.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onnx_subset.pb-c.h"
#include "qmac/calib.h"
#include "qmac/log2q.h"
#include "qmac/quant.h"

enum { ONNX_FLOAT = 1, ONNX_UINT8 = 2, ONNX_INT8 = 3, ONNX_INT32 = 6 };

typedef struct {
    char *name;         /* the tensor (after a removed Relu/Clip: that node's output) */
    int32_t same_as;    /* shares the parameters of this activation (-1: its own range) */
    int32_t range_from; /* takes this activation's range (a kept Relu/Clip's output), -1 */
    int32_t value;      /* graph value to observe (-1: none) */
    int konst;          /* a float initializer quantized with the activation type (Add's constant) */
    qmac_minmax_calib mm;
    qmac_hist hist;
    int calib_on, has_range;
    float rmin, rmax;
    float scale;
    int32_t zp;
    /* bip: a binary layer's input, binarized as t + s sign(x - t); member: not quantized again,
     * the output of a reshape (QONNX: also a transpose or max pool) of a quantized or binarized
     * activation, whose codes pass through */
    int bip, member;
    double sum, absdev, count; /* calibration: sum x and count (pass 1), sum |x - t| (pass 2) */
    float t, s;
} act_t;

typedef struct {
    char *name;
    int32_t axis;  /* per channel along this axis, -1 per tensor */
    int32_t kaxis; /* the reduction (input channel) axis: blocks run along it */
    int32_t oaxis; /* the output channel axis */
    int bin;       /* a binary layer's: alpha sign(w), alpha per output channel */
} weight_t;

typedef struct {
    char *name, *x, *w; /* bias, the activation and the weight it scales with */
} bias_t;

/* Sensitivity: one model per layer with only that layer quantized, and the whole model
 * (graph[n_layer]); output signal and error energies against the float model. */
typedef struct {
    qmac_graph **graph;
    double *noise; /* [n_layer + 1] */
    double signal;
    int64_t rows;
} sens_t;

struct qmac_quantizer {
    qmac_quantize_opts o;
    QmacOnnx__Model *pm;
    qmac_graph *g;
    act_t *act;
    int32_t n_act;
    weight_t *wt;
    int32_t n_wt;
    bias_t *bias;
    int32_t n_bias;
    uint8_t *removed;    /* [n_node]: a Relu/Clip folded into its producer */
    uint8_t *keep_float; /* [n_node]: a layer left in float (opts keep_float): not planned */
    int32_t *bin_act;    /* [n_node]: a binary layer's binarized input activation, else -1 */
    int binary_done;     /* the binary inputs' second calibration pass ran */
    int32_t cur;         /* planning: the node being planned */
    int32_t (*own)[2];   /* (kind << 30 | index, node): node i's plan includes activation/weight */
    int32_t n_own;
    int32_t *act_of; /* [n_values]: activation observed through this value, -1 */
    int32_t *layer;  /* node indices of the layers (qmac_quantizer_n_layers) */
    int32_t n_layer;
    uint8_t *planned; /* the model after planning (renamed outputs): each write starts from it */
    size_t planned_len;
    int64_t batches;
    sens_t sens;
};

static char *xfmt(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    const int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *s = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (s) {
        va_start(ap, fmt);
        vsnprintf(s, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    return s;
}

void qmac_quantize_opts_default(qmac_quantize_opts *o)
{
    memset(o, 0, sizeof *o);
    o->method = QMAC_CALIB_MINMAX;
    o->percentile = 99.999;
    o->num_bins = 2048;
    o->act_type = QMAC_DT_INT8;
    o->weight_type = QMAC_DT_INT8;
}

static const char *const k_methods[] = {"minmax", "moving-average", "percentile", "entropy", "mse"};

const char *qmac_calib_method_name(qmac_calib_method m)
{
    return (unsigned)m < 5 ? k_methods[m] : "?";
}

int qmac_calib_method_parse(const char *s)
{
    for (int k = 0; k < 5; ++k)
        if (s && !strcmp(s, k_methods[k]))
            return k;
    return -1;
}

/* ------------------------------------------------------------------ model lookups */

static const QmacOnnx__Graph *G(const qmac_quantizer *q)
{
    return q->pm->graph;
}

static const QmacOnnx__Tensor *initializer(const qmac_quantizer *q, const char *name)
{
    for (size_t i = 0; name && i < G(q)->n_initializer; ++i)
        if (G(q)->initializer[i]->name && !strcmp(G(q)->initializer[i]->name, name))
            return G(q)->initializer[i];
    return NULL;
}

static int is_graph_io(const QmacOnnx__ValueInfo *const *v, size_t n, const char *name)
{
    for (size_t i = 0; i < n; ++i)
        if (v[i]->name && !strcmp(v[i]->name, name))
            return 1;
    return 0;
}

static int is_graph_output(const qmac_quantizer *q, const char *name)
{
    return is_graph_io((const QmacOnnx__ValueInfo *const *)G(q)->output, G(q)->n_output, name);
}

static int is_graph_input(const qmac_quantizer *q, const char *name)
{
    return !initializer(q, name) &&
           is_graph_io((const QmacOnnx__ValueInfo *const *)G(q)->input, G(q)->n_input, name);
}

static int readers(const qmac_quantizer *q, const char *name)
{
    int r = 0;
    for (size_t i = 0; i < G(q)->n_node; ++i)
        for (size_t k = 0; k < G(q)->node[i]->n_input; ++k)
            r += G(q)->node[i]->input[k] && !strcmp(G(q)->node[i]->input[k], name);
    return r;
}

static int32_t value_id(const qmac_quantizer *q, const char *name)
{
    for (int32_t v = 0; v < q->g->n_values; ++v)
        if (q->g->values[v].name && !strcmp(q->g->values[v].name, name))
            return v;
    return -1;
}

static const qmac_tensor *konst(const qmac_quantizer *q, const char *name)
{
    const int32_t v = value_id(q, name);
    return v >= 0 && q->g->values[v].is_const ? &q->g->values[v].konst : NULL;
}

static int32_t find_act(const qmac_quantizer *q, const char *name)
{
    for (int32_t i = 0; name && i < q->n_act; ++i)
        if (!strcmp(q->act[i].name, name))
            return i;
    return -1;
}

static int32_t find_weight(const qmac_quantizer *q, const char *name)
{
    for (int32_t i = 0; name && i < q->n_wt; ++i)
        if (!strcmp(q->wt[i].name, name))
            return i;
    return -1;
}

static int32_t find_bias(const qmac_quantizer *q, const char *name)
{
    for (int32_t i = 0; name && i < q->n_bias; ++i)
        if (!strcmp(q->bias[i].name, name))
            return i;
    return -1;
}

static int op_is(const QmacOnnx__Node *n, const char *op)
{
    return n->op_type && !strcmp(n->op_type, op) &&
           (!n->domain || !n->domain[0] || !strcmp(n->domain, "ai.onnx"));
}

static const char *in_name(const QmacOnnx__Node *n, size_t k)
{
    return k < n->n_input && n->input[k] && n->input[k][0] ? n->input[k] : NULL;
}

static int32_t root_of(const qmac_quantizer *q, int32_t a)
{
    while (q->act[a].same_as >= 0)
        a = q->act[a].same_as;
    return a;
}

/* ------------------------------------------------------------------ planning */

enum { OWN_ACT = 0, OWN_WT = 1 };

/* The node being planned quantizes activation or weight `index` (sensitivity models). */
static qmac_status own(qmac_quantizer *q, int kind, int32_t index)
{
    int32_t(*o)[2] = realloc(q->own, sizeof *o * (size_t)(q->n_own + 1));
    if (!o)
        return qmac_set_error(QMAC_ERR_NOMEM, "out of memory");
    q->own = o;
    o[q->n_own][0] = kind << 30 | index;
    o[q->n_own++][1] = q->cur;
    return QMAC_OK;
}

static qmac_status plan_act(qmac_quantizer *q, const char *name, int32_t same_as)
{
    if (name && find_act(q, name) >= 0)
        return own(q, OWN_ACT, find_act(q, name));
    if (!name || find_weight(q, name) >= 0 || find_bias(q, name) >= 0)
        return QMAC_OK;
    const QmacOnnx__Tensor *init = initializer(q, name);
    if (init && init->data_type != ONNX_FLOAT)
        return QMAC_OK; /* shapes, axes: not quantized */
    act_t *a = realloc(q->act, sizeof *a * (size_t)(q->n_act + 1));
    if (!a)
        return qmac_set_error(QMAC_ERR_NOMEM, "out of memory");
    q->act = a;
    a = &q->act[q->n_act];
    memset(a, 0, sizeof *a);
    a->same_as = same_as;
    a->range_from = -1;
    a->value = -1;
    a->konst = init != NULL;
    if (!(a->name = xfmt("%s", name)))
        return qmac_set_error(QMAC_ERR_NOMEM, "out of memory");
    q->n_act++;
    return own(q, OWN_ACT, q->n_act - 1);
}

static qmac_status plan_weight(qmac_quantizer *q, const QmacOnnx__Node *n, const char *name, int32_t axis,
                               int32_t kaxis)
{
    const qmac_tensor *w = konst(q, name);
    if (!w || w->dtype != QMAC_DT_FLOAT32)
        return qmac_set_error(QMAC_ERR_UNSUPPORTED,
                              "node '%s' (%s): weight '%s' is not a float32 initializer",
                              n->name ? n->name : "", n->op_type, name ? name : "");
    if (find_weight(q, name) >= 0)
        return own(q, OWN_WT, find_weight(q, name));
    weight_t *t = realloc(q->wt, sizeof *t * (size_t)(q->n_wt + 1));
    if (!t)
        return qmac_set_error(QMAC_ERR_NOMEM, "out of memory");
    q->wt = t;
    t[q->n_wt].axis = q->o.per_channel && w->rank >= 2 ? axis : -1;
    t[q->n_wt].kaxis = kaxis;
    t[q->n_wt].oaxis = axis;
    t[q->n_wt].bin = 0;
    if (q->o.block_size && w->rank < 2)
        return qmac_set_error(QMAC_ERR_UNSUPPORTED,
                              "node '%s' (%s): weight '%s' has rank %d: blocks need a matrix",
                              n->name ? n->name : "", n->op_type, name, (int)w->rank);
    if (!(t[q->n_wt].name = xfmt("%s", name)))
        return qmac_set_error(QMAC_ERR_NOMEM, "out of memory");
    q->n_wt++;
    return own(q, OWN_WT, q->n_wt - 1);
}

static qmac_status plan_bias(qmac_quantizer *q, const QmacOnnx__Node *n, const char *b, const char *x,
                             const char *w)
{
    const qmac_tensor *t = konst(q, b);
    if (!t || t->dtype != QMAC_DT_FLOAT32)
        return qmac_set_error(QMAC_ERR_UNSUPPORTED, "node '%s' (%s): bias '%s' is not a float32 initializer",
                              n->name ? n->name : "", n->op_type, b);
    if (find_bias(q, b) >= 0)
        return QMAC_OK;
    bias_t *t2 = realloc(q->bias, sizeof *t2 * (size_t)(q->n_bias + 1));
    if (!t2)
        return qmac_set_error(QMAC_ERR_NOMEM, "out of memory");
    q->bias = t2;
    bias_t *e = &q->bias[q->n_bias];
    e->name = xfmt("%s", b);
    e->x = xfmt("%s", x);
    e->w = xfmt("%s", w);
    q->n_bias++;
    if (!e->name || !e->x || !e->w)
        return qmac_set_error(QMAC_ERR_NOMEM, "out of memory");
    return QMAC_OK;
}

/* Node n (index i) writes `from`: make it write `to` instead. */
static qmac_status rename_output(qmac_quantizer *q, const char *from, const char *to)
{
    for (size_t i = 0; i < G(q)->n_node; ++i) {
        QmacOnnx__Node *n = G(q)->node[i];
        for (size_t k = 0; k < n->n_output; ++k)
            if (n->output[k] && !strcmp(n->output[k], from)) {
                char *s = xfmt("%s", to);
                if (!s)
                    return qmac_set_error(QMAC_ERR_NOMEM, "out of memory");
                free(n->output[k]);
                n->output[k] = s;
                return QMAC_OK;
            }
    }
    return QMAC_OK;
}

static const char *node_name(const QmacOnnx__Node *n)
{
    return n->name && n->name[0] ? n->name : n->n_output && n->output[0] ? n->output[0] : "";
}

/* Ops that only reshape: a binarized tensor stays binarized through them, codes stay codes. */
static int shape_op(const QmacOnnx__Node *n)
{
    return op_is(n, "Flatten") || op_is(n, "Reshape") || op_is(n, "Squeeze") || op_is(n, "Unsqueeze");
}

static int32_t producer(const qmac_quantizer *q, const char *name)
{
    for (size_t i = 0; i < G(q)->n_node; ++i)
        for (size_t k = 0; k < G(q)->node[i]->n_output; ++k)
            if (G(q)->node[i]->output[k] && !strcmp(G(q)->node[i]->output[k], name))
                return (int32_t)i;
    return -1;
}

/* Activation a leads to a binary layer through reshapes only. */
static int in_binary_path(const qmac_quantizer *q, int32_t a)
{
    for (size_t i = 0; i < G(q)->n_node; ++i) {
        const QmacOnnx__Node *n = G(q)->node[i];
        if (!in_name(n, 0) || strcmp(in_name(n, 0), q->act[a].name))
            continue;
        const int32_t o = shape_op(n) && n->n_output ? find_act(q, n->output[0]) : -1;
        if (q->bin_act[i] >= 0 || (o >= 0 && q->act[o].member && in_binary_path(q, o)))
            return 1;
    }
    return 0;
}

/* Binary layers (bin_act[i] == -2 when asked for): the weight becomes binary and the input
 * activation is binarized where its producer writes it: back through reshapes read only on the
 * way (the accelerator binarizes in a layer's output stage, not in the middle of the graph).
 * Every reader of the binarized tensor must be a binary layer. */
static qmac_status plan_binary(qmac_quantizer *q)
{
    const QmacOnnx__Graph *g = G(q);
    for (size_t i = 0; i < g->n_node; ++i) {
        const QmacOnnx__Node *n = g->node[i];
        if (q->bin_act[i] != -2)
            continue;
        const int32_t w = find_weight(q, in_name(n, 1));
        int32_t a = find_act(q, in_name(n, 0));
        if (!op_is(n, "Conv") && !op_is(n, "Gemm") && !op_is(n, "MatMul"))
            return qmac_set_error(QMAC_ERR_INVALID_ARG,
                                  "layer '%s' (%s) cannot be binary: binary layers are Conv, Gemm and MatMul",
                                  node_name(n), n->op_type);
        if (w < 0 || a < 0 || q->act[a].konst)
            return qmac_set_error(QMAC_ERR_INVALID_ARG,
                                  "layer '%s' (%s) cannot be binary: it needs an activation as input 0 and "
                                  "a constant weight as input 1",
                                  node_name(n), n->op_type);
        q->wt[w].bin = 1;
        for (;;) {
            const int32_t p = producer(q, q->act[a].name);
            const int32_t b = p >= 0 && shape_op(g->node[p]) ? find_act(q, in_name(g->node[p], 0)) : -1;
            if (b < 0 || q->act[b].konst || readers(q, q->act[b].name) != 1 ||
                is_graph_output(q, q->act[b].name))
                break;
            q->act[a].member = 1;
            a = b;
        }
        if (is_graph_input(q, q->act[a].name))
            return qmac_set_error(QMAC_ERR_INVALID_ARG,
                                  "layer '%s' cannot be binary: its input is the graph input '%s' (the "
                                  "accelerator binarizes in a layer's output stage; binary networks keep "
                                  "their first layer int8)",
                                  node_name(n), q->act[a].name);
        q->act[a].bip = 1;
        q->act[a].same_as = q->act[a].range_from = -1; /* its own statistics */
        q->bin_act[i] = a;
        q->cur = (int32_t)i; /* the layer's sensitivity model binarizes its input */
        qmac_status st = own(q, OWN_ACT, a);
        if (st != QMAC_OK)
            return st;
    }
    for (int32_t a = 0; a < q->n_act; ++a) { /* readers: binary layers, or reshapes towards them */
        const act_t *t = &q->act[a];
        if (!t->bip && !(t->member && in_binary_path(q, a)))
            continue;
        if (is_graph_output(q, t->name))
            return qmac_set_error(QMAC_ERR_INVALID_ARG, "'%s' is a graph output: it cannot be binarized",
                                  t->name);
        for (size_t i = 0; i < g->n_node; ++i) {
            const QmacOnnx__Node *n = g->node[i];
            int reads = 0;
            for (size_t k = 0; k < n->n_input; ++k)
                reads |= n->input[k] && !strcmp(n->input[k], t->name);
            const int32_t o = n->n_output ? find_act(q, n->output[0]) : -1;
            if (reads && q->bin_act[i] < 0 && !(shape_op(n) && o >= 0 && q->act[o].member))
                return qmac_set_error(QMAC_ERR_INVALID_ARG,
                                      "the input '%s' of a binary layer is also read by '%s' (%s), which is "
                                      "not binary (make it binary too)",
                                      t->name, node_name(n), n->op_type);
        }
    }
    return QMAC_OK;
}

static qmac_status plan(qmac_quantizer *q)
{
    qmac_status st = QMAC_OK;
    for (size_t i = 0; i < G(q)->n_node && st == QMAC_OK; ++i) {
        const QmacOnnx__Node *n = G(q)->node[i];
        const char *x = in_name(n, 0), *y = n->n_output ? n->output[0] : NULL;
        q->cur = (int32_t)i;
        if (q->keep_float[i])
            continue; /* ORT's nodes_to_exclude */
        if (op_is(n, "Conv") || op_is(n, "Gemm")) {
            int32_t axis = op_is(n, "Gemm") ? 1 : 0; /* Conv: output channels; Gemm: B's N axis */
            for (size_t a = 0; op_is(n, "Gemm") && a < n->n_attribute; ++a)
                if (n->attribute[a]->name && !strcmp(n->attribute[a]->name, "transB"))
                    axis = n->attribute[a]->i ? 0 : 1;
            if ((st = plan_act(q, x, -1)) || (st = plan_act(q, y, -1)) ||
                (st = plan_weight(q, n, in_name(n, 1), axis, op_is(n, "Conv") ? 1 : 1 - axis)))
                break;
            if (in_name(n, 2))
                st = plan_bias(q, n, in_name(n, 2), x, in_name(n, 1));
        } else if (op_is(n, "MatMul")) {
            for (size_t k = 0; k < 2 && st == QMAC_OK; ++k)
                st = initializer(q, in_name(n, k)) ? plan_weight(q, n, in_name(n, k), 1, k ? 0 : 1)
                                                   : plan_act(q, in_name(n, k), -1);
            if (st == QMAC_OK)
                st = plan_act(q, y, -1);
        } else if (op_is(n, "Add") || op_is(n, "Concat") || op_is(n, "GlobalAveragePool")) {
            for (size_t k = 0; k < n->n_input && st == QMAC_OK; ++k)
                st = plan_act(q, in_name(n, k), -1);
            if (st == QMAC_OK)
                st = plan_act(q, y, -1);
        } else if (op_is(n, "Relu") || op_is(n, "Clip")) {
            const int32_t xi = find_act(q, x);
            if (xi < 0 || !y)
                continue;
            if (!q->o.act_symmetric && !q->act[xi].konst && readers(q, x) == 1 && !is_graph_output(q, x) &&
                !is_graph_input(q, x)) {
                /* the producer writes y: its range (clamped at 0 / the Clip bounds) holds the clamp */
                char *s = xfmt("%s", y);
                if (!s)
                    return qmac_set_error(QMAC_ERR_NOMEM, "out of memory");
                free(q->act[xi].name);
                q->act[xi].name = s;
                q->act[xi].same_as = -1; /* calibrated as the clamp's output */
                q->removed[i] = 1;
                st = rename_output(q, x, y);
            } else if ((st = plan_act(q, y, -1)) == QMAC_OK && readers(q, x) == 1 && find_act(q, y) >= 0) {
                /* ORT's adjust_tensor_ranges: the clamp's input takes the output's range */
                q->act[xi].range_from = find_act(q, y);
            }
        } else if (op_is(n, "MaxPool") || op_is(n, "AveragePool") || op_is(n, "Reshape") ||
                   op_is(n, "Transpose") || op_is(n, "Squeeze") || op_is(n, "Unsqueeze")) {
            const int32_t xi = find_act(q, x);
            if (xi >= 0 && y)
                st = plan_act(q, y, q->act[xi].same_as >= 0 ? q->act[xi].same_as : xi);
        }
    }
    for (int32_t a = 0; q->o.qonnx && a < q->n_act; ++a) {
        /* QONNX: codes pass through reshapes, transposes and max pools (no second Quant) */
        const int32_t p = q->act[a].konst ? -1 : producer(q, q->act[a].name);
        const QmacOnnx__Node *n = p >= 0 ? G(q)->node[p] : NULL;
        const int32_t b = n && (shape_op(n) || op_is(n, "Transpose") || op_is(n, "MaxPool"))
                              ? find_act(q, in_name(n, 0))
                              : -1;
        if (b >= 0 && !q->act[b].konst && !is_graph_output(q, q->act[a].name)) {
            q->act[a].member = 1;
            q->act[a].same_as = root_of(q, b); /* a bias that scales with it reads b's scale */
        }
    }
    if (st != QMAC_OK || (st = plan_binary(q)))
        return st;
    for (int32_t a = 0; a < q->n_act; ++a) {
        act_t *t = &q->act[a];
        if (t->same_as >= 0 || t->konst || t->member)
            continue;
        t->value = value_id(q, t->name);
        if (t->value < 0)
            return qmac_set_error(QMAC_ERR_INTERNAL, "activation '%s' is not a value of the graph", t->name);
        q->act_of[t->value] = a;
    }
    return QMAC_OK;
}

/* ------------------------------------------------------------------ life cycle */

static void sens_free(qmac_quantizer *q)
{
    for (int32_t k = 0; q->sens.graph && k <= q->n_layer; ++k)
        qmac_graph_free(q->sens.graph[k]);
    free(q->sens.graph);
    free(q->sens.noise);
    memset(&q->sens, 0, sizeof q->sens);
}

/* The layers: the nodes the plan quantizes as ops of their own (not moves, not folded clamps). */
static qmac_status find_layers(qmac_quantizer *q)
{
    q->layer = malloc(sizeof *q->layer * (G(q)->n_node + 1));
    if (!q->layer)
        return qmac_set_error(QMAC_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < G(q)->n_node; ++i) {
        const QmacOnnx__Node *n = G(q)->node[i];
        if (op_is(n, "Conv") || op_is(n, "Gemm") || op_is(n, "MatMul") || op_is(n, "Add") ||
            op_is(n, "Concat") || op_is(n, "GlobalAveragePool"))
            q->layer[q->n_layer++] = (int32_t)i;
    }
    return QMAC_OK;
}

void qmac_quantizer_free(qmac_quantizer *q)
{
    if (!q)
        return;
    for (int32_t i = 0; i < q->n_act; ++i) {
        free(q->act[i].name);
        qmac_minmax_free(&q->act[i].mm);
        qmac_hist_free(&q->act[i].hist);
    }
    for (int32_t i = 0; i < q->n_wt; ++i)
        free(q->wt[i].name);
    for (int32_t i = 0; i < q->n_bias; ++i) {
        free(q->bias[i].name);
        free(q->bias[i].x);
        free(q->bias[i].w);
    }
    free(q->act);
    free(q->wt);
    free(q->bias);
    free(q->removed);
    free(q->keep_float);
    free(q->bin_act);
    free(q->act_of);
    free(q->layer);
    free(q->own);
    free(q->planned);
    sens_free(q);
    if (q->pm)
        qmac_onnx__model__free_unpacked(q->pm, NULL);
    qmac_graph_free(q->g);
    free(q);
}

int32_t qmac_quantizer_n_layers(const qmac_quantizer *q)
{
    return q->n_layer;
}

const char *qmac_quantizer_layer_name(const qmac_quantizer *q, int32_t i)
{
    const QmacOnnx__Node *n = G(q)->node[q->layer[i]];
    return n->name && n->name[0] ? n->name : n->n_output ? n->output[0] : "";
}

const char *qmac_quantizer_layer_op(const qmac_quantizer *q, int32_t i)
{
    return G(q)->node[q->layer[i]]->op_type;
}

/* Mark layer `name` in flags[] (keep_float, or bin_act with -2); the rule "hidden" (binary
 * layers, when no layer has that name): every Conv/Gemm/MatMul layer but the first and the last. */
static qmac_status mark_layer(qmac_quantizer *q, const char *name, int bin)
{
    for (int32_t i = 0; i < q->n_layer; ++i)
        if (!strcmp(qmac_quantizer_layer_name(q, i), name)) {
            const int32_t k = q->layer[i];
            if (bin)
                q->bin_act[k] = -2;
            else
                q->keep_float[k] = 1;
            return QMAC_OK;
        }
    if (bin && !strcmp(name, "hidden")) {
        int32_t first = -1, last = -1;
        for (int32_t i = 0; i < q->n_layer; ++i) {
            const QmacOnnx__Node *n = G(q)->node[q->layer[i]];
            if (op_is(n, "Conv") || op_is(n, "Gemm") || op_is(n, "MatMul")) {
                first = first < 0 ? i : first;
                last = i;
            }
        }
        int marked = 0;
        for (int32_t i = first + 1; first >= 0 && i < last; ++i) {
            const QmacOnnx__Node *n = G(q)->node[q->layer[i]];
            if (op_is(n, "Conv") || op_is(n, "Gemm") || op_is(n, "MatMul")) {
                q->bin_act[q->layer[i]] = -2;
                marked = 1;
            }
        }
        if (!marked)
            return qmac_set_error(QMAC_ERR_INVALID_ARG,
                                  "--binary hidden: the model has no Conv/Gemm/MatMul layer between its "
                                  "first and its last");
        return QMAC_OK;
    }
    char list[512];
    size_t at = 0;
    list[0] = 0;
    for (int32_t i = 0; i < q->n_layer && at < sizeof list; ++i)
        at += (size_t)snprintf(list + at, sizeof list - at, "%s%s", i ? ", " : "",
                               qmac_quantizer_layer_name(q, i));
    return qmac_set_error(QMAC_ERR_INVALID_ARG, "no layer named '%s' in the model (its layers: %s)", name,
                          q->n_layer ? list : "none");
}

qmac_status qmac_quantizer_new(const uint8_t *model, size_t len, const qmac_quantize_opts *o,
                               qmac_quantizer **out)
{
    *out = NULL;
    if ((o->act_type != QMAC_DT_INT8 && o->act_type != QMAC_DT_UINT8) ||
        (o->weight_type != QMAC_DT_INT8 && o->weight_type != QMAC_DT_UINT8))
        return qmac_set_error(QMAC_ERR_INVALID_ARG, "activation and weight types must be int8 or uint8");
    if (o->block_size < 0 || (o->block_size && o->log2_weights) ||
        (o->log2_weights && (o->weight_type != QMAC_DT_INT8 || o->reduce_range)))
        return qmac_set_error(
            QMAC_ERR_INVALID_ARG,
            "weights: log2 codes are int8 without reduce_range, and not in blocks (block size %d)",
            (int)o->block_size);
    if ((o->qonnx || o->n_binary) && (o->block_size || o->log2_weights || o->n_keep_float))
        return qmac_set_error(QMAC_ERR_INVALID_ARG, "%s",
                              "QONNX output (and binary layers) with blocked or log2 weights or layers kept "
                              "float: not built");
    if ((unsigned)o->method > QMAC_CALIB_MSE || !(o->percentile > 0 && o->percentile <= 100) ||
        o->num_bins < 16 || o->num_bins > (1 << 24))
        return qmac_set_error(QMAC_ERR_INVALID_ARG, "bad calibration options (percentile %g, %d bins)",
                              o->percentile, (int)o->num_bins);
    qmac_quantizer *q = calloc(1, sizeof *q);
    if (!q)
        return qmac_set_error(QMAC_ERR_NOMEM, "out of memory");
    q->o = *o;
    q->o.qonnx |= o->n_binary > 0; /* QDQ has no 1-bit type */
    qmac_status st = qmac_onnx_load_mem(model, len, &q->g);
    if (st == QMAC_OK && !(q->pm = qmac_onnx__model__unpack(NULL, len, model)))
        st = qmac_set_error(QMAC_ERR_FORMAT, "not an ONNX model (protobuf decoding failed)");
    if (st == QMAC_OK && !q->pm->graph)
        st = qmac_set_error(QMAC_ERR_FORMAT, "the model has no graph");
    for (int32_t i = 0; st == QMAC_OK && i < q->g->n_nodes; ++i) {
        const qmac_node *n = &q->g->nodes[i];
        if (n->op == QMAC_NODE_QUANTIZE || n->op == QMAC_NODE_DEQUANTIZE || n->qx.n || n->qy.n || n->qin)
            st = qmac_set_error(QMAC_ERR_UNSUPPORTED,
                                "node '%s' (%s) is already quantized: give a float model", n->name,
                                n->onnx_ops);
    }
    if (st == QMAC_OK && q->g->opset < 11)
        st = qmac_set_error(QMAC_ERR_UNSUPPORTED, "opset %lld: qmac quantize needs opset 11 or later",
                            (long long)q->g->opset);
    if (st == QMAC_OK) {
        q->removed = calloc(q->pm->graph->n_node + 1, 1);
        q->act_of = malloc(sizeof *q->act_of * ((size_t)q->g->n_values + 1));
        if (!q->removed || !q->act_of)
            st = qmac_set_error(QMAC_ERR_NOMEM, "out of memory");
    }
    for (int32_t v = 0; st == QMAC_OK && v < q->g->n_values; ++v)
        q->act_of[v] = -1;
    if (st == QMAC_OK && (!(q->keep_float = calloc(G(q)->n_node + 1, 1)) ||
                          !(q->bin_act = malloc(sizeof *q->bin_act * (G(q)->n_node + 1)))))
        st = qmac_set_error(QMAC_ERR_NOMEM, "out of memory");
    for (size_t i = 0; st == QMAC_OK && i < G(q)->n_node; ++i)
        q->bin_act[i] = -1;
    if (st == QMAC_OK)
        st = find_layers(q);
    for (int32_t k = 0; st == QMAC_OK && k < o->n_keep_float; ++k)
        st = mark_layer(q, o->keep_float[k], 0);
    for (int32_t k = 0; st == QMAC_OK && k < o->n_binary; ++k)
        st = mark_layer(q, o->binary[k], 1);
    if (st == QMAC_OK && (st = plan(q)) == QMAC_OK) {
        q->planned_len = qmac_onnx__model__get_packed_size(q->pm);
        if (!(q->planned = malloc(q->planned_len + 1)))
            st = qmac_set_error(QMAC_ERR_NOMEM, "out of memory");
        else
            qmac_onnx__model__pack(q->pm, q->planned);
    }
    for (int32_t i = 0; st == QMAC_OK && i < q->n_act; ++i) {
        act_t *a = &q->act[i];
        if (a->value < 0)
            continue;
        a->calib_on = 1;
        if (o->method <= QMAC_CALIB_MOVING_AVERAGE)
            st = qmac_minmax_init(&a->mm, 1, 0, o->method == QMAC_CALIB_MOVING_AVERAGE, 0.01f);
        else
            st =
                qmac_hist_init(&a->hist, 1, o->num_bins,
                               o->method == QMAC_CALIB_PERCENTILE ? QMAC_HIST_FROM_MIN : QMAC_HIST_FROM_ZERO);
    }
    if (st != QMAC_OK) {
        qmac_quantizer_free(q);
        return st;
    }
    *out = q;
    return QMAC_OK;
}

const qmac_graph *qmac_quantizer_graph(const qmac_quantizer *q)
{
    return q->g;
}

int qmac_quantizer_is_float(const qmac_quantizer *q, int32_t i)
{
    return q->keep_float[q->layer[i]];
}

/* ------------------------------------------------------------------ calibration */

static qmac_status observe_value(void *ctx, int32_t value, const qmac_tensor *t)
{
    qmac_quantizer *q = ctx;
    const int32_t a = q->act_of[value];
    if (a < 0)
        return QMAC_OK;
    act_t *x = &q->act[a];
    if (t->dtype != QMAC_DT_FLOAT32)
        return qmac_set_error(QMAC_ERR_UNSUPPORTED, "activation '%s' is %s, not float32", x->name,
                              qmac_dtype_name(t->dtype));
    const size_t n = qmac_tensor_count(t);
    const float *v = t->data;
    for (size_t i = 0; i < n; ++i)
        if (!isfinite(v[i]))
            return qmac_set_error(QMAC_ERR_INVALID_ARG,
                                  "activation '%s' has a %s value (calibration batch %lld)", x->name,
                                  isnan(v[i]) ? "NaN" : "infinite", (long long)q->batches);
    for (size_t i = 0; x->bip && i < n; ++i)
        x->sum += v[i];
    x->count += x->bip ? (double)n : 0.0;
    return q->o.method <= QMAC_CALIB_MOVING_AVERAGE ? qmac_minmax_observe(&x->mm, v, 1, n)
                                                    : qmac_hist_observe(&x->hist, v, 1, n);
}

qmac_status qmac_quantizer_observe(qmac_quantizer *q, const qmac_tensor *inputs)
{
    for (int32_t k = 0; k < q->g->n_inputs; ++k) {
        const qmac_tensor *t = &inputs[k];
        if (t->dtype != QMAC_DT_FLOAT32)
            continue;
        const float *v = t->data;
        for (size_t i = 0, n = qmac_tensor_count(t); i < n; ++i)
            if (!isfinite(v[i]))
                return qmac_set_error(QMAC_ERR_INVALID_ARG,
                                      "calibration batch %lld: input '%s' element %zu is %s",
                                      (long long)q->batches, q->g->values[q->g->inputs[k]].name, i,
                                      isnan(v[i]) ? "NaN" : "infinite");
    }
    qmac_tensor *outs = calloc((size_t)q->g->n_outputs + 1, sizeof *outs);
    if (!outs)
        return qmac_set_error(QMAC_ERR_NOMEM, "out of memory");
    qmac_status st =
        qmac_exec_ref_observe(q->g, QMAC_REQUANT_ONNXRT, inputs, q->g->n_inputs, outs, observe_value, q);
    for (int32_t k = 0; k < q->g->n_outputs; ++k)
        qmac_tensor_free(&outs[k]);
    free(outs);
    if (st == QMAC_OK)
        q->batches++;
    return st;
}

int qmac_quantizer_binary_pending(const qmac_quantizer *q)
{
    for (int32_t a = 0; a < q->n_act; ++a)
        if (q->act[a].bip)
            return !q->binary_done;
    return 0;
}

/* pass 2: sum |x - t| of each binarized activation (t its pass-1 mean) */
static qmac_status observe_absdev(void *ctx, int32_t value, const qmac_tensor *t)
{
    qmac_quantizer *q = ctx;
    act_t *x = q->act_of[value] >= 0 ? &q->act[q->act_of[value]] : NULL;
    if (!x || !x->bip)
        return QMAC_OK;
    const float *v = t->data;
    for (size_t i = 0, n = qmac_tensor_count(t); i < n; ++i)
        x->absdev += fabs((double)v[i] - (double)x->t);
    return QMAC_OK;
}

qmac_status qmac_quantizer_observe_binary(qmac_quantizer *q, const qmac_tensor *inputs)
{
    for (int32_t a = 0; a < q->n_act; ++a) {
        act_t *x = &q->act[a];
        if (!x->bip)
            continue;
        if (!(x->count > 0))
            return qmac_set_error(QMAC_ERR_INVALID_ARG,
                                  "the binary layers' input '%s' needs calibration data (its mean is the "
                                  "binarization threshold)",
                                  x->name);
        x->t = (float)(x->sum / x->count);
    }
    qmac_tensor *outs = calloc((size_t)q->g->n_outputs + 1, sizeof *outs);
    if (!outs)
        return qmac_set_error(QMAC_ERR_NOMEM, "out of memory");
    const qmac_status st =
        qmac_exec_ref_observe(q->g, QMAC_REQUANT_ONNXRT, inputs, q->g->n_inputs, outs, observe_absdev, q);
    for (int32_t k = 0; k < q->g->n_outputs; ++k)
        qmac_tensor_free(&outs[k]);
    free(outs);
    if (st == QMAC_OK)
        q->binary_done = 1;
    return st;
}

/* x rounded to 4 significant bits. Binary scales s and alpha are: their product has at most 8
 * significant bits, so QONNX's float conv/matmul sums +-s alpha exactly (for up to 2^16 terms) and the
 * accelerator's integer accumulator reproduces it bit for bit. */
static float sig4(float x)
{
    int e;
    const float m = frexpf(x, &e);
    return ldexpf(rintf(m * 16.0f) / 16.0f, e);
}

/* t and s of a binarized activation, once both passes ran */
static qmac_status bip_params(const qmac_quantizer *q, act_t *x)
{
    if (!q->binary_done)
        return qmac_set_error(QMAC_ERR_INVALID_ARG,
                              "the binary layers' input '%s' needs calibration data (two passes: "
                              "qmac_quantizer_observe_binary)",
                              x->name);
    const float s = (float)(x->absdev / x->count);
    x->s = sig4(s > 0.0f ? s : 1.0f); /* a constant input: any scale gives the same signs */
    return QMAC_OK;
}

const char *qmac_quantizer_binary_input(const qmac_quantizer *q, int32_t i, float *t, float *s)
{
    const int32_t a = q->bin_act[q->layer[i]];
    if (a < 0)
        return NULL;
    *t = q->act[a].t;
    *s = q->act[a].s; /* set when the model is written */
    return q->act[a].name;
}

int64_t qmac_quantizer_batches(const qmac_quantizer *q)
{
    return q->batches;
}

int32_t qmac_quantizer_n_ranges(const qmac_quantizer *q)
{
    int32_t n = 0;
    for (int32_t i = 0; i < q->n_act; ++i)
        n += q->act[i].value >= 0;
    return n;
}

static act_t *range_act(const qmac_quantizer *q, int32_t i)
{
    for (int32_t a = 0; a < q->n_act; ++a)
        if (q->act[a].value >= 0 && i-- == 0)
            return &q->act[a];
    return NULL;
}

const char *qmac_quantizer_range_name(const qmac_quantizer *q, int32_t i)
{
    const act_t *a = range_act(q, i);
    return a ? a->name : NULL;
}

/* The range of a calibrated activation (once computed it is kept). */
static qmac_status act_range(qmac_quantizer *q, act_t *a)
{
    if (a->has_range)
        return QMAC_OK;
    if (!q->batches)
        return qmac_set_error(QMAC_ERR_INVALID_ARG,
                              "no range for '%s': no calibration data and no range given", a->name);
    qmac_status st;
    if (q->o.method <= QMAC_CALIB_MOVING_AVERAGE) {
        st = qmac_minmax_range(&a->mm, &a->rmin, &a->rmax);
    } else {
        const qmac_hist_ch *h = &a->hist.ch[0];
        const int nonneg = h->has_data && h->min >= 0.0f;
        float amax = 0.0f;
        if (q->o.method == QMAC_CALIB_PERCENTILE)
            st = qmac_hist_percentile(&a->hist, 0, q->o.percentile, &amax);
        else if (q->o.method == QMAC_CALIB_ENTROPY)
            st = qmac_hist_entropy(&a->hist, 0, nonneg ? 256 : 128, &amax);
        else
            st = qmac_hist_mse(&a->hist, 0, nonneg ? 255 : 127, 128, &amax);
        if (st == QMAC_OK)
            st = qmac_hist_range(&a->hist, 0, amax, &a->rmin, &a->rmax);
    }
    if (st != QMAC_OK)
        return qmac_set_error(st, "activation '%s': %s", a->name, qmac_last_error());
    a->has_range = 1;
    return QMAC_OK;
}

qmac_status qmac_quantizer_range(qmac_quantizer *q, int32_t i, float *rmin, float *rmax)
{
    act_t *a = range_act(q, i);
    if (!a)
        return qmac_set_error(QMAC_ERR_INVALID_ARG, "no range %d", (int)i);
    qmac_status st = act_range(q, a);
    if (st == QMAC_OK) {
        *rmin = a->rmin;
        *rmax = a->rmax;
    }
    return st;
}

qmac_status qmac_quantizer_set_range(qmac_quantizer *q, const char *name, float rmin, float rmax)
{
    const int32_t i = find_act(q, name);
    if (i < 0 || q->act[i].value < 0)
        return qmac_set_error(QMAC_ERR_INVALID_ARG, "'%s' is not an activation that qmac quantize calibrates",
                              name);
    if (!isfinite(rmin) || !isfinite(rmax) || rmin > rmax)
        return qmac_set_error(QMAC_ERR_INVALID_ARG, "range of '%s': [%g, %g] is not a finite interval", name,
                              (double)rmin, (double)rmax);
    q->act[i].rmin = rmin;
    q->act[i].rmax = rmax;
    q->act[i].has_range = 1;
    return QMAC_OK;
}

/* ------------------------------------------------------------------ sensitivity */

static qmac_status write_selected(qmac_quantizer *q, const uint8_t *sel, uint8_t **buf, size_t *len);

/* The models of the report: graph[k] has only layer k quantized, graph[n_layer] is the model
 * qmac_quantizer_write writes. */
static qmac_status sens_begin(qmac_quantizer *q)
{
    sens_t *s = &q->sens;
    s->graph = calloc((size_t)q->n_layer + 1, sizeof *s->graph);
    s->noise = calloc((size_t)q->n_layer + 1, sizeof *s->noise);
    uint8_t *sel = calloc(G(q)->n_node + 1, 1);
    qmac_status st = s->graph && s->noise && sel ? QMAC_OK : qmac_set_error(QMAC_ERR_NOMEM, "out of memory");
    for (int32_t k = 0; k <= q->n_layer && st == QMAC_OK; ++k) {
        uint8_t *buf = NULL;
        size_t len = 0;
        for (size_t i = 0; i < G(q)->n_node; ++i)
            sel[i] = k == q->n_layer || (int32_t)i == q->layer[k];
        if ((st = write_selected(q, sel, &buf, &len)) == QMAC_OK &&
            (st = qmac_onnx_load_mem(buf, len, &s->graph[k])) != QMAC_OK)
            st = qmac_set_error(st, "the model with %s quantized: %s",
                                k == q->n_layer ? "every layer" : qmac_quantizer_layer_name(q, k),
                                qmac_last_error());
        free(buf);
    }
    free(sel);
    if (st != QMAC_OK)
        sens_free(q);
    return st;
}

static void free_outs(qmac_tensor *outs, int32_t n)
{
    for (int32_t k = 0; outs && k < n; ++k)
        qmac_tensor_free(&outs[k]);
    free(outs);
}

static double elem(const qmac_tensor *t, size_t i)
{
    return t->dtype == QMAC_DT_FLOAT32 ? (double)((const float *)t->data)[i]
                                       : (double)qmac_load_int(t->dtype, t->data, i);
}

qmac_status qmac_quantizer_sensitivity_observe(qmac_quantizer *q, const qmac_tensor *inputs)
{
    if (q->o.qonnx)
        return qmac_set_error(QMAC_ERR_UNSUPPORTED, "%s",
                              "sensitivity of a QONNX model (or binary layers): not built (the one-layer "
                              "models are QDQ)");
    qmac_status st = q->sens.graph ? QMAC_OK : sens_begin(q);
    const int32_t no = q->g->n_outputs;
    qmac_tensor *ref = calloc((size_t)no + 1, sizeof *ref), *out = calloc((size_t)no + 1, sizeof *out);
    if (st == QMAC_OK && (!ref || !out))
        st = qmac_set_error(QMAC_ERR_NOMEM, "out of memory");
    if (st == QMAC_OK)
        st = qmac_exec_ref(q->g, QMAC_REQUANT_ONNXRT, inputs, q->g->n_inputs, ref);
    for (int32_t j = 0; j < no && st == QMAC_OK; ++j)
        for (size_t i = 0, n = qmac_tensor_count(&ref[j]); i < n; ++i)
            q->sens.signal += elem(&ref[j], i) * elem(&ref[j], i);
    for (int32_t k = 0; k <= q->n_layer && st == QMAC_OK; ++k) {
        const qmac_graph *g = q->sens.graph[k];
        if ((st = qmac_exec_ref(g, QMAC_REQUANT_ONNXRT, inputs, g->n_inputs, out)))
            break;
        for (int32_t j = 0; j < no && st == QMAC_OK; ++j) {
            const size_t n = qmac_tensor_count(&ref[j]);
            if (qmac_tensor_count(&out[j]) != n)
                st = qmac_set_error(QMAC_ERR_INTERNAL, "quantized output %d has %zu values, not %zu", (int)j,
                                    qmac_tensor_count(&out[j]), n);
            for (size_t i = 0; i < n && st == QMAC_OK; ++i) {
                const double d = elem(&out[j], i) - elem(&ref[j], i);
                q->sens.noise[k] += d * d;
            }
            qmac_tensor_free(&out[j]);
        }
    }
    if (st == QMAC_OK)
        q->sens.rows += inputs[0].rank ? inputs[0].shape[0] : 1;
    free_outs(ref, no);
    free_outs(out, no);
    return st;
}

int64_t qmac_quantizer_sensitivity_rows(const qmac_quantizer *q)
{
    return q->sens.rows;
}

double qmac_quantizer_sqnr(const qmac_quantizer *q, int32_t i)
{
    const double noise = q->sens.noise ? q->sens.noise[i < 0 ? q->n_layer : i] : 0.0;
    if (noise == 0.0)
        return INFINITY;
    return 10.0 * log10(q->sens.signal / noise);
}

/* ------------------------------------------------------------------ writing */

static QmacOnnx__Tensor *new_tensor(const char *name, int32_t type, int32_t rank, const int64_t *dims,
                                    const void *data, size_t nbytes)
{
    QmacOnnx__Tensor *t = malloc(sizeof *t);
    if (!t)
        return NULL;
    qmac_onnx__tensor__init(t);
    t->name = xfmt("%s", name);
    t->has_data_type = 1;
    t->data_type = type;
    t->n_dims = (size_t)rank;
    t->dims = rank ? malloc(sizeof *t->dims * (size_t)rank) : NULL;
    t->has_raw_data = 1;
    t->raw_data.len = nbytes;
    t->raw_data.data = malloc(nbytes ? nbytes : 1);
    if (!t->name || (rank && !t->dims) || !t->raw_data.data) {
        qmac_onnx__tensor__free_unpacked(t, NULL);
        return NULL;
    }
    if (rank)
        memcpy(t->dims, dims, sizeof *t->dims * (size_t)rank);
    memcpy(t->raw_data.data, data, nbytes);
    return t;
}

/* Append an attribute `name` of ONNX type `type` to node n; NULL when out of memory. */
static QmacOnnx__Attribute *add_attr(QmacOnnx__Node *n, const char *name, int32_t type)
{
    QmacOnnx__Attribute **l = realloc(n->attribute, sizeof *l * (n->n_attribute + 1));
    if (!l)
        return NULL;
    n->attribute = l;
    QmacOnnx__Attribute *a = malloc(sizeof *a);
    if (!a)
        return NULL;
    qmac_onnx__attribute__init(a);
    if (!(a->name = xfmt("%s", name))) {
        free(a);
        return NULL;
    }
    a->has_type = 1;
    a->type = type;
    l[n->n_attribute++] = a;
    return a;
}

static int add_int_attr(QmacOnnx__Node *n, const char *name, int64_t v)
{
    QmacOnnx__Attribute *a = add_attr(n, name, 2 /* INT */);
    if (a) {
        a->has_i = 1;
        a->i = v;
    }
    return a != NULL;
}

static int add_str_attr(QmacOnnx__Node *n, const char *name, const char *v)
{
    QmacOnnx__Attribute *a = add_attr(n, name, 3 /* STRING */);
    char *c = a ? xfmt("%s", v) : NULL;
    if (c) {
        a->has_s = 1;
        a->s.data = (uint8_t *)c;
        a->s.len = strlen(c);
    }
    return c != NULL;
}

/* A node with one output; axis >= 0 and block > 0 become its axis / block_size attributes. */
static QmacOnnx__Node *new_node(const char *op, const char *name, const char *const *ins, size_t n_in,
                                const char *out, int32_t axis, int32_t block)
{
    QmacOnnx__Node *n = malloc(sizeof *n);
    if (!n)
        return NULL;
    qmac_onnx__node__init(n);
    n->op_type = xfmt("%s", op);
    n->name = xfmt("%s", name);
    n->input = calloc(n_in, sizeof *n->input);
    n->output = calloc(1, sizeof *n->output);
    int ok = n->op_type && n->name && n->input && n->output;
    for (size_t k = 0; ok && k < n_in; ++k, ++n->n_input)
        ok = (n->input[k] = xfmt("%s", ins[k])) != NULL;
    if (ok && (n->output[0] = xfmt("%s", out)) != NULL)
        n->n_output = 1;
    else
        ok = 0;
    if (ok && axis >= 0)
        ok = add_int_attr(n, "axis", axis);
    if (ok && block > 0)
        ok = add_int_attr(n, "block_size", block);
    if (!ok) {
        qmac_onnx__node__free_unpacked(n, NULL);
        return NULL;
    }
    return n;
}

/* Growing arrays of the new graph's nodes and initializers. */
typedef struct {
    QmacOnnx__Node **node;
    size_t n_node, cap_node;
    QmacOnnx__Tensor **init;
    size_t n_init, cap_init;
    int oom;
    int bits8; /* the QONNX bit width initializer is pushed */
} build_t;

/* arr (n of *cap elements of esz bytes used) with room for one more: arr itself, or moved; NULL
 * when out of memory (arr is then unchanged). */
static void *grow(void *arr, size_t esz, size_t n, size_t *cap)
{
    if (n < *cap)
        return arr;
    const size_t c = *cap ? 2 * *cap : 64;
    void *p = realloc(arr, esz * c);
    if (p)
        *cap = c;
    return p;
}

static void push_node(build_t *b, QmacOnnx__Node *n)
{
    QmacOnnx__Node **p = n && !b->oom ? grow(b->node, sizeof *p, b->n_node, &b->cap_node) : NULL;
    if (p) {
        b->node = p;
        b->node[b->n_node++] = n;
        return;
    }
    b->oom = 1;
    if (n)
        qmac_onnx__node__free_unpacked(n, NULL);
}

static void push_init(build_t *b, QmacOnnx__Tensor *t)
{
    QmacOnnx__Tensor **p = t && !b->oom ? grow(b->init, sizeof *p, b->n_init, &b->cap_init) : NULL;
    if (p) {
        b->init = p;
        b->init[b->n_init++] = t;
        return;
    }
    b->oom = 1;
    if (t)
        qmac_onnx__tensor__free_unpacked(t, NULL);
}

static int32_t onnx_type(qmac_dtype dt)
{
    return dt == QMAC_DT_INT8 ? ONNX_INT8 : ONNX_UINT8;
}

/* scale and zero-point initializers of cnt values with the given shape */
static void push_qparams_shaped(build_t *b, const char *base, const float *scale, const int32_t *zp,
                                int32_t cnt, int32_t rank, const int64_t *dims, qmac_dtype dt)
{
    const size_t zb = dt == QMAC_DT_INT32 || dt == QMAC_DT_FLOAT32 ? 4 : 1;
    uint8_t *z = malloc(zb * (size_t)cnt + 1);
    char *s = xfmt("%s_scale", base), *zn = xfmt("%s_zero_point", base);
    if (!z || !s || !zn)
        b->oom = 1;
    else {
        for (int32_t i = 0; i < cnt; ++i) {
            const float f = (float)zp[i];
            if (dt == QMAC_DT_INT32)
                memcpy(z + 4 * i, &zp[i], 4);
            else if (dt == QMAC_DT_FLOAT32)
                memcpy(z + 4 * i, &f, 4);
            else
                z[i] = (uint8_t)(zp[i] & 0xff);
        }
        push_init(b, new_tensor(s, ONNX_FLOAT, rank, dims, scale, 4 * (size_t)cnt));
        push_init(b, new_tensor(zn,
                                dt == QMAC_DT_INT32     ? ONNX_INT32
                                : dt == QMAC_DT_FLOAT32 ? ONNX_FLOAT
                                                        : onnx_type(dt),
                                rank, dims, z, zb * (size_t)cnt));
    }
    free(z);
    free(s);
    free(zn);
}

/* scale and zero-point initializers: scalars (n == 0) or [n] */
static void push_qparams(build_t *b, const char *base, const float *scale, const int32_t *zp, int32_t n,
                         qmac_dtype dt)
{
    const int64_t dims[1] = {n};
    push_qparams_shaped(b, base, scale, zp, n ? n : 1, n ? 1 : 0, dims, dt);
}

static void push_floats(build_t *b, const char *name, int32_t rank, const int64_t *dims, const float *v,
                        size_t n)
{
    push_init(b, new_tensor(name, ONNX_FLOAT, rank, dims, v, 4 * n));
}

/* ------------------------------------------------------------------ QONNX */

static const char k_qonnx_domain[] = "qonnx.custom_op.general";
static const char k_bits8[] = "qonnx_bitwidth_8";

/* QONNX parameters: the scale rounded up to a power of two (the accelerator reproduces QONNX's
 * float arithmetic exactly with such scales) and, for asymmetric ranges, the even zero point
 * nearest to the one that puts min(rmin, 0) at qmin (ORT's rule). Even, because QONNX's Quant
 * rounds x / s + zp half to even, which is rounding x / s and adding zp (the accelerator's order,
 * and QuantizeLinear's) only for an even zp. */
static void pow2_qparams(float rmin, int32_t qmin, int32_t qmax, int sym, float *scale, int32_t *zp)
{
    if (!(*scale > 0.0f))
        return;
    *scale = exp2f(ceilf(log2f(*scale)));
    if (!sym) {
        const double z = 2.0 * rint(((double)qmin - (double)fminf(rmin, 0.0f) / (double)*scale) / 2.0);
        *zp = z < qmin ? qmin : z > qmax - 1 ? qmax - 1 : (int32_t)z; /* qmin even, qmax odd */
    }
}

/* What readers of the quantized tensor `name` read: its DequantizeLinear's (QDQ), Quant's (QONNX)
 * or BipolarQuant's (binary weights and inputs) output. */
static const char *deq_name(const qmac_quantizer *q, const char *name, char *buf, size_t cap)
{
    const int32_t a = find_act(q, name), w = find_weight(q, name);
    snprintf(buf, cap, "%s%s", name,
             (a >= 0 && q->act[a].bip) || (w >= 0 && q->wt[w].bin) ? "_BipolarQuant_Output"
             : q->o.qonnx                                          ? "_Quant_Output"
                                                                   : "_DequantizeLinear_Output");
    return buf;
}

/* A graph output that is quantized: its producer writes name + this, the Q/DQ or Quant name. */
static const char *quant_input_sfx(const qmac_quantizer *q)
{
    return q->o.qonnx ? "_Quant_Input" : "_QuantizeLinear_Input";
}

static QmacOnnx__Node *qonnx_node(QmacOnnx__Node *n)
{
    if (n && !(n->domain = xfmt("%s", k_qonnx_domain))) {
        qmac_onnx__node__free_unpacked(n, NULL);
        return NULL;
    }
    return n;
}

/* Quant(x, `params`_scale, `params`_zero_point, 8 bits) -> out, rounding half to even as
 * QuantizeLinear does: one Q/DQ pair (or a DequantizeLinear of codes stored as floats). */
static void push_quant(build_t *b, const char *x, const char *params, const char *out, const char *node,
                       int is_signed)
{
    char sc[1024], zp[1024];
    snprintf(sc, sizeof sc, "%s_scale", params);
    snprintf(zp, sizeof zp, "%s_zero_point", params);
    if (!b->bits8) {
        const float eight = 8.0f;
        push_floats(b, k_bits8, 0, NULL, &eight, 1);
        b->bits8 = 1;
    }
    const char *ins[4] = {x, sc, zp, k_bits8};
    QmacOnnx__Node *n = qonnx_node(new_node("Quant", node, ins, 4, out, -1, 0));
    if (n && !(add_int_attr(n, "signed", is_signed) && add_int_attr(n, "narrow", 0) &&
               add_str_attr(n, "rounding_mode", "ROUND"))) {
        qmac_onnx__node__free_unpacked(n, NULL);
        n = NULL;
    }
    push_node(b, n);
}

static void push_bipolar(build_t *b, const char *x, const char *scale, const char *out, const char *node)
{
    const char *ins[2] = {x, scale};
    push_node(b, qonnx_node(new_node("BipolarQuant", node, ins, 2, out, -1, 0)));
}

/* A binary weight's per-output-channel alpha = mean |w| (XNOR-Net) and sum of alpha sign(w) (the
 * bias absorbs the input's offset t times it); *nch channels; the caller frees both. */
static qmac_status binary_alpha(const qmac_quantizer *q, const weight_t *w, float **alpha, double **rowsum,
                                size_t *nch)
{
    const qmac_tensor *t = konst(q, w->name);
    const size_t n = qmac_tensor_count(t);
    const float *v = t->data;
    size_t outer, len, inner;
    qmac_status st = qmac_axis_split(t->shape, t->rank, w->oaxis, &outer, &len, &inner);
    if (st != QMAC_OK)
        return st;
    double *sum = calloc(len, sizeof *sum), *rs = calloc(len, sizeof *rs);
    float *al = malloc(sizeof *al * len);
    if (!sum || !rs || !al)
        st = qmac_set_error(QMAC_ERR_NOMEM, "out of memory");
    for (size_t e = 0; st == QMAC_OK && e < n; ++e) {
        if (!isfinite(v[e]))
            st = qmac_set_error(QMAC_ERR_INVALID_ARG, "weight '%s' has a %s value", w->name,
                                isnan(v[e]) ? "NaN" : "infinite");
        sum[e / inner % len] += fabs((double)v[e]);
        rs[e / inner % len] += v[e] >= 0.0f ? 1.0 : -1.0;
    }
    for (size_t c = 0; st == QMAC_OK && c < len; ++c) {
        al[c] = sig4((float)(sum[c] / (double)(n / len)));
        al[c] = al[c] > 0.0f ? al[c] : 0x1p-20f; /* an all-zero channel: any small scale */
        rs[c] *= (double)al[c];
    }
    free(sum);
    if (st != QMAC_OK) {
        free(rs);
        free(al);
        return st;
    }
    *alpha = al;
    *rowsum = rs;
    *nch = len;
    return QMAC_OK;
}

/* dims of a per-channel parameter that broadcasts along `axis` of a rank-r tensor of len channels */
static void bcast_dims(int32_t rank, int32_t axis, size_t len, int64_t *dims)
{
    for (int32_t d = 0; d < rank; ++d)
        dims[d] = d == axis ? (int64_t)len : 1;
}

/* A binary layer's weight: BipolarQuant(sign(w) as +-1 floats, alpha shaped to broadcast). */
static qmac_status binary_weight(qmac_quantizer *q, const weight_t *w, build_t *b)
{
    const qmac_tensor *t = konst(q, w->name);
    const size_t n = qmac_tensor_count(t);
    float *alpha = NULL, *sg = malloc(sizeof *sg * (n ? n : 1));
    double *rowsum = NULL;
    size_t nch = 0;
    qmac_status st =
        sg ? binary_alpha(q, w, &alpha, &rowsum, &nch) : qmac_set_error(QMAC_ERR_NOMEM, "out of memory");
    if (st == QMAC_OK) {
        for (size_t e = 0; e < n; ++e)
            sg[e] = ((const float *)t->data)[e] >= 0.0f ? 1.0f : -1.0f;
        char sn[1024], an[1024], nn[1024], o[1024];
        int64_t dims[QMAC_MAX_RANK];
        snprintf(sn, sizeof sn, "%s_sign", w->name);
        snprintf(an, sizeof an, "%s_alpha", w->name);
        snprintf(nn, sizeof nn, "%s_BipolarQuant", w->name);
        bcast_dims(t->rank, w->oaxis, nch, dims);
        push_floats(b, sn, t->rank, t->shape, sg, n);
        push_floats(b, an, t->rank, dims, alpha, nch);
        push_bipolar(b, sn, an, deq_name(q, w->name, o, sizeof o), nn);
    }
    free(sg);
    free(alpha);
    free(rowsum);
    return st;
}

/* The bias of binary layer i (its own, else zeros) plus t times each output channel's weight
 * sum, rounded to the accumulator's grid s alpha[c] (float32 products): float initializer `name`. */
static qmac_status binary_bias(qmac_quantizer *q, size_t i, const char *name, build_t *b)
{
    const QmacOnnx__Node *n = G(q)->node[i];
    const weight_t *w = &q->wt[find_weight(q, in_name(n, 1))];
    const act_t *x = &q->act[q->bin_act[i]];
    const qmac_tensor *bt = in_name(n, 2) ? konst(q, in_name(n, 2)) : NULL;
    float *alpha = NULL, *v = NULL;
    double *rowsum = NULL;
    size_t nch = 0;
    qmac_status st = binary_alpha(q, w, &alpha, &rowsum, &nch);
    if (st == QMAC_OK && bt && (bt->dtype != QMAC_DT_FLOAT32 || qmac_tensor_count(bt) != nch))
        st = qmac_set_error(QMAC_ERR_UNSUPPORTED, "binary layer '%s': bias '%s' is not %zu float32 values",
                            node_name(n), in_name(n, 2), nch);
    if (st == QMAC_OK && !(v = malloc(sizeof *v * nch)))
        st = qmac_set_error(QMAC_ERR_NOMEM, "out of memory");
    for (size_t c = 0; st == QMAC_OK && c < nch; ++c) {
        const float grid = x->s * alpha[c];
        const double want = (bt ? (double)((const float *)bt->data)[c] : 0.0) + (double)x->t * rowsum[c];
        v[c] = (float)(rint(want / (double)grid) * (double)grid);
    }
    if (st == QMAC_OK) {
        const int64_t dims[1] = {(int64_t)nch};
        push_floats(b, name, 1, dims, v, nch);
    }
    free(alpha);
    free(rowsum);
    free(v);
    return st;
}

/* Activation a's parameters (and, for a constant, its quantized initializer). */
static qmac_status act_params(qmac_quantizer *q, act_t *a, build_t *b)
{
    int32_t qmin, qmax;
    qmac_status st =
        qmac_qrange_onnxrt(q->o.act_type, q->o.act_symmetric, a->konst && q->o.reduce_range, &qmin, &qmax);
    if (st != QMAC_OK)
        return st;
    if (a->konst) {
        const qmac_tensor *t = konst(q, a->name);
        const size_t n = t ? qmac_tensor_count(t) : 0;
        if (!t || t->dtype != QMAC_DT_FLOAT32)
            return qmac_set_error(QMAC_ERR_UNSUPPORTED, "constant '%s' is not float32", a->name);
        const float *v = t->data;
        float lo = n ? v[0] : 0.0f, hi = lo;
        for (size_t i = 1; i < n; ++i) {
            lo = v[i] < lo ? v[i] : lo;
            hi = v[i] > hi ? v[i] : hi;
        }
        if ((st = qmac_choose_qparams(lo, hi, qmin, qmax, q->o.act_symmetric, QMAC_QPARAMS_ONNXRT, &a->scale,
                                      &a->zp)))
            return qmac_set_error(st, "constant '%s': %s", a->name, qmac_last_error());
        if (q->o.qonnx)
            pow2_qparams(lo, qmin, qmax, q->o.act_symmetric, &a->scale, &a->zp);
        int32_t tmin, tmax;
        qmac_dtype_range(q->o.act_type, &tmin, &tmax);
        uint8_t *qd = malloc(n ? n : 1);
        float *fd = malloc(sizeof *fd * (n ? n : 1));
        char *nm = xfmt("%s_quantized", a->name);
        if (!qd || !fd || !nm) {
            free(qd);
            free(fd);
            free(nm);
            return qmac_set_error(QMAC_ERR_NOMEM, "out of memory");
        }
        for (size_t i = 0; i < n; ++i) {
            const int32_t c = qmac_quantize_f32(v[i], a->scale, a->zp, tmin, tmax, QMAC_ROUND_HALF_EVEN);
            qd[i] = (uint8_t)(c & 0xff);
            fd[i] = (float)(c - a->zp) * a->scale; /* QONNX: the dequantized value, quantized by a Quant */
        }
        if (q->o.qonnx)
            push_floats(b, nm, t->rank, t->shape, fd, n);
        else
            push_init(b, new_tensor(nm, onnx_type(q->o.act_type), t->rank, t->shape, qd, n));
        free(qd);
        free(fd);
        free(nm);
        return QMAC_OK;
    }
    act_t *r = a->range_from >= 0 ? &q->act[a->range_from] : a;
    if ((st = act_range(q, r)))
        return st;
    if ((st = qmac_choose_qparams(r->rmin, r->rmax, qmin, qmax, q->o.act_symmetric, QMAC_QPARAMS_ONNXRT,
                                  &a->scale, &a->zp)))
        return qmac_set_error(st, "activation '%s': %s", a->name, qmac_last_error());
    if (q->o.qonnx)
        pow2_qparams(r->rmin, qmin, qmax, q->o.act_symmetric, &a->scale, &a->zp);
    return QMAC_OK;
}

/* A weight's scale groups: one (per tensor), one per index along axis (per channel), or one per
 * block of block_size along kaxis and every index of the other axes (ONNX opset 21 blocked). */
typedef struct {
    size_t outer, len, inner, nb, block;
    int blocked;
} wgroups;

static size_t group_of(const wgroups *g, size_t e)
{
    if (g->blocked) {
        const size_t i = e % g->inner, k = e / g->inner % g->len, o = e / g->inner / g->len;
        return (o * g->nb + k / g->block) * g->inner + i;
    }
    return e / g->inner % g->len;
}

/* A weight: per tensor, per channel or per block; ORT's rule (int8 symmetric; per channel and per
 * block always symmetric), or log2 codes 0, +-2^k (k = 0..6) with scale max|w| / 64. Writes the
 * quantized initializer and its parameters; *scale_out / *n_out: the scales a bias uses (per
 * tensor or channel; NULL for blocks, whose bias stays float). */
static qmac_status weight_params(qmac_quantizer *q, const weight_t *w, build_t *b, float **scale_out,
                                 int32_t *n_out)
{
    const qmac_tensor *t = konst(q, w->name);
    const size_t n = qmac_tensor_count(t);
    wgroups g = {1, 1, n ? n : 1, 1, 1, q->o.block_size > 0};
    qmac_status st = QMAC_OK;
    const int32_t axis = g.blocked ? w->kaxis : w->axis;
    if (axis >= 0 && (st = qmac_axis_split(t->shape, t->rank, axis, &g.outer, &g.len, &g.inner)))
        return st;
    if (g.blocked) {
        g.block = (size_t)q->o.block_size;
        g.nb = (g.len + g.block - 1) / g.block;
    }
    const size_t ng = g.blocked ? g.outer * g.nb * g.inner : g.len;
    const int sym = w->axis >= 0 || g.blocked || q->o.weight_type == QMAC_DT_INT8;
    int32_t qmin, qmax, tmin, tmax;
    if ((st = qmac_qrange_onnxrt(q->o.weight_type, sym, q->o.reduce_range, &qmin, &qmax)))
        return st;
    qmac_dtype_range(q->o.weight_type, &tmin, &tmax);
    float *scale = malloc(sizeof *scale * ng), *lo = malloc(sizeof *lo * ng), *hi = malloc(sizeof *hi * ng);
    int32_t *zp = malloc(sizeof *zp * ng);
    uint8_t *qd = malloc(n ? n : 1);
    float *fd = q->o.qonnx ? malloc(sizeof *fd * (n ? n : 1)) : NULL;
    char *nm = xfmt("%s_quantized", w->name);
    if (!scale || !zp || !qd || !lo || !hi || !nm || (q->o.qonnx && !fd))
        st = qmac_set_error(QMAC_ERR_NOMEM, "out of memory");
    for (size_t k = 0; st == QMAC_OK && k < ng; ++k) {
        lo[k] = INFINITY;
        hi[k] = -INFINITY;
    }
    const float *v = t->data;
    for (size_t e = 0; st == QMAC_OK && e < n; ++e) {
        const size_t k = group_of(&g, e);
        if (!isfinite(v[e]))
            st = qmac_set_error(QMAC_ERR_INVALID_ARG, "weight '%s' has a %s value", w->name,
                                isnan(v[e]) ? "NaN" : "infinite");
        lo[k] = v[e] < lo[k] ? v[e] : lo[k];
        hi[k] = v[e] > hi[k] ? v[e] : hi[k];
    }
    const qmac_log2_params lp = {0, 6, QMAC_LOG2_ROUND_LOG, 1, 4};
    for (size_t k = 0; st == QMAC_OK && k < ng; ++k) {
        if (q->o.log2_weights) {
            const float m = fmaxf(fabsf(lo[k]), fabsf(hi[k]));
            scale[k] = m > 0.0f ? m / 64.0f : 1.0f;
            zp[k] = 0;
        } else if ((st = qmac_choose_qparams(lo[k], hi[k], qmin, qmax, sym, QMAC_QPARAMS_ONNXRT, &scale[k],
                                             &zp[k])))
            st = qmac_set_error(st, "weight '%s': %s", w->name, qmac_last_error());
        else if (q->o.qonnx)
            pow2_qparams(lo[k], qmin, qmax, sym, &scale[k], &zp[k]);
    }
    for (size_t e = 0; st == QMAC_OK && e < n; ++e) {
        const size_t k = group_of(&g, e);
        const int32_t c = q->o.log2_weights
                              ? (int32_t)qmac_log2q_f32(v[e] / scale[k], &lp)
                              : qmac_quantize_f32(v[e], scale[k], zp[k], tmin, tmax, QMAC_ROUND_HALF_EVEN);
        qd[e] = (uint8_t)(c & 0xff);
        if (fd)
            fd[e] = (float)(c - zp[k]) * scale[k];
    }
    if (st == QMAC_OK) {
        int64_t dims[QMAC_MAX_RANK];
        memcpy(dims, t->shape, sizeof(int64_t) * (size_t)t->rank);
        if (fd) { /* QONNX: the dequantized weights and parameters that broadcast onto them */
            push_floats(b, nm, t->rank, t->shape, fd, n);
            if (w->axis >= 0)
                bcast_dims(t->rank, w->axis, g.len, dims);
            push_qparams_shaped(b, w->name, scale, zp, (int32_t)ng, w->axis >= 0 ? t->rank : 0, dims,
                                QMAC_DT_FLOAT32);
        } else {
            push_init(b, new_tensor(nm, onnx_type(q->o.weight_type), t->rank, t->shape, qd, n));
            if (g.blocked) {
                dims[axis] = (int64_t)g.nb;
                push_qparams_shaped(b, w->name, scale, zp, (int32_t)ng, t->rank, dims, q->o.weight_type);
            } else
                push_qparams(b, w->name, scale, zp, w->axis >= 0 ? (int32_t)g.len : 0, q->o.weight_type);
        }
    }
    free(nm);
    free(fd);
    free(zp);
    free(qd);
    free(lo);
    free(hi);
    if (st != QMAC_OK || g.blocked) {
        free(scale);
        *scale_out = NULL;
        *n_out = 0;
        return st;
    }
    *scale_out = scale;
    *n_out = w->axis >= 0 ? (int32_t)g.len : 0;
    return QMAC_OK;
}

/* A bias: int32 with scale s_x * s_w (float32 product), rounded half to even in double. */
static qmac_status bias_params(qmac_quantizer *q, const bias_t *bi, const float *ws, int32_t nws, build_t *b)
{
    const int32_t xa = find_act(q, bi->x);
    const qmac_tensor *t = konst(q, bi->name);
    if (xa < 0 || !t)
        return qmac_set_error(QMAC_ERR_INTERNAL, "bias '%s': input '%s' is not quantized", bi->name, bi->x);
    const float sx = q->act[root_of(q, xa)].scale;
    const size_t n = qmac_tensor_count(t);
    if (nws && (size_t)nws != n)
        return qmac_set_error(QMAC_ERR_SHAPE, "bias '%s' has %zu values for %d weight channels", bi->name, n,
                              (int)nws);
    const int32_t ns = nws ? nws : 1;
    float *bs = malloc(sizeof *bs * (size_t)ns);
    int32_t *zp = calloc((size_t)ns, sizeof *zp), *qd = malloc(sizeof *qd * (n ? n : 1));
    char *nm = xfmt("%s_quantized", bi->name);
    qmac_status st = QMAC_OK;
    if (!bs || !zp || !qd || !nm)
        st = qmac_set_error(QMAC_ERR_NOMEM, "out of memory");
    for (int32_t c = 0; st == QMAC_OK && c < ns; ++c)
        bs[c] = sx * ws[c];
    for (size_t i = 0; st == QMAC_OK && i < n; ++i) {
        const double v = rint((double)((const float *)t->data)[i] / (double)bs[nws ? i : 0]);
        qd[i] = v < INT32_MIN ? INT32_MIN : v > INT32_MAX ? INT32_MAX : (int32_t)v;
    }
    if (st == QMAC_OK && q->o.qonnx) { /* the dequantized bias itself (exact: power-of-two scales) */
        float *fd = malloc(sizeof *fd * (n ? n : 1));
        for (size_t i = 0; fd && i < n; ++i)
            fd[i] = (float)((double)qd[i] * (double)bs[nws ? i : 0]);
        if (fd)
            push_floats(b, bi->name, t->rank, t->shape, fd, n);
        else
            st = qmac_set_error(QMAC_ERR_NOMEM, "out of memory");
        free(fd);
    } else if (st == QMAC_OK) {
        push_init(b, new_tensor(nm, ONNX_INT32, t->rank, t->shape, qd, 4 * n));
        push_qparams(b, nm, bs, zp, nws, QMAC_DT_INT32);
    }
    free(bs);
    free(zp);
    free(qd);
    free(nm);
    return st;
}

/* DequantizeLinear of initializer `data` with `params`_scale / `params`_zero_point into out. */
static void push_dq(build_t *b, const char *data, const char *params, const char *out, const char *node,
                    int32_t axis, int32_t block)
{
    char sc[1024], zp[1024];
    snprintf(sc, sizeof sc, "%s_scale", params);
    snprintf(zp, sizeof zp, "%s_zero_point", params);
    const char *ins[3] = {data, sc, zp};
    push_node(b, new_node("DequantizeLinear", node, ins, 3, out, axis, block));
}

static const char *dq_out(const qmac_quantizer *q, const char *t, char *buf, size_t cap)
{
    return is_graph_output(q, t) ? t : deq_name(q, t, buf, cap);
}

/* A DequantizeLinear of codes (QDQ), or a Quant of the dequantized values (QONNX). */
static void push_deq(const qmac_quantizer *q, build_t *b, const char *data, const char *params,
                     const char *out, const char *node, int32_t axis, int is_signed)
{
    if (q->o.qonnx) {
        char nm[1024];
        snprintf(nm, sizeof nm, "%s_Quant", params);
        push_quant(b, data, params, out, nm, is_signed);
    } else
        push_dq(b, data, params, out, node, axis, 0);
}

/* Q and DQ of activation a (its parameters: those of its root); a binarized one: x - t and a
 * BipolarQuant of scale s. */
static void push_qdq(const qmac_quantizer *q, build_t *b, const act_t *a)
{
    const act_t *r = &q->act[root_of(q, (int32_t)(a - q->act))];
    char qin[1024], qo[1024], dqo[1024], qn[1024], dqn[1024], sc[1024], zp[1024];
    if (a->bip) {
        snprintf(sc, sizeof sc, "%s_t", a->name);
        snprintf(qo, sizeof qo, "%s_centered", a->name);
        snprintf(qn, sizeof qn, "%s_Sub", a->name);
        const char *ins[2] = {a->name, sc};
        push_node(b, new_node("Sub", qn, ins, 2, qo, -1, 0));
        snprintf(sc, sizeof sc, "%s_s", a->name);
        snprintf(dqn, sizeof dqn, "%s_BipolarQuant", a->name);
        push_bipolar(b, qo, sc, deq_name(q, a->name, dqo, sizeof dqo), dqn);
        return;
    }
    snprintf(qin, sizeof qin, "%s%s", a->name, is_graph_output(q, a->name) ? quant_input_sfx(q) : "");
    if (q->o.qonnx) {
        snprintf(qn, sizeof qn, "%s_Quant", a->name);
        push_quant(b, qin, r->name, dq_out(q, a->name, dqo, sizeof dqo), qn, q->o.act_type == QMAC_DT_INT8);
        return;
    }
    snprintf(qo, sizeof qo, "%s_QuantizeLinear_Output", a->name);
    snprintf(qn, sizeof qn, "%s_QuantizeLinear", a->name);
    snprintf(dqn, sizeof dqn, "%s_DequantizeLinear", a->name);
    snprintf(sc, sizeof sc, "%s_scale", r->name);
    snprintf(zp, sizeof zp, "%s_zero_point", r->name);
    const char *qins[3] = {qin, sc, zp}, *dqins[3] = {qo, sc, zp};
    push_node(b, new_node("QuantizeLinear", qn, qins, 3, qo, -1, 0));
    push_node(b, new_node("DequantizeLinear", dqn, dqins, 3, dq_out(q, a->name, dqo, sizeof dqo), -1, 0));
}

static int replace_str(char **s, const char *v)
{
    char *n = xfmt("%s", v);
    if (!n)
        return 0;
    free(*s);
    *s = n;
    return 1;
}

/* The planned tensors a model quantizes: those the selected nodes read or write. */
typedef struct {
    uint8_t *act, *wt, *root; /* [n_act], [n_wt], [n_act]: a root whose parameters are needed */
} emit_t;

static int32_t emitted_act(const qmac_quantizer *q, const emit_t *e, const char *name)
{
    const int32_t a = find_act(q, name);
    return a >= 0 && e->act[a] ? a : -1;
}

static int32_t emitted_weight(const qmac_quantizer *q, const emit_t *e, const char *name)
{
    const int32_t w = find_weight(q, name);
    return w >= 0 && e->wt[w] ? w : -1;
}

static qmac_status emit_of(const qmac_quantizer *q, const uint8_t *sel, emit_t *e)
{
    e->act = calloc((size_t)q->n_act + 1, 1);
    e->root = calloc((size_t)q->n_act + 1, 1);
    e->wt = calloc((size_t)q->n_wt + 1, 1);
    if (!e->act || !e->root || !e->wt)
        return qmac_set_error(QMAC_ERR_NOMEM, "out of memory");
    for (int32_t k = 0; k < q->n_own; ++k) {
        const int32_t idx = q->own[k][0] & ((1 << 30) - 1);
        if (!sel[q->own[k][1]])
            continue;
        if (q->own[k][0] >> 30 == OWN_WT)
            e->wt[idx] = 1;
        else {
            e->act[idx] = 1;
            e->root[root_of(q, idx)] = 1;
        }
    }
    for (int32_t a = 0; a < q->n_act; ++a) /* binarized: only for a selected binary layer */
        if (q->act[a].bip || q->act[a].member) {
            e->act[a] = e->root[a] = 0;
            for (size_t i = 0; q->act[a].bip && i < G(q)->n_node; ++i)
                e->act[a] = e->root[a] |= sel[i] && q->bin_act[i] == a;
        }
    return QMAC_OK;
}

static void emit_free(emit_t *e)
{
    free(e->act);
    free(e->wt);
    free(e->root);
}

/* Activation `name` is quantized where its producer writes it, a folded clamp in its range. */
static int folded(const qmac_quantizer *q, const emit_t *e, const char *name)
{
    const int32_t a = emitted_act(q, e, name);
    return a >= 0 && !q->act[a].bip;
}

/* Binary layer i (node n of the written graph): its bias with the input's offset folded in: the
 * bias input of a Conv or Gemm (added when it has none), the constant of an Add after a MatMul. */
static qmac_status fold_bias(qmac_quantizer *q, size_t i, QmacOnnx__Node *n, build_t *b)
{
    char nm[1024];
    const char *bias = in_name(G(q)->node[i], 2);
    if (!bias) {
        snprintf(nm, sizeof nm, "%s_bias", node_name(G(q)->node[i]));
        bias = nm;
    }
    qmac_status st = binary_bias(q, i, bias, b);
    if (st != QMAC_OK || op_is(n, "MatMul") || n->n_input >= 3)
        return st;
    char **in = realloc(n->input, sizeof *in * 3);
    if (!in)
        return qmac_set_error(QMAC_ERR_NOMEM, "out of memory");
    n->input = in;
    for (size_t k = n->n_input; k < 3; ++k) { /* Gemm's C, Conv's B */
        if (!(in[k] = xfmt("%s", k == 2 ? bias : "")))
            return qmac_set_error(QMAC_ERR_NOMEM, "out of memory");
        n->n_input = k + 1;
    }
    return QMAC_OK;
}

/* A QDQ model of the planned graph in which the nodes sel[] selects are quantized. A folded
 * Relu/Clip whose output is not quantized comes back (its producer writes its input again). */
static qmac_status write_selected(qmac_quantizer *q, const uint8_t *sel, uint8_t **buf, size_t *len)
{
    *buf = NULL;
    *len = 0;
    emit_t e;
    memset(&e, 0, sizeof e);
    QmacOnnx__Model *pm = qmac_onnx__model__unpack(NULL, q->planned_len, q->planned);
    qmac_status st = pm ? emit_of(q, sel, &e) : qmac_set_error(QMAC_ERR_NOMEM, "out of memory");
    if (st != QMAC_OK) {
        emit_free(&e);
        if (pm)
            qmac_onnx__model__free_unpacked(pm, NULL);
        return st;
    }
    QmacOnnx__Graph *g = pm->graph;
    build_t b;
    memset(&b, 0, sizeof b);
    for (size_t i = 0; i < g->n_node; ++i) { /* folded clamps that stay */
        const QmacOnnx__Node *n = g->node[i];
        if (!q->removed[i] || folded(q, &e, n->output[0]))
            continue;
        for (size_t j = 0; j < i; ++j)
            for (size_t k = 0; k < g->node[j]->n_output; ++k)
                if (g->node[j]->output[k] && !strcmp(g->node[j]->output[k], n->output[0]))
                    b.oom |= !replace_str(&g->node[j]->output[k], n->input[0]);
    }
    /* parameters: activations (roots first: a shared one reads its root's initializers) */
    for (int32_t i = 0; i < q->n_act && st == QMAC_OK; ++i) {
        act_t *a = &q->act[i];
        char nm[1024];
        if (!e.root[i])
            continue;
        if (a->bip && (st = bip_params(q, a)) == QMAC_OK) { /* t and s */
            snprintf(nm, sizeof nm, "%s_t", a->name);
            push_floats(&b, nm, 0, NULL, &a->t, 1);
            snprintf(nm, sizeof nm, "%s_s", a->name);
            push_floats(&b, nm, 0, NULL, &a->s, 1);
        } else if (!a->bip && (st = act_params(q, a, &b)) == QMAC_OK)
            push_qparams(&b, a->name, &a->scale, &a->zp, 0, q->o.qonnx ? QMAC_DT_FLOAT32 : q->o.act_type);
    }
    /* weights and their DQs, then the biases that scale with them */
    for (int32_t i = 0; i < q->n_wt && st == QMAC_OK; ++i) {
        const weight_t *w = &q->wt[i];
        if (!e.wt[i])
            continue;
        float *ws = NULL;
        int32_t nws = 0;
        if (w->bin) { /* its bias: with the layer (binary_bias) */
            if ((st = binary_weight(q, w, &b)))
                break;
            continue;
        }
        if ((st = weight_params(q, w, &b, &ws, &nws)))
            break;
        char qn[1024], o[1024], nm[1024];
        snprintf(qn, sizeof qn, "%s_quantized", w->name);
        snprintf(nm, sizeof nm, "%s_DequantizeLinear", w->name);
        deq_name(q, w->name, o, sizeof o);
        if (q->o.block_size)
            push_dq(&b, qn, w->name, o, nm, w->kaxis, q->o.block_size);
        else
            push_deq(q, &b, qn, w->name, o, nm, w->axis, q->o.weight_type == QMAC_DT_INT8);
        for (int32_t k = 0; k < q->n_bias && st == QMAC_OK; ++k) {
            const bias_t *bi = &q->bias[k];
            if (strcmp(bi->w, w->name) || q->o.block_size) /* blocks: no one scale per channel */
                continue;
            if ((st = bias_params(q, bi, ws, nws, &b)) || q->o.qonnx) /* QONNX: a float initializer */
                continue;
            snprintf(qn, sizeof qn, "%s_quantized", bi->name);
            snprintf(nm, sizeof nm, "%s_DequantizeLinear", bi->name);
            push_dq(&b, qn, qn, bi->name, nm, nws ? 0 : -1, 0);
        }
        free(ws);
    }
    /* constants quantized as activations: DQ of the quantized initializer */
    for (int32_t i = 0; i < q->n_act && st == QMAC_OK; ++i)
        if (q->act[i].konst && e.act[i]) {
            char qn[1024], o[1024], nm[1024];
            snprintf(qn, sizeof qn, "%s_quantized", q->act[i].name);
            snprintf(nm, sizeof nm, "%s_DequantizeLinear", q->act[i].name);
            push_deq(q, &b, qn, q->act[i].name, dq_out(q, q->act[i].name, o, sizeof o), nm, -1,
                     q->o.act_type == QMAC_DT_INT8);
        }
    /* graph inputs */
    for (int32_t i = 0; i < q->n_act && st == QMAC_OK; ++i)
        if (e.act[i] && !q->act[i].konst && is_graph_input(q, q->act[i].name))
            push_qdq(q, &b, &q->act[i]);
    /* the model's nodes, readers re-pointed at the DQ outputs, each followed by its outputs' Q/DQ */
    for (size_t i = 0; i < g->n_node && st == QMAC_OK && !b.oom; ++i) {
        QmacOnnx__Node *n = g->node[i];
        if (q->removed[i] && folded(q, &e, n->output[0])) {
            qmac_onnx__node__free_unpacked(n, NULL);
            g->node[i] = NULL;
            continue;
        }
        for (size_t k = 0; k < n->n_input; ++k) {
            const char *t = n->input[k];
            char o[1024];
            if (!t || !t[0])
                continue;
            if (emitted_weight(q, &e, t) >= 0 || (emitted_act(q, &e, t) >= 0 && !is_graph_output(q, t)))
                b.oom |= !replace_str(&n->input[k], deq_name(q, t, o, sizeof o));
        }
        if (sel[i] && q->bin_act[i] >= 0 && (st = fold_bias(q, i, n, &b)))
            break;
        int32_t outs[QMAC_MAX_NODE_IO]; /* the activation each output is, before a rename */
        const size_t n_out = n->n_output < QMAC_MAX_NODE_IO ? n->n_output : QMAC_MAX_NODE_IO;
        for (size_t k = 0; k < n_out; ++k) {
            outs[k] = n->output[k] ? emitted_act(q, &e, n->output[k]) : -1;
            if (outs[k] >= 0 && is_graph_output(q, n->output[k])) {
                char o[1024];
                snprintf(o, sizeof o, "%s%s", n->output[k], quant_input_sfx(q));
                b.oom |= !replace_str(&n->output[k], o);
            }
        }
        push_node(&b, n);
        g->node[i] = NULL;
        if (sel[i] && q->bin_act[i] >= 0 && op_is(n, "MatMul")) { /* its bias: an Add after it */
            char o[1024], bn[1024], nm[1024];
            snprintf(bn, sizeof bn, "%s_bias", node_name(n));
            snprintf(o, sizeof o, "%s_MatMul_Output", n->output[0]);
            snprintf(nm, sizeof nm, "%s_bias_Add", node_name(n));
            const char *ins[2] = {o, bn};
            QmacOnnx__Node *add = new_node("Add", nm, ins, 2, n->output[0], -1, 0);
            b.oom |= !add || !replace_str(&n->output[0], o);
            push_node(&b, add);
        }
        for (size_t k = 0; k < n_out; ++k)
            if (outs[k] >= 0 && !q->act[outs[k]].konst)
                push_qdq(q, &b, &q->act[outs[k]]);
    }
    if (st == QMAC_OK && b.oom)
        st = qmac_set_error(QMAC_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < g->n_node; ++i) /* not moved (an error stopped the loop) */
        if (g->node[i])
            qmac_onnx__node__free_unpacked(g->node[i], NULL);
    free(g->node);
    g->node = b.node;
    g->n_node = b.n_node;
    b.node = NULL;
    if (st == QMAC_OK) {
        /* initializers: the quantized float ones go, the new ones come */
        size_t keep = 0;
        for (size_t i = 0; i < g->n_initializer; ++i) {
            QmacOnnx__Tensor *t = g->initializer[i];
            const char *nm = t->name ? t->name : "";
            const int32_t bi = find_bias(q, nm);
            if (emitted_weight(q, &e, nm) >= 0 ||
                (bi >= 0 && !q->o.block_size && emitted_weight(q, &e, q->bias[bi].w) >= 0) ||
                emitted_act(q, &e, nm) >= 0)
                qmac_onnx__tensor__free_unpacked(t, NULL);
            else
                g->initializer[keep++] = t;
        }
        QmacOnnx__Tensor **all = realloc(g->initializer, sizeof *all * (keep + b.n_init + 1));
        if (!all) {
            st = qmac_set_error(QMAC_ERR_NOMEM, "out of memory");
            g->n_initializer = keep;
        } else {
            if (b.n_init) /* none when the selected nodes quantize nothing (a layer kept float) */
                memcpy(all + keep, b.init, sizeof *all * b.n_init);
            g->initializer = all;
            g->n_initializer = keep + b.n_init;
            b.n_init = 0;
        }
    }
    for (size_t i = 0; i < b.n_init; ++i)
        qmac_onnx__tensor__free_unpacked(b.init[i], NULL);
    free(b.init);
    /* per-axis DequantizeLinear needs opset 13, blocked 21; QONNX its domain */
    const int64_t opset = q->o.block_size ? 21 : 13;
    if (st == QMAC_OK && q->o.qonnx) {
        QmacOnnx__OperatorSetId **l = realloc(pm->opset_import, sizeof *l * (pm->n_opset_import + 1));
        QmacOnnx__OperatorSetId *o = l ? malloc(sizeof *o) : NULL;
        if (l)
            pm->opset_import = l;
        if (o) {
            qmac_onnx__operator_set_id__init(o);
            o->domain = xfmt("%s", k_qonnx_domain);
            o->has_version = 1;
            o->version = 1;
            l[pm->n_opset_import++] = o;
        }
        if (!o || !o->domain)
            st = qmac_set_error(QMAC_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; st == QMAC_OK && i < pm->n_opset_import; ++i) {
        QmacOnnx__OperatorSetId *o = pm->opset_import[i];
        if ((!o->domain || !o->domain[0] || !strcmp(o->domain, "ai.onnx")) && o->version < opset)
            o->version = opset;
    }
    if (st == QMAC_OK) {
        *len = qmac_onnx__model__get_packed_size(pm);
        *buf = malloc(*len ? *len : 1);
        if (!*buf)
            st = qmac_set_error(QMAC_ERR_NOMEM, "out of memory");
        else
            qmac_onnx__model__pack(pm, *buf);
    }
    qmac_onnx__model__free_unpacked(pm, NULL);
    emit_free(&e);
    return st;
}

qmac_status qmac_quantizer_write(qmac_quantizer *q, uint8_t **buf, size_t *len)
{
    uint8_t *sel = malloc(G(q)->n_node + 1);
    if (!sel)
        return qmac_set_error(QMAC_ERR_NOMEM, "out of memory");
    memset(sel, 1, G(q)->n_node + 1); /* the layers kept float quantize nothing */
    const qmac_status st = write_selected(q, sel, buf, len);
    free(sel);
    return st;
}
