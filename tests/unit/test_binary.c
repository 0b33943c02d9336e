/* test_binary.c - binary quantizers, LCE bit packing, XNOR-popcount dot products and the binary
 * layers, checked against hand-derived vectors and against a plain float reference convolution of
 * +-1 values written here (no bit tricks). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "qmac/binary.h"

static uint32_t g_rng = 0x1234567u;

static uint32_t xorshift32(void)
{
    uint32_t x = g_rng;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return g_rng = x;
}

static float rand_pm1(void)
{
    return (xorshift32() >> 31) ? -1.0f : 1.0f;
}

/* ---------------------------------------------------------------- quantizers */

static void test_binary_sign_step_float(void **state)
{
    (void)state;
    const float x[7] = {-1.0f, -0.0f, 0.0f, 1e-30f, -1e-30f, NAN, 2.0f};
    int8_t s[7];
    uint8_t t[7];
    qmac_sign_f32(x, 7, s);
    qmac_step_f32(x, 7, t);
    const int8_t ws[7] = {-1, 1, 1, 1, -1, 1, 1}; /* sign(0) = sign(-0) = +1 */
    const uint8_t wt[7] = {0, 0, 0, 1, 0, 0, 1};  /* step(0) = 0 (Larq ste_heaviside: x > 0) */
    assert_memory_equal(s, ws, sizeof ws);
    assert_memory_equal(t, wt, sizeof wt);
}

static void test_binary_sign_step_int8(void **state)
{
    (void)state;
    const int8_t q[5] = {2, 3, 4, -128, 127};
    int8_t s[5];
    uint8_t t[5];
    qmac_sign_s8(q, 5, 3, s);
    qmac_step_s8(q, 5, 3, t);
    const int8_t ws[5] = {-1, 1, 1, -1, 1}; /* q < zp -> -1; q == zp (real 0) -> +1 */
    const uint8_t wt[5] = {0, 0, 1, 0, 1};
    assert_memory_equal(s, ws, sizeof ws);
    assert_memory_equal(t, wt, sizeof wt);
}

/* ---------------------------------------------------------------- packing */

static void test_binary_pack_layout(void **state)
{
    (void)state;
    /* 40 channels: negative at 0, 5, 31 (word 0) and 32, 39 (word 1 bits 0, 7); row 2 all negative */
    float x[80];
    for (int i = 0; i < 40; ++i)
        x[i] = 0.5f;
    x[0] = x[5] = x[31] = x[32] = x[39] = -0.25f;
    for (int i = 40; i < 80; ++i)
        x[i] = -1.0f;
    uint32_t p[4] = {0xdeadbeef, 0xdeadbeef, 0xdeadbeef, 0xdeadbeef};
    assert_int_equal(qmac_bwords(40), 2);
    assert_int_equal(qmac_bpack_f32(x, 2, 40, p), QMAC_OK);
    assert_int_equal(p[0], 0x80000021u);
    assert_int_equal(p[1], 0x00000081u); /* tail bits 8..31 are 0 */
    assert_int_equal(p[2], 0xffffffffu);
    assert_int_equal(p[3], 0x000000ffu);
    float back[80];
    assert_int_equal(qmac_bunpack_f32(p, 2, 40, back), QMAC_OK);
    for (int i = 0; i < 80; ++i)
        assert_true(back[i] == (x[i] < 0.0f ? -1.0f : 1.0f));
}

static void test_binary_pack_int8_zero_point(void **state)
{
    (void)state;
    /* zp = -10: q < -10 is -1. Channels 0..2: -11 (1), -10 (0), 100 (0); channel 33: -128 (1) */
    int8_t q[34];
    memset(q, 0, sizeof q);
    q[0] = -11;
    q[1] = -10;
    q[2] = 100;
    q[33] = -128;
    uint32_t p[2];
    assert_int_equal(qmac_bpack_s8(q, -10, 1, 34, p), QMAC_OK);
    assert_int_equal(p[0], 0x1u);
    assert_int_equal(p[1], 0x2u);
    int8_t y[34];
    assert_int_equal(qmac_bunpack_s8(p, 1, 34, y), QMAC_OK);
    assert_int_equal(y[0], -1);
    assert_int_equal(y[1], 1);
    assert_int_equal(y[33], -1);
    assert_int_equal(qmac_bpack_s8(q, 0, 1, 0, p), QMAC_ERR_INVALID_ARG);
}

static void test_binary_popcount(void **state)
{
    (void)state;
    assert_int_equal(qmac_popcount32(0u), 0);
    assert_int_equal(qmac_popcount32(0xffffffffu), 32);
    assert_int_equal(qmac_popcount32(0x80000001u), 2);
    assert_int_equal(qmac_popcount32(0x12345678u), 13); /* 1+1+2+1+2+2+3+1 */
}

static void test_binary_dot_matches_float(void **state)
{
    (void)state;
    for (int k = 1; k <= 100; k += 3) {
        float a[100], w[100];
        double want = 0.0;
        for (int i = 0; i < k; ++i) {
            a[i] = rand_pm1();
            w[i] = rand_pm1();
            want += (double)a[i] * (double)w[i];
        }
        uint32_t pa[4], pw[4];
        assert_int_equal(qmac_bpack_f32(a, 1, k, pa), QMAC_OK);
        assert_int_equal(qmac_bpack_f32(w, 1, k, pw), QMAC_OK);
        assert_int_equal(qmac_bdot(pa, pw, k), (int32_t)want);
        /* dirty tail bits in one operand are masked */
        if (k % 32)
            pa[k / 32] |= ~((UINT32_C(1) << (k % 32)) - 1u);
        assert_int_equal(qmac_bdot(pa, pw, k), (int32_t)want);
    }
    uint32_t z = 0;
    assert_int_equal(qmac_bdot(&z, &z, 0), 0);
}

/* ---------------------------------------------------------------- thresholds */

static void test_binary_threshold_from_affine_hand(void **state)
{
    (void)state;
    int32_t tau;
    uint8_t flip;
    /* 0.5 d - 1.25 >= 0 <=> d >= 2.5 -> first integer 3 */
    assert_int_equal(qmac_bthreshold_from_affine(0.5f, -1.25f, &tau, &flip), QMAC_OK);
    assert_int_equal(tau, 3);
    assert_int_equal(flip, 0);
    /* -2 d + 3 >= 0 <=> d <= 1.5 -> last integer 1, flipped */
    assert_int_equal(qmac_bthreshold_from_affine(-2.0f, 3.0f, &tau, &flip), QMAC_OK);
    assert_int_equal(tau, 1);
    assert_int_equal(flip, 1);
    /* ties: d = 0 gives y = 0 -> +1 in both directions */
    assert_int_equal(qmac_bthreshold_from_affine(1.0f, 0.0f, &tau, &flip), QMAC_OK);
    assert_true(tau == 0 && flip == 0);
    assert_int_equal(qmac_bthreshold_from_affine(-1.0f, 0.0f, &tau, &flip), QMAC_OK);
    assert_true(tau == 0 && flip == 1);
    /* float32 evaluation: 0.1f * 3 = 0.30000000447 rounds to 0.3f = 0x1.333334p-2, so
     * 0.1f*3 + (-0.3f) == 0 -> +1 at d = 3 (exact arithmetic would say d >= 4) */
    assert_int_equal(qmac_bthreshold_from_affine(0.1f, -0.3f, &tau, &flip), QMAC_OK);
    assert_int_equal(tau, 3);
    /* scale 0: constant output */
    assert_int_equal(qmac_bthreshold_from_affine(0.0f, 1.0f, &tau, &flip), QMAC_OK);
    assert_int_equal(tau, INT32_MIN);
    assert_int_equal(qmac_bthreshold_from_affine(0.0f, -1.0f, &tau, &flip), QMAC_OK);
    assert_int_equal(tau, INT32_MAX);
    assert_int_equal(qmac_bthreshold_from_affine(NAN, 0.0f, &tau, &flip), QMAC_ERR_INVALID_ARG);
}

static void test_binary_threshold_from_affine_bruteforce(void **state)
{
    (void)state;
    for (int t = 0; t < 300; ++t) {
        const float s = ((float)(int32_t)(xorshift32() % 2001u) - 1000.0f) / 257.0f;
        const float b = ((float)(int32_t)(xorshift32() % 20001u) - 10000.0f) / 33.0f;
        int32_t tau;
        uint8_t flip;
        assert_int_equal(qmac_bthreshold_from_affine(s, b, &tau, &flip), QMAC_OK);
        for (int32_t d = -1500; d <= 1500; ++d) {
            volatile float m = s * (float)d;
            volatile float v = m + b;
            const int want_plus = v >= 0.0f;
            const int got_plus = flip ? d <= tau : d >= tau;
            if (want_plus != got_plus) {
                print_error("scale %a bias %a d %d: tau %d flip %d\n", (double)s, (double)b, (int)d, (int)tau,
                            (int)flip);
                fail();
            }
        }
    }
}

/* ---------------------------------------------------------------- layers */

/* Plain float reference of a binary conv on +-1 values; padded taps are +1 (ONE) or 0 (ZERO). */
static void ref_bconv(const qmac_bconv_params *p, const qmac_dims *xd, const float *x, const qmac_dims *wd,
                      const float *w, const qmac_dims *yd, int32_t *dot)
{
    const qmac_conv_params *c = &p->conv;
    const int32_t cing = wd->c, coutg = yd->c / c->groups;
    for (int32_t n = 0; n < yd->n; ++n)
        for (int32_t oy = 0; oy < yd->h; ++oy)
            for (int32_t ox = 0; ox < yd->w; ++ox)
                for (int32_t oc = 0; oc < yd->c; ++oc) {
                    const int32_t g = oc / coutg;
                    double acc = 0.0;
                    for (int32_t ky = 0; ky < wd->h; ++ky)
                        for (int32_t kx = 0; kx < wd->w; ++kx)
                            for (int32_t ic = 0; ic < cing; ++ic) {
                                const int32_t iy = oy * c->stride_h - c->pad_top + ky * c->dil_h;
                                const int32_t ix = ox * c->stride_w - c->pad_left + kx * c->dil_w;
                                float xv;
                                if (iy < 0 || iy >= xd->h || ix < 0 || ix >= xd->w)
                                    xv = p->pad == QMAC_BPAD_ONE ? 1.0f : 0.0f;
                                else
                                    xv = x[((n * xd->h + iy) * xd->w + ix) * xd->c + g * cing + ic];
                                acc += (double)xv * w[((oc * wd->h + ky) * wd->w + kx) * cing + ic];
                            }
                    dot[((n * yd->h + oy) * yd->w + ox) * yd->c + oc] = (int32_t)acc;
                }
}

typedef struct {
    qmac_bconv_params p;
    qmac_dims xd, wd, yd;
} conv_case;

static void run_conv_case(const conv_case *cc)
{
    const size_t nx = qmac_dims_count(&cc->xd), nw = qmac_dims_count(&cc->wd), ny = qmac_dims_count(&cc->yd);
    float *x = malloc(nx * sizeof *x), *w = malloc(nw * sizeof *w);
    int32_t *want = malloc(ny * sizeof *want), *got = malloc(ny * sizeof *got);
    const size_t xrows = nx / (size_t)cc->xd.c, wrows = nw / (size_t)cc->wd.c;
    uint32_t *px = malloc(xrows * (size_t)qmac_bwords(cc->xd.c) * sizeof *px);
    uint32_t *pw = malloc(wrows * (size_t)qmac_bwords(cc->wd.c) * sizeof *pw);
    assert_true(x && w && want && got && px && pw);
    for (size_t i = 0; i < nx; ++i)
        x[i] = rand_pm1();
    for (size_t i = 0; i < nw; ++i)
        w[i] = rand_pm1();
    assert_int_equal(qmac_bpack_f32(x, xrows, cc->xd.c, px), QMAC_OK);
    assert_int_equal(qmac_bpack_f32(w, wrows, cc->wd.c, pw), QMAC_OK);
    ref_bconv(&cc->p, &cc->xd, x, &cc->wd, w, &cc->yd, want);
    const qmac_bout out = {QMAC_BOUT_INT32, NULL, NULL, NULL, NULL};
    assert_int_equal(qmac_bconv2d(&cc->p, &cc->xd, px, &cc->wd, pw, &out, &cc->yd, got), QMAC_OK);
    assert_memory_equal(got, want, ny * sizeof *want);

    /* packed-bit output: tau[c] = c - 2, flip on odd channels */
    const int32_t cout = cc->yd.c;
    int32_t *tau = malloc((size_t)cout * sizeof *tau);
    uint8_t *flip = malloc((size_t)cout);
    const size_t rows = ny / (size_t)cout, ow = (size_t)qmac_bwords(cout);
    uint32_t *bits = malloc(rows * ow * sizeof *bits);
    assert_true(tau && flip && bits);
    for (int32_t c = 0; c < cout; ++c) {
        tau[c] = c - 2;
        flip[c] = (uint8_t)(c & 1);
    }
    const qmac_bout bout = {QMAC_BOUT_BITS, NULL, NULL, tau, flip};
    assert_int_equal(qmac_bconv2d(&cc->p, &cc->xd, px, &cc->wd, pw, &bout, &cc->yd, bits), QMAC_OK);
    for (size_t r = 0; r < rows; ++r) {
        for (int32_t c = 0; c < cout; ++c) {
            const int32_t d = want[r * (size_t)cout + (size_t)c];
            const int plus = (c & 1) ? d <= c - 2 : d >= c - 2;
            const uint32_t bit = (bits[r * ow + (size_t)(c / 32)] >> (c % 32)) & 1u;
            assert_int_equal(bit, plus ? 0u : 1u);
        }
        if (cout % 32)
            assert_int_equal(bits[r * ow + ow - 1] >> (cout % 32), 0u);
    }
    free(tau);
    free(flip);
    free(bits);
    free(x);
    free(w);
    free(want);
    free(got);
    free(px);
    free(pw);
}

static void test_binary_bconv_one_padding_random(void **state)
{
    (void)state;
    /* 5x4 input, 37 channels (a partial word), 3x3 filter, stride (2, 1), dilation (1, 2),
     * pads top 1 left 2 bottom 2 right 1: OH = (5+3-3)/2+1 = 3, OW = (4+3-5)/1+1 = 3 */
    const conv_case cc = {
        {{2, 1, 1, 2, 1, 2, 2, 1, 1}, QMAC_BPAD_ONE}, {2, 5, 4, 37}, {5, 3, 3, 37}, {2, 3, 3, 5}};
    run_conv_case(&cc);
}

static void test_binary_bconv_zero_padding_random(void **state)
{
    (void)state;
    const conv_case cc = {
        {{2, 1, 1, 2, 1, 2, 2, 1, 1}, QMAC_BPAD_ZERO}, {2, 5, 4, 37}, {5, 3, 3, 37}, {2, 3, 3, 5}};
    run_conv_case(&cc);
}

static void test_binary_bconv_groups_and_wide_cout(void **state)
{
    (void)state;
    /* groups 2 with 64 input channels (32 per group), 40 output channels (2 output words), SAME-style
     * padding 1, stride 1: 4x4 -> 4x4 */
    const conv_case cc = {
        {{1, 1, 1, 1, 1, 1, 1, 1, 2}, QMAC_BPAD_ZERO}, {1, 4, 4, 64}, {40, 3, 3, 32}, {1, 4, 4, 40}};
    run_conv_case(&cc);
    const conv_case c1 = {
        {{1, 1, 1, 1, 1, 1, 1, 1, 2}, QMAC_BPAD_ONE}, {1, 4, 4, 64}, {40, 3, 3, 32}, {1, 4, 4, 40}};
    run_conv_case(&c1);
}

static void test_binary_bconv_padding_hand(void **state)
{
    (void)state;
    /* 1x1 input with one channel = -1 (bit 1), 3x3 filter of +1 (bits 0), pad 1 all round:
     * ONE: 8 padded taps contribute +1 each, the centre -1: dot 7. ZERO: only the centre: -1. */
    const uint32_t x = 1u, w[9] = {0};
    const qmac_dims xd = {1, 1, 1, 1}, wd = {1, 3, 3, 1}, yd = {1, 1, 1, 1};
    qmac_bconv_params p = {{1, 1, 1, 1, 1, 1, 1, 1, 1}, QMAC_BPAD_ONE};
    const qmac_bout out = {QMAC_BOUT_INT32, NULL, NULL, NULL, NULL};
    int32_t y = 0;
    assert_int_equal(qmac_bconv2d(&p, &xd, &x, &wd, w, &out, &yd, &y), QMAC_OK);
    assert_int_equal(y, 7);
    p.pad = QMAC_BPAD_ZERO;
    assert_int_equal(qmac_bconv2d(&p, &xd, &x, &wd, w, &out, &yd, &y), QMAC_OK);
    assert_int_equal(y, -1);
}

static void test_binary_bconv_int8_output(void **state)
{
    (void)state;
    /* 1x1 conv, 3 input channels, 2 output channels, one pixel:
     * x = {+1, -1, -1}; w0 = {+1, +1, +1} -> dot -1; w1 = {-1, -1, -1} -> dot 1.
     * bias {10, -4}; rule C with scale 0.5 (s_in 1, s_w 0.5, s_out 1), zp 2:
     * c0: (−1 + 10) * 0.5 = 4.5 -> 4 (even) + 2 = 6; c1: (1 - 4) * 0.5 = -1.5 -> -2 + 2 = 0. */
    const float xf[3] = {1.0f, -1.0f, -1.0f}, wf[6] = {1.0f, 1.0f, 1.0f, -1.0f, -1.0f, -1.0f};
    uint32_t px, pw[2];
    assert_int_equal(qmac_bpack_f32(xf, 1, 3, &px), QMAC_OK);
    assert_int_equal(qmac_bpack_f32(wf, 2, 3, pw), QMAC_OK);
    const float sw[2] = {0.5f, 0.5f};
    float scale[2];
    qmac_requant rq;
    assert_int_equal(
        qmac_requant_prepare(&rq, QMAC_REQUANT_ONNXRT, 1.0f, sw, 2, 1.0f, 2, -128, 127, NULL, NULL, scale),
        QMAC_OK);
    const int32_t bias[2] = {10, -4};
    const qmac_bout out = {QMAC_BOUT_INT8, bias, &rq, NULL, NULL};
    const qmac_bconv_params p = {{1, 1, 1, 1, 0, 0, 0, 0, 1}, QMAC_BPAD_ONE};
    const qmac_dims xd = {1, 1, 1, 3}, wd = {2, 1, 1, 3}, yd = {1, 1, 1, 2};
    int8_t y[2];
    assert_int_equal(qmac_bconv2d(&p, &xd, &px, &wd, pw, &out, &yd, y), QMAC_OK);
    assert_int_equal(y[0], 6);
    assert_int_equal(y[1], 0);
    /* the same through bdense */
    assert_int_equal(qmac_bdense(1, 3, 2, &px, pw, &out, y), QMAC_OK);
    assert_int_equal(y[0], 6);
    assert_int_equal(y[1], 0);
}

static void test_binary_bdense_random(void **state)
{
    (void)state;
    enum { B = 3, D = 70, C = 33 };
    float x[B * D], w[C * D];
    for (int i = 0; i < B * D; ++i)
        x[i] = rand_pm1();
    for (int i = 0; i < C * D; ++i)
        w[i] = rand_pm1();
    uint32_t px[B * 3], pw[C * 3];
    assert_int_equal(qmac_bpack_f32(x, B, D, px), QMAC_OK);
    assert_int_equal(qmac_bpack_f32(w, C, D, pw), QMAC_OK);
    int32_t dot[B * C];
    const qmac_bout out = {QMAC_BOUT_INT32, NULL, NULL, NULL, NULL};
    assert_int_equal(qmac_bdense(B, D, C, px, pw, &out, dot), QMAC_OK);
    int32_t tau[C];
    for (int c = 0; c < C; ++c)
        tau[c] = 0;
    uint32_t bits[B * 2];
    const qmac_bout bout = {QMAC_BOUT_BITS, NULL, NULL, tau, NULL};
    assert_int_equal(qmac_bdense(B, D, C, px, pw, &bout, bits), QMAC_OK);
    for (int b = 0; b < B; ++b)
        for (int c = 0; c < C; ++c) {
            double want = 0.0;
            for (int d = 0; d < D; ++d)
                want += (double)x[b * D + d] * w[c * D + d];
            assert_int_equal(dot[b * C + c], (int32_t)want);
            /* threshold 0, no flip: bit = dot < 0 (sign(0) = +1) */
            assert_int_equal((bits[b * 2 + c / 32] >> (c % 32)) & 1u, want < 0.0 ? 1u : 0u);
        }
}

static void test_binary_layer_rejects(void **state)
{
    (void)state;
    uint32_t x[16] = {0}, w[16] = {0};
    int32_t y[64];
    const qmac_bout out = {QMAC_BOUT_INT32, NULL, NULL, NULL, NULL};
    /* groups 2 with 16 channels per group: not word-aligned */
    qmac_bconv_params p = {{1, 1, 1, 1, 0, 0, 0, 0, 2}, QMAC_BPAD_ONE};
    qmac_dims xd = {1, 2, 2, 32}, wd = {2, 1, 1, 16}, yd = {1, 2, 2, 2};
    assert_int_equal(qmac_bconv2d(&p, &xd, x, &wd, w, &out, &yd, y), QMAC_ERR_SHAPE);
    /* wrong output size */
    p.conv.groups = 1;
    wd.c = 32;
    yd.h = 3;
    assert_int_equal(qmac_bconv2d(&p, &xd, x, &wd, w, &out, &yd, y), QMAC_ERR_SHAPE);
    yd.h = 2;
    p.conv.stride_h = 0;
    assert_int_equal(qmac_bconv2d(&p, &xd, x, &wd, w, &out, &yd, y), QMAC_ERR_INVALID_ARG);
    p.conv.stride_h = 1;
    /* requant with the wrong channel count */
    const float sw[3] = {1.0f, 1.0f, 1.0f};
    float scale[3];
    qmac_requant rq;
    assert_int_equal(
        qmac_requant_prepare(&rq, QMAC_REQUANT_ONNXRT, 1.0f, sw, 3, 1.0f, 0, -128, 127, NULL, NULL, scale),
        QMAC_OK);
    const qmac_bout o8 = {QMAC_BOUT_INT8, NULL, &rq, NULL, NULL};
    assert_int_equal(qmac_bconv2d(&p, &xd, x, &wd, w, &o8, &yd, y), QMAC_ERR_INVALID_ARG);
    const qmac_bout ob = {QMAC_BOUT_BITS, NULL, NULL, NULL, NULL};
    assert_int_equal(qmac_bdense(1, 32, 2, x, w, &ob, y), QMAC_ERR_INVALID_ARG);
    assert_int_equal(qmac_bdense(1, 0, 2, x, w, &out, y), QMAC_ERR_INVALID_ARG);
}

static void test_binary_xnor_alpha(void **state)
{
    (void)state;
    const float w[6] = {1.0f, -2.0f, 3.0f, -4.0f, 0.5f, -0.5f};
    float a[3];
    assert_int_equal(qmac_xnor_alpha(w, 3, 2, a), QMAC_OK);
    assert_true(a[0] == 1.5f); /* (1 + 2) / 2 */
    assert_true(a[1] == 3.5f); /* (3 + 4) / 2 */
    assert_true(a[2] == 0.5f);
    assert_int_equal(qmac_xnor_alpha(w, 1, 6, a), QMAC_OK);
    assert_true(a[0] == (float)(11.0 / 6.0)); /* double sum, one division, one rounding */
    assert_int_equal(qmac_xnor_alpha(w, 1, 0, a), QMAC_ERR_INVALID_ARG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_binary_sign_step_float),
        cmocka_unit_test(test_binary_sign_step_int8),
        cmocka_unit_test(test_binary_pack_layout),
        cmocka_unit_test(test_binary_pack_int8_zero_point),
        cmocka_unit_test(test_binary_popcount),
        cmocka_unit_test(test_binary_dot_matches_float),
        cmocka_unit_test(test_binary_threshold_from_affine_hand),
        cmocka_unit_test(test_binary_threshold_from_affine_bruteforce),
        cmocka_unit_test(test_binary_bconv_one_padding_random),
        cmocka_unit_test(test_binary_bconv_zero_padding_random),
        cmocka_unit_test(test_binary_bconv_groups_and_wide_cout),
        cmocka_unit_test(test_binary_bconv_padding_hand),
        cmocka_unit_test(test_binary_bconv_int8_output),
        cmocka_unit_test(test_binary_bdense_random),
        cmocka_unit_test(test_binary_layer_rejects),
        cmocka_unit_test(test_binary_xnor_alpha),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
