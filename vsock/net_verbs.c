/* Verbs for network links, addresses, routes, resolv.conf and hosts
 * (docs/network.md). Lists are read back from the kernel with rtnetlink
 * dumps; changes go through init/net.c. Each netlink operation waits at
 * most NET_NL_TIMEOUT_MS for the kernel's replies (init/nlsock.c); a verb
 * makes at most three (addrs by MAC: the lookup, links, addresses). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <linux/if.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>

#include "init/net.h"
#include "vsock/conn.h"

/* {"ok":false,"error":"net_error","message":"WHAT: strerror","errno":N} */
static void net_error(struct conn *c, const char *what, int err)
{
	char buf[512], msg[320];
	struct jw w;

	snprintf(msg, sizeof(msg), "%s: %s", what, strerror(err));
	jw_init(&w, buf, sizeof(buf));
	jw_error_open(&w, "net_error", msg);
	jw_key(&w, "errno");
	jw_i64(&w, err);
	jw_obj_close(&w);
	conn_queue_reply(c, &w);
}

static void reply_ok(struct conn *c)
{
	char buf[32];
	struct jw w;

	jw_init(&w, buf, sizeof(buf));
	reply_ok_open(&w);
	jw_obj_close(&w);
	conn_queue_reply(c, &w);
}

static void bad_arg(struct conn *c, const char *fmt, const char *word)
{
	char msg[256];

	snprintf(msg, sizeof(msg), fmt, word);
	conn_queue_error(c, "bad_argument", msg);
}

/* ---- names for numbers ---- */

static const char *operstate_name(uint8_t s)
{
	static const char *const names[] = {"unknown", "notpresent", "down", "lowerlayerdown",
					    "testing", "dormant",    "up"};
	return s < sizeof(names) / sizeof(names[0]) ? names[s] : "unknown";
}

static const char *scope_name(uint8_t s)
{
	switch (s) {
	case RT_SCOPE_UNIVERSE:
		return "global";
	case RT_SCOPE_SITE:
		return "site";
	case RT_SCOPE_LINK:
		return "link";
	case RT_SCOPE_HOST:
		return "host";
	case RT_SCOPE_NOWHERE:
		return "nowhere";
	}
	return "other";
}

static const char *proto_name(uint8_t p)
{
	switch (p) {
	case RTPROT_KERNEL:
		return "kernel";
	case RTPROT_BOOT:
		return "boot";
	case RTPROT_STATIC:
		return "static";
	case RTPROT_RA:
		return "ra";
	case RTPROT_DHCP:
		return "dhcp";
	}
	return "other";
}

static const char *rtype_name(uint8_t t)
{
	static const char *const names[] = {"unspec",	"unicast",   "local",	  "broadcast",
					    "anycast",	"multicast", "blackhole", "unreachable",
					    "prohibit", "throw",     "nat"};
	return t < sizeof(names) / sizeof(names[0]) ? names[t] : "other";
}

static const char *family_name(uint8_t f)
{
	return f == AF_INET6 ? "inet6" : "inet";
}

struct flag_name {
	unsigned bit;
	const char *name;
};

/* In the order `ip link` prints them. */
static const struct flag_name link_flags[] = {
    {IFF_LOOPBACK, "LOOPBACK"},
    {IFF_BROADCAST, "BROADCAST"},
    {IFF_POINTOPOINT, "POINTOPOINT"},
    {IFF_MULTICAST, "MULTICAST"},
    {IFF_NOARP, "NOARP"},
    {IFF_ALLMULTI, "ALLMULTI"},
    {IFF_PROMISC, "PROMISC"},
    {IFF_UP, "UP"},
    {IFF_LOWER_UP, "LOWER_UP"},
    {IFF_DORMANT, "DORMANT"},
};

static const struct flag_name addr_flags[] = {
    {IFA_F_SECONDARY, "secondary"},	{IFA_F_NODAD, "nodad"},
    {IFA_F_OPTIMISTIC, "optimistic"},	{IFA_F_DADFAILED, "dadfailed"},
    {IFA_F_HOMEADDRESS, "homeaddress"}, {IFA_F_DEPRECATED, "deprecated"},
    {IFA_F_TENTATIVE, "tentative"},	{IFA_F_PERMANENT, "permanent"},
};

static void put_flags(struct jw *w, unsigned flags, const struct flag_name *names, size_t n)
{
	jw_key(w, "flags");
	jw_arr_open(w);
	for (size_t i = 0; i < n; i++)
		if (flags & names[i].bit)
			jw_str(w, names[i].name);
	jw_arr_close(w);
}

/* ---- lists ---- */

struct lists {
	struct rtnl_item *links, *items;
	size_t n_links, n_items;
	const char *dev; /* addrs DEV: only this link */
	int dev_index;
	uint8_t family; /* routes inet|inet6; 0: both */
};

static int by_index(const void *a, const void *b)
{
	int x = ((const struct rtnl_item *)a)->link.index;
	int y = ((const struct rtnl_item *)b)->link.index;

	return (x > y) - (x < y);
}

/* Binary search: links are sorted by load_lists, and a list of thousands
 * of addresses looks a link up for each. */
static const char *link_name(const struct lists *l, int index)
{
	struct rtnl_item key = {.kind = RTNL_LINK, .link.index = index};
	const struct rtnl_item *k;

	if (!l->n_links)
		return NULL;
	k = bsearch(&key, l->links, l->n_links, sizeof(*l->links), by_index);
	return k ? k->link.name : NULL;
}

/* The longest entry a list writes (a link: a 15-byte name with every byte
 * escaped as \uXXXX, a 32-byte hardware address, every flag) is under 480
 * bytes, so NET_DUMP_MAX entries always fit the biggest reply. */
_Static_assert(NET_DUMP_MAX * 480 + 64 <= OUT_MAX_REPLY, "a full list must fit one reply");

static void put_addr_field(struct jw *w, const char *key, uint8_t family, const uint8_t *a)
{
	struct net_prefix p = {.family = family};
	char s[NET_ADDRSTR_MAX];

	memcpy(p.addr, a, sizeof(p.addr));
	net_format_prefix(&p, false, s, sizeof(s));
	jw_key(w, key);
	jw_str(w, s);
}

static void fill_links(struct conn *c, struct jw *w, void *ctx)
{
	const struct lists *l = ctx;
	char mac[100];

	(void)c;
	reply_ok_open(w);
	jw_key(w, "links");
	jw_arr_open(w);
	for (size_t i = 0; i < l->n_links; i++) {
		const struct rtnl_link *k = &l->links[i].link;
		jw_obj_open(w);
		jw_key(w, "index");
		jw_i64(w, k->index);
		jw_key(w, "name");
		jw_str(w, k->name);
		jw_key(w, "mac");
		net_format_mac(k->mac, k->mac_len, mac, sizeof(mac));
		jw_str(w, mac);
		jw_key(w, "mtu");
		jw_u64(w, k->mtu);
		jw_key(w, "up");
		jw_bool(w, k->flags & IFF_UP);
		jw_key(w, "operstate");
		jw_str(w, operstate_name(k->operstate));
		put_flags(w, k->flags, link_flags, sizeof(link_flags) / sizeof(link_flags[0]));
		jw_obj_close(w);
	}
	jw_arr_close(w);
	jw_obj_close(w);
}

static void fill_addrs(struct conn *c, struct jw *w, void *ctx)
{
	const struct lists *l = ctx;
	char s[NET_ADDRSTR_MAX];

	(void)c;
	reply_ok_open(w);
	jw_key(w, "addrs");
	jw_arr_open(w);
	for (size_t i = 0; i < l->n_items; i++) {
		const struct rtnl_addr *a = &l->items[i].addr;
		const char *dev = link_name(l, a->index);
		if (l->dev && a->index != l->dev_index)
			continue;
		jw_obj_open(w);
		jw_key(w, "dev");
		jw_str(w, dev ? dev : "");
		jw_key(w, "index");
		jw_i64(w, a->index);
		jw_key(w, "family");
		jw_str(w, family_name(a->addr.family));
		jw_key(w, "addr");
		net_format_prefix(&a->addr, false, s, sizeof(s));
		jw_str(w, s);
		jw_key(w, "prefix");
		jw_u64(w, a->addr.plen);
		if (a->has_peer)
			put_addr_field(w, "peer", a->addr.family, a->peer);
		jw_key(w, "scope");
		jw_str(w, scope_name(a->scope));
		put_flags(w, a->flags, addr_flags, sizeof(addr_flags) / sizeof(addr_flags[0]));
		jw_obj_close(w);
	}
	jw_arr_close(w);
	jw_obj_close(w);
}

static void fill_routes(struct conn *c, struct jw *w, void *ctx)
{
	const struct lists *l = ctx;
	char s[NET_ADDRSTR_MAX];

	(void)c;
	reply_ok_open(w);
	jw_key(w, "routes");
	jw_arr_open(w);
	for (size_t i = 0; i < l->n_items; i++) {
		const struct rtnl_route *r = &l->items[i].route;
		if (r->table != RT_TABLE_MAIN)
			continue;
		jw_obj_open(w);
		jw_key(w, "family");
		jw_str(w, family_name(r->dst.family));
		jw_key(w, "dst");
		if (r->dst.plen == 0)
			jw_str(w, "default");
		else {
			net_format_prefix(&r->dst, true, s, sizeof(s));
			jw_str(w, s);
		}
		if (r->has_gw)
			put_addr_field(w, "gateway", r->dst.family, r->gw);
		jw_key(w, "dev");
		const char *dev = r->oif ? link_name(l, r->oif) : NULL;
		if (dev)
			jw_str(w, dev);
		else
			jw_null(w);
		if (r->has_prefsrc)
			put_addr_field(w, "prefsrc", r->dst.family, r->prefsrc);
		jw_key(w, "protocol");
		jw_str(w, proto_name(r->protocol));
		jw_key(w, "scope");
		jw_str(w, scope_name(r->scope));
		jw_key(w, "type");
		jw_str(w, rtype_name(r->type));
		jw_key(w, "metric");
		jw_u64(w, r->priority);
		jw_key(w, "table");
		jw_str(w, "main");
		jw_obj_close(w);
	}
	jw_arr_close(w);
	jw_obj_close(w);
}

/* Dumps links, then (type != RTM_GETLINK) the items; replies itself on
 * error. */
static int load_lists(struct conn *c, struct lists *l, uint16_t type)
{
	int r = net_dump(RTM_GETLINK, AF_UNSPEC, &l->links, &l->n_links);

	if (r == 0 && type != RTM_GETLINK)
		r = net_dump(type, l->family, &l->items, &l->n_items);
	if (r == 0 && l->n_links)
		qsort(l->links, l->n_links, sizeof(*l->links), by_index);
	if (r < 0) {
		const char *list = type == RTM_GETLINK	 ? "links"
				   : type == RTM_GETADDR ? "addresses"
							 : "routes";
		char what[160];
		if (r == -EMSGSIZE)
			snprintf(what, sizeof(what),
				 "listing %s: more than %d, the most one reply holds", list,
				 NET_DUMP_MAX);
		else if (r == -ETIMEDOUT)
			snprintf(what, sizeof(what),
				 "listing %s: the kernel's reply did not end within %d ms", list,
				 NET_NL_TIMEOUT_MS);
		else
			snprintf(what, sizeof(what), "listing %s", list);
		net_error(c, what, -r);
		return -1;
	}
	return 0;
}

static void free_lists(struct lists *l)
{
	free(l->links);
	free(l->items);
}

static void verb_links(struct conn *c, int argc, char **argv)
{
	struct lists l = {0};

	(void)argc, (void)argv;
	if (load_lists(c, &l, RTM_GETLINK) == 0)
		conn_queue_big_reply(c, fill_links, &l);
	free_lists(&l);
}

static void verb_addrs(struct conn *c, int argc, char **argv)
{
	struct lists l = {0};
	char what[96];

	if (argc == 1) {
		l.dev = argv[0];
		l.dev_index = net_link_index(argv[0]);
		if (l.dev_index < 0) {
			snprintf(what, sizeof(what), "link %.64s", argv[0]);
			net_error(c, what, -l.dev_index);
			return;
		}
	}
	if (load_lists(c, &l, RTM_GETADDR) == 0)
		conn_queue_big_reply(c, fill_addrs, &l);
	free_lists(&l);
}

static int parse_family(const char *s, uint8_t *out)
{
	if (!strcmp(s, "inet") || !strcmp(s, "-4"))
		*out = AF_INET;
	else if (!strcmp(s, "inet6") || !strcmp(s, "-6"))
		*out = AF_INET6;
	else
		return -1;
	return 0;
}

static void verb_routes(struct conn *c, int argc, char **argv)
{
	struct lists l = {0};

	if (argc == 1 && parse_family(argv[0], &l.family) < 0) {
		bad_arg(c, "\"%.64s\": expected inet or inet6", argv[0]);
		return;
	}
	if (load_lists(c, &l, RTM_GETROUTE) == 0)
		conn_queue_big_reply(c, fill_routes, &l);
	free_lists(&l);
}

/* ---- changes ---- */

/* The link's index, or -1 after an error reply. */
static int link_or_error(struct conn *c, const char *dev)
{
	char what[96];
	int index = net_link_index(dev);

	if (index < 0) {
		snprintf(what, sizeof(what), "link %.64s", dev);
		net_error(c, what, -index);
		return -1;
	}
	return index;
}

static void verb_link(struct conn *c, int argc, char **argv)
{
	char what[128];
	unsigned long mtu = 0;
	char *end;
	int r, index;

	bool up = !strcmp(argv[1], "up"), down = !strcmp(argv[1], "down");
	bool set_mtu = !strcmp(argv[1], "mtu");
	if (!((up || down) && argc == 2) && !(set_mtu && argc == 3)) {
		conn_queue_error(c, "bad_argument", "usage: link DEV up|down|mtu N");
		return;
	}
	if (set_mtu) {
		mtu = strtoul(argv[2], &end, 10);
		if (argv[2][0] < '0' || argv[2][0] > '9' || *end || mtu < 68 || mtu > 65535) {
			bad_arg(c, "mtu \"%.32s\": expected 68..65535", argv[2]);
			return;
		}
	}
	if ((index = link_or_error(c, argv[0])) < 0)
		return;
	if (set_mtu) {
		r = net_link_set_mtu(index, (unsigned)mtu);
		snprintf(what, sizeof(what), "link %.64s mtu %lu", argv[0], mtu);
	} else {
		r = net_link_set_up(index, up);
		snprintf(what, sizeof(what), "link %.64s %s", argv[0], up ? "up" : "down");
	}
	if (r < 0)
		net_error(c, what, -r);
	else
		reply_ok(c);
}

static void verb_addr(struct conn *c, int argc, char **argv)
{
	struct net_prefix p;
	char what[160];
	int index, r;

	(void)argc;
	bool add = !strcmp(argv[0], "add");
	if (!add && strcmp(argv[0], "del") != 0) {
		conn_queue_error(c, "bad_argument", "usage: addr add|del DEV ADDR/PREFIX");
		return;
	}
	if (net_parse_prefix(argv[2], 0, true, &p) < 0) {
		bad_arg(c, "\"%.64s\": expected an IPv4 or IPv6 ADDR/PREFIX", argv[2]);
		return;
	}
	if ((index = link_or_error(c, argv[1])) < 0)
		return;
	r = net_addr_change(add, index, &p);
	snprintf(what, sizeof(what), "addr %s %.64s dev %.64s", argv[0], argv[2], argv[1]);
	if (r < 0)
		net_error(c, what, -r);
	else
		reply_ok(c);
}

/* route add|del DEST [via GW] [dev DEV] */
static void verb_route(struct conn *c, int argc, char **argv)
{
	static const char usage[] = "usage: route add|del DEST/PREFIX|default [via GW] [dev DEV]";
	struct net_route rt;
	struct net_prefix gw;
	const char *via = NULL, *dev = NULL;
	char what[256];
	int oif = 0, r;

	bool add = !strcmp(argv[0], "add");
	if (!add && strcmp(argv[0], "del") != 0) {
		conn_queue_error(c, "bad_argument", usage);
		return;
	}
	for (int i = 2; i < argc; i += 2) {
		if (i + 1 >= argc || (strcmp(argv[i], "via") && strcmp(argv[i], "dev"))) {
			conn_queue_error(c, "bad_argument", usage);
			return;
		}
		*(argv[i][0] == 'v' ? &via : &dev) = argv[i + 1];
	}
	memset(&rt, 0, sizeof(rt));
	if (via && net_parse_prefix(via, 0, false, &gw) < 0) {
		bad_arg(c, "gateway \"%.64s\": expected an IPv4 or IPv6 address", via);
		return;
	}
	if (!strcmp(argv[1], "default")) {
		if (!via) {
			conn_queue_error(c, "bad_argument",
					 "default needs via GW (or give 0.0.0.0/0 or ::/0)");
			return;
		}
		rt.dst.family = gw.family;
	} else if (net_parse_prefix(argv[1], via ? gw.family : 0, true, &rt.dst) < 0) {
		bad_arg(c, "destination \"%.64s\": expected DEST/PREFIX of the gateway's family",
			argv[1]);
		return;
	} else if (!net_prefix_is_network(&rt.dst)) {
		bad_arg(c, "destination \"%.64s\" has host bits set past its prefix", argv[1]);
		return;
	}
	if (via) {
		rt.has_gw = true;
		memcpy(rt.gw, gw.addr, sizeof(rt.gw));
	}
	if (!via && !dev) {
		conn_queue_error(c, "bad_argument", "a route needs via GW, dev DEV, or both");
		return;
	}
	if (dev && (oif = link_or_error(c, dev)) < 0)
		return;
	r = net_route_change(add, &rt, oif);
	snprintf(what, sizeof(what), "route %s %.64s%s%.64s%s%.64s", argv[0], argv[1],
		 via ? " via " : "", via ? via : "", dev ? " dev " : "", dev ? dev : "");
	if (r < 0)
		net_error(c, what, -r);
	else
		reply_ok(c);
}

/* ---- resolv.conf and hosts ---- */

static void reply_written(struct conn *c, const char *path, size_t bytes)
{
	char buf[256];
	struct jw w;

	jw_init(&w, buf, sizeof(buf));
	reply_ok_open(&w);
	jw_key(&w, "path");
	jw_str(&w, path);
	jw_key(&w, "bytes");
	jw_u64(&w, bytes);
	jw_obj_close(&w);
	conn_queue_reply(c, &w);
}

/* Returns 0 when written; else the error reply is queued. */
static int write_file_reply(struct conn *c, const char *path, const char *data, size_t len)
{
	char msg[256];
	int r = net_write_file(path, data, len);

	if (r < 0) {
		snprintf(msg, sizeof(msg), "writing %s: %s", path, strerror(-r));
		conn_queue_error(c, "write_failed", msg);
		return -1;
	}
	reply_written(c, path, len);
	return 0;
}

/* resolv NAMESERVERS|- [SEARCH]: the whole file, like task.net.dns and
 * task.net.search together. The agent's config follows a successful write. */
static void verb_resolv(struct conn *c, int argc, char **argv)
{
	struct net_config *nc = &c->a->cfg.net;
	struct net_config tmp = *nc;
	const char *why;
	char buf[4096];
	size_t len;

	if (net_config_set(&tmp, "dns", argv[0], &why) < 0 ||
	    net_config_set(&tmp, "search", argc > 1 ? argv[1] : "-", &why) < 0) {
		conn_queue_error(c, "bad_argument", why);
		return;
	}
	len = net_render_resolv(&tmp, buf, sizeof(buf));
	if (!len) {
		conn_queue_error(c, "bad_argument", "resolv.conf too long");
		return;
	}
	if (write_file_reply(c, net_resolv_path(&tmp), buf, len) == 0)
		*nc = tmp;
}

/* hosts NAME=ADDR,...|-: the whole file, like task.net.hosts. */
static void verb_hosts(struct conn *c, int argc, char **argv)
{
	struct net_config *nc = &c->a->cfg.net;
	struct net_config tmp = *nc;
	const char *why;
	char buf[4096];
	size_t len;

	(void)argc;
	if (net_config_set(&tmp, "hosts", argv[0], &why) < 0) {
		conn_queue_error(c, "bad_argument", why);
		return;
	}
	len = net_render_hosts(&tmp, buf, sizeof(buf));
	if (!len) {
		conn_queue_error(c, "bad_argument", "hosts too long");
		return;
	}
	if (write_file_reply(c, net_hosts_path(&tmp), buf, len) == 0)
		*nc = tmp;
}

static const struct verb verbs[] = {
    {"links", "links  (index, name, mac, mtu, up, operstate, flags)", 0, 0, false, verb_links},
    {"addrs", "addrs [DEV]  (IPv4 and IPv6 addresses)", 0, 1, false, verb_addrs},
    {"routes", "routes [inet|inet6]  (the main table)", 0, 1, false, verb_routes},
    {"link", "link DEV up|down|mtu N  (DEV: a name or a MAC)", 2, 3, true, verb_link},
    {"addr", "addr add|del DEV ADDR/PREFIX", 3, 3, true, verb_addr},
    {"route", "route add|del DEST/PREFIX|default [via GW] [dev DEV]", 2, 6, true, verb_route},
    {"resolv", "resolv NAMESERVER,...|- [DOMAIN,...]  (rewrites resolv.conf)", 1, 2, true,
     verb_resolv},
    {"hosts", "hosts NAME=ADDR,...|-  (rewrites the hosts file)", 1, 1, true, verb_hosts},
};

const struct verb *net_verbs(size_t *n)
{
	*n = sizeof(verbs) / sizeof(verbs[0]);
	return verbs;
}
