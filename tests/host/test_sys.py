"""Host tier: the clock and entropy verbs (docs/protocol.md "Clock and
entropy verbs").

CLOCK_REALTIME is one clock for the whole machine (time namespaces do not
virtualise it), so here the clock is only ever set to the current time plus
a few milliseconds, and every refusal is checked to leave it alone. The real
jump (to a date years away, read back with `date`) is in the guest tier:
tests/guest/cases/clock_entropy.sh."""
import base64
import datetime
import os
import time

from harness import check, eq, with_agent

SEC = 10**9


def rfc3339_ns(s):
    """'2026-11-23T12:09:00.123456789Z' -> ns since the epoch."""
    check(s.endswith("Z"), s)
    whole, _, frac = s[:-1].partition(".")
    dt = datetime.datetime.strptime(whole, "%Y-%m-%dT%H:%M:%S").replace(
        tzinfo=datetime.timezone.utc)
    return int(dt.timestamp()) * SEC + int((frac + "000000000")[:9])


def near_now(ns, what, slack=5 * SEC):
    check(abs(ns - time.time_ns()) < slack, "%s: %d is not near now (%d)" %
          (what, ns, time.time_ns()))


@with_agent()
def test_sys_clock_read(a):
    before_boot = time.clock_gettime_ns(time.CLOCK_BOOTTIME)
    r = a.request("clock")
    after_boot = time.clock_gettime_ns(time.CLOCK_BOOTTIME)
    eq(r["ok"], True, "ok")
    near_now(r["realtime_ns"], "realtime")
    eq(rfc3339_ns(r["realtime"]), r["realtime_ns"], "the RFC 3339 form is the same instant")
    # The agent shares the host's kernel clocks: its readings fall between ours.
    check(before_boot <= r["boottime_ns"] <= after_boot, "boottime between two host reads")
    check(0 < r["monotonic_ns"] <= r["boottime_ns"], "monotonic <= boottime")
    eq(a.request("clock now")["error"], "bad_argument", "no arguments")


@with_agent()
def test_sys_setclock_refuses_nonsense(a):
    for value, code in (("now", "bad_argument"), ("-5", "bad_argument"),
                        ("-1795435740.0", "bad_argument"), ('""', "bad_argument"),
                        ("1e18", "bad_argument"), ("1795435740.", "bad_argument"),
                        ("1795435740.1234567890", "bad_argument"),
                        ("2026-13-01T00:00:00Z", "bad_argument"),
                        ("2026-11-23T12:09:00", "bad_argument"),
                        ("123456789012345678901234567890", "bad_argument"),
                        ("1795435740", "out_of_range"),  # seconds read as ns: 1970
                        ("0", "out_of_range"),
                        ("1000000000.0", "out_of_range"),  # 2001
                        ("2023-12-31T23:59:59Z", "out_of_range"),
                        ("2200-01-01T00:00:00Z", "out_of_range"),
                        ("7258118400000000000", "out_of_range"),
                        ("9999-01-01T00:00:00Z", "out_of_range")):
        r = a.request("setclock " + value)
        eq((r["ok"], r["error"]), (False, code), "setclock %s" % value)
        check(r["message"], "a message")
        near_now(a.request("clock")["realtime_ns"], "the clock is untouched after %s" % value)
    r = a.request("setclock 1795435740")
    check("nanoseconds" in r["message"], "hints at the unit: %s" % r["message"])
    eq(a.request("setclock")["error"], "bad_argument", "no TIME")
    eq(a.request("setclock 1 2")["error"], "bad_argument", "two TIMEs")
    eq(a.request("ping")["pong"], True, "still answering")


@with_agent()
def test_sys_setclock_to_now_in_every_form(a):
    forms = (
        lambda ns: str(ns),
        lambda ns: "%d.%09d" % (ns // SEC, ns % SEC),
        lambda ns: datetime.datetime.fromtimestamp(ns // SEC, datetime.timezone.utc)
        .strftime("%Y-%m-%dT%H:%M:%S") + ".%09dZ" % (ns % SEC),
    )
    for form in forms:
        want = time.time_ns() + 5 * 10**6  # now + 5 ms: harmless to this machine
        value = form(want)
        r = a.request("setclock " + value)
        eq(r["ok"], True, "setclock %s: %r" % (value, r))
        # The step is what the agent saw between its clock and ours: small.
        check(abs(r["step_ns"]) < 2 * SEC, "a small step: %r" % r)
        eq(r["realtime_ns"] - r["previous_ns"] >= r["step_ns"] - SEC, True, "step consistent")
        near_now(r["realtime_ns"], "realtime after the set")
        check(r["realtime_ns"] >= want, "set to at least the value: %r" % r)
        eq(rfc3339_ns(r["realtime"]), r["realtime_ns"], "RFC 3339 form")


def entropy_avail():
    with open("/proc/sys/kernel/random/entropy_avail") as f:
        return int(f.read())


@with_agent()
def test_sys_entropy(a):
    data = os.urandom(64)
    r = a.request("entropy " + data.hex())
    eq((r["ok"], r["bytes"], r["credited_bits"], r["reseeded"]), (True, 64, 512, True),
       "hex: %r" % r)
    # Since Linux 5.18 entropy_avail is 256 once the CRNG is ready (a machine
    # that is up, like this one); the reply reads the same kernel's value.
    eq(r["entropy_avail"], entropy_avail(), "entropy_avail as the kernel reports it")
    r = a.request("entropy --base64 " + base64.b64encode(os.urandom(33)).decode())
    eq((r["ok"], r["bytes"], r["credited_bits"]), (True, 33, 264), "base64: %r" % r)
    r = a.request("entropy --credit 0 " + os.urandom(16).hex())
    eq((r["ok"], r["credited_bits"]), (True, 0), "mixed in without credit")
    r = a.request("entropy --credit 100 " + os.urandom(16).hex().upper())
    eq((r["ok"], r["credited_bits"]), (True, 100), "partial credit, upper-case hex")
    r = a.request("entropy " + os.urandom(4096).hex())
    eq((r["ok"], r["bytes"]), (True, 4096), "the largest request")
    for args in ("zz", "abc", '""', "--base64 a", "--base64 !!!!", os.urandom(4097).hex(),
                 "--credit 129 " + os.urandom(16).hex(), "--credit x 00",
                 "--frob 00", "00 11", "--credit"):
        r = a.request("entropy " + args)
        eq((r["ok"], r["error"]), (False, "bad_argument"), "entropy %.40s" % args)
    eq(a.request("ping")["pong"], True, "still answering")
