/* fileio.c - whole-file reads (see fileio.h). */
#include "qmac/fileio.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

qmac_status qmac_read_file(const char *path, size_t max_bytes, char **buf, size_t *len)
{
    *buf = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return qmac_set_error(QMAC_ERR_IO, "%s: %s", path, strerror(errno));
    size_t cap = 1 << 16, n = 0;
    char *b = malloc(cap);
    qmac_status st = QMAC_OK;
    for (;;) {
        if (!b) {
            st = qmac_set_error(QMAC_ERR_NOMEM, "%s: out of memory", path);
            break;
        }
        if (n + 1 == cap) { /* keep one byte for the terminating NUL */
            if (cap > max_bytes) {
                st = qmac_set_error(QMAC_ERR_UNSUPPORTED, "%s: file larger than %zu bytes", path, max_bytes);
                break;
            }
            char *nb = realloc(b, cap * 2);
            if (!nb) {
                free(b);
            }
            b = nb;
            cap *= 2;
            continue;
        }
        const size_t got = fread(b + n, 1, cap - 1 - n, f);
        n += got;
        if (got == 0) {
            if (ferror(f))
                st = qmac_set_error(QMAC_ERR_IO, "%s: read error", path);
            break;
        }
    }
    fclose(f);
    if (st == QMAC_OK && n > max_bytes)
        st = qmac_set_error(QMAC_ERR_UNSUPPORTED, "%s: file larger than %zu bytes", path, max_bytes);
    if (st != QMAC_OK) {
        free(b);
        return st;
    }
    b[n] = '\0';
    *buf = b;
    *len = n;
    return QMAC_OK;
}
