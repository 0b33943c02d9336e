/* calib.h - calibration: real ranges of activations from sample tensors (float32), per tensor or
 * per channel. Methods: min-max (running), moving-average min-max (ONNX Runtime MinMaxCalibrater),
 * and histogram methods on |x|: percentile (ONNX Runtime HistogramCalibrater, symmetric), MSE and
 * entropy / KL (TensorRT).
 *
 * Sample layout: each batch is viewed as [outer, n_ch, inner] (row-major), the channel being the
 * middle axis (qmac_axis_split gives the view; per-tensor: n_ch = 1, outer = 1, inner = count).
 * NaN samples are ignored everywhere (ONNX Runtime uses nanmin / nanmax / nanmean).
 *
 * Ownership: the caller owns the calibrator structs (on the stack or wherever); *_init allocates
 * the arrays they point to and *_free releases them (and is safe on a zeroed or freed struct and
 * after a failed *_init). All fields are read-only for the caller. */
#ifndef QMAC_CALIB_H
#define QMAC_CALIB_H

#include <stddef.h>
#include <stdint.h>

#include "qmac/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- min-max */

/* ONNX Runtime's MinMaxCalibrater model (onnxruntime/python/tools/quantization/calibrate.py,
 * checked against onnxruntime 1.23.2): batches are grouped in "rounds" (one round = one
 * collect_data() call over a data reader). At the end of a round, per channel:
 *   plain:          round range = (min of the batch minima, max of the batch maxima);
 *   moving_average: round range = (mean of the batch minima, mean of the batch maxima), the mean
 *                   being a float32 sum in batch order divided by the batch count (numpy nanmean;
 *                   numpy's pairwise order for >= 8 per-tensor batches may differ in the last ulp);
 *   symmetric:      the round range becomes (-a, a) with a = max(|min|, |max|).
 * The first round's range is taken as is. Later rounds merge into the running range:
 *   plain:          (min(old, new), max(old, new));
 *   moving_average: old + c * (new - old) per bound, in float32 (c = averaging_constant, 0.01).
 * So "moving average" is an exponential moving average over rounds; within one round it is a plain
 * mean. Call qmac_minmax_end_round after each batch for a per-batch EMA. */
typedef struct {
    int32_t n_ch;
    int32_t symmetric;
    int32_t moving_average;
    float averaging_constant;
    int32_t round_open; /* batches observed since the last end of round */
    float *range_min;   /* [n_ch] running range (valid where has_range[c])          */
    float *range_max;   /* [n_ch]                                                      */
    uint8_t *has_range; /* [n_ch]                                                      */
    float *acc_min;     /* [n_ch] this round: min of minima, or float32 sum of minima  */
    float *acc_max;     /* [n_ch]                                                      */
    int32_t *acc_count; /* [n_ch] batches of this round in which the channel had data  */
} qmac_minmax_calib;

/* n_ch >= 1; averaging_constant in [0, 1] (used only with moving_average).
 * Errors: QMAC_ERR_INVALID_ARG, QMAC_ERR_NOMEM. */
qmac_status qmac_minmax_init(qmac_minmax_calib *c, int32_t n_ch, int symmetric, int moving_average,
                             float averaging_constant);
void qmac_minmax_free(qmac_minmax_calib *c);

/* Add one batch x[outer][n_ch][inner] to the current round. A channel whose values are all NaN (or
 * a batch with no elements) contributes nothing to that channel. Infinite values are kept. */
qmac_status qmac_minmax_observe(qmac_minmax_calib *c, const float *x, size_t outer, size_t inner);

/* Close the current round and merge it (no-op when no batch was observed since the last call). */
qmac_status qmac_minmax_end_round(qmac_minmax_calib *c);

/* Closes an open round, then writes the running range of each channel.
 * Errors: QMAC_ERR_INVALID_ARG naming a channel that never saw data. */
qmac_status qmac_minmax_range(qmac_minmax_calib *c, float *rmin, float *rmax);

/* ---------------------------------------------------------------- histograms of |x| */

typedef enum {
    /* Bins cover [0, max|x|] (TensorRT / pytorch-quantization: np.histogram(|x|, n, range=(0, max))) */
    QMAC_HIST_FROM_ZERO = 0,
    /* Bins cover [min|x|, max|x|] of the first batch (ONNX Runtime's collect_absolute_value:
     * np.histogram(|x|, n)); later values below the first edge are not counted, as in ORT. */
    QMAC_HIST_FROM_MIN = 1
} qmac_hist_origin;

/* One channel's histogram. The first batch fixes num_bins equal bins, computed exactly as numpy
 * 2.x does for float32 data (float32 edges from linspace, float32 bin index with the +-1 fix-ups,
 * an empty range widened by +-0.5). A later batch whose max |x| exceeds the last edge appends bins
 * of the first bin's width (np.arange in float32, as ORT and pytorch-quantization do), then every
 * value v is counted in bin k with edges[k] <= v < edges[k+1] (the last bin includes its right
 * edge); values outside [edges[0], edges[nbins]] are dropped. */
typedef struct {
    int32_t nbins;   /* current number of bins (>= the initial count)  */
    uint64_t *count; /* [nbins]                                        */
    float *edges;    /* [nbins + 1], float32                           */
    float min, max;  /* signed min / max of all non-NaN samples        */
    int32_t has_data;
} qmac_hist_ch;

typedef struct {
    int32_t n_ch;
    int32_t init_bins;
    qmac_hist_origin origin;
    qmac_hist_ch *ch; /* [n_ch] */
} qmac_hist;

/* n_ch >= 1, num_bins in [1, 2^24] (TensorRT: 2048; ORT percentile: 2048).
 * Errors: QMAC_ERR_INVALID_ARG, QMAC_ERR_NOMEM. */
qmac_status qmac_hist_init(qmac_hist *h, int32_t n_ch, int32_t num_bins, qmac_hist_origin origin);
void qmac_hist_free(qmac_hist *h);

/* Add one batch x[outer][n_ch][inner]: one histogram update. ONNX Runtime concatenates all the
 * batches of one collect_data() call into a single update, so to reproduce it pass that
 * concatenation here (one call per collect_data()). NaN samples are dropped (numpy would refuse
 * them). Errors: QMAC_ERR_INVALID_ARG for an infinite sample (numpy refuses those too; nothing is
 * recorded then), QMAC_ERR_UNSUPPORTED when growth would exceed 2^24 bins, QMAC_ERR_NOMEM.
 * A channel with no non-NaN value in the batch is left unchanged. */
qmac_status qmac_hist_observe(qmac_hist *h, const float *x, size_t outer, size_t inner);

/* Percentile threshold (ONNX Runtime compute_percentile, symmetric; ORT's PercentileCalibrater is
 * QMAC_HIST_FROM_MIN with 2048 bins, percentile 99.999, and qmac_hist_range): cdf = running sum of
 * count[k] / total (double, bin order), k = the first bin with cdf[k] >= percentile / 100,
 * amax = edges[k] (the LEFT edge of that bin, as ORT returns it; edges[nbins] if no bin reaches
 * it). percentile in [0, 100] (ORT default 99.999). Errors: QMAC_ERR_INVALID_ARG (bad channel,
 * percentile, or no data). */
qmac_status qmac_hist_percentile(const qmac_hist *h, int32_t ch, double percentile, float *amax);

/* MSE threshold: candidates are the bin centers c_i = (edges[i] + edges[i+1]) / 2 for i in
 * [start_bin, nbins - 1] (pytorch-quantization: start_bin 128); for each, every bin center c_k is
 * fake-quantized with s = c_i / qmax, q = min(round_half_even(c_k / s), qmax), and the error
 * sum_k count[k] * (q*s - c_k)^2 (double) is formed; amax = the c_i with the smallest error (the
 * first one on ties), rounded to float32. qmax >= 1 (127 for int8 symmetric). start_bin is clamped
 * to [0, nbins - 1]. Errors: QMAC_ERR_INVALID_ARG. */
qmac_status qmac_hist_mse(const qmac_hist *h, int32_t ch, int32_t qmax, int32_t start_bin, float *amax);

/* Entropy / KL threshold (TensorRT, Migacz 2017; MXNet's formulation), with nq =
 * num_quantized_bins (128 for int8). For each candidate i in [nq, nbins]:
 *   P = count[0 .. i-1] with the tail sum(count[i ..]) added to P[i-1];
 *   Q = the raw bins count[0 .. i-1] (WITHOUT the folded tail) merged into nq levels - level j
 *       covers bins [j*m, (j+1)*m) with m = i / nq (floor), the last level also taking the
 *       remaining bins up to i - each level's sum spread evenly over the bins of the level where
 *       P != 0, and Q = 0 where P == 0;
 *   KL(P || Q) = sum over P[k] != 0 of p_k * ln(p_k / q_k), p and q being P and Q normalised to
 *   sum 1 (double, bin order); +inf (candidate rejected) if some q_k == 0 where p_k != 0.
 * amax = edges[i] for the i with the smallest KL (the first one on ties). When nbins < nq the
 * result is edges[nbins].
 * Building Q from the folded P instead would make Q == P at i == nq (one bin per level), so
 * KL == 0 there and the search would always return edges[nq]; the tail must be left out of Q.
 * Differences from other implementations: no smoothing of zero bins (MXNet / ORT smooth with
 * eps 1e-4), no bins[0] = bins[1] tweak and no linspace-style level split (pytorch-quantization),
 * and ORT's own EntropyCalibrater works on a signed histogram. Errors: QMAC_ERR_INVALID_ARG. */
qmac_status qmac_hist_entropy(const qmac_hist *h, int32_t ch, int32_t num_quantized_bins, float *amax);

/* ONNX Runtime's final range for a symmetric threshold: (-amax, amax) with the lower bound raised
 * to the channel's observed min and the upper bound lowered to its observed max where they are
 * tighter (compute_percentile / get_entropy_threshold do this). Errors: QMAC_ERR_INVALID_ARG. */
qmac_status qmac_hist_range(const qmac_hist *h, int32_t ch, float amax, float *rmin, float *rmax);

#ifdef __cplusplus
}
#endif
#endif /* QMAC_CALIB_H */
