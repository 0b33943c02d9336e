/* onnx_int.h - internal to the ONNX importer (onnx_import.c) and its QONNX part (qonnx.c): the
 * import context and the helpers both use. Not a public header. */
#ifndef QMAC_ONNX_INT_H
#define QMAC_ONNX_INT_H

#include <stddef.h>
#include <stdint.h>

#include "onnx_subset.pb-c.h"
#include "qmac/graph.h"

typedef struct {
    const QmacOnnx__Node *pb;
    int consumed; /* folded into another node (Q/Relu of a fused group, Constant, QONNX chain) */
} rnode;

/* A value holding QONNX-quantized codes, and the parameters the float graph reads them with
 * (value = (code - zp) * scale). */
typedef struct {
    int32_t value;
    qmac_qinfo q;
} qonnx_reg;

typedef struct {
    qmac_graph *g;
    const QmacOnnx__Graph *pg;
    rnode *nodes;
    int32_t n_nodes;
    int32_t cap_values;
    int32_t cap_nodes;
    qonnx_reg *qreg; /* QONNX-quantized values (qonnx.c) */
    int32_t n_qreg;
} ctx_t;

/* onnx_import.c */
char *xstrdup(const char *s);
const char *str_or_empty(const char *s);
void node_label(const ctx_t *c, int32_t i, char *buf, size_t len);
int32_t find_value(const ctx_t *c, const char *name);
qmac_status add_value(ctx_t *c, const char *name, int32_t *id);
qmac_status new_node(ctx_t *c, qmac_node_kind op, int32_t src, const char *onnx_ops, qmac_node **out);
qmac_status node_add_in(qmac_node *n, int32_t id);
qmac_status node_add_out(ctx_t *c, qmac_node *n, const char *name);
double tensor_get_f(const qmac_tensor *t, size_t i);
const QmacOnnx__Attribute *find_attr(const QmacOnnx__Node *n, const char *name);
int64_t attr_int(const QmacOnnx__Node *n, const char *name, int64_t def);
float attr_float(const QmacOnnx__Node *n, const char *name, float def);
int attr_ints(const QmacOnnx__Node *n, const char *name, int64_t *dst, int want, int max);
int32_t producer_of(const ctx_t *c, const char *name);
int is_graph_output(const ctx_t *c, const char *name);
int uses_of(const ctx_t *c, const char *name, int32_t *only);
int op_is(const QmacOnnx__Node *n, const char *op);
const char *in_name(const QmacOnnx__Node *n, size_t k);
const qmac_tensor *const_of(const ctx_t *c, const char *name);
qmac_status add_output(ctx_t *c, qmac_node *n, const QmacOnnx__Node *pb, size_t k);
qmac_status set_in(ctx_t *c, int32_t src, qmac_node *n, const char *name);
qmac_status input_id(ctx_t *c, int32_t src, const char *name, int32_t *id);
qmac_status read_spatial(ctx_t *c, int32_t src, qmac_node *n, int is_pool);
qmac_status lower_float_op(ctx_t *c, int32_t i);
void qinfo_free(qmac_qinfo *q);

/* qonnx.c */
/* The op domains QONNX custom ops use. */
int qonnx_domain(const char *domain);
/* Quant / BipolarQuant / MultiThreshold reached on its own: of a constant (weights: folded into
 * codes), or of a run-time float tensor (an input quantizer: a QUANTIZE node). */
qmac_status qonnx_lower_quant(ctx_t *c, int32_t i);
/* Conv / MatMul / Gemm whose first operand holds QONNX codes: one CONV/MATMUL node with the float
 * chain up to the next quantizer as its output stage. */
int qonnx_is_layer(const ctx_t *c, int32_t i);
qmac_status qonnx_lower_layer(ctx_t *c, int32_t i);
/* The registered parameters of value id (NULL: not QONNX-quantized). */
const qmac_qinfo *qonnx_q(const ctx_t *c, int32_t id);
/* After a pass-through node n (built from ONNX node i) on a QONNX-quantized input: keep the
 * registration for ops that commute with dequantization, refuse the others. */
qmac_status qonnx_passthrough(ctx_t *c, int32_t i, const qmac_node *n);
/* Graph outputs holding QONNX codes get a DEQUANTIZE (the QONNX graph outputs floats). */
qmac_status qonnx_finish(ctx_t *c);
void qonnx_free(ctx_t *c);

#endif /* QMAC_ONNX_INT_H */
