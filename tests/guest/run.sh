#!/bin/sh
# tests/guest/run.sh: the guest tier. One QEMU boot per test script: the
# script is taskinit's main task, its result lines come back on the serial
# console. docs/image.md says how tests are written.
#
#   tests/guest/run.sh -k VMLINUZ -i INITRAMFS [-d ROOTFS] [-t SECONDS] [-o LOGDIR] [NAME...]
#
# NAME: a script tests/guest/cases/NAME.sh (default: all but lib.sh).
# Per boot it reports the script's GUEST-PASS / GUEST-FAIL lines and two
# checks of its own: NAME.exit (TASKINIT_EXIT carries the status given by
# the script's "# expect-exit: N" line, default 0) and NAME.poweroff (QEMU
# ended by itself before the time limit). A boot whose script printed
# nothing is a failure of its own (BOOT-FAIL), with the console's tail.
# "# disk: virtio" or "# disk: nvme" attaches ROOTFS (the ext4 image) as a
# virtio-blk or NVMe disk, never written (snapshot=on); "# initrd: none"
# boots without the initramfs (the kernel mounts root= itself). Each
# "# console: REGEX" line is a check NAME.consoleN: some console line
# matches the extended regex (the init log's lines are on the console).
set -u

kernel= initrd= rootfs= tmo=60 logdir=build/guest-logs
while getopts k:i:d:t:o: opt; do
	case $opt in
	k) kernel=$OPTARG ;;
	i) initrd=$OPTARG ;;
	d) rootfs=$OPTARG ;;
	t) tmo=$OPTARG ;;
	o) logdir=$OPTARG ;;
	*) echo "usage: $0 -k VMLINUZ -i INITRAMFS [-d ROOTFS] [-t SECONDS] [-o LOGDIR] [NAME...]" >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
cases=$(dirname "$0")/cases
[ -f "$kernel" ] || { echo "guest: no kernel '$kernel'" >&2; exit 2; }
[ -f "$initrd" ] || { echo "guest: no initramfs '$initrd'" >&2; exit 2; }
command -v qemu-system-x86_64 >/dev/null || { echo "guest: qemu-system-x86_64 missing (make deps)" >&2; exit 2; }

accel=tcg
if [ -w /dev/kvm ] && [ -r /dev/kvm ]; then accel=kvm; fi
if [ $# -eq 0 ]; then
	for f in "$cases"/*.sh; do
		n=${f##*/}; n=${n%.sh}
		[ "$n" = lib ] || set -- "$@" "$n"
	done
fi
mkdir -p "$logdir"

npass=0 nfail=0
ok() { echo "  PASS $1"; npass=$((npass + 1)); }
ko() { echo "  FAIL $1: $2"; nfail=$((nfail + 1)); }

for name in "$@"; do
	script=$cases/$name.sh
	if [ ! -f "$script" ]; then ko "$name" "no $script"; continue; fi
	want=$(sed -n 's/^# expect-exit: *\([0-9]*\).*/\1/p' "$script" | head -n 1)
	want=${want:-0}
	# "# cmdline: task.x=1 ..." adds kernel command line words for this test.
	extra=$(sed -n 's/^# cmdline: *//p' "$script" | head -n 1)
	log=$logdir/$name.log
	# The disk and initramfs directives, as QEMU arguments in "$@" (the
	# loop's list of names was expanded once, at its start).
	disk=$(sed -n 's/^# disk: *\([a-z]*\).*/\1/p' "$script" | head -n 1)
	set -- -initrd "$initrd"
	[ "$(sed -n 's/^# initrd: *\([a-z]*\).*/\1/p' "$script" | head -n 1)" = none ] && set --
	if [ -n "$disk" ] && [ ! -f "$rootfs" ]; then
		ko "$name" "'# disk: $disk' but no rootfs image (-d '$rootfs')"
		continue
	fi
	case $disk in
	'') ;;
	virtio) set -- "$@" -drive "file=$rootfs,if=virtio,format=raw,snapshot=on" ;;
	nvme) set -- "$@" -drive "file=$rootfs,if=none,id=root,format=raw,snapshot=on" \
		-device nvme,drive=root,serial=taskinit ;;
	*) ko "$name" "unknown '# disk: $disk' (virtio or nvme)"; continue ;;
	esac
	# "# qemu: ARGS" lines append QEMU arguments, split on blanks (a NIC
	# on an isolated network, say).
	set -- "$@" $(sed -n 's/^# qemu: *//p' "$script")
	t0=$(date +%s.%N)
	timeout -k 5 "$tmo" qemu-system-x86_64 -machine q35 -accel $accel -m 512 \
		-nographic -no-reboot -nic none \
		-kernel "$kernel" "$@" \
		-append "console=ttyS0 panic=-1 quiet task.log_level=info $extra -- /bin/sh /tests/$name.sh" \
		</dev/null >"$log.raw" 2>&1
	rc=$?
	t1=$(date +%s.%N)
	tr -d '\r' <"$log.raw" >"$log" && rm -f "$log.raw"
	secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
	echo "guest: $name ($accel, ${secs}s, console: $log)"

	sed -n 's/^GUEST-\(PASS\|FAIL\) /  \1 /p' "$log"
	npass=$((npass + $(grep -c '^GUEST-PASS ' "$log")))
	nfail=$((nfail + $(grep -c '^GUEST-FAIL ' "$log")))

	if ! grep -q '^GUEST-\(PASS\|FAIL\) ' "$log"; then
		if grep -q 'task 1 (main) started' "$log"; then
			why="the test script started but printed no GUEST- line"
		else
			why="BOOT-FAIL: the boot never reached the test script"
		fi
		ko "$name" "$why (qemu rc $rc); console tail:"
		tail -n 15 "$log" | sed 's/^/    | /'
	fi
	ex=$(sed -n 's/.*TASKINIT_EXIT {.*"status":\([0-9-]*\).*/\1/p' "$log" | tail -n 1)
	if [ -z "$ex" ]; then
		ko "$name.exit" "no TASKINIT_EXIT line on the console"
	elif [ "$ex" = "$want" ]; then
		ok "$name.exit"
	else
		ko "$name.exit" "TASKINIT_EXIT status $ex, expected $want: $(grep 'TASKINIT_EXIT' "$log" | tail -n 1)"
	fi
	i=0
	sed -n 's/^# console: *//p' "$script" >"$log.want"
	while IFS= read -r pat; do
		i=$((i + 1))
		if grep -Eq -- "$pat" "$log"; then
			ok "$name.console$i"
		else
			ko "$name.console$i" "no console line matches '$pat'"
		fi
	done <"$log.want"
	rm -f "$log.want"
	# panic=-1 with -no-reboot also ends QEMU with status 0: a clean
	# poweroff is status 0 with the kernel's "reboot: Power down" and no panic.
	panic=$(grep -m 1 'Kernel panic' "$log")
	case $rc in
	124|137) ko "$name.poweroff" "QEMU still running after ${tmo}s: killed" ;;
	0) if [ -n "$panic" ]; then
		ko "$name.poweroff" "$panic"
	   elif grep -q 'reboot: Power down' "$log"; then
		ok "$name.poweroff"
	   else
		ko "$name.poweroff" "QEMU ended without the kernel's 'reboot: Power down'"
	   fi ;;
	*) ko "$name.poweroff" "QEMU exited with status $rc" ;;
	esac
done

echo "guest: $npass passed, $nfail failed"
[ "$nfail" -eq 0 ] && [ "$npass" -gt 0 ]
