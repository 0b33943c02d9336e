/* fileio.h - whole-file reads shared by the importers, the vector reader and the sim harness. */
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

#ifdef __cplusplus
}
#endif

#endif
