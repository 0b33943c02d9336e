/* qsim.h - C API over one Verilated top (the C++ shim sim/qsim_shim.cpp).
 *
 * Each simulation binary links exactly one Verilated top; its ports are listed in a small X-macro
 * header (sim/ports_<top>.h) that the Makefile names when it compiles the shim. Everything above
 * this API (stimulus, reference model, comparison, reporting) is C.
 *
 * Port values travel as arrays of 32-bit words in Verilator's packed layout: bit i of the port is
 * bit (i % 32) of word i / 32, so element e of a flat vector port of W-bit elements is bits
 * [e*W +: W]. A port of `width` bits takes QSIM_WORDS(width) words. qsim_poke() ignores the bits
 * above `width` in the last word (Verilator needs them clear, the shim masks them).
 *
 * Time: cycle c spans trace times [10c, 10c + 10) in units of 1 ns. qsim_tick() drives the clock
 * low (the inputs poked during cycle c appear at 10c + 5) and then high: the rising edge at
 * 10c + 10 ends cycle c. Between ticks the clock is high. */
#ifndef QSIM_H
#define QSIM_H

#include <stdbool.h>
#include <stdint.h>

#include "qmac/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define QSIM_WORDS(width) (((width) + 31u) / 32u)

typedef enum { QSIM_IN = 0, QSIM_OUT = 1 } qsim_dir;

typedef struct qsim qsim;

/* Name of the Verilated top (e.g. "qmac_array"). */
const char *qsim_top_name(void);

/* Number of ports; ids are 0 .. qsim_port_count() - 1 in the order of the port table. */
int qsim_port_count(void);

/* Name, width in bits and direction of port `id` (0 <= id < qsim_port_count()).
 * Errors: QMAC_ERR_INVALID_ARG for a bad id. Outputs may be NULL. */
qmac_status qsim_port_info(int id, const char **name, uint32_t *width, qsim_dir *dir);

/* Id of the port called `name` with direction `dir`, its width in *width (may be NULL).
 * Errors: QMAC_ERR_INVALID_ARG (no such port, or it has the other direction); the detail names it. */
qmac_status qsim_port_find(const char *name, qsim_dir dir, int *id, uint32_t *width);

/* Build the model: every input 0, clock low, evaluated once. No reset is applied (the caller
 * drives its reset port). The caller destroys it with qsim_destroy().
 * Errors: QMAC_ERR_NOMEM. */
qmac_status qsim_create(qsim **out);

/* Run the model's final blocks, close an open trace, free everything. NULL is a no-op. */
void qsim_destroy(qsim *s);

/* Drive input `id` (from qsim_port_find with QSIM_IN) with QSIM_WORDS(width) words. Ids that
 * are not inputs are ignored. Takes effect at the next qsim_eval() or qsim_tick(). */
void qsim_poke(qsim *s, int id, const uint32_t *words);
/* Poke a port of at most 32 bits. */
static inline void qsim_poke32(qsim *s, int id, uint32_t v)
{
    qsim_poke(s, id, &v);
}

/* Read port `id` (any direction) into QSIM_WORDS(width) words; bits above width are 0. */
void qsim_peek(const qsim *s, int id, uint32_t *words);

/* Settle the model after pokes without a clock edge (combinational paths from inputs). */
void qsim_eval(qsim *s);

/* One clock cycle: clock low, eval, dump; clock high (the rising edge), eval, dump; cycle + 1. */
void qsim_tick(qsim *s);

/* Cycles ticked since qsim_create(). */
uint64_t qsim_cycle(const qsim *s);

/* Start writing an FST trace of every signal to `path` from the current cycle on (closes a trace
 * already open). Only FST is built in: a path ending in ".vcd" is refused.
 * Errors: QMAC_ERR_INVALID_ARG (path), QMAC_ERR_IO (cannot create the file), QMAC_ERR_NOMEM. */
qmac_status qsim_trace_open(qsim *s, const char *path);

/* Whether this build can trace (verilated with --trace-fst). */
bool qsim_trace_supported(void);

/* Flush and close the trace, if one is open. */
void qsim_trace_close(qsim *s);

/* Path of the open trace, or NULL. */
const char *qsim_trace_path(const qsim *s);

#ifdef __cplusplus
}
#endif

#endif
