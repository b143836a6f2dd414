#!/bin/sh
# cmdline: task.allow_cid=1
# Without task.debug nothing listens on the debug port (1025), while the
# control port (same allowed CID) answers.
. /tests/lib.sh
command -v ncat >/dev/null || { fail debug_off.ncat "ncat is not in the image"; exit 0; }
printf 'echo should-not-run\n' | timeout 10 ncat --vsock 1 1025 >/tmp/o 2>&1
rc=$?
check debug_off.refused "ncat status $rc: $(cat /tmp/o)" sh -c "[ $rc -ne 0 ] && [ $rc -ne 124 ] && ! grep -q should-not-run /tmp/o"
check debug_off.why "ncat said: $(cat /tmp/o)" grep -qi 'refused\|reset' /tmp/o
/tests/helpers/ctl vsock:1:1024 ping >/tmp/r 2>&1
check debug_off.control "reply: $(cat /tmp/r)" grep -q '"pong":true' /tmp/r
exit 0
