/* Unit tests for init/nlsock.c: the deadline arithmetic, and the dump and
 * ack readers driven over a socketpair that stands in for the kernel: one
 * that answers, one that never does, and one that floods a dump that never
 * ends. The last two must come back with ETIMEDOUT instead of hanging (an
 * alarm fails the test if they do not); no test measures how fast. */
#include "init/net.h"
#include "tests/unit/check.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/if.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#define MS  1000000ull
#define SEQ 4242u

/* ---- kernel-style datagrams ---- */

struct dgram {
	uint8_t buf[4096];
	size_t len;
};

static void put(struct dgram *d, const void *p, size_t n)
{
	memcpy(d->buf + d->len, p, n);
	memset(d->buf + d->len + n, 0, NLMSG_ALIGN(n) - n);
	d->len += NLMSG_ALIGN(n);
}

/* A message with a body and no attributes. */
static void msg(struct dgram *d, uint16_t type, uint32_t seq, const void *body, size_t n)
{
	struct nlmsghdr h = {.nlmsg_len = (uint32_t)(NLMSG_HDRLEN + NLMSG_ALIGN(n)),
			     .nlmsg_type = type,
			     .nlmsg_flags = NLM_F_MULTI,
			     .nlmsg_seq = seq};

	put(d, &h, sizeof(h));
	put(d, body, n);
}

static void link_msg(struct dgram *d, int index)
{
	struct ifinfomsg ifi = {.ifi_family = AF_UNSPEC, .ifi_index = index, .ifi_flags = IFF_UP};

	msg(d, RTM_NEWLINK, SEQ, &ifi, sizeof(ifi));
}

static void route_msg(struct dgram *d, uint8_t table)
{
	struct rtmsg rtm = {.rtm_family = AF_INET, .rtm_table = table, .rtm_type = RTN_UNICAST};

	msg(d, RTM_NEWROUTE, SEQ, &rtm, sizeof(rtm));
}

static void done_msg(struct dgram *d, int err)
{
	msg(d, NLMSG_DONE, SEQ, &err, sizeof(err));
}

static void ack_msg(struct dgram *d, uint32_t seq, int err)
{
	struct nlmsgerr e = {.error = err, .msg = {.nlmsg_len = NLMSG_HDRLEN, .nlmsg_seq = seq}};

	msg(d, NLMSG_ERROR, seq, &e, sizeof(e));
}

static void send_dgram(int fd, const struct dgram *d)
{
	CHECK_EQ_INT(send(fd, d->buf, d->len, 0), d->len);
}

/* [0] is read by the code under test, [1] plays the kernel. */
static void pair(int sv[2])
{
	CHECK_EQ_INT(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv), 0);
}

static void close_pair(int sv[2])
{
	close(sv[0]);
	close(sv[1]);
}

/* ---- tests ---- */

static void test_wait_ms(void)
{
	CHECK_EQ_INT(net_nl_wait_ms(5 * MS, 5 * MS), 0);
	CHECK_EQ_INT(net_nl_wait_ms(6 * MS, 5 * MS), 0);
	CHECK_EQ_INT(net_nl_wait_ms(UINT64_MAX, 0), 0);
	/* Rounded up, so a wait never ends early and never spins on 0. */
	CHECK_EQ_INT(net_nl_wait_ms(5 * MS - 1, 5 * MS), 1);
	CHECK_EQ_INT(net_nl_wait_ms(0, MS), 1);
	CHECK_EQ_INT(net_nl_wait_ms(0, MS + 1), 2);
	CHECK_EQ_INT(net_nl_wait_ms(7, 7 + 1000 * MS), 1000);
	CHECK_EQ_INT(net_nl_wait_ms(0, UINT64_MAX), INT_MAX);
	/* The deadline is NET_NL_TIMEOUT_MS from now. */
	uint64_t now = net_nl_now_ns(), d = net_nl_deadline();
	CHECK(d >= now + NET_NL_TIMEOUT_MS * MS);
	CHECK(net_nl_wait_ms(now, d) >= NET_NL_TIMEOUT_MS);
}

static void test_dump_complete(void)
{
	struct dgram a = {0}, b = {0};
	struct rtnl_item *v;
	size_t n;
	int sv[2];

	pair(sv);
	/* Two datagrams; a route of the local table is left out. */
	link_msg(&a, 1);
	link_msg(&a, 2);
	route_msg(&a, RT_TABLE_LOCAL);
	route_msg(&b, RT_TABLE_MAIN);
	done_msg(&b, 0);
	send_dgram(sv[1], &a);
	send_dgram(sv[1], &b);
	CHECK_EQ_INT(net_nl_read_dump(sv[0], SEQ, net_nl_now_ns() + 10000 * MS, 16, &v, &n), 0);
	CHECK_EQ_INT(n, 3);
	if (n == 3) {
		CHECK_EQ_INT(v[0].link.index, 1);
		CHECK_EQ_INT(v[1].link.index, 2);
		CHECK_EQ_INT(v[2].kind, RTNL_ROUTE);
		CHECK_EQ_INT(v[2].route.table, RT_TABLE_MAIN);
	}
	free(v);
	close_pair(sv);
}

static void test_dump_errors(void)
{
	struct dgram a = {0}, b = {0};
	struct rtnl_item sentinel, *v = &sentinel;
	size_t n = 99;
	int sv[2];

	/* One entry over the cap: refused whole, not cut short. */
	pair(sv);
	for (int i = 1; i <= 3; i++)
		link_msg(&a, i);
	done_msg(&a, 0);
	send_dgram(sv[1], &a);
	CHECK_EQ_INT(net_nl_read_dump(sv[0], SEQ, net_nl_now_ns() + 10000 * MS, 2, &v, &n),
		     -EMSGSIZE);
	CHECK(v == NULL);
	CHECK_EQ_INT(n, 0);
	close_pair(sv);

	/* Exactly at the cap is complete. */
	pair(sv);
	send_dgram(sv[1], &a);
	CHECK_EQ_INT(net_nl_read_dump(sv[0], SEQ, net_nl_now_ns() + 10000 * MS, 3, &v, &n), 0);
	CHECK_EQ_INT(n, 3);
	free(v);
	close_pair(sv);

	/* A dump that failed half-way (NLMSG_DONE with an error). */
	pair(sv);
	link_msg(&b, 1);
	done_msg(&b, -EINTR);
	send_dgram(sv[1], &b);
	CHECK_EQ_INT(net_nl_read_dump(sv[0], SEQ, net_nl_now_ns() + 10000 * MS, 16, &v, &n),
		     -EINTR);
	CHECK(v == NULL);
	close_pair(sv);
}

/* A peer that never answers: the dump ends at its deadline. */
static void test_dump_silent_peer_times_out(void)
{
	struct rtnl_item *v = NULL;
	size_t n = 0;
	int sv[2];

	pair(sv);
	CHECK_EQ_INT(net_nl_read_dump(sv[0], SEQ, net_nl_now_ns() + 100 * MS, 16, &v, &n),
		     -ETIMEDOUT);
	CHECK(v == NULL);
	/* Part of a dump, then silence: nothing partial is returned. */
	struct dgram a = {0};
	link_msg(&a, 1);
	send_dgram(sv[1], &a);
	CHECK_EQ_INT(net_nl_read_dump(sv[0], SEQ, net_nl_now_ns() + 100 * MS, 16, &v, &n),
		     -ETIMEDOUT);
	CHECK(v == NULL);
	CHECK_EQ_INT(n, 0);
	/* A deadline already past still fails instead of waiting. */
	send_dgram(sv[1], &a);
	CHECK_EQ_INT(net_nl_read_dump(sv[0], SEQ, net_nl_now_ns() - 1, 16, &v, &n), -ETIMEDOUT);
	close_pair(sv);
}

struct flood {
	int fd;
	atomic_bool stop;
	atomic_long sent;
};

/* A kernel that keeps sending one more entry and never ends the dump. */
static void *flood_run(void *arg)
{
	struct flood *f = arg;
	struct dgram d = {0};

	link_msg(&d, 7);
	while (!atomic_load(&f->stop)) {
		if (send(f->fd, d.buf, d.len, MSG_DONTWAIT) == (ssize_t)d.len)
			atomic_fetch_add(&f->sent, 1);
		else
			usleep(100);
	}
	return NULL;
}

/* Data is always there to read, so only the one deadline for the whole
 * dump can end it (a timeout per recv would not). */
static void test_dump_flood_times_out(void)
{
	struct flood f = {0};
	struct rtnl_item *v = NULL;
	size_t n = 0;
	pthread_t t;
	int sv[2];

	pair(sv);
	f.fd = sv[1];
	CHECK_EQ_INT(pthread_create(&t, NULL, flood_run, &f), 0);
	int r = net_nl_read_dump(sv[0], SEQ, net_nl_now_ns() + 300 * MS, 1000000, &v, &n);
	atomic_store(&f.stop, true);
	pthread_join(t, NULL);
	CHECK_EQ_INT(r, -ETIMEDOUT);
	CHECK(v == NULL);
	/* It was reading, not waiting: more went out than the socket held. */
	long left = 0;
	uint8_t buf[256];
	while (recv(sv[0], buf, sizeof(buf), MSG_DONTWAIT) > 0)
		left++;
	CHECK(atomic_load(&f.sent) - left > 1);
	close_pair(sv);
}

static void test_ack(void)
{
	struct dgram d = {0}, e = {0}, other = {0};
	int sv[2];

	pair(sv);
	ack_msg(&d, SEQ, 0);
	send_dgram(sv[1], &d);
	CHECK_EQ_INT(net_nl_read_ack(sv[0], SEQ, net_nl_now_ns() + 10000 * MS), 0);
	ack_msg(&e, SEQ, -EEXIST);
	send_dgram(sv[1], &e);
	CHECK_EQ_INT(net_nl_read_ack(sv[0], SEQ, net_nl_now_ns() + 10000 * MS), -EEXIST);
	ack_msg(&other, SEQ + 1, 0);
	send_dgram(sv[1], &other);
	CHECK_EQ_INT(net_nl_read_ack(sv[0], SEQ, net_nl_now_ns() + 10000 * MS), -EBADMSG);
	CHECK_EQ_INT(net_nl_read_ack(sv[0], SEQ, net_nl_now_ns() + 100 * MS), -ETIMEDOUT);
	close_pair(sv);
}

/* A real NETLINK_ROUTE socket: non-blocking and close-on-exec. */
static void test_open(void)
{
	int fd = net_nl_open();

	CHECK(fd >= 0);
	if (fd < 0)
		return;
	int fl = fcntl(fd, F_GETFL), fdfl = fcntl(fd, F_GETFD);
	CHECK(fl >= 0 && (fl & O_NONBLOCK));
	CHECK(fdfl >= 0 && (fdfl & FD_CLOEXEC));
	close(fd);
}

int main(void)
{
	/* A reader that hangs fails the run instead of stalling it. */
	alarm(60);
	RUN(test_wait_ms);
	RUN(test_dump_complete);
	RUN(test_dump_errors);
	RUN(test_dump_silent_peer_times_out);
	RUN(test_dump_flood_times_out);
	RUN(test_ack);
	RUN(test_open);
	return check_summary();
}
