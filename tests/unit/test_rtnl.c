/* Unit tests for init/rtnl.c: dump replies built here byte by byte the
 * way the kernel lays them out (struct nlmsghdr, the family header, then
 * 4-byte aligned attributes) are parsed back; malformed ones are refused;
 * requests have the documented layout and flags. */
#include "init/net.h"
#include "tests/unit/check.h"

#include <arpa/inet.h>
#include <errno.h>
#include <sys/socket.h>

#include <linux/if.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

/* ---- building kernel-style datagrams ---- */

struct dgram {
	uint8_t buf[4096];
	size_t len;
	size_t msg_start;
};

static void raw(struct dgram *d, const void *p, size_t n)
{
	memcpy(d->buf + d->len, p, n);
	memset(d->buf + d->len + n, 0, NLMSG_ALIGN(n) - n);
	d->len += NLMSG_ALIGN(n);
}

static void msg_begin(struct dgram *d, uint16_t type, uint32_t seq)
{
	struct nlmsghdr h = {.nlmsg_type = type, .nlmsg_flags = NLM_F_MULTI, .nlmsg_seq = seq};

	d->msg_start = d->len;
	raw(d, &h, sizeof(h));
}

static void msg_end(struct dgram *d)
{
	uint32_t len = (uint32_t)(d->len - d->msg_start);

	memcpy(d->buf + d->msg_start, &len, 4);
}

static void attr(struct dgram *d, uint16_t type, const void *p, size_t n)
{
	struct nlattr a = {.nla_len = (uint16_t)(NLA_HDRLEN + n), .nla_type = type};

	raw(d, &a, sizeof(a));
	raw(d, p, n);
}

static void attr_u32(struct dgram *d, uint16_t type, uint32_t v)
{
	attr(d, type, &v, 4);
}

static void link_msg(struct dgram *d, uint32_t seq, int index, const char *name, unsigned flags,
		     unsigned mtu, uint8_t oper)
{
	struct ifinfomsg ifi = {.ifi_family = AF_UNSPEC, .ifi_index = index, .ifi_flags = flags};
	const uint8_t mac[6] = {0x02, 0, 0, 0, 0, (uint8_t)index};

	msg_begin(d, RTM_NEWLINK, seq);
	raw(d, &ifi, sizeof(ifi));
	attr(d, IFLA_IFNAME, name, strlen(name) + 1);
	attr_u32(d, IFLA_MTU, mtu);
	attr(d, IFLA_OPERSTATE, &oper, 1);
	attr(d, IFLA_ADDRESS, mac, 6);
	msg_end(d);
}

static void done_msg(struct dgram *d, uint32_t seq, int err)
{
	msg_begin(d, NLMSG_DONE, seq);
	raw(d, &err, sizeof(err));
	msg_end(d);
}

/* ---- collecting parsed items ---- */

static struct rtnl_item got[16];
static int n_got;

static void keep(void *ctx, const struct rtnl_item *it)
{
	CHECK(ctx == &n_got);
	if (n_got < 16)
		got[n_got++] = *it;
}

static int parse(const struct dgram *d, uint32_t seq)
{
	n_got = 0;
	return rtnl_parse_dump(d->buf, d->len, seq, keep, &n_got);
}

static void test_links(void)
{
	struct dgram d = {0};

	link_msg(&d, 7, 1, "lo", IFF_UP | IFF_LOOPBACK, 65536, IF_OPER_UNKNOWN);
	link_msg(&d, 7, 2, "eth0", IFF_UP | IFF_BROADCAST | IFF_LOWER_UP, 1500, IF_OPER_UP);
	/* Another request's message in the same datagram is skipped. */
	link_msg(&d, 8, 3, "other", 0, 1500, IF_OPER_DOWN);
	CHECK_EQ_INT(parse(&d, 7), RTNL_MORE);
	CHECK_EQ_INT(n_got, 2);
	CHECK_EQ_INT(got[1].kind, RTNL_LINK);
	CHECK_EQ_INT(got[1].link.index, 2);
	CHECK_EQ_STR(got[1].link.name, "eth0");
	CHECK_EQ_INT(got[1].link.mtu, 1500);
	CHECK_EQ_INT(got[1].link.operstate, IF_OPER_UP);
	CHECK_EQ_INT(got[1].link.flags, IFF_UP | IFF_BROADCAST | IFF_LOWER_UP);
	CHECK_EQ_INT(got[1].link.mac_len, 6);
	CHECK_EQ_INT(got[1].link.mac[5], 2);

	struct dgram end = {0};
	done_msg(&end, 7, 0);
	CHECK_EQ_INT(parse(&end, 7), RTNL_DONE);
	CHECK_EQ_INT(n_got, 0);
	/* A dump that failed half-way: its errno. */
	struct dgram bad = {0};
	done_msg(&bad, 7, -EINTR);
	CHECK_EQ_INT(parse(&bad, 7), -EINTR);
}

static void test_addrs(void)
{
	struct dgram d = {0};
	struct ifaddrmsg ifa = {.ifa_family = AF_INET6,
				.ifa_prefixlen = 64,
				.ifa_scope = RT_SCOPE_UNIVERSE,
				.ifa_index = 2};
	uint8_t a6[16], a4[4], peer4[4];

	inet_pton(AF_INET6, "fd77::2", a6);
	msg_begin(&d, RTM_NEWADDR, 5);
	raw(&d, &ifa, sizeof(ifa));
	attr(&d, IFA_ADDRESS, a6, 16);
	attr_u32(&d, IFA_FLAGS, IFA_F_PERMANENT | IFA_F_TENTATIVE);
	msg_end(&d);

	struct ifaddrmsg ifa4 = {.ifa_family = AF_INET, .ifa_prefixlen = 32, .ifa_index = 3};
	inet_pton(AF_INET, "10.0.0.1", a4);
	inet_pton(AF_INET, "10.0.0.9", peer4);
	msg_begin(&d, RTM_NEWADDR, 5);
	raw(&d, &ifa4, sizeof(ifa4));
	attr(&d, IFA_LOCAL, a4, 4);
	attr(&d, IFA_ADDRESS, peer4, 4);
	attr(&d, IFA_LABEL, "tun0", 5);
	msg_end(&d);

	/* Another family (AF_PACKET, say) is skipped, not an error. */
	struct ifaddrmsg other = {.ifa_family = AF_PACKET};
	msg_begin(&d, RTM_NEWADDR, 5);
	raw(&d, &other, sizeof(other));
	msg_end(&d);

	CHECK_EQ_INT(parse(&d, 5), RTNL_MORE);
	CHECK_EQ_INT(n_got, 2);
	CHECK_EQ_INT(got[0].addr.addr.family, AF_INET6);
	CHECK_EQ_INT(got[0].addr.addr.plen, 64);
	CHECK(memcmp(got[0].addr.addr.addr, a6, 16) == 0);
	CHECK_EQ_INT(got[0].addr.flags, IFA_F_PERMANENT | IFA_F_TENTATIVE);
	CHECK(!got[0].addr.has_peer);
	CHECK_EQ_INT(got[1].addr.index, 3);
	CHECK(memcmp(got[1].addr.addr.addr, a4, 4) == 0);
	CHECK(got[1].addr.has_peer);
	CHECK(memcmp(got[1].addr.peer, peer4, 4) == 0);
	CHECK_EQ_STR(got[1].addr.label, "tun0");
}

static void test_routes_roundtrip(void)
{
	struct net_route r = {0}, r2 = {0};
	uint8_t msg[256];

	/* Our own route request, read back as if it were a dump message. */
	CHECK_EQ_INT(net_parse_prefix("10.8.0.0/16", 0, true, &r.dst), 0);
	r.has_gw = true;
	inet_pton(AF_INET, "192.168.1.254", r.gw);
	size_t n = rtnl_route_request(msg, sizeof(msg), true, &r, 4, 99);
	CHECK(n > 0);
	struct nlmsghdr h;
	memcpy(&h, msg, sizeof(h));
	CHECK_EQ_INT(h.nlmsg_len, n);
	CHECK_EQ_INT(h.nlmsg_type, RTM_NEWROUTE);
	CHECK_EQ_INT(h.nlmsg_flags, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL);
	n_got = 0;
	CHECK_EQ_INT(rtnl_parse_dump(msg, n, 99, keep, &n_got), RTNL_MORE);
	CHECK_EQ_INT(n_got, 1);
	const struct rtnl_route *g = &got[0].route;
	CHECK(memcmp(&g->dst, &r.dst, sizeof(r.dst)) == 0);
	CHECK(g->has_gw && memcmp(g->gw, r.gw, 16) == 0);
	CHECK_EQ_INT(g->oif, 4);
	CHECK_EQ_INT(g->table, RT_TABLE_MAIN);
	CHECK_EQ_INT(g->protocol, RTPROT_STATIC);
	CHECK_EQ_INT(g->scope, RT_SCOPE_UNIVERSE);

	/* An IPv6 on-link default route: no RTA_DST, no gateway, scope link. */
	r2.dst.family = AF_INET6;
	n = rtnl_route_request(msg, sizeof(msg), true, &r2, 2, 1);
	n_got = 0;
	CHECK_EQ_INT(rtnl_parse_dump(msg, n, 1, keep, &n_got), RTNL_MORE);
	CHECK_EQ_INT(n_got, 1);
	CHECK_EQ_INT(got[0].route.dst.family, AF_INET6);
	CHECK_EQ_INT(got[0].route.dst.plen, 0);
	CHECK(!got[0].route.has_gw);
	CHECK_EQ_INT(got[0].route.scope, RT_SCOPE_LINK);

	/* A delete matches any protocol; too small a buffer gives 0. */
	n = rtnl_route_request(msg, sizeof(msg), false, &r, 0, 2);
	memcpy(&h, msg, sizeof(h));
	CHECK_EQ_INT(h.nlmsg_type, RTM_DELROUTE);
	CHECK_EQ_INT(h.nlmsg_flags, NLM_F_REQUEST | NLM_F_ACK);
	CHECK_EQ_INT(rtnl_route_request(msg, 20, true, &r, 4, 99), 0);
	r.dst.family = AF_PACKET;
	CHECK_EQ_INT(rtnl_route_request(msg, sizeof(msg), true, &r, 4, 99), 0);
}

static void test_dump_request(void)
{
	uint8_t buf[64];
	struct nlmsghdr h;
	size_t n = rtnl_dump_request(buf, sizeof(buf), RTM_GETROUTE, AF_INET6, 42);

	CHECK_EQ_INT(n, NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(struct rtmsg)));
	memcpy(&h, buf, sizeof(h));
	CHECK_EQ_INT(h.nlmsg_len, n);
	CHECK_EQ_INT(h.nlmsg_type, RTM_GETROUTE);
	CHECK_EQ_INT(h.nlmsg_flags, NLM_F_REQUEST | NLM_F_DUMP);
	CHECK_EQ_INT(h.nlmsg_seq, 42);
	CHECK_EQ_INT(buf[NLMSG_HDRLEN], AF_INET6);
	CHECK_EQ_INT(rtnl_dump_request(buf, sizeof(buf), RTM_NEWLINK, 0, 1), 0);
	CHECK_EQ_INT(rtnl_dump_request(buf, 8, RTM_GETLINK, 0, 1), 0);
}

static void test_errors_and_acks(void)
{
	struct dgram d = {0};
	struct nlmsgerr e = {.error = -EEXIST};

	msg_begin(&d, NLMSG_ERROR, 3);
	raw(&d, &e, sizeof(e));
	msg_end(&d);
	CHECK_EQ_INT(parse(&d, 3), -EEXIST);
	CHECK_EQ_INT(rtnl_parse_ack(d.buf, d.len, 3), -EEXIST);
	CHECK_EQ_INT(rtnl_parse_ack(d.buf, d.len, 4), -EBADMSG);
	e.error = 0;
	memcpy(d.buf + NLMSG_HDRLEN, &e, sizeof(e));
	CHECK_EQ_INT(rtnl_parse_ack(d.buf, d.len, 3), 0);
}

static void test_malformed(void)
{
	struct dgram d = {0};

	link_msg(&d, 1, 2, "eth0", IFF_UP, 1500, IF_OPER_UP);
	/* Cut anywhere inside the message: refused, never read past. */
	for (size_t cut = 1; cut < d.len; cut++) {
		int r = rtnl_parse_dump(d.buf, cut, 1, keep, &n_got);
		CHECK(r == -EBADMSG || r == RTNL_MORE);
		if (cut < NLMSG_HDRLEN)
			CHECK_EQ_INT(r, -EBADMSG);
	}
	/* An attribute longer than its message. */
	struct dgram b = d;
	uint16_t big = 200;
	memcpy(b.buf + NLMSG_HDRLEN + sizeof(struct ifinfomsg), &big, 2);
	CHECK_EQ_INT(parse(&b, 1), -EBADMSG);
	/* A header length past the datagram. */
	b = d;
	uint32_t len = (uint32_t)d.len + 4;
	memcpy(b.buf, &len, 4);
	CHECK_EQ_INT(parse(&b, 1), -EBADMSG);
	/* A prefix longer than the family allows. */
	struct dgram r = {0};
	struct rtmsg rtm = {.rtm_family = AF_INET, .rtm_dst_len = 33};
	msg_begin(&r, RTM_NEWROUTE, 1);
	raw(&r, &rtm, sizeof(rtm));
	msg_end(&r);
	CHECK_EQ_INT(parse(&r, 1), -EBADMSG);
	/* A name without its NUL is cut at the field's size. */
	struct dgram nn = {0};
	link_msg(&nn, 1, 2, "abcdefghijklmno", 0, 1500, 0);
	CHECK_EQ_INT(parse(&nn, 1), RTNL_MORE);
	CHECK_EQ_STR(got[0].link.name, "abcdefghijklmno");
}

int main(void)
{
	RUN(test_links);
	RUN(test_addrs);
	RUN(test_routes_roundtrip);
	RUN(test_dump_request);
	RUN(test_errors_and_acks);
	RUN(test_malformed);
	return check_summary();
}
