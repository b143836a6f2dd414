# vsock/debug.mk: the debug shell's pure part (the terminal request parser)
# is linked into the unit tests and fuzzers.
PURE_SRCS += vsock/debug_preamble.c
