/* libFuzzer target for init/netconfig.c.
 *
 * The first input byte picks a key (one of the known task.net.* keys, an
 * interface name, a MAC, or the key taken from the input up to '='); the
 * rest is the value (NUL: no value). Applied over a configuration that
 * already holds entries: a refused value must leave it byte-for-byte
 * unchanged, with a reason; after every step the counts are within their
 * limits, names are NUL-terminated, every prefix fits its family. The
 * files render into buffers of every size without overrun, either whole
 * or not at all. Address parsing round-trips through formatting. Every
 * violation aborts. */
#include "init/net.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "tests/fuzz/require.h"

static const char *const keys[] = {
    "dns", "search", "hosts", "resolv_conf", "wait_ms", "eth0", "52:54:00:12:34:56", "lo", NULL,
};

static void check_prefix(const struct net_prefix *p)
{
	REQUIRE(p->family == AF_INET || p->family == AF_INET6);
	REQUIRE(p->plen <= (p->family == AF_INET ? 32 : 128));
}

static void check_config(const struct net_config *n)
{
	REQUIRE(n->n_ifaces <= NET_MAX_IFACES);
	for (unsigned i = 0; i < n->n_ifaces; i++) {
		const struct net_iface *f = &n->ifaces[i];
		REQUIRE(f->by_mac || net_ifname_valid(f->name));
		REQUIRE(f->n_addrs <= NET_MAX_ADDRS && f->n_routes <= NET_MAX_ROUTES);
		REQUIRE(f->mtu == 0 || (f->mtu >= 68 && f->mtu <= 65535));
		for (unsigned j = 0; j < f->n_addrs; j++)
			check_prefix(&f->addrs[j]);
		for (unsigned j = 0; j < f->n_routes; j++) {
			check_prefix(&f->routes[j].dst);
			REQUIRE(net_prefix_is_network(&f->routes[j].dst));
		}
	}
	REQUIRE(n->n_ns <= NET_MAX_NS && n->n_search <= NET_MAX_SEARCH);
	REQUIRE(n->n_hosts <= NET_MAX_HOSTS);
	for (unsigned i = 0; i < n->n_search; i++)
		REQUIRE(memchr(n->search[i], 0, NET_NAME_MAX));
	for (unsigned i = 0; i < n->n_hosts; i++) {
		REQUIRE(memchr(n->hosts[i].name, 0, NET_NAME_MAX));
		check_prefix(&n->hosts[i].addr);
	}
	REQUIRE(memchr(n->resolv_path, 0, NET_PATH_MAX) && memchr(n->hosts_path, 0, NET_PATH_MAX));
}

static void check_render(const struct net_config *n)
{
	static char big[8192], small[8192];
	size_t (*fns[])(const struct net_config *, char *, size_t) = {net_render_resolv,
								      net_render_hosts};

	for (int f = 0; f < 2; f++) {
		size_t full = fns[f](n, big, sizeof(big));
		REQUIRE(full > 0 && full == strlen(big));
		/* Any smaller buffer: nothing; the exact size plus NUL: the same. */
		for (size_t cap = 0; cap <= full; cap += 1 + cap / 8)
			REQUIRE(fns[f](n, small, cap) == 0);
		REQUIRE(fns[f](n, small, full + 1) == full && !memcmp(small, big, full));
	}
}

static void roundtrip_prefix(const char *s)
{
	struct net_prefix p, q;
	char buf[NET_ADDRSTR_MAX];

	for (int plen = 0; plen < 2; plen++) {
		if (net_parse_prefix(s, 0, plen, &p) < 0)
			continue;
		check_prefix(&p);
		net_format_prefix(&p, true, buf, sizeof(buf));
		REQUIRE(net_parse_prefix(buf, 0, true, &q) == 0);
		REQUIRE(!memcmp(&p, &q, sizeof(p)));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct net_config n, snap;
	const char *why = "stale";
	char key[64];

	if (size < 1)
		return 0;
	char *val = malloc(size);
	memcpy(val, data + 1, size - 1);
	val[size - 1] = 0;
	const char *k = keys[data[0] % (sizeof(keys) / sizeof(keys[0]))];
	const char *v = val;
	if (!k) {
		/* The key from the input, up to '='. */
		size_t kl = strcspn(val, "=");
		if (kl >= sizeof(key))
			kl = sizeof(key) - 1;
		memcpy(key, val, kl);
		key[kl] = 0;
		k = key;
		v = val[kl] == '=' ? val + kl + 1 : NULL;
	} else if (data[0] & 0x80) {
		v = NULL;
	}

	net_config_defaults(&n);
	REQUIRE(net_config_set(&n, "eth1", "10.0.0.2/24,fd00::2/64,gw=10.0.0.1", &why) == 0);
	REQUIRE(net_config_set(&n, "dns", "10.0.0.1", &why) == 0);
	REQUIRE(net_config_set(&n, "hosts", "a=10.0.0.9", &why) == 0);
	memcpy(&snap, &n, sizeof(n));
	why = NULL;
	int r = net_config_set(&n, k, v, &why);
	REQUIRE(r >= -1 && r <= 1);
	if (r == -1)
		REQUIRE(why && *why);
	if (r != 0)
		REQUIRE(!memcmp(&n, &snap, sizeof(n)));
	check_config(&n);
	check_render(&n);
	roundtrip_prefix(val);
	free(val);
	return 0;
}
