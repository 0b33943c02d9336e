/* isa.h - the meaning of qmac instructions beyond their bits (docs/isa.md): the hardware
 * configuration, the checks that turn an instruction into a fault before it does anything, and
 * the buffer rows and memory bytes it touches. The golden model, the RTL decoder's test and the
 * assembler share these, so every fault is decided in exactly one place in C. */
#ifndef QMAC_ISA_H
#define QMAC_ISA_H

#include <stdbool.h>
#include <stdint.h>

#include "qmac/isa_gen.h"
#include "qmac/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One build of the accelerator (hw/spec/qmac_isa.json "config"). */
typedef struct {
    uint32_t dim;      /* N: array rows = columns, AXI data bytes; power of two in [4, 32] */
    uint32_t inp_rows; /* buffer depths in rows; powers of two in [2, 65536] */
    uint32_t wgt_rows; /* >= N (one weight tile) */
    uint32_t acc_rows; /* >= 3 (PARAM) */
    uint32_t out_rows;
} qmac_hw_config;

void qmac_hw_config_default(qmac_hw_config *cfg); /* the default build (16 x 16) */
void qmac_hw_config_small(qmac_hw_config *cfg);   /* the small build synthesized by `make synth` */
/* Errors: QMAC_ERR_INVALID_ARG naming the bad parameter. */
qmac_status qmac_hw_config_check(const qmac_hw_config *cfg);

/* Rows of buffer b, and bytes per row: N for INP, WGT and OUT, 4N for ACC (N int32 lanes). */
uint32_t qmac_buf_rows(const qmac_hw_config *cfg, qmac_buf b);
uint32_t qmac_buf_row_bytes(const qmac_hw_config *cfg, qmac_buf b);
const char *qmac_buf_name(qmac_buf b);
const char *qmac_fault_name(qmac_fault f);

/* The memory window of the control registers: bytes [lo, hi] (inclusive) may be accessed. */
typedef struct {
    uint32_t lo, hi;
} qmac_window;

/* Decode an instruction and decide whether it faults before doing anything. The checks run in
 * this order and the first failing one is reported:
 *   OPCODE     unknown opcode
 *   FIELD      a reserved bit set, an enum field out of range, or CONFIG clamp_min > clamp_max
 *   ALIGN      LOAD/STORE: dram or a stride not a multiple of N
 *   BUF_RANGE  a buffer row the instruction would touch is beyond the buffer
 *   WINDOW     LOAD/STORE: a byte it would access lies outside the window
 * Empty loops touch nothing and are not range-checked (a LOAD of only padding rows still checks
 * its buffer rows; window checks apply only when data rows exist). *why (may be NULL) gets a
 * short static text naming the field or range. The decoded instruction is in *insn whenever
 * the opcode is known. */
qmac_fault qmac_insn_check(const uint32_t w[QMAC_INSN_WORDS], const qmac_hw_config *cfg,
                           const qmac_window *win, qmac_insn *insn, const char **why);

/* A contiguous range of buffer rows (space = qmac_buf) or memory bytes (space = QMAC_SPACE_MEM),
 * half open [lo, end). */
#define QMAC_SPACE_MEM 4u
typedef struct {
    uint32_t space;
    bool write; /* written (and possibly read); false: only read */
    uint64_t lo, end;
} qmac_range;

/* What a checked instruction touches, as bounding ranges: the dispatcher's hazard check uses
 * these, and lock-step co-simulation compares the written ones after the instruction retires. */
typedef struct {
    uint32_t n;
    qmac_range r[4];
} qmac_footprint;

void qmac_insn_footprint(const qmac_insn *insn, const qmac_hw_config *cfg, qmac_footprint *fp);

/* LOAD/STORE geometry: rows written to / read from the buffer (padding included) and rows that
 * carry memory data; for LOAD, total = z * (pad_y0 + y + pad_y1) * (pad_x0 + x + pad_x1). */
uint64_t qmac_dma_total_rows(const qmac_insn *insn);
uint64_t qmac_dma_data_rows(const qmac_insn *insn);

#ifdef __cplusplus
}
#endif
#endif /* QMAC_ISA_H */
