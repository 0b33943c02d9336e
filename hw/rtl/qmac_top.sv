// qmac_top: the qmac accelerator: AXI4-Lite control registers, AXI4 master, the core.
//
// The shell: qmac_csr (registers, run control, counters) and qmac_core (fetch, dispatch, load,
// store and compute units, buffers). The AXI4 master's data bus is 8 * ArrayDim bits (one row of
// N bytes per beat), 32-bit addresses, INCR bursts of full beats; reads use ARID 0 (instruction
// fetch) and 1 (LOAD), writes AWID 0. The trace port (simulation and debug) shows retirements
// (who, and the instruction index) and every buffer write port with its row, data and bit mask.
// Architecture: docs/isa.md (what), docs/microarch.md (when, cycle by cycle).
module qmac_top #(
  parameter int unsigned ArrayDim = qmac_pkg::CFG_ARRAY_DIM,
  parameter int unsigned InpRows = qmac_pkg::CFG_INP_ROWS,
  parameter int unsigned WgtRows = qmac_pkg::CFG_WGT_ROWS,
  parameter int unsigned AccRows = qmac_pkg::CFG_ACC_ROWS,
  parameter int unsigned OutRows = qmac_pkg::CFG_OUT_ROWS
) (
  input  logic                     clk_i,
  input  logic                     rst_ni,
  // AXI4-Lite slave, CSRs (8-bit byte address, 32-bit data)
  input  logic                     s_awvalid_i,
  output logic                     s_awready_o,
  input  logic [7:0]               s_awaddr_i,
  input  logic                     s_wvalid_i,
  output logic                     s_wready_o,
  input  logic [31:0]              s_wdata_i,
  input  logic [3:0]               s_wstrb_i,
  output logic                     s_bvalid_o,
  input  logic                     s_bready_i,
  output logic [1:0]               s_bresp_o,
  input  logic                     s_arvalid_i,
  output logic                     s_arready_o,
  input  logic [7:0]               s_araddr_i,
  output logic                     s_rvalid_o,
  input  logic                     s_rready_i,
  output logic [31:0]              s_rdata_o,
  output logic [1:0]               s_rresp_o,
  // AXI4 master, data width 8*ArrayDim, 32-bit addresses, INCR bursts only
  output logic                     m_arvalid_o,
  input  logic                     m_arready_i,
  output logic [31:0]              m_araddr_o,
  output logic [7:0]               m_arlen_o,
  output logic [2:0]               m_arsize_o,
  output logic [1:0]               m_arburst_o,
  output logic [1:0]               m_arid_o,
  input  logic                     m_rvalid_i,
  output logic                     m_rready_o,
  input  logic [8*ArrayDim-1:0]    m_rdata_i,
  input  logic [1:0]               m_rresp_i,
  input  logic                     m_rlast_i,
  input  logic [1:0]               m_rid_i,
  output logic                     m_awvalid_o,
  input  logic                     m_awready_i,
  output logic [31:0]              m_awaddr_o,
  output logic [7:0]               m_awlen_o,
  output logic [2:0]               m_awsize_o,
  output logic [1:0]               m_awburst_o,
  output logic [1:0]               m_awid_o,
  output logic                     m_wvalid_o,
  input  logic                     m_wready_i,
  output logic [8*ArrayDim-1:0]    m_wdata_o,
  output logic [ArrayDim-1:0]      m_wstrb_o,
  output logic                     m_wlast_o,
  input  logic                     m_bvalid_i,
  output logic                     m_bready_o,
  input  logic [1:0]               m_bresp_i,
  input  logic [1:0]               m_bid_i,
  output logic                     irq_o,    // level: STATUS.done | STATUS.fault
  // trace port (simulation/debug; leave unconnected in a product): retirements and buffer writes
  output logic [3:0]               trace_retire_o,    // bit 0 dispatcher (NOP/FENCE/END), 1 load, 2 store, 3 compute
  output logic [127:0]             trace_retire_pc_o, // [u*32 +: 32] = index of the instruction retired by source u
                                                      // (compute, bit 31: so does the next unretired compute one)
  output logic [3:0]               trace_we_o,        // per buffer INP=0 WGT=1 ACC=2 OUT=3: its write port fires
  output logic [63:0]              trace_wrow_o,      // [b*16 +: 16] row written
  output logic [4*32*ArrayDim-1:0] trace_wdata_o,     // [b*32N +: 32N]: write data (8-bit buffers: low 8N bits)
  output logic [4*32*ArrayDim-1:0] trace_wmask_o      // bit mask, same layout
);

  localparam logic [1:0] AXI_BURST_INCR = 2'b01;

  logic        start, run, core_end, core_fault, vector, load_busy, store_busy, stall;
  logic [31:0] prog_addr, win_lo, win_hi, fault_pc;
  logic [2:0]  fault_code, retired;

  qmac_csr #(
    .ArrayDim(ArrayDim),
    .InpRows (InpRows),
    .WgtRows (WgtRows),
    .AccRows (AccRows),
    .OutRows (OutRows)
  ) u_csr (
    .clk_i       (clk_i),
    .rst_ni      (rst_ni),
    .s_awvalid_i (s_awvalid_i),
    .s_awready_o (s_awready_o),
    .s_awaddr_i  (s_awaddr_i),
    .s_wvalid_i  (s_wvalid_i),
    .s_wready_o  (s_wready_o),
    .s_wdata_i   (s_wdata_i),
    .s_wstrb_i   (s_wstrb_i),
    .s_bvalid_o  (s_bvalid_o),
    .s_bready_i  (s_bready_i),
    .s_bresp_o   (s_bresp_o),
    .s_arvalid_i (s_arvalid_i),
    .s_arready_o (s_arready_o),
    .s_araddr_i  (s_araddr_i),
    .s_rvalid_o  (s_rvalid_o),
    .s_rready_i  (s_rready_i),
    .s_rdata_o   (s_rdata_o),
    .s_rresp_o   (s_rresp_o),
    .start_o     (start),
    .run_o       (run),
    .prog_addr_o (prog_addr),
    .win_lo_o    (win_lo),
    .win_hi_o    (win_hi),
    .end_i       (core_end),
    .fault_i     (core_fault),
    .fault_code_i(fault_code),
    .fault_pc_i  (fault_pc),
    .retired_i   (retired),
    .vector_i    (vector),
    .load_busy_i (load_busy),
    .store_busy_i(store_busy),
    .stall_i     (stall),
    .irq_o       (irq_o)
  );

  qmac_core #(
    .ArrayDim(ArrayDim),
    .InpRows (InpRows),
    .WgtRows (WgtRows),
    .AccRows (AccRows),
    .OutRows (OutRows)
  ) u_core (
    .clk_i            (clk_i),
    .rst_ni           (rst_ni),
    .start_i          (start),
    .run_i            (run),
    .prog_addr_i      (prog_addr),
    .win_lo_i         (win_lo),
    .win_hi_i         (win_hi),
    .end_o            (core_end),
    .fault_o          (core_fault),
    .fault_code_o     (fault_code),
    .fault_pc_o       (fault_pc),
    .retired_o        (retired),
    .vector_o         (vector),
    .load_busy_o      (load_busy),
    .store_busy_o     (store_busy),
    .stall_o          (stall),
    .m_arvalid_o      (m_arvalid_o),
    .m_arready_i      (m_arready_i),
    .m_araddr_o       (m_araddr_o),
    .m_arlen_o        (m_arlen_o),
    .m_arid_o         (m_arid_o),
    .m_rvalid_i       (m_rvalid_i),
    .m_rready_o       (m_rready_o),
    .m_rdata_i        (m_rdata_i),
    .m_rresp_i        (m_rresp_i),
    .m_rid_i          (m_rid_i),
    .m_awvalid_o      (m_awvalid_o),
    .m_awready_i      (m_awready_i),
    .m_awaddr_o       (m_awaddr_o),
    .m_awlen_o        (m_awlen_o),
    .m_wvalid_o       (m_wvalid_o),
    .m_wready_i       (m_wready_i),
    .m_wdata_o        (m_wdata_o),
    .m_wlast_o        (m_wlast_o),
    .m_bvalid_i       (m_bvalid_i),
    .m_bresp_i        (m_bresp_i),
    .trace_retire_o   (trace_retire_o),
    .trace_retire_pc_o(trace_retire_pc_o),
    .trace_we_o       (trace_we_o),
    .trace_wrow_o     (trace_wrow_o),
    .trace_wdata_o    (trace_wdata_o),
    .trace_wmask_o    (trace_wmask_o)
  );

  assign m_arsize_o  = 3'($clog2(ArrayDim));
  assign m_arburst_o = AXI_BURST_INCR;
  assign m_awsize_o  = 3'($clog2(ArrayDim));
  assign m_awburst_o = AXI_BURST_INCR;
  assign m_awid_o    = 2'd0;
  assign m_wstrb_o   = '1;
  assign m_bready_o  = 1'b1;

  // RLAST and BID carry nothing the master needs: beats are counted, one write ID is used
  logic unused;
  assign unused = ^{m_rlast_i, m_bid_i};

  // ---------------------------------------------------------------------------------------------
  // Assertions (elaboration): the configurations qmac_hw_config_check() accepts
  // ---------------------------------------------------------------------------------------------
  if (ArrayDim < 4 || ArrayDim > 32 || (ArrayDim & (ArrayDim - 1)) != 0) begin : g_bad_dim
    $error("qmac_top: ArrayDim must be a power of two in [4, 32]");
  end
  if (InpRows < 2 || InpRows > 65536 || (InpRows & (InpRows - 1)) != 0) begin : g_bad_inp
    $error("qmac_top: InpRows must be a power of two in [2, 65536]");
  end
  if (WgtRows < ArrayDim || WgtRows > 65536 || (WgtRows & (WgtRows - 1)) != 0) begin : g_bad_wgt
    $error("qmac_top: WgtRows must be a power of two in [ArrayDim, 65536]");
  end
  if (AccRows < 4 || AccRows > 65536 || (AccRows & (AccRows - 1)) != 0) begin : g_bad_acc
    $error("qmac_top: AccRows must be a power of two in [4, 65536]");
  end
  if (OutRows < 2 || OutRows > 65536 || (OutRows & (OutRows - 1)) != 0) begin : g_bad_out
    $error("qmac_top: OutRows must be a power of two in [2, 65536]");
  end

endmodule
