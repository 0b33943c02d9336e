/* test_axi_mem.c - the AXI4 memory model and protocol checker (sw/src/axi_mem.c): timing derived
 * by hand from the rules in axi_mem.h (latencies, back-to-back streaming, outstanding limits,
 * held beats, B latency), data paths (write/read, strobes, SLVERR, the write guard), a random
 * master with random valid/ready gaps compared beat by beat with a plain shadow byte array and an
 * independent restatement of the timing rules, the checker silent on all of it, and every checker
 * rule violated once. Seed: printed; override with QMAC_SEED=<n>. */
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

#include "qmac/axi_mem.h"

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

static bool chance(uint32_t percent)
{
    return urand(100) < percent;
}

static uint64_t seed_from_env(const char *test)
{
    uint64_t seed = (uint64_t)time(NULL);
    const char *env = getenv("QMAC_SEED");
    if (env && *env)
        seed = strtoull(env, NULL, 0);
    print_message("%s: seed %" PRIu64 " (rerun with QMAC_SEED=%" PRIu64 ")\n", test, seed, seed);
    return seed;
}

/* ---------------------------------------------------------------- harness */

/* One memory with a checker watching its port; every cycle must be clean. */
typedef struct {
    qmac_axi_mem *mem;
    qmac_axi_check *chk;
    uint64_t cycle;
} harness;

static qmac_axi_mem_config cfg_of(uint32_t beat_bytes, uint32_t read_latency, uint32_t write_latency)
{
    qmac_axi_mem_config c;
    memset(&c, 0, sizeof c);
    c.beat_bytes = beat_bytes;
    c.base = 0x1000;
    c.size = 0x2000;
    c.read_latency = read_latency;
    c.write_latency = write_latency;
    c.max_reads = 4;
    c.max_writes = 4;
    return c;
}

static void h_open(harness *h, const qmac_axi_mem_config *c)
{
    memset(h, 0, sizeof *h);
    assert_int_equal(qmac_axi_mem_create(c, &h->mem), QMAC_OK);
    assert_int_equal(qmac_axi_check_create(c->beat_bytes, QMAC_AXI_MAX_BURST_BEATS, &h->chk), QMAC_OK);
    /* a recognisable pattern: byte at address a holds a * 7 + 3 */
    uint64_t base, size;
    uint8_t *d = qmac_axi_mem_data(h->mem, &base, &size);
    for (uint64_t i = 0; i < size; i++)
        d[i] = (uint8_t)((base + i) * 7u + 3u);
}

static void h_close(harness *h)
{
    qmac_axi_mem_free(h->mem);
    qmac_axi_check_free(h->chk);
}

static uint8_t pattern(uint64_t addr)
{
    return (uint8_t)(addr * 7u + 3u);
}

/* One cycle with `in` driven: *s receives the slave's ports during it. */
static void h_cycle(harness *h, const qmac_axi_m2s *in, qmac_axi_s2m *s)
{
    char err[512];
    qmac_axi_mem_outputs(h->mem, s);
    if (qmac_axi_check_cycle(h->chk, in, s, err, sizeof err) != 0) {
        print_error("checker: %s\n", err);
        fail();
    }
    qmac_axi_mem_clock(h->mem, in);
    h->cycle++;
}

static void set_ar(qmac_axi_m2s *in, uint64_t addr, uint32_t beats, uint32_t id, uint32_t beat_bytes)
{
    uint32_t lg = 0;
    while ((1u << lg) < beat_bytes)
        lg++;
    in->arvalid = true;
    in->araddr = addr;
    in->arlen = beats - 1;
    in->arsize = lg;
    in->arburst = QMAC_AXI_BURST_INCR;
    in->arid = id;
}

static void set_aw(qmac_axi_m2s *in, uint64_t addr, uint32_t beats, uint32_t id, uint32_t beat_bytes)
{
    uint32_t lg = 0;
    while ((1u << lg) < beat_bytes)
        lg++;
    in->awvalid = true;
    in->awaddr = addr;
    in->awlen = beats - 1;
    in->awsize = lg;
    in->awburst = QMAC_AXI_BURST_INCR;
    in->awid = id;
}

/* A complete write burst with every valid/ready high as soon as allowed; returns BRESP. */
static uint32_t h_write(harness *h, uint64_t addr, uint32_t beats, const uint8_t *data, const uint64_t *strb)
{
    const uint32_t bb = qmac_axi_mem_get_config(h->mem)->beat_bytes;
    qmac_axi_m2s in;
    qmac_axi_s2m s;
    memset(&in, 0, sizeof in);
    set_aw(&in, addr, beats, 5, bb);
    in.bready = true;
    uint32_t sent = 0;
    bool aw_done = false;
    for (int guard = 0; guard < 10000; guard++) {
        in.wvalid = aw_done && sent < beats;
        if (in.wvalid) {
            memcpy(in.wdata, data + (size_t)sent * bb, bb);
            in.wstrb = strb ? strb[sent] : UINT64_MAX;
            in.wlast = sent + 1 == beats;
        }
        h_cycle(h, &in, &s);
        if (in.awvalid && s.awready) {
            in.awvalid = false;
            aw_done = true;
        }
        if (in.wvalid && s.wready)
            sent++;
        if (s.bvalid) {
            assert_int_equal(sent, beats);
            assert_int_equal(s.bid, 5);
            return s.bresp;
        }
    }
    fail_msg("write burst never answered");
    return 99;
}

/* A complete read burst; data[beats * beat_bytes], resp[beats]. */
static void h_read(harness *h, uint64_t addr, uint32_t beats, uint8_t *data, uint32_t *resp)
{
    const uint32_t bb = qmac_axi_mem_get_config(h->mem)->beat_bytes;
    qmac_axi_m2s in;
    qmac_axi_s2m s;
    memset(&in, 0, sizeof in);
    set_ar(&in, addr, beats, 9, bb);
    in.rready = true;
    uint32_t got = 0;
    for (int guard = 0; guard < 10000 && got < beats; guard++) {
        h_cycle(h, &in, &s);
        if (in.arvalid && s.arready)
            in.arvalid = false;
        if (s.rvalid) {
            assert_int_equal(s.rid, 9);
            assert_int_equal(s.rlast, got + 1 == beats);
            memcpy(data + (size_t)got * bb, s.rdata, bb);
            resp[got++] = s.rresp;
        }
    }
    assert_int_equal(got, beats);
}

/* ---------------------------------------------------------------- configuration */

static void expect_bad_config(const qmac_axi_mem_config *c, const char *field)
{
    qmac_axi_mem *m = (qmac_axi_mem *)1;
    qmac_clear_error();
    assert_int_equal(qmac_axi_mem_create(c, &m), QMAC_ERR_INVALID_ARG);
    assert_null(m);
    if (!strstr(qmac_last_error(), field)) {
        print_error("error '%s' does not name %s\n", qmac_last_error(), field);
        fail();
    }
}

static void test_axi_mem_create_bad_config(void **state)
{
    (void)state;
    const qmac_axi_mem_config good = cfg_of(8, 1, 1);
    qmac_axi_mem_config c;
    const uint32_t bad_bb[] = {0, 3, 12, 128};
    for (size_t i = 0; i < sizeof bad_bb / sizeof bad_bb[0]; i++) {
        c = good;
        c.beat_bytes = bad_bb[i];
        expect_bad_config(&c, "beat_bytes");
    }
    c = good;
    c.size = 0;
    expect_bad_config(&c, "size");
    c = good;
    c.base = UINT64_MAX - 10;
    c.size = 12; /* ends at 2^64 + 1 */
    expect_bad_config(&c, "base");
    c = good;
    c.read_latency = 0;
    expect_bad_config(&c, "read_latency");
    c = good;
    c.write_latency = 0;
    expect_bad_config(&c, "write_latency");
    c = good;
    c.max_reads = 0;
    expect_bad_config(&c, "max_reads");
    c = good;
    c.max_writes = QMAC_AXI_MAX_OUTSTANDING + 1;
    expect_bad_config(&c, "max_writes");
    assert_int_equal(qmac_axi_mem_create(&good, NULL), QMAC_ERR_INVALID_ARG);
    qmac_axi_mem *m = NULL;
    assert_int_equal(qmac_axi_mem_create(NULL, &m), QMAC_ERR_INVALID_ARG);

    /* the top byte of the address space is a valid memory of size 1 */
    c = good;
    c.base = UINT64_MAX;
    c.size = 1;
    c.beat_bytes = 1;
    assert_int_equal(qmac_axi_mem_create(&c, &m), QMAC_OK);
    qmac_axi_mem_free(m);

    qmac_axi_check *chk = (qmac_axi_check *)1;
    assert_int_equal(qmac_axi_check_create(6, 16, &chk), QMAC_ERR_INVALID_ARG);
    assert_null(chk);
    assert_int_equal(qmac_axi_check_create(8, 0, &chk), QMAC_ERR_INVALID_ARG);
    assert_int_equal(qmac_axi_check_create(8, 257, &chk), QMAC_ERR_INVALID_ARG);
}

/* ---------------------------------------------------------------- hand-derived timing */

/* AR handshake in cycle 0 -> RVALID exactly in cycle read_latency, for one cycle under RREADY. */
static void test_axi_mem_read_latency_single_beat(void **state)
{
    (void)state;
    const uint32_t lats[] = {1, 2, 5, 17};
    for (size_t k = 0; k < sizeof lats / sizeof lats[0]; k++) {
        const uint32_t lat = lats[k];
        qmac_axi_mem_config c = cfg_of(8, lat, 1);
        harness h;
        h_open(&h, &c);
        qmac_axi_m2s in;
        qmac_axi_s2m s;
        memset(&in, 0, sizeof in);
        in.rready = true;
        set_ar(&in, 0x1010, 1, 7, 8);
        for (uint32_t t = 0; t <= lat + 2; t++) {
            h_cycle(&h, &in, &s);
            if (t == 0)
                assert_true(s.arready);
            in.arvalid = false;
            assert_int_equal(s.rvalid, t == lat);
            if (t == lat) {
                assert_int_equal(s.rid, 7);
                assert_true(s.rlast);
                assert_int_equal(s.rresp, QMAC_AXI_RESP_OKAY);
                for (uint32_t j = 0; j < 8; j++)
                    assert_int_equal(s.rdata[j], pattern(0x1010 + j));
            }
        }
        qmac_axi_mem_stats st;
        qmac_axi_mem_get_stats(h.mem, &st);
        assert_int_equal(st.read_bursts, 1);
        assert_int_equal(st.read_beats, 1);
        assert_int_equal(st.cycles, lat + 3);
        assert_true(qmac_axi_mem_idle(h.mem));
        h_close(&h);
    }
}

/* Two 16-beat bursts, ARs in cycle 0 and cycle ar2: the first burst's beats come in cycles
 * lat .. lat + 15, the second's from max(lat + 16, ar2 + lat) on. ARs in cycles 0 and 1 stream
 * 32 beats in 32 consecutive cycles, for a latency shorter or longer than a burst; an AR in cycle
 * 10 with latency 20 (ready in 30, first burst done in 35) still streams; one in cycle 30 (ready
 * in 50) leaves a gap. */
static void test_axi_mem_read_back_to_back_bursts(void **state)
{
    (void)state;
    const struct {
        uint32_t lat, ar2_cycle, first, gap_at; /* gap_at: cycle of beat 16 */
    } cases[] = {{3, 1, 3, 19}, {20, 1, 20, 36}, {20, 10, 20, 36}, {20, 30, 20, 50}};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        qmac_axi_mem_config c = cfg_of(16, cases[k].lat, 1);
        harness h;
        h_open(&h, &c);
        qmac_axi_m2s in;
        qmac_axi_s2m s;
        memset(&in, 0, sizeof in);
        in.rready = true;
        uint32_t beat = 0;
        for (uint32_t t = 0; t < 100; t++) {
            in.arvalid = false;
            if (t == 0)
                set_ar(&in, 0x1000, 16, 1, 16);
            if (t == cases[k].ar2_cycle)
                set_ar(&in, 0x1400, 16, 2, 16);
            h_cycle(&h, &in, &s);
            if (in.arvalid)
                assert_true(s.arready);
            /* hand-derived: beats 0..15 in first..first+15, beats 16..31 from gap_at on */
            bool expect = (t >= cases[k].first && t < cases[k].first + 16) ||
                          (t >= cases[k].gap_at && t < cases[k].gap_at + 16);
            assert_int_equal(s.rvalid, expect);
            if (s.rvalid) {
                uint64_t addr = beat < 16 ? 0x1000 + beat * 16u : 0x1400 + (beat - 16) * 16u;
                assert_int_equal(s.rid, beat < 16 ? 1 : 2);
                assert_int_equal(s.rlast, beat == 15 || beat == 31);
                for (uint32_t j = 0; j < 16; j++)
                    assert_int_equal(s.rdata[j], pattern(addr + j));
                beat++;
            }
        }
        assert_int_equal(beat, 32);
        h_close(&h);
    }
}

/* max_reads = 2, latency 3, three 2-beat bursts A, B, C offered back to back, RREADY high:
 * A accepted in 0, B in 1, ARREADY low while both are outstanding (cycles 2-4: A's last beat
 * handshakes in 4), C accepted in 5. R: A in 3-4, B in 5-6, C at 5 + 3 = 8 and 9 (cycle 7 idle
 * although B ended in 6). ARREADY: low in 6 (B and C outstanding), high from 7 on. */
static void test_axi_mem_max_reads_bounds_arready(void **state)
{
    (void)state;
    qmac_axi_mem_config c = cfg_of(4, 3, 1);
    c.max_reads = 2;
    harness h;
    h_open(&h, &c);
    qmac_axi_m2s in;
    qmac_axi_s2m s;
    memset(&in, 0, sizeof in);
    in.rready = true;
    const bool arready[] = {1, 1, 0, 0, 0, 1, 0, 1, 1, 1, 1, 1};
    const int rid[] = {0, 0, 0, 1, 1, 2, 2, 0, 3, 3, 0, 0}; /* 0: RVALID low */
    uint32_t next = 1;
    for (uint32_t t = 0; t < sizeof arready / sizeof arready[0]; t++) {
        in.arvalid = false;
        if (next <= 3)
            set_ar(&in, 0x1000 + 0x100 * next, 2, next, 4);
        h_cycle(&h, &in, &s);
        assert_int_equal(s.arready, arready[t]);
        assert_int_equal(s.rvalid, rid[t] != 0);
        if (s.rvalid)
            assert_int_equal(s.rid, (uint32_t)rid[t]);
        if (in.arvalid && s.arready)
            next++;
    }
    h_close(&h);
}

/* max_writes = 1: AWREADY low from the AW handshake to the B handshake. */
static void test_axi_mem_max_writes_bounds_awready(void **state)
{
    (void)state;
    qmac_axi_mem_config c = cfg_of(4, 1, 2);
    c.max_writes = 1;
    harness h;
    h_open(&h, &c);
    qmac_axi_m2s in;
    qmac_axi_s2m s;
    memset(&in, 0, sizeof in);
    in.bready = true;
    /* AW1 in 0; W in 1 (last); B in 1 + 2 = 3; AW2 (offered from 1 on) accepted in 4 */
    const bool awready[] = {1, 0, 0, 0, 1, 0};
    const bool wready[] = {0, 1, 0, 0, 0, 1};
    const bool bvalid[] = {0, 0, 0, 1, 0, 0};
    for (uint32_t t = 0; t < 6; t++) {
        in.awvalid = false;
        if (t <= 4) /* AW1 in cycle 0, AW2 offered (and held) from cycle 1 on */
            set_aw(&in, t == 0 ? 0x1000 : 0x1004, 1, t == 0 ? 1 : 2, 4);
        in.wvalid = t == 1 || t == 5;
        in.wlast = true;
        in.wstrb = 0xf;
        h_cycle(&h, &in, &s);
        assert_int_equal(s.awready, awready[t]);
        assert_int_equal(s.wready, wready[t]);
        assert_int_equal(s.bvalid, bvalid[t]);
    }
    h_close(&h);
}

/* The beat presented in cycle 2 (latency 2) is held under RREADY low until cycle 8 while a write
 * to the same bytes handshakes in cycle 3: the held beat keeps the old data; a later read sees
 * the new. */
static void test_axi_mem_rready_low_holds_data(void **state)
{
    (void)state;
    qmac_axi_mem_config c = cfg_of(8, 2, 1);
    harness h;
    h_open(&h, &c);
    qmac_axi_m2s in;
    qmac_axi_s2m s;
    memset(&in, 0, sizeof in);
    set_ar(&in, 0x1100, 1, 3, 8);
    set_aw(&in, 0x1100, 1, 4, 8);
    in.bready = true;
    for (uint32_t t = 0; t <= 8; t++) {
        in.wvalid = t == 3;
        in.wlast = true;
        in.wstrb = 0xff;
        memset(in.wdata, 0xee, 8);
        in.rready = t == 8;
        h_cycle(&h, &in, &s);
        in.arvalid = in.awvalid = false;
        assert_int_equal(s.rvalid, t >= 2);
        if (t == 3)
            assert_true(s.wready);
        if (s.rvalid) {
            assert_int_equal(s.rid, 3);
            for (uint32_t j = 0; j < 8; j++)
                assert_int_equal(s.rdata[j], pattern(0x1100 + j));
        }
    }
    memset(&in, 0, sizeof in);
    h_cycle(&h, &in, &s);
    assert_false(s.rvalid);
    uint8_t data[8];
    uint32_t resp;
    h_read(&h, 0x1100, 1, data, &resp);
    assert_int_equal(resp, QMAC_AXI_RESP_OKAY);
    for (uint32_t j = 0; j < 8; j++)
        assert_int_equal(data[j], 0xee);
    h_close(&h);
}

/* The snapshot edge: reads A (AR in cycle 0) and B (cycle 1) of the same word, latency 3, and a
 * W handshake to it in cycle 3. A's beat, presented in cycle 3, carries the old data; B's,
 * presented in cycle 4, the new. */
static void test_axi_mem_read_sees_write_at_edge(void **state)
{
    (void)state;
    qmac_axi_mem_config c = cfg_of(4, 3, 1);
    harness h;
    h_open(&h, &c);
    qmac_axi_m2s in;
    qmac_axi_s2m s;
    memset(&in, 0, sizeof in);
    set_aw(&in, 0x1020, 1, 0, 4);
    in.rready = in.bready = true;
    for (uint32_t t = 0; t < 6; t++) {
        in.arvalid = t <= 1;
        if (t <= 1)
            set_ar(&in, 0x1020, 1, t + 1, 4);
        in.wvalid = in.wlast = t == 3;
        in.wstrb = 0xf;
        memset(in.wdata, 0x3c, 4);
        h_cycle(&h, &in, &s);
        in.awvalid = false;
        assert_int_equal(s.rvalid, t == 3 || t == 4);
        if (s.rvalid) {
            assert_int_equal(s.rid, t - 2);
            for (uint32_t j = 0; j < 4; j++)
                assert_int_equal(s.rdata[j], t == 3 ? pattern(0x1020 + j) : 0x3c);
        }
    }
    h_close(&h);
}

/* Write then read returns the data; a read whose beats are presented after the write's W
 * handshakes (AR in cycle 1, latency 8; W beats in cycles 1-4) already sees it. */
static void test_axi_mem_write_then_read(void **state)
{
    (void)state;
    qmac_axi_mem_config c = cfg_of(4, 8, 2);
    harness h;
    h_open(&h, &c);
    qmac_axi_m2s in;
    qmac_axi_s2m s;
    uint8_t wd[16];
    for (uint32_t j = 0; j < 16; j++)
        wd[j] = (uint8_t)(0xa0 + j);
    memset(&in, 0, sizeof in);
    set_aw(&in, 0x1200, 4, 1, 4);
    in.rready = in.bready = true;
    uint32_t sent = 0, got = 0;
    for (uint32_t t = 0; t < 16; t++) {
        in.arvalid = false;
        if (t == 1)
            set_ar(&in, 0x1200, 4, 2, 4);
        in.wvalid = t >= 1 && sent < 4;
        if (in.wvalid) {
            memcpy(in.wdata, wd + 4 * sent, 4);
            in.wstrb = 0xf;
            in.wlast = sent == 3;
        }
        h_cycle(&h, &in, &s);
        in.awvalid = false;
        if (in.wvalid) {
            assert_true(s.wready);
            sent++;
        }
        assert_int_equal(s.rvalid, t >= 9 && t < 13);
        if (s.rvalid) {
            assert_memory_equal(s.rdata, wd + 4 * got, 4);
            got++;
        }
        assert_int_equal(s.bvalid, t == 6); /* last W in 4, latency 2 */
    }
    uint8_t rd[16];
    uint32_t resp[4];
    h_read(&h, 0x1200, 4, rd, resp);
    assert_memory_equal(rd, wd, 16);
    uint64_t base;
    uint8_t *d = qmac_axi_mem_data(h.mem, &base, NULL);
    assert_memory_equal(d + (0x1200 - base), wd, 16);
    qmac_axi_mem_stats st;
    qmac_axi_mem_get_stats(h.mem, &st);
    assert_int_equal(st.write_bursts, 1);
    assert_int_equal(st.write_beats, 4);
    assert_int_equal(st.read_bursts, 2);
    assert_int_equal(st.read_beats, 8);
    h_close(&h);
}

static void test_axi_mem_wstrb_masks_bytes(void **state)
{
    (void)state;
    qmac_axi_mem_config c = cfg_of(8, 1, 1);
    harness h;
    h_open(&h, &c);
    uint8_t wd[16];
    memset(wd, 0x55, sizeof wd);
    const uint64_t strb[2] = {0xa5u | 0xff00u /* lanes >= 8 ignored */, 0x0};
    assert_int_equal(h_write(&h, 0x1008, 2, wd, strb), QMAC_AXI_RESP_OKAY);
    uint64_t base;
    const uint8_t *d = qmac_axi_mem_data(h.mem, &base, NULL);
    for (uint32_t j = 0; j < 16; j++) {
        bool on = j < 8 && ((0xa5u >> j) & 1u);
        assert_int_equal(d[0x1008 - base + j], on ? 0x55 : pattern(0x1008 + j));
    }
    /* a 1-byte bus: one lane */
    qmac_axi_mem_config c1 = cfg_of(1, 1, 1);
    harness h1;
    h_open(&h1, &c1);
    const uint64_t strb1[3] = {1, 0, 0xfe};
    assert_int_equal(h_write(&h1, 0x1001, 3, wd, strb1), QMAC_AXI_RESP_OKAY);
    d = qmac_axi_mem_data(h1.mem, &base, NULL);
    assert_int_equal(d[1], 0x55);
    assert_int_equal(d[2], pattern(0x1002));
    assert_int_equal(d[3], pattern(0x1003));
    h_close(&h1);
    h_close(&h);
}

/* AW in cycle 0 with W offered from cycle 0: WREADY is low in cycle 0 (the AW is not accepted
 * yet), so the beats handshake in 1 and 2 (or 1 and 3 with a gap); BVALID exactly in
 * last_w + write_latency, held while BREADY is low. */
static void test_axi_mem_b_after_write_latency(void **state)
{
    (void)state;
    const uint32_t lats[] = {1, 3, 9};
    for (size_t k = 0; k < 3; k++) {
        for (uint32_t gap = 0; gap < 2; gap++) {
            const uint32_t lat = lats[k], last_w = 2 + gap, b_at = last_w + lat, hold = 3;
            qmac_axi_mem_config c = cfg_of(4, 1, lat);
            harness h;
            h_open(&h, &c);
            qmac_axi_m2s in;
            qmac_axi_s2m s;
            memset(&in, 0, sizeof in);
            set_aw(&in, 0x1300, 2, 6, 4);
            uint32_t sent = 0;
            for (uint32_t t = 0; t <= b_at + hold + 1; t++) {
                in.wvalid = sent < 2 && !(gap && t == 2);
                in.wlast = sent == 1;
                in.wstrb = 0xf;
                in.bready = t == b_at + hold;
                h_cycle(&h, &in, &s);
                in.awvalid = false;
                assert_int_equal(s.wready, t >= 1 && t <= last_w);
                if (in.wvalid && s.wready)
                    sent++;
                assert_int_equal(s.bvalid, t >= b_at && t <= b_at + hold);
                if (s.bvalid) {
                    assert_int_equal(s.bid, 6);
                    assert_int_equal(s.bresp, QMAC_AXI_RESP_OKAY);
                }
            }
            assert_true(qmac_axi_mem_idle(h.mem));
            h_close(&h);
        }
    }
}

/* Memory [0x1000, 0x1104): beats wholly inside answer OKAY, the beat at 0x1100 (4 bytes out) and
 * beyond answer SLVERR with zero data, below base too; a write burst with one beat outside answers
 * SLVERR and writes only its inside beat. */
static void test_axi_mem_out_of_range_slverr(void **state)
{
    (void)state;
    qmac_axi_mem_config c = cfg_of(8, 2, 1);
    c.size = 0x104;
    harness h;
    h_open(&h, &c);
    uint8_t rd[32];
    uint32_t resp[4];
    h_read(&h, 0x10f0, 4, rd, resp);
    for (uint32_t b = 0; b < 4; b++) {
        assert_int_equal(resp[b], b < 2 ? QMAC_AXI_RESP_OKAY : QMAC_AXI_RESP_SLVERR);
        for (uint32_t j = 0; j < 8; j++)
            assert_int_equal(rd[8 * b + j], b < 2 ? pattern(0x10f0 + 8 * b + j) : 0);
    }
    h_read(&h, 0xff8, 1, rd, resp); /* below base */
    assert_int_equal(resp[0], QMAC_AXI_RESP_SLVERR);
    for (uint32_t j = 0; j < 8; j++)
        assert_int_equal(rd[j], 0);

    uint8_t wd[16];
    memset(wd, 0x77, sizeof wd);
    assert_int_equal(h_write(&h, 0x10f8, 2, wd, NULL), QMAC_AXI_RESP_SLVERR);
    uint64_t base;
    const uint8_t *d = qmac_axi_mem_data(h.mem, &base, NULL);
    for (uint32_t j = 0; j < 8; j++)
        assert_int_equal(d[0x10f8 - base + j], 0x77);
    for (uint32_t j = 0; j < 4; j++)
        assert_int_equal(d[0x1100 - base + j], pattern(0x1100 + j)); /* the straddling beat is dropped */
    assert_int_equal(h_write(&h, 0x10f0, 1, wd, NULL), QMAC_AXI_RESP_OKAY);
    qmac_axi_mem_stats st;
    qmac_axi_mem_get_stats(h.mem, &st);
    assert_int_equal(st.read_slverr, 3);
    assert_int_equal(st.write_slverr, 1);
    assert_int_equal(st.write_bursts, 2);

    /* a burst running past 2^64 (illegal: it crosses 4 KiB; no checker here) */
    qmac_axi_mem_config top = cfg_of(8, 1, 1);
    top.base = UINT64_MAX - 15;
    top.size = 16;
    qmac_axi_mem *mt;
    assert_int_equal(qmac_axi_mem_create(&top, &mt), QMAC_OK);
    qmac_axi_m2s in;
    qmac_axi_s2m s;
    memset(&in, 0, sizeof in);
    set_ar(&in, UINT64_MAX - 7, 3, 1, 8);
    in.rready = true;
    uint32_t got = 0;
    for (int t = 0; t < 10; t++) {
        qmac_axi_mem_outputs(mt, &s);
        if (s.rvalid) {
            assert_int_equal(s.rresp, got == 0 ? QMAC_AXI_RESP_OKAY : QMAC_AXI_RESP_SLVERR);
            got++;
        }
        qmac_axi_mem_clock(mt, &in);
        in.arvalid = false;
    }
    assert_int_equal(got, 3);
    qmac_axi_mem_free(mt);
    h_close(&h);
}

/* Guard [0x1040, 0x1080): strobed bytes outside are counted (inside memory or not), the writes
 * inside memory still happen, the first address is kept. */
static void test_axi_mem_guard_counts_outside_writes(void **state)
{
    (void)state;
    qmac_axi_mem_config c = cfg_of(8, 1, 1);
    harness h;
    h_open(&h, &c);
    uint8_t wd[16];
    memset(wd, 0x99, sizeof wd);
    assert_int_equal(qmac_axi_mem_set_guard(h.mem, 0x1080, 0x1040), QMAC_ERR_INVALID_ARG);
    assert_int_equal(h_write(&h, 0x1000, 1, wd, NULL), QMAC_AXI_RESP_OKAY); /* no guard yet: not counted */
    assert_int_equal(qmac_axi_mem_set_guard(h.mem, 0x1040, 0x1080), QMAC_OK);
    assert_int_equal(qmac_axi_mem_guard_violations(h.mem), 0);
    h_write(&h, 0x1040, 2, wd, NULL); /* inside */
    const uint64_t strb_hi[1] = {0xf0};
    h_write(&h, 0x1078, 1, wd, strb_hi); /* inside: 0x107c..0x107f */
    assert_int_equal(qmac_axi_mem_guard_violations(h.mem), 0);
    h_write(&h, 0x1038, 1, wd, NULL); /* 8 bytes below */
    assert_int_equal(qmac_axi_mem_guard_violations(h.mem), 8);
    assert_int_equal(qmac_axi_mem_guard_first(h.mem), 0x1038);
    const uint64_t strb_mid[2] = {0x0, 0x0c};
    h_write(&h, 0x1078, 2, wd, strb_mid); /* 0x1082, 0x1083 */
    assert_int_equal(qmac_axi_mem_guard_violations(h.mem), 10);
    const uint64_t strb_one[1] = {0x1};
    assert_int_equal(h_write(&h, 0x5000, 1, wd, strb_one), QMAC_AXI_RESP_SLVERR); /* not in memory */
    assert_int_equal(qmac_axi_mem_guard_violations(h.mem), 11);
    assert_int_equal(qmac_axi_mem_guard_first(h.mem), 0x1038);
    uint64_t base;
    const uint8_t *d = qmac_axi_mem_data(h.mem, &base, NULL);
    assert_int_equal(d[0x1038 - base], 0x99); /* the write still happened */
    assert_int_equal(d[0x1082 - base], 0x99);
    assert_int_equal(d[0x1081 - base], pattern(0x1081));
    /* reset keeps the guard, clears its counters */
    qmac_axi_mem_reset(h.mem);
    qmac_axi_check_reset(h.chk);
    assert_int_equal(qmac_axi_mem_guard_violations(h.mem), 0);
    h_write(&h, 0x1080, 1, wd, strb_one);
    assert_int_equal(qmac_axi_mem_guard_violations(h.mem), 1);
    assert_int_equal(qmac_axi_mem_guard_first(h.mem), 0x1080);
    qmac_axi_mem_clear_guard(h.mem);
    h_write(&h, 0x1080, 1, wd, strb_one);
    assert_int_equal(qmac_axi_mem_guard_violations(h.mem), 0);
    h_close(&h);
}

/* Reset in the middle of a read and a write: ports back to idle, memory kept. */
static void test_axi_mem_reset_keeps_memory(void **state)
{
    (void)state;
    qmac_axi_mem_config c = cfg_of(4, 2, 5);
    harness h;
    h_open(&h, &c);
    uint8_t wd[4] = {1, 2, 3, 4};
    h_write(&h, 0x1000, 1, wd, NULL);
    qmac_axi_m2s in;
    qmac_axi_s2m s;
    memset(&in, 0, sizeof in);
    set_ar(&in, 0x1000, 8, 1, 4);
    set_aw(&in, 0x1010, 2, 1, 4);
    for (int t = 0; t < 3; t++) {
        h_cycle(&h, &in, &s);
        in.arvalid = in.awvalid = false;
    }
    assert_true(s.rvalid);
    assert_false(qmac_axi_mem_idle(h.mem));
    qmac_axi_mem_reset(h.mem);
    qmac_axi_mem_outputs(h.mem, &s);
    assert_true(s.arready && s.awready);
    assert_false(s.rvalid || s.wready || s.bvalid);
    assert_true(qmac_axi_mem_idle(h.mem));
    assert_int_equal(qmac_axi_mem_cycle(h.mem), 0);
    qmac_axi_mem_stats st;
    qmac_axi_mem_get_stats(h.mem, &st);
    assert_int_equal(st.read_beats + st.write_beats + st.cycles, 0);
    const uint8_t *d = qmac_axi_mem_data(h.mem, NULL, NULL);
    assert_memory_equal(d, wd, 4);
    h_close(&h);
}

/* ---------------------------------------------------------------- random master, differential */

typedef struct {
    uint64_t addr;
    uint32_t beats, id, done;
    uint64_t t_ar; /* AR handshake cycle */
} rd_burst;

typedef struct {
    uint64_t addr;
    uint32_t beats, id;
    uint32_t w_sent; /* W beats handshaken */
    bool aw_done, err;
    uint64_t t_last_w;
} wr_burst;

#define RQ_CAP 16
#define WQ_CAP 16

typedef struct {
    qmac_axi_mem_config c;
    uint32_t max_beats;                           /* longest burst the master issues (checker limit) */
    uint32_t p_ar, p_aw, p_w, p_rready, p_bready; /* percent per cycle */
    uint32_t p_oob, p_hot; /* percent of bursts around the memory's ends / in its first 128 bytes */
} rnd_cfg;

static bool in_mem(const qmac_axi_mem_config *c, uint64_t addr)
{
    return addr >= c->base && addr - c->base < c->size && c->size - (addr - c->base) >= c->beat_bytes;
}

/* A legal random burst: aligned, INCR, within 4 KiB, mostly inside memory. */
static void random_burst(const rnd_cfg *r, uint64_t *addr, uint32_t *beats)
{
    const qmac_axi_mem_config *c = &r->c;
    const uint32_t bb = c->beat_bytes;
    uint64_t lo = c->base, span = c->size;
    if (chance(r->p_hot)) { /* reads and writes to the same bytes, many in flight together */
        span = c->size < 128 ? c->size : 128;
    } else if (chance(r->p_oob)) { /* around the ends */
        lo = c->base > 256 ? c->base - 256 : 0;
        span = c->size + 512;
    }
    uint64_t a = (lo + splitmix64() % span) & ~(uint64_t)(bb - 1u);
    uint32_t n = chance(50) ? 1 + urand(r->max_beats) : 1 + urand(r->max_beats < 4 ? r->max_beats : 4);
    uint32_t room = (uint32_t)((QMAC_AXI_BOUNDARY - (a & (QMAC_AXI_BOUNDARY - 1u))) / bb);
    *addr = a;
    *beats = n < room ? n : room;
}

static void run_random_master(const rnd_cfg *r, uint64_t cycles, uint64_t seed, int case_no)
{
    const qmac_axi_mem_config *c = &r->c;
    const uint32_t bb = c->beat_bytes;
    qmac_axi_mem *mem;
    qmac_axi_check *chk;
    assert_int_equal(qmac_axi_mem_create(c, &mem), QMAC_OK);
    assert_int_equal(qmac_axi_check_create(bb, r->max_beats, &chk), QMAC_OK);
    uint8_t *shadow = malloc((size_t)c->size);
    assert_non_null(shadow);
    uint8_t *d = qmac_axi_mem_data(mem, NULL, NULL);
    for (uint64_t i = 0; i < c->size; i++)
        d[i] = shadow[i] = (uint8_t)splitmix64();

    rd_burst rq[RQ_CAP];
    wr_burst wq[WQ_CAP];
    uint32_t rq_n = 0, wq_n = 0; /* rq: AR-accepted bursts; wq: AW offered or accepted, no B yet */
    qmac_axi_m2s in;
    memset(&in, 0, sizeof in);
    qmac_axi_s2m s;
    bool r_seen = false; /* the presented R beat was already compared */
    uint64_t n_rbeats = 0, n_wbeats = 0, n_rbursts = 0, n_wbursts = 0;
    char err[512];
    uint64_t t = 0;
    for (;; t++) {
        const bool issuing = t < cycles;
        if (!issuing && rq_n == 0 && wq_n == 0 && !in.arvalid)
            break;
        assert_true(t < cycles + 100000); /* drains */
        qmac_axi_mem_outputs(mem, &s);

        /* -- the timing rules restated: every port as predicted */
        uint32_t w_target = wq_n; /* oldest AW-accepted burst lacking W beats */
        for (uint32_t i = 0; i < wq_n; i++) {
            if (wq[i].aw_done && wq[i].w_sent < wq[i].beats) {
                w_target = i;
                break;
            }
        }
        uint32_t writes_out = wq_n - (wq_n && !wq[wq_n - 1].aw_done);
        bool e_rvalid = rq_n && (rq[0].done > 0 || t >= rq[0].t_ar + c->read_latency);
        bool e_bvalid =
            wq_n && wq[0].aw_done && wq[0].w_sent == wq[0].beats && t >= wq[0].t_last_w + c->write_latency;
        if (s.arready != (rq_n < c->max_reads) || s.awready != (writes_out < c->max_writes) ||
            s.wready != (w_target < wq_n) || s.rvalid != e_rvalid || s.bvalid != e_bvalid) {
            print_error("case %d cycle %" PRIu64
                        ": ports ar %d aw %d w %d r %d b %d, expected %d %d %d %d %d "
                        "(seed %" PRIu64 ")\n",
                        case_no, t, s.arready, s.awready, s.wready, s.rvalid, s.bvalid, rq_n < c->max_reads,
                        writes_out < c->max_writes, w_target < wq_n, e_rvalid, e_bvalid, seed);
            fail();
        }
        if (s.rvalid && !r_seen) { /* first cycle of this beat: the shadow as of now */
            uint64_t a = rq[0].addr + (uint64_t)rq[0].done * bb;
            bool ok = in_mem(c, a);
            assert_int_equal(s.rid, rq[0].id);
            assert_int_equal(s.rlast, rq[0].done + 1 == rq[0].beats);
            assert_int_equal(s.rresp, ok ? QMAC_AXI_RESP_OKAY : QMAC_AXI_RESP_SLVERR);
            for (uint32_t j = 0; j < bb; j++) {
                uint8_t e = ok ? shadow[a - c->base + j] : 0;
                if (s.rdata[j] != e) {
                    print_error("case %d cycle %" PRIu64 ": read 0x%" PRIx64
                                " lane %u = 0x%02x, expected 0x%02x"
                                " (seed %" PRIu64 ")\n",
                                case_no, t, a, j, s.rdata[j], e, seed);
                    fail();
                }
            }
            r_seen = true;
        }
        if (s.bvalid) {
            assert_int_equal(s.bid, wq[0].id);
            assert_int_equal(s.bresp, wq[0].err ? QMAC_AXI_RESP_SLVERR : QMAC_AXI_RESP_OKAY);
        }

        /* -- the master's ports: a held request stays, a new one comes at random */
        if (!in.arvalid && issuing && chance(r->p_ar)) {
            uint64_t a;
            uint32_t n;
            random_burst(r, &a, &n);
            set_ar(&in, a, n, urand(16), bb);
        }
        if (!in.awvalid && issuing && wq_n < WQ_CAP && chance(r->p_aw)) {
            uint64_t a;
            uint32_t n;
            random_burst(r, &a, &n);
            set_aw(&in, a, n, urand(16), bb);
            wr_burst *w = &wq[wq_n++];
            memset(w, 0, sizeof *w);
            w->addr = a;
            w->beats = n;
            w->id = in.awid;
        }
        const bool aw_hs = in.awvalid && s.awready;
        if (!in.wvalid) {
            /* next beat: for a burst whose AW handshook earlier or does so now */
            uint32_t i = 0;
            while (i < wq_n && wq[i].aw_done && wq[i].w_sent == wq[i].beats)
                i++;
            if (i < wq_n && (wq[i].aw_done || (aw_hs && i == wq_n - 1)) && chance(r->p_w)) {
                in.wvalid = true;
                for (uint32_t j = 0; j < bb; j++)
                    in.wdata[j] = (uint8_t)splitmix64();
                in.wstrb = chance(70) ? UINT64_MAX : splitmix64();
                in.wlast = wq[i].w_sent + 1 == wq[i].beats;
            }
        }
        in.rready = chance(r->p_rready);
        in.bready = chance(r->p_bready);

        if (qmac_axi_check_cycle(chk, &in, &s, err, sizeof err) != 0) {
            print_error("case %d: checker: %s (seed %" PRIu64 ")\n", case_no, err, seed);
            fail();
        }
        qmac_axi_mem_clock(mem, &in);

        /* -- handshakes of this cycle, in the master's books (order as in the model) */
        if (s.rvalid && in.rready) {
            n_rbeats++;
            r_seen = false;
            if (++rq[0].done == rq[0].beats) {
                memmove(rq, rq + 1, (rq_n - 1) * sizeof *rq);
                rq_n--;
                n_rbursts++;
            }
        }
        if (in.arvalid && s.arready) {
            assert_true(rq_n < RQ_CAP);
            rq[rq_n].addr = in.araddr;
            rq[rq_n].beats = in.arlen + 1;
            rq[rq_n].id = in.arid;
            rq[rq_n].done = 0;
            rq[rq_n].t_ar = t;
            rq_n++;
            in.arvalid = false;
        }
        if (s.bvalid && in.bready) {
            memmove(wq, wq + 1, (wq_n - 1) * sizeof *wq);
            wq_n--;
            n_wbursts++;
        }
        if (in.wvalid && s.wready) {
            wr_burst *w = NULL;
            for (uint32_t i = 0; i < wq_n && !w; i++)
                if (wq[i].aw_done && wq[i].w_sent < wq[i].beats)
                    w = &wq[i];
            assert_non_null(w);
            uint64_t a = w->addr + (uint64_t)w->w_sent * bb;
            if (in_mem(c, a)) {
                for (uint32_t j = 0; j < bb; j++)
                    if ((in.wstrb >> j) & 1u)
                        shadow[a - c->base + j] = in.wdata[j];
            } else {
                w->err = true;
            }
            if (++w->w_sent == w->beats)
                w->t_last_w = t;
            n_wbeats++;
            in.wvalid = false;
        }
        if (aw_hs) {
            wq[wq_n - 1].aw_done = true;
            in.awvalid = false;
        }
    }
    assert_memory_equal(d, shadow, (size_t)c->size);
    qmac_axi_mem_stats st;
    qmac_axi_mem_get_stats(mem, &st);
    assert_int_equal(st.cycles, t);
    assert_int_equal(st.read_beats, n_rbeats);
    assert_int_equal(st.write_beats, n_wbeats);
    assert_int_equal(st.read_bursts, n_rbursts);
    assert_int_equal(st.write_bursts, n_wbursts);
    assert_int_equal(qmac_axi_check_errors(chk), 0);
    free(shadow);
    qmac_axi_check_free(chk);
    qmac_axi_mem_free(mem);
}

static void test_axi_mem_random_master_differential(void **state)
{
    (void)state;
    uint64_t seed = seed_from_env("test_axi_mem_random_master_differential");
    g_rng = seed;
    static const uint32_t beat_choices[] = {1, 2, 4, 8, 16, 32, 64};
    static const uint32_t len_choices[] = {1, 2, 4, 16, 64, 256};
    for (int k = 0; k < 300; k++) {
        rnd_cfg r;
        memset(&r, 0, sizeof r);
        r.c.beat_bytes = beat_choices[urand(7)];
        r.c.base = 0x10000 + (uint64_t)urand(64) * r.c.beat_bytes * (chance(50) ? 1u : 64u);
        r.c.size = chance(10) ? 1 + urand(300) : 1 + urand(16384);
        r.c.read_latency = chance(20) ? 1 : 1 + urand(chance(20) ? 60 : 8);
        r.c.write_latency = chance(20) ? 1 : 1 + urand(chance(20) ? 60 : 8);
        r.c.max_reads = 1 + urand(4);
        r.c.max_writes = 1 + urand(4);
        r.max_beats = len_choices[urand(6)];
        /* every other case at full throttle, the rest with random gaps */
        bool fast = k % 2 == 0;
        r.p_ar = fast ? 100 : 5 + urand(60);
        r.p_aw = fast ? 100 : 5 + urand(60);
        r.p_w = fast ? 100 : 20 + urand(80);
        r.p_rready = fast ? 100 : 20 + urand(80);
        r.p_bready = fast ? 100 : 20 + urand(80);
        r.p_oob = urand(3) == 0 ? 10 : 0;
        r.p_hot = urand(3) == 0 ? 50 : 0;
        run_random_master(&r, 8000, seed, k);
    }
}

/* ---------------------------------------------------------------- checker negatives */

typedef struct {
    qmac_axi_check *chk;
    qmac_axi_m2s m;
    qmac_axi_s2m s;
    uint32_t cycle;
} ck;

static void ck_open(ck *k)
{
    memset(k, 0, sizeof *k);
    assert_int_equal(qmac_axi_check_create(8, 16, &k->chk), QMAC_OK);
}

/* One cycle that must be clean. */
static void ck_ok(ck *k)
{
    char err[512] = "";
    if (qmac_axi_check_cycle(k->chk, &k->m, &k->s, err, sizeof err) != 0) {
        print_error("unexpected violation: %s\n", err);
        fail();
    }
    k->cycle++;
}

/* One cycle that must report exactly one violation, of `rule` on channel `chan`; then the
 * checker is freed. */
static void ck_bad(ck *k, const char *chan, const char *rule)
{
    char err[512] = "", want_chan[64], want_rule[64];
    int n = qmac_axi_check_cycle(k->chk, &k->m, &k->s, err, sizeof err);
    snprintf(want_chan, sizeof want_chan, "cycle %u: %s: ", k->cycle, chan);
    snprintf(want_rule, sizeof want_rule, "[%s]", rule);
    if (n != 1 || !strstr(err, want_chan) || !strstr(err, want_rule)) {
        print_error("expected one %s %s violation in cycle %u, got %d: '%s'\n", chan, rule, k->cycle, n, err);
        fail();
    }
    assert_int_equal(qmac_axi_check_errors(k->chk), 1);
    qmac_axi_check_free(k->chk);
    k->chk = NULL;
}

/* A new checker after a clean AR handshake (`beats` beats, ARID id), both sides idle: R may come. */
static void ck_open_with_ar(ck *k, uint32_t beats, uint32_t id)
{
    ck_open(k);
    set_ar(&k->m, 0x100, beats, id, 8);
    k->s.arready = true;
    ck_ok(k);
    memset(&k->m, 0, sizeof k->m);
    memset(&k->s, 0, sizeof k->s);
}

/* A new checker after a clean AW handshake (`beats` beats, AWID 2), WREADY high: W may come. */
static void ck_open_with_aw(ck *k, uint32_t beats)
{
    ck_open(k);
    set_aw(&k->m, 0x100, beats, 2, 8);
    k->s.awready = true;
    ck_ok(k);
    memset(&k->m, 0, sizeof k->m);
    memset(&k->s, 0, sizeof k->s);
    k->s.wready = true;
}

/* A new checker after a clean one-beat write (AWID 2), both sides idle: B may come. */
static void ck_open_with_w(ck *k)
{
    ck_open_with_aw(k, 1);
    k->m.wvalid = k->m.wlast = true;
    ck_ok(k);
    memset(&k->m, 0, sizeof k->m);
    memset(&k->s, 0, sizeof k->s);
}

static void test_axi_mem_check_valid_dropped(void **state)
{
    (void)state;
    ck k;
    ck_open(&k); /* AR held without ARREADY, then dropped */
    set_ar(&k.m, 0x100, 2, 0, 8);
    ck_ok(&k);
    k.m.arvalid = false;
    ck_bad(&k, "AR", "valid-stable");

    ck_open(&k);
    set_aw(&k.m, 0x100, 2, 0, 8);
    ck_ok(&k);
    k.m.awvalid = false;
    ck_bad(&k, "AW", "valid-stable");

    ck_open(&k); /* W accepted AW first, then a beat held and dropped */
    set_aw(&k.m, 0x100, 2, 0, 8);
    k.s.awready = true;
    ck_ok(&k);
    memset(&k.m, 0, sizeof k.m);
    k.s.awready = false;
    k.m.wvalid = true;
    ck_ok(&k);
    k.m.wvalid = false;
    ck_bad(&k, "W", "valid-stable");

    ck_open_with_ar(&k, 2, 0); /* R presented, RREADY low, dropped */
    k.s.rvalid = true;
    ck_ok(&k);
    k.s.rvalid = false;
    ck_bad(&k, "R", "valid-stable");

    ck_open_with_w(&k); /* B presented after a full write, BREADY low, dropped */
    k.s.bvalid = true;
    k.s.bid = 2;
    ck_ok(&k);
    k.s.bvalid = false;
    ck_bad(&k, "B", "valid-stable");
}

static void test_axi_mem_check_payload_changed(void **state)
{
    (void)state;
    ck k;
    ck_open(&k);
    set_ar(&k.m, 0x100, 2, 0, 8);
    ck_ok(&k);
    k.m.araddr = 0x108;
    ck_bad(&k, "AR", "payload-stable");

    ck_open(&k);
    set_aw(&k.m, 0x100, 2, 0, 8);
    ck_ok(&k);
    k.m.awid = 1;
    ck_bad(&k, "AW", "payload-stable");

    ck_open(&k);
    set_aw(&k.m, 0x100, 2, 0, 8);
    k.s.awready = true;
    ck_ok(&k);
    memset(&k.m, 0, sizeof k.m);
    k.s.awready = false;
    k.m.wvalid = true;
    k.m.wstrb = 0xff | 0xff00; /* bits beyond the 8 lanes may change freely */
    ck_ok(&k);
    k.m.wstrb = 0xff;
    ck_ok(&k);
    k.m.wdata[7] = 1;
    ck_bad(&k, "W", "payload-stable");

    ck_open_with_ar(&k, 2, 0);
    k.s.rvalid = true;
    k.s.rdata[8] = 5; /* lane 8 of an 8-byte bus: ignored */
    ck_ok(&k);
    k.s.rdata[0] = 5;
    ck_bad(&k, "R", "payload-stable");

    ck_open_with_w(&k);
    k.s.bvalid = true;
    k.s.bid = 2;
    ck_ok(&k);
    k.s.bresp = QMAC_AXI_RESP_SLVERR;
    ck_bad(&k, "B", "payload-stable");
}

static void test_axi_mem_check_bad_requests(void **state)
{
    (void)state;
    const struct {
        uint64_t addr;
        uint32_t beats, size, burst;
        const char *rule;
    } cases[] = {
        {0x104, 1, 3, 1, "align"},    {0xff8, 2, 3, 1, "4k"},         {0xf88, 16, 3, 1, "4k"},
        {0x100, 1, 2, 1, "size"},     {0x100, 1, 3, 0, "burst-type"}, {0x100, 1, 3, 2, "burst-type"},
        {0x100, 17, 3, 1, "max-len"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        for (int aw = 0; aw < 2; aw++) {
            ck k;
            ck_open(&k);
            ck_ok(&k);
            if (aw) {
                set_aw(&k.m, cases[i].addr, cases[i].beats, 0, 8);
                k.m.awsize = cases[i].size;
                k.m.awburst = cases[i].burst;
            } else {
                set_ar(&k.m, cases[i].addr, cases[i].beats, 0, 8);
                k.m.arsize = cases[i].size;
                k.m.arburst = cases[i].burst;
            }
            ck_bad(&k, aw ? "AW" : "AR", cases[i].rule);
        }
    }
    /* the largest legal burst: 16 beats ending exactly on the boundary */
    ck k;
    ck_open(&k);
    set_ar(&k.m, 0x1f80, 16, 0, 8);
    ck_ok(&k);
    assert_int_equal(qmac_axi_check_errors(k.chk), 0);
    qmac_axi_check_free(k.chk);
}

/* AW of `beats` handshaken in cycle 0; the caller continues with W beats. */
static void test_axi_mem_check_bad_w(void **state)
{
    (void)state;
    ck k;
    ck_open_with_aw(&k, 2); /* WLAST on beat 1 of 2 */
    k.m.wvalid = k.m.wlast = true;
    ck_bad(&k, "W", "wlast");

    ck_open_with_aw(&k, 2); /* no WLAST on beat 2 of 2 */
    k.m.wvalid = true;
    ck_ok(&k);
    ck_bad(&k, "W", "wlast");

    ck_open_with_aw(&k, 1); /* a second beat for a 1-beat burst */
    k.m.wvalid = k.m.wlast = true;
    ck_ok(&k);
    ck_bad(&k, "W", "w-without-aw");

    ck_open(&k); /* W ahead of its AW */
    k.m.wvalid = k.m.wlast = true;
    ck_bad(&k, "W", "w-without-aw");

    ck_open(&k); /* W in the cycle of its AW handshake is fine */
    set_aw(&k.m, 0x100, 1, 0, 8);
    k.s.awready = true;
    k.m.wvalid = k.m.wlast = true;
    ck_ok(&k);
    k.m.awvalid = false;
    k.s.wready = true;
    ck_ok(&k);
    assert_int_equal(qmac_axi_check_errors(k.chk), 0);
    qmac_axi_check_free(k.chk);
}

static void test_axi_mem_check_bad_responses(void **state)
{
    (void)state;
    ck k;
    ck_open(&k); /* R with nothing outstanding */
    k.s.rvalid = true;
    ck_bad(&k, "R", "r-unexpected");

    ck_open(&k); /* R in the cycle of its AR handshake */
    set_ar(&k.m, 0x100, 1, 4, 8);
    k.s.arready = true;
    k.s.rvalid = k.s.rlast = true;
    k.s.rid = 4;
    ck_bad(&k, "R", "r-unexpected");

    ck_open_with_ar(&k, 1, 4); /* wrong RID */
    k.s.rvalid = k.s.rlast = true;
    k.s.rid = 5;
    ck_bad(&k, "R", "rid");

    ck_open_with_ar(&k, 2, 4); /* RLAST early */
    k.s.rvalid = k.s.rlast = true;
    k.s.rid = 4;
    ck_bad(&k, "R", "rlast");

    ck_open_with_ar(&k, 2, 4); /* RLAST missing on the last beat */
    k.m.rready = true;
    k.s.rvalid = true;
    k.s.rid = 4;
    ck_ok(&k);
    ck_bad(&k, "R", "rlast");

    ck_open(&k); /* B with no write at all */
    k.s.bvalid = true;
    ck_bad(&k, "B", "b-unexpected");

    ck_open_with_aw(&k, 2); /* B after 1 of 2 W beats */
    k.m.wvalid = true;
    ck_ok(&k);
    memset(&k.m, 0, sizeof k.m);
    k.s.wready = false;
    k.s.bvalid = true;
    k.s.bid = 2;
    ck_bad(&k, "B", "b-unexpected");

    ck_open_with_aw(&k, 1); /* B in the cycle of the last W handshake */
    k.m.wvalid = k.m.wlast = true;
    k.s.bvalid = true;
    k.s.bid = 2;
    ck_bad(&k, "B", "b-unexpected");

    ck_open_with_w(&k); /* wrong BID */
    k.s.bvalid = true;
    k.s.bid = 7;
    ck_bad(&k, "B", "bid");
}

/* Several violations in one cycle are all counted and joined; checking goes on afterwards. */
static void test_axi_mem_check_keeps_counting(void **state)
{
    (void)state;
    ck k;
    ck_open(&k);
    set_ar(&k.m, 0x104, 1, 0, 8);
    k.m.arburst = 2;
    k.m.rready = true;
    k.s.rvalid = true;
    char err[512];
    assert_int_equal(qmac_axi_check_cycle(k.chk, &k.m, &k.s, err, sizeof err), 3);
    assert_non_null(strstr(err, "[burst-type]; cycle 0: AR: "));
    assert_non_null(strstr(err, "[r-unexpected]"));
    char tiny[8];
    k.s.rvalid = false;
    k.m.arvalid = false;
    assert_int_equal(qmac_axi_check_cycle(k.chk, &k.m, &k.s, tiny, sizeof tiny), 1); /* AR dropped */
    assert_int_equal(strlen(tiny), sizeof tiny - 1);
    assert_int_equal(qmac_axi_check_cycle(k.chk, &k.m, &k.s, NULL, 0), 0);
    assert_int_equal(qmac_axi_check_errors(k.chk), 4);
    qmac_axi_check_reset(k.chk);
    assert_int_equal(qmac_axi_check_errors(k.chk), 0);
    qmac_axi_check_free(k.chk);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_axi_mem_create_bad_config),
        cmocka_unit_test(test_axi_mem_read_latency_single_beat),
        cmocka_unit_test(test_axi_mem_read_back_to_back_bursts),
        cmocka_unit_test(test_axi_mem_max_reads_bounds_arready),
        cmocka_unit_test(test_axi_mem_max_writes_bounds_awready),
        cmocka_unit_test(test_axi_mem_rready_low_holds_data),
        cmocka_unit_test(test_axi_mem_read_sees_write_at_edge),
        cmocka_unit_test(test_axi_mem_write_then_read),
        cmocka_unit_test(test_axi_mem_wstrb_masks_bytes),
        cmocka_unit_test(test_axi_mem_b_after_write_latency),
        cmocka_unit_test(test_axi_mem_out_of_range_slverr),
        cmocka_unit_test(test_axi_mem_guard_counts_outside_writes),
        cmocka_unit_test(test_axi_mem_reset_keeps_memory),
        cmocka_unit_test(test_axi_mem_random_master_differential),
        cmocka_unit_test(test_axi_mem_check_valid_dropped),
        cmocka_unit_test(test_axi_mem_check_payload_changed),
        cmocka_unit_test(test_axi_mem_check_bad_requests),
        cmocka_unit_test(test_axi_mem_check_bad_w),
        cmocka_unit_test(test_axi_mem_check_bad_responses),
        cmocka_unit_test(test_axi_mem_check_keeps_counting),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
