/* accel_timing.c - the cycle model of the accelerator (docs/microarch.md), driving a qmac_axi_mem.
 *
 * Each cycle c is evaluated from the state at the start of c (the memory's ports of c included):
 * every unit decides what it does in c, the master's ports are handed to the memory's clock, and
 * only then are the end-of-cycle updates applied (queue pushes and pops, FIFO pushes and pops,
 * cursors), so no decision of cycle c sees another's effect of the same cycle.
 *
 * Readings of microarch.md where the page leaves a choice (the simplest one is implemented):
 *  R1 End of run: condition (1) "has retired END or has a pending fault" is the `halting` flag,
 *     i.e. END retired or a fault became pending in a cycle before C (C >= that cycle + 1; the
 *     retirement cycle of END is always a busy cycle and CYCLES counts it).
 *  R2 A fetch request held on AR (presented, not yet accepted) counts as a fetch in flight for
 *     the end of the run (AXI forbids withdrawing it, so the run cannot end under it).
 *  R3 A BUS fault pending (the cycle after the faulting instruction retires) stops the dispatcher
 *     in that cycle like any pending fault (nothing dispatched or retired there); a valid head
 *     then still counts a STALL cycle (halting is set only at the end of that cycle).
 *  R4 Only the first fault to become pending is recorded (FAULT_CODE, FAULT_PC); when a BUS fault
 *     and a head fault become pending in the same cycle, the BUS one (the older instruction) wins.
 *     A BUS-faulting instruction has retired: it counts in RETIRED.
 *  R5 The ports an instruction uses come from its opcode and flags alone (table of "Dispatch"),
 *     also when its loops are empty (a GEMM with L = 0 still uses R(INP) R(WGT) W(ACC)).
 *  R6 "The previously started compute instruction P" is the last one started in this run. Compute
 *     instructions retire when their own rule says, so a short one can retire before a longer
 *     one started earlier (e.g. a GEMM without post streaming after a GEMM with post, L < 3); each
 *     leaves the queue at the end of its own retire cycle. The golden model still executes them
 *     in program order (an earlier unexecuted one is executed first).
 *  R7 Instruction words: taken with qmac_accel_fetch() when the entry is first at the FIFO head
 *     (the dispatcher's decode), then kept; the fetch beats only decide the BUS marker.
 *  R8 The round robin starts with "fetch granted last" (the load unit wins a first tie) and its
 *     "granted last" changes at every grant (a held grant keeps it). Since fetch is alone and
 *     granted in cycle 0 of every run that fetches at all, the initial value is unobservable.
 *  R9 RREADY = 1 when the presented RID is 0, else the load unit's readiness (the write cursor at
 *     a data row of a started LOAD); BREADY = 1 always.
 *  R10 The store's W FIFO read rule counts the FIFO at the start of c; a beat popped by a W
 *     handshake in c frees its entry at the end of c.
 *  R11 Counters count cycles 0 .. C-1. ARRAY_BUSY counts the cycles t0+1 .. t0+L of each GEMM.
 *  R12 WVALID = W FIFO not empty, as written, also while the burst's AW is still waiting for
 *     AWREADY (MaxWrites bursts outstanding): AXI4 allows write data ahead of its address and the
 *     memory takes it only once the AW is accepted, but qmac_axi_check flags it (w-without-aw).
 *     With the default MaxWrites = 32 it does not occur in practice.
 */
#include "qmac/accel_timing.h"

#include <stdlib.h>
#include <string.h>

enum { GR_NONE = 0, GR_FETCH = 1, GR_LOAD = 2 };
enum { ENTRY_OK = 0, ENTRY_FETCH = 1, ENTRY_BUS = 2 };
enum { UQ_LOAD = 0, UQ_STORE = 1, UQ_COMPUTE = 2, UQ_COUNT = 3 };

#define W_FIFO_DEPTH 3u
#define NO_CYCLE UINT64_MAX

/* Buffer ports: bit 2b = read port of buffer b, bit 2b + 1 = its write port. */
#define PORT_R(b) (1u << (2u * (uint32_t)(b)))
#define PORT_W(b) (1u << (2u * (uint32_t)(b) + 1u))

/* One FIFO entry: a fetched instruction, or a fault marker. */
typedef struct {
    uint64_t pc;
    uint32_t kind; /* ENTRY_* */
    bool checked;  /* fault, why, insn, fp and ports are valid */
    qmac_fault fault;
    const char *why;
    qmac_insn insn;
    qmac_footprint fp;
    uint32_t ports;
} fifo_entry;

/* One instruction in a unit queue. */
typedef struct {
    qmac_insn insn;
    uint64_t pc;
    qmac_footprint fp;
    uint32_t ports;
    uint64_t dispatch; /* cycle it was dispatched in */
    /* compute unit */
    bool started, executed;
    uint64_t t0, retire;
    uint64_t vectors; /* GEMM: L = count0 * count1 */
} unit_entry;

/* Program order: e[0] oldest. Entries leave at the end of their retire cycle. */
typedef struct {
    unit_entry e[QMAC_TIMING_MAX_UNIT_QUEUE];
    uint32_t count, cap;
} unit_queue;

/* Bursts of a DMA instruction's data rows (microarch.md "Load unit", AR cursor). */
typedef struct {
    uint64_t dram;
    uint32_t xs, ys, zs, nx, ny, nz, rb, beat, max_burst;
    bool line_run;     /* x_stride == rb: the rows of a line are one run */
    uint32_t x, y, z;  /* start row of the next run */
    uint64_t run_addr; /* next byte of the current run */
    uint64_t run_left; /* bytes left in the current run */
} burst_gen;

typedef struct {
    bool active; /* the head instruction has started */
    bool has_prev;
    uint64_t prev_retire;
    /* AR cursor: the burst presented (one at a time) */
    burst_gen ar;
    bool ar_valid;
    uint64_t ar_addr;
    uint32_t ar_beats;
    /* write cursor over all rows, padding included */
    uint32_t nxp, nyp, nz, px0, nx, py0, ny;
    uint32_t wx, wy, wz, beat_in_row, row_beats;
    bool wdone;
    bool err;
} load_unit;

typedef struct {
    bool active;
    bool has_prev;
    uint64_t prev_retire;
    burst_gen aw;
    bool aw_valid;
    uint64_t aw_addr;
    uint32_t aw_beats;
    uint64_t aw_count; /* AW handshakes */
    burst_gen wg;      /* the same bursts again, for WLAST */
    uint32_t w_left;   /* beats left in the W burst of the FIFO's head beat */
    uint64_t w_burst;  /* index of that burst: its beats go out once its AW was accepted */
    uint64_t total_beats, reads;
    bool read_prev; /* a buffer read was issued in the previous cycle */
    uint32_t fifo;  /* beats in the W FIFO */
    uint64_t b_count;
    bool err;
} store_unit;

/* The last compute instruction started (P of microarch.md "Compute unit"), and the latest
 * retirement of all started ones (streaming GEMMs may retire out of order). */
typedef struct {
    bool valid, stream; /* stream: a GEMM with L >= 1 */
    uint64_t start, len, retire_max;
} compute_prev;

struct qmac_timing {
    qmac_timing_config cfg;
    uint32_t n;          /* N */
    uint32_t insn_beats; /* beats per instruction fetch: 32 / N (at least 1) */
    uint32_t size_log2;  /* AxSIZE */
    qmac_timing_retire_fn retire_fn;
    void *retire_ctx;
    qmac_timing_port_fn port_fn;
    void *port_ctx;
    bool fast_forward;

    /* ---- one run */
    qmac_accel *golden;
    qmac_axi_mem *mem;
    qmac_accel_mem amem;
    uint32_t prog_addr;
    qmac_window win;
    uint64_t cycle;
    qmac_timing_stats st;
    bool fault_set;
    /* fetch */
    uint64_t fetch_pc;
    fifo_entry fifo[QMAC_TIMING_MAX_FETCH_QUEUE];
    uint32_t f_head, f_count;
    uint64_t infl[QMAC_TIMING_MAX_FETCH_QUEUE]; /* pcs requested, in AR order */
    uint32_t i_head, i_count, i_beats;
    bool i_err;
    bool halting, fetch_stopped;
    /* AR arbiter */
    int lock, last;
    /* dispatcher */
    bool bus_pending;
    uint64_t bus_pc;
    /* units */
    unit_queue q[UQ_COUNT];
    load_unit lu;
    store_unit su;
    compute_prev cp;
    qmac_axi_m2s m2s;
};

/* ============================================================================================ */
/* configuration                                                                                */
/* ============================================================================================ */

static void config_common(qmac_timing_config *cfg)
{
    cfg->fetch_queue = QMAC_CFG_FETCH_QUEUE;
    cfg->load_queue = QMAC_CFG_LOAD_QUEUE;
    cfg->store_queue = QMAC_CFG_STORE_QUEUE;
    cfg->compute_queue = QMAC_CFG_COMPUTE_QUEUE;
    cfg->max_burst = QMAC_CFG_MAX_BURST;
    cfg->read_latency = QMAC_MEM_READ_LATENCY;
    cfg->write_latency = QMAC_MEM_WRITE_LATENCY;
    cfg->max_reads = QMAC_MEM_MAX_READS;
    cfg->max_writes = QMAC_MEM_MAX_WRITES;
}

void qmac_timing_config_default(qmac_timing_config *cfg)
{
    qmac_hw_config_default(&cfg->hw);
    config_common(cfg);
}

void qmac_timing_config_small(qmac_timing_config *cfg)
{
    qmac_hw_config_small(&cfg->hw);
    config_common(cfg);
}

qmac_status qmac_timing_config_check(const qmac_timing_config *cfg)
{
    const qmac_status st = qmac_hw_config_check(&cfg->hw);
    if (st != QMAC_OK)
        return st;
    if (cfg->fetch_queue < 1 || cfg->fetch_queue > QMAC_TIMING_MAX_FETCH_QUEUE)
        return qmac_set_error(QMAC_ERR_INVALID_ARG, "timing config: fetch_queue = %u outside [1, %u]",
                              cfg->fetch_queue, QMAC_TIMING_MAX_FETCH_QUEUE);
    const struct {
        const char *name;
        uint32_t v;
    } q[] = {{"load_queue", cfg->load_queue},
             {"store_queue", cfg->store_queue},
             {"compute_queue", cfg->compute_queue}};
    for (size_t i = 0; i < sizeof q / sizeof q[0]; i++)
        if (q[i].v < 1 || q[i].v > QMAC_TIMING_MAX_UNIT_QUEUE)
            return qmac_set_error(QMAC_ERR_INVALID_ARG, "timing config: %s = %u outside [1, %u]", q[i].name,
                                  q[i].v, QMAC_TIMING_MAX_UNIT_QUEUE);
    if (cfg->max_burst < 1 || cfg->max_burst > QMAC_AXI_MAX_BURST_BEATS)
        return qmac_set_error(QMAC_ERR_INVALID_ARG, "timing config: max_burst = %u outside [1, %u]",
                              cfg->max_burst, QMAC_AXI_MAX_BURST_BEATS);
    if (cfg->read_latency < 1 || cfg->write_latency < 1)
        return qmac_set_error(QMAC_ERR_INVALID_ARG,
                              "timing config: read_latency = %u, write_latency = %u "
                              "(both must be >= 1)",
                              cfg->read_latency, cfg->write_latency);
    if (cfg->max_reads < 1 || cfg->max_reads > QMAC_AXI_MAX_OUTSTANDING || cfg->max_writes < 1 ||
        cfg->max_writes > QMAC_AXI_MAX_OUTSTANDING)
        return qmac_set_error(QMAC_ERR_INVALID_ARG,
                              "timing config: max_reads = %u, max_writes = %u "
                              "outside [1, %u]",
                              cfg->max_reads, cfg->max_writes, QMAC_AXI_MAX_OUTSTANDING);
    return QMAC_OK;
}

void qmac_timing_mem_config(const qmac_timing_config *cfg, uint64_t base, uint64_t size,
                            qmac_axi_mem_config *mc)
{
    mc->beat_bytes = cfg->hw.dim;
    mc->base = base;
    mc->size = size;
    mc->read_latency = cfg->read_latency;
    mc->write_latency = cfg->write_latency;
    mc->max_reads = cfg->max_reads;
    mc->max_writes = cfg->max_writes;
}

qmac_status qmac_timing_create(const qmac_timing_config *cfg, qmac_timing **out)
{
    *out = NULL;
    const qmac_status st = qmac_timing_config_check(cfg);
    if (st != QMAC_OK)
        return st;
    qmac_timing *t = calloc(1, sizeof *t);
    if (!t)
        return qmac_set_error(QMAC_ERR_NOMEM, "timing model: out of memory");
    t->cfg = *cfg;
    t->n = cfg->hw.dim;
    t->insn_beats = QMAC_INSN_BYTES / t->n ? QMAC_INSN_BYTES / t->n : 1u;
    while ((1u << t->size_log2) < t->n)
        t->size_log2++;
    t->fast_forward = true;
    *out = t;
    return QMAC_OK;
}

void qmac_timing_free(qmac_timing *t)
{
    free(t);
}

const qmac_timing_config *qmac_timing_get_config(const qmac_timing *t)
{
    return &t->cfg;
}

void qmac_timing_set_retire_cb(qmac_timing *t, qmac_timing_retire_fn fn, void *ctx)
{
    t->retire_fn = fn;
    t->retire_ctx = ctx;
}

void qmac_timing_set_port_cb(qmac_timing *t, qmac_timing_port_fn fn, void *ctx)
{
    t->port_fn = fn;
    t->port_ctx = ctx;
}

void qmac_timing_set_fast_forward(qmac_timing *t, bool on)
{
    t->fast_forward = on;
}

/* ============================================================================================ */
/* DMA geometry                                                                                 */
/* ============================================================================================ */

static void bg_init(burst_gen *g, uint64_t dram, uint32_t xs, uint32_t ys, uint32_t zs, uint32_t nx,
                    uint32_t ny, uint32_t nz, uint32_t rb, uint32_t beat, uint32_t max_burst)
{
    *g = (burst_gen){.dram = dram,
                     .xs = xs,
                     .ys = ys,
                     .zs = zs,
                     .nx = nx,
                     .ny = ny,
                     .nz = nz,
                     .rb = rb,
                     .beat = beat,
                     .max_burst = max_burst,
                     .line_run = xs == rb};
    if (!nx || !ny)
        g->z = nz; /* no data rows: exhausted */
}

/* The next burst: the current run cut at MaxBurst beats and at 4 KiB boundaries. */
static bool bg_next(burst_gen *g, uint64_t *addr, uint32_t *beats)
{
    if (g->run_left == 0) {
        if (g->z >= g->nz)
            return false;
        g->run_addr = g->dram + (uint64_t)g->z * g->zs + (uint64_t)g->y * g->ys + (uint64_t)g->x * g->xs;
        if (g->line_run) {
            g->run_left = (uint64_t)g->nx * g->rb;
            g->x = g->nx; /* the whole line */
        } else {
            g->run_left = g->rb;
            g->x++;
        }
        if (g->x >= g->nx) {
            g->x = 0;
            if (++g->y >= g->ny) {
                g->y = 0;
                g->z++;
            }
        }
    }
    const uint64_t a = g->run_addr;
    uint64_t b = g->run_left / g->beat;
    if (b > g->max_burst)
        b = g->max_burst;
    const uint64_t to4k = (QMAC_AXI_BOUNDARY - (a & (QMAC_AXI_BOUNDARY - 1u))) / g->beat;
    if (b > to4k)
        b = to4k;
    *addr = a;
    *beats = (uint32_t)b;
    g->run_addr += b * g->beat;
    g->run_left -= b * g->beat;
    return true;
}

static uint32_t ports_of(const qmac_insn *in)
{
    static const qmac_buf abuf[] = {QMAC_BUF_ACC, QMAC_BUF_INP, QMAC_BUF_OUT};
    switch (in->op) {
    case QMAC_OP_LOAD: return PORT_W(in->u.load.buf);
    case QMAC_OP_STORE: return PORT_R(in->u.store.buf);
    case QMAC_OP_GEMM:
        return PORT_R(QMAC_BUF_INP) | PORT_R(QMAC_BUF_WGT) | PORT_W(QMAC_BUF_ACC) |
               (in->u.gemm.accum ? PORT_R(QMAC_BUF_ACC) : 0u) | (in->u.gemm.post ? PORT_W(QMAC_BUF_OUT) : 0u);
    case QMAC_OP_POST: return PORT_R(QMAC_BUF_ACC) | PORT_W(QMAC_BUF_OUT);
    case QMAC_OP_PARAM: return PORT_R(QMAC_BUF_ACC);
    case QMAC_OP_VALU: {
        const qmac_insn_valu *v = &in->u.valu;
        const bool read_b = !v->b_imm && v->alu != QMAC_ALU_MOV;
        return PORT_R(abuf[v->a_buf]) | PORT_W(QMAC_BUF_ACC) | (read_b ? PORT_R(QMAC_BUF_ACC) : 0u);
    }
    default: return 0; /* CONFIG, NOP, FENCE, END */
    }
}

static int unit_of(qmac_op op)
{
    switch (op) {
    case QMAC_OP_LOAD: return UQ_LOAD;
    case QMAC_OP_STORE: return UQ_STORE;
    case QMAC_OP_CONFIG:
    case QMAC_OP_PARAM:
    case QMAC_OP_GEMM:
    case QMAC_OP_POST:
    case QMAC_OP_VALU: return UQ_COMPUTE;
    default: return -1;
    }
}

/* Loop trip count L of GEMM, POST and VALU. */
static uint64_t loop_len(const qmac_insn *in)
{
    switch (in->op) {
    case QMAC_OP_GEMM: return (uint64_t)in->u.gemm.count0 * in->u.gemm.count1;
    case QMAC_OP_POST: return (uint64_t)in->u.post.count0 * in->u.post.count1;
    case QMAC_OP_VALU: return (uint64_t)in->u.valu.count0 * in->u.valu.count1;
    default: return 0;
    }
}

/* ============================================================================================ */
/* fetch and dispatch                                                                           */
/* ============================================================================================ */

static bool fetch_in_window(const qmac_timing *t, uint64_t pc)
{
    if (t->prog_addr % QMAC_INSN_BYTES)
        return false;
    const uint64_t a = (uint64_t)t->prog_addr + pc * QMAC_INSN_BYTES;
    return a >= t->win.lo && a + QMAC_INSN_BYTES - 1u <= t->win.hi;
}

/* The dispatcher's decode and checks of a FIFO entry, done once. */
static void ensure_checked(qmac_timing *t, fifo_entry *e)
{
    if (e->checked)
        return;
    e->checked = true;
    e->why = NULL;
    e->fp.n = 0;
    e->ports = 0;
    memset(&e->insn, 0, sizeof e->insn);
    if (e->kind == ENTRY_FETCH) {
        e->fault = QMAC_FAULT_FETCH;
        e->why = "instruction fetch";
        return;
    }
    if (e->kind == ENTRY_BUS) {
        e->fault = QMAC_FAULT_BUS;
        e->why = "instruction bytes";
        return;
    }
    uint32_t w[QMAC_INSN_WORDS];
    e->fault = qmac_accel_fetch(&t->amem, t->prog_addr, &t->win, e->pc, w);
    if (e->fault != QMAC_FAULT_NONE) {
        e->why = e->fault == QMAC_FAULT_FETCH ? "instruction fetch" : "instruction bytes";
        return;
    }
    e->fault = qmac_insn_check(w, &t->cfg.hw, &t->win, &e->insn, &e->why);
    if (e->fault == QMAC_FAULT_NONE) {
        qmac_insn_footprint(&e->insn, &t->cfg.hw, &e->fp);
        e->ports = ports_of(&e->insn);
    }
}

static bool ranges_conflict(const qmac_footprint *a, const qmac_footprint *b)
{
    for (uint32_t i = 0; i < a->n; i++)
        for (uint32_t j = 0; j < b->n; j++) {
            const qmac_range *x = &a->r[i], *y = &b->r[j];
            if (x->space == y->space && (x->write || y->write) && x->lo < y->end && y->lo < x->end)
                return true;
        }
    return false;
}

/* Data or port hazard of the head with an instruction in the other two units' queues. */
static bool has_hazard(const qmac_timing *t, int unit, const fifo_entry *h)
{
    for (int u = 0; u < UQ_COUNT; u++) {
        if (u == unit)
            continue;
        const unit_queue *q = &t->q[u];
        for (uint32_t i = 0; i < q->count; i++) {
            const unit_entry *e = &q->e[i];
            if ((e->ports & h->ports) || ranges_conflict(&e->fp, &h->fp))
                return true;
        }
    }
    return false;
}

static bool queues_empty(const qmac_timing *t)
{
    return t->q[UQ_LOAD].count == 0 && t->q[UQ_STORE].count == 0 && t->q[UQ_COMPUTE].count == 0;
}

/* Can the (checked, valid) head leave the FIFO in this cycle? */
static bool head_can_go(const qmac_timing *t, const fifo_entry *h)
{
    switch (h->insn.op) {
    case QMAC_OP_NOP: return true;
    case QMAC_OP_FENCE:
    case QMAC_OP_END: return queues_empty(t);
    default: {
        const int u = unit_of(h->insn.op);
        return t->q[u].count < t->q[u].cap && !has_hazard(t, u, h);
    }
    }
}

static void set_fault(qmac_timing *t, qmac_fault f, uint64_t pc, const char *why)
{
    if (t->fault_set)
        return;
    t->fault_set = true;
    t->st.fault = f;
    t->st.fault_pc = pc;
    t->st.why = why;
}

static void notify(qmac_timing *t, uint64_t c, qmac_timing_src src, uint64_t pc, const qmac_insn *insn)
{
    t->st.retired++;
    if (t->retire_fn)
        t->retire_fn(t->retire_ctx, c, src, pc, insn);
}

/* Execute a unit's instruction on the golden model; true when it reports BUS. */
static bool exec_golden(qmac_timing *t, const qmac_insn *insn)
{
    if (!t->golden)
        return false;
    return qmac_accel_exec(t->golden, insn, &t->amem, NULL) == QMAC_FAULT_BUS;
}

static void queue_remove(unit_queue *q, uint32_t i)
{
    memmove(&q->e[i], &q->e[i + 1], (size_t)(q->count - i - 1u) * sizeof q->e[0]);
    q->count--;
}

/* ============================================================================================ */
/* units                                                                                        */
/* ============================================================================================ */

static uint64_t dma_t0(const unit_entry *e, bool has_prev, uint64_t prev_retire)
{
    const uint64_t a = e->dispatch + 1u;
    return has_prev && prev_retire + 1u > a ? prev_retire + 1u : a;
}

static void load_start(qmac_timing *t, const unit_entry *e)
{
    load_unit *l = &t->lu;
    const qmac_insn_load *ld = &e->insn.u.load;
    const uint32_t rb = qmac_buf_row_bytes(&t->cfg.hw, (qmac_buf)ld->buf);
    l->active = true;
    l->err = false;
    bg_init(&l->ar, ld->dram, ld->x_stride, ld->y_stride, ld->z_stride, ld->x_size, ld->y_size, ld->z_size,
            rb, t->n, t->cfg.max_burst);
    l->ar_valid = bg_next(&l->ar, &l->ar_addr, &l->ar_beats);
    l->nx = ld->x_size;
    l->ny = ld->y_size;
    l->nz = ld->z_size;
    l->px0 = ld->pad_x0;
    l->py0 = ld->pad_y0;
    l->nxp = ld->pad_x0 + ld->x_size + ld->pad_x1;
    l->nyp = ld->pad_y0 + ld->y_size + ld->pad_y1;
    l->wx = l->wy = l->wz = 0;
    l->beat_in_row = 0;
    l->row_beats = rb / t->n;
    l->wdone = l->nxp == 0 || l->nyp == 0 || l->nz == 0;
}

static bool load_at_data_row(const load_unit *l)
{
    return l->wy >= l->py0 && l->wy - l->py0 < l->ny && l->wx >= l->px0 && l->wx - l->px0 < l->nx;
}

static void load_next_row(load_unit *l)
{
    l->beat_in_row = 0;
    if (++l->wx < l->nxp)
        return;
    l->wx = 0;
    if (++l->wy < l->nyp)
        return;
    l->wy = 0;
    if (++l->wz >= l->nz)
        l->wdone = true;
}

static void store_start(qmac_timing *t, const unit_entry *e)
{
    store_unit *s = &t->su;
    const qmac_insn_store *sd = &e->insn.u.store;
    const uint32_t rb = qmac_buf_row_bytes(&t->cfg.hw, (qmac_buf)sd->buf);
    s->active = true;
    s->err = false;
    bg_init(&s->aw, sd->dram, sd->x_stride, sd->y_stride, sd->z_stride, sd->x_size, sd->y_size, sd->z_size,
            rb, t->n, t->cfg.max_burst);
    s->wg = s->aw;
    s->aw_valid = bg_next(&s->aw, &s->aw_addr, &s->aw_beats);
    uint64_t a;
    s->w_left = 0;
    if (!bg_next(&s->wg, &a, &s->w_left))
        s->w_left = 0;
    s->aw_count = 0;
    s->w_burst = 0;
    s->total_beats = qmac_dma_data_rows(&e->insn) * (rb / t->n);
    s->reads = 0;
    s->read_prev = false;
    s->fifo = 0;
    s->b_count = 0;
}

/* Cycles from start to retirement of a compute instruction (microarch.md's table). */
static uint64_t compute_duration(const qmac_timing *t, const qmac_insn *in, uint64_t len)
{
    switch (in->op) {
    case QMAC_OP_PARAM: return QMAC_PARAM_ROWS;
    case QMAC_OP_GEMM: return len ? len + 2u * t->n + 1u + (in->u.gemm.post ? 3u : 0u) : 0u;
    case QMAC_OP_POST: return len ? len + 3u : 0u;
    case QMAC_OP_VALU: return len ? len + 1u : 0u;
    default: return 0; /* CONFIG */
    }
}

/* Earliest start of compute entry e given P (t->cp); every earlier entry has started. */
static uint64_t compute_t0(const qmac_timing *t, const unit_entry *e)
{
    uint64_t t0 = e->dispatch + 1u;
    const compute_prev *p = &t->cp;
    if (p->valid) {
        const bool stream = e->insn.op == QMAC_OP_GEMM && e->vectors > 0;
        uint64_t lim;
        if (stream && p->stream)
            lim = p->start + (p->len > t->n ? p->len : t->n);
        else
            lim = p->retire_max + 1u; /* every earlier compute instruction has retired */
        if (lim > t0)
            t0 = lim;
    }
    return t0;
}

static unit_entry *compute_next_unstarted(qmac_timing *t)
{
    unit_queue *q = &t->q[UQ_COMPUTE];
    for (uint32_t i = 0; i < q->count; i++)
        if (!q->e[i].started)
            return &q->e[i];
    return NULL;
}

static void compute_try_start(qmac_timing *t, uint64_t c)
{
    unit_entry *e = compute_next_unstarted(t);
    if (!e || c < compute_t0(t, e))
        return;
    e->started = true;
    e->t0 = c;
    e->retire = c + compute_duration(t, &e->insn, e->vectors);
    t->cp.retire_max = t->cp.valid && t->cp.retire_max > e->retire ? t->cp.retire_max : e->retire;
    t->cp.valid = true;
    t->cp.stream = e->insn.op == QMAC_OP_GEMM && e->vectors > 0;
    t->cp.start = c;
    t->cp.len = e->vectors;
    if (e->insn.op == QMAC_OP_GEMM)
        t->st.array_busy += e->vectors; /* cycles t0+1 .. t0+L (trimmed at a max_cycles cut) */
}

/* Earliest compute event (a start or a retirement) at or after the current cycle. */
static uint64_t compute_next_event(qmac_timing *t)
{
    uint64_t ev = NO_CYCLE;
    const unit_queue *q = &t->q[UQ_COMPUTE];
    for (uint32_t i = 0; i < q->count; i++) {
        const unit_entry *e = &q->e[i];
        uint64_t c = e->started ? e->retire : compute_t0(t, e);
        if (c < ev)
            ev = c;
        if (!e->started)
            break;
    }
    return ev;
}

/* ============================================================================================ */
/* one cycle                                                                                    */
/* ============================================================================================ */

static void step(qmac_timing *t)
{
    const uint64_t c = t->cycle;
    qmac_axi_s2m s;
    qmac_axi_mem_outputs(t->mem, &s);
    qmac_axi_m2s *m = &t->m2s;
    load_unit *l = &t->lu;
    store_unit *su = &t->su;
    unit_queue *lq = &t->q[UQ_LOAD], *sq = &t->q[UQ_STORE], *cq = &t->q[UQ_COMPUTE];

    /* ---- starts in cycle c */
    if (!l->active && lq->count && c >= dma_t0(&lq->e[0], l->has_prev, l->prev_retire))
        load_start(t, &lq->e[0]);
    if (!su->active && sq->count && c >= dma_t0(&sq->e[0], su->has_prev, su->prev_retire))
        store_start(t, &sq->e[0]);
    compute_try_start(t, c);

    /* ---- AR: fetch request, load request, arbiter */
    const bool fetch_may = !t->halting && !t->fetch_stopped && t->f_count + t->i_count < t->cfg.fetch_queue;
    const bool fetch_inwin = fetch_may && fetch_in_window(t, t->fetch_pc);
    const bool freq = t->lock == GR_FETCH || fetch_inwin;
    const bool fetch_fault_push = fetch_may && !fetch_inwin && t->i_count == 0;
    const bool lreq = l->active && l->ar_valid;
    int g = t->lock;
    if (g == GR_NONE) {
        if (freq && lreq)
            g = t->last == GR_LOAD ? GR_FETCH : GR_LOAD;
        else if (freq)
            g = GR_FETCH;
        else if (lreq)
            g = GR_LOAD;
    }
    m->arvalid = g != GR_NONE;
    if (g == GR_FETCH) {
        m->araddr = (uint64_t)t->prog_addr + t->fetch_pc * QMAC_INSN_BYTES;
        m->arlen = t->insn_beats - 1u;
        m->arid = 0;
    } else if (g == GR_LOAD) {
        m->araddr = l->ar_addr;
        m->arlen = l->ar_beats - 1u;
        m->arid = 1;
    }
    const bool ar_hs = m->arvalid && s.arready;

    /* ---- R */
    const bool l_writing = l->active && !l->wdone;
    const bool l_data = l_writing && load_at_data_row(l);
    m->rready = s.rid == 0 ? true : l_data;
    const bool r_hs = s.rvalid && m->rready;
    const bool r_fetch = r_hs && s.rid == 0;
    const bool r_load = r_hs && s.rid != 0;

    /* ---- store: AW, W, B */
    m->awvalid = su->active && su->aw_valid;
    if (m->awvalid) {
        m->awaddr = su->aw_addr;
        m->awlen = su->aw_beats - 1u;
    }
    m->wvalid = su->active && su->fifo > 0 && su->w_burst < su->aw_count;
    m->wlast = m->wvalid && su->w_left == 1u;
    const bool aw_hs = m->awvalid && s.awready;
    const bool w_hs = m->wvalid && s.wready;
    const bool b_hs = s.bvalid; /* BREADY = 1 */
    const bool read_issue =
        su->active && su->reads < su->total_beats && su->fifo + (su->read_prev ? 1u : 0u) < W_FIFO_DEPTH;

    /* ---- the memory's clock edge */
    if (t->port_fn)
        t->port_fn(t->port_ctx, c, m, &s);
    qmac_axi_mem_clock(t->mem, m);

    /* ---- counters of cycle c */
    t->st.load_busy += lq->count ? 1u : 0u;
    t->st.store_busy += sq->count ? 1u : 0u;

    /* ---- dispatcher (state at the start of c: queues still hold this cycle's retirements) */
    bool halt_now = false, dispatched = false;
    int retire_op = -1; /* NOP / FENCE / END retired by the dispatcher */
    if (!t->halting) {
        bool fault_now = false;
        if (t->bus_pending) {
            set_fault(t, QMAC_FAULT_BUS, t->bus_pc, "memory bytes");
            fault_now = true;
        }
        if (t->f_count) {
            fifo_entry *h = &t->fifo[t->f_head];
            ensure_checked(t, h);
            if (h->fault != QMAC_FAULT_NONE) {
                set_fault(t, h->fault, h->pc, h->why);
                fault_now = true;
            } else if (fault_now || !head_can_go(t, h)) {
                t->st.stall++;
            } else if (h->insn.op == QMAC_OP_NOP || h->insn.op == QMAC_OP_FENCE ||
                       h->insn.op == QMAC_OP_END) {
                retire_op = (int)h->insn.op;
            } else {
                dispatched = true;
            }
        }
        halt_now = fault_now;
    }
    t->bus_pending = false;

    /* ---- end-of-cycle updates, retirements in the order dispatcher, load, store, compute */
    if (retire_op >= 0 || dispatched) {
        fifo_entry *h = &t->fifo[t->f_head];
        if (dispatched) {
            unit_queue *q = &t->q[unit_of(h->insn.op)];
            unit_entry *e = &q->e[q->count++];
            e->insn = h->insn;
            e->pc = h->pc;
            e->fp = h->fp;
            e->ports = h->ports;
            e->dispatch = c;
            e->started = e->executed = false;
            e->t0 = e->retire = 0;
            e->vectors = loop_len(&h->insn);
        } else {
            notify(t, c, QMAC_TIMING_SRC_DISPATCH, h->pc, &h->insn);
            if (retire_op == QMAC_OP_END) {
                t->st.done = true;
                halt_now = true;
            }
        }
        t->f_head = (t->f_head + 1u) % QMAC_TIMING_MAX_FETCH_QUEUE;
        t->f_count--;
    }

    /* fetch */
    if (ar_hs && g == GR_FETCH) {
        t->infl[(t->i_head + t->i_count) % QMAC_TIMING_MAX_FETCH_QUEUE] = t->fetch_pc;
        t->i_count++;
        t->fetch_pc++;
    }
    if (r_fetch) {
        t->i_err |= s.rresp != QMAC_AXI_RESP_OKAY;
        if (++t->i_beats == t->insn_beats) {
            fifo_entry *e = &t->fifo[(t->f_head + t->f_count) % QMAC_TIMING_MAX_FETCH_QUEUE];
            e->pc = t->infl[t->i_head];
            e->kind = t->i_err ? ENTRY_BUS : ENTRY_OK;
            e->checked = false;
            t->f_count++;
            t->i_head = (t->i_head + 1u) % QMAC_TIMING_MAX_FETCH_QUEUE;
            t->i_count--;
            t->i_beats = 0;
            t->i_err = false;
        }
    }
    if (fetch_fault_push) {
        fifo_entry *e = &t->fifo[(t->f_head + t->f_count) % QMAC_TIMING_MAX_FETCH_QUEUE];
        e->pc = t->fetch_pc;
        e->kind = ENTRY_FETCH;
        e->checked = false;
        t->f_count++;
        t->fetch_stopped = true;
    }
    if (ar_hs || !m->arvalid)
        t->lock = GR_NONE;
    else
        t->lock = g;
    if (g != GR_NONE)
        t->last = g;

    /* load unit */
    if (l->active) {
        if (ar_hs && g == GR_LOAD)
            l->ar_valid = bg_next(&l->ar, &l->ar_addr, &l->ar_beats);
        if (l_writing) {
            if (!l_data) {
                load_next_row(l); /* a padding row, written in c */
            } else if (r_load) {
                l->err |= s.rresp != QMAC_AXI_RESP_OKAY;
                if (++l->beat_in_row == l->row_beats)
                    load_next_row(l);
            }
        }
        if (l->wdone) {
            unit_entry *e = &lq->e[0];
            const bool bus = exec_golden(t, &e->insn) || l->err;
            notify(t, c, QMAC_TIMING_SRC_LOAD, e->pc, &e->insn);
            if (bus && !t->bus_pending) {
                t->bus_pending = true;
                t->bus_pc = e->pc;
            }
            l->active = false;
            l->has_prev = true;
            l->prev_retire = c;
            queue_remove(lq, 0);
        }
    }

    /* store unit */
    if (su->active) {
        bool retire = su->total_beats == 0;
        if (aw_hs) {
            su->aw_count++;
            su->aw_valid = bg_next(&su->aw, &su->aw_addr, &su->aw_beats);
        }
        if (w_hs) {
            su->fifo--;
            if (--su->w_left == 0) {
                uint64_t a;
                su->w_burst++;
                if (!bg_next(&su->wg, &a, &su->w_left))
                    su->w_left = 0;
            }
        }
        if (su->read_prev)
            su->fifo++;
        su->read_prev = read_issue;
        su->reads += read_issue ? 1u : 0u;
        if (b_hs) {
            su->err |= s.bresp != QMAC_AXI_RESP_OKAY;
            su->b_count++;
            retire = !su->aw_valid && su->b_count == su->aw_count;
        }
        if (retire) {
            unit_entry *e = &sq->e[0];
            const bool bus = exec_golden(t, &e->insn) || su->err;
            notify(t, c, QMAC_TIMING_SRC_STORE, e->pc, &e->insn);
            if (bus && !t->bus_pending) {
                t->bus_pending = true;
                t->bus_pc = e->pc;
            }
            su->active = false;
            su->has_prev = true;
            su->prev_retire = c;
            queue_remove(sq, 0);
        }
    }

    /* compute unit: retirements of c, executed in program order */
    for (uint32_t i = 0; i < cq->count;) {
        unit_entry *e = &cq->e[i];
        if (!e->started || e->retire != c) {
            i++;
            continue;
        }
        for (uint32_t j = 0; j <= i; j++)
            if (!cq->e[j].executed) {
                cq->e[j].executed = true;
                exec_golden(t, &cq->e[j].insn);
            }
        notify(t, c, QMAC_TIMING_SRC_COMPUTE, e->pc, &e->insn);
        queue_remove(cq, i);
    }

    if (halt_now)
        t->halting = true;
    t->cycle = c + 1u;
}

/* ============================================================================================ */
/* idle cycles in bulk                                                                          */
/* ============================================================================================ */

/* When nothing but the compute unit's countdown can change before its next event (memory idle,
 * no AR request, fetch quiet, load and store idle, the dispatcher blocked or halted), jump to that
 * event: the skipped cycles differ only in STALL (counted here) and the memory's cycle number
 * (clocked here through its idle path). */
static void skip_idle(qmac_timing *t, uint64_t limit)
{
    if (t->lock != GR_NONE || t->bus_pending || t->i_count || t->q[UQ_LOAD].count || t->q[UQ_STORE].count)
        return;
    if (!(t->halting || t->fetch_stopped || t->f_count >= t->cfg.fetch_queue))
        return;
    if (!qmac_axi_mem_idle(t->mem))
        return;
    bool stall = false;
    if (!t->halting && t->f_count) {
        fifo_entry *h = &t->fifo[t->f_head];
        ensure_checked(t, h);
        if (h->fault != QMAC_FAULT_NONE || head_can_go(t, h))
            return;
        stall = true;
    }
    uint64_t ev = compute_next_event(t);
    if (ev == NO_CYCLE)
        return;
    if (ev > limit)
        ev = limit;
    if (ev <= t->cycle)
        return;
    const uint64_t n = ev - t->cycle;
    qmac_axi_m2s idle;
    memset(&idle, 0, sizeof idle);
    for (uint64_t i = 0; i < n; i++)
        qmac_axi_mem_clock(t->mem, &idle);
    if (stall)
        t->st.stall += n;
    t->cycle = ev;
}

/* ============================================================================================ */
/* run                                                                                          */
/* ============================================================================================ */

static bool run_ended(const qmac_timing *t)
{
    return t->halting && queues_empty(t) && t->i_count == 0 && t->lock != GR_FETCH;
}

qmac_status qmac_timing_run(qmac_timing *t, qmac_accel *golden, qmac_axi_mem *mem, uint32_t prog_addr,
                            const qmac_window *win, uint64_t max_cycles, qmac_timing_stats *stats)
{
    memset(stats, 0, sizeof *stats);
    const qmac_axi_mem_config *mc = qmac_axi_mem_get_config(mem);
    if (mc->beat_bytes != t->n || mc->read_latency != t->cfg.read_latency ||
        mc->write_latency != t->cfg.write_latency || mc->max_reads != t->cfg.max_reads ||
        mc->max_writes != t->cfg.max_writes)
        return qmac_set_error(QMAC_ERR_INVALID_ARG,
                              "timing run: memory (beat %u B, latencies %u/%u, outstanding %u/%u) does not "
                              "match the config (beat %u B, latencies %u/%u, outstanding %u/%u)",
                              mc->beat_bytes, mc->read_latency, mc->write_latency, mc->max_reads,
                              mc->max_writes, t->n, t->cfg.read_latency, t->cfg.write_latency,
                              t->cfg.max_reads, t->cfg.max_writes);
    if (!qmac_axi_mem_idle(mem))
        return qmac_set_error(QMAC_ERR_INVALID_ARG, "timing run: the memory has bursts outstanding");
    if (golden) {
        const qmac_hw_config *g = qmac_accel_config(golden), *h = &t->cfg.hw;
        if (g->dim != h->dim || g->inp_rows != h->inp_rows || g->wgt_rows != h->wgt_rows ||
            g->acc_rows != h->acc_rows || g->out_rows != h->out_rows)
            return qmac_set_error(QMAC_ERR_INVALID_ARG, "timing run: the golden model is another hw config");
    }

    /* reset the run state (hooks and config stay) */
    t->golden = golden;
    t->mem = mem;
    t->amem.data = qmac_axi_mem_data(mem, &t->amem.base, &t->amem.size);
    t->prog_addr = prog_addr;
    t->win = *win;
    t->cycle = 0;
    memset(&t->st, 0, sizeof t->st);
    t->fault_set = false;
    t->fetch_pc = 0;
    t->f_head = t->f_count = 0;
    t->i_head = t->i_count = t->i_beats = 0;
    t->i_err = false;
    t->halting = t->fetch_stopped = false;
    t->lock = GR_NONE;
    t->last = GR_FETCH; /* the load unit wins the first tie */
    t->bus_pending = false;
    t->q[UQ_LOAD].count = t->q[UQ_STORE].count = t->q[UQ_COMPUTE].count = 0;
    t->q[UQ_LOAD].cap = t->cfg.load_queue;
    t->q[UQ_STORE].cap = t->cfg.store_queue;
    t->q[UQ_COMPUTE].cap = t->cfg.compute_queue;
    memset(&t->lu, 0, sizeof t->lu);
    memset(&t->su, 0, sizeof t->su);
    memset(&t->cp, 0, sizeof t->cp);
    memset(&t->m2s, 0, sizeof t->m2s);
    t->m2s.arsize = t->m2s.awsize = t->size_log2;
    t->m2s.arburst = t->m2s.awburst = QMAC_AXI_BURST_INCR;
    t->m2s.awid = 0;
    t->m2s.wstrb = 0; /* the timing path never writes memory: the golden model does */
    t->m2s.bready = true;

    const bool ff = t->fast_forward && !t->port_fn;
    while (!run_ended(t) && t->cycle < max_cycles) {
        if (ff) {
            skip_idle(t, max_cycles);
            if (t->cycle >= max_cycles)
                break;
        }
        step(t);
    }

    const bool ended = run_ended(t);
    t->st.cycles = t->cycle;
    if (!ended) {
        t->st.done = false;
        t->st.fault = QMAC_FAULT_NONE;
        t->st.fault_pc = 0;
        t->st.why = NULL;
        /* a started GEMM's vectors enter in t0+1 .. t0+L; only cycles up to C - 1 count */
        const unit_queue *cq = &t->q[UQ_COMPUTE];
        const uint64_t last = t->cycle ? t->cycle - 1u : 0u;
        for (uint32_t i = 0; i < cq->count; i++) {
            const unit_entry *e = &cq->e[i];
            if (!e->started || e->insn.op != QMAC_OP_GEMM)
                continue;
            const uint64_t end = e->t0 + e->vectors < last ? e->t0 + e->vectors : last;
            const uint64_t counted = end > e->t0 ? end - e->t0 : 0u;
            t->st.array_busy -= e->vectors - counted;
        }
    } else if (t->fault_set) {
        t->st.done = false;
    }
    *stats = t->st;
    return QMAC_OK;
}
