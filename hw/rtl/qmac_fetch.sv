// qmac_fetch: instruction prefetch into a FIFO of FetchQueue entries (docs/microarch.md, "Fetch").
//
// In cycle c fetch requests instruction fetch_pc (one INCR burst of 32 / N beats, ARID 0) when
// count + inflight < FetchQueue, halting is low and the instruction's 32 bytes lie in the window
// (and PROG_ADDR is a multiple of 32); fetch_pc and inflight advance on the AR handshake. A request
// the arbiter put on AR is held until its handshake even if halting rises meanwhile. If instead
// instruction fetch_pc lies outside the window (or PROG_ADDR is misaligned), halting is low,
// inflight is 0 and count < FetchQueue, a FETCH-fault entry is pushed and fetch stops for this
// run. R beats with RID 0 are always accepted; the cycle of an instruction's last beat pushes it
// (an error on any of its beats marks it BUS). The FIFO head is the dispatcher's view.
module qmac_fetch #(
  parameter int unsigned ArrayDim = 16,
  parameter int unsigned FetchQueue = qmac_pkg::CFG_FETCH_QUEUE
) (
  input  logic                   clk_i,
  input  logic                   rst_ni,
  input  logic                   start_i,       // a run starts at the end of this cycle: clear
  input  logic [31:0]            prog_addr_i,   // the run's PROG_ADDR, WIN_LO and WIN_HI
  input  logic [31:0]            win_lo_i,
  input  logic [31:0]            win_hi_i,
  input  logic                   halting_i,
  // AR request (to the arbiter)
  output logic                   ar_req_o,
  output logic [31:0]            ar_addr_o,
  input  logic                   ar_held_i,     // the request on AR is fetch's, not yet accepted
  input  logic                   ar_hs_i,
  // R beats with RID 0
  input  logic                   r_valid_i,
  input  logic [8*ArrayDim-1:0]  r_data_i,
  input  logic [1:0]             r_resp_i,
  // FIFO head
  output logic                   head_valid_o,
  output logic [255:0]           head_insn_o,
  output logic [31:0]            head_pc_o,
  output logic [2:0]             head_fault_o,  // FAULT_NONE, FAULT_FETCH or FAULT_BUS
  input  logic                   pop_i,
  output logic                   busy_o         // a fetch is in flight (requested or on AR)
);

  localparam int unsigned RowW = 8 * ArrayDim;
  localparam int unsigned Beats = qmac_pkg::INSN_BYTES / ArrayDim;
  localparam int unsigned BeatW = (Beats > 1) ? $clog2(Beats) : 1;
  localparam int unsigned PtrW = $clog2(FetchQueue);
  localparam int unsigned CntW = $clog2(FetchQueue + 1);
  localparam int unsigned EntryW = 256 + 32 + 3;  // {fault, pc, insn}
  localparam logic [2:0] FAULT_NONE = qmac_pkg::FAULT_NONE;
  localparam logic [2:0] FAULT_FETCH = qmac_pkg::FAULT_FETCH;
  localparam logic [2:0] FAULT_BUS = qmac_pkg::FAULT_BUS;

  logic [31:0]              pc_q, pc_d;          // next instruction to request
  logic [31:0]              rx_pc_q, rx_pc_d;    // next instruction to arrive
  logic [CntW-1:0]          inflight_q, inflight_d, count_q, count_d;
  logic [PtrW-1:0]          head_q, head_d;
  logic                     stopped_q, stopped_d;
  logic [FetchQueue*EntryW-1:0] fifo_q, fifo_d;
  logic [255:0]             asm_q, asm_d;        // the instruction being received
  logic [BeatW-1:0]         beat_q, beat_d;
  logic                     err_q, err_d;
  logic [63:0]              addr;
  logic                     fits, room, push;
  logic [PtrW-1:0]          tail;
  logic [EntryW-1:0]        entry, head_entry;

  always_comb begin
    addr = 64'(prog_addr_i) + {27'd0, pc_q, 5'd0};
    fits = (prog_addr_i[4:0] == '0) && (addr >= 64'(win_lo_i)) && (addr + 64'd31 <= 64'(win_hi_i));
    room = (32'(count_q) + 32'(inflight_q) < FetchQueue);

    ar_req_o  = ar_held_i || (room && !halting_i && !stopped_q && fits);
    ar_addr_o = addr[31:0];
    busy_o    = (inflight_q != '0) || ar_req_o;

    // constant-index loops: Yosys maps a variable part-select to a barrel shifter
    head_entry = '0;
    for (int unsigned e = 0; e < FetchQueue; e++) begin
      if (32'(head_q) == e) head_entry = fifo_q[e*EntryW+:EntryW];
    end
    head_valid_o = (count_q != '0);
    head_insn_o  = head_entry[255:0];
    head_pc_o    = head_entry[287:256];
    head_fault_o = head_entry[290:288];
  end

  // next state (a separate block: start_i and pop_i depend on the outputs above)
  always_comb begin
    pc_d       = pc_q;
    inflight_d = inflight_q;
    stopped_d  = stopped_q;
    if (ar_hs_i) begin
      pc_d       = pc_q + 32'd1;
      inflight_d = inflight_d + CntW'(1);
    end

    // R beats: assemble, push on the last
    asm_d   = asm_q;
    beat_d  = beat_q;
    err_d   = err_q;
    rx_pc_d = rx_pc_q;
    push    = 1'b0;
    entry   = '0;
    if (r_valid_i) begin
      for (int unsigned b = 0; b < Beats; b++) begin
        if (32'(beat_q) == b) asm_d[b*RowW+:RowW] = r_data_i;
      end
      if (32'(beat_q) == Beats - 1) begin
        push       = 1'b1;
        entry      = {(err_q || r_resp_i != 2'b00) ? FAULT_BUS : FAULT_NONE, rx_pc_q, asm_d};
        beat_d     = '0;
        err_d      = 1'b0;
        rx_pc_d    = rx_pc_q + 32'd1;
        inflight_d = inflight_d - CntW'(1);
      end else begin
        beat_d = beat_q + BeatW'(1);
        err_d  = err_q || (r_resp_i != 2'b00);
      end
    end else if (!halting_i && !stopped_q && !fits && inflight_q == '0 && 32'(count_q) < FetchQueue) begin
      // the next instruction is not fetchable: a FETCH fault entry, and no more requests
      push      = 1'b1;
      entry     = {FAULT_FETCH, pc_q, 256'd0};
      stopped_d = 1'b1;
    end

    // FIFO
    fifo_d  = fifo_q;
    head_d  = head_q;
    count_d = count_q;
    tail    = PtrW'(32'(head_q) + 32'(count_q));
    if (push) begin
      for (int unsigned e = 0; e < FetchQueue; e++) begin
        if (32'(tail) == e) fifo_d[e*EntryW+:EntryW] = entry;
      end
      count_d = count_d + CntW'(1);
    end
    if (pop_i && head_valid_o) begin
      head_d  = head_q + PtrW'(1);
      count_d = count_d - CntW'(1);
    end

    if (start_i) begin
      pc_d       = '0;
      rx_pc_d    = '0;
      inflight_d = '0;
      stopped_d  = 1'b0;
      head_d     = '0;
      count_d    = '0;
      beat_d     = '0;
      err_d      = 1'b0;
    end
  end

  always_ff @(posedge clk_i) begin
    if (!rst_ni) begin
      pc_q       <= '0;
      rx_pc_q    <= '0;
      inflight_q <= '0;
      count_q    <= '0;
      head_q     <= '0;
      stopped_q  <= 1'b0;
      fifo_q     <= '0;
      asm_q      <= '0;
      beat_q     <= '0;
      err_q      <= 1'b0;
    end else begin
      pc_q       <= pc_d;
      rx_pc_q    <= rx_pc_d;
      inflight_q <= inflight_d;
      count_q    <= count_d;
      head_q     <= head_d;
      stopped_q  <= stopped_d;
      fifo_q     <= fifo_d;
      asm_q      <= asm_d;
      beat_q     <= beat_d;
      err_q      <= err_d;
    end
  end

  // Assertions (elaboration)
  if (FetchQueue < 2 || (FetchQueue & (FetchQueue - 1)) != 0) begin : g_bad_queue
    $error("qmac_fetch: FetchQueue must be a power of two >= 2");
  end
  if (ArrayDim > qmac_pkg::INSN_BYTES) begin : g_bad_dim
    $error("qmac_fetch: an instruction must be at least one beat");
  end

endmodule
