/* test_mac_array.c - the cycle-exact MAC array model (sw/src/mac_array.c) against the arithmetic it
 * must compute: hand-derived operand/product edges and latency, the legal weight-write window at
 * its exact boundary, and random matrix products streamed at full rate through the array in both
 * modes, compared with plain integer loops written here (binary: with qmac_bdot, the reference
 * XNOR-popcount dot product). The RTL is compared with this model by the Verilator harness in
 * sim/. Seed: printed; override with QMAC_SEED=<n>. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qmac/binary.h"
#include "qmac/mac_array.h"

static uint64_t g_rng;

static uint64_t splitmix64(void)
{
    uint64_t z = (g_rng += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static uint32_t urand(uint32_t n)
{
    return (uint32_t)(splitmix64() % n);
}

/* A byte biased towards the edges: 0, 0x7f (127), 0x80 (-128), 0xff (all ones / -1 / 255). */
static uint8_t edge_byte(void)
{
    static const uint8_t edges[] = {0x00, 0x7f, 0x80, 0xff, 0x01, 0xfe};
    return (splitmix64() & 3u) == 0 ? edges[urand(sizeof edges)] : (uint8_t)splitmix64();
}

/* ---------------------------------------------------------------- operands and products */

static void test_mac_array_operand_edges(void **state)
{
    (void)state;
    assert_int_equal(qmac_array_operand(0x80, 0x7f, true), -255); /* -128 - 127 */
    assert_int_equal(qmac_array_operand(0x7f, 0x80, true), 255);  /* 127 - (-128) */
    assert_int_equal(qmac_array_operand(0x00, 0xff, false), -255);
    assert_int_equal(qmac_array_operand(0xff, 0x00, false), 255);
    assert_int_equal(qmac_array_operand(0xff, 0x00, true), -1);
    assert_int_equal(qmac_array_operand(0x80, 0x80, true), 0);
    assert_int_equal(qmac_array_operand(0x80, 0x00, false), 128);
}

static void test_mac_array_product_edges(void **state)
{
    (void)state;
    assert_int_equal(qmac_array_product(-255, -255, false), 65025);
    assert_int_equal(qmac_array_product(-255, 255, false), -65025);
    assert_int_equal(qmac_array_product(-128, 127, false), -16256);
    /* binary: 8 lanes, +1 where the bits agree */
    assert_int_equal(qmac_array_product(0xff, 0xff, true), 8);
    assert_int_equal(qmac_array_product(0xff, 0x00, true), -8);
    assert_int_equal(qmac_array_product(0x0f, 0x00, true), 0);
    assert_int_equal(qmac_array_product(0x01, 0x00, true), 6);
    /* only the low 8 bits count: -1 is 0x1ff in 9 bits, its low byte all ones */
    assert_int_equal(qmac_array_product(-1, 0xff, true), 8);
}

static void test_mac_array_psum_bits(void **state)
{
    (void)state;
    assert_int_equal(qmac_array_psum_bits(1), 18);
    assert_int_equal(qmac_array_psum_bits(2), 19);
    assert_int_equal(qmac_array_psum_bits(16), 22);
    assert_int_equal(qmac_array_psum_bits(17), 23);
}

static void test_mac_array_create_bad_shape(void **state)
{
    (void)state;
    qmac_array_model *m = (qmac_array_model *)1;
    assert_int_equal(qmac_array_model_create(0, 4, &m), QMAC_ERR_INVALID_ARG);
    assert_null(m);
    assert_int_equal(qmac_array_model_create(4, QMAC_ARRAY_MAX_DIM + 1, &m), QMAC_ERR_INVALID_ARG);
    assert_int_equal(qmac_array_model_create(4, 4, NULL), QMAC_ERR_INVALID_ARG);
}

/* ---------------------------------------------------------------- a hand-built 2x3 schedule */

static void clock_and_read(qmac_array_model *m, const qmac_array_in *in, qmac_array_out *o)
{
    qmac_array_model_clock(m, in);
    qmac_array_model_outputs(m, o);
}

/* 2x3 array, weights W = [[1, 2, 3], [-4, 5, -6]] (int8, zp 0), vector a = [10, 20] (uint8, zp 3):
 * sums = (7, 17) x W = [7 - 68, 14 + 85, 21 - 102] = [-61, 99, -81], with acc = [INT32_MAX, 0, 5]
 * -> [INT32_MAX - 61, 99, -76]. Latency 2 + 3 + 1 = 6: nothing valid before cycle 6. */
static void test_mac_array_latency_and_values(void **state)
{
    (void)state;
    qmac_array_model *m;
    assert_int_equal(qmac_array_model_create(2, 3, &m), QMAC_OK);
    qmac_array_in in;
    qmac_array_out o;
    memset(&in, 0, sizeof in);
    in.wgt_valid = true;
    in.wgt_signed = true;
    const int8_t w[2][3] = {{1, 2, 3}, {-4, 5, -6}};
    for (uint32_t r = 0; r < 2; r++) { /* cycles 0, 1: write the rows */
        in.wgt_row = r;
        for (int c = 0; c < 3; c++)
            in.wgt[c] = (uint8_t)w[r][c];
        clock_and_read(m, &in, &o);
        assert_false(o.valid);
    }
    memset(&in, 0, sizeof in); /* cycle 2: the vector */
    in.act_valid = in.act_swap = in.act_acc = true;
    in.act_zp = 3;
    in.act[0] = 10;
    in.act[1] = 20;
    clock_and_read(m, &in, &o);
    memset(&in, 0, sizeof in);
    for (uint32_t cyc = 3; cyc < 2 + QMAC_ARRAY_LATENCY(2, 3); cyc++) {
        if (cyc == 2 + QMAC_ARRAY_LATENCY(2, 3) - 1) { /* acc is sampled the cycle before */
            in.acc[0] = INT32_MAX;
            in.acc[2] = 5;
        }
        clock_and_read(m, &in, &o);
        if (cyc < 2 + QMAC_ARRAY_LATENCY(2, 3) - 1) {
            assert_false(o.valid);
            for (int c = 0; c < 3; c++)
                assert_int_equal(o.out[c], 0);
        }
    }
    assert_true(o.valid);
    assert_int_equal(o.out[0], INT32_MAX - 61);
    assert_int_equal(o.out[1], 99);
    assert_int_equal(o.out[2], -76);
    memset(&in, 0, sizeof in);
    clock_and_read(m, &in, &o);
    assert_false(o.valid);
    assert_int_equal(o.out[0], 0);
    qmac_array_model_free(m);
}

/* Accumulator wrap: acc = INT32_MAX plus a positive sum wraps to INT32_MIN + sum - 1. */
static void test_mac_array_accumulator_wraps(void **state)
{
    (void)state;
    qmac_array_model *m;
    assert_int_equal(qmac_array_model_create(1, 1, &m), QMAC_OK);
    qmac_array_in in;
    qmac_array_out o;
    memset(&in, 0, sizeof in);
    in.wgt_valid = true;
    in.wgt_signed = true;
    in.wgt[0] = 0x80; /* -128 */
    clock_and_read(m, &in, &o);
    memset(&in, 0, sizeof in);
    in.act_valid = in.act_swap = in.act_acc = in.act_signed = true;
    in.act[0] = 0x80; /* -128 * -128 = 16384 */
    clock_and_read(m, &in, &o);
    memset(&in, 0, sizeof in);
    clock_and_read(m, &in, &o); /* latency 3: acc sampled in cycle 3 (input cycle + 2) */
    in.acc[0] = INT32_MAX;
    clock_and_read(m, &in, &o);
    assert_true(o.valid);
    assert_int_equal(o.out[0], INT32_MIN + 16383);
    qmac_array_model_free(m);
}

/* ---------------------------------------------------------------- the weight-write window */

/* Tile 1 (weights all 1) is in the shadows; its swap vector enters in cycle s = 0, and a probe
 * vector (all ones, no swap) in cycle 1 sees whatever the swap installed. Tile 2 (weights all 2)
 * has its row r written in cycle `write_at + r`. Returns the sum of the probe's results: rows * cols
 * when no write of tile 2 overtook the swap. */
static int64_t probe_with_writes_at(uint32_t rows, uint32_t cols, uint32_t write_at)
{
    qmac_array_model *m;
    assert_int_equal(qmac_array_model_create(rows, cols, &m), QMAC_OK);
    qmac_array_in in;
    qmac_array_out o;
    for (uint32_t r = 0; r < rows; r++) { /* tile 1 into the shadows before cycle 0 */
        memset(&in, 0, sizeof in);
        in.wgt_valid = true;
        in.wgt_row = r;
        memset(in.wgt, 1, sizeof in.wgt);
        clock_and_read(m, &in, &o);
    }
    int64_t total = 0;
    uint32_t probe_cycle = 1, t_end = 1 + QMAC_ARRAY_LATENCY(rows, cols) + rows + cols;
    for (uint32_t t = 0; t < t_end; t++) {
        memset(&in, 0, sizeof in);
        if (t <= 1) { /* t = 0: swap vector; t = 1: the probe */
            in.act_valid = true;
            in.act_swap = t == 0;
            memset(in.act, 1, sizeof in.act);
        }
        if (t >= write_at && t - write_at < rows) {
            in.wgt_valid = true;
            in.wgt_row = t - write_at;
            memset(in.wgt, 2, sizeof in.wgt);
        }
        qmac_array_model_outputs(m, &o);
        if (t == probe_cycle + QMAC_ARRAY_LATENCY(rows, cols)) {
            assert_true(o.valid);
            for (uint32_t c = 0; c < cols; c++)
                total += o.out[c];
        }
        qmac_array_model_clock(m, &in);
    }
    qmac_array_model_free(m);
    return total;
}

static void test_mac_array_weight_window_boundary(void **state)
{
    (void)state;
    /* Row r may be rewritten from cycle s + r + cols on (the swap passes PE(r, cols-1) in cycle
     * s + r + cols and reads the old shadow). One cycle earlier, each row's last PE (column cols-1)
     * already holds tile 2's weight 2 when the swap passes. */
    const uint32_t shapes[][2] = {{4, 4}, {2, 5}, {5, 2}, {1, 1}};
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        uint32_t rows = shapes[i][0], cols = shapes[i][1];
        assert_int_equal(probe_with_writes_at(rows, cols, cols), (int64_t)rows * cols);
        assert_int_equal(probe_with_writes_at(rows, cols, cols - 1), (int64_t)rows * cols + rows);
    }
}

/* ---------------------------------------------------------------- streamed matrix products */

typedef struct {
    uint32_t rows, cols; /* array */
    uint32_t M, K, N;    /* C[M][N] = sum_k A[M][K] B[K][N]; binary: K bytes of 8 lanes each */
    bool bin, a_signed, w_signed;
    uint8_t a_zp;
    uint32_t gap;         /* idle cycles added between tiles */
    const uint8_t *A, *B; /* [M][K], [K][N] */
    const uint8_t *w_zp;  /* [N] */
    const int32_t *bias;  /* [N] initial accumulators */
} gemm_case;

/* Tiles in order (n-tile, k-tile); tile t's swap vector enters in cycle start[t]; row r of its weights
 * is written in cycle start[t] + r (the last legal cycle). The accumulators ride along: vector m of
 * k-tile kt adds to the results of k-tile kt-1 (fed back through acc) and to bias for kt = 0. */
static void run_gemm(const gemm_case *g, int32_t *C)
{
    const uint32_t R = g->rows, Cc = g->cols, lat = QMAC_ARRAY_LATENCY(R, Cc);
    const uint32_t KT = (g->K + R - 1) / R, NT = (g->N + Cc - 1) / Cc, T = KT * NT;
    uint32_t len = g->M > R ? g->M : R;
    len = len > Cc ? len : Cc;
    const uint32_t spacing = len + g->gap;
    qmac_array_model *m;
    assert_int_equal(qmac_array_model_create(R, Cc, &m), QMAC_OK);
    int32_t *acc = malloc((size_t)g->M * NT * Cc * sizeof *acc);
    assert_non_null(acc);
    for (uint32_t i = 0; i < g->M; i++)
        for (uint32_t n = 0; n < NT * Cc; n++)
            acc[(size_t)i * NT * Cc + n] = n < g->N ? g->bias[n] : 0;

    const uint32_t start0 = 1, t_end = start0 + T * spacing + lat + 1;
    uint32_t outputs = 0;
    qmac_array_in in;
    qmac_array_out o;
    for (uint32_t cyc = 0; cyc < t_end; cyc++) {
        memset(&in, 0, sizeof in);
        /* the activation vector */
        if (cyc >= start0 && (cyc - start0) % spacing < g->M && (cyc - start0) / spacing < T) {
            uint32_t t = (cyc - start0) / spacing, i = (cyc - start0) % spacing, kt = t % KT;
            in.act_valid = in.act_acc = true;
            in.act_swap = i == 0;
            in.act_bin = g->bin;
            in.act_signed = g->a_signed;
            in.act_zp = g->a_zp;
            for (uint32_t r = 0; r < R; r++) {
                uint32_t k = kt * R + r;
                in.act[r] = k < g->K ? g->A[(size_t)i * g->K + k] : g->a_zp;
            }
        }
        /* a weight row */
        if (cyc >= start0 && (cyc - start0) % spacing < R && (cyc - start0) / spacing < T) {
            uint32_t t = (cyc - start0) / spacing, r = (cyc - start0) % spacing;
            uint32_t kt = t % KT, nt = t / KT, k = kt * R + r;
            in.wgt_valid = true;
            in.wgt_row = r;
            in.wgt_signed = g->w_signed;
            for (uint32_t c = 0; c < Cc; c++) {
                uint32_t n = nt * Cc + c;
                in.wgt_zp[c] = n < g->N ? g->w_zp[n] : 0;
                in.wgt[c] = (k < g->K && n < g->N) ? g->B[(size_t)k * g->N + n] : in.wgt_zp[c];
            }
        }
        /* the accumulators for the vector whose results leave in the next cycle */
        if (cyc + 1 >= start0 + lat) {
            uint32_t v = cyc + 1 - lat - start0, t = v / spacing, i = v % spacing;
            if (t < T && i < g->M) {
                uint32_t nt = t / KT;
                memcpy(in.acc, acc + (size_t)i * NT * Cc + nt * Cc, Cc * sizeof *acc);
            }
        }
        /* results: exactly on the predicted cycles */
        qmac_array_model_outputs(m, &o);
        bool expect = false;
        if (cyc >= start0 + lat) {
            uint32_t v = cyc - lat - start0, t = v / spacing, i = v % spacing;
            if (t < T && i < g->M) {
                expect = true;
                memcpy(acc + (size_t)i * NT * Cc + (t / KT) * Cc, o.out, Cc * sizeof *acc);
                outputs++;
            }
        }
        assert_int_equal(o.valid, expect);
        qmac_array_model_clock(m, &in);
    }
    assert_int_equal(outputs, T * g->M);
    for (uint32_t i = 0; i < g->M; i++)
        for (uint32_t n = 0; n < g->N; n++)
            C[(size_t)i * g->N + n] = acc[(size_t)i * NT * Cc + n];
    free(acc);
    qmac_array_model_free(m);
}

/* C = bias + sum_k (a - a_zp)(w - w_zp), wrapped to 32 bits; binary: bias + qmac_bdot over 8K bits. */
static void gemm_expected(const gemm_case *g, int32_t *C)
{
    for (uint32_t i = 0; i < g->M; i++) {
        for (uint32_t n = 0; n < g->N; n++) {
            int64_t s = 0;
            if (g->bin) {
                uint32_t a[64] = {0}, w[64] = {0}; /* K <= 256 bytes = 2048 bits */
                for (uint32_t k = 0; k < g->K; k++) {
                    a[k / 4] |= (uint32_t)g->A[(size_t)i * g->K + k] << (8 * (k % 4));
                    w[k / 4] |= (uint32_t)g->B[(size_t)k * g->N + n] << (8 * (k % 4));
                }
                s = qmac_bdot(a, w, (int32_t)(8 * g->K));
            } else {
                for (uint32_t k = 0; k < g->K; k++) {
                    int64_t a = g->a_signed ? (int8_t)g->A[(size_t)i * g->K + k] - (int8_t)g->a_zp
                                            : g->A[(size_t)i * g->K + k] - g->a_zp;
                    int64_t w = g->w_signed ? (int8_t)g->B[(size_t)k * g->N + n] - (int8_t)g->w_zp[n]
                                            : g->B[(size_t)k * g->N + n] - g->w_zp[n];
                    s += a * w;
                }
            }
            C[(size_t)i * g->N + n] = (int32_t)((uint32_t)g->bias[n] + (uint32_t)s);
        }
    }
}

static void test_mac_array_streamed_gemm_random(void **state)
{
    (void)state;
    uint64_t seed = 0x5eed0003u;
    const char *env = getenv("QMAC_SEED");
    if (env && *env)
        seed = strtoull(env, NULL, 0);
    print_message("test_mac_array_streamed_gemm_random: seed %" PRIu64 " (rerun with QMAC_SEED=%" PRIu64
                  ")\n",
                  seed, seed);
    g_rng = seed;
    static const uint32_t dims[] = {1, 2, 3, 4, 5, 8, 16};
    for (int it = 0; it < 300; it++) {
        gemm_case g;
        memset(&g, 0, sizeof g);
        g.rows = dims[urand(7)];
        g.cols = dims[urand(7)];
        g.bin = urand(3) == 0;
        g.M = 1 + urand(40);
        g.N = 1 + urand(40);
        g.K = g.bin ? g.rows * (1 + urand(4)) : 1 + urand(70); /* binary: whole k-tiles, no pad lanes */
        g.a_signed = urand(2);
        g.w_signed = urand(2);
        g.a_zp = g.bin ? 0 : edge_byte();
        if (g.bin)
            g.a_signed = g.w_signed = false;
        g.gap = urand(3) == 0 ? urand(20) : 0;
        uint8_t *A = malloc((size_t)g.M * g.K), *B = malloc((size_t)g.K * g.N), *wzp = malloc(g.N);
        int32_t *bias = malloc(g.N * sizeof *bias), *C = malloc((size_t)g.M * g.N * sizeof *C);
        int32_t *E = malloc((size_t)g.M * g.N * sizeof *E);
        assert_true(A && B && wzp && bias && C && E);
        for (size_t j = 0; j < (size_t)g.M * g.K; j++)
            A[j] = edge_byte();
        for (size_t j = 0; j < (size_t)g.K * g.N; j++)
            B[j] = edge_byte();
        for (uint32_t n = 0; n < g.N; n++) {
            wzp[n] = g.bin ? 0 : edge_byte();
            switch (urand(4)) {
            case 0: bias[n] = INT32_MAX - (int32_t)urand(100000); break; /* wraps on positive sums */
            case 1: bias[n] = INT32_MIN + (int32_t)urand(100000); break;
            case 2: bias[n] = 0; break;
            default: bias[n] = (int32_t)(uint32_t)splitmix64(); break;
            }
        }
        g.A = A;
        g.B = B;
        g.w_zp = wzp;
        g.bias = bias;
        run_gemm(&g, C);
        gemm_expected(&g, E);
        for (size_t j = 0; j < (size_t)g.M * g.N; j++) {
            if (C[j] != E[j]) {
                print_error(
                    "case %d (%ux%u array, M=%u K=%u N=%u, %s): C[%zu][%zu] = %d, expected %d (seed %" PRIu64
                    ")\n",
                    it, g.rows, g.cols, g.M, g.K, g.N, g.bin ? "binary" : "int8", j / g.N, j % g.N, C[j],
                    E[j], seed);
                fail();
            }
        }
        free(A);
        free(B);
        free(wzp);
        free(bias);
        free(C);
        free(E);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mac_array_operand_edges),
        cmocka_unit_test(test_mac_array_product_edges),
        cmocka_unit_test(test_mac_array_psum_bits),
        cmocka_unit_test(test_mac_array_create_bad_shape),
        cmocka_unit_test(test_mac_array_latency_and_values),
        cmocka_unit_test(test_mac_array_accumulator_wraps),
        cmocka_unit_test(test_mac_array_weight_window_boundary),
        cmocka_unit_test(test_mac_array_streamed_gemm_random),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
