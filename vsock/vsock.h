/* vsock — listeners, connections and the control protocol.
 *
 * Promises:
 * - The control protocol is line based: one request per line, one JSON
 *   object per reply line, replies in request order. See docs/protocol.md.
 * - request_parse() and the JSON writer are pure (no I/O, no agent) and
 *   accept any bytes without crashing; they are fuzzed.
 * - A client can never stall PID 1 or another client: every socket is
 *   non-blocking, each connection's buffers are bounded, a client that does
 *   not read its replies stops being read from until it does.
 * - Every refused peer, oversize line, malformed request and connection
 *   over the limit gets one error reply with a stable code.
 */
#ifndef TASKINIT_VSOCK_H
#define TASKINIT_VSOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct agent;

/* ---- text helpers (pure; vsock/json.c), for the agent and taskctl ---- */

/* The value of a hex digit, or -1. */
int hex_digit(int ch);
/* Writes code point cp (at most 0x10FFFF) as 1-4 bytes of UTF-8 at dst;
 * returns how many. */
size_t utf8_put(char *dst, uint32_t cp);
/* What the one-character JSON escape \CH stands for, or 0 when CH is not
 * one (u is not: it takes four hex digits). */
char json_escape_char(int ch);

/* ---- request parsing (pure; vsock/proto.c) ---- */

#define REQUEST_MAX_ARGS 64

/* Splits one request line (without its newline) in place into argv.
 * Words are separated by spaces or tabs; a word that starts with '"' is a
 * JSON string literal (all JSON escapes, \u surrogate pairs become UTF-8,
 * \u0000 is refused). A trailing '\r' is dropped. Control bytes outside
 * string literals are refused. The buffer must have room for len + 1
 * bytes (a terminator is written at line[len]). Returns the argc (0 for a
 * blank line) or -1 with *err set to a human message. */
int request_parse(char *line, size_t len, char **argv, int max_args, const char **err);

/* ---- JSON writer (pure; vsock/json.c) ---- */

/* Writes into a caller-provided buffer. Never writes past cap; when the
 * buffer is too small `overflow` is set and the output is unusable. Strings
 * are escaped so that any byte sequence yields valid JSON (invalid UTF-8
 * becomes U+FFFD). */
struct jw {
	char *buf;
	size_t cap, len;
	bool overflow;
	unsigned depth;
	uint32_t need_comma; /* bit per nesting level */
};

void jw_init(struct jw *w, char *buf, size_t cap);
void jw_obj_open(struct jw *w);
void jw_obj_close(struct jw *w);
void jw_arr_open(struct jw *w);
void jw_arr_close(struct jw *w);
void jw_key(struct jw *w, const char *key);
void jw_str(struct jw *w, const char *s);
void jw_strn(struct jw *w, const char *s, size_t n);
void jw_u64(struct jw *w, uint64_t v);
void jw_i64(struct jw *w, int64_t v);
void jw_bool(struct jw *w, bool v);
void jw_null(struct jw *w);
/* Ends the line: appends '\n'. Returns the length, or 0 on overflow. */
size_t jw_finish(struct jw *w);
/* A whole error reply: {"ok":false,"error":code,"message":msg}\n */
size_t jw_error_line(char *buf, size_t cap, const char *code, const char *msg);
/* Opens an error reply, {"ok":false,"error":CODE,"message":MSG, for a
 * caller that adds fields before closing it. */
void jw_error_open(struct jw *w, const char *code, const char *msg);

/* ---- the control listener (vsock/control.c) ---- */

/* Opens the AF_VSOCK listener (when the kernel has vsock) and the Unix one
 * (when task.control_unix is set). Returns the number of listeners open. */
int control_start(struct agent *a);
/* Closes the listeners; connections stay to receive their replies. */
void control_stop_accepting(struct agent *a);
/* Flushes what each connection can take without blocking, then closes all. */
void control_close_all(struct agent *a);
/* At the very end of shutdown, after sync() and control_close_all(): the
 * writes still in the fsync helper usually come back now; finishes them
 * (temporary files removed), so that none holds a file open for writing
 * when / is remounted read-only. Waits at most wait_ms for them: a stalled
 * disk does not hold up the power-off. */
void files_finish_for_shutdown(struct agent *a, unsigned wait_ms);

/* ---- the debug shell (vsock/debug.c) ---- */

/* Called for a reaped child no task claimed; returns true when it was a
 * debug shell (the session then ends). */
bool debug_on_reaped(struct agent *a, int pid, int wstatus);

#endif
