/* Private to vsock/: the debug shell's pure part, the terminal request a
 * client may send first (docs/debug-shell.md):
 *
 *     "\0tty COLS ROWS [TERM]\n"
 *
 * A NUL byte never starts what a person types, so the request cannot be
 * mistaken for shell input. Pure: no I/O, no agent; fuzzed. */
#ifndef TASKINIT_VSOCK_DEBUG_H
#define TASKINIT_VSOCK_DEBUG_H

#include <stddef.h>

#define DEBUG_PREAMBLE_MAX  128 /* longest request, newline included */
#define DEBUG_TERM_MAX	    32	/* TERM value, terminator included */
#define DEBUG_DEFAULT_TERM  "xterm"
#define DEBUG_DEFAULT_COLS  80
#define DEBUG_DEFAULT_ROWS  24
#define DEBUG_MAX_DIMENSION 9999

struct term_request {
	unsigned short cols, rows;
	char term[DEBUG_TERM_MAX]; /* letters, digits and ._+- only */
};

enum preamble_result {
	PREAMBLE_NONE,	   /* the input does not start with NUL: line mode */
	PREAMBLE_MORE,	   /* a request has begun; its newline has not come yet */
	PREAMBLE_TERMINAL, /* a valid request: *used bytes are it */
	PREAMBLE_BAD,	   /* malformed: drop *used bytes, then line mode */
};

/* Looks at the first len bytes a client sent. COLS or ROWS 0 mean the
 * default size; TERM defaults to DEBUG_DEFAULT_TERM. */
enum preamble_result debug_preamble_parse(const char *buf, size_t len, struct term_request *req,
					  size_t *used);

#endif
