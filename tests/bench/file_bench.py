#!/usr/bin/env python3
"""File transfer benchmark: `write` and `read` over the control socket,
beside `cat` through a pipe, in the same taskinit and the same run. Figures
are printed, never asserted.

    tests/bench/file_bench.py [TASKINIT [MIB]]

TASKINIT defaults to $BUILD/taskinit (BUILD defaults to build; `make bench`
runs it so), MIB is the file size (default 256). taskinit runs as PID 1 of a fresh PID +
mount namespace (tests/host/nsroot.sh, as task_bench.py does) and is driven
over its Unix control socket. The source is a random file in the bench's io
directory (/io/src.bin inside; in the page cache once made); destinations
are on the namespace root's tmpfs (/tmp), so the disk is not measured.

1. write: the client sends `write /tmp/dst.bin SIZE` and the file with
   sendfile(2), timed to the reply (the agent has fsynced and renamed by
   then); beside a task `sh -c 'cat /io/src.bin | cat > /tmp/pipe.bin'`,
   timed from `run` to the `wait` reply.
2. read: the client sends `read /tmp/dst.bin` and receives into one reused
   buffer, timed to the last byte; beside a task
   `sh -c 'cat /tmp/dst.bin | cat > /dev/null'`, timed the same way.
Three alternating runs each; best and median MiB/s, and the ratios
socket / pipe. The copies are checked (sha256) outside the timed part.
"""
import hashlib
import json
import os
import shutil
import socket
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from task_bench import Taskinit, make_io, timed_task  # noqa: E402

RUNS = 3


def connect(path):
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(int(os.environ.get("FB_TIMEOUT", "300")))
    s.connect(path)
    return s


def readline(s):
    buf = b""
    while not buf.endswith(b"\n"):
        ch = s.recv(1)
        if not ch:
            raise RuntimeError("connection closed")
        buf += ch
    return json.loads(buf)


def socket_write(sock, src, size):
    with connect(sock) as s, open(src, "rb") as f:
        t0 = time.perf_counter()
        s.sendall(b"write /tmp/dst.bin %d\n" % size)
        s.sendfile(f)
        r = readline(s)
        dt = time.perf_counter() - t0
    if not r.get("ok") or r["size"] != size:
        raise RuntimeError("write failed: %r" % r)
    return dt


def socket_read(sock, size, buf):
    with connect(sock) as s:
        t0 = time.perf_counter()
        s.sendall(b"read /tmp/dst.bin\n")
        head = readline(s)
        if not head.get("ok") or head["len"] != size:
            raise RuntimeError("read failed: %r" % head)
        left = size
        view = memoryview(buf)
        while left:
            n = s.recv_into(view, min(left, len(buf)))
            if not n:
                raise RuntimeError("read ended %d bytes early" % left)
            left -= n
        return time.perf_counter() - t0


def sha256_of_read(sock, size):
    h = hashlib.sha256()
    with connect(sock) as s:
        s.sendall(b"read /tmp/dst.bin\n")
        readline(s)
        left = size
        while left:
            chunk = s.recv(min(left, 1 << 20))
            if not chunk:
                raise RuntimeError("short read")
            h.update(chunk)
            left -= len(chunk)
    return h.hexdigest()


def pipe_task(ti, cmd):
    dt, task = timed_task(ti.c, ["/bin/sh", "-c", cmd], "4096")
    if task["exit"]["status"] != 0:
        raise RuntimeError("%s failed: %s" % (cmd, task))
    return dt


def row(what, mib, ts):
    print("  %-46s %8.3f %10.0f %9.3f %12.0f" % (what, min(ts), mib / min(ts),
                                                statistics.median(ts),
                                                mib / statistics.median(ts)))


def main():
    if len(sys.argv) > 1 and sys.argv[1] in ("-h", "--help"):
        print(__doc__)
        return 0
    binary = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.environ.get("BUILD", "build"), "taskinit")
    if not os.path.exists(binary):
        print("file_bench: no %s (make it first, or pass the path)" % binary)
        return 2
    mib = int(sys.argv[2]) if len(sys.argv) > 2 else 256
    size = mib << 20
    work, io = make_io()
    src = os.path.join(io, "src.bin")
    with open(src, "wb") as f:
        for _ in range(mib):
            f.write(os.urandom(1 << 20))
    with open(src, "rb") as f:
        want = hashlib.file_digest(f, "sha256").hexdigest() if hasattr(
            hashlib, "file_digest") else hashlib.sha256(f.read()).hexdigest()
    ti = Taskinit(binary, io)
    try:
        buf = bytearray(1 << 20)
        tw, tr, pw, pr = [], [], [], []
        for _ in range(RUNS):
            tw.append(socket_write(ti.sock, src, size))
            pw.append(pipe_task(ti, "/bin/cat /io/src.bin | /bin/cat > /tmp/pipe.bin"))
            tr.append(socket_read(ti.sock, size, buf))
            pr.append(pipe_task(ti, "/bin/cat /tmp/dst.bin | /bin/cat > /dev/null"))
        got = sha256_of_read(ti.sock, size)
        if got != want:
            raise RuntimeError("the copy differs: sha256 %s != %s" % (got, want))
        print("== file transfer: %d MiB, %d alternating runs each (sha256 of the copy checked)"
              % (mib, RUNS))
        print("  %-46s %8s %10s %9s %12s" % ("", "best s", "best MiB/s", "median s",
                                           "median MiB/s"))
        row("write over the control socket (sendfile in)", mib, tw)
        row("pipe: cat /io/src.bin | cat > /tmp/pipe.bin", mib, pw)
        row("read over the control socket", mib, tr)
        row("pipe: cat /tmp/dst.bin | cat > /dev/null", mib, pr)
        print("  ratio write / pipe copy: %.2fx best-to-best, %.2fx median-to-median"
              % (min(pw) / min(tw), statistics.median(pw) / statistics.median(tw)))
        print("  ratio read / pipe read:  %.2fx best-to-best, %.2fx median-to-median"
              % (min(pr) / min(tr), statistics.median(pr) / statistics.median(tr)))
        print("  agent VmHWM after the runs: %d KiB" % status_hwm(ti.pid1))
    finally:
        ti.stop()
        shutil.rmtree(work, ignore_errors=True)
    return 0


def status_hwm(pid):
    for line in open("/proc/%d/status" % pid):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return -1


if __name__ == "__main__":
    sys.exit(main())
