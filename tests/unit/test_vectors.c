/* test_vectors.c - the TFLite reference-vector checker: the shared vectors all pass; small cases
 * written here (expected outputs worked out by hand) pass; malformed files written to a temp
 * directory fail with a message naming the file and the field, and never crash. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "qmac/vectors.h"

static char tmpdir[256];

/* add with unit multipliers: inputs (2^30, 0), output (2^30, -18) -> y = a + b (zps 0).
 * [1 2 -3] + [4 -5 6] = [5 -3 3]. */
static const char *ADD_CASE =
    "{\"name\": \"hand_add\", \"op\": \"add\", \"layout\": \"NHWC\", \"dtype\": \"int8\",\n"
    " \"params\": {\"shape\": [3], \"input1_offset\": 0, \"input2_offset\": 0, \"left_shift\": 20,\n"
    "  \"input1_multiplier\": 1073741824, \"input1_shift\": 0, \"input2_multiplier\": 1073741824,\n"
    "  \"input2_shift\": 0, \"output_multiplier\": 1073741824, \"output_shift\": -18, \"output_offset\": 0,\n"
    "  \"activation_min\": -128, \"activation_max\": 127},\n"
    " \"tensors\": {\"input1\": {\"shape\": [3], \"dtype\": \"int8\", \"data\": [1, 2, -3]},\n"
    "  \"input2\": {\"shape\": [3], \"dtype\": \"int8\", \"data\": [4, -5, 6]},\n"
    "  \"expected_output\": {\"shape\": [3], \"dtype\": \"int8\", \"data\": [5, -3, 3]}}}\n";

/* 1x1 conv on x = [2 3] (offset 0), filter [3], bias 1: acc = [7 10]; multiplier 2^30 (x 0.5,
 * SRDHM half up): 3.5 -> 4, 5 -> 5; output offset -1 -> [3 4]. */
static const char *CONV_CASE =
    "{\"name\": \"hand_conv\", \"op\": \"conv2d\", \"layout\": \"NHWC\", \"dtype\": \"int8\",\n"
    " \"params\": {\"input_shape\": [1, 1, 2, 1], \"filter_shape\": [1, 1, 1, 1], \"output_shape\": [1, 1, "
    "2, 1],\n"
    "  \"groups\": 1, \"stride\": {\"h\": 1, \"w\": 1}, \"dilation\": {\"h\": 1, \"w\": 1},\n"
    "  \"padding\": {\"top\": 0, \"bottom\": 0, \"left\": 0, \"right\": 0}, \"input_offset\": 0,\n"
    "  \"filter_offset\": 0, \"output_offset\": -1, \"activation_min\": -128, \"activation_max\": 127,\n"
    "  \"per_channel\": true, \"output_multiplier\": [1073741824], \"output_shift\": [0]},\n"
    " \"tensors\": {\"input\": {\"shape\": [1, 1, 2, 1], \"dtype\": \"int8\", \"data\": [2, 3]},\n"
    "  \"filter\": {\"shape\": [1, 1, 1, 1], \"dtype\": \"int8\", \"data\": [3]},\n"
    "  \"bias\": {\"shape\": [1], \"dtype\": \"int32\", \"data\": [1]},\n"
    "  \"expected_output\": {\"shape\": [1, 1, 2, 1], \"dtype\": \"int8\", \"data\": [3, 4]}}}\n";

/* maxpool 2x2 stride 2 on [[1 -2] [3 -4]] -> 3, clamped to activation_max 2 -> 2. */
static const char *POOL_CASE =
    "{\"name\": \"hand_pool\", \"op\": \"maxpool\", \"layout\": \"NHWC\", \"dtype\": \"int8\",\n"
    " \"params\": {\"input_shape\": [1, 2, 2, 1], \"output_shape\": [1, 1, 1, 1], \"filter_size\": {\"h\": "
    "2, \"w\": 2},\n"
    "  \"stride\": {\"h\": 2, \"w\": 2}, \"padding\": {\"top\": 0, \"bottom\": 0, \"left\": 0, \"right\": "
    "0},\n"
    "  \"activation_min\": -128, \"activation_max\": 2},\n"
    " \"tensors\": {\"input\": {\"data\": [1, -2, 3, -4]}, \"expected_output\": {\"data\": [2]}}}\n";

static char *path_in(const char *name)
{
    static char buf[512];
    snprintf(buf, sizeof buf, "%s/%s", tmpdir, name);
    return buf;
}

static void write_text(const char *name, const char *text, size_t len)
{
    FILE *f = fopen(path_in(name), "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, len, f), len);
    fclose(f);
}

static void write_case(const char *name, const char *text)
{
    write_text(name, text, strlen(text));
}

/* text with the first occurrence of `from` replaced by `to` (caller frees) */
static char *replaced(const char *text, const char *from, const char *to)
{
    const char *at = strstr(text, from);
    assert_non_null(at);
    const size_t head = (size_t)(at - text), n = strlen(text) - strlen(from) + strlen(to) + 1;
    char *r = malloc(n);
    assert_non_null(r);
    memcpy(r, text, head);
    snprintf(r + head, n - head, "%s%s", to, at + strlen(from));
    return r;
}

static void clear_tmpdir(void)
{
    DIR *d = opendir(tmpdir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, ".."))
            remove(path_in(e->d_name));
    closedir(d);
}

static int setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/qmac_test_vectors_XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    clear_tmpdir();
    return rmdir(tmpdir);
}

/* Run one file with a memory log; returns the status and copies the log into out. */
static qmac_status check_file(const char *name, char *out, size_t cap)
{
    FILE *log = tmpfile();
    assert_non_null(log);
    const qmac_status st = qmac_check_vector_file(path_in(name), log, 0);
    rewind(log);
    const size_t n = fread(out, 1, cap - 1, log);
    out[n] = '\0';
    fclose(log);
    return st;
}

static void test_vectors_shared_cases_all_pass(void **state)
{
    (void)state;
    const char *shared = getenv("SHARED");
    char dir[512];
    snprintf(dir, sizeof dir, "%s/vectors/tflite-int8", shared ? shared : "../shared");
    DIR *d = opendir(dir);
    if (!d) {
        print_message("%s is absent: the shared TFLite vectors were not run (set SHARED)\n", dir);
        skip();
    }
    closedir(d);
    FILE *log = tmpfile();
    assert_non_null(log);
    int pass = -1, fail = -1;
    const qmac_status st = qmac_check_vectors_dir(dir, log, 0, &pass, &fail);
    rewind(log);
    char line[512];
    int lines = 0;
    while (fgets(line, sizeof line, log)) {
        if (strncmp(line, "PASS ", 5) != 0)
            print_message("%s", line);
        ++lines;
    }
    fclose(log);
    assert_int_equal(st, QMAC_OK);
    assert_int_equal(fail, 0);
    assert_true(pass >= 54); /* the 54 cases of FORMAT.md; more may be added */
    assert_int_equal(lines, pass);
}

static void test_vectors_hand_made_cases_pass(void **state)
{
    (void)state;
    char log[1024];
    write_case("hand_add.json", ADD_CASE);
    write_case("hand_conv.json", CONV_CASE);
    write_case("hand_pool.json", POOL_CASE);
    assert_int_equal(check_file("hand_add.json", log, sizeof log), QMAC_OK);
    assert_string_equal(log, "PASS hand_add add\n");
    assert_int_equal(check_file("hand_conv.json", log, sizeof log), QMAC_OK);
    assert_string_equal(log, "PASS hand_conv conv2d\n");
    assert_int_equal(check_file("hand_pool.json", log, sizeof log), QMAC_OK);
    assert_string_equal(log, "PASS hand_pool maxpool\n");
    clear_tmpdir();
}

static void test_vectors_wrong_expected_value_reports_first_index(void **state)
{
    (void)state;
    char log[1024];
    char *bad = replaced(ADD_CASE, "[5, -3, 3]", "[5, -2, 4]");
    write_case("bad_out.json", bad);
    free(bad);
    assert_int_equal(check_file("bad_out.json", log, sizeof log), QMAC_ERR_MISMATCH);
    assert_non_null(strstr(log, "FAIL hand_add add: output[1] expected -2 got -3 (2 of 3 outputs differ)"));
    clear_tmpdir();
}

static void expect_format_failure(const char *file, const char *text, size_t len, qmac_status want,
                                  const char *needle)
{
    char log[2048];
    write_text(file, text, len);
    const qmac_status st = check_file(file, log, sizeof log);
    if (st != want || strncmp(log, "FAIL ", 5) != 0 || !strstr(log, file) ||
        (needle && !strstr(log, needle))) {
        print_message("%s: status %d, log: %s", file, (int)st, log);
        fail();
    }
    /* the detail is also available to the caller */
    assert_non_null(strstr(qmac_last_error(), file));
}

static void test_vectors_malformed_files_fail_cleanly(void **state)
{
    (void)state;
    const size_t n = strlen(ADD_CASE);
    expect_format_failure("truncated.json", ADD_CASE, n / 2, QMAC_ERR_FORMAT, "malformed or truncated JSON");
    expect_format_failure("empty.json", "", 0, QMAC_ERR_FORMAT, "JSON");
    expect_format_failure("garbage.json", "\x01\xff\x00\x7f{{", 6, QMAC_ERR_FORMAT, NULL);
    expect_format_failure("array.json", "[1, 2, 3]", 9, QMAC_ERR_FORMAT, "not a JSON object");
    expect_format_failure("trailing.json", "{} {}", 5, QMAC_ERR_FORMAT, "trailing data");

    char *t;
    t = replaced(ADD_CASE, "\"output_shift\": -18, ", "");
    expect_format_failure("no_shift.json", t, strlen(t), QMAC_ERR_FORMAT, "'params.output_shift' is missing");
    free(t);
    t = replaced(ADD_CASE, "\"data\": [4, -5, 6]", "\"data\": [4, -5]");
    expect_format_failure("short.json", t, strlen(t), QMAC_ERR_FORMAT, "tensors.input2.data");
    free(t);
    t = replaced(ADD_CASE, "\"data\": [1, 2, -3]", "\"data\": [1, 2.5, -3]");
    expect_format_failure("fraction.json", t, strlen(t), QMAC_ERR_FORMAT, "tensors.input1.data[1]");
    free(t);
    t = replaced(ADD_CASE, "\"data\": [1, 2, -3]", "\"data\": [1, 300, -3]");
    expect_format_failure("range.json", t, strlen(t), QMAC_ERR_FORMAT, "tensors.input1.data[1]");
    free(t);
    t = replaced(ADD_CASE, "\"data\": [1, 2, -3]", "\"data\": [1, \"2\", -3]");
    expect_format_failure("string.json", t, strlen(t), QMAC_ERR_FORMAT, "tensors.input1.data[1]");
    free(t);
    t = replaced(ADD_CASE, "\"op\": \"add\"", "\"op\": \"softmax\"");
    expect_format_failure("unknown_op.json", t, strlen(t), QMAC_ERR_UNSUPPORTED, "unknown op");
    free(t);
    t = replaced(ADD_CASE, "\"op\": \"add\", ", "");
    expect_format_failure("no_op.json", t, strlen(t), QMAC_ERR_FORMAT, "'op' is missing");
    free(t);
    t = replaced(ADD_CASE, "\"layout\": \"NHWC\"", "\"layout\": \"NCHW\"");
    expect_format_failure("layout.json", t, strlen(t), QMAC_ERR_UNSUPPORTED, "layout");
    free(t);
    t = replaced(ADD_CASE, "\"output_shift\": -18", "\"output_shift\": 99");
    expect_format_failure("shift.json", t, strlen(t), QMAC_ERR_FORMAT, "params.output_shift");
    free(t);
    t = replaced(ADD_CASE, "\"input1_offset\": 0", "\"input1_offset\": 1e12");
    expect_format_failure("offset.json", t, strlen(t), QMAC_ERR_FORMAT, "params.input1_offset");
    free(t);
    t = replaced(ADD_CASE, "\"params\": {", "\"params\": 7, \"x\": {");
    expect_format_failure("params.json", t, strlen(t), QMAC_ERR_FORMAT, "'params' is not an object");
    free(t);

    /* conv: missing nested field, inconsistent output shape (rejected by the kernel check),
     * shape field disagreeing with the data, wrong number of multipliers */
    t = replaced(CONV_CASE, "\"stride\": {\"h\": 1, \"w\": 1}", "\"stride\": {\"h\": 1}");
    expect_format_failure("no_stride_w.json", t, strlen(t), QMAC_ERR_FORMAT, "'params.stride.w' is missing");
    free(t);
    t = replaced(CONV_CASE, "\"output_shape\": [1, 1, 2, 1]", "\"output_shape\": [1, 2, 1, 1]");
    expect_format_failure("conv_shape.json", t, strlen(t), QMAC_ERR_FORMAT, "rejected by the kernel");
    free(t);
    t = replaced(CONV_CASE, "\"shape\": [1, 1, 2, 1], \"dtype\": \"int8\", \"data\": [2, 3]",
                 "\"shape\": [1, 1, 3, 1], \"dtype\": \"int8\", \"data\": [2, 3]");
    expect_format_failure("conv_tshape.json", t, strlen(t), QMAC_ERR_FORMAT, "tensors.input.shape");
    free(t);
    t = replaced(CONV_CASE, "\"output_multiplier\": [1073741824]", "\"output_multiplier\": [1073741824, 1]");
    expect_format_failure("conv_mult.json", t, strlen(t), QMAC_ERR_FORMAT, "output_multiplier");
    free(t);
    t = replaced(CONV_CASE, "\"input_shape\": [1, 1, 2, 1]", "\"input_shape\": [1, 1, 0, 1]");
    expect_format_failure("conv_zero.json", t, strlen(t), QMAC_ERR_FORMAT, "params.input_shape");
    free(t);
    t = replaced(CONV_CASE, "\"input_shape\": [1, 1, 2, 1]", "\"input_shape\": [100000, 100000, 100000, 1]");
    expect_format_failure("conv_huge.json", t, strlen(t), QMAC_ERR_FORMAT, "params.input_shape");
    free(t);
    t = replaced(POOL_CASE, "\"activation_max\": 2", "\"activation_max\": -129");
    expect_format_failure("pool_act.json", t, strlen(t), QMAC_ERR_FORMAT, "params.activation_max");
    free(t);

    char log[512];
    assert_int_equal(check_file("does_not_exist.json", log, sizeof log), QMAC_ERR_IO);
    assert_non_null(strstr(log, "FAIL does_not_exist ?: "));
    clear_tmpdir();
}

static void test_vectors_dir_counts_and_skips_index(void **state)
{
    (void)state;
    int pass = -1, fail = -1;
    FILE *log = tmpfile();
    assert_non_null(log);
    /* empty folder: nothing to run, not an error */
    assert_int_equal(qmac_check_vectors_dir(tmpdir, log, 0, &pass, &fail), QMAC_OK);
    assert_int_equal(pass + fail, 0);

    write_case("a_add.json", ADD_CASE);
    write_case("b_conv.json", CONV_CASE);
    write_case("index.json", "{\"this\": \"is not a case\"}");
    write_case("notes.md", "not json");
    write_text("c_broken.json", ADD_CASE, 40);
    assert_int_equal(qmac_check_vectors_dir(tmpdir, log, 1, &pass, &fail), QMAC_ERR_MISMATCH);
    assert_int_equal(pass, 2);
    assert_int_equal(fail, 1);
    rewind(log);
    char text[4096];
    const size_t n = fread(text, 1, sizeof text - 1, log);
    text[n] = '\0';
    fclose(log);
    /* name order, verbose PASS lines carry the output count */
    const char *p1 = strstr(text, "PASS hand_add add (3 outputs)");
    const char *p2 = strstr(text, "PASS hand_conv conv2d (2 outputs)");
    const char *p3 = strstr(text, "FAIL c_broken ?:");
    assert_true(p1 && p2 && p3 && p1 < p2 && p2 < p3);
    assert_null(strstr(text, "index"));
    clear_tmpdir();

    assert_int_equal(qmac_check_vectors_dir("/nonexistent/qmac/vectors", NULL, 0, &pass, &fail), QMAC_ERR_IO);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vectors_shared_cases_all_pass),
        cmocka_unit_test(test_vectors_hand_made_cases_pass),
        cmocka_unit_test(test_vectors_wrong_expected_value_reports_first_index),
        cmocka_unit_test(test_vectors_malformed_files_fail_cleanly),
        cmocka_unit_test(test_vectors_dir_counts_and_skips_index),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
