/* Network configuration over rtnetlink: task.net.* at boot, and the calls
 * the net verbs make. nlinline (header-only) builds the link, MTU and
 * address messages; dumps and route messages are init/rtnl.c.
 *
 * Every operation opens its own non-blocking NETLINK_ROUTE socket and
 * closes it, so a socket never sees another request's replies, and waits
 * for its replies through init/nlsock.c: one deadline, NET_NL_TIMEOUT_MS
 * after the request went in, for the whole reply. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <nlinline+.h>

#include "init/init.h"
#include "init/net.h"

/* ---- netlink sockets ---- */

/* nlinline's hooks. Its dialog sends one request and reads one datagram
 * (the ack, or the link for if_nametoindex), so a deadline taken at that
 * one recv is the operation's deadline. */
static int tn_socket(int domain, int type, int protocol)
{
	return socket(domain, type | SOCK_CLOEXEC | SOCK_NONBLOCK, protocol);
}

static int tn_bind(int fd, const struct sockaddr *sa, socklen_t len)
{
	return bind(fd, sa, len);
}

static ssize_t tn_send(int fd, const void *buf, size_t len, int flags)
{
	ssize_t n;

	while ((n = send(fd, buf, len, flags)) < 0 && errno == EINTR)
		;
	return n;
}

static ssize_t tn_recv(int fd, void *buf, size_t len, int flags)
{
	ssize_t n = net_nl_recv(fd, buf, len, flags, net_nl_deadline());

	if (n >= 0)
		return n;
	errno = (int)-n;
	return -1;
}

static int tn_close(int fd)
{
	return close(fd);
}

/* The generated wrappers: one parameter nlinline never uses, and calls
 * taskinit does not make. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wunused-function"
NLINLINE_LIB(tn_)
#pragma GCC diagnostic pop

/* nlinline returns -1 with errno. */
static int nl_err(int r)
{
	return r >= 0 ? r : -errno;
}

static uint32_t next_seq(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint32_t)(ts.tv_nsec ^ ts.tv_sec) | 1u;
}

/* Opens a socket and sends one request: the fd, or -errno. The kernel
 * handles the request inside send(), under its rtnl lock; no timeout
 * bounds that (docs/network.md). */
static int nl_request(const void *req, size_t len)
{
	int fd = net_nl_open();

	if (fd < 0)
		return fd;
	if (tn_send(fd, req, len, 0) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	return fd;
}

int net_dump(uint16_t type, uint8_t family, struct rtnl_item **items, size_t *n)
{
	uint8_t req[64];
	uint32_t seq = next_seq();
	size_t len = rtnl_dump_request(req, sizeof(req), type, family, seq);
	int fd, r;

	*items = NULL;
	*n = 0;
	if (!len)
		return -EINVAL;
	if ((fd = nl_request(req, len)) < 0)
		return fd;
	r = net_nl_read_dump(fd, seq, net_nl_deadline(), NET_DUMP_MAX, items, n);
	close(fd);
	return r;
}

/* ---- changes ---- */

int net_link_index(const char *name_or_mac)
{
	uint8_t mac[6];
	struct rtnl_item *v;
	size_t n;
	int r;

	if (net_parse_mac(name_or_mac, mac) < 0) {
		if (!net_ifname_valid(name_or_mac))
			return -ENODEV;
		return nl_err(tn_if_nametoindex(name_or_mac));
	}
	r = net_dump(RTM_GETLINK, AF_UNSPEC, &v, &n);
	if (r < 0)
		return r;
	r = -ENODEV;
	for (size_t i = 0; i < n && r < 0; i++)
		if (v[i].link.mac_len == 6 && !memcmp(v[i].link.mac, mac, 6))
			r = v[i].link.index;
	free(v);
	return r;
}

int net_link_set_up(int index, bool up)
{
	return nl_err(tn_linksetupdown((unsigned)index, up));
}

int net_link_set_mtu(int index, unsigned mtu)
{
	return nl_err(tn_linksetmtu((unsigned)index, mtu));
}

int net_addr_change(bool add, int index, const struct net_prefix *p)
{
	uint8_t addr[16];

	memcpy(addr, p->addr, sizeof(addr));
	return nl_err(add ? tn_ipaddr_add(p->family, addr, p->plen, (unsigned)index)
			  : tn_ipaddr_del(p->family, addr, p->plen, (unsigned)index));
}

/* nlinline's route calls always add a gateway, which on-link routes must
 * not have: the message is rtnl_route_request's. */
int net_route_change(bool add, const struct net_route *r, int oif)
{
	uint8_t msg[128];
	uint32_t seq = next_seq();
	size_t len = rtnl_route_request(msg, sizeof(msg), add, r, oif, seq);
	int fd, ret;

	if (!len)
		return -EINVAL;
	if ((fd = nl_request(msg, len)) < 0)
		return fd;
	ret = net_nl_read_ack(fd, seq, net_nl_deadline());
	close(fd);
	return ret;
}

/* ---- files ---- */

static int write_all(int fd, const char *data, size_t len)
{
	while (len) {
		ssize_t n = write(fd, data, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

int net_write_file(const char *path, const char *data, size_t len)
{
	char tmp[NET_PATH_MAX + 32], dir[NET_PATH_MAX];
	const char *slash = strrchr(path, '/');
	int fd, r = 0;

	if (path[0] != '/' || !slash[1] || strlen(path) >= NET_PATH_MAX)
		return -EINVAL;
	snprintf(dir, sizeof(dir), "%.*s", slash == path ? 1 : (int)(slash - path), path);
	snprintf(tmp, sizeof(tmp), "%s/.%s.taskinit-XXXXXX", slash == path ? "" : dir, slash + 1);
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if ((r = write_all(fd, data, len)) == 0 && (fchmod(fd, 0644) < 0 || fsync(fd) < 0))
		r = -errno;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r == 0 && rename(tmp, path) < 0)
		r = -errno;
	if (r < 0) {
		unlink(tmp);
		return r;
	}
	/* The rename itself is durable once the directory is synced. */
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
	return 0;
}

/* ---- boot ---- */

struct net_state {
	struct timer retry;
	uint64_t deadline_ns;
	bool done[NET_MAX_IFACES];
};

#define RETRY_MS 50

static void iface_label(const struct net_iface *f, char *buf, size_t cap)
{
	if (f->by_mac)
		net_format_mac(f->mac, 6, buf, cap);
	else
		snprintf(buf, cap, "%s", f->name);
}

static void log_change(struct agent *a, const char *dev, const char *what, int r)
{
	if (r == 0)
		log_msg(a, LL_INFO, "net: %s: %s", dev, what);
	else if (r == -EEXIST)
		log_msg(a, LL_INFO, "net: %s: %s: already there", dev, what);
	else
		log_msg(a, LL_ERROR, "net: %s: %s failed: %s", dev, what, strerror(-r));
}

static void route_words(const struct net_route *r, char *buf, size_t cap)
{
	char dst[NET_ADDRSTR_MAX], gw[NET_ADDRSTR_MAX];
	struct net_prefix g = {.family = r->dst.family};

	memcpy(g.addr, r->gw, sizeof(g.addr));
	if (r->dst.plen == 0)
		snprintf(dst, sizeof(dst), "default");
	else
		net_format_prefix(&r->dst, true, dst, sizeof(dst));
	net_format_prefix(&g, false, gw, sizeof(gw));
	snprintf(buf, cap, "route %s%s%s", dst, r->has_gw ? " via " : "", r->has_gw ? gw : "");
}

/* MTU first (addresses and routes may depend on it), up before routes
 * (the kernel refuses a gateway on a link that is down), down last. */
static void configure(struct agent *a, const struct net_iface *f, int index, const char *name)
{
	char what[160], p[NET_ADDRSTR_MAX];

	if (f->mtu) {
		snprintf(what, sizeof(what), "mtu %u", f->mtu);
		log_change(a, name, what, net_link_set_mtu(index, f->mtu));
	}
	if (f->state == NET_LINK_UP)
		log_change(a, name, "up", net_link_set_up(index, true));
	for (unsigned i = 0; i < f->n_addrs; i++) {
		net_format_prefix(&f->addrs[i], true, p, sizeof(p));
		snprintf(what, sizeof(what), "address %s", p);
		log_change(a, name, what, net_addr_change(true, index, &f->addrs[i]));
	}
	for (unsigned i = 0; i < f->n_routes; i++) {
		route_words(&f->routes[i], what, sizeof(what));
		log_change(a, name, what, net_route_change(true, &f->routes[i], index));
	}
	if (f->state == NET_LINK_DOWN)
		log_change(a, name, "down", net_link_set_up(index, false));
}

static const struct rtnl_link *find_link(const struct rtnl_item *v, size_t n,
					 const struct net_iface *f)
{
	for (size_t i = 0; i < n; i++) {
		const struct rtnl_link *l = &v[i].link;
		if (f->by_mac ? l->mac_len == 6 && !memcmp(l->mac, f->mac, 6)
			      : !strcmp(l->name, f->name))
			return l;
	}
	return NULL;
}

/* Configures the interfaces that exist now; returns how many are still
 * missing (-1: the link dump failed). */
static int configure_present(struct agent *a, struct net_state *st)
{
	const struct net_config *nc = &a->cfg.net;
	struct rtnl_item *v;
	size_t n;
	int missing = 0, r = net_dump(RTM_GETLINK, AF_UNSPEC, &v, &n);

	if (r < 0) {
		log_msg(a, LL_ERROR, "net: listing links failed: %s", strerror(-r));
		return -1;
	}
	for (unsigned i = 0; i < nc->n_ifaces; i++) {
		if (st->done[i])
			continue;
		const struct rtnl_link *l = find_link(v, n, &nc->ifaces[i]);
		if (!l) {
			missing++;
			continue;
		}
		char label[32];
		iface_label(&nc->ifaces[i], label, sizeof(label));
		if (nc->ifaces[i].by_mac)
			log_msg(a, LL_INFO, "net: %s is %s (index %d)", label, l->name, l->index);
		configure(a, &nc->ifaces[i], l->index, l->name);
		st->done[i] = true;
	}
	free(v);
	return missing;
}

static void give_up(struct agent *a, struct net_state *st)
{
	char label[32];

	for (unsigned i = 0; i < a->cfg.net.n_ifaces; i++) {
		if (st->done[i])
			continue;
		iface_label(&a->cfg.net.ifaces[i], label, sizeof(label));
		log_msg(a, LL_ERROR, "net: %s: no such interface (waited %u ms); not configured",
			label, a->cfg.net.wait_ms);
	}
	boot_mark(a, "net configured");
}

static void retry_fire(struct agent *a, struct timer *t)
{
	struct net_state *st = (struct net_state *)((char *)t - offsetof(struct net_state, retry));
	int missing = configure_present(a, st);

	if (missing == 0) {
		boot_mark(a, "net configured");
		return;
	}
	if (missing < 0 || now_ns() >= st->deadline_ns) {
		give_up(a, st);
		return;
	}
	timer_arm(a, &st->retry, RETRY_MS);
}

static void write_files(struct agent *a)
{
	const struct net_config *nc = &a->cfg.net;
	char buf[4096];
	size_t len;
	int r;

	if (nc->have_resolv) {
		len = net_render_resolv(nc, buf, sizeof(buf));
		r = len ? net_write_file(net_resolv_path(nc), buf, len) : -E2BIG;
		log_change(a, net_resolv_path(nc), "written", r);
	}
	if (nc->have_hosts) {
		len = net_render_hosts(nc, buf, sizeof(buf));
		r = len ? net_write_file(net_hosts_path(nc), buf, len) : -E2BIG;
		log_change(a, net_hosts_path(nc), "written", r);
	}
}

void net_boot(struct agent *a)
{
	const struct net_config *nc = &a->cfg.net;
	struct net_state *st;
	int missing;

	write_files(a);
	if (nc->n_ifaces == 0)
		return;
	st = calloc(1, sizeof(*st));
	if (!st) {
		log_msg(a, LL_ERROR, "net: out of memory; interfaces not configured");
		return;
	}
	a->net = st;
	st->retry.on_fire = retry_fire;
	missing = configure_present(a, st);
	/* A VM's virtio-net driver may be a module: load it on demand. */
	if (missing > 0 && a->mode == MODE_VM) {
		if (modules_load(a, "virtio_net") == 0)
			missing = configure_present(a, st);
	}
	if (missing == 0) {
		boot_mark(a, "net configured");
		return;
	}
	if (missing < 0 || nc->wait_ms == 0) {
		give_up(a, st);
		return;
	}
	log_msg(a, LL_INFO, "net: waiting up to %u ms for %d interface(s)", nc->wait_ms, missing);
	st->deadline_ns = now_ns() + (uint64_t)nc->wait_ms * 1000000u;
	timer_arm(a, &st->retry, RETRY_MS);
}
