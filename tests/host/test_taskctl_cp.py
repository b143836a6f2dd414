"""Host tier: `taskctl cp` in both directions (docs/taskctl.md "cp"), over
the agent's Unix listener and through the hybrid relay. /io inside the
agent is a.io on the host, so each direction is checked against the other
side's file system, not against taskctl itself. A small fake agent covers
what a real one does not do on demand: a transfer that stalls or breaks
off midway."""
import hashlib
import json
import os
import resource
import signal
import socket
import stat
import subprocess
import tempfile
import threading
import time

from harness import check, eq, test, with_agent
from test_taskctl import EXIT_CONNECT, EXIT_REFUSED, EXIT_USAGE, TASKCTL, Relay, tc

EXIT_LOCAL = 1


def sha_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


AS_LIMIT = 16 << 20


def tc_capped(addr, *args):
    """Runs taskctl with its address space capped at AS_LIMIT, a third of
    the file in the test that uses it: a client that held the file in
    memory could not finish. Returns (exit code, stderr)."""
    p = subprocess.run([TASKCTL, "-c", addr, *args], stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120,
                       preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_AS,
                                                             (AS_LIMIT, AS_LIMIT)))
    return p.returncode, p.stderr


def leftovers(d):
    """Temporary files of the agent's writes or taskctl's downloads in d."""
    return [n for n in os.listdir(d) if ".taskinit-" in n or ".taskctl-" in n]


def ping_ok(a):
    rc, out, _ = tc(a, "ping")
    check(rc == 0 and out.startswith(b"pong"), "the agent still answers: %r" % out)


def one_error_line(err, *parts):
    check(err.startswith(b"taskctl: ") and err.count(b"\n") == 1, err)
    for p in parts:
        check(p in err, "%r in %r" % (p, err))


@with_agent()
def test_taskctl_cp_50mib_both_ways_unix_and_hybrid(a):
    src = os.path.join(a.work, "big.bin")
    with open(src, "wb") as f:
        for _ in range(50):
            f.write(os.urandom(1 << 20))
    want = sha_file(src)
    with Relay(a).wait_ready() as r:
        for name, addr in (("unix", "unix:" + a.sock), ("hybrid", r.addr)):
            remote = "/io/up-%s.bin" % name
            rc, err = tc_capped(addr, "cp", src, ":" + remote)
            eq((rc, err), (0, b""), "upload over %s" % name)
            eq(sha_file(os.path.join(a.io, remote[4:])), want, "uploaded bytes, %s" % name)
            back = os.path.join(a.work, "down-%s.bin" % name)
            rc, err = tc_capped(addr, "cp", ":" + remote, back)
            eq((rc, err), (0, b""), "download over %s" % name)
            eq(sha_file(back), want, "downloaded bytes, %s" % name)
            eq(leftovers(a.work) + leftovers(a.io), [], "no temporary files left")
    ping_ok(a)


@with_agent()
def test_taskctl_cp_every_byte_and_stdio(a):
    data = bytes(range(256)) * 257 + b"shutdown\n"
    # stdin from a pipe (spooled, since its size is unknown) ...
    rc, out, err = tc(a, "cp", "-", ":/io/bytes.bin", stdin=data)
    eq((rc, out, err), (0, b"", b""), "upload from a pipe")
    with open(os.path.join(a.io, "bytes.bin"), "rb") as f:
        eq(f.read(), data, "every byte value arrives exactly")
    # ... and back to stdout
    rc, out, err = tc(a, "cp", ":/io/bytes.bin", "-")
    eq((rc, err), (0, b""), "download to stdout")
    eq(out, data, "every byte value comes back exactly")
    # stdin that is a regular file goes from its current offset
    src = os.path.join(a.work, "src.bin")
    with open(src, "wb") as f:
        f.write(data)
    with open(src, "rb") as f:
        f.seek(1000)
        p = subprocess.run([TASKCTL, "-c", "unix:" + a.sock, "cp", "-", ":/io/tail.bin"],
                           stdin=f, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    eq((p.returncode, p.stderr), (0, b""), "upload from a file as stdin")
    with open(os.path.join(a.io, "tail.bin"), "rb") as f:
        eq(f.read(), data[1000:], "the rest of the file from its offset")
    # an empty file both ways
    rc, _, _ = tc(a, "cp", "-", ":/io/empty", stdin=b"")
    eq((rc, os.path.getsize(os.path.join(a.io, "empty"))), (0, 0), "empty upload")
    rc, out, _ = tc(a, "cp", ":/io/empty", "-")
    eq((rc, out), (0, b""), "empty download")
    # --json: the agent's reply line
    rc, out, _ = tc(a, "--json", "cp", src, ":/io/j.bin")
    r = json.loads(out)
    eq((rc, r["ok"], r["path"], r["size"]), (0, True, "/io/j.bin", len(data)), "--json reply")
    ping_ok(a)


@with_agent()
def test_taskctl_cp_modes_owner_and_directories(a):
    src = os.path.join(a.work, "tool")
    with open(src, "wb") as f:
        f.write(b"#!/bin/sh\necho tool\n")
    rc, _, err = tc(a, "cp", "--mode", "0751", "--owner", "1000:1001", src, ":/io/tool")
    eq((rc, err), (0, b""), "upload with mode and owner")
    st = os.stat(os.path.join(a.io, "tool"))
    eq((stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid), (0o751, 1000, 1001), "applied")
    eq(a.request("stat /io/tool")["mode"], "0751", "the stat verb agrees")
    rc, out, _ = tc(a, "exec", "--", "/io/tool")
    eq((rc, out), (0, b"tool\n"), "the uploaded file runs")

    # A new local file takes the guest's permission bits less the umask.
    old = os.umask(0o027)
    try:
        new = os.path.join(a.work, "tool.new")
        rc, _, err = tc(a, "cp", ":/io/tool", new)
        eq((rc, err), (0, b""), "download")
        eq(stat.S_IMODE(os.stat(new).st_mode), 0o750, "0751 less umask 027")
    finally:
        os.umask(old)
    # An existing local file keeps its mode; --mode sets it exactly.
    kept = os.path.join(a.work, "kept")
    with open(kept, "wb") as f:
        f.write(b"old")
    os.chmod(kept, 0o604)
    rc, _, _ = tc(a, "cp", ":/io/tool", kept)
    eq((rc, stat.S_IMODE(os.stat(kept).st_mode)), (0, 0o604), "existing file keeps its mode")
    with open(kept, "rb") as f:
        eq(f.read(), b"#!/bin/sh\necho tool\n", "and has the new content")
    rc, _, _ = tc(a, "cp", "--mode", "0600", ":/io/tool", kept)
    eq((rc, stat.S_IMODE(os.stat(kept).st_mode)), (0, 0o600), "--mode on a download")

    # A local directory takes the guest's name; a remote DIR/ takes ours.
    d = os.path.join(a.work, "into")
    os.mkdir(d)
    rc, _, _ = tc(a, "cp", ":/io/tool", d)
    with open(os.path.join(d, "tool"), "rb") as f:
        eq((rc, f.read()), (0, b"#!/bin/sh\necho tool\n"), "download into a directory")
    os.mkdir(os.path.join(a.io, "sub"))
    rc, _, _ = tc(a, "cp", src, ":/io/sub/")
    check(rc == 0 and os.path.exists(os.path.join(a.io, "sub", "tool")), "upload into DIR/")
    eq(leftovers(a.work) + leftovers(d) + leftovers(a.io), [], "no temporary files left")
    ping_ok(a)


@with_agent()
def test_taskctl_cp_errors(a):
    src = os.path.join(a.work, "f")
    with open(src, "wb") as f:
        f.write(b"data" * 1000)
    out_path = os.path.join(a.work, "out")

    rc, _, err = tc(a, "cp", src, ":/io/nodir/x")
    eq(rc, EXIT_REFUSED, "a missing remote directory is the agent's refusal")
    one_error_line(err, b"/io/nodir", b"(not_found)")
    check(not os.path.exists(os.path.join(a.io, "nodir")), "nothing made")
    rc, _, err = tc(a, "cp", ":/io/nodir/x", out_path)
    eq(rc, EXIT_REFUSED, "download of a missing file")
    one_error_line(err, b"(not_found)")
    check(not os.path.exists(out_path), "no local file made")

    for args in ((src, ":io/x"), (":io/x", out_path), (src, ":")):
        rc, _, err = tc(a, "cp", *args)
        eq(rc, EXIT_USAGE, "relative guest path %r" % (args,))
        one_error_line(err, b"absolute")

    rc, _, err = tc(a, "cp", src, ":/io")
    eq(rc, EXIT_REFUSED, "upload over a directory")
    one_error_line(err, b"(is_a_directory)")
    check(os.path.isdir(a.io), "the directory stays")
    rc, _, err = tc(a, "cp", ":/io", out_path)
    eq(rc, EXIT_REFUSED, "download of a directory")
    one_error_line(err, b"(is_a_directory)")

    rc, _, err = tc(a, "cp", os.path.join(a.work, "missing"), ":/io/x")
    eq(rc, EXIT_LOCAL, "local source missing")
    one_error_line(err, b"missing: No such file or directory")
    rc, _, err = tc(a, "cp", a.work, ":/io/x")
    eq(rc, EXIT_LOCAL, "local source is a directory")
    one_error_line(err, b"is a directory")
    rc, _, err = tc(a, "cp", ":/io/agent.out", os.path.join(a.work, "no", "such", "dir"))
    eq(rc, EXIT_LOCAL, "local destination directory missing")
    one_error_line(err, b"No such file or directory")
    check(not os.path.exists(os.path.join(a.io, "x")), "nothing written by failed copies")

    for bad in (["cp", src], ["cp", src, out_path], ["cp", ":/a", ":/b"], ["cp", "-x", src, ":/io/y"],
                ["cp", "--owner", "0", ":/io/f", out_path], ["cp", "--mode", "999", src, ":/io/y"],
                ["cp", "-", ":/io/"], ["cp", src, ":/io/y", "extra"], ["read", "/io/f"],
                ["write", "/io/f", "3"]):
        rc, _, err = tc(a, *bad)
        eq(rc, EXIT_USAGE, "usage error for %r" % bad)
        one_error_line(err)

    rc, _, err = tc(a, "cp", src, ":/io/x", addr="unix:" + os.path.join(a.work, "none.sock"),
                    wait=0)
    eq(rc, EXIT_CONNECT, "cannot connect")
    one_error_line(err, b"cannot connect")
    eq(leftovers(a.work) + leftovers(a.io), [], "no temporary files left")
    ping_ok(a)


class FakeAgent:
    """Answers `stat` and `read` with a header promising `promised` bytes,
    sends `sent` of them, then stalls (stall=True) or closes."""

    def __init__(self, work, promised, sent, stall):
        self.path = os.path.join(work, "fake%d.sock" % time.monotonic_ns())
        self.srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.srv.bind(self.path)
        self.srv.listen(1)
        self.done = threading.Event()
        self.t = threading.Thread(target=self.serve, args=(promised, sent, stall), daemon=True)
        self.t.start()

    def serve(self, promised, sent, stall):
        conn, _ = self.srv.accept()
        with conn:
            buf = b""
            while buf.count(b"\n") < 2:
                buf += conn.recv(4096)
            conn.sendall(b'{"ok":true,"type":"file","mode":"0644"}\n'
                         b'{"ok":true,"size":%d,"offset":0,"len":%d}\n' % (promised, promised)
                         + b"x" * sent)
            if stall:
                self.done.wait(60)

    def close(self):
        self.done.set()
        self.t.join(10)
        self.srv.close()


@test
def test_taskctl_cp_broken_and_interrupted_downloads():
    work = tempfile.mkdtemp(prefix="taskctl-cp.")
    try:
        target = os.path.join(work, "target")
        with open(target, "wb") as f:
            f.write(b"before")
        # The connection ends after 10 of 1000 bytes: lost, target untouched.
        fake = FakeAgent(work, 1000, 10, stall=False)
        p = subprocess.run([TASKCTL, "-c", "unix:" + fake.path, "cp", ":/f", target],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
        fake.close()
        eq(p.returncode, EXIT_CONNECT, "a short transfer is a lost connection")
        one_error_line(p.stderr, b"after 10 of 1000 bytes")
        # Interrupted while the temporary file exists: removed, target untouched.
        fake = FakeAgent(work, 1000, 10, stall=True)
        p = subprocess.Popen([TASKCTL, "-c", "unix:" + fake.path, "cp", ":/f", target],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 30
        while not leftovers(work):
            check(time.monotonic() < deadline, "the download's temporary file never appeared")
            time.sleep(0.01)
        p.send_signal(signal.SIGINT)
        _, err = p.communicate(timeout=30)
        fake.close()
        eq(p.returncode, 128 + signal.SIGINT, "interrupted: 128 + SIGINT")
        one_error_line(err, b"interrupted")
        eq(leftovers(work), [], "the temporary file is removed")
        with open(target, "rb") as f:
            eq(f.read(), b"before", "the target is untouched")
    finally:
        subprocess.run(["rm", "-rf", work])
