#!/bin/sh
# disk: virtio
# cmdline: task.root=/dev/vda task.rootfstype=squashfs task.allow_cid=1
# console: switch root: mount /dev/vda \(squashfs\) on /sysroot: 
# console: switch root: staying on the initramfs
# task.root whose disk cannot be mounted (an ext4 image read as squashfs,
# which this image has no driver for): an error on the console, nothing
# left mounted, and the boot goes on from the initramfs.
. /tests/lib.sh
root=$(awk '$2 == "/" { print $3 }' /proc/mounts | head -n 1)
[ "$root" = rootfs ] && pass rootfs_badfs.still_initramfs ||
	fail rootfs_badfs.still_initramfs "/ is '$root'"
check rootfs_badfs.no_sysroot "$(grep sysroot /proc/mounts)" sh -c '! grep -q sysroot /proc/mounts'
check rootfs_badfs.disk_there "no /dev/vda" test -b /dev/vda
echo ping | ncat --vsock 1 1024 >/tmp/r 2>&1
check rootfs_badfs.serving "reply: $(cat /tmp/r)" grep -q '"pong":true' /tmp/r
exit $((T_FAILED != 0))
