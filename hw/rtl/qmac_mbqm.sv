// qmac_mbqm: TFLite MultiplyByQuantizedMultiplier (requantization rule TFLITE), combinational.
//
// y = RoundingDivideByPOT(SaturatingRoundingDoublingHighMul(x << left, qm), right), gemmlowp's two
// roundings, with s = shift_i (int8) clamped to [-31, 31], left = max(s, 0), right = max(-s, 0);
// the left shift wraps modulo 2^32. Bit-exact with qmac_mbqm(x, qm, clamp(shift, -31, 31)) of
// sw/src/requant.c for every input bit pattern (qmac_requant pipelines the same steps).
// prod_lo_o is the low word of (x << left) * qm: x * qm mod 2^32 when shift_i <= 0, which is how
// the vector unit's MUL shares this multiplier.
module qmac_mbqm (
  input  logic [31:0] x_i,
  input  logic [31:0] qm_i,
  input  logic [7:0]  shift_i,  // int8 exponent, > 0 shifts left
  output logic [31:0] y_o,
  output logic [31:0] prod_lo_o
);

  logic signed [7:0]  shift_c;   // shift_i clamped to [-31, 31]
  logic [4:0]         left, right;
  logic [31:0]        xs;        // x << left, wrapped
  logic [63:0]        prod;      // xs * qm + 2^30
  logic [31:0]        srdhm;     // SaturatingRoundingDoublingHighMul(xs, qm)
  logic signed [32:0] quot_half; // {srdhm, 0} >>> right: the quotient and the half bit below it
  logic [31:0]        below_mask;
  logic               round_up;
  logic [30:0]        unused_prod;  // below the high word

  always_comb begin
    shift_c = $signed(shift_i);
    if ($signed(shift_i) > 8'sd31) begin
      shift_c = 8'sd31;
    end else if ($signed(shift_i) < -8'sd31) begin
      shift_c = -8'sd31;
    end
    left  = shift_c[7] ? 5'd0 : shift_c[4:0];
    right = shift_c[7] ? 5'(-shift_c) : 5'd0;
    xs    = x_i << left;

    // gemmlowp adds 2^30 (ab >= 0) or 1 - 2^30 (ab < 0) and divides by 2^31 truncating toward
    // zero; for integers both are floor((ab + 2^30) / 2^31). Only INT32_MIN * INT32_MIN = 2^62
    // overflows (bits 63:62 = 01) and saturates to INT32_MAX.
    prod  = 64'($signed(xs)) * 64'($signed(qm_i)) + 64'h4000_0000;
    srdhm = (prod[63:62] == 2'b01) ? 32'h7fff_ffff : prod[62:31];

    // RoundingDivideByPOT: floor(srdhm / 2^right), plus one when the bits shifted out are more
    // than half (or exactly half for srdhm >= 0): round half away from zero
    quot_half  = $signed({srdhm, 1'b0}) >>> right;
    below_mask = ((32'd1 << right) - 32'd1) >> 1;  // the bits below the half bit
    round_up   = quot_half[0] & (~srdhm[31] | (|(srdhm & below_mask)));
    y_o        = quot_half[32:1] + {31'd0, round_up};
    prod_lo_o  = prod[31:0] - 32'h4000_0000;
  end

  assign unused_prod = prod[30:0];

endmodule
