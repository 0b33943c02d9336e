/* decode_main.c - equivalence test of the Verilated qmac_decode against qmac_insn_check() in C.
 *
 * qmac_decode (hw/rtl/qmac_decode.sv) is combinational: each case pokes one 256-bit instruction
 * and a window, evaluates, and compares every output with the C side of the same build
 * (--config default|small, sw/src/isa.c):
 *   fault_o, ok_o        qmac_insn_check() (OPCODE, FIELD, ALIGN, BUF_RANGE, WINDOW, in that order)
 *   op_o, unit_o         the opcode and the unit it goes to (dispatcher, load, store, compute)
 *   rng_*_o              qmac_insn_footprint() slot by slot (empty RTL slots skipped), whenever the
 *                        instruction decodes (its fault is none, ALIGN, BUF_RANGE or WINDOW)
 *   ports_o              the buffer ports of docs/microarch.md ("Ports used"), written out here
 *                        from the decoded fields independently of the RTL
 *   loop_len_o           count0 * count1 (GEMM, POST, VALU), 3 (PARAM), 0 otherwise
 *   dma_rows_o           qmac_dma_total_rows() (LOAD, STORE)
 *
 * Stimulus per case (case k has its own seed, so --case k regenerates it alone):
 *   legal-ish  every opcode with random fields from edge-heavy distributions, row bases placed so
 *              the last row touched lands on depth - 1, depth or depth + 1, windows placed so the
 *              memory range ends or starts exactly on, inside or outside their edges;
 *   reserved   one of those with exactly one reserved bit set;
 *   enums      enum fields at and beyond their ranges, CONFIG clamps equal, crossed, signed/unsigned;
 *   align      DMA addresses and strides with one bit below N set;
 *   random     256 random bits (mostly bad opcodes, sometimes a valid opcode with random bits).
 * The first mismatch stops the run and prints the seed, the case, the words, the disassembly, the
 * window, both values and the command that reproduces it. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qmac/asm.h"
#include "qmac/isa.h"
#include "qsim.h"
#include "simctl.h"

#define DEFAULT_CASES 200000u

typedef struct {
    int insn, win_lo, win_hi, op, fault, ok, unit, rvalid, rspace, rwrite, rlo, rend, ports, loop_len,
        dma_rows;
} dec_ports;

typedef struct {
    simctl *c;
    qsim *sim;
    dec_ports p;
    qmac_hw_config cfg;
    const char *cfg_name;
    uint64_t by_fault[QMAC_FAULT_COUNT];
    uint64_t by_op[QMAC_OP_COUNT + 1];
} harness;

/* The RTL's outputs for one case. */
typedef struct {
    uint32_t op, fault, ok, unit, rvalid, rspace, rwrite, ports, loop_len;
    uint64_t lo[4], end[4], dma_rows;
} dec_out;

/* ---------------------------------------------------------------------------------------------
 * C reference of what the RTL adds to qmac_insn_check(): unit, ports, loop length
 * ------------------------------------------------------------------------------------------- */

enum { UNIT_DISP = 0, UNIT_LOAD = 1, UNIT_STORE = 2, UNIT_COMPUTE = 3 };

static uint32_t ref_unit(uint32_t op)
{
    switch (op) {
    case QMAC_OP_LOAD: return UNIT_LOAD;
    case QMAC_OP_STORE: return UNIT_STORE;
    case QMAC_OP_CONFIG:
    case QMAC_OP_GEMM:
    case QMAC_OP_POST:
    case QMAC_OP_PARAM:
    case QMAC_OP_VALU: return UNIT_COMPUTE;
    default: return UNIT_DISP;
    }
}

/* docs/microarch.md "Ports used": bit b = R(buffer b), bit 4 + b = W(buffer b). */
static uint32_t ref_ports(const qmac_insn *in)
{
    const uint32_t R = 0, W = 4;
    switch (in->op) {
    case QMAC_OP_LOAD: return 1u << (W + in->u.load.buf);
    case QMAC_OP_STORE: return 1u << (R + in->u.store.buf);
    case QMAC_OP_GEMM: {
        uint32_t p = 1u << (R + QMAC_BUF_INP) | 1u << (R + QMAC_BUF_WGT) | 1u << (W + QMAC_BUF_ACC);
        if (in->u.gemm.accum)
            p |= 1u << (R + QMAC_BUF_ACC);
        if (in->u.gemm.post)
            p |= 1u << (W + QMAC_BUF_OUT);
        return p;
    }
    case QMAC_OP_POST: return 1u << (R + QMAC_BUF_ACC) | 1u << (W + QMAC_BUF_OUT);
    case QMAC_OP_PARAM: return 1u << (R + QMAC_BUF_ACC);
    case QMAC_OP_VALU: {
        static const uint32_t abuf[] = {QMAC_BUF_ACC, QMAC_BUF_INP, QMAC_BUF_OUT};
        uint32_t p = 1u << (R + abuf[in->u.valu.a_buf]) | 1u << (W + QMAC_BUF_ACC);
        if (!in->u.valu.b_imm && in->u.valu.alu != QMAC_ALU_MOV)
            p |= 1u << (R + QMAC_BUF_ACC);
        return p;
    }
    default: return 0;
    }
}

static uint32_t ref_loop_len(const qmac_insn *in)
{
    switch (in->op) {
    case QMAC_OP_GEMM: return in->u.gemm.count0 * in->u.gemm.count1;
    case QMAC_OP_POST: return in->u.post.count0 * in->u.post.count1;
    case QMAC_OP_VALU: return in->u.valu.count0 * in->u.valu.count1;
    case QMAC_OP_PARAM: return 3u;
    default: return 0;
    }
}

/* ---------------------------------------------------------------------------------------------
 * Stimulus
 * ------------------------------------------------------------------------------------------- */

static void put_bits(uint32_t *w, uint32_t lsb, uint32_t width, uint64_t v)
{
    for (uint32_t i = 0; i < width; i++) {
        const uint32_t b = lsb + i;
        const uint32_t bit = (uint32_t)(v >> i) & 1u;
        w[b / 32] = (w[b / 32] & ~(1u << (b % 32))) | bit << (b % 32);
    }
}

static uint64_t get_bits(const uint32_t *w, uint32_t lsb, uint32_t width)
{
    uint64_t v = 0;
    for (uint32_t i = 0; i < width; i++) {
        const uint32_t b = lsb + i;
        v |= (uint64_t)((w[b / 32] >> (b % 32)) & 1u) << i;
    }
    return v;
}

static const qmac_isa_field *field_of(uint32_t op, const char *name)
{
    const qmac_isa_format *f = &qmac_isa_formats[op];
    for (uint32_t i = 0; i < f->n_fields; i++)
        if (!strcmp(f->fields[i].name, name))
            return &f->fields[i];
    return NULL;
}

static void set_field(uint32_t *w, uint32_t op, const char *name, uint64_t v)
{
    const qmac_isa_field *f = field_of(op, name);
    if (f)
        put_bits(w, f->lsb, f->width, v);
}

static uint64_t field(const uint32_t *w, uint32_t op, const char *name)
{
    const qmac_isa_field *f = field_of(op, name);
    return f ? get_bits(w, f->lsb, f->width) : 0;
}

/* A value for a field of `width` bits: edge-heavy. */
static uint64_t edge_value(simctl_rng *r, uint32_t width)
{
    const uint64_t max = width >= 64 ? UINT64_MAX : (UINT64_C(1) << width) - 1u;
    switch (simctl_rng_below(r, 8)) {
    case 0: return 0;
    case 1: return 1;
    case 2: return max;
    case 3: return max - simctl_rng_below(r, 3);
    case 4: return simctl_rng_below(r, 8);
    case 5: return (UINT64_C(1) << simctl_rng_below(r, width)) & max;
    default: return simctl_rng_u64(r) & max;
    }
}

static uint32_t small_count(simctl_rng *r)
{
    switch (simctl_rng_below(r, 10)) {
    case 0: return 0;
    case 1: return 1u + simctl_rng_below(r, 65535);
    case 2: return 65535;
    default: return 1u + simctl_rng_below(r, 6);
    }
}

static uint32_t small_stride(simctl_rng *r, uint32_t depth)
{
    switch (simctl_rng_below(r, 8)) {
    case 0: return 0;
    case 1: return 1;
    case 2: return simctl_rng_below(r, 65536);
    case 3: return depth / (1u + simctl_rng_below(r, 8));
    default: return simctl_rng_below(r, 9);
    }
}

/* A DMA address or stride: a multiple of N mostly, sometimes one stray low bit (ALIGN). */
static uint32_t dma_value(simctl_rng *r, const qmac_hw_config *cfg, bool stride)
{
    uint32_t v;
    switch (simctl_rng_below(r, 6)) {
    case 0: v = 0; break;
    case 1: v = cfg->dim * (stride ? 1u + simctl_rng_below(r, 4) : simctl_rng_below(r, 1024)); break;
    case 2: v = (uint32_t)simctl_rng_u64(r); break;
    case 3: v = 0xffffffffu - simctl_rng_below(r, 4096); break;
    default: v = cfg->dim * simctl_rng_below(r, stride ? 64 : 1u << 20); break;
    }
    if (simctl_rng_chance(r, 1, 8))
        v |= 1u << simctl_rng_below(r, 5);
    else if (simctl_rng_chance(r, 6, 8))
        v &= ~(cfg->dim - 1u);
    return v;
}

/* Fields of opcode `op` with in-range-ish values (the encoding keeps reserved bits zero). */
static void gen_fields(simctl_rng *r, const qmac_hw_config *cfg, uint32_t op, uint32_t *w)
{
    const qmac_isa_format *f = &qmac_isa_formats[op];
    memset(w, 0, sizeof(uint32_t) * QMAC_INSN_WORDS);
    put_bits(w, 0, 8, op);
    for (uint32_t i = 0; i < f->n_fields; i++) {
        const qmac_isa_field *fd = &f->fields[i];
        uint64_t v = edge_value(r, fd->width);
        if (fd->enumeration && simctl_rng_chance(r, 7, 8))
            v = simctl_rng_below(r, fd->enumeration->count);
        put_bits(w, fd->lsb, fd->width, v);
    }
    const uint32_t depth_max = cfg->inp_rows;
    switch (op) {
    case QMAC_OP_CONFIG:
        if (simctl_rng_chance(r, 1, 2)) { /* a legal clamp pair most of the time */
            uint64_t a = simctl_rng_below(r, 256), b = simctl_rng_below(r, 256);
            set_field(w, op, "clamp_min", a);
            set_field(w, op, "clamp_max", simctl_rng_chance(r, 1, 4) ? a : b);
        }
        break;
    case QMAC_OP_LOAD:
    case QMAC_OP_STORE:
        set_field(w, op, "dram", dma_value(r, cfg, false));
        set_field(w, op, "x_stride", dma_value(r, cfg, true));
        set_field(w, op, "y_stride", dma_value(r, cfg, true));
        set_field(w, op, "z_stride", dma_value(r, cfg, true));
        set_field(w, op, "x_size", small_count(r));
        set_field(w, op, "y_size", small_count(r));
        set_field(w, op, "z_size", small_count(r));
        set_field(w, op, "sram", simctl_rng_below(r, simctl_rng_chance(r, 3, 4) ? 128u : 65536u));
        if (op == QMAC_OP_LOAD) {
            static const char *const pads[] = {"pad_x0", "pad_x1", "pad_y0", "pad_y1"};
            for (int k = 0; k < 4; k++)
                set_field(w, op, pads[k], simctl_rng_chance(r, 1, 2) ? 0 : edge_value(r, 8) % 4u);
        }
        break;
    case QMAC_OP_GEMM:
    case QMAC_OP_POST:
    case QMAC_OP_VALU: {
        static const char *const strides[] = {"inp_s0", "inp_s1", "acc_s0", "acc_s1", "out_s0", "out_s1",
                                              "a_s0",   "a_s1",   "dst_s0", "dst_s1", "b_s0",   "b_s1"};
        set_field(w, op, "count0", small_count(r));
        set_field(w, op, "count1", small_count(r));
        for (size_t k = 0; k < sizeof strides / sizeof strides[0]; k++)
            set_field(w, op, strides[k], small_stride(r, depth_max));
        static const char *const bases[] = {"wgt", "inp", "acc", "out", "a", "b", "dst"};
        for (size_t k = 0; k < sizeof bases / sizeof bases[0]; k++)
            set_field(w, op, bases[k], simctl_rng_below(r, depth_max + 8));
        break;
    }
    case QMAC_OP_PARAM: set_field(w, op, "acc", cfg->acc_rows - simctl_rng_below(r, 6)); break;
    default: break;
    }
}

/* Move the instruction's buffer range k so that it ends at depth + delta (delta in [-1, 1]). */
static void place_at_edge(simctl_rng *r, const qmac_hw_config *cfg, uint32_t *w)
{
    qmac_insn in;
    qmac_window all = {0, UINT32_MAX};
    if (qmac_insn_check(w, cfg, &all, &in, NULL) == QMAC_FAULT_OPCODE ||
        qmac_insn_decode(w, &in, NULL) != QMAC_FAULT_NONE)
        return;
    qmac_footprint fp;
    qmac_insn_footprint(&in, cfg, &fp);
    if (fp.n == 0)
        return;
    const qmac_range *rg = &fp.r[simctl_rng_below(r, fp.n)];
    if (rg->space == QMAC_SPACE_MEM)
        return;
    const uint64_t extent = rg->end - rg->lo;
    const int64_t delta = (int64_t)simctl_rng_below(r, 3) - 1;
    const int64_t base = (int64_t)qmac_buf_rows(cfg, (qmac_buf)rg->space) - (int64_t)extent + delta;
    if (base < 0 || base > 65535)
        return;
    const uint32_t op = in.op;
    /* the base field that starts this range */
    const char *name = NULL;
    if (op == QMAC_OP_LOAD || op == QMAC_OP_STORE)
        name = "sram";
    else if (op == QMAC_OP_PARAM)
        name = "acc";
    else {
        static const char *const cand[] = {"wgt", "inp", "acc", "out", "a", "b", "dst"};
        for (size_t k = 0; k < sizeof cand / sizeof cand[0] && !name; k++) {
            const qmac_isa_field *fd = field_of(op, cand[k]);
            if (fd && get_bits(w, fd->lsb, fd->width) == rg->lo)
                name = cand[k];
        }
    }
    if (name)
        set_field(w, op, name, (uint64_t)base);
}

/* A window around the instruction's memory range, on, inside or outside its edges. */
static void gen_window(simctl_rng *r, const qmac_hw_config *cfg, const uint32_t *w, qmac_window *win)
{
    win->lo = 0;
    win->hi = UINT32_MAX;
    switch (simctl_rng_below(r, 6)) {
    case 0:
        win->lo = (uint32_t)simctl_rng_u64(r);
        win->hi = (uint32_t)simctl_rng_u64(r);
        return;
    case 1: return;
    default: break;
    }
    qmac_insn in;
    qmac_window all = {0, UINT32_MAX};
    if (qmac_insn_check(w, cfg, &all, &in, NULL) == QMAC_FAULT_OPCODE ||
        qmac_insn_decode(w, &in, NULL) != QMAC_FAULT_NONE)
        return;
    qmac_footprint fp;
    qmac_insn_footprint(&in, cfg, &fp);
    for (uint32_t i = 0; i < fp.n; i++) {
        if (fp.r[i].space != QMAC_SPACE_MEM)
            continue;
        const int64_t dl = (int64_t)simctl_rng_below(r, 3) - 1, dh = (int64_t)simctl_rng_below(r, 3) - 1;
        int64_t lo = (int64_t)fp.r[i].lo + dl * (simctl_rng_chance(r, 1, 2) ? 1 : (int64_t)cfg->dim);
        int64_t hi = (int64_t)fp.r[i].end - 1 + dh;
        lo = lo < 0 ? 0 : lo > UINT32_MAX ? UINT32_MAX : lo;
        hi = hi < 0 ? 0 : hi > UINT32_MAX ? UINT32_MAX : hi;
        win->lo = (uint32_t)lo;
        win->hi = (uint32_t)hi;
    }
}

typedef enum { K_LEGAL, K_RESERVED, K_ENUM, K_ALIGN, K_RANDOM, K_COUNT } case_kind;
static const char *const kind_name[K_COUNT] = {"legal-ish", "reserved bit", "enum edge", "align",
                                               "random bits"};

static case_kind gen_case(simctl_rng *r, const qmac_hw_config *cfg, uint32_t *w, qmac_window *win)
{
    const uint32_t pick = simctl_rng_below(r, 20);
    const case_kind kind = pick < 11   ? K_LEGAL
                           : pick < 14 ? K_RESERVED
                           : pick < 16 ? K_ENUM
                           : pick < 18 ? K_ALIGN
                                       : K_RANDOM;
    const uint32_t op = simctl_rng_below(r, QMAC_OP_COUNT);
    gen_fields(r, cfg, op, w);
    switch (kind) {
    case K_LEGAL:
        if (simctl_rng_chance(r, 1, 2))
            place_at_edge(r, cfg, w);
        break;
    case K_RESERVED: {
        const qmac_isa_format *f = &qmac_isa_formats[op];
        uint32_t n = 0, bits[256];
        for (uint32_t b = 0; b < 256; b++)
            if (f->reserved[b / 32] >> (b % 32) & 1u)
                bits[n++] = b;
        if (n) {
            const uint32_t b = bits[simctl_rng_below(r, n)];
            w[b / 32] |= 1u << (b % 32);
        }
        break;
    }
    case K_ENUM:
        if (op == QMAC_OP_CONFIG) {
            set_field(w, op, "rule", simctl_rng_below(r, 4));
            set_field(w, op, "omode", simctl_rng_below(r, 4));
            const uint64_t a = simctl_rng_below(r, 256);
            const uint64_t b =
                simctl_rng_chance(r, 1, 2) ? a : (a + (simctl_rng_chance(r, 1, 2) ? 1u : 255u)) & 0xffu;
            set_field(w, op, "clamp_min", a);
            set_field(w, op, "clamp_max", b);
        } else if (op == QMAC_OP_VALU) {
            set_field(w, op, "alu", 8u + simctl_rng_below(r, 8));
            set_field(w, op, "a_buf", simctl_rng_below(r, 4));
        } else if (op == QMAC_OP_LOAD || op == QMAC_OP_STORE) {
            set_field(w, op, "buf", simctl_rng_below(r, 4));
        }
        break;
    case K_ALIGN:
        if (op == QMAC_OP_LOAD || op == QMAC_OP_STORE) {
            static const char *const names[] = {"dram", "x_stride", "y_stride", "z_stride"};
            const char *name = names[simctl_rng_below(r, 4)];
            set_field(w, op, name,
                      field(w, op, name) ^ (1u << simctl_rng_below(r, (uint32_t)__builtin_ctz(cfg->dim))));
        }
        break;
    default:
        for (uint32_t i = 0; i < QMAC_INSN_WORDS; i++)
            w[i] = (uint32_t)simctl_rng_u64(r);
        if (simctl_rng_chance(r, 1, 2))
            w[0] = (w[0] & ~0xffu) | simctl_rng_below(r, QMAC_OP_COUNT);
        break;
    }
    gen_window(r, cfg, w, win);
    return kind;
}

/* ---------------------------------------------------------------------------------------------
 * The RTL
 * ------------------------------------------------------------------------------------------- */

static qmac_status find_ports(harness *h)
{
    struct {
        const char *name;
        qsim_dir dir;
        int *id;
    } want[] = {
        {"insn_i", QSIM_IN, &h->p.insn},          {"win_lo_i", QSIM_IN, &h->p.win_lo},
        {"win_hi_i", QSIM_IN, &h->p.win_hi},      {"op_o", QSIM_OUT, &h->p.op},
        {"fault_o", QSIM_OUT, &h->p.fault},       {"ok_o", QSIM_OUT, &h->p.ok},
        {"unit_o", QSIM_OUT, &h->p.unit},         {"rng_valid_o", QSIM_OUT, &h->p.rvalid},
        {"rng_space_o", QSIM_OUT, &h->p.rspace},  {"rng_write_o", QSIM_OUT, &h->p.rwrite},
        {"rng_lo_o", QSIM_OUT, &h->p.rlo},        {"rng_end_o", QSIM_OUT, &h->p.rend},
        {"ports_o", QSIM_OUT, &h->p.ports},       {"loop_len_o", QSIM_OUT, &h->p.loop_len},
        {"dma_rows_o", QSIM_OUT, &h->p.dma_rows},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const qmac_status st = qsim_port_find(want[i].name, want[i].dir, want[i].id, NULL);
        if (st != QMAC_OK)
            return st;
    }
    return QMAC_OK;
}

static uint32_t peek32(const harness *h, int id)
{
    uint32_t w[2] = {0, 0};
    qsim_peek(h->sim, id, w);
    return w[0];
}

static uint64_t peek64(const harness *h, int id)
{
    uint32_t w[2] = {0, 0};
    qsim_peek(h->sim, id, w);
    return (uint64_t)w[1] << 32 | w[0];
}

static void run_rtl(harness *h, const uint32_t *w, const qmac_window *win, dec_out *o)
{
    qsim_poke(h->sim, h->p.insn, w);
    qsim_poke(h->sim, h->p.win_lo, &win->lo);
    qsim_poke(h->sim, h->p.win_hi, &win->hi);
    qsim_eval(h->sim);
    o->op = peek32(h, h->p.op);
    o->fault = peek32(h, h->p.fault);
    o->ok = peek32(h, h->p.ok);
    o->unit = peek32(h, h->p.unit);
    o->rvalid = peek32(h, h->p.rvalid);
    o->rspace = peek32(h, h->p.rspace);
    o->rwrite = peek32(h, h->p.rwrite);
    o->ports = peek32(h, h->p.ports);
    o->loop_len = peek32(h, h->p.loop_len);
    o->dma_rows = peek64(h, h->p.dma_rows);
    uint32_t lo[8], end[8];
    qsim_peek(h->sim, h->p.rlo, lo);
    qsim_peek(h->sim, h->p.rend, end);
    for (int k = 0; k < 4; k++) {
        o->lo[k] = (uint64_t)lo[2 * k + 1] << 32 | lo[2 * k];
        o->end[k] = (uint64_t)end[2 * k + 1] << 32 | end[2 * k];
    }
}

/* ---------------------------------------------------------------------------------------------
 * Comparison
 * ------------------------------------------------------------------------------------------- */

static void report(const harness *h, uint64_t k, case_kind kind, const uint32_t *w, const qmac_window *win,
                   const char *what, uint64_t expected, uint64_t actual)
{
    char dis[256];
    if (qmac_disasm_insn(w, dis, sizeof dis) != QMAC_OK)
        snprintf(dis, sizeof dis, "(not disassemblable)");
    printf("MISMATCH RTL vs qmac_insn_check: decode %s seed %" PRIu64 " case %" PRIu64
           " (%s): %s expected (C) "
           "%" PRIu64 " (0x%" PRIx64 "), actual (RTL) %" PRIu64 " (0x%" PRIx64 ")\n",
           h->cfg_name, h->c->seed, k, kind_name[kind], what, expected, expected, actual, actual);
    printf("  words:");
    for (int i = 0; i < (int)QMAC_INSN_WORDS; i++)
        printf(" %08x", w[i]);
    printf("\n  insn: %s\n  window: [0x%08x, 0x%08x]\n", dis, win->lo, win->hi);
    simctl_print_repro(h->c, stdout, "--config %s --case %" PRIu64, h->cfg_name, k);
}

/* Returns true when the RTL matches C on case k. */
static bool check_case(harness *h, uint64_t k, case_kind kind, const uint32_t *w, const qmac_window *win)
{
    dec_out o;
    run_rtl(h, w, win, &o);
    qmac_insn in;
    memset(&in, 0, sizeof in);
    const qmac_fault f = qmac_insn_check(w, &h->cfg, win, &in, NULL);
    h->by_fault[f]++;
    const uint32_t op = w[0] & 0xffu;
    h->by_op[op < QMAC_OP_COUNT ? op : QMAC_OP_COUNT]++;
#define EXPECT(what, e, a)                                                                                   \
    do {                                                                                                     \
        if ((uint64_t)(e) != (uint64_t)(a)) {                                                                \
            report(h, k, kind, w, win, what, (uint64_t)(e), (uint64_t)(a));                                  \
            return false;                                                                                    \
        }                                                                                                    \
    } while (0)
    EXPECT("fault_o", f, o.fault);
    EXPECT("ok_o", f == QMAC_FAULT_NONE, o.ok);
    EXPECT("op_o", op, o.op);
    EXPECT("unit_o", op < QMAC_OP_COUNT ? ref_unit(op) : UNIT_DISP, o.unit);
    if (f == QMAC_FAULT_OPCODE || f == QMAC_FAULT_FIELD)
        return true;
    qmac_footprint fp;
    qmac_insn_footprint(&in, &h->cfg, &fp);
    uint32_t n = 0;
    for (uint32_t s = 0; s < 4; s++) {
        if (!(o.rvalid >> s & 1u))
            continue;
        char what[64];
        snprintf(what, sizeof what, "range %u (RTL slot %u) present", n, s);
        EXPECT(what, 1, n < fp.n);
        const qmac_range *rg = &fp.r[n];
        snprintf(what, sizeof what, "range %u (RTL slot %u) space", n, s);
        EXPECT(what, rg->space, o.rspace >> (3 * s) & 7u);
        snprintf(what, sizeof what, "range %u (RTL slot %u) write", n, s);
        EXPECT(what, rg->write, o.rwrite >> s & 1u);
        snprintf(what, sizeof what, "range %u (RTL slot %u) lo", n, s);
        EXPECT(what, rg->lo, o.lo[s]);
        snprintf(what, sizeof what, "range %u (RTL slot %u) end", n, s);
        EXPECT(what, rg->end, o.end[s]);
        n++;
    }
    EXPECT("number of ranges", fp.n, n);
    EXPECT("ports_o", ref_ports(&in), o.ports);
    EXPECT("loop_len_o", ref_loop_len(&in), o.loop_len);
    const bool dma = in.op == QMAC_OP_LOAD || in.op == QMAC_OP_STORE;
    EXPECT("dma_rows_o", dma ? qmac_dma_total_rows(&in) : 0, o.dma_rows);
#undef EXPECT
    return true;
}

/* The build's depths and N, checked at their edges before the random cases: a binary verilated
 * for the other configuration fails here with a clear message. */
static bool check_config(harness *h)
{
    static const qmac_buf bufs[] = {QMAC_BUF_INP, QMAC_BUF_WGT, QMAC_BUF_ACC, QMAC_BUF_OUT};
    const qmac_window all = {0, UINT32_MAX};
    for (int b = 0; b < 4; b++) {
        const uint32_t rows = qmac_buf_rows(&h->cfg, bufs[b]);
        for (uint32_t d = 0; d < 2; d++) {
            qmac_insn in;
            memset(&in, 0, sizeof in);
            in.op = QMAC_OP_LOAD;
            in.u.load.buf = bufs[b];
            in.u.load.sram = rows - 1u + d;
            in.u.load.x_size = in.u.load.y_size = in.u.load.z_size = 1;
            uint32_t w[QMAC_INSN_WORDS];
            qmac_insn_encode(&in, w);
            dec_out o;
            run_rtl(h, w, &all, &o);
            const uint32_t want = d ? QMAC_FAULT_BUF_RANGE : QMAC_FAULT_NONE;
            if (o.fault != want) {
                printf("CONFIG MISMATCH: decode %s: a LOAD of %s row %u gives fault %u, expected %u: is this "
                       "binary verilated for another configuration (--config default|small)?\n",
                       h->cfg_name, qmac_buf_name(bufs[b]), rows - 1u + d, o.fault, want);
                return false;
            }
        }
    }
    return true;
}

/* Split our own options (--config) from simctl's. Returns false on a bad value. */
static bool take_config(int *argc, char **argv, const char **name)
{
    int out = 1;
    *name = "default";
    for (int i = 1; i < *argc; i++) {
        if (!strcmp(argv[i], "--config") && i + 1 < *argc) {
            *name = argv[++i];
            continue;
        }
        argv[out++] = argv[i];
    }
    *argc = out;
    return !strcmp(*name, "default") || !strcmp(*name, "small");
}

int main(int argc, char **argv)
{
    simctl c;
    harness h;
    memset(&h, 0, sizeof h);
    h.c = &c;
    simctl_init(&c, "qmac_decode", DEFAULT_CASES);
    const char *cfg_name;
    if (!take_config(&argc, argv, &cfg_name)) {
        fprintf(stderr, "%s: --config takes default or small, not %s\n", argv[0], cfg_name);
        return SIMCTL_USAGE;
    }
    simctl_rc rc = simctl_parse(&c, argc, argv,
                                "  --config NAME     default (N 16) or small (N 4, 256 rows): the build's "
                                "configuration\n");
    if (rc != SIMCTL_PASS)
        return rc == SIMCTL_HELP ? 0 : (int)rc;
    h.cfg_name = cfg_name;
    if (!strcmp(cfg_name, "small"))
        qmac_hw_config_small(&h.cfg);
    else
        qmac_hw_config_default(&h.cfg);
    if (c.bench) {
        fprintf(stderr, "%s: --bench is not supported by the decode harness\n", c.prog);
        return SIMCTL_USAGE;
    }
    if (qsim_create(&h.sim) != QMAC_OK || find_ports(&h) != QMAC_OK) {
        fprintf(stderr, "%s: %s\n", c.prog, qmac_last_error());
        qsim_destroy(h.sim);
        return SIMCTL_ERROR;
    }
    printf("decode %s (N %u, rows INP %u WGT %u ACC %u OUT %u): seed %" PRIu64 ", cases %" PRIu64 "..%" PRIu64
           "\n",
           cfg_name, h.cfg.dim, h.cfg.inp_rows, h.cfg.wgt_rows, h.cfg.acc_rows, h.cfg.out_rows, c.seed,
           c.first_case, c.first_case + c.cases - 1u);
    rc = check_config(&h) ? SIMCTL_PASS : SIMCTL_MISMATCH;
    const double t0 = simctl_now();
    uint64_t by_kind[K_COUNT] = {0};
    for (uint64_t k = c.first_case; rc == SIMCTL_PASS && k < c.first_case + c.cases; k++) {
        simctl_rng r;
        simctl_rng_seed(&r, simctl_case_seed(c.seed, k));
        uint32_t w[QMAC_INSN_WORDS];
        qmac_window win;
        const case_kind kind = gen_case(&r, &h.cfg, w, &win);
        by_kind[kind]++;
        if (!check_case(&h, k, kind, w, &win))
            rc = SIMCTL_MISMATCH;
        else if (c.verbose)
            printf("case %" PRIu64 " %s ok\n", k, kind_name[kind]);
    }
    qsim_destroy(h.sim);
    if (rc == SIMCTL_PASS) {
        printf("PASS decode %s: %" PRIu64 " cases in %.2f s (seed %" PRIu64 ")\n", cfg_name, c.cases,
               simctl_now() - t0, c.seed);
        printf("  kinds:");
        for (int i = 0; i < K_COUNT; i++)
            printf(" %s %" PRIu64, kind_name[i], by_kind[i]);
        printf("\n  faults:");
        for (uint32_t i = 0; i < QMAC_FAULT_COUNT; i++)
            printf(" %s %" PRIu64, qmac_fault_name((qmac_fault)i), h.by_fault[i]);
        printf("\n  opcodes:");
        for (uint32_t i = 0; i <= QMAC_OP_COUNT; i++)
            printf(" %s %" PRIu64, i < QMAC_OP_COUNT ? qmac_isa_enum_op.names[i] : "bad", h.by_op[i]);
        printf("\n");
    }
    return (int)rc;
}
