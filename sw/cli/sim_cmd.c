/* sim_cmd.c - `qmac sim`: run an accelerator program on the golden model and its cycle model
 * (docs/cli.md). Exit status: 0 the program reached END, 4 it faulted or ran out of cycles (the
 * fault, its instruction and its disassembly are printed), 2 bad input, 1 internal error. */
#include "sim_cmd.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "qmac/accel.h"
#include "qmac/accel_timing.h"
#include "qmac/asm.h"
#include "qmac/axi_mem.h"
#include "qmac/fileio.h"
#include "qmac/prog.h"

enum { EXIT_NOT_DONE = 4, MAX_IMAGES = 64 };

typedef struct {
    uint64_t addr, len; /* len: --dump only */
    const char *path;
} image;

/* A number in C syntax (decimal or 0x hex) that fits in 64 bits. */
static int parse_u64(const char *s, uint64_t *v)
{
    char *end;
    errno = 0;
    if (!s[0] || s[0] == '-')
        return -1;
    *v = strtoull(s, &end, 0);
    return errno || *end ? -1 : 0;
}

/* "A<sep>B" into two numbers. */
static int parse_pair(const char *s, char sep, uint64_t *a, uint64_t *b)
{
    const char *p = strchr(s, sep);
    char head[64];
    if (!p || (size_t)(p - s) >= sizeof head)
        return -1;
    memcpy(head, s, (size_t)(p - s));
    head[p - s] = '\0';
    return parse_u64(head, a) || parse_u64(p + 1, b) ? -1 : 0;
}

/* "ADDR=FILE" (load) or "ADDR:LEN=FILE" (dump). */
static int parse_image(const char *s, bool with_len, image *im)
{
    const char *eq = strchr(s, '=');
    char head[128];
    if (!eq || !eq[1] || (size_t)(eq - s) >= sizeof head)
        return -1;
    memcpy(head, s, (size_t)(eq - s));
    head[eq - s] = '\0';
    im->path = eq + 1;
    im->len = 0;
    return with_len ? parse_pair(head, ':', &im->addr, &im->len) : parse_u64(head, &im->addr);
}

static bool inside(uint64_t base, uint64_t size, uint64_t addr, uint64_t len)
{
    return addr >= base && addr - base <= size && len <= size - (addr - base);
}

typedef struct {
    const char *prog_path;
    bool small;
    uint64_t mem_base, mem_size, prog_addr, win_lo, win_hi, max_cycles;
    bool has_prog_addr, has_window;
    image loads[MAX_IMAGES], dumps[MAX_IMAGES];
    int n_loads, n_dumps;
} sim_args;

static const char k_usage[] = "sim: usage: qmac sim PROG.qbin [--build default|small] [--mem BASE:SIZE] "
                              "[--prog-addr A] [--window LO:HI] [--load A=FILE]... [--dump A:LEN=FILE]... "
                              "[--max-cycles N]";

static int parse_args(int argc, char **argv, sim_args *a)
{
    memset(a, 0, sizeof *a);
    a->mem_size = 16u << 20;
    a->max_cycles = 1000000000u;
    for (int i = 0; i < argc; i++) {
        const char *o = argv[i];
        if (o[0] != '-' || !o[1]) {
            if (a->prog_path)
                return cli_usage_error("sim: unexpected argument '%s'", o);
            a->prog_path = o;
            continue;
        }
        if (i + 1 == argc)
            return cli_usage_error("sim: %s needs a value", o);
        const char *v = argv[++i];
        if (!strcmp(o, "--build")) {
            if (strcmp(v, "default") && strcmp(v, "small"))
                return cli_usage_error("sim: --build '%s': expected default or small", v);
            a->small = !strcmp(v, "small");
        } else if (!strcmp(o, "--mem")) {
            if (parse_pair(v, ':', &a->mem_base, &a->mem_size) || !a->mem_size ||
                a->mem_size > (1ull << 32) || a->mem_base + a->mem_size > (1ull << 32))
                return cli_usage_error("sim: --mem '%s': expected BASE:SIZE within the 32-bit address space",
                                       v);
        } else if (!strcmp(o, "--prog-addr")) {
            if (parse_u64(v, &a->prog_addr) || a->prog_addr > UINT32_MAX)
                return cli_usage_error("sim: --prog-addr '%s': expected a 32-bit address", v);
            a->has_prog_addr = true;
        } else if (!strcmp(o, "--window")) {
            if (parse_pair(v, ':', &a->win_lo, &a->win_hi) || a->win_lo > UINT32_MAX ||
                a->win_hi > UINT32_MAX)
                return cli_usage_error("sim: --window '%s': expected LO:HI (32-bit, HI inclusive)", v);
            a->has_window = true;
        } else if (!strcmp(o, "--load") || !strcmp(o, "--dump")) {
            const bool dump = o[2] == 'd';
            int *n = dump ? &a->n_dumps : &a->n_loads;
            if (*n == MAX_IMAGES)
                return cli_usage_error("sim: at most %d %s options", MAX_IMAGES, o);
            if (parse_image(v, dump, dump ? &a->dumps[*n] : &a->loads[*n]))
                return cli_usage_error("sim: %s '%s': expected %s", o, v,
                                       dump ? "ADDR:LEN=FILE" : "ADDR=FILE");
            (*n)++;
        } else if (!strcmp(o, "--max-cycles")) {
            if (parse_u64(v, &a->max_cycles) || !a->max_cycles)
                return cli_usage_error("sim: --max-cycles '%s': expected a positive number", v);
        } else {
            return cli_usage_error("sim: unknown option '%s'", o);
        }
    }
    if (!a->prog_path)
        return cli_usage_error("%s", k_usage);
    if (!a->has_prog_addr)
        a->prog_addr = a->mem_base;
    if (!a->has_window) {
        a->win_lo = a->mem_base;
        a->win_hi = a->mem_base + a->mem_size - 1u;
    }
    return 0;
}

static void print_fault(const qmac_timing_stats *st, const qmac_prog *prog)
{
    char line[QMAC_DISASM_LINE_MAX] = "(outside the program file)";
    if (st->fault_pc < prog->n_insn)
        qmac_disasm_insn(qmac_prog_insn(prog, st->fault_pc), line, sizeof line);
    fprintf(stderr, "qmac sim: fault %s at instruction %" PRIu64 "%s%s%s after %" PRIu64 " cycles: %s\n",
            qmac_fault_name(st->fault), st->fault_pc, st->why ? " (" : "", st->why ? st->why : "",
            st->why ? ")" : "", st->cycles, line);
}

int qmac_cmd_sim(int argc, char **argv)
{
    sim_args a;
    const int rc = parse_args(argc, argv, &a);
    if (rc)
        return rc;
    qmac_prog prog;
    qmac_status st = qmac_prog_read(a.prog_path, &prog);
    if (st != QMAC_OK)
        return cli_report(st);
    qmac_timing_config tc;
    if (a.small)
        qmac_timing_config_small(&tc);
    else
        qmac_timing_config_default(&tc);
    qmac_axi_mem_config mc;
    qmac_timing_mem_config(&tc, a.mem_base, a.mem_size, &mc);
    qmac_axi_mem *mem = NULL;
    qmac_accel *golden = NULL;
    qmac_timing *timing = NULL;
    int exit_code = EXIT_OK;
    st = qmac_axi_mem_create(&mc, &mem);
    if (st == QMAC_OK)
        st = qmac_accel_create(&tc.hw, &golden);
    if (st == QMAC_OK)
        st = qmac_timing_create(&tc, &timing);
    if (st != QMAC_OK)
        goto out;
    uint64_t base, size;
    uint8_t *bytes = qmac_axi_mem_data(mem, &base, &size);
    const uint64_t prog_bytes = (uint64_t)prog.n_insn * QMAC_INSN_BYTES;
    if (!inside(base, size, a.prog_addr, prog_bytes)) {
        st = qmac_set_error(QMAC_ERR_INVALID_ARG,
                            "%s: %" PRIu64 " bytes at 0x%" PRIx64 " do not fit in memory", a.prog_path,
                            prog_bytes, a.prog_addr);
        goto out;
    }
    unsigned char *pb;
    size_t pb_len;
    st = qmac_prog_to_bytes(&prog, &pb, &pb_len);
    if (st != QMAC_OK)
        goto out;
    memcpy(bytes + (a.prog_addr - base), pb, pb_len);
    free(pb);
    for (int i = 0; i < a.n_loads && st == QMAC_OK; i++) {
        char *data;
        size_t len;
        st = qmac_read_file(a.loads[i].path, (size_t)size, &data, &len);
        if (st != QMAC_OK)
            break;
        if (inside(base, size, a.loads[i].addr, len))
            memcpy(bytes + (a.loads[i].addr - base), data, len);
        else
            st = qmac_set_error(QMAC_ERR_INVALID_ARG, "%s: %zu bytes at 0x%" PRIx64 " do not fit in memory",
                                a.loads[i].path, len, a.loads[i].addr);
        free(data);
    }
    for (int i = 0; i < a.n_dumps && st == QMAC_OK; i++)
        if (!inside(base, size, a.dumps[i].addr, a.dumps[i].len))
            st = qmac_set_error(QMAC_ERR_INVALID_ARG,
                                "--dump %s: 0x%" PRIx64 ":%" PRIu64 " is not inside memory", a.dumps[i].path,
                                a.dumps[i].addr, a.dumps[i].len);
    if (st != QMAC_OK)
        goto out;
    const qmac_window win = {(uint32_t)a.win_lo, (uint32_t)a.win_hi};
    qmac_timing_stats ts;
    st = qmac_timing_run(timing, golden, mem, (uint32_t)a.prog_addr, &win, a.max_cycles, &ts);
    if (st != QMAC_OK)
        goto out;
    printf("qmac sim: %s after %" PRIu64 " cycles; retired %" PRIu64 "; array busy %" PRIu64
           " (%.1f%% MAC utilization); load busy %" PRIu64 "; store busy %" PRIu64 "; stall %" PRIu64 "\n",
           ts.done                       ? "END"
           : ts.fault != QMAC_FAULT_NONE ? "fault"
                                         : "out of cycles",
           ts.cycles, ts.retired, ts.array_busy,
           ts.cycles ? 100.0 * (double)ts.array_busy / (double)ts.cycles : 0.0, ts.load_busy, ts.store_busy,
           ts.stall);
    if (ts.fault != QMAC_FAULT_NONE) {
        print_fault(&ts, &prog);
        exit_code = EXIT_NOT_DONE;
    } else if (!ts.done) {
        fprintf(stderr, "qmac sim: the program did not reach END in %" PRIu64 " cycles (--max-cycles)\n",
                a.max_cycles);
        exit_code = EXIT_NOT_DONE;
    }
    /* dumps are written in every case: after a fault they show how far the program got */
    for (int i = 0; i < a.n_dumps && st == QMAC_OK; i++)
        st = qmac_prog_write_bytes(a.dumps[i].path, bytes + (a.dumps[i].addr - base), (size_t)a.dumps[i].len);
out:
    qmac_timing_free(timing);
    qmac_accel_free(golden);
    qmac_axi_mem_free(mem);
    qmac_prog_free(&prog);
    return st != QMAC_OK ? cli_report(st) : exit_code;
}
