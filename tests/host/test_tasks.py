"""Host tier: running, supervising and capturing tasks over the control
protocol (run, ps, wait, kill, logs, stdin, rm)."""
import hashlib
import json
import os
import socket
import time

import harness
from harness import Agent, check, eq, read_all, readline, test, with_agent


def framed_logs(a, ref, *opts, timeout=60):
    """Reads `logs REF --framed ...` to its end line. Returns
    (records, gaps, end) where records are (stream, seq, off, bytes)."""
    with a.connect(timeout=timeout) as s:
        s.sendall(("logs %s --framed %s\n" % (ref, " ".join(opts))).encode())
        f = s.makefile("rb")
        records, gaps = [], []
        while True:
            line = f.readline()
            if not line:
                raise AssertionError("logs ended without an end line")
            head = json.loads(line)
            if "len" in head:
                data = f.read(head["len"])
                eq(len(data), head["len"], "frame payload length")
                records.append((head["stream"], head["seq"], head["off"], data))
            elif "gap" in head:
                gaps.append(head["gap"])
            else:
                return records, gaps, head


def stream_bytes(records, stream):
    out = b""
    for st, _, off, data in records:
        if st == stream:
            eq(off, len(out), "%s offsets are contiguous" % stream)
            out += data
    return out


def run(a, cmdline):
    r = a.request("run " + cmdline)
    check(r.get("ok"), "run %s: %r" % (cmdline, r))
    return r


def wait(a, ref, timeout=60):
    with a.connect(timeout=timeout) as s:
        s.sendall(("wait %s\n" % ref).encode())
        return json.loads(readline(s))


@with_agent()
def test_run_wait_logs_roundtrip(a):
    r = run(a, "--name hello -- /bin/sh -c \"echo hi; echo oops >&2; exit 3\"")
    eq(r["name"], "hello", "name")
    check(r["id"] >= 2 and r["pid"] > 1, "id and pid: %r" % r)
    w = wait(a, "hello")
    eq(w["ok"], True, "wait ok")
    t = w["task"]
    eq((t["state"], t["exit"]["status"], t["exit"]["code"], t["exit"]["signal"]),
       ("exited", 3, 3, None), "exit record")
    eq(t["offsets"], {"stdout": 3, "stderr": 5}, "final offsets")
    check(t["exit"]["end_boot_ns"] >= t["start_boot_ns"], "times in order")
    eq(t["exit"]["descendant_holds_pipes"], False, "no descendant")
    recs, gaps, end = framed_logs(a, "hello")
    eq(stream_bytes(recs, "stdout"), b"hi\n", "stdout")
    eq(stream_bytes(recs, "stderr"), b"oops\n", "stderr")
    eq((gaps, end["ok"], end["end"], end["exit"]["status"]), ([], True, True, 3), "end line")
    ps = a.request("ps")
    eq([x["name"] for x in ps["tasks"]], ["main", "hello"], "ps lists main and the task")
    eq(a.request("ps %d" % r["id"])["task"]["name"], "hello", "ps by id")


@with_agent()
def test_raw_logs_for_people(a):
    run(a, "--name raw -- /bin/sh -c %s" % json.dumps("printf 'a\\nb\\n'"))
    wait(a, "raw")
    with a.connect() as s:
        s.sendall(b"logs raw\nping\n")
        s.shutdown(socket.SHUT_WR)
        data = read_all(s)
    check(data.startswith(b"a\nb\n"), "raw bytes first: %r" % data)
    lines = data[4:].split(b"\n")
    end = json.loads(lines[0])
    eq((end["ok"], end["end"]), (True, True), "then one end line")
    eq(json.loads(lines[1]), {"ok": True, "pong": True}, "the next request answered after")


@with_agent()
def test_exec_failures_are_clear_errors(a):
    r = a.request("run /no/such/binary")
    eq((r["ok"], r["error"], r["reason"], r["exit_code"]),
       (False, "exec_failed", "not_found", 127), "not found")
    eq(wait(a, str(r["id"]))["task"]["exit"]["status"], 127, "exit record 127")
    r = a.request("run /t/fixtures/not-executable")
    eq((r["reason"], r["exit_code"]), ("permission", 126), "not executable")
    r = a.request("run --cwd /no/such/dir /bin/true")
    eq((r["error"], r["reason"]), ("exec_failed", "bad_cwd"), "bad cwd")
    r = a.request("run --user no-such-user /bin/true")
    eq(r["error"], "bad_user", "unknown user refused before spawning")
    r = a.request("run --rlimit bogus=1 /bin/true")
    eq(r["error"], "bad_argument", "bad rlimit")
    r = a.request("run --name 123 /bin/true")
    eq(r["error"], "bad_argument", "all-digit name")
    r = a.request("run --name x --frobnicate 1 /bin/true")
    eq(r["error"], "bad_argument", "unknown option")
    r = a.request("wait nosuch")
    eq(r["error"], "unknown_task", "unknown task")


@with_agent()
def test_names_unique_among_live_tasks_and_ids_never_reused(a):
    r1 = run(a, "--name svc /bin/sleep 100")
    r = a.request("run --name svc /bin/true")
    eq(r["error"], "bad_argument", "duplicate live name refused")
    eq(a.request("kill svc KILL"), {"ok": True}, "kill")
    eq(wait(a, "svc")["task"]["exit"]["signal"], 9, "killed")
    r2 = run(a, "--name svc /bin/true")
    check(r2["id"] > r1["id"], "a new id")
    wait(a, "svc")
    eq(a.request("ps svc")["task"]["id"], r2["id"], "the name finds the newest")
    eq(a.request("rm %d" % r1["id"]), {"ok": True}, "rm by id")
    eq(a.request("ps %d" % r1["id"])["error"], "unknown_task", "gone")
    r3 = run(a, "/bin/true")
    check(r3["id"] > r2["id"], "ids keep growing after rm")


@with_agent(keys=["task.ring_budget=64M"])
def test_ten_mib_stdout_is_captured_exactly(a):
    data = os.urandom(10 << 20)
    with open(os.path.join(a.io, "data.bin"), "wb") as f:
        f.write(data)
    run(a, "--name big --ring-size 16M -- /bin/cat /io/data.bin")
    t = wait(a, "big")["task"]
    eq(t["exit"]["status"], 0, "exit")
    eq(t["offsets"]["stdout"], len(data), "stdout offset")
    recs, gaps, _ = framed_logs(a, "big", "--stream", "stdout")
    eq(gaps, [], "no gap")
    got = stream_bytes(recs, "stdout")
    eq(hashlib.sha256(got).hexdigest(), hashlib.sha256(data).hexdigest(), "sha256")


@with_agent()
def test_both_streams_exact_and_ordered_when_writes_are_apart(a):
    # Order across two pipes is the order the agent read them in: exact
    # when the writes are further apart than the agent's wakeup latency.
    script = ("i=0; while [ $i -lt 100 ]; do echo out$i; sleep 0.01; echo err$i >&2; "
              "sleep 0.01; i=$((i+1)); done")
    run(a, "--name both -- /bin/sh -c %s" % json.dumps(script))
    wait(a, "both")
    recs, gaps, _ = framed_logs(a, "both")
    eq(gaps, [], "no gap")
    out = stream_bytes(recs, "stdout")
    err = stream_bytes(recs, "stderr")
    eq(out, b"".join(b"out%d\n" % i for i in range(100)), "stdout exact")
    eq(err, b"".join(b"err%d\n" % i for i in range(100)), "stderr exact")
    order = [(st, d) for st, _, _, d in recs]
    expect = []
    for i in range(100):
        expect += [("stdout", b"out%d\n" % i), ("stderr", b"err%d\n" % i)]
    eq(order, expect, "records interleave as written")
    seqs = [seq for _, seq, _, _ in recs]
    eq(seqs, list(range(len(seqs))), "sequence numbers")


@with_agent(keys=["task.drain_ms=300"])
def test_background_child_holding_stdout(a):
    script = "echo parent; (sleep 1; echo child-late) & exit 0"
    run(a, "--name bg -- /bin/sh -c %s" % json.dumps(script))
    t = wait(a, "bg")["task"]
    eq(t["exit"]["status"], 0, "parent status")
    eq(t["exit"]["descendant_holds_pipes"], True, "exit record says a descendant holds the pipes")
    eq(t["offsets"]["stdout"], len("parent\n"), "wait came back before the child's late output")
    deadline = time.monotonic() + 20
    while a.request("ps bg")["task"]["offsets"]["stdout"] < len("parent\nchild-late\n"):
        check(time.monotonic() < deadline, "the late output arrives")
        time.sleep(0.05)
    recs, _, _ = framed_logs(a, "bg")
    eq(stream_bytes(recs, "stdout"), b"parent\nchild-late\n", "the late output is captured")


@with_agent()
def test_overflow_gap_is_exact_and_follow_sees_new_output(a):
    # 4096-byte ring; 100 lines of 100 bytes = 10000 bytes: the start is lost.
    line = "x" * 99
    script = "i=0; while [ $i -lt 100 ]; do echo %s; i=$((i+1)); done; read go; echo after" % line
    run(a, "--name ov --ring-size 4096 --stdin pipe -- /bin/sh -c %s" % json.dumps(script))
    deadline = time.monotonic() + 10
    while a.request("ps ov")["task"]["offsets"]["stdout"] < 10000:
        check(time.monotonic() < deadline, "output arrives")
        time.sleep(0.02)
    with a.connect(timeout=30) as s:
        s.sendall(b"logs ov --framed --stream stdout --from 0 --follow\n")
        f = s.makefile("rb")
        gap = json.loads(f.readline())["gap"]["stdout"]
        first = json.loads(f.readline())
        eq(gap["from_off"], 0, "the gap starts where we asked")
        eq(gap["to_off"], first["off"], "reading resumes exactly after the gap")
        check(6000 <= gap["to_off"] < 10000, "what did not fit in 4 KiB was lost: %r" % gap)
        written = ((line + "\n") * 100).encode()
        got = f.read(first["len"])
        total = first["off"] + len(got)
        while total < 10000:
            h = json.loads(f.readline())
            eq(h["off"], total, "contiguous after the gap")
            got += f.read(h["len"])
            total += h["len"]
        eq(got, written[gap["to_off"]:], "what is kept is exactly the end of what was written")
        eq(a.request('stdin ov "go\\n"')["written"], 3, "stdin write")
        h = json.loads(f.readline())
        eq(f.read(h["len"]), b"after\n", "follow sees new output")
        end = json.loads(f.readline())
        eq((end["end"], end["exit"]["status"]), (True, 0), "follow ends with the exit")


@with_agent()
def test_reader_that_stops_reading_does_not_stall_the_task(a):
    run(a, "--name flood --ring-size 65536 -- /bin/sh -c %s"
        % json.dumps("head -c 20000000 /dev/zero; echo done >&2"))
    s = a.connect(timeout=30)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.sendall(b"logs flood --follow --framed\n")
    t = wait(a, "flood", timeout=60)["task"]  # completes while the reader sleeps
    eq(t["exit"]["status"], 0, "the task finished")
    eq(t["offsets"]["stdout"], 20000000, "every byte went through the ring")
    check(t["ring"]["dropped_bytes"] > 0, "the ring overwrote what the reader did not take")
    f = s.makefile("rb")
    saw_gap = False
    while True:
        h = json.loads(f.readline())
        if "len" in h:
            f.read(h["len"])
        elif "gap" in h:
            saw_gap = True
        else:
            break
    s.close()
    check(saw_gap, "the slow reader was told what it missed")
    eq(a.request("ping")["ok"], True, "others served")


def read_framed_until_end(f, slow=False, got=None):
    """Each stream's bytes (after what was already got) and the gaps of a
    framed follow, up to its end line."""
    out, gaps = dict(got or {}), []
    while True:
        head = json.loads(f.readline())
        if "len" in head:
            eq(head["off"], len(out.get(head["stream"], b"")), "offsets are contiguous")
            out[head["stream"]] = out.get(head["stream"], b"") + f.read(head["len"])
            if slow:
                time.sleep(0.002)
        elif "gap" in head:
            gaps.append(head["gap"])
        else:
            return out, gaps, head


@with_agent()
def test_lossless_reader_holds_the_task_instead_of_losing_output(a):
    data = os.urandom(1 << 20)
    with open(os.path.join(a.io, "data.bin"), "wb") as f:
        f.write(data)
    go = "echo start; while [ ! -e /io/go ]; do sleep 0.01; done; "
    run(a, "--name held --ring-size 4096 -- /bin/sh -c %s"
        % json.dumps(go + "cat /io/data.bin; echo done >&2"))
    s = a.connect(timeout=60)
    s.sendall(b"logs held --framed --follow --lossless\n")
    f = s.makefile("rb")
    head = json.loads(f.readline())  # the reader is in place: let the task write
    check("len" in head, "a record first: %r" % head)
    eq(f.read(head["len"]), b"start\n", "first record")
    open(os.path.join(a.io, "go"), "w").close()
    # The reader stops: the task must wait for it, not run to its end.
    time.sleep(0.5)
    eq(a.request("ps held")["task"]["state"], "running", "held while the reader does not read")
    out, gaps, end = read_framed_until_end(f, slow=True, got={"stdout": b"start\n"})
    s.close()
    eq(gaps, [], "no gap for the lossless reader")
    eq((len(out["stdout"]), hashlib.sha256(out["stdout"]).hexdigest()),
       (len(data) + 6, hashlib.sha256(b"start\n" + data).hexdigest()),
       "every byte of stdout, in order")
    eq(out["stderr"], b"done\n", "stderr")
    eq(end["exit"]["status"], 0, "exit in the end line")
    check(not end["exit"]["descendant_holds_pipes"], "held output is not a descendant's")
    # The 4 KiB ring did overflow, but only with what the reader had read.
    ring = a.request("ps held")["task"]["ring"]
    check(ring["dropped_bytes"] > len(data) - 4096, "the ring overwrote read output: %r" % ring)

    # A lossless reader that leaves lets the task run on to its end.
    run(a, "--name left --ring-size 4096 -- /bin/sh -c %s"
        % json.dumps("echo start; sleep 0.2; cat /io/data.bin; cat /io/data.bin"))
    s = a.connect(timeout=60)
    s.sendall(b"logs left --framed --follow --lossless\n")
    s.makefile("rb").readline()
    time.sleep(0.5)
    eq(a.request("ps left")["task"]["state"], "running", "held")
    s.close()
    eq(wait(a, "left")["task"]["exit"]["status"], 0, "runs to its end once the reader left")


@with_agent(keys=["task.ring_size=4096", "task.ring_budget=64M"])
def test_thousand_short_tasks(a):
    with a.connect(timeout=120) as s:
        f = s.makefile("rb")
        s.sendall(b"".join(b"run --name t%d -- /bin/sh -c \"exit %d\"\n" % (i, i % 7)
                           for i in range(1000)))
        ids = []
        for i in range(1000):
            r = json.loads(f.readline())
            check(r.get("ok"), "run %d: %r" % (i, r))
            ids.append(r["id"])
        s.sendall(b"".join(b"wait %d\n" % i for i in ids))
        for i in range(1000):
            t = json.loads(f.readline())["task"]
            eq((t["name"], t["exit"]["status"]), ("t%d" % i, i % 7), "exit record %d" % i)
    eq(len(set(ids)), 1000, "distinct ids")


@with_agent(keys=["task.ring_size=4096", "task.ring_budget=1M"])
def test_exited_tasks_records_count_against_the_ring_budget(a):
    """Each kept task's record (its argv included) is charged to the ring
    budget, so exited tasks with tiny rings and long command lines are
    evicted like any others instead of piling up without bound."""
    pad = "x" * 30000
    with a.connect(timeout=120) as s:
        f = s.makefile("rb")
        for i in range(60):
            s.sendall(b"run --name big%d -- /bin/true %s\nwait big%d\n" % (i, pad.encode(), i))
            check(json.loads(f.readline()).get("ok"), "run %d" % i)
            eq(json.loads(f.readline())["task"]["exit"]["status"], 0, "exit %d" % i)
    st = a.request("stats")["ring_budget"]
    check(st["used"] <= st["limit"], "budget kept: %r" % st)
    names = [t["name"] for t in a.request("ps")["tasks"] if t["name"].startswith("big")]
    # 60 records of ~30 KB plus 4 KiB rings cannot fit in 1 MiB: the oldest went.
    check(10 < len(names) < 35, "kept %d of 60" % len(names))
    eq(names[-1], "big59", "the newest is kept")
    check("big0" not in names, "the oldest was evicted")
    # A request that could not fit even in an empty budget evicts nothing.
    r = a.request("run --ring-size 1M -- /bin/true")
    eq(r.get("error"), "ring_budget", "too big for the budget: %r" % r)
    check("whole ring budget" in r["message"], r["message"])
    eq([t["name"] for t in a.request("ps")["tasks"] if t["name"].startswith("big")], names,
       "nothing evicted for it")


@with_agent()
def test_spawn_options_env_cwd_user_umask_rlimits(a):
    script = ("echo FOO=$FOO; echo BAR=${BAR-unset}; pwd; id -u; id -g; id -G; umask; "
              "ulimit -n; ulimit -Hn; echo HOME=$HOME")
    r = run(a, "--name opts --env FOO=1 --unset BAR --cwd /tmp --user 65534 --group 65534 "
            "--groups 100,65534 --umask 027 --rlimit nofile=100:200 --no-new-privs "
            "-- /bin/sh -c %s" % json.dumps(script))
    wait(a, "opts")
    recs, _, _ = framed_logs(a, "opts")
    out = stream_bytes(recs, "stdout").decode().split("\n")
    eq(out[:10], ["FOO=1", "BAR=unset", "/tmp", "65534", "65534", "65534 100",
                  "0027", "100", "200", "HOME=/nonexistent"], "what the task saw")
    r = run(a, "--name clean --clean-env --env ONLY=1 -- /usr/bin/env")
    wait(a, "clean")
    recs, _, _ = framed_logs(a, "clean")
    eq(stream_bytes(recs, "stdout"), b"ONLY=1\n", "a clean environment")


@with_agent()
def test_sigterm_to_group_ends_grandchildren(a):
    script = "sleep 1000 & sleep 1000 & echo started; wait"
    run(a, "--name grp -- /bin/sh -c %s" % json.dumps(script))
    deadline = time.monotonic() + 10
    while a.request("ps grp")["task"]["offsets"]["stdout"] == 0:
        check(time.monotonic() < deadline, "started")
        time.sleep(0.02)
    pid = a.request("ps grp")["task"]["pid"]
    eq(a.request("kill grp TERM"), {"ok": True}, "kill")
    t = wait(a, "grp")["task"]
    eq(t["exit"]["signal"], 15, "the shell got TERM")
    eq(t["exit"]["descendant_holds_pipes"], False, "the sleeps died with the group")
    a.request("run --name check -- /bin/sh -c %s" % json.dumps("pgrep -g %d || echo none" % pid))
    wait(a, "check")
    recs, _, _ = framed_logs(a, "check")
    eq(stream_bytes(recs, "stdout"), b"none\n", "no grandchild left in the group")
    eq(a.request("kill grp TERM")["error"], "not_running", "kill after exit")


@with_agent()
def test_rm_refuses_running_and_logs_of_removed_task_end(a):
    run(a, "--name busy /bin/sleep 100")
    eq(a.request("rm busy")["error"], "busy", "running task not removed")
    a.request("kill busy KILL")
    wait(a, "busy")
    eq(a.request("rm busy"), {"ok": True}, "removed once done")
    eq(a.request("logs busy")["error"], "unknown_task", "its logs are gone")


def seccomp_probe(a, name, opts):
    run(a, "--name %s %s -- /build/helpers/sysprobe status unshare reboot mount bpf "
        "kexec_load" % (name, opts))
    eq(wait(a, name)["task"]["exit"]["status"], 0, "sysprobe ran")
    recs, _, _ = framed_logs(a, name)
    return dict(l.split(": ", 1) for l in stream_bytes(recs, "stdout").decode().splitlines())


def check_seccomp(a):
    free = seccomp_probe(a, "nofilter", "")
    eq(free["unshare"], "ok", "unfiltered unshare(0) works")
    eq(free["seccomp"], "0 nnp: 0", "no filter by default")
    got = seccomp_probe(a, "filtered", "--seccomp default")
    for call in ("unshare", "reboot", "mount", "bpf", "kexec_load"):
        eq(got[call], "EPERM", "default profile denies %s" % call)
    eq(got["seccomp"], "2 nnp: 0", "filter mode, no_new_privs not forced")
    got = seccomp_probe(a, "allowed", "--seccomp default --seccomp-allow unshare")
    eq((got["unshare"], got["mount"]), ("ok", "EPERM"), "an allow-list exception")
    got = seccomp_probe(a, "denied", "--seccomp-deny unshare")
    eq((got["unshare"], got["mount"]), ("EPERM", "ENOENT"), "a deny list alone")
    r = a.request("run --seccomp-deny nosuchcall /bin/true")
    eq(r["error"], "bad_argument", "unknown syscall names are refused")


@test
def test_seccomp_enforced_by_the_static_musl_binary():
    # The release binary (musl, static, libseccomp built with musl-gcc).
    a = Agent(main=["/bin/sleep", "1000"], binary="/build/taskinit")
    try:
        a.wait_ready()
        check_seccomp(a)
        a.request("shutdown")
        a.wait_exit()
    finally:
        a.close()


@with_agent()
def test_seccomp_in_the_instrumented_build(a):
    check_seccomp(a)


@with_agent()
def test_pty_task_tty_size_and_resize(a):
    # A trapped SIGWINCH interrupts read: read again until a line comes.
    script = ("trap 'echo WINCH' WINCH; tty; stty size; until read x; do :; done; "
              "stty size; echo got-$x")
    run(a, "--name term --stdin pty --pty-size 100x30 -- /bin/sh -c %s" % json.dumps(script))
    deadline = time.monotonic() + 10
    while b"30 100" not in stream_bytes(framed_logs(a, "term")[0], "pty"):
        check(time.monotonic() < deadline, "initial size printed")
        time.sleep(0.02)
    eq(a.request("resize term 120 40"), {"ok": True}, "resize")
    while b"WINCH" not in stream_bytes(framed_logs(a, "term")[0], "pty"):
        check(time.monotonic() < deadline + 10, "SIGWINCH reaches the task")
        time.sleep(0.02)
    eq(a.request('stdin term "hello\\n"')["written"], 6, "typed a line")
    t = wait(a, "term")["task"]
    eq(t["exit"]["status"], 0, "exit")
    check("pty" in t["offsets"] and t["offsets"]["pty"] > 0, "pty stream offsets")
    out = stream_bytes(framed_logs(a, "term")[0], "pty").replace(b"\r\n", b"\n")
    lines = out.decode().split("\n")
    check(lines[0].startswith("/dev/pts/"), "tty is a pty: %r" % lines)
    eq(lines[1], "30 100", "initial size")
    check("40 120" in lines and "got-hello" in lines, "resize seen, input read: %r" % lines)
    check("WINCH" in lines, "the task got SIGWINCH: the pty is its controlling terminal")
    eq(a.request("resize main 80 24")["error"], "no_pty", "resize needs a pty")


@with_agent()
def test_events_stream_and_stats(a):
    ev = a.connect(timeout=20)
    ev.sendall(b"events\n")
    f = ev.makefile("rb")
    eq(json.loads(f.readline()), {"ok": True, "events": True}, "events acknowledged")
    r = run(a, "--name e1 -- /bin/sh -c \"exit 4\"")
    r2 = a.request("run --name e2 /no/such/thing")
    wait(a, "e1")
    a.request("rm e1")
    got = []
    while not got or (got[-1]["event"], got[-1]["name"]) != ("removed", "e1"):
        e = json.loads(f.readline())  # the socket timeout bounds this
        if e["name"] in ("e1", "e2"):  # main's own start may come first
            got.append(e)
    ev.close()
    seen = [(e["event"], e["name"]) for e in got]
    check(("started", "e1") in seen and ("exited", "e1") in seen and ("removed", "e1") in seen
          and ("exec_failed", "e2") in seen, "events: %r" % seen)
    check(seen.index(("started", "e1")) < seen.index(("exited", "e1"))
          < seen.index(("removed", "e1")), "in order")
    exited = next(e for e in got if e["event"] == "exited" and e["name"] == "e1")
    eq((exited["id"], exited["exit"]["status"]), (r["id"], 4), "exit record in the event")
    eq(next(e for e in got if e["event"] == "exec_failed")["id"], r2["id"], "exec failure")
    # stats: a busy task's CPU time and memory, the agent, the ring budget
    run(a, "--name busy -- /bin/sh -c \"i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done\"")
    t = wait(a, "busy")["task"]
    check(t["exit"]["cpu_user_ns"] + t["exit"]["cpu_sys_ns"] > 0, "CPU time in the exit record")
    run(a, "--name sleeper /bin/sleep 100")
    st = a.request("stats sleeper")
    check(st["agent"]["rss_kib"] > 0 and st["agent"]["live_tasks"] >= 2, "agent figures: %r" % st)
    check(st["ring_budget"]["used"] > 0 and st["ring_budget"]["rings"] >= 3, "ring budget")
    check(st["task"]["rss_kib"] > 0 and st["task"]["state"] == "running", "task figures")
    a.request("kill sleeper KILL")


@with_agent()
def test_each_task_gets_its_own_cgroup(a):
    base = "/taskinit-test-%s" % os.path.basename(a.work)
    r = run(a, "--name cg -- /bin/cat /proc/self/cgroup")
    wait(a, "cg")
    recs, _, _ = framed_logs(a, "cg")
    out = stream_bytes(recs, "stdout").decode()
    check("0::%s/task-%d\n" % (base, r["id"]) in out, "in its own group: %r" % out)
    st = a.request("stats cg")["task"]["cgroup"]
    check(st is not None and "cpu_usage_us" in st, "cgroup figures: %r" % st)
    log = a.log()
    has_memory = "memory yes" in log
    r = a.request("run --name lim --memory-max 64M --pids-max 32 /bin/true")
    if has_memory:
        eq(r["ok"], True, "limits applied where the controllers exist")
    else:
        eq(r["error"], "cgroup", "a limit without its controller is a clear error")
        check("not available" in r["message"], r["message"])
    eq(a.request("run --memory-max lots /bin/true")["error"], "bad_argument", "bad value")
    eq(a.request("rm cg"), {"ok": True}, "rm")
    st = a.request("run --name after -- /bin/cat /proc/self/cgroup")
    wait(a, "after")


def wait_for_group(a, id_, timeout=20):
    """Whether the group task-ID appears under the agent's base in time."""
    path = os.path.join(a.cgroup_base(), "task-%d" % id_)
    deadline = time.monotonic() + timeout
    while not os.path.isdir(path):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


@with_agent(keys=["task.ring_size=4096", "task.ring_budget=1M"])
def test_the_next_tasks_cgroup_is_made_while_the_agent_is_idle(a):
    if not a.cgroup_base() or not os.path.isdir(a.cgroup_base()):
        check("cgroup: tasks in" not in a.log(), "no cgroup2 here, and the agent says so")
        return
    r = run(a, "--name first -- /bin/true")
    wait(a, "first")
    check(wait_for_group(a, r["id"] + 1), "the group of the next id is made ahead")
    # A request that fails after it was given an id uses that id up: the
    # spare moves on to the id after it.
    bad = a.request("run --ring-size 1M -- /bin/true")
    eq(bad.get("error"), "ring_budget", "fails after taking an id: %r" % bad)
    check(wait_for_group(a, r["id"] + 2), "a spare for the id after the used-up one")
    check(not os.path.isdir(os.path.join(a.cgroup_base(), "task-%d" % (r["id"] + 1))),
          "the used-up id's group is removed")
    r2 = run(a, "--name second -- /bin/cat /proc/self/cgroup")
    eq(r2["id"], r["id"] + 2, "ids go on")
    wait(a, "second")
    recs, _, _ = framed_logs(a, "second")
    check(stream_bytes(recs, "stdout").decode().rstrip().endswith("/task-%d" % r2["id"]),
          "the task is in the group made for it")


@with_agent()
def test_ps_of_one_task_shows_its_whole_command_line(a):
    argv = ["/bin/true", "x" * 1000, "y" * 1000, "zzz"]
    r = run(a, "--name long -- %s" % " ".join(argv))
    wait(a, "long")
    eq(a.request("ps long")["task"]["argv"], argv, "ps TASK: the whole argv")
    listed = [t for t in a.request("ps")["tasks"] if t["name"] == "long"][0]["argv"]
    check(sum(len(x) for x in listed) <= 1024 and listed[0] == "/bin/true",
          "the list cuts it after 1024 bytes: %r" % [len(x) for x in listed])


@with_agent(binary=["/build/helpers/noclone3", harness.AGENT])
def test_clone3_refused_by_a_sandbox_falls_back_to_vfork(a):
    """Under a seccomp filter that answers clone3 with EPERM (as some
    container profiles do), tasks still start, in their own cgroup, and
    exec failures are still reported."""
    base = "/taskinit-test-%s" % os.path.basename(a.work)
    for i in range(3):
        r = run(a, "--name fb%d -- /bin/cat /proc/self/cgroup" % i)
        eq(wait(a, "fb%d" % i)["task"]["exit"]["status"], 0, "task %d ran" % i)
        recs, _, _ = framed_logs(a, "fb%d" % i)
        out = stream_bytes(recs, "stdout").decode()
        check("0::%s/task-%d\n" % (base, r["id"]) in out, "in its own group: %r" % out)
    r = a.request("run -- /nonexistent/prog")
    eq((r["error"], r["reason"], r["exit_code"]), ("exec_failed", "not_found", 127),
       "exec failure through the status pipe")
    r = a.request("run --user 65534 -- /bin/sh -c 'id -u'")
    check(r.get("ok"), "a user switch: %r" % r)


@with_agent()
def test_attach_forwards_stdin_and_streams_output(a):
    data = os.urandom(1 << 20)
    run(a, "--name cat --stdin pipe --ring-size 4M -- /bin/cat")  # no gap even if we lag
    with a.connect(timeout=60) as s:
        s.sendall(b"attach cat --framed\n")
        f = s.makefile("rb")
        eq(json.loads(f.readline()), {"ok": True, "attached": 2}, "attached")
        import threading
        def feed():
            s.sendall(data)  # more than every pipe and buffer between holds
            s.shutdown(socket.SHUT_WR)  # EOF on the task's stdin
        th = threading.Thread(target=feed)
        th.start()
        got = b""
        while True:
            h = json.loads(f.readline())
            if "len" in h:
                eq(h["stream"], "stdout", "stream")
                got += f.read(h["len"])
            elif "gap" in h:
                raise AssertionError("a gap in attach output: %r" % h)
            else:
                break
        th.join()
        eq((h["end"], h["exit"]["status"]), (True, 0), "ends with the exit")
        eq(hashlib.sha256(got).hexdigest(), hashlib.sha256(data).hexdigest(), "1 MiB through")
        eq(s.recv(1), b"", "then the connection closes")
    eq(a.request("ping")["ok"], True, "still serving")


@with_agent()
def test_attach_input_only_ends_stdin_on_a_full_close(a):
    # For transports without a half-close (Firecracker's hybrid socket):
    # output on one connection, stdin on another that is simply closed.
    data = os.urandom(1 << 20)
    run(a, "--name sink --stdin pipe --ring-size 4M -- /bin/sh -c \"cat; echo end >&2\"")
    out = a.connect(timeout=60)
    out.sendall(b"attach sink --framed --lossless\n")
    f = out.makefile("rb")
    eq(json.loads(f.readline())["attached"], 2, "output attached")
    with a.connect(timeout=60) as s:
        s.sendall(b"attach sink --input-only\n")
        eq(json.loads(readline(s)), {"ok": True, "attached": 2}, "input attached")
        s.sendall(data)
    # closed without a half-close: every byte still reaches the task first
    got = {}
    while True:
        h = json.loads(f.readline())
        if "len" in h:
            got[h["stream"]] = got.get(h["stream"], b"") + f.read(h["len"])
        else:
            break
    out.close()
    eq(h["exit"]["status"], 0, "cat saw end of input and exited")
    eq(hashlib.sha256(got.get("stdout", b"")).hexdigest(), hashlib.sha256(data).hexdigest(),
       "1 MiB through the input-only connection")
    eq(got.get("stderr"), b"end\n", "stderr")
    r = a.request("attach sink --input-only")
    check(not r["ok"] or r.get("attached"), "attach to an exited task answers: %r" % r)
    eq(a.request("ping")["ok"], True, "still serving")


@with_agent()
def test_peer_that_hangs_up_with_a_full_input_buffer_is_closed(a):
    # Requests queued behind a running `wait` fill the input buffer, which
    # is then not read from: the hangup must still end the connection
    # (level-triggered, it would otherwise keep PID 1 busy).
    run(a, "--name long -- /bin/sleep 100")
    s = a.connect(timeout=10)
    s.sendall(b"wait long\n")
    try:
        s.sendall(b"ping\n" * 60000)
    except OSError:
        pass
    s.close()
    a.wait_output("hung up")
    eq(a.request("ping")["ok"], True, "still serving")
    a.request("kill long KILL")


@with_agent()
def test_lossless_reader_of_one_stream_does_not_hold_the_other(a):
    # Held output of stdout is skipped by a stderr-only reader's cursor:
    # that must let capture go on, not freeze the task.
    run(a, "--name quiet --ring-size 64K -- /bin/sh -c "
        "\"echo start >&2; head -c 3000000 /dev/zero; echo end >&2\"")
    s = a.connect(timeout=60)
    s.sendall(b"logs quiet --framed --follow --lossless --stream stderr\n")
    out, gaps, end = read_framed_until_end(s.makefile("rb"))
    s.close()
    eq(out.get("stderr"), b"start\nend\n", "stderr, all of it")
    eq((gaps, end["exit"]["status"], end["offsets"]["stdout"]), ([], 0, 3000000),
       "the task ran to its end while the reader stayed")


@with_agent()
def test_events_are_lifecycle_only(a):
    # A task whose stdin fills and drains makes stdin-ready notifications;
    # the events stream must not report them (as "output" or otherwise).
    ev = a.connect(timeout=30)
    ev.sendall(b"events\n")
    f = ev.makefile("rb")
    eq(json.loads(f.readline()), {"ok": True, "events": True}, "events acknowledged")
    run(a, "--name slow --stdin pipe -- /bin/sh -c \"sleep 0.3; cat > /dev/null\"")
    with a.connect(timeout=30) as s:
        s.sendall(b"attach slow --input-only\n")
        eq(json.loads(readline(s))["attached"], 2, "input attached")
        s.sendall(os.urandom(512 << 10))  # more than the pipe: full, then ready
    seen = []
    while ("exited", "slow") not in seen:
        e = json.loads(f.readline())
        seen.append((e["event"], e["name"]))
    ev.close()
    names = {e for e, _ in seen}
    check(names <= {"started", "exited", "exec_failed", "oom", "removed"},
          "only lifecycle events: %r" % seen)
