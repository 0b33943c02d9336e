/* accel_main.c - co-simulation of the whole accelerator (qmac_top) against the golden model.
 *
 * Cases 0 .. D-1 are the directed programs of accel_progs.c (every instruction, every fault
 * code); cases from D on are random legal programs, each from its own seed (simctl_case_seed), so
 * `--case K` reruns case K alone. Each case runs on a fresh model in lock-step with the golden
 * model (accel_harness.h) and prints CYCLES and the counters (directed cases always, random ones
 * with --verbose). --cycle-model also runs the C cycle model of docs/microarch.md on every program
 * and requires the same retire cycle for every instruction and the same counters.
 *
 *   sim_accel --config default|small   the build's configuration (HW_ID / HW_CFG are checked)
 *   --directed | --random              only those cases
 *   --len N                            instructions per random program (default 40)
 *   --bench                            simulated cycles per second on a long GEMM program
 *   --image FILE --base B --prog-addr A --insns N [--window LO:HI] --dump FILE
 *                                      run one program from a memory image (FILE holds the bytes of
 *                                      [B, B + size)) in lock-step with the golden model, then write
 *                                      the RTL's final memory to --dump (the backend of
 *                                      `qmac run --backend rtl`) */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accel_harness.h"
#include "accel_progs.h"
#include "qmac/fileio.h"
#include "qsim.h"
#include "simctl.h"

/* the --bench program: weight tiles of GEMM vectors streamed back to back */
#define BENCH_TILES 32u
#define BENCH_VECTORS 4096u
#define STR_(x) #x
#define STR(x) STR_(x)

typedef struct {
    const char *config;
    bool directed_only, random_only, cycle_model;
    uint32_t len;
    uint64_t trace_last;
    const char *image, *dump; /* image mode */
    uint64_t base, prog_addr, insns, win_lo, win_hi;
    bool has_window;
} accel_opts;

static bool parse_num(const char *s, uint64_t *v)
{
    char *end = NULL;
    if (!s || !*s || *s == '-')
        return false;
    *v = strtoull(s, &end, 0);
    return end && !*end;
}

/* Take our options out of argv, leave simctl's. Returns false on a bad one (message printed). */
static bool take_opts(int *argc, char **argv, accel_opts *o)
{
    int out = 1;
    for (int i = 1; i < *argc; i++) {
        const char *a = argv[i], *v = i + 1 < *argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--config") && v) {
            o->config = v;
            i++;
        } else if (!strcmp(a, "--len") && v) {
            char *end = NULL;
            const unsigned long n = strtoul(v, &end, 0);
            if (!end || *end || n < 1 || n > 900) {
                fprintf(stderr, "%s: --len takes 1 .. 900, not %s\n", argv[0], v);
                return false;
            }
            o->len = (uint32_t)n;
            i++;
        } else if (!strcmp(a, "--trace-last") && v) {
            char *end = NULL;
            o->trace_last = strtoull(v, &end, 0);
            if (!end || *end || *v == '-') {
                fprintf(stderr, "%s: --trace-last takes a number of cycles, not %s\n", argv[0], v);
                return false;
            }
            i++;
        } else if ((!strcmp(a, "--image") || !strcmp(a, "--dump")) && v) {
            *(!strcmp(a, "--image") ? &o->image : &o->dump) = v;
            i++;
        } else if ((!strcmp(a, "--base") || !strcmp(a, "--prog-addr") || !strcmp(a, "--insns")) && v) {
            uint64_t *dst = !strcmp(a, "--base")        ? &o->base
                            : !strcmp(a, "--prog-addr") ? &o->prog_addr
                                                        : &o->insns;
            if (!parse_num(v, dst)) {
                fprintf(stderr, "%s: %s takes a number, not %s\n", argv[0], a, v);
                return false;
            }
            i++;
        } else if (!strcmp(a, "--window") && v) {
            const char *colon = strchr(v, ':');
            char lo[32];
            if (!colon || (size_t)(colon - v) >= sizeof lo) {
                fprintf(stderr, "%s: --window takes LO:HI, not %s\n", argv[0], v);
                return false;
            }
            memcpy(lo, v, (size_t)(colon - v));
            lo[colon - v] = '\0';
            if (!parse_num(lo, &o->win_lo) || !parse_num(colon + 1, &o->win_hi)) {
                fprintf(stderr, "%s: --window takes LO:HI, not %s\n", argv[0], v);
                return false;
            }
            o->has_window = true;
            i++;
        } else if (!strcmp(a, "--directed")) {
            o->directed_only = true;
        } else if (!strcmp(a, "--random")) {
            o->random_only = true;
        } else if (!strcmp(a, "--cycle-model")) {
            o->cycle_model = true;
        } else {
            argv[out++] = argv[i];
        }
    }
    *argc = out;
    if (strcmp(o->config, "default") != 0 && strcmp(o->config, "small") != 0) {
        fprintf(stderr, "%s: --config takes default or small, not %s\n", argv[0], o->config);
        return false;
    }
    return true;
}

static void print_counters(const char *what, const accel_result *r)
{
    const bool fault = (r->status >> 2) & 1u;
    char end[64];
    if (fault)
        snprintf(end, sizeof end, "fault %u at %u", r->fault_code, r->fault_pc);
    else
        snprintf(end, sizeof end, "done");
    printf("  %-28s CYCLES %8" PRIu64 " RETIRED %5" PRIu64 " ARRAY_BUSY %6" PRIu64 " LOAD_BUSY %7" PRIu64
           " STORE_BUSY %7" PRIu64 " STALL %6" PRIu64 "  %s, %" PRIu64 " lock-step checks\n",
           what, r->cycles, r->retired, r->array_busy, r->load_busy, r->store_busy, r->stall, end,
           r->lockstep_checks);
}

/* CYCLES of program p on the C cycle model driving the golden model, or 0 on an error (printed);
 * *seconds: the wall time of the run. */
static uint64_t model_cycles(const simctl *c, const qmac_hw_config *cfg, const accel_prog *p, double *seconds)
{
    qmac_accel *gold = NULL;
    qmac_timing_stats st = {0};
    qmac_status s = qmac_accel_create(cfg, &gold);
    if (s == QMAC_OK) {
        const double t0 = simctl_now();
        s = accel_model_run(cfg, p, gold, 100000000u, NULL, NULL, &st);
        *seconds = simctl_now() - t0;
    }
    qmac_accel_free(gold);
    if (s != QMAC_OK || !st.done) {
        fprintf(stderr, "%s: cycle model: %s\n", c->prog,
                s != QMAC_OK ? qmac_last_error() : "did not finish");
        return 0;
    }
    return st.cycles;
}

/* --bench: (1) simulation speed on a long GEMM program; (2) the GEMM m x k x n of gemm_prog.c
 * (256^3 on the default build, 64^3 on the small one): MAC utilization ARRAY_BUSY / CYCLES of the
 * RTL, the golden + cycle model's CYCLES over the RTL's and its speed. Both RTL runs are checked in
 * lock-step. */
static simctl_rc bench(simctl *c, accel_h *h, const qmac_hw_config *cfg, const char *tag)
{
    accel_case ac;
    if (accel_bench_prog(cfg, BENCH_TILES, BENCH_VECTORS, &ac) != QMAC_OK) {
        fprintf(stderr, "%s: %s\n", c->prog, qmac_last_error());
        return SIMCTL_ERROR;
    }
    accel_result r;
    const double t0 = simctl_now(), u0 = simctl_cpu_now();
    simctl_rc rc = accel_run(h, &ac.run, 0, "--bench", false, &r);
    const double dt = simctl_now() - t0, du = simctl_cpu_now() - u0;
    accel_case_free(&ac);
    if (rc != SIMCTL_PASS)
        return rc;
    const double rate = (double)r.sim_cycles / dt;
    printf("bench %s: long GEMM program (%u tiles x %u vectors, checked in lock-step): %" PRIu64
           " cycles in %.2f s = %.0f cycles/s (%.0f per CPU second); CYCLES %" PRIu64 ", ARRAY_BUSY %" PRIu64
           " (%.1f%% of CYCLES)\n",
           tag, BENCH_TILES, BENCH_VECTORS, r.sim_cycles, dt, rate, (double)r.sim_cycles / du, r.cycles,
           r.array_busy, 100.0 * (double)r.array_busy / (double)r.cycles);

    const uint32_t g = cfg->dim == QMAC_CFG_ARRAY_DIM ? 256u : 64u;
    if (accel_gemm_prog(cfg, g, g, g, c->seed, &ac) != QMAC_OK) {
        fprintf(stderr, "%s: %s\n", c->prog, qmac_last_error());
        return SIMCTL_ERROR;
    }
    rc = accel_run(h, &ac.run, 1, "--bench", false, &r);
    double model_s = 0.0;
    const uint64_t mc = rc == SIMCTL_PASS ? model_cycles(c, cfg, &ac.run, &model_s) : 0;
    const uint64_t n_insn = ac.run.n_insn;
    accel_case_free(&ac);
    if (rc != SIMCTL_PASS)
        return rc;
    if (!mc || !r.cycles)
        return SIMCTL_ERROR;
    const double util = (double)r.array_busy / (double)r.cycles, ratio = (double)mc / (double)r.cycles;
    const double model_rate = model_s > 0.0 ? (double)mc / model_s : 0.0;
    printf("bench %s: int8 GEMM %ux%ux%u (%" PRIu64
           " instructions, checked in lock-step): RTL CYCLES %" PRIu64 ", ARRAY_BUSY %" PRIu64
           " -> MAC utilization %.4f; golden + cycle model %" PRIu64
           " cycles (x%.4f of the RTL) at %.0f cycles/s\n",
           tag, g, g, g, n_insn, r.cycles, r.array_busy, util, mc, ratio, model_rate);
    if (c->json) {
        char k_rate[64], k_util[64], k_ratio[64], k_model[64];
        const bool dflt = cfg->dim == QMAC_CFG_ARRAY_DIM;
        snprintf(k_rate, sizeof k_rate, dflt ? "accel_sim_cycles_per_s" : "accel%u_sim_cycles_per_s",
                 cfg->dim);
        snprintf(k_util, sizeof k_util, dflt ? "gemm256_rtl_utilization" : "accel%u_gemm%u_rtl_utilization",
                 cfg->dim, g);
        snprintf(k_ratio, sizeof k_ratio, dflt ? "golden_cycles_vs_rtl" : "accel%u_golden_cycles_vs_rtl",
                 cfg->dim);
        snprintf(k_model, sizeof k_model,
                 dflt ? "golden_model_cycles_per_s" : "accel%u_golden_model_cycles_per_s", cfg->dim);
        const char *keys[4] = {k_rate, k_util, k_ratio, k_model};
        const double vals[4] = {rate, util, ratio, model_rate};
        if (simctl_json_merge(c->json, keys, vals, 4) != QMAC_OK) {
            fprintf(stderr, "%s: %s\n", c->prog, qmac_last_error());
            return SIMCTL_ERROR;
        }
    }
    return SIMCTL_PASS;
}

/* --image: one program from a memory image, in lock-step; the final memory to --dump. */
static simctl_rc run_image(simctl *c, accel_h *h, const accel_opts *o)
{
    char *img = NULL;
    size_t len = 0;
    if (!o->dump) {
        fprintf(stderr, "%s: --image needs --dump FILE\n", c->prog);
        return SIMCTL_USAGE;
    }
    if (qmac_read_file(o->image, (size_t)1 << 32, &img, &len) != QMAC_OK) {
        fprintf(stderr, "%s: %s\n", c->prog, qmac_last_error());
        return SIMCTL_ERROR;
    }
    const uint64_t end = o->base + len;
    if (!len || o->prog_addr < o->base || o->prog_addr + o->insns * QMAC_INSN_BYTES > end ||
        end - 1 > UINT32_MAX || (o->prog_addr - o->base) % 4) {
        fprintf(stderr,
                "%s: the program [0x%" PRIx64 ", +%" PRIu64 " instructions) is not inside the image "
                "[0x%" PRIx64 ", 0x%" PRIx64 ")\n",
                c->prog, o->prog_addr, o->insns, o->base, end);
        free(img);
        return SIMCTL_USAGE;
    }
    uint8_t *out = malloc(len);
    uint32_t *words = malloc((size_t)o->insns * QMAC_INSN_BYTES + 4);
    if (!out || !words) {
        fprintf(stderr, "%s: out of memory\n", c->prog);
        free(img);
        free(out);
        free(words);
        return SIMCTL_ERROR;
    }
    const uint8_t *pb = (const uint8_t *)img + (o->prog_addr - o->base);
    for (uint64_t w = 0; w < o->insns * QMAC_INSN_WORDS; w++)
        words[w] = (uint32_t)pb[4 * w] | (uint32_t)pb[4 * w + 1] << 8 | (uint32_t)pb[4 * w + 2] << 16 |
                   (uint32_t)pb[4 * w + 3] << 24;
    const accel_prog p = {.name = o->image,
                          .words = words,
                          .n_insn = o->insns,
                          .prog_addr = (uint32_t)o->prog_addr,
                          .win = {(uint32_t)(o->has_window ? o->win_lo : o->base),
                                  (uint32_t)(o->has_window ? o->win_hi : end - 1)},
                          .mem_base = o->base,
                          .mem_size = len,
                          .mem_init = (const uint8_t *)img,
                          .mem_out = out};
    char repro[1400];
    snprintf(repro, sizeof repro,
             "--config %s --image %s --base 0x%" PRIx64 " --prog-addr 0x%" PRIx64 " --insns %" PRIu64
             " --window 0x%x:0x%x --dump %s",
             o->config, o->image, o->base, o->prog_addr, o->insns, p.win.lo, p.win.hi, o->dump);
    accel_result r;
    simctl_rc rc = accel_run(h, &p, 0, repro, true, &r);
    if (rc == SIMCTL_PASS && ((r.status & 4u) || !(r.status & 2u))) {
        printf("FAIL %s: the program ended with STATUS 0x%x, FAULT_CODE %u at instruction %u\n", o->image,
               r.status, r.fault_code, r.fault_pc);
        rc = SIMCTL_MISMATCH;
    }
    if (rc == SIMCTL_PASS && qmac_write_file(o->dump, out, len) != QMAC_OK) {
        fprintf(stderr, "%s: %s\n", c->prog, qmac_last_error());
        rc = SIMCTL_ERROR;
    }
    if (rc == SIMCTL_PASS)
        print_counters(o->image, &r);
    free(img);
    free(out);
    free(words);
    return rc;
}

int main(int argc, char **argv)
{
    simctl c;
    accel_opts o = {.config = "default", .len = 40, .trace_last = ACCEL_TRACE_LAST};
    const size_t nd = accel_directed_count();
    simctl_init(&c, "qmac_top", nd + 100u);
    if (!take_opts(&argc, argv, &o))
        return SIMCTL_USAGE;
    simctl_rc rc = simctl_parse(
        &c, argc, argv,
        "  --config NAME     default (N 16) or small (N 4, 256 rows): the build's configuration\n"
        "  --directed        only the directed programs (cases 0 .. D-1)\n"
        "  --random          only random programs (cases from D on)\n"
        "  --len N           instructions per random program (default 40)\n"
        "  --cycle-model     also compare every retire cycle and counter with the C cycle model\n"
        "  --trace-last N    a failure trace holds the last N cycles up to the failing one\n"
        "                    (default " STR(ACCEL_TRACE_LAST) ", 0: the whole run)\n");
    if (rc != SIMCTL_PASS)
        return rc == SIMCTL_HELP ? 0 : (int)rc;
    qmac_hw_config cfg;
    if (!strcmp(o.config, "small"))
        qmac_hw_config_small(&cfg);
    else
        qmac_hw_config_default(&cfg);
    char tag[32];
    snprintf(tag, sizeof tag, "accel-%u", cfg.dim);
    c.name = tag;
    accel_h *h = accel_create(&c, &cfg, tag);
    if (!h)
        return SIMCTL_ERROR;
    accel_set_cycle_model(h, o.cycle_model);
    accel_set_trace_last(h, o.trace_last);
    if (c.bench) {
        rc = bench(&c, h, &cfg, tag);
        accel_free(h);
        return (int)rc;
    }
    if (o.image) {
        rc = run_image(&c, h, &o);
        accel_free(h);
        return (int)rc;
    }
    uint64_t first = c.first_case, count = c.cases;
    if (o.random_only && first < nd)
        first = nd;
    if (o.directed_only && first + count > nd)
        count = first < nd ? nd - first : 0;
    printf("%s (N %u, rows INP %u WGT %u ACC %u OUT %u): seed %" PRIu64 ", cases %" PRIu64 "..%" PRIu64
           " (0..%zu directed, then random programs of %u instructions)\n",
           tag, cfg.dim, cfg.inp_rows, cfg.wgt_rows, cfg.acc_rows, cfg.out_rows, c.seed, first,
           first + count - 1u, nd - 1u, o.len);
    const double t0 = simctl_now();
    uint64_t cycles = 0, sim_cycles = 0, retired = 0, checks = 0, faults = 0, runs = 0;
    for (uint64_t k = first; k < first + count && rc == SIMCTL_PASS; k++) {
        accel_case ac;
        qmac_status st = k < nd ? accel_directed((size_t)k, &cfg, simctl_case_seed(c.seed, k), &ac)
                                : accel_random(&cfg, simctl_case_seed(c.seed, k), o.len, &ac);
        if (st != QMAC_OK) {
            fprintf(stderr, "%s: case %" PRIu64 ": %s\n", c.prog, k, qmac_last_error());
            rc = SIMCTL_ERROR;
            break;
        }
        char repro[96];
        snprintf(repro, sizeof repro, "--config %s --case %" PRIu64 " --len %u%s", o.config, k, o.len,
                 o.cycle_model ? " --cycle-model" : "");
        accel_result r;
        rc = accel_run(h, &ac.run, k, repro, true, &r);
        if (rc == SIMCTL_PASS) {
            runs++;
            cycles += r.cycles;
            sim_cycles += r.sim_cycles;
            retired += r.retired;
            checks += r.lockstep_checks;
            faults += (r.status >> 2) & 1u;
            if (k < nd || c.verbose) {
                char what[128];
                snprintf(what, sizeof what, "%" PRIu64 " %s", k, ac.name);
                print_counters(what, &r);
            }
        }
        accel_case_free(&ac);
    }
    accel_free(h);
    if (rc == SIMCTL_PASS) {
        const double dt = simctl_now() - t0;
        printf("PASS %s: %" PRIu64 " programs (seed %" PRIu64 "), %" PRIu64 " instructions retired, %" PRIu64
               " lock-step checks, %" PRIu64 " ended by a fault; %" PRIu64 " accelerator cycles, %" PRIu64
               " simulated in %.2f s (%.0f cycles/s)\n",
               tag, runs, c.seed, retired, checks, faults, cycles, sim_cycles, dt, (double)sim_cycles / dt);
        if (o.cycle_model)
            printf("  cycle model: every retire cycle and counter equal in all %" PRIu64 " programs\n", runs);
    }
    return (int)rc;
}
