# init/switchroot.mk: task.root (init/switchroot.c). The mount option
# parser is pure: unit-tested (tests/unit/test_mountopts.c) and fuzzed
# (tests/fuzz/fuzz_mountopts.c). Variables only: no targets here.
PURE_SRCS += init/mountopts.c
