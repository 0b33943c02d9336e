/* accel_progs.c - directed and random programs for the accelerator co-simulation (accel_progs.h). */
#include "accel_progs.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qmac/gemm_prog.h"
#include "qmac/requant.h"
#include "simctl.h"

/* Memory layout of every case: the program at MEM_BASE (up to 1024 instructions), LOAD sources in
 * [DATA_LO, MEM_END), STORE targets in [STORE_LO, MEM_END) (so STOREs never hit the program, and
 * LOADs may read what STOREs wrote). */
#define MEM_BASE 0x00100000u
#define MEM_SIZE 0x00080000u
#define MEM_END (MEM_BASE + MEM_SIZE)
#define DATA_LO (MEM_BASE + 0x8000u)
#define STORE_LO (MEM_BASE + 0x40000u)

typedef struct {
    const qmac_hw_config *cfg;
    uint32_t n, rba; /* N and the ACC row bytes */
    simctl_rng rng;
    accel_case *c;
    qmac_status st;
} ctx;

/* ---------------------------------------------------------------------------------------------
 * Builders: each instruction a QMAC_INSN_<OP>(...) compound literal (sw/include/qmac/isa_gen.h)
 * with its fields named, zero fields left out
 * ------------------------------------------------------------------------------------------- */

/* A LOAD / STORE of .x_size contiguous rows of buffer b (one line, one plane) for case context x;
 * the other fields (.dram, .sram, .x_size) are named by the caller. */
#define LOAD_ROWS(x, b, ...)                                                                                 \
    QMAC_INSN_LOAD(.buf = (b), .y_size = 1, .z_size = 1, .x_stride = row_bytes(x, b), __VA_ARGS__)
#define STORE_ROWS(x, b, ...)                                                                                \
    QMAC_INSN_STORE(.buf = (b), .y_size = 1, .z_size = 1, .x_stride = row_bytes(x, b), __VA_ARGS__)

static void put(ctx *x, qmac_insn in)
{
    if (x->st != QMAC_OK)
        return;
    x->st = qmac_prog_push(&x->c->prog, &in);
}

static void emit_words(ctx *x, const uint32_t *w)
{
    if (x->st == QMAC_OK)
        x->st = qmac_prog_push_words(&x->c->prog, w);
}

/* Bytes of one row of buffer buf. */
static uint32_t row_bytes(const ctx *x, uint32_t buf)
{
    return buf == QMAC_BUF_ACC ? x->rba : x->n;
}

/* An 8-bit CONFIG value (zero point or clamp bound, int8 or uint8 as the mode says) as its field:
 * -3 -> 0xfd. */
static uint32_t field8(int32_t v)
{
    return (uint32_t)v & 0xffu;
}

/* ---------------------------------------------------------------------------------------------
 * Memory
 * ------------------------------------------------------------------------------------------- */

static uint8_t *at(ctx *x, uint32_t addr)
{
    return x->c->mem + (addr - x->c->run.mem_base);
}

static void put32(ctx *x, uint32_t addr, uint32_t v)
{
    uint8_t *p = at(x, addr);
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static uint32_t f32_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

/* Three ACC rows at addr: bias, multiplier (or float scale / BIN threshold), shift | wgt_zp << 8. */
static void put_params(ctx *x, uint32_t addr, uint32_t rule, bool bin_thresholds)
{
    for (uint32_t l = 0; l < x->n; l++) {
        const int32_t bias = (int32_t)simctl_rng_below(&x->rng, 2001) - 1000;
        uint32_t mult;
        int32_t shift;
        if (bin_thresholds) {
            mult = (uint32_t)((int32_t)simctl_rng_below(&x->rng, 201) - 100);
            shift = (int32_t)simctl_rng_below(&x->rng, 2);
        } else if (rule == QMAC_RULE_FLOAT) {
            mult = f32_bits((float)(1.0 + simctl_rng_below(&x->rng, 1000)) * 1e-4f);
            shift = 0;
        } else {
            mult = 0x40000000u + simctl_rng_below(&x->rng, 0x3fffffffu);
            shift = -(int32_t)simctl_rng_below(&x->rng, 12);
        }
        const uint32_t zp = simctl_rng_below(&x->rng, 256);
        put32(x, addr + 4 * l, (uint32_t)bias);
        put32(x, addr + x->rba + 4 * l, mult);
        put32(x, addr + 2 * x->rba + 4 * l, ((uint32_t)shift & 0xffu) | zp << 8);
    }
}

/* ---------------------------------------------------------------------------------------------
 * Cases
 * ------------------------------------------------------------------------------------------- */

static qmac_status case_init(ctx *x, accel_case *c, const qmac_hw_config *cfg, uint64_t seed,
                             const char *name)
{
    memset(c, 0, sizeof *c);
    memset(x, 0, sizeof *x);
    x->cfg = cfg;
    x->n = cfg->dim;
    x->rba = 4u * cfg->dim;
    x->c = c;
    simctl_rng_seed(&x->rng, seed);
    snprintf(c->name, sizeof c->name, "%s", name);
    qmac_prog_init(&c->prog);
    c->mem = malloc(MEM_SIZE);
    if (!c->mem)
        return qmac_set_error(QMAC_ERR_NOMEM, "case %s: out of memory", name);
    for (uint32_t i = 0; i < MEM_SIZE; i += 8) {
        const uint64_t r = simctl_rng_u64(&x->rng);
        memcpy(c->mem + i, &r, 8);
    }
    c->run.name = c->name;
    c->run.mem_base = MEM_BASE;
    c->run.mem_size = MEM_SIZE;
    c->run.mem_init = c->mem;
    c->run.prog_addr = MEM_BASE;
    c->run.win = (qmac_window){MEM_BASE, MEM_END - 1u};
    return QMAC_OK;
}

/* Copy the program into memory at prog_addr and point the run at it. */
static qmac_status case_finish(ctx *x)
{
    accel_case *c = x->c;
    if (x->st != QMAC_OK)
        return qmac_set_error(x->st, "case %s: %s", c->name, qmac_last_error());
    const uint64_t bytes = (uint64_t)c->prog.n_insn * QMAC_INSN_BYTES;
    const uint64_t off = (uint64_t)c->run.prog_addr - c->run.mem_base;
    if (c->run.prog_addr < c->run.mem_base || off + bytes > c->run.mem_size)
        return qmac_set_error(QMAC_ERR_INVALID_ARG, "case %s: the program does not fit the memory", c->name);
    for (size_t i = 0; i < c->prog.n_insn * QMAC_INSN_WORDS; i++) {
        const uint32_t w = c->prog.words[i];
        uint8_t *p = c->mem + off + 4 * i;
        p[0] = (uint8_t)w;
        p[1] = (uint8_t)(w >> 8);
        p[2] = (uint8_t)(w >> 16);
        p[3] = (uint8_t)(w >> 24);
    }
    c->run.words = c->prog.words;
    c->run.n_insn = c->prog.n_insn;
    return QMAC_OK;
}

void accel_case_free(accel_case *c)
{
    if (!c)
        return;
    qmac_prog_free(&c->prog);
    free(c->mem);
    memset(c, 0, sizeof *c);
}

/* ---------------------------------------------------------------------------------------------
 * Directed programs
 * ------------------------------------------------------------------------------------------- */

#define D(k) (DATA_LO + (uint32_t)(k)*0x1000u)  /* LOAD sources, 4 KiB apart */
#define S(k) (STORE_LO + (uint32_t)(k)*0x1000u) /* STORE targets */

static void p_nop_fence_end(ctx *x)
{
    put(x, QMAC_INSN_NOP());
    put(x, QMAC_INSN_FENCE());
    put(x, LOAD_ROWS(x, QMAC_BUF_INP, .dram = D(0), .x_size = 4));
    put(x, QMAC_INSN_FENCE());
    put(x, QMAC_INSN_NOP());
    put(x, STORE_ROWS(x, QMAC_BUF_INP, .dram = S(0), .x_size = 4));
    put(x, QMAC_INSN_FENCE());
    put(x, QMAC_INSN_END());
}

static void p_load_store_every_buf(ctx *x)
{
    const uint32_t n = x->n, a = x->rba;
    put(x, LOAD_ROWS(x, QMAC_BUF_INP, .dram = D(0), .sram = 3, .x_size = 7));
    put(x, LOAD_ROWS(x, QMAC_BUF_WGT, .dram = D(1), .sram = 5, .x_size = 9));
    put(x, LOAD_ROWS(x, QMAC_BUF_ACC, .dram = D(2), .sram = 2, .x_size = 6)); /* contiguous ACC rows */
    put(x, QMAC_INSN_LOAD(.buf = QMAC_BUF_ACC, .dram = D(3), .sram = 10, .x_size = 3, .y_size = 2,
                          .z_size = 1, .x_stride = 2 * a, .y_stride = 7 * a)); /* strided ACC rows */
    put(x, QMAC_INSN_LOAD(.buf = QMAC_BUF_OUT, .dram = D(4), .sram = 1, .x_size = 5, .y_size = 1, .z_size = 1,
                          .x_stride = 3 * n));
    put(x, STORE_ROWS(x, QMAC_BUF_INP, .dram = S(0), .sram = 3, .x_size = 7));
    put(x, QMAC_INSN_STORE(.buf = QMAC_BUF_WGT, .dram = S(1), .sram = 5, .x_size = 9, .y_size = 1,
                           .z_size = 1, .x_stride = 2 * n));
    put(x, STORE_ROWS(x, QMAC_BUF_ACC, .dram = S(2), .sram = 2, .x_size = 12));
    put(x, QMAC_INSN_STORE(.buf = QMAC_BUF_ACC, .dram = S(3), .sram = 10, .x_size = 2, .y_size = 3,
                           .z_size = 1, .x_stride = 3 * a, .y_stride = a));
    put(x, STORE_ROWS(x, QMAC_BUF_OUT, .dram = S(4), .sram = 1, .x_size = 5));
    put(x, QMAC_INSN_END());
}

static void p_load_pad_3d(ctx *x)
{
    const uint32_t n = x->n, a = x->rba;
    /* 2 planes of 3 lines of 3 rows, strided, with 1/2 padding rows and 1/1 padding lines */
    put(x, QMAC_INSN_LOAD(.buf = QMAC_BUF_INP, .dram = D(0), .x_size = 3, .y_size = 3, .z_size = 2,
                          .x_stride = 2 * n, .y_stride = 8 * n, .z_stride = 32 * n, .pad_x0 = 1, .pad_x1 = 2,
                          .pad_y0 = 1, .pad_y1 = 1, .pad_value = 0x5a));
    put(x,
        QMAC_INSN_STORE(.buf = QMAC_BUF_INP, .dram = S(0), .x_size = 6, .y_size = 5, .z_size = 2,
                        .x_stride = n, .y_stride = 6 * n, .z_stride = 30 * n)); /* 60 rows back, contiguous */
    put(x, QMAC_INSN_LOAD(.buf = QMAC_BUF_ACC, .dram = D(2), .sram = 4, .x_size = 2, .y_size = 2, .z_size = 1,
                          .x_stride = a, .y_stride = 3 * a, .pad_x0 = 1, .pad_y1 = 1, .pad_value = 0x81));
    put(x, STORE_ROWS(x, QMAC_BUF_ACC, .dram = S(4), .sram = 4, .x_size = 9));
    put(x, QMAC_INSN_LOAD(.buf = QMAC_BUF_OUT, .dram = D(3), .sram = 7, .x_size = 4, .y_size = 1, .z_size = 3,
                          .x_stride = n, .z_stride = 5 * n, .pad_x0 = 2, .pad_x1 = 2, .pad_value = 0xff));
    put(x, STORE_ROWS(x, QMAC_BUF_OUT, .dram = S(5), .sram = 7, .x_size = 24));
    put(x, QMAC_INSN_LOAD(.buf = QMAC_BUF_WGT, .dram = D(4), .x_size = 1, .y_size = 2, .z_size = 1,
                          .x_stride = 0, .y_stride = n, .pad_x1 = 1, .pad_y0 = 2,
                          .pad_value = 0x11)); /* 2 lines n rows apart, padded */
    put(x, STORE_ROWS(x, QMAC_BUF_WGT, .dram = S(6), .x_size = 8));
    put(x, QMAC_INSN_END());
}

static void p_bursts_4k(ctx *x)
{
    const uint32_t n = x->n, a = x->rba;
    /* 40 contiguous rows starting 2 rows before a 4 KiB boundary: bursts cut at 4 KiB and 16 beats */
    put(x, LOAD_ROWS(x, QMAC_BUF_INP, .dram = D(2) - 2 * n, .x_size = 40));
    put(x,
        LOAD_ROWS(x, QMAC_BUF_ACC, .dram = D(4) - a - 2 * n, .x_size = 10)); /* ACC rows straddling 4 KiB */
    put(x, QMAC_INSN_LOAD(.buf = QMAC_BUF_ACC, .dram = D(6) - 2 * n, .sram = 16, .x_size = 3, .y_size = 1,
                          .z_size = 1, .x_stride = 2 * a));
    put(x, STORE_ROWS(x, QMAC_BUF_INP, .dram = S(2) - 3 * n, .x_size = 40));
    put(x, STORE_ROWS(x, QMAC_BUF_ACC, .dram = S(4) - 2 * n, .x_size = 19));
    put(x, QMAC_INSN_STORE(.buf = QMAC_BUF_ACC, .dram = S(8) - n, .sram = 2, .x_size = 5, .y_size = 1,
                           .z_size = 1, .x_stride = 3 * a));
    put(x, QMAC_INSN_END());
}

static void p_degenerate_dma(ctx *x)
{
    const uint32_t n = x->n;
    put(x, QMAC_INSN_LOAD(.buf = QMAC_BUF_INP, .dram = D(0), .x_size = 3, .y_size = 1, .z_size = 0,
                          .x_stride = n)); /* z = 0: nothing */
    put(x, QMAC_INSN_LOAD(.buf = QMAC_BUF_INP, .dram = D(0), .sram = 4, .x_size = 3, .y_size = 0, .z_size = 2,
                          .x_stride = n, .pad_x0 = 1, .pad_x1 = 1, .pad_y0 = 2, .pad_y1 = 1,
                          .pad_value = 0x33)); /* padding rows only */
    put(x, QMAC_INSN_LOAD(.buf = QMAC_BUF_OUT, .dram = D(0), .sram = 2, .x_size = 0, .y_size = 2, .z_size = 1,
                          .x_stride = n, .pad_x0 = 2, .pad_value = 0x44)); /* x = 0, padding rows only */
    put(x, QMAC_INSN_STORE(.buf = QMAC_BUF_INP, .dram = S(0), .sram = 4, .x_size = 0, .y_size = 1,
                           .z_size = 1, .x_stride = n)); /* x = 0: nothing */
    put(x, STORE_ROWS(x, QMAC_BUF_INP, .dram = S(1), .x_size = 30));
    put(x, STORE_ROWS(x, QMAC_BUF_OUT, .dram = S(2), .x_size = 8));
    put(x, QMAC_INSN_END());
}

/* weights, inputs and parameters of a GEMM test */
static void gemm_setup(ctx *x, uint32_t rule, bool bin_thr, uint32_t inp_rows)
{
    const uint32_t n = x->n;
    put_params(x, D(7), rule, bin_thr);
    put(x, LOAD_ROWS(x, QMAC_BUF_ACC, .dram = D(7), .sram = 60, .x_size = 3));
    put(x, QMAC_INSN_PARAM(.acc = 60));
    put(x, LOAD_ROWS(x, QMAC_BUF_WGT, .dram = D(0), .x_size = 2 * n)); /* two tiles */
    put(x, LOAD_ROWS(x, QMAC_BUF_INP, .dram = D(1), .x_size = inp_rows));
}

static void p_gemm_s8(ctx *x)
{
    put(x,
        QMAC_INSN_CONFIG(.act_signed = 1, .wgt_signed = 1, .rule = QMAC_RULE_TFLITE, .omode = QMAC_OMODE_S8,
                         .act_zp = field8(-3), .clamp_min = 0x80, .clamp_max = 0x7f));
    gemm_setup(x, QMAC_RULE_TFLITE, false, 24);
    put(x, QMAC_INSN_GEMM(.count0 = 12, .count1 = 2, .inp_s0 = 1, .inp_s1 = 12, .acc_s0 = 1, .acc_s1 = 12));
    put(x, STORE_ROWS(x, QMAC_BUF_ACC, .dram = S(0), .x_size = 24));
    put(x, QMAC_INSN_END());
}

static void p_gemm_u8_zp(ctx *x)
{
    put(x,
        QMAC_INSN_CONFIG(.rule = QMAC_RULE_TFLITE, .omode = QMAC_OMODE_U8, .act_zp = 128, .clamp_max = 255));
    gemm_setup(x, QMAC_RULE_TFLITE, false, 20);
    put(x, QMAC_INSN_GEMM(.wgt = x->n, .acc = 4, .count0 = 5, .count1 = 4, .inp_s0 = 2, .inp_s1 = 1,
                          .acc_s0 = 1, .acc_s1 = 5));
    put(x, QMAC_INSN_CONFIG(.wgt_signed = 1, .rule = QMAC_RULE_TFLITE, .omode = QMAC_OMODE_U8, .act_zp = 7,
                            .clamp_max = 255));
    put(x, QMAC_INSN_GEMM(.inp = 3, .acc = 30, .count0 = 9, .count1 = 1, .inp_s0 = 1, .acc_s0 = 1));
    put(x, STORE_ROWS(x, QMAC_BUF_ACC, .dram = S(0), .x_size = 40));
    put(x, QMAC_INSN_END());
}

static void p_gemm_accum(ctx *x)
{
    put(x, QMAC_INSN_CONFIG(.act_signed = 1, .rule = QMAC_RULE_TFLITE, .omode = QMAC_OMODE_S8,
                            .clamp_min = 0x80, .clamp_max = 0x7f));
    gemm_setup(x, QMAC_RULE_TFLITE, false, 16);
    put(x, LOAD_ROWS(x, QMAC_BUF_ACC, .dram = D(3), .x_size = 8)); /* random accumulators near anything */
    put(x, QMAC_INSN_GEMM(.accum = 1, .count0 = 8, .count1 = 1, .inp_s0 = 1,
                          .acc_s0 = 1)); /* accumulate onto loaded rows */
    put(x, QMAC_INSN_GEMM(.accum = 1, .wgt = x->n, .inp = 8, .count0 = 8, .count1 = 1, .inp_s0 = 1,
                          .acc_s0 = 1));
    put(x, QMAC_INSN_GEMM(.acc = 8, .count0 = 8, .count1 = 1, .inp_s0 = 1, .acc_s0 = 1));
    put(x, QMAC_INSN_GEMM(.accum = 1, .wgt = x->n, .inp = 8, .acc = 8, .count0 = 8, .count1 = 1, .inp_s0 = 1,
                          .acc_s0 = 1));
    put(x, STORE_ROWS(x, QMAC_BUF_ACC, .dram = S(0), .x_size = 16));
    put(x, QMAC_INSN_END());
}

static void gemm_post_prog(ctx *x, uint32_t rule, uint32_t omode, int32_t ozp, int32_t cmin, int32_t cmax)
{
    put(x, QMAC_INSN_CONFIG(.act_signed = 1, .wgt_signed = 1, .rule = rule, .omode = omode, .act_zp = 2,
                            .out_zp = field8(ozp), .clamp_min = field8(cmin), .clamp_max = field8(cmax)));
    gemm_setup(x, rule, omode == QMAC_OMODE_BIN, 24);
    if (omode == QMAC_OMODE_BIN) {
        for (uint32_t g = 0; g < 8; g++)
            put(x, QMAC_INSN_GEMM(.post = 1, .group = g, .wgt = (g & 1u) * x->n, .inp = 3 * g,
                                  .acc = 8 * (g % 2), .count0 = 3, .count1 = 1, .inp_s0 = 1, .acc_s0 = 1,
                                  .out = g % 3, .out_s0 = 1));
    } else {
        put(x, QMAC_INSN_GEMM(.post = 1, .count0 = 6, .count1 = 3, .inp_s0 = 1, .inp_s1 = 6, .acc_s0 = 1,
                              .acc_s1 = 6, .out_s0 = 1, .out_s1 = 6));
        put(x, QMAC_INSN_GEMM(.accum = 1, .post = 1, .wgt = x->n, .inp = 4, .count0 = 6, .count1 = 3,
                              .inp_s0 = 1, .inp_s1 = 6, .acc_s0 = 1, .acc_s1 = 6, .out = 20, .out_s0 = 1,
                              .out_s1 = 6));
    }
    put(x, STORE_ROWS(x, QMAC_BUF_OUT, .dram = S(0), .x_size = 40));
    put(x, STORE_ROWS(x, QMAC_BUF_ACC, .dram = S(1), .x_size = 18));
    put(x, QMAC_INSN_END());
}

static void p_gemm_post_s8(ctx *x)
{
    gemm_post_prog(x, QMAC_RULE_TFLITE, QMAC_OMODE_S8, -5, -100, 90);
}
static void p_gemm_post_u8(ctx *x)
{
    gemm_post_prog(x, QMAC_RULE_SINGLE, QMAC_OMODE_U8, 100, 3, 250);
}
static void p_gemm_post_float(ctx *x)
{
    gemm_post_prog(x, QMAC_RULE_FLOAT, QMAC_OMODE_S8, 7, -128, 127);
}
static void p_gemm_post_bin(ctx *x)
{
    gemm_post_prog(x, QMAC_RULE_TFLITE, QMAC_OMODE_BIN, 0, 0, 0);
}

static void p_gemm_binary(ctx *x)
{
    put(x, QMAC_INSN_CONFIG(.bin = 1, .rule = QMAC_RULE_TFLITE, .omode = QMAC_OMODE_BIN));
    gemm_setup(x, QMAC_RULE_TFLITE, true, 16);
    /* canonical binary operands: uint8 with zero points 0 */
    put(x, QMAC_INSN_GEMM(.post = 1, .group = 1, .count0 = 16, .count1 = 1, .inp_s0 = 1, .acc_s0 = 1,
                          .out_s0 = 1));
    put(x, QMAC_INSN_CONFIG(.bin = 1, .act_signed = 1, .wgt_signed = 1, .rule = QMAC_RULE_TFLITE,
                            .omode = QMAC_OMODE_BIN, .act_zp = 3)); /* odd zero points too */
    put(x, QMAC_INSN_GEMM(.accum = 1, .post = 1, .group = 2, .wgt = x->n, .count0 = 16, .count1 = 1,
                          .inp_s0 = 1, .acc_s0 = 1, .out_s0 = 1));
    put(x, STORE_ROWS(x, QMAC_BUF_OUT, .dram = S(0), .x_size = 16));
    put(x, STORE_ROWS(x, QMAC_BUF_ACC, .dram = S(1), .x_size = 16));
    put(x, QMAC_INSN_END());
}

static void p_gemm_tiles(ctx *x)
{
    const uint32_t n = x->n;
    put(x, QMAC_INSN_CONFIG(.act_signed = 1, .wgt_signed = 1, .rule = QMAC_RULE_TFLITE,
                            .omode = QMAC_OMODE_S8, .act_zp = 1, .clamp_min = 0x80, .clamp_max = 0x7f));
    gemm_setup(x, QMAC_RULE_TFLITE, false, 48);
    put(x, LOAD_ROWS(x, QMAC_BUF_WGT, .dram = D(5), .sram = 2 * n, .x_size = 2 * n)); /* two more tiles */
    /* tiles shorter and longer than N back to back: they stream through the array */
    const uint32_t len[] = {1, 3, n, n + 5, 2, 2 * n, n - 1, 1, n + 1};
    uint32_t acc = 0, out = 0;
    for (uint32_t i = 0; i < sizeof len / sizeof len[0]; i++) {
        put(x,
            QMAC_INSN_GEMM(.accum = i % 3 == 2, .post = i % 3 == 1, .wgt = (i % 4) * n, .inp = i, .acc = acc,
                           .count0 = len[i], .count1 = 1, .inp_s0 = 1, .acc_s0 = 1, .out = out, .out_s0 = 1));
        acc += len[i] / 2;
        out += len[i];
    }
    put(x, STORE_ROWS(x, QMAC_BUF_ACC, .dram = S(0), .x_size = acc + 2 * n + 2));
    put(x, STORE_ROWS(x, QMAC_BUF_OUT, .dram = S(8), .x_size = out));
    put(x, QMAC_INSN_END());
}

static void p_gemm_forwarding(ctx *x)
{
    put(x, QMAC_INSN_CONFIG(.act_signed = 1, .wgt_signed = 1, .rule = QMAC_RULE_TFLITE,
                            .omode = QMAC_OMODE_S8, .clamp_min = 0x80, .clamp_max = 0x7f));
    gemm_setup(x, QMAC_RULE_TFLITE, false, 16);
    put(x, LOAD_ROWS(x, QMAC_BUF_ACC, .dram = D(3), .x_size = 4));
    put(x, QMAC_INSN_GEMM(.accum = 1, .count0 = 7, .count1 = 1,
                          .inp_s0 = 1)); /* one ACC row, every vector: distance 1 */
    put(x, QMAC_INSN_GEMM(.accum = 1, .post = 1, .acc = 1, .count0 = 2, .count1 = 5, .inp_s0 = 1, .inp_s1 = 2,
                          .acc_s0 = 1, .out_s1 = 1)); /* rows 1, 2, 1, 2, ...: distance 2 */
    put(x, QMAC_INSN_GEMM(.accum = 1, .wgt = x->n, .inp = 3, .acc = 3, .count0 = 3, .count1 = 3,
                          .inp_s1 = 1)); /* the next tile on row 3 right after */
    put(x, QMAC_INSN_GEMM(.accum = 1, .inp = 5, .acc = 3, .count0 = 1,
                          .count1 = 1)); /* and a one-vector tile on the same row */
    put(x, STORE_ROWS(x, QMAC_BUF_ACC, .dram = S(0), .x_size = 4));
    put(x, STORE_ROWS(x, QMAC_BUF_OUT, .dram = S(1), .x_size = 5));
    put(x, QMAC_INSN_END());
}

static void p_post_modes(ctx *x)
{
    put_params(x, D(7), QMAC_RULE_TFLITE, false);
    put(x, LOAD_ROWS(x, QMAC_BUF_ACC, .dram = D(7), .sram = 60, .x_size = 3));
    put(x, LOAD_ROWS(x, QMAC_BUF_ACC, .dram = D(2), .x_size = 32));
    put(x, QMAC_INSN_PARAM(.acc = 60));
    put(x, QMAC_INSN_CONFIG(.rule = QMAC_RULE_TFLITE, .omode = QMAC_OMODE_S8, .out_zp = 3,
                            .clamp_min = field8(-20), .clamp_max = 100));
    put(x, QMAC_INSN_POST(.count0 = 4, .count1 = 2, .acc_s0 = 1, .acc_s1 = 4, .out_s0 = 1, .out_s1 = 4));
    put(x, QMAC_INSN_CONFIG(.rule = QMAC_RULE_SINGLE, .omode = QMAC_OMODE_U8, .out_zp = 200, .clamp_min = 10,
                            .clamp_max = 220));
    put(x, QMAC_INSN_POST(.acc = 8, .count0 = 4, .count1 = 2, .acc_s0 = 2, .acc_s1 = 1, .out = 8, .out_s0 = 1,
                          .out_s1 = 4));
    put(x, QMAC_INSN_CONFIG(.rule = QMAC_RULE_TFLITE, .omode = QMAC_OMODE_BIN));
    for (uint32_t g = 0; g < 8; g++)
        put(x, QMAC_INSN_POST(.group = g, .acc = 16 + g, .count0 = 2, .count1 = 1, .acc_s0 = 1, .out = 20,
                              .out_s0 = 1));
    put(x, QMAC_INSN_POST(.count0 = 0, .count1 = 3, .acc_s0 = 1, .acc_s1 = 1, .out_s0 = 1,
                          .out_s1 = 1)); /* L = 0 */
    put(x, QMAC_INSN_CONFIG(.rule = QMAC_RULE_FLOAT, .omode = QMAC_OMODE_S8, .out_zp = field8(-1),
                            .clamp_min = field8(-128), .clamp_max = 127));
    put_params(x, D(8), QMAC_RULE_FLOAT, false);
    put(x, LOAD_ROWS(x, QMAC_BUF_ACC, .dram = D(8), .sram = 63, .x_size = 3));
    put(x, QMAC_INSN_PARAM(.acc = 63));
    put(x, QMAC_INSN_POST(.count0 = 6, .count1 = 1, .acc_s0 = 1, .out = 24, .out_s0 = 1));
    put(x, STORE_ROWS(x, QMAC_BUF_OUT, .dram = S(0), .x_size = 30));
    put(x, QMAC_INSN_END());
}

static void p_valu_ops(ctx *x)
{
    put(x, LOAD_ROWS(x, QMAC_BUF_ACC, .dram = D(2), .x_size = 16));
    put(x, LOAD_ROWS(x, QMAC_BUF_INP, .dram = D(3), .x_size = 8));
    put(x, LOAD_ROWS(x, QMAC_BUF_OUT, .dram = D(4), .x_size = 8));
    for (uint32_t alu = 0; alu < QMAC_ALU_COUNT; alu++) {
        for (uint32_t form = 0; form < 4; form++) {
            qmac_insn v =
                QMAC_INSN_VALU(.alu = alu, .b_imm = form & 1u,
                               .a_buf = form >> 1 ? QMAC_ABUF_INP : QMAC_ABUF_ACC, .a_signed = alu & 1u,
                               .b = 8, .a = 2 * form, .dst = 16 + 4 * alu + form, .count0 = 2, .count1 = 1,
                               .a_s0 = 1, .dst_s0 = 40, .b_s0 = 1, .imm = form == 1 ? 0xfffffff3u : 21u,
                               .shift = (int32_t)alu * 7 - 33);
            if (alu == QMAC_ALU_SHL || alu == QMAC_ALU_SHR || alu == QMAC_ALU_SHRR)
                v.u.valu.imm = (uint32_t)(alu + 3u * form);
            put(x, v);
        }
    }
    qmac_insn mov = QMAC_INSN_VALU(.alu = QMAC_ALU_MOV, .a_buf = QMAC_ABUF_OUT, .a_signed = 1, .dst = 100,
                                   .count0 = 8, .count1 = 1, .a_s0 = 1, .dst_s0 = 1);
    put(x, mov);
    mov.u.valu.a_signed = 0;
    mov.u.valu.dst = 110;
    put(x, mov);
    put(x, QMAC_INSN_VALU(.alu = QMAC_ALU_ADD, .a_buf = QMAC_ABUF_ACC, .count0 = 0, .count1 = 5)); /* L = 0 */
    put(x, STORE_ROWS(x, QMAC_BUF_ACC, .dram = S(0), .x_size = 120));
    put(x, QMAC_INSN_END());
}

static void p_valu_forwarding(ctx *x)
{
    put(x, LOAD_ROWS(x, QMAC_BUF_ACC, .dram = D(2), .x_size = 8));
    /* dst = A on one row, every iteration: distance 1 */
    put(x, QMAC_INSN_VALU(.alu = QMAC_ALU_ADD, .b_imm = 1, .a_buf = QMAC_ABUF_ACC, .count0 = 6, .count1 = 1,
                          .imm = 0x1001u));
    /* B = the row just written, A another row */
    put(x, QMAC_INSN_VALU(.alu = QMAC_ALU_MUL, .a_buf = QMAC_ABUF_ACC, .a = 2, .b = 1, .dst = 1, .count0 = 5,
                          .count1 = 1));
    /* rows alternating: distance 2 on A and B */
    put(x, QMAC_INSN_VALU(.alu = QMAC_ALU_SUB, .a_buf = QMAC_ABUF_ACC, .a = 3, .b = 4, .dst = 3, .count0 = 2,
                          .count1 = 4, .a_s0 = 1, .dst_s0 = 1));
    put(x, QMAC_INSN_VALU(.alu = QMAC_ALU_MAX, .a_buf = QMAC_ABUF_ACC, .a = 5, .b = 6, .dst = 6, .count0 = 2,
                          .count1 = 3, .a_s0 = 1));
    /* a chain across instructions: each reads the previous one's rows */
    put(x, QMAC_INSN_VALU(.alu = QMAC_ALU_SHRR, .b_imm = 1, .a_buf = QMAC_ABUF_ACC, .a = 6, .dst = 7,
                          .count0 = 1, .count1 = 1, .imm = 3));
    put(x, QMAC_INSN_VALU(.alu = QMAC_ALU_MBQM, .b_imm = 1, .a_buf = QMAC_ABUF_ACC, .a = 7, .dst = 7,
                          .count0 = 3, .count1 = 1, .imm = 0x5a5a5a5au, .shift = 2));
    put(x, STORE_ROWS(x, QMAC_BUF_ACC, .dram = S(0), .x_size = 8));
    put(x, QMAC_INSN_END());
}

static void p_config_param(ctx *x)
{
    put_params(x, D(7), QMAC_RULE_SINGLE, false);
    put(x, LOAD_ROWS(x, QMAC_BUF_ACC, .dram = D(7), .x_size = 3));
    put(x, LOAD_ROWS(x, QMAC_BUF_ACC, .dram = D(2), .sram = 3, .x_size = 8));
    put(x, QMAC_INSN_PARAM(.acc = 0));
    static const uint32_t cl[][4] = {{QMAC_OMODE_S8, 0, 0x80, 0x7f},
                                     {QMAC_OMODE_S8, 0x7f, 0xf0, 0x10},
                                     {QMAC_OMODE_U8, 0x80, 0x00, 0xff},
                                     {QMAC_OMODE_U8, 0, 0x40, 0x40},
                                     {QMAC_OMODE_S8, 0x80, 0xff, 0xff}};
    for (uint32_t i = 0; i < 5; i++) {
        put(x, QMAC_INSN_CONFIG(.act_signed = i & 1u, .rule = i % 2 ? QMAC_RULE_SINGLE : QMAC_RULE_TFLITE,
                                .omode = cl[i][0], .out_zp = cl[i][1], .clamp_min = cl[i][2],
                                .clamp_max = cl[i][3]));
        put(x, QMAC_INSN_POST(.acc = 3, .count0 = 8, .count1 = 1, .acc_s0 = 1, .out = 8 * i, .out_s0 = 1));
    }
    put(x, QMAC_INSN_PARAM(.acc = 3)); /* random rows as parameters */
    put(x, QMAC_INSN_POST(.acc = 3, .count0 = 8, .count1 = 1, .acc_s0 = 1, .out = 40, .out_s0 = 1));
    put(x, STORE_ROWS(x, QMAC_BUF_OUT, .dram = S(0), .x_size = 48));
    put(x, QMAC_INSN_END());
}

static void p_hazards(ctx *x)
{
    const uint32_t n = x->n;
    put(x, QMAC_INSN_CONFIG(.act_signed = 1, .wgt_signed = 1, .rule = QMAC_RULE_TFLITE,
                            .omode = QMAC_OMODE_S8, .clamp_min = 0x80, .clamp_max = 0x7f));
    gemm_setup(x, QMAC_RULE_TFLITE, false, 8);
    put(x, QMAC_INSN_GEMM(.post = 1, .count0 = 8, .count1 = 1, .inp_s0 = 1, .acc_s0 = 1, .out_s0 = 1));
    put(x, LOAD_ROWS(x, QMAC_BUF_INP, .dram = D(3), .x_size = 8));  /* WAR on INP: must wait for the GEMM */
    put(x, STORE_ROWS(x, QMAC_BUF_ACC, .dram = S(0), .x_size = 8)); /* RAW on ACC */
    put(x, QMAC_INSN_GEMM(.wgt = n, .count0 = 8, .count1 = 1, .inp_s0 = 1,
                          .acc_s0 = 1)); /* WAR on ACC against the STORE */
    put(x, STORE_ROWS(x, QMAC_BUF_ACC, .dram = S(1), .x_size = 8));
    put(x, STORE_ROWS(x, QMAC_BUF_OUT, .dram = S(2), .x_size = 8));
    put(x, LOAD_ROWS(x, QMAC_BUF_INP, .dram = S(2), .sram = 8, .x_size = 8)); /* RAW through memory */
    put(x, LOAD_ROWS(x, QMAC_BUF_OUT, .dram = S(1), .x_size = 8)); /* port W(OUT) free, data from the STORE */
    put(x, QMAC_INSN_VALU(.alu = QMAC_ALU_ADD, .b_imm = 1, .a_buf = QMAC_ABUF_INP, .a = 8, .count0 = 8,
                          .count1 = 1, .a_s0 = 1, .dst_s0 = 1, .imm = 5));
    put(x, STORE_ROWS(x, QMAC_BUF_ACC, .dram = S(0), .x_size = 8)); /* overwrites the first STORE's bytes */
    put(x, STORE_ROWS(x, QMAC_BUF_OUT, .dram = S(3), .x_size = 8));
    put(x, QMAC_INSN_END());
}

/* A post-GEMM of N vectors, then a one-vector GEMM streaming after it, which retires 2 cycles
 * before it; then VALUs reading the OUT rows the first GEMM writes last (A from OUT) and a CONFIG
 * changing the output mode under its last (BIN) OUT writes. */
static void p_ooo_retire(ctx *x)
{
    const uint32_t n = x->n;
    for (uint32_t pass = 0; pass < 2; pass++) {
        const uint32_t omode = pass ? QMAC_OMODE_BIN : QMAC_OMODE_S8;
        put(x, QMAC_INSN_CONFIG(.act_signed = 1, .wgt_signed = 1, .rule = QMAC_RULE_TFLITE, .omode = omode,
                                .clamp_min = 0x80, .clamp_max = 0x7f));
        if (pass == 0)
            gemm_setup(x, QMAC_RULE_TFLITE, false, 2 * n);
        put(x, QMAC_INSN_GEMM(.post = 1, .group = 3, .count0 = n, .count1 = 1, .inp_s0 = 1, .acc_s0 = 1,
                              .out = 16 * pass, .out_s0 = 1));
        put(x,
            QMAC_INSN_GEMM(.wgt = n, .inp = n, .acc = n, .count0 = 1, .count1 = 1, .inp_s0 = 1, .acc_s0 = 1));
        if (pass == 0) {
            /* a_s0 0: both iterations read OUT row n - 1, the last one the post-GEMM writes */
            put(x, QMAC_INSN_VALU(.alu = QMAC_ALU_ADD, .b_imm = 1, .a_buf = QMAC_ABUF_OUT, .a_signed = 1,
                                  .a = n - 1, .dst = 2 * n, .count0 = 2, .count1 = 1, .dst_s0 = 1, .imm = 1));
        } else {
            put(x, QMAC_INSN_CONFIG(.act_signed = 1, .wgt_signed = 1, .rule = QMAC_RULE_TFLITE,
                                    .omode = QMAC_OMODE_S8, .clamp_min = 0x80, .clamp_max = 0x7f));
        }
    }
    put(x, STORE_ROWS(x, QMAC_BUF_OUT, .dram = S(0), .x_size = 16 + n));
    put(x, STORE_ROWS(x, QMAC_BUF_ACC, .dram = S(1), .x_size = 2 * n + 2));
    put(x, QMAC_INSN_END());
}

/* A little real work before a fault, and work after it that must never happen. */
static void fault_prelude(ctx *x)
{
    put(x, LOAD_ROWS(x, QMAC_BUF_INP, .dram = D(0), .x_size = 6));
    put(x, STORE_ROWS(x, QMAC_BUF_INP, .dram = S(0), .x_size = 6));
}

static void fault_postlude(ctx *x)
{
    put(x, LOAD_ROWS(x, QMAC_BUF_ACC, .dram = D(1), .x_size = 4));
    put(x, STORE_ROWS(x, QMAC_BUF_INP, .dram = S(1), .x_size = 6));
    put(x, QMAC_INSN_END());
}

static void p_fault_opcode(ctx *x)
{
    fault_prelude(x);
    uint32_t w[QMAC_INSN_WORDS] = {10};
    emit_words(x, w);
    fault_postlude(x);
}

static void p_fault_field_reserved(ctx *x)
{
    fault_prelude(x);
    const qmac_insn in = LOAD_ROWS(x, QMAC_BUF_INP, .dram = D(0), .sram = 8, .x_size = 2);
    uint32_t w[QMAC_INSN_WORDS];
    qmac_insn_encode(&in, w);
    w[0] |= 1u << 12; /* a reserved bit of LOAD */
    emit_words(x, w);
    fault_postlude(x);
}

static void p_fault_field_enum(ctx *x)
{
    fault_prelude(x);
    const qmac_insn in = QMAC_INSN_VALU(.count0 = 1, .count1 = 1);
    uint32_t w[QMAC_INSN_WORDS];
    qmac_insn_encode(&in, w);
    w[0] |= 12u << QMAC_VALU_ALU_LSB; /* alu 12 */
    emit_words(x, w);
    fault_postlude(x);
}

static void p_fault_field_clamp(ctx *x)
{
    fault_prelude(x);
    put(x, QMAC_INSN_CONFIG(.omode = QMAC_OMODE_U8, .clamp_min = 0x7f, .clamp_max = 0x80)); /* fine as U8 */
    const qmac_insn in = QMAC_INSN_CONFIG(.omode = QMAC_OMODE_S8, .clamp_min = 0x7f, .clamp_max = 0x80);
    uint32_t w[QMAC_INSN_WORDS];
    qmac_insn_encode(&in, w); /* 127 > -128 as int8 */
    emit_words(x, w);
    fault_postlude(x);
}

static void p_fault_align(ctx *x)
{
    fault_prelude(x);
    put(x, QMAC_INSN_LOAD(.buf = QMAC_BUF_INP, .dram = D(0), .sram = 8, .x_size = 2, .y_size = 2, .z_size = 1,
                          .x_stride = x->n, .y_stride = x->n * 3 + x->n / 2));
    fault_postlude(x);
}

static void p_fault_buf_range(ctx *x)
{
    fault_prelude(x);
    put(x, QMAC_INSN_GEMM(.acc = x->cfg->acc_rows - 2, .count0 = 2, .count1 = 2, .inp_s0 = 1, .inp_s1 = 1,
                          .acc_s0 = 1, .acc_s1 = 1)); /* last ACC row: depth, one past the end */
    fault_postlude(x);
}

static void p_fault_window(ctx *x)
{
    x->c->run.win.hi = MEM_END - 0x10000u - 1u;
    fault_prelude(x);
    put(x, STORE_ROWS(x, QMAC_BUF_INP, .dram = MEM_END - 0x10000u - x->n,
                      .x_size = 2)); /* its second row is outside */
    fault_postlude(x);
}

static void p_fault_fetch_end(ctx *x)
{
    fault_prelude(x);
    put(x, QMAC_INSN_GEMM(.count0 = 4, .count1 = 1, .inp_s0 = 1, .acc_s0 = 1));
    put(x, QMAC_INSN_NOP());
    /* no END: the program ends the window (set in accel_directed) */
}

static void p_fault_fetch_misaligned(ctx *x)
{
    x->c->run.prog_addr = MEM_BASE + 16u;
    fault_prelude(x);
    put(x, QMAC_INSN_END());
}

static void p_fault_bus_load(ctx *x)
{
    x->c->run.win =
        (qmac_window){MEM_BASE, MEM_END + MEM_SIZE - 1u}; /* the window is larger than the memory */
    fault_prelude(x);
    put(x, LOAD_ROWS(x, QMAC_BUF_INP, .dram = MEM_END - 2 * x->n, .sram = 10,
                     .x_size = 5)); /* three rows beyond the memory */
    put(x, QMAC_INSN_END());
}

static void p_fault_bus_store(ctx *x)
{
    x->c->run.win = (qmac_window){MEM_BASE, MEM_END + MEM_SIZE - 1u};
    fault_prelude(x);
    put(x, STORE_ROWS(x, QMAC_BUF_INP, .dram = MEM_END - 3 * x->n, .x_size = 6));
    put(x, QMAC_INSN_END());
}

static void p_fault_bus_fetch(ctx *x)
{
    x->c->run.win = (qmac_window){MEM_BASE, MEM_END + MEM_SIZE - 1u};
    fault_prelude(x);
    put(x, QMAC_INSN_NOP());
    /* no END, and the program ends the memory (set in finish): the next fetch answers SLVERR */
}

static void p_slow_memory(ctx *x)
{
    x->c->run.read_latency = 57;
    x->c->run.write_latency = 33;
    x->c->run.max_reads = 1;
    x->c->run.max_writes = 1;
    p_hazards(x);
}

typedef struct {
    const char *name;
    void (*build)(ctx *x);
} directed;

static const directed k_directed[] = {
    {"nop-fence-end", p_nop_fence_end},
    {"load-store-every-buf", p_load_store_every_buf},
    {"load-pad-3d-strides", p_load_pad_3d},
    {"dma-bursts-4k", p_bursts_4k},
    {"dma-degenerate", p_degenerate_dma},
    {"gemm-s8", p_gemm_s8},
    {"gemm-u8-zero-points", p_gemm_u8_zp},
    {"gemm-accumulate", p_gemm_accum},
    {"gemm-post-s8-tflite", p_gemm_post_s8},
    {"gemm-post-u8-single", p_gemm_post_u8},
    {"gemm-post-float", p_gemm_post_float},
    {"gemm-post-bin-groups", p_gemm_post_bin},
    {"gemm-binary", p_gemm_binary},
    {"gemm-tiles-short-long", p_gemm_tiles},
    {"gemm-acc-forwarding", p_gemm_forwarding},
    {"post-modes", p_post_modes},
    {"valu-every-op", p_valu_ops},
    {"valu-forwarding", p_valu_forwarding},
    {"config-param", p_config_param},
    {"hazards", p_hazards},
    {"compute-out-of-order-retire", p_ooo_retire},
    {"slow-memory", p_slow_memory},
    {"fault-opcode", p_fault_opcode},
    {"fault-field-reserved", p_fault_field_reserved},
    {"fault-field-enum", p_fault_field_enum},
    {"fault-field-clamp", p_fault_field_clamp},
    {"fault-align", p_fault_align},
    {"fault-buf-range", p_fault_buf_range},
    {"fault-window", p_fault_window},
    {"fault-fetch-end", p_fault_fetch_end},
    {"fault-fetch-misaligned", p_fault_fetch_misaligned},
    {"fault-bus-load", p_fault_bus_load},
    {"fault-bus-store", p_fault_bus_store},
    {"fault-bus-fetch", p_fault_bus_fetch},
};

size_t accel_directed_count(void)
{
    return sizeof k_directed / sizeof k_directed[0];
}

qmac_status accel_directed(size_t i, const qmac_hw_config *cfg, uint64_t seed, accel_case *out)
{
    ctx x;
    qmac_status st = case_init(&x, out, cfg, seed, k_directed[i].name);
    if (st != QMAC_OK)
        return st;
    k_directed[i].build(&x);
    /* programs without END at the end of the window (fetch-end) or of the memory (bus-fetch) */
    if (k_directed[i].build == p_fault_fetch_end || k_directed[i].build == p_fault_bus_fetch)
        out->run.prog_addr = MEM_END - (uint32_t)out->prog.n_insn * QMAC_INSN_BYTES;
    st = case_finish(&x);
    if (st != QMAC_OK)
        accel_case_free(out);
    return st;
}

/* ---------------------------------------------------------------------------------------------
 * Random legal programs
 * ------------------------------------------------------------------------------------------- */

typedef struct {
    ctx *x;
    uint32_t lim[QMAC_BUF_COUNT]; /* rows used of each buffer */
} rgen;

static uint32_t rnd(rgen *g, uint32_t n)
{
    return n ? simctl_rng_below(&g->x->rng, n) : 0;
}

static bool chance(rgen *g, uint32_t num, uint32_t den)
{
    return simctl_rng_chance(&g->x->rng, num, den);
}

/* A base so that base + extent <= lim (extent = rows spanned), or false. */
static bool place(rgen *g, uint32_t lim, uint64_t extent, uint32_t *base)
{
    if (extent > lim)
        return false;
    *base = rnd(g, (uint32_t)(lim - extent) + 1u);
    return true;
}

static uint32_t r_count(rgen *g)
{
    if (chance(g, 1, 20))
        return 0;
    if (chance(g, 1, 8))
        return 8u + rnd(g, 40);
    return 1u + rnd(g, 6);
}

static bool r_dma(rgen *g, qmac_insn *in, bool load)
{
    ctx *x = g->x;
    const uint32_t buf = rnd(g, 4), n = x->n, rb = buf == QMAC_BUF_ACC ? x->rba : n;
    const uint32_t xn = chance(g, 1, 12) ? 0 : 1u + rnd(g, chance(g, 1, 6) ? 40 : 6);
    const uint32_t yn = chance(g, 1, 12) ? 0 : 1u + rnd(g, 3), zn = chance(g, 1, 12) ? 0 : 1u + rnd(g, 2);
    uint32_t px0 = 0, px1 = 0, py0 = 0, py1 = 0;
    if (load && chance(g, 1, 3)) {
        px0 = rnd(g, 3);
        px1 = rnd(g, 3);
        py0 = rnd(g, 2);
        py1 = rnd(g, 2);
    }
    uint32_t xs;
    switch (rnd(g, 5)) {
    case 0:
    case 1: xs = rb; break;
    case 2: xs = 0; break;
    default: xs = n * (1u + rnd(g, 12)); break;
    }
    const uint32_t ys = chance(g, 1, 2) ? xn * xs : n * rnd(g, 80), zs = n * rnd(g, 400);
    const uint64_t rows = (uint64_t)zn * (py0 + yn + py1) * (px0 + xn + px1);
    uint32_t sram = 0;
    if (!place(g, g->lim[buf], rows, &sram))
        return false;
    const uint64_t extent = (zn ? (uint64_t)(zn - 1u) * zs : 0) + (yn ? (uint64_t)(yn - 1u) * ys : 0) +
                            (xn ? (uint64_t)(xn - 1u) * xs : 0) + rb;
    const uint32_t lo = load ? DATA_LO : STORE_LO;
    if (extent > MEM_END - lo)
        return false;
    const uint32_t dram = lo + (rnd(g, (uint32_t)(MEM_END - lo - extent) / n + 1u)) * n;
    if (load)
        *in = QMAC_INSN_LOAD(.buf = buf, .pad_value = rnd(g, 256), .dram = dram, .sram = sram, .x_size = xn,
                             .y_size = yn, .z_size = zn, .x_stride = xs, .y_stride = ys, .z_stride = zs,
                             .pad_x0 = px0, .pad_x1 = px1, .pad_y0 = py0, .pad_y1 = py1);
    else
        *in = QMAC_INSN_STORE(.buf = buf, .dram = dram, .sram = sram, .x_size = xn, .y_size = yn,
                              .z_size = zn, .x_stride = xs, .y_stride = ys, .z_stride = zs);
    return true;
}

/* A two-level loop over lim rows: strides, and a base that keeps the last row inside. */
static bool r_loop(rgen *g, uint32_t lim, uint32_t c0, uint32_t c1, uint32_t *base, uint32_t *s0,
                   uint32_t *s1)
{
    *s0 = chance(g, 1, 4) ? 0 : rnd(g, 3) + (chance(g, 1, 4) ? 0u : 1u);
    *s1 = chance(g, 1, 5) ? 0 : rnd(g, c0 * *s0 + 3u);
    const uint64_t extent = (c0 && c1) ? (uint64_t)(c0 - 1u) * *s0 + (uint64_t)(c1 - 1u) * *s1 + 1u : 1u;
    return place(g, lim, extent, base);
}

static bool r_insn(rgen *g, qmac_insn *in)
{
    ctx *x = g->x;
    const uint32_t n = x->n;
    memset(in, 0, sizeof *in);
    const uint32_t pick = rnd(g, 100);
    if (pick < 18)
        return r_dma(g, in, true);
    if (pick < 30)
        return r_dma(g, in, false);
    if (pick < 54) {
        in->op = QMAC_OP_GEMM;
        qmac_insn_gemm *m = &in->u.gemm;
        m->count0 = r_count(g);
        m->count1 = chance(g, 2, 3) ? 1u : 1u + rnd(g, 3);
        m->accum = chance(g, 1, 2);
        m->post = chance(g, 1, 3);
        m->group = rnd(g, 8);
        if (!place(g, g->lim[QMAC_BUF_WGT], n, &m->wgt))
            return false;
        return r_loop(g, g->lim[QMAC_BUF_INP], m->count0, m->count1, &m->inp, &m->inp_s0, &m->inp_s1) &&
               r_loop(g, g->lim[QMAC_BUF_ACC], m->count0, m->count1, &m->acc, &m->acc_s0, &m->acc_s1) &&
               r_loop(g, g->lim[QMAC_BUF_OUT], m->count0, m->count1, &m->out, &m->out_s0, &m->out_s1);
    }
    if (pick < 62) {
        in->op = QMAC_OP_POST;
        qmac_insn_post *p = &in->u.post;
        p->count0 = r_count(g);
        p->count1 = 1u + rnd(g, 2);
        p->group = rnd(g, 8);
        return r_loop(g, g->lim[QMAC_BUF_ACC], p->count0, p->count1, &p->acc, &p->acc_s0, &p->acc_s1) &&
               r_loop(g, g->lim[QMAC_BUF_OUT], p->count0, p->count1, &p->out, &p->out_s0, &p->out_s1);
    }
    if (pick < 66) {
        in->op = QMAC_OP_PARAM;
        return place(g, g->lim[QMAC_BUF_ACC], 3, &in->u.param.acc);
    }
    if (pick < 84) {
        in->op = QMAC_OP_VALU;
        qmac_insn_valu *v = &in->u.valu;
        static const qmac_buf abuf[] = {QMAC_BUF_ACC, QMAC_BUF_INP, QMAC_BUF_OUT};
        v->alu = rnd(g, QMAC_ALU_COUNT);
        v->b_imm = chance(g, 1, 3);
        v->a_buf = rnd(g, 3);
        v->a_signed = chance(g, 1, 2);
        v->count0 = r_count(g);
        v->count1 = 1u + rnd(g, 2);
        v->imm = chance(g, 1, 2) ? rnd(g, 40) : (uint32_t)simctl_rng_u64(&x->rng);
        v->shift = (int32_t)rnd(g, 81) - 40;
        return r_loop(g, g->lim[abuf[v->a_buf]], v->count0, v->count1, &v->a, &v->a_s0, &v->a_s1) &&
               r_loop(g, g->lim[QMAC_BUF_ACC], v->count0, v->count1, &v->b, &v->b_s0, &v->b_s1) &&
               r_loop(g, g->lim[QMAC_BUF_ACC], v->count0, v->count1, &v->dst, &v->dst_s0, &v->dst_s1);
    }
    if (pick < 92) {
        in->op = QMAC_OP_CONFIG;
        qmac_insn_config *c = &in->u.config;
        c->bin = chance(g, 1, 5);
        c->act_signed = chance(g, 1, 2);
        c->wgt_signed = chance(g, 1, 2);
        c->rule = rnd(g, 3);
        c->omode = rnd(g, 3);
        c->act_zp = rnd(g, 256);
        c->out_zp = rnd(g, 256);
        uint32_t a = rnd(g, 256), b = rnd(g, 256);
        const bool s8 = c->omode == QMAC_OMODE_S8;
        const int32_t va = s8 ? (int8_t)a : (int32_t)a, vb = s8 ? (int8_t)b : (int32_t)b;
        if (va > vb) {
            const uint32_t t = a;
            a = b;
            b = t;
        }
        c->clamp_min = a;
        c->clamp_max = b;
        return true;
    }
    in->op = pick < 97 ? QMAC_OP_NOP : QMAC_OP_FENCE;
    return true;
}

/* An instruction that faults: a bad opcode, a reserved bit, an enum out of range, a misaligned or
 * out-of-window DMA, rows beyond a buffer. */
static void r_fault(rgen *g, const qmac_window *win)
{
    ctx *x = g->x;
    uint32_t w[QMAC_INSN_WORDS];
    qmac_insn in;
    memset(w, 0, sizeof w);
    switch (rnd(g, 6)) {
    case 0: w[0] = QMAC_OP_COUNT + rnd(g, 256 - QMAC_OP_COUNT); break;
    case 1: {
        while (!r_insn(g, &in))
            ;
        qmac_insn_encode(&in, w);
        const qmac_isa_format *f = &qmac_isa_formats[in.op];
        for (int tries = 0; tries < 64; tries++) {
            const uint32_t b = rnd(g, 256);
            if (f->reserved[b / 32] >> (b % 32) & 1u) {
                w[b / 32] |= 1u << (b % 32);
                break;
            }
        }
        break;
    }
    case 2:
        in = QMAC_INSN_VALU(.count0 = 1, .count1 = 1);
        qmac_insn_encode(&in, w);
        w[0] |= (QMAC_ALU_COUNT + rnd(g, 16 - QMAC_ALU_COUNT)) << QMAC_VALU_ALU_LSB;
        break;
    case 3:
        while (!r_dma(g, &in, chance(g, 1, 2)))
            ;
        qmac_insn_encode(&in, w);
        w[QMAC_LOAD_DRAM_LSB / 32] |= 1u + rnd(g, x->n - 1u); /* dram not a multiple of N */
        break;
    case 4:
        in = LOAD_ROWS(x, QMAC_BUF_INP, .dram = win->hi - x->n + 1u, .x_size = 2); /* crosses WIN_HI */
        qmac_insn_encode(&in, w);
        break;
    default:
        in = QMAC_INSN_PARAM(.acc = x->cfg->acc_rows - 2u); /* rows depth - 2 .. depth */
        qmac_insn_encode(&in, w);
        break;
    }
    emit_words(x, w);
}

qmac_status accel_random(const qmac_hw_config *cfg, uint64_t seed, uint32_t len, accel_case *out)
{
    ctx x;
    char name[64];
    snprintf(name, sizeof name, "random seed 0x%016" PRIx64, seed);
    qmac_status st = case_init(&x, out, cfg, seed, name);
    if (st != QMAC_OK)
        return st;
    rgen g = {.x = &x};
    /* a small window of each buffer (the WGT one holds two tiles at least), so hazards are common */
    const uint32_t span = 24u + simctl_rng_below(&x.rng, 72);
    for (uint32_t b = 0; b < QMAC_BUF_COUNT; b++) {
        const uint32_t rows = qmac_buf_rows(cfg, (qmac_buf)b);
        uint32_t lim = b == QMAC_BUF_WGT ? span + 2u * cfg->dim : span;
        g.lim[b] = lim < rows ? lim : rows;
    }
    /* sometimes a slow or narrow memory */
    if (simctl_rng_chance(&x.rng, 1, 4)) {
        out->run.read_latency = 1u + simctl_rng_below(&x.rng, 40);
        out->run.write_latency = 1u + simctl_rng_below(&x.rng, 30);
        out->run.max_reads = 1u + simctl_rng_below(&x.rng, 6);
        out->run.max_writes = 1u + simctl_rng_below(&x.rng, 4);
    }
    /* parameters first, most of the time, so that POST sees sensible multipliers */
    if (simctl_rng_chance(&x.rng, 3, 4)) {
        const uint32_t rule = simctl_rng_below(&x.rng, 3);
        put_params(&x, D(20), rule, simctl_rng_chance(&x.rng, 1, 4));
        put(&x, LOAD_ROWS(&x, QMAC_BUF_ACC, .dram = D(20), .x_size = 3));
        put(&x, QMAC_INSN_PARAM(.acc = 0));
    }
    const qmac_window win = out->run.win;
    /* one program in 8 has a faulting instruction somewhere: precise faults with work in flight */
    const uint32_t bad_at = simctl_rng_chance(&x.rng, 1, 8) ? simctl_rng_below(&x.rng, len) : UINT32_MAX;
    for (uint32_t i = 0; i < len && x.st == QMAC_OK; i++) {
        if (i == bad_at) {
            r_fault(&g, &win);
            continue;
        }
        qmac_insn in;
        bool ok = false;
        for (int tries = 0; tries < 30 && !ok; tries++) {
            if (!r_insn(&g, &in))
                continue;
            uint32_t w[QMAC_INSN_WORDS];
            qmac_insn_encode(&in, w);
            qmac_insn chk;
            ok = qmac_insn_check(w, cfg, &win, &chk, NULL) == QMAC_FAULT_NONE;
        }
        if (!ok)
            in = QMAC_INSN_NOP();
        put(&x, in);
    }
    put(&x, QMAC_INSN_END());
    st = case_finish(&x);
    if (st != QMAC_OK)
        accel_case_free(out);
    return st;
}

qmac_status accel_bench_prog(const qmac_hw_config *cfg, uint32_t tiles, uint32_t vectors, accel_case *out)
{
    ctx x;
    qmac_status st = case_init(&x, out, cfg, 1, "bench: long GEMM");
    if (st != QMAC_OK)
        return st;
    const uint32_t n = cfg->dim;
    uint32_t inp = vectors < cfg->inp_rows ? vectors : cfg->inp_rows;
    inp = inp < cfg->acc_rows ? inp : cfg->acc_rows;
    const uint32_t acc = inp;
    put(&x, QMAC_INSN_CONFIG(.act_signed = 1, .wgt_signed = 1, .rule = QMAC_RULE_TFLITE,
                             .omode = QMAC_OMODE_S8, .clamp_min = 0x80, .clamp_max = 0x7f));
    put(&x, LOAD_ROWS(&x, QMAC_BUF_WGT, .dram = D(0), .x_size = 4 * n));
    put(&x, LOAD_ROWS(&x, QMAC_BUF_INP, .dram = D(1), .x_size = inp));
    /* count0 * count1 = vectors (a multiple of inp), over inp rows and acc rows (wrapping with the
     * outer loop) */
    for (uint32_t t = 0; t < tiles; t++)
        put(&x, QMAC_INSN_GEMM(.accum = t ? 1u : 0u, .wgt = (t % 4) * n, .count0 = inp,
                               .count1 = vectors / inp, .inp_s0 = 1, .acc_s0 = 1));
    put(&x, STORE_ROWS(&x, QMAC_BUF_ACC, .dram = S(0), .x_size = 64 < acc ? 64 : acc));
    put(&x, QMAC_INSN_END());
    st = case_finish(&x);
    if (st != QMAC_OK)
        accel_case_free(out);
    return st;
}

qmac_status accel_gemm_prog(const qmac_hw_config *cfg, uint32_t m, uint32_t k, uint32_t n, uint64_t seed,
                            accel_case *out)
{
    ctx x;
    char name[64];
    snprintf(name, sizeof name, "gemm %ux%ux%u", m, k, n);
    qmac_status st = case_init(&x, out, cfg, seed, name);
    if (st != QMAC_OK)
        return st;
    /* program at MEM_BASE, then A [m x k], B [k x n], the parameter table and C [m x n] */
    const uint32_t a = MEM_BASE + 0x10000u, b = a + m * k, params = b + k * n,
                   c = params + (uint32_t)qmac_gemm_prog_param_bytes(cfg, n);
    if ((uint64_t)c + (uint64_t)m * n > MEM_END || n > 256u) {
        accel_case_free(out);
        return qmac_set_error(QMAC_ERR_INVALID_ARG, "%s does not fit the co-simulation memory", name);
    }
    int32_t bias[256], qm[256], sh[256];
    uint32_t mult[256];
    int8_t shift[256];
    for (uint32_t i = 0; i < n; i++) {
        bias[i] = (int32_t)(simctl_rng_u64(&x.rng) % 20001u) - 10000;
        const double scale = 1.0 / (double)(2000u + simctl_rng_u64(&x.rng) % 20000u);
        qmac_quantize_multiplier(scale, QMAC_REQUANT_TFLITE, &qm[i], &sh[i]);
        mult[i] = (uint32_t)qm[i];
        shift[i] = (int8_t)sh[i];
    }
    qmac_gemm_prog_pack_params(cfg, n, bias, mult, shift, NULL, out->mem + (params - MEM_BASE));
    const qmac_gemm_prog_desc d = {.m = m,
                                   .k = k,
                                   .n = n,
                                   .a_addr = a,
                                   .a_stride = k,
                                   .b_addr = b,
                                   .b_stride = n,
                                   .c_addr = c,
                                   .c_stride = n,
                                   .param_addr = params,
                                   .act_signed = 1,
                                   .wgt_signed = 1,
                                   .rule = QMAC_RULE_TFLITE,
                                   .omode = QMAC_OMODE_S8,
                                   .clamp_min = 0x80,
                                   .clamp_max = 0x7f};
    st = qmac_gemm_prog_build(cfg, &d, &out->prog, NULL);
    if (st == QMAC_OK)
        st = case_finish(&x);
    if (st != QMAC_OK)
        accel_case_free(out);
    return st;
}
