/* test_quant.c - affine quantization: code ranges, quantize / dequantize (scalar, per tensor, per
 * axis, n-bit), and the ONNX Runtime / TFLite choice of scale and zero point.
 * Reference numbers: ORT values come from tests/oracles/quant_ref.py (onnxruntime 1.23.2 run on
 * this machine); TFLite values are derived by hand in the comments (TensorFlow is not installed). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <float.h>
#include <math.h>
#include <string.h>

#include "qmac/quant.h"

static void assert_f32_same(float got, float want)
{
    if (!(got == want || (isnan(got) && isnan(want)))) {
        print_error("float mismatch: got %a (%.9g), want %a (%.9g)\n", (double)got, (double)got, (double)want,
                    (double)want);
        fail();
    }
}

/* ---------------------------------------------------------------- ranges */

static void check_range(int bits, int sgn, int narrow, int32_t lo, int32_t hi)
{
    int32_t a = 0, b = 0;
    assert_int_equal(qmac_qrange(bits, sgn, narrow, &a, &b), QMAC_OK);
    assert_int_equal(a, lo);
    assert_int_equal(b, hi);
}

static void test_quant_qrange_values(void **state)
{
    (void)state;
    check_range(8, 1, 0, -128, 127);
    check_range(8, 1, 1, -127, 127);
    check_range(8, 0, 0, 0, 255);
    check_range(8, 0, 1, 1, 255);
    check_range(4, 1, 0, -8, 7);
    check_range(4, 1, 1, -7, 7);
    check_range(3, 0, 0, 0, 7);
    check_range(2, 1, 1, -1, 1);
    check_range(2, 0, 0, 0, 3);
    check_range(16, 1, 0, -32768, 32767);
    check_range(16, 0, 0, 0, 65535);
}

static void test_quant_qrange_rejects_bits(void **state)
{
    (void)state;
    int32_t a, b;
    assert_int_equal(qmac_qrange(1, 1, 0, &a, &b), QMAC_ERR_INVALID_ARG);
    assert_non_null(strstr(qmac_last_error(), "1"));
    assert_int_equal(qmac_qrange(17, 0, 0, &a, &b), QMAC_ERR_INVALID_ARG);
    assert_non_null(strstr(qmac_last_error(), "17"));
}

static void check_ort_range(qmac_dtype dt, int sym, int rr, int32_t lo, int32_t hi)
{
    int32_t a = 0, b = 0;
    assert_int_equal(qmac_qrange_onnxrt(dt, sym, rr, &a, &b), QMAC_OK);
    assert_int_equal(a, lo);
    assert_int_equal(b, hi);
}

static void test_quant_qrange_onnxrt_table(void **state)
{
    (void)state;
    /* onnxruntime quant_utils ONNX_INT_TYPE_RANGE / _SYMMETRIC_RANGE / _REDUCED_RANGE */
    check_ort_range(QMAC_DT_INT8, 0, 0, -128, 127);
    check_ort_range(QMAC_DT_INT8, 1, 0, -127, 127);
    check_ort_range(QMAC_DT_INT8, 0, 1, -64, 64);
    check_ort_range(QMAC_DT_INT8, 1, 1, -64, 64); /* reduce_range wins */
    check_ort_range(QMAC_DT_UINT8, 0, 0, 0, 255);
    check_ort_range(QMAC_DT_UINT8, 1, 0, 0, 254);
    check_ort_range(QMAC_DT_UINT8, 0, 1, 0, 127);
    check_ort_range(QMAC_DT_INT16, 1, 0, -32767, 32767);
    check_ort_range(QMAC_DT_INT16, 0, 1, -16384, 16384);
    check_ort_range(QMAC_DT_UINT16, 1, 0, 0, 65534);
    check_ort_range(QMAC_DT_UINT16, 0, 1, 0, 32767);
    int32_t a, b;
    assert_int_equal(qmac_qrange_onnxrt(QMAC_DT_INT32, 0, 0, &a, &b), QMAC_ERR_INVALID_ARG);
}

/* ---------------------------------------------------------------- scalar quantize / dequantize */

/* tests/oracles/quant_ref.py: ONNX Runtime QuantizeLinear {x, scale, zp, is_uint8, y} */
static const struct {
    float x, scale;
    int32_t zp;
    int is_u8;
    int32_t y;
} k_ort_ql[] = {
    {0x1.p-1f, 0x1.p+0f, 0, 0, 0},
    {0x1.8p+0f, 0x1.p+0f, 0, 0, 2},
    {0x1.4p+1f, 0x1.p+0f, 0, 0, 2},
    {-0x1.p-1f, 0x1.p+0f, 0, 0, 0},
    {-0x1.8p+0f, 0x1.p+0f, 0, 0, -2},
    {-0x1.4p+1f, 0x1.p+0f, 0, 0, -2},
    {NAN, 0x1.p+0f, 0, 0, -128},
    {INFINITY, 0x1.p+0f, 0, 0, 127},
    {-INFINITY, 0x1.p+0f, 0, 0, -128},
    {0x1.2a05f2p+33f, 0x1.p+0f, 0, 0, 127},
    {-0x1.2a05f2p+33f, 0x1.p+0f, 0, 0, -128},
    {0x1.fe0000p+6f, 0x1.p+0f, 0, 0, 127},
    {-0x1.010000p+7f, 0x1.p+0f, 0, 0, -128},
    {0x1.p-1f, 0x1.p+0f, 3, 0, 3},
    {0x1.8p+0f, 0x1.p+0f, 3, 0, 5},
    {0x1.4p+1f, 0x1.p+0f, 3, 0, 5},
    {-0x1.p-1f, 0x1.p+0f, 3, 0, 3},
    {-0x1.8p+0f, 0x1.p+0f, 3, 0, 1},
    {-0x1.4p+1f, 0x1.p+0f, 3, 0, 1},
    {NAN, 0x1.p+0f, 3, 0, -128},
    {INFINITY, 0x1.p+0f, 3, 0, 127},
    {-INFINITY, 0x1.p+0f, 3, 0, -128},
    {0x1.2a05f2p+33f, 0x1.p+0f, 3, 0, 127},
    {-0x1.2a05f2p+33f, 0x1.p+0f, 3, 0, -128},
    {0x1.fe0000p+6f, 0x1.p+0f, 3, 0, 127},
    {-0x1.010000p+7f, 0x1.p+0f, 3, 0, -125},
    {0x1.p-1f, 0x1.p+0f, 100, 1, 100},
    {0x1.8p+0f, 0x1.p+0f, 100, 1, 102},
    {0x1.4p+1f, 0x1.p+0f, 100, 1, 102},
    {-0x1.p-1f, 0x1.p+0f, 100, 1, 100},
    {-0x1.8p+0f, 0x1.p+0f, 100, 1, 98},
    {-0x1.4p+1f, 0x1.p+0f, 100, 1, 98},
    {NAN, 0x1.p+0f, 100, 1, 0},
    {INFINITY, 0x1.p+0f, 100, 1, 255},
    {-INFINITY, 0x1.p+0f, 100, 1, 0},
    {0x1.2a05f2p+33f, 0x1.p+0f, 100, 1, 255},
    {-0x1.2a05f2p+33f, 0x1.p+0f, 100, 1, 0},
    {0x1.fe0000p+6f, 0x1.p+0f, 100, 1, 228},
    {-0x1.010000p+7f, 0x1.p+0f, 100, 1, 0},
    {0x1.84ccccp+3f, 0x1.99999ap-4f, 0, 0, 121},
    {-0x1.3cccccp+2f, 0x1.99999ap-4f, 0, 0, -49},
    {0x1.3cccccp+2f, 0x1.99999ap-4f, 0, 0, 49},
    {-0x1.7cccccp+2f, 0x1.99999ap-4f, 0, 0, -59},
};

static void test_quant_quantize_matches_onnxrt(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof k_ort_ql / sizeof k_ort_ql[0]; ++i) {
        const int32_t lo = k_ort_ql[i].is_u8 ? 0 : -128, hi = k_ort_ql[i].is_u8 ? 255 : 127;
        const int32_t got =
            qmac_quantize_f32(k_ort_ql[i].x, k_ort_ql[i].scale, k_ort_ql[i].zp, lo, hi, QMAC_ROUND_HALF_EVEN);
        if (got != k_ort_ql[i].y)
            print_error("row %zu: quantize(%a / %a + %d) = %d, ORT %d\n", i, (double)k_ort_ql[i].x,
                        (double)k_ort_ql[i].scale, (int)k_ort_ql[i].zp, (int)got, (int)k_ort_ql[i].y);
        assert_int_equal(got, k_ort_ql[i].y);
        /* the array entry points agree */
        if (k_ort_ql[i].is_u8) {
            uint8_t y = 0;
            assert_int_equal(qmac_quantize_u8(&k_ort_ql[i].x, 1, k_ort_ql[i].scale, k_ort_ql[i].zp,
                                              QMAC_ROUND_HALF_EVEN, &y),
                             QMAC_OK);
            assert_int_equal(y, k_ort_ql[i].y);
        } else {
            int8_t y = 0;
            assert_int_equal(qmac_quantize_s8(&k_ort_ql[i].x, 1, k_ort_ql[i].scale, k_ort_ql[i].zp,
                                              QMAC_ROUND_HALF_EVEN, &y),
                             QMAC_OK);
            assert_int_equal(y, k_ort_ql[i].y);
        }
    }
}

static void test_quant_quantize_divides(void **state)
{
    (void)state;
    /* The last rows of k_ort_ql (scale 0.1f) are inputs where x * (1/scale) rounds differently from
     * x / scale; ORT agrees with the division, and so must qmac. Check the multiplication really
     * differs, so that the rows keep their point. */
    const float s = 0x1.99999ap-4f, inv = 1.0f / s;
    int differs = 0;
    for (size_t i = 0; i < sizeof k_ort_ql / sizeof k_ort_ql[0]; ++i) {
        if (k_ort_ql[i].scale != s)
            continue;
        volatile float prod = k_ort_ql[i].x * inv;
        const int32_t by_mul = qmac_quantize_f32(prod, 1.0f, 0, -128, 127, QMAC_ROUND_HALF_EVEN);
        differs += by_mul != k_ort_ql[i].y;
        assert_int_equal(qmac_quantize_f32(k_ort_ql[i].x, s, 0, -128, 127, QMAC_ROUND_HALF_EVEN),
                         k_ort_ql[i].y);
    }
    assert_int_equal(differs, 4);
}

static void test_quant_quantize_half_away(void **state)
{
    (void)state;
    /* TFLite: std::round, ties away from zero */
    assert_int_equal(qmac_quantize_f32(0.5f, 1.0f, 0, -128, 127, QMAC_ROUND_HALF_AWAY), 1);
    assert_int_equal(qmac_quantize_f32(-0.5f, 1.0f, 0, -128, 127, QMAC_ROUND_HALF_AWAY), -1);
    assert_int_equal(qmac_quantize_f32(2.5f, 1.0f, 0, -128, 127, QMAC_ROUND_HALF_AWAY), 3);
    assert_int_equal(qmac_quantize_f32(-2.5f, 1.0f, 3, -128, 127, QMAC_ROUND_HALF_AWAY), 0);
    assert_int_equal(qmac_quantize_f32(0.49999997f, 1.0f, 0, -128, 127, QMAC_ROUND_HALF_AWAY), 0);
    assert_int_equal(qmac_quantize_f32(NAN, 1.0f, 7, -128, 127, QMAC_ROUND_HALF_AWAY), -128);
    assert_int_equal(qmac_quantize_f32(INFINITY, 1.0f, 7, 0, 255, QMAC_ROUND_HALF_AWAY), 255);
    /* the zero-point sum never overflows: 2^31-ish quotient + zp saturates */
    assert_int_equal(qmac_quantize_f32(3e9f, 1.0f, INT32_MAX, INT32_MIN, INT32_MAX, QMAC_ROUND_HALF_EVEN),
                     INT32_MAX);
    assert_int_equal(qmac_quantize_f32(-3e9f, 1.0f, INT32_MIN, INT32_MIN, INT32_MAX, QMAC_ROUND_HALF_EVEN),
                     INT32_MIN);
    /* a quotient that overflows float32 saturates */
    assert_int_equal(qmac_quantize_f32(FLT_MAX, 1e-10f, 0, -128, 127, QMAC_ROUND_HALF_EVEN), 127);
}

static void test_quant_round_f32(void **state)
{
    (void)state;
    assert_f32_same(qmac_round_f32(0.5f, QMAC_ROUND_HALF_EVEN), 0.0f);
    assert_f32_same(qmac_round_f32(1.5f, QMAC_ROUND_HALF_EVEN), 2.0f);
    assert_f32_same(qmac_round_f32(-1.5f, QMAC_ROUND_HALF_EVEN), -2.0f);
    assert_f32_same(qmac_round_f32(-3.5f, QMAC_ROUND_HALF_EVEN), -4.0f);
    assert_f32_same(qmac_round_f32(0.50000006f, QMAC_ROUND_HALF_EVEN), 1.0f);
    assert_f32_same(qmac_round_f32(8388609.0f, QMAC_ROUND_HALF_EVEN), 8388609.0f); /* 2^23 + 1 */
    assert_f32_same(qmac_round_f32(4194304.5f, QMAC_ROUND_HALF_EVEN), 4194304.0f); /* 2^22 + 0.5 */
    assert_f32_same(qmac_round_f32(4194305.5f, QMAC_ROUND_HALF_EVEN), 4194306.0f);
    assert_f32_same(qmac_round_f32(-2.5f, QMAC_ROUND_HALF_AWAY), -3.0f);
    assert_true(isnan(qmac_round_f32(NAN, QMAC_ROUND_HALF_EVEN)));
    assert_f32_same(qmac_round_f32(-INFINITY, QMAC_ROUND_HALF_EVEN), -INFINITY);
}

static void test_quant_dequantize_values(void **state)
{
    (void)state;
    assert_f32_same(qmac_dequantize_f32(-128, 0.5f, 127), -127.5f);
    assert_f32_same(qmac_dequantize_f32(5, 0.1f, 5), 0.0f);
    /* the difference is exact even where int32 would overflow: 2^32 - 1 -> float 2^32 */
    assert_f32_same(qmac_dequantize_f32(INT32_MAX, 1.0f, INT32_MIN), 4294967296.0f);
    /* (float)(q - zp) * scale, float32 multiply: 3 * 0.1f = 0.3000000044703484 -> float32 0x1.333334p-2 */
    assert_f32_same(qmac_dequantize_f32(3, 0.1f, 0), 0x1.333334p-2f);
    const int8_t q[3] = {-128, 0, 127};
    float y[3];
    assert_int_equal(qmac_dequantize_s8(q, 3, 0.25f, -1, y), QMAC_OK);
    assert_f32_same(y[0], -31.75f);
    assert_f32_same(y[1], 0.25f);
    assert_f32_same(y[2], 32.0f);
    const uint8_t u[2] = {0, 255};
    assert_int_equal(qmac_dequantize_u8(u, 2, 2.0f, 128, y), QMAC_OK);
    assert_f32_same(y[0], -256.0f);
    assert_f32_same(y[1], 254.0f);
}

/* ---------------------------------------------------------------- arrays */

static void test_quant_axis_split(void **state)
{
    (void)state;
    const int64_t shape[4] = {2, 3, 4, 5};
    size_t o, a, i;
    assert_int_equal(qmac_axis_split(shape, 4, 1, &o, &a, &i), QMAC_OK);
    assert_true(o == 2 && a == 3 && i == 20);
    assert_int_equal(qmac_axis_split(shape, 4, -1, &o, &a, &i), QMAC_OK);
    assert_true(o == 24 && a == 5 && i == 1);
    assert_int_equal(qmac_axis_split(shape, 4, 0, &o, &a, &i), QMAC_OK);
    assert_true(o == 1 && a == 2 && i == 60);
    assert_int_equal(qmac_axis_split(shape, 4, -4, &o, &a, &i), QMAC_OK);
    assert_true(o == 1 && a == 2 && i == 60);
    assert_int_equal(qmac_axis_split(shape, 4, 4, &o, &a, &i), QMAC_ERR_INVALID_ARG);
    assert_int_equal(qmac_axis_split(shape, 4, -5, &o, &a, &i), QMAC_ERR_INVALID_ARG);
    assert_int_equal(qmac_axis_split(shape, 0, 0, &o, &a, &i), QMAC_ERR_INVALID_ARG);
}

/* x [2, 3, 2], axis 1: scales {1, 0.5, 0.25}, zero points {0, 10, -5}. Per element x / s:
 *   a=0: 1.5, -2.5, 300, -300      a=1: 2.5, -1.5, 0.5, 200      a=2: 0.5, 160, -1.5, -132 */
static const float k_ax_x[12] = {1.5f,   -2.5f,   1.25f, -0.75f, 0.125f,  40.0f,
                                 300.0f, -300.0f, 0.25f, 100.0f, -0.375f, -33.0f};
static const float k_ax_s[3] = {1.0f, 0.5f, 0.25f};
static const int32_t k_ax_z[3] = {0, 10, -5};

static void test_quant_axis_s8_half_even(void **state)
{
    (void)state;
    /* 1.5->2, -2.5->-2 | 2.5->2 (+10), -1.5->-2 (+10) | 0.5->0 (-5), 160 (-5 -> 155 -> 127) |
     * 300->127, -300->-128 | 0.5->0 (+10), 200+10 -> 127 | -1.5->-2 (-5), -132-5 -> -128 */
    const int8_t want[12] = {2, -2, 12, 8, -5, 127, 127, -128, 10, 127, -7, -128};
    int8_t y[12];
    assert_int_equal(qmac_quantize_axis_s8(k_ax_x, 2, 3, 2, k_ax_s, k_ax_z, QMAC_ROUND_HALF_EVEN, y),
                     QMAC_OK);
    assert_memory_equal(y, want, sizeof want);
}

static void test_quant_axis_s8_half_away(void **state)
{
    (void)state;
    const int8_t want[12] = {2, -3, 13, 8, -4, 127, 127, -128, 11, 127, -7, -128};
    int8_t y[12];
    assert_int_equal(qmac_quantize_axis_s8(k_ax_x, 2, 3, 2, k_ax_s, k_ax_z, QMAC_ROUND_HALF_AWAY, y),
                     QMAC_OK);
    assert_memory_equal(y, want, sizeof want);
}

static void test_quant_axis_dequantize(void **state)
{
    (void)state;
    const int8_t q[12] = {2, -2, 12, 8, -5, 127, 127, -128, 10, 127, -7, -128};
    /* (q - zp[a]) * s[a] */
    const float want[12] = {2.0f,   -2.0f,   1.0f, -1.0f, 0.0f,  33.0f,
                            127.0f, -128.0f, 0.0f, 58.5f, -0.5f, -30.75f};
    float y[12];
    assert_int_equal(qmac_dequantize_axis_s8(q, 2, 3, 2, k_ax_s, k_ax_z, y), QMAC_OK);
    for (int i = 0; i < 12; ++i)
        assert_f32_same(y[i], want[i]);
}

static void test_quant_axis_u8(void **state)
{
    (void)state;
    /* [1, 2, 3], scales {0.5, 2}, zp {128, 0}: 0.5->0 (+128), -128 -> 0, 128+128 -> 255 |
     * 1.5 -> 2, 2.5 -> 2, 500 -> 255 */
    const float x[6] = {0.25f, -64.0f, 64.0f, 3.0f, 5.0f, 1000.0f};
    const float s[2] = {0.5f, 2.0f};
    const int32_t z[2] = {128, 0};
    const uint8_t want[6] = {128, 0, 255, 2, 2, 255};
    uint8_t y[6];
    assert_int_equal(qmac_quantize_axis_u8(x, 1, 2, 3, s, z, QMAC_ROUND_HALF_EVEN, y), QMAC_OK);
    assert_memory_equal(y, want, sizeof want);
    float d[6];
    assert_int_equal(qmac_dequantize_axis_u8(y, 1, 2, 3, s, z, d), QMAC_OK);
    assert_f32_same(d[0], 0.0f);
    assert_f32_same(d[2], 63.5f);
    assert_f32_same(d[5], 510.0f);
}

static void test_quant_nbit_signed_narrow(void **state)
{
    (void)state;
    /* 4-bit narrow [-7, 7], scale 0.5: 6.8 -> 7; -7.5 -> -8 (even) -> -7; 200 -> 7; -200 -> -7;
     * 0.5 -> 0; 1.5 -> 2 */
    const float x[6] = {3.4f, -3.75f, 100.0f, -100.0f, 0.25f, 0.75f};
    const float s = 0.5f;
    const qmac_qparams qp = {4, 1, 1, 1, &s, NULL};
    const int8_t want[6] = {7, -7, 7, -7, 0, 2};
    int8_t y[6];
    assert_int_equal(qmac_quantize_nbit(x, 1, 1, 6, &qp, QMAC_ROUND_HALF_EVEN, y), QMAC_OK);
    assert_memory_equal(y, want, sizeof want);
    float d[6];
    assert_int_equal(qmac_dequantize_nbit(y, 1, 1, 6, &qp, d), QMAC_OK);
    assert_f32_same(d[0], 3.5f);
    assert_f32_same(d[1], -3.5f);
    assert_f32_same(d[5], 1.0f);
}

static void test_quant_nbit_unsigned(void **state)
{
    (void)state;
    /* 3-bit [0, 7], zp 3, scale 1: -5 -> -2 -> 0; -3.5 -> -4 (even) + 3 -> 0; 0 -> 3; 2.5 -> 2 -> 5;
     * 10 -> 7. Narrow [1, 7]: the two lowest become 1. */
    const float x[5] = {-5.0f, -3.5f, 0.0f, 2.5f, 10.0f};
    const float s = 1.0f;
    const int32_t z = 3;
    qmac_qparams qp = {3, 0, 0, 1, &s, &z};
    uint8_t y[5];
    const uint8_t want[5] = {0, 0, 3, 5, 7};
    assert_int_equal(qmac_quantize_nbit(x, 1, 1, 5, &qp, QMAC_ROUND_HALF_EVEN, y), QMAC_OK);
    assert_memory_equal(y, want, sizeof want);
    qp.narrow = 1;
    const uint8_t want_n[5] = {1, 1, 3, 5, 7};
    assert_int_equal(qmac_quantize_nbit(x, 1, 1, 5, &qp, QMAC_ROUND_HALF_EVEN, y), QMAC_OK);
    assert_memory_equal(y, want_n, sizeof want_n);
    /* 2-bit signed narrow = ternary [-1, 1] */
    const float t[3] = {-3.0f, 0.4f, 0.6f};
    const qmac_qparams q2 = {2, 1, 1, 1, &s, NULL};
    int8_t yt[3];
    assert_int_equal(qmac_quantize_nbit(t, 1, 1, 3, &q2, QMAC_ROUND_HALF_EVEN, yt), QMAC_OK);
    assert_int_equal(yt[0], -1);
    assert_int_equal(yt[1], 0);
    assert_int_equal(yt[2], 1);
}

static void test_quant_qparams_check_rejects(void **state)
{
    (void)state;
    const float s2[2] = {1.0f, 0.0f}, s1 = 1.0f, snan = NAN;
    const int32_t z_bad = 200;
    float x[4] = {0};
    int8_t y[4];
    qmac_qparams qp = {8, 1, 0, 2, s2, NULL};
    assert_int_equal(qmac_quantize_nbit(x, 1, 2, 2, &qp, QMAC_ROUND_HALF_EVEN, y), QMAC_ERR_INVALID_ARG);
    assert_non_null(strstr(qmac_last_error(), "scale[1]"));
    qp.n = 3; /* neither 1 nor the axis length */
    qp.scale = s2;
    assert_int_equal(qmac_quantize_nbit(x, 1, 2, 2, &qp, QMAC_ROUND_HALF_EVEN, y), QMAC_ERR_INVALID_ARG);
    qp = (qmac_qparams){8, 1, 0, 1, &snan, NULL};
    assert_int_equal(qmac_quantize_nbit(x, 1, 1, 4, &qp, QMAC_ROUND_HALF_EVEN, y), QMAC_ERR_INVALID_ARG);
    qp = (qmac_qparams){8, 1, 0, 1, &s1, &z_bad};
    assert_int_equal(qmac_quantize_nbit(x, 1, 1, 4, &qp, QMAC_ROUND_HALF_EVEN, y), QMAC_ERR_INVALID_ARG);
    assert_non_null(strstr(qmac_last_error(), "zero point[0] = 200"));
    qp = (qmac_qparams){9, 1, 0, 1, &s1, NULL};
    assert_int_equal(qmac_quantize_nbit(x, 1, 1, 4, &qp, QMAC_ROUND_HALF_EVEN, y), QMAC_ERR_INVALID_ARG);
    assert_int_equal(qmac_quantize_s8(x, 4, -1.0f, 0, QMAC_ROUND_HALF_EVEN, y), QMAC_ERR_INVALID_ARG);
    assert_int_equal(qmac_quantize_u8(x, 4, 1.0f, -1, QMAC_ROUND_HALF_EVEN, (uint8_t *)y),
                     QMAC_ERR_INVALID_ARG);
}

/* ---------------------------------------------------------------- scale / zero point */

/* tests/oracles/quant_ref.py: onnxruntime compute_scale_zp {rmin, rmax, qmin, qmax, symmetric, scale, zp}.
 * The last row is a range whose zero point changes if the scale is rounded to float32 first. */
static const struct {
    float rmin, rmax;
    int32_t qmin, qmax;
    int sym;
    float scale;
    int32_t zp;
} k_ort_params[] = {
    {-0x1.p+0f, 0x1.p+1f, 0, 255, 0, 0x1.818182p-7f, 85},
    {-0x1.333334p-2f, 0x1.666666p-1f, -128, 127, 0, 0x1.010102p-8f, -51},
    {-0x1.p-1f, 0x1.p-2f, -127, 127, 1, 0x1.020408p-8f, 0},
    {-0x1.p-1f, 0x1.p-2f, 0, 254, 1, 0x1.020408p-8f, 127},
    {0x1.p-1f, 0x1.8p+1f, 0, 255, 0, 0x1.818182p-7f, 0},
    {-0x1.8p+1f, -0x1.p-1f, -128, 127, 0, 0x1.818182p-7f, 127},
    {0x0.0p+0f, 0x0.0p+0f, 0, 255, 0, 0x1.p+0f, 0},
    {-0x1.16c200p-133f, 0x1.16c200p-133f, -128, 127, 0, 0x1.p+0f, 0},
    {-0x1.p-1f, 0x1.fd0000p+7f, 0, 255, 0, 0x1.p+0f, 0},
    {-0x1.4p+1f, 0x1.f90000p+7f, 0, 255, 0, 0x1.p+0f, 2},
    {-0x1.5798eep-27f, 0x1.p+0f, 0, 255, 0, 0x1.010102p-8f, 0},
    {-0x1.p+0f, 0x1.8p+1f, -32768, 32767, 0, 0x1.000100p-14f, -16384},
    {-0x1.edd2f2p+6f, 0x1.0624dep-10f, -128, 127, 0, 0x1.efc3bcp-2f, 127},
    {-0x1.943f24p+2f, 0x1.96a04ep-7f, 0, 255, 0, 0x1.96a116p-6f, 255},
};

static void test_quant_qparams_match_onnxrt(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof k_ort_params / sizeof k_ort_params[0]; ++i) {
        float s = 0.0f;
        int32_t z = -999;
        assert_int_equal(qmac_choose_qparams(k_ort_params[i].rmin, k_ort_params[i].rmax, k_ort_params[i].qmin,
                                             k_ort_params[i].qmax, k_ort_params[i].sym, QMAC_QPARAMS_ONNXRT,
                                             &s, &z),
                         QMAC_OK);
        if (s != k_ort_params[i].scale || z != k_ort_params[i].zp)
            print_error("row %zu: got (%a, %d), ORT (%a, %d)\n", i, (double)s, (int)z,
                        (double)k_ort_params[i].scale, (int)k_ort_params[i].zp);
        assert_f32_same(s, k_ort_params[i].scale);
        assert_int_equal(z, k_ort_params[i].zp);
    }
}

static void check_tfl(float rmin, float rmax, int32_t qmin, int32_t qmax, int sym, float want_s,
                      int32_t want_z)
{
    float s = 0.0f;
    int32_t z = -999;
    assert_int_equal(qmac_choose_qparams(rmin, rmax, qmin, qmax, sym, QMAC_QPARAMS_TFLITE, &s, &z), QMAC_OK);
    assert_f32_same(s, want_s);
    assert_int_equal(z, want_z);
}

static void test_quant_qparams_tflite_nudging(void **state)
{
    (void)state;
    /* [-1, 2] on [0, 255]: scale 3/255 (same real as ORT's first row, so the same float32);
     * zp from min = 0 + 1/(3/255) = 85 (error term 85 < 255 + 170) */
    check_tfl(-1.0f, 2.0f, 0, 255, 0, 0x1.818182p-7f, 85);
    /* [-0.5, 254.5]: scale 1; zp from min = 0.5 (error 0.5 < 509.5), a tie: away -> 1 (ORT: 0) */
    check_tfl(-0.5f, 254.5f, 0, 255, 0, 1.0f, 1);
    /* [-254.5, 0.5]: zp from min = 254.5 (error 254.5 < 255.5) -> 255 (ORT: even 254) */
    check_tfl(-254.5f, 0.5f, 0, 255, 0, 1.0f, 255);
    /* [-63.75, 63.75] on [-128, 127]: scale 0.5; from min -128 + 127.5 = -0.5 (error 255.5), from max
     * 127 - 127.5 = -0.5 (error 254.5): the max pair wins, -0.5 rounds away -> -1 */
    check_tfl(-63.75f, 63.75f, -128, 127, 0, 0.5f, -1);
    /* ranges not containing 0 are extended first: [2, 4] -> [0, 4]: scale 4/255, zp 0;
     * 4/255 = 0x1.0101 0101...p-6 rounds up to 0x1.010102p-6 in float32 */
    check_tfl(2.0f, 4.0f, 0, 255, 0, 0x1.010102p-6f, 0);
    /* [-4, -2] -> [-4, 0] on int8: from max = 127 - 0 = 127 (error 127 < 383) */
    check_tfl(-4.0f, -2.0f, -128, 127, 0, 0x1.010102p-6f, 127);
    /* the point range {0}: scale 1 and zp 0 clamped into the range */
    check_tfl(0.0f, 0.0f, 0, 255, 0, 1.0f, 0);
    check_tfl(0.0f, 0.0f, 1, 255, 0, 1.0f, 1);
}

static void test_quant_qparams_onnxrt_vs_tflite_tie(void **state)
{
    (void)state;
    /* [-63.75, 63.75] on [-128, 127] with ORT: float32 dr = 127.5, scale 0.5, zp = round_half_even(
     * -128 + 127.5) = round_half_even(-0.5) = 0, where TFLite gives -1 (previous test). */
    float s;
    int32_t z;
    assert_int_equal(qmac_choose_qparams(-63.75f, 63.75f, -128, 127, 0, QMAC_QPARAMS_ONNXRT, &s, &z),
                     QMAC_OK);
    assert_f32_same(s, 0.5f);
    assert_int_equal(z, 0);
}

static void test_quant_qparams_tflite_symmetric(void **state)
{
    (void)state;
    /* absmax 0.5 / 127 = 1/254 = 0x1.02040810...p-8 -> float32 0x1.020408p-8 (next bits 0001..: down) */
    check_tfl(-0.5f, 0.25f, -127, 127, 1, 0x1.020408p-8f, 0);
    check_tfl(-0.25f, 0.5f, -127, 127, 1, 0x1.020408p-8f, 0);
    check_tfl(0.0f, 0.0f, -127, 127, 1, 1.0f, 0); /* TFLite would write 0 */
    /* 4-bit narrow [-7, 7]: 3.5 / 7 = 0.5 */
    check_tfl(-3.5f, 1.0f, -7, 7, 1, 0.5f, 0);
    float s;
    int32_t z;
    assert_int_equal(qmac_choose_qparams(-1.0f, 1.0f, -1, 0, 1, QMAC_QPARAMS_TFLITE, &s, &z),
                     QMAC_ERR_INVALID_ARG); /* qmax 0 */
}

static void test_quant_qparams_rejects(void **state)
{
    (void)state;
    float s;
    int32_t z;
    assert_int_equal(qmac_choose_qparams(NAN, 1.0f, 0, 255, 0, QMAC_QPARAMS_ONNXRT, &s, &z),
                     QMAC_ERR_INVALID_ARG);
    assert_int_equal(qmac_choose_qparams(-1.0f, 1.0f, 5, 5, 0, QMAC_QPARAMS_TFLITE, &s, &z),
                     QMAC_ERR_INVALID_ARG);
    /* ORT requires qmin <= 0 <= qmax */
    assert_int_equal(qmac_choose_qparams(-1.0f, 1.0f, 1, 255, 0, QMAC_QPARAMS_ONNXRT, &s, &z),
                     QMAC_ERR_INVALID_ARG);
    /* float32 rmax - rmin overflows to infinity */
    assert_int_equal(qmac_choose_qparams(-FLT_MAX, FLT_MAX, 0, 255, 0, QMAC_QPARAMS_ONNXRT, &s, &z),
                     QMAC_ERR_INVALID_ARG);
    const float lo[2] = {-1.0f, NAN}, hi[2] = {1.0f, 1.0f};
    float sa[2];
    int32_t za[2];
    assert_int_equal(qmac_choose_qparams_axis(lo, hi, 2, -128, 127, 0, QMAC_QPARAMS_ONNXRT, sa, za),
                     QMAC_ERR_INVALID_ARG);
    assert_non_null(strstr(qmac_last_error(), "channel 1"));
}

static void test_quant_qparams_axis(void **state)
{
    (void)state;
    /* two uint8 channels: the first row of k_ort_params and the {-0.5, 254.5} row */
    const float lo[2] = {-1.0f, -0.5f}, hi[2] = {2.0f, 254.5f};
    float s[2];
    int32_t z[2];
    assert_int_equal(qmac_choose_qparams_axis(lo, hi, 2, 0, 255, 0, QMAC_QPARAMS_ONNXRT, s, z), QMAC_OK);
    assert_f32_same(s[0], k_ort_params[0].scale);
    assert_int_equal(z[0], k_ort_params[0].zp);
    assert_f32_same(s[1], 1.0f);
    assert_int_equal(z[1], 0); /* row {-0.5, 254.5} of the ORT table */
}

/* ---------------------------------------------------------------- TFLite converter weights */

/* tests/oracles/quant_ref.py (numpy float32 transcription of the converter, TF not installed):
 * {absmax, w, q by w * (127/absmax) as the converter does, q by w / (absmax/127)} */
static const struct {
    float absmax, w;
    int32_t q_mul, q_div;
} k_tfl_w[] = {
    {0x1.e6b77ap+0f, -0x1.a3a640p+0f, -110, -109},
    {0x1.fe82bap+0f, -0x1.6bca00p+0f, -90, -91},
    {0x1.287204p+1f, -0x1.93d1bcp+0f, -87, -86},
};

static void test_quant_tflite_weights_multiply_by_inverse(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof k_tfl_w / sizeof k_tfl_w[0]; ++i) {
        const float w[2] = {k_tfl_w[i].absmax, k_tfl_w[i].w};
        float scale = 0.0f;
        int8_t q[2];
        assert_int_equal(qmac_quantize_symmetric_tflite_s8(w, 1, 1, 2, &scale, q), QMAC_OK);
        assert_int_equal(q[0], 127);
        assert_int_equal(q[1], k_tfl_w[i].q_mul);
        assert_int_equal(qmac_quantize_f32(k_tfl_w[i].w, scale, 0, -127, 127, QMAC_ROUND_HALF_AWAY),
                         k_tfl_w[i].q_div);
    }
}

static void test_quant_tflite_weights_per_axis(void **state)
{
    (void)state;
    /* [2, 2, 2], axis 1: channel 0 = {0, 0, 0, 0}; channel 1 = {1, -0.5, 0.25, 2}: absmax 2,
     * inv = 63.5: 63.5 -> 64 (away), -31.75 -> -32, 15.875 -> 16, 127 */
    const float w[8] = {0.0f, 0.0f, 1.0f, -0.5f, 0.0f, 0.0f, 0.25f, 2.0f};
    float s[2];
    int8_t q[8];
    assert_int_equal(qmac_quantize_symmetric_tflite_s8(w, 2, 2, 2, s, q), QMAC_OK);
    assert_f32_same(s[0], 0.0f); /* TFLite writes 0 for an all-zero channel */
    const int8_t want[8] = {0, 0, 64, -32, 0, 0, 16, 127};
    assert_memory_equal(q, want, sizeof want);
    /* 2 / 127 */
    assert_true(fabs((double)s[1] - 2.0 / 127.0) < 1e-9);
    const float bad[2] = {1.0f, NAN};
    assert_int_equal(qmac_quantize_symmetric_tflite_s8(bad, 1, 1, 2, s, q), QMAC_ERR_INVALID_ARG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quant_qrange_values),
        cmocka_unit_test(test_quant_qrange_rejects_bits),
        cmocka_unit_test(test_quant_qrange_onnxrt_table),
        cmocka_unit_test(test_quant_quantize_matches_onnxrt),
        cmocka_unit_test(test_quant_quantize_divides),
        cmocka_unit_test(test_quant_quantize_half_away),
        cmocka_unit_test(test_quant_round_f32),
        cmocka_unit_test(test_quant_dequantize_values),
        cmocka_unit_test(test_quant_axis_split),
        cmocka_unit_test(test_quant_axis_s8_half_even),
        cmocka_unit_test(test_quant_axis_s8_half_away),
        cmocka_unit_test(test_quant_axis_dequantize),
        cmocka_unit_test(test_quant_axis_u8),
        cmocka_unit_test(test_quant_nbit_signed_narrow),
        cmocka_unit_test(test_quant_nbit_unsigned),
        cmocka_unit_test(test_quant_qparams_check_rejects),
        cmocka_unit_test(test_quant_qparams_match_onnxrt),
        cmocka_unit_test(test_quant_qparams_tflite_nudging),
        cmocka_unit_test(test_quant_qparams_onnxrt_vs_tflite_tie),
        cmocka_unit_test(test_quant_qparams_tflite_symmetric),
        cmocka_unit_test(test_quant_qparams_rejects),
        cmocka_unit_test(test_quant_qparams_axis),
        cmocka_unit_test(test_quant_tflite_weights_multiply_by_inverse),
        cmocka_unit_test(test_quant_tflite_weights_per_axis),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
