/* isa.c - hardware configurations, instruction checks (faults) and footprints (docs/isa.md). */
#include "qmac/isa.h"

#include <stddef.h>

void qmac_hw_config_default(qmac_hw_config *cfg)
{
    cfg->dim = QMAC_CFG_ARRAY_DIM;
    cfg->inp_rows = QMAC_CFG_INP_ROWS;
    cfg->wgt_rows = QMAC_CFG_WGT_ROWS;
    cfg->acc_rows = QMAC_CFG_ACC_ROWS;
    cfg->out_rows = QMAC_CFG_OUT_ROWS;
}

void qmac_hw_config_small(qmac_hw_config *cfg)
{
    cfg->dim = QMAC_CFG_ARRAY_DIM_SMALL;
    cfg->inp_rows = QMAC_CFG_INP_ROWS_SMALL;
    cfg->wgt_rows = QMAC_CFG_WGT_ROWS_SMALL;
    cfg->acc_rows = QMAC_CFG_ACC_ROWS_SMALL;
    cfg->out_rows = QMAC_CFG_OUT_ROWS_SMALL;
}

static bool pow2_in(uint32_t v, uint32_t lo, uint32_t hi)
{
    return v >= lo && v <= hi && (v & (v - 1u)) == 0;
}

qmac_status qmac_hw_config_check(const qmac_hw_config *cfg)
{
    if (!pow2_in(cfg->dim, 4, 32))
        return qmac_set_error(QMAC_ERR_INVALID_ARG,
                              "hw config: array dim %u is not a power of two in [4, 32]", (unsigned)cfg->dim);
    const struct {
        const char *name;
        uint32_t rows, min;
    } b[] = {{"inp_rows", cfg->inp_rows, 2},
             {"wgt_rows", cfg->wgt_rows, cfg->dim},
             {"acc_rows", cfg->acc_rows, QMAC_PARAM_ROWS},
             {"out_rows", cfg->out_rows, 2}};
    for (size_t i = 0; i < sizeof b / sizeof b[0]; i++)
        if (!pow2_in(b[i].rows, 2, 65536) || b[i].rows < b[i].min)
            return qmac_set_error(QMAC_ERR_INVALID_ARG,
                                  "hw config: %s = %u is not a power of two in [max(2, %u), 65536]",
                                  b[i].name, (unsigned)b[i].rows, (unsigned)b[i].min);
    return QMAC_OK;
}

uint32_t qmac_buf_rows(const qmac_hw_config *cfg, qmac_buf b)
{
    switch (b) {
    case QMAC_BUF_INP: return cfg->inp_rows;
    case QMAC_BUF_WGT: return cfg->wgt_rows;
    case QMAC_BUF_ACC: return cfg->acc_rows;
    case QMAC_BUF_OUT: return cfg->out_rows;
    }
    return 0;
}

uint32_t qmac_buf_row_bytes(const qmac_hw_config *cfg, qmac_buf b)
{
    return b == QMAC_BUF_ACC ? 4u * cfg->dim : cfg->dim;
}

const char *qmac_buf_name(qmac_buf b)
{
    return (uint32_t)b < QMAC_BUF_COUNT ? qmac_isa_enum_buf.names[b] : "?";
}

const char *qmac_fault_name(qmac_fault f)
{
    return (uint32_t)f < QMAC_FAULT_COUNT ? qmac_isa_enum_fault.names[f] : "?";
}

/* The common view of LOAD and STORE (STORE has no padding). */
typedef struct {
    qmac_buf buf;
    uint32_t dram, sram, x, y, z, xs, ys, zs, px0, px1, py0, py1;
} dma_view;

static dma_view dma_of(const qmac_insn *in)
{
    dma_view d = {0};
    if (in->op == QMAC_OP_LOAD) {
        const qmac_insn_load *l = &in->u.load;
        d = (dma_view){(qmac_buf)l->buf, l->dram,     l->sram,   l->x_size, l->y_size, l->z_size, l->x_stride,
                       l->y_stride,      l->z_stride, l->pad_x0, l->pad_x1, l->pad_y0, l->pad_y1};
    } else {
        const qmac_insn_store *s = &in->u.store;
        d = (dma_view){(qmac_buf)s->buf, s->dram,     s->sram, s->x_size, s->y_size, s->z_size, s->x_stride,
                       s->y_stride,      s->z_stride, 0,       0,         0,         0};
    }
    return d;
}

uint64_t qmac_dma_total_rows(const qmac_insn *insn)
{
    const dma_view d = dma_of(insn);
    return (uint64_t)d.z * ((uint64_t)d.py0 + d.y + d.py1) * ((uint64_t)d.px0 + d.x + d.px1);
}

uint64_t qmac_dma_data_rows(const qmac_insn *insn)
{
    const dma_view d = dma_of(insn);
    return (uint64_t)d.z * d.y * d.x;
}

/* Last row of a two-level loop base + i0 * s0 + i1 * s1 (c0, c1 >= 1). */
static uint64_t loop_last(uint32_t base, uint32_t c0, uint32_t s0, uint32_t c1, uint32_t s1)
{
    return (uint64_t)base + (uint64_t)(c0 - 1u) * s0 + (uint64_t)(c1 - 1u) * s1;
}

static void add_range(qmac_footprint *fp, uint32_t space, bool write, uint64_t lo, uint64_t end)
{
    fp->r[fp->n++] = (qmac_range){space, write, lo, end};
}

static void add_loop(qmac_footprint *fp, qmac_buf b, bool write, uint32_t base, uint32_t c0, uint32_t s0,
                     uint32_t c1, uint32_t s1)
{
    if (c0 && c1)
        add_range(fp, (uint32_t)b, write, base, loop_last(base, c0, s0, c1, s1) + 1u);
}

void qmac_insn_footprint(const qmac_insn *in, const qmac_hw_config *cfg, qmac_footprint *fp)
{
    fp->n = 0;
    switch (in->op) {
    case QMAC_OP_LOAD:
    case QMAC_OP_STORE: {
        const dma_view d = dma_of(in);
        const bool load = in->op == QMAC_OP_LOAD;
        const uint64_t total = qmac_dma_total_rows(in);
        if (total)
            add_range(fp, (uint32_t)d.buf, load, d.sram, d.sram + total);
        if (qmac_dma_data_rows(in)) {
            const uint64_t last = (uint64_t)d.dram + (uint64_t)(d.z - 1u) * d.zs +
                                  (uint64_t)(d.y - 1u) * d.ys + (uint64_t)(d.x - 1u) * d.xs;
            add_range(fp, QMAC_SPACE_MEM, !load, d.dram, last + qmac_buf_row_bytes(cfg, d.buf));
        }
        break;
    }
    case QMAC_OP_GEMM: {
        const qmac_insn_gemm *g = &in->u.gemm;
        if (!g->count0 || !g->count1)
            break;
        add_range(fp, QMAC_BUF_WGT, false, g->wgt, (uint64_t)g->wgt + cfg->dim);
        add_loop(fp, QMAC_BUF_INP, false, g->inp, g->count0, g->inp_s0, g->count1, g->inp_s1);
        add_loop(fp, QMAC_BUF_ACC, true, g->acc, g->count0, g->acc_s0, g->count1, g->acc_s1);
        if (g->post)
            add_loop(fp, QMAC_BUF_OUT, true, g->out, g->count0, g->out_s0, g->count1, g->out_s1);
        break;
    }
    case QMAC_OP_POST: {
        const qmac_insn_post *p = &in->u.post;
        add_loop(fp, QMAC_BUF_ACC, false, p->acc, p->count0, p->acc_s0, p->count1, p->acc_s1);
        add_loop(fp, QMAC_BUF_OUT, true, p->out, p->count0, p->out_s0, p->count1, p->out_s1);
        break;
    }
    case QMAC_OP_PARAM:
        add_range(fp, QMAC_BUF_ACC, false, in->u.param.acc, (uint64_t)in->u.param.acc + 3u);
        break;
    case QMAC_OP_VALU: {
        const qmac_insn_valu *v = &in->u.valu;
        static const qmac_buf abuf[] = {QMAC_BUF_ACC, QMAC_BUF_INP, QMAC_BUF_OUT};
        add_loop(fp, abuf[v->a_buf], false, v->a, v->count0, v->a_s0, v->count1, v->a_s1);
        if (!v->b_imm && v->alu != QMAC_ALU_MOV)
            add_loop(fp, QMAC_BUF_ACC, false, v->b, v->count0, v->b_s0, v->count1, v->b_s1);
        add_loop(fp, QMAC_BUF_ACC, true, v->dst, v->count0, v->dst_s0, v->count1, v->dst_s1);
        break;
    }
    default: break;
    }
}

static qmac_fault fail(const char **why, const char *text, qmac_fault f)
{
    if (why)
        *why = text;
    return f;
}

qmac_fault qmac_insn_check(const uint32_t w[QMAC_INSN_WORDS], const qmac_hw_config *cfg,
                           const qmac_window *win, qmac_insn *insn, const char **why)
{
    const char *field = NULL;
    const qmac_fault f = qmac_insn_decode(w, insn, &field);
    if (f != QMAC_FAULT_NONE)
        return fail(why, field, f);
    if (insn->op == QMAC_OP_CONFIG) {
        const qmac_insn_config *c = &insn->u.config;
        const bool s8 = c->omode == QMAC_OMODE_S8;
        const int32_t lo = s8 ? (int8_t)c->clamp_min : (int32_t)c->clamp_min;
        const int32_t hi = s8 ? (int8_t)c->clamp_max : (int32_t)c->clamp_max;
        if (c->omode != QMAC_OMODE_BIN && lo > hi)
            return fail(why, "clamp_min > clamp_max", QMAC_FAULT_FIELD);
    }
    if (insn->op == QMAC_OP_LOAD || insn->op == QMAC_OP_STORE) {
        const dma_view d = dma_of(insn);
        const uint32_t m = cfg->dim - 1u;
        if (d.dram & m)
            return fail(why, "dram", QMAC_FAULT_ALIGN);
        if (d.xs & m)
            return fail(why, "x_stride", QMAC_FAULT_ALIGN);
        if (d.ys & m)
            return fail(why, "y_stride", QMAC_FAULT_ALIGN);
        if (d.zs & m)
            return fail(why, "z_stride", QMAC_FAULT_ALIGN);
    }
    qmac_footprint fp;
    qmac_insn_footprint(insn, cfg, &fp);
    static const char *const range_why[] = {"INP rows", "WGT rows", "ACC rows", "OUT rows"};
    for (uint32_t i = 0; i < fp.n; i++) {
        const qmac_range *r = &fp.r[i];
        if (r->space != QMAC_SPACE_MEM && r->end > qmac_buf_rows(cfg, (qmac_buf)r->space))
            return fail(why, range_why[r->space], QMAC_FAULT_BUF_RANGE);
    }
    for (uint32_t i = 0; i < fp.n; i++) {
        const qmac_range *r = &fp.r[i];
        if (r->space == QMAC_SPACE_MEM && (r->lo < win->lo || r->end - 1u > win->hi))
            return fail(why, "memory bytes", QMAC_FAULT_WINDOW);
    }
    return fail(why, NULL, QMAC_FAULT_NONE);
}
