/* graph_util.h - helpers shared by the reference executor (exec.c) and the compiler (compile.c):
 * error messages that name a node, ONNX spatial geometry, reshape shapes. Internal to libqmac. */
#ifndef QMAC_GRAPH_UTIL_H
#define QMAC_GRAPH_UTIL_H

#include "qmac/graph.h"
#include "qmac/kernels.h"

#define FAIL(st, n, ...) qmac_node_fail((st), (n), __VA_ARGS__)

/* qmac_set_error(st, "node '<name>' (<onnx ops>): <message>"); returns st. */
#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
qmac_status
qmac_node_fail(qmac_status st, const qmac_node *n, const char *fmt, ...);

/* The start of a whole-graph run: outputs[] cleared, the input count checked against g's. */
qmac_status qmac_graph_run_begin(const qmac_graph *g, int32_t n_inputs, qmac_tensor *outputs);

/* The output range of node n with output type dt: the type's range, or the fused activation's
 * clamp (has_act). */
void qmac_node_out_range(const qmac_node *n, qmac_dtype dt, int32_t *lo, int32_t *hi);

/* Output size and padding of spatial axis ax (0: H, 1: W) of a convolution, ONNX rules
 * (auto_pad, ceil_mode). */
qmac_status qmac_node_conv_axis(const qmac_node *n, int ax, int32_t in, int32_t k, int32_t *pb, int32_t *pa,
                                int32_t *out);

/* One spatial axis of a pool as ONNX Runtime computes it: *crop leading input rows dropped (a
 * negative SAME head pad), then *head / *tail padding and *out outputs (details in graph_util.c). */
qmac_status qmac_node_pool_axis(const qmac_node *n, int ax, int32_t in, int32_t k, int32_t s, int32_t d,
                                int32_t *crop, int32_t *head, int32_t *tail, int32_t *out);

/* Output shape of a RESHAPE node (Reshape, Flatten, Squeeze, Unsqueeze, Identity) for an input of
 * the given shape; errors name the node. */
qmac_status qmac_node_reshape_shape(const qmac_graph *g, const qmac_node *n, int32_t rank,
                                    const int64_t *shape, int32_t *out_rank, int64_t *out_shape);

/* One output of an ADD node from its two (broadcast) inputs, in the semantics of a rule: ONNX
 * Runtime's float FMA chain (its "A is scalar" form when a_scalar), TFLite's fixed point, or
 * TFLite's with single-rounding multipliers; clamped to the node's output range. */
typedef struct {
    qmac_requant_rule rule;
    int a_scalar;
    qmac_add_onnxrt_params po;
    qmac_add_tflite_params pt;
    int32_t lo, hi;
    double ra, rb, c; /* y ~ rne(a ra + b rb + c) */
} qmac_add_pair;

/* Checks the node's quantization (per tensor, static, 8-bit) and prepares; errors name the node. */
qmac_status qmac_add_pair_prepare(const qmac_node *n, qmac_requant_rule rule, int a_scalar, qmac_add_pair *p);
/* ctx is a const qmac_add_pair * (the signature of qmac_pair_fn). */
int32_t qmac_add_pair_eval(const void *ctx, int32_t a, int32_t b);

/* One element of a requantizing concat's input (ONNX Runtime's QLinearConcat, and DQ -> Concat -> Q):
 * dequantized in float32, quantized half to even into the output's range. */
typedef struct {
    float in_scale, out_scale;
    int32_t in_zp, out_zp, lo, hi;
} qmac_requant_elem;

void qmac_requant_elem_prepare(const qmac_qinfo *in, const qmac_qinfo *out, qmac_requant_elem *p);
/* ctx is a const qmac_requant_elem *; b is ignored (the signature of qmac_pair_fn). */
int32_t qmac_requant_elem_eval(const void *ctx, int32_t a, int32_t b);

#endif /* QMAC_GRAPH_UTIL_H */
