#!/usr/bin/env python3
"""taskctl benchmark: the round trip of `taskctl exec -- /bin/true` against
taskinit, beside the same command run per connection by socat and by an SSH
server, in the same run. Figures are printed, never asserted.

    tests/bench/taskctl_bench.py [N]        (binaries from $BUILD, default build)

Each round trip is timed from starting the client process to its exit, so
all three pay for one client process:
1. taskctl: `taskctl -c unix:ctl.sock exec -- /bin/true`, taskinit running as
   PID 1 of a fresh PID + mount namespace (as task_bench.py runs it).
2. socat: a server `socat UNIX-LISTEN:s.sock,fork EXEC:/bin/true` and the
   client `socat -u OPEN:/dev/null UNIX-CONNECT:s.sock`: one fork and exec
   of /bin/true per connection, no protocol at all.
3. ssh: dropbear (Debian's dropbear-bin) on 127.0.0.1 at a random port with
   a fresh ed25519 host key, public-key login as root, in a mount namespace
   of its own where /root is a temporary directory holding the
   authorized_keys (the real /root is not touched); the client is OpenSSH's
   `ssh -p PORT root@127.0.0.1 /bin/true` with BatchMode and no host-key
   check.
N round trips each (default 200), in 10 interleaved chunks so all three see
the same machine; the median and p90 are printed with the ratios.
"""
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from task_bench import Taskinit, make_io  # noqa: E402

BUILD = os.path.join(ROOT, os.environ.get("BUILD", "build"))


def timed(argv):
    t0 = time.perf_counter()
    p = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE)
    dt = time.perf_counter() - t0
    if p.returncode != 0:
        raise RuntimeError("%s -> %d: %s" % (argv[0], p.returncode, p.stderr.decode()[-300:]))
    return dt


def wait_for(path, proc, what):
    deadline = time.monotonic() + 20
    while not os.path.exists(path):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(what + " did not start")
        time.sleep(0.01)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Dropbear:
    def __init__(self, work):
        self.dir = os.path.join(work, "ssh")
        home = os.path.join(self.dir, "home")
        os.makedirs(os.path.join(home, ".ssh"), mode=0o700)
        os.chmod(home, 0o700)
        self.key = os.path.join(self.dir, "id_ed25519")
        hostkey = os.path.join(self.dir, "host_ed25519")
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", self.key],
                       check=True)
        subprocess.run(["dropbearkey", "-t", "ed25519", "-f", hostkey], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        auth = os.path.join(home, ".ssh", "authorized_keys")
        shutil.copy(self.key + ".pub", auth)
        os.chmod(auth, 0o600)
        self.port = free_port()
        pidfile = os.path.join(self.dir, "dropbear.pid")
        script = ('mount --bind "$1" /root && shift && exec "$@"')
        self.p = subprocess.Popen(
            ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh", home,
             shutil.which("dropbear") or "/usr/sbin/dropbear", "-F", "-E", "-s", "-m",
             "-r", hostkey, "-P", pidfile, "-p", "127.0.0.1:%d" % self.port],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                if self.p.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("dropbear did not start")
                time.sleep(0.02)
        self.argv = ["ssh", "-q", "-i", self.key, "-p", str(self.port), "-o", "BatchMode=yes",
                     "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                     "-o", "LogLevel=ERROR", "root@127.0.0.1", "/bin/true"]

    def stop(self):
        self.p.kill()
        self.p.wait()


def stats(xs):
    xs = sorted(xs)
    return statistics.median(xs), xs[int(len(xs) * 0.9) - 1]


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    taskctl = os.path.join(BUILD, "taskctl")
    work, io = make_io()
    ti = sock_srv = ssh = None
    try:
        ti = Taskinit(os.path.join(BUILD, "taskinit"), io)
        socat_path = os.path.join(work, "s.sock")
        sock_srv = subprocess.Popen(["socat", "UNIX-LISTEN:%s,fork" % socat_path,
                                     "EXEC:/bin/true"],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(socat_path, sock_srv, "socat")
        ssh = Dropbear(work)
        runs = {
            "taskctl exec": [taskctl, "-c", "unix:" + ti.sock, "exec", "--", "/bin/true"],
            "socat EXEC": ["socat", "-u", "OPEN:/dev/null", "UNIX-CONNECT:" + socat_path],
            "ssh (dropbear)": ssh.argv,
        }
        times = {k: [] for k in runs}
        for k, argv in runs.items():  # warm up: page cache, first fork of each
            for _ in range(3):
                timed(argv)
        chunk = max(1, n // 10)
        while len(times["taskctl exec"]) < n:
            for k, argv in runs.items():
                for _ in range(min(chunk, n - len(times[k]))):
                    times[k].append(timed(argv))
        print("taskctl: exec -- /bin/true round trip, %d each, client process start to exit" % n)
        med = {}
        for k in runs:
            m, p90 = stats(times[k])
            med[k] = m
            print("  %-16s median %8.3f ms   p90 %8.3f ms" % (k, m * 1e3, p90 * 1e3))
        t = med["taskctl exec"]
        print("  socat / taskctl: %.2fx   ssh / taskctl: %.2fx" %
              (med["socat EXEC"] / t, med["ssh (dropbear)"] / t))
        print("  goals: faster than socat (%s), 10x faster than ssh (%s)" %
              ("met" if t < med["socat EXEC"] else "not met",
               "met" if t * 10 <= med["ssh (dropbear)"] else "not met"))
    finally:
        if ssh:
            ssh.stop()
        if sock_srv:
            sock_srv.kill()
            sock_srv.wait()
        if ti:
            ti.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
