/* fileio.c - whole-file reads and atomic writes (see fileio.h). */
#include "qmac/fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

static int write_all(int fd, const void *src, size_t n)
{
    const unsigned char *p = src;
    while (n > 0) {
        const ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static atomic_uint g_tmp_counter;

qmac_status qmac_write_file_parts(const char *path, const void *const *parts, const size_t *lens, int n_parts)
{
    const size_t tmp_cap = strlen(path) + 48;
    char *tmp = malloc(tmp_cap);
    if (!tmp)
        return qmac_set_error(QMAC_ERR_NOMEM, "%s: cannot allocate a file name", path);
    int fd = -1;
    for (int attempt = 0; attempt < 100 && fd < 0; ++attempt) {
        const unsigned n = atomic_fetch_add(&g_tmp_counter, 1u);
        snprintf(tmp, tmp_cap, "%s.tmp-%ld-%u", path, (long)getpid(), n);
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd < 0 && errno != EEXIST)
            break;
    }
    if (fd < 0) {
        const qmac_status st = qmac_set_error(QMAC_ERR_IO, "%s: cannot create temporary file %s: %s", path,
                                              tmp, strerror(errno));
        free(tmp);
        return st;
    }
    const char *step = NULL;
    int e = 0;
    for (int k = 0; k < n_parts && !step; ++k)
        if (write_all(fd, parts[k], lens[k]) != 0)
            step = "write";
    if (!step && fsync(fd) != 0)
        step = "fsync";
    if (step)
        e = errno;
    if (close(fd) != 0 && !step) {
        step = "close";
        e = errno;
    }
    if (!step && rename(tmp, path) != 0) {
        step = "rename";
        e = errno;
    }
    qmac_status st = QMAC_OK;
    if (step) {
        unlink(tmp);
        st = qmac_set_error(QMAC_ERR_IO, "%s: %s failed: %s", path, step, strerror(e));
    }
    free(tmp);
    return st;
}

qmac_status qmac_write_file(const char *path, const void *data, size_t len)
{
    return qmac_write_file_parts(path, &data, &len, 1);
}
