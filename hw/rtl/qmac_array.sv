// qmac_array: Rows x Cols weight-stationary systolic MAC array with int8 and binary modes.
//
// Row r of the array is reduction index k, column c is output channel n. One activation vector
// (Rows operands: one reduction slice of one output pixel) enters per cycle; Rows + Cols + 1
// cycles later one vector of Cols 32-bit sums leaves. The array skews the vector on the way in and
// de-skews the sums on the way out, so both ports carry whole vectors. The cycle-exact C model is
// sw/src/mac_array.c; the timing contract is in docs/architecture.md ("The MAC array").
//
// Vector ports are flat (Yosys 0.23 has no multi-dimensional packed arrays): element i of a vector
// of W-bit elements is bits [i*W +: W].
module qmac_array #(
  parameter int unsigned Rows = 16,
  parameter int unsigned Cols = 16,
  localparam int unsigned RowIdxW = (Rows > 1) ? $clog2(Rows) : 1
) (
  input  logic                     clk_i,
  input  logic                     rst_ni,
  // activation vector in (one per cycle)
  input  logic                     act_valid_i,
  input  logic                     act_swap_i,    // switch to the shadow weights from this vector on
  input  logic                     act_bin_i,     // binary mode: each byte is 8 packed +-1 lanes
  input  logic                     act_signed_i,  // int8 (1) or uint8 (0) activations
  input  logic [qmac_pkg::DATA_W-1:0]        act_zp_i,      // zero point subtracted from every activation
  input  logic                     act_acc_i,     // result = acc_i + sums (else the sums alone)
  input  logic [Rows*qmac_pkg::DATA_W-1:0]   act_i,
  // one row of shadow weights
  input  logic                     wgt_valid_i,
  input  logic [RowIdxW-1:0]       wgt_row_i,
  input  logic                     wgt_signed_i,  // int8 (1) or uint8 (0) weights
  input  logic [Cols*qmac_pkg::DATA_W-1:0]   wgt_i,
  input  logic [Cols*qmac_pkg::DATA_W-1:0]   wgt_zp_i,      // per-column (output channel) zero points
  // accumulators, sampled Rows + Cols cycles after the vector they are added to
  input  logic [Cols*qmac_pkg::ACC_W-1:0]    acc_i,
  // results
  output logic                     out_valid_o,
  output logic [Cols*qmac_pkg::ACC_W-1:0]    out_o
);

  // package constants (Yosys 0.23 accepts neither import form, so they are aliased)
  localparam int unsigned DATA_W = qmac_pkg::DATA_W;
  localparam int unsigned OP_W = qmac_pkg::OP_W;
  localparam int unsigned PROD_W = qmac_pkg::PROD_W;
  localparam int unsigned ACC_W = qmac_pkg::ACC_W;

  // exact column sums: Rows products of PROD_W bits
  localparam int unsigned PsumW = PROD_W + $clog2(Rows);
  // a slot travelling along a row: {valid, swap, bin, operand}
  localparam int unsigned SlotW = OP_W + 3;

  // x - zp with both extended to OP_W bits as signed or unsigned: always in [-255, 255]
  function automatic logic [OP_W-1:0] zp_correct(logic [DATA_W-1:0] x, logic [DATA_W-1:0] zp,
                                                 logic is_signed);
    zp_correct = {is_signed & x[DATA_W-1], x} - {is_signed & zp[DATA_W-1], zp};
  endfunction

  // ---------------------------------------------------------------------------------------------
  // Input stage: zero-point correction, registered
  // ---------------------------------------------------------------------------------------------
  logic [Rows*SlotW-1:0] edge_q, edge_d;

  always_comb begin
    for (int unsigned r = 0; r < Rows; r++) begin
      edge_d[r*SlotW+:SlotW] = {act_valid_i, act_swap_i, act_bin_i,
                                zp_correct(act_i[r*DATA_W+:DATA_W], act_zp_i, act_signed_i)};
    end
  end

  always_ff @(posedge clk_i) begin
    if (!rst_ni) begin
      edge_q <= '0;
    end else begin
      edge_q <= edge_d;
    end
  end

  // ---------------------------------------------------------------------------------------------
  // Grid: row r is delayed by r cycles, so PE(r, c) sees a vector r + c cycles after PE(0, 0)
  // ---------------------------------------------------------------------------------------------
  logic [Cols*OP_W-1:0] wgt_corr;
  logic [Rows-1:0]      wgt_we;

  always_comb begin
    for (int unsigned c = 0; c < Cols; c++) begin
      wgt_corr[c*OP_W+:OP_W] = zp_correct(wgt_i[c*DATA_W+:DATA_W], wgt_zp_i[c*DATA_W+:DATA_W],
                                          wgt_signed_i);
    end
    for (int unsigned r = 0; r < Rows; r++) begin
      wgt_we[r] = wgt_valid_i && (32'(wgt_row_i) == r);
    end
  end

  logic [Rows-1:0] unused_slot;

  // Each PE's inputs are its neighbours' generate-scoped outputs: g_row[r].g_col[c].slot_out goes
  // right, g_row[r].g_col[c].psum_out goes down. Separate signals per PE simulate faster than
  // slices of one flat vector.
  for (genvar r = 0; r < Rows; r++) begin : g_row
    logic [SlotW-1:0] slot_first;  // the slot entering PE(r, 0)

    qmac_delay #(
      .Width(SlotW),
      .Depth(r)
    ) u_skew (
      .clk_i (clk_i),
      .rst_ni(rst_ni),
      .d_i   (edge_q[r*SlotW+:SlotW]),
      .q_o   (slot_first)
    );

    for (genvar c = 0; c < Cols; c++) begin : g_col
      logic [SlotW-1:0] slot_in, slot_out;
      logic [PsumW-1:0] psum_in, psum_out;
      logic [OP_W-1:0]  pe_act;

      if (c == 0) begin : g_left
        assign slot_in = slot_first;
      end else begin : g_inner
        assign slot_in = g_row[r].g_col[c-1].slot_out;
      end
      if (r == 0) begin : g_top
        assign psum_in = '0;
      end else begin : g_below
        assign psum_in = g_row[r-1].g_col[c].psum_out;
      end

`ifdef QMAC_FAULT_INJECT
      // Deliberately broken build for the test suite's self-check: the PE in the middle of the
      // array has bits 0 and 1 of its activation input crossed.
      if (r == Rows / 2 && c == Cols / 2) begin : g_fault
        assign pe_act = {slot_in[OP_W-1:2], slot_in[0], slot_in[1]};
      end else begin : g_ok
        assign pe_act = slot_in[OP_W-1:0];
      end
`else
      assign pe_act = slot_in[OP_W-1:0];
`endif

      qmac_pe #(
        .PsumW(PsumW)
      ) u_pe (
        .clk_i   (clk_i),
        .rst_ni  (rst_ni),
        .valid_i (slot_in[OP_W+2]),
        .swap_i  (slot_in[OP_W+1]),
        .bin_i   (slot_in[OP_W]),
        .act_i   (pe_act),
        .valid_o (slot_out[OP_W+2]),
        .swap_o  (slot_out[OP_W+1]),
        .bin_o   (slot_out[OP_W]),
        .act_o   (slot_out[OP_W-1:0]),
        .psum_i  (psum_in),
        .psum_o  (psum_out),
        .wgt_we_i(wgt_we[r]),
        .wgt_i   (wgt_corr[c*OP_W+:OP_W])
      );
    end

    // the slot leaving the right edge has no consumer
    assign unused_slot[r] = ^g_row[r].g_col[Cols-1].slot_out;
  end

  // ---------------------------------------------------------------------------------------------
  // Output: de-skew the column sums, then add the accumulators (wrap-around, ACC_W bits)
  // ---------------------------------------------------------------------------------------------
  logic [Cols*PsumW-1:0] colsum;
  logic [1:0]            ctl;  // {valid, acc} of the vector whose sums are in colsum

  for (genvar c = 0; c < Cols; c++) begin : g_deskew
    qmac_delay #(
      .Width(PsumW),
      .Depth(Cols - 1 - c)
    ) u_deskew (
      .clk_i (clk_i),
      .rst_ni(rst_ni),
      .d_i   (g_row[Rows-1].g_col[c].psum_out),
      .q_o   (colsum[c*PsumW+:PsumW])
    );
  end

  qmac_delay #(
    .Width(2),
    .Depth(Rows + Cols)
  ) u_ctl (
    .clk_i (clk_i),
    .rst_ni(rst_ni),
    .d_i   ({act_valid_i, act_acc_i}),
    .q_o   (ctl)
  );

  logic                   out_valid_q, out_valid_d;
  logic [Cols*ACC_W-1:0]  out_q, out_d;

  always_comb begin
    out_valid_d = ctl[1];
    for (int unsigned c = 0; c < Cols; c++) begin
      out_d[c*ACC_W+:ACC_W] = '0;
      if (ctl[1]) begin
        out_d[c*ACC_W+:ACC_W] = (ctl[0] ? acc_i[c*ACC_W+:ACC_W] : '0)
                              + ACC_W'($signed(colsum[c*PsumW+:PsumW]));
      end
    end
  end

  always_ff @(posedge clk_i) begin
    if (!rst_ni) begin
      out_valid_q <= 1'b0;
      out_q       <= '0;
    end else begin
      out_valid_q <= out_valid_d;
      out_q       <= out_d;
    end
  end

  assign out_valid_o = out_valid_q;
  assign out_o       = out_q;

  logic unused;
  assign unused = ^unused_slot;

  // ---------------------------------------------------------------------------------------------
  // Assertions (elaboration)
  // ---------------------------------------------------------------------------------------------
  if (Rows < 1 || Cols < 1) begin : g_bad_shape
    $error("qmac_array: Rows and Cols must be at least 1");
  end
  if (PsumW > ACC_W) begin : g_bad_rows
    $error("qmac_array: Rows too large, column sums would not fit ACC_W bits");
  end

endmodule
