/* compile_cmd.c - `qmac compile` (program, data image, manifest) and the compiled backends of
 * `qmac run` (docs/cli.md, docs/formats.md). */
#include "compile_cmd.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "qmac/npy.h"
#include "qmac/fileio.h"

qmac_status cli_make_dir(const char *path)
{
    struct stat sb;
    if (stat(path, &sb) == 0) {
        if (!S_ISDIR(sb.st_mode))
            return qmac_set_error(QMAC_ERR_IO, "output '%s' exists and is not a directory", path);
        return QMAC_OK;
    }
    if (mkdir(path, 0777) != 0)
        return qmac_set_error(QMAC_ERR_IO, "cannot create output directory '%s': %s", path, strerror(errno));
    return QMAC_OK;
}

/* --config: "default", "small" or a JSON file {"dim": 16, "inp_rows": 4096, ...} (missing keys
 * keep the default build's values). */
qmac_status cli_hw_config(const char *spec, qmac_hw_config *hw)
{
    qmac_hw_config_default(hw);
    if (!spec || !strcmp(spec, "default"))
        return QMAC_OK;
    if (!strcmp(spec, "small")) {
        qmac_hw_config_small(hw);
        return QMAC_OK;
    }
    char *text = NULL;
    size_t len = 0;
    qmac_status st = qmac_read_file(spec, 1 << 20, &text, &len);
    if (st != QMAC_OK)
        return st;
    cJSON *j = cJSON_Parse(text);
    free(text);
    if (!cJSON_IsObject(j)) {
        cJSON_Delete(j);
        return qmac_set_error(QMAC_ERR_FORMAT, "%s: not a JSON object (expected {\"dim\": 16, ...})", spec);
    }
    static const char *const keys[] = {"dim", "inp_rows", "wgt_rows", "acc_rows", "out_rows"};
    uint32_t *fields[] = {&hw->dim, &hw->inp_rows, &hw->wgt_rows, &hw->acc_rows, &hw->out_rows};
    for (const cJSON *it = j->child; it && st == QMAC_OK; it = it->next) {
        size_t k = 0;
        while (k < 5 && strcmp(it->string, keys[k]) != 0)
            ++k;
        if (k == 5)
            st = qmac_set_error(QMAC_ERR_FORMAT,
                                "%s: unknown key '%s' (dim, inp_rows, wgt_rows, acc_rows, out_rows)", spec,
                                it->string);
        else if (!cJSON_IsNumber(it) || it->valuedouble < 1 || it->valuedouble > 65536 ||
                 it->valuedouble != (double)(uint32_t)it->valuedouble)
            st = qmac_set_error(QMAC_ERR_FORMAT, "%s: '%s' must be an integer in [1, 65536]", spec,
                                it->string);
        else
            *fields[k] = (uint32_t)it->valuedouble;
    }
    cJSON_Delete(j);
    if (st == QMAC_OK && (st = qmac_hw_config_check(hw)) != QMAC_OK)
        st = qmac_set_error(st, "%s: %s", spec, qmac_last_error());
    return st;
}

static cJSON *shape_json(int32_t rank, const int64_t *shape)
{
    cJSON *a = cJSON_CreateArray();
    for (int32_t k = 0; a && k < rank; ++k)
        cJSON_AddItemToArray(a, cJSON_CreateNumber((double)shape[k]));
    return a;
}

static cJSON *tensors_json(const qmac_model_tensor *t, int32_t n)
{
    cJSON *a = cJSON_CreateArray();
    for (int32_t k = 0; a && k < n; ++k) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", t[k].name);
        cJSON_AddStringToObject(o, "dtype", qmac_dtype_name(t[k].dtype));
        cJSON_AddItemToObject(o, "shape", shape_json(t[k].rank, t[k].shape));
        cJSON_AddNumberToObject(o, "channel_axis", t[k].cax);
        cJSON_AddNumberToObject(o, "addr", t[k].addr);
        cJSON_AddNumberToObject(o, "pixels", t[k].pixels);
        cJSON_AddNumberToObject(o, "channels", t[k].channels);
        cJSON_AddNumberToObject(o, "row_groups", t[k].groups);
        cJSON_AddNumberToObject(o, "fill", t[k].fill);
        if (t[k].im2col.on) {
            const qmac_im2col *c = &t[k].im2col;
            cJSON *w = cJSON_CreateObject();
            const struct {
                const char *key;
                const uint32_t *v;
            } pairs[] = {{"kernel", c->kernel},
                         {"strides", c->strides},
                         {"dilations", c->dilations},
                         {"pads_begin", c->pads},
                         {"out", c->out}};
            for (size_t j = 0; j < sizeof pairs / sizeof pairs[0]; ++j) {
                const int v2[2] = {(int)pairs[j].v[0], (int)pairs[j].v[1]};
                cJSON_AddItemToObject(w, pairs[j].key, cJSON_CreateIntArray(v2, 2));
            }
            cJSON_AddItemToObject(o, "im2col", w);
        }
        cJSON_AddItemToArray(a, o);
    }
    return a;
}

static cJSON *qinfo_json(const qmac_qinfo *q)
{
    cJSON *o = cJSON_CreateObject(), *s = cJSON_CreateArray(), *z = cJSON_CreateArray();
    for (int32_t k = 0; k < q->n; ++k) {
        cJSON_AddItemToArray(s, cJSON_CreateNumber((double)q->scale[k]));
        cJSON_AddItemToArray(z, cJSON_CreateNumber(q->zp[k]));
    }
    cJSON_AddStringToObject(o, "dtype", qmac_dtype_name(q->dtype));
    cJSON_AddNumberToObject(o, "axis", q->axis);
    cJSON_AddItemToObject(o, "scale", s);
    cJSON_AddItemToObject(o, "zero_point", z);
    return o;
}

static cJSON *host_json(const qmac_graph *g, const int32_t *nodes, int32_t n)
{
    cJSON *a = cJSON_CreateArray();
    for (int32_t k = 0; k < n; ++k) {
        const qmac_node *nd = &g->nodes[nodes[k]];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "node", nd->name);
        cJSON_AddStringToObject(o, "op", qmac_node_kind_name(nd->op));
        cJSON_AddStringToObject(o, "onnx_ops", nd->onnx_ops);
        cJSON_AddStringToObject(o, "input", g->values[nd->in[0]].name);
        cJSON_AddStringToObject(o, "output", g->values[nd->out[0]].name);
        if (nd->op == QMAC_NODE_QUANTIZE)
            cJSON_AddItemToObject(o, "quantization", qinfo_json(&nd->qy));
        else if (nd->op == QMAC_NODE_DEQUANTIZE)
            cJSON_AddItemToObject(o, "quantization", qinfo_json(&nd->qx));
        cJSON_AddItemToArray(a, o);
    }
    return a;
}

double cli_layer_util(const qmac_model *m, const qmac_model_layer *l)
{
    const double peak = (double)m->hw.dim * m->hw.dim * (l->binary ? 8.0 : 1.0);
    return l->cycles ? (double)l->macs / ((double)l->cycles * peak) : 0.0;
}

static char *manifest_text(const qmac_graph *g, const qmac_model *m)
{
    cJSON *r = cJSON_CreateObject();
    cJSON_AddStringToObject(r, "format", "qmac-model");
    cJSON_AddNumberToObject(r, "version", 1);
    cJSON *hw = cJSON_AddObjectToObject(r, "hw");
    cJSON_AddNumberToObject(hw, "dim", m->hw.dim);
    cJSON_AddNumberToObject(hw, "inp_rows", m->hw.inp_rows);
    cJSON_AddNumberToObject(hw, "wgt_rows", m->hw.wgt_rows);
    cJSON_AddNumberToObject(hw, "acc_rows", m->hw.acc_rows);
    cJSON_AddNumberToObject(hw, "out_rows", m->hw.out_rows);
    cJSON_AddStringToObject(r, "requant", qmac_requant_rule_name(m->rule));
    cJSON *mem = cJSON_AddObjectToObject(r, "memory");
    cJSON_AddNumberToObject(mem, "base", m->base);
    cJSON_AddNumberToObject(mem, "size", m->size);
    cJSON_AddNumberToObject(mem, "arena_addr", m->base);
    cJSON_AddNumberToObject(mem, "arena_size", m->arena_size);
    cJSON_AddNumberToObject(mem, "data_addr", m->data_addr);
    cJSON_AddNumberToObject(mem, "data_size", m->data_size);
    cJSON_AddStringToObject(mem, "data_file", "model.data");
    cJSON_AddNumberToObject(mem, "prog_addr", m->prog_addr);
    cJSON_AddNumberToObject(mem, "prog_instructions", (double)m->prog.n_insn);
    cJSON_AddStringToObject(mem, "prog_file", "model.qbin");
    cJSON_AddNumberToObject(mem, "window_lo", m->base);
    cJSON_AddNumberToObject(mem, "window_hi", (double)m->base + m->size - 1);
    cJSON_AddItemToObject(r, "inputs", tensors_json(m->in, m->n_in));
    cJSON_AddItemToObject(r, "outputs", tensors_json(m->out, m->n_out));
    cJSON_AddItemToObject(r, "host_before", host_json(g, m->host_pre, m->n_host_pre));
    cJSON_AddItemToObject(r, "host_after", host_json(g, m->host_post, m->n_host_post));
    cJSON *gi = cJSON_AddArrayToObject(r, "graph_inputs"), *go = cJSON_AddArrayToObject(r, "graph_outputs");
    for (int32_t k = 0; k < g->n_inputs; ++k)
        cJSON_AddItemToArray(gi, cJSON_CreateString(g->values[g->inputs[k]].name));
    for (int32_t k = 0; k < g->n_outputs; ++k)
        cJSON_AddItemToArray(go, cJSON_CreateString(g->values[g->outputs[k]].name));
    cJSON *ls = cJSON_AddArrayToObject(r, "layers");
    for (int32_t k = 0; k < m->n_layers; ++k) {
        const qmac_model_layer *l = &m->layers[k];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", l->name);
        cJSON_AddStringToObject(o, "kind", l->kind);
        cJSON_AddStringToObject(o, "onnx_ops", l->onnx_ops);
        cJSON_AddNumberToObject(o, "insn_first", (double)l->insn_first);
        cJSON_AddNumberToObject(o, "insn_end", (double)l->insn_end);
        cJSON_AddNumberToObject(o, "macs", (double)l->macs);
        cJSON_AddNumberToObject(o, "vectors", (double)l->vectors);
        cJSON_AddNumberToObject(o, "bytes_in", (double)l->bytes_in);
        cJSON_AddNumberToObject(o, "bytes_out", (double)l->bytes_out);
        cJSON_AddNumberToObject(o, "cycles", (double)l->cycles);
        cJSON_AddNumberToObject(o, "mac_utilization", cli_layer_util(m, l));
        cJSON_AddItemToArray(ls, o);
    }
    cJSON_AddNumberToObject(r, "total_cycles", (double)m->total_cycles);
    char *s = cJSON_Print(r);
    cJSON_Delete(r);
    return s;
}

void cli_print_report(const qmac_model *m, FILE *f)
{
    uint64_t macs = 0;
    const double peak = (double)m->hw.dim * m->hw.dim;
    fprintf(f, "%-4s %-28s %-7s %12s %12s %7s %11s %11s  %s\n", "#", "layer", "kind", "cycles", "MACs",
            "util", "bytes in", "bytes out", "bound");
    for (int32_t k = 0; k < m->n_layers; ++k) {
        const qmac_model_layer *l = &m->layers[k];
        /* compute-bound when the array was busy most of the layer's cycles */
        const int compute = l->cycles && (double)l->vectors >= 0.5 * (double)l->cycles;
        fprintf(f, "%-4d %-28.28s %-7s %12" PRIu64 " %12" PRIu64 " %6.1f%% %11" PRIu64 " %11" PRIu64 "  %s\n",
                (int)k, l->name, l->kind, l->cycles, l->macs, 100.0 * cli_layer_util(m, l), l->bytes_in,
                l->bytes_out, compute ? "compute" : "memory");
        macs += l->macs;
    }
    fprintf(f, "total: %" PRIu64 " cycles, %" PRIu64 " MACs, MAC utilization %.1f%% of %ux%u\n",
            m->total_cycles, macs,
            m->total_cycles ? 100.0 * (double)macs / ((double)m->total_cycles * peak) : 0.0, m->hw.dim,
            m->hw.dim);
}

qmac_status cli_write_model(const qmac_graph *g, const qmac_model *m, const char *dir)
{
    qmac_status st = cli_make_dir(dir);
    const size_t plen = strlen(dir) + 32;
    char *path = malloc(plen);
    unsigned char *pb = NULL;
    size_t pn = 0;
    char *man = NULL;
    if (st == QMAC_OK && !path)
        st = qmac_set_error(QMAC_ERR_NOMEM, "out of memory");
    if (st == QMAC_OK && (st = qmac_prog_to_bytes(&m->prog, &pb, &pn)) == QMAC_OK) {
        snprintf(path, plen, "%s/model.qbin", dir);
        st = qmac_write_file(path, pb, pn);
    }
    if (st == QMAC_OK) {
        snprintf(path, plen, "%s/model.data", dir);
        st = qmac_write_file(path, m->data, m->data_size);
    }
    if (st == QMAC_OK) {
        man = manifest_text(g, m);
        snprintf(path, plen, "%s/manifest.json", dir);
        st = man ? qmac_write_file(path, man, strlen(man)) : qmac_set_error(QMAC_ERR_NOMEM, "out of memory");
    }
    free(man);
    free(pb);
    free(path);
    return st;
}

int qmac_cmd_compile(int argc, char **argv)
{
    const char *model = NULL, *outdir = NULL, *config = NULL, *rule_s = "onnxrt";
    int quiet = 0;
    for (int i = 0; i < argc; ++i) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if ((!strcmp(a, "-o") || !strcmp(a, "--output") || !strcmp(a, "--config") ||
             !strcmp(a, "--requant")) &&
            !v)
            return cli_usage_error("compile: %s needs a value", a);
        if (!strcmp(a, "-o") || !strcmp(a, "--output"))
            outdir = argv[++i];
        else if (!strcmp(a, "--config"))
            config = argv[++i];
        else if (!strcmp(a, "--requant"))
            rule_s = argv[++i];
        else if (!strcmp(a, "-q") || !strcmp(a, "--quiet"))
            quiet = 1;
        else if (a[0] == '-' && a[1])
            return cli_usage_error("compile: unknown option '%s'", a);
        else if (!model)
            model = a;
        else
            return cli_usage_error("compile: unexpected argument '%s'", a);
    }
    if (!model || !outdir)
        return cli_usage_error(
            "%s", "compile: usage: qmac compile MODEL.onnx -o DIR [--config default|small|HW.json] "
                  "[--requant onnxrt|tflite|single]");
    qmac_compile_opts o;
    qmac_compile_opts_default(&o);
    if (qmac_requant_rule_parse(rule_s, &o.rule) != 0)
        return cli_usage_error("compile: unknown requant rule '%s' (onnxrt, tflite, single)", rule_s);
    qmac_graph *g = NULL;
    qmac_model *m = NULL;
    qmac_status st = cli_hw_config(config, &o.hw);
    if (st == QMAC_OK)
        st = qmac_onnx_load(model, &g);
    if (st == QMAC_OK)
        st = qmac_compile(g, &o, &m);
    if (st == QMAC_OK)
        st = qmac_model_estimate(m);
    if (st == QMAC_OK)
        st = cli_write_model(g, m, outdir);
    if (st == QMAC_OK && !quiet) {
        printf("%s: %d layers, %zu instructions, data %u bytes, arena %u bytes -> %s/{model.qbin,model.data,"
               "manifest.json}\n",
               model, (int)m->n_layers, m->prog.n_insn, m->data_size, m->arena_size, outdir);
        cli_print_report(m, stdout);
    }
    qmac_model_free(m);
    qmac_graph_free(g);
    return st == QMAC_OK ? EXIT_OK : cli_report(st);
}

/* ------------------------------------------------------------------ the RTL backend */

/* The Verilator simulation of the accelerator for build hw: $QMAC_RTL_SIM, else
 * <directory of this qmac>/sim/accel-<N>/sim_accel (what `make sim` builds). */
static qmac_status rtl_sim_path(const qmac_hw_config *hw, char *path, size_t len)
{
    qmac_hw_config d, sm;
    qmac_hw_config_default(&d);
    qmac_hw_config_small(&sm);
    if (memcmp(hw, &d, sizeof d) != 0 && memcmp(hw, &sm, sizeof sm) != 0)
        return qmac_set_error(
            QMAC_ERR_UNSUPPORTED,
            "the RTL backend has the default and small builds only (--config default|small)");
    const char *env = getenv("QMAC_RTL_SIM");
    if (env && *env) {
        snprintf(path, len, "%s", env);
    } else {
        char self[2048];
        const ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
        if (n <= 0)
            return qmac_set_error(QMAC_ERR_IO,
                                  "cannot find the qmac executable's directory: set QMAC_RTL_SIM");
        self[n] = '\0';
        char *slash = strrchr(self, '/');
        if (slash)
            *slash = '\0';
        if ((size_t)snprintf(path, len, "%s/sim/accel-%u/sim_accel", self, hw->dim) >= len)
            return qmac_set_error(QMAC_ERR_IO,
                                  "the path of the RTL simulation is too long: set QMAC_RTL_SIM");
    }
    if (access(path, X_OK) != 0)
        return qmac_set_error(
            QMAC_ERR_IO,
            "the RTL simulation %s is not built (`make sim` builds it; QMAC_RTL_SIM names another)", path);
    return QMAC_OK;
}

typedef struct {
    int report;
    long fail_insn; /* the first instruction the lock-step report names, or -1 */
} rtl_ctx;

/* Run the image on the RTL in lock-step with the golden model (sim_accel --image): the
 * simulation's report goes to stderr when it fails (first differing instruction, its
 * disassembly, buffer row, values, a trace), its counters to stdout with --report. */
static qmac_status rtl_backend(void *vctx, const qmac_model *m, uint8_t *image)
{
    rtl_ctx *ctx = vctx;
    ctx->fail_insn = -1;
    char sim[4096], dir[] = "/tmp/qmac-rtl-XXXXXX";
    qmac_status st = rtl_sim_path(&m->hw, sim, sizeof sim);
    if (st != QMAC_OK)
        return st;
    if (!mkdtemp(dir))
        return qmac_set_error(QMAC_ERR_IO, "cannot create a temporary directory: %s", strerror(errno));
    char img[64], dump[64], log[64], base[32], pa[32], ni[32], win[64];
    snprintf(img, sizeof img, "%s/image.bin", dir);
    snprintf(dump, sizeof dump, "%s/final.bin", dir);
    snprintf(log, sizeof log, "%s/sim.log", dir);
    snprintf(base, sizeof base, "0x%x", m->base);
    snprintf(pa, sizeof pa, "0x%x", m->prog_addr);
    snprintf(ni, sizeof ni, "%zu", m->prog.n_insn);
    snprintf(win, sizeof win, "0x%x:0x%x", m->base, m->base + m->size - 1);
    st = qmac_write_file(img, image, m->size);
    char *const argv[] = {sim,
                          "--config",
                          m->hw.dim == QMAC_CFG_ARRAY_DIM ? "default" : "small",
                          "--image",
                          img,
                          "--base",
                          base,
                          "--prog-addr",
                          pa,
                          "--insns",
                          ni,
                          "--window",
                          win,
                          "--dump",
                          dump,
                          "--trace-dir",
                          dir,
                          NULL};
    int status = -1;
    if (st == QMAC_OK) {
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        posix_spawn_file_actions_adddup2(&fa, 1, 2);
        pid_t pid;
        extern char **environ;
        const int e = posix_spawn(&pid, sim, &fa, NULL, argv, environ);
        posix_spawn_file_actions_destroy(&fa);
        if (e != 0)
            st = qmac_set_error(QMAC_ERR_IO, "cannot run %s: %s", sim, strerror(e));
        else if (waitpid(pid, &status, 0) < 0)
            st = qmac_set_error(QMAC_ERR_IO, "waiting for %s: %s", sim, strerror(errno));
    }
    char *text = NULL, *fin = NULL;
    size_t tlen = 0, flen = 0;
    (void)qmac_read_file(log, (size_t)1 << 24, &text, &tlen);
    if (st == QMAC_OK && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
        fprintf(stderr, "%s", text ? text : "");
        const char *hit = text ? strstr(text, "instruction ") : NULL;
        ctx->fail_insn = hit ? strtol(hit + 12, NULL, 10) : -1;
        st = qmac_set_error(QMAC_ERR_MISMATCH, "the RTL run failed (%s %d; report above; files in %s)",
                            WIFEXITED(status) ? "exit" : "signal",
                            WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status), dir);
    } else if (st == QMAC_OK && (st = qmac_read_file(dump, (size_t)m->size + 1, &fin, &flen)) == QMAC_OK) {
        if (flen != m->size)
            st = qmac_set_error(QMAC_ERR_INTERNAL, "%s holds %zu bytes, expected %u", dump, flen, m->size);
        else
            memcpy(image, fin, flen);
        if (ctx->report && text)
            printf("RTL (lock-step with the golden model):\n%s", text);
    }
    if (st == QMAC_OK) {
        unlink(img);
        unlink(dump);
        unlink(log);
        rmdir(dir);
    }
    free(text);
    free(fin);
    return st;
}

qmac_status cli_run_compiled(const qmac_graph *g, const char *backend, const char *config,
                             qmac_requant_rule rule, const qmac_tensor *in, int32_t n_in, qmac_tensor *out,
                             int report)
{
    const int rtl = !strcmp(backend, "rtl");
    if (strcmp(backend, "golden") != 0 && !rtl)
        return qmac_set_error(QMAC_ERR_INVALID_ARG, "unknown backend '%s' (ref, golden, rtl)", backend);
    rtl_ctx rc = {report, -1};
    qmac_compile_opts o;
    qmac_compile_opts_default(&o);
    o.rule = rule;
    o.inputs = n_in == g->n_inputs ? in : NULL; /* a count mismatch is reported by qmac_model_run */
    qmac_model *m = NULL;
    qmac_status st = cli_hw_config(config, &o.hw);
    if (st == QMAC_OK)
        st = qmac_compile(g, &o, &m);
    if (st == QMAC_OK)
        st = qmac_model_run(g, m, in, n_in, rtl ? rtl_backend : qmac_model_backend_golden, &rc, out);
    if (st == QMAC_OK && report && (st = qmac_model_estimate(m)) == QMAC_OK)
        cli_print_report(m, stdout);
    qmac_model_free(m);
    return st;
}

/* ------------------------------------------------------------------ qmac cosim */

typedef struct {
    int rtl;
    rtl_ctx r;
    uint8_t *final; /* the memory after the run */
} capture_ctx;

static qmac_status capture_backend(void *vctx, const qmac_model *m, uint8_t *image)
{
    capture_ctx *k = vctx;
    qmac_status st = k->rtl ? rtl_backend(&k->r, m, image) : qmac_model_backend_golden(NULL, m, image);
    if (st == QMAC_OK)
        memcpy(k->final, image, m->size);
    return st;
}

/* Index of the first element where a and b differ (bitwise), or -1; shapes/types must agree. */
static long long first_diff(const qmac_tensor *a, const qmac_tensor *b)
{
    if (a->dtype != b->dtype || a->rank != b->rank ||
        memcmp(a->shape, b->shape, sizeof(int64_t) * (size_t)a->rank))
        return 0;
    const size_t es = qmac_dtype_size(a->dtype), cnt = qmac_tensor_count(a);
    for (size_t e = 0; e < cnt; ++e)
        if (memcmp((const uint8_t *)a->data + e * es, (const uint8_t *)b->data + e * es, es) != 0)
            return (long long)e;
    return -1;
}

static void print_elem(FILE *f, const qmac_tensor *t, long long e)
{
    char idx[160] = "";
    size_t off = 0;
    long long r = e;
    int64_t coord[QMAC_MAX_RANK];
    for (int32_t k = t->rank - 1; k >= 0; --k) {
        coord[k] = t->shape[k] ? r % t->shape[k] : 0;
        r = t->shape[k] ? r / t->shape[k] : 0;
    }
    for (int32_t k = 0; k < t->rank && off < sizeof idx; ++k)
        off += (size_t)snprintf(idx + off, sizeof idx - off, "%s%lld", k ? ", " : "", (long long)coord[k]);
    fprintf(f, "element %lld [%s]", e, idx);
}

static void print_value(FILE *f, const qmac_tensor *t, long long e)
{
    if (t->dtype == QMAC_DT_FLOAT32)
        fprintf(f, "%.9g", (double)((const float *)t->data)[e]);
    else
        fprintf(f, "%d", (int)qmac_load_int(t->dtype, t->data, (size_t)e));
}

static int report_diff(const char *what, const char *where, const qmac_tensor *want, const qmac_tensor *got)
{
    const long long e = first_diff(want, got);
    if (e < 0)
        return 0;
    printf("cosim: DIVERGENCE: %s at %s: ", what, where);
    if (want->dtype != got->dtype || want->rank != got->rank) {
        printf("type or shape differs\n");
        return 1;
    }
    print_elem(stdout, want, e);
    printf(" expected ");
    print_value(stdout, want, e);
    printf(", got ");
    print_value(stdout, got, e);
    printf("\n");
    return 1;
}

int qmac_cmd_cosim(int argc, char **argv)
{
    const char *model = NULL, *config = NULL, *rule_s = "onnxrt";
    const char **inputs = calloc((size_t)argc + 1, sizeof *inputs);
    int n_in = 0, no_rtl = 0;
    if (!inputs)
        return EXIT_INTERNAL;
    for (int i = 0; i < argc; ++i) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if ((!strcmp(a, "--input") || !strcmp(a, "-i") || !strcmp(a, "--config") ||
             !strcmp(a, "--requant")) &&
            !v) {
            free(inputs);
            return cli_usage_error("cosim: %s needs a value", a);
        }
        if (!strcmp(a, "--input") || !strcmp(a, "-i"))
            inputs[n_in++] = argv[++i];
        else if (!strcmp(a, "--config"))
            config = argv[++i];
        else if (!strcmp(a, "--requant"))
            rule_s = argv[++i];
        else if (!strcmp(a, "--no-rtl"))
            no_rtl = 1;
        else if (a[0] == '-' && a[1]) {
            free(inputs);
            return cli_usage_error("cosim: unknown option '%s'", a);
        } else if (!model)
            model = a;
        else {
            free(inputs);
            return cli_usage_error("cosim: unexpected argument '%s'", a);
        }
    }
    qmac_compile_opts o;
    qmac_compile_opts_default(&o);
    if (!model) {
        free(inputs);
        return cli_usage_error("%s", "cosim: usage: qmac cosim MODEL.onnx --input X.npy [...] [--config C] "
                                     "[--requant R] [--no-rtl]");
    }
    if (qmac_requant_rule_parse(rule_s, &o.rule) != 0) {
        free(inputs);
        return cli_usage_error("cosim: unknown requant rule '%s' (onnxrt, tflite, single)", rule_s);
    }
    qmac_graph *g = NULL;
    qmac_model *m = NULL;
    qmac_tensor *in = calloc((size_t)n_in + 1, sizeof *in), *vals = NULL, *og = NULL, *orr = NULL;
    uint8_t *ready = NULL;
    int32_t *all = NULL;
    capture_ctx gold = {0, {0, -1}, NULL}, rtl = {1, {0, -1}, NULL};
    int diverged = 0;
    qmac_status st = in ? cli_hw_config(config, &o.hw) : QMAC_ERR_NOMEM;
    if (st == QMAC_OK)
        st = qmac_onnx_load(model, &g);
    if (st == QMAC_OK && n_in != g->n_inputs)
        st = qmac_set_error(QMAC_ERR_INVALID_ARG, "%s has %d input(s) but %d --input given", model,
                            (int)g->n_inputs, n_in);
    for (int i = 0; i < n_in && st == QMAC_OK; ++i)
        if ((st = qmac_npy_read(inputs[i], &in[i])) == QMAC_OK)
            st = qmac_graph_check_input(g, i, &in[i]);
    /* the reference, keeping every value */
    if (st == QMAC_OK) {
        vals = calloc((size_t)g->n_values + 1, sizeof *vals);
        ready = calloc((size_t)g->n_values + 1, 1);
        all = calloc((size_t)g->n_nodes + 1, sizeof *all);
        og = calloc((size_t)g->n_outputs + 1, sizeof *og);
        orr = calloc((size_t)g->n_outputs + 1, sizeof *orr);
        if (!vals || !ready || !all || !og || !orr)
            st = qmac_set_error(QMAC_ERR_NOMEM, "out of memory");
    }
    for (int32_t k = 0; k < n_in && st == QMAC_OK; ++k) {
        if ((st = qmac_tensor_clone(&vals[g->inputs[k]], &in[k])) == QMAC_OK)
            ready[g->inputs[k]] = 1;
    }
    for (int32_t k = 0; st == QMAC_OK && k < g->n_nodes; ++k)
        all[k] = k;
    if (st == QMAC_OK)
        st = qmac_exec_ref_nodes(g, o.rule, vals, ready, all, g->n_nodes);
    /* compiled with every tensor kept, run on the golden model */
    o.keep_all = 1;
    o.inputs = in;
    if (st == QMAC_OK)
        st = qmac_compile(g, &o, &m);
    if (st == QMAC_OK) {
        gold.final = malloc((size_t)m->size + 1);
        rtl.final = malloc((size_t)m->size + 1);
        st = gold.final && rtl.final ? qmac_model_run(g, m, in, n_in, capture_backend, &gold, og)
                                     : qmac_set_error(QMAC_ERR_NOMEM, "out of memory");
    }
    /* golden vs reference, layer by layer, then the graph outputs */
    for (int32_t k = 0; st == QMAC_OK && !diverged && k < m->n_layers; ++k) {
        const qmac_model_layer *l = &m->layers[k];
        qmac_tensor y = {0};
        char where[512];
        snprintf(where, sizeof where, "layer %d '%s' (%s, %s; instructions %zu..%zu), its output '%s'",
                 (int)k, l->name, l->kind, l->onnx_ops, l->insn_first, l->insn_end - 1,
                 g->values[l->y.value].name);
        if ((st = qmac_model_read(m, gold.final, &l->y, &y)) == QMAC_OK)
            diverged = report_diff("golden model vs reference", where, &vals[l->y.value], &y);
        qmac_tensor_free(&y);
    }
    for (int32_t k = 0; st == QMAC_OK && !diverged && k < g->n_outputs; ++k) {
        char where[300];
        snprintf(where, sizeof where, "graph output '%s'", g->values[g->outputs[k]].name);
        diverged = report_diff("golden model vs reference", where, &vals[g->outputs[k]], &og[k]);
    }
    /* the RTL, in lock-step with the golden model instruction by instruction */
    if (st == QMAC_OK && !diverged && !no_rtl) {
        st = qmac_model_run(g, m, in, n_in, capture_backend, &rtl, orr);
        if (st == QMAC_ERR_MISMATCH) {
            diverged = 1;
            printf("cosim: DIVERGENCE: RTL vs golden model");
            for (int32_t k = 0; k < m->n_layers; ++k)
                if (rtl.r.fail_insn >= 0 && (size_t)rtl.r.fail_insn >= m->layers[k].insn_first &&
                    (size_t)rtl.r.fail_insn < m->layers[k].insn_end)
                    printf(" at instruction %ld, layer %d '%s' (%s)", rtl.r.fail_insn, (int)k,
                           m->layers[k].name, m->layers[k].kind);
            printf(" (the lock-step report is above)\n");
            st = QMAC_OK;
        }
        if (st == QMAC_OK && !diverged && memcmp(gold.final, rtl.final, m->size) != 0) {
            diverged = 1;
            printf("cosim: DIVERGENCE: the RTL's final memory differs from the golden model's\n");
        }
        for (int32_t k = 0; st == QMAC_OK && !diverged && k < g->n_outputs; ++k) {
            char where[300];
            snprintf(where, sizeof where, "graph output '%s'", g->values[g->outputs[k]].name);
            diverged = report_diff("RTL vs golden model", where, &og[k], &orr[k]);
        }
    }
    if (st == QMAC_OK && !diverged)
        printf("cosim: reference, golden model%s agree bit for bit: %d layers, %d graph outputs, %zu "
               "instructions\n",
               no_rtl ? "" : " and RTL", (int)m->n_layers, (int)g->n_outputs, m->prog.n_insn);
    const int rc = st != QMAC_OK ? cli_report(st) : diverged ? EXIT_INTERNAL : EXIT_OK;
    for (int32_t k = 0; g && vals && k < g->n_values; ++k)
        qmac_tensor_free(&vals[k]);
    for (int32_t k = 0; g && og && k < g->n_outputs; ++k) {
        qmac_tensor_free(&og[k]);
        qmac_tensor_free(&orr[k]);
    }
    for (int i = 0; in && i < n_in; ++i)
        qmac_tensor_free(&in[i]);
    free(in);
    free(vals);
    free(ready);
    free(all);
    free(og);
    free(orr);
    free(gold.final);
    free(rtl.final);
    free(inputs);
    qmac_model_free(m);
    qmac_graph_free(g);
    return rc;
}
