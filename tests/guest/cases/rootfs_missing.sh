#!/bin/sh
# cmdline: task.root=/dev/vdb task.root_wait=1 task.allow_cid=1
# console: switch root: /dev/vdb did not appear within 1s; staying on the initramfs
# task.root naming a disk that never shows up: taskinit loads the virtio
# disk drivers, waits task.root_wait seconds, says so on the console and
# boots on from the initramfs: the guest keeps its agent.
. /tests/lib.sh
root=$(awk '$2 == "/" { print $3 }' /proc/mounts | head -n 1)
[ "$root" = rootfs ] && pass rootfs_missing.still_initramfs ||
	fail rootfs_missing.still_initramfs "/ is '$root'"
check rootfs_missing.no_sysroot "$(grep sysroot /proc/mounts)" sh -c '! grep -q sysroot /proc/mounts'
check rootfs_missing.proc_in_place "no /proc" test -e /proc/self/stat
echo ping | ncat --vsock 1 1024 >/tmp/r 2>&1
check rootfs_missing.serving "reply: $(cat /tmp/r)" grep -q '"pong":true' /tmp/r
exit $((T_FAILED != 0))
