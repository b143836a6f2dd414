#!/bin/sh
# The test command behind `make test`: unit tests, a bounded fuzz run of
# every fuzzer, then the host integration tier. Each tier prints its own
# "N passed, M failed" line; the last line here is the sum.
#   FUZZ_SMOKE_SECONDS  seconds per fuzzer (default 10)
#   HOST_TESTS          a substring to pick host tests by name (default all;
#                       set, it also skips the valgrind and guest tiers)
#   SKIP_GUEST=1        skip the QEMU guest tier
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
passed=0
failed=0
log=$BUILD/test-logs
mkdir -p "$log"

count() { # file: adds the "N passed, M failed" of its last summary line
	line=$(grep -E '[0-9]+ passed, [0-9]+ failed' "$1" | tail -n 1)
	p=$(echo "$line" | grep -oE '[0-9]+ passed' | grep -oE '[0-9]+')
	f=$(echo "$line" | grep -oE '[0-9]+ failed' | grep -oE '[0-9]+')
	if [ -z "$line" ]; then
		echo "  (no summary line: counted as 1 failure)"
		p=0
		f=1
	fi
	passed=$((passed + p))
	failed=$((failed + f))
}

echo "== layout (clang-format, .clang-format)"
if clang-format --dry-run -Werror $(git ls-files '*.c' '*.h' 2>/dev/null || ls */*.c */*.h) \
	>"$log/format.log" 2>&1; then
	echo "  PASS clang-format"
	passed=$((passed + 1))
else
	echo "  FAIL clang-format: run make format"
	grep -- "-Wclang-format" "$log/format.log" | head -n 10
	failed=$((failed + 1))
fi

echo "== unit tests"
for t in "$BUILD"/unit/test_*; do
	[ -x "$t" ] || continue
	name=$(basename "$t")
	"$t" >"$log/$name.log" 2>&1
	rc=$?
	grep -E '^(FAIL|  )' "$log/$name.log"
	tail -n 1 "$log/$name.log" | sed "s/^/  $name: /"
	count "$log/$name.log"
	if [ $rc -ne 0 ] && ! grep -q '^FAIL' "$log/$name.log"; then
		echo "  $name exited $rc (sanitizer report?): see $log/$name.log"
		tail -n 20 "$log/$name.log"
		failed=$((failed + 1))
	fi
done

echo "== fuzz smoke (${FUZZ_SMOKE_SECONDS:-10}s each)"
for f in "$BUILD"/fuzz/fuzz_*; do
	[ -x "$f" ] || continue
	name=$(basename "$f")
	mkdir -p "$BUILD/corpus/$name"
	if "$f" -max_total_time="${FUZZ_SMOKE_SECONDS:-10}" "$BUILD/corpus/$name" \
		>"$log/$name.log" 2>&1; then
		echo "  PASS $name ($(grep -o 'Done [0-9]* runs' "$log/$name.log"))"
		passed=$((passed + 1))
	else
		echo "  FAIL $name: see $log/$name.log"
		tail -n 30 "$log/$name.log"
		failed=$((failed + 1))
	fi
done

echo "== kernel config check (kernel-config/check)"
tests/kernel-config/test_check.sh 2>&1 | tee "$log/kernel-config.log"
count "$log/kernel-config.log"

echo "== host integration (taskinit as PID 1 in unshare)"
python3 tests/host/run_host.py ${HOST_TESTS:+-k "$HOST_TESTS"} 2>&1 | tee "$log/host.log"
count "$log/host.log"

# The same agent code, unsanitized, under valgrind memcheck: a subset that
# covers boot, reaping, shutdown and every control-input path.
VG_TESTS=attach,boottask,exit_codes,orphan,sigterm_ignoring,boot_mounts,protocol_basic,pipelined,junk,ten_mib_line,thousand_connections,vanish,idle,peer_not_allowed,run_wait,raw_logs,exec_failures,overflow,background,names_unique,debug_line_mode,debug_disconnect,debug_shutdown,files_every_byte,files_mode_and_owner,files_write_errors,files_unskippable,files_disconnect,files_read_errors,files_stat,files_mkdir,sys_clock_read,sys_setclock_refuses,sys_entropy
if [ -z "${HOST_TESTS:-}" ] && command -v valgrind >/dev/null; then
	echo "== host integration under valgrind (subset)"
	TASKINIT_VALGRIND=1 python3 tests/host/run_host.py -k "$VG_TESTS" 2>&1 | tee "$log/host-valgrind.log"
	count "$log/host-valgrind.log"
fi

# The guest tier: a real kernel in QEMU with taskinit as the real PID 1.
if [ -z "${HOST_TESTS:-}" ] && [ "${SKIP_GUEST:-0}" != 1 ]; then
	echo "== guest (QEMU, taskinit as the real PID 1)"
	make --no-print-directory BUILD="$BUILD" guest-test 2>&1 | tee "$log/guest.log"
	count "$log/guest.log"
	echo "== make run (the guest with a console shell, driven without a terminal)"
	BUILD=$BUILD tests/guest/make_run_test.py 2>&1 | tee "$log/make-run.log"
	count "$log/make-run.log"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
