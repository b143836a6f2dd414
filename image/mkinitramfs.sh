#!/bin/sh
# image/mkinitramfs.sh: builds the guest initramfs without root, loop
# devices or gen_init_cpio. docs/image.md describes the layout.
#
#   image/mkinitramfs.sh OUT.cpio.gz STAGING_DIR KVER TASKINIT [HELPER...]
#
# Environment: GUEST_TESTS_DIR (default tests/guest/cases): its *.sh go to
# /tests; MODULES (default below): module names whose .ko files, with their
# dependencies from modules.dep, go to /lib/modules/KVER/ (same paths);
# BINS: host programs copied to /usr/bin with their shared libraries.
set -eu

out=$1 stage=$2 kver=$3 taskinit=$4
shift 4
tests_dir=${GUEST_TESTS_DIR:-tests/guest/cases}
modules=${MODULES:-vsock vmw_vsock_virtio_transport_common vmw_vsock_virtio_transport vsock_loopback virtio_pci virtio_blk virtio_net}
moddir=/lib/modules/$kver

die() { echo "image: $*" >&2; exit 1; }
[ -f "$taskinit" ] || die "no agent at $taskinit"
[ -f "$moddir/modules.dep" ] || die "no $moddir/modules.dep (kernel $kver's modules are not installed)"
busybox=$(command -v busybox) || die "busybox not found (Debian package busybox-static)"
file -L "$busybox" 2>/dev/null | grep -q 'statically linked' || \
	die "$busybox is not static: install busybox-static"

rm -rf "$stage"
mkdir -p "$stage"
cd "$stage"
stage_abs=$(pwd)
cd - >/dev/null

# Layout.
for d in bin sbin usr/bin usr/sbin etc proc sys dev run tmp root tests lib/modules/$kver; do
	mkdir -p "$stage_abs/$d"
done
chmod 1777 "$stage_abs/tmp"
chmod 700 "$stage_abs/root"

# taskinit as /init (the kernel runs /init from an initramfs) and /sbin/init.
cp "$taskinit" "$stage_abs/sbin/taskinit"
chmod 755 "$stage_abs/sbin/taskinit"
ln -s sbin/taskinit "$stage_abs/init"
ln -s taskinit "$stage_abs/sbin/init"

# busybox and its applets as symlinks (never over init or taskinit).
cp "$busybox" "$stage_abs/bin/busybox"
chmod 755 "$stage_abs/bin/busybox"
"$busybox" --list-full | while read -r applet; do
	case "$applet" in
	''|init|linuxrc|sbin/init|bin/busybox) continue ;;
	esac
	[ -e "$stage_abs/$applet" ] || [ -L "$stage_abs/$applet" ] && continue
	mkdir -p "$stage_abs/$(dirname "$applet")"
	ln -s /bin/busybox "$stage_abs/$applet"
done

cat >"$stage_abs/etc/passwd" <<'P'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
P
cat >"$stage_abs/etc/group" <<'G'
root:x:0:
nogroup:x:65534:
G
# Login shells (make run's console shell) get a prompt and the hints.
cat >"$stage_abs/etc/profile" <<'P'
PS1='[guest \w]# '
export PS1
echo "taskinit guest: try 'echo ps | ncat --vsock 1 1024', 'ncat --vsock 1 1025'" \
	"(debug shell), 'taskctl -c vsock:1 exec -- uname -a'; 'exit' powers off."
P

# Modules: the named ones plus everything they depend on (modules.dep lists
# the full transitive set for each module). Copied as the kernel ships them:
# Debian 12 ships plain .ko; a .ko.xz/.ko.zst is kept compressed (the
# kernel's finit_module decompresses it with MODULE_DECOMPRESS, else init/
# has to).
for m in $modules; do
	line=$(grep -E "(^|/)$m\.ko(\.[a-z]+)?:" "$moddir/modules.dep" | head -n 1) || true
	[ -n "$line" ] || die "module $m not in $moddir/modules.dep"
	for f in $(echo "$line" | tr -d ':'); do
		mkdir -p "$stage_abs/$moddir/$(dirname "$f")"
		cp "$moddir/$f" "$stage_abs/$moddir/$f"
		echo "$f"
	done
done | sort -u >"$stage_abs/$moddir/.image-modules"
# A modules.dep restricted to what is in the image.
grep -F -f "$stage_abs/$moddir/.image-modules" "$moddir/modules.dep" | \
	grep -E "^($(paste -sd'|' "$stage_abs/$moddir/.image-modules" | sed 's/\./\\./g')):" \
	>"$stage_abs/$moddir/modules.dep" || true
rm "$stage_abs/$moddir/.image-modules"

# Host programs (BINS) go to /usr/bin with the shared libraries and the
# loader ldd names for them, at the paths ldd prints (the loader's path is
# baked into each binary). A static binary has none.
copy_lib() {
	[ -e "$stage_abs$1" ] && return 0
	mkdir -p "$stage_abs$(dirname "$1")"
	cp -L "$1" "$stage_abs$1"
}
for b in ${BINS:-}; do
	[ -f "$b" ] || die "no program $b"
	rm -f "$stage_abs/usr/bin/${b##*/}" # never write through a busybox link
	cp "$b" "$stage_abs/usr/bin/${b##*/}"
	chmod 755 "$stage_abs/usr/bin/${b##*/}"
	file -L "$b" | grep -q 'dynamically linked' || continue
	libs=$(ldd "$b") || die "ldd $b failed"
	for l in $(echo "$libs" | sed -n 's/.*=> \(\/[^ ]*\).*/\1/p; s/^[[:space:]]*\(\/[^ ]*\) (0x.*/\1/p'); do
		copy_lib "$l"
		# OpenSSL 3 dlopens its providers (ldd cannot see them) from the
		# directory built into it, the canonical one (/usr/lib/...); ncat
		# complains on stderr at every start without the legacy one.
		case $l in
		*/libcrypto.so.3)
			for p in "$(readlink -f "${l%/*}")"/ossl-modules/*.so; do
				[ -f "$p" ] && copy_lib "$p"
			done ;;
		esac
	done
done

# Guest tests in /tests, static helpers in /tests/helpers.
for t in "$tests_dir"/*.sh; do
	[ -f "$t" ] && cp "$t" "$stage_abs/tests/" && chmod 755 "$stage_abs/tests/${t##*/}"
done
mkdir -p "$stage_abs/tests/helpers"
for h in "$@"; do
	cp "$h" "$stage_abs/tests/helpers/" && chmod 755 "$stage_abs/tests/helpers/${h##*/}"
done

# The archive: the staging tree (owned by root in the archive whoever runs
# this), then a second newc archive with the device nodes, appended. The
# kernel unpacks concatenated archives one after the other, and a node in
# an archive needs no mknod privilege on the host. Both are gzipped as one
# stream.
mkdir -p "$(dirname "$out")"
{
	cd "$stage_abs" && find . -mindepth 1 | LC_ALL=C sort | \
		cpio --quiet -o -H newc -R 0:0 --reproducible
	cd - >/dev/null
	python3 "$(dirname "$0")/devnodes.py"
} | gzip -9n >"$out.tmp"
mv "$out.tmp" "$out"
echo "image: $out ($(stat -c %s "$out") bytes, kernel $kver," \
	"$(find "$stage_abs/lib/modules" -name '*.ko*' | wc -l) modules)"
