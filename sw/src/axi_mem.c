/* axi_mem.c - cycle-level AXI4 memory model and AXI4 protocol checker (timing in axi_mem.h).
 *
 * The model keeps its output ports as registers (m->out): clock() performs the handshakes of the
 * ending cycle from the ports as they were, then computes the ports of the next cycle. Bursts wait
 * in two rings of max_reads / max_writes entries allocated once by create. Ownership:
 * qmac_axi_mem_create() allocates the model, its rings and its byte array; qmac_axi_mem_free()
 * frees all three. Likewise qmac_axi_check_create() / qmac_axi_check_free(). */
#include "qmac/axi_mem.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One burst in flight. */
typedef struct {
    uint64_t addr;  /* AxADDR */
    uint64_t ready; /* read: first cycle its first beat may be presented; write: first B cycle */
    uint32_t beats; /* AxLEN + 1, in [1, 256] */
    uint32_t done;  /* read: R beats handshaken; write: W beats handshaken */
    uint32_t id;
    uint32_t err; /* write: some W beat fell outside memory */
} burst_t;

struct qmac_axi_mem {
    qmac_axi_mem_config cfg;
    uint8_t *data;     /* [size] */
    uint64_t last_off; /* largest offset of a beat that lies in memory (valid when beat_fits) */
    bool beat_fits;    /* size >= beat_bytes */
    uint64_t lane_mask;
    uint64_t cycle;
    qmac_axi_s2m out; /* the slave's ports during the current cycle */
    /* reads: ring of max_reads bursts in AR order, head first; out.rvalid presents head beat done */
    burst_t *rq;
    uint32_t rq_head, rq_count;
    /* writes: ring of max_writes bursts in AW order; the first wq_full have all their W beats */
    burst_t *wq;
    uint32_t wq_head, wq_count, wq_full;
    qmac_axi_mem_stats st;
    bool guard_on;
    uint64_t guard_lo, guard_hi, guard_count, guard_first;
};

static bool is_pow2_le64(uint32_t v)
{
    return v >= 1 && v <= QMAC_AXI_MAX_BEAT_BYTES && (v & (v - 1)) == 0;
}

static uint32_t log2_u32(uint32_t v)
{
    uint32_t l = 0;
    while ((1u << l) < v) {
        l++;
    }
    return l;
}

static uint64_t lane_mask_of(uint32_t beat_bytes)
{
    return beat_bytes >= 64 ? UINT64_MAX : (UINT64_C(1) << beat_bytes) - 1u;
}

/* ============================================================================================== */
/* memory model                                                                                   */
/* ============================================================================================== */

qmac_status qmac_axi_mem_create(const qmac_axi_mem_config *cfg, qmac_axi_mem **out)
{
    if (!out) {
        return qmac_set_error(QMAC_ERR_INVALID_ARG, "axi mem: no output pointer");
    }
    *out = NULL;
    if (!cfg) {
        return qmac_set_error(QMAC_ERR_INVALID_ARG, "axi mem: no config");
    }
    if (!is_pow2_le64(cfg->beat_bytes)) {
        return qmac_set_error(QMAC_ERR_INVALID_ARG,
                              "axi mem: beat_bytes = %u is not a power of two in [1, 64]", cfg->beat_bytes);
    }
    if (cfg->size == 0) {
        return qmac_set_error(QMAC_ERR_INVALID_ARG, "axi mem: size = 0");
    }
    if (cfg->size - 1 > UINT64_MAX - cfg->base) {
        return qmac_set_error(QMAC_ERR_INVALID_ARG,
                              "axi mem: base 0x%" PRIx64 " + size 0x%" PRIx64 " exceeds 2^64", cfg->base,
                              cfg->size);
    }
    if (cfg->size > SIZE_MAX) {
        return qmac_set_error(QMAC_ERR_INVALID_ARG, "axi mem: size 0x%" PRIx64 " exceeds the address space",
                              cfg->size);
    }
    if (cfg->read_latency < 1) {
        return qmac_set_error(QMAC_ERR_INVALID_ARG, "axi mem: read_latency = 0 (must be >= 1)");
    }
    if (cfg->write_latency < 1) {
        return qmac_set_error(QMAC_ERR_INVALID_ARG, "axi mem: write_latency = 0 (must be >= 1)");
    }
    if (cfg->max_reads < 1 || cfg->max_reads > QMAC_AXI_MAX_OUTSTANDING) {
        return qmac_set_error(QMAC_ERR_INVALID_ARG, "axi mem: max_reads = %u outside [1, %u]", cfg->max_reads,
                              QMAC_AXI_MAX_OUTSTANDING);
    }
    if (cfg->max_writes < 1 || cfg->max_writes > QMAC_AXI_MAX_OUTSTANDING) {
        return qmac_set_error(QMAC_ERR_INVALID_ARG, "axi mem: max_writes = %u outside [1, %u]",
                              cfg->max_writes, QMAC_AXI_MAX_OUTSTANDING);
    }
    qmac_axi_mem *m = calloc(1, sizeof *m);
    if (!m) {
        return qmac_set_error(QMAC_ERR_NOMEM, "axi mem: out of memory");
    }
    m->cfg = *cfg;
    m->data = calloc((size_t)cfg->size, 1);
    m->rq = calloc(cfg->max_reads, sizeof *m->rq);
    m->wq = calloc(cfg->max_writes, sizeof *m->wq);
    if (!m->data || !m->rq || !m->wq) {
        qmac_axi_mem_free(m);
        return qmac_set_error(QMAC_ERR_NOMEM, "axi mem: cannot allocate %" PRIu64 " bytes", cfg->size);
    }
    m->beat_fits = cfg->size >= cfg->beat_bytes;
    m->last_off = m->beat_fits ? cfg->size - cfg->beat_bytes : 0;
    m->lane_mask = lane_mask_of(cfg->beat_bytes);
    qmac_axi_mem_reset(m);
    *out = m;
    return QMAC_OK;
}

void qmac_axi_mem_free(qmac_axi_mem *m)
{
    if (!m) {
        return;
    }
    free(m->data);
    free(m->rq);
    free(m->wq);
    free(m);
}

void qmac_axi_mem_reset(qmac_axi_mem *m)
{
    m->cycle = 0;
    m->rq_head = m->rq_count = 0;
    m->wq_head = m->wq_count = m->wq_full = 0;
    memset(&m->st, 0, sizeof m->st);
    m->guard_count = m->guard_first = 0;
    memset(&m->out, 0, sizeof m->out);
    m->out.arready = true; /* max_reads >= 1 */
    m->out.awready = true;
}

const qmac_axi_mem_config *qmac_axi_mem_get_config(const qmac_axi_mem *m)
{
    return &m->cfg;
}

uint8_t *qmac_axi_mem_data(qmac_axi_mem *m, uint64_t *base, uint64_t *size)
{
    if (base) {
        *base = m->cfg.base;
    }
    if (size) {
        *size = m->cfg.size;
    }
    return m->data;
}

void qmac_axi_mem_outputs(const qmac_axi_mem *m, qmac_axi_s2m *out)
{
    *out = m->out;
}

uint64_t qmac_axi_mem_cycle(const qmac_axi_mem *m)
{
    return m->cycle;
}

bool qmac_axi_mem_idle(const qmac_axi_mem *m)
{
    return m->rq_count == 0 && m->wq_count == 0;
}

void qmac_axi_mem_get_stats(const qmac_axi_mem *m, qmac_axi_mem_stats *st)
{
    *st = m->st;
    st->cycles = m->cycle;
}

qmac_status qmac_axi_mem_set_guard(qmac_axi_mem *m, uint64_t lo, uint64_t hi)
{
    if (lo > hi) {
        return qmac_set_error(QMAC_ERR_INVALID_ARG,
                              "axi mem: guard lo 0x%" PRIx64 " above hi 0x%" PRIx64 " (range is [lo, hi))",
                              lo, hi);
    }
    m->guard_on = true;
    m->guard_lo = lo;
    m->guard_hi = hi;
    m->guard_count = m->guard_first = 0;
    return QMAC_OK;
}

void qmac_axi_mem_clear_guard(qmac_axi_mem *m)
{
    m->guard_on = false;
    m->guard_count = m->guard_first = 0;
}

uint64_t qmac_axi_mem_guard_violations(const qmac_axi_mem *m)
{
    return m->guard_count;
}

uint64_t qmac_axi_mem_guard_first(const qmac_axi_mem *m)
{
    return m->guard_first;
}

/* Offset into data[] of the beat at `addr`, or -1 when any of its bytes lies outside memory. */
static int64_t beat_offset(const qmac_axi_mem *m, uint64_t addr)
{
    if (!m->beat_fits || addr < m->cfg.base || addr - m->cfg.base > m->last_off) {
        return -1;
    }
    return (int64_t)(addr - m->cfg.base);
}

/* Address of beat i of a burst at addr; sets *wrapped when it passes 2^64 (such a beat lies
 * outside memory whatever the wrapped address). */
static uint64_t beat_addr(const qmac_axi_mem *m, uint64_t addr, uint32_t i, bool *wrapped)
{
    uint64_t step = (uint64_t)i * m->cfg.beat_bytes;
    *wrapped = step > UINT64_MAX - addr || m->cfg.beat_bytes - 1u > UINT64_MAX - (addr + step);
    return addr + step;
}

static void guard_check(qmac_axi_mem *m, uint64_t addr, uint64_t strb)
{
    const uint64_t lo = m->guard_lo, hi = m->guard_hi;
    const uint32_t bb = m->cfg.beat_bytes;
    if (addr >= lo && addr < hi && hi - addr >= bb) {
        return; /* the whole beat lies inside the guard */
    }
    for (uint32_t j = 0; j < bb; j++) {
        uint64_t a = addr + j; /* wraps like the lanes would; such a byte is outside any [lo, hi) */
        if (((strb >> j) & 1u) && (a < lo || a >= hi || a < addr)) {
            if (m->guard_count++ == 0) {
                m->guard_first = a;
            }
        }
    }
}

/* Present beat `h->done` of the head read burst in the next cycle: snapshot of memory as it is now. */
static void present_r(qmac_axi_mem *m, const burst_t *h)
{
    const uint32_t bb = m->cfg.beat_bytes;
    bool wrapped;
    uint64_t addr = beat_addr(m, h->addr, h->done, &wrapped);
    int64_t off = wrapped ? -1 : beat_offset(m, addr);
    m->out.rvalid = true;
    m->out.rid = h->id;
    m->out.rlast = h->done + 1 == h->beats;
    if (off >= 0) {
        m->out.rresp = QMAC_AXI_RESP_OKAY;
        memcpy(m->out.rdata, m->data + off, bb);
    } else {
        m->out.rresp = QMAC_AXI_RESP_SLVERR;
        memset(m->out.rdata, 0, bb);
    }
}

/* The W handshake of this cycle into burst b. */
static void write_beat(qmac_axi_mem *m, burst_t *b, const qmac_axi_m2s *in)
{
    const uint32_t bb = m->cfg.beat_bytes;
    const uint64_t strb = in->wstrb & m->lane_mask;
    bool wrapped;
    uint64_t addr = beat_addr(m, b->addr, b->done, &wrapped);
    int64_t off = wrapped ? -1 : beat_offset(m, addr);
    if (m->guard_on && strb) {
        guard_check(m, addr, strb);
    }
    if (off < 0) {
        b->err = 1;
    } else if (strb == m->lane_mask) {
        memcpy(m->data + off, in->wdata, bb);
    } else {
        uint8_t *d = m->data + off;
        for (uint32_t j = 0; j < bb; j++) {
            if ((strb >> j) & 1u) {
                d[j] = in->wdata[j];
            }
        }
    }
}

void qmac_axi_mem_clock(qmac_axi_mem *m, const qmac_axi_m2s *in)
{
    const uint64_t c = m->cycle;
    m->cycle = c + 1;
    /* Idle and nothing requested: the ports stay as they are (ARREADY, AWREADY high, the rest low). */
    if ((m->rq_count | m->wq_count) == 0 && !in->arvalid && !in->awvalid) {
        return;
    }

    /* ---- handshakes of cycle c, from the ports as they were during c */
    if (m->out.rvalid && in->rready) {
        burst_t *h = &m->rq[m->rq_head];
        m->st.read_beats++;
        m->st.read_slverr += m->out.rresp != QMAC_AXI_RESP_OKAY;
        h->done++;
        m->out.rvalid = false;
        if (m->out.rlast) {
            m->st.read_bursts++;
            m->rq_head = m->rq_head + 1 == m->cfg.max_reads ? 0 : m->rq_head + 1;
            m->rq_count--;
        }
    }
    if (m->out.arready && in->arvalid) {
        uint32_t i = m->rq_head + m->rq_count;
        burst_t *b = &m->rq[i >= m->cfg.max_reads ? i - m->cfg.max_reads : i];
        b->addr = in->araddr;
        b->beats = (in->arlen & 0xffu) + 1u;
        b->id = in->arid;
        b->done = 0;
        b->err = 0;
        b->ready = c + m->cfg.read_latency;
        m->rq_count++;
    }
    if (m->out.bvalid && in->bready) {
        m->st.write_bursts++;
        m->st.write_slverr += m->out.bresp != QMAC_AXI_RESP_OKAY;
        m->out.bvalid = false;
        m->wq_head = m->wq_head + 1 == m->cfg.max_writes ? 0 : m->wq_head + 1;
        m->wq_count--;
        m->wq_full--;
    }
    if (m->out.wready && in->wvalid) {
        /* the oldest burst lacking W beats; one accepted before cycle c (WREADY is a function of the
         * state at the start of c), so the AW of this cycle is queued after it */
        uint32_t i = m->wq_head + m->wq_full;
        burst_t *b = &m->wq[i >= m->cfg.max_writes ? i - m->cfg.max_writes : i];
        m->st.write_beats++;
        write_beat(m, b, in);
        if (++b->done == b->beats) {
            b->ready = c + m->cfg.write_latency;
            m->wq_full++;
        }
    }
    if (m->out.awready && in->awvalid) {
        uint32_t i = m->wq_head + m->wq_count;
        burst_t *b = &m->wq[i >= m->cfg.max_writes ? i - m->cfg.max_writes : i];
        b->addr = in->awaddr;
        b->beats = (in->awlen & 0xffu) + 1u;
        b->id = in->awid;
        b->done = 0;
        b->err = 0;
        b->ready = 0;
        m->wq_count++;
    }

    /* ---- ports during cycle c + 1 */
    const uint64_t n = c + 1;
    m->out.arready = m->rq_count < m->cfg.max_reads;
    if (!m->out.rvalid && m->rq_count) {
        const burst_t *h = &m->rq[m->rq_head];
        if (h->done > 0 || n >= h->ready) {
            present_r(m, h);
        }
    }
    m->out.awready = m->wq_count < m->cfg.max_writes;
    m->out.wready = m->wq_full < m->wq_count;
    if (!m->out.bvalid && m->wq_full) {
        const burst_t *h = &m->wq[m->wq_head];
        if (n >= h->ready) {
            m->out.bvalid = true;
            m->out.bid = h->id;
            m->out.bresp = h->err ? QMAC_AXI_RESP_SLVERR : QMAC_AXI_RESP_OKAY;
        }
    }
}

/* ============================================================================================== */
/* protocol checker                                                                               */
/* ============================================================================================== */

typedef struct {
    uint64_t beats; /* AxLEN + 1 (AxLEN as sent, up to 2^32) */
    uint64_t done;  /* read: R beats handshaken; write: W beats handshaken */
    uint32_t id;
    bool finished; /* read: last R beat handshaken; write: B handshaken */
} chk_burst;

typedef struct {
    chk_burst b[QMAC_AXI_CHECK_MAX_OUTSTANDING];
    uint32_t head, count;
} chk_ring;

struct qmac_axi_check {
    uint32_t beat_bytes, size_log2, max_beats;
    uint64_t lane_mask;
    uint64_t cycle, errors;
    qmac_axi_m2s pm; /* ports of the previous cycle */
    qmac_axi_s2m ps;
    bool ar_held, aw_held, w_held, r_held, b_held; /* VALID high without handshake last cycle */
    chk_ring rd;                                   /* read bursts, AR order */
    chk_ring wr;                                   /* write bursts, AW order */
    uint32_t w_at;                                 /* bursts of wr (from its head) with all their W beats */
};

/* One cycle's report: violations are joined into err. */
typedef struct {
    qmac_axi_check *chk;
    char *err;
    size_t errlen, used;
    int n;
} chk_ctx;

static void violation(chk_ctx *x, const char *chan, const char *rule, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

static void violation(chk_ctx *x, const char *chan, const char *rule, const char *fmt, ...)
{
    x->n++;
    x->chk->errors++;
    if (!x->err || x->errlen == 0 || x->used + 1 >= x->errlen) {
        return;
    }
    char detail[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    int w = snprintf(x->err + x->used, x->errlen - x->used, "%scycle %" PRIu64 ": %s: %s [%s]",
                     x->n > 1 ? "; " : "", x->chk->cycle, chan, detail, rule);
    if (w > 0) {
        x->used += (size_t)w;
        if (x->used >= x->errlen) {
            x->used = x->errlen - 1;
        }
    }
}

static chk_burst *ring_at(chk_ring *r, uint32_t i)
{
    return &r->b[(r->head + i) % QMAC_AXI_CHECK_MAX_OUTSTANDING];
}

static void ring_push(chk_ctx *x, chk_ring *r, const char *chan, uint64_t beats, uint32_t id)
{
    if (r->count == QMAC_AXI_CHECK_MAX_OUTSTANDING) {
        violation(x, chan, "outstanding", "more than %u bursts outstanding (checker limit), burst dropped",
                  QMAC_AXI_CHECK_MAX_OUTSTANDING);
        return;
    }
    chk_burst *b = ring_at(r, r->count++);
    b->beats = beats;
    b->done = 0;
    b->id = id;
    b->finished = false;
}

/* Drop finished bursts from the head; returns how many. */
static uint32_t ring_pop_finished(chk_ring *r)
{
    uint32_t k = 0;
    while (r->count && ring_at(r, 0)->finished) {
        r->head = (r->head + 1) % QMAC_AXI_CHECK_MAX_OUTSTANDING;
        r->count--;
        k++;
    }
    return k;
}

qmac_status qmac_axi_check_create(uint32_t beat_bytes, uint32_t max_burst_beats, qmac_axi_check **out)
{
    if (!out) {
        return qmac_set_error(QMAC_ERR_INVALID_ARG, "axi check: no output pointer");
    }
    *out = NULL;
    if (!is_pow2_le64(beat_bytes)) {
        return qmac_set_error(QMAC_ERR_INVALID_ARG,
                              "axi check: beat_bytes = %u is not a power of two in [1, 64]", beat_bytes);
    }
    if (max_burst_beats < 1 || max_burst_beats > QMAC_AXI_MAX_BURST_BEATS) {
        return qmac_set_error(QMAC_ERR_INVALID_ARG, "axi check: max_burst_beats = %u outside [1, %u]",
                              max_burst_beats, QMAC_AXI_MAX_BURST_BEATS);
    }
    qmac_axi_check *chk = calloc(1, sizeof *chk);
    if (!chk) {
        return qmac_set_error(QMAC_ERR_NOMEM, "axi check: out of memory");
    }
    chk->beat_bytes = beat_bytes;
    chk->size_log2 = log2_u32(beat_bytes);
    chk->max_beats = max_burst_beats;
    chk->lane_mask = lane_mask_of(beat_bytes);
    qmac_axi_check_reset(chk);
    *out = chk;
    return QMAC_OK;
}

void qmac_axi_check_free(qmac_axi_check *chk)
{
    free(chk);
}

void qmac_axi_check_reset(qmac_axi_check *chk)
{
    chk->cycle = chk->errors = 0;
    memset(&chk->pm, 0, sizeof chk->pm);
    memset(&chk->ps, 0, sizeof chk->ps);
    chk->ar_held = chk->aw_held = chk->w_held = chk->r_held = chk->b_held = false;
    chk->rd.head = chk->rd.count = 0;
    chk->wr.head = chk->wr.count = 0;
    chk->w_at = 0;
}

uint64_t qmac_axi_check_errors(const qmac_axi_check *chk)
{
    return chk->errors;
}

/* An AR or AW request as one record, so both channels share the checks. */
typedef struct {
    uint64_t addr;
    uint32_t len, size, burst, id;
} chk_req;

static bool req_same(const chk_req *a, const chk_req *b)
{
    return a->addr == b->addr && a->len == b->len && a->size == b->size && a->burst == b->burst &&
           a->id == b->id;
}

/* Stability of a VALID and its payload; returns true when this cycle presents a new item. */
static bool check_stable(chk_ctx *x, const char *chan, const char *valid_name, bool held, bool valid,
                         bool same)
{
    if (!held) {
        return valid;
    }
    if (!valid) {
        violation(x, chan, "valid-stable", "%s dropped before its handshake", valid_name);
        return false;
    }
    if (!same) {
        violation(x, chan, "payload-stable", "payload changed while %s was held", valid_name);
        return true;
    }
    return false;
}

static void check_req(chk_ctx *x, const char *chan, const chk_req *r)
{
    const qmac_axi_check *chk = x->chk;
    const uint64_t beats = (uint64_t)r->len + 1u;
    if (r->burst != QMAC_AXI_BURST_INCR) {
        violation(x, chan, "burst-type", "burst type %u, only INCR (1) is allowed", r->burst);
    }
    if (r->size != chk->size_log2) {
        violation(x, chan, "size", "size %u, the bus needs %u (%u bytes per beat)", r->size, chk->size_log2,
                  chk->beat_bytes);
    }
    if (r->addr & (chk->beat_bytes - 1u)) {
        violation(x, chan, "align", "address 0x%" PRIx64 " not aligned to %u bytes", r->addr,
                  chk->beat_bytes);
    }
    if (beats > chk->max_beats) {
        violation(x, chan, "max-len", "len %u: %" PRIu64 " beats, at most %u allowed", r->len, beats,
                  chk->max_beats);
    } else if ((r->addr & (QMAC_AXI_BOUNDARY - 1u)) + beats * chk->beat_bytes > QMAC_AXI_BOUNDARY) {
        violation(x, chan, "4k", "burst of %" PRIu64 " bytes at 0x%" PRIx64 " crosses a 4 KiB boundary",
                  beats * chk->beat_bytes, r->addr);
    }
}

static bool lanes_same(const uint8_t *a, const uint8_t *b, uint32_t n)
{
    return memcmp(a, b, n) == 0;
}

int qmac_axi_check_cycle(qmac_axi_check *chk, const qmac_axi_m2s *m, const qmac_axi_s2m *s, char *err,
                         size_t errlen)
{
    chk_ctx x = {chk, err, errlen, 0, 0};
    const qmac_axi_m2s *pm = &chk->pm;
    const qmac_axi_s2m *ps = &chk->ps;
    const uint32_t bb = chk->beat_bytes;
    const bool ar_hs = m->arvalid && s->arready, aw_hs = m->awvalid && s->awready;
    const bool w_hs = m->wvalid && s->wready, r_hs = s->rvalid && m->rready, b_hs = s->bvalid && m->bready;

    /* ---- master requests: stability, then the rules once per presented request */
    chk_req ar = {m->araddr, m->arlen, m->arsize, m->arburst, m->arid};
    chk_req par = {pm->araddr, pm->arlen, pm->arsize, pm->arburst, pm->arid};
    if (check_stable(&x, "AR", "ARVALID", chk->ar_held, m->arvalid, req_same(&ar, &par))) {
        check_req(&x, "AR", &ar);
    }
    chk_req aw = {m->awaddr, m->awlen, m->awsize, m->awburst, m->awid};
    chk_req paw = {pm->awaddr, pm->awlen, pm->awsize, pm->awburst, pm->awid};
    if (check_stable(&x, "AW", "AWVALID", chk->aw_held, m->awvalid, req_same(&aw, &paw))) {
        check_req(&x, "AW", &aw);
    }
    bool w_same = lanes_same(m->wdata, pm->wdata, bb) && ((m->wstrb ^ pm->wstrb) & chk->lane_mask) == 0 &&
                  m->wlast == pm->wlast;
    bool w_new = check_stable(&x, "W", "WVALID", chk->w_held, m->wvalid, w_same);

    /* ---- slave responses, against the bursts as they stood at the start of this cycle */
    bool r_same = lanes_same(s->rdata, ps->rdata, bb) && s->rid == ps->rid && s->rresp == ps->rresp &&
                  s->rlast == ps->rlast;
    bool r_new = check_stable(&x, "R", "RVALID", chk->r_held, s->rvalid, r_same);
    chk_burst *rb = NULL; /* the read burst this R beat belongs to */
    if (s->rvalid) {
        for (uint32_t i = 0; i < chk->rd.count; i++) {
            chk_burst *b = ring_at(&chk->rd, i);
            if (!b->finished && b->id == s->rid) {
                rb = b;
                break;
            }
        }
    }
    if (r_new) {
        if (chk->rd.count == 0) {
            violation(&x, "R", "r-unexpected", "R beat (RID %u) with no read burst outstanding", s->rid);
        } else if (!rb) {
            violation(&x, "R", "rid", "RID %u matches no outstanding read burst", s->rid);
        } else if (s->rlast != (rb->done + 1 == rb->beats)) {
            violation(&x, "R", "rlast", "RLAST = %d on beat %" PRIu64 " of %" PRIu64 " (RID %u)", s->rlast,
                      rb->done + 1, rb->beats, s->rid);
        }
    }
    bool b_same = s->bid == ps->bid && s->bresp == ps->bresp;
    bool b_new = check_stable(&x, "B", "BVALID", chk->b_held, s->bvalid, b_same);
    chk_burst *wb = NULL; /* the write burst this B answers: oldest with all W beats, no B, same id */
    if (s->bvalid) {
        for (uint32_t i = 0; i < chk->w_at; i++) {
            chk_burst *b = ring_at(&chk->wr, i);
            if (!b->finished && b->id == s->bid) {
                wb = b;
                break;
            }
        }
    }
    if (b_new && !wb) {
        bool any = false;
        for (uint32_t i = 0; i < chk->w_at && !any; i++) {
            any = !ring_at(&chk->wr, i)->finished;
        }
        if (!any) {
            violation(&x, "B", "b-unexpected",
                      "B response (BID %u) with no completed write burst awaiting it", s->bid);
        } else {
            violation(&x, "B", "bid", "BID %u matches no completed write burst awaiting a response", s->bid);
        }
    }

    /* ---- the handshakes of this cycle */
    if (r_hs && rb) {
        if (++rb->done >= rb->beats || s->rlast) {
            rb->finished = true;
        }
        ring_pop_finished(&chk->rd);
    }
    if (b_hs && wb) {
        wb->finished = true;
        chk->w_at -= ring_pop_finished(&chk->wr);
    }
    if (ar_hs) {
        ring_push(&x, &chk->rd, "AR", (uint64_t)m->arlen + 1u, m->arid);
    }
    if (aw_hs) {
        ring_push(&x, &chk->wr, "AW", (uint64_t)m->awlen + 1u, m->awid);
    }

    /* ---- W: belongs to the oldest AW burst (this cycle's included) lacking W beats */
    chk_burst *wt = chk->w_at < chk->wr.count ? ring_at(&chk->wr, chk->w_at) : NULL;
    if (w_new) {
        if (!wt) {
            violation(
                &x, "W", "w-without-aw",
                "W beat with no AW burst awaiting data (W ahead of its AW, or more beats than AWLEN + 1)");
        } else if (m->wlast != (wt->done + 1 == wt->beats)) {
            violation(&x, "W", "wlast", "WLAST = %d on beat %" PRIu64 " of %" PRIu64 " (AWID %u)", m->wlast,
                      wt->done + 1, wt->beats, wt->id);
        }
    }
    if (w_hs && wt) {
        if (++wt->done >= wt->beats) {
            chk->w_at++;
        }
    }

    chk->pm = *m;
    chk->ps = *s;
    chk->ar_held = m->arvalid && !s->arready;
    chk->aw_held = m->awvalid && !s->awready;
    chk->w_held = m->wvalid && !s->wready;
    chk->r_held = s->rvalid && !m->rready;
    chk->b_held = s->bvalid && !m->bready;
    chk->cycle++;
    return x.n;
}
