#!/usr/bin/env python3
"""Host integration tier: taskinit (the ASan+UBSan build) runs as PID 1 of a
fresh PID + mount + UTS namespace, in a root of its own (tests/host/nsroot.sh),
and the tests talk to it over its Unix control socket.

Every test asserts, besides its own checks, that the agent's output holds no
sanitizer report. Run: python3 tests/host/test_host.py [-k substring]
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


class Agent:
    """One taskinit booted in its own namespaces. `main` is the main task's
    argv (inside the namespace root); `keys` are extra task.* words."""

    def __init__(self, main=None, keys=(), pass_fds=(), preexec=None, log_level="debug"):
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
            *AGENT_PREFIX, AGENT, "task.control_unix=/io/ctl.sock", "task.control_port=0",
            "task.grace=1", "task.log_level=" + log_level, *keys,
        ]
        if main:
            argv += ["--", *main]
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
        AGENT_LOGS.append(self.log())
        subprocess.run(["rm", "-rf", self.work])

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


def with_agent(**kw):
    """Runs the test body against a ready agent whose main task sleeps,
    then shuts it down through the protocol."""
    def deco(fn):
        def run():
            kw.setdefault("main", ["/bin/sleep", "1000"])
            a = Agent(**kw)
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


# ---------------------------------------------------------------- PID 1 core

def boot_and_exit(main, keys=(), **kw):
    a = Agent(main=main, keys=keys, **kw)
    try:
        rc = a.wait_exit()
        return rc, a.exit_record(), a.log()
    finally:
        a.close()


@test
def test_main_exit_codes_reported_exactly():
    for code in (0, 1, 2, 127, 255):
        rc, rec, log = boot_and_exit(["/bin/sh", "-c", "exit %d" % code])
        eq(rec["status"], code, "TASKINIT_EXIT status")
        eq(rec["code"], code, "TASKINIT_EXIT code")
        eq(rec["signal"], None, "TASKINIT_EXIT signal")
        eq(rc, code, "namespace PID 1 exit status")
        check("shutdown (poweroff): main task exited" in log, "poweroff after main exit")


@test
def test_main_killed_by_signal_reports_128_plus_signal():
    rc, rec, _ = boot_and_exit(["/bin/sh", "-c", "kill -KILL $$"])
    eq(rec["status"], 137, "status")
    eq(rec["signal"], 9, "signal")
    eq(rec["code"], None, "code")
    eq(rc, 137, "exit status")
    rc, rec, _ = boot_and_exit(["/bin/sh", "-c", "kill -SEGV $$"])
    eq(rec["status"], 128 + 11, "SEGV status")


@test
def test_main_exec_failures_give_127_and_126():
    rc, rec, log = boot_and_exit(["/no/such/program"])
    eq(rec["status"], 127, "not found")
    check("exec /no/such/program" in log, "exec error is logged")
    rc, rec, _ = boot_and_exit(["/t/fixtures/not-executable"])  # exists, mode 0644
    eq(rec["status"], 126, "not executable")


@test
def test_main_task_starts_clean():
    # taskinit itself inherits ignored SIGUSR1, SIGRTMIN+6 and signal 33
    # (which libc wrappers refuse to touch), and a stray fd 7: the main task
    # must get none of them.
    r, w = os.pipe()
    os.dup2(w, 7)
    os.set_inheritable(7, True)

    def preexec():
        import ctypes
        signal.signal(signal.SIGUSR1, signal.SIG_IGN)
        signal.signal(signal.SIGRTMIN + 6, signal.SIG_IGN)
        ign = (ctypes.c_ulong * 4)(1, 0, 0, 0)  # SIG_IGN, no flags, no mask
        ctypes.CDLL(None, use_errno=True).syscall(13, 33, ign, None, 8)  # rt_sigaction

    try:
        rc, rec, log = boot_and_exit(["/build/helpers/probe"], pass_fds=(7,), preexec=preexec)
    finally:
        os.close(7)
        os.close(r)
        os.close(w)
    eq(rc, 0, "probe exit")
    fields = dict(l.split(":", 1) for l in log.splitlines()
                  if l.startswith(("SigBlk:", "SigIgn:", "FDS:")))
    eq(int(fields["SigBlk"].strip(), 16), 0, "SigBlk")
    eq(int(fields["SigIgn"].strip(), 16), 0, "SigIgn")
    eq(fields["FDS"].split(), ["0", "1", "2"], "open fds")


@test
def test_orphaned_grandchildren_are_all_reaped():
    # 100 grandchildren block on a FIFO, orphaned to PID 1 when their
    # subshells exit; closing the FIFO's writer lets them all exit at once.
    script = r"""
mkfifo /tmp/gate
for i in $(seq 100); do ( cat /tmp/gate >/dev/null & ) ; done
exec 3>/tmp/gate
n=0
for f in /proc/[0-9]*/stat; do
  read -r pid comm state ppid rest < "$f" 2>/dev/null || continue
  [ "$comm" = "(cat)" ] && [ "$ppid" = 1 ] && n=$((n+1))
done
echo SPAWNED=$n
exec 3>&-
sleep 1
z=0; s=0
for f in /proc/[0-9]*/stat; do
  read -r pid comm state rest < "$f" 2>/dev/null || continue
  [ "$state" = Z ] && z=$((z+1))
  [ "$comm" = "(cat)" ] && s=$((s+1))
done
echo ZOMBIES=$z SLEEPERS=$s
"""
    rc, rec, log = boot_and_exit(["/bin/sh", "-c", script])
    eq(rc, 0, "main exit")
    check("ZOMBIES=0 SLEEPERS=0" in log, "no zombie or orphan left:\n" + log)
    spawned = int(log.split("SPAWNED=")[1].split()[0])
    eq(spawned, 100, "orphans parented to PID 1 at once")
    reaped = log.count("reaped pid")
    check(reaped >= 100, "PID 1 reaped the orphans itself (reaped %d)" % reaped)


@test
def test_sigterm_ignoring_main_is_killed_after_grace():
    a = Agent(main=["/bin/sh", "-c", "trap '' TERM; echo READY; while :; do sleep 0.05; done"])
    try:
        a.wait_ready()
        a.wait_output("READY")  # the trap is set
        eq(a.request("shutdown")["ok"], True, "shutdown accepted")
        rc = a.wait_exit()
        rec = a.exit_record()
        eq(rec["signal"], 9, "main task got SIGKILL")
        eq(rc, 137, "exit status")
        check("grace period over: sending SIGKILL" in a.log(), "grace expiry logged")
    finally:
        a.close()


@test
def test_shutdown_terminates_cooperative_main_without_sigkill():
    a = Agent(main=["/bin/sleep", "1000"])
    try:
        a.wait_ready()
        r = a.request("shutdown")
        eq(r, {"ok": True, "action": "poweroff"}, "reply")
        rc = a.wait_exit()
        eq(a.exit_record()["signal"], 15, "main got SIGTERM")
        eq(rc, 143, "exit status")
        check("SIGKILL" not in a.log(), "no SIGKILL needed")
        check("all processes gone" in a.log(), "shutdown waited for the processes")
    finally:
        a.close()


@test
def test_signals_to_pid1_shut_down():
    for sig, action in ((signal.SIGTERM, "poweroff"), (signal.SIGINT, "reboot"),
                        (signal.SIGUSR1, "halt")):
        a = Agent(main=["/bin/sleep", "1000"])
        try:
            a.wait_ready()
            os.kill(a.pid1(), sig)
            rc = a.wait_exit()
            eq(rc, 143, "exit status after %s" % sig.name)
            check("shutdown (%s)" % action in a.log(), "%s means %s" % (sig.name, action))
        finally:
            a.close()


@test
def test_signal_without_meaning_is_ignored():
    a = Agent(main=["/bin/sleep", "1000"])
    try:
        a.wait_ready()
        os.kill(a.pid1(), signal.SIGHUP)
        time.sleep(0.2)
        eq(a.request("ping")["ok"], True, "still serving after SIGHUP")
        check("ignored" in a.log(), "SIGHUP logged as ignored")
        a.request("shutdown")
        a.wait_exit()
    finally:
        a.close()


@test
def test_main_exit_stay_keeps_serving():
    a = Agent(main=["/bin/sh", "-c", "exit 3"], keys=["task.main_exit=stay"])
    try:
        a.wait_ready()
        a.wait_output("TASKINIT_EXIT")
        eq(a.exit_record()["status"], 3, "main status")
        eq(a.request("ping")["ok"], True, "serving after main exit")
        a.request("shutdown")
        eq(a.wait_exit(), 3, "exit status is still the main task's")
    finally:
        a.close()


EXPECTED_MOUNTS = {
    # target: (fstype, mount options that must be there, super options that must be there)
    "/proc": ("proc", {"nosuid", "nodev", "noexec"}, set()),
    "/sys": ("sysfs", {"nosuid", "nodev", "noexec"}, set()),
    "/dev": ("devtmpfs", {"nosuid", "noexec"}, set()),
    "/dev/pts": ("devpts", {"nosuid", "noexec"}, {"gid=5", "mode=620", "ptmxmode=666"}),
    "/dev/shm": ("tmpfs", {"nosuid", "nodev"}, set()),
    "/run": ("tmpfs", {"nosuid", "nodev"}, {"mode=755"}),
    "/sys/fs/cgroup": ("cgroup2", {"nosuid", "nodev", "noexec"}, set()),
}


def parse_mountinfo(text):
    mounts = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) < 10 or "-" not in parts:
            continue
        sep = parts.index("-")
        mounts[parts[4]] = (parts[sep + 1], set(parts[5].split(",")),
                            set(parts[sep + 3].split(",")))
    return mounts


@test
def test_boot_mounts_present_with_flags():
    script = ("cat /proc/self/mountinfo; for l in fd stdin stdout stderr; do "
              "echo LINK $l $(readlink /dev/$l); done; "
              "test -c /dev/null && echo NULL_OK; ls /dev/pts >/dev/null && echo PTS_OK")
    rc, _, log = boot_and_exit(["/bin/sh", "-c", script])
    eq(rc, 0, "main exit")
    mounts = parse_mountinfo(log)
    for target, (fstype, opts, sopts) in EXPECTED_MOUNTS.items():
        check(target in mounts, "%s is mounted" % target)
        got_type, got_opts, got_sopts = mounts[target]
        eq(got_type, fstype, "%s fstype" % target)
        check(opts <= got_opts, "%s options %s missing from %s" % (target, opts, got_opts))
        check(sopts <= got_sopts, "%s options %s missing from %s" % (target, sopts, got_sopts))
    check("/dev/ptmx" in mounts and mounts["/dev/ptmx"][0] == "devpts",
          "/dev/ptmx points at the private devpts instance")
    for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"),
                         ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2")):
        check("LINK %s %s" % (name, target) in log, "/dev/%s -> %s" % (name, target))
    check("NULL_OK" in log and "PTS_OK" in log, "device nodes usable")


@test
def test_second_boot_over_existing_mounts_succeeds():
    # A second taskinit inside the first one (a subreaper, not PID 1) runs
    # the boot step over the mounts the first made.
    inner = [AGENT, "task.control_port=0", "task.log_level=info", "--", "/bin/sh", "-c", "exit 7"]
    rc, rec, log = boot_and_exit(inner)
    eq(rc, 7, "outer exit status is the inner's main status")
    for target in EXPECTED_MOUNTS:
        check("mount %s: already mounted, skipped" % target in log,
              "inner boot skipped %s:\n%s" % (target, log))
    check("starting as a child subreaper" in log, "inner runs as subreaper")
    check(log.count("TASKINIT_EXIT") == 2, "both report their main task")


@test
def test_boot_timeline_verb():
    a = Agent(main=["/bin/sleep", "1000"])
    try:
        a.wait_ready()
        r = a.request("boot")
        eq(r["ok"], True, "ok")
        whats = [e["what"] for e in r["events"]]
        for phase in ("exec", "mounted /proc", "mounts done", "control listener ready",
                      "main task started", "boot done"):
            check(phase in whats, "boot timeline has %r: %r" % (phase, whats))
        times = [e["t_ns"] for e in r["events"]]
        eq(times, sorted(times), "timeline in order")
        check(r["exec_ns"] <= times[0], "exec stamp first")
        a.request("shutdown")
        a.wait_exit()
    finally:
        a.close()


@test
def test_unknown_cmdline_keys_are_logged_and_ignored():
    rc, _, log = boot_and_exit(["/bin/true"], keys=["task.bogus=1", "task.grace=banana"])
    eq(rc, 0, "boot went on")
    check("task.bogus=1: unknown key (ignored)" in log, "unknown key warned")
    check("task.grace=banana" in log, "bad value warned")


@test
def test_hostname_is_set():
    rc, _, log = boot_and_exit(["/bin/hostname"], keys=["task.hostname=guest-7"])
    eq(rc, 0, "exit")
    check("\nguest-7\n" in log, "hostname seen by the main task")


# ---------------------------------------------------------------- control protocol

@with_agent()
def test_protocol_basic_verbs(a):
    eq(a.request("ping"), {"ok": True, "pong": True}, "ping")
    v = a.request("version")
    eq((v["ok"], v["protocol"], v["mode"]), (True, 1, "namespace"), "version")
    h = a.request("help")
    check(any(u.startswith("shutdown") for u in h["verbs"]), "help lists shutdown")
    eq(a.request('"ping"'), {"ok": True, "pong": True}, "verb as a JSON string")
    r = a.request("nosuchverb x")
    eq((r["ok"], r["error"]), (False, "unknown_verb"), "unknown verb")
    check("message" in r, "error has a message")
    r = a.request("ping extra")
    eq(r["error"], "bad_argument", "too many args")
    r = a.request("shutdown --sideways")
    eq(r["error"], "bad_argument", "bad shutdown flag")
    r = a.request('ping "unterminated')
    eq(r["error"], "bad_request", "bad JSON string")


@with_agent()
def test_pipelined_requests_answered_in_order(a):
    with a.connect() as s:
        s.sendall(b"ping\nversion\n\nnope\r\nping\n")
        s.shutdown(socket.SHUT_WR)
        rs = replies(read_all(s))
    eq(len(rs), 4, "four replies, blank line ignored")
    eq(rs[0].get("pong"), True, "1st")
    eq(rs[1].get("version"), "0.1.0", "2nd")
    eq(rs[2].get("error"), "unknown_verb", "3rd (CR stripped)")
    eq(rs[3].get("pong"), True, "4th")


@with_agent()
def test_one_shot_half_close_gets_reply_even_without_newline(a):
    with a.connect() as s:
        s.sendall(b"ping")
        s.shutdown(socket.SHUT_WR)
        rs = replies(read_all(s))
    eq(rs, [{"ok": True, "pong": True}], "unterminated last line answered, then EOF")


@with_agent()
def test_junk_bytes_get_errors_and_agent_keeps_serving(a):
    import random
    rnd = random.Random(1234)
    with a.connect() as s:
        for _ in range(50):
            junk = bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 300)))
            s.sendall(junk.replace(b"\n", b"") + b"\n")
        s.sendall(b"ping\n")
        s.shutdown(socket.SHUT_WR)
        rs = replies(read_all(s))  # every line valid JSON
    eq(len(rs), 51, "one reply per junk line plus ping")
    check(all(not r["ok"] for r in rs[:50]), "junk is refused")
    check({r["error"] for r in rs[:50]} <= {"bad_request", "unknown_verb", "bad_argument"},
          "stable error codes")
    eq(rs[-1], {"ok": True, "pong": True}, "ping after junk")
    eq(a.request("ping")["ok"], True, "new connection after junk")


@with_agent()
def test_ten_mib_line_is_refused_and_connection_continues(a):
    with a.connect(timeout=60) as s:
        s.sendall(b"x" * (10 << 20) + b"\nping\n")
        s.shutdown(socket.SHUT_WR)
        rs = replies(read_all(s))
    eq(rs[0]["error"], "line_too_long", "long line refused")
    eq(rs[1:], [{"ok": True, "pong": True}], "the next request still answered")


@with_agent(keys=["task.max_conns=64"])
def test_thousand_connections(a):
    socks = []
    try:
        for _ in range(1000):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            socks.append(s)
            s.connect(a.sock)  # blocking: waits while the backlog is full
        time.sleep(0.5)
        refused = 0
        for s in socks:
            s.setblocking(False)
            try:
                data = s.recv(4096)
            except BlockingIOError:
                continue
            if data:
                eq(json.loads(data.split(b"\n")[0])["error"], "too_many_connections", "code")
                refused += 1
        eq(refused, 1000 - 64, "all over the limit refused with an error")
    finally:
        for s in socks:
            s.close()
    time.sleep(0.3)
    eq(a.request("ping")["ok"], True, "ping after 1000 connections")


@with_agent()
def test_clients_that_vanish_mid_line_or_never_read(a):
    for _ in range(20):
        s = a.connect()
        s.sendall(b"pin")
        s.close()
    s = a.connect()  # reset, not FIN
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    s.sendall(b"ping\nping\nvers")
    s.close()
    # A client that floods requests and reads nothing must not stall others.
    hog = a.connect()
    hog.setblocking(False)
    sent = 0
    try:
        while sent < (8 << 20):
            sent += hog.send(b"ping\n" * 4096)
    except BlockingIOError:
        pass
    eq(a.request("ping")["ok"], True, "served while another client hogs")
    hog.close()
    time.sleep(0.2)
    eq(a.request("ping")["ok"], True, "ping after the vanished clients")


@with_agent(keys=["task.idle_timeout=1"])
def test_idle_connection_times_out(a):
    with a.connect() as s:
        rs = replies(read_all(s))
    eq([r["error"] for r in rs], ["idle_timeout"], "idle client told why, then closed")
    eq(a.request("ping")["ok"], True, "still serving")


@with_agent()
def test_peer_not_allowed_is_refused(a):
    os.chmod(a.sock, 0o666)  # let a non-root user reach the peer check itself
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(r)
            os.setgid(65534)
            os.setuid(65534)
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(5)
            s.connect(a.sock)
            os.write(w, read_all(s))
        except Exception as e:
            os.write(w, ("child: %r" % e).encode())
        finally:
            os._exit(0)
    os.close(w)
    data = b""
    while True:
        chunk = os.read(r, 4096)
        if not chunk:
            break
        data += chunk
    os.close(r)
    os.waitpid(pid, 0)
    check(not data.startswith(b"child:"), data)
    rs = replies(data)
    eq(len(rs), 1, "exactly one line, then closed")
    eq(rs[0]["error"], "forbidden", "refused")
    check("refused unix:" in a.log(), "refusal logged")
    eq(a.request("ping")["ok"], True, "root still served")


@with_agent()
def test_shutdown_reboot_reply(a):
    r = a.request("shutdown --reboot")
    eq(r, {"ok": True, "action": "reboot"}, "reply")
    eq(a.wait_exit(), 143, "exit")
    check("shutdown (reboot)" in a.log(), "reboot path")


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


if __name__ == "__main__":
    sys.exit(main())
