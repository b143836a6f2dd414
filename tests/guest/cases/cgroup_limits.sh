#!/bin/sh
# cmdline: task.control_unix=/run/ctl.sock
# cgroup v2 limits on a real kernel (the host tier's cgroup controllers are
# bound to cgroup v1): a fork bomb is held by pids.max, a task over
# memory.max is OOM-killed and its exit record says so.
. /tests/lib.sh
ctl() { /tests/helpers/ctl /run/ctl.sock "$1"; }

i=0
while [ ! -S /run/ctl.sock ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done

# A fork bomb: forks until pids.max refuses; the refusals end it.
ctl 'run --name bomb --pids-max 20 -- /bin/sh -c "b() { b & b & wait; }; b"' >/tmp/r
check cgroup.bomb_started "run failed: $(cat /tmp/r)" grep -q '"ok":true' /tmp/r
check cgroup.pids_max_file "pids.max is not 20" grep -qx 20 /sys/fs/cgroup/taskinit/task-2/pids.max
ctl 'stats bomb' >/tmp/s
pids=$(sed -n 's/.*"pids_current":\([0-9]*\).*/\1/p' /tmp/s)
check cgroup.pids_max_holds "pids_current=$pids: $(cat /tmp/s)" [ "${pids:-0}" -le 20 ]
ctl 'wait bomb' >/tmp/w
check cgroup.bomb_ended "bomb did not end: $(cat /tmp/w)" grep -q '"state":"exited"' /tmp/w
ctl 'logs bomb --stream stderr' >/tmp/l
check cgroup.forks_refused "no refused fork in: $(head -c 300 /tmp/l)" grep -qi 'fork' /tmp/l
check cgroup.still_serving "no pong" sh -c "/tests/helpers/ctl /run/ctl.sock ping | grep -q pong"

# Memory: a task that keeps allocating is OOM-killed inside its group.
ctl 'run --name hog --memory-max 16M -- /bin/sh -c "x=a; while :; do x=$x$x$x$x; done"' >/tmp/r
check cgroup.hog_started "run failed: $(cat /tmp/r)" grep -q '"ok":true' /tmp/r
ctl 'wait hog' >/tmp/w
check cgroup.oom_killed "exit record: $(cat /tmp/w)" grep -q '"oom_killed":true' /tmp/w
check cgroup.oom_signal "exit record: $(cat /tmp/w)" grep -q '"signal":9' /tmp/w

# A limit that cannot be applied is a clear error, never a silent run.
ctl 'run --cpu-max 500/100000 /bin/true' >/tmp/r
check cgroup.bad_cpu_max "$(cat /tmp/r)" grep -q '"error":"bad_argument"' /tmp/r
exit 0
