#!/bin/sh
# initrd: none
# disk: nvme
# cmdline: root=/dev/nvme0n1 rw task.allow_cid=1
# taskinit as /sbin/init of a disk root, with no initramfs: the kernel
# mounts the ext4 image itself and runs /sbin/init, a link to taskinit.
# The cloud kernel has NVMe and ext4 built in but virtio-blk as a module,
# so this boot uses an NVMe disk; a root=/dev/vda boot of this kernel needs
# the initramfs and task.root (rootfs_switch). The vsock modules come from
# the disk's /lib/modules.
. /tests/lib.sh
root=$(awk '$2 == "/" { print $1, $3 }' /proc/mounts | head -n 1)
case $root in
"/dev/root ext4"|"/dev/nvme0n1 ext4") pass rootfs_direct.root_is_disk ;;
*) fail rootfs_direct.root_is_disk "/ is '$root'" ;;
esac
# /dev/root is the kernel's name for root=: its device is the NVMe disk.
dev=$(stat -c '%d' /)
want=$(cat /sys/block/nvme0n1/dev 2>/dev/null)
[ -n "$want" ] && [ "$((dev >> 8)):$((dev & 255))" = "$want" ] && pass rootfs_direct.root_device ||
	fail rootfs_direct.root_device "/ is device $((dev >> 8)):$((dev & 255)), nvme0n1 is '$want'"
check rootfs_direct.no_initramfs "an initramfs is mounted" sh -c '! grep -q "^rootfs " /proc/mounts'
exe=$(readlink /proc/1/exe)
[ "$exe" = /sbin/taskinit ] && pass rootfs_direct.pid1 || fail rootfs_direct.pid1 "/proc/1/exe is '$exe'"
check rootfs_direct.devtmpfs "no devtmpfs on /dev" sh -c 'awk "\$2 == \"/dev\" && \$3 == \"devtmpfs\"" /proc/mounts | grep -q .'
echo ping | ncat --vsock 1 1024 >/tmp/r 2>&1
check rootfs_direct.vsock_serving "reply: $(cat /tmp/r)" grep -q '"pong":true' /tmp/r
exit $((T_FAILED != 0))
