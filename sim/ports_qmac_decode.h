/* ports_qmac_decode.h - port table of the qmac_decode top for the qsim shim (an X-macro).
 *
 * The Makefile verilates hw/rtl/qmac_decode.sv with -GArrayDim=N and the four buffer depths and
 * compiles the shim with -DQSIM_PORTS_H='"ports_qmac_decode.h"' -DQSIM_DIM=N. No port width
 * depends on the configuration (the harness is told it with --config and checks it). Widths
 * mirror the port list of hw/rtl/qmac_decode.sv.
 *
 * qmac_decode is combinational and has no clock. The shim needs a 1-bit member to toggle in
 * qsim_tick(): QSIM_CLOCK names the 1-bit output ok_o, which eval() overwrites; decode_main only
 * pokes, evaluates and peeks, it never ticks. */
#ifndef QSIM_PORTS_QMAC_DECODE_H
#define QSIM_PORTS_QMAC_DECODE_H

#if !defined(QSIM_DIM)
#error "ports_qmac_decode.h needs -DQSIM_DIM (the -GArrayDim of the build)"
#endif

#define QSIM_TOP Vtop
#define QSIM_TOP_HEADER "Vtop.h"
#define QSIM_TOP_NAME "qmac_decode"
#define QSIM_CLOCK ok_o

/* X(name, width in bits, QSIM_IN or QSIM_OUT), in the order of the RTL port list */
#define QSIM_PORTS(X)                                                                                        \
    X(insn_i, 256, QSIM_IN)                                                                                  \
    X(win_lo_i, 32, QSIM_IN)                                                                                 \
    X(win_hi_i, 32, QSIM_IN)                                                                                 \
    X(op_o, 8, QSIM_OUT)                                                                                     \
    X(fault_o, 3, QSIM_OUT)                                                                                  \
    X(ok_o, 1, QSIM_OUT)                                                                                     \
    X(unit_o, 2, QSIM_OUT)                                                                                   \
    X(rng_valid_o, 4, QSIM_OUT)                                                                              \
    X(rng_space_o, 12, QSIM_OUT)                                                                             \
    X(rng_write_o, 4, QSIM_OUT)                                                                              \
    X(rng_lo_o, 256, QSIM_OUT)                                                                               \
    X(rng_end_o, 256, QSIM_OUT)                                                                              \
    X(ports_o, 8, QSIM_OUT)                                                                                  \
    X(loop_len_o, 32, QSIM_OUT)                                                                              \
    X(dma_rows_o, 64, QSIM_OUT)

#endif
