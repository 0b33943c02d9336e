/* simctl.c - simulation control shared by the Verilator harness mains (see simctl.h). */
#include "simctl.h"

#include "qmac/fileio.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

void simctl_init(simctl *c, const char *name, uint64_t cases)
{
    memset(c, 0, sizeof *c);
    c->name = name;
    c->prog = "sim";
    c->cases = cases;
    c->bench_seconds = 1.5;
    c->rst_id = -1;
    /* default seed: from the clock, so every run explores new cases (the seed is always printed) */
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    c->seed = ((uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u) % 1000000000u;
}

static void print_help(const simctl *c, const char *extra_help)
{
    printf("usage: %s [options]\n"
           "Differential test of the Verilated %s against its C model; exit 0 pass, 1 mismatch,\n"
           "2 usage, 3 error, 4 cycle limit.\n"
           "  --seed N          base seed (default: from the clock; always printed)\n"
           "  --cases N         number of random cases (default %" PRIu64 ")\n"
           "  --first-case K    start at case K (case k uses its own seed derived from N and k)\n"
           "  --case K          run case K only (what a failure report asks for)\n"
           "  --max-cycles N    fail when the run exceeds N clock cycles (0: no limit)\n"
           "  --trace FILE.fst  write an FST trace of the whole run\n"
           "  --trace-dir DIR   where a failure writes its trace (default: the binary's directory)\n"
           "  --bench           measure simulation speed instead of testing\n"
           "  --bench-seconds S minimum time per bench measurement (default 1.5)\n"
           "  --json FILE       merge the bench figures into this JSON object\n"
           "  --verbose         one line per case\n",
           c->prog, c->name, c->cases);
    if (extra_help) {
        fputs(extra_help, stdout);
    }
}

static bool parse_u64(const char *s, uint64_t *out)
{
    if (!s || !*s || *s == '-') {
        return false;
    }
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 0);
    if (errno || *end) {
        return false;
    }
    *out = (uint64_t)v;
    return true;
}

simctl_rc simctl_parse(simctl *c, int argc, char **argv, const char *extra_help)
{
    if (argc > 0 && argv[0]) {
        c->prog = argv[0];
    }
    /* failure traces default to the directory holding the binary */
    const char *slash = strrchr(c->prog, '/');
    if (slash) {
        snprintf(c->default_dir, sizeof c->default_dir, "%.*s", (int)(slash - c->prog), c->prog);
    } else {
        snprintf(c->default_dir, sizeof c->default_dir, ".");
    }
    c->trace_dir = c->default_dir;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        bool ok = true;
        bool takes_value = true;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            print_help(c, extra_help);
            return SIMCTL_HELP;
        } else if (!strcmp(a, "--seed")) {
            ok = parse_u64(v, &c->seed);
            c->seed_given = true;
        } else if (!strcmp(a, "--cases")) {
            ok = parse_u64(v, &c->cases);
        } else if (!strcmp(a, "--first-case")) {
            ok = parse_u64(v, &c->first_case);
        } else if (!strcmp(a, "--case")) {
            ok = parse_u64(v, &c->first_case);
            c->cases = 1;
        } else if (!strcmp(a, "--max-cycles")) {
            ok = parse_u64(v, &c->max_cycles);
        } else if (!strcmp(a, "--trace")) {
            ok = v != NULL;
            c->trace = v;
        } else if (!strcmp(a, "--trace-dir")) {
            ok = v != NULL;
            c->trace_dir = v;
        } else if (!strcmp(a, "--json")) {
            ok = v != NULL;
            c->json = v;
        } else if (!strcmp(a, "--bench-seconds")) {
            char *end = NULL;
            c->bench_seconds = v ? strtod(v, &end) : 0.0;
            ok = v && end && !*end && c->bench_seconds > 0.0;
        } else if (!strcmp(a, "--bench")) {
            c->bench = true;
            takes_value = false;
        } else if (!strcmp(a, "--verbose") || !strcmp(a, "-v")) {
            c->verbose = true;
            takes_value = false;
        } else {
            fprintf(stderr, "%s: unknown option %s (try --help)\n", c->prog, a);
            return SIMCTL_USAGE;
        }
        if (!ok) {
            fprintf(stderr, "%s: %s needs a %s\n", c->prog, a, v ? "valid value" : "value");
            return SIMCTL_USAGE;
        }
        if (takes_value) {
            i++;
        }
    }
    return SIMCTL_PASS;
}

simctl_rc simctl_open(simctl *c, const char *rst_port)
{
    qmac_status st = qsim_create(&c->sim);
    if (st == QMAC_OK) {
        st = qsim_port_find(rst_port, QSIM_IN, &c->rst_id, NULL);
    }
    if (st == QMAC_OK && c->trace) {
        st = qsim_trace_open(c->sim, c->trace);
    }
    if (st == QMAC_OK && c->deferred_trace && c->deferred_from == 0) {
        st = qsim_trace_open(c->sim, c->deferred_trace);
        c->deferred_trace = NULL;
    }
    if (st != QMAC_OK) {
        fprintf(stderr, "%s: %s: %s\n", c->prog, qmac_status_str(st), qmac_last_error());
        simctl_close(c);
        return SIMCTL_ERROR;
    }
    c->run_cycles = 0;
    return SIMCTL_PASS;
}

void simctl_close(simctl *c)
{
    c->deferred_trace = NULL;
    qsim_destroy(c->sim);
    c->sim = NULL;
}

/* Open a deferred trace at the start of its first cycle. */
static void deferred_trace_open(simctl *c)
{
    if (!c->deferred_trace || qsim_cycle(c->sim) < c->deferred_from) {
        return;
    }
    if (qsim_trace_open(c->sim, c->deferred_trace) != QMAC_OK) {
        fprintf(stderr, "%s: %s\n", c->prog, qmac_last_error());
    }
    c->deferred_trace = NULL;
}

void simctl_trace_from(simctl *c, const char *path, uint64_t from)
{
    c->deferred_trace = path;
    c->deferred_from = from;
}

void simctl_set_reset(simctl *c, bool asserted)
{
    const uint32_t v = asserted ? 0u : 1u;
    qsim_poke(c->sim, c->rst_id, &v);
    if (asserted) {
        qsim_eval(c->sim);
    }
}

void simctl_reset(simctl *c, uint32_t cycles)
{
    simctl_set_reset(c, true);
    for (uint32_t i = 0; i < cycles; i++) {
        deferred_trace_open(c);
        qsim_tick(c->sim);
        c->run_cycles++;
    }
    simctl_set_reset(c, false);
}

bool simctl_tick(simctl *c)
{
    deferred_trace_open(c);
    qsim_tick(c->sim);
    c->run_cycles++;
    return c->max_cycles == 0 || c->run_cycles <= c->max_cycles;
}

void simctl_print_repro(const simctl *c, FILE *f, const char *fmt, ...)
{
    fprintf(f, "  reproduce: %s --seed %" PRIu64, c->prog, c->seed);
    if (fmt && *fmt) {
        va_list ap;
        va_start(ap, fmt);
        fputc(' ', f);
        vfprintf(f, fmt, ap);
        va_end(ap);
    }
    fputc('\n', f);
}

void simctl_fail_trace_path(const simctl *c, const char *tag, uint64_t k, char *buf, size_t n)
{
    snprintf(buf, n, "%s/fail-%s-seed%" PRIu64 "-case%" PRIu64 ".fst", c->trace_dir, tag, c->seed, k);
}

void simctl_report_timeout(const simctl *c, const char *where)
{
    printf("TIMEOUT %s seed %" PRIu64 ": cycle limit %" PRIu64 " reached %s\n", c->name, c->seed,
           c->max_cycles, where);
    simctl_print_repro(c, stdout, "--first-case %" PRIu64 " --cases %" PRIu64 " --max-cycles %" PRIu64,
                       c->first_case, c->cases, c->max_cycles);
}

double simctl_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

double simctl_cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

uint64_t simctl_case_seed(uint64_t seed, uint64_t k)
{
    uint64_t x = seed ^ (k * 0xd1b54a32d192ed03u);
    return splitmix64(&x);
}

void simctl_rng_seed(simctl_rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++) {
        r->s[i] = splitmix64(&seed);
    }
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t simctl_rng_u64(simctl_rng *r)
{
    uint64_t *s = r->s;
    const uint64_t result = rotl(s[1] * 5, 7) * 9;
    const uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

uint32_t simctl_rng_below(simctl_rng *r, uint32_t n)
{
    /* Lemire's multiply-shift; the tiny bias (n / 2^32) does not matter for stimulus */
    return (uint32_t)(((simctl_rng_u64(r) >> 32) * (uint64_t)n) >> 32);
}

bool simctl_rng_chance(simctl_rng *r, uint32_t num, uint32_t den)
{
    return simctl_rng_below(r, den) < num;
}

qmac_status simctl_json_merge(const char *path, const char *const *keys, const double *values, int n)
{
    char *text = NULL; /* a missing file is an empty object */
    size_t text_len;
    if (access(path, F_OK) == 0) {
        qmac_status st = qmac_read_file(path, (size_t)1 << 24, &text, &text_len);
        if (st != QMAC_OK) {
            return st;
        }
    }
    cJSON *root = NULL;
    if (text && text[strspn(text, " \t\r\n")] != '\0') {
        root = cJSON_Parse(text);
        if (!root || !cJSON_IsObject(root)) {
            cJSON_Delete(root);
            free(text);
            return qmac_set_error(QMAC_ERR_FORMAT, "%s: not a JSON object; remove it or fix it", path);
        }
    } else {
        root = cJSON_CreateObject();
    }
    free(text);
    if (!root) {
        return qmac_set_error(QMAC_ERR_NOMEM, "%s: out of memory", path);
    }
    for (int i = 0; i < n; i++) {
        cJSON *num = cJSON_CreateNumber(values[i]);
        if (!num) {
            cJSON_Delete(root);
            return qmac_set_error(QMAC_ERR_NOMEM, "%s: out of memory", path);
        }
        if (cJSON_GetObjectItemCaseSensitive(root, keys[i])) {
            cJSON_ReplaceItemInObjectCaseSensitive(root, keys[i], num);
        } else {
            cJSON_AddItemToObject(root, keys[i], num);
        }
    }
    char *out = cJSON_Print(root);
    cJSON_Delete(root);
    if (!out) {
        return qmac_set_error(QMAC_ERR_NOMEM, "%s: out of memory", path);
    }
    char tmp[1024];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        free(out);
        return qmac_set_error(QMAC_ERR_IO, "%s: cannot create", tmp);
    }
    const size_t len = strlen(out);
    const bool ok = fwrite(out, 1, len, f) == len && fputc('\n', f) != EOF;
    free(out);
    if (fclose(f) != 0 || !ok) {
        remove(tmp);
        return qmac_set_error(QMAC_ERR_IO, "%s: write error", tmp);
    }
    if (rename(tmp, path) != 0) {
        remove(tmp);
        return qmac_set_error(QMAC_ERR_IO, "%s: cannot rename into place", path);
    }
    return QMAC_OK;
}
