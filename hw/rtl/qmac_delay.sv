// qmac_delay: Depth-stage register pipeline (Depth = 0 is a wire); resets to zero.
module qmac_delay #(
  parameter int unsigned Width = 1,
  parameter int unsigned Depth = 1
) (
  input  logic             clk_i,
  input  logic             rst_ni,
  input  logic [Width-1:0] d_i,
  output logic [Width-1:0] q_o
);

  if (Depth == 0) begin : g_wire
    assign q_o = d_i;
    // unused in this configuration
    logic unused_clk;
    assign unused_clk = clk_i ^ rst_ni;
  end else begin : g_pipe
    // stage i is pipe_q[i*Width +: Width] (flat: Yosys 0.23 has no multi-dimensional packed arrays)
    logic [Depth*Width-1:0] pipe_q, pipe_d;

    always_comb begin
      pipe_d[0+:Width] = d_i;
      for (int unsigned i = 1; i < Depth; i++) begin
        pipe_d[i*Width+:Width] = pipe_q[(i-1)*Width+:Width];
      end
    end

    always_ff @(posedge clk_i) begin
      if (!rst_ni) begin
        pipe_q <= '0;
      end else begin
        pipe_q <= pipe_d;
      end
    end

    assign q_o = pipe_q[(Depth-1)*Width+:Width];
  end

endmodule
