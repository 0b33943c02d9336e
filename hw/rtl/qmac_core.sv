// qmac_core: fetch, decode/dispatch, the load, store and compute units and the four buffers.
//
//   AXI R --> qmac_fetch (FIFO) --> qmac_dispatch (qmac_decode, 3 unit queues, hazards)
//                                     |-- load queue    --> qmac_load    --> buffer write ports
//                                     |-- store queue   --> qmac_store   <-- buffer read ports --> AXI AW/W/B
//                                     '-- compute queue --> qmac_compute (array, requant, VALU)
//   AXI AR <-- qmac_axi_rd_arb (fetch, load)
// Buffers: INP, WGT, OUT (rows of 8N bits) and ACC (rows of 32N bits, two copies written together
// so that VALU can read A and B in one cycle); write enables per row (INP, WGT), per N-byte beat
// (ACC: a LOAD beat) and per N-bit group (OUT: a BIN post). Every port has one user at a time: the units of
// one unit type run in order, and the dispatcher never lets two units share a port (port hazard),
// so the requests are simply ORed. The run ends (end_o) in the first cycle in which END has
// retired or a fault became pending in an earlier cycle (the dispatcher's halting flag), every unit
// queue is empty and no instruction fetch is in flight (requested and not complete, or on AR).
module qmac_core #(
  parameter int unsigned ArrayDim = qmac_pkg::CFG_ARRAY_DIM,
  parameter int unsigned InpRows = qmac_pkg::CFG_INP_ROWS,
  parameter int unsigned WgtRows = qmac_pkg::CFG_WGT_ROWS,
  parameter int unsigned AccRows = qmac_pkg::CFG_ACC_ROWS,
  parameter int unsigned OutRows = qmac_pkg::CFG_OUT_ROWS
) (
  input  logic                      clk_i,
  input  logic                      rst_ni,
  // run control (qmac_csr)
  input  logic                      start_i,
  input  logic                      run_i,
  input  logic [31:0]               prog_addr_i,
  input  logic [31:0]               win_lo_i,
  input  logic [31:0]               win_hi_i,
  output logic                      end_o,
  output logic                      fault_o,
  output logic [2:0]                fault_code_o,
  output logic [31:0]               fault_pc_o,
  output logic [2:0]                retired_o,
  output logic                      vector_o,
  output logic                      load_busy_o,
  output logic                      store_busy_o,
  output logic                      stall_o,
  // AXI4 master
  output logic                      m_arvalid_o,
  input  logic                      m_arready_i,
  output logic [31:0]               m_araddr_o,
  output logic [7:0]                m_arlen_o,
  output logic [1:0]                m_arid_o,
  input  logic                      m_rvalid_i,
  output logic                      m_rready_o,
  input  logic [8*ArrayDim-1:0]     m_rdata_i,
  input  logic [1:0]                m_rresp_i,
  input  logic [1:0]                m_rid_i,
  output logic                      m_awvalid_o,
  input  logic                      m_awready_i,
  output logic [31:0]               m_awaddr_o,
  output logic [7:0]                m_awlen_o,
  output logic                      m_wvalid_o,
  input  logic                      m_wready_i,
  output logic [8*ArrayDim-1:0]     m_wdata_o,
  output logic                      m_wlast_o,
  input  logic                      m_bvalid_i,
  input  logic [1:0]                m_bresp_i,
  // trace
  output logic [3:0]                trace_retire_o,
  output logic [127:0]              trace_retire_pc_o,
  output logic [3:0]                trace_we_o,
  output logic [63:0]               trace_wrow_o,
  output logic [4*32*ArrayDim-1:0]  trace_wdata_o,
  output logic [4*32*ArrayDim-1:0]  trace_wmask_o
);

  localparam int unsigned N = ArrayDim;
  localparam int unsigned RowW = 8 * N;
  localparam int unsigned AccW = 32 * N;
  localparam int unsigned InpAw = $clog2(InpRows);
  localparam int unsigned WgtAw = $clog2(WgtRows);
  localparam int unsigned AccAw = $clog2(AccRows);
  localparam int unsigned OutAw = $clog2(OutRows);
  localparam logic [1:0] BUF_INP = qmac_pkg::BUF_INP;
  localparam logic [1:0] BUF_WGT = qmac_pkg::BUF_WGT;
  localparam logic [1:0] BUF_ACC = qmac_pkg::BUF_ACC;
  localparam logic [1:0] BUF_OUT = qmac_pkg::BUF_OUT;

  // ---------------------------------------------------------------------------------------------
  // Fetch, AR arbitration, dispatch
  // ---------------------------------------------------------------------------------------------
  logic         halting, disp_end, disp_fault, queues_empty;
  logic         f_req, f_held, f_hs, f_rvalid, f_busy;
  logic [31:0]  f_addr;
  logic         head_valid, pop;
  logic [255:0] head_insn;
  logic [31:0]  head_pc;
  logic [2:0]   head_fault;
  logic         l_req, l_hs, l_rvalid, l_rready;
  logic [31:0]  l_addr;
  logic [7:0]   l_len;

  qmac_fetch #(
    .ArrayDim(N)
  ) u_fetch (
    .clk_i       (clk_i),
    .rst_ni      (rst_ni),
    .start_i     (start_i),
    .prog_addr_i (prog_addr_i),
    .win_lo_i    (win_lo_i),
    .win_hi_i    (win_hi_i),
    .halting_i   (halting || !run_i),
    .ar_req_o    (f_req),
    .ar_addr_o   (f_addr),
    .ar_held_i   (f_held),
    .ar_hs_i     (f_hs),
    .r_valid_i   (f_rvalid),
    .r_data_i    (m_rdata_i),
    .r_resp_i    (m_rresp_i),
    .head_valid_o(head_valid),
    .head_insn_o (head_insn),
    .head_pc_o   (head_pc),
    .head_fault_o(head_fault),
    .pop_i       (pop),
    .busy_o      (f_busy)
  );

  qmac_axi_rd_arb #(
    .ArrayDim(N)
  ) u_rd_arb (
    .clk_i      (clk_i),
    .rst_ni     (rst_ni),
    .clear_i    (start_i),
    .f_req_i    (f_req),
    .f_addr_i   (f_addr),
    .f_held_o   (f_held),
    .f_hs_o     (f_hs),
    .f_rvalid_o (f_rvalid),
    .l_req_i    (l_req),
    .l_addr_i   (l_addr),
    .l_len_i    (l_len),
    .l_hs_o     (l_hs),
    .l_rvalid_o (l_rvalid),
    .l_rready_i (l_rready),
    .m_arvalid_o(m_arvalid_o),
    .m_arready_i(m_arready_i),
    .m_araddr_o (m_araddr_o),
    .m_arlen_o  (m_arlen_o),
    .m_arid_o   (m_arid_o),
    .m_rvalid_i (m_rvalid_i),
    .m_rid_i    (m_rid_i),
    .m_rready_o (m_rready_o)
  );

  logic [5:0]       q_valid, q_retire;
  logic [6*256-1:0] q_insn;
  logic [6*32-1:0]  q_pc, q_len;
  logic [2:0]       q_old;
  logic             load_retire, load_bus, store_retire, store_bus;
  logic             disp_retire, disp_stall;
  logic [31:0]      disp_retire_pc;
  logic [1:0]       c_retire;

  qmac_dispatch #(
    .ArrayDim(N),
    .InpRows (InpRows),
    .WgtRows (WgtRows),
    .AccRows (AccRows),
    .OutRows (OutRows)
  ) u_dispatch (
    .clk_i         (clk_i),
    .rst_ni        (rst_ni),
    .start_i       (start_i),
    .run_i         (run_i),
    .win_lo_i      (win_lo_i),
    .win_hi_i      (win_hi_i),
    .head_valid_i  (head_valid),
    .head_insn_i   (head_insn),
    .head_pc_i     (head_pc),
    .head_fault_i  (head_fault),
    .pop_o         (pop),
    .q_valid_o     (q_valid),
    .q_insn_o      (q_insn),
    .q_pc_o        (q_pc),
    .q_len_o       (q_len),
    .q_old_o       (q_old),
    .q_retire_i    (q_retire),
    .load_bus_i    (load_bus),
    .store_bus_i   (store_bus),
    .halting_o     (halting),
    .end_o         (disp_end),
    .fault_o       (disp_fault),
    .fault_code_o  (fault_code_o),
    .fault_pc_o    (fault_pc_o),
    .queues_empty_o(queues_empty),
    .retire_o      (disp_retire),
    .retire_pc_o   (disp_retire_pc),
    .stall_o       (disp_stall)
  );

  // the load and store units execute the older of their two slots
  logic         l_head, s_head;  // slot index within the unit
  logic [255:0] l_insn, s_insn;

  always_comb begin
    l_head = (q_valid[0] && q_valid[1]) ? q_old[0] : !q_valid[0];
    s_head = (q_valid[2] && q_valid[3]) ? q_old[1] : !q_valid[2];
    l_insn = q_insn[(0 + 32'(l_head))*256+:256];
    s_insn = q_insn[(2 + 32'(s_head))*256+:256];
  end

  always_comb begin
    q_retire        = '0;
    q_retire[0 + 32'(l_head)] = load_retire;
    q_retire[2 + 32'(s_head)] = store_retire;
    q_retire[5:4]   = c_retire;
  end

  // ---------------------------------------------------------------------------------------------
  // Units
  // ---------------------------------------------------------------------------------------------
  logic                l_we;
  logic [1:0]          l_wbuf;
  logic [15:0]         l_wrow;
  logic [AccW-1:0]     l_wdata, l_wmask;
  logic                s_re;
  logic [1:0]          s_rbuf;
  logic [15:0]         s_rrow;
  logic [RowW-1:0]     inp_rdata, wgt_rdata, out_rdata;
  logic [AccW-1:0]     acc_rdata_a, acc_rdata_b;

  qmac_load #(
    .ArrayDim(N),
    .MaxBurst(qmac_pkg::CFG_MAX_BURST)
  ) u_load (
    .clk_i       (clk_i),
    .rst_ni      (rst_ni),
    .head_valid_i(q_valid[0] || q_valid[1]),
    .head_insn_i (l_insn),
    .retire_o    (load_retire),
    .bus_err_o   (load_bus),
    .ar_req_o    (l_req),
    .ar_addr_o   (l_addr),
    .ar_len_o    (l_len),
    .ar_hs_i     (l_hs),
    .r_valid_i   (l_rvalid),
    .r_data_i    (m_rdata_i),
    .r_resp_i    (m_rresp_i),
    .r_ready_o   (l_rready),
    .we_o        (l_we),
    .wbuf_o      (l_wbuf),
    .wrow_o      (l_wrow),
    .wdata_o     (l_wdata),
    .wmask_o     (l_wmask)
  );

  qmac_store #(
    .ArrayDim(N),
    .MaxBurst(qmac_pkg::CFG_MAX_BURST)
  ) u_store (
    .clk_i       (clk_i),
    .rst_ni      (rst_ni),
    .head_valid_i(q_valid[2] || q_valid[3]),
    .head_insn_i (s_insn),
    .retire_o    (store_retire),
    .bus_err_o   (store_bus),
    .re_o        (s_re),
    .rbuf_o      (s_rbuf),
    .rrow_o      (s_rrow),
    .inp_rdata_i (inp_rdata),
    .wgt_rdata_i (wgt_rdata),
    .acc_rdata_i (acc_rdata_a),
    .out_rdata_i (out_rdata),
    .aw_valid_o  (m_awvalid_o),
    .aw_ready_i  (m_awready_i),
    .aw_addr_o   (m_awaddr_o),
    .aw_len_o    (m_awlen_o),
    .w_valid_o   (m_wvalid_o),
    .w_ready_i   (m_wready_i),
    .w_data_o    (m_wdata_o),
    .w_last_o    (m_wlast_o),
    .b_valid_i   (m_bvalid_i),
    .b_resp_i    (m_bresp_i)
  );

  logic            c_inp_re, c_wgt_re, c_acc_re_a, c_acc_re_b, c_out_re, c_acc_we, c_out_we;
  logic [15:0]     c_inp_raddr, c_wgt_raddr, c_acc_raddr_a, c_acc_raddr_b, c_out_raddr;
  logic [15:0]     c_acc_waddr, c_out_waddr;
  logic [AccW-1:0] c_acc_wdata;
  logic [RowW-1:0] c_out_wdata, c_out_wmask;

  qmac_compute #(
    .ArrayDim(N)
  ) u_compute (
    .clk_i        (clk_i),
    .rst_ni       (rst_ni),
    .start_i      (start_i),
    .q_valid_i    (q_valid[5:4]),
    .q_insn_i     (q_insn[4*256+:512]),
    .q_len_i      (q_len[4*32+:64]),
    .q_old_i      (q_old[2]),
    .retire_o     (c_retire),
    .inp_re_o     (c_inp_re),
    .inp_raddr_o  (c_inp_raddr),
    .inp_rdata_i  (inp_rdata),
    .wgt_re_o     (c_wgt_re),
    .wgt_raddr_o  (c_wgt_raddr),
    .wgt_rdata_i  (wgt_rdata),
    .acc_re_a_o   (c_acc_re_a),
    .acc_raddr_a_o(c_acc_raddr_a),
    .acc_rdata_a_i(acc_rdata_a),
    .acc_re_b_o   (c_acc_re_b),
    .acc_raddr_b_o(c_acc_raddr_b),
    .acc_rdata_b_i(acc_rdata_b),
    .out_re_o     (c_out_re),
    .out_raddr_o  (c_out_raddr),
    .out_rdata_i  (out_rdata),
    .acc_we_o     (c_acc_we),
    .acc_waddr_o  (c_acc_waddr),
    .acc_wdata_o  (c_acc_wdata),
    .out_we_o     (c_out_we),
    .out_waddr_o  (c_out_waddr),
    .out_wdata_o  (c_out_wdata),
    .out_wmask_o  (c_out_wmask),
    .vector_o     (vector_o)
  );

  // ---------------------------------------------------------------------------------------------
  // Buffer ports: each port's requests ORed (one user at a time)
  // ---------------------------------------------------------------------------------------------
  logic            inp_re, wgt_re, acc_re_a, out_re;
  logic [15:0]     inp_raddr, wgt_raddr, acc_raddr_a, out_raddr;
  logic [3:0]      we;
  logic [63:0]     wrow;
  logic [4*AccW-1:0] wdata, wmask;

  always_comb begin
    inp_re      = c_inp_re || (s_re && s_rbuf == BUF_INP);
    inp_raddr   = c_inp_re ? c_inp_raddr : s_rrow;
    wgt_re      = c_wgt_re || (s_re && s_rbuf == BUF_WGT);
    wgt_raddr   = c_wgt_re ? c_wgt_raddr : s_rrow;
    acc_re_a    = c_acc_re_a || (s_re && s_rbuf == BUF_ACC);
    acc_raddr_a = c_acc_re_a ? c_acc_raddr_a : s_rrow;
    out_re      = c_out_re || (s_re && s_rbuf == BUF_OUT);
    out_raddr   = c_out_re ? c_out_raddr : s_rrow;

    we    = '0;
    wrow  = '0;
    wdata = '0;
    wmask = '0;
    for (int unsigned b = 0; b < 4; b++) begin
      if (l_we && 32'(l_wbuf) == b) begin
        we[b]                = 1'b1;
        wrow[b*16+:16]       = l_wrow;
        wdata[b*AccW+:AccW]  = l_wdata;
        wmask[b*AccW+:AccW]  = l_wmask;
      end
    end
    if (c_acc_we) begin
      we[BUF_ACC]                = 1'b1;
      wrow[32'(BUF_ACC)*16+:16]  = c_acc_waddr;
      wdata[32'(BUF_ACC)*AccW+:AccW] = c_acc_wdata;
      wmask[32'(BUF_ACC)*AccW+:AccW] = {AccW{1'b1}};
    end
    if (c_out_we) begin
      we[BUF_OUT]                = 1'b1;
      wrow[32'(BUF_OUT)*16+:16]  = c_out_waddr;
      wdata[32'(BUF_OUT)*AccW+:AccW] = AccW'(c_out_wdata);
      wmask[32'(BUF_OUT)*AccW+:AccW] = AccW'(c_out_wmask);
    end
  end

  qmac_sram #(
    .Rows (InpRows),
    .Width(RowW),
    .LaneW(RowW)
  ) u_inp (
    .clk_i  (clk_i),
    .rst_ni (rst_ni),
    .re_i   (inp_re),
    .raddr_i(inp_raddr[InpAw-1:0]),
    .rdata_o(inp_rdata),
    .we_i   (we[BUF_INP]),
    .waddr_i(wrow[32'(BUF_INP)*16+:InpAw]),
    .wdata_i(wdata[32'(BUF_INP)*AccW+:RowW]),
    .wmask_i(wmask[32'(BUF_INP)*AccW+:RowW])
  );

  qmac_sram #(
    .Rows (WgtRows),
    .Width(RowW),
    .LaneW(RowW)
  ) u_wgt (
    .clk_i  (clk_i),
    .rst_ni (rst_ni),
    .re_i   (wgt_re),
    .raddr_i(wgt_raddr[WgtAw-1:0]),
    .rdata_o(wgt_rdata),
    .we_i   (we[BUF_WGT]),
    .waddr_i(wrow[32'(BUF_WGT)*16+:WgtAw]),
    .wdata_i(wdata[32'(BUF_WGT)*AccW+:RowW]),
    .wmask_i(wmask[32'(BUF_WGT)*AccW+:RowW])
  );

  qmac_sram #(
    .Rows (AccRows),
    .Width(AccW),
    .LaneW(RowW)
  ) u_acc_a (
    .clk_i  (clk_i),
    .rst_ni (rst_ni),
    .re_i   (acc_re_a),
    .raddr_i(acc_raddr_a[AccAw-1:0]),
    .rdata_o(acc_rdata_a),
    .we_i   (we[BUF_ACC]),
    .waddr_i(wrow[32'(BUF_ACC)*16+:AccAw]),
    .wdata_i(wdata[32'(BUF_ACC)*AccW+:AccW]),
    .wmask_i(wmask[32'(BUF_ACC)*AccW+:AccW])
  );

  qmac_sram #(
    .Rows (AccRows),
    .Width(AccW),
    .LaneW(RowW)
  ) u_acc_b (
    .clk_i  (clk_i),
    .rst_ni (rst_ni),
    .re_i   (c_acc_re_b),
    .raddr_i(c_acc_raddr_b[AccAw-1:0]),
    .rdata_o(acc_rdata_b),
    .we_i   (we[BUF_ACC]),
    .waddr_i(wrow[32'(BUF_ACC)*16+:AccAw]),
    .wdata_i(wdata[32'(BUF_ACC)*AccW+:AccW]),
    .wmask_i(wmask[32'(BUF_ACC)*AccW+:AccW])
  );

  qmac_sram #(
    .Rows (OutRows),
    .Width(RowW),
    .LaneW(N)
  ) u_out (
    .clk_i  (clk_i),
    .rst_ni (rst_ni),
    .re_i   (out_re),
    .raddr_i(out_raddr[OutAw-1:0]),
    .rdata_o(out_rdata),
    .we_i   (we[BUF_OUT]),
    .waddr_i(wrow[32'(BUF_OUT)*16+:OutAw]),
    .wdata_i(wdata[32'(BUF_OUT)*AccW+:RowW]),
    .wmask_i(wmask[32'(BUF_OUT)*AccW+:RowW])
  );

  // ---------------------------------------------------------------------------------------------
  // Run end, counters' events, trace
  // ---------------------------------------------------------------------------------------------
  always_comb begin
    // (1) END retired or a fault became pending in an earlier cycle: the halting flag
    end_o        = halting && queues_empty && !f_busy;
    fault_o      = disp_fault;
    retired_o    = 3'(disp_retire) + 3'(load_retire) + 3'(store_retire) + 3'(c_retire[0])
                 + 3'(c_retire[1]);
    load_busy_o  = q_valid[0] || q_valid[1];
    store_busy_o = q_valid[2] || q_valid[3];
    stall_o      = disp_stall;

    trace_retire_o    = {c_retire != '0, store_retire, load_retire, disp_retire};
    trace_retire_pc_o = '0;
    trace_retire_pc_o[0*32+:32] = disp_retire_pc;
    trace_retire_pc_o[1*32+:32] = q_pc[(0 + 32'(l_head))*32+:32];
    trace_retire_pc_o[2*32+:32] = q_pc[(2 + 32'(s_head))*32+:32];
    // both compute slots retiring in one cycle (a streaming GEMM can catch up with the post-GEMM
    // ahead of it): the older one's index with bit 31 set, meaning "and the other compute queue
    // entry", the next compute instruction in program order not retired yet (indices are below
    // 2^27: 32-byte instructions, 32-bit addresses)
    if (c_retire == 2'b11) begin
      trace_retire_pc_o[3*32+:32] = q_pc[(4 + 32'(q_old[2]))*32+:32] | 32'h8000_0000;
    end else begin
      trace_retire_pc_o[3*32+:32] = q_pc[(4 + 32'(c_retire[1]))*32+:32];
    end
    trace_we_o    = we;
    trace_wrow_o  = wrow;
    trace_wdata_o = wdata;
    trace_wmask_o = wmask;
  end

  logic unused;
  assign unused = ^{q_len[4*32-1:0], inp_raddr, wgt_raddr, acc_raddr_a, out_raddr, c_acc_raddr_b,
                    wrow, disp_end};

endmodule
