/* ports_qmac_array.h - port table of the qmac_array top for the qsim shim (an X-macro).
 *
 * The Makefile verilates hw/rtl/qmac_array.sv with -GRows=R -GCols=C and compiles the shim with
 * -DQSIM_PORTS_H='"ports_qmac_array.h"' -DQSIM_ROWS=R -DQSIM_COLS=C, so the widths below and the
 * Verilated model come from the same two numbers; the shim checks each width against the storage
 * type Verilator chose for the port at compile time. Widths mirror the port list of
 * hw/rtl/qmac_array.sv (DATA_W = 8, ACC_W = 32 from qmac_pkg). */
#ifndef QSIM_PORTS_QMAC_ARRAY_H
#define QSIM_PORTS_QMAC_ARRAY_H

#if !defined(QSIM_ROWS) || !defined(QSIM_COLS)
#error "ports_qmac_array.h needs -DQSIM_ROWS and -DQSIM_COLS (the -GRows/-GCols of the build)"
#endif

#define QSIM_TOP Vtop
#define QSIM_TOP_HEADER "Vtop.h"
#define QSIM_TOP_NAME "qmac_array"
/* the port the shim toggles in qsim_tick() */
#define QSIM_CLOCK clk_i

/* ceil(log2(x)) for 1 <= x <= 1024, as a constant expression */
#define QSIM_CLOG2(x)                                                                                        \
    ((x) <= 1      ? 0                                                                                       \
     : (x) <= 2    ? 1                                                                                       \
     : (x) <= 4    ? 2                                                                                       \
     : (x) <= 8    ? 3                                                                                       \
     : (x) <= 16   ? 4                                                                                       \
     : (x) <= 32   ? 5                                                                                       \
     : (x) <= 64   ? 6                                                                                       \
     : (x) <= 128  ? 7                                                                                       \
     : (x) <= 256  ? 8                                                                                       \
     : (x) <= 512  ? 9                                                                                       \
     : (x) <= 1024 ? 10                                                                                      \
                   : 16)
/* RowIdxW of qmac_array */
#define QSIM_ROW_IDX_W ((QSIM_ROWS) > 1 ? QSIM_CLOG2(QSIM_ROWS) : 1)

/* X(name, width in bits, QSIM_IN or QSIM_OUT), in the order of the RTL port list */
#define QSIM_PORTS(X)                                                                                        \
    X(clk_i, 1, QSIM_IN)                                                                                     \
    X(rst_ni, 1, QSIM_IN)                                                                                    \
    X(act_valid_i, 1, QSIM_IN)                                                                               \
    X(act_swap_i, 1, QSIM_IN)                                                                                \
    X(act_bin_i, 1, QSIM_IN)                                                                                 \
    X(act_signed_i, 1, QSIM_IN)                                                                              \
    X(act_zp_i, 8, QSIM_IN)                                                                                  \
    X(act_acc_i, 1, QSIM_IN)                                                                                 \
    X(act_i, 8 * (QSIM_ROWS), QSIM_IN)                                                                       \
    X(wgt_valid_i, 1, QSIM_IN)                                                                               \
    X(wgt_row_i, QSIM_ROW_IDX_W, QSIM_IN)                                                                    \
    X(wgt_signed_i, 1, QSIM_IN)                                                                              \
    X(wgt_i, 8 * (QSIM_COLS), QSIM_IN)                                                                       \
    X(wgt_zp_i, 8 * (QSIM_COLS), QSIM_IN)                                                                    \
    X(acc_i, 32 * (QSIM_COLS), QSIM_IN)                                                                      \
    X(out_valid_o, 1, QSIM_OUT)                                                                              \
    X(out_o, 32 * (QSIM_COLS), QSIM_OUT)

#endif
