/* Private to vsock/: a control connection as the verbs see it.
 *
 * A verb either queues its reply at once, or starts an operation (waiting
 * for a task to start or exit, streaming its output). While an operation
 * runs, the connection answers no further request lines: replies stay in
 * request order. The operation's pump is called whenever there may be work
 * (new output, room in the reply buffer); it ends with conn_op_end. */
#ifndef TASKINIT_VSOCK_CONN_H
#define TASKINIT_VSOCK_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "init/init.h"
#include "vsock/vsock.h"

#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

enum {
	REPLY_MAX = 16384,
	OUT_HIGH = 65536, /* stop producing (requests, streams) above this much unsent */
	OUT_CAP = OUT_HIGH + REPLY_MAX,
	OUT_MAX_REPLY = 4 << 20, /* one reply may grow the buffer up to this */
	PROTOCOL_VERSION = 1,
};

struct conn;

struct conn_op_ops {
	/* There may be work: new data, or room in the reply buffer. */
	void (*pump)(struct conn *c);
	/* The operation ends (finished, or the connection is closing): free
	 * what it holds. */
	void (*release)(struct conn *c);
	/* Optional: takes raw bytes from c->in (and sees c->eof) instead of the
	 * request parser; consumes what it can and memmoves the rest down. */
	void (*input)(struct conn *c);
	/* Optional, with input: the peer hung up (closed both ways) while raw
	 * input it sent is still buffered. Returns true to go on handing it on
	 * (only when may_keep: the connection then no longer counts against
	 * task.max_conns); false once it has dropped it: the connection closes. */
	bool (*hangup)(struct conn *c, bool may_keep);
};

struct conn {
	struct watch w;
	struct timer idle;
	struct timer kick; /* a pump after the current batch (see conn_kick_later) */
	struct agent *a;
	struct conn *next, *prev;
	char peer[64];
	char *in;
	size_t in_len, in_cap;
	char *out;
	size_t out_len, out_cap;
	bool discarding; /* inside a line that was too long */
	bool eof;	 /* the peer half-closed: answer what is complete, then close */
	bool closing;
	bool hung_up;	  /* only handing on raw input the gone peer sent (see hangup) */
	bool rdhup_quiet; /* a half-closed peer's EPOLLRDHUP is heard no more */
	uint64_t requests;
	const struct conn_op_ops *op;
	void *op_state;
};

/* Room for one more reply or chunk of a stream. */
static inline size_t conn_room(const struct conn *c)
{
	return c->out_len < OUT_HIGH ? OUT_CAP - c->out_len : 0;
}

/* Whether the peer closed for good (not only half-closed its sending
 * side). A Unix socket shows that as POLLHUP; a vsock never does (its poll
 * sets POLLHUP only once both of our own directions are shut down), but
 * there a zero-length send fails with EPIPE once the peer stopped
 * receiving. Costs a poll and, on the second path, a send. */
bool conn_peer_gone(int fd);

static inline bool conn_alive(const struct conn *c)
{
	return c->w.fd >= 0;
}

void conn_queue(struct conn *c, const char *buf, size_t len);
void conn_queue_error(struct conn *c, const char *code, const char *msg);
/* Finishes the JSON object in w and queues it (an "internal" error when
 * it did not fit). */
void conn_queue_reply(struct conn *c, struct jw *w);
/* Builds a reply that may be large (a task list): fill is called with a
 * growing buffer until the reply fits, up to OUT_MAX_REPLY. */
void conn_queue_big_reply(struct conn *c, void (*fill)(struct conn *c, struct jw *w, void *ctx),
			  void *ctx);
/* Tries to send what is queued now; -1 when the connection is gone. */
int conn_flush(struct conn *c);
/* Starts an operation on c. False (and ops->release already called) when
 * c was closed meanwhile, e.g. by a reply that could not be queued: the
 * caller must not touch state again. */
bool conn_op_begin(struct conn *c, const struct conn_op_ops *ops, void *state);
/* Ends the operation (its release runs) and lets requests flow again. */
void conn_op_end(struct conn *c);
/* Re-runs the connection's state machine after the current batch of
 * events. Task notifications use this, so a verb run by the kick can never
 * change the task table under the code that notified. */
void conn_kick_later(struct conn *c);

/* ---- listeners (vsock/control.c), shared with the debug shell ---- */

struct sockaddr_storage;

struct listener {
	struct watch w;
	struct timer pause; /* set when out of fds: listen again later */
	bool is_vsock;
	bool open;
	const char *what; /* "control", "debug": names it in the log */
	/* A connection came in (fd non-blocking and close-on-exec). */
	void (*accepted)(struct agent *a, struct listener *l, int fd,
			 const struct sockaddr_storage *ss);
};

/* Open a listener (set what and accepted first); 1 when it listens, else 0. */
int listener_open_vsock(struct agent *a, struct listener *l, unsigned port);
int listener_open_unix(struct agent *a, struct listener *l, const char *path);
void listener_close(struct agent *a, struct listener *l);
/* The peer check of every port: a vsock CID in task.allow_cid, a Unix
 * peer with uid 0. Names the peer in name either way. */
bool peer_allowed(struct agent *a, const struct listener *l, int fd,
		  const struct sockaddr_storage *ss, char *name, size_t cap);
/* Sends one line and closes fd, lingering briefly so the line is not lost
 * to a reset when the peer already sent something. */
void refuse_line(struct agent *a, int fd, const char *line, size_t n);

/* ---- the debug shell (vsock/debug.c; docs/debug-shell.md) ---- */

/* Opens the debug listeners when task.debug is set. */
void debug_start(struct agent *a);
/* Shutdown has begun: stop listening and hang up every session. */
void debug_stop(struct agent *a);
/* The end: close every session's connection and terminal now. */
void debug_close_all(struct agent *a);

/* ---- verbs (vsock/verbs.c, vsock/task_verbs.c) ---- */

struct verb {
	const char *name;
	const char *usage;
	int min_args, max_args; /* not counting the verb */
	bool starts_work;	/* refused once shutdown has begun */
	void (*fn)(struct conn *c, int argc, char **argv);
};

void verbs_handle_line(struct conn *c, char *line, size_t len);
/* Each verb module's table (task_verbs.c, file_verbs.c, sys_verbs.c,
 * net_verbs.c). */
const struct verb *task_verbs(size_t *n);
const struct verb *file_verbs(size_t *n);
const struct verb *sys_verbs(size_t *n);
const struct verb *net_verbs(size_t *n);

/* Common reply pieces. */
void reply_ok_open(struct jw *w);

#endif
