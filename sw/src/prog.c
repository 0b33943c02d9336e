/* prog.c - growable qmac programs and .qbin files (see prog.h). Every field position comes from
 * the generated tables (isa_gen.h); the byte order of files is spelled out with shifts, so the
 * result is the same on any host. */
#include "qmac/prog.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "qmac/fileio.h"

void qmac_prog_init(qmac_prog *p)
{
    p->words = NULL;
    p->n_insn = 0;
    p->cap = 0;
}

void qmac_prog_free(qmac_prog *p)
{
    if (!p)
        return;
    free(p->words);
    qmac_prog_init(p);
}

/* Room for at least one more instruction. */
static qmac_status grow(qmac_prog *p)
{
    if (p->n_insn < p->cap)
        return QMAC_OK;
    const size_t max_cap = SIZE_MAX / (QMAC_INSN_WORDS * sizeof(uint32_t));
    if (p->cap >= max_cap / 2)
        return qmac_set_error(QMAC_ERR_NOMEM, "program of %zu instructions cannot grow", p->n_insn);
    const size_t cap = p->cap ? p->cap * 2 : 64;
    uint32_t *w = realloc(p->words, cap * QMAC_INSN_WORDS * sizeof(uint32_t));
    if (!w)
        return qmac_set_error(QMAC_ERR_NOMEM, "out of memory growing a program to %zu instructions", cap);
    p->words = w;
    p->cap = cap;
    return QMAC_OK;
}

qmac_status qmac_prog_push_words(qmac_prog *p, const uint32_t w[QMAC_INSN_WORDS])
{
    const qmac_status st = grow(p);
    if (st != QMAC_OK)
        return st;
    memcpy(p->words + p->n_insn * QMAC_INSN_WORDS, w, QMAC_INSN_WORDS * sizeof(uint32_t));
    p->n_insn++;
    return QMAC_OK;
}

const uint32_t *qmac_prog_insn(const qmac_prog *p, size_t i)
{
    return p->words + i * QMAC_INSN_WORDS;
}

/* The struct member of field f: a uint32_t or int32_t at f->offset of the format's struct, which
 * starts the union (every union member is at offset 0). memcpy keeps the access well defined for
 * either type. */
int64_t qmac_prog_field_get(const qmac_insn *insn, const qmac_isa_field *f)
{
    const unsigned char *base = (const unsigned char *)&insn->u;
    if (f->is_signed) {
        int32_t v;
        memcpy(&v, base + f->offset, sizeof v);
        return v;
    }
    uint32_t v;
    memcpy(&v, base + f->offset, sizeof v);
    return v;
}

void qmac_prog_field_set(qmac_insn *insn, const qmac_isa_field *f, int64_t v)
{
    unsigned char *base = (unsigned char *)&insn->u;
    if (f->is_signed) {
        const int32_t s = (int32_t)v;
        memcpy(base + f->offset, &s, sizeof s);
    } else {
        const uint32_t u = (uint32_t)v;
        memcpy(base + f->offset, &u, sizeof u);
    }
}

void qmac_prog_field_range(const qmac_isa_field *f, int64_t *lo, int64_t *hi)
{
    const int64_t span = (int64_t)1 << f->width;
    *lo = f->is_signed ? -span / 2 : 0;
    *hi = f->is_signed ? span / 2 - 1 : span - 1;
}

static int enum_has(const qmac_isa_enum *e, int64_t v)
{
    for (uint32_t i = 0; i < e->count; i++)
        if ((int64_t)e->values[i] == v)
            return 1;
    return 0;
}

qmac_status qmac_prog_push(qmac_prog *p, const qmac_insn *insn)
{
    const unsigned op = (unsigned)insn->op;
    if (op >= QMAC_OP_COUNT)
        return qmac_set_error(QMAC_ERR_INVALID_ARG, "unknown opcode %u (valid: 0..%u)", op,
                              QMAC_OP_COUNT - 1u);
    const qmac_isa_format *fmt = &qmac_isa_formats[op];
    for (uint32_t i = 0; i < fmt->n_fields; i++) {
        const qmac_isa_field *f = &fmt->fields[i];
        if (f->width < 1 || f->width > 32 || f->offset > sizeof insn->u - sizeof(uint32_t))
            return qmac_set_error(QMAC_ERR_INTERNAL, "%s.%s: bad field table entry", fmt->name, f->name);
        int64_t lo, hi;
        qmac_prog_field_range(f, &lo, &hi);
        const int64_t v = qmac_prog_field_get(insn, f);
        if (v < lo || v > hi)
            return qmac_set_error(QMAC_ERR_INVALID_ARG, "%s %s=%lld out of range [%lld, %lld]", fmt->name,
                                  f->name, (long long)v, (long long)lo, (long long)hi);
        if (f->enumeration && !enum_has(f->enumeration, v))
            return qmac_set_error(QMAC_ERR_INVALID_ARG, "%s %s=%lld is not a %s value", fmt->name, f->name,
                                  (long long)v, f->enumeration->name);
    }
    uint32_t w[QMAC_INSN_WORDS];
    qmac_insn_encode(insn, w);
    /* the checks above are the decoder's, so this holds unless the tables disagree with decode */
    qmac_insn check;
    const char *bad = NULL;
    if (qmac_insn_decode(w, &check, &bad) != QMAC_FAULT_NONE)
        return qmac_set_error(QMAC_ERR_INTERNAL, "%s: encoded instruction does not decode (field %s)",
                              fmt->name, bad ? bad : "?");
    return qmac_prog_push_words(p, w);
}

qmac_status qmac_prog_to_bytes(const qmac_prog *p, unsigned char **bytes, size_t *len)
{
    *bytes = NULL;
    *len = 0;
    const size_t n = p->n_insn * QMAC_INSN_BYTES;
    unsigned char *b = malloc(n ? n : 1);
    if (!b)
        return qmac_set_error(QMAC_ERR_NOMEM, "out of memory for a %zu-byte program image", n);
    for (size_t i = 0; i < p->n_insn * QMAC_INSN_WORDS; i++) {
        const uint32_t w = p->words[i];
        b[4 * i + 0] = (unsigned char)(w & 0xffu);
        b[4 * i + 1] = (unsigned char)((w >> 8) & 0xffu);
        b[4 * i + 2] = (unsigned char)((w >> 16) & 0xffu);
        b[4 * i + 3] = (unsigned char)((w >> 24) & 0xffu);
    }
    *bytes = b;
    *len = n;
    return QMAC_OK;
}

qmac_status qmac_prog_from_bytes(const unsigned char *bytes, size_t len, const char *name, qmac_prog *out)
{
    qmac_prog_init(out);
    if (len == 0 || len % QMAC_INSN_BYTES != 0)
        return qmac_set_error(QMAC_ERR_FORMAT,
                              "%s: size %zu bytes is not a positive multiple of %u (the instruction size)",
                              name, len, QMAC_INSN_BYTES);
    const size_t n = len / QMAC_INSN_BYTES;
    out->words = malloc(n * QMAC_INSN_BYTES);
    if (!out->words)
        return qmac_set_error(QMAC_ERR_NOMEM, "%s: out of memory for %zu instructions", name, n);
    out->cap = n;
    out->n_insn = n;
    for (size_t i = 0; i < n * QMAC_INSN_WORDS; i++)
        out->words[i] = (uint32_t)bytes[4 * i] | (uint32_t)bytes[4 * i + 1] << 8 |
                        (uint32_t)bytes[4 * i + 2] << 16 | (uint32_t)bytes[4 * i + 3] << 24;
    return QMAC_OK;
}

qmac_status qmac_prog_write_bytes(const char *path, const void *data, size_t len)
{
    return qmac_write_file(path, data, len);
}

qmac_status qmac_prog_write(const qmac_prog *p, const char *path)
{
    if (p->n_insn == 0)
        return qmac_set_error(QMAC_ERR_INVALID_ARG, "%s: refusing to write an empty program", path);
    unsigned char *b;
    size_t n;
    qmac_status st = qmac_prog_to_bytes(p, &b, &n);
    if (st != QMAC_OK)
        return st;
    st = qmac_prog_write_bytes(path, b, n);
    free(b);
    return st;
}

qmac_status qmac_prog_read(const char *path, qmac_prog *out)
{
    qmac_prog_init(out);
    char *buf;
    size_t len;
    qmac_status st = qmac_read_file(path, QMAC_PROG_MAX_BYTES, &buf, &len);
    if (st != QMAC_OK)
        return st;
    st = qmac_prog_from_bytes((const unsigned char *)buf, len, path, out);
    free(buf);
    return st;
}
