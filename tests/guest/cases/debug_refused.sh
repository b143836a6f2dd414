#!/bin/sh
# cmdline: task.debug
# The debug port checks peer CIDs exactly as the control port does: only
# the host (CID 2) by default, so a client in the guest (CID 1) gets one
# line and no shell.
. /tests/lib.sh
command -v ncat >/dev/null || { fail debug_refused.ncat "ncat is not in the image"; exit 0; }
printf 'echo should-not-run-$((1+1))\n' | timeout 10 ncat --no-shutdown --vsock 1 1025 >/tmp/o 2>&1
check debug_refused.message "output: $(cat /tmp/o)" grep -q 'taskinit: peer vsock:1:[0-9]* is not allowed' /tmp/o
check debug_refused.no_shell "it ran: $(cat /tmp/o)" sh -c '! grep -q should-not-run-2 /tmp/o'
exit 0
