// qmac_csr: AXI4-Lite control/status registers, run control and counters (hw/spec/qmac_isa.json).
//
// AXI4-Lite, one transaction at a time: a write is accepted (AWREADY = WREADY = 1) in a cycle in
// which AWVALID and WVALID are both high and no response is pending; BVALID rises in the next
// cycle and stays until BREADY. A read is accepted (ARREADY) when no response is pending and no
// write is offered; RVALID rises in the next cycle with the registers of the handshake cycle.
// Responses are OKAY; unmapped offsets read 0 and ignore writes. RW registers honour WSTRB.
//
// Runs (docs/microarch.md, "Start and stop"): a write of CTRL with bit 0 set while not busy, in
// cycle h, samples PROG_ADDR, WIN_LO and WIN_HI, clears STATUS.done / fault, FAULT_CODE, FAULT_PC
// and the counters, and cycle 0 of the run is h + 1. The core reports in end_i the cycle C in
// which the run has ended: STATUS.busy is high in cycles 0 .. C-1 and every counter counts events
// of those cycles, so CYCLES = C; done or fault (with FAULT_CODE / FAULT_PC) are set from C + 1
// on (STATUS shows them already in cycle C).
module qmac_csr #(
  parameter int unsigned ArrayDim = qmac_pkg::CFG_ARRAY_DIM,
  parameter int unsigned InpRows = qmac_pkg::CFG_INP_ROWS,
  parameter int unsigned WgtRows = qmac_pkg::CFG_WGT_ROWS,
  parameter int unsigned AccRows = qmac_pkg::CFG_ACC_ROWS,
  parameter int unsigned OutRows = qmac_pkg::CFG_OUT_ROWS
) (
  input  logic        clk_i,
  input  logic        rst_ni,
  // AXI4-Lite slave
  input  logic        s_awvalid_i,
  output logic        s_awready_o,
  input  logic [7:0]  s_awaddr_i,
  input  logic        s_wvalid_i,
  output logic        s_wready_o,
  input  logic [31:0] s_wdata_i,
  input  logic [3:0]  s_wstrb_i,
  output logic        s_bvalid_o,
  input  logic        s_bready_i,
  output logic [1:0]  s_bresp_o,
  input  logic        s_arvalid_i,
  output logic        s_arready_o,
  input  logic [7:0]  s_araddr_i,
  output logic        s_rvalid_o,
  input  logic        s_rready_i,
  output logic [31:0] s_rdata_o,
  output logic [1:0]  s_rresp_o,
  // run control
  output logic        start_o,       // a run starts at the end of this cycle
  output logic        run_o,         // a run is under way (up to and including its end cycle)
  output logic [31:0] prog_addr_o,   // the run's PROG_ADDR, WIN_LO, WIN_HI
  output logic [31:0] win_lo_o,
  output logic [31:0] win_hi_o,
  input  logic        end_i,         // with run_o: the run has ended (cycle C)
  input  logic        fault_i,       // with end_i: it ended by a fault
  input  logic [2:0]  fault_code_i,
  input  logic [31:0] fault_pc_i,
  // events of this cycle
  input  logic [2:0]  retired_i,
  input  logic        vector_i,
  input  logic        load_busy_i,
  input  logic        store_busy_i,
  input  logic        stall_i,
  output logic        irq_o
);

  localparam logic [7:0] CSR_CTRL = qmac_pkg::CSR_CTRL;
  localparam logic [7:0] CSR_STATUS = qmac_pkg::CSR_STATUS;
  localparam logic [7:0] CSR_PROG_ADDR = qmac_pkg::CSR_PROG_ADDR;
  localparam logic [7:0] CSR_WIN_LO = qmac_pkg::CSR_WIN_LO;
  localparam logic [7:0] CSR_WIN_HI = qmac_pkg::CSR_WIN_HI;
  localparam logic [7:0] CSR_FAULT_CODE = qmac_pkg::CSR_FAULT_CODE;
  localparam logic [7:0] CSR_FAULT_PC = qmac_pkg::CSR_FAULT_PC;
  localparam logic [7:0] CSR_CYCLES_LO = qmac_pkg::CSR_CYCLES_LO;
  localparam logic [7:0] CSR_CYCLES_HI = qmac_pkg::CSR_CYCLES_HI;
  localparam logic [7:0] CSR_RETIRED = qmac_pkg::CSR_RETIRED;
  localparam logic [7:0] CSR_ARRAY_BUSY = qmac_pkg::CSR_ARRAY_BUSY;
  localparam logic [7:0] CSR_LOAD_BUSY = qmac_pkg::CSR_LOAD_BUSY;
  localparam logic [7:0] CSR_STORE_BUSY = qmac_pkg::CSR_STORE_BUSY;
  localparam logic [7:0] CSR_STALL = qmac_pkg::CSR_STALL;
  localparam logic [7:0] CSR_HW_ID = qmac_pkg::CSR_HW_ID;
  localparam logic [7:0] CSR_HW_CFG = qmac_pkg::CSR_HW_CFG;
  localparam logic [31:0] HwId = {16'h514d, 8'(qmac_pkg::ISA_VERSION), 8'(ArrayDim)};
  localparam logic [31:0] HwCfg = {8'($clog2(OutRows)), 8'($clog2(AccRows)), 8'($clog2(WgtRows)),
                                   8'($clog2(InpRows))};

  logic        bvalid_q, bvalid_d, rvalid_q, rvalid_d;
  logic [31:0] rdata_q, rdata_d;
  logic [31:0] prog_q, prog_d, lo_q, lo_d, hi_q, hi_d;       // RW registers
  logic [31:0] rprog_q, rprog_d, rlo_q, rlo_d, rhi_q, rhi_d; // the run's copies
  logic        run_q, run_d, done_q, done_d, flt_q, flt_d;
  logic [2:0]  code_q, code_d;
  logic [31:0] fpc_q, fpc_d;
  logic [63:0] cycles_q, cycles_d;
  logic [31:0] retired_q, retired_d, array_q, array_d, load_q, load_d, store_q, store_d;
  logic [31:0] stall_q, stall_d;
  logic        busy, wr, rd, ended;
  logic [31:0] status, rmux;

  function automatic logic [31:0] strobe(logic [31:0] old, logic [31:0] data, logic [3:0] be);
    for (int unsigned b = 0; b < 4; b++) begin
      strobe[b*8+:8] = be[b] ? data[b*8+:8] : old[b*8+:8];
    end
  endfunction

  always_comb begin
    ended  = run_q && end_i;
    busy   = run_q && !end_i;
    status = {29'd0, flt_q || (ended && fault_i), done_q || (ended && !fault_i), busy};

    // AXI4-Lite handshakes
    wr          = s_awvalid_i && s_wvalid_i && !bvalid_q && !rvalid_q;
    rd          = s_arvalid_i && !bvalid_q && !rvalid_q && !(s_awvalid_i && s_wvalid_i);
    s_awready_o = wr;
    s_wready_o  = wr;
    s_arready_o = !bvalid_q && !rvalid_q && !(s_awvalid_i && s_wvalid_i);
    bvalid_d    = wr || (bvalid_q && !s_bready_i);
    rvalid_d    = rd || (rvalid_q && !s_rready_i);

    case ({s_araddr_i[7:2], 2'b00})
      CSR_STATUS:     rmux = status;
      CSR_PROG_ADDR:  rmux = prog_q;
      CSR_WIN_LO:     rmux = lo_q;
      CSR_WIN_HI:     rmux = hi_q;
      CSR_FAULT_CODE: rmux = 32'(code_q);
      CSR_FAULT_PC:   rmux = fpc_q;
      CSR_CYCLES_LO:  rmux = cycles_q[31:0];
      CSR_CYCLES_HI:  rmux = cycles_q[63:32];
      CSR_RETIRED:    rmux = retired_q;
      CSR_ARRAY_BUSY: rmux = array_q;
      CSR_LOAD_BUSY:  rmux = load_q;
      CSR_STORE_BUSY: rmux = store_q;
      CSR_STALL:      rmux = stall_q;
      CSR_HW_ID:      rmux = HwId;
      CSR_HW_CFG:     rmux = HwCfg;
      default:        rmux = '0;
    endcase
    rdata_d = rd ? rmux : rdata_q;

    // registers
    prog_d  = prog_q;
    lo_d    = lo_q;
    hi_d    = hi_q;
    start_o = 1'b0;
    if (wr) begin
      case ({s_awaddr_i[7:2], 2'b00})
        CSR_CTRL:      start_o = s_wstrb_i[0] && s_wdata_i[0] && !busy;
        CSR_PROG_ADDR: prog_d = strobe(prog_q, s_wdata_i, s_wstrb_i);
        CSR_WIN_LO:    lo_d = strobe(lo_q, s_wdata_i, s_wstrb_i);
        CSR_WIN_HI:    hi_d = strobe(hi_q, s_wdata_i, s_wstrb_i);
        default:       ;
      endcase
    end

  end

  // run state and counters (a separate block: the events depend on start_o through the core)
  always_comb begin
    run_d     = run_q && !ended;
    done_d    = done_q || (ended && !fault_i);
    flt_d     = flt_q || (ended && fault_i);
    code_d    = (ended && fault_i) ? fault_code_i : code_q;
    fpc_d     = (ended && fault_i) ? fault_pc_i : fpc_q;
    rprog_d   = rprog_q;
    rlo_d     = rlo_q;
    rhi_d     = rhi_q;
    cycles_d  = cycles_q + (busy ? 64'd1 : 64'd0);
    retired_d = retired_q + (busy ? 32'(retired_i) : 32'd0);
    array_d   = array_q + ((busy && vector_i) ? 32'd1 : 32'd0);
    load_d    = load_q + ((busy && load_busy_i) ? 32'd1 : 32'd0);
    store_d   = store_q + ((busy && store_busy_i) ? 32'd1 : 32'd0);
    stall_d   = stall_q + ((busy && stall_i) ? 32'd1 : 32'd0);
    if (start_o) begin
      run_d     = 1'b1;
      done_d    = 1'b0;
      flt_d     = 1'b0;
      code_d    = '0;
      fpc_d     = '0;
      rprog_d   = prog_q;
      rlo_d     = lo_q;
      rhi_d     = hi_q;
      cycles_d  = '0;
      retired_d = '0;
      array_d   = '0;
      load_d    = '0;
      store_d   = '0;
      stall_d   = '0;
    end
  end

  always_ff @(posedge clk_i) begin
    if (!rst_ni) begin
      bvalid_q  <= 1'b0;
      rvalid_q  <= 1'b0;
      rdata_q   <= '0;
      prog_q    <= '0;
      lo_q      <= '0;
      hi_q      <= '0;
      rprog_q   <= '0;
      rlo_q     <= '0;
      rhi_q     <= '0;
      run_q     <= 1'b0;
      done_q    <= 1'b0;
      flt_q     <= 1'b0;
      code_q    <= '0;
      fpc_q     <= '0;
      cycles_q  <= '0;
      retired_q <= '0;
      array_q   <= '0;
      load_q    <= '0;
      store_q   <= '0;
      stall_q   <= '0;
    end else begin
      bvalid_q  <= bvalid_d;
      rvalid_q  <= rvalid_d;
      rdata_q   <= rdata_d;
      prog_q    <= prog_d;
      lo_q      <= lo_d;
      hi_q      <= hi_d;
      rprog_q   <= rprog_d;
      rlo_q     <= rlo_d;
      rhi_q     <= rhi_d;
      run_q     <= run_d;
      done_q    <= done_d;
      flt_q     <= flt_d;
      code_q    <= code_d;
      fpc_q     <= fpc_d;
      cycles_q  <= cycles_d;
      retired_q <= retired_d;
      array_q   <= array_d;
      load_q    <= load_d;
      store_q   <= store_d;
      stall_q   <= stall_d;
    end
  end

  assign s_bvalid_o  = bvalid_q;
  assign s_bresp_o   = 2'b00;
  assign s_rvalid_o  = rvalid_q;
  assign s_rdata_o   = rdata_q;
  assign s_rresp_o   = 2'b00;
  assign run_o       = run_q;
  assign prog_addr_o = rprog_q;
  assign win_lo_o    = rlo_q;
  assign win_hi_o    = rhi_q;
  assign irq_o       = done_q || flt_q;

  logic unused;
  assign unused = ^{s_awaddr_i[1:0], s_araddr_i[1:0], s_wdata_i[31:1]};

endmodule
