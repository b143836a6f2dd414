#!/bin/sh
# cmdline: task.debug task.allow_cid=1
# The debug shell over real AF_VSOCK (CID 1, vsock loopback), driven the way
# a person does it: ncat and socat with no terminal setup. docs/debug-shell.md.
. /tests/lib.sh

command -v ncat >/dev/null || { fail debug_shell.ncat "ncat is not in the image"; exit 0; }

procs() { # the command lines of every process
	for p in /proc/[0-9]*; do tr '\0' ' ' 2>/dev/null <"$p/cmdline"; echo; done
}
# PATTERN must not match its own grep's command line: write 'sleep 100[5]'.
gone_within() { # SECONDS PATTERN: true once no process matches
	i=0
	while [ $i -lt $(($1 * 10)) ]; do
		procs | grep -q "$2" || return 0
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}

# Line mode: a typed command's output comes back, nothing is echoed twice,
# the shell has a pty, and `exit` closes the connection (ncat ends by itself).
# Without echo, output follows the prompt on its line: "# /dev/pts/0".
printf 'echo hello-$((6*7))\ntty\nexit\n' |
	timeout 20 ncat --no-shutdown --vsock 1 1025 >/tmp/o 2>&1
rc=$?
check debug_shell.command "output: $(cat /tmp/o)" grep -q 'hello-42' /tmp/o
check debug_shell.no_echo "the typed line came back: $(cat /tmp/o)" sh -c '! grep -q "echo hello" /tmp/o'
check debug_shell.pty "tty said: $(cat /tmp/o)" grep -q '/dev/pts/[0-9]' /tmp/o
check debug_shell.exit_closes "ncat status $rc (124: still connected after exit)" test $rc -eq 0

# Ctrl-D (a raw client sends the byte) ends the session.
printf 'echo before-eof\n\004' | timeout 20 ncat --no-shutdown --vsock 1 1025 >/tmp/o 2>&1
rc=$?
check debug_shell.ctrl_d "status $rc, output: $(cat /tmp/o)" sh -c "[ $rc -eq 0 ] && grep -q before-eof /tmp/o"

# socat, kept open past its input (plain socat half-closes: a hang-up).
printf 'echo via-socat-$((1+2))\nexit\n' |
	timeout 20 socat -,ignoreeof VSOCK-CONNECT:1:1025 >/tmp/o 2>&1
rc=$?
check debug_shell.socat "status $rc, output: $(cat /tmp/o)" sh -c "[ $rc -eq 0 ] && grep -q via-socat-3 /tmp/o"

# A terminal request: echo on, the size and TERM asked for.
printf '\000tty 100 30 xterm\nstty size; echo TERM=$TERM\nexit\n' |
	timeout 20 ncat --no-shutdown --vsock 1 1025 >/tmp/o 2>&1
check debug_shell.terminal "output: $(cat /tmp/o)" sh -c 'grep -q "30 100" /tmp/o && grep -q "TERM=xterm" /tmp/o'

# Half-close (ncat at the end of its input) is the person leaving: the
# session is hung up even with a command running in the foreground.
(printf 'sleep 1005\n'; sleep 1) | timeout 20 ncat --vsock 1 1025 >/tmp/o 2>&1
rc=$?
check debug_shell.half_close_ends "ncat status $rc" test $rc -eq 0
check debug_shell.half_close_hangup "sleep 1005 survived" gone_within 5 'sleep 100[5]'

# A client that vanishes: a background job and a job that ignores SIGHUP
# are both gone after the grace (SIGHUP, then SIGKILL 1 s later).
(printf 'sleep 1006 &\nsh -c "trap \\"\\" HUP; exec sleep 1007"\n'; sleep 3) |
	timeout 2 ncat --no-shutdown --vsock 1 1025 >/tmp/o 2>&1 &
# Up to 2 s for both jobs to start (a loaded host makes the emulated guest slow).
for _ in 1 2 3 4 5 6 7 8 9 10; do
	sleep 0.2
	seen=$(procs | grep -c 'sleep 100[67]')
	[ "$seen" -eq 2 ] && break
done
check debug_shell.jobs_ran "expected 2 session jobs, saw $seen: $(cat /tmp/o)" test "$seen" -eq 2
wait
check debug_shell.nothing_left "a session job outlived the grace" gone_within 5 'sleep 100[67]'
zombies=$(grep -l '^State:.*Z' /proc/[0-9]*/status 2>/dev/null)
check debug_shell.no_zombies "zombies: $zombies" test -z "$zombies"

# The control port still answers.
/tests/helpers/ctl vsock:1:1024 ping >/tmp/r 2>&1
check debug_shell.control_alive "reply: $(cat /tmp/r)" grep -q '"pong":true' /tmp/r
exit 0
