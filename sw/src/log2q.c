/* log2q.c - power-of-two weight quantization and its sign + exponent codes. */
#include "qmac/log2q.h"

#include <math.h>

qmac_status qmac_log2_check(const qmac_log2_params *p)
{
    if (p->lo < -126 || p->hi > 127 || p->lo > p->hi)
        return qmac_set_error(QMAC_ERR_INVALID_ARG, "log2 exponent range [%d, %d] is not within [-126, 127]",
                              (int)p->lo, (int)p->hi);
    if (p->rounding != QMAC_LOG2_ROUND_LOG && p->rounding != QMAC_LOG2_ROUND_LINEAR)
        return qmac_set_error(QMAC_ERR_INVALID_ARG, "log2 rounding %d is unknown", (int)p->rounding);
    if (p->bits < 2 || p->bits > 8)
        return qmac_set_error(QMAC_ERR_INVALID_ARG, "log2 code width %d is outside [2, 8]", (int)p->bits);
    const int32_t levels = (INT32_C(1) << (p->bits - 1)) - 1;
    if (p->hi - p->lo + 1 > levels)
        return qmac_set_error(QMAC_ERR_INVALID_ARG,
                              "log2 exponent range [%d, %d] has %d values, a %d-bit code holds %d",
                              (int)p->lo, (int)p->hi, (int)(p->hi - p->lo + 1), (int)p->bits, (int)levels);
    return QMAC_OK;
}

int32_t qmac_log2_exponent(float x, qmac_log2_rounding r)
{
    int e = 0;
    const double f = frexp(fabs((double)x), &e); /* |x| = f * 2^e, f in [0.5, 1), exact */
    const double m = 2.0 * f;                    /* |x| = m * 2^(e-1), m in [1, 2)        */
    int32_t k = (int32_t)e - 1;
    int up;
    if (r == QMAC_LOG2_ROUND_LINEAR)
        up = m >= 1.5;
    else
        up = m * m >= 2.0; /* m has at most 24 significant bits: m*m is exact in double */
    return k + (up ? 1 : 0);
}

/* Exponent of q(x) and its sign; returns 0 when q(x) == 0. */
static int log2_level(float x, const qmac_log2_params *p, int32_t *exp, int *neg)
{
    if (isnan(x) || x == 0.0f)
        return 0;
    *neg = signbit(x) ? 1 : 0;
    int32_t k = isinf(x) ? p->hi : qmac_log2_exponent(x, p->rounding);
    if (k < p->lo) {
        if (p->flush_to_zero)
            return 0;
        k = p->lo;
    }
    if (k > p->hi)
        k = p->hi;
    *exp = k;
    return 1;
}

float qmac_log2q_f32(float x, const qmac_log2_params *p)
{
    int32_t k = 0;
    int neg = 0;
    if (!log2_level(x, p, &k, &neg))
        return 0.0f;
    const float v = ldexpf(1.0f, (int)k);
    return neg ? -v : v;
}

uint8_t qmac_log2_encode_one(float x, const qmac_log2_params *p)
{
    int32_t k = 0;
    int neg = 0;
    if (!log2_level(x, p, &k, &neg))
        return 0;
    const uint32_t m = (uint32_t)(k - p->lo + 1);
    return (uint8_t)(((uint32_t)neg << (p->bits - 1)) | m);
}

qmac_status qmac_log2_decode_one(uint8_t code, const qmac_log2_params *p, float *y)
{
    const uint32_t c = code;
    if (c >> p->bits)
        return qmac_set_error(QMAC_ERR_INVALID_ARG, "log2 code 0x%02x does not fit %d bits", (unsigned)c,
                              (int)p->bits);
    const uint32_t sign = c >> (p->bits - 1);
    const uint32_t m = c & ((UINT32_C(1) << (p->bits - 1)) - 1u);
    if (m == 0) {
        if (sign)
            return qmac_set_error(QMAC_ERR_INVALID_ARG, "log2 code 0x%02x is a negative zero", (unsigned)c);
        *y = 0.0f;
        return QMAC_OK;
    }
    if ((int32_t)m > p->hi - p->lo + 1)
        return qmac_set_error(QMAC_ERR_INVALID_ARG, "log2 code 0x%02x: exponent index %u exceeds %d",
                              (unsigned)c, (unsigned)m, (int)(p->hi - p->lo + 1));
    const float v = ldexpf(1.0f, (int)(p->lo + (int32_t)m - 1));
    *y = sign ? -v : v;
    return QMAC_OK;
}

qmac_status qmac_log2q_array(const float *x, size_t n, const qmac_log2_params *p, float *y)
{
    qmac_status st = qmac_log2_check(p);
    if (st != QMAC_OK)
        return st;
    for (size_t i = 0; i < n; ++i)
        y[i] = qmac_log2q_f32(x[i], p);
    return QMAC_OK;
}

qmac_status qmac_log2_encode(const float *x, size_t n, const qmac_log2_params *p, uint8_t *codes)
{
    qmac_status st = qmac_log2_check(p);
    if (st != QMAC_OK)
        return st;
    for (size_t i = 0; i < n; ++i)
        codes[i] = qmac_log2_encode_one(x[i], p);
    return QMAC_OK;
}

qmac_status qmac_log2_decode(const uint8_t *codes, size_t n, const qmac_log2_params *p, float *y)
{
    qmac_status st = qmac_log2_check(p);
    if (st != QMAC_OK)
        return st;
    for (size_t i = 0; i < n; ++i) {
        st = qmac_log2_decode_one(codes[i], p, &y[i]);
        if (st != QMAC_OK)
            return qmac_set_error(st, "log2 code %zu (0x%02x) is invalid for %d bits, exponents [%d, %d]", i,
                                  (unsigned)codes[i], (int)p->bits, (int)p->lo, (int)p->hi);
    }
    return QMAC_OK;
}
