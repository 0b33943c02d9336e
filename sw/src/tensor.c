/* tensor.c - owned N-D tensors. */
#include "qmac/tensor.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define QMAC_TENSOR_MAX_BYTES ((size_t)1 << 31)

size_t qmac_tensor_count(const qmac_tensor *t)
{
    size_t n = 1;
    for (int32_t i = 0; i < t->rank; ++i)
        n *= (size_t)t->shape[i];
    return n;
}

size_t qmac_tensor_nbytes(const qmac_tensor *t)
{
    return qmac_tensor_count(t) * qmac_dtype_size(t->dtype);
}

qmac_status qmac_tensor_alloc(qmac_tensor *t, qmac_dtype dt, int32_t rank, const int64_t *shape)
{
    memset(t, 0, sizeof *t);
    if (rank < 0 || rank > QMAC_MAX_RANK)
        return qmac_set_error(QMAC_ERR_INVALID_ARG, "tensor rank %d is outside [0, %d]", (int)rank,
                              QMAC_MAX_RANK);
    const size_t esz = qmac_dtype_size(dt);
    if (esz == 0)
        return qmac_set_error(QMAC_ERR_INVALID_ARG, "invalid tensor dtype %d", (int)dt);
    size_t bytes = esz;
    for (int32_t i = 0; i < rank; ++i) {
        if (shape[i] < 0)
            return qmac_set_error(QMAC_ERR_INVALID_ARG, "negative dimension %lld", (long long)shape[i]);
        if (shape[i] > 0 && bytes > QMAC_TENSOR_MAX_BYTES / (size_t)shape[i])
            return qmac_set_error(QMAC_ERR_INVALID_ARG, "tensor larger than 2 GiB");
        bytes *= (size_t)shape[i];
    }
    void *data = calloc(bytes ? bytes : 1, 1);
    if (!data)
        return qmac_set_error(QMAC_ERR_NOMEM, "cannot allocate %zu bytes", bytes);
    t->dtype = dt;
    t->rank = rank;
    for (int32_t i = 0; i < rank; ++i)
        t->shape[i] = shape[i];
    t->data = data;
    return QMAC_OK;
}

void qmac_tensor_free(qmac_tensor *t)
{
    free(t->data);
    memset(t, 0, sizeof *t);
}

qmac_status qmac_tensor_clone(qmac_tensor *dst, const qmac_tensor *src)
{
    qmac_status st = qmac_tensor_alloc(dst, src->dtype, src->rank, src->shape);
    if (st == QMAC_OK && qmac_tensor_nbytes(src))
        memcpy(dst->data, src->data, qmac_tensor_nbytes(src));
    return st;
}

const char *qmac_shape_str(const int64_t *shape, int32_t rank, char *buf, size_t len)
{
    size_t pos = 0;
    if (len == 0)
        return buf;
    buf[0] = '\0';
    int n = snprintf(buf, len, "[");
    pos = n > 0 ? (size_t)n : 0;
    for (int32_t i = 0; i < rank && pos < len; ++i) {
        n = snprintf(buf + pos, len - pos, "%s%lld", i ? ", " : "", (long long)shape[i]);
        if (n < 0)
            break;
        pos += (size_t)n;
    }
    if (pos < len)
        snprintf(buf + pos, len - pos, "]");
    return buf;
}
