/* libFuzzer target for taskctl's pure parsing (vsock/taskctl_parse.c).
 *
 * 1. tj_parse on arbitrary bytes: never crashes or leaks; it accepts every
 *    text the strict checker (tests/unit/json_check.h) accepts, and on valid
 *    UTF-8 accepts nothing else; a top-level string decodes to what the
 *    checker decodes.
 * 2. tc_quote_word: the agent's request_parse gives back exactly the
 *    argument, as one word, whatever its bytes.
 * 3. tc_parse_addr: a parsed address formats and parses back to itself.
 * 4. tc_parse_hybrid_reply: accepts only "OK <digits>" lines.
 * 5. tc_parse_cp on the input split at newlines: an accepted command line
 *    has one local and one absolute guest path taken from its words, and
 *    valid --mode/--owner; tc_join_base never overruns and ends its result
 *    with the last name of the path.
 * 6. tc_escape_text: the output is well-formed UTF-8 with no C0, DEL or
 *    C1 control; input with nothing to escape comes out unchanged; a short
 *    buffer gets a prefix of the full text.
 * Every violation aborts. Runs with no corpus and no options. */
#include "vsock/taskctl.h"
#include "vsock/vsock.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tests/fuzz/require.h"

#include "tests/unit/json_check.h"

static int valid_utf8(const unsigned char *s, size_t n)
{
	uint32_t cp;

	for (size_t i = 0, k; i < n; i += k)
		if (!(k = jc_utf8(s + i, s + n, &cp)))
			return 0;
	return 1;
}

static void check_json(const char *s, size_t n)
{
	const char *err = NULL;
	struct tj *v = tj_parse(s, n, &err);
	int valid = json_valid(s, n);

	REQUIRE(v || err);
	if (valid)
		REQUIRE(v != NULL);
	if (v && valid_utf8((const unsigned char *)s, n))
		REQUIRE(valid);
	if (v && valid && v->type == TJ_STR) {
		char *dec = malloc(n + 1);
		size_t dlen = 0;
		/* json_decode_string wants exactly the string: trim the blanks. */
		size_t a = 0, b = n;
		while (a < b && strchr(" \t\r\n", s[a]))
			a++;
		while (b > a && strchr(" \t\r\n", s[b - 1]))
			b--;
		REQUIRE(dec && json_decode_string(s + a, b - a, dec, &dlen));
		REQUIRE(dlen == v->len && memcmp(dec, v->str, dlen) == 0);
		free(dec);
	}
	tj_free(v);
}

static void check_quote(const char *arg)
{
	size_t need = tc_quote_word(arg, NULL, 0);
	char *q = malloc(need + 1);
	char *argv[4];
	const char *err;

	REQUIRE(q);
	REQUIRE(tc_quote_word(arg, q, need + 1) == need && strlen(q) == need);
	int argc = request_parse(q, need, argv, 4, &err);
	REQUIRE(argc == 1);
	REQUIRE(strcmp(argv[0], arg) == 0);
	free(q);
}

static void check_addr(const char *s)
{
	struct tc_addr a, b;
	char err[160], text[256];

	if (tc_parse_addr(s, 1024, &a, err, sizeof(err)) < 0) {
		REQUIRE(err[0]);
		return;
	}
	tc_format_addr(&a, text, sizeof(text));
	REQUIRE(tc_parse_addr(text, 7, &b, err, sizeof(err)) == 0);
	REQUIRE(a.kind == b.kind && strcmp(a.path, b.path) == 0);
	if (a.kind != TC_UNIX)
		REQUIRE(a.port == b.port);
	if (a.kind == TC_VSOCK)
		REQUIRE(a.cid == b.cid);
}

static bool is_word(char **argv, int argc, const char *p)
{
	for (int i = 0; i < argc; i++)
		if (p == argv[i] || p == argv[i] + 1)
			return true;
	return false;
}

static void check_cp(const char *s, size_t size)
{
	char *copy = malloc(size + 1), *argv[8], err[256], joined[64];
	int argc = 0;
	struct tc_cp o;

	REQUIRE(copy);
	memcpy(copy, s, size + 1);
	for (char *p = copy; argc < 8;) {
		argv[argc++] = p;
		p = strchr(p, '\n');
		if (!p)
			break;
		*p++ = 0;
	}
	if (tc_parse_cp(argv, argc, &o, err, sizeof(err)) == 0) {
		REQUIRE(o.local && o.remote && o.local[0] && o.remote[0] == '/');
		REQUIRE(is_word(argv, argc, o.local) && is_word(argv, argc, o.remote));
		REQUIRE(!o.mode || strtoul(o.mode, NULL, 8) <= 07777);
		REQUIRE(!o.owner || o.upload);
		REQUIRE(!o.remote_dir || (o.upload && strcmp(o.local, "-")));
	} else {
		REQUIRE(err[0]);
	}
	for (int i = 0; i + 1 < argc; i++) {
		size_t cap = 1 + (size_t)(argv[i][0] & 63);
		if (tc_join_base(argv[i], argv[i + 1], joined, cap) == 0) {
			size_t n = strlen(joined);
			REQUIRE(n < cap && n > 0 && joined[n - 1] != '/');
			REQUIRE(!strncmp(joined, argv[i], strlen(argv[i])));
		}
	}
	free(copy);
}

static void check_escape(const char *s, size_t size)
{
	size_t need = tc_escape_text(s, size, NULL, 0);
	char *full = malloc(need + 1), *part = malloc(need + 1);
	uint32_t cp;

	REQUIRE(full && part);
	REQUIRE(tc_escape_text(s, size, full, need + 1) == need && strlen(full) == need);
	for (size_t i = 0, k; i < need; i += k) {
		k = jc_utf8((const unsigned char *)full + i, (const unsigned char *)full + need,
			    &cp);
		REQUIRE(k && cp >= 0x20 && cp != 0x7f && (cp < 0x80 || cp > 0x9f));
	}
	if (valid_utf8((const unsigned char *)s, size) && need == size)
		REQUIRE(memcmp(full, s, size) == 0);
	size_t cap = size ? (unsigned char)s[0] % (need + 1) + 1 : 1;
	REQUIRE(tc_escape_text(s, size, part, cap) == need);
	REQUIRE(strlen(part) < cap && !strncmp(part, full, strlen(part)));
	free(full);
	free(part);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	uint32_t port;

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = 0;
	check_json(s, size);
	if (tc_parse_hybrid_reply(s, size, &port) == 0)
		REQUIRE(size >= 4 && memcmp(s, "OK ", 3) == 0);
	/* The C-string helpers see the bytes up to the first NUL. */
	check_quote(s);
	check_addr(s);
	check_cp(s, size);
	check_escape(s, size);
	free(s);
	return 0;
}
