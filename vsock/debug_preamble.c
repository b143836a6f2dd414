/* The debug shell's terminal request (vsock/debug.h). Pure. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "vsock/debug.h"

static int parse_dimension(const char *s, unsigned short def, unsigned short *out)
{
	unsigned long v = 0;

	if (!*s || strlen(s) > 4)
		return -1;
	for (const char *p = s; *p; p++) {
		if (!isdigit((unsigned char)*p))
			return -1;
		v = v * 10 + (unsigned long)(*p - '0');
	}
	*out = v ? (unsigned short)v : def;
	return 0;
}

static int term_name_ok(const char *s)
{
	if (!*s || strlen(s) >= DEBUG_TERM_MAX)
		return 0;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr("._+-", *s))
			return 0;
	return 1;
}

/* Splits "tty COLS ROWS [TERM]" on single spaces into at most 4 words. */
static int split_words(char *line, char **w)
{
	int n = 0;

	for (char *p = line; n < 5;) {
		w[n++] = p;
		p = strchr(p, ' ');
		if (!p)
			return n;
		*p++ = 0;
	}
	return -1;
}

enum preamble_result debug_preamble_parse(const char *buf, size_t len, struct term_request *req,
					  size_t *used)
{
	char line[DEBUG_PREAMBLE_MAX];
	char *w[5];
	const char *nl;

	*used = 0;
	if (len == 0 || buf[0] != 0)
		return PREAMBLE_NONE;
	nl = memchr(buf, '\n', len < DEBUG_PREAMBLE_MAX ? len : DEBUG_PREAMBLE_MAX);
	if (!nl) {
		if (len < DEBUG_PREAMBLE_MAX)
			return PREAMBLE_MORE;
		*used = DEBUG_PREAMBLE_MAX;
		return PREAMBLE_BAD;
	}
	*used = (size_t)(nl - buf) + 1;
	/* Without the leading NUL and the newline (and a '\r' before it). */
	size_t n = *used - 2;
	memcpy(line, buf + 1, n);
	if (n && line[n - 1] == '\r')
		n--;
	line[n] = 0;
	if (memchr(line, 0, n))
		return PREAMBLE_BAD;
	int nw = split_words(line, w);
	if ((nw != 3 && nw != 4) || strcmp(w[0], "tty") != 0)
		return PREAMBLE_BAD;
	memset(req, 0, sizeof(*req));
	if (parse_dimension(w[1], DEBUG_DEFAULT_COLS, &req->cols) < 0 ||
	    parse_dimension(w[2], DEBUG_DEFAULT_ROWS, &req->rows) < 0)
		return PREAMBLE_BAD;
	if (nw == 4 && !term_name_ok(w[3]))
		return PREAMBLE_BAD;
	strcpy(req->term, nw == 4 ? w[3] : DEBUG_DEFAULT_TERM);
	return PREAMBLE_TERMINAL;
}
