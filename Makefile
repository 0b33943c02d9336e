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
# RTL in read order (Yosys 0.23 needs the package first)
HW_RTL = hw/rtl/qmac_pkg.sv $(filter-out hw/rtl/qmac_pkg.sv,$(sort $(wildcard hw/rtl/*.sv)))

# ---------------------------------------------------------------------------------------------
# Verilator harness (sim/, see sim/README.md): one binary per build, all C apart from the thin C++
# shim sim/qsim_shim.cpp. A build is named <kind>-<variant>; $(SIM_DIR)/<build>/ holds the verilated
# model (vl/, class Vtop), its library, the shim and the binary sim_<kind>. Each kind names its top
# module, its -G parameters and shim defines (from the variant), its port table sim/ports_<top>.h
# and its C objects (sim_<kind>_*). Kinds:
#   array-<R>x<C>[-fault|-notrace]  the MAC array; -fault adds +define+QMAC_FAULT_INJECT (one PE
#                                   miswired) that the suite must catch; -notrace (bench) has no FST
#   requant-<lanes>                 the post-processing unit against the C lane model
#   decode-<N>                      the instruction decoder against qmac_insn_check() (N 4: small)
#   accel-<N>[-fault]               the accelerator (qmac_top) on the AXI memory model against the
#                                   golden model, lock-step per retirement (N 4: small build);
#                                   -fault: its array miswired as above, for the self-check
# Re-verilates only when hw/rtl or the verilator command line changes.
CXX         ?= g++
SIM_SHAPES  ?= 4x4 8x16 16x16
SIM_DIR     := $(BUILD)/sim
SIM_BUILDS  := $(addprefix array-,$(SIM_SHAPES)) array-4x4-fault requant-16 requant-4 \
               decode-16 decode-4 accel-16 accel-4 accel-4-fault
sim_kind     = $(firstword $(subst -, ,$1))
sim_bin      = $(SIM_DIR)/$1/sim_$(call sim_kind,$1)
SIM_BINS    := $(foreach b,$(SIM_BUILDS),$(call sim_bin,$b))
SIM_COMMON  := simctl
# looked up once, on first use
VL_ROOT      = $(eval VL_ROOT := $(shell $(VERILATOR) --getenv VERILATOR_ROOT))$(VL_ROOT)
# -O3/--x-*: fastest model. -fno-dfg: Verilator 5.006's DFG pass turned wide vectors driven slice
# by slice (the array's first flat psum grid) into chains of wide concatenations, 3.4x slower; on
# today's per-PE signals it is neutral to 2% slower, and stays off as a guard. Generated C++: hot code at VL_OPT_FAST, code
# that runs once (constructors, trace declarations) at VL_OPT_SLOW: -O1 and up take 10x longer on
# the 16x16's trace-declaration file for no speed.
VL_FLAGS    := --cc -O3 --x-assign fast --x-initial fast --timescale 1ns/1ns -fno-dfg --prefix Vtop
VL_OPT_FAST ?= -O2
VL_OPT_SLOW ?= -O0
VL_CXXFLAGS  = -I$(VL_ROOT)/include -I$(VL_ROOT)/include/vltstd -DVM_COVERAGE=0 -DVM_SC=0 \
               -DVM_TRACE_VCD=0 -faligned-new -fcf-protection=none -Wno-bool-operation \
               -Wno-sign-compare -Wno-uninitialized -Wno-unused-but-set-variable -Wno-unused-parameter \
               -Wno-unused-variable -Wno-shadow
VL_RT_OBJ   := $(addprefix $(SIM_DIR)/vlrt/,verilated.o verilated_fst_c.o verilated_threads.o)
# word $2 of a build name split at '-' and 'x': array-16x8-fault -> 1 array, 2 16, 3 8, 4 fault
sim_word     = $(word $2,$(subst x, ,$(subst -, ,$1)))
sim_trace    = $(if $(findstring -notrace,$1),0,1)
sim_vmtrace  = -DVM_TRACE=$(call sim_trace,$1) -DVM_TRACE_FST=$(call sim_trace,$1)
# kind array
sim_array_top    = qmac_array
sim_array_params = -GRows=$(call sim_word,$1,2) -GCols=$(call sim_word,$1,3) \
                   $(if $(findstring -fault,$1),+define+QMAC_FAULT_INJECT)
sim_array_shim   = -DQSIM_ROWS=$(call sim_word,$1,2) -DQSIM_COLS=$(call sim_word,$1,3)
sim_array_objs   = array_main array_stim
# kind requant
sim_requant_top    = qmac_requant
sim_requant_params = -GLanes=$(call sim_word,$1,2)
sim_requant_shim   = -DQSIM_LANES=$(call sim_word,$1,2)
sim_requant_objs   = requant_main
# kinds decode (the instruction decoder alone) and accel (qmac_top with the AXI memory model and
# the golden model): <kind>-<N>; N = 4 is the small build (256 rows per buffer), else default depths
sim_cfg_params     = -GArrayDim=$(call sim_word,$1,2) $(if $(filter 4,$(call sim_word,$1,2)),\
                     -GInpRows=256 -GWgtRows=256 -GAccRows=256 -GOutRows=256)
sim_decode_top     = qmac_decode
sim_decode_params  = $(call sim_cfg_params,$1)
sim_decode_shim    = -DQSIM_DIM=$(call sim_word,$1,2)
sim_decode_objs    = decode_main
sim_accel_top      = qmac_top
sim_accel_params   = $(call sim_cfg_params,$1) $(if $(findstring -fault,$1),+define+QMAC_FAULT_INJECT)
sim_accel_shim     = -DQSIM_DIM=$(call sim_word,$1,2)
sim_accel_objs     = accel_main accel_harness accel_progs
# per build, from its kind
sim_top      = $(sim_$(call sim_kind,$1)_top)
sim_vlcmd    = $(VERILATOR) $(VL_FLAGS) $(if $(filter 1,$(call sim_trace,$1)),--trace-fst) \
               --top-module $(call sim_top,$1) $(call sim_$(call sim_kind,$1)_params,$1) $(HW_RTL)
sim_objs     = $(addprefix $(SIM_DIR)/obj/,$(addsuffix .o,$(SIM_COMMON) $(sim_$(call sim_kind,$1)_objs)))

.PHONY: all help setup test test-unit test-long demo lint sim synth bench clean format

all: setup $(QMAC) $(LIBQMAC)

help:
	@echo "qmac make targets"
	@echo "  make            build $(QMAC) and $(LIBQMAC) (installs missing tools first)"
	@echo "  make demo       the bundled example CNN: compile, run on the RTL, compare with the golden"
	@echo "                  model, the reference and ONNX Runtime; predictions and utilization"
	@echo "  make test       all tests: unit, CLI/bad-input, ONNX node tests, ORT conformance (reference,"
	@echo "                  compiled on the golden model, sample on the RTL), TFLite vectors, bundled"
	@echo "                  example on every backend, qmac cosim, ResNet-18 and MobileNetV2 (quantize_static)"
	@echo "                  vs ONNX Runtime on ref/golden, MobileNetV2 on the RTL, qmac quantize vs"
	@echo "                  quantize_static (same ranges: same parameters and outputs) and its bad-input"
	@echo "                  cases, qmac eval of every calibration method, qmac quantize --qonnx/--binary vs"
	@echo "                  qonnx, QONNX binary networks (digits binary MLP, random MLPs) on ref/golden/rtl vs"
	@echo "                  qonnx, co-simulation: MAC array per shape +"
	@echo "                  fault-injection self-check, requant unit, decoder, whole accelerator in"
	@echo "                  lock-step with the golden and cycle models  (SAN=1: ASan+UBSan)"
	@echo "  make test-long  test with 10x more randomized conformance and co-simulation cases; ResNet-50,"
	@echo "                  int8 and QOperator networks, ResNet-18 on the RTL"
	@echo "  make test-unit  cmocka unit tests only"
	@echo "  make lint       generated ISA files fresh, verilator -Wall + yosys elaboration, clang-format"
	@echo "  make sim        build every Verilator harness (SIM_BUILDS) and run the co-simulation suites"
	@echo "                  only (sim/README.md)"
	@echo "  make synth      Yosys + nextpnr-ice40: array cells, LUT/FF/DSP, Fmax; the whole accelerator's"
	@echo "                  iCE40 cells per module (small build) -> hw/synth/REPORT.md"
	@echo "  make bench      benchmarks (reference backend, array and accelerator simulation, GEMM 256^3"
	@echo "                  MAC utilization, golden model, ResNet-18 / MobileNetV2 convolutions compiled"
	@echo "                  and run on the RTL), every figure also in $(BUILD)/bench.json"
	@echo "  make setup      install missing Debian packages and the .venv (scripts/setup.sh)"
	@echo "  make clean      remove build/"
	@echo "Variables: SAN=1, BUILD=dir, CC, CXX, VERILATOR, YOSYS, NEXTPNR, PYTHON, SIM_SHAPES, SEED"

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

test: all $(TEST_BIN) $(SIM_BINS)
	@BUILD=$(BUILD) PYTHON=$(PYTHON) SIM_SHAPES="$(SIM_SHAPES)" tests/run_all.sh all

test-long: all $(TEST_BIN) $(SIM_BINS)
	@BUILD=$(BUILD) PYTHON=$(PYTHON) SIM_SHAPES="$(SIM_SHAPES)" CONFORMANCE_SCALE=10 tests/run_all.sh all

demo: all $(SIM_DIR)/accel-16/sim_accel
	@$(PYTHON) scripts/demo.py --qmac $(QMAC)

# C sources under clang-format; the files scripts/gen_isa.py writes are left as generated
GEN_ISA  := sw/include/qmac/isa_gen.h sw/src/isa_gen.c
FMT_SRC   = $(filter-out $(GEN_ISA),$(wildcard sw/src/*.c sw/cli/*.c sw/include/qmac/*.h sim/*.c sim/*.h sim/*.cpp))

# `lint` checks that the files generated from hw/spec/qmac_isa.json are fresh, runs Verilator -Wall
# (waivers only in hw/lint/verilator.vlt) and a Yosys elaboration over
# several shapes, with and without +define+QMAC_FAULT_INJECT (scripts/lint_rtl.sh).

lint: setup
	@python3 scripts/gen_isa.py --check
	@VERILATOR=$(VERILATOR) YOSYS=$(YOSYS) scripts/lint_rtl.sh $(HW_RTL)
	@clang-format --dry-run --Werror $(FMT_SRC) && echo "lint: C formatting ok"

# Yosys generic + iCE40 synthesis and nextpnr-ice40 place and route (scripts/synth.sh): raw logs
# in $(BUILD)/synth/<run>/, the diff-stable summary in $(SYNTH_REPORT) (committed).
NEXTPNR      ?= nextpnr-ice40
SYNTH_REPORT := hw/synth/REPORT.md

synth: setup
	@YOSYS=$(YOSYS) NEXTPNR=$(NEXTPNR) PYTHON=$(PYTHON) scripts/synth.sh $(BUILD)/synth $(SYNTH_REPORT) $(HW_RTL)

# Verilator harness (variables at the top): `make sim` runs the differential test on every shape.
sim: $(SIM_BINS)
	@BUILD=$(BUILD) SIM_SHAPES="$(SIM_SHAPES)" tests/run_all.sh sim

.PHONY: FORCE
FORCE:

# the verilator command line of a build; rewritten only when it changes
$(SIM_DIR)/%/vl.cmd: FORCE
	@mkdir -p $(@D)
	@echo '$(call sim_vlcmd,$*)' > $@.new && { cmp -s $@.new $@ && rm -f $@.new || mv $@.new $@; }

$(SIM_DIR)/%/vl/Vtop.h: $(SIM_DIR)/%/vl.cmd $(HW_RTL) | setup
	@rm -rf $(@D)
	$(call sim_vlcmd,$*) --Mdir $(@D)

# The generated file list is known only after verilating, so one recipe compiles them all.
$(SIM_DIR)/%/libvtop.a: $(SIM_DIR)/%/vl/Vtop.h
	@set -e; cd $(@D)/vl; rm -f *.o; \
	 slow=" $$(awk '/^VM_(CLASSES|SUPPORT)_SLOW/ {f = 1; next} /^VM_/ {f = 0} f && NF {print $$1}' \
	        Vtop_classes.mk | tr '\n' ' ') "; \
	 for f in *.cpp; do b=$${f%.cpp}; \
	     case "$$slow" in *" $$b "*) opt='$(VL_OPT_SLOW)';; *) opt='$(VL_OPT_FAST)';; esac; \
	     echo "$(CXX) $$opt -c $(@D)/vl/$$f"; $(CXX) $(VL_CXXFLAGS) $(call sim_vmtrace,$*) $$opt -c $$f -o $$b.o; \
	 done; rm -f ../libvtop.a; $(AR) rcs ../libvtop.a *.o

$(SIM_DIR)/vlrt/%.o: | setup
	@mkdir -p $(@D)
	$(CXX) $(VL_CXXFLAGS) -DVM_TRACE=1 -DVM_TRACE_FST=1 -O2 -c $(VL_ROOT)/include/$*.cpp -o $@

$(SIM_DIR)/%/qsim_shim.o: sim/qsim_shim.cpp $(SIM_DIR)/%/vl/Vtop.h
	$(CXX) $(OPT) -Wall -Wextra -Werror $(VL_CXXFLAGS) $(call sim_vmtrace,$*) -Isw/include -I$(@D)/vl \
	    -DQSIM_PORTS_H='"ports_$(call sim_top,$*).h"' $(call sim_$(call sim_kind,$*)_shim,$*) \
	    -MMD -MP -c $< -o $@

$(SIM_DIR)/obj/%.o: sim/%.c | setup
	@mkdir -p $(@D)
	$(CC) $(ALLCFLAGS) -MMD -MP -c $< -o $@

# C++ link (the Verilated model needs libstdc++); sanitizers with SAN=1 cover the C harness and
# libqmac, not the Verilated C++. One rule per kind: the binary's name carries the kind.
define SIM_LINK_RULE
$(SIM_DIR)/$(1)-%/sim_$(1): $$$$(call sim_objs,$(1)-$$$$*) $(SIM_DIR)/$(1)-%/qsim_shim.o $(SIM_DIR)/$(1)-%/libvtop.a $$(VL_RT_OBJ) $$(LIBQMAC)
	$$(CXX) $$(SANFLAGS) $$(LDFLAGS) -o $$@ $$^ $$(LDLIBS) -lz -pthread
endef
.SECONDEXPANSION:
$(foreach k,array requant decode accel,$(eval $(call SIM_LINK_RULE,$k)))

.SECONDARY: $(VL_RT_OBJ) $(foreach b,$(SIM_BUILDS) array-16x16-notrace accel-16-notrace,\
    $(call sim_objs,$b) $(addprefix $(SIM_DIR)/$b/,vl.cmd vl/Vtop.h libvtop.a qsim_shim.o))

bench: all $(SIM_DIR)/array-16x16-notrace/sim_array $(SIM_DIR)/accel-16-notrace/sim_accel
	@$(PYTHON) scripts/bench.py --qmac $(QMAC) --json $(BUILD)/bench.json \
	    --array-sim $(SIM_DIR)/array-16x16-notrace/sim_array --accel-sim $(SIM_DIR)/accel-16-notrace/sim_accel \
	    --layers

format:
	clang-format -i $(FMT_SRC) tests/unit/*.c

clean:
	rm -rf build

-include $(shell find $(BUILD)/obj $(BUILD)/tests -name '*.d' 2>/dev/null)
-include $(wildcard $(SIM_DIR)/obj/*.d $(SIM_DIR)/*/qsim_shim.d)
