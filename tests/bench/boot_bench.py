#!/usr/bin/env python3
"""Boot benchmark: binary size, peak RSS after boot, and time from exec to
the control listener being ready — beside Debian's tini started the same way
in the same run. Figures are printed, never asserted.

    tests/bench/boot_bench.py build/taskinit [runs]
"""
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
NSROOT = os.path.join(os.path.dirname(HERE), "host", "nsroot.sh")


def boottime_ns():
    return time.clock_gettime_ns(time.CLOCK_BOOTTIME)


def start(io, binary_inside, args):
    root = os.path.join(io, "..", "root")
    os.makedirs(root, exist_ok=True)
    argv = ["unshare", "--pid", "--fork", "--mount", "--uts", "--propagation", "private",
            NSROOT, root, io, io, HERE, "--", binary_inside, *args]
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            stdin=subprocess.DEVNULL)


def request(sock, line):
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(5)
        s.connect(sock)
        s.sendall(line.encode() + b"\n")
        buf = b""
        while not buf.endswith(b"\n"):
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
        return json.loads(buf)


def pid1_of(proc):
    path = "/proc/%d/task/%d/children" % (proc.pid, proc.pid)
    for _ in range(1000):
        try:
            kids = open(path).read().split()
            if kids:
                return int(kids[0])
        except OSError:
            pass
        time.sleep(0.005)
    raise RuntimeError("no PID 1")


def status_kib(pid, key):
    for line in open("/proc/%d/status" % pid):
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return -1


def one_taskinit(binary):
    work = tempfile.mkdtemp(prefix="taskinit-bench.")
    io = os.path.join(work, "io")
    os.makedirs(io)
    shutil.copy(binary, os.path.join(io, "taskinit"))
    sock = os.path.join(io, "ctl.sock")
    t0 = boottime_ns()
    p = start(io, "/io/taskinit", ["task.control_unix=/io/ctl.sock", "task.control_port=0",
                                   "task.log_level=warn", "--", "/bin/sleep", "1000"])
    try:
        while True:
            try:
                boot = request(sock, "boot")
                break
            except OSError:
                time.sleep(0.001)
        ready = next(e["t_ns"] for e in boot["events"] if e["what"] == "control listener ready")
        hwm = status_kib(pid1_of(p), "VmHWM")
        rss = status_kib(pid1_of(p), "VmRSS")
        request(sock, "shutdown")
        p.wait(30)
        return (ready - t0) / 1e6, (ready - boot["exec_ns"]) / 1e6, hwm, rss
    finally:
        if p.poll() is None:
            p.kill()
        shutil.rmtree(work, ignore_errors=True)


def one_tini():
    work = tempfile.mkdtemp(prefix="taskinit-bench.")
    io = os.path.join(work, "io")
    os.makedirs(io)
    shutil.copy(shutil.which("tini") or "/usr/bin/tini", os.path.join(io, "tini"))
    t0 = boottime_ns()
    p = start(io, "/io/tini", ["-s", "--", "/bin/true"])
    p.wait(30)
    t1 = boottime_ns()
    # Peak RSS of tini supervising a sleeping child, for the memory column.
    p = start(io, "/io/tini", ["-s", "--", "/bin/sleep", "1000"])
    try:
        pid = pid1_of(p)
        time.sleep(0.2)
        hwm = status_kib(pid, "VmHWM")
        rss = status_kib(pid, "VmRSS")
    finally:
        p.kill()
        p.wait()
        subprocess.run(["pkill", "-KILL", "-f", "/io/tini"], check=False)
        shutil.rmtree(work, ignore_errors=True)
    return (t1 - t0) / 1e6, hwm, rss


def main():
    binary = sys.argv[1] if len(sys.argv) > 1 else "build/taskinit"
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    size = os.path.getsize(binary)
    print("== boot benchmark (%d runs each, medians)" % runs)
    print("binary size: %s %d bytes (%.1f KiB)" % (binary, size, size / 1024))
    tini = shutil.which("tini")
    if tini:
        print("baseline:    %s %d bytes (dynamic)" % (tini, os.path.getsize(tini)))
    ti = [one_taskinit(binary) for _ in range(runs)]
    ext = statistics.median(r[0] for r in ti)
    internal = statistics.median(r[1] for r in ti)
    hwm = statistics.median(r[2] for r in ti)
    rss = statistics.median(r[3] for r in ti)
    print("taskinit: unshare+exec -> control listener ready: %.2f ms "
          "(of which taskinit's own boot, exec -> ready: %.3f ms)" % (ext, internal))
    print("taskinit: peak RSS after boot (VmHWM) %d KiB, VmRSS %d KiB" % (hwm, rss))
    if tini:
        tr = [one_tini() for _ in range(runs)]
        text = statistics.median(r[0] for r in tr)
        print("tini:     unshare+exec -> `tini true` exited:       %.2f ms" % text)
        print("tini:     peak RSS supervising sleep (VmHWM) %d KiB, VmRSS %d KiB"
              % (statistics.median(r[1] for r in tr), statistics.median(r[2] for r in tr)))
        print("ratio: taskinit ready / tini true done = %.2fx" % (ext / text))
    else:
        print("tini not installed: no baseline (make deps installs it)")


if __name__ == "__main__":
    main()
