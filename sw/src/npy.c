/* npy.c - numpy .npy reader and writer (format versions 1.0, 2.0, 3.0). See npy.h for the
 * accepted subset and the error rules. File layout:
 *   "\x93NUMPY" major minor | header length (uint16 LE for 1.0, uint32 LE for 2.0/3.0)
 *   | header: Python dict literal, padded with spaces, ending in '\n' | raw C-order data */
#include "qmac/npy.h"

#include "qmac/fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The data is copied as-is, so the host must be little-endian like every file qmac accepts. */
#if defined(__BYTE_ORDER__) && defined(__ORDER_BIG_ENDIAN__)
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#error "npy.c assumes a little-endian host"
#endif
#endif

#define NPY_MAGIC "\x93NUMPY"
#define NPY_MAGIC_LEN 6u
#define NPY_MAX_PREFIX 12u               /* magic + version + 4-byte length */
#define NPY_MAX_HEADER ((size_t)1 << 20) /* qmac's limit; numpy's default is 10000 */
#define NPY_MAX_DATA ((size_t)1 << 31)   /* the qmac_tensor limit */
#define NPY_READ_ALIGN 16u               /* every numpy version pads to a multiple of 16 (64 since 1.14) */
#define NPY_WRITE_ALIGN 64u              /* numpy.format.ARRAY_ALIGN */
#define NPY_GROWTH_DIGITS 21 /* numpy.format.GROWTH_AXIS_MAX_DIGITS: spare spaces after the dict */
#define NPY_MAX_DEPTH 32     /* nesting limit of header literals */
#define NPY_HEADER_CAP 512u  /* the largest header qmac writes is well below this */

/* ---------------------------------------------------------------------------------------------
 * dtype table */

typedef struct {
    qmac_dtype dt;
    char kind; /* array-protocol kind character */
    size_t size;
    const char *descr; /* what numpy writes */
} npy_type;

static const npy_type k_types[] = {
    {QMAC_DT_INT8, 'i', 1, "|i1"},    {QMAC_DT_UINT8, 'u', 1, "|u1"},   {QMAC_DT_BOOL, 'b', 1, "|b1"},
    {QMAC_DT_INT16, 'i', 2, "<i2"},   {QMAC_DT_UINT16, 'u', 2, "<u2"},  {QMAC_DT_INT32, 'i', 4, "<i4"},
    {QMAC_DT_INT64, 'i', 8, "<i8"},   {QMAC_DT_FLOAT16, 'f', 2, "<f2"}, {QMAC_DT_FLOAT32, 'f', 4, "<f4"},
    {QMAC_DT_FLOAT64, 'f', 8, "<f8"},
};

static const npy_type *type_of_dtype(qmac_dtype dt)
{
    for (size_t i = 0; i < sizeof k_types / sizeof k_types[0]; ++i)
        if (k_types[i].dt == dt)
            return &k_types[i];
    return NULL;
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

/* ---------------------------------------------------------------------------------------------
 * Header literal parser: a strict subset of Python literal syntax (see npy.h). */

typedef enum { V_STRING, V_INT, V_TRUE, V_FALSE, V_NONE, V_NUMBER, V_TUPLE, V_LIST, V_DICT } vkind;

typedef struct {
    vkind kind;
    size_t start, len;           /* V_STRING: the characters between the quotes */
    int64_t ival;                /* V_INT */
    int negative;                /* V_INT: had a '-' sign; V_TUPLE: some element is a negative int */
    int overflow;                /* V_INT: magnitude above INT64_MAX; V_TUPLE: some element overflowed */
    int all_int;                 /* V_TUPLE/V_LIST: every element is a V_INT */
    int32_t count;               /* V_TUPLE/V_LIST/V_DICT: number of elements (saturates at INT32_MAX) */
    int64_t dims[QMAC_MAX_RANK]; /* V_TUPLE: the first QMAC_MAX_RANK integer elements */
} hvalue;

typedef struct {
    const char *s; /* header text (not NUL-terminated) */
    size_t len;    /* up to, not including, the final '\n' */
    size_t pos;
    size_t base; /* file offset of s[0], for messages */
    const char *name;
    int allow_long; /* accept Python 2's 'L' integer suffix (versions 1.0 and 2.0) */
} hparser;

static void skip_ws(hparser *p)
{
    while (p->pos < p->len && (p->s[p->pos] == ' ' || p->s[p->pos] == '\t'))
        p->pos++;
}

/* Describe the character at the parse position for a message ("'x'", "\\x0a", "end of header"). */
static const char *char_desc(const hparser *p, char *buf, size_t cap)
{
    if (p->pos >= p->len)
        snprintf(buf, cap, "the end of the header");
    else {
        unsigned char c = (unsigned char)p->s[p->pos];
        if (c >= 0x20 && c < 0x7f)
            snprintf(buf, cap, "'%c'", (char)c);
        else
            snprintf(buf, cap, "byte 0x%02x", (unsigned)c);
    }
    return buf;
}

static qmac_status syntax_error(const hparser *p, const char *expected)
{
    char what[32];
    return qmac_set_error(QMAC_ERR_FORMAT,
                          "%s: header is not a valid Python literal: expected %s, found %s at offset %zu",
                          p->name, expected, char_desc(p, what, sizeof what), p->base + p->pos);
}

static qmac_status parse_value(hparser *p, hvalue *v, int depth);

static qmac_status parse_string(hparser *p, hvalue *v, int allow_escapes)
{
    const char quote = p->s[p->pos];
    size_t start = ++p->pos;
    while (p->pos < p->len && p->s[p->pos] != quote) {
        char c = p->s[p->pos];
        if (c == '\n' || c == '\r')
            return syntax_error(p, "the closing quote");
        if (c == '\\') {
            if (!allow_escapes)
                return qmac_set_error(QMAC_ERR_FORMAT,
                                      "%s: escape sequence in a header string at offset %zu "
                                      "(keys and dtype strings never contain one)",
                                      p->name, p->base + p->pos);
            p->pos++; /* the escaped character, whatever it is */
            if (p->pos >= p->len)
                break;
        }
        p->pos++;
    }
    if (p->pos >= p->len)
        return syntax_error(p, "the closing quote");
    v->kind = V_STRING;
    v->start = start;
    v->len = p->pos - start;
    p->pos++;
    return QMAC_OK;
}

static qmac_status parse_number(hparser *p, hvalue *v)
{
    size_t start = p->pos;
    int neg = 0;
    if (p->s[p->pos] == '-' || p->s[p->pos] == '+') {
        neg = p->s[p->pos] == '-';
        p->pos++;
        skip_ws(p);
    }
    if (p->pos >= p->len || !(is_digit(p->s[p->pos]) || p->s[p->pos] == '.')) {
        return syntax_error(p, "a number after the sign");
    }
    size_t dstart = p->pos;
    uint64_t mag = 0;
    int overflow = 0;
    while (p->pos < p->len && is_digit(p->s[p->pos])) {
        unsigned d = (unsigned)(p->s[p->pos] - '0');
        if (mag > (UINT64_MAX - d) / 10u)
            overflow = 1;
        else
            mag = mag * 10u + d;
        p->pos++;
    }
    size_t ndig = p->pos - dstart;
    char c = p->pos < p->len ? p->s[p->pos] : '\0';
    if (c == '.' || c == 'e' || c == 'E' || c == 'j' || c == 'J' || c == 'x' || c == 'X' || c == 'o' ||
        c == 'O' || c == 'b' || c == 'B' || c == '_') {
        /* float, complex, hex/octal/binary or digit-grouped literal: only valid inside values
         * qmac does not interpret; take the token and let the caller reject the kind. */
        while (p->pos < p->len) {
            c = p->s[p->pos];
            if (is_digit(c) || is_alpha(c) || c == '.')
                p->pos++;
            else if ((c == '+' || c == '-') && (p->s[p->pos - 1] == 'e' || p->s[p->pos - 1] == 'E'))
                p->pos++;
            else
                break;
        }
        v->kind = V_NUMBER;
        v->start = start;
        v->len = p->pos - start;
        return QMAC_OK;
    }
    if (ndig > 1 && p->s[dstart] == '0') {
        for (size_t i = dstart; i < p->pos; ++i)
            if (p->s[i] != '0') {
                p->pos = dstart;
                return syntax_error(p, "a decimal integer without leading zeros");
            }
    }
    if (p->allow_long && (c == 'L' || c == 'l'))
        p->pos++;
    if (p->pos < p->len && (is_alpha(p->s[p->pos]) || is_digit(p->s[p->pos])))
        return syntax_error(p, "a delimiter after the integer");
    v->kind = V_INT;
    v->negative = neg && mag != 0;
    v->overflow = overflow || mag > (uint64_t)INT64_MAX;
    v->ival = v->overflow ? 0 : (neg ? -(int64_t)mag : (int64_t)mag);
    return QMAC_OK;
}

static qmac_status parse_name(hparser *p, hvalue *v)
{
    size_t start = p->pos;
    while (p->pos < p->len && (is_alpha(p->s[p->pos]) || is_digit(p->s[p->pos])))
        p->pos++;
    size_t n = p->pos - start;
    if (n == 4 && memcmp(p->s + start, "True", 4) == 0)
        v->kind = V_TRUE;
    else if (n == 5 && memcmp(p->s + start, "False", 5) == 0)
        v->kind = V_FALSE;
    else if (n == 4 && memcmp(p->s + start, "None", 4) == 0)
        v->kind = V_NONE;
    else
        return qmac_set_error(QMAC_ERR_FORMAT,
                              "%s: header is not a valid Python literal: name '%.*s' at offset %zu "
                              "(only True, False and None are literals)",
                              p->name, (int)(n > 40 ? 40 : n), p->s + start, p->base + start);
    return QMAC_OK;
}

/* A parenthesized tuple, a list or a nested dict. '(' x ')' without a comma is x itself. */
static qmac_status parse_sequence(hparser *p, hvalue *v, int depth)
{
    const char open = p->s[p->pos];
    const char close = open == '(' ? ')' : open == '[' ? ']' : '}';
    int commas = 0;
    hvalue item;
    p->pos++;
    v->kind = open == '(' ? V_TUPLE : open == '[' ? V_LIST : V_DICT;
    v->all_int = 1;
    v->count = 0;
    v->negative = 0;
    v->overflow = 0;
    for (;;) {
        skip_ws(p);
        if (p->pos < p->len && p->s[p->pos] == close)
            break;
        qmac_status st = parse_value(p, &item, depth + 1);
        if (st != QMAC_OK)
            return st;
        if (open == '{') { /* generic dict: key ':' value */
            skip_ws(p);
            if (p->pos >= p->len || p->s[p->pos] != ':')
                return syntax_error(p, "':'");
            p->pos++;
            skip_ws(p);
            st = parse_value(p, &item, depth + 1);
            if (st != QMAC_OK)
                return st;
        }
        if (item.kind == V_INT) {
            if (v->count < QMAC_MAX_RANK)
                v->dims[v->count] = item.ival;
            v->negative |= item.negative;
            v->overflow |= item.overflow;
        } else {
            v->all_int = 0;
        }
        if (v->count < INT32_MAX)
            v->count++;
        skip_ws(p);
        if (p->pos < p->len && p->s[p->pos] == ',') {
            commas++;
            p->pos++;
            continue;
        }
        if (p->pos < p->len && p->s[p->pos] == close)
            break;
        char exp[16];
        snprintf(exp, sizeof exp, "',' or '%c'", close);
        return syntax_error(p, exp);
    }
    p->pos++; /* the closing bracket */
    if (open == '(' && v->count == 1 && commas == 0)
        *v = item; /* "(x)" is just x */
    return QMAC_OK;
}

static qmac_status parse_value(hparser *p, hvalue *v, int depth)
{
    memset(v, 0, sizeof *v);
    if (depth > NPY_MAX_DEPTH)
        return qmac_set_error(QMAC_ERR_UNSUPPORTED, "%s: header literal nests deeper than %d levels", p->name,
                              NPY_MAX_DEPTH);
    skip_ws(p);
    if (p->pos >= p->len)
        return syntax_error(p, "a value");
    char c = p->s[p->pos];
    if (c == '\'' || c == '"')
        return parse_string(p, v, 1);
    if (c == '(' || c == '[' || c == '{')
        return parse_sequence(p, v, depth);
    if (is_digit(c) || c == '-' || c == '+' || c == '.')
        return parse_number(p, v);
    if (is_alpha(c))
        return parse_name(p, v);
    return syntax_error(p, "a value");
}

/* ---------------------------------------------------------------------------------------------
 * Header semantics */

typedef struct {
    qmac_dtype dtype;
    size_t esize;
    int32_t rank;
    int64_t shape[QMAC_MAX_RANK];
    size_t count; /* number of elements */
} npy_meta;

enum { KEY_DESCR, KEY_FORTRAN, KEY_SHAPE, KEY_COUNT };
static const char *const k_keys[KEY_COUNT] = {"descr", "fortran_order", "shape"};

/* Map a descr string to a qmac dtype. */
static qmac_status parse_descr(const char *name, const char *d, size_t n, npy_meta *m)
{
    size_t i = 0;
    char order = '\0';
    if (n > 0 && (d[0] == '<' || d[0] == '>' || d[0] == '=' || d[0] == '|'))
        order = d[i++];
    /* Array-protocol type string: [order] kind [itemsize] [ '[' unit ']' ]. */
    int typestr = i < n && strchr("biufcmMOSaUV", d[i]) != NULL && d[i] != '\0';
    char kind = typestr ? d[i] : '\0';
    size_t size = 0;
    size_t j = i + 1;
    if (typestr) {
        while (j < n && is_digit(d[j]) && size < 1000000) {
            size = size * 10u + (size_t)(d[j] - '0');
            j++;
        }
        if (j < n && d[j] == '[') {
            while (j < n && d[j] != ']')
                j++;
            j++;
        }
        typestr = j == n;
    }
    if (!typestr) {
        int identifier = n > 0;
        for (size_t k = 0; k < n; ++k)
            identifier &= is_alpha(d[k]) || is_digit(d[k]);
        if (identifier)
            return qmac_set_error(QMAC_ERR_UNSUPPORTED,
                                  "%s: descr '%.*s' is a dtype name; qmac reads array-protocol type "
                                  "strings such as '<f4'",
                                  name, (int)n, d);
        return qmac_set_error(QMAC_ERR_FORMAT, "%s: descr '%.*s' is not a dtype descriptor", name,
                              (int)(n > 40 ? 40 : n), d);
    }
    for (size_t k = 0; k < sizeof k_types / sizeof k_types[0]; ++k) {
        const npy_type *t = &k_types[k];
        if (t->kind != kind || t->size != size || j != i + 2)
            continue;
        if (size > 1 && order == '>')
            return qmac_set_error(QMAC_ERR_UNSUPPORTED,
                                  "%s: big-endian data (descr '%.*s'); qmac reads little-endian "
                                  "files only",
                                  name, (int)n, d);
        m->dtype = t->dt;
        m->esize = t->size;
        return QMAC_OK;
    }
    return qmac_set_error(QMAC_ERR_UNSUPPORTED,
                          "%s: dtype '%.*s' is not supported (qmac reads |i1 |u1 |b1 <i2 <u2 <i4 <i8 "
                          "<f2 <f4 <f8)",
                          name, (int)n, d);
}

/* UTF-8 well-formedness (for version 3.0 headers): no overlongs, surrogates or > U+10FFFF. */
static size_t utf8_bad_offset(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        size_t len;
        unsigned lo = 0x80, hi = 0xbf;
        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xc2 && c <= 0xdf) {
            len = 2;
        } else if (c >= 0xe0 && c <= 0xef) {
            len = 3;
            if (c == 0xe0)
                lo = 0xa0;
            if (c == 0xed)
                hi = 0x9f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            len = 4;
            if (c == 0xf0)
                lo = 0x90;
            if (c == 0xf4)
                hi = 0x8f;
        } else {
            return i;
        }
        if (i + len > n)
            return i;
        if (s[i + 1] < lo || s[i + 1] > hi)
            return i;
        for (size_t k = 2; k < len; ++k)
            if (s[i + k] < 0x80 || s[i + k] > 0xbf)
                return i;
        i += len;
    }
    return SIZE_MAX;
}

/* Parse and check the header text h[0..hlen) (file offset `base`). */
static qmac_status parse_header(const char *h, size_t hlen, size_t base, unsigned major, const char *name,
                                npy_meta *m)
{
    memset(m, 0, sizeof *m);
    if (hlen == 0 || h[hlen - 1] != '\n')
        return qmac_set_error(QMAC_ERR_FORMAT, "%s: header does not end with a newline", name);
    const void *nul = memchr(h, '\0', hlen);
    if (nul)
        return qmac_set_error(QMAC_ERR_FORMAT, "%s: NUL byte in the header at offset %zu", name,
                              base + (size_t)((const char *)nul - h));
    if (major == 3) {
        size_t bad = utf8_bad_offset((const unsigned char *)h, hlen);
        if (bad != SIZE_MAX)
            return qmac_set_error(QMAC_ERR_FORMAT, "%s: version 3.0 header is not valid UTF-8 (offset %zu)",
                                  name, base + bad);
    }

    hparser p = {h, hlen - 1, 0, base, name, major < 3};
    hvalue vals[KEY_COUNT];
    int seen[KEY_COUNT] = {0, 0, 0};
    skip_ws(&p);
    if (p.pos >= p.len || h[p.pos] != '{')
        return qmac_set_error(QMAC_ERR_FORMAT, "%s: header is not a Python dict literal (no '{')", name);
    p.pos++;
    for (;;) {
        skip_ws(&p);
        if (p.pos < p.len && h[p.pos] == '}')
            break;
        if (p.pos >= p.len || (h[p.pos] != '\'' && h[p.pos] != '"'))
            return syntax_error(&p, "a string key or '}'");
        hvalue key;
        size_t key_off = p.pos;
        qmac_status st = parse_string(&p, &key, 0);
        if (st != QMAC_OK)
            return st;
        int k = 0;
        while (k < KEY_COUNT &&
               !(strlen(k_keys[k]) == key.len && memcmp(h + key.start, k_keys[k], key.len) == 0))
            k++;
        if (k == KEY_COUNT)
            return qmac_set_error(QMAC_ERR_FORMAT,
                                  "%s: unexpected header key '%.*s' at offset %zu (the keys are descr, "
                                  "fortran_order, shape)",
                                  name, (int)(key.len > 40 ? 40 : key.len), h + key.start, base + key_off);
        if (seen[k])
            return qmac_set_error(QMAC_ERR_FORMAT, "%s: duplicate header key '%s' at offset %zu", name,
                                  k_keys[k], base + key_off);
        seen[k] = 1;
        skip_ws(&p);
        if (p.pos >= p.len || h[p.pos] != ':')
            return syntax_error(&p, "':'");
        p.pos++;
        st = parse_value(&p, &vals[k], 0);
        if (st != QMAC_OK)
            return st;
        skip_ws(&p);
        if (p.pos < p.len && h[p.pos] == ',') {
            p.pos++;
            continue;
        }
        if (p.pos < p.len && h[p.pos] == '}')
            break;
        return syntax_error(&p, "',' or '}'");
    }
    p.pos++; /* '}' */
    /* Padding: only spaces between the dict and the final newline. */
    while (p.pos < p.len && h[p.pos] == ' ')
        p.pos++;
    if (p.pos < p.len) {
        char what[32];
        return qmac_set_error(QMAC_ERR_FORMAT,
                              "%s: header padding after the dict must be spaces, found %s at offset %zu",
                              name, char_desc(&p, what, sizeof what), base + p.pos);
    }
    for (int k = 0; k < KEY_COUNT; ++k)
        if (!seen[k])
            return qmac_set_error(QMAC_ERR_FORMAT, "%s: header lacks the key '%s'", name, k_keys[k]);

    /* shape */
    const hvalue *sh = &vals[KEY_SHAPE];
    if (sh->kind != V_TUPLE || !sh->all_int)
        return qmac_set_error(QMAC_ERR_FORMAT, "%s: 'shape' is not a tuple of integers", name);
    if (sh->overflow)
        return qmac_set_error(QMAC_ERR_FORMAT, "%s: a 'shape' entry does not fit in 64 bits", name);
    if (sh->negative)
        return qmac_set_error(QMAC_ERR_FORMAT, "%s: 'shape' has a negative dimension", name);
    /* fortran_order */
    const hvalue *fo = &vals[KEY_FORTRAN];
    if (fo->kind != V_TRUE && fo->kind != V_FALSE)
        return qmac_set_error(QMAC_ERR_FORMAT, "%s: 'fortran_order' is not True or False", name);
    /* descr */
    const hvalue *de = &vals[KEY_DESCR];
    if (de->kind == V_LIST)
        return qmac_set_error(QMAC_ERR_UNSUPPORTED, "%s: structured dtype (descr is a list)", name);
    if (de->kind == V_TUPLE)
        return qmac_set_error(QMAC_ERR_UNSUPPORTED, "%s: sub-array dtype (descr is a tuple)", name);
    if (de->kind != V_STRING)
        return qmac_set_error(QMAC_ERR_FORMAT, "%s: 'descr' is not a string, list or tuple", name);
    if (memchr(h + de->start, '\\', de->len))
        return qmac_set_error(QMAC_ERR_FORMAT, "%s: escape sequence in 'descr'", name);
    qmac_status st = parse_descr(name, h + de->start, de->len, m);
    if (st != QMAC_OK)
        return st;
    if (fo->kind == V_TRUE)
        return qmac_set_error(QMAC_ERR_UNSUPPORTED,
                              "%s: fortran_order is True; qmac reads C-order (row-major) data only", name);
    if (sh->count > QMAC_MAX_RANK)
        return qmac_set_error(QMAC_ERR_UNSUPPORTED, "%s: rank %d is above qmac's limit of %d", name,
                              (int)sh->count, QMAC_MAX_RANK);
    m->rank = sh->count;
    size_t count = 1;
    int zero = 0;
    char sbuf[200];
    for (int32_t i = 0; i < m->rank; ++i) {
        m->shape[i] = sh->dims[i];
        zero |= sh->dims[i] == 0;
    }
    for (int32_t i = 0; i < m->rank && !zero; ++i) {
        uint64_t d = (uint64_t)sh->dims[i];
        if (d > SIZE_MAX / count || count * d > SIZE_MAX / m->esize)
            return qmac_set_error(QMAC_ERR_FORMAT, "%s: the size of shape %s overflows", name,
                                  qmac_shape_str(m->shape, m->rank, sbuf, sizeof sbuf));
        count *= (size_t)d;
    }
    m->count = zero ? 0 : count;
    return QMAC_OK;
}

/* Magic, version and header length from the first `have` bytes of a `total`-byte file. */
static qmac_status parse_prefix(const unsigned char *b, size_t have, size_t total, const char *name,
                                unsigned *major, size_t *prefix, size_t *hlen)
{
    if (total == 0)
        return qmac_set_error(QMAC_ERR_FORMAT, "%s: empty file, not a .npy file", name);
    if (have < NPY_MAGIC_LEN || memcmp(b, NPY_MAGIC, NPY_MAGIC_LEN) != 0)
        return qmac_set_error(QMAC_ERR_FORMAT, "%s: not a .npy file (bad magic; expected \\x93NUMPY)", name);
    if (have < NPY_MAGIC_LEN + 2)
        return qmac_set_error(QMAC_ERR_FORMAT, "%s: file ends inside the version bytes (%zu bytes)", name,
                              total);
    unsigned maj = b[6], min = b[7];
    if (min != 0 || maj < 1 || maj > 3)
        return qmac_set_error(QMAC_ERR_FORMAT,
                              "%s: bad format version %u.%u (.npy versions are 1.0, 2.0, 3.0)", name, maj,
                              min);
    size_t lsize = maj == 1 ? 2 : 4;
    if (have < 8 + lsize)
        return qmac_set_error(QMAC_ERR_FORMAT, "%s: file ends inside the header length field (%zu bytes)",
                              name, total);
    size_t len = (size_t)b[8] | (size_t)b[9] << 8;
    if (lsize == 4)
        len |= (size_t)b[10] << 16 | (size_t)b[11] << 24;
    *major = maj;
    *prefix = 8 + lsize;
    *hlen = len;
    if (len > total - *prefix)
        return qmac_set_error(QMAC_ERR_FORMAT,
                              "%s: header length %zu runs past the end of the file (%zu bytes after the "
                              "length field)",
                              name, len, total - *prefix);
    if (len > NPY_MAX_HEADER)
        return qmac_set_error(QMAC_ERR_UNSUPPORTED, "%s: header of %zu bytes is above qmac's limit of %zu",
                              name, len, NPY_MAX_HEADER);
    if ((*prefix + len) % NPY_READ_ALIGN != 0)
        return qmac_set_error(QMAC_ERR_FORMAT,
                              "%s: header padding: magic + length + header is %zu bytes, not a multiple "
                              "of %u",
                              name, *prefix + len, NPY_READ_ALIGN);
    return QMAC_OK;
}

/* Check the data size against the bytes that follow the header. */
static qmac_status check_data_size(const npy_meta *m, size_t avail, const char *name, size_t *nbytes,
                                   int whole)
{
    size_t need = m->count * m->esize;
    char sbuf[200];
    if (avail < need)
        return qmac_set_error(
            QMAC_ERR_FORMAT, "%s: truncated data: shape %s of %s needs %zu bytes, the file has %zu", name,
            qmac_shape_str(m->shape, m->rank, sbuf, sizeof sbuf), qmac_dtype_name(m->dtype), need, avail);
    if (avail > need)
        return qmac_set_error(
            QMAC_ERR_FORMAT, "%s: %zu bytes of trailing data after the array (shape %s of %s)", name,
            avail - need, qmac_shape_str(m->shape, m->rank, sbuf, sizeof sbuf), qmac_dtype_name(m->dtype));
    if (whole && need > NPY_MAX_DATA)
        return qmac_set_error(QMAC_ERR_UNSUPPORTED,
                              "%s: %zu bytes of data is above qmac's 2 GiB tensor limit", name, need);
    *nbytes = need;
    return QMAC_OK;
}

static qmac_status alloc_from_meta(const npy_meta *m, const char *name, qmac_tensor *out)
{
    qmac_status st = qmac_tensor_alloc(out, m->dtype, m->rank, m->shape);
    if (st == QMAC_ERR_INVALID_ARG) {
        char sbuf[200];
        return qmac_set_error(QMAC_ERR_UNSUPPORTED, "%s: shape %s is above qmac's tensor limits", name,
                              qmac_shape_str(m->shape, m->rank, sbuf, sizeof sbuf));
    }
    if (st != QMAC_OK)
        return qmac_set_error(st, "%s: %s", name, qmac_last_error());
    return QMAC_OK;
}

static qmac_status check_bools(const qmac_tensor *t, const char *name)
{
    if (t->dtype != QMAC_DT_BOOL)
        return QMAC_OK;
    const unsigned char *b = t->data;
    size_t n = qmac_tensor_count(t);
    for (size_t i = 0; i < n; ++i)
        if (b[i] > 1)
            return qmac_set_error(QMAC_ERR_FORMAT, "%s: bool element %zu is byte %u, not 0 or 1", name, i,
                                  (unsigned)b[i]);
    return QMAC_OK;
}

qmac_status qmac_npy_read_mem(const void *buf, size_t len, const char *name, qmac_tensor *out)
{
    const unsigned char *b = buf;
    unsigned major = 0;
    size_t prefix = 0, hlen = 0, nbytes = 0;
    npy_meta m;
    memset(out, 0, sizeof *out);
    if (!name)
        name = "<memory>";
    if (!b && len)
        return qmac_set_error(QMAC_ERR_INVALID_ARG, "%s: NULL buffer", name);
    qmac_status st = parse_prefix(b, len, len, name, &major, &prefix, &hlen);
    if (st == QMAC_OK)
        st = parse_header((const char *)b + prefix, hlen, prefix, major, name, &m);
    if (st == QMAC_OK)
        st = check_data_size(&m, len - prefix - hlen, name, &nbytes, 1);
    if (st == QMAC_OK)
        st = alloc_from_meta(&m, name, out);
    if (st != QMAC_OK)
        return st;
    if (nbytes)
        memcpy(out->data, b + prefix + hlen, nbytes);
    st = check_bools(out, name);
    if (st != QMAC_OK)
        qmac_tensor_free(out);
    return st;
}

/* fread exactly n bytes; QMAC_ERR_IO on a read error, QMAC_ERR_FORMAT if the file shrank. */
static qmac_status read_exact(FILE *f, void *dst, size_t n, const char *path, const char *what)
{
    if (n && fread(dst, 1, n, f) != n) {
        if (ferror(f))
            return qmac_set_error(QMAC_ERR_IO, "%s: read error in the %s: %s", path, what, strerror(errno));
        return qmac_set_error(QMAC_ERR_FORMAT, "%s: file ends inside the %s", path, what);
    }
    return QMAC_OK;
}

/* Open path and parse its header: on success *fp is positioned at the array data, whose size
 * *nbytes the file holds exactly (whole: and within qmac's tensor size limit). */
static qmac_status open_npy(const char *path, FILE **fp, npy_meta *m, size_t *nbytes, int whole)
{
    *fp = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return qmac_set_error(QMAC_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0) {
        int e = errno;
        fclose(f);
        return qmac_set_error(QMAC_ERR_IO, "%s: cannot stat: %s", path, strerror(e));
    }
    if (!S_ISREG(sb.st_mode)) {
        fclose(f);
        return qmac_set_error(QMAC_ERR_IO, "%s: not a regular file", path);
    }
    if ((uintmax_t)sb.st_size > (uintmax_t)SIZE_MAX / 2) {
        fclose(f);
        return qmac_set_error(QMAC_ERR_UNSUPPORTED, "%s: file too large", path);
    }
    const size_t total = (size_t)sb.st_size;
    unsigned char pre[NPY_MAX_PREFIX];
    const size_t have = total < NPY_MAX_PREFIX ? total : NPY_MAX_PREFIX;
    unsigned major = 0;
    size_t prefix = 0, hlen = 0;
    char *hdr = NULL;
    qmac_status st = read_exact(f, pre, have, path, "header");
    if (st == QMAC_OK)
        st = parse_prefix(pre, have, total, path, &major, &prefix, &hlen);
    if (st == QMAC_OK) {
        hdr = malloc(hlen ? hlen : 1);
        if (!hdr)
            st = qmac_set_error(QMAC_ERR_NOMEM, "%s: cannot allocate %zu header bytes", path, hlen);
    }
    if (st == QMAC_OK) {
        /* The header starts at `prefix`; part of it may already be in pre[]. */
        size_t got = have - prefix;
        if (got > hlen) {
            memcpy(hdr, pre + prefix, hlen);
            if (fseek(f, (long)(prefix + hlen), SEEK_SET) != 0)
                st = qmac_set_error(QMAC_ERR_IO, "%s: seek failed: %s", path, strerror(errno));
        } else {
            memcpy(hdr, pre + prefix, got);
            st = read_exact(f, hdr + got, hlen - got, path, "header");
        }
    }
    if (st == QMAC_OK)
        st = parse_header(hdr, hlen, prefix, major, path, m);
    free(hdr);
    if (st == QMAC_OK)
        st = check_data_size(m, total - prefix - hlen, path, nbytes, whole);
    if (st != QMAC_OK) {
        fclose(f);
        return st;
    }
    *fp = f;
    return QMAC_OK;
}

qmac_status qmac_npy_read(const char *path, qmac_tensor *out)
{
    memset(out, 0, sizeof *out);
    FILE *f;
    npy_meta m;
    size_t nbytes = 0;
    qmac_status st = open_npy(path, &f, &m, &nbytes, 1);
    if (st != QMAC_OK)
        return st;
    st = alloc_from_meta(&m, path, out);
    if (st == QMAC_OK)
        st = read_exact(f, out->data, nbytes, path, "array data");
    if (st == QMAC_OK && fgetc(f) != EOF) /* the file grew while we read it */
        st = qmac_set_error(QMAC_ERR_FORMAT, "%s: trailing data after the array", path);
    if (st == QMAC_OK)
        st = check_bools(out, path);
    fclose(f);
    if (st != QMAC_OK)
        qmac_tensor_free(out);
    return st;
}

qmac_status qmac_npy_open(const char *path, qmac_npy_stream *s)
{
    memset(s, 0, sizeof *s);
    npy_meta m;
    size_t nbytes = 0;
    FILE *f;
    qmac_status st = open_npy(path, &f, &m, &nbytes, 0);
    if (st != QMAC_OK)
        return st;
    if (m.rank < 1) {
        fclose(f);
        return qmac_set_error(QMAC_ERR_SHAPE, "%s: a 0-d array has no rows to stream", path);
    }
    s->f = f;
    s->dtype = m.dtype;
    s->rank = m.rank;
    memcpy(s->shape, m.shape, sizeof(int64_t) * (size_t)m.rank);
    s->rows = m.shape[0];
    s->row_bytes = s->rows ? nbytes / (size_t)s->rows : 0;
    snprintf(s->path, sizeof s->path, "%s", path);
    return QMAC_OK;
}

qmac_status qmac_npy_next(qmac_npy_stream *s, int64_t k, qmac_tensor *out)
{
    memset(out, 0, sizeof *out);
    if (!s->f || k < 1)
        return qmac_set_error(QMAC_ERR_INVALID_ARG, "npy stream: not open, or %lld rows asked", (long long)k);
    if (s->next + k > s->rows)
        k = s->rows - s->next;
    int64_t sh[QMAC_MAX_RANK];
    memcpy(sh, s->shape, sizeof sh);
    sh[0] = k;
    qmac_status st = qmac_tensor_alloc(out, s->dtype, s->rank, sh);
    if (st != QMAC_OK)
        return qmac_set_error(st, "%s: %s", s->path, qmac_last_error());
    if ((st = read_exact(s->f, out->data, (size_t)k * s->row_bytes, s->path, "array data")) == QMAC_OK)
        st = check_bools(out, s->path);
    if (st != QMAC_OK)
        qmac_tensor_free(out);
    else
        s->next += k;
    return st;
}

void qmac_npy_close(qmac_npy_stream *s)
{
    if (s->f)
        fclose(s->f);
    s->f = NULL;
}

/* ---------------------------------------------------------------------------------------------
 * Writer */

static qmac_status check_tensor(const qmac_tensor *t, const char *name, const npy_type **type)
{
    if (!t)
        return qmac_set_error(QMAC_ERR_INVALID_ARG, "%s: NULL tensor", name);
    *type = type_of_dtype(t->dtype);
    if (!*type)
        return qmac_set_error(QMAC_ERR_INVALID_ARG, "%s: tensor has invalid dtype %d", name, (int)t->dtype);
    if (t->rank < 0 || t->rank > QMAC_MAX_RANK)
        return qmac_set_error(QMAC_ERR_INVALID_ARG, "%s: tensor rank %d is outside [0, %d]", name,
                              (int)t->rank, QMAC_MAX_RANK);
    size_t count = 1;
    int zero = 0;
    for (int32_t i = 0; i < t->rank; ++i) {
        if (t->shape[i] < 0)
            return qmac_set_error(QMAC_ERR_INVALID_ARG, "%s: tensor has negative dimension %lld", name,
                                  (long long)t->shape[i]);
        zero |= t->shape[i] == 0;
    }
    for (int32_t i = 0; i < t->rank && !zero; ++i) {
        if ((uint64_t)t->shape[i] > NPY_MAX_DATA / count)
            return qmac_set_error(QMAC_ERR_INVALID_ARG, "%s: tensor larger than 2 GiB", name);
        count *= (size_t)t->shape[i];
    }
    if (!zero && count * (*type)->size > NPY_MAX_DATA)
        return qmac_set_error(QMAC_ERR_INVALID_ARG, "%s: tensor larger than 2 GiB", name);
    if (!zero && !t->data)
        return qmac_set_error(QMAC_ERR_INVALID_ARG, "%s: tensor data is NULL", name);
    if (!zero && t->dtype == QMAC_DT_BOOL) {
        const unsigned char *b = t->data;
        for (size_t i = 0; i < count; ++i)
            if (b[i] > 1)
                return qmac_set_error(QMAC_ERR_INVALID_ARG, "%s: bool element %zu is byte %u, not 0 or 1",
                                      name, i, (unsigned)b[i]);
    }
    return QMAC_OK;
}

/* The header numpy.save() writes (version 1.0), into hdr[NPY_HEADER_CAP]; returns its length. */
static size_t build_header(const qmac_tensor *t, const npy_type *type, char *hdr)
{
    char dict[NPY_HEADER_CAP];
    size_t n = 0;
    n += (size_t)snprintf(dict + n, sizeof dict - n, "{'descr': '%s', 'fortran_order': False, 'shape': (",
                          type->descr);
    for (int32_t i = 0; i < t->rank; ++i)
        n += (size_t)snprintf(dict + n, sizeof dict - n, "%s%lld", i ? ", " : "", (long long)t->shape[i]);
    n += (size_t)snprintf(dict + n, sizeof dict - n, "%s), }", t->rank == 1 ? "," : "");
    if (t->rank > 0) { /* numpy leaves room to grow the first axis in place */
        char digits[24];
        int nd = snprintf(digits, sizeof digits, "%lld", (long long)t->shape[0]);
        for (int i = nd; i < NPY_GROWTH_DIGITS; ++i)
            dict[n++] = ' ';
    }
    size_t hlen = n + 1; /* + '\n' */
    size_t pad = NPY_WRITE_ALIGN - (10u + hlen) % NPY_WRITE_ALIGN;
    size_t field = hlen + pad;
    memcpy(hdr, NPY_MAGIC "\x01\x00", 8);
    hdr[8] = (char)(field & 0xffu);
    hdr[9] = (char)(field >> 8);
    memcpy(hdr + 10, dict, n);
    memset(hdr + 10 + n, ' ', pad);
    hdr[10 + n + pad] = '\n';
    return 10 + field;
}

qmac_status qmac_npy_write_mem(const qmac_tensor *t, void **buf, size_t *len)
{
    const npy_type *type = NULL;
    char hdr[NPY_HEADER_CAP];
    *buf = NULL;
    *len = 0;
    qmac_status st = check_tensor(t, "<memory>", &type);
    if (st != QMAC_OK)
        return st;
    size_t hlen = build_header(t, type, hdr);
    size_t nbytes = qmac_tensor_nbytes(t);
    unsigned char *b = malloc(hlen + nbytes);
    if (!b)
        return qmac_set_error(QMAC_ERR_NOMEM, "cannot allocate %zu bytes for a .npy image", hlen + nbytes);
    memcpy(b, hdr, hlen);
    if (nbytes)
        memcpy(b + hlen, t->data, nbytes);
    *buf = b;
    *len = hlen + nbytes;
    return QMAC_OK;
}

qmac_status qmac_npy_write(const char *path, const qmac_tensor *t)
{
    const npy_type *type = NULL;
    char hdr[NPY_HEADER_CAP];
    qmac_status st = check_tensor(t, path, &type);
    if (st != QMAC_OK)
        return st;
    const size_t hlen = build_header(t, type, hdr);
    const void *parts[2] = {hdr, t->data};
    const size_t lens[2] = {hlen, qmac_tensor_nbytes(t)};
    return qmac_write_file_parts(path, parts, lens, 2);
}
