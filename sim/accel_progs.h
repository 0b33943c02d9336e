/* accel_progs.h - programs for the accelerator co-simulation (sim/accel_main.c).
 *
 * Directed programs cover every instruction and every fault code; the random generator builds
 * legal programs (seeded: the same seed gives the same program) from random instruction mixes
 * whose rows are drawn from a small window of each buffer, so that hazards between the units,
 * forwarding and streaming GEMMs happen often. Every case owns its memory image: the program's
 * words at prog_addr, random data elsewhere. */
#ifndef QMAC_SIM_ACCEL_PROGS_H
#define QMAC_SIM_ACCEL_PROGS_H

#include <stddef.h>
#include <stdint.h>

#include "accel_harness.h"
#include "qmac/isa.h"
#include "qmac/prog.h"

typedef struct {
    char name[96];
    qmac_prog prog; /* owned */
    uint8_t *mem;   /* owned: mem_size bytes at mem_base */
    accel_prog run; /* points into prog and mem */
} accel_case;

/* Number of directed programs. */
size_t accel_directed_count(void);

/* Build directed program i for cfg (its random data from seed) into *out. Errors: QMAC_ERR_NOMEM,
 * QMAC_ERR_INVALID_ARG (a program the builder rejects: a harness bug, the detail says which). */
qmac_status accel_directed(size_t i, const qmac_hw_config *cfg, uint64_t seed, accel_case *out);

/* A random legal program of about `len` instructions (plus END), from seed. */
qmac_status accel_random(const qmac_hw_config *cfg, uint64_t seed, uint32_t len, accel_case *out);

/* The long GEMM program of the speed measurement: `tiles` weight tiles of L vectors each. */
qmac_status accel_bench_prog(const qmac_hw_config *cfg, uint32_t tiles, uint32_t vectors, accel_case *out);

/* The int8 GEMM C = requant(A x B) of sw/src/gemm_prog.c with A [m x k], B [k x n] random (from
 * seed), per-column TFLite requantization (n <= 256); what `make bench` measures utilization on. */
qmac_status accel_gemm_prog(const qmac_hw_config *cfg, uint32_t m, uint32_t k, uint32_t n, uint64_t seed,
                            accel_case *out);

void accel_case_free(accel_case *c);

#endif
