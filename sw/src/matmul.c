/* matmul.c - reference integer matmul (ONNX MatMulInteger, the accumulator of QLinearMatMul) and
 * TFLite fully connected. Accumulation wraps modulo 2^32 like the hardware. */
#include <stdint.h>

#include "kern_util.h"
#include "qmac/kernels.h"

/* dtype and zero points of one operand; n_zp entries of zp_ch when it is non-NULL. */
static qmac_status check_operand(const qmac_qbuf *q, const char *name, int32_t n_zp)
{
    if (!q || !q->data)
        return qmac_set_error(QMAC_ERR_INVALID_ARG, "%s: buffer is NULL", name);
    if (!qmac_is_qtype(q->dtype))
        return qmac_set_error(QMAC_ERR_INVALID_ARG, "%s: dtype %s is not int8/uint8/int16/uint16", name,
                              qmac_dtype_name(q->dtype));
    int32_t lo, hi;
    qmac_dtype_range(q->dtype, &lo, &hi);
    if (q->zp_ch) {
        for (int32_t i = 0; i < n_zp; ++i)
            if (q->zp_ch[i] < lo || q->zp_ch[i] > hi)
                return qmac_set_error(QMAC_ERR_INVALID_ARG, "%s: zero point [%d] = %d is outside [%d, %d]",
                                      name, (int)i, (int)q->zp_ch[i], (int)lo, (int)hi);
    } else if (q->zp < lo || q->zp > hi) {
        return qmac_set_error(QMAC_ERR_INVALID_ARG, "%s: zero point %d is outside [%d, %d]", name, (int)q->zp,
                              (int)lo, (int)hi);
    }
    return QMAC_OK;
}

static qmac_status check_sizes(const char *op, const char *n0, int32_t v0, const char *n1, int32_t v1,
                               const char *n2, int32_t v2)
{
    if (v0 < 1 || v1 < 1 || v2 < 1)
        return qmac_set_error(QMAC_ERR_SHAPE, "%s: %s = %d, %s = %d, %s = %d must all be >= 1", op, n0,
                              (int)v0, n1, (int)v1, n2, (int)v2);
    const uint64_t limit = (uint64_t)1 << 40;
    if ((uint64_t)v0 * (uint64_t)v1 >= limit || (uint64_t)v1 * (uint64_t)v2 >= limit ||
        (uint64_t)v0 * (uint64_t)v2 >= limit)
        return qmac_set_error(QMAC_ERR_SHAPE, "%s: %s = %d, %s = %d, %s = %d is too large", op, n0, (int)v0,
                              n1, (int)v1, n2, (int)v2);
    return QMAC_OK;
}

qmac_status qmac_matmul_check(int32_t M, int32_t K, int32_t N, const qmac_qbuf *a, const qmac_qbuf *b)
{
    qmac_status st = check_sizes("matmul", "M", M, "K", K, "N", N);
    if (st == QMAC_OK)
        st = check_operand(a, "matmul A", M);
    if (st == QMAC_OK)
        st = check_operand(b, "matmul B", N);
    return st;
}

qmac_status qmac_matmul_acc(int32_t M, int32_t K, int32_t N, const qmac_qbuf *a, const qmac_qbuf *b,
                            const int32_t *bias, int32_t *acc)
{
    qmac_status st = qmac_matmul_check(M, K, N, a, b);
    if (st != QMAC_OK)
        return st;
    if (!acc)
        return qmac_set_error(QMAC_ERR_INVALID_ARG, "matmul: output buffer is NULL");
    for (int32_t m = 0; m < M; ++m) {
        const int32_t azp = a->zp_ch ? a->zp_ch[m] : a->zp;
        for (int32_t n = 0; n < N; ++n) {
            const int32_t bzp = b->zp_ch ? b->zp_ch[n] : b->zp;
            uint32_t sum = bias ? (uint32_t)bias[n] : 0u;
            for (int32_t k = 0; k < K; ++k) {
                const int32_t av = qmac_load_int(a->dtype, a->data, (size_t)m * (size_t)K + (size_t)k);
                const int32_t bv = qmac_load_int(b->dtype, b->data, (size_t)k * (size_t)N + (size_t)n);
                sum = qmac_mac_u32(sum, av - azp, bv - bzp);
            }
            acc[(size_t)m * (size_t)N + (size_t)n] = qmac_u32_to_i32(sum);
        }
    }
    return QMAC_OK;
}

qmac_status qmac_fc_check(int32_t batches, int32_t depth, int32_t cout, const qmac_qbuf *x,
                          const qmac_qbuf *w)
{
    qmac_status st = check_sizes("fully connected", "batches", batches, "depth", depth, "Cout", cout);
    if (st == QMAC_OK && x && x->zp_ch)
        st = qmac_set_error(QMAC_ERR_INVALID_ARG,
                            "fully connected input: per-channel zero points are not supported");
    if (st == QMAC_OK)
        st = check_operand(x, "fully connected input", 0);
    if (st == QMAC_OK)
        st = check_operand(w, "fully connected weights", cout);
    return st;
}

qmac_status qmac_fc_acc(int32_t batches, int32_t depth, int32_t cout, const qmac_qbuf *x, const qmac_qbuf *w,
                        const int32_t *bias, int32_t *acc)
{
    qmac_status st = qmac_fc_check(batches, depth, cout, x, w);
    if (st != QMAC_OK)
        return st;
    if (!acc)
        return qmac_set_error(QMAC_ERR_INVALID_ARG, "fully connected: output buffer is NULL");
    for (int32_t b = 0; b < batches; ++b)
        for (int32_t oc = 0; oc < cout; ++oc) {
            const int32_t wzp = w->zp_ch ? w->zp_ch[oc] : w->zp;
            uint32_t sum = bias ? (uint32_t)bias[oc] : 0u;
            for (int32_t d = 0; d < depth; ++d) {
                const int32_t xv = qmac_load_int(x->dtype, x->data, (size_t)b * (size_t)depth + (size_t)d);
                const int32_t wv = qmac_load_int(w->dtype, w->data, (size_t)oc * (size_t)depth + (size_t)d);
                sum = qmac_mac_u32(sum, xv - x->zp, wv - wzp);
            }
            acc[(size_t)b * (size_t)cout + (size_t)oc] = qmac_u32_to_i32(sum);
        }
    return QMAC_OK;
}
