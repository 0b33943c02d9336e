/* asm.h - qmac assembler and disassembler: text <-> 256-bit instructions (docs/cli.md).
 *
 * Every opcode, field name, width, signedness and enum comes from the generated tables
 * (qmac_isa_formats, isa_gen.h), so a change to hw/spec/qmac_isa.json needs no change here.
 *
 * Syntax, one instruction per line ('#' starts a comment, blank lines are ignored):
 *     [N:] OPNAME [field=value ...]
 *     [N:] .word W0 W1 W2 W3 W4 W5 W6 W7
 *   - OPNAME: an opcode of the ISA, any case. Field names are lowercase, as in the JSON; each at
 *     most once; omitted fields are 0.
 *   - value: decimal (leading zeros are still decimal), 0x hex, either with a leading '-'. A
 *     field of width w accepts [-2^(w-1), 2^w - 1], negative values as w-bit two's complement; a
 *     signed field accepts [-2^(w-1), 2^(w-1) - 1]. An enum field takes a name of its enum (any
 *     case) or the number of one.
 *   - N: the 0-based position of the instruction in the text; optional, checked when present
 *     (the disassembler's listing prints it, so a listing re-assembles).
 *   - .word: the instruction's 8 words (word 0 holds bits [31:0]) emitted unchanged, legal or
 *     not, each in [-2^31, 2^32 - 1]; how fault tests are written.
 *
 * Disassembly prints OPNAME and then, in table order, every enum field (by name) and every other
 * field whose value is not 0: 32-bit fields in hex, signed fields in signed decimal, the rest in
 * unsigned decimal. Words that qmac_insn_decode() rejects print as
 *     .word 0x........ (8 words)  # illegal: <fault> <field>
 * with the decoder's fault (OPCODE, FIELD) and field name ("op", "reserved", an enum field).
 * Round trip: assembling a disassembly gives back the same words, legal or not. */
#ifndef QMAC_ASM_H
#define QMAC_ASM_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "qmac/isa_gen.h"
#include "qmac/prog.h"
#include "qmac/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A buffer of this size holds any disassembled instruction of the current ISA. */
#define QMAC_DISASM_LINE_MAX 1024u
/* Largest source qmac_asm_file accepts. */
#define QMAC_ASM_MAX_BYTES ((size_t)1 << 30)

/* Assemble NUL-terminated `text` into *out (initialized here; on error left empty).
 * source_name prefixes messages: "<source_name>:<line>: <what>: '<culprit>'". Errors:
 * QMAC_ERR_FORMAT (unknown opcode, unknown field for the opcode, duplicate field, missing '=',
 * bad number, value out of range, unknown enum name, index mismatch, wrong .word count, a text
 * without instructions), QMAC_ERR_NOMEM. */
qmac_status qmac_asm_text(const char *text, const char *source_name, qmac_prog *out);
/* Read and assemble the file at path (messages name the path). Errors: those of
 * qmac_asm_text, QMAC_ERR_IO (missing or unreadable), QMAC_ERR_FORMAT (a NUL byte),
 * QMAC_ERR_UNSUPPORTED (larger than QMAC_ASM_MAX_BYTES). */
qmac_status qmac_asm_file(const char *path, qmac_prog *out);

/* One instruction as one line of text (no index, no newline) into buf[len].
 * Errors: QMAC_ERR_INVALID_ARG (buf too small; QMAC_DISASM_LINE_MAX always suffices). */
qmac_status qmac_disasm_insn(const uint32_t w[QMAC_INSN_WORDS], char *buf, size_t len);
/* A listing of p to f: one line per instruction, "%6zu: " (the index) then the instruction.
 * Errors: QMAC_ERR_IO (a write to f failed), QMAC_ERR_INVALID_ARG as qmac_disasm_insn. */
qmac_status qmac_disasm_prog(const qmac_prog *p, FILE *f);
/* The listing written to path through a temporary file and a rename (nothing half-written is
 * left on error). Errors: those of qmac_disasm_prog, QMAC_ERR_IO, QMAC_ERR_NOMEM. */
qmac_status qmac_disasm_prog_write(const qmac_prog *p, const char *path);

#ifdef __cplusplus
}
#endif
#endif /* QMAC_ASM_H */
