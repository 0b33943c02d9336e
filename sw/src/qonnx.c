/* qonnx.c - QONNX models (Brevitas / FINN exports: Quant, BipolarQuant, MultiThreshold): the
 * arithmetic of a QONNX layer's output stage (graph.h) and the importer's QONNX part (onnx_int.h).
 *
 * A QONNX graph is a float graph with fake-quantizers: Quant(x) = (round(clamp(x/s + zp)) - zp) s.
 * qmac imports it as integers: a quantizer of a constant becomes a constant of codes; one of a
 * run-time float tensor a QUANTIZE node; a Conv/MatMul/Gemm over codes one CONV/MATMUL node whose
 * output stage is the float chain (bias, BatchNormalization, Mul/Add/Sub/Div by constants,
 * Relu/Clip) up to the next quantizer, evaluated as the float graph does it (docs/quantization.md,
 * "QONNX"). Values holding codes are registered with the parameters the float graph reads them
 * with. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onnx_int.h"

/* ------------------------------------------------------------------ arithmetic */

float qmac_qonnx_round(qmac_qround mode, float x)
{
    volatile float a; /* float32 steps, as numpy computes them */
    const float sg = x > 0.0f ? 1.0f : x < 0.0f ? -1.0f : 0.0f;
    switch (mode) {
    case QMAC_QR_CEIL: return ceilf(x);
    case QMAC_QR_FLOOR: return floorf(x);
    case QMAC_QR_ROUND_TO_ZERO: return truncf(x);
    case QMAC_QR_UP: return sg * ceilf(fabsf(x));
    case QMAC_QR_HALF_UP: a = fabsf(x) + 0.5f; return sg * floorf(a);
    case QMAC_QR_HALF_DOWN: a = fabsf(x) - 0.5f; return sg * ceilf(a);
    case QMAC_QR_ROUND: break;
    }
    return nearbyintf(x); /* the default rounding mode: half to even */
}

/* QONNX Quant of one value: round(clamp(x / scale + zp, qmin, qmax)), float32 in that order. */
static int32_t quant_code(float x, float scale, float zp, int32_t qmin, int32_t qmax, qmac_qround mode)
{
    volatile float y = x / scale;
    y = y + zp;
    float t = y;
    if (isnan(t))
        t = zp;
    t = t > (float)qmax ? (float)qmax : t < (float)qmin ? (float)qmin : t;
    return (int32_t)qmac_qonnx_round(mode, t);
}

float qmac_qonnx_value(const qmac_qonnx_stage *s, int32_t c, int32_t acc)
{
    volatile float v = (float)acc * s->in_scale[c];
    for (int32_t k = 0; k < s->n_epi; ++k) {
        const qmac_epi_step *e = &s->epi[k];
        const float q = e->k[e->n == 1 ? 0 : c];
        switch (e->op) {
        case QMAC_EPI_MUL: v = v * q; break;
        case QMAC_EPI_ADD: v = v + q; break;
        case QMAC_EPI_SUB: v = v - q; break;
        case QMAC_EPI_DIV: v = v / q; break;
        case QMAC_EPI_MAX: v = v < q ? q : v; break;
        case QMAC_EPI_MIN: v = v > q ? q : v; break;
        }
    }
    return v;
}

int32_t qmac_qonnx_code(const qmac_qonnx_stage *s, int32_t c, float v)
{
    if (s->oq == QMAC_OQ_THRESH) {
        const float *t = s->thr + (size_t)(s->thr_ch == 1 ? 0 : c) * (size_t)s->n_thr;
        int32_t count = 0;
        for (int32_t j = 0; j < s->n_thr; ++j)
            count += v >= t[j];
        return s->code0 + s->code_step * count;
    }
    return quant_code(v, s->scale, s->zp, s->qmin, s->qmax, s->round);
}

void qmac_qonnx_stage_free(qmac_qonnx_stage *s)
{
    if (!s)
        return;
    for (int32_t k = 0; k < s->n_epi; ++k)
        free(s->epi[k].k);
    free(s->epi);
    free(s->in_scale);
    free(s->thr);
    free(s);
}

/* ------------------------------------------------------------------ registry */

int qonnx_domain(const char *d)
{
    return !strcmp(d, "qonnx.custom_op.general") || !strcmp(d, "finn.custom_op.general") ||
           !strcmp(d, "onnx.brevitas");
}

const qmac_qinfo *qonnx_q(const ctx_t *c, int32_t id)
{
    for (int32_t k = 0; id >= 0 && k < c->n_qreg; ++k)
        if (c->qreg[k].value == id)
            return &c->qreg[k].q;
    return NULL;
}

static qmac_status qcopy(qmac_qinfo *dst, const qmac_qinfo *src)
{
    *dst = *src;
    const size_t n = (size_t)(src->n > 0 ? src->n : 1);
    dst->scale = malloc(n * sizeof *dst->scale);
    dst->zp = malloc(n * sizeof *dst->zp);
    if (!dst->scale || !dst->zp) {
        qinfo_free(dst);
        return qmac_set_error(QMAC_ERR_NOMEM, "out of memory");
    }
    memcpy(dst->scale, src->scale, n * sizeof *dst->scale);
    memcpy(dst->zp, src->zp, n * sizeof *dst->zp);
    return QMAC_OK;
}

/* q may point into the registry itself: copied before the registry moves */
static qmac_status reg_add(ctx_t *c, int32_t id, const qmac_qinfo *q)
{
    qmac_qinfo copy;
    qmac_status st = qcopy(&copy, q);
    if (st != QMAC_OK)
        return st;
    qonnx_reg *r = realloc(c->qreg, sizeof *r * (size_t)(c->n_qreg + 1));
    if (!r) {
        qinfo_free(&copy);
        return qmac_set_error(QMAC_ERR_NOMEM, "out of memory");
    }
    c->qreg = r;
    r[c->n_qreg].value = id;
    r[c->n_qreg++].q = copy;
    return QMAC_OK;
}

void qonnx_free(ctx_t *c)
{
    for (int32_t k = 0; k < c->n_qreg; ++k)
        qinfo_free(&c->qreg[k].q);
    free(c->qreg);
    c->qreg = NULL;
    c->n_qreg = 0;
}

/* A per-tensor qinfo of one (scale, zp). */
static qmac_status qinfo_one(qmac_qinfo *q, qmac_dtype dt, float scale, int32_t zp)
{
    memset(q, 0, sizeof *q);
    q->scale_id = q->zp_id = -1;
    q->scale = malloc(sizeof *q->scale);
    q->zp = malloc(sizeof *q->zp);
    if (!q->scale || !q->zp) {
        qinfo_free(q);
        return qmac_set_error(QMAC_ERR_NOMEM, "out of memory");
    }
    q->dtype = dt;
    q->n = 1;
    q->sdtype = QMAC_DT_FLOAT32;
    q->scale[0] = scale;
    q->zp[0] = zp;
    return QMAC_OK;
}

/* ------------------------------------------------------------------ constants */

/* A float constant input of node i: its tensor, or an error naming it. */
static qmac_status const_in(ctx_t *c, int32_t i, size_t k, const char *what, const qmac_tensor **t)
{
    char label[256];
    node_label(c, i, label, sizeof label);
    const char *name = in_name(c->nodes[i].pb, k);
    *t = name ? const_of(c, name) : NULL;
    if (!*t)
        return qmac_set_error(QMAC_ERR_UNSUPPORTED, "%s: the %s must be a constant", label, what);
    for (size_t e = 0; e < qmac_tensor_count(*t); ++e)
        if (!isfinite(tensor_get_f(*t, e)))
            return qmac_set_error(QMAC_ERR_INVALID_ARG, "%s: the %s '%s' is not finite", label, what, name);
    return QMAC_OK;
}

static qmac_status const_scalar(ctx_t *c, int32_t i, size_t k, const char *what, float *v)
{
    const qmac_tensor *t;
    qmac_status st = const_in(c, i, k, what, &t);
    if (st != QMAC_OK)
        return st;
    if (qmac_tensor_count(t) != 1) {
        char label[256];
        node_label(c, i, label, sizeof label);
        return qmac_set_error(QMAC_ERR_UNSUPPORTED, "%s: the %s must be a single value (per tensor)", label,
                              what);
    }
    *v = (float)tensor_get_f(t, 0);
    return QMAC_OK;
}

/* How constant t broadcasts (numpy, right-aligned) onto a tensor of rank `rank` whose axis `axis`
 * has `dim` entries: 1 = one value for all, dim = one per index of that axis; 0 = neither (it
 * varies along another axis, or has a higher rank). */
static int32_t bcast_along(const qmac_tensor *t, int32_t rank, int32_t axis, int64_t dim)
{
    if (t->rank > rank)
        return 0;
    int32_t n = 1;
    for (int32_t j = 0; j < t->rank; ++j) {
        const int32_t a = rank - t->rank + j;
        if (t->shape[j] == 1)
            continue;
        if (a != axis || t->shape[j] != dim)
            return 0;
        n = (int32_t)dim;
    }
    return n;
}

/* The per-axis parameter vector of constant t over a tensor of the given shape: *axis = the axis
 * it varies along (-1: one value), *n its count, vals[] the values (caller frees). */
static qmac_status axis_values(const qmac_tensor *t, int32_t rank, const int64_t *shape, const char *label,
                               const char *what, int32_t *axis, int32_t *n, float **vals)
{
    *axis = -1;
    *n = 1;
    for (int32_t a = 0; a < rank; ++a) {
        const int32_t m = bcast_along(t, rank, a, shape[a]);
        if (m > 1) {
            *axis = a;
            *n = m;
        }
    }
    if (*axis < 0 && qmac_tensor_count(t) != 1)
        return qmac_set_error(QMAC_ERR_UNSUPPORTED,
                              "%s: the %s varies along more than one axis (per-tensor or per-axis only)",
                              label, what);
    if (*axis >= 0 && bcast_along(t, rank, *axis, shape[*axis]) != *n)
        return qmac_set_error(QMAC_ERR_UNSUPPORTED, "%s: the %s does not broadcast along one axis", label,
                              what);
    *vals = malloc(sizeof **vals * (size_t)*n);
    if (!*vals)
        return qmac_set_error(QMAC_ERR_NOMEM, "out of memory");
    for (int32_t k = 0; k < *n; ++k)
        (*vals)[k] = (float)tensor_get_f(t, (size_t)k);
    return QMAC_OK;
}

/* ------------------------------------------------------------------ quantizers */

/* What a Quant / BipolarQuant / MultiThreshold node does, with per-tensor parameters (constant
 * weights may be per axis: handled by fold_weights). */
typedef struct {
    qmac_qonnx_stage s; /* oq INT or THRESH, no steps */
    qmac_dtype dt;      /* code type */
    float scale;        /* the codes' scale and zero point (value = (code - zp) scale) */
    int32_t zp;
} quantizer;

static qmac_status bits_range(ctx_t *c, int32_t i, float bits, int is_signed, int narrow, int32_t *qmin,
                              int32_t *qmax)
{
    char label[256];
    node_label(c, i, label, sizeof label);
    if (bits != floorf(bits) || bits < 1.0f || bits > 8.0f)
        return qmac_set_error(QMAC_ERR_UNSUPPORTED, "%s: bit width %g (qmac codes are 1 to 8 bits)", label,
                              (double)bits);
    const int b = (int)bits;
    *qmin = is_signed ? -(1 << (b - 1)) + (narrow ? 1 : 0) : 0;
    *qmax = is_signed ? (1 << (b - 1)) - 1 : (1 << b) - 1 - (narrow ? 1 : 0);
    return QMAC_OK;
}

static qmac_status parse_round(ctx_t *c, int32_t i, qmac_qround *mode)
{
    static const char *names[] = {"ROUND", "CEIL", "FLOOR", "ROUND_TO_ZERO", "UP", "HALF_UP", "HALF_DOWN"};
    const QmacOnnx__Attribute *a = find_attr(c->nodes[i].pb, "rounding_mode");
    *mode = QMAC_QR_ROUND;
    if (!a || !a->has_s)
        return QMAC_OK;
    char buf[32];
    size_t len = a->s.len < sizeof buf - 1 ? a->s.len : sizeof buf - 1;
    for (size_t k = 0; k < len; ++k)
        buf[k] = (char)(a->s.data[k] >= 'a' && a->s.data[k] <= 'z' ? a->s.data[k] - 32 : a->s.data[k]);
    buf[len] = 0;
    for (size_t k = 0; k < sizeof names / sizeof *names; ++k)
        if (a->s.len == strlen(names[k]) && !strcmp(buf, names[k])) {
            *mode = (qmac_qround)k;
            return QMAC_OK;
        }
    char label[256];
    node_label(c, i, label, sizeof label);
    return qmac_set_error(QMAC_ERR_UNSUPPORTED, "%s: rounding_mode '%s' is not supported", label, buf);
}

/* The bipolar rule: code +1 iff v >= 0 (BipolarQuant, and Quant of 1 signed bit), scale s. */
static qmac_status set_bipolar(quantizer *q, float scale)
{
    q->s.oq = QMAC_OQ_THRESH;
    q->s.thr = calloc(1, sizeof *q->s.thr);
    if (!q->s.thr)
        return qmac_set_error(QMAC_ERR_NOMEM, "out of memory");
    q->s.n_thr = q->s.thr_ch = 1;
    q->s.code0 = -1;
    q->s.code_step = 2;
    q->dt = QMAC_DT_INT8;
    q->scale = scale;
    q->zp = 0;
    return QMAC_OK;
}

/* Parse quantizer node i applied to a tensor of rank `rank` (0: unknown) whose channels are on
 * axis `cax` (-1: the last) with nch entries (per-channel MultiThreshold thresholds; nch 1: per
 * tensor only). */
static qmac_status parse_quantizer(ctx_t *c, int32_t i, int32_t rank, int32_t cax, int32_t nch, quantizer *q)
{
    const QmacOnnx__Node *pb = c->nodes[i].pb;
    char label[256];
    node_label(c, i, label, sizeof label);
    memset(q, 0, sizeof *q);
    q->s.thr_ch = 1;
    qmac_status st;
    float scale = 1.0f, zp = 0.0f, bits = 8.0f;
    if (op_is(pb, "BipolarQuant")) {
        if ((st = const_scalar(c, i, 1, "scale", &scale)))
            return st;
        if (!(scale > 0.0f))
            return qmac_set_error(QMAC_ERR_UNSUPPORTED, "%s: scale %g must be > 0", label, (double)scale);
        return set_bipolar(q, scale);
    }
    if (op_is(pb, "Quant")) {
        if ((st = const_scalar(c, i, 1, "scale", &scale)) ||
            (st = const_scalar(c, i, 2, "zero point", &zp)) ||
            (st = const_scalar(c, i, 3, "bit width", &bits)) || (st = parse_round(c, i, &q->s.round)))
            return st;
        if (!(scale > 0.0f))
            return qmac_set_error(QMAC_ERR_UNSUPPORTED, "%s: scale %g must be > 0", label, (double)scale);
        const int sg = (int)attr_int(pb, "signed", 1), narrow = (int)attr_int(pb, "narrow", 1);
        if (bits == 1.0f && sg) {
            if (zp != 0.0f)
                return qmac_set_error(QMAC_ERR_UNSUPPORTED, "%s: a 1-bit signed Quant with zero point %g",
                                      label, (double)zp);
            return set_bipolar(q, scale);
        }
        if ((st = bits_range(c, i, bits, sg, narrow, &q->s.qmin, &q->s.qmax)))
            return st;
        if (zp != floorf(zp) || zp < (float)q->s.qmin || zp > (float)q->s.qmax)
            return qmac_set_error(QMAC_ERR_UNSUPPORTED, "%s: zero point %g is not a code of the type", label,
                                  (double)zp);
        q->s.oq = QMAC_OQ_INT;
        q->s.scale = scale;
        q->s.zp = zp;
        q->dt = sg ? QMAC_DT_INT8 : QMAC_DT_UINT8;
        q->scale = scale;
        q->zp = (int32_t)zp;
        return QMAC_OK;
    }
    if (!op_is(pb, "MultiThreshold"))
        return qmac_set_error(QMAC_ERR_UNSUPPORTED, "unsupported QONNX operator %s", label);
    const qmac_tensor *t;
    if ((st = const_in(c, i, 1, "thresholds", &t)))
        return st;
    const float os = attr_float(pb, "out_scale", 1.0f), ob = attr_float(pb, "out_bias", 0.0f);
    if (t->rank != 2 || (t->shape[0] != 1 && t->shape[0] != nch) || t->shape[1] < 1 || t->shape[1] > 255)
        return qmac_set_error(QMAC_ERR_UNSUPPORTED,
                              "%s: thresholds must be [channels or 1, 1 .. 255] (channels = %d on axis %d)",
                              label, (int)nch, (int)cax);
    const QmacOnnx__Attribute *lay = find_attr(pb, "data_layout");
    if (t->shape[0] > 1) { /* the channel axis it names (or guesses from the rank) must be ours */
        int32_t at = rank == 3 ? 2 : 1, len = rank; /* QONNX's guess: NC, NWC, NCHW */
        if (lay && lay->has_s && lay->s.len) {
            const char *p = memchr(lay->s.data, 'C', lay->s.len);
            at = p ? (int32_t)(p - (const char *)lay->s.data) : -2;
            len = (int32_t)lay->s.len;
        }
        const int given = lay && lay->has_s && lay->s.len;
        const int ok = rank == 0 && !given ? 1 /* checked at run time: need_rank */
                       : cax < 0           ? at == len - 1 && (rank == 0 || len == rank)
                                           : at == cax && len == rank;
        if (!ok)
            return qmac_set_error(QMAC_ERR_UNSUPPORTED,
                                  "%s: data_layout does not put the channels on axis %d", label, (int)cax);
    }
    const int32_t T = (int32_t)t->shape[1];
    q->s.oq = QMAC_OQ_THRESH;
    q->s.n_thr = T;
    q->s.thr_ch = (int32_t)t->shape[0];
    q->s.thr = malloc(sizeof *q->s.thr * qmac_tensor_count(t));
    if (!q->s.thr)
        return qmac_set_error(QMAC_ERR_NOMEM, "out of memory");
    for (size_t e = 0; e < qmac_tensor_count(t); ++e)
        q->s.thr[e] = (float)tensor_get_f(t, e);
    /* value = out_scale * count + out_bias (float32) must be code * scale for integer codes */
    if (!(os > 0.0f))
        return qmac_set_error(QMAC_ERR_UNSUPPORTED, "%s: out_scale %g must be > 0", label, (double)os);
    volatile float half = os * 0.5f;
    if (T == 1 && ob == -half) { /* bipolar: -s, +s */
        q->s.code0 = -1;
        q->s.code_step = 2;
        q->scale = half;
    } else {
        const float b = ob / os;
        volatile float chk = b * os;
        int exact = b == floorf(b) && chk == ob && b >= -128.0f && b + (float)T <= 255.0f;
        for (int32_t k = 0; exact && k <= T; ++k) {
            volatile float v1 = os * (float)k;
            v1 = v1 + ob;
            volatile float v2 = ((float)k + b) * os;
            exact = v1 == v2;
        }
        if (!exact)
            return qmac_set_error(
                QMAC_ERR_UNSUPPORTED,
                "%s: out_bias %g is not an integer multiple of out_scale %g (codes would not be "
                "integers)",
                label, (double)ob, (double)os);
        q->s.code0 = (int32_t)b;
        q->s.code_step = 1;
        q->scale = os;
    }
    const int32_t lo = q->s.code0, hi = q->s.code0 + q->s.code_step * T;
    q->dt = lo >= -128 && hi <= 127 ? QMAC_DT_INT8 : QMAC_DT_UINT8;
    if (lo < (q->dt == QMAC_DT_INT8 ? -128 : 0) || hi > (q->dt == QMAC_DT_INT8 ? 127 : 255))
        return qmac_set_error(QMAC_ERR_UNSUPPORTED, "%s: codes %d .. %d do not fit 8 bits", label, (int)lo,
                              (int)hi);
    q->zp = 0;
    return QMAC_OK;
}

/* A quantizer of a constant (weights): the constant's codes, per tensor or per axis. */
static qmac_status fold_weights(ctx_t *c, int32_t i, const qmac_tensor *w)
{
    const QmacOnnx__Node *pb = c->nodes[i].pb;
    char label[256];
    node_label(c, i, label, sizeof label);
    const int bip = op_is(pb, "BipolarQuant");
    if (!bip && !op_is(pb, "Quant"))
        return qmac_set_error(QMAC_ERR_UNSUPPORTED, "%s of a constant is not supported", label);
    const qmac_tensor *ts, *tz = NULL;
    float bits = 1.0f, *sv = NULL, *zv = NULL;
    int32_t sax, sn, zax = -1, zn = 1;
    qmac_qround mode = QMAC_QR_ROUND;
    int sg = 1, narrow = 0;
    int32_t qmin = -1, qmax = 1;
    qmac_status st;
    if ((st = const_in(c, i, 1, "scale", &ts)) ||
        (st = axis_values(ts, w->rank, w->shape, label, "scale", &sax, &sn, &sv)))
        return st;
    if (!bip) {
        if ((st = const_in(c, i, 2, "zero point", &tz)) || (st = const_scalar(c, i, 3, "bit width", &bits)) ||
            (st = parse_round(c, i, &mode)) ||
            (st = axis_values(tz, w->rank, w->shape, label, "zero point", &zax, &zn, &zv)))
            goto out;
        sg = (int)attr_int(pb, "signed", 1);
        narrow = (int)attr_int(pb, "narrow", 1);
        if (!(bits == 1.0f && sg) && (st = bits_range(c, i, bits, sg, narrow, &qmin, &qmax)))
            goto out;
    }
    const int bipolar = bip || (bits == 1.0f && sg);
    if (zn > 1 && sn > 1 && zax != sax) {
        st =
            qmac_set_error(QMAC_ERR_UNSUPPORTED, "%s: scale and zero point vary along different axes", label);
        goto out;
    }
    const int32_t n = sn > zn ? sn : zn, ax = sn > 1 ? sax : zax;
    qmac_qinfo q;
    memset(&q, 0, sizeof q);
    q.scale_id = q.zp_id = -1;
    q.dtype = sg ? QMAC_DT_INT8 : QMAC_DT_UINT8;
    q.n = n;
    q.axis = ax < 0 ? 0 : ax;
    q.sdtype = QMAC_DT_FLOAT32;
    q.srank = n > 1 ? 1 : 0;
    q.sshape[0] = n;
    q.scale = malloc(sizeof *q.scale * (size_t)n);
    q.zp = malloc(sizeof *q.zp * (size_t)n);
    int32_t id = -1;
    if (!q.scale || !q.zp || (st = add_value(c, pb->output[0], &id)) ||
        (st = qmac_tensor_alloc(&c->g->values[id].konst, q.dtype, w->rank, w->shape))) {
        if (st == QMAC_OK)
            st = qmac_set_error(QMAC_ERR_NOMEM, "out of memory");
        qinfo_free(&q);
        goto out;
    }
    c->g->values[id].is_const = 1;
    for (int32_t k = 0; k < n; ++k) {
        q.scale[k] = sv[sn > 1 ? k : 0];
        const float z = zv ? zv[zn > 1 ? k : 0] : 0.0f;
        if (!(q.scale[k] > 0.0f) || z != floorf(z) ||
            (bipolar ? z != 0.0f : z < (float)qmin || z > (float)qmax)) {
            st =
                qmac_set_error(QMAC_ERR_UNSUPPORTED, "%s: scale %g / zero point %g of index %d not supported",
                               label, (double)q.scale[k], (double)z, (int)k);
            qinfo_free(&q);
            goto out;
        }
        q.zp[k] = (int32_t)z;
    }
    size_t inner = 1;
    for (int32_t a = ax + 1; ax >= 0 && a < w->rank; ++a)
        inner *= (size_t)w->shape[a];
    qmac_tensor *y = &c->g->values[id].konst;
    for (size_t e = 0; e < qmac_tensor_count(w); ++e) {
        const int32_t k = n > 1 ? (int32_t)(e / inner % (size_t)n) : 0;
        const float x = (float)tensor_get_f(w, e);
        int32_t code;
        if (bipolar) {
            volatile float v = x / q.scale[k];
            code = v >= 0.0f ? 1 : -1;
        } else {
            code = quant_code(x, q.scale[k], (float)q.zp[k], qmin, qmax, mode);
        }
        qmac_store_int(q.dtype, y->data, e, code);
    }
    st = reg_add(c, id, &q);
    qinfo_free(&q);
out:
    free(sv);
    free(zv);
    return st;
}

qmac_status qonnx_lower_quant(ctx_t *c, int32_t i)
{
    const QmacOnnx__Node *pb = c->nodes[i].pb;
    char label[256];
    node_label(c, i, label, sizeof label);
    const char *x = in_name(pb, 0);
    if (!x || pb->n_output < 1 || !pb->output[0] || !pb->output[0][0])
        return qmac_set_error(QMAC_ERR_FORMAT, "%s: missing input or output", label);
    const qmac_tensor *w = const_of(c, x);
    if (w)
        return fold_weights(c, i, w);
    int32_t xid;
    qmac_status st = input_id(c, i, x, &xid);
    if (st != QMAC_OK)
        return st;
    if (qonnx_q(c, xid))
        return qmac_set_error(
            QMAC_ERR_UNSUPPORTED,
            "%s quantizes '%s', which already holds QONNX codes (a requantization qmac does not "
            "lower)",
            label, x);
    quantizer q;
    if ((st = parse_quantizer(c, i, 0, 0, 1, &q)))
        goto out;
    if (q.s.thr_ch != 1) {
        st = qmac_set_error(QMAC_ERR_UNSUPPORTED, "%s: per-channel thresholds on an input", label);
        goto out;
    }
    qmac_node *n;
    if ((st = new_node(c, QMAC_NODE_QUANTIZE, i, pb->op_type, &n)) || (st = node_add_in(n, xid)) ||
        (st = qinfo_one(&n->qy, q.dt, q.scale, q.zp)))
        goto out;
    n->qs = malloc(sizeof *n->qs);
    if (!n->qs) {
        st = qmac_set_error(QMAC_ERR_NOMEM, "out of memory");
        goto out;
    }
    *n->qs = q.s;
    n->qs->nch = 1;
    memset(&q.s, 0, sizeof q.s); /* now owned by the node */
    if ((st = add_output(c, n, pb, 0)) == QMAC_OK)
        st = reg_add(c, n->out[0], &n->qy);
out:
    free(q.s.thr);
    return st;
}

/* ------------------------------------------------------------------ layers */

int qonnx_is_layer(const ctx_t *c, int32_t i)
{
    const QmacOnnx__Node *pb = c->nodes[i].pb;
    if (!op_is(pb, "Conv") && !op_is(pb, "MatMul") && !op_is(pb, "Gemm"))
        return 0;
    const char *x = in_name(pb, 0);
    return x && qonnx_q(c, find_value(c, x)) != NULL;
}

/* Append a step with the per-channel constant t (how it broadcasts onto the output is checked). */
static qmac_status add_step(qmac_qonnx_stage *s, qmac_epi_op op, const float *k, int32_t n)
{
    qmac_epi_step *e = realloc(s->epi, sizeof *e * (size_t)(s->n_epi + 1));
    if (!e)
        return qmac_set_error(QMAC_ERR_NOMEM, "out of memory");
    s->epi = e;
    e[s->n_epi].op = op;
    e[s->n_epi].n = n;
    e[s->n_epi].k = malloc(sizeof(float) * (size_t)n);
    if (!e[s->n_epi].k)
        return qmac_set_error(QMAC_ERR_NOMEM, "out of memory");
    memcpy(e[s->n_epi].k, k, sizeof(float) * (size_t)n);
    s->n_epi++;
    return QMAC_OK;
}

/* The layer's output geometry: rank (0: any, for a MatMul whose channels are its last axis) and
 * channel axis, for checking how constants broadcast. */
typedef struct {
    int32_t rank, cax, nch;
    int matmul;
} out_geom;

/* Constant t as a per-channel vector of the layer output (axis = the channel axis). */
static qmac_status chan_const(ctx_t *c, int32_t i, const out_geom *og, const qmac_tensor *t, const char *what,
                              float **v, int32_t *n)
{
    char label[256];
    node_label(c, i, label, sizeof label);
    /* a MatMul's channels are its last axis whatever the rank: align on a rank-2 [rows, N] view */
    const int32_t rank = og->matmul ? (t->rank > 2 ? t->rank : 2) : og->rank,
                  cax = og->matmul ? rank - 1 : og->cax;
    *n = bcast_along(t, rank, cax, og->nch);
    if (og->matmul) /* leading dims of t beyond the [rows, N] view must be 1 */
        for (int32_t j = 0; j + 1 < t->rank && *n; ++j)
            *n = t->shape[j] == 1 ? *n : 0;
    if (*n == 0)
        return qmac_set_error(
            QMAC_ERR_UNSUPPORTED,
            "%s: the %s must be one value or one per output channel (%d channels on axis %d)", label, what,
            (int)og->nch, (int)og->cax);
    *v = malloc(sizeof **v * (size_t)*n);
    if (!*v)
        return qmac_set_error(QMAC_ERR_NOMEM, "out of memory");
    for (int32_t k = 0; k < *n; ++k)
        (*v)[k] = (float)tensor_get_f(t, (size_t)k);
    return QMAC_OK;
}

static qmac_status const_step(ctx_t *c, int32_t i, const out_geom *og, qmac_qonnx_stage *s, qmac_epi_op op,
                              const qmac_tensor *t, const char *what)
{
    float *v = NULL; /* stays NULL when chan_const refuses t */
    int32_t n;
    qmac_status st = chan_const(c, i, og, t, what, &v, &n);
    if (st == QMAC_OK)
        st = add_step(s, op, v, n);
    free(v);
    return st;
}

/* BatchNormalization (inference) as ONNX Runtime's CPU kernel evaluates it in float32:
 * inv_std = 1 / sqrt(var + eps), a = inv_std * gamma, b = beta - mean * a, y = x * a + b. */
static qmac_status bn_steps(ctx_t *c, int32_t m, const out_geom *og, qmac_qonnx_stage *s)
{
    const QmacOnnx__Node *pb = c->nodes[m].pb;
    char label[256];
    node_label(c, m, label, sizeof label);
    if (attr_int(pb, "training_mode", 0) || pb->n_output != 1)
        return qmac_set_error(QMAC_ERR_UNSUPPORTED, "%s: only inference-mode BatchNormalization", label);
    if (og->matmul && og->rank != 2 && og->rank != 0)
        return qmac_set_error(
            QMAC_ERR_UNSUPPORTED,
            "%s: BatchNormalization normalizes axis 1, which is a MatMul's channel axis only "
            "for a 2-D output",
            label);
    if (og->matmul)
        s->need_rank = 2;
    const qmac_tensor *t[4];
    static const char *what[4] = {"scale", "bias", "mean", "variance"};
    float *v[4] = {NULL, NULL, NULL, NULL};
    float *a = malloc(sizeof *a * (size_t)og->nch), *b = malloc(sizeof *b * (size_t)og->nch);
    qmac_status st = a && b ? QMAC_OK : qmac_set_error(QMAC_ERR_NOMEM, "out of memory");
    for (int k = 0; k < 4 && st == QMAC_OK; ++k) { /* 1-D, one entry per channel (axis 1) */
        if ((st = const_in(c, m, (size_t)k + 1, what[k], &t[k])) == QMAC_OK &&
            (t[k]->rank != 1 || t[k]->shape[0] != og->nch))
            st = qmac_set_error(QMAC_ERR_SHAPE, "%s: %s must have %d entries", label, what[k], (int)og->nch);
        if (st == QMAC_OK && !(v[k] = malloc(sizeof *v[k] * (size_t)og->nch)))
            st = qmac_set_error(QMAC_ERR_NOMEM, "out of memory");
        for (int32_t e = 0; st == QMAC_OK && e < og->nch; ++e)
            v[k][e] = (float)tensor_get_f(t[k], (size_t)e);
    }
    const float eps = attr_float(pb, "epsilon", 1e-5f);
    for (int32_t k = 0; k < og->nch && st == QMAC_OK; ++k) {
        volatile float d = v[3][k] + eps;
        d = sqrtf(d);
        d = 1.0f / d;
        volatile float sc = d * v[0][k];
        volatile float mb = v[2][k] * sc;
        a[k] = sc;
        b[k] = v[1][k] - mb;
    }
    if (st == QMAC_OK && (st = add_step(s, QMAC_EPI_MUL, a, og->nch)) == QMAC_OK)
        st = add_step(s, QMAC_EPI_ADD, b, og->nch);
    for (int k = 0; k < 4; ++k)
        free(v[k]);
    free(a);
    free(b);
    return st;
}

/* One float op after the layer, on `cur`: a step appended to s (1), not a step (0), or an error. */
static int float_step(ctx_t *c, int32_t m, const char *cur, const out_geom *og, qmac_qonnx_stage *s,
                      qmac_status *st)
{
    const QmacOnnx__Node *pb = c->nodes[m].pb;
    const char *d = str_or_empty(pb->domain);
    *st = QMAC_OK;
    if ((d[0] && strcmp(d, "ai.onnx")) || pb->n_output != 1)
        return 0;
    if (op_is(pb, "BatchNormalization")) {
        if (strcmp(str_or_empty(in_name(pb, 0)), cur))
            return 0;
        *st = bn_steps(c, m, og, s);
        return 1;
    }
    if (op_is(pb, "Relu")) {
        const float zero = 0.0f;
        *st = add_step(s, QMAC_EPI_MAX, &zero, 1);
        return 1;
    }
    if (op_is(pb, "Clip") && !strcmp(str_or_empty(in_name(pb, 0)), cur)) {
        for (size_t k = 1; k <= 2 && *st == QMAC_OK; ++k) {
            const char *attr = k == 1 ? "min" : "max";
            float v;
            if (in_name(pb, k))
                *st = const_scalar(c, m, k, attr, &v);
            else if (find_attr(pb, attr)) /* opset < 11 */
                v = attr_float(pb, attr, 0.0f);
            else
                continue;
            if (*st == QMAC_OK)
                *st = add_step(s, k == 1 ? QMAC_EPI_MAX : QMAC_EPI_MIN, &v, 1);
        }
        return 1;
    }
    const int add = op_is(pb, "Add"), mul = op_is(pb, "Mul"), sub = op_is(pb, "Sub"), dv = op_is(pb, "Div");
    if (!add && !mul && !sub && !dv)
        return 0;
    const char *a0 = in_name(pb, 0), *a1 = in_name(pb, 1);
    if (!a0 || !a1)
        return 0;
    const int first = !strcmp(a0, cur); /* cur op k, or k op cur (commutative ops only) */
    if (!first && (sub || dv))
        return 0;
    const qmac_tensor *t = const_of(c, first ? a1 : a0);
    if (!t || !(t->dtype == QMAC_DT_FLOAT32 || t->dtype == QMAC_DT_FLOAT16 || t->dtype == QMAC_DT_FLOAT64))
        return 0;
    *st = const_step(c, m, og, s,
                     add   ? QMAC_EPI_ADD
                     : mul ? QMAC_EPI_MUL
                     : sub ? QMAC_EPI_SUB
                           : QMAC_EPI_DIV,
                     t, "constant operand");
    return 1;
}

qmac_status qonnx_lower_layer(ctx_t *c, int32_t i)
{
    const QmacOnnx__Node *pb = c->nodes[i].pb;
    char label[256];
    node_label(c, i, label, sizeof label);
    const int is_conv = op_is(pb, "Conv"), is_gemm = op_is(pb, "Gemm");
    const char *x = in_name(pb, 0), *wn = in_name(pb, 1);
    const int32_t xid = find_value(c, x), wid = wn ? find_value(c, wn) : -1;
    const qmac_qinfo *qx = qonnx_q(c, xid), *qw = qonnx_q(c, wid);
    if (!qw || !c->g->values[wid].is_const)
        return qmac_set_error(QMAC_ERR_UNSUPPORTED,
                              "%s: the weights must be a constant quantized by a QONNX Quant or BipolarQuant",
                              label);
    if (qx->n != 1)
        return qmac_set_error(QMAC_ERR_UNSUPPORTED, "%s: activations must be quantized per tensor", label);
    const qmac_tensor *w = &c->g->values[wid].konst;
    int trans_b = 0;
    if (is_gemm) {
        if (attr_int(pb, "transA", 0) || attr_float(pb, "alpha", 1.0f) != 1.0f ||
            attr_float(pb, "beta", 1.0f) != 1.0f)
            return qmac_set_error(QMAC_ERR_UNSUPPORTED, "%s: Gemm with transA, alpha or beta", label);
        trans_b = (int)attr_int(pb, "transB", 0);
    }
    if (w->rank < 2 || (!is_conv && w->rank != 2))
        return qmac_set_error(QMAC_ERR_UNSUPPORTED, "%s: weights of rank %d", label, (int)w->rank);
    /* output channels: Conv axis 0 of OIHW, MatMul axis 1 of [K, N], Gemm(transB) axis 0 of [N, K] */
    const int32_t wax = is_conv || trans_b ? 0 : 1;
    out_geom og = {is_conv ? w->rank : 2, 1, (int32_t)w->shape[wax], !is_conv};
    if (qw->n > 1 && qw->axis != wax)
        return qmac_set_error(QMAC_ERR_UNSUPPORTED, "%s: weight scales must be per output channel (axis %d)",
                              label, (int)wax);
    /* matmul: the rank of A is known when declared; else the output stage checks it at run time */
    const qmac_value *xv = &c->g->values[xid];
    if (!is_conv) { /* cax -1: the last axis */
        og.rank = xv->decl_rank > 0 ? xv->decl_rank : 0;
        og.cax = og.rank ? og.rank - 1 : -1;
    }
    qmac_qonnx_stage *s = calloc(1, sizeof *s);
    if (!s)
        return qmac_set_error(QMAC_ERR_NOMEM, "out of memory");
    s->nch = og.nch;
    s->in_scale = malloc(sizeof *s->in_scale * (size_t)og.nch);
    qmac_status st = s->in_scale ? QMAC_OK : qmac_set_error(QMAC_ERR_NOMEM, "out of memory");
    for (int32_t k = 0; k < og.nch && st == QMAC_OK; ++k) {
        volatile float p = qx->scale[0] * qw->scale[qw->n == 1 ? 0 : k];
        s->in_scale[k] = p;
    }
    char ops[256];
    snprintf(ops, sizeof ops, "%s", pb->op_type);
    const qmac_tensor *bias = NULL;
    if (st == QMAC_OK && (is_conv || is_gemm) && in_name(pb, 2)) { /* the bias: the first step */
        if (!(bias = const_of(c, in_name(pb, 2))))
            st = qmac_set_error(QMAC_ERR_UNSUPPORTED, "%s: the bias must be a constant", label);
        else if (is_conv && bias->rank == 1 && bias->shape[0] == og.nch) { /* Conv's B: per channel */
            float *v = malloc(sizeof *v * (size_t)og.nch);
            for (int32_t k = 0; v && k < og.nch; ++k)
                v[k] = (float)tensor_get_f(bias, (size_t)k);
            st = v ? add_step(s, QMAC_EPI_ADD, v, og.nch) : qmac_set_error(QMAC_ERR_NOMEM, "out of memory");
            free(v);
        } else
            st = const_step(c, i, &og, s, QMAC_EPI_ADD, bias, "bias");
    }
    /* the float chain up to the next quantizer */
    const char *cur = pb->output[0];
    int32_t term = -1, m;
    quantizer q;
    memset(&q, 0, sizeof q);
    while (st == QMAC_OK && uses_of(c, cur, &m) == 1 && m >= 0) {
        const QmacOnnx__Node *mb = c->nodes[m].pb;
        if (qonnx_domain(str_or_empty(mb->domain))) {
            if (!strcmp(str_or_empty(in_name(mb, 0)), cur)) {
                st = parse_quantizer(c, m, og.rank, og.cax, og.nch, &q);
                term = m;
            }
            break;
        }
        if (!float_step(c, m, cur, &og, s, &st))
            break;
        c->nodes[m].consumed = 1;
        cur = mb->output[0];
        size_t len = strlen(ops);
        snprintf(ops + len, sizeof ops - len, "->%s", mb->op_type);
    }
    if (term >= 0 && q.s.thr_ch > 1 && og.matmul && !find_attr(c->nodes[term].pb, "data_layout"))
        s->need_rank = 2; /* QONNX guesses the layout from the rank: "NC" has the channels last */
    qmac_node *n = NULL;
    if (st == QMAC_OK)
        st = new_node(c, is_conv ? QMAC_NODE_CONV : QMAC_NODE_MATMUL, i, ops, &n);
    if (st == QMAC_OK && is_conv)
        st = read_spatial(c, i, n, 0);
    if (st == QMAC_OK && (st = set_in(c, i, n, x)) == QMAC_OK && (st = set_in(c, i, n, wn)) == QMAC_OK &&
        (st = qcopy(&n->qx, qx)) == QMAC_OK)
        st = qcopy(&n->qw, qw);
    if (st != QMAC_OK) {
        free(q.s.thr);
        qmac_qonnx_stage_free(s);
        return st;
    }
    n->trans_b = trans_b;
    if (!is_conv)
        n->qw.axis = -1;
    s->oq = QMAC_OQ_FLOAT; /* no quantizer after the layer: its float value is the output */
    if (term >= 0) {
        s->oq = q.s.oq;
        s->scale = q.s.scale;
        s->zp = q.s.zp;
        s->qmin = q.s.qmin;
        s->qmax = q.s.qmax;
        s->round = q.s.round;
        s->thr = q.s.thr;
        s->n_thr = q.s.n_thr;
        s->thr_ch = q.s.thr_ch;
        s->code0 = q.s.code0;
        s->code_step = q.s.code_step;
        c->nodes[term].consumed = 1;
        size_t len = strlen(ops);
        snprintf(ops + len, sizeof ops - len, "->%s", c->nodes[term].pb->op_type);
        free(n->onnx_ops);
        n->onnx_ops = xstrdup(ops);
    }
    n->qs = s;
    if (!n->onnx_ops)
        return qmac_set_error(QMAC_ERR_NOMEM, "out of memory");
    if (term < 0) {
        if (!cur || !cur[0])
            return qmac_set_error(QMAC_ERR_FORMAT, "%s: no output", label);
        return node_add_out(c, n, cur);
    }
    if ((st = qinfo_one(&n->qy, q.dt, q.scale, q.zp)) || (st = add_output(c, n, c->nodes[term].pb, 0)))
        return st;
    return reg_add(c, n->out[0], &n->qy);
}

/* ------------------------------------------------------------------ pass-through and outputs */

qmac_status qonnx_passthrough(ctx_t *c, int32_t i, const qmac_node *n)
{
    const qmac_qinfo *q = qonnx_q(c, n->in[0]);
    if (!q)
        return QMAC_OK;
    char label[256];
    node_label(c, i, label, sizeof label);
    /* order- and value-preserving moves commute with (code - zp) * scale for scale > 0 */
    if (n->op != QMAC_NODE_RESHAPE && n->op != QMAC_NODE_TRANSPOSE && n->op != QMAC_NODE_MAXPOOL &&
        n->op != QMAC_NODE_CONCAT)
        return qmac_set_error(
            QMAC_ERR_UNSUPPORTED,
            "%s on the QONNX-quantized '%s' is not supported (place it before the quantizer)", label,
            c->g->values[n->in[0]].name);
    for (int32_t k = 1; k < n->n_in; ++k) {
        const qmac_qinfo *o = qonnx_q(c, n->in[k]);
        if (!o || o->dtype != q->dtype || o->n != 1 || q->n != 1 || o->scale[0] != q->scale[0] ||
            o->zp[0] != q->zp[0])
            return qmac_set_error(QMAC_ERR_UNSUPPORTED,
                                  "%s: inputs with different QONNX quantization (a requantizing concat)",
                                  label);
    }
    return reg_add(c, n->out[0], q);
}

qmac_status qonnx_finish(ctx_t *c)
{
    for (size_t o = 0; o < c->pg->n_output; ++o) {
        const char *name = c->pg->output[o]->name;
        const int32_t id = name ? find_value(c, name) : -1;
        const qmac_qinfo *q = qonnx_q(c, id);
        if (!q)
            continue;
        /* the codes move to "<name>:codes"; a DEQUANTIZE writes the float output */
        const size_t len = strlen(name) + 8;
        char *codes = malloc(len);
        if (!codes)
            return qmac_set_error(QMAC_ERR_NOMEM, "out of memory");
        snprintf(codes, len, "%s:codes", name);
        free(c->g->values[id].name);
        c->g->values[id].name = codes;
        const int32_t src = producer_of(c, name);
        qmac_node *n;
        qmac_status st;
        if ((st = new_node(c, QMAC_NODE_DEQUANTIZE, src >= 0 ? src : 0, "QONNX output", &n)) ||
            (st = node_add_in(n, id)) || (st = qcopy(&n->qx, qonnx_q(c, id))) ||
            (st = node_add_out(c, n, name)))
            return st;
    }
    return QMAC_OK;
}
