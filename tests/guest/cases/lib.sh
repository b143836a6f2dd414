# Sourced by guest tests (/tests/lib.sh): result lines the host runner reads.
# pass NAME / fail NAME WHY / check NAME WHY COMMAND... (pass if it succeeds)
T_FAILED=0
pass() { echo "GUEST-PASS $1"; }
fail() { echo "GUEST-FAIL $1: $2"; T_FAILED=$((T_FAILED + 1)); }
check() {
	_n=$1 _why=$2
	shift 2
	if "$@" >/dev/null 2>&1; then pass "$_n"; else fail "$_n" "$_why"; fi
}
