/* task.net.* keys and the resolv.conf / hosts contents. Pure: no I/O, no
 * agent. docs/network.md is the reference for the syntax. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "init/net.h"

void net_config_defaults(struct net_config *n)
{
	memset(n, 0, sizeof(*n));
	n->wait_ms = NET_WAIT_MS;
}

const char *net_resolv_path(const struct net_config *n)
{
	return n->resolv_path[0] ? n->resolv_path : "/etc/resolv.conf";
}

const char *net_hosts_path(const struct net_config *n)
{
	return n->hosts_path[0] ? n->hosts_path : "/etc/hosts";
}

bool net_ifname_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n >= NET_IFNAME_MAX || !strcmp(s, ".") || !strcmp(s, ".."))
		return false;
	for (; *s; s++)
		if (*s == '/' || *s == ':' || isspace((unsigned char)*s) ||
		    !isprint((unsigned char)*s))
			return false;
	return true;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)tolower((unsigned char)c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

int net_parse_mac(const char *s, uint8_t mac[6])
{
	uint8_t tmp[6];

	if (strlen(s) != 17)
		return -1;
	for (int i = 0; i < 6; i++) {
		const char *p = s + 3 * i;
		int hi = hexval(p[0]), lo = hexval(p[1]);
		if (hi < 0 || lo < 0 || (i < 5 && p[2] != ':' && p[2] != '-'))
			return -1;
		tmp[i] = (uint8_t)(hi << 4 | lo);
	}
	memcpy(mac, tmp, 6);
	return 0;
}

int net_parse_prefix(const char *s, int family, bool want_plen, struct net_prefix *out)
{
	char addr[NET_ADDRSTR_MAX];
	const char *slash = strchr(s, '/');
	size_t alen = slash ? (size_t)(slash - s) : strlen(s);
	struct net_prefix p = {0};
	unsigned long plen;
	char *end;

	if (alen == 0 || alen >= sizeof(addr) || (want_plen && !slash) || (!want_plen && slash))
		return -1;
	memcpy(addr, s, alen);
	addr[alen] = 0;
	if ((family == 0 || family == AF_INET) && inet_pton(AF_INET, addr, p.addr) == 1)
		p.family = AF_INET;
	else if ((family == 0 || family == AF_INET6) && inet_pton(AF_INET6, addr, p.addr) == 1)
		p.family = AF_INET6;
	else
		return -1;
	p.plen = p.family == AF_INET ? 32 : 128;
	if (slash) {
		if (!isdigit((unsigned char)slash[1]))
			return -1;
		errno = 0;
		plen = strtoul(slash + 1, &end, 10);
		if (errno || *end || plen > p.plen || end - (slash + 1) > 3)
			return -1;
		p.plen = (uint8_t)plen;
	}
	*out = p;
	return 0;
}

bool net_prefix_is_network(const struct net_prefix *p)
{
	unsigned bytes = p->family == AF_INET ? 4 : 16;

	for (unsigned i = 0; i < bytes; i++) {
		unsigned keep = p->plen >= 8 * (i + 1) ? 8 : p->plen > 8 * i ? p->plen - 8 * i : 0;
		uint8_t mask = keep ? (uint8_t)(0xff << (8 - keep)) : 0;
		if (p->addr[i] & (uint8_t)~mask)
			return false;
	}
	return true;
}

void net_format_prefix(const struct net_prefix *p, bool with_plen, char *buf, size_t cap)
{
	char a[NET_ADDRSTR_MAX];

	if (!inet_ntop(p->family == AF_INET6 ? AF_INET6 : AF_INET, p->addr, a, sizeof(a)))
		snprintf(a, sizeof(a), "?");
	if (with_plen)
		snprintf(buf, cap, "%s/%u", a, p->plen);
	else
		snprintf(buf, cap, "%s", a);
}

void net_format_mac(const uint8_t *mac, size_t len, char *buf, size_t cap)
{
	size_t o = 0;

	if (cap)
		buf[0] = 0;
	for (size_t i = 0; i < len && o + 4 <= cap; i++)
		o += (size_t)snprintf(buf + o, cap - o, i ? ":%02x" : "%02x", mac[i]);
}

/* A host name or search domain: letters, digits, '-', '_' and '.'. */
static bool dns_name_valid(const char *s, size_t n)
{
	if (n == 0 || n >= NET_NAME_MAX || s[0] == '.' || s[0] == '-')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '.' && s[i] != '_')
			return false;
	return true;
}

/* Calls fn for each comma-separated item of val; stops at the first
 * error. Empty items are errors. */
static int each_item(const char *val, int (*fn)(void *ctx, const char *item, const char **why),
		     void *ctx, const char **why)
{
	char item[NET_NAME_MAX * 2];

	if (!val || !*val) {
		*why = "expected a value";
		return -1;
	}
	for (const char *p = val;;) {
		size_t n = strcspn(p, ",");
		if (n == 0) {
			*why = "empty item in a comma-separated list";
			return -1;
		}
		if (n >= sizeof(item)) {
			*why = "item too long";
			return -1;
		}
		memcpy(item, p, n);
		item[n] = 0;
		if (fn(ctx, item, why) < 0)
			return -1;
		p += n;
		if (!*p)
			return 0;
		p++;
	}
}

/* ---- interfaces ---- */

static int add_route(struct net_iface *f, const struct net_route *r, const char **why)
{
	if (f->n_routes == NET_MAX_ROUTES) {
		*why = "too many routes on one interface (max 8)";
		return -1;
	}
	f->routes[f->n_routes++] = *r;
	return 0;
}

/* "DST/PLEN[@GW]" or "default@GW". */
static int parse_route(const char *s, struct net_route *r, const char **why)
{
	char dst[NET_ADDRSTR_MAX];
	const char *at = strchr(s, '@');
	size_t n = at ? (size_t)(at - s) : strlen(s);

	memset(r, 0, sizeof(*r));
	if (n == 0 || n >= sizeof(dst)) {
		*why = "route: expected DEST/PREFIX[@GATEWAY]";
		return -1;
	}
	memcpy(dst, s, n);
	dst[n] = 0;
	if (at && net_parse_prefix(at + 1, 0, false, &r->dst) < 0) {
		*why = "route: bad gateway address";
		return -1;
	}
	if (at) {
		memcpy(r->gw, r->dst.addr, 16);
		r->has_gw = true;
	}
	if (!strcmp(dst, "default")) {
		if (!at) {
			*why = "route: a default route needs @GATEWAY";
			return -1;
		}
		int fam = r->dst.family;
		memset(&r->dst, 0, sizeof(r->dst));
		r->dst.family = (uint8_t)fam;
		return 0;
	}
	struct net_prefix d;
	if (net_parse_prefix(dst, at ? r->dst.family : 0, true, &d) < 0) {
		*why = at ? "route: bad destination (DEST/PREFIX, same family as the gateway)"
			  : "route: bad destination (DEST/PREFIX)";
		return -1;
	}
	if (!net_prefix_is_network(&d)) {
		*why = "route: the destination has host bits set past its prefix";
		return -1;
	}
	r->dst = d;
	return 0;
}

static int iface_item(void *ctx, const char *it, const char **why)
{
	struct net_iface *f = ctx;
	struct net_route r;
	unsigned long v;
	char *end;

	if (!strcmp(it, "up")) {
		f->state = NET_LINK_UP;
		return 0;
	}
	if (!strcmp(it, "down")) {
		f->state = NET_LINK_DOWN;
		return 0;
	}
	if (!strncmp(it, "mtu=", 4)) {
		errno = 0;
		v = isdigit((unsigned char)it[4]) ? strtoul(it + 4, &end, 10) : 0;
		if (!isdigit((unsigned char)it[4]) || errno || *end || v < 68 || v > 65535) {
			*why = "mtu: expected 68..65535";
			return -1;
		}
		f->mtu = (unsigned)v;
		return 0;
	}
	if (!strncmp(it, "gw=", 3)) {
		memset(&r, 0, sizeof(r));
		if (net_parse_prefix(it + 3, 0, false, &r.dst) < 0) {
			*why = "gw: bad gateway address";
			return -1;
		}
		memcpy(r.gw, r.dst.addr, 16);
		memset(r.dst.addr, 0, 16);
		r.dst.plen = 0;
		r.has_gw = true;
		return add_route(f, &r, why);
	}
	if (!strncmp(it, "route=", 6)) {
		if (parse_route(it + 6, &r, why) < 0)
			return -1;
		return add_route(f, &r, why);
	}
	if (strchr(it, '=')) {
		*why = "unknown interface option (up, down, mtu=, gw=, route=, ADDR/PREFIX)";
		return -1;
	}
	struct net_prefix p;
	if (net_parse_prefix(it, 0, true, &p) < 0) {
		*why = strchr(it, '/') ? "bad address (ADDR/PREFIX)" : "an address needs a /PREFIX";
		return -1;
	}
	if (f->n_addrs == NET_MAX_ADDRS) {
		*why = "too many addresses on one interface (max 8)";
		return -1;
	}
	f->addrs[f->n_addrs++] = p;
	return 0;
}

static bool same_iface(const struct net_iface *a, const struct net_iface *b)
{
	if (a->by_mac != b->by_mac)
		return false;
	return a->by_mac ? !memcmp(a->mac, b->mac, 6) : !strcmp(a->name, b->name);
}

static int set_iface(struct net_config *n, const char *key, const char *val, const char **why)
{
	struct net_iface f;
	unsigned i;

	memset(&f, 0, sizeof(f));
	if (net_parse_mac(key, f.mac) == 0)
		f.by_mac = true;
	else if (net_ifname_valid(key))
		strcpy(f.name, key);
	else
		return 1;
	/* A bare `task.net.eth0`: just bring it up. */
	if (val && *val && each_item(val, iface_item, &f, why) < 0)
		return -1;
	for (i = 0; i < n->n_ifaces && !same_iface(&n->ifaces[i], &f); i++)
		;
	if (i == NET_MAX_IFACES) {
		*why = "too many interfaces (max 8)";
		return -1;
	}
	n->ifaces[i] = f;
	if (i == n->n_ifaces)
		n->n_ifaces++;
	return 0;
}

/* ---- resolver and hosts ---- */

struct ns_list {
	unsigned n;
	struct net_prefix ns[NET_MAX_NS];
};

static int ns_item(void *ctx, const char *it, const char **why)
{
	struct ns_list *l = ctx;

	if (l->n == NET_MAX_NS) {
		*why = "at most 3 nameservers (the resolver reads no more)";
		return -1;
	}
	if (net_parse_prefix(it, 0, false, &l->ns[l->n]) < 0) {
		*why = "nameserver: bad address";
		return -1;
	}
	l->n++;
	return 0;
}

struct search_list {
	unsigned n;
	char d[NET_MAX_SEARCH][NET_NAME_MAX];
};

static int search_item(void *ctx, const char *it, const char **why)
{
	struct search_list *l = ctx;
	size_t len = strlen(it);

	if (l->n == NET_MAX_SEARCH) {
		*why = "at most 6 search domains";
		return -1;
	}
	if (!dns_name_valid(it, len)) {
		*why = "search: bad domain (letters, digits, '-', '_', '.'; at most 63)";
		return -1;
	}
	memcpy(l->d[l->n++], it, len + 1);
	return 0;
}

struct host_list {
	unsigned n;
	struct net_host h[NET_MAX_HOSTS];
};

/* NAME=ADDR */
static int host_item(void *ctx, const char *it, const char **why)
{
	struct host_list *l = ctx;
	const char *eq = strchr(it, '=');

	if (l->n == NET_MAX_HOSTS) {
		*why = "at most 16 host entries";
		return -1;
	}
	if (!eq || !dns_name_valid(it, (size_t)(eq - it))) {
		*why = "hosts: expected NAME=ADDRESS (NAME: letters, digits, '-', '_', '.')";
		return -1;
	}
	if (net_parse_prefix(eq + 1, 0, false, &l->h[l->n].addr) < 0) {
		*why = "hosts: bad address";
		return -1;
	}
	memcpy(l->h[l->n].name, it, (size_t)(eq - it));
	l->h[l->n].name[eq - it] = 0;
	l->n++;
	return 0;
}

static int set_path(char *dst, const char *val, const char **why)
{
	if (!val || val[0] != '/' || strlen(val) >= NET_PATH_MAX) {
		*why = "expected an absolute path (at most 107 bytes)";
		return -1;
	}
	strcpy(dst, val);
	return 0;
}

/* "-" stands for an empty list, so a verb can give search domains only. */
static bool is_none(const char *val)
{
	return val && !strcmp(val, "-");
}

int net_config_set(struct net_config *n, const char *key, const char *val, const char **why)
{
	if (!strcmp(key, "dns")) {
		struct ns_list l = {0};
		if (!is_none(val) && each_item(val, ns_item, &l, why) < 0)
			return -1;
		n->n_ns = l.n;
		memcpy(n->ns, l.ns, sizeof(l.ns));
		n->have_resolv = true;
		return 0;
	}
	if (!strcmp(key, "search")) {
		struct search_list l = {0};
		if (!is_none(val) && each_item(val, search_item, &l, why) < 0)
			return -1;
		n->n_search = l.n;
		memcpy(n->search, l.d, sizeof(l.d));
		n->have_resolv = true;
		return 0;
	}
	if (!strcmp(key, "hosts")) {
		struct host_list l = {0};
		if (!is_none(val) && each_item(val, host_item, &l, why) < 0)
			return -1;
		n->n_hosts = l.n;
		memcpy(n->hosts, l.h, sizeof(l.h));
		n->have_hosts = true;
		return 0;
	}
	if (!strcmp(key, "resolv_conf"))
		return set_path(n->resolv_path, val, why);
	if (!strcmp(key, "hosts_file"))
		return set_path(n->hosts_path, val, why);
	if (!strcmp(key, "wait_ms")) {
		char *end;
		unsigned long v;
		errno = 0;
		if (!val || !isdigit((unsigned char)*val) ||
		    (v = strtoul(val, &end, 10), errno || *end || v > 600000)) {
			*why = "expected 0..600000 ms";
			return -1;
		}
		n->wait_ms = (unsigned)v;
		return 0;
	}
	return set_iface(n, key, val, why);
}

/* ---- file contents ---- */

struct out {
	char *buf;
	size_t cap, len;
	bool overflow;
};

__attribute__((format(printf, 2, 3))) static void put(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (o->overflow)
		return;
	va_start(ap, fmt);
	n = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= o->cap - o->len) {
		o->overflow = true;
		return;
	}
	o->len += (size_t)n;
}

static size_t out_end(struct out *o)
{
	return o->overflow ? 0 : o->len;
}

size_t net_render_resolv(const struct net_config *n, char *buf, size_t cap)
{
	struct out o = {buf, cap, 0, cap == 0};
	char a[NET_ADDRSTR_MAX];

	put(&o, "# written by taskinit (task.net.dns, task.net.search)\n");
	for (unsigned i = 0; i < n->n_ns && i < NET_MAX_NS; i++) {
		net_format_prefix(&n->ns[i], false, a, sizeof(a));
		put(&o, "nameserver %s\n", a);
	}
	if (n->n_search) {
		put(&o, "search");
		for (unsigned i = 0; i < n->n_search && i < NET_MAX_SEARCH; i++)
			put(&o, " %.*s", NET_NAME_MAX - 1, n->search[i]);
		put(&o, "\n");
	}
	return out_end(&o);
}

/* One line per address, names in the order given; loopback lines first. */
size_t net_render_hosts(const struct net_config *n, char *buf, size_t cap)
{
	struct out o = {buf, cap, 0, cap == 0};
	char a[NET_ADDRSTR_MAX];
	unsigned count = n->n_hosts < NET_MAX_HOSTS ? n->n_hosts : NET_MAX_HOSTS;

	put(&o, "# written by taskinit (task.net.hosts)\n");
	put(&o, "127.0.0.1\tlocalhost\n");
	put(&o, "::1\tlocalhost ip6-localhost ip6-loopback\n");
	for (unsigned i = 0; i < count; i++) {
		const struct net_host *h = &n->hosts[i];
		bool seen = false;
		for (unsigned j = 0; j < i && !seen; j++)
			seen = !memcmp(&n->hosts[j].addr, &h->addr, sizeof(h->addr));
		if (seen)
			continue;
		net_format_prefix(&h->addr, false, a, sizeof(a));
		put(&o, "%s\t%.*s", a, NET_NAME_MAX - 1, h->name);
		for (unsigned j = i + 1; j < count; j++)
			if (!memcmp(&n->hosts[j].addr, &h->addr, sizeof(h->addr)))
				put(&o, " %.*s", NET_NAME_MAX - 1, n->hosts[j].name);
		put(&o, "\n");
	}
	return out_end(&o);
}
