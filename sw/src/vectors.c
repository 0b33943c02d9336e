/* vectors.c - the TFLite int8 reference-vector checker (format: shared/vectors/tflite-int8/FORMAT.md).
 * Every value read from a file is validated (type, integrality, range, array length) before it
 * reaches a kernel: a bad file is a FAIL naming the file and the field, never a crash.
 * Memory: each case allocates its buffers and frees them before returning; nothing is kept. */
#include "qmac/fileio.h"
#include "qmac/vectors.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "qmac/kernels.h"
#include "qmac/requant.h"

#define VEC_MAX_FILE_BYTES ((size_t)256 << 20) /* refuse anything larger than 256 MiB */
#define VEC_MAX_ELEMENTS ((uint64_t)1 << 30)   /* per tensor; real cases hold a few thousand */
#define VEC_VERBOSE_DIFFS 16

/* State of one case: the file (for messages) and the first error. */
typedef struct {
    const char *file;
    qmac_status st;
} vcase;

static int vfail(vcase *vc, qmac_status st, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Record the first error as "<file>: <detail>"; returns 0 so callers can `return vfail(...)`. */
static int vfail(vcase *vc, qmac_status st, const char *fmt, ...)
{
    if (vc->st != QMAC_OK)
        return 0;
    char detail[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    vc->st = st;
    qmac_set_error(st, "%s: %s", vc->file, detail);
    return 0;
}

/* ---------------------------------------------------------------- field readers (1 = ok) */

static int get_item(vcase *vc, const cJSON *obj, const char *path, const char *key, const cJSON **out)
{
    const cJSON *it = cJSON_IsObject(obj) ? cJSON_GetObjectItemCaseSensitive(obj, key) : NULL;
    if (!it)
        return vfail(vc, QMAC_ERR_FORMAT, "field '%s%s%s' is missing", path, *path ? "." : "", key);
    *out = it;
    return 1;
}

static int get_object(vcase *vc, const cJSON *obj, const char *path, const char *key, const cJSON **out)
{
    if (!get_item(vc, obj, path, key, out))
        return 0;
    if (!cJSON_IsObject(*out))
        return vfail(vc, QMAC_ERR_FORMAT, "field '%s%s%s' is not an object", path, *path ? "." : "", key);
    return 1;
}

/* A JSON number that is an integer within [lo, hi]. */
static int number_in(const cJSON *it, int64_t lo, int64_t hi, int64_t *out)
{
    if (!cJSON_IsNumber(it))
        return 0;
    const double v = it->valuedouble;
    if (!isfinite(v) || v != floor(v) || v < (double)lo || v > (double)hi)
        return 0;
    *out = (int64_t)v;
    return 1;
}

static int get_int(vcase *vc, const cJSON *obj, const char *path, const char *key, int64_t lo, int64_t hi,
                   int32_t *out)
{
    const cJSON *it;
    int64_t v;
    if (!get_item(vc, obj, path, key, &it))
        return 0;
    if (!number_in(it, lo, hi, &v))
        return vfail(vc, QMAC_ERR_FORMAT, "field '%s.%s' must be an integer in [%lld, %lld]", path, key,
                     (long long)lo, (long long)hi);
    *out = (int32_t)v;
    return 1;
}

static int get_string(vcase *vc, const cJSON *obj, const char *path, const char *key, const char **out)
{
    const cJSON *it;
    if (!get_item(vc, obj, path, key, &it))
        return 0;
    if (!cJSON_IsString(it) || !it->valuestring)
        return vfail(vc, QMAC_ERR_FORMAT, "field '%s%s%s' is not a string", path, *path ? "." : "", key);
    *out = it->valuestring;
    return 1;
}

/* An array of exactly n integers in [lo, hi] (n_out receives the length when n < 0: any length
 * from 1 to max_n). */
static int get_int_array(vcase *vc, const cJSON *obj, const char *path, const char *key, int n, int max_n,
                         int64_t lo, int64_t hi, int32_t *out, int *n_out)
{
    const cJSON *arr;
    if (!get_item(vc, obj, path, key, &arr))
        return 0;
    if (!cJSON_IsArray(arr))
        return vfail(vc, QMAC_ERR_FORMAT, "field '%s.%s' is not an array", path, key);
    const int len = cJSON_GetArraySize(arr);
    if ((n >= 0 && len != n) || (n < 0 && (len < 1 || len > max_n)))
        return vfail(vc, QMAC_ERR_FORMAT, "field '%s.%s' has %d entries, expected %d", path, key, len,
                     n >= 0 ? n : max_n);
    int i = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, arr)
    {
        int64_t v;
        if (!number_in(it, lo, hi, &v))
            return vfail(vc, QMAC_ERR_FORMAT, "field '%s.%s[%d]' must be an integer in [%lld, %lld]", path,
                         key, i, (long long)lo, (long long)hi);
        out[i++] = (int32_t)v;
    }
    if (n_out)
        *n_out = len;
    return 1;
}

/* A shape of `rank` entries >= 1 and its element count (at most VEC_MAX_ELEMENTS). */
static int get_shape(vcase *vc, const cJSON *obj, const char *path, const char *key, int rank, int32_t *dims,
                     size_t *count)
{
    if (!get_int_array(vc, obj, path, key, rank, rank, 1, INT32_MAX, dims, NULL))
        return 0;
    uint64_t c = 1;
    for (int i = 0; i < rank; ++i) {
        c *= (uint64_t)dims[i];
        if (c > VEC_MAX_ELEMENTS)
            return vfail(vc, QMAC_ERR_FORMAT, "field '%s.%s' describes too many elements", path, key);
    }
    *count = (size_t)c;
    return 1;
}

/* tensors.<name>: "data" holds exactly count integers in [lo, hi]; "shape", when present, must
 * describe count elements. *out is malloc'ed (the caller frees it). */
static int get_tensor(vcase *vc, const cJSON *tensors, const char *name, size_t count, int64_t lo, int64_t hi,
                      int32_t **out)
{
    char path[96];
    snprintf(path, sizeof path, "tensors.%s", name);
    const cJSON *t, *data, *shape;
    if (!get_object(vc, tensors, "tensors", name, &t) || !get_item(vc, t, path, "data", &data))
        return 0;
    if (!cJSON_IsArray(data))
        return vfail(vc, QMAC_ERR_FORMAT, "field '%s.data' is not an array", path);
    const int len = cJSON_GetArraySize(data);
    if (len < 0 || (size_t)len != count)
        return vfail(vc, QMAC_ERR_FORMAT, "field '%s.data' has %d elements, expected %zu", path, len, count);
    shape = cJSON_GetObjectItemCaseSensitive(t, "shape");
    if (shape) {
        if (!cJSON_IsArray(shape) || cJSON_GetArraySize(shape) > 8)
            return vfail(vc, QMAC_ERR_FORMAT, "field '%s.shape' is not an array of at most 8 dims", path);
        uint64_t c = 1;
        const cJSON *d;
        cJSON_ArrayForEach(d, shape)
        {
            int64_t v;
            if (!number_in(d, 0, INT32_MAX, &v))
                return vfail(vc, QMAC_ERR_FORMAT, "field '%s.shape' holds a non-integer or negative dim",
                             path);
            c = c * (uint64_t)v;
            if (c > VEC_MAX_ELEMENTS)
                return vfail(vc, QMAC_ERR_FORMAT, "field '%s.shape' describes too many elements", path);
        }
        if (c != (uint64_t)count)
            return vfail(vc, QMAC_ERR_FORMAT, "field '%s.shape' describes %llu elements, expected %zu", path,
                         (unsigned long long)c, count);
    }
    int32_t *buf = malloc(count * sizeof *buf);
    if (!buf)
        return vfail(vc, QMAC_ERR_NOMEM, "out of memory for %s (%zu elements)", path, count);
    size_t i = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, data)
    {
        int64_t v;
        if (!number_in(it, lo, hi, &v)) {
            free(buf);
            return vfail(vc, QMAC_ERR_FORMAT, "field '%s.data[%zu]' must be an integer in [%lld, %lld]", path,
                         i, (long long)lo, (long long)hi);
        }
        buf[i++] = (int32_t)v;
    }
    *out = buf;
    return 1;
}

/* ---------------------------------------------------------------- one case */

/* Buffers of a case; all freed by case_free. */
typedef struct {
    int32_t *in1, *in2, *filter, *bias, *expected, *acc;
    int8_t *x8, *y8, *w8, *got;
    int32_t *mult, *shift; /* rule-A requantization of weighted layers (rq points here) */
    qmac_requant rq;
    size_t n_out;
} vbufs;

static void case_free(vbufs *b)
{
    free(b->in1);
    free(b->in2);
    free(b->filter);
    free(b->bias);
    free(b->expected);
    free(b->acc);
    free(b->x8);
    free(b->y8);
    free(b->w8);
    free(b->got);
    free(b->mult);
    free(b->shift);
}

/* int8 copy of an already range-checked int32 array. */
static int8_t *narrow8(vcase *vc, const int32_t *v, size_t n, const char *what)
{
    int8_t *r = malloc(n ? n : 1);
    if (!r) {
        vfail(vc, QMAC_ERR_NOMEM, "out of memory for %s", what);
        return NULL;
    }
    for (size_t i = 0; i < n; ++i)
        r[i] = (int8_t)v[i];
    return r;
}

/* Kernel failure: the file described something the kernels reject (inconsistent shapes...). */
static int kernel_fail(vcase *vc, qmac_status st)
{
    char detail[300];
    snprintf(detail, sizeof detail, "%s", qmac_last_error());
    return vfail(vc, st == QMAC_ERR_NOMEM ? st : QMAC_ERR_FORMAT, "parameters rejected by the kernel: %s",
                 detail);
}

/* Activation range and output offset shared by every op (int8 output). */
typedef struct {
    int32_t act_min, act_max, out_offset;
} vout;

static int get_out_params(vcase *vc, const cJSON *params, vout *o)
{
    if (!get_int(vc, params, "params", "activation_min", -128, 127, &o->act_min) ||
        !get_int(vc, params, "params", "activation_max", -128, 127, &o->act_max))
        return 0;
    if (o->act_min > o->act_max)
        return vfail(vc, QMAC_ERR_FORMAT,
                     "field 'params.activation_min' %d exceeds 'params.activation_max' %d", (int)o->act_min,
                     (int)o->act_max);
    return 1;
}

/* Per-channel (or broadcast) multipliers/shifts of conv/depthwise/fc, as a rule-A requant. */
static int get_requant(vcase *vc, const cJSON *params, int32_t cout, const vout *o, int32_t *mult,
                       int32_t *shift, qmac_requant *rq)
{
    int n_m = 0, n_s = 0;
    const int max_n = cout < 65536 ? (int)cout : 65536;
    if (!get_int_array(vc, params, "params", "output_multiplier", -1, max_n, 0, INT32_MAX, mult, &n_m) ||
        !get_int_array(vc, params, "params", "output_shift", -1, max_n, -31, 31, shift, &n_s))
        return 0;
    if (n_m != n_s || (n_m != 1 && n_m != cout))
        return vfail(
            vc, QMAC_ERR_FORMAT,
            "fields 'params.output_multiplier' (%d) and 'params.output_shift' (%d) need 1 or Cout = %d "
            "entries",
            n_m, n_s, (int)cout);
    memset(rq, 0, sizeof *rq);
    rq->rule = QMAC_REQUANT_TFLITE;
    rq->n_ch = n_m;
    rq->multiplier = mult;
    rq->shift = shift;
    rq->out_zp = o->out_offset;
    rq->act_min = o->act_min;
    rq->act_max = o->act_max;
    return 1;
}

static int get_hw(vcase *vc, const cJSON *params, const char *key, int64_t lo, int32_t *h, int32_t *w)
{
    const cJSON *obj;
    char path[64];
    snprintf(path, sizeof path, "params.%s", key);
    return get_object(vc, params, "params", key, &obj) && get_int(vc, obj, path, "h", lo, INT32_MAX, h) &&
           get_int(vc, obj, path, "w", lo, INT32_MAX, w);
}

static int get_padding(vcase *vc, const cJSON *params, int32_t *t, int32_t *l, int32_t *bo, int32_t *r)
{
    const cJSON *obj;
    return get_object(vc, params, "params", "padding", &obj) &&
           get_int(vc, obj, "params.padding", "top", 0, INT32_MAX, t) &&
           get_int(vc, obj, "params.padding", "left", 0, INT32_MAX, l) &&
           get_int(vc, obj, "params.padding", "bottom", 0, INT32_MAX, bo) &&
           get_int(vc, obj, "params.padding", "right", 0, INT32_MAX, r);
}

static qmac_dims dims4(const int32_t *d)
{
    const qmac_dims r = {d[0], d[1], d[2], d[3]};
    return r;
}

/* The tensors and rule-A requantization of a weighted layer (conv2d, depthwise, fully_connected),
 * validated and loaded into b, with int8 copies of input and filter and room for the int32
 * accumulators and the int8 result. Returns 0 (case failed, message recorded) on any problem. */
static int load_weighted(vcase *vc, const cJSON *params, const cJSON *tensors, size_t n_in, size_t n_f,
                         int32_t cout, size_t n_out, const vout *o, vbufs *b)
{
    if (!get_tensor(vc, tensors, "input", n_in, -128, 127, &b->in1) ||
        !get_tensor(vc, tensors, "filter", n_f, -128, 127, &b->filter) ||
        !get_tensor(vc, tensors, "bias", (size_t)cout, INT32_MIN, INT32_MAX, &b->bias) ||
        !get_tensor(vc, tensors, "expected_output", n_out, -128, 127, &b->expected))
        return 0;
    b->mult = malloc((size_t)cout * sizeof *b->mult);
    b->shift = malloc((size_t)cout * sizeof *b->shift);
    if (!b->mult || !b->shift)
        return vfail(vc, QMAC_ERR_NOMEM, "out of memory for %d channels", (int)cout);
    if (!get_requant(vc, params, cout, o, b->mult, b->shift, &b->rq))
        return 0;
    if (!(b->x8 = narrow8(vc, b->in1, n_in, "input")) || !(b->w8 = narrow8(vc, b->filter, n_f, "filter")))
        return 0;
    b->got = malloc(n_out ? n_out : 1);
    b->acc = malloc((n_out ? n_out : 1) * sizeof *b->acc);
    if (!b->got || !b->acc)
        return vfail(vc, QMAC_ERR_NOMEM, "out of memory");
    b->n_out = n_out;
    return 1;
}

/* conv2d and depthwise_conv2d. */
static int run_conv(vcase *vc, const cJSON *params, const cJSON *tensors, int depthwise, vbufs *b)
{
    int32_t in_s[4], f_s[4], out_s[4];
    size_t n_in, n_f, n_out;
    int32_t groups = 1, dmult = 1, in_off, f_off;
    qmac_conv_params cp;
    vout o;
    memset(&cp, 0, sizeof cp);
    if (!get_shape(vc, params, "params", "input_shape", 4, in_s, &n_in) ||
        !get_shape(vc, params, "params", "filter_shape", 4, f_s, &n_f) ||
        !get_shape(vc, params, "params", "output_shape", 4, out_s, &n_out) ||
        !get_hw(vc, params, "stride", 1, &cp.stride_h, &cp.stride_w) ||
        !get_hw(vc, params, "dilation", 1, &cp.dil_h, &cp.dil_w) ||
        !get_padding(vc, params, &cp.pad_top, &cp.pad_left, &cp.pad_bottom, &cp.pad_right) ||
        !get_int(vc, params, "params", "input_offset", -127, 128, &in_off) ||
        !get_int(vc, params, "params", "filter_offset", -127, 128, &f_off) ||
        !get_int(vc, params, "params", "output_offset", -128, 127, &o.out_offset) ||
        !get_out_params(vc, params, &o))
        return 0;
    if (depthwise) {
        if (cJSON_GetObjectItemCaseSensitive(params, "depth_multiplier")) {
            if (!get_int(vc, params, "params", "depth_multiplier", 1, INT32_MAX, &dmult))
                return 0;
        } else if (in_s[3] > 0 && f_s[3] % in_s[3] == 0) {
            dmult = f_s[3] / in_s[3];
        }
    } else if (!get_int(vc, params, "params", "groups", 1, INT32_MAX, &groups)) {
        return 0;
    }
    cp.groups = groups;
    const int32_t cout = depthwise ? f_s[3] : f_s[0];
    if (!load_weighted(vc, params, tensors, n_in, n_f, cout, n_out, &o, b))
        return 0;
    const qmac_dims xd = dims4(in_s), wd = dims4(f_s), yd = dims4(out_s);
    const qmac_qbuf x = {QMAC_DT_INT8, b->x8, -in_off, NULL};
    const qmac_qbuf w = {QMAC_DT_INT8, b->w8, -f_off, NULL};
    qmac_status st = depthwise ? qmac_depthwise_conv2d_acc(&cp, &xd, &x, &wd, &w, dmult, b->bias, &yd, b->acc)
                               : qmac_conv2d_acc(&cp, &xd, &x, &wd, &w, b->bias, &yd, b->acc);
    if (st == QMAC_OK)
        st = qmac_requant_check(&b->rq, cout, QMAC_DT_INT8, depthwise ? "depthwise_conv2d" : "conv2d");
    if (st != QMAC_OK)
        return kernel_fail(vc, st);
    qmac_requant_tensor(&b->rq, b->acc, n_out, QMAC_DT_INT8, b->got);
    return 1;
}

static int run_fc(vcase *vc, const cJSON *params, const cJSON *tensors, vbufs *b)
{
    int32_t in_s[4], f_s[2], out_s[2], batches, depth, in_off, f_off;
    size_t n_in, n_f, n_out;
    vout o;
    if (!get_shape(vc, params, "params", "input_shape", 4, in_s, &n_in) ||
        !get_shape(vc, params, "params", "filter_shape", 2, f_s, &n_f) ||
        !get_shape(vc, params, "params", "output_shape", 2, out_s, &n_out) ||
        !get_int(vc, params, "params", "batches", 1, INT32_MAX, &batches) ||
        !get_int(vc, params, "params", "accum_depth", 1, INT32_MAX, &depth) ||
        !get_int(vc, params, "params", "input_offset", -127, 128, &in_off) ||
        !get_int(vc, params, "params", "filter_offset", -127, 128, &f_off) ||
        !get_out_params(vc, params, &o) ||
        !get_int(vc, params, "params", "output_offset", -128, 127, &o.out_offset))
        return 0;
    if ((uint64_t)batches * (uint64_t)depth != (uint64_t)n_in)
        return vfail(vc, QMAC_ERR_FORMAT,
                     "fields 'params.batches' x 'params.accum_depth' (%d x %d) != input size %zu",
                     (int)batches, (int)depth, n_in);
    if (f_s[1] != depth || out_s[0] != batches || out_s[1] != f_s[0])
        return vfail(
            vc, QMAC_ERR_FORMAT,
            "fields 'params.filter_shape' [%d, %d] / 'params.output_shape' [%d, %d] do not fit batches %d, "
            "depth %d",
            (int)f_s[0], (int)f_s[1], (int)out_s[0], (int)out_s[1], (int)batches, (int)depth);
    const int32_t cout = f_s[0];
    if (!load_weighted(vc, params, tensors, n_in, n_f, cout, n_out, &o, b))
        return 0;
    const qmac_qbuf x = {QMAC_DT_INT8, b->x8, -in_off, NULL};
    const qmac_qbuf w = {QMAC_DT_INT8, b->w8, -f_off, NULL};
    qmac_status st = qmac_fc_acc(batches, depth, cout, &x, &w, b->bias, b->acc);
    if (st == QMAC_OK)
        st = qmac_requant_check(&b->rq, cout, QMAC_DT_INT8, "fully_connected");
    if (st != QMAC_OK)
        return kernel_fail(vc, st);
    qmac_requant_tensor(&b->rq, b->acc, n_out, QMAC_DT_INT8, b->got);
    return 1;
}

static int run_pool(vcase *vc, const cJSON *params, const cJSON *tensors, int is_max, vbufs *b)
{
    int32_t in_s[4], out_s[4];
    size_t n_in, n_out;
    qmac_pool_params pp;
    vout o = {0, 0, 0}; /* pooling has no output offset */
    memset(&pp, 0, sizeof pp);
    pp.dil_h = pp.dil_w = 1;
    if (!get_shape(vc, params, "params", "input_shape", 4, in_s, &n_in) ||
        !get_shape(vc, params, "params", "output_shape", 4, out_s, &n_out) ||
        !get_hw(vc, params, "filter_size", 1, &pp.k_h, &pp.k_w) ||
        !get_hw(vc, params, "stride", 1, &pp.stride_h, &pp.stride_w) ||
        !get_padding(vc, params, &pp.pad_top, &pp.pad_left, &pp.pad_bottom, &pp.pad_right) ||
        !get_out_params(vc, params, &o))
        return 0;
    if (!get_tensor(vc, tensors, "input", n_in, -128, 127, &b->in1) ||
        !get_tensor(vc, tensors, "expected_output", n_out, -128, 127, &b->expected))
        return 0;
    if (!(b->x8 = narrow8(vc, b->in1, n_in, "input")) || !(b->got = malloc(n_out)))
        return vfail(vc, QMAC_ERR_NOMEM, "out of memory");
    const qmac_dims xd = dims4(in_s), yd = dims4(out_s);
    qmac_status st =
        is_max ? qmac_maxpool(&pp, &xd, QMAC_DT_INT8, b->x8, &yd, o.act_min, o.act_max, b->got)
               : qmac_avgpool_tflite(&pp, &xd, QMAC_DT_INT8, b->x8, &yd, o.act_min, o.act_max, b->got);
    b->n_out = n_out;
    return st == QMAC_OK ? 1 : kernel_fail(vc, st);
}

/* add and mul: flat elementwise, no broadcasting. */
static int run_eltwise(vcase *vc, const cJSON *params, const cJSON *tensors, int is_add, vbufs *b)
{
    int32_t shape[1];
    size_t n;
    int32_t off1, off2, omult, oshift;
    vout o;
    if (!get_shape(vc, params, "params", "shape", 1, shape, &n) ||
        !get_int(vc, params, "params", "input1_offset", -127, 128, &off1) ||
        !get_int(vc, params, "params", "input2_offset", -127, 128, &off2) ||
        !get_int(vc, params, "params", "output_multiplier", 0, INT32_MAX, &omult) ||
        !get_int(vc, params, "params", "output_shift", -31, 31, &oshift) || !get_out_params(vc, params, &o) ||
        !get_int(vc, params, "params", "output_offset", -128, 127, &o.out_offset))
        return 0;
    qmac_add_tflite_params ap;
    qmac_mul_tflite_params mp;
    if (is_add) {
        memset(&ap, 0, sizeof ap);
        if (!get_int(vc, params, "params", "left_shift", 0, 30, &ap.left_shift) ||
            !get_int(vc, params, "params", "input1_multiplier", 0, INT32_MAX, &ap.a_mult) ||
            !get_int(vc, params, "params", "input1_shift", -31, 31, &ap.a_shift) ||
            !get_int(vc, params, "params", "input2_multiplier", 0, INT32_MAX, &ap.b_mult) ||
            !get_int(vc, params, "params", "input2_shift", -31, 31, &ap.b_shift))
            return 0;
        ap.a_offset = off1;
        ap.b_offset = off2;
        ap.out_mult = omult;
        ap.out_shift = oshift;
        ap.out_zp = o.out_offset;
        ap.act_min = o.act_min;
        ap.act_max = o.act_max;
    } else {
        mp.a_offset = off1;
        mp.b_offset = off2;
        mp.out_mult = omult;
        mp.out_shift = oshift;
        mp.out_zp = o.out_offset;
        mp.act_min = o.act_min;
        mp.act_max = o.act_max;
    }
    if (!get_tensor(vc, tensors, "input1", n, -128, 127, &b->in1) ||
        !get_tensor(vc, tensors, "input2", n, -128, 127, &b->in2) ||
        !get_tensor(vc, tensors, "expected_output", n, -128, 127, &b->expected))
        return 0;
    if (!(b->got = malloc(n)))
        return vfail(vc, QMAC_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n; ++i) {
        const int32_t v = is_add ? qmac_add_tflite_one(&ap, b->in1[i], b->in2[i])
                                 : qmac_mul_tflite_one(&mp, b->in1[i], b->in2[i]);
        b->got[i] = (int8_t)v; /* within [act_min, act_max] subset of int8 */
    }
    b->n_out = n;
    return 1;
}

/* Read a whole file (at most VEC_MAX_FILE_BYTES) into a malloc'ed buffer (caller frees). */
static int read_file(vcase *vc, const char *path, char **buf, size_t *len)
{
    qmac_status st = qmac_read_file(path, VEC_MAX_FILE_BYTES, buf, len);
    if (st == QMAC_OK)
        return 1;
    const char *detail = qmac_last_error(); /* "<path>: <detail>"; vfail adds the file itself */
    const size_t n = strlen(path);
    if (strncmp(detail, path, n) == 0 && detail[n] == ':')
        detail += n + 2;
    return vfail(vc, st, "%s", detail);
}

/* File stem ("dir/conv_2.json" -> "conv_2") for the log when the file has no usable name. */
static void stem_of(const char *path, char *out, size_t cap)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t n = strlen(base);
    if (n > 5 && !strcmp(base + n - 5, ".json"))
        n -= 5;
    if (n >= cap)
        n = cap - 1;
    memcpy(out, base, n);
    out[n] = '\0';
}

/* Compare and report; returns the case status. */
static qmac_status compare(vcase *vc, const vbufs *b, const char *name, const char *op, FILE *log,
                           int verbose)
{
    size_t n_diff = 0, first = 0;
    for (size_t i = 0; i < b->n_out; ++i)
        if ((int32_t)b->got[i] != b->expected[i]) {
            if (n_diff == 0)
                first = i;
            ++n_diff;
        }
    if (n_diff == 0) {
        if (log && verbose)
            fprintf(log, "PASS %s %s (%zu outputs)\n", name, op, b->n_out);
        else if (log)
            fprintf(log, "PASS %s %s\n", name, op);
        return QMAC_OK;
    }
    vfail(vc, QMAC_ERR_MISMATCH, "%zu of %zu outputs differ, first at index %zu: expected %d, got %d", n_diff,
          b->n_out, first, (int)b->expected[first], (int)b->got[first]);
    if (log) {
        fprintf(log, "FAIL %s %s: output[%zu] expected %d got %d (%zu of %zu outputs differ)\n", name, op,
                first, (int)b->expected[first], (int)b->got[first], n_diff, b->n_out);
        if (verbose) {
            size_t shown = 0;
            for (size_t i = 0; i < b->n_out && shown < VEC_VERBOSE_DIFFS; ++i)
                if ((int32_t)b->got[i] != b->expected[i]) {
                    fprintf(log, "    output[%zu]: expected %d got %d\n", i, (int)b->expected[i],
                            (int)b->got[i]);
                    ++shown;
                }
        }
    }
    return QMAC_ERR_MISMATCH;
}

qmac_status qmac_check_vector_file(const char *path, FILE *log, int verbose)
{
    vcase vc = {path ? path : "(null)", QMAC_OK};
    vbufs b;
    memset(&b, 0, sizeof b);
    char name[128], op_buf[32] = "?";
    stem_of(vc.file, name, sizeof name);
    char *text = NULL;
    size_t len = 0;
    cJSON *root = NULL;
    const char *op = op_buf;
    int ok = path != NULL || vfail(&vc, QMAC_ERR_INVALID_ARG, "no path");
    ok = ok && read_file(&vc, path, &text, &len);
    if (ok) {
        const char *end = NULL;
        root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
        if (!root) {
            const size_t at = end && end >= text && end <= text + len ? (size_t)(end - text) : len;
            ok = vfail(&vc, QMAC_ERR_FORMAT, "malformed or truncated JSON near byte %zu of %zu", at, len);
        } else {
            while (end && end < text + len && (*end == ' ' || *end == '\n' || *end == '\r' || *end == '\t'))
                ++end;
            if (end && end < text + len)
                ok = vfail(&vc, QMAC_ERR_FORMAT, "trailing data after the JSON value at byte %zu",
                           (size_t)(end - text));
            else if (!cJSON_IsObject(root))
                ok = vfail(&vc, QMAC_ERR_FORMAT, "the top level is not a JSON object");
        }
    }
    const cJSON *params = NULL, *tensors = NULL;
    if (ok) {
        const cJSON *nm = cJSON_GetObjectItemCaseSensitive(root, "name");
        if (cJSON_IsString(nm) && nm->valuestring && nm->valuestring[0])
            snprintf(name, sizeof name, "%s", nm->valuestring);
        const char *layout, *dtype, *op_s;
        ok = get_string(&vc, root, "", "op", &op_s);
        if (ok)
            snprintf(op_buf, sizeof op_buf, "%s", op_s);
        ok = ok && get_string(&vc, root, "", "layout", &layout) && get_string(&vc, root, "", "dtype", &dtype);
        if (ok && strcmp(layout, "NHWC") != 0)
            ok = vfail(&vc, QMAC_ERR_UNSUPPORTED, "field 'layout' is \"%s\", only \"NHWC\" is supported",
                       layout);
        if (ok && strcmp(dtype, "int8") != 0)
            ok = vfail(&vc, QMAC_ERR_UNSUPPORTED, "field 'dtype' is \"%s\", only \"int8\" is supported",
                       dtype);
        ok = ok && get_object(&vc, root, "", "params", &params) &&
             get_object(&vc, root, "", "tensors", &tensors);
    }
    if (ok) {
        if (!strcmp(op, "conv2d"))
            ok = run_conv(&vc, params, tensors, 0, &b);
        else if (!strcmp(op, "depthwise_conv2d"))
            ok = run_conv(&vc, params, tensors, 1, &b);
        else if (!strcmp(op, "fully_connected"))
            ok = run_fc(&vc, params, tensors, &b);
        else if (!strcmp(op, "avgpool"))
            ok = run_pool(&vc, params, tensors, 0, &b);
        else if (!strcmp(op, "maxpool"))
            ok = run_pool(&vc, params, tensors, 1, &b);
        else if (!strcmp(op, "add"))
            ok = run_eltwise(&vc, params, tensors, 1, &b);
        else if (!strcmp(op, "mul"))
            ok = run_eltwise(&vc, params, tensors, 0, &b);
        else
            ok = vfail(&vc, QMAC_ERR_UNSUPPORTED, "field 'op' is \"%s\": unknown op", op);
    }
    qmac_status st;
    if (ok) {
        st = compare(&vc, &b, name, op, log, verbose);
    } else {
        st = vc.st != QMAC_OK ? vc.st : QMAC_ERR_INTERNAL;
        if (log)
            fprintf(log, "FAIL %s %s: %s\n", name, op, qmac_last_error());
    }
    cJSON_Delete(root);
    free(text);
    case_free(&b);
    return st;
}

/* ---------------------------------------------------------------- a folder of cases */

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int is_case_name(const char *n)
{
    const size_t len = strlen(n);
    return n[0] != '.' && len > 5 && !strcmp(n + len - 5, ".json") && strcmp(n, "index.json") != 0;
}

qmac_status qmac_check_vectors_dir(const char *dir, FILE *log, int verbose, int *n_pass, int *n_fail)
{
    int pass = 0, fails = 0;
    if (n_pass)
        *n_pass = 0;
    if (n_fail)
        *n_fail = 0;
    if (!dir)
        return qmac_set_error(QMAC_ERR_INVALID_ARG, "check-vectors: no directory given");
    DIR *d = opendir(dir);
    if (!d)
        return qmac_set_error(QMAC_ERR_IO, "%s: cannot open the directory", dir);
    /* names: malloc'ed array of malloc'ed strings, freed below */
    char **names = NULL;
    size_t n = 0, cap = 0;
    qmac_status st = QMAC_OK;
    const struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!is_case_name(e->d_name))
            continue;
        if (n == cap) {
            const size_t ncap = cap ? cap * 2 : 64;
            char **nn = realloc(names, ncap * sizeof *nn);
            if (!nn) {
                st = QMAC_ERR_NOMEM;
                break;
            }
            names = nn;
            cap = ncap;
        }
        const size_t len = strlen(dir) + 1 + strlen(e->d_name) + 1;
        if (!(names[n] = malloc(len))) {
            st = QMAC_ERR_NOMEM;
            break;
        }
        snprintf(names[n], len, "%s/%s", dir, e->d_name);
        ++n;
    }
    closedir(d);
    if (st == QMAC_OK && n > 1)
        qsort(names, n, sizeof *names, cmp_names);
    for (size_t i = 0; st == QMAC_OK && i < n; ++i) {
        struct stat sb;
        if (stat(names[i], &sb) != 0 || !S_ISREG(sb.st_mode))
            continue; /* a directory or a dangling link named *.json is not a case */
        const qmac_status cs = qmac_check_vector_file(names[i], log, verbose);
        if (cs == QMAC_OK)
            ++pass;
        else if (cs == QMAC_ERR_NOMEM)
            st = cs;
        else
            ++fails;
    }
    for (size_t i = 0; i < n; ++i)
        free(names[i]);
    free(names);
    if (n_pass)
        *n_pass = pass;
    if (n_fail)
        *n_fail = fails;
    if (st != QMAC_OK)
        return qmac_set_error(st, "%s: out of memory while checking vectors", dir);
    if (fails)
        return qmac_set_error(QMAC_ERR_MISMATCH, "%s: %d of %d vector cases failed", dir, fails,
                              pass + fails);
    return QMAC_OK;
}
