#!/usr/bin/env python3
"""Task benchmarks: capture throughput, exec round trip and idle cost per
task, each beside a baseline measured in the same run. taskinit runs as PID 1
of a fresh PID + mount namespace (tests/host/nsroot.sh, as boot_bench.py does)
and is driven over its Unix control socket. Figures are printed, never
asserted.

    tests/bench/task_bench.py build/taskinit build/bench/spawn_loop [N] [GIB]

N is the exec round trip count (default 1000), GIB the capture size in GiB
(default 1). spawn_loop is tests/bench/spawn_loop.c built static with musl.

1. capture: `sh -c 'head -c 1G /dev/zero'` as a task with a 4 MiB ring,
   timed from sending `run` to the `wait` reply, beside tasks running
   `sh -c 'head -c 1G /dev/zero | cat > /dev/null'` and
   `sh -c 'head -c 1G /dev/zero | spawn_loop --sink'` (raw pipes into
   readers that keep nothing; taskinit captures no byte of them), timed the
   same way, in the same taskinit. Five alternating runs each; the ratio is
   against the faster raw pipe.
2. exec round trip: `run -- /io/true` (a static musl `true`) then
   `wait`, N times on one connection (and N times pipelined: run and wait
   in one write); median and p90. Beside spawn_loop (fork, vfork and
   posix_spawn of the same binary, exec, waitpid), run as a task of the same
   taskinit, so in the same namespace, in 10 chunks between taskinit's, so
   both see the same machine; the fastest method is the baseline.
   spawn_loop's fork+setup and vfork+setup rows add the syscalls taskinit's
   child makes before exec. spawn_loop is also run with 64 MiB of touched
   heap (the default ring budget, full) to show what fork costs a grown
   agent. Beside both, rt_floor (tests/bench/rt_floor.c): the same round
   trips against a minimal server that only makes the pipes, vforks,
   and answers from epoll + signalfd: the part any capturing agent pays.
   Then the round trips again (N/2, no Python rows) with task.cgroup=none,
   and with taskinit and everything it runs pinned to one CPU.
3. idle cost: VmRSS of taskinit before and after starting 200 sleeping
   tasks with --ring-size 4096.
"""
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from boot_bench import pid1_of, start, status_kib  # noqa: E402

GIB = 1 << 30
IDLE_TASKS = 200


class Conn:
    """One control connection; requests answered in order, one line each."""

    def __init__(self, path, timeout=300):
        self.s = socket.socket(socket.AF_UNIX)
        self.s.settimeout(timeout)
        self.s.connect(path)
        self.buf = b""

    def send(self, line):
        self.s.sendall(line.encode() + b"\n")

    def reply(self):
        while b"\n" not in self.buf:
            chunk = self.s.recv(1 << 20)
            if not chunk:
                raise RuntimeError("control connection closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def ask(self, line):
        self.send(line)
        r = self.reply()
        if not r.get("ok"):
            raise RuntimeError("%s -> %s" % (line, r))
        return r

    def close(self):
        self.s.close()


def make_io():
    work = tempfile.mkdtemp(prefix="taskinit-bench.")
    io = os.path.join(work, "io")
    os.makedirs(io)
    return work, io


def build_true(io):
    """A static `true`: musl-gcc if there is one, else /bin/true."""
    src = os.path.join(io, "true.c")
    with open(src, "w") as f:
        f.write("int main(void) { return 0; }\n")
    cc = shutil.which("musl-gcc")
    if cc and subprocess.run([cc, "-O2", "-static", "-s", src, "-o", os.path.join(io, "true")],
                             check=False).returncode == 0:
        return "/io/true", "static musl true (%d bytes)" % os.path.getsize(os.path.join(io, "true"))
    return "/bin/true", "/bin/true (dynamic: musl-gcc missing)"


class Taskinit:
    def __init__(self, binary, io, keys=(), cpus=None):
        """keys: more task.* options; cpus: a CPU set for taskinit and all
        its tasks (inherited from this process, pinned around the start)."""
        shutil.copy(binary, os.path.join(io, "taskinit"))
        self.sock = os.path.join(io, "ctl.sock")
        mine = os.sched_getaffinity(0)
        if cpus:
            os.sched_setaffinity(0, cpus)
        try:
            self.p = start(io, "/io/taskinit", ["task.control_unix=/io/ctl.sock",
                                                "task.control_port=0", "task.log_level=warn",
                                                *keys, "--", "/bin/sleep", "100000"])
        finally:
            os.sched_setaffinity(0, mine)
        deadline = time.monotonic() + 30
        while True:
            try:
                self.c = Conn(self.sock)
                self.c.ask("ping")
                break
            except OSError:
                if time.monotonic() > deadline or self.p.poll() is not None:
                    raise RuntimeError("taskinit did not come up")
                time.sleep(0.002)
        self.pid1 = pid1_of(self.p)

    def rss_kib(self):
        return status_kib(self.pid1, "VmRSS")

    def stop(self):
        try:
            self.c.ask("shutdown")
            self.p.wait(60)
        except Exception:
            pass
        finally:
            if self.p.poll() is None:
                try:  # PID 1 of the namespace: SIGKILL ends all of it
                    os.kill(self.pid1, 9)
                except OSError:
                    pass
                self.p.kill()
                self.p.wait()


def timed_task(c, argv, ring):
    """run ... -- argv, then wait: seconds from sending run to the wait reply."""
    t0 = time.perf_counter()
    r = c.ask("run --ring-size %s -- %s" % (ring, " ".join(json.dumps(a) for a in argv)))
    w = c.ask("wait %d" % r["id"])
    dt = time.perf_counter() - t0
    c.ask("rm %d" % r["id"])
    return dt, w["task"]


def bench_capture(ti, size, runs=5):
    head = "/usr/bin/head -c %d /dev/zero" % size
    rows = [
        ("raw pipe   head | cat > /dev/null", ["/bin/sh", "-c", head + " | /bin/cat > /dev/null"],
         "4096", False),
        ("raw pipe   head | sink (4 MiB buffer)", ["/bin/sh", "-c", head + " | /io/spawn_loop --sink"],
         "4096", False),
        ("taskinit   head, captured, 4 MiB ring", ["/bin/sh", "-c", head], "4M", True),
    ]
    times = [[] for _ in rows]
    for _ in range(runs):
        for i, (_, argv, ring, captured) in enumerate(rows):
            dt, task = timed_task(ti.c, argv, ring)
            if task["exit"]["status"] != 0:
                raise RuntimeError("capture task failed: %s" % task)
            got = task["offsets"]["stdout"]
            if captured and got != size:
                raise RuntimeError("captured %d bytes of %d" % (got, size))
            times[i].append(dt)
    mib = size / (1 << 20)
    print("== capture: %d MiB to stdout, %d alternating runs each, timed run -> wait reply"
          % (mib, runs))
    print("  %-40s %9s %11s %9s %11s" % ("", "best s", "best MiB/s", "median s", "median MiB/s"))
    for (what, _, _, _), ts in zip(rows, times):
        print("  %-40s %9.3f %11.0f %9.3f %11.0f" % (what, min(ts), mib / min(ts),
                                                     statistics.median(ts),
                                                     mib / statistics.median(ts)))
    cap = times[-1]
    raw_best = min(min(ts) for ts in times[:-1])
    raw_med = min(statistics.median(ts) for ts in times[:-1])
    ratio = raw_best / min(cap)
    print("  ratio: capture / fastest raw pipe throughput = %.2fx best-to-best, %.2fx "
          "median-to-median (goal >= 0.8x: %s)"
          % (ratio, raw_med / statistics.median(cap), "met" if ratio >= 0.8 else "not met"))
    return ratio


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p))]


def task_output(c, tid):
    """The raw output of an exited task (`logs`), up to its end line."""
    c.send("logs %d" % tid)
    out = b""
    while True:
        while b"\n" not in c.buf:
            chunk = c.s.recv(1 << 20)
            if not chunk:
                raise RuntimeError("control connection closed")
            c.buf += chunk
        line, c.buf = c.buf.split(b"\n", 1)
        if line.startswith(b'{"ok":'):
            end = json.loads(line)
            if not end.get("ok") or not end.get("end"):
                raise RuntimeError("logs: %s" % end)
            return out.decode()
        out += line + b"\n"


def raw_samples_task(c, argv):
    """A benchmark program run as a task of the same taskinit; its `raw
    NAME US...` lines."""
    r = c.ask("run --ring-size 1M -- %s" % " ".join(argv))
    w = c.ask("wait %d" % r["id"])
    out = task_output(c, r["id"])
    c.ask("rm %d" % r["id"])
    if w["task"]["exit"]["status"] != 0:
        raise RuntimeError("%s failed: %s\n%s" % (argv[0], w, out))
    samples = {}
    for line in out.splitlines():
        f = line.split()
        if f and f[0] == "raw":
            samples[f[1]] = [float(x) for x in f[2:]]
    return samples


def client_task(c, k, true_path):
    """rt_client: k timed run+wait round trips over the control socket, and
    k pipelined ones."""
    s = raw_samples_task(c, ["/io/rt_client", "/io/ctl.sock", str(k), true_path])
    return s["rt"], s["piped"]


def floor_task(c, k, true_path):
    """rt_floor: the same k round trips against a minimal server."""
    s = raw_samples_task(c, ["/io/rt_floor", str(k), true_path])
    return s["rt"], s["piped"]


def bench_roundtrip(ti, true_path, n, chunks=10, python=True):
    """Chunks of n/chunks round trips by the C client (each one sequential
    run+wait, then one pipelined), then as many against rt_floor's minimal
    server, then n/chunks by this script (for the time inside taskinit and
    the cost of a Python client), then spawn_loop for n/chunks spawns per
    method, so all see the same machine."""
    c = ti.c
    k = max(1, n // chunks)
    for _ in range(max(5, n // 20)):  # warm-up
        timed_task(c, [true_path], "1M")
    res = {"total": [], "piped": [], "floor": [], "floor_piped": [], "py": [], "agent": [],
           "base": {}}
    for _ in range(chunks):
        rt, pp = client_task(c, k, true_path)
        res["total"].extend(rt)
        res["piped"].extend(pp)
        rt, pp = floor_task(c, k, true_path)
        res["floor"].extend(rt)
        res["floor_piped"].extend(pp)
        for _ in range(k if python else 0):
            dt, task = timed_task(c, [true_path], "1M")
            if task["exit"]["status"] != 0:
                raise RuntimeError("true failed: %s" % task)
            res["py"].append(dt * 1e6)
            res["agent"].append((task["exit"]["end_boot_ns"] - task["start_boot_ns"]) / 1e3)
        for m, xs in raw_samples_task(c, ["/io/spawn_loop", "-r", str(k), true_path]).items():
            res["base"].setdefault(m, []).extend(xs)
    return res


def row(xs):
    return statistics.median(xs), pct(xs, 0.9)


def print_roundtrip(res, what):
    """The short table of one configuration: bare loop, floor, taskinit."""
    base = res["base"]
    fastest = min(("fork", "vfork", "posix_spawn"), key=lambda m: statistics.median(base[m]))
    bmed = statistics.median(base[fastest])
    print("  %s:" % what)
    print("    bare %-11s + exec + waitpid           %8.1f / %8.1f"
          % ((fastest,) + row(base[fastest])))
    print("    floor: rt_floor's minimal server, run + wait %8.1f / %8.1f" % row(res["floor"]))
    print("    taskinit run + wait (2 round trips)          %8.1f / %8.1f" % row(res["total"]))
    print("    taskinit run+wait pipelined (1 round trip)   %8.1f / %8.1f" % row(res["piped"]))
    r = statistics.median(res["total"]) / bmed
    f = statistics.median(res["floor"]) / bmed
    print("    ratio to bare %s: taskinit %.2fx, pipelined %.2fx, floor %.2fx; "
          "taskinit / floor %.2fx"
          % (fastest, r, statistics.median(res["piped"]) / bmed, f,
             statistics.median(res["total"]) / statistics.median(res["floor"])))
    return fastest, r


def bench_idle(binary, io):
    ti = Taskinit(binary, io)
    try:
        time.sleep(0.2)
        before = ti.rss_kib()
        ids = []
        for i in range(IDLE_TASKS):
            ids.append(ti.c.ask("run --ring-size 4096 -- /bin/sleep 100000")["id"])
        time.sleep(0.2)
        after = ti.rss_kib()
        hwm = status_kib(ti.pid1, "VmHWM")
        listed = len(ti.c.ask("ps")["tasks"])
        for i in ids:
            ti.c.ask("kill %d KILL" % i)
        return before, after, hwm, listed
    finally:
        ti.stop()


def main():
    binary = sys.argv[1] if len(sys.argv) > 1 else "build/taskinit"
    spawn_loop = sys.argv[2] if len(sys.argv) > 2 else "build/bench/spawn_loop"
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 1000
    size = int(float(sys.argv[4]) * GIB) if len(sys.argv) > 4 else GIB
    t_start = time.monotonic()
    print("== task benchmarks: %s, N=%d, capture %d MiB, %d CPUs, load %s"
          % (binary, n, size >> 20, os.cpu_count(), " ".join(open("/proc/loadavg").read().split()[:3])))
    work, io = make_io()
    try:
        shutil.copy(spawn_loop, os.path.join(io, "spawn_loop"))
        for prog in ("rt_client", "rt_floor"):
            shutil.copy(os.path.join(os.path.dirname(spawn_loop), prog), os.path.join(io, prog))
        true_path, true_what = build_true(io)

        ti = Taskinit(binary, io)
        try:
            bench_capture(ti, size)
            res = bench_roundtrip(ti, true_path, n)
            big = raw_samples_task(ti.c, ["/io/spawn_loop", "-r", "-b", "64",
                                          str(max(100, n // 4)), true_path])
            rss_after_rt = ti.rss_kib()
        finally:
            ti.stop()
        # The same with no task cgroups, and on one CPU (a 1-vCPU guest):
        # what the cgroup and the second CPU's wakeups cost.
        others = []
        for keys, cpus, what in (
                (["task.cgroup=none"], None, "task.cgroup=none, 2 CPUs"),
                ([], {min(os.sched_getaffinity(0))}, "task cgroups, 1 CPU (taskinit, "
                 "its tasks and the clients pinned to one)")):
            ti = Taskinit(binary, io, keys, cpus)
            try:
                others.append((what, bench_roundtrip(ti, true_path, max(100, n // 2),
                                                     python=False)))
            finally:
                ti.stop()

        base = res["base"]
        print("== exec round trip: %s, N=%d (median / p90, microseconds)" % (true_what, n))
        print("  bare loop, a task of the same taskinit, in chunks of %d between "
              "taskinit's:" % max(1, n // 10))
        for m, xs in base.items():
            print("    %-11s + exec + waitpid                %8.1f / %8.1f" % ((m,) + row(xs)))
        print("  same, with 64 MiB of touched heap (the default ring budget, full), N=%d:"
              % len(big["fork"]))
        for m, xs in big.items():
            if "setup" not in m:
                print("    %-11s + exec + waitpid                %8.1f / %8.1f" % ((m,) + row(xs)))
        fastest = min(("fork", "vfork", "posix_spawn"), key=lambda m: statistics.median(base[m]))
        bmed = statistics.median(base[fastest])
        print("  floor: rt_floor's minimal server, run + wait    %8.1f / %8.1f" % row(res["floor"]))
        print("  floor pipelined                                 %8.1f / %8.1f"
              % row(res["floor_piped"]))
        print("  taskinit run + wait (2 round trips, C client)   %8.1f / %8.1f" % row(res["total"]))
        print("  taskinit run+wait pipelined (1 round trip)      %8.1f / %8.1f" % row(res["piped"]))
        print("  taskinit run + wait from Python (this script)   %8.1f / %8.1f" % row(res["py"]))
        print("  taskinit inside: start -> exit published        %8.1f / %8.1f" % row(res["agent"]))
        print("  taskinit VmRSS after the round trips: %d KiB" % rss_after_rt)
        print("  fastest bare loop: %s" % fastest)
        r = statistics.median(res["total"]) / bmed
        print("  ratio: run+wait / %s = %.2fx (goal <= 1.5x: %s); pipelined %.2fx; "
              "inside taskinit %.2fx; the floor %.2fx, taskinit / floor %.2fx"
              % (fastest, r, "met" if r <= 1.5 else "not met",
                 statistics.median(res["piped"]) / bmed, statistics.median(res["agent"]) / bmed,
                 statistics.median(res["floor"]) / bmed,
                 statistics.median(res["total"]) / statistics.median(res["floor"])))
        md = {m: statistics.median(xs) for m, xs in base.items()}
        print("  fork / vfork: %.2fx bare, %.2fx with 64 MiB touched; child setup adds "
              "%.0f us to fork, %.0f us to vfork"
              % (md["fork"] / md["vfork"],
                 statistics.median(big["fork"]) / statistics.median(big["vfork"]),
                 md["fork+setup"] - md["fork"], md["vfork+setup"] - md["vfork"]))
        print("== exec round trip in other configurations, N=%d each (median / p90, "
              "microseconds)" % max(100, n // 2))
        for what, r2 in others:
            print_roundtrip(r2, what)

        work2, io2 = make_io()
        try:
            before, after, hwm, listed = bench_idle(binary, io2)
        finally:
            shutil.rmtree(work2, ignore_errors=True)
        per = (after - before) / IDLE_TASKS
        print("== idle cost: %d tasks sleeping, --ring-size 4096" % IDLE_TASKS)
        print("  taskinit VmRSS before %d KiB, after %d KiB (VmHWM %d KiB, %d tasks listed)"
              % (before, after, hwm, listed))
        print("  %.1f KiB per task in all, %.1f KiB beyond its 4 KiB ring"
              % (per, per - 4.0))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("== task benchmarks took %.0f s" % (time.monotonic() - t_start))


if __name__ == "__main__":
    main()
