/* prog.h - a growable qmac program (a sequence of 256-bit instructions) and its .qbin file.
 *
 * Instruction layout (hw/spec/qmac_isa.json): 8 32-bit words, bit b of the instruction is bit
 * b % 32 of word b / 32. A .qbin file is the raw instruction stream, QMAC_INSN_BYTES (32) bytes
 * per instruction, each word little endian whatever the host: instruction i, word j, byte k is
 * file byte 32 i + 4 j + k = bits [8k + 7 : 8k] of the word. No header: the accelerator fetches
 * the same bytes from PROG_ADDR. */
#ifndef QMAC_PROG_H
#define QMAC_PROG_H

#include <stddef.h>
#include <stdint.h>

#include "qmac/isa_gen.h"
#include "qmac/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Largest .qbin qmac_prog_read accepts (32 Mi instructions). */
#define QMAC_PROG_MAX_BYTES ((size_t)1 << 30)

/* words[8 i .. 8 i + 7] are instruction i, in host order; n_insn instructions, room for cap.
 * Owns words (malloc'ed): release with qmac_prog_free. A zeroed struct is an empty program. */
typedef struct {
    uint32_t *words;
    size_t n_insn, cap;
} qmac_prog;

void qmac_prog_init(qmac_prog *p);
/* Frees the words and leaves an empty program (init state); p may be NULL. */
void qmac_prog_free(qmac_prog *p);

/* Append an instruction given as decoded fields. Every field is checked against the generated
 * tables first: the value must fit the field's width (signed fields: in [-2^(w-1), 2^(w-1) - 1])
 * and an enum field must hold one of its enum's values, so the words appended always decode.
 * Errors: QMAC_ERR_INVALID_ARG (unknown opcode, a field out of range: the detail names opcode,
 * field and value), QMAC_ERR_NOMEM. */
qmac_status qmac_prog_push(qmac_prog *p, const qmac_insn *insn);
/* Append 8 words unchanged (also illegal ones, for fault tests). Errors: QMAC_ERR_NOMEM. */
qmac_status qmac_prog_push_words(qmac_prog *p, const uint32_t w[QMAC_INSN_WORDS]);
/* The 8 words of instruction i (i < p->n_insn). */
const uint32_t *qmac_prog_insn(const qmac_prog *p, size_t i);

/* Field access through the generated tables (f points into qmac_isa_formats[insn->op].fields):
 * the decoded struct holds a uint32_t, or an int32_t for a signed field, at f->offset. */
int64_t qmac_prog_field_get(const qmac_insn *insn, const qmac_isa_field *f);
/* Stores v (already in the field's range) as the struct's uint32_t / int32_t. */
void qmac_prog_field_set(qmac_insn *insn, const qmac_isa_field *f, int64_t v);
/* Values the decoded struct may hold in field f: [0, 2^w - 1], signed [-2^(w-1), 2^(w-1) - 1]. */
void qmac_prog_field_range(const qmac_isa_field *f, int64_t *lo, int64_t *hi);

/* The .qbin image: 32 n_insn bytes into a malloc'ed *bytes (caller frees), little endian. */
qmac_status qmac_prog_to_bytes(const qmac_prog *p, unsigned char **bytes, size_t *len);
/* Parse a .qbin image into *out (initialized here; on error left empty). `name` (the file) is
 * used in messages. Errors: QMAC_ERR_FORMAT (len 0 or not a multiple of 32: the detail names
 * `name` and len), QMAC_ERR_NOMEM. */
qmac_status qmac_prog_from_bytes(const unsigned char *bytes, size_t len, const char *name, qmac_prog *out);

/* Write the .qbin of p to path: to a temporary file in the same directory, then renamed over
 * path, so path is either untouched or complete. Errors: QMAC_ERR_INVALID_ARG (empty program:
 * an empty file is not a valid .qbin), QMAC_ERR_IO (naming the path and the failing step),
 * QMAC_ERR_NOMEM. */
qmac_status qmac_prog_write(const qmac_prog *p, const char *path);
/* Read a .qbin into *out (initialized here; on error left empty). Errors: QMAC_ERR_IO (missing or
 * unreadable), QMAC_ERR_FORMAT (size not a positive multiple of 32: the detail names the file and
 * its size), QMAC_ERR_UNSUPPORTED (larger than QMAC_PROG_MAX_BYTES), QMAC_ERR_NOMEM. */
qmac_status qmac_prog_read(const char *path, qmac_prog *out);

/* Write len bytes to path the same way (temporary file + rename; nothing half-written is left
 * on error). Used for .qbin files and disassembly listings. Errors: QMAC_ERR_IO. */
qmac_status qmac_prog_write_bytes(const char *path, const void *data, size_t len);

#ifdef __cplusplus
}
#endif
#endif /* QMAC_PROG_H */
