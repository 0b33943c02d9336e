/* sim_cmd.h - the `qmac sim` command (docs/cli.md); returns the exit status. */
#ifndef QMAC_CLI_SIM_CMD_H
#define QMAC_CLI_SIM_CMD_H

/* qmac sim PROG.qbin [options]; argv holds the arguments after "sim". */
int qmac_cmd_sim(int argc, char **argv);

#endif
