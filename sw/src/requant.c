/* requant.c - QuantizeMultiplier and the three requantization rules (A: TFLite double rounding,
 * B: single rounding, C: ONNX Runtime float32). Each function mirrors one framework expression;
 * the RTL requantizer implements rule A/B with exactly these integer steps. */
#include "qmac/requant.h"
#include "qmac/isa_gen.h"

#include <limits.h>
#include <math.h>
#include <string.h>

int qmac_requant_rule_parse(const char *s, qmac_requant_rule *rule)
{
    if (!strcmp(s, "tflite") || !strcmp(s, "A")) {
        *rule = QMAC_REQUANT_TFLITE;
    } else if (!strcmp(s, "single") || !strcmp(s, "B")) {
        *rule = QMAC_REQUANT_SINGLE;
    } else if (!strcmp(s, "onnxrt") || !strcmp(s, "C")) {
        *rule = QMAC_REQUANT_ONNXRT;
    } else {
        return -1;
    }
    return 0;
}

const char *qmac_requant_rule_name(qmac_requant_rule rule)
{
    switch (rule) {
    case QMAC_REQUANT_TFLITE: return "tflite";
    case QMAC_REQUANT_SINGLE: return "single";
    case QMAC_REQUANT_ONNXRT: return "onnxrt";
    }
    return "invalid";
}

qmac_status qmac_quantize_multiplier(double m, qmac_requant_rule rule, int32_t *qm, int32_t *shift)
{
    if (rule == QMAC_REQUANT_ONNXRT)
        return qmac_set_error(QMAC_ERR_INVALID_ARG, "rule onnxrt has no fixed-point multiplier");
    if (!isfinite(m))
        return qmac_set_error(QMAC_ERR_INVALID_ARG, "multiplier %g is not finite", m);
    if (rule == QMAC_REQUANT_SINGLE && m < 0)
        return qmac_set_error(QMAC_ERR_INVALID_ARG, "single rounding needs multiplier >= 0, got %g", m);
    if (m == 0.0) {
        *qm = 0;
        *shift = 0;
        return QMAC_OK;
    }
    int e = 0;
    double q = frexp(m, &e); /* |q| in [0.5, 1) */
    /* TFLite: TfLiteRound(q * 2^31), std::round = ties away from zero. */
    int64_t q_fixed = (int64_t)round(q * 2147483648.0);
    if (q_fixed == ((int64_t)1 << 31)) { /* q rounded up to 1.0: renormalize */
        q_fixed /= 2;
        ++e;
    }
    if (e < -31) {
        e = 0;
        q_fixed = 0;
    }
    if (rule == QMAC_REQUANT_SINGLE && e > 30) {
        e = 30;
        q_fixed = ((int64_t)1 << 31) - 1;
    }
    if (e > 31)
        return qmac_set_error(QMAC_ERR_INVALID_ARG, "multiplier %g is too large (>= 2^31)", m);
    *qm = (int32_t)q_fixed;
    *shift = e;
    return QMAC_OK;
}

int32_t qmac_srdhm(int32_t a, int32_t b)
{
    if (a == INT32_MIN && b == INT32_MIN)
        return INT32_MAX;
    int64_t ab = (int64_t)a * (int64_t)b;
    int64_t nudge = ab >= 0 ? ((int64_t)1 << 30) : (1 - ((int64_t)1 << 30));
    return (int32_t)((ab + nudge) / ((int64_t)1 << 31)); /* C division truncates toward zero */
}

int32_t qmac_rdbpot(int32_t x, int e)
{
    const int32_t mask = (int32_t)((UINT32_C(1) << e) - 1u);
    const int32_t rem = x & mask;
    const int32_t thr = (mask >> 1) + (x < 0 ? 1 : 0);
    return (x >> e) + (rem > thr ? 1 : 0);
}

int32_t qmac_mbqm(int32_t x, int32_t qm, int32_t shift)
{
    const int32_t left = shift > 0 ? shift : 0;
    const int32_t right = shift > 0 ? 0 : -shift;
    /* x * (1 << left) in two's complement, defined here as a wrap modulo 2^32 */
    const int32_t xs = (int32_t)((uint32_t)x << left);
    return qmac_rdbpot(qmac_srdhm(xs, qm), right);
}

int32_t qmac_mbqm_single(int32_t x, int32_t qm, int32_t shift)
{
    const int total = 31 - shift; /* in [1, 62] */
    const int64_t round = (int64_t)1 << (total - 1);
    int64_t r = ((int64_t)x * (int64_t)qm + round) >> total; /* arithmetic shift: floor */
    if (r > INT32_MAX)
        r = INT32_MAX;
    if (r < INT32_MIN)
        r = INT32_MIN;
    return (int32_t)r;
}

int32_t qmac_requant_float(int32_t acc, float scale, int32_t zp, int32_t qmin, int32_t qmax)
{
    volatile float f = (float)acc; /* volatile: keep float32 precision and forbid FMA contraction */
    f = f * scale;
    const float lo = (float)(qmin - zp);
    const float hi = (float)(qmax - zp);
    float g = f;
    if (g < lo)
        g = lo;
    if (g > hi)
        g = hi;
    return (int32_t)nearbyintf(g) + zp;
}

static int32_t clamp_i32(int64_t x, int32_t lo, int32_t hi)
{
    return x < lo ? lo : x > hi ? hi : (int32_t)x;
}

uint32_t qmac_rq_lane(uint32_t rule, uint32_t omode, uint8_t out_zp, uint8_t clamp_min, uint8_t clamp_max,
                      int32_t acc, int32_t bias, uint32_t mult, int8_t shift)
{
    const int32_t v = (int32_t)((uint32_t)acc + (uint32_t)bias);
    if (omode == QMAC_OMODE_BIN)
        return (uint32_t)(v < (int32_t)mult) ^ ((uint32_t)shift & 1u);
    const int s8 = omode == QMAC_OMODE_S8;
    const int32_t zp = s8 ? (int8_t)out_zp : out_zp;
    const int32_t lo = s8 ? (int8_t)clamp_min : clamp_min;
    const int32_t hi = s8 ? (int8_t)clamp_max : clamp_max;
    int32_t r;
    if (rule == QMAC_RULE_FLOAT) {
        float scale;
        memcpy(&scale, &mult, sizeof scale);
        volatile float p = (float)v; /* volatile: float32 precision, no FMA contraction */
        p = p * scale;
        float g = isnan(p) ? 0.0f : p;
        const float flo = (float)(lo - zp), fhi = (float)(hi - zp);
        g = g < flo ? flo : g > fhi ? fhi : g;
        r = (int32_t)nearbyintf(g) + zp;
    } else if (rule == QMAC_RULE_SINGLE) {
        r = clamp_i32((int64_t)qmac_mbqm_single(v, (int32_t)mult, clamp_i32(shift, -31, 30)) + zp, lo, hi);
    } else {
        r = clamp_i32((int64_t)qmac_mbqm(v, (int32_t)mult, clamp_i32(shift, -31, 31)) + zp, lo, hi);
    }
    return (uint32_t)r & 0xffu;
}

qmac_status qmac_requant_prepare(qmac_requant *rq, qmac_requant_rule rule, float s_in, const float *s_w,
                                 int32_t n_ch, float s_out, int32_t out_zp, int32_t act_min, int32_t act_max,
                                 int32_t *mult, int32_t *shift, float *scale)
{
    if (n_ch < 1)
        return qmac_set_error(QMAC_ERR_INVALID_ARG, "requant: %d channels", (int)n_ch);
    if (!(isfinite(s_in) && s_in > 0.0f))
        return qmac_set_error(QMAC_ERR_INVALID_ARG, "input scale %g must be finite and > 0", (double)s_in);
    if (!(isfinite(s_out) && s_out > 0.0f))
        return qmac_set_error(QMAC_ERR_INVALID_ARG, "output scale %g must be finite and > 0", (double)s_out);
    if (act_min > act_max)
        return qmac_set_error(QMAC_ERR_INVALID_ARG, "activation range [%d, %d] is empty", (int)act_min,
                              (int)act_max);
    memset(rq, 0, sizeof *rq);
    rq->rule = rule;
    rq->n_ch = n_ch;
    rq->out_zp = out_zp;
    rq->act_min = act_min;
    rq->act_max = act_max;
    for (int32_t c = 0; c < n_ch; ++c) {
        if (!(isfinite(s_w[c]) && s_w[c] > 0.0f))
            return qmac_set_error(QMAC_ERR_INVALID_ARG, "weight scale[%d] = %g must be finite and > 0",
                                  (int)c, (double)s_w[c]);
        if (rule == QMAC_REQUANT_ONNXRT) {
            if (!scale)
                return qmac_set_error(QMAC_ERR_INTERNAL, "requant: no scale array");
            volatile float t = s_in * s_w[c];
            scale[c] = t / s_out;
        } else {
            if (!mult || !shift)
                return qmac_set_error(QMAC_ERR_INTERNAL, "requant: no multiplier arrays");
            const double eff = (double)s_in * (double)s_w[c] / (double)s_out;
            qmac_status st = qmac_quantize_multiplier(eff, rule, &mult[c], &shift[c]);
            if (st != QMAC_OK)
                return st;
            if (rule == QMAC_REQUANT_TFLITE && shift[c] > 30) /* TFLite reference kernels' range */
                return qmac_set_error(QMAC_ERR_INVALID_ARG, "effective scale %g is too large", eff);
        }
    }
    rq->multiplier = mult;
    rq->shift = shift;
    rq->scale = scale;
    return QMAC_OK;
}

int32_t qmac_requant_one(const qmac_requant *rq, int32_t c, int32_t acc)
{
    const int32_t ch = rq->n_ch == 1 ? 0 : c;
    int32_t y;
    switch (rq->rule) {
    case QMAC_REQUANT_SINGLE: y = qmac_mbqm_single(acc, rq->multiplier[ch], rq->shift[ch]); break;
    case QMAC_REQUANT_ONNXRT:
        return qmac_requant_float(acc, rq->scale[ch], rq->out_zp, rq->act_min, rq->act_max);
    case QMAC_REQUANT_TFLITE:
    default: y = qmac_mbqm(acc, rq->multiplier[ch], rq->shift[ch]); break;
    }
    /* y + zp cannot overflow in practice for 8-bit outputs, but compute it wide anyway */
    int64_t v = (int64_t)y + rq->out_zp;
    if (v < rq->act_min)
        v = rq->act_min;
    if (v > rq->act_max)
        v = rq->act_max;
    return (int32_t)v;
}

void qmac_store_int(qmac_dtype dt, void *data, size_t i, int32_t v)
{
    switch (dt) {
    case QMAC_DT_INT8: ((int8_t *)data)[i] = (int8_t)v; break;
    case QMAC_DT_UINT8: ((uint8_t *)data)[i] = (uint8_t)v; break;
    case QMAC_DT_INT16: ((int16_t *)data)[i] = (int16_t)v; break;
    case QMAC_DT_UINT16: ((uint16_t *)data)[i] = (uint16_t)v; break;
    case QMAC_DT_INT32: ((int32_t *)data)[i] = v; break;
    default: break;
    }
}

void qmac_requant_tensor(const qmac_requant *rq, const int32_t *acc, size_t count, qmac_dtype out_dt,
                         void *out)
{
    const size_t nch = (size_t)rq->n_ch;
    for (size_t i = 0; i < count; ++i)
        qmac_store_int(out_dt, out, i, qmac_requant_one(rq, (int32_t)(i % nch), acc[i]));
}
