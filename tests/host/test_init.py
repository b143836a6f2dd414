"""Host tier: PID 1 core (boot, reaping, main task, signals, shutdown) and
the control protocol's skeleton (limits, bad input, peers)."""
import json
import os
import subprocess
import random
import signal
import socket
import time

import harness
from harness import (AGENT, Agent, boot_and_exit, check, eq, read_all, replies, test,
                     with_agent)


# ---------------------------------------------------------------- PID 1 core

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
tries=0
while :; do
  n=0
  for f in /proc/[0-9]*/stat; do
    read -r pid comm state ppid rest < "$f" 2>/dev/null || continue
    [ "$comm" = "(cat)" ] && [ "$ppid" = 1 ] && n=$((n+1))
  done
  [ $n = 100 ] && break
  tries=$((tries+1)); [ $tries = 200 ] && break
  sleep 0.05
done
echo SPAWNED=$n
exec 3>&-
tries=0
while :; do
  z=0; s=0
  for f in /proc/[0-9]*/stat; do
    read -r pid comm state rest < "$f" 2>/dev/null || continue
    [ "$state" = Z ] && z=$((z+1))
    [ "$comm" = "(cat)" ] && s=$((s+1))
  done
  [ $((z + s)) = 0 ] && break
  tries=$((tries+1)); [ $tries = 200 ] && break
  sleep 0.05
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
        a.wait_output("(Hangup) ignored")
        eq(a.request("ping")["ok"], True, "still serving after SIGHUP")
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
        eq(a.request("rm main"), {"ok": True}, "the exited main task can be removed")
        a.request("shutdown")
        eq(a.wait_exit(), 3, "exit status is still the main task's")
    finally:
        a.close()



@test
def test_main_that_cannot_start_reports_127_and_honours_stay():
    # A ring bigger than the whole budget: task_run refuses the main task.
    a = Agent(main=["/bin/true"], keys=["task.main_exit=stay", "task.ring_budget=64K",
                                        "task.ring_size=1M"])
    try:
        a.wait_ready()
        a.wait_output("TASKINIT_EXIT")
        eq(a.exit_record()["status"], 127, "status of a main task that never started")
        eq(a.request("ping")["ok"], True, "serving: task.main_exit=stay")
        a.request("shutdown")
        eq(a.wait_exit(), 127, "exit status is the main task's")
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
def test_a_child_subreaper_mounts_nothing():
    # A second taskinit inside the first one (a subreaper, not PID 1): its
    # system is the first one's, and it mounts nothing of its own (run by
    # hand on a host, it once mounted a tmpfs over the host's /run).
    inner = [AGENT, "task.control_port=0", "task.log_level=info", "--", "/bin/sh", "-c", "exit 7"]
    rc, rec, log = boot_and_exit(inner)
    eq(rc, 7, "outer exit status is the inner's main status")
    check("not PID 1: a child subreaper mounts nothing" in log, "inner mounts nothing:\n" + log)
    check("a child subreaper makes task groups only under a task.cgroup it is given" in log,
          "inner makes no task groups on the host's hierarchy")
    check("mount /run: already mounted, skipped" not in log, "no mount attempted")
    check("starting as a child subreaper" in log, "inner runs as subreaper")
    check(log.count("TASKINIT_EXIT") == 2, "both report their main task")


@test
def test_version_and_help_answer_without_booting():
    for flag, want in (("--version", b"taskinit "), ("--help", b"usage: taskinit")):
        p = subprocess.run([os.path.join(harness.BUILD, "taskinit"), flag],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=10)
        eq(p.returncode, 0, "%s exits 0: %r" % (flag, p.stderr))
        check(p.stdout.startswith(want), "%s: %r" % (flag, p.stdout))
        eq(p.stderr, b"", "%s logs nothing (nothing booted)" % flag)


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
            s.sendall(b"ping\n")  # a request already on its way is dropped, not reset
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


