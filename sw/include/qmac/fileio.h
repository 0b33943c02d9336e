/* fileio.h - whole-file reads and atomic whole-file writes shared by the importers, the writers of
 * programs, .npy files and compiled models, and the sim harness. */
#ifndef QMAC_FILEIO_H
#define QMAC_FILEIO_H

#include <stddef.h>

#include "qmac/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Read the whole file at `path` (at most max_bytes) into a malloc'ed buffer with a NUL byte after
 * the len bytes read; the caller frees *buf. On error *buf is NULL and the error detail starts
 * with the path. Errors: QMAC_ERR_IO (cannot open: strerror; read error), QMAC_ERR_UNSUPPORTED
 * (larger than max_bytes), QMAC_ERR_NOMEM. */
qmac_status qmac_read_file(const char *path, size_t max_bytes, char **buf, size_t *len);

/* Write a file atomically: the parts, in order, go to a temporary file beside `path` (path +
 * ".tmp-<pid>-<n>", mode 0666 minus umask), which is flushed to disk and rename()d over path; on
 * any failure the temporary is removed and path is untouched. Errors: QMAC_ERR_IO (the detail
 * names path, the step and strerror), QMAC_ERR_NOMEM. */
qmac_status qmac_write_file_parts(const char *path, const void *const *parts, const size_t *lens,
                                  int n_parts);
qmac_status qmac_write_file(const char *path, const void *data, size_t len);

#ifdef __cplusplus
}
#endif

#endif
