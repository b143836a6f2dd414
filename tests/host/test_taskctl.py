"""Host tier: build/taskctl against the agent's Unix listener, and through
tests/host/hybrid_relay.py, a double of Firecracker's CONNECT/OK socket
that turns the client's EOF into a full shutdown as Firecracker does."""
import fcntl
import hashlib
import json
import os
import pty
import select
import shlex
import signal
import socket
import struct
import subprocess
import sys
import termios
import time

from harness import BUILD, HERE, check, eq, with_agent

TASKCTL = os.path.join(BUILD, "taskctl")
RELAY = os.path.join(HERE, "hybrid_relay.py")
EXIT_USAGE, EXIT_REFUSED, EXIT_CONNECT = 253, 254, 255


def tc(a, *args, addr=None, stdin=b"", timeout=120, wait=None):
    """Runs taskctl; returns (exit code, stdout bytes, stderr bytes)."""
    argv = [TASKCTL, "-c", addr or "unix:" + a.sock]
    if wait is not None:
        argv += ["--wait", str(wait)]
    p = subprocess.run(argv + list(args), input=stdin, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


class Relay:
    """hybrid_relay.py serving PORT=PATH maps, as a context manager."""

    def __init__(self, a, *opts, maps=None):
        self.path = os.path.join(a.work, "v%d.sock" % time.monotonic_ns())
        maps = {1024: a.sock} if maps is None else maps
        self.p = subprocess.Popen([sys.executable, RELAY, self.path, *opts,
                                   *["%d=%s" % kv for kv in maps.items()]],
                                  stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.addr = "hybrid:" + self.path

    def wait_ready(self):
        eq(self.p.stdout.readline(), b"ready\n", "relay listening")
        return self

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.p.kill()
        self.p.wait()


def sha(b):
    return hashlib.sha256(b).hexdigest()


@with_agent()
def test_taskctl_exec_exit_codes(a):
    rc, out, err = tc(a, "exec", "--", "/bin/sh", "-c", "echo fine")
    eq((rc, out, err), (0, b"fine\n", b""), "exit 0, output, nothing from taskctl")
    rc, out, err = tc(a, "exec", "--", "/bin/sh", "-c", "echo out; echo err >&2; exit 3")
    eq((rc, out, err), (3, b"out\n", b"err\n"), "exit 3, streams apart")
    rc, out, err = tc(a, "exec", "--", "/no/such/program")
    eq(rc, 127, "not found is 127")
    check(b"taskctl: exec /no/such/program: No such file or directory" in err, err)
    rc, _, err = tc(a, "exec", "--", "/bin/sh", "-c", "kill -TERM $$")
    eq((rc, err), (128 + signal.SIGTERM, b""), "killed by TERM is 143")
    rc, _, _ = tc(a, "exec", "--", "/bin/sh", "-c", "kill -KILL $$")
    eq(rc, 128 + signal.SIGKILL, "killed by KILL is 137")
    # run options go through; --rm leaves nothing behind
    rc, out, _ = tc(a, "exec", "--rm", "--env", "GREETING=a b", "--cwd", "/io", "--", "/bin/sh",
                    "-c", "echo \"$GREETING\" $(pwd)")
    eq((rc, out), (0, b"a b /io\n"), "env and cwd")
    names = [t["name"] for t in a.request("ps")["tasks"]]
    eq(len(names), 6, "main and 5 exec tasks; the --rm one is gone: %r" % names)


@with_agent()
def test_taskctl_exec_binary_streams_exact(a):
    out_data, err_data = os.urandom(5 << 20), os.urandom(5 << 20)
    for name, data in (("o.bin", out_data), ("e.bin", err_data)):
        with open(os.path.join(a.io, name), "wb") as f:
            f.write(data)
    # 10 MiB through the smallest ring, and through the default one: exec
    # attaches --lossless, so the task waits for taskctl instead of the
    # ring overwriting what taskctl has not read.
    for ring in ("4096", "1M"):
        for script in ("cat /io/o.bin; cat /io/e.bin >&2",
                       "cat /io/o.bin & cat /io/e.bin >&2; wait"):
            rc, out, err = tc(a, "exec", "--ring-size", ring, "--", "/bin/sh", "-c", script)
            eq(rc, 0, "exit")
            eq((len(out), sha(out)), (len(out_data), sha(out_data)),
               "stdout exact, ring %s: %s" % (ring, script))
            eq((len(err), sha(err)), (len(err_data), sha(err_data)),
               "stderr exact, ring %s: %s" % (ring, script))


@with_agent()
def test_taskctl_exec_forwards_stdin(a):
    data = os.urandom(1 << 20)
    rc, out, err = tc(a, "exec", "--ring-size", "4M", "--", "/bin/cat", stdin=data)
    eq((rc, err), (0, b""), "cat exits 0")
    eq(sha(out), sha(data), "1 MiB through stdin and back")
    rc, out, _ = tc(a, "exec", "--", "/bin/sh", "-c", "wc -c", stdin=b"")
    eq((rc, out.strip()), (0, b"0"), "empty stdin is end-of-file at once")
    rc, out, _ = tc(a, "exec", "-n", "--", "/bin/sh", "-c", "cat; echo done", stdin=b"ignored")
    eq((rc, out), (0, b"done\n"), "-n: no stdin")


@with_agent()
def test_taskctl_exec_passes_signals(a):
    p = subprocess.Popen([TASKCTL, "-c", "unix:" + a.sock, "exec", "--", "/bin/sh", "-c",
                          "trap 'echo got INT; exit 7' INT; echo ready; while :; do sleep 0.05; done"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    eq(p.stdout.readline(), b"ready\n", "task started")
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=30)
    eq((p.returncode, out, err), (7, b"got INT\n", b""), "SIGINT reached the task")


def pty_run(argv, cols, rows, script):
    """Runs argv on a new pty of cols x rows. script(fd, read_until) drives
    it; returns (exit status, everything read)."""
    pid, fd = pty.fork()
    if pid == 0:
        os.execv(argv[0], argv)
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    seen = bytearray()

    def read_until(text, timeout=30):
        deadline = time.monotonic() + timeout
        while text not in seen:
            left = deadline - time.monotonic()
            check(left > 0, "never saw %r in %r" % (text, bytes(seen)))
            r, _, _ = select.select([fd], [], [], left)
            if r:
                try:
                    chunk = os.read(fd, 65536)
                except OSError:
                    chunk = b""
                check(chunk, "pty closed before %r: %r" % (text, bytes(seen)))
                seen.extend(chunk)
    try:
        script(fd, read_until)
        while True:  # drain until the child is gone
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            seen.extend(chunk)
    finally:
        _, status = os.waitpid(pid, 0)
        os.close(fd)
    return os.waitstatus_to_exitcode(status), bytes(seen)


@with_agent()
def test_taskctl_exec_tty_size_and_resize(a):
    # The outer shell checks that taskctl gave its terminal back as it was.
    # Input is typed only once the resize is over (/io/go); a late SIGWINCH
    # that still interrupts `read` leaves the line in the tty: read again.
    task = ("trap 'echo WINCH; stty size' WINCH; tty; stty size; echo READY; "
            "while [ ! -e /io/go ]; do sleep 0.02; done; until read x; do :; done; echo got-$x; exit 4")
    outer = ("stty -a > /dev/null; before=$(stty -g); %s -c unix:%s exec -t -- /bin/sh -c %s; "
             "rc=$?; [ \"$(stty -g)\" = \"$before\" ] && echo RESTORED; echo RC=$rc"
             % (TASKCTL, a.sock, shlex.quote(task)))

    def drive(fd, read_until):
        read_until(b"READY")
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
        read_until(b"40 120")
        open(os.path.join(a.io, "go"), "w").close()
        os.write(fd, b"hello\r")
        read_until(b"RC=")

    status, seen = pty_run(["/bin/sh", "-c", outer], 100, 30, drive)
    text = seen.decode("utf-8", "replace").replace("\r\n", "\n")
    lines = text.split("\n")
    check(any(line.startswith("/dev/pts/") for line in lines), "the task has a tty: %r" % lines)
    check("30 100" in lines, "the outer size at start: %r" % lines)
    check("WINCH" in lines and "40 120" in lines, "the resize reached the task: %r" % lines)
    check("got-hello" in lines, "typed input reached the task: %r" % lines)
    check("RC=4" in lines, "exit status of the task: %r" % lines)
    check("RESTORED" in lines, "local terminal restored: %r" % lines)
    eq(status, 0, "outer shell")


@with_agent()
def test_taskctl_hybrid_transport(a):
    with Relay(a).wait_ready() as r:
        rc, out, err = tc(a, "exec", "--", "/bin/sh", "-c", "echo via-hybrid; exit 9",
                          addr=r.addr)
        eq((rc, out, err), (9, b"via-hybrid\n", b""), "exec over the handshake")
        # The relay, like Firecracker, ends the guest side on our EOF: the
        # end of stdin must come another way, after all the bytes.
        data = os.urandom(1 << 20)
        rc, out, err = tc(a, "exec", "--ring-size", "4M", "--", "/bin/cat", stdin=data,
                          addr=r.addr)
        eq((rc, err), (0, b""), "cat over hybrid")
        eq(sha(out), sha(data), "1 MiB in and out over hybrid")
        rc, out, _ = tc(a, "ping", addr=r.addr)
        check(rc == 0 and out.startswith(b"pong"), out)
        rc, out, _ = tc(a, "--json", "version", addr=r.addr + ":1024")
        eq((rc, json.loads(out)["protocol"]), (0, 1), "explicit port")


@with_agent()
def test_taskctl_hybrid_refusals(a):
    with Relay(a, maps={}).wait_ready() as r:
        rc, out, err = tc(a, "ping", addr=r.addr, wait=0.3)
        eq((rc, out), (EXIT_REFUSED, b""), "a port nobody listens on is refused")
        check(b"taskctl: refused:" in err and b"nothing listens on guest port 1024" in err
              and err.count(b"\n") == 1, err)
    with Relay(a, "--answer", "NOPE go away").wait_ready() as r:
        rc, _, err = tc(a, "ping", addr=r.addr, wait=0.3)
        eq(rc, EXIT_REFUSED, "an answer that is not OK")
        check(b'the VMM answered "NOPE go away"' in err, err)
    rc, _, err = tc(a, "ping", addr="hybrid:" + os.path.join(a.work, "none.sock"), wait=0.2)
    eq(rc, EXIT_CONNECT, "no socket at all")
    check(err.startswith(b"taskctl: cannot connect:"), err)


@with_agent()
def test_taskctl_hybrid_waits_for_a_slow_guest(a):
    # The VMM's socket appears late, then the guest refuses until it booted.
    with Relay(a, "--bind-delay", "1.5") as r:
        rc, out, err = tc(a, "exec", "--", "/bin/echo", "late", addr=r.addr, wait=20)
        eq((rc, out, err), (0, b"late\n", b""), "waited for the socket")
    with Relay(a, "--ready-delay", "1.5").wait_ready() as r:
        rc, out, err = tc(a, "exec", "--", "/bin/echo", "booted", addr=r.addr, wait=20)
        eq((rc, out, err), (0, b"booted\n", b""), "waited for the guest's listener")
    with Relay(a, "--ready-delay", "30").wait_ready() as r:
        rc, _, err = tc(a, "ping", addr=r.addr, wait=0.5)
        eq(rc, EXIT_REFUSED, "a deadline that passes is a refusal")


@with_agent()
def test_taskctl_errors_and_json(a):
    rc, out, err = tc(a, "ping", addr="unix:" + os.path.join(a.work, "nothing.sock"), wait=0)
    eq((rc, out), (EXIT_CONNECT, b""), "cannot connect")
    check(err.startswith(b"taskctl: cannot connect:") and err.count(b"\n") == 1, err)
    rc, _, err = tc(a, "ps", "nosuchtask")
    eq(rc, EXIT_REFUSED, "unknown task")
    eq(err, b'taskctl: no task "nosuchtask" (unknown_task)\n', "one clear line")
    rc, out, err = tc(a, "--json", "kill", "nosuchtask")
    eq(rc, EXIT_REFUSED, "--json error")
    eq(json.loads(out)["error"], "unknown_task", "raw error reply on stdout")
    rc, _, err = tc(a, "frobnicate")
    eq(rc, EXIT_REFUSED, "other words go to the agent as verbs")
    check(b"frobnicate" in err and err.endswith(b"(unknown_verb)\n"), err)
    for bad in (["logs"], ["wait"], ["exec"], ["--bogus", "ping"], ["exec", "-t", "-n", "true"],
                ["exec", "--env", "A=1", "-t", "true"], ["--wait", "soon", "ping"]):
        rc, _, err = tc(a, *bad)
        eq(rc, EXIT_USAGE, "usage error for %r" % bad)
        check(err.startswith(b"taskctl: "), err)
    p = subprocess.run([TASKCTL, "ping"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       env={"PATH": os.environ.get("PATH", "")})
    eq(p.returncode, EXIT_USAGE, "no address")
    p = subprocess.run([TASKCTL, "ping"], stdout=subprocess.PIPE,
                       env={"TASKCTL_ADDR": "unix:" + a.sock})
    check(p.returncode == 0 and p.stdout.startswith(b"pong"), "TASKCTL_ADDR")
    rc, out, _ = tc(a, "--json", "ps")
    eq(rc, 0, "--json ps")
    check(out.count(b"\n") == 1, "one line")
    eq([t["name"] for t in json.loads(out)["tasks"]], ["main"], "the raw reply")
    rc, out, _ = tc(a, "--help")
    check(rc == 0 and b"vsock:CID" in out and b"hybrid:PATH" in out and b"253" in out, out)


@with_agent()
def test_taskctl_human_output(a):
    rc, out, _ = tc(a, "run", "--name", "three", "--", "/bin/sh", "-c",
                    "echo to-out; echo to-err >&2; exit 3")
    eq(rc, 0, "run")
    check(b"name: three" in out and b"id: 2" in out, out)
    rc, out, _ = tc(a, "wait", "three")
    eq((rc, out), (1, b"three (2): exited with code 3\n"), "wait: failed task")
    rc, out, _ = tc(a, "run", "/no/such/thing")
    eq(rc, 1, "run whose exec fails: task failed")
    rc, out, err = tc(a, "logs", "three")
    eq((rc, out, err), (0, b"to-out\n", b"to-err\n"), "logs: streams to their own fds")
    rc, out, err = tc(a, "logs", "three", "--stream", "stderr")
    eq((out, err), (b"", b"to-err\n"), "logs --stream")
    rc, out, _ = tc(a, "logs", "three", "--stream", "stdout", "--from", "3")
    eq(out, b"out\n", "logs --from")
    tc(a, "run", "--name", "sleeper", "/bin/sleep", "1000")
    rc, out, _ = tc(a, "ps")
    rows = out.decode().splitlines()
    check(rows[0].split() == ["ID", "NAME", "STATE", "PID", "STATUS", "COMMAND"], rows)
    three = next(r.split() for r in rows if " three " in r)
    eq(three[2:5:2], ["exited", "3"], "ps row of three: %r" % three)
    check(any("sleeper" in r and "running" in r and "/bin/sleep 1000" in r for r in rows), rows)
    rc, out, _ = tc(a, "ps", "three")
    check(b"status: exited with code 3" in out and b"output: stdout 7 bytes, stderr 7 bytes" in out,
          out)
    rc, out, _ = tc(a, "stats", "sleeper")
    stats = dict(line.split(": ", 1) for line in out.decode().splitlines())
    check(int(stats["agent.rss_kib"]) > 0 and stats["task.state"] == "running", stats)
    follow = subprocess.Popen([TASKCTL, "-c", "unix:" + a.sock, "logs", "sleeper", "-f"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    events = subprocess.Popen([TASKCTL, "-c", "unix:" + a.sock, "events"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    rc, out, _ = tc(a, "run", "--name", "evt", "/bin/true")  # events may come before or after
    rc, out, _ = tc(a, "kill", "sleeper")
    eq((rc, out), (0, b""), "kill says nothing")
    rc, out, _ = tc(a, "wait", "sleeper")
    eq(out, b"sleeper (4): killed by signal TERM (status 143)\n", "wait: signal")
    fout, _ = follow.communicate(timeout=30)
    eq((follow.returncode, fout), (0, b""), "logs -f ends with the task")
    seen = []
    deadline = time.monotonic() + 30
    while not any(line.startswith("exited") and " sleeper " in line for line in seen):
        check(time.monotonic() < deadline, "events: %r" % seen)
        seen.append(events.stdout.readline().decode())
    events.kill()
    events.wait()
    check(any(line.split()[:3] == ["started", "5", "evt"] for line in seen) or
          any("evt" in line for line in seen), "events: %r" % seen)
    check("killed by signal TERM" in seen[-1], seen)
    eq(tc(a, "rm", "three")[:2], (0, b""), "rm")
    rc, _, err = tc(a, "ps", "three")
    eq(rc, EXIT_REFUSED, "removed")
    rc, _, err = tc(a, "rm", "main")
    eq(rc, EXIT_REFUSED, "rm of a live task is refused")
    check(b"(busy)" in err, err)


@with_agent(keys=["task.debug", "task.debug_unix=/io/debug.sock"])
def test_taskctl_shell(a):
    debug = os.path.join(a.io, "debug.sock")
    rc, out, err = tc(a, "shell", "unix:" + debug, stdin=b"echo shell-$((6*7))\n", timeout=60)
    eq((rc, err), (0, b""), "ends when the shell exits at ^D")
    check(b"shell-42" in out, out)
    with Relay(a, maps={1025: debug}).wait_ready() as r:
        rc, out, err = tc(a, "shell", stdin=b"echo hybrid-$((6*7))\n", addr=r.addr, timeout=60)
        eq((rc, err), (0, b""), "shell over hybrid, default port 1025")
        check(b"hybrid-42" in out, out)
    rc, _, err = tc(a, "shell")
    eq(rc, EXIT_USAGE, "unix needs the debug socket given")


@with_agent()
def test_taskctl_with_stdin_closed_does_not_read_its_own_socket(a):
    # With fd 0 closed, the socket would become fd 0 and be read as stdin.
    p = subprocess.run(["/bin/sh", "-c", 'exec "$@" <&-', "sh", TASKCTL, "-c", "unix:" + a.sock,
                        "exec", "--", "/bin/sh", "-c", "echo hi; sleep 0.2; echo bye"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    eq((p.returncode, p.stdout), (0, b"hi\nbye\n"), "all the output, exit 0: %r" % p.stderr)
