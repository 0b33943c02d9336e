/* conv_prog.c - the accelerator program of one quantized convolution (see conv_prog.h).
 *
 * Buffer plan (rows): ACC [0, 3 Gy) the parameter table, then out_slots accumulator slots of
 * rt * ow rows; INP inp_slots slots of one row tile's padded input; WGT all weight tiles
 * (resident), or w_slots slots of a chunk of `chunk` taps (a whole output group's kh kw Gx taps
 * when two fit, else as many as half of WGT holds: the reduction is split into chunks); OUT
 * out_slots slots. Step s = (tile t, output group o) uses accumulator / OUT slot s % out_slots;
 * weight unit u = (step, chunk) uses WGT slot u % w_slots. The input of tile t + 1 and weight
 * unit u + 1 are loaded right after the first GEMM of tile t / unit u: their slot's previous
 * readers are all earlier in the program, so in-order execution means what it says, and the
 * LOAD runs while the array works. */
#include "qmac/conv_prog.h"

#include <string.h>

typedef struct {
    const qmac_hw_config *cfg;
    const qmac_conv_prog_desc *d;
    qmac_prog *p;
    uint32_t dim, gx, gy, oh, ow, wp, rt, tiles, inp_slots, out_slots, w_slots, acc0;
    uint32_t gyo;           /* OUT rows per output pixel: Gy, or ceil(Gy / 8) for omode BIN */
    uint32_t span;          /* input groups an output group reads (Gx when dense) */
    uint32_t taps;          /* taps of one output group: kh kw span (one weight tile each) */
    uint32_t tap_rows;      /* WGT rows of one output group: taps N */
    uint32_t chunk, chunks; /* taps per weight unit, units per step (not resident) */
    int resident;
    uint64_t vectors;
} plan;

static uint32_t ceil_div(uint32_t a, uint32_t b)
{
    return (a + b - 1u) / b;
}

static uint32_t out_size(uint32_t in, uint32_t pb, uint32_t pa, uint32_t k, uint32_t s, uint32_t dil)
{
    const uint64_t span = (uint64_t)(k - 1u) * dil + 1u, padded = (uint64_t)in + pb + pa;
    if (k == 0 || s == 0 || dil == 0 || span > padded)
        return 0;
    return (uint32_t)((padded - span) / s + 1u);
}

uint32_t qmac_conv_prog_out_h(const qmac_conv_prog_desc *d)
{
    return out_size(d->h, d->pad_t, d->pad_b, d->kh, d->stride_h, d->dil_h);
}

uint32_t qmac_conv_prog_out_w(const qmac_conv_prog_desc *d)
{
    return out_size(d->w, d->pad_l, d->pad_r, d->kw, d->stride_w, d->dil_w);
}

/* The convolution's groups (1 for 0 or a count that does not divide both channel counts, which
 * qmac_conv_prog_build refuses). */
static uint32_t conv_groups(const qmac_conv_prog_desc *d)
{
    const uint32_t g = d->groups;
    return g && d->cin % g == 0 && d->cout % g == 0 ? g : 1u;
}

/* The input groups output group o reads: those holding the input channels of the convolution
 * groups of its output channels, [lo, hi]. */
static void in_groups(uint32_t n, const qmac_conv_prog_desc *d, uint32_t o, uint32_t *lo, uint32_t *hi)
{
    const uint32_t groups = conv_groups(d), cin_g = d->cin / groups, cout_g = d->cout / groups;
    const uint32_t oc0 = o * n, oc1 = oc0 + n - 1u < d->cout ? oc0 + n - 1u : d->cout - 1u;
    *lo = oc0 / cout_g * cin_g / n;
    *hi = ((oc1 / cout_g + 1u) * cin_g - 1u) / n;
}

/* Input groups per output group: the widest span; output group o reads span groups from
 * first_group(o) (its own, plus all-zero-point tiles where its span is narrower). */
static uint32_t group_span(uint32_t n, const qmac_conv_prog_desc *d)
{
    uint32_t span = 1;
    for (uint32_t o = 0; o < ceil_div(d->cout, n); o++) {
        uint32_t lo, hi;
        in_groups(n, d, o, &lo, &hi);
        span = hi - lo + 1u > span ? hi - lo + 1u : span;
    }
    return span;
}

static uint32_t first_group(uint32_t n, const qmac_conv_prog_desc *d, uint32_t o, uint32_t span)
{
    uint32_t lo, hi;
    in_groups(n, d, o, &lo, &hi);
    const uint32_t gx = ceil_div(d->cin, n);
    return lo + span <= gx ? lo : gx - span;
}

size_t qmac_conv_prog_weight_bytes(const qmac_hw_config *cfg, const qmac_conv_prog_desc *d)
{
    const size_t n = cfg->dim;
    return (size_t)d->kh * d->kw * group_span(cfg->dim, d) * ceil_div(d->cout, cfg->dim) * n * n;
}

void qmac_conv_prog_pack_weights(const qmac_hw_config *cfg, const qmac_conv_prog_desc *d, const uint8_t *w,
                                 const uint8_t *wzp, uint8_t *tiles)
{
    const uint32_t n = cfg->dim, gy = ceil_div(d->cout, n), span = group_span(n, d);
    const uint32_t groups = conv_groups(d), cin_g = d->cin / groups, cout_g = d->cout / groups;
    for (uint32_t o = 0; o < gy; o++) {
        const uint32_t g0 = first_group(n, d, o, span);
        for (uint32_t ky = 0; ky < d->kh; ky++)
            for (uint32_t kx = 0; kx < d->kw; kx++)
                for (uint32_t j = 0; j < span; j++) {
                    uint8_t *t = tiles + ((((size_t)o * d->kh + ky) * d->kw + kx) * span + j) * n * n;
                    for (uint32_t k = 0; k < n; k++)
                        for (uint32_t c = 0; c < n; c++) {
                            const uint32_t oc = o * n + c, ic = (g0 + j) * n + k;
                            uint8_t v = 0;
                            if (oc < d->cout) {
                                const uint32_t grp = oc / cout_g; /* the input channel in oc's group? */
                                v = ic < d->cin && ic / cin_g == grp
                                        ? w[(((size_t)oc * d->kh + ky) * d->kw + kx) * cin_g + ic -
                                            grp * cin_g]
                                        : (wzp ? wzp[oc] : 0u);
                            }
                            t[(size_t)k * n + c] = v;
                        }
                }
    }
}

static qmac_status bad(const char *what, uint64_t v)
{
    return qmac_set_error(QMAC_ERR_INVALID_ARG, "conv program: %s = %llu", what, (unsigned long long)v);
}

static qmac_status push(plan *pl, qmac_insn in)
{
    return qmac_prog_push(pl->p, &in);
}

/* Padded input rows that row tile t reads (its output rows times the stride, plus the kernel). */
static uint32_t tile_in_rows(const plan *pl, uint32_t rows)
{
    return (rows - 1u) * pl->d->stride_h + (pl->d->kh - 1u) * pl->d->dil_h + 1u;
}

static uint32_t tile_rows(const plan *pl, uint32_t t)
{
    const uint32_t oy0 = t * pl->rt;
    return pl->oh - oy0 < pl->rt ? pl->oh - oy0 : pl->rt;
}

/* LOAD of row tile t's padded input into INP slot t % inp_slots. */
static qmac_status load_input(plan *pl, uint32_t t)
{
    const qmac_conv_prog_desc *d = pl->d;
    const uint32_t n = pl->dim, in_rows = tile_in_rows(pl, tile_rows(pl, t));
    const int64_t ya = (int64_t)t * pl->rt * d->stride_h - d->pad_t, yb = ya + in_rows;
    const int64_t lo = ya < 0 ? 0 : ya, hi = yb > (int64_t)d->h ? (int64_t)d->h : yb;
    const uint32_t data = hi > lo ? (uint32_t)(hi - lo) : 0u;
    const uint32_t top = ya < 0 ? (uint32_t)(-ya < (int64_t)in_rows ? -ya : in_rows) : 0u;
    const uint32_t bottom = in_rows - top - data;
    if (top > 255u || bottom > 255u)
        return bad("padding rows of a row tile (a LOAD pads at most 255)", top > bottom ? top : bottom);
    const uint32_t line = d->w * pl->gx * n;
    return push(pl, QMAC_INSN_LOAD(.buf = QMAC_BUF_INP, .dram = d->x_addr + (uint32_t)lo * line,
                                   .sram = (t % pl->inp_slots) * tile_in_rows(pl, pl->rt) * pl->wp * pl->gx,
                                   .x_size = d->w * pl->gx, .y_size = data, .z_size = 1, .x_stride = n,
                                   .y_stride = line, .pad_x0 = d->pad_l * pl->gx, .pad_x1 = d->pad_r * pl->gx,
                                   .pad_y0 = top, .pad_y1 = bottom, .pad_value = d->act_zp));
}

/* LOAD of weight unit u (step u / chunks, chunk u % chunks) into WGT slot u % w_slots. */
static qmac_status load_weights(plan *pl, uint64_t u)
{
    const uint32_t n = pl->dim, o = (uint32_t)(u / pl->chunks % pl->gy);
    const uint32_t tap0 = (uint32_t)(u % pl->chunks) * pl->chunk;
    const uint32_t count = pl->taps - tap0 < pl->chunk ? pl->taps - tap0 : pl->chunk;
    return push(pl, QMAC_INSN_LOAD(.buf = QMAC_BUF_WGT, .dram = pl->d->w_addr + (o * pl->taps + tap0) * n * n,
                                   .sram = (uint32_t)(u % pl->w_slots) * pl->chunk * n, .x_size = count * n,
                                   .y_size = 1, .z_size = 1, .x_stride = n));
}

/* Rows per tile and slot counts. For each slot configuration, {inp, out} = {2, 2}, {1, 2},
 * {2, 1}, {1, 1}, the largest row tile that fits; of those, the one that moves the fewest bytes
 * over the bus, counting the loads a single slot cannot overlap with the array twice (the first
 * in the list on a tie). Weights not resident in WGT are loaded once per row tile, so fewer,
 * taller tiles can beat double buffering for weight-heavy layers. */
static qmac_status choose_tiles(plan *pl)
{
    const qmac_hw_config *cfg = pl->cfg;
    static const uint32_t configs[4][2] = {{2, 2}, {1, 2}, {2, 1}, {1, 1}}; /* {inp, out} slots */
    const uint64_t line_rows = (uint64_t)pl->wp * pl->gx, n = pl->dim;
    const uint64_t w_bytes = (uint64_t)pl->tap_rows * pl->gy * n;
    const uint64_t y_bytes = (uint64_t)pl->oh * pl->ow * pl->gyo * n;
    uint64_t best_cost = UINT64_MAX;
    uint32_t best_rt = 0, best_c = 0;
    for (uint32_t c = 0; c < 4; c++) {
        const uint32_t is = configs[c][0], os = configs[c][1];
        uint32_t rt_max = 0;
        for (uint32_t rt = 1; rt <= pl->oh; rt++) {
            const uint64_t inp = is * (uint64_t)tile_in_rows(pl, rt) * line_rows,
                           acc = (uint64_t)os * rt * pl->ow;
            if (inp > cfg->inp_rows || 3ull * pl->gy + acc > cfg->acc_rows || acc > cfg->out_rows)
                break;
            rt_max = rt;
        }
        if (!rt_max)
            continue;
        const uint64_t tiles = ceil_div(pl->oh, rt_max);
        const uint64_t x_bytes = tiles * tile_in_rows(pl, rt_max) * line_rows * n;
        uint64_t cost = x_bytes + (pl->resident ? w_bytes : tiles * w_bytes) + y_bytes;
        if (is == 1 && tiles > 1)
            cost += x_bytes; /* input loads wait for the array */
        if (os == 1)
            cost += y_bytes; /* the array waits for stores */
        if (cost < best_cost) {
            best_cost = cost;
            best_rt = rt_max;
            best_c = c;
        }
    }
    if (best_rt) {
        pl->rt = best_rt;
        pl->inp_slots = configs[best_c][0];
        pl->out_slots = configs[best_c][1];
        pl->tiles = ceil_div(pl->oh, best_rt);
        return QMAC_OK;
    }
    return qmac_set_error(QMAC_ERR_INVALID_ARG,
                          "conv program: one output row (%u pixels, %u input lines of %u rows) does not fit "
                          "the buffers (INP %u, ACC %u, OUT %u rows); column tiling is not built yet",
                          pl->ow, tile_in_rows(pl, 1), pl->wp * pl->gx, cfg->inp_rows, cfg->acc_rows,
                          cfg->out_rows);
}

static qmac_status check(const qmac_hw_config *cfg, const qmac_conv_prog_desc *d, plan *pl)
{
    const uint32_t n = cfg->dim, mask = n - 1u;
    if (!d->h || !d->w || !d->cin || !d->cout || d->h > 65535u || d->w > 65535u || d->cin > 65535u ||
        d->cout > 65535u)
        return bad("an input size or channel count (1 .. 65535)", 0);
    if (d->groups > 1 && (d->cin % d->groups || d->cout % d->groups))
        return bad("groups (must divide cin and cout)", d->groups);
    if (!pl->oh || !pl->ow)
        return bad("output size (the kernel does not fit the padded input)", 0);
    if ((d->x_addr | d->y_addr | d->w_addr | d->param_addr | d->zero_addr) & mask)
        return bad("an address not a multiple of N",
                   (d->x_addr | d->y_addr | d->w_addr | d->param_addr | d->zero_addr) & mask);
    if ((uint64_t)(d->pad_l > d->pad_r ? d->pad_l : d->pad_r) * pl->gx > 255u)
        return bad("padding rows of a line (pad pixels x Gx; a LOAD pads at most 255)",
                   (uint64_t)(d->pad_l > d->pad_r ? d->pad_l : d->pad_r) * pl->gx);
    const uint64_t x_bytes = (uint64_t)d->h * d->w * pl->gx * n,
                   y_bytes = (uint64_t)pl->oh * pl->ow * pl->gyo * n;
    const uint64_t w_bytes = qmac_conv_prog_weight_bytes(cfg, d), p_bytes = 3ull * pl->gy * 4u * n;
    if ((uint64_t)d->x_addr + x_bytes > (1ull << 32) || (uint64_t)d->y_addr + y_bytes > (1ull << 32) ||
        (uint64_t)d->w_addr + w_bytes > (1ull << 32) || (uint64_t)d->param_addr + p_bytes > (1ull << 32))
        return bad("a tensor ending beyond 2^32, its end", 0);
    if (d->rule > QMAC_RULE_FLOAT || d->omode > QMAC_OMODE_BIN || d->bin > 1u || d->act_zp > 255u ||
        d->out_zp > 255u || d->clamp_min > 255u || d->clamp_max > 255u)
        return bad("rule, omode, bin, a zero point or a clamp", 0);
    const int32_t lo = d->omode == QMAC_OMODE_S8 ? (int8_t)d->clamp_min : (int32_t)d->clamp_min;
    const int32_t hi = d->omode == QMAC_OMODE_S8 ? (int8_t)d->clamp_max : (int32_t)d->clamp_max;
    if (d->omode != QMAC_OMODE_BIN && lo > hi)
        return bad("clamp_min above clamp_max", d->clamp_min);
    if (3u * pl->gy >= cfg->acc_rows)
        return bad("output channel groups (3 ACC parameter rows each)", pl->gy);
    return QMAC_OK;
}

qmac_status qmac_conv_prog_build(const qmac_hw_config *cfg, const qmac_conv_prog_desc *d, qmac_prog *p,
                                 qmac_conv_prog_info *info)
{
    qmac_status st = qmac_hw_config_check(cfg);
    if (st != QMAC_OK)
        return st;
    plan pl;
    memset(&pl, 0, sizeof pl);
    pl.cfg = cfg;
    pl.d = d;
    pl.p = p;
    pl.dim = cfg->dim;
    pl.gx = ceil_div(d->cin, cfg->dim);
    pl.gy = ceil_div(d->cout, cfg->dim);
    pl.gyo = d->omode == QMAC_OMODE_BIN ? ceil_div(pl.gy, 8u) : pl.gy;
    pl.oh = qmac_conv_prog_out_h(d);
    pl.ow = qmac_conv_prog_out_w(d);
    pl.wp = d->w + d->pad_l + d->pad_r;
    pl.span = group_span(cfg->dim, d);
    pl.taps = d->kh * d->kw * pl.span;
    pl.tap_rows = pl.taps * cfg->dim;
    pl.resident = (uint64_t)pl.tap_rows * pl.gy <= cfg->wgt_rows;
    if ((st = check(cfg, d, &pl)) != QMAC_OK || (st = choose_tiles(&pl)) != QMAC_OK)
        return st;
    const uint32_t n = pl.dim, gx = pl.gx, tile_acc = pl.rt * pl.ow;
    const int bin_out = d->omode == QMAC_OMODE_BIN;
    pl.acc0 = 3u * pl.gy;
    /* not resident: two slots of a whole group's taps, else of half of WGT each (one slot when
     * WGT holds a single tile) */
    pl.w_slots = cfg->wgt_rows >= 2u * n ? 2u : 1u;
    pl.chunk = cfg->wgt_rows / pl.w_slots / n < pl.taps ? cfg->wgt_rows / pl.w_slots / n : pl.taps;
    pl.chunks = ceil_div(pl.taps, pl.chunk);
    const uint64_t units = (uint64_t)pl.tiles * pl.gy * pl.chunks;
    const uint32_t inp_slot_rows = tile_in_rows(&pl, pl.rt) * pl.wp * gx;

    st = push(&pl,
              QMAC_INSN_CONFIG(.bin = d->bin, .act_signed = d->act_signed, .wgt_signed = d->wgt_signed,
                               .rule = d->rule, .omode = d->omode, .act_zp = d->act_zp, .out_zp = d->out_zp,
                               .clamp_min = d->clamp_min, .clamp_max = d->clamp_max));
    if (st == QMAC_OK) /* the whole parameter table, before any GEMM holds the ACC write port */
        st = push(&pl, QMAC_INSN_LOAD(.buf = QMAC_BUF_ACC, .dram = d->param_addr, .x_size = 3u * pl.gy,
                                      .y_size = 1, .z_size = 1, .x_stride = 4u * n));
    if (st == QMAC_OK && pl.resident)
        st = push(&pl, QMAC_INSN_LOAD(.buf = QMAC_BUF_WGT, .dram = d->w_addr, .x_size = pl.tap_rows * pl.gy,
                                      .y_size = 1, .z_size = 1, .x_stride = n));
    if (st == QMAC_OK)
        st = load_input(&pl, 0);
    if (st == QMAC_OK && !pl.resident)
        st = load_weights(&pl, 0);
    uint64_t s = 0;
    for (uint32_t t = 0; t < pl.tiles && st == QMAC_OK; t++) {
        const uint32_t rows = tile_rows(&pl, t), oy0 = t * pl.rt, inp0 = (t % pl.inp_slots) * inp_slot_rows;
        for (uint32_t o = 0; o < pl.gy && st == QMAC_OK; o++, s++) {
            const uint32_t slot = (uint32_t)(s % pl.out_slots), acc = pl.acc0 + slot * tile_acc;
            /* omode BIN: 8 output groups fill one OUT row (bit group o % 8), stored together */
            const uint32_t per_row = bin_out ? 8u : 1u, orow = o / per_row, group = o % per_row;
            const uint64_t os = (uint64_t)t * pl.gyo + orow; /* the OUT step */
            const uint32_t out = (uint32_t)(os % pl.out_slots) * tile_acc;
            const int row_last = group + 1u == per_row || o + 1u == pl.gy;
            if (bin_out && group == 0 && pl.gy - o < 8u) /* a row some groups leave unwritten: zeros */
                st = push(&pl, QMAC_INSN_LOAD(.buf = QMAC_BUF_OUT, .dram = d->zero_addr, .sram = out,
                                              .x_size = pl.ow, .y_size = rows, .z_size = 1));
            if (st == QMAC_OK)
                st = push(&pl, QMAC_INSN_PARAM(.acc = 3u * o));
            const uint32_t taps = pl.taps;
            for (uint32_t tap = 0; tap < taps && st == QMAC_OK; tap++) {
                const uint32_t span = pl.span, kx = (tap / span) % d->kw, ky = tap / span / d->kw;
                const uint32_t g = first_group(n, d, o, span) + tap % span;
                const uint32_t inp = inp0 + (ky * d->dil_h) * pl.wp * gx + (kx * d->dil_w) * gx + g;
                const uint64_t u = s * pl.chunks + tap / pl.chunk; /* the weight unit (not resident) */
                const uint32_t wgt = pl.resident
                                         ? (o * taps + tap) * n
                                         : ((uint32_t)(u % pl.w_slots) * pl.chunk + tap % pl.chunk) * n;
                st = push(&pl, QMAC_INSN_GEMM(.accum = tap ? 1u : 0u, .post = tap + 1u == taps ? 1u : 0u,
                                              .group = group, .wgt = wgt, .inp = inp, .acc = acc,
                                              .count0 = pl.ow, .count1 = rows, .inp_s0 = d->stride_w * gx,
                                              .inp_s1 = rows > 1 ? d->stride_h * pl.wp * gx : 0u, .acc_s0 = 1,
                                              .acc_s1 = rows > 1 ? pl.ow : 0u, .out = out, .out_s0 = 1,
                                              .out_s1 = rows > 1 ? pl.ow : 0u));
                pl.vectors += (uint64_t)pl.ow * rows;
                /* after the tile's first GEMM: the next tile's input (two slots); after a weight
                 * unit's first GEMM (two slots) or its last (one slot): the next unit */
                if (st == QMAC_OK && tap == 0 && o == 0 && pl.inp_slots == 2 && t + 1 < pl.tiles)
                    st = load_input(&pl, t + 1);
                const int unit_first = tap % pl.chunk == 0;
                const int unit_last = tap % pl.chunk + 1u == pl.chunk || tap + 1u == taps;
                if (st == QMAC_OK && !pl.resident && u + 1 < units &&
                    (pl.w_slots == 2 ? unit_first : unit_last))
                    st = load_weights(&pl, u + 1);
            }
            if (st == QMAC_OK && row_last)
                st = push(&pl, QMAC_INSN_STORE(.buf = QMAC_BUF_OUT,
                                               .dram = d->y_addr + ((oy0 * pl.ow) * pl.gyo + orow) * n,
                                               .sram = out, .x_size = pl.ow, .y_size = rows, .z_size = 1,
                                               .x_stride = pl.gyo * n, .y_stride = pl.ow * pl.gyo * n));
            /* one INP slot: the next tile's input only after this tile's last reader */
            if (st == QMAC_OK && o + 1 == pl.gy && pl.inp_slots == 1 && t + 1 < pl.tiles)
                st = load_input(&pl, t + 1);
        }
    }
    if (st == QMAC_OK)
        st = push(&pl, QMAC_INSN_END());
    if (st == QMAC_OK && info) {
        info->oh = pl.oh;
        info->ow = pl.ow;
        info->rows_per_tile = pl.rt;
        info->tiles = pl.tiles;
        info->inp_slots = pl.inp_slots;
        info->out_slots = pl.out_slots;
        info->weights_resident = pl.resident;
        info->n_insn = p->n_insn;
        info->vectors = pl.vectors;
        info->macs = (uint64_t)pl.oh * pl.ow * d->cout * d->kh * d->kw * (d->cin / conv_groups(d));
    }
    return st;
}
