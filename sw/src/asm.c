/* asm.c - qmac assembler and disassembler (syntax in asm.h and docs/cli.md). Opcodes, fields,
 * widths, signedness and enums all come from qmac_isa_formats; encoding and decoding are the
 * generated qmac_insn_encode / qmac_insn_decode (through qmac_prog_push), so no bit position of
 * the ISA is written down here. */
#include "qmac/asm.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "qmac/fileio.h"

/* ---------------------------------------------------------------------------------------------
 * tokens: (pointer, length) slices of the source, never NUL-terminated */

typedef struct {
    const char *p;
    size_t n;
} tok;

/* where errors point: "<source>:<line>:" */
typedef struct {
    const char *source;
    size_t line;
} asm_ctx;

/* A culprit token for a message: at most 48 characters, then "..." */
typedef struct {
    char s[52];
} quoted;

static quoted quote(tok t)
{
    quoted q;
    const size_t n = t.n < 48 ? t.n : 48;
    memcpy(q.s, t.p, n);
    strcpy(q.s + n, t.n > n ? "..." : "");
    return q;
}

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static qmac_status
asm_error(const asm_ctx *c, const char *fmt, ...)
{
    char what[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return qmac_set_error(QMAC_ERR_FORMAT, "%s:%zu: %s", c->source, c->line, what);
}

static int is_space(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\v' || ch == '\f';
}

static char lower(char ch)
{
    return ch >= 'A' && ch <= 'Z' ? (char)(ch - 'A' + 'a') : ch;
}

/* t equals name, ignoring ASCII case when nocase */
static int tok_eq(tok t, const char *name, int nocase)
{
    size_t i = 0;
    for (; i < t.n && name[i]; i++)
        if (nocase ? lower(t.p[i]) != lower(name[i]) : t.p[i] != name[i])
            return 0;
    return i == t.n && name[i] == '\0';
}

/* Parse an integer: optional '-', then decimal digits or 0x/0X and hex digits. Magnitudes above
 * 2^40 saturate there (every field is at most 32 bits wide, so they fail the range check).
 * Returns 0, or -1 on bad syntax. */
static int parse_int(tok t, int64_t *v)
{
    size_t i = 0;
    const int neg = t.n > 0 && t.p[0] == '-';
    i += (size_t)neg;
    unsigned base = 10;
    if (t.n - i > 2 && t.p[i] == '0' && (t.p[i + 1] == 'x' || t.p[i + 1] == 'X')) {
        base = 16;
        i += 2;
    }
    if (i == t.n)
        return -1;
    const uint64_t cap = (uint64_t)1 << 40;
    uint64_t m = 0;
    for (; i < t.n; i++) {
        const char ch = t.p[i];
        unsigned d;
        if (ch >= '0' && ch <= '9')
            d = (unsigned)(ch - '0');
        else if (base == 16 && lower(ch) >= 'a' && lower(ch) <= 'f')
            d = (unsigned)(lower(ch) - 'a' + 10);
        else
            return -1;
        m = m * base + d;
        if (m > cap)
            m = cap;
    }
    *v = neg ? -(int64_t)m : (int64_t)m;
    return 0;
}

/* ---------------------------------------------------------------------------------------------
 * assembler */

/* Names of an enum, comma-separated, for messages. */
static void enum_list(const qmac_isa_enum *e, char *buf, size_t len)
{
    size_t pos = 0;
    buf[0] = '\0';
    for (uint32_t i = 0; i < e->count && pos < len; i++) {
        const int k = snprintf(buf + pos, len - pos, "%s%s", i ? ", " : "", e->names[i]);
        if (k < 0)
            break;
        pos += (size_t)k;
    }
}

static void field_list(const qmac_isa_format *fmt, char *buf, size_t len)
{
    size_t pos = 0;
    buf[0] = '\0';
    if (fmt->n_fields == 0)
        snprintf(buf, len, "none");
    for (uint32_t i = 0; i < fmt->n_fields && pos < len; i++) {
        const int k = snprintf(buf + pos, len - pos, "%s%s", i ? ", " : "", fmt->fields[i].name);
        if (k < 0)
            break;
        pos += (size_t)k;
    }
}

/* The value of `field=value` for field f, checked against its width, signedness and enum. */
static qmac_status field_value(const asm_ctx *c, const qmac_isa_format *fmt, const qmac_isa_field *f, tok val,
                               int64_t *out)
{
    int64_t v = 0;
    const char first = val.n ? val.p[0] : '\0';
    const int numeric = (first >= '0' && first <= '9') || first == '-';
    if (f->enumeration) {
        const qmac_isa_enum *e = f->enumeration;
        char names[200];
        enum_list(e, names, sizeof names);
        if (!numeric) {
            for (uint32_t i = 0; i < e->count; i++)
                if (tok_eq(val, e->names[i], 1)) {
                    *out = e->values[i];
                    return QMAC_OK;
                }
            return asm_error(c, "unknown %s name '%s' for %s %s (valid: %s)", e->name, quote(val).s,
                             fmt->name, f->name, names);
        }
        if (parse_int(val, &v) != 0)
            return asm_error(c, "bad number '%s' for %s %s", quote(val).s, fmt->name, f->name);
        for (uint32_t i = 0; i < e->count; i++)
            if ((int64_t)e->values[i] == v) {
                *out = v;
                return QMAC_OK;
            }
        return asm_error(c, "value '%s' out of range for %s %s: not a %s value (valid: %s)", quote(val).s,
                         fmt->name, f->name, e->name, names);
    }
    if (parse_int(val, &v) != 0)
        return asm_error(c, "bad number '%s' for %s %s", quote(val).s, fmt->name, f->name);
    const int64_t span = (int64_t)1 << f->width;
    const int64_t lo = -span / 2, hi = f->is_signed ? span / 2 - 1 : span - 1;
    if (v < lo || v > hi) {
        if (f->is_signed)
            return asm_error(c, "value '%s' out of range for %s %s (signed %u bits: %lld..%lld)",
                             quote(val).s, fmt->name, f->name, (unsigned)f->width, (long long)lo,
                             (long long)hi);
        return asm_error(
            c, "value '%s' out of range for %s %s (%u bits: 0..%lld, or %lld..-1 as two's complement)",
            quote(val).s, fmt->name, f->name, (unsigned)f->width, (long long)hi, (long long)lo);
    }
    /* unsigned fields take negative values as two's complement of their width */
    *out = !f->is_signed && v < 0 ? v + span : v;
    return QMAC_OK;
}

#define MAX_TOKENS 300 /* more than any format's fields + opcode + index */

/* Split [p, end) at whitespace into toks; stops at '#'. Returns the count, or MAX_TOKENS + 1. */
static size_t tokenize(const char *p, const char *end, tok *toks)
{
    size_t n = 0;
    while (p < end) {
        while (p < end && is_space(*p))
            p++;
        if (p == end || *p == '#')
            break;
        const char *s = p;
        while (p < end && !is_space(*p) && *p != '#')
            p++;
        if (n == MAX_TOKENS)
            return MAX_TOKENS + 1;
        toks[n].p = s;
        toks[n].n = (size_t)(p - s);
        n++;
    }
    return n;
}

static qmac_status asm_words(const asm_ctx *c, const tok *args, size_t n, qmac_prog *out)
{
    if (n != QMAC_INSN_WORDS)
        return asm_error(c, "'.word' needs exactly %u words, got %zu", QMAC_INSN_WORDS, n);
    uint32_t w[QMAC_INSN_WORDS];
    for (size_t i = 0; i < n; i++) {
        int64_t v = 0;
        if (parse_int(args[i], &v) != 0)
            return asm_error(c, "bad number '%s' (.word %zu)", quote(args[i]).s, i);
        if (v < -((int64_t)1 << 31) || v > (int64_t)UINT32_MAX)
            return asm_error(c,
                             "value '%s' out of range for .word %zu (32 bits: 0..4294967295, or "
                             "-2147483648..-1 as two's complement)",
                             quote(args[i]).s, i);
        w[i] = (uint32_t)(v < 0 ? v + ((int64_t)1 << 32) : v);
    }
    return qmac_prog_push_words(out, w);
}

static qmac_status asm_insn(const asm_ctx *c, tok op, const tok *args, size_t n, qmac_prog *out)
{
    if (tok_eq(op, ".word", 1))
        return asm_words(c, args, n, out);
    const qmac_isa_format *fmt = NULL;
    for (unsigned i = 0; i < QMAC_OP_COUNT; i++)
        if (tok_eq(op, qmac_isa_formats[i].name, 1))
            fmt = &qmac_isa_formats[i];
    if (!fmt)
        return asm_error(c, "unknown opcode '%s'", quote(op).s);
    qmac_insn insn;
    memset(&insn, 0, sizeof insn);
    insn.op = fmt->op;
    unsigned char seen[QMAC_INSN_BITS]; /* a field is at least one bit wide */
    memset(seen, 0, sizeof seen);
    if (fmt->n_fields > QMAC_INSN_BITS)
        return qmac_set_error(QMAC_ERR_INTERNAL, "%s: %u fields in the table", fmt->name, fmt->n_fields);
    for (size_t a = 0; a < n; a++) {
        const char *eq = memchr(args[a].p, '=', args[a].n);
        if (!eq)
            return asm_error(c, "missing '=' in '%s' (fields are written field=value)", quote(args[a]).s);
        const tok name = {args[a].p, (size_t)(eq - args[a].p)};
        const tok val = {eq + 1, args[a].n - name.n - 1};
        uint32_t k = 0;
        while (k < fmt->n_fields && !tok_eq(name, fmt->fields[k].name, 0))
            k++;
        if (k == fmt->n_fields) {
            char names[300];
            field_list(fmt, names, sizeof names);
            return asm_error(c, "unknown field '%s' for %s (fields: %s)", quote(name).s, fmt->name, names);
        }
        if (seen[k])
            return asm_error(c, "duplicate field '%s' in %s", fmt->fields[k].name, fmt->name);
        seen[k] = 1;
        int64_t v = 0;
        const qmac_status st = field_value(c, fmt, &fmt->fields[k], val, &v);
        if (st != QMAC_OK)
            return st;
        qmac_prog_field_set(&insn, &fmt->fields[k], v);
    }
    return qmac_prog_push(out, &insn);
}

/* One line [p, end): nothing, or [N:] instruction. */
static qmac_status asm_line(const asm_ctx *c, const char *p, const char *end, qmac_prog *out)
{
    tok toks[MAX_TOKENS];
    size_t n = tokenize(p, end, toks);
    if (n > MAX_TOKENS)
        return asm_error(c, "more than %d words on the line", MAX_TOKENS);
    if (n == 0)
        return QMAC_OK;
    tok *t = toks;
    /* optional index "N:" (the rest of the token, if any, is the opcode: "3:GEMM") */
    if (t[0].p[0] >= '0' && t[0].p[0] <= '9' && memchr(t[0].p, ':', t[0].n)) {
        const char *colon = memchr(t[0].p, ':', t[0].n);
        const tok idx = {t[0].p, (size_t)(colon - t[0].p)};
        for (size_t i = 0; i < idx.n; i++)
            if (idx.p[i] < '0' || idx.p[i] > '9')
                return asm_error(c, "bad index '%s' (a decimal instruction number)", quote(t[0]).s);
        int64_t v = 0;
        (void)parse_int(idx, &v); /* digits only: cannot fail */
        if ((uint64_t)v != (uint64_t)out->n_insn)
            return asm_error(c, "index mismatch: '%s' but this is instruction %zu", quote(t[0]).s,
                             out->n_insn);
        const size_t rest = t[0].n - idx.n - 1;
        if (rest) {
            t[0].p = colon + 1;
            t[0].n = rest;
        } else {
            t++;
            n--;
        }
        if (n == 0)
            return asm_error(c, "index '%s' without an instruction", quote(idx).s);
    }
    return asm_insn(c, t[0], t + 1, n - 1, out);
}

qmac_status qmac_asm_text(const char *text, const char *source_name, qmac_prog *out)
{
    qmac_prog_init(out);
    asm_ctx c = {source_name, 0};
    const char *p = text;
    while (*p) {
        const char *nl = strchr(p, '\n');
        const char *end = nl ? nl : p + strlen(p);
        c.line++;
        const qmac_status st = asm_line(&c, p, end, out);
        if (st != QMAC_OK) {
            qmac_prog_free(out);
            return st;
        }
        p = nl ? nl + 1 : end;
    }
    if (out->n_insn == 0)
        return qmac_set_error(QMAC_ERR_FORMAT, "%s: no instructions", source_name);
    return QMAC_OK;
}

qmac_status qmac_asm_file(const char *path, qmac_prog *out)
{
    qmac_prog_init(out);
    char *buf;
    size_t len;
    qmac_status st = qmac_read_file(path, QMAC_ASM_MAX_BYTES, &buf, &len);
    if (st != QMAC_OK)
        return st;
    const size_t n = strlen(buf);
    if (n != len) {
        size_t line = 1;
        for (size_t i = 0; i < n; i++)
            line += buf[i] == '\n';
        st = qmac_set_error(QMAC_ERR_FORMAT, "%s:%zu: NUL byte (not a text file?)", path, line);
    } else {
        st = qmac_asm_text(buf, path, out);
    }
    free(buf);
    return st;
}

/* ---------------------------------------------------------------------------------------------
 * disassembler */

typedef struct {
    char *buf;
    size_t len, pos;
    int overflow;
} line_buf;

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void
put(line_buf *b, const char *fmt, ...)
{
    if (b->overflow)
        return;
    va_list ap;
    va_start(ap, fmt);
    const int k = vsnprintf(b->buf + b->pos, b->len - b->pos, fmt, ap);
    va_end(ap);
    if (k < 0 || (size_t)k >= b->len - b->pos)
        b->overflow = 1;
    else
        b->pos += (size_t)k;
}

static const char *enum_name(const qmac_isa_enum *e, int64_t v)
{
    for (uint32_t i = 0; i < e->count; i++)
        if ((int64_t)e->values[i] == v)
            return e->names[i];
    return NULL;
}

qmac_status qmac_disasm_insn(const uint32_t w[QMAC_INSN_WORDS], char *buf, size_t len)
{
    if (!buf || len == 0)
        return qmac_set_error(QMAC_ERR_INVALID_ARG, "disassembly needs a buffer");
    line_buf b = {buf, len, 0, 0};
    buf[0] = '\0';
    qmac_insn insn;
    const char *bad = NULL;
    const qmac_fault fault = qmac_insn_decode(w, &insn, &bad);
    if (fault != QMAC_FAULT_NONE) {
        put(&b, ".word");
        for (unsigned i = 0; i < QMAC_INSN_WORDS; i++)
            put(&b, " 0x%08x", (unsigned)w[i]);
        const char *fname = enum_name(&qmac_isa_enum_fault, (int64_t)fault);
        put(&b, "  # illegal: %s %s", fname ? fname : "?", bad ? bad : "?");
    } else {
        const qmac_isa_format *fmt = &qmac_isa_formats[insn.op];
        put(&b, "%s", fmt->name);
        for (uint32_t i = 0; i < fmt->n_fields; i++) {
            const qmac_isa_field *f = &fmt->fields[i];
            const int64_t v = qmac_prog_field_get(&insn, f);
            if (f->enumeration) {
                const char *name = enum_name(f->enumeration, v);
                if (name)
                    put(&b, " %s=%s", f->name, name);
                else /* decode accepted it, so only a table bug gets here */
                    put(&b, " %s=%lld", f->name, (long long)v);
            } else if (v == 0) {
                continue;
            } else if (f->is_signed) {
                put(&b, " %s=%lld", f->name, (long long)v);
            } else if (f->width == 32) {
                put(&b, " %s=0x%llx", f->name, (unsigned long long)v);
            } else {
                put(&b, " %s=%llu", f->name, (unsigned long long)v);
            }
        }
    }
    if (b.overflow)
        return qmac_set_error(QMAC_ERR_INVALID_ARG, "disassembly longer than the %zu-byte buffer", len);
    return QMAC_OK;
}

qmac_status qmac_disasm_prog(const qmac_prog *p, FILE *f)
{
    char line[QMAC_DISASM_LINE_MAX];
    for (size_t i = 0; i < p->n_insn; i++) {
        const qmac_status st = qmac_disasm_insn(qmac_prog_insn(p, i), line, sizeof line);
        if (st != QMAC_OK)
            return st;
        if (fprintf(f, "%6zu: %s\n", i, line) < 0)
            return qmac_set_error(QMAC_ERR_IO, "writing the disassembly of instruction %zu failed", i);
    }
    if (fflush(f) != 0 || ferror(f))
        return qmac_set_error(QMAC_ERR_IO, "writing the disassembly failed");
    return QMAC_OK;
}

qmac_status qmac_disasm_prog_write(const qmac_prog *p, const char *path)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f)
        return qmac_set_error(QMAC_ERR_NOMEM, "%s: cannot open a memory stream", path);
    qmac_status st = qmac_disasm_prog(p, f);
    if (fclose(f) != 0 && st == QMAC_OK)
        st = qmac_set_error(QMAC_ERR_NOMEM, "%s: memory stream failed", path);
    if (st == QMAC_OK)
        st = qmac_prog_write_bytes(path, text, len);
    free(text);
    return st;
}
