#!/usr/bin/env python3
"""The host tier's harness: taskinit (the ASan+UBSan build, or the plain
build under valgrind with TASKINIT_VALGRIND=1) runs as PID 1 of a fresh PID +
mount + UTS namespace, in a root of its own (tests/host/nsroot.sh), and the
tests talk to it over its Unix control socket.

Every test asserts, besides its own checks, that the agent's output holds no
sanitizer or memcheck report. Test files (test_*.py here) import this module
and mark tests with @test; run them all with
    python3 tests/host/run_host.py [-k substring[,substring...]]
The last line is "host: N passed, M failed".
"""
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
BUILD = os.path.join(ROOT, os.environ.get("BUILD", "build"))
AGENT = os.environ.get("TASKINIT_BIN", "/build/taskinit-asan")
# TASKINIT_VALGRIND=1: run the plain debug build under memcheck instead; any
# memcheck error turns the agent's exit status into 99, which tests notice.
VALGRIND = os.environ.get("TASKINIT_VALGRIND") == "1"
if VALGRIND:
    AGENT = "/build/taskinit-vg"
AGENT_PREFIX = (["/usr/bin/valgrind", "-q", "--error-exitcode=99", "--leak-check=full",
                 "--errors-for-leak-kinds=definite", "--track-fds=no"] if VALGRIND else [])
SANITIZER_MARKS = ("ERROR: AddressSanitizer", "runtime error:", "ERROR: LeakSanitizer",
                   "Invalid read", "Invalid write", "uninitialised", "Syscall param")

TESTS = []
AGENT_LOGS = []  # every agent's output in the running test, for the sanitizer check


def test(fn):
    TESTS.append(fn)
    return fn



def remove_group(path, timeout=10):
    """rmdir a cgroup, first killing its processes (cgroup.kill) and waiting
    a bounded while for them to be gone: rmdir fails on a populated group."""
    try:
        with open(os.path.join(path, "cgroup.kill"), "w") as f:
            f.write("1")
    except OSError:
        pass
    deadline = time.monotonic() + timeout
    while True:
        try:
            os.rmdir(path)
            return
        except FileNotFoundError:
            return
        except OSError:
            if time.monotonic() > deadline:
                return
            time.sleep(0.02)

class Agent:
    """One taskinit booted in its own namespaces. `main` is the main task's
    argv (inside the namespace root); `keys` are extra task.* words; `netns`
    names a network namespace (`ip netns add`) to boot it in, else it shares
    the host's."""

    def __init__(self, main=None, keys=(), pass_fds=(), preexec=None, log_level="debug",
                 binary=None, netns=None):
        self.work = tempfile.mkdtemp(prefix="taskinit-test.")
        self.root = os.path.join(self.work, "root")
        self.io = os.path.join(self.work, "io")
        os.makedirs(self.root)
        os.makedirs(self.io)
        os.chmod(self.work, 0o755)
        os.chmod(self.io, 0o755)
        self.sock = os.path.join(self.io, "ctl.sock")
        self.out_path = os.path.join(self.io, "agent.out")
        argv = [
            "unshare", "--pid", "--fork", "--mount", "--uts", "--propagation", "private",
            os.path.join(HERE, "nsroot.sh"), self.root, self.io, BUILD, HERE, "--",
            *(AGENT_PREFIX if binary is None else []),
            *([binary or AGENT] if not isinstance(binary, list) else binary),
            "task.control_unix=/io/ctl.sock", "task.control_port=0",
            "task.grace=1", "task.log_level=" + log_level,
            # Task cgroups of their own, on whatever cgroup2 hierarchy the host has.
            "task.cgroup=/sys/fs/cgroup/taskinit-test-%s" % os.path.basename(self.work),
            *keys,
        ]
        if main:
            argv += ["--", *main]
        if netns:
            argv = ["nsenter", "--net=/run/netns/" + netns, *argv]
        env = dict(os.environ)
        env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
        env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
        if VALGRIND:
            env["NSROOT_PROC"] = "1"
        self.out = open(self.out_path, "wb")
        self.proc = subprocess.Popen(argv, stdout=self.out, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, env=env,
                                     pass_fds=pass_fds, preexec_fn=preexec)
        self.returncode = None

    # -- lifecycle --
    def wait_ready(self, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("agent exited before its socket was ready:\n" + self.log())
            try:
                s = self.connect()
                s.close()
                return self
            except OSError:
                time.sleep(0.02)
        raise AssertionError("control socket never became ready:\n" + self.log())

    def wait_exit(self, timeout=30):
        try:
            self.returncode = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError("agent did not exit within %ss:\n%s" % (timeout, self.log()))
        return self.returncode

    def pid1(self):
        """The host pid of the namespace's PID 1 (unshare's only child)."""
        path = "/proc/%d/task/%d/children" % (self.proc.pid, self.proc.pid)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with open(path) as f:
                    kids = f.read().split()
                if kids:
                    return int(kids[0])
            except OSError:
                pass
            time.sleep(0.01)
        raise AssertionError("no PID 1 found")

    def kill(self):
        if self.proc.poll() is None:
            try:
                os.kill(self.pid1(), signal.SIGKILL)
            except (OSError, AssertionError):
                pass
            self.proc.kill()
            self.proc.wait()

    def close(self):
        self.kill()
        self.out.close()
        self.remove_cgroups()
        AGENT_LOGS.append(self.log())
        subprocess.run(["rm", "-rf", self.work])

    def cgroup_base(self):
        """Where this agent's task groups are, seen from the host (None
        without a cgroup2 hierarchy)."""
        for line in open("/proc/self/mountinfo"):
            parts = line.split()
            if "cgroup2" in parts[parts.index("-") + 1:parts.index("-") + 2]:
                return os.path.join(parts[4], "taskinit-test-" + os.path.basename(self.work))
        return None

    def remove_cgroups(self):
        """An agent that was killed leaves its task groups behind on the
        host's cgroup2 hierarchy: kill what is left in them (the namespace's
        processes may still be dying) and remove them once empty."""
        base = self.cgroup_base()
        if base and os.path.isdir(base):
            groups = [os.path.join(base, d) for d in os.listdir(base)
                      if os.path.isdir(os.path.join(base, d))]
            for g in groups:
                remove_group(g)
            remove_group(base)

    def log(self):
        with open(self.out_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def wait_output(self, text, timeout=20):
        deadline = time.monotonic() + timeout
        while text not in self.log():
            if time.monotonic() > deadline:
                raise AssertionError("never saw %r in:\n%s" % (text, self.log()))
            time.sleep(0.02)

    def exit_record(self):
        for line in self.log().splitlines():
            if line.startswith("TASKINIT_EXIT "):
                return json.loads(line[len("TASKINIT_EXIT "):])
        raise AssertionError("no TASKINIT_EXIT line:\n" + self.log())

    # -- control protocol --
    def connect(self, timeout=10):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        s.connect(self.sock)
        return s

    def request(self, line):
        with self.connect() as s:
            s.sendall(line.encode() + b"\n")
            return json.loads(readline(s))


def readline(s, limit=1 << 20):
    buf = b""
    while not buf.endswith(b"\n"):
        chunk = s.recv(1)
        if not chunk:
            break
        buf += chunk
        if len(buf) > limit:
            raise AssertionError("reply line too long")
    return buf


def read_all(s):
    out = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            return out
        out += chunk


def replies(data):
    """Parses newline-separated JSON replies; each must be a JSON object."""
    out = []
    for line in data.split(b"\n"):
        if line:
            obj = json.loads(line)
            assert isinstance(obj, dict) and "ok" in obj, line
            out.append(obj)
    return out


def eq(a, b, what=""):
    if a != b:
        raise AssertionError("%s: %r != %r" % (what, a, b))


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def with_agent(factory=None, **kw):
    """Runs the test body against a ready agent whose main task sleeps,
    then shuts it down through the protocol. `factory` makes the agent
    (default: Agent)."""
    factory = factory or Agent

    def deco(fn):
        def run():
            kw.setdefault("main", ["/bin/sleep", "1000"])
            a = factory(**kw)
            try:
                a.wait_ready()
                fn(a)
                if a.proc.poll() is None:
                    a.request("shutdown")
                a.wait_exit()
                return a
            finally:
                a.close()
        run.__name__ = fn.__name__
        return test(run)
    return deco


def boot_and_exit(main, keys=(), **kw):
    """Boots an agent whose main task is `main` and returns (exit status,
    the TASKINIT_EXIT record, the agent's output) once it is gone."""
    a = Agent(main=main, keys=keys, **kw)
    try:
        rc = a.wait_exit()
        return rc, a.exit_record(), a.log()
    finally:
        a.close()


# ---------------------------------------------------------------- runner

def main():
    only = None
    if len(sys.argv) > 2 and sys.argv[1] == "-k":
        only = sys.argv[2].split(",")
    if os.geteuid() != 0:
        print("host tests need root (unshare, mounts)")
        print("host: 0 passed, 1 failed")
        return 1
    passed = failed = 0
    for fn in TESTS:
        if only and not any(o in fn.__name__ for o in only):
            continue
        t0 = time.monotonic()
        AGENT_LOGS.clear()
        try:
            fn()
            for log in AGENT_LOGS:
                for mark in SANITIZER_MARKS:
                    check(mark not in log, "sanitizer report in agent output:\n" + log)
            passed += 1
            print("PASS %s (%.1fs)" % (fn.__name__, time.monotonic() - t0), flush=True)
        except Exception:
            failed += 1
            print("FAIL %s" % fn.__name__, flush=True)
            print("    " + traceback.format_exc().replace("\n", "\n    "), flush=True)
    print("host%s: %d passed, %d failed" % (" (valgrind)" if VALGRIND else "", passed, failed))
    return 1 if failed else 0


