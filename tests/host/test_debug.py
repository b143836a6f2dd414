"""Host tier: the debug shell (docs/debug-shell.md) over task.debug_unix,
the same code path as the vsock port. A test client here is what ncat or
socat is to a person: raw bytes both ways, no terminal setup."""
import json
import os
import random
import re
import socket
import time

from harness import Agent, check, eq, read_all, readline, test, with_agent

DEBUG_KEYS = ("task.debug", "task.debug_unix=/io/debug.sock",
              # Never the host's own vsock: these machines may have one.
              "task.debug_port=0")


def shell(a, timeout=20):
    """Connects to the debug listener, which opens just after the control
    socket wait_ready waited for."""
    deadline = time.monotonic() + 10
    while True:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        try:
            s.connect(os.path.join(a.io, "debug.sock"))
            return s
        except (FileNotFoundError, ConnectionRefusedError):
            s.close()
            if time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def read_until(s, pattern, timeout=20):
    """Reads until the bytes match the regex `pattern`; returns them all."""
    buf = b""
    deadline = time.monotonic() + timeout
    while not re.search(pattern, buf):
        if time.monotonic() > deadline:
            raise AssertionError("never saw %r; got %r" % (pattern, buf))
        s.settimeout(max(0.1, deadline - time.monotonic()))
        chunk = s.recv(65536)
        if not chunk:
            raise AssertionError("connection closed before %r; got %r" % (pattern, buf))
        buf += chunk
    return buf


def read_to_eof(s, timeout=20):
    s.settimeout(timeout)
    return read_all(s)


def run_task(a, name, script):
    """Runs `sh -c script` as a task and returns its stdout once it exited."""
    r = a.request("run --name %s -- /bin/sh -c %s" % (name, json.dumps(script)))
    check(r.get("ok"), "run: %r" % r)
    with a.connect(timeout=60) as c:
        c.sendall(("wait %s\n" % name).encode())
        json.loads(readline(c))
        c.sendall(("logs %s --stream stdout\n" % name).encode())
        c.shutdown(socket.SHUT_WR)
        data = read_all(c)
    return data[:data.rindex(b'{"ok"')]


def processes(a, name):
    """The command lines of every process in the agent's namespace."""
    out = run_task(a, name, "for p in /proc/[0-9]*; do tr '\\0' ' ' <$p/cmdline; echo; done")
    return out.decode("utf-8", "replace")


def session_lines(a):
    return [ln for ln in a.log().splitlines() if "debug: session" in ln]


def wait_ended(a, count, timeout=20):
    deadline = time.monotonic() + timeout
    while True:
        ended = [ln for ln in session_lines(a) if " ended after " in ln]
        if len(ended) >= count:
            return ended
        if time.monotonic() > deadline:
            raise AssertionError("%d sessions never ended:\n%s" % (count, a.log()))
        time.sleep(0.02)


@with_agent(keys=DEBUG_KEYS)
def test_debug_line_mode_command_tty_exit(a):
    with shell(a) as s:
        s.sendall(b"echo hello-$((6*7))\n")
        out = read_until(s, rb"hello-42")
        check(b"echo hello" not in out, "line mode: the typed line is not echoed: %r" % out)
        s.sendall(b"tty; echo TERM=$TERM\n")
        out = read_until(s, rb"TERM=\w+")
        check(re.search(rb"/dev/pts/\d+", out), "the shell has a pty: %r" % out)
        check(b"TERM=dumb" in out, "line mode is TERM=dumb: %r" % out)
        s.sendall(b"stty size\n")
        check(b"24 80" in read_until(s, rb"\d+ \d+"), "default 80x24")
        s.sendall(b"exit 3\n")
        read_to_eof(s)  # the connection closes when the shell exits
    ended = wait_ended(a, 1)
    check(re.search(r"debug: session 1 from unix:pid=\d+,uid=0 ended after \d+\.\d+ s "
                    r"\(shell exited\): shell exited 3", ended[0]), "logged: %r" % ended)
    check(any("debug: session 1 from unix:" in ln and "(1 open)" in ln
              for ln in session_lines(a)), "the start is logged")


@with_agent(keys=DEBUG_KEYS)
def test_debug_ctrl_d_ends_session(a):
    with shell(a) as s:
        s.sendall(b"echo ready\n")
        read_until(s, rb"ready")
        # A ^D that lands while the shell is between reading lines (readline
        # switching the terminal's mode) can be taken as a plain byte; one
        # at the start of an empty line is end of input: send it again until
        # the session ends (at most 10 times).
        for _ in range(10):
            s.sendall(b"\x04")
            s.settimeout(1)
            try:
                while s.recv(65536):
                    pass
                break
            except TimeoutError:
                continue
        else:
            raise AssertionError("the session did not end on ^D")
    check("shell exited 0" in wait_ended(a, 1)[0], "Ctrl-D is end of input: exit 0")


@with_agent(keys=DEBUG_KEYS)
def test_debug_shell_environment(a):
    with shell(a) as s:
        s.sendall(b"echo \"env:$HOME:$SHELL:$(pwd):$PATH\"\n")
        out = read_until(s, rb"env:.*:/bin\r?\n").decode()
        m = re.search(r"env:([^:]*):([^:]*):([^:]*):(.*/bin)", out)
        check(m, "env line: %r" % out)
        home, sh, cwd, path = m.groups()
        check(home in ("/root", "/"), "HOME: %r" % home)
        check(sh in ("/bin/bash", "/bin/sh"), "SHELL: %r" % sh)
        eq(cwd, "/", "cwd")
        check("/usr/bin" in path.split(":") and "/sbin" in path.split(":"), "PATH %r" % path)
        # PID 1 blocks every signal; the shell's children must not inherit it.
        s.sendall(b"grep ^SigBlk /proc/self/status; echo task.=$(env | grep -c ^task)\n")
        out = read_until(s, rb"task\.=\d+")
        check(re.search(rb"SigBlk:\s+0+\r?\n", out), "empty signal mask: %r" % out)
        check(b"task.=0" in out, "init's task.* environment is not passed on: %r" % out)
        s.sendall(b"exit\n")
        read_to_eof(s)


@with_agent(keys=DEBUG_KEYS + ("task.debug_max=2",))
def test_debug_sessions_at_once_and_limit(a):
    s1, s2 = shell(a), shell(a)
    try:
        s1.sendall(b"echo one-$((1+1))\n")
        s2.sendall(b"echo two-$((2+2))\n")
        read_until(s1, rb"one-2")
        read_until(s2, rb"two-4")
        s1.sendall(b"tty\n")
        s2.sendall(b"tty\n")
        t1 = re.search(rb"/dev/pts/\d+", read_until(s1, rb"/dev/pts/\d+")).group()
        t2 = re.search(rb"/dev/pts/\d+", read_until(s2, rb"/dev/pts/\d+")).group()
        check(t1 != t2, "a terminal per session: %r %r" % (t1, t2))
        with shell(a) as s3:
            msg = read_to_eof(s3)
        eq(msg, b"taskinit: too many debug sessions (limit 2)\r\n", "one line, then closed")
        check("refused unix:" in a.log(), "the refusal is logged")
        s1.sendall(b"echo still-$((3*3))\n")
        read_until(s1, rb"still-9")
        s1.sendall(b"exit\n")
        read_to_eof(s1)
        wait_ended(a, 1)
        with shell(a) as s4:  # a place is free again
            s4.sendall(b"echo four-$((2*2))\n")
            read_until(s4, rb"four-4")
    finally:
        s1.close()
        s2.close()


@test
def test_debug_off_without_task_debug():
    a = Agent(main=["/bin/sleep", "1000"],
              keys=("task.debug_unix=/io/debug.sock", "task.debug_port=0"))
    try:
        a.wait_ready()
        eq(a.request("ping"), {"ok": True, "pong": True}, "control port answers")
        check(not os.path.exists(os.path.join(a.io, "debug.sock")), "no debug socket")
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(os.path.join(a.io, "debug.sock"))
            raise AssertionError("a debug shell without task.debug")
        except (FileNotFoundError, ConnectionRefusedError):
            pass
        finally:
            s.close()
        check("task.debug_unix ignored without task.debug" in a.log(), "logged why")
        a.request("shutdown")
        a.wait_exit()
    finally:
        a.close()


@with_agent(keys=DEBUG_KEYS)
def test_debug_disconnect_leaves_nothing_behind(a):
    with shell(a) as s:
        s.sendall(b"sleep 1001 &\n")
        s.sendall(b"sh -c 'trap \"\" HUP; echo trapped; exec sleep 1002'\n")
        read_until(s, rb"trapped")
        # Both are there while the session lives (this check can fail).
        deadline = time.monotonic() + 10
        while True:
            ps = processes(a, "before")
            if "sleep 1001" in ps and "sleep 1002" in ps:
                break
            check(time.monotonic() < deadline, "session processes not seen:\n" + ps)
        # The client vanishes mid-command.
    ended = wait_ended(a, 1)
    check("(client closed)" in ended[0] or "(client hung up)" in ended[0],
          "how it ended: %r" % ended[0])
    check(re.search(r"debug: session 1: SIGKILL to [1-9]\d* processes left after 1000 ms",
                    a.log()), "the HUP-ignoring sleep needed the SIGKILL:\n" + a.log())
    deadline = time.monotonic() + 10
    while True:
        ps = processes(a, "after-%d" % int(time.monotonic() * 1000))
        if "sleep 1001" not in ps and "sleep 1002" not in ps:
            break
        check(time.monotonic() < deadline, "left behind:\n" + ps)
    check("<defunct>" not in ps, "no zombies")
    stat = run_task(a, "zombies", "grep -l '^State:.*Z' /proc/[0-9]*/status || true")
    eq(stat.strip(), b"", "no zombie in the namespace")


@with_agent(keys=DEBUG_KEYS)
def test_debug_half_close_hangs_up(a):
    with shell(a) as s:
        s.sendall(b"echo up\n")
        read_until(s, rb"up")
        s.sendall(b"sleep 1003\n")
        time.sleep(0.2)
        s.shutdown(socket.SHUT_WR)  # what ncat does at Ctrl-D on its own terminal
        read_to_eof(s)
    ended = wait_ended(a, 1)
    check("(client closed)" in ended[0] and "shell killed by SIGHUP" in ended[0],
          "half-close is a hang-up: %r" % ended[0])
    check("sleep 1003" not in processes(a, "after"), "the foreground job is gone")


@with_agent(keys=DEBUG_KEYS)
def test_debug_terminal_request(a):
    with shell(a) as s:
        s.sendall(b"\0tty 100 30 xterm\n")
        s.sendall(b"stty size; echo TERM=$TERM\n")
        out = read_until(s, rb"TERM=xterm\r\n")
        check(b"30 100" in out, "the size asked for: %r" % out)
        check(b"stty size" in out, "terminal mode echoes what is typed: %r" % out)
        s.sendall(b"exit\n")
        read_to_eof(s)
    check(any("terminal 100x30 TERM=xterm" in ln for ln in session_lines(a)), "logged")


@with_agent(keys=DEBUG_KEYS)
def test_debug_junk_and_vanishing_clients(a):
    rng = random.Random(1025)
    # Bytes that can form no command word: no letters or digits.
    alphabet = bytes(b for b in range(256) if not chr(b).isalnum() or b > 127)
    junk = bytes(rng.choice(alphabet) for _ in range(65536))
    with shell(a) as s:
        s.sendall(b"x")  # not a terminal request
        s.sendall(junk)
    with shell(a) as s:  # a client that never reads and goes away
        s.sendall(b"\0tty 9999 9999 " + b"A" * 200 + b"\n" + junk[:4096])
        s.sendall(b"yes | head -c 10000000\n")
    with shell(a) as s:  # resets its connection
        s.sendall(b"cat /dev/zero | head -c 100000000\n")
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    wait_ended(a, 3, timeout=30)
    eq(a.request("ping"), {"ok": True, "pong": True}, "the agent still answers")
    with shell(a) as s:
        s.sendall(b"echo fine-$((5*5))\n")
        read_until(s, rb"fine-25")


@with_agent(keys=DEBUG_KEYS)
def test_debug_shutdown_ends_sessions(a):
    s = shell(a)
    try:
        s.sendall(b"echo in\n")
        read_until(s, rb"in")
        s.sendall(b"sleep 1004\n")
        eq(a.request("shutdown"), {"ok": True, "action": "poweroff"}, "shutdown")
        out = read_to_eof(s)
        check(b"taskinit: shutting down" in out, "told why: %r" % out)
        a.wait_exit()
        check("(shutdown)" in wait_ended(a, 1)[0], "logged as shutdown")
    finally:
        s.close()


@with_agent(keys=DEBUG_KEYS)
def test_debug_slow_reader_backpressure(a):
    """A client that stops reading stalls only its own shell: the agent and
    other sessions go on, and nothing is lost when it reads again."""
    with shell(a) as slow:
        slow.sendall(b"yes | head -c 5000000; echo done-$((1+1))\n")
        time.sleep(1)  # not reading: the buffers fill, the shell blocks
        eq(a.request("ping"), {"ok": True, "pong": True}, "the agent answers meanwhile")
        with shell(a) as other:
            other.sendall(b"echo other-$((4+4))\n")
            read_until(other, rb"other-8")
        out = read_until(slow, rb"done-2", timeout=120)
        eq(out.count(b"y"), 2500000, "every line arrived")
        eq(out.count(b"y\r\n"), 2500000, "intact, with the terminal's CR LF")
