/* array_main.c - differential test of the Verilated qmac_array against its cycle-exact C model.
 *
 * Every cycle of every case: the same inputs go to the RTL (through the qsim shim) and to the
 * model (qmac_array_model_*); before the clock edge all outputs are compared, out_valid and every
 * column of out_o, invalid cycles included (they must carry zeros). For legal schedules the
 * model's results are also checked against the contract's arithmetic (array_stim.c). The array
 * shape is read from the port widths of the Verilated top, so one source serves every build.
 *
 * The first mismatch stops the run: it prints the seed, the shape, the case, the cycle, the port
 * and column, both values and the command that reproduces it, then replays that case from reset
 * on a fresh model with tracing on and prints the FST's path.
 *
 * --bench measures cycles per second of the Verilated array alone (poke, tick, peek; no model) and
 * of the C model alone, on the same precomputed full-rate stream (both modes). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "array_stim.h"
#include "qmac/mac_array.h"
#include "qsim.h"
#include "simctl.h"

/* default --cases: 3 in 4 legal schedules, 1 in 4 fully random */
#define DEFAULT_CASES 1000u
#define RESET_CYCLES 2u
#define MAX_TILES_PER_CASE 10u
/* words of the widest port: out_o / acc_i, QMAC_ARRAY_MAX_DIM columns of 32 bits */
#define MAX_WORDS QMAC_ARRAY_MAX_DIM

/* Port ids and widths of the top, looked up once by name. */
typedef struct {
    int act_valid, act_swap, act_bin, act_signed, act_zp, act_acc, act;
    int wgt_valid, wgt_row, wgt_signed, wgt, wgt_zp, acc;
    int out_valid, out;
} array_ports;

typedef struct {
    simctl *c;
    qmac_array_model *m;
    array_ports p;
    uint32_t rows, cols;
    uint32_t row_mask; /* wgt_row_i keeps these bits */
    char shape[32];    /* "16x16" */
} harness;

typedef enum { MM_NONE = 0, MM_RTL_VS_MODEL, MM_MODEL_VS_SPEC } mm_kind;

/* The first difference found in a case. */
typedef struct {
    mm_kind kind;
    uint32_t cycle;  /* cycle of the case (0 = first cycle after reset) */
    uint64_t qcycle; /* the same cycle counted by the simulator since it was created */
    const char *port;
    int32_t column; /* -1 for out_valid */
    int32_t expected, actual;
    uint32_t differing; /* columns that differ in that cycle */
} mismatch;

static qmac_status find_ports(harness *h)
{
    uint32_t w_act = 0, w_wgt = 0, w_zp = 0, w_acc = 0, w_out = 0, w_row = 0;
    struct {
        const char *name;
        qsim_dir dir;
        int *id;
        uint32_t *width;
    } want[] = {
        {"act_valid_i", QSIM_IN, &h->p.act_valid, NULL}, {"act_swap_i", QSIM_IN, &h->p.act_swap, NULL},
        {"act_bin_i", QSIM_IN, &h->p.act_bin, NULL},     {"act_signed_i", QSIM_IN, &h->p.act_signed, NULL},
        {"act_zp_i", QSIM_IN, &h->p.act_zp, NULL},       {"act_acc_i", QSIM_IN, &h->p.act_acc, NULL},
        {"act_i", QSIM_IN, &h->p.act, &w_act},           {"wgt_valid_i", QSIM_IN, &h->p.wgt_valid, NULL},
        {"wgt_row_i", QSIM_IN, &h->p.wgt_row, &w_row},   {"wgt_signed_i", QSIM_IN, &h->p.wgt_signed, NULL},
        {"wgt_i", QSIM_IN, &h->p.wgt, &w_wgt},           {"wgt_zp_i", QSIM_IN, &h->p.wgt_zp, &w_zp},
        {"acc_i", QSIM_IN, &h->p.acc, &w_acc},           {"out_valid_o", QSIM_OUT, &h->p.out_valid, NULL},
        {"out_o", QSIM_OUT, &h->p.out, &w_out},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        qmac_status st = qsim_port_find(want[i].name, want[i].dir, want[i].id, want[i].width);
        if (st != QMAC_OK) {
            return st;
        }
    }
    h->rows = w_act / 8;
    h->cols = w_out / 32;
    if (w_act % 8 || w_out % 32 || h->rows < 1 || h->cols < 1 || h->rows > QMAC_ARRAY_MAX_DIM ||
        h->cols > QMAC_ARRAY_MAX_DIM || w_wgt != 8 * h->cols || w_zp != 8 * h->cols ||
        w_acc != 32 * h->cols) {
        return qmac_set_error(QMAC_ERR_INTERNAL,
                              "%s: port widths act %u, wgt %u, wgt_zp %u, acc %u, out %u do not "
                              "describe a rows x cols array",
                              qsim_top_name(), w_act, w_wgt, w_zp, w_acc, w_out);
    }
    h->row_mask = w_row >= 32 ? UINT32_MAX : (1u << w_row) - 1u;
    snprintf(h->shape, sizeof h->shape, "%ux%u", h->rows, h->cols);
    return QMAC_OK;
}

/* ---------------------------------------------------------------------------------------------
 * Driving the ports
 * ------------------------------------------------------------------------------------------- */

static void pack_bytes(const uint8_t *b, uint32_t n, uint32_t *w)
{
    memset(w, 0, sizeof *w * QSIM_WORDS(8 * n));
    for (uint32_t i = 0; i < n; i++) {
        w[i / 4] |= (uint32_t)b[i] << (8 * (i % 4));
    }
}

static void drive(const harness *h, qsim *s, const qmac_array_in *in)
{
    uint32_t w[MAX_WORDS];
    qsim_poke32(s, h->p.act_valid, in->act_valid);
    qsim_poke32(s, h->p.act_swap, in->act_swap);
    qsim_poke32(s, h->p.act_bin, in->act_bin);
    qsim_poke32(s, h->p.act_signed, in->act_signed);
    qsim_poke32(s, h->p.act_zp, in->act_zp);
    qsim_poke32(s, h->p.act_acc, in->act_acc);
    pack_bytes(in->act, h->rows, w);
    qsim_poke(s, h->p.act, w);
    qsim_poke32(s, h->p.wgt_valid, in->wgt_valid);
    qsim_poke32(s, h->p.wgt_row, in->wgt_row); /* the shim keeps the port's low bits */
    qsim_poke32(s, h->p.wgt_signed, in->wgt_signed);
    pack_bytes(in->wgt, h->cols, w);
    qsim_poke(s, h->p.wgt, w);
    pack_bytes(in->wgt_zp, h->cols, w);
    qsim_poke(s, h->p.wgt_zp, w);
    for (uint32_t c = 0; c < h->cols; c++) {
        w[c] = (uint32_t)in->acc[c];
    }
    qsim_poke(s, h->p.acc, w);
}

static void read_outputs(const harness *h, const qsim *s, qmac_array_out *o)
{
    uint32_t w[MAX_WORDS];
    qsim_peek(s, h->p.out_valid, w);
    o->valid = w[0] & 1u;
    qsim_peek(s, h->p.out, w);
    for (uint32_t c = 0; c < h->cols; c++) {
        o->out[c] = (int32_t)w[c];
    }
}

/* ---------------------------------------------------------------------------------------------
 * One case
 * ------------------------------------------------------------------------------------------- */

/* Compare RTL and model outputs in one cycle (and the model with the spec where there is one). */
static bool compare(const harness *h, const array_stim *st, uint32_t i, const qmac_array_out *rtl,
                    const qmac_array_out *mod, mismatch *mm)
{
    mm->differing = 0;
    for (uint32_t c = 0; c < h->cols; c++) {
        mm->differing += rtl->out[c] != mod->out[c];
    }
    if (rtl->valid != mod->valid || mm->differing) {
        mm->kind = MM_RTL_VS_MODEL;
        mm->cycle = i;
        if (rtl->valid != mod->valid) {
            mm->port = "out_valid_o";
            mm->column = -1;
            mm->expected = mod->valid;
            mm->actual = rtl->valid;
            return false;
        }
        mm->port = "out_o";
        for (uint32_t c = 0; c < h->cols; c++) {
            if (rtl->out[c] != mod->out[c]) {
                mm->column = (int32_t)c;
                mm->expected = mod->out[c];
                mm->actual = rtl->out[c];
                return false;
            }
        }
    }
    if (st->expect[i]) {
        const int32_t *e = &st->exp[(size_t)i * h->cols];
        for (uint32_t c = 0; c < h->cols; c++) {
            mm->differing += mod->out[c] != e[c];
        }
        if (!mod->valid || mm->differing) {
            mm->kind = MM_MODEL_VS_SPEC;
            mm->cycle = i;
            mm->port = mod->valid ? "out_o" : "out_valid_o";
            mm->column = -1;
            mm->expected = 1;
            mm->actual = mod->valid;
            for (uint32_t c = 0; mod->valid && c < h->cols; c++) {
                if (mod->out[c] != e[c]) {
                    mm->column = (int32_t)c;
                    mm->expected = e[c];
                    mm->actual = mod->out[c];
                    break;
                }
            }
            return false;
        }
    } else if (st->kind == ARRAY_STIM_LEGAL && mod->valid) {
        /* a legal schedule has results exactly LATENCY cycles after its vectors, nowhere else */
        mm->kind = MM_MODEL_VS_SPEC;
        mm->cycle = i;
        mm->port = "out_valid_o";
        mm->column = -1;
        mm->expected = 0;
        mm->actual = 1;
        return false;
    }
    return true;
}

/* Reset RTL and model, then run the case. Returns SIMCTL_PASS, SIMCTL_MISMATCH (mm filled) or
 * SIMCTL_TIMEOUT. */
static simctl_rc run_case(harness *h, const array_stim *st, mismatch *mm)
{
    simctl *c = h->c;
    qsim *s = c->sim;
    qmac_array_out rtl, mod;
    simctl_reset(c, RESET_CYCLES);
    qmac_array_model_reset(h->m);
    bool in_reset = false;
    for (uint32_t i = 0; i <= st->n; i++) {
        const bool rst = i < st->n && st->rst[i];
        if (rst != in_reset) {
            simctl_set_reset(c, rst);
            in_reset = rst;
        }
        read_outputs(h, s, &rtl);
        qmac_array_model_outputs(h->m, &mod);
        if (!compare(h, st, i, &rtl, &mod, mm)) {
            mm->qcycle = qsim_cycle(s);
            return SIMCTL_MISMATCH;
        }
        if (i == st->n) {
            break;
        }
        drive(h, s, &st->in[i]);
        if (!simctl_tick(c)) {
            return SIMCTL_TIMEOUT;
        }
        if (rst) {
            qmac_array_model_reset(h->m); /* synchronous reset: this edge clears every register */
        } else {
            qmac_array_model_clock(h->m, &st->in[i]);
        }
    }
    if (in_reset) {
        simctl_set_reset(c, false);
    }
    return SIMCTL_PASS;
}

/* The stimulus of case k: its own seed, so --case k regenerates it alone. */
static qmac_status make_case(const harness *h, uint64_t k, array_stim *st)
{
    simctl_rng rng;
    simctl_rng_seed(&rng, simctl_case_seed(h->c->seed, k));
    if (simctl_rng_chance(&rng, 1, 4)) {
        return array_stim_random(st, &rng, 32 + simctl_rng_below(&rng, 12 * (h->rows + h->cols)));
    }
    return array_stim_legal(st, &rng, MAX_TILES_PER_CASE);
}

static void print_inputs(const harness *h, const qmac_array_in *in, uint32_t cycle, bool rst)
{
    printf("    cycle %u inputs:%s act_valid %d swap %d bin %d signed %d acc %d zp 0x%02x act", cycle,
           rst ? " [reset]" : "", in->act_valid, in->act_swap, in->act_bin, in->act_signed, in->act_acc,
           in->act_zp);
    for (uint32_t k = 0; k < h->rows && k < 16; k++) {
        printf(" %02x", in->act[k]);
    }
    printf("%s", h->rows > 16 ? " ..." : "");
    if (in->wgt_valid) {
        printf(" | weight write: row %u (wgt_row 0x%x) signed %d\n", in->wgt_row & h->row_mask, in->wgt_row,
               in->wgt_signed);
    } else {
        printf(" | no weight write\n");
    }
}

static void report(const harness *h, const array_stim *st, uint64_t k, const mismatch *mm)
{
    const char *kind = st->kind == ARRAY_STIM_LEGAL ? "legal schedule" : "random inputs";
    const uint32_t L = QMAC_ARRAY_LATENCY(h->rows, h->cols);
    if (mm->kind == MM_RTL_VS_MODEL) {
        printf("MISMATCH RTL vs C model: array %s seed %" PRIu64 " case %" PRIu64 " (%s), cycle %u: ",
               h->shape, h->c->seed, k, kind, mm->cycle);
    } else {
        printf("MISMATCH C model (== RTL) vs the contract's arithmetic: array %s seed %" PRIu64
               " case %" PRIu64 " (%s), cycle %u: ",
               h->shape, h->c->seed, k, kind, mm->cycle);
    }
    const char *exp_name = mm->kind == MM_RTL_VS_MODEL ? "C model" : "contract";
    const char *act_name = mm->kind == MM_RTL_VS_MODEL ? "RTL" : "C model";
    if (mm->column < 0) {
        printf("%s expected (%s) %d, actual (%s) %d\n", mm->port, exp_name, mm->expected, act_name,
               mm->actual);
    } else {
        printf("%s column %d expected (%s) %d (0x%08x), actual (%s) %d (0x%08x); %u of %u columns differ\n",
               mm->port, mm->column, exp_name, mm->expected, (uint32_t)mm->expected, act_name, mm->actual,
               (uint32_t)mm->actual, mm->differing, h->cols);
    }
    if (mm->cycle >= L) {
        const uint32_t t = mm->cycle - L;
        printf("  the vector of cycle %u (latency %u)", t, L);
        if (st->kind == ARRAY_STIM_LEGAL && st->vec_tile[mm->cycle] >= -1) {
            printf(" belongs to weight tile %d", st->vec_tile[mm->cycle]);
        }
        printf("\n");
        print_inputs(h, &st->in[t], t, st->rst[t]);
    }
    simctl_print_repro(h->c, stdout, "--case %" PRIu64, k);
}

/* Replay case k from reset on a fresh model with tracing on; print where the trace is. */
static simctl_rc trace_failure(harness *h, const array_stim *st, uint64_t k, const mismatch *first)
{
    simctl *c = h->c;
    if (c->trace) { /* the whole run is traced already */
        simctl_close(c);
        printf("  trace: %s (the whole run)\n", c->trace);
        return SIMCTL_MISMATCH;
    }
    char tag[64], path[1024];
    snprintf(tag, sizeof tag, "array-%s", h->shape);
    simctl_fail_trace_path(c, tag, k, path, sizeof path);
    simctl_close(c);
    if (!qsim_trace_supported()) {
        printf("  trace: none (this binary was built without trace support; rerun the reproduce command "
               "with a traced build)\n");
        return SIMCTL_MISMATCH;
    }
    c->trace = path;
    simctl_rc rc = simctl_open(c, "rst_ni");
    c->trace = NULL;
    if (rc != SIMCTL_PASS) {
        printf("  trace: could not be written to %s (see above)\n", path);
        return SIMCTL_MISMATCH;
    }
    c->max_cycles = 0;
    mismatch mm;
    memset(&mm, 0, sizeof mm);
    rc = run_case(h, st, &mm);
    simctl_close(c);
    const uint64_t t0 = (mm.qcycle - mm.cycle) * 10;
    if (rc == SIMCTL_MISMATCH && mm.cycle == first->cycle) {
        printf("  trace: %s (case %" PRIu64 " replayed from reset; its cycle 0 starts at %" PRIu64
               " ns, cycle %u at %" PRIu64 " ns, 10 ns per cycle)\n",
               path, k, t0, mm.cycle, t0 + 10 * (uint64_t)mm.cycle);
    } else {
        printf("  trace: %s (the replay from a fresh model did NOT reproduce the mismatch at cycle %u: state "
               "survived the reset?)\n",
               path, first->cycle);
    }
    return SIMCTL_MISMATCH;
}

static simctl_rc run_test(harness *h)
{
    simctl *c = h->c;
    printf("sim array %s: seed %" PRIu64 ", cases %" PRIu64 "..%" PRIu64 "\n", h->shape, c->seed,
           c->first_case, c->first_case + c->cases - (c->cases > 0));
    fflush(stdout);
    array_stim st;
    array_stim_init(&st, h->rows, h->cols);
    uint64_t n_legal = 0, n_random = 0, tiles = 0, vectors = 0, acc = 0, chained = 0, switches = 0,
             writes = 0, resets = 0, checked = 0, cycles = 0;
    const double t0 = simctl_now();
    simctl_rc rc = SIMCTL_PASS;
    for (uint64_t k = c->first_case; k < c->first_case + c->cases && rc == SIMCTL_PASS; k++) {
        qmac_status s = make_case(h, k, &st);
        if (s != QMAC_OK) {
            printf("ERROR array %s seed %" PRIu64 " case %" PRIu64 ": %s: %s\n", h->shape, c->seed, k,
                   qmac_status_str(s), qmac_last_error());
            simctl_print_repro(c, stdout, "--case %" PRIu64, k);
            rc = SIMCTL_ERROR;
            break;
        }
        mismatch mm;
        memset(&mm, 0, sizeof mm);
        rc = run_case(h, &st, &mm);
        if (rc == SIMCTL_MISMATCH) {
            report(h, &st, k, &mm);
            rc = trace_failure(h, &st, k, &mm);
            break;
        }
        if (rc == SIMCTL_TIMEOUT) {
            char where[64];
            snprintf(where, sizeof where, "in case %" PRIu64, k);
            simctl_report_timeout(c, where);
            break;
        }
        const bool legal = st.kind == ARRAY_STIM_LEGAL;
        n_legal += legal;
        n_random += !legal;
        tiles += st.tiles;
        vectors += st.vectors;
        acc += st.acc_vectors;
        chained += st.chained;
        switches += st.mode_switches;
        writes += st.wgt_writes;
        resets += st.resets;
        cycles += st.n;
        for (uint32_t i = 0; i <= st.n; i++) {
            checked += st.expect[i];
        }
        if (c->verbose) {
            printf("  case %" PRIu64 ": %s, %u cycles, %u tiles, %u vectors (%u acc, %u chained), %u mode "
                   "switches, %u weight writes, %u resets\n",
                   k, legal ? "legal" : "random", st.n, st.tiles, st.vectors, st.acc_vectors, st.chained,
                   st.mode_switches, st.wgt_writes, st.resets);
        }
    }
    const double dt = simctl_now() - t0;
    array_stim_free(&st);
    if (rc != SIMCTL_PASS) {
        return rc;
    }
    printf("  %" PRIu64 " cases (%" PRIu64 " legal schedules, %" PRIu64 " random), %" PRIu64
           " cycles: %" PRIu64 " weight tiles (swaps), %" PRIu64 " vectors, %" PRIu64
           " mode switches, %" PRIu64 " accumulating (%" PRIu64 " chained), %" PRIu64
           " weight-row writes, %" PRIu64 " reset pulses\n",
           n_legal + n_random, n_legal, n_random, cycles, tiles, vectors, switches, acc, chained, writes,
           resets);
    printf("  every output compared in every cycle; %" PRIu64
           " results also equal the contract's arithmetic\n",
           checked);
    printf("PASS array %s seed %" PRIu64 ": %.1f s (%.0f cycles/s with the model)\n", h->shape, c->seed, dt,
           dt > 0 ? (double)cycles / dt : 0.0);
    return SIMCTL_PASS;
}

/* ---------------------------------------------------------------------------------------------
 * Bench
 * ------------------------------------------------------------------------------------------- */

static simctl_rc run_bench(harness *h)
{
    simctl *c = h->c;
    array_stim st;
    array_stim_init(&st, h->rows, h->cols);
    simctl_rng rng;
    simctl_rng_seed(&rng, c->seed_given ? c->seed : 1); /* the same stream in every bench run */
    qmac_status s = array_stim_stream(&st, &rng, 64);
    if (s != QMAC_OK) {
        printf("ERROR bench stimulus: %s: %s\n", qmac_status_str(s), qmac_last_error());
        array_stim_free(&st);
        return SIMCTL_ERROR;
    }
    const uint32_t n = st.n;
    /* the RTL's input words, precomputed so the loop measures the simulator and not the packing */
    const int ids[] = {h->p.act_valid, h->p.act_swap, h->p.act_bin,   h->p.act_signed, h->p.act_zp,
                       h->p.act_acc,   h->p.act,      h->p.wgt_valid, h->p.wgt_row,    h->p.wgt_signed,
                       h->p.wgt,       h->p.wgt_zp,   h->p.acc};
    const int nids = (int)(sizeof ids / sizeof ids[0]);
    uint32_t off[sizeof ids / sizeof ids[0] + 1];
    off[0] = 0;
    for (int i = 0; i < nids; i++) {
        uint32_t w;
        qsim_port_info(ids[i], NULL, &w, NULL);
        off[i + 1] = off[i] + QSIM_WORDS(w);
    }
    const uint32_t stride = off[nids];
    uint32_t *words = calloc((size_t)n * stride, sizeof *words);
    if (!words) {
        array_stim_free(&st);
        printf("ERROR bench: out of memory\n");
        return SIMCTL_ERROR;
    }
    for (uint32_t i = 0; i < n; i++) {
        const qmac_array_in *in = &st.in[i];
        uint32_t *w = &words[(size_t)i * stride];
        w[off[0]] = in->act_valid;
        w[off[1]] = in->act_swap;
        w[off[2]] = in->act_bin;
        w[off[3]] = in->act_signed;
        w[off[4]] = in->act_zp;
        w[off[5]] = in->act_acc;
        pack_bytes(in->act, h->rows, &w[off[6]]);
        w[off[7]] = in->wgt_valid;
        w[off[8]] = in->wgt_row;
        w[off[9]] = in->wgt_signed;
        pack_bytes(in->wgt, h->cols, &w[off[10]]);
        pack_bytes(in->wgt_zp, h->cols, &w[off[11]]);
        for (uint32_t col = 0; col < h->cols; col++) {
            w[off[12] + col] = (uint32_t)in->acc[col];
        }
    }

    /* Verilator: poke + tick + peek, no model */
    simctl_reset(c, RESET_CYCLES);
    uint64_t sim_cycles = 0, checksum = 0;
    double t0 = simctl_now(), cpu0 = simctl_cpu_now(), dt = 0.0;
    uint32_t out[MAX_WORDS];
    do {
        for (uint32_t i = 0; i < n; i++) {
            const uint32_t *w = &words[(size_t)i * stride];
            for (int p = 0; p < nids; p++) {
                qsim_poke(c->sim, ids[p], &w[off[p]]);
            }
            qsim_tick(c->sim);
            qsim_peek(c->sim, h->p.out_valid, out);
            checksum += out[0];
            qsim_peek(c->sim, h->p.out, out);
            checksum += out[0];
        }
        sim_cycles += n;
        dt = simctl_now() - t0;
    } while (dt < c->bench_seconds);
    const double sim_rate = (double)sim_cycles / dt;
    const double sim_cpu = simctl_cpu_now() - cpu0, sim_share = sim_cpu / dt;

    /* C model: outputs + clock on the same stream */
    qmac_array_model_reset(h->m);
    qmac_array_out o;
    uint64_t model_cycles = 0;
    t0 = simctl_now();
    cpu0 = simctl_cpu_now();
    do {
        for (uint32_t i = 0; i < n; i++) {
            qmac_array_model_outputs(h->m, &o);
            checksum += (uint32_t)o.out[0] + o.valid;
            qmac_array_model_clock(h->m, &st.in[i]);
        }
        model_cycles += n;
        dt = simctl_now() - t0;
    } while (dt < c->bench_seconds);
    const double model_rate = (double)model_cycles / dt;
    const double model_cpu = simctl_cpu_now() - cpu0, model_share = model_cpu / dt;
    free(words);
    array_stim_free(&st);

    printf("array %s Verilator simulation (poke + tick + peek, no model): %12.0f cycles/s (%" PRIu64
           " cycles, build %s trace support)\n",
           h->shape, sim_rate, sim_cycles, qsim_trace_supported() ? "with" : "without");
    printf("array %s C model (outputs + clock):                          %12.0f cycles/s (%" PRIu64
           " cycles)\n",
           h->shape, model_rate, model_cycles);
    printf("  (full-rate stream of %u cycles, int8 and binary tiles alternating; checksum %" PRIu64 ")\n", n,
           checksum);
    if (sim_share < 0.9 || model_share < 0.9) {
        printf("  WARNING: the machine is busy: this process got %.0f%% / %.0f%% of a CPU; per CPU second "
               "the rates are %.0f / %.0f cycles/s\n",
               100.0 * sim_share, 100.0 * model_share, (double)sim_cycles / sim_cpu,
               (double)model_cycles / model_cpu);
    }
    if (c->json) {
        /* the 16x16 array is the configuration of record; other shapes get their shape in the name */
        char k_sim[64], k_model[64];
        if (h->rows == 16 && h->cols == 16) {
            snprintf(k_sim, sizeof k_sim, "array_sim_cycles_per_s");
            snprintf(k_model, sizeof k_model, "array_model_cycles_per_s");
        } else {
            snprintf(k_sim, sizeof k_sim, "array_%s_sim_cycles_per_s", h->shape);
            snprintf(k_model, sizeof k_model, "array_%s_model_cycles_per_s", h->shape);
        }
        const char *keys[] = {k_sim, k_model};
        const double vals[] = {(double)(uint64_t)(sim_rate + 0.5), (double)(uint64_t)(model_rate + 0.5)};
        s = simctl_json_merge(c->json, keys, vals, 2);
        if (s != QMAC_OK) {
            printf("ERROR bench: %s: %s\n", qmac_status_str(s), qmac_last_error());
            return SIMCTL_ERROR;
        }
        printf("  written to %s\n", c->json);
    }
    return SIMCTL_PASS;
}

int main(int argc, char **argv)
{
    simctl c;
    simctl_init(&c, "qmac_array", DEFAULT_CASES);
    simctl_rc rc = simctl_parse(&c, argc, argv,
                                "Cases: 3 in 4 are legal schedules (weight tiles, swaps, gaps, modes, "
                                "accumulate chains),\n1 in 4 fully random inputs with reset pulses.\n");
    if (rc != SIMCTL_PASS) {
        return rc == SIMCTL_HELP ? 0 : (int)rc;
    }
    rc = simctl_open(&c, "rst_ni");
    if (rc != SIMCTL_PASS) {
        return (int)rc;
    }
    harness h;
    memset(&h, 0, sizeof h);
    h.c = &c;
    qmac_status s = find_ports(&h);
    if (s == QMAC_OK) {
        s = qmac_array_model_create(h.rows, h.cols, &h.m);
    }
    if (s != QMAC_OK) {
        printf("ERROR: %s: %s\n", qmac_status_str(s), qmac_last_error());
        simctl_close(&c);
        return SIMCTL_ERROR;
    }
    rc = c.bench ? run_bench(&h) : run_test(&h);
    qmac_array_model_free(h.m);
    simctl_close(&c);
    fflush(stdout);
    return (int)rc;
}
