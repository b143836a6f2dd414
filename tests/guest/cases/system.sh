#!/bin/sh
# cmdline: task.allow_cid=1
# console: taskinit info: modules: loaded vsock$
# console: taskinit info: modules: loaded vmw_vsock_virtio_transport_common$
# console: taskinit info: modules: loaded vsock_loopback$
# What taskinit sets up as the real PID 1: the mounts with their flags,
# the kernel modules it loaded, reaping of orphans, and the boot timeline
# the `boot` verb serves.
. /tests/lib.sh

# Mounts: each with the flags that keep devices, setuid and binaries where
# they belong (docs/init.md).
has_opts() { # MOUNTPOINT FSTYPE OPT...: mounted with every OPT
	m=$1 t=$2
	shift 2
	line=$(awk -v m="$m" -v t="$t" '$2 == m && $3 == t { print $4 }' /proc/mounts | head -n 1)
	[ -n "$line" ] || { echo "no $t on $m"; return 1; }
	for o in "$@"; do
		case ",$line," in
		*",$o,"*) ;;
		*) echo "$m has '$line', not $o"; return 1 ;;
		esac
	done
}
for spec in "/proc proc nosuid nodev noexec" "/sys sysfs nosuid nodev noexec" \
	"/dev devtmpfs nosuid noexec" "/dev/pts devpts nosuid noexec" \
	"/dev/shm tmpfs nosuid nodev" "/run tmpfs nosuid nodev" \
	"/sys/fs/cgroup cgroup2 nosuid nodev noexec"; do
	# shellcheck disable=SC2086
	why=$(has_opts $spec) && pass "system.mount_flags${spec%% *}" ||
		fail "system.mount_flags${spec%% *}" "$why"
done
# /dev must keep device nodes working (no nodev), and noexec must bite.
check system.dev_nodes_work "/dev/null unusable" sh -c 'echo x >/dev/null && [ -c /dev/null ]'
cp /bin/busybox /dev/bb 2>/dev/null
check system.dev_noexec "a binary in /dev ran" sh -c '! /dev/bb true'
rm -f /dev/bb

# Modules: the vsock stack taskinit loaded (the log lines are the console
# checks above).
for m in vsock vmw_vsock_virtio_transport_common vmw_vsock_virtio_transport vsock_loopback virtio_pci; do
	check "system.module.$m" "not in /proc/modules" grep -q "^$m " /proc/modules
done

# Reaping: a grandchild orphaned when its parent exits is re-parented to
# PID 1 and reaped when it ends: its /proc entry goes away, no zombie.
sh -c 'sleep 1 & echo $! >/tmp/orphan'
pid=$(cat /tmp/orphan)
ppid=$(awk '{ print $4 }' "/proc/$pid/stat" 2>/dev/null)
[ "$ppid" = 1 ] && pass system.orphan_reparented || fail system.orphan_reparented "ppid '$ppid'"
i=0
while [ -e "/proc/$pid" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
check system.orphan_reaped "/proc/$pid still there: $(cat "/proc/$pid/stat" 2>/dev/null)" test ! -e "/proc/$pid"
zombies=$(cat /proc/[0-9]*/stat 2>/dev/null | awk '$3 == "Z"' | wc -l)
check system.no_zombies "$zombies zombies" test "$zombies" -eq 0

# The boot timeline: the phases in order, CLOCK_BOOTTIME stamps that never
# go back, all after taskinit's exec.
echo boot | ncat --vsock 1 1024 >/tmp/b 2>&1
check system.boot_verb "reply: $(head -c 300 /tmp/b)" grep -q '"ok":true' /tmp/b
tr '{' '\n' </tmp/b | sed -n 's/.*"t_ns":\([0-9]*\),"what":"\([^"]*\)".*/\1 \2/p' >/tmp/events
exec_ns=$(sed -n 's/.*"exec_ns":\([0-9]*\).*/\1/p' /tmp/b)
last=0 order=""
while read -r t what; do
	[ "$t" -ge "$last" ] || fail system.boot_monotonic "'$what' at $t before $last"
	last=$t
	order="$order|$what"
done </tmp/events
[ "$last" -gt 0 ] && pass system.boot_events || fail system.boot_events "no events: $(head -c 300 /tmp/b)"
first=$(head -n 1 /tmp/events | cut -d' ' -f1)
[ -n "$exec_ns" ] && [ "${first:-0}" -ge "$exec_ns" ] && pass system.boot_after_exec ||
	fail system.boot_after_exec "exec_ns '$exec_ns', first event '$first'"
want="exec|mounted /proc|mounts done|modules loaded|control listener ready|main task started|boot done"
rest=$order in_order=yes
for phase in exec "mounted /proc" "mounts done" "modules loaded" "control listener ready" \
	"main task started" "boot done"; do
	case $rest in
	*"|$phase"*) rest=${rest#*"|$phase"} ;;
	*) in_order="no: '$phase' missing or out of order"; break ;;
	esac
done
[ "$in_order" = yes ] && pass system.boot_phases ||
	fail system.boot_phases "$in_order (want $want; got $order)"
exit $((T_FAILED != 0))
