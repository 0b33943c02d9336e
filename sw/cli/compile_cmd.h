/* compile_cmd.h - `qmac compile` and the compiled backends of `qmac run` (compile_cmd.c). */
#ifndef QMAC_COMPILE_CMD_H
#define QMAC_COMPILE_CMD_H

#include <stdio.h>

#include "qmac/compile.h"

int qmac_cmd_compile(int argc, char **argv);
/* qmac cosim: reference, golden model and RTL on one input; exit 0 all agree, 1 the first divergence. */
int qmac_cmd_cosim(int argc, char **argv);

/* Create directory path unless it exists (errors name it). */
qmac_status cli_make_dir(const char *path);
/* --config default|small|HW.json into *hw (errors name the file and key). */
qmac_status cli_hw_config(const char *spec, qmac_hw_config *hw);
/* MAC utilization of a layer (its MACs over cycles x N^2). */
double cli_layer_util(const qmac_model *m, const qmac_model_layer *l);
/* The per-layer table: cycles, MACs, utilization, bytes moved, compute- or memory-bound. */
void cli_print_report(const qmac_model *m, FILE *f);
/* DIR/model.qbin, DIR/model.data, DIR/manifest.json (docs/formats.md), each written atomically. */
qmac_status cli_write_model(const qmac_graph *g, const qmac_model *m, const char *dir);
/* Compile g for the inputs' shapes and run it on `backend` ("golden"); report: print the table. */
qmac_status cli_run_compiled(const qmac_graph *g, const char *backend, const char *config,
                             qmac_requant_rule rule, const qmac_tensor *in, int32_t n_in, qmac_tensor *out,
                             int report);

#endif
