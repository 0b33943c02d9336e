// qmac_dispatch: decode/check of the fetch FIFO head, the three unit queues and their hazard check.
//
// docs/microarch.md, "Dispatch". Each cycle the dispatcher looks at the FIFO head (state at the
// start of the cycle):
//   1. a fault entry, or qmac_decode reports a fault: the fault becomes pending (FAULT_CODE and
//      FAULT_PC are latched at the end of the cycle) and nothing more is dispatched;
//   2. NOP retires; FENCE retires when every unit queue is empty at the start of the cycle; END
//      likewise and then sets halting;
//   3. LOAD / STORE / compute instructions enter their unit's queue (2 slots, the executing one
//      included) when it has a free slot and they have no hazard with any instruction in the
//      other two units' queues: data (overlapping footprint ranges in one space, one of them
//      written) or port (the same port of the same buffer, qmac_decode's ports_o).
// A unit removes an entry at the end of its retire cycle (q_retire_i). The compute unit may retire
// its two entries in any order (a streaming GEMM can retire before the GEMM ahead of it), so each
// queue is two slots plus an "older slot" bit rather than a FIFO. A BUS error reported with a
// load or store retirement becomes pending in the next cycle (the faulting instruction's pc).
// halting is set at the end of a cycle in which END retires or a fault is pending.
module qmac_dispatch #(
  parameter int unsigned ArrayDim = qmac_pkg::CFG_ARRAY_DIM,
  parameter int unsigned InpRows = qmac_pkg::CFG_INP_ROWS,
  parameter int unsigned WgtRows = qmac_pkg::CFG_WGT_ROWS,
  parameter int unsigned AccRows = qmac_pkg::CFG_ACC_ROWS,
  parameter int unsigned OutRows = qmac_pkg::CFG_OUT_ROWS
) (
  input  logic             clk_i,
  input  logic             rst_ni,
  input  logic             start_i,        // a run starts at the end of this cycle: clear
  input  logic             run_i,          // a run is under way
  input  logic [31:0]      win_lo_i,
  input  logic [31:0]      win_hi_i,
  // the fetch FIFO head
  input  logic             head_valid_i,
  input  logic [255:0]     head_insn_i,
  input  logic [31:0]      head_pc_i,
  input  logic [2:0]       head_fault_i,
  output logic             pop_o,
  // unit queues: slot s of unit u (0 load, 1 store, 2 compute) is index u*2 + s
  output logic [5:0]       q_valid_o,
  output logic [6*256-1:0] q_insn_o,
  output logic [6*32-1:0]  q_pc_o,
  output logic [6*32-1:0]  q_len_o,        // loop length (compute) / buffer rows (load, store)
  output logic [2:0]       q_old_o,        // per unit: the older slot when both are valid
  input  logic [5:0]       q_retire_i,     // these slots leave at the end of this cycle
  input  logic             load_bus_i,     // with the load head's retirement: BUS
  input  logic             store_bus_i,    // with the store head's retirement: BUS
  // run state
  output logic             halting_o,
  output logic             end_o,          // END has retired
  output logic             fault_o,        // a fault is pending (registered)
  output logic [2:0]       fault_code_o,
  output logic [31:0]      fault_pc_o,
  output logic             queues_empty_o,
  // events of this cycle
  output logic             retire_o,       // NOP, FENCE or END retired
  output logic [31:0]      retire_pc_o,
  output logic             stall_o         // the head is neither dispatched nor retired
);

  localparam int unsigned Slots = 6;
  localparam int unsigned NRng = 4;
  localparam logic [7:0] OP_NOP = qmac_pkg::OP_NOP;
  localparam logic [7:0] OP_END = qmac_pkg::OP_END;
  localparam logic [7:0] OP_FENCE = qmac_pkg::OP_FENCE;
  localparam logic [2:0] FAULT_NONE = qmac_pkg::FAULT_NONE;
  localparam logic [2:0] FAULT_BUS = qmac_pkg::FAULT_BUS;
  localparam logic [1:0] UNIT_DISP = 2'd0;

  // ---------------------------------------------------------------------------------------------
  // Decode of the head
  // ---------------------------------------------------------------------------------------------
  logic [7:0]   d_op;
  logic [2:0]   d_fault;
  logic         d_ok;
  logic [1:0]   d_unit;
  logic [3:0]   d_rvalid, d_rwrite;
  logic [11:0]  d_rspace;
  logic [255:0] d_rlo, d_rend;
  logic [7:0]   d_ports;
  logic [31:0]  d_loop_len;
  logic [63:0]  d_dma_rows;

  qmac_decode #(
    .ArrayDim(ArrayDim),
    .InpRows (InpRows),
    .WgtRows (WgtRows),
    .AccRows (AccRows),
    .OutRows (OutRows)
  ) u_decode (
    .insn_i         (head_insn_i),
    .win_lo_i       (win_lo_i),
    .win_hi_i       (win_hi_i),
    .op_o           (d_op),
    .fault_o        (d_fault),
    .ok_o           (d_ok),
    .unit_o         (d_unit),
    .rng_valid_o    (d_rvalid),
    .rng_space_o    (d_rspace),
    .rng_write_o    (d_rwrite),
    .rng_lo_o       (d_rlo),
    .rng_end_o      (d_rend),
    .ports_o        (d_ports),
    .loop_len_o     (d_loop_len),
    .dma_rows_o     (d_dma_rows)
  );

  // ---------------------------------------------------------------------------------------------
  // Queue slots: instruction, pc, length and the footprint the hazard check needs. Ranges of a
  // checked instruction end at or below 2^32 (memory) or 2^16 (rows): lo 32 bits, end 33 bits.
  // Only footprint slot 1 (LOAD / STORE) can be memory, and ranges in different spaces never
  // conflict, so every pair of slots but (1, 1) compares rows: 17 bits. (The head's ranges may
  // be wider when it faults, but then its hazards do not matter.)
  // ---------------------------------------------------------------------------------------------
  logic [Slots-1:0]          valid_q, valid_d, valid_n;
  logic [Slots*256-1:0]      insn_q, insn_d;
  logic [Slots*32-1:0]       pc_q, pc_d, len_q, len_d;
  logic [Slots*NRng-1:0]     rv_q, rv_d, rw_q, rw_d;
  logic [Slots*NRng*3-1:0]   rs_q, rs_d;
  logic [Slots*NRng*32-1:0]  rlo_q, rlo_d;
  logic [Slots*NRng*33-1:0]  rend_q, rend_d;
  logic [Slots*8-1:0]        ports_q, ports_d;
  logic [2:0]                old_q, old_d, old_n;

  logic        halting_q, halting_d, halting_n, end_q, end_d, end_n, fault_q, fault_d, fault_n;
  logic [2:0]  code_q, code_d, code_n;
  logic [31:0] fpc_q, fpc_d, fpc_n;

  logic [3:0]  hazard;       // the head conflicts with an instruction of unit u's queue
  logic [3:0]  room;         // [3]: no queue (NOP, END, FENCE)
  logic [1:0]  hunit;        // the head's queue (0 load, 1 store, 2 compute)
  logic        active, head_bad, push, disp_retire, all_empty;
  logic [2:0]  push_slot;    // slot index the head goes to
  logic [2:0]  head_code;
  logic        conflict, others_hazard, lb, sb;
  logic [31:0] lpc, spc;

  assign all_empty = (valid_q == '0);

  always_comb begin
    // hazards of the head against every queued instruction
    hazard = '0;
    for (int unsigned s = 0; s < Slots; s++) begin
      conflict = |(d_ports & ports_q[s*8+:8]);
      for (int unsigned i = 0; i < NRng; i++) begin
        for (int unsigned j = 0; j < NRng; j++) begin
          if (d_rvalid[i] && rv_q[s*NRng+j] && (d_rspace[i*3+:3] == rs_q[(s*NRng+j)*3+:3])
              && (d_rwrite[i] || rw_q[s*NRng+j])) begin
            if (i == 1 && j == 1) begin
              if (({1'b0, d_rlo[i*64+:32]} < rend_q[(s*NRng+j)*33+:33])
                  && ({1'b0, rlo_q[(s*NRng+j)*32+:32]} < d_rend[i*64+:33])) begin
                conflict = 1'b1;
              end
            end else if (({1'b0, d_rlo[i*64+:16]} < rend_q[(s*NRng+j)*33+:17])
                         && ({1'b0, rlo_q[(s*NRng+j)*32+:16]} < d_rend[i*64+:17])) begin
              conflict = 1'b1;
            end
          end
        end
      end
      if (valid_q[s] && conflict) begin
        hazard[s/2] = 1'b1;  // slots 2u and 2u + 1 belong to unit u
      end
    end
    room = '0;
    for (int unsigned u = 0; u < 3; u++) begin
      room[u] = !(valid_q[2*u] && valid_q[2*u+1]);
    end

    // the head
    hunit     = 2'(d_unit - 2'd1);
    active    = run_i && !halting_q && !fault_q;
    head_bad  = (head_fault_i != FAULT_NONE) || !d_ok;
    others_hazard = 1'b0;
    head_code = (head_fault_i != FAULT_NONE) ? head_fault_i : d_fault;
    push        = 1'b0;
    disp_retire = 1'b0;
    end_n       = end_q;
    fault_n     = fault_q;
    code_n      = code_q;
    fpc_n       = fpc_q;
    if (active && head_valid_i) begin
      if (head_bad) begin
        fault_n = 1'b1;
        code_n  = head_code;
        fpc_n   = head_pc_i;
      end else if (d_unit == UNIT_DISP) begin
        if (d_op == OP_NOP) begin
          disp_retire = 1'b1;
        end else if ((d_op == OP_FENCE || d_op == OP_END) && all_empty) begin
          disp_retire = 1'b1;
          end_n       = (d_op == OP_END);
        end
      end else begin
        for (int unsigned u = 0; u < 3; u++) begin
          if (u != 32'(hunit) && hazard[u]) begin
            others_hazard = 1'b1;
          end
        end
        push = room[hunit] && !others_hazard;
      end
    end
    pop_o       = push || disp_retire;
    retire_o    = disp_retire;
    retire_pc_o = head_pc_i;
    // a fault entry or a faulting instruction is not "a valid instruction" waiting to dispatch
    stall_o     = run_i && !halting_q && head_valid_i && !head_bad && !pop_o;

    // a BUS error of a retiring load or store: pending from the next cycle (older one first)
    lb  = load_bus_i && (q_retire_i[0] || q_retire_i[1]);
    sb  = store_bus_i && (q_retire_i[2] || q_retire_i[3]);
    lpc = q_retire_i[0] ? pc_q[0*32+:32] : pc_q[1*32+:32];
    spc = q_retire_i[2] ? pc_q[2*32+:32] : pc_q[3*32+:32];
    if (!fault_n) begin
      if (lb || sb) begin
        fault_n = 1'b1;
        code_n  = FAULT_BUS;
        fpc_n   = (lb && (!sb || lpc < spc)) ? lpc : spc;
      end
    end
    halting_n = halting_q || (disp_retire && end_n) || (active && head_valid_i && head_bad) || fault_q;

    // the queues
    push_slot = {hunit, 1'b0};
    if (hunit != 2'd3 && valid_q[{hunit, 1'b0}]) begin
      push_slot = {hunit, 1'b1};
    end
    valid_n = valid_q & ~q_retire_i;
    insn_d  = insn_q;
    pc_d    = pc_q;
    len_d   = len_q;
    rv_d    = rv_q;
    rw_d    = rw_q;
    rs_d    = rs_q;
    rlo_d   = rlo_q;
    rend_d  = rend_q;
    ports_d = ports_q;
    // constant-index loop: Yosys maps a variable part-select to a barrel shifter
    for (int unsigned s = 0; s < Slots; s++) begin
      if (push && 32'(push_slot) == s) begin
        valid_n[s]              = 1'b1;
        insn_d[s*256+:256]      = head_insn_i;
        pc_d[s*32+:32]          = head_pc_i;
        len_d[s*32+:32]         = (hunit == 2'd2) ? d_loop_len : d_dma_rows[31:0];
        rv_d[s*NRng+:NRng]      = d_rvalid;
        rw_d[s*NRng+:NRng]      = d_rwrite;
        rs_d[s*NRng*3+:NRng*3]  = d_rspace;
        ports_d[s*8+:8]         = d_ports;
        for (int unsigned i = 0; i < NRng; i++) begin
          rlo_d[(s*NRng+i)*32+:32]  = d_rlo[i*64+:32];
          rend_d[(s*NRng+i)*33+:33] = d_rend[i*64+:33];
        end
      end
    end
    for (int unsigned u = 0; u < 3; u++) begin
      old_n[u] = old_q[u];
      if (push && 32'(hunit) == u) begin
        old_n[u] = valid_n[2*u + (push_slot[0] ? 0 : 1)] ? !push_slot[0] : push_slot[0];
      end else if (valid_n[2*u] != valid_n[2*u+1]) begin
        old_n[u] = valid_n[2*u+1];
      end
    end

  end

  // a new run clears the queues and the run state (separate block: start_i depends on the above)
  always_comb begin
    valid_d   = valid_n;
    old_d     = old_n;
    halting_d = halting_n;
    end_d     = end_n;
    fault_d   = fault_n;
    code_d    = code_n;
    fpc_d     = fpc_n;
    if (start_i) begin
      valid_d   = '0;
      old_d     = '0;
      halting_d = 1'b0;
      end_d     = 1'b0;
      fault_d   = 1'b0;
      code_d    = FAULT_NONE;
      fpc_d     = '0;
    end
  end

  always_ff @(posedge clk_i) begin
    if (!rst_ni) begin
      valid_q   <= '0;
      insn_q    <= '0;
      pc_q      <= '0;
      len_q     <= '0;
      rv_q      <= '0;
      rw_q      <= '0;
      rs_q      <= '0;
      rlo_q     <= '0;
      rend_q    <= '0;
      ports_q   <= '0;
      old_q     <= '0;
      halting_q <= 1'b0;
      end_q     <= 1'b0;
      fault_q   <= 1'b0;
      code_q    <= '0;
      fpc_q     <= '0;
    end else begin
      valid_q   <= valid_d;
      insn_q    <= insn_d;
      pc_q      <= pc_d;
      len_q     <= len_d;
      rv_q      <= rv_d;
      rw_q      <= rw_d;
      rs_q      <= rs_d;
      rlo_q     <= rlo_d;
      rend_q    <= rend_d;
      ports_q   <= ports_d;
      old_q     <= old_d;
      halting_q <= halting_d;
      end_q     <= end_d;
      fault_q   <= fault_d;
      code_q    <= code_d;
      fpc_q     <= fpc_d;
    end
  end

  assign q_valid_o      = valid_q;
  assign q_insn_o       = insn_q;
  assign q_pc_o         = pc_q;
  assign q_len_o        = len_q;
  assign q_old_o        = old_q;
  assign halting_o      = halting_q;
  assign end_o          = end_q;
  assign fault_o        = fault_q;
  assign fault_code_o   = code_q;
  assign fault_pc_o     = fpc_q;
  assign queues_empty_o = all_empty;

  logic unused;
  assign unused = ^{d_dma_rows[63:32], d_rlo, d_rend};

  // Assertions (elaboration)
  if (qmac_pkg::CFG_LOAD_QUEUE != 2 || qmac_pkg::CFG_STORE_QUEUE != 2
      || qmac_pkg::CFG_COMPUTE_QUEUE != 2) begin : g_bad_queues
    $error("qmac_dispatch: the unit queues are built with 2 slots each");
  end

endmodule
