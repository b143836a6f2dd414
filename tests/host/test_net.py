"""Host tier: network configuration (docs/network.md) inside network
namespaces made here. Each test makes two namespaces, A for the agent and B
for its peer, joined by veth pairs; traffic stays between them, and both
are deleted afterwards. The agent is configured by task.net.* keys at boot
and by the verbs at run time; a TCP connect from A to a server in B proves
addresses and routes work, and the list verbs are compared with `ip -j`.
ip(8) is used by the tests only; the agent speaks netlink itself."""
import errno
import json
import os
import subprocess
import time

from harness import Agent, check, eq, test

PORT = 7777
KNOWN_FLAGS = {"LOOPBACK", "BROADCAST", "POINTOPOINT", "MULTICAST", "NOARP", "ALLMULTI",
               "PROMISC", "UP", "LOWER_UP", "DORMANT"}

# B's server: answers every connection with the address it came from.
SERVER = r"""
import socket
s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("::", %d))
s.listen(16)
print("ready", flush=True)
while True:
    c, peer = s.accept()
    host = peer[0][7:] if peer[0].startswith("::ffff:") else peer[0]
    c.sendall(("hello " + host + "\n").encode())
    c.close()
""" % PORT

CLIENT = r"""
import errno, socket, sys
addr = sys.argv[1]
s = socket.socket(socket.AF_INET6 if ":" in addr else socket.AF_INET, socket.SOCK_STREAM)
s.settimeout(5)
try:
    s.connect((addr, %d))
    print(s.recv(200).decode().strip())
except OSError as e:
    print("error " + errno.errorcode.get(e.errno, str(e)))
""" % PORT


def run(*argv):
    return subprocess.run(argv, check=True, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE).stdout.decode()


class Netns:
    """Namespaces A (agent) and B (peer). IPv6 duplicate address detection
    is off in both, so addresses are usable at once (no test waits on it)."""
    serial = 0

    def __init__(self):
        Netns.serial += 1
        tag = "%d-%d" % (os.getpid(), Netns.serial)
        self.a, self.b = "ti-net-a-" + tag, "ti-net-b-" + tag
        self.server = None
        for ns in (self.a, self.b):
            run("ip", "netns", "add", ns)
            run("ip", "netns", "exec", ns, "sysctl", "-qw",
                "net.ipv6.conf.all.accept_dad=0", "net.ipv6.conf.default.accept_dad=0")
        run("ip", "-n", self.b, "link", "set", "lo", "up")

    def veth(self, name_a, name_b, mac=None):
        """A veth pair made inside A, its peer moved straight into B."""
        run("ip", "-n", self.a, "link", "add", name_a, *(["address", mac] if mac else []),
            "type", "veth", "peer", "name", name_b, "netns", self.b)

    def in_b(self, *args):
        return run("ip", "-n", self.b, *args)

    def peer_setup(self, dev, *addrs, extra_lo=()):
        for ad in addrs:
            self.in_b("addr", "add", ad, "dev", dev, *(["nodad"] if ":" in ad else []))
        self.in_b("link", "set", dev, "up")
        for ad in extra_lo:
            self.in_b("addr", "add", ad, "dev", "lo")

    def serve(self):
        self.server = subprocess.Popen(["ip", "netns", "exec", self.b, "python3", "-c", SERVER],
                                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        eq(self.server.stdout.readline().strip(), b"ready", "server in B")

    def connect(self, addr):
        """A TCP connect from A to B's server: 'hello <our address>' or
        'error <ERRNO>'."""
        return run("ip", "netns", "exec", self.a, "python3", "-c", CLIENT, addr).strip()

    def ip_json(self, *args):
        return json.loads(run("ip", "-j", "-n", self.a, *args) or "[]")

    def close(self):
        if self.server:
            self.server.kill()
            self.server.wait()
        for ns in (self.a, self.b):
            subprocess.run(["ip", "netns", "del", ns], stderr=subprocess.DEVNULL)


def net_test(fn):
    """Runs fn(ns) with fresh namespaces, deleted however it ends."""
    def wrapper():
        ns = Netns()
        try:
            fn(ns)
        finally:
            ns.close()
    wrapper.__name__ = fn.__name__
    return test(wrapper)


def boot(ns, *keys):
    return Agent(main=["/bin/sleep", "1000"], keys=keys, netns=ns.a).wait_ready()


def stop(a):
    try:
        if a.proc.poll() is None:
            a.request("shutdown")
        a.wait_exit()
    finally:
        a.close()


def request(a, line):
    """a.request, read in big chunks: lists of thousands of entries are
    hundreds of KiB, which harness.readline reads a byte at a time."""
    with a.connect() as s:
        s.sendall(line.encode() + b"\n")
        buf = b""
        while not buf.endswith(b"\n"):
            chunk = s.recv(1 << 16)
            if not chunk:
                break
            buf += chunk
        return json.loads(buf)


def ok(a, line):
    r = request(a, line)
    check(r.get("ok") is True, "%s: %r" % (line, r))
    return r


def net_error(a, line, err, text):
    r = request(a, line)
    eq(r.get("error"), "net_error", "%s: %r" % (line, r))
    eq(r.get("errno"), err, "%s: errno" % line)
    check(text in r["message"], "%s: message %r lacks %r" % (line, r["message"], text))
    return r


# ---- read-back against ip -j ----

def settled(compare):
    """compare() reads the agent's list, then ip's. The kernel finishes
    some changes a moment after the request (the carrier through its link
    watch, then IPv6 link-local addresses): a mismatch is read again for a
    while before it counts."""
    def run_it(a, ns):
        deadline = time.monotonic() + 10
        while True:
            try:
                return compare(a, ns)
            except AssertionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
    return run_it


@settled
def check_links(a, ns):
    ours = {l["name"]: l for l in ok(a, "links")["links"]}
    theirs = ns.ip_json("link", "show")
    eq(set(ours), {l["ifname"] for l in theirs}, "link names")
    for l in theirs:
        o = ours[l["ifname"]]
        eq(o["index"], l["ifindex"], "index of " + l["ifname"])
        eq(o["mtu"], l["mtu"], "mtu of " + l["ifname"])
        eq(o["mac"], l["address"], "mac of " + l["ifname"])
        eq(o["operstate"], l["operstate"].lower(), "operstate of " + l["ifname"])
        eq(set(o["flags"]), set(l["flags"]) & KNOWN_FLAGS, "flags of " + l["ifname"])
        eq(o["up"], "UP" in l["flags"], "up of " + l["ifname"])
    return ours


@settled
def check_addrs(a, ns):
    ours = {(x["dev"], x["family"], x["addr"], x["prefix"]) for x in ok(a, "addrs")["addrs"]}
    theirs = {(l["ifname"], ai["family"], ai["local"], ai["prefixlen"])
              for l in ns.ip_json("addr", "show") for ai in l.get("addr_info", [])}
    eq(ours, theirs, "addresses")
    return ours


@settled
def check_routes(a, ns):
    def short(dst, fam):
        # ip prints a host route without its /32 or /128.
        full = "/32" if fam == "inet" else "/128"
        return dst[:-len(full)] if dst.endswith(full) else dst
    ours = {(r["type"], short(r["dst"], r["family"]), r.get("gateway"), r["dev"])
            for r in ok(a, "routes")["routes"]}
    theirs = {(r.get("type", "unicast"), r["dst"], r.get("gateway"), r.get("dev"))
              for fam in ("-4", "-6")
              for r in json.loads(run("ip", "-j", fam, "-n", ns.a, "route", "show", "table",
                                      "main") or "[]")}
    eq(ours, theirs, "main table routes")
    return ours


# ---- tests ----

@net_test
def net_boot_keys_configure_links(ns):
    ns.veth("vA", "vB")
    ns.peer_setup("vB", "10.77.0.1/24", "fd77::1/64",
                  extra_lo=("10.88.0.1/32", "10.99.0.1/32", "fd99::1/128"))
    ns.serve()
    a = boot(ns, "task.net.vA=10.77.0.2/24,fd77::2/64,mtu=1400,"
                 "route=10.88.0.0/24@10.77.0.1,gw=fd77::1")
    try:
        # Both families on-link, the static v4 route, the v6 default route.
        eq(ns.connect("10.77.0.1"), "hello 10.77.0.2", "IPv4 on-link")
        eq(ns.connect("fd77::1"), "hello fd77::2", "IPv6 on-link")
        eq(ns.connect("10.88.0.1"), "hello 10.77.0.2", "IPv4 static route")
        eq(ns.connect("fd99::1"), "hello fd77::2", "IPv6 default route")
        # No IPv4 default route was asked for.
        eq(ns.connect("10.99.0.1"), "error ENETUNREACH", "IPv4 without a default route")

        # The kernel publishes the carrier (operstate) through its link
        # watch, which may lag the link coming up.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if {l["name"]: l for l in ok(a, "links")["links"]}["vA"]["operstate"] == "up":
                break
            time.sleep(0.05)
        links = check_links(a, ns)
        eq(links["vA"]["mtu"], 1400, "mtu")
        eq(links["vA"]["up"], True, "vA up")
        eq(links["vA"]["operstate"], "up", "operstate")
        eq(links["lo"]["up"], True, "loopback left up")
        addrs = check_addrs(a, ns)
        check(("vA", "inet", "10.77.0.2", 24) in addrs, "IPv4 address listed")
        check(("vA", "inet6", "fd77::2", 64) in addrs, "IPv6 address listed")
        routes = check_routes(a, ns)
        check(("unicast", "10.88.0.0/24", "10.77.0.1", "vA") in routes, routes)
        check(("unicast", "default", "fd77::1", "vA") in routes, routes)
        v6 = ok(a, "routes inet6")["routes"]
        check(v6 and all(r["family"] == "inet6" for r in v6), "routes inet6: %r" % v6)
        eq(len(v6), len([r for r in ok(a, "routes")["routes"] if r["family"] == "inet6"]),
           "routes inet6 lists every IPv6 route")
        log = a.log()
        for line in ("net: vA: mtu 1400", "net: vA: up", "net: vA: address 10.77.0.2/24",
                     "net: vA: route 10.88.0.0/24 via 10.77.0.1",
                     "net: vA: route default via fd77::1"):
            check(line in log, "log lacks %r:\n%s" % (line, log))
    finally:
        stop(a)


@net_test
def net_verbs_configure_at_run_time(ns):
    ns.veth("vA", "vB")
    ns.peer_setup("vB", "10.77.1.1/24", "fd77:1::1/64",
                  extra_lo=("10.99.0.1/32", "fd99::1/128"))
    ns.serve()
    # No task.net keys: the agent leaves the interface as it found it.
    a = boot(ns)
    try:
        link = [l for l in ns.ip_json("link", "show", "vA")][0]
        check("UP" not in link["flags"], "vA untouched at boot: %r" % link)
        eq(ns.ip_json("addr", "show", "vA")[0].get("addr_info"), [], "no address at boot")

        ok(a, "link vA mtu 1300")
        ok(a, "link vA up")
        ok(a, "addr add vA 10.77.1.2/24")
        ok(a, "addr add vA fd77:1::2/64")
        ok(a, "route add default via 10.77.1.1")
        ok(a, "route add fd99::/64 via fd77:1::1 dev vA")
        eq(ns.connect("10.99.0.1"), "hello 10.77.1.2", "IPv4 default route added by verb")
        eq(ns.connect("fd99::1"), "hello fd77:1::2", "IPv6 route added by verb")
        eq(check_links(a, ns)["vA"]["mtu"], 1300, "mtu set by verb")
        addrs = check_addrs(a, ns)
        check(("vA", "inet6", "fd77:1::2", 64) in addrs, addrs)
        routes = check_routes(a, ns)
        check(("unicast", "default", "10.77.1.1", "vA") in routes, routes)
        check(("unicast", "fd99::/64", "fd77:1::1", "vA") in routes, routes)
        only_va = ok(a, "addrs vA")["addrs"]
        check(only_va and all(x["dev"] == "vA" for x in only_va), only_va)

        ok(a, "route del default via 10.77.1.1")
        eq(ns.connect("10.99.0.1"), "error ENETUNREACH", "after route del")
        ok(a, "addr del vA 10.77.1.2/24")
        check(("vA", "inet", "10.77.1.2", 24) not in check_addrs(a, ns), "address deleted")
        # A link by its MAC address.
        mac = check_links(a, ns)["vA"]["mac"]
        ok(a, "link %s down" % mac)
        links = check_links(a, ns)
        eq(links["vA"]["up"], False, "down by MAC")
        eq(links["vA"]["operstate"], "down", "operstate after down")
        eq(ns.connect("fd77:1::1"), "error ENETUNREACH", "link down")
    finally:
        stop(a)


@net_test
def net_verb_errors_keep_serving(ns):
    ns.veth("vA", "vB")
    hosts_before = open("/etc/hosts", "rb").read()
    a = boot(ns, "task.net.vA=10.77.2.2/24")
    try:
        net_error(a, "link nosuch0 up", errno.ENODEV, "link nosuch0: No such device")
        net_error(a, "addr add nosuch0 10.0.0.1/24", errno.ENODEV, "No such device")
        net_error(a, "addr add vA 10.77.2.2/24", errno.EEXIST,
                  "addr add 10.77.2.2/24 dev vA: File exists")
        net_error(a, "route add 10.55.0.0/24 via 192.0.2.1", errno.ENETUNREACH,
                  "route add 10.55.0.0/24 via 192.0.2.1: Network is unreachable")
        net_error(a, "addr del vA 10.77.9.9/24", errno.EADDRNOTAVAIL, "addr del")
        net_error(a, "route del 10.66.0.0/24 dev vA", errno.ESRCH, "route del")
        net_error(a, "link 02:00:00:00:00:99 up", errno.ENODEV, "No such device")
        for line, text in (("addr add vA 300.1.2.3/24", "expected an IPv4 or IPv6"),
                           ("addr add vA 10.1.2.3", "ADDR/PREFIX"),
                           ("addr put vA 10.1.2.3/24", "usage"),
                           ("route add 10.55.0.5/24 via 10.77.2.1", "host bits"),
                           ("route add fd00::/64 via 10.77.2.1", "gateway's family"),
                           ("route add 10.55.0.0/24", "needs via"),
                           ("route add default dev vA", "default needs via"),
                           ("link vA mtu 10", "68..65535"),
                           ("link vA sideways", "usage"),
                           ("routes inet7", "inet or inet6"),
                           ("resolv 1.2.3", "nameserver"),
                           ("hosts nope", "NAME=ADDRESS")):
            r = a.request(line)
            eq(r.get("error"), "bad_argument", "%s: %r" % (line, r))
            check(text in r["message"], "%s: %r lacks %r" % (line, r["message"], text))
        # The default hosts path is /etc/hosts, read-only in the test root.
        r = a.request("hosts db=10.0.0.5")
        eq(r.get("error"), "write_failed", repr(r))
        check("writing /etc/hosts: Read-only file system" in r["message"], r["message"])
        eq(open("/etc/hosts", "rb").read(), hosts_before, "host's /etc/hosts untouched")
        # Still serving, and the address from boot is still there.
        eq(a.request("ping").get("pong"), True, "agent still serving")
        check(("vA", "inet", "10.77.2.2", 24) in check_addrs(a, ns), "boot address kept")
    finally:
        stop(a)


@net_test
def net_late_interface_by_mac(ns):
    mac = "02:00:00:78:00:02"
    a = boot(ns, "task.net.%s=10.78.0.2/24,fd78::2/64" % mac, "task.net.wait_ms=30000")
    try:
        check("net: waiting up to 30000 ms for 1 interface(s)" in a.log(), a.log())
        # The interface appears after boot, under a name no key gave.
        ns.veth("late0", "lateB", mac=mac)
        ns.peer_setup("lateB", "10.78.0.1/24")
        ns.serve()
        a.wait_output("net: late0: address fd78::2/64")
        check("net: %s is late0" % mac in a.log(), a.log())
        eq(ns.connect("10.78.0.1"), "hello 10.78.0.2", "late interface configured")
        check(("late0", "inet6", "fd78::2", 64) in check_addrs(a, ns), "IPv6 on late0")
    finally:
        stop(a)


@net_test
def net_missing_interface_gives_up(ns):
    a = boot(ns, "task.net.ghost0=10.79.0.2/24", "task.net.wait_ms=300")
    try:
        a.wait_output("net: ghost0: no such interface (waited 300 ms); not configured")
        eq(a.request("ping").get("pong"), True, "agent still serving")
    finally:
        stop(a)


@net_test
def net_files_written_atomically(ns):
    a = boot(ns, "task.net.dns=10.77.0.1,fd77::1", "task.net.search=corp.example,example",
             "task.net.hosts=db=10.77.0.5,web=fd77::80,db.local=10.77.0.5",
             "task.net.resolv_conf=/io/resolv.conf", "task.net.hosts_file=/io/hosts")
    try:
        resolv, hosts = os.path.join(a.io, "resolv.conf"), os.path.join(a.io, "hosts")
        eq(open(resolv).read(),
           "# written by taskinit (task.net.dns, task.net.search)\n"
           "nameserver 10.77.0.1\nnameserver fd77::1\nsearch corp.example example\n",
           "resolv.conf at boot")
        eq(open(hosts).read(),
           "# written by taskinit (task.net.hosts)\n127.0.0.1\tlocalhost\n"
           "::1\tlocalhost ip6-localhost ip6-loopback\n"
           "10.77.0.5\tdb db.local\nfd77::80\tweb\n", "hosts at boot")
        eq(os.stat(resolv).st_mode & 0o777, 0o644, "resolv.conf mode")

        # A reader holding the old file keeps the old content: the new one
        # was renamed over it, never written in place.
        old = open(resolv)
        ino = os.stat(resolv).st_ino
        r = ok(a, "resolv 10.0.0.53 new.example")
        eq(r["path"], "/io/resolv.conf", "reply path")
        new_text = ("# written by taskinit (task.net.dns, task.net.search)\n"
                    "nameserver 10.0.0.53\nsearch new.example\n")
        eq(r["bytes"], len(new_text), "reply bytes")
        eq(open(resolv).read(), new_text, "resolv.conf after the verb")
        check("nameserver 10.77.0.1" in old.read(), "old reader sees the old file")
        old.close()
        check(os.stat(resolv).st_ino != ino, "replaced by rename")
        ok(a, "resolv - only.example")
        eq(open(resolv).read(), "# written by taskinit (task.net.dns, task.net.search)\n"
           "search only.example\n", "search domains only")

        ok(a, "hosts -")
        eq(open(hosts).read(), "# written by taskinit (task.net.hosts)\n127.0.0.1\tlocalhost\n"
           "::1\tlocalhost ip6-localhost ip6-loopback\n", "hosts cleared")
        ok(a, "hosts cache=10.0.0.7")
        check(open(hosts).read().endswith("10.0.0.7\tcache\n"), "hosts entry")
        # A bad request leaves the file as it was.
        before = open(hosts).read()
        eq(a.request("hosts cache=10.0.0").get("error"), "bad_argument", "bad hosts")
        eq(open(hosts).read(), before, "hosts unchanged by a refused request")
        leftovers = [f for f in os.listdir(a.io) if ".taskinit-" in f]
        eq(leftovers, [], "no temporary files left")
    finally:
        stop(a)


def ip_batch(ns, lines):
    """Runs many ip commands inside A at once (ip -batch)."""
    subprocess.run(["ip", "-n", ns.a, "-batch", "-"], input="".join(lines).encode(),
                   check=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def many(prefix, first, count, suffix):
    """count addresses prefix.X.Y<suffix>, X.Y counting up from first."""
    return ["%s.%d.%d%s" % (prefix, i // 250, i % 250 + 1, suffix)
            for i in range(first, first + count)]


@net_test
def net_lists_thousands_of_entries(ns):
    ns.veth("vA", "vB")
    run("ip", "-n", ns.a, "link", "set", "vA", "up")
    # Each /32 address also puts a route in the local table, which the
    # agent leaves out of its lists (and of its cap) as `ip route` does.
    ip_batch(ns, ["addr add %s dev vA\n" % x for x in many("10.81", 0, 2000, "/32")])
    ip_batch(ns, ["route add %s dev vA\n" % x for x in many("10.82", 0, 2000, "/32")])
    a = boot(ns)
    try:
        addrs = ok(a, "addrs")["addrs"]
        eq(len(addrs), len({(x["dev"], x["addr"], x["prefix"]) for x in addrs}),
           "addresses listed once each")
        check(len(addrs) >= 2000, "all 2000 addresses: %d" % len(addrs))
        check_addrs(a, ns)  # the same set as ip's, so complete
        eq(len(ok(a, "addrs vA")["addrs"]), len([x for x in addrs if x["dev"] == "vA"]),
           "addrs vA")
        routes = ok(a, "routes inet")["routes"]
        check(len(routes) >= 2000, "all 2000 routes: %d" % len(routes))
        check_routes(a, ns)

        # Near NET_DUMP_MAX (8192) addresses: still complete, in one reply.
        ip_batch(ns, ["addr add %s dev vA\n" % x for x in many("10.83", 0, 6000, "/32")])
        listed = ok(a, "addrs")["addrs"]
        check(len(listed) >= 8000, "all 8000 addresses: %d" % len(listed))
        eq(len(check_addrs(a, ns)), len(listed), "ip's addresses, each listed once")
        # Past it a list is refused whole, with a clear error, instead of
        # being cut short or outgrowing the reply limit.
        ip_batch(ns, ["addr add %s dev vA\n" % x for x in many("10.84", 0, 300, "/32")])
        for line in ("addrs", "addrs vA"):
            net_error(a, line, errno.EMSGSIZE,
                      "listing addresses: more than 8192, the most one reply holds")
        # The routes in the local table do not count: the main table lists.
        check(len(ok(a, "routes inet")["routes"]) >= 2000, "routes still listed")
        check("lo" in {l["name"] for l in ok(a, "links")["links"]}, "links still listed")
        eq(a.request("ping").get("pong"), True, "agent still serving")
    finally:
        stop(a)
