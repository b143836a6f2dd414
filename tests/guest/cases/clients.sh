#!/bin/sh
# cmdline: task.allow_cid=1
# Real clients nobody here wrote, over real AF_VSOCK (loopback, CID 1,
# allowed by task.allow_cid): ncat and socat drive the control protocol
# one-shot (they half-close after the request), taskctl runs a command the
# way a host would, and a task's output is there after it exited, from
# connections that never saw it run.
. /tests/lib.sh

# ncat: four requests pipelined on one connection, answered in order
# after the half-close.
printf '%s\n' ping version \
	'run --name hello -- /bin/sh -c "echo out; echo err >&2; exit 3"' 'wait hello' |
	ncat --vsock 1 1024 >/tmp/n 2>/tmp/n.err
check clients.ncat_ping "replies: $(cat /tmp/n) $(cat /tmp/n.err)" sh -c 'sed -n 1p /tmp/n | grep -q "\"pong\":true"'
check clients.ncat_version "replies: $(cat /tmp/n)" sh -c 'sed -n 2p /tmp/n | grep -q "\"mode\":\"vm\""'
check clients.ncat_run "replies: $(cat /tmp/n)" sh -c 'sed -n 3p /tmp/n | grep -q "\"name\":\"hello\""'
check clients.ncat_wait "replies: $(cat /tmp/n)" sh -c 'sed -n 4p /tmp/n | grep -q "\"status\":3"'
check clients.ncat_quiet "ncat's stderr: $(cat /tmp/n.err)" test ! -s /tmp/n.err
check clients.ncat_four_replies "$(wc -l </tmp/n) lines: $(cat /tmp/n)" test "$(wc -l </tmp/n)" -eq 4

# socat, a new connection: the exited task and its whole output.
printf '%s\n' 'ps hello' 'logs hello' | socat - VSOCK-CONNECT:1:1024 >/tmp/s 2>&1
check clients.socat_ps "reply: $(head -n 1 /tmp/s)" sh -c 'head -n 1 /tmp/s | grep -q "\"state\":\"exited\""'
check clients.logs_after_exit_stdout "logs: $(cat /tmp/s)" grep -qx out /tmp/s
check clients.logs_after_exit_stderr "logs: $(cat /tmp/s)" grep -qx err /tmp/s
check clients.logs_end_line "logs: $(cat /tmp/s)" sh -c 'tail -n 1 /tmp/s | grep -q "\"end\":true.*\"status\":3"'
# One stream, from an offset: exactly the bytes after it.
echo 'logs hello --stream stdout --from 1' | socat - VSOCK-CONNECT:1:1024 >/tmp/o 2>&1
check clients.logs_from_offset "logs: $(cat /tmp/o)" sh -c '[ "$(head -n 1 /tmp/o)" = ut ]'
# A bad line gets an error line and the connection goes on.
printf 'pnig\nping\n' | socat - VSOCK-CONNECT:1:1024 >/tmp/e 2>&1
check clients.socat_error_then_serves "replies: $(cat /tmp/e)" sh -c \
	'sed -n 1p /tmp/e | grep -q "\"error\":\"unknown_verb\"" && sed -n 2p /tmp/e | grep -q pong'

# taskctl exec: output, stdin and the exit status come through.
out=$(taskctl -c vsock:1 exec -n -- /bin/sh -c 'echo from-exec; exit 7' 2>/tmp/te)
rc=$?
[ "$out" = from-exec ] && [ $rc -eq 7 ] && pass clients.taskctl_exec ||
	fail clients.taskctl_exec "output '$out', status $rc, stderr: $(cat /tmp/te)"
out=$(echo piped-in | taskctl -c vsock:1 exec -- /bin/cat 2>/tmp/te)
[ "$out" = piped-in ] && pass clients.taskctl_exec_stdin ||
	fail clients.taskctl_exec_stdin "output '$out', stderr: $(cat /tmp/te)"
taskctl -c vsock:1 ps >/tmp/p 2>&1
check clients.taskctl_ps "ps: $(cat /tmp/p)" grep -q hello /tmp/p
exit $((T_FAILED != 0))
