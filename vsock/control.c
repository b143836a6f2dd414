/* The control listener: AF_VSOCK and Unix listeners, and connections with
 * bounded buffers. Verbs: verbs.c and task_verbs.c. */
#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <linux/vm_sockets.h>

#include "init/init.h"
#include "vsock/conn.h"

enum {
	IN_START = 1024,
	ACCEPT_BATCH = 32,
	ACCEPT_PAUSE_MS = 100,
	/* How often a half-closed peer with an operation running is looked at
	 * (conn_peer_gone): a vsock says nothing when it then closes for good. */
	HANGUP_PROBE_MS = 1000,
};

struct control {
	struct listener vsock, unix_;
	struct conn *conns;
	unsigned n_conns;
	unsigned n_lingering; /* refused sockets waiting for their peer's EOF */
	unsigned n_hung_up;   /* connections only handing on a gone peer's input */
};

/* A refused socket kept open briefly after its error line, so that a
 * request the peer already sent is read and dropped instead of turning the
 * close into a reset that could destroy the line before the peer reads it. */
struct lingering {
	struct watch w;
	struct timer t;
	struct agent *a;
};

enum { LINGER_MAX = 64, LINGER_MS = 1000 };

/* At most this many hung-up peers' input is still handed on at once (each
 * holds at most task.max_line bytes and its socket). */
enum { HUNG_UP_MAX = 64 };

static void accept_one(struct agent *a, struct listener *l, int fd,
		       const struct sockaddr_storage *ss);

static struct control *ctl_of(struct agent *a)
{
	if (!a->ctl) {
		a->ctl = calloc(1, sizeof(*a->ctl));
		if (!a->ctl)
			agent_fatal(a, "out of memory");
		a->ctl->vsock.w.fd = a->ctl->unix_.w.fd = -1;
		a->ctl->vsock.what = a->ctl->unix_.what = "control";
		a->ctl->vsock.accepted = a->ctl->unix_.accepted = accept_one;
	}
	return a->ctl;
}

/* ---- connections ---- */

static void conn_free(struct watch *w)
{
	struct conn *c = container_of(w, struct conn, w);

	free(c->in);
	free(c->out);
	free(c);
}

static void conn_close(struct conn *c, const char *why)
{
	struct agent *a = c->a;
	struct control *ctl = a->ctl;

	if (c->w.fd < 0)
		return;
	if (c->op) {
		const struct conn_op_ops *op = c->op;
		c->op = NULL;
		op->release(c);
		c->op_state = NULL;
	}
	timer_cancel(a, &c->kick);
	log_msg(a, LL_DEBUG, "control: %s closed after %llu requests (%s)", c->peer,
		(unsigned long long)c->requests, why);
	timer_cancel(a, &c->idle);
	if (c->prev)
		c->prev->next = c->next;
	else
		ctl->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	if (c->hung_up)
		ctl->n_hung_up--;
	else
		ctl->n_conns--;
	loop_release(a, &c->w);
}

/* Queues bytes for the peer. The caller keeps out_len under OUT_HIGH before
 * producing a reply, so a reply up to REPLY_MAX always fits. */
void conn_queue(struct conn *c, const char *buf, size_t len)
{
	if (!c->out) {
		c->out = malloc(OUT_CAP);
		if (!c->out) {
			conn_close(c, "out of memory");
			return;
		}
		c->out_cap = OUT_CAP;
	}
	if (c->w.fd < 0)
		return;
	if (c->out_len + len > c->out_cap) {
		/* Only a big reply gets here (see conn_queue_big_reply). */
		size_t cap = c->out_len + len;
		char *p = cap <= OUT_MAX_REPLY + OUT_CAP ? realloc(c->out, cap) : NULL;
		if (!p) {
			conn_close(c, "reply buffer full");
			return;
		}
		c->out = p;
		c->out_cap = cap;
	}
	memcpy(c->out + c->out_len, buf, len);
	c->out_len += len;
}

void conn_queue_error(struct conn *c, const char *code, const char *msg)
{
	char line[512];
	size_t n = jw_error_line(line, sizeof(line), code, msg);

	if (n)
		conn_queue(c, line, n);
}

void conn_queue_reply(struct conn *c, struct jw *w)
{
	size_t n = jw_finish(w);

	if (n)
		conn_queue(c, w->buf, n);
	else
		conn_queue_error(c, "internal", "reply too large");
}

void conn_queue_big_reply(struct conn *c, void (*fill)(struct conn *c, struct jw *w, void *ctx),
			  void *ctx)
{
	/* Most replies fit in the room left in the output buffer: built there,
	 * they need no buffer of their own. */
	if (c->out && conn_alive(c) && c->out_cap - c->out_len >= REPLY_MAX) {
		struct jw w;
		jw_init(&w, c->out + c->out_len, c->out_cap - c->out_len);
		fill(c, &w, ctx);
		size_t n = jw_finish(&w);
		if (n) {
			c->out_len += n;
			return;
		}
	}
	for (size_t cap = REPLY_MAX; cap <= OUT_MAX_REPLY; cap *= 4) {
		char *buf = malloc(cap);
		struct jw w;
		if (!buf)
			break;
		jw_init(&w, buf, cap);
		fill(c, &w, ctx);
		size_t n = jw_finish(&w);
		if (n)
			conn_queue(c, buf, n);
		free(buf);
		if (n)
			return;
	}
	conn_queue_error(c, "internal", "reply too large");
}

/* Returns -1 when the connection is gone. */
int conn_flush(struct conn *c)
{
	while (c->out_len) {
		ssize_t n = send(c->w.fd, c->out, c->out_len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (n <= 0) {
			conn_close(c, n < 0 ? strerror(errno) : "send returned 0");
			return -1;
		}
		memmove(c->out, c->out + n, c->out_len - (size_t)n);
		c->out_len -= (size_t)n;
	}
	if (c->out_cap > OUT_CAP) {
		/* A big reply went out: give its memory back. */
		char *p = realloc(c->out, OUT_CAP);
		if (p) {
			c->out = p;
			c->out_cap = OUT_CAP;
		}
	}
	return 0;
}

/* ---- input ---- */

static bool grow_input(struct conn *c)
{
	size_t limit = (size_t)c->a->cfg.max_line + 1;
	size_t cap = c->in_cap ? c->in_cap * 2 : IN_START;

	if (c->in_cap >= limit)
		return false;
	if (cap > limit)
		cap = limit;
	char *p = realloc(c->in, cap);
	if (!p)
		return false;
	c->in = p;
	c->in_cap = cap;
	return true;
}

/* Answers complete lines while the reply buffer has room. */
static void process_lines(struct conn *c)
{
	size_t start = 0;

	while (c->w.fd >= 0 && !c->closing && !c->op && c->out_len < OUT_HIGH) {
		char *nl = memchr(c->in + start, '\n', c->in_len - start);
		if (!nl)
			break;
		size_t len = (size_t)(nl - (c->in + start));
		start += len + 1;
		if (c->discarding)
			c->discarding = false;
		else
			verbs_handle_line(c, c->in + start - len - 1, len);
	}
	if (c->w.fd < 0)
		return;
	memmove(c->in, c->in + start, c->in_len - start);
	c->in_len -= start;
}

static bool has_complete_line(struct conn *c)
{
	return c->in_len && memchr(c->in, '\n', c->in_len);
}

static void check_overlong(struct conn *c)
{
	char msg[96];

	if (c->discarding) {
		c->in_len = 0;
		return;
	}
	if (c->in_len >= c->a->cfg.max_line && !has_complete_line(c)) {
		snprintf(msg, sizeof(msg), "request line longer than %u bytes; skipped",
			 c->a->cfg.max_line);
		conn_queue_error(c, "line_too_long", msg);
		c->discarding = true;
		c->in_len = 0;
	}
}

static void read_input(struct conn *c)
{
	if (c->in_len + 1 >= c->in_cap && !grow_input(c))
		return;
	ssize_t n = recv(c->w.fd, c->in + c->in_len, c->in_cap - c->in_len - 1, MSG_DONTWAIT);
	if (n < 0) {
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			conn_close(c, strerror(errno));
		return;
	}
	if (n == 0) {
		c->eof = true;
		return;
	}
	if (c->discarding) {
		/* Drop everything up to and including the end of the long line. */
		char *nl = memchr(c->in + c->in_len, '\n', (size_t)n);
		if (!nl)
			return;
		size_t keep = (size_t)n - (size_t)(nl + 1 - (c->in + c->in_len));
		memmove(c->in, nl + 1, keep);
		c->in_len = keep;
		c->discarding = false;
	} else {
		c->in_len += (size_t)n;
	}
	timer_arm(c->a, &c->idle, (uint64_t)c->a->cfg.idle_timeout_s * 1000u);
}

/* A half-closed peer still gets an answer to an unterminated last line. */
static void finish_input(struct conn *c)
{
	if (c->in_len && !c->discarding && c->out_len < OUT_HIGH) {
		c->in[c->in_len] = '\n';
		c->in_len++;
		process_lines(c);
	}
	if (c->w.fd >= 0 && !has_complete_line(c))
		c->closing = true;
}

static bool input_full(const struct conn *c)
{
	return c->in_cap >= (size_t)c->a->cfg.max_line + 1 && c->in_len + 1 >= c->in_cap;
}

bool conn_peer_gone(int fd)
{
	struct pollfd p = {.fd = fd, .events = 0};

	if (poll(&p, 1, 0) == 1 && (p.revents & (POLLHUP | POLLERR)))
		return true;
	if (send(fd, "", 0, MSG_NOSIGNAL | MSG_DONTWAIT) == 0)
		return false;
	return errno == EPIPE || errno == ENOTCONN || errno == ECONNRESET;
}

static void update_interest(struct conn *c)
{
	uint32_t ev = 0;

	/* A full input buffer (requests queued behind a running operation, or
	 * stdin the task does not take yet) or a full output buffer waits:
	 * level-triggered EPOLLIN would otherwise spin. The peer's close then
	 * shows only as EPOLLRDHUP on a vsock (EPOLLHUP, always reported, is a
	 * Unix socket's): listen for that, once, until reading resumes. Not
	 * for a peer already known gone (hung_up): its RDHUP stays set. */
	if (!c->eof && !c->closing && c->out_len < OUT_HIGH && !input_full(c)) {
		ev |= EPOLLIN;
		c->rdhup_quiet = false;
	} else if (!c->eof && !c->closing && !c->rdhup_quiet && !c->hung_up) {
		ev |= EPOLLRDHUP;
	}
	if (c->out_len)
		ev |= EPOLLOUT;
	loop_mod(c->a, &c->w, ev);
}

/* Lets a streaming operation fill the reply buffer and send it, a bounded
 * number of rounds per wakeup so one fast stream cannot starve the loop. */
static void pump_op(struct conn *c)
{
	for (int round = 0; c->op; round++) {
		if (conn_flush(c) < 0 || c->out_len >= OUT_HIGH)
			return; /* EPOLLOUT brings us back */
		if (round == 64) {
			conn_kick_later(c);
			return;
		}
		size_t before = c->out_len;
		c->op->pump(c);
		if (c->w.fd < 0 || c->out_len == before)
			return;
	}
}

static void conn_pump(struct conn *c)
{
	/* An operation that takes raw input (attach) gets the bytes, not the
	 * request parser. */
	if (c->op && c->op->input && (c->in_len || c->eof))
		c->op->input(c);
	if (c->w.fd < 0)
		return;
	pump_op(c);
	/* Requests already buffered are answered as the reply buffer drains:
	 * no new input may ever come to wake us for them. */
	for (int round = 0; c->w.fd >= 0 && !c->op && has_complete_line(c); round++) {
		if (round == 16) {
			conn_kick_later(c);
			break;
		}
		process_lines(c);
		pump_op(c); /* an operation a request just started */
		if (c->w.fd < 0 || conn_flush(c) < 0 || c->out_len >= OUT_HIGH)
			break;
	}
	if (c->w.fd < 0)
		return;
	if (c->op && c->op->input && (c->in_len || c->eof))
		c->op->input(c); /* raw input that came with the request starting it */
	/* Raw input is not lines; and while an operation streams, an error
	 * would land inside its stream: the check waits for the op's end. */
	if (!c->op)
		check_overlong(c);
	if (c->eof && !c->op && !has_complete_line(c))
		finish_input(c);
	size_t queued = c->out_len;
	if (c->w.fd < 0 || conn_flush(c) < 0)
		return;
	/* A stream that stopped for a full buffer, which this flush drained:
	 * no EPOLLOUT will come to wake it (a file read would stall). */
	if (c->op && queued >= OUT_HIGH && c->out_len < OUT_HIGH)
		conn_kick_later(c);
	if (c->closing && !c->op && c->out_len == 0) {
		conn_close(c, c->eof ? "peer finished" : "closing");
		return;
	}
	update_interest(c);
}

static void on_kick(struct agent *a, struct timer *t)
{
	struct conn *c = container_of(t, struct conn, kick);

	(void)a;
	if (c->w.fd >= 0)
		conn_pump(c);
}

void conn_kick_later(struct conn *c)
{
	if (c->w.fd >= 0 && !c->kick.armed)
		timer_arm(c->a, &c->kick, 0);
}

bool conn_op_begin(struct conn *c, const struct conn_op_ops *ops, void *state)
{
	c->op = ops;
	c->op_state = state;
	/* A reply queued just before may have failed to allocate and closed
	 * the connection: the operation then ends before it starts. */
	if (conn_alive(c))
		return true;
	conn_op_end(c);
	return false;
}

void conn_op_end(struct conn *c)
{
	const struct conn_op_ops *op = c->op;

	if (!op)
		return;
	c->op = NULL;
	op->release(c);
	c->op_state = NULL;
	/* The idle timer may be on the hang-up probe's short period: back to
	 * the idle timeout, so that replies still queued are not cut short. */
	if (conn_alive(c))
		timer_arm(c->a, &c->idle, (uint64_t)c->a->cfg.idle_timeout_s * 1000u);
}

/* The peer closed both ways, leaving raw input the operation has not
 * handed on yet (a task that does not read its stdin now). The operation
 * decides whether it still goes on; if so the connection stops counting
 * against task.max_conns, so that such peers never hold every slot while
 * the task runs. */
static bool keep_after_hangup(struct conn *c)
{
	struct control *ctl = c->a->ctl;

	if (c->hung_up || !c->op->hangup)
		return true;
	if (!c->op->hangup(c, ctl->n_hung_up < HUNG_UP_MAX))
		return false;
	c->hung_up = true;
	ctl->n_conns--;
	ctl->n_hung_up++;
	log_msg(c->a, LL_DEBUG, "control: %s hung up; handing on %zu bytes of its input", c->peer,
		c->in_len);
	return true;
}

/* The peer is gone for good. Returns false when the connection was closed
 * (nothing of its input is left to hand on). */
static bool on_hangup(struct conn *c)
{
	if (!(c->op && c->op->input && c->in_len) || !keep_after_hangup(c)) {
		conn_close(c, "hung up");
		return false;
	}
	/* Raw input the peer sent before it closed is still to be handed on
	 * (attach): stop hearing the hangup, which would wake us until then;
	 * the operation's kicks go on, and update_interest watches again once
	 * there is room. */
	loop_del(c->a, &c->w);
	return true;
}

static void on_conn_event(struct agent *a, struct watch *w, uint32_t events)
{
	struct conn *c = container_of(w, struct conn, w);
	bool vsock_gone = false;

	if (events & EPOLLERR) {
		conn_close(c, "socket error");
		return;
	}
	if (events & EPOLLRDHUP && !(events & (EPOLLIN | EPOLLHUP))) {
		/* Listened for only while reading is paused (a full input or
		 * output buffer): gone, or half-closed (then heard no more until
		 * reading resumes). */
		if (!conn_peer_gone(c->w.fd)) {
			c->rdhup_quiet = true;
			update_interest(c);
			if (c->op)
				timer_arm(a, &c->idle, HANGUP_PROBE_MS);
			return;
		}
		vsock_gone = true;
	}
	if (events & (EPOLLIN | EPOLLHUP) || vsock_gone) {
		bool was_eof = c->eof;
		if (!c->eof)
			read_input(c);
		/* A full input buffer is not read from, so a hangup would never
		 * show as end of input there: level-triggered, it would spin. */
		bool hup = events & EPOLLHUP || vsock_gone;
		if (hup && !(events & EPOLLOUT) && (was_eof || input_full(c)) && !on_hangup(c))
			return;
		/* A vsock's end of input may be a close: nothing else will say so. */
		if (!was_eof && c->eof && !hup && conn_peer_gone(c->w.fd))
			vsock_gone = true;
		else if (!was_eof && c->eof && c->op)
			timer_arm(a, &c->idle, HANGUP_PROBE_MS);
	}
	if (c->w.fd >= 0)
		conn_pump(c);
	if (vsock_gone && c->w.fd >= 0 && !c->hung_up)
		on_hangup(c);
}

static void on_idle(struct agent *a, struct timer *t)
{
	struct conn *c = container_of(t, struct conn, idle);
	char msg[64];

	(void)a;
	if (c->op) {
		/* A half-closed peer may close for good later without a word on
		 * a vsock: look, now and then, while its operation runs. */
		bool half_closed = (c->eof || c->rdhup_quiet) && !c->hung_up;
		if (half_closed && conn_peer_gone(c->w.fd) && !on_hangup(c))
			return;
		/* Waiting on a task or streaming is not idleness. */
		timer_arm(c->a, &c->idle,
			  half_closed && !c->hung_up ? HANGUP_PROBE_MS
						     : (uint64_t)c->a->cfg.idle_timeout_s * 1000u);
		return;
	}
	snprintf(msg, sizeof(msg), "no request for %u seconds", c->a->cfg.idle_timeout_s);
	conn_queue_error(c, "idle_timeout", msg);
	if (c->w.fd >= 0 && conn_flush(c) == 0)
		conn_close(c, "idle timeout");
}

/* ---- listeners ---- */

static void free_lingering(struct watch *w)
{
	free(container_of(w, struct lingering, w));
}

static void end_lingering(struct lingering *l)
{
	if (l->w.fd < 0)
		return;
	timer_cancel(l->a, &l->t);
	l->a->ctl->n_lingering--;
	loop_release(l->a, &l->w);
}

static void on_lingering(struct agent *a, struct watch *w, uint32_t events)
{
	struct lingering *l = container_of(w, struct lingering, w);
	char scratch[4096];
	ssize_t n;

	(void)a, (void)events;
	/* Bounded: a refused peer that keeps sending must not hold the loop;
	 * level-triggered epoll brings us back. */
	for (int i = 0; i < 16; i++)
		if ((n = recv(w->fd, scratch, sizeof(scratch), MSG_DONTWAIT)) <= 0)
			break;
	if (n > 0)
		return;
	if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
		end_lingering(l);
}

static void on_linger_over(struct agent *a, struct timer *t)
{
	(void)a;
	end_lingering(container_of(t, struct lingering, t));
}

/* One line, then close: lingering while few sockets do, at once (after
 * draining what is there) beyond that. */
void refuse_line(struct agent *a, int fd, const char *text, size_t n)
{
	struct control *ctl = ctl_of(a);
	char line[256];
	struct lingering *l;

	if (n)
		(void)!send(fd, text, n, MSG_NOSIGNAL | MSG_DONTWAIT);
	shutdown(fd, SHUT_WR);
	if (ctl->n_lingering < LINGER_MAX && (l = calloc(1, sizeof(*l)))) {
		l->a = a;
		l->w.fd = fd;
		l->w.on_event = on_lingering;
		l->w.release = free_lingering;
		l->t.on_fire = on_linger_over;
		if (loop_add(a, &l->w, EPOLLIN) == 0) {
			ctl->n_lingering++;
			timer_arm(a, &l->t, LINGER_MS);
			return;
		}
		free(l);
	}
	for (int i = 0; i < 16 && recv(fd, line, sizeof(line), MSG_DONTWAIT) > 0; i++)
		;
	close(fd);
}

/* One error reply line, then close. */
static void refuse(struct agent *a, int fd, const char *code, const char *msg)
{
	char line[256];

	refuse_line(a, fd, line, jw_error_line(line, sizeof(line), code, msg));
}

bool peer_allowed(struct agent *a, const struct listener *l, int fd,
		  const struct sockaddr_storage *ss, char *name, size_t cap)
{
	if (l->is_vsock) {
		const struct sockaddr_vm *vm = (const struct sockaddr_vm *)ss;
		snprintf(name, cap, "vsock:%u:%u", vm->svm_cid, vm->svm_port);
		return config_cid_allowed(&a->cfg, vm->svm_cid);
	}
	struct ucred cred;
	socklen_t len = sizeof(cred);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
		snprintf(name, cap, "unix:?");
		return false;
	}
	snprintf(name, cap, "unix:pid=%d,uid=%u", cred.pid, cred.uid);
	return cred.uid == 0;
}

static void add_conn(struct agent *a, int fd, const char *peer)
{
	struct control *ctl = a->ctl;
	struct conn *c = calloc(1, sizeof(*c));

	if (!c) {
		refuse(a, fd, "no_memory", "out of memory");
		return;
	}
	c->a = a;
	c->w.fd = fd;
	c->w.on_event = on_conn_event;
	c->w.release = conn_free;
	c->idle.on_fire = on_idle;
	c->kick.on_fire = on_kick;
	snprintf(c->peer, sizeof(c->peer), "%s", peer);
	if (loop_add(a, &c->w, EPOLLIN) < 0) {
		free(c);
		refuse(a, fd, "internal", "epoll failed");
		return;
	}
	c->next = ctl->conns;
	if (c->next)
		c->next->prev = c;
	ctl->conns = c;
	ctl->n_conns++;
	timer_arm(a, &c->idle, (uint64_t)a->cfg.idle_timeout_s * 1000u);
	log_msg(a, LL_DEBUG, "control: %s connected (%u open)", peer, ctl->n_conns);
}

static void on_listen_pause_over(struct agent *a, struct timer *t)
{
	struct listener *l = container_of(t, struct listener, pause);

	if (l->open)
		loop_mod(a, &l->w, EPOLLIN);
}

static void accept_one(struct agent *a, struct listener *l, int fd,
		       const struct sockaddr_storage *ss)
{
	struct control *ctl = a->ctl;
	char peer[64], msg[96];

	if (!peer_allowed(a, l, fd, ss, peer, sizeof(peer))) {
		log_msg(a, LL_WARN, "control: refused %s (not an allowed peer)", peer);
		snprintf(msg, sizeof(msg), "peer %s is not allowed", peer);
		refuse(a, fd, "forbidden", msg);
		return;
	}
	if (ctl->n_conns >= a->cfg.max_conns) {
		log_msg(a, LL_WARN, "control: refused %s: %u connections open", peer, ctl->n_conns);
		snprintf(msg, sizeof(msg), "too many connections (limit %u)", a->cfg.max_conns);
		refuse(a, fd, "too_many_connections", msg);
		return;
	}
	if (a->sd_phase != SD_NONE) {
		refuse(a, fd, "shutting_down", "shutdown in progress");
		return;
	}
	add_conn(a, fd, peer);
}

static void on_listener(struct agent *a, struct watch *w, uint32_t events)
{
	struct listener *l = container_of(w, struct listener, w);

	(void)events;
	for (int i = 0; i < ACCEPT_BATCH; i++) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		memset(&ss, 0, sizeof(ss));
		int fd = accept4(w->fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			    errno == ENOMEM) {
				/* Level-triggered epoll would spin: listen again later. */
				log_msg(a, LL_WARN, "%s: accept: %s; pausing", l->what,
					strerror(errno));
				loop_mod(a, w, 0);
				timer_arm(a, &l->pause, ACCEPT_PAUSE_MS);
			}
			return;
		}
		l->accepted(a, l, fd, &ss);
	}
}

static int listen_vsock(struct agent *a, struct listener *l, unsigned port)
{
	struct sockaddr_vm addr;
	int fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0) {
		log_msg(a, LL_INFO, "%s: no vsock (%s)", l->what, strerror(errno));
		return -1;
	}
	memset(&addr, 0, sizeof(addr));
	addr.svm_family = AF_VSOCK;
	addr.svm_cid = VMADDR_CID_ANY;
	addr.svm_port = port;
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(fd, 128) < 0) {
		log_msg(a, LL_WARN, "%s: vsock port %u: %s", l->what, port, strerror(errno));
		close(fd);
		return -1;
	}
	l->is_vsock = true;
	log_msg(a, LL_INFO, "%s: listening on vsock port %u", l->what, port);
	return fd;
}

static int listen_unix(struct agent *a, struct listener *l, const char *path)
{
	struct sockaddr_un addr;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	memset(&addr, 0, sizeof(addr));
	addr.sun_family = AF_UNIX;
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path);
	unlink(path); /* a stale socket from an earlier boot */
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 || chmod(path, 0600) < 0 ||
	    listen(fd, 128) < 0) {
		log_msg(a, LL_WARN, "%s: unix %s: %s", l->what, path, strerror(errno));
		close(fd);
		return -1;
	}
	log_msg(a, LL_INFO, "%s: listening on unix %s", l->what, path);
	return fd;
}

static int start_listener(struct agent *a, struct listener *l, int fd)
{
	if (fd < 0)
		return 0;
	l->w.fd = fd;
	l->w.on_event = on_listener;
	l->w.release = NULL;
	l->pause.on_fire = on_listen_pause_over;
	if (loop_add(a, &l->w, EPOLLIN) < 0) {
		close(fd);
		l->w.fd = -1;
		return 0;
	}
	l->open = true;
	return 1;
}

int listener_open_vsock(struct agent *a, struct listener *l, unsigned port)
{
	return start_listener(a, l, listen_vsock(a, l, port));
}

int listener_open_unix(struct agent *a, struct listener *l, const char *path)
{
	return start_listener(a, l, listen_unix(a, l, path));
}

int control_start(struct agent *a)
{
	struct control *ctl = ctl_of(a);
	int n = 0;

	if (a->cfg.control_port)
		n += listener_open_vsock(a, &ctl->vsock, a->cfg.control_port);
	if (a->cfg.control_unix[0])
		n += listener_open_unix(a, &ctl->unix_, a->cfg.control_unix);
	if (n)
		boot_mark(a, "control listener ready");
	else
		log_msg(a, LL_WARN, "control: no listener could be opened");
	debug_start(a);
	return n;
}

void listener_close(struct agent *a, struct listener *l)
{
	if (!l->open)
		return;
	l->open = false;
	timer_cancel(a, &l->pause);
	loop_release(a, &l->w);
}

void control_stop_accepting(struct agent *a)
{
	struct control *ctl = ctl_of(a);

	listener_close(a, &ctl->vsock);
	listener_close(a, &ctl->unix_);
	if (a->cfg.control_unix[0])
		unlink(a->cfg.control_unix);
	debug_stop(a);
}

void control_close_all(struct agent *a)
{
	struct control *ctl = ctl_of(a);

	control_stop_accepting(a);
	while (ctl->conns) {
		struct conn *c = ctl->conns;
		if (conn_flush(c) == 0)
			conn_close(c, "shutdown");
	}
	debug_close_all(a);
}
