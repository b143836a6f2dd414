/* libFuzzer target for the debug shell's terminal request parser
 * (vsock/debug_preamble.c), on arbitrary bytes as a client's first input:
 * - it reads only the len bytes it is given (ASan: an exact-size copy);
 * - NONE exactly when the input is empty or does not start with NUL, and
 *   then it takes nothing;
 * - MORE only while no newline came within DEBUG_PREAMBLE_MAX bytes and
 *   fewer than that arrived;
 * - TERMINAL and BAD take exactly through the first newline (BAD takes
 *   DEBUG_PREAMBLE_MAX bytes when there is none that early);
 * - a TERMINAL request has a size within 1..9999 and a TERM of letters,
 *   digits and ._+- only, and it is the same whatever follows the newline.
 * Every violation aborts. Runs with no corpus and no options. */
#include "vsock/debug.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tests/fuzz/require.h"

static void check_request(const struct term_request *r)
{
	REQUIRE(r->cols >= 1 && r->cols <= DEBUG_MAX_DIMENSION);
	REQUIRE(r->rows >= 1 && r->rows <= DEBUG_MAX_DIMENSION);
	REQUIRE(memchr(r->term, 0, sizeof(r->term)) != NULL);
	REQUIRE(r->term[0] != 0);
	for (const char *p = r->term; *p; p++)
		REQUIRE(isalnum((unsigned char)*p) || strchr("._+-", *p));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size ? size : 1);
	struct term_request req, again;
	size_t used = 12345, used2;

	memcpy(buf, data, size);
	enum preamble_result r = debug_preamble_parse(buf, size, &req, &used);
	const char *nl = size ? memchr(buf, '\n', size) : NULL;
	size_t window = size < DEBUG_PREAMBLE_MAX ? size : DEBUG_PREAMBLE_MAX;
	bool early_nl = nl && (size_t)(nl - buf) < window;

	if (size == 0 || buf[0] != 0) {
		REQUIRE(r == PREAMBLE_NONE && used == 0);
	} else if (!early_nl) {
		REQUIRE(r == (size < DEBUG_PREAMBLE_MAX ? PREAMBLE_MORE : PREAMBLE_BAD));
		REQUIRE(used == (r == PREAMBLE_MORE ? 0 : DEBUG_PREAMBLE_MAX));
	} else {
		REQUIRE(r == PREAMBLE_TERMINAL || r == PREAMBLE_BAD);
		REQUIRE(used == (size_t)(nl - buf) + 1);
	}
	if (r == PREAMBLE_TERMINAL) {
		check_request(&req);
		/* Only the request's own bytes decide it. */
		REQUIRE(debug_preamble_parse(buf, used, &again, &used2) == PREAMBLE_TERMINAL);
		REQUIRE(used2 == used && memcmp(&req, &again, sizeof(req)) == 0);
	}
	free(buf);
	return 0;
}
