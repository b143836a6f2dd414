#!/bin/sh
# cmdline: task.allow_cid=1,2
# The snapshot-restore verbs on a real kernel (Debian's 6.1), over real
# AF_VSOCK: here the clock may really jump, since this machine is the
# guest's alone. Then entropy, and a file written and read over vsock.
. /tests/lib.sh
ctl() { /tests/helpers/ctl vsock:1:1024 "$1"; }

# Jump the realtime clock to a known date and read it back with date(1).
ctl 'setclock 2031-02-03T04:05:06Z' >/tmp/r 2>&1
check clock.set "reply: $(cat /tmp/r)" grep -q '"ok":true,"realtime_ns":19' /tmp/r
now=$(date -u +%Y-%m-%dT%H:%M)
check clock.date "date says $now" test "$now" = 2031-02-03T04:05
ctl clock >/tmp/r 2>&1
check clock.read "reply: $(cat /tmp/r)" grep -q '"realtime":"2031-02-03T04:0' /tmp/r
# Seconds with a fraction (date +%s.%N's form): 2030-01-01T00:00:00Z.
ctl 'setclock 1893456000.25' >/tmp/r 2>&1
check clock.set_seconds "reply: $(cat /tmp/r)" grep -q '"realtime":"2030-01-01T00:00:00' /tmp/r
check clock.date_seconds "date says $(date -u)" test "$(date -u +%Y-%m-%d)" = 2030-01-01
# Refused values leave the clock alone.
ctl 'setclock 1999-12-31T23:59:59Z' >/tmp/r 2>&1
check clock.refuse_past "reply: $(cat /tmp/r)" grep -q '"error":"out_of_range"' /tmp/r
ctl 'setclock 1893456000' >/tmp/r 2>&1
check clock.refuse_seconds_as_ns "reply: $(cat /tmp/r)" grep -q '"error":"out_of_range"' /tmp/r
ctl 'setclock yesterday' >/tmp/r 2>&1
check clock.refuse_garbage "reply: $(cat /tmp/r)" grep -q '"error":"bad_argument"' /tmp/r
check clock.untouched "date says $(date -u)" test "$(date -u +%Y-%m-%d)" = 2030-01-01

# Entropy: 48 random bytes as base64 (busybox has no od), credited 384 bits.
# On 6.1 entropy_avail is the input pool's count up to 256 and stays 256
# once the CRNG is ready, so after this credit it must be 256.
before=$(cat /proc/sys/kernel/random/entropy_avail)
echo "entropy_avail before the entropy verb: $before"
data=$(dd if=/dev/urandom bs=48 count=1 2>/dev/null | base64)
ctl "entropy --base64 $data" >/tmp/r 2>&1
check entropy.ok "reply: $(cat /tmp/r) (entropy_avail was $before)" \
	grep -q '"ok":true,"bytes":48,"credited_bits":384,"reseeded":true,"entropy_avail":256' /tmp/r
check entropy.avail "entropy_avail: $(cat /proc/sys/kernel/random/entropy_avail)" \
	test "$(cat /proc/sys/kernel/random/entropy_avail)" = 256
ctl 'entropy xyz' >/tmp/r 2>&1
check entropy.refuse "reply: $(cat /tmp/r)" grep -q '"error":"bad_argument"' /tmp/r

# A file over vsock: write (the data follows the request line), then read.
ctl "$(printf 'write /tmp/hello 12 --mode 0600\nhello guest\n')" >/tmp/r 2>&1
check files.write "reply: $(cat /tmp/r)" grep -q '"ok":true,"path":"/tmp/hello","size":12,"mode":"0600"' /tmp/r
check files.content "content: $(cat /tmp/hello)" test "$(cat /tmp/hello)" = "hello guest"
check files.mode "$(ls -l /tmp/hello)" sh -c 'ls -l /tmp/hello | grep -q "^-rw------- "'
ctl 'read /tests/lib.sh' >/tmp/r 2>&1
sed 1d /tmp/r >/tmp/body
check files.read "header: $(head -c 200 /tmp/r)" cmp /tmp/body /tests/lib.sh
exit 0
