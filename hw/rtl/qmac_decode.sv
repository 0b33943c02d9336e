// qmac_decode: combinational decode and fault check of one 256-bit instruction.
//
// The checks, their order and their ranges are those of qmac_insn_check() in sw/src/isa.c
// (docs/isa.md "Faults"): OPCODE, FIELD (reserved bits through qmac_pkg::RSVD_<FMT>, enum
// ranges, CONFIG clamp_min > clamp_max), ALIGN, BUF_RANGE, WINDOW. The footprint (up to four
// ranges of buffer rows or memory bytes, half open [lo, end)) is qmac_insn_footprint(), slot by
// slot in the C order with empty slots skipped; the port bits are docs/microarch.md's "Ports
// used". All sums and products are 64 bits wide, so nothing wraps. Loop O (GEMM, POST) and loop B
// (VALU) share one datapath, and the count of data rows is only tested for zero: no multiplier is
// built twice for instructions that never need both.
//
// Footprint slots:  LOAD/STORE  0 buffer rows, 1 memory bytes
//                   GEMM        0 WGT tile, 1 INP, 2 ACC (write), 3 OUT (write, post)
//                   POST        0 ACC, 1 OUT (write)       PARAM  0 ACC (3 rows)
//                   VALU        0 A, 1 B (when read), 2 dst (write)
// ports_o: bit b = R(buffer b), bit 4 + b = W(buffer b) (b = qmac_pkg::BUF_*).
module qmac_decode #(
  parameter int unsigned ArrayDim = qmac_pkg::CFG_ARRAY_DIM,
  parameter int unsigned InpRows = qmac_pkg::CFG_INP_ROWS,
  parameter int unsigned WgtRows = qmac_pkg::CFG_WGT_ROWS,
  parameter int unsigned AccRows = qmac_pkg::CFG_ACC_ROWS,
  parameter int unsigned OutRows = qmac_pkg::CFG_OUT_ROWS
) (
  input  logic [255:0] insn_i,
  input  logic [31:0]  win_lo_i,         // window: bytes [win_lo_i, win_hi_i] may be accessed
  input  logic [31:0]  win_hi_i,
  output logic [7:0]   op_o,
  output logic [2:0]   fault_o,          // qmac_pkg::FAULT_*
  output logic         ok_o,             // fault_o == FAULT_NONE
  output logic [1:0]   unit_o,           // 0 dispatcher (NOP/END/FENCE, bad opcode), 1 load, 2 store, 3 compute
  output logic [3:0]   rng_valid_o,      // slot k holds a range
  output logic [11:0]  rng_space_o,      // [k*3 +: 3]: qmac_pkg::BUF_* or 4 (memory)
  output logic [3:0]   rng_write_o,      // slot k is written (and possibly read)
  output logic [255:0] rng_lo_o,         // [k*64 +: 64]
  output logic [255:0] rng_end_o,        // [k*64 +: 64], exclusive
  output logic [7:0]   ports_o,
  output logic [31:0]  loop_len_o,       // GEMM/POST/VALU: count0 * count1; PARAM: 3; else 0
  output logic [63:0]  dma_rows_o        // LOAD/STORE: buffer rows (padding included)
);

  // package constants (Yosys 0.23 accepts neither import form, so they are aliased)
  localparam logic [7:0] OP_NOP = qmac_pkg::OP_NOP;
  localparam logic [7:0] OP_END = qmac_pkg::OP_END;
  localparam logic [7:0] OP_FENCE = qmac_pkg::OP_FENCE;
  localparam logic [7:0] OP_CONFIG = qmac_pkg::OP_CONFIG;
  localparam logic [7:0] OP_LOAD = qmac_pkg::OP_LOAD;
  localparam logic [7:0] OP_STORE = qmac_pkg::OP_STORE;
  localparam logic [7:0] OP_GEMM = qmac_pkg::OP_GEMM;
  localparam logic [7:0] OP_POST = qmac_pkg::OP_POST;
  localparam logic [7:0] OP_PARAM = qmac_pkg::OP_PARAM;
  localparam logic [7:0] OP_VALU = qmac_pkg::OP_VALU;
  localparam int unsigned OP_COUNT = qmac_pkg::OP_COUNT;
  localparam int unsigned ALU_COUNT = qmac_pkg::ALU_COUNT;
  localparam logic [2:0] FAULT_NONE = qmac_pkg::FAULT_NONE;
  localparam logic [2:0] FAULT_OPCODE = qmac_pkg::FAULT_OPCODE;
  localparam logic [2:0] FAULT_FIELD = qmac_pkg::FAULT_FIELD;
  localparam logic [2:0] FAULT_BUF_RANGE = qmac_pkg::FAULT_BUF_RANGE;
  localparam logic [2:0] FAULT_WINDOW = qmac_pkg::FAULT_WINDOW;
  localparam logic [2:0] FAULT_ALIGN = qmac_pkg::FAULT_ALIGN;
  localparam logic [1:0] BUF_INP = qmac_pkg::BUF_INP;
  localparam logic [1:0] BUF_WGT = qmac_pkg::BUF_WGT;
  localparam logic [1:0] BUF_ACC = qmac_pkg::BUF_ACC;
  localparam logic [1:0] BUF_OUT = qmac_pkg::BUF_OUT;
  localparam logic [1:0] OMODE_S8 = qmac_pkg::OMODE_S8;
  localparam logic [1:0] OMODE_BIN = qmac_pkg::OMODE_BIN;
  localparam logic [1:0] ABUF_INP = qmac_pkg::ABUF_INP;
  localparam logic [1:0] ABUF_OUT = qmac_pkg::ABUF_OUT;
  localparam logic [3:0] ALU_MOV = qmac_pkg::ALU_MOV;
  localparam logic [255:0] RSVD_NOP = qmac_pkg::RSVD_NOP;
  localparam logic [255:0] RSVD_END = qmac_pkg::RSVD_END;
  localparam logic [255:0] RSVD_FENCE = qmac_pkg::RSVD_FENCE;
  localparam logic [255:0] RSVD_CONFIG = qmac_pkg::RSVD_CONFIG;
  localparam logic [255:0] RSVD_LOAD = qmac_pkg::RSVD_LOAD;
  localparam logic [255:0] RSVD_STORE = qmac_pkg::RSVD_STORE;
  localparam logic [255:0] RSVD_GEMM = qmac_pkg::RSVD_GEMM;
  localparam logic [255:0] RSVD_POST = qmac_pkg::RSVD_POST;
  localparam logic [255:0] RSVD_PARAM = qmac_pkg::RSVD_PARAM;
  localparam logic [255:0] RSVD_VALU = qmac_pkg::RSVD_VALU;

  localparam logic [2:0] SPACE_MEM = 3'd4;
  localparam logic [1:0] UNIT_DISP = 2'd0;
  localparam logic [1:0] UNIT_LOAD = 2'd1;
  localparam logic [1:0] UNIT_STORE = 2'd2;
  localparam logic [1:0] UNIT_COMPUTE = 2'd3;
  localparam logic [63:0] DIM = 64'(ArrayDim);
  // bits of ports_o
  localparam int unsigned PortRInp = 0;
  localparam int unsigned PortRWgt = 1;
  localparam int unsigned PortRAcc = 2;
  localparam int unsigned PortWAcc = 6;
  localparam int unsigned PortWOut = 7;

  // Field positions shared by several formats (checked at elaboration below): the DMA view of
  // LOAD and STORE, and four two-level row loops of GEMM, POST and VALU with the same counts.
  localparam int unsigned DmaBufLsb = qmac_pkg::LOAD_BUF_LSB;
  localparam int unsigned DmaDramLsb = qmac_pkg::LOAD_DRAM_LSB;
  localparam int unsigned DmaSramLsb = qmac_pkg::LOAD_SRAM_LSB;
  localparam int unsigned DmaXLsb = qmac_pkg::LOAD_X_SIZE_LSB;
  localparam int unsigned DmaYLsb = qmac_pkg::LOAD_Y_SIZE_LSB;
  localparam int unsigned DmaZLsb = qmac_pkg::LOAD_Z_SIZE_LSB;
  localparam int unsigned DmaXsLsb = qmac_pkg::LOAD_X_STRIDE_LSB;
  localparam int unsigned DmaYsLsb = qmac_pkg::LOAD_Y_STRIDE_LSB;
  localparam int unsigned DmaZsLsb = qmac_pkg::LOAD_Z_STRIDE_LSB;
  localparam int unsigned Count0Lsb = qmac_pkg::GEMM_COUNT0_LSB;
  localparam int unsigned Count1Lsb = qmac_pkg::GEMM_COUNT1_LSB;
  // loop A: GEMM inp / VALU a; loop C: GEMM, POST acc / VALU dst / PARAM acc;
  // loop O: GEMM, POST out; loop B: VALU b
  localparam int unsigned LaBase = qmac_pkg::GEMM_INP_LSB;
  localparam int unsigned LaS0 = qmac_pkg::GEMM_INP_S0_LSB;
  localparam int unsigned LaS1 = qmac_pkg::GEMM_INP_S1_LSB;
  localparam int unsigned LcBase = qmac_pkg::GEMM_ACC_LSB;
  localparam int unsigned LcS0 = qmac_pkg::GEMM_ACC_S0_LSB;
  localparam int unsigned LcS1 = qmac_pkg::GEMM_ACC_S1_LSB;
  localparam int unsigned LoBase = qmac_pkg::GEMM_OUT_LSB;
  localparam int unsigned LoS0 = qmac_pkg::GEMM_OUT_S0_LSB;
  localparam int unsigned LoS1 = qmac_pkg::GEMM_OUT_S1_LSB;
  localparam int unsigned LbBase = qmac_pkg::VALU_B_LSB;
  localparam int unsigned LbS0 = qmac_pkg::VALU_B_S0_LSB;
  localparam int unsigned LbS1 = qmac_pkg::VALU_B_S1_LSB;

  function automatic logic [63:0] loop_last(logic [15:0] base, logic [15:0] s0, logic [15:0] s1,
                                            logic [15:0] c0, logic [15:0] c1);
    logic [15:0] n0, n1;  // trip counts - 1 (used only when both counts are >= 1)
    n0        = c0 - 16'd1;
    n1        = c1 - 16'd1;
    loop_last = 64'(base) + 64'(n0) * 64'(s0) + 64'(n1) * 64'(s1);
  endfunction

  function automatic logic [63:0] depth_of(logic [2:0] space);
    case (space)
      3'd0:    depth_of = 64'(InpRows);
      3'd1:    depth_of = 64'(WgtRows);
      3'd2:    depth_of = 64'(AccRows);
      3'd3:    depth_of = 64'(OutRows);
      default: depth_of = '0;
    endcase
  endfunction

  logic [7:0]   op;
  logic [255:0] rsvd;
  logic         known, bad_field, bad_align, bad_range, bad_window;
  // DMA view
  logic [1:0]   dbuf;
  logic [31:0]  dram, xs, ys, zs;
  logic [15:0]  sram, xsz, ysz, zsz, xm1, ym1, zm1;
  logic [7:0]   px0, px1, py0, py1;
  logic [63:0]  total_rows, row_bytes, mem_last;
  logic         data_rows;                 // some rows carry memory data (x, y, z sizes >= 1)
  // loops
  logic [15:0]  c0, c1;
  logic         loops;
  logic [63:0]  la_last, lc_last, lx_last;  // loops A, C and X = O (GEMM, POST) or B (VALU)
  logic         x_is_b;
  // VALU
  logic [3:0]   alu;
  logic [1:0]   abuf;
  logic [2:0]   abuf_space;
  logic         read_b;

  always_comb begin
    op    = insn_i[7:0];
    known = (32'(op) < OP_COUNT);

    // ----- FIELD: reserved bits, enum ranges, CONFIG clamp order ------------------------------
    case (op)
      OP_NOP:    rsvd = RSVD_NOP;
      OP_END:    rsvd = RSVD_END;
      OP_FENCE:  rsvd = RSVD_FENCE;
      OP_CONFIG: rsvd = RSVD_CONFIG;
      OP_LOAD:   rsvd = RSVD_LOAD;
      OP_STORE:  rsvd = RSVD_STORE;
      OP_GEMM:   rsvd = RSVD_GEMM;
      OP_POST:   rsvd = RSVD_POST;
      OP_PARAM:  rsvd = RSVD_PARAM;
      OP_VALU:   rsvd = RSVD_VALU;
      default:   rsvd = '0;
    endcase
    alu    = insn_i[qmac_pkg::VALU_ALU_LSB+:4];
    abuf   = insn_i[qmac_pkg::VALU_A_BUF_LSB+:2];
    read_b = !insn_i[qmac_pkg::VALU_B_IMM_LSB] && (alu != ALU_MOV);
    bad_field = |(insn_i & rsvd);
    if (op == OP_CONFIG) begin
      logic [1:0] rule, omode;
      logic [7:0] cmin, cmax;
      rule  = insn_i[qmac_pkg::CONFIG_RULE_LSB+:2];
      omode = insn_i[qmac_pkg::CONFIG_OMODE_LSB+:2];
      cmin  = insn_i[qmac_pkg::CONFIG_CLAMP_MIN_LSB+:8];
      cmax  = insn_i[qmac_pkg::CONFIG_CLAMP_MAX_LSB+:8];
      if (32'(rule) >= qmac_pkg::RULE_COUNT || 32'(omode) >= qmac_pkg::OMODE_COUNT) begin
        bad_field = 1'b1;
      end
      if (omode != OMODE_BIN) begin
        if (omode == OMODE_S8 ? ($signed(cmin) > $signed(cmax)) : (cmin > cmax)) begin
          bad_field = 1'b1;
        end
      end
    end
    if (op == OP_VALU) begin
      if (32'(alu) >= ALU_COUNT || 32'(abuf) >= qmac_pkg::ABUF_COUNT) begin
        bad_field = 1'b1;
      end
    end

    // ----- LOAD / STORE geometry ---------------------------------------------------------------
    dbuf = insn_i[DmaBufLsb+:2];
    dram = insn_i[DmaDramLsb+:32];
    sram = insn_i[DmaSramLsb+:16];
    xsz  = insn_i[DmaXLsb+:16];
    ysz  = insn_i[DmaYLsb+:16];
    zsz  = insn_i[DmaZLsb+:16];
    xs   = insn_i[DmaXsLsb+:32];
    ys   = insn_i[DmaYsLsb+:32];
    zs   = insn_i[DmaZsLsb+:32];
    if (op == OP_LOAD) begin
      px0 = insn_i[qmac_pkg::LOAD_PAD_X0_LSB+:8];
      px1 = insn_i[qmac_pkg::LOAD_PAD_X1_LSB+:8];
      py0 = insn_i[qmac_pkg::LOAD_PAD_Y0_LSB+:8];
      py1 = insn_i[qmac_pkg::LOAD_PAD_Y1_LSB+:8];
    end else begin
      px0 = '0;
      px1 = '0;
      py0 = '0;
      py1 = '0;
    end
    total_rows = 64'(zsz) * (64'(py0) + 64'(ysz) + 64'(py1)) * (64'(px0) + 64'(xsz) + 64'(px1));
    data_rows  = (zsz != '0) && (ysz != '0) && (xsz != '0);
    row_bytes  = (dbuf == BUF_ACC) ? 4 * DIM : DIM;
    xm1        = xsz - 16'd1;
    ym1        = ysz - 16'd1;
    zm1        = zsz - 16'd1;
    mem_last   = 64'(dram) + 64'(zm1) * 64'(zs) + 64'(ym1) * 64'(ys) + 64'(xm1) * 64'(xs);
    bad_align  = ((op == OP_LOAD) || (op == OP_STORE))
              && (|((dram | xs | ys | zs) & 32'(ArrayDim - 1)));

    // ----- row loops -----------------------------------------------------------------------------
    c0      = insn_i[Count0Lsb+:16];
    c1      = insn_i[Count1Lsb+:16];
    loops   = (c0 != '0) && (c1 != '0);
    la_last = loop_last(insn_i[LaBase+:16], insn_i[LaS0+:16], insn_i[LaS1+:16], c0, c1);
    lc_last = loop_last(insn_i[LcBase+:16], insn_i[LcS0+:16], insn_i[LcS1+:16], c0, c1);
    x_is_b  = (op == OP_VALU);
    lx_last = loop_last(x_is_b ? insn_i[LbBase+:16] : insn_i[LoBase+:16],  // operands muxed:
                        x_is_b ? insn_i[LbS0+:16] : insn_i[LoS0+:16],      // one datapath
                        x_is_b ? insn_i[LbS1+:16] : insn_i[LoS1+:16], c0, c1);
    case (abuf)
      ABUF_INP: abuf_space = {1'b0, BUF_INP};
      ABUF_OUT: abuf_space = {1'b0, BUF_OUT};
      default:  abuf_space = {1'b0, BUF_ACC};
    endcase

    // ----- footprint, ports, unit ---------------------------------------------------------------
    rng_valid_o     = '0;
    rng_space_o     = '0;
    rng_write_o     = '0;
    rng_lo_o        = '0;
    rng_end_o       = '0;
    ports_o         = '0;
    unit_o          = UNIT_DISP;
    loop_len_o      = '0;
    dma_rows_o      = '0;
    case (op)
      OP_LOAD, OP_STORE: begin
        unit_o             = (op == OP_LOAD) ? UNIT_LOAD : UNIT_STORE;
        dma_rows_o         = total_rows;
        rng_valid_o[0]     = (total_rows != '0);
        rng_space_o[0+:3]  = {1'b0, dbuf};
        rng_write_o[0]     = (op == OP_LOAD);
        rng_lo_o[0+:64]    = 64'(sram);
        rng_end_o[0+:64]   = 64'(sram) + total_rows;
        rng_valid_o[1]     = data_rows;
        rng_space_o[3+:3]  = SPACE_MEM;
        rng_write_o[1]     = (op == OP_STORE);
        rng_lo_o[64+:64]   = 64'(dram);
        rng_end_o[64+:64]  = mem_last + row_bytes;
        ports_o[(op == OP_LOAD ? 4 : 0) + 32'(dbuf)] = 1'b1;
      end
      OP_GEMM: begin
        unit_o              = UNIT_COMPUTE;
        loop_len_o          = 32'(c0) * 32'(c1);
        rng_valid_o         = {insn_i[qmac_pkg::GEMM_POST_LSB] & loops, loops, loops, loops};
        rng_space_o         = {1'b0, BUF_OUT, 1'b0, BUF_ACC, 1'b0, BUF_INP, 1'b0, BUF_WGT};
        rng_write_o         = 4'b1100;
        rng_lo_o[0+:64]     = 64'(insn_i[qmac_pkg::GEMM_WGT_LSB+:16]);
        rng_end_o[0+:64]    = 64'(insn_i[qmac_pkg::GEMM_WGT_LSB+:16]) + DIM;
        rng_lo_o[64+:64]    = 64'(insn_i[LaBase+:16]);
        rng_end_o[64+:64]   = la_last + 64'd1;
        rng_lo_o[128+:64]   = 64'(insn_i[LcBase+:16]);
        rng_end_o[128+:64]  = lc_last + 64'd1;
        rng_lo_o[192+:64]   = 64'(insn_i[LoBase+:16]);
        rng_end_o[192+:64]  = lx_last + 64'd1;
        ports_o[PortRInp]     = 1'b1;
        ports_o[PortRWgt]     = 1'b1;
        ports_o[PortWAcc] = 1'b1;
        ports_o[PortRAcc]     = insn_i[qmac_pkg::GEMM_ACCUM_LSB];
        ports_o[PortWOut] = insn_i[qmac_pkg::GEMM_POST_LSB];
      end
      OP_POST: begin
        unit_o              = UNIT_COMPUTE;
        loop_len_o          = 32'(c0) * 32'(c1);
        rng_valid_o         = {2'b00, loops, loops};
        rng_space_o[5:0]    = {1'b0, BUF_OUT, 1'b0, BUF_ACC};
        rng_write_o         = 4'b0010;
        rng_lo_o[0+:64]     = 64'(insn_i[LcBase+:16]);
        rng_end_o[0+:64]    = lc_last + 64'd1;
        rng_lo_o[64+:64]    = 64'(insn_i[LoBase+:16]);
        rng_end_o[64+:64]   = lx_last + 64'd1;
        ports_o[PortRAcc]     = 1'b1;
        ports_o[PortWOut] = 1'b1;
      end
      OP_PARAM: begin
        unit_o           = UNIT_COMPUTE;
        loop_len_o       = 32'd3;
        rng_valid_o[0]   = 1'b1;
        rng_space_o[2:0] = {1'b0, BUF_ACC};
        rng_lo_o[0+:64]  = 64'(insn_i[qmac_pkg::PARAM_ACC_LSB+:16]);
        rng_end_o[0+:64] = 64'(insn_i[qmac_pkg::PARAM_ACC_LSB+:16]) + 64'(qmac_pkg::PARAM_ROWS);
        ports_o[PortRAcc] = 1'b1;
      end
      OP_VALU: begin
        unit_o              = UNIT_COMPUTE;
        loop_len_o          = 32'(c0) * 32'(c1);
        rng_valid_o         = {1'b0, loops, loops & read_b, loops};
        rng_space_o[8:0]    = {1'b0, BUF_ACC, 1'b0, BUF_ACC, abuf_space};
        rng_write_o         = 4'b0100;
        rng_lo_o[0+:64]     = 64'(insn_i[LaBase+:16]);
        rng_end_o[0+:64]    = la_last + 64'd1;
        rng_lo_o[64+:64]    = 64'(insn_i[LbBase+:16]);
        rng_end_o[64+:64]   = lx_last + 64'd1;
        rng_lo_o[128+:64]   = 64'(insn_i[LcBase+:16]);
        rng_end_o[128+:64]  = lc_last + 64'd1;
        if (32'(abuf) < qmac_pkg::ABUF_COUNT) begin
          ports_o[3'(abuf_space)] = 1'b1;
        end
        ports_o[PortWAcc] = 1'b1;
        if (read_b) begin
          ports_o[PortRAcc] = 1'b1;
        end
      end
      OP_CONFIG: unit_o = UNIT_COMPUTE;
      default:   unit_o = UNIT_DISP;
    endcase

    // ----- BUF_RANGE and WINDOW over the footprint ------------------------------------------
    bad_range  = 1'b0;
    bad_window = 1'b0;
    for (int unsigned k = 0; k < 4; k++) begin
      if (rng_valid_o[k]) begin
        if (rng_space_o[k*3+:3] == SPACE_MEM) begin
          if (rng_lo_o[k*64+:64] < 64'(win_lo_i) || rng_end_o[k*64+:64] - 64'd1 > 64'(win_hi_i)) begin
            bad_window = 1'b1;
          end
        end else if (rng_end_o[k*64+:64] > depth_of(rng_space_o[k*3+:3])) begin
          bad_range = 1'b1;
        end
      end
    end

    // ----- the first failing check ---------------------------------------------------------
    if (!known) begin
      fault_o = FAULT_OPCODE;
    end else if (bad_field) begin
      fault_o = FAULT_FIELD;
    end else if (bad_align) begin
      fault_o = FAULT_ALIGN;
    end else if (bad_range) begin
      fault_o = FAULT_BUF_RANGE;
    end else if (bad_window) begin
      fault_o = FAULT_WINDOW;
    end else begin
      fault_o = FAULT_NONE;
    end
    ok_o = (fault_o == FAULT_NONE);
    op_o = op;
  end

  // ---------------------------------------------------------------------------------------------
  // Assertions (elaboration): the shared field positions above really are shared
  // ---------------------------------------------------------------------------------------------
  if (qmac_pkg::STORE_BUF_LSB != DmaBufLsb || qmac_pkg::STORE_DRAM_LSB != DmaDramLsb
      || qmac_pkg::STORE_SRAM_LSB != DmaSramLsb || qmac_pkg::STORE_X_SIZE_LSB != DmaXLsb
      || qmac_pkg::STORE_Y_SIZE_LSB != DmaYLsb || qmac_pkg::STORE_Z_SIZE_LSB != DmaZLsb
      || qmac_pkg::STORE_X_STRIDE_LSB != DmaXsLsb || qmac_pkg::STORE_Y_STRIDE_LSB != DmaYsLsb
      || qmac_pkg::STORE_Z_STRIDE_LSB != DmaZsLsb) begin : g_bad_dma_fields
    $error("qmac_decode: LOAD and STORE no longer share their DMA field positions");
  end
  if (qmac_pkg::POST_COUNT0_LSB != Count0Lsb || qmac_pkg::VALU_COUNT0_LSB != Count0Lsb
      || qmac_pkg::POST_COUNT1_LSB != Count1Lsb || qmac_pkg::VALU_COUNT1_LSB != Count1Lsb
      || qmac_pkg::VALU_A_LSB != LaBase || qmac_pkg::VALU_A_S0_LSB != LaS0
      || qmac_pkg::VALU_A_S1_LSB != LaS1 || qmac_pkg::POST_ACC_LSB != LcBase
      || qmac_pkg::POST_ACC_S0_LSB != LcS0 || qmac_pkg::POST_ACC_S1_LSB != LcS1
      || qmac_pkg::VALU_DST_LSB != LcBase || qmac_pkg::VALU_DST_S0_LSB != LcS0
      || qmac_pkg::VALU_DST_S1_LSB != LcS1 || qmac_pkg::PARAM_ACC_LSB != LcBase
      || qmac_pkg::POST_OUT_LSB != LoBase || qmac_pkg::POST_OUT_S0_LSB != LoS0
      || qmac_pkg::POST_OUT_S1_LSB != LoS1) begin : g_bad_loop_fields
    $error("qmac_decode: GEMM, POST, PARAM and VALU no longer share their loop field positions");
  end

endmodule
