// qmac_pkg: constants shared by the qmac RTL (operand and accumulator widths of the MAC array).
package qmac_pkg;

  // Width of a stored operand: an int8/uint8 value, or eight packed binary (+-1) lanes.
  localparam int unsigned DATA_W = 8;
  // Width of an operand inside the array: a zero-point-corrected value x - zp lies in
  // [-255, 255] for both int8 and uint8, so one extra bit.
  localparam int unsigned OP_W = DATA_W + 1;
  // Width of one PE product: OP_W x OP_W signed.
  localparam int unsigned PROD_W = 2 * OP_W;
  // Binary lanes per PE: one XNOR-popcount lane per operand bit.
  localparam int unsigned BIN_LANES = DATA_W;
  // Width of the accumulators at the array's output (wrap-around arithmetic).
  localparam int unsigned ACC_W = 32;

endpackage
