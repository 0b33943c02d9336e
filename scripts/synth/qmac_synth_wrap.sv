// qmac_synth_wrap: place-and-route harness for qmac_array with five pins (synthesis only).
//
// An FPGA has far fewer pins than the array has port bits, and nextpnr-ice40 has no
// out-of-context mode, so this wrapper feeds every array input from one serial shift register
// and folds every output into one registered XOR. Both ends are registered, so the timing that
// nextpnr reports is the array's own register-to-register timing, and every output bit still
// depends on all of its logic (nothing can be optimized away). The shift register moves only
// when shift_i is set, so its flops are never equivalent to the array's own delay lines (Yosys
// would merge those). Not part of the accelerator.
module qmac_synth_wrap #(
  parameter int unsigned Rows = 4,
  parameter int unsigned Cols = 4
) (
  input  logic clk_i,
  input  logic rst_ni,
  input  logic shift_i, // shift sin_i into the input register
  input  logic sin_i,   // serial stream that fills the array's inputs
  output logic sout_o   // parity of the array's outputs, registered
);

  localparam int unsigned DATA_W = qmac_pkg::DATA_W;
  localparam int unsigned ACC_W = qmac_pkg::ACC_W;
  localparam int unsigned RowIdxW = (Rows > 1) ? $clog2(Rows) : 1;
  // every array input except the clock and reset, concatenated in port order
  localparam int unsigned InW = 4 + DATA_W + 1 + Rows * DATA_W + 1 + RowIdxW + 1
                                + 2 * Cols * DATA_W + Cols * ACC_W;
  localparam int unsigned OutW = 1 + Cols * ACC_W;

  logic [InW-1:0]  in_q, in_d;
  logic [OutW-1:0] out;
  logic            sout_q, sout_d;

  always_comb begin
    in_d   = shift_i ? {in_q[InW-2:0], sin_i} : in_q;
    sout_d = ^out;
  end

  always_ff @(posedge clk_i) begin
    if (!rst_ni) begin
      in_q   <= '0;
      sout_q <= 1'b0;
    end else begin
      in_q   <= in_d;
      sout_q <= sout_d;
    end
  end

  qmac_array #(
    .Rows(Rows),
    .Cols(Cols)
  ) u_array (
    .clk_i       (clk_i),
    .rst_ni      (rst_ni),
    .act_valid_i (in_q[0]),
    .act_swap_i  (in_q[1]),
    .act_bin_i   (in_q[2]),
    .act_signed_i(in_q[3]),
    .act_zp_i    (in_q[4+:DATA_W]),
    .act_acc_i   (in_q[4+DATA_W]),
    .act_i       (in_q[5+DATA_W+:Rows*DATA_W]),
    .wgt_valid_i (in_q[5+DATA_W+Rows*DATA_W]),
    .wgt_row_i   (in_q[6+DATA_W+Rows*DATA_W+:RowIdxW]),
    .wgt_signed_i(in_q[6+DATA_W+Rows*DATA_W+RowIdxW]),
    .wgt_i       (in_q[7+DATA_W+Rows*DATA_W+RowIdxW+:Cols*DATA_W]),
    .wgt_zp_i    (in_q[7+DATA_W+Rows*DATA_W+RowIdxW+Cols*DATA_W+:Cols*DATA_W]),
    .acc_i       (in_q[7+DATA_W+Rows*DATA_W+RowIdxW+2*Cols*DATA_W+:Cols*ACC_W]),
    .out_valid_o (out[0]),
    .out_o       (out[1+:Cols*ACC_W])
  );

  assign sout_o = sout_q;

endmodule
