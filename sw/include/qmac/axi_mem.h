/* axi_mem.h - cycle-level AXI4 memory (slave) model and AXI4 protocol checker.
 *
 * The memory sits behind the accelerator's AXI4 master, both in the Verilator co-simulation and in
 * the golden model's cycle model, so its timing is part of the specification:
 *
 * Cycles. The slave is Moore: its outputs during cycle c are a function of its state at the start
 * of cycle c only. Each cycle the harness calls qmac_axi_mem_outputs() (the slave's ports during
 * cycle c), drives them into the master, samples the master's ports and calls qmac_axi_mem_clock()
 * with them: it performs every handshake of cycle c (channel X handshakes iff X_VALID && X_READY)
 * and advances to cycle c + 1. Cycle 0 is the first cycle after create or reset.
 *
 * Read channel.
 *   ARREADY = reads outstanding < max_reads. A read burst is outstanding from its AR handshake to
 *   the handshake of its last R beat.
 *   A burst accepted in cycle t presents its first beat (RVALID) from cycle t + read_latency on, each
 *   further beat from the cycle after the previous beat's handshake on, and always as early as
 *   that allows. Bursts return strictly in AR order, at most one beat per cycle; the first beat of
 *   the next burst may be presented in the cycle right after the previous burst's last handshake,
 *   so back-to-back bursts stream at one beat per cycle. RVALID then stays high with the same
 *   payload until RREADY.
 *   Beat i of a burst covers bytes [araddr + i * beat_bytes, + beat_bytes) (INCR). Its RDATA is a
 *   snapshot of memory taken at the clock edge that starts the first cycle it is presented, i.e.
 *   after every W beat handshaken before that cycle. RRESP = 0 (OKAY) when all its bytes lie in
 *   [base, base + size), else 2 (SLVERR) with all-zero data. RID = ARID, RLAST on the last beat.
 *
 * Write channel.
 *   AWREADY = writes outstanding < max_writes; a write burst is outstanding from its AW handshake
 *   to its B handshake. WREADY = some burst accepted before this cycle still lacks W beats: W beats
 *   fill the accepted bursts in AW order, so a W beat is never taken before (nor in the cycle of)
 *   its AW handshake. A W handshake writes the bytes whose WSTRB bit is set, provided the whole beat
 *   lies in memory; a beat that does not is dropped and makes the burst answer SLVERR. The B
 *   response of a burst whose last W beat handshakes in cycle t is presented from cycle
 *   t + write_latency on (as early as that allows, in AW order), held until BREADY. BID = AWID,
 *   BRESP = 0 or 2. The burst length comes from AWLEN; the model does not look at WLAST.
 *
 * Reads and writes are independent: a write never delays a read, and a read beat sees every
 * write handshaken before the cycle it is first presented in.
 *
 * The model does not interpret AxSIZE or AxBURST (every burst is INCR of full beats) and accepts
 * any address; qmac_axi_check flags what a legal master must not send. Byte lane j of WDATA/RDATA
 * and bit j of WSTRB belong to byte (beat address + j); lanes >= beat_bytes are ignored on input
 * and zero on output.
 *
 * Speed: no allocation after create; an idle cycle costs a few compares. */
#ifndef QMAC_AXI_MEM_H
#define QMAC_AXI_MEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "qmac/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Widest data bus the model accepts, in bytes (512 bits). */
#define QMAC_AXI_MAX_BEAT_BYTES 64u
/* Most bursts outstanding per direction (max_reads, max_writes) the model accepts. */
#define QMAC_AXI_MAX_OUTSTANDING 4096u
/* AXI4 INCR: at most 256 beats (AxLEN is 8 bits), never crossing a 4 KiB boundary. */
#define QMAC_AXI_MAX_BURST_BEATS 256u
#define QMAC_AXI_BOUNDARY 4096u
/* AxBURST and xRESP encodings used here. */
#define QMAC_AXI_BURST_INCR 1u
#define QMAC_AXI_RESP_OKAY 0u
#define QMAC_AXI_RESP_SLVERR 2u

typedef struct {
    uint32_t beat_bytes;    /* data bus width in bytes: a power of two in [1, 64] */
    uint64_t base, size;    /* the memory holds bytes [base, base + size); size >= 1, base + size <= 2^64 */
    uint32_t read_latency;  /* >= 1: cycles from the AR handshake to the first R beat */
    uint32_t write_latency; /* >= 1: cycles from the last W handshake to BVALID */
    uint32_t max_reads;     /* [1, QMAC_AXI_MAX_OUTSTANDING] read bursts outstanding */
    uint32_t max_writes;    /* [1, QMAC_AXI_MAX_OUTSTANDING] write bursts outstanding */
} qmac_axi_mem_config;

/* Master -> slave ports during one cycle. */
typedef struct {
    bool arvalid;
    uint64_t araddr;
    uint32_t arlen;   /* beats - 1; the model uses the low 8 bits (the AXI4 ARLEN port) */
    uint32_t arsize;  /* log2(bytes per beat); must be log2(beat_bytes) (checked by qmac_axi_check) */
    uint32_t arburst; /* must be QMAC_AXI_BURST_INCR (checked by qmac_axi_check) */
    uint32_t arid;    /* any value, returned as RID */
    bool rready;
    bool awvalid;
    uint64_t awaddr;
    uint32_t awlen, awsize, awburst, awid; /* as the AR fields */
    bool wvalid;
    uint8_t wdata[QMAC_AXI_MAX_BEAT_BYTES]; /* lanes [0, beat_bytes) */
    uint64_t wstrb;                         /* bit j enables lane j; bits >= beat_bytes ignored */
    bool wlast;
    bool bready;
} qmac_axi_m2s;

/* Slave -> master ports during one cycle. */
typedef struct {
    bool arready;
    bool rvalid;
    uint8_t rdata[QMAC_AXI_MAX_BEAT_BYTES]; /* lanes [0, beat_bytes); the rest are 0 */
    uint32_t rid, rresp;                    /* rresp: QMAC_AXI_RESP_OKAY or QMAC_AXI_RESP_SLVERR */
    bool rlast;
    bool awready, wready;
    bool bvalid;
    uint32_t bid, bresp;
} qmac_axi_s2m;

/* Counters since create or the last reset. A burst counts when it completes: a read burst at the
 * handshake of its last R beat, a write burst at its B handshake; beats count at their handshake. */
typedef struct {
    uint64_t cycles;       /* clock() calls */
    uint64_t read_bursts;  /* read bursts completed */
    uint64_t read_beats;   /* R handshakes */
    uint64_t read_slverr;  /* R handshakes with RRESP = SLVERR */
    uint64_t write_bursts; /* write bursts completed (B handshakes) */
    uint64_t write_beats;  /* W handshakes */
    uint64_t write_slverr; /* B handshakes with BRESP = SLVERR */
} qmac_axi_mem_stats;

typedef struct qmac_axi_mem qmac_axi_mem;

/* Allocate a memory model with all bytes zero, in reset state. It owns its byte array; the caller
 * frees both with qmac_axi_mem_free(). Errors: QMAC_ERR_INVALID_ARG (qmac_last_error() names the
 * field), QMAC_ERR_NOMEM (size bytes could not be allocated). */
qmac_status qmac_axi_mem_create(const qmac_axi_mem_config *cfg, qmac_axi_mem **out);
void qmac_axi_mem_free(qmac_axi_mem *m);

/* Reset: empties every queue, drops the presented R beat and B response, returns to cycle 0 and
 * zeroes the statistics and the guard counters. Memory contents and the guard range are kept. */
void qmac_axi_mem_reset(qmac_axi_mem *m);

const qmac_axi_mem_config *qmac_axi_mem_get_config(const qmac_axi_mem *m);

/* Backdoor access for loaders and the golden model: byte [i] holds address base + i, i < size.
 * The array belongs to the model (valid until qmac_axi_mem_free). Writes through it take effect at
 * once for beats presented later; an R beat already presented keeps its snapshot. base and size
 * may be NULL. */
uint8_t *qmac_axi_mem_data(qmac_axi_mem *m, uint64_t *base, uint64_t *size);

/* The slave's ports during the current cycle (a function of the model's state only). */
void qmac_axi_mem_outputs(const qmac_axi_mem *m, qmac_axi_s2m *out);

/* The clock edge at the end of the current cycle with the master's ports `in` driven during it. */
void qmac_axi_mem_clock(qmac_axi_mem *m, const qmac_axi_m2s *in);

/* Current cycle number (cycles since create or reset). */
uint64_t qmac_axi_mem_cycle(const qmac_axi_mem *m);

/* True when no burst is outstanding in either direction. */
bool qmac_axi_mem_idle(const qmac_axi_mem *m);

void qmac_axi_mem_get_stats(const qmac_axi_mem *m, qmac_axi_mem_stats *st);

/* Write guard: from now on every byte of a handshaken W beat with its WSTRB bit set whose address
 * lies outside [lo, hi) is counted, whether or not it lies in memory (a write inside memory still
 * happens). lo <= hi (lo == hi: every written byte counts). Resets the guard counters. Errors:
 * QMAC_ERR_INVALID_ARG when lo > hi. */
qmac_status qmac_axi_mem_set_guard(qmac_axi_mem *m, uint64_t lo, uint64_t hi);
/* Remove the guard (nothing is counted) and reset its counters. */
void qmac_axi_mem_clear_guard(qmac_axi_mem *m);
/* Bytes written outside the guard since it was set (0 without a guard). */
uint64_t qmac_axi_mem_guard_violations(const qmac_axi_mem *m);
/* Address of the first byte counted by the guard; meaningful only when violations > 0. */
uint64_t qmac_axi_mem_guard_first(const qmac_axi_mem *m);

/* ------------------------------------------------------------------------------------------------
 * Protocol checker. Observes both sides of one AXI4 link every cycle (the same m2s/s2m pair the
 * harness hands to the slave) and reports:
 *   valid-stable    ARVALID, AWVALID, WVALID (master), RVALID, BVALID (slave) dropped before the
 *                   handshake;
 *   payload-stable  the channel's payload changed while its VALID was held (AR/AW: addr, len,
 *                   size, burst, id; W: lanes [0, beat_bytes), WSTRB bits [0, beat_bytes), WLAST;
 *                   R: lanes, RID, RRESP, RLAST; B: BID, BRESP);
 *   burst-type      AxBURST != INCR;   size  AxSIZE != log2(beat_bytes);
 *   align           AxADDR not a multiple of beat_bytes;
 *   4k              the burst crosses a 4 KiB boundary;   max-len  AxLEN + 1 > max_burst_beats;
 *   w-without-aw    a W beat presented while no AW burst (handshaken in an earlier cycle or this
 *                   one) lacks W beats: W ahead of its AW, or more W beats than AWLEN + 1;
 *   wlast           WLAST not exactly on the last beat (AWLEN + 1) of its burst;
 *   r-unexpected    an R beat while no read burst is outstanding (AR handshaken in an earlier cycle);
 *   rid             an R beat whose RID matches no outstanding burst;
 *   rlast           RLAST not exactly on the last beat (ARLEN + 1) of its burst;
 *   b-unexpected    a B response while no write burst has all its W beats handshaken in an earlier
 *                   cycle and no B yet;
 *   bid             a B response whose BID matches no such burst.
 * AR/AW/W/R/B request rules are checked once per presented item (the first cycle of its VALID, or
 * again after an illegal payload change). R beats go to the oldest outstanding burst with their
 * RID and B responses to the oldest completed burst with their BID (AXI4 ordering per ID). */

/* Bursts the checker tracks per direction; more are reported (rule "outstanding") and dropped. */
#define QMAC_AXI_CHECK_MAX_OUTSTANDING 1024u

typedef struct qmac_axi_check qmac_axi_check;

/* Allocate a checker for a link of beat_bytes (power of two in [1, 64]) whose master issues at most
 * max_burst_beats ([1, 256]) beats per burst. The caller frees it with qmac_axi_check_free().
 * Errors: QMAC_ERR_INVALID_ARG, QMAC_ERR_NOMEM. */
qmac_status qmac_axi_check_create(uint32_t beat_bytes, uint32_t max_burst_beats, qmac_axi_check **out);
void qmac_axi_check_free(qmac_axi_check *chk);

/* Forget all history (use it together with the slave's and the master's reset). */
void qmac_axi_check_reset(qmac_axi_check *chk);

/* Check one cycle's ports and advance to the next cycle. Returns the number of violations found in
 * this cycle (0: none). When err is not NULL, it receives (truncated to errlen, NUL-terminated) the
 * violations joined by "; ", each as "cycle N: CHANNEL: detail [rule]"; untouched when there are
 * none. Checking continues after a violation. */
int qmac_axi_check_cycle(qmac_axi_check *chk, const qmac_axi_m2s *m2s, const qmac_axi_s2m *s2m, char *err,
                         size_t errlen);

/* Violations reported since create or reset. */
uint64_t qmac_axi_check_errors(const qmac_axi_check *chk);

#ifdef __cplusplus
}
#endif

#endif /* QMAC_AXI_MEM_H */
