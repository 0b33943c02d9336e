/* types.h - element types and small shape structs shared by all of libqmac. */
#ifndef QMAC_TYPES_H
#define QMAC_TYPES_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Element types. Values are qmac's own (not ONNX's). */
typedef enum {
    QMAC_DT_INVALID = 0,
    QMAC_DT_INT8,
    QMAC_DT_UINT8,
    QMAC_DT_INT16,
    QMAC_DT_UINT16,
    QMAC_DT_INT32,
    QMAC_DT_INT64,
    QMAC_DT_FLOAT16, /* IEEE binary16, stored as uint16_t bits */
    QMAC_DT_FLOAT32,
    QMAC_DT_FLOAT64,
    QMAC_DT_BOOL /* one byte, 0 or 1 */
} qmac_dtype;

/* Bytes per element (0 for QMAC_DT_INVALID). */
size_t qmac_dtype_size(qmac_dtype dt);
/* numpy-style name ("int8", "float32"); "invalid" for unknown values. */
const char *qmac_dtype_name(qmac_dtype dt);
/* Smallest and largest value of an integer type (8/16-bit types only; returns 0 otherwise). */
int qmac_dtype_range(qmac_dtype dt, int32_t *qmin, int32_t *qmax);

/* Read element i of a buffer of 8/16/32-bit integers as int32 (the reference kernels' loader). */
int32_t qmac_load_int(qmac_dtype dt, const void *data, size_t i);

/* IEEE half <-> single conversions (round to nearest even). */
float qmac_f16_to_f32(uint16_t h);
uint16_t qmac_f32_to_f16(float f);

/* Activation / feature-map dimensions, layout NHWC. All >= 1. */
typedef struct {
    int32_t n, h, w, c;
} qmac_dims;

/* Number of elements of a qmac_dims (as size_t, no overflow check: prepare validates). */
static inline size_t qmac_dims_count(const qmac_dims *d)
{
    return (size_t)d->n * (size_t)d->h * (size_t)d->w * (size_t)d->c;
}

#ifdef __cplusplus
}
#endif
#endif /* QMAC_TYPES_H */
