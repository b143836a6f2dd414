"""Host tier: control connections at their limits. A task list longer than
any one buffer (ps streams), attach peers that hang up on a task that never
reads its stdin, refused peers that flood, and a too-long line queued
behind a stream."""
import json
import socket
import threading
import time

from harness import check, eq, read_all, readline, replies, with_agent

N_TASKS = 5000


def read_line(s, limit=64 << 20):
    """One reply line of any length (the harness's readline is for short
    ones)."""
    buf = bytearray()
    while not buf.endswith(b"\n"):
        chunk = s.recv(1 << 16)
        if not chunk:
            break
        buf += chunk
        check(len(buf) <= limit, "reply line over %d bytes" % limit)
    return bytes(buf)


# A long argument, as real command lines have: it makes the list several
# MiB, more than any reply buffer the agent keeps.
PAD = "a" * 1000


def start_tasks(a, n, batch=1000):
    """Starts n `/bin/true PAD` tasks, pipelined in batches; returns their
    ids."""
    ids = []
    req = ("run -- /bin/true %s\n" % PAD).encode()
    with a.connect(timeout=300) as s:
        f = s.makefile("rb")
        for start in range(0, n, batch):
            k = min(batch, n - start)
            s.sendall(req * k)
            for _ in range(k):
                r = json.loads(f.readline())
                check(r.get("ok"), "run: %r" % r)
                ids.append(r["id"])
        # wait for every exit, pipelined too
        for start in range(0, n, batch):
            chunk = ids[start:start + batch]
            s.sendall(b"".join(b"wait %d\n" % i for i in chunk))
            for i in chunk:
                t = json.loads(f.readline())
                eq((t.get("ok"), t["task"]["id"]), (True, i), "wait %d" % i)
    return ids


def ps_all(a, timeout=120):
    with a.connect(timeout=timeout) as s:
        s.sendall(b"ps\n")
        line = read_line(s)
    check(line.endswith(b"\n") and line.count(b"\n") == 1, "one line")
    return json.loads(line)


@with_agent(keys=["task.ring_size=4096", "task.ring_budget=256M", "task.cgroup=none"])
def test_ps_lists_thousands_of_tasks_in_one_streamed_line(a):
    ids = start_tasks(a, N_TASKS)
    eq(len(set(ids)), N_TASKS, "distinct ids")
    ps = ps_all(a)
    eq(ps.get("ok"), True, "ps ok: %r" % {k: ps[k] for k in ps if k != "tasks"})
    check(len(json.dumps(ps)) > 4 * N_TASKS * len(PAD) // 5, "a list of several MiB")
    listed = [t["id"] for t in ps["tasks"]]
    eq(listed, sorted(listed), "in id order")
    eq(set(ids) - set(listed), set(), "every task listed")
    eq(len(listed), N_TASKS + 1, "the tasks and main, once each")
    t = ps["tasks"][-1]
    eq((t["state"], t["argv"], t["exit"]["status"]), ("exited", ["/bin/true", PAD], 0),
       "a full task object")

    # A ps the client reads slowly while tasks come and go: never a broken
    # line, every task that stayed listed once, in order.
    s = a.connect(timeout=120)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.sendall(b"ps\n")
    head = s.recv(4096)
    check(head.startswith(b'{"ok":true,"tasks":['), "streaming began: %r" % head[:40])
    gone = ids[len(ids) // 2:len(ids) // 2 + 200] + ids[-50:]
    with a.connect(timeout=60) as c:
        c.sendall(b"".join(b"rm %d\n" % i for i in gone))
        c.sendall(b"run -- /bin/true\n" * 20)
        rs = [json.loads(readline(c)) for _ in range(len(gone) + 20)]
    check(all(r.get("ok") for r in rs), "rm and run while ps streams: %r"
          % [r for r in rs if not r.get("ok")][:3])
    late = {r["id"] for r in rs[len(gone):]}
    rest = head + read_line(s)
    s.close()
    ps2 = json.loads(rest)
    listed2 = [t["id"] for t in ps2["tasks"]]
    eq(listed2, sorted(set(listed2)), "strictly increasing ids: no task twice")
    eq(set(ids) - set(gone) - set(listed2), set(), "every task that stayed is listed")
    eq(late & set(listed2), set(), "tasks started after the ps began are not in it")
    check(ps2["tasks"][0]["name"] == "main", "main first")

    # Clients that ask for the whole list and vanish at once.
    for _ in range(10):
        v = a.connect()
        v.sendall(b"ps\n")
        v.close()
    v = a.connect()
    v.sendall(b"ps\n")
    v.recv(1000)  # a little of it, then a reset
    v.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    v.close()
    eq(a.request("ping")["ok"], True, "still serving")
    eq(len(ps_all(a)["tasks"]), N_TASKS + 1 - len(gone) + len(late), "the list after")


def connect_served(a, line, seconds=20):
    """A connection whose first request `line` was answered, and the reply;
    tried again while the agent refuses it for the connection limit (a
    client that just closed may not have been noticed yet). None when it
    never is."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        s = None
        try:
            s = a.connect(timeout=5)
            s.sendall(line.encode() + b"\n")
            r = json.loads(readline(s))
            if r.get("error") != "too_many_connections":
                return s, r
        except (OSError, ValueError):
            pass
        if s:
            s.close()
        time.sleep(0.05)
    return None, None


def served_within(a, seconds):
    """Whether a new client gets its ping answered before the deadline."""
    s, r = connect_served(a, "ping", seconds)
    if s:
        s.close()
    return r == {"ok": True, "pong": True}


def attach_and_hang_up(a, task, opts="", size=256 << 10):
    s, r = connect_served(a, "attach %s %s" % (task, opts))
    check(s and r.get("attached"), "attached: %r" % r)
    s.setblocking(False)
    sent = 0
    try:  # more than the task's stdin pipe holds: the rest waits in the agent
        while sent < size:
            sent += s.send(b"x" * min(65536, size - sent))
    except BlockingIOError:
        pass
    s.close()
    return sent


@with_agent(keys=["task.max_conns=4"])
def test_attach_peers_that_hang_up_on_a_task_not_reading_stdin_free_their_slot(a):
    r = a.request("run --name deaf --stdin pipe -- /bin/sh -c \"echo hello; exec sleep 1000\"")
    check(r.get("ok"), "run: %r" % r)
    for round_ in range(3):  # more hung-up peers than the limit, several times
        for _ in range(4):
            check(attach_and_hang_up(a, "deaf") > 65536, "sent more than the pipe holds")
        check(served_within(a, 20), "a new client is served after hung-up attaches "
              "(round %d)" % round_)
    ps = a.request("ps deaf")["task"]
    eq(ps["state"], "running", "the task goes on")
    with a.connect() as s:
        s.sendall(b"logs deaf\n")
        s.shutdown(socket.SHUT_WR)
        out = read_all(s)
    check(out.startswith(b"hello\n"), "its output is still in the ring: %r" % out[:40])
    eq(a.request("kill deaf KILL"), {"ok": True}, "kill")


@with_agent(keys=["task.max_conns=4"])
def test_input_only_peers_that_hang_up_do_not_hold_slots(a):
    r = a.request("run --name deaf --stdin pipe -- /bin/sleep 1000")
    check(r.get("ok"), "run: %r" % r)
    for _ in range(8):
        attach_and_hang_up(a, "deaf", "--input-only")
        check(served_within(a, 20), "a new client is served after hung-up input-only attaches")
    # A reader that takes its stdin late still gets every byte a hung-up
    # input-only peer sent (the Firecracker case: no half-close).
    data = bytes(range(256)) * 1024
    r = a.request("run --name late --stdin pipe -- /bin/sh -c \"sleep 1; cat | wc -c\"")
    check(r.get("ok"), "run: %r" % r)
    with a.connect(timeout=10) as s:
        s.sendall(b"attach late --input-only\n")
        eq(json.loads(readline(s)).get("attached"), r["id"], "attached")
        s.sendall(data)
    check(served_within(a, 20), "served while the late reader has not read")
    with a.connect(timeout=60) as s:
        s.sendall(b"wait late\n")
        t = json.loads(readline(s))["task"]
    eq(t["exit"]["status"], 0, "late reader exit")
    with a.connect() as s:
        s.sendall(b"logs late --stream stdout\n")
        s.shutdown(socket.SHUT_WR)
        out = read_all(s)
    eq(out.split(b"\n")[0].strip(), str(len(data)).encode(), "every byte reached the task")
    eq(a.request("kill deaf KILL"), {"ok": True}, "kill")


@with_agent(keys=["task.max_conns=1"])
def test_refused_flooders_do_not_stall_other_clients(a):
    keep, r = connect_served(a, "ping")  # the one slot: refusals for everyone else
    eq(r, {"ok": True, "pong": True}, "first client")
    stop = threading.Event()
    refused = []

    def flood():
        chunk = b"f" * (1 << 20)
        while not stop.is_set():
            s = a.connect(timeout=5)
            # A deep send buffer (SO_SNDBUFFORCE, as root): the agent never
            # finds the socket empty, so only a bounded drain returns.
            s.setsockopt(socket.SOL_SOCKET, getattr(socket, "SO_SNDBUFFORCE", 32), 32 << 20)
            try:
                s.sendall(chunk)
                while not stop.is_set():  # flood until the agent closes us
                    s.sendall(chunk)
            except OSError:
                pass
            try:
                s.settimeout(1)
                line = s.recv(4096)
            except OSError:
                line = b""
            if line:
                refused.append(json.loads(line.split(b"\n")[0])["error"])
            s.close()

    threads = [threading.Thread(target=flood) for _ in range(2)]
    for t in threads:
        t.start()
    try:
        time.sleep(0.3)
        for i in range(50):  # each answered while the flooders keep sending
            keep.sendall(b"ping\n")
            eq(json.loads(readline(keep)).get("pong"), True, "ping %d during the flood" % i)
    finally:
        stop.set()
        for t in threads:
            t.join()
    keep.close()
    check(refused and set(refused) == {"too_many_connections"},
          "flooders were refused with the error line: %r" % refused[:5])
    check(served_within(a, 20), "served after the flood")


@with_agent(keys=["task.max_line=1024"])
def test_too_long_line_behind_a_stream_is_answered_after_it(a):
    r = a.request("run --name talk --stdin pipe -- /bin/sh -c \"echo one; read x; echo two\"")
    check(r.get("ok"), "run: %r" % r)
    with a.connect(timeout=30) as s:
        s.sendall(b"logs talk --follow\n" + b"y" * 5000 + b"\nping\n")
        got = b""
        while b"one\n" not in got:
            got += s.recv(4096)
        time.sleep(0.2)  # the long line is in the agent while the stream runs
        eq(a.request('stdin talk "go\\n"')["written"], 3, "stdin")
        s.shutdown(socket.SHUT_WR)
        got += read_all(s)
    eq(got[:8], b"one\ntwo\n", "the stream's bytes first, whole")
    rs = replies(got[8:])
    eq([(x.get("end"), x.get("error"), x.get("pong")) for x in rs],
       [(True, None, None), (None, "line_too_long", None), (None, None, True)],
       "end line, then the long line's error, then the next reply")


def cpu_ticks(pid):
    """User + system clock ticks a process has used (/proc/PID/stat)."""
    f = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
    return int(f[11]) + int(f[12])


@with_agent()
def test_a_hung_up_input_only_peer_does_not_make_the_agent_spin(a):
    """A hung-up input-only peer whose input the task has not read is kept
    (its bytes are handed on later) without its hangup waking the loop for
    ever: PID 1 stays idle meanwhile."""
    r = a.request("run --name deaf --stdin pipe -- /bin/sleep 1000")
    check(r.get("ok"), "run: %r" % r)
    attach_and_hang_up(a, "deaf", "--input-only", size=320 << 10)
    check(served_within(a, 20), "served after the hung-up peer")
    pid = a.pid1()
    t0 = cpu_ticks(pid)
    time.sleep(2)
    used = cpu_ticks(pid) - t0
    # A spinning loop takes a whole CPU: ~200 ticks in 2 s.
    check(used < 50, "PID 1 used %d clock ticks in 2 s while idle" % used)
    eq(a.request("kill deaf KILL"), {"ok": True}, "kill")


@with_agent()
def test_a_half_closed_slow_reader_gets_every_reply_after_an_operation(a):
    """Replies queued behind an operation for a client that half-closed and
    reads slowly are all delivered: the hang-up probe's short timer does not
    outlive the operation as an idle timeout."""
    r = a.request("run --name big -- /bin/sh -c \"head -c 250000 /dev/zero | tr '\\\\0' a; "
                  "echo; echo THE-END\"")
    check(r.get("ok"), "run: %r" % r)
    eq(a.request("wait big")["task"]["exit"]["status"], 0, "big ran")
    check(a.request("run --name w -- /bin/sleep 0.5").get("ok"), "run w")
    with a.connect(timeout=30) as s:
        s.sendall(b"wait w\nlogs big\n")
        s.shutdown(socket.SHUT_WR)
        time.sleep(3)  # the agent's buffers fill meanwhile
        data = read_all(s)
    check(b"THE-END" in data, "the output's end came (%d bytes)" % len(data))
    check(data.rstrip().endswith(b"}") and b'"end":true' in data.split(b"\n")[-2],
          "the end line came: %r" % data[-120:])


@with_agent()
def test_an_attach_client_gone_while_its_output_is_blocked_ends_the_tasks_stdin(a):
    """An attach client that sends a lot, never reads the echoed output and
    closes: however the agent notices (here a send error), the task's stdin
    ends, so a task that reads to the end finishes."""
    r = a.request("run --name echoer --stdin pipe -- /bin/cat")
    check(r.get("ok"), "run: %r" % r)
    s = a.connect(timeout=30)
    s.sendall(b"attach echoer\n")
    s.setblocking(False)
    sent = 0
    deadline = time.monotonic() + 5
    while sent < (1 << 20) and time.monotonic() < deadline:
        try:
            sent += s.send(b"x" * 65536)
        except BlockingIOError:
            time.sleep(0.01)
    s.close()
    with a.connect(timeout=30) as c:
        c.sendall(b"wait echoer\n")
        t = json.loads(readline(c))
    eq(t["task"]["exit"]["status"], 0, "cat saw the end of its input and exited")
