/* test_requant.c - hand-derived edge vectors for sw/src/requant.c (QuantizeMultiplier, SRDHM,
 * RDBPOT, MBQM, single rounding, float32 rule C) and a random differential test of MBQM against an
 * independent __int128 formulation written here. Seed: printed; override with QMAC_SEED=<n>. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "qmac/requant.h"

#define P2(e) ((int32_t)(INT64_C(1) << (e)))

static void check_qm(double m, qmac_requant_rule rule, int32_t want_qm, int32_t want_shift)
{
    int32_t qm = -7, shift = -7;
    assert_int_equal(qmac_quantize_multiplier(m, rule, &qm, &shift), QMAC_OK);
    if (qm != want_qm || shift != want_shift)
        print_error("QuantizeMultiplier(%a): got (%d, %d), want (%d, %d)\n", m, (int)qm, (int)shift,
                    (int)want_qm, (int)want_shift);
    assert_int_equal(qm, want_qm);
    assert_int_equal(shift, want_shift);
}

/* ---------------------------------------------------------------- QuantizeMultiplier */

static void test_requant_qm_powers_of_two(void **state)
{
    (void)state;
    check_qm(1.0, QMAC_REQUANT_TFLITE, P2(30), 1); /* frexp(1) = 0.5 * 2^1 */
    check_qm(0.5, QMAC_REQUANT_TFLITE, P2(30), 0); /* 0.5 * 2^0 */
    check_qm(0.25, QMAC_REQUANT_TFLITE, P2(30), -1);
    check_qm(ldexp(1.0, -32), QMAC_REQUANT_TFLITE, P2(30), -31); /* 0.5 * 2^-31: the last kept shift */
    check_qm(1.0, QMAC_REQUANT_SINGLE, P2(30), 1);
}

static void test_requant_qm_flush_to_zero(void **state)
{
    (void)state;
    check_qm(ldexp(1.0, -33), QMAC_REQUANT_TFLITE, 0, 0); /* shift -32 < -31 */
    check_qm(1e-10, QMAC_REQUANT_TFLITE, 0, 0);           /* ~2^-33.2 */
    check_qm(0.0, QMAC_REQUANT_TFLITE, 0, 0);
    check_qm(0.0, QMAC_REQUANT_SINGLE, 0, 0);
}

static void test_requant_qm_carry(void **state)
{
    (void)state;
    /* 1 - 2^-33: q * 2^31 = 2^31 - 0.25 rounds to 2^31 -> halve and bump the shift */
    check_qm(1.0 - ldexp(1.0, -33), QMAC_REQUANT_TFLITE, P2(30), 1);
    /* 0.5 + 2^-32: q * 2^31 = 2^30 + 0.5, a tie, rounds away from zero */
    check_qm(0.5 + ldexp(1.0, -32), QMAC_REQUANT_TFLITE, P2(30) + 1, 0);
    /* 0.75 -> 0.75 * 2^31 exactly */
    check_qm(0.75, QMAC_REQUANT_TFLITE, 1610612736, 0);
    /* negative multiplier (rule A only): -0.75 -> round(-0.75 * 2^31) */
    check_qm(-0.75, QMAC_REQUANT_TFLITE, -1610612736, 0);
}

static void test_requant_qm_rule_b_saturates(void **state)
{
    (void)state;
    check_qm(ldexp(1.0, 30), QMAC_REQUANT_TFLITE, P2(30), 31);    /* 0.5 * 2^31 */
    check_qm(ldexp(1.0, 30), QMAC_REQUANT_SINGLE, INT32_MAX, 30); /* shift 31 > 30 saturates */
    check_qm(ldexp(1.0, 29), QMAC_REQUANT_SINGLE, P2(30), 30);    /* shift 30 is kept */
    check_qm(1e30, QMAC_REQUANT_SINGLE, INT32_MAX, 30);
}

static void test_requant_qm_errors(void **state)
{
    (void)state;
    int32_t qm, sh;
    assert_int_equal(qmac_quantize_multiplier(ldexp(1.0, 31), QMAC_REQUANT_TFLITE, &qm, &sh),
                     QMAC_ERR_INVALID_ARG); /* shift 32 */
    assert_int_equal(qmac_quantize_multiplier(-0.5, QMAC_REQUANT_SINGLE, &qm, &sh), QMAC_ERR_INVALID_ARG);
    assert_int_equal(qmac_quantize_multiplier(NAN, QMAC_REQUANT_TFLITE, &qm, &sh), QMAC_ERR_INVALID_ARG);
    assert_int_equal(qmac_quantize_multiplier(INFINITY, QMAC_REQUANT_TFLITE, &qm, &sh), QMAC_ERR_INVALID_ARG);
    assert_int_equal(qmac_quantize_multiplier(0.5, QMAC_REQUANT_ONNXRT, &qm, &sh), QMAC_ERR_INVALID_ARG);
}

/* ---------------------------------------------------------------- SRDHM */

static void test_requant_srdhm_saturation(void **state)
{
    (void)state;
    assert_int_equal(qmac_srdhm(INT32_MIN, INT32_MIN), INT32_MAX);
    /* INT32_MIN * INT32_MAX / 2^31 = -(2^31 - 1) exactly: no rounding */
    assert_int_equal(qmac_srdhm(INT32_MIN, INT32_MAX), -INT32_MAX);
    /* (2^31-1)^2 / 2^31 = 2^31 - 2 + 2^-31 -> 2^31 - 2 */
    assert_int_equal(qmac_srdhm(INT32_MAX, INT32_MAX), INT32_MAX - 1);
}

static void test_requant_srdhm_ties(void **state)
{
    (void)state;
    /* b = 2^30 halves a: ties go up (toward +inf) for both signs: nudge 2^30 vs 1 - 2^30 */
    assert_int_equal(qmac_srdhm(1, P2(30)), 1);   /* 0.5 -> 1   */
    assert_int_equal(qmac_srdhm(-1, P2(30)), 0);  /* -0.5 -> 0  */
    assert_int_equal(qmac_srdhm(3, P2(30)), 2);   /* 1.5 -> 2   */
    assert_int_equal(qmac_srdhm(-3, P2(30)), -1); /* -1.5 -> -1 */
    assert_int_equal(qmac_srdhm(5, P2(30)), 3);   /* 2.5 -> 3   */
    assert_int_equal(qmac_srdhm(-5, P2(30)), -2); /* -2.5 -> -2 */
    assert_int_equal(qmac_srdhm(6, P2(30)), 3);   /* exact      */
    assert_int_equal(qmac_srdhm(-6, P2(30)), -3);
}

static void test_requant_srdhm_nudge_signs(void **state)
{
    (void)state;
    /* b = 3 * 2^28 (0.375): a = 4 -> 1.5 -> 2; a = -4 -> -1.5 -> -1; a = 3 -> 1.125 -> 1;
     * a = -3 -> -1.125 -> -1; a = 5 -> 1.875 -> 2; a = -5 -> -1.875 -> -2 */
    const int32_t b = 3 * P2(28);
    assert_int_equal(qmac_srdhm(4, b), 2);
    assert_int_equal(qmac_srdhm(-4, b), -1);
    assert_int_equal(qmac_srdhm(3, b), 1);
    assert_int_equal(qmac_srdhm(-3, b), -1);
    assert_int_equal(qmac_srdhm(5, b), 2);
    assert_int_equal(qmac_srdhm(-5, b), -2);
    /* negative multiplier, positive a: same rule (sign of the product decides the nudge) */
    assert_int_equal(qmac_srdhm(3, -P2(30)), -1);
    assert_int_equal(qmac_srdhm(-3, -P2(30)), 2);
}

/* ---------------------------------------------------------------- RDBPOT */

static void test_requant_rdbpot_ties_e1(void **state)
{
    (void)state;
    assert_int_equal(qmac_rdbpot(1, 1), 1);   /* 0.5 -> 1  */
    assert_int_equal(qmac_rdbpot(-1, 1), -1); /* -0.5 -> -1 */
    assert_int_equal(qmac_rdbpot(3, 1), 2);
    assert_int_equal(qmac_rdbpot(-3, 1), -2);
    assert_int_equal(qmac_rdbpot(2, 1), 1);
    assert_int_equal(qmac_rdbpot(-2, 1), -1);
    assert_int_equal(qmac_rdbpot(0, 1), 0);
    assert_int_equal(qmac_rdbpot(7, 0), 7);
    assert_int_equal(qmac_rdbpot(-7, 0), -7);
}

static void test_requant_rdbpot_ties_e31(void **state)
{
    (void)state;
    assert_int_equal(qmac_rdbpot(P2(30), 31), 1);       /* 0.5         */
    assert_int_equal(qmac_rdbpot(-P2(30), 31), -1);     /* -0.5        */
    assert_int_equal(qmac_rdbpot(P2(30) - 1, 31), 0);   /* just below  */
    assert_int_equal(qmac_rdbpot(-P2(30) + 1, 31), 0);  /* just above  */
    assert_int_equal(qmac_rdbpot(-P2(30) - 1, 31), -1); /* just below -0.5 */
    assert_int_equal(qmac_rdbpot(INT32_MAX, 31), 1);
    assert_int_equal(qmac_rdbpot(INT32_MIN, 31), -1); /* exactly -1 */
}

/* ---------------------------------------------------------------- MBQM (rule A) */

static void test_requant_mbqm_shift_extremes(void **state)
{
    (void)state;
    /* shift +31: x << 31 wraps (1 -> INT32_MIN), then * 0.5 */
    assert_int_equal(qmac_mbqm(1, P2(30), 31), -P2(30));
    /* shift +1 with qm = 2^30: x * 2 * 0.5 = x */
    assert_int_equal(qmac_mbqm(12345, P2(30), 1), 12345);
    assert_int_equal(qmac_mbqm(-12345, P2(30), 1), -12345);
    /* shift -31: qm ~ 1 -> x * 2^-31 (~1 for INT32_MAX) */
    assert_int_equal(qmac_mbqm(INT32_MAX, INT32_MAX, -31), 1);
    assert_int_equal(qmac_mbqm(INT32_MIN, INT32_MAX, -31), -1);
    assert_int_equal(qmac_mbqm(P2(30), P2(30), -31), 0);     /* 2^29 / 2^31 = 0.25 */
    assert_int_equal(qmac_mbqm(INT32_MIN, P2(30), -31), -1); /* SRDHM = -2^30, / 2^31 = -0.5 -> away */
}

static void test_requant_mbqm_multiplier_near_one_and_zero(void **state)
{
    (void)state;
    /* qm = 2^31 - 1 (1 - 2^-31), shift 0 */
    assert_int_equal(qmac_mbqm(1000, INT32_MAX, 0), 1000);
    assert_int_equal(qmac_mbqm(-1000, INT32_MAX, 0), -1000);
    assert_int_equal(qmac_mbqm(INT32_MIN, INT32_MAX, 0), -INT32_MAX);
    assert_int_equal(qmac_mbqm(INT32_MAX, INT32_MAX, 0), INT32_MAX - 1);
    /* qm = 1 (2^-31), shift 0: x / 2^31 rounded: only |x| >= 2^30 survive */
    assert_int_equal(qmac_mbqm(P2(30), 1, 0), 1);
    assert_int_equal(qmac_mbqm(P2(30) - 1, 1, 0), 0);
    assert_int_equal(qmac_mbqm(-P2(30), 1, 0), 0); /* -0.5 rounds up in SRDHM */
    assert_int_equal(qmac_mbqm(INT32_MAX, 1, -31), 0);
    /* qm = 0 */
    assert_int_equal(qmac_mbqm(INT32_MAX, 0, 5), 0);
}

static void test_requant_single_vs_double_rounding(void **state)
{
    (void)state;
    /* m = 0.25 = (2^30, -1). x = 5: exact 1.25. Rule A: SRDHM(5, 2^30) = round(2.5) = 3, then
     * RDBPOT(3, 1) = round(1.5) = 2 (two roundings). Rule B: (5*2^30 + 2^31) >> 32 = 1. */
    assert_int_equal(qmac_mbqm(5, P2(30), -1), 2);
    assert_int_equal(qmac_mbqm_single(5, P2(30), -1), 1);
    /* x = 6: exact 1.5, a tie. A: SRDHM = 3, RDBPOT(3,1) = 2. B: round half up -> 2. */
    assert_int_equal(qmac_mbqm(6, P2(30), -1), 2);
    assert_int_equal(qmac_mbqm_single(6, P2(30), -1), 2);
    /* x = -6: exact -1.5. A: SRDHM = -3, RDBPOT(-3, 1) = -2 (away). B: floor(-1.5 + 0.5) = -1. */
    assert_int_equal(qmac_mbqm(-6, P2(30), -1), -2);
    assert_int_equal(qmac_mbqm_single(-6, P2(30), -1), -1);
    /* x = -5: exact -1.25. A: SRDHM(-5, 2^30) = -2 (tie up), RDBPOT(-2, 1) = -1. B: -1. */
    assert_int_equal(qmac_mbqm(-5, P2(30), -1), -1);
    assert_int_equal(qmac_mbqm_single(-5, P2(30), -1), -1);
}

static void test_requant_single_rounding_saturates(void **state)
{
    (void)state;
    /* shift 30: (x * qm + 1) >> 1 ~ x * 2^30 -> saturates */
    assert_int_equal(qmac_mbqm_single(INT32_MAX, INT32_MAX, 30), INT32_MAX);
    assert_int_equal(qmac_mbqm_single(INT32_MIN, INT32_MAX, 30), INT32_MIN);
    /* shift -31: total shift 62, round 2^61 */
    assert_int_equal(qmac_mbqm_single(INT32_MIN, INT32_MAX, -31), -1); /* -(2^31-1)/2^31 ~ -1 */
    assert_int_equal(qmac_mbqm_single(P2(30), P2(30), -31), 0);        /* 0.25 */
}

/* ---------------------------------------------------------------- rule C */

static void test_requant_float_ties_to_even(void **state)
{
    (void)state;
    assert_int_equal(qmac_requant_float(5, 0.5f, 0, -128, 127), 2);   /* 2.5 -> 2   */
    assert_int_equal(qmac_requant_float(7, 0.5f, 0, -128, 127), 4);   /* 3.5 -> 4   */
    assert_int_equal(qmac_requant_float(-5, 0.5f, 0, -128, 127), -2); /* -2.5 -> -2 */
    assert_int_equal(qmac_requant_float(-7, 0.5f, 0, -128, 127), -4);
    assert_int_equal(qmac_requant_float(1, 0.5f, 10, -128, 127), 10); /* 0.5 -> 0, + zp */
}

static void test_requant_float_saturation(void **state)
{
    (void)state;
    assert_int_equal(qmac_requant_float(1000, 1.0f, 0, -128, 127), 127);
    assert_int_equal(qmac_requant_float(-1000, 1.0f, 0, -128, 127), -128);
    /* clamp happens before adding zp: [qmin - zp, qmax - zp] */
    assert_int_equal(qmac_requant_float(1000, 1.0f, 10, -128, 127), 127);
    assert_int_equal(qmac_requant_float(-1000, 1.0f, 10, -128, 127), -128);
    assert_int_equal(qmac_requant_float(INT32_MAX, 1.0f, 0, 0, 255), 255);
    assert_int_equal(qmac_requant_float(INT32_MIN, 1.0f, 128, 0, 255), 0);
}

static void test_requant_float_inexact_conversion(void **state)
{
    (void)state;
    /* 2^24 + 3 = 16777219 is not a float32: it is a tie between 16777218 and 16777220 and rounds
     * to the even significand, 16777220. 16777220 * 0.7f (0.699999988079071) = 11744053.80 ->
     * float32 11744054 (spacing 1 below 2^24) -> 11744054. The exact product 16777219 * 0.7f =
     * 11744053.10 would give 11744053. */
    const double prod = 16777220.0 * (double)0.7f;
    assert_true(prod > 11744053.5 && prod < 11744054.5); /* the hand derivation above */
    assert_int_equal(qmac_requant_float(16777219, 0.7f, 0, -P2(30), P2(30)), 11744054);
    /* below 2^24 conversions are exact: 16777215 * 0.5 = 8388607.5 -> even 8388608 */
    assert_int_equal(qmac_requant_float(16777215, 0.5f, 0, -P2(30), P2(30)), 8388608);
}

/* ---------------------------------------------------------------- prepare + one */

static void test_requant_prepare_three_rules(void **state)
{
    (void)state;
    /* s_in 0.5, s_w 0.25, s_out 1: effective 0.125 = (2^30, -2). acc 100 -> 12.5:
     * A: SRDHM(100, 2^30) = 50, RDBPOT(50, 2) = round(12.5) = 13; B: (100*2^30 + 2^32) >> 33 = 13;
     * C: 12.5 -> 12 (ties to even). zp 3 is added after. */
    const float sw = 0.25f;
    int32_t mult, shift;
    float scale;
    qmac_requant rq;
    assert_int_equal(qmac_requant_prepare(&rq, QMAC_REQUANT_TFLITE, 0.5f, &sw, 1, 1.0f, 3, -128, 127, &mult,
                                          &shift, &scale),
                     QMAC_OK);
    assert_int_equal(mult, P2(30));
    assert_int_equal(shift, -2);
    assert_int_equal(qmac_requant_one(&rq, 0, 100), 16);
    assert_int_equal(qmac_requant_prepare(&rq, QMAC_REQUANT_SINGLE, 0.5f, &sw, 1, 1.0f, 3, -128, 127, &mult,
                                          &shift, &scale),
                     QMAC_OK);
    assert_int_equal(qmac_requant_one(&rq, 0, 100), 16);
    assert_int_equal(qmac_requant_prepare(&rq, QMAC_REQUANT_ONNXRT, 0.5f, &sw, 1, 1.0f, 3, -128, 127, &mult,
                                          &shift, &scale),
                     QMAC_OK);
    assert_true(scale == 0.125f);
    assert_int_equal(qmac_requant_one(&rq, 0, 100), 15);
    /* activation clamp */
    assert_int_equal(qmac_requant_one(&rq, 0, 100000), 127);
}

static void test_requant_prepare_rejects(void **state)
{
    (void)state;
    const float sw[2] = {0.25f, 0.0f};
    int32_t mult[2], shift[2];
    float scale[2];
    qmac_requant rq;
    assert_int_equal(
        qmac_requant_prepare(&rq, QMAC_REQUANT_TFLITE, 0.5f, sw, 2, 1.0f, 0, -128, 127, mult, shift, scale),
        QMAC_ERR_INVALID_ARG); /* weight scale 0 */
    const float big = 1.0f;
    assert_int_equal(qmac_requant_prepare(&rq, QMAC_REQUANT_TFLITE, 1e10f, &big, 1, 1.0f, 0, -128, 127, mult,
                                          shift, scale),
                     QMAC_ERR_INVALID_ARG); /* effective scale 1e10 needs shift 34 */
    assert_int_equal(
        qmac_requant_prepare(&rq, QMAC_REQUANT_TFLITE, 1.0f, &big, 1, 1.0f, 0, 10, -10, mult, shift, scale),
        QMAC_ERR_INVALID_ARG); /* empty activation range */
}

/* ---------------------------------------------------------------- differential */

static uint64_t g_rng;

static uint64_t splitmix64(void)
{
    uint64_t z = (g_rng += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

/* floor division of a 128-bit value by 2^s via arithmetic shift */
static __int128 floor_shift(__int128 v, int s)
{
    return v >> s;
}

/* SRDHM as "round half toward +infinity of a*b / 2^31", which equals gemmlowp's truncated
 * nudge expression (case analysis in the comment of test_requant_srdhm_ties). */
static int32_t ref_srdhm(int32_t a, int32_t b)
{
    if (a == INT32_MIN && b == INT32_MIN)
        return INT32_MAX;
    const __int128 ab = (__int128)a * b;
    return (int32_t)floor_shift(ab + ((__int128)1 << 30), 31);
}

/* round half away from zero of x / 2^e */
static int32_t ref_rdbpot(int32_t x, int e)
{
    if (e == 0)
        return x;
    const int64_t half = INT64_C(1) << (e - 1);
    if (x >= 0)
        return (int32_t)(((int64_t)x + half) >> e);
    return (int32_t)(-((-(int64_t)x + half) >> e));
}

static int32_t ref_mbqm(int32_t x, int32_t qm, int32_t shift)
{
    const int left = shift > 0 ? shift : 0, right = shift > 0 ? 0 : -shift;
    const int64_t wide = (int64_t)x * (INT64_C(1) << left);
    const int32_t xs = (int32_t)(uint32_t)(uint64_t)wide; /* modulo 2^32 */
    return ref_rdbpot(ref_srdhm(xs, qm), right);
}

static int32_t ref_single(int32_t x, int32_t qm, int32_t shift)
{
    const int ts = 31 - shift;
    const __int128 v = ((__int128)x * qm + ((__int128)1 << (ts - 1))) >> ts;
    if (v > INT32_MAX)
        return INT32_MAX;
    if (v < INT32_MIN)
        return INT32_MIN;
    return (int32_t)v;
}

static int32_t rand_x(void)
{
    const uint64_t r = splitmix64();
    switch (r & 7u) {
    case 0: return (int32_t)(uint32_t)(r >> 32); /* full range */
    case 1: {
        static const int32_t edges[] = {0, 1, -1, INT32_MAX, INT32_MIN, INT32_MIN + 1, 1 << 30, -(1 << 30)};
        return edges[(r >> 8) & 7u];
    }
    default: {
        const int bits = (int)((r >> 8) % 31u) + 1; /* magnitudes 2^0 .. 2^31 */
        const int64_t v = (int64_t)((r >> 32) & ((UINT64_C(1) << bits) - 1u));
        return (int32_t)(((r >> 16) & 1u) ? -v : v);
    }
    }
}

static void test_requant_mbqm_random_differential(void **state)
{
    (void)state;
    uint64_t seed = UINT64_C(0x5eed0001);
    const char *env = getenv("QMAC_SEED");
    if (env && *env)
        seed = strtoull(env, NULL, 0);
    print_message("test_requant_mbqm_random_differential: seed %" PRIu64 " (rerun with QMAC_SEED=%" PRIu64
                  ")\n",
                  seed, seed);
    g_rng = seed;
    for (int i = 0; i < 400000; ++i) {
        const int32_t x = rand_x();
        const uint64_t r = splitmix64();
        int32_t qm;
        switch (r & 3u) {
        case 0: qm = (int32_t)(P2(30) + (int64_t)((r >> 2) % (uint64_t)P2(30))); break; /* normalised */
        case 1: qm = INT32_MAX - (int32_t)((r >> 2) & 15u); break;                      /* near 1 */
        case 2: qm = (int32_t)((r >> 2) & 255u); break;                                 /* near 0 */
        default: qm = (int32_t)(uint32_t)(r >> 32); break;                              /* any sign */
        }
        const int32_t shift = (int32_t)((r >> 40) % 63u) - 31; /* [-31, 31] */
        const int32_t got = qmac_mbqm(x, qm, shift), want = ref_mbqm(x, qm, shift);
        if (got != want) {
            print_error("seed %" PRIu64 " iter %d: mbqm(%d, %d, %d) = %d, reference %d\n", seed, i, (int)x,
                        (int)qm, (int)shift, (int)got, (int)want);
            fail();
        }
        if (qm >= 0 && shift <= 30) {
            const int32_t gs = qmac_mbqm_single(x, qm, shift), ws = ref_single(x, qm, shift);
            if (gs != ws) {
                print_error("seed %" PRIu64 " iter %d: mbqm_single(%d, %d, %d) = %d, reference %d\n", seed, i,
                            (int)x, (int)qm, (int)shift, (int)gs, (int)ws);
                fail();
            }
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_requant_qm_powers_of_two),
        cmocka_unit_test(test_requant_qm_flush_to_zero),
        cmocka_unit_test(test_requant_qm_carry),
        cmocka_unit_test(test_requant_qm_rule_b_saturates),
        cmocka_unit_test(test_requant_qm_errors),
        cmocka_unit_test(test_requant_srdhm_saturation),
        cmocka_unit_test(test_requant_srdhm_ties),
        cmocka_unit_test(test_requant_srdhm_nudge_signs),
        cmocka_unit_test(test_requant_rdbpot_ties_e1),
        cmocka_unit_test(test_requant_rdbpot_ties_e31),
        cmocka_unit_test(test_requant_mbqm_shift_extremes),
        cmocka_unit_test(test_requant_mbqm_multiplier_near_one_and_zero),
        cmocka_unit_test(test_requant_single_vs_double_rounding),
        cmocka_unit_test(test_requant_single_rounding_saturates),
        cmocka_unit_test(test_requant_float_ties_to_even),
        cmocka_unit_test(test_requant_float_saturation),
        cmocka_unit_test(test_requant_float_inexact_conversion),
        cmocka_unit_test(test_requant_prepare_three_rules),
        cmocka_unit_test(test_requant_prepare_rejects),
        cmocka_unit_test(test_requant_mbqm_random_differential),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
