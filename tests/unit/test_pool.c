/* test_pool.c - max pool, TFLite average pool and ONNX Runtime's QLinear(Global)AveragePool.
 * Every expected value is worked out by hand in the comments (the ORT formulas themselves are
 * proven against onnxruntime by tests/oracles/ort_eltwise_pool.py). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "qmac/kernels.h"

static qmac_pool_params pparams(int32_t kh, int32_t kw, int32_t sh, int32_t sw, int32_t pt, int32_t pl,
                                int32_t pb, int32_t pr)
{
    qmac_pool_params p = {kh, kw, sh, sw, 1, 1, pt, pl, pb, pr};
    return p;
}

/* 3x3 image 1..9, 2x2 window, stride 1 -> [5 6 8 9]. */
static void test_pool_maxpool_basic(void **state)
{
    (void)state;
    const int8_t x[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    const qmac_dims xd = {1, 3, 3, 1}, yd = {1, 2, 2, 1};
    const qmac_pool_params p = pparams(2, 2, 1, 1, 0, 0, 0, 0);
    int8_t y[4];
    assert_int_equal(qmac_maxpool(&p, &xd, QMAC_DT_INT8, x, &yd, -128, 127, y), QMAC_OK);
    const int8_t expect[4] = {5, 6, 8, 9};
    assert_memory_equal(y, expect, sizeof expect);
}

/* x = [[-5 -3] [-7 -9]], 2x2 window, stride 1, pad 1 on every side -> 3x3 outputs. Padded taps
 * never win (zero padding would give 0 at the border):
 *   row 0: {x00} {x00 x01} {x01}         -> -5 -3 -3
 *   row 1: {x00 x10} {all} {x01 x11}     -> -5 -3 -3
 *   row 2: {x10} {x10 x11} {x11}         -> -7 -7 -9
 * With activation min -6 the last row becomes -6 -6 -6. */
static void test_pool_maxpool_padding_and_negative_values(void **state)
{
    (void)state;
    const int8_t x[4] = {-5, -3, -7, -9};
    const qmac_dims xd = {1, 2, 2, 1}, yd = {1, 3, 3, 1};
    const qmac_pool_params p = pparams(2, 2, 1, 1, 1, 1, 1, 1);
    int8_t y[9];
    assert_int_equal(qmac_maxpool(&p, &xd, QMAC_DT_INT8, x, &yd, -128, 127, y), QMAC_OK);
    const int8_t expect[9] = {-5, -3, -3, -5, -3, -3, -7, -7, -9};
    assert_memory_equal(y, expect, sizeof expect);
    assert_int_equal(qmac_maxpool(&p, &xd, QMAC_DT_INT8, x, &yd, -6, 127, y), QMAC_OK);
    const int8_t clamped[9] = {-5, -3, -3, -5, -3, -3, -6, -6, -6};
    assert_memory_equal(y, clamped, sizeof clamped);
}

/* 1x2 windows, stride 2 over [-1 -2 | 1 2 | -1 0 | -3 -4]:
 *   -3/2 -> (-3-1)/2 = -2;  3/2 -> (3+1)/2 = 2;  -1/2 -> (-1-1)/2 = -1;  -7/2 -> (-7-1)/2 = -4
 * (halves go away from zero). 2x2 windows over [[-1 -1 -1 0] [-1 0 -1 0]]:
 *   -3/4 -> (-3-2)/4 = -1 (truncation);  -2/4 -> (-2-2)/4 = -1 (a tie, away from zero). */
static void test_pool_avgpool_tflite_rounding_ties_away_from_zero(void **state)
{
    (void)state;
    const int8_t x[8] = {-1, -2, 1, 2, -1, 0, -3, -4};
    const qmac_dims xd = {1, 1, 8, 1}, yd = {1, 1, 4, 1};
    const qmac_pool_params p = pparams(1, 2, 1, 2, 0, 0, 0, 0);
    int8_t y[4];
    assert_int_equal(qmac_avgpool_tflite(&p, &xd, QMAC_DT_INT8, x, &yd, -128, 127, y), QMAC_OK);
    const int8_t expect[4] = {-2, 2, -1, -4};
    assert_memory_equal(y, expect, sizeof expect);

    const int8_t x2[8] = {-1, -1, -1, 0, -1, 0, -1, 0};
    const qmac_dims xd2 = {1, 2, 4, 1}, yd2 = {1, 1, 2, 1};
    const qmac_pool_params p2 = pparams(2, 2, 2, 2, 0, 0, 0, 0);
    assert_int_equal(qmac_avgpool_tflite(&p2, &xd2, QMAC_DT_INT8, x2, &yd2, -128, 127, y), QMAC_OK);
    assert_int_equal(y[0], -1);
    assert_int_equal(y[1], -1);
}

/* Padded taps are neither summed nor counted. x = [4 8], 1x2 window, pad left 1:
 * out0 = {4} -> 4, out1 = {4 8} -> (12+1)/2 = 6.
 * SAME on [3 6 9] with k 2: odd pixel at the end -> {3 6} {6 9} {9} -> (9+1)/2 = 5, (15+1)/2 = 8, 9
 * (the odd pixel first would give 3 5 8). */
static void test_pool_avgpool_tflite_padding_excluded(void **state)
{
    (void)state;
    const int8_t x[2] = {4, 8};
    const qmac_dims xd = {1, 1, 2, 1}, yd = {1, 1, 2, 1};
    const qmac_pool_params p = pparams(1, 2, 1, 1, 0, 1, 0, 0);
    int8_t y[3];
    assert_int_equal(qmac_avgpool_tflite(&p, &xd, QMAC_DT_INT8, x, &yd, -128, 127, y), QMAC_OK);
    assert_int_equal(y[0], 4);
    assert_int_equal(y[1], 6);

    const int8_t x3[3] = {3, 6, 9};
    const qmac_dims xd3 = {1, 1, 3, 1}, yd3 = {1, 1, 3, 1};
    int32_t before, after, out;
    qmac_same_padding(3, 2, 1, 1, 0, &before, &after, &out);
    const qmac_pool_params ps = pparams(1, 2, 1, 1, 0, before, 0, after);
    assert_int_equal(qmac_avgpool_tflite(&ps, &xd3, QMAC_DT_INT8, x3, &yd3, -128, 127, y), QMAC_OK);
    const int8_t expect[3] = {5, 8, 9};
    assert_memory_equal(y, expect, sizeof expect);
}

/* TFLite global average: [1 2 3 4] -> (10+2)/4 = 3 (2.5 away from zero); [-1 -2 -3 -4] -> -3. */
static void test_pool_global_avgpool_tflite(void **state)
{
    (void)state;
    const int8_t x[8] = {1, -1, 2, -2, 3, -3, 4, -4}; /* 2x2 image, 2 channels */
    const qmac_dims xd = {1, 2, 2, 2};
    int8_t y[2];
    assert_int_equal(qmac_global_avgpool_tflite(&xd, QMAC_DT_INT8, x, -128, 127, y), QMAC_OK);
    assert_int_equal(y[0], 3);
    assert_int_equal(y[1], -3);
}

/* ORT, unit scales and zero points 0 so every float step is exact.
 * x = [4 8], 1x2 window, pad left 1: count_include_pad 1 -> 4/2 = 2, 12/2 = 6; 0 -> 4, 6. */
static void test_pool_avgpool_onnxrt_count_include_pad(void **state)
{
    (void)state;
    const int8_t x[2] = {4, 8};
    const qmac_dims xd = {1, 1, 2, 1}, yd = {1, 1, 2, 1};
    const qmac_pool_params p = pparams(1, 2, 1, 1, 0, 1, 0, 0);
    int8_t y[2];
    assert_int_equal(qmac_avgpool_onnxrt(&p, 1, &xd, QMAC_DT_INT8, x, 1.0f, 0, &yd, 1.0f, 0, y), QMAC_OK);
    assert_int_equal(y[0], 2);
    assert_int_equal(y[1], 6);
    assert_int_equal(qmac_avgpool_onnxrt(&p, 0, &xd, QMAC_DT_INT8, x, 1.0f, 0, &yd, 1.0f, 0, y), QMAC_OK);
    assert_int_equal(y[0], 4);
    assert_int_equal(y[1], 6);
}

/* ORT rounds half to even: windows [1 2] [2 3] [-1 -2] [-2 -3] -> 1.5 2.5 -1.5 -2.5 -> 2 2 -2 -2
 * (TFLite would give 2 3 -2 -3). */
static void test_pool_avgpool_onnxrt_ties_to_even(void **state)
{
    (void)state;
    const int8_t x[8] = {1, 2, 2, 3, -1, -2, -2, -3};
    const qmac_dims xd = {1, 1, 8, 1}, yd = {1, 1, 4, 1};
    const qmac_pool_params p = pparams(1, 2, 1, 2, 0, 0, 0, 0);
    int8_t y[4];
    assert_int_equal(qmac_avgpool_onnxrt(&p, 0, &xd, QMAC_DT_INT8, x, 1.0f, 0, &yd, 1.0f, 0, y), QMAC_OK);
    const int8_t expect[4] = {2, 2, -2, -2};
    assert_memory_equal(y, expect, sizeof expect);
}

/* Scales and zero points (all exact in float): x_scale 0.5, x_zp 10, y_scale 0.25, y_zp -5.
 * x = [12 14 20] -> dequantized [1 2 5]; windows of 2, stride 1:
 *   (1+2)/2 = 1.5 -> /0.25 = 6 -> -5 -> 1;   (2+5)/2 = 3.5 -> 14 -> 9.
 * y_scale 0.01 with [100 100 100]: 10000 -> saturates to 127. */
static void test_pool_avgpool_onnxrt_scales_and_saturation(void **state)
{
    (void)state;
    const int8_t x[3] = {12, 14, 20};
    const qmac_dims xd = {1, 1, 3, 1}, yd = {1, 1, 2, 1};
    const qmac_pool_params p = pparams(1, 2, 1, 1, 0, 0, 0, 0);
    int8_t y[2];
    assert_int_equal(qmac_avgpool_onnxrt(&p, 0, &xd, QMAC_DT_INT8, x, 0.5f, 10, &yd, 0.25f, -5, y), QMAC_OK);
    assert_int_equal(y[0], 1);
    assert_int_equal(y[1], 9);
    const uint8_t xu[3] = {100, 100, 100};
    uint8_t yu[2];
    assert_int_equal(qmac_avgpool_onnxrt(&p, 0, &xd, QMAC_DT_UINT8, xu, 1.0f, 0, &yd, 0.01f, 0, yu), QMAC_OK);
    assert_int_equal(yu[0], 255);
    int8_t y8[2];
    const int8_t x8[3] = {100, 100, 100};
    assert_int_equal(qmac_avgpool_onnxrt(&p, 0, &xd, QMAC_DT_INT8, x8, 1.0f, 0, &yd, 0.01f, 0, y8), QMAC_OK);
    assert_int_equal(y8[0], 127);
    assert_int_equal(qmac_avgpool_onnxrt(&p, 0, &xd, QMAC_DT_INT8, x8, -1.0f, 0, &yd, 0.01f, 0, y8),
                     QMAC_ERR_INVALID_ARG);
}

/* Ceil mode: x = [2 4 6], k 2, stride 2 -> 2 outputs; the second window is [6, past the end].
 * ORT divides by the full kernel (2) with count_include_pad even there: 3, 3; without: 3, 6. */
static void test_pool_avgpool_onnxrt_ceil_mode_window_past_the_end(void **state)
{
    (void)state;
    const int8_t x[3] = {2, 4, 6};
    const qmac_dims xd = {1, 1, 3, 1}, yd = {1, 1, 2, 1};
    const qmac_pool_params p = pparams(1, 2, 1, 2, 0, 0, 0, 0);
    assert_int_equal(qmac_conv_out_size(3, 2, 2, 1, 0, 0, 1), 2);
    int8_t y[2];
    assert_int_equal(qmac_avgpool_onnxrt(&p, 1, &xd, QMAC_DT_INT8, x, 1.0f, 0, &yd, 1.0f, 0, y), QMAC_OK);
    assert_int_equal(y[0], 3);
    assert_int_equal(y[1], 3);
    assert_int_equal(qmac_avgpool_onnxrt(&p, 0, &xd, QMAC_DT_INT8, x, 1.0f, 0, &yd, 1.0f, 0, y), QMAC_OK);
    assert_int_equal(y[0], 3);
    assert_int_equal(y[1], 6);
    /* TFLite's integer pool counts in-image taps too: (6+0)/1 = 6 */
    assert_int_equal(qmac_avgpool_tflite(&p, &xd, QMAC_DT_INT8, x, &yd, -128, 127, y), QMAC_OK);
    assert_int_equal(y[1], 6);
}

/* ORT global: x (2x2, 2 channels) = [1 2 3 4] and [5 6 7 8], uint8, x_scale = y_scale = 1:
 *   scale = 1 / (1 * 4) = 0.25; zp 0: acc 10 -> 2.5 -> 2 (ties to even)
 *   x_zp 1, y_zp 3: acc 10 - 4 = 6 -> 1.5 -> 2 -> 5;  acc 26 - 4 = 22 -> 5.5 -> 6 -> 9. */
static void test_pool_global_avgpool_onnxrt(void **state)
{
    (void)state;
    const uint8_t x[8] = {1, 5, 2, 6, 3, 7, 4, 8};
    const qmac_dims xd = {1, 2, 2, 2};
    uint8_t y[2];
    assert_int_equal(qmac_global_avgpool_onnxrt(&xd, QMAC_DT_UINT8, x, 1.0f, 0, 1.0f, 0, y), QMAC_OK);
    assert_int_equal(y[0], 2);
    assert_int_equal(y[1], 6); /* 26/4 = 6.5 -> 6 */
    assert_int_equal(qmac_global_avgpool_onnxrt(&xd, QMAC_DT_UINT8, x, 1.0f, 1, 1.0f, 3, y), QMAC_OK);
    assert_int_equal(y[0], 5);
    assert_int_equal(y[1], 9);

    /* int8: [-1 -2 -3 -4] -> -10/4 = -2.5 -> -2; y_zp 126 with [100 x4] -> 226 -> 127 */
    const int8_t xs[8] = {-1, 100, -2, 100, -3, 100, -4, 100};
    int8_t ys[2];
    assert_int_equal(qmac_global_avgpool_onnxrt(&xd, QMAC_DT_INT8, xs, 1.0f, 0, 1.0f, 0, ys), QMAC_OK);
    assert_int_equal(ys[0], -2);
    assert_int_equal(ys[1], 100);
    assert_int_equal(qmac_global_avgpool_onnxrt(&xd, QMAC_DT_INT8, xs, 1.0f, 0, 1.0f, 126, ys), QMAC_OK);
    assert_int_equal(ys[1], 127);

    /* QLinearAveragePool with a kernel covering the image and no padding takes the same path */
    const qmac_pool_params p = pparams(2, 2, 1, 1, 0, 0, 0, 0);
    const qmac_dims yd = {1, 1, 1, 2};
    uint8_t y2[2];
    assert_int_equal(qmac_avgpool_onnxrt(&p, 0, &xd, QMAC_DT_UINT8, x, 1.0f, 1, &yd, 1.0f, 3, y2), QMAC_OK);
    assert_int_equal(y2[0], 5);
    assert_int_equal(y2[1], 9);
}

/* ORT rejects x_scale / (y_scale * HW) outside [2^-32, 256): 1000 / (1 * 1) and 1e-10 / 1. */
static void test_pool_global_avgpool_onnxrt_range_errors(void **state)
{
    (void)state;
    const uint8_t x[1] = {1};
    const qmac_dims xd = {1, 1, 1, 1};
    uint8_t y[1];
    assert_int_equal(qmac_global_avgpool_onnxrt(&xd, QMAC_DT_UINT8, x, 1000.0f, 0, 1.0f, 0, y),
                     QMAC_ERR_INVALID_ARG);
    assert_non_null(strstr(qmac_last_error(), "range"));
    assert_int_equal(qmac_global_avgpool_onnxrt(&xd, QMAC_DT_UINT8, x, 1e-10f, 0, 1.0f, 0, y),
                     QMAC_ERR_INVALID_ARG);
    assert_int_equal(qmac_global_avgpool_onnxrt(&xd, QMAC_DT_UINT8, x, 255.0f, 0, 1.0f, 0, y), QMAC_OK);
    assert_int_equal(qmac_global_avgpool_onnxrt(&xd, QMAC_DT_INT16, x, 1.0f, 0, 1.0f, 0, y),
                     QMAC_ERR_INVALID_ARG);
    assert_int_equal(qmac_global_avgpool_onnxrt(&xd, QMAC_DT_UINT8, x, 1.0f, 256, 1.0f, 0, y),
                     QMAC_ERR_INVALID_ARG);
}

static void test_pool_check_rejects_bad_windows(void **state)
{
    (void)state;
    const int8_t x[16] = {0};
    int8_t y[16];
    const qmac_dims xd = {1, 4, 4, 1};
    qmac_pool_params p = pparams(2, 2, 2, 2, 0, 0, 0, 0);
    const qmac_dims yd = {1, 2, 2, 1};
    assert_int_equal(qmac_pool_check(&p, &xd, &yd), QMAC_OK);
    const qmac_dims ybad = {1, 3, 2, 1};
    assert_int_equal(qmac_pool_check(&p, &xd, &ybad), QMAC_ERR_SHAPE);
    const qmac_dims ych = {1, 2, 2, 2};
    assert_int_equal(qmac_pool_check(&p, &xd, &ych), QMAC_ERR_SHAPE);
    p.stride_h = 0;
    assert_int_equal(qmac_pool_check(&p, &xd, &yd), QMAC_ERR_INVALID_ARG);
    p.stride_h = 2;
    p.k_w = 0;
    assert_int_equal(qmac_pool_check(&p, &xd, &yd), QMAC_ERR_INVALID_ARG);

    /* a dilated window whose taps all fall in the padding: in 2, k 2, dilation 3, pads 1/1 -> one
     * output, taps at -1 and 2: there is nothing to average (TFLite would divide by 0) */
    const qmac_dims xd2 = {1, 2, 1, 1}, yd2 = {1, 1, 1, 1};
    qmac_pool_params pd = pparams(2, 1, 1, 1, 1, 0, 1, 0);
    pd.dil_h = 3;
    assert_int_equal(qmac_pool_check(&pd, &xd2, &yd2), QMAC_ERR_SHAPE);
    assert_int_equal(qmac_avgpool_tflite(&pd, &xd2, QMAC_DT_INT8, x, &yd2, -128, 127, y), QMAC_ERR_SHAPE);
    assert_int_equal(qmac_maxpool(&pd, &xd2, QMAC_DT_INT8, x, &yd2, -128, 127, y), QMAC_ERR_SHAPE);

    /* ORT: no dilation, pads smaller than the kernel */
    pd.pad_top = pd.pad_bottom = 0;
    const qmac_dims yd3 = {1, 1, 1, 1}, xd3 = {1, 4, 1, 1};
    assert_int_equal(qmac_avgpool_onnxrt(&pd, 0, &xd3, QMAC_DT_INT8, x, 1.0f, 0, &yd3, 1.0f, 0, y),
                     QMAC_ERR_UNSUPPORTED);
    /* pad_right 2 >= k_w 2 yet every window sees the image: in 4, stride 3 -> windows {0 1} {3 pad} */
    const qmac_pool_params pp = pparams(1, 2, 1, 3, 0, 0, 0, 2);
    const qmac_dims xd4 = {1, 1, 4, 1}, yd4 = {1, 1, 2, 1};
    assert_int_equal(qmac_pool_check(&pp, &xd4, &yd4), QMAC_OK);
    assert_int_equal(qmac_avgpool_onnxrt(&pp, 0, &xd4, QMAC_DT_INT8, x, 1.0f, 0, &yd4, 1.0f, 0, y),
                     QMAC_ERR_INVALID_ARG);
    /* pad_top 2 >= k_h 2: the first window lies entirely in the padding */
    const qmac_pool_params pt = pparams(2, 2, 1, 1, 2, 0, 0, 0);
    const qmac_dims yd5 = {1, 5, 3, 1};
    assert_int_equal(qmac_pool_check(&pt, &xd, &yd5), QMAC_ERR_SHAPE);
    /* activation range outside the dtype */
    assert_int_equal(qmac_maxpool(&p, &xd, QMAC_DT_INT8, x, &yd, -129, 127, y), QMAC_ERR_INVALID_ARG);
    assert_int_equal(qmac_maxpool(&p, &xd, QMAC_DT_INT8, x, &yd, 5, 4, y), QMAC_ERR_INVALID_ARG);
}

/* A 2^30-tall window padded by 2^30 - 1 rows above a one-pixel image: one output, one tap (7).
 * Only in-image taps are visited, so this returns at once. */
static void test_pool_huge_window_visits_only_image_taps(void **state)
{
    (void)state;
    const int8_t x[1] = {7};
    const qmac_dims xd = {1, 1, 1, 1}, yd = {1, 1, 1, 1};
    const qmac_pool_params p = pparams(1 << 30, 1, 1, 1, (1 << 30) - 1, 0, 0, 0);
    int8_t y[1] = {0};
    assert_int_equal(qmac_maxpool(&p, &xd, QMAC_DT_INT8, x, &yd, -128, 127, y), QMAC_OK);
    assert_int_equal(y[0], 7);
    y[0] = 0;
    assert_int_equal(qmac_avgpool_tflite(&p, &xd, QMAC_DT_INT8, x, &yd, -128, 127, y), QMAC_OK);
    assert_int_equal(y[0], 7);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pool_maxpool_basic),
        cmocka_unit_test(test_pool_maxpool_padding_and_negative_values),
        cmocka_unit_test(test_pool_avgpool_tflite_rounding_ties_away_from_zero),
        cmocka_unit_test(test_pool_avgpool_tflite_padding_excluded),
        cmocka_unit_test(test_pool_global_avgpool_tflite),
        cmocka_unit_test(test_pool_avgpool_onnxrt_count_include_pad),
        cmocka_unit_test(test_pool_avgpool_onnxrt_ties_to_even),
        cmocka_unit_test(test_pool_avgpool_onnxrt_scales_and_saturation),
        cmocka_unit_test(test_pool_avgpool_onnxrt_ceil_mode_window_past_the_end),
        cmocka_unit_test(test_pool_global_avgpool_onnxrt),
        cmocka_unit_test(test_pool_global_avgpool_onnxrt_range_errors),
        cmocka_unit_test(test_pool_check_rejects_bad_windows),
        cmocka_unit_test(test_pool_huge_window_visits_only_image_taps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
