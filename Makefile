# taskinit — see README.md. `make` builds build/taskinit (static, musl).
# `make test` runs the unit, fuzz-smoke and host integration tiers.

BUILD    := build
MUSL_CC  := musl-gcc
CLANG    := clang
KINC     := $(BUILD)/kinc
VERSION  := 0.1.0

# Every Debian package the build, the tests and the benchmarks need.
DEB_PKGS += musl-tools gcc make clang libclang-rt-14-dev linux-libc-dev \
            util-linux file python3 tini procps valgrind clang-format git

# Module fragments (tasks/*.mk, ...) may add to these: extra packages,
# include flags and libraries for the static (REL_) and instrumented (ASAN_)
# agents, and targets the release objects need first (REL_DEPS).
REL_INC  :=
HOST_TOOLS :=
PURE_SRCS :=
REL_LIBS :=
REL_DEPS :=
ASAN_LIBS :=
# Fragments may add binaries `make test` builds first (TEST_BINS), and
# binaries and commands `make bench` builds and runs (BENCH_BINS, BENCH_CMDS:
# one word each, a script run with BUILD in its environment).
TEST_BINS :=
BENCH_BINS :=
BENCH_CMDS :=
-include $(wildcard */*.mk)

WARN     := -Wall -Wextra -Werror
COMMON   := -std=gnu11 $(WARN) -D_GNU_SOURCE -I. -DTASKINIT_VERSION='"$(VERSION)"'
REL_CFLAGS := $(COMMON) -Os -ffunction-sections -fdata-sections -isystem $(KINC) $(REL_INC) \
              -fno-asynchronous-unwind-tables -fno-stack-protector
REL_LDFLAGS := -static -Wl,--gc-sections -s
SAN      := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
ASAN_CFLAGS := $(COMMON) -O1 -g $(SAN)
BENCH_CFLAGS := $(COMMON) -O2 -g

# Agent sources: every .c in the module folders except host-side tools.
HOST_TOOLS += $(wildcard vsock/taskctl*.c)
AGENT_SRCS := $(filter-out $(HOST_TOOLS),$(wildcard init/*.c vsock/*.c tasks/*.c ringlog/*.c))
# Pure code (no I/O, no agent state): linked into unit tests, fuzzers, benches.
PURE_SRCS += $(wildcard ringlog/*.c) init/cmdline.c vsock/proto.c vsock/json.c tasks/boottasks.c
HEADERS  := $(wildcard */*.h)

REL_OBJS  := $(patsubst %.c,$(BUILD)/rel/%.o,$(AGENT_SRCS))
ASAN_OBJS := $(patsubst %.c,$(BUILD)/asan/%.o,$(AGENT_SRCS))
PURE_ASAN_OBJS := $(patsubst %.c,$(BUILD)/asan/%.o,$(PURE_SRCS))
PURE_BENCH_OBJS := $(patsubst %.c,$(BUILD)/bench/%.o,$(PURE_SRCS))

UNIT_TESTS += $(patsubst tests/unit/%.c,$(BUILD)/unit/%,$(wildcard tests/unit/test_*.c))
FUZZERS    := $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%,$(wildcard tests/fuzz/fuzz_*.c))
BENCHES    := $(patsubst tests/bench/%.c,$(BUILD)/bench/%,$(wildcard tests/bench/bench_*.c))
HELPERS    := $(patsubst tests/host/helpers/%.c,$(BUILD)/helpers/%,$(wildcard tests/host/helpers/*.c))

.PHONY: all deps run run-ns test unit host fuzz bench size format clean

all: $(BUILD)/taskinit

# Installs what is missing; quick when everything is already there.
deps:
	@if ! dpkg -s $(DEB_PKGS) >/dev/null 2>&1; then \
		echo "deps: installing $(DEB_PKGS)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
			apt-get install -y -qq --no-install-recommends $(DEB_PKGS); \
	fi

# musl-gcc has no kernel headers on its path: give it linux/, asm/, asm-generic/ only.
$(KINC)/.stamp:
	@mkdir -p $(KINC)
	ln -sfn /usr/include/linux $(KINC)/linux
	ln -sfn /usr/include/asm-generic $(KINC)/asm-generic
	ln -sfn /usr/include/$$(gcc -print-multiarch)/asm $(KINC)/asm
	@touch $@

$(BUILD)/rel/%.o: %.c $(HEADERS) $(KINC)/.stamp | $(REL_DEPS)
	@mkdir -p $(dir $@)
	$(MUSL_CC) $(REL_CFLAGS) -c $< -o $@

$(BUILD)/taskinit: $(REL_OBJS)
	$(MUSL_CC) $(REL_CFLAGS) $(REL_LDFLAGS) $^ $(REL_LIBS) -o $@

$(BUILD)/asan/%.o: %.c $(HEADERS)
	@mkdir -p $(dir $@)
	$(CLANG) $(ASAN_CFLAGS) -c $< -o $@

# The instrumented agent for the host tier (glibc, ASan + UBSan).
$(BUILD)/taskinit-asan: $(ASAN_OBJS)
	$(CLANG) $(ASAN_CFLAGS) $^ $(ASAN_LIBS) -o $@

# A plain glibc debug build, for the valgrind pass of the host tier.
$(BUILD)/vg/%.o: %.c $(HEADERS)
	@mkdir -p $(dir $@)
	gcc $(COMMON) -O1 -g -c $< -o $@

$(BUILD)/taskinit-vg: $(patsubst %.c,$(BUILD)/vg/%.o,$(AGENT_SRCS))
	gcc $(COMMON) -O1 -g $^ $(ASAN_LIBS) -o $@

$(BUILD)/asan/libpure.a: $(PURE_ASAN_OBJS)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/unit/%: tests/unit/%.c $(BUILD)/asan/libpure.a $(wildcard tests/unit/*.h)
	@mkdir -p $(dir $@)
	$(CLANG) $(ASAN_CFLAGS) $< $(BUILD)/asan/libpure.a -lm -o $@

$(BUILD)/fuzz/%: tests/fuzz/%.c $(PURE_SRCS) $(HEADERS) $(wildcard tests/unit/*.h tests/fuzz/*.h)
	@mkdir -p $(dir $@)
	$(CLANG) $(COMMON) -O1 -g -fsanitize=fuzzer,address,undefined $< $(PURE_SRCS) -o $@

$(BUILD)/bench/%.o: %.c $(HEADERS)
	@mkdir -p $(dir $@)
	gcc $(BENCH_CFLAGS) -c $< -o $@

$(BUILD)/bench/%: tests/bench/%.c $(PURE_BENCH_OBJS)
	@mkdir -p $(dir $@)
	gcc $(BENCH_CFLAGS) $^ -lm -o $@

$(BUILD)/helpers/%: tests/host/helpers/%.c
	@mkdir -p $(dir $@)
	gcc $(COMMON) -O1 -static $< -o $@

# taskinit as PID 1 of a fresh PID+mount namespace with a demo task; its
# log streams to the terminal. (`make run` boots the guest: image/image.mk.)
run-ns: deps $(BUILD)/taskinit
	tests/host/demo.sh $(BUILD)/taskinit

unit: $(UNIT_TESTS)
host: $(BUILD)/taskinit $(BUILD)/taskinit-asan $(HELPERS)

test: deps
	$(MAKE) --no-print-directory $(BUILD)/taskinit $(BUILD)/taskinit-asan $(BUILD)/taskinit-vg $(UNIT_TESTS) $(FUZZERS) $(HELPERS) $(TEST_BINS)
	tests/run.sh

FUZZ_SECONDS ?= 300
fuzz: deps $(FUZZERS)
	@for f in $(FUZZERS); do \
		mkdir -p $(BUILD)/corpus/$$(basename $$f); \
		echo "fuzz: $$f for $(FUZZ_SECONDS)s"; \
		$$f -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 $(BUILD)/corpus/$$(basename $$f) || exit 1; \
	done

# The bare spawn loop baseline of task_bench.py and its round trip client:
# static musl, like taskinit.
$(BUILD)/bench/spawn_loop $(BUILD)/bench/rt_client $(BUILD)/bench/rt_floor: $(BUILD)/bench/%: tests/bench/%.c
	@mkdir -p $(dir $@)
	$(MUSL_CC) $(COMMON) -O2 -static $< -o $@
$(BUILD)/bench/rt_client $(BUILD)/bench/rt_floor: tests/bench/rt_common.h

bench: deps $(BUILD)/taskinit $(BENCHES) $(BUILD)/bench/spawn_loop $(BUILD)/bench/rt_client $(BUILD)/bench/rt_floor $(BENCH_BINS)
	@for b in $(BENCHES); do $$b || exit 1; done
	tests/bench/boot_bench.py $(BUILD)/taskinit
	tests/bench/task_bench.py $(BUILD)/taskinit $(BUILD)/bench/spawn_loop
	@set -e; $(foreach c,$(BENCH_CMDS),BUILD=$(BUILD) $(c);)

size: $(BUILD)/taskinit
	@file $(BUILD)/taskinit
	@stat -c '%n: %s bytes' $(BUILD)/taskinit

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD)

# The ringlog fuzzer reuses the model test's reference model.
$(BUILD)/fuzz/fuzz_ringlog: tests/unit/test_ringlog_model.c
