/* kern_util.h - small helpers shared by the reference kernels (conv.c, matmul.c, pool.c,
 * eltwise.c). Internal to libqmac: not installed, not part of the public API. */
#ifndef QMAC_KERN_UTIL_H
#define QMAC_KERN_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "qmac/status.h"
#include "qmac/types.h"

/* Two's complement reinterpretation of a uint32 as int32, written so that it is defined C for
 * every input (a plain cast of a value above INT32_MAX is implementation-defined). */
static inline int32_t qmac_u32_to_i32(uint32_t u)
{
    if (u <= (uint32_t)INT32_MAX)
        return (int32_t)u;
    return (int32_t)(u - UINT32_C(0x80000000)) + INT32_MIN;
}

/* a * b + c modulo 2^32, the hardware accumulator step. |a|, |b| < 2^17 in every caller (8/16-bit
 * values minus a zero point), so the product is exact in int64 before the wrap. */
static inline uint32_t qmac_mac_u32(uint32_t c, int32_t a, int32_t b)
{
    return c + (uint32_t)((int64_t)a * (int64_t)b);
}

/* Clamp to [lo, hi]. */
static inline int32_t qmac_clamp_i32(int64_t v, int32_t lo, int32_t hi)
{
    return v < lo ? lo : (v > hi ? hi : (int32_t)v);
}

/* x86 float -> int32 conversion (cvtss2si/cvtps2dq, cvttss2si): a value outside the int32 range,
 * or NaN, gives the "integer indefinite" INT32_MIN. v must already be integral (nearbyintf). */
static inline int32_t qmac_x86_f32_to_i32(float v)
{
    if (!(v >= -2147483648.0f && v < 2147483648.0f))
        return INT32_MIN;
    return (int32_t)v;
}

/* Is dt one of the element types the accumulate kernels read (INT8, UINT8, INT16, UINT16)? */
static inline int qmac_is_qtype(qmac_dtype dt)
{
    return dt == QMAC_DT_INT8 || dt == QMAC_DT_UINT8 || dt == QMAC_DT_INT16 || dt == QMAC_DT_UINT16;
}

/* Is dt an 8-bit quantized type? */
static inline int qmac_is_q8(qmac_dtype dt)
{
    return dt == QMAC_DT_INT8 || dt == QMAC_DT_UINT8;
}

/* Index of element [n][h][w][c] in an NHWC buffer of dims d. */
static inline size_t qmac_nhwc_index(const qmac_dims *d, int32_t n, int32_t h, int32_t w, int32_t c)
{
    return (((size_t)n * (size_t)d->h + (size_t)h) * (size_t)d->w + (size_t)w) * (size_t)d->c + (size_t)c;
}

/* Validate one qmac_dims: every field >= 1 and the element count below 2^40 (so that every index
 * computed by the kernels fits comfortably in size_t and int64). name is used in the message. */
qmac_status qmac_dims_check(const qmac_dims *d, const char *name);

#endif /* QMAC_KERN_UTIL_H */
