"""Host tier: boot tasks (docs/boottasks.md). Each test boots an agent with
task.boot_tasks=/io/tasks; the file is written into the test's io dir just
before taskinit starts (in the child, before exec)."""
import json
import os
import re
import time

from harness import Agent, check, eq, read_all, readline, test, with_agent


class BootAgent(Agent):
    def __init__(self, text, keys=(), **kw):
        def write_file():
            with open(os.path.join(self.io, "tasks"), "w") as f:
                f.write(text)
        kw.setdefault("main", ["/bin/sleep", "1000"])
        super().__init__(keys=["task.boot_tasks=/io/tasks", *keys], preexec=write_file, **kw)


def with_boot(text, **kw):
    return with_agent(factory=lambda **k: BootAgent(text, **k), **kw)


def wait(a, ref, timeout=30):
    with a.connect(timeout=timeout) as s:
        s.sendall(("wait %s\n" % ref).encode())
        return json.loads(readline(s))


def raw_logs(a, ref):
    with a.connect() as s:
        s.sendall(("logs %s\n" % ref).encode())
        s.shutdown(1)
        data = read_all(s)
    cut = data.rindex(b'{"ok"')
    json.loads(data[cut:])  # the end line
    return data[:cut]


def lines_of(a, name):
    try:
        with open(os.path.join(a.io, name)) as f:
            return f.read().splitlines()
    except FileNotFoundError:
        return []


def delays(a, name):
    return [int(m) for m in re.findall(r"boot task %s: status \d+, restart=[a-z-]+: "
                                       r"restarting in (\d+) ms" % re.escape(name), a.log())]


@with_boot(r"""# a comment
[hello]
command = /bin/sh -c "echo hello from boot; echo \"quoted\" 'x'"
restart = never

[args]
command = /usr/bin/printf '%s|' 'a b'  "c\"d\\e" f\ g "" 'it''s'
""")
def test_boottask_runs_and_output_is_in_logs(a):
    w = wait(a, "hello")
    eq(w["task"]["exit"]["status"], 0, "hello exited 0")
    eq(raw_logs(a, "hello"), b"hello from boot\nquoted x\n", "logs hello")
    eq(wait(a, "args")["task"]["exit"]["status"], 0, "args exited 0")
    eq(raw_logs(a, "args"), b'a b|c"d\\e|f g||its|', "argv words as quoted")


@with_boot("""[flaky]
command = /bin/sh -c "echo run >> /io/flaky; echo failing; exit 3"
restart = on-failure
backoff_ms = 100
backoff_max_ms = 300
start_limit = 5
start_window_s = 60
""")
def test_boottask_on_failure_backoff_then_rate_limit(a):
    a.wait_output("boot task flaky: status 3; started 5 times within 60 s: giving up")
    time.sleep(0.5)
    eq(len(lines_of(a, "flaky")), 5, "started exactly start_limit times")
    eq(delays(a, "flaky"), [100, 200, 300, 300], "delays double up to the cap")
    ps = [t for t in a.request("ps")["tasks"] if t["name"] == "flaky"]
    eq(len(ps), 2, "the last exited incarnation and the one before are kept")
    check(ps[0]["id"] < ps[1]["id"], "new ids for each start")
    eq(a.request("ps flaky")["task"]["exit"]["status"], 3, "newest incarnation's exit")
    eq(raw_logs(a, "flaky"), b"failing\n", "logs of the newest incarnation")


@with_boot("""[ok]
command = /bin/sh -c "echo run >> /io/ok"
restart = on-failure

[forever]
command = /bin/sh -c "echo run >> /io/forever"
restart = always
backoff_ms = 50
start_limit = 3
start_window_s = 60
""")
def test_boottask_always_restarts_on_success_on_failure_does_not(a):
    a.wait_output("boot task forever: status 0; started 3 times within 60 s: giving up")
    eq(len(lines_of(a, "forever")), 3, "always: restarted after exit 0")
    eq(delays(a, "forever"), [50, 100], "backoff")
    eq(len(lines_of(a, "ok")), 1, "on-failure: exit 0 is not restarted")
    check("boot task ok: status 0, restart=on-failure: not restarted" in a.log(), "log says so")


@with_boot("""[once]
command = /bin/sh -c "echo run >> /io/once; exit 1"
""")
def test_boottask_never_is_not_restarted(a):
    eq(wait(a, "once")["task"]["exit"]["status"], 1, "exit 1")
    time.sleep(1)
    eq(len(lines_of(a, "once")), 1, "ran once")
    check("boot task once: status 1, restart=never: not restarted" in a.log(), "log says so")


@with_boot("""this line has no equals sign
[first]
command = /bin/sh -c "echo first"
[broken]
command = /bin/sh -c "echo broken >> /io/broken"
restart = sometimes
[unterminated]
command = /bin/echo "oops
[last]
colour = blue
command = /bin/echo last
[123]
command = /bin/true
""")
def test_boottask_bad_lines_warned_others_start(a):
    eq(wait(a, "first")["task"]["exit"]["status"], 0, "first ran")
    eq(wait(a, "last")["task"]["exit"]["status"], 0, "last ran")
    eq(raw_logs(a, "last"), b"last\n", "last output")
    log = a.log()
    for want in ("/io/tasks:1: expected key = value or [name]\n",
                 "/io/tasks:6: restart: expected never, on-failure or always",
                 "/io/tasks:8: command: unterminated double quote (task not started)",
                 "/io/tasks:10: unknown key \"colour\" (ignored)",
                 "/io/tasks:12: bad task name \"123\""):
        check(want in log, "warned: %s\n%s" % (want, log))
    check("boot tasks: 2 from /io/tasks" in log, "first and last kept")
    names = [t["name"] for t in a.request("ps")["tasks"]]
    check("broken" not in names and "unterminated" not in names, "bad tasks not started")
    eq(lines_of(a, "broken"), [], "broken never ran")


@with_boot("""[svc]
command = /bin/sleep 1000
restart = always
""")
def test_boottask_not_restarted_during_shutdown(a):
    deadline = time.monotonic() + 10
    while a.request("ps svc").get("task", {}).get("state") != "running":
        check(time.monotonic() < deadline, "svc runs")
        time.sleep(0.02)
    a.request("shutdown")
    a.wait_exit()
    log = a.log()
    # The agent may exit before svc's exit is even published; either way
    # no restart is decided or made.
    check("boot task svc: status" not in log, "no restart decision during shutdown:\n" + log)
    check("boot task svc: start 2" not in log, "no second start:\n" + log)


@test
def test_boottask_missing_file_is_info_only():
    a = Agent(main=["/bin/sleep", "1000"], keys=["task.boot_tasks=/io/nonexistent"])
    try:
        a.wait_ready()
        a.wait_output("boot tasks: no /io/nonexistent")
        a.request("shutdown")
        a.wait_exit()
    finally:
        a.close()

