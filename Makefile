# qmac - one non-recursive Makefile. `make help` lists the targets.
# Tool variables are overridable: make CC=clang VERILATOR=/opt/verilator/bin/verilator
SHELL := /bin/bash
CC        ?= gcc
AR        ?= ar
PROTOC_C  ?= protoc-c
VERILATOR ?= verilator
YOSYS     ?= yosys
PYTHON    ?= .venv/bin/python

SAN   ?= 0
BUILD ?= $(if $(filter 1,$(SAN)),build/san,build)

WARN     := -Wall -Wextra -Werror -Wshadow -Wconversion -Wstrict-prototypes \
            -Wmissing-prototypes -Wpointer-arith -Wvla -Wundef -Wformat=2
CSTD     := -std=c11 -D_POSIX_C_SOURCE=200809L
OPT      := -O2 -g
comma    := ,
SANFLAGS := $(if $(filter 1,$(SAN)),-fsanitize=address$(comma)undefined -fno-omit-frame-pointer -fno-sanitize-recover=all)
CFLAGS   ?=
CPPFLAGS := -Isw/include -I$(BUILD)/gen
ALLCFLAGS = $(CSTD) $(OPT) $(WARN) $(SANFLAGS) $(CFLAGS) $(CPPFLAGS)
# protoc-c's generated code is not ours: compile it without -Wconversion & co.
GENCFLAGS = $(CSTD) $(OPT) -Wall -Werror $(SANFLAGS) $(CFLAGS) $(CPPFLAGS)
LDLIBS   := -lprotobuf-c -lcjson -lm
LDFLAGS  ?=

LIB_SRC  := $(sort $(wildcard sw/src/*.c))
CLI_SRC  := $(sort $(wildcard sw/cli/*.c))
TEST_SRC := $(sort $(wildcard tests/unit/test_*.c))
PROTO    := sw/proto/onnx_subset.proto
GEN_C    := $(BUILD)/gen/onnx_subset.pb-c.c
GEN_H    := $(BUILD)/gen/onnx_subset.pb-c.h

LIB_OBJ  := $(patsubst sw/src/%.c,$(BUILD)/obj/lib/%.o,$(LIB_SRC)) $(BUILD)/obj/gen/onnx_subset.pb-c.o
CLI_OBJ  := $(patsubst sw/cli/%.c,$(BUILD)/obj/cli/%.o,$(CLI_SRC))
TEST_BIN := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(TEST_SRC))

QMAC := $(BUILD)/qmac
LIBQMAC := $(BUILD)/libqmac.a

.PHONY: all help setup test test-unit test-long demo lint sim synth bench clean format

all: setup $(QMAC) $(LIBQMAC)

help:
	@echo "qmac make targets"
	@echo "  make            build $(QMAC) and $(LIBQMAC) (installs missing tools first)"
	@echo "  make demo       run the bundled example CNN with the reference backend"
	@echo "  make test       all tests: unit, CLI/bad-input, ONNX node tests, ORT conformance,"
	@echo "                  TFLite vectors, bundled example  (SAN=1: ASan+UBSan build)"
	@echo "  make test-long  test with a 10x larger randomized conformance sweep"
	@echo "  make test-unit  cmocka unit tests only"
	@echo "  make lint       verilator --lint-only on hw/rtl (when there is RTL) + clang-format check"
	@echo "  make sim        Verilator co-simulation (arrives with the RTL, issue 3)"
	@echo "  make synth      Yosys synthesis (arrives with the RTL, issue 3)"
	@echo "  make bench      benchmarks"
	@echo "  make setup      install missing Debian packages and the .venv (scripts/setup.sh)"
	@echo "  make clean      remove build/"
	@echo "Variables: SAN=1, BUILD=dir, CC, VERILATOR, YOSYS, PYTHON, CONFORMANCE_N, SEED"

# Installs only what is missing; cheap when everything is there.
setup:
	@scripts/setup.sh --check || scripts/setup.sh

$(GEN_C) $(GEN_H): $(PROTO) | setup
	@mkdir -p $(BUILD)/gen
	$(PROTOC_C) --proto_path=sw/proto --c_out=$(BUILD)/gen $(PROTO)

$(BUILD)/obj/gen/%.o: $(BUILD)/gen/%.c
	@mkdir -p $(dir $@)
	$(CC) $(GENCFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/obj/lib/%.o: sw/src/%.c $(GEN_H) | setup
	@mkdir -p $(dir $@)
	$(CC) $(ALLCFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/obj/cli/%.o: sw/cli/%.c $(GEN_H) | setup
	@mkdir -p $(dir $@)
	$(CC) $(ALLCFLAGS) -MMD -MP -c $< -o $@

$(LIBQMAC): $(LIB_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^

$(QMAC): $(CLI_OBJ) $(LIBQMAC)
	$(CC) $(SANFLAGS) $(LDFLAGS) -o $@ $(CLI_OBJ) $(LIBQMAC) $(LDLIBS)

$(BUILD)/tests/%: tests/unit/%.c $(LIBQMAC)
	@mkdir -p $(dir $@)
	$(CC) $(ALLCFLAGS) -Wno-missing-prototypes -MMD -MP $< -o $@ $(LIBQMAC) -lcmocka $(LDLIBS) $(SANFLAGS)

test-unit: all $(TEST_BIN)
	@BUILD=$(BUILD) tests/run_all.sh unit

test: all $(TEST_BIN)
	@BUILD=$(BUILD) PYTHON=$(PYTHON) tests/run_all.sh all

test-long: all $(TEST_BIN)
	@BUILD=$(BUILD) PYTHON=$(PYTHON) CONFORMANCE_SCALE=10 tests/run_all.sh all

demo: all
	@$(PYTHON) scripts/demo.py --qmac $(QMAC)

lint: setup
	@if ls hw/rtl/*.sv >/dev/null 2>&1; then $(VERILATOR) --lint-only -Wall hw/rtl/*.sv; \
	 else echo "lint: no RTL yet (hw/rtl arrives with issue 3)"; fi
	@clang-format --dry-run --Werror sw/src/*.c sw/cli/*.c sw/include/qmac/*.h && echo "lint: C formatting ok"

sim synth:
	@echo "$@: no RTL in this tree yet (the MAC array arrives with issue 3)"; exit 1

bench: all
	@$(PYTHON) scripts/bench.py --qmac $(QMAC)

format:
	clang-format -i sw/src/*.c sw/cli/*.c sw/include/qmac/*.h tests/unit/*.c

clean:
	rm -rf build

-include $(shell find $(BUILD)/obj $(BUILD)/tests -name '*.d' 2>/dev/null)
