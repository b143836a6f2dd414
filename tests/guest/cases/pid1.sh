#!/bin/sh
# taskinit is the real PID 1 of the initial PID namespace, with its mounts,
# and cgroup v2 offers what the cgroup tests need.
. /tests/lib.sh

# The kernel runs /init, a symlink to /sbin/taskinit: comm is the name it
# was run by ("init"), exe is the binary.
comm=$(cat /proc/1/comm 2>/dev/null)
case $comm in
init|taskinit) pass pid1.comm ;;
*) fail pid1.comm "/proc/1/comm is '$comm'" ;;
esac
exe=$(readlink /proc/1/exe)
[ "$exe" = /sbin/taskinit ] && pass pid1.exe || fail pid1.exe "/proc/1/exe is '$exe'"

# The initial PID namespace has inode 0xEFFFFFFC (PROC_PID_INIT_INO).
ns=$(readlink /proc/self/ns/pid)
[ "$ns" = "pid:[4026531836]" ] && pass pid1.initial_pidns || \
	fail pid1.initial_pidns "pid namespace is $ns, not the initial pid:[4026531836]"

mounted() { # MOUNTPOINT FSTYPE
	awk -v m="$1" -v t="$2" '$2 == m && $3 == t { f = 1 } END { exit !f }' /proc/mounts
}
for mt in /proc:proc /sys:sysfs /dev:devtmpfs /dev/pts:devpts /run:tmpfs /sys/fs/cgroup:cgroup2; do
	m=${mt%%:*} t=${mt#*:}
	if mounted "$m" "$t"; then
		pass "pid1.mount$m"
	else
		fail "pid1.mount$m" "no $t on $m: $(awk -v m="$m" '$2 == m' /proc/mounts | head -n 1)"
	fi
done

ctrl=$(cat /sys/fs/cgroup/cgroup.controllers 2>/dev/null)
for c in memory pids cpu; do
	case " $ctrl " in
	*" $c "*) pass "pid1.cgroup2.$c" ;;
	*) fail "pid1.cgroup2.$c" "not in /sys/fs/cgroup/cgroup.controllers: '$ctrl'" ;;
	esac
done

exit $((T_FAILED != 0))
