# vsock/files.mk: the file, clock and entropy verbs (issue 7).
# The pure parsers behind them are unit-tested and fuzzed
# (tests/unit/test_sysfile.c, tests/fuzz/fuzz_files.c); `make bench` runs
# the file transfer benchmark. Variables only: no targets here.
PURE_SRCS  += vsock/sysfile.c
# One word: `make bench` splits BENCH_CMDS on spaces. The script takes
# $BUILD/taskinit (make exports BUILD when given on the command line).
BENCH_CMDS += tests/bench/file_bench.py
