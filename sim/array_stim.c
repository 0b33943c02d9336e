/* array_stim.c - seeded stimulus for the qmac_array differential test (see array_stim.h).
 *
 * The legal schedule follows the contract in sw/include/qmac/mac_array.h. With s_j the cycle of
 * tile j's swap vector, row r of tile j may be written in cycles [s_(j-1) + r + cols, s_j + r]
 * (no lower bound for the first tile). Tiles are at least S = max(rows, cols) cycles apart, so
 * these windows are never empty and no two rows share a deadline: the scheduler below writes a
 * row early when the dice say so and otherwise exactly at its deadline, which is always free. */
#include "array_stim.h"

#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------------------------------------
 * Value distributions
 * ------------------------------------------------------------------------------------------- */

/* 0, all ones (-1 / 255), -128, 127, then 1 and 0xfe */
static const uint8_t k_edges[] = {0x00, 0xff, 0x80, 0x7f, 0x01, 0xfe};

typedef enum {
    DIST_UNIFORM = 0,
    DIST_EDGE,    /* half edge values, half uniform */
    DIST_EXTREME, /* only 0x00, 0xff, 0x80, 0x7f: the largest products and sums */
    DIST_SPARSE,  /* mostly zero */
    DIST_ONES,    /* mostly all-ones bytes */
    DIST_COUNT
} byte_dist;

static uint8_t rand_u8(simctl_rng *r)
{
    return (uint8_t)(simctl_rng_u64(r) >> 56);
}

static uint8_t draw_byte(simctl_rng *r, byte_dist d)
{
    switch (d) {
    case DIST_EDGE: return simctl_rng_chance(r, 1, 2) ? k_edges[simctl_rng_below(r, 6)] : rand_u8(r);
    case DIST_EXTREME: return k_edges[simctl_rng_below(r, 4)];
    case DIST_SPARSE: return simctl_rng_chance(r, 7, 10) ? 0 : rand_u8(r);
    case DIST_ONES: return simctl_rng_chance(r, 7, 10) ? 0xff : rand_u8(r);
    case DIST_UNIFORM:
    case DIST_COUNT: break;
    }
    return rand_u8(r);
}

static uint8_t draw_zp(simctl_rng *r)
{
    const uint32_t k = simctl_rng_below(r, 20);
    if (k < 8) {
        return 0;
    }
    return k < 15 ? k_edges[simctl_rng_below(r, 6)] : rand_u8(r);
}

/* Accumulators: zero, small, near INT32_MAX / INT32_MIN (so the sums wrap), the limits, any. */
static int32_t draw_acc(simctl_rng *r)
{
    switch (simctl_rng_below(r, 8)) {
    case 0: return 0;
    case 1: return (int32_t)simctl_rng_below(r, 2048) - 1024;
    case 2: return INT32_MAX - (int32_t)simctl_rng_below(r, 1u << 21);
    case 3: return INT32_MIN + (int32_t)simctl_rng_below(r, 1u << 21);
    case 4: return INT32_MAX;
    case 5: return INT32_MIN;
    default: return (int32_t)(uint32_t)simctl_rng_u64(r);
    }
}

/* ---------------------------------------------------------------------------------------------
 * The arithmetic contract, written from the header (not from the model): the spec of a result
 * ------------------------------------------------------------------------------------------- */

/* x - zp with both read as int8 (is_signed) or uint8: in [-255, 255] */
static int32_t spec_operand(uint8_t x, uint8_t zp, bool is_signed)
{
    const int32_t xv = (int32_t)x - ((is_signed && x >= 0x80) ? 256 : 0);
    const int32_t zv = (int32_t)zp - ((is_signed && zp >= 0x80) ? 256 : 0);
    return xv - zv;
}

/* int8: a * w; binary: 8 lanes of +-1, +1 where the low 8 bits of a and w agree */
static int32_t spec_product(int32_t a, int32_t w, bool binary)
{
    if (!binary) {
        return a * w;
    }
    const uint32_t diff = ((uint32_t)a ^ (uint32_t)w) & 0xffu;
    int32_t differ = 0;
    for (uint32_t b = 0; b < 8; b++) {
        differ += (int32_t)((diff >> b) & 1u);
    }
    return 8 - 2 * differ;
}

/* ---------------------------------------------------------------------------------------------
 * Buffers
 * ------------------------------------------------------------------------------------------- */

void array_stim_init(array_stim *st, uint32_t rows, uint32_t cols)
{
    memset(st, 0, sizeof *st);
    st->rows = rows;
    st->cols = cols;
}

void array_stim_free(array_stim *st)
{
    free(st->in);
    free(st->rst);
    free(st->expect);
    free(st->exp);
    free(st->vec_tile);
    free(st->wop);
    free(st->wraw);
    free(st->wsgn);
    free(st->wzp);
    free(st->tile);
    memset(st, 0, sizeof *st);
}

static bool grow(void **p, size_t elem, size_t old_n, size_t new_n)
{
    void *q = realloc(*p, elem * new_n);
    if (!q) {
        return false;
    }
    memset((char *)q + elem * old_n, 0, elem * (new_n - old_n));
    *p = q;
    return true;
}

/* Room for n cycles (n + 1 compared cycles); resets the case statistics. */
static qmac_status reserve(array_stim *st, uint32_t n)
{
    if (n + 1 > st->cap) {
        const size_t old = st->cap, cap = (size_t)n + 1 + (n + 1) / 2;
        if (!grow((void **)&st->in, sizeof *st->in, old, cap) || !grow((void **)&st->rst, 1, old, cap) ||
            !grow((void **)&st->expect, 1, old, cap) ||
            !grow((void **)&st->exp, sizeof *st->exp * st->cols, old, cap) ||
            !grow((void **)&st->vec_tile, sizeof *st->vec_tile, old, cap)) {
            return qmac_set_error(QMAC_ERR_NOMEM, "stimulus: out of memory for %u cycles", n);
        }
        st->cap = (uint32_t)cap;
    }
    st->n = n;
    st->tiles = st->vectors = st->acc_vectors = st->chained = 0;
    st->mode_switches = st->wgt_writes = st->resets = 0;
    memset(st->rst, 0, (size_t)n + 1);
    memset(st->expect, 0, (size_t)n + 1);
    for (uint32_t i = 0; i <= n; i++) {
        st->vec_tile[i] = -2;
    }
    return QMAC_OK;
}

static qmac_status reserve_tiles(array_stim *st, uint32_t tiles)
{
    if (tiles > st->tiles_cap) {
        const size_t old = st->tiles_cap, rc = (size_t)st->rows * st->cols;
        if (!grow((void **)&st->wop, sizeof *st->wop * rc, old, tiles) ||
            !grow((void **)&st->wraw, rc, old, tiles) || !grow((void **)&st->wsgn, st->rows, old, tiles) ||
            !grow((void **)&st->wzp, rc, old, tiles) ||
            !grow((void **)&st->tile, sizeof *st->tile, old, tiles)) {
            return qmac_set_error(QMAC_ERR_NOMEM, "stimulus: out of memory for %u tiles", tiles);
        }
        st->tiles_cap = tiles;
    }
    return QMAC_OK;
}

/* Cycle i with no vector and no weight write; the don't-care fields carry junk or zeros. */
static void fill_idle(array_stim *st, simctl_rng *r, uint32_t i, bool junk, byte_dist d)
{
    qmac_array_in *in = &st->in[i];
    const uint64_t bits = junk ? simctl_rng_u64(r) : 0;
    in->act_valid = false;
    in->act_swap = bits & 1u;
    in->act_bin = (bits >> 1) & 1u;
    in->act_signed = (bits >> 2) & 1u;
    in->act_acc = (bits >> 3) & 1u;
    in->act_zp = (uint8_t)(bits >> 8);
    in->wgt_valid = false;
    in->wgt_signed = (bits >> 4) & 1u;
    in->wgt_row = (uint32_t)(bits >> 32);
    for (uint32_t k = 0; k < st->rows; k++) {
        in->act[k] = junk ? draw_byte(r, d) : 0;
    }
    for (uint32_t c = 0; c < st->cols; c++) {
        in->wgt[c] = junk ? draw_byte(r, d) : 0;
        in->wgt_zp[c] = junk ? draw_zp(r) : 0;
        in->acc[c] = junk ? draw_acc(r) : 0;
    }
}

static void count_mode(array_stim *st, const qmac_array_in *in, int *prev_mode)
{
    const int mode = (in->act_bin ? 2 : 0) | (in->act_signed ? 1 : 0);
    if (*prev_mode >= 0 && mode != *prev_mode) {
        st->mode_switches++;
    }
    *prev_mode = mode;
    st->vectors++;
}

/* ---------------------------------------------------------------------------------------------
 * Legal schedules
 * ------------------------------------------------------------------------------------------- */

enum { MODE_INT8 = 0, MODE_BIN, MODE_BIN_ODD, MODE_MIXED, MODE_COUNT };

typedef struct {
    int mode;
    bool asgn;
    uint8_t azp;
} tile_mode;

#define MAX_TILES 64u
#define CHAIN_HISTORY 16u

/* bench: the bench's stream (full rate, int8 and binary tiles alternating, uniform bytes, no
 * accumulation); else full_rate picks a vector in every cycle and tiles exactly S cycles apart, with
 * every other knob random. */
static qmac_status gen_legal(array_stim *st, simctl_rng *r, uint32_t tiles, bool full_rate, bool bench)
{
    const uint32_t R = st->rows, C = st->cols, S = R > C ? R : C, L = QMAC_ARRAY_LATENCY(R, C);
    if (tiles < 1) {
        tiles = 1;
    }
    if (tiles > MAX_TILES) {
        tiles = MAX_TILES;
    }
    /* per-case knobs (eighths) */
    static const uint32_t k_gap[] = {0, 1, 4}, k_acc[] = {0, 2, 4, 8}, k_early[] = {1, 4, 8};
    const byte_dist dist = bench ? DIST_UNIFORM : (byte_dist)simctl_rng_below(r, DIST_COUNT);
    const uint32_t p_gap = full_rate ? 0 : k_gap[simctl_rng_below(r, 3)];
    const uint32_t p_acc = bench ? 0 : k_acc[simctl_rng_below(r, 4)];
    const uint32_t p_early = bench ? 0 : k_early[simctl_rng_below(r, 3)];
    /* asap: write each row as soon as its window opens (the earliest legal cycle) */
    const bool asap = !bench && simctl_rng_chance(r, 1, 4);
    const bool junk = simctl_rng_chance(r, 3, 4);
    const uint32_t npre = (!full_rate && simctl_rng_chance(r, 1, 4)) ? 1 + simctl_rng_below(r, 3) : 0;

    /* an upper bound of the case length: tile spans are at most 3S vectors with gaps of <= 4 */
    const uint32_t bound = npre + 2 * R + 1 + tiles * (15 * S + S) + L + 8;
    qmac_status err = reserve(st, bound);
    if (err == QMAC_OK) {
        err = reserve_tiles(st, tiles);
    }
    if (err != QMAC_OK) {
        return err;
    }
    st->kind = ARRAY_STIM_LEGAL;
    st->tiles = tiles;

    /* 1. timeline: vin[t] = tile of the vector entering in cycle t (-1: before the first swap,
     * -2: no vector); vec_tile's memory serves as scratch until the length is known */
    int32_t *vin = st->vec_tile;
    for (uint32_t i = 0; i < npre; i++) {
        vin[i] = -1;
    }
    uint32_t t = npre + (full_rate ? 0 : simctl_rng_below(r, 2 * R + 1)), last = npre ? npre - 1 : 0;
    for (uint32_t j = 0; j < tiles; j++) {
        const uint32_t nv = full_rate                    ? S
                            : simctl_rng_chance(r, 1, 4) ? 1 + simctl_rng_below(r, 2)
                                                         : 1 + simctl_rng_below(r, 3 * S);
        st->tile[j].swap_cycle = t;
        st->tile[j].vectors = nv;
        uint32_t c = t;
        for (uint32_t v = 0; v < nv; v++) {
            vin[c] = (int32_t)j;
            last = c;
            c += 1 + (simctl_rng_chance(r, p_gap, 8) ? 1 + simctl_rng_below(r, 4) : 0);
        }
        const uint32_t span = last - t + 1;
        t +=
            (span > S ? span : S) + ((!full_rate && simctl_rng_chance(r, 1, 4)) ? simctl_rng_below(r, S) : 0);
    }
    const uint32_t n = last + L + 1 + (full_rate ? 0 : simctl_rng_below(r, 4));
    if (n > bound) {
        return qmac_set_error(QMAC_ERR_INTERNAL, "stimulus: legal case of %u cycles exceeds its bound %u", n,
                              bound);
    }
    st->n = n;
    /* move the timeline out of vec_tile into a scratch copy so vec_tile can take results */
    int32_t *vtl = malloc(sizeof *vtl * n);
    uint8_t *written = calloc((size_t)tiles * R, 1);
    if (!vtl || !written) {
        free(vtl);
        free(written);
        return qmac_set_error(QMAC_ERR_NOMEM, "stimulus: out of memory");
    }
    memcpy(vtl, vin, sizeof *vtl * n);
    for (uint32_t i = 0; i <= n; i++) {
        st->vec_tile[i] = -2;
    }

    for (uint32_t i = 0; i < n; i++) {
        fill_idle(st, r, i, junk, dist);
    }

    /* 2. tile contents and modes */
    tile_mode tm[MAX_TILES];
    for (uint32_t j = 0; j < tiles; j++) {
        tm[j].mode = bench ? (int)(j % 2) : (int)simctl_rng_below(r, MODE_COUNT);
        const bool canonical_bin = tm[j].mode == MODE_BIN;
        tm[j].asgn = canonical_bin ? false : simctl_rng_chance(r, 1, 2);
        tm[j].azp = canonical_bin ? 0 : draw_zp(r);
        const bool wsgn = canonical_bin ? false : simctl_rng_chance(r, 1, 2);
        uint8_t wzp[QMAC_ARRAY_MAX_DIM];
        for (uint32_t c = 0; c < C; c++) {
            wzp[c] = canonical_bin ? 0 : draw_zp(r);
        }
        const bool per_row = !canonical_bin && simctl_rng_chance(r, 1, 8);
        for (uint32_t k = 0; k < R; k++) {
            const size_t rowo = ((size_t)j * R + k) * C;
            st->wsgn[(size_t)j * R + k] = per_row ? simctl_rng_chance(r, 1, 2) : wsgn;
            for (uint32_t c = 0; c < C; c++) {
                st->wraw[rowo + c] = draw_byte(r, dist);
                st->wzp[rowo + c] = per_row ? draw_zp(r) : wzp[c];
                st->wop[rowo + c] =
                    (int16_t)spec_operand(st->wraw[rowo + c], st->wzp[rowo + c], st->wsgn[(size_t)j * R + k]);
            }
        }
    }

    /* 3. weight writes: early with probability p_early, otherwise exactly at the deadline */
    const uint32_t row_bits = R > 1 ? (uint32_t)(32 - __builtin_clz(R - 1)) : 1;
    for (uint32_t cy = 0; cy < n; cy++) {
        int32_t pick = -1;
        uint32_t cand[2 * QMAC_ARRAY_MAX_DIM], ncand = 0, npend = 0, first_lo = UINT32_MAX;
        int32_t first = -1;
        for (uint32_t j = 0; j < tiles && pick < 0; j++) {
            const uint32_t s = st->tile[j].swap_cycle;
            for (uint32_t k = 0; k < R; k++) {
                const uint32_t e = j * R + k, hi = s + k;
                const uint32_t lo = j == 0 ? 0 : st->tile[j - 1].swap_cycle + k + C;
                if (!written[e] && hi == cy) {
                    pick = (int32_t)e;
                    break;
                }
                if (lo <= cy && cy <= hi && ncand < 2 * QMAC_ARRAY_MAX_DIM) {
                    /* pending rows first in cand[] */
                    if (!written[e] && lo < first_lo) {
                        first_lo = lo;
                        first = (int32_t)e;
                    }
                    if (!written[e]) {
                        if (npend < ncand) {
                            cand[ncand] = cand[npend];
                        }
                        cand[npend++] = e;
                    } else {
                        cand[ncand] = e;
                    }
                    ncand++;
                }
            }
        }
        if (pick < 0 && asap) {
            pick = first;
        }
        if (pick < 0 && ncand > 0 && simctl_rng_chance(r, p_early, 8)) {
            /* a pending row, or now and then a harmless rewrite of a row already written */
            const bool rewrite = npend == 0 || simctl_rng_chance(r, 1, 4);
            pick = (int32_t)(rewrite ? cand[simctl_rng_below(r, ncand)] : cand[simctl_rng_below(r, npend)]);
        }
        if (pick < 0) {
            continue;
        }
        const uint32_t k = (uint32_t)pick % R;
        qmac_array_in *in = &st->in[cy];
        in->wgt_valid = true;
        /* bits above the port width are dropped (contract: wgt_row is taken modulo 2^RowIdxW) */
        in->wgt_row =
            k | (simctl_rng_chance(r, 1, 4) && row_bits < 32 ? (uint32_t)simctl_rng_u64(r) << row_bits : 0);
        in->wgt_signed = st->wsgn[pick];
        memcpy(in->wgt, &st->wraw[(size_t)pick * C], C);
        memcpy(in->wgt_zp, &st->wzp[(size_t)pick * C], C);
        written[pick] = 1;
        st->wgt_writes++;
    }
    for (uint32_t e = 0; e < tiles * R; e++) {
        if (!written[e]) {
            free(vtl);
            free(written);
            return qmac_set_error(QMAC_ERR_INTERNAL, "stimulus: tile %u row %u was never written", e / R,
                                  e % R);
        }
    }

    /* 4. vectors, accumulators and the expected results */
    uint32_t hist[CHAIN_HISTORY], nhist = 0;
    int prev_mode = -1;
    for (uint32_t cy = 0; cy < n; cy++) {
        const int32_t j = vtl[cy];
        if (j < -1) {
            continue;
        }
        qmac_array_in *in = &st->in[cy];
        in->act_valid = true;
        in->act_swap = j >= 0 && cy == st->tile[j].swap_cycle;
        const tile_mode *m = j >= 0 ? &tm[j] : NULL;
        if (!m || m->mode == MODE_MIXED) {
            in->act_bin = simctl_rng_chance(r, 1, 2);
            in->act_signed = simctl_rng_chance(r, 1, 2);
            in->act_zp = draw_zp(r);
        } else {
            in->act_bin = m->mode != MODE_INT8;
            in->act_signed = m->asgn;
            in->act_zp = m->azp;
        }
        for (uint32_t k = 0; k < R; k++) {
            in->act[k] = draw_byte(r, dist);
        }
        in->act_acc = simctl_rng_chance(r, p_acc, 8);
        int32_t *acc = st->in[cy + R + C].acc; /* sampled in cycle t + rows + cols */
        if (in->act_acc) {
            st->acc_vectors++;
            if (nhist > 0 && simctl_rng_chance(r, 1, 2)) {
                /* a chain: continue an earlier vector's sums (K split over several tiles) */
                const uint32_t e = hist[simctl_rng_below(r, nhist)];
                memcpy(acc, &st->exp[(size_t)(e + L) * C], sizeof *acc * C);
                st->chained++;
            } else {
                for (uint32_t c = 0; c < C; c++) {
                    acc[c] = draw_acc(r);
                }
            }
        }
        count_mode(st, in, &prev_mode);

        int32_t aop[QMAC_ARRAY_MAX_DIM];
        for (uint32_t k = 0; k < R; k++) {
            aop[k] = spec_operand(in->act[k], in->act_zp, in->act_signed);
        }
        int32_t *exp = &st->exp[(size_t)(cy + L) * C];
        for (uint32_t c = 0; c < C; c++) {
            uint32_t sum = in->act_acc ? (uint32_t)acc[c] : 0u;
            for (uint32_t k = 0; k < R; k++) {
                /* before the first swap the active weights are the reset zeros */
                const int32_t w = j >= 0 ? st->wop[((size_t)j * R + k) * C + c] : 0;
                sum += (uint32_t)spec_product(aop[k], w, in->act_bin);
            }
            exp[c] = (int32_t)sum;
        }
        st->expect[cy + L] = 1;
        st->vec_tile[cy + L] = j;
        if (nhist < CHAIN_HISTORY) {
            hist[nhist++] = cy;
        } else {
            memmove(hist, hist + 1, sizeof *hist * (CHAIN_HISTORY - 1));
            hist[CHAIN_HISTORY - 1] = cy;
        }
    }
    free(vtl);
    free(written);
    return QMAC_OK;
}

qmac_status array_stim_legal(array_stim *st, simctl_rng *rng, uint32_t max_tiles)
{
    const uint32_t tiles = 1 + simctl_rng_below(rng, max_tiles);
    return gen_legal(st, rng, tiles, simctl_rng_chance(rng, 1, 8), false);
}

qmac_status array_stim_stream(array_stim *st, simctl_rng *rng, uint32_t tiles)
{
    return gen_legal(st, rng, tiles, true, true);
}

/* ---------------------------------------------------------------------------------------------
 * Fully random inputs
 * ------------------------------------------------------------------------------------------- */

qmac_status array_stim_random(array_stim *st, simctl_rng *r, uint32_t cycles)
{
    qmac_status s = reserve(st, cycles);
    if (s != QMAC_OK) {
        return s;
    }
    st->kind = ARRAY_STIM_RANDOM;
    static const uint32_t k_valid[] = {1, 4, 7, 8}, k_swap[] = {0, 1, 8}, k_wgt[] = {1, 8, 16};
    const byte_dist dist = (byte_dist)simctl_rng_below(r, DIST_COUNT);
    const uint32_t p_valid = k_valid[simctl_rng_below(r, 4)];  /* eighths */
    const uint32_t p_swap = k_swap[simctl_rng_below(r, 3)];    /* sixteenths */
    const uint32_t p_wgt = k_wgt[simctl_rng_below(r, 3)];      /* sixteenths */
    const uint32_t p_rst = simctl_rng_chance(r, 1, 2) ? 1 : 0; /* 256ths */
    bool bin = false, sgn = false;
    uint8_t zp = 0;
    uint32_t rerrleft = 0;
    int prev_mode = -1;
    for (uint32_t i = 0; i < cycles; i++) {
        qmac_array_in *in = &st->in[i];
        if (simctl_rng_chance(r, 1, 8)) { /* mode switch */
            bin = simctl_rng_chance(r, 1, 2);
            sgn = simctl_rng_chance(r, 1, 2);
            zp = draw_zp(r);
        }
        in->act_valid = simctl_rng_chance(r, p_valid, 8);
        in->act_swap = simctl_rng_chance(r, p_swap, 16);
        in->act_bin = bin;
        in->act_signed = sgn;
        in->act_zp = zp;
        in->act_acc = simctl_rng_chance(r, 1, 2);
        for (uint32_t k = 0; k < st->rows; k++) {
            in->act[k] = draw_byte(r, dist);
        }
        in->wgt_valid = simctl_rng_chance(r, p_wgt, 16);
        in->wgt_row =
            simctl_rng_chance(r, 1, 8) ? (uint32_t)simctl_rng_u64(r) : simctl_rng_below(r, st->rows);
        in->wgt_signed = simctl_rng_chance(r, 1, 2);
        for (uint32_t c = 0; c < st->cols; c++) {
            in->wgt[c] = draw_byte(r, dist);
            in->wgt_zp[c] = draw_zp(r);
            in->acc[c] = draw_acc(r);
        }
        if (in->act_valid) {
            count_mode(st, in, &prev_mode);
            st->acc_vectors += in->act_acc;
            st->tiles += in->act_swap;
        }
        st->wgt_writes += in->wgt_valid;
        if (rerrleft > 0) {
            st->rst[i] = 1;
            rerrleft--;
        } else if (i > 0 && simctl_rng_chance(r, p_rst, 256)) {
            st->rst[i] = 1;
            rerrleft = simctl_rng_below(r, 3);
            st->resets++;
        }
    }
    return QMAC_OK;
}
