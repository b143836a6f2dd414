#!/bin/sh
# `make run-ns`: taskinit boots as PID 1 of a fresh PID + mount + UTS
# namespace with a demo main task; its log streams here. Needs root.
set -eu
bin=$(realpath "${1:-build/taskinit}")
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d /tmp/taskinit-run.XXXXXX)
mkdir -p "$work/root" "$work/io"
cp "$bin" "$work/io/taskinit"
trap 'rm -rf "$work"' EXIT
echo "== taskinit as PID 1 of a new namespace; control socket: $work/io/control.sock"
unshare --pid --fork --mount --uts --propagation private \
	"$here/nsroot.sh" "$work/root" "$work/io" "$work/io" "$here" -- \
	/io/taskinit task.hostname=demo task.control_unix=/io/control.sock task.grace=2 -- \
	/bin/sh -c 'echo "demo task: hello from pid $$ on $(hostname)"; echo "mounts:"; \
		awk "{print \"  \" \$5, \$9}" /proc/self/mountinfo; sleep 1; \
		echo "demo task: exiting with 0"'
