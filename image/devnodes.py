#!/usr/bin/env python3
"""Writes to stdout a newc cpio archive holding /dev/console (c 5 1) and
/dev/null (c 1 3), owned by root: appended to the initramfs so that no
device node (and so no root) is needed on the host."""
import sys

ino = 0x7000


def entry(name, mode, rdev=(0, 0), data=b""):
    global ino
    ino += 1
    name_b = name.encode() + b"\0"
    hdr = "070701" + "".join("%08X" % v for v in (
        ino, mode, 0, 0, 1, 0, len(data), 0, 0, rdev[0], rdev[1],
        len(name_b), 0))
    out = hdr.encode() + name_b
    out += b"\0" * (-len(out) % 4)
    out += data + b"\0" * (-len(data) % 4)
    return out


arch = entry("dev", 0o040755)
arch += entry("dev/console", 0o020600, (5, 1))
arch += entry("dev/null", 0o020666, (1, 3))
arch += entry("TRAILER!!!", 0)
arch += b"\0" * (-len(arch) % 512)
sys.stdout.buffer.write(arch)
