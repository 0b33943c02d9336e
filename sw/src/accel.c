/* accel.c - golden model of the accelerator: in-order execution of the ISA (docs/isa.md). */
#include "qmac/accel.h"

#include <stdlib.h>
#include <string.h>

#include "qmac/binary.h"
#include "qmac/mac_array.h"
#include "qmac/requant.h"

struct qmac_accel {
    qmac_hw_config cfg;
    qmac_accel_regs regs;
    uint8_t *buf[QMAC_BUF_COUNT]; /* owned */
};

qmac_status qmac_accel_create(const qmac_hw_config *cfg, qmac_accel **out)
{
    *out = NULL;
    const qmac_status st = qmac_hw_config_check(cfg);
    if (st != QMAC_OK)
        return st;
    qmac_accel *a = calloc(1, sizeof *a);
    if (!a)
        return qmac_set_error(QMAC_ERR_NOMEM, "golden model: out of memory");
    a->cfg = *cfg;
    for (uint32_t b = 0; b < QMAC_BUF_COUNT; b++) {
        a->buf[b] = calloc(qmac_buf_rows(cfg, (qmac_buf)b), qmac_buf_row_bytes(cfg, (qmac_buf)b));
        if (!a->buf[b]) {
            qmac_accel_free(a);
            return qmac_set_error(QMAC_ERR_NOMEM, "golden model: out of memory for the %s buffer",
                                  qmac_buf_name((qmac_buf)b));
        }
    }
    *out = a;
    return QMAC_OK;
}

void qmac_accel_free(qmac_accel *a)
{
    if (!a)
        return;
    for (uint32_t b = 0; b < QMAC_BUF_COUNT; b++)
        free(a->buf[b]);
    free(a);
}

void qmac_accel_reset(qmac_accel *a)
{
    memset(&a->regs, 0, sizeof a->regs);
    for (uint32_t b = 0; b < QMAC_BUF_COUNT; b++)
        memset(a->buf[b], 0,
               (size_t)qmac_buf_rows(&a->cfg, (qmac_buf)b) * qmac_buf_row_bytes(&a->cfg, (qmac_buf)b));
}

const qmac_hw_config *qmac_accel_config(const qmac_accel *a)
{
    return &a->cfg;
}

const qmac_accel_regs *qmac_accel_get_regs(const qmac_accel *a)
{
    return &a->regs;
}

uint8_t *qmac_accel_buffer(qmac_accel *a, qmac_buf b)
{
    return a->buf[b];
}

static uint8_t *row_ptr(qmac_accel *a, qmac_buf b, uint64_t row)
{
    return a->buf[b] + (size_t)row * qmac_buf_row_bytes(&a->cfg, b);
}

static int32_t get_lane(const uint8_t *row, uint32_t l)
{
    const uint8_t *p = row + 4u * l;
    return (int32_t)((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
}

static void put_lane(uint8_t *row, uint32_t l, int32_t v)
{
    uint8_t *p = row + 4u * l;
    const uint32_t u = (uint32_t)v;
    p[0] = (uint8_t)u;
    p[1] = (uint8_t)(u >> 8);
    p[2] = (uint8_t)(u >> 16);
    p[3] = (uint8_t)(u >> 24);
}

/* Does [addr, addr + len) lie inside mem? */
static bool in_mem(const qmac_accel_mem *mem, uint64_t addr, uint64_t len)
{
    return addr >= mem->base && addr - mem->base <= mem->size && len <= mem->size - (addr - mem->base);
}

qmac_fault qmac_accel_fetch(const qmac_accel_mem *mem, uint32_t prog_addr, const qmac_window *win,
                            uint64_t pc, uint32_t w[QMAC_INSN_WORDS])
{
    const uint64_t addr = (uint64_t)prog_addr + pc * QMAC_INSN_BYTES;
    if (prog_addr % QMAC_INSN_BYTES || addr < win->lo || addr + QMAC_INSN_BYTES - 1u > win->hi)
        return QMAC_FAULT_FETCH;
    if (!in_mem(mem, addr, QMAC_INSN_BYTES))
        return QMAC_FAULT_BUS;
    const uint8_t *p = mem->data + (addr - mem->base);
    for (unsigned i = 0; i < QMAC_INSN_WORDS; i++)
        w[i] = (uint32_t)p[4 * i] | (uint32_t)p[4 * i + 1] << 8 | (uint32_t)p[4 * i + 2] << 16 |
               (uint32_t)p[4 * i + 3] << 24;
    return QMAC_FAULT_NONE;
}

/* LOAD/STORE: rows in the order z, y, x; LOAD inserts padding rows around each line and plane. */
static qmac_fault exec_load(qmac_accel *a, const qmac_insn_load *l, const qmac_accel_mem *mem)
{
    const qmac_buf b = (qmac_buf)l->buf;
    const uint32_t rb = qmac_buf_row_bytes(&a->cfg, b);
    const uint32_t ny = l->pad_y0 + l->y_size + l->pad_y1, nx = l->pad_x0 + l->x_size + l->pad_x1;
    qmac_fault f = QMAC_FAULT_NONE;
    uint64_t row = l->sram;
    for (uint32_t z = 0; z < l->z_size; z++)
        for (uint32_t y = 0; y < ny; y++)
            for (uint32_t x = 0; x < nx; x++, row++) {
                uint8_t *dst = row_ptr(a, b, row);
                const bool data = y >= l->pad_y0 && y < l->pad_y0 + l->y_size && x >= l->pad_x0 &&
                                  x < l->pad_x0 + l->x_size;
                if (!data) {
                    memset(dst, (int)l->pad_value, rb);
                    continue;
                }
                const uint64_t addr = (uint64_t)l->dram + (uint64_t)z * l->z_stride +
                                      (uint64_t)(y - l->pad_y0) * l->y_stride +
                                      (uint64_t)(x - l->pad_x0) * l->x_stride;
                if (in_mem(mem, addr, rb)) {
                    memcpy(dst, mem->data + (addr - mem->base), rb);
                } else {
                    memset(dst, 0, rb);
                    f = QMAC_FAULT_BUS;
                }
            }
    return f;
}

static qmac_fault exec_store(qmac_accel *a, const qmac_insn_store *s, const qmac_accel_mem *mem)
{
    const qmac_buf b = (qmac_buf)s->buf;
    const uint32_t rb = qmac_buf_row_bytes(&a->cfg, b);
    qmac_fault f = QMAC_FAULT_NONE;
    uint64_t row = s->sram;
    for (uint32_t z = 0; z < s->z_size; z++)
        for (uint32_t y = 0; y < s->y_size; y++)
            for (uint32_t x = 0; x < s->x_size; x++, row++) {
                const uint64_t addr = (uint64_t)s->dram + (uint64_t)z * s->z_stride +
                                      (uint64_t)y * s->y_stride + (uint64_t)x * s->x_stride;
                if (in_mem(mem, addr, rb))
                    memcpy(mem->data + (addr - mem->base), row_ptr(a, b, row), rb);
                else
                    f = QMAC_FAULT_BUS;
            }
    return f;
}

/* Requantize one ACC row (lanes) into OUT row `out` with the CONFIG and PARAM registers:
 * S8/U8 write all N bytes, BIN writes bits [group * N, group * N + N) and keeps the others. */
static void post_row(qmac_accel *a, const uint8_t *acc_row, uint64_t out, uint32_t group)
{
    const qmac_accel_regs *r = &a->regs;
    const uint32_t n = a->cfg.dim;
    uint8_t *dst = row_ptr(a, QMAC_BUF_OUT, out);
    for (uint32_t l = 0; l < n; l++) {
        const uint32_t q = qmac_rq_lane(r->rule, r->omode, r->out_zp, r->clamp_min, r->clamp_max,
                                        get_lane(acc_row, l), r->bias[l], r->mult[l], r->shift[l]);
        if (r->omode == QMAC_OMODE_BIN) {
            const uint32_t bit = group * n + l;
            const uint8_t m = (uint8_t)(1u << (bit % 8u));
            dst[bit / 8u] = (uint8_t)(q ? dst[bit / 8u] | m : dst[bit / 8u] & ~m);
        } else {
            dst[l] = (uint8_t)q;
        }
    }
}

static void exec_gemm(qmac_accel *a, const qmac_insn_gemm *g)
{
    const qmac_accel_regs *r = &a->regs;
    const uint32_t n = a->cfg.dim;
    const bool bin = r->bin != 0;
    /* the zero-point-corrected weight tile, transposed: w[c][k] = byte c of WGT row wgt + k */
    int32_t w[QMAC_ACCEL_MAX_DIM][QMAC_ACCEL_MAX_DIM];
    for (uint32_t k = 0; k < n; k++) {
        const uint8_t *row = row_ptr(a, QMAC_BUF_WGT, (uint64_t)g->wgt + k);
        for (uint32_t c = 0; c < n; c++)
            w[c][k] = qmac_array_operand(row[c], r->wgt_zp[c], r->wgt_signed != 0);
    }
    for (uint32_t i1 = 0; i1 < g->count1; i1++)
        for (uint32_t i0 = 0; i0 < g->count0; i0++) {
            const uint8_t *in = row_ptr(
                a, QMAC_BUF_INP, (uint64_t)g->inp + (uint64_t)i0 * g->inp_s0 + (uint64_t)i1 * g->inp_s1);
            uint8_t *acc = row_ptr(a, QMAC_BUF_ACC,
                                   (uint64_t)g->acc + (uint64_t)i0 * g->acc_s0 + (uint64_t)i1 * g->acc_s1);
            int32_t x[QMAC_ACCEL_MAX_DIM];
            for (uint32_t k = 0; k < n; k++)
                x[k] = qmac_array_operand(in[k], r->act_zp, r->act_signed != 0);
            /* the products of qmac_array_product(), inlined: this loop is the model's hot spot */
            for (uint32_t c = 0; c < n; c++) {
                int32_t dot = 0;
                if (bin) {
                    uint32_t ones = 0;
                    for (uint32_t k = 0; k < n; k++)
                        ones += (uint32_t)qmac_popcount32(((uint32_t)x[k] ^ (uint32_t)w[c][k]) & 0xffu);
                    dot = (int32_t)(8u * n) - 2 * (int32_t)ones;
                } else {
                    for (uint32_t k = 0; k < n; k++)
                        dot += x[k] * w[c][k]; /* |dot| <= 32 * 255 * 255: no overflow */
                }
                const uint32_t base = g->accum ? (uint32_t)get_lane(acc, c) : 0u;
                put_lane(acc, c, (int32_t)(base + (uint32_t)dot));
            }
            if (g->post)
                post_row(a, acc, (uint64_t)g->out + (uint64_t)i0 * g->out_s0 + (uint64_t)i1 * g->out_s1,
                         g->group);
        }
}

static void exec_post(qmac_accel *a, const qmac_insn_post *p)
{
    for (uint32_t i1 = 0; i1 < p->count1; i1++)
        for (uint32_t i0 = 0; i0 < p->count0; i0++)
            post_row(a,
                     row_ptr(a, QMAC_BUF_ACC,
                             (uint64_t)p->acc + (uint64_t)i0 * p->acc_s0 + (uint64_t)i1 * p->acc_s1),
                     (uint64_t)p->out + (uint64_t)i0 * p->out_s0 + (uint64_t)i1 * p->out_s1, p->group);
}

static void exec_param(qmac_accel *a, const qmac_insn_param *p)
{
    qmac_accel_regs *r = &a->regs;
    const uint8_t *bias = row_ptr(a, QMAC_BUF_ACC, p->acc);
    const uint8_t *mult = row_ptr(a, QMAC_BUF_ACC, (uint64_t)p->acc + 1u);
    const uint8_t *sz = row_ptr(a, QMAC_BUF_ACC, (uint64_t)p->acc + 2u);
    for (uint32_t l = 0; l < a->cfg.dim; l++) {
        r->bias[l] = get_lane(bias, l);
        r->mult[l] = (uint32_t)get_lane(mult, l);
        r->shift[l] = (int8_t)sz[4 * l];
        r->wgt_zp[l] = sz[4 * l + 1];
    }
}

/* One VALU lane: dst = A op B on int32 with wrap-around; shifts use B mod 32. */
static int32_t alu_lane(uint32_t op, int32_t x, int32_t y, int32_t shift)
{
    const uint32_t ux = (uint32_t)x, uy = (uint32_t)y, sh = uy & 31u;
    switch (op) {
    case QMAC_ALU_ADD: return (int32_t)(ux + uy);
    case QMAC_ALU_SUB: return (int32_t)(ux - uy);
    case QMAC_ALU_MUL: return (int32_t)(ux * uy);
    case QMAC_ALU_MIN: return x < y ? x : y;
    case QMAC_ALU_MAX: return x > y ? x : y;
    case QMAC_ALU_SHL: return (int32_t)(ux << sh);
    case QMAC_ALU_SHR: return (int32_t)(x < 0 ? ~(~ux >> sh) : ux >> sh); /* arithmetic */
    case QMAC_ALU_SHRR: return qmac_rdbpot(x, (int)sh);
    case QMAC_ALU_MOV: return x;
    case QMAC_ALU_MBQM: return qmac_mbqm(x, y, shift < -31 ? -31 : shift > 31 ? 31 : shift);
    default: return 0;
    }
}

static void exec_valu(qmac_accel *a, const qmac_insn_valu *v)
{
    static const qmac_buf abuf[] = {QMAC_BUF_ACC, QMAC_BUF_INP, QMAC_BUF_OUT};
    const qmac_buf ab = abuf[v->a_buf];
    const uint32_t n = a->cfg.dim;
    for (uint32_t i1 = 0; i1 < v->count1; i1++)
        for (uint32_t i0 = 0; i0 < v->count0; i0++) {
            const uint8_t *ar =
                row_ptr(a, ab, (uint64_t)v->a + (uint64_t)i0 * v->a_s0 + (uint64_t)i1 * v->a_s1);
            const uint8_t *br =
                row_ptr(a, QMAC_BUF_ACC, (uint64_t)v->b + (uint64_t)i0 * v->b_s0 + (uint64_t)i1 * v->b_s1);
            const bool read_b = !v->b_imm && v->alu != QMAC_ALU_MOV;
            int32_t res[QMAC_ACCEL_MAX_DIM];
            for (uint32_t l = 0; l < n; l++) {
                int32_t x;
                if (ab == QMAC_BUF_ACC)
                    x = get_lane(ar, l);
                else
                    x = v->a_signed ? (int32_t)(int8_t)ar[l] : (int32_t)ar[l];
                const int32_t y = read_b ? get_lane(br, l) : (int32_t)v->imm;
                res[l] = alu_lane(v->alu, x, y, v->shift);
            }
            /* all lanes read before any is written: A, B and dst rows may be the same row */
            uint8_t *dst = row_ptr(a, QMAC_BUF_ACC,
                                   (uint64_t)v->dst + (uint64_t)i0 * v->dst_s0 + (uint64_t)i1 * v->dst_s1);
            for (uint32_t l = 0; l < n; l++)
                put_lane(dst, l, res[l]);
        }
}

static void exec_config(qmac_accel *a, const qmac_insn_config *c)
{
    qmac_accel_regs *r = &a->regs;
    r->bin = c->bin;
    r->act_signed = c->act_signed;
    r->wgt_signed = c->wgt_signed;
    r->rule = c->rule;
    r->omode = c->omode;
    r->act_zp = (uint8_t)c->act_zp;
    r->out_zp = (uint8_t)c->out_zp;
    r->clamp_min = (uint8_t)c->clamp_min;
    r->clamp_max = (uint8_t)c->clamp_max;
}

qmac_fault qmac_accel_exec(qmac_accel *a, const qmac_insn *insn, const qmac_accel_mem *mem, uint64_t *vectors)
{
    if (vectors)
        *vectors = 0;
    switch (insn->op) {
    case QMAC_OP_CONFIG: exec_config(a, &insn->u.config); break;
    case QMAC_OP_LOAD: return exec_load(a, &insn->u.load, mem);
    case QMAC_OP_STORE: return exec_store(a, &insn->u.store, mem);
    case QMAC_OP_GEMM:
        exec_gemm(a, &insn->u.gemm);
        if (vectors)
            *vectors = (uint64_t)insn->u.gemm.count0 * insn->u.gemm.count1;
        break;
    case QMAC_OP_POST: exec_post(a, &insn->u.post); break;
    case QMAC_OP_PARAM: exec_param(a, &insn->u.param); break;
    case QMAC_OP_VALU: exec_valu(a, &insn->u.valu); break;
    default: break; /* NOP, FENCE, END: no architectural effect */
    }
    return QMAC_FAULT_NONE;
}

void qmac_accel_run(qmac_accel *a, const qmac_accel_mem *mem, uint32_t prog_addr, const qmac_window *win,
                    uint64_t max_insn, qmac_accel_result *res)
{
    memset(res, 0, sizeof *res);
    for (uint64_t pc = 0; pc < max_insn; pc++) {
        uint32_t w[QMAC_INSN_WORDS];
        qmac_insn insn;
        qmac_fault f = qmac_accel_fetch(mem, prog_addr, win, pc, w);
        const char *why = f == QMAC_FAULT_FETCH ? "instruction fetch" : "instruction bytes";
        if (f == QMAC_FAULT_NONE)
            f = qmac_insn_check(w, &a->cfg, win, &insn, &why);
        uint64_t vec = 0;
        if (f == QMAC_FAULT_NONE)
            f = qmac_accel_exec(a, &insn, mem, &vec);
        res->vectors += vec;
        if (f != QMAC_FAULT_NONE) {
            res->fault = f;
            res->fault_pc = pc;
            res->why = f == QMAC_FAULT_BUS && !why ? "memory bytes" : why;
            return;
        }
        res->retired++;
        if (insn.op == QMAC_OP_END) {
            res->done = true;
            return;
        }
    }
}
