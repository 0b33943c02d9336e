/* gemm_prog.c - the accelerator program of one quantized GEMM (see gemm_prog.h for the schedule).
 *
 * Buffer plan (rows): ACC [0, 3 nt) the parameter table, [3 nt, 3 nt + m_tile) the accumulators;
 * INP slots of m_tile rows; WGT slots of N rows; OUT two slots of m_tile rows. Step s is the GEMM of
 * (m-block, n-tile, k-tile) in loop order; the slots a step reads are a pure function of s. Loads
 * are planned in step order and hoisted above GEMMs only as far as the load budget and each slot's
 * last reader allow (a slot's last reader must already be in the program). */
#include "qmac/gemm_prog.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    const qmac_hw_config *cfg;
    const qmac_gemm_prog_desc *d;
    qmac_prog *p;
    uint32_t dim, nt, kt, mt, mb_count, inp_slots, wgt_slots, a_sets, acc_base;
    int a_res, b_res;
    uint64_t steps, vectors;
    /* loads are planned step by step; a slot's last reading step, +1 (0: none) */
    uint64_t next_plan;   /* first step whose loads are not emitted */
    uint64_t gemms;       /* steps whose GEMM is emitted (0 .. gemms - 1) */
    uint32_t ahead;       /* load instructions emitted for steps after step `gemms` */
    uint32_t budget;      /* most of those */
    uint64_t *a_last_use; /* [inp_slots] */
    uint64_t *b_last_use; /* [wgt_slots] */
} plan;

typedef struct {
    uint32_t mb, n, k;
    uint32_t m0, rows;
} step_pos;

static step_pos pos_of(const plan *pl, uint64_t s)
{
    step_pos q;
    const uint64_t per_mb = (uint64_t)pl->nt * pl->kt;
    q.mb = (uint32_t)(s / per_mb);
    q.n = (uint32_t)((s / pl->kt) % pl->nt);
    q.k = (uint32_t)(s % pl->kt);
    q.m0 = q.mb * pl->mt;
    q.rows = pl->d->m - q.m0 < pl->mt ? pl->d->m - q.m0 : pl->mt;
    return q;
}

static uint32_t a_slot(const plan *pl, uint64_t s, const step_pos *q)
{
    return pl->a_res ? (q->mb % pl->a_sets) * pl->kt + q->k : (uint32_t)(s % pl->inp_slots);
}

static uint32_t b_slot(const plan *pl, uint64_t s, const step_pos *q)
{
    return pl->b_res ? q->n * pl->kt + q->k : (uint32_t)(s % pl->wgt_slots);
}

static qmac_status push(plan *pl, qmac_insn in)
{
    return qmac_prog_push(pl->p, &in);
}

/* LOAD of planes x rows: buffer row sram + z * rows + x from dram + z * z_stride + x * stride. */
static qmac_status push_load3(plan *pl, qmac_buf buf, uint32_t dram, uint32_t sram, uint32_t rows,
                              uint32_t stride, uint32_t planes, uint32_t z_stride)
{
    qmac_insn in = {.op = QMAC_OP_LOAD};
    in.u.load = (qmac_insn_load){.buf = (uint32_t)buf,
                                 .dram = dram,
                                 .sram = sram,
                                 .x_size = rows,
                                 .y_size = 1,
                                 .z_size = planes,
                                 .x_stride = stride,
                                 .z_stride = z_stride};
    return push(pl, in);
}

static qmac_status push_load(plan *pl, qmac_buf buf, uint32_t dram, uint32_t sram, uint32_t rows,
                             uint32_t stride)
{
    return push_load3(pl, buf, dram, sram, rows, stride, 1, 0);
}

/* Load instructions step s needs (0, 1 or 2): A block and B tile, unless resident already. */
static int need_a(const plan *pl, const step_pos *q)
{
    return !pl->a_res || q->n == 0;
}

/* A resident B is loaded one n-tile column (all k tiles, one 3-D LOAD) at a time. */
static int need_b(const plan *pl, const step_pos *q)
{
    return !pl->b_res || (q->mb == 0 && q->k == 0);
}

static uint32_t loads_of(const plan *pl, uint64_t s)
{
    const step_pos q = pos_of(pl, s);
    return (uint32_t)(need_a(pl, &q) + need_b(pl, &q));
}

/* Emit the loads of step pl->next_plan unless a GEMM still to be emitted reads the previous
 * contents of one of its slots (the program means what in-order execution computes; the hazards
 * only add waits). Returns 1 when emitted, 0 when blocked, or a negative status. */
static int emit_step_loads(plan *pl)
{
    const qmac_gemm_prog_desc *d = pl->d;
    const uint64_t s = pl->next_plan;
    const step_pos q = pos_of(pl, s);
    const uint32_t as = a_slot(pl, s, &q), bs = b_slot(pl, s, &q);
    const int na = need_a(pl, &q), nb = need_b(pl, &q);
    /* (resident B slots are written once) */
    if ((na && pl->a_last_use[as] > pl->gemms) || (nb && !pl->b_res && pl->b_last_use[bs] > pl->gemms))
        return 0;
    qmac_status st = QMAC_OK;
    if (na)
        st = push_load(pl, QMAC_BUF_INP, d->a_addr + q.m0 * d->a_stride + q.k * pl->dim, as * pl->mt, q.rows,
                       d->a_stride);
    if (st == QMAC_OK && nb && pl->b_res) /* tiles k = 0 .. kt-1 of column block n: slots n kt + k */
        st = push_load3(pl, QMAC_BUF_WGT, d->b_addr + q.n * pl->dim, bs * pl->dim, pl->dim, d->b_stride,
                        pl->kt, pl->dim * d->b_stride);
    else if (st == QMAC_OK && nb)
        st = push_load(pl, QMAC_BUF_WGT, d->b_addr + q.k * pl->dim * d->b_stride + q.n * pl->dim,
                       bs * pl->dim, pl->dim, d->b_stride);
    if (st != QMAC_OK)
        return (int)st;
    pl->a_last_use[as] = s + 1u;
    pl->b_last_use[bs] = s + 1u;
    pl->next_plan = s + 1u;
    if (s > pl->gemms)
        pl->ahead += (uint32_t)(na + nb);
    return 1;
}

/* Before the GEMM of step pl->gemms: its loads (and any before) must be in the program. */
static qmac_status emit_required_loads(plan *pl)
{
    while (pl->next_plan <= pl->gemms) {
        const int r = emit_step_loads(pl);
        if (r < 0)
            return (qmac_status)r;
        if (r == 0)
            return qmac_set_error(QMAC_ERR_INTERNAL, "gemm program: the loads of step %llu are blocked",
                                  (unsigned long long)pl->gemms);
    }
    return QMAC_OK;
}

/* Loads of later steps, while at most `budget` load instructions wait ahead of the next GEMM:
 * more would keep it behind them in the in-order dispatcher (the load queue holds 2). */
static qmac_status emit_ahead_loads(plan *pl)
{
    while (pl->next_plan < pl->steps && pl->ahead + loads_of(pl, pl->next_plan) <= pl->budget) {
        const int r = emit_step_loads(pl);
        if (r < 0)
            return (qmac_status)r;
        if (r == 0)
            break;
    }
    return QMAC_OK;
}

/* A GEMM has been emitted: the next one is step pl->gemms + 1. */
static void gemm_done(plan *pl)
{
    pl->gemms++;
    if (pl->gemms < pl->next_plan)
        pl->ahead -= loads_of(pl, pl->gemms);
}

/* STORE of rows [r0, r0 + rows) of step s's OUT block. */
static qmac_status emit_store(plan *pl, uint64_t s, uint32_t r0, uint32_t rows)
{
    const qmac_gemm_prog_desc *d = pl->d;
    const step_pos q = pos_of(pl, s);
    const uint32_t block = q.mb * pl->nt + q.n;
    qmac_insn in = {.op = QMAC_OP_STORE};
    in.u.store = (qmac_insn_store){.buf = QMAC_BUF_OUT,
                                   .dram = d->c_addr + (q.m0 + r0) * d->c_stride + q.n * pl->dim,
                                   .sram = (block % 2u) * pl->mt + r0,
                                   .x_size = rows,
                                   .y_size = 1,
                                   .z_size = 1,
                                   .x_stride = d->c_stride};
    return push(pl, in);
}

/* GEMM of rows [r0, r0 + rows) of step s. */
static qmac_status emit_gemm(plan *pl, uint64_t s, uint32_t r0, uint32_t rows)
{
    const step_pos q = pos_of(pl, s);
    const uint32_t block = q.mb * pl->nt + q.n;
    qmac_insn in = {.op = QMAC_OP_GEMM};
    in.u.gemm = (qmac_insn_gemm){.accum = q.k > 0,
                                 .post = q.k + 1u == pl->kt,
                                 .wgt = b_slot(pl, s, &q) * pl->dim,
                                 .inp = a_slot(pl, s, &q) * pl->mt + r0,
                                 .acc = pl->acc_base + r0,
                                 .count0 = rows,
                                 .count1 = 1,
                                 .inp_s0 = 1,
                                 .acc_s0 = 1,
                                 .out = (block % 2u) * pl->mt + r0,
                                 .out_s0 = 1};
    pl->vectors += rows;
    return push(pl, in);
}

size_t qmac_gemm_prog_param_bytes(const qmac_hw_config *cfg, uint32_t n)
{
    return (size_t)(n / cfg->dim) * QMAC_PARAM_ROWS * 4u * cfg->dim;
}

static void put_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

void qmac_gemm_prog_pack_params(const qmac_hw_config *cfg, uint32_t n, const int32_t *bias,
                                const uint32_t *mult, const int8_t *shift, const uint8_t *wgt_zp,
                                uint8_t *table)
{
    const uint32_t dim = cfg->dim, row = 4u * dim;
    for (uint32_t c = 0; c < n; c++) {
        uint8_t *t = table + (size_t)(c / dim) * QMAC_PARAM_ROWS * row + 4u * (c % dim);
        put_le32(t, (uint32_t)bias[c]);
        put_le32(t + row, mult[c]);
        put_le32(t + 2u * row, (uint32_t)(uint8_t)shift[c] | (uint32_t)(wgt_zp ? wgt_zp[c] : 0u) << 8);
    }
}

static qmac_status bad(const char *what, uint32_t v)
{
    return qmac_set_error(QMAC_ERR_INVALID_ARG, "gemm program: %s = %u", what, v);
}

/* Does base + span - 1 stay below 2^32? */
static int fits32(uint32_t base, uint64_t span)
{
    return span == 0 || (uint64_t)base + span - 1u <= UINT32_MAX;
}

qmac_status qmac_gemm_prog_build(const qmac_hw_config *cfg, const qmac_gemm_prog_desc *d, qmac_prog *p,
                                 qmac_gemm_prog_info *info)
{
    qmac_status st = qmac_hw_config_check(cfg);
    if (st != QMAC_OK)
        return st;
    const uint32_t dim = cfg->dim, mask = dim - 1u;
    const struct {
        const char *name;
        uint32_t v;
    } mult_of_n[] = {{"m", d->m},
                     {"k", d->k},
                     {"n", d->n},
                     {"a_addr", d->a_addr},
                     {"a_stride", d->a_stride},
                     {"b_addr", d->b_addr},
                     {"b_stride", d->b_stride},
                     {"c_addr", d->c_addr},
                     {"c_stride", d->c_stride},
                     {"param_addr", d->param_addr},
                     {"m_tile", d->m_tile}};
    for (size_t i = 0; i < sizeof mult_of_n / sizeof mult_of_n[0]; i++)
        if (mult_of_n[i].v & mask)
            return qmac_set_error(QMAC_ERR_INVALID_ARG, "gemm program: %s = %u is not a multiple of N = %u",
                                  mult_of_n[i].name, mult_of_n[i].v, dim);
    if (d->m < dim || d->k < dim || d->n < dim || d->m / dim > 65535u || d->k / dim > 65535u ||
        d->n / dim > 65535u)
        return qmac_set_error(QMAC_ERR_INVALID_ARG, "gemm program: m, k, n = %u, %u, %u outside [N, 65535 N]",
                              d->m, d->k, d->n);
    if (d->a_stride < d->k)
        return bad("a_stride (< k)", d->a_stride);
    if (d->b_stride < d->n)
        return bad("b_stride (< n)", d->b_stride);
    if (d->c_stride < d->n)
        return bad("c_stride (< n)", d->c_stride);
    if (d->act_signed > 1 || d->wgt_signed > 1)
        return bad("act_signed / wgt_signed", d->act_signed > 1 ? d->act_signed : d->wgt_signed);
    if (d->act_zp > 255 || d->out_zp > 255 || d->clamp_min > 255 || d->clamp_max > 255)
        return qmac_set_error(QMAC_ERR_INVALID_ARG,
                              "gemm program: act_zp, out_zp, clamp_min, clamp_max are bytes");
    if (d->rule > QMAC_RULE_FLOAT)
        return bad("rule", d->rule);
    if (d->omode != QMAC_OMODE_S8 && d->omode != QMAC_OMODE_U8)
        return bad("omode (S8 or U8)", d->omode);
    const int s8 = d->omode == QMAC_OMODE_S8;
    if ((s8 ? (int32_t)(int8_t)d->clamp_min : (int32_t)d->clamp_min) >
        (s8 ? (int32_t)(int8_t)d->clamp_max : (int32_t)d->clamp_max))
        return qmac_set_error(QMAC_ERR_INVALID_ARG, "gemm program: clamp_min > clamp_max");

    plan pl = {.cfg = cfg, .d = d, .p = p, .dim = dim, .nt = d->n / dim, .kt = d->k / dim};
    const uint32_t prow = QMAC_PARAM_ROWS * pl.nt;
    if ((uint64_t)prow + dim > cfg->acc_rows)
        return qmac_set_error(QMAC_ERR_INVALID_ARG,
                              "gemm program: %u parameter rows and one m-block do not fit %u ACC rows", prow,
                              cfg->acc_rows);
    /* the largest m-block: accumulators after the parameters, two OUT slots, two INP slots */
    uint32_t cap = 65535u & ~mask;
    const uint32_t lim[] = {cfg->acc_rows - prow, cfg->out_rows / 2u, cfg->inp_rows / 2u};
    for (size_t i = 0; i < sizeof lim / sizeof lim[0]; i++)
        if (lim[i] < cap)
            cap = lim[i];
    cap &= ~mask;
    if (d->m_tile && d->m_tile < cap)
        cap = d->m_tile;
    if (cap < dim)
        return qmac_set_error(QMAC_ERR_INVALID_ARG, "gemm program: no room for an m-block of %u rows", dim);
    pl.mb_count = (d->m + cap - 1u) / cap;
    const uint32_t per = (d->m + pl.mb_count - 1u) / pl.mb_count;
    pl.mt = (per + mask) & ~mask;
    pl.acc_base = prow;
    pl.inp_slots = cfg->inp_rows / pl.mt;
    pl.wgt_slots = cfg->wgt_rows / dim;
    pl.a_res = pl.kt <= pl.inp_slots;
    pl.a_sets = pl.a_res ? pl.inp_slots / pl.kt : 0; /* m-blocks whose A blocks coexist */
    pl.b_res = (uint64_t)pl.nt * pl.kt <= pl.wgt_slots && (uint64_t)dim * d->b_stride <= UINT32_MAX;
    pl.steps = (uint64_t)pl.mb_count * pl.nt * pl.kt;
    if (!fits32(d->a_addr, (uint64_t)(d->m - 1u) * d->a_stride + d->k) ||
        !fits32(d->b_addr, (uint64_t)(d->k - 1u) * d->b_stride + d->n) ||
        !fits32(d->c_addr, (uint64_t)(d->m - 1u) * d->c_stride + d->n) ||
        !fits32(d->param_addr, qmac_gemm_prog_param_bytes(cfg, d->n)))
        return qmac_set_error(QMAC_ERR_INVALID_ARG, "gemm program: a matrix or the table passes 2^32");
    pl.budget = d->lookahead ? d->lookahead : QMAC_CFG_LOAD_QUEUE;
    const uint32_t tail = d->tail_chunks ? d->tail_chunks : 4u;

    /* temporary: the last reader of every slot (freed below) */
    pl.a_last_use = calloc(pl.inp_slots, sizeof *pl.a_last_use);
    pl.b_last_use = calloc(pl.wgt_slots, sizeof *pl.b_last_use);
    if (!pl.a_last_use || !pl.b_last_use) {
        free(pl.a_last_use);
        free(pl.b_last_use);
        return qmac_set_error(QMAC_ERR_NOMEM, "gemm program: out of memory");
    }

    qmac_insn cfg_in = {.op = QMAC_OP_CONFIG};
    cfg_in.u.config = (qmac_insn_config){.act_signed = d->act_signed,
                                         .wgt_signed = d->wgt_signed,
                                         .rule = d->rule,
                                         .omode = d->omode,
                                         .act_zp = d->act_zp,
                                         .out_zp = d->out_zp,
                                         .clamp_min = d->clamp_min,
                                         .clamp_max = d->clamp_max};
    st = push(&pl, cfg_in);
    /* step 0's loads, then the whole parameter table: its W(ACC) port holds GEMMs, so it goes
     * before the first one */
    if (st == QMAC_OK)
        st = emit_required_loads(&pl);
    if (st == QMAC_OK)
        st = push_load(&pl, QMAC_BUF_ACC, d->param_addr, 0, prow, 4u * dim);
    if (st == QMAC_OK)
        st = emit_ahead_loads(&pl);
    int64_t param_tile = -1;
    uint64_t store_step = 0, store_due = UINT64_MAX;
    for (uint64_t s = 0; s < pl.steps && st == QMAC_OK; s++) {
        const step_pos q = pos_of(&pl, s);
        const int last_k = q.k + 1u == pl.kt;
        st = emit_required_loads(&pl);
        if (st == QMAC_OK && last_k && param_tile != (int64_t)q.n) {
            qmac_insn in = {.op = QMAC_OP_PARAM};
            in.u.param.acc = QMAC_PARAM_ROWS * q.n;
            st = push(&pl, in);
            param_tile = q.n;
        }
        /* the last step in `tail` chunks, each stored one chunk later: the run's tail is one
         * chunk's pipeline and store instead of the whole block's */
        uint32_t chunks = s + 1u == pl.steps ? tail : 1u;
        while (chunks > 1 && q.rows / chunks < dim)
            chunks--;
        const uint32_t crows = ((q.rows / chunks) + dim - 1u) & ~mask;
        for (uint32_t c = 0, r0 = 0; r0 < q.rows && st == QMAC_OK; c++, r0 += crows) {
            const uint32_t rows = q.rows - r0 < crows ? q.rows - r0 : crows;
            st = emit_gemm(&pl, s, r0, rows);
            if (st == QMAC_OK && c > 0)
                st = emit_store(&pl, s, r0 - crows, crows);
            if (st == QMAC_OK && c == 0) {
                gemm_done(&pl);
                st = emit_ahead_loads(&pl);
                if (st == QMAC_OK && s == store_due) {
                    st = emit_store(&pl, store_step, 0, pos_of(&pl, store_step).rows);
                    store_due = UINT64_MAX;
                }
            }
            if (st == QMAC_OK && chunks > 1 && r0 + rows >= q.rows)
                st = emit_store(&pl, s, r0, rows);
        }
        if (last_k && chunks == 1) {
            store_step = s;
            store_due = s + 1u;
        }
    }
    if (st == QMAC_OK && store_due != UINT64_MAX)
        st = emit_store(&pl, store_step, 0, pos_of(&pl, store_step).rows);
    if (st == QMAC_OK)
        st = push(&pl, (qmac_insn){.op = QMAC_OP_END});
    free(pl.a_last_use);
    free(pl.b_last_use);
    if (st != QMAC_OK)
        return st;
    if (info) {
        info->m_tile = pl.mt;
        info->m_blocks = pl.mb_count;
        info->inp_slots = pl.inp_slots;
        info->wgt_slots = pl.wgt_slots;
        info->a_resident = pl.a_res;
        info->b_resident = pl.b_res;
        info->n_insn = p->n_insn;
        info->vectors = pl.vectors;
    }
    return QMAC_OK;
}
