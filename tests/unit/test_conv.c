/* test_conv.c - convolution, depthwise, fully-connected and matmul accumulators. Expected values
 * are worked out by hand in the comments; the random test compares against a separately written
 * naive convolution that pads the input explicitly with the zero point. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "qmac/kernels.h"

static qmac_conv_params cparams(int32_t sh, int32_t sw, int32_t dh, int32_t dw, int32_t pt, int32_t pl,
                                int32_t pb, int32_t pr, int32_t groups)
{
    qmac_conv_params p = {sh, sw, dh, dw, pt, pl, pb, pr, groups};
    return p;
}

static qmac_qbuf qb(qmac_dtype dt, const void *data, int32_t zp, const int32_t *zp_ch)
{
    qmac_qbuf q = {dt, data, zp, zp_ch};
    return q;
}

static void test_conv_out_size_floor_and_ceil(void **state)
{
    (void)state;
    assert_int_equal(qmac_conv_out_size(5, 3, 1, 1, 0, 0, 0), 3);
    assert_int_equal(qmac_conv_out_size(5, 3, 2, 1, 1, 1, 0), 3); /* (5+2-3)/2+1 */
    assert_int_equal(qmac_conv_out_size(5, 2, 2, 1, 0, 0, 0), 2); /* 3/2+1 */
    assert_int_equal(qmac_conv_out_size(5, 2, 2, 1, 0, 0, 1), 3); /* ceil(3/2)+1, last start 4 < 5 */
    /* ceil(3/2)+1 = 3, but the third window would start at 4 = in + pad_before: dropped */
    assert_int_equal(qmac_conv_out_size(4, 1, 2, 1, 0, 0, 1), 2);
    assert_int_equal(qmac_conv_out_size(5, 2, 1, 2, 0, 0, 0), 3);  /* dilated kernel spans 3 */
    assert_int_equal(qmac_conv_out_size(2, 3, 1, 1, 0, 0, 0), 0);  /* does not fit */
    assert_int_equal(qmac_conv_out_size(5, 3, 0, 1, 0, 0, 0), 0);  /* stride 0 */
    assert_int_equal(qmac_conv_out_size(5, 3, 1, 1, -1, 0, 0), 0); /* negative pad */
}

static void test_conv_same_padding_odd_pixel_placement(void **state)
{
    (void)state;
    int32_t b, a, o;
    qmac_same_padding(4, 2, 1, 1, 0, &b, &a, &o); /* out 4, total (4-1)+2-4 = 1 */
    assert_int_equal(o, 4);
    assert_int_equal(b, 0);
    assert_int_equal(a, 1);
    qmac_same_padding(4, 2, 1, 1, 1, &b, &a, &o); /* SAME_LOWER: odd pixel first */
    assert_int_equal(b, 1);
    assert_int_equal(a, 0);
    qmac_same_padding(6, 3, 2, 1, 0, &b, &a, &o); /* out 3, total 2*2+3-6 = 1 */
    assert_int_equal(o, 3);
    assert_int_equal(b, 0);
    assert_int_equal(a, 1);
    qmac_same_padding(5, 3, 1, 2, 0, &b, &a, &o); /* dilated k = 5: total 4+5-5 = 4 */
    assert_int_equal(o, 5);
    assert_int_equal(b, 2);
    assert_int_equal(a, 2);
    qmac_same_padding(7, 1, 3, 1, 0, &b, &a, &o); /* out 3, total 2*3+1-7 = 0 */
    assert_int_equal(o, 3);
    assert_int_equal(b + a, 0);
}

/* x = [1 2 3 4] (1x1x4x1), w = [1 10] (1x1x2x1), zp 0.
 * SAME upper (pad right 1): [1+20, 2+30, 3+40, 4+0]; SAME lower (pad left 1): [0+10, 1+20, 2+30, 3+40]. */
static void test_conv_same_padding_result(void **state)
{
    (void)state;
    const int8_t x[4] = {1, 2, 3, 4}, w[2] = {1, 10};
    const qmac_dims xd = {1, 1, 4, 1}, wd = {1, 1, 2, 1}, yd = {1, 1, 4, 1};
    const qmac_qbuf xq = qb(QMAC_DT_INT8, x, 0, NULL), wq = qb(QMAC_DT_INT8, w, 0, NULL);
    int32_t acc[4];
    qmac_conv_params p = cparams(1, 1, 1, 1, 0, 0, 0, 1, 1);
    assert_int_equal(qmac_conv2d_acc(&p, &xd, &xq, &wd, &wq, NULL, &yd, acc), QMAC_OK);
    const int32_t upper[4] = {21, 32, 43, 4};
    assert_memory_equal(acc, upper, sizeof upper);
    p = cparams(1, 1, 1, 1, 0, 1, 0, 0, 1);
    assert_int_equal(qmac_conv2d_acc(&p, &xd, &xq, &wd, &wq, NULL, &yd, acc), QMAC_OK);
    const int32_t lower[4] = {10, 21, 32, 43};
    assert_memory_equal(acc, lower, sizeof lower);
}

/* x = [[1 2] [3 4]], zp 1 -> x - zp = [[0 1] [2 3]]; w = [[1 2 3] [4 5 6] [7 8 9]]; pad 1 all round.
 * out(0,0) = 5*0 + 6*1 + 8*2 + 9*3 = 49   out(0,1) = 4*0 + 5*1 + 7*2 + 8*3 = 43
 * out(1,0) = 2*0 + 3*1 + 5*2 + 6*3 = 31   out(1,1) = 1*0 + 2*1 + 4*2 + 5*3 = 25   (+ bias 100)
 * Skipping padded taps must equal convolving the input padded with zp (= 1) and no padding. */
static void test_conv_padding_skip_equals_zp_padding(void **state)
{
    (void)state;
    const uint8_t x[4] = {1, 2, 3, 4};
    const int8_t w[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    const int32_t bias[1] = {100};
    const qmac_dims xd = {1, 2, 2, 1}, wd = {1, 3, 3, 1}, yd = {1, 2, 2, 1};
    const qmac_qbuf xq = qb(QMAC_DT_UINT8, x, 1, NULL), wq = qb(QMAC_DT_INT8, w, 0, NULL);
    const qmac_conv_params p = cparams(1, 1, 1, 1, 1, 1, 1, 1, 1);
    int32_t acc[4];
    assert_int_equal(qmac_conv2d_acc(&p, &xd, &xq, &wd, &wq, bias, &yd, acc), QMAC_OK);
    const int32_t expect[4] = {149, 143, 131, 125};
    assert_memory_equal(acc, expect, sizeof expect);

    const uint8_t xpad[16] = {1, 1, 1, 1, 1, 1, 2, 1, 1, 3, 4, 1, 1, 1, 1, 1}; /* padded with zp = 1 */
    const qmac_dims xpd = {1, 4, 4, 1};
    const qmac_qbuf xpq = qb(QMAC_DT_UINT8, xpad, 1, NULL);
    const qmac_conv_params p0 = cparams(1, 1, 1, 1, 0, 0, 0, 0, 1);
    int32_t acc2[4];
    assert_int_equal(qmac_conv2d_acc(&p0, &xpd, &xpq, &wd, &wq, bias, &yd, acc2), QMAC_OK);
    assert_memory_equal(acc2, expect, sizeof expect);
}

/* x = [1 2 3 4 5], w = [1 100], dilation 2: taps x[i] and x[i+2] -> [1+300, 2+400, 3+500]. */
static void test_conv_dilation(void **state)
{
    (void)state;
    const int8_t x[5] = {1, 2, 3, 4, 5}, w[2] = {1, 100};
    const qmac_dims xd = {1, 1, 5, 1}, wd = {1, 1, 2, 1}, yd = {1, 1, 3, 1};
    const qmac_qbuf xq = qb(QMAC_DT_INT8, x, 0, NULL), wq = qb(QMAC_DT_INT8, w, 0, NULL);
    const qmac_conv_params p = cparams(1, 1, 1, 2, 0, 0, 0, 0, 1);
    int32_t acc[3];
    assert_int_equal(qmac_conv2d_acc(&p, &xd, &xq, &wd, &wq, NULL, &yd, acc), QMAC_OK);
    const int32_t expect[3] = {301, 402, 503};
    assert_memory_equal(acc, expect, sizeof expect);
    /* strided and dilated vertically: x column [1..5], stride 2, dilation 2, k 2 -> out 2: [1+300, 3+500] */
    const qmac_dims xd2 = {1, 5, 1, 1}, wd2 = {1, 2, 1, 1}, yd2 = {1, 2, 1, 1};
    const qmac_conv_params p2 = cparams(2, 1, 2, 1, 0, 0, 0, 0, 1);
    assert_int_equal(qmac_conv2d_acc(&p2, &xd2, &xq, &wd2, &wq, NULL, &yd2, acc), QMAC_OK);
    assert_int_equal(acc[0], 301);
    assert_int_equal(acc[1], 503);
}

/* Cin = 4, groups = 2, Cout = 4 (2 per group): oc 0,1 read channels 0,1; oc 2,3 read 2,3.
 * x = [1 2 3 4], w (OHWI, Cin/groups = 2) = [1 0] [0 1] [1 0] [0 1] -> [1 2 3 4]. */
static void test_conv_groups(void **state)
{
    (void)state;
    const int8_t x[4] = {1, 2, 3, 4}, w[8] = {1, 0, 0, 1, 1, 0, 0, 1};
    const qmac_dims xd = {1, 1, 1, 4}, wd = {4, 1, 1, 2}, yd = {1, 1, 1, 4};
    const qmac_qbuf xq = qb(QMAC_DT_INT8, x, 0, NULL), wq = qb(QMAC_DT_INT8, w, 0, NULL);
    const qmac_conv_params p = cparams(1, 1, 1, 1, 0, 0, 0, 0, 2);
    int32_t acc[4];
    assert_int_equal(qmac_conv2d_acc(&p, &xd, &xq, &wd, &wq, NULL, &yd, acc), QMAC_OK);
    const int32_t expect[4] = {1, 2, 3, 4};
    assert_memory_equal(acc, expect, sizeof expect);
    /* groups = 2, Cout = 2: w[0] = [1 1] on channels 0,1 -> 3; w[1] = [1 -1] on 2,3 -> -1 */
    const int8_t w2[4] = {1, 1, 1, -1};
    const qmac_dims wd2 = {2, 1, 1, 2}, yd2 = {1, 1, 1, 2};
    const qmac_qbuf wq2 = qb(QMAC_DT_INT8, w2, 0, NULL);
    assert_int_equal(qmac_conv2d_acc(&p, &xd, &xq, &wd2, &wq2, NULL, &yd2, acc), QMAC_OK);
    assert_int_equal(acc[0], 3);
    assert_int_equal(acc[1], -1);
}

/* Cin = 2, multiplier 2: oc = ic*2 + m. x = [10 20], filter [1 2 3 4]:
 * oc0 = 10*1, oc1 = 10*2, oc2 = 20*3, oc3 = 20*4. */
static void test_depthwise_multiplier_ordering(void **state)
{
    (void)state;
    const int8_t x[2] = {10, 20}, w[4] = {1, 2, 3, 4};
    const qmac_dims xd = {1, 1, 1, 2}, wd = {1, 1, 1, 4}, yd = {1, 1, 1, 4};
    const qmac_qbuf xq = qb(QMAC_DT_INT8, x, 0, NULL), wq = qb(QMAC_DT_INT8, w, 0, NULL);
    const qmac_conv_params p = cparams(1, 1, 1, 1, 0, 0, 0, 0, 99); /* groups ignored */
    int32_t acc[4];
    assert_int_equal(qmac_depthwise_conv2d_acc(&p, &xd, &xq, &wd, &wq, 2, NULL, &yd, acc), QMAC_OK);
    const int32_t expect[4] = {10, 20, 60, 80};
    assert_memory_equal(acc, expect, sizeof expect);
    /* wrong multiplier for the filter width */
    assert_int_equal(qmac_depthwise_conv2d_acc(&p, &xd, &xq, &wd, &wq, 3, NULL, &yd, acc), QMAC_ERR_SHAPE);
}

/* Per-channel weight zero points: x = [3], w = [5 5], zp = [1 -2] -> [3*4, 3*7] = [12 21].
 * Depthwise: x = [10 20], w = [3 3], zp = [1 2] -> [10*2, 20*1]. */
static void test_conv_per_channel_weight_zero_points(void **state)
{
    (void)state;
    const int8_t x[1] = {3}, w[2] = {5, 5};
    const int32_t zp[2] = {1, -2};
    const qmac_dims xd = {1, 1, 1, 1}, wd = {2, 1, 1, 1}, yd = {1, 1, 1, 2};
    const qmac_qbuf xq = qb(QMAC_DT_INT8, x, 0, NULL), wq = qb(QMAC_DT_INT8, w, 0, zp);
    const qmac_conv_params p = cparams(1, 1, 1, 1, 0, 0, 0, 0, 1);
    int32_t acc[2];
    assert_int_equal(qmac_conv2d_acc(&p, &xd, &xq, &wd, &wq, NULL, &yd, acc), QMAC_OK);
    assert_int_equal(acc[0], 12);
    assert_int_equal(acc[1], 21);

    const int8_t xd2v[2] = {10, 20}, wdw[2] = {3, 3};
    const int32_t zpdw[2] = {1, 2};
    const qmac_dims xd2 = {1, 1, 1, 2}, wd2 = {1, 1, 1, 2}, yd2 = {1, 1, 1, 2};
    const qmac_qbuf xq2 = qb(QMAC_DT_INT8, xd2v, 0, NULL), wq2 = qb(QMAC_DT_INT8, wdw, 0, zpdw);
    assert_int_equal(qmac_depthwise_conv2d_acc(&p, &xd2, &xq2, &wd2, &wq2, 1, NULL, &yd2, acc), QMAC_OK);
    assert_int_equal(acc[0], 20);
    assert_int_equal(acc[1], 20);
}

/* int16: (32767 - (-32768))^2 = 65535^2 = 4294836225 = 2^32 - 131071 -> -131071 modulo 2^32.
 * bias INT32_MAX + 1*1 wraps to INT32_MIN. */
static void test_conv_int32_wraparound(void **state)
{
    (void)state;
    const int16_t x[1] = {32767}, w[1] = {32767};
    const qmac_dims d1 = {1, 1, 1, 1};
    const qmac_qbuf xq = qb(QMAC_DT_INT16, x, -32768, NULL), wq = qb(QMAC_DT_INT16, w, -32768, NULL);
    const qmac_conv_params p = cparams(1, 1, 1, 1, 0, 0, 0, 0, 1);
    int32_t acc[1];
    assert_int_equal(qmac_conv2d_acc(&p, &d1, &xq, &d1, &wq, NULL, &d1, acc), QMAC_OK);
    assert_int_equal(acc[0], -131071);

    /* two such products: 2 * (2^32 - 131071) = -262142 modulo 2^32 */
    const int16_t x2[2] = {32767, 32767}, w2[2] = {32767, 32767};
    const qmac_dims xd2 = {1, 1, 1, 2}, wd2 = {1, 1, 1, 2};
    const qmac_qbuf xq2 = qb(QMAC_DT_INT16, x2, -32768, NULL), wq2 = qb(QMAC_DT_INT16, w2, -32768, NULL);
    assert_int_equal(qmac_conv2d_acc(&p, &xd2, &xq2, &wd2, &wq2, NULL, &d1, acc), QMAC_OK);
    assert_int_equal(acc[0], -262142);

    const int8_t one[1] = {1};
    const int32_t bias[1] = {INT32_MAX};
    const qmac_qbuf oq = qb(QMAC_DT_INT8, one, 0, NULL);
    assert_int_equal(qmac_conv2d_acc(&p, &d1, &oq, &d1, &oq, bias, &d1, acc), QMAC_OK);
    assert_int_equal(acc[0], INT32_MIN);

    /* the same through fully connected and matmul */
    assert_int_equal(qmac_fc_acc(1, 1, 1, &oq, &oq, bias, acc), QMAC_OK);
    assert_int_equal(acc[0], INT32_MIN);
    assert_int_equal(qmac_matmul_acc(1, 2, 1, &xq2, &wq2, NULL, acc), QMAC_OK);
    assert_int_equal(acc[0], -262142);
}

/* Requantized conv: accumulators [149 143 131 125] from the padding test, rule A with multiplier
 * 2^30 and shift 0 (x 0.5): SRDHM rounds half up -> [75 72 66 63], + zp -3 -> [72 69 63 60],
 * then activation max 70 -> [70 69 63 60]. */
static void test_conv_q_requantizes(void **state)
{
    (void)state;
    const uint8_t x[4] = {1, 2, 3, 4};
    const int8_t w[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    const int32_t bias[1] = {100};
    const qmac_dims xd = {1, 2, 2, 1}, wd = {1, 3, 3, 1}, yd = {1, 2, 2, 1};
    const qmac_qbuf xq = qb(QMAC_DT_UINT8, x, 1, NULL), wq = qb(QMAC_DT_INT8, w, 0, NULL);
    const qmac_conv_params p = cparams(1, 1, 1, 1, 1, 1, 1, 1, 1);
    int32_t mult[1] = {1 << 30}, shift[1] = {0};
    qmac_requant rq;
    memset(&rq, 0, sizeof rq);
    rq.rule = QMAC_REQUANT_TFLITE;
    rq.n_ch = 1;
    rq.multiplier = mult;
    rq.shift = shift;
    rq.out_zp = -3;
    rq.act_min = -128;
    rq.act_max = 70;
    int8_t y[4];
    int32_t scratch[4];
    assert_int_equal(qmac_conv2d_q(&p, &xd, &xq, &wd, &wq, bias, &rq, &yd, QMAC_DT_INT8, y, scratch),
                     QMAC_OK);
    const int8_t expect[4] = {70, 69, 63, 60};
    assert_memory_equal(y, expect, sizeof expect);
    rq.n_ch = 3; /* neither 1 nor Cout */
    assert_int_equal(qmac_conv2d_q(&p, &xd, &xq, &wd, &wq, bias, &rq, &yd, QMAC_DT_INT8, y, scratch),
                     QMAC_ERR_SHAPE);
}

static void test_conv_check_rejects_bad_arguments(void **state)
{
    (void)state;
    const int8_t x[8] = {0}, w[8] = {0};
    int32_t acc[8];
    const qmac_dims xd = {1, 2, 2, 2}, wd = {2, 1, 1, 2}, yd = {1, 2, 2, 2};
    const qmac_qbuf xq = qb(QMAC_DT_INT8, x, 0, NULL), wq = qb(QMAC_DT_INT8, w, 0, NULL);
    qmac_conv_params p = cparams(1, 1, 1, 1, 0, 0, 0, 0, 1);
    assert_int_equal(qmac_conv2d_check(&p, &xd, &wd, &yd), QMAC_OK);

    p.groups = 3; /* does not divide Cin = 2 */
    assert_int_equal(qmac_conv2d_check(&p, &xd, &wd, &yd), QMAC_ERR_SHAPE);
    assert_non_null(strstr(qmac_last_error(), "groups"));
    p.groups = 1;
    const qmac_dims ybad = {1, 3, 2, 2};
    assert_int_equal(qmac_conv2d_check(&p, &xd, &wd, &ybad), QMAC_ERR_SHAPE);
    const qmac_dims ych = {1, 2, 2, 3};
    assert_int_equal(qmac_conv2d_check(&p, &xd, &wd, &ych), QMAC_ERR_SHAPE);
    const qmac_dims zero = {1, 0, 2, 2};
    assert_int_equal(qmac_conv2d_check(&p, &zero, &wd, &yd), QMAC_ERR_SHAPE);
    p.stride_w = 0;
    assert_int_equal(qmac_conv2d_check(&p, &xd, &wd, &yd), QMAC_ERR_INVALID_ARG);
    p.stride_w = 1;
    p.pad_left = -1;
    assert_int_equal(qmac_conv2d_check(&p, &xd, &wd, &yd), QMAC_ERR_INVALID_ARG);
    p.pad_left = 0;
    const qmac_dims wbig = {2, 3, 1, 2}; /* 3-tall kernel on a 2-tall image, no padding */
    assert_int_equal(qmac_conv2d_check(&p, &xd, &wbig, &yd), QMAC_ERR_SHAPE);
    assert_int_equal(qmac_conv2d_check(NULL, &xd, &wd, &yd), QMAC_ERR_INVALID_ARG);

    const qmac_qbuf xzp = qb(QMAC_DT_INT8, x, 200, NULL); /* zp outside int8 */
    assert_int_equal(qmac_conv2d_acc(&p, &xd, &xzp, &wd, &wq, NULL, &yd, acc), QMAC_ERR_INVALID_ARG);
    const int32_t zp_ch[2] = {0, -129};
    const qmac_qbuf wzp = qb(QMAC_DT_INT8, w, 0, zp_ch);
    assert_int_equal(qmac_conv2d_acc(&p, &xd, &xq, &wd, &wzp, NULL, &yd, acc), QMAC_ERR_INVALID_ARG);
    const qmac_qbuf xnull = qb(QMAC_DT_INT8, NULL, 0, NULL);
    assert_int_equal(qmac_conv2d_acc(&p, &xd, &xnull, &wd, &wq, NULL, &yd, acc), QMAC_ERR_INVALID_ARG);
    const qmac_qbuf xf = qb(QMAC_DT_FLOAT32, x, 0, NULL);
    assert_int_equal(qmac_conv2d_acc(&p, &xd, &xf, &wd, &wq, NULL, &yd, acc), QMAC_ERR_INVALID_ARG);
    assert_int_equal(qmac_conv2d_acc(&p, &xd, &xq, &wd, &wq, NULL, &yd, NULL), QMAC_ERR_INVALID_ARG);
}

/* a = [[1 2 3] [4 5 6]] (uint8, zp 1) -> [[0 1 2] [3 4 5]];
 * b = [[1 0] [0 1] [1 1]] (int8, column zp [0 1]) -> columns [1 0 1] and [-1 0 0];
 * acc = [[2 0] [8 -3]] + bias [10 20] = [[12 20] [18 17]].
 * Per-row a zp [1 4]: row 1 becomes [0 1 2] -> [[12 20] [12 20]]. */
static void test_matmul_acc_zero_points(void **state)
{
    (void)state;
    const uint8_t a[6] = {1, 2, 3, 4, 5, 6};
    const int8_t b[6] = {1, 0, 0, 1, 1, 1};
    const int32_t bzp[2] = {0, 1}, bias[2] = {10, 20}, azp[2] = {1, 4};
    const qmac_qbuf aq = qb(QMAC_DT_UINT8, a, 1, NULL), bq = qb(QMAC_DT_INT8, b, 0, bzp);
    int32_t acc[4];
    assert_int_equal(qmac_matmul_acc(2, 3, 2, &aq, &bq, bias, acc), QMAC_OK);
    const int32_t expect[4] = {12, 20, 18, 17};
    assert_memory_equal(acc, expect, sizeof expect);
    const qmac_qbuf aq2 = qb(QMAC_DT_UINT8, a, 0, azp);
    assert_int_equal(qmac_matmul_acc(2, 3, 2, &aq2, &bq, bias, acc), QMAC_OK);
    const int32_t expect2[4] = {12, 20, 12, 20};
    assert_memory_equal(acc, expect2, sizeof expect2);
    assert_int_equal(qmac_matmul_acc(0, 3, 2, &aq, &bq, bias, acc), QMAC_ERR_SHAPE);
}

/* x = [[1 2 3] [-1 -2 -3]], zp -1 -> [[2 3 4] [0 -1 -2]]; w = [[1 1 1] [2 0 -2]], zp 1 ->
 * [[0 0 0] [1 -1 -3]]; acc = [[0, 2-3-12] [0, 0+1+6]] = [[0 -13] [0 7]]. */
static void test_fc_acc_weight_zero_point(void **state)
{
    (void)state;
    const int8_t x[6] = {1, 2, 3, -1, -2, -3}, w[6] = {1, 1, 1, 2, 0, -2};
    const qmac_qbuf xq = qb(QMAC_DT_INT8, x, -1, NULL), wq = qb(QMAC_DT_INT8, w, 1, NULL);
    int32_t acc[4];
    assert_int_equal(qmac_fc_acc(2, 3, 2, &xq, &wq, NULL, acc), QMAC_OK);
    const int32_t expect[4] = {0, -13, 0, 7};
    assert_memory_equal(acc, expect, sizeof expect);
    const int32_t zp_ch[2] = {1, 1};
    const qmac_qbuf xpc = qb(QMAC_DT_INT8, x, 0, zp_ch); /* activations are per-tensor only */
    assert_int_equal(qmac_fc_acc(2, 3, 2, &xpc, &wq, NULL, acc), QMAC_ERR_INVALID_ARG);
}

/* ---------------------------------------------------------------- random differential test */

static uint64_t rng_state;

static uint64_t rng_next(void)
{
    /* splitmix64 */
    uint64_t z = (rng_state += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

static int32_t rng_range(int32_t lo, int32_t hi) /* inclusive */
{
    return lo + (int32_t)(rng_next() % (uint64_t)(hi - lo + 1));
}

/* Naive convolution written independently of sw/src: builds the input padded with the zero
 * point, then slides the window over it with no bounds tests. int64 sums, wrapped at the end. */
static void naive_conv(const qmac_conv_params *p, const qmac_dims *xd, const int32_t *x, int32_t xzp,
                       const qmac_dims *wd, const int32_t *w, const int32_t *wzp, const int32_t *bias,
                       const qmac_dims *yd, int32_t *y)
{
    const int32_t ph = xd->h + p->pad_top + p->pad_bottom, pw = xd->w + p->pad_left + p->pad_right;
    int32_t *xp = malloc(sizeof *xp * (size_t)(xd->n * ph * pw * xd->c));
    assert_non_null(xp);
    for (int32_t i = 0; i < xd->n * ph * pw * xd->c; ++i)
        xp[i] = xzp;
    for (int32_t n = 0; n < xd->n; ++n)
        for (int32_t h = 0; h < xd->h; ++h)
            for (int32_t ww = 0; ww < xd->w; ++ww)
                for (int32_t c = 0; c < xd->c; ++c)
                    xp[((n * ph + h + p->pad_top) * pw + ww + p->pad_left) * xd->c + c] =
                        x[((n * xd->h + h) * xd->w + ww) * xd->c + c];
    const int32_t cin_g = xd->c / p->groups, cout_g = wd->n / p->groups;
    for (int32_t n = 0; n < yd->n; ++n)
        for (int32_t oy = 0; oy < yd->h; ++oy)
            for (int32_t ox = 0; ox < yd->w; ++ox)
                for (int32_t oc = 0; oc < yd->c; ++oc) {
                    int64_t s = bias ? bias[oc] : 0;
                    const int32_t first_ic = (oc / cout_g) * cin_g;
                    for (int32_t ky = 0; ky < wd->h; ++ky)
                        for (int32_t kx = 0; kx < wd->w; ++kx)
                            for (int32_t ic = 0; ic < cin_g; ++ic) {
                                const int32_t iy = oy * p->stride_h + ky * p->dil_h;
                                const int32_t ix = ox * p->stride_w + kx * p->dil_w;
                                const int64_t xv =
                                    xp[((n * ph + iy) * pw + ix) * xd->c + first_ic + ic] - xzp;
                                const int64_t wv = w[((oc * wd->h + ky) * wd->w + kx) * wd->c + ic] - wzp[oc];
                                s += xv * wv;
                            }
                    const uint32_t u = (uint32_t)(uint64_t)s; /* modulo 2^32 */
                    y[((n * yd->h + oy) * yd->w + ox) * yd->c + oc] =
                        u <= INT32_MAX ? (int32_t)u : (int32_t)(u - UINT32_C(0x80000000)) + INT32_MIN;
                }
    free(xp);
}

static void fill(qmac_dtype dt, void *buf, int32_t *copy, int32_t count)
{
    int32_t lo, hi;
    qmac_dtype_range(dt, &lo, &hi);
    for (int32_t i = 0; i < count; ++i) {
        copy[i] = rng_range(lo, hi);
        if (dt == QMAC_DT_INT8)
            ((int8_t *)buf)[i] = (int8_t)copy[i];
        else
            ((uint8_t *)buf)[i] = (uint8_t)copy[i];
    }
}

static void test_conv_random_differential(void **state)
{
    (void)state;
    const char *env = getenv("QMAC_SEED");
    uint64_t seed = env ? strtoull(env, NULL, 0) : (uint64_t)time(NULL);
    print_message("test_conv_random_differential: seed %" PRIu64 " (rerun with QMAC_SEED=%" PRIu64 ")\n",
                  seed, seed);
    rng_state = seed;
    for (int iter = 0; iter < 400; ++iter) {
        const int32_t groups = rng_range(1, 3);
        const int32_t cin = groups * rng_range(1, 3), cout = groups * rng_range(1, 3);
        qmac_conv_params p =
            cparams(rng_range(1, 3), rng_range(1, 3), rng_range(1, 3), rng_range(1, 3), rng_range(0, 3),
                    rng_range(0, 3), rng_range(0, 3), rng_range(0, 3), groups);
        const qmac_dims wd = {cout, rng_range(1, 3), rng_range(1, 3), cin / groups};
        qmac_dims xd = {rng_range(1, 2), rng_range(1, 7), rng_range(1, 7), cin};
        const int32_t oh = qmac_conv_out_size(xd.h, wd.h, p.stride_h, p.dil_h, p.pad_top, p.pad_bottom, 0);
        const int32_t ow = qmac_conv_out_size(xd.w, wd.w, p.stride_w, p.dil_w, p.pad_left, p.pad_right, 0);
        if (oh < 1 || ow < 1) {
            assert_int_equal(qmac_conv2d_check(&p, &xd, &wd, &xd), QMAC_ERR_SHAPE);
            continue;
        }
        const qmac_dims yd = {xd.n, oh, ow, cout};
        const qmac_dtype xdt = rng_range(0, 1) ? QMAC_DT_INT8 : QMAC_DT_UINT8;
        const qmac_dtype wdt = rng_range(0, 1) ? QMAC_DT_INT8 : QMAC_DT_UINT8;
        const int32_t nx = xd.n * xd.h * xd.w * xd.c, nw = wd.n * wd.h * wd.w * wd.c,
                      ny = yd.n * yd.h * yd.w * yd.c;
        uint8_t *xb = malloc((size_t)nx), *wb = malloc((size_t)nw);
        int32_t *xc = malloc(sizeof *xc * (size_t)nx), *wc = malloc(sizeof *wc * (size_t)nw);
        int32_t *got = malloc(sizeof *got * (size_t)ny), *want = malloc(sizeof *want * (size_t)ny);
        int32_t *bias = malloc(sizeof *bias * (size_t)cout), *wzp = malloc(sizeof *wzp * (size_t)cout);
        assert_true(xb && wb && xc && wc && got && want && bias && wzp);
        fill(xdt, xb, xc, nx);
        fill(wdt, wb, wc, nw);
        int32_t lo, hi;
        qmac_dtype_range(xdt, &lo, &hi);
        const int32_t xzp = rng_range(lo, hi);
        qmac_dtype_range(wdt, &lo, &hi);
        const int per_channel = rng_range(0, 1);
        const int32_t wzp0 = rng_range(lo, hi);
        for (int32_t c = 0; c < cout; ++c) {
            wzp[c] = per_channel ? rng_range(lo, hi) : wzp0;
            bias[c] = rng_range(-100000, 100000);
        }
        const int use_bias = rng_range(0, 1);
        const qmac_qbuf xq = qb(xdt, xb, xzp, NULL), wq = qb(wdt, wb, wzp0, per_channel ? wzp : NULL);
        assert_int_equal(qmac_conv2d_acc(&p, &xd, &xq, &wd, &wq, use_bias ? bias : NULL, &yd, got), QMAC_OK);
        naive_conv(&p, &xd, xc, xzp, &wd, wc, wzp, use_bias ? bias : NULL, &yd, want);
        for (int32_t i = 0; i < ny; ++i)
            if (got[i] != want[i]) {
                print_message("mismatch at iter %d element %d: got %d want %d (seed %" PRIu64 ")\n", iter,
                              (int)i, (int)got[i], (int)want[i], seed);
                fail();
            }
        /* depthwise with multiplier M equals grouped conv with groups = Cin on OHWI [Cin*M, KH, KW, 1] */
        if (groups == 1 && cin <= 2) {
            const int32_t m = rng_range(1, 3), dcout = cin * m;
            const qmac_dims dwd = {1, wd.h, wd.w, dcout}, owd = {dcout, wd.h, wd.w, 1};
            const qmac_dims dyd = {xd.n, oh, ow, dcout};
            const int32_t ndw = wd.h * wd.w * dcout, ndy = dyd.n * oh * ow * dcout;
            int8_t *dw = malloc((size_t)ndw), *ohwi = malloc((size_t)ndw);
            int32_t *dgot = malloc(sizeof *dgot * (size_t)ndy), *cgot = malloc(sizeof *cgot * (size_t)ndy);
            assert_true(dw && ohwi && dgot && cgot);
            for (int32_t ky = 0; ky < wd.h; ++ky)
                for (int32_t kx = 0; kx < wd.w; ++kx)
                    for (int32_t oc = 0; oc < dcout; ++oc) {
                        const int8_t v = (int8_t)rng_range(-128, 127);
                        dw[(ky * wd.w + kx) * dcout + oc] = v;
                        ohwi[(oc * wd.h + ky) * wd.w + kx] = v;
                    }
            const qmac_qbuf dq = qb(QMAC_DT_INT8, dw, 3, NULL), oq = qb(QMAC_DT_INT8, ohwi, 3, NULL);
            qmac_conv_params pg = p;
            assert_int_equal(qmac_depthwise_conv2d_acc(&p, &xd, &xq, &dwd, &dq, m, NULL, &dyd, dgot),
                             QMAC_OK);
            pg.groups = cin;
            assert_int_equal(qmac_conv2d_acc(&pg, &xd, &xq, &owd, &oq, NULL, &dyd, cgot), QMAC_OK);
            assert_memory_equal(dgot, cgot, sizeof *dgot * (size_t)ndy);
            free(dw);
            free(ohwi);
            free(dgot);
            free(cgot);
        }
        free(xb);
        free(wb);
        free(xc);
        free(wc);
        free(got);
        free(want);
        free(bias);
        free(wzp);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conv_out_size_floor_and_ceil),
        cmocka_unit_test(test_conv_same_padding_odd_pixel_placement),
        cmocka_unit_test(test_conv_same_padding_result),
        cmocka_unit_test(test_conv_padding_skip_equals_zp_padding),
        cmocka_unit_test(test_conv_dilation),
        cmocka_unit_test(test_conv_groups),
        cmocka_unit_test(test_depthwise_multiplier_ordering),
        cmocka_unit_test(test_conv_per_channel_weight_zero_points),
        cmocka_unit_test(test_conv_int32_wraparound),
        cmocka_unit_test(test_conv_q_requantizes),
        cmocka_unit_test(test_conv_check_rejects_bad_arguments),
        cmocka_unit_test(test_matmul_acc_zero_points),
        cmocka_unit_test(test_fc_acc_weight_zero_point),
        cmocka_unit_test(test_conv_random_differential),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
