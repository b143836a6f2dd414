#!/bin/sh
# image/run.sh: what `make run` does: boots the guest image in QEMU with
# taskinit as PID 1 and a root shell on the serial console (this terminal)
# as the main task, so `exit` powers the guest off. docs/image.md ("make
# run") says why it is built this way.
#
#   image/run.sh VMLINUZ INITRAMFS [TASKCTL]
#
# With KVM (/dev/kvm) and /dev/vhost-vsock usable, the guest also gets a
# vhost-vsock device (guest CID $GUEST_CID, default 3) and the host can use
# ncat, socat and taskctl on it. Without them it runs under TCG; clients
# inside the guest reach taskinit over vsock loopback (CID 1).
# RUN_CMDLINE adds kernel command line words.
set -eu

kernel=$1 initrd=$2 taskctl=${3:-taskctl}
cid=${GUEST_CID:-3}
extra=${RUN_CMDLINE:-}

[ -f "$kernel" ] || { echo "run: no kernel '$kernel'" >&2; exit 2; }
[ -f "$initrd" ] || { echo "run: no initramfs '$initrd' (make image)" >&2; exit 2; }

usable() { [ -r "$1" ] && [ -w "$1" ]; }

# The main task: busybox's cttyhack opens the console's real tty (ttyS0)
# as stdin, stdout and stderr and makes it the controlling terminal of the
# shell (taskinit made the task a session leader), so ^C and job control
# work; a login shell reads the image's /etc/profile (its hints).
main="/bin/cttyhack /bin/sh -l"
# CID 1 is the guest itself (vsock loopback), 2 the host.
cmdline="console=ttyS0 quiet panic=-1 task.debug task.allow_cid=1,2 $extra -- $main"

if usable /dev/kvm && usable /dev/vhost-vsock; then
	cat <<EOF
run: KVM, vhost-vsock: the guest is CID $cid. From another terminal on this host:
    ncat --vsock $cid 1025                      root shell in the guest (task.debug)
    ncat --vsock $cid 1024                      control protocol: type ping, ps, help
    $taskctl -c vsock:$cid exec -- uname -a
    $taskctl -c vsock:$cid ps
    $taskctl -c vsock:$cid shutdown              power the guest off
This terminal is the serial console with a root shell: 'exit' powers the
guest off; Ctrl-a x quits QEMU at once.
EOF
	set -- -accel kvm -cpu host -device "vhost-vsock-pci,guest-cid=$cid"
else
	why="no usable /dev/kvm"
	usable /dev/kvm && why="no usable /dev/vhost-vsock"
	cat <<EOF
run: $why: emulation (TCG), no vsock device to the host. This terminal
is the serial console with a root shell in the guest (a boot takes a few
seconds). Inside, over vsock loopback (CID 1):
    echo ps | ncat --vsock 1 1024                control protocol (try: help, boot, logs 1)
    ncat --vsock 1 1025                          the debug shell (task.debug)
    taskctl -c vsock:1 exec -- uname -a
    exit                                         power the guest off (Ctrl-a x quits QEMU)
EOF
	set -- -accel tcg
fi

exec qemu-system-x86_64 -machine q35 "$@" -m 512 -nographic -no-reboot -nic none \
	-kernel "$kernel" -initrd "$initrd" -append "$cmdline"
