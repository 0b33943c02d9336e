/* test_qonnx.c - the arithmetic of QONNX output stages (graph.h): Quant's rounding modes, clamp
 * before rounding, the float32 order of the steps, thresholds; hand-derived vectors (numpy's
 * results for the same float32 operations). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "qmac/graph.h"

static void test_qonnx_round_modes(void **state)
{
    (void)state;
    /* x, ROUND, CEIL, FLOOR, ROUND_TO_ZERO, UP, HALF_UP, HALF_DOWN */
    static const float v[][8] = {
        {2.5f, 2, 3, 2, 2, 3, 3, 2},         {3.5f, 4, 4, 3, 3, 4, 4, 3}, {-2.5f, -2, -2, -3, -2, -3, -3, -2},
        {-0.2f, -0, -0, -1, -0, -1, -0, -0}, {0.7f, 1, 1, 0, 0, 1, 1, 1}, {-1.0f, -1, -1, -1, -1, -1, -1, -1},
        {0.0f, 0, 0, 0, 0, 0, 0, 0},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; ++i)
        for (int m = 0; m < 7; ++m)
            assert_true(qmac_qonnx_round((qmac_qround)m, v[i][0]) == v[i][m + 1]);
    /* HALF_UP in float32 as numpy does it: |x| + 0.5 rounds up to 1.0 for the float just below 0.5 */
    assert_true(qmac_qonnx_round(QMAC_QR_HALF_UP, nextafterf(0.5f, 0.0f)) == 1.0f);
    assert_true(qmac_qonnx_round(QMAC_QR_ROUND, nextafterf(0.5f, 0.0f)) == 0.0f);
}

static void test_qonnx_quant_stage(void **state)
{
    (void)state;
    qmac_qonnx_stage s;
    memset(&s, 0, sizeof s);
    s.oq = QMAC_OQ_INT;
    s.scale = 0.5f;
    s.zp = 3.0f;
    s.qmin = -128;
    s.qmax = 127;
    assert_int_equal(qmac_qonnx_code(&s, 0, 1.25f), 6);    /* 2.5 + 3 = 5.5 -> 6 (even) */
    assert_int_equal(qmac_qonnx_code(&s, 0, 0.75f), 4);    /* 1.5 + 3 = 4.5 -> 4 (even) */
    assert_int_equal(qmac_qonnx_code(&s, 0, 1000.f), 127); /* clamped */
    assert_int_equal(qmac_qonnx_code(&s, 0, -1000.f), -128);
    assert_int_equal(qmac_qonnx_code(&s, 0, NAN), 3); /* NaN: the code of 0 */
    /* the zero point is added in float32 before rounding: x / s = 0.5 - 2^-25 rounds to 0 alone,
     * but + 3 is the tie 3.5 in float32, which rounds to 4 */
    s.scale = 1.0f;
    assert_int_equal(qmac_qonnx_code(&s, 0, nextafterf(0.5f, 0.0f)), 4);
    s.zp = 0.0f;
    assert_int_equal(qmac_qonnx_code(&s, 0, nextafterf(0.5f, 0.0f)), 0);
    /* the narrow unsigned range [0, 254] under CEIL */
    s.qmin = 0;
    s.qmax = 254;
    s.round = QMAC_QR_CEIL;
    assert_int_equal(qmac_qonnx_code(&s, 0, 254.2f), 254);
    assert_int_equal(qmac_qonnx_code(&s, 0, -0.7f), 0);
}

static void test_qonnx_steps_and_thresholds(void **state)
{
    (void)state;
    float in_scale[2] = {0.25f, 0.5f}, mul[2] = {2.0f, -1.0f}, add = 0.75f, thr[2] = {1.0f, 0.0f};
    qmac_epi_step steps[2] = {{QMAC_EPI_MUL, 2, mul}, {QMAC_EPI_ADD, 1, &add}};
    qmac_qonnx_stage s;
    memset(&s, 0, sizeof s);
    s.nch = 2;
    s.in_scale = in_scale;
    s.epi = steps;
    s.n_epi = 2;
    s.oq = QMAC_OQ_THRESH;
    s.thr = thr;
    s.n_thr = 1;
    s.thr_ch = 2;
    s.code0 = -1;
    s.code_step = 2;
    /* channel 0: v = acc * 0.25 * 2 + 0.75, +1 iff v >= 1, i.e. acc >= 0.5 */
    assert_true(qmac_qonnx_value(&s, 0, 1) == 1.25f);
    assert_int_equal(qmac_qonnx_code(&s, 0, qmac_qonnx_value(&s, 0, 1)), 1);
    assert_int_equal(qmac_qonnx_code(&s, 0, qmac_qonnx_value(&s, 0, 0)), -1);
    /* channel 1: v = -acc * 0.5 + 0.75, +1 iff v >= 0, i.e. acc <= 1 (a falling threshold) */
    assert_int_equal(qmac_qonnx_code(&s, 1, qmac_qonnx_value(&s, 1, 1)), 1);
    assert_int_equal(qmac_qonnx_code(&s, 1, qmac_qonnx_value(&s, 1, 2)), -1);
    /* ties go up: v == threshold counts */
    assert_int_equal(qmac_qonnx_code(&s, 0, 1.0f), 1);
    /* Relu / Clip steps */
    float lo = 0.0f, hi = 1.0f;
    qmac_epi_step clip[2] = {{QMAC_EPI_MAX, 1, &lo}, {QMAC_EPI_MIN, 1, &hi}};
    s.epi = clip;
    assert_true(qmac_qonnx_value(&s, 0, -8) == 0.0f);
    assert_true(qmac_qonnx_value(&s, 0, 2) == 0.5f);
    assert_true(qmac_qonnx_value(&s, 0, 9) == 1.0f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_qonnx_round_modes),
        cmocka_unit_test(test_qonnx_quant_stage),
        cmocka_unit_test(test_qonnx_steps_and_thresholds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
