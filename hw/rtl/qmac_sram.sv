// qmac_sram: synchronous 1-read/1-write SRAM, read-first, masked write, no reset (BRAM style).
//
// A read of raddr_i presented in cycle c (re_i) gives rdata_o in cycle c + 1 and holds it until the
// next read. A write presented in cycle c (we_i) stores, at the end of c, the lanes of LaneW bits
// whose wmask_i bits are set (lane l is enabled by wmask_i[l * LaneW]; the mask bits of one lane
// must be equal; LaneW = 1 is a plain bit mask). A read and a write of the same row in the same
// cycle read the old row. The array itself is never reset (a memory block cannot be); its start
// value in simulation is the simulator's (Verilator --x-initial fast: zero).
//
// Each lane is a memory of its own with one write port (a block RAM or a slice of one); coarse
// lanes keep both Yosys and Verilator fast.
module qmac_sram #(
  parameter int unsigned Rows = 256,
  parameter int unsigned Width = 32,
  parameter int unsigned LaneW = 1,
  localparam int unsigned AddrW = (Rows > 1) ? $clog2(Rows) : 1
) (
  input  logic             clk_i,
  input  logic             rst_ni,
  input  logic             re_i,
  input  logic [AddrW-1:0] raddr_i,
  output logic [Width-1:0] rdata_o,
  input  logic             we_i,
  input  logic [AddrW-1:0] waddr_i,
  input  logic [Width-1:0] wdata_i,
  input  logic [Width-1:0] wmask_i
);

  localparam int unsigned Lanes = Width / LaneW;

  // One memory per write lane, each with its slice of the read register: every memory has a single
  // whole-word write port (one block RAM, or a slice of one, per lane).
  for (genvar l = 0; l < Lanes; l++) begin : g_lane
    logic [LaneW-1:0] mem_q [Rows];
    logic [LaneW-1:0] rdata_q, rdata_d;

    always_comb begin
      rdata_d = rdata_q;
      if (re_i) begin
        rdata_d = mem_q[raddr_i];
      end
    end

    // the read register: the only flop with a reset
    always_ff @(posedge clk_i) begin
      if (!rst_ni) begin
        rdata_q <= '0;
      end else begin
        rdata_q <= rdata_d;
      end
    end

    // the array: never reset
    always_ff @(posedge clk_i) begin
      if (we_i && wmask_i[l*LaneW]) begin
        mem_q[waddr_i] <= wdata_i[l*LaneW+:LaneW];
      end
    end

    assign rdata_o[l*LaneW+:LaneW] = rdata_q;

    // only the first mask bit of each lane is used
    if (LaneW > 1) begin : g_unused_mask
      logic unused_mask;
      assign unused_mask = ^wmask_i[l*LaneW+1+:LaneW-1];
    end
  end

  // Assertions (elaboration)
  if (Rows < 2 || (Rows & (Rows - 1)) != 0) begin : g_bad_rows
    $error("qmac_sram: Rows must be a power of two >= 2");
  end
  if (Width < 1 || LaneW < 1 || Width % LaneW != 0) begin : g_bad_width
    $error("qmac_sram: Width must be a positive multiple of LaneW");
  end

endmodule
