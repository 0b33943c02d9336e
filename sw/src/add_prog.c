/* add_prog.c - element-wise functions of two 8-bit tensors on the vector unit, proven exact over all
 * input pairs (add_prog.h). */
#include "qmac/add_prog.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "qmac/requant.h"

/* Every step wraps modulo 2^32, as the vector unit's lanes do. */
static int32_t wrap_add(int32_t x, int32_t y)
{
    return (int32_t)((uint32_t)x + (uint32_t)y);
}

static int32_t clamp1(int32_t t)
{
    return t < -1 ? -1 : t > 1 ? 1 : t;
}

/* Y before the exceptions: floor(V / 2^s), or V itself when POST rounds; *v gets V. */
static int32_t base_eval(const qmac_add_plan *p, int32_t a, int32_t b, int32_t *v)
{
    const int32_t pa = qmac_mbqm(a, p->mult[0], p->shift[0]), qb = qmac_mbqm(b, p->mult[1], p->shift[1]);
    *v = wrap_add(wrap_add(pa, qb), p->bias);
    switch (p->round) {
    case QMAC_ADD_ROUND_EVEN: return *v;
    case QMAC_ADD_ROUND_AWAY: return qmac_rdbpot(*v, p->s); /* the VALU's SHRR */
    default: return *v >> p->s;                             /* arithmetic (the VALU's SHR) */
    }
}

/* A correction of d outputs in Y's units. */
static int32_t unit(const qmac_add_plan *p, int32_t d)
{
    return p->round == QMAC_ADD_ROUND_EVEN ? (int32_t)((uint32_t)d << p->s) : d;
}

static int32_t key_of(const qmac_add_plan *p, int32_t a, int32_t b, int32_t v)
{
    return p->keyed ? a * 512 + b : v;
}

float qmac_add_plan_post_mult(const qmac_add_plan *p)
{
    return p->round == QMAC_ADD_ROUND_EVEN ? ldexpf(1.0f, -p->s) : 1.0f;
}

static int32_t finish(const qmac_add_plan *p, int32_t y)
{
    return qmac_requant_float(y, qmac_add_plan_post_mult(p), 0, p->lo, p->hi);
}

/* The output before the clamp (d = want - this corrects a pair). */
static int32_t unclamped(const qmac_add_plan *p, int32_t y)
{
    return p->round == QMAC_ADD_ROUND_EVEN ? (int32_t)lrint(ldexp((double)y, -p->s)) : y;
}

int32_t qmac_add_plan_eval(const qmac_add_plan *p, int32_t a, int32_t b)
{
    int32_t v;
    int32_t y = base_eval(p, a, b, &v);
    const int32_t key = key_of(p, a, b, v);
    int32_t sum = 0;
    for (int32_t e = 0; e < p->n_exc; ++e) {
        const int32_t t = clamp1(wrap_add(key, (int32_t)(0u - (uint32_t)p->exc_key[e])));
        y = wrap_add(y, (int32_t)(0u - (uint32_t)unit(p, p->exc_d[e]) * (uint32_t)(t * t)));
        sum = wrap_add(sum, unit(p, p->exc_d[e]));
    }
    return finish(p, wrap_add(y, sum));
}

/* ------------------------------------------------------------------ planning */

typedef struct {
    int32_t key, d;
} exc;

static int by_key(const void *x, const void *y)
{
    const exc *a = x, *b = y;
    return (a->key > b->key) - (a->key < b->key);
}

static const exc *find_exc(const exc *e, int32_t n, int32_t key)
{
    const exc k = {key, 0};
    return bsearch(&k, e, (size_t)n, sizeof *e, by_key);
}

/* The exceptions of a base (mult, shift, bias, s, keyed filled in): every pair whose base result
 * differs from f, grouped by key; -1 when a key would need two different corrections (V does not
 * tell those pairs apart) or there are more than max. */
static int32_t exceptions(qmac_add_plan *p, qmac_pair_fn f, const void *ctx, int32_t max, int32_t *needed)
{
    int32_t alo, ahi, blo, bhi;
    qmac_dtype_range(p->dt_a, &alo, &ahi);
    qmac_dtype_range(p->dt_b, &blo, &bhi);
    exc e[QMAC_ADD_PROG_MAX_EXC + 1];
    int32_t n = 0, count = 0;
    for (int32_t a = alo; a <= ahi; ++a)
        for (int32_t b = blo; b <= bhi; ++b) {
            int32_t v;
            const int32_t y = base_eval(p, a, b, &v), want = f(ctx, a, b);
            if (finish(p, y) == want)
                continue;
            const int32_t key = key_of(p, a, b, v), d = want - unclamped(p, y);
            int32_t k = 0;
            while (k < n && e[k].key != key)
                ++k;
            if (k < n) {
                if (e[k].d != d && finish(p, wrap_add(y, unit(p, e[k].d))) != want)
                    return -1;
                continue;
            }
            ++count;
            if (n < max)
                e[n++] = (exc){key, d};
        }
    *needed = count;
    if (count > max)
        return count;
    /* a key shared with a pair the base gets right must not disturb it */
    qsort(e, (size_t)n, sizeof *e, by_key);
    for (int32_t a = alo; a <= ahi; ++a)
        for (int32_t b = blo; b <= bhi; ++b) {
            int32_t v;
            const int32_t y = base_eval(p, a, b, &v);
            const exc *x = find_exc(e, n, key_of(p, a, b, v));
            if (x && finish(p, wrap_add(y, unit(p, x->d))) != f(ctx, a, b))
                return -1;
        }
    p->n_exc = n;
    for (int32_t k = 0; k < n; ++k) {
        p->exc_key[k] = e[k].key;
        p->exc_d[k] = e[k].d;
    }
    return n;
}

/* MBQM multiplier and shift for r * 2^s: 0 when r * 2^s underflows MBQM's 2^-31 grain. */
static int term(double r, int32_t *mult, int32_t *shift)
{
    if (qmac_quantize_multiplier(r, QMAC_REQUANT_TFLITE, mult, shift) != QMAC_OK)
        return 0;
    return *shift <= 31 && *shift >= -31;
}

qmac_status qmac_add_plan_make(qmac_dtype dt_a, qmac_dtype dt_b, qmac_dtype dt_y, int32_t lo, int32_t hi,
                               double ra, double rb, double c, qmac_pair_fn f, const void *ctx,
                               qmac_add_plan *plan)
{
    if (!plan || !f)
        return qmac_set_error(QMAC_ERR_INVALID_ARG, "add plan: NULL argument");
    int32_t alo, ahi, blo, bhi, ylo, yhi;
    if (!qmac_dtype_range(dt_a, &alo, &ahi) || !qmac_dtype_range(dt_b, &blo, &bhi) ||
        !qmac_dtype_range(dt_y, &ylo, &yhi) || ahi - alo != 255 || bhi - blo != 255 || yhi - ylo != 255)
        return qmac_set_error(QMAC_ERR_INVALID_ARG, "add plan: types %s, %s -> %s must be int8 or uint8",
                              qmac_dtype_name(dt_a), qmac_dtype_name(dt_b), qmac_dtype_name(dt_y));
    if (lo < ylo || hi > yhi || lo > hi)
        return qmac_set_error(QMAC_ERR_INVALID_ARG, "add plan: clamp [%d, %d] outside %s", (int)lo, (int)hi,
                              qmac_dtype_name(dt_y));
    if (!isfinite(ra) || !isfinite(rb) || !isfinite(c) || ra < 0 || rb < 0)
        return qmac_set_error(QMAC_ERR_INVALID_ARG, "add plan: ratios %g, %g and offset %g", ra, rb, c);
    /* s: the largest with |x + 1/2| 2^s < 2^30 over the corners (x is affine in a and b) */
    double xmax = 1.0;
    for (int k = 0; k < 4; ++k) {
        const double x = (k & 1 ? ahi : alo) * ra + (k & 2 ? bhi : blo) * rb + c + 0.5;
        xmax = fmax(xmax, fabs(x));
    }
    int32_t s = (int32_t)floor(30.0 - log2(xmax));
    s = s > 30 ? 30 : s;
    if (s < 0)
        return qmac_set_error(QMAC_ERR_UNSUPPORTED, "add plan: outputs up to %g do not fit int32", xmax);
    qmac_add_plan best;
    int32_t best_n = -1, fewest = INT32_MAX;
    /* floor first, then ties away from zero (both at full precision), then POST's round half to
     * even (|V| < 2^24): exact ties need the framework's rule */
    for (int round = 0; round < 3 && best_n != 0; ++round)
        for (int32_t ss = round == QMAC_ADD_ROUND_EVEN ? s - 6 : s;
             ss >= (round == QMAC_ADD_ROUND_EVEN ? s - 9 : s - 3) && ss >= 0 && best_n != 0; --ss)
            for (int keyed = 0; keyed < 2; ++keyed) {
                qmac_add_plan p;
                memset(&p, 0, sizeof p);
                p.dt_a = dt_a;
                p.dt_b = dt_b;
                p.dt_y = dt_y;
                p.lo = lo;
                p.hi = hi;
                p.s = ss;
                p.round = round;
                p.keyed = keyed;
                p.bias = (int32_t)llround((c + (round == QMAC_ADD_ROUND_FLOOR ? 0.5 : 0.0)) * ldexp(1.0, ss));
                if (!term(ra * ldexp(1.0, ss), &p.mult[0], &p.shift[0]) ||
                    !term(rb * ldexp(1.0, ss), &p.mult[1], &p.shift[1]))
                    continue;
                int32_t needed = 0;
                const int32_t n = exceptions(&p, f, ctx, QMAC_ADD_PROG_MAX_EXC, &needed);
                if (n >= 0 && n <= QMAC_ADD_PROG_MAX_EXC && (best_n < 0 || n < best_n)) {
                    best = p;
                    best_n = n;
                }
                if (n >= 0 && needed < fewest)
                    fewest = needed;
                if (n >= 0) /* V told the pairs apart: no need for the explicit key */
                    break;
            }
    if (best_n < 0)
        return qmac_set_error(QMAC_ERR_UNSUPPORTED,
                              fewest == INT32_MAX
                                  ? "no vector-unit program matches the add on all 65536 input pairs"
                                  : "the add's best vector-unit program needs %d corrected input pairs (at "
                                    "most %d are built)",
                              (int)fewest, QMAC_ADD_PROG_MAX_EXC);
    *plan = best;
    return QMAC_OK;
}

/* ------------------------------------------------------------------ emitting */

uint32_t qmac_add_plan_valu_ops(const qmac_add_plan *p)
{
    uint32_t ops = 5; /* MBQM, MBQM, ADD, ADD imm, SHR */
    if (p->n_exc > 0)
        ops += (p->keyed ? 2u : 0u) + 1u; /* the key; the final ADD of the sum */
    for (int32_t e = 0; e < p->n_exc; ++e)
        ops += 5u + (unit(p, p->exc_d[e]) == 1 || unit(p, p->exc_d[e]) == -1 ? 0u : 1u);
    return ops;
}

/* One VALU over the walk: loops count1 x count0, A's outer stride a_s1, ACC rows contiguous. */
static qmac_status valu(qmac_prog *prog, const qmac_add_walk *w, uint32_t a_s1, qmac_insn in)
{
    qmac_insn_valu *v = &in.u.valu;
    v->count0 = w->count0;
    v->count1 = w->count1;
    v->a_s0 = v->dst_s0 = v->b_s0 = 1;
    v->a_s1 = a_s1;
    v->dst_s1 = v->b_s1 = w->count0;
    return qmac_prog_push(prog, &in);
}

qmac_status qmac_add_plan_emit(const qmac_add_plan *p, const qmac_add_walk *w, qmac_prog *prog,
                               uint32_t *y_row)
{
    const uint32_t sa = p->dt_a == QMAC_DT_INT8, sb = p->dt_b == QMAC_DT_INT8;
    const uint32_t rows = w->count0 * w->count1, c0 = w->count0;
    const uint32_t rv = w->acc, rt = w->acc + rows, ry = w->acc + 2 * rows;
    qmac_status st = QMAC_OK;
    /* every ACC operand walks its rows contiguously: (i1, i0) -> i1 count0 + i0; A from INP walks
     * the operand's own outer stride */
#define VALU(a_s1_, ...)                                                                                     \
    do {                                                                                                     \
        if (st == QMAC_OK)                                                                                   \
            st = valu(prog, w, (a_s1_), QMAC_INSN_VALU(__VA_ARGS__));                                        \
    } while (0)
    VALU(w->a_s1, .alu = QMAC_ALU_MBQM, .b_imm = 1, .a_buf = QMAC_ABUF_INP, .a_signed = sa, .a = w->ia,
         .dst = rv, .imm = (uint32_t)p->mult[0], .shift = p->shift[0]);
    VALU(w->b_s1, .alu = QMAC_ALU_MBQM, .b_imm = 1, .a_buf = QMAC_ABUF_INP, .a_signed = sb, .a = w->ib,
         .dst = rt, .imm = (uint32_t)p->mult[1], .shift = p->shift[1]);
    VALU(c0, .alu = QMAC_ALU_ADD, .a = rv, .b = rt, .dst = rv);
    VALU(c0, .alu = QMAC_ALU_ADD, .b_imm = 1, .a = rv, .dst = rv, .imm = (uint32_t)p->bias);
    VALU(c0, .alu = p->round == QMAC_ADD_ROUND_AWAY ? QMAC_ALU_SHRR : QMAC_ALU_SHR, .b_imm = 1, .a = rv,
         .dst = ry, .imm = p->round == QMAC_ADD_ROUND_EVEN ? 0u : (uint32_t)p->s);
    if (p->n_exc > 0 && p->keyed) { /* V's rows become the key a * 512 + b */
        VALU(w->a_s1, .alu = QMAC_ALU_MUL, .b_imm = 1, .a_buf = QMAC_ABUF_INP, .a_signed = sa, .a = w->ia,
             .dst = rv, .imm = 512u);
        VALU(w->b_s1, .alu = QMAC_ALU_ADD, .a_buf = QMAC_ABUF_INP, .a_signed = sb, .a = w->ib, .b = rv,
             .dst = rv);
    }
    uint32_t sum = 0;
    for (int32_t e = 0; e < p->n_exc; ++e) {
        const int32_t d = unit(p, p->exc_d[e]);
        VALU(c0, .alu = QMAC_ALU_ADD, .b_imm = 1, .a = rv, .dst = rt, .imm = 0u - (uint32_t)p->exc_key[e]);
        VALU(c0, .alu = QMAC_ALU_MAX, .b_imm = 1, .a = rt, .dst = rt, .imm = 0xffffffffu);
        VALU(c0, .alu = QMAC_ALU_MIN, .b_imm = 1, .a = rt, .dst = rt, .imm = 1u);
        VALU(c0, .alu = QMAC_ALU_MUL, .a = rt, .b = rt, .dst = rt);
        if (d != 1 && d != -1)
            VALU(c0, .alu = QMAC_ALU_MUL, .b_imm = 1, .a = rt, .dst = rt, .imm = (uint32_t)d);
        VALU(c0, .alu = d == -1 ? QMAC_ALU_ADD : QMAC_ALU_SUB, .a = ry, .b = rt, .dst = ry);
        sum += (uint32_t)d;
    }
    if (p->n_exc > 0)
        VALU(c0, .alu = QMAC_ALU_ADD, .b_imm = 1, .a = ry, .dst = ry, .imm = sum);
#undef VALU
    *y_row = ry;
    return st;
}
