/* test_calib.c - calibration: min-max and ONNX Runtime's moving average, histograms of |x| (numpy
 * binning), percentile, MSE and entropy thresholds. Reference numbers come from
 * tests/oracles/calib_ref.py: ONNX Runtime's own HistogramCollector and MinMaxCalibrater
 * (onnxruntime 1.23.2) and, for entropy / MSE, an independent numpy implementation; small cases
 * are derived by hand in the comments. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "qmac/calib.h"

static void assert_f32_same(float got, float want)
{
    if (!(got == want)) {
        print_error("float mismatch: got %a (%.9g), want %a (%.9g)\n", (double)got, (double)got, (double)want,
                    (double)want);
        fail();
    }
}

/* The sample generator of calib_ref.py: xorshift32; v = (a - 2048) * (b - 2048) * 2^-20 with a, b
 * the top 12 bits of two draws (exact in float32); every `every`-th sample (i % every == 0) times
 * `mult`. */
static uint32_t g_state;

static uint32_t xs32(void)
{
    uint32_t x = g_state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return g_state = x;
}

static float *samples(uint32_t seed, size_t n, size_t every, int32_t mult)
{
    float *out = malloc(n * sizeof *out);
    assert_non_null(out);
    g_state = seed;
    for (size_t i = 0; i < n; ++i) {
        const int32_t a = (int32_t)(xs32() >> 20) - 2048;
        const int32_t b = (int32_t)(xs32() >> 20) - 2048;
        int64_t v = (int64_t)a * b;
        if (every && i % every == 0)
            v *= mult;
        out[i] = (float)ldexp((double)v, -20);
    }
    return out;
}

/* ---------------------------------------------------------------- min-max */

static void test_calib_minmax_running(void **state)
{
    (void)state;
    qmac_minmax_calib c;
    assert_int_equal(qmac_minmax_init(&c, 1, 0, 0, 0.0f), QMAC_OK);
    const float b1[3] = {1.0f, -2.0f, 3.0f}, b2[3] = {-5.0f, 2.0f, NAN};
    assert_int_equal(qmac_minmax_observe(&c, b1, 1, 3), QMAC_OK);
    assert_int_equal(qmac_minmax_observe(&c, b2, 1, 3), QMAC_OK);
    float lo, hi;
    assert_int_equal(qmac_minmax_range(&c, &lo, &hi), QMAC_OK);
    assert_f32_same(lo, -5.0f);
    assert_f32_same(hi, 3.0f);
    qmac_minmax_free(&c);
    assert_int_equal(qmac_minmax_init(&c, 1, 1, 0, 0.0f), QMAC_OK); /* symmetric */
    assert_int_equal(qmac_minmax_observe(&c, b1, 1, 3), QMAC_OK);
    assert_int_equal(qmac_minmax_observe(&c, b2, 1, 3), QMAC_OK);
    assert_int_equal(qmac_minmax_range(&c, &lo, &hi), QMAC_OK);
    assert_f32_same(lo, -5.0f);
    assert_f32_same(hi, 5.0f);
    qmac_minmax_free(&c);
    qmac_minmax_free(&c); /* safe twice */
}

static void test_calib_minmax_per_channel_layout(void **state)
{
    (void)state;
    /* [outer 2][ch 2][inner 2]: channel 0 = {1, 2, -3, 4}, channel 1 = {10, NAN, 0.5, -7} */
    const float x[8] = {1.0f, 2.0f, 10.0f, NAN, -3.0f, 4.0f, 0.5f, -7.0f};
    qmac_minmax_calib c;
    assert_int_equal(qmac_minmax_init(&c, 2, 0, 0, 0.0f), QMAC_OK);
    assert_int_equal(qmac_minmax_observe(&c, x, 2, 2), QMAC_OK);
    float lo[2], hi[2];
    assert_int_equal(qmac_minmax_range(&c, lo, hi), QMAC_OK);
    assert_f32_same(lo[0], -3.0f);
    assert_f32_same(hi[0], 4.0f);
    assert_f32_same(lo[1], -7.0f);
    assert_f32_same(hi[1], 10.0f);
    qmac_minmax_free(&c);
}

static void test_calib_minmax_moving_average_hand(void **state)
{
    (void)state;
    /* c = 0.5. Round 1: batch minima {-1, -3}, maxima {2, 4} -> means (-2, 3), taken as is.
     * Round 2: (-4, 5) -> -2 + 0.5 * (-4 + 2) = -3, 3 + 0.5 * (5 - 3) = 4. */
    qmac_minmax_calib c;
    assert_int_equal(qmac_minmax_init(&c, 1, 0, 1, 0.5f), QMAC_OK);
    const float b1[2] = {-1.0f, 2.0f}, b2[2] = {-3.0f, 4.0f}, b3[2] = {5.0f, -4.0f};
    assert_int_equal(qmac_minmax_observe(&c, b1, 1, 2), QMAC_OK);
    assert_int_equal(qmac_minmax_observe(&c, b2, 1, 2), QMAC_OK);
    assert_int_equal(qmac_minmax_end_round(&c), QMAC_OK);
    float lo, hi;
    assert_int_equal(qmac_minmax_range(&c, &lo, &hi), QMAC_OK);
    assert_f32_same(lo, -2.0f);
    assert_f32_same(hi, 3.0f);
    assert_int_equal(qmac_minmax_observe(&c, b3, 1, 2), QMAC_OK);
    assert_int_equal(qmac_minmax_range(&c, &lo, &hi), QMAC_OK); /* closes round 2 */
    assert_f32_same(lo, -3.0f);
    assert_f32_same(hi, 4.0f);
    assert_int_equal(qmac_minmax_range(&c, &lo, &hi), QMAC_OK); /* no open round: unchanged */
    assert_f32_same(lo, -3.0f);
    qmac_minmax_free(&c);
}

/* tests/oracles/calib_ref.py: ORT MinMaxCalibrater, batches i = 0..5 of shape [2, 3, 4] =
 * samples(100 + i, 24) * (1 + i), rounds {0, 1, 2} and {3, 4, 5}.
 * {moving_average, symmetric, per_channel, rmin[3], rmax[3]} */
static const struct {
    int ma, sym, pc;
    float lo[3], hi[3];
} k_ort_minmax[] = {
    {1, 0, 0, {-0x1.10a2b6p+2f, 0x0.0p+0f, 0x0.0p+0f}, {0x1.47447ep+2f, 0x0.0p+0f, 0x0.0p+0f}},
    {1,
     0,
     1,
     {-0x1.8effe6p+1f, -0x1.9e8cdap+1f, -0x1.b0db8ep+1f},
     {0x1.1217a6p+2f, 0x1.ee5a68p+0f, 0x1.c797c4p+1f}},
    {1, 1, 0, {-0x1.4869b0p+2f, 0x0.0p+0f, 0x0.0p+0f}, {0x1.4869b0p+2f, 0x0.0p+0f, 0x0.0p+0f}},
    {1,
     1,
     1,
     {-0x1.1217a6p+2f, -0x1.9e8cdap+1f, -0x1.cc1140p+1f},
     {0x1.1217a6p+2f, 0x1.9e8cdap+1f, 0x1.cc1140p+1f}},
    {0, 0, 0, {-0x1.3407f6p+4f, 0x0.0p+0f, 0x0.0p+0f}, {0x1.bae090p+3f, 0x0.0p+0f, 0x0.0p+0f}},
    {0, 1, 0, {-0x1.3407f6p+4f, 0x0.0p+0f, 0x0.0p+0f}, {0x1.3407f6p+4f, 0x0.0p+0f, 0x0.0p+0f}},
};

static void test_calib_minmax_matches_onnxrt(void **state)
{
    (void)state;
    float *batch[6];
    for (int i = 0; i < 6; ++i) {
        batch[i] = samples(100u + (uint32_t)i, 24, 0, 1);
        for (int k = 0; k < 24; ++k) {
            volatile float v = batch[i][k] * (float)(1 + i); /* numpy float32 multiply */
            batch[i][k] = v;
        }
    }
    for (size_t r = 0; r < sizeof k_ort_minmax / sizeof k_ort_minmax[0]; ++r) {
        const int32_t nch = k_ort_minmax[r].pc ? 3 : 1;
        qmac_minmax_calib c;
        assert_int_equal(qmac_minmax_init(&c, nch, k_ort_minmax[r].sym, k_ort_minmax[r].ma, 0.01f), QMAC_OK);
        for (int i = 0; i < 6; ++i) {
            if (nch == 3)
                assert_int_equal(qmac_minmax_observe(&c, batch[i], 2, 4), QMAC_OK);
            else
                assert_int_equal(qmac_minmax_observe(&c, batch[i], 1, 24), QMAC_OK);
            if (i == 2)
                assert_int_equal(qmac_minmax_end_round(&c), QMAC_OK);
        }
        float lo[3], hi[3];
        assert_int_equal(qmac_minmax_range(&c, lo, hi), QMAC_OK);
        for (int32_t ch = 0; ch < nch; ++ch) {
            if (lo[ch] != k_ort_minmax[r].lo[ch] || hi[ch] != k_ort_minmax[r].hi[ch])
                print_error("row %zu channel %d: got [%a, %a], ORT [%a, %a]\n", r, (int)ch, (double)lo[ch],
                            (double)hi[ch], (double)k_ort_minmax[r].lo[ch], (double)k_ort_minmax[r].hi[ch]);
            assert_f32_same(lo[ch], k_ort_minmax[r].lo[ch]);
            assert_f32_same(hi[ch], k_ort_minmax[r].hi[ch]);
        }
        qmac_minmax_free(&c);
    }
    for (int i = 0; i < 6; ++i)
        free(batch[i]);
}

static void test_calib_minmax_rejects(void **state)
{
    (void)state;
    qmac_minmax_calib c;
    assert_int_equal(qmac_minmax_init(&c, 0, 0, 0, 0.0f), QMAC_ERR_INVALID_ARG);
    qmac_minmax_free(&c);
    assert_int_equal(qmac_minmax_init(&c, 1, 0, 1, 1.5f), QMAC_ERR_INVALID_ARG);
    assert_int_equal(qmac_minmax_init(&c, 2, 0, 0, 0.0f), QMAC_OK);
    const float x[2] = {1.0f, NAN}; /* channel 1 never sees a number */
    assert_int_equal(qmac_minmax_observe(&c, x, 1, 1), QMAC_OK);
    float lo[2], hi[2];
    assert_int_equal(qmac_minmax_range(&c, lo, hi), QMAC_ERR_INVALID_ARG);
    assert_non_null(strstr(qmac_last_error(), "channel 1"));
    qmac_minmax_free(&c);
}

/* ---------------------------------------------------------------- histograms */

static void test_calib_hist_binning_hand(void **state)
{
    (void)state;
    /* FROM_ZERO, 4 bins over [0, 4]: edges 0 1 2 3 4; |x| = 0 1 2 3 4 -> bins 0 1 2 3 3 (the last
     * bin is closed) */
    qmac_hist h;
    assert_int_equal(qmac_hist_init(&h, 1, 4, QMAC_HIST_FROM_ZERO), QMAC_OK);
    const float x[5] = {0.0f, -1.0f, 2.0f, 3.0f, -4.0f};
    assert_int_equal(qmac_hist_observe(&h, x, 1, 5), QMAC_OK);
    assert_int_equal(h.ch[0].nbins, 4);
    const uint64_t want[4] = {1, 1, 1, 2};
    assert_memory_equal(h.ch[0].count, want, sizeof want);
    assert_f32_same(h.ch[0].edges[4], 4.0f);
    assert_f32_same(h.ch[0].min, -4.0f);
    assert_f32_same(h.ch[0].max, 3.0f);
    /* percentile: cdf .2 .4 .6 1: 50 -> bin 2 -> its left edge 2; 100 -> bin 3 -> edge 3 (ORT
     * returns the left edge even for the last bin) */
    float a;
    assert_int_equal(qmac_hist_percentile(&h, 0, 50.0, &a), QMAC_OK);
    assert_f32_same(a, 2.0f);
    assert_int_equal(qmac_hist_percentile(&h, 0, 100.0, &a), QMAC_OK);
    assert_f32_same(a, 3.0f);
    /* growth: max |x| 7.5 > 4: width 1, np.arange(5, 8.5, 1) = 5 6 7 8 -> 8 bins; 7.5 -> bin 7,
     * 0.5 -> bin 0 */
    const float y[2] = {7.5f, 0.5f};
    assert_int_equal(qmac_hist_observe(&h, y, 1, 2), QMAC_OK);
    assert_int_equal(h.ch[0].nbins, 8);
    const uint64_t want2[8] = {2, 1, 1, 2, 0, 0, 0, 1};
    assert_memory_equal(h.ch[0].count, want2, sizeof want2);
    assert_f32_same(h.ch[0].edges[8], 8.0f);
    assert_f32_same(h.ch[0].max, 7.5f);
    /* ORT's final range: (-amax, amax) tightened to the observed [min, max] = [-4, 7.5]:
     * amax 3 -> unchanged; amax 9 -> both bounds tightened */
    float lo, hi;
    assert_int_equal(qmac_hist_range(&h, 0, 3.0f, &lo, &hi), QMAC_OK);
    assert_f32_same(lo, -3.0f);
    assert_f32_same(hi, 3.0f);
    assert_int_equal(qmac_hist_range(&h, 0, 9.0f, &lo, &hi), QMAC_OK);
    assert_f32_same(lo, -4.0f);
    assert_f32_same(hi, 7.5f);
    qmac_hist_free(&h);
}

static void test_calib_hist_from_min_hand(void **state)
{
    (void)state;
    /* FROM_MIN: |x| = 1 2 3 5 -> 4 bins over [1, 5]: edges 1 2 3 4 5, counts 1 1 1 1. A later 0.5
     * is below the first edge and is dropped (as ORT does). */
    qmac_hist h;
    assert_int_equal(qmac_hist_init(&h, 1, 4, QMAC_HIST_FROM_MIN), QMAC_OK);
    const float x[4] = {1.0f, -2.0f, 3.0f, 5.0f};
    assert_int_equal(qmac_hist_observe(&h, x, 1, 4), QMAC_OK);
    const uint64_t want[4] = {1, 1, 1, 1};
    assert_memory_equal(h.ch[0].count, want, sizeof want);
    assert_f32_same(h.ch[0].edges[0], 1.0f);
    const float y[1] = {0.5f};
    assert_int_equal(qmac_hist_observe(&h, y, 1, 1), QMAC_OK);
    assert_memory_equal(h.ch[0].count, want, sizeof want);
    assert_f32_same(h.ch[0].min, -2.0f);
    qmac_hist_free(&h);
    /* a one-value range is widened by +-0.5 (numpy): |x| = 2 -> [1.5, 2.5], 2 bins, 2 in bin 1 */
    assert_int_equal(qmac_hist_init(&h, 1, 2, QMAC_HIST_FROM_MIN), QMAC_OK);
    const float z[2] = {2.0f, -2.0f};
    assert_int_equal(qmac_hist_observe(&h, z, 1, 2), QMAC_OK);
    assert_f32_same(h.ch[0].edges[0], 1.5f);
    assert_f32_same(h.ch[0].edges[2], 2.5f);
    assert_true(h.ch[0].count[0] == 0 && h.ch[0].count[1] == 2);
    qmac_hist_free(&h);
}

/* tests/oracles/calib_ref.py: ORT HistogramCollector(method="percentile", symmetric=True, 2048 bins).
 * Round 1: samples(1, 5000, every 997, x4); round 2: samples(2, 3000, every 501, x8).
 * {percentile, rounds, rmin, rmax, nbins, total, last_edge} */
static const struct {
    double pct;
    int rounds;
    float lo, hi;
    int32_t nbins;
    uint64_t total;
    float last_edge;
} k_ort_pct[] = {
    {99.99, 1, -0x1.62eec0p+3f, 0x1.efc200p+3f, 2048, 5000, 0x1.fp+3f},
    {99.99, 2, -0x1.2342d0p+4f, 0x1.dfe500p+4f, 3964, 8000, 0x1.e00400p+4f},
    {99.999, 1, -0x1.62eec0p+3f, 0x1.efc200p+3f, 2048, 5000, 0x1.fp+3f},
    {99.999, 2, -0x1.2342d0p+4f, 0x1.dfe500p+4f, 3964, 8000, 0x1.e00400p+4f},
    {90.0, 1, -0x1.2f3800p+1f, 0x1.2f3800p+1f, 2048, 5000, 0x1.fp+3f},
    {90.0, 2, -0x1.2f3800p+1f, 0x1.2f3800p+1f, 3964, 8000, 0x1.e00400p+4f},
};

static void test_calib_percentile_matches_onnxrt(void **state)
{
    (void)state;
    float *a = samples(1, 5000, 997, 4), *b = samples(2, 3000, 501, 8);
    for (size_t r = 0; r < sizeof k_ort_pct / sizeof k_ort_pct[0]; ++r) {
        qmac_hist h;
        assert_int_equal(qmac_hist_init(&h, 1, 2048, QMAC_HIST_FROM_MIN), QMAC_OK);
        assert_int_equal(qmac_hist_observe(&h, a, 1, 5000), QMAC_OK);
        if (k_ort_pct[r].rounds == 2)
            assert_int_equal(qmac_hist_observe(&h, b, 1, 3000), QMAC_OK);
        uint64_t total = 0;
        for (int32_t k = 0; k < h.ch[0].nbins; ++k)
            total += h.ch[0].count[k];
        assert_int_equal(h.ch[0].nbins, k_ort_pct[r].nbins);
        assert_int_equal(total, k_ort_pct[r].total);
        assert_f32_same(h.ch[0].edges[h.ch[0].nbins], k_ort_pct[r].last_edge);
        float amax, lo, hi;
        assert_int_equal(qmac_hist_percentile(&h, 0, k_ort_pct[r].pct, &amax), QMAC_OK);
        assert_int_equal(qmac_hist_range(&h, 0, amax, &lo, &hi), QMAC_OK);
        if (lo != k_ort_pct[r].lo || hi != k_ort_pct[r].hi)
            print_error("row %zu: got [%a, %a], ORT [%a, %a]\n", r, (double)lo, (double)hi,
                        (double)k_ort_pct[r].lo, (double)k_ort_pct[r].hi);
        assert_f32_same(lo, k_ort_pct[r].lo);
        assert_f32_same(hi, k_ort_pct[r].hi);
        qmac_hist_free(&h);
    }
    free(a);
    free(b);
}

/* tests/oracles/calib_ref.py (numpy, TensorRT-style KL and MSE as calib.h defines them, on
 * np.histogram(|x|, 2048, range=(0, max|x|))):
 * {seed, n, outlier_every, outlier_mult, kl_bin, kl_amax, mse_bin, mse_amax} */
static const struct {
    uint32_t seed;
    size_t n, every;
    int32_t mult, kl_bin;
    float kl_amax;
    int32_t mse_bin;
    float mse_amax;
} k_np_kl[] = {
    /* margins printed by the script: KL gap to the next distinct value 1.1e-5 / 3.1e-5 / 1.2e-7 (exact
     * ties, 5 / 6 / 1, are bitwise equal sums in both implementations and the first wins); MSE
     * relative gap 9.0e-6 / 2.8e-5 / 4.3e-5 - far above double rounding noise */
    {3, 100000, 97, 16, 1147, 0x1.15da2cp+5f, 1851, 0x1.c0831ap+5f},
    {6, 60000, 50, 8, 1658, 0x1.9d7d16p+4f, 1873, 0x1.d33b70p+4f},
    {5, 100000, 0, 4, 2040, 0x1.fa8506p+1f, 1988, 0x1.edbb84p+1f},
};

static void test_calib_entropy_and_mse_match_numpy(void **state)
{
    (void)state;
    for (size_t r = 0; r < sizeof k_np_kl / sizeof k_np_kl[0]; ++r) {
        float *x = samples(k_np_kl[r].seed, k_np_kl[r].n, k_np_kl[r].every, k_np_kl[r].mult);
        qmac_hist h;
        assert_int_equal(qmac_hist_init(&h, 1, 2048, QMAC_HIST_FROM_ZERO), QMAC_OK);
        assert_int_equal(qmac_hist_observe(&h, x, 1, k_np_kl[r].n), QMAC_OK);
        float kl, mse;
        assert_int_equal(qmac_hist_entropy(&h, 0, 128, &kl), QMAC_OK);
        assert_int_equal(qmac_hist_mse(&h, 0, 127, 128, &mse), QMAC_OK);
        assert_f32_same(kl, k_np_kl[r].kl_amax);
        assert_f32_same(h.ch[0].edges[k_np_kl[r].kl_bin], k_np_kl[r].kl_amax);
        assert_f32_same(mse, k_np_kl[r].mse_amax);
        qmac_hist_free(&h);
        free(x);
    }
}

static void test_calib_entropy_hand(void **state)
{
    (void)state;
    /* 4 bins over [0, 4], nq = 2, |x| = {0, 0, 0, 4}: counts {3, 0, 0, 1}.
     * i = 2: P = {3, 1} (tail folded), Q from the raw bins {3, 0}: q = 0 where p > 0 -> rejected.
     * i = 3: m = 1, levels [0,1) [1,3): P = {3, 0, 1}, level 1 has raw sum 0 -> Q = {3, 0, 0}:
     *        rejected.
     * i = 4: P = {3, 0, 0, 1} = Q: KL 0 -> amax = edges[4] = 4. */
    qmac_hist h;
    assert_int_equal(qmac_hist_init(&h, 1, 4, QMAC_HIST_FROM_ZERO), QMAC_OK);
    const float x[4] = {0.0f, 0.0f, 0.0f, 4.0f};
    assert_int_equal(qmac_hist_observe(&h, x, 1, 4), QMAC_OK);
    float a;
    assert_int_equal(qmac_hist_entropy(&h, 0, 2, &a), QMAC_OK);
    assert_f32_same(a, 4.0f);
    /* fewer bins than quantized levels: the last edge */
    assert_int_equal(qmac_hist_entropy(&h, 0, 128, &a), QMAC_OK);
    assert_f32_same(a, 4.0f);
    qmac_hist_free(&h);
    /* 4 bins over [0, 4], nq = 2, counts {6, 1, 1, 1} (|x| = 0.5 x6, 1.5, 2.5, 4):
     * i = 2: P = {6, 3}, Q = raw {6, 1}: KL = 2/3 ln((2/3)/(6/7)) + 1/3 ln((1/3)/(1/7)) = 0.1149
     * i = 3: P = {6, 1, 2}; Q = {6 | raw 1+1 spread over bins 1, 2} = {6, 1, 1}, sum 8:
     *        KL = 2/3 ln((2/3)/.75) + 1/9 ln((1/9)/.125) + 2/9 ln((2/9)/.125) = 0.0362
     * i = 4: m = 2: Q = {3.5, 3.5, 1, 1}: KL = 2/3 ln(6/3.5) + 1/9 ln(1/3.5) = 0.2201
     * -> i = 3, amax = edges[3] = 3. */
    assert_int_equal(qmac_hist_init(&h, 1, 4, QMAC_HIST_FROM_ZERO), QMAC_OK);
    const float y[9] = {0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 1.5f, 2.5f, 4.0f};
    assert_int_equal(qmac_hist_observe(&h, y, 1, 9), QMAC_OK);
    const uint64_t want[4] = {6, 1, 1, 1};
    assert_memory_equal(h.ch[0].count, want, sizeof want);
    assert_int_equal(qmac_hist_entropy(&h, 0, 2, &a), QMAC_OK);
    assert_f32_same(a, 3.0f);
    qmac_hist_free(&h);
}

static void test_calib_mse_hand(void **state)
{
    (void)state;
    /* 4 bins over [0, 4], counts {1, 1, 1, 2} (centers .5 1.5 2.5 3.5), qmax 1 (one level):
     * candidate c (s = c): each center v -> min(round_half_even(v / c), 1) * c.
     *   c = 0.5: v .5 -> .5, 1.5 -> .5, 2.5 -> .5, 3.5 -> .5: err 0 + 1 + 4 + 2*9 = 23
     *   c = 1.5: .5/1.5 = .33 -> 0 (err .25); 1.5 -> 1.5 (0); 2.5 -> 1.5 (1); 3.5 -> 1.5 (2*4): 9.25
     *   c = 2.5: .2 -> 0 (.25); .6 -> 2.5 (1); 2.5 (0); 3.5 -> 2.5 (2*1): 3.25
     *   c = 3.5: .14 -> 0 (.25); .43 -> 0 (2.25); .71 -> 3.5 (1); 3.5 (0): 3.5
     * -> 2.5 */
    qmac_hist h;
    assert_int_equal(qmac_hist_init(&h, 1, 4, QMAC_HIST_FROM_ZERO), QMAC_OK);
    const float x[5] = {0.0f, 1.0f, 2.0f, 3.0f, 4.0f};
    assert_int_equal(qmac_hist_observe(&h, x, 1, 5), QMAC_OK);
    float a;
    assert_int_equal(qmac_hist_mse(&h, 0, 1, 0, &a), QMAC_OK);
    assert_f32_same(a, 2.5f);
    /* start_bin 3 leaves only c = 3.5 */
    assert_int_equal(qmac_hist_mse(&h, 0, 1, 3, &a), QMAC_OK);
    assert_f32_same(a, 3.5f);
    qmac_hist_free(&h);
}

static void test_calib_hist_per_channel(void **state)
{
    (void)state;
    /* [outer 1][ch 2][inner 3]: channel 0 |x| = {0, 1, 2}, channel 1 |x| = {0, 10, 20}; 2 bins */
    const float x[6] = {0.0f, -1.0f, 2.0f, 0.0f, 10.0f, -20.0f};
    qmac_hist h;
    assert_int_equal(qmac_hist_init(&h, 2, 2, QMAC_HIST_FROM_ZERO), QMAC_OK);
    assert_int_equal(qmac_hist_observe(&h, x, 1, 3), QMAC_OK);
    assert_f32_same(h.ch[0].edges[2], 2.0f);
    assert_f32_same(h.ch[1].edges[2], 20.0f);
    assert_f32_same(h.ch[1].edges[1], 10.0f);
    assert_true(h.ch[1].count[0] == 1 && h.ch[1].count[1] == 2);
    float a;
    assert_int_equal(qmac_hist_percentile(&h, 1, 100.0, &a), QMAC_OK);
    assert_f32_same(a, 10.0f);
    assert_int_equal(qmac_hist_percentile(&h, 2, 100.0, &a), QMAC_ERR_INVALID_ARG);
    qmac_hist_free(&h);
}

static void test_calib_hist_rejects(void **state)
{
    (void)state;
    qmac_hist h;
    assert_int_equal(qmac_hist_init(&h, 1, 0, QMAC_HIST_FROM_ZERO), QMAC_ERR_INVALID_ARG);
    qmac_hist_free(&h);
    assert_int_equal(qmac_hist_init(&h, 1, 16, QMAC_HIST_FROM_ZERO), QMAC_OK);
    float a;
    assert_int_equal(qmac_hist_percentile(&h, 0, 99.0, &a), QMAC_ERR_INVALID_ARG); /* no data yet */
    const float bad[2] = {1.0f, INFINITY};
    assert_int_equal(qmac_hist_observe(&h, bad, 1, 2), QMAC_ERR_INVALID_ARG);
    assert_int_equal(h.ch[0].has_data, 0); /* nothing was recorded */
    const float ok[2] = {1.0f, NAN};
    assert_int_equal(qmac_hist_observe(&h, ok, 1, 2), QMAC_OK);
    assert_int_equal(qmac_hist_percentile(&h, 0, 101.0, &a), QMAC_ERR_INVALID_ARG);
    assert_int_equal(qmac_hist_mse(&h, 0, 0, 0, &a), QMAC_ERR_INVALID_ARG);
    assert_int_equal(qmac_hist_entropy(&h, 0, 0, &a), QMAC_ERR_INVALID_ARG);
    /* growth beyond 2^24 bins is refused */
    const float huge[1] = {1e30f};
    assert_int_equal(qmac_hist_observe(&h, huge, 1, 1), QMAC_ERR_UNSUPPORTED);
    qmac_hist_free(&h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_calib_minmax_running),
        cmocka_unit_test(test_calib_minmax_per_channel_layout),
        cmocka_unit_test(test_calib_minmax_moving_average_hand),
        cmocka_unit_test(test_calib_minmax_matches_onnxrt),
        cmocka_unit_test(test_calib_minmax_rejects),
        cmocka_unit_test(test_calib_hist_binning_hand),
        cmocka_unit_test(test_calib_hist_from_min_hand),
        cmocka_unit_test(test_calib_percentile_matches_onnxrt),
        cmocka_unit_test(test_calib_entropy_and_mse_match_numpy),
        cmocka_unit_test(test_calib_entropy_hand),
        cmocka_unit_test(test_calib_mse_hand),
        cmocka_unit_test(test_calib_hist_per_channel),
        cmocka_unit_test(test_calib_hist_rejects),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
