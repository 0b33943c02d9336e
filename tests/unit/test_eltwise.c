/* test_eltwise.c - TFLite Add/Mul, ONNX Runtime QLinearAdd, activation ranges, clamp, concat.
 * Expected values are worked out by hand in the comments. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "qmac/kernels.h"

/* All scales 1, zero points 0: twice_max = 2, input multipliers 1/2 -> (2^30, 0), output
 * multiplier 2 / 2^20 = 2^-19 = 0.5 * 2^-18 -> (2^30, -18). Then (a << 20) * 0.5 = a * 2^19 exactly,
 * the sum (a+b) * 2^19, times 0.5 * 2^-18 = a + b exactly. */
static void test_eltwise_add_tflite_unit_scales(void **state)
{
    (void)state;
    qmac_add_tflite_params p;
    assert_int_equal(qmac_add_tflite_prepare(1.0f, 0, 1.0f, 0, 1.0f, 0, -128, 127, &p), QMAC_OK);
    assert_int_equal(p.left_shift, 20);
    assert_int_equal(p.a_mult, 1 << 30);
    assert_int_equal(p.a_shift, 0);
    assert_int_equal(p.b_mult, 1 << 30);
    assert_int_equal(p.b_shift, 0);
    assert_int_equal(p.out_mult, 1 << 30);
    assert_int_equal(p.out_shift, -18);
    assert_int_equal(qmac_add_tflite_one(&p, 3, 4), 7);
    assert_int_equal(qmac_add_tflite_one(&p, -3, 1), -2);
    assert_int_equal(qmac_add_tflite_one(&p, 100, 100), 127);
    assert_int_equal(qmac_add_tflite_one(&p, -100, -100), -128);
    /* zero points: a_zp 5, b_zp -5, y_zp 10 -> (a-5) + (b+5) + 10 */
    assert_int_equal(qmac_add_tflite_prepare(1.0f, 5, 1.0f, -5, 1.0f, 10, -128, 127, &p), QMAC_OK);
    assert_int_equal(p.a_offset, -5);
    assert_int_equal(p.b_offset, 5);
    assert_int_equal(qmac_add_tflite_one(&p, 6, -4), 12);
}

/* y_scale 2: output multiplier 2^-20 -> (2^30, -19): y = RDBPOT((a+b) * 2^18, 19) = (a+b)/2
 * rounded half away from zero: 3 -> 2, -3 -> -2, 1 -> 1, -1 -> -1, 2 -> 1. */
static void test_eltwise_add_tflite_ties_away_from_zero(void **state)
{
    (void)state;
    qmac_add_tflite_params p;
    assert_int_equal(qmac_add_tflite_prepare(1.0f, 0, 1.0f, 0, 2.0f, 0, -128, 127, &p), QMAC_OK);
    assert_int_equal(p.out_shift, -19);
    assert_int_equal(qmac_add_tflite_one(&p, 1, 2), 2);
    assert_int_equal(qmac_add_tflite_one(&p, -1, -2), -2);
    assert_int_equal(qmac_add_tflite_one(&p, 1, 0), 1);
    assert_int_equal(qmac_add_tflite_one(&p, -1, 0), -1);
    assert_int_equal(qmac_add_tflite_one(&p, 1, 1), 1);
    /* activation range applies after the zero point */
    assert_int_equal(qmac_add_tflite_prepare(1.0f, 0, 1.0f, 0, 2.0f, 0, 0, 6, &p), QMAC_OK);
    assert_int_equal(qmac_add_tflite_one(&p, -1, -2), 0);
    assert_int_equal(qmac_add_tflite_one(&p, 100, 2), 6);
}

static void test_eltwise_add_tflite_rejects_bad_scales(void **state)
{
    (void)state;
    qmac_add_tflite_params p;
    /* 2 / (2^20 * 1e-7) = 19 >= 1: TFLite rejects the output multiplier */
    assert_int_equal(qmac_add_tflite_prepare(1.0f, 0, 1.0f, 0, 1e-7f, 0, -128, 127, &p),
                     QMAC_ERR_INVALID_ARG);
    assert_int_equal(qmac_add_tflite_prepare(NAN, 0, 1.0f, 0, 1.0f, 0, -128, 127, &p), QMAC_ERR_INVALID_ARG);
    assert_int_equal(qmac_add_tflite_prepare(1.0f, 0, 0.0f, 0, 1.0f, 0, -128, 127, &p), QMAC_ERR_INVALID_ARG);
    assert_int_equal(qmac_add_tflite_prepare(1.0f, 300, 1.0f, 0, 1.0f, 0, -128, 127, &p),
                     QMAC_ERR_INVALID_ARG);
    assert_int_equal(qmac_add_tflite_prepare(1.0f, 0, 1.0f, 0, 1.0f, 0, 5, 4, &p), QMAC_ERR_INVALID_ARG);
}

/* Multiplier 2^30 (0.5), shift 0: SRDHM rounds half up (toward +inf):
 *   3*1 -> 1.5 -> 2;  -3*1 -> -1.5 -> -1;  5*5 -> 12.5 -> 13;  -5*5 -> -12.5 -> -12.
 * Shift -1 adds a rounding right shift, ties away from zero: 6 -> 3 -> 1.5 -> 2; -6 -> -3 -> -2.
 * Offsets: a_offset 2 (zp -2): a = -1 -> 1. */
static void test_eltwise_mul_tflite(void **state)
{
    (void)state;
    qmac_mul_tflite_params p = {0, 0, 1 << 30, 0, 0, -128, 127};
    assert_int_equal(qmac_mul_tflite_one(&p, 3, 1), 2);
    assert_int_equal(qmac_mul_tflite_one(&p, -3, 1), -1);
    assert_int_equal(qmac_mul_tflite_one(&p, 5, 5), 13);
    assert_int_equal(qmac_mul_tflite_one(&p, -5, 5), -12);
    p.out_shift = -1;
    assert_int_equal(qmac_mul_tflite_one(&p, 6, 1), 2);
    assert_int_equal(qmac_mul_tflite_one(&p, -6, 1), -2);
    p.out_shift = 0;
    p.a_offset = 2;
    assert_int_equal(qmac_mul_tflite_one(&p, -1, 8), 4); /* (1 * 8) * 0.5 */
    p.out_zp = 100;                                      /* 100/2 + 100 = 150 -> 127 */
    p.a_offset = 0;
    assert_int_equal(qmac_mul_tflite_one(&p, 10, 10), 127);
}

/* ORT QLinearAdd, int8, sA = 1.5, sB = 0.25, sC = 1, zA = 0, zB = 1, zC = 0 (all exact):
 * rA = 1.5, rB = 0.25, bias = 0 - fma(1.5, 0, 0.25) = -0.25, y = 1.5a + 0.25b - 0.25, ties to even:
 *   (1,0) 1.25 -> 1   (1,1) 1.5 -> 2   (3,1) 4.5 -> 4   (-1,1) -1.5 -> -2   (-3,1) -4.5 -> -4
 *   (1,3) 2 -> 2      (100,100) 174.75 -> 127           (-100,-100) -175.25 -> -128 */
static void test_eltwise_add_onnxrt_ties_to_even(void **state)
{
    (void)state;
    qmac_add_onnxrt_params p;
    assert_int_equal(qmac_add_onnxrt_prepare(1.5f, 0, 0.25f, 1, 1.0f, 0, QMAC_DT_INT8, &p), QMAC_OK);
    assert_true(p.ratio_a == 1.5f);
    assert_true(p.ratio_b == 0.25f);
    assert_true(p.bias == -0.25f);
    assert_int_equal(qmac_add_onnxrt_one(&p, 1, 0), 1);
    assert_int_equal(qmac_add_onnxrt_one(&p, 1, 1), 2);
    assert_int_equal(qmac_add_onnxrt_one(&p, 3, 1), 4);
    assert_int_equal(qmac_add_onnxrt_one(&p, -1, 1), -2);
    assert_int_equal(qmac_add_onnxrt_one(&p, -3, 1), -4);
    assert_int_equal(qmac_add_onnxrt_one(&p, 1, 3), 2);
    assert_int_equal(qmac_add_onnxrt_one(&p, 100, 100), 127);
    assert_int_equal(qmac_add_onnxrt_one(&p, -100, -100), -128);
    /* every step exact: the swapped (A scalar) form agrees */
    assert_int_equal(qmac_add_onnxrt_one_a_scalar(&p, 3, 1), 4);
    assert_int_equal(qmac_add_onnxrt_one_a_scalar(&p, -1, 1), -2);
}

/* uint8, sA = sB = 1, sC = 2, zA = 10, zB = 20, zC = 128: rA = rB = 0.5,
 * bias = 128 - fma(0.5, 10, 0.5*20) = 113, y = 0.5a + 0.5b + 113:
 *   (11,20) 128.5 -> 128   (13,20) 129.5 -> 130   (0,0) 113   (255,255) 368 -> 255 */
static void test_eltwise_add_onnxrt_uint8_zero_points(void **state)
{
    (void)state;
    qmac_add_onnxrt_params p;
    assert_int_equal(qmac_add_onnxrt_prepare(1.0f, 10, 1.0f, 20, 2.0f, 128, QMAC_DT_UINT8, &p), QMAC_OK);
    assert_true(p.bias == 113.0f);
    assert_int_equal(qmac_add_onnxrt_one(&p, 11, 20), 128);
    assert_int_equal(qmac_add_onnxrt_one(&p, 13, 20), 130);
    assert_int_equal(qmac_add_onnxrt_one(&p, 0, 0), 113);
    assert_int_equal(qmac_add_onnxrt_one(&p, 255, 255), 255);
}

/* x86 conversion: a result outside int32 becomes INT32_MIN, which saturates to qmin.
 * sA = 2^30, sB = sC = 1, zero points 0: a = 1 -> 2^30 -> 127; a = 2 -> 2^31 -> qmin; a = 4 -> 2^32 -> qmin.
 */
static void test_eltwise_add_onnxrt_out_of_int32_range(void **state)
{
    (void)state;
    qmac_add_onnxrt_params p;
    assert_int_equal(qmac_add_onnxrt_prepare(1073741824.0f, 0, 1.0f, 0, 1.0f, 0, QMAC_DT_INT8, &p), QMAC_OK);
    assert_int_equal(qmac_add_onnxrt_one(&p, 1, 0), 127);
    assert_int_equal(qmac_add_onnxrt_one(&p, 2, 0), -128);
    assert_int_equal(qmac_add_onnxrt_one(&p, 4, 0), -128);
    assert_int_equal(qmac_add_onnxrt_one(&p, -2, 0), -128); /* -2^31 itself converts exactly */
    assert_int_equal(qmac_add_onnxrt_prepare(1073741824.0f, 0, 1.0f, 0, 1.0f, 0, QMAC_DT_UINT8, &p), QMAC_OK);
    assert_int_equal(qmac_add_onnxrt_one(&p, 1, 0), 255);
    assert_int_equal(qmac_add_onnxrt_one(&p, 2, 0), 0);
}

static void test_eltwise_add_onnxrt_span_and_errors(void **state)
{
    (void)state;
    qmac_add_onnxrt_params p;
    assert_int_equal(qmac_add_onnxrt_prepare(1.5f, 0, 0.25f, 1, 1.0f, 0, QMAC_DT_INT8, &p), QMAC_OK);
    const int8_t a[3] = {1, 3, -1}, b[3] = {1, 1, 1}, one_a[1] = {3};
    int8_t y[3];
    assert_int_equal(qmac_add_onnxrt_span(&p, QMAC_DT_INT8, a, 3, b, 3, y), QMAC_OK);
    assert_int_equal(y[0], 2);
    assert_int_equal(y[1], 4);
    assert_int_equal(y[2], -2);
    assert_int_equal(qmac_add_onnxrt_span(&p, QMAC_DT_INT8, one_a, 1, b, 3, y), QMAC_OK); /* 4.5 -> 4 */
    assert_int_equal(y[0], 4);
    assert_int_equal(y[2], 4);
    assert_int_equal(qmac_add_onnxrt_span(&p, QMAC_DT_INT8, a, 3, one_a, 1, y), QMAC_OK); /* b = 3 */
    assert_int_equal(y[0], 2);                                                            /* 1.5 + 0.5 */
    assert_int_equal(qmac_add_onnxrt_span(&p, QMAC_DT_INT8, a, 3, b, 2, y), QMAC_ERR_SHAPE);
    assert_int_equal(qmac_add_onnxrt_span(&p, QMAC_DT_UINT8, a, 3, b, 3, y), QMAC_ERR_INVALID_ARG);
    assert_int_equal(qmac_add_onnxrt_prepare(1.0f, 0, 1.0f, 0, 1.0f, 128, QMAC_DT_INT8, &p),
                     QMAC_ERR_INVALID_ARG);
    assert_int_equal(qmac_add_onnxrt_prepare(1.0f, 0, -1.0f, 0, 1.0f, 0, QMAC_DT_INT8, &p),
                     QMAC_ERR_INVALID_ARG);
    assert_int_equal(qmac_add_onnxrt_prepare(1.0f, 0, 1.0f, 0, 1.0f, 0, QMAC_DT_INT16, &p),
                     QMAC_ERR_INVALID_ARG);
}

/* The broadcast rule, case by case: drop output axes of size 1; A is the scalar of its spans when
 * it does not extend along the innermost remaining axis, or when no axis remains. */
static void test_eltwise_add_onnxrt_a_is_scalar_rule(void **state)
{
    (void)state;
    const int64_t y34[2] = {3, 4}, a1[1] = {1}, a4[1] = {4}, a31[2] = {3, 1}, a11[2] = {1, 1};
    assert_int_equal(qmac_add_onnxrt_a_is_scalar(1, a1, 2, y34), 1);  /* [1] + [3,4] */
    assert_int_equal(qmac_add_onnxrt_a_is_scalar(1, a4, 2, y34), 0);  /* [4] + [3,4] */
    assert_int_equal(qmac_add_onnxrt_a_is_scalar(2, a31, 2, y34), 1); /* [3,1] + [3,4]: A constant per row */
    assert_int_equal(qmac_add_onnxrt_a_is_scalar(2, a11, 2, y34), 1);
    assert_int_equal(qmac_add_onnxrt_a_is_scalar(2, y34, 2, y34), 0);
    const int64_t y31[2] = {3, 1}; /* [3,1] + [3,1] or [1,1]: axis 0 decides */
    assert_int_equal(qmac_add_onnxrt_a_is_scalar(2, a31, 2, y31), 0);
    assert_int_equal(qmac_add_onnxrt_a_is_scalar(2, a11, 2, y31), 1);
    const int64_t y531[3] = {5, 3, 1}, a511[3] = {5, 1, 1};
    assert_int_equal(qmac_add_onnxrt_a_is_scalar(3, a511, 3, y531), 1);
    assert_int_equal(qmac_add_onnxrt_a_is_scalar(3, y531, 3, y531), 0);
    assert_int_equal(qmac_add_onnxrt_a_is_scalar(2, a11, 2, a11), 1); /* one element: A is the scalar */
    assert_int_equal(qmac_add_onnxrt_a_is_scalar(0, NULL, 0, NULL), 1);
}

/* TFLite CalculateActivationRangeQuantized, round() ties away from zero:
 *   RELU6, scale 12, zp 0: 6/12 = 0.5 -> 1 (ties to even would give 0)   -> [0, 1]
 *   RELU6, scale 4, zp -128: 6/4 = 1.5 -> 2                              -> [-128, -126]
 *   RELU6, scale 0.5, zp 0, uint8: 12                                     -> [0, 12]
 *   RELU6, scale 0.01: 600 -> clamped                                     -> [zp, 127]
 *   RELU_N1_TO_1, scale 2, zp 0: -0.5 -> -1, 0.5 -> 1                     -> [-1, 1]
 *   RELU_N1_TO_1, scale 1/64, zp 10: +-64                                 -> [-54, 74]
 *   RELU, zp -10                                                          -> [-10, 127] */
static void test_eltwise_activation_range_ties(void **state)
{
    (void)state;
    int32_t lo, hi;
    assert_int_equal(qmac_activation_range(QMAC_ACT_NONE, 0.1f, 3, QMAC_DT_INT8, &lo, &hi), QMAC_OK);
    assert_int_equal(lo, -128);
    assert_int_equal(hi, 127);
    assert_int_equal(qmac_activation_range(QMAC_ACT_RELU, 0.1f, -10, QMAC_DT_INT8, &lo, &hi), QMAC_OK);
    assert_int_equal(lo, -10);
    assert_int_equal(hi, 127);
    assert_int_equal(qmac_activation_range(QMAC_ACT_RELU6, 12.0f, 0, QMAC_DT_INT8, &lo, &hi), QMAC_OK);
    assert_int_equal(lo, 0);
    assert_int_equal(hi, 1);
    assert_int_equal(qmac_activation_range(QMAC_ACT_RELU6, 4.0f, -128, QMAC_DT_INT8, &lo, &hi), QMAC_OK);
    assert_int_equal(lo, -128);
    assert_int_equal(hi, -126);
    assert_int_equal(qmac_activation_range(QMAC_ACT_RELU6, 0.5f, 0, QMAC_DT_UINT8, &lo, &hi), QMAC_OK);
    assert_int_equal(lo, 0);
    assert_int_equal(hi, 12);
    assert_int_equal(qmac_activation_range(QMAC_ACT_RELU6, 0.01f, 7, QMAC_DT_INT8, &lo, &hi), QMAC_OK);
    assert_int_equal(lo, 7);
    assert_int_equal(hi, 127);
    assert_int_equal(qmac_activation_range(QMAC_ACT_RELU_N1_TO_1, 2.0f, 0, QMAC_DT_INT8, &lo, &hi), QMAC_OK);
    assert_int_equal(lo, -1);
    assert_int_equal(hi, 1);
    assert_int_equal(qmac_activation_range(QMAC_ACT_RELU_N1_TO_1, 0.015625f, 10, QMAC_DT_INT8, &lo, &hi),
                     QMAC_OK);
    assert_int_equal(lo, -54);
    assert_int_equal(hi, 74);
    assert_int_equal(qmac_activation_range(QMAC_ACT_RELU6, 0.0f, 0, QMAC_DT_INT8, &lo, &hi),
                     QMAC_ERR_INVALID_ARG);
    assert_int_equal(qmac_activation_range(QMAC_ACT_RELU, 1.0f, 200, QMAC_DT_INT8, &lo, &hi),
                     QMAC_ERR_INVALID_ARG);
    assert_int_equal(qmac_activation_range(QMAC_ACT_RELU, 1.0f, 0, QMAC_DT_FLOAT32, &lo, &hi),
                     QMAC_ERR_INVALID_ARG);
    assert_int_equal(qmac_activation_range((qmac_activation)42, 1.0f, 0, QMAC_DT_INT8, &lo, &hi),
                     QMAC_ERR_INVALID_ARG);
}

static void test_eltwise_clamp_in_place(void **state)
{
    (void)state;
    int8_t v[5] = {-128, -1, 0, 5, 127};
    qmac_clamp(5, QMAC_DT_INT8, v, -1, 5, v);
    const int8_t expect[5] = {-1, -1, 0, 5, 5};
    assert_memory_equal(v, expect, sizeof expect);
    const uint8_t u[3] = {0, 100, 255};
    uint8_t out[3];
    qmac_clamp(3, QMAC_DT_UINT8, u, 10, 200, out);
    assert_int_equal(out[0], 10);
    assert_int_equal(out[1], 100);
    assert_int_equal(out[2], 200);
}

/* Two inputs viewed as [outer 2, len * inner 2]: A len 1 = rows [1 2] [3 4], B len 2 = rows
 * [5 6 7 8] [9 10 11 12] -> y rows [1 2 5 6 7 8] [3 4 9 10 11 12]. */
static void test_eltwise_concat(void **state)
{
    (void)state;
    const int8_t a[4] = {1, 2, 3, 4}, b[8] = {5, 6, 7, 8, 9, 10, 11, 12};
    const void *in[2] = {a, b};
    const int32_t len[2] = {1, 2};
    int8_t y[12];
    qmac_concat(2, in, len, 2, 2, 1, y);
    const int8_t expect[12] = {1, 2, 5, 6, 7, 8, 3, 4, 9, 10, 11, 12};
    assert_memory_equal(y, expect, sizeof expect);
    const int32_t a32[2] = {-1, 70000}, b32[1] = {INT32_MIN};
    const void *in32[2] = {a32, b32};
    const int32_t len32[2] = {2, 1};
    int32_t y32[3];
    qmac_concat(2, in32, len32, 1, 1, sizeof(int32_t), y32);
    assert_int_equal(y32[0], -1);
    assert_int_equal(y32[1], 70000);
    assert_int_equal(y32[2], INT32_MIN);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_eltwise_add_tflite_unit_scales),
        cmocka_unit_test(test_eltwise_add_tflite_ties_away_from_zero),
        cmocka_unit_test(test_eltwise_add_tflite_rejects_bad_scales),
        cmocka_unit_test(test_eltwise_mul_tflite),
        cmocka_unit_test(test_eltwise_add_onnxrt_ties_to_even),
        cmocka_unit_test(test_eltwise_add_onnxrt_uint8_zero_points),
        cmocka_unit_test(test_eltwise_add_onnxrt_out_of_int32_range),
        cmocka_unit_test(test_eltwise_add_onnxrt_span_and_errors),
        cmocka_unit_test(test_eltwise_add_onnxrt_a_is_scalar_rule),
        cmocka_unit_test(test_eltwise_activation_range_ties),
        cmocka_unit_test(test_eltwise_clamp_in_place),
        cmocka_unit_test(test_eltwise_concat),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
