/* graph.h - qmac's typed graph IR: what the ONNX importer produces, the reference executor runs
 * and the compiler lowers. Semantics are ONNX's (activations NCHW); quantization parameters are
 * resolved to constants at import, so every quantized op carries its scales and zero points.
 *
 *   ONNX file --qmac_onnx_load--> qmac_graph --qmac_exec_ref--> outputs
 *                                            \--qmac_compile (compile.h)--> instruction stream
 */
#ifndef QMAC_GRAPH_H
#define QMAC_GRAPH_H

#include <stdint.h>

#include "qmac/requant.h"
#include "qmac/status.h"
#include "qmac/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    QMAC_NODE_QUANTIZE = 0,   /* QuantizeLinear: float32 -> int8/uint8                         */
    QMAC_NODE_DEQUANTIZE,     /* DequantizeLinear: int8/uint8/int32 -> float32                 */
    QMAC_NODE_CONV,           /* QLinearConv, ConvInteger (int32 out), DQ->Conv->Q             */
    QMAC_NODE_MATMUL,         /* QLinearMatMul, MatMulInteger (int32 out), DQ->MatMul/Gemm->Q  */
    QMAC_NODE_ADD,            /* QLinearAdd, DQ->Add->Q                                        */
    QMAC_NODE_AVGPOOL,        /* QLinearAveragePool, DQ->AveragePool->Q                        */
    QMAC_NODE_GLOBAL_AVGPOOL, /* QLinearGlobalAveragePool, DQ->GlobalAveragePool->Q            */
    QMAC_NODE_MAXPOOL,        /* MaxPool on any numeric tensor (exact in every domain)         */
    QMAC_NODE_CLAMP,          /* Relu / Clip on the raw values of any numeric tensor           */
    QMAC_NODE_RESHAPE,        /* Reshape / Flatten / Squeeze / Unsqueeze / Identity            */
    QMAC_NODE_TRANSPOSE,      /* Transpose                                                     */
    QMAC_NODE_CONCAT,         /* Concat (same dtype) and QLinearConcat (requantizing inputs)   */
    QMAC_NODE_COUNT
} qmac_node_kind;

/* Name of an op kind ("conv"). */
const char *qmac_node_kind_name(qmac_node_kind op);

/* Quantization parameters of one tensor, constant after import. Per-tensor (n == 1), per-axis
 * (n == shape[axis]) or blocked (block > 0: scale has the tensor's rank with
 * shape[axis] = ceil(dim / block)). scale[] and zp[] are owned (n entries each). */
typedef struct {
    qmac_dtype dtype;  /* the integer type: INT8, UINT8 (INT32 for biases)            */
    int32_t n;         /* number of (scale, zp) pairs; 0 = absent                       */
    int32_t axis;      /* axis for per-axis / blocked (may be negative: normalized at run time) */
    qmac_dtype sdtype; /* type the scale had in the model (FLOAT32 or FLOAT16)                */
    int32_t block;     /* block size for blocked quantization, 0 otherwise               */
    int32_t srank;     /* rank of the scale tensor (0 or 1 except blocked)               */
    int64_t sshape[QMAC_MAX_RANK];
    float *scale;
    int32_t *zp;
    /* Run-time parameters (ONNX allows scales/zero points to be graph inputs): dynamic != 0
     * means scale_id/zp_id (zp_id -1: absent) are resolved by the executor before the node
     * runs; n is then 0 here. */
    int dynamic;
    int32_t scale_id, zp_id;
} qmac_qinfo;

/* Fill q from a scale tensor and an optional zero-point tensor, validating them: scales finite
 * and > 0, zero point of the tensor's integer type (x_dt; QMAC_DT_INVALID = take it from the
 * zero point; stays QMAC_DT_INVALID = "the tensor's own type" when both are unknown), same element count,
 * int32 zero points equal to 0, per-axis scales 1-D. label/scale_name/zp_name only feed error messages. Frees
 * nothing on error (q is left empty). */
qmac_status qmac_qinfo_fill(qmac_qinfo *q, const char *label, const char *scale_name,
                            const qmac_tensor *scale, const char *zp_name, const qmac_tensor *zp,
                            qmac_dtype x_dt, int32_t axis, int32_t block);
void qmac_qinfo_free(qmac_qinfo *q);

/* QONNX layers (Brevitas / FINN exports, docs/quantization.md "QONNX"). A Conv/MatMul whose
 * operands are QONNX-quantized keeps the float32 arithmetic between its accumulator and the next
 * quantizer, so the reference computes what the QONNX graph computes:
 *   acc  = sum (x - zx) (w - zw)                                  (int32, as the integer ops)
 *   v    = (float)acc * in_scale[c]         in_scale[c] = s_x * s_w[c] in float32: exact, and equal
 *                                           to the float MatMul, when the scales are powers of two
 *   v    = v op k[c]  for each step of epi[] (float32, in the graph's order)
 *   FLOAT:  y = v                                                  (no quantizer after the layer)
 *   INT:    y = round_mode(clamp(v / scale + zp, qmin, qmax))      (QONNX Quant, in its order)
 *   THRESH: y = code0 + code_step * #{j : v >= thr[c][j]}          (BipolarQuant: one threshold 0,
 *                                                                   codes -1 / +1; MultiThreshold)
 * c is the output channel (axis 1 of a Conv, the last axis of a MatMul; need_rank = 2: a MatMul whose
 * stage normalizes axis 1, as BatchNormalization does, so its output must be 2-D). A QUANTIZE node of a
 * QONNX Quant uses the INT rule on its float input (v = x, no steps). */
/* v = v op k; MAX / MIN: Relu and Clip (v < k ? k : v, v > k ? k : v) */
typedef enum {
    QMAC_EPI_MUL = 0,
    QMAC_EPI_ADD,
    QMAC_EPI_SUB,
    QMAC_EPI_DIV,
    QMAC_EPI_MAX,
    QMAC_EPI_MIN
} qmac_epi_op;

typedef struct {
    qmac_epi_op op;
    int32_t n; /* 1 (all channels) or the channel count */
    float *k;  /* owned */
} qmac_epi_step;

typedef enum { QMAC_OQ_FLOAT = 0, QMAC_OQ_INT, QMAC_OQ_THRESH } qmac_oq_kind;

/* QONNX Quant rounding_mode */
typedef enum {
    QMAC_QR_ROUND = 0,     /* half to even (numpy.round)              */
    QMAC_QR_CEIL,          /* ceil                                    */
    QMAC_QR_FLOOR,         /* floor                                   */
    QMAC_QR_ROUND_TO_ZERO, /* trunc (numpy.fix)                    */
    QMAC_QR_UP,            /* away from zero: sign(x) ceil(|x|)       */
    QMAC_QR_HALF_UP,       /* sign(x) floor(|x| + 0.5), in float32    */
    QMAC_QR_HALF_DOWN      /* sign(x) ceil(|x| - 0.5), in float32     */
} qmac_qround;

typedef struct {
    qmac_oq_kind oq;
    int32_t nch;       /* output channels */
    int32_t need_rank; /* 0, or the output rank the stage requires (checked at run time) */
    float *in_scale;   /* [nch] (NULL for QUANTIZE) */
    qmac_epi_step *epi;
    int32_t n_epi;
    float scale, zp; /* INT */
    int32_t qmin, qmax;
    qmac_qround round;
    float *thr;            /* THRESH: [nch or 1][n_thr] */
    int32_t n_thr, thr_ch; /* thresholds per channel; thr_ch = 1 (shared) or nch */
    int32_t code0, code_step;
} qmac_qonnx_stage;

/* v of output channel c for accumulator acc (steps included). */
float qmac_qonnx_value(const qmac_qonnx_stage *s, int32_t c, int32_t acc);
/* The code of v under the INT or THRESH rule (NaN: the code of 0 for INT, QONNX's comparison
 * result for THRESH). */
int32_t qmac_qonnx_code(const qmac_qonnx_stage *s, int32_t c, float v);
/* Rounding of a QONNX Quant. */
float qmac_qonnx_round(qmac_qround mode, float x);
void qmac_qonnx_stage_free(qmac_qonnx_stage *s);

/* A value (edge) of the graph. Constants (initializers, Constant nodes) hold their tensor. */
typedef struct {
    char *name;
    int is_const;
    qmac_tensor konst;
    /* declared element type and shape (graph inputs/outputs); dims < 0 are symbolic */
    qmac_dtype decl_dtype;
    int32_t decl_rank; /* -1 = unknown */
    int64_t decl_shape[QMAC_MAX_RANK];
} qmac_value;

typedef enum {
    QMAC_PAD_EXPLICIT = 0,
    QMAC_PAD_SAME_UPPER,
    QMAC_PAD_SAME_LOWER,
    QMAC_PAD_VALID
} qmac_auto_pad;

#define QMAC_MAX_NODE_IO 16

/* One node. Fields are used according to op; the comments say which. Activation inputs/outputs
 * are value ids; constant operands (weights, bias, shapes) are value ids of constants. */
typedef struct {
    qmac_node_kind op;
    char *name;     /* ONNX node name, or "<OpType>#<index>" when the model gives none */
    char *onnx_ops; /* the ONNX op(s) this node came from, e.g. "DQ->Conv->Q"        */
    int32_t n_in, n_out;
    int32_t in[QMAC_MAX_NODE_IO];
    int32_t out[QMAC_MAX_NODE_IO];

    /* quantization: x = first activation input, w = weights / second input, y = output;
     * QUANTIZE uses qy, DEQUANTIZE qx; CONCAT: qin[] per input (n == 0: no requantization) */
    qmac_qinfo qx, qw, qy;
    qmac_qinfo *qin; /* [n_in] for QLinearConcat, else NULL */
    int out_int32;   /* ConvInteger / MatMulInteger: raw int32 accumulators, no requant */
    int fp;          /* CONV, MATMUL, ADD, AVGPOOL, GLOBAL_AVGPOOL of a float model: float32
                      * operands and result, no quantization (qx, qw, qy absent) */

    /* CONV: in = [x, w, (bias)]; MATMUL: in = [a, b, (bias)]. Weights and biases are usually
     * constant values; bias is int32 with scale s_x * s_w and zero point 0. */
    int trans_b; /* MATMUL from Gemm(transB=1): B given as [N, K] */
    /* fused activation (a Relu/Clip folded between the op and its QuantizeLinear), as a clamp
     * of the quantized output; has_act == 0 means the output type's full range */
    int has_act;
    int32_t act_min, act_max;

    /* CONV / pools: spatial attributes for the last two (H, W) axes; 1-D ops use h = 1 */
    int32_t spatial; /* 1 or 2 */
    int32_t kernel[2], strides[2], dilations[2];
    int32_t pads[4]; /* top, left, bottom, right */
    qmac_auto_pad auto_pad;
    int32_t group;
    int ceil_mode, count_include_pad;

    /* CLAMP on raw values (min/max after rounding into the tensor's type) */
    int has_lo, has_hi;
    double lo, hi;

    /* RESHAPE */
    int32_t shape_id; /* Reshape: int64 shape constant; -1 for Flatten/Squeeze/Unsqueeze */
    int allowzero;
    int32_t flatten_axis; /* Flatten: axis (>= 0 normalized at run time), -1 otherwise */
    int32_t n_axes;       /* Squeeze/Unsqueeze axes (n_axes == -1: squeeze all 1s) */
    int64_t axes[QMAC_MAX_RANK];
    int reshape_kind; /* 0 reshape, 1 flatten, 2 squeeze, 3 unsqueeze, 4 identity */

    /* TRANSPOSE */
    int32_t n_perm; /* 0 = reverse */
    int32_t perm[QMAC_MAX_RANK];

    /* CONCAT */
    int32_t axis;

    /* QONNX: CONV/MATMUL output stage, or the rule of a QUANTIZE (NULL: not from QONNX) */
    qmac_qonnx_stage *qs;
} qmac_node;

typedef struct {
    qmac_value *values;
    int32_t n_values;
    qmac_node *nodes; /* topologically ordered */
    int32_t n_nodes;
    int32_t *inputs; /* value ids of the run-time graph inputs, in ONNX order */
    int32_t n_inputs;
    int32_t *outputs; /* value ids of the graph outputs, in ONNX order */
    int32_t n_outputs;
    int64_t opset; /* ai.onnx opset version */
} qmac_graph;

/* Free a graph and everything it owns. NULL is fine. */
void qmac_graph_free(qmac_graph *g);

/* Print a one-line-per-node summary (for `qmac info`). */
void qmac_graph_print(const qmac_graph *g, void *file /* FILE* */);

/* Load an ONNX model (QOperator or QDQ) into the IR. On error *out is NULL and the message
 * (qmac_last_error) names the node/tensor/attribute at fault. The caller frees with
 * qmac_graph_free. Errors: IO, FORMAT (not a model / corrupt protobuf), UNSUPPORTED (op, dtype,
 * attribute), INVALID_ARG (bad scale or zero point), NOMEM. */
qmac_status qmac_onnx_load(const char *path, qmac_graph **out);
qmac_status qmac_onnx_load_mem(const uint8_t *buf, size_t len, qmac_graph **out);

/* Run the graph with the reference kernels. inputs[i] binds to g->inputs[i] (dtype and fixed
 * dims are checked). outputs[] (n_outputs entries, caller-provided, filled with owned tensors
 * the caller frees with qmac_tensor_free) receive the graph outputs.
 * rule selects the requantization of CONV/MATMUL/ADD (and pools): see docs/quantization.md. */
qmac_status qmac_exec_ref(const qmac_graph *g, qmac_requant_rule rule, const qmac_tensor *inputs,
                          int32_t n_inputs, qmac_tensor *outputs);

/* Check tensor `in` against graph input k's declared type and shape (the check qmac_exec_ref
 * does); errors name the input. */
qmac_status qmac_graph_check_input(const qmac_graph *g, int32_t k, const qmac_tensor *in);

/* Run nodes[0 .. n) of g, in that order, with the reference kernels over a caller-owned value
 * store: vals[id] holds value id's tensor when ready[id] != 0 (constants are read from the
 * graph); each node's outputs are allocated there and marked ready. Nothing is freed. */
/* qmac_exec_ref, calling fn(ctx, value id, tensor) for each graph input once bound and for each
 * node output once computed (the tensor lives until its last reader has run: copy what you keep).
 * A status other than QMAC_OK from fn stops the run and is returned. */
typedef qmac_status (*qmac_value_observer)(void *ctx, int32_t value, const qmac_tensor *t);
qmac_status qmac_exec_ref_observe(const qmac_graph *g, qmac_requant_rule rule, const qmac_tensor *inputs,
                                  int32_t n_inputs, qmac_tensor *outputs, qmac_value_observer fn, void *ctx);

qmac_status qmac_exec_ref_nodes(const qmac_graph *g, qmac_requant_rule rule, qmac_tensor *vals,
                                uint8_t *ready, const int32_t *nodes, int32_t n);

#ifdef __cplusplus
}
#endif
#endif /* QMAC_GRAPH_H */
