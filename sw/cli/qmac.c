/* qmac.c - the qmac command: run quantized ONNX models with the reference backend, check test
 * vectors, inspect models, assemble and disassemble accelerator programs. Exit status: 0 success,
 * 2 bad or unsupported input, 1 internal error (see docs/cli.md). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "qmac/graph.h"
#include "qmac/npy.h"
#include "qmac/vectors.h"

#include "asm_cmd.h"
#include "compile_cmd.h"
#include "quant_cmd.h"
#include "sim_cmd.h"
#include "cli.h"

#define QMAC_VERSION "0.1.0"

static void print_help(FILE *f)
{
    fprintf(f,
            "usage: qmac <command> [options]\n"
            "\n"
            "commands:\n"
            "  run MODEL.onnx --input X.npy [--input ...] --output OUTDIR\n"
            "        [--backend ref|golden|rtl] [--requant onnxrt|tflite|single] [--config C] [--report]\n"
            "      Run a quantized ONNX model (QOperator, QDQ or QONNX). Inputs bind to the graph inputs in\n"
            "      order; each graph output is written to OUTDIR/<output name>.npy (characters outside\n"
            "      [A-Za-z0-9._-] become '_'). --requant picks the requantization rule of conv/matmul/\n"
            "      add/pool (default onnxrt, bit-exact with ONNX Runtime). --backend ref: the C reference\n"
            "      kernels; golden: compiled for the accelerator (--config default|small|HW.json) and run\n"
            "      on its golden model; --report prints the per-layer cycles and MAC utilization.\n"
            "  compile MODEL.onnx -o DIR [--config default|small|HW.json] [--requant R] [-q]\n"
            "      Compile for the accelerator: DIR/model.qbin (program), DIR/model.data (weights and\n"
            "      parameters), DIR/manifest.json (memory map, inputs, outputs, layers; docs/formats.md);\n"
            "      prints the per-layer table of the cycle model. A node it cannot lower is an error.\n"
            "  quantize FLOAT.onnx --calib DATA.npy -o QUANT.onnx [--method minmax|moving-average|\n"
            "        percentile|entropy|mse] [--percentile P] [--bins N] [--per-channel]\n"
            "        [--act-type int8|uint8] [--weight-type int8|uint8] [--act-symmetric] [--reduce-range]\n"
            "        [--ranges RANGES.json] [--ranges-out RANGES.json] [--keep-float LAYER,...]\n"
            "        [--sensitivity] [--mixed K] [--log2-weights | --block-size B] [--qonnx]\n"
            "        [--binary LAYER,...|hidden]\n"
            "      Post-training quantization into a QDQ model: the float model runs on each batch of\n"
            "      DATA.npy (streamed along axis 0; one --calib per model input) and each activation's\n"
            "      range is calibrated; scales and zero points follow ONNX Runtime's quantize_static\n"
            "      (docs/quantization.md).\n"
            "      --ranges sets ranges instead of (or on top of) calibrating; --ranges-out saves them.\n"
            "      --keep-float leaves layers float; --sensitivity prints each layer's output SQNR when\n"
            "      quantized alone; --mixed K keeps the K layers of lowest SQNR float. Where float\n"
            "      layers run (host before/after the accelerator program) is printed. --log2-weights:\n"
            "      weight codes 0, +-2^k; --block-size B: opset-21 blocked weights (reference only).\n"
            "      --qonnx writes QONNX Quant nodes (power-of-two scales); --binary makes layers binary\n"
            "      (BipolarQuant weights and inputs, calibrated thresholds; QONNX; 'hidden': all but\n"
            "      the first and last Conv/Gemm/MatMul).\n"
            "  eval MODEL.onnx --data X.npy --labels Y.npy [--backend ref|golden|rtl] [--config C]\n"
            "      Top-1 accuracy of output 0 (argmax of its last axis) over the rows of X.npy.\n"
            "  check-vectors DIR [-v]\n"
            "      Run every TFLite reference-vector case (*.json) in DIR through the C reference\n"
            "      kernels (rule tflite); print pass/fail counts; exit 1 on any failure.\n"
            "  info MODEL.onnx\n"
            "      Print the imported graph (one line per node with its quantization).\n"
            "  asm IN.qasm -o OUT.qbin\n"
            "      Assemble a program: one instruction per line, 'OPNAME field=value ...' or\n"
            "      '.word W0 ... W7'; '#' comments (docs/cli.md). OUT.qbin: 32 bytes per instruction.\n"
            "  disasm IN.qbin [-o OUT.qasm]\n"
            "      Disassemble a program (stdout by default); the listing re-assembles with 'asm'.\n"
            "  sim PROG.qbin [--build default|small] [--mem BASE:SIZE] [--prog-addr A]\n"
            "        [--window LO:HI] [--load A=FILE]... [--dump A:LEN=FILE]... [--max-cycles N]\n"
            "      Run a program on the golden model and its cycle model (memory 0:16 MiB, program\n"
            "      at BASE, window = all memory by default); print cycles and counters; write the\n"
            "      dumps; exit 4 if it faulted (fault, index and disassembly on stderr) or ran out.\n"
            "  help | --help        this text\n"
            "  version | --version  print the version\n"
            "\n"
            "exit status: 0 success, 2 bad or unsupported input, 1 internal error (cosim: a divergence),\n"
            "4 (sim) the program faulted or did not reach END\n");
}

/* Output file name: characters outside [A-Za-z0-9._-] become '_'. */
static void sanitize(const char *name, char *out, size_t len)
{
    size_t i = 0;
    for (; name[i] && i + 1 < len; ++i) {
        const char ch = name[i];
        const int ok = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
                       ch == '.' || ch == '_' || ch == '-';
        out[i] = ok ? ch : '_';
    }
    out[i] = '\0';
    if (i == 0 && len > 1) {
        out[0] = '_';
        out[1] = '\0';
    }
}

static int cmd_run(int argc, char **argv)
{
    const char *model = NULL, *outdir = NULL, *backend = "ref", *rule_s = "onnxrt", *config = NULL;
    int report = 0;
    const char **inputs = calloc((size_t)argc + 1, sizeof *inputs);
    int n_inputs = 0;
    if (!inputs)
        return EXIT_INTERNAL;
    for (int i = 0; i < argc; ++i) {
        const char *a = argv[i];
        const int has_val = i + 1 < argc;
        if (!strcmp(a, "--input") || !strcmp(a, "-i")) {
            if (!has_val) {
                free(inputs);
                return cli_usage_error("%s needs a file", a);
            }
            inputs[n_inputs++] = argv[++i];
        } else if (!strcmp(a, "--output") || !strcmp(a, "-o")) {
            if (!has_val) {
                free(inputs);
                return cli_usage_error("%s needs a directory", a);
            }
            outdir = argv[++i];
        } else if (!strcmp(a, "--backend")) {
            if (!has_val) {
                free(inputs);
                return cli_usage_error("%s needs a value", a);
            }
            backend = argv[++i];
        } else if (!strcmp(a, "--config")) {
            if (!has_val) {
                free(inputs);
                return cli_usage_error("%s needs a value", a);
            }
            config = argv[++i];
        } else if (!strcmp(a, "--report")) {
            report = 1;
        } else if (!strcmp(a, "--requant")) {
            if (!has_val) {
                free(inputs);
                return cli_usage_error("%s needs a value", a);
            }
            rule_s = argv[++i];
        } else if (a[0] == '-' && a[1]) {
            free(inputs);
            return cli_usage_error("run: unknown option '%s'", a);
        } else if (!model) {
            model = a;
        } else {
            free(inputs);
            return cli_usage_error("run: unexpected argument '%s'", a);
        }
    }
    if (!model || !outdir) {
        free(inputs);
        return cli_usage_error("%s", "run: usage: qmac run MODEL.onnx --input X.npy [...] --output OUTDIR");
    }
    if (strcmp(backend, "ref") != 0 && strcmp(backend, "golden") != 0 && strcmp(backend, "rtl") != 0) {
        free(inputs);
        return cli_usage_error("run: unknown backend '%s' (available: ref, golden, rtl)", backend);
    }
    qmac_requant_rule rule;
    if (qmac_requant_rule_parse(rule_s, &rule) != 0) {
        free(inputs);
        return cli_usage_error("run: unknown requant rule '%s' (onnxrt, tflite, single)", rule_s);
    }

    qmac_graph *g = NULL;
    qmac_tensor *in = calloc((size_t)n_inputs + 1, sizeof *in);
    qmac_tensor *out = NULL;
    qmac_status st = in ? QMAC_OK : QMAC_ERR_NOMEM;
    if (st == QMAC_OK)
        st = qmac_onnx_load(model, &g);
    if (st == QMAC_OK && n_inputs != g->n_inputs)
        st = qmac_set_error(QMAC_ERR_INVALID_ARG, "%s has %d input(s) but %d --input given", model,
                            (int)g->n_inputs, n_inputs);
    for (int i = 0; i < n_inputs && st == QMAC_OK; ++i)
        st = qmac_npy_read(inputs[i], &in[i]);
    if (st == QMAC_OK) {
        out = calloc((size_t)g->n_outputs, sizeof *out);
        if (!out)
            st = QMAC_ERR_NOMEM;
        else if (!strcmp(backend, "ref"))
            st = qmac_exec_ref(g, rule, in, n_inputs, out);
        else
            st = cli_run_compiled(g, backend, config, rule, in, n_inputs, out, report);
    }
    /* file names: reject two outputs that would land on the same file */
    char **names = NULL;
    if (st == QMAC_OK) {
        names = calloc((size_t)g->n_outputs, sizeof *names);
        if (!names)
            st = QMAC_ERR_NOMEM;
        for (int32_t k = 0; k < g->n_outputs && st == QMAC_OK; ++k) {
            char base[512];
            sanitize(g->values[g->outputs[k]].name, base, sizeof base);
            const size_t len = strlen(outdir) + strlen(base) + 8;
            names[k] = malloc(len);
            if (!names[k]) {
                st = QMAC_ERR_NOMEM;
                break;
            }
            snprintf(names[k], len, "%s/%s.npy", outdir, base);
            for (int32_t j = 0; j < k; ++j)
                if (!strcmp(names[j], names[k]))
                    st = qmac_set_error(QMAC_ERR_UNSUPPORTED, "outputs %d and %d both map to %s", (int)j,
                                        (int)k, names[k]);
        }
    }
    if (st == QMAC_OK)
        st = cli_make_dir(outdir);
    for (int32_t k = 0; st == QMAC_OK && k < g->n_outputs; ++k)
        st = qmac_npy_write(names[k], &out[k]);
    int rc = st == QMAC_OK ? EXIT_OK : cli_report(st);
    if (g) {
        if (names)
            for (int32_t k = 0; k < g->n_outputs; ++k)
                free(names[k]);
        if (out)
            for (int32_t k = 0; k < g->n_outputs; ++k)
                qmac_tensor_free(&out[k]);
    }
    free(names);
    free(out);
    for (int i = 0; in && i < n_inputs; ++i)
        qmac_tensor_free(&in[i]);
    free(in);
    free(inputs);
    qmac_graph_free(g);
    return rc;
}

static int cmd_check_vectors(int argc, char **argv)
{
    const char *dir = NULL;
    int verbose = 0;
    for (int i = 0; i < argc; ++i) {
        if (!strcmp(argv[i], "-v") || !strcmp(argv[i], "--verbose"))
            verbose = 1;
        else if (argv[i][0] == '-')
            return cli_usage_error("check-vectors: unknown option '%s'", argv[i]);
        else if (!dir)
            dir = argv[i];
        else
            return cli_usage_error("check-vectors: unexpected argument '%s'", argv[i]);
    }
    if (!dir)
        return cli_usage_error("%s", "check-vectors: usage: qmac check-vectors DIR");
    int pass = 0, fail = 0;
    qmac_status st = qmac_check_vectors_dir(dir, stdout, verbose, &pass, &fail);
    if (st != QMAC_OK && st != QMAC_ERR_MISMATCH)
        return cli_report(st);
    printf("%d passed, %d failed\n", pass, fail);
    if (pass + fail == 0) {
        fprintf(stderr, "qmac: error: no test vectors (*.json cases) found in %s\n", dir);
        return EXIT_BADINPUT;
    }
    return fail ? EXIT_INTERNAL : EXIT_OK;
}

static int cmd_info(int argc, char **argv)
{
    if (argc != 1)
        return cli_usage_error("%s", "info: usage: qmac info MODEL.onnx");
    qmac_graph *g = NULL;
    qmac_status st = qmac_onnx_load(argv[0], &g);
    if (st != QMAC_OK)
        return cli_report(st);
    qmac_graph_print(g, stdout);
    qmac_graph_free(g);
    return EXIT_OK;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        print_help(stderr);
        return EXIT_BADINPUT;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "run"))
        return cmd_run(argc - 2, argv + 2);
    if (!strcmp(cmd, "compile"))
        return qmac_cmd_compile(argc - 2, argv + 2);
    if (!strcmp(cmd, "cosim"))
        return qmac_cmd_cosim(argc - 2, argv + 2);
    if (!strcmp(cmd, "quantize"))
        return qmac_cmd_quantize(argc - 2, argv + 2);
    if (!strcmp(cmd, "eval"))
        return qmac_cmd_eval(argc - 2, argv + 2);
    if (!strcmp(cmd, "check-vectors"))
        return cmd_check_vectors(argc - 2, argv + 2);
    if (!strcmp(cmd, "info"))
        return cmd_info(argc - 2, argv + 2);
    if (!strcmp(cmd, "asm"))
        return qmac_cmd_asm(argc - 2, argv + 2);
    if (!strcmp(cmd, "disasm"))
        return qmac_cmd_disasm(argc - 2, argv + 2);
    if (!strcmp(cmd, "sim"))
        return qmac_cmd_sim(argc - 2, argv + 2);
    if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
        print_help(stdout);
        return EXIT_OK;
    }
    if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
        printf("qmac %s\n", QMAC_VERSION);
        return EXIT_OK;
    }
    return cli_usage_error("unknown command '%s'", cmd);
}
