/* tensor.h - an owned N-D tensor (row-major, C order), the unit of data exchanged by the .npy
 * reader/writer, the ONNX importer and the graph executor. */
#ifndef QMAC_TENSOR_H
#define QMAC_TENSOR_H

#include <stddef.h>
#include <stdint.h>

#include "qmac/status.h"
#include "qmac/types.h"

#ifdef __cplusplus
extern "C" {
#endif

#define QMAC_MAX_RANK 8

/* data is malloc'ed and owned by the tensor: qmac_tensor_free() releases it. A rank-0 tensor is
 * a scalar with one element. Every shape entry is >= 0; a 0 entry means no elements (data may
 * then be NULL). */
typedef struct {
    qmac_dtype dtype;
    int32_t rank;
    int64_t shape[QMAC_MAX_RANK];
    void *data;
} qmac_tensor;

/* Product of the shape (1 for rank 0). */
size_t qmac_tensor_count(const qmac_tensor *t);
/* count * element size. */
size_t qmac_tensor_nbytes(const qmac_tensor *t);

/* Allocate a zero-filled tensor. Errors: QMAC_ERR_INVALID_ARG (rank > QMAC_MAX_RANK, negative
 * dim, invalid dtype, size overflow or above 2^31 bytes), QMAC_ERR_NOMEM. On error *t is
 * left empty (data NULL), so qmac_tensor_free() is always safe. */
qmac_status qmac_tensor_alloc(qmac_tensor *t, qmac_dtype dt, int32_t rank, const int64_t *shape);

/* Release the data and reset *t to an empty tensor. Safe on an empty/zeroed tensor. */
void qmac_tensor_free(qmac_tensor *t);

/* Deep copy. */
qmac_status qmac_tensor_clone(qmac_tensor *dst, const qmac_tensor *src);

/* Format a shape as "[1, 3, 8, 8]" into buf (always NUL-terminated). */
const char *qmac_shape_str(const int64_t *shape, int32_t rank, char *buf, size_t len);

#ifdef __cplusplus
}
#endif
#endif /* QMAC_TENSOR_H */
