// qmac_axi_rd_arb: AR arbitration between instruction fetch (ARID 0) and the load unit (ARID 1).
//
// docs/microarch.md, "AR arbitration": a lone request is granted; when both request, the one not
// granted last wins (round robin; before the first grant of a run the load unit wins). A granted
// request that is on AR without ARREADY keeps the grant until its handshake (the requester keeps
// its request and payload stable meanwhile). R beats are routed by RID: RID 0 beats go to fetch
// and are always accepted; the others go to the load unit with its RREADY.
module qmac_axi_rd_arb #(
  parameter int unsigned ArrayDim = 16
) (
  input  logic                  clk_i,
  input  logic                  rst_ni,
  input  logic                  clear_i,       // a run starts: forget the last grant
  // fetch
  input  logic                  f_req_i,
  input  logic [31:0]           f_addr_i,
  output logic                  f_held_o,      // the request on AR is fetch's and was not accepted
  output logic                  f_hs_o,
  output logic                  f_rvalid_o,
  // load unit
  input  logic                  l_req_i,
  input  logic [31:0]           l_addr_i,
  input  logic [7:0]            l_len_i,
  output logic                  l_hs_o,
  output logic                  l_rvalid_o,
  input  logic                  l_rready_i,
  // AXI4 AR and R
  output logic                  m_arvalid_o,
  input  logic                  m_arready_i,
  output logic [31:0]           m_araddr_o,
  output logic [7:0]            m_arlen_o,
  output logic [1:0]            m_arid_o,
  input  logic                  m_rvalid_i,
  input  logic [1:0]            m_rid_i,
  output logic                  m_rready_o
);

  localparam logic [7:0] FetchLen = 8'(qmac_pkg::INSN_BYTES / ArrayDim - 1);

  logic held_q, held_d;          // AR presented without handshake in the last cycle
  logic owner_q, owner_d;        // 1: the load unit holds / was granted last
  logic last_q, last_d;          // the last grant went to the load unit
  logic grant_load, hs;

  always_comb begin
    if (held_q) begin
      grant_load = owner_q;
    end else if (f_req_i && l_req_i) begin
      grant_load = !last_q;
    end else begin
      grant_load = l_req_i;
    end
    m_arvalid_o = held_q || f_req_i || l_req_i;
    m_araddr_o  = grant_load ? l_addr_i : f_addr_i;
    m_arlen_o   = grant_load ? l_len_i : FetchLen;
    m_arid_o    = grant_load ? 2'd1 : 2'd0;
    hs          = m_arvalid_o && m_arready_i;
    f_hs_o      = hs && !grant_load;
    l_hs_o      = hs && grant_load;
    f_held_o    = held_q && !owner_q;

    held_d  = m_arvalid_o && !m_arready_i;
    owner_d = grant_load;
    last_d  = m_arvalid_o ? grant_load : last_q;
    if (clear_i) begin
      last_d = 1'b0;
    end

    f_rvalid_o = m_rvalid_i && (m_rid_i == 2'd0);
    l_rvalid_o = m_rvalid_i && (m_rid_i != 2'd0);
    m_rready_o = (m_rid_i == 2'd0) || l_rready_i;
  end

  always_ff @(posedge clk_i) begin
    if (!rst_ni) begin
      held_q  <= 1'b0;
      owner_q <= 1'b0;
      last_q  <= 1'b0;
    end else begin
      held_q  <= held_d;
      owner_q <= owner_d;
      last_q  <= last_d;
    end
  end

endmodule
