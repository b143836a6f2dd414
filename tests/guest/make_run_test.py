#!/usr/bin/env python3
"""`make run` without a terminal: boots the guest the way a developer does,
waits for the console shell's prompt, types commands into the serial
console, then `exit`, and checks that the guest powered off by itself with
the shell's status on the console. One PASS/FAIL line per check, then
"N passed, M failed" (tests/run.sh counts it).

Environment: BUILD (default build), RUN_TEST_TIMEOUT (seconds, default 180,
the image build included)."""
import os
import re
import select
import subprocess
import sys
import time

BUILD = os.environ.get("BUILD", "build")
TIMEOUT = float(os.environ.get("RUN_TEST_TIMEOUT", "180"))
# Busybox's line editor may follow the prompt with ESC [6n (where is the
# cursor?), which nothing answers on this console.
PROMPT = re.compile(rb"\[guest /\]# (\x1b\[6n)?$")
results = []


def check(name, ok, why=""):
    results.append(ok)
    print("  %s %s%s" % ("PASS" if ok else "FAIL", name, "" if ok else ": " + why), flush=True)


class Console:
    """The output of `make run` so far, and a way to wait for a pattern."""

    def __init__(self, proc):
        self.proc = proc
        self.out = b""
        self.deadline = time.monotonic() + TIMEOUT

    def wait_for(self, pattern, since=0, timeout=None):
        """Reads until pattern matches self.out[since:] or the process ends
        or the time (all of it, or timeout seconds) runs out; returns the
        match or None."""
        rx = re.compile(pattern)
        deadline = self.deadline if timeout is None else min(self.deadline,
                                                              time.monotonic() + timeout)
        while True:
            text = self.out[since:].replace(b"\r", b"")
            m = rx.search(text)
            if m:
                return m
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            r, _, _ = select.select([self.proc.stdout], [], [], min(left, 1.0))
            if r:
                chunk = os.read(self.proc.stdout.fileno(), 65536)
                if not chunk:
                    return rx.search(self.out[since:].replace(b"\r", b""))
                self.out += chunk

    def type(self, line):
        """Sends a line to the serial console, a byte at a time: the UART
        takes typed input, not a burst."""
        for b in line.encode() + b"\n":
            self.proc.stdin.write(bytes([b]))
            self.proc.stdin.flush()
            time.sleep(0.01)


def tail(con, n=15):
    lines = con.out.replace(b"\r", b"").decode("utf-8", "replace").splitlines()
    return "\n".join("    | " + ln for ln in lines[-n:])


def main():
    os.chdir(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
    proc = subprocess.Popen(["make", "--no-print-directory", "BUILD=" + BUILD, "run"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True)
    con = Console(proc)
    try:
        run_checks(con)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, 9)
            proc.wait()
        with open(os.path.join(BUILD, "guest-logs", "make_run.log"), "wb") as f:
            f.write(con.out.replace(b"\r", b""))
    passed = sum(results)
    print("make run: %d passed, %d failed" % (passed, len(results) - passed))
    return 0 if results and all(results) else 1


def run_checks(con):
    os.makedirs(os.path.join(BUILD, "guest-logs"), exist_ok=True)
    m = con.wait_for(rb"run: (KVM, vhost-vsock|no usable /dev/\S+: emulation)")
    check("make_run.banner", m is not None, "no banner from image/run.sh:\n" + tail(con))
    if m and b"emulation" in m.group(0):
        check("make_run.hints", con.wait_for(rb"ncat --vsock 1 1024") is not None,
              "the banner does not say how to reach the guest")
    elif m:
        check("make_run.hints", con.wait_for(rb"taskctl -c vsock:3 ") is not None,
              "the banner does not give the taskctl line")
    m = con.wait_for(rb"\[guest /\]# ")
    check("make_run.prompt", m is not None, "no shell prompt on the console:\n" + tail(con))
    if not m:
        return
    # The shell runs what is typed (the reply is computed, so the echo of
    # the typed line cannot match), with the console as its terminal.
    mark = len(con.out)
    con.type("echo ANSWER-$((6*7)); tty")
    m = con.wait_for(rb"\nANSWER-42\n/dev/(ttyS0|console)\n", mark)
    check("make_run.shell_runs", m is not None, "no answer:\n" + tail(con))
    # The control port over vsock loopback, from the console shell.
    mark = len(con.out)
    con.type("echo ping | ncat --vsock 1 1024")
    m = con.wait_for(rb'\{"ok":true,"pong":true\}', mark)
    check("make_run.vsock_ping", m is not None, "no pong:\n" + tail(con))
    con.wait_for(PROMPT.pattern, mark, timeout=30)
    # The image's ncat has what it loads at run time (OpenSSL's providers).
    check("make_run.ncat_quiet", b"failed to load" not in con.out[mark:],
          "ncat complained:\n" + tail(con))
    mark = len(con.out)
    con.type("exit")
    # Busybox's line editor asks the terminal for the cursor position
    # (ESC [6n) and, with no terminal to answer, may eat what is typed
    # while it waits: say it again if nothing happened.
    m = con.wait_for(rb'TASKINIT_EXIT \{[^\n]*"status":0', mark, timeout=10)
    if not m:
        con.type("exit")
        m = con.wait_for(rb'TASKINIT_EXIT \{[^\n]*"status":0', mark)
    check("make_run.exit_status", m is not None, "no TASKINIT_EXIT status 0:\n" + tail(con))
    m = con.wait_for(rb"reboot: Power down", mark)
    check("make_run.poweroff", m is not None, "no 'reboot: Power down':\n" + tail(con))
    left = max(con.deadline - time.monotonic(), 1)
    try:
        rc = con.proc.wait(timeout=min(left, 30))
    except subprocess.TimeoutExpired:
        rc = None
    check("make_run.qemu_ended", rc == 0, "make run still running or failed (status %s)" % rc)


if __name__ == "__main__":
    sys.exit(main())
