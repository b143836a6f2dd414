/* taskctl's transports: AF_VSOCK, Firecracker/Cloud Hypervisor hybrid
 * sockets (CONNECT/OK over a Unix socket) and plain Unix sockets, with a
 * deadline for a guest that is still booting; buffered line reading and
 * the one-request/one-reply call. */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <linux/vm_sockets.h>

#include "vsock/taskctl.h"

int tc_fail(int code, const char *fmt, ...)
{
	char msg[1024], shown[2048];
	va_list ap;

	va_start(ap, fmt);
	int n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	size_t len = n < 0 ? 0 : (size_t)n < sizeof(msg) ? (size_t)n : sizeof(msg) - 1;
	/* The agent's messages, the VMM's answers and file names are the
	 * guest's words: no control bytes reach the terminal. */
	tc_escape_text(msg, len, shown, sizeof(shown));
	fprintf(stderr, "taskctl: %s\n", shown);
	return code;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int tc_send_all(int fd, const void *p, size_t n)
{
	const char *s = p;

	while (n) {
		ssize_t w = send(fd, s, n, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		s += w;
		n -= (size_t)w;
	}
	return 0;
}

/* How one attempt ended. */
enum attempt { ATT_OK, ATT_ABSENT, ATT_REFUSED, ATT_FATAL };

struct attempt_result {
	enum attempt kind;
	char why[256];
};

static enum attempt errno_kind(int e)
{
	switch (e) {
	case ENOENT:	   /* the socket is not there yet (the VMM is starting) */
	case ECONNREFUSED: /* a socket file with no listener behind it */
	case ETIMEDOUT:
	case EAGAIN:
	case EINTR:
		return ATT_ABSENT;
	case ECONNRESET: /* vsock: the guest is up, but nothing listens on the port */
		return ATT_REFUSED;
	default:
		return ATT_FATAL;
	}
}

static int unix_socket(const char *path, struct attempt_result *r)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0) {
		snprintf(r->why, sizeof(r->why), "socket: %s", strerror(errno));
		r->kind = ATT_FATAL;
		return -1;
	}
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;
		snprintf(r->why, sizeof(r->why), "%s: %s", path, strerror(e));
		r->kind = errno_kind(e) == ATT_REFUSED ? ATT_ABSENT : errno_kind(e);
		close(fd);
		return -1;
	}
	return fd;
}

static int vsock_socket(const struct tc_addr *a, struct attempt_result *r)
{
	struct sockaddr_vm sa = {.svm_family = AF_VSOCK, .svm_cid = a->cid, .svm_port = a->port};
	int fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0) {
		snprintf(r->why, sizeof(r->why), "no AF_VSOCK here (%s): load vhost_vsock",
			 strerror(errno));
		r->kind = ATT_FATAL;
		return -1;
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;
		r->kind = errno_kind(e);
		if (r->kind == ATT_REFUSED)
			snprintf(r->why, sizeof(r->why),
				 "vsock CID %u refused port %u (nothing listening there)", a->cid,
				 a->port);
		else
			snprintf(r->why, sizeof(r->why), "vsock CID %u port %u: %s", a->cid,
				 a->port, strerror(e));
		close(fd);
		return -1;
	}
	return fd;
}

/* Reads the VMM's one-line answer a byte at a time: whatever follows it
 * already belongs to the guest's side of the connection. */
static int hybrid_answer(int fd, char *line, size_t cap, double deadline, size_t *len)
{
	size_t n = 0;

	while (n + 1 < cap) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		double left = deadline - now_s();
		if (left <= 0)
			return -2;
		int pr = poll(&p, 1, (int)(left * 1000) + 1);
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr <= 0)
			return -2;
		ssize_t r = recv(fd, line + n, 1, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		if (line[n] == '\n') {
			line[n] = 0;
			*len = n;
			return 0;
		}
		n++;
	}
	line[n] = 0;
	*len = n;
	return -1;
}

static int hybrid_socket(const struct tc_addr *a, double deadline, struct attempt_result *r)
{
	char line[128];
	size_t len;
	uint32_t hostport;
	int fd = unix_socket(a->path, r);

	if (fd < 0)
		return -1;
	int n = snprintf(line, sizeof(line), "CONNECT %u\n", a->port);
	if (tc_send_all(fd, line, (size_t)n) < 0) {
		snprintf(r->why, sizeof(r->why), "%s: sending CONNECT: %s", a->path,
			 strerror(errno));
		r->kind = ATT_REFUSED;
		close(fd);
		return -1;
	}
	/* The VMM answers once the guest accepted or refused; a few seconds
	 * past our own deadline covers its connect timeout. */
	int ar = hybrid_answer(fd, line, sizeof(line), deadline + 5, &len);
	if (ar == 0 && tc_parse_hybrid_reply(line, len, &hostport) == 0)
		return fd;
	close(fd);
	r->kind = ATT_REFUSED;
	if (ar == -2) {
		snprintf(r->why, sizeof(r->why), "%s: no answer to CONNECT %u", a->path, a->port);
	} else if (len == 0) {
		snprintf(r->why, sizeof(r->why),
			 "%s: the VMM closed the connection after CONNECT %u: nothing listens on "
			 "guest port %u (not booted yet, or no agent)",
			 a->path, a->port, a->port);
	} else {
		/* tc_fail escapes it */
		snprintf(r->why, sizeof(r->why), "%s: the VMM answered \"%.64s\" to CONNECT %u",
			 a->path, line, a->port);
	}
	return -1;
}

int tc_connect(struct tc *t, const struct tc_addr *a, struct tc_conn *c)
{
	double deadline = now_s() + (t->wait_s > 0 ? t->wait_s : 0);
	unsigned delay_ms = 20;
	struct attempt_result r;

	memset(c, 0, sizeof(*c));
	c->fd = -1;
	for (;;) {
		int fd;
		r.kind = ATT_OK;
		r.why[0] = 0;
		if (a->kind == TC_VSOCK)
			fd = vsock_socket(a, &r);
		else if (a->kind == TC_HYBRID)
			fd = hybrid_socket(a, deadline, &r);
		else
			fd = unix_socket(a->path, &r);
		if (fd >= 0) {
			c->fd = fd;
			return 0;
		}
		if (r.kind == ATT_FATAL || now_s() >= deadline)
			break;
		struct timespec ts = {0, (long)delay_ms * 1000000L};
		nanosleep(&ts, NULL);
		delay_ms = delay_ms < 200 ? delay_ms * 2 : 200;
	}
	if (r.kind == ATT_REFUSED)
		return tc_fail(TC_EXIT_REFUSED, "refused: %s", r.why);
	return tc_fail(TC_EXIT_CONNECT, "cannot connect: %s", r.why);
}

void tc_close(struct tc_conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	free(c->buf);
	memset(c, 0, sizeof(*c));
	c->fd = -1;
}

char *tc_request_line(const char *verb, char **args, int nargs, size_t *len)
{
	size_t cap = strlen(verb) + 2, n;

	for (int i = 0; i < nargs; i++)
		cap += tc_quote_word(args[i], NULL, 0) + 1;
	char *line = malloc(cap);
	if (!line)
		return NULL;
	n = (size_t)snprintf(line, cap, "%s", verb);
	for (int i = 0; i < nargs; i++) {
		line[n++] = ' ';
		n += tc_quote_word(args[i], line + n, cap - n);
	}
	line[n++] = '\n';
	*len = n;
	return line;
}

int tc_send_request(struct tc_conn *c, const char *verb, char **args, int nargs)
{
	size_t n;
	char *line = tc_request_line(verb, args, nargs, &n);

	if (!line) {
		tc_fail(TC_EXIT_CONNECT, "out of memory");
		return -1;
	}
	int r = tc_send_all(c->fd, line, n);
	free(line);
	if (r < 0)
		tc_fail(TC_EXIT_CONNECT, "connection lost: %s", strerror(errno));
	return r;
}

ssize_t tc_fill(struct tc_conn *c)
{
	if (c->start && c->len)
		memmove(c->buf, c->buf + c->start, c->len);
	c->start = 0;
	if (c->len + 4096 > c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 65536;
		char *p = realloc(c->buf, cap);
		if (!p)
			return -1;
		c->buf = p;
		c->cap = cap;
	}
	for (;;) {
		ssize_t r = recv(c->fd, c->buf + c->len, c->cap - c->len - 1, 0);
		if (r < 0 && errno == EINTR)
			continue;
		/* A reset after the agent closed with our bytes unread is its end
		 * (see taskctl.h); the caller's protocol says whether it came
		 * too early. */
		if (r < 0 && errno == ECONNRESET) {
			c->reset = true;
			r = 0;
		}
		if (r == 0)
			c->eof = true;
		if (r > 0)
			c->len += (size_t)r;
		return r;
	}
}

#define LINE_MAX_BYTES (16u << 20)

char *tc_read_line(struct tc_conn *c, size_t *len)
{
	size_t scanned = 0;

	for (;;) {
		char *nl =
		    c->len ? memchr(c->buf + c->start + scanned, '\n', c->len - scanned) : NULL;
		if (nl) {
			char *line = c->buf + c->start;
			size_t n = (size_t)(nl - line);
			*nl = 0;
			c->start += n + 1;
			c->len -= n + 1;
			*len = n;
			return line;
		}
		scanned = c->len;
		if (c->eof || c->len > LINE_MAX_BYTES || tc_fill(c) <= 0)
			return NULL;
	}
}

int tc_reply_error(const struct tj *reply)
{
	const char *code = tj_str(tj_get(reply, "error"), "error");
	const char *msg = tj_str(tj_get(reply, "message"), "");

	if (*msg)
		return tc_fail(TC_EXIT_REFUSED, "%s (%s)", msg, code);
	return tc_fail(TC_EXIT_REFUSED, "the agent answered %s", code);
}

int tc_call(struct tc *t, const char *verb, char **args, int nargs, struct tj **reply, char **raw)
{
	struct tc_conn c;
	const char *err;
	size_t len;
	int rc;

	*reply = NULL;
	if ((rc = tc_connect(t, &t->addr, &c)) != 0)
		return rc;
	if (tc_send_request(&c, verb, args, nargs) < 0) {
		tc_close(&c);
		return TC_EXIT_CONNECT;
	}
	char *line = tc_read_line(&c, &len);
	if (!line) {
		tc_close(&c);
		return tc_fail(TC_EXIT_CONNECT, "connection lost before the reply to %s", verb);
	}
	*reply = tj_parse(line, len, &err);
	if (!*reply) {
		tc_close(&c);
		return tc_fail(TC_EXIT_CONNECT, "unreadable reply to %s (%s)", verb, err);
	}
	if (raw)
		*raw = strdup(line);
	tc_close(&c);
	return 0;
}
