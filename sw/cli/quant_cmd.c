/* quant_cmd.c - `qmac quantize` (float model + calibration data -> QDQ model) and `qmac eval`
 * (accuracy of a model on a labelled data set), docs/cli.md. */
#include "quant_cmd.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "compile_cmd.h"
#include "qmac/compile.h"
#include "qmac/fileio.h"
#include "qmac/npy.h"
#include "qmac/quantize.h"

/* Rows of `data` per batch for graph input k: its declared first dimension (1 when symbolic);
 * the rest of the declared shape must be the data's rows'. */
static qmac_status batch_rows(const qmac_graph *g, int32_t k, const qmac_npy_stream *s, int64_t *rows)
{
    const qmac_value *v = &g->values[g->inputs[k]];
    if (s->dtype != QMAC_DT_FLOAT32)
        return qmac_set_error(QMAC_ERR_INVALID_ARG, "%s is %s: the model's input '%s' takes float32", s->path,
                              qmac_dtype_name(s->dtype), v->name);
    if (s->rows == 0)
        return qmac_set_error(QMAC_ERR_INVALID_ARG, "%s is empty (0 rows)", s->path);
    *rows = 1;
    if (v->decl_rank < 0)
        return QMAC_OK;
    int bad = s->rank != v->decl_rank;
    for (int32_t d = 1; !bad && d < s->rank; ++d)
        bad = v->decl_shape[d] >= 0 && v->decl_shape[d] != s->shape[d];
    if (bad) {
        char a[160], b[160];
        return qmac_set_error(QMAC_ERR_SHAPE,
                              "%s has shape %s: the model's input '%s' is %s (rows along axis 0)", s->path,
                              qmac_shape_str(s->shape, s->rank, a, sizeof a), v->name,
                              qmac_shape_str(v->decl_shape, v->decl_rank, b, sizeof b));
    }
    if (v->decl_shape[0] > 0)
        *rows = v->decl_shape[0];
    if (s->rows % *rows)
        return qmac_set_error(QMAC_ERR_SHAPE, "%s has %lld rows, not a multiple of the model's batch %lld",
                              s->path, (long long)s->rows, (long long)*rows);
    return QMAC_OK;
}

static qmac_status read_ranges(qmac_quantizer *q, const char *path)
{
    char *text = NULL;
    size_t len = 0;
    qmac_status st = qmac_read_file(path, 64u << 20, &text, &len);
    if (st != QMAC_OK)
        return st;
    cJSON *j = cJSON_ParseWithLength(text, len);
    free(text);
    if (!cJSON_IsObject(j)) {
        cJSON_Delete(j);
        return qmac_set_error(QMAC_ERR_FORMAT, "%s: not a JSON object of \"tensor\": [min, max]", path);
    }
    const cJSON *e;
    cJSON_ArrayForEach(e, j)
    {
        const cJSON *lo = cJSON_GetArrayItem(e, 0), *hi = cJSON_GetArrayItem(e, 1);
        if (!cJSON_IsArray(e) || cJSON_GetArraySize(e) != 2 || !cJSON_IsNumber(lo) || !cJSON_IsNumber(hi)) {
            st = qmac_set_error(QMAC_ERR_FORMAT, "%s: \"%s\" is not [min, max]", path, e->string);
            break;
        }
        const qmac_graph *g = qmac_quantizer_graph(q);
        int known = 0, ranged = 0; /* a tensor of the model that gets no range of its own is skipped */
        for (int32_t v = 0; v < g->n_values && !known; ++v)
            known = g->values[v].name && !strcmp(g->values[v].name, e->string);
        for (int32_t i = 0; i < qmac_quantizer_n_ranges(q) && !ranged; ++i)
            ranged = !strcmp(qmac_quantizer_range_name(q, i), e->string);
        if (known && !ranged)
            continue;
        if ((st = qmac_quantizer_set_range(q, e->string, (float)lo->valuedouble, (float)hi->valuedouble))) {
            st = qmac_set_error(st, "%s: %s", path, qmac_last_error());
            break;
        }
    }
    cJSON_Delete(j);
    return st;
}

static qmac_status write_ranges(qmac_quantizer *q, const char *path)
{
    cJSON *j = cJSON_CreateObject();
    qmac_status st = j ? QMAC_OK : qmac_set_error(QMAC_ERR_NOMEM, "out of memory");
    for (int32_t i = 0; st == QMAC_OK && i < qmac_quantizer_n_ranges(q); ++i) {
        float lo, hi;
        if ((st = qmac_quantizer_range(q, i, &lo, &hi)))
            break;
        const double v[2] = {lo, hi};
        if (!cJSON_AddItemToObject(j, qmac_quantizer_range_name(q, i), cJSON_CreateDoubleArray(v, 2)))
            st = qmac_set_error(QMAC_ERR_NOMEM, "out of memory");
    }
    char *text = st == QMAC_OK ? cJSON_Print(j) : NULL;
    if (st == QMAC_OK && !text)
        st = qmac_set_error(QMAC_ERR_NOMEM, "out of memory");
    if (st == QMAC_OK) {
        const void *parts[2] = {text, "\n"};
        const size_t lens[2] = {strlen(text), 1};
        st = qmac_write_file_parts(path, parts, lens, 2);
    }
    free(text);
    cJSON_Delete(j);
    return st;
}

typedef qmac_status (*batch_fn)(qmac_quantizer *q, const qmac_tensor *inputs);

enum { MAX_CALIB = 16 };

/* The calibration data: one .npy per graph input, in the model's input order. */
typedef struct {
    const char *path[MAX_CALIB];
    int32_t n;
} calib_set;

/* Stream the rows of the calibration files through fn, one model batch (of every input) at a
 * time. */
static qmac_status stream(qmac_quantizer *q, const char *model, const calib_set *c, batch_fn fn)
{
    const qmac_graph *g = qmac_quantizer_graph(q);
    if (g->n_inputs != c->n)
        return qmac_set_error(QMAC_ERR_INVALID_ARG,
                              "%s has %d inputs and %d --calib files were given (one per input, in the "
                              "model's input order)",
                              model, (int)g->n_inputs, (int)c->n);
    qmac_npy_stream s[MAX_CALIB];
    qmac_tensor batch[MAX_CALIB];
    int64_t rows[MAX_CALIB];
    memset(s, 0, sizeof s);
    memset(batch, 0, sizeof batch);
    qmac_status st = QMAC_OK;
    int32_t open = 0;
    for (; open < c->n && st == QMAC_OK; ++open)
        if ((st = qmac_npy_open(c->path[open], &s[open])) == QMAC_OK)
            st = batch_rows(g, open, &s[open], &rows[open]);
    for (int32_t k = 1; k < c->n && st == QMAC_OK; ++k)
        if (s[k].rows / rows[k] != s[0].rows / rows[0])
            st = qmac_set_error(QMAC_ERR_SHAPE, "%s has %lld batches of input '%s', %s has %lld of '%s'",
                                c->path[k], (long long)(s[k].rows / rows[k]), g->values[g->inputs[k]].name,
                                c->path[0], (long long)(s[0].rows / rows[0]), g->values[g->inputs[0]].name);
    while (st == QMAC_OK && s[0].next < s[0].rows) { /* one batch in memory at a time */
        for (int32_t k = 0; k < c->n && st == QMAC_OK; ++k)
            st = qmac_npy_next(&s[k], rows[k], &batch[k]);
        if (st == QMAC_OK && (st = fn(q, batch)))
            st = qmac_set_error(st, "%s: %s", c->path[0], qmac_last_error());
        for (int32_t k = 0; k < c->n; ++k)
            qmac_tensor_free(&batch[k]);
    }
    for (int32_t k = 0; k < open; ++k)
        qmac_npy_close(&s[k]);
    return st;
}

static void print_sqnr(double db, int width)
{
    if (isinf(db))
        printf("%*s", width, "exact");
    else
        printf("%*.1f dB", width - 3, db);
}

/* The sensitivity table (a second pass over the calibration data). */
static qmac_status sensitivity(qmac_quantizer *q, const char *model, const calib_set *calib)
{
    qmac_status st = stream(q, model, calib, qmac_quantizer_sensitivity_observe);
    if (st != QMAC_OK)
        return st;
    printf("sensitivity: SQNR of the outputs with one layer quantized (%lld rows of %s%s)\n",
           (long long)qmac_quantizer_sensitivity_rows(q), calib->path[0], calib->n > 1 ? ", ..." : "");
    for (int32_t i = 0; i < qmac_quantizer_n_layers(q); ++i) {
        printf("  %-24s %-18s ", qmac_quantizer_layer_name(q, i), qmac_quantizer_layer_op(q, i));
        if (qmac_quantizer_is_float(q, i))
            printf("%9s\n", "float");
        else {
            print_sqnr(qmac_quantizer_sqnr(q, i), 9);
            printf("\n");
        }
    }
    printf("  %-43s ", "the quantized model");
    print_sqnr(qmac_quantizer_sqnr(q, -1), 9);
    printf("\n");
    return QMAC_OK;
}

/* --mixed: the `mixed` layers of lowest SQNR not yet float join the keep-float list. */
static qmac_status pick_mixed(const qmac_quantizer *q, int mixed, char ***names, int32_t *n)
{
    const int32_t nl = qmac_quantizer_n_layers(q);
    uint8_t *taken = calloc((size_t)nl + 1, 1);
    if (!taken)
        return qmac_set_error(QMAC_ERR_NOMEM, "out of memory");
    qmac_status st = QMAC_OK;
    for (int k = 0; k < mixed && st == QMAC_OK; ++k) {
        int32_t worst = -1;
        for (int32_t i = 0; i < nl; ++i)
            if (!qmac_quantizer_is_float(q, i) && !taken[i] &&
                (worst < 0 || qmac_quantizer_sqnr(q, i) < qmac_quantizer_sqnr(q, worst)))
                worst = i;
        if (worst < 0)
            break;
        taken[worst] = 1;
        printf("mixed: %s stays float (", qmac_quantizer_layer_name(q, worst));
        print_sqnr(qmac_quantizer_sqnr(q, worst), 0);
        printf(" when quantized alone)\n");
        char **l = realloc(*names, sizeof *l * (size_t)(*n + 1));
        if (!l || !(l[*n] = strdup(qmac_quantizer_layer_name(q, worst)))) {
            if (l)
                *names = l;
            st = qmac_set_error(QMAC_ERR_NOMEM, "out of memory");
        } else {
            *names = l;
            ++*n;
        }
    }
    free(taken);
    return st;
}

/* Where the layers kept float and the binary layers run when the written model is compiled for
 * the default build. */
static void report_layers(const qmac_quantizer *q, const uint8_t *buf, size_t len)
{
    int any = 0;
    float t, s;
    for (int32_t i = 0; i < qmac_quantizer_n_layers(q); ++i)
        any |= qmac_quantizer_is_float(q, i) || qmac_quantizer_binary_input(q, i, &t, &s);
    if (!any)
        return;
    qmac_graph *g = NULL;
    qmac_model *m = NULL;
    qmac_compile_opts co;
    qmac_compile_opts_default(&co);
    if (qmac_onnx_load_mem(buf, len, &g) != QMAC_OK || qmac_compile(g, &co, &m) != QMAC_OK) {
        printf("accelerator: qmac compile refuses the model: %s\n", qmac_last_error());
        qmac_graph_free(g);
        return;
    }
    for (int32_t i = 0; i < qmac_quantizer_n_layers(q); ++i) {
        const char *name = qmac_quantizer_layer_name(q, i), *in = qmac_quantizer_binary_input(q, i, &t, &s);
        for (int32_t k = 0; in && k < m->n_layers; ++k)
            if (!strcmp(m->layers[k].name, name))
                printf("accelerator: %s is binary (input '%s' binarized at %g +- %g): %s\n", name, in,
                       (double)t, (double)s,
                       m->layers[k].binary ? "XNOR-popcount in the array's binary mode"
                                           : "int8 mode on the -1/+1 codes (docs/compiler.md)");
        if (!qmac_quantizer_is_float(q, i))
            continue;
        const char *where = "on the host";
        for (int32_t k = 0; k < m->n_host_pre; ++k)
            if (!strcmp(g->nodes[m->host_pre[k]].name, name))
                where = "on the host before the accelerator program";
        for (int32_t k = 0; k < m->n_host_post; ++k)
            if (!strcmp(g->nodes[m->host_post[k]].name, name))
                where = "on the host after the accelerator program";
        printf("accelerator: %s runs in float %s\n", name, where);
    }
    qmac_model_free(m);
    qmac_graph_free(g);
}

/* A decimal integer in [lo, hi] into *v; -1 when it is not one. */
static int parse_int(const char *s, int32_t lo, int32_t hi, int32_t *v)
{
    char *end;
    const long k = strtol(s, &end, 10);
    if (!*s || *end || k < lo || k > hi)
        return -1;
    *v = (int32_t)k;
    return 0;
}

static int parse_type(const char *s, qmac_dtype *dt)
{
    if (!strcmp(s, "int8"))
        *dt = QMAC_DT_INT8;
    else if (!strcmp(s, "uint8"))
        *dt = QMAC_DT_UINT8;
    else
        return -1;
    return 0;
}

/* Comma-separated names (list may be NULL) appended to *names. */
static qmac_status split_names(const char *list, char ***names, int32_t *n)
{
    for (const char *k = list; k && *k;) {
        const size_t len = strcspn(k, ",");
        char **l = realloc(*names, sizeof *l * (size_t)(*n + 1));
        if (l)
            *names = l;
        if (!l || !(l[*n] = strndup(k, len)))
            return qmac_set_error(QMAC_ERR_NOMEM, "out of memory");
        ++*n;
        k += len + (k[len] == ',');
    }
    return QMAC_OK;
}

static void free_names(char **names, int32_t n)
{
    for (int32_t k = 0; k < n; ++k)
        free(names[k]);
    free(names);
}

int qmac_cmd_quantize(int argc, char **argv)
{
    calib_set calib = {{NULL}, 0};
    const char *model = NULL, *out = NULL, *ranges_in = NULL, *ranges_out = NULL;
    const char *keep = NULL, *binary = NULL;
    int sens = 0;
    int32_t mixed = 0;
    qmac_quantize_opts o;
    qmac_quantize_opts_default(&o);
    for (int i = 0; i < argc; ++i) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        const int takes = !strcmp(a, "--calib") || !strcmp(a, "-o") || !strcmp(a, "--output") ||
                          !strcmp(a, "--method") || !strcmp(a, "--percentile") || !strcmp(a, "--bins") ||
                          !strcmp(a, "--act-type") || !strcmp(a, "--weight-type") || !strcmp(a, "--ranges") ||
                          !strcmp(a, "--ranges-out") || !strcmp(a, "--keep-float") || !strcmp(a, "--mixed") ||
                          !strcmp(a, "--block-size") || !strcmp(a, "--binary");
        if (takes && !v)
            return cli_usage_error("quantize: %s needs a value", a);
        if (!strcmp(a, "--calib")) {
            if (calib.n == MAX_CALIB)
                return cli_usage_error("quantize: more than %d --calib files", MAX_CALIB);
            calib.path[calib.n++] = argv[++i];
        } else if (!strcmp(a, "-o") || !strcmp(a, "--output"))
            out = argv[++i];
        else if (!strcmp(a, "--ranges"))
            ranges_in = argv[++i];
        else if (!strcmp(a, "--ranges-out"))
            ranges_out = argv[++i];
        else if (!strcmp(a, "--keep-float"))
            keep = argv[++i];
        else if (!strcmp(a, "--binary"))
            binary = argv[++i];
        else if (!strcmp(a, "--qonnx"))
            o.qonnx = 1;
        else if (!strcmp(a, "--sensitivity"))
            sens = 1;
        else if (!strcmp(a, "--log2-weights"))
            o.log2_weights = 1;
        else if (!strcmp(a, "--block-size")) {
            if (parse_int(argv[++i], 1, 65536, &o.block_size))
                return cli_usage_error("quantize: --block-size '%s' is not in [1, 65536]", argv[i]);
        } else if (!strcmp(a, "--mixed")) {
            if (parse_int(argv[++i], 1, 100000, &mixed))
                return cli_usage_error("quantize: --mixed '%s' is not a number of layers (1 or more)",
                                       argv[i]);
        } else if (!strcmp(a, "--method")) {
            const int m = qmac_calib_method_parse(argv[++i]);
            if (m < 0)
                return cli_usage_error("quantize: unknown method '%s' (minmax, moving-average, percentile, "
                                       "entropy, mse)",
                                       argv[i]);
            o.method = (qmac_calib_method)m;
        } else if (!strcmp(a, "--percentile")) {
            char *end;
            o.percentile = strtod(argv[++i], &end);
            if (*end || !(o.percentile > 0 && o.percentile <= 100))
                return cli_usage_error("quantize: --percentile '%s' is not in (0, 100]", argv[i]);
        } else if (!strcmp(a, "--bins")) {
            if (parse_int(argv[++i], 16, 1 << 24, &o.num_bins))
                return cli_usage_error("quantize: --bins '%s' is not in [16, 16777216]", argv[i]);
        } else if (!strcmp(a, "--act-type") || !strcmp(a, "--weight-type")) {
            if (parse_type(argv[++i], a[2] == 'a' ? &o.act_type : &o.weight_type))
                return cli_usage_error("quantize: %s '%s' (int8 or uint8)", a, argv[i]);
        } else if (!strcmp(a, "--per-channel"))
            o.per_channel = 1;
        else if (!strcmp(a, "--act-symmetric"))
            o.act_symmetric = 1;
        else if (!strcmp(a, "--reduce-range"))
            o.reduce_range = 1;
        else if (a[0] == '-' && a[1])
            return cli_usage_error("quantize: unknown option '%s'", a);
        else if (!model)
            model = a;
        else
            return cli_usage_error("quantize: unexpected argument '%s'", a);
    }
    if (!model || !out || (!calib.n && !ranges_in))
        return cli_usage_error("%s",
                               "quantize: usage: qmac quantize FLOAT.onnx --calib DATA.npy -o QUANT.onnx "
                               "[options] (qmac help)");
    if ((sens || mixed) && !calib.n)
        return cli_usage_error("%s", "quantize: --sensitivity and --mixed need --calib (the data the SQNR is "
                                     "measured on)");
    if ((sens || mixed) && (o.qonnx || binary))
        return cli_usage_error("%s",
                               "quantize: --sensitivity and --mixed with --qonnx or --binary: not built "
                               "(the one-layer models are QDQ)");
    if (binary && !calib.n)
        return cli_usage_error("%s", "quantize: --binary needs --calib (the binarization thresholds are "
                                     "calibrated)");
    char *bytes = NULL, **names = NULL, **bins = NULL;
    int32_t n_names = 0, n_bins = 0;
    size_t len = 0;
    qmac_quantizer *q = NULL;
    qmac_status st = split_names(keep, &names, &n_names);
    if (st == QMAC_OK && (st = split_names(binary, &bins, &n_bins)) == QMAC_OK) {
        o.binary = (const char *const *)bins;
        o.n_binary = n_bins;
    }
    if (st == QMAC_OK)
        st = qmac_read_file(model, (size_t)2 << 30, &bytes, &len);
    for (int pass = 0; st == QMAC_OK && pass < 2; ++pass) {
        /* pass 0: plan, calibrate (and measure); pass 1 (--mixed): again with the layers it keeps float */
        qmac_quantizer_free(q);
        q = NULL;
        o.keep_float = (const char *const *)names;
        o.n_keep_float = n_names;
        if ((st = qmac_quantizer_new((const uint8_t *)bytes, len, &o, &q)))
            st = qmac_set_error(st, "%s: %s", model, qmac_last_error());
        if (st == QMAC_OK && ranges_in)
            st = read_ranges(q, ranges_in);
        if (st == QMAC_OK && calib.n)
            st = stream(q, model, &calib, qmac_quantizer_observe);
        if (st == QMAC_OK && qmac_quantizer_binary_pending(q))
            st = stream(q, model, &calib, qmac_quantizer_observe_binary);
        if (st == QMAC_OK && (sens || mixed))
            st = sensitivity(q, model, &calib);
        if (st != QMAC_OK || pass || !mixed)
            break;
        st = pick_mixed(q, mixed, &names, &n_names);
    }
    if (st == QMAC_OK && ranges_out)
        st = write_ranges(q, ranges_out);
    uint8_t *qbuf = NULL;
    size_t qlen = 0;
    if (st == QMAC_OK)
        st = qmac_quantizer_write(q, &qbuf, &qlen);
    if (st == QMAC_OK)
        st = qmac_write_file(out, qbuf, qlen);
    if (st == QMAC_OK) {
        printf(
            "quantize: %s -> %s (%s%s, %lld calibration batches, %d ranges; activations %s%s, weights %s%s "
            "%s)\n",
            model, out, o.qonnx || binary ? "QONNX, power-of-two scales, " : "",
            qmac_calib_method_name(o.method), (long long)qmac_quantizer_batches(q),
            (int)qmac_quantizer_n_ranges(q), qmac_dtype_name(o.act_type), o.act_symmetric ? " symmetric" : "",
            qmac_dtype_name(o.weight_type), o.log2_weights ? " log2" : "",
            o.block_size    ? "in blocks"
            : o.per_channel ? "per channel"
                            : "per tensor");
        report_layers(q, qbuf, qlen);
    }
    free(qbuf);
    free(bytes);
    free_names(names, n_names);
    free_names(bins, n_bins);
    qmac_quantizer_free(q);
    return st == QMAC_OK ? EXIT_OK : cli_report(st);
}

/* Index of the largest of n values of output t (row r), first on ties. */
static int64_t argmax_row(const qmac_tensor *t, size_t r, size_t n)
{
    int64_t best = 0;
    double bv = -INFINITY;
    for (size_t k = 0; k < n; ++k) {
        const size_t i = r * n + k;
        const double v = t->dtype == QMAC_DT_FLOAT32 ? (double)((const float *)t->data)[i]
                                                     : (double)qmac_load_int(t->dtype, t->data, i);
        if (v > bv) {
            bv = v;
            best = (int64_t)k;
        }
    }
    return best;
}

int qmac_cmd_eval(int argc, char **argv)
{
    const char *model = NULL, *data = NULL, *labels = NULL, *backend = "ref", *config = NULL;
    for (int i = 0; i < argc; ++i) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        const int takes = !strcmp(a, "--data") || !strcmp(a, "--labels") || !strcmp(a, "--backend") ||
                          !strcmp(a, "--config");
        if (takes && !v)
            return cli_usage_error("eval: %s needs a value", a);
        if (!strcmp(a, "--data"))
            data = argv[++i];
        else if (!strcmp(a, "--labels"))
            labels = argv[++i];
        else if (!strcmp(a, "--backend"))
            backend = argv[++i];
        else if (!strcmp(a, "--config"))
            config = argv[++i];
        else if (a[0] == '-' && a[1])
            return cli_usage_error("eval: unknown option '%s'", a);
        else if (!model)
            model = a;
        else
            return cli_usage_error("eval: unexpected argument '%s'", a);
    }
    if (!model || !data || !labels)
        return cli_usage_error("%s", "eval: usage: qmac eval MODEL.onnx --data X.npy --labels Y.npy "
                                     "[--backend ref|golden|rtl] [--config C]");
    if (strcmp(backend, "ref") && strcmp(backend, "golden") && strcmp(backend, "rtl"))
        return cli_usage_error("eval: unknown backend '%s' (available: ref, golden, rtl)", backend);
    qmac_graph *g = NULL;
    qmac_npy_stream s;
    memset(&s, 0, sizeof s);
    qmac_tensor y, batch, *outs = NULL;
    memset(&y, 0, sizeof y);
    memset(&batch, 0, sizeof batch);
    int64_t rows = 1, right = 0, seen = 0;
    qmac_status st = qmac_onnx_load(model, &g);
    if (st == QMAC_OK && !(outs = calloc((size_t)g->n_outputs + 1, sizeof *outs)))
        st = qmac_set_error(QMAC_ERR_NOMEM, "out of memory");
    if (st == QMAC_OK && (g->n_inputs != 1 || g->n_outputs < 1))
        st = qmac_set_error(QMAC_ERR_UNSUPPORTED, "%s: eval takes models with one input (this one has %d)",
                            model, (int)g->n_inputs);
    if (st == QMAC_OK && (st = qmac_npy_read(labels, &y)) == QMAC_OK &&
        (y.rank != 1 || (y.dtype != QMAC_DT_INT64 && y.dtype != QMAC_DT_INT32 && y.dtype != QMAC_DT_UINT8)))
        st = qmac_set_error(QMAC_ERR_INVALID_ARG,
                            "%s: labels must be a 1-D integer array (int64, int32, uint8)", labels);
    if (st == QMAC_OK && (st = qmac_npy_open(data, &s)) == QMAC_OK)
        st = batch_rows(g, 0, &s, &rows);
    if (st == QMAC_OK && s.rows != y.shape[0])
        st = qmac_set_error(QMAC_ERR_SHAPE, "%s has %lld rows but %s has %lld labels", data,
                            (long long)s.rows, labels, (long long)y.shape[0]);
    while (st == QMAC_OK && s.next < s.rows) {
        const int64_t first = s.next;
        if ((st = qmac_npy_next(&s, rows, &batch)))
            break;
        st = !strcmp(backend, "ref")
                 ? qmac_exec_ref(g, QMAC_REQUANT_ONNXRT, &batch, 1, outs)
                 : cli_run_compiled(g, backend, config, QMAC_REQUANT_ONNXRT, &batch, 1, outs, 0);
        const qmac_tensor out = outs[0];
        const size_t cls = out.rank ? (size_t)out.shape[out.rank - 1] : 0;
        if (st == QMAC_OK && (!cls || qmac_tensor_count(&out) != (size_t)rows * cls))
            st = qmac_set_error(QMAC_ERR_SHAPE, "%s: output 0 is not [batch, classes]", model);
        for (int64_t r = 0; st == QMAC_OK && r < rows; ++r) {
            const int64_t want = y.dtype == QMAC_DT_INT64
                                     ? ((const int64_t *)y.data)[first + r]
                                     : qmac_load_int(y.dtype, y.data, (size_t)(first + r));
            right += argmax_row(&out, (size_t)r, cls) == want;
            ++seen;
        }
        qmac_tensor_free(&batch);
        for (int32_t k = 0; k < g->n_outputs; ++k)
            qmac_tensor_free(&outs[k]);
    }
    if (st == QMAC_OK)
        printf("eval: %s on %s (%s): accuracy %.2f%% (%lld of %lld)\n", model, data, backend,
               100.0 * (double)right / (double)seen, (long long)right, (long long)seen);
    qmac_npy_close(&s);
    qmac_tensor_free(&y);
    qmac_tensor_free(&batch);
    for (int32_t k = 0; outs && k < g->n_outputs; ++k)
        qmac_tensor_free(&outs[k]);
    free(outs);
    qmac_graph_free(g);
    return st == QMAC_OK ? EXIT_OK : cli_report(st);
}
