/* accel_harness.h - co-simulation of the Verilated qmac_top with the AXI memory model and the
 * golden model (sw/include/qmac/accel.h), in lock-step per retirement.
 *
 * One program run (accel_run):
 *   - a fresh Verilated model, reset; a fresh qmac_axi_mem (Moore AXI4 slave) holding the case's
 *     memory image, with a write guard on [window] ∩ [memory]; a qmac_axi_check on every cycle;
 *   - the program is started as a driver would: AXI4-Lite writes of PROG_ADDR, WIN_LO, WIN_HI (and
 *     reads of HW_ID / HW_CFG, checked against the configuration), then CTRL = 1; the harness
 *     waits for irq_o and reads STATUS, FAULT_CODE, FAULT_PC and the counters;
 *   - a shadow copy of each RTL buffer is kept from the trace write port;
 *   - lock-step: on each trace retirement of instruction X the golden model executes the program
 *     in order up to X and the rows (and for STORE the memory bytes) X writes are compared, minus
 *     those written by later instructions that may already have run (docs/microarch.md lets a
 *     GEMM stream into the next one, and the golden model may be ahead of an older, slower unit);
 *   - at the end: fault code and pc, RETIRED, ARRAY_BUSY, every buffer row, the whole memory, the
 *     write guard, the protocol checker and CYCLES (against the cycles seen between the CTRL
 *     handshake and irq_o).
 * The first difference is reported with the instruction index, its disassembly, the buffer, row
 * and lanes, and the run is replayed on a fresh model with an FST trace. */
#ifndef QMAC_SIM_ACCEL_HARNESS_H
#define QMAC_SIM_ACCEL_HARNESS_H

#include <stdbool.h>
#include <stdint.h>

#include "qmac/accel.h"
#include "qmac/accel_timing.h"
#include "qmac/isa.h"
#include "simctl.h"

/* One program and its environment. Memory bytes [mem_base, mem_base + mem_size) start as
 * mem_init (mem_size bytes, not owned); the program's words are at prog_addr inside it already. */
typedef struct {
    const char *name;      /* for reports */
    const uint32_t *words; /* n_insn * 8 words (not owned): only used for disassembly in reports */
    uint64_t n_insn;
    uint32_t prog_addr;
    qmac_window win;
    uint64_t mem_base, mem_size;
    const uint8_t *mem_init;
    uint32_t read_latency, write_latency, max_reads, max_writes; /* 0: the isa.md defaults */
    uint64_t max_cycles;                                         /* 0: a bound from the program size */
    uint8_t *mem_out; /* not NULL: receives the RTL's final memory (mem_size bytes) after a PASS */
} accel_prog;

/* What the RTL reported (CSRs) and what the harness measured. */
typedef struct {
    uint32_t status, fault_code, fault_pc;
    uint64_t cycles, retired, array_busy, load_busy, store_busy, stall;
    uint64_t sim_cycles; /* clock cycles simulated for the whole run (reset and CSR accesses included) */
    /* the golden model's view */
    bool gold_done;
    uint32_t gold_fault, gold_fault_pc;
    uint64_t gold_retired, gold_vectors;
    uint64_t lockstep_checks; /* retirements compared in lock-step */
    bool cycle_model_checked; /* the cycle model agreed on every retire cycle and counter */
} accel_result;

typedef struct accel_h accel_h;

/* A harness for build cfg (checked against HW_ID / HW_CFG of the RTL on every run). `tag` names
 * the build in reports ("accel-16"). Returns NULL (message printed) on failure. */
accel_h *accel_create(simctl *c, const qmac_hw_config *cfg, const char *tag);
void accel_free(accel_h *h);

/* Also run the C cycle model (sw/include/qmac/accel_timing.h) on every program and compare the
 * retire cycle of every instruction, CYCLES and the counters (off by default). */
void accel_set_cycle_model(accel_h *h, bool on);

/* A failure trace (the case replayed from reset) holds the last `cycles` cycles up to the failing
 * one (ACCEL_TRACE_LAST by default; 0: the whole run). */
#define ACCEL_TRACE_LAST 5000
void accel_set_trace_last(accel_h *h, uint64_t cycles);

/* Run program p as case k. Returns SIMCTL_PASS, SIMCTL_MISMATCH (report printed, FST written
 * unless trace_on_fail is false), SIMCTL_TIMEOUT or SIMCTL_ERROR. `repro` is appended to the
 * reproduce command ("--case 12"). */
simctl_rc accel_run(accel_h *h, const accel_prog *p, uint64_t k, const char *repro, bool trace_on_fail,
                    accel_result *res);

/* Run program p on the C cycle model of build cfg (queues, burst and memory at their defaults, the
 * memory's latencies and limits from p when set), over a fresh copy of p's memory image. golden:
 * the functional model to drive (not owned; NULL: timing only); fn/ctx: the retirement callback
 * (fn may be NULL). Errors: those of qmac_axi_mem_create, qmac_timing_create, qmac_timing_run. */
qmac_status accel_model_run(const qmac_hw_config *cfg, const accel_prog *p, qmac_accel *golden,
                            uint64_t max_cycles, qmac_timing_retire_fn fn, void *ctx, qmac_timing_stats *st);

#endif
