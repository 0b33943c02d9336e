/* binary.h - binary (1-bit) quantization and binary layers, in the conventions of Larq Compute
 * Engine (LCE); packed-bit outputs use FINN/QONNX-style thresholds.
 *
 * Values are +1 or -1. Packed layout (LCE): the channel axis of an NHWC tensor (or of any row) is
 * packed into 32-bit words, channel c -> word c / 32, bit c % 32, the lowest channel in the least
 * significant bit; bit 1 means -1, bit 0 means +1; the unused tail bits of the last word are 0.
 * A packed [N, H, W, C] tensor is a uint32 array [N, H, W, ceil(C / 32)]; packed OHWI filters are
 * [Cout, KH, KW, ceil(Cin_per_group / 32)].
 *
 * Dot product of K +-1 values packed in a and w: dot = K - 2 * popcount(a XOR w) over the K valid
 * bits (in [-K, K], same parity as K).
 *
 * Nothing here allocates. */
#ifndef QMAC_BINARY_H
#define QMAC_BINARY_H

#include <stddef.h>
#include <stdint.h>

#include "qmac/kernels.h"
#include "qmac/requant.h"
#include "qmac/status.h"
#include "qmac/types.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- elementwise quantizers */

/* sign: y = x < 0 ? -1 : +1. sign(0) = sign(-0.0) = +1 (Larq math.sign); NaN gives +1. */
void qmac_sign_f32(const float *x, size_t n, int8_t *y);
/* sign of int8 codes with zero point zp (LCE): y = q < zp ? -1 : +1. */
void qmac_sign_s8(const int8_t *q, size_t n, int32_t zp, int8_t *y);
/* step (Larq ste_heaviside): y = x > 0 ? 1 : 0. step(0) = 0 (unlike sign); NaN gives 0. */
void qmac_step_f32(const float *x, size_t n, uint8_t *y);
/* step of int8 codes: y = q > zp ? 1 : 0. */
void qmac_step_s8(const int8_t *q, size_t n, int32_t zp, uint8_t *y);

/* ---------------------------------------------------------------- packing */

/* Words per packed row of `channels` bits: ceil(channels / 32). */
static inline int32_t qmac_bwords(int32_t channels)
{
    return (channels + 31) / 32;
}

/* Pack rows of `channels` values (NHWC: rows = N*H*W) into rows of qmac_bwords(channels) words.
 * Bit = x < 0 (float) or q < zp (int8). Errors: QMAC_ERR_INVALID_ARG if channels < 1. */
qmac_status qmac_bpack_f32(const float *x, size_t rows, int32_t channels, uint32_t *packed);
qmac_status qmac_bpack_s8(const int8_t *q, int32_t zp, size_t rows, int32_t channels, uint32_t *packed);

/* Unpack to +-1 (tail bits ignored). Errors: QMAC_ERR_INVALID_ARG if channels < 1. */
qmac_status qmac_bunpack_f32(const uint32_t *packed, size_t rows, int32_t channels, float *x);
qmac_status qmac_bunpack_s8(const uint32_t *packed, size_t rows, int32_t channels, int8_t *y);

/* Number of set bits of a word (portable SWAR, no compiler builtin). */
int32_t qmac_popcount32(uint32_t v);

/* XNOR-popcount dot product of k_bits >= 0 valid bits: k_bits - 2 * popcount(a XOR w), with the
 * bits beyond k_bits in the last word masked off (so dirty tail bits do not matter). */
int32_t qmac_bdot(const uint32_t *a, const uint32_t *w, int32_t k_bits);

/* ---------------------------------------------------------------- binary layers */

typedef enum {
    /* Out-of-image taps are +1 activations (bit 0): LCE's native "one padding". Each padded tap
     * contributes sum over its Cin bits of w (= Cin - 2 * popcount(w_tap)). */
    QMAC_BPAD_ONE = 0,
    /* Out-of-image taps contribute 0 (as zero-padding of a +-1 input in float would): dot counts
     * only the in-image taps, so K varies at the borders. */
    QMAC_BPAD_ZERO = 1
} qmac_bpad;

typedef enum {
    QMAC_BOUT_INT32 = 0, /* y is int32 [.., Cout]: the raw dot                                     */
    QMAC_BOUT_INT8 = 1,  /* y is int8 [.., Cout]: qmac_requant_one(rq, c, dot + bias[c])           */
    QMAC_BOUT_BITS = 2   /* y is uint32 [.., ceil(Cout/32)]: packed bits from thresholds (below)   */
} qmac_bout_kind;

/* Output stage of a binary layer.
 * INT8: acc = dot + bias[c] (int32, wrapping modulo 2^32; bias may be NULL = 0), then
 *   y = qmac_requant_one(rq, c, acc); rq->n_ch is 1 or Cout and [act_min, act_max] lies in
 *   [-128, 127].
 * BITS: per output channel c, with t = tau[c] and f = flip ? flip[c] : 0:
 *   f == 0: the output is +1 (bit 0) iff dot >= t, else -1 (bit 1);
 *   f != 0: the output is +1 (bit 0) iff dot <= t, else -1 (bit 1)   (a negative scale).
 *   Ties (dot == t) give +1 in both cases: the tie goes to the value that the real output
 *   s*dot + b == 0 has under sign(0) = +1, and for f == 0 this is QONNX MultiThreshold's
 *   "[x >= T] counts" (ties go up). qmac_bthreshold_from_affine() derives (tau, flip) from a
 *   float scale and bias. Tail bits of the last output word are 0. */
typedef struct {
    qmac_bout_kind kind;
    const int32_t *bias;    /* INT8: [Cout] or NULL                */
    const qmac_requant *rq; /* INT8                                */
    const int32_t *tau;     /* BITS: [Cout]                        */
    const uint8_t *flip;    /* BITS: [Cout] or NULL (no flips)     */
} qmac_bout;

/* (tau, flip) such that the BITS rule reproduces sign(scale * dot + bias) (sign(0) = +1) for
 * every integer dot in [-2^24, 2^24], with scale * dot + bias evaluated in float32 (one multiply
 * then one add, not fused). scale == 0 gives a constant output (tau = INT32_MIN, or INT32_MAX
 * when bias < 0; flip 0). Errors: QMAC_ERR_INVALID_ARG for a NaN or infinite scale or bias. */
qmac_status qmac_bthreshold_from_affine(float scale, float bias, int32_t *tau, uint8_t *flip);

/* Binary convolution parameters: stride, dilation, explicit padding and groups as in
 * qmac_conv_params; with groups > 1 Cin/groups must be a multiple of 32 (word-aligned groups,
 * as LCE requires). */
typedef struct {
    qmac_conv_params conv;
    qmac_bpad pad;
} qmac_bconv_params;

/* Binary 2-D convolution (LCE bconv2d), reference:
 *   x: packed NHWC input, x_dims = {N, H, W, Cin} (Cin counted in channels, i.e. bits);
 *   w: packed OHWI filters, w_dims = {Cout, KH, KW, Cin/groups};
 *   y: y_dims = {N, OH, OW, Cout} with OH = (H + pt + pb - ((KH-1)*dh + 1)) / sh + 1 (floor) and
 *      the same for OW; layout per out->kind (for BITS, y is [N, OH, OW, ceil(Cout/32)] words).
 *   dot[n][oy][ox][oc] = sum over (ky, kx) of the tap dot product over Cin/groups bits of group
 *   g = oc / (Cout/groups), tap (iy, ix) = (oy*sh - pt + ky*dh, ox*sw - pl + kx*dw), out-of-image
 *   taps handled per p->pad.
 * Errors: QMAC_ERR_INVALID_ARG / QMAC_ERR_SHAPE naming the bad parameter; nothing is written then. */
qmac_status qmac_bconv2d(const qmac_bconv_params *p, const qmac_dims *x_dims, const uint32_t *x,
                         const qmac_dims *w_dims, const uint32_t *w, const qmac_bout *out,
                         const qmac_dims *y_dims, void *y);

/* Binary fully connected layer: x packed [batches, ceil(depth/32)], w packed [cout,
 * ceil(depth/32)], dot[b][c] = qmac_bdot(x_b, w_c, depth); y [batches, cout] (BITS: [batches,
 * ceil(cout/32)] words). Errors: QMAC_ERR_INVALID_ARG. */
qmac_status qmac_bdense(int32_t batches, int32_t depth, int32_t cout, const uint32_t *x, const uint32_t *w,
                        const qmac_bout *out, void *y);

/* XNOR-Net scaling factor: alpha[c] = mean |w| over filter c, for cout filters of `per_filter`
 * contiguous floats each (OHWI: per_filter = KH*KW*Cin). The sum is accumulated in double in
 * index order and alpha[c] = (float)(sum / per_filter). Errors: QMAC_ERR_INVALID_ARG if
 * per_filter == 0 or cout < 1. */
qmac_status qmac_xnor_alpha(const float *w, int32_t cout, size_t per_filter, float *alpha);

#ifdef __cplusplus
}
#endif
#endif /* QMAC_BINARY_H */
