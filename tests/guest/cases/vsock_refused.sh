#!/bin/sh
# Secure by default: only the host (CID 2) may use the control port, so a
# client inside the guest (CID 1, vsock loopback) gets one "forbidden" line.
. /tests/lib.sh
# The client only reads: a request sent before the refusal arrives may meet
# a reset instead of the line (see docs/protocol.md).
/tests/helpers/ctl vsock:1:1024 - >/tmp/r 2>&1
check vsock_refused.forbidden "reply: $(cat /tmp/r)" grep -q '"error":"forbidden"' /tmp/r
check vsock_refused.no_pong "it answered: $(cat /tmp/r)" sh -c '! grep -q pong /tmp/r'
exit 0
