/* Unit tests for the debug shell's terminal request (vsock/debug.h). */
#include "vsock/debug.h"

#include <stdbool.h>

#include "tests/unit/check.h"

static enum preamble_result parse(const char *s, size_t n, struct term_request *r, size_t *used)
{
	return debug_preamble_parse(s, n, r, used);
}

#define P(lit, r, used) parse(lit, sizeof(lit) - 1, r, used)

static void test_no_request(void)
{
	struct term_request r;
	size_t used = 99;

	CHECK_EQ_INT(parse("", 0, &r, &used), PREAMBLE_NONE);
	CHECK_EQ_INT(used, 0);
	CHECK_EQ_INT(P("echo hi\n", &r, &used), PREAMBLE_NONE);
	CHECK_EQ_INT(used, 0);
	CHECK_EQ_INT(P("tty 80 24\n", &r, &used), PREAMBLE_NONE); /* no leading NUL */
}

static void test_full_request(void)
{
	struct term_request r;
	size_t used;

	CHECK_EQ_INT(P("\0tty 120 40 xterm-256color\nls\n", &r, &used), PREAMBLE_TERMINAL);
	CHECK_EQ_INT(used, 27);
	CHECK_EQ_INT(r.cols, 120);
	CHECK_EQ_INT(r.rows, 40);
	CHECK_EQ_STR(r.term, "xterm-256color");
}

static void test_defaults(void)
{
	struct term_request r;
	size_t used;

	CHECK_EQ_INT(P("\0tty 0 0\r\n", &r, &used), PREAMBLE_TERMINAL);
	CHECK_EQ_INT(r.cols, DEBUG_DEFAULT_COLS);
	CHECK_EQ_INT(r.rows, DEBUG_DEFAULT_ROWS);
	CHECK_EQ_STR(r.term, DEBUG_DEFAULT_TERM);
	CHECK_EQ_INT(P("\0tty 9999 1 vt100\n", &r, &used), PREAMBLE_TERMINAL);
	CHECK_EQ_INT(r.cols, 9999);
	CHECK_EQ_INT(r.rows, 1);
}

static void test_incomplete(void)
{
	struct term_request r;
	size_t used;
	char big[DEBUG_PREAMBLE_MAX + 8];

	CHECK_EQ_INT(P("\0tty 80", &r, &used), PREAMBLE_MORE);
	CHECK_EQ_INT(used, 0);
	memset(big, 'x', sizeof(big));
	big[0] = 0;
	CHECK_EQ_INT(parse(big, sizeof(big), &r, &used), PREAMBLE_BAD);
	CHECK_EQ_INT(used, DEBUG_PREAMBLE_MAX);
}

static void test_malformed(void)
{
	static const struct {
		const char *s;
		size_t n;
	} bad[] = {
#define B(lit) {lit, sizeof(lit) - 1}
	    B("\0\n"),
	    B("\0tty\n"),
	    B("\0tty 80\n"),
	    B("\0pty 80 24\n"),
	    B("\0tty 80 24 xterm extra\n"),
	    B("\0tty 10000 24\n"),
	    B("\0tty -1 24\n"),
	    B("\0tty 80  24\n"),
	    B("\0tty 80 24 x;rm\n"),
	    B("\0tty 80 24 \n"),
	    B("\0tty 80 24 aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n"),
	    B("\0tty 8\0 24\n"),
#undef B
	};
	struct term_request r;
	size_t used;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK_EQ_INT(parse(bad[i].s, bad[i].n, &r, &used), PREAMBLE_BAD);
		CHECK_EQ_INT(used, bad[i].n); /* dropped through its newline */
	}
}

int main(void)
{
	RUN(test_no_request);
	RUN(test_full_request);
	RUN(test_defaults);
	RUN(test_incomplete);
	RUN(test_malformed);
	return check_summary();
}
