#!/bin/sh
# image/mkrootfs.sh: an ext4 disk image holding a staging tree (the one
# image/mkinitramfs.sh made), without root or loop devices: mkfs.ext4 -d
# copies the tree, debugfs adds the device nodes and gives every file to
# root. docs/image.md describes it.
#
#   image/mkrootfs.sh OUT.ext4 STAGING_DIR
#
# Environment: ROOTFS_SLACK_MB (default 32): free space on top of the tree.
set -eu

out=$1 stage=$2
slack=${ROOTFS_SLACK_MB:-32}

die() { echo "rootfs: $*" >&2; exit 1; }
[ -d "$stage" ] || die "no staging tree $stage"
command -v mkfs.ext4 >/dev/null || die "mkfs.ext4 not found (Debian package e2fsprogs)"
command -v debugfs >/dev/null || die "debugfs not found (Debian package e2fsprogs)"

# Size: the tree plus slack, rounded to whole MiB.
kib=$(du -sk "$stage" | cut -f1)
mib=$(( (kib + 1023) / 1024 + slack ))

rm -f "$out.tmp"
mkdir -p "$(dirname "$out")"
# -E root_owner: / belongs to root; -m 0: no blocks reserved for root in a
# test image; -L: a label to find it by.
if ! mkfs.ext4 -q -F -L taskinit-root -m 0 -E root_owner=0:0 -d "$stage" "$out.tmp" "${mib}M" \
	>"$out.log" 2>&1; then
	cat "$out.log" >&2
	rm -f "$out.log"
	die "mkfs.ext4 failed"
fi
rm -f "$out.log"

# One debugfs run: the nodes the kernel needs before any devtmpfs exists
# (it opens /dev/console for init when it mounts this disk as the root
# itself) and root:root for every file, whoever built the tree.
cmds=$(mktemp)
trap 'rm -f "$cmds"' EXIT
{
	echo "cd /dev"
	echo "mknod console c 5 1"
	echo "mknod null c 1 3"
	echo "cd /"
	echo "sif /dev/console mode 020600"
	echo "sif /dev/null mode 020666"
	(cd "$stage" && find . -mindepth 1) | sed 's|^\.||' | while read -r p; do
		echo "sif \"$p\" uid 0"
		echo "sif \"$p\" gid 0"
	done
} >"$cmds"
debugfs -w -f "$cmds" "$out.tmp" >/dev/null 2>"$cmds.err" || { cat "$cmds.err" >&2; die "debugfs failed"; }
# debugfs reports bad commands on stderr but exits 0.
if grep -v '^debugfs ' "$cmds.err" | grep -q .; then
	cat "$cmds.err" >&2
	rm -f "$cmds.err"
	die "debugfs reported errors"
fi
rm -f "$cmds.err"
e2fsck -fn "$out.tmp" >/dev/null 2>&1 || die "e2fsck finds the new image inconsistent"
mv "$out.tmp" "$out"
echo "rootfs: $out (${mib} MiB ext4, $(find "$stage" -mindepth 1 | wc -l) files)"
