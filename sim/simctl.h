/* simctl.h - simulation control shared by every Verilator harness main in sim/.
 *
 * One unit for what every top needs: the command line (seed, cases, trace, cycle limit, bench),
 * clock and reset of the qsim model, the cycle limit, traces on request and on failure, the seed
 * and reproduce command printed with every failure, exit codes, and the bench JSON file. Mains
 * return from main() (never exit()), so the Verilated model's final() runs in qsim_destroy().
 *
 * Typical main:
 *     simctl c;
 *     simctl_init(&c, "sim_array", 2000);
 *     int rc = simctl_parse(&c, argc, argv);          -> SIMCTL_PASS to go on, else return rc
 *     ... simctl_open(&c, "rst_ni") ... simctl_reset(&c, 2) ... simctl_tick(&c) ...
 *     simctl_close(&c);
 */
#ifndef QMAC_SIMCTL_H
#define QMAC_SIMCTL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "qsim.h"

/* Exit codes of every sim binary. */
typedef enum {
    SIMCTL_PASS = 0,     /* every comparison matched */
    SIMCTL_MISMATCH = 1, /* RTL and reference differ (the report names seed, case, cycle, port) */
    SIMCTL_USAGE = 2,    /* bad command line */
    SIMCTL_ERROR = 3,    /* could not run: allocation, file I/O, harness bug */
    SIMCTL_TIMEOUT = 4,  /* the cycle limit (--max-cycles) was reached */
    SIMCTL_HELP = 5      /* --help was printed: main returns 0 */
} simctl_rc;

typedef struct {
    /* options (simctl_parse) */
    const char *prog;      /* argv[0]: printed in reproduce commands */
    const char *name;      /* harness name for messages ("array 16x16"), set by the main */
    uint64_t seed;         /* --seed N; default: from the clock */
    bool seed_given;       /* --seed was on the command line */
    uint64_t first_case;   /* --first-case K or --case K */
    uint64_t cases;        /* --cases N (--case K sets 1) */
    uint64_t max_cycles;   /* --max-cycles N: limit per run, 0 = none */
    const char *trace;     /* --trace FILE.fst: trace the whole run */
    const char *trace_dir; /* --trace-dir DIR: failure traces go here (default: the binary's dir) */
    const char *json;      /* --json FILE: bench figures are merged into this JSON object */
    bool bench;            /* --bench: measure speed instead of testing */
    double bench_seconds;  /* --bench-seconds S: minimum time per measurement (default 1.5) */
    bool verbose;          /* --verbose: one line per case */
    /* state */
    qsim *sim;
    int rst_id;                 /* active-low reset input */
    uint64_t run_cycles;        /* cycles ticked since simctl_open */
    const char *deferred_trace; /* simctl_trace_from(): opened when the model reaches ... */
    uint64_t deferred_from;     /* ... this cycle (qsim_cycle) */
    char default_dir[512];
} simctl;

/* Defaults; `name` is the harness name, `cases` the default of --cases. */
void simctl_init(simctl *c, const char *name, uint64_t cases);

/* Parse the common options. Returns SIMCTL_PASS to continue, SIMCTL_HELP after printing the help,
 * SIMCTL_USAGE after printing what was wrong. `extra_help` (may be NULL) is appended to --help. */
simctl_rc simctl_parse(simctl *c, int argc, char **argv, const char *extra_help);

/* Create the model, look up the active-low reset input `rst_port`, open --trace if given.
 * Errors print a message and return SIMCTL_ERROR. */
simctl_rc simctl_open(simctl *c, const char *rst_port);

/* Destroy the model (final(), trace closed). Safe to call twice. */
void simctl_close(simctl *c);

/* Assert the reset (poke + eval: an asynchronous reset acts at once, a synchronous one such as
 * qmac_array's at the next edge), hold it for `cycles` >= 1 clock cycles, release it
 * while the clock is high. The model is then at the start of a cycle, out of reset. */
void simctl_reset(simctl *c, uint32_t cycles);

/* Drive the reset input without ticking (low = asserted): poke, and eval when asserting. */
void simctl_set_reset(simctl *c, bool asserted);

/* One clock cycle. Returns false when --max-cycles is exceeded (the caller stops and returns
 * SIMCTL_TIMEOUT after printing simctl_report_timeout()). */
bool simctl_tick(simctl *c);

/* Print "  reproduce: <prog> --seed S <fmt...>" to f. */
void simctl_print_repro(const simctl *c, FILE *f, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Trace the next run opened by simctl_open() into `path` from the start of its cycle `from`
 * (qsim_cycle) on: the tick that reaches it opens the file (from 0: simctl_open does). A failure
 * trace of a long run replays it with `from` a few thousand cycles before the failing cycle. */
void simctl_trace_from(simctl *c, const char *path, uint64_t from);

/* Write "<trace_dir>/fail-<tag>-seed<seed>-case<k>.fst" into buf. */
void simctl_fail_trace_path(const simctl *c, const char *tag, uint64_t k, char *buf, size_t n);

/* Print the cycle-limit failure (seed and reproduce command included). */
void simctl_report_timeout(const simctl *c, const char *where);

/* Seconds on a monotonic clock. */
double simctl_now(void);

/* CPU seconds used by this process (to tell a busy machine from a slow simulator). */
double simctl_cpu_now(void);

/* Seed of case k of a run with seed `seed` (independent streams, so --case K reruns case K alone). */
uint64_t simctl_case_seed(uint64_t seed, uint64_t k);

/* Small fast PRNG (xoshiro256**), seeded through splitmix64. */
typedef struct {
    uint64_t s[4];
} simctl_rng;

void simctl_rng_seed(simctl_rng *r, uint64_t seed);
uint64_t simctl_rng_u64(simctl_rng *r);
/* Uniform in [0, n), n >= 1. */
uint32_t simctl_rng_below(simctl_rng *r, uint32_t n);
/* True with probability num / den. */
bool simctl_rng_chance(simctl_rng *r, uint32_t num, uint32_t den);

/* Merge numeric figures into the JSON object in `path` ({"name": value, ...}): keys already in the
 * file keep their values unless given here; a missing or empty file starts a new object. Written to
 * a temporary file renamed into place. Errors: QMAC_ERR_IO, QMAC_ERR_FORMAT (not a JSON object),
 * QMAC_ERR_NOMEM; the detail names the file. */
qmac_status simctl_json_merge(const char *path, const char *const *keys, const double *values, int n);

#endif
