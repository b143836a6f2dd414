/* rtnetlink messages: dump requests, route requests, and the parser for
 * dump replies and acks. Pure: no I/O. The input may be any bytes (it is
 * fuzzed), so every header and attribute is copied out with memcpy, never
 * read in place, and every length is checked against what is left. */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include "init/net.h"

#define ATTR_MAX 64

/* The attributes of one message body, by type (the last one wins). */
struct attrs {
	const uint8_t *p[ATTR_MAX];
	uint16_t len[ATTR_MAX];
};

static int parse_attrs(const uint8_t *p, size_t len, struct attrs *tb)
{
	memset(tb, 0, sizeof(*tb));
	while (len >= sizeof(struct nlattr)) {
		struct nlattr a;
		memcpy(&a, p, sizeof(a));
		if (a.nla_len < sizeof(a) || a.nla_len > len)
			return -EBADMSG;
		unsigned type = a.nla_type & NLA_TYPE_MASK;
		if (type < ATTR_MAX) {
			tb->p[type] = p + NLA_HDRLEN;
			tb->len[type] = (uint16_t)(a.nla_len - NLA_HDRLEN);
		}
		size_t step = NLA_ALIGN(a.nla_len);
		if (step >= len)
			break;
		p += step;
		len -= step;
	}
	return 0;
}

static bool get_u32(const struct attrs *tb, unsigned type, uint32_t *out)
{
	if (!tb->p[type] || tb->len[type] < 4)
		return false;
	memcpy(out, tb->p[type], 4);
	return true;
}

static bool get_addr(const struct attrs *tb, unsigned type, uint8_t family, uint8_t out[16])
{
	size_t n = family == AF_INET ? 4 : 16;

	if (!tb->p[type] || tb->len[type] != n)
		return false;
	memset(out, 0, 16);
	memcpy(out, tb->p[type], n);
	return true;
}

/* A name attribute: up to the first NUL, at most cap - 1 bytes. */
static void get_name(const struct attrs *tb, unsigned type, char *out, size_t cap)
{
	size_t n = 0;

	if (tb->p[type]) {
		const uint8_t *nul = memchr(tb->p[type], 0, tb->len[type]);
		n = nul ? (size_t)(nul - tb->p[type]) : tb->len[type];
		if (n >= cap)
			n = cap - 1;
		memcpy(out, tb->p[type], n);
	}
	out[n] = 0;
}

static int parse_link(const uint8_t *b, size_t len, struct rtnl_item *it)
{
	struct ifinfomsg ifi;
	struct attrs tb;
	uint32_t v;

	if (len < sizeof(ifi))
		return -EBADMSG;
	memcpy(&ifi, b, sizeof(ifi));
	if (parse_attrs(b + NLMSG_ALIGN(sizeof(ifi)), len - NLMSG_ALIGN(sizeof(ifi)), &tb) < 0)
		return -EBADMSG;
	memset(it, 0, sizeof(*it));
	it->kind = RTNL_LINK;
	struct rtnl_link *l = &it->link;
	l->index = ifi.ifi_index;
	l->flags = ifi.ifi_flags;
	l->type = ifi.ifi_type;
	get_name(&tb, IFLA_IFNAME, l->name, sizeof(l->name));
	if (get_u32(&tb, IFLA_MTU, &v))
		l->mtu = v;
	if (tb.p[IFLA_OPERSTATE] && tb.len[IFLA_OPERSTATE] >= 1)
		l->operstate = tb.p[IFLA_OPERSTATE][0];
	if (tb.p[IFLA_ADDRESS] && tb.len[IFLA_ADDRESS] <= sizeof(l->mac)) {
		l->mac_len = (uint8_t)tb.len[IFLA_ADDRESS];
		memcpy(l->mac, tb.p[IFLA_ADDRESS], l->mac_len);
	}
	return 1;
}

/* Returns 1 with an item, 0 for a message of another family. */
static int parse_addr(const uint8_t *b, size_t len, struct rtnl_item *it)
{
	struct ifaddrmsg ifa;
	struct attrs tb;
	uint8_t local[16], address[16];
	uint32_t v;

	if (len < sizeof(ifa))
		return -EBADMSG;
	memcpy(&ifa, b, sizeof(ifa));
	if (ifa.ifa_family != AF_INET && ifa.ifa_family != AF_INET6)
		return 0;
	if (ifa.ifa_prefixlen > (ifa.ifa_family == AF_INET ? 32 : 128))
		return -EBADMSG;
	if (parse_attrs(b + NLMSG_ALIGN(sizeof(ifa)), len - NLMSG_ALIGN(sizeof(ifa)), &tb) < 0)
		return -EBADMSG;
	bool has_local = get_addr(&tb, IFA_LOCAL, ifa.ifa_family, local);
	bool has_address = get_addr(&tb, IFA_ADDRESS, ifa.ifa_family, address);
	if (!has_local && !has_address)
		return 0;
	memset(it, 0, sizeof(*it));
	it->kind = RTNL_ADDR;
	struct rtnl_addr *a = &it->addr;
	a->index = (int)ifa.ifa_index;
	a->addr.family = ifa.ifa_family;
	a->addr.plen = ifa.ifa_prefixlen;
	memcpy(a->addr.addr, has_local ? local : address, 16);
	/* IPv4 sets both; they differ only for a point-to-point peer. */
	if (has_local && has_address && memcmp(local, address, 16) != 0) {
		a->has_peer = true;
		memcpy(a->peer, address, 16);
	}
	a->scope = ifa.ifa_scope;
	a->flags = get_u32(&tb, IFA_FLAGS, &v) ? v : ifa.ifa_flags;
	get_name(&tb, IFA_LABEL, a->label, sizeof(a->label));
	return 1;
}

static int parse_route(const uint8_t *b, size_t len, struct rtnl_item *it)
{
	struct rtmsg rtm;
	struct attrs tb;
	uint32_t v;

	if (len < sizeof(rtm))
		return -EBADMSG;
	memcpy(&rtm, b, sizeof(rtm));
	if (rtm.rtm_family != AF_INET && rtm.rtm_family != AF_INET6)
		return 0;
	if (rtm.rtm_dst_len > (rtm.rtm_family == AF_INET ? 32 : 128))
		return -EBADMSG;
	if (parse_attrs(b + NLMSG_ALIGN(sizeof(rtm)), len - NLMSG_ALIGN(sizeof(rtm)), &tb) < 0)
		return -EBADMSG;
	memset(it, 0, sizeof(*it));
	it->kind = RTNL_ROUTE;
	struct rtnl_route *r = &it->route;
	r->dst.family = rtm.rtm_family;
	r->dst.plen = rtm.rtm_dst_len;
	get_addr(&tb, RTA_DST, rtm.rtm_family, r->dst.addr);
	r->has_gw = get_addr(&tb, RTA_GATEWAY, rtm.rtm_family, r->gw);
	r->has_prefsrc = get_addr(&tb, RTA_PREFSRC, rtm.rtm_family, r->prefsrc);
	if (get_u32(&tb, RTA_OIF, &v))
		r->oif = (int)v;
	r->table = get_u32(&tb, RTA_TABLE, &v) ? v : rtm.rtm_table;
	if (get_u32(&tb, RTA_PRIORITY, &v))
		r->priority = v;
	r->protocol = rtm.rtm_protocol;
	r->scope = rtm.rtm_scope;
	r->type = rtm.rtm_type;
	return 1;
}

/* The error code of an NLMSG_ERROR or NLMSG_DONE body (0: none). */
static int body_error(const uint8_t *b, size_t len, int *err)
{
	int e;

	if (len < sizeof(e))
		return -EBADMSG;
	memcpy(&e, b, sizeof(e));
	/* The kernel sends a negative errno; anything else is an ack. */
	*err = e < 0 && e > -4096 ? e : 0;
	return 0;
}

int rtnl_parse_dump(const void *buf, size_t len, uint32_t seq,
		    void (*item)(void *ctx, const struct rtnl_item *it), void *ctx)
{
	const uint8_t *p = buf;
	struct rtnl_item it;
	int err, r;

	if (len < sizeof(struct nlmsghdr))
		return -EBADMSG;
	while (len >= sizeof(struct nlmsghdr)) {
		struct nlmsghdr h;
		memcpy(&h, p, sizeof(h));
		if (h.nlmsg_len < NLMSG_HDRLEN || h.nlmsg_len > len)
			return -EBADMSG;
		const uint8_t *body = p + NLMSG_HDRLEN;
		size_t blen = h.nlmsg_len - NLMSG_HDRLEN;
		if (h.nlmsg_seq == seq) {
			switch (h.nlmsg_type) {
			case NLMSG_DONE:
				/* A dump that failed half-way says so here. */
				if (blen >= sizeof(int) && body_error(body, blen, &err) == 0 && err)
					return err;
				return RTNL_DONE;
			case NLMSG_ERROR:
				if (body_error(body, blen, &err) < 0)
					return -EBADMSG;
				return err ? err : RTNL_DONE;
			case RTM_NEWLINK:
				r = parse_link(body, blen, &it);
				break;
			case RTM_NEWADDR:
				r = parse_addr(body, blen, &it);
				break;
			case RTM_NEWROUTE:
				r = parse_route(body, blen, &it);
				break;
			default:
				r = 0;
			}
			if (r < 0)
				return r;
			if (r > 0 && item)
				item(ctx, &it);
		}
		size_t step = NLMSG_ALIGN(h.nlmsg_len);
		if (step >= len)
			break;
		p += step;
		len -= step;
	}
	return RTNL_MORE;
}

int rtnl_parse_ack(const void *buf, size_t len, uint32_t seq)
{
	const uint8_t *p = buf;
	int err;

	while (len >= sizeof(struct nlmsghdr)) {
		struct nlmsghdr h;
		memcpy(&h, p, sizeof(h));
		if (h.nlmsg_len < NLMSG_HDRLEN || h.nlmsg_len > len)
			return -EBADMSG;
		if (h.nlmsg_seq == seq && h.nlmsg_type == NLMSG_ERROR) {
			if (body_error(p + NLMSG_HDRLEN, h.nlmsg_len - NLMSG_HDRLEN, &err) < 0)
				return -EBADMSG;
			return err;
		}
		size_t step = NLMSG_ALIGN(h.nlmsg_len);
		if (step >= len)
			break;
		p += step;
		len -= step;
	}
	return -EBADMSG;
}

/* ---- building requests ---- */

struct msg {
	uint8_t *buf;
	size_t cap, len;
	bool overflow;
};

static void put(struct msg *m, const void *data, size_t n)
{
	size_t padded = NLMSG_ALIGN(n);

	if (m->overflow || padded > m->cap - m->len) {
		m->overflow = true;
		return;
	}
	memcpy(m->buf + m->len, data, n);
	memset(m->buf + m->len + n, 0, padded - n);
	m->len += padded;
}

static void put_attr(struct msg *m, uint16_t type, const void *data, size_t n)
{
	struct nlattr a = {.nla_len = (uint16_t)(NLA_HDRLEN + n), .nla_type = type};

	put(m, &a, sizeof(a));
	put(m, data, n);
}

/* Writes the final length into the header; 0 on overflow. */
static size_t finish(struct msg *m)
{
	if (m->overflow)
		return 0;
	uint32_t len = (uint32_t)m->len;
	memcpy(m->buf + offsetof(struct nlmsghdr, nlmsg_len), &len, sizeof(len));
	return m->len;
}

size_t rtnl_dump_request(void *buf, size_t cap, uint16_t type, uint8_t family, uint32_t seq)
{
	struct msg m = {buf, cap, 0, false};
	struct nlmsghdr h = {
	    .nlmsg_type = type, .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP, .nlmsg_seq = seq};

	put(&m, &h, sizeof(h));
	if (type == RTM_GETLINK) {
		struct ifinfomsg ifi = {.ifi_family = family};
		put(&m, &ifi, sizeof(ifi));
	} else if (type == RTM_GETADDR) {
		struct ifaddrmsg ifa = {.ifa_family = family};
		put(&m, &ifa, sizeof(ifa));
	} else if (type == RTM_GETROUTE) {
		struct rtmsg rtm = {.rtm_family = family};
		put(&m, &rtm, sizeof(rtm));
	} else {
		return 0;
	}
	return finish(&m);
}

size_t rtnl_route_request(void *buf, size_t cap, bool add, const struct net_route *r, int oif,
			  uint32_t seq)
{
	struct msg m = {buf, cap, 0, false};
	size_t alen = r->dst.family == AF_INET ? 4 : 16;
	struct nlmsghdr h = {.nlmsg_type = add ? RTM_NEWROUTE : RTM_DELROUTE,
			     .nlmsg_flags =
				 NLM_F_REQUEST | NLM_F_ACK | (add ? NLM_F_CREATE | NLM_F_EXCL : 0),
			     .nlmsg_seq = seq};
	/* A delete matches any protocol and scope, as `ip route del` does. */
	struct rtmsg rtm = {.rtm_family = r->dst.family,
			    .rtm_dst_len = r->dst.plen,
			    .rtm_table = RT_TABLE_MAIN,
			    .rtm_protocol = add ? RTPROT_STATIC : 0,
			    .rtm_scope = !add	     ? RT_SCOPE_NOWHERE
					 : r->has_gw ? RT_SCOPE_UNIVERSE
						     : RT_SCOPE_LINK,
			    .rtm_type = RTN_UNICAST};

	if (r->dst.family != AF_INET && r->dst.family != AF_INET6)
		return 0;
	if (r->dst.plen > alen * 8)
		return 0;
	put(&m, &h, sizeof(h));
	put(&m, &rtm, sizeof(rtm));
	if (r->dst.plen)
		put_attr(&m, RTA_DST, r->dst.addr, alen);
	if (r->has_gw)
		put_attr(&m, RTA_GATEWAY, r->gw, alen);
	if (oif > 0) {
		uint32_t v = (uint32_t)oif;
		put_attr(&m, RTA_OIF, &v, sizeof(v));
	}
	return finish(&m);
}
