/* test_log2q.c - power-of-two quantization: both rounding conventions at their boundaries,
 * clipping, flush-to-zero, the sign + exponent codes, and a property check of the chosen power
 * against the ratio |x| / 2^k computed independently here. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "qmac/log2q.h"

static void assert_f32_same(float got, float want)
{
    if (!(got == want && signbit(got) == signbit(want))) {
        print_error("float mismatch: got %a, want %a\n", (double)got, (double)want);
        fail();
    }
}

static void test_log2q_exponent_log_boundary(void **state)
{
    (void)state;
    /* sqrt(2) = 1.41421356...: the float32 just below is 0x1.6a09e6p+0 = 1.41421354, just above
     * 0x1.6a09e8p+0 = 1.41421366 */
    assert_int_equal(qmac_log2_exponent(0x1.6a09e6p+0f, QMAC_LOG2_ROUND_LOG), 0);
    assert_int_equal(qmac_log2_exponent(0x1.6a09e8p+0f, QMAC_LOG2_ROUND_LOG), 1);
    assert_int_equal(qmac_log2_exponent(-0x1.6a09e8p+0f, QMAC_LOG2_ROUND_LOG), 1); /* |x| */
    assert_int_equal(qmac_log2_exponent(1.0f, QMAC_LOG2_ROUND_LOG), 0);
    assert_int_equal(qmac_log2_exponent(0.75f, QMAC_LOG2_ROUND_LOG), 0);        /* 1.5 * 2^-1, 1.5 > sqrt 2 */
    assert_int_equal(qmac_log2_exponent(2.8f, QMAC_LOG2_ROUND_LOG), 1);         /* 1.4 * 2 */
    assert_int_equal(qmac_log2_exponent(2.9f, QMAC_LOG2_ROUND_LOG), 2);         /* 1.45 * 2 */
    assert_int_equal(qmac_log2_exponent(0x1p-149f, QMAC_LOG2_ROUND_LOG), -149); /* smallest subnormal */
    assert_int_equal(qmac_log2_exponent(0x1.8p-140f, QMAC_LOG2_ROUND_LOG), -139);
    assert_int_equal(qmac_log2_exponent(0x1.fffffep+127f, QMAC_LOG2_ROUND_LOG), 128);
}

static void test_log2q_exponent_linear_boundary(void **state)
{
    (void)state;
    assert_int_equal(qmac_log2_exponent(0x1.7ffffep+0f, QMAC_LOG2_ROUND_LINEAR), 0); /* just below 1.5 */
    assert_int_equal(qmac_log2_exponent(1.5f, QMAC_LOG2_ROUND_LINEAR), 1);           /* tie: up */
    assert_int_equal(qmac_log2_exponent(-1.5f, QMAC_LOG2_ROUND_LINEAR), 1);
    assert_int_equal(qmac_log2_exponent(0.75f, QMAC_LOG2_ROUND_LINEAR), 0); /* 1.5 * 2^-1: tie, up */
    assert_int_equal(qmac_log2_exponent(2.9f, QMAC_LOG2_ROUND_LINEAR), 1);  /* 1.45 < 1.5 */
    assert_int_equal(qmac_log2_exponent(3.0f, QMAC_LOG2_ROUND_LINEAR), 2);
    /* between sqrt 2 and 1.5 the two conventions disagree */
    assert_int_equal(qmac_log2_exponent(1.45f, QMAC_LOG2_ROUND_LINEAR), 0);
    assert_int_equal(qmac_log2_exponent(1.45f, QMAC_LOG2_ROUND_LOG), 1);
    assert_int_equal(qmac_log2_exponent(0x1.8p-140f, QMAC_LOG2_ROUND_LINEAR), -139);
}

static void test_log2q_quantize_clip(void **state)
{
    (void)state;
    const qmac_log2_params p = {-4, 2, QMAC_LOG2_ROUND_LOG, 0, 4};
    assert_int_equal(qmac_log2_check(&p), QMAC_OK);
    assert_f32_same(qmac_log2q_f32(100.0f, &p), 4.0f); /* 2^7 clipped to 2^2 */
    assert_f32_same(qmac_log2q_f32(-100.0f, &p), -4.0f);
    assert_f32_same(qmac_log2q_f32(0.01f, &p), 0.0625f); /* round(log2 0.01) = -7 -> clip -4 */
    assert_f32_same(qmac_log2q_f32(-0.3f, &p), -0.25f);  /* log2 0.3 = -1.74 -> -2 */
    assert_f32_same(qmac_log2q_f32(0.0f, &p), 0.0f);
    assert_f32_same(qmac_log2q_f32(-0.0f, &p), 0.0f); /* 0 kept as +0 */
    assert_f32_same(qmac_log2q_f32(NAN, &p), 0.0f);
    assert_f32_same(qmac_log2q_f32(INFINITY, &p), 4.0f);
    assert_f32_same(qmac_log2q_f32(-INFINITY, &p), -4.0f);
    assert_f32_same(qmac_log2q_f32(1.45f, &p), 2.0f);
    const qmac_log2_params lin = {-4, 2, QMAC_LOG2_ROUND_LINEAR, 0, 4};
    assert_f32_same(qmac_log2q_f32(1.45f, &lin), 1.0f);
}

static void test_log2q_flush_to_zero(void **state)
{
    (void)state;
    const qmac_log2_params p = {-4, 2, QMAC_LOG2_ROUND_LOG, 1, 4};
    assert_f32_same(qmac_log2q_f32(0.01f, &p), 0.0f);
    /* 2^-4.5 = 0.04419417: just above rounds to 2^-4, just below to 2^-5 -> flushed */
    assert_f32_same(qmac_log2q_f32(0.0442f, &p), 0.0625f);
    assert_f32_same(qmac_log2q_f32(-0.0441f, &p), 0.0f);
    assert_f32_same(qmac_log2q_f32(1e30f, &p), 4.0f); /* the top still clips */
}

static void test_log2q_codes(void **state)
{
    (void)state;
    /* 4-bit codes, exponents [-4, 2]: m = k + 5, sign bit 8 */
    const qmac_log2_params p = {-4, 2, QMAC_LOG2_ROUND_LOG, 0, 4};
    assert_int_equal(qmac_log2_encode_one(1.0f, &p), 5);
    assert_int_equal(qmac_log2_encode_one(-1.0f, &p), 13);
    assert_int_equal(qmac_log2_encode_one(0.0f, &p), 0);
    assert_int_equal(qmac_log2_encode_one(100.0f, &p), 7);
    assert_int_equal(qmac_log2_encode_one(-0.01f, &p), 9); /* -2^-4 */
    float y = 1.0f;
    assert_int_equal(qmac_log2_decode_one(13, &p, &y), QMAC_OK);
    assert_f32_same(y, -1.0f);
    assert_int_equal(qmac_log2_decode_one(0, &p, &y), QMAC_OK);
    assert_f32_same(y, 0.0f);
    assert_int_equal(qmac_log2_decode_one(15, &p, &y), QMAC_OK);
    assert_f32_same(y, -4.0f);
    assert_int_equal(qmac_log2_decode_one(8, &p, &y), QMAC_ERR_INVALID_ARG);  /* negative zero */
    assert_int_equal(qmac_log2_decode_one(16, &p, &y), QMAC_ERR_INVALID_ARG); /* wider than 4 bits */
    const qmac_log2_params q = {-4, 1, QMAC_LOG2_ROUND_LOG, 0, 4};            /* 6 exponents */
    assert_int_equal(qmac_log2_decode_one(7, &q, &y), QMAC_ERR_INVALID_ARG);  /* m = 7 > 6 */
}

static void test_log2q_arrays_roundtrip(void **state)
{
    (void)state;
    const qmac_log2_params p = {-8, 6, QMAC_LOG2_ROUND_LINEAR, 1, 5};
    const float x[8] = {0.0f, 3.0f, -0.7f, 1e-4f, 50.0f, -1000.0f, 0.006f, -0.0f};
    /* 3 -> 4 (tie up); -0.7 -> -0.5 (1.4 * 2^-1 < 1.5); 1e-4 -> 2^-13 flushed; 50 -> 64 (2^6);
     * -1000 -> -64 (clip); 0.006 = 1.536 * 2^-8 -> 2^-7 */
    const float want[8] = {0.0f, 4.0f, -0.5f, 0.0f, 64.0f, -64.0f, 0x1p-7f, 0.0f};
    float y[8], d[8];
    uint8_t c[8];
    assert_int_equal(qmac_log2q_array(x, 8, &p, y), QMAC_OK);
    assert_int_equal(qmac_log2_encode(x, 8, &p, c), QMAC_OK);
    assert_int_equal(qmac_log2_decode(c, 8, &p, d), QMAC_OK);
    for (int i = 0; i < 8; ++i) {
        assert_f32_same(y[i], want[i]);
        assert_f32_same(d[i], want[i]);
    }
    c[3] = 0x10; /* sign set, m = 0 */
    assert_int_equal(qmac_log2_decode(c, 8, &p, d), QMAC_ERR_INVALID_ARG);
    assert_non_null(strstr(qmac_last_error(), "code 3"));
}

static void test_log2q_check_rejects(void **state)
{
    (void)state;
    qmac_log2_params p = {-4, 3, QMAC_LOG2_ROUND_LOG, 0, 4}; /* 8 exponents > 7 */
    assert_int_equal(qmac_log2_check(&p), QMAC_ERR_INVALID_ARG);
    p = (qmac_log2_params){3, 2, QMAC_LOG2_ROUND_LOG, 0, 8};
    assert_int_equal(qmac_log2_check(&p), QMAC_ERR_INVALID_ARG);
    p = (qmac_log2_params){-127, 0, QMAC_LOG2_ROUND_LOG, 0, 8};
    assert_int_equal(qmac_log2_check(&p), QMAC_ERR_INVALID_ARG);
    p = (qmac_log2_params){0, 0, QMAC_LOG2_ROUND_LOG, 0, 9};
    assert_int_equal(qmac_log2_check(&p), QMAC_ERR_INVALID_ARG);
    p = (qmac_log2_params){0, 0, (qmac_log2_rounding)7, 0, 4};
    assert_int_equal(qmac_log2_check(&p), QMAC_ERR_INVALID_ARG);
    p = (qmac_log2_params){-126, 0, QMAC_LOG2_ROUND_LOG, 0, 8}; /* 127 exponents fit 8 bits */
    assert_int_equal(qmac_log2_check(&p), QMAC_OK);
}

static uint32_t g_rng = 0xc0ffee11u;

static uint32_t xorshift32(void)
{
    uint32_t x = g_rng;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return g_rng = x;
}

static void test_log2q_property_random(void **state)
{
    (void)state;
    /* For random finite floats, with wide limits: r = |x| / q is exact (q a power of two); the log
     * convention needs r^2 in [1/2, 2), the linear one r in [3/4, 3/2). */
    const qmac_log2_params lg = {-126, 0, QMAC_LOG2_ROUND_LOG, 0, 8};
    const qmac_log2_params ln = {-126, 0, QMAC_LOG2_ROUND_LINEAR, 0, 8};
    for (int i = 0; i < 200000; ++i) {
        uint32_t bits = xorshift32();
        bits = (bits & 0x807fffffu) | ((0x20u + (bits >> 23) % 0x5eu) << 23); /* |x| in [2^-95, 2^-1) */
        float x;
        memcpy(&x, &bits, sizeof x);
        const float a = qmac_log2q_f32(x, &lg), b = qmac_log2q_f32(x, &ln);
        assert_true(signbit(a) == signbit(x) && signbit(b) == signbit(x));
        const double ra = fabs((double)x) / fabs((double)a), rb = fabs((double)x) / fabs((double)b);
        if (!(ra * ra >= 0.5 && ra * ra < 2.0) || !(rb >= 0.75 && rb < 1.5)) {
            print_error("x = %a: log2q %a (ratio %.9g), linear %a (ratio %.9g)\n", (double)x, (double)a, ra,
                        (double)b, rb);
            fail();
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_log2q_exponent_log_boundary),
        cmocka_unit_test(test_log2q_exponent_linear_boundary),
        cmocka_unit_test(test_log2q_quantize_clip),
        cmocka_unit_test(test_log2q_flush_to_zero),
        cmocka_unit_test(test_log2q_codes),
        cmocka_unit_test(test_log2q_arrays_roundtrip),
        cmocka_unit_test(test_log2q_check_rejects),
        cmocka_unit_test(test_log2q_property_random),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
