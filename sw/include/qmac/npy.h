/* npy.h - read and write numpy .npy files (format versions 1.0, 2.0 and 3.0) as qmac_tensor.
 *
 * Element types (descr in the header -> qmac dtype):
 *   |i1 int8   |u1 uint8   |b1 bool   <i2 int16   <u2 uint16   <i4 int32   <i8 int64
 *   <f2 float16   <f4 float32   <f8 float64
 * One-byte types accept any byte-order character ('|', '<', '>', '=') or none; wider types
 * accept '<', and '=' / '|' / none, which numpy reads as the host order (qmac requires a
 * little-endian host). Data is C order (row-major); bool elements must be bytes 0 or 1.
 *
 * Reading is strict; errors name the file (or the `name` given to the memory variant) and the
 * problem, and return:
 *   QMAC_ERR_FORMAT       not a well-formed .npy: bad magic, version other than 1.0/2.0/3.0,
 *                         header length past the end of the file, header that is not a Python
 *                         dict literal with exactly the keys 'descr', 'fortran_order' and
 *                         'shape' (each once), a shape that is not a tuple of non-negative
 *                         integers or whose product overflows, header not ending in '\n' or
 *                         with anything but spaces between the dict and that newline, total
 *                         header size (magic + length field + header) not a multiple of 16,
 *                         truncated data, trailing bytes after the data, bool bytes other than
 *                         0/1.
 *   QMAC_ERR_UNSUPPORTED  a valid .npy that qmac does not take: fortran_order True, big-endian
 *                         multi-byte data, any other dtype (object, structured, unicode, bytes,
 *                         complex, uint32/uint64, datetime, dtype names such as 'float32'),
 *                         rank > QMAC_MAX_RANK, data above 2 GiB, header above 1 MiB.
 *   QMAC_ERR_IO           the file cannot be opened or read (or is not a regular file).
 *   QMAC_ERR_NOMEM        an allocation failed.
 * The header is parsed as the subset of Python literal syntax numpy writes: strings in single
 * or double quotes (no escapes, no prefixes), decimal integers (Python 2's 'L' suffix accepted
 * in version 1.0/2.0 headers, as numpy does), True/False, tuples, lists, with spaces and tabs
 * between tokens.
 *
 * Writing produces, byte for byte, what numpy.save() writes for the same array (checked against
 * the pinned numpy 2.2 by tests/unit/test_npy.c): version 1.0, keys sorted, 21 - len(str(shape[0]))
 * spare spaces after the dict, space padding to a multiple of 64 bytes, '\n'.
 */
#ifndef QMAC_NPY_H
#define QMAC_NPY_H

#include <stddef.h>
#include <stdio.h>

#include "qmac/status.h"
#include "qmac/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Read the .npy file at path into *out (data malloc'ed, owned by *out: release it with
 * qmac_tensor_free()). On error *out is left empty, so qmac_tensor_free() is always safe. */
qmac_status qmac_npy_read(const char *path, qmac_tensor *out);

/* Same as qmac_npy_read() on an in-memory .npy image buf[0..len). name is only used in error
 * messages (NULL means "<memory>"). buf is not retained. */
qmac_status qmac_npy_read_mem(const void *buf, size_t len, const char *name, qmac_tensor *out);

/* Streaming read along axis 0 (a data set larger than memory): open parses and checks the header
 * and the data size (no 2 GiB limit on the whole file); each next reads the following k rows (fewer
 * at the end; 0 rows once all are read) into *out, which the caller frees. Errors as
 * qmac_npy_read(); a 0-d array is QMAC_ERR_SHAPE. close is safe on a closed stream. */
typedef struct {
    FILE *f;
    char path[512];
    qmac_dtype dtype;
    int32_t rank;
    int64_t shape[QMAC_MAX_RANK];
    int64_t rows, next; /* rows along axis 0; rows read so far */
    size_t row_bytes;
} qmac_npy_stream;

qmac_status qmac_npy_open(const char *path, qmac_npy_stream *s);
qmac_status qmac_npy_next(qmac_npy_stream *s, int64_t k, qmac_tensor *out);
void qmac_npy_close(qmac_npy_stream *s);

/* Write t to path atomically: the bytes go to a new temporary file in the same directory
 * (path + ".tmp-<pid>-<n>", mode 0666 minus umask), which is flushed to disk and rename()d over
 * path; on any failure the temporary file is removed and path is untouched. A process killed
 * mid-write can leave the temporary file behind but never a partial path.
 * Errors: QMAC_ERR_INVALID_ARG (bad tensor: dtype, rank, negative dim, NULL data, bool byte not
 * 0/1), QMAC_ERR_IO (naming path and the system error). */
qmac_status qmac_npy_write(const char *path, const qmac_tensor *t);

/* Serialize t into a malloc'ed buffer: *buf receives it (the caller frees it with free()) and
 * *len its size. On error *buf is NULL and *len 0. Errors as qmac_npy_write() plus NOMEM. */
qmac_status qmac_npy_write_mem(const qmac_tensor *t, void **buf, size_t *len);

#ifdef __cplusplus
}
#endif
#endif /* QMAC_NPY_H */
