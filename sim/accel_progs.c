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
 * Builders
 * ------------------------------------------------------------------------------------------- */

static void emit(ctx *x, const qmac_insn *in)
{
    if (x->st != QMAC_OK)
        return;
    x->st = qmac_prog_push(&x->c->prog, in);
}

static void emit_words(ctx *x, const uint32_t *w)
{
    if (x->st == QMAC_OK)
        x->st = qmac_prog_push_words(&x->c->prog, w);
}

static void op0(ctx *x, qmac_op op)
{
    qmac_insn in;
    memset(&in, 0, sizeof in);
    in.op = op;
    emit(x, &in);
}

static qmac_insn load_insn(uint32_t buf, uint32_t dram, uint32_t sram, uint32_t xs_, uint32_t ys_,
                           uint32_t zs_, uint32_t xst, uint32_t yst, uint32_t zst)
{
    qmac_insn in;
    memset(&in, 0, sizeof in);
    in.op = QMAC_OP_LOAD;
    in.u.load = (qmac_insn_load){.buf = buf,
                                 .dram = dram,
                                 .sram = sram,
                                 .x_size = xs_,
                                 .y_size = ys_,
                                 .z_size = zs_,
                                 .x_stride = xst,
                                 .y_stride = yst,
                                 .z_stride = zst};
    return in;
}

static void ld(ctx *x, uint32_t buf, uint32_t dram, uint32_t sram, uint32_t xn, uint32_t yn, uint32_t zn,
               uint32_t xst, uint32_t yst, uint32_t zst)
{
    const qmac_insn in = load_insn(buf, dram, sram, xn, yn, zn, xst, yst, zst);
    emit(x, &in);
}

static void ldp(ctx *x, uint32_t buf, uint32_t dram, uint32_t sram, uint32_t xn, uint32_t yn, uint32_t zn,
                uint32_t xst, uint32_t yst, uint32_t zst, uint32_t px0, uint32_t px1, uint32_t py0,
                uint32_t py1, uint32_t pad)
{
    qmac_insn in = load_insn(buf, dram, sram, xn, yn, zn, xst, yst, zst);
    in.u.load.pad_x0 = px0;
    in.u.load.pad_x1 = px1;
    in.u.load.pad_y0 = py0;
    in.u.load.pad_y1 = py1;
    in.u.load.pad_value = pad;
    emit(x, &in);
}

static void stor(ctx *x, uint32_t buf, uint32_t dram, uint32_t sram, uint32_t xn, uint32_t yn, uint32_t zn,
                 uint32_t xst, uint32_t yst, uint32_t zst)
{
    qmac_insn in;
    memset(&in, 0, sizeof in);
    in.op = QMAC_OP_STORE;
    in.u.store = (qmac_insn_store){.buf = buf,
                                   .dram = dram,
                                   .sram = sram,
                                   .x_size = xn,
                                   .y_size = yn,
                                   .z_size = zn,
                                   .x_stride = xst,
                                   .y_stride = yst,
                                   .z_stride = zst};
    emit(x, &in);
}

/* flags: bit 0 accum, bit 1 post */
static void gemm(ctx *x, uint32_t flags, uint32_t group, uint32_t wgt, uint32_t inp, uint32_t acc,
                 uint32_t c0, uint32_t c1, uint32_t is0, uint32_t is1, uint32_t as0, uint32_t as1,
                 uint32_t out, uint32_t os0, uint32_t os1)
{
    qmac_insn in;
    memset(&in, 0, sizeof in);
    in.op = QMAC_OP_GEMM;
    in.u.gemm = (qmac_insn_gemm){.accum = flags & 1u,
                                 .post = (flags >> 1) & 1u,
                                 .group = group,
                                 .wgt = wgt,
                                 .inp = inp,
                                 .acc = acc,
                                 .count0 = c0,
                                 .count1 = c1,
                                 .inp_s0 = is0,
                                 .inp_s1 = is1,
                                 .acc_s0 = as0,
                                 .acc_s1 = as1,
                                 .out = out,
                                 .out_s0 = os0,
                                 .out_s1 = os1};
    emit(x, &in);
}

static void post(ctx *x, uint32_t group, uint32_t acc, uint32_t c0, uint32_t c1, uint32_t as0, uint32_t as1,
                 uint32_t out, uint32_t os0, uint32_t os1)
{
    qmac_insn in;
    memset(&in, 0, sizeof in);
    in.op = QMAC_OP_POST;
    in.u.post = (qmac_insn_post){.group = group,
                                 .acc = acc,
                                 .count0 = c0,
                                 .count1 = c1,
                                 .acc_s0 = as0,
                                 .acc_s1 = as1,
                                 .out = out,
                                 .out_s0 = os0,
                                 .out_s1 = os1};
    emit(x, &in);
}

static void param(ctx *x, uint32_t acc)
{
    qmac_insn in;
    memset(&in, 0, sizeof in);
    in.op = QMAC_OP_PARAM;
    in.u.param.acc = acc;
    emit(x, &in);
}

typedef struct {
    uint32_t alu, b_imm, a_buf, a_signed, b, a, dst, c0, c1, a_s0, a_s1, d_s0, d_s1, b_s0, b_s1, imm;
    int32_t shift;
} valu_args;

static void valu(ctx *x, const valu_args *v)
{
    qmac_insn in;
    memset(&in, 0, sizeof in);
    in.op = QMAC_OP_VALU;
    in.u.valu = (qmac_insn_valu){.alu = v->alu,
                                 .b_imm = v->b_imm,
                                 .a_buf = v->a_buf,
                                 .a_signed = v->a_signed,
                                 .b = v->b,
                                 .a = v->a,
                                 .dst = v->dst,
                                 .count0 = v->c0,
                                 .count1 = v->c1,
                                 .a_s0 = v->a_s0,
                                 .a_s1 = v->a_s1,
                                 .dst_s0 = v->d_s0,
                                 .dst_s1 = v->d_s1,
                                 .b_s0 = v->b_s0,
                                 .b_s1 = v->b_s1,
                                 .imm = v->imm,
                                 .shift = v->shift};
    emit(x, &in);
}

static void config(ctx *x, uint32_t bin, uint32_t asig, uint32_t wsig, uint32_t rule, uint32_t omode,
                   uint32_t azp, uint32_t ozp, uint32_t cmin, uint32_t cmax)
{
    qmac_insn in;
    memset(&in, 0, sizeof in);
    in.op = QMAC_OP_CONFIG;
    in.u.config = (qmac_insn_config){.bin = bin,
                                     .act_signed = asig,
                                     .wgt_signed = wsig,
                                     .rule = rule,
                                     .omode = omode,
                                     .act_zp = azp & 0xffu,
                                     .out_zp = ozp & 0xffu,
                                     .clamp_min = cmin & 0xffu,
                                     .clamp_max = cmax & 0xffu};
    emit(x, &in);
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
    op0(x, QMAC_OP_NOP);
    op0(x, QMAC_OP_FENCE);
    ld(x, QMAC_BUF_INP, D(0), 0, 4, 1, 1, x->n, 0, 0);
    op0(x, QMAC_OP_FENCE);
    op0(x, QMAC_OP_NOP);
    stor(x, QMAC_BUF_INP, S(0), 0, 4, 1, 1, x->n, 0, 0);
    op0(x, QMAC_OP_FENCE);
    op0(x, QMAC_OP_END);
}

static void p_load_store_every_buf(ctx *x)
{
    const uint32_t n = x->n, a = x->rba;
    ld(x, QMAC_BUF_INP, D(0), 3, 7, 1, 1, n, 0, 0);
    ld(x, QMAC_BUF_WGT, D(1), 5, 9, 1, 1, n, 0, 0);
    ld(x, QMAC_BUF_ACC, D(2), 2, 6, 1, 1, a, 0, 0);          /* contiguous ACC rows */
    ld(x, QMAC_BUF_ACC, D(3), 10, 3, 2, 1, 2 * a, 7 * a, 0); /* strided ACC rows */
    ld(x, QMAC_BUF_OUT, D(4), 1, 5, 1, 1, 3 * n, 0, 0);
    stor(x, QMAC_BUF_INP, S(0), 3, 7, 1, 1, n, 0, 0);
    stor(x, QMAC_BUF_WGT, S(1), 5, 9, 1, 1, 2 * n, 0, 0);
    stor(x, QMAC_BUF_ACC, S(2), 2, 12, 1, 1, a, 0, 0);
    stor(x, QMAC_BUF_ACC, S(3), 10, 2, 3, 1, 3 * a, a, 0);
    stor(x, QMAC_BUF_OUT, S(4), 1, 5, 1, 1, n, 0, 0);
    op0(x, QMAC_OP_END);
}

static void p_load_pad_3d(ctx *x)
{
    const uint32_t n = x->n, a = x->rba;
    /* 2 planes of 3 lines of 3 rows, strided, with 1/2 padding rows and 1/1 padding lines */
    ldp(x, QMAC_BUF_INP, D(0), 0, 3, 3, 2, 2 * n, 8 * n, 32 * n, 1, 2, 1, 1, 0x5a);
    stor(x, QMAC_BUF_INP, S(0), 0, 6, 5, 2, n, 6 * n, 30 * n); /* 60 rows back, contiguous */
    ldp(x, QMAC_BUF_ACC, D(2), 4, 2, 2, 1, a, 3 * a, 0, 1, 0, 0, 1, 0x81);
    stor(x, QMAC_BUF_ACC, S(4), 4, 9, 1, 1, a, 0, 0);
    ldp(x, QMAC_BUF_OUT, D(3), 7, 4, 1, 3, n, 0, 5 * n, 2, 2, 0, 0, 0xff);
    stor(x, QMAC_BUF_OUT, S(5), 7, 24, 1, 1, n, 0, 0);
    ldp(x, QMAC_BUF_WGT, D(4), 0, 1, 2, 1, 0, n, 0, 0, 1, 2, 0, 0x11); /* x_stride 0: a repeated row */
    stor(x, QMAC_BUF_WGT, S(6), 0, 8, 1, 1, n, 0, 0);
    op0(x, QMAC_OP_END);
}

static void p_bursts_4k(ctx *x)
{
    const uint32_t n = x->n, a = x->rba;
    /* 40 contiguous rows starting 2 rows before a 4 KiB boundary: bursts cut at 4 KiB and 16 beats */
    ld(x, QMAC_BUF_INP, D(2) - 2 * n, 0, 40, 1, 1, n, 0, 0);
    ld(x, QMAC_BUF_ACC, D(4) - a - 2 * n, 0, 10, 1, 1, a, 0, 0); /* ACC rows straddling 4 KiB */
    ld(x, QMAC_BUF_ACC, D(6) - 2 * n, 16, 3, 1, 1, 2 * a, 0, 0);
    stor(x, QMAC_BUF_INP, S(2) - 3 * n, 0, 40, 1, 1, n, 0, 0);
    stor(x, QMAC_BUF_ACC, S(4) - 2 * n, 0, 19, 1, 1, a, 0, 0);
    stor(x, QMAC_BUF_ACC, S(8) - n, 2, 5, 1, 1, 3 * a, 0, 0);
    op0(x, QMAC_OP_END);
}

static void p_degenerate_dma(ctx *x)
{
    const uint32_t n = x->n;
    ld(x, QMAC_BUF_INP, D(0), 0, 3, 1, 0, n, 0, 0);                    /* z = 0: nothing */
    ldp(x, QMAC_BUF_INP, D(0), 4, 3, 0, 2, n, 0, 0, 1, 1, 2, 1, 0x33); /* padding rows only */
    ldp(x, QMAC_BUF_OUT, D(0), 2, 0, 2, 1, n, 0, 0, 2, 0, 0, 0, 0x44); /* x = 0, padding rows only */
    stor(x, QMAC_BUF_INP, S(0), 4, 0, 1, 1, n, 0, 0);                  /* x = 0: nothing */
    stor(x, QMAC_BUF_INP, S(1), 0, 30, 1, 1, n, 0, 0);
    stor(x, QMAC_BUF_OUT, S(2), 0, 8, 1, 1, n, 0, 0);
    op0(x, QMAC_OP_END);
}

/* weights, inputs and parameters of a GEMM test */
static void gemm_setup(ctx *x, uint32_t rule, bool bin_thr, uint32_t inp_rows)
{
    const uint32_t n = x->n;
    put_params(x, D(7), rule, bin_thr);
    ld(x, QMAC_BUF_ACC, D(7), 60, 3, 1, 1, x->rba, 0, 0);
    param(x, 60);
    ld(x, QMAC_BUF_WGT, D(0), 0, 2 * n, 1, 1, n, 0, 0); /* two tiles */
    ld(x, QMAC_BUF_INP, D(1), 0, inp_rows, 1, 1, n, 0, 0);
}

static void p_gemm_s8(ctx *x)
{
    config(x, 0, 1, 1, QMAC_RULE_TFLITE, QMAC_OMODE_S8, (uint32_t)-3, 0, 0x80, 0x7f);
    gemm_setup(x, QMAC_RULE_TFLITE, false, 24);
    gemm(x, 0, 0, 0, 0, 0, 12, 2, 1, 12, 1, 12, 0, 0, 0);
    stor(x, QMAC_BUF_ACC, S(0), 0, 24, 1, 1, x->rba, 0, 0);
    op0(x, QMAC_OP_END);
}

static void p_gemm_u8_zp(ctx *x)
{
    config(x, 0, 0, 0, QMAC_RULE_TFLITE, QMAC_OMODE_U8, 128, 0, 0, 255);
    gemm_setup(x, QMAC_RULE_TFLITE, false, 20);
    gemm(x, 0, 0, x->n, 0, 4, 5, 4, 2, 1, 1, 5, 0, 0, 0);
    config(x, 0, 0, 1, QMAC_RULE_TFLITE, QMAC_OMODE_U8, 7, 0, 0, 255);
    gemm(x, 0, 0, 0, 3, 30, 9, 1, 1, 0, 1, 0, 0, 0, 0);
    stor(x, QMAC_BUF_ACC, S(0), 0, 40, 1, 1, x->rba, 0, 0);
    op0(x, QMAC_OP_END);
}

static void p_gemm_accum(ctx *x)
{
    config(x, 0, 1, 0, QMAC_RULE_TFLITE, QMAC_OMODE_S8, 0, 0, 0x80, 0x7f);
    gemm_setup(x, QMAC_RULE_TFLITE, false, 16);
    ld(x, QMAC_BUF_ACC, D(3), 0, 8, 1, 1, x->rba, 0, 0); /* random accumulators near anything */
    gemm(x, 1, 0, 0, 0, 0, 8, 1, 1, 0, 1, 0, 0, 0, 0);   /* accumulate onto loaded rows */
    gemm(x, 1, 0, x->n, 8, 0, 8, 1, 1, 0, 1, 0, 0, 0, 0);
    gemm(x, 0, 0, 0, 0, 8, 8, 1, 1, 0, 1, 0, 0, 0, 0);
    gemm(x, 1, 0, x->n, 8, 8, 8, 1, 1, 0, 1, 0, 0, 0, 0);
    stor(x, QMAC_BUF_ACC, S(0), 0, 16, 1, 1, x->rba, 0, 0);
    op0(x, QMAC_OP_END);
}

static void gemm_post_prog(ctx *x, uint32_t rule, uint32_t omode, uint32_t ozp, uint32_t cmin, uint32_t cmax)
{
    config(x, 0, 1, 1, rule, omode, 2, ozp, cmin, cmax);
    gemm_setup(x, rule, omode == QMAC_OMODE_BIN, 24);
    if (omode == QMAC_OMODE_BIN) {
        for (uint32_t g = 0; g < 8; g++)
            gemm(x, 2, g, (g & 1u) * x->n, 3 * g, 8 * (g % 2), 3, 1, 1, 0, 1, 0, g % 3, 1, 0);
    } else {
        gemm(x, 2, 0, 0, 0, 0, 6, 3, 1, 6, 1, 6, 0, 1, 6);
        gemm(x, 3, 0, x->n, 4, 0, 6, 3, 1, 6, 1, 6, 20, 1, 6);
    }
    stor(x, QMAC_BUF_OUT, S(0), 0, 40, 1, 1, x->n, 0, 0);
    stor(x, QMAC_BUF_ACC, S(1), 0, 18, 1, 1, x->rba, 0, 0);
    op0(x, QMAC_OP_END);
}

static void p_gemm_post_s8(ctx *x)
{
    gemm_post_prog(x, QMAC_RULE_TFLITE, QMAC_OMODE_S8, (uint32_t)-5, (uint32_t)-100, 90);
}
static void p_gemm_post_u8(ctx *x)
{
    gemm_post_prog(x, QMAC_RULE_SINGLE, QMAC_OMODE_U8, 100, 3, 250);
}
static void p_gemm_post_float(ctx *x)
{
    gemm_post_prog(x, QMAC_RULE_FLOAT, QMAC_OMODE_S8, 7, (uint32_t)-128, 127);
}
static void p_gemm_post_bin(ctx *x)
{
    gemm_post_prog(x, QMAC_RULE_TFLITE, QMAC_OMODE_BIN, 0, 0, 0);
}

static void p_gemm_binary(ctx *x)
{
    config(x, 1, 0, 0, QMAC_RULE_TFLITE, QMAC_OMODE_BIN, 0, 0, 0, 0);
    gemm_setup(x, QMAC_RULE_TFLITE, true, 16);
    /* canonical binary operands: uint8 with zero points 0 */
    gemm(x, 2, 1, 0, 0, 0, 16, 1, 1, 0, 1, 0, 0, 1, 0);
    config(x, 1, 1, 1, QMAC_RULE_TFLITE, QMAC_OMODE_BIN, 3, 0, 0, 0); /* odd zero points too */
    gemm(x, 3, 2, x->n, 0, 0, 16, 1, 1, 0, 1, 0, 0, 1, 0);
    stor(x, QMAC_BUF_OUT, S(0), 0, 16, 1, 1, x->n, 0, 0);
    stor(x, QMAC_BUF_ACC, S(1), 0, 16, 1, 1, x->rba, 0, 0);
    op0(x, QMAC_OP_END);
}

static void p_gemm_tiles(ctx *x)
{
    const uint32_t n = x->n;
    config(x, 0, 1, 1, QMAC_RULE_TFLITE, QMAC_OMODE_S8, 1, 0, 0x80, 0x7f);
    gemm_setup(x, QMAC_RULE_TFLITE, false, 48);
    ld(x, QMAC_BUF_WGT, D(5), 2 * n, 2 * n, 1, 1, n, 0, 0); /* two more tiles */
    /* tiles shorter and longer than N back to back: they stream through the array */
    const uint32_t len[] = {1, 3, n, n + 5, 2, 2 * n, n - 1, 1, n + 1};
    uint32_t acc = 0, out = 0;
    for (size_t i = 0; i < sizeof len / sizeof len[0]; i++) {
        const uint32_t w = (uint32_t)(i % 4) * n, flags = (i % 3 == 1) ? 2u : (i % 3 == 2) ? 1u : 0u;
        gemm(x, flags, 0, w, (uint32_t)i, acc, len[i], 1, 1, 0, 1, 0, out, 1, 0);
        acc += len[i] / 2;
        out += len[i];
    }
    stor(x, QMAC_BUF_ACC, S(0), 0, acc + 2 * n + 2, 1, 1, x->rba, 0, 0);
    stor(x, QMAC_BUF_OUT, S(8), 0, out, 1, 1, n, 0, 0);
    op0(x, QMAC_OP_END);
}

static void p_gemm_forwarding(ctx *x)
{
    config(x, 0, 1, 1, QMAC_RULE_TFLITE, QMAC_OMODE_S8, 0, 0, 0x80, 0x7f);
    gemm_setup(x, QMAC_RULE_TFLITE, false, 16);
    ld(x, QMAC_BUF_ACC, D(3), 0, 4, 1, 1, x->rba, 0, 0);
    gemm(x, 1, 0, 0, 0, 0, 7, 1, 1, 0, 0, 0, 0, 0, 0);    /* one ACC row, every vector: distance 1 */
    gemm(x, 3, 0, 0, 0, 1, 2, 5, 1, 2, 1, 0, 0, 0, 1);    /* rows 1, 2, 1, 2, ...: distance 2 */
    gemm(x, 1, 0, x->n, 3, 3, 3, 3, 0, 1, 0, 0, 0, 0, 0); /* the next tile on row 3 right after */
    gemm(x, 1, 0, 0, 5, 3, 1, 1, 0, 0, 0, 0, 0, 0, 0);    /* and a one-vector tile on the same row */
    stor(x, QMAC_BUF_ACC, S(0), 0, 4, 1, 1, x->rba, 0, 0);
    stor(x, QMAC_BUF_OUT, S(1), 0, 5, 1, 1, x->n, 0, 0);
    op0(x, QMAC_OP_END);
}

static void p_post_modes(ctx *x)
{
    const uint32_t n = x->n;
    put_params(x, D(7), QMAC_RULE_TFLITE, false);
    ld(x, QMAC_BUF_ACC, D(7), 60, 3, 1, 1, x->rba, 0, 0);
    ld(x, QMAC_BUF_ACC, D(2), 0, 32, 1, 1, x->rba, 0, 0);
    param(x, 60);
    config(x, 0, 0, 0, QMAC_RULE_TFLITE, QMAC_OMODE_S8, 0, 3, (uint32_t)-20, 100);
    post(x, 0, 0, 4, 2, 1, 4, 0, 1, 4);
    config(x, 0, 0, 0, QMAC_RULE_SINGLE, QMAC_OMODE_U8, 0, 200, 10, 220);
    post(x, 0, 8, 4, 2, 2, 1, 8, 1, 4);
    config(x, 0, 0, 0, QMAC_RULE_TFLITE, QMAC_OMODE_BIN, 0, 0, 0, 0);
    for (uint32_t g = 0; g < 8; g++)
        post(x, g, 16 + g, 2, 1, 1, 0, 20, 1, 0);
    post(x, 0, 0, 0, 3, 1, 1, 0, 1, 1); /* L = 0 */
    config(x, 0, 0, 0, QMAC_RULE_FLOAT, QMAC_OMODE_S8, 0, (uint32_t)-1, (uint32_t)-128, 127);
    put_params(x, D(8), QMAC_RULE_FLOAT, false);
    ld(x, QMAC_BUF_ACC, D(8), 63, 3, 1, 1, x->rba, 0, 0);
    param(x, 63);
    post(x, 0, 0, 6, 1, 1, 0, 24, 1, 0);
    stor(x, QMAC_BUF_OUT, S(0), 0, 30, 1, 1, n, 0, 0);
    op0(x, QMAC_OP_END);
}

static void p_valu_ops(ctx *x)
{
    const uint32_t n = x->n;
    ld(x, QMAC_BUF_ACC, D(2), 0, 16, 1, 1, x->rba, 0, 0);
    ld(x, QMAC_BUF_INP, D(3), 0, 8, 1, 1, n, 0, 0);
    ld(x, QMAC_BUF_OUT, D(4), 0, 8, 1, 1, n, 0, 0);
    for (uint32_t alu = 0; alu < QMAC_ALU_COUNT; alu++) {
        for (uint32_t form = 0; form < 4; form++) {
            valu_args v = {.alu = alu,
                           .b_imm = form & 1u,
                           .a_buf = form >> 1 ? QMAC_ABUF_INP : QMAC_ABUF_ACC,
                           .a_signed = alu & 1u,
                           .b = 8,
                           .a = 2 * form,
                           .dst = 16 + 4 * alu + form,
                           .c0 = 2,
                           .c1 = 1,
                           .a_s0 = 1,
                           .d_s0 = 40,
                           .b_s0 = 1,
                           .imm = form == 1 ? 0xfffffff3u : 21u,
                           .shift = (int32_t)alu * 7 - 33};
            if (alu == QMAC_ALU_SHL || alu == QMAC_ALU_SHR || alu == QMAC_ALU_SHRR)
                v.imm = (uint32_t)(alu + 3u * form);
            valu(x, &v);
        }
    }
    valu_args v = {.alu = QMAC_ALU_MOV,
                   .a_buf = QMAC_ABUF_OUT,
                   .a_signed = 1,
                   .a = 0,
                   .dst = 100,
                   .c0 = 8,
                   .c1 = 1,
                   .a_s0 = 1,
                   .d_s0 = 1};
    valu(x, &v);
    v.a_signed = 0;
    v.dst = 110;
    valu(x, &v);
    v = (valu_args){.alu = QMAC_ALU_ADD,
                    .b_imm = 0,
                    .a_buf = QMAC_ABUF_ACC,
                    .a = 0,
                    .b = 0,
                    .dst = 0,
                    .c0 = 0,
                    .c1 = 5}; /* L = 0 */
    valu(x, &v);
    stor(x, QMAC_BUF_ACC, S(0), 0, 120, 1, 1, x->rba, 0, 0);
    op0(x, QMAC_OP_END);
}

static void p_valu_forwarding(ctx *x)
{
    ld(x, QMAC_BUF_ACC, D(2), 0, 8, 1, 1, x->rba, 0, 0);
    /* dst = A on one row, every iteration: distance 1 */
    valu_args v = {.alu = QMAC_ALU_ADD,
                   .b_imm = 1,
                   .a_buf = QMAC_ABUF_ACC,
                   .a = 0,
                   .dst = 0,
                   .c0 = 6,
                   .c1 = 1,
                   .imm = 0x1001u};
    valu(x, &v);
    /* B = the row just written, A another row */
    v = (valu_args){.alu = QMAC_ALU_MUL, .a_buf = QMAC_ABUF_ACC, .a = 2, .b = 1, .dst = 1, .c0 = 5, .c1 = 1};
    valu(x, &v);
    /* rows alternating: distance 2 on A and B */
    v = (valu_args){.alu = QMAC_ALU_SUB,
                    .a_buf = QMAC_ABUF_ACC,
                    .a = 3,
                    .b = 4,
                    .dst = 3,
                    .c0 = 2,
                    .c1 = 4,
                    .a_s0 = 1,
                    .d_s0 = 1,
                    .b_s0 = 0,
                    .a_s1 = 0,
                    .d_s1 = 0};
    valu(x, &v);
    v = (valu_args){.alu = QMAC_ALU_MAX,
                    .a_buf = QMAC_ABUF_ACC,
                    .a = 5,
                    .b = 6,
                    .dst = 6,
                    .c0 = 2,
                    .c1 = 3,
                    .a_s0 = 1,
                    .b_s0 = 0,
                    .d_s0 = 0};
    valu(x, &v);
    /* a chain across instructions: each reads the previous one's rows */
    v = (valu_args){.alu = QMAC_ALU_SHRR,
                    .b_imm = 1,
                    .a_buf = QMAC_ABUF_ACC,
                    .a = 6,
                    .dst = 7,
                    .c0 = 1,
                    .c1 = 1,
                    .imm = 3};
    valu(x, &v);
    v = (valu_args){.alu = QMAC_ALU_MBQM,
                    .b_imm = 1,
                    .a_buf = QMAC_ABUF_ACC,
                    .a = 7,
                    .dst = 7,
                    .c0 = 3,
                    .c1 = 1,
                    .imm = 0x5a5a5a5au,
                    .shift = 2};
    valu(x, &v);
    stor(x, QMAC_BUF_ACC, S(0), 0, 8, 1, 1, x->rba, 0, 0);
    op0(x, QMAC_OP_END);
}

static void p_config_param(ctx *x)
{
    const uint32_t n = x->n;
    put_params(x, D(7), QMAC_RULE_SINGLE, false);
    ld(x, QMAC_BUF_ACC, D(7), 0, 3, 1, 1, x->rba, 0, 0);
    ld(x, QMAC_BUF_ACC, D(2), 3, 8, 1, 1, x->rba, 0, 0);
    param(x, 0);
    static const uint32_t cl[][4] = {{QMAC_OMODE_S8, 0, 0x80, 0x7f},
                                     {QMAC_OMODE_S8, 0x7f, 0xf0, 0x10},
                                     {QMAC_OMODE_U8, 0x80, 0x00, 0xff},
                                     {QMAC_OMODE_U8, 0, 0x40, 0x40},
                                     {QMAC_OMODE_S8, 0x80, 0xff, 0xff}};
    for (uint32_t i = 0; i < 5; i++) {
        config(x, 0, i & 1u, 0, i % 2 ? QMAC_RULE_SINGLE : QMAC_RULE_TFLITE, cl[i][0], 0, cl[i][1], cl[i][2],
               cl[i][3]);
        post(x, 0, 3, 8, 1, 1, 0, 8 * i, 1, 0);
    }
    param(x, 3); /* random rows as parameters */
    post(x, 0, 3, 8, 1, 1, 0, 40, 1, 0);
    stor(x, QMAC_BUF_OUT, S(0), 0, 48, 1, 1, n, 0, 0);
    op0(x, QMAC_OP_END);
}

static void p_hazards(ctx *x)
{
    const uint32_t n = x->n, a = x->rba;
    config(x, 0, 1, 1, QMAC_RULE_TFLITE, QMAC_OMODE_S8, 0, 0, 0x80, 0x7f);
    gemm_setup(x, QMAC_RULE_TFLITE, false, 8);
    gemm(x, 2, 0, 0, 0, 0, 8, 1, 1, 0, 1, 0, 0, 1, 0);
    ld(x, QMAC_BUF_INP, D(3), 0, 8, 1, 1, n, 0, 0);    /* WAR on INP: must wait for the GEMM */
    stor(x, QMAC_BUF_ACC, S(0), 0, 8, 1, 1, a, 0, 0);  /* RAW on ACC */
    gemm(x, 0, 0, n, 0, 0, 8, 1, 1, 0, 1, 0, 0, 0, 0); /* WAR on ACC against the STORE */
    stor(x, QMAC_BUF_ACC, S(1), 0, 8, 1, 1, a, 0, 0);
    stor(x, QMAC_BUF_OUT, S(2), 0, 8, 1, 1, n, 0, 0);
    ld(x, QMAC_BUF_INP, S(2), 8, 8, 1, 1, n, 0, 0); /* RAW through memory */
    ld(x, QMAC_BUF_OUT, S(1), 0, 8, 1, 1, n, 0, 0); /* port W(OUT) free, data from the STORE */
    valu_args v = {.alu = QMAC_ALU_ADD,
                   .b_imm = 1,
                   .a_buf = QMAC_ABUF_INP,
                   .a = 8,
                   .dst = 0,
                   .c0 = 8,
                   .c1 = 1,
                   .a_s0 = 1,
                   .d_s0 = 1,
                   .imm = 5};
    valu(x, &v);
    stor(x, QMAC_BUF_ACC, S(0), 0, 8, 1, 1, a, 0, 0); /* overwrites the first STORE's bytes */
    stor(x, QMAC_BUF_OUT, S(3), 0, 8, 1, 1, n, 0, 0);
    op0(x, QMAC_OP_END);
}

/* A post-GEMM of N vectors, then a one-vector GEMM streaming after it, which retires 2 cycles
 * before it; then VALUs reading the OUT rows the first GEMM writes last (A from OUT) and a CONFIG
 * changing the output mode under its last (BIN) OUT writes. */
static void p_ooo_retire(ctx *x)
{
    const uint32_t n = x->n;
    for (uint32_t pass = 0; pass < 2; pass++) {
        const uint32_t omode = pass ? QMAC_OMODE_BIN : QMAC_OMODE_S8;
        config(x, 0, 1, 1, QMAC_RULE_TFLITE, omode, 0, 0, 0x80, 0x7f);
        if (pass == 0)
            gemm_setup(x, QMAC_RULE_TFLITE, false, 2 * n);
        gemm(x, 2, 3, 0, 0, 0, n, 1, 1, 0, 1, 0, 16 * pass, 1, 0);
        gemm(x, 0, 0, n, n, n, 1, 1, 1, 0, 1, 0, 0, 0, 0);
        if (pass == 0) {
            valu_args v = {.alu = QMAC_ALU_ADD,
                           .b_imm = 1,
                           .a_buf = QMAC_ABUF_OUT,
                           .a_signed = 1,
                           .a = n - 1,
                           .dst = 2 * n,
                           .c0 = 2,
                           .c1 = 1,
                           .a_s0 = (uint32_t)-1 & 0xffffu,
                           .d_s0 = 1,
                           .imm = 1};
            v.a_s0 = 0;
            valu(x, &v);
        } else {
            config(x, 0, 1, 1, QMAC_RULE_TFLITE, QMAC_OMODE_S8, 0, 0, 0x80, 0x7f);
        }
    }
    stor(x, QMAC_BUF_OUT, S(0), 0, 16 + n, 1, 1, n, 0, 0);
    stor(x, QMAC_BUF_ACC, S(1), 0, 2 * n + 2, 1, 1, x->rba, 0, 0);
    op0(x, QMAC_OP_END);
}

/* A little real work before a fault, and work after it that must never happen. */
static void fault_prelude(ctx *x)
{
    ld(x, QMAC_BUF_INP, D(0), 0, 6, 1, 1, x->n, 0, 0);
    stor(x, QMAC_BUF_INP, S(0), 0, 6, 1, 1, x->n, 0, 0);
}

static void fault_postlude(ctx *x)
{
    ld(x, QMAC_BUF_ACC, D(1), 0, 4, 1, 1, x->rba, 0, 0);
    stor(x, QMAC_BUF_INP, S(1), 0, 6, 1, 1, x->n, 0, 0);
    op0(x, QMAC_OP_END);
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
    const qmac_insn in = load_insn(QMAC_BUF_INP, D(0), 8, 2, 1, 1, x->n, 0, 0);
    uint32_t w[QMAC_INSN_WORDS];
    qmac_insn_encode(&in, w);
    w[0] |= 1u << 12; /* a reserved bit of LOAD */
    emit_words(x, w);
    fault_postlude(x);
}

static void p_fault_field_enum(ctx *x)
{
    fault_prelude(x);
    valu_args v = {.alu = QMAC_ALU_ADD, .a = 0, .dst = 0, .c0 = 1, .c1 = 1};
    qmac_insn in;
    memset(&in, 0, sizeof in);
    in.op = QMAC_OP_VALU;
    in.u.valu.count0 = v.c0;
    in.u.valu.count1 = v.c1;
    uint32_t w[QMAC_INSN_WORDS];
    qmac_insn_encode(&in, w);
    w[0] |= 12u << QMAC_VALU_ALU_LSB; /* alu 12 */
    emit_words(x, w);
    fault_postlude(x);
}

static void p_fault_field_clamp(ctx *x)
{
    fault_prelude(x);
    config(x, 0, 0, 0, 0, QMAC_OMODE_U8, 0, 0, 0x7f, 0x80); /* fine as U8 */
    qmac_insn in;
    memset(&in, 0, sizeof in);
    in.op = QMAC_OP_CONFIG;
    in.u.config = (qmac_insn_config){.omode = QMAC_OMODE_S8, .clamp_min = 0x7f, .clamp_max = 0x80};
    uint32_t w[QMAC_INSN_WORDS];
    qmac_insn_encode(&in, w); /* 127 > -128 as int8 */
    emit_words(x, w);
    fault_postlude(x);
}

static void p_fault_align(ctx *x)
{
    fault_prelude(x);
    const qmac_insn in = load_insn(QMAC_BUF_INP, D(0), 8, 2, 2, 1, x->n, x->n * 3 + x->n / 2, 0);
    emit(x, &in);
    fault_postlude(x);
}

static void p_fault_buf_range(ctx *x)
{
    fault_prelude(x);
    gemm(x, 0, 0, 0, 0, x->cfg->acc_rows - 2, 2, 2, 1, 1, 1, 1, 0, 0, 0); /* ACC rows up to depth + 1 */
    fault_postlude(x);
}

static void p_fault_window(ctx *x)
{
    x->c->run.win.hi = MEM_END - 0x10000u - 1u;
    fault_prelude(x);
    stor(x, QMAC_BUF_INP, MEM_END - 0x10000u - x->n, 0, 2, 1, 1, x->n, 0, 0); /* its second row is outside */
    fault_postlude(x);
}

static void p_fault_fetch_end(ctx *x)
{
    fault_prelude(x);
    gemm(x, 0, 0, 0, 0, 0, 4, 1, 1, 0, 1, 0, 0, 0, 0);
    op0(x, QMAC_OP_NOP);
    /* no END: the program ends the window (set in accel_directed) */
}

static void p_fault_fetch_misaligned(ctx *x)
{
    x->c->run.prog_addr = MEM_BASE + 16u;
    fault_prelude(x);
    op0(x, QMAC_OP_END);
}

static void p_fault_bus_load(ctx *x)
{
    x->c->run.win =
        (qmac_window){MEM_BASE, MEM_END + MEM_SIZE - 1u}; /* the window is larger than the memory */
    fault_prelude(x);
    ld(x, QMAC_BUF_INP, MEM_END - 2 * x->n, 10, 5, 1, 1, x->n, 0, 0); /* three rows beyond the memory */
    op0(x, QMAC_OP_END);
}

static void p_fault_bus_store(ctx *x)
{
    x->c->run.win = (qmac_window){MEM_BASE, MEM_END + MEM_SIZE - 1u};
    fault_prelude(x);
    stor(x, QMAC_BUF_INP, MEM_END - 3 * x->n, 0, 6, 1, 1, x->n, 0, 0);
    op0(x, QMAC_OP_END);
}

static void p_fault_bus_fetch(ctx *x)
{
    x->c->run.win = (qmac_window){MEM_BASE, MEM_END + MEM_SIZE - 1u};
    fault_prelude(x);
    op0(x, QMAC_OP_NOP);
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
    memset(in, 0, sizeof *in);
    if (load) {
        *in = load_insn(buf, dram, sram, xn, yn, zn, xs, ys, zs);
        in->u.load.pad_x0 = px0;
        in->u.load.pad_x1 = px1;
        in->u.load.pad_y0 = py0;
        in->u.load.pad_y1 = py1;
        in->u.load.pad_value = rnd(g, 256);
    } else {
        in->op = QMAC_OP_STORE;
        in->u.store = (qmac_insn_store){buf, dram, sram, xn, yn, zn, xs, ys, zs};
    }
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
        memset(&in, 0, sizeof in);
        in.op = QMAC_OP_VALU;
        in.u.valu.count0 = in.u.valu.count1 = 1;
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
        in = load_insn(QMAC_BUF_INP, win->hi - x->n + 1u, 0, 2, 1, 1, x->n, 0, 0); /* crosses WIN_HI */
        qmac_insn_encode(&in, w);
        break;
    default:
        memset(&in, 0, sizeof in);
        in.op = QMAC_OP_PARAM;
        in.u.param.acc = x->cfg->acc_rows - 2u; /* rows depth - 2 .. depth */
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
        ld(&x, QMAC_BUF_ACC, D(20), 0, 3, 1, 1, x.rba, 0, 0);
        param(&x, 0);
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
        if (!ok) {
            memset(&in, 0, sizeof in);
            in.op = QMAC_OP_NOP;
        }
        emit(&x, &in);
    }
    op0(&x, QMAC_OP_END);
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
    config(&x, 0, 1, 1, QMAC_RULE_TFLITE, QMAC_OMODE_S8, 0, 0, 0x80, 0x7f);
    ld(&x, QMAC_BUF_WGT, D(0), 0, 4 * n, 1, 1, n, 0, 0);
    ld(&x, QMAC_BUF_INP, D(1), 0, inp, 1, 1, n, 0, 0);
    /* count0 * count1 = vectors, over inp rows and acc rows (wrapping with the outer loop) */
    for (uint32_t t = 0; t < tiles; t++)
        gemm(&x, t ? 1u : 0u, 0, (t % 4) * n, 0, 0, inp, vectors / inp, 1, 0, 1, 0, 0, 0, 0);
    stor(&x, QMAC_BUF_ACC, S(0), 0, 64 < acc ? 64 : acc, 1, 1, x.rba, 0, 0);
    op0(&x, QMAC_OP_END);
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
