/* test_add_prog.c - the element-wise add program (sw/src/add_prog.c): hand-derived ORT and TFLite
 * vectors (ties to even, saturation, zero points), then random adds under the three rules whose
 * emitted VALU program, run on the golden model over all 65536 input pairs, equals the reference
 * add exactly. The seed is printed; QMAC_SEED=S reproduces a run. */
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "qmac/accel.h"
#include "qmac/add_prog.h"
#include "qmac/kernels.h"
#include "qmac/prog.h"
#include "qmac/quant.h"
#include "qmac/requant.h"
#include "test_rng.h"

/* The reference add of one rule (what exec.c runs for a same-shape QLinearAdd / TFLite ADD). */
typedef struct {
    qmac_requant_rule rule;
    qmac_add_onnxrt_params po;
    qmac_add_tflite_params pt;
    int32_t lo, hi;
    double ra, rb, c;
    int requant; /* a concat's requantization of a (b ignored): float32 DQ, then Q half to even */
    float in_s, out_s;
    int32_t in_z, out_z;
} ref_add;

static int32_t ref_eval(const void *ctx, int32_t a, int32_t b)
{
    const ref_add *r = ctx;
    if (r->requant)
        return qmac_quantize_f32(qmac_dequantize_f32(a, r->in_s, r->in_z), r->out_s, r->out_z, r->lo, r->hi,
                                 QMAC_ROUND_HALF_EVEN);
    int32_t y = r->rule == QMAC_REQUANT_ONNXRT ? qmac_add_onnxrt_one(&r->po, a, b)
                                               : qmac_add_tflite_one(&r->pt, a, b);
    return y < r->lo ? r->lo : y > r->hi ? r->hi : y;
}

static void ref_init(ref_add *r, qmac_requant_rule rule, qmac_dtype dt, float sa, int32_t za, float sb,
                     int32_t zb, float sy, int32_t zy, int32_t lo, int32_t hi)
{
    memset(r, 0, sizeof *r);
    r->rule = rule;
    r->lo = lo;
    r->hi = hi;
    if (rule == QMAC_REQUANT_ONNXRT) {
        assert_int_equal(qmac_add_onnxrt_prepare(sa, za, sb, zb, sy, zy, dt, &r->po), QMAC_OK);
        r->ra = r->po.ratio_a;
        r->rb = r->po.ratio_b;
        r->c = r->po.bias;
    } else {
        assert_int_equal(qmac_add_tflite_prepare(sa, za, sb, zb, sy, zy, lo, hi, &r->pt), QMAC_OK);
        r->ra = (double)sa / sy;
        r->rb = (double)sb / sy;
        r->c = zy - za * r->ra - zb * r->rb;
    }
}

static qmac_status plan_of(const ref_add *r, qmac_dtype dt, qmac_add_plan *p)
{
    return qmac_add_plan_make(dt, dt, dt, r->lo, r->hi, r->ra, r->rb, r->c, ref_eval, r, p);
}

/* Run the emitted program on the golden model for every (a, b) pair of dt and compare with the
 * reference: INP rows hold the pairs N at a time, the program and its POST run instruction by
 * instruction, OUT is read back. */
static void check_on_golden(const qmac_hw_config *cfg, const ref_add *r, qmac_dtype dt,
                            const qmac_add_plan *p, const char *what)
{
    const uint32_t n = cfg->dim;
    const uint32_t rows = (cfg->acc_rows - 3) / QMAC_ADD_PROG_ACC_SETS < 4096u / n
                              ? (cfg->acc_rows - 3) / QMAC_ADD_PROG_ACC_SETS
                              : 4096u / n; /* rows per pass */
    qmac_accel *acc = NULL;
    assert_int_equal(qmac_accel_create(cfg, &acc), QMAC_OK);
    uint8_t *inp = qmac_accel_buffer(acc, QMAC_BUF_INP), *out = qmac_accel_buffer(acc, QMAC_BUF_OUT);
    uint8_t *accb = qmac_accel_buffer(acc, QMAC_BUF_ACC);
    const float pm = qmac_add_plan_post_mult(p);
    uint32_t bits;
    memcpy(&bits, &pm, 4);
    for (uint32_t l = 0; l < n; ++l) { /* PARAM rows 0..2: bias 0, multiplier pm, shift 0 */
        memset(accb + 4 * l, 0, 4);
        memcpy(accb + 4 * n + 4 * l, &bits, 4);
        memset(accb + 8 * n + 4 * l, 0, 4);
    }
    qmac_prog prog;
    qmac_prog_init(&prog);
    const uint32_t sgn = dt == QMAC_DT_INT8;
    assert_int_equal(qmac_prog_push(&prog, &QMAC_INSN_CONFIG(.rule = QMAC_RULE_FLOAT,
                                                             .omode = sgn ? QMAC_OMODE_S8 : QMAC_OMODE_U8,
                                                             .clamp_min = (uint32_t)p->lo & 0xffu,
                                                             .clamp_max = (uint32_t)p->hi & 0xffu)),
                     QMAC_OK);
    assert_int_equal(qmac_prog_push(&prog, &QMAC_INSN_PARAM(.acc = 0)), QMAC_OK);
    uint32_t yrow = 0;
    /* the same rows as a 2-D walk when rows splits in two: outer strides as wide as the inner loop */
    const uint32_t c1 = rows % 2 ? 1u : 2u;
    const qmac_add_walk walk = {0, rows / c1, rows, rows / c1, 3, rows / c1, c1};
    assert_int_equal(qmac_add_plan_emit(p, &walk, &prog, &yrow), QMAC_OK);
    assert_int_equal(qmac_prog_push(&prog, &QMAC_INSN_POST(.acc = yrow, .count0 = rows, .count1 = 1,
                                                           .acc_s0 = 1, .out_s0 = 1)),
                     QMAC_OK);
    const uint32_t total = 65536, per_pass = rows * n;
    const qmac_accel_mem mem = {NULL, 0, 0};
    for (uint32_t first = 0; first < total; first += per_pass) {
        for (uint32_t e = 0; e < per_pass; ++e) { /* pair first + e: a = high byte, b = low byte */
            const uint32_t k = (first + e) % total;
            inp[e] = (uint8_t)(k >> 8);
            inp[rows * n + e] = (uint8_t)k;
        }
        for (size_t i = 0; i < prog.n_insn; ++i) {
            qmac_insn in;
            const char *why = NULL;
            const qmac_window win = {0, 0};
            if (qmac_insn_check(qmac_prog_insn(&prog, i), cfg, &win, &in, &why) != QMAC_FAULT_NONE)
                fail_msg("%s: instruction %zu faults (%s) (seed %" PRIu64 ")", what, i, why ? why : "",
                         g_seed);
            assert_int_equal(qmac_accel_exec(acc, &in, &mem, NULL), QMAC_FAULT_NONE);
        }
        for (uint32_t e = 0; e < per_pass; ++e) {
            const uint32_t k = (first + e) % total;
            const int32_t a = sgn ? (int8_t)(k >> 8) : (int32_t)(k >> 8),
                          b = sgn ? (int8_t)k : (int32_t)(k & 0xff);
            const int32_t got = sgn ? (int8_t)out[e] : (int32_t)out[e], want = ref_eval(r, a, b);
            if (got != want || qmac_add_plan_eval(p, a, b) != want)
                fail_msg(
                    "%s: a %d b %d: golden %d, plan %d, reference %d (s %d, %d exceptions) (seed %" PRIu64
                    ")",
                    what, (int)a, (int)b, (int)got, (int)qmac_add_plan_eval(p, a, b), (int)want, (int)p->s,
                    (int)p->n_exc, g_seed);
        }
    }
    qmac_prog_free(&prog);
    qmac_accel_free(acc);
}

/* Hand-derived: ORT rounds half to even (1.5 -> 2, 2.5 -> 2, -0.5 -> 0), TFLite half away from
 * zero (2.5 -> 3, -0.5 -> -1), both saturate. */
static void test_add_prog_hand_vectors(void **state)
{
    (void)state;
    qmac_hw_config cfg;
    qmac_hw_config_default(&cfg);
    static const struct {
        qmac_requant_rule rule;
        qmac_dtype dt;
        float sa, sb, sy;
        int32_t za, zb, zy, a, b, want;
    } v[] = {
        /* y = rne((a + b) / 2): every odd a + b is a tie */
        {QMAC_REQUANT_ONNXRT, QMAC_DT_INT8, 0.5f, 0.5f, 1.0f, 0, 0, 0, 1, 0, 0},
        {QMAC_REQUANT_ONNXRT, QMAC_DT_INT8, 0.5f, 0.5f, 1.0f, 0, 0, 0, 3, 0, 2},
        {QMAC_REQUANT_ONNXRT, QMAC_DT_INT8, 0.5f, 0.5f, 1.0f, 0, 0, 0, 5, 0, 2},
        {QMAC_REQUANT_ONNXRT, QMAC_DT_INT8, 0.5f, 0.5f, 1.0f, 0, 0, 0, -1, 0, 0},
        {QMAC_REQUANT_ONNXRT, QMAC_DT_INT8, 0.5f, 0.5f, 1.0f, 0, 0, 0, -3, 0, -2},
        {QMAC_REQUANT_ONNXRT, QMAC_DT_INT8, 0.5f, 0.5f, 1.0f, 0, 0, 0, 127, 127, 127},
        /* y = sat(a + b): int8 both ways */
        {QMAC_REQUANT_ONNXRT, QMAC_DT_INT8, 1.0f, 1.0f, 1.0f, 0, 0, 0, 100, 100, 127},
        {QMAC_REQUANT_ONNXRT, QMAC_DT_INT8, 1.0f, 1.0f, 1.0f, 0, 0, 0, -100, -100, -128},
        {QMAC_REQUANT_ONNXRT, QMAC_DT_INT8, 1.0f, 1.0f, 1.0f, 0, 0, 0, 3, 4, 7},
        /* uint8 with zero points 128: y = a + b - 128 */
        {QMAC_REQUANT_ONNXRT, QMAC_DT_UINT8, 1.0f, 1.0f, 1.0f, 128, 128, 128, 200, 100, 172},
        {QMAC_REQUANT_ONNXRT, QMAC_DT_UINT8, 1.0f, 1.0f, 1.0f, 128, 128, 128, 250, 250, 255},
        {QMAC_REQUANT_ONNXRT, QMAC_DT_UINT8, 1.0f, 1.0f, 1.0f, 128, 128, 128, 0, 0, 0},
        /* TFLite: y = round-half-away((a + b) / 2) */
        {QMAC_REQUANT_TFLITE, QMAC_DT_INT8, 0.5f, 0.5f, 1.0f, 0, 0, 0, 5, 0, 3},
        {QMAC_REQUANT_TFLITE, QMAC_DT_INT8, 0.5f, 0.5f, 1.0f, 0, 0, 0, -1, 0, -1},
        {QMAC_REQUANT_TFLITE, QMAC_DT_INT8, 0.5f, 0.5f, 1.0f, 0, 0, 0, 2, 2, 2},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; ++i) {
        int32_t lo, hi;
        qmac_dtype_range(v[i].dt, &lo, &hi);
        ref_add r;
        ref_init(&r, v[i].rule, v[i].dt, v[i].sa, v[i].za, v[i].sb, v[i].zb, v[i].sy, v[i].zy, lo, hi);
        assert_int_equal(ref_eval(&r, v[i].a, v[i].b), v[i].want);
        qmac_add_plan p;
        if (plan_of(&r, v[i].dt, &p) != QMAC_OK)
            fail_msg("vector %zu: %s", i, qmac_last_error());
        assert_int_equal(qmac_add_plan_eval(&p, v[i].a, v[i].b), v[i].want);
        if (i == 0 || i == 9 || i == 12)
            check_on_golden(&cfg, &r, v[i].dt, &p, "hand vector");
    }
}

/* Random adds: scales over two decades, random zero points, fused clamps; ORT and TFLite rules;
 * int8 and uint8; both builds. */
static void test_add_prog_random(void **state)
{
    (void)state;
    qmac_hw_config cfgs[2];
    qmac_hw_config_default(&cfgs[0]);
    qmac_hw_config_small(&cfgs[1]);
    int exc_total = 0;
    for (int it = 0; it < 24; ++it) {
        const qmac_requant_rule rule = it % 3 == 2 ? QMAC_REQUANT_TFLITE : QMAC_REQUANT_ONNXRT;
        const qmac_dtype dt = rule == QMAC_REQUANT_TFLITE || it % 2 ? QMAC_DT_INT8 : QMAC_DT_UINT8;
        int32_t qmin, qmax;
        qmac_dtype_range(dt, &qmin, &qmax);
        const float sa = frand(0.005f, 0.5f), sb = frand(0.005f, 0.5f), sy = frand(0.01f, 1.0f);
        const int32_t za = qmin + (int32_t)urand(256), zb = qmin + (int32_t)urand(256),
                      zy = qmin + (int32_t)urand(256);
        int32_t lo = qmin, hi = qmax;
        if (urand(3) == 0) /* a fused ReLU */
            lo = zy;
        ref_add r;
        ref_init(&r, rule, dt, sa, za, sb, zb, sy, zy, lo, hi);
        qmac_add_plan p;
        char what[160];
        snprintf(what, sizeof what, "%s %s sa %g za %d sb %g zb %d sy %g zy %d clamp [%d, %d]",
                 qmac_requant_rule_name(rule), qmac_dtype_name(dt), (double)sa, (int)za, (double)sb, (int)zb,
                 (double)sy, (int)zy, (int)lo, (int)hi);
        if (plan_of(&r, dt, &p) != QMAC_OK)
            fail_msg("%s: %s (seed %" PRIu64 ")", what, qmac_last_error(), g_seed);
        exc_total += p.n_exc;
        check_on_golden(&cfgs[it % 2], &r, dt, &p, what);
    }
    printf("test_add_prog: 24 random adds exact on all pairs, %d corrected pairs in all\n", exc_total);
}

/* A requantizing concat's input as a one-input program (rb = 0): hand-picked ratios (1 with a
 * shifted zero point: saturation; 1/2 and 3/2 with power-of-two scales: exact ties, to even; 2;
 * 1000: nearly all saturate; 1e-4: all collapse to the zero point) and random ones, exact on the
 * golden model over all codes. 0.1 -> 0.2 is refused: float32's rounding of the dequantized value
 * breaks each of the 128 ties its own way, too many to correct one by one. */
static void test_add_prog_requant(void **state)
{
    (void)state;
    qmac_hw_config cfg;
    qmac_hw_config_default(&cfg);
    const float hand[][2] = {{0.1f, 0.1f}, {0.125f, 0.25f}, {0.375f, 0.25f},
                             {0.2f, 0.1f}, {1.0f, 0.001f},  {0.0001f, 1.0f}};
    int exc_total = 0;
    for (int it = 0; it < 30; ++it) {
        const qmac_dtype dt = it % 2 ? QMAC_DT_INT8 : QMAC_DT_UINT8;
        ref_add r;
        memset(&r, 0, sizeof r);
        r.requant = 1;
        qmac_dtype_range(dt, &r.lo, &r.hi);
        if (it < 12) {
            r.in_s = hand[it / 2][0];
            r.out_s = hand[it / 2][1];
            r.in_z = r.lo + 128 + (it < 2 ? 0 : it * 7 % 40 - 20);
            r.out_z = r.lo + 128 + (it < 2 ? 37 : 0);
        } else {
            r.in_s = frand(0.005f, 0.5f);
            r.out_s = frand(0.005f, 0.5f);
            r.in_z = r.lo + (int32_t)urand(256);
            r.out_z = r.lo + (int32_t)urand(256);
        }
        r.ra = (double)r.in_s / r.out_s;
        r.c = r.out_z - r.in_z * r.ra;
        char what[120];
        snprintf(what, sizeof what, "requant %s scale %g zp %d -> scale %g zp %d", qmac_dtype_name(dt),
                 (double)r.in_s, (int)r.in_z, (double)r.out_s, (int)r.out_z);
        qmac_add_plan p;
        if (plan_of(&r, dt, &p) != QMAC_OK)
            fail_msg("%s: %s (seed %" PRIu64 ")", what, qmac_last_error(), g_seed);
        assert_int_equal(p.mult[1], 0);
        exc_total += p.n_exc;
        check_on_golden(&cfg, &r, dt, &p, what);
    }
    ref_add h = {.requant = 1, .in_s = 0.1f, .out_s = 0.2f, .in_z = 128, .out_z = 128, .lo = 0, .hi = 255};
    h.ra = 0.5;
    h.c = 64;
    qmac_add_plan p;
    assert_int_equal(plan_of(&h, QMAC_DT_UINT8, &p), QMAC_ERR_UNSUPPORTED);
    /* hand values at ratio 1/2, zero points 128 (uint8): ties to even */
    h.in_s = 0.125f;
    h.out_s = 0.25f;
    assert_int_equal(ref_eval(&h, 129, 0), 128); /* 0.5 -> 0 */
    assert_int_equal(ref_eval(&h, 131, 0), 130); /* 1.5 -> 2 */
    assert_int_equal(ref_eval(&h, 133, 0), 130); /* 2.5 -> 2 */
    assert_int_equal(ref_eval(&h, 127, 0), 128); /* -0.5 -> 0 */
    printf("test_add_prog: 30 concat requantizations exact on all codes, %d corrected codes in all\n",
           exc_total);
}

/* Two ORT adds whose affine program misses pairs (found by a search over random scales): the
 * correction steps run on the golden model too. */
static void test_add_prog_corrected(void **state)
{
    (void)state;
    qmac_hw_config cfg;
    qmac_hw_config_default(&cfg);
    static const struct {
        qmac_dtype dt;
        float sa, sb, sy;
        int32_t za, zb, zy;
    } v[] = {
        {QMAC_DT_INT8, 0.187437892f, 0.0990152135f, 0.3232373f, 53, -9, 38},
        {QMAC_DT_UINT8, 0.165268674f, 0.0268841125f, 0.310078532f, 244, 125, 127},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; ++i) {
        int32_t lo, hi;
        qmac_dtype_range(v[i].dt, &lo, &hi);
        ref_add r;
        ref_init(&r, QMAC_REQUANT_ONNXRT, v[i].dt, v[i].sa, v[i].za, v[i].sb, v[i].zb, v[i].sy, v[i].zy, lo,
                 hi);
        qmac_add_plan p;
        assert_int_equal(plan_of(&r, v[i].dt, &p), QMAC_OK);
        assert_true(p.n_exc >= 1);
        check_on_golden(&cfg, &r, v[i].dt, &p, "corrected");
        /* the same with the explicit key a * 512 + b */
        p.keyed = 1;
        int32_t alo, ahi;
        qmac_dtype_range(v[i].dt, &alo, &ahi);
        for (int32_t e = 0; e < p.n_exc; ++e) {
            int found = 0;
            for (int32_t a = alo; a <= ahi && !found; ++a)
                for (int32_t b = alo; b <= ahi && !found; ++b) {
                    qmac_add_plan q = p;
                    q.keyed = 0;
                    q.n_exc = 0;
                    const int32_t pa = qmac_mbqm(a, q.mult[0], q.shift[0]),
                                  qb = qmac_mbqm(b, q.mult[1], q.shift[1]);
                    if ((int32_t)((uint32_t)pa + (uint32_t)qb + (uint32_t)q.bias) == p.exc_key[e]) {
                        p.exc_key[e] = a * 512 + b;
                        found = 1;
                    }
                }
            assert_true(found);
        }
        check_on_golden(&cfg, &r, v[i].dt, &p, "corrected, keyed");
    }
}

/* An add no affine program follows (every other pair off by more than the table holds) is refused
 * with the count. */
static void test_add_prog_refuses(void **state)
{
    (void)state;
    ref_add r;
    ref_init(&r, QMAC_REQUANT_ONNXRT, QMAC_DT_INT8, 0.1f, 0, 0.1f, 0, 0.1f, 0, -128, 127);
    qmac_add_plan p;
    /* a wrong approximation (b's ratio 0): thousands of pairs differ */
    assert_int_equal(qmac_add_plan_make(QMAC_DT_INT8, QMAC_DT_INT8, QMAC_DT_INT8, -128, 127, r.ra, 0.0, r.c,
                                        ref_eval, &r, &p),
                     QMAC_ERR_UNSUPPORTED);
    assert_non_null(strstr(qmac_last_error(), "corrected input pairs"));
    assert_int_equal(qmac_add_plan_make(QMAC_DT_INT32, QMAC_DT_INT8, QMAC_DT_INT8, -128, 127, 1.0, 1.0, 0.0,
                                        ref_eval, &r, &p),
                     QMAC_ERR_INVALID_ARG);
    assert_int_equal(qmac_add_plan_make(QMAC_DT_INT8, QMAC_DT_INT8, QMAC_DT_INT8, -128, 127, -1.0, 1.0, 0.0,
                                        ref_eval, &r, &p),
                     QMAC_ERR_INVALID_ARG);
}

int main(void)
{
    test_rng_init("test_add_prog");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_add_prog_hand_vectors), cmocka_unit_test(test_add_prog_random),
        cmocka_unit_test(test_add_prog_corrected),    cmocka_unit_test(test_add_prog_requant),
        cmocka_unit_test(test_add_prog_refuses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
