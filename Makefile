# Starling: `make run` builds and starts the broker, `make test` builds and
# runs every test (release build, then again under ASan+UBSan, then each
# fuzzer for a short time).
# Missing Debian packages are installed by tools/deps.sh when run as root.

BUILD   ?= build
SAN     ?= 0
CC      ?= cc
CFLAGS_COMMON = -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -g -I. -MMD -MP
ifeq ($(SAN),1)
OPTFLAGS = -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all
else
OPTFLAGS = -O2
endif
ALL_CFLAGS = $(CFLAGS_COMMON) $(OPTFLAGS) $(CFLAGS)
ALL_LDFLAGS = $(OPTFLAGS) $(LDFLAGS)
LIBS    = -lcjson -lmbedtls -lmbedx509 -lmbedcrypto -largon2 -lsqlite3
# `make V=1` shows the full compiler command lines.
ifeq ($(V),1)
Q =
else
Q = @
endif

PROTO_SRC = $(wildcard protocol/*.c)
CORE_SRC  = $(PROTO_SRC) $(filter-out auth/passwd_tool.c,$(wildcard auth/*.c)) $(wildcard config/*.c) \
            $(filter-out broker/main.c,$(wildcard broker/*.c broker/*/*.c))
CORE_OBJ  = $(CORE_SRC:%.c=$(BUILD)/obj/%.o)
PROTO_OBJ = $(PROTO_SRC:%.c=$(BUILD)/obj/%.o)
CONFIG_OBJ = $(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard config/*.c))
MAIN_OBJ  = $(BUILD)/obj/broker/main.o

UNIT_SRC  = $(wildcard tests/unit/test_*.c)
UNIT_BIN  = $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/unit/%)
INTEG_SRC = $(wildcard tests/integration/test_*.c)
INTEG_LIB = $(filter-out $(INTEG_SRC),$(wildcard tests/integration/*.c))
INTEG_OBJ = $(INTEG_LIB:%.c=$(BUILD)/obj/%.o)
INTEG_BIN = $(INTEG_SRC:tests/integration/%.c=$(BUILD)/tests/integration/%)
# The attacks of tests/stress/ serve both `make stress` and test_attacks.
STRESS_LIB = $(filter-out tests/stress/main.c,$(wildcard tests/stress/*.c))
STRESS_OBJ = $(STRESS_LIB:%.c=$(BUILD)/obj/%.o)
STRESS_BIN = $(BUILD)/tests/stress/starling-stress

.PHONY: all run test test-release test-sanitize test-docker tests deps deps-test format clean stress
.DEFAULT_GOAL := all

all: $(BUILD)/starling $(BUILD)/starling-passwd

$(BUILD)/starling: $(MAIN_OBJ) $(CORE_OBJ)
	@echo "  LD      $@"
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

# The password tool needs only the password-file module.
$(BUILD)/starling-passwd: $(BUILD)/obj/auth/passwd_tool.o $(BUILD)/obj/auth/passwd.o
	@echo "  LD      $@"
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ -lmbedcrypto -largon2

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC      $@"
	$(Q)$(CC) $(ALL_CFLAGS) -c -o $@ $<

# Unit tests link only the module they test (by file-name prefix), so each
# module's tests build on their own; anything else links the whole core.
$(BUILD)/tests/unit/test_protocol%: $(BUILD)/obj/tests/unit/test_protocol%.o $(PROTO_OBJ)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ -lcmocka

$(BUILD)/tests/unit/test_config%: $(BUILD)/obj/tests/unit/test_config%.o $(CONFIG_OBJ)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS) -lcmocka

# Allocation-failure injection: malloc, calloc and realloc are wrapped.
OOM_WRAP = -Wl,--wrap=malloc -Wl,--wrap=calloc -Wl,--wrap=realloc
$(BUILD)/tests/unit/test_oom: $(BUILD)/obj/tests/unit/test_oom.o $(CORE_OBJ)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	$(Q)$(CC) $(ALL_LDFLAGS) $(OOM_WRAP) -o $@ $^ $(LIBS) -lcmocka

$(BUILD)/tests/unit/%: $(BUILD)/obj/tests/unit/%.o $(CORE_OBJ)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS) -lcmocka

$(BUILD)/tests/integration/test_attacks: $(BUILD)/obj/tests/integration/test_attacks.o $(INTEG_OBJ) $(STRESS_OBJ) $(PROTO_OBJ)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	$(Q)$(CC) $(ALL_LDFLAGS) -pthread -o $@ $^ -lcmocka

$(STRESS_BIN): $(BUILD)/obj/tests/stress/main.o $(STRESS_OBJ) $(PROTO_OBJ)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	$(Q)$(CC) $(ALL_LDFLAGS) -pthread -o $@ $^

$(BUILD)/tests/integration/%: $(BUILD)/obj/tests/integration/%.o $(INTEG_OBJ) $(PROTO_OBJ)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ -lcmocka

tests: $(BUILD)/starling $(BUILD)/starling-passwd $(UNIT_BIN) $(INTEG_BIN) $(STRESS_BIN)

# Every attack of issue 7 at full size against the release build, one fresh
# broker each (tests/stress/README.md). Fails if any attack breaks a bound.
stress: deps
	@$(MAKE) --no-print-directory $(BUILD)/starling $(STRESS_BIN)
	@mkdir -p $(BUILD)/stress
	$(STRESS_BIN) --bin $(BUILD)/starling --out $(BUILD)/stress/results.md $(ATTACKS)

deps:
	@tools/deps.sh build

deps-test:
	@tools/deps.sh test

run: deps
	@$(MAKE) --no-print-directory all
	$(BUILD)/starling $(ARGS)

# The whole suite twice, the -O2 release build and ASan+UBSan, then each
# fuzzer for FUZZ_TEST_SECONDS. One final "N passed, N failed" line covers
# all of it (a fuzzer counts as one test).
test: deps-test
	@$(MAKE) --no-print-directory tests
	@$(MAKE) --no-print-directory BUILD=build/san SAN=1 tests
	@$(MAKE) --no-print-directory fuzz-test
	@tests/run.sh --fuzz-results build/fuzz/results build build/san

test-release: deps-test
	@$(MAKE) --no-print-directory tests
	@tests/run.sh build

test-sanitize: deps-test
	@$(MAKE) --no-print-directory BUILD=build/san SAN=1 tests
	@tests/run.sh build/san

# The Docker image (docker/Dockerfile) built and run with docker, or podman
# where no Docker daemon runs; needs root or a working docker (not part of
# `make test`). See tests/docker/run.sh and README "Running with Docker".
test-docker:
	@tests/docker/run.sh

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)

# The benchmark against Mosquitto (tests/bench/README.md).
-include tests/bench/bench.mk

# Coverage-guided fuzzing with libFuzzer (clang) of protocol/ and of the
# broker's packet handling in process: `make fuzz FUZZ_SECONDS=300` runs each
# target that long. New inputs go to build/fuzz/corpus_*, crashes to
# build/fuzz/; the committed seeds in tests/fuzz/corpus_* are only read.
# `make test` runs each for FUZZ_TEST_SECONDS when clang is installed.
FUZZ_SECONDS ?= 60
FUZZ_TEST_SECONDS ?= 20
FUZZ_CFLAGS = -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -g -O1 -I. -fsanitize=fuzzer,address,undefined
FUZZ_CORE_SRC = $(filter-out config/%,$(CORE_SRC)) $(wildcard config/*.c)
build/fuzz/fuzz_protocol: tests/fuzz/fuzz_protocol.c $(PROTO_SRC)
	@mkdir -p build/fuzz
	@echo "  FUZZ    $@"
	$(Q)clang $(FUZZ_CFLAGS) -o $@ $^
build/fuzz/fuzz_broker: tests/fuzz/fuzz_broker.c $(FUZZ_CORE_SRC) $(wildcard */*.h */*/*.h)
	@mkdir -p build/fuzz
	@echo "  FUZZ    $@"
	$(Q)clang $(FUZZ_CFLAGS) -o $@ tests/fuzz/fuzz_broker.c $(FUZZ_CORE_SRC) $(LIBS)
# $(1) target, $(2) seconds, $(3) -max_len. Shows libFuzzer's summary, and
# its whole tail (the crash report) if it failed.
define run_fuzzer
	@mkdir -p build/fuzz/corpus_$(1)
	@echo "### fuzz_$(1) for $(2) s (log: build/fuzz/fuzz_$(1).log)"
	@cd build/fuzz && ./fuzz_$(1) -max_total_time=$(2) -max_len=$(3) -print_final_stats=1 \
	    corpus_$(1) ../../tests/fuzz/corpus_$(1) >fuzz_$(1).log 2>&1; rc=$$?; \
	    grep -E '^Done [0-9]+ runs|^stat::(number_of_executed_units|peak_rss_mb)' fuzz_$(1).log; \
	    if [ $$rc -ne 0 ]; then tail -n 60 fuzz_$(1).log; echo "fuzz_$(1) FAILED"; \
	        echo "fuzz_$(1) FAIL" >>results; exit 1; fi; echo "fuzz_$(1) PASS" >>results
endef
fuzz: build/fuzz/fuzz_protocol build/fuzz/fuzz_broker
	$(call run_fuzzer,protocol,$(FUZZ_SECONDS),4096)
	$(call run_fuzzer,broker,$(FUZZ_SECONDS),4096)
# For make test: each fuzzer's verdict goes to build/fuzz/results, counted
# in the final "N passed, N failed" line by tests/run.sh.
fuzz-test:
	@mkdir -p build/fuzz && rm -f build/fuzz/results
	@if command -v clang >/dev/null; then \
	    $(MAKE) --no-print-directory -k fuzz FUZZ_SECONDS=$(FUZZ_TEST_SECONDS) || true; \
	    for t in protocol broker; do grep -q "^fuzz_$$t " build/fuzz/results 2>/dev/null || \
	        echo "fuzz_$$t FAIL" >>build/fuzz/results; done; \
	else echo "clang not installed: fuzzers not run"; fi
.PHONY: fuzz fuzz-test
