/* libFuzzer target for init/rtnl.c: the input is raw netlink bytes, as a
 * recv() on a NETLINK_ROUTE socket could return them.
 *
 * The first 4 bytes are the sequence number to accept; the rest is one
 * datagram for rtnl_parse_dump and rtnl_parse_ack. The result must be one
 * of the documented values; every item handed out must be consistent (a
 * known family, a prefix within it, NUL-terminated names); an input that
 * is a whole item must yield the same items when parsed from an unaligned
 * copy. Then the same bytes shape a route for rtnl_route_request, whose
 * message must parse back to that route. Every violation aborts. */
#include "init/net.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <linux/rtnetlink.h>

#include "tests/fuzz/require.h"

static unsigned n_items;
static struct rtnl_item last;

static void check_item(void *ctx, const struct rtnl_item *it)
{
	REQUIRE(ctx == &n_items);
	n_items++;
	last = *it;
	switch (it->kind) {
	case RTNL_LINK:
		REQUIRE(memchr(it->link.name, 0, sizeof(it->link.name)) != NULL);
		REQUIRE(it->link.mac_len <= sizeof(it->link.mac));
		break;
	case RTNL_ADDR:
		REQUIRE(it->addr.addr.family == AF_INET || it->addr.addr.family == AF_INET6);
		REQUIRE(it->addr.addr.plen <= (it->addr.addr.family == AF_INET ? 32 : 128));
		REQUIRE(memchr(it->addr.label, 0, sizeof(it->addr.label)) != NULL);
		break;
	case RTNL_ROUTE:
		REQUIRE(it->route.dst.family == AF_INET || it->route.dst.family == AF_INET6);
		REQUIRE(it->route.dst.plen <= (it->route.dst.family == AF_INET ? 32 : 128));
		break;
	default:
		REQUIRE(0);
	}
}

static bool valid_result(int r)
{
	return r == RTNL_MORE || r == RTNL_DONE || (r < 0 && r > -4096);
}

static void route_roundtrip(const uint8_t *data, size_t size)
{
	struct net_route r;
	uint8_t msg[256];

	if (size < 40)
		return;
	memset(&r, 0, sizeof(r));
	r.dst.family = (data[0] & 1) ? AF_INET6 : AF_INET;
	r.dst.plen = data[1];
	r.has_gw = data[2] & 1;
	memcpy(r.dst.addr, data + 3, 16);
	memcpy(r.gw, data + 19, 16);
	if (r.dst.family == AF_INET) {
		memset(r.dst.addr + 4, 0, 12);
		memset(r.gw + 4, 0, 12);
	}
	int oif = (int)(data[35] | data[36] << 8);
	size_t n = rtnl_route_request(msg, sizeof(msg), data[37] & 1, &r, oif, 5);
	if (r.dst.plen > (r.dst.family == AF_INET ? 32 : 128)) {
		REQUIRE(n == 0);
		return;
	}
	REQUIRE(n > 0 && n <= sizeof(msg));
	if (!(data[37] & 1))
		return; /* a delete is not a RTM_NEWROUTE */
	n_items = 0;
	REQUIRE(rtnl_parse_dump(msg, n, 5, check_item, &n_items) == RTNL_MORE);
	REQUIRE(n_items == 1);
	const struct rtnl_route *g = &last.route;
	REQUIRE(last.kind == RTNL_ROUTE);
	REQUIRE(g->dst.family == r.dst.family && g->dst.plen == r.dst.plen);
	if (r.dst.plen)
		REQUIRE(!memcmp(g->dst.addr, r.dst.addr, 16));
	REQUIRE(g->has_gw == r.has_gw);
	if (r.has_gw)
		REQUIRE(!memcmp(g->gw, r.gw, 16));
	REQUIRE(g->oif == (oif > 0 ? oif : 0));
	REQUIRE(g->table == RT_TABLE_MAIN);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint32_t seq;
	int r;

	if (size < 4)
		return 0;
	memcpy(&seq, data, 4);
	const uint8_t *body = data + 4;
	size_t len = size - 4;

	n_items = 0;
	r = rtnl_parse_dump(body, len, seq, check_item, &n_items);
	REQUIRE(valid_result(r));
	unsigned first = n_items;

	/* Alignment must not matter: parse a copy one byte off. */
	uint8_t *copy = malloc(len + 1);
	memcpy(copy + 1, body, len);
	n_items = 0;
	REQUIRE(rtnl_parse_dump(copy + 1, len, seq, check_item, &n_items) == r);
	REQUIRE(n_items == first);
	free(copy);

	r = rtnl_parse_ack(body, len, seq);
	REQUIRE(r <= 0 && r > -4096);

	route_roundtrip(data, size);
	return 0;
}
