/* accel.h - the golden model of the qmac accelerator: an instruction-level simulator that
 * defines what the hardware computes (docs/isa.md), bit for bit, including faults.
 *
 * State: the four on-chip buffers, the CONFIG registers and the per-channel PARAM registers.
 * The hardware executes instructions out of order across its load, store and compute units but
 * interlocks every buffer and memory hazard, so the state after any instruction retires equals
 * the state after executing the program in order up to it: this model executes in order.
 * Layouts: INP, WGT and OUT rows are N bytes; ACC rows are N int32 lanes stored little endian
 * (lane l at bytes [4l, 4l + 4)); the packed bits of omode BIN use bit j of a row = bit j % 8 of
 * byte j / 8. */
#ifndef QMAC_ACCEL_H
#define QMAC_ACCEL_H

#include <stdbool.h>
#include <stdint.h>

#include "qmac/isa.h"
#include "qmac/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Largest N any build may have (qmac_hw_config_check). */
#define QMAC_ACCEL_MAX_DIM 32u

/* The registers set by CONFIG and PARAM; all zero after reset. */
typedef struct {
    uint32_t bin, act_signed, wgt_signed, rule, omode; /* CONFIG, as encoded */
    uint8_t act_zp, out_zp, clamp_min, clamp_max;
    int32_t bias[QMAC_ACCEL_MAX_DIM];   /* PARAM row 0 */
    uint32_t mult[QMAC_ACCEL_MAX_DIM];  /* PARAM row 1: Q31 multiplier, float32 bits or threshold */
    int8_t shift[QMAC_ACCEL_MAX_DIM];   /* PARAM row 2, bits [7:0] */
    uint8_t wgt_zp[QMAC_ACCEL_MAX_DIM]; /* PARAM row 2, bits [15:8] */
} qmac_accel_regs;

/* The memory behind the AXI port: bytes [base, base + size) at data (not owned). */
typedef struct {
    uint8_t *data;
    uint64_t base, size;
} qmac_accel_mem;

typedef struct qmac_accel qmac_accel;

/* Allocate a model of build cfg in reset state; free with qmac_accel_free().
 * Errors: QMAC_ERR_INVALID_ARG (cfg, see qmac_hw_config_check), QMAC_ERR_NOMEM. */
qmac_status qmac_accel_create(const qmac_hw_config *cfg, qmac_accel **out);
void qmac_accel_free(qmac_accel *a);

/* Registers and buffers to zero (the RTL resets its registers; its buffers start as zero in
 * simulation and are never cleared by hardware). */
void qmac_accel_reset(qmac_accel *a);

const qmac_hw_config *qmac_accel_config(const qmac_accel *a);
const qmac_accel_regs *qmac_accel_get_regs(const qmac_accel *a);
/* Buffer b: qmac_buf_rows() rows of qmac_buf_row_bytes() bytes, row after row. Writable, so
 * tests and the co-simulation can preload or compare state. */
uint8_t *qmac_accel_buffer(qmac_accel *a, qmac_buf b);

/* Read the 8 words of instruction pc of a program at prog_addr. Returns FETCH when prog_addr is
 * not a multiple of 32 or the instruction's bytes are not all inside the window, BUS when they
 * are not all inside mem, else NONE. */
qmac_fault qmac_accel_fetch(const qmac_accel_mem *mem, uint32_t prog_addr, const qmac_window *win,
                            uint64_t pc, uint32_t w[QMAC_INSN_WORDS]);

/* Execute one instruction that qmac_insn_check() passed. Returns NONE, or BUS when a memory row
 * of a LOAD/STORE lies outside mem: the instruction still runs to its end, such LOAD rows are
 * written as zeros and such STORE rows are dropped. *vectors (may be NULL) gets the number of
 * activation vectors it put through the array (GEMM: count0 * count1). */
qmac_fault qmac_accel_exec(qmac_accel *a, const qmac_insn *insn, const qmac_accel_mem *mem,
                           uint64_t *vectors);

/* How a run ended. */
typedef struct {
    bool done;         /* END retired */
    qmac_fault fault;  /* NONE unless a fault stopped the run */
    uint64_t fault_pc; /* index of the faulting instruction */
    const char *why;   /* static text naming the faulting field or range (NULL if none) */
    uint64_t retired;  /* instructions retired (END included, the faulting one not) */
    uint64_t vectors;  /* activation vectors through the array (the ARRAY_BUSY counter) */
} qmac_accel_result;

/* Run the program at prog_addr from instruction 0 until END, a fault, or max_insn instructions
 * (then done and fault are both unset). */
void qmac_accel_run(qmac_accel *a, const qmac_accel_mem *mem, uint32_t prog_addr, const qmac_window *win,
                    uint64_t max_insn, qmac_accel_result *res);

#ifdef __cplusplus
}
#endif
#endif /* QMAC_ACCEL_H */
