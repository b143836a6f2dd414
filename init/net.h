/* net — network configuration of the guest (docs/network.md).
 *
 * Promises:
 * - The task.net.* configuration (init/netconfig.c) and the rtnetlink
 *   message code (init/rtnl.c) are pure: no I/O, no agent, any input is
 *   safe; both are unit-tested and fuzzed.
 * - A refused task.net.* value leaves the configuration untouched; setting
 *   a key again replaces its whole value (the command line is read more
 *   than once, so nothing accumulates).
 * - With no task.net.* interface key, net_boot() touches no interface: the
 *   kernel's own `ip=` configuration (or none) stays as it is.
 * - Configuration errors are logged and reported, never fatal. Every
 *   netlink operation (a request and its ack, or a whole dump) runs on its
 *   own non-blocking socket, and its wait for the kernel's replies ends at
 *   one deadline, NET_NL_TIMEOUT_MS after the request went in, however
 *   many datagrams the reply takes: then it fails with -ETIMEDOUT and
 *   nothing partial is returned. What the deadline cannot bound is the
 *   time the kernel itself takes inside send() and recv() (it builds the
 *   reply there, under its rtnl lock); docs/network.md says why that is
 *   accepted.
 * - A dump returns at most NET_DUMP_MAX entries (-EMSGSIZE past that), so
 *   any list fits in one reply of the control protocol.
 * - resolv.conf and hosts are replaced atomically: written to a temporary
 *   file in the same directory, fsynced, renamed over the old one.
 */
#ifndef TASKINIT_INIT_NET_H
#define TASKINIT_INIT_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* ---- task.net.* configuration (pure; init/netconfig.c) ---- */

#define NET_MAX_IFACES	  8
#define NET_MAX_ADDRS	  8 /* per interface */
#define NET_MAX_ROUTES	  8 /* per interface, default routes included */
#define NET_MAX_NS	  3 /* the resolver reads at most three (MAXNS) */
#define NET_MAX_SEARCH	  6
#define NET_MAX_HOSTS	  16
#define NET_NAME_MAX	  64 /* a host name or search domain, with its NUL */
#define NET_IFNAME_MAX	  16 /* IFNAMSIZ */
#define NET_PATH_MAX	  108
#define NET_WAIT_MS	  3000 /* default task.net.wait_ms */
#define NET_ADDRSTR_MAX	  48   /* INET6_ADDRSTRLEN plus "/128" */
#define NET_NL_TIMEOUT_MS 1000 /* one netlink operation's wait for replies */
/* Entries one dump may return: an entry's JSON is at most ~400 bytes (a
 * 15-byte name with every byte escaped, a 32-byte hardware address, every
 * flag), so 8192 of them stay under the control protocol's 4 MiB reply. */
#define NET_DUMP_MAX 8192

/* An address (plen unused) or a prefix. family is AF_INET or AF_INET6. */
struct net_prefix {
	uint8_t family;
	uint8_t plen;
	uint8_t addr[16];
};

struct net_route {
	struct net_prefix dst; /* plen 0: the default route */
	bool has_gw;	       /* false: on-link (a device route) */
	uint8_t gw[16];	       /* same family as dst */
};

enum net_link_state { NET_LINK_UP, NET_LINK_DOWN };

struct net_iface {
	char name[NET_IFNAME_MAX]; /* by name, or "" */
	bool by_mac;
	uint8_t mac[6];
	enum net_link_state state;
	unsigned mtu; /* 0: leave as is */
	unsigned n_addrs;
	struct net_prefix addrs[NET_MAX_ADDRS];
	unsigned n_routes;
	struct net_route routes[NET_MAX_ROUTES];
};

struct net_host {
	struct net_prefix addr;
	char name[NET_NAME_MAX];
};

struct net_config {
	unsigned n_ifaces;
	struct net_iface ifaces[NET_MAX_IFACES];
	bool have_resolv; /* task.net.dns or task.net.search given */
	unsigned n_ns;
	struct net_prefix ns[NET_MAX_NS];
	unsigned n_search;
	char search[NET_MAX_SEARCH][NET_NAME_MAX];
	bool have_hosts;
	unsigned n_hosts;
	struct net_host hosts[NET_MAX_HOSTS];
	unsigned wait_ms; /* how long boot waits for a missing interface */
	char resolv_path[NET_PATH_MAX];
	char hosts_path[NET_PATH_MAX];
};

void net_config_defaults(struct net_config *n);
/* One key after "task.net." (`dns`, `eth0`, `52:54:00:12:34:56`, ...).
 * Returns 0 when applied, -1 with *why when the value is bad (n is then
 * unchanged), 1 for a key that is neither a known key nor an interface. */
int net_config_set(struct net_config *n, const char *key, const char *val, const char **why);

/* "192.0.2.1", "2001:db8::1"; with want_plen, a "/PLEN" is required (host
 * bits may be set: 10.0.0.2/24 is an address with its prefix). family 0
 * accepts both. Returns 0 or -1. */
int net_parse_prefix(const char *s, int family, bool want_plen, struct net_prefix *out);
/* No bit set past plen (10.1.0.0/16, not 10.1.0.5/16). */
bool net_prefix_is_network(const struct net_prefix *p);
/* "52:54:00:12:34:56" (or with '-'). Returns 0 or -1. */
int net_parse_mac(const char *s, uint8_t mac[6]);
/* A valid Linux interface name (dev_valid_name). */
bool net_ifname_valid(const char *s);
/* "10.0.0.2/24", or without "/plen" when with_plen is false. */
void net_format_prefix(const struct net_prefix *p, bool with_plen, char *buf, size_t cap);
void net_format_mac(const uint8_t *mac, size_t len, char *buf, size_t cap);
/* The files' contents. Return the length, or 0 when cap is too small. */
size_t net_render_resolv(const struct net_config *n, char *buf, size_t cap);
size_t net_render_hosts(const struct net_config *n, char *buf, size_t cap);
const char *net_resolv_path(const struct net_config *n);
const char *net_hosts_path(const struct net_config *n);

/* ---- rtnetlink messages (pure; init/rtnl.c) ---- */

struct rtnl_link {
	int index;
	char name[NET_IFNAME_MAX];
	unsigned flags; /* IFF_* */
	unsigned mtu;
	uint8_t operstate; /* IF_OPER_* */
	uint8_t mac_len;
	uint8_t mac[32];
	uint16_t type; /* ARPHRD_* */
};

struct rtnl_addr {
	int index;
	struct net_prefix addr; /* IFA_LOCAL, else IFA_ADDRESS */
	bool has_peer;		/* a point-to-point peer differs from the local address */
	uint8_t peer[16];
	uint8_t scope;
	uint32_t flags; /* IFA_F_*, from IFA_FLAGS when present */
	char label[NET_IFNAME_MAX];
};

struct rtnl_route {
	struct net_prefix dst;
	bool has_gw, has_prefsrc;
	uint8_t gw[16], prefsrc[16];
	int oif;
	uint32_t table, priority;
	uint8_t protocol, scope, type;
};

enum rtnl_kind { RTNL_LINK, RTNL_ADDR, RTNL_ROUTE };

struct rtnl_item {
	enum rtnl_kind kind;
	union {
		struct rtnl_link link;
		struct rtnl_addr addr;
		struct rtnl_route route;
	};
};

enum { RTNL_MORE = 0, RTNL_DONE = 1 };

/* One datagram of a dump reply: calls item() for every link, address or
 * route message whose sequence number is seq, skipping other types.
 * Returns RTNL_MORE, RTNL_DONE at NLMSG_DONE, -errno for an NLMSG_ERROR,
 * -EBADMSG for a malformed datagram. */
int rtnl_parse_dump(const void *buf, size_t len, uint32_t seq,
		    void (*item)(void *ctx, const struct rtnl_item *it), void *ctx);
/* The reply to a request with NLM_F_ACK: 0 for success, -errno. */
int rtnl_parse_ack(const void *buf, size_t len, uint32_t seq);
/* RTM_GETLINK, RTM_GETADDR or RTM_GETROUTE with NLM_F_DUMP. Returns the
 * length, or 0 when cap is too small. */
size_t rtnl_dump_request(void *buf, size_t cap, uint16_t type, uint8_t family, uint32_t seq);
/* RTM_NEWROUTE (add, NLM_F_CREATE|NLM_F_EXCL) or RTM_DELROUTE in the main
 * table; oif 0: any device. Without a gateway the route is on-link (scope
 * link). Returns the length, or 0. */
size_t rtnl_route_request(void *buf, size_t cap, bool add, const struct net_route *r, int oif,
			  uint32_t seq);

/* ---- netlink sockets with a deadline (init/nlsock.c) ---- */

/* Milliseconds left until deadline_ns (both CLOCK_MONOTONIC), rounded up;
 * 0 once it has passed. Pure. */
int net_nl_wait_ms(uint64_t now_ns, uint64_t deadline_ns);
uint64_t net_nl_now_ns(void);
/* NET_NL_TIMEOUT_MS from now. */
uint64_t net_nl_deadline(void);
/* A bound NETLINK_ROUTE socket, non-blocking and close-on-exec; or -errno. */
int net_nl_open(void);
/* One datagram from fd (any socket), waiting with poll() no later than
 * deadline_ns: its length (with MSG_TRUNC in flags, the full length, which
 * may exceed cap), -ETIMEDOUT, or -errno. */
ssize_t net_nl_recv(int fd, void *buf, size_t cap, int flags, uint64_t deadline_ns);
/* Reads the reply to the dump request seq up to NLMSG_DONE, all of it by
 * deadline_ns. Routes of tables other than main are left out. 0 with
 * *items (malloc'ed; free it) and *n; else -ETIMEDOUT (the deadline passed
 * first), -EMSGSIZE (more than max entries), -EBADMSG, the kernel's -errno
 * or recv's, and *items is NULL: a partial list is never returned. */
int net_nl_read_dump(int fd, uint32_t seq, uint64_t deadline_ns, size_t max,
		     struct rtnl_item **items, size_t *n);
/* The ack to request seq, by deadline_ns: 0, the kernel's -errno,
 * -ETIMEDOUT, or -EBADMSG. */
int net_nl_read_ack(int fd, uint32_t seq, uint64_t deadline_ns);

/* ---- at boot and at run time (init/net.c) ---- */

struct agent;

/* Applies task.net.*: links, addresses, routes now; links that do not
 * exist yet (after loading virtio_net in a VM) when they appear, for up
 * to task.net.wait_ms; then resolv.conf and hosts. Needs the loop. */
void net_boot(struct agent *a);

/* Each returns 0 (or a count, an index) or -errno; each is one netlink
 * operation (net_link_index by MAC is a link dump), -ETIMEDOUT when the
 * kernel's replies do not all come within NET_NL_TIMEOUT_MS. */
/* A whole dump (net_nl_read_dump): at most NET_DUMP_MAX entries, else
 * -EMSGSIZE; the main table's routes only. */
int net_dump(uint16_t type, uint8_t family, struct rtnl_item **items, size_t *n);
/* A link by name or MAC ("eth0", "52:54:00:12:34:56"); -ENODEV if none. */
int net_link_index(const char *name_or_mac);
int net_link_set_up(int index, bool up);
int net_link_set_mtu(int index, unsigned mtu);
int net_addr_change(bool add, int index, const struct net_prefix *p);
int net_route_change(bool add, const struct net_route *r, int oif);
/* Writes data to path atomically (temp file, fsync, rename), mode 0644. */
int net_write_file(const char *path, const char *data, size_t len);

#endif
