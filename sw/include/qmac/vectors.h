/* vectors.h - the TFLite int8 reference-vector checker: reads the JSON cases of
 * shared/vectors/tflite-int8 (format: that folder's FORMAT.md), runs each through the C reference
 * kernels with requantization rule A using the multipliers and shifts stored in the file, and
 * compares every output element. Ops: conv2d, depthwise_conv2d, fully_connected, avgpool, maxpool,
 * add, mul. */
#ifndef QMAC_VECTORS_H
#define QMAC_VECTORS_H

#include <stdio.h>

#include "qmac/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Check one case file. Writes one line to log (when non-NULL):
 *   "PASS <name> <op>"  or  "FAIL <name> <op>: <reason>"
 * where the reason of a wrong output is its first differing index with the expected and the
 * computed value, and the reason of a bad file names the file and the field. verbose adds the
 * count of outputs on a PASS and lists up to 16 differing elements on a FAIL (indented lines).
 * Never crashes on malformed input: a truncated/invalid JSON file, a missing or mistyped field,
 * an out-of-range value, a data array of the wrong length or an unknown op is a FAIL.
 * Returns QMAC_OK (pass), QMAC_ERR_MISMATCH (outputs differ), QMAC_ERR_FORMAT (malformed case),
 * QMAC_ERR_UNSUPPORTED (unknown op or layout), QMAC_ERR_IO (unreadable file), QMAC_ERR_NOMEM;
 * qmac_last_error() holds the reason of a failure. */
qmac_status qmac_check_vector_file(const char *path, FILE *log, int verbose);

/* Check every case in dir: each regular "*.json" file except index.json (and hidden files), in
 * name order, one log line per case (see qmac_check_vector_file). *n_pass and *n_fail receive the
 * counts. Returns QMAC_OK when no case failed (also when there is none: check n_pass + n_fail),
 * QMAC_ERR_MISMATCH when at least one case failed, QMAC_ERR_IO when dir cannot be read,
 * QMAC_ERR_NOMEM. */
qmac_status qmac_check_vectors_dir(const char *dir, FILE *log, int verbose, int *n_pass, int *n_fail);

#ifdef __cplusplus
}
#endif
#endif /* QMAC_VECTORS_H */
