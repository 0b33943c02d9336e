/* mac_array.c - cycle-exact model of hw/rtl/qmac_array.sv: every register of the RTL, updated at
 * each clock edge from its predecessors' old values. Each update below names the RTL expression it
 * mirrors. Ownership: qmac_array_model_create() allocates one block, qmac_array_model_free() frees
 * it. */
#include "qmac/mac_array.h"

#include "qmac/binary.h"

#include <stdlib.h>
#include <string.h>

/* A slot travelling along a row: {valid, swap, bin, operand} (SlotW bits in the RTL). */
typedef struct {
    uint8_t valid;
    uint8_t swap;
    uint8_t bin;
    int16_t op; /* x - zp, in [-255, 255] */
} slot_t;

struct qmac_array_model {
    uint32_t rows, cols, row_mask;
    slot_t *edge;    /* [rows] input stage edge_q */
    slot_t *skew;    /* row r's r stages at skew[r*(r-1)/2 + j]; stage r-1 feeds PE(r, 0) */
    slot_t *slot;    /* [rows*cols] PE(r, c)'s valid_q/swap_q/bin_q/act_q (its right output) */
    int16_t *wgt;    /* [rows*cols] wgt_q */
    int16_t *shadow; /* [rows*cols] shadow_q */
    int32_t *psum;   /* [rows*cols] psum_q (exact: |psum| <= rows * 255 * 255) */
    int32_t *deskew; /* column c's cols-1-c stages at deskew[dsk_off(c) + j] */
    uint8_t *ctl;    /* [rows+cols] u_ctl stages: bit 1 valid, bit 0 acc */
    uint8_t out_valid;
    int32_t *out; /* [cols] out_q */
    uint8_t pop8[256];
};

static size_t skew_off(uint32_t r)
{
    return (size_t)r * (r - (r > 0)) / 2;
}

/* Sum of (cols-1-c') for c' < c. */
static size_t dsk_off(uint32_t cols, uint32_t c)
{
    return (size_t)c * (cols - 1) - (size_t)c * (c - (c > 0)) / 2;
}

uint32_t qmac_array_psum_bits(uint32_t rows)
{
    uint32_t lg = 0;
    while ((1u << lg) < rows) {
        lg++;
    }
    return 18u + lg; /* PsumW = PROD_W + $clog2(Rows) */
}

int32_t qmac_array_operand(uint8_t x, uint8_t zp, bool is_signed)
{
    /* zp_correct(): {is_signed & x[7], x} - {is_signed & zp[7], zp} */
    if (is_signed) {
        return (int32_t)(int8_t)x - (int32_t)(int8_t)zp;
    }
    return (int32_t)x - (int32_t)zp;
}

int32_t qmac_array_product(int32_t a, int32_t w, bool binary)
{
    if (binary) {
        /* agree = ~(act[7:0] ^ wgt[7:0]); prod_bin = 2 * popcount(agree) - 8 */
        return 8 - 2 * qmac_popcount32(((uint32_t)a ^ (uint32_t)w) & 0xffu);
    }
    return a * w; /* prod_int: exact in PROD_W = 18 bits */
}

qmac_status qmac_array_model_create(uint32_t rows, uint32_t cols, qmac_array_model **out)
{
    if (!out) {
        return qmac_set_error(QMAC_ERR_INVALID_ARG, "mac array model: no output pointer");
    }
    *out = NULL;
    if (rows < 1 || cols < 1 || rows > QMAC_ARRAY_MAX_DIM || cols > QMAC_ARRAY_MAX_DIM) {
        return qmac_set_error(QMAC_ERR_INVALID_ARG, "mac array model: shape %ux%u outside 1..%d", rows, cols,
                              QMAC_ARRAY_MAX_DIM);
    }
    qmac_array_model *m = calloc(1, sizeof *m);
    size_t n = (size_t)rows * cols;
    if (!m) {
        return qmac_set_error(QMAC_ERR_NOMEM, "mac array model: out of memory");
    }
    m->rows = rows;
    m->cols = cols;
    uint32_t bits = 1;
    while ((1u << bits) < rows) {
        bits++;
    }
    m->row_mask = (1u << bits) - 1u; /* RowIdxW = Rows > 1 ? $clog2(Rows) : 1 */
    m->edge = calloc(rows, sizeof *m->edge);
    m->skew = calloc(skew_off(rows) + 1, sizeof *m->skew);
    m->slot = calloc(n, sizeof *m->slot);
    m->wgt = calloc(n, sizeof *m->wgt);
    m->shadow = calloc(n, sizeof *m->shadow);
    m->psum = calloc(n, sizeof *m->psum);
    m->deskew = calloc(dsk_off(cols, cols) + 1, sizeof *m->deskew);
    m->ctl = calloc(rows + cols, 1);
    m->out = calloc(cols, sizeof *m->out);
    if (!m->edge || !m->skew || !m->slot || !m->wgt || !m->shadow || !m->psum || !m->deskew || !m->ctl ||
        !m->out) {
        qmac_array_model_free(m);
        return qmac_set_error(QMAC_ERR_NOMEM, "mac array model: out of memory");
    }
    for (uint32_t v = 0; v < 256; v++) {
        m->pop8[v] = (uint8_t)qmac_popcount32(v);
    }
    *out = m;
    return QMAC_OK;
}

void qmac_array_model_free(qmac_array_model *m)
{
    if (!m) {
        return;
    }
    free(m->edge);
    free(m->skew);
    free(m->slot);
    free(m->wgt);
    free(m->shadow);
    free(m->psum);
    free(m->deskew);
    free(m->ctl);
    free(m->out);
    free(m);
}

void qmac_array_model_reset(qmac_array_model *m)
{
    size_t n = (size_t)m->rows * m->cols;
    memset(m->edge, 0, m->rows * sizeof *m->edge);
    memset(m->skew, 0, (skew_off(m->rows) + 1) * sizeof *m->skew);
    memset(m->slot, 0, n * sizeof *m->slot);
    memset(m->wgt, 0, n * sizeof *m->wgt);
    memset(m->shadow, 0, n * sizeof *m->shadow);
    memset(m->psum, 0, n * sizeof *m->psum);
    memset(m->deskew, 0, (dsk_off(m->cols, m->cols) + 1) * sizeof *m->deskew);
    memset(m->ctl, 0, m->rows + m->cols);
    m->out_valid = 0;
    memset(m->out, 0, m->cols * sizeof *m->out);
}

uint32_t qmac_array_model_rows(const qmac_array_model *m)
{
    return m->rows;
}

uint32_t qmac_array_model_cols(const qmac_array_model *m)
{
    return m->cols;
}

void qmac_array_model_outputs(const qmac_array_model *m, qmac_array_out *o)
{
    o->valid = m->out_valid != 0;
    memcpy(o->out, m->out, m->cols * sizeof *m->out);
}

/* Column c's de-skewed sum (colsum[c]): the last deskew stage, or the bottom PE for c = cols-1. */
static int32_t colsum(const qmac_array_model *m, uint32_t c)
{
    uint32_t depth = m->cols - 1 - c;
    if (depth == 0) {
        return m->psum[(size_t)(m->rows - 1) * m->cols + c];
    }
    return m->deskew[dsk_off(m->cols, c) + depth - 1];
}

void qmac_array_model_clock(qmac_array_model *m, const qmac_array_in *in)
{
    const uint32_t rows = m->rows, cols = m->cols;

    /* Every register reads its predecessors' old values, so registers are updated from the output
     * end backwards: output stage, control line, de-skew, PE grid, skew, input stage, shadows. */

    /* out_q: ctl valid ? (ctl acc ? acc_i : 0) + sext(colsum) : 0, wrapped to ACC_W = 32 bits */
    uint8_t ctl_last = m->ctl[rows + cols - 1];
    m->out_valid = (uint8_t)((ctl_last >> 1) & 1u);
    for (uint32_t c = 0; c < cols; c++) {
        uint32_t v = 0;
        if (ctl_last & 2u) {
            uint32_t acc = (ctl_last & 1u) ? (uint32_t)in->acc[c] : 0u;
            v = acc + (uint32_t)colsum(m, c);
        }
        m->out[c] = (int32_t)v;
    }

    /* u_ctl: {act_valid_i, act_acc_i} delayed by rows + cols */
    memmove(m->ctl + 1, m->ctl, rows + cols - 1);
    m->ctl[0] = (uint8_t)((in->act_valid ? 2u : 0u) | (in->act_acc ? 1u : 0u));

    /* u_deskew: column c delayed by cols-1-c */
    for (uint32_t c = 0; c + 1 < cols; c++) {
        int32_t *d = m->deskew + dsk_off(cols, c);
        uint32_t depth = cols - 1 - c;
        memmove(d + 1, d, (depth - 1) * sizeof *d);
        d[0] = m->psum[(size_t)(rows - 1) * cols + c];
    }

    /* PE grid, bottom-right first so PE(r, c-1) and PE(r-1, c) still hold their old values */
    for (uint32_t r = rows; r-- > 0;) {
        const slot_t *left0 = r == 0 ? &m->edge[0] : &m->skew[skew_off(r) + r - 1];
        for (uint32_t c = cols; c-- > 0;) {
            size_t i = (size_t)r * cols + c;
            const slot_t s = c == 0 ? *left0 : m->slot[i - 1];
            if (s.valid) {
                /* wgt_d = (valid_i && swap_i) ? shadow_q : wgt_q; the swapping slot uses it */
                if (s.swap) {
                    m->wgt[i] = m->shadow[i];
                }
                int32_t w = m->wgt[i];
                int32_t prod =
                    s.bin ? 8 - 2 * (int32_t)m->pop8[((uint32_t)s.op ^ (uint32_t)w) & 0xffu] : s.op * w;
                /* psum_d = valid_i ? psum_i + prod : 0 (exact, never wraps) */
                m->psum[i] = (r == 0 ? 0 : m->psum[i - cols]) + prod;
            } else {
                m->psum[i] = 0;
            }
            m->slot[i] = s;
        }
    }

    /* u_skew: row r delayed by r stages after the input stage */
    for (uint32_t r = 1; r < rows; r++) {
        slot_t *k = m->skew + skew_off(r);
        memmove(k + 1, k, (r - 1) * sizeof *k);
        k[0] = m->edge[r];
    }

    /* edge_q: {act_valid_i, act_swap_i, act_bin_i, zp_correct(act_i[r], act_zp_i, act_signed_i)} */
    for (uint32_t r = 0; r < rows; r++) {
        slot_t *e = &m->edge[r];
        e->valid = in->act_valid;
        e->swap = in->act_swap;
        e->bin = in->act_bin;
        e->op = (int16_t)qmac_array_operand(in->act[r], in->act_zp, in->act_signed);
    }

    /* shadow_d = wgt_we_i ? wgt_corr[c] : shadow_q, with wgt_we[r] = wgt_valid_i && wgt_row_i == r */
    uint32_t row = in->wgt_row & m->row_mask;
    if (in->wgt_valid && row < rows) {
        int16_t *sh = m->shadow + (size_t)row * cols;
        for (uint32_t c = 0; c < cols; c++) {
            sh[c] = (int16_t)qmac_array_operand(in->wgt[c], in->wgt_zp[c], in->wgt_signed);
        }
    }
}
