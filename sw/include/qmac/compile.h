/* compile.h - the compiler: a quantized graph (graph.h) lowered to one accelerator program, its
 * read-only data image and the memory map a driver needs (docs/compiler.md, docs/formats.md).
 *
 *   graph --qmac_compile--> qmac_model { program, data image, arena, boundary tensors, layers }
 *   inputs --qmac_model_run(golden | caller's backend)--> outputs  ==  qmac_exec_ref(graph)
 *
 * Memory map (one window [base, base + size)):
 *   [base, data_addr)          activation arena: every accelerator tensor, reused by liveness
 *   [data_addr, prog_addr)     data image: weight tiles and parameter tables (read-only)
 *   [prog_addr, end)           the program (32 bytes per instruction)
 *
 * Host steps. The accelerator has no float path, so a QuantizeLinear of a graph input (and
 * reshapes before it) runs on the host before the program, a DequantizeLinear whose result only
 * reaches graph outputs (and reshapes after it) after it: the driver's "one float step". Every
 * other node must become an accelerator layer, else compilation fails naming the node. */
#ifndef QMAC_COMPILE_H
#define QMAC_COMPILE_H

#include <stddef.h>
#include <stdint.h>

#include "qmac/graph.h"
#include "qmac/isa.h"
#include "qmac/prog.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    qmac_hw_config hw;      /* the build the program is for */
    qmac_requant_rule rule; /* requantization rule of conv/matmul (as qmac_exec_ref) */
    uint32_t base;          /* first byte of the window (multiple of 4096) */
    /* The graph inputs' shapes are those of inputs[k] (g->n_inputs tensors; only rank and shape
     * are read); NULL: the declared shapes, symbolic dimensions taken as 1. */
    const qmac_tensor *inputs;
    int keep_all; /* give every tensor its own bytes (no reuse), so all survive the run (cosim) */
} qmac_compile_opts;

/* Fill o with the default build, rule onnxrt, base 0, declared shapes. */
void qmac_compile_opts_default(qmac_compile_opts *o);

/* A tensor in accelerator memory that the host writes (a model input) or reads (an output).
 * Layout "channels innermost": the tensor's elements are indexed by (pixel, channel) where
 * channel is the index along axis `cax` and pixel the row-major index over all other axes; pixel
 * p occupies groups = ceil(channels / N) rows of N bytes at addr + p groups N, channel c at byte
 * c; bytes of channels >= channels are `fill` on input (ignored on output). For NCHW that is
 * NHWC with the channels padded to a multiple of N. */
/* An input read only by a convolution with few channels, written by the host as that
 * convolution's windows: [batch, C, H, W] (H = 1 for 1-D) becomes pixels (b, oy, ox) of
 * batch * out[0] * out[1], channel (ky kernel[1] + kx) C + c =
 * x[b, c, oy strides[0] + ky dilations[0] - pads[0], ox strides[1] + kx dilations[1] - pads[1]]
 * (fill outside the image); the convolution becomes 1 x 1 over C kernel[0] kernel[1] channels.
 * Pairs are [H, W]; pads are the leading ones. */
typedef struct {
    int on;
    uint32_t kernel[2], strides[2], dilations[2], pads[2], out[2];
} qmac_im2col;

typedef struct {
    char *name; /* the graph value */
    int32_t value;
    qmac_dtype dtype; /* INT8 or UINT8 */
    int32_t rank;
    int64_t shape[QMAC_MAX_RANK];
    int32_t cax; /* channel axis */
    uint32_t addr, pixels, channels, groups;
    uint32_t inner;     /* pixels per index of the axes before the channel axis */
    uint8_t fill;       /* padding-channel byte written by the host (the zero point) */
    int packed;         /* bipolar codes packed 8 per byte (binary layers): channel c is bit c % 8 of
                           byte c / 8 of the pixel's rows, 1 = -1; groups = ceil(channels / 8N) */
    qmac_im2col im2col; /* on: the host writes a convolution's windows instead (above) */
} qmac_model_tensor;

/* One accelerator layer: instructions [insn_first, insn_end) of the program. */
typedef struct {
    char *name;       /* the graph node */
    const char *kind; /* "conv", "matmul", ... (static) */
    char *onnx_ops;   /* the ONNX op(s) it came from */
    int32_t node;     /* node index in the graph */
    size_t insn_first, insn_end;
    uint64_t macs;                /* useful multiply-accumulates (binary layers: of 1-bit values) */
    int binary;                   /* runs in the array's binary mode: 8 N^2 MACs per vector */
    uint64_t vectors;             /* vectors through the array (the array is busy one cycle each) */
    uint64_t bytes_in, bytes_out; /* bytes LOADed / STOREd (weights and parameters included) */
    uint64_t cycles;              /* cycle-model cycles (qmac_model_estimate; 0 before) */
    qmac_model_tensor y;          /* where its output is (name NULL: the node's output value) */
} qmac_model_layer;

typedef struct {
    qmac_hw_config hw;
    qmac_requant_rule rule;
    uint32_t base, size;           /* window [base, base + size) */
    uint32_t arena_size;           /* activation bytes at base */
    uint32_t data_addr, data_size; /* data image */
    uint8_t *data;
    uint32_t prog_addr;
    qmac_prog prog;              /* ends with END */
    qmac_model_tensor *in, *out; /* written / read by the host */
    int32_t n_in, n_out;
    int32_t *host_pre, *host_post; /* graph nodes run on the host before / after the program */
    int32_t n_host_pre, n_host_post;
    qmac_model_layer *layers;
    int32_t n_layers;
    uint64_t total_cycles; /* cycle model (qmac_model_estimate; 0 before) */
} qmac_model;

/* Compile g. On error *out is NULL and the message names the node (or value) at fault and why:
 * QMAC_ERR_UNSUPPORTED (an op, type, layout or rule the accelerator cannot compute bit-exactly),
 * QMAC_ERR_SHAPE, QMAC_ERR_INVALID_ARG (options, a layer beyond the buffers), QMAC_ERR_NOMEM. */
qmac_status qmac_compile(const qmac_graph *g, const qmac_compile_opts *o, qmac_model **out);
void qmac_model_free(qmac_model *m);

/* Run the program on the C cycle model (data-independent: the arena is zero) and fill each
 * layer's cycles (retire of its last instruction minus the previous layer's) and total_cycles. */
qmac_status qmac_model_estimate(qmac_model *m);

/* The memory image of one run: size bytes for [base, base + size), data and program in place,
 * the arena zero. The caller frees it. */
qmac_status qmac_model_image(const qmac_model *m, uint8_t **image);

/* Runs the program on a memory image; returns QMAC_OK when it reached END (else an error saying
 * why, e.g. the fault and its instruction). */
typedef qmac_status (*qmac_model_backend)(void *ctx, const qmac_model *m, uint8_t *image);

/* Read tensor t out of a memory image (t's dtype and shape; *out allocated here) / write x into
 * it (padding channels = t->fill). */
qmac_status qmac_model_read(const qmac_model *m, const uint8_t *image, const qmac_model_tensor *t,
                            qmac_tensor *out);
void qmac_model_write(const qmac_model *m, uint8_t *image, const qmac_model_tensor *t, const qmac_tensor *x);

/* The golden model as a backend (ctx unused). */
qmac_status qmac_model_backend_golden(void *ctx, const qmac_model *m, uint8_t *image);

/* Run the compiled model: check inputs against the graph, host steps before, write the input
 * tensors into the image, run the backend, read the output tensors, host steps after. outputs
 * (g->n_outputs, zeroed here) receive owned tensors. g must be the graph m was compiled from
 * with the same input shapes. */
qmac_status qmac_model_run(const qmac_graph *g, const qmac_model *m, const qmac_tensor *inputs,
                           int32_t n_inputs, qmac_model_backend backend, void *ctx, qmac_tensor *outputs);

#ifdef __cplusplus
}
#endif
#endif /* QMAC_COMPILE_H */
