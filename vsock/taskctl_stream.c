/* taskctl's streaming commands: exec, attach, logs and the debug shell.
 *
 * exec is built on the protocol as it is: one connection sends `run --name
 * N --stdin pipe|pty ...` and `attach N --framed --from-start` in one write
 * (a random name lets the attach go without waiting for the run reply), so
 * no output is missed however fast the task is. Then the same connection
 * carries stdin in and framed output out, with the stream of every record,
 * until the end line brings the exit status.
 *
 * Ending the task's stdin: the agent closes it on the connection's
 * half-close, after every byte sent before it reached the task. That is
 * exact over unix and vsock. A hybrid socket cannot carry a half-close
 * (Firecracker turns the host side's EOF into a full shutdown of the guest
 * socket, which would cut the output short), so there stdin goes on a
 * second connection (`attach ID --input-only`) that is simply closed at the
 * end of input: the agent hands on every byte sent before the close, then
 * ends the task's stdin. Agents without --input-only get the old way: `stdin
 * ID --close` on a side connection once the VMM has taken every byte of ours
 * and HYBRID_SETTLE_MS more have passed (a bound, not a proof). A pty task
 * gets ^D instead, in band, on every transport. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <linux/sockios.h>

#include "vsock/taskctl.h"

/* How long exec waits, on a hybrid socket, between the VMM taking the last
 * stdin byte and ending the task's stdin from a second connection. */
#define HYBRID_SETTLE_MS 200

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* ---- the local terminal ---- */

static void enter_raw(struct tc *t, int fd)
{
	struct termios raw;

	if (t->raw || tcgetattr(fd, &t->saved) < 0)
		return;
	raw = t->saved;
	cfmakeraw(&raw);
	if (tcsetattr(fd, TCSADRAIN, &raw) == 0) {
		t->raw = true;
		t->raw_fd = fd;
	}
}

void tc_restore_terminal(struct tc *t)
{
	if (t->raw)
		tcsetattr(t->raw_fd, TCSADRAIN, &t->saved);
	t->raw = false;
}

static void window_size(unsigned *cols, unsigned *rows)
{
	struct winsize ws;

	*cols = 80, *rows = 24;
	for (int fd = 0; fd <= 2; fd++)
		if (ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col && ws.ws_row) {
			*cols = ws.ws_col, *rows = ws.ws_row;
			return;
		}
}

/* Signals a streaming command handles itself, through a signalfd. */
static int signals_open(sigset_t *old)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGQUIT);
	sigaddset(&set, SIGWINCH);
	sigprocmask(SIG_BLOCK, &set, old);
	return signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
}

static void signals_close(int fd, const sigset_t *old)
{
	if (fd >= 0)
		close(fd);
	sigprocmask(SIG_SETMASK, old, NULL);
}

static int write_full(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* ---- framed output ---- */

struct frames {
	bool json; /* copy the agent's bytes as they are */
	uint64_t payload_left;
	int payload_fd;
	struct tj *end; /* the end line, or an error reply */
	uint64_t lost;
	bool out_closed; /* our stdout or stderr is a closed pipe (EPIPE) */
};

/* Writes output on; a closed pipe is noted, and the bytes go nowhere. */
static void frames_write(struct frames *f, int fd, const char *p, size_t n)
{
	if (write_full(fd, p, n) < 0 && errno == EPIPE)
		f->out_closed = true;
}

static const char *const stream_keys[] = {"stdout", "stderr", "pty"};

static void frames_gap(struct frames *f, const struct tj *gap)
{
	for (int s = 0; s < 3; s++) {
		const struct tj *g = tj_get(gap, stream_keys[s]);
		int64_t from = tj_int(tj_get(g, "from_off"), 0),
			to = tj_int(tj_get(g, "to_off"), 0);
		if (!g || to <= from)
			continue;
		f->lost += (uint64_t)(to - from);
		if (!f->json)
			fprintf(stderr,
				"taskctl: %lld bytes of %s lost: the task wrote faster than they "
				"were read and its ring overflowed (run --ring-size)\n",
				(long long)(to - from), stream_keys[s]);
	}
}

/* Handles one header line. 1 at the end line, 0 to go on, -1 if bad. */
static int frames_line(struct frames *f, char *line, size_t len)
{
	const char *err;
	struct tj *v = tj_parse(line, len, &err);

	if (!v)
		return -1;
	if (f->json) {
		line[len] = '\n';
		frames_write(f, 1, line, len + 1);
		line[len] = 0;
	}
	const struct tj *n = tj_get(v, "len");
	if (n && tj_int(n, -1) >= 0) {
		f->payload_left = (uint64_t)tj_int(n, 0);
		f->payload_fd = !strcmp(tj_str(tj_get(v, "stream"), ""), "stderr") ? 2 : 1;
		tj_free(v);
		return 0;
	}
	if (tj_get(v, "gap")) {
		frames_gap(f, tj_get(v, "gap"));
		tj_free(v);
		return 0;
	}
	if (tj_get(v, "ok")) {
		f->end = v;
		return 1;
	}
	tj_free(v); /* a line this client does not know: skip it */
	return 0;
}

/* Consumes what the connection holds: 1 at the end line, 0 to go on, -1
 * on a stream that is not the protocol. */
static int frames_consume(struct frames *f, struct tc_conn *c)
{
	while (c->len) {
		char *p = c->buf + c->start;
		if (f->payload_left) {
			size_t n = c->len < f->payload_left ? c->len : (size_t)f->payload_left;
			frames_write(f, f->json ? 1 : f->payload_fd, p, n);
			c->start += n, c->len -= n;
			f->payload_left -= n;
			continue;
		}
		char *nl = memchr(p, '\n', c->len);
		if (!nl)
			return c->len > (1u << 20) ? -1 : 0;
		size_t n = (size_t)(nl - p);
		*nl = 0;
		c->start += n + 1, c->len -= n + 1;
		int r = frames_line(f, p, n);
		if (r)
			return r;
	}
	return 0;
}

/* The exit status in an end line; -1 when it has none. */
static int end_status(const struct tj *end)
{
	const struct tj *e = tj_get(end, "exit");

	long long st = e && e->type == TJ_OBJ ? tj_int(tj_get(e, "status"), -1) : -1;

	return st >= 0 && st <= 255 ? (int)st : -1; /* else not the protocol */
}

/* ---- one task's session: stdin in, output out ---- */

struct session {
	struct tc *t;
	struct tc_conn c;
	struct tc_conn inconn; /* hybrid: stdin's own connection (inconn.fd < 0: none) */
	char id[24];
	bool pty;	   /* the task has a pty */
	bool forward;	   /* local stdin goes to the task */
	bool stdin_eof;	   /* local stdin ended */
	bool eof_sent;	   /* the task's stdin was ended */
	bool send_closed;  /* the agent stopped taking input (the task exited) */
	char last;	   /* the last byte sent (pty: ^D needs a line start) */
	uint64_t sent;	   /* stdin bytes sent */
	double drained_at; /* hybrid: when the VMM had taken them all */
	char in[65536];
	size_t in_off, in_len;
	struct frames f;
	int sigfd;
	unsigned fatal_signals;
	bool started;	  /* taskctl exec made the task (attach did not) */
	int closed_stage; /* our output closed: 1 SIGPIPE sent, 2 SIGTERM sent */
	double closed_at; /* when the last of those was sent */
};

/* How long a task that ignores the signal it got for our closed output has
 * before the next step (SIGTERM, then taskctl leaves it running). */
#define CLOSED_GRACE_MS 2000

/* A one-off request on a second connection; quiet unless it fails. */
static int side_call(struct session *s, const char *verb, char **args, int nargs)
{
	struct tj *reply;
	int rc = tc_call(s->t, verb, args, nargs, &reply, NULL);

	if (rc == 0 && !tj_is_true(tj_get(reply, "ok")))
		rc = tc_reply_error(reply);
	tj_free(reply);
	return rc;
}

static void send_resize(struct session *s)
{
	unsigned cols, rows;
	char c[16], r[16];

	window_size(&cols, &rows);
	snprintf(c, sizeof(c), "%u", cols);
	snprintf(r, sizeof(r), "%u", rows);
	char *args[] = {s->id, c, r};
	side_call(s, "resize", args, 3);
}

static const char *sig_word(int sig)
{
	switch (sig) {
	case SIGINT:
		return "INT";
	case SIGTERM:
		return "TERM";
	case SIGHUP:
		return "HUP";
	default:
		return "QUIT";
	}
}

/* Returns 0 to go on, or 128 + signal when taskctl gives up. */
static int on_signals(struct session *s)
{
	struct signalfd_siginfo si;

	while (read(s->sigfd, &si, sizeof(si)) == sizeof(si)) {
		int sig = (int)si.ssi_signo;
		if (sig == SIGWINCH) {
			if (s->pty)
				send_resize(s);
			continue;
		}
		/* Like docker's sig-proxy: the task gets the signal; a third
		 * one means the user wants taskctl itself gone. */
		if (++s->fatal_signals >= 3) {
			tc_restore_terminal(s->t);
			return tc_fail(128 + sig,
				       "gave up on task %s after 3 signals (it still runs)", s->id);
		}
		char *args[] = {s->id, (char *)sig_word(sig)};
		side_call(s, "kill", args, 2);
	}
	return 0;
}

/* Ends the task's stdin once every byte of ours is on its way (see the
 * comment at the top). */
static void maybe_end_stdin(struct session *s)
{
	if (!s->forward || !s->stdin_eof || s->in_len || s->eof_sent || s->send_closed)
		return;
	if (s->inconn.fd >= 0) {
		/* The close is the end of input (see the top of the file). */
		tc_close(&s->inconn);
		s->inconn.fd = -1;
		s->eof_sent = true;
		return;
	}
	if (s->pty) {
		/* ^D ends a line in progress; a second one is end-of-file. */
		const char *eot = s->last && s->last != '\n' ? "\x04\x04" : "\x04";
		send(s->c.fd, eot, strlen(eot), MSG_NOSIGNAL);
	} else if (s->t->addr.kind != TC_HYBRID) {
		shutdown(s->c.fd, SHUT_WR);
	} else if (s->sent) {
		/* The VMM took every byte (SIOCOUTQ: none left unread); then a
		 * moment for the guest side to hand them on, since nothing in
		 * the protocol says when the task's pipe got them. */
		int unsent = 0;
		if (ioctl(s->c.fd, SIOCOUTQ, &unsent) < 0 || unsent > 0) {
			s->drained_at = 0;
			return; /* the poll timeout brings us back */
		}
		if (!s->drained_at)
			s->drained_at = now_ms();
		if (now_ms() - s->drained_at < HYBRID_SETTLE_MS)
			return;
	}
	if (!s->pty && s->t->addr.kind == TC_HYBRID) {
		char *args[] = {s->id, "--close"};
		side_call(s, "stdin", args, 2);
	}
	s->eof_sent = true;
}

static void read_stdin(struct session *s)
{
	ssize_t n = read(0, s->in, sizeof(s->in));

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		s->stdin_eof = true; /* EOF, or EIO from a terminal that hung up */
		return;
	}
	s->in_off = 0;
	s->in_len = (size_t)n;
}

static void send_stdin(struct session *s)
{
	int fd = s->inconn.fd >= 0 ? s->inconn.fd : s->c.fd;
	ssize_t n = send(fd, s->in + s->in_off, s->in_len, MSG_NOSIGNAL | MSG_DONTWAIT);

	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return;
		/* The attach ended (the task exited): its output still comes. */
		s->send_closed = true;
		s->in_len = 0;
		return;
	}
	s->last = s->in[s->in_off + (size_t)n - 1];
	s->sent += (uint64_t)n;
	s->in_off += (size_t)n;
	s->in_len -= (size_t)n;
}

/* Our stdout or stderr went away (`taskctl exec ... | head -1`). A task
 * that taskctl exec started gets SIGPIPE, as a local writer would on its
 * next write, and its status ends taskctl as usual. A task that ignores
 * SIGPIPE (Python, many servers: locally they would stop on the write
 * error, which a remote task never gets) gets SIGTERM 2 s later, and 2 s
 * after that taskctl leaves it running (exit 141). An attach or logs only
 * stops (exit 141, what death by SIGPIPE would give): the task is not ours
 * to end. Returns 0 to go on; *timeout is lowered to the next step. */
static int on_output_closed(struct session *s, int *timeout)
{
	static const char *const sig[] = {"PIPE", "TERM"};

	if (!s->f.out_closed)
		return 0;
	if (!s->started)
		return TC_EXIT_SIGPIPE;
	double left = s->closed_at + CLOSED_GRACE_MS - now_ms();
	if (s->closed_stage && left > 0) {
		if (*timeout < 0 || *timeout > (int)left + 1)
			*timeout = (int)left + 1;
		return 0;
	}
	if (s->closed_stage == 2)
		return tc_fail(TC_EXIT_SIGPIPE,
			       "output closed; task %s ignores SIGPIPE and "
			       "SIGTERM and still runs",
			       s->id);
	char *args[] = {s->id, (char *)sig[s->closed_stage]};
	side_call(s, "kill", args, 2);
	s->closed_stage++;
	s->closed_at = now_ms();
	if (*timeout < 0 || *timeout > CLOSED_GRACE_MS + 1)
		*timeout = CLOSED_GRACE_MS + 1;
	return 0;
}

/* Runs until the end line. Returns the task's status or a TC_EXIT_* code. */
static int session_loop(struct session *s)
{
	/* The attach reply's read may have taken the first records too: show
	 * them now, not when the socket next has something (a task that
	 * prompts and waits for input would wait for ever). */
	int first = frames_consume(&s->f, &s->c);
	if (first < 0)
		return tc_fail(TC_EXIT_CONNECT,
			       "the agent sent something that is not the protocol");
	if (first > 0)
		return 0;
	for (;;) {
		struct pollfd p[4] = {{.fd = s->c.fd, .events = POLLIN},
				      {.fd = -1, .events = POLLIN},
				      {.fd = s->sigfd, .events = POLLIN},
				      {.fd = -1, .events = POLLOUT}};
		int timeout = -1;
		if (s->in_len && !s->send_closed && s->inconn.fd < 0)
			p[0].events |= POLLOUT;
		if (s->in_len && !s->send_closed && s->inconn.fd >= 0)
			p[3].fd = s->inconn.fd;
		if (s->forward && !s->stdin_eof && !s->in_len && !s->send_closed)
			p[1].fd = 0;
		maybe_end_stdin(s);
		if (s->forward && s->stdin_eof && !s->eof_sent && !s->send_closed && !s->in_len)
			timeout = 10; /* hybrid: waiting for the VMM to take our bytes */
		int closed = on_output_closed(s, &timeout);
		if (closed)
			return closed;
		if (poll(p, 4, timeout) < 0) {
			if (errno == EINTR)
				continue;
			return tc_fail(TC_EXIT_CONNECT, "poll: %s", strerror(errno));
		}
		if (p[2].revents & POLLIN) {
			int rc = on_signals(s);
			if (rc)
				return rc;
		}
		if (p[1].revents & (POLLIN | POLLHUP | POLLERR))
			read_stdin(s);
		if ((p[0].revents | p[3].revents) & POLLOUT)
			send_stdin(s);
		if (p[3].revents & (POLLERR | POLLHUP) && !(p[3].revents & POLLOUT)) {
			s->send_closed = true; /* the input connection was dropped */
			s->in_len = 0;
		}
		if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			ssize_t r = tc_fill(&s->c);
			int fr = frames_consume(&s->f, &s->c);
			if (fr < 0)
				return tc_fail(TC_EXIT_CONNECT, "the agent sent something that is "
								"not the protocol");
			if (fr > 0)
				return 0;
			if (r <= 0)
				return tc_fail(TC_EXIT_CONNECT,
					       "connection %s before task %s ended",
					       s->c.reset ? "reset" : "lost", s->id);
		}
	}
}

/* The end of a session: the task's status, or the error the agent sent. */
static int session_result(struct session *s, int rc)
{
	tc_restore_terminal(s->t);
	if (rc)
		return rc;
	if (!tj_is_true(tj_get(s->f.end, "ok")))
		return tc_reply_error(s->f.end);
	int status = end_status(s->f.end);
	if (status < 0)
		return tc_fail(TC_EXIT_CONNECT, "the end line of task %s has no exit", s->id);
	return status;
}

/* Over a hybrid socket, a second connection for stdin, so that closing it
 * can end the task's input exactly (see the top of the file). Without it
 * (an older agent), stdin goes on the session's connection. */
static void open_input(struct session *s)
{
	char *args[] = {s->id, "--input-only"};
	struct tj *reply = NULL;
	size_t len;
	const char *err;

	if (!s->forward || s->pty || s->t->addr.kind != TC_HYBRID)
		return;
	if (tc_connect(s->t, &s->t->addr, &s->inconn) != 0) {
		s->inconn.fd = -1;
		return;
	}
	char *line = tc_send_request(&s->inconn, "attach", args, 2) == 0
			 ? tc_read_line(&s->inconn, &len)
			 : NULL;
	if (line)
		reply = tj_parse(line, len, &err);
	if (!reply || !tj_is_true(tj_get(reply, "ok"))) {
		tc_close(&s->inconn);
		s->inconn.fd = -1;
	}
	tj_free(reply);
}

static int session_run(struct session *s)
{
	sigset_t old;
	int rc;

	open_input(s);
	s->f.json = false;
	s->sigfd = signals_open(&old);
	if (s->pty && s->forward && isatty(0))
		enter_raw(s->t, 0);
	rc = session_loop(s);
	signals_close(s->sigfd, &old);
	return session_result(s, rc);
}

/* Reads one reply line of the session's connection. */
static struct tj *session_reply(struct session *s, const char *what, int *rc)
{
	size_t len;
	const char *err;
	char *line = tc_read_line(&s->c, &len);

	if (!line) {
		*rc = tc_fail(TC_EXIT_CONNECT, "connection lost before the reply to %s", what);
		return NULL;
	}
	struct tj *v = tj_parse(line, len, &err);
	if (!v)
		*rc = tc_fail(TC_EXIT_CONNECT, "unreadable reply to %s (%s)", what, err);
	return v;
}

static void session_free(struct session *s)
{
	if (s->inconn.fd >= 0)
		tc_close(&s->inconn);
	tc_close(&s->c);
	tj_free(s->f.end);
}

/* ---- exec ---- */

static char **exec_run_args(const struct tc_exec_opts *o, const char *name, char *size, int *n)
{
	char **v = calloc((size_t)(o->n_run_opts + o->argc + 8), sizeof(*v));
	int k = 0;

	if (!v)
		return NULL;
	v[k++] = "--name";
	v[k++] = (char *)name;
	v[k++] = "--stdin";
	v[k++] = o->tty ? "pty" : o->no_stdin ? "null" : "pipe";
	if (o->tty) {
		v[k++] = "--pty-size";
		v[k++] = size;
	}
	for (int i = 0; i < o->n_run_opts; i++)
		v[k++] = o->run_opts[i];
	v[k++] = "--";
	for (int i = 0; i < o->argc; i++)
		v[k++] = o->argv[i];
	*n = k;
	return v;
}

static void exec_name(char *out, size_t cap)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	/* Unique among live tasks in practice: pid and a nanosecond clock. */
	snprintf(out, cap, "exec-%d-%llx", (int)getpid(),
		 (unsigned long long)ts.tv_sec * 1000000000ull + (unsigned long long)ts.tv_nsec);
}

/* Sends run, and attach by name in the same write when the name is ours
 * (a user's --name could be a live task's, which the attach would then
 * reach if the run is refused). */
static int exec_start(struct session *s, const struct tc_exec_opts *o, const char *name,
		      bool pipelined)
{
	unsigned cols, rows;
	char size[32];
	size_t n1, n2 = 0;
	int n;

	window_size(&cols, &rows);
	snprintf(size, sizeof(size), "%ux%u", cols, rows);
	char **args = exec_run_args(o, name, size, &n);
	/* --lossless: the agent stops reading the task's output rather than
	 * overwrite what has not reached us, so exec is byte-exact whatever
	 * the ring size. */
	char *attach_args[] = {(char *)name, "--framed", "--from-start", "--lossless"};
	char *run = args ? tc_request_line("run", args, n, &n1) : NULL;
	char *attach = pipelined ? tc_request_line("attach", attach_args, 4, &n2) : NULL;
	char *both = run && (attach || !pipelined) ? malloc(n1 + n2) : NULL;
	int rc = 0;

	if (!both) {
		rc = tc_fail(TC_EXIT_CONNECT, "out of memory");
	} else {
		memcpy(both, run, n1);
		if (attach)
			memcpy(both + n1, attach, n2);
		if (tc_send_all(s->c.fd, both, n1 + n2) < 0)
			rc = tc_fail(TC_EXIT_CONNECT, "connection lost: %s", strerror(errno));
	}
	free(args);
	free(run);
	free(attach);
	free(both);
	return rc;
}

/* The run reply: 0 with the id set, or the code to end with. */
static int exec_check_run(struct session *s, struct tj *run)
{
	const char *error = tj_str(tj_get(run, "error"), NULL);

	if (tj_is_true(tj_get(run, "ok"))) {
		snprintf(s->id, sizeof(s->id), "%lld", (long long)tj_int(tj_get(run, "id"), 0));
		return 0;
	}
	if (error && !strcmp(error, "exec_failed")) {
		/* 127 (not found) or 126, as a shell says it. */
		tc_fail(1, "%s", tj_str(tj_get(run, "message"), "exec failed"));
		snprintf(s->id, sizeof(s->id), "%lld", (long long)tj_int(tj_get(run, "id"), 0));
		long long code = tj_int(tj_get(run, "exit_code"), 126);
		return code >= 1 && code <= 255 ? (int)code : 126;
	}
	return tc_reply_error(run);
}

/* Attaches by id once the run reply came (a --name of the user's). */
static struct tj *exec_attach_by_id(struct session *s, int *rc)
{
	char *args[] = {s->id, "--framed", "--from-start", "--lossless"};

	if (tc_send_request(&s->c, "attach", args, 4) < 0) {
		*rc = TC_EXIT_CONNECT;
		return NULL;
	}
	return session_reply(s, "attach", rc);
}

int tc_exec(struct tc *t, const struct tc_exec_opts *o)
{
	struct session *s = calloc(1, sizeof(*s));
	struct tj *run = NULL, *attach = NULL;
	bool own_name = true;
	char name[64];
	int rc;

	if (!s)
		return tc_fail(TC_EXIT_CONNECT, "out of memory");
	s->t = t;
	s->inconn.fd = -1;
	s->started = true;
	s->pty = o->tty;
	s->forward = !o->no_stdin;
	s->sigfd = -1;
	exec_name(name, sizeof(name));
	for (int i = 0; i + 1 < o->n_run_opts; i++)
		if (!strcmp(o->run_opts[i], "--name")) {
			snprintf(name, sizeof(name), "%s", o->run_opts[i + 1]);
			own_name = false;
		}
	if ((rc = tc_connect(t, &t->addr, &s->c)) != 0) {
		free(s);
		return rc;
	}
	if ((rc = exec_start(s, o, name, own_name)) == 0 && (run = session_reply(s, "run", &rc))) {
		rc = exec_check_run(s, run);
		if (rc == 0) {
			attach =
			    own_name ? session_reply(s, "attach", &rc) : exec_attach_by_id(s, &rc);
			if (attach && !tj_is_true(tj_get(attach, "ok")))
				rc = tc_reply_error(attach);
			else if (attach)
				rc = session_run(s);
		}
	}
	tj_free(run);
	tj_free(attach);
	session_free(s);
	if (o->rm && s->id[0]) {
		char *args[] = {s->id};
		struct tj *reply;
		if (tc_call(t, "rm", args, 1, &reply, NULL) == 0)
			tj_free(reply);
	}
	free(s);
	return rc;
}

/* ---- attach ---- */

int tc_attach(struct tc *t, const char *task, bool from_start, bool no_stdin)
{
	char *ps_args[] = {(char *)task};
	struct tj *ps;
	int rc = tc_call(t, "ps", ps_args, 1, &ps, NULL);

	if (rc)
		return rc;
	if (!tj_is_true(tj_get(ps, "ok"))) {
		rc = tc_reply_error(ps);
		tj_free(ps);
		return rc;
	}
	struct session *s = calloc(1, sizeof(*s));
	if (!s) {
		tj_free(ps);
		return tc_fail(TC_EXIT_CONNECT, "out of memory");
	}
	const struct tj *task_obj = tj_get(ps, "task");
	s->t = t;
	s->inconn.fd = -1;
	s->sigfd = -1;
	s->forward = !no_stdin;
	s->pty = tj_get(tj_get(task_obj, "offsets"), "pty") != NULL;
	snprintf(s->id, sizeof(s->id), "%lld", (long long)tj_int(tj_get(task_obj, "id"), 0));
	tj_free(ps);
	if ((rc = tc_connect(t, &t->addr, &s->c)) == 0) {
		char *args[] = {s->id, "--framed", from_start ? "--from-start" : NULL};
		struct tj *reply = NULL;
		if (tc_send_request(&s->c, "attach", args, from_start ? 3 : 2) < 0)
			rc = TC_EXIT_CONNECT;
		else if ((reply = session_reply(s, "attach", &rc)) != NULL)
			rc = tj_is_true(tj_get(reply, "ok")) ? session_run(s)
							     : tc_reply_error(reply);
		tj_free(reply);
	}
	session_free(s);
	free(s);
	return rc;
}

/* ---- logs ---- */

int tc_logs(struct tc *t, char **args, int nargs)
{
	char **v = calloc((size_t)nargs + 2, sizeof(*v));
	struct tc_conn c;
	struct frames f = {.json = t->json};
	int rc;

	if (!v)
		return tc_fail(TC_EXIT_CONNECT, "out of memory");
	memcpy(v, args, (size_t)nargs * sizeof(*v));
	v[nargs] = "--framed";
	if ((rc = tc_connect(t, &t->addr, &c)) == 0) {
		if (tc_send_request(&c, "logs", v, nargs + 1) < 0)
			rc = TC_EXIT_CONNECT;
		while (!rc) {
			ssize_t r = tc_fill(&c);
			int fr = frames_consume(&f, &c);
			if (fr > 0)
				break;
			if (f.out_closed) {
				rc = TC_EXIT_SIGPIPE; /* as `tail -f | head` ends */
				break;
			}
			if (fr < 0)
				rc =
				    tc_fail(TC_EXIT_CONNECT, "the agent sent something that is not "
							     "the protocol");
			else if (r <= 0)
				rc = tc_fail(TC_EXIT_CONNECT, "connection %s while reading logs",
					     c.reset ? "reset" : "lost");
		}
		if (!rc && !tj_is_true(tj_get(f.end, "ok")))
			rc = tc_reply_error(f.end);
		tc_close(&c);
	}
	tj_free(f.end);
	free(v);
	return rc;
}

/* ---- the debug shell ---- */

/* The debug server's terminal request (docs/debug-shell.md): a raw local
 * terminal gets a real one over there, with our size and TERM. */
static void shell_terminal_request(int fd)
{
	const char *term = getenv("TERM");
	unsigned cols, rows;
	char req[128];

	window_size(&cols, &rows);
	if (!term || !*term || strlen(term) > 64 ||
	    strspn(term, "abcdefghijklmnopqrstuvwxyz"
			 "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
			 "0123456789._+-") != strlen(term))
		term = "xterm";
	int n = snprintf(req + 1, sizeof(req) - 1, "tty %u %u %s\n", cols, rows, term);
	req[0] = 0;
	tc_send_all(fd, req, (size_t)n + 1);
}

/* How a debug session's connection ended, from the errno of recv (0: an
 * orderly end of stream). The shell has no end line to tell a finished
 * session from a dropped one, so the transport has to:
 * - an end of stream is the session's end (the shell exited);
 * - over vsock a guest's close arrives as an end of stream, never as a
 *   reset: a reset is the transport going away (VM killed, device reset,
 *   snapshot restore): the session was dropped;
 * - over a Unix socket (unix:, hybrid:) a close with bytes of ours unread
 *   arrives as a reset. The debug server closes that way when the shell
 *   exits while our end-of-input ^D (sent again every 300 ms) is on its
 *   way: after our input ended, a reset is the end. While input still
 *   flows, the server reads it all, so a reset means it dropped us.
 * Returns 0 for the end, else the exit code after saying why. */
static int shell_end(const struct tc_addr *debug, int err, bool input_ended)
{
	if (!err)
		return 0;
	if (err == ECONNRESET && debug->kind != TC_VSOCK && input_ended)
		return 0;
	return tc_fail(TC_EXIT_CONNECT, "the debug session was dropped: connection %s",
		       err == ECONNRESET ? "reset" : strerror(err));
}

/* Relays bytes both ways until the guest side closes. The shell runs on a
 * pty over there, and a half-close would hang it up at once: the end of
 * local input is sent as ^D instead, again whenever the session has been
 * quiet for a moment (a ^D typed ahead of the shell's line editor can be
 * lost, and a command reading its input wants one too). */
int tc_shell(struct tc *t, const struct tc_addr *debug)
{
	struct tc_conn c;
	sigset_t old;
	char buf[65536];
	bool stdin_open = true, input_ended = false;
	int rc = tc_connect(t, debug, &c);

	if (rc)
		return rc;
	int sigfd = signals_open(&old);
	if (isatty(0)) {
		shell_terminal_request(c.fd);
		enter_raw(t, 0);
	}
	while (!rc) {
		struct pollfd p[3] = {{.fd = c.fd, .events = POLLIN},
				      {.fd = stdin_open ? 0 : -1, .events = POLLIN},
				      {.fd = sigfd, .events = POLLIN}};
		int pr = poll(p, 3, stdin_open ? -1 : 300);
		if (pr < 0) {
			if (errno != EINTR)
				rc = tc_fail(TC_EXIT_CONNECT, "poll: %s", strerror(errno));
			continue;
		}
		if (pr == 0) {
			tc_send_all(c.fd, "\x04", 1);
			continue;
		}
		if (p[2].revents & POLLIN) {
			struct signalfd_siginfo si;
			while (read(sigfd, &si, sizeof(si)) == sizeof(si))
				if (si.ssi_signo != SIGWINCH)
					rc = 128 + (int)si.ssi_signo;
		}
		if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			ssize_t n = recv(c.fd, buf, sizeof(buf), 0);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				rc = shell_end(debug, n < 0 ? errno : 0, input_ended);
				break;
			}
			/* Nowhere for the session's output to go: leave (the
			 * shell is hung up), as death by SIGPIPE would. */
			if (write_full(1, buf, (size_t)n) < 0) {
				rc = errno == EPIPE
					 ? TC_EXIT_SIGPIPE
					 : tc_fail(TC_EXIT_LOCAL, "writing the session: %s",
						   strerror(errno));
				break;
			}
		}
		if (p[1].revents & (POLLIN | POLLHUP | POLLERR)) {
			ssize_t n = read(0, buf, sizeof(buf));
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				stdin_open = false;
				input_ended = true;
				n = 1, buf[0] = 4;
			}
			/* A failed send is not the end of input: the reader
			 * side tells how the session ended. */
			if (tc_send_all(c.fd, buf, (size_t)n) < 0)
				stdin_open = false;
		}
	}
	tc_restore_terminal(t);
	signals_close(sigfd, &old);
	tc_close(&c);
	return rc;
}
