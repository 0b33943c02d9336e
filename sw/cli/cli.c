/* cli.c - exit statuses and failure reports shared by the qmac subcommands (cli.h). */
#include "cli.h"

#include <stdarg.h>
#include <stdio.h>

int cli_exit_code(qmac_status st)
{
    switch (st) {
    case QMAC_OK: return EXIT_OK;
    case QMAC_ERR_NOMEM:
    case QMAC_ERR_INTERNAL: return EXIT_INTERNAL;
    default: return EXIT_BADINPUT;
    }
}

int cli_report(qmac_status st)
{
    const char *d = qmac_last_error();
    fprintf(stderr, "qmac: error: %s%s%s\n", qmac_status_str(st), d[0] ? ": " : "", d);
    return cli_exit_code(st);
}

int cli_usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "qmac: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\nTry 'qmac help'.\n");
    va_end(ap);
    return EXIT_BADINPUT;
}
