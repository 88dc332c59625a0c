# The benchmark against Mosquitto (tests/bench/README.md), included by the
# top-level Makefile: `make bench` (about 10 minutes), `make bench-quick`
# (about a minute), `make build/starling-bench` (the load generator only).

BENCH_SRC = $(wildcard tests/bench/*.c)
BENCH_OBJ = $(BENCH_SRC:%.c=$(BUILD)/obj/%.o)

.PHONY: bench bench-quick

$(BUILD)/starling-bench: $(BENCH_OBJ) $(PROTO_OBJ)
	@echo "  LD      $@"
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ -lssl -lcrypto

# Packages first (they are needed only to run), then both binaries, then
# the runs; run.sh takes the build directory to find them.
bench bench-quick:
	@tests/bench/run.sh deps
	@$(MAKE) --no-print-directory $(BUILD)/starling $(BUILD)/starling-bench
	@tests/bench/run.sh $(if $(filter bench-quick,$@),quick,full) $(BUILD)
