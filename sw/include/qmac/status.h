/* status.h - the one status enum of libqmac and its messages. */
#ifndef QMAC_STATUS_H
#define QMAC_STATUS_H

#ifdef __cplusplus
extern "C" {
#endif

/* Every libqmac function that can fail returns one of these. QMAC_OK is 0, errors are negative. */
typedef enum {
    QMAC_OK = 0,
    QMAC_ERR_INVALID_ARG = -1, /* a parameter is out of its documented range (bad scale, zp, shape) */
    QMAC_ERR_SHAPE = -2,       /* tensor shapes do not fit together */
    QMAC_ERR_FORMAT = -3,      /* a file is malformed (ONNX, .npy, JSON vectors) */
    QMAC_ERR_UNSUPPORTED = -4, /* valid input that qmac does not implement (op, dtype, attribute) */
    QMAC_ERR_IO = -5,          /* a file could not be opened, read or written */
    QMAC_ERR_NOMEM = -6,       /* an allocation failed */
    QMAC_ERR_MISMATCH = -7,    /* a comparison (test vectors, co-simulation) found a difference */
    QMAC_ERR_INTERNAL = -8     /* a bug in qmac: an invariant did not hold */
} qmac_status;

/* Short fixed description of a status ("invalid argument"); never NULL. */
const char *qmac_status_str(qmac_status st);

/* Detail of the most recent error raised in this thread with qmac_set_error() (names the culprit:
 * the node, tensor, file or field). Empty string when none. The buffer is thread-local and is
 * overwritten by the next error. */
const char *qmac_last_error(void);

/* Record an error detail (printf-style) and return st, so callers can write
 * `return qmac_set_error(QMAC_ERR_FORMAT, "%s: bad magic", path);`. */
qmac_status qmac_set_error(qmac_status st, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Clear the thread's error detail. */
void qmac_clear_error(void);

#ifdef __cplusplus
}
#endif
#endif /* QMAC_STATUS_H */
