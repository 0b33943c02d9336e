/* accel_timing.h - the cycle model of the accelerator: docs/microarch.md, cycle for cycle.
 *
 * A cycle-stepped model of the accelerator's control (fetch FIFO and its AR requests, the AR
 * arbiter, dispatch with the hazard checks, the load, store and compute units, start/stop and the
 * counters) that drives a real qmac_axi_mem instance through qmac_axi_mem_outputs()/clock()
 * exactly as the RTL's AXI4 master does: same ARADDR/ARLEN/ARID, AWADDR/AWLEN/AWID, the same W
 * beats with WLAST in the same cycles. The timing path never changes memory contents: W beats
 * carry WSTRB = 0 (and zero data). The data effect of every instruction comes from the golden
 * model: qmac_accel_exec() runs an instruction in the cycle it retires (the hazard interlocks
 * make that equivalent to in-order execution; compute instructions that retire out of order are
 * executed in program order), against the memory's bytes through qmac_axi_mem_data().
 *
 * Cycle 0 of a run is the first cycle after the start (microarch.md "Start and stop"); the run
 * ends in the first cycle C where the dispatcher has halted (END retired or a fault pending in an
 * earlier cycle), every unit queue is empty and no instruction fetch is in flight; CYCLES = C.
 * The choices made where microarch.md is ambiguous are listed in sw/src/accel_timing.c.
 *
 * Speed: no allocation while running. Cycles in which nothing but the counters and the compute
 * unit's countdown can change (memory idle, units blocked on a compute event) are skipped in
 * bulk, exactly: the memory is still clocked once per cycle (its idle path). */
#ifndef QMAC_ACCEL_TIMING_H
#define QMAC_ACCEL_TIMING_H

#include <stdbool.h>
#include <stdint.h>

#include "qmac/accel.h"
#include "qmac/axi_mem.h"
#include "qmac/isa.h"
#include "qmac/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Upper bounds of the queue parameters the model accepts. */
#define QMAC_TIMING_MAX_FETCH_QUEUE 16u
#define QMAC_TIMING_MAX_UNIT_QUEUE 8u

/* One build plus the memory it is simulated with. */
typedef struct {
    qmac_hw_config hw;      /* qmac_hw_config_check() rules */
    uint32_t fetch_queue;   /* FetchQueue: [1, QMAC_TIMING_MAX_FETCH_QUEUE], default 4 */
    uint32_t load_queue;    /* LoadQueue, StoreQueue, ComputeQueue: instructions a unit holds, */
    uint32_t store_queue;   /*   the executing one included; [1, QMAC_TIMING_MAX_UNIT_QUEUE], */
    uint32_t compute_queue; /*   default 2 */
    uint32_t max_burst;     /* MaxBurst: beats per DMA burst, [1, 256], default 16 */
    /* the memory (qmac_axi_mem_config); the instance given to run() must match these */
    uint32_t read_latency;  /* >= 1, default QMAC_MEM_READ_LATENCY (20) */
    uint32_t write_latency; /* >= 1, default QMAC_MEM_WRITE_LATENCY (10) */
    uint32_t max_reads;     /* [1, QMAC_AXI_MAX_OUTSTANDING], default QMAC_MEM_MAX_READS (32) */
    uint32_t max_writes;    /* [1, QMAC_AXI_MAX_OUTSTANDING], default QMAC_MEM_MAX_WRITES (32) */
} qmac_timing_config;

/* The default build (N = 16) / the small build (N = 4), queues, burst and memory at their
 * defaults (isa_gen.h: QMAC_CFG_*, QMAC_MEM_*). */
void qmac_timing_config_default(qmac_timing_config *cfg);
void qmac_timing_config_small(qmac_timing_config *cfg);
/* Errors: QMAC_ERR_INVALID_ARG naming the bad field. */
qmac_status qmac_timing_config_check(const qmac_timing_config *cfg);
/* The memory config that matches cfg: beat_bytes = N, latencies and limits from cfg, bytes
 * [base, base + size). */
void qmac_timing_mem_config(const qmac_timing_config *cfg, uint64_t base, uint64_t size,
                            qmac_axi_mem_config *mc);

/* Which unit retired an instruction (the retirement callback's `src`). */
typedef enum {
    QMAC_TIMING_SRC_DISPATCH = 0, /* NOP, FENCE, END */
    QMAC_TIMING_SRC_LOAD = 1,
    QMAC_TIMING_SRC_STORE = 2,
    QMAC_TIMING_SRC_COMPUTE = 3 /* CONFIG, PARAM, GEMM, POST, VALU */
} qmac_timing_src;

/* Called once per retired instruction, in the cycle it retires (instructions retiring in the same
 * cycle: dispatcher, load, store, then compute in program order). insn is valid during the call
 * only. The golden model has already executed it (when one was given to run()). */
typedef void (*qmac_timing_retire_fn)(void *ctx, uint64_t cycle, qmac_timing_src src, uint64_t pc,
                                      const qmac_insn *insn);

/* Called every cycle with the master's and the slave's AXI4 ports of that cycle, before the
 * memory's clock edge (for a protocol checker or a port-level comparison with the RTL). Setting
 * one turns off the bulk skipping of idle cycles, so it really sees every cycle. */
typedef void (*qmac_timing_port_fn)(void *ctx, uint64_t cycle, const qmac_axi_m2s *m2s,
                                    const qmac_axi_s2m *s2m);

/* How a run ended; the counters are the CSRs of microarch.md "Counters" (which are 32 bits wide
 * in hardware, except CYCLES: compare modulo 2^32). */
typedef struct {
    uint64_t cycles;     /* C: cycles from start to the end of the run (or max_cycles) */
    uint64_t retired;    /* instructions retired, NOP/FENCE/END included (and a BUS-faulting one) */
    uint64_t array_busy; /* cycles with a vector entering the array */
    uint64_t load_busy;  /* cycles with the load unit's queue non-empty */
    uint64_t store_busy; /* cycles with the store unit's queue non-empty */
    uint64_t stall;      /* cycles the FIFO head was a valid instruction neither dispatched nor retired */
    bool done;           /* END retired (and the run ended) */
    qmac_fault fault;    /* the fault that ended the run, or NONE */
    uint64_t fault_pc;   /* its instruction index */
    const char *why;     /* static text naming the faulting field or range (NULL if none) */
} qmac_timing_stats;

typedef struct qmac_timing qmac_timing;

/* Allocate a model (all its run state is inside; nothing is allocated later). Free with
 * qmac_timing_free(). Errors: QMAC_ERR_INVALID_ARG (cfg), QMAC_ERR_NOMEM. */
qmac_status qmac_timing_create(const qmac_timing_config *cfg, qmac_timing **out);
void qmac_timing_free(qmac_timing *t);
const qmac_timing_config *qmac_timing_get_config(const qmac_timing *t);

/* Optional hooks (fn NULL removes one); they stay set across runs. */
void qmac_timing_set_retire_cb(qmac_timing *t, qmac_timing_retire_fn fn, void *ctx);
void qmac_timing_set_port_cb(qmac_timing *t, qmac_timing_port_fn fn, void *ctx);
/* Bulk skipping of idle cycles (on by default); off only to test that it is exact. */
void qmac_timing_set_fast_forward(qmac_timing *t, bool on);

/* Run the program at prog_addr from instruction 0 with the memory window win, for at most
 * max_cycles cycles (then stats->done and stats->fault are unset, and the memory may be left with
 * bursts outstanding: reset it before reuse).
 *   golden  the functional model (not owned), of the same hw config; the caller resets it or
 *           preloads its buffers. NULL: timing only (no instruction has a data effect; BUS faults
 *           then come from the memory's responses alone).
 *   mem     the memory (not owned): beat_bytes = N and the latencies and limits of the config;
 *           no burst outstanding at the start. Its clock is advanced by stats->cycles cycles.
 * Errors: QMAC_ERR_INVALID_ARG (a mismatching memory or golden model, a busy memory). */
qmac_status qmac_timing_run(qmac_timing *t, qmac_accel *golden, qmac_axi_mem *mem, uint32_t prog_addr,
                            const qmac_window *win, uint64_t max_cycles, qmac_timing_stats *stats);

#ifdef __cplusplus
}
#endif
#endif /* QMAC_ACCEL_TIMING_H */
