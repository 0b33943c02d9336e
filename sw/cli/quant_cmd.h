/* quant_cmd.h - `qmac quantize` and `qmac eval` (quant_cmd.c). */
#ifndef QMAC_QUANT_CMD_H
#define QMAC_QUANT_CMD_H

int qmac_cmd_quantize(int argc, char **argv);
int qmac_cmd_eval(int argc, char **argv);

#endif
