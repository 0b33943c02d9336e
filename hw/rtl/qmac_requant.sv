// qmac_requant: post-processing unit: Lanes int32 accumulators + bias -> output bytes, 3 cycles.
//
// Lane l computes qmac_rq_lane() of sw/src/requant.c, whose comment in sw/include/qmac/requant.h
// is the normative definition (every input bit pattern, the three rules TFLITE / SINGLE / FLOAT
// and the output modes S8 / U8 / BIN). Everything sampled in cycle t (valid_i, the configuration
// and the lane inputs) gives valid_o = 1 and q_o in cycle t + 3; no stalls. q_o is zero while
// valid_o is 0. The configuration (rule, omode, zero point, clamp) may change every cycle.
//
// One signed 32 x 32 -> 64 multiplier per lane serves every rule:
//   stage 1  v = acc + bias; |v| normalised (leading one at bit 31, leading-zero count) for FLOAT;
//            v << left for TFLITE; shift decode
//   stage 2  the product: TFLITE (v << left) * mult + 2^30, SINGLE v * mult, FLOAT (mantissa of
//            (float)v) * (mantissa of the scale) with the int->float rounding folded in as an
//            addend; FLOAT exponent and special cases; BIN compare; clamp bounds - zp
//   stage 3  one rounding shift of the product for TFLITE (by 31 + right) and SINGLE; FLOAT
//            product rounding to 24 bits and to an integer; clamp, + zp
// Subnormal scales are not flushed: a subnormal scale times a nonzero v is a nonzero product below
// 2^-94, kept as "tiny" with its sign (it matters: with clamp_min - zp = 0 > clamp_max - zp a tiny
// negative product selects clamp_min, a zero one clamp_max).
//
// Vector ports are flat (Yosys 0.23 has no multi-dimensional packed arrays): lane l of a vector
// of W-bit elements is bits [l*W +: W].
module qmac_requant #(
  parameter int unsigned Lanes = 16
) (
  input  logic                               clk_i,
  input  logic                               rst_ni,       // synchronous: every register to 0
  input  logic                               valid_i,
  input  logic [qmac_pkg::RULE_BITS-1:0]     rule_i,       // qmac_pkg::RULE_*
  input  logic [qmac_pkg::OMODE_BITS-1:0]    omode_i,      // qmac_pkg::OMODE_*
  input  logic [qmac_pkg::DATA_W-1:0]        out_zp_i,     // int8 (S8) or uint8 (U8)
  input  logic [qmac_pkg::DATA_W-1:0]        clamp_min_i,  // int8 (S8) or uint8 (U8)
  input  logic [qmac_pkg::DATA_W-1:0]        clamp_max_i,  // int8 (S8) or uint8 (U8)
  input  logic [Lanes*qmac_pkg::ACC_W-1:0]   acc_i,        // int32 per lane
  input  logic [Lanes*qmac_pkg::ACC_W-1:0]   bias_i,       // int32 per lane
  input  logic [Lanes*qmac_pkg::ACC_W-1:0]   mult_i,       // Q31 multiplier, FLOAT: binary32 scale
  input  logic [Lanes*qmac_pkg::DATA_W-1:0]  shift_i,      // int8 exponent per lane
  output logic                               valid_o,
  output logic [Lanes*qmac_pkg::DATA_W-1:0]  q_o           // output byte per lane (BIN: 0 or 1)
);

  // package constants (Yosys 0.23 accepts neither import form, so they are aliased)
  localparam int unsigned DATA_W = qmac_pkg::DATA_W;
  localparam int unsigned ACC_W = qmac_pkg::ACC_W;
  localparam int unsigned RULE_BITS = qmac_pkg::RULE_BITS;
  localparam int unsigned OMODE_BITS = qmac_pkg::OMODE_BITS;
  localparam logic [RULE_BITS-1:0] RULE_TFLITE = qmac_pkg::RULE_TFLITE;
  localparam logic [RULE_BITS-1:0] RULE_SINGLE = qmac_pkg::RULE_SINGLE;
  localparam logic [RULE_BITS-1:0] RULE_FLOAT = qmac_pkg::RULE_FLOAT;
  localparam logic [OMODE_BITS-1:0] OMODE_S8 = qmac_pkg::OMODE_S8;
  localparam logic [OMODE_BITS-1:0] OMODE_BIN = qmac_pkg::OMODE_BIN;

  // Clamp bounds and results before the final clamp are compared as BoundW-bit signed numbers:
  // bounds - zp lie in [-255, 255], results are saturated to [-1024, 1023].
  localparam int unsigned BoundW = 12;
  // (written as casts of negative ints: Yosys 0.23 evaluates -12'(1024) as +1024)
  localparam logic [BoundW-1:0] YSatLo = BoundW'(-1024);
  localparam logic [BoundW-1:0] YSatHi = BoundW'(1023);
  // FLOAT product classes
  localparam logic [1:0] ClsZero = 2'd0;  // p is +-0 or NaN (NaN counts as 0)
  localparam logic [1:0] ClsTiny = 2'd1;  // 0 < |p| < 2^-94 (subnormal scale times v != 0)
  localparam logic [1:0] ClsBig = 2'd2;   // |p| is infinite
  localparam logic [1:0] ClsNorm = 2'd3;  // both operands normal and nonzero: see the exponent

  // ---------------------------------------------------------------------------------------------
  // Configuration pipeline (shared by the lanes)
  // ---------------------------------------------------------------------------------------------
  // stage 1: as sampled
  logic                  s1_valid_q;
  logic [RULE_BITS-1:0]  s1_rule_q;
  logic [OMODE_BITS-1:0] s1_omode_q;
  logic [DATA_W-1:0]     s1_zp_q, s1_lo_q, s1_hi_q;
  // stage 2: plus the bounds relative to the zero point (and negated, for negative FLOAT products)
  logic                  s2_valid_q;
  logic [RULE_BITS-1:0]  s2_rule_q;
  logic [OMODE_BITS-1:0] s2_omode_q;
  logic [DATA_W-1:0]     s2_zp_q, s2_lo_q, s2_hi_q;
  logic [BoundW-1:0]     s2_flo_q, s2_fhi_q, s2_nflo_q, s2_nfhi_q;
  logic [BoundW-1:0]     s2_flo_d, s2_fhi_d, s2_nflo_d, s2_nfhi_d;
  // stage 3: the outputs
  logic                  s3_valid_q;

  always_comb begin
    logic              is_s8;
    logic [BoundW-1:0] zp_x, lo_x, hi_x;
    is_s8     = (s1_omode_q == OMODE_S8);
    zp_x      = {{(BoundW - DATA_W) {is_s8 & s1_zp_q[DATA_W-1]}}, s1_zp_q};
    lo_x      = {{(BoundW - DATA_W) {is_s8 & s1_lo_q[DATA_W-1]}}, s1_lo_q};
    hi_x      = {{(BoundW - DATA_W) {is_s8 & s1_hi_q[DATA_W-1]}}, s1_hi_q};
    s2_flo_d  = lo_x - zp_x;
    s2_fhi_d  = hi_x - zp_x;
    s2_nflo_d = zp_x - lo_x;
    s2_nfhi_d = zp_x - hi_x;
  end

  always_ff @(posedge clk_i) begin
    if (!rst_ni) begin
      s1_valid_q <= 1'b0;
      s1_rule_q  <= '0;
      s1_omode_q <= '0;
      s1_zp_q    <= '0;
      s1_lo_q    <= '0;
      s1_hi_q    <= '0;
      s2_valid_q <= 1'b0;
      s2_rule_q  <= '0;
      s2_omode_q <= '0;
      s2_zp_q    <= '0;
      s2_lo_q    <= '0;
      s2_hi_q    <= '0;
      s2_flo_q   <= '0;
      s2_fhi_q   <= '0;
      s2_nflo_q  <= '0;
      s2_nfhi_q  <= '0;
      s3_valid_q <= 1'b0;
    end else begin
      s1_valid_q <= valid_i;
      s1_rule_q  <= rule_i;
      s1_omode_q <= omode_i;
      s1_zp_q    <= out_zp_i;
      s1_lo_q    <= clamp_min_i;
      s1_hi_q    <= clamp_max_i;
      s2_valid_q <= s1_valid_q;
      s2_rule_q  <= s1_rule_q;
      s2_omode_q <= s1_omode_q;
      s2_zp_q    <= s1_zp_q;
      s2_lo_q    <= s1_lo_q;
      s2_hi_q    <= s1_hi_q;
      s2_flo_q   <= s2_flo_d;
      s2_fhi_q   <= s2_fhi_d;
      s2_nflo_q  <= s2_nflo_d;
      s2_nfhi_q  <= s2_nfhi_d;
      s3_valid_q <= s2_valid_q;
    end
  end

  assign valid_o = s3_valid_q;

  // ---------------------------------------------------------------------------------------------
  // Lanes
  // ---------------------------------------------------------------------------------------------
  for (genvar l = 0; l < Lanes; l++) begin : g_lane
    // stage 1 registers
    logic [31:0]       s1_mx_q, s1_mx_d;      // TFLITE v << left, SINGLE / BIN v, FLOAT |v| normalised
    logic [31:0]       s1_mult_q;
    logic [4:0]        s1_lz_q, s1_lz_d;      // FLOAT: leading zeros of |v|
    logic              s1_vzero_q, s1_vzero_d;
    logic              s1_vneg_q, s1_vneg_d;
    logic [5:0]        s1_k_q, s1_k_d;        // product shift: TFLITE 31 + right, SINGLE 31 - shift
    logic              s1_inv_q;              // BIN: shift bit 0
    // stage 2 registers
    logic [63:0]       s2_prod_q, s2_prod_d;
    logic [9:0]        s2_ebase_q, s2_ebase_d; // FLOAT: unbiased exponent of |p| when prod[47] = 0
    logic [1:0]        s2_cls_q, s2_cls_d;
    logic              s2_psign_q, s2_psign_d;
    logic [5:0]        s2_k_q;
    logic              s2_bin_q, s2_bin_d;
    // stage 3 register: the output byte
    logic [DATA_W-1:0] s3_q_q, s3_q_d;

    // ----- stage 1: v = acc + bias; FLOAT: sign, |v| normalised; TFLITE: v << left -----------------
    always_comb begin
      logic [31:0]       acc, bias, v, v_m1, mag;
      logic signed [7:0] sh;
      logic signed [7:0] sh_tfl, sh_sgl;   // shift clamped to [-31, 31] and [-31, 30]
      acc  = acc_i[l*ACC_W+:32];
      bias = bias_i[l*ACC_W+:32];
      sh   = $signed(shift_i[l*DATA_W+:8]);
      v    = acc + bias;
      v_m1 = acc + bias + 32'hffff_ffff;  // -v = ~(v - 1), in parallel with v
      mag  = v[31] ? ~v_m1 : v;           // |v| (2^31 for INT32_MIN)

      // normalise |v|: shift the leading one to bit 31 in five steps, counting the zeros
      s1_lz_d = '0;
      if (mag[31:16] == '0) begin
        mag        = {mag[15:0], 16'd0};
        s1_lz_d[4] = 1'b1;
      end
      if (mag[31:24] == '0) begin
        mag        = {mag[23:0], 8'd0};
        s1_lz_d[3] = 1'b1;
      end
      if (mag[31:28] == '0) begin
        mag        = {mag[27:0], 4'd0};
        s1_lz_d[2] = 1'b1;
      end
      if (mag[31:30] == '0) begin
        mag        = {mag[29:0], 2'd0};
        s1_lz_d[1] = 1'b1;
      end
      if (!mag[31]) begin
        mag        = {mag[30:0], 1'b0};
        s1_lz_d[0] = 1'b1;
      end
      s1_vzero_d = ~mag[31];
      s1_vneg_d  = v[31];

      sh_tfl = sh > 8'sd31 ? 8'sd31 : sh < -8'sd31 ? -8'sd31 : sh;
      sh_sgl = sh > 8'sd30 ? 8'sd30 : sh < -8'sd31 ? -8'sd31 : sh;
      if (rule_i == RULE_SINGLE) begin
        s1_k_d = 6'(8'sd31 - sh_sgl);
      end else begin
        s1_k_d = 6'd31 + (sh_tfl[7] ? 6'(-sh_tfl) : 6'd0);
      end

      if (omode_i == OMODE_BIN || rule_i == RULE_SINGLE) begin
        s1_mx_d = v;
      end else if (rule_i == RULE_FLOAT) begin
        s1_mx_d = mag;
      end else begin
        s1_mx_d = v << (sh_tfl[7] ? 5'd0 : sh_tfl[4:0]);  // wraps modulo 2^32
      end
    end

    // ----- stage 2: the product, FLOAT exponent and class, BIN compare -----------------------------
    always_comb begin
      logic        is_float;
      logic [7:0]  exp_s;
      logic [22:0] man_s;
      logic [23:0] sig_s;
      logic        v_round;
      logic [31:0] mul_a, mul_b;
      logic [63:0] addend;
      is_float = (s1_rule_q == RULE_FLOAT);
      exp_s    = s1_mult_q[30:23];
      man_s    = s1_mult_q[22:0];
      sig_s    = {1'b1, man_s};
      // (float)v: the top 24 bits of the normalised |v|, rounded to nearest even. The rounding
      // increment is added as (top + 1) * sig = top * sig + sig, so it adds to the product.
      v_round  = s1_mx_q[7] & ((|s1_mx_q[6:0]) | s1_mx_q[8]);
      if (is_float) begin
        mul_a  = {8'd0, s1_mx_q[31:8]};
        mul_b  = {8'd0, sig_s};
        addend = v_round ? {40'd0, sig_s} : 64'd0;
      end else begin
        mul_a  = s1_mx_q;
        mul_b  = s1_mult_q;
        // TFLITE: SaturatingRoundingDoublingHighMul is floor((ab + 2^30) / 2^31) (stage 3)
        addend = (s1_rule_q == RULE_TFLITE) ? 64'h4000_0000 : 64'd0;
      end
      s2_prod_d = 64'($signed(mul_a)) * 64'($signed(mul_b)) + addend;

      // |p| = prod * 2^(31 - lz + exp_s - 173): below 2^(ebase + 1) when prod[47] = 0
      s2_ebase_d = 10'(exp_s) - 10'(s1_lz_q) - 10'd96;
      s2_psign_d = s1_vneg_q ^ s1_mult_q[31];
      if (exp_s == 8'hff) begin
        // NaN scale, or 0 * inf: NaN, which counts as 0; else an infinity
        s2_cls_d = (man_s != '0 || s1_vzero_q) ? ClsZero : ClsBig;
      end else if (s1_vzero_q || (exp_s == 8'd0 && man_s == '0)) begin
        s2_cls_d = ClsZero;
      end else if (exp_s == 8'd0) begin
        s2_cls_d = ClsTiny;
      end else begin
        s2_cls_d = ClsNorm;
      end
      if (s2_cls_d == ClsZero) begin
        s2_psign_d = 1'b0;
      end

      // BIN: stage 1 passed v itself
      s2_bin_d = ($signed(s1_mx_q) < $signed(s1_mult_q)) ^ s1_inv_q;
    end

    // ----- stage 3: rounding, clamp, zero point --------------------------------------------------
    always_comb begin
      logic                    is_tfl, is_float;
      // TFLITE / SINGLE
      logic [31:0]             srdhm, below_mask;
      logic [4:0]              right;     // TFLITE: the RoundingDivideByPOT exponent
      logic signed [64:0]      shifted;   // {x, 0} >>> k: the quotient and the half bit below it
      logic [63:0]             quot;
      logic                    round_up, fits;
      logic signed [BoundW-1:0] y_int;
      // FLOAT
      logic                    hi_bit, guard, sticky, inc24;
      logic [23:0]             sig_p;
      logic [9:0]              ep;
      logic [4:0]              pos;       // the half bit's position in sig_p, 14..24
      logic [25:0]             sig_w, low_mask, low_bits;
      logic [9:0]              at_half;   // {floor(|p|), half bit} before the rounding carry
      logic                    all_ones;
      logic [10:0]             fl_h;      // {floor(|p|), half bit} after the 24-bit rounding
      logic [9:0]              fl;
      logic                    half, rest;
      logic [BoundW-1:0]       fl_x, ceil_x;
      logic [DATA_W-1:0]       near, f_mid;  // only the low byte of round(p) reaches q_o
      logic                    f_lt, f_gt;
      // result
      logic                    lt, gt;
      logic [DATA_W-1:0]       mid, res;

      is_tfl   = (s2_rule_q == RULE_TFLITE);
      is_float = (s2_rule_q == RULE_FLOAT);

      // TFLITE: srdhm = floor(prod / 2^31), then RoundingDivideByPOT by right (half away from
      // zero): floor(srdhm / 2^right) = floor(prod / 2^(31 + right)), the half bit is
      // prod[30 + right] (none when right = 0) and the rest of srdhm below it decides ties.
      // INT32_MIN * INT32_MIN needs no saturation here: srdhm = 2^31 instead of INT32_MAX stays
      // positive in the 64-bit shift, its half bit is 0 for right >= 1, and every right gives
      // the y of INT32_MAX (2^(31 - right); for right = 0 both lie far above every clamp bound).
      // SINGLE: floor(prod / 2^k) + the half bit (half up). Results beyond [-1024, 1023]
      // saturate: the clamp bounds lie well inside.
      srdhm      = s2_prod_q[62:31];
      right      = 5'(s2_k_q - 6'd31);
      shifted    = $signed({s2_prod_q, 1'b0}) >>> s2_k_q;
      quot       = shifted[64:1];
      below_mask = ((32'd1 << right) - 32'd1) >> 1;
      if (is_tfl) begin
        round_up = shifted[0] & (right != 5'd0) & (~srdhm[31] | (|(srdhm & below_mask)));
      end else begin
        round_up = shifted[0];
      end
      fits       = (quot[63:10] == {54{quot[63]}});
      if (fits) begin
        y_int = $signed(BoundW'($signed(quot[10:0]))) + $signed(BoundW'(round_up));
      end else begin
        y_int = quot[63] ? YSatLo : YSatHi;
      end

      // FLOAT: prod = sig(v) * sig(scale) in [2^46, 2^48): round to 24 bits (nearest even), then
      // |p| = sig_p * 2^(ep - 23). Only floor(|p|), the half bit and whether anything lies below
      // it decide the result, so they are taken from sig_p, and the 24-bit rounding's carry is
      // added where it lands.
      hi_bit   = s2_prod_q[47];
      sig_p    = hi_bit ? s2_prod_q[47:24] : s2_prod_q[46:23];
      guard    = hi_bit ? s2_prod_q[23] : s2_prod_q[22];
      sticky   = hi_bit ? |s2_prod_q[22:0] : |s2_prod_q[21:0];
      inc24    = guard & (sticky | sig_p[0]);
      ep       = s2_ebase_q + {9'd0, hi_bit};
      pos      = 5'(10'd22 - ep);         // for ep in [-2, 8]
      sig_w    = {2'b00, sig_p};
      at_half  = 10'(sig_w >> pos);
      low_mask = (26'd1 << pos) - 26'd1;
      low_bits = sig_w & low_mask;
      all_ones = (low_bits == low_mask);  // then the rounding increment carries into the half bit
      fl_h     = {1'b0, at_half} + {10'd0, inc24 & all_ones};
      fl       = fl_h[10:1];
      half     = fl_h[0];
      rest     = inc24 ? ~all_ones : (|low_bits);
      if (s2_cls_q == ClsZero) begin
        fl   = '0;
        half = 1'b0;
        rest = 1'b0;
      end else if (s2_cls_q == ClsTiny || (s2_cls_q == ClsNorm && $signed(ep) <= -10'sd3)) begin
        fl   = '0;      // 0 < |p| <= 2^-2
        half = 1'b0;
        rest = 1'b1;
      end else if (s2_cls_q == ClsBig || $signed(ep) >= 10'sd9) begin
        fl   = 10'd511; // |p| >= 512, beyond every bound
        half = 1'b0;
        rest = 1'b0;
      end
      fl_x   = BoundW'(fl);
      ceil_x = fl_x + {{(BoundW - 1) {1'b0}}, half | rest};
      near   = fl[DATA_W-1:0] + {{(DATA_W - 1) {1'b0}}, half & (rest | fl[0])};  // half to even
      // p < lo - zp  <=>  floor(p) < lo - zp;  p > hi - zp  <=>  ceil(p) > hi - zp
      if (s2_psign_q) begin
        f_lt  = $signed(ceil_x) > $signed(s2_nflo_q);   // -ceil(|p|) < flo
        f_gt  = $signed(fl_x) < $signed(s2_nfhi_q);     // -floor(|p|) > fhi
        f_mid = -near;
      end else begin
        f_lt  = $signed(fl_x) < $signed(s2_flo_q);
        f_gt  = $signed(ceil_x) > $signed(s2_fhi_q);
        f_mid = near;
      end

      if (is_float) begin
        lt  = f_lt;
        gt  = f_gt;
        mid = f_mid;
      end else begin
        lt  = y_int < $signed(s2_flo_q);
        gt  = y_int > $signed(s2_fhi_q);
        mid = y_int[DATA_W-1:0];
      end
      res = lt ? s2_lo_q : gt ? s2_hi_q : mid + s2_zp_q;

      s3_q_d = '0;
      if (s2_valid_q) begin
        s3_q_d = (s2_omode_q == OMODE_BIN) ? DATA_W'(s2_bin_q) : res;
      end
    end

    always_ff @(posedge clk_i) begin
      if (!rst_ni) begin
        s1_mx_q    <= '0;
        s1_mult_q  <= '0;
        s1_lz_q    <= '0;
        s1_vzero_q <= 1'b0;
        s1_vneg_q  <= 1'b0;
        s1_k_q     <= '0;
        s1_inv_q   <= 1'b0;
        s2_prod_q  <= '0;
        s2_ebase_q <= '0;
        s2_cls_q   <= '0;
        s2_psign_q <= 1'b0;
        s2_k_q     <= '0;
        s2_bin_q   <= 1'b0;
        s3_q_q     <= '0;
      end else begin
        s1_mx_q    <= s1_mx_d;
        s1_mult_q  <= mult_i[l*ACC_W+:32];
        s1_lz_q    <= s1_lz_d;
        s1_vzero_q <= s1_vzero_d;
        s1_vneg_q  <= s1_vneg_d;
        s1_k_q     <= s1_k_d;
        s1_inv_q   <= shift_i[l*DATA_W];
        s2_prod_q  <= s2_prod_d;
        s2_ebase_q <= s2_ebase_d;
        s2_cls_q   <= s2_cls_d;
        s2_psign_q <= s2_psign_d;
        s2_k_q     <= s1_k_q;
        s2_bin_q   <= s2_bin_d;
        s3_q_q     <= s3_q_d;
      end
    end

    assign q_o[l*DATA_W+:DATA_W] = s3_q_q;
  end

  // ---------------------------------------------------------------------------------------------
  // Assertions (elaboration)
  // ---------------------------------------------------------------------------------------------
  if (Lanes < 1) begin : g_bad_lanes
    $error("qmac_requant: Lanes must be at least 1");
  end
  if (ACC_W != 32 || DATA_W != 8) begin : g_bad_widths
    $error("qmac_requant: the arithmetic is int32 / binary32 to 8 bits (ACC_W 32, DATA_W 8)");
  end

endmodule
