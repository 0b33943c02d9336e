/* status.c - status strings and the thread-local error detail. */
#include "qmac/status.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char g_detail[512];

const char *qmac_status_str(qmac_status st)
{
    switch (st) {
    case QMAC_OK: return "ok";
    case QMAC_ERR_INVALID_ARG: return "invalid argument";
    case QMAC_ERR_SHAPE: return "shape mismatch";
    case QMAC_ERR_FORMAT: return "malformed input";
    case QMAC_ERR_UNSUPPORTED: return "unsupported";
    case QMAC_ERR_IO: return "I/O error";
    case QMAC_ERR_NOMEM: return "out of memory";
    case QMAC_ERR_MISMATCH: return "mismatch";
    case QMAC_ERR_INTERNAL: return "internal error";
    }
    return "unknown status";
}

const char *qmac_last_error(void)
{
    return g_detail;
}

void qmac_clear_error(void)
{
    g_detail[0] = '\0';
}

qmac_status qmac_set_error(qmac_status st, const char *fmt, ...)
{
    /* through a local buffer: an argument may be qmac_last_error() itself (adding context) */
    char msg[sizeof g_detail];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    memcpy(g_detail, msg, sizeof msg);
    return st;
}
