/* types.c - element-type helpers and IEEE half conversions. */
#include "qmac/types.h"

#include <math.h>
#include <string.h>

size_t qmac_dtype_size(qmac_dtype dt)
{
    switch (dt) {
    case QMAC_DT_INT8:
    case QMAC_DT_UINT8:
    case QMAC_DT_BOOL: return 1;
    case QMAC_DT_INT16:
    case QMAC_DT_UINT16:
    case QMAC_DT_FLOAT16: return 2;
    case QMAC_DT_INT32:
    case QMAC_DT_FLOAT32: return 4;
    case QMAC_DT_INT64:
    case QMAC_DT_FLOAT64: return 8;
    case QMAC_DT_INVALID: break;
    }
    return 0;
}

const char *qmac_dtype_name(qmac_dtype dt)
{
    switch (dt) {
    case QMAC_DT_INT8: return "int8";
    case QMAC_DT_UINT8: return "uint8";
    case QMAC_DT_INT16: return "int16";
    case QMAC_DT_UINT16: return "uint16";
    case QMAC_DT_INT32: return "int32";
    case QMAC_DT_INT64: return "int64";
    case QMAC_DT_FLOAT16: return "float16";
    case QMAC_DT_FLOAT32: return "float32";
    case QMAC_DT_FLOAT64: return "float64";
    case QMAC_DT_BOOL: return "bool";
    case QMAC_DT_INVALID: break;
    }
    return "invalid";
}

int qmac_dtype_range(qmac_dtype dt, int32_t *qmin, int32_t *qmax)
{
    int32_t lo = 0, hi = 0;
    switch (dt) {
    case QMAC_DT_INT8:
        lo = -128;
        hi = 127;
        break;
    case QMAC_DT_UINT8:
        lo = 0;
        hi = 255;
        break;
    case QMAC_DT_INT16:
        lo = -32768;
        hi = 32767;
        break;
    case QMAC_DT_UINT16:
        lo = 0;
        hi = 65535;
        break;
    default:
        *qmin = 0;
        *qmax = 0;
        return 0;
    }
    *qmin = lo;
    *qmax = hi;
    return 1;
}

int32_t qmac_load_int(qmac_dtype dt, const void *data, size_t i)
{
    switch (dt) {
    case QMAC_DT_INT8: return ((const int8_t *)data)[i];
    case QMAC_DT_UINT8: return ((const uint8_t *)data)[i];
    case QMAC_DT_INT16: return ((const int16_t *)data)[i];
    case QMAC_DT_UINT16: return ((const uint16_t *)data)[i];
    case QMAC_DT_INT32: return ((const int32_t *)data)[i];
    default: return 0;
    }
}

float qmac_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h >> 15) << 31;
    uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t man = h & 0x3ffu;
    float f;
    if (exp == 0) {
        /* zero or subnormal: man * 2^-24, exact in float */
        f = ldexpf((float)man, -24);
        return sign ? -f : f;
    }
    uint32_t bits;
    if (exp == 31)
        bits = sign | 0x7f800000u | (man << 13);
    else
        bits = sign | ((exp + 112u) << 23) | (man << 13);
    memcpy(&f, &bits, sizeof f);
    return f;
}

uint16_t qmac_f32_to_f16(float f)
{
    uint32_t bits;
    memcpy(&bits, &f, sizeof bits);
    uint16_t sign = (uint16_t)((bits >> 16) & 0x8000u);
    uint32_t exp = (bits >> 23) & 0xffu;
    uint32_t man = bits & 0x7fffffu;
    if (exp == 0xff) /* inf / nan */
        return (uint16_t)(sign | 0x7c00u | (man ? 0x200u : 0u));
    int32_t e = (int32_t)exp - 127 + 15;
    if (e >= 31)
        return (uint16_t)(sign | 0x7c00u);
    if (e <= 0) {
        if (e < -10)
            return sign;
        man |= 0x800000u;
        uint32_t shift = (uint32_t)(14 - e);
        uint32_t half = man >> shift;
        uint32_t rem = man & ((1u << shift) - 1u);
        uint32_t mid = 1u << (shift - 1u);
        if (rem > mid || (rem == mid && (half & 1u)))
            half++;
        return (uint16_t)(sign | half);
    }
    uint32_t out = ((uint32_t)e << 10) | (man >> 13);
    uint32_t rem = man & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (out & 1u)))
        out++; /* may carry into the exponent, which is the correct rounding */
    return (uint16_t)(sign | out);
}
