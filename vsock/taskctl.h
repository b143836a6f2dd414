/* taskctl — the host-side client of the control protocol (build/taskctl, a
 * second static binary; never linked into the agent). docs/taskctl.md.
 *
 * Promises:
 * - Three transports behind one address syntax: vsock:CID[:PORT],
 *   hybrid:PATH[:PORT] (Firecracker / Cloud Hypervisor: CONNECT/OK over a
 *   Unix socket) and unix:PATH. Connecting retries until a deadline, so a
 *   client started with the VM waits for the guest to boot.
 * - Its own failures print one line `taskctl: ...` on stderr and end with
 *   one of the TC_EXIT_* codes below; `exec` and `attach` otherwise end
 *   with the task's own status (code, or 128 + signal).
 * - exec/attach copy the task's stdout and stderr byte-exact to taskctl's
 *   own stdout and stderr, and say on stderr when the agent's ring lost
 *   bytes before they could be read.
 * - A local terminal put in raw mode is restored on every exit path that
 *   can run code (normal end, errors, SIGINT/TERM/HUP/QUIT).
 * - The parsing helpers (taskctl_parse.c) are pure and fuzzed
 *   (tests/fuzz/fuzz_taskctl.c): any bytes in, no crash, no overrun.
 */
#ifndef TASKINIT_VSOCK_TASKCTL_H
#define TASKINIT_VSOCK_TASKCTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <termios.h>

/* Exit codes of taskctl's own failures. They sit above every status a
 * signal produces (128 + 64) and away from the shell's 126/127, so a
 * script can tell them from a task's status in all but the rare task that
 * itself exits 253-255; such failures also always print `taskctl:` on
 * stderr, which a task's status never does. */
enum {
	TC_EXIT_OK = 0,
	TC_EXIT_TASK_FAILED = 1, /* run: exec failed; wait: non-zero status */
	TC_EXIT_LOCAL = 1,	 /* cp: a local file could not be read or written */
	TC_EXIT_SIGPIPE = 141,	 /* attach/logs: our stdout closed (128 + SIGPIPE) */
	TC_EXIT_USAGE = 253,	 /* bad taskctl command line */
	TC_EXIT_REFUSED = 254,	 /* an error reply, a refused vsock port, a hybrid refusal */
	TC_EXIT_CONNECT = 255,	 /* nothing answered, or the connection was lost (as ssh) */
};

#define TC_DEFAULT_PORT	      1024
#define TC_DEFAULT_DEBUG_PORT 1025
#define TC_PATH_MAX	      108 /* sizeof(sun_path) */

/* ---- pure parsing (taskctl_parse.c) ---- */

enum tc_transport { TC_VSOCK, TC_HYBRID, TC_UNIX };

struct tc_addr {
	enum tc_transport kind;
	uint32_t cid;  /* vsock */
	uint32_t port; /* vsock, hybrid */
	bool has_port;
	char path[TC_PATH_MAX]; /* hybrid, unix */
};

/* vsock:CID[:PORT], hybrid:PATH[:PORT], unix:PATH, or a bare absolute
 * path (unix). The port defaults to default_port. For hybrid a trailing
 * :DIGITS is the port. Returns 0, or -1 with a message in err. */
int tc_parse_addr(const char *s, uint32_t default_port, struct tc_addr *a, char *err, size_t cap);
/* Formats an address back for messages. */
void tc_format_addr(const struct tc_addr *a, char *out, size_t cap);

/* The VMM's answer to CONNECT, without its newline: "OK <port>". Returns 0
 * (hostport set) or -1. */
int tc_parse_hybrid_reply(const char *line, size_t len, uint32_t *hostport);

/* Writes one request word: the argument bare when the agent would read it
 * back unchanged, else as a JSON string literal. Returns the length it
 * needs (like snprintf); writes at most cap bytes, NUL-terminated when
 * cap > 0. An argument cannot hold NUL (it is a C string). */
size_t tc_quote_word(const char *arg, char *out, size_t cap);

/* Writes text[0..len) as a person's terminal may show it: C0 controls and
 * DEL as \xNN (\t, \n, \r as such), the C1 controls U+0080-U+009F as
 * \u00NN, and bytes that are not well-formed UTF-8 as \xNN; everything
 * else (printable ASCII, UTF-8 from U+00A0 up) as it is. Backslashes are
 * not doubled: the output is for reading, --json is the exact form. Every
 * string from the guest reaches the human output through this function,
 * so a guest cannot drive the operator's terminal. Returns the length it
 * needs (like snprintf); writes whole escapes only, at most cap bytes,
 * NUL-terminated when cap > 0. */
size_t tc_escape_text(const char *text, size_t len, char *out, size_t cap);

/* cp's command line: [--mode M] [--owner UID[:GID]] [--] SRC DST, where
 * exactly one of SRC and DST is the guest's side, written :/ABSOLUTE/PATH.
 * The pointers point into argv. */
struct tc_cp {
	bool upload;	    /* SRC is local, DST the guest's */
	const char *local;  /* a path, or "-" for stdin (upload) / stdout */
	const char *remote; /* absolute, without its ':' */
	bool remote_dir;    /* upload to a REMOTE ending in '/': the file goes inside */
	const char *mode;   /* octal, at most 07777; NULL when not given */
	const char *owner;  /* UID[:GID], numbers; upload only */
};

/* Returns 0, or -1 with a message for the user in err. */
int tc_parse_cp(char **argv, int argc, struct tc_cp *o, char *err, size_t cap);
/* DIR/NAME, NAME being the last component of path (trailing slashes
 * ignored), into out. -1 when path has no such name ("", "/", ".", "..")
 * or the result does not fit in cap. */
int tc_join_base(const char *dir, const char *path, char *out, size_t cap);

/* A parsed JSON value (replies are small; a tree of malloc'ed nodes). */
enum tj_type { TJ_NULL, TJ_BOOL, TJ_NUM, TJ_STR, TJ_ARR, TJ_OBJ };

struct tj {
	enum tj_type type;
	bool b;
	bool is_int; /* an integer that fits int64 */
	int64_t i;
	double num;
	char *str; /* TJ_STR: decoded, NUL-terminated (may hold NULs: see len) */
	size_t len;
	char *key;		 /* member name, inside an object */
	struct tj *child, *next; /* arrays and objects */
};

#define TJ_MAX_DEPTH 512

/* Parses text[0..len) as exactly one JSON value (whitespace around it
 * allowed). Strict RFC 8259 except that raw bytes >= 0x80 in strings are
 * taken as they are. NULL with *err on bad input or no memory. */
struct tj *tj_parse(const char *text, size_t len, const char **err);
void tj_free(struct tj *v);
/* Member of an object (NULL when v is no object or has no such key). */
const struct tj *tj_get(const struct tj *v, const char *key);
int64_t tj_int(const struct tj *v, int64_t dflt);
const char *tj_str(const struct tj *v, const char *dflt);
bool tj_is_true(const struct tj *v);

/* ---- transports (taskctl_net.c) ---- */

/* What a session carries: the address, options and the local terminal. */
struct tc {
	struct tc_addr addr;
	bool addr_set;
	bool json;
	double wait_s; /* connect deadline */
	/* the local terminal while in raw mode */
	bool raw;
	int raw_fd;
	struct termios saved;
};

/* A connection with a read buffer. */
struct tc_conn {
	int fd;
	char *buf;
	size_t start, len, cap; /* unread bytes are buf[start .. start + len) */
	bool eof;
	bool reset; /* the end was ECONNRESET (see tc_fill) */
};

/* Connects to a (with the hybrid handshake), retrying until t->wait_s has
 * passed. Returns 0, or a TC_EXIT_* code after printing why. */
int tc_connect(struct tc *t, const struct tc_addr *a, struct tc_conn *c);
void tc_close(struct tc_conn *c);
/* Sends everything; -1 on error (errno set). */
int tc_send_all(int fd, const void *p, size_t n);
/* "verb args...\n" with every argument quoted as needed (malloc'ed). */
char *tc_request_line(const char *verb, char **args, int nargs, size_t *len);
/* Sends "verb args..." as one request line; -1 when it is too long or the
 * send failed (a message is printed). */
int tc_send_request(struct tc_conn *c, const char *verb, char **args, int nargs);
/* Reads more into the buffer (blocking); returns bytes read, 0 at EOF,
 * -1 on error. A reset counts as EOF (with c->reset set): an agent that
 * closes with our bytes unread resets a Unix socket, so only the protocol
 * (a reply, an end line) tells a finished exchange from a lost one. */
ssize_t tc_fill(struct tc_conn *c);
/* The next line (without '\n', NUL-terminated in place), blocking; NULL at
 * EOF or error. Lines longer than 16 MiB are an error. */
char *tc_read_line(struct tc_conn *c, size_t *len);
/* One request, one reply line, parsed. Returns 0 with *reply (free with
 * tj_free) and, when raw is not NULL, the line copied into it; or a
 * TC_EXIT_* code after printing why. */
int tc_call(struct tc *t, const char *verb, char **args, int nargs, struct tj **reply, char **raw);
/* Prints an error reply as `taskctl: message` and returns TC_EXIT_REFUSED. */
int tc_reply_error(const struct tj *reply);
/* Prints `taskctl: ...` on stderr (escaped with tc_escape_text: messages
 * carry the guest's words) and returns code. */
int tc_fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- streaming commands (taskctl_stream.c) ---- */

struct tc_exec_opts {
	bool tty;	 /* -t: a pty, local terminal raw */
	bool no_stdin;	 /* -n: stdin from /dev/null, nothing forwarded */
	bool rm;	 /* --rm: remove the task after its exit */
	char **run_opts; /* passed to `run` as they are */
	int n_run_opts;
	char **argv;
	int argc;
};

int tc_exec(struct tc *t, const struct tc_exec_opts *o);
int tc_attach(struct tc *t, const char *task, bool from_start, bool no_stdin);
/* logs TASK with options: framed from the agent, stdout and stderr to ours. */
int tc_logs(struct tc *t, char **args, int nargs);
int tc_shell(struct tc *t, const struct tc_addr *debug);
/* Restores the local terminal if it is in raw mode. */
void tc_restore_terminal(struct tc *t);

/* ---- one-reply commands and their human output (taskctl_cmds.c) ---- */

/* Runs `verb args` and prints the reply for people (or raw with --json).
 * Returns the exit code. */
int tc_command(struct tc *t, const char *verb, char **args, int nargs);
int tc_events(struct tc *t);

/* ---- cp (taskctl_cp.c) ---- */

/* Copies one file between here and the guest with the read and write
 * verbs, streaming (memory does not grow with the file); a downloaded
 * file appears atomically (temporary file, rename). Returns the exit code. */
int tc_cp(struct tc *t, const struct tc_cp *o);

#endif
