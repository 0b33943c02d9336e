/* kernels.h - reference layer kernels: simple, readable, the oracle everything else is checked
 * against. Layouts: activations NHWC; conv weights OHWI [Cout, KH, KW, Cin/groups]; matmul
 * A [M, K] x B [K, N] row-major; fully-connected weights [Cout, D]. Kernels never allocate:
 * callers pass output and scratch buffers. Integer accumulation is modulo 2^32 (two's
 * complement wrap), as the hardware does. */
#ifndef QMAC_KERNELS_H
#define QMAC_KERNELS_H

#include <stdint.h>

#include "qmac/requant.h"
#include "qmac/status.h"
#include "qmac/types.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A read-only quantized integer buffer: elements of dtype (INT8 or UINT8; INT16/UINT16 also
 * accepted by the accumulate kernels), with a per-tensor zero point or, when zp_ch is non-NULL,
 * one zero point per output channel (weights: Cout entries; matmul B: N entries). */
typedef struct {
    qmac_dtype dtype;
    const void *data;
    int32_t zp;
    const int32_t *zp_ch;
} qmac_qbuf;

/* ---------------------------------------------------------------- convolution */

typedef struct {
    int32_t stride_h, stride_w; /* >= 1 */
    int32_t dil_h, dil_w;       /* >= 1 */
    int32_t pad_top, pad_left, pad_bottom, pad_right; /* >= 0; padded taps are skipped (= x_zp) */
    int32_t groups;             /* >= 1, divides Cin and Cout */
} qmac_conv_params;

/* Output size of one spatial axis: (in + pb + pa - ((k-1)*d + 1)) / stride + 1 (floor), or
 * ceil mode when ceil_mode != 0. Returns <= 0 when the window does not fit. */
int32_t qmac_conv_out_size(int32_t in, int32_t k, int32_t stride, int32_t dil, int32_t pad_before,
                           int32_t pad_after, int ceil_mode);

/* SAME padding of one axis: out = ceil(in/stride), total = max(0, (out-1)*stride + (k-1)*d + 1 - in);
 * upper (TFLite SAME, ONNX SAME_UPPER): before = total/2, the odd pixel after;
 * lower (ONNX SAME_LOWER): the odd pixel before. */
void qmac_same_padding(int32_t in, int32_t k, int32_t stride, int32_t dil, int lower, int32_t *before,
                       int32_t *after, int32_t *out);

/* Validate a convolution (Prepare step): shapes, groups, strides, computed output size == y_dims.
 * w_dims is {n = Cout, h = KH, w = KW, c = Cin/groups}. Errors: QMAC_ERR_INVALID_ARG / SHAPE. */
qmac_status qmac_conv2d_check(const qmac_conv_params *p, const qmac_dims *x_dims, const qmac_dims *w_dims,
                              const qmac_dims *y_dims);

/* Integer convolution (ONNX ConvInteger; the accumulator of QLinearConv and TFLite Conv2D):
 * acc[n][oy][ox][oc] = bias[oc] + sum over ky,kx,ic in-image taps of
 *     (x[n][oy*sh - pt + ky*dh][ox*sw - pl + kx*dw][g*Cin_g + ic] - x.zp) * (w[oc][ky][kx][ic] - w.zp[oc])
 * with g = oc / (Cout/groups). bias may be NULL (zero). acc has y_dims elements, NHWC. */
qmac_status qmac_conv2d_acc(const qmac_conv_params *p, const qmac_dims *x_dims, const qmac_qbuf *x,
                            const qmac_dims *w_dims, const qmac_qbuf *w, const int32_t *bias,
                            const qmac_dims *y_dims, int32_t *acc);

/* TFLite depthwise layout: filter [1, KH, KW, Cout] with Cout = Cin * depth_mult and output channel
 * oc = ic*depth_mult + m. Same as qmac_conv2d_acc with groups = Cin on the OHWI weights
 * [Cout, KH, KW, 1]; p->groups is ignored. w_dims is {n = 1, h = KH, w = KW, c = Cout}. */
qmac_status qmac_depthwise_conv2d_acc(const qmac_conv_params *p, const qmac_dims *x_dims,
                                      const qmac_qbuf *x, const qmac_dims *w_dims, const qmac_qbuf *w,
                                      int32_t depth_mult, const int32_t *bias, const qmac_dims *y_dims,
                                      int32_t *acc);

/* Full quantized convolution: qmac_conv2d_acc then qmac_requant_tensor into y (y_dt INT8/UINT8).
 * scratch holds qmac_dims_count(y_dims) int32 values. */
qmac_status qmac_conv2d_q(const qmac_conv_params *p, const qmac_dims *x_dims, const qmac_qbuf *x,
                          const qmac_dims *w_dims, const qmac_qbuf *w, const int32_t *bias,
                          const qmac_requant *rq, const qmac_dims *y_dims, qmac_dtype y_dt, void *y,
                          int32_t *scratch);

/* ---------------------------------------------------------------- matmul / fully connected */

/* acc[m][n] = bias[n] + sum_k (a[m][k] - a.zp) * (b[k][n] - b.zp[n]); bias may be NULL.
 * (ONNX MatMulInteger, the accumulator of QLinearMatMul.) */
qmac_status qmac_matmul_acc(int32_t M, int32_t K, int32_t N, const qmac_qbuf *a, const qmac_qbuf *b,
                            const int32_t *bias, int32_t *acc);

/* TFLite fully connected: acc[b][oc] = bias[oc] + sum_d (x[b][d] - x.zp) * (w[oc][d] - w.zp[oc]). */
qmac_status qmac_fc_acc(int32_t batches, int32_t depth, int32_t cout, const qmac_qbuf *x,
                        const qmac_qbuf *w, const int32_t *bias, int32_t *acc);

/* ---------------------------------------------------------------- pooling */

typedef struct {
    int32_t k_h, k_w;
    int32_t stride_h, stride_w;
    int32_t dil_h, dil_w; /* 1 for TFLite */
    int32_t pad_top, pad_left, pad_bottom, pad_right;
} qmac_pool_params;

/* Max over in-image taps, then clamp to [act_min, act_max]. x and y share dtype and quantization. */
qmac_status qmac_maxpool(const qmac_pool_params *p, const qmac_dims *x_dims, qmac_dtype dt, const void *x,
                         const qmac_dims *y_dims, int32_t act_min, int32_t act_max, void *y);

/* TFLite int8 average pool: acc = sum of in-image taps, n = their count,
 * avg = acc > 0 ? (acc + n/2)/n : (acc - n/2)/n (C truncation: ties away from zero), clamp. */
qmac_status qmac_avgpool_tflite(const qmac_pool_params *p, const qmac_dims *x_dims, qmac_dtype dt,
                                const void *x, const qmac_dims *y_dims, int32_t act_min, int32_t act_max,
                                void *y);

/* ONNX Runtime QLinearAveragePool (x86), exact float32 operation order of ORT; count_include_pad
 * chooses the divisor. x and y may have different scales, zero points (same dtype). */
qmac_status qmac_avgpool_onnxrt(const qmac_pool_params *p, int count_include_pad, const qmac_dims *x_dims,
                                qmac_dtype dt, const void *x, float x_scale, int32_t x_zp,
                                const qmac_dims *y_dims, float y_scale, int32_t y_zp, void *y);

/* ONNX Runtime QLinearGlobalAveragePool (x86): average over H*W of each (n, c). y is [N,1,1,C]. */
qmac_status qmac_global_avgpool_onnxrt(const qmac_dims *x_dims, qmac_dtype dt, const void *x, float x_scale,
                                       int32_t x_zp, float y_scale, int32_t y_zp, void *y);

/* TFLite-style global average pool (Mean over H, W with equal in/out quantization): avgpool_tflite
 * with a full-image window. */
qmac_status qmac_global_avgpool_tflite(const qmac_dims *x_dims, qmac_dtype dt, const void *x, int32_t act_min,
                                       int32_t act_max, void *y);

/* ---------------------------------------------------------------- elementwise */

/* TFLite int8 Add (reference): left_shift 20, per-input multipliers; see docs/quantization.md. */
typedef struct {
    int32_t left_shift;
    int32_t a_offset, b_offset; /* = -zero point */
    int32_t a_mult, a_shift, b_mult, b_shift;
    int32_t out_mult, out_shift;
    int32_t out_zp, act_min, act_max;
} qmac_add_tflite_params;

qmac_status qmac_add_tflite_prepare(float a_scale, int32_t a_zp, float b_scale, int32_t b_zp, float y_scale,
                                    int32_t y_zp, int32_t act_min, int32_t act_max, qmac_add_tflite_params *p);
int32_t qmac_add_tflite_one(const qmac_add_tflite_params *p, int32_t a, int32_t b);

/* ONNX Runtime QLinearAdd (x86 MLAS), exact float32 operation order of ORT. */
typedef struct {
    float ratio_a, ratio_b; /* a_scale / y_scale, b_scale / y_scale */
    float bias;             /* y_zp - (ratio_a * a_zp + ratio_b * b_zp) in ORT's order */
    int32_t a_zp, b_zp, y_zp, qmin, qmax;
} qmac_add_onnxrt_params;

qmac_status qmac_add_onnxrt_prepare(float a_scale, int32_t a_zp, float b_scale, int32_t b_zp, float y_scale,
                                    int32_t y_zp, qmac_dtype y_dt, qmac_add_onnxrt_params *p);
int32_t qmac_add_onnxrt_one(const qmac_add_onnxrt_params *p, int32_t a, int32_t b);

/* TFLite int8 Mul (reference): out = clamp(MBQM((a - a_zp) * (b - b_zp), mult, shift) + y_zp). */
typedef struct {
    int32_t a_offset, b_offset; /* = -zero point */
    int32_t out_mult, out_shift, out_zp, act_min, act_max;
} qmac_mul_tflite_params;
int32_t qmac_mul_tflite_one(const qmac_mul_tflite_params *p, int32_t a, int32_t b);

typedef enum { QMAC_ACT_NONE = 0, QMAC_ACT_RELU, QMAC_ACT_RELU6, QMAC_ACT_RELU_N1_TO_1 } qmac_activation;

/* Fused-activation range in the quantized domain (TFLite CalculateActivationRangeQuantized):
 * RELU [max(qmin, zp), qmax]; RELU6 adds min(qmax, zp + round(6/scale)) (ties away from zero);
 * RELU_N1_TO_1 [max(qmin, zp + round(-1/scale)), min(qmax, zp + round(1/scale))]. */
qmac_status qmac_activation_range(qmac_activation act, float scale, int32_t zp, qmac_dtype dt, int32_t *lo,
                                  int32_t *hi);

/* Clamp count integers of dtype dt to [lo, hi] (x and y may alias). ReLU/ReLU6/Clip on
 * quantized tensors. */
void qmac_clamp(size_t count, qmac_dtype dt, const void *x, int32_t lo, int32_t hi, void *y);

/* Concatenate n tensors along one axis. Each input i is viewed as [outer, len[i] * inner] elements of
 * elem_size bytes; y is [outer, sum(len) * inner]. Pure data movement (equal quantization). */
void qmac_concat(int32_t n, const void *const *inputs, const int32_t *len, size_t outer, size_t inner,
                 size_t elem_size, void *y);

#ifdef __cplusplus
}
#endif
#endif /* QMAC_KERNELS_H */
