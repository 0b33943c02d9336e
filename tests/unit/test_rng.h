/* test_rng.h - the seeded xorshift generator of the randomized unit tests: QMAC_SEED=S reproduces a
 * run (default: the time), and every failure message prints g_seed. */
#ifndef QMAC_TEST_RNG_H
#define QMAC_TEST_RNG_H

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static uint64_t g_seed, g_rng;

/* Seed from QMAC_SEED or the clock and print how to reproduce. */
static void test_rng_init(const char *test)
{
    const char *env = getenv("QMAC_SEED");
    g_seed = env && *env ? strtoull(env, NULL, 0) : (uint64_t)time(NULL);
    g_rng = g_seed ? g_seed : 1;
    printf("%s: seed %" PRIu64 " (QMAC_SEED=%" PRIu64 " reproduces)\n", test, g_seed, g_seed);
}

static uint32_t urand(uint32_t n) /* [0, n) */
{
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return (uint32_t)(g_rng % n);
}

static float frand(float lo, float hi)
{
    return lo + (hi - lo) * (float)urand(1u << 20) / (float)(1u << 20);
}

#endif
