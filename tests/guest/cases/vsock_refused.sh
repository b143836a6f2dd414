#!/bin/sh
# Secure by default: only the host (CID 2) may use the control port, so a
# client inside the guest (CID 1, vsock loopback) gets one "forbidden" line.
. /tests/lib.sh
# The client sends its request at once: the refused socket lingers, so the
# request is dropped and the error line still arrives.
/tests/helpers/ctl vsock:1:1024 ping >/tmp/r 2>&1
check vsock_refused.forbidden "reply: $(cat /tmp/r)" grep -q '"error":"forbidden"' /tmp/r
check vsock_refused.no_pong "it answered: $(cat /tmp/r)" sh -c '! grep -q pong /tmp/r'
exit 0
