/* onnx_import.c - ONNX model (protobuf, decoded by protobuf-c) -> qmac_graph.
 *
 * Two model styles are accepted:
 *  - QOperator: QLinearConv, QLinearMatMul, QLinearAdd, QLinearAveragePool, ... carry their
 *    scales and zero points as inputs;
 *  - QDQ (onnxruntime.quantization.quantize_static): DequantizeLinear -> Op -> QuantizeLinear.
 *    Compute ops (Conv, MatMul, Gemm, Add, AveragePool, GlobalAveragePool) are only meaningful
 *    as integer ops when all of their inputs come from DequantizeLinear and their output goes to
 *    one QuantizeLinear (ONNX Runtime fuses exactly these groups into QLinear* kernels), so the
 *    importer fuses such groups into one quantized node. Data-movement and order-preserving ops
 *    (Reshape, Transpose, MaxPool, Relu, Clip, Concat) are exact in any domain and are kept as
 *    they are, on whatever tensor type reaches them.
 * Scales and zero points must be constants; they are resolved here, once.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onnx_int.h"
#include "onnx_subset.pb-c.h"
#include "qmac/fileio.h"
#include "qmac/graph.h"
#include "qmac/quant.h"

#define MAX_MODEL_BYTES ((size_t)1 << 30)

/* ONNX TensorProto.DataType numbering */
enum {
    ONNX_FLOAT = 1,
    ONNX_UINT8 = 2,
    ONNX_INT8 = 3,
    ONNX_UINT16 = 4,
    ONNX_INT16 = 5,
    ONNX_INT32 = 6,
    ONNX_INT64 = 7,
    ONNX_STRING = 8,
    ONNX_BOOL = 9,
    ONNX_FLOAT16 = 10,
    ONNX_DOUBLE = 11,
    ONNX_UINT32 = 12,
    ONNX_UINT64 = 13
};

static const char *onnx_type_name(int32_t t)
{
    static const char *names[] = {
        "undefined",      "float",      "uint8",          "int8",       "uint16",   "int16",
        "int32",          "int64",      "string",         "bool",       "float16",  "double",
        "uint32",         "uint64",     "complex64",      "complex128", "bfloat16", "float8e4m3fn",
        "float8e4m3fnuz", "float8e5m2", "float8e5m2fnuz", "uint4",      "int4",     "float4e2m1"};
    if (t >= 0 && t < (int32_t)(sizeof names / sizeof names[0]))
        return names[t];
    return "unknown";
}

static qmac_dtype dtype_from_onnx(int32_t t)
{
    switch (t) {
    case ONNX_FLOAT: return QMAC_DT_FLOAT32;
    case ONNX_UINT8: return QMAC_DT_UINT8;
    case ONNX_INT8: return QMAC_DT_INT8;
    case ONNX_UINT16: return QMAC_DT_UINT16;
    case ONNX_INT16: return QMAC_DT_INT16;
    case ONNX_INT32: return QMAC_DT_INT32;
    case ONNX_INT64: return QMAC_DT_INT64;
    case ONNX_BOOL: return QMAC_DT_BOOL;
    case ONNX_FLOAT16: return QMAC_DT_FLOAT16;
    case ONNX_DOUBLE: return QMAC_DT_FLOAT64;
    default: return QMAC_DT_INVALID;
    }
}

/* ------------------------------------------------------------------ import context */

char *xstrdup(const char *s)
{
    if (!s)
        s = "";
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

const char *str_or_empty(const char *s)
{
    return s ? s : "";
}

/* Display name of an ONNX node: its name, else "<OpType>#<index>". */
void node_label(const ctx_t *c, int32_t i, char *buf, size_t len)
{
    const QmacOnnx__Node *n = c->nodes[i].pb;
    if (n->name && n->name[0])
        snprintf(buf, len, "%s '%s'", str_or_empty(n->op_type), n->name);
    else
        snprintf(buf, len, "%s #%d", str_or_empty(n->op_type), (int)i);
}

/* Value lookup. Linear: graphs qmac targets have at most a few thousand values. */
int32_t find_value(const ctx_t *c, const char *name)
{
    for (int32_t i = 0; i < c->g->n_values; ++i)
        if (!strcmp(c->g->values[i].name, name))
            return i;
    return -1;
}

qmac_status add_value(ctx_t *c, const char *name, int32_t *id)
{
    if (c->g->n_values == c->cap_values) {
        int32_t cap = c->cap_values ? c->cap_values * 2 : 64;
        qmac_value *v = realloc(c->g->values, (size_t)cap * sizeof *v);
        if (!v)
            return qmac_set_error(QMAC_ERR_NOMEM, "out of memory (values)");
        c->g->values = v;
        c->cap_values = cap;
    }
    qmac_value *v = &c->g->values[c->g->n_values];
    memset(v, 0, sizeof *v);
    v->decl_rank = -1;
    v->name = xstrdup(name);
    if (!v->name)
        return qmac_set_error(QMAC_ERR_NOMEM, "out of memory (value name)");
    *id = c->g->n_values++;
    return QMAC_OK;
}

qmac_status new_node(ctx_t *c, qmac_node_kind op, int32_t src, const char *onnx_ops, qmac_node **out)
{
    if (c->g->n_nodes == c->cap_nodes) {
        int32_t cap = c->cap_nodes ? c->cap_nodes * 2 : 32;
        qmac_node *n = realloc(c->g->nodes, (size_t)cap * sizeof *n);
        if (!n)
            return qmac_set_error(QMAC_ERR_NOMEM, "out of memory (nodes)");
        c->g->nodes = n;
        c->cap_nodes = cap;
    }
    qmac_node *n = &c->g->nodes[c->g->n_nodes++];
    memset(n, 0, sizeof *n);
    n->op = op;
    n->flatten_axis = -1;
    n->n_axes = 0;
    char label[256];
    const QmacOnnx__Node *pb = c->nodes[src].pb;
    if (pb->name && pb->name[0])
        snprintf(label, sizeof label, "%s", pb->name);
    else
        snprintf(label, sizeof label, "%s#%d", str_or_empty(pb->op_type), (int)src);
    n->name = xstrdup(label);
    n->onnx_ops = xstrdup(onnx_ops);
    if (!n->name || !n->onnx_ops)
        return qmac_set_error(QMAC_ERR_NOMEM, "out of memory (node name)");
    *out = n;
    return QMAC_OK;
}

qmac_status node_add_in(qmac_node *n, int32_t id)
{
    if (n->n_in >= QMAC_MAX_NODE_IO)
        return qmac_set_error(QMAC_ERR_UNSUPPORTED, "node '%s' has more than %d inputs", n->name,
                              QMAC_MAX_NODE_IO);
    n->in[n->n_in++] = id;
    return QMAC_OK;
}

qmac_status node_add_out(ctx_t *c, qmac_node *n, const char *name)
{
    if (n->n_out >= QMAC_MAX_NODE_IO)
        return qmac_set_error(QMAC_ERR_UNSUPPORTED, "node '%s' has too many outputs", n->name);
    int32_t id = find_value(c, name);
    if (id >= 0 && c->g->values[id].is_const)
        return qmac_set_error(QMAC_ERR_FORMAT, "node '%s' writes '%s', which is an initializer", n->name,
                              name);
    qmac_status st = id >= 0 ? QMAC_OK : add_value(c, name, &id);
    if (st != QMAC_OK)
        return st;
    n->out[n->n_out++] = id;
    return QMAC_OK;
}

/* ------------------------------------------------------------------ tensors */

static qmac_status tensor_from_pb(const QmacOnnx__Tensor *t, const char *what, qmac_tensor *out)
{
    const char *name = t->name && t->name[0] ? t->name : what;
    if (t->has_data_location && t->data_location == 1)
        return qmac_set_error(QMAC_ERR_UNSUPPORTED, "tensor '%s' uses external data (not supported)", name);
    if (t->n_dims > QMAC_MAX_RANK)
        return qmac_set_error(QMAC_ERR_UNSUPPORTED, "tensor '%s' has rank %zu (> %d)", name, t->n_dims,
                              QMAC_MAX_RANK);
    const qmac_dtype dt = dtype_from_onnx(t->data_type);
    if (dt == QMAC_DT_INVALID)
        return qmac_set_error(QMAC_ERR_UNSUPPORTED, "tensor '%s' has element type %s (%d), not supported",
                              name, onnx_type_name(t->data_type), (int)t->data_type);
    qmac_status st = qmac_tensor_alloc(out, dt, (int32_t)t->n_dims, t->dims);
    if (st != QMAC_OK)
        return qmac_set_error(st, "tensor '%s': %s", name, qmac_last_error());
    const size_t count = qmac_tensor_count(out);
    const size_t esz = qmac_dtype_size(dt);
    if (t->has_raw_data) {
        if (t->raw_data.len != count * esz) {
            qmac_tensor_free(out);
            return qmac_set_error(QMAC_ERR_FORMAT, "tensor '%s': raw_data has %zu bytes, shape needs %zu",
                                  name, t->raw_data.len, count * esz);
        }
        if (count)
            memcpy(out->data, t->raw_data.data, count * esz); /* little-endian host assumed */
        return QMAC_OK;
    }
    size_t have = 0;
    switch (dt) {
    case QMAC_DT_FLOAT32: have = t->n_float_data; break;
    case QMAC_DT_INT64: have = t->n_int64_data; break;
    case QMAC_DT_FLOAT64: have = t->n_double_data; break;
    default: have = t->n_int32_data; break;
    }
    if (have != count) {
        qmac_tensor_free(out);
        return qmac_set_error(QMAC_ERR_FORMAT, "tensor '%s': %zu stored values, shape needs %zu", name, have,
                              count);
    }
    for (size_t i = 0; i < count; ++i) {
        switch (dt) {
        case QMAC_DT_FLOAT32: ((float *)out->data)[i] = t->float_data[i]; break;
        case QMAC_DT_INT64: ((int64_t *)out->data)[i] = t->int64_data[i]; break;
        case QMAC_DT_FLOAT64: ((double *)out->data)[i] = t->double_data[i]; break;
        case QMAC_DT_INT32: ((int32_t *)out->data)[i] = t->int32_data[i]; break;
        case QMAC_DT_INT16: ((int16_t *)out->data)[i] = (int16_t)t->int32_data[i]; break;
        case QMAC_DT_UINT16:
        case QMAC_DT_FLOAT16: ((uint16_t *)out->data)[i] = (uint16_t)t->int32_data[i]; break;
        case QMAC_DT_INT8: ((int8_t *)out->data)[i] = (int8_t)t->int32_data[i]; break;
        case QMAC_DT_UINT8:
        case QMAC_DT_BOOL: ((uint8_t *)out->data)[i] = (uint8_t)t->int32_data[i]; break;
        default: break;
        }
    }
    return QMAC_OK;
}

/* Read a real-valued constant element as double. */
double tensor_get_f(const qmac_tensor *t, size_t i)
{
    switch (t->dtype) {
    case QMAC_DT_FLOAT32: return ((const float *)t->data)[i];
    case QMAC_DT_FLOAT64: return ((const double *)t->data)[i];
    case QMAC_DT_FLOAT16: return qmac_f16_to_f32(((const uint16_t *)t->data)[i]);
    case QMAC_DT_INT64: return (double)((const int64_t *)t->data)[i];
    default: return qmac_load_int(t->dtype, t->data, i);
    }
}

/* ------------------------------------------------------------------ attributes */

const QmacOnnx__Attribute *find_attr(const QmacOnnx__Node *n, const char *name)
{
    for (size_t i = 0; i < n->n_attribute; ++i)
        if (n->attribute[i]->name && !strcmp(n->attribute[i]->name, name))
            return n->attribute[i];
    return NULL;
}

int64_t attr_int(const QmacOnnx__Node *n, const char *name, int64_t def)
{
    const QmacOnnx__Attribute *a = find_attr(n, name);
    return a && a->has_i ? a->i : def;
}

float attr_float(const QmacOnnx__Node *n, const char *name, float def)
{
    const QmacOnnx__Attribute *a = find_attr(n, name);
    return a && a->has_f ? a->f : def;
}

/* Copy an INTS attribute of exactly `want` entries (want < 0: any count up to max). Returns the
 * count, 0 when absent, -1 on a bad count. */
int attr_ints(const QmacOnnx__Node *n, const char *name, int64_t *dst, int want, int max)
{
    const QmacOnnx__Attribute *a = find_attr(n, name);
    if (!a || a->n_ints == 0)
        return 0;
    if ((want >= 0 && a->n_ints != (size_t)want) || a->n_ints > (size_t)max)
        return -1;
    for (size_t i = 0; i < a->n_ints; ++i)
        dst[i] = a->ints[i];
    return (int)a->n_ints;
}

static int attr_str_is(const QmacOnnx__Node *n, const char *name, const char *val, int *present)
{
    const QmacOnnx__Attribute *a = find_attr(n, name);
    *present = a && a->has_s;
    if (!*present)
        return 0;
    return a->s.len == strlen(val) && !memcmp(a->s.data, val, a->s.len);
}

/* ------------------------------------------------------------------ producers / consumers */

int32_t producer_of(const ctx_t *c, const char *name)
{
    for (int32_t i = 0; i < c->n_nodes; ++i) {
        const QmacOnnx__Node *n = c->nodes[i].pb;
        for (size_t k = 0; k < n->n_output; ++k)
            if (n->output[k] && !strcmp(n->output[k], name))
                return i;
    }
    return -1;
}

int is_graph_output(const ctx_t *c, const char *name)
{
    for (size_t i = 0; i < c->pg->n_output; ++i)
        if (c->pg->output[i]->name && !strcmp(c->pg->output[i]->name, name))
            return 1;
    return 0;
}

/* Number of uses of a tensor (node inputs + graph outputs); *only = the single consuming node
 * when there is exactly one node use and it is not a graph output. */
int uses_of(const ctx_t *c, const char *name, int32_t *only)
{
    int uses = is_graph_output(c, name);
    *only = -1;
    for (int32_t i = 0; i < c->n_nodes; ++i) {
        const QmacOnnx__Node *n = c->nodes[i].pb;
        for (size_t k = 0; k < n->n_input; ++k) {
            if (n->input[k] && !strcmp(n->input[k], name)) {
                ++uses;
                *only = i;
            }
        }
    }
    if (uses != 1)
        *only = -1;
    return uses;
}

int op_is(const QmacOnnx__Node *n, const char *op)
{
    return n->op_type && !strcmp(n->op_type, op);
}

const char *in_name(const QmacOnnx__Node *n, size_t k)
{
    return k < n->n_input && n->input[k] && n->input[k][0] ? n->input[k] : NULL;
}

/* ------------------------------------------------------------------ quantization parameters */

void qmac_qinfo_free(qmac_qinfo *q)
{
    free(q->scale);
    free(q->zp);
    memset(q, 0, sizeof *q);
    q->scale_id = q->zp_id = -1;
}

void qinfo_free(qmac_qinfo *q)
{
    qmac_qinfo_free(q);
}

const qmac_tensor *const_of(const ctx_t *c, const char *name)
{
    int32_t id = find_value(c, name);
    return id >= 0 && c->g->values[id].is_const ? &c->g->values[id].konst : NULL;
}

qmac_status qmac_qinfo_fill(qmac_qinfo *q, const char *label, const char *scale_name, const qmac_tensor *s,
                            const char *zp_name, const qmac_tensor *z, qmac_dtype x_dt, int32_t axis,
                            int32_t block)
{
    memset(q, 0, sizeof *q);
    q->scale_id = q->zp_id = -1;
    if (s->dtype != QMAC_DT_FLOAT32 && s->dtype != QMAC_DT_FLOAT16)
        return qmac_set_error(QMAC_ERR_UNSUPPORTED, "%s: scale '%s' has type %s (need float32/float16)",
                              label, scale_name, qmac_dtype_name(s->dtype));
    const size_t n = qmac_tensor_count(s);
    if (n == 0 || n > (1u << 24))
        return qmac_set_error(QMAC_ERR_INVALID_ARG, "%s: scale '%s' has %zu elements", label, scale_name, n);
    if (z && qmac_tensor_count(z) != n)
        return qmac_set_error(QMAC_ERR_SHAPE, "%s: zero point '%s' has %zu elements, scale '%s' has %zu",
                              label, zp_name, qmac_tensor_count(z), scale_name, n);
    qmac_dtype qdt = x_dt;
    if (z) {
        if (x_dt != QMAC_DT_INVALID && z->dtype != x_dt)
            return qmac_set_error(QMAC_ERR_INVALID_ARG, "%s: zero point '%s' is %s but the tensor is %s",
                                  label, zp_name, qmac_dtype_name(z->dtype), qmac_dtype_name(x_dt));
        qdt = z->dtype;
    }
    if (qdt != QMAC_DT_INVALID && qdt != QMAC_DT_INT8 && qdt != QMAC_DT_UINT8 && qdt != QMAC_DT_INT32)
        return qmac_set_error(QMAC_ERR_UNSUPPORTED,
                              "%s: quantized type %s is not supported (int8, uint8 only)", label,
                              qmac_dtype_name(qdt));
    if (block < 0)
        return qmac_set_error(QMAC_ERR_INVALID_ARG, "%s: block_size %d < 0", label, (int)block);
    if (block == 0 && n > 1 && s->rank != 1)
        return qmac_set_error(QMAC_ERR_SHAPE, "%s: per-axis scale '%s' must be 1-D", label, scale_name);
    for (size_t i = 0; i < n; ++i) {
        const double v = s->dtype == QMAC_DT_FLOAT16 ? (double)qmac_f16_to_f32(((const uint16_t *)s->data)[i])
                                                     : (double)((const float *)s->data)[i];
        if (!(isfinite(v) && v > 0.0))
            return qmac_set_error(QMAC_ERR_INVALID_ARG, "%s: scale '%s'[%zu] = %g must be finite and > 0",
                                  label, scale_name, i, v);
        if (z && qdt == QMAC_DT_INT32 && qmac_load_int(z->dtype, z->data, i) != 0)
            return qmac_set_error(QMAC_ERR_INVALID_ARG, "%s: int32 zero point '%s'[%zu] = %d must be 0",
                                  label, zp_name, i, (int)qmac_load_int(z->dtype, z->data, i));
    }
    q->scale = malloc(n * sizeof *q->scale);
    q->zp = calloc(n, sizeof *q->zp);
    if (!q->scale || !q->zp) {
        qmac_qinfo_free(q);
        return qmac_set_error(QMAC_ERR_NOMEM, "out of memory (qparams)");
    }
    for (size_t i = 0; i < n; ++i) {
        q->scale[i] = s->dtype == QMAC_DT_FLOAT16 ? qmac_f16_to_f32(((const uint16_t *)s->data)[i])
                                                  : ((const float *)s->data)[i];
        if (z)
            q->zp[i] = qmac_load_int(z->dtype, z->data, i);
    }
    q->dtype = qdt;
    q->sdtype = s->dtype;
    q->n = (int32_t)n;
    q->axis = axis;
    q->block = block;
    q->srank = s->rank;
    for (int32_t k = 0; k < s->rank; ++k)
        q->sshape[k] = s->shape[k];
    return QMAC_OK;
}

/* The constant a quantization parameter holds: an initializer or a Constant's output, also through
 * Identity nodes (torch.onnx.export gives several QuantizeLinear nodes one shared zero-point
 * initializer through Identity nodes). NULL: the value is computed at run time. */
static const qmac_tensor *const_param(const ctx_t *c, const char *name)
{
    for (int hops = 0; name && hops < 16; ++hops) { /* a chain of Identity nodes, bounded */
        const qmac_tensor *t = const_of(c, name);
        if (t)
            return t;
        const int32_t p = producer_of(c, name);
        if (p < 0)
            return NULL;
        const QmacOnnx__Node *pb = c->nodes[p].pb;
        const char *dom = str_or_empty(pb->domain);
        if (!op_is(pb, "Identity") || (dom[0] && strcmp(dom, "ai.onnx")))
            return NULL;
        name = in_name(pb, 0);
    }
    return NULL;
}

/* Resolve (scale, zero point) inputs of a node into q. x_dt is the integer type of the quantized
 * tensor (QMAC_DT_INVALID: take it from the zero point, default uint8 as ONNX says). axis and
 * block come from the node's attributes. Non-constant parameters become run-time ones. */
static qmac_status resolve_qparams(ctx_t *c, int32_t src, const char *scale_name, const char *zp_name,
                                   qmac_dtype x_dt, int64_t axis, int64_t block, qmac_qinfo *q)
{
    char label[256];
    node_label(c, src, label, sizeof label);
    memset(q, 0, sizeof *q);
    q->scale_id = q->zp_id = -1;
    if (!scale_name)
        return qmac_set_error(QMAC_ERR_FORMAT, "%s: missing scale input", label);
    if (axis < INT32_MIN || axis > INT32_MAX || block < 0 || block > INT32_MAX)
        return qmac_set_error(QMAC_ERR_INVALID_ARG, "%s: axis/block_size out of range", label);
    const qmac_tensor *s = const_param(c, scale_name);
    const qmac_tensor *z = zp_name ? const_param(c, zp_name) : NULL;
    if (s && (!zp_name || z))
        return qmac_qinfo_fill(q, label, scale_name, s, zp_name, z, x_dt, (int32_t)axis, (int32_t)block);
    /* run-time parameters: checked by the executor when their values are known */
    q->scale_id = find_value(c, scale_name);
    q->zp_id = zp_name ? find_value(c, zp_name) : -1;
    if (q->scale_id < 0 || (zp_name && q->zp_id < 0))
        return qmac_set_error(QMAC_ERR_FORMAT,
                              "%s: scale/zero point input is not produced by any earlier node", label);
    q->dynamic = 1;
    q->axis = (int32_t)axis;
    q->block = (int32_t)block;
    q->dtype = x_dt;
    if (q->dtype == QMAC_DT_INVALID && q->zp_id >= 0)
        q->dtype = c->g->values[q->zp_id].decl_dtype;
    return QMAC_OK;
}

static int qparams_per_tensor(const qmac_qinfo *q)
{
    return q->dynamic || (q->n == 1 && q->block == 0);
}

/* ------------------------------------------------------------------ lowering helpers */

/* Input value id for an ONNX tensor name (must exist: produced earlier, an initializer or a
 * graph input). */
qmac_status input_id(ctx_t *c, int32_t src, const char *name, int32_t *id)
{
    *id = find_value(c, name);
    if (*id < 0) {
        char label[256];
        node_label(c, src, label, sizeof label);
        return qmac_set_error(QMAC_ERR_FORMAT, "%s: input '%s' is not produced by any earlier node", label,
                              name);
    }
    return QMAC_OK;
}

/* A DequantizeLinear feeding a fusable op: the quantized tensor name and its parameters. */
typedef struct {
    int32_t node;  /* DQ node index, -1 if the input is not a DQ output */
    const char *x; /* the DQ's integer input */
    qmac_qinfo q;
} dq_info;

static qmac_status dq_of(ctx_t *c, const char *name, dq_info *d)
{
    memset(d, 0, sizeof *d);
    d->node = -1;
    if (!name)
        return QMAC_OK;
    int32_t p = producer_of(c, name);
    if (p < 0 || !op_is(c->nodes[p].pb, "DequantizeLinear"))
        return QMAC_OK;
    const QmacOnnx__Node *n = c->nodes[p].pb;
    const char *x = in_name(n, 0);
    if (!x)
        return QMAC_OK;
    qmac_dtype x_dt = QMAC_DT_INVALID;
    const qmac_tensor *xc = const_of(c, x);
    if (xc)
        x_dt = xc->dtype;
    qmac_status st = resolve_qparams(c, p, in_name(n, 1), in_name(n, 2), x_dt, attr_int(n, "axis", 1),
                                     attr_int(n, "block_size", 0), &d->q);
    if (st != QMAC_OK)
        return st;
    d->node = p;
    d->x = x;
    return QMAC_OK;
}

/* Follow a compute node's output to the QuantizeLinear that ends its QDQ group, through at most
 * one Relu/Clip. Returns the Q node index or -1; *act = the Relu/Clip node index or -1. */
static int32_t q_after(const ctx_t *c, const QmacOnnx__Node *n, int32_t *act)
{
    *act = -1;
    if (n->n_output != 1)
        return -1;
    int32_t only;
    if (uses_of(c, n->output[0], &only) != 1 || only < 0)
        return -1;
    const QmacOnnx__Node *m = c->nodes[only].pb;
    if ((op_is(m, "Relu") || op_is(m, "Clip")) && m->n_output == 1) {
        int32_t only2;
        if (uses_of(c, m->output[0], &only2) != 1 || only2 < 0)
            return -1;
        *act = only;
        m = c->nodes[only2].pb;
        only = only2;
    }
    if (!op_is(m, "QuantizeLinear"))
        return -1;
    return only;
}

/* Clamp of a folded Relu/Clip, in the quantized domain of qy: real bounds lo/hi map to
 * zp + round_half_even(bound / scale), intersected with the type range. */
static qmac_status fold_activation(ctx_t *c, int32_t act, const qmac_qinfo *qy, qmac_node *n)
{
    if (act < 0)
        return QMAC_OK; /* no folded activation: the output type's range */
    if (qy->dynamic || qy->n != 1)
        return qmac_set_error(QMAC_ERR_UNSUPPORTED,
                              "node '%s': a folded activation needs a constant per-tensor "
                              "output scale",
                              n->name);
    int32_t qmin, qmax;
    qmac_dtype_range(qy->dtype, &qmin, &qmax);
    n->has_act = 1;
    n->act_min = qmin;
    n->act_max = qmax;
    const QmacOnnx__Node *a = c->nodes[act].pb;
    double lo = -INFINITY, hi = INFINITY;
    if (op_is(a, "Relu")) {
        lo = 0.0;
    } else {
        const char *mn = in_name(a, 1), *mx = in_name(a, 2);
        if (find_attr(a, "min") || find_attr(a, "max")) {
            lo = attr_float(a, "min", -INFINITY);
            hi = attr_float(a, "max", INFINITY);
        }
        if (mn) {
            const qmac_tensor *t = const_of(c, mn);
            if (!t || qmac_tensor_count(t) != 1)
                return qmac_set_error(QMAC_ERR_UNSUPPORTED, "Clip '%s': min must be a constant scalar",
                                      str_or_empty(a->name));
            lo = tensor_get_f(t, 0);
        }
        if (mx) {
            const qmac_tensor *t = const_of(c, mx);
            if (!t || qmac_tensor_count(t) != 1)
                return qmac_set_error(QMAC_ERR_UNSUPPORTED, "Clip '%s': max must be a constant scalar",
                                      str_or_empty(a->name));
            hi = tensor_get_f(t, 0);
        }
    }
    const double s = qy->scale[0];
    const double z = qy->zp[0];
    if (isfinite(lo)) {
        double q = z + nearbyint(lo / s);
        if (q > n->act_min)
            n->act_min = q > qmax ? qmax : (int32_t)q;
    }
    if (isfinite(hi)) {
        double q = z + nearbyint(hi / s);
        if (q < n->act_max)
            n->act_max = q < qmin ? qmin : (int32_t)q;
    }
    return QMAC_OK;
}

/* Move src into dst, leaving src empty. */
static void take_qparams(qmac_qinfo *dst, qmac_qinfo *src)
{
    *dst = *src;
    memset(src, 0, sizeof *src);
    src->scale_id = src->zp_id = -1;
}

/* ------------------------------------------------------------------ spatial attributes */

qmac_status read_spatial(ctx_t *c, int32_t src, qmac_node *n, int is_pool)
{
    const QmacOnnx__Node *pb = c->nodes[src].pb;
    char label[256];
    node_label(c, src, label, sizeof label);
    int64_t v[8];
    int k = 0;
    n->spatial = 2;
    n->kernel[0] = n->kernel[1] = 0;
    if ((k = attr_ints(pb, "kernel_shape", v, -1, 3)) > 0) {
        if (k > 2)
            return qmac_set_error(QMAC_ERR_UNSUPPORTED, "%s: %d-D kernels are not supported (1-D, 2-D only)",
                                  label, k);
        n->spatial = k;
        n->kernel[0] = k == 2 ? (int32_t)v[0] : 1;
        n->kernel[1] = (int32_t)v[k - 1];
    } else if (k < 0) {
        return qmac_set_error(QMAC_ERR_UNSUPPORTED, "%s: bad kernel_shape", label);
    } else if (is_pool) {
        return qmac_set_error(QMAC_ERR_FORMAT, "%s: kernel_shape is required", label);
    }
    n->strides[0] = n->strides[1] = 1;
    n->dilations[0] = n->dilations[1] = 1;
    n->pads[0] = n->pads[1] = n->pads[2] = n->pads[3] = 0;
    if ((k = attr_ints(pb, "strides", v, -1, 2)) > 0) {
        n->strides[0] = k == 2 ? (int32_t)v[0] : 1;
        n->strides[1] = (int32_t)v[k - 1];
    } else if (k < 0) {
        return qmac_set_error(QMAC_ERR_UNSUPPORTED, "%s: bad strides", label);
    }
    if ((k = attr_ints(pb, "dilations", v, -1, 2)) > 0) {
        n->dilations[0] = k == 2 ? (int32_t)v[0] : 1;
        n->dilations[1] = (int32_t)v[k - 1];
    } else if (k < 0) {
        return qmac_set_error(QMAC_ERR_UNSUPPORTED, "%s: bad dilations", label);
    }
    if ((k = attr_ints(pb, "pads", v, -1, 4)) > 0) {
        if (k == 4) { /* [top, left, bottom, right] */
            n->pads[0] = (int32_t)v[0];
            n->pads[1] = (int32_t)v[1];
            n->pads[2] = (int32_t)v[2];
            n->pads[3] = (int32_t)v[3];
        } else if (k == 2) { /* 1-D: [begin, end] */
            n->pads[1] = (int32_t)v[0];
            n->pads[3] = (int32_t)v[1];
        } else {
            return qmac_set_error(QMAC_ERR_UNSUPPORTED, "%s: pads has %d entries", label, k);
        }
    } else if (k < 0) {
        return qmac_set_error(QMAC_ERR_UNSUPPORTED, "%s: bad pads", label);
    }
    for (int i = 0; i < 2; ++i) {
        if (n->strides[i] < 1 || n->dilations[i] < 1 || n->strides[i] > 4096 || n->dilations[i] > 4096)
            return qmac_set_error(QMAC_ERR_INVALID_ARG, "%s: strides/dilations must be in [1, 4096]", label);
        if (n->kernel[i] < 0 || n->kernel[i] > 4096)
            return qmac_set_error(QMAC_ERR_INVALID_ARG, "%s: kernel size %d out of range", label,
                                  (int)n->kernel[i]);
    }
    for (int i = 0; i < 4; ++i)
        if (n->pads[i] < 0 || n->pads[i] > 4096)
            return qmac_set_error(QMAC_ERR_INVALID_ARG, "%s: pads must be in [0, 4096]", label);
    int present;
    n->auto_pad = QMAC_PAD_EXPLICIT;
    if (attr_str_is(pb, "auto_pad", "SAME_UPPER", &present))
        n->auto_pad = QMAC_PAD_SAME_UPPER;
    else if (attr_str_is(pb, "auto_pad", "SAME_LOWER", &present))
        n->auto_pad = QMAC_PAD_SAME_LOWER;
    else if (attr_str_is(pb, "auto_pad", "VALID", &present))
        n->auto_pad = QMAC_PAD_VALID;
    else if (present && !attr_str_is(pb, "auto_pad", "NOTSET", &present))
        return qmac_set_error(QMAC_ERR_UNSUPPORTED, "%s: unknown auto_pad value", label);
    n->group = (int32_t)attr_int(pb, "group", 1);
    if (n->group < 1)
        return qmac_set_error(QMAC_ERR_INVALID_ARG, "%s: group %d < 1", label, (int)n->group);
    n->ceil_mode = (int)attr_int(pb, "ceil_mode", 0);
    n->count_include_pad = (int)attr_int(pb, "count_include_pad", 0);
    if (attr_int(pb, "storage_order", 0) != 0)
        return qmac_set_error(QMAC_ERR_UNSUPPORTED, "%s: storage_order=1 is not supported", label);
    if (attr_int(pb, "channels_last", 0) != 0)
        return qmac_set_error(QMAC_ERR_UNSUPPORTED, "%s: channels_last=1 is not supported", label);
    return QMAC_OK;
}

/* ------------------------------------------------------------------ per-op lowering */

qmac_status add_output(ctx_t *c, qmac_node *n, const QmacOnnx__Node *pb, size_t k)
{
    if (k >= pb->n_output || !pb->output[k] || !pb->output[k][0])
        return qmac_set_error(QMAC_ERR_FORMAT, "node '%s' has no output %zu", n->name, k);
    return node_add_out(c, n, pb->output[k]);
}

/* A QuantizeLinear of a float32 constant with constant per-tensor or per-axis parameters
 * (torch.onnx.export writes weights so) folds into the constant of its codes, as ONNX Runtime's
 * constant folding does: round half to even, saturate. Returns 1 when folded. */
static int fold_quantize(ctx_t *c, int32_t i, const qmac_tensor *x, const qmac_qinfo *q, qmac_status *st)
{
    const QmacOnnx__Node *pb = c->nodes[i].pb;
    *st = QMAC_OK;
    if (x->dtype != QMAC_DT_FLOAT32 || q->dynamic || q->block || !q->n || !pb->n_output || !pb->output[0] ||
        (q->dtype != QMAC_DT_INT8 && q->dtype != QMAC_DT_UINT8))
        return 0;
    size_t outer = 1, len = 1, inner = qmac_tensor_count(x);
    const int32_t axis = q->axis < 0 ? q->axis + x->rank : q->axis;
    if (q->n > 1 && ((*st = qmac_axis_split(x->shape, x->rank, axis, &outer, &len, &inner)) != QMAC_OK ||
                     len != (size_t)q->n)) {
        *st = *st ? *st
                  : qmac_set_error(QMAC_ERR_SHAPE, "QuantizeLinear '%s': %d scales for axis %d of length %zu",
                                   str_or_empty(pb->name), (int)q->n, (int)axis, len);
        return 1;
    }
    int32_t id;
    if ((*st = add_value(c, pb->output[0], &id)) != QMAC_OK)
        return 1;
    qmac_value *v = &c->g->values[id];
    if ((*st = qmac_tensor_alloc(&v->konst, q->dtype, x->rank, x->shape)) != QMAC_OK)
        return 1;
    *st = q->dtype == QMAC_DT_INT8 ? qmac_quantize_axis_s8(x->data, outer, len, inner, q->scale, q->zp,
                                                           QMAC_ROUND_HALF_EVEN, v->konst.data)
                                   : qmac_quantize_axis_u8(x->data, outer, len, inner, q->scale, q->zp,
                                                           QMAC_ROUND_HALF_EVEN, v->konst.data);
    v->is_const = *st == QMAC_OK;
    c->nodes[i].consumed = 1;
    return 1;
}

/* QuantizeLinear / DequantizeLinear as stand-alone nodes. */
static qmac_status lower_qdq(ctx_t *c, int32_t i)
{
    const QmacOnnx__Node *pb = c->nodes[i].pb;
    const int is_q = op_is(pb, "QuantizeLinear");
    qmac_node *n;
    qmac_status st;
    const char *x = in_name(pb, 0);
    if (!x)
        return qmac_set_error(QMAC_ERR_FORMAT, "%s #%d: missing input", str_or_empty(pb->op_type), (int)i);
    qmac_dtype x_dt = QMAC_DT_INVALID;
    if (!is_q) {
        const qmac_tensor *xc = const_of(c, x);
        if (xc)
            x_dt = xc->dtype;
    } else if (!in_name(pb, 2)) {
        /* no zero point: uint8, unless opset 21's output_dtype picks the type */
        x_dt = QMAC_DT_UINT8;
        int64_t od = attr_int(pb, "output_dtype", 0);
        if (od) {
            x_dt = dtype_from_onnx((int32_t)od);
            if (x_dt != QMAC_DT_INT8 && x_dt != QMAC_DT_UINT8)
                return qmac_set_error(QMAC_ERR_UNSUPPORTED,
                                      "QuantizeLinear #%d: output_dtype %s not supported", (int)i,
                                      onnx_type_name((int32_t)od));
        }
    }
    const qmac_tensor *xc = is_q ? const_of(c, x) : NULL;
    if (xc) { /* a constant: its codes, when everything about it is constant */
        qmac_qinfo fq;
        memset(&fq, 0, sizeof fq);
        st = resolve_qparams(c, i, in_name(pb, 1), in_name(pb, 2), x_dt, attr_int(pb, "axis", 1),
                             attr_int(pb, "block_size", 0), &fq);
        const int folded = st == QMAC_OK && fold_quantize(c, i, xc, &fq, &st);
        qinfo_free(&fq);
        if (st != QMAC_OK || folded)
            return st;
    }
    st = new_node(c, is_q ? QMAC_NODE_QUANTIZE : QMAC_NODE_DEQUANTIZE, i, pb->op_type, &n);
    if (st != QMAC_OK)
        return st;
    int32_t id;
    if ((st = input_id(c, i, x, &id)) != QMAC_OK || (st = node_add_in(n, id)) != QMAC_OK)
        return st;
    qmac_qinfo *q = is_q ? &n->qy : &n->qx;
    st = resolve_qparams(c, i, in_name(pb, 1), in_name(pb, 2), x_dt, attr_int(pb, "axis", 1),
                         attr_int(pb, "block_size", 0), q);
    if (st != QMAC_OK)
        return st;
    if (q->block < 0)
        return qmac_set_error(QMAC_ERR_INVALID_ARG, "node '%s': block_size %d < 0", n->name, (int)q->block);
    if (is_q && q->dtype == QMAC_DT_INT32)
        return qmac_set_error(QMAC_ERR_UNSUPPORTED, "QuantizeLinear '%s' to int32 is not supported", n->name);
    return add_output(c, n, pb, 0);
}

/* Operand that may be either a DQ output (fused) or a raw quantized tensor (QOperator). */
qmac_status set_in(ctx_t *c, int32_t src, qmac_node *n, const char *name)
{
    int32_t id;
    qmac_status st = input_id(c, src, name, &id);
    return st != QMAC_OK ? st : node_add_in(n, id);
}

/* Check that a weight/bias constant has the quantized type it claims. */
static qmac_status check_const_int(ctx_t *c, const char *name, qmac_dtype want, const char *what,
                                   const char *node)
{
    const qmac_tensor *t = const_of(c, name);
    if (!t)
        return qmac_set_error(QMAC_ERR_UNSUPPORTED, "node '%s': %s '%s' must be a constant initializer", node,
                              what, name);
    if (want != QMAC_DT_INVALID && t->dtype != want)
        return qmac_set_error(QMAC_ERR_INVALID_ARG, "node '%s': %s '%s' is %s, expected %s", node, what, name,
                              qmac_dtype_name(t->dtype), qmac_dtype_name(want));
    return QMAC_OK;
}

/* The (scale, zero point) input pairs of a QLinear-style node for x, w and y, given the input
 * index of each scale (its zero point follows it). w_dt: the weight's type when known; w_axis:
 * the axis of per-channel weight scales. x and y must be per tensor. */
static qmac_status resolve_xwy(ctx_t *c, int32_t i, qmac_node *n, int xs, int ws, int ys, qmac_dtype w_dt,
                               int32_t w_axis)
{
    const QmacOnnx__Node *pb = c->nodes[i].pb;
    qmac_status st;
    if ((st = resolve_qparams(c, i, in_name(pb, (size_t)xs), in_name(pb, (size_t)xs + 1), QMAC_DT_INVALID, 0,
                              0, &n->qx)) ||
        (st = resolve_qparams(c, i, in_name(pb, (size_t)ws), in_name(pb, (size_t)ws + 1), w_dt, w_axis, 0,
                              &n->qw)) ||
        (st = resolve_qparams(c, i, in_name(pb, (size_t)ys), in_name(pb, (size_t)ys + 1), QMAC_DT_INVALID, 0,
                              0, &n->qy)))
        return st;
    if (!qparams_per_tensor(&n->qx) || !qparams_per_tensor(&n->qy))
        return qmac_set_error(QMAC_ERR_UNSUPPORTED, "%s '%s': input and output must be quantized per tensor",
                              pb->op_type, n->name);
    return QMAC_OK;
}

/* QLinearConv: x, xs, xz, w, ws, wz, ys, yz, [B] */
static qmac_status lower_qlinearconv(ctx_t *c, int32_t i)
{
    const QmacOnnx__Node *pb = c->nodes[i].pb;
    qmac_node *n;
    qmac_status st = new_node(c, QMAC_NODE_CONV, i, "QLinearConv", &n);
    if (st != QMAC_OK)
        return st;
    if (pb->n_input < 8)
        return qmac_set_error(QMAC_ERR_FORMAT, "QLinearConv '%s' needs 8 or 9 inputs, has %zu", n->name,
                              pb->n_input);
    if ((st = read_spatial(c, i, n, 0)) != QMAC_OK)
        return st;
    if ((st = set_in(c, i, n, in_name(pb, 0))) || (st = set_in(c, i, n, in_name(pb, 3))))
        return st;
    if (in_name(pb, 8)) {
        if ((st = check_const_int(c, in_name(pb, 8), QMAC_DT_INT32, "bias", n->name)) ||
            (st = set_in(c, i, n, in_name(pb, 8))))
            return st;
    }
    const qmac_tensor *wc = const_of(c, in_name(pb, 3));
    const qmac_dtype w_dt = wc ? wc->dtype : QMAC_DT_INVALID; /* checked against its zero point now */
    if ((st = resolve_xwy(c, i, n, 1, 4, 6, w_dt, 0)))
        return st;
    return add_output(c, n, pb, 0);
}

/* ConvInteger / MatMulInteger: x, w, [x_zp], [w_zp] -> int32 accumulators (no requantization;
 * the zero points become unit-scale quantization info, see integer_zps). */
static qmac_status lower_integer_op(ctx_t *c, int32_t i, qmac_node_kind op)
{
    const QmacOnnx__Node *pb = c->nodes[i].pb;
    qmac_node *n;
    qmac_status st = new_node(c, op, i, pb->op_type, &n);
    if (st != QMAC_OK)
        return st;
    n->out_int32 = 1;
    if (pb->n_input < 2)
        return qmac_set_error(QMAC_ERR_FORMAT, "%s '%s' needs at least 2 inputs", pb->op_type, n->name);
    if ((op == QMAC_NODE_CONV && (st = read_spatial(c, i, n, 0))) || (st = set_in(c, i, n, in_name(pb, 0))) ||
        (st = set_in(c, i, n, in_name(pb, 1))))
        return st;
    return add_output(c, n, pb, 0);
}

/* QLinearMatMul: a, as, az, b, bs, bz, ys, yz */
static qmac_status lower_qlinearmatmul(ctx_t *c, int32_t i)
{
    const QmacOnnx__Node *pb = c->nodes[i].pb;
    qmac_node *n;
    qmac_status st = new_node(c, QMAC_NODE_MATMUL, i, "QLinearMatMul", &n);
    if (st != QMAC_OK)
        return st;
    if (pb->n_input != 8)
        return qmac_set_error(QMAC_ERR_FORMAT, "QLinearMatMul '%s' needs 8 inputs, has %zu", n->name,
                              pb->n_input);
    if ((st = set_in(c, i, n, in_name(pb, 0))) || (st = set_in(c, i, n, in_name(pb, 3))))
        return st;
    if ((st = resolve_xwy(c, i, n, 1, 4, 6, QMAC_DT_INVALID, -1)))
        return st;
    return add_output(c, n, pb, 0);
}

/* Integer-op zero points (ConvInteger / MatMulInteger) as quantization info with unit scale.
 * Constant zero points are resolved now; run-time ones (scale_id -1, zp_id set) by the executor. */
static qmac_status integer_zp(ctx_t *c, const char *label, const char *zname, int32_t axis, qmac_qinfo *q)
{
    memset(q, 0, sizeof *q);
    q->scale_id = q->zp_id = -1;
    q->axis = axis;
    q->sdtype = QMAC_DT_FLOAT32;
    const qmac_tensor *z = zname ? const_of(c, zname) : NULL;
    if (zname && !z) {
        q->dynamic = 1;
        q->zp_id = find_value(c, zname);
        if (q->zp_id < 0)
            return qmac_set_error(QMAC_ERR_FORMAT, "%s: zero point '%s' is not produced by any earlier node",
                                  label, zname);
        q->dtype = c->g->values[q->zp_id].decl_dtype;
        return QMAC_OK;
    }
    const size_t cnt = z ? qmac_tensor_count(z) : 1;
    if (cnt == 0)
        return qmac_set_error(QMAC_ERR_SHAPE, "%s: empty zero point '%s'", label, zname);
    q->n = (int32_t)cnt;
    q->srank = z ? z->rank : 0;
    q->dtype = z ? z->dtype : QMAC_DT_INVALID;
    q->scale = malloc(cnt * sizeof *q->scale);
    q->zp = calloc(cnt, sizeof *q->zp);
    if (!q->scale || !q->zp)
        return qmac_set_error(QMAC_ERR_NOMEM, "out of memory");
    for (size_t j = 0; j < cnt; ++j) {
        q->scale[j] = 1.0f;
        if (z)
            q->zp[j] = qmac_load_int(z->dtype, z->data, j);
    }
    return QMAC_OK;
}

static qmac_status integer_zps(ctx_t *c, int32_t i, qmac_node *n)
{
    const QmacOnnx__Node *pb = c->nodes[i].pb;
    char label[256];
    node_label(c, i, label, sizeof label);
    qmac_status st = integer_zp(c, label, in_name(pb, 2), 0, &n->qx);
    if (st == QMAC_OK)
        st = integer_zp(c, label, in_name(pb, 3), n->op == QMAC_NODE_CONV ? 0 : -1, &n->qw);
    return st;
}

/* QGemm (com.microsoft): A, As, Az, B, Bs, Bz, [C], Ys, Yz; y = requant(alpha * A * B' + C) */
static qmac_status lower_qgemm(ctx_t *c, int32_t i)
{
    const QmacOnnx__Node *pb = c->nodes[i].pb;
    qmac_node *n;
    qmac_status st = new_node(c, QMAC_NODE_MATMUL, i, "QGemm", &n);
    if (st != QMAC_OK)
        return st;
    if (pb->n_input < 9 || !in_name(pb, 7))
        return qmac_set_error(QMAC_ERR_UNSUPPORTED,
                              "QGemm '%s': only the quantized-output form (with y_scale, "
                              "y_zero_point) is supported",
                              n->name);
    if (attr_float(pb, "alpha", 1.0f) != 1.0f || attr_int(pb, "transA", 0) != 0)
        return qmac_set_error(QMAC_ERR_UNSUPPORTED, "QGemm '%s': only alpha=1, transA=0 are supported",
                              n->name);
    n->trans_b = (int)attr_int(pb, "transB", 0);
    if ((st = set_in(c, i, n, in_name(pb, 0))) || (st = set_in(c, i, n, in_name(pb, 3))))
        return st;
    if (in_name(pb, 6) && (st = set_in(c, i, n, in_name(pb, 6))))
        return st;
    if ((st = resolve_xwy(c, i, n, 1, 4, 7, QMAC_DT_INVALID, -1)))
        return st;
    return add_output(c, n, pb, 0);
}

/* QLinearAdd (com.microsoft): A, As, Az, B, Bs, Bz, Cs, Cz */
static qmac_status lower_qlinearadd(ctx_t *c, int32_t i)
{
    const QmacOnnx__Node *pb = c->nodes[i].pb;
    qmac_node *n;
    qmac_status st = new_node(c, QMAC_NODE_ADD, i, "QLinearAdd", &n);
    if (st != QMAC_OK)
        return st;
    if (pb->n_input < 7)
        return qmac_set_error(QMAC_ERR_FORMAT, "QLinearAdd '%s' needs 8 inputs, has %zu", n->name,
                              pb->n_input);
    if ((st = set_in(c, i, n, in_name(pb, 0))) || (st = set_in(c, i, n, in_name(pb, 3))))
        return st;
    if ((st = resolve_xwy(c, i, n, 1, 4, 6, QMAC_DT_INVALID, 0)))
        return st;
    if (!qparams_per_tensor(&n->qw))
        return qmac_set_error(QMAC_ERR_UNSUPPORTED, "QLinearAdd '%s': only per-tensor quantization", n->name);
    return add_output(c, n, pb, 0);
}

/* QLinearAveragePool / QLinearGlobalAveragePool (com.microsoft): X, Xs, Xz, Ys, Yz */
static qmac_status lower_qlinearpool(ctx_t *c, int32_t i, int global)
{
    const QmacOnnx__Node *pb = c->nodes[i].pb;
    qmac_node *n;
    qmac_status st = new_node(c, global ? QMAC_NODE_GLOBAL_AVGPOOL : QMAC_NODE_AVGPOOL, i, pb->op_type, &n);
    if (st != QMAC_OK)
        return st;
    if (pb->n_input < 4)
        return qmac_set_error(QMAC_ERR_FORMAT, "%s '%s' needs 5 inputs, has %zu", pb->op_type, n->name,
                              pb->n_input);
    if (!global && (st = read_spatial(c, i, n, 1)))
        return st;
    if (global && attr_int(pb, "channels_last", 0) != 0)
        return qmac_set_error(QMAC_ERR_UNSUPPORTED, "%s: channels_last=1 is not supported", n->name);
    if ((st = set_in(c, i, n, in_name(pb, 0))))
        return st;
    if ((st = resolve_qparams(c, i, in_name(pb, 1), in_name(pb, 2), QMAC_DT_INVALID, 0, 0, &n->qx)) ||
        (st = resolve_qparams(c, i, in_name(pb, 3), in_name(pb, 4), QMAC_DT_INVALID, 0, 0, &n->qy)))
        return st;
    if (!qparams_per_tensor(&n->qx) || !qparams_per_tensor(&n->qy))
        return qmac_set_error(QMAC_ERR_UNSUPPORTED, "%s: only per-tensor quantization", n->name);
    if (!n->qx.dynamic && !n->qy.dynamic && n->qx.dtype != n->qy.dtype)
        return qmac_set_error(QMAC_ERR_INVALID_ARG, "%s: input is %s, output %s", n->name,
                              qmac_dtype_name(n->qx.dtype), qmac_dtype_name(n->qy.dtype));
    return add_output(c, n, pb, 0);
}

/* QLinearConcat (com.microsoft): Ys, Yz, then (X, Xs, Xz) per input; attribute axis. */
static qmac_status lower_qlinearconcat(ctx_t *c, int32_t i)
{
    const QmacOnnx__Node *pb = c->nodes[i].pb;
    qmac_node *n;
    qmac_status st = new_node(c, QMAC_NODE_CONCAT, i, "QLinearConcat", &n);
    if (st != QMAC_OK)
        return st;
    if (pb->n_input < 5 || (pb->n_input - 2) % 3 != 0)
        return qmac_set_error(QMAC_ERR_FORMAT, "QLinearConcat '%s': bad input count %zu", n->name,
                              pb->n_input);
    const size_t k = (pb->n_input - 2) / 3;
    if (k > QMAC_MAX_NODE_IO)
        return qmac_set_error(QMAC_ERR_UNSUPPORTED, "QLinearConcat '%s': too many inputs", n->name);
    n->axis = (int32_t)attr_int(pb, "axis", 0);
    if ((st = resolve_qparams(c, i, in_name(pb, 0), in_name(pb, 1), QMAC_DT_INVALID, 0, 0, &n->qy)))
        return st;
    n->qin = calloc(k, sizeof *n->qin);
    if (!n->qin)
        return qmac_set_error(QMAC_ERR_NOMEM, "out of memory");
    for (size_t j = 0; j < k; ++j) {
        if ((st = set_in(c, i, n, in_name(pb, 2 + 3 * j))))
            return st;
        if ((st = resolve_qparams(c, i, in_name(pb, 3 + 3 * j), in_name(pb, 4 + 3 * j), n->qy.dtype, 0, 0,
                                  &n->qin[j])))
            return st;
        if (n->qin[j].dynamic || n->qy.dynamic || !qparams_per_tensor(&n->qin[j]))
            return qmac_set_error(QMAC_ERR_UNSUPPORTED,
                                  "QLinearConcat '%s': constant per-tensor quantization only", n->name);
    }
    return add_output(c, n, pb, 0);
}

/* The node kind of Conv, MatMul / Gemm, Add, AveragePool, GlobalAveragePool. */
static qmac_node_kind group_kind(const QmacOnnx__Node *pb)
{
    return op_is(pb, "Conv")                          ? QMAC_NODE_CONV
           : op_is(pb, "MatMul") || op_is(pb, "Gemm") ? QMAC_NODE_MATMUL
           : op_is(pb, "Add")                         ? QMAC_NODE_ADD
           : op_is(pb, "AveragePool")                 ? QMAC_NODE_AVGPOOL
                                                      : QMAC_NODE_GLOBAL_AVGPOOL;
}

/* Gemm's attributes: alpha = beta = 1 and transA = 0 only; transB kept. */
static qmac_status gemm_attrs(const QmacOnnx__Node *pb, const char *label, qmac_node *n)
{
    if (attr_float(pb, "alpha", 1.0f) != 1.0f || attr_float(pb, "beta", 1.0f) != 1.0f ||
        attr_int(pb, "transA", 0) != 0)
        return qmac_set_error(QMAC_ERR_UNSUPPORTED, "%s: only alpha=1, beta=1, transA=0 are supported",
                              label);
    n->trans_b = (int)attr_int(pb, "transB", 0);
    return QMAC_OK;
}

/* A float op (no DequantizeLinear in front): computed in float32 by the reference executor, as
 * the float model does (calibration, `qmac eval` of a float model, host steps). */
qmac_status lower_float_op(ctx_t *c, int32_t i)
{
    const QmacOnnx__Node *pb = c->nodes[i].pb;
    char label[256];
    node_label(c, i, label, sizeof label);
    const int is_conv = op_is(pb, "Conv"), is_mm = op_is(pb, "MatMul"), is_gemm = op_is(pb, "Gemm");
    const int is_add = op_is(pb, "Add"), is_ap = op_is(pb, "AveragePool");
    const size_t n_in = is_conv || is_gemm ? (pb->n_input > 3 ? 3 : pb->n_input) : is_add || is_mm ? 2 : 1;
    if (pb->n_input < n_in || (n_in >= 2 && !in_name(pb, 1)))
        return qmac_set_error(QMAC_ERR_FORMAT, "%s: missing input", label);
    for (size_t k = 0; k < n_in; ++k)
        if (in_name(pb, k) && qonnx_q(c, find_value(c, in_name(pb, k))))
            return qmac_set_error(QMAC_ERR_UNSUPPORTED,
                                  "%s reads the QONNX-quantized '%s' but is not a Conv/MatMul/Gemm layer "
                                  "over QONNX-quantized weights: not supported",
                                  label, in_name(pb, k));
    qmac_node *n;
    qmac_status st = new_node(c, group_kind(pb), i, pb->op_type, &n);
    if (st != QMAC_OK)
        return st;
    n->fp = 1;
    if ((is_conv || is_ap) && (st = read_spatial(c, i, n, is_ap)))
        return st;
    if (is_gemm && (st = gemm_attrs(pb, label, n)))
        return st;
    for (size_t k = 0; k < n_in; ++k)
        if (in_name(pb, k) && (st = set_in(c, i, n, in_name(pb, k))))
            return st;
    return add_output(c, n, pb, 0);
}

/* A float bias of a layer whose input and weights are dequantized becomes int32 codes with scale
 * s_x * s_w[c] (float32 product), sat(rne(b / scale)) in float32: what ONNX Runtime's loader
 * does (WeightBiasQuantization, then constant folding of the QuantizeLinear it inserts), as
 * torch.onnx.export's QAT models need. The codes are a new constant, the node's third input. */
static qmac_status quantize_bias(ctx_t *c, int32_t i, qmac_node *n, const qmac_tensor *b)
{
    char label[256], name[512];
    node_label(c, i, label, sizeof label);
    const size_t cnt = qmac_tensor_count(b);
    const int32_t nw = n->qw.n;
    if (b->rank != 1 || n->qx.n != 1 || (nw > 1 && (size_t)nw != cnt))
        return qmac_set_error(QMAC_ERR_UNSUPPORTED, "%s: float bias of shape [%zu] for %d weight scales",
                              label, cnt, (int)nw);
    snprintf(name, sizeof name, "%s_int32", in_name(c->nodes[i].pb, 2));
    int32_t id;
    qmac_status st = add_value(c, name, &id);
    qmac_value *v = st == QMAC_OK ? &c->g->values[id] : NULL;
    if (st == QMAC_OK)
        st = qmac_tensor_alloc(&v->konst, QMAC_DT_INT32, 1, b->shape);
    for (size_t k = 0; st == QMAC_OK && k < cnt; ++k) {
        const volatile float scale = n->qx.scale[0] * n->qw.scale[nw > 1 ? k : 0];
        const float r = rintf(((const float *)b->data)[k] / scale);
        ((int32_t *)v->konst.data)[k] = r >= 2147483648.0f   ? INT32_MAX
                                        : r < -2147483648.0f ? INT32_MIN
                                                             : (int32_t)r;
    }
    if (st == QMAC_OK) {
        v->is_const = 1;
        st = node_add_in(n, id);
    }
    return st;
}

/* DQ -> {Conv, MatMul, Gemm, Add, AveragePool, GlobalAveragePool} -> [Relu|Clip] -> Q */
static qmac_status lower_qdq_group(ctx_t *c, int32_t i)
{
    const QmacOnnx__Node *pb = c->nodes[i].pb;
    char label[256];
    node_label(c, i, label, sizeof label);
    const int is_conv = op_is(pb, "Conv"), is_mm = op_is(pb, "MatMul"), is_gemm = op_is(pb, "Gemm");
    const int is_add = op_is(pb, "Add"), is_ap = op_is(pb, "AveragePool");
    const int is_gap = op_is(pb, "GlobalAveragePool");
    const int n_act = (is_add || is_mm) ? 2 : 1; /* operands that must come through DQ */
    dq_info d[3];
    memset(d, 0, sizeof d);
    qmac_status st = QMAC_OK;
    int32_t act = -1, q = q_after(c, pb, &act);
    int n_ops = (is_conv || is_gemm) ? (int)(pb->n_input > 3 ? 3 : pb->n_input) : n_act;
    int fusable = q >= 0;
    const qmac_tensor *fbias = NULL; /* a float bias beside dequantized operands */
    for (int k = 0; k < n_ops && st == QMAC_OK; ++k) {
        st = dq_of(c, in_name(pb, (size_t)k), &d[k]);
        const qmac_tensor *t = const_of(c, in_name(pb, (size_t)k));
        if (k == 2 && d[k].node < 0 && t && t->dtype == QMAC_DT_FLOAT32)
            fbias = t;
        else if (st == QMAC_OK && in_name(pb, (size_t)k) && (d[k].node < 0 || d[k].q.block))
            fusable = 0; /* a float operand, or blocked weights (ORT too computes those in float) */
    }
    fusable &= !fbias || (d[0].node >= 0 && d[1].node >= 0);
    if (st != QMAC_OK)
        goto out;
    int any_dq = 0;
    for (int k = 0; k < n_ops; ++k)
        any_dq |= d[k].node >= 0;
    if (!any_dq) { /* no operand is dequantized: a QONNX layer, or the float model's op */
        st = qonnx_is_layer(c, i) ? qonnx_lower_layer(c, i) : lower_float_op(c, i);
        goto out;
    }
    if (!fusable) { /* a layer left float (ORT's nodes_to_exclude): float32 on dequantized operands */
        st = lower_float_op(c, i);
        goto out;
    }
    const QmacOnnx__Node *qn = c->nodes[q].pb;
    const qmac_node_kind op = group_kind(pb);
    char ops[96];
    snprintf(ops, sizeof ops, "DQ->%s%s%s->Q", pb->op_type, act >= 0 ? "->" : "",
             act >= 0 ? c->nodes[act].pb->op_type : "");
    qmac_node *n;
    if ((st = new_node(c, op, i, ops, &n)))
        goto out;
    if (is_conv || is_ap) {
        if ((st = read_spatial(c, i, n, is_ap)))
            goto out;
    }
    if (is_gemm && (st = gemm_attrs(pb, label, n)))
        goto out;
    for (int k = 0; k < n_ops; ++k) {
        if (!d[k].x)
            continue;
        if ((st = set_in(c, i, n, d[k].x)))
            goto out;
    }
    if ((is_conv || is_gemm) && !in_name(pb, 1)) {
        st = qmac_set_error(QMAC_ERR_FORMAT, "%s: missing weight input", label);
        goto out;
    }
    take_qparams(&n->qx, &d[0].q);
    if (n_ops > 1)
        take_qparams(&n->qw, &d[1].q);
    if (n_ops > 2 && d[2].x) { /* bias: int32, scale must be s_x * s_w (zero point 0) */
        if ((st = check_const_int(c, d[2].x, QMAC_DT_INT32, "bias", n->name)))
            goto out;
    } else if (fbias && (st = quantize_bias(c, i, n, fbias)))
        goto out;
    if (is_mm || is_gemm) { /* B per-column: the DQ axis must be the N axis */
        if (n->qw.n > 1) {
            const qmac_tensor *w = const_of(c, d[1].x);
            int32_t want = n->trans_b ? 0 : (w ? w->rank - 1 : 1);
            int32_t ax = n->qw.axis < 0 && w ? n->qw.axis + w->rank : n->qw.axis;
            if (!w || ax != want) {
                st = qmac_set_error(QMAC_ERR_UNSUPPORTED,
                                    "%s: weight quantization must be per-tensor or per output column", label);
                goto out;
            }
        }
        n->qw.axis = -1;
    }
    if (is_conv && n->qw.n > 1 && n->qw.axis != 0) {
        st = qmac_set_error(QMAC_ERR_UNSUPPORTED, "%s: per-channel weights must use axis 0", label);
        goto out;
    }
    if (!qparams_per_tensor(&n->qx) || (n_ops > 1 && is_add && !qparams_per_tensor(&n->qw))) {
        st = qmac_set_error(QMAC_ERR_UNSUPPORTED, "%s: activations must be quantized per tensor", label);
        goto out;
    }
    st = resolve_qparams(c, q, in_name(qn, 1), in_name(qn, 2), QMAC_DT_INVALID, attr_int(qn, "axis", 1),
                         attr_int(qn, "block_size", 0), &n->qy);
    if (st != QMAC_OK)
        goto out;
    if (!qparams_per_tensor(&n->qy)) {
        st = qmac_set_error(QMAC_ERR_UNSUPPORTED, "%s: output must be quantized per tensor", label);
        goto out;
    }
    if ((is_ap || is_gap) && n->qx.dtype != n->qy.dtype) {
        st = qmac_set_error(QMAC_ERR_UNSUPPORTED, "%s: input and output types differ", label);
        goto out;
    }
    if ((st = fold_activation(c, act, &n->qy, n)))
        goto out;
    if ((st = add_output(c, n, qn, 0)))
        goto out;
    c->nodes[q].consumed = 1;
    if (act >= 0)
        c->nodes[act].consumed = 1;
out:
    for (int k = 0; k < 3; ++k)
        qinfo_free(&d[k].q);
    return st;
}

/* Ops that move data or preserve order: valid on float and integer tensors alike. */
static qmac_status lower_passthrough(ctx_t *c, int32_t i)
{
    const QmacOnnx__Node *pb = c->nodes[i].pb;
    char label[256];
    node_label(c, i, label, sizeof label);
    qmac_node *n;
    qmac_status st;
    const char *x = in_name(pb, 0);
    if (!x)
        return qmac_set_error(QMAC_ERR_FORMAT, "%s: missing input", label);
    qmac_node_kind op = QMAC_NODE_RESHAPE;
    if (op_is(pb, "MaxPool"))
        op = QMAC_NODE_MAXPOOL;
    else if (op_is(pb, "Relu") || op_is(pb, "Clip"))
        op = QMAC_NODE_CLAMP;
    else if (op_is(pb, "Transpose"))
        op = QMAC_NODE_TRANSPOSE;
    else if (op_is(pb, "Concat"))
        op = QMAC_NODE_CONCAT;
    if ((st = new_node(c, op, i, pb->op_type, &n)))
        return st;
    int64_t v[QMAC_MAX_RANK];
    int k;
    switch (op) {
    case QMAC_NODE_MAXPOOL:
        if ((st = read_spatial(c, i, n, 1)))
            return st;
        if (pb->n_output > 1 && pb->output[1] && pb->output[1][0])
            return qmac_set_error(QMAC_ERR_UNSUPPORTED, "%s: the Indices output is not supported", label);
        break;
    case QMAC_NODE_CLAMP:
        if (op_is(pb, "Relu")) {
            n->has_lo = 1;
            n->lo = 0.0;
        } else {
            if (find_attr(pb, "min")) {
                n->has_lo = 1;
                n->lo = attr_float(pb, "min", 0.0f);
            }
            if (find_attr(pb, "max")) {
                n->has_hi = 1;
                n->hi = attr_float(pb, "max", 0.0f);
            }
            for (size_t j = 1; j <= 2; ++j) {
                const char *b = in_name(pb, j);
                if (!b)
                    continue;
                const qmac_tensor *t = const_of(c, b);
                if (!t || qmac_tensor_count(t) != 1)
                    return qmac_set_error(QMAC_ERR_UNSUPPORTED, "%s: %s must be a constant scalar", label,
                                          j == 1 ? "min" : "max");
                if (j == 1) {
                    n->has_lo = 1;
                    n->lo = tensor_get_f(t, 0);
                } else {
                    n->has_hi = 1;
                    n->hi = tensor_get_f(t, 0);
                }
            }
        }
        break;
    case QMAC_NODE_TRANSPOSE:
        if ((k = attr_ints(pb, "perm", v, -1, QMAC_MAX_RANK)) < 0)
            return qmac_set_error(QMAC_ERR_UNSUPPORTED, "%s: bad perm", label);
        n->n_perm = k;
        for (int j = 0; j < k; ++j)
            n->perm[j] = (int32_t)v[j];
        break;
    case QMAC_NODE_CONCAT:
        if (!find_attr(pb, "axis"))
            return qmac_set_error(QMAC_ERR_FORMAT, "%s: attribute axis is required", label);
        n->axis = (int32_t)attr_int(pb, "axis", 0);
        break;
    default: /* reshape family */
        n->shape_id = -1;
        if (op_is(pb, "Reshape")) {
            n->reshape_kind = 0;
            const char *s = in_name(pb, 1);
            const qmac_tensor *t = s ? const_of(c, s) : NULL;
            if (!t || t->dtype != QMAC_DT_INT64 || t->rank != 1)
                return qmac_set_error(QMAC_ERR_UNSUPPORTED,
                                      "%s: the shape must be a constant 1-D int64 tensor", label);
            n->shape_id = find_value(c, s);
            n->allowzero = (int)attr_int(pb, "allowzero", 0);
        } else if (op_is(pb, "Flatten")) {
            n->reshape_kind = 1;
            n->flatten_axis = (int32_t)attr_int(pb, "axis", 1);
        } else if (op_is(pb, "Squeeze") || op_is(pb, "Unsqueeze")) {
            n->reshape_kind = op_is(pb, "Squeeze") ? 2 : 3;
            k = attr_ints(pb, "axes", v, -1, QMAC_MAX_RANK);
            const char *a = in_name(pb, 1);
            if (a) {
                const qmac_tensor *t = const_of(c, a);
                if (!t || t->dtype != QMAC_DT_INT64 || qmac_tensor_count(t) > QMAC_MAX_RANK)
                    return qmac_set_error(QMAC_ERR_UNSUPPORTED, "%s: axes must be a constant int64 tensor",
                                          label);
                k = (int)qmac_tensor_count(t);
                for (int j = 0; j < k; ++j)
                    v[j] = ((const int64_t *)t->data)[j];
            }
            if (k < 0)
                return qmac_set_error(QMAC_ERR_UNSUPPORTED, "%s: bad axes", label);
            if (k == 0 && n->reshape_kind == 3)
                return qmac_set_error(QMAC_ERR_FORMAT, "%s: axes are required", label);
            n->n_axes = k == 0 ? -1 : k;
            for (int j = 0; j < k; ++j)
                n->axes[j] = v[j];
        } else {
            n->reshape_kind = 4; /* Identity */
        }
        break;
    }
    if (op == QMAC_NODE_CONCAT) {
        for (size_t j = 0; j < pb->n_input; ++j)
            if ((st = set_in(c, i, n, pb->input[j])))
                return st;
    } else if ((st = set_in(c, i, n, x))) {
        return st;
    }
    if ((st = add_output(c, n, pb, 0)))
        return st;
    return qonnx_passthrough(c, i, n);
}

/* Constant node -> constant value. */
static qmac_status lower_constant(ctx_t *c, int32_t i)
{
    const QmacOnnx__Node *pb = c->nodes[i].pb;
    char label[256];
    node_label(c, i, label, sizeof label);
    if (pb->n_output != 1 || !pb->output[0])
        return qmac_set_error(QMAC_ERR_FORMAT, "%s: needs one output", label);
    if (find_value(c, pb->output[0]) >= 0)
        return qmac_set_error(QMAC_ERR_FORMAT, "%s: output '%s' is defined twice", label, pb->output[0]);
    int32_t id;
    qmac_status st = add_value(c, pb->output[0], &id);
    if (st != QMAC_OK)
        return st;
    qmac_value *v = &c->g->values[id];
    const QmacOnnx__Attribute *a;
    if ((a = find_attr(pb, "value")) && a->t) {
        st = tensor_from_pb(a->t, pb->output[0], &v->konst);
    } else if ((a = find_attr(pb, "value_float")) && a->has_f) {
        st = qmac_tensor_alloc(&v->konst, QMAC_DT_FLOAT32, 0, NULL);
        if (st == QMAC_OK)
            *(float *)v->konst.data = a->f;
    } else if ((a = find_attr(pb, "value_int")) && a->has_i) {
        st = qmac_tensor_alloc(&v->konst, QMAC_DT_INT64, 0, NULL);
        if (st == QMAC_OK)
            *(int64_t *)v->konst.data = a->i;
    } else if ((a = find_attr(pb, "value_ints"))) {
        int64_t len = (int64_t)a->n_ints;
        st = qmac_tensor_alloc(&v->konst, QMAC_DT_INT64, 1, &len);
        if (st == QMAC_OK && a->n_ints)
            memcpy(v->konst.data, a->ints, a->n_ints * sizeof(int64_t));
    } else if ((a = find_attr(pb, "value_floats"))) {
        int64_t len = (int64_t)a->n_floats;
        st = qmac_tensor_alloc(&v->konst, QMAC_DT_FLOAT32, 1, &len);
        if (st == QMAC_OK && a->n_floats)
            memcpy(v->konst.data, a->floats, a->n_floats * sizeof(float));
    } else {
        return qmac_set_error(QMAC_ERR_UNSUPPORTED,
                              "%s: only tensor, float(s) and int(s) values are supported", label);
    }
    if (st == QMAC_OK)
        v->is_const = 1;
    return st;
}

static qmac_status lower_node(ctx_t *c, int32_t i)
{
    const QmacOnnx__Node *pb = c->nodes[i].pb;
    char label[256];
    node_label(c, i, label, sizeof label);
    const char *dom = str_or_empty(pb->domain);
    const int ms = !strcmp(dom, "com.microsoft");
    if (!pb->op_type || !pb->op_type[0])
        return qmac_set_error(QMAC_ERR_FORMAT, "node #%d has no op_type", (int)i);
    if (qonnx_domain(dom))
        return qonnx_lower_quant(c, i);
    if (dom[0] && strcmp(dom, "ai.onnx") && !ms)
        return qmac_set_error(QMAC_ERR_UNSUPPORTED, "%s: operator domain '%s' is not supported", label, dom);
    qmac_status st;
    if (ms) {
        if (op_is(pb, "QLinearAdd"))
            st = lower_qlinearadd(c, i);
        else if (op_is(pb, "QLinearAveragePool"))
            st = lower_qlinearpool(c, i, 0);
        else if (op_is(pb, "QLinearGlobalAveragePool"))
            st = lower_qlinearpool(c, i, 1);
        else if (op_is(pb, "QLinearConcat"))
            st = lower_qlinearconcat(c, i);
        else if (op_is(pb, "QGemm"))
            st = lower_qgemm(c, i);
        else
            return qmac_set_error(QMAC_ERR_UNSUPPORTED, "unsupported operator com.microsoft.%s (node %s)",
                                  pb->op_type, label);
        return st;
    }
    if (op_is(pb, "QuantizeLinear") || op_is(pb, "DequantizeLinear"))
        return lower_qdq(c, i);
    if (op_is(pb, "QLinearConv"))
        return lower_qlinearconv(c, i);
    if (op_is(pb, "QLinearMatMul"))
        return lower_qlinearmatmul(c, i);
    if (op_is(pb, "ConvInteger") || op_is(pb, "MatMulInteger")) {
        st = lower_integer_op(c, i, op_is(pb, "ConvInteger") ? QMAC_NODE_CONV : QMAC_NODE_MATMUL);
        return st ? st : integer_zps(c, i, &c->g->nodes[c->g->n_nodes - 1]);
    }
    if (op_is(pb, "Conv") || op_is(pb, "MatMul") || op_is(pb, "Gemm") || op_is(pb, "Add") ||
        op_is(pb, "AveragePool") || op_is(pb, "GlobalAveragePool"))
        return lower_qdq_group(c, i);
    if (op_is(pb, "MaxPool") || op_is(pb, "Relu") || op_is(pb, "Clip") || op_is(pb, "Reshape") ||
        op_is(pb, "Flatten") || op_is(pb, "Squeeze") || op_is(pb, "Unsqueeze") || op_is(pb, "Identity") ||
        op_is(pb, "Transpose") || op_is(pb, "Concat"))
        return lower_passthrough(c, i);
    if (op_is(pb, "Constant"))
        return lower_constant(c, i);
    return qmac_set_error(QMAC_ERR_UNSUPPORTED, "unsupported operator %s (node %s)", pb->op_type, label);
}

/* ------------------------------------------------------------------ graph-level passes */

static int32_t producer(const qmac_graph *g, int32_t v)
{
    for (int32_t i = 0; i < g->n_nodes; ++i)
        for (int32_t k = 0; k < g->nodes[i].n_out; ++k)
            if (g->nodes[i].out[k] == v)
                return i;
    return -1;
}

/* The one node reading v once (-1: none, several, or v is a graph output). */
static int32_t sole_consumer(const qmac_graph *g, int32_t v)
{
    for (int32_t o = 0; o < g->n_outputs; ++o)
        if (g->outputs[o] == v)
            return -1;
    int32_t who = -1;
    for (int32_t i = 0; i < g->n_nodes; ++i)
        for (int32_t k = 0; k < g->nodes[i].n_in; ++k)
            if (g->nodes[i].in[k] == v) {
                if (who >= 0)
                    return -1;
                who = i;
            }
    return who;
}

/* A copy of a static per-tensor q (n == 1); 0 when out of memory (dst then needs no freeing). */
static int qinfo_copy(qmac_qinfo *dst, const qmac_qinfo *src)
{
    *dst = *src;
    dst->scale = malloc(sizeof *dst->scale);
    dst->zp = malloc(sizeof *dst->zp);
    if (!dst->scale || !dst->zp) {
        free(dst->scale);
        free(dst->zp);
        memset(dst, 0, sizeof *dst);
        return 0;
    }
    dst->scale[0] = src->scale[0];
    dst->zp[0] = src->zp[0];
    return 1;
}

static int same_qparams(const qmac_qinfo *a, const qmac_qinfo *b)
{
    return a->n == 1 && b->n == 1 && !a->dynamic && !b->dynamic && !a->block && !b->block &&
           a->dtype == b->dtype && a->scale[0] == b->scale[0] && a->zp[0] == b->zp[0];
}

/* DequantizeLinear -> {MaxPool, Relu/Clip, Concat} -> QuantizeLinear, every DQ and the Q with the
 * same type, scale and zero point, is the op on the integers: the ops are order-preserving or move
 * data, and Q(DQ(x)) = x for 8-bit x (the float round trip errs by far less than half a step), so
 * Q(max(DQ(x), DQ(y))) = max(x, y), Q(clip(DQ(x), lo, hi)) = clamp(x, Q(lo), Q(hi)). ONNX Runtime
 * drops such Q/DQ pairs around MaxPool too. The op takes the DQs' inputs and the Q's output; the
 * Q node goes (and the DQs, once nobody else reads them). */
static void fold_qdq_islands(qmac_graph *g)
{
    for (int32_t i = 0; i < g->n_nodes; ++i) {
        qmac_node *n = &g->nodes[i];
        if ((n->op != QMAC_NODE_MAXPOOL && n->op != QMAC_NODE_CLAMP && n->op != QMAC_NODE_CONCAT) ||
            n->n_out != 1 || n->qin)
            continue;
        const int32_t qi = sole_consumer(g, n->out[0]);
        if (qi < 0 || g->nodes[qi].op != QMAC_NODE_QUANTIZE || g->nodes[qi].in[0] != n->out[0])
            continue;
        const qmac_node *q = &g->nodes[qi];
        int ok = q->qy.dtype == QMAC_DT_INT8 || q->qy.dtype == QMAC_DT_UINT8;
        int32_t src[QMAC_MAX_NODE_IO], dq[QMAC_MAX_NODE_IO];
        const int32_t acts = n->op == QMAC_NODE_CONCAT ? n->n_in : 1;
        int requant = 0;
        for (int32_t k = 0; k < acts && ok; ++k) {
            dq[k] = producer(g, n->in[k]);
            ok = dq[k] >= 0 && g->nodes[dq[k]].op == QMAC_NODE_DEQUANTIZE;
            if (ok && !same_qparams(&g->nodes[dq[k]].qx, &q->qy)) {
                /* a concat may requantize (QLinearConcat's arithmetic: Q(DQ(x)) in float32) */
                const qmac_qinfo *x = &g->nodes[dq[k]].qx;
                requant = 1;
                ok = n->op == QMAC_NODE_CONCAT && same_qparams(x, x) && x->dtype == q->qy.dtype &&
                     same_qparams(&q->qy, &q->qy);
            }
            src[k] = ok ? g->nodes[dq[k]].in[0] : -1;
        }
        if (!ok)
            continue;
        if (requant) { /* on allocation failure the float concat stays (correct, on the host) */
            qmac_qinfo *qin = calloc((size_t)acts, sizeof *qin), qy;
            int got = qin && qinfo_copy(&qy, &q->qy);
            for (int32_t k = 0; k < acts && got; ++k)
                got = qinfo_copy(&qin[k], &g->nodes[dq[k]].qx);
            if (!got) {
                for (int32_t k = 0; qin && k < acts; ++k)
                    qinfo_free(&qin[k]);
                free(qin);
                continue;
            }
            qinfo_free(&n->qy);
            n->qy = qy;
            n->qin = qin;
        }
        if (n->op == QMAC_NODE_CLAMP) {
            int32_t qmin, qmax;
            qmac_dtype_range(q->qy.dtype, &qmin, &qmax);
            if (n->has_lo)
                n->lo = qmac_quantize_f32((float)n->lo, q->qy.scale[0], q->qy.zp[0], qmin, qmax,
                                          QMAC_ROUND_HALF_EVEN);
            if (n->has_hi)
                n->hi = qmac_quantize_f32((float)n->hi, q->qy.scale[0], q->qy.zp[0], qmin, qmax,
                                          QMAC_ROUND_HALF_EVEN);
        }
        for (int32_t k = 0; k < acts; ++k)
            n->in[k] = src[k];
        n->out[0] = q->out[0];
        char *ops = malloc(strlen(n->onnx_ops) + 12);
        if (ops) {
            sprintf(ops, "DQ->%s->Q", n->onnx_ops);
            free(n->onnx_ops);
            n->onnx_ops = ops;
        }
        g->nodes[qi].n_out = 0; /* dead: removed with the unread DQs */
    }
}

/* Remove nodes whose outputs nobody reads (the DequantizeLinear nodes of fused groups). */
/* Free what a node owns. */
static void node_free(qmac_node *n)
{
    free(n->name);
    free(n->onnx_ops);
    qinfo_free(&n->qx);
    qinfo_free(&n->qw);
    qinfo_free(&n->qy);
    if (n->qin) {
        for (int32_t k = 0; k < n->n_in; ++k)
            qinfo_free(&n->qin[k]);
        free(n->qin);
    }
    qmac_qonnx_stage_free(n->qs);
}

/* Node n reads value v as a run-time scale or zero point. */
static int reads_param(const qmac_node *n, int32_t v)
{
    const qmac_qinfo *q[3] = {&n->qx, &n->qw, &n->qy};
    int r = 0;
    for (int k = 0; k < 3; ++k)
        r |= q[k]->dynamic && (q[k]->scale_id == v || q[k]->zp_id == v);
    for (int32_t k = 0; n->qin && k < n->n_in; ++k)
        r |= n->qin[k].dynamic && (n->qin[k].scale_id == v || n->qin[k].zp_id == v);
    return r;
}

static void remove_dead_nodes(qmac_graph *g)
{
    int changed = 1;
    while (changed) {
        changed = 0;
        for (int32_t i = g->n_nodes - 1; i >= 0; --i) {
            qmac_node *n = &g->nodes[i];
            int used = 0;
            for (int32_t k = 0; k < n->n_out && !used; ++k) {
                const int32_t v = n->out[k];
                for (int32_t o = 0; o < g->n_outputs && !used; ++o)
                    used = g->outputs[o] == v;
                for (int32_t j = 0; j < g->n_nodes && !used; ++j) {
                    if (j == i)
                        continue;
                    used = reads_param(&g->nodes[j], v);
                    for (int32_t m = 0; m < g->nodes[j].n_in && !used; ++m)
                        used = g->nodes[j].in[m] == v;
                }
            }
            if (used)
                continue;
            node_free(n);
            memmove(n, n + 1, (size_t)(g->n_nodes - i - 1) * sizeof *n);
            --g->n_nodes;
            changed = 1;
        }
    }
}

static qmac_status read_value_info(ctx_t *c, const QmacOnnx__ValueInfo *vi, int32_t id)
{
    qmac_value *v = &c->g->values[id];
    v->decl_rank = -1;
    if (!vi->type || !vi->type->tensor_type)
        return qmac_set_error(QMAC_ERR_UNSUPPORTED, "graph input/output '%s' is not a tensor", v->name);
    const QmacOnnx__TypeInfo__TensorType *tt = vi->type->tensor_type;
    if (tt->has_elem_type) {
        v->decl_dtype = dtype_from_onnx(tt->elem_type);
        if (v->decl_dtype == QMAC_DT_INVALID)
            return qmac_set_error(QMAC_ERR_UNSUPPORTED, "graph input/output '%s' has element type %s",
                                  v->name, onnx_type_name(tt->elem_type));
    }
    if (tt->shape) {
        if (tt->shape->n_dim > QMAC_MAX_RANK)
            return qmac_set_error(QMAC_ERR_UNSUPPORTED, "graph input/output '%s' has rank %zu", v->name,
                                  tt->shape->n_dim);
        v->decl_rank = (int32_t)tt->shape->n_dim;
        for (size_t k = 0; k < tt->shape->n_dim; ++k) {
            const QmacOnnx__TensorShape__Dimension *d = tt->shape->dim[k];
            v->decl_shape[k] =
                d->value_case == QMAC_ONNX__TENSOR_SHAPE__DIMENSION__VALUE_DIM_VALUE ? d->dim_value : -1;
        }
    }
    return QMAC_OK;
}

static qmac_status import_graph(ctx_t *c, const QmacOnnx__Model *m)
{
    qmac_graph *g = c->g;
    const QmacOnnx__Graph *pg = m->graph;
    qmac_status st;
    g->opset = 0;
    for (size_t i = 0; i < m->n_opset_import; ++i) {
        const char *d = str_or_empty(m->opset_import[i]->domain);
        if (!d[0] || !strcmp(d, "ai.onnx"))
            g->opset = m->opset_import[i]->version;
    }
    /* initializers */
    for (size_t i = 0; i < pg->n_initializer; ++i) {
        const QmacOnnx__Tensor *t = pg->initializer[i];
        if (!t->name || !t->name[0])
            return qmac_set_error(QMAC_ERR_FORMAT, "initializer #%zu has no name", i);
        if (find_value(c, t->name) >= 0)
            return qmac_set_error(QMAC_ERR_FORMAT, "initializer '%s' is defined twice", t->name);
        int32_t id;
        if ((st = add_value(c, t->name, &id)))
            return st;
        if ((st = tensor_from_pb(t, t->name, &g->values[id].konst)))
            return st;
        g->values[id].is_const = 1;
    }
    /* run-time inputs: graph inputs that are not initializers */
    g->inputs = calloc(pg->n_input + 1, sizeof *g->inputs);
    g->outputs = calloc(pg->n_output + 1, sizeof *g->outputs);
    if (!g->inputs || !g->outputs)
        return qmac_set_error(QMAC_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < pg->n_input; ++i) {
        const char *name = pg->input[i]->name;
        if (!name || !name[0])
            return qmac_set_error(QMAC_ERR_FORMAT, "graph input #%zu has no name", i);
        int32_t id = find_value(c, name);
        if (id >= 0 && g->values[id].is_const)
            continue;
        if (id >= 0)
            return qmac_set_error(QMAC_ERR_FORMAT, "graph input '%s' is listed twice", name);
        if ((st = add_value(c, name, &id)) || (st = read_value_info(c, pg->input[i], id)))
            return st;
        g->inputs[g->n_inputs++] = id;
    }
    /* nodes, in file order (ONNX requires topological order; inputs are checked to exist) */
    c->n_nodes = (int32_t)pg->n_node;
    c->nodes = calloc(pg->n_node + 1, sizeof *c->nodes);
    if (!c->nodes)
        return qmac_set_error(QMAC_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < pg->n_node; ++i)
        c->nodes[i].pb = pg->node[i];
    for (int32_t i = 0; i < c->n_nodes; ++i) {
        if (c->nodes[i].consumed)
            continue;
        if ((st = lower_node(c, i)))
            return st;
    }
    if ((st = qonnx_finish(c)))
        return st;
    for (size_t i = 0; i < pg->n_output; ++i) {
        const char *name = pg->output[i]->name;
        int32_t id = name ? find_value(c, name) : -1;
        if (id < 0)
            return qmac_set_error(QMAC_ERR_FORMAT, "graph output '%s' is not produced by any node",
                                  str_or_empty(name));
        if ((st = read_value_info(c, pg->output[i], id)))
            return st;
        g->outputs[g->n_outputs++] = id;
    }
    if (g->n_outputs == 0)
        return qmac_set_error(QMAC_ERR_FORMAT, "the graph has no outputs");
    fold_qdq_islands(g);
    remove_dead_nodes(g);
    return QMAC_OK;
}

qmac_status qmac_onnx_load_mem(const uint8_t *buf, size_t len, qmac_graph **out)
{
    *out = NULL;
    qmac_clear_error();
    QmacOnnx__Model *m = qmac_onnx__model__unpack(NULL, len, buf);
    if (!m)
        return qmac_set_error(QMAC_ERR_FORMAT, "not a valid ONNX model (protobuf decoding failed)");
    if (!m->graph || !m->has_ir_version || m->ir_version < 1) {
        qmac_onnx__model__free_unpacked(m, NULL);
        return qmac_set_error(QMAC_ERR_FORMAT, "not an ONNX model (no ir_version or no graph)");
    }
    qmac_graph *g = calloc(1, sizeof *g);
    if (!g) {
        qmac_onnx__model__free_unpacked(m, NULL);
        return qmac_set_error(QMAC_ERR_NOMEM, "out of memory");
    }
    ctx_t c;
    memset(&c, 0, sizeof c);
    c.g = g;
    c.pg = m->graph;
    qmac_status st = import_graph(&c, m);
    free(c.nodes);
    qonnx_free(&c);
    qmac_onnx__model__free_unpacked(m, NULL);
    if (st != QMAC_OK) {
        qmac_graph_free(g);
        return st;
    }
    *out = g;
    return QMAC_OK;
}

qmac_status qmac_onnx_load(const char *path, qmac_graph **out)
{
    *out = NULL;
    char *buf;
    size_t len;
    qmac_status rst = qmac_read_file(path, MAX_MODEL_BYTES, &buf, &len);
    if (rst != QMAC_OK)
        return rst;
    if (len == 0) {
        free(buf);
        return qmac_set_error(QMAC_ERR_FORMAT, "%s: empty file", path);
    }
    qmac_status st = qmac_onnx_load_mem((const uint8_t *)buf, len, out);
    free(buf);
    if (st != QMAC_OK) {
        char detail[512];
        snprintf(detail, sizeof detail, "%s", qmac_last_error());
        qmac_set_error(st, "%s: %s", path, detail);
    }
    return st;
}

/* ------------------------------------------------------------------ graph utilities */

const char *qmac_node_kind_name(qmac_node_kind op)
{
    static const char *names[QMAC_NODE_COUNT] = {"quantize", "dequantize", "conv",           "matmul",
                                                 "add",      "avgpool",    "global_avgpool", "maxpool",
                                                 "clamp",    "reshape",    "transpose",      "concat"};
    return (int)op >= 0 && op < QMAC_NODE_COUNT ? names[op] : "invalid";
}

void qmac_graph_free(qmac_graph *g)
{
    if (!g)
        return;
    for (int32_t i = 0; i < g->n_nodes; ++i) {
        node_free(&g->nodes[i]);
    }
    for (int32_t i = 0; i < g->n_values; ++i) {
        free(g->values[i].name);
        qmac_tensor_free(&g->values[i].konst);
    }
    free(g->values);
    free(g->nodes);
    free(g->inputs);
    free(g->outputs);
    free(g);
}

static void print_q(FILE *f, const char *what, const qmac_qinfo *q)
{
    if (q->n == 0)
        return;
    if (q->n == 1)
        fprintf(f, " %s=%s(s=%g,zp=%d)", what, qmac_dtype_name(q->dtype), (double)q->scale[0], (int)q->zp[0]);
    else
        fprintf(f, " %s=%s(%d scales%s)", what, qmac_dtype_name(q->dtype), (int)q->n,
                q->block ? ", blocked" : "");
}

void qmac_graph_print(const qmac_graph *g, void *file)
{
    FILE *f = file;
    fprintf(f, "opset %lld, %d values, %d nodes\n", (long long)g->opset, (int)g->n_values, (int)g->n_nodes);
    for (int32_t i = 0; i < g->n_inputs; ++i)
        fprintf(f, "input  %s\n", g->values[g->inputs[i]].name);
    for (int32_t i = 0; i < g->n_nodes; ++i) {
        const qmac_node *n = &g->nodes[i];
        fprintf(f, "%3d %-14s %-28s %s <-", (int)i, qmac_node_kind_name(n->op), n->onnx_ops, n->name);
        for (int32_t k = 0; k < n->n_in; ++k)
            fprintf(f, " %s", g->values[n->in[k]].name);
        fprintf(f, " ->");
        for (int32_t k = 0; k < n->n_out; ++k)
            fprintf(f, " %s", g->values[n->out[k]].name);
        print_q(f, "x", &n->qx);
        print_q(f, "w", &n->qw);
        print_q(f, "y", &n->qy);
        fputc('\n', f);
    }
    for (int32_t i = 0; i < g->n_outputs; ++i)
        fprintf(f, "output %s\n", g->values[g->outputs[i]].name);
}
