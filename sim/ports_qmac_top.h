/* ports_qmac_top.h - port table of the qmac_top top (the whole accelerator) for the qsim shim.
 *
 * The Makefile verilates hw/rtl/qmac_top.sv with -GArrayDim=N (and, for N = 4, the small build's
 * 256-row buffers) and compiles the shim with -DQSIM_PORTS_H='"ports_qmac_top.h"' -DQSIM_DIM=N, so
 * the widths below and the Verilated model come from the same number; the shim checks each width
 * against the storage type Verilator chose at compile time. Widths mirror the port list of
 * hw/rtl/qmac_top.sv. The harness reads N back from the width of m_rdata_i. */
#ifndef QSIM_PORTS_QMAC_TOP_H
#define QSIM_PORTS_QMAC_TOP_H

#if !defined(QSIM_DIM)
#error "ports_qmac_top.h needs -DQSIM_DIM (the -GArrayDim of the build)"
#endif

#define QSIM_TOP Vtop
#define QSIM_TOP_HEADER "Vtop.h"
#define QSIM_TOP_NAME "qmac_top"
/* the port the shim toggles in qsim_tick() */
#define QSIM_CLOCK clk_i

/* X(name, width in bits, QSIM_IN or QSIM_OUT), in the order of the RTL port list */
#define QSIM_PORTS(X)                                                                                        \
    X(clk_i, 1, QSIM_IN)                                                                                     \
    X(rst_ni, 1, QSIM_IN)                                                                                    \
    X(s_awvalid_i, 1, QSIM_IN)                                                                               \
    X(s_awready_o, 1, QSIM_OUT)                                                                              \
    X(s_awaddr_i, 8, QSIM_IN)                                                                                \
    X(s_wvalid_i, 1, QSIM_IN)                                                                                \
    X(s_wready_o, 1, QSIM_OUT)                                                                               \
    X(s_wdata_i, 32, QSIM_IN)                                                                                \
    X(s_wstrb_i, 4, QSIM_IN)                                                                                 \
    X(s_bvalid_o, 1, QSIM_OUT)                                                                               \
    X(s_bready_i, 1, QSIM_IN)                                                                                \
    X(s_bresp_o, 2, QSIM_OUT)                                                                                \
    X(s_arvalid_i, 1, QSIM_IN)                                                                               \
    X(s_arready_o, 1, QSIM_OUT)                                                                              \
    X(s_araddr_i, 8, QSIM_IN)                                                                                \
    X(s_rvalid_o, 1, QSIM_OUT)                                                                               \
    X(s_rready_i, 1, QSIM_IN)                                                                                \
    X(s_rdata_o, 32, QSIM_OUT)                                                                               \
    X(s_rresp_o, 2, QSIM_OUT)                                                                                \
    X(m_arvalid_o, 1, QSIM_OUT)                                                                              \
    X(m_arready_i, 1, QSIM_IN)                                                                               \
    X(m_araddr_o, 32, QSIM_OUT)                                                                              \
    X(m_arlen_o, 8, QSIM_OUT)                                                                                \
    X(m_arsize_o, 3, QSIM_OUT)                                                                               \
    X(m_arburst_o, 2, QSIM_OUT)                                                                              \
    X(m_arid_o, 2, QSIM_OUT)                                                                                 \
    X(m_rvalid_i, 1, QSIM_IN)                                                                                \
    X(m_rready_o, 1, QSIM_OUT)                                                                               \
    X(m_rdata_i, 8 * (QSIM_DIM), QSIM_IN)                                                                    \
    X(m_rresp_i, 2, QSIM_IN)                                                                                 \
    X(m_rlast_i, 1, QSIM_IN)                                                                                 \
    X(m_rid_i, 2, QSIM_IN)                                                                                   \
    X(m_awvalid_o, 1, QSIM_OUT)                                                                              \
    X(m_awready_i, 1, QSIM_IN)                                                                               \
    X(m_awaddr_o, 32, QSIM_OUT)                                                                              \
    X(m_awlen_o, 8, QSIM_OUT)                                                                                \
    X(m_awsize_o, 3, QSIM_OUT)                                                                               \
    X(m_awburst_o, 2, QSIM_OUT)                                                                              \
    X(m_awid_o, 2, QSIM_OUT)                                                                                 \
    X(m_wvalid_o, 1, QSIM_OUT)                                                                               \
    X(m_wready_i, 1, QSIM_IN)                                                                                \
    X(m_wdata_o, 8 * (QSIM_DIM), QSIM_OUT)                                                                   \
    X(m_wstrb_o, (QSIM_DIM), QSIM_OUT)                                                                       \
    X(m_wlast_o, 1, QSIM_OUT)                                                                                \
    X(m_bvalid_i, 1, QSIM_IN)                                                                                \
    X(m_bready_o, 1, QSIM_OUT)                                                                               \
    X(m_bresp_i, 2, QSIM_IN)                                                                                 \
    X(m_bid_i, 2, QSIM_IN)                                                                                   \
    X(irq_o, 1, QSIM_OUT)                                                                                    \
    X(trace_retire_o, 4, QSIM_OUT)                                                                           \
    X(trace_retire_pc_o, 128, QSIM_OUT)                                                                      \
    X(trace_we_o, 4, QSIM_OUT)                                                                               \
    X(trace_wrow_o, 64, QSIM_OUT)                                                                            \
    X(trace_wdata_o, 4 * 32 * (QSIM_DIM), QSIM_OUT)                                                          \
    X(trace_wmask_o, 4 * 32 * (QSIM_DIM), QSIM_OUT)

#endif
