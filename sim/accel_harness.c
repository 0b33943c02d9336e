/* accel_harness.c - qmac_top on the AXI memory model against the golden model (accel_harness.h). */
#include "accel_harness.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qmac/accel.h"
#include "qmac/accel_timing.h"
#include "qmac/asm.h"
#include "qmac/axi_mem.h"
#include "qsim.h"

/* words of the widest port: trace_wdata_o at N = 32 (4096 bits) */
#define MAX_WORDS 128u
#define RESET_CYCLES 2u
#define NBUF 4u

typedef struct {
    int rst, s_awvalid, s_awready, s_awaddr, s_wvalid, s_wready, s_wdata, s_wstrb, s_bvalid, s_bready;
    int s_arvalid, s_arready, s_araddr, s_rvalid, s_rready, s_rdata;
    int arvalid, arready, araddr, arlen, arsize, arburst, arid, rvalid, rready, rdata, rresp, rlast, rid;
    int awvalid, awready, awaddr, awlen, awsize, awburst, awid, wvalid, wready, wdata, wstrb, wlast;
    int bvalid, bready, bresp, bid, irq;
    int t_retire, t_retire_pc, t_we, t_wrow, t_wdata, t_wmask;
} top_ports;

/* AXI4-Lite inputs driven in one cycle, and the outputs seen in it. */
typedef struct {
    bool awvalid, wvalid, bready, arvalid, rready;
    uint32_t awaddr, araddr, wdata, wstrb;
} lite_in;
typedef struct {
    bool awready, wready, bvalid, arready, rvalid, irq;
    uint32_t rdata;
} lite_out;

/* What the lock-step knows about instruction pc. */
typedef struct {
    bool executed;                   /* by the golden model */
    bool decoded;                    /* fp / op valid (passed qmac_insn_check) */
    bool retired;                    /* reported by the RTL trace */
    uint64_t rtl_cycle, model_cycle; /* run cycle of the retirement: RTL, cycle model (or UINT64_MAX) */
    qmac_op op;
    qmac_footprint fp;
    uint32_t w[QMAC_INSN_WORDS];
} insn_info;

struct accel_h {
    simctl *c;
    qmac_hw_config cfg;
    const char *tag;
    top_ports p;
    uint32_t n;
    uint32_t rb[NBUF], rows[NBUF];
    uint8_t *shadow[NBUF];
    qmac_accel *gold;
    /* per run */
    const accel_prog *prog;
    uint64_t k;
    const char *repro;
    bool quiet; /* the replay with a trace: do not report again */
    qmac_axi_mem *mem;
    qmac_axi_check *chk;
    uint8_t *gold_mem;
    qmac_accel_mem gmem;
    insn_info *info;
    uint64_t info_cap;
    int64_t gpc; /* the golden model executed instructions 0 .. gpc */
    bool gold_stopped, gold_done;
    qmac_fault gold_fault;
    uint64_t gold_fault_pc, gold_retired, gold_vectors, checks;
    bool failed;
    uint64_t fail_cycle;
    bool cycle_model;
    uint64_t trace_last; /* a failure trace holds this many cycles before the failure (0: all) */
    int debug;           /* QMAC_ACCEL_DEBUG: 1 print every retirement, 2 also every buffer write */
    uint64_t run_hs;     /* simulator cycle of the CTRL start handshake: run cycle 0 is the next one */
};

/* ---------------------------------------------------------------------------------------------
 * Ports
 * ------------------------------------------------------------------------------------------- */

static bool find_ports(accel_h *h)
{
    struct {
        const char *name;
        qsim_dir dir;
        int *id;
    } want[] = {
        {"rst_ni", QSIM_IN, &h->p.rst},
        {"s_awvalid_i", QSIM_IN, &h->p.s_awvalid},
        {"s_awready_o", QSIM_OUT, &h->p.s_awready},
        {"s_awaddr_i", QSIM_IN, &h->p.s_awaddr},
        {"s_wvalid_i", QSIM_IN, &h->p.s_wvalid},
        {"s_wready_o", QSIM_OUT, &h->p.s_wready},
        {"s_wdata_i", QSIM_IN, &h->p.s_wdata},
        {"s_wstrb_i", QSIM_IN, &h->p.s_wstrb},
        {"s_bvalid_o", QSIM_OUT, &h->p.s_bvalid},
        {"s_bready_i", QSIM_IN, &h->p.s_bready},
        {"s_arvalid_i", QSIM_IN, &h->p.s_arvalid},
        {"s_arready_o", QSIM_OUT, &h->p.s_arready},
        {"s_araddr_i", QSIM_IN, &h->p.s_araddr},
        {"s_rvalid_o", QSIM_OUT, &h->p.s_rvalid},
        {"s_rready_i", QSIM_IN, &h->p.s_rready},
        {"s_rdata_o", QSIM_OUT, &h->p.s_rdata},
        {"m_arvalid_o", QSIM_OUT, &h->p.arvalid},
        {"m_arready_i", QSIM_IN, &h->p.arready},
        {"m_araddr_o", QSIM_OUT, &h->p.araddr},
        {"m_arlen_o", QSIM_OUT, &h->p.arlen},
        {"m_arsize_o", QSIM_OUT, &h->p.arsize},
        {"m_arburst_o", QSIM_OUT, &h->p.arburst},
        {"m_arid_o", QSIM_OUT, &h->p.arid},
        {"m_rvalid_i", QSIM_IN, &h->p.rvalid},
        {"m_rready_o", QSIM_OUT, &h->p.rready},
        {"m_rdata_i", QSIM_IN, &h->p.rdata},
        {"m_rresp_i", QSIM_IN, &h->p.rresp},
        {"m_rlast_i", QSIM_IN, &h->p.rlast},
        {"m_rid_i", QSIM_IN, &h->p.rid},
        {"m_awvalid_o", QSIM_OUT, &h->p.awvalid},
        {"m_awready_i", QSIM_IN, &h->p.awready},
        {"m_awaddr_o", QSIM_OUT, &h->p.awaddr},
        {"m_awlen_o", QSIM_OUT, &h->p.awlen},
        {"m_awsize_o", QSIM_OUT, &h->p.awsize},
        {"m_awburst_o", QSIM_OUT, &h->p.awburst},
        {"m_awid_o", QSIM_OUT, &h->p.awid},
        {"m_wvalid_o", QSIM_OUT, &h->p.wvalid},
        {"m_wready_i", QSIM_IN, &h->p.wready},
        {"m_wdata_o", QSIM_OUT, &h->p.wdata},
        {"m_wstrb_o", QSIM_OUT, &h->p.wstrb},
        {"m_wlast_o", QSIM_OUT, &h->p.wlast},
        {"m_bvalid_i", QSIM_IN, &h->p.bvalid},
        {"m_bready_o", QSIM_OUT, &h->p.bready},
        {"m_bresp_i", QSIM_IN, &h->p.bresp},
        {"m_bid_i", QSIM_IN, &h->p.bid},
        {"irq_o", QSIM_OUT, &h->p.irq},
        {"trace_retire_o", QSIM_OUT, &h->p.t_retire},
        {"trace_retire_pc_o", QSIM_OUT, &h->p.t_retire_pc},
        {"trace_we_o", QSIM_OUT, &h->p.t_we},
        {"trace_wrow_o", QSIM_OUT, &h->p.t_wrow},
        {"trace_wdata_o", QSIM_OUT, &h->p.t_wdata},
        {"trace_wmask_o", QSIM_OUT, &h->p.t_wmask},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        if (qsim_port_find(want[i].name, want[i].dir, want[i].id, NULL) != QMAC_OK) {
            fprintf(stderr, "%s: %s\n", qsim_top_name(), qmac_last_error());
            return false;
        }
    }
    uint32_t w_rdata = 0;
    (void)qsim_port_info(h->p.rdata, NULL, &w_rdata, NULL);
    if (w_rdata != 8u * h->cfg.dim) {
        fprintf(stderr,
                "%s: m_rdata_i is %u bits wide: this binary is an N = %u build, not N = %u (--config)\n",
                h->tag, w_rdata, w_rdata / 8u, h->cfg.dim);
        return false;
    }
    return true;
}

static inline void poke1(qsim *s, int id, uint32_t v)
{
    qsim_poke(s, id, &v);
}

static inline uint32_t peek1(const qsim *s, int id)
{
    uint32_t w[2] = {0, 0};
    qsim_peek(s, id, w);
    return w[0];
}

/* ---------------------------------------------------------------------------------------------
 * Reports
 * ------------------------------------------------------------------------------------------- */

static void disasm(const uint32_t *w, char *buf, size_t len)
{
    if (qmac_disasm_insn(w, buf, len) != QMAC_OK) {
        snprintf(buf, len, "words %08x %08x %08x %08x %08x %08x %08x %08x", w[0], w[1], w[2], w[3], w[4],
                 w[5], w[6], w[7]);
    }
}

/* The first line of a failure; more lines may follow. */
static void fail(accel_h *h, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
static void fail(accel_h *h, const char *fmt, ...)
{
    if (h->failed)
        return;
    h->failed = true;
    h->fail_cycle = qsim_cycle(h->c->sim);
    if (h->quiet)
        return;
    printf("MISMATCH RTL vs golden model: %s seed %" PRIu64 " case %" PRIu64 " (%s), cycle %" PRIu64 ": ",
           h->tag, h->c->seed, h->k, h->prog->name, h->fail_cycle);
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
}

static void detail(const accel_h *h, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
static void detail(const accel_h *h, const char *fmt, ...)
{
    if (h->quiet)
        return;
    va_list ap;
    va_start(ap, fmt);
    printf("  ");
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
}

static void detail_insn(const accel_h *h, uint64_t pc)
{
    if (pc < h->info_cap && h->info[pc].executed) {
        char dis[256];
        disasm(h->info[pc].w, dis, sizeof dis);
        detail(h, "instruction %" PRIu64 ": %s", pc, dis);
    } else if (h->prog->words && pc < h->prog->n_insn) {
        char dis[256];
        disasm(h->prog->words + 8 * pc, dis, sizeof dis);
        detail(h, "instruction %" PRIu64 ": %s", pc, dis);
    }
}

/* Lanes of a row that differ: 32-bit lanes for ACC, bytes otherwise. */
static void detail_row(const accel_h *h, uint32_t b, const uint8_t *exp, const uint8_t *act)
{
    const uint32_t lane = b == QMAC_BUF_ACC ? 4u : 1u, lanes = h->rb[b] / lane;
    int shown = 0;
    for (uint32_t l = 0; l < lanes && shown < 8; l++) {
        uint32_t e = 0, a = 0;
        for (uint32_t i = 0; i < lane; i++) {
            e |= (uint32_t)exp[l * lane + i] << (8 * i);
            a |= (uint32_t)act[l * lane + i] << (8 * i);
        }
        if (e != a) {
            if (lane == 4)
                detail(h, "lane %u: expected (golden) %d (0x%08x), actual (RTL) %d (0x%08x)", l, (int32_t)e,
                       e, (int32_t)a, a);
            else
                detail(h, "byte %u: expected (golden) 0x%02x, actual (RTL) 0x%02x", l, e, a);
            shown++;
        }
    }
}

/* ---------------------------------------------------------------------------------------------
 * Golden model, lock-step
 * ------------------------------------------------------------------------------------------- */

static void gold_step(accel_h *h)
{
    const uint64_t pc = (uint64_t)(h->gpc + 1);
    if (pc >= h->info_cap) {
        h->gold_stopped = true;
        h->gold_fault = QMAC_FAULT_FETCH; /* beyond what the harness tracks: treated as a stop */
        h->gold_fault_pc = pc;
        return;
    }
    insn_info *in = &h->info[pc];
    qmac_insn insn;
    memset(&insn, 0, sizeof insn);
    qmac_fault f = qmac_accel_fetch(&h->gmem, h->prog->prog_addr, &h->prog->win, pc, in->w);
    if (f == QMAC_FAULT_NONE)
        f = qmac_insn_check(in->w, &h->cfg, &h->prog->win, &insn, NULL);
    h->gpc = (int64_t)pc;
    in->executed = true;
    if (f == QMAC_FAULT_NONE) {
        in->decoded = true;
        in->op = insn.op;
        qmac_insn_footprint(&insn, &h->cfg, &in->fp);
        uint64_t vec = 0;
        f = qmac_accel_exec(h->gold, &insn, &h->gmem, &vec);
        h->gold_vectors += vec;
    }
    if (f != QMAC_FAULT_NONE) {
        h->gold_stopped = true;
        h->gold_fault = f;
        h->gold_fault_pc = pc;
        return;
    }
    h->gold_retired++;
    if (insn.op == QMAC_OP_END) {
        h->gold_stopped = true;
        h->gold_done = true;
    }
}

/* The first compute instruction after pc (decoded without executing), or -1; skip_retired: the
 * first one the RTL has not retired yet. */
static int64_t next_compute(accel_h *h, uint64_t pc, bool skip_retired)
{
    for (uint64_t q = pc + 1; q < h->info_cap && q < pc + 64; q++) {
        insn_info *in = &h->info[q];
        if (!in->executed && !in->decoded) {
            qmac_insn insn;
            if (qmac_accel_fetch(&h->gmem, h->prog->prog_addr, &h->prog->win, q, in->w) != QMAC_FAULT_NONE ||
                qmac_insn_check(in->w, &h->cfg, &h->prog->win, &insn, NULL) != QMAC_FAULT_NONE)
                return -1;
            in->decoded = true;
            in->op = insn.op;
            qmac_insn_footprint(&insn, &h->cfg, &in->fp);
        }
        if (!in->decoded)
            return -1;
        switch (in->op) {
        case QMAC_OP_CONFIG:
        case QMAC_OP_GEMM:
        case QMAC_OP_POST:
        case QMAC_OP_PARAM:
        case QMAC_OP_VALU:
            if (skip_retired && in->retired)
                break;
            return (int64_t)q;
        case QMAC_OP_END: return -1;
        default: break;
        }
    }
    return -1;
}

/* Is (space, at) written by an instruction in the exclusion list? */
typedef struct {
    uint32_t n;
    qmac_range r[64];
    bool overflow;
} excl_list;

static void excl_add(excl_list *e, const insn_info *in)
{
    if (!in->decoded)
        return;
    for (uint32_t i = 0; i < in->fp.n; i++) {
        if (!in->fp.r[i].write)
            continue;
        if (e->n == sizeof e->r / sizeof e->r[0]) {
            e->overflow = true;
            return;
        }
        e->r[e->n++] = in->fp.r[i];
    }
}

static bool excluded(const excl_list *e, uint32_t space, uint64_t at)
{
    if (e->overflow)
        return true;
    for (uint32_t i = 0; i < e->n; i++)
        if (e->r[i].space == space && at >= e->r[i].lo && at < e->r[i].end)
            return true;
    return false;
}

static const char *space_name(uint32_t s)
{
    return s == QMAC_SPACE_MEM ? "memory" : qmac_buf_name((qmac_buf)s);
}

/* Instruction x retired in the RTL: run the golden model up to it and compare what it wrote. */
static void lockstep(accel_h *h, uint64_t x)
{
    if (x >= h->info_cap) {
        fail(h, "the RTL retired instruction %" PRIu64 ", beyond the program", x);
        return;
    }
    if (h->info[x].retired) {
        fail(h, "the RTL retired instruction %" PRIu64 " twice", x);
        detail_insn(h, x);
        return;
    }
    h->info[x].retired = true;
    h->info[x].rtl_cycle = qsim_cycle(h->c->sim) - (h->run_hs + 1u);
    while (h->gpc < (int64_t)x && !h->gold_stopped)
        gold_step(h);
    if (h->gpc < (int64_t)x || (h->gold_stopped && h->gold_fault != QMAC_FAULT_NONE &&
                                h->gold_fault != QMAC_FAULT_BUS && h->gold_fault_pc <= x)) {
        fail(h, "the RTL retired instruction %" PRIu64 ", the golden model stopped at %" PRIu64 " (%s)", x,
             h->gold_stopped ? h->gold_fault_pc : (uint64_t)h->gpc,
             h->gold_done ? "END" : qmac_fault_name(h->gold_fault));
        detail_insn(h, x);
        return;
    }
    const insn_info *in = &h->info[x];
    if (!in->decoded)
        return;
    /* later instructions whose writes may already be (or not yet be) in either model */
    excl_list ex = {0};
    for (int64_t q = (int64_t)x + 1; q <= h->gpc; q++)
        excl_add(&ex, &h->info[q]);
    if (in->op == QMAC_OP_GEMM) {
        const int64_t q = next_compute(h, x, false);
        if (q > h->gpc)
            excl_add(&ex, &h->info[q]);
    }
    h->checks++;
    uint8_t *rtl_mem = qmac_axi_mem_data(h->mem, NULL, NULL);
    for (uint32_t i = 0; i < in->fp.n; i++) {
        const qmac_range *r = &in->fp.r[i];
        if (!r->write)
            continue;
        if (r->space == QMAC_SPACE_MEM) {
            for (uint64_t a = r->lo; a < r->end; a++) {
                if (a < h->prog->mem_base || a - h->prog->mem_base >= h->prog->mem_size ||
                    excluded(&ex, r->space, a))
                    continue;
                const uint64_t o = a - h->prog->mem_base;
                if (rtl_mem[o] != h->gold_mem[o]) {
                    fail(h,
                         "instruction %" PRIu64 " retired: memory byte 0x%" PRIx64
                         " expected (golden) 0x%02x, actual (RTL) 0x%02x",
                         x, a, h->gold_mem[o], rtl_mem[o]);
                    detail_insn(h, x);
                    return;
                }
            }
            continue;
        }
        const uint32_t b = r->space, rb = h->rb[b];
        const uint8_t *gbuf = qmac_accel_buffer(h->gold, (qmac_buf)b);
        for (uint64_t row = r->lo; row < r->end; row++) {
            if (excluded(&ex, b, row))
                continue;
            const uint8_t *e = gbuf + row * rb, *a = h->shadow[b] + row * rb;
            if (memcmp(e, a, rb) != 0) {
                fail(h, "instruction %" PRIu64 " retired: %s row %" PRIu64 " differs", x, space_name(b), row);
                detail_insn(h, x);
                detail_row(h, b, e, a);
                return;
            }
        }
    }
}

/* ---------------------------------------------------------------------------------------------
 * One cycle
 * ------------------------------------------------------------------------------------------- */

static void apply_writes(accel_h *h)
{
    qsim *s = h->c->sim;
    const uint32_t we = peek1(s, h->p.t_we);
    if (!we)
        return;
    uint32_t rows[2], data[MAX_WORDS], mask[MAX_WORDS];
    qsim_peek(s, h->p.t_wrow, rows);
    qsim_peek(s, h->p.t_wdata, data);
    qsim_peek(s, h->p.t_wmask, mask);
    const uint32_t n32 = h->n; /* 32-bit words per buffer slot: 32N bits */
    for (uint32_t b = 0; b < NBUF; b++) {
        if (!(we >> b & 1u))
            continue;
        const uint32_t row = (rows[b / 2] >> (16 * (b % 2))) & 0xffffu;
        if (row >= h->rows[b]) {
            fail(h, "the RTL writes %s row %u, beyond its %u rows", space_name(b), row, h->rows[b]);
            return;
        }
        if (h->debug > 1) {
            printf("  [cycle %" PRIu64 "] write %s row %u data", qsim_cycle(s) - (h->run_hs + 1u),
                   space_name(b), row);
            for (uint32_t i = h->rb[b] / 4; i-- > 0;)
                printf(" %08x", data[b * n32 + i]);
            printf(" mask");
            for (uint32_t i = h->rb[b] / 4; i-- > 0;)
                printf(" %08x", mask[b * n32 + i]);
            printf("\n");
        }
        uint8_t *dst = h->shadow[b] + (size_t)row * h->rb[b];
        for (uint32_t i = 0; i < h->rb[b]; i++) {
            const uint32_t wd = data[b * n32 + i / 4], wm = mask[b * n32 + i / 4];
            const uint8_t d = (uint8_t)(wd >> (8 * (i % 4))), m = (uint8_t)(wm >> (8 * (i % 4)));
            dst[i] = (uint8_t)((dst[i] & ~m) | (d & m));
        }
    }
}

static void handle_retires(accel_h *h)
{
    qsim *s = h->c->sim;
    const uint32_t ret = peek1(s, h->p.t_retire);
    if (!ret)
        return;
    uint32_t pcs[4];
    qsim_peek(s, h->p.t_retire_pc, pcs);
    if (h->debug)
        printf("  [cycle %" PRIu64 "] retire 0x%x pcs %u %u %u 0x%08x\n", qsim_cycle(s) - (h->run_hs + 1u),
               ret, pcs[0], pcs[1], pcs[2], pcs[3]);
    uint64_t list[5];
    int n = 0;
    for (uint32_t u = 0; u < 4; u++)
        if (ret >> u & 1u)
            list[n++] = pcs[u] & 0x7fffffffu;
    if ((ret >> 3 & 1u) && (pcs[3] >> 31)) {
        /* two compute retirements: the traced (older) one and the other entry of the compute
         * queue, the next compute instruction the RTL has not retired yet */
        const int64_t q = next_compute(h, pcs[3] & 0x7fffffffu, true);
        if (q < 0) {
            fail(h, "the RTL retired two compute instructions, the second after %u is not one",
                 pcs[3] & 0x7fffffffu);
            return;
        }
        list[n++] = (uint64_t)q;
    }
    for (int i = 1; i < n; i++) /* in program order */
        for (int j = i; j > 0 && list[j] < list[j - 1]; j--) {
            const uint64_t t = list[j];
            list[j] = list[j - 1];
            list[j - 1] = t;
        }
    for (int i = 0; i < n && !h->failed; i++)
        lockstep(h, list[i]);
}

/* One clock cycle with the AXI4-Lite inputs li; lo gets the outputs seen in it. */
static simctl_rc step(accel_h *h, const lite_in *li, lite_out *lo)
{
    qsim *s = h->c->sim;
    const uint32_t nb = h->n;
    qmac_axi_s2m s2m;
    qmac_axi_mem_outputs(h->mem, &s2m);
    uint32_t w[MAX_WORDS];
    poke1(s, h->p.arready, s2m.arready);
    poke1(s, h->p.rvalid, s2m.rvalid);
    memset(w, 0, sizeof(uint32_t) * QSIM_WORDS(8u * nb));
    for (uint32_t i = 0; i < nb; i++)
        w[i / 4] |= (uint32_t)s2m.rdata[i] << (8 * (i % 4));
    qsim_poke(s, h->p.rdata, w);
    poke1(s, h->p.rresp, s2m.rresp);
    poke1(s, h->p.rlast, s2m.rlast);
    poke1(s, h->p.rid, s2m.rid);
    poke1(s, h->p.awready, s2m.awready);
    poke1(s, h->p.wready, s2m.wready);
    poke1(s, h->p.bvalid, s2m.bvalid);
    poke1(s, h->p.bresp, s2m.bresp);
    poke1(s, h->p.bid, s2m.bid);
    poke1(s, h->p.s_awvalid, li->awvalid);
    poke1(s, h->p.s_awaddr, li->awaddr);
    poke1(s, h->p.s_wvalid, li->wvalid);
    poke1(s, h->p.s_wdata, li->wdata);
    poke1(s, h->p.s_wstrb, li->wstrb);
    poke1(s, h->p.s_bready, li->bready);
    poke1(s, h->p.s_arvalid, li->arvalid);
    poke1(s, h->p.s_araddr, li->araddr);
    poke1(s, h->p.s_rready, li->rready);
    qsim_eval(s);

    qmac_axi_m2s m2s;
    memset(&m2s, 0, sizeof m2s);
    m2s.arvalid = peek1(s, h->p.arvalid);
    m2s.araddr = peek1(s, h->p.araddr);
    m2s.arlen = peek1(s, h->p.arlen);
    m2s.arsize = peek1(s, h->p.arsize);
    m2s.arburst = peek1(s, h->p.arburst);
    m2s.arid = peek1(s, h->p.arid);
    m2s.rready = peek1(s, h->p.rready);
    m2s.awvalid = peek1(s, h->p.awvalid);
    m2s.awaddr = peek1(s, h->p.awaddr);
    m2s.awlen = peek1(s, h->p.awlen);
    m2s.awsize = peek1(s, h->p.awsize);
    m2s.awburst = peek1(s, h->p.awburst);
    m2s.awid = peek1(s, h->p.awid);
    m2s.wvalid = peek1(s, h->p.wvalid);
    if (m2s.wvalid) {
        qsim_peek(s, h->p.wdata, w);
        for (uint32_t i = 0; i < nb; i++)
            m2s.wdata[i] = (uint8_t)(w[i / 4] >> (8 * (i % 4)));
        qsim_peek(s, h->p.wstrb, w);
        m2s.wstrb = w[0];
    }
    m2s.wlast = peek1(s, h->p.wlast);
    m2s.bready = peek1(s, h->p.bready);

    lo->awready = peek1(s, h->p.s_awready);
    lo->wready = peek1(s, h->p.s_wready);
    lo->bvalid = peek1(s, h->p.s_bvalid);
    lo->arready = peek1(s, h->p.s_arready);
    lo->rvalid = peek1(s, h->p.s_rvalid);
    lo->rdata = peek1(s, h->p.s_rdata);
    lo->irq = peek1(s, h->p.irq);

    char err[512];
    if (qmac_axi_check_cycle(h->chk, &m2s, &s2m, err, sizeof err) > 0)
        fail(h, "AXI4 protocol violation: %s", err);
    /* this cycle's buffer writes and memory handshakes land at its end; then its retirements */
    apply_writes(h);
    qmac_axi_mem_clock(h->mem, &m2s);
    if (!h->failed)
        handle_retires(h);
    if (!simctl_tick(h->c))
        return SIMCTL_TIMEOUT;
    return h->failed ? SIMCTL_MISMATCH : SIMCTL_PASS;
}

static simctl_rc idle(accel_h *h, lite_out *lo)
{
    const lite_in li = {0};
    return step(h, &li, lo);
}

/* AXI4-Lite write; *hs_cycle (may be NULL) gets the cycle of the W handshake. */
static simctl_rc lite_write(accel_h *h, uint32_t addr, uint32_t data, uint64_t *hs_cycle)
{
    lite_in li = {.awvalid = true, .wvalid = true, .awaddr = addr, .wdata = data, .wstrb = 0xf};
    lite_out lo;
    simctl_rc rc;
    for (int i = 0;; i++) {
        const uint64_t cyc = qsim_cycle(h->c->sim);
        if ((rc = step(h, &li, &lo)) != SIMCTL_PASS)
            return rc;
        if (lo.awready && lo.wready) {
            if (hs_cycle)
                *hs_cycle = cyc;
            break;
        }
        if (i > 16) {
            fail(h, "AXI4-Lite write of 0x%02x: no AWREADY/WREADY within 16 cycles", addr);
            return SIMCTL_MISMATCH;
        }
    }
    li = (lite_in){.bready = true};
    for (int i = 0;; i++) {
        if ((rc = step(h, &li, &lo)) != SIMCTL_PASS)
            return rc;
        if (lo.bvalid)
            return SIMCTL_PASS;
        if (i > 16) {
            fail(h, "AXI4-Lite write of 0x%02x: no BVALID within 16 cycles", addr);
            return SIMCTL_MISMATCH;
        }
    }
}

static simctl_rc lite_read(accel_h *h, uint32_t addr, uint32_t *data)
{
    lite_in li = {.arvalid = true, .araddr = addr};
    lite_out lo;
    simctl_rc rc;
    for (int i = 0;; i++) {
        if ((rc = step(h, &li, &lo)) != SIMCTL_PASS)
            return rc;
        if (lo.arready)
            break;
        if (i > 16) {
            fail(h, "AXI4-Lite read of 0x%02x: no ARREADY within 16 cycles", addr);
            return SIMCTL_MISMATCH;
        }
    }
    li = (lite_in){.rready = true};
    for (int i = 0;; i++) {
        if ((rc = step(h, &li, &lo)) != SIMCTL_PASS)
            return rc;
        if (lo.rvalid) {
            *data = lo.rdata;
            return SIMCTL_PASS;
        }
        if (i > 16) {
            fail(h, "AXI4-Lite read of 0x%02x: no RVALID within 16 cycles", addr);
            return SIMCTL_MISMATCH;
        }
    }
}

/* ---------------------------------------------------------------------------------------------
 * A run
 * ------------------------------------------------------------------------------------------- */

static uint32_t log2u(uint32_t v)
{
    uint32_t l = 0;
    while ((1u << l) < v)
        l++;
    return l;
}

static simctl_rc final_compare(accel_h *h, const accel_result *r)
{
    /* the golden model runs to its end */
    while (!h->gold_stopped)
        gold_step(h);
    const bool rtl_fault = (r->status >> 2) & 1u, rtl_done = (r->status >> 1) & 1u;
    if (r->status & 1u || rtl_fault == rtl_done) {
        fail(h, "STATUS 0x%x after irq: expected exactly one of done, fault and not busy", r->status);
        return SIMCTL_MISMATCH;
    }
    if (h->gold_done != rtl_done ||
        (rtl_fault && (r->fault_code != h->gold_fault || r->fault_pc != h->gold_fault_pc))) {
        fail(h, "the run ended with %s %s at %u, the golden model with %s %s at %" PRIu64,
             rtl_done ? "done" : "fault", rtl_done ? "" : qmac_fault_name((qmac_fault)r->fault_code),
             r->fault_pc, h->gold_done ? "done" : "fault", h->gold_done ? "" : qmac_fault_name(h->gold_fault),
             h->gold_done ? (uint64_t)h->gpc : h->gold_fault_pc);
        detail_insn(h, rtl_done ? (uint64_t)h->gpc : r->fault_pc);
        return SIMCTL_MISMATCH;
    }
    /* a BUS fault is not precise: the faulting instruction itself retires in the RTL */
    const bool bus = rtl_fault && r->fault_code == QMAC_FAULT_BUS;
    if (r->retired != h->gold_retired && !(bus && r->retired == h->gold_retired + 1)) {
        fail(h, "RETIRED %" PRIu64 ", the golden model retired %" PRIu64, r->retired, h->gold_retired);
        return SIMCTL_MISMATCH;
    }
    if (r->array_busy != h->gold_vectors) {
        fail(h, "ARRAY_BUSY %" PRIu64 ", the golden model put %" PRIu64 " vectors through the array",
             r->array_busy, h->gold_vectors);
        return SIMCTL_MISMATCH;
    }
    for (uint32_t b = 0; b < NBUF; b++) {
        const uint8_t *g = qmac_accel_buffer(h->gold, (qmac_buf)b);
        for (uint32_t row = 0; row < h->rows[b]; row++) {
            const size_t o = (size_t)row * h->rb[b];
            if (memcmp(g + o, h->shadow[b] + o, h->rb[b]) != 0) {
                fail(h, "at the end of the run: %s row %u differs", space_name(b), row);
                detail_row(h, b, g + o, h->shadow[b] + o);
                return SIMCTL_MISMATCH;
            }
        }
    }
    const uint8_t *m = qmac_axi_mem_data(h->mem, NULL, NULL);
    for (uint64_t o = 0; o < h->prog->mem_size; o++) {
        if (m[o] != h->gold_mem[o]) {
            fail(h,
                 "at the end of the run: memory byte 0x%" PRIx64
                 " expected (golden) 0x%02x, actual (RTL) 0x%02x",
                 h->prog->mem_base + o, h->gold_mem[o], m[o]);
            return SIMCTL_MISMATCH;
        }
    }
    if (qmac_axi_mem_guard_violations(h->mem)) {
        fail(h, "%" PRIu64 " bytes written outside the window, the first at 0x%" PRIx64,
             qmac_axi_mem_guard_violations(h->mem), qmac_axi_mem_guard_first(h->mem));
        return SIMCTL_MISMATCH;
    }
    if (!qmac_axi_mem_idle(h->mem)) {
        fail(h, "the run ended with AXI bursts outstanding");
        return SIMCTL_MISMATCH;
    }
    return SIMCTL_PASS;
}

/* ---------------------------------------------------------------------------------------------
 * The C cycle model, run on the same program and memory
 * ------------------------------------------------------------------------------------------- */

static void model_retired(void *ctx, uint64_t cycle, qmac_timing_src src, uint64_t pc, const qmac_insn *insn)
{
    accel_h *h = ctx;
    (void)src;
    (void)insn;
    if (pc < h->info_cap)
        h->info[pc].model_cycle = cycle;
}

qmac_status accel_model_run(const qmac_hw_config *cfg, const accel_prog *p, qmac_accel *golden,
                            uint64_t max_cycles, qmac_timing_retire_fn fn, void *ctx, qmac_timing_stats *st)
{
    qmac_timing_config tc;
    if (cfg->dim == QMAC_CFG_ARRAY_DIM_SMALL)
        qmac_timing_config_small(&tc);
    else
        qmac_timing_config_default(&tc);
    tc.hw = *cfg;
    if (p->read_latency)
        tc.read_latency = p->read_latency;
    if (p->write_latency)
        tc.write_latency = p->write_latency;
    if (p->max_reads)
        tc.max_reads = p->max_reads;
    if (p->max_writes)
        tc.max_writes = p->max_writes;
    qmac_axi_mem_config mc;
    qmac_timing_mem_config(&tc, p->mem_base, p->mem_size, &mc);
    qmac_axi_mem *mem = NULL;
    qmac_timing *t = NULL;
    qmac_status s = qmac_axi_mem_create(&mc, &mem);
    if (s == QMAC_OK)
        s = qmac_timing_create(&tc, &t);
    if (s == QMAC_OK) {
        memcpy(qmac_axi_mem_data(mem, NULL, NULL), p->mem_init, (size_t)p->mem_size);
        qmac_timing_set_retire_cb(t, fn, ctx);
        s = qmac_timing_run(t, golden, mem, p->prog_addr, &p->win, max_cycles, st);
    }
    qmac_timing_free(t);
    qmac_axi_mem_free(mem);
    return s;
}

static simctl_rc cycle_model_compare(accel_h *h, const accel_result *r)
{
    qmac_timing_stats st;
    simctl_rc rc = SIMCTL_PASS;
    for (uint64_t i = 0; i < h->info_cap; i++)
        h->info[i].model_cycle = UINT64_MAX;
    if (accel_model_run(&h->cfg, h->prog, NULL, r->cycles + 1000u, model_retired, h, &st) != QMAC_OK) {
        fprintf(stderr, "%s: cycle model: %s\n", h->c->prog, qmac_last_error());
        rc = SIMCTL_ERROR;
        goto out;
    }
    /* the first instruction whose retire cycle differs, in RTL retirement order */
    uint64_t worst = UINT64_MAX, at = 0;
    for (uint64_t i = 0; i < h->info_cap; i++) {
        const insn_info *in = &h->info[i];
        if (!in->retired && in->model_cycle == UINT64_MAX)
            continue;
        const uint64_t rc_ = in->retired ? in->rtl_cycle : UINT64_MAX;
        if (rc_ != in->model_cycle) {
            const uint64_t first = rc_ < in->model_cycle ? rc_ : in->model_cycle;
            if (first < worst) {
                worst = first;
                at = i;
            }
        }
    }
    if (worst != UINT64_MAX) {
        const insn_info *in = &h->info[at];
        char a[32], b[32];
        snprintf(a, sizeof a, in->retired ? "%" PRIu64 : "never", in->rtl_cycle);
        snprintf(b, sizeof b, in->model_cycle != UINT64_MAX ? "%" PRIu64 : "never", in->model_cycle);
        fail(h,
             "the cycle model disagrees: instruction %" PRIu64 " retires in run cycle %s (RTL), %s (C model)",
             at, a, b);
        detail(h, "retire cycles (RTL / C model) of the instructions around it:");
        for (uint64_t i = at > 6 ? at - 6 : 0; i < at + 3 && i < h->info_cap; i++) {
            const insn_info *q = &h->info[i];
            char dis[256] = "";
            if (q->executed || q->decoded)
                disasm(q->w, dis, sizeof dis);
            detail(h, "  %4" PRIu64 " %6" PRId64 " / %6" PRId64 "  %s", i,
                   q->retired ? (int64_t)q->rtl_cycle : -1,
                   q->model_cycle != UINT64_MAX ? (int64_t)q->model_cycle : -1, dis);
        }
        rc = SIMCTL_MISMATCH;
        goto out;
    }
    const uint64_t rtl[6] = {r->cycles, r->retired, r->array_busy, r->load_busy, r->store_busy, r->stall};
    const uint64_t mod[6] = {st.cycles,
                             st.retired & 0xffffffffu,
                             st.array_busy & 0xffffffffu,
                             st.load_busy & 0xffffffffu,
                             st.store_busy & 0xffffffffu,
                             st.stall & 0xffffffffu};
    static const char *const names[6] = {"CYCLES",    "RETIRED",    "ARRAY_BUSY",
                                         "LOAD_BUSY", "STORE_BUSY", "STALL"};
    for (int i = 0; i < 6; i++) {
        if (rtl[i] != mod[i]) {
            fail(h, "the cycle model disagrees: %s %" PRIu64 " (RTL), %" PRIu64 " (C model)", names[i],
                 rtl[i], mod[i]);
            rc = SIMCTL_MISMATCH;
            goto out;
        }
    }
out:
    return rc;
}

void accel_set_cycle_model(accel_h *h, bool on)
{
    h->cycle_model = on;
}

void accel_set_trace_last(accel_h *h, uint64_t cycles)
{
    h->trace_last = cycles;
}

static simctl_rc run_once(accel_h *h, const accel_prog *p, accel_result *res)
{
    simctl *c = h->c;
    memset(res, 0, sizeof *res);
    h->prog = p;
    h->failed = false;
    simctl_rc rc = simctl_open(c, "rst_ni");
    if (rc != SIMCTL_PASS)
        return rc;
    const uint64_t saved_max = c->max_cycles;
    if (!c->max_cycles)
        c->max_cycles = p->max_cycles ? p->max_cycles : 4000000u + 20000u * p->n_insn;

    /* memory, checker, golden model, shadows */
    qmac_axi_mem_config mc = {.beat_bytes = h->n,
                              .base = p->mem_base,
                              .size = p->mem_size,
                              .read_latency = p->read_latency ? p->read_latency : QMAC_MEM_READ_LATENCY,
                              .write_latency = p->write_latency ? p->write_latency : QMAC_MEM_WRITE_LATENCY,
                              .max_reads = p->max_reads ? p->max_reads : QMAC_MEM_MAX_READS,
                              .max_writes = p->max_writes ? p->max_writes : QMAC_MEM_MAX_WRITES};
    h->mem = NULL;
    h->chk = NULL;
    h->gold_mem = NULL;
    h->info = NULL;
    if (qmac_axi_mem_create(&mc, &h->mem) != QMAC_OK ||
        qmac_axi_check_create(h->n, QMAC_CFG_MAX_BURST, &h->chk) != QMAC_OK) {
        fprintf(stderr, "%s: %s\n", c->prog, qmac_last_error());
        rc = SIMCTL_ERROR;
        goto out;
    }
    h->info_cap = p->n_insn + 16u;
    h->gold_mem = malloc((size_t)p->mem_size);
    h->info = calloc((size_t)h->info_cap, sizeof *h->info);
    if (!h->gold_mem || !h->info) {
        fprintf(stderr, "%s: out of memory\n", c->prog);
        rc = SIMCTL_ERROR;
        goto out;
    }
    memcpy(qmac_axi_mem_data(h->mem, NULL, NULL), p->mem_init, (size_t)p->mem_size);
    memcpy(h->gold_mem, p->mem_init, (size_t)p->mem_size);
    h->gmem = (qmac_accel_mem){h->gold_mem, p->mem_base, p->mem_size};
    /* the guard: every byte written outside the window counts (an empty window: every byte) */
    if (p->win.hi < p->win.lo)
        (void)qmac_axi_mem_set_guard(h->mem, p->mem_base, p->mem_base);
    else
        (void)qmac_axi_mem_set_guard(h->mem, p->win.lo, (uint64_t)p->win.hi + 1u);
    qmac_accel_reset(h->gold);
    for (uint32_t b = 0; b < NBUF; b++)
        memset(h->shadow[b], 0, (size_t)h->rows[b] * h->rb[b]);
    h->gpc = -1;
    h->gold_stopped = h->gold_done = false;
    h->gold_fault = QMAC_FAULT_NONE;
    h->gold_fault_pc = h->gold_retired = h->gold_vectors = h->checks = 0;

    simctl_reset(c, RESET_CYCLES);

    /* the driver: identify the build, program the window, start */
    uint32_t v = 0;
    lite_out lo;
    if ((rc = lite_read(h, QMAC_CSR_HW_ID, &v)) != SIMCTL_PASS)
        goto out;
    const uint32_t want_id = 0x514d0000u | QMAC_ISA_VERSION << 8 | h->cfg.dim;
    if (v != want_id) {
        fail(h, "HW_ID 0x%08x, expected 0x%08x", v, want_id);
        rc = SIMCTL_MISMATCH;
        goto out;
    }
    if ((rc = lite_read(h, QMAC_CSR_HW_CFG, &v)) != SIMCTL_PASS)
        goto out;
    const uint32_t want_cfg = log2u(h->cfg.inp_rows) | log2u(h->cfg.wgt_rows) << 8 |
                              log2u(h->cfg.acc_rows) << 16 | log2u(h->cfg.out_rows) << 24;
    if (v != want_cfg) {
        fail(h, "HW_CFG 0x%08x, expected 0x%08x (is this binary built for --config %s?)", v, want_cfg,
             h->cfg.dim == QMAC_CFG_ARRAY_DIM ? "default" : "small");
        rc = SIMCTL_MISMATCH;
        goto out;
    }
    const uint32_t regs[3][2] = {
        {QMAC_CSR_PROG_ADDR, p->prog_addr}, {QMAC_CSR_WIN_LO, p->win.lo}, {QMAC_CSR_WIN_HI, p->win.hi}};
    for (int i = 0; i < 3; i++) {
        if ((rc = lite_write(h, regs[i][0], regs[i][1], NULL)) != SIMCTL_PASS)
            goto out;
        if ((rc = lite_read(h, regs[i][0], &v)) != SIMCTL_PASS)
            goto out;
        if (v != regs[i][1]) {
            fail(h, "CSR 0x%02x reads 0x%08x after writing 0x%08x", regs[i][0], v, regs[i][1]);
            rc = SIMCTL_MISMATCH;
            goto out;
        }
    }
    /* lite_write sets run_hs in the handshake cycle, before the B response's cycles */
    if ((rc = lite_write(h, QMAC_CSR_CTRL, 1u, &h->run_hs)) != SIMCTL_PASS)
        goto out;
    const uint64_t hs = h->run_hs;
    /* one STATUS read while it runs (busy unless the program is already over) */
    if ((rc = lite_read(h, QMAC_CSR_STATUS, &v)) != SIMCTL_PASS)
        goto out;
    uint64_t irq_cycle = 0;
    for (;;) {
        const uint64_t cyc = qsim_cycle(c->sim);
        if ((rc = idle(h, &lo)) != SIMCTL_PASS)
            goto out;
        if (lo.irq) {
            irq_cycle = cyc;
            break;
        }
    }
    /* the CSRs */
    uint32_t lo32 = 0, hi32 = 0, ctr[5];
    static const uint32_t ctr_addr[5] = {QMAC_CSR_RETIRED, QMAC_CSR_ARRAY_BUSY, QMAC_CSR_LOAD_BUSY,
                                         QMAC_CSR_STORE_BUSY, QMAC_CSR_STALL};
    if ((rc = lite_read(h, QMAC_CSR_STATUS, &res->status)) != SIMCTL_PASS ||
        (rc = lite_read(h, QMAC_CSR_FAULT_CODE, &res->fault_code)) != SIMCTL_PASS ||
        (rc = lite_read(h, QMAC_CSR_FAULT_PC, &res->fault_pc)) != SIMCTL_PASS ||
        (rc = lite_read(h, QMAC_CSR_CYCLES_LO, &lo32)) != SIMCTL_PASS ||
        (rc = lite_read(h, QMAC_CSR_CYCLES_HI, &hi32)) != SIMCTL_PASS)
        goto out;
    for (int i = 0; i < 5; i++)
        if ((rc = lite_read(h, ctr_addr[i], &ctr[i])) != SIMCTL_PASS)
            goto out;
    res->cycles = (uint64_t)hi32 << 32 | lo32;
    res->retired = ctr[0];
    res->array_busy = ctr[1];
    res->load_busy = ctr[2];
    res->store_busy = ctr[3];
    res->stall = ctr[4];
    /* cycle 0 of the run is the cycle after the CTRL handshake; irq rises the cycle after the end */
    if (res->cycles != irq_cycle - hs - 2u) {
        fail(h,
             "CYCLES %" PRIu64 ", but irq_o rose %" PRIu64
             " cycles after the CTRL handshake (expected CYCLES + 2)",
             res->cycles, irq_cycle - hs);
        rc = SIMCTL_MISMATCH;
        goto out;
    }
    rc = final_compare(h, res);
    if (rc == SIMCTL_PASS && p->mem_out)
        memcpy(p->mem_out, qmac_axi_mem_data(h->mem, NULL, NULL), (size_t)p->mem_size);
    if (rc == SIMCTL_PASS && h->cycle_model) {
        rc = cycle_model_compare(h, res);
        res->cycle_model_checked = rc == SIMCTL_PASS;
    }
out:
    if (rc == SIMCTL_TIMEOUT && !h->quiet)
        simctl_report_timeout(c, p->name);
    if (rc == SIMCTL_MISMATCH && !h->quiet) {
        simctl_print_repro(c, stdout, "%s", h->repro);
        if (h->info && !h->failed)
            printf("  (no detail)\n");
    }
    res->sim_cycles = qsim_cycle(c->sim);
    res->gold_done = h->gold_done;
    res->gold_fault = (uint32_t)h->gold_fault;
    res->gold_fault_pc = (uint32_t)h->gold_fault_pc;
    res->gold_retired = h->gold_retired;
    res->gold_vectors = h->gold_vectors;
    res->lockstep_checks = h->checks;
    qmac_axi_mem_free(h->mem);
    qmac_axi_check_free(h->chk);
    free(h->gold_mem);
    free(h->info);
    h->mem = NULL;
    h->chk = NULL;
    h->gold_mem = NULL;
    h->info = NULL;
    c->max_cycles = saved_max;
    simctl_close(c);
    return rc;
}

simctl_rc accel_run(accel_h *h, const accel_prog *p, uint64_t k, const char *repro, bool trace_on_fail,
                    accel_result *res)
{
    h->k = k;
    h->repro = repro;
    h->quiet = false;
    simctl_rc rc = run_once(h, p, res);
    if (rc == SIMCTL_MISMATCH && trace_on_fail && qsim_trace_supported()) {
        char path[600];
        char tag[64];
        snprintf(tag, sizeof tag, "%s", h->tag);
        simctl_fail_trace_path(h->c, tag, k, path, sizeof path);
        /* the replay fails at the same cycle; the trace holds the cycles before it */
        const uint64_t fail_cycle = h->fail_cycle;
        const uint64_t from = h->trace_last && fail_cycle > h->trace_last ? fail_cycle - h->trace_last : 0;
        accel_result r2;
        h->quiet = true;
        simctl_trace_from(h->c, path, from);
        (void)run_once(h, p, &r2);
        h->quiet = false;
        printf("  trace: %s (cycles %" PRIu64 " to %" PRIu64 " of the run replayed from reset%s; "
               "cycle c spans [10c, 10c + 10) ns)\n",
               path, from, fail_cycle, from ? ", --trace-last N sets how many" : "");
    }
    return rc;
}

accel_h *accel_create(simctl *c, const qmac_hw_config *cfg, const char *tag)
{
    accel_h *h = calloc(1, sizeof *h);
    if (!h)
        return NULL;
    h->c = c;
    h->cfg = *cfg;
    h->tag = tag;
    h->n = cfg->dim;
    h->trace_last = ACCEL_TRACE_LAST;
    h->debug = getenv("QMAC_ACCEL_DEBUG") ? atoi(getenv("QMAC_ACCEL_DEBUG")) : 0;
    if (!find_ports(h) || qmac_accel_create(cfg, &h->gold) != QMAC_OK) {
        if (!h->gold)
            fprintf(stderr, "%s: %s\n", tag, qmac_last_error());
        accel_free(h);
        return NULL;
    }
    for (uint32_t b = 0; b < NBUF; b++) {
        h->rows[b] = qmac_buf_rows(cfg, (qmac_buf)b);
        h->rb[b] = qmac_buf_row_bytes(cfg, (qmac_buf)b);
        h->shadow[b] = calloc(h->rows[b], h->rb[b]);
        if (!h->shadow[b]) {
            accel_free(h);
            return NULL;
        }
    }
    return h;
}

void accel_free(accel_h *h)
{
    if (!h)
        return;
    for (uint32_t b = 0; b < NBUF; b++)
        free(h->shadow[b]);
    qmac_accel_free(h->gold);
    free(h);
}
