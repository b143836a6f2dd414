#!/bin/sh
# cmdline: task.allow_cid=1,2
# Real AF_VSOCK: taskinit loaded the transports itself, and a client inside
# the guest reaches the control port over vsock loopback (CID 1), allowed
# here by task.allow_cid. The refusal of other CIDs is in vsock_refused.
. /tests/lib.sh
check vsock.modules "vsock_loopback not loaded" test -d /sys/module/vsock_loopback
check vsock.transport "virtio transport not loaded" test -d /sys/module/vmw_vsock_virtio_transport
/tests/helpers/ctl vsock:1:1024 ping >/tmp/r 2>&1
check vsock.ping "reply: $(cat /tmp/r)" grep -q '"pong":true' /tmp/r
/tests/helpers/ctl vsock:1:1024 'run --name v -- /bin/echo over-vsock' >/tmp/r 2>&1
/tests/helpers/ctl vsock:1:1024 'wait v' >/dev/null 2>&1
/tests/helpers/ctl vsock:1:1024 'logs v' >/tmp/l 2>&1
check vsock.logs "logs: $(cat /tmp/l)" grep -q '^over-vsock$' /tmp/l
exit 0
