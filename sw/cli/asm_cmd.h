/* asm_cmd.h - the `qmac asm` and `qmac disasm` commands (docs/cli.md); both return the exit
 * status. */
#ifndef QMAC_CLI_ASM_CMD_H
#define QMAC_CLI_ASM_CMD_H

/* qmac asm IN.qasm -o OUT.qbin; argv holds the arguments after "asm". */
int qmac_cmd_asm(int argc, char **argv);
/* qmac disasm IN.qbin [-o OUT.qasm]; argv holds the arguments after "disasm". */
int qmac_cmd_disasm(int argc, char **argv);

#endif
