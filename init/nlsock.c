/* Netlink sockets with a deadline: the wait for the kernel's replies to
 * one request is bounded by one deadline, however many datagrams the
 * reply takes (docs/network.md, "How it talks to the kernel").
 *
 * No agent state and no logging, so the unit tests drive it over a
 * socketpair standing in for the kernel (tests/unit/test_nlsock.c). */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include "init/net.h"

/* Room for the biggest datagram the kernel sends: a dump chunk is at most
 * about 32 KiB; an ack carries the request and an extended-ack message. */
#define NL_DGRAM_MAX 65536

int net_nl_wait_ms(uint64_t now_ns, uint64_t deadline_ns)
{
	if (now_ns >= deadline_ns)
		return 0;
	uint64_t left = deadline_ns - now_ns;
	/* Rounded up: a deadline 0.3 ms away waits 1 ms, not a busy 0. */
	uint64_t ms = left / 1000000u + (left % 1000000u != 0);
	return ms > INT_MAX ? INT_MAX : (int)ms;
}

uint64_t net_nl_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t net_nl_deadline(void)
{
	return net_nl_now_ns() + (uint64_t)NET_NL_TIMEOUT_MS * 1000000u;
}

int net_nl_open(void)
{
	struct sockaddr_nl sa = {.nl_family = AF_NETLINK};
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_ROUTE);

	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	return fd;
}

ssize_t net_nl_recv(int fd, void *buf, size_t cap, int flags, uint64_t deadline_ns)
{
	for (;;) {
		int ms = net_nl_wait_ms(net_nl_now_ns(), deadline_ns);
		if (ms == 0)
			return -ETIMEDOUT;
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int r = poll(&p, 1, ms);
		if (r < 0 && errno != EINTR)
			return -errno;
		if (r <= 0)
			continue; /* the check above ends it at the deadline */
		ssize_t n = recv(fd, buf, cap, flags | MSG_DONTWAIT);
		if (n >= 0)
			return n;
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			return -errno;
	}
}

/* ---- dumps ---- */

struct collect {
	struct rtnl_item *v;
	size_t n, cap, max;
	int err; /* -ENOMEM, or -EMSGSIZE past max: the dump is abandoned */
};

static void collect_item(void *ctx, const struct rtnl_item *it)
{
	struct collect *c = ctx;

	/* The verbs list the main table only; the local table alone holds a
	 * route per address, and must not count against the cap. */
	if (c->err || (it->kind == RTNL_ROUTE && it->route.table != RT_TABLE_MAIN))
		return;
	if (c->n == c->max) {
		c->err = -EMSGSIZE;
		return;
	}
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 32;
		if (cap > c->max)
			cap = c->max;
		struct rtnl_item *v = realloc(c->v, cap * sizeof(*v));
		if (!v) {
			c->err = -ENOMEM;
			return;
		}
		c->v = v;
		c->cap = cap;
	}
	c->v[c->n++] = *it;
}

int net_nl_read_dump(int fd, uint32_t seq, uint64_t deadline_ns, size_t max,
		     struct rtnl_item **items, size_t *n)
{
	struct collect c = {.max = max};
	uint8_t *buf = malloc(NL_DGRAM_MAX);
	int r;

	*items = NULL;
	*n = 0;
	if (!buf)
		return -ENOMEM;
	do {
		ssize_t len = net_nl_recv(fd, buf, NL_DGRAM_MAX, MSG_TRUNC, deadline_ns);
		if (len < 0)
			r = (int)len;
		else if (len > NL_DGRAM_MAX)
			r = -EBADMSG; /* truncated: the rest cannot be trusted */
		else
			r = rtnl_parse_dump(buf, (size_t)len, seq, collect_item, &c);
		if (r >= 0 && c.err)
			r = c.err;
	} while (r == RTNL_MORE);
	free(buf);
	if (r < 0) {
		free(c.v); /* a partial list is never handed out */
		return r;
	}
	*items = c.v;
	*n = c.n;
	return 0;
}

int net_nl_read_ack(int fd, uint32_t seq, uint64_t deadline_ns)
{
	uint8_t *buf = malloc(NL_DGRAM_MAX);
	ssize_t len;
	int r;

	if (!buf)
		return -ENOMEM;
	len = net_nl_recv(fd, buf, NL_DGRAM_MAX, MSG_TRUNC, deadline_ns);
	if (len < 0)
		r = (int)len;
	else if (len > NL_DGRAM_MAX)
		r = -EBADMSG;
	else
		r = rtnl_parse_ack(buf, (size_t)len, seq);
	free(buf);
	return r;
}
