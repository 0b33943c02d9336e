/* requant_main.c - differential test of the Verilated qmac_requant against qmac_rq_lane().
 *
 * The unit takes one vector of Lanes accumulators (plus bias, multiplier or float scale, shift)
 * and one configuration (rule, output mode, zero point, clamp) per cycle and returns the output
 * bytes exactly 3 cycles later. Each cycle: before the clock edge valid_o and every lane of q_o
 * are compared with qmac_rq_lane() (sw/src/requant.c) of the inputs of 3 cycles earlier; cycles
 * whose inputs were invalid (or flushed by a reset) must show valid_o = 0 and q_o = 0. The lane
 * count is read from the port widths, so one source serves every build.
 *
 * A run first streams the hand-written edge vectors (edge_vectors[], each one on every lane for
 * one cycle), then its random cases. Case k has its own seed, so --case k regenerates it alone.
 * The random stimulus aims at the edges: accumulators and biases near INT32_MIN / INT32_MAX / 0
 * and sums that wrap, multipliers INT32_MIN, 0, 1, 2^30, 2^31 - 1, powers of two, shifts over
 * all of int8, float scales that are normal, subnormal, +-0, negative, infinite, NaN or huge,
 * products placed exactly on .5 ties or within a few ulps of them, clamp ranges that are full,
 * empty (min == max) or reversed (min > max), extreme zero points; valid toggling, the
 * configuration changing every cycle, and reset pulses in mid-stream.
 *
 * The first mismatch stops the run: it prints the seed, the case, the cycle, the lane, every input
 * of that lane, both values and the command that reproduces it, then replays the case from reset
 * on a fresh model with tracing on and prints the FST's path. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qmac/isa_gen.h"
#include "qmac/requant.h"
#include "qsim.h"
#include "simctl.h"

/* default --cases */
#define DEFAULT_CASES 1000u
#define RESET_CYCLES 2u
/* cycles from the inputs to the outputs (hw/rtl/qmac_requant.sv) */
#define LATENCY 3u
/* widest build the harness supports */
#define MAX_LANES 64u
/* data cycles per random case (plus LATENCY drain cycles) */
#define MAX_CASE_CYCLES 160u

/* The inputs of one cycle. */
typedef struct {
    uint8_t valid, rule, omode, zp, cmin, cmax;
    int32_t acc[MAX_LANES], bias[MAX_LANES];
    uint32_t mult[MAX_LANES];
    int8_t shift[MAX_LANES];
} rq_in;

/* A stream of cycles: the edge vectors or one random case. */
typedef struct {
    rq_in *in;
    bool *rst;
    const char **label; /* per cycle: the edge vector's description, or NULL */
    uint32_t n, cap;
    const char *kind; /* "edge vectors" or the case's profile */
} rq_stim;

/* Port ids, looked up once by name. */
typedef struct {
    int valid, rule, omode, zp, cmin, cmax, acc, bias, mult, shift;
    int valid_o, q;
} rq_ports;

/* What the stimulus exercised (per valid lane result compared). */
typedef struct {
    uint64_t lanes[4]; /* by rule TFLITE, SINGLE, FLOAT; [3] BIN */
    uint64_t f_sub, f_zero, f_inf, f_nan, f_neg, f_huge, f_ties, f_v_rounded, f_inside;
    uint64_t wraps, zero_checks;
} rq_stats;

typedef struct {
    simctl *c;
    rq_ports p;
    uint32_t lanes;
    rq_stats stats;
} harness;

/* The first difference found in a stream. */
typedef struct {
    bool found;
    uint32_t cycle;  /* cycle of the stream (0 = first cycle after reset) */
    uint64_t qcycle; /* the same cycle counted by the simulator since it was created */
    int32_t src;     /* cycle whose inputs the output belongs to, -1: none (reset or start) */
    int32_t lane;    /* -1: valid_o */
    uint32_t expected, actual;
    uint32_t differing; /* lanes that differ in that cycle */
} mismatch;

/* ---------------------------------------------------------------------------------------------
 * Hand-written edge vectors: each one goes to every lane for one cycle
 * ------------------------------------------------------------------------------------------- */

typedef struct {
    const char *what;
    uint8_t rule, omode, zp, cmin, cmax;
    int32_t acc, bias;
    uint32_t mult;
    int8_t shift;
} edge_vec;

#define T QMAC_RULE_TFLITE
#define S QMAC_RULE_SINGLE
#define F QMAC_RULE_FLOAT
#define OS8 QMAC_OMODE_S8
#define OU8 QMAC_OMODE_U8
#define OBIN QMAC_OMODE_BIN
/* full int8 / uint8 ranges with zero point 0 */
#define S8FULL OS8, 0x00, 0x80, 0x7f
#define U8FULL OU8, 0x00, 0x00, 0xff
#define IMIN INT32_MIN
#define IMAX INT32_MAX
/* binary32 bit patterns */
#define F_HALF 0x3f000000u       /* 0.5 */
#define F_ONE 0x3f800000u        /* 1.0 */
#define F_NHALF 0xbf000000u      /* -0.5 */
#define F_INF 0x7f800000u        /* +inf */
#define F_NINF 0xff800000u       /* -inf */
#define F_QNAN 0x7fc00000u       /* quiet NaN */
#define F_SNAN 0x7f800001u       /* signalling NaN */
#define F_NNAN 0xffc00001u       /* negative NaN */
#define F_NZERO 0x80000000u      /* -0 */
#define F_SUB_MIN 0x00000001u    /* 2^-149 */
#define F_SUB_MAX 0x007fffffu    /* largest subnormal */
#define F_NSUB_MIN 0x80000001u   /* -2^-149 */
#define F_NORM_MIN 0x00800000u   /* 2^-126 */
#define F_MAX 0x7f7fffffu        /* FLT_MAX */
#define F_1E30 0x7149f2cau       /* 1e30 */
#define F_2M25 0x33000000u       /* 2^-25 */
#define F_2M32 0x2f800000u       /* 2^-32 */
#define F_BELOW_HALF 0x3effffffu /* 0.5 - 2^-25 */
#define F_ABOVE_HALF 0x3f000001u /* 0.5 + 2^-24 */
#define F_5_6_LO 0x3f555555u     /* 0.83333331: 3x lies just below 2.5 */
#define F_5_6_HI 0x3f555556u     /* 0.83333337: 3x lies just above 2.5 */
#define F_7_6_LO 0x3f955555u     /* 1.16666663: 3x lies just below 3.5 */
#define F_11_6_LO 0x3feaaaaau    /* 1.83333325: 3x lies just below 5.5 */

static const edge_vec edge_vectors[] = {
    /* TFLITE: SaturatingRoundingDoublingHighMul and RoundingDivideByPOT */
    {"TFLITE INT32_MIN * INT32_MIN saturates to INT32_MAX", T, S8FULL, IMIN, 0, 0x80000000u, 0},
    {"TFLITE saturated INT32_MAX >> 31 rounds to 1", T, S8FULL, IMIN, 0, 0x80000000u, -31},
    {"TFLITE shift 31: 1 << 31 wraps to INT32_MIN", T, S8FULL, 1, 0, 1u << 30, 31},
    {"TFLITE shift 127 clamps to 31 (3 << 31 wraps)", T, S8FULL, 3, 0, 1u << 30, 127},
    {"TFLITE shift 32 clamps to 31", T, S8FULL, -1, 0, 0x7fffffffu, 32},
    {"TFLITE shift -128 clamps to -31", T, S8FULL, IMAX, 0, 0x7fffffffu, -128},
    {"TFLITE shift -32 clamps to -31", T, S8FULL, IMIN, 0, 0x7fffffffu, -32},
    {"TFLITE shift -31", T, S8FULL, IMIN, 0, 0x7fffffffu, -31},
    {"TFLITE SRDHM tie +0.5 rounds up", T, S8FULL, 1, 0, 1u << 30, 0},
    {"TFLITE SRDHM tie -0.5 rounds to 0", T, S8FULL, -1, 0, 1u << 30, 0},
    {"TFLITE SRDHM tie 1.5", T, S8FULL, 3, 0, 1u << 30, 0},
    {"TFLITE SRDHM tie -1.5", T, S8FULL, -3, 0, 1u << 30, 0},
    {"TFLITE RDBPOT tie 2.5 away from zero", T, S8FULL, 5, 0, 0x7fffffffu, -1},
    {"TFLITE RDBPOT tie -2.5 away from zero", T, S8FULL, -5, 0, 0x7fffffffu, -1},
    {"TFLITE RDBPOT -2.5 after SRDHM", T, S8FULL, -10, 0, 1u << 30, -1},
    {"TFLITE RDBPOT by 31 of INT32_MIN", T, S8FULL, IMIN, 0, 0x7fffffffu, -31},
    {"TFLITE multiplier INT32_MIN (-1.0)", T, S8FULL, 100, 0, 0x80000000u, 0},
    {"TFLITE multiplier 0", T, OS8, 0x05, 0x80, 0x7f, 12345, 0, 0, 5},
    {"TFLITE multiplier 1", T, S8FULL, IMAX, 0, 1, 31},
    {"TFLITE acc + bias wraps to INT32_MIN", T, S8FULL, IMAX, 1, 0x7fffffffu, -24},
    {"TFLITE acc + bias wraps to INT32_MAX", T, S8FULL, IMIN, -1, 0x7fffffffu, -24},
    {"TFLITE zero accumulator gives the zero point", T, OU8, 0x80, 0x00, 0xff, 0, 0, 0x7fffffffu, 0},
    {"TFLITE U8 zero point 255", T, OU8, 0xff, 0x00, 0xff, -300, 0, 0x7fffffffu, 0},
    {"TFLITE S8 zero point -128", T, OS8, 0x80, 0x80, 0x7f, 300, 0, 0x7fffffffu, 0},
    {"TFLITE clamp min == max", T, OS8, 0x00, 0x05, 0x05, 1000, 0, 0x7fffffffu, -3},
    {"TFLITE clamp min > max, below min", T, OS8, 0x00, 0x0a, 0xf6, 3, 0, 0x7fffffffu, 0},
    {"TFLITE clamp min > max, above min", T, OS8, 0x00, 0x0a, 0xf6, 30, 0, 0x7fffffffu, 0},
    {"TFLITE y + zp overflows int8 but not int32", T, OS8, 0x7f, 0x80, 0x7f, IMAX, 0, 0x7fffffffu, 0},
    /* SINGLE: one rounding, half up */
    {"SINGLE INT32_MIN * INT32_MIN, shift 30: saturates", S, S8FULL, IMIN, 0, 0x80000000u, 30},
    {"SINGLE shift 31 clamps to 30", S, S8FULL, IMIN, 0, 0x80000000u, 31},
    {"SINGLE shift 31 clamps to 30: (3 + 1) >> 1", S, S8FULL, 3, 0, 1, 31},
    {"SINGLE shift 127 clamps to 30: (-7 + 1) >> 1", S, S8FULL, -7, 0, 1, 127},
    {"SINGLE shift -31 (total 62)", S, S8FULL, IMIN, 0, 0x80000000u, -31},
    {"SINGLE shift -32 clamps to -31", S, S8FULL, IMIN, 0, 0x80000000u, -32},
    {"SINGLE shift -128 clamps to -31", S, S8FULL, IMAX, 0, 0x80000000u, -128},
    {"SINGLE tie -0.5 rounds up to 0", S, S8FULL, -1, 0, 1u << 30, 0},
    {"SINGLE tie -1.5 rounds up to -1", S, S8FULL, -3, 0, 1u << 30, 0},
    {"SINGLE tie 2.5 rounds up to 3", S, S8FULL, 5, 0, 1u << 30, 0},
    {"SINGLE negative multiplier, tie -3.5", S, S8FULL, 7, 0, 0xc0000000u, 0},
    {"SINGLE multiplier 1, shift 30", S, S8FULL, 3, 0, 1, 30},
    {"SINGLE result far below INT32_MIN saturates", S, OU8, 0x10, 0x00, 0xff, IMAX, 0, 0x80000000u, 30},
    /* FLOAT: int -> float, product, NaN -> 0, clamp in float, round half to even, + zp */
    {"FLOAT 0.5 * 1 = 0.5 -> 0", F, S8FULL, 1, 0, F_HALF, 0},
    {"FLOAT 0.5 * 3 = 1.5 -> 2", F, S8FULL, 3, 0, F_HALF, 0},
    {"FLOAT 0.5 * 5 = 2.5 -> 2", F, S8FULL, 5, 0, F_HALF, 0},
    {"FLOAT 0.5 * -1 = -0.5 -> -0", F, S8FULL, -1, 0, F_HALF, 0},
    {"FLOAT 0.5 * -3 = -1.5 -> -2", F, S8FULL, -3, 0, F_HALF, 0},
    {"FLOAT 0.5 * 255 = 127.5 -> 128, clamped", F, S8FULL, 255, 0, F_HALF, 0},
    {"FLOAT 0.5 * -257 = -128.5 -> -128", F, S8FULL, -257, 0, F_HALF, 0},
    {"FLOAT 0.5 * -259 = -129.5 -> -130, clamped", F, S8FULL, -259, 0, F_HALF, 0},
    {"FLOAT 0.5 * 511 = 255.5 -> 256, U8 clamp", F, U8FULL, 511, 0, F_HALF, 0},
    {"FLOAT -0.5 * 509 = -254.5, U8 zp 255", F, OU8, 0xff, 0x00, 0xff, 509, 0, F_NHALF, 0},
    {"FLOAT (float)(2^24 + 1) = 2^24, * 2^-25 = 0.5 -> 0", F, S8FULL, (1 << 24) + 1, 0, F_2M25, 0},
    {"FLOAT (float)(2^24 + 3) = 2^24 + 4, * 2^-25 -> 1", F, S8FULL, (1 << 24) + 3, 0, F_2M25, 0},
    {"FLOAT (float)(-2^24 - 3), * 2^-25 -> -1", F, S8FULL, -(1 << 24) - 3, 0, F_2M25, 0},
    {"FLOAT INT32_MIN * 2^-32 = -0.5", F, S8FULL, IMIN, 0, F_2M32, 0},
    {"FLOAT (float)INT32_MAX = 2^31, * 2^-32 = 0.5", F, S8FULL, IMAX, 0, F_2M32, 0},
    {"FLOAT acc + bias wraps", F, S8FULL, IMAX, 2, F_2M32, 0},
    {"FLOAT 3 * 0.83333331: product rounds to 2.5 -> 2", F, S8FULL, 3, 0, F_5_6_LO, 0},
    {"FLOAT 3 * 0.83333337", F, S8FULL, 3, 0, F_5_6_HI, 0},
    {"FLOAT 3 * 1.16666663 = 3.4999999 rounds to 3.5 -> 4", F, S8FULL, 3, 0, F_7_6_LO, 0},
    {"FLOAT -3 * 1.83333325 = -5.4999998 rounds to -5.5 -> -6", F, S8FULL, -3, 0, F_11_6_LO, 0},
    {"FLOAT p = 600 lies in [512, 1024)", F, OU8, 0x00, 0x00, 0xff, 600, 0, F_ONE, 0},
    {"FLOAT p = -1000.5", F, OU8, 0xff, 0x00, 0xff, -2001, 0, F_HALF, 0},
    {"FLOAT 5 * (0.5 - 2^-25)", F, S8FULL, 5, 0, F_BELOW_HALF, 0},
    {"FLOAT 5 * (0.5 + 2^-24)", F, S8FULL, 5, 0, F_ABOVE_HALF, 0},
    {"FLOAT scale 1, v = -128", F, S8FULL, -128, 0, F_ONE, 0},
    {"FLOAT +inf * 0 = NaN -> 0 + zp", F, OS8, 0x11, 0x80, 0x7f, 0, 0, F_INF, 0},
    {"FLOAT +inf * 1 -> clamp max", F, S8FULL, 1, 0, F_INF, 0},
    {"FLOAT +inf * -1 -> clamp min", F, S8FULL, -1, 0, F_INF, 0},
    {"FLOAT -inf * 1 -> clamp min", F, S8FULL, 1, 0, F_NINF, 0},
    {"FLOAT quiet NaN -> 0 + zp", F, OS8, 0xee, 0x80, 0x7f, 77, 0, F_QNAN, 0},
    {"FLOAT signalling NaN -> 0 + zp", F, OU8, 0x33, 0x00, 0xff, -77, 0, F_SNAN, 0},
    {"FLOAT negative NaN, clamp min > max", F, OS8, 0x00, 0x05, 0xfb, 1, 0, F_NNAN, 0},
    {"FLOAT -0 * -1 = +0", F, OS8, 0x00, 0x00, 0xfd, -1, 0, F_NZERO, 0},
    {"FLOAT +0 * -1 = -0, clamp 0 > -3", F, OS8, 0x00, 0x00, 0xfd, -1, 0, 0, 0},
    {"FLOAT subnormal * -1 < 0 = clamp min (no flush to 0)", F, OS8, 0x00, 0x00, 0xfd, -1, 0, F_SUB_MIN, 0},
    {"FLOAT -subnormal * 1 < 0, U8 zp 7 clamp [7, 4]", F, OU8, 0x07, 0x07, 0x04, 1, 0, F_NSUB_MIN, 0},
    {"FLOAT subnormal * 1 > 0, clamp 0 > -3", F, OS8, 0x00, 0x00, 0xfd, 1, 0, F_SUB_MIN, 0},
    {"FLOAT largest subnormal * INT32_MIN", F, OS8, 0x00, 0x00, 0xfd, IMIN, 0, F_SUB_MAX, 0},
    {"FLOAT 2^-126 * -1: tiny normal < 0", F, OS8, 0x00, 0x00, 0xfd, -1, 0, F_NORM_MIN, 0},
    {"FLOAT 1e30 * 1 -> clamp max", F, S8FULL, 1, 0, F_1E30, 0},
    {"FLOAT 1e30 * -1 -> clamp min", F, S8FULL, -1, 0, F_1E30, 0},
    {"FLOAT FLT_MAX * INT32_MAX overflows to inf", F, S8FULL, IMAX, 0, F_MAX, 0},
    {"FLOAT clamp min == max", F, OU8, 0x80, 0x42, 0x42, 1000, 0, F_HALF, 0},
    {"FLOAT clamp min > max, p between", F, OS8, 0x00, 0x0a, 0xf6, 1, 0, F_ONE, 0},
    {"FLOAT p = clamp_min - zp - 0.5 (min > max)", F, OS8, 0x02, 0x05, 0x00, 5, 0, F_HALF, 0},
    {"FLOAT -0.5 with clamp_min - zp = 0 > clamp_max - zp", F, OS8, 0x00, 0x00, 0xff, -1, 0, F_HALF, 0},
    /* BIN: (v < mult) XOR (shift & 1); the rule does not matter */
    {"BIN v == mult -> 0", T, OBIN, 0, 0, 0, 100, 0, 100, 0},
    {"BIN v == mult - 1 -> 1", S, OBIN, 0, 0, 0, 99, 0, 100, 0},
    {"BIN v < mult, odd shift inverts", F, OBIN, 0, 0, 0, 99, 0, 100, 1},
    {"BIN shift -1 is odd", T, OBIN, 0, 0, 0, 100, 0, 100, -1},
    {"BIN INT32_MIN < INT32_MAX", T, OBIN, 0xff, 0x7f, 0x80, IMIN, 0, 0x7fffffffu, 0},
    {"BIN INT32_MAX vs INT32_MIN (signed compare)", F, OBIN, 0, 0, 0, IMAX, 0, 0x80000000u, -128},
    {"BIN acc + bias wraps before the compare", S, OBIN, 0, 0, 0, IMAX, 1, 0, 0},
};

#undef T
#undef S
#undef F

#define N_EDGE (sizeof edge_vectors / sizeof edge_vectors[0])

/* ---------------------------------------------------------------------------------------------
 * Ports
 * ------------------------------------------------------------------------------------------- */

static qmac_status find_ports(harness *h)
{
    uint32_t w_acc = 0, w_bias = 0, w_mult = 0, w_shift = 0, w_q = 0;
    struct {
        const char *name;
        qsim_dir dir;
        int *id;
        uint32_t *width;
    } want[] = {
        {"valid_i", QSIM_IN, &h->p.valid, NULL},    {"rule_i", QSIM_IN, &h->p.rule, NULL},
        {"omode_i", QSIM_IN, &h->p.omode, NULL},    {"out_zp_i", QSIM_IN, &h->p.zp, NULL},
        {"clamp_min_i", QSIM_IN, &h->p.cmin, NULL}, {"clamp_max_i", QSIM_IN, &h->p.cmax, NULL},
        {"acc_i", QSIM_IN, &h->p.acc, &w_acc},      {"bias_i", QSIM_IN, &h->p.bias, &w_bias},
        {"mult_i", QSIM_IN, &h->p.mult, &w_mult},   {"shift_i", QSIM_IN, &h->p.shift, &w_shift},
        {"valid_o", QSIM_OUT, &h->p.valid_o, NULL}, {"q_o", QSIM_OUT, &h->p.q, &w_q},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        qmac_status st = qsim_port_find(want[i].name, want[i].dir, want[i].id, want[i].width);
        if (st != QMAC_OK) {
            return st;
        }
    }
    h->lanes = w_q / 8;
    if (w_q % 8 || h->lanes < 1 || h->lanes > MAX_LANES || w_acc != 32 * h->lanes ||
        w_bias != 32 * h->lanes || w_mult != 32 * h->lanes || w_shift != 8 * h->lanes) {
        return qmac_set_error(QMAC_ERR_INTERNAL,
                              "%s: port widths acc %u, bias %u, mult %u, shift %u, q %u do not describe "
                              "1..%u lanes",
                              qsim_top_name(), w_acc, w_bias, w_mult, w_shift, w_q, MAX_LANES);
    }
    return QMAC_OK;
}

static void drive(const harness *h, qsim *s, const rq_in *in)
{
    uint32_t w[MAX_LANES];
    qsim_poke32(s, h->p.valid, in->valid);
    qsim_poke32(s, h->p.rule, in->rule);
    qsim_poke32(s, h->p.omode, in->omode);
    qsim_poke32(s, h->p.zp, in->zp);
    qsim_poke32(s, h->p.cmin, in->cmin);
    qsim_poke32(s, h->p.cmax, in->cmax);
    for (uint32_t l = 0; l < h->lanes; l++) {
        w[l] = (uint32_t)in->acc[l];
    }
    qsim_poke(s, h->p.acc, w);
    for (uint32_t l = 0; l < h->lanes; l++) {
        w[l] = (uint32_t)in->bias[l];
    }
    qsim_poke(s, h->p.bias, w);
    qsim_poke(s, h->p.mult, in->mult);
    memset(w, 0, sizeof w);
    for (uint32_t l = 0; l < h->lanes; l++) {
        w[l / 4] |= (uint32_t)(uint8_t)in->shift[l] << (8 * (l % 4));
    }
    qsim_poke(s, h->p.shift, w);
}

/* ---------------------------------------------------------------------------------------------
 * Reference: the C lane model, 3 cycles of pipeline
 * ------------------------------------------------------------------------------------------- */

typedef struct {
    bool valid;
    int32_t src; /* the cycle whose inputs these are */
    uint8_t q[MAX_LANES];
} rq_slot;

static void model_vector(const harness *h, const rq_in *in, rq_slot *out, int32_t src)
{
    out->valid = in->valid != 0;
    out->src = src;
    memset(out->q, 0, sizeof out->q);
    if (!out->valid) {
        return;
    }
    for (uint32_t l = 0; l < h->lanes; l++) {
        out->q[l] = (uint8_t)qmac_rq_lane(in->rule, in->omode, in->zp, in->cmin, in->cmax, in->acc[l],
                                          in->bias[l], in->mult[l], in->shift[l]);
    }
}

static float f_of(uint32_t bits)
{
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

static uint32_t bits_of(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

/* Count what a valid vector exercises (for the summary). */
static void tally(harness *h, const rq_in *in)
{
    rq_stats *t = &h->stats;
    for (uint32_t l = 0; l < h->lanes; l++) {
        const int64_t sum = (int64_t)in->acc[l] + in->bias[l];
        t->wraps += sum < INT32_MIN || sum > INT32_MAX;
        if (in->omode == QMAC_OMODE_BIN) {
            t->lanes[3]++;
            continue;
        }
        t->lanes[in->rule < 3 ? in->rule : 0]++;
        if (in->rule != QMAC_RULE_FLOAT) {
            continue;
        }
        const uint32_t m = in->mult[l];
        const uint32_t e = (m >> 23) & 0xffu, man = m & 0x7fffffu;
        const int32_t v = (int32_t)((uint32_t)in->acc[l] + (uint32_t)in->bias[l]);
        t->f_neg += (m >> 31) != 0;
        t->f_sub += e == 0 && man != 0;
        t->f_zero += e == 0 && man == 0;
        t->f_inf += e == 0xff && man == 0;
        t->f_nan += e == 0xff && man != 0;
        t->f_huge += e != 0xff && e >= 127 + 40;
        const float vf = (float)v;
        t->f_v_rounded += (int64_t)vf != (int64_t)v;
        if (e != 0xff) {
            /* (double)vf * scale is exact (24 x 24 bits); its rounding to float is the RTL's p */
            const float p = (float)((double)vf * (double)f_of(m));
            if (fabsf(p) < 512.0f) {
                t->f_inside++;
                t->f_ties += fabsf(p - floorf(p)) == 0.5f;
            }
        }
    }
}

/* Reset, then run the stream: compare before every clock edge. Returns SIMCTL_PASS,
 * SIMCTL_MISMATCH (mm filled) or SIMCTL_TIMEOUT. With `count`, the stream is tallied. */
static simctl_rc run_stim(harness *h, const rq_stim *st, mismatch *mm, bool count)
{
    simctl *c = h->c;
    qsim *s = c->sim;
    rq_slot pipe[LATENCY];
    memset(pipe, 0, sizeof pipe);
    for (uint32_t k = 0; k < LATENCY; k++) {
        pipe[k].src = -1;
    }
    simctl_reset(c, RESET_CYCLES);
    bool in_reset = false;
    uint32_t w[MAX_LANES];
    for (uint32_t i = 0; i <= st->n; i++) {
        const bool rst = i < st->n && st->rst[i];
        if (rst != in_reset) {
            simctl_set_reset(c, rst);
            in_reset = rst;
        }
        /* outputs of this cycle vs the model */
        const rq_slot *e = &pipe[LATENCY - 1];
        qsim_peek(s, h->p.valid_o, w);
        const uint32_t valid = w[0] & 1u;
        qsim_peek(s, h->p.q, w);
        mm->differing = 0;
        int32_t first = -1;
        for (uint32_t l = 0; l < h->lanes; l++) {
            const uint32_t q = (w[l / 4] >> (8 * (l % 4))) & 0xffu;
            if (q != e->q[l]) {
                mm->differing++;
                if (first < 0) {
                    first = (int32_t)l;
                    mm->expected = e->q[l];
                    mm->actual = q;
                }
            }
        }
        if (valid != (uint32_t)e->valid || mm->differing) {
            mm->found = true;
            mm->cycle = i;
            mm->qcycle = qsim_cycle(s);
            mm->src = e->src;
            mm->lane = valid != (uint32_t)e->valid ? -1 : first;
            if (mm->lane < 0) {
                mm->expected = e->valid;
                mm->actual = valid;
            }
            return SIMCTL_MISMATCH;
        }
        if (count) {
            h->stats.zero_checks += !e->valid;
        }
        if (i == st->n) {
            break;
        }
        drive(h, s, &st->in[i]);
        if (!simctl_tick(c)) {
            return SIMCTL_TIMEOUT;
        }
        if (rst) { /* synchronous reset: this edge clears every register */
            memset(pipe, 0, sizeof pipe);
            for (uint32_t k = 0; k < LATENCY; k++) {
                pipe[k].src = -1;
            }
        } else {
            for (uint32_t k = LATENCY - 1; k > 0; k--) {
                pipe[k] = pipe[k - 1];
            }
            model_vector(h, &st->in[i], &pipe[0], (int32_t)i);
            if (count && st->in[i].valid) {
                tally(h, &st->in[i]);
            }
        }
    }
    if (in_reset) {
        simctl_set_reset(c, false);
    }
    return SIMCTL_PASS;
}

/* ---------------------------------------------------------------------------------------------
 * Stimulus
 * ------------------------------------------------------------------------------------------- */

static qmac_status stim_reserve(rq_stim *st, uint32_t n)
{
    if (n <= st->cap) {
        return QMAC_OK;
    }
    rq_in *in = realloc(st->in, (size_t)n * sizeof *in);
    if (in) {
        st->in = in;
    }
    bool *rst = realloc(st->rst, (size_t)n * sizeof *rst);
    if (rst) {
        st->rst = rst;
    }
    const char **label = realloc(st->label, (size_t)n * sizeof *label);
    if (label) {
        st->label = label;
    }
    if (!in || !rst || !label) {
        return qmac_set_error(QMAC_ERR_NOMEM, "requant stimulus: %u cycles", n);
    }
    st->cap = n;
    return QMAC_OK;
}

static void stim_free(rq_stim *st)
{
    free(st->in);
    free(st->rst);
    free(st->label);
    memset(st, 0, sizeof *st);
}

static uint32_t rng_u32(simctl_rng *r)
{
    return (uint32_t)(simctl_rng_u64(r) >> 32);
}

/* Uniform in [lo, hi]. */
static int32_t rng_range(simctl_rng *r, int32_t lo, int32_t hi)
{
    return (int32_t)((int64_t)lo + simctl_rng_below(r, (uint32_t)((int64_t)hi - lo + 1)));
}

/* An int32 from the edges: near INT32_MIN, INT32_MAX and 0, powers of two, or random. */
static int32_t pick_i32(simctl_rng *r)
{
    switch (simctl_rng_below(r, 10)) {
    case 0: return INT32_MIN + rng_range(r, 0, 3);
    case 1: return INT32_MAX - rng_range(r, 0, 3);
    case 2: return rng_range(r, -2, 2);
    case 3: return rng_range(r, -300, 300);
    case 4: return rng_range(r, -70000, 70000);
    case 5: {
        const uint32_t p = UINT32_C(1) << simctl_rng_below(r, 32);
        return (int32_t)((simctl_rng_chance(r, 1, 2) ? p : 0u - p) + (uint32_t)rng_range(r, -1, 1));
    }
    default: return (int32_t)rng_u32(r);
    }
}

/* A multiplier for the integer rules. */
static uint32_t pick_mult(simctl_rng *r)
{
    switch (simctl_rng_below(r, 12)) {
    case 0: return 0x80000000u;
    case 1: return 0;
    case 2: return 1;
    case 3: return 1u << 30;
    case 4: return 0x7fffffffu;
    case 5: return 0xffffffffu;
    case 6: return UINT32_C(1) << simctl_rng_below(r, 31);
    case 7: return 0u - (UINT32_C(1) << simctl_rng_below(r, 31));
    case 8: return 0u - ((1u << 30) + (rng_u32(r) >> 2)); /* negative, QuantizeMultiplier-sized */
    case 9: return rng_u32(r);
    default: return (1u << 30) + (rng_u32(r) >> 2); /* what QuantizeMultiplier produces */
    }
}

/* Bit length of |v|. */
static int32_t bitlen(int32_t v)
{
    uint32_t m = v < 0 ? 0u - (uint32_t)v : (uint32_t)v;
    int32_t n = 0;
    while (m) {
        n++;
        m >>= 1;
    }
    return n;
}

static int8_t clamp_i8(int32_t x)
{
    return (int8_t)(x < -128 ? -128 : x > 127 ? 127 : x);
}

/* A shift for v: anywhere in int8, at the clamp edges, or one that lands y near the clamp range. */
static int8_t pick_shift(simctl_rng *r, int32_t v, uint32_t mult)
{
    static const int8_t edges[] = {-128, -127, -33, -32, -31, -30, -1, 0, 1, 29, 30, 31, 32, 33, 127};
    switch (simctl_rng_below(r, 6)) {
    case 0: return (int8_t)(int32_t)rng_range(r, -128, 127);
    case 1: return edges[simctl_rng_below(r, sizeof edges)];
    default: {
        /* y ~ v * mult * 2^(shift - 31): aim at |y| ~ 2^7 */
        const int32_t mb = bitlen((int32_t)mult);
        return clamp_i8(31 + 8 - bitlen(v) - mb + rng_range(r, -3, 3));
    }
    }
}

/* An accumulator sum for the float rule: small, or large with the bits below float's 24-bit
 * mantissa chosen so that int -> float rounds (ties included). */
static int32_t pick_v_float(simctl_rng *r)
{
    switch (simctl_rng_below(r, 6)) {
    case 0: return rng_range(r, -1024, 1024);
    case 1: {
        const uint32_t e = 1 + simctl_rng_below(r, 7); /* bits below the mantissa */
        uint32_t sig = (1u << 23) | (rng_u32(r) & 0x7fffffu);
        if (e == 7) {
            sig >>= 1; /* 2^30 .. 2^31: keep within int32 */
        }
        uint32_t tail;
        switch (simctl_rng_below(r, 4)) {
        case 0: tail = 1u << (e - 1); break; /* exactly half: ties to even */
        case 1: tail = (1u << (e - 1)) + 1u - 2u * simctl_rng_below(r, 2); break; /* next to half */
        case 2: tail = 0; break;
        default: tail = rng_u32(r) & ((1u << e) - 1u); break;
        }
        const uint32_t m = (sig << e) | (tail & ((1u << e) - 1u));
        return simctl_rng_chance(r, 1, 2) ? (int32_t)m : (int32_t)(0u - m);
    }
    case 2: return simctl_rng_chance(r, 1, 2) ? INT32_MIN : INT32_MAX - rng_range(r, 0, 64);
    default: return pick_i32(r);
    }
}

/* v and a float scale for the FLOAT rule. */
static void pick_float(simctl_rng *r, int32_t *v_out, uint32_t *mult_out)
{
    int32_t v = pick_v_float(r);
    uint32_t m;
    const uint32_t sign = simctl_rng_chance(r, 1, 4) ? 0x80000000u : 0u;
    switch (simctl_rng_below(r, 16)) {
    case 0:
    case 1:
    case 2:
    case 3: {
        /* p near a target in the clamp ranges (.5 ties included), within a few ulps */
        if (v == 0) {
            v = 1;
        }
        double t = (double)rng_range(r, -600, 600) / 2.0;
        if (simctl_rng_chance(r, 1, 4)) {
            t += ((double)rng_u32(r) / 4294967296.0 - 0.5) * 0.01;
        }
        const float s = (float)(t / (double)(float)v);
        m = bits_of(s) + (uint32_t)rng_range(r, -2, 2);
        break;
    }
    case 4: {
        /* p = n + 0.5 exactly: v = (2n + 1) 2^(k-1), scale 2^-k */
        const int32_t k = rng_range(r, 1, 21);
        const int32_t n = rng_range(r, -300, 300);
        v = (2 * n + 1) * (1 << (k - 1));
        m = (uint32_t)(127 - k) << 23;
        break;
    }
    case 5: {
        /* scale 0.5 (or another power of two) with a small odd v */
        v = 2 * rng_range(r, -300, 300) + 1;
        m = sign | ((uint32_t)(126 - simctl_rng_below(r, 3)) << 23);
        break;
    }
    case 6: {
        /* log-uniform normal scale in [1e-6, 1e3] */
        const double lg = -6.0 + 9.0 * ((double)rng_u32(r) / 4294967296.0);
        m = sign | bits_of((float)pow(10.0, lg));
        break;
    }
    case 7: /* subnormal */
        switch (simctl_rng_below(r, 3)) {
        case 0: m = 1; break;
        case 1: m = 0x7fffffu; break;
        default: m = 1 + (rng_u32(r) % 0x7fffffu); break;
        }
        m |= simctl_rng_chance(r, 1, 2) ? 0x80000000u : 0u;
        break;
    case 8: m = simctl_rng_chance(r, 1, 2) ? 0x80000000u : 0u; break; /* +-0 */
    case 9:
        m = (simctl_rng_chance(r, 1, 2) ? 0x80000000u : 0u) | 0x7f800000u; /* +-inf */
        if (simctl_rng_chance(r, 1, 3)) {
            v = 0;
        }
        break;
    case 10: /* NaN, quiet or signalling, either sign */
        m = (rng_u32(r) & 0x80000000u) | 0x7f800000u | (1 + rng_u32(r) % 0x7fffffu);
        break;
    case 11: { /* huge */
        static const uint32_t huge[] = {0x7149f2cau /* 1e30 */, 0x7f7fffffu /* FLT_MAX */,
                                        0x71800000u /* 2^100 */};
        m = sign | (simctl_rng_chance(r, 1, 2)
                        ? huge[simctl_rng_below(r, 3)]
                        : ((uint32_t)rng_range(r, 150, 254) << 23) | (rng_u32(r) & 0x7fffffu));
        break;
    }
    case 12: { /* sparse mantissa, exponent placing |p| in [2^-3, 2^10) */
        uint32_t man = 0;
        for (uint32_t b = simctl_rng_below(r, 4); b > 0; b--) {
            man |= 1u << simctl_rng_below(r, 23);
        }
        int32_t e = 127 + rng_range(r, -3, 9) - bitlen(v);
        e = e < 1 ? 1 : e > 254 ? 254 : e;
        m = sign | ((uint32_t)e << 23) | man;
        break;
    }
    case 13: /* tiny normal: the product is normal and far below 0.5 */
        m = sign | ((uint32_t)rng_range(r, 1, 40) << 23) | (rng_u32(r) & 0x7fffffu);
        break;
    case 14: { /* exact small scales: 1, 1.5, 2^k */
        static const uint32_t ex[] = {0x3f800000u, 0x3fc00000u, 0x3e800000u, 0x40000000u, 0x3b800000u};
        m = sign | ex[simctl_rng_below(r, 5)];
        break;
    }
    default: m = rng_u32(r); break;
    }
    *v_out = v;
    *mult_out = m;
}

/* Per-case stimulus profile. */
typedef struct {
    uint32_t valid_num, valid_den; /* valid with this probability */
    uint32_t hold_num, hold_den;   /* keep the previous cycle's configuration */
    int32_t rule;                  /* -1: any per cycle */
    int32_t omode;                 /* -1: any per cycle */
    bool resets;
} rq_profile;

static void pick_config(simctl_rng *r, const rq_profile *pf, rq_in *in)
{
    static const uint8_t zps[] = {0x00, 0x01, 0x7f, 0x80, 0x81, 0xfe, 0xff};
    in->rule = (uint8_t)(pf->rule >= 0 ? (uint32_t)pf->rule : simctl_rng_below(r, QMAC_RULE_COUNT));
    in->omode = (uint8_t)(pf->omode >= 0 ? (uint32_t)pf->omode : simctl_rng_below(r, QMAC_OMODE_COUNT));
    in->zp = simctl_rng_chance(r, 1, 2) ? zps[simctl_rng_below(r, sizeof zps)] : (uint8_t)rng_u32(r);
    const bool s8 = in->omode == QMAC_OMODE_S8;
    switch (simctl_rng_below(r, 8)) {
    case 0:
    case 1: /* the type's full range */
        in->cmin = s8 ? 0x80 : 0x00;
        in->cmax = s8 ? 0x7f : 0xff;
        break;
    case 2: /* min == max */ in->cmin = in->cmax = (uint8_t)rng_u32(r); break;
    case 3: /* ReLU: from the zero point up */
        in->cmin = in->zp;
        in->cmax = s8 ? 0x7f : 0xff;
        break;
    case 4: { /* a narrow range around the zero point (min > max when it wraps) */
        in->cmin = (uint8_t)(in->zp - simctl_rng_below(r, 8));
        in->cmax = (uint8_t)(in->zp + simctl_rng_below(r, 8));
        break;
    }
    case 5: /* edges */
        in->cmin = zps[simctl_rng_below(r, sizeof zps)];
        in->cmax = zps[simctl_rng_below(r, sizeof zps)];
        break;
    default: /* random: min > max half of the time */
        in->cmin = (uint8_t)rng_u32(r);
        in->cmax = (uint8_t)rng_u32(r);
        break;
    }
}

static void pick_lane(simctl_rng *r, rq_in *in, uint32_t l)
{
    int32_t v;
    uint32_t m;
    int8_t sh;
    if (simctl_rng_chance(r, 1, 32)) { /* anything at all */
        in->acc[l] = (int32_t)rng_u32(r);
        in->bias[l] = (int32_t)rng_u32(r);
        in->mult[l] = rng_u32(r);
        in->shift[l] = (int8_t)rng_u32(r);
        return;
    }
    if (in->omode == QMAC_OMODE_BIN) {
        m = simctl_rng_chance(r, 1, 2) ? pick_mult(r) : (uint32_t)pick_i32(r);
        v = simctl_rng_chance(r, 2, 3) ? (int32_t)(m + (uint32_t)rng_range(r, -2, 2)) : pick_i32(r);
        sh = (int8_t)rng_u32(r);
    } else if (in->rule == QMAC_RULE_FLOAT) {
        pick_float(r, &v, &m);
        sh = (int8_t)rng_u32(r);
    } else {
        m = pick_mult(r);
        v = pick_i32(r);
        sh = pick_shift(r, v, m);
    }
    in->mult[l] = m;
    in->shift[l] = sh;
    if (simctl_rng_chance(r, 1, 6)) { /* accumulator and bias each from the edges; v follows */
        in->acc[l] = pick_i32(r);
        in->bias[l] = pick_i32(r);
    } else { /* split v: the sum wraps whenever acc and v are far apart */
        in->acc[l] = simctl_rng_chance(r, 1, 2) ? pick_i32(r) : (int32_t)rng_u32(r);
        in->bias[l] = (int32_t)((uint32_t)v - (uint32_t)in->acc[l]);
    }
}

static void make_case(const harness *h, uint64_t k, rq_stim *st)
{
    simctl_rng r;
    simctl_rng_seed(&r, simctl_case_seed(h->c->seed, k));
    rq_profile pf;
    static const uint32_t vnum[] = {1, 7, 1, 1}, vden[] = {1, 8, 2, 8};
    const uint32_t vp = simctl_rng_below(&r, 4);
    pf.valid_num = vnum[vp];
    pf.valid_den = vden[vp];
    static const uint32_t hnum[] = {0, 1, 7, 1}, hden[] = {1, 2, 8, 1};
    const uint32_t hp = simctl_rng_below(&r, 4);
    pf.hold_num = hnum[hp];
    pf.hold_den = hden[hp];
    pf.rule = -1;
    pf.omode = -1;
    const char *kind = "mixed rules and modes";
    switch (simctl_rng_below(&r, 8)) {
    case 0:
        pf.rule = QMAC_RULE_TFLITE;
        pf.omode = (int32_t)simctl_rng_below(&r, 2);
        kind = "TFLITE";
        break;
    case 1:
        pf.rule = QMAC_RULE_SINGLE;
        pf.omode = (int32_t)simctl_rng_below(&r, 2);
        kind = "SINGLE";
        break;
    case 2:
    case 3:
        pf.rule = QMAC_RULE_FLOAT;
        pf.omode = (int32_t)simctl_rng_below(&r, 2);
        kind = "FLOAT";
        break;
    default: break;
    }
    pf.resets = simctl_rng_chance(&r, 1, 8);
    if (pf.resets) {
        kind = pf.rule < 0 ? "mixed rules and modes, reset pulses" : "one rule, reset pulses";
    }
    const uint32_t n = 1 + simctl_rng_below(&r, MAX_CASE_CYCLES);
    st->n = n + LATENCY; /* drain: the last inputs are checked too */
    for (uint32_t i = 0; i < st->n; i++) {
        rq_in *in = &st->in[i];
        if (i > 0 && simctl_rng_chance(&r, pf.hold_num, pf.hold_den)) {
            const rq_in *p = &st->in[i - 1];
            in->rule = p->rule;
            in->omode = p->omode;
            in->zp = p->zp;
            in->cmin = p->cmin;
            in->cmax = p->cmax;
        } else {
            pick_config(&r, &pf, in);
        }
        in->valid = (uint8_t)(i < n && simctl_rng_chance(&r, pf.valid_num, pf.valid_den));
        for (uint32_t l = 0; l < h->lanes; l++) {
            pick_lane(&r, in, l);
        }
        st->rst[i] = pf.resets && i < n && simctl_rng_chance(&r, 1, 24);
        st->label[i] = NULL;
    }
    st->kind = kind;
}

static void make_edges(const harness *h, rq_stim *st)
{
    /* every fourth vector is followed by an invalid cycle carrying junk: q_o must stay 0 */
    uint32_t n = 0;
    simctl_rng r;
    simctl_rng_seed(&r, 1);
    for (uint32_t e = 0; e < N_EDGE; e++) {
        const edge_vec *ev = &edge_vectors[e];
        for (uint32_t rep = 0; rep < (e % 4 == 3 ? 2u : 1u); rep++) {
            rq_in *in = &st->in[n];
            in->valid = rep == 0;
            in->rule = ev->rule;
            in->omode = ev->omode;
            in->zp = ev->zp;
            in->cmin = ev->cmin;
            in->cmax = ev->cmax;
            for (uint32_t l = 0; l < h->lanes; l++) {
                in->acc[l] = rep == 0 ? ev->acc : (int32_t)rng_u32(&r);
                in->bias[l] = rep == 0 ? ev->bias : (int32_t)rng_u32(&r);
                in->mult[l] = rep == 0 ? ev->mult : rng_u32(&r);
                in->shift[l] = rep == 0 ? ev->shift : (int8_t)rng_u32(&r);
            }
            st->rst[n] = false;
            st->label[n] = rep == 0 ? ev->what : "(invalid cycle after an edge vector)";
            n++;
        }
    }
    for (uint32_t i = 0; i < LATENCY; i++, n++) { /* drain */
        memset(&st->in[n], 0, sizeof st->in[n]);
        st->rst[n] = false;
        st->label[n] = "(drain)";
    }
    st->n = n;
    st->kind = "edge vectors";
}

/* ---------------------------------------------------------------------------------------------
 * Reporting
 * ------------------------------------------------------------------------------------------- */

static const char *rule_name(uint32_t rule)
{
    switch (rule) {
    case QMAC_RULE_TFLITE: return "TFLITE";
    case QMAC_RULE_SINGLE: return "SINGLE";
    case QMAC_RULE_FLOAT: return "FLOAT";
    default: return "?";
    }
}

static const char *omode_name(uint32_t omode)
{
    switch (omode) {
    case QMAC_OMODE_S8: return "S8";
    case QMAC_OMODE_U8: return "U8";
    case QMAC_OMODE_BIN: return "BIN";
    default: return "?";
    }
}

static void print_lane(const rq_in *in, uint32_t l)
{
    const int32_t v = (int32_t)((uint32_t)in->acc[l] + (uint32_t)in->bias[l]);
    printf("    lane %u: acc %" PRId32 " (0x%08" PRIx32 ") bias %" PRId32 " (0x%08" PRIx32 ") -> v %" PRId32
           " (0x%08" PRIx32 "); mult 0x%08" PRIx32 " (int %" PRId32 ", float %.9g); shift %d (0x%02x)\n",
           l, in->acc[l], (uint32_t)in->acc[l], in->bias[l], (uint32_t)in->bias[l], v, (uint32_t)v,
           in->mult[l], (int32_t)in->mult[l], (double)f_of(in->mult[l]), in->shift[l],
           (unsigned)(uint8_t)in->shift[l]);
}

static void print_config(const rq_in *in, uint32_t cycle)
{
    printf(
        "    cycle %u: valid %u rule %u (%s) omode %u (%s) out_zp 0x%02x clamp_min 0x%02x clamp_max 0x%02x\n",
        cycle, in->valid, in->rule, rule_name(in->rule), in->omode, omode_name(in->omode), in->zp, in->cmin,
        in->cmax);
}

static void report(const harness *h, const rq_stim *st, bool edges, uint64_t k, const mismatch *mm)
{
    const simctl *c = h->c;
    if (edges) {
        printf("MISMATCH RTL vs C model: requant %u lanes seed %" PRIu64 " (edge vectors), cycle %u: ",
               h->lanes, c->seed, mm->cycle);
    } else {
        printf("MISMATCH RTL vs C model: requant %u lanes seed %" PRIu64 " case %" PRIu64 " (%s), cycle %u: ",
               h->lanes, c->seed, k, st->kind, mm->cycle);
    }
    if (mm->lane < 0) {
        printf("valid_o expected (C model) %u, actual (RTL) %u\n", mm->expected, mm->actual);
    } else {
        printf(
            "q_o lane %d expected (C model) %u (0x%02x), actual (RTL) %u (0x%02x); %u of %u lanes differ\n",
            mm->lane, mm->expected, mm->expected, mm->actual, mm->actual, mm->differing, h->lanes);
    }
    if (mm->src >= 0) {
        const rq_in *in = &st->in[mm->src];
        printf("  the output belongs to the inputs of cycle %d (latency %u)%s%s\n", mm->src, LATENCY,
               st->label[mm->src] ? ": " : "", st->label[mm->src] ? st->label[mm->src] : "");
        print_config(in, (uint32_t)mm->src);
        if (mm->lane >= 0) {
            print_lane(in, (uint32_t)mm->lane);
        }
        if (!in->valid) {
            printf("  (an invalid cycle: q_o must be all zeros)\n");
        }
    } else {
        printf("  no vector is due in this cycle (start of the stream or after a reset): valid_o and q_o "
               "must be 0\n");
    }
    if (edges) {
        simctl_print_repro(c, stdout, "--cases 0   (the edge vectors run first in every run)");
    } else {
        simctl_print_repro(c, stdout, "--case %" PRIu64, k);
    }
}

/* Replay the stream from reset on a fresh model with tracing on; print where the trace is. */
static simctl_rc trace_failure(harness *h, const rq_stim *st, bool edges, uint64_t k, const mismatch *first)
{
    simctl *c = h->c;
    if (c->trace) { /* the whole run is traced already */
        simctl_close(c);
        printf("  trace: %s (the whole run)\n", c->trace);
        return SIMCTL_MISMATCH;
    }
    char tag[64], path[1024];
    snprintf(tag, sizeof tag, "requant-%u%s", h->lanes, edges ? "-edges" : "");
    simctl_fail_trace_path(c, tag, edges ? 0 : k, path, sizeof path);
    simctl_close(c);
    if (!qsim_trace_supported()) {
        printf("  trace: none (this binary was built without trace support)\n");
        return SIMCTL_MISMATCH;
    }
    c->trace = path;
    simctl_rc rc = simctl_open(c, "rst_ni");
    c->trace = NULL;
    if (rc != SIMCTL_PASS) {
        printf("  trace: could not be written to %s (see above)\n", path);
        return SIMCTL_MISMATCH;
    }
    c->max_cycles = 0;
    mismatch mm;
    memset(&mm, 0, sizeof mm);
    rc = run_stim(h, st, &mm, false);
    simctl_close(c);
    const uint64_t t0 = (mm.qcycle - mm.cycle) * 10;
    if (rc == SIMCTL_MISMATCH && mm.cycle == first->cycle) {
        printf("  trace: %s (replayed from reset; its cycle 0 starts at %" PRIu64 " ns, cycle %u at %" PRIu64
               " ns, 10 ns per cycle)\n",
               path, t0, mm.cycle, t0 + 10 * (uint64_t)mm.cycle);
    } else {
        printf("  trace: %s (the replay from a fresh model did NOT reproduce the mismatch at cycle %u: state "
               "survived the reset?)\n",
               path, first->cycle);
    }
    return SIMCTL_MISMATCH;
}

/* ---------------------------------------------------------------------------------------------
 * The run
 * ------------------------------------------------------------------------------------------- */

static simctl_rc run_one(harness *h, rq_stim *st, bool edges, uint64_t k, uint64_t *cycles)
{
    mismatch mm;
    memset(&mm, 0, sizeof mm);
    simctl_rc rc = run_stim(h, st, &mm, true);
    if (rc == SIMCTL_MISMATCH) {
        report(h, st, edges, k, &mm);
        return trace_failure(h, st, edges, k, &mm);
    }
    if (rc == SIMCTL_TIMEOUT) {
        char where[64];
        if (edges) {
            snprintf(where, sizeof where, "in the edge vectors");
        } else {
            snprintf(where, sizeof where, "in case %" PRIu64, k);
        }
        simctl_report_timeout(h->c, where);
        return rc;
    }
    *cycles += st->n;
    return SIMCTL_PASS;
}

static simctl_rc run_test(harness *h)
{
    simctl *c = h->c;
    printf("sim requant %u lanes: seed %" PRIu64 ", %zu edge vectors, cases %" PRIu64 "..%" PRIu64 "\n",
           h->lanes, c->seed, N_EDGE, c->first_case, c->first_case + c->cases - (c->cases > 0));
    fflush(stdout);
    rq_stim st;
    memset(&st, 0, sizeof st);
    qmac_status s = stim_reserve(&st, 2 * (uint32_t)N_EDGE + MAX_CASE_CYCLES + 2 * LATENCY);
    if (s != QMAC_OK) {
        printf("ERROR: %s: %s\n", qmac_status_str(s), qmac_last_error());
        return SIMCTL_ERROR;
    }
    const double t0 = simctl_now();
    uint64_t cycles = 0;
    make_edges(h, &st);
    simctl_rc rc = run_one(h, &st, true, 0, &cycles);
    const rq_stats edge_stats = h->stats;
    for (uint64_t k = c->first_case; k < c->first_case + c->cases && rc == SIMCTL_PASS; k++) {
        make_case(h, k, &st);
        rc = run_one(h, &st, false, k, &cycles);
        if (c->verbose && rc == SIMCTL_PASS) {
            printf("  case %" PRIu64 ": %s, %u cycles\n", k, st.kind, st.n);
        }
    }
    const double dt = simctl_now() - t0;
    stim_free(&st);
    if (rc != SIMCTL_PASS) {
        return rc;
    }
    const rq_stats *t = &h->stats;
    const uint64_t lanes = t->lanes[0] + t->lanes[1] + t->lanes[2] + t->lanes[3];
    printf("  %zu edge vectors (x %u lanes) + %" PRIu64 " cases, %" PRIu64 " cycles: %" PRIu64
           " lane results checked (TFLITE %" PRIu64 ", SINGLE %" PRIu64 ", FLOAT %" PRIu64 ", BIN %" PRIu64
           "), %" PRIu64 " idle cycles checked for zeros\n",
           N_EDGE, h->lanes, c->cases, cycles, lanes, t->lanes[0], t->lanes[1], t->lanes[2], t->lanes[3],
           t->zero_checks);
    printf("  acc + bias wrapped in %" PRIu64 " lanes; FLOAT scales: %" PRIu64 " subnormal, %" PRIu64
           " +-0, %" PRIu64 " inf, %" PRIu64 " NaN, %" PRIu64 " huge, %" PRIu64 " negative; %" PRIu64
           " products with |p| < 512, %" PRIu64 " of them exactly on a .5 tie; %" PRIu64
           " int->float roundings (edge vectors: %" PRIu64 " FLOAT lanes)\n",
           t->wraps, t->f_sub, t->f_zero, t->f_inf, t->f_nan, t->f_huge, t->f_neg, t->f_inside, t->f_ties,
           t->f_v_rounded, edge_stats.lanes[2]);
    printf("PASS requant %u lanes seed %" PRIu64 ": %.1f s (%.0f cycles/s with the model)\n", h->lanes,
           c->seed, dt, dt > 0 ? (double)cycles / dt : 0.0);
    return SIMCTL_PASS;
}

int main(int argc, char **argv)
{
    simctl c;
    simctl_init(&c, "qmac_requant", DEFAULT_CASES);
    simctl_rc rc = simctl_parse(&c, argc, argv,
                                "The hand-written edge vectors run first, then the random cases (1 to 160 "
                                "cycles each:\nvalid toggling, the configuration changing per cycle, "
                                "edge-heavy lane inputs, reset pulses).\n");
    if (rc != SIMCTL_PASS) {
        return rc == SIMCTL_HELP ? 0 : (int)rc;
    }
    if (c.bench) {
        fprintf(stderr, "%s: --bench is not implemented for qmac_requant\n", c.prog);
        return SIMCTL_USAGE;
    }
    rc = simctl_open(&c, "rst_ni");
    if (rc != SIMCTL_PASS) {
        return (int)rc;
    }
    harness h;
    memset(&h, 0, sizeof h);
    h.c = &c;
    qmac_status s = find_ports(&h);
    if (s != QMAC_OK) {
        printf("ERROR: %s: %s\n", qmac_status_str(s), qmac_last_error());
        simctl_close(&c);
        return SIMCTL_ERROR;
    }
    rc = run_test(&h);
    simctl_close(&c);
    fflush(stdout);
    return (int)rc;
}
