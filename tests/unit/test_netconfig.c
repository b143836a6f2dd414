/* Unit tests for init/netconfig.c: the task.net.* keys (docs/network.md),
 * address and MAC parsing, and the resolv.conf and hosts contents. Every
 * expected value is written out from the docs; a refused value must leave
 * the configuration byte-for-byte unchanged. */
#include "init/init.h"
#include "tests/unit/check.h"

#include <arpa/inet.h>
#include <sys/socket.h>

static struct net_config N;

static int set(const char *key, const char *val, const char **why)
{
	return net_config_set(&N, key, val, why);
}

/* A refused value: -1 with a reason, and N exactly as before. */
static void refused(const char *key, const char *val, const char *why_part)
{
	static struct net_config before;
	const char *why = NULL;

	memcpy(&before, &N, sizeof(N));
	int r = set(key, val, &why);
	CHECK_EQ_INT(r, -1);
	CHECK(why != NULL && strstr(why, why_part) != NULL);
	if (!why || !strstr(why, why_part))
		printf("  %s=%s: why \"%s\", expected \"%s\"\n", key, val, why ? why : "(null)",
		       why_part);
	CHECK(memcmp(&before, &N, sizeof(N)) == 0);
}

static void addr_is(const struct net_prefix *p, int family, const char *text, unsigned plen)
{
	uint8_t want[16] = {0};

	CHECK_EQ_INT(p->family, family);
	CHECK_EQ_INT(inet_pton(family, text, want), 1);
	CHECK(memcmp(p->addr, want, family == AF_INET ? 4 : 16) == 0);
	CHECK_EQ_INT(p->plen, plen);
}

static void test_defaults(void)
{
	net_config_defaults(&N);
	CHECK_EQ_INT(N.n_ifaces, 0);
	CHECK_EQ_INT(N.wait_ms, 3000);
	CHECK(!N.have_resolv && !N.have_hosts);
	CHECK_EQ_STR(net_resolv_path(&N), "/etc/resolv.conf");
	CHECK_EQ_STR(net_hosts_path(&N), "/etc/hosts");
}

static void test_interface_spec(void)
{
	const char *why = "stale";

	net_config_defaults(&N);
	CHECK_EQ_INT(
	    set("eth0",
		"192.168.1.2/24,2001:db8::2/64,gw=192.168.1.1,gw=2001:db8::1,mtu=1400,"
		"route=10.8.0.0/16@192.168.1.254,route=10.9.0.0/24,route=fd00:9::/48@fe80::1",
		&why),
	    0);
	CHECK_EQ_INT(N.n_ifaces, 1);
	const struct net_iface *f = &N.ifaces[0];
	CHECK_EQ_STR(f->name, "eth0");
	CHECK(!f->by_mac);
	CHECK_EQ_INT(f->state, NET_LINK_UP);
	CHECK_EQ_INT(f->mtu, 1400);
	CHECK_EQ_INT(f->n_addrs, 2);
	addr_is(&f->addrs[0], AF_INET, "192.168.1.2", 24);
	addr_is(&f->addrs[1], AF_INET6, "2001:db8::2", 64);
	CHECK_EQ_INT(f->n_routes, 5);
	/* gw= is a default route of the gateway's family. */
	addr_is(&f->routes[0].dst, AF_INET, "0.0.0.0", 0);
	CHECK(f->routes[0].has_gw);
	struct net_prefix g = {.family = AF_INET};
	memcpy(g.addr, f->routes[0].gw, 16);
	g.plen = 32;
	addr_is(&g, AF_INET, "192.168.1.1", 32);
	addr_is(&f->routes[1].dst, AF_INET6, "::", 0);
	addr_is(&f->routes[2].dst, AF_INET, "10.8.0.0", 16);
	CHECK(f->routes[2].has_gw);
	/* Without @GW: an on-link route. */
	addr_is(&f->routes[3].dst, AF_INET, "10.9.0.0", 24);
	CHECK(!f->routes[3].has_gw);
	addr_is(&f->routes[4].dst, AF_INET6, "fd00:9::", 48);
	g.family = AF_INET6;
	memcpy(g.addr, f->routes[4].gw, 16);
	g.plen = 128;
	addr_is(&g, AF_INET6, "fe80::1", 128);
}

static void test_bare_and_down(void)
{
	const char *why;

	net_config_defaults(&N);
	/* `task.net.eth1` alone: bring it up, nothing else. */
	CHECK_EQ_INT(set("eth1", NULL, &why), 0);
	CHECK_EQ_INT(N.n_ifaces, 1);
	CHECK_EQ_INT(N.ifaces[0].state, NET_LINK_UP);
	CHECK_EQ_INT(N.ifaces[0].n_addrs + N.ifaces[0].n_routes + N.ifaces[0].mtu, 0);
	CHECK_EQ_INT(set("eth2", "down,mtu=9000", &why), 0);
	CHECK_EQ_INT(N.ifaces[1].state, NET_LINK_DOWN);
	CHECK_EQ_INT(N.ifaces[1].mtu, 9000);
}

static void test_by_mac_and_replace(void)
{
	const char *why;
	const uint8_t mac[6] = {0x52, 0x54, 0x00, 0xab, 0xcd, 0xef};

	net_config_defaults(&N);
	CHECK_EQ_INT(set("52:54:00:AB:cd:ef", "10.0.0.2/8", &why), 0);
	CHECK_EQ_INT(N.n_ifaces, 1);
	CHECK(N.ifaces[0].by_mac);
	CHECK(memcmp(N.ifaces[0].mac, mac, 6) == 0);
	CHECK_EQ_STR(N.ifaces[0].name, "");
	/* The same key again replaces the whole entry (the command line is
	 * read more than once). */
	CHECK_EQ_INT(set("52-54-00-ab-cd-ef", "10.0.0.3/8", &why), 0);
	CHECK_EQ_INT(N.n_ifaces, 1);
	CHECK_EQ_INT(N.ifaces[0].n_addrs, 1);
	addr_is(&N.ifaces[0].addrs[0], AF_INET, "10.0.0.3", 8);
	CHECK_EQ_INT(set("eth0", "10.1.0.2/16", &why), 0);
	CHECK_EQ_INT(set("eth0", "10.1.0.3/16", &why), 0);
	CHECK_EQ_INT(N.n_ifaces, 2);
	addr_is(&N.ifaces[1].addrs[0], AF_INET, "10.1.0.3", 16);
}

static void test_limits(void)
{
	const char *why;
	char key[16];

	net_config_defaults(&N);
	for (int i = 0; i < NET_MAX_IFACES; i++) {
		snprintf(key, sizeof(key), "eth%d", i);
		CHECK_EQ_INT(set(key, "up", &why), 0);
	}
	refused("eth99", "up", "too many interfaces");
	/* An existing one can still be replaced. */
	CHECK_EQ_INT(set("eth3", "down", &why), 0);
	CHECK_EQ_INT(N.ifaces[3].state, NET_LINK_DOWN);
	refused("eth0",
		"1.0.0.1/8,1.0.0.2/8,1.0.0.3/8,1.0.0.4/8,1.0.0.5/8,1.0.0.6/8,1.0.0.7/8,"
		"1.0.0.8/8,1.0.0.9/8",
		"too many addresses");
}

static void test_refused_values(void)
{
	const char *why;

	net_config_defaults(&N);
	CHECK_EQ_INT(set("eth0", "10.0.0.2/24", &why), 0);
	refused("eth0", "10.0.0.2", "needs a /PREFIX");
	refused("eth0", "10.0.0.2/33", "bad address");
	refused("eth0", "300.0.0.2/24", "bad address");
	refused("eth0", "fd00::1/129", "bad address");
	refused("eth0", "10.0.0.2/24,", "empty item");
	refused("eth0", "mtu=67", "mtu");
	refused("eth0", "mtu=65536", "mtu");
	refused("eth0", "mtu=", "mtu");
	refused("eth0", "gw=10.0.0", "gw");
	refused("eth0", "route=default", "needs @GATEWAY");
	refused("eth0", "route=10.1.2.3/16@10.0.0.1", "host bits");
	refused("eth0", "route=fd00::/64@10.0.0.1", "same family");
	refused("eth0", "speed=10", "unknown interface option");
	refused("dns", "1.1.1.1,2.2.2.2,3.3.3.3,4.4.4.4", "at most 3");
	refused("dns", "1.1.1", "nameserver");
	refused("dns", NULL, "expected a value");
	refused("search", "a..b,-x", "search");
	refused("hosts", "db", "NAME=ADDRESS");
	refused("hosts", "db=10.0.0.300", "bad address");
	refused("resolv_conf", "etc/resolv.conf", "absolute path");
	refused("wait_ms", "-1", "0..600000");
	refused("wait_ms", "600001", "0..600000");
	/* Names the kernel would refuse are not interfaces at all. */
	CHECK_EQ_INT(set("a/b", "up", &why), 1);
	CHECK_EQ_INT(set("0123456789abcdef", "up", &why), 1);
	CHECK_EQ_INT(set("", "up", &why), 1);
}

static void test_through_config(void)
{
	struct config c;
	const char *why;

	config_defaults(&c);
	CHECK_EQ_INT(c.net.wait_ms, 3000);
	CHECK_EQ_INT(config_set(&c, "task.net.eth0", "10.0.0.2/24,gw=10.0.0.1", &why), 0);
	CHECK(why == NULL);
	CHECK_EQ_INT(c.net.n_ifaces, 1);
	CHECK_EQ_INT(config_set(&c, "task.net.eth0", "nope", &why), -1);
	CHECK(why && strstr(why, "/PREFIX"));
	config_parse_cmdline(&c,
			     "console=ttyS0 task.net.eth1=fd00::2/64 task.net.dns=10.0.0.1 "
			     "task.net.search=corp.example,example task.net.wait_ms=0 ip=dhcp",
			     NULL, NULL);
	CHECK_EQ_INT(c.net.n_ifaces, 2);
	addr_is(&c.net.ifaces[1].addrs[0], AF_INET6, "fd00::2", 64);
	CHECK_EQ_INT(c.net.n_ns, 1);
	CHECK_EQ_INT(c.net.n_search, 2);
	CHECK_EQ_INT(c.net.wait_ms, 0);
}

static void test_prefix_helpers(void)
{
	struct net_prefix p;
	uint8_t mac[6];
	char buf[64];

	CHECK_EQ_INT(net_parse_prefix("10.1.0.0/16", 0, true, &p), 0);
	CHECK(net_prefix_is_network(&p));
	CHECK_EQ_INT(net_parse_prefix("10.1.0.1/16", 0, true, &p), 0);
	CHECK(!net_prefix_is_network(&p));
	CHECK_EQ_INT(net_parse_prefix("fd00:1::/33", 0, true, &p), 0);
	CHECK(net_prefix_is_network(&p));
	CHECK_EQ_INT(net_parse_prefix("fd00:1:4000::/33", 0, true, &p), 0);
	CHECK(!net_prefix_is_network(&p));
	CHECK_EQ_INT(net_parse_prefix("10.0.0.1", AF_INET6, false, &p), -1);
	CHECK_EQ_INT(net_parse_prefix("10.0.0.1/8", 0, false, &p), -1);
	CHECK_EQ_INT(net_parse_prefix("10.0.0.1/+8", 0, true, &p), -1);
	CHECK_EQ_INT(net_parse_prefix("2001:db8::1", 0, false, &p), 0);
	net_format_prefix(&p, false, buf, sizeof(buf));
	CHECK_EQ_STR(buf, "2001:db8::1");
	net_format_prefix(&p, true, buf, sizeof(buf));
	CHECK_EQ_STR(buf, "2001:db8::1/128");
	CHECK_EQ_INT(net_parse_mac("02:00:00:00:00:0a", mac), 0);
	net_format_mac(mac, 6, buf, sizeof(buf));
	CHECK_EQ_STR(buf, "02:00:00:00:00:0a");
	CHECK_EQ_INT(net_parse_mac("02:00:00:00:00", mac), -1);
	CHECK_EQ_INT(net_parse_mac("02:00:00:00:00:0g", mac), -1);
	CHECK_EQ_INT(net_parse_mac("02:00:00:00:00:0a:", mac), -1);
	CHECK(net_ifname_valid("eth0") && net_ifname_valid("veth-a.1"));
	CHECK(!net_ifname_valid("eth0:1") && !net_ifname_valid("..") && !net_ifname_valid("a b"));
}

static void test_resolv_contents(void)
{
	const char *why;
	char buf[512];

	net_config_defaults(&N);
	CHECK_EQ_INT(set("dns", "10.0.0.1,2001:db8::53", &why), 0);
	CHECK_EQ_INT(set("search", "corp.example,example", &why), 0);
	CHECK(N.have_resolv);
	size_t n = net_render_resolv(&N, buf, sizeof(buf));
	CHECK_EQ_STR(buf, "# written by taskinit (task.net.dns, task.net.search)\n"
			  "nameserver 10.0.0.1\n"
			  "nameserver 2001:db8::53\n"
			  "search corp.example example\n");
	CHECK_EQ_INT(n, strlen(buf));
	/* Too small a buffer: 0, never a cut file. */
	CHECK_EQ_INT(net_render_resolv(&N, buf, n), 0);
	CHECK_EQ_INT(net_render_resolv(&N, buf, n + 1), n);
	/* "-": no search line (the verb's way to give nameservers only). */
	CHECK_EQ_INT(set("search", "-", &why), 0);
	net_render_resolv(&N, buf, sizeof(buf));
	CHECK(strstr(buf, "\nsearch") == NULL);
	CHECK(strstr(buf, "\nnameserver 10.0.0.1\n") != NULL);
}

static void test_hosts_contents(void)
{
	const char *why;
	char buf[512];

	net_config_defaults(&N);
	CHECK_EQ_INT(set("hosts", "db=10.0.0.5,web=2001:db8::80,db.local=10.0.0.5", &why), 0);
	CHECK(N.have_hosts);
	CHECK_EQ_INT(N.n_hosts, 3);
	net_render_hosts(&N, buf, sizeof(buf));
	CHECK_EQ_STR(buf, "# written by taskinit (task.net.hosts)\n"
			  "127.0.0.1\tlocalhost\n"
			  "::1\tlocalhost ip6-localhost ip6-loopback\n"
			  "10.0.0.5\tdb db.local\n"
			  "2001:db8::80\tweb\n");
	CHECK_EQ_INT(set("hosts", "-", &why), 0);
	CHECK_EQ_INT(N.n_hosts, 0);
}

int main(void)
{
	RUN(test_defaults);
	RUN(test_interface_spec);
	RUN(test_bare_and_down);
	RUN(test_by_mac_and_replace);
	RUN(test_limits);
	RUN(test_refused_values);
	RUN(test_through_config);
	RUN(test_prefix_helpers);
	RUN(test_resolv_contents);
	RUN(test_hosts_contents);
	return check_summary();
}
