/* cli.h - what every qmac subcommand shares: exit statuses and the two ways to report a failure
 * ("qmac: error: <kind>: <detail>" for a failed call, "qmac: <usage problem>" for bad options). */
#ifndef QMAC_CLI_H
#define QMAC_CLI_H

#include "qmac/status.h"

enum { EXIT_OK = 0, EXIT_INTERNAL = 1, EXIT_BADINPUT = 2 };

/* 0 for QMAC_OK, 1 for out-of-memory and internal errors, 2 for everything caused by input. */
int cli_exit_code(qmac_status st);

/* Print st and qmac_last_error() on stderr; returns cli_exit_code(st). */
int cli_report(qmac_status st);

/* Print a usage problem and the hint to run `qmac help`; returns EXIT_BADINPUT. */
int cli_usage_error(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;

#endif
