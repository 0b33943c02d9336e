/* asm_cmd.c - `qmac asm` and `qmac disasm` (see asm_cmd.h). Messages and exit statuses follow
 * qmac.c: "qmac: error: <kind>: <detail>" on stderr; 0 success, 2 bad input (a source error
 * naming file, line and culprit; a .qbin of the wrong size; a missing or unwritable file),
 * 1 internal error. Outputs are written through a temporary file and a rename, so a failing
 * command leaves no output file behind. */
#include "asm_cmd.h"
#include "cli.h"

#include <stdio.h>
#include <string.h>

#include "qmac/asm.h"
#include "qmac/prog.h"

/* IN [-o OUT]: returns 0, or the usage error's exit status. */
static int parse_args(const char *cmd, int argc, char **argv, const char **in, const char **out)
{
    *in = NULL;
    *out = NULL;
    for (int i = 0; i < argc; ++i) {
        if (!strcmp(argv[i], "-o") || !strcmp(argv[i], "--output")) {
            if (i + 1 == argc)
                return cli_usage_error("%s: %s needs a file", cmd, argv[i]);
            *out = argv[++i];
        } else if (argv[i][0] == '-' && argv[i][1]) {
            return cli_usage_error("%s: unknown option '%s'", cmd, argv[i]);
        } else if (!*in) {
            *in = argv[i];
        } else {
            return cli_usage_error("%s: unexpected argument '%s'", cmd, argv[i]);
        }
    }
    return 0;
}

int qmac_cmd_asm(int argc, char **argv)
{
    const char *in, *out;
    const int rc = parse_args("asm", argc, argv, &in, &out);
    if (rc)
        return rc;
    if (!in || !out)
        return cli_usage_error("%s", "asm: usage: qmac asm IN.qasm -o OUT.qbin");
    qmac_prog p;
    qmac_status st = qmac_asm_file(in, &p);
    if (st == QMAC_OK)
        st = qmac_prog_write(&p, out);
    qmac_prog_free(&p);
    return st == QMAC_OK ? EXIT_OK : cli_report(st);
}

int qmac_cmd_disasm(int argc, char **argv)
{
    const char *in, *out;
    const int rc = parse_args("disasm", argc, argv, &in, &out);
    if (rc)
        return rc;
    if (!in)
        return cli_usage_error("%s", "disasm: usage: qmac disasm IN.qbin [-o OUT.qasm]");
    qmac_prog p;
    qmac_status st = qmac_prog_read(in, &p);
    if (st == QMAC_OK)
        st = out ? qmac_disasm_prog_write(&p, out) : qmac_disasm_prog(&p, stdout);
    qmac_prog_free(&p);
    return st == QMAC_OK ? EXIT_OK : cli_report(st);
}
