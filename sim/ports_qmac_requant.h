/* ports_qmac_requant.h - port table of the qmac_requant top for the qsim shim (an X-macro).
 *
 * The Makefile verilates hw/rtl/qmac_requant.sv with -GLanes=L and compiles the shim with
 * -DQSIM_PORTS_H='"ports_qmac_requant.h"' -DQSIM_LANES=L, so the widths below and the Verilated
 * model come from the same number; the shim checks each width against the storage type Verilator
 * chose for the port at compile time. Widths mirror the port list of hw/rtl/qmac_requant.sv
 * (DATA_W = 8, ACC_W = 32, RULE_BITS = OMODE_BITS = 2 from qmac_pkg). */
#ifndef QSIM_PORTS_QMAC_REQUANT_H
#define QSIM_PORTS_QMAC_REQUANT_H

#if !defined(QSIM_LANES)
#error "ports_qmac_requant.h needs -DQSIM_LANES (the -GLanes of the build)"
#endif

#define QSIM_TOP Vtop
#define QSIM_TOP_HEADER "Vtop.h"
#define QSIM_TOP_NAME "qmac_requant"
/* the port the shim toggles in qsim_tick() */
#define QSIM_CLOCK clk_i

/* X(name, width in bits, QSIM_IN or QSIM_OUT), in the order of the RTL port list */
#define QSIM_PORTS(X)                                                                                        \
    X(clk_i, 1, QSIM_IN)                                                                                     \
    X(rst_ni, 1, QSIM_IN)                                                                                    \
    X(valid_i, 1, QSIM_IN)                                                                                   \
    X(rule_i, 2, QSIM_IN)                                                                                    \
    X(omode_i, 2, QSIM_IN)                                                                                   \
    X(out_zp_i, 8, QSIM_IN)                                                                                  \
    X(clamp_min_i, 8, QSIM_IN)                                                                               \
    X(clamp_max_i, 8, QSIM_IN)                                                                               \
    X(acc_i, 32 * (QSIM_LANES), QSIM_IN)                                                                     \
    X(bias_i, 32 * (QSIM_LANES), QSIM_IN)                                                                    \
    X(mult_i, 32 * (QSIM_LANES), QSIM_IN)                                                                    \
    X(shift_i, 8 * (QSIM_LANES), QSIM_IN)                                                                    \
    X(valid_o, 1, QSIM_OUT)                                                                                  \
    X(q_o, 8 * (QSIM_LANES), QSIM_OUT)

#endif
