/* add_prog.h - an element-wise function of two 8-bit tensors, y = f(a, b), as a vector-unit
 * program whose every output is proven equal to f by trying all 65536 input pairs.
 *
 * f is any framework's quantized add (ONNX Runtime's float FMA chain, TFLite's fixed point, ...)
 * given as a C function and an affine approximation y ~ rne(a * ra + b * rb + c). The program is
 *
 *   P = MBQM(a, mult[0], shift[0])       a, b widened from INP rows (VALU A)
 *   Q = MBQM(b, mult[1], shift[1])       ~ a * ra * 2^s and b * rb * 2^s, rounded
 *   V = P + Q + bias                     bias ~ (c + 1/2) * 2^s
 *   Y = V >> s                           floor: rne(x) but for ties and near-ties (or SHRR:
 *                                        ties away from zero; or Y = V and POST rounds V 2^-s
 *                                        half to even, |V| < 2^24: the framework's exact ties)
 *   for every exception e (key = V, or a * 512 + b when V does not tell the pairs apart):
 *     T = min(max(key - key[e], -1), 1)^2      0 exactly on the exception's pairs, else 1
 *     Y = Y - d[e] * T                         (and Y += sum of d[e] once at the end)
 *   y = clamp(Y, lo, hi)                 POST, rule C, multiplier 1.0 (or 2^-s)
 *
 * Near a rounding threshold the frameworks' own roundings (ORT's two float32 roundings, TFLite's
 * three fixed-point ones) decide, and no affine formula follows them; those few input pairs are
 * corrected one by one (the idea of a correctly rounded libm's exception table). planning tries
 * all pairs, so the program is exact for this node's parameters or planning fails and says how
 * many exceptions it would need. */
#ifndef QMAC_ADD_PROG_H
#define QMAC_ADD_PROG_H

#include <stdint.h>

#include "qmac/isa.h"
#include "qmac/prog.h"
#include "qmac/status.h"
#include "qmac/types.h"

#ifdef __cplusplus
extern "C" {
#endif

#define QMAC_ADD_PROG_MAX_EXC 16 /* more exceptions than this: planning fails */

/* The exact function: y for inputs a (range of dt_a) and b (range of dt_b), already clamped. */
typedef int32_t (*qmac_pair_fn)(const void *ctx, int32_t a, int32_t b);

typedef enum {
    QMAC_ADD_ROUND_FLOOR = 0, /* Y = V >> s (SHR; bias holds + 1/2): half up */
    QMAC_ADD_ROUND_AWAY,      /* Y = V / 2^s rounded, ties away from zero (SHRR) */
    QMAC_ADD_ROUND_EVEN       /* Y = V (|V| < 2^24) and POST's multiplier 2^-s rounds half to even */
} qmac_add_round;

typedef struct {
    qmac_dtype dt_a, dt_b, dt_y; /* int8 or uint8 each */
    int32_t lo, hi;              /* the output clamp (within dt_y) */
    int32_t mult[2], shift[2];   /* MBQM of a (0) and b (1); shift in [-31, 31] */
    int32_t bias, s;             /* V = P + Q + bias; s in [0, 30] */
    int round;                   /* qmac_add_round: how Y comes from V */
    int keyed;                   /* exceptions keyed by a * 512 + b (1) or by V (0) */
    int32_t n_exc;
    int32_t exc_key[QMAC_ADD_PROG_MAX_EXC], exc_d[QMAC_ADD_PROG_MAX_EXC];
} qmac_add_plan;

/* Plan f ~ clamp(rne(a * ra + b * rb + c), lo, hi) (ra, rb >= 0 and finite; the better the
 * approximation the fewer exceptions). Tries all pairs. QMAC_ERR_UNSUPPORTED (with the count in
 * the message) when more than QMAC_ADD_PROG_MAX_EXC pairs would need correcting. */
qmac_status qmac_add_plan_make(qmac_dtype dt_a, qmac_dtype dt_b, qmac_dtype dt_y, int32_t lo, int32_t hi,
                               double ra, double rb, double c, qmac_pair_fn f, const void *ctx,
                               qmac_add_plan *plan);

/* The multiplier of the POST after the program: 1, or 2^-s when it rounds. */
float qmac_add_plan_post_mult(const qmac_add_plan *plan);

/* What the program computes for one pair (the same int32 operations as the vector unit). */
int32_t qmac_add_plan_eval(const qmac_add_plan *plan, int32_t a, int32_t b);

/* Vector-unit instructions of one pass: VALU ops per row of the pass, and ACC rows it uses. */
uint32_t qmac_add_plan_valu_ops(const qmac_add_plan *plan);
#define QMAC_ADD_PROG_ACC_SETS 3 /* ACC rows per input row: V, scratch, Y */

/* One pass of the program: count1 x count0 elements rows (outer, inner). Row (i1, i0) of a is INP
 * row ia + i1 * a_s1 + i0, of b ib + i1 * b_s1 + i0 (an outer stride 0 repeats rows: a broadcast
 * operand); ACC rows [acc, acc + 3 * count0 * count1) are scratch. */
typedef struct {
    uint32_t ia, a_s1, ib, b_s1, acc, count0, count1;
} qmac_add_walk;

/* Emit the VALU instructions of one pass; Y of row (i1, i0) ends in ACC row *y_row + i1 count0 +
 * i0, for a POST (set up by the caller: rule C, multiplier qmac_add_plan_post_mult(), bias 0,
 * out_zp 0, clamp [lo, hi]). */
qmac_status qmac_add_plan_emit(const qmac_add_plan *plan, const qmac_add_walk *w, qmac_prog *prog,
                               uint32_t *y_row);

#ifdef __cplusplus
}
#endif

#endif
