"""Host tier: task.root outside a VM. In a namespace, switching the root
would mount a device of the host and take over its mounts, so taskinit
refuses it with a warning and boots on where it is."""
from harness import boot_and_exit, check, eq, test


@test
def test_switchroot_ignored_in_a_namespace():
    keys = ("task.root=/dev/vda", "task.rootfstype=ext4", "task.rootflags=ro,noatime",
            "task.root_wait=1")
    rc, rec, log = boot_and_exit(["/bin/sh", "-c", "test ! -e /sysroot && echo ROOT-UNTOUCHED"],
                                 keys=keys)
    eq(rc, 0, "main exit")
    check("switch root: task.root=/dev/vda ignored: not a VM's PID 1" in log,
          "no warning about task.root:\n" + log)
    check("ROOT-UNTOUCHED" in log, "/sysroot was made:\n" + log)
    check("did not appear" not in log and "mounted /dev/vda" not in log,
          "it tried to switch:\n" + log)


@test
def test_switchroot_keys_checked():
    rc, rec, log = boot_and_exit(["/bin/true"], keys=("task.root_wait=301", "task.rootfstype="))
    eq(rc, 0, "main exit")
    check("task.root_wait=301: expected 0..300 seconds (ignored)" in log,
          "no warning for root_wait=301:\n" + log)
    check("task.rootfstype=: expected a value (ignored)" in log,
          "no warning for an empty rootfstype:\n" + log)
