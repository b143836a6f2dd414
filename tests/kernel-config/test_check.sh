#!/bin/sh
# tests/kernel-config/test_check.sh: kernel-config/check against Debian's
# cloud kernel config (what the guest tier boots) and against configs made
# broken here by taking out required options. One PASS/FAIL line per check,
# then "N passed, M failed" (tests/run.sh counts it).
set -u
cd "$(dirname "$0")/../.."
check=kernel-config/check
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
npass=0 nfail=0
ok() { echo "  PASS $1"; npass=$((npass + 1)); }
ko() { echo "  FAIL $1: $2"; nfail=$((nfail + 1)); }
# expect NAME RC PATTERN... : the last run's status is RC and its output
# matches every (extended) regex PATTERN.
expect() {
	name=$1 want=$2
	shift 2
	if [ "$rc" != "$want" ]; then
		ko "$name" "exit status $rc, expected $want; output: $(tail -n 3 "$tmp/out" | tr '\n' ' ')"
		return
	fi
	for p in "$@"; do
		if ! grep -Eq -- "$p" "$tmp/out"; then
			ko "$name" "no line matching '$p' in the output"
			return
		fi
	done
	ok "$name"
}
run() { "$check" "$@" >"$tmp/out" 2>&1; rc=$?; }

cloud=$(ls /boot/config-*-cloud-amd64 2>/dev/null | sort | tail -n 1)
if [ -z "$cloud" ]; then
	ko kconfig.cloud "no /boot/config-*-cloud-amd64 (make deps installs linux-image-cloud-amd64)"
	echo "$npass passed, $nfail failed"
	exit 1
fi

# The cloud kernel boots the guest tier: everything required is there, the
# vsock and virtio parts as modules, 9p is not built (optional, no error).
run "$cloud"
expect kconfig.cloud_ok 0 '^OK: every required option' \
	'^  CONFIG_VSOCKETS +module$' '^  CONFIG_SECCOMP_FILTER +present$' \
	'^  CONFIG_EXT4_FS +present$' '^  CONFIG_9P_FS +missing$'
# Every option of the fragment is reported, each once.
want=$(grep -cE '^CONFIG_' kernel-config/taskinit.config)
got=$(grep -cE '^  CONFIG_[A-Z0-9_]+ +(present|module|missing)' "$tmp/out")
[ "$want" = "$got" ] && ok kconfig.every_option || ko kconfig.every_option "$got of $want options reported"

# A gzip-compressed config (as /proc/config.gz) reads the same.
gzip -c "$cloud" >"$tmp/config.gz"
run "$tmp/config.gz"
expect kconfig.gzip 0 '^OK: every required option' '^  CONFIG_VSOCKETS +module$'

# Broken: a required option deleted, and one turned off the way kconfig
# writes it ("# CONFIG_X is not set").
grep -v '^CONFIG_SECCOMP_FILTER=' "$cloud" >"$tmp/no-seccomp"
run "$tmp/no-seccomp"
expect kconfig.broken_deleted 1 '^  CONFIG_SECCOMP_FILTER +missing +<- required$' \
	'^MISSING required: CONFIG_SECCOMP_FILTER$'
sed 's/^CONFIG_VSOCKETS=m$/# CONFIG_VSOCKETS is not set/' "$cloud" >"$tmp/no-vsock"
run "$tmp/no-vsock"
expect kconfig.broken_not_set 1 '^  CONFIG_VSOCKETS +missing' '^MISSING required: CONFIG_VSOCKETS$'

# A required-any group: one member is enough, none is an error.
grep -v '^CONFIG_VIRTIO_MMIO=' "$cloud" >"$tmp/pci-only"
run "$tmp/pci-only"
expect kconfig.any_one_enough 0 '^OK: every required option' '^  CONFIG_VIRTIO_MMIO +missing$'
grep -v '^CONFIG_VIRTIO_MMIO=' "$tmp/pci-only" | grep -v '^CONFIG_VIRTIO_PCI=' >"$tmp/no-bus"
run "$tmp/no-bus"
expect kconfig.any_none 1 'none of these' '^MISSING required: CONFIG_VIRTIO_PCI or CONFIG_VIRTIO_MMIO$'

# A missing optional option is reported and is no error.
grep -v '^CONFIG_VSOCKETS_LOOPBACK=' "$cloud" >"$tmp/no-loopback"
run "$tmp/no-loopback"
expect kconfig.optional_missing_ok 0 '^  CONFIG_VSOCKETS_LOOPBACK +missing$' '^OK: '

# Not a config, or no file: status 2 with a message, never a pass.
echo 'hello' >"$tmp/junk"
run "$tmp/junk"
expect kconfig.not_a_config 2 'not a kernel config'
run "$tmp/nonexistent"
expect kconfig.no_file 2 'No such file'

# No argument: the running kernel's config, /proc/config.gz first.
if [ -f /proc/config.gz ]; then
	dflt=/proc/config.gz
else
	dflt=/boot/config-$(uname -r)
fi
run
if [ -f "$dflt" ]; then
	case $rc in
	0|1) grep -qx "kernel config: $dflt" "$tmp/out" && ok kconfig.default ||
		ko kconfig.default "did not read $dflt: $(head -n 1 "$tmp/out")" ;;
	*) ko kconfig.default "status $rc reading $dflt: $(tail -n 1 "$tmp/out")" ;;
	esac
else
	expect kconfig.default 2 'no kernel config found'
fi

echo "$npass passed, $nfail failed"
[ "$nfail" -eq 0 ]
