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
 * one zero point per output channel (weights: Cout entries; matmul B: N entries; matmul A: M
 * entries, ONNX MatMulInteger's per-row a_zero_point). Every zero point lies within dtype's range
 * (the kernels check it). Activations (conv/fc inputs) take a per-tensor zero point only. */
typedef struct {
    qmac_dtype dtype;
    const void *data;
    int32_t zp;
    const int32_t *zp_ch;
} qmac_qbuf;

/* ---------------------------------------------------------------- convolution */

typedef struct {
    int32_t stride_h, stride_w;                       /* >= 1 */
    int32_t dil_h, dil_w;                             /* >= 1 */
    int32_t pad_top, pad_left, pad_bottom, pad_right; /* >= 0; padded taps are skipped (= x_zp) */
    int32_t groups;                                   /* >= 1, divides Cin and Cout */
} qmac_conv_params;

/* Output size of one spatial axis: (in + pb + pa - ((k-1)*d + 1)) / stride + 1 (floor), or
 * ceil mode when ceil_mode != 0. Ceil mode drops a last window that would start in the trailing
 * padding, i.e. when (out-1)*stride >= in + pb (ONNX Runtime >= 1.17, PyTorch, onnx/onnx#5711).
 * Returns <= 0 when the window does not fit or an argument is out of range. */
int32_t qmac_conv_out_size(int32_t in, int32_t k, int32_t stride, int32_t dil, int32_t pad_before,
                           int32_t pad_after, int ceil_mode);

/* SAME padding of one axis: out = ceil(in/stride), total = max(0, (out-1)*stride + (k-1)*d + 1 - in);
 * upper (TFLite SAME, ONNX SAME_UPPER): before = total/2, the odd pixel after;
 * lower (ONNX SAME_LOWER): the odd pixel before. */
void qmac_same_padding(int32_t in, int32_t k, int32_t stride, int32_t dil, int lower, int32_t *before,
                       int32_t *after, int32_t *out);

/* Validate a convolution (Prepare step): shapes, groups, strides, computed output size == y_dims
 * (floor mode). w_dims is {n = Cout, h = KH, w = KW, c = Cin/groups}. Every dims field >= 1 and
 * each tensor below 2^40 elements. Errors: QMAC_ERR_INVALID_ARG / SHAPE. The _acc kernels call it
 * themselves and also check the buffers (dtype, zero-point range, NULL). */
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
qmac_status qmac_depthwise_conv2d_check(const qmac_conv_params *p, const qmac_dims *x_dims,
                                        const qmac_dims *w_dims, int32_t depth_mult, const qmac_dims *y_dims);
qmac_status qmac_depthwise_conv2d_acc(const qmac_conv_params *p, const qmac_dims *x_dims, const qmac_qbuf *x,
                                      const qmac_dims *w_dims, const qmac_qbuf *w, int32_t depth_mult,
                                      const int32_t *bias, const qmac_dims *y_dims, int32_t *acc);

/* Validate a prepared requantization for an output of n_ch channels (channel innermost) and type
 * y_dt (INT8/UINT8): rq->n_ch is 1 or n_ch, the arrays of its rule are present, shifts in range
 * and [act_min, act_max] within y_dt. Errors: QMAC_ERR_INVALID_ARG / SHAPE. */
qmac_status qmac_requant_check(const qmac_requant *rq, int32_t n_ch, qmac_dtype y_dt, const char *what);

/* Full quantized convolution: qmac_conv2d_acc then qmac_requant_tensor into y (y_dt INT8/UINT8).
 * scratch holds qmac_dims_count(y_dims) int32 values. */
qmac_status qmac_conv2d_q(const qmac_conv_params *p, const qmac_dims *x_dims, const qmac_qbuf *x,
                          const qmac_dims *w_dims, const qmac_qbuf *w, const int32_t *bias,
                          const qmac_requant *rq, const qmac_dims *y_dims, qmac_dtype y_dt, void *y,
                          int32_t *scratch);

/* ---------------------------------------------------------------- matmul / fully connected */

/* Validate a matmul: M, K, N >= 1 (products below 2^40), operand dtypes and zero points
 * (a.zp_ch: M entries, b.zp_ch: N entries). Errors: QMAC_ERR_INVALID_ARG / SHAPE. */
qmac_status qmac_matmul_check(int32_t M, int32_t K, int32_t N, const qmac_qbuf *a, const qmac_qbuf *b);

/* acc[m][n] = bias[n] + sum_k (a[m][k] - a.zp[m]) * (b[k][n] - b.zp[n]); bias may be NULL.
 * (ONNX MatMulInteger, the accumulator of QLinearMatMul.) */
qmac_status qmac_matmul_acc(int32_t M, int32_t K, int32_t N, const qmac_qbuf *a, const qmac_qbuf *b,
                            const int32_t *bias, int32_t *acc);

/* Validate a fully connected layer: batches, depth, cout >= 1; x per-tensor zero point; w.zp_ch
 * (if any) has cout entries. Errors: QMAC_ERR_INVALID_ARG / SHAPE. */
qmac_status qmac_fc_check(int32_t batches, int32_t depth, int32_t cout, const qmac_qbuf *x,
                          const qmac_qbuf *w);

/* TFLite fully connected: acc[b][oc] = bias[oc] + sum_d (x[b][d] - x.zp) * (w[oc][d] - w.zp[oc]). */
qmac_status qmac_fc_acc(int32_t batches, int32_t depth, int32_t cout, const qmac_qbuf *x, const qmac_qbuf *w,
                        const int32_t *bias, int32_t *acc);

/* ---------------------------------------------------------------- pooling */

typedef struct {
    int32_t k_h, k_w;
    int32_t stride_h, stride_w;
    int32_t dil_h, dil_w; /* 1 for TFLite */
    int32_t pad_top, pad_left, pad_bottom, pad_right;
} qmac_pool_params;

/* Validate a pooling window (Prepare step): kernel, stride, dilation >= 1, pads >= 0, y keeps N and
 * C, y's spatial size is the floor-mode or the ceil-mode size (qmac_conv_out_size), and every
 * output window holds at least one in-image tap. Errors: QMAC_ERR_INVALID_ARG / SHAPE. Every pool
 * kernel calls it. */
qmac_status qmac_pool_check(const qmac_pool_params *p, const qmac_dims *x_dims, const qmac_dims *y_dims);

/* Max over in-image taps, then clamp to [act_min, act_max]. x and y share dtype and quantization. */
qmac_status qmac_maxpool(const qmac_pool_params *p, const qmac_dims *x_dims, qmac_dtype dt, const void *x,
                         const qmac_dims *y_dims, int32_t act_min, int32_t act_max, void *y);

/* TFLite int8 average pool: acc = sum of in-image taps, n = their count,
 * avg = acc > 0 ? (acc + n/2)/n : (acc - n/2)/n (C truncation: ties away from zero), clamp. */
qmac_status qmac_avgpool_tflite(const qmac_pool_params *p, const qmac_dims *x_dims, qmac_dtype dt,
                                const void *x, const qmac_dims *y_dims, int32_t act_min, int32_t act_max,
                                void *y);

/* ONNX Runtime QLinearAveragePool (x86), exact float32 operation order of ORT; count_include_pad
 * chooses the divisor. x and y may have different scales, zero points (same dtype INT8/UINT8).
 * Per output (ORT clips the window to the image, not to the padded image):
 *   h0 = oy*sh - pt; h1 = min(h0 + kh, H); h0 = max(h0, 0)  (same for w)
 *   sum = 0.0f; for h in [h0,h1), w in [w0,w1): sum += x_scale * (float)(x - x_zp)   (float32, in order)
 *   avg = sum / (float)(count_include_pad ? kh*kw : (h1-h0)*(w1-w0))
 *   y = clamp((int32)nearbyintf(avg / y_scale + (float)y_zp), qmin, qmax)  (x86: out of int32 -> INT32_MIN)
 * When the kernel covers the whole image and all pads are 0, ORT uses QLinearGlobalAveragePool
 * instead (integer sum), and so does this kernel. y_dims may be the ceil-mode size. Requires
 * dilation 1 (QMAC_ERR_UNSUPPORTED) and pads < kernel (ORT rejects the model otherwise). */
qmac_status qmac_avgpool_onnxrt(const qmac_pool_params *p, int count_include_pad, const qmac_dims *x_dims,
                                qmac_dtype dt, const void *x, float x_scale, int32_t x_zp,
                                const qmac_dims *y_dims, float y_scale, int32_t y_zp, void *y);

/* ONNX Runtime QLinearGlobalAveragePool (x86 MLAS): average over H*W of each (n, c). y is [N,1,1,C].
 *   acc = sum(x) - x_zp * H*W  (int32, wraps);  scale = x_scale / (y_scale * (float)(H*W))  (float32)
 *   y = qmac_requant_float(acc, scale, y_zp, qmin, qmax)   (f = (float)acc * scale, clamp, RNE, + zp)
 * ORT rejects H*W >= 2^24 and scale outside [2^-32, 256): so does this kernel (QMAC_ERR_INVALID_ARG). */
qmac_status qmac_global_avgpool_onnxrt(const qmac_dims *x_dims, qmac_dtype dt, const void *x, float x_scale,
                                       int32_t x_zp, float y_scale, int32_t y_zp, void *y);

/* TFLite-style global average pool (Mean over H, W with equal in/out quantization): avgpool_tflite
 * with a full-image window. */
qmac_status qmac_global_avgpool_tflite(const qmac_dims *x_dims, qmac_dtype dt, const void *x, int32_t act_min,
                                       int32_t act_max, void *y);

/* ---------------------------------------------------------------- elementwise */

/* TFLite int8 Add (reference): left_shift 20, per-input multipliers; see docs/quantization.md.
 * prepare: twice_max = 2*max(sa, sb) (double); multipliers QuantizeMultiplier(sa/twice_max),
 * (sb/twice_max), (twice_max / (2^20 * sy)) -- the last must be < 1. Zero points in [-128, 255].
 * one: y = clamp(MBQM(MBQM((a-za) << 20, Ma, Sa) + MBQM((b-zb) << 20, Mb, Sb), Mo, So) + zy). */
typedef struct {
    int32_t left_shift;
    int32_t a_offset, b_offset; /* = -zero point */
    int32_t a_mult, a_shift, b_mult, b_shift;
    int32_t out_mult, out_shift;
    int32_t out_zp, act_min, act_max;
} qmac_add_tflite_params;

qmac_status qmac_add_tflite_prepare(float a_scale, int32_t a_zp, float b_scale, int32_t b_zp, float y_scale,
                                    int32_t y_zp, int32_t act_min, int32_t act_max,
                                    qmac_add_tflite_params *p);
int32_t qmac_add_tflite_one(const qmac_add_tflite_params *p, int32_t a, int32_t b);

/* ONNX Runtime QLinearAdd (x86 MLAS, AVX2 kernel; GCC contracted the scalar prologue into an FMA):
 *   rA = sA / sC; rB = sB / sC; bias = (float)zC - fmaf(rA, zA, rB * zB)
 *   y = sat(cvt_rne(fmaf(a, rA, fmaf(b, rB, bias))))   (cvt out of int32 -> INT32_MIN, then clamp)
 * This holds when both inputs are spans and when B is the broadcast scalar. When A is a single
 * element of its span (ORT's "input0 is scalar" case, see qmac_add_onnxrt_a_is_scalar: A of size
 * 1, or broadcast along the innermost output axis, or both inputs of size 1) ORT swaps the
 * operands and computes
 *   bias' = (float)zC - fmaf(rB, zB, rA * zA);  y = sat(cvt_rne(fmaf(b, rB, fmaf(a, rA, bias'))))
 * which is qmac_add_onnxrt_one_a_scalar. The two differ by 1 on rare inputs. */
typedef struct {
    float ratio_a, ratio_b; /* a_scale / y_scale, b_scale / y_scale */
    float bias;             /* y_zp - (ratio_a * a_zp + ratio_b * b_zp) in ORT's order */
    int32_t a_zp, b_zp, y_zp, qmin, qmax;
} qmac_add_onnxrt_params;

qmac_status qmac_add_onnxrt_prepare(float a_scale, int32_t a_zp, float b_scale, int32_t b_zp, float y_scale,
                                    int32_t y_zp, qmac_dtype y_dt, qmac_add_onnxrt_params *p);
int32_t qmac_add_onnxrt_one(const qmac_add_onnxrt_params *p, int32_t a, int32_t b);
int32_t qmac_add_onnxrt_one_a_scalar(const qmac_add_onnxrt_params *p, int32_t a, int32_t b);

/* Which form ORT uses for a broadcast QLinearAdd with output shape y_shape (shapes right-aligned
 * as in numpy): drop the output axes of size 1; with none left (a one-element output) A is the
 * scalar; otherwise A is the scalar of every span when its extent along the innermost remaining
 * axis is 1 (it is missing there or has size 1). Returns 1 for qmac_add_onnxrt_one_a_scalar, 0 for
 * qmac_add_onnxrt_one. Checked against onnxruntime 1.23 by tests/oracles/ort_eltwise_pool.py. */
int qmac_add_onnxrt_a_is_scalar(int32_t a_rank, const int64_t *a_shape, int32_t y_rank,
                                const int64_t *y_shape);

/* One ORT broadcast span: n = max(a_len, b_len) outputs; a_len and b_len are each 1 or n. A span
 * with a_len == 1 uses the _a_scalar form (as ORT does), any other the plain form. dt must be the
 * dtype given to prepare. Errors: QMAC_ERR_INVALID_ARG / SHAPE. */
qmac_status qmac_add_onnxrt_span(const qmac_add_onnxrt_params *p, qmac_dtype dt, const void *a, size_t a_len,
                                 const void *b, size_t b_len, void *y);

/* TFLite int8 Mul (reference): out = clamp(MBQM((a - a_zp) * (b - b_zp), mult, shift) + y_zp).
 * The caller fills the struct (mult/shift from QuantizeMultiplier(sa*sb/sy)); shift in [-31, 31].
 * The product is taken modulo 2^32 (it never wraps for 8-bit inputs). */
typedef struct {
    int32_t a_offset, b_offset; /* = -zero point */
    int32_t out_mult, out_shift, out_zp, act_min, act_max;
} qmac_mul_tflite_params;
int32_t qmac_mul_tflite_one(const qmac_mul_tflite_params *p, int32_t a, int32_t b);

typedef enum { QMAC_ACT_NONE = 0, QMAC_ACT_RELU, QMAC_ACT_RELU6, QMAC_ACT_RELU_N1_TO_1 } qmac_activation;

/* Fused-activation range in the quantized domain (TFLite CalculateActivationRangeQuantized):
 * RELU [max(qmin, zp), qmax]; RELU6 adds min(qmax, zp + round(6/scale)) (ties away from zero);
 * RELU_N1_TO_1 [max(qmin, zp + round(-1/scale)), min(qmax, zp + round(1/scale))].
 * 6/scale is a float32 division, rounded with roundf. dt INT8/UINT8/INT16/UINT16, scale finite
 * > 0, zp within dt. Errors: QMAC_ERR_INVALID_ARG. */
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
