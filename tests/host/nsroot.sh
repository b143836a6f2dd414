#!/bin/sh
# Runs as PID 1 of a fresh PID + mount namespace (started by unshare) and
# gives taskinit a root of its own to boot in: a tmpfs with the host's /usr
# and /etc bound read-only, and empty /proc, /sys, /dev and /run, so every
# boot mount is really made by taskinit. Then it execs taskinit, which
# stays PID 1.
#   nsroot.sh ROOTDIR IODIR BUILDDIR TESTDIR -- taskinit-path [args...]
# Inside: IODIR is /io (control socket, outputs), BUILDDIR is /build,
# TESTDIR is /t.
set -eu
root=$1 io=$2 build=$3 tdir=$4
shift 4
[ "$1" = "--" ] && shift
mount -t tmpfs -o mode=0755 nsroot "$root"
for d in usr etc; do
	mkdir -p "$root/$d"
	mount --rbind "/$d" "$root/$d"
	mount -o remount,bind,ro "$root/$d"
done
for l in bin sbin lib lib32 lib64 libx32; do
	if [ -L "/$l" ]; then
		ln -s "$(readlink "/$l")" "$root/$l"
	elif [ -d "/$l" ]; then
		mkdir -p "$root/$l"
		mount --rbind "/$l" "$root/$l"
	fi
done
mkdir -p "$root/proc" "$root/sys" "$root/dev" "$root/run" "$root/tmp" \
	"$root/io" "$root/build" "$root/t"
chmod 1777 "$root/tmp"
mount --bind "$io" "$root/io"
mount --bind "$build" "$root/build"
mount --bind "$tdir" "$root/t"
# valgrind needs /proc before the program it runs can mount it.
if [ "${NSROOT_PROC:-0}" = 1 ]; then
	mount -t proc -o nosuid,nodev,noexec proc "$root/proc"
fi
exec chroot "$root" "$@"
