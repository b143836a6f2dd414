#!/usr/bin/env python3
"""Guest boot benchmark: the boot timeline of taskinit as the real PID 1
of a QEMU guest (Debian's cloud kernel, the image from `make image`).
Figures are printed, never asserted.

    tests/bench/guest_boot_bench.py [BOOTS]      (default 5; BUILD=dir)

Each boot's main task asks taskinit for its `boot` verb over vsock loopback
(CID 1) and prints the reply on the serial console. CLOCK_BOOTTIME starts
with the kernel, so the stamps read as time since kernel start:
- kernel start -> taskinit exec: the kernel's own boot, initramfs unpacking
  included;
- exec -> mounts done, -> modules loaded (the vsock transports and
  virtio_pci, by finit_module), -> control listener ready, -> main task
  started;
- the headline: exec -> control listener ready, the time taskinit itself
  spends before it serves.
Medians over the boots, with min and max. The host's wall time per boot
(QEMU start to exit) is printed for context; under TCG all of it is
emulation-bound, under KVM it is close to real hardware.
"""
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

BUILD = os.environ.get("BUILD", "build")
HELPER = "/tests/helpers/ctl"
PHASES = ["exec", "mounts done", "system set up", "modules loaded", "control listener ready",
          "main task started", "boot done"]


def accel():
    ok = os.access("/dev/kvm", os.R_OK | os.W_OK)
    return "kvm" if ok else "tcg"


def boot_once(kernel, initrd, acc):
    """Returns (boot reply, wall seconds)."""
    # Double quotes: the kernel command line groups words with them only.
    main = '/bin/sh -c "echo BOOT-REPLY $(%s vsock:1:1024 boot)"' % HELPER
    cmdline = "console=ttyS0 panic=-1 quiet task.log_level=warn task.allow_cid=1 -- %s" % main
    t0 = time.monotonic()
    out = subprocess.run(
        ["timeout", "-k", "5", "120", "qemu-system-x86_64", "-machine", "q35", "-accel", acc,
         "-m", "512", "-nographic", "-no-reboot", "-nic", "none", "-kernel", kernel,
         "-initrd", initrd, "-append", cmdline],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT).stdout
    wall = time.monotonic() - t0
    text = out.decode("utf-8", "replace").replace("\r", "")
    m = re.search(r"^BOOT-REPLY (\{.*\})$", text, re.M)
    if not m:
        raise RuntimeError("no boot reply on the console; tail:\n" + text[-1500:])
    return json.loads(m.group(1)), wall


def stamps(reply):
    """{phase: ns since kernel start}, the first stamp of each phase."""
    got = {"exec": reply["exec_ns"]}
    for e in reply["events"]:
        got.setdefault(e["what"], e["t_ns"])
    return got


def ms(ns):
    return ns / 1e6


def row(name, values):
    values = [v for v in values if v is not None]
    if not values:
        return "| %s | — | — | — |" % name
    return "| %s | %.1f ms | %.1f ms | %.1f ms |" % (
        name, ms(statistics.median(values)), ms(min(values)), ms(max(values)))


def main():
    boots = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    image = os.path.join(BUILD, "image")
    initrd = os.path.join(image, "initramfs.cpio.gz")
    try:
        kernel = open(os.path.join(image, "kernel")).read().strip()
    except OSError:
        sys.exit("guest_boot_bench: no %s/kernel: run make image first" % image)
    if not os.path.isfile(initrd):
        sys.exit("guest_boot_bench: no %s: run make image first" % initrd)
    acc = accel()
    runs, walls = [], []
    for _ in range(boots):
        reply, wall = boot_once(kernel, initrd, acc)
        runs.append(stamps(reply))
        walls.append(wall)

    def span(a, b):
        return [r[b] - r[a] if a in r and b in r else None for r in runs]

    print("guest boot (%s, %s, %d boots, initramfs %d bytes), medians:" %
          (acc, os.path.basename(kernel), boots, os.path.getsize(initrd)))
    print("| phase | median | min | max |")
    print("|---|---|---|---|")
    print(row("kernel start -> taskinit exec", [r["exec"] for r in runs]))
    for a, b in zip(PHASES, PHASES[1:]):
        print(row("%s -> %s" % (a, b), span(a, b)))
    print(row("**exec -> control listener ready (taskinit's own boot)**",
              span("exec", "control listener ready")))
    print(row("kernel start -> control listener ready",
              [r.get("control listener ready") for r in runs]))
    print("| host wall time per boot (QEMU start to exit) | %.2f s | %.2f s | %.2f s |" %
          (statistics.median(walls), min(walls), max(walls)))
    ready = statistics.median(v for v in span("exec", "control listener ready") if v is not None)
    print("guest boot: taskinit exec -> control listener ready: %.1f ms (median, %s)" %
          (ms(ready), acc))


if __name__ == "__main__":
    main()
