/* test_accel_timing.c - the cycle model (sw/src/accel_timing.c) against docs/microarch.md.
 *
 * Every expected cycle count below is derived by hand from microarch.md and the memory's rules
 * (axi_mem.h); the derivation is written next to the number. Shared facts used throughout:
 *
 *  F1 Fetch, N = 16 (32 / N = 2 beats per instruction, ARLEN 1), ReadLatency RL = 20. In cycle 0
 *     the FIFO and `inflight` are empty, so fetch requests pc 0; it is the only requester and
 *     ARREADY = 1 (nothing outstanding), so AR handshakes in cycle 0, then pc 1, 2, 3 in cycles 1,
 *     2, 3 (count + inflight < 4). Beats return in AR order, one per cycle, the first burst from
 *     cycle 0 + RL: pc i's beats are presented in cycles 20 + 2i and 21 + 2i and handshake at once
 *     (RREADY = 1 for RID 0), it is pushed at the end of 21 + 2i and can be at the FIFO head from
 *     cycle 22 + 2i. N = 4: 8 beats per instruction: pushed at the end of 27 + 8i, head from
 *     28 + 8i.
 *  F2 Most programs are placed so that the window ends with the last instruction: fetch_pc then
 *     leaves the window, fetch requests nothing more, and pushes a FETCH-fault entry in the first
 *     cycle with inflight = 0, count < 4 and halting low (it sits behind END, never examined).
 *  F3 End: the run ends in the first cycle C in which halting is set (at the end of the cycle END
 *     retired or a fault became pending), every queue is empty and no fetch is in flight;
 *     CYCLES = C.
 *  F4 A unit entry dispatched in cycle d starts at t0 = d + 1 (its queue was empty before).
 *  F5 LOAD_BUSY / STORE_BUSY count cycles d + 1 .. retire (queue non-empty at the start of the
 *     cycle); STALL counts cycles in which the head is a valid instruction that does not leave
 *     the FIFO (FENCE / END waiting included).
 *
 * Every program runs twice: cycle by cycle with the AXI4 protocol checker on the port hook, and
 * with the bulk skipping of idle cycles; stats, retirement cycles and final state must agree.
 * Then: random programs against the in-order golden model (same buffers and memory), and an int8
 * GEMM 256 x 256 x 256 built by gemm_prog.c against a plain C matmul + qmac_requant, with its
 * cycles, MAC utilization and the model's speed. Seed: printed; override with QMAC_SEED=<n>. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "qmac/accel_timing.h"
#include "qmac/gemm_prog.h"
#include "qmac/prog.h"
#include "qmac/requant.h"

#define MEM_BASE 0x10000u
#define MEM_SIZE 0x10000u
#define PROG_ADDR (MEM_BASE + 0x8000u)
#define DATA (MEM_BASE + 0x1000u)
#define MAX_INSN 64
#define MAX_LOG 4096

static uint64_t g_seed;
static uint64_t g_rng;

static uint64_t splitmix64(void)
{
    uint64_t z = (g_rng += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static uint32_t urand(uint32_t n)
{
    return (uint32_t)(splitmix64() % n);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ------------------------------------------------------------------------------ harness */

typedef struct {
    uint64_t cycle;
    qmac_timing_src src;
    uint64_t pc;
    qmac_op op;
} retire_rec;

typedef struct {
    uint64_t cycle, addr;
    uint32_t len, id;
} req_rec;

typedef struct {
    qmac_timing_config tc;
    qmac_timing *t;
    qmac_accel *a;
    qmac_accel *ref; /* in-order execution of the same program, for comparison */
    qmac_axi_mem *mem;
    qmac_axi_check *chk;
    uint8_t *bytes; /* the memory's array */
    uint32_t prog[MAX_INSN][QMAC_INSN_WORDS];
    size_t n;
    retire_rec log[MAX_LOG];
    size_t nlog;
    req_rec ar[MAX_LOG], aw[MAX_LOG];
    size_t nar, naw;
    uint64_t w_beats, proto_errors;
    char err[512];
} fixture;

static void on_retire(void *ctx, uint64_t cycle, qmac_timing_src src, uint64_t pc, const qmac_insn *insn)
{
    fixture *f = ctx;
    if (f->nlog < MAX_LOG)
        f->log[f->nlog++] = (retire_rec){cycle, src, pc, insn->op};
}

static void on_ports(void *ctx, uint64_t cycle, const qmac_axi_m2s *m, const qmac_axi_s2m *s)
{
    fixture *f = ctx;
    /* every rule of the checker holds, w-without-aw included (microarch.md: W never runs ahead
     * of its AW) */
    char err[512];
    const int n = qmac_axi_check_cycle(f->chk, m, s, err, sizeof err);
    if (n) {
        f->proto_errors++;
        memcpy(f->err, err, sizeof err);
    }
    if (m->arvalid && s->arready && f->nar < MAX_LOG)
        f->ar[f->nar++] = (req_rec){cycle, m->araddr, m->arlen, m->arid};
    if (m->awvalid && s->awready && f->naw < MAX_LOG)
        f->aw[f->naw++] = (req_rec){cycle, m->awaddr, m->awlen, m->awid};
    if (m->wvalid && s->wready) {
        f->w_beats++;
        assert_int_equal(m->wstrb, 0); /* the timing path never writes memory */
    }
}

static int setup_cfg(void **state, int small, uint64_t mem_size)
{
    fixture *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    if (small)
        qmac_timing_config_small(&f->tc);
    else
        qmac_timing_config_default(&f->tc);
    qmac_axi_mem_config mc;
    qmac_timing_mem_config(&f->tc, MEM_BASE, mem_size, &mc);
    if (qmac_timing_create(&f->tc, &f->t) != QMAC_OK || qmac_accel_create(&f->tc.hw, &f->a) != QMAC_OK ||
        qmac_accel_create(&f->tc.hw, &f->ref) != QMAC_OK || qmac_axi_mem_create(&mc, &f->mem) != QMAC_OK ||
        qmac_axi_check_create(f->tc.hw.dim, f->tc.max_burst, &f->chk) != QMAC_OK)
        return -1;
    f->bytes = qmac_axi_mem_data(f->mem, NULL, NULL);
    qmac_timing_set_retire_cb(f->t, on_retire, f);
    *state = f;
    return 0;
}

static int setup_small(void **state)
{
    return setup_cfg(state, 1, MEM_SIZE);
}

static int setup_default(void **state)
{
    return setup_cfg(state, 0, MEM_SIZE);
}

static int teardown(void **state)
{
    fixture *f = *state;
    qmac_timing_free(f->t);
    qmac_accel_free(f->a);
    qmac_accel_free(f->ref);
    qmac_axi_mem_free(f->mem);
    qmac_axi_check_free(f->chk);
    free(f);
    return 0;
}

static void prog_clear(fixture *f)
{
    f->n = 0;
}

static void add(fixture *f, qmac_insn in)
{
    assert_true(f->n < MAX_INSN);
    qmac_insn_encode(&in, f->prog[f->n++]);
}

static void add_words(fixture *f, const uint32_t w[QMAC_INSN_WORDS])
{
    assert_true(f->n < MAX_INSN);
    memcpy(f->prog[f->n++], w, sizeof f->prog[0]);
}

/* The program's bytes into memory at prog_addr (those that lie in memory). */
static void write_prog(fixture *f, uint32_t prog_addr)
{
    const uint64_t size = qmac_axi_mem_get_config(f->mem)->size;
    for (size_t i = 0; i < f->n; i++)
        for (uint32_t j = 0; j < QMAC_INSN_BYTES; j++) {
            const uint64_t a = (uint64_t)prog_addr + i * QMAC_INSN_BYTES + j;
            if (a >= MEM_BASE && a - MEM_BASE < size)
                f->bytes[a - MEM_BASE] = (uint8_t)(f->prog[i][j / 4] >> (8 * (j % 4)));
        }
}

/* The window [MEM_BASE, end of the program] (F2). */
static qmac_window win_to_prog_end(const fixture *f, uint32_t prog_addr)
{
    return (qmac_window){MEM_BASE, prog_addr + (uint32_t)f->n * QMAC_INSN_BYTES - 1u};
}

static size_t buf_bytes(const fixture *f, qmac_buf b)
{
    return (size_t)qmac_buf_rows(&f->tc.hw, b) * qmac_buf_row_bytes(&f->tc.hw, b);
}

typedef struct {
    uint8_t *buf[QMAC_BUF_COUNT];
    uint8_t *mem;
} snapshot;

static void snap_take(const fixture *f, snapshot *s, uint64_t mem_size)
{
    for (uint32_t b = 0; b < QMAC_BUF_COUNT; b++) {
        s->buf[b] = malloc(buf_bytes(f, (qmac_buf)b));
        assert_non_null(s->buf[b]);
        memcpy(s->buf[b], qmac_accel_buffer(f->a, (qmac_buf)b), buf_bytes(f, (qmac_buf)b));
    }
    s->mem = malloc(mem_size);
    assert_non_null(s->mem);
    memcpy(s->mem, f->bytes, mem_size);
}

/* Back to the snapshot: buffers and memory bytes, registers zero, memory at cycle 0. */
static void snap_restore(fixture *f, const snapshot *s, uint64_t mem_size)
{
    qmac_accel_reset(f->a);
    for (uint32_t b = 0; b < QMAC_BUF_COUNT; b++)
        memcpy(qmac_accel_buffer(f->a, (qmac_buf)b), s->buf[b], buf_bytes(f, (qmac_buf)b));
    memcpy(f->bytes, s->mem, mem_size);
    qmac_axi_mem_reset(f->mem);
}

static void snap_free(snapshot *s)
{
    for (uint32_t b = 0; b < QMAC_BUF_COUNT; b++)
        free(s->buf[b]);
    free(s->mem);
}

static void assert_same_state(fixture *f, const snapshot *s, uint64_t mem_size)
{
    for (uint32_t b = 0; b < QMAC_BUF_COUNT; b++)
        if (memcmp(s->buf[b], qmac_accel_buffer(f->a, (qmac_buf)b), buf_bytes(f, (qmac_buf)b)))
            fail_msg("%s buffer differs between runs (seed %" PRIu64 ")", qmac_buf_name((qmac_buf)b), g_seed);
    if (memcmp(s->mem, f->bytes, mem_size))
        fail_msg("memory differs between runs (seed %" PRIu64 ")", g_seed);
}

static void assert_same_stats(const qmac_timing_stats *a, const qmac_timing_stats *b)
{
    assert_int_equal(a->cycles, b->cycles);
    assert_int_equal(a->retired, b->retired);
    assert_int_equal(a->array_busy, b->array_busy);
    assert_int_equal(a->load_busy, b->load_busy);
    assert_int_equal(a->store_busy, b->store_busy);
    assert_int_equal(a->stall, b->stall);
    assert_int_equal(a->done, b->done);
    assert_int_equal(a->fault, b->fault);
    assert_int_equal(a->fault_pc, b->fault_pc);
}

/* Run the program at prog_addr with window win twice (F: checker + every cycle; fast forward) and
 * return the stats; f->log, f->ar, f->aw hold the first run's retirements and requests. */
static qmac_timing_stats run2(fixture *f, uint32_t prog_addr, qmac_window win)
{
    const uint64_t mem_size = qmac_axi_mem_get_config(f->mem)->size;
    write_prog(f, prog_addr);
    snapshot before, after;
    snap_take(f, &before, mem_size);

    qmac_axi_mem_reset(f->mem);
    qmac_axi_check_reset(f->chk);
    f->nlog = f->nar = f->naw = 0;
    f->w_beats = f->proto_errors = 0;
    qmac_timing_set_port_cb(f->t, on_ports, f);
    qmac_timing_stats st1, st2;
    assert_int_equal(qmac_timing_run(f->t, f->a, f->mem, prog_addr, &win, 1000000, &st1), QMAC_OK);
    if (f->proto_errors)
        fail_msg("AXI protocol: %s", f->err);
    assert_int_equal(qmac_axi_mem_cycle(f->mem), st1.cycles);
    assert_true(qmac_axi_mem_idle(f->mem));
    snap_take(f, &after, mem_size);
    retire_rec *log1 = malloc(sizeof f->log);
    assert_non_null(log1);
    memcpy(log1, f->log, sizeof f->log);
    const size_t nlog1 = f->nlog;

    snap_restore(f, &before, mem_size);
    qmac_timing_set_port_cb(f->t, NULL, NULL);
    f->nlog = 0;
    assert_int_equal(qmac_timing_run(f->t, f->a, f->mem, prog_addr, &win, 1000000, &st2), QMAC_OK);
    assert_same_stats(&st1, &st2);
    assert_int_equal(qmac_axi_mem_cycle(f->mem), st2.cycles);
    assert_int_equal(f->nlog, nlog1);
    for (size_t i = 0; i < nlog1; i++) {
        assert_int_equal(f->log[i].cycle, log1[i].cycle);
        assert_int_equal(f->log[i].pc, log1[i].pc);
        assert_int_equal(f->log[i].src, log1[i].src);
    }
    assert_same_state(f, &after, mem_size);
    memcpy(f->log, log1, sizeof f->log);

    /* the final state is what in-order execution computes (a BUS fault is imprecise: later
     * instructions may have run) */
    if (st1.fault != QMAC_FAULT_BUS) {
        qmac_accel_reset(f->ref);
        for (uint32_t b = 0; b < QMAC_BUF_COUNT; b++)
            memcpy(qmac_accel_buffer(f->ref, (qmac_buf)b), before.buf[b], buf_bytes(f, (qmac_buf)b));
        uint8_t *ref_mem = malloc(mem_size);
        assert_non_null(ref_mem);
        memcpy(ref_mem, before.mem, mem_size);
        const qmac_accel_mem rm = {ref_mem, MEM_BASE, mem_size};
        qmac_accel_result res;
        qmac_accel_run(f->ref, &rm, prog_addr, &win, 100000, &res);
        assert_int_equal(res.fault, st1.fault);
        assert_int_equal(res.done, st1.done);
        assert_int_equal(res.retired, st1.retired);
        assert_int_equal(res.vectors, st1.array_busy);
        if (st1.fault != QMAC_FAULT_NONE)
            assert_int_equal(res.fault_pc, st1.fault_pc);
        for (uint32_t b = 0; b < QMAC_BUF_COUNT; b++)
            if (memcmp(qmac_accel_buffer(f->ref, (qmac_buf)b), after.buf[b], buf_bytes(f, (qmac_buf)b)))
                fail_msg("%s buffer differs from in-order execution (seed %" PRIu64 ")",
                         qmac_buf_name((qmac_buf)b), g_seed);
        if (memcmp(ref_mem, after.mem, mem_size))
            fail_msg("memory differs from in-order execution (seed %" PRIu64 ")", g_seed);
        free(ref_mem);
    }
    free(log1);
    snap_free(&before);
    snap_free(&after);
    return st1;
}

/* The run's counters, checked as a whole. */
static void expect(const qmac_timing_stats *st, uint64_t cycles, uint64_t retired, uint64_t stall,
                   uint64_t load_busy, uint64_t store_busy, uint64_t array_busy)
{
    assert_int_equal(st->cycles, cycles);
    assert_int_equal(st->retired, retired);
    assert_int_equal(st->stall, stall);
    assert_int_equal(st->load_busy, load_busy);
    assert_int_equal(st->store_busy, store_busy);
    assert_int_equal(st->array_busy, array_busy);
}

static void expect_done(const qmac_timing_stats *st)
{
    assert_true(st->done);
    assert_int_equal(st->fault, QMAC_FAULT_NONE);
}

/* Instruction pc retired in cycle `cycle`. */
static void expect_retire(const fixture *f, uint64_t pc, uint64_t cycle)
{
    for (size_t i = 0; i < f->nlog; i++)
        if (f->log[i].pc == pc) {
            if (f->log[i].cycle != cycle)
                fail_msg("pc %" PRIu64 " retired in cycle %" PRIu64 ", expected %" PRIu64, pc,
                         f->log[i].cycle, cycle);
            return;
        }
    fail_msg("pc %" PRIu64 " never retired", pc);
}

static void fill_random(uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)splitmix64();
}

/* ------------------------------------------------------------------ start, stop, fetch */

static void test_accel_timing_end_alone(void **state)
{
    fixture *f = *state; /* N = 16 */
    prog_clear(f);
    add(f, QMAC_INSN_END());
    qmac_timing_stats st = run2(f, PROG_ADDR, win_to_prog_end(f, PROG_ADDR));
    /* F1: END is at the head in cycle 22; every queue is empty at its start, so END retires in 22
     * and halting is set at its end. Fetch: pc 1 is outside the window (F2); in cycle 22 inflight
     * = 0, count = 1 < 4, halting low: it pushes the FETCH entry at the end of 22. F3: cycle 23
     * has halting, empty queues and nothing in flight: C = 23. */
    expect_done(&st);
    expect(&st, 23, 1, 0, 0, 0, 0);
    expect_retire(f, 0, 22);
    assert_int_equal(f->nar, 1); /* one fetch burst: ARADDR = PROG_ADDR, ARLEN = 2 - 1, ARID 0 */
    assert_int_equal(f->ar[0].cycle, 0);
    assert_int_equal(f->ar[0].addr, PROG_ADDR);
    assert_int_equal(f->ar[0].len, 1);
    assert_int_equal(f->ar[0].id, 0);

    /* The window extending past the program (memory holds zero words = NOP after END): fetch
     * requests pc 0, 1, 2, 3 in cycles 0..3 (F1), then count + inflight = 4 until END retires in 22
     * (it is then halting: no more requests). pc 1, 2, 3 complete at the ends of 23, 25, 27, so the
     * first cycle with nothing in flight is 28: C = 28. */
    st = run2(f, PROG_ADDR, (qmac_window){MEM_BASE, MEM_BASE + MEM_SIZE - 1u});
    expect_done(&st);
    expect(&st, 28, 1, 0, 0, 0, 0);
    expect_retire(f, 0, 22);
    assert_int_equal(f->nar, 4);
    for (uint32_t i = 0; i < 4; i++) {
        assert_int_equal(f->ar[i].cycle, i);
        assert_int_equal(f->ar[i].addr, PROG_ADDR + 32u * i);
    }
}

static void test_accel_timing_end_alone_small(void **state)
{
    fixture *f = *state; /* N = 4: 8 beats per instruction, ARLEN 7 */
    prog_clear(f);
    add(f, QMAC_INSN_END());
    qmac_timing_stats st = run2(f, PROG_ADDR, win_to_prog_end(f, PROG_ADDR));
    /* F1: beats 20..27, END at the head in 28 and retired there; the FETCH entry is pushed at the
     * end of 28 too (inflight 0, count 1). C = 29. */
    expect_done(&st);
    expect(&st, 29, 1, 0, 0, 0, 0);
    expect_retire(f, 0, 28);
    assert_int_equal(f->ar[0].len, 7);
}

static void test_accel_timing_nop_nop_end(void **state)
{
    fixture *f = *state; /* N = 16 */
    prog_clear(f);
    add(f, QMAC_INSN_NOP());
    add(f, QMAC_INSN_NOP());
    add(f, QMAC_INSN_END());
    qmac_timing_stats st = run2(f, PROG_ADDR, win_to_prog_end(f, PROG_ADDR));
    /* F1: pc 0, 1, 2 requested in cycles 0, 1, 2, at the head from 22, 24, 26; NOP retires in the
     * cycle it is at the head, END too (queues empty): 22, 24, 26. pc 3 is outside the window;
     * inflight reaches 0 at the end of 25, so the FETCH entry is pushed at the end of 26. C = 27. */
    expect_done(&st);
    expect(&st, 27, 3, 0, 0, 0, 0);
    expect_retire(f, 0, 22);
    expect_retire(f, 1, 24);
    expect_retire(f, 2, 26);
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(f->log[i].src, QMAC_TIMING_SRC_DISPATCH);

    /* Window past the program: pc 0..3 requested in cycles 0..3. NOP pc 0 leaves at the end of 22,
     * so in 23 count + inflight = 0 + 3 < 4: pc 4 is requested (AR in 23; pc 1 is pushed at the
     * end of 23). In 24: count 1 + inflight 3 = 4, nothing; NOP pc 1 retires and leaves. In 25:
     * 0 + 3 < 4: pc 5 requested (pc 2 pushed at the end of 25). In 26: 1 + 3, nothing; END
     * retires (halting from 27). In flight then: pc 3 (beats 26, 27), pc 4 (AR 23: ready 43,
     * beats 43, 44), pc 5 (AR 25: ready 45, beats 45, 46): the last completes at the end of 46,
     * C = 47. */
    st = run2(f, PROG_ADDR, (qmac_window){MEM_BASE, MEM_BASE + MEM_SIZE - 1u});
    expect_done(&st);
    expect(&st, 47, 3, 0, 0, 0, 0);
    expect_retire(f, 2, 26);
    assert_int_equal(f->nar, 6);
    assert_int_equal(f->ar[4].cycle, 23);
    assert_int_equal(f->ar[5].cycle, 25);
}

/* ------------------------------------------------------------------------ load unit */

static void test_accel_timing_load_inp_row(void **state)
{
    fixture *f = *state; /* N = 16 */
    fill_random(f->bytes + (DATA - MEM_BASE), 64);
    prog_clear(f);
    add(f,
        QMAC_INSN_LOAD(.buf = QMAC_BUF_INP, .dram = DATA, .sram = 5, .x_size = 1, .y_size = 1, .z_size = 1));
    add(f, QMAC_INSN_END());
    qmac_timing_stats st = run2(f, PROG_ADDR, win_to_prog_end(f, PROG_ADDR));
    /* F1: LOAD at the head in 22, dispatched (load queue empty, no hazard); F4 t0 = 23: its AR
     * cursor presents the one burst (ARLEN 0, ARID 1) in 23; fetch has nothing to request (pc 2
     * outside), so it is granted and accepted in 23; the beat is presented from 23 + 20 = 43 (the
     * fetch beats ended in 23), the write cursor is at the data row (RREADY = 1): handshake and
     * row write in 43 = retire. END at the head from 24 waits while the load queue is non-empty
     * (24..43: STALL 20), retires in 44. The FETCH entry was pushed in 24 (inflight 0). C = 45.
     * LOAD_BUSY = 23..43 = 21. */
    expect_done(&st);
    expect(&st, 45, 2, 20, 21, 0, 0);
    expect_retire(f, 0, 43);
    expect_retire(f, 1, 44);
    assert_int_equal(f->log[0].src, QMAC_TIMING_SRC_LOAD);
    assert_int_equal(f->nar, 3);
    assert_int_equal(f->ar[2].cycle, 23);
    assert_int_equal(f->ar[2].addr, DATA);
    assert_int_equal(f->ar[2].len, 0);
    assert_int_equal(f->ar[2].id, 1);
    assert_memory_equal(qmac_accel_buffer(f->a, QMAC_BUF_INP) + 5 * 16, f->bytes + (DATA - MEM_BASE), 16);

    /* Window past the program: fetch still requests. In 23 count = 0 (pc 0 left at the end of 22,
     * pc 1 is pushed at the end of 23) + inflight 3 < 4: fetch requests pc 4 while the load unit
     * requests its burst: both, and fetch was granted last -> the load unit (round robin, R8). In
     * 24 fetch alone: pc 4 accepted in 24 (ready 44). R order: pc 2 (24, 25), pc 3 (26, 27), the
     * load beat (ready 43: 43), pc 4 (44, 45). LOAD retires in 43, END in 44 (STALL 24..43 = 20),
     * halting from 45, pc 4 completes at the end of 45: C = 46. */
    st = run2(f, PROG_ADDR, (qmac_window){MEM_BASE, MEM_BASE + MEM_SIZE - 1u});
    expect_done(&st);
    expect(&st, 46, 2, 20, 21, 0, 0);
    expect_retire(f, 0, 43);
    expect_retire(f, 1, 44);
    assert_int_equal(f->ar[4].cycle, 23);
    assert_int_equal(f->ar[4].id, 1);
    assert_int_equal(f->ar[5].cycle, 24);
    assert_int_equal(f->ar[5].id, 0);
}

static void test_accel_timing_load_inp_row_small(void **state)
{
    fixture *f = *state; /* N = 4 */
    prog_clear(f);
    add(f,
        QMAC_INSN_LOAD(.buf = QMAC_BUF_INP, .dram = DATA, .sram = 0, .x_size = 1, .y_size = 1, .z_size = 1));
    add(f, QMAC_INSN_END());
    qmac_timing_stats st = run2(f, PROG_ADDR, win_to_prog_end(f, PROG_ADDR));
    /* F1 (N = 4): LOAD at the head in 28, t0 = 29, AR in 29, beat in 49 = retire. END is at the
     * head from 36 (its beats 28..35), STALL 36..49 = 14, retires in 50; C = 51.
     * LOAD_BUSY 29..49 = 21. */
    expect_done(&st);
    expect(&st, 51, 2, 14, 21, 0, 0);
    expect_retire(f, 0, 49);
    expect_retire(f, 1, 50);
}

static void test_accel_timing_load_acc_row(void **state)
{
    fixture *f = *state; /* N = 16: an ACC row is 64 bytes = 4 beats, one burst (ARLEN 3) */
    fill_random(f->bytes + (DATA - MEM_BASE), 64);
    prog_clear(f);
    add(f,
        QMAC_INSN_LOAD(.buf = QMAC_BUF_ACC, .dram = DATA, .sram = 7, .x_size = 1, .y_size = 1, .z_size = 1));
    add(f, QMAC_INSN_END());
    qmac_timing_stats st = run2(f, PROG_ADDR, win_to_prog_end(f, PROG_ADDR));
    /* dispatch 22, t0 = 23, AR 23, beats 43, 44, 45, 46 (the row's last beat = its write = retire
     * in 46). END STALL 24..46 = 23, retires 47, C = 48. LOAD_BUSY 23..46 = 24. */
    expect_done(&st);
    expect(&st, 48, 2, 23, 24, 0, 0);
    expect_retire(f, 0, 46);
    assert_int_equal(f->ar[2].len, 3);
    assert_memory_equal(qmac_accel_buffer(f->a, QMAC_BUF_ACC) + 7 * 64, f->bytes + (DATA - MEM_BASE), 64);
}

static void test_accel_timing_load_padding_only(void **state)
{
    fixture *f = *state; /* N = 16 */
    prog_clear(f);
    /* x_size = 0: 1 * 1 * (2 + 0 + 1) = 3 padding rows, no memory read */
    add(f, QMAC_INSN_LOAD(.buf = QMAC_BUF_INP, .pad_value = 0x5a, .dram = 0, .sram = 10, .x_size = 0,
                          .y_size = 1, .z_size = 1, .pad_x0 = 2, .pad_x1 = 1));
    add(f, QMAC_INSN_END());
    qmac_timing_stats st = run2(f, PROG_ADDR, win_to_prog_end(f, PROG_ADDR));
    /* dispatch 22, t0 = 23: padding rows written in 23, 24, 25 (one per cycle), retire 25. END at
     * the head from 24: STALL 24, 25; retires 26. FETCH entry pushed in 24. C = 27.
     * LOAD_BUSY 23..25 = 3. Only the fetch bursts on AR. */
    expect_done(&st);
    expect(&st, 27, 2, 2, 3, 0, 0);
    expect_retire(f, 0, 25);
    assert_int_equal(f->nar, 2);
    const uint8_t *inp = qmac_accel_buffer(f->a, QMAC_BUF_INP);
    for (uint32_t i = 10 * 16; i < 13 * 16; i++)
        assert_int_equal(inp[i], 0x5a);
}

static void test_accel_timing_load_padding_and_data(void **state)
{
    fixture *f = *state; /* N = 16 */
    fill_random(f->bytes + (DATA - MEM_BASE), 64);
    prog_clear(f);
    /* rows: pad, data, data, pad; x_stride = 16 = rb: the line is one run -> one burst of 2 beats */
    add(f, QMAC_INSN_LOAD(.buf = QMAC_BUF_INP, .pad_value = 1, .dram = DATA, .sram = 0, .x_size = 2,
                          .y_size = 1, .z_size = 1, .x_stride = 16, .pad_x0 = 1, .pad_x1 = 1));
    add(f, QMAC_INSN_END());
    qmac_timing_stats st = run2(f, PROG_ADDR, win_to_prog_end(f, PROG_ADDR));
    /* t0 = 23: row 0 (padding) written in 23 while the AR cursor's burst is accepted in 23
     * (ARLEN 1); rows 1, 2 take the beats of 43 and 44; row 3 (padding) is written in 45 =
     * retire. END: STALL 24..45 = 22, retires 46. C = 47. LOAD_BUSY 23..45 = 23. */
    expect_done(&st);
    expect(&st, 47, 2, 22, 23, 0, 0);
    expect_retire(f, 0, 45);
    assert_int_equal(f->ar[2].len, 1);
}

static void test_accel_timing_load_bursts_4k(void **state)
{
    fixture *f = *state; /* N = 16 */
    /* 40 contiguous rows (640 bytes) from 256 bytes below a 4 KiB boundary: bursts of 16 beats
     * (ends at the boundary), 16 (MaxBurst), 8 (the run's end) */
    const uint32_t dram = MEM_BASE + 0x3000u - 256u;
    prog_clear(f);
    add(f, QMAC_INSN_LOAD(.buf = QMAC_BUF_INP, .dram = dram, .sram = 0, .x_size = 40, .y_size = 1,
                          .z_size = 1, .x_stride = 16));
    add(f, QMAC_INSN_END());
    qmac_timing_stats st = run2(f, PROG_ADDR, win_to_prog_end(f, PROG_ADDR));
    /* t0 = 23: burst 0 accepted in 23; the next is presented in the cycle after its handshake:
     * 24, 25. Beats: burst 0 from 43 (43..58), burst 1 (ready 44) follows back to back 59..74,
     * burst 2 75..82; the last row is written in 82 = retire. END: STALL 24..82 = 59, retires 83,
     * C = 84. LOAD_BUSY 23..82 = 60. */
    expect_done(&st);
    expect(&st, 84, 2, 59, 60, 0, 0);
    expect_retire(f, 0, 82);
    assert_int_equal(f->nar, 5);
    const uint32_t cyc[] = {23, 24, 25}, addr[] = {dram, dram + 256u, dram + 512u}, len[] = {15, 15, 7};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(f->ar[2 + i].cycle, cyc[i]);
        assert_int_equal(f->ar[2 + i].addr, addr[i]);
        assert_int_equal(f->ar[2 + i].len, len[i]);
        assert_int_equal(f->ar[2 + i].id, 1);
    }
}

static void test_accel_timing_load_round_robin(void **state)
{
    fixture *f = *state; /* N = 16, window past the program: fetch keeps requesting */
    prog_clear(f);
    /* 4 rows with x_stride 32 != 16: each row is its own run -> 4 one-beat bursts */
    add(f, QMAC_INSN_LOAD(.buf = QMAC_BUF_INP, .dram = DATA, .sram = 0, .x_size = 4, .y_size = 1, .z_size = 1,
                          .x_stride = 32));
    add(f, QMAC_INSN_END());
    qmac_timing_stats st = run2(f, PROG_ADDR, (qmac_window){MEM_BASE, MEM_BASE + MEM_SIZE - 1u});
    /* 23: fetch (count 0 + inflight 3) and load both request; fetch was granted last -> load
     * (burst 0, ready 43). 24: both again (count 1 + inflight 2 = 3 < 4); load was granted last
     * -> fetch (pc 4, ready 44). 25: count 1 + inflight 3 = 4: load alone (burst 1, ready 45);
     * 26: burst 2; 27: burst 3 (ready 47). R order: pc 2 (24, 25), pc 3 (26, 27), burst 0 (43),
     * pc 4 (44, 45), burst 1 (46), burst 2 (47), burst 3 (48) -> LOAD retires in 48. END (head
     * from 24) STALL 24..48 = 25, retires 49 (halting from 50); pc 4 completed at the end of 45:
     * C = 50. LOAD_BUSY 23..48 = 26. */
    expect_done(&st);
    expect(&st, 50, 2, 25, 26, 0, 0);
    expect_retire(f, 0, 48);
    expect_retire(f, 1, 49);
    const uint64_t cyc[] = {23, 24, 25, 26, 27};
    const uint32_t id[] = {1, 0, 1, 1, 1};
    assert_int_equal(f->nar, 9);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(f->ar[4 + i].cycle, cyc[i]);
        assert_int_equal(f->ar[4 + i].id, id[i]);
    }
}

static void test_accel_timing_load_back_to_back(void **state)
{
    fixture *f = *state; /* N = 16: three one-row LOADs, the load queue holds 2 */
    prog_clear(f);
    for (uint32_t i = 0; i < 3; i++)
        add(f, QMAC_INSN_LOAD(.buf = QMAC_BUF_INP, .dram = DATA + 16u * i, .sram = i, .x_size = 1,
                              .y_size = 1, .z_size = 1));
    add(f, QMAC_INSN_END());
    qmac_timing_stats st = run2(f, PROG_ADDR, win_to_prog_end(f, PROG_ADDR));
    /* L1: head 22, t0 23, AR 23, beat 43 = retire. L2: head 24, queue holds 1: dispatched 24;
     * t0 = max(25, L1's retire + 1 = 44) = 44, AR 44, beat 64 = retire. L3: head 26, the queue
     * holds L1 and L2 (full) until L1 leaves at the end of 43: STALL 26..43 = 18, dispatched 44,
     * t0 = max(45, 65) = 65, AR 65, beat 85 = retire. END: at the FIFO since 28, head from 45,
     * STALL 45..85 = 41, retires 86. FETCH entry pushed in 28 (inflight 0, count 2). C = 87.
     * STALL 59, LOAD_BUSY 23..85 = 63. */
    expect_done(&st);
    expect(&st, 87, 4, 59, 63, 0, 0);
    expect_retire(f, 0, 43);
    expect_retire(f, 1, 64);
    expect_retire(f, 2, 85);
    expect_retire(f, 3, 86);
    assert_int_equal(f->ar[4].cycle, 23);
    assert_int_equal(f->ar[5].cycle, 44);
    assert_int_equal(f->ar[6].cycle, 65);
}

/* ----------------------------------------------------------------------- store unit */

static void test_accel_timing_store_row(void **state)
{
    fixture *f = *state; /* N = 16 */
    uint8_t *out = qmac_accel_buffer(f->a, QMAC_BUF_OUT);
    fill_random(out, 16);
    prog_clear(f);
    add(f,
        QMAC_INSN_STORE(.buf = QMAC_BUF_OUT, .dram = DATA, .sram = 0, .x_size = 1, .y_size = 1, .z_size = 1));
    add(f, QMAC_INSN_END());
    qmac_timing_stats st = run2(f, PROG_ADDR, win_to_prog_end(f, PROG_ADDR));
    /* dispatch 22, t0 = 23: AW (AWLEN 0) accepted in 23; the W path reads the beat in 23
     * (fifo 0 + 0 < 3), data in 24, pushed at the end of 24: WVALID (WLAST) from 25; the memory
     * accepted the AW before 25, so WREADY: W handshake in 25; B from 25 + WriteLatency 10 = 35,
     * BREADY = 1: retire in 35. END: STALL 24..35 = 12, retires 36, C = 37. STORE_BUSY 23..35 =
     * 13. */
    expect_done(&st);
    expect(&st, 37, 2, 12, 0, 13, 0);
    expect_retire(f, 0, 35);
    assert_int_equal(f->log[0].src, QMAC_TIMING_SRC_STORE);
    assert_int_equal(f->naw, 1);
    assert_int_equal(f->aw[0].cycle, 23);
    assert_int_equal(f->aw[0].addr, DATA);
    assert_int_equal(f->aw[0].len, 0);
    assert_int_equal(f->w_beats, 1);
    assert_memory_equal(f->bytes + (DATA - MEM_BASE), out, 16); /* written by the golden model */
}

static void test_accel_timing_store_acc_row(void **state)
{
    fixture *f = *state; /* N = 16: 4 beats, each its own SRAM read */
    prog_clear(f);
    add(f,
        QMAC_INSN_STORE(.buf = QMAC_BUF_ACC, .dram = DATA, .sram = 3, .x_size = 1, .y_size = 1, .z_size = 1));
    add(f, QMAC_INSN_END());
    qmac_timing_stats st = run2(f, PROG_ADDR, win_to_prog_end(f, PROG_ADDR));
    /* reads: 23 (0 + 0 < 3), 24 (0 + 1), 25 (1 + 1: the beat read in 23 was pushed at the end of
     * 24), 26 (the FIFO holds 1 at every start from 25 on: one pop and one push per cycle).
     * W beats 25, 26, 27, 28 (WLAST), B in 38 = retire. END STALL 24..38 = 15, retires 39, C = 40.
     * STORE_BUSY 23..38 = 16. */
    expect_done(&st);
    expect(&st, 40, 2, 15, 0, 16, 0);
    expect_retire(f, 0, 38);
    assert_int_equal(f->aw[0].len, 3);
    assert_int_equal(f->w_beats, 4);
}

static void test_accel_timing_store_back_to_back(void **state)
{
    fixture *f = *state; /* N = 16 */
    fill_random(qmac_accel_buffer(f->a, QMAC_BUF_OUT), 32);
    prog_clear(f);
    add(f,
        QMAC_INSN_STORE(.buf = QMAC_BUF_OUT, .dram = DATA, .sram = 0, .x_size = 1, .y_size = 1, .z_size = 1));
    add(f, QMAC_INSN_STORE(.buf = QMAC_BUF_OUT, .dram = DATA + 64u, .sram = 1, .x_size = 1, .y_size = 1,
                           .z_size = 1));
    add(f, QMAC_INSN_END());
    qmac_timing_stats st = run2(f, PROG_ADDR, win_to_prog_end(f, PROG_ADDR));
    /* S1 as test_accel_timing_store_row: retire 35. S2: head 24, dispatched 24, t0 = max(25, 36) =
     * 36: AW 36, read 36, W 38, B 48 = retire. END head 26, STALL 26..48 = 23, retires 49. C = 50.
     * STORE_BUSY 23..48 = 26. */
    expect_done(&st);
    expect(&st, 50, 3, 23, 0, 26, 0);
    expect_retire(f, 0, 35);
    expect_retire(f, 1, 48);
    assert_int_equal(f->aw[1].cycle, 36);
}

/* -------------------------------------------------------------------- compute unit */

static void test_accel_timing_config(void **state)
{
    fixture *f = *state; /* N = 16 */
    prog_clear(f);
    add(f, QMAC_INSN_CONFIG(.act_signed = 1, .rule = QMAC_RULE_SINGLE, .act_zp = 3, .clamp_min = 0x80,
                            .clamp_max = 0x7f));
    add(f, QMAC_INSN_END());
    qmac_timing_stats st = run2(f, PROG_ADDR, win_to_prog_end(f, PROG_ADDR));
    /* dispatch 22, t0 = 23 = retire (CONFIG retires in t0). END at the head in 24: the compute
     * queue emptied at the end of 23: retires 24. C = 25. */
    expect_done(&st);
    expect(&st, 25, 2, 0, 0, 0, 0);
    expect_retire(f, 0, 23);
    expect_retire(f, 1, 24);
    assert_int_equal(f->log[0].src, QMAC_TIMING_SRC_COMPUTE);
    assert_int_equal(qmac_accel_get_regs(f->a)->rule, QMAC_RULE_SINGLE);
    assert_int_equal(qmac_accel_get_regs(f->a)->act_zp, 3);
}

static void test_accel_timing_gemm_short(void **state)
{
    fixture *f = *state; /* N = 4, L = 2 < N */
    prog_clear(f);
    add(f, QMAC_INSN_GEMM(.wgt = 0, .inp = 0, .acc = 0, .count0 = 2, .count1 = 1, .inp_s0 = 1, .acc_s0 = 1));
    add(f, QMAC_INSN_END());
    qmac_timing_stats st = run2(f, PROG_ADDR, win_to_prog_end(f, PROG_ADDR));
    /* F1 (N = 4): GEMM at the head in 28, t0 = 29, retire t0 + L + 2N + 1 = 29 + 2 + 8 + 1 = 40.
     * END at the head from 36: STALL 36..40 = 5, retires 41; the FETCH entry was pushed in 36;
     * C = 42. ARRAY_BUSY = L = 2. */
    expect_done(&st);
    expect(&st, 42, 2, 5, 0, 0, 2);
    expect_retire(f, 0, 40);
    expect_retire(f, 1, 41);
}

static void test_accel_timing_gemm_long(void **state)
{
    fixture *f = *state; /* N = 4, L = 3 * 2 = 6 > N */
    fill_random(qmac_accel_buffer(f->a, QMAC_BUF_INP), 64);
    fill_random(qmac_accel_buffer(f->a, QMAC_BUF_WGT), 64);
    prog_clear(f);
    add(f, QMAC_INSN_GEMM(.wgt = 4, .inp = 1, .acc = 2, .count0 = 3, .count1 = 2, .inp_s0 = 1, .inp_s1 = 5,
                          .acc_s0 = 1, .acc_s1 = 3));
    add(f, QMAC_INSN_END());
    qmac_timing_stats st = run2(f, PROG_ADDR, win_to_prog_end(f, PROG_ADDR));
    /* t0 = 29, retire 29 + 6 + 8 + 1 = 44. END STALL 36..44 = 9, retires 45, C = 46. */
    expect_done(&st);
    expect(&st, 46, 2, 9, 0, 0, 6);
    expect_retire(f, 0, 44);
}

static void test_accel_timing_gemm_default(void **state)
{
    fixture *f = *state; /* N = 16, L = 20 */
    prog_clear(f);
    add(f, QMAC_INSN_GEMM(.wgt = 0, .inp = 0, .acc = 0, .count0 = 20, .count1 = 1, .inp_s0 = 1, .acc_s0 = 1));
    add(f, QMAC_INSN_END());
    qmac_timing_stats st = run2(f, PROG_ADDR, win_to_prog_end(f, PROG_ADDR));
    /* F1: t0 = 23, retire 23 + 20 + 32 + 1 = 76. END at the head from 24: STALL 24..76 = 53,
     * retires 77, C = 78. */
    expect_done(&st);
    expect(&st, 78, 2, 53, 0, 0, 20);
    expect_retire(f, 0, 76);
}

static void test_accel_timing_gemm_back_to_back(void **state)
{
    fixture *f = *state; /* N = 4 */
    prog_clear(f);
    add(f, QMAC_INSN_GEMM(.count0 = 12, .count1 = 1, .inp_s0 = 1, .acc_s0 = 1));
    add(f, QMAC_INSN_GEMM(.inp = 20, .acc = 20, .count0 = 2, .count1 = 1, .inp_s0 = 1, .acc_s0 = 1));
    add(f, QMAC_INSN_END());
    qmac_timing_stats st = run2(f, PROG_ADDR, win_to_prog_end(f, PROG_ADDR));
    /* G1 (L 12): head 28, t0 = 29, retire 29 + 12 + 9 = 50. G2 (L 2): head 36, dispatched (queue
     * 1 < 2); both GEMMs with L >= 1: t0 = max(37, start(G1) + max(12, 4) = 41) = 41, retire
     * 41 + 2 + 9 = 52. END head from 44: STALL 44..52 = 9, retires 53, C = 54. */
    expect_done(&st);
    expect(&st, 54, 3, 9, 0, 0, 14);
    expect_retire(f, 0, 50);
    expect_retire(f, 1, 52);
    expect_retire(f, 2, 53);
}

static void test_accel_timing_gemm_stream_short_and_queue_full(void **state)
{
    fixture *f = *state; /* N = 16: instructions reach the head every 2 cycles */
    prog_clear(f);
    for (int i = 0; i < 3; i++)
        add(f, QMAC_INSN_GEMM(.inp = (uint32_t)(8 * i), .acc = (uint32_t)(8 * i), .count0 = 4, .count1 = 1,
                              .inp_s0 = 1, .acc_s0 = 1));
    add(f, QMAC_INSN_END());
    qmac_timing_stats st = run2(f, PROG_ADDR, win_to_prog_end(f, PROG_ADDR));
    /* G1: head 22, t0 = 23, retire 23 + 4 + 33 = 60. G2: head 24, dispatched; t0 = max(25,
     * 23 + max(4, 16)) = 39 (no vector in G1's t0+L+1 .. t0+N), retire 39 + 37 = 76. G3: head 26,
     * the compute queue holds G1 and G2 (2 = full) until G1 leaves at the end of 60: STALL
     * 26..60 = 35, dispatched 61, t0 = max(62, 39 + 16) = 62, retire 62 + 37 = 99. END: head from
     * 62, STALL 62..99 = 38, retires 100; C = 101. STALL 73, ARRAY_BUSY 12. */
    expect_done(&st);
    expect(&st, 101, 4, 73, 0, 0, 12);
    expect_retire(f, 0, 60);
    expect_retire(f, 1, 76);
    expect_retire(f, 2, 99);
    expect_retire(f, 3, 100);
}

static void test_accel_timing_gemm_post(void **state)
{
    fixture *f = *state; /* N = 4 */
    prog_clear(f);
    add(f,
        QMAC_INSN_GEMM(.post = 1, .count0 = 2, .count1 = 1, .inp_s0 = 1, .acc_s0 = 1, .out = 4, .out_s0 = 1));
    add(f, QMAC_INSN_END());
    qmac_timing_stats st = run2(f, PROG_ADDR, win_to_prog_end(f, PROG_ADDR));
    /* t0 = 29, retire t0 + L + 2N + 4 = 29 + 2 + 8 + 4 = 43. END STALL 36..43 = 8, retires 44,
     * C = 45. */
    expect_done(&st);
    expect(&st, 45, 2, 8, 0, 0, 2);
    expect_retire(f, 0, 43);
}

static void test_accel_timing_gemm_after_post_gemm(void **state)
{
    fixture *f = *state; /* N = 16: a short GEMM streaming behind a GEMM with post retires first */
    fill_random(qmac_accel_buffer(f->a, QMAC_BUF_INP), 64 * 16);
    fill_random(qmac_accel_buffer(f->a, QMAC_BUF_WGT), 16 * 16);
    prog_clear(f);
    add(f, QMAC_INSN_GEMM(.post = 1, .count0 = 16, .count1 = 1, .inp_s0 = 1, .acc_s0 = 1, .out_s0 = 1));
    /* accumulates into G1's last row: the golden model must still run G1 first (run2 compares
     * the final state with in-order execution) */
    add(f, QMAC_INSN_GEMM(.accum = 1, .inp = 40, .acc = 15, .count0 = 1, .count1 = 1));
    add(f, QMAC_INSN_END());
    qmac_timing_stats st = run2(f, PROG_ADDR, win_to_prog_end(f, PROG_ADDR));
    /* G1: t0 = 23, retire 23 + 16 + 32 + 4 = 75. G2: head 24, t0 = max(25, 23 + 16) = 39, retire
     * 39 + 1 + 33 = 73, before G1 (R6). END: head from 26, STALL 26..75 = 50, retires 76, C = 77. */
    expect_done(&st);
    expect(&st, 77, 3, 50, 0, 0, 17);
    expect_retire(f, 0, 75);
    expect_retire(f, 1, 73);
}

static void test_accel_timing_post(void **state)
{
    fixture *f = *state; /* N = 16, L = 10 */
    prog_clear(f);
    add(f, QMAC_INSN_POST(.acc = 0, .count0 = 5, .count1 = 2, .acc_s0 = 1, .acc_s1 = 5, .out = 0, .out_s0 = 1,
                          .out_s1 = 5));
    add(f, QMAC_INSN_END());
    qmac_timing_stats st = run2(f, PROG_ADDR, win_to_prog_end(f, PROG_ADDR));
    /* t0 = 23, retire t0 + L + 3 = 36. END STALL 24..36 = 13, retires 37, C = 38. */
    expect_done(&st);
    expect(&st, 38, 2, 13, 0, 0, 0);
    expect_retire(f, 0, 36);
}

static void test_accel_timing_valu(void **state)
{
    fixture *f = *state; /* N = 16, L = 5 */
    prog_clear(f);
    add(f, QMAC_INSN_VALU(.alu = QMAC_ALU_ADD, .b_imm = 1, .imm = 7, .a = 0, .dst = 10, .count0 = 5,
                          .count1 = 1, .a_s0 = 1, .dst_s0 = 1));
    add(f, QMAC_INSN_END());
    qmac_timing_stats st = run2(f, PROG_ADDR, win_to_prog_end(f, PROG_ADDR));
    /* t0 = 23, retire t0 + L + 1 = 29. END STALL 24..29 = 6, retires 30, C = 31. */
    expect_done(&st);
    expect(&st, 31, 2, 6, 0, 0, 0);
    expect_retire(f, 0, 29);
    const uint8_t *acc = qmac_accel_buffer(f->a, QMAC_BUF_ACC);
    assert_int_equal(acc[10 * 64], 7); /* 0 + 7, lane 0 of row 10 */
}

static void test_accel_timing_param(void **state)
{
    fixture *f = *state; /* N = 16 */
    uint8_t *acc = qmac_accel_buffer(f->a, QMAC_BUF_ACC);
    acc[4 * 64] = 9; /* bias lane 0 = 9 */
    prog_clear(f);
    add(f, QMAC_INSN_PARAM(.acc = 4));
    add(f, QMAC_INSN_END());
    qmac_timing_stats st = run2(f, PROG_ADDR, win_to_prog_end(f, PROG_ADDR));
    /* t0 = 23, reads in 23, 24, 25, retire t0 + 3 = 26. END STALL 24..26 = 3, retires 27, C = 28. */
    expect_done(&st);
    expect(&st, 28, 2, 3, 0, 0, 0);
    expect_retire(f, 0, 26);
    assert_int_equal(qmac_accel_get_regs(f->a)->bias[0], 9);
}

static void test_accel_timing_empty_loops(void **state)
{
    fixture *f = *state; /* N = 16: L = 0 GEMM, POST, VALU and a LOAD / STORE of no rows */
    prog_clear(f);
    add(f, QMAC_INSN_GEMM(.count0 = 0, .count1 = 5));
    add(f, QMAC_INSN_LOAD(.buf = QMAC_BUF_INP, .x_size = 3, .y_size = 1, .z_size = 0));
    add(f, QMAC_INSN_STORE(.buf = QMAC_BUF_OUT, .x_size = 0, .y_size = 1, .z_size = 1));
    add(f, QMAC_INSN_END());
    qmac_timing_stats st = run2(f, PROG_ADDR, win_to_prog_end(f, PROG_ADDR));
    /* GEMM: head 22, t0 = 23 = retire. LOAD: head 24 (R5: its W(INP) port differs from the
     * GEMM's R(INP); no ranges), t0 = 25 = retire. STORE: head 26, t0 = 27 = retire. END: head 28,
     * queues empty: retires 28; FETCH entry pushed in 28 too. C = 29. LOAD_BUSY 1 (25), STORE_BUSY
     * 1 (27). */
    expect_done(&st);
    expect(&st, 29, 4, 0, 1, 1, 0);
    expect_retire(f, 0, 23);
    expect_retire(f, 1, 25);
    expect_retire(f, 2, 27);
    expect_retire(f, 3, 28);
}

/* ------------------------------------------------------------------------ hazards */

static void test_accel_timing_hazard_dependent(void **state)
{
    fixture *f = *state; /* N = 16 */
    prog_clear(f);
    add(f, QMAC_INSN_LOAD(.buf = QMAC_BUF_INP, .dram = DATA, .sram = 0, .x_size = 4, .y_size = 1, .z_size = 1,
                          .x_stride = 16));
    add(f, QMAC_INSN_GEMM(.inp = 2, .count0 = 4, .count1 = 1, .inp_s0 = 1,
                          .acc_s0 = 1)); /* reads INP rows 2..5 */
    add(f, QMAC_INSN_END());
    qmac_timing_stats st = run2(f, PROG_ADDR, win_to_prog_end(f, PROG_ADDR));
    /* LOAD: head 22, t0 23, one burst of 4 beats (43..46), retire 46. GEMM: head 24, INP rows
     * [2, 6) overlap the LOAD's [0, 4) which writes: STALL 24..46 = 23; the LOAD leaves at the end
     * of 46: dispatched 47, t0 = 48, retire 48 + 4 + 33 = 85. END: head from 48, STALL 48..85 =
     * 38, retires 86. FETCH entry in 26. C = 87. STALL 61, LOAD_BUSY 23..46 = 24. */
    expect_done(&st);
    expect(&st, 87, 3, 61, 24, 0, 4);
    expect_retire(f, 0, 46);
    expect_retire(f, 1, 85);
    expect_retire(f, 2, 86);
}

static void test_accel_timing_hazard_independent(void **state)
{
    fixture *f = *state; /* N = 16 */
    prog_clear(f);
    add(f, QMAC_INSN_LOAD(.buf = QMAC_BUF_INP, .dram = DATA, .sram = 0, .x_size = 4, .y_size = 1, .z_size = 1,
                          .x_stride = 16));
    add(f, QMAC_INSN_GEMM(.inp = 8, .count0 = 4, .count1 = 1, .inp_s0 = 1, .acc_s0 = 1)); /* rows 8..11 */
    add(f, QMAC_INSN_END());
    qmac_timing_stats st = run2(f, PROG_ADDR, win_to_prog_end(f, PROG_ADDR));
    /* LOAD retires 46 as above. GEMM: head 24, no overlap and ports W(INP) vs R(INP) differ:
     * dispatched 24, t0 = 25, retire 25 + 37 = 62. END: head 26, STALL 26..62 = 37, retires 63.
     * C = 64. */
    expect_done(&st);
    expect(&st, 64, 3, 37, 24, 0, 4);
    expect_retire(f, 0, 46);
    expect_retire(f, 1, 62);
}

static void test_accel_timing_hazard_port(void **state)
{
    fixture *f = *state; /* N = 16: disjoint rows, but both write ACC */
    prog_clear(f);
    add(f, QMAC_INSN_LOAD(.buf = QMAC_BUF_ACC, .dram = DATA, .sram = 100, .x_size = 1, .y_size = 1,
                          .z_size = 1));
    add(f, QMAC_INSN_GEMM(.acc = 0, .count0 = 4, .count1 = 1, .inp_s0 = 1, .acc_s0 = 1));
    add(f, QMAC_INSN_END());
    qmac_timing_stats st = run2(f, PROG_ADDR, win_to_prog_end(f, PROG_ADDR));
    /* LOAD ACC: beats 43..46, retire 46. GEMM (W(ACC) as the LOAD): STALL 24..46 = 23, dispatched
     * 47, t0 48, retire 85. END STALL 48..85 = 38, retires 86, C = 87. */
    expect_done(&st);
    expect(&st, 87, 3, 61, 24, 0, 4);
    expect_retire(f, 1, 85);
}

static void test_accel_timing_hazard_store_port(void **state)
{
    fixture *f = *state; /* N = 16: a STORE of ACC row 100 and a PARAM of rows 0..2: both R(ACC) */
    prog_clear(f);
    add(f, QMAC_INSN_STORE(.buf = QMAC_BUF_ACC, .dram = DATA, .sram = 100, .x_size = 1, .y_size = 1,
                           .z_size = 1));
    add(f, QMAC_INSN_PARAM(.acc = 0));
    add(f, QMAC_INSN_END());
    qmac_timing_stats st = run2(f, PROG_ADDR, win_to_prog_end(f, PROG_ADDR));
    /* STORE as test_accel_timing_store_acc_row: retire 38. PARAM: head 24, port hazard: STALL
     * 24..38 = 15, dispatched 39, t0 40, retire 43. END: head 40, STALL 40..43 = 4, retires 44.
     * C = 45. STALL 19, STORE_BUSY 23..38 = 16. */
    expect_done(&st);
    expect(&st, 45, 3, 19, 0, 16, 0);
    expect_retire(f, 0, 38);
    expect_retire(f, 1, 43);
    expect_retire(f, 2, 44);
}

static void test_accel_timing_hazard_store_after_gemm(void **state)
{
    fixture *f = *state; /* N = 16: a STORE of OUT rows the GEMM's post writes */
    prog_clear(f);
    add(f,
        QMAC_INSN_GEMM(.post = 1, .count0 = 2, .count1 = 1, .inp_s0 = 1, .acc_s0 = 1, .out = 3, .out_s0 = 1));
    add(f,
        QMAC_INSN_STORE(.buf = QMAC_BUF_OUT, .dram = DATA, .sram = 4, .x_size = 1, .y_size = 1, .z_size = 1));
    add(f, QMAC_INSN_END());
    qmac_timing_stats st = run2(f, PROG_ADDR, win_to_prog_end(f, PROG_ADDR));
    /* GEMM: t0 23, retire 23 + 2 + 32 + 4 = 61. STORE (reads OUT row 4, written by the GEMM):
     * head 24, STALL 24..61 = 38, dispatched 62, t0 63: AW 63, read 63, W 65, B 75 = retire. END:
     * head 63, STALL 63..75 = 13, retires 76. C = 77. STALL 51, STORE_BUSY 63..75 = 13. */
    expect_done(&st);
    expect(&st, 77, 3, 51, 0, 13, 2);
    expect_retire(f, 0, 61);
    expect_retire(f, 1, 75);
    expect_retire(f, 2, 76);
}

static void test_accel_timing_fence(void **state)
{
    fixture *f = *state; /* N = 16 */
    prog_clear(f);
    add(f,
        QMAC_INSN_LOAD(.buf = QMAC_BUF_INP, .dram = DATA, .sram = 0, .x_size = 1, .y_size = 1, .z_size = 1));
    add(f, QMAC_INSN_FENCE());
    add(f, QMAC_INSN_NOP());
    add(f, QMAC_INSN_END());
    qmac_timing_stats st = run2(f, PROG_ADDR, win_to_prog_end(f, PROG_ADDR));
    /* LOAD: head 22, AR 23 (fetch: pc 4 is outside, inflight 3 != 0: no request), beat 43 =
     * retire. FENCE: head 24, the load queue is non-empty at the start of 24..43 (STALL 20),
     * retires 44. NOP: head 45, retires 45. END: head 46, retires 46. FETCH entry pushed in 28
     * (inflight 0, count 3). C = 47. */
    expect_done(&st);
    expect(&st, 47, 4, 20, 21, 0, 0);
    expect_retire(f, 0, 43);
    expect_retire(f, 1, 44);
    expect_retire(f, 2, 45);
    expect_retire(f, 3, 46);
}

/* ------------------------------------------------------------------------- faults */

static void fault_case(fixture *f, qmac_insn bad_insn, const uint32_t *bad_words, qmac_fault code)
{
    prog_clear(f);
    add(f, QMAC_INSN_NOP());
    if (bad_words)
        add_words(f, bad_words);
    else
        add(f, bad_insn);
    add(f, QMAC_INSN_END());
    /* the window ends at pc 1: pc 1 is the last instruction fetched */
    qmac_window win = {MEM_BASE, PROG_ADDR + 2u * QMAC_INSN_BYTES - 1u};
    qmac_timing_stats st = run2(f, PROG_ADDR, win);
    /* NOP: head 22, retires 22. pc 1: head 24, its check fails: the fault is pending in 24, nothing
     * dispatched, halting from 25. Fetch pushed the FETCH entry of pc 2 in 24 (inflight 0), behind
     * it. C = 25, FAULT_PC = 1, RETIRED = 1 (the NOP). */
    assert_false(st.done);
    assert_int_equal(st.fault, code);
    assert_int_equal(st.fault_pc, 1);
    expect(&st, 25, 1, 0, 0, 0, 0);
}

static void test_accel_timing_fault_checks(void **state)
{
    fixture *f = *state; /* N = 16 */
    uint32_t w[QMAC_INSN_WORDS] = {QMAC_OP_COUNT};
    fault_case(f, QMAC_INSN_NOP(), w, QMAC_FAULT_OPCODE);
    memset(w, 0, sizeof w);
    w[0] = QMAC_OP_NOP | 1u << 20; /* a reserved bit */
    fault_case(f, QMAC_INSN_NOP(), w, QMAC_FAULT_FIELD);
    fault_case(f,
               QMAC_INSN_LOAD(.buf = QMAC_BUF_INP, .dram = DATA + 8u, .x_size = 1, .y_size = 1, .z_size = 1),
               NULL, QMAC_FAULT_ALIGN);
    fault_case(f, QMAC_INSN_GEMM(.inp = 4095, .count0 = 2, .count1 = 1, .inp_s0 = 1), NULL,
               QMAC_FAULT_BUF_RANGE);
    fault_case(
        f,
        QMAC_INSN_STORE(.buf = QMAC_BUF_OUT, .dram = MEM_BASE - 16u, .x_size = 1, .y_size = 1, .z_size = 1),
        NULL, QMAC_FAULT_WINDOW);
}

static void test_accel_timing_fault_fetch(void **state)
{
    fixture *f = *state; /* N = 16 */
    prog_clear(f);
    add(f, QMAC_INSN_NOP());
    add(f, QMAC_INSN_END());
    /* PROG_ADDR not a multiple of 32: in cycle 0 fetch cannot request pc 0 and inflight = 0,
     * count = 0: it pushes the FETCH entry at the end of 0; head in 1: fault pending in 1, halting
     * from 2: C = 2, FAULT_PC = 0. */
    qmac_timing_stats st = run2(f, PROG_ADDR + 16u, (qmac_window){MEM_BASE, MEM_BASE + MEM_SIZE - 1u});
    assert_int_equal(st.fault, QMAC_FAULT_FETCH);
    assert_int_equal(st.fault_pc, 0);
    expect(&st, 2, 0, 0, 0, 0, 0);
    assert_int_equal(f->nar, 0);

    /* NOP NOP with the window ending after them: NOPs retire 22, 24 (F1); pc 2 is outside; inflight
     * is 0 from 24 (pc 1 completed at the end of 23) and count 1 < 4: FETCH entry pushed at the end
     * of 24, head in 25 (pc 1 left at the end of 24): pending in 25, C = 26, FAULT_PC = 2. */
    prog_clear(f);
    add(f, QMAC_INSN_NOP());
    add(f, QMAC_INSN_NOP());
    st = run2(f, PROG_ADDR, win_to_prog_end(f, PROG_ADDR));
    assert_int_equal(st.fault, QMAC_FAULT_FETCH);
    assert_int_equal(st.fault_pc, 2);
    expect(&st, 26, 2, 0, 0, 0, 0);
}

static void test_accel_timing_fault_bus_fetch(void **state)
{
    fixture *f = *state; /* N = 16 */
    /* NOP in the last 32 bytes of memory; pc 1 just beyond it, still inside the window */
    const uint32_t prog = MEM_BASE + MEM_SIZE - 32u;
    prog_clear(f);
    add(f, QMAC_INSN_NOP());
    add(f, QMAC_INSN_END());
    qmac_timing_stats st = run2(f, prog, (qmac_window){MEM_BASE, prog + 64u - 1u});
    /* pc 1's beats (22, 23) answer SLVERR: its FIFO entry is a BUS entry, at the head in 24: the
     * fault is pending in 24 (NOP retired 22), C = 25, FAULT_PC = 1. */
    assert_int_equal(st.fault, QMAC_FAULT_BUS);
    assert_int_equal(st.fault_pc, 1);
    expect(&st, 25, 1, 0, 0, 0, 0);
}

static void test_accel_timing_fault_bus_load(void **state)
{
    fixture *f = *state; /* N = 16 */
    /* the window starts 4 KiB below the memory: a LOAD from there is legal but answers SLVERR */
    const qmac_window win = {MEM_BASE - 0x1000u, PROG_ADDR + 4u * QMAC_INSN_BYTES - 1u};
    prog_clear(f);
    add(f, QMAC_INSN_LOAD(.buf = QMAC_BUF_INP, .dram = MEM_BASE - 0x100u, .sram = 0, .x_size = 1, .y_size = 1,
                          .z_size = 1));
    add(f, QMAC_INSN_NOP());
    add(f, QMAC_INSN_NOP());
    add(f, QMAC_INSN_END());
    qmac_timing_stats st = run2(f, PROG_ADDR, win);
    /* LOAD: head 22, AR 23, SLVERR beat in 43 = retire (the row is written with zeros). The NOPs
     * reach the head in 24 and 26 and retire there (no unit involved: imprecise). END: head 28,
     * waits (load queue) 28..43 = STALL 16; in 44 the BUS fault is pending (the cycle after the
     * LOAD retired): END does not retire, still a STALL cycle (R3): STALL 17; halting from 45, C
     * = 45. FAULT_PC = 0, RETIRED = 3 (LOAD, NOP, NOP). */
    assert_int_equal(st.fault, QMAC_FAULT_BUS);
    assert_int_equal(st.fault_pc, 0);
    expect(&st, 45, 3, 17, 21, 0, 0);
    expect_retire(f, 1, 24);
    expect_retire(f, 2, 26);
    expect_retire(f, 0, 43);
}

static void test_accel_timing_fault_bus_store(void **state)
{
    fixture *f = *state; /* N = 16 */
    const qmac_window win = {MEM_BASE - 0x1000u, PROG_ADDR + 2u * QMAC_INSN_BYTES - 1u};
    prog_clear(f);
    add(f, QMAC_INSN_STORE(.buf = QMAC_BUF_OUT, .dram = MEM_BASE - 0x100u, .sram = 0, .x_size = 1,
                           .y_size = 1, .z_size = 1));
    add(f, QMAC_INSN_END());
    qmac_timing_stats st = run2(f, PROG_ADDR, win);
    /* STORE as test_accel_timing_store_row: W 25, B (SLVERR) 35 = retire; BUS pending 36 (END at
     * the head since 24: STALL 24..36 = 13), halting from 37: C = 37, FAULT_PC 0. */
    assert_int_equal(st.fault, QMAC_FAULT_BUS);
    assert_int_equal(st.fault_pc, 0);
    expect(&st, 37, 1, 13, 0, 13, 0);
}

static void test_accel_timing_max_cycles(void **state)
{
    fixture *f = *state; /* N = 16: a run cut at max_cycles reports neither done nor fault */
    prog_clear(f);
    add(f, QMAC_INSN_GEMM(.count0 = 100, .count1 = 1, .inp_s0 = 1, .acc_s0 = 1));
    add(f, QMAC_INSN_END());
    write_prog(f, PROG_ADDR);
    qmac_axi_mem_reset(f->mem);
    const qmac_window win = win_to_prog_end(f, PROG_ADDR);
    qmac_timing_stats st;
    /* GEMM t0 = 23: vectors enter in 24..123; cut at C = 50: cycles 24..49 = 26 counted */
    assert_int_equal(qmac_timing_run(f->t, f->a, f->mem, PROG_ADDR, &win, 50, &st), QMAC_OK);
    assert_false(st.done);
    assert_int_equal(st.fault, QMAC_FAULT_NONE);
    assert_int_equal(st.cycles, 50);
    assert_int_equal(st.array_busy, 26);
    /* a busy memory or a mismatching one is refused */
    qmac_axi_mem_reset(f->mem);
    qmac_timing_config other = f->tc;
    other.read_latency = 7;
    qmac_timing *t2;
    assert_int_equal(qmac_timing_create(&other, &t2), QMAC_OK);
    assert_int_equal(qmac_timing_run(t2, f->a, f->mem, PROG_ADDR, &win, 50, &st), QMAC_ERR_INVALID_ARG);
    qmac_timing_free(t2);
    other = f->tc;
    other.fetch_queue = 0;
    assert_int_equal(qmac_timing_config_check(&other), QMAC_ERR_INVALID_ARG);
}

/* ----------------------------------------------------------------- random programs */

/* A random legal instruction for the small build (N = 4, 256 rows per buffer), touching memory
 * in [DATA, DATA + 0x3000) only. */
static qmac_insn random_insn(void)
{
    const uint32_t kind = urand(100);
    const uint32_t n = 4;
    if (kind < 22) {
        const uint32_t buf = urand(4), rb = buf == QMAC_BUF_ACC ? 16u : 4u;
        qmac_insn in =
            QMAC_INSN_LOAD(.buf = buf, .pad_value = urand(256), .dram = DATA + n * urand(0x400),
                           .sram = urand(160), .x_size = urand(6), .y_size = urand(3) + 1,
                           .z_size = urand(2) + 1, .x_stride = urand(3) == 0 ? rb : n * urand(12),
                           .y_stride = n * urand(40), .z_stride = n * urand(80),
                           .pad_x0 = urand(3) == 0 ? urand(2) : 0, .pad_x1 = urand(3) == 0 ? urand(2) : 0,
                           .pad_y0 = urand(4) == 0 ? 1 : 0, .pad_y1 = urand(4) == 0 ? 1 : 0);
        return in;
    }
    if (kind < 37) {
        const uint32_t buf = urand(4), rb = buf == QMAC_BUF_ACC ? 16u : 4u;
        return QMAC_INSN_STORE(.buf = buf, .dram = DATA + n * urand(0x400), .sram = urand(160),
                               .x_size = urand(6), .y_size = urand(3) + 1, .z_size = urand(2) + 1,
                               .x_stride = urand(3) == 0 ? rb : n * urand(12), .y_stride = n * urand(40),
                               .z_stride = n * urand(80));
    }
    if (kind < 62)
        return QMAC_INSN_GEMM(.accum = urand(2), .post = urand(2), .group = urand(8), .wgt = urand(200),
                              .inp = urand(160), .acc = urand(160), .count0 = urand(8), .count1 = urand(3),
                              .inp_s0 = urand(3), .inp_s1 = urand(9), .acc_s0 = urand(3), .acc_s1 = urand(9),
                              .out = urand(160), .out_s0 = urand(3), .out_s1 = urand(9));
    if (kind < 70)
        return QMAC_INSN_POST(.group = urand(8), .acc = urand(160), .count0 = urand(6), .count1 = urand(3),
                              .acc_s0 = urand(3), .acc_s1 = urand(9), .out = urand(160), .out_s0 = urand(3),
                              .out_s1 = urand(9));
    if (kind < 80)
        return QMAC_INSN_VALU(.alu = urand(10), .b_imm = urand(2), .a_buf = urand(3), .a_signed = urand(2),
                              .b = urand(160), .a = urand(160), .dst = urand(160), .count0 = urand(6),
                              .count1 = urand(3), .a_s0 = urand(3), .a_s1 = urand(9), .dst_s0 = urand(3),
                              .dst_s1 = urand(9), .b_s0 = urand(3), .b_s1 = urand(9),
                              .imm = (uint32_t)splitmix64(), .shift = (int32_t)urand(63) - 31);
    if (kind < 84)
        return QMAC_INSN_PARAM(.acc = urand(200));
    if (kind < 90) {
        const uint32_t omode = urand(3);
        return QMAC_INSN_CONFIG(.bin = urand(2), .act_signed = urand(2), .wgt_signed = urand(2),
                                .rule = urand(3), .omode = omode, .act_zp = urand(256), .out_zp = urand(256),
                                .clamp_min = omode == QMAC_OMODE_S8 ? 0x80u : 0u,
                                .clamp_max = omode == QMAC_OMODE_S8 ? 0x7fu : 0xffu);
    }
    if (kind < 95)
        return QMAC_INSN_NOP();
    return QMAC_INSN_FENCE();
}

/* A new timing model and memory with tc (same hw build); the memory's bytes are zero. */
static void reconfigure(fixture *f, const qmac_timing_config *tc)
{
    qmac_timing_free(f->t);
    qmac_axi_mem_free(f->mem);
    qmac_axi_check_free(f->chk);
    f->tc = *tc;
    qmac_axi_mem_config mc;
    qmac_timing_mem_config(tc, MEM_BASE, MEM_SIZE, &mc);
    assert_int_equal(qmac_timing_create(tc, &f->t), QMAC_OK);
    assert_int_equal(qmac_axi_mem_create(&mc, &f->mem), QMAC_OK);
    /* fetch bursts are 32 / N beats whatever MaxBurst is */
    const uint32_t fetch_beats = QMAC_INSN_BYTES / tc->hw.dim;
    assert_int_equal(
        qmac_axi_check_create(tc->hw.dim, tc->max_burst > fetch_beats ? tc->max_burst : fetch_beats, &f->chk),
        QMAC_OK);
    f->bytes = qmac_axi_mem_data(f->mem, NULL, NULL);
    qmac_timing_set_retire_cb(f->t, on_retire, f);
}

static void test_accel_timing_random_programs(void **state)
{
    fixture *f = *state; /* N = 4 */
    uint64_t total_cycles = 0, faults = 0;
    for (int iter = 0; iter < 150; iter++) {
        /* a random build: queue depths, burst limit and memory (few outstanding bursts make ARREADY
         * and AWREADY drop, so the AR grant lock and held requests matter) */
        qmac_timing_config tc;
        qmac_timing_config_small(&tc);
        if (iter % 3) {
            tc.fetch_queue = 1 + urand(6);
            tc.load_queue = 1 + urand(3);
            tc.store_queue = 1 + urand(3);
            tc.compute_queue = 1 + urand(3);
            tc.max_burst = 1 + urand(16);
            tc.read_latency = 1 + urand(30);
            tc.write_latency = 1 + urand(20);
            tc.max_reads = 1 + urand(6);
            tc.max_writes = 1 + urand(4);
        }
        reconfigure(f, &tc);
        prog_clear(f);
        const size_t len = 5 + urand(40);
        for (size_t i = 0; i < len; i++)
            add(f, random_insn());
        if (urand(8) == 0) { /* a check fault somewhere: everything before it completes */
            uint32_t w[QMAC_INSN_WORDS] = {QMAC_OP_COUNT + urand(50)};
            memcpy(f->prog[urand((uint32_t)f->n)], w, sizeof w);
        }
        add(f, QMAC_INSN_END());
        fill_random(f->bytes + (DATA - MEM_BASE), 0x3000);
        qmac_accel_reset(f->a);
        for (uint32_t b = 0; b < QMAC_BUF_COUNT; b++)
            fill_random(qmac_accel_buffer(f->a, (qmac_buf)b), buf_bytes(f, (qmac_buf)b));
        const qmac_window win =
            urand(2) ? (qmac_window){MEM_BASE, MEM_BASE + MEM_SIZE - 1u} : win_to_prog_end(f, PROG_ADDR);
        /* run2: protocol checker, skipping == stepping, final state == in-order execution */
        const qmac_timing_stats st = run2(f, PROG_ADDR, win);
        total_cycles += st.cycles;
        faults += st.fault != QMAC_FAULT_NONE;
        assert_true(st.done || st.fault != QMAC_FAULT_NONE);
        for (size_t i = 1; i < f->nlog; i++)
            assert_true(f->log[i].cycle >= f->log[i - 1].cycle);
    }
    print_message("random programs: %" PRIu64 " cycles in total, %" PRIu64 " ended by a fault\n",
                  total_cycles, faults);
}

/* ------------------------------------------------------------------ GEMM programs */

typedef struct {
    uint32_t m, k, n;
    uint32_t a, b, c, params, prog;
} gemm_layout;

/* Random int8 A, B, per-channel TFLite requantization; builds, runs the timing model (golden
 * attached) and checks C against a plain matmul + qmac_requant. Returns the stats. */
static qmac_timing_stats gemm_case(fixture *f, const gemm_layout *g, uint32_t m_tile, double seconds[2],
                                   qmac_gemm_prog_info *info_out)
{
    const qmac_hw_config *hw = &f->tc.hw;
    const uint32_t m = g->m, k = g->k, n = g->n;
    int8_t *A = malloc((size_t)m * k), *B = malloc((size_t)k * n);
    int32_t *bias = malloc(n * sizeof *bias), *mult = malloc(n * sizeof *mult),
            *shift = malloc(n * sizeof *shift);
    float *sw = malloc(n * sizeof *sw);
    uint32_t *umult = malloc(n * sizeof *umult);
    int8_t *sh8 = malloc(n);
    const size_t pbytes = qmac_gemm_prog_param_bytes(hw, n);
    uint8_t *table = malloc(pbytes);
    assert_true(A && B && bias && mult && shift && sw && umult && sh8 && table);
    for (size_t i = 0; i < (size_t)m * k; i++)
        A[i] = (int8_t)(urand(256) - 128);
    for (size_t i = 0; i < (size_t)k * n; i++)
        B[i] = (int8_t)(urand(255) - 127);
    for (uint32_t c = 0; c < n; c++) {
        bias[c] = (int32_t)urand(4001) - 2000;
        sw[c] = 0.002f + 0.0001f * (float)urand(80);
    }
    const int32_t act_zp = -3, out_zp = 5;
    qmac_requant rq;
    assert_int_equal(qmac_requant_prepare(&rq, QMAC_REQUANT_TFLITE, 0.05f, sw, (int32_t)n, 0.2f, out_zp, -128,
                                          127, mult, shift, NULL),
                     QMAC_OK);
    for (uint32_t c = 0; c < n; c++) {
        umult[c] = (uint32_t)mult[c];
        sh8[c] = (int8_t)shift[c];
    }
    qmac_gemm_prog_pack_params(hw, n, bias, umult, sh8, NULL, table);
    memcpy(f->bytes + (g->params - MEM_BASE), table, pbytes);
    for (uint32_t i = 0; i < m; i++)
        memcpy(f->bytes + (g->a - MEM_BASE) + (size_t)i * k, A + (size_t)i * k, k);
    for (uint32_t j = 0; j < k; j++)
        memcpy(f->bytes + (g->b - MEM_BASE) + (size_t)j * n, B + (size_t)j * n, n);

    qmac_gemm_prog_desc d = {.m = m,
                             .k = k,
                             .n = n,
                             .a_addr = g->a,
                             .a_stride = k,
                             .b_addr = g->b,
                             .b_stride = n,
                             .c_addr = g->c,
                             .c_stride = n,
                             .param_addr = g->params,
                             .act_signed = 1,
                             .wgt_signed = 1,
                             .act_zp = (uint32_t)(uint8_t)act_zp,
                             .rule = QMAC_RULE_TFLITE,
                             .omode = QMAC_OMODE_S8,
                             .out_zp = (uint32_t)out_zp,
                             .clamp_min = 0x80,
                             .clamp_max = 0x7f,
                             .m_tile = m_tile};
    qmac_prog p;
    qmac_prog_init(&p);
    qmac_gemm_prog_info info;
    assert_int_equal(qmac_gemm_prog_build(hw, &d, &p, &info), QMAC_OK);
    unsigned char *img;
    size_t img_len;
    assert_int_equal(qmac_prog_to_bytes(&p, &img, &img_len), QMAC_OK);
    assert_true(g->prog - MEM_BASE + img_len <= qmac_axi_mem_get_config(f->mem)->size);
    memcpy(f->bytes + (g->prog - MEM_BASE), img, img_len);
    free(img);
    const qmac_window win = {MEM_BASE, g->prog + (uint32_t)img_len - 1u};

    /* the same program in order on the golden model alone, from a copy of the memory */
    const uint64_t mem_size = qmac_axi_mem_get_config(f->mem)->size;
    uint8_t *ref_mem = malloc(mem_size);
    qmac_accel *ref;
    assert_non_null(ref_mem);
    assert_int_equal(qmac_accel_create(hw, &ref), QMAC_OK);
    memcpy(ref_mem, f->bytes, mem_size);
    const qmac_accel_mem rm = {ref_mem, MEM_BASE, mem_size};
    qmac_accel_result res;
    const double tg = now_s();
    qmac_accel_run(ref, &rm, g->prog, &win, p.n_insn, &res);
    if (seconds)
        seconds[1] = now_s() - tg;
    assert_true(res.done);

    qmac_accel_reset(f->a);
    qmac_axi_mem_reset(f->mem);
    f->nlog = 0;
    qmac_timing_stats st;
    const double t0 = now_s();
    assert_int_equal(qmac_timing_run(f->t, f->a, f->mem, g->prog, &win, UINT64_C(1) << 40, &st), QMAC_OK);
    if (seconds)
        seconds[0] = now_s() - t0;
    if (!st.done)
        fail_msg("GEMM %ux%ux%u: fault %s at pc %" PRIu64 " (%s)", m, k, n, qmac_fault_name(st.fault),
                 st.fault_pc, st.why ? st.why : "");
    assert_int_equal(st.retired, p.n_insn);
    assert_int_equal(st.array_busy, info.vectors);
    assert_int_equal(info.vectors, (uint64_t)m * (k / hw->dim) * (n / hw->dim));

    if (memcmp(ref_mem, f->bytes, mem_size))
        fail_msg("GEMM %ux%ux%u: memory after the timed run differs from in-order execution", m, k, n);
    qmac_accel_free(ref);
    free(ref_mem);
    /* the reference: sum_j (A - act_zp) * B + bias, requantized per column */
    const int8_t *C = (const int8_t *)(f->bytes + (g->c - MEM_BASE));
    for (uint32_t i = 0; i < m; i++)
        for (uint32_t c = 0; c < n; c++) {
            int32_t acc = bias[c];
            for (uint32_t j = 0; j < k; j++)
                acc += ((int32_t)A[(size_t)i * k + j] - act_zp) * (int32_t)B[(size_t)j * n + c];
            const int32_t want = qmac_requant_one(&rq, (int32_t)c, acc);
            if (C[(size_t)i * n + c] != want)
                fail_msg("GEMM %ux%ux%u: C[%u][%u] = %d, reference %d (seed %" PRIu64 ")", m, k, n, i, c,
                         C[(size_t)i * n + c], want, g_seed);
        }
    if (info_out)
        *info_out = info;
    qmac_prog_free(&p);
    free(A);
    free(B);
    free(bias);
    free(mult);
    free(shift);
    free(sw);
    free(umult);
    free(sh8);
    free(table);
    return st;
}

static void test_accel_timing_gemm_prog_small(void **state)
{
    fixture *f = *state; /* N = 4, 256 rows per buffer: every plan of gemm_prog.c */
    const gemm_layout shapes[] = {
        {8, 4, 4, 0, 0, 0, 0, 0},     {12, 8, 20, 0, 0, 0, 0, 0},  {40, 36, 8, 0, 0, 0, 0, 0},
        {100, 12, 16, 0, 0, 0, 0, 0}, {64, 64, 64, 0, 0, 0, 0, 0}, {20, 80, 4, 0, 0, 0, 0, 0},
    };
    const uint32_t tiles[] = {0, 8, 16};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (size_t ti = 0; ti < sizeof tiles / sizeof tiles[0]; ti++) {
            gemm_layout g = shapes[s];
            g.a = MEM_BASE;
            g.b = g.a + 0x10000u;
            g.c = g.b + 0x10000u;
            g.params = g.c + 0x10000u;
            g.prog = g.params + 0x1000u;
            qmac_gemm_prog_info info;
            qmac_timing_stats st = gemm_case(f, &g, tiles[ti], NULL, &info);
            assert_true(st.cycles > info.vectors);
        }
}

static int setup_small_big(void **state)
{
    return setup_cfg(state, 1, 0x80000u);
}

static int setup_gemm256(void **state)
{
    return setup_cfg(state, 0, 0x80000u);
}

static void test_accel_timing_gemm256_perf(void **state)
{
    fixture *f = *state; /* N = 16, memory of 512 KiB */
    const gemm_layout g = {256,
                           256,
                           256,
                           MEM_BASE,
                           MEM_BASE + 0x10000u,
                           MEM_BASE + 0x20000u,
                           MEM_BASE + 0x30000u,
                           MEM_BASE + 0x40000u};
    double secs[2]; /* the timed run with the golden model attached; the golden model alone */
    qmac_gemm_prog_info info;
    qmac_timing_stats st = gemm_case(f, &g, 0, secs, &info);
    const double util = (double)st.array_busy / (double)st.cycles;
    print_message("GEMM 256x256x256 (N = 16): %zu instructions, m_tile %u, A %s, B %s; CYCLES %" PRIu64
                  ", ARRAY_BUSY %" PRIu64 " -> MAC utilization %.4f; LOAD_BUSY %" PRIu64
                  ", STORE_BUSY %" PRIu64 ", STALL %" PRIu64 "\n",
                  info.n_insn, info.m_tile, info.a_resident ? "resident" : "streamed",
                  info.b_resident ? "resident" : "streamed", st.cycles, st.array_busy, util, st.load_busy,
                  st.store_busy, st.stall);
    print_message(
        "model speed with the golden model attached: %.1f ms, %.2f M simulated cycles/s (the golden "
        "model alone, in order: %.1f ms)\n",
        secs[0] * 1e3, (double)st.cycles / secs[0] * 1e-6, secs[1] * 1e3);
    assert_true(util >= 0.90);

    /* timing only (no golden model): the same cycles; and cycle by cycle (no skipping) */
    const qmac_window win = {MEM_BASE, g.prog + (uint32_t)info.n_insn * QMAC_INSN_BYTES - 1u};
    qmac_timing_stats st2;
    for (int mode = 0; mode < 2; mode++) {
        qmac_timing_set_fast_forward(f->t, mode == 0);
        qmac_axi_mem_reset(f->mem);
        const int reps = 5;
        const double t0 = now_s();
        for (int r = 0; r < reps; r++) {
            qmac_axi_mem_reset(f->mem);
            assert_int_equal(qmac_timing_run(f->t, NULL, f->mem, g.prog, &win, UINT64_C(1) << 40, &st2),
                             QMAC_OK);
        }
        const double dt = (now_s() - t0) / reps;
        assert_same_stats(&st, &st2);
        print_message("timing only, %s: %.2f ms per run, %.1f M simulated cycles/s\n",
                      mode == 0 ? "idle cycles skipped" : "every cycle stepped", dt * 1e3,
                      (double)st2.cycles / dt * 1e-6);
    }
    qmac_timing_set_fast_forward(f->t, true);

    /* once with the AXI4 protocol checker on every cycle */
    qmac_axi_mem_reset(f->mem);
    qmac_axi_check_reset(f->chk);
    f->proto_errors = 0;
    qmac_timing_set_port_cb(f->t, on_ports, f);
    assert_int_equal(qmac_timing_run(f->t, NULL, f->mem, g.prog, &win, UINT64_C(1) << 40, &st2), QMAC_OK);
    qmac_timing_set_port_cb(f->t, NULL, NULL);
    assert_same_stats(&st, &st2);
    if (f->proto_errors)
        fail_msg("AXI protocol: %s", f->err);
}

int main(void)
{
    const char *env = getenv("QMAC_SEED");
    g_seed = env && *env ? strtoull(env, NULL, 0) : (uint64_t)time(NULL);
    g_rng = g_seed;
    printf("test_accel_timing: seed %" PRIu64 " (QMAC_SEED=%" PRIu64 " reproduces)\n", g_seed, g_seed);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_accel_timing_end_alone, setup_default, teardown),
        cmocka_unit_test_setup_teardown(test_accel_timing_end_alone_small, setup_small, teardown),
        cmocka_unit_test_setup_teardown(test_accel_timing_nop_nop_end, setup_default, teardown),
        cmocka_unit_test_setup_teardown(test_accel_timing_load_inp_row, setup_default, teardown),
        cmocka_unit_test_setup_teardown(test_accel_timing_load_inp_row_small, setup_small, teardown),
        cmocka_unit_test_setup_teardown(test_accel_timing_load_acc_row, setup_default, teardown),
        cmocka_unit_test_setup_teardown(test_accel_timing_load_padding_only, setup_default, teardown),
        cmocka_unit_test_setup_teardown(test_accel_timing_load_padding_and_data, setup_default, teardown),
        cmocka_unit_test_setup_teardown(test_accel_timing_load_bursts_4k, setup_default, teardown),
        cmocka_unit_test_setup_teardown(test_accel_timing_load_round_robin, setup_default, teardown),
        cmocka_unit_test_setup_teardown(test_accel_timing_load_back_to_back, setup_default, teardown),
        cmocka_unit_test_setup_teardown(test_accel_timing_store_row, setup_default, teardown),
        cmocka_unit_test_setup_teardown(test_accel_timing_store_acc_row, setup_default, teardown),
        cmocka_unit_test_setup_teardown(test_accel_timing_store_back_to_back, setup_default, teardown),
        cmocka_unit_test_setup_teardown(test_accel_timing_config, setup_default, teardown),
        cmocka_unit_test_setup_teardown(test_accel_timing_gemm_short, setup_small, teardown),
        cmocka_unit_test_setup_teardown(test_accel_timing_gemm_long, setup_small, teardown),
        cmocka_unit_test_setup_teardown(test_accel_timing_gemm_default, setup_default, teardown),
        cmocka_unit_test_setup_teardown(test_accel_timing_gemm_back_to_back, setup_small, teardown),
        cmocka_unit_test_setup_teardown(test_accel_timing_gemm_stream_short_and_queue_full, setup_default,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_accel_timing_gemm_post, setup_small, teardown),
        cmocka_unit_test_setup_teardown(test_accel_timing_gemm_after_post_gemm, setup_default, teardown),
        cmocka_unit_test_setup_teardown(test_accel_timing_post, setup_default, teardown),
        cmocka_unit_test_setup_teardown(test_accel_timing_valu, setup_default, teardown),
        cmocka_unit_test_setup_teardown(test_accel_timing_param, setup_default, teardown),
        cmocka_unit_test_setup_teardown(test_accel_timing_empty_loops, setup_default, teardown),
        cmocka_unit_test_setup_teardown(test_accel_timing_hazard_dependent, setup_default, teardown),
        cmocka_unit_test_setup_teardown(test_accel_timing_hazard_independent, setup_default, teardown),
        cmocka_unit_test_setup_teardown(test_accel_timing_hazard_port, setup_default, teardown),
        cmocka_unit_test_setup_teardown(test_accel_timing_hazard_store_port, setup_default, teardown),
        cmocka_unit_test_setup_teardown(test_accel_timing_hazard_store_after_gemm, setup_default, teardown),
        cmocka_unit_test_setup_teardown(test_accel_timing_fence, setup_default, teardown),
        cmocka_unit_test_setup_teardown(test_accel_timing_fault_checks, setup_default, teardown),
        cmocka_unit_test_setup_teardown(test_accel_timing_fault_fetch, setup_default, teardown),
        cmocka_unit_test_setup_teardown(test_accel_timing_fault_bus_fetch, setup_default, teardown),
        cmocka_unit_test_setup_teardown(test_accel_timing_fault_bus_load, setup_default, teardown),
        cmocka_unit_test_setup_teardown(test_accel_timing_fault_bus_store, setup_default, teardown),
        cmocka_unit_test_setup_teardown(test_accel_timing_max_cycles, setup_default, teardown),
        cmocka_unit_test_setup_teardown(test_accel_timing_random_programs, setup_small, teardown),
        cmocka_unit_test_setup_teardown(test_accel_timing_gemm_prog_small, setup_small_big, teardown),
        cmocka_unit_test_setup_teardown(test_accel_timing_gemm256_perf, setup_gemm256, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
