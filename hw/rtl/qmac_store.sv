// qmac_store: the STORE unit: buffer -> memory over AXI4 AW/W/B (docs/isa.md STORE).
//
// Timing (docs/microarch.md, "Store unit"): the head of the store queue starts in the first cycle
// t0 it is valid and the unit is idle. From t0:
//   AW cursor  the bursts (qmac_dma_burst), one request at a time (AWID 0): the next is presented
//              in the cycle after the previous one's handshake;
//   W path     beats in row order (ACC rows: 4 beats, each read separately). A read for the next
//              beat is issued in cycle c when fifo_count + (read issued in c - 1) < 3 (counts at
//              the start of c); its data arrives in c + 1 and is pushed at the end of c + 1 into a
//              3-entry beat FIFO. WVALID = FIFO not empty; WLAST on a burst's last beat (a second
//              burst cursor cuts the beats the same way); WSTRB all ones;
//   B          BREADY = 1; the instruction retires in the cycle of its last burst's B handshake
//              (a STORE of no rows in t0). An error response makes the retirement report BUS.
// WVALID is also held back while the beat's burst has no AW handshake yet (in an earlier cycle or
// this one): the AXI checker's w-without-aw rule. With the memory model's defaults the AW cursor
// always leads the W path, so this never delays a beat.
module qmac_store #(
  parameter int unsigned ArrayDim = 16,
  parameter int unsigned MaxBurst = 16,
  localparam int unsigned LenW = $clog2(MaxBurst + 1)
) (
  input  logic                    clk_i,
  input  logic                    rst_ni,
  // the oldest instruction of the store queue
  input  logic                    head_valid_i,
  input  logic [255:0]            head_insn_i,
  output logic                    retire_o,
  output logic                    bus_err_o,   // with retire_o: some B answered an error
  // the buffer read port (data one cycle after the read)
  output logic                    re_o,
  output logic [1:0]              rbuf_o,      // qmac_pkg::BUF_*
  output logic [15:0]             rrow_o,
  input  logic [8*ArrayDim-1:0]   inp_rdata_i,
  input  logic [8*ArrayDim-1:0]   wgt_rdata_i,
  input  logic [32*ArrayDim-1:0]  acc_rdata_i,
  input  logic [8*ArrayDim-1:0]   out_rdata_i,
  // AXI4 write channels
  output logic                    aw_valid_o,
  input  logic                    aw_ready_i,
  output logic [31:0]             aw_addr_o,
  output logic [7:0]              aw_len_o,
  output logic                    w_valid_o,
  input  logic                    w_ready_i,
  output logic [8*ArrayDim-1:0]   w_data_o,
  output logic                    w_last_o,
  input  logic                    b_valid_i,
  input  logic [1:0]              b_resp_i
);

  localparam int unsigned RowW = 8 * ArrayDim;
  localparam int unsigned FifoDepth = 3;
  localparam int unsigned EntryW = RowW + 1;  // {last, data}
  localparam logic [1:0] BUF_INP = qmac_pkg::BUF_INP;
  localparam logic [1:0] BUF_WGT = qmac_pkg::BUF_WGT;
  localparam logic [1:0] BUF_ACC = qmac_pkg::BUF_ACC;

  logic [1:0]  f_buf;
  logic [31:0] f_dram, f_xs, f_ys, f_zs;
  logic [15:0] f_sram, f_x, f_y, f_z;
  logic        wide;
  logic [19:0] total_beats;

  always_comb begin
    f_buf       = head_insn_i[qmac_pkg::STORE_BUF_LSB+:2];
    f_dram      = head_insn_i[qmac_pkg::STORE_DRAM_LSB+:32];
    f_sram      = head_insn_i[qmac_pkg::STORE_SRAM_LSB+:16];
    f_x         = head_insn_i[qmac_pkg::STORE_X_SIZE_LSB+:16];
    f_y         = head_insn_i[qmac_pkg::STORE_Y_SIZE_LSB+:16];
    f_z         = head_insn_i[qmac_pkg::STORE_Z_SIZE_LSB+:16];
    f_xs        = head_insn_i[qmac_pkg::STORE_X_STRIDE_LSB+:32];
    f_ys        = head_insn_i[qmac_pkg::STORE_Y_STRIDE_LSB+:32];
    f_zs        = head_insn_i[qmac_pkg::STORE_Z_STRIDE_LSB+:32];
    wide        = (f_buf == BUF_ACC);
    // a checked STORE reads at most the buffer's depth (<= 65536) rows: the product fits
    total_beats = 20'(32'(f_x) * 32'(f_y) * 32'(f_z)) << (wide ? 2 : 0);
  end

  logic active_q, active_d, active, start, empty;

  // ---------------------------------------------------------------------------------------------
  // AW cursor and the W path's burst cutter
  // ---------------------------------------------------------------------------------------------
  logic            aw_bvalid, wb_valid;
  logic [31:0]     aw_baddr, wb_addr;
  logic [LenW-1:0] aw_blen, wb_len;
  logic            aw_hs, w_hs, b_hs, rd_issue, rd_last;

  qmac_dma_burst #(
    .ArrayDim(ArrayDim),
    .MaxBurst(MaxBurst)
  ) u_aw (
    .clk_i  (clk_i),
    .rst_ni (rst_ni),
    .init_i (start),
    .dram_i (f_dram),
    .x_i    (f_x),
    .y_i    (f_y),
    .z_i    (f_z),
    .xs_i   (f_xs),
    .ys_i   (f_ys),
    .zs_i   (f_zs),
    .wide_i (wide),
    .next_i (aw_hs),
    .valid_o(aw_bvalid),
    .addr_o (aw_baddr),
    .len_o  (aw_blen)
  );

  qmac_dma_burst #(
    .ArrayDim(ArrayDim),
    .MaxBurst(MaxBurst)
  ) u_wb (
    .clk_i  (clk_i),
    .rst_ni (rst_ni),
    .init_i (start),
    .dram_i (f_dram),
    .x_i    (f_x),
    .y_i    (f_y),
    .z_i    (f_z),
    .xs_i   (f_xs),
    .ys_i   (f_ys),
    .zs_i   (f_zs),
    .wide_i (wide),
    .next_i (rd_issue && rd_last),
    .valid_o(wb_valid),
    .addr_o (wb_addr),
    .len_o  (wb_len)
  );

  // ---------------------------------------------------------------------------------------------
  // Read issue, beat FIFO, W and B
  // ---------------------------------------------------------------------------------------------
  logic [19:0]            beat_q, beat_d, cur_beat;        // next beat to read
  logic [LenW-1:0]        inb_q, inb_d, cur_inb;           // beats read of the current W burst
  logic                   rd_q, rd_d;                      // a read was issued in the last cycle
  logic                   rd_last_q, rd_last_d;
  logic [1:0]             rd_quarter_q, rd_quarter_d;
  logic [FifoDepth*EntryW-1:0] fifo_q, fifo_d;
  logic [1:0]             head_q, head_d, count_q, count_d;
  logic [7:0]             aw_ahead_q, aw_ahead_d;          // AW handshakes - bursts fully written
  logic [7:0]             b_wait_q, b_wait_d;              // AW handshakes - B handshakes
  logic                   bus_q, bus_d;
  logic [RowW-1:0]        rd_data;
  logic [EntryW-1:0]      fifo_head;
  logic [1:0]             tail;

  // (separate blocks: the burst cursors' outputs feed back into the later ones)
  always_comb begin
    start    = head_valid_i && !active_q;
    empty    = (total_beats == '0);
    active   = (start && !empty) || active_q;
    cur_beat = start ? '0 : beat_q;
    cur_inb  = start ? '0 : inb_q;
  end

  always_comb begin
    aw_valid_o = active && aw_bvalid;
    aw_addr_o  = aw_baddr;
    aw_len_o   = 8'(aw_blen) - 8'd1;
    aw_hs      = aw_valid_o && aw_ready_i;
  end

  always_comb begin
    rd_issue = active && (cur_beat != total_beats) && (32'(count_q) + 32'(rd_q) < FifoDepth);
    rd_last  = (cur_inb + LenW'(1) == wb_len);
  end

  always_comb begin
    // read issue for the next beat
    re_o     = rd_issue;
    rbuf_o   = f_buf;
    rrow_o   = f_sram + (wide ? 16'(cur_beat >> 2) : 16'(cur_beat));
    beat_d   = rd_issue ? cur_beat + 20'd1 : cur_beat;
    inb_d    = rd_issue ? (rd_last ? '0 : cur_inb + LenW'(1)) : cur_inb;
    rd_d         = rd_issue;
    rd_last_d    = rd_last;
    rd_quarter_d = cur_beat[1:0];

    // the data of last cycle's read
    case (f_buf)
      BUF_INP: rd_data = inp_rdata_i;
      BUF_WGT: rd_data = wgt_rdata_i;
      BUF_ACC: begin
        rd_data = '0;
        for (int unsigned q = 0; q < 4; q++) begin  // constant indices: no barrel shifter
          if (32'(rd_quarter_q) == q) rd_data = acc_rdata_i[q*RowW+:RowW];
        end
      end
      default: rd_data = out_rdata_i;
    endcase

    // W from the FIFO head
    fifo_head = '0;
    for (int unsigned e = 0; e < FifoDepth; e++) begin  // constant indices: no barrel shifter
      if (32'(head_q) == e) fifo_head = fifo_q[e*EntryW+:EntryW];
    end
    w_valid_o = (count_q != '0) && ((aw_ahead_q != '0) || aw_hs);
    w_data_o  = fifo_head[RowW-1:0];
    w_last_o  = fifo_head[RowW];
    w_hs      = w_valid_o && w_ready_i;

    fifo_d  = fifo_q;
    head_d  = head_q;
    count_d = count_q;
    if (w_hs) begin
      head_d  = (head_q == 2'(FifoDepth - 1)) ? '0 : head_q + 2'd1;
      count_d = count_d - 2'd1;
    end
    if (rd_q) begin
      // head + count < 2 * FifoDepth: one conditional subtraction instead of a divider
      tail = (32'(head_q) + 32'(count_q) >= FifoDepth) ? 2'(32'(head_q) + 32'(count_q) - FifoDepth)
                                                       : head_q + count_q;
      for (int unsigned e = 0; e < FifoDepth; e++) begin
        if (32'(tail) == e) fifo_d[e*EntryW+:EntryW] = {rd_last_q, rd_data};
      end
      count_d = count_d + 2'd1;
    end else begin
      tail = '0;
    end

    aw_ahead_d = aw_ahead_q + (aw_hs ? 8'd1 : 8'd0) - ((w_hs && w_last_o) ? 8'd1 : 8'd0);

    // B
    b_hs     = b_valid_i;  // BREADY = 1
    b_wait_d = b_wait_q + (aw_hs ? 8'd1 : 8'd0) - (b_hs ? 8'd1 : 8'd0);
    bus_d    = start ? 1'b0 : bus_q;
    if (b_hs && b_resp_i != 2'b00) begin
      bus_d = 1'b1;
    end
    bus_err_o = bus_d;

    retire_o = start && empty;
    active_d = active;
    if (active && b_hs && (b_wait_q == 8'd1) && !aw_bvalid) begin
      retire_o = 1'b1;
      active_d = 1'b0;
    end
  end

  always_ff @(posedge clk_i) begin
    if (!rst_ni) begin
      active_q     <= 1'b0;
      beat_q       <= '0;
      inb_q        <= '0;
      rd_q         <= 1'b0;
      rd_last_q    <= 1'b0;
      rd_quarter_q <= '0;
      fifo_q       <= '0;
      head_q       <= '0;
      count_q      <= '0;
      aw_ahead_q   <= '0;
      b_wait_q     <= '0;
      bus_q        <= 1'b0;
    end else begin
      active_q     <= active_d;
      beat_q       <= beat_d;
      inb_q        <= inb_d;
      rd_q         <= rd_d;
      rd_last_q    <= rd_last_d;
      rd_quarter_q <= rd_quarter_d;
      fifo_q       <= fifo_d;
      head_q       <= head_d;
      count_q      <= count_d;
      aw_ahead_q   <= aw_ahead_d;
      b_wait_q     <= b_wait_d;
      bus_q        <= bus_d;
    end
  end

  // the W cutter only gives burst lengths; fields of other formats share the instruction word
  logic unused;
  assign unused = ^{wb_valid, wb_addr, head_insn_i[255:224], head_insn_i[31:10], head_insn_i[7:0]};

endmodule
