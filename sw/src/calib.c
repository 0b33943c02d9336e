/* calib.c - calibration: running and moving-average min-max, histograms of |x| with percentile,
 * MSE and entropy (KL) thresholds. The histogram arithmetic mirrors numpy 2.x step by step (float32
 * where numpy computes in float32, double where it computes in float64) so that ONNX Runtime's
 * percentile calibrator can be reproduced bit for bit. */
#include "qmac/calib.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define QMAC_HIST_MAX_BINS (INT32_C(1) << 24)

/* ---------------------------------------------------------------- min-max */

void qmac_minmax_free(qmac_minmax_calib *c)
{
    free(c->range_min);
    free(c->range_max);
    free(c->has_range);
    free(c->acc_min);
    free(c->acc_max);
    free(c->acc_count);
    memset(c, 0, sizeof *c);
}

qmac_status qmac_minmax_init(qmac_minmax_calib *c, int32_t n_ch, int symmetric, int moving_average,
                             float averaging_constant)
{
    memset(c, 0, sizeof *c);
    if (n_ch < 1)
        return qmac_set_error(QMAC_ERR_INVALID_ARG, "min-max calibration: %d channels", (int)n_ch);
    if (moving_average && !(averaging_constant >= 0.0f && averaging_constant <= 1.0f))
        return qmac_set_error(QMAC_ERR_INVALID_ARG, "averaging constant %g is outside [0, 1]",
                              (double)averaging_constant);
    const size_t n = (size_t)n_ch;
    c->range_min = calloc(n, sizeof *c->range_min);
    c->range_max = calloc(n, sizeof *c->range_max);
    c->has_range = calloc(n, sizeof *c->has_range);
    c->acc_min = calloc(n, sizeof *c->acc_min);
    c->acc_max = calloc(n, sizeof *c->acc_max);
    c->acc_count = calloc(n, sizeof *c->acc_count);
    if (!c->range_min || !c->range_max || !c->has_range || !c->acc_min || !c->acc_max || !c->acc_count) {
        qmac_minmax_free(c);
        return qmac_set_error(QMAC_ERR_NOMEM, "min-max calibration: cannot allocate %d channels", (int)n_ch);
    }
    c->n_ch = n_ch;
    c->symmetric = symmetric ? 1 : 0;
    c->moving_average = moving_average ? 1 : 0;
    c->averaging_constant = averaging_constant;
    return QMAC_OK;
}

qmac_status qmac_minmax_observe(qmac_minmax_calib *c, const float *x, size_t outer, size_t inner)
{
    if (c->n_ch < 1)
        return qmac_set_error(QMAC_ERR_INVALID_ARG, "min-max calibration is not initialised");
    const size_t nch = (size_t)c->n_ch;
    for (size_t ch = 0; ch < nch; ++ch) {
        int any = 0;
        float lo = 0.0f, hi = 0.0f;
        for (size_t o = 0; o < outer; ++o) {
            const float *row = x + (o * nch + ch) * inner;
            for (size_t k = 0; k < inner; ++k) {
                const float v = row[k];
                if (isnan(v))
                    continue;
                if (!any) {
                    lo = hi = v;
                    any = 1;
                } else {
                    if (v < lo)
                        lo = v;
                    if (v > hi)
                        hi = v;
                }
            }
        }
        if (!any)
            continue;
        if (c->moving_average) {
            volatile float smin = c->acc_min[ch] + lo; /* numpy float32 sum, batch order */
            volatile float smax = c->acc_max[ch] + hi;
            c->acc_min[ch] = c->acc_count[ch] ? smin : lo;
            c->acc_max[ch] = c->acc_count[ch] ? smax : hi;
        } else if (c->acc_count[ch] == 0) {
            c->acc_min[ch] = lo;
            c->acc_max[ch] = hi;
        } else {
            if (lo < c->acc_min[ch])
                c->acc_min[ch] = lo;
            if (hi > c->acc_max[ch])
                c->acc_max[ch] = hi;
        }
        c->acc_count[ch] += 1;
    }
    c->round_open = 1;
    return QMAC_OK;
}

qmac_status qmac_minmax_end_round(qmac_minmax_calib *c)
{
    if (!c->round_open)
        return QMAC_OK;
    for (int32_t ch = 0; ch < c->n_ch; ++ch) {
        if (c->acc_count[ch] == 0)
            continue;
        float lo = c->acc_min[ch], hi = c->acc_max[ch];
        if (c->moving_average) { /* numpy nanmean: float32 total / count in double, stored as float32 */
            lo = (float)((double)lo / (double)c->acc_count[ch]);
            hi = (float)((double)hi / (double)c->acc_count[ch]);
        }
        if (c->symmetric) {
            const float a = fabsf(lo) > fabsf(hi) ? fabsf(lo) : fabsf(hi);
            lo = -a;
            hi = a;
        }
        if (!c->has_range[ch]) {
            c->range_min[ch] = lo;
            c->range_max[ch] = hi;
            c->has_range[ch] = 1;
        } else if (c->moving_average) {
            const float k = c->averaging_constant;
            volatile float dmin = lo - c->range_min[ch];
            volatile float dmax = hi - c->range_max[ch];
            volatile float tmin = k * dmin;
            volatile float tmax = k * dmax;
            c->range_min[ch] = c->range_min[ch] + tmin;
            c->range_max[ch] = c->range_max[ch] + tmax;
        } else {
            if (lo < c->range_min[ch])
                c->range_min[ch] = lo;
            if (hi > c->range_max[ch])
                c->range_max[ch] = hi;
        }
        c->acc_count[ch] = 0;
        c->acc_min[ch] = 0.0f;
        c->acc_max[ch] = 0.0f;
    }
    c->round_open = 0;
    return QMAC_OK;
}

qmac_status qmac_minmax_range(qmac_minmax_calib *c, float *rmin, float *rmax)
{
    if (c->n_ch < 1)
        return qmac_set_error(QMAC_ERR_INVALID_ARG, "min-max calibration is not initialised");
    qmac_status st = qmac_minmax_end_round(c);
    if (st != QMAC_OK)
        return st;
    for (int32_t ch = 0; ch < c->n_ch; ++ch) {
        if (!c->has_range[ch])
            return qmac_set_error(QMAC_ERR_INVALID_ARG, "min-max calibration: channel %d saw no data",
                                  (int)ch);
        rmin[ch] = c->range_min[ch];
        rmax[ch] = c->range_max[ch];
    }
    return QMAC_OK;
}

/* ---------------------------------------------------------------- histograms */

void qmac_hist_free(qmac_hist *h)
{
    if (h->ch) {
        for (int32_t i = 0; i < h->n_ch; ++i) {
            free(h->ch[i].count);
            free(h->ch[i].edges);
        }
        free(h->ch);
    }
    memset(h, 0, sizeof *h);
}

qmac_status qmac_hist_init(qmac_hist *h, int32_t n_ch, int32_t num_bins, qmac_hist_origin origin)
{
    memset(h, 0, sizeof *h);
    if (n_ch < 1)
        return qmac_set_error(QMAC_ERR_INVALID_ARG, "histogram calibration: %d channels", (int)n_ch);
    if (num_bins < 1 || num_bins > QMAC_HIST_MAX_BINS)
        return qmac_set_error(QMAC_ERR_INVALID_ARG, "histogram calibration: %d bins is outside [1, 2^24]",
                              (int)num_bins);
    if (origin != QMAC_HIST_FROM_ZERO && origin != QMAC_HIST_FROM_MIN)
        return qmac_set_error(QMAC_ERR_INVALID_ARG, "histogram calibration: unknown origin %d", (int)origin);
    h->ch = calloc((size_t)n_ch, sizeof *h->ch);
    if (!h->ch)
        return qmac_set_error(QMAC_ERR_NOMEM, "histogram calibration: cannot allocate %d channels",
                              (int)n_ch);
    h->n_ch = n_ch;
    h->init_bins = num_bins;
    h->origin = origin;
    return QMAC_OK;
}

/* float32 helpers that keep every intermediate in float32 (no FMA, no excess precision) */
static float f32_sub(float a, float b)
{
    volatile float r = a - b;
    return r;
}
static float f32_add(float a, float b)
{
    volatile float r = a + b;
    return r;
}
static float f32_mul(float a, float b)
{
    volatile float r = a * b;
    return r;
}
static float f32_div(float a, float b)
{
    volatile float r = a / b;
    return r;
}

/* First batch of a channel: np.histogram(a, n, range=(first, last)) for float32 data a. */
static qmac_status hist_first(qmac_hist_ch *hc, int32_t n, float first, float last, const float *x,
                              size_t outer, size_t nch, size_t ch, size_t inner)
{
    if (first == last) { /* numpy widens an empty range */
        first = f32_sub(first, 0.5f);
        last = f32_add(last, 0.5f);
    }
    uint64_t *count = calloc((size_t)n, sizeof *count);
    float *edges = malloc(((size_t)n + 1) * sizeof *edges);
    if (!count || !edges) {
        free(count);
        free(edges);
        return qmac_set_error(QMAC_ERR_NOMEM, "histogram: cannot allocate %d bins", (int)n);
    }
    /* np.linspace(first, last, n + 1, dtype=float32): float32 delta and step, edge k = k*step + first */
    const float delta = f32_sub(last, first);
    const float step = f32_div(delta, (float)n);
    for (int32_t k = 0; k < n; ++k) {
        const float y = step == 0.0f ? f32_mul(f32_div((float)k, (float)n), delta) : f32_mul((float)k, step);
        edges[k] = f32_add(y, first);
    }
    edges[n] = last;
    /* the uniform-bins path of np.histogram, float32 throughout */
    const float denom = f32_sub(last, first);
    for (size_t o = 0; o < outer; ++o) {
        const float *row = x + (o * nch + ch) * inner;
        for (size_t k = 0; k < inner; ++k) {
            if (isnan(row[k]))
                continue;
            const float a = fabsf(row[k]);
            if (!(a >= first && a <= last))
                continue;
            const float f = f32_mul(f32_div(f32_sub(a, first), denom), (float)n);
            int64_t idx = (int64_t)f;
            if (idx == n)
                idx -= 1;
            if (a < edges[idx])
                idx -= 1;
            if (idx != n - 1 && a >= edges[idx + 1])
                idx += 1;
            count[idx] += 1;
        }
    }
    hc->count = count;
    hc->edges = edges;
    hc->nbins = n;
    return QMAC_OK;
}

/* Index of the bin of v for edges e[0..n] (double): the largest k with e[k] <= v, the last bin
 * closed on the right; -1 when v is outside [e[0], e[n]]. */
static int64_t bin_of(const double *e, int64_t n, double v)
{
    if (!(v >= e[0] && v <= e[n]))
        return -1;
    if (v == e[n]) {
        int64_t k = n - 1; /* searchsorted(side='right') on the last edge */
        return k;
    }
    int64_t lo = 0, hi = n; /* e[lo] <= v < e[hi] */
    while (hi - lo > 1) {
        const int64_t mid = lo + (hi - lo) / 2;
        if (e[mid] <= v)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

/* Later batch: grow the edges like ORT (np.arange in float64 from float32 scalars), then
 * np.histogram(a, bins=edges) and add the old counts. */
static qmac_status hist_more(qmac_hist_ch *hc, float amax, const float *x, size_t outer, size_t nch,
                             size_t ch, size_t inner)
{
    const int64_t old_n = hc->nbins;
    int64_t add = 0;
    double start = 0.0, delta = 0.0;
    if (amax > hc->edges[old_n]) {
        const float width = f32_sub(hc->edges[1], hc->edges[0]);
        const float a0 = f32_add(hc->edges[old_n], width);
        const float stop = f32_add(amax, width);
        const double len = ceil((double)f32_div(f32_sub(stop, a0), width));
        if (!(len <= (double)(QMAC_HIST_MAX_BINS - old_n)))
            return qmac_set_error(QMAC_ERR_UNSUPPORTED,
                                  "histogram: growing to max |x| = %g needs %g more bins", (double)amax, len);
        add = len > 0.0 ? (int64_t)len : 0;
        start = (double)a0;
        delta = (double)f32_add(a0, width) - start;
    }
    const int64_t n = old_n + add;
    double *e = malloc(((size_t)n + 1) * sizeof *e);
    if (!e)
        return qmac_set_error(QMAC_ERR_NOMEM, "histogram: cannot allocate %lld edges", (long long)n + 1);
    for (int64_t k = 0; k <= old_n; ++k)
        e[k] = (double)hc->edges[k];
    for (int64_t i = 0; i < add; ++i)
        e[old_n + 1 + i] = i == 0 ? start : i == 1 ? start + delta : start + (double)i * delta;
    if (add) {
        uint64_t *count = realloc(hc->count, (size_t)n * sizeof *count);
        if (!count) {
            free(e);
            return qmac_set_error(QMAC_ERR_NOMEM, "histogram: cannot grow to %lld bins", (long long)n);
        }
        memset(count + old_n, 0, (size_t)add * sizeof *count);
        hc->count = count;
        float *edges = realloc(hc->edges, ((size_t)n + 1) * sizeof *edges);
        if (!edges) {
            free(e);
            return qmac_set_error(QMAC_ERR_NOMEM, "histogram: cannot grow to %lld bins", (long long)n);
        }
        hc->edges = edges;
    }
    for (size_t o = 0; o < outer; ++o) {
        const float *row = x + (o * nch + ch) * inner;
        for (size_t k = 0; k < inner; ++k) {
            if (isnan(row[k]))
                continue;
            const int64_t b = bin_of(e, n, (double)fabsf(row[k]));
            if (b >= 0)
                hc->count[b] += 1;
        }
    }
    for (int64_t k = old_n + 1; k <= n; ++k)
        hc->edges[k] = (float)e[k];
    hc->nbins = (int32_t)n;
    free(e);
    return QMAC_OK;
}

qmac_status qmac_hist_observe(qmac_hist *h, const float *x, size_t outer, size_t inner)
{
    if (h->n_ch < 1)
        return qmac_set_error(QMAC_ERR_INVALID_ARG, "histogram calibration is not initialised");
    const size_t nch = (size_t)h->n_ch;
    const size_t total = outer * nch * inner;
    for (size_t i = 0; i < total; ++i)
        if (isinf(x[i]))
            return qmac_set_error(QMAC_ERR_INVALID_ARG, "histogram: sample %zu of the batch is %g", i,
                                  (double)x[i]);
    for (size_t ch = 0; ch < nch; ++ch) {
        int any = 0;
        float lo = 0.0f, hi = 0.0f, amin = 0.0f, amax = 0.0f;
        for (size_t o = 0; o < outer; ++o) {
            const float *row = x + (o * nch + ch) * inner;
            for (size_t k = 0; k < inner; ++k) {
                const float v = row[k];
                if (isnan(v))
                    continue;
                const float a = fabsf(v);
                if (!any) {
                    lo = hi = v;
                    amin = amax = a;
                    any = 1;
                    continue;
                }
                if (v < lo)
                    lo = v;
                if (v > hi)
                    hi = v;
                if (a < amin)
                    amin = a;
                if (a > amax)
                    amax = a;
            }
        }
        if (!any)
            continue;
        qmac_hist_ch *hc = &h->ch[ch];
        qmac_status st;
        if (!hc->has_data) {
            const float first = h->origin == QMAC_HIST_FROM_ZERO ? 0.0f : amin;
            st = hist_first(hc, h->init_bins, first, amax, x, outer, nch, ch, inner);
            if (st != QMAC_OK)
                return st;
            hc->min = lo;
            hc->max = hi;
            hc->has_data = 1;
        } else {
            st = hist_more(hc, amax, x, outer, nch, ch, inner);
            if (st != QMAC_OK)
                return st;
            if (lo < hc->min)
                hc->min = lo;
            if (hi > hc->max)
                hc->max = hi;
        }
    }
    return QMAC_OK;
}

static qmac_status hist_channel(const qmac_hist *h, int32_t ch, const qmac_hist_ch **out)
{
    if (ch < 0 || ch >= h->n_ch)
        return qmac_set_error(QMAC_ERR_INVALID_ARG, "histogram: channel %d is outside [0, %d)", (int)ch,
                              (int)h->n_ch);
    if (!h->ch[ch].has_data)
        return qmac_set_error(QMAC_ERR_INVALID_ARG, "histogram: channel %d saw no data", (int)ch);
    *out = &h->ch[ch];
    return QMAC_OK;
}

qmac_status qmac_hist_percentile(const qmac_hist *h, int32_t ch, double percentile, float *amax)
{
    const qmac_hist_ch *hc = NULL;
    qmac_status st = hist_channel(h, ch, &hc);
    if (st != QMAC_OK)
        return st;
    if (!(percentile >= 0.0 && percentile <= 100.0))
        return qmac_set_error(QMAC_ERR_INVALID_ARG, "percentile %g is outside [0, 100]", percentile);
    uint64_t total = 0;
    for (int32_t k = 0; k < hc->nbins; ++k)
        total += hc->count[k];
    if (total == 0)
        return qmac_set_error(QMAC_ERR_INVALID_ARG, "histogram: channel %d has no counted sample", (int)ch);
    const double target = percentile / 100.0;
    double cdf = 0.0;
    int32_t idx = hc->nbins;
    for (int32_t k = 0; k < hc->nbins; ++k) {
        cdf += (double)hc->count[k] / (double)total; /* np.cumsum(hist / total) */
        if (cdf >= target) {
            idx = k;
            break;
        }
    }
    *amax = hc->edges[idx];
    return QMAC_OK;
}

/* round half to even, independent of the FPU rounding mode */
static double rne(double v)
{
    double f = floor(v);
    const double d = v - f;
    if (d > 0.5 || (d == 0.5 && fmod(f, 2.0) != 0.0))
        f += 1.0;
    return f;
}

qmac_status qmac_hist_mse(const qmac_hist *h, int32_t ch, int32_t qmax, int32_t start_bin, float *amax)
{
    const qmac_hist_ch *hc = NULL;
    qmac_status st = hist_channel(h, ch, &hc);
    if (st != QMAC_OK)
        return st;
    if (qmax < 1)
        return qmac_set_error(QMAC_ERR_INVALID_ARG, "mse calibration: qmax %d must be >= 1", (int)qmax);
    const int32_t n = hc->nbins;
    if (start_bin < 0)
        start_bin = 0;
    if (start_bin > n - 1)
        start_bin = n - 1;
    double best_err = INFINITY;
    double best = 0.0;
    for (int32_t i = start_bin; i < n; ++i) {
        const double c = ((double)hc->edges[i] + (double)hc->edges[i + 1]) / 2.0;
        if (!(c > 0.0))
            continue;
        const double s = c / (double)qmax;
        double err = 0.0;
        for (int32_t k = 0; k < n; ++k) {
            if (!hc->count[k])
                continue;
            const double v = ((double)hc->edges[k] + (double)hc->edges[k + 1]) / 2.0;
            double q = rne(v / s);
            if (q > (double)qmax)
                q = (double)qmax;
            if (q < -(double)qmax)
                q = -(double)qmax;
            const double d = q * s - v;
            err += (double)hc->count[k] * d * d;
        }
        if (err < best_err) {
            best_err = err;
            best = c;
        }
    }
    if (!(best_err < INFINITY))
        return qmac_set_error(QMAC_ERR_INVALID_ARG, "mse calibration: channel %d has no positive candidate",
                              (int)ch);
    *amax = (float)best;
    return QMAC_OK;
}

/* KL(P || Q) of candidate i (see calib.h); +inf when some bin has P > 0 and Q == 0. p and q are
 * scratch arrays of i doubles. */
static double kl_candidate(const uint64_t *count, int32_t n, int32_t i, int32_t nq, double *p, double *q)
{
    double tail = 0.0;
    for (int32_t k = i; k < n; ++k)
        tail += (double)count[k];
    for (int32_t k = 0; k < i; ++k)
        p[k] = (double)count[k];
    p[i - 1] += tail;
    const int32_t m = i / nq;
    for (int32_t j = 0; j < nq; ++j) {
        const int32_t b0 = j * m;
        const int32_t b1 = j == nq - 1 ? i : b0 + m;
        double sum = 0.0; /* of the raw bins: the folded tail is not part of Q */
        int32_t nonzero = 0;
        for (int32_t k = b0; k < b1; ++k) {
            sum += (double)count[k];
            if (p[k] != 0.0)
                ++nonzero;
        }
        for (int32_t k = b0; k < b1; ++k)
            q[k] = (p[k] != 0.0) ? sum / (double)nonzero : 0.0;
    }
    double sp = 0.0, sq = 0.0;
    for (int32_t k = 0; k < i; ++k) {
        sp += p[k];
        sq += q[k];
    }
    if (!(sq > 0.0))
        return INFINITY;
    double kl = 0.0;
    for (int32_t k = 0; k < i; ++k) {
        if (p[k] == 0.0)
            continue;
        if (q[k] == 0.0)
            return INFINITY;
        const double pk = p[k] / sp, qk = q[k] / sq;
        kl += pk * log(pk / qk);
    }
    return kl;
}

qmac_status qmac_hist_entropy(const qmac_hist *h, int32_t ch, int32_t num_quantized_bins, float *amax)
{
    const qmac_hist_ch *hc = NULL;
    qmac_status st = hist_channel(h, ch, &hc);
    if (st != QMAC_OK)
        return st;
    const int32_t nq = num_quantized_bins, n = hc->nbins;
    if (nq < 1)
        return qmac_set_error(QMAC_ERR_INVALID_ARG, "entropy calibration: %d quantized bins", (int)nq);
    if (n < nq) {
        *amax = hc->edges[n];
        return QMAC_OK;
    }
    double *p = malloc(2 * (size_t)n * sizeof *p);
    if (!p)
        return qmac_set_error(QMAC_ERR_NOMEM, "entropy calibration: cannot allocate %d bins", (int)n);
    double *q = p + n;
    double best_kl = INFINITY;
    int32_t best_i = n;
    for (int32_t i = nq; i <= n; ++i) {
        const double kl = kl_candidate(hc->count, n, i, nq, p, q);
        if (kl < best_kl) {
            best_kl = kl;
            best_i = i;
        }
    }
    free(p);
    *amax = hc->edges[best_i];
    return QMAC_OK;
}

qmac_status qmac_hist_range(const qmac_hist *h, int32_t ch, float amax, float *rmin, float *rmax)
{
    const qmac_hist_ch *hc = NULL;
    qmac_status st = hist_channel(h, ch, &hc);
    if (st != QMAC_OK)
        return st;
    float lo = -amax, hi = amax;
    if (lo < hc->min)
        lo = hc->min;
    if (hi > hc->max)
        hi = hc->max;
    *rmin = lo;
    *rmax = hi;
    return QMAC_OK;
}
