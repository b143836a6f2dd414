/* libFuzzer target for the control protocol's pure parts.
 *
 * 1. request_parse on arbitrary bytes: never reads or writes outside the
 *    len + 1 buffer; argv points into it; bare words are the input bytes
 *    unchanged; a quote-free line splits exactly like a reference splitter;
 *    every argument that is valid UTF-8 survives writer -> parser.
 * 2. The JSON writer on arbitrary bytes: the output is valid JSON (checked
 *    by a strict checker with its own UTF-8 decoder), decodes back to the
 *    input with invalid bytes replaced by U+FFFD, and for valid UTF-8
 *    without NUL, request_parse of the escaped string gives back the input
 *    exactly.
 * 3. Any capacity: never a byte past cap; jw_finish returns 0 exactly when
 *    the reply does not fit.
 * Every violation aborts. Runs with no corpus and no options. */
#include "vsock/vsock.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/fuzz/require.h"

#include "tests/unit/json_check.h"

/* ---- 1. request_parse ---- */

static int is_blank(unsigned char c)
{
	return c == ' ' || c == '\t';
}

static int is_ctl(unsigned char c)
{
	return (c < 0x20 && !is_blank(c)) || c == 0x7f;
}

static int valid_utf8(const unsigned char *s, size_t n)
{
	uint32_t cp;

	for (size_t i = 0, k; i < n; i += k)
		if (!(k = jc_utf8(s + i, s + n, &cp)))
			return 0;
	return 1;
}

/* Escapes s with the writer and parses it back as one argument. */
static void check_writer_parser_round_trip(const char *s, size_t n)
{
	size_t cap = 6 * n + 8;
	char *enc = malloc(cap), *line, *argv[2];
	const char *err;
	struct jw w;

	jw_init(&w, enc, cap);
	jw_strn(&w, s, n);
	REQUIRE(!w.overflow);
	REQUIRE(json_valid(enc, w.len));
	line = malloc(w.len + 1);
	memcpy(line, enc, w.len);
	int argc = request_parse(line, w.len, argv, 2, &err);
	if (argc != 1 || strlen(argv[0]) != n || memcmp(argv[0], s, n) != 0) {
		fprintf(stderr, "round trip failed: argc %d err %s, escaped %.*s\n", argc,
			err ? err : "-", (int)w.len, enc);
		abort();
	}
	free(line);
	free(enc);
}

static void fuzz_request(const uint8_t *data, size_t size)
{
	char *buf = malloc(size + 1), *argv[REQUEST_MAX_ARGS + 1];
	const char *err = "stale";
	int max_args = size ? data[0] % (REQUEST_MAX_ARGS + 1) : REQUEST_MAX_ARGS;

	if (size && data[0] >= 0x80)
		max_args = REQUEST_MAX_ARGS;
	memcpy(buf, data, size);
	argv[max_args] = (char *)"sentinel";
	int argc = request_parse(buf, size, argv, max_args, &err);
	REQUIRE(argc >= -1 && argc <= max_args);
	REQUIRE(strcmp(argv[max_args], "sentinel") == 0);
	if (argc < 0) {
		REQUIRE(err != NULL && *err);
	} else {
		REQUIRE(err == NULL);
	}
	for (int i = 0; i < argc; i++) {
		size_t off = (size_t)(argv[i] - buf);
		REQUIRE(argv[i] >= buf && off <= size);
		const char *nul = memchr(argv[i], 0, size + 1 - off);
		REQUIRE(nul != NULL);
		size_t len = (size_t)(nul - argv[i]);
		REQUIRE(i == 0 || argv[i] > argv[i - 1]);
		if (data[off] != '"') {
			/* A bare word: the input bytes, in place, unchanged. */
			REQUIRE(len > 0 && memcmp(argv[i], data + off, len) == 0);
			for (size_t k = 0; k < len; k++)
				REQUIRE(!is_blank(data[off + k]) && !is_ctl(data[off + k]));
		}
		/* Any argument that is valid UTF-8 goes back out and in. */
		if (valid_utf8((const unsigned char *)argv[i], len))
			check_writer_parser_round_trip(argv[i], len);
	}

	/* A line without quotes: compare with a reference splitter. */
	if (!memchr(data, '"', size)) {
		size_t end = size, words = 0;
		int ctl = 0;
		if (end && data[end - 1] == '\r')
			end--;
		for (size_t i = 0; i < end; i++) {
			ctl |= is_ctl(data[i]);
			words += !is_blank(data[i]) && (i == 0 || is_blank(data[i - 1]));
		}
		if (ctl || words > (size_t)max_args) {
			REQUIRE(argc == -1);
		} else {
			REQUIRE(argc == (int)words);
			size_t i = 0;
			for (int a = 0; a < argc; a++) {
				while (is_blank(data[i]))
					i++;
				size_t k = i;
				while (k < end && !is_blank(data[k]))
					k++;
				REQUIRE(argv[a] == buf + i);
				REQUIRE(strlen(argv[a]) == k - i);
				i = k;
			}
		}
	}
	free(buf);
}

/* ---- 2. the writer ---- */

/* What decoding the writer's string must give: the input with every byte
 * that does not start a well-formed UTF-8 sequence replaced by U+FFFD. */
static size_t sanitized(const unsigned char *s, size_t n, char *out)
{
	size_t o = 0;
	uint32_t cp;

	for (size_t i = 0, k; i < n; i += k) {
		k = jc_utf8(s + i, s + n, &cp);
		if (!k) {
			memcpy(out + o, "\xef\xbf\xbd", 3);
			o += 3;
			k = 1;
		} else {
			memcpy(out + o, s + i, k);
			o += k;
		}
	}
	return o;
}

/* A reply shaped like the real ones, with the fuzz bytes as key and values. */
static void build(struct jw *w, const char *s, size_t n, const char *key)
{
	jw_obj_open(w);
	jw_key(w, "ok");
	jw_bool(w, true);
	jw_key(w, key);
	jw_strn(w, s, n);
	jw_key(w, "list");
	jw_arr_open(w);
	jw_strn(w, s, n / 2);
	jw_u64(w, n);
	jw_i64(w, -(int64_t)n);
	jw_obj_open(w);
	jw_key(w, "");
	jw_null(w);
	jw_obj_close(w);
	jw_arr_open(w);
	jw_arr_close(w);
	jw_strn(w, s + n / 2, n - n / 2);
	jw_arr_close(w);
	jw_obj_close(w);
}

static void fuzz_writer(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	size_t cap = 18 * size + 256, dlen;
	char *buf = malloc(cap), *dec = malloc(3 * size + 1), *want = malloc(3 * size + 1);
	char *key = malloc(size + 1);
	struct jw w;

	/* The string alone decodes to the sanitized input. */
	jw_init(&w, buf, cap);
	jw_strn(&w, s, size);
	REQUIRE(!w.overflow);
	REQUIRE(json_decode_string(buf, w.len, dec, &dlen));
	REQUIRE(dlen == sanitized(data, size, want) && memcmp(dec, want, dlen) == 0);
	if (valid_utf8(data, size) && !memchr(data, 0, size))
		check_writer_parser_round_trip(s, size);

	/* A whole reply is one valid JSON line. */
	memcpy(key, data, size);
	key[size] = 0;
	jw_init(&w, buf, cap);
	build(&w, s, size, key);
	size_t L = jw_finish(&w);
	REQUIRE(L > 0 && L == strlen(buf) && buf[L - 1] == '\n');
	REQUIRE(!memchr(buf, '\n', L - 1));
	REQUIRE(json_valid(buf, L));

	/* 3. Some capacity below or around the full length. */
	size_t pick = 0;
	for (size_t i = 0; i < size && i < 8; i++)
		pick = pick * 251 + data[i];
	size_t small = pick % (L + 3);
	char *mem = malloc(small + 32);
	memset(mem, 0xa5, small + 32);
	jw_init(&w, mem, small);
	build(&w, s, size, key);
	size_t r = jw_finish(&w);
	for (size_t i = small; i < small + 32; i++)
		REQUIRE((unsigned char)mem[i] == 0xa5);
	if (small > L) {
		REQUIRE(r == L && memcmp(mem, buf, L + 1) == 0);
	} else {
		REQUIRE(r == 0);
		if (small)
			REQUIRE(memchr(mem, 0, small) != NULL);
	}
	free(mem);

	/* jw_error_line with the bytes as the message. */
	char *msg = key;
	size_t el = jw_error_line(buf, cap, "bad_request", msg);
	REQUIRE(el > 0 && json_valid(buf, el));

	free(key);
	free(want);
	free(dec);
	free(buf);
}

/* ---- 4. request lines built from protocol tokens ----
 *
 * Random bytes seldom spell a \u escape or a surrogate pair, so each input
 * byte also picks one token from this list; the line they make goes through
 * the same checks, and through a differential check against the checker's
 * own JSON string decoder. */
static const char *const tokens[] = {
    "\"",
    "\"",
    "\\",
    "\\u",
    "\\u",
    "\\\"",
    "\\\\",
    "\\/",
    "\\b",
    "\\f",
    "\\n",
    "\\r",
    "\\t",
    "\\x",
    " ",
    " ",
    "\t",
    "\r",
    "a",
    "Z",
    "0",
    "d83d",
    "DE00",
    "D800",
    "dfff",
    "dbff",
    "DC00",
    "0000",
    "0041",
    "00e9",
    "20AC",
    "ffff",
    "007f",
    "001f",
    "0800",
    "07ff",
    "\x7f",
    "\x01",
    "\n",
    "\xc3\xa9",
    "\xff",
    "\xed\xa0\x80",
    "x\"y",
    "12",
    "g",
    "--",
    "\\ud83d\\ude00",
    "\\u0000",
    "\\ud800",
    "\\udc00",
};

static size_t expand(const uint8_t *data, size_t size, char *out)
{
	size_t n = 0;

	for (size_t i = 0; i < size; i++) {
		const char *t = tokens[data[i] % (sizeof(tokens) / sizeof(tokens[0]))];
		size_t k = strlen(t);
		memcpy(out + n, t, k);
		n += k;
	}
	return n;
}

/* A line that starts with a quote: request_parse and the checker must
 * agree on one string argument, wherever both can judge it. */
static void differential(const char *line, size_t n)
{
	size_t end = n, dlen = 0;
	char *buf, *dec, *argv[2];
	const char *err;
	int ascii = 1;

	if (!n || line[0] != '"')
		return;
	if (line[end - 1] == '\r')
		end--;
	while (end && (line[end - 1] == ' ' || line[end - 1] == '\t'))
		end--;
	for (size_t i = 0; i < end; i++)
		ascii &= (unsigned char)line[i] < 0x80;
	dec = malloc(n + 1);
	int ok = json_decode_string(line, end, dec, &dlen) && !memchr(dec, 0, dlen);
	buf = malloc(n + 1);
	memcpy(buf, line, n);
	int argc = request_parse(buf, n, argv, 2, &err);
	if (ok)
		REQUIRE(argc == 1 && strlen(argv[0]) == dlen && memcmp(argv[0], dec, dlen) == 0);
	if (argc == 1 && ascii) {
		REQUIRE(ok);
	}
	free(buf);
	free(dec);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_request(data, size);
	fuzz_writer(data, size);

	char *line = malloc(16 * size + 1);
	size_t n = expand(data, size, line);
	fuzz_request((const uint8_t *)line, n);
	differential(line, n);
	free(line);
	return 0;
}
