// qmac_compute: the compute unit: CONFIG, PARAM, GEMM (MAC array + post), POST and VALU.
//
// docs/microarch.md, "Compute unit". The oldest waiting instruction H of the compute queue starts
// in the first cycle t0 that satisfies: a GEMM with L = count0 * count1 >= 1 whose previously
// started compute instruction P was one too starts at t0 >= start(P) + max(L_P, N) (tiles stream
// back to back); any other instruction starts once every older compute instruction has retired
// (streaming GEMMs may retire out of order: a GEMM without post right behind one with post
// finishes first, so "older" is the other queue slot as well as P). Per iteration i (t0 + i):
//   GEMM   INP read t0+i; WGT row r read t0+r (r < N), written into the array's shadow weights
//          t0+r+1; the vector enters the array s = t0+i+1 (act_swap on i = 0); ACC read s+2N-1
//          (accum), sampled s+2N; array result = ACC write s+2N+1; post: requant input s+2N+1,
//          OUT write s+2N+4. Retires t0+L+2N+1 (+3 with post).
//   POST   ACC read t0+i; requant input t0+i+1; OUT write t0+i+4. Retires t0+L+3.
//   VALU   A, B read t0+i; result computed t0+i+1; dst write t0+i+2. Retires t0+L+1.
//   PARAM  ACC rows acc, acc+1, acc+2 read t0, t0+1, t0+2. Retires t0+3.
//   CONFIG registers change at the end of t0; retires t0. GEMM/POST/VALU with L = 0 retire t0.
// Forwarding: a value read from ACC is used the cycle after its read (GEMM: s+2N; VALU: t0+i+1);
// it takes this cycle's ACC write when it writes the same row, else last cycle's ACC write of the
// same row, else the SRAM data (read-first SRAMs miss both). These are exactly "the vector 1 / 2
// cycles ahead" and "iteration i-1 / i-2" of the contract.
//
// Two ACC read ports: VALU reads A and B from ACC in the same cycle, so the core keeps two copies
// of the ACC SRAM (written together); port A is copy 0, port B copy 1.
//
// The OUT writes carry their own output mode, so a CONFIG can never change their bit masks (it
// cannot happen with the timing above; a guard, 2 bits x 3 flops).
module qmac_compute #(
  parameter int unsigned ArrayDim = 16
) (
  input  logic                    clk_i,
  input  logic                    rst_ni,
  input  logic                    start_i,       // a run starts at the end of this cycle
  // the compute queue: two slots
  input  logic [1:0]              q_valid_i,
  input  logic [511:0]            q_insn_i,
  input  logic [63:0]             q_len_i,       // count0 * count1 (PARAM 3)
  input  logic                    q_old_i,       // the older slot when both are valid
  output logic [1:0]              retire_o,
  // buffer read ports (data in the next cycle)
  output logic                    inp_re_o,
  output logic [15:0]             inp_raddr_o,
  input  logic [8*ArrayDim-1:0]   inp_rdata_i,
  output logic                    wgt_re_o,
  output logic [15:0]             wgt_raddr_o,
  input  logic [8*ArrayDim-1:0]   wgt_rdata_i,
  output logic                    acc_re_a_o,
  output logic [15:0]             acc_raddr_a_o,
  input  logic [32*ArrayDim-1:0]  acc_rdata_a_i,
  output logic                    acc_re_b_o,
  output logic [15:0]             acc_raddr_b_o,
  input  logic [32*ArrayDim-1:0]  acc_rdata_b_i,
  output logic                    out_re_o,
  output logic [15:0]             out_raddr_o,
  input  logic [8*ArrayDim-1:0]   out_rdata_i,
  // buffer write ports
  output logic                    acc_we_o,
  output logic [15:0]             acc_waddr_o,
  output logic [32*ArrayDim-1:0]  acc_wdata_o,
  output logic                    out_we_o,
  output logic [15:0]             out_waddr_o,
  output logic [8*ArrayDim-1:0]   out_wdata_o,
  output logic [8*ArrayDim-1:0]   out_wmask_o,
  // a vector enters the MAC array in this cycle (ARRAY_BUSY)
  output logic                    vector_o
);

  localparam int unsigned N = ArrayDim;
  localparam int unsigned RowW = 8 * N;
  localparam int unsigned AccW = 32 * N;
  localparam int unsigned RowIdxW = $clog2(N);
  localparam logic [7:0] OP_CONFIG = qmac_pkg::OP_CONFIG;
  localparam logic [7:0] OP_GEMM = qmac_pkg::OP_GEMM;
  localparam logic [7:0] OP_POST = qmac_pkg::OP_POST;
  localparam logic [7:0] OP_PARAM = qmac_pkg::OP_PARAM;
  localparam logic [7:0] OP_VALU = qmac_pkg::OP_VALU;
  localparam logic [1:0] OMODE_BIN = qmac_pkg::OMODE_BIN;
  localparam logic [1:0] ABUF_INP = qmac_pkg::ABUF_INP;
  localparam logic [1:0] ABUF_OUT = qmac_pkg::ABUF_OUT;
  localparam logic [3:0] ALU_ADD = qmac_pkg::ALU_ADD;
  localparam logic [3:0] ALU_SUB = qmac_pkg::ALU_SUB;
  localparam logic [3:0] ALU_MUL = qmac_pkg::ALU_MUL;
  localparam logic [3:0] ALU_MIN = qmac_pkg::ALU_MIN;
  localparam logic [3:0] ALU_MAX = qmac_pkg::ALU_MAX;
  localparam logic [3:0] ALU_SHL = qmac_pkg::ALU_SHL;
  localparam logic [3:0] ALU_SHR = qmac_pkg::ALU_SHR;
  localparam logic [3:0] ALU_SHRR = qmac_pkg::ALU_SHRR;
  localparam logic [3:0] ALU_MOV = qmac_pkg::ALU_MOV;
  localparam logic [3:0] ALU_MBQM = qmac_pkg::ALU_MBQM;
  // slot_state_e: the state of a compute queue slot
  localparam logic [1:0] SlotWait = 2'd0;   // queued, not started
  localparam logic [1:0] SlotIssue = 2'd1;  // issuing iterations
  localparam logic [1:0] SlotDrain = 2'd2;  // counting down to its retire cycle
  // cycles from the last iteration's cycle to the retire cycle
  localparam logic [7:0] DrainGemm = 8'(2 * N + 2);
  localparam logic [7:0] DrainGemmPost = 8'(2 * N + 5);
  localparam logic [7:0] DrainPost = 8'd4;
  localparam logic [7:0] DrainValu = 8'd2;
  localparam logic [7:0] DrainParam = 8'd1;
  // the GEMM vector pipeline: {valid, accum, post, group, acc row, out row}, taps 0 .. 2N+1
  localparam int unsigned VecW = 3 + 3 + 16 + 16;
  localparam int unsigned Taps = 2 * N + 2;

  // ---------------------------------------------------------------------------------------------
  // Registers
  // ---------------------------------------------------------------------------------------------
  // CONFIG
  logic        cfg_bin_q, cfg_asig_q, cfg_wsig_q;
  logic [1:0]  cfg_rule_q, cfg_omode_q;
  logic [7:0]  cfg_azp_q, cfg_ozp_q, cfg_min_q, cfg_max_q;
  logic        cfg_bin_d, cfg_asig_d, cfg_wsig_d;
  logic [1:0]  cfg_rule_d, cfg_omode_d;
  logic [7:0]  cfg_azp_d, cfg_ozp_d, cfg_min_d, cfg_max_d;
  // PARAM
  logic [AccW-1:0] bias_q, bias_d, mult_q, mult_d;
  logic [RowW-1:0] shift_q, shift_d, wzp_q, wzp_d;
  // slots
  logic [3:0]  st_q, st_d;          // [s*2 +: 2]
  logic [15:0] dcnt_q, dcnt_d;      // [s*8 +: 8]
  // start rule: the previously started instruction P
  logic        prev_gemm_q, prev_gemm_d;  // P is a GEMM with L >= 1
  logic [31:0] gap_q, gap_d;              // cycles until start(P) + max(L_P, N)
  logic        prev_busy_q, prev_busy_d;  // P has not retired yet
  logic        prev_slot_q, prev_slot_d;
  // issue engine
  logic        iss_q, iss_d;
  logic        iss_slot_q, iss_slot_d;
  logic [15:0] i0_q, i0_d, i1_q, i1_d;
  logic [63:0] line_q, line_d, cur_q, cur_d;  // streams A, C, O, B: [k*16 +: 16]
  // weight loading
  logic                wseq_q, wseq_d;
  logic [RowIdxW-1:0]  wr_q, wr_d;
  logic [15:0]         wbase_q, wbase_d;
  logic                wpend_q, wpend_d;
  logic [RowIdxW-1:0]  wpend_r_q, wpend_r_d;
  // GEMM vectors
  logic                vswap_q, vswap_d;
  logic [Taps*VecW-1:0] vp_q, vp_d;       // tap k at [k*VecW +: VecW]
  // POST and PARAM data stage
  logic        post_q, post_d;
  logic [18:0] post_info_q, post_info_d;  // {group, out row}
  logic        par_q, par_d;
  logic [1:0]  par_step_q, par_step_d;
  // requant output pipeline {valid, omode, group, out row}
  localparam int unsigned RqW = 1 + 2 + 3 + 16;
  logic [3*RqW-1:0] rq_q, rq_d;
  // VALU data stage and result
  logic        va_q, va_d;
  logic [15:0] va_dst_q, va_dst_d, va_ra_q, va_ra_d, va_rb_q, va_rb_d;
  logic [1:0]  va_abuf_q, va_abuf_d;
  logic        va_asig_q, va_asig_d, va_readb_q, va_readb_d, va_bimm_q, va_bimm_d;
  logic [3:0]  va_alu_q, va_alu_d;
  logic [31:0] va_imm_q, va_imm_d;
  logic [7:0]  va_shift_q, va_shift_d;
  logic        res_q, res_d;
  logic [15:0] res_row_q, res_row_d;
  logic [AccW-1:0] res_data_q, res_data_d;
  // last cycle's ACC write (forwarding)
  logic        wprev_q, wprev_d;
  logic [15:0] wprev_row_q, wprev_row_d;
  logic [AccW-1:0] wprev_data_q, wprev_data_d;

  // ---------------------------------------------------------------------------------------------
  // Start: the oldest waiting slot, and the contract's start rule
  // ---------------------------------------------------------------------------------------------
  logic         both, h_ok, h, older_busy, start, h_stream, h_iter;
  logic [255:0] h_insn;
  logic [7:0]   h_op;
  logic [31:0]  h_len;

  always_comb begin
    both = q_valid_i[0] && q_valid_i[1];
    h_ok = 1'b0;
    h    = 1'b0;
    if (both) begin
      if (st_q[32'(q_old_i)*2+:2] == SlotWait) begin
        h_ok = 1'b1;
        h    = q_old_i;
      end else if (st_q[32'(!q_old_i)*2+:2] == SlotWait) begin
        h_ok = 1'b1;
        h    = !q_old_i;
      end
    end else if (q_valid_i[0] && st_q[1:0] == SlotWait) begin
      h_ok = 1'b1;
      h    = 1'b0;
    end else if (q_valid_i[1] && st_q[3:2] == SlotWait) begin
      h_ok = 1'b1;
      h    = 1'b1;
    end
    older_busy = both && (h != q_old_i);
    h_insn     = q_insn_i[32'(h)*256+:256];
    h_op       = h_insn[7:0];
    h_len      = q_len_i[32'(h)*32+:32];
    h_stream   = (h_op == OP_GEMM) && (h_len != '0) && prev_gemm_q;
    start      = h_ok && (h_stream ? (gap_q == '0) : (!prev_busy_q && !older_busy));
    // instructions that issue iterations (the others retire in t0)
    h_iter     = (h_op == OP_PARAM) || ((h_op == OP_GEMM || h_op == OP_POST || h_op == OP_VALU)
                                        && h_len != '0);
  end

  // ---------------------------------------------------------------------------------------------
  // Issue engine: one iteration per cycle of the instruction being issued
  // ---------------------------------------------------------------------------------------------
  logic         it;            // an iteration is issued in this cycle
  logic         it_slot, it_first, it_last;
  logic [255:0] it_insn;
  logic [7:0]   it_op;
  logic [15:0]  c0, c1, i0, i1;
  logic [63:0]  base, s0, s1, line, cur;
  logic [15:0]  row_a, row_c, row_o, row_b;

  always_comb begin
    it      = (start && h_iter) || iss_q;
    it_slot = iss_q ? iss_slot_q : h;
    it_insn = q_insn_i[32'(it_slot)*256+:256];
    it_op   = it_insn[7:0];
    if (it_op == OP_PARAM) begin
      c0 = 16'd3;
      c1 = 16'd1;
    end else begin
      c0 = it_insn[qmac_pkg::GEMM_COUNT0_LSB+:16];
      c1 = it_insn[qmac_pkg::GEMM_COUNT1_LSB+:16];
    end
    // streams: A (GEMM inp, VALU a), C (acc, dst; PARAM acc + i), O (out), B (VALU b)
    base = {it_insn[qmac_pkg::VALU_B_LSB+:16], it_insn[qmac_pkg::GEMM_OUT_LSB+:16],
            it_insn[qmac_pkg::GEMM_ACC_LSB+:16], it_insn[qmac_pkg::GEMM_INP_LSB+:16]};
    s0   = {it_insn[qmac_pkg::VALU_B_S0_LSB+:16], it_insn[qmac_pkg::GEMM_OUT_S0_LSB+:16],
            (it_op == OP_PARAM) ? 16'd1 : it_insn[qmac_pkg::GEMM_ACC_S0_LSB+:16],
            it_insn[qmac_pkg::GEMM_INP_S0_LSB+:16]};
    s1   = {it_insn[qmac_pkg::VALU_B_S1_LSB+:16], it_insn[qmac_pkg::GEMM_OUT_S1_LSB+:16],
            it_insn[qmac_pkg::GEMM_ACC_S1_LSB+:16], it_insn[qmac_pkg::GEMM_INP_S1_LSB+:16]};
    if (iss_q) begin
      i0   = i0_q;
      i1   = i1_q;
      line = line_q;
      cur  = cur_q;
    end else begin
      i0   = '0;
      i1   = '0;
      line = base;
      cur  = base;
    end
    row_a    = cur[0+:16];
    row_c    = cur[16+:16];
    row_o    = cur[32+:16];
    row_b    = cur[48+:16];
    it_first = (i0 == '0) && (i1 == '0);
    it_last  = (i0 + 16'd1 == c0) && (i1 + 16'd1 == c1);

    iss_d      = iss_q;
    iss_slot_d = iss_slot_q;
    i0_d       = i0_q;
    i1_d       = i1_q;
    line_d     = line_q;
    cur_d      = cur_q;
    if (it) begin
      iss_d      = !it_last;
      iss_slot_d = it_slot;
      if (i0 + 16'd1 != c0) begin
        i0_d   = i0 + 16'd1;
        i1_d   = i1;
        line_d = line;
        for (int unsigned k = 0; k < 4; k++) begin
          cur_d[k*16+:16] = cur[k*16+:16] + s0[k*16+:16];
        end
      end else begin
        i0_d = '0;
        i1_d = i1 + 16'd1;
        for (int unsigned k = 0; k < 4; k++) begin
          line_d[k*16+:16] = line[k*16+:16] + s1[k*16+:16];
          cur_d[k*16+:16]  = line[k*16+:16] + s1[k*16+:16];
        end
      end
    end
  end

  // ---------------------------------------------------------------------------------------------
  // Slot states, retirement, start rule state, CONFIG
  // ---------------------------------------------------------------------------------------------
  logic [7:0] drain;  // cycles from the issuing instruction's last iteration to its retirement

  always_comb begin
    case (it_op)
      OP_GEMM:  drain = it_insn[qmac_pkg::GEMM_POST_LSB] ? DrainGemmPost : DrainGemm;
      OP_POST:  drain = DrainPost;
      OP_VALU:  drain = DrainValu;
      default:  drain = DrainParam;
    endcase

    st_d     = st_q;
    dcnt_d   = dcnt_q;
    retire_o = '0;
    for (int unsigned s = 0; s < 2; s++) begin
      if (st_q[s*2+:2] == SlotDrain) begin
        if (dcnt_q[s*8+:8] == '0) begin
          retire_o[s]   = 1'b1;
          st_d[s*2+:2]  = SlotWait;
        end else begin
          dcnt_d[s*8+:8] = dcnt_q[s*8+:8] - 8'd1;
        end
      end
    end
    if (start) begin
      if (h_iter) begin
        st_d[32'(h)*2+:2] = SlotIssue;
      end else begin
        retire_o[h] = 1'b1;
      end
    end
    if (it && it_last) begin
      st_d[32'(it_slot)*2+:2]   = SlotDrain;
      dcnt_d[32'(it_slot)*8+:8] = drain - 8'd1;
    end

    prev_gemm_d = prev_gemm_q;
    gap_d       = (gap_q != '0) ? gap_q - 32'd1 : '0;
    prev_slot_d = prev_slot_q;
    prev_busy_d = prev_busy_q && !retire_o[prev_slot_q];
    if (start) begin
      prev_gemm_d = (h_op == OP_GEMM) && (h_len != '0);
      gap_d       = prev_gemm_d ? ((h_len > 32'(N)) ? h_len : 32'(N)) - 32'd1 : '0;
      prev_slot_d = h;
      prev_busy_d = h_iter;  // the others retire in their start cycle
    end
    if (start_i) begin
      prev_gemm_d = 1'b0;
      gap_d       = '0;
      prev_busy_d = 1'b0;
    end

    cfg_bin_d   = cfg_bin_q;
    cfg_asig_d  = cfg_asig_q;
    cfg_wsig_d  = cfg_wsig_q;
    cfg_rule_d  = cfg_rule_q;
    cfg_omode_d = cfg_omode_q;
    cfg_azp_d   = cfg_azp_q;
    cfg_ozp_d   = cfg_ozp_q;
    cfg_min_d   = cfg_min_q;
    cfg_max_d   = cfg_max_q;
    if (start && h_op == OP_CONFIG) begin
      cfg_bin_d   = h_insn[qmac_pkg::CONFIG_BIN_LSB];
      cfg_asig_d  = h_insn[qmac_pkg::CONFIG_ACT_SIGNED_LSB];
      cfg_wsig_d  = h_insn[qmac_pkg::CONFIG_WGT_SIGNED_LSB];
      cfg_rule_d  = h_insn[qmac_pkg::CONFIG_RULE_LSB+:2];
      cfg_omode_d = h_insn[qmac_pkg::CONFIG_OMODE_LSB+:2];
      cfg_azp_d   = h_insn[qmac_pkg::CONFIG_ACT_ZP_LSB+:8];
      cfg_ozp_d   = h_insn[qmac_pkg::CONFIG_OUT_ZP_LSB+:8];
      cfg_min_d   = h_insn[qmac_pkg::CONFIG_CLAMP_MIN_LSB+:8];
      cfg_max_d   = h_insn[qmac_pkg::CONFIG_CLAMP_MAX_LSB+:8];
    end
  end

  // ---------------------------------------------------------------------------------------------
  // GEMM: weight loading, vectors into the array, ACC read / forward / write
  // ---------------------------------------------------------------------------------------------
  logic                 arr_out_valid;
  logic [AccW-1:0]      arr_out, arr_acc;
  logic [VecW-1:0]      tap_rd, tap_fw, tap_wr;
  logic                 wnow;           // the compute unit's ACC write of this cycle
  logic [15:0]          wnow_row;
  logic [AccW-1:0]      wnow_data;

  function automatic logic [AccW-1:0] forward(logic [15:0] row, logic [AccW-1:0] sram, logic now_v,
                                              logic [15:0] now_row, logic [AccW-1:0] now_data,
                                              logic prev_v, logic [15:0] prev_row,
                                              logic [AccW-1:0] prev_data);
    if (now_v && now_row == row) begin
      forward = now_data;
    end else if (prev_v && prev_row == row) begin
      forward = prev_data;
    end else begin
      forward = sram;
    end
  endfunction

  always_comb begin
    // weight rows wgt + r, r < N: read t0 + r, written into the array t0 + r + 1
    wseq_d    = wseq_q;
    wr_d      = wr_q;
    wbase_d   = wbase_q;
    wgt_re_o  = 1'b0;
    wgt_raddr_o = '0;
    wpend_d   = 1'b0;
    wpend_r_d = '0;
    if (start && h_op == OP_GEMM && h_len != '0) begin
      wgt_re_o    = 1'b1;
      wgt_raddr_o = h_insn[qmac_pkg::GEMM_WGT_LSB+:16];
      wbase_d     = h_insn[qmac_pkg::GEMM_WGT_LSB+:16];
      wseq_d      = (N > 1);
      wr_d        = RowIdxW'(1);
      wpend_d     = 1'b1;
      wpend_r_d   = '0;
    end else if (wseq_q) begin
      wgt_re_o    = 1'b1;
      wgt_raddr_o = wbase_q + 16'(wr_q);
      wpend_d     = 1'b1;
      wpend_r_d   = wr_q;
      wr_d        = wr_q + RowIdxW'(1);
      wseq_d      = (32'(wr_q) != N - 1);
    end

    // the vector of this iteration: INP read now, into the array next cycle
    vswap_d          = it && (it_op == OP_GEMM) && it_first;
    vp_d             = {vp_q[(Taps-1)*VecW-1:0], VecW'(0)};
    vp_d[0+:VecW]    = '0;
    if (it && it_op == OP_GEMM) begin
      vp_d[0+:VecW] = {1'b1, it_insn[qmac_pkg::GEMM_ACCUM_LSB], it_insn[qmac_pkg::GEMM_POST_LSB],
                       it_insn[qmac_pkg::GEMM_GROUP_LSB+:3], row_c, row_o};
    end
    tap_rd = vp_q[(2*N-1)*VecW+:VecW];
    tap_fw = vp_q[(2*N)*VecW+:VecW];
    tap_wr = vp_q[(2*N+1)*VecW+:VecW];
  end

  // The delay line keeps the tap of the vector in the array: tap 0 (in vp_q) is the vector
  // entering in this cycle. (vp_d shifts everything one tap further.)

  // ---------------------------------------------------------------------------------------------
  // The compute unit's ACC write of this cycle (GEMM result or VALU result) and forwarding
  // ---------------------------------------------------------------------------------------------
  always_comb begin
    if (tap_wr[VecW-1]) begin
      wnow      = 1'b1;
      wnow_row  = tap_wr[16+:16];
      wnow_data = arr_out;
    end else begin
      wnow      = res_q;
      wnow_row  = res_row_q;
      wnow_data = res_data_q;
    end
    acc_we_o    = wnow;
    acc_waddr_o = wnow_row;
    acc_wdata_o = wnow_data;
    wprev_d      = wnow;
    wprev_row_d  = wnow_row;
    wprev_data_d = wnow_data;
    // the accumulator the array adds to the vector of s = now - 2N
    arr_acc = forward(tap_fw[16+:16], acc_rdata_a_i, wnow, wnow_row, wnow_data, wprev_q, wprev_row_q,
                      wprev_data_q);
  end

  logic unused_arr;
  assign unused_arr = arr_out_valid;

  qmac_array #(
    .Rows(N),
    .Cols(N)
  ) u_array (
    .clk_i       (clk_i),
    .rst_ni      (rst_ni),
    .act_valid_i (vp_q[VecW-1]),
    .act_swap_i  (vswap_q),
    .act_bin_i   (cfg_bin_q),
    .act_signed_i(cfg_asig_q),
    .act_zp_i    (cfg_azp_q),
    .act_acc_i   (vp_q[VecW-2]),
    .act_i       (inp_rdata_i),
    .wgt_valid_i (wpend_q),
    .wgt_row_i   (wpend_r_q),
    .wgt_signed_i(cfg_wsig_q),
    .wgt_i       (wgt_rdata_i),
    .wgt_zp_i    (wzp_q),
    .acc_i       (arr_acc),
    .out_valid_o (arr_out_valid),
    .out_o       (arr_out)
  );

  assign vector_o = vp_q[VecW-1];

  // ---------------------------------------------------------------------------------------------
  // POST / GEMM post: requantization into OUT rows
  // ---------------------------------------------------------------------------------------------
  logic            rq_valid, rq_out_valid;
  logic [AccW-1:0] rq_acc;
  logic [RowW-1:0] rq_q_out;
  logic [RqW-1:0]  rq_last;

  always_comb begin
    post_d      = it && (it_op == OP_POST);
    post_info_d = {it_insn[qmac_pkg::POST_GROUP_LSB+:3], row_o};
    par_d       = it && (it_op == OP_PARAM);
    par_step_d  = i0[1:0];

    if (tap_wr[VecW-1] && tap_wr[VecW-3]) begin
      rq_valid = 1'b1;
      rq_acc   = arr_out;
      rq_d[0+:RqW] = {1'b1, cfg_omode_q, tap_wr[32+:3], tap_wr[0+:16]};
    end else begin
      rq_valid = post_q;
      rq_acc   = acc_rdata_a_i;
      rq_d[0+:RqW] = {post_q, cfg_omode_q, post_info_q};
    end
    rq_d[RqW+:2*RqW] = rq_q[0+:2*RqW];
    rq_last          = rq_q[2*RqW+:RqW];

    // OUT write: all bytes (S8, U8) or the group's N bits (BIN, bit j = bit j%8 of byte j/8)
    out_we_o    = rq_last[RqW-1];
    out_waddr_o = rq_last[15:0];
    out_wdata_o = rq_q_out;
    out_wmask_o = '1;
    if (rq_last[20:19] == OMODE_BIN) begin
      out_wdata_o = '0;
      out_wmask_o = '0;
      for (int unsigned g = 0; g < 8; g++) begin  // constant indices: no barrel shifter
        if (32'(rq_last[18:16]) == g) begin
          for (int unsigned n = 0; n < N; n++) begin
            out_wdata_o[g*N+n] = rq_q_out[n*8];
            out_wmask_o[g*N+n] = 1'b1;
          end
        end
      end
    end
  end

  qmac_requant #(
    .Lanes(N)
  ) u_requant (
    .clk_i      (clk_i),
    .rst_ni     (rst_ni),
    .valid_i    (rq_valid),
    .rule_i     (cfg_rule_q),
    .omode_i    (cfg_omode_q),
    .out_zp_i   (cfg_ozp_q),
    .clamp_min_i(cfg_min_q),
    .clamp_max_i(cfg_max_q),
    .acc_i      (rq_acc),
    .bias_i     (bias_q),
    .mult_i     (mult_q),
    .shift_i    (shift_q),
    .valid_o    (rq_out_valid),
    .q_o        (rq_q_out)
  );

  // ---------------------------------------------------------------------------------------------
  // PARAM registers
  // ---------------------------------------------------------------------------------------------
  always_comb begin
    bias_d  = bias_q;
    mult_d  = mult_q;
    shift_d = shift_q;
    wzp_d   = wzp_q;
    if (par_q) begin
      case (par_step_q)
        2'd0:    bias_d = acc_rdata_a_i;
        2'd1:    mult_d = acc_rdata_a_i;
        default: begin
          for (int unsigned n = 0; n < N; n++) begin
            shift_d[n*8+:8] = acc_rdata_a_i[n*32+:8];
            wzp_d[n*8+:8]   = acc_rdata_a_i[n*32+8+:8];
          end
        end
      endcase
    end
  end

  // ---------------------------------------------------------------------------------------------
  // VALU
  // ---------------------------------------------------------------------------------------------
  logic [AccW-1:0] va_a, va_b, va_mbqm, va_mul;

  // gemmlowp RoundingDivideByPOT (qmac_rdbpot): x / 2^e rounded, ties away from zero
  function automatic logic [31:0] rdbpot(logic [31:0] x, logic [4:0] e);
    logic [31:0] mask, rem, thr;
    mask   = (32'd1 << e) - 32'd1;
    rem    = x & mask;
    thr    = (mask >> 1) + {31'd0, x[31]};
    rdbpot = 32'($signed(x) >>> e) + ((rem > thr) ? 32'd1 : 32'd0);
  endfunction

  // mul: a * b mod 2^32 from the lane's MBQM multiplier (its shift is 0 for MUL)
  function automatic logic [31:0] alu_lane(logic [3:0] op, logic [31:0] a, logic [31:0] b,
                                           logic [31:0] mbqm, logic [31:0] mul);
    case (op)
      ALU_ADD:  alu_lane = a + b;
      ALU_SUB:  alu_lane = a - b;
      ALU_MUL:  alu_lane = mul;
      ALU_MIN:  alu_lane = ($signed(a) < $signed(b)) ? a : b;
      ALU_MAX:  alu_lane = ($signed(a) > $signed(b)) ? a : b;
      ALU_SHL:  alu_lane = a << b[4:0];
      ALU_SHR:  alu_lane = 32'($signed(a) >>> b[4:0]);
      ALU_SHRR: alu_lane = rdbpot(a, b[4:0]);
      ALU_MOV:  alu_lane = a;
      ALU_MBQM: alu_lane = mbqm;
      default:  alu_lane = '0;
    endcase
  endfunction

  logic [7:0] mbqm_shift;
  assign mbqm_shift = (va_alu_q == ALU_MUL) ? 8'd0 : va_shift_q;

  for (genvar n = 0; n < N; n++) begin : g_mbqm
    qmac_mbqm u_mbqm (
      .x_i      (va_a[n*32+:32]),
      .qm_i     (va_b[n*32+:32]),
      .shift_i  (mbqm_shift),
      .y_o      (va_mbqm[n*32+:32]),
      .prod_lo_o(va_mul[n*32+:32])
    );
  end

  logic [AccW-1:0] a_acc, b_acc;
  logic [RowW-1:0] a_row;
  logic            valu_it;

  always_comb begin
    // the iteration issued now: its reads, and its descriptor for the next cycle
    va_d       = it && (it_op == OP_VALU);
    va_dst_d   = row_c;
    va_ra_d    = row_a;
    va_rb_d    = row_b;
    va_abuf_d  = it_insn[qmac_pkg::VALU_A_BUF_LSB+:2];
    va_asig_d  = it_insn[qmac_pkg::VALU_A_SIGNED_LSB];
    va_bimm_d  = it_insn[qmac_pkg::VALU_B_IMM_LSB];
    va_alu_d   = it_insn[qmac_pkg::VALU_ALU_LSB+:4];
    va_readb_d = !va_bimm_d && (va_alu_d != ALU_MOV);
    va_imm_d   = it_insn[qmac_pkg::VALU_IMM_LSB+:32];
    va_shift_d = it_insn[qmac_pkg::VALU_SHIFT_LSB+:8];

    // the iteration of last cycle: operands (forwarded), result
    a_acc = forward(va_ra_q, acc_rdata_a_i, wnow, wnow_row, wnow_data, wprev_q, wprev_row_q,
                    wprev_data_q);
    b_acc = forward(va_rb_q, acc_rdata_b_i, wnow, wnow_row, wnow_data, wprev_q, wprev_row_q,
                    wprev_data_q);
    a_row = (va_abuf_q == ABUF_OUT) ? out_rdata_i : inp_rdata_i;
    for (int unsigned n = 0; n < N; n++) begin
      if (va_abuf_q == ABUF_INP || va_abuf_q == ABUF_OUT) begin
        va_a[n*32+:32] = {{24{va_asig_q & a_row[n*8+7]}}, a_row[n*8+:8]};
      end else begin
        va_a[n*32+:32] = a_acc[n*32+:32];
      end
      va_b[n*32+:32] = va_bimm_q ? va_imm_q : b_acc[n*32+:32];
    end
  end

  // (a separate block: va_a / va_b feed the MBQM lanes whose results come back here)
  always_comb begin
    res_d     = va_q;
    res_row_d = va_dst_q;
    for (int unsigned n = 0; n < N; n++) begin
      res_data_d[n*32+:32] = alu_lane(va_alu_q, va_a[n*32+:32], va_b[n*32+:32], va_mbqm[n*32+:32],
                                      va_mul[n*32+:32]);
    end
  end

  // ---------------------------------------------------------------------------------------------
  // Buffer read ports (one reader per port and cycle by construction)
  // ---------------------------------------------------------------------------------------------
  always_comb begin
    valu_it       = it && (it_op == OP_VALU);
    inp_re_o      = (it && it_op == OP_GEMM) || (valu_it && it_insn[qmac_pkg::VALU_A_BUF_LSB+:2] == ABUF_INP);
    inp_raddr_o   = row_a;
    out_re_o      = valu_it && (it_insn[qmac_pkg::VALU_A_BUF_LSB+:2] == ABUF_OUT);
    out_raddr_o   = row_a;
    acc_re_b_o    = valu_it && va_readb_d;
    acc_raddr_b_o = row_b;
    acc_re_a_o    = 1'b0;
    acc_raddr_a_o = '0;
    if (tap_rd[VecW-1] && tap_rd[VecW-2]) begin
      acc_re_a_o    = 1'b1;                     // GEMM accumulate: ACC row at s + 2N - 1
      acc_raddr_a_o = tap_rd[16+:16];
    end else if (it && (it_op == OP_POST || it_op == OP_PARAM)) begin
      acc_re_a_o    = 1'b1;
      acc_raddr_a_o = row_c;
    end else if (valu_it && it_insn[qmac_pkg::VALU_A_BUF_LSB+:2] == qmac_pkg::ABUF_ACC) begin
      acc_re_a_o    = 1'b1;
      acc_raddr_a_o = row_a;
    end
  end

  // ---------------------------------------------------------------------------------------------
  // Flops
  // ---------------------------------------------------------------------------------------------
  always_ff @(posedge clk_i) begin
    if (!rst_ni) begin
      cfg_bin_q    <= 1'b0;
      cfg_asig_q   <= 1'b0;
      cfg_wsig_q   <= 1'b0;
      cfg_rule_q   <= '0;
      cfg_omode_q  <= '0;
      cfg_azp_q    <= '0;
      cfg_ozp_q    <= '0;
      cfg_min_q    <= '0;
      cfg_max_q    <= '0;
      bias_q       <= '0;
      mult_q       <= '0;
      shift_q      <= '0;
      wzp_q        <= '0;
      st_q         <= '0;
      dcnt_q       <= '0;
      prev_gemm_q  <= 1'b0;
      gap_q        <= '0;
      prev_busy_q  <= 1'b0;
      prev_slot_q  <= 1'b0;
      iss_q        <= 1'b0;
      iss_slot_q   <= 1'b0;
      i0_q         <= '0;
      i1_q         <= '0;
      line_q       <= '0;
      cur_q        <= '0;
      wseq_q       <= 1'b0;
      wr_q         <= '0;
      wbase_q      <= '0;
      wpend_q      <= 1'b0;
      wpend_r_q    <= '0;
      vswap_q      <= 1'b0;
      vp_q         <= '0;
      post_q       <= 1'b0;
      post_info_q  <= '0;
      par_q        <= 1'b0;
      par_step_q   <= '0;
      rq_q         <= '0;
      va_q         <= 1'b0;
      va_dst_q     <= '0;
      va_ra_q      <= '0;
      va_rb_q      <= '0;
      va_abuf_q    <= '0;
      va_asig_q    <= 1'b0;
      va_readb_q   <= 1'b0;
      va_bimm_q    <= 1'b0;
      va_alu_q     <= '0;
      va_imm_q     <= '0;
      va_shift_q   <= '0;
      res_q        <= 1'b0;
      res_row_q    <= '0;
      res_data_q   <= '0;
      wprev_q      <= 1'b0;
      wprev_row_q  <= '0;
      wprev_data_q <= '0;
    end else begin
      cfg_bin_q    <= cfg_bin_d;
      cfg_asig_q   <= cfg_asig_d;
      cfg_wsig_q   <= cfg_wsig_d;
      cfg_rule_q   <= cfg_rule_d;
      cfg_omode_q  <= cfg_omode_d;
      cfg_azp_q    <= cfg_azp_d;
      cfg_ozp_q    <= cfg_ozp_d;
      cfg_min_q    <= cfg_min_d;
      cfg_max_q    <= cfg_max_d;
      bias_q       <= bias_d;
      mult_q       <= mult_d;
      shift_q      <= shift_d;
      wzp_q        <= wzp_d;
      st_q         <= st_d;
      dcnt_q       <= dcnt_d;
      prev_gemm_q  <= prev_gemm_d;
      gap_q        <= gap_d;
      prev_busy_q  <= prev_busy_d;
      prev_slot_q  <= prev_slot_d;
      iss_q        <= iss_d;
      iss_slot_q   <= iss_slot_d;
      i0_q         <= i0_d;
      i1_q         <= i1_d;
      line_q       <= line_d;
      cur_q        <= cur_d;
      wseq_q       <= wseq_d;
      wr_q         <= wr_d;
      wbase_q      <= wbase_d;
      wpend_q      <= wpend_d;
      wpend_r_q    <= wpend_r_d;
      vswap_q      <= vswap_d;
      vp_q         <= vp_d;
      post_q       <= post_d;
      post_info_q  <= post_info_d;
      par_q        <= par_d;
      par_step_q   <= par_step_d;
      rq_q         <= rq_d;
      va_q         <= va_d;
      va_dst_q     <= va_dst_d;
      va_ra_q      <= va_ra_d;
      va_rb_q      <= va_rb_d;
      va_abuf_q    <= va_abuf_d;
      va_asig_q    <= va_asig_d;
      va_readb_q   <= va_readb_d;
      va_bimm_q    <= va_bimm_d;
      va_alu_q     <= va_alu_d;
      va_imm_q     <= va_imm_d;
      va_shift_q   <= va_shift_d;
      res_q        <= res_d;
      res_row_q    <= res_row_d;
      res_data_q   <= res_data_d;
      wprev_q      <= wprev_d;
      wprev_row_q  <= wprev_row_d;
      wprev_data_q <= wprev_data_d;
    end
  end

  logic unused;
  assign unused = ^{rq_out_valid, va_readb_q, tap_fw[VecW-1:32], tap_fw[15:0]};

  // Assertions (elaboration)
  if (N < 4 || (N & (N - 1)) != 0 || N > 32) begin : g_bad_dim
    $error("qmac_compute: ArrayDim must be a power of two in [4, 32]");
  end

endmodule
