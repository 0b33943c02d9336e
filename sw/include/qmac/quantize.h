/* quantize.h - post-training quantization of a float ONNX model into a QDQ model (`qmac quantize`).
 *
 *   FLOAT.onnx --qmac_quantizer_new--> plan (which tensors get Q/DQ, as ONNX Runtime's QDQ
 *   quantizer chooses them) --qmac_quantizer_observe (per calibration batch: the float model runs
 *   on the reference executor, every planned activation feeds its calibrator)--> ranges
 *   --qmac_quantizer_write--> QDQ model bytes (scales and zero points by ORT's rules)
 *
 * Given the same ranges (qmac_quantizer_set_range), the scales, zero points and quantized weights
 * and biases are ORT quantize_static's (onnxruntime/quantization 1.23: compute_scale_zp,
 * quantize_nparray, quantize_bias_static_impl; per-channel weights always symmetric; Relu/Clip
 * folded into the producer's output range when activations are asymmetric), so ONNX Runtime gives
 * both models the same outputs. docs/quantization.md, "qmac quantize".
 *
 * Layers (Conv, Gemm, MatMul, Add, Concat, GlobalAveragePool nodes) can stay float (opts
 * keep_float, planned as ORT's nodes_to_exclude: the layer quantizes nothing, and a tensor another
 * layer quantizes is dequantized for it). The sensitivity report runs data through the float model,
 * through one model per layer with only that layer's tensors quantized (its weights, bias, inputs
 * and outputs, with the whole model's parameters), and through the written model, and gives the
 * SQNR of the model's outputs for each.
 *
 * QONNX output (opts qonnx, or binary layers, which QDQ has no type for): the same plan written as
 * QONNX Quant nodes (Q/DQ pairs become one Quant, weights a float initializer and a Quant, biases
 * float initializers on the accumulator's grid) with every scale rounded up to a power of two, the
 * condition under which the accelerator's integer requantization reproduces QONNX's float
 * arithmetic (docs/compiler.md); binary layers read BipolarQuant weights and inputs. qonnx (PyPI)
 * executes such models; ONNX Runtime does not (custom domain). */
#ifndef QMAC_QUANTIZE_H
#define QMAC_QUANTIZE_H

#include <stddef.h>
#include <stdint.h>

#include "qmac/graph.h"
#include "qmac/status.h"
#include "qmac/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    QMAC_CALIB_MINMAX = 0,     /* min and max over all batches (ORT MinMax)                        */
    QMAC_CALIB_MOVING_AVERAGE, /* mean of the per-batch min and max (ORT MinMax, moving_average)    */
    QMAC_CALIB_PERCENTILE,     /* |x| histogram percentile (ORT Percentile), then ORT's range rule  */
    QMAC_CALIB_ENTROPY,        /* |x| histogram, KL threshold (TensorRT)                            */
    QMAC_CALIB_MSE             /* |x| histogram, threshold of least squared error                  */
} qmac_calib_method;

typedef struct {
    qmac_calib_method method;
    double percentile;             /* PERCENTILE: in (0, 100], default 99.999 (ORT)        */
    int32_t num_bins;              /* histogram methods: default 2048                      */
    qmac_dtype act_type;           /* INT8 (default, as quantize_static) or UINT8          */
    qmac_dtype weight_type;        /* INT8 (default; symmetric) or UINT8 (asymmetric)      */
    int act_symmetric;             /* ORT ActivationSymmetric (Relu/Clip then stay)        */
    int per_channel;               /* Conv / Gemm / MatMul weights per output channel      */
    int reduce_range;              /* weights on 7 bits (ORT reduce_range)                 */
    int32_t block_size;            /* > 0: Conv/Gemm/MatMul weights in blocks of this many along the input-
                                      channel axis, one symmetric scale each (ONNX opset 21 blocked
                                      DequantizeLinear; the bias stays float)                               */
    int log2_weights;              /* weight codes 0, +-2^k (k = 0..6), scale max|w| / 64 per tensor or
                                      channel: 4-bit log2 codes stored as int8 (log2q.h, log-domain rounding) */
    const char *const *keep_float; /* layers left float (ORT nodes_to_exclude), by name    */
    int32_t n_keep_float;
    int qonnx;                 /* write QONNX (Quant nodes, power-of-two scales) instead of QDQ */
    const char *const *binary; /* binary Conv/Gemm/MatMul layers by name, or the rule "hidden" (all
                                  but the first and last); implies qonnx. Weights alpha sign(w),
                                  alpha = mean |w| per output channel; inputs t + s sign(x - t), t the
                                  calibration mean, s the mean |x - t|, t folded into the bias */
    int32_t n_binary;
} qmac_quantize_opts;

void qmac_quantize_opts_default(qmac_quantize_opts *o);
const char *qmac_calib_method_name(qmac_calib_method m);
/* "minmax", "moving-average", "percentile", "entropy", "mse"; -1 when unknown. */
int qmac_calib_method_parse(const char *s);

typedef struct qmac_quantizer qmac_quantizer;

/* Parse a float model (model[0..len)) and plan its quantization. Errors name the culprit: not a
 * model, an op the reference executor cannot run, an already quantized model, a bad option, a
 * keep_float name that is not a layer (QMAC_ERR_INVALID_ARG, listing the layers). */
qmac_status qmac_quantizer_new(const uint8_t *model, size_t len, const qmac_quantize_opts *o,
                               qmac_quantizer **q);
void qmac_quantizer_free(qmac_quantizer *q);

/* The float graph (its inputs say what a calibration batch must look like). */
const qmac_graph *qmac_quantizer_graph(const qmac_quantizer *q);

/* Run one calibration batch (one tensor per graph input, checked against the declared types and
 * shapes) and feed every planned activation to its calibrator. NaN or infinite activations are an
 * error naming the tensor. */
qmac_status qmac_quantizer_observe(qmac_quantizer *q, const qmac_tensor *inputs);
int64_t qmac_quantizer_batches(const qmac_quantizer *q);

/* The activations that get their own range (tensors sharing a producer's parameters, such as a
 * MaxPool's output, are not listed), their names, and their ranges (calibrated, or set). */
int32_t qmac_quantizer_n_ranges(const qmac_quantizer *q);
const char *qmac_quantizer_range_name(const qmac_quantizer *q, int32_t i);
qmac_status qmac_quantizer_range(qmac_quantizer *q, int32_t i, float *rmin, float *rmax);
/* Set a range by tensor name (instead of calibrating it). Errors name an unknown tensor. */
qmac_status qmac_quantizer_set_range(qmac_quantizer *q, const char *name, float rmin, float rmax);

/* The layers, in the model's order: name (the node's, else its first output's) and ONNX op. */
int32_t qmac_quantizer_n_layers(const qmac_quantizer *q);
const char *qmac_quantizer_layer_name(const qmac_quantizer *q, int32_t i);
const char *qmac_quantizer_layer_op(const qmac_quantizer *q, int32_t i);
int qmac_quantizer_is_float(const qmac_quantizer *q, int32_t i);

/* Binary layers: after the calibration pass, one more pass over the data (as
 * qmac_quantizer_observe) measures each binary input's mean deviation s from its calibrated mean
 * t. qmac_quantizer_binary_pending says whether that pass is still to run. */
int qmac_quantizer_binary_pending(const qmac_quantizer *q);
qmac_status qmac_quantizer_observe_binary(qmac_quantizer *q, const qmac_tensor *inputs);
/* The binary inputs: the tensor binarized for layer i (NULL when layer i is not binary), t, s. */
const char *qmac_quantizer_binary_input(const qmac_quantizer *q, int32_t i, float *t, float *s);

/* Sensitivity, after the ranges are final: run one batch (as qmac_quantizer_observe) through the
 * float model and the quantized ones and add up the output energy and each one's error. The
 * models are made on the first call. */
qmac_status qmac_quantizer_sensitivity_observe(qmac_quantizer *q, const qmac_tensor *inputs);
int64_t qmac_quantizer_sensitivity_rows(const qmac_quantizer *q);
/* 10 log10(sum y^2 / sum (y - y_q)^2) over all outputs and observed rows for the model with only
 * layer i quantized, or (i = -1) the written model; INFINITY when the outputs are equal. */
double qmac_quantizer_sqnr(const qmac_quantizer *q, int32_t i);

/* The QDQ model: *buf malloc'ed (the caller frees it), *len bytes; the layers kept float stay
 * float. */
qmac_status qmac_quantizer_write(qmac_quantizer *q, uint8_t **buf, size_t *len);

#ifdef __cplusplus
}
#endif

#endif
