/* test_accel.c - the golden model of the accelerator (sw/src/accel.c) and the instruction checks
 * (sw/src/isa.c), instruction by instruction: every fault class at its exact boundary, and each
 * instruction's effect against values derived by hand or computed here with plain loops from
 * the definitions in docs/isa.md (never from the model's own output). Mostly on the small build
 * (N = 4) so that expected rows stay readable. Seed: printed; override with QMAC_SEED=<n>. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qmac/accel.h"
#include "qmac/requant.h"

#define MEM_BASE 0x10000u
#define MEM_SIZE 0x10000u

static uint64_t g_rng;

static uint64_t splitmix64(void)
{
    uint64_t z = (g_rng += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

typedef struct {
    qmac_accel *a;
    qmac_hw_config cfg;
    uint8_t mem_bytes[MEM_SIZE];
    qmac_accel_mem mem;
    qmac_window win;
} fixture;

static int setup_small(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    qmac_hw_config_small(&f->cfg);
    if (qmac_accel_create(&f->cfg, &f->a) != QMAC_OK)
        return -1;
    f->mem = (qmac_accel_mem){f->mem_bytes, MEM_BASE, MEM_SIZE};
    f->win = (qmac_window){MEM_BASE, MEM_BASE + MEM_SIZE - 1u};
    for (uint32_t i = 0; i < MEM_SIZE; i++)
        f->mem_bytes[i] = (uint8_t)(i * 7u + (i >> 8));
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    qmac_accel_free(f->a);
    free(f);
    return 0;
}

static qmac_fault check(fixture *f, qmac_insn in, const char **why)
{
    uint32_t w[QMAC_INSN_WORDS];
    qmac_insn dec;
    qmac_insn_encode(&in, w);
    return qmac_insn_check(w, &f->cfg, &f->win, &dec, why);
}

/* check, then execute; asserts the instruction is legal */
static void exec_ok(fixture *f, qmac_insn in)
{
    uint32_t w[QMAC_INSN_WORDS];
    qmac_insn dec;
    const char *why = NULL;
    qmac_insn_encode(&in, w);
    const qmac_fault fc = qmac_insn_check(w, &f->cfg, &f->win, &dec, &why);
    if (fc != QMAC_FAULT_NONE)
        fail_msg("%s unexpectedly faults: %s (%s)", qmac_isa_formats[in.op].name, qmac_fault_name(fc),
                 why ? why : "");
    assert_int_equal(qmac_accel_exec(f->a, &dec, &f->mem, NULL), QMAC_FAULT_NONE);
}

static uint8_t *row(fixture *f, qmac_buf b, uint32_t r)
{
    return qmac_accel_buffer(f->a, b) + (size_t)r * qmac_buf_row_bytes(&f->cfg, b);
}

static int32_t lane(fixture *f, uint32_t acc_row, uint32_t l)
{
    const uint8_t *p = row(f, QMAC_BUF_ACC, acc_row) + 4 * l;
    return (int32_t)((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
}

static void set_lane(fixture *f, uint32_t acc_row, uint32_t l, int32_t v)
{
    uint8_t *p = row(f, QMAC_BUF_ACC, acc_row) + 4 * l;
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)((uint32_t)v >> (8 * i));
}

/* ------------------------------------------------------------------------------ faults */

static void test_accel_check_opcode_and_reserved(void **state)
{
    fixture *f = *state;
    uint32_t w[QMAC_INSN_WORDS] = {0};
    qmac_insn in;
    const char *why;
    w[0] = QMAC_OP_COUNT; /* first unknown opcode */
    assert_int_equal(qmac_insn_check(w, &f->cfg, &f->win, &in, &why), QMAC_FAULT_OPCODE);
    w[0] = 0xff;
    assert_int_equal(qmac_insn_check(w, &f->cfg, &f->win, &in, &why), QMAC_FAULT_OPCODE);
    /* every reserved bit of every opcode faults FIELD on its own, every field bit does not */
    for (uint32_t op = 0; op < QMAC_OP_COUNT; op++) {
        for (uint32_t bit = 8; bit < QMAC_INSN_BITS; bit++) {
            memset(w, 0, sizeof w);
            w[0] = op;
            w[bit / 32] |= 1u << (bit % 32);
            const bool reserved = (qmac_isa_formats[op].reserved[bit / 32] >> (bit % 32)) & 1u;
            const qmac_fault fc = qmac_insn_decode(w, &in, &why);
            if (reserved) {
                assert_int_equal(fc, QMAC_FAULT_FIELD);
                assert_string_equal(why, "reserved");
            } else {
                /* a single field bit decodes unless it makes an enum value out of range */
                assert_true(fc == QMAC_FAULT_NONE || fc == QMAC_FAULT_FIELD);
            }
        }
    }
    /* NOP with nothing else set is legal */
    memset(w, 0, sizeof w);
    assert_int_equal(qmac_insn_check(w, &f->cfg, &f->win, &in, &why), QMAC_FAULT_NONE);
}

static void test_accel_check_enums_and_clamp(void **state)
{
    fixture *f = *state;
    const char *why;
    assert_int_equal(check(f, QMAC_INSN_CONFIG(.rule = 3), &why), QMAC_FAULT_FIELD);
    assert_string_equal(why, "rule");
    assert_int_equal(check(f, QMAC_INSN_CONFIG(.omode = 3), &why), QMAC_FAULT_FIELD);
    assert_int_equal(check(f, QMAC_INSN_VALU(.alu = QMAC_ALU_COUNT, .count0 = 1, .count1 = 1), &why),
                     QMAC_FAULT_FIELD);
    assert_string_equal(why, "alu");
    assert_int_equal(check(f, QMAC_INSN_VALU(.a_buf = 3), &why), QMAC_FAULT_FIELD);
    /* clamp order depends on omode: 0x80 is -128 in S8 but 128 in U8 */
    assert_int_equal(
        check(f, QMAC_INSN_CONFIG(.omode = QMAC_OMODE_S8, .clamp_min = 0x7f, .clamp_max = 0x80), &why),
        QMAC_FAULT_FIELD);
    assert_string_equal(why, "clamp_min > clamp_max");
    assert_int_equal(
        check(f, QMAC_INSN_CONFIG(.omode = QMAC_OMODE_U8, .clamp_min = 0x7f, .clamp_max = 0x80), &why),
        QMAC_FAULT_NONE);
    assert_int_equal(
        check(f, QMAC_INSN_CONFIG(.omode = QMAC_OMODE_S8, .clamp_min = 0x80, .clamp_max = 0x7f), &why),
        QMAC_FAULT_NONE);
    assert_int_equal(check(f, QMAC_INSN_CONFIG(.omode = QMAC_OMODE_U8, .clamp_min = 5, .clamp_max = 5), &why),
                     QMAC_FAULT_NONE);
    /* BIN ignores the clamp */
    assert_int_equal(
        check(f, QMAC_INSN_CONFIG(.omode = QMAC_OMODE_BIN, .clamp_min = 9, .clamp_max = 1), &why),
        QMAC_FAULT_NONE);
}

static void test_accel_check_align(void **state)
{
    fixture *f = *state; /* N = 4: addresses and strides must be multiples of 4 */
    const char *why;
    const qmac_insn ok = QMAC_INSN_LOAD(.dram = MEM_BASE, .x_size = 1, .y_size = 1, .z_size = 1,
                                        .x_stride = 4, .y_stride = 8, .z_stride = 12);
    assert_int_equal(check(f, ok, &why), QMAC_FAULT_NONE);
    qmac_insn in = ok;
    in.u.load.dram += 2;
    assert_int_equal(check(f, in, &why), QMAC_FAULT_ALIGN);
    assert_string_equal(why, "dram");
    in = ok;
    in.u.load.y_stride = 6;
    assert_int_equal(check(f, in, &why), QMAC_FAULT_ALIGN);
    assert_string_equal(why, "y_stride");
    /* checked even when the loop does not use the stride, and for STORE */
    assert_int_equal(check(f, QMAC_INSN_STORE(.dram = MEM_BASE, .z_stride = 1), &why), QMAC_FAULT_ALIGN);
    assert_string_equal(why, "z_stride");
    /* ALIGN is reported before BUF_RANGE */
    assert_int_equal(
        check(f, QMAC_INSN_LOAD(.dram = 1, .sram = 300, .x_size = 1, .y_size = 1, .z_size = 1), &why),
        QMAC_FAULT_ALIGN);
}

static void test_accel_check_buf_range(void **state)
{
    fixture *f = *state; /* 256 rows per buffer */
    const char *why;
    /* LOAD rows = z * (py0 + y + py1) * (px0 + x + px1) = 2 * (1 + 3 + 2) * (2 + 5 + 1) = 96 */
    qmac_insn in = QMAC_INSN_LOAD(.buf = QMAC_BUF_INP, .dram = MEM_BASE, .sram = 160, .x_size = 5,
                                  .y_size = 3, .z_size = 2, .x_stride = 4, .y_stride = 64, .z_stride = 256,
                                  .pad_x0 = 2, .pad_x1 = 1, .pad_y0 = 1, .pad_y1 = 2);
    assert_int_equal(check(f, in, &why), QMAC_FAULT_NONE); /* rows 160..255 */
    in.u.load.sram = 161;
    assert_int_equal(check(f, in, &why), QMAC_FAULT_BUF_RANGE);
    assert_string_equal(why, "INP rows");
    /* padding only (x = 0): still writes rows, so still range-checked, and no window check */
    in = QMAC_INSN_LOAD(.buf = QMAC_BUF_WGT, .dram = 0, .sram = 255, .z_size = 1, .y_size = 1, .pad_x0 = 2);
    assert_int_equal(check(f, in, &why), QMAC_FAULT_BUF_RANGE);
    assert_string_equal(why, "WGT rows");
    in.u.load.sram = 254;
    assert_int_equal(check(f, in, &why), QMAC_FAULT_NONE);
    /* GEMM: last INP row = inp + (c0-1)*s0 + (c1-1)*s1 = 10 + 3*5 + 2*100 = 225 */
    qmac_insn g = QMAC_INSN_GEMM(.wgt = 252, .inp = 10, .acc = 0, .count0 = 4, .count1 = 3, .inp_s0 = 5,
                                 .inp_s1 = 100, .acc_s0 = 1, .acc_s1 = 4);
    assert_int_equal(check(f, g, &why), QMAC_FAULT_NONE);
    g.u.gemm.inp_s1 = 116; /* 10 + 15 + 232 = 257 */
    assert_int_equal(check(f, g, &why), QMAC_FAULT_BUF_RANGE);
    assert_string_equal(why, "INP rows");
    g.u.gemm.inp_s1 = 100;
    g.u.gemm.wgt = 253; /* tile rows 253..256 */
    assert_int_equal(check(f, g, &why), QMAC_FAULT_BUF_RANGE);
    assert_string_equal(why, "WGT rows");
    g.u.gemm.wgt = 0;
    g.u.gemm.post = 1;
    g.u.gemm.out = 0xffff; /* OUT only matters with post */
    assert_int_equal(check(f, g, &why), QMAC_FAULT_BUF_RANGE);
    assert_string_equal(why, "OUT rows");
    g.u.gemm.post = 0;
    assert_int_equal(check(f, g, &why), QMAC_FAULT_NONE);
    /* empty loops touch nothing: a GEMM of zero vectors never faults on ranges */
    assert_int_equal(check(f, QMAC_INSN_GEMM(.wgt = 0xffff, .inp = 0xffff, .count0 = 0, .count1 = 7), &why),
                     QMAC_FAULT_NONE);
    /* PARAM reads 3 rows */
    assert_int_equal(check(f, QMAC_INSN_PARAM(.acc = 253), &why), QMAC_FAULT_NONE);
    assert_int_equal(check(f, QMAC_INSN_PARAM(.acc = 254), &why), QMAC_FAULT_BUF_RANGE);
    /* VALU: B is not read by MOV or with b_imm, so its range is free then */
    qmac_insn v = QMAC_INSN_VALU(.alu = QMAC_ALU_ADD, .b = 0xffff, .count0 = 1, .count1 = 1);
    assert_int_equal(check(f, v, &why), QMAC_FAULT_BUF_RANGE);
    assert_string_equal(why, "ACC rows");
    v.u.valu.b_imm = 1;
    assert_int_equal(check(f, v, &why), QMAC_FAULT_NONE);
    v.u.valu.b_imm = 0;
    v.u.valu.alu = QMAC_ALU_MOV;
    assert_int_equal(check(f, v, &why), QMAC_FAULT_NONE);
    v.u.valu.a_buf = QMAC_ABUF_OUT;
    v.u.valu.a = 256;
    assert_int_equal(check(f, v, &why), QMAC_FAULT_BUF_RANGE);
    assert_string_equal(why, "OUT rows");
}

static void test_accel_check_window(void **state)
{
    fixture *f = *state;
    const char *why;
    f->win = (qmac_window){MEM_BASE + 0x100, MEM_BASE + 0x1ff}; /* 256 bytes, inclusive */
    /* ACC rows are 16 bytes on N = 4: x = 16 rows end exactly at the window's last byte */
    qmac_insn in = QMAC_INSN_LOAD(.buf = QMAC_BUF_ACC, .dram = MEM_BASE + 0x100, .x_size = 16, .y_size = 1,
                                  .z_size = 1, .x_stride = 16);
    assert_int_equal(check(f, in, &why), QMAC_FAULT_NONE);
    in.u.load.x_size = 17;
    assert_int_equal(check(f, in, &why), QMAC_FAULT_WINDOW);
    assert_string_equal(why, "memory bytes");
    in.u.load.x_size = 1;
    in.u.load.dram = MEM_BASE + 0xfc;
    assert_int_equal(check(f, in, &why), QMAC_FAULT_WINDOW);
    /* the far corner counts: z and y strides */
    in = QMAC_INSN_STORE(.buf = QMAC_BUF_OUT, .dram = MEM_BASE + 0x100, .x_size = 1, .y_size = 2, .z_size = 2,
                         .y_stride = 0x40, .z_stride = 0xbc);
    assert_int_equal(check(f, in, &why), QMAC_FAULT_NONE); /* last row at 0x100+0x40+0xbc = 0x1fc..0x1ff */
    in.u.store.z_stride = 0xc0;
    assert_int_equal(check(f, in, &why), QMAC_FAULT_WINDOW);
    /* huge strides do not wrap around 2^32 */
    in = QMAC_INSN_LOAD(.buf = QMAC_BUF_INP, .dram = MEM_BASE + 0x100, .x_size = 2, .y_size = 1, .z_size = 1,
                        .x_stride = 0xfffffffc);
    assert_int_equal(check(f, in, &why), QMAC_FAULT_WINDOW);
    /* an empty window allows nothing */
    f->win = (qmac_window){1, 0};
    in = QMAC_INSN_LOAD(.buf = QMAC_BUF_INP, .dram = 0, .x_size = 1, .y_size = 1, .z_size = 1);
    assert_int_equal(check(f, in, &why), QMAC_FAULT_WINDOW);
}

static void test_accel_fetch_faults(void **state)
{
    fixture *f = *state;
    uint32_t w[QMAC_INSN_WORDS];
    assert_int_equal(qmac_accel_fetch(&f->mem, MEM_BASE, &f->win, 0, w), QMAC_FAULT_NONE);
    assert_int_equal(w[0], (uint32_t)f->mem_bytes[0] | (uint32_t)f->mem_bytes[1] << 8 |
                               (uint32_t)f->mem_bytes[2] << 16 | (uint32_t)f->mem_bytes[3] << 24);
    assert_int_equal(qmac_accel_fetch(&f->mem, MEM_BASE + 16, &f->win, 0, w), QMAC_FAULT_FETCH);
    /* the last instruction that fits in the window, and the next */
    const uint64_t last = MEM_SIZE / 32 - 1;
    assert_int_equal(qmac_accel_fetch(&f->mem, MEM_BASE, &f->win, last, w), QMAC_FAULT_NONE);
    assert_int_equal(qmac_accel_fetch(&f->mem, MEM_BASE, &f->win, last + 1, w), QMAC_FAULT_FETCH);
    /* inside the window but outside memory: a bus error */
    f->win.hi = 0xffffffffu;
    assert_int_equal(qmac_accel_fetch(&f->mem, MEM_BASE, &f->win, last + 1, w), QMAC_FAULT_BUS);
}

/* ---------------------------------------------------------------------- instructions */

static void test_accel_load_3d_padding(void **state)
{
    fixture *f = *state;
    /* 2 planes of 2 lines of 3 rows, x_stride 8 (every other row), y_stride 32, z_stride 128,
     * one padding row before and after each line, one padding line after each plane:
     * per plane 3 lines x 5 rows = 15 rows, 30 in all, from INP row 7 on. */
    exec_ok(f, QMAC_INSN_LOAD(.buf = QMAC_BUF_INP, .pad_value = 0xa5, .dram = MEM_BASE + 0x40, .sram = 7,
                              .x_size = 3, .y_size = 2, .z_size = 2, .x_stride = 8, .y_stride = 32,
                              .z_stride = 128, .pad_x0 = 1, .pad_x1 = 1, .pad_y1 = 1));
    uint32_t r = 7;
    for (uint32_t z = 0; z < 2; z++)
        for (uint32_t y = 0; y < 3; y++)
            for (uint32_t x = 0; x < 5; x++, r++) {
                const uint8_t *got = row(f, QMAC_BUF_INP, r);
                if (y == 2 || x == 0 || x == 4) {
                    for (int i = 0; i < 4; i++)
                        assert_int_equal(got[i], 0xa5);
                } else {
                    const uint32_t off = 0x40 + z * 128 + y * 32 + (x - 1) * 8;
                    assert_memory_equal(got, f->mem_bytes + off, 4);
                }
            }
    /* rows around it untouched (zero after reset) */
    assert_int_equal(row(f, QMAC_BUF_INP, 6)[0], 0);
    assert_int_equal(row(f, QMAC_BUF_INP, 37)[0], 0);
    /* ACC rows are 4N = 16 bytes */
    exec_ok(f, QMAC_INSN_LOAD(.buf = QMAC_BUF_ACC, .dram = MEM_BASE + 0x100, .sram = 3, .x_size = 2,
                              .y_size = 1, .z_size = 1, .x_stride = 0x20));
    assert_memory_equal(row(f, QMAC_BUF_ACC, 3), f->mem_bytes + 0x100, 16);
    assert_memory_equal(row(f, QMAC_BUF_ACC, 4), f->mem_bytes + 0x120, 16);
    /* x_stride 0 broadcasts one row */
    exec_ok(f, QMAC_INSN_LOAD(.buf = QMAC_BUF_WGT, .dram = MEM_BASE + 0x200, .sram = 0, .x_size = 4,
                              .y_size = 1, .z_size = 1, .x_stride = 0));
    for (uint32_t i = 0; i < 4; i++)
        assert_memory_equal(row(f, QMAC_BUF_WGT, i), f->mem_bytes + 0x200, 4);
}

static void test_accel_store_strided(void **state)
{
    fixture *f = *state;
    for (uint32_t r = 0; r < 8; r++)
        for (uint32_t i = 0; i < 4; i++)
            row(f, QMAC_BUF_OUT, r)[i] = (uint8_t)(0x10 * r + i);
    uint8_t before[MEM_SIZE];
    memcpy(before, f->mem_bytes, MEM_SIZE);
    /* rows 2..7 as 3 lines of 2 rows: row (y, x) -> 0x800 + y * 0x40 + x * 0x10 */
    exec_ok(f, QMAC_INSN_STORE(.buf = QMAC_BUF_OUT, .dram = MEM_BASE + 0x800, .sram = 2, .x_size = 2,
                               .y_size = 3, .z_size = 1, .x_stride = 0x10, .y_stride = 0x40));
    for (uint32_t y = 0; y < 3; y++)
        for (uint32_t x = 0; x < 2; x++) {
            const uint32_t off = 0x800 + y * 0x40 + x * 0x10;
            assert_memory_equal(f->mem_bytes + off, row(f, QMAC_BUF_OUT, 2 + 2 * y + x), 4);
            memcpy(before + off, f->mem_bytes + off, 4);
        }
    assert_memory_equal(before, f->mem_bytes, MEM_SIZE); /* nothing else written */
    /* a STORE whose rows overlap in memory (x_stride 0): the last row wins */
    exec_ok(f, QMAC_INSN_STORE(.buf = QMAC_BUF_OUT, .dram = MEM_BASE, .sram = 0, .x_size = 3, .y_size = 1,
                               .z_size = 1));
    assert_memory_equal(f->mem_bytes, row(f, QMAC_BUF_OUT, 2), 4);
}

static void test_accel_bus_error(void **state)
{
    fixture *f = *state;
    f->win = (qmac_window){0, 0xffffffffu};
    /* rows 0 and 1 in memory, row 2 just past its end: LOAD finishes, row 2 reads as zeros */
    memset(row(f, QMAC_BUF_INP, 2), 0x77, 4);
    qmac_insn in = QMAC_INSN_LOAD(.buf = QMAC_BUF_INP, .dram = MEM_BASE + MEM_SIZE - 8, .x_size = 3,
                                  .y_size = 1, .z_size = 1, .x_stride = 4);
    uint32_t w[QMAC_INSN_WORDS];
    qmac_insn dec;
    qmac_insn_encode(&in, w);
    assert_int_equal(qmac_insn_check(w, &f->cfg, &f->win, &dec, NULL), QMAC_FAULT_NONE);
    assert_int_equal(qmac_accel_exec(f->a, &dec, &f->mem, NULL), QMAC_FAULT_BUS);
    assert_memory_equal(row(f, QMAC_BUF_INP, 1), f->mem_bytes + MEM_SIZE - 4, 4);
    static const uint8_t zero[4];
    assert_memory_equal(row(f, QMAC_BUF_INP, 2), zero, 4);
}

/* reference GEMM on N = 4 from the definition: (x - act_zp) * (w - wgt_zp[c]) */
static int32_t ref_dot(const uint8_t *x, const uint8_t *wrows[4], uint32_t c, int xs, int ws, uint8_t azp,
                       uint8_t wzp)
{
    int32_t s = 0;
    for (int k = 0; k < 4; k++) {
        const int32_t a = xs ? (int8_t)x[k] - (int8_t)azp : (int32_t)x[k] - azp;
        const int32_t b = ws ? (int8_t)wrows[k][c] - (int8_t)wzp : (int32_t)wrows[k][c] - wzp;
        s += a * b;
    }
    return s;
}

static void test_accel_gemm_int8_loops_and_accumulate(void **state)
{
    fixture *f = *state;
    for (uint32_t r = 0; r < 64; r++)
        for (uint32_t i = 0; i < 4; i++) {
            row(f, QMAC_BUF_INP, r)[i] = (uint8_t)splitmix64();
            row(f, QMAC_BUF_WGT, r)[i] = (uint8_t)splitmix64();
        }
    for (int variant = 0; variant < 4; variant++) {
        const int xs = variant & 1, ws = variant >> 1;
        const uint8_t azp = (uint8_t)splitmix64(), wzp[4] = {3, 0x80, 0xff, 0};
        /* PARAM row 2 carries the weight zero points in bits [15:8] */
        for (uint32_t l = 0; l < 4; l++) {
            set_lane(f, 200, l, 0);
            set_lane(f, 201, l, 0);
            set_lane(f, 202, l, (int32_t)((uint32_t)wzp[l] << 8));
        }
        exec_ok(f, QMAC_INSN_PARAM(.acc = 200));
        exec_ok(f, QMAC_INSN_CONFIG(.act_signed = (uint32_t)xs, .wgt_signed = (uint32_t)ws, .act_zp = azp));
        for (uint32_t r = 100; r < 120; r++)
            for (uint32_t l = 0; l < 4; l++)
                set_lane(f, r, l, (int32_t)(splitmix64() | 0x80000000u)); /* near INT32_MIN: sums wrap */
        int32_t old[20][4];
        for (uint32_t r = 0; r < 20; r++)
            for (uint32_t l = 0; l < 4; l++)
                old[r][l] = lane(f, 100 + r, l);
        /* 3 x 2 vectors: INP row 5 + 3*i0 + 17*i1, ACC row 100 + 2*i0 + 9*i1; accumulate */
        exec_ok(f, QMAC_INSN_GEMM(.accum = 1, .wgt = 8, .inp = 5, .acc = 100, .count0 = 3, .count1 = 2,
                                  .inp_s0 = 3, .inp_s1 = 17, .acc_s0 = 2, .acc_s1 = 9));
        const uint8_t *wr[4] = {row(f, QMAC_BUF_WGT, 8), row(f, QMAC_BUF_WGT, 9), row(f, QMAC_BUF_WGT, 10),
                                row(f, QMAC_BUF_WGT, 11)};
        for (uint32_t i1 = 0; i1 < 2; i1++)
            for (uint32_t i0 = 0; i0 < 3; i0++) {
                const uint32_t ar = 2 * i0 + 9 * i1;
                for (uint32_t c = 0; c < 4; c++) {
                    const int32_t d =
                        ref_dot(row(f, QMAC_BUF_INP, 5 + 3 * i0 + 17 * i1), wr, c, xs, ws, azp, wzp[c]);
                    assert_int_equal(lane(f, 100 + ar, c), (int32_t)((uint32_t)old[ar][c] + (uint32_t)d));
                }
            }
        /* rows between the strided ones untouched */
        assert_int_equal(lane(f, 101, 0), old[1][0]);
    }
    /* accum = 0 overwrites */
    exec_ok(f, QMAC_INSN_CONFIG(.act_signed = 1, .wgt_signed = 1));
    for (uint32_t l = 0; l < 4; l++)
        set_lane(f, 202, l, 0);
    exec_ok(f, QMAC_INSN_PARAM(.acc = 200));
    exec_ok(f, QMAC_INSN_GEMM(.wgt = 0, .inp = 0, .acc = 50, .count0 = 1, .count1 = 1));
    const uint8_t *wr[4] = {row(f, QMAC_BUF_WGT, 0), row(f, QMAC_BUF_WGT, 1), row(f, QMAC_BUF_WGT, 2),
                            row(f, QMAC_BUF_WGT, 3)};
    for (uint32_t c = 0; c < 4; c++)
        assert_int_equal(lane(f, 50, c), ref_dot(row(f, QMAC_BUF_INP, 0), wr, c, 1, 1, 0, 0));
}

static void test_accel_gemm_same_row_is_sequential(void **state)
{
    fixture *f = *state;
    /* acc_s0 = 0: every vector adds into the same row, each seeing the previous one's sum */
    for (uint32_t i = 0; i < 4; i++) {
        row(f, QMAC_BUF_INP, 0)[i] = 1;
        row(f, QMAC_BUF_WGT, i)[i] = 2; /* W = 2 I */
    }
    exec_ok(f, QMAC_INSN_CONFIG(.act_signed = 1, .wgt_signed = 1));
    exec_ok(f, QMAC_INSN_GEMM(.accum = 1, .wgt = 0, .inp = 0, .acc = 9, .count0 = 5, .count1 = 1));
    for (uint32_t c = 0; c < 4; c++)
        assert_int_equal(lane(f, 9, c), 10);
}

static void test_accel_gemm_binary(void **state)
{
    fixture *f = *state;
    /* binary mode: each byte holds 8 +-1 lanes, product 8 - 2 popcount(a ^ w), K = 32 per row */
    const uint8_t x[4] = {0x00, 0xff, 0x0f, 0x81};
    const uint8_t wt[4][4] = {{0x00, 0xff, 0x01, 0x80},
                              {0xff, 0xff, 0x00, 0x00},
                              {0x0f, 0xf0, 0x3c, 0x00},
                              {0x81, 0x7e, 0x00, 0xff}};
    memcpy(row(f, QMAC_BUF_INP, 3), x, 4);
    for (int k = 0; k < 4; k++)
        memcpy(row(f, QMAC_BUF_WGT, 4 + (uint32_t)k), wt[k], 4);
    exec_ok(f, QMAC_INSN_CONFIG(.bin = 1));
    exec_ok(f, QMAC_INSN_GEMM(.wgt = 4, .inp = 3, .acc = 0, .count0 = 1, .count1 = 1));
    /* column 0: k0 0x00^0x00 -> 8; k1 0xff^0xff -> 8; k2 0x0f^0x0f -> 8; k3 0x81^0x81 -> 8: 32
     * column 1: 0x00^0xff -> -8; 0xff^0xff -> 8; 0x0f^0xf0 -> -8; 0x81^0x7e -> -8: -16
     * column 2: 0x00^0x01 -> 6; 0xff^0x00 -> -8; 0x0f^0x3c (0x33) -> 0; 0x81^0x00 -> 4: 2
     * column 3: 0x00^0x80 -> 6; 0xff^0x00 -> -8; 0x0f^0x00 -> 0; 0x81^0xff (0x7e) -> -4: -6 */
    assert_int_equal(lane(f, 0, 0), 32);
    assert_int_equal(lane(f, 0, 1), -16);
    assert_int_equal(lane(f, 0, 2), 2);
    assert_int_equal(lane(f, 0, 3), -6);
}

static void test_accel_post_rules_and_bits(void **state)
{
    fixture *f = *state;
    /* PARAM: bias, multiplier, shift per lane; TFLite rule with multiplier 0.75 * 2^-4 */
    int32_t qm, sh;
    assert_int_equal(qmac_quantize_multiplier(0.75 / 16, QMAC_REQUANT_TFLITE, &qm, &sh), QMAC_OK);
    for (uint32_t l = 0; l < 4; l++) {
        set_lane(f, 10, l, (int32_t)l * 100 - 7);
        set_lane(f, 11, l, qm);
        set_lane(f, 12, l, (int32_t)(uint8_t)sh);
    }
    exec_ok(f, QMAC_INSN_PARAM(.acc = 10));
    exec_ok(f, QMAC_INSN_CONFIG(.rule = QMAC_RULE_TFLITE, .omode = QMAC_OMODE_S8, .out_zp = (uint8_t)-5,
                                .clamp_min = 0x80, .clamp_max = 0x7f));
    const int32_t accs[4] = {1000, -3000, 40, INT32_MAX};
    for (uint32_t l = 0; l < 4; l++)
        set_lane(f, 20, l, accs[l]);
    exec_ok(f, QMAC_INSN_POST(.acc = 20, .count0 = 1, .count1 = 1, .out = 30));
    /* (1000 - 7) * 0.046875 = 46.55 -> 47 - 5 = 42; (-3000 + 93) * .046875 = -136.3 -> -136 - 5
     * saturates to -128; (40 + 193) * .046875 = 10.92 -> 11 - 5 = 6; INT32_MAX + 293 wraps to
     * -2147483356 -> -100663281 -> -128 */
    const int8_t want[4] = {42, -128, 6, -128};
    for (uint32_t l = 0; l < 4; l++)
        assert_int_equal((int8_t)row(f, QMAC_BUF_OUT, 30)[l], want[l]);
    /* every lane equals qmac_requant_one on the same numbers with ReLU clamp */
    exec_ok(f, QMAC_INSN_CONFIG(.rule = QMAC_RULE_TFLITE, .omode = QMAC_OMODE_U8, .out_zp = 128,
                                .clamp_min = 128, .clamp_max = 255));
    qmac_requant rq = {QMAC_REQUANT_TFLITE, 1, &qm, &sh, NULL, 128, 128, 255};
    for (int t = 0; t < 200; t++) {
        for (uint32_t l = 0; l < 4; l++)
            set_lane(f, 21, l, (int32_t)(splitmix64() % 20001) - 10000);
        exec_ok(f, QMAC_INSN_POST(.acc = 21, .count0 = 1, .count1 = 1, .out = 31));
        for (uint32_t l = 0; l < 4; l++)
            assert_int_equal(
                row(f, QMAC_BUF_OUT, 31)[l],
                qmac_requant_one(&rq, 0, (int32_t)((uint32_t)lane(f, 21, l) + (uint32_t)lane(f, 10, l))));
    }
    /* BIN: bit = (acc + bias < threshold) XOR flip; N = 4 bits at bit 4 * group */
    for (uint32_t l = 0; l < 4; l++) {
        set_lane(f, 10, l, 0);
        set_lane(f, 11, l, 5);                    /* threshold */
        set_lane(f, 12, l, l == 3 ? 1 : 0);       /* lane 3 flipped */
        set_lane(f, 22, l, (int32_t)(3 + 2 * l)); /* 3 5 7 9 */
    }
    exec_ok(f, QMAC_INSN_PARAM(.acc = 10));
    exec_ok(f, QMAC_INSN_CONFIG(.omode = QMAC_OMODE_BIN));
    memset(row(f, QMAC_BUF_OUT, 40), 0xff, 4);
    exec_ok(f, QMAC_INSN_POST(.group = 5, .acc = 22, .count0 = 1, .count1 = 1, .out = 40));
    /* lanes: 3<5 -> 1; 5<5 -> 0; 7<5 -> 0; 9<5 -> 0 then flipped -> 1: bits 20..23 = 1,0,0,1 */
    assert_int_equal(row(f, QMAC_BUF_OUT, 40)[2], 0x9f); /* bits 16..19 kept, 20 = 1, 21-22 = 0, 23 = 1 */
    assert_int_equal(row(f, QMAC_BUF_OUT, 40)[0], 0xff);
    assert_int_equal(row(f, QMAC_BUF_OUT, 40)[3], 0xff);
}

static void test_accel_gemm_post_matches_post(void **state)
{
    fixture *f = *state;
    /* GEMM with post writes the same OUT rows as GEMM followed by POST (rule FLOAT here) */
    const float scale = 0.0123f;
    uint32_t sbits;
    memcpy(&sbits, &scale, 4);
    for (uint32_t l = 0; l < 4; l++) {
        set_lane(f, 0, l, (int32_t)l - 2);
        set_lane(f, 1, l, (int32_t)sbits);
        set_lane(f, 2, l, 0);
    }
    for (uint32_t r = 0; r < 16; r++)
        for (uint32_t i = 0; i < 4; i++) {
            row(f, QMAC_BUF_INP, r)[i] = (uint8_t)splitmix64();
            row(f, QMAC_BUF_WGT, r)[i] = (uint8_t)splitmix64();
        }
    exec_ok(f, QMAC_INSN_PARAM(.acc = 0));
    exec_ok(f, QMAC_INSN_CONFIG(.act_signed = 1, .wgt_signed = 1, .rule = QMAC_RULE_FLOAT,
                                .omode = QMAC_OMODE_S8, .out_zp = 3, .clamp_min = 0x80, .clamp_max = 0x7f));
    exec_ok(f, QMAC_INSN_GEMM(.post = 1, .wgt = 4, .inp = 0, .acc = 10, .count0 = 8, .count1 = 1, .inp_s0 = 1,
                              .acc_s0 = 1, .out = 50, .out_s0 = 1));
    uint8_t fused[8][4];
    for (uint32_t r = 0; r < 8; r++)
        memcpy(fused[r], row(f, QMAC_BUF_OUT, 50 + r), 4);
    exec_ok(f, QMAC_INSN_POST(.acc = 10, .count0 = 8, .count1 = 1, .acc_s0 = 1, .out = 60, .out_s0 = 1));
    for (uint32_t r = 0; r < 8; r++) {
        assert_memory_equal(fused[r], row(f, QMAC_BUF_OUT, 60 + r), 4);
        for (uint32_t l = 0; l < 4; l++)
            assert_int_equal((int8_t)fused[r][l],
                             qmac_requant_float(lane(f, 10 + r, l) + (int32_t)l - 2, scale, 3, -128, 127));
    }
}

static void test_accel_valu_ops(void **state)
{
    fixture *f = *state;
    const int32_t A[4] = {INT32_MIN, -7, 5, INT32_MAX};
    const int32_t B[4] = {-1, 2, 33, 1}; /* shifts use B mod 32: 31, 2, 1, 1 */
    for (uint32_t l = 0; l < 4; l++) {
        set_lane(f, 0, l, A[l]);
        set_lane(f, 1, l, B[l]);
    }
    const struct {
        uint32_t alu;
        int32_t want[4];
    } cases[] = {
        {QMAC_ALU_ADD, {INT32_MAX, -5, 38, INT32_MIN}},
        {QMAC_ALU_SUB, {INT32_MIN + 1, -9, -28, INT32_MAX - 1}},
        {QMAC_ALU_MUL, {INT32_MIN, -14, 165, INT32_MAX}},
        {QMAC_ALU_MIN, {INT32_MIN, -7, 5, 1}},
        {QMAC_ALU_MAX, {-1, 2, 33, INT32_MAX}},
        {QMAC_ALU_SHL, {0, -28, 10, -2}},
        {QMAC_ALU_SHR, {-1, -2, 2, 0x3fffffff}},
        {QMAC_ALU_SHRR, {-1, -2, 3, 0x40000000}}, /* -7/4 = -1.75 -> -2; 5/2 = 2.5 -> 3 (away) */
        {QMAC_ALU_MOV, {INT32_MIN, -7, 5, INT32_MAX}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        exec_ok(f, QMAC_INSN_VALU(.alu = cases[i].alu, .a = 0, .b = 1, .dst = 2, .count0 = 1, .count1 = 1));
        for (uint32_t l = 0; l < 4; l++)
            if (lane(f, 2, l) != cases[i].want[l])
                fail_msg("VALU %s lane %u: %d, want %d", qmac_isa_enum_alu.names[cases[i].alu], l,
                         lane(f, 2, l), cases[i].want[l]);
    }
    /* MBQM with an immediate multiplier 2^30 (0.5) and shift -1: x * 0.25 rounded */
    exec_ok(f, QMAC_INSN_VALU(.alu = QMAC_ALU_MBQM, .b_imm = 1, .imm = 1u << 30, .shift = -1, .a = 0,
                              .dst = 3, .count0 = 1, .count1 = 1));
    for (uint32_t l = 0; l < 4; l++)
        assert_int_equal(lane(f, 3, l), qmac_mbqm(A[l], 1 << 30, -1));
    assert_int_equal(lane(f, 3, 1), -2); /* -7 * 0.25 = -1.75 */
    /* A from OUT bytes, signed and unsigned, with an immediate B; dst == A row allowed */
    const uint8_t bytes[4] = {0x80, 0xff, 0x01, 0x7f};
    memcpy(row(f, QMAC_BUF_OUT, 9), bytes, 4);
    exec_ok(f, QMAC_INSN_VALU(.alu = QMAC_ALU_ADD, .b_imm = 1, .imm = 10, .a_buf = QMAC_ABUF_OUT,
                              .a_signed = 1, .a = 9, .dst = 4, .count0 = 1, .count1 = 1));
    assert_int_equal(lane(f, 4, 0), -118);
    assert_int_equal(lane(f, 4, 1), 9);
    exec_ok(f, QMAC_INSN_VALU(.alu = QMAC_ALU_ADD, .b_imm = 1, .imm = 10, .a_buf = QMAC_ABUF_OUT, .a = 9,
                              .dst = 4, .count0 = 1, .count1 = 1));
    assert_int_equal(lane(f, 4, 0), 138);
    assert_int_equal(lane(f, 4, 1), 265);
    /* a running sum with dst_s0 = 0 and B = dst: sequential, each step sees the previous one */
    for (uint32_t r = 0; r < 6; r++)
        for (uint32_t l = 0; l < 4; l++)
            set_lane(f, 20 + r, l, (int32_t)(r + 1) * (int32_t)(l + 1));
    for (uint32_t l = 0; l < 4; l++)
        set_lane(f, 30, l, 0);
    exec_ok(f, QMAC_INSN_VALU(.alu = QMAC_ALU_ADD, .a = 20, .a_s0 = 1, .b = 30, .dst = 30, .count0 = 6,
                              .count1 = 1));
    for (uint32_t l = 0; l < 4; l++)
        assert_int_equal(lane(f, 30, l), 21 * (int32_t)(l + 1));
    /* max over a 2 x 3 window with loops: rows 20 + i0 + 3 i1 (max is row 25) */
    exec_ok(f, QMAC_INSN_VALU(.alu = QMAC_ALU_MOV, .a = 20, .dst = 31, .count0 = 1, .count1 = 1));
    exec_ok(f, QMAC_INSN_VALU(.alu = QMAC_ALU_MAX, .a = 20, .a_s0 = 1, .a_s1 = 3, .b = 31, .dst = 31,
                              .count0 = 3, .count1 = 2));
    for (uint32_t l = 0; l < 4; l++)
        assert_int_equal(lane(f, 31, l), 6 * (int32_t)(l + 1));
}

static void test_accel_run_program(void **state)
{
    fixture *f = *state;
    /* a program in memory at 0x1000: CONFIG, LOAD, NOP, FENCE, END, then garbage */
    const qmac_insn prog[] = {QMAC_INSN_CONFIG(.act_signed = 1),
                              QMAC_INSN_LOAD(.buf = QMAC_BUF_INP, .dram = MEM_BASE + 0x800, .x_size = 2,
                                             .y_size = 1, .z_size = 1, .x_stride = 4),
                              {.op = QMAC_OP_NOP},
                              {.op = QMAC_OP_FENCE},
                              {.op = QMAC_OP_END}};
    for (size_t i = 0; i < 5; i++) {
        uint32_t w[QMAC_INSN_WORDS];
        qmac_insn_encode(&prog[i], w);
        for (int k = 0; k < 8; k++)
            for (int b = 0; b < 4; b++)
                f->mem_bytes[0x1000 + 32 * i + 4 * (size_t)k + (size_t)b] = (uint8_t)(w[k] >> (8 * b));
    }
    memset(f->mem_bytes + 0x1000 + 5 * 32, 0xee, 32);
    qmac_accel_result res;
    qmac_accel_run(f->a, &f->mem, MEM_BASE + 0x1000, &f->win, 100, &res);
    assert_true(res.done);
    assert_int_equal(res.fault, QMAC_FAULT_NONE);
    assert_int_equal(res.retired, 5);
    assert_memory_equal(row(f, QMAC_BUF_INP, 1), f->mem_bytes + 0x804, 4);
    assert_int_equal(qmac_accel_get_regs(f->a)->act_signed, 1);
    /* without the END: the garbage instruction faults with its index */
    memset(f->mem_bytes + 0x1000 + 4 * 32, 0xee, 32);
    qmac_accel_run(f->a, &f->mem, MEM_BASE + 0x1000, &f->win, 100, &res);
    assert_false(res.done);
    assert_int_equal(res.fault, QMAC_FAULT_OPCODE);
    assert_int_equal(res.fault_pc, 4);
    assert_int_equal(res.retired, 4);
    /* max_insn stops a run without an END */
    qmac_accel_run(f->a, &f->mem, MEM_BASE + 0x1000, &f->win, 2, &res);
    assert_false(res.done);
    assert_int_equal(res.fault, QMAC_FAULT_NONE);
    assert_int_equal(res.retired, 2);
    /* a window that ends inside instruction 2: FETCH at pc 2 */
    f->win.hi = MEM_BASE + 0x1000 + 2 * 32 + 30;
    qmac_accel_run(f->a, &f->mem, MEM_BASE + 0x1000, &f->win, 100, &res);
    assert_int_equal(res.fault, QMAC_FAULT_FETCH);
    assert_int_equal(res.fault_pc, 2);
}

static void test_accel_config_check(void **state)
{
    (void)state;
    qmac_hw_config c;
    qmac_hw_config_default(&c);
    assert_int_equal(qmac_hw_config_check(&c), QMAC_OK);
    assert_int_equal(c.dim, 16);
    c.dim = 12;
    assert_int_equal(qmac_hw_config_check(&c), QMAC_ERR_INVALID_ARG);
    qmac_hw_config_small(&c);
    c.wgt_rows = 2; /* less than one tile */
    assert_int_equal(qmac_hw_config_check(&c), QMAC_ERR_INVALID_ARG);
    qmac_hw_config_small(&c);
    c.acc_rows = 3000;
    assert_int_equal(qmac_hw_config_check(&c), QMAC_ERR_INVALID_ARG);
    qmac_accel *a = NULL;
    assert_int_equal(qmac_accel_create(&c, &a), QMAC_ERR_INVALID_ARG);
    assert_null(a);
}

int main(void)
{
    const char *env = getenv("QMAC_SEED");
    const uint64_t seed = env ? strtoull(env, NULL, 0) : 20261121u;
    g_rng = seed;
    printf("test_accel: seed %" PRIu64 " (QMAC_SEED=%" PRIu64 " reproduces)\n", seed, seed);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_accel_check_opcode_and_reserved, setup_small, teardown),
        cmocka_unit_test_setup_teardown(test_accel_check_enums_and_clamp, setup_small, teardown),
        cmocka_unit_test_setup_teardown(test_accel_check_align, setup_small, teardown),
        cmocka_unit_test_setup_teardown(test_accel_check_buf_range, setup_small, teardown),
        cmocka_unit_test_setup_teardown(test_accel_check_window, setup_small, teardown),
        cmocka_unit_test_setup_teardown(test_accel_fetch_faults, setup_small, teardown),
        cmocka_unit_test_setup_teardown(test_accel_load_3d_padding, setup_small, teardown),
        cmocka_unit_test_setup_teardown(test_accel_store_strided, setup_small, teardown),
        cmocka_unit_test_setup_teardown(test_accel_bus_error, setup_small, teardown),
        cmocka_unit_test_setup_teardown(test_accel_gemm_int8_loops_and_accumulate, setup_small, teardown),
        cmocka_unit_test_setup_teardown(test_accel_gemm_same_row_is_sequential, setup_small, teardown),
        cmocka_unit_test_setup_teardown(test_accel_gemm_binary, setup_small, teardown),
        cmocka_unit_test_setup_teardown(test_accel_post_rules_and_bits, setup_small, teardown),
        cmocka_unit_test_setup_teardown(test_accel_gemm_post_matches_post, setup_small, teardown),
        cmocka_unit_test_setup_teardown(test_accel_valu_ops, setup_small, teardown),
        cmocka_unit_test_setup_teardown(test_accel_run_program, setup_small, teardown),
        cmocka_unit_test(test_accel_config_check),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
