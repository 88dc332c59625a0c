# Starling: `make run` builds and starts the broker, `make test` builds and
# runs every test (release build, then again under ASan+UBSan).
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
LIBS    = -lcjson
# `make V=1` shows the full compiler command lines.
ifeq ($(V),1)
Q =
else
Q = @
endif

PROTO_SRC = $(wildcard protocol/*.c)
CORE_SRC  = $(PROTO_SRC) $(wildcard auth/*.c config/*.c) \
            $(filter-out broker/main.c,$(wildcard broker/*.c))
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

.PHONY: all run test test-release test-sanitize tests deps deps-test format clean stress
.DEFAULT_GOAL := all

all: $(BUILD)/starling

$(BUILD)/starling: $(MAIN_OBJ) $(CORE_OBJ)
	@echo "  LD      $@"
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

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

tests: $(BUILD)/starling $(UNIT_BIN) $(INTEG_BIN) $(STRESS_BIN)

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

# The whole suite twice: the -O2 release build, then ASan+UBSan. One final
# "N passed, N failed" line covers both.
test: deps-test
	@$(MAKE) --no-print-directory tests
	@$(MAKE) --no-print-directory BUILD=build/san SAN=1 tests
	@tests/run.sh build build/san

test-release: deps-test
	@$(MAKE) --no-print-directory tests
	@tests/run.sh build

test-sanitize: deps-test
	@$(MAKE) --no-print-directory BUILD=build/san SAN=1 tests
	@tests/run.sh build/san

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)

# The benchmark against Mosquitto (tests/bench/README.md).
-include tests/bench/bench.mk

# Coverage-guided fuzzing of protocol/ with libFuzzer (clang):
# `make fuzz FUZZ_SECONDS=300`. Crashes land in build/fuzz/.
FUZZ_SECONDS ?= 60
fuzz:
	@mkdir -p build/fuzz/corpus
	clang -std=c11 -D_GNU_SOURCE -g -O1 -I. -fsanitize=fuzzer,address,undefined \
	    -o build/fuzz/fuzz_protocol tests/fuzz/fuzz_protocol.c $(PROTO_SRC)
	cd build/fuzz && ./fuzz_protocol -max_total_time=$(FUZZ_SECONDS) -max_len=4096 corpus
.PHONY: fuzz
