#!/bin/sh
# disk: virtio
# cmdline: task.root=/dev/vda
# console: switch root: mounted /dev/vda \(ext4\) on /sysroot
# console: switch root: freed the initramfs \([0-9]+ KiB of files\)
# console: switch root: /dev/vda is / \([0-9]+ ms\); exec /sbin/init
# console: switch root: / is not an initramfs; task.root=/dev/vda already done
# task.root from the initramfs: taskinit loads virtio_pci and virtio_blk,
# mounts the ext4 image (a virtio-blk disk, never written: snapshot=on),
# moves /dev, /proc, /sys and /run onto it, frees the initramfs and execs
# the disk's /sbin/init, which is taskinit again and serves from the disk.
. /tests/lib.sh

root=$(awk '$2 == "/" { print $1, $3 }' /proc/mounts)
[ "$root" = "/dev/vda ext4" ] && pass rootfs_switch.root_is_disk ||
	fail rootfs_switch.root_is_disk "/ is '$root' in /proc/mounts"
check rootfs_switch.no_rootfs_left "the initramfs is still mounted: $(grep -w rootfs /proc/mounts)" \
	sh -c '! grep -q "^rootfs " /proc/mounts'
exe=$(readlink /proc/1/exe)
[ "$exe" = /sbin/taskinit ] && pass rootfs_switch.pid1_from_disk ||
	fail rootfs_switch.pid1_from_disk "/proc/1/exe is '$exe'"
for m in /dev /proc /sys /run /dev/pts /sys/fs/cgroup; do
	t=$(awk -v m="$m" '$2 == m { print $3 }' /proc/mounts | head -n 1)
	[ -n "$t" ] && pass "rootfs_switch.moved$m" || fail "rootfs_switch.moved$m" "nothing on $m"
done
check rootfs_switch.no_sysroot_left "$(grep sysroot /proc/mounts)" sh -c '! grep -q sysroot /proc/mounts'
check rootfs_switch.writable "cannot write to the disk root" sh -c 'echo x >/root/w && [ "$(cat /root/w)" = x ]'
check rootfs_switch.virtio_blk "virtio_blk not loaded" test -d /sys/module/virtio_blk
check rootfs_switch.vsock "vsock transports not loaded" test -d /sys/module/vsock_loopback
exit $((T_FAILED != 0))
