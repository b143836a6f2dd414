"""Host tier: taskctl facing a hostile or failing other side.

- Human output escapes every string that comes from the guest (argv, file
  names, error messages, names a fake agent makes up), so a guest cannot
  drive the operator's terminal; --json and the raw streams stay exact.
- A connection reset in the middle of a debug shell or an exec session is
  a lost connection (255); a reset after the session's normal end is not.
- A local side that fails (stdout closed, a source file that cannot be
  read halfway) ends taskctl with a clear code instead of a signal death or
  a hang.

The fake servers here are tiny Unix listeners in a thread: they do on
demand what a real agent only does by accident (reset a connection, send
control bytes in a task's name)."""
import json
import os
import shlex
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time

from harness import check, eq, test, with_agent
from test_taskctl import EXIT_CONNECT, TASKCTL, tc

EXIT_LOCAL = 1
CONTROL = [bytes([b]) for b in list(range(0x20)) + [0x7f]]


def no_control(out):
    """No C0 control but newline (the output's own line ends), no DEL, and
    no C1 control, raw or as UTF-8."""
    bad = [c for c in CONTROL if c != b"\n" and c in out]
    bad += [bytes([0xc2, b]) for b in range(0x80, 0xa0) if bytes([0xc2, b]) in out]
    return not bad


class FakeServer:
    """A Unix listener in a thread; handler(conn) runs for each connection
    in turn, until close()."""

    def __init__(self, work, handler):
        self.path = os.path.join(work, "fake%d.sock" % time.monotonic_ns())
        self.srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.srv.bind(self.path)
        self.srv.listen(8)
        self.errors = []
        self.t = threading.Thread(target=self.serve, args=(handler,), daemon=True)
        self.t.start()
        self.addr = "unix:" + self.path

    def serve(self, handler):
        while True:
            try:
                c, _ = self.srv.accept()
            except OSError:
                return
            try:
                c.settimeout(30)
                handler(c)
            except Exception as e:  # reported by close()
                self.errors.append(repr(e))
            finally:
                c.close()

    def close(self):
        self.srv.shutdown(socket.SHUT_RDWR)
        self.srv.close()
        self.t.join(10)
        eq(self.errors, [], "the fake server's own errors")


def read_lines(c, n):
    """Reads until n request lines came; returns them (and never reads
    past them byte-wise: what follows stays in the socket)."""
    lines, cur = [], b""
    while len(lines) < n:
        ch = c.recv(1)
        check(ch, "request lines: %r %r" % (lines, cur))
        if ch == b"\n":
            lines.append(cur)
            cur = b""
        else:
            cur += ch
    return lines


def reset_with_bytes_unread(c):
    """Waits until the client has sent bytes this side did not read, then
    closes: on a Unix socket a close with unread bytes is what the client
    sees as ECONNRESET (SO_LINGER 0 makes it one on TCP and vsock too)."""
    c.recv(1, socket.MSG_PEEK)
    c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    c.close()


# ---- 1. escaping ----

ESC_ARG = "\x1b[2J"
C1_ARG = "\u009b31m"  # CSI as a C1 control, UTF-8 encoded
TAB_ARG = "tab\there"


@with_agent()
def test_taskctl_escapes_guest_strings(a):
    rc, out, err = tc(a, "run", "--name", "esc", "--", "/bin/sh", "-c", "sleep 1000", ESC_ARG,
                      C1_ARG, TAB_ARG, "é")
    eq((rc, err), (0, b""), "run")
    rc, out, _ = tc(a, "ps")
    eq(rc, 0, "ps")
    check(no_control(out), out)
    check(b"sleep 1000 \\x1b[2J \\u009b31m tab\\there \xc3\xa9" in out,
          "escaped argv, UTF-8 kept: %r" % out)
    rc, out, _ = tc(a, "ps", "esc")
    check(rc == 0 and no_control(out), out)
    check(b"command: /bin/sh -c sleep 1000 \\x1b[2J \\u009b31m tab\\there \xc3\xa9\n" in out, out)
    # --json: the agent's line exactly; its JSON escapes give back the bytes
    rc, out, _ = tc(a, "--json", "ps", "esc")
    eq(json.loads(out)["task"]["argv"][3:], [ESC_ARG, C1_ARG, TAB_ARG, "é"], "--json exact")
    check(b"\x1b" not in out and b"\\u001b[2J" in out, out)

    name = b"f\x1b]0;owned\x07\x1b[2J\x7f\xc2\x9bx.txt"
    with open(os.path.join(a.io.encode(), name), "wb") as f:
        f.write(b"x")
    rc, out, err = tc(a, "ls", "/io")
    eq((rc, err), (0, b""), "ls")
    check(no_control(out), out)
    check(b"f\\x1b]0;owned\\x07\\x1b[2J\\x7f\\u009bx.txt" in out, out)
    rc, out, _ = tc(a, "--json", "ls", "/io")
    names = [e["name"].encode("utf-8", "surrogateescape") for e in json.loads(out)["entries"]]
    check(name in names, "--json ls: %r" % names)

    # the agent's error messages quote what they were given
    rc, out, err = tc(a, "stat", "/io/none\x1b[2J")
    check(rc != 0 and no_control(err.rstrip(b"\n")) and b"\\x1b[2J" in err, err)
    rc, out, err = tc(a, "exec", "--", "/no/such\x1b[2J")
    eq(rc, 127, "exec not found")
    check(no_control(err.rstrip(b"\n")) and b"/no/such\\x1b[2J" in err, err)
    # the raw streams stay byte for byte
    rc, out, err = tc(a, "exec", "--", "/bin/sh", "-c", r"printf '\033[2J\233\t\n'; printf '\007' >&2")
    eq((rc, out, err), (0, b"\x1b[2J\x9b\t\n", b"\x07"), "exec output exact")


def hostile_reply(line):
    """What a hostile agent answers: control bytes where a real one has
    names, raw bytes that are not UTF-8 (0x9b alone is CSI to an 8-bit
    terminal), and an error message with an OSC title sequence."""
    if line.startswith(b"ps x"):
        return b'{"ok":false,"error":"unknown_task","message":"no task \\u001b]0;pwn\\u0007"}\n'
    if line.startswith(b"ps"):
        return (b'{"ok":true,"tasks":[{"id":1,"name":"n\\u001b[31m","state":"run\x9bning",'
                b'"pid":5,"argv":["a\x9b1m","\xc2\x85b","\\u007f","ok\xe2\x82\xac"],'
                b'"exit":{"status":1,"signal":9,"signal_name":"K\\u001bILL"}}]}\n')
    if line.startswith(b"wait"):
        return (b'{"ok":true,"task":{"id":1,"name":"n\\u001b[31m","exit":{"status":126},'
                b'"exec_error":{"message":"no \\u001b[2J\\r\\n"}}}\n')
    return b'{"ok":true,"k\\u001bey":"v\\u001b[1m","list":["\x9b","\\n"]}\n'


@test
def test_taskctl_escapes_a_hostile_agent():
    work = tempfile.mkdtemp(prefix="taskctl-robust.")
    fake = FakeServer(work, lambda c: c.sendall(hostile_reply(read_lines(c, 1)[0])))
    try:
        run = lambda *args: subprocess.run([TASKCTL, "-c", fake.addr, *args], timeout=30,
                                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                           stdin=subprocess.DEVNULL)
        p = run("ps")
        eq(p.returncode, 0, "ps")
        check(no_control(p.stdout) and b"\x9b" not in p.stdout, p.stdout)
        for shown in (b"n\\x1b[31m", b"run\\x9bning", b"SIGK\\x1bILL", b"a\\x9b1m",
                      b"\\u0085b", b"\\x7f", b"ok\xe2\x82\xac"):
            check(shown in p.stdout, "%r in %r" % (shown, p.stdout))
        p = run("ps", "x")
        eq(p.returncode, 254, "an error reply")
        eq(p.stderr, b"taskctl: no task \\x1b]0;pwn\\x07 (unknown_task)\n", "escaped message")
        p = run("wait", "t")
        check(no_control(p.stdout), p.stdout)
        eq(p.stdout, b"n\\x1b[31m (1): exec failed: no \\x1b[2J\\r\\n (status 126)\n", "wait")
        p = run("frob")
        eq(p.stdout, b"k\\x1bey: v\\x1b[1m\nlist: \\x9b \\n\n", "key: value lines")
        p = run("--json", "frob")
        eq(p.stdout, hostile_reply(b"frob"), "--json: the reply line as it came")
    finally:
        fake.close()


# ---- 2. resets ----

def finish(p, keep_stdin_open):
    """Reads p's stdout and stderr to their end (a watchdog kills a p that
    hangs) and returns (rc, out, err)."""
    if not keep_stdin_open:
        p.stdin.close()
    dog = threading.Timer(60, p.kill)
    dog.start()
    try:
        out, err = p.stdout.read(), p.stderr.read()
        rc = p.wait()
    finally:
        dog.cancel()
    if keep_stdin_open:
        p.stdin.close()
    check(rc != -signal.SIGKILL, "taskctl hung")
    return rc, out, err


def shell_against(handler, stdin_data, keep_stdin_open):
    """taskctl shell against a fake debug server; returns (rc, out, err)."""
    work = tempfile.mkdtemp(prefix="taskctl-robust.")
    fake = FakeServer(work, handler)
    try:
        p = subprocess.Popen([TASKCTL, "shell", fake.addr], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        p.stdin.write(stdin_data)
        p.stdin.flush()
        return finish(p, keep_stdin_open)
    finally:
        fake.close()


@test
def test_taskctl_shell_with_stdout_closed_leaves_with_141():
    """The session's output has nowhere to go: taskctl leaves (the guest
    hangs the shell up) with 128 + SIGPIPE, not 0."""
    def chatty(c):
        try:
            while True:
                c.sendall(b"output\r\n")
                time.sleep(0.01)
        except OSError:
            return  # taskctl left

    work = tempfile.mkdtemp(prefix="taskctl-robust.")
    fake = FakeServer(work, chatty)
    r, w = os.pipe()
    os.close(r)
    try:
        p = subprocess.run([TASKCTL, "shell", fake.addr], stdin=subprocess.PIPE, stdout=w,
                           stderr=subprocess.PIPE, timeout=60)
    finally:
        os.close(w)
        fake.close()
    check(p.returncode >= 0, "killed by signal %d" % -p.returncode)
    eq(p.returncode, 141, "128 + SIGPIPE: %r" % p.stderr)


def prompt_then_reset(c):
    c.sendall(b"# ")
    reset_with_bytes_unread(c)


@test
def test_taskctl_shell_reset_midway_is_a_lost_connection():
    # The server drops the session while our input still flows.
    rc, out, err = shell_against(prompt_then_reset, b"echo hi\n", keep_stdin_open=True)
    eq(rc, EXIT_CONNECT, "a dropped session is not a success: %r" % err)
    eq(out, b"# ", "what came before the reset is shown")
    eq(err, b"taskctl: the debug session was dropped: connection reset\n", "one line says why")
    # The server takes the command, then closes with our end-of-input ^D
    # unread: that is how the real debug server's close looks when the
    # shell exits first, so it is the session's end.
    def exit_then_reset(c):
        c.sendall(b"# ")
        eq(read_lines(c, 1), [b"exit"], "the command")
        reset_with_bytes_unread(c)

    rc, out, err = shell_against(exit_then_reset, b"exit\n", keep_stdin_open=False)
    eq((rc, out, err), (0, b"# ", b""), "a reset after our input ended is the end")

    def orderly(c):
        read_lines(c, 1)
        c.sendall(b"bye\n")
        c.shutdown(socket.SHUT_WR)
        c.recv(1 << 16)

    rc, out, err = shell_against(orderly, b"exit\n", keep_stdin_open=True)
    eq((rc, out, err), (0, b"bye\n", b""), "an end of stream is the end")


def fake_exec(after_output):
    """A fake agent for exec: answers run and attach, sends one frame of
    stdout, then does after_output(conn)."""
    def handler(c):
        lines = read_lines(c, 2)
        check(lines[0].startswith(b"run ") and lines[1].startswith(b"attach "), lines)
        c.sendall(b'{"ok":true,"id":7,"name":"x","pid":9}\n{"ok":true}\n'
                  b'{"stream":"stdout","off":0,"len":6}\nhello\n')
        after_output(c)
    return handler


def exec_against(handler):
    work = tempfile.mkdtemp(prefix="taskctl-robust.")
    fake = FakeServer(work, handler)
    try:
        p = subprocess.Popen([TASKCTL, "-c", fake.addr, "exec", "--", "cat"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
        dog = threading.Timer(60, p.kill)
        dog.start()
        eq(p.stdout.readline(), b"hello\n", "the task's output")
        dog.cancel()
        p.stdin.write(b"more input\n")  # left unread by the fake
        p.stdin.flush()
        return finish(p, keep_stdin_open=True)
    finally:
        fake.close()


@test
def test_taskctl_exec_reset_midway_is_a_lost_connection():
    rc, out, err = exec_against(fake_exec(reset_with_bytes_unread))
    eq(rc, EXIT_CONNECT, "reset before the end line: %r" % err)
    eq(err, b"taskctl: connection reset before task 7 ended\n", "says so")

    def end_then_reset(c):
        c.recv(1, socket.MSG_PEEK)
        c.sendall(b'{"ok":true,"exit":{"status":3}}\n')
        reset_with_bytes_unread(c)

    rc, out, err = exec_against(fake_exec(end_then_reset))
    eq((rc, err), (3, b""), "a reset after the end line: the task's status")


# ---- 3. local failures ----

@with_agent()
def test_taskctl_exec_task_gone_while_stdin_pushed(a):
    # The task exits at once; taskctl still has 64 MiB of stdin to push
    # into a connection whose reader is gone.
    data = os.urandom(1 << 20) * 64
    for cmd in (["/bin/true"], ["/bin/sh", "-c", "exit 4"]):
        p = subprocess.run([TASKCTL, "-c", "unix:" + a.sock, "exec", "--", *cmd], input=data,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
        eq((p.returncode, p.stderr), (0 if cmd[0] == "/bin/true" else 4, b""),
           "the task's status, no signal death: %r" % cmd)


@with_agent()
def test_taskctl_exec_with_stdout_closed(a):
    # The reader of taskctl's stdout is gone before the task writes: no
    # death by SIGPIPE (which would skip restoring a raw terminal); the
    # task gets the SIGPIPE instead, as a local writer would, and its
    # status (128 + 13) is taskctl's.
    r, w = os.pipe()
    os.close(r)
    p = subprocess.run([TASKCTL, "-c", "unix:" + a.sock, "exec", "-n", "--", "/bin/sh", "-c",
                        "echo a; sleep 0.2; echo b; exit 5"], stdout=w,
                       stderr=subprocess.PIPE, timeout=60)
    os.close(w)
    check(p.returncode >= 0, "killed by signal %d" % -p.returncode)
    eq(p.returncode, 141, "the task died of SIGPIPE: %r" % p.stderr)


@with_agent()
def test_taskctl_exec_into_head_ends(a):
    # `taskctl exec -- yes | head -1` ends like `yes | head -1` does.
    p = subprocess.run("%s -c unix:%s exec -n -- /usr/bin/yes | head -1; "
                       "echo \"${PIPESTATUS[0]}\"" % (TASKCTL, a.sock),
                       shell=True, executable="/bin/bash", stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=60)
    eq(p.stdout, b"y\n141\n", "head's line, then taskctl's status: %r" % p.stderr)
    live = [t for t in a.request("ps")["tasks"] if t["state"] != "exited"]
    eq(len(live), 1, "only the main task is left: %r" % live)


@with_agent()
def test_taskctl_exec_into_head_ends_a_task_that_ignores_sigpipe(a):
    # Such a task (Python, many servers) would stop locally on the write
    # error, which a remote task never gets: SIGTERM follows 2 s later.
    script = "trap '' PIPE; while :; do echo y; done"
    p = subprocess.run("%s -c unix:%s exec -n -- /bin/sh -c %s | head -1; "
                       "echo \"${PIPESTATUS[0]}\"" % (TASKCTL, a.sock, shlex.quote(script)),
                       shell=True, executable="/bin/bash", stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=60)
    eq(p.stdout, b"y\n143\n", "head's line, then the task's status (SIGTERM): %r" % p.stderr)


@with_agent()
def test_taskctl_logs_follow_into_head_stops_without_ending_the_task(a):
    r = a.request("run --name talker -- /bin/sh -c %s"
                  % json.dumps("while :; do echo tick; sleep 0.05; done"))
    check(r.get("ok"), "run: %r" % r)
    p = subprocess.run("%s -c unix:%s logs talker -f | head -2; echo \"${PIPESTATUS[0]}\""
                       % (TASKCTL, a.sock), shell=True, executable="/bin/bash",
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    eq(p.stdout, b"tick\ntick\n141\n", "two lines, then 128 + SIGPIPE: %r" % p.stderr)
    eq(a.request("ps talker")["task"]["state"], "running", "the task is not logs' to end")


@with_agent()
def test_taskctl_cp_unreadable_source(a):
    src = os.path.join(a.work, "src.bin")
    with open(src, "wb") as f:
        f.write(os.urandom(3 << 20))
    # A source that fails to read after the request promised its size
    # (stdin open for writing only: read() is EBADF): exit 1 at once, not
    # a wait for a reply the agent cannot send until the bytes come.
    fd = os.open(src, os.O_WRONLY)
    try:
        p = subprocess.run([TASKCTL, "-c", "unix:" + a.sock, "cp", "-", ":/io/dst"], stdin=fd,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
    finally:
        os.close(fd)
    eq(p.returncode, EXIT_LOCAL, "a local read error: %r" % p.stderr)
    check(p.stderr.startswith(b"taskctl: cp: reading stdin: Bad file descriptor") and p.stderr.count(b"\n") == 1,
          p.stderr)
    check(not os.path.exists(os.path.join(a.io, "dst")), "nothing written in the guest")
    # /proc/self/mem says size 0 and fails to read at offset 0
    p = subprocess.run([TASKCTL, "-c", "unix:" + a.sock, "cp", "/proc/self/mem", ":/io/mem"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
    eq(p.returncode, EXIT_LOCAL, "/proc/self/mem: %r" % p.stderr)
    check(p.stderr.startswith(b"taskctl: cp: reading /proc/self/mem: "), p.stderr)
    check(not os.path.exists(os.path.join(a.io, "mem")), "nothing written in the guest")
    p = subprocess.run([TASKCTL, "-c", "unix:" + a.sock, "cp", a.work, ":/io/dir"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
    eq(p.returncode, EXIT_LOCAL, "a directory: %r" % p.stderr)
    # a /proc file's size (0) is not its content: it is read to its end
    p = subprocess.run([TASKCTL, "-c", "unix:" + a.sock, "cp", "/proc/self/status",
                        ":/io/status"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=30)
    eq(p.returncode, 0, "cp /proc/self/status: %r" % p.stderr)
    with open(os.path.join(a.io, "status"), "rb") as f:
        got = f.read()
    check(got.startswith(b"Name:\ttaskctl\n") and b"\nPid:\t" in got, got[:200])
