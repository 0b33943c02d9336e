// qmac_pe: weight-stationary processing element: one int8 MAC or 8 XNOR-popcount MACs per cycle.
//
// Activation slots move left to right and partial sums top to bottom, one PE per cycle. The PE
// holds an active weight and a shadow weight; a slot with swap_i set copies the shadow into the
// active weight and already uses the new weight itself. See docs/architecture.md for the timing.
module qmac_pe #(
  parameter int unsigned PsumW = qmac_pkg::PROD_W
) (
  input  logic                    clk_i,
  input  logic                    rst_ni,
  // activation slot from the left neighbour
  input  logic                    valid_i,
  input  logic                    swap_i,
  input  logic                    bin_i,
  input  logic [qmac_pkg::OP_W-1:0]         act_i,
  // the same slot, registered, to the right neighbour
  output logic                    valid_o,
  output logic                    swap_o,
  output logic                    bin_o,
  output logic [qmac_pkg::OP_W-1:0]         act_o,
  // partial sums
  input  logic [PsumW-1:0]        psum_i,
  output logic [PsumW-1:0]        psum_o,
  // shadow weight write
  input  logic                    wgt_we_i,
  input  logic [qmac_pkg::OP_W-1:0]         wgt_i
);

  // package constants (Yosys 0.23 accepts neither import form, so they are aliased)
  localparam int unsigned DATA_W = qmac_pkg::DATA_W;
  localparam int unsigned OP_W = qmac_pkg::OP_W;
  localparam int unsigned PROD_W = qmac_pkg::PROD_W;
  localparam int unsigned BIN_LANES = qmac_pkg::BIN_LANES;

  logic              valid_q, swap_q, bin_q;
  logic [OP_W-1:0]   act_q, wgt_q, wgt_d, shadow_q, shadow_d;
  logic [PsumW-1:0]  psum_q, psum_d;
  logic signed [PROD_W-1:0] prod_int, prod_bin, prod;
  logic [DATA_W-1:0] agree;
  logic [$clog2(BIN_LANES+1)-1:0] popcnt;

  always_comb begin
    // the slot that swaps uses the new weight
    wgt_d    = (valid_i && swap_i) ? shadow_q : wgt_q;
    shadow_d = wgt_we_i ? wgt_i : shadow_q;

    // int8 mode: signed OP_W x OP_W product, exact in PROD_W bits
    prod_int = PROD_W'($signed(act_i)) * PROD_W'($signed(wgt_d));

    // binary mode: lane i is +1 where activation and weight bits agree, -1 where they differ;
    // the sum of the 8 lanes is 2 * popcount(xnor) - 8
    agree  = ~(act_i[DATA_W-1:0] ^ wgt_d[DATA_W-1:0]);
    popcnt = '0;
    for (int unsigned i = 0; i < BIN_LANES; i++) begin
      popcnt = popcnt + {{($bits(popcnt) - 1) {1'b0}}, agree[i]};
    end
    prod_bin = $signed(PROD_W'({popcnt, 1'b0})) - $signed(PROD_W'(BIN_LANES));

    prod   = bin_i ? prod_bin : prod_int;
    // invalid slots carry zero partial sums, so idle cycles are deterministic
    psum_d = valid_i ? psum_i + PsumW'(prod) : '0;
  end

  always_ff @(posedge clk_i) begin
    if (!rst_ni) begin
      valid_q  <= 1'b0;
      swap_q   <= 1'b0;
      bin_q    <= 1'b0;
      act_q    <= '0;
      wgt_q    <= '0;
      shadow_q <= '0;
      psum_q   <= '0;
    end else begin
      valid_q  <= valid_i;
      swap_q   <= swap_i;
      bin_q    <= bin_i;
      act_q    <= act_i;
      wgt_q    <= wgt_d;
      shadow_q <= shadow_d;
      psum_q   <= psum_d;
    end
  end

  assign valid_o = valid_q;
  assign swap_o  = swap_q;
  assign bin_o   = bin_q;
  assign act_o   = act_q;
  assign psum_o  = psum_q;

  // Assertions
  initial begin
    if (PsumW < PROD_W) $error("qmac_pe: PsumW (%0d) must hold a product (%0d bits)", PsumW, PROD_W);
  end

endmodule
