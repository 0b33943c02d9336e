// qmac_load: the LOAD unit: memory -> buffer over AXI4 AR/R, with padding rows (docs/isa.md LOAD).
//
// Timing (docs/microarch.md, "Load unit"): the head of the load queue starts in the first cycle
// t0 it is valid and the unit is idle (its predecessor left the queue at the end of its retire
// cycle). From t0 two cursors run:
//   AR cursor     the data rows' bursts (qmac_dma_burst), one request at a time (ARID 1): the next
//                 burst is presented in the cycle after the previous one's handshake;
//   write cursor  every row in order, padding included: a padding row is written in the cycle it
//                 is reached (RREADY low); at a data row RREADY is high and each R beat handshake
//                 writes that beat (ACC rows: 4 beats, beat j = bytes [jN, jN + N) of the row).
// The instruction retires in the cycle of its last row write (a LOAD of no rows in t0). An R beat
// with an error response writes zeros and makes the retirement report a BUS fault.
module qmac_load #(
  parameter int unsigned ArrayDim = 16,
  parameter int unsigned MaxBurst = 16,
  localparam int unsigned LenW = $clog2(MaxBurst + 1)
) (
  input  logic                    clk_i,
  input  logic                    rst_ni,
  // the oldest instruction of the load queue
  input  logic                    head_valid_i,
  input  logic [255:0]            head_insn_i,
  output logic                    retire_o,    // the head retires in this cycle
  output logic                    bus_err_o,   // with retire_o: some R beat answered an error
  // AR requests (to the arbiter)
  output logic                    ar_req_o,
  output logic [31:0]             ar_addr_o,
  output logic [7:0]              ar_len_o,
  input  logic                    ar_hs_i,     // the request is accepted in this cycle
  // R beats with RID 1
  input  logic                    r_valid_i,
  input  logic [8*ArrayDim-1:0]   r_data_i,
  input  logic [1:0]              r_resp_i,
  output logic                    r_ready_o,
  // the buffer write port
  output logic                    we_o,
  output logic [1:0]              wbuf_o,      // qmac_pkg::BUF_*
  output logic [15:0]             wrow_o,
  output logic [32*ArrayDim-1:0]  wdata_o,     // 8-bit buffers: the low 8N bits
  output logic [32*ArrayDim-1:0]  wmask_o
);

  localparam int unsigned RowW = 8 * ArrayDim;
  localparam logic [1:0] BUF_ACC = qmac_pkg::BUF_ACC;

  // fields of the head instruction
  logic [1:0]  f_buf;
  logic [7:0]  f_pad;
  logic [31:0] f_dram, f_xs, f_ys, f_zs;
  logic [15:0] f_sram, f_x, f_y, f_z;
  logic [7:0]  f_px0, f_px1, f_py0, f_py1;
  logic        wide;
  logic [16:0] nx, ny, x_lo, x_hi, y_lo, y_hi;  // padded line length / plane height, data bounds

  always_comb begin
    f_buf  = head_insn_i[qmac_pkg::LOAD_BUF_LSB+:2];
    f_pad  = head_insn_i[qmac_pkg::LOAD_PAD_VALUE_LSB+:8];
    f_dram = head_insn_i[qmac_pkg::LOAD_DRAM_LSB+:32];
    f_sram = head_insn_i[qmac_pkg::LOAD_SRAM_LSB+:16];
    f_x    = head_insn_i[qmac_pkg::LOAD_X_SIZE_LSB+:16];
    f_y    = head_insn_i[qmac_pkg::LOAD_Y_SIZE_LSB+:16];
    f_z    = head_insn_i[qmac_pkg::LOAD_Z_SIZE_LSB+:16];
    f_xs   = head_insn_i[qmac_pkg::LOAD_X_STRIDE_LSB+:32];
    f_ys   = head_insn_i[qmac_pkg::LOAD_Y_STRIDE_LSB+:32];
    f_zs   = head_insn_i[qmac_pkg::LOAD_Z_STRIDE_LSB+:32];
    f_px0  = head_insn_i[qmac_pkg::LOAD_PAD_X0_LSB+:8];
    f_px1  = head_insn_i[qmac_pkg::LOAD_PAD_X1_LSB+:8];
    f_py0  = head_insn_i[qmac_pkg::LOAD_PAD_Y0_LSB+:8];
    f_py1  = head_insn_i[qmac_pkg::LOAD_PAD_Y1_LSB+:8];
    wide   = (f_buf == BUF_ACC);
    x_lo   = 17'(f_px0);
    x_hi   = 17'(f_px0) + 17'(f_x);
    y_lo   = 17'(f_py0);
    y_hi   = 17'(f_py0) + 17'(f_y);
    nx     = x_hi + 17'(f_px1);
    ny     = y_hi + 17'(f_py1);
  end

  // ---------------------------------------------------------------------------------------------
  // AR cursor
  // ---------------------------------------------------------------------------------------------
  logic            start;       // the head starts in this cycle
  logic            burst_valid;
  logic [31:0]     burst_addr;
  logic [LenW-1:0] burst_len;

  qmac_dma_burst #(
    .ArrayDim(ArrayDim),
    .MaxBurst(MaxBurst)
  ) u_ar (
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
    .next_i (ar_hs_i),
    .valid_o(burst_valid),
    .addr_o (burst_addr),
    .len_o  (burst_len)
  );

  assign ar_req_o  = burst_valid;
  assign ar_addr_o = burst_addr;
  assign ar_len_o  = 8'(burst_len) - 8'd1;

  // ---------------------------------------------------------------------------------------------
  // Write cursor
  // ---------------------------------------------------------------------------------------------
  logic        active_q, active_d, active;
  logic        bus_q, bus_d;
  logic [15:0] z_q, z_d, cur_z;
  logic [16:0] y_q, y_d, x_q, x_d, cur_y, cur_x;
  logic [15:0] row_q, row_d, cur_row;
  logic [1:0]  beat_q, beat_d, cur_beat;
  logic        empty, data_row, last_row, row_done;
  logic        r_hs;

  always_comb begin
    start = head_valid_i && !active_q;
    empty = (f_z == '0) || (ny == '0) || (nx == '0);
    if (start) begin
      cur_z    = '0;
      cur_y    = '0;
      cur_x    = '0;
      cur_row  = f_sram;
      cur_beat = '0;
    end else begin
      cur_z    = z_q;
      cur_y    = y_q;
      cur_x    = x_q;
      cur_row  = row_q;
      cur_beat = beat_q;
    end
    active   = (start && !empty) || active_q;
    data_row = (cur_y >= y_lo) && (cur_y < y_hi) && (cur_x >= x_lo) && (cur_x < x_hi);
    last_row = (cur_z + 16'd1 == f_z) && (cur_y + 17'd1 == ny) && (cur_x + 17'd1 == nx);

    r_ready_o = active && data_row;
    r_hs      = r_ready_o && r_valid_i;

    we_o    = 1'b0;
    wbuf_o  = f_buf;
    wrow_o  = cur_row;
    wdata_o = '0;
    wmask_o = '0;
    row_done = 1'b0;
    if (active && !data_row) begin
      // a padding row: the whole row, in this cycle
      we_o     = 1'b1;
      wdata_o  = {(4 * ArrayDim) {f_pad}};
      wmask_o  = wide ? '1 : (32 * ArrayDim)'({RowW{1'b1}});
      row_done = 1'b1;
    end else if (r_hs) begin
      // one beat of a data row (zeros for an error beat)
      we_o = 1'b1;
      if (wide) begin
        for (int unsigned q = 0; q < 4; q++) begin  // constant indices: no barrel shifter
          if (32'(cur_beat) == q) begin
            wdata_o[q*RowW+:RowW] = (r_resp_i == 2'b00) ? r_data_i : '0;
            wmask_o[q*RowW+:RowW] = {RowW{1'b1}};  // not '1: Yosys 0.23 makes that 1 bit
          end
        end
        row_done = (cur_beat == 2'd3);
      end else begin
        wdata_o[RowW-1:0] = (r_resp_i == 2'b00) ? r_data_i : '0;
        wmask_o[RowW-1:0] = '1;
        row_done = 1'b1;
      end
    end

    // next state
    z_d      = cur_z;
    y_d      = cur_y;
    x_d      = cur_x;
    row_d    = cur_row;
    beat_d   = (r_hs && !row_done) ? cur_beat + 2'd1 : cur_beat;
    active_d = active;
    retire_o = start && empty;
    if (row_done) begin
      beat_d = '0;
      row_d  = cur_row + 16'd1;
      if (last_row) begin
        active_d = 1'b0;
        retire_o = 1'b1;
      end else if (cur_x + 17'd1 != nx) begin
        x_d = cur_x + 17'd1;
      end else begin
        x_d = '0;
        if (cur_y + 17'd1 != ny) begin
          y_d = cur_y + 17'd1;
        end else begin
          y_d = '0;
          z_d = cur_z + 16'd1;
        end
      end
    end

    bus_d = start ? 1'b0 : bus_q;
    if (r_hs && r_resp_i != 2'b00) begin
      bus_d = 1'b1;
    end
    bus_err_o = bus_d;
  end

  always_ff @(posedge clk_i) begin
    if (!rst_ni) begin
      active_q <= 1'b0;
      bus_q    <= 1'b0;
      z_q      <= '0;
      y_q      <= '0;
      x_q      <= '0;
      row_q    <= '0;
      beat_q   <= '0;
    end else begin
      active_q <= active_d;
      bus_q    <= bus_d;
      z_q      <= z_d;
      y_q      <= y_d;
      x_q      <= x_d;
      row_q    <= row_d;
      beat_q   <= beat_d;
    end
  end

  // fields of other formats sharing the instruction word
  logic unused_insn;
  assign unused_insn = ^{head_insn_i[31:24], head_insn_i[15:10], head_insn_i[7:0]};

endmodule
