// qmac_dma_burst: the AXI burst sequence of one LOAD or STORE (docs/microarch.md, "Load unit").
//
// The data rows of a DMA instruction form runs of contiguous bytes: a whole line (fixed z, y) of
// x_size rows when x_stride equals the row's bytes, else each row alone. A run is cut into bursts
// that end at the first of: the run's end, MaxBurst beats, a 4 KiB boundary. Beats are ArrayDim
// bytes; an ACC row is 4 beats. In the cycle with init_i the cursor shows the instruction's first
// burst (valid_o low when it has no data rows); next_i moves it to the following burst at the end
// of the cycle. The geometry inputs must hold still while the instruction runs. Addresses wrap
// modulo 2^32 (the window check keeps a legal instruction's bytes below 2^32).
module qmac_dma_burst #(
  parameter int unsigned ArrayDim = 16,
  parameter int unsigned MaxBurst = 16,
  localparam int unsigned LenW = $clog2(MaxBurst + 1)
) (
  input  logic            clk_i,
  input  logic            rst_ni,
  input  logic            init_i,   // this cycle starts an instruction
  input  logic [31:0]     dram_i,
  input  logic [15:0]     x_i,
  input  logic [15:0]     y_i,
  input  logic [15:0]     z_i,
  input  logic [31:0]     xs_i,
  input  logic [31:0]     ys_i,
  input  logic [31:0]     zs_i,
  input  logic            wide_i,   // ACC rows: 4 beats per row
  input  logic            next_i,   // the shown burst is done
  output logic            valid_o,  // a burst is shown
  output logic [31:0]     addr_o,
  output logic [LenW-1:0] len_o     // beats, 1 .. MaxBurst
);

  localparam int unsigned LogDim = $clog2(ArrayDim);
  localparam int unsigned RemW = 20;  // beats of one run: up to 65535 rows of 4 beats

  logic            valid_q, valid_d, cur_valid;
  logic [15:0]     xi_q, xi_d, yi_q, yi_d, zi_q, zi_d, cur_xi, cur_yi, cur_zi;
  logic [31:0]     plane_q, plane_d, line_q, line_d, row_q, row_d, addr_q, addr_d;
  logic [31:0]     cur_plane, cur_line, cur_row, cur_addr;
  logic [RemW-1:0] rem_q, rem_d, cur_rem;
  logic            contig;
  logic [RemW-1:0] row_beats, run_beats;
  logic [12:0]     to_4k;
  logic [RemW-1:0] len;

  always_comb begin
    row_beats = wide_i ? RemW'(4) : RemW'(1);
    contig    = (xs_i == (wide_i ? 32'(4 * ArrayDim) : 32'(ArrayDim)));
    run_beats = contig ? (wide_i ? RemW'({x_i, 2'b00}) : RemW'(x_i)) : row_beats;

    if (init_i) begin
      cur_valid = (x_i != '0) && (y_i != '0) && (z_i != '0);
      cur_xi    = '0;
      cur_yi    = '0;
      cur_zi    = '0;
      cur_plane = dram_i;
      cur_line  = dram_i;
      cur_row   = dram_i;
      cur_addr  = dram_i;
      cur_rem   = run_beats;
    end else begin
      cur_valid = valid_q;
      cur_xi    = xi_q;
      cur_yi    = yi_q;
      cur_zi    = zi_q;
      cur_plane = plane_q;
      cur_line  = line_q;
      cur_row   = row_q;
      cur_addr  = addr_q;
      cur_rem   = rem_q;
    end

    // the burst: up to the run's end, MaxBurst beats, the next 4 KiB boundary
    to_4k = (13'h1000 - {1'b0, cur_addr[11:0]}) >> LogDim;
    len   = cur_rem;
    if (len > RemW'(MaxBurst)) begin
      len = RemW'(MaxBurst);
    end
    if (len > RemW'(to_4k)) begin
      len = RemW'(to_4k);
    end

  end

  // next state (a separate block: next_i may depend on this cursor's outputs)
  always_comb begin
    valid_d = cur_valid;
    xi_d    = cur_xi;
    yi_d    = cur_yi;
    zi_d    = cur_zi;
    plane_d = cur_plane;
    line_d  = cur_line;
    row_d   = cur_row;
    addr_d  = cur_addr;
    rem_d   = cur_rem;
    if (next_i && cur_valid) begin
      addr_d = cur_addr + (32'(len) << LogDim);
      rem_d  = cur_rem - len;
      if (rem_d == '0) begin
        // the run is done: the next row (row runs) or the next line
        if (!contig && (cur_xi + 16'd1 != x_i)) begin
          xi_d   = cur_xi + 16'd1;
          row_d  = cur_row + xs_i;
          addr_d = cur_row + xs_i;
          rem_d  = row_beats;
        end else begin
          xi_d  = '0;
          rem_d = run_beats;
          if (cur_yi + 16'd1 != y_i) begin
            yi_d   = cur_yi + 16'd1;
            line_d = cur_line + ys_i;
            row_d  = cur_line + ys_i;
            addr_d = cur_line + ys_i;
          end else begin
            yi_d = '0;
            if (cur_zi + 16'd1 != z_i) begin
              zi_d    = cur_zi + 16'd1;
              plane_d = cur_plane + zs_i;
              line_d  = cur_plane + zs_i;
              row_d   = cur_plane + zs_i;
              addr_d  = cur_plane + zs_i;
            end else begin
              valid_d = 1'b0;
            end
          end
        end
      end
    end
  end

  always_ff @(posedge clk_i) begin
    if (!rst_ni) begin
      valid_q <= 1'b0;
      xi_q    <= '0;
      yi_q    <= '0;
      zi_q    <= '0;
      plane_q <= '0;
      line_q  <= '0;
      row_q   <= '0;
      addr_q  <= '0;
      rem_q   <= '0;
    end else begin
      valid_q <= valid_d;
      xi_q    <= xi_d;
      yi_q    <= yi_d;
      zi_q    <= zi_d;
      plane_q <= plane_d;
      line_q  <= line_d;
      row_q   <= row_d;
      addr_q  <= addr_d;
      rem_q   <= rem_d;
    end
  end

  assign valid_o = cur_valid;
  assign addr_o  = cur_addr;
  assign len_o   = LenW'(len);

  // Assertions (elaboration)
  if (ArrayDim < 4 || (ArrayDim & (ArrayDim - 1)) != 0 || MaxBurst < 1 || MaxBurst > 256) begin : g_bad
    $error("qmac_dma_burst: ArrayDim must be a power of two >= 4, MaxBurst in [1, 256]");
  end

endmodule
