/* gemm_prog.h - the accelerator program of one quantized matrix product, C = requant(A x B), shared
 * by the cycle model's tests and the RTL bench (both run the same instructions).
 *
 * Layouts (row-major, 8-bit elements, all addresses and strides multiples of N = the array dim):
 *   A [m x k]  A[i][j] at a_addr + i * a_stride + j    (activations, act_signed, zero point act_zp)
 *   B [k x n]  B[j][c] at b_addr + j * b_stride + c    (weights, wgt_signed, zero point per column)
 *   C [m x n]  C[i][c] at c_addr + i * c_stride + c    (omode S8 or U8)
 *   C[i][c] = rq_lane(sum_j (A[i][j] - act_zp) * (B[j][c] - wgt_zp[c]), bias[c], mult[c], shift[c])
 * with the CONFIG rule and clamp (docs/isa.md POST). The per-column parameters live in memory as
 * the table written by qmac_gemm_prog_pack_params(): for every n-tile t (columns tN .. tN+N-1)
 * three ACC rows (bias, multiplier, shift | wgt_zp << 8), i.e. 3 * (n / N) rows of 4N bytes.
 *
 * Schedule: CONFIG, the LOADs of the first step and of the parameter table (before any GEMM: its
 * W(ACC) port would wait for every GEMM to retire); then per m-block (up to m_tile rows of A),
 * n-tile outer and k-tile inner, one GEMM per (n, k) streaming the block's rows through the weight
 * tile (accum for k > 0, post on the last k into OUT), a STORE of each finished [rows x N] OUT
 * block one GEMM later (so the dispatcher is not held long by its hazard on the GEMM that writes
 * it), a PARAM per n-tile before its last GEMM, and the very last GEMM and STORE split in
 * tail_chunks row chunks (a shorter tail). LOADs of A blocks and B tiles of later steps are placed
 * before a GEMM up to `lookahead` instructions (more would hold the GEMM in the in-order
 * dispatcher behind a full load queue), into buffer slots (A blocks stay resident while all k-blocks of an
 * m-block fit INP, with as many m-blocks' sets as fit; B while all of
 * it fits WGT, loaded one n-tile column of k tiles per LOAD; otherwise rings of
 * slots), OUT blocks alternate between two slots, so the hazard interlocks let loads and stores overlap with
 * the array. A load is never placed before a GEMM that still reads its slot's previous contents:
 * the program means what in-order execution computes. Ends with END. */
#ifndef QMAC_GEMM_PROG_H
#define QMAC_GEMM_PROG_H

#include <stddef.h>
#include <stdint.h>

#include "qmac/isa.h"
#include "qmac/prog.h"
#include "qmac/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    uint32_t m, k, n;          /* multiples of N in [N, 65535 * N]; n / N * 3 ACC rows must fit */
    uint32_t a_addr, a_stride; /* a_stride >= k */
    uint32_t b_addr, b_stride; /* b_stride >= n */
    uint32_t c_addr, c_stride; /* c_stride >= n */
    uint32_t param_addr;       /* the parameter table (qmac_gemm_prog_param_bytes() bytes) */
    uint32_t act_signed;       /* 0: A is uint8, 1: int8 */
    uint32_t wgt_signed;       /* 0: B is uint8, 1: int8 */
    uint32_t act_zp;           /* [0, 255]: the zero point's byte (read as act_signed) */
    uint32_t rule;             /* QMAC_RULE_TFLITE, QMAC_RULE_SINGLE or QMAC_RULE_FLOAT */
    uint32_t omode;            /* QMAC_OMODE_S8 or QMAC_OMODE_U8 */
    uint32_t out_zp;           /* [0, 255] bytes, read as omode; clamp_min <= clamp_max as omode */
    uint32_t clamp_min, clamp_max;
    uint32_t lookahead;   /* most LOADs of later steps placed before a GEMM; 0: LoadQueue (2) */
    uint32_t m_tile;      /* most rows of A per m-block (multiple of N); 0: the largest that fits */
    uint32_t tail_chunks; /* the last GEMM and STORE split in this many row chunks; 0: 4 */
} qmac_gemm_prog_desc;

/* What qmac_gemm_prog_build chose (for reports). */
typedef struct {
    uint32_t m_tile, m_blocks;     /* rows per m-block, m-blocks */
    uint32_t inp_slots, wgt_slots; /* A-block slots in INP, weight-tile slots in WGT */
    int a_resident, b_resident;    /* A blocks loaded once per m-block, B tiles once per run */
    size_t n_insn;                 /* instructions, END included */
    uint64_t vectors;              /* sum of GEMM L: the ARRAY_BUSY of the run */
} qmac_gemm_prog_info;

/* Bytes of the parameter table for n columns: (n / N) * 3 * 4N. */
size_t qmac_gemm_prog_param_bytes(const qmac_hw_config *cfg, uint32_t n);

/* Write the table for n columns (multiple of N) into table (qmac_gemm_prog_param_bytes bytes):
 * bias, mult (Q31 multiplier, or float32 bits for rule FLOAT), shift and wgt_zp are [n] arrays;
 * wgt_zp may be NULL (all zero). */
void qmac_gemm_prog_pack_params(const qmac_hw_config *cfg, uint32_t n, const int32_t *bias,
                                const uint32_t *mult, const int8_t *shift, const uint8_t *wgt_zp,
                                uint8_t *table);

/* Append the program to p (normally empty; initialized by the caller). info may be NULL. Uses two
 * temporary arrays of one word per INP / WGT slot, freed before it returns.
 * Errors: QMAC_ERR_INVALID_ARG (a size, address or stride not a multiple of N, sizes out of range,
 * addresses beyond 2^32, the parameter rows or two m-block slots not fitting the buffers, a bad
 * enum or clamp), QMAC_ERR_NOMEM. */
qmac_status qmac_gemm_prog_build(const qmac_hw_config *cfg, const qmac_gemm_prog_desc *d, qmac_prog *p,
                                 qmac_gemm_prog_info *info);

#ifdef __cplusplus
}
#endif
#endif /* QMAC_GEMM_PROG_H */
