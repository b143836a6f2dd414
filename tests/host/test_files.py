"""Host tier: the file verbs (read, write, stat, ls, mkdir) over the control
socket; docs/protocol.md "File verbs". /io inside the agent's namespace is
a.io on the host, so what the agent writes there is checked from outside
too."""
import hashlib
import json
import os
import signal
import socket
import stat
import time

from fusehold import HoldFS
from harness import check, eq, readline, with_agent


def write_req(path, size, opts=""):
    return ("write %s %s %s" % (json.dumps(path), size, opts)).rstrip().encode() + b"\n"


def write_file(a, path, data, opts="", timeout=120):
    """One write on a fresh connection; returns the reply."""
    with a.connect(timeout=timeout) as s:
        s.sendall(write_req(path, len(data), opts) + data)
        return json.loads(readline(s))


def recv_exact(f, n):
    data = f.read(n)
    eq(len(data), n, "bytes after the read header")
    return data


def read_file(a, path, opts="", timeout=120):
    """Returns (header, data); data is None for an error reply."""
    with a.connect(timeout=timeout) as s:
        s.sendall(("read %s %s\n" % (json.dumps(path), opts)).encode())
        f = s.makefile("rb")
        head = json.loads(f.readline())
        if not head["ok"]:
            return head, None
        return head, recv_exact(f, head["len"])


def ping_ok(a):
    eq(a.request("ping"), {"ok": True, "pong": True}, "the agent still answers")


def host(a, path):
    """The host path of /io/... inside the agent."""
    assert path.startswith("/io/")
    return os.path.join(a.io, path[len("/io/"):])


def temp_files(a):
    """Temporary files of writes in /io (named .NAME.taskinit-XXXXXX)."""
    return [n for n in os.listdir(a.io) if ".taskinit-" in n]


def run_ok(a, cmdline):
    r = a.request("run --name setup%d -- %s" % (time.monotonic_ns(), cmdline))
    check(r.get("ok"), "run %s: %r" % (cmdline, r))
    with a.connect(timeout=60) as s:
        s.sendall(("wait %d\n" % r["id"]).encode())
        w = json.loads(readline(s))
    eq(w["task"]["exit"]["status"], 0, "%s exits 0" % cmdline)


@with_agent()
def test_files_roundtrip_50mib_random(a):
    data = os.urandom(50 << 20)
    want = hashlib.sha256(data).hexdigest()
    r = write_file(a, "/tmp/big.bin", data)
    eq((r["ok"], r["path"], r["size"]), (True, "/tmp/big.bin", len(data)), "write reply")
    # Several reads: a stream that filled its buffer must be woken when a
    # flush drains it (a race that once stalled reads for good).
    for _ in range(3):
        head, back = read_file(a, "/tmp/big.bin", timeout=30)
        eq((head["size"], head["offset"], head["len"]), (len(data), 0, len(data)), "header")
        eq(hashlib.sha256(back).hexdigest(), want, "sha256 of what came back")
    eq(a.request("stat /tmp/big.bin")["size"], len(data), "stat size")
    # The same through /io, checked on the host's side of the bind mount.
    r = write_file(a, "/io/big.bin", data)
    check(r["ok"], "write /io: %r" % r)
    with open(host(a, "/io/big.bin"), "rb") as f:
        eq(hashlib.sha256(f.read()).hexdigest(), want, "sha256 of the file on disk")
    eq(temp_files(a), [], "no temporary file left")


@with_agent()
def test_files_every_byte_value_and_pipelining(a):
    data = bytes(range(256)) * 3 + b"\n\r\n\x00write /io/evil 1\nx\n"
    with a.connect() as s:
        # write, its data, then more requests in the same send: the data is
        # taken exactly, never read as requests.
        s.sendall(write_req("/io/all", len(data)) + data + b"ping\n" +
                  write_req("/io/empty", 0) + b"read /io/all --offset 250 --length 10\n")
        f = s.makefile("rb")
        eq(json.loads(f.readline())["size"], len(data), "write reply")
        eq(json.loads(f.readline()), {"ok": True, "pong": True}, "ping after the data")
        eq(json.loads(f.readline())["size"], 0, "empty write")
        head = json.loads(f.readline())
        eq((head["len"], head["offset"]), (10, 250), "ranged read header")
        eq(recv_exact(f, 10), bytes([250, 251, 252, 253, 254, 255, 0, 1, 2, 3]), "range")
    with open(host(a, "/io/all"), "rb") as fh:
        eq(fh.read(), data, "every byte value on disk")
    check(not os.path.exists(host(a, "/io/evil")), "data was never taken as a request")
    eq(os.path.getsize(host(a, "/io/empty")), 0, "empty file")
    head, back = read_file(a, "/io/all")
    eq(back, data, "read back")
    head, back = read_file(a, "/io/empty")
    eq((head["len"], back), (0, b""), "empty read")


@with_agent()
def test_files_mode_and_owner(a):
    r = write_file(a, "/io/owned", b"secret\n", "--mode 0600 --owner 1234:5678")
    eq((r["mode"], r["uid"], r["gid"]), ("0600", 1234, 5678), "reply")
    st = os.stat(host(a, "/io/owned"))
    eq((stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid), (0o600, 1234, 5678), "on disk")
    # Set-id and sticky bits survive (chmod comes after chown).
    write_file(a, "/io/setid", b"#!/bin/sh\n", "--mode 4755 --owner 7")
    st = os.stat(host(a, "/io/setid"))
    eq((stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid), (0o4755, 7, 0), "4755, uid 7 gid 0")
    # A rewrite without options keeps the existing file's mode and owner.
    r = write_file(a, "/io/owned", b"new secret\n")
    eq((r["mode"], r["uid"], r["gid"]), ("0600", 1234, 5678), "kept")
    st = os.stat(host(a, "/io/owned"))
    eq((stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid), (0o600, 1234, 5678), "kept on disk")
    with open(host(a, "/io/owned"), "rb") as f:
        eq(f.read(), b"new secret\n", "new content")
    # A new file without options: 0644 and the agent's uid and gid, umask aside.
    r = write_file(a, "/io/plain", b"x")
    eq((r["mode"], r["uid"], r["gid"]), ("0644", 0, 0), "new file defaults")
    eq(stat.S_IMODE(os.stat(host(a, "/io/plain")).st_mode), 0o644, "0644 on disk")
    # Bad options: the data is still taken, then the error.
    with a.connect() as s:
        s.sendall(write_req("/io/x1", 3, "--mode 999") + b"abc" +
                  write_req("/io/x2", 3, "--owner root") + b"abc" +
                  write_req("/io/x3", 3, "--frob 1") + b"abcping\n")
        f = s.makefile("rb")
        for what in ("--mode 999", "--owner root", "--frob"):
            r = json.loads(f.readline())
            eq((r["ok"], r["error"]), (False, "bad_argument"), what)
        eq(json.loads(f.readline())["pong"], True, "in step after bad options")
    for n in ("x1", "x2", "x3"):
        check(not os.path.exists(host(a, "/io/" + n)), "no file for a refused write")


@with_agent()
def test_files_write_errors(a):
    os.mkdir(host(a, "/io/adir"))
    with open(host(a, "/io/afile"), "w") as f:
        f.write("keep")
    a.request("mkdir /ro")
    run_ok(a, "/bin/mount -t tmpfs -o ro,size=1m tmpfs /ro")
    a.request("mkdir /small")
    run_ok(a, "/bin/mount -t tmpfs -o size=64k tmpfs /small")
    cases = [
        ("/io/no/such/dir/f", "not_found", 2),
        ("/io/adir", "is_a_directory", 21),
        ("/io/afile/f", "not_a_directory", 20),
        ("/ro/f", "read_only", 30),
        ("relative/path", "bad_path", None),
        ("", "bad_path", None),
        ("/io/", "bad_path", None),
        ("/io/..", "bad_path", None),
        ("/" + "d/" * 2100 + "f", "bad_path", None),
        ("/io/" + "n" * 256, "bad_path", None),
    ]
    payload = os.urandom(100000)  # more than one read of the connection
    with a.connect() as s:
        f = s.makefile("rb")
        for path, code, err in cases:
            s.sendall(write_req(path, len(payload)) + payload + b"ping\n")
            r = json.loads(f.readline())
            eq((r["ok"], r["error"]), (False, code), "write %.40s" % path)
            eq(r.get("errno"), err, "errno for %.40s" % path)
            # (a path over 4095 bytes is cut there in the error)
            check(r["path"] == path[:4095], "the path in the error (%.40s)" % path)
            check(r["message"], "a message")
            eq(json.loads(f.readline()), {"ok": True, "pong": True}, "ping after %.40s" % path)
        # No space: refused before any byte lands (the data is still taken).
        s.sendall(write_req("/small/f", 1 << 20) + os.urandom(1 << 20) + b"ping\n")
        r = json.loads(f.readline())
        eq((r["error"], r["errno"]), ("no_space", 28), "1 MiB into a 64 KiB tmpfs")
        eq(json.loads(f.readline())["pong"], True, "ping after no_space")
    eq(a.request("ls /small")["entries"], [], "no temporary file left after no_space")
    # No space found only while writing: two writes both fit when they
    # start, the second runs out after the first is in place.
    with a.connect() as s1, a.connect() as s2:
        s1.sendall(write_req("/small/one", 40000))
        s2.sendall(write_req("/small/two", 40000))
        eq(a.request("ping")["pong"], True, "both headers taken")
        s1.sendall(os.urandom(40000))
        eq(json.loads(readline(s1))["ok"], True, "the first fits")
        s2.sendall(os.urandom(40000))
        r = json.loads(readline(s2))
        eq((r["ok"], r["error"], r["errno"]), (False, "no_space", 28), "ENOSPC mid-write")
        check(r["message"].startswith("write /small/two"), r["message"])
    eq([e["name"] for e in a.request("ls /small")["entries"]], ["one"],
       "the failed write left no temporary file")
    ping_ok(a)
    eq(os.listdir(host(a, "/io/adir")), [], "nothing written into the directory")
    with open(host(a, "/io/afile")) as f:
        eq(f.read(), "keep", "the file in the way is untouched")
    eq(temp_files(a), [], "no temporary file in /io")
    eq(a.request("ls /ro")["entries"], [], "nothing in the read-only mount")


@with_agent()
def test_files_unskippable_size_closes(a):
    for req, code in ((b"write /io/x lots\n", "bad_argument"),
                      (b"write /io/x 65G\n", "too_large"),
                      (b"write /io/x\n", "bad_argument"),
                      (b"write\n", "bad_argument")):
        with a.connect() as s:
            s.sendall(req + b"ping\nping\n")
            f = s.makefile("rb")
            r = json.loads(f.readline())
            eq((r["ok"], r["error"]), (False, code), req)
            try:
                rest = f.read()
            except ConnectionResetError:
                rest = b""
            eq(rest, b"", "nothing after the error: the connection ends (%r)" % req)
        ping_ok(a)
    check(not os.path.exists(host(a, "/io/x")), "no file")


@with_agent()
def test_files_disconnect_mid_transfer(a):
    target = host(a, "/io/keep")
    with open(target, "wb") as f:
        f.write(b"original\n")
    os.chmod(target, 0o640)
    # An abrupt close after 1 MiB of 10 MiB: the temporary file existed, is
    # removed, and the target is untouched.
    s = a.connect()
    s.sendall(write_req("/io/keep", 10 << 20) + os.urandom(1 << 20))
    deadline = time.monotonic() + 10
    while not temp_files(a) and time.monotonic() < deadline:
        time.sleep(0.01)
    eq(len(temp_files(a)), 1, "the data goes to a temporary file beside the target")
    check(temp_files(a)[0].startswith(".keep.taskinit-"), "named after the target")
    s.close()
    deadline = time.monotonic() + 10
    while temp_files(a) and time.monotonic() < deadline:
        time.sleep(0.01)
    eq(temp_files(a), [], "the temporary file is removed")
    with open(target, "rb") as f:
        eq(f.read(), b"original\n", "target untouched")
    eq(stat.S_IMODE(os.stat(target).st_mode), 0o640, "its mode untouched")
    ping_ok(a)
    # A half-close before SIZE bytes: an `incomplete` error, same cleanup.
    with a.connect() as s:
        s.sendall(write_req("/io/keep", 1000) + b"x" * 999)
        s.shutdown(socket.SHUT_WR)
        r = json.loads(readline(s))
        eq((r["ok"], r["error"]), (False, "incomplete"), "half-close")
        check("999 of 1000" in r["message"], r["message"])
    eq(temp_files(a), [], "no temporary file after the half-close")
    # The request line itself unterminated, then EOF: still an answer.
    with a.connect() as s:
        s.sendall(b"write /io/keep 5")
        s.shutdown(socket.SHUT_WR)
        r = json.loads(readline(s))
        eq((r["ok"], r["error"]), (False, "incomplete"), "EOF right after the line")
        eq(s.recv(10), b"", "then the connection ends")
    eq(temp_files(a), [], "no temporary file after it")
    with open(target, "rb") as f:
        eq(f.read(), b"original\n", "target untouched after the half-close")
    ping_ok(a)


@with_agent()
def test_files_read_errors_and_ranges(a):
    os.mkfifo(host(a, "/io/fifo"))
    with open(host(a, "/io/ten"), "wb") as f:
        f.write(b"0123456789")
    cases = [("/io/nope", "not_found"), ("/io", "is_a_directory"),
             ("/io/fifo", "not_a_file"), ("/dev/null", "not_a_file"),
             ("io/ten", "bad_path"), ("/io/ten/x", "not_a_directory")]
    for path, code in cases:
        head, data = read_file(a, path)
        eq((head["ok"], head["error"]), (False, code), "read " + path)
        ping_ok(a)
    for opts, want in (("--offset 3", b"3456789"), ("--length 4", b"0123"),
                       ("--offset 8 --length 100", b"89"), ("--offset 10", b"")):
        head, data = read_file(a, "/io/ten", opts)
        eq((head["size"], data), (10, want), opts)
    head, _ = read_file(a, "/io/ten", "--offset 11")
    eq(head["error"], "bad_argument", "offset past the end")
    head, _ = read_file(a, "/io/ten", "--offset x")
    eq(head["error"], "bad_argument", "offset not a number")


@with_agent()
def test_files_slow_reader_does_not_stall_others(a):
    data = os.urandom(8 << 20)
    write_file(a, "/tmp/eight", data)
    slow = a.connect()
    slow.sendall(b"read /tmp/eight\n")
    time.sleep(0.2)  # the agent fills the socket buffer, then waits
    ping_ok(a)
    eq(a.request("stat /tmp/eight")["size"], len(data), "others are served meanwhile")
    f = slow.makefile("rb")
    head = json.loads(f.readline())
    eq(hashlib.sha256(recv_exact(f, head["len"])).digest(), hashlib.sha256(data).digest(),
       "the slow reader still gets every byte")
    slow.close()


@with_agent()
def test_files_stat(a):
    with open(host(a, "/io/f"), "wb") as f:
        f.write(b"hello")
    os.chown(host(a, "/io/f"), 11, 22)
    os.chmod(host(a, "/io/f"), 0o4711)
    os.symlink("f", host(a, "/io/link"))
    os.mkdir(host(a, "/io/d"), 0o750)
    st = os.lstat(host(a, "/io/f"))
    r = a.request("stat /io/f")
    eq((r["type"], r["mode"], r["size"], r["uid"], r["gid"], r["nlink"]),
       ("file", "4711", 5, 11, 22, 1), "file")
    eq(r["mtime_ns"], st.st_mtime_ns, "mtime_ns")
    check(r["mtime"].endswith("Z") and r["mtime"][:19] ==
          time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(st.st_mtime_ns // 10**9)), r["mtime"])
    check("target" not in r, "no target for a file")
    r = a.request("stat /io/link")
    eq((r["type"], r["target"]), ("symlink", "f"), "symlink not followed")
    r = a.request("stat /io/link --follow")
    eq((r["type"], r["size"]), ("file", 5), "followed")
    r = a.request("stat /io/d")
    eq((r["type"], r["mode"]), ("dir", "0750"), "dir")
    eq(a.request("stat /dev/null")["type"], "char", "device")
    r = a.request("stat /io/missing")
    eq((r["ok"], r["error"], r["errno"], r["path"]), (False, "not_found", 2, "/io/missing"),
       "missing")
    eq(a.request("stat io/f")["error"], "bad_path", "relative")
    eq(a.request("stat /io/f --frob")["error"], "bad_argument", "unknown option")
    ping_ok(a)


@with_agent()
def test_files_ls(a):
    d = host(a, "/io/dir")
    os.mkdir(d)
    with open(os.path.join(d, "three"), "wb") as f:
        f.write(b"abc")
    os.mkdir(os.path.join(d, "sub"), 0o700)
    os.symlink("/nowhere", os.path.join(d, "dangling"))
    with open(os.path.join(d, "sp ace \u00e9"), "wb") as f:
        f.write(b"")
    r = a.request("ls /io/dir")
    eq((r["ok"], r["path"], r["complete"]), (True, "/io/dir", True), "reply")
    got = {e["name"]: (e["type"], e["size"], e["mode"]) for e in r["entries"]}
    eq(got, {"three": ("file", 3, "0644"), "sub": ("dir", os.lstat(os.path.join(d, "sub")).st_size,
                                                   "0700"),
             "dangling": ("symlink", 8, "0777"), "sp ace \u00e9": ("file", 0, "0644")},
       "entries")
    eq(a.request("ls /io/dir/three")["error"], "not_a_directory", "ls of a file")
    eq(a.request("ls /io/nope")["error"], "not_found", "ls of nothing")
    eq(a.request("ls nope")["error"], "bad_path", "relative")
    eq(a.request("ls /io/dir/sub")["entries"], [], "empty directory")
    # A directory whose reply is far bigger than the reply buffer: streamed.
    big = host(a, "/io/big")
    os.mkdir(big)
    names = set("%04d-%s" % (i, "x" * 150) for i in range(4000))
    for n in names:
        open(os.path.join(big, n), "w").close()
    with a.connect(timeout=60) as s:
        s.sendall(b"ls /io/big\nping\n")
        f = s.makefile("rb")
        line = f.readline()
        check(len(line) > 600000, "one long line (%d bytes)" % len(line))
        r = json.loads(line)
        eq((r["complete"], len(r["entries"])), (True, 4000), "all entries")
        eq(set(e["name"] for e in r["entries"]), names, "every name once")
        eq(json.loads(f.readline())["pong"], True, "next reply after the long line")


@with_agent()
def test_files_mkdir(a):
    r = a.request("mkdir /io/m --mode 0700")
    eq((r["ok"], r["created"]), (True, True), "created")
    eq(stat.S_IMODE(os.stat(host(a, "/io/m")).st_mode), 0o700, "exact mode")
    r = a.request("mkdir /io/m")
    eq((r["error"], r["errno"]), ("exists", 17), "exists without -p")
    r = a.request("mkdir -p /io/m")
    eq((r["ok"], r["created"]), (True, False), "exists with -p")
    r = a.request("mkdir --parents /io/p/q//r --mode 2770")
    eq((r["ok"], r["created"]), (True, True), "nested")
    eq(stat.S_IMODE(os.stat(host(a, "/io/p/q/r")).st_mode), 0o2770, "leaf mode")
    eq(stat.S_IMODE(os.stat(host(a, "/io/p/q")).st_mode), 0o755, "parents 0755")
    eq(a.request("mkdir /io/x/y")["error"], "not_found", "missing parent without -p")
    open(host(a, "/io/file"), "w").close()
    eq(a.request("mkdir -p /io/file")["error"], "exists", "a file in the way")
    eq(a.request("mkdir -p /io/file/sub")["error"], "exists", "a file on the way")
    eq(a.request("mkdir rel")["error"], "bad_path", "relative")
    eq(a.request("mkdir /")["error"], "bad_path", "root")
    eq(a.request("mkdir /io/z --mode 8")["error"], "bad_argument", "bad mode")
    eq(a.request("mkdir /io/z /io/w")["error"], "bad_argument", "two paths")
    check(not os.path.exists(host(a, "/io/z")), "nothing made on a bad request")
    ping_ok(a)


# ---- durable writes finish off the event loop (docs/files.md "Durable
# without blocking"). A FUSE file system served by the test (fusehold.py)
# holds fsyncs on demand: a stalled disk, without any hook in the agent.

def hold_fs(a):
    """A HoldFS mounted at /io/h inside the agent."""
    os.mkdir(host(a, "/io/h"))
    fs = HoldFS()
    fs.mount(a.pid1(), os.path.join(a.root, "io", "h"))
    return fs


def events(fs, what):
    return [e for e in fs.events if e[0] == what]


def held_write(a, fs, name, data, old):
    """A write of data over /io/h/NAME (first holding old) whose fsync the
    FUSE server holds; the client's socket, once that fsync is waiting."""
    fs.put(name, old)
    fs.hold = True
    s = a.connect()
    s.sendall(write_req("/io/h/" + name, len(data)) + data)
    fs.wait_for(lambda f: events(f, "fsync"), "the fsync")
    return s


def no_reply_yet(s):
    """Nothing to read on s at this moment (the reply cannot exist yet)."""
    s.setblocking(False)
    try:
        got = s.recv(1)
    except BlockingIOError:
        got = None
    finally:
        s.setblocking(True)
    eq(got, None, "no reply yet")


@with_agent()
def test_files_concurrent_writes(a):
    import threading
    payloads = {"/io/c%02d" % i: os.urandom((i * 7919) % 300000) for i in range(40)}
    same = [os.urandom(50000 + i) for i in range(10)]
    jobs = list(payloads.items()) + [("/io/same", d) for d in same]
    results = {}

    def one(k, path, data):
        with a.connect(timeout=120) as s:
            # A request pipelined behind the data is answered after the write.
            s.sendall(write_req(path, len(data)) + data + b"ping\n")
            f = s.makefile("rb")
            results[k] = (json.loads(f.readline()), json.loads(f.readline()))

    threads = [threading.Thread(target=one, args=(k, p, d)) for k, (p, d) in enumerate(jobs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(180)
    eq(len(results), len(jobs), "every client got its replies")
    for k, (path, data) in enumerate(jobs):
        r, pong = results[k]
        eq((r["ok"], r["path"], r["size"]), (True, path, len(data)), "reply for %s" % path)
        eq(pong, {"ok": True, "pong": True}, "the ping after the write of %s" % path)
    for path, data in payloads.items():
        with open(host(a, path), "rb") as fh:
            check(fh.read() == data, "content of %s" % path)
    with open(host(a, "/io/same"), "rb") as fh:
        check(fh.read() in same, "/io/same is one whole write, not a mix")
    eq(temp_files(a), [], "no temporary file left")
    ping_ok(a)


@with_agent()
def test_files_hangup_after_data_leaves_target(a):
    """A client that sends the whole file and hangs up (not a half-close)
    before the agent can answer: nobody is told, so nothing is replaced.
    The agent is stopped (SIGSTOP) while the client does it, so the hangup
    is there before the agent reads a byte."""
    target = host(a, "/io/keep")
    with open(target, "wb") as f:
        f.write(b"original\n")
    pid = a.pid1()
    for i in range(3):
        before = a.log().count("abandoned")
        os.kill(pid, signal.SIGSTOP)
        try:
            s = a.connect()
            s.sendall(write_req("/io/keep", 65536) + os.urandom(65536))
            s.close()
        finally:
            os.kill(pid, signal.SIGCONT)
        deadline = time.monotonic() + 20
        while a.log().count("abandoned") == before and time.monotonic() < deadline:
            time.sleep(0.02)
        check(a.log().count("abandoned") > before, "the agent saw the write abandoned (%d)" % i)
        with open(target, "rb") as f:
            eq(f.read(), b"original\n", "target untouched (%d)" % i)
        eq(temp_files(a), [], "the temporary file is removed (%d)" % i)
        ping_ok(a)
    # A half-close is not a hangup: that client still gets its answer.
    with a.connect() as s:
        s.sendall(write_req("/io/keep", 4) + b"new\n")
        s.shutdown(socket.SHUT_WR)
        eq(json.loads(readline(s))["ok"], True, "half-closed client answered")
    with open(target, "rb") as f:
        eq(f.read(), b"new\n", "written")


@with_agent()
def test_files_fsync_does_not_block_the_loop(a):
    fs = hold_fs(a)
    try:
        fs.put("target", b"old")
        fs.hold = True
        data = os.urandom(200000)
        s = a.connect(timeout=30)
        s.sendall(write_req("/io/h/target", len(data)) + data)
        fs.wait_for(lambda f: events(f, "fsync"), "the fsync of the temporary file")
        # The fsync is held, for as long as the test likes: PID 1 serves.
        ping_ok(a)
        eq(a.request("ps")["ok"], True, "ps while the fsync is held")
        head, back = read_file(a, "/io/h/target")
        eq(back, b"old", "a reader sees the old file meanwhile")
        run = a.request("run --name echoer -- /bin/echo captured")
        with a.connect(timeout=30) as w:
            w.sendall(("wait %d\n" % run["id"]).encode())
            eq(json.loads(readline(w))["task"]["exit"]["status"], 0, "a task runs and exits")
        with a.connect(timeout=30) as w:
            w.sendall(b"logs echoer\n")
            eq(readline(w), b"captured\n", "task output is kept meanwhile")
        eq(fs.file("target"), b"old", "not renamed before its fsync returns")
        eq(events(fs, "rename"), [], "no rename yet")
        no_reply_yet(s)
        # The file's fsync returns; the directory's is held next: the file is
        # in place, but `ok` waits until the rename is durable too.
        fs.release(keep_holding=True)
        fs.wait_for(lambda f: events(f, "fsyncdir"), "the fsync of the directory")
        eq(fs.file("target"), data, "renamed once its data is durable")
        ping_ok(a)
        no_reply_yet(s)
        fs.release()
        r = json.loads(readline(s))
        eq((r["ok"], r["size"]), (True, len(data)), "the reply, after both fsyncs")
        s.close()
        eq(fs.listing(), ["target"], "no temporary file")
        # Writes behind a held fsync wait their turn; the loop still serves.
        fs.hold = True
        socks = []
        for i in range(3):
            c = a.connect(timeout=30)
            c.sendall(write_req("/io/h/f%d" % i, 5) + b"abc%d\n" % i)
            socks.append(c)
        fs.wait_for(lambda f: f.held, "a held fsync")
        ping_ok(a)
        fs.release()
        for i, c in enumerate(socks):
            eq(json.loads(readline(c))["ok"], True, "queued write %d" % i)
            c.close()
            eq(fs.file("f%d" % i), b"abc%d\n" % i, "queued write %d content" % i)
    finally:
        fs.release()


@with_agent()
def test_files_disconnect_during_fsync(a):
    fs = hold_fs(a)
    try:
        s = held_write(a, fs, "keep", b"n" * 1000, b"original")
        s.close()
        a.wait_output("left during the fsync of /io/h/keep")
        ping_ok(a)
        fs.release()
        fs.wait_for(lambda f: events(f, "unlink"), "the temporary file removed")
        check(events(fs, "unlink")[0][1].startswith(".keep.taskinit-"), "%r" % fs.events)
        eq(fs.file("keep"), b"original", "target untouched")
        eq(fs.listing(), ["keep"], "nothing else left")
        eq(events(fs, "rename"), [], "never renamed")
        # Gone while the directory's fsync runs: the rename was done, so the
        # file stays; only the reply has nobody to go to.
        fs.hold = True
        s = a.connect()
        s.sendall(write_req("/io/h/keep", 3) + b"new")
        fs.wait_for(lambda f: f.held and events(f, "fsync")[1:], "the second write's fsync")
        fs.release(keep_holding=True)
        fs.wait_for(lambda f: f.held and events(f, "fsyncdir"), "the directory fsync")
        s.close()
        deadline = time.monotonic() + 20
        while (a.log().count("left during the fsync of /io/h/keep") < 2 and
               time.monotonic() < deadline):
            time.sleep(0.02)
        eq(a.log().count("left during the fsync of /io/h/keep"), 2, "the hangup seen")
        fs.release()
        a.wait_output("its client left before the reply")
        eq(fs.file("keep"), b"new", "renamed before the hangup: the new file")
        eq(fs.listing(), ["keep"], "no temporary file")
        ping_ok(a)
    finally:
        fs.release()


@with_agent()
def test_files_shutdown_with_stuck_fsync(a):
    fs = hold_fs(a)
    try:
        s = held_write(a, fs, "t", b"new", b"old")
        # A second write queued behind the held fsync (its job still in the
        # helper's pipe): nothing of it may be lost track of at exit.
        s2 = a.connect()
        s2.sendall(write_req("/io/h/u", 3) + b"new")
        fs.wait_for(lambda f: events(f, "setattr")[1:], "the second write's chmod")
        eq(a.request("shutdown")["ok"], True, "shutdown accepted")
        # The whole shutdown runs while the fsync is still held: nothing
        # waits for the helper thread.
        a.wait_output("exiting with status")
        eq(fs.file("t"), b"old", "never replaced")
        eq(fs.file("u"), None, "nor the second")
        s.close()
        s2.close()
    finally:
        fs.release()
    a.wait_exit()


@with_agent()
def test_files_shutdown_finishes_a_write_whose_fsync_returns_late(a):
    """A write whose fsync returns within the end of shutdown's second is
    finished there: its temporary file removed, so no file stays open for
    writing when / is remounted read-only (in a VM)."""
    fs = hold_fs(a)
    try:
        s = held_write(a, fs, "t", b"new", b"old")
        eq(a.request("shutdown")["ok"], True, "shutdown accepted")
        # Logged just before the end of shutdown starts, which never goes
        # back to the loop: the fsync can only come back inside it.
        a.wait_output("all processes gone")
        fs.release()
        a.wait_output("exiting with status")
        eq(fs.file("t"), b"old", "never replaced")
        eq(sorted(fs.listing()), ["t"], "the temporary file is gone")
        s.close()
    finally:
        fs.release()
    a.wait_exit()


@with_agent(keys=("task.debug", "task.debug_unix=/io/debug.sock", "task.debug_port=0"))
def test_files_debug_shell_forks_beside_the_fsync_helper(a):
    """The debug shell is started with fork(): in a process that now has a
    helper thread (here blocked in a held fsync), the child must still get
    as far as exec, and the shell must work."""
    fs = hold_fs(a)
    try:
        fs.hold = True
        s = a.connect()
        s.sendall(write_req("/io/h/f", 2) + b"x\n")
        fs.wait_for(lambda f: f.held, "the held fsync")
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as d:
            d.settimeout(20)
            d.connect(host(a, "/io/debug.sock"))
            d.sendall(b"echo forked-$((6*7)); exit\n")
            out = b""
            while b"forked-42" not in out:
                chunk = d.recv(4096)
                if not chunk:
                    break
                out += chunk
            check(b"forked-42" in out, "the shell ran: %r" % out)
        fs.release()
        eq(json.loads(readline(s))["ok"], True, "the write finishes")
        s.close()
    finally:
        fs.release()
