/* test_asm.c - program builder, .qbin files, assembler and disassembler: a hand-written program
 * whose words were worked out by hand from the bit positions in hw/spec/qmac_isa.json, random
 * round trips (legal instructions and garbage words), every assembler error class, and file
 * round trips. Seed: printed; override with QMAC_SEED=<n>. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "qmac/asm.h"
#include "qmac/prog.h"

/* ---------------------------------------------------------------------------------------------
 * helpers */

static uint64_t g_rng;

static uint64_t rng_next(void)
{
    /* splitmix64 */
    uint64_t z = (g_rng += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static uint32_t rng_below(uint32_t n)
{
    return (uint32_t)(rng_next() % n);
}

static uint64_t seed_from_env(const char *test)
{
    const char *env = getenv("QMAC_SEED");
    const uint64_t seed = env ? strtoull(env, NULL, 0) : (uint64_t)time(NULL);
    print_message("%s: seed %" PRIu64 " (rerun with QMAC_SEED=%" PRIu64 ")\n", test, seed, seed);
    return seed;
}

static void assert_words(const uint32_t *got, const uint32_t *want, const char *what)
{
    for (unsigned i = 0; i < QMAC_INSN_WORDS; i++)
        if (got[i] != want[i]) {
            print_message("%s: word %u is 0x%08x, expected 0x%08x\n", what, i, (unsigned)got[i],
                          (unsigned)want[i]);
            fail();
        }
}

/* A fresh temporary directory (removed by rm_tmpdir). */
static void make_tmpdir(char *dir, size_t len)
{
    const char *base = getenv("TMPDIR");
    snprintf(dir, len, "%s/qmac-asm-XXXXXX", base && base[0] ? base : "/tmp");
    assert_non_null(mkdtemp(dir));
}

static size_t count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    size_t n = 0;
    for (struct dirent *e; (e = readdir(d));)
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    return n;
}

static void write_raw(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    if (len)
        assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

/* ---------------------------------------------------------------------------------------------
 * a hand-written program with every opcode; each word worked out from the JSON bit positions:
 * bit b of the instruction is bit b % 32 of word b / 32, opcode in bits [7:0]. */

static const char k_hand_src[] =
    "# every opcode once\n"
    "nop                      # lowercase opcode\n"
    "END\n"
    "2: FENCE                 # index prefix\n"
    "CONFIG bin=0 act_signed=1 wgt_signed=1 rule=single omode=U8 act_zp=-128 out_zp=0x80 clamp_min=3 "
    "clamp_max=255\n"
    "\n"
    "   4:LOAD\tbuf=WGT pad_value=0x7f dram=0x12345680 sram=17 x_size=3 y_size=4 z_size=5 x_stride=16 "
    "y_stride=0x100 z_stride=0X1000 pad_x0=1 pad_x1=2 pad_y0=3 pad_y1=004\r\n"
    "STORE buf=3 dram=0x2000 x_size=1#no space before the comment\n"
    "GEMM accum=1 post=1 group=5 wgt=0x20 inp=7 acc=9 count0=10 count1=2 inp_s0=1 inp_s1=10 acc_s0=1 "
    "acc_s1=10 out=100 out_s0=1 out_s1=0xffff\n"
    "POST group=1 acc=2 count0=3 out=4\n"
    "PARAM acc=0x30\n"
    "VALU alu=MBQM b_imm=-1 a_buf=out a_signed=1 b=3 imm=-1 shift=-3\n"
    ".WORD 0xff 0 0 0 0 0 0 -0x1"; /* no final newline */

static const uint32_t k_hand_words[][QMAC_INSN_WORDS] = {
    /* NOP, END, FENCE: opcode only */
    {0x00000000u, 0, 0, 0, 0, 0, 0, 0},
    {0x00000001u, 0, 0, 0, 0, 0, 0, 0},
    {0x00000002u, 0, 0, 0, 0, 0, 0, 0},
    /* CONFIG: op 3 | act_signed [9] 0x200 | wgt_signed [10] 0x400 | rule SINGLE=1 [12:11] 0x800 |
     * omode U8=1 [14:13] 0x2000 | act_zp 0x80 [23:16] | out_zp 0x80 [31:24];
     * word 1: clamp_min 3 [39:32], clamp_max 0xff [47:40] */
    {0x80802e03u, 0x0000ff03u, 0, 0, 0, 0, 0, 0},
    /* LOAD: op 4 | buf WGT=1 [9:8] | pad_value 0x7f [23:16]; dram word 1; sram [79:64] low half and
     * x_size [95:80] high half of word 2; y_size, z_size word 3; strides words 4-6; pads bytes of 7 */
    {0x007f0104u, 0x12345680u, 0x00030011u, 0x00050004u, 0x00000010u, 0x00000100u, 0x00001000u, 0x04030201u},
    /* STORE: op 5 | buf OUT=3 [9:8]; dram word 1; x_size [95:80] */
    {0x00000305u, 0x00002000u, 0x00010000u, 0, 0, 0, 0, 0},
    /* GEMM: op 6 | accum [8] | post [9] | group 5 [12:10] 0x1400 | wgt 0x20 [31:16]; inp [47:32],
     * acc [63:48]; count0, count1; inp_s0, inp_s1; acc_s0, acc_s1; out, out_s0; out_s1 [207:192] */
    {0x00201706u, 0x00090007u, 0x0002000au, 0x000a0001u, 0x000a0001u, 0x00010064u, 0x0000ffffu, 0},
    /* POST: op 7 | group 1 [12:10]; acc 2 [63:48]; count0 3 [79:64]; out 4 [175:160] */
    {0x00000407u, 0x00020000u, 0x00000003u, 0, 0, 0x00000004u, 0, 0},
    /* PARAM: op 8; acc 0x30 [63:48] */
    {0x00000008u, 0x00300000u, 0, 0, 0, 0, 0, 0},
    /* VALU: op 9 | alu MBQM=9 [11:8] | b_imm [12] | a_buf OUT=2 [14:13] | a_signed [15] | b 3 [31:16];
     * imm -1 [223:192]; shift -3 = 0xfd [231:224] */
    {0x0003d909u, 0, 0, 0, 0, 0, 0xffffffffu, 0x000000fdu},
    /* .word */
    {0x000000ffu, 0, 0, 0, 0, 0, 0, 0xffffffffu},
};
#define N_HAND (sizeof k_hand_words / sizeof k_hand_words[0])

static void test_asm_hand_program(void **state)
{
    (void)state;
    qmac_prog p;
    assert_int_equal(qmac_asm_text(k_hand_src, "hand.qasm", &p), QMAC_OK);
    assert_int_equal(p.n_insn, N_HAND);
    for (size_t i = 0; i < N_HAND; i++) {
        char what[32];
        snprintf(what, sizeof what, "instruction %zu", i);
        assert_words(qmac_prog_insn(&p, i), k_hand_words[i], what);
    }
    /* every opcode of the ISA appears */
    unsigned seen = 0;
    for (size_t i = 0; i < N_HAND; i++)
        if ((k_hand_words[i][0] & 0xffu) < QMAC_OP_COUNT)
            seen |= 1u << (k_hand_words[i][0] & 0xffu);
    assert_int_equal(seen, (1u << QMAC_OP_COUNT) - 1u);
    qmac_prog_free(&p);
}

/* The same CONFIG, LOAD and GEMM built through qmac_prog_push from decoded structs. */
static void test_asm_prog_push_hand(void **state)
{
    (void)state;
    qmac_prog p;
    qmac_prog_init(&p);
    qmac_insn c = {.op = QMAC_OP_CONFIG};
    c.u.config = (qmac_insn_config){.act_signed = 1,
                                    .wgt_signed = 1,
                                    .rule = QMAC_RULE_SINGLE,
                                    .omode = QMAC_OMODE_U8,
                                    .act_zp = 0x80,
                                    .out_zp = 0x80,
                                    .clamp_min = 3,
                                    .clamp_max = 255};
    qmac_insn l = {.op = QMAC_OP_LOAD};
    l.u.load = (qmac_insn_load){.buf = QMAC_BUF_WGT,
                                .pad_value = 0x7f,
                                .dram = 0x12345680u,
                                .sram = 17,
                                .x_size = 3,
                                .y_size = 4,
                                .z_size = 5,
                                .x_stride = 16,
                                .y_stride = 0x100,
                                .z_stride = 0x1000,
                                .pad_x0 = 1,
                                .pad_x1 = 2,
                                .pad_y0 = 3,
                                .pad_y1 = 4};
    qmac_insn g = {.op = QMAC_OP_GEMM};
    g.u.gemm = (qmac_insn_gemm){.accum = 1,
                                .post = 1,
                                .group = 5,
                                .wgt = 0x20,
                                .inp = 7,
                                .acc = 9,
                                .count0 = 10,
                                .count1 = 2,
                                .inp_s0 = 1,
                                .inp_s1 = 10,
                                .acc_s0 = 1,
                                .acc_s1 = 10,
                                .out = 100,
                                .out_s0 = 1,
                                .out_s1 = 0xffff};
    assert_int_equal(qmac_prog_push(&p, &c), QMAC_OK);
    assert_int_equal(qmac_prog_push(&p, &l), QMAC_OK);
    assert_int_equal(qmac_prog_push(&p, &g), QMAC_OK);
    assert_words(qmac_prog_insn(&p, 0), k_hand_words[3], "CONFIG");
    assert_words(qmac_prog_insn(&p, 1), k_hand_words[4], "LOAD");
    assert_words(qmac_prog_insn(&p, 2), k_hand_words[6], "GEMM");

    /* values the encoder would have to truncate are refused, naming the field */
    qmac_insn bad = g;
    bad.u.gemm.group = 8;
    assert_int_equal(qmac_prog_push(&p, &bad), QMAC_ERR_INVALID_ARG);
    assert_non_null(strstr(qmac_last_error(), "group"));
    bad = l;
    bad.u.load.buf = 4;
    assert_int_equal(qmac_prog_push(&p, &bad), QMAC_ERR_INVALID_ARG);
    assert_non_null(strstr(qmac_last_error(), "buf"));
    bad = c;
    bad.u.config.rule = 3; /* fits 2 bits, but not a rule */
    assert_int_equal(qmac_prog_push(&p, &bad), QMAC_ERR_INVALID_ARG);
    assert_non_null(strstr(qmac_last_error(), "rule"));
    qmac_insn v = {.op = QMAC_OP_VALU};
    v.u.valu.shift = 128;
    assert_int_equal(qmac_prog_push(&p, &v), QMAC_ERR_INVALID_ARG);
    assert_non_null(strstr(qmac_last_error(), "shift"));
    v.u.valu.shift = -129;
    assert_int_equal(qmac_prog_push(&p, &v), QMAC_ERR_INVALID_ARG);
    v.u.valu.shift = -128;
    assert_int_equal(qmac_prog_push(&p, &v), QMAC_OK);
    qmac_insn o = {.op = (qmac_op)QMAC_OP_COUNT};
    assert_int_equal(qmac_prog_push(&p, &o), QMAC_ERR_INVALID_ARG);
    assert_int_equal(p.n_insn, 4);
    qmac_prog_free(&p);
    assert_null(p.words);
    assert_int_equal(p.n_insn, 0);
}

static void disasm_is(const uint32_t w[QMAC_INSN_WORDS], const char *want)
{
    char line[QMAC_DISASM_LINE_MAX];
    assert_int_equal(qmac_disasm_insn(w, line, sizeof line), QMAC_OK);
    assert_string_equal(line, want);
}

static void test_asm_disasm_text(void **state)
{
    (void)state;
    /* fields in table order; enum fields always, by name; others only when nonzero; 32-bit
     * fields in hex, signed fields signed */
    disasm_is(k_hand_words[0], "NOP");
    disasm_is(k_hand_words[3], "CONFIG act_signed=1 wgt_signed=1 rule=SINGLE omode=U8 act_zp=128 out_zp=128 "
                               "clamp_min=3 clamp_max=255");
    disasm_is(k_hand_words[4],
              "LOAD buf=WGT pad_value=127 dram=0x12345680 sram=17 x_size=3 y_size=4 z_size=5 "
              "x_stride=0x10 y_stride=0x100 z_stride=0x1000 pad_x0=1 pad_x1=2 pad_y0=3 pad_y1=4");
    disasm_is(k_hand_words[5], "STORE buf=OUT dram=0x2000 x_size=1");
    disasm_is(k_hand_words[8], "PARAM acc=48");
    disasm_is(k_hand_words[9], "VALU alu=MBQM b_imm=1 a_buf=OUT a_signed=1 b=3 imm=0xffffffff shift=-3");
    const uint32_t valu0[QMAC_INSN_WORDS] = {0x9u};
    disasm_is(valu0, "VALU alu=ADD a_buf=ACC");
    const uint32_t config0[QMAC_INSN_WORDS] = {0x3u};
    disasm_is(config0, "CONFIG rule=TFLITE omode=S8");

    /* illegal words: .word with the decoder's fault and field */
    disasm_is(k_hand_words[10], ".word 0x000000ff 0x00000000 0x00000000 0x00000000 0x00000000 0x00000000 "
                                "0x00000000 0xffffffff  # illegal: OPCODE op");
    const uint32_t nop_reserved[QMAC_INSN_WORDS] = {0, 0, 0, 0, 0, 0, 0, 0x80000000u};
    disasm_is(nop_reserved, ".word 0x00000000 0x00000000 0x00000000 0x00000000 0x00000000 0x00000000 "
                            "0x00000000 0x80000000  # illegal: FIELD reserved");
    const uint32_t config_rule3[QMAC_INSN_WORDS] = {0x3u | 3u << 11}; /* rule [12:11] = 3: no such rule */
    disasm_is(config_rule3, ".word 0x00001803 0x00000000 0x00000000 0x00000000 0x00000000 0x00000000 "
                            "0x00000000 0x00000000  # illegal: FIELD rule");
    const uint32_t valu_alu10[QMAC_INSN_WORDS] = {0x9u | 10u << 8}; /* alu [11:8] = 10: no such op */
    disasm_is(valu_alu10, ".word 0x00000a09 0x00000000 0x00000000 0x00000000 0x00000000 0x00000000 "
                          "0x00000000 0x00000000  # illegal: FIELD alu");
    const uint32_t valu_abuf3[QMAC_INSN_WORDS] = {0x9u | 3u << 13}; /* a_buf [14:13] = 3 */
    disasm_is(valu_abuf3, ".word 0x00006009 0x00000000 0x00000000 0x00000000 0x00000000 0x00000000 "
                          "0x00000000 0x00000000  # illegal: FIELD a_buf");

    /* a buffer too small is an error, never a truncated line */
    char small[8];
    assert_int_equal(qmac_disasm_insn(k_hand_words[3], small, sizeof small), QMAC_ERR_INVALID_ARG);
}

/* The listing of the hand program re-assembles to the same words. */
static void test_asm_listing_round_trip(void **state)
{
    (void)state;
    qmac_prog p, q;
    assert_int_equal(qmac_asm_text(k_hand_src, "hand.qasm", &p), QMAC_OK);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    assert_int_equal(qmac_disasm_prog(&p, f), QMAC_OK);
    assert_int_equal(fclose(f), 0);
    assert_non_null(strstr(text, "     0: NOP\n     1: END\n     2: FENCE\n     3: CONFIG "));
    assert_non_null(strstr(text, "\n    10: .word 0x000000ff "));
    assert_int_equal(qmac_asm_text(text, "listing", &q), QMAC_OK);
    assert_int_equal(q.n_insn, p.n_insn);
    assert_memory_equal(q.words, p.words, p.n_insn * QMAC_INSN_BYTES);
    free(text);
    qmac_prog_free(&p);
    qmac_prog_free(&q);
}

/* ---------------------------------------------------------------------------------------------
 * random round trips */

/* A random legal instruction built from the tables: random opcode, every field a random value of
 * its range (biased towards 0, the extremes and enum values). */
static void random_insn(qmac_insn *insn)
{
    memset(insn, 0, sizeof *insn);
    insn->op = (qmac_op)rng_below(QMAC_OP_COUNT);
    const qmac_isa_format *fmt = &qmac_isa_formats[insn->op];
    for (uint32_t i = 0; i < fmt->n_fields; i++) {
        const qmac_isa_field *f = &fmt->fields[i];
        int64_t lo, hi, v;
        qmac_prog_field_range(f, &lo, &hi);
        if (f->enumeration) {
            v = f->enumeration->values[rng_below(f->enumeration->count)];
        } else {
            switch (rng_below(6)) {
            case 0: v = 0; break;
            case 1: v = hi; break;
            case 2: v = lo; break;
            default: v = lo + (int64_t)(rng_next() % (uint64_t)(hi - lo + 1)); break;
            }
        }
        qmac_prog_field_set(insn, f, v);
    }
}

static void test_asm_random_legal_round_trip(void **state)
{
    (void)state;
    const uint64_t seed = seed_from_env("test_asm_random_legal_round_trip");
    g_rng = seed;
    enum { CASES = 10000 };
    qmac_prog all;
    qmac_prog_init(&all);
    char line[QMAC_DISASM_LINE_MAX];
    for (int k = 0; k < CASES; k++) {
        qmac_insn insn;
        random_insn(&insn);
        const size_t at = all.n_insn;
        assert_int_equal(qmac_prog_push(&all, &insn), QMAC_OK);
        const uint32_t *w = qmac_prog_insn(&all, at);
        qmac_insn back;
        const char *bad = NULL;
        assert_int_equal(qmac_insn_decode(w, &back, &bad), QMAC_FAULT_NONE);
        assert_int_equal(qmac_disasm_insn(w, line, sizeof line), QMAC_OK);
        assert_null(strstr(line, ".word"));
        qmac_prog one;
        const qmac_status st = qmac_asm_text(line, "rt", &one);
        if (st != QMAC_OK || one.n_insn != 1 || memcmp(qmac_prog_insn(&one, 0), w, QMAC_INSN_BYTES) != 0) {
            print_message("case %d: '%s' does not re-assemble (%s) (seed %" PRIu64 ")\n", k, line,
                          st == QMAC_OK ? "different words" : qmac_last_error(), seed);
            fail();
        }
        qmac_prog_free(&one);
    }
    /* the whole listing at once (indices checked) */
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    assert_int_equal(qmac_disasm_prog(&all, f), QMAC_OK);
    assert_int_equal(fclose(f), 0);
    qmac_prog back;
    assert_int_equal(qmac_asm_text(text, "listing", &back), QMAC_OK);
    assert_int_equal(back.n_insn, CASES);
    assert_memory_equal(back.words, all.words, (size_t)CASES * QMAC_INSN_BYTES);
    free(text);
    qmac_prog_free(&back);
    qmac_prog_free(&all);
}

static void test_asm_random_garbage_round_trip(void **state)
{
    (void)state;
    const uint64_t seed = seed_from_env("test_asm_random_garbage_round_trip");
    g_rng = seed;
    enum { CASES = 10000 };
    char line[QMAC_DISASM_LINE_MAX];
    int illegal = 0;
    for (int k = 0; k < CASES; k++) {
        uint32_t w[QMAC_INSN_WORDS];
        switch (rng_below(3)) {
        case 0: /* fully random */
            for (unsigned i = 0; i < QMAC_INSN_WORDS; i++)
                w[i] = (uint32_t)rng_next();
            break;
        case 1: /* random words under a known opcode: mostly reserved-bit faults */
            for (unsigned i = 0; i < QMAC_INSN_WORDS; i++)
                w[i] = (uint32_t)rng_next() & (rng_below(2) ? 0xffffffffu : 0u);
            w[0] = (w[0] & ~0xffu) | rng_below(QMAC_OP_COUNT);
            break;
        default: { /* a legal instruction with one bit flipped */
            qmac_insn insn;
            random_insn(&insn);
            qmac_insn_encode(&insn, w);
            const unsigned b = rng_below(QMAC_INSN_BITS);
            w[b / 32] ^= 1u << (b % 32);
            break;
        }
        }
        qmac_insn insn;
        illegal += qmac_insn_decode(w, &insn, NULL) != QMAC_FAULT_NONE;
        assert_int_equal(qmac_disasm_insn(w, line, sizeof line), QMAC_OK);
        qmac_prog one;
        const qmac_status st = qmac_asm_text(line, "garbage", &one);
        if (st != QMAC_OK || one.n_insn != 1 || memcmp(qmac_prog_insn(&one, 0), w, QMAC_INSN_BYTES) != 0) {
            print_message("case %d: '%s' does not re-assemble (%s) (seed %" PRIu64 ")\n", k, line,
                          st == QMAC_OK ? "different words" : qmac_last_error(), seed);
            fail();
        }
        qmac_prog_free(&one);
    }
    print_message("test_asm_random_garbage_round_trip: %d of %d illegal\n", illegal, (int)CASES);
    assert_true(illegal > CASES / 2);
}

/* ---------------------------------------------------------------------------------------------
 * assembler errors: each names "<source>:<line>:" and the culprit */

typedef struct {
    const char *src;
    int line; /* 0: the message names no line */
    const char *want[3];
} err_case;

static const err_case k_errors[] = {
    /* unknown opcode */
    {"NOP\nFROB x=1\n", 2, {"unknown opcode", "'FROB'"}},
    {"NOP\n\n  7 NOP\n", 3, {"unknown opcode", "'7'"}},
    /* unknown field for that opcode (exists elsewhere, wrong case) */
    {"GEMM bogus=1", 1, {"unknown field", "'bogus'", "GEMM"}},
    {"# c\nPOST wgt=1", 2, {"unknown field", "'wgt'", "POST"}},
    {"GEMM ACC=1", 1, {"unknown field", "'ACC'"}},
    {"NOP x=1", 1, {"unknown field", "'x'", "NOP"}},
    {"GEMM =1", 1, {"unknown field", "''"}},
    /* duplicate field */
    {"NOP\n\nGEMM acc=1 inp=2 acc=2", 3, {"duplicate field", "'acc'"}},
    /* missing '=' */
    {"GEMM acc 5", 1, {"missing '='", "'acc'"}},
    {"END\nLOAD buf:WGT", 2, {"missing '='", "'buf:WGT'"}},
    /* bad number */
    {"GEMM acc=12z", 1, {"bad number", "'12z'", "acc"}},
    {"GEMM acc=0x", 1, {"bad number", "'0x'"}},
    {"GEMM acc=", 1, {"bad number", "''"}},
    {"GEMM acc=--1", 1, {"bad number", "'--1'"}},
    {"GEMM acc=1.5", 1, {"bad number", "'1.5'"}},
    {"GEMM acc=ten", 1, {"bad number", "'ten'"}},
    {"LOAD buf=0xq", 1, {"bad number", "'0xq'", "buf"}},
    /* value out of range */
    {"GEMM acc=65536", 1, {"out of range", "'65536'", "acc"}},
    {"GEMM acc=-32769", 1, {"out of range", "'-32769'", "acc"}},
    {"GEMM accum=2", 1, {"out of range", "'2'", "accum"}},
    {"LOAD dram=0x100000000", 1, {"out of range", "'0x100000000'", "dram"}},
    {"LOAD dram=99999999999999999999999", 1, {"out of range", "dram"}},
    {"VALU shift=128", 1, {"out of range", "'128'", "shift"}},
    {"VALU shift=0xff", 1, {"out of range", "'0xff'", "shift"}},
    {"VALU shift=-129", 1, {"out of range", "'-129'", "shift"}},
    {"CONFIG rule=3", 1, {"out of range", "'3'", "rule"}},
    {"VALU alu=10", 1, {"out of range", "'10'", "alu"}},
    {"LOAD buf=-1", 1, {"out of range", "'-1'", "buf"}},
    /* unknown enum name */
    {"LOAD buf=FOO", 1, {"unknown buf name", "'FOO'", "INP, WGT, ACC, OUT"}},
    {"VALU a_buf=WGT", 1, {"unknown abuf name", "'WGT'"}},
    {"CONFIG omode=", 1, {"unknown omode name", "''"}},
    /* index mismatch, bad index */
    {"NOP\n5: END", 2, {"index mismatch", "'5:'"}},
    {"0: NOP\n0: END", 2, {"index mismatch", "'0:'"}},
    {"0x0: NOP", 1, {"bad index", "'0x0:'"}},
    {"NOP\n1:", 2, {"without an instruction", "'1'"}},
    /* wrong .word count, bad .word values */
    {"NOP\n.word 1 2 3", 2, {".word", "got 3"}},
    {".word 1 2 3 4 5 6 7 8 9", 1, {".word", "got 9"}},
    {".word", 1, {".word", "got 0"}},
    {".word 1 2 3 4 5 6 7 zz", 1, {"bad number", "'zz'"}},
    {".word 0x100000000 0 0 0 0 0 0 0", 1, {"out of range", "'0x100000000'"}},
    /* nothing to assemble */
    {"# only a comment\n\n   \n", 0, {"no instructions"}},
    {"", 0, {"no instructions"}},
};

static void test_asm_errors(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof k_errors / sizeof k_errors[0]; i++) {
        const err_case *e = &k_errors[i];
        qmac_prog p;
        qmac_clear_error();
        const qmac_status st = qmac_asm_text(e->src, "bad.qasm", &p);
        const char *msg = qmac_last_error();
        char where[64];
        if (e->line)
            snprintf(where, sizeof where, "bad.qasm:%d: ", e->line);
        else
            snprintf(where, sizeof where, "bad.qasm: ");
        int ok = st == QMAC_ERR_FORMAT && strncmp(msg, where, strlen(where)) == 0;
        for (int k = 0; k < 3 && e->want[k]; k++)
            ok = ok && strstr(msg, e->want[k]) != NULL;
        if (!ok) {
            print_message("case %zu %s: status %d, message \"%s\"; expected \"%s...\" with", i, e->src,
                          (int)st, msg, where);
            for (int k = 0; k < 3 && e->want[k]; k++)
                print_message(" \"%s\"", e->want[k]);
            print_message("\n");
            fail();
        }
        assert_int_equal(p.n_insn, 0);
        assert_null(p.words);
    }
}

/* Accepted spellings: any-case opcodes and enum names, enum numbers, leading zeros, negative
 * values in two's complement, tabs and CRLF, "N:OP", comments anywhere. */
static void test_asm_syntax_variants(void **state)
{
    (void)state;
    static const struct {
        const char *a, *b;
    } same[] = {
        {"LOAD buf=acc", "load buf=2"},
        {"LOAD buf=Acc pad_value=-1", "LOAD buf=ACC pad_value=255"},
        {"GEMM acc=010", "GEMM acc=10"},
        {"GEMM acc=0XfF", "GEMM acc=255"},
        {"GEMM acc=-1 accum=-1", "GEMM acc=0xffff accum=1"},
        {"LOAD dram=-0x80000000", "LOAD dram=0x80000000"},
        {"VALU shift=-128", "VALU shift=-0x80"},
        {"0:GEMM\tacc=1\r", "GEMM acc=1 # comment"},
        {"  0:   GEMM acc=1   ", "GEMM acc=1#c"},
        {"\n# c\n\nGEMM acc=1\n\n", "GEMM acc=1"},
        {".word -1 0 0 0 0 0 0 0", ".word 0xffffffff 0 0 0 0 0 0 00"},
    };
    for (size_t i = 0; i < sizeof same / sizeof same[0]; i++) {
        qmac_prog a, b;
        if (qmac_asm_text(same[i].a, "a", &a) != QMAC_OK || qmac_asm_text(same[i].b, "b", &b) != QMAC_OK) {
            print_message("case %zu: %s\n", i, qmac_last_error());
            fail();
        }
        assert_int_equal(a.n_insn, 1);
        assert_int_equal(b.n_insn, 1);
        assert_memory_equal(a.words, b.words, QMAC_INSN_BYTES);
        qmac_prog_free(&a);
        qmac_prog_free(&b);
    }
}

/* ---------------------------------------------------------------------------------------------
 * files */

static void test_asm_prog_file_round_trip(void **state)
{
    (void)state;
    char dir[256], path[320];
    make_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/hand.qbin", dir);
    qmac_prog p, q;
    assert_int_equal(qmac_asm_text(k_hand_src, "hand.qasm", &p), QMAC_OK);
    assert_int_equal(qmac_prog_write(&p, path), QMAC_OK);
    assert_int_equal(count_entries(dir), 1); /* no temporary left */

    /* the bytes are little endian whatever the host */
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    unsigned char b[N_HAND * QMAC_INSN_BYTES + 1];
    assert_int_equal(fread(b, 1, sizeof b, f), N_HAND * QMAC_INSN_BYTES);
    fclose(f);
    /* CONFIG (instruction 3) word 0 = 0x80802e03, word 1 = 0x0000ff03 */
    static const unsigned char config_bytes[8] = {0x03, 0x2e, 0x80, 0x80, 0x03, 0xff, 0x00, 0x00};
    assert_memory_equal(b + 3 * QMAC_INSN_BYTES, config_bytes, sizeof config_bytes);
    /* LOAD (instruction 4) word 7 = 0x04030201: the last 4 bytes */
    static const unsigned char load_w7[4] = {0x01, 0x02, 0x03, 0x04};
    assert_memory_equal(b + 5 * QMAC_INSN_BYTES - 4, load_w7, sizeof load_w7);

    assert_int_equal(qmac_prog_read(path, &q), QMAC_OK);
    assert_int_equal(q.n_insn, N_HAND);
    assert_memory_equal(q.words, p.words, N_HAND * QMAC_INSN_BYTES);

    /* overwrite in place */
    qmac_prog one;
    assert_int_equal(qmac_asm_text("END", "end", &one), QMAC_OK);
    assert_int_equal(qmac_prog_write(&one, path), QMAC_OK);
    qmac_prog_free(&q);
    assert_int_equal(qmac_prog_read(path, &q), QMAC_OK);
    assert_int_equal(q.n_insn, 1);
    assert_int_equal(q.words[0], 1);

    /* the listing file re-assembles */
    char lst[340];
    snprintf(lst, sizeof lst, "%s/hand.qasm", dir);
    assert_int_equal(qmac_disasm_prog_write(&p, lst), QMAC_OK);
    qmac_prog r;
    assert_int_equal(qmac_asm_file(lst, &r), QMAC_OK);
    assert_int_equal(r.n_insn, N_HAND);
    assert_memory_equal(r.words, p.words, N_HAND * QMAC_INSN_BYTES);
    assert_int_equal(count_entries(dir), 2);

    unlink(lst);
    unlink(path);
    rmdir(dir);
    qmac_prog_free(&p);
    qmac_prog_free(&q);
    qmac_prog_free(&one);
    qmac_prog_free(&r);
}

static void test_asm_prog_bad_sizes(void **state)
{
    (void)state;
    char dir[256], path[320];
    make_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/bad.qbin", dir);
    unsigned char zeros[100];
    memset(zeros, 0, sizeof zeros);
    static const size_t sizes[] = {0, 1, 31, 33, 63, 65, 96 + 4};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        write_raw(path, zeros, sizes[i]);
        qmac_prog p;
        assert_int_equal(qmac_prog_read(path, &p), QMAC_ERR_FORMAT);
        char size_s[32];
        snprintf(size_s, sizeof size_s, "size %zu bytes", sizes[i]);
        assert_non_null(strstr(qmac_last_error(), path));
        assert_non_null(strstr(qmac_last_error(), size_s));
        assert_int_equal(p.n_insn, 0);
        assert_null(p.words);
    }
    write_raw(path, zeros, 64);
    qmac_prog p;
    assert_int_equal(qmac_prog_read(path, &p), QMAC_OK);
    assert_int_equal(p.n_insn, 2);
    qmac_prog_free(&p);
    unlink(path);

    /* missing file */
    assert_int_equal(qmac_prog_read(path, &p), QMAC_ERR_IO);
    assert_non_null(strstr(qmac_last_error(), "bad.qbin"));
    assert_int_equal(qmac_asm_file(path, &p), QMAC_ERR_IO);

    /* a NUL byte in a source file */
    write_raw(path, "NOP\nEND\0\n", 9);
    assert_int_equal(qmac_asm_file(path, &p), QMAC_ERR_FORMAT);
    assert_non_null(strstr(qmac_last_error(), ":2: NUL byte"));
    unlink(path);
    rmdir(dir);
}

/* A failed write leaves nothing behind: not the target, not the temporary. */
static void test_asm_prog_write_failure(void **state)
{
    (void)state;
    char dir[256], path[320];
    make_tmpdir(dir, sizeof dir);
    qmac_prog p;
    assert_int_equal(qmac_asm_text("NOP\nEND", "t", &p), QMAC_OK);

    snprintf(path, sizeof path, "%s/no/such/dir/x.qbin", dir);
    assert_int_equal(qmac_prog_write(&p, path), QMAC_ERR_IO);
    assert_non_null(strstr(qmac_last_error(), "x.qbin"));

    /* the target is a directory: rename fails after the temporary was written */
    snprintf(path, sizeof path, "%s/target", dir);
    assert_int_equal(mkdir(path, 0777), 0);
    assert_int_equal(qmac_prog_write(&p, path), QMAC_ERR_IO);
    assert_non_null(strstr(qmac_last_error(), "rename"));
    assert_int_equal(qmac_disasm_prog_write(&p, path), QMAC_ERR_IO);
    assert_int_equal(count_entries(dir), 1);
    rmdir(path);

    /* an empty program is not a valid .qbin */
    qmac_prog empty;
    qmac_prog_init(&empty);
    snprintf(path, sizeof path, "%s/empty.qbin", dir);
    assert_int_equal(qmac_prog_write(&empty, path), QMAC_ERR_INVALID_ARG);
    assert_int_equal(count_entries(dir), 0);
    rmdir(dir);
    qmac_prog_free(&p);
}

/* A long program grows past the first allocations. */
static void test_asm_prog_grow(void **state)
{
    (void)state;
    qmac_prog p;
    qmac_prog_init(&p);
    for (uint32_t i = 0; i < 5000; i++) {
        const uint32_t w[QMAC_INSN_WORDS] = {i, i + 1, 0, 0, 0, 0, 0, ~i};
        assert_int_equal(qmac_prog_push_words(&p, w), QMAC_OK);
    }
    assert_int_equal(p.n_insn, 5000);
    assert_true(p.cap >= p.n_insn);
    for (uint32_t i = 0; i < 5000; i++) {
        const uint32_t *w = qmac_prog_insn(&p, i);
        assert_int_equal(w[0], i);
        assert_int_equal(w[1], i + 1);
        assert_int_equal(w[7], ~i);
    }
    qmac_prog_free(&p);
    qmac_prog_free(NULL);
}

/* ---------------------------------------------------------------------------------------------
 * registration */

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_asm_hand_program),
        cmocka_unit_test(test_asm_prog_push_hand),
        cmocka_unit_test(test_asm_disasm_text),
        cmocka_unit_test(test_asm_listing_round_trip),
        cmocka_unit_test(test_asm_random_legal_round_trip),
        cmocka_unit_test(test_asm_random_garbage_round_trip),
        cmocka_unit_test(test_asm_errors),
        cmocka_unit_test(test_asm_syntax_variants),
        cmocka_unit_test(test_asm_prog_file_round_trip),
        cmocka_unit_test(test_asm_prog_bad_sizes),
        cmocka_unit_test(test_asm_prog_write_failure),
        cmocka_unit_test(test_asm_prog_grow),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
