/* test_conv_prog.c - the convolution program (sw/src/conv_prog.c) run on the golden model equals
 * the reference kernel qmac_conv2d_q, byte for byte, for random layers on both builds: strides,
 * dilations, padding, channel counts that are and are not multiples of N, int8 / uint8
 * activations and weights with per-channel weight zero points, the three requantization rules,
 * int8 / uint8 outputs with fused clamps, row tiling with one and two slots. The seed is printed;
 * QMAC_SEED=S reproduces a run. */
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "qmac/accel.h"
#include "qmac/conv_prog.h"
#include "qmac/gemm_prog.h"
#include "qmac/kernels.h"
#include "qmac/prog.h"
#include "test_rng.h"

#define MEM_BASE 0x10000u

typedef struct {
    qmac_conv_prog_desc d;
    qmac_dtype x_dt, w_dt, y_dt;
    qmac_requant_rule rule;
} layer;

/* Build, run on the golden model and compare with the reference; returns the info. */
static qmac_conv_prog_info run_layer(const qmac_hw_config *cfg, layer *L, const char *what)
{
    qmac_conv_prog_desc *d = &L->d;
    const uint32_t n = cfg->dim, gx = (d->cin + n - 1) / n, gy = (d->cout + n - 1) / n;
    const uint32_t oh = qmac_conv_prog_out_h(d), ow = qmac_conv_prog_out_w(d);
    assert_true(oh > 0 && ow > 0);
    const size_t x_bytes = (size_t)d->h * d->w * gx * n, y_bytes = (size_t)oh * ow * gy * n;
    const size_t w_bytes = qmac_conv_prog_weight_bytes(cfg, d),
                 p_bytes = qmac_gemm_prog_param_bytes(cfg, gy * n);
    const uint32_t align = 64;
    d->x_addr = MEM_BASE;
    d->y_addr = d->x_addr + (uint32_t)((x_bytes + align - 1) / align * align);
    d->w_addr = d->y_addr + (uint32_t)((y_bytes + align - 1) / align * align);
    d->param_addr = d->w_addr + (uint32_t)((w_bytes + align - 1) / align * align);
    const uint32_t prog_addr = d->param_addr + (uint32_t)((p_bytes + align - 1) / align * align);

    /* the tensors: x NHWC [1, h, w, cin], w OHWI, bias, per-channel weight zero points, scales */
    const int xs = L->x_dt == QMAC_DT_INT8, ws = L->w_dt == QMAC_DT_INT8;
    const uint32_t groups = d->groups ? d->groups : 1u, cin_g = d->cin / groups;
    const size_t w_count = (size_t)d->cout * d->kh * d->kw * cin_g;
    uint8_t *x = malloc((size_t)d->h * d->w * d->cin), *w = malloc(w_count);
    uint8_t *wzp8 = malloc(d->cout);
    int32_t *wzp = malloc(sizeof(int32_t) * d->cout), *bias = malloc(sizeof(int32_t) * gy * n);
    float *sw = malloc(sizeof(float) * d->cout);
    assert_non_null(x && w && wzp8 && wzp && bias && sw);
    for (size_t i = 0; i < (size_t)d->h * d->w * d->cin; i++)
        x[i] = (uint8_t)urand(256);
    for (size_t i = 0; i < w_count; i++)
        w[i] = (uint8_t)urand(256);
    const int32_t x_zp = xs ? (int8_t)d->act_zp : (int32_t)d->act_zp;
    for (uint32_t c = 0; c < d->cout; c++) {
        wzp8[c] = (uint8_t)(urand(3) ? urand(256) : (ws ? 0u : 128u));
        wzp[c] = ws ? (int8_t)wzp8[c] : (int32_t)wzp8[c];
        bias[c] = (int32_t)urand(200001) - 100000;
        sw[c] = frand(0.002f, 0.05f);
    }
    const float sx = frand(0.01f, 0.1f), sy = frand(0.05f, 0.5f);

    /* the reference */
    const int32_t qmin = L->y_dt == QMAC_DT_INT8 ? -128 : 0, qmax = qmin + 255;
    const int32_t yzp = L->y_dt == QMAC_DT_INT8 ? (int8_t)d->out_zp : (int32_t)d->out_zp;
    int32_t lo = L->y_dt == QMAC_DT_INT8 ? (int8_t)d->clamp_min : (int32_t)d->clamp_min;
    int32_t hi = L->y_dt == QMAC_DT_INT8 ? (int8_t)d->clamp_max : (int32_t)d->clamp_max;
    int32_t *mult = malloc(sizeof(int32_t) * gy * n), *shift = malloc(sizeof(int32_t) * gy * n);
    float *scale = malloc(sizeof(float) * gy * n);
    assert_non_null(mult && shift && scale);
    qmac_requant rq;
    assert_int_equal(
        qmac_requant_prepare(&rq, L->rule, sx, sw, (int32_t)d->cout, sy, yzp, lo, hi, mult, shift, scale),
        QMAC_OK);
    (void)qmin;
    (void)qmax;
    const qmac_conv_params cp = {.stride_h = (int32_t)d->stride_h,
                                 .stride_w = (int32_t)d->stride_w,
                                 .dil_h = (int32_t)d->dil_h,
                                 .dil_w = (int32_t)d->dil_w,
                                 .pad_top = (int32_t)d->pad_t,
                                 .pad_left = (int32_t)d->pad_l,
                                 .pad_bottom = (int32_t)d->pad_b,
                                 .pad_right = (int32_t)d->pad_r,
                                 .groups = (int32_t)groups};
    const qmac_dims xd = {1, (int32_t)d->h, (int32_t)d->w, (int32_t)d->cin};
    const qmac_dims wd = {(int32_t)d->cout, (int32_t)d->kh, (int32_t)d->kw, (int32_t)cin_g};
    const qmac_dims yd = {1, (int32_t)oh, (int32_t)ow, (int32_t)d->cout};
    const qmac_qbuf xb = {L->x_dt, x, x_zp, NULL}, wb = {L->w_dt, w, 0, wzp};
    uint8_t *yref = malloc(qmac_dims_count(&yd));
    int32_t *scratch = malloc(sizeof(int32_t) * qmac_dims_count(&yd));
    assert_non_null(yref && scratch);
    assert_int_equal(qmac_conv2d_q(&cp, &xd, &xb, &wd, &wb, bias, &rq, &yd, L->y_dt, yref, scratch), QMAC_OK);

    /* the accelerator's image: padded x, weight tiles, parameter table, program */
    qmac_prog p;
    qmac_prog_init(&p);
    qmac_conv_prog_info info;
    if (qmac_conv_prog_build(cfg, d, &p, &info) != QMAC_OK)
        fail_msg("%s: build failed: %s (seed %" PRIu64 ")", what, qmac_last_error(), g_seed);
    const size_t mem_size = prog_addr - MEM_BASE + p.n_insn * QMAC_INSN_BYTES;
    uint8_t *mem = calloc(1, mem_size);
    assert_non_null(mem);
    for (size_t px = 0; px < (size_t)d->h * d->w; px++)
        for (uint32_t c = 0; c < gx * n; c++)
            mem[px * gx * n + c] = c < d->cin ? x[px * d->cin + c] : (uint8_t)d->act_zp;
    memset(mem + (d->y_addr - MEM_BASE), 0xa5, y_bytes);
    qmac_conv_prog_pack_weights(cfg, d, w, wzp8, mem + (d->w_addr - MEM_BASE));
    uint32_t *pm = calloc(gy * n, sizeof(uint32_t));
    int8_t *ps = calloc(gy * n, 1);
    uint8_t *pz = calloc(gy * n, 1);
    assert_non_null(pm && ps && pz);
    for (uint32_t c = 0; c < d->cout; c++) {
        if (L->rule == QMAC_REQUANT_ONNXRT)
            memcpy(&pm[c], &scale[c], 4);
        else
            pm[c] = (uint32_t)mult[c];
        ps[c] = L->rule == QMAC_REQUANT_ONNXRT ? 0 : (int8_t)shift[c];
        pz[c] = wzp8[c];
    }
    for (uint32_t c = d->cout; c < gy * n; c++)
        bias[c] = 0;
    qmac_gemm_prog_pack_params(cfg, gy * n, bias, pm, ps, pz, mem + (d->param_addr - MEM_BASE));
    unsigned char *pb = NULL;
    size_t plen = 0;
    assert_int_equal(qmac_prog_to_bytes(&p, &pb, &plen), QMAC_OK);
    memcpy(mem + (prog_addr - MEM_BASE), pb, plen);
    free(pb);

    qmac_accel *a = NULL;
    assert_int_equal(qmac_accel_create(cfg, &a), QMAC_OK);
    const qmac_accel_mem am = {mem, MEM_BASE, mem_size};
    const qmac_window win = {MEM_BASE, (uint32_t)(MEM_BASE + mem_size - 1)};
    qmac_accel_result res;
    qmac_accel_run(a, &am, prog_addr, &win, 10000000, &res);
    if (!res.done || res.fault != QMAC_FAULT_NONE)
        fail_msg("%s: run did not finish: fault %d at %" PRIu64 " (%s) (seed %" PRIu64 ")", what, res.fault,
                 res.fault_pc, res.why ? res.why : "", g_seed);
    assert_int_equal(res.vectors, info.vectors);

    /* y: every real channel equals the reference, every padding channel is the zero point */
    for (size_t px = 0; px < (size_t)oh * ow; px++)
        for (uint32_t c = 0; c < gy * n; c++) {
            const uint8_t got = mem[(d->y_addr - MEM_BASE) + px * gy * n + c];
            const uint8_t want = c < d->cout ? yref[px * d->cout + c]
                                             : (uint8_t)(yzp < lo   ? lo
                                                         : yzp > hi ? hi
                                                                    : yzp);
            if (got != want)
                fail_msg("%s: y pixel %zu channel %u = 0x%02x, reference 0x%02x (seed %" PRIu64 ")", what, px,
                         c, got, want, g_seed);
        }
    qmac_accel_free(a);
    qmac_prog_free(&p);
    free(mem);
    free(pm);
    free(ps);
    free(pz);
    free(yref);
    free(scratch);
    free(mult);
    free(shift);
    free(scale);
    free(x);
    free(w);
    free(wzp8);
    free(wzp);
    free(bias);
    free(sw);
    return info;
}

static void random_layer(layer *L, uint32_t max_hw, uint32_t max_c)
{
    memset(L, 0, sizeof *L);
    qmac_conv_prog_desc *d = &L->d;
    do {
        d->h = 1 + urand(max_hw);
        d->w = 1 + urand(max_hw);
        d->kh = 1 + urand(3);
        d->kw = 1 + urand(3);
        d->stride_h = 1 + urand(2);
        d->stride_w = 1 + urand(2);
        d->dil_h = 1 + urand(2);
        d->dil_w = 1 + urand(2);
        d->pad_t = urand(3);
        d->pad_l = urand(3);
        d->pad_b = urand(3);
        d->pad_r = urand(3);
    } while (!qmac_conv_prog_out_h(d) || !qmac_conv_prog_out_w(d));
    d->cin = 1 + urand(max_c);
    d->cout = 1 + urand(max_c);
    /* a third grouped: depthwise (multiplier 1 or 2), or 2 .. 4 groups */
    const uint32_t kind = urand(6);
    if (kind == 0) {
        d->cout = d->cin * (1 + urand(2));
        d->groups = d->cin;
    } else if (kind == 1 && max_c >= 4) { /* 2 .. 4 groups of 1 .. max_c / groups channels */
        d->groups = 2 + urand(3);
        d->cin = d->groups * (1 + urand(max_c / d->groups));
        d->cout = d->groups * (1 + urand(max_c / d->groups));
    }
    L->x_dt = urand(2) ? QMAC_DT_INT8 : QMAC_DT_UINT8;
    L->w_dt = urand(2) ? QMAC_DT_INT8 : QMAC_DT_UINT8;
    L->y_dt = urand(2) ? QMAC_DT_INT8 : QMAC_DT_UINT8;
    L->rule = (qmac_requant_rule)urand(3);
    d->act_signed = L->x_dt == QMAC_DT_INT8;
    d->wgt_signed = L->w_dt == QMAC_DT_INT8;
    d->act_zp = urand(256);
    d->rule = L->rule == QMAC_REQUANT_TFLITE   ? QMAC_RULE_TFLITE
              : L->rule == QMAC_REQUANT_SINGLE ? QMAC_RULE_SINGLE
                                               : QMAC_RULE_FLOAT;
    d->omode = L->y_dt == QMAC_DT_INT8 ? QMAC_OMODE_S8 : QMAC_OMODE_U8;
    /* the output zero point inside the clamp (a fused ReLU-like range half of the time) */
    const int s = L->y_dt == QMAC_DT_INT8;
    const int32_t tmin = s ? -128 : 0, zp = tmin + (int32_t)urand(256);
    const int32_t lo = urand(2) ? zp : tmin,
                  hi = urand(2) ? tmin + 255 : zp + (int32_t)urand((uint32_t)(tmin + 256 - zp));
    d->out_zp = (uint32_t)zp & 0xffu;
    d->clamp_min = (uint32_t)lo & 0xffu;
    d->clamp_max = (uint32_t)hi & 0xffu;
}

static void test_conv_prog_random(void **state)
{
    (void)state;
    qmac_hw_config cfgs[2];
    qmac_hw_config_small(&cfgs[0]);
    qmac_hw_config_default(&cfgs[1]);
    /* schedule shapes hit: several row tiles with one / two INP slots, one OUT slot, weights
     * reloaded (not resident) */
    unsigned tiled1 = 0, tiled2 = 0, out1 = 0, reloaded = 0, grouped = 0, depthwise = 0;
    for (int c = 0; c < 2; c++)
        for (int i = 0; i < 60; i++) {
            layer L;
            /* a layer this first version builds (one output row and one group's weights fit) */
            for (;;) {
                random_layer(&L, c == 0 ? 14 : 10, c == 0 ? 20 : 40);
                qmac_prog probe;
                qmac_prog_init(&probe);
                const qmac_status st = qmac_conv_prog_build(&cfgs[c], &L.d, &probe, NULL);
                qmac_prog_free(&probe);
                if (st == QMAC_OK)
                    break;
                assert_int_equal(st, QMAC_ERR_INVALID_ARG);
                assert_non_null(strstr(qmac_last_error(), "does not fit"));
            }
            char what[160];
            snprintf(what, sizeof what, "N %u case %d: %ux%ux%u -> %u, k %ux%u s %u,%u d %u,%u groups %u",
                     cfgs[c].dim, i, L.d.h, L.d.w, L.d.cin, L.d.cout, L.d.kh, L.d.kw, L.d.stride_h,
                     L.d.stride_w, L.d.dil_h, L.d.dil_w, L.d.groups);
            const qmac_conv_prog_info info = run_layer(&cfgs[c], &L, what);
            tiled1 += info.tiles > 1 && info.inp_slots == 1;
            tiled2 += info.tiles > 1 && info.inp_slots == 2;
            out1 += info.out_slots == 1;
            reloaded += !info.weights_resident;
            grouped += L.d.groups > 1 && L.d.groups < L.d.cin;
            depthwise += L.d.groups > 1 && L.d.groups == L.d.cin;
        }
    printf("  120 layers: %u tiled with one INP slot, %u with two, %u with one OUT slot, %u with weights "
           "reloaded, %u grouped, %u depthwise\n",
           tiled1, tiled2, out1, reloaded, grouped, depthwise);
    /* one OUT slot: test_conv_prog_tiled */
    assert_true(tiled1 > 0 && tiled2 > 0 && reloaded > 0 && grouped > 0 && depthwise > 0);
}

/* Layers larger than the small build's buffers: several row tiles, weights reloaded per use. */
static void test_conv_prog_tiled(void **state)
{
    (void)state;
    qmac_hw_config cfg;
    qmac_hw_config_small(&cfg); /* 256 rows per buffer */
    layer L;
    random_layer(&L, 1, 1);
    L.d.groups = 0; /* dense */
    L.d.h = 20;
    L.d.w = 9;
    L.d.cin = 10; /* Gx 3 */
    L.d.cout = 13;
    L.d.kh = L.d.kw = 3;
    L.d.stride_h = L.d.stride_w = 1;
    L.d.dil_h = L.d.dil_w = 1;
    L.d.pad_t = L.d.pad_l = L.d.pad_b = L.d.pad_r = 1;
    qmac_conv_prog_info info = run_layer(&cfg, &L, "small build, 20x9x10 -> 13, 3x3 pad 1");
    assert_true(info.tiles > 1);
    assert_false(info.weights_resident); /* 3*3*3*4 = 108 rows per group, 4 groups: 432 > 256 */
    L.d.stride_h = 2;
    info = run_layer(&cfg, &L, "small build, stride 2 rows");
    assert_true(info.tiles > 1);
    /* one output group's 3 x 3 x 10 weight tiles (360 rows) exceed half of WGT: the reduction is
     * split into chunks of 32 taps loaded into two slots */
    L.d.h = 6;
    L.d.w = 5;
    L.d.cin = 40;
    L.d.stride_h = 1;
    info = run_layer(&cfg, &L, "small build, 6x5x40 -> 13, reduction in chunks");
    assert_false(info.weights_resident);
    L.d.kh = L.d.kw = 1; /* 10 taps: a whole group per slot */
    L.d.pad_t = L.d.pad_l = L.d.pad_b = L.d.pad_r = 0;
    run_layer(&cfg, &L, "small build, 1x1 6x5x40 -> 13");
    /* 150-pixel rows: one INP and one OUT slot (two would need 300 of 256 rows) */
    L.d.h = 3;
    L.d.w = 150;
    L.d.cin = L.d.cout = 3;
    info = run_layer(&cfg, &L, "small build, 1x1 3x150x3 -> 3");
    assert_int_equal(info.inp_slots, 1);
    assert_int_equal(info.out_slots, 1);
    assert_int_equal(info.tiles, 3);
}

/* What the builder refuses, with a message that names it. */
static void test_conv_prog_refuses(void **state)
{
    (void)state;
    qmac_hw_config cfg;
    qmac_hw_config_small(&cfg);
    layer L;
    random_layer(&L, 1, 1);
    L.d.groups = 0; /* dense */
    L.d.h = L.d.w = 8;
    L.d.cin = L.d.cout = 4;
    L.d.kh = L.d.kw = 3;
    L.d.stride_h = L.d.stride_w = L.d.dil_h = L.d.dil_w = 1;
    L.d.pad_t = L.d.pad_l = L.d.pad_b = L.d.pad_r = 0;
    qmac_prog p;
    qmac_prog_init(&p);
    layer W = L; /* one output row does not fit: 300 pixels wide */
    W.d.w = 300;
    assert_int_equal(qmac_conv_prog_build(&cfg, &W.d, &p, NULL), QMAC_ERR_INVALID_ARG);
    assert_non_null(strstr(qmac_last_error(), "does not fit"));
    layer G = L; /* groups that do not divide the channels */
    G.d.groups = 3;
    assert_int_equal(qmac_conv_prog_build(&cfg, &G.d, &p, NULL), QMAC_ERR_INVALID_ARG);
    assert_non_null(strstr(qmac_last_error(), "groups"));
    layer A = L; /* a misaligned address */
    A.d.x_addr = 2;
    assert_int_equal(qmac_conv_prog_build(&cfg, &A.d, &p, NULL), QMAC_ERR_INVALID_ARG);
    assert_non_null(strstr(qmac_last_error(), "multiple of N"));
    layer B = L; /* the kernel larger than the padded input */
    B.d.kh = 9;
    assert_int_equal(qmac_conv_prog_build(&cfg, &B.d, &p, NULL), QMAC_ERR_INVALID_ARG);
    assert_non_null(strstr(qmac_last_error(), "output size"));
    assert_int_equal(p.n_insn, 0);
    qmac_prog_free(&p);
}

int main(void)
{
    test_rng_init("test_conv_prog");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conv_prog_random),
        cmocka_unit_test(test_conv_prog_tiled),
        cmocka_unit_test(test_conv_prog_refuses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
