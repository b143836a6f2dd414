#!/bin/sh
# cmdline: task.allow_cid=1 task.max_conns=3
# A vsock peer that closes for good is noticed, although a vsock (unlike a
# Unix socket, which the host tier uses) never reports a hangup: attach
# peers that sent more input than a task that never reads will take, then
# went away, give their connection slots back. socat half-closes at the end
# of its input and closes 0.5 s later; the agent looks every second.
. /tests/lib.sh
/tests/helpers/ctl vsock:1:1024 'run --name deaf --stdin pipe -- /bin/sleep 1000' >/tmp/r 2>&1
check vsock_hangup.run "reply: $(cat /tmp/r)" grep -q '"ok":true' /tmp/r
for i in 1 2 3 4 5 6; do
	(printf 'attach deaf\n'; head -c 200000 /dev/zero) |
		timeout 10 socat -u - VSOCK-CONNECT:1:1024 >/dev/null 2>&1
done
served=no
for i in 1 2 3 4 5 6 7 8 9 10; do
	/tests/helpers/ctl vsock:1:1024 ping >/tmp/r 2>&1
	if grep -q '"pong":true' /tmp/r; then
		served=yes
		break
	fi
	sleep 0.5
done
check vsock_hangup.slots_back "a new client was refused: $(cat /tmp/r)" test $served = yes
/tests/helpers/ctl vsock:1:1024 'ps deaf' >/tmp/r 2>&1
check vsock_hangup.task_runs "ps: $(cat /tmp/r)" grep -q '"state":"running"' /tmp/r
exit $((T_FAILED != 0))
