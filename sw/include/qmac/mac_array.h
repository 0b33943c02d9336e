/* mac_array.h - cycle-exact C model of the MAC array (hw/rtl/qmac_array.sv).
 *
 * The array is weight-stationary and systolic: rows are the reduction index k, columns the output
 * channel n. Every cycle one activation vector (rows bytes) may enter; rows + cols + 1 cycles
 * later (QMAC_ARRAY_LATENCY) a vector of cols 32-bit results leaves. For a vector entering in
 * cycle t the result of column c is
 *
 *     out[c] = (act_acc ? acc[c] sampled in cycle t + rows + cols : 0) + sum_r P(a[r], W[r][c])
 *
 * wrapped to 32 bits, where W is the weight tile active for that vector in PE(r, c) and
 *     int8 mode:   P = (a - act_zp) * (w - wgt_zp[c]), operands extended as signed (int8) or
 *                  unsigned (uint8) per act_signed / wgt_signed, each difference in [-255, 255];
 *     binary mode: P = 8 - 2 * popcount(a XOR w) over the low 8 bits of the zero-point-corrected
 *                  operands: 8 +-1 MACs per PE per cycle (load binary operands as uint8, zp 0).
 *
 * Weights: a write of row r (wgt_valid) in cycle t stores the corrected row into the shadow
 * weights of PE(r, 0..cols-1) at the end of cycle t. A vector with act_swap set copies the shadow
 * weights into the active weights of each PE it passes and already uses them itself; it reaches
 * PE(r, c) in cycle t + 1 + r + c. So a new tile may be written while the previous one computes:
 * row r's write must fall in cycles [s + r + cols, s2 + r] where s is the input cycle of the
 * previous swap vector and s2 the next one's. Writing row r in cycle s2 + r meets this whenever
 * s2 - s >= cols and uses the single write port in cycles s2 .. s2 + rows - 1, so back-to-back
 * tiles stream at full rate when every tile is at least max(rows, cols) vectors long.
 *
 * The model holds every register of the RTL, so for ANY input sequence (legal schedule or not)
 * its outputs equal the RTL's on every cycle. Use: in each cycle, read qmac_array_model_outputs()
 * (the output ports during that cycle), then qmac_array_model_clock() with the inputs driven during
 * that cycle (the rising edge at its end). */
#ifndef QMAC_MAC_ARRAY_H
#define QMAC_MAC_ARRAY_H

#include <stdbool.h>
#include <stdint.h>

#include "qmac/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Largest rows / cols the model accepts (the RTL needs 2*9 + clog2(rows) <= 32 bits of sum). */
#define QMAC_ARRAY_MAX_DIM 256

/* Cycles from a vector's input cycle to the cycle its results are on the output port. */
#define QMAC_ARRAY_LATENCY(rows, cols) ((rows) + (cols) + 1u)

/* The input ports during one cycle. Unused entries beyond rows / cols are ignored. */
typedef struct {
    /* activation vector */
    bool act_valid;
    bool act_swap;   /* switch to the shadow weights from this vector on */
    bool act_bin;    /* binary mode for this vector */
    bool act_signed; /* int8 (true) or uint8 (false) activations and act_zp */
    bool act_acc;    /* add acc[] (sampled LATENCY-1 cycles later) to this vector's sums */
    uint8_t act_zp;
    uint8_t act[QMAC_ARRAY_MAX_DIM]; /* [rows] */
    /* one row of shadow weights */
    bool wgt_valid;
    bool wgt_signed;  /* int8 (true) or uint8 (false) weights and zero points */
    uint32_t wgt_row; /* taken modulo 2^ceil(log2(rows)) like the RTL port; rows >= row: no write */
    uint8_t wgt[QMAC_ARRAY_MAX_DIM];    /* [cols] */
    uint8_t wgt_zp[QMAC_ARRAY_MAX_DIM]; /* [cols] per output channel */
    /* accumulators, added to the vector whose results leave in the next cycle when it has act_acc */
    int32_t acc[QMAC_ARRAY_MAX_DIM]; /* [cols] */
} qmac_array_in;

/* The output ports during one cycle. Invalid cycles carry zeros. */
typedef struct {
    bool valid;
    int32_t out[QMAC_ARRAY_MAX_DIM]; /* [cols] */
} qmac_array_out;

typedef struct qmac_array_model qmac_array_model;

/* Allocate a model of a rows x cols array (1..QMAC_ARRAY_MAX_DIM each), in reset state.
 * The caller frees it with qmac_array_model_free(). Errors: QMAC_ERR_INVALID_ARG, QMAC_ERR_NOMEM. */
qmac_status qmac_array_model_create(uint32_t rows, uint32_t cols, qmac_array_model **out);
void qmac_array_model_free(qmac_array_model *m);

/* Synchronous reset: every register to zero. Call it instead of qmac_array_model_clock() for a
 * clock edge at which rst_ni is low (also once after create, which already resets). */
void qmac_array_model_reset(qmac_array_model *m);

uint32_t qmac_array_model_rows(const qmac_array_model *m);
uint32_t qmac_array_model_cols(const qmac_array_model *m);

/* Output ports during the current cycle (a function of the registers only). */
void qmac_array_model_outputs(const qmac_array_model *m, qmac_array_out *out);

/* The rising clock edge at the end of the current cycle, with `in` driven during it. */
void qmac_array_model_clock(qmac_array_model *m, const qmac_array_in *in);

/* Width of the exact column sums inside the array: 18 + ceil(log2(rows)) bits. */
uint32_t qmac_array_psum_bits(uint32_t rows);

/* The operand a PE sees for byte x with zero point zp: x - zp, both read as int8 when is_signed,
 * else as uint8; in [-255, 255]. The RTL's zp_correct(). */
int32_t qmac_array_operand(uint8_t x, uint8_t zp, bool is_signed);

/* One PE product of two corrected operands: a * w in int8 mode; in binary mode
 * 8 - 2 * popcount((a XOR w) & 0xff). */
int32_t qmac_array_product(int32_t a, int32_t w, bool binary);

#ifdef __cplusplus
}
#endif

#endif
