/* conv_prog.h - the accelerator program of one quantized 2-D convolution (docs/compiler.md,
 * "Convolution as strided GEMMs"): no im2col, every (ky, kx, input group) tap one GEMM that
 * streams the output tile's pixels through one weight tile, requantization fused into the last.
 *
 * Layouts (N = the array dim; Gx = ceil(cin / N), Gy = ceil(cout / N)):
 *   x  h x w pixels of Gx rows of N bytes (NHWC, channels padded to Gx N), at x_addr
 *   y  oh x ow pixels of Gy rows, at y_addr; padding channels come out as out_zp
 *      (omode BIN: pixels of ceil(Gy / 8) rows, output group o in bits [(o % 8) N, (o % 8) N + N)
 *      of row o / 8; bits no group writes are 0)
 *   weights  the tiles written by qmac_conv_prog_pack_weights(), at w_addr
 *   params   qmac_gemm_prog_pack_params() of Gy N columns (padding columns: bias 0, mult 0)
 *
 * One image, tiled over output rows: a layer whose single output row (with its input rows) does
 * not fit the buffers is refused. Grouped and depthwise convolutions: output group o (N output
 * channels) reads the `span` input groups that hold its convolution groups' input channels (the
 * widest such span, the same for every o); weight entries between channels of different
 * convolution groups are the weight zero point, so they add nothing (depthwise: diagonal tiles,
 * 1/N of the MACs useful).
 * Schedule: CONFIG, LOAD of the whole parameter table into ACC, PARAM per output group; per row
 * tile: LOAD of the padded input rows (two INP slots when they fit), then per output group the
 * weight tiles (loaded once when all fit WGT, else per use into two slots of a whole group's
 * taps, or of half of WGT each when a group's taps are more: the reduction split in chunks),
 * kh kw span GEMMs (accum after the first, post on the last into one of two OUT slots), a STORE.
 * END. */
#ifndef QMAC_CONV_PROG_H
#define QMAC_CONV_PROG_H

#include <stddef.h>
#include <stdint.h>

#include "qmac/isa.h"
#include "qmac/prog.h"
#include "qmac/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    uint32_t h, w, cin, cout;            /* input size, channels */
    uint32_t kh, kw;                     /* kernel */
    uint32_t stride_h, stride_w;         /* >= 1 */
    uint32_t dil_h, dil_w;               /* >= 1 */
    uint32_t pad_t, pad_l, pad_b, pad_r; /* padding pixels (filled with act_zp) */
    uint32_t groups; /* 0 or 1: dense; else divides cin and cout (groups = cin: depthwise) */
    uint32_t x_addr, y_addr, w_addr, param_addr; /* multiples of N */
    uint32_t act_signed, wgt_signed, act_zp;     /* as CONFIG */
    uint32_t rule, omode, out_zp, clamp_min, clamp_max;
    uint32_t bin;       /* CONFIG bin: XNOR-popcount; cin counts bytes of 8 packed channels */
    uint32_t zero_addr; /* omode BIN with Gy % 8 != 0: N zero bytes (fill the unwritten bit groups) */
} qmac_conv_prog_desc;

/* What qmac_conv_prog_build chose. */
typedef struct {
    uint32_t oh, ow;               /* output size */
    uint32_t rows_per_tile, tiles; /* output rows per row tile, row tiles */
    uint32_t inp_slots, out_slots; /* 1 or 2 */
    int weights_resident;          /* all weight tiles loaded once */
    size_t n_insn;                 /* instructions, END included */
    uint64_t vectors;              /* sum of GEMM L */
    uint64_t macs;                 /* useful MACs: oh ow cout kh kw cin / groups */
} qmac_conv_prog_info;

/* Output size of the layer (0 when the kernel does not fit the padded input). */
uint32_t qmac_conv_prog_out_h(const qmac_conv_prog_desc *d);
uint32_t qmac_conv_prog_out_w(const qmac_conv_prog_desc *d);

/* Bytes of the weight tiles: kh kw span Gy N^2 (span = Gx when dense). */
size_t qmac_conv_prog_weight_bytes(const qmac_hw_config *cfg, const qmac_conv_prog_desc *d);

/* Write the weight tiles from OHWI weights w [cout][kh][kw][cin] (bytes) with per-output-channel
 * zero points wzp [cout] (bytes, may be NULL: 0). Tile (o, ky, kx, g) is at index
 * ((o kh + ky) kw + kx) Gx + g; its row k, byte n is w[oN + n][ky][kx][gN + k], wzp[oN + n] for
 * input channels past cin, 0 for output channels past cout. Grouped: w is [cout][kh][kw][cin /
 * groups] and tile (o, ky, kx, j) holds the j-th input group of o's span; entries across
 * convolution groups are wzp[oN + n]. */
void qmac_conv_prog_pack_weights(const qmac_hw_config *cfg, const qmac_conv_prog_desc *d, const uint8_t *w,
                                 const uint8_t *wzp, uint8_t *tiles);

/* Append the program to p. Errors: QMAC_ERR_INVALID_ARG (sizes, addresses not multiples of N or
 * beyond 2^32, padding wider than a LOAD's 255 pad rows, a bad enum or clamp, a layer the buffers
 * cannot hold even one output row of, more output groups than ACC holds parameter rows for: the
 * detail says which), QMAC_ERR_NOMEM. */
qmac_status qmac_conv_prog_build(const qmac_hw_config *cfg, const qmac_conv_prog_desc *d, qmac_prog *p,
                                 qmac_conv_prog_info *info);

#ifdef __cplusplus
}
#endif
#endif /* QMAC_CONV_PROG_H */
