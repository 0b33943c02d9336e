/* array_stim.h - seeded stimulus for the qmac_array differential test (sim/array_main.c).
 *
 * A stimulus is the input of every cycle of one case, starting right after reset, plus what the
 * arithmetic contract of sw/include/qmac/mac_array.h says must come out:
 *
 *   legal   weight tiles written inside their legal windows (some early, the rest exactly at the
 *           deadline), activation vectors with a swap at each new tile, random gaps or full-rate
 *           streaming, a random mode per tile (int8 signed/unsigned with random zero points, binary,
 *           or a mode per vector), accumulate chains (acc = an earlier vector's result) and random
 *           accumulators near INT32_MIN / INT32_MAX to make the sums wrap. Every don't-care input
 *           (an invalid vector's fields, the weight port when idle, acc when not sampled) carries
 *           random junk. The expected result of each vector is computed here from the contract,
 *           independently of the model (its "spec").
 *   random  every input random in every cycle (weight writes at any time, any wgt_row bits, swaps
 *           on any vector, mode switches), occasional reset pulses; only RTL == model is checked.
 *
 * Bytes are drawn from edge-heavy distributions: 0x00, 0xff (all ones), 0x80 (-128), 0x7f (127),
 * 0x01, 0xfe; zero points likewise. */
#ifndef QMAC_SIM_ARRAY_STIM_H
#define QMAC_SIM_ARRAY_STIM_H

#include <stdbool.h>
#include <stdint.h>

#include "qmac/mac_array.h"
#include "simctl.h"

typedef enum { ARRAY_STIM_LEGAL = 0, ARRAY_STIM_RANDOM = 1 } array_stim_kind;

/* One weight tile of a legal case. */
typedef struct {
    uint32_t swap_cycle; /* cycle of the vector that switches to this tile */
    uint32_t vectors;    /* vectors computed with it */
} array_stim_tile;

typedef struct {
    uint32_t rows, cols;
    array_stim_kind kind;
    uint32_t n;        /* cycles in the case; outputs are compared in cycles 0..n (n after the last) */
    qmac_array_in *in; /* [n] inputs driven during cycle i */
    uint8_t *rst;      /* [n] 1: rst_ni low throughout cycle i (asserted at its start) */
    uint8_t *expect;   /* [n + 1] 1: the contract expects a valid result in cycle i */
    int32_t *exp;      /* [(n + 1) * cols] that result */
    int32_t *vec_tile; /* [n + 1] legal: tile index (-1 before the first swap) of the vector whose
                          result is expected in cycle i; -2 when none */
    /* what the case exercises */
    uint32_t tiles;         /* weight tiles (swaps) */
    uint32_t vectors;       /* valid activation vectors */
    uint32_t acc_vectors;   /* ... with act_acc */
    uint32_t chained;       /* ... whose acc is an earlier vector's result */
    uint32_t mode_switches; /* valid vectors whose (bin, signed) differs from the previous one */
    uint32_t wgt_writes;    /* cycles with wgt_valid */
    uint32_t resets;        /* reset pulses inside the case */
    /* buffers (grow only; owned here, freed by array_stim_free) */
    uint32_t cap;
    int16_t *wop;  /* [tiles_cap * rows * cols] legal: corrected weight operands per tile */
    uint8_t *wraw; /* [tiles_cap * rows * cols] raw weight bytes */
    uint8_t *wsgn; /* [tiles_cap * rows] wgt_signed of each row write */
    uint8_t *wzp;  /* [tiles_cap * rows * cols] wgt_zp of each row write */
    uint32_t tiles_cap;
    array_stim_tile *tile;
} array_stim;

/* Empty stimulus for a rows x cols array; call array_stim_free() when done. */
void array_stim_init(array_stim *st, uint32_t rows, uint32_t cols);
void array_stim_free(array_stim *st);

/* Fill `st` with one legal case drawn from `rng`. `max_tiles` >= 1 bounds the weight tiles.
 * Errors: QMAC_ERR_NOMEM; QMAC_ERR_INTERNAL if the write scheduler broke its invariant. */
qmac_status array_stim_legal(array_stim *st, simctl_rng *rng, uint32_t max_tiles);

/* Full-rate streaming for the bench: a vector every cycle, a new tile every max(rows, cols) cycles
 * alternating int8 and binary, weights written at their deadlines; `tiles` tiles. */
qmac_status array_stim_stream(array_stim *st, simctl_rng *rng, uint32_t tiles);

/* Fill `st` with `cycles` cycles of fully random inputs drawn from `rng`. Errors: QMAC_ERR_NOMEM. */
qmac_status array_stim_random(array_stim *st, simctl_rng *rng, uint32_t cycles);

#endif
