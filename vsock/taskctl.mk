# vsock/taskctl.mk: build/taskctl, the host-side client (docs/taskctl.md):
# a second static musl binary, never part of the agent (the Makefile keeps
# vsock/taskctl*.c out of AGENT_SRCS through HOST_TOOLS).
#
# Included before the Makefile's own variables: only BUILD, MUSL_CC, CLANG
# and KINC are set at parse time; recipes may use everything (COMMON too).

# The rules below would become make's default goal: put back what was there.
taskctl_saved_goal := $(.DEFAULT_GOAL)

# json.c: the text helpers shared with the agent (hex digits, UTF-8).
TASKCTL_SRCS := $(wildcard vsock/taskctl*.c) vsock/json.c
TASKCTL_OBJS := $(patsubst %.c,$(BUILD)/taskctl-obj/%.o,$(TASKCTL_SRCS))

# Addresses, request quoting and the reply reader: fuzzed (fuzz_taskctl.c).
PURE_SRCS  += vsock/taskctl_parse.c
TEST_BINS  += $(BUILD)/taskctl
BENCH_BINS += $(BUILD)/taskctl
# One word: `make bench` splits BENCH_CMDS on spaces. The script finds the
# binaries in $BUILD (make exports it when given on the command line).
BENCH_CMDS += tests/bench/taskctl_bench.py
# socat and dropbear + ssh: the benchmark's baselines; socat also speaks
# the hybrid handshake in the docs' examples.
DEB_PKGS   += socat dropbear-bin openssh-client

# -O2 rather than the agent's -Os: exec's round trip is benchmarked.
$(BUILD)/taskctl-obj/%.o: %.c vsock/taskctl.h $(KINC)/.stamp
	@mkdir -p $(dir $@)
	$(MUSL_CC) $(COMMON) -O2 -ffunction-sections -fdata-sections -isystem $(KINC) -c $< -o $@

$(BUILD)/taskctl: $(TASKCTL_OBJS)
	$(MUSL_CC) -static -Wl,--gc-sections -s $^ -o $@

.DEFAULT_GOAL := $(taskctl_saved_goal)
