/* Unit tests for the control protocol's pure parts: vsock/proto.c
 * (request_parse) and vsock/json.c (the JSON writer). Writer output is
 * checked by a strict RFC 8259 checker written here (with its own UTF-8
 * decoder), and strings are decoded back and compared with the input. */
#include "vsock/vsock.h"
#include "tests/unit/check.h"

#include <stdint.h>
#include <stdlib.h>

#include "tests/unit/json_check.h"

/* ---- request_parse helpers ---- */

struct req {
	char *buf;
	size_t len;
	char *argv[REQUEST_MAX_ARGS + 2];
	int argc;
	const char *err;
};

/* Parses len bytes of s in an exactly len + 1 byte heap buffer (ASan
 * catches any write past it). Checks the result's general promises. */
static int parse_n(struct req *r, const char *s, size_t len, int max_args)
{
	free(r->buf);
	r->buf = malloc(len + 1);
	memcpy(r->buf, s, len);
	r->buf[len] = 'Z'; /* must become the terminator, or stay untouched */
	r->len = len;
	for (int i = 0; i < REQUEST_MAX_ARGS + 2; i++)
		r->argv[i] = (char *)"(unset)";
	r->err = "(stale)";
	r->argc = request_parse(r->buf, len, r->argv, max_args, &r->err);
	if (r->argc < 0) {
		CHECK_EQ_INT(r->argc, -1);
		CHECK(r->err != NULL && *r->err);
	} else {
		CHECK(r->err == NULL);
		CHECK(r->argc <= max_args);
		for (int i = 0; i < r->argc; i++) {
			CHECK(r->argv[i] >= r->buf && r->argv[i] <= r->buf + len);
			CHECK(memchr(r->argv[i], 0, (size_t)(r->buf + len + 1 - r->argv[i])));
		}
	}
	return r->argc;
}

static int parse(struct req *r, const char *s)
{
	return parse_n(r, s, strlen(s), REQUEST_MAX_ARGS);
}

static void req_free(struct req *r)
{
	free(r->buf);
	r->buf = NULL;
}

#define ARG_IS(r, i, want) CHECK_EQ_STR((r).argv[i], (want))
#define ERR_HAS(r, word)   CHECK((r).err != NULL && strstr((r).err, (word)) != NULL)

/* ---- request_parse ---- */

static void test_bare_words(void)
{
	struct req r = {0};

	CHECK_EQ_INT(parse(&r, "ping"), 1);
	ARG_IS(r, 0, "ping");
	CHECK(r.argv[0] == r.buf);
	CHECK_EQ_INT(r.buf[4], 0);
	CHECK_EQ_INT(parse(&r, "kill web TERM"), 3);
	ARG_IS(r, 0, "kill");
	ARG_IS(r, 1, "web");
	ARG_IS(r, 2, "TERM");
	CHECK_EQ_INT(parse(&r, "   logs    web  "), 2);
	ARG_IS(r, 0, "logs");
	ARG_IS(r, 1, "web");
	CHECK_EQ_INT(parse(&r, "\ta\t\tb \t c\t"), 3);
	ARG_IS(r, 0, "a");
	ARG_IS(r, 1, "b");
	ARG_IS(r, 2, "c");
	/* Other whitespace is not a separator; \v and \f are control bytes. */
	CHECK_EQ_INT(parse(&r, "a\vb"), -1);
	CHECK_EQ_INT(parse(&r, "a\fb"), -1);
	/* Punctuation, backslashes and bytes >= 0x80 are literal. */
	CHECK_EQ_INT(parse(&r, "--reboot a=b \\n x\\ caf\xc3\xa9 \xff\xfe"), 6);
	ARG_IS(r, 0, "--reboot");
	ARG_IS(r, 1, "a=b");
	ARG_IS(r, 2, "\\n");
	ARG_IS(r, 3, "x\\");
	ARG_IS(r, 4, "caf\xc3\xa9");
	ARG_IS(r, 5, "\xff\xfe");
	req_free(&r);
}

static void test_blank_lines(void)
{
	static const char *const blank[] = {"", " ", "\t", "   \t  ", "\r", " \t\r"};
	struct req r = {0};

	for (size_t i = 0; i < sizeof(blank) / sizeof(blank[0]); i++) {
		CHECK_EQ_INT(parse(&r, blank[i]), 0);
		CHECK(r.err == NULL);
	}
	CHECK_EQ_INT(parse_n(&r, "", 0, 0), 0);
	CHECK_EQ_INT(parse_n(&r, "  ", 2, 0), 0);
	req_free(&r);
}

static void test_cr(void)
{
	struct req r = {0};

	CHECK_EQ_INT(parse(&r, "ping\r"), 1);
	ARG_IS(r, 0, "ping");
	CHECK_EQ_INT(parse(&r, "logs web\r"), 2);
	ARG_IS(r, 1, "web");
	CHECK_EQ_INT(parse(&r, "logs web \r"), 2);
	ARG_IS(r, 1, "web");
	CHECK_EQ_INT(parse(&r, "\"a b\"\r"), 1);
	ARG_IS(r, 0, "a b");
	/* Only one trailing CR is dropped; others are control bytes. */
	CHECK_EQ_INT(parse(&r, "ping\r\r"), -1);
	ERR_HAS(r, "control");
	CHECK_EQ_INT(parse(&r, "pi\rng"), -1);
	CHECK_EQ_INT(parse(&r, "\rping"), -1);
	/* A CR that ends the line is not part of a string either. */
	CHECK_EQ_INT(parse(&r, "\"abc\r"), -1);
	ERR_HAS(r, "unterminated");
	/* ...and inside a string it is refused. */
	CHECK_EQ_INT(parse(&r, "\"a\rb\""), -1);
	req_free(&r);
}

static void test_strings(void)
{
	struct req r = {0};

	CHECK_EQ_INT(parse(&r, "\"hello world\""), 1);
	ARG_IS(r, 0, "hello world");
	CHECK(r.argv[0] == r.buf);
	CHECK_EQ_INT(parse(&r, "\"\""), 1);
	ARG_IS(r, 0, "");
	CHECK_EQ_INT(parse(&r, "\"\" \"\"\t\"\""), 3);
	ARG_IS(r, 2, "");
	CHECK_EQ_INT(parse(&r, "kill \"my task\" TERM"), 3);
	ARG_IS(r, 0, "kill");
	ARG_IS(r, 1, "my task");
	ARG_IS(r, 2, "TERM");
	CHECK_EQ_INT(parse(&r, "a\t\"b\tc\"\t d"), -1); /* raw tab inside a string */
	CHECK_EQ_INT(parse(&r, "a \"b c\"\td"), 3);
	ARG_IS(r, 1, "b c");
	ARG_IS(r, 2, "d");
	/* Raw UTF-8 and raw DEL are allowed inside a string. */
	CHECK_EQ_INT(parse(&r, "\"\xe2\x82\xac \x7f\""), 1);
	ARG_IS(r, 0, "\xe2\x82\xac \x7f");
	/* A quote inside a string, quoted. */
	CHECK_EQ_INT(parse(&r, "\"say \\\"hi\\\"\""), 1);
	ARG_IS(r, 0, "say \"hi\"");
	req_free(&r);
}

static void test_escapes(void)
{
	struct req r = {0};

	CHECK_EQ_INT(parse(&r, "\"\\\" \\\\ \\/ \\b \\f \\n \\r \\t\""), 1);
	ARG_IS(r, 0, "\" \\ / \b \f \n \r \t");
	CHECK_EQ_INT(parse(&r, "\"\\u0041\\u00e9\\u00E9\\u20ac\\uFFFF\\u0800\\u07ff\""), 1);
	ARG_IS(r, 0, "A\xc3\xa9\xc3\xa9\xe2\x82\xac\xef\xbf\xbf\xe0\xa0\x80\xdf\xbf");
	/* Escaped control characters are fine (they are quoted). */
	CHECK_EQ_INT(parse(&r, "\"\\u0001\\u001f\\u007f\\u0080\""), 1);
	ARG_IS(r, 0, "\x01\x1f\x7f\xc2\x80");
	/* Unknown escapes are refused. */
	static const char *const unknown[] = {"\"\\x41\"",   "\"\\a\"", "\"\\'\"",
					      "\"\\U0041\"", "\"\\0\"", "\"\\ \""};
	for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
		CHECK_EQ_INT(parse(&r, unknown[i]), -1);
		ERR_HAS(r, "escape");
	}
	/* Short or non-hex \u. */
	static const char *const badu[] = {"\"\\u\"",	  "\"\\u41\"",	 "\"\\u004\"",
					   "\"\\u00g1\"", "\"\\u-041\"", "\"\\u 041\""};
	for (size_t i = 0; i < sizeof(badu) / sizeof(badu[0]); i++) {
		CHECK_EQ_INT(parse(&r, badu[i]), -1);
		ERR_HAS(r, "\\u");
	}
	req_free(&r);
}

static void test_surrogates(void)
{
	struct req r = {0};

	CHECK_EQ_INT(parse(&r, "\"\\ud83d\\ude00\""), 1);
	ARG_IS(r, 0, "\xf0\x9f\x98\x80");
	CHECK_EQ_INT(parse(&r, "\"x\\uD800\\uDC00y\""), 1);
	ARG_IS(r, 0, "x\xf0\x90\x80\x80y");
	CHECK_EQ_INT(parse(&r, "\"\\udbff\\udfff\""), 1);
	ARG_IS(r, 0, "\xf4\x8f\xbf\xbf");
	/* Lone or mismatched surrogates. */
	static const char *const lone[] = {
	    "\"\\ud800\"",   "\"\\ud800x\"",	   "\"\\ud800\\u0041\"",  "\"\\ud800\\ud800\"",
	    "\"\\udc00\"",   "\"\\udfff\\ud800\"", "\"\\ud83d \\ude00\"", "\"\\ud83d\\ude0\"",
	    "\"\\ud83d\\\"", "\"\\ud83d\\n\"",	   "\"\\ud83d\\ue000\""};
	for (size_t i = 0; i < sizeof(lone) / sizeof(lone[0]); i++) {
		CHECK_EQ_INT(parse(&r, lone[i]), -1);
		ERR_HAS(r, "surrogate");
	}
	/* The pair's second half is cut off by the end of the line. */
	CHECK_EQ_INT(parse_n(&r, "\"\\ud83d\\ude00\"", 11, REQUEST_MAX_ARGS), -1);
	req_free(&r);
}

static void test_nul_escape_refused(void)
{
	struct req r = {0};

	CHECK_EQ_INT(parse(&r, "\"\\u0000\""), -1);
	ERR_HAS(r, "u0000");
	CHECK_EQ_INT(parse(&r, "ok \"a\\u0000b\""), -1);
	req_free(&r);
}

static void test_unterminated(void)
{
	static const char *const bad[] = {"\"",	       "\"abc",	    "ping \"abc", "\"abc\\",
					  "\"abc\\\"", "\"a\" \"b", "\"\\u00"};
	struct req r = {0};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK_EQ_INT(parse(&r, bad[i]), -1);
		CHECK(strstr(r.err, "unterminated") || strstr(r.err, "\\u"));
	}
	CHECK_EQ_INT(parse(&r, "\"abc\\"), -1);
	ERR_HAS(r, "unterminated escape");
	CHECK_EQ_INT(parse(&r, "\"abc"), -1);
	ERR_HAS(r, "unterminated string");
	req_free(&r);
}

static void test_text_after_quote(void)
{
	static const char *const bad[] = {"\"a\"b", "\"a\"\"b\"", "x \"a\"b y", "\"\"x", "\"a\"\\"};
	struct req r = {0};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK_EQ_INT(parse(&r, bad[i]), -1);
		ERR_HAS(r, "closing quote");
	}
	CHECK_EQ_INT(parse(&r, "\"a\" b"), 2);
	ARG_IS(r, 0, "a");
	ARG_IS(r, 1, "b");
	CHECK_EQ_INT(parse(&r, "\"a\"\tb"), 2);
	ARG_IS(r, 1, "b");
	/* A control byte right after the quote is refused too. */
	CHECK_EQ_INT(parse(&r, "\"a\"\x01"), -1);
	req_free(&r);
}

static void test_quote_inside_bare_word(void)
{
	struct req r = {0};

	/* Only a word that starts with '"' is a string: a quote elsewhere is
	 * an ordinary character of the bare word. */
	CHECK_EQ_INT(parse(&r, "a\"b"), 1);
	ARG_IS(r, 0, "a\"b");
	CHECK_EQ_INT(parse(&r, "a\"b c\""), 2);
	ARG_IS(r, 0, "a\"b");
	ARG_IS(r, 1, "c\"");
	CHECK_EQ_INT(parse(&r, "x a\""), 2);
	ARG_IS(r, 1, "a\"");
	CHECK_EQ_INT(parse(&r, "a\"\\u0041\""), 1);
	ARG_IS(r, 0, "a\"\\u0041\"");
	req_free(&r);
}

static void test_max_args(void)
{
	struct req r = {0};
	char line[1024];
	size_t n = 0;

	CHECK_EQ_INT(parse_n(&r, "a b c", 5, 3), 3);
	ARG_IS(r, 2, "c");
	CHECK_EQ_INT(parse_n(&r, "a b c  \t", 8, 3), 3);
	CHECK_EQ_INT(parse_n(&r, "a b c", 5, 2), -1);
	ERR_HAS(r, "too many");
	CHECK_EQ_INT(parse_n(&r, "a \"b\" \"c\"", 9, 2), -1);
	ERR_HAS(r, "too many");
	CHECK_EQ_INT(parse_n(&r, "a", 1, 0), -1);
	CHECK_EQ_INT(parse_n(&r, "a", 1, 1), 1);
	/* REQUEST_MAX_ARGS words fit in the argv the header sizes... */
	for (int i = 0; i < REQUEST_MAX_ARGS; i++)
		n += (size_t)sprintf(line + n, "%s%d", i ? " " : "", i);
	CHECK_EQ_INT(parse_n(&r, line, n, REQUEST_MAX_ARGS), REQUEST_MAX_ARGS);
	ARG_IS(r, REQUEST_MAX_ARGS - 1, "63");
	CHECK(strcmp(r.argv[REQUEST_MAX_ARGS], "(unset)") == 0); /* not written */
	/* ...and one more does not. */
	n += (size_t)sprintf(line + n, " x");
	CHECK_EQ_INT(parse_n(&r, line, n, REQUEST_MAX_ARGS), -1);
	CHECK(strcmp(r.argv[REQUEST_MAX_ARGS], "(unset)") == 0);
	req_free(&r);
}

static void test_control_bytes(void)
{
	struct req r = {0};
	char line[4];

	/* Every control byte and DEL is refused in a bare word... */
	for (int c = 0; c < 0x80; c++) {
		if (c >= 0x20 && c < 0x7f)
			continue;
		if (c == ' ' || c == '\t')
			continue;
		line[0] = 'a';
		line[1] = (char)c;
		line[2] = 'b';
		CHECK_EQ_INT(parse_n(&r, line, 3, REQUEST_MAX_ARGS), -1);
		ERR_HAS(r, "control");
		/* ...and every one except DEL inside a string. */
		line[0] = '"';
		line[1] = (char)c;
		line[2] = '"';
		if (c == 0x7f) {
			CHECK_EQ_INT(parse_n(&r, line, 3, REQUEST_MAX_ARGS), 1);
			ARG_IS(r, 0, "\x7f");
		} else {
			CHECK_EQ_INT(parse_n(&r, line, 3, REQUEST_MAX_ARGS), -1);
			ERR_HAS(r, "control");
		}
	}
	/* An ANSI escape sequence from a terminal. */
	CHECK_EQ_INT(parse(&r, "\x1b[A"), -1);
	CHECK_EQ_INT(parse(&r, "ping \x7f"), -1);
	req_free(&r);
}

static void test_nul_bytes(void)
{
	struct req r = {0};

	CHECK_EQ_INT(parse_n(&r, "a\0b", 3, REQUEST_MAX_ARGS), -1);
	CHECK_EQ_INT(parse_n(&r, "\0", 1, REQUEST_MAX_ARGS), -1);
	CHECK_EQ_INT(parse_n(&r, "ping\0", 5, REQUEST_MAX_ARGS), -1);
	CHECK_EQ_INT(parse_n(&r, "ping \0", 6, REQUEST_MAX_ARGS), -1);
	CHECK_EQ_INT(parse_n(&r, "\"a\0b\"", 5, REQUEST_MAX_ARGS), -1);
	/* len, not the NUL, ends the line: a line without a NUL works. */
	CHECK_EQ_INT(parse_n(&r, "pingXXXX", 4, REQUEST_MAX_ARGS), 1);
	ARG_IS(r, 0, "ping");
	req_free(&r);
}

static void test_long_line(void)
{
	struct req r = {0};
	size_t n = 1 << 20;
	char *line = malloc(n);

	/* One 1 MiB word, then one 1 MiB string of escapes. */
	memset(line, 'x', n);
	CHECK_EQ_INT(parse_n(&r, line, n, REQUEST_MAX_ARGS), 1);
	CHECK_EQ_INT(strlen(r.argv[0]), n);
	line[0] = '"';
	for (size_t i = 1; i + 6 < n; i += 6)
		memcpy(line + i, "\\u00e9", 6);
	size_t len = 1 + (n - 2) / 6 * 6;
	line[len] = '"';
	CHECK_EQ_INT(parse_n(&r, line, len + 1, REQUEST_MAX_ARGS), 1);
	CHECK_EQ_INT(strlen(r.argv[0]), (len - 1) / 6 * 2);
	free(line);
	req_free(&r);
}

/* ---- the JSON writer ---- */

static const char *finish(struct jw *w)
{
	size_t n = jw_finish(w);

	CHECK(n > 0);
	CHECK_EQ_INT(n, strlen(w->buf));
	CHECK(n > 0 && w->buf[n - 1] == '\n');
	CHECK(n > 0 && memchr(w->buf, '\n', n - 1) == NULL);
	CHECK(json_valid(w->buf, n));
	return w->buf;
}

static void test_json_flat(void)
{
	char buf[256];
	struct jw w;

	jw_init(&w, buf, sizeof(buf));
	jw_obj_open(&w);
	jw_key(&w, "ok");
	jw_bool(&w, true);
	jw_obj_close(&w);
	CHECK_EQ_STR(finish(&w), "{\"ok\":true}\n");

	jw_init(&w, buf, sizeof(buf));
	jw_obj_open(&w);
	jw_obj_close(&w);
	CHECK_EQ_STR(finish(&w), "{}\n");

	jw_init(&w, buf, sizeof(buf));
	jw_arr_open(&w);
	jw_arr_close(&w);
	CHECK_EQ_STR(finish(&w), "[]\n");

	jw_init(&w, buf, sizeof(buf));
	jw_obj_open(&w);
	jw_key(&w, "u");
	jw_u64(&w, UINT64_MAX);
	jw_key(&w, "min");
	jw_i64(&w, INT64_MIN);
	jw_key(&w, "max");
	jw_i64(&w, INT64_MAX);
	jw_key(&w, "zero");
	jw_u64(&w, 0);
	jw_key(&w, "neg");
	jw_i64(&w, -1);
	jw_key(&w, "f");
	jw_bool(&w, false);
	jw_key(&w, "n");
	jw_null(&w);
	jw_key(&w, "s");
	jw_str(&w, "x");
	jw_key(&w, "null_str");
	jw_str(&w, NULL);
	jw_key(&w, "null_strn");
	jw_strn(&w, NULL, 5);
	jw_key(&w, "part");
	jw_strn(&w, "abcdef", 3);
	jw_obj_close(&w);
	CHECK_EQ_STR(finish(&w), "{\"u\":18446744073709551615,\"min\":-9223372036854775808,"
				 "\"max\":9223372036854775807,\"zero\":0,\"neg\":-1,\"f\":false,"
				 "\"n\":null,\"s\":\"x\",\"null_str\":\"\",\"null_strn\":\"\","
				 "\"part\":\"abc\"}\n");
}

static void test_json_nested(void)
{
	char buf[512];
	struct jw w;

	jw_init(&w, buf, sizeof(buf));
	jw_obj_open(&w);
	jw_key(&w, "a");
	jw_arr_open(&w);
	jw_u64(&w, 1);
	jw_u64(&w, 2);
	jw_obj_open(&w);
	jw_key(&w, "b");
	jw_null(&w);
	jw_obj_close(&w);
	jw_arr_open(&w);
	jw_arr_close(&w);
	jw_str(&w, "s");
	jw_arr_close(&w);
	jw_key(&w, "c");
	jw_obj_open(&w);
	jw_obj_close(&w);
	jw_key(&w, "d");
	jw_arr_open(&w);
	jw_arr_open(&w);
	jw_arr_open(&w);
	jw_i64(&w, -3);
	jw_arr_close(&w);
	jw_arr_close(&w);
	jw_arr_open(&w);
	jw_bool(&w, true);
	jw_arr_close(&w);
	jw_arr_close(&w);
	jw_key(&w, "e");
	jw_str(&w, "x");
	jw_obj_close(&w);
	CHECK_EQ_STR(finish(&w), "{\"a\":[1,2,{\"b\":null},[],\"s\"],\"c\":{},"
				 "\"d\":[[[-3]],[true]],\"e\":\"x\"}\n");

	/* A top-level array of objects, the shape of a `ps` reply. */
	jw_init(&w, buf, sizeof(buf));
	jw_arr_open(&w);
	for (int i = 0; i < 3; i++) {
		jw_obj_open(&w);
		jw_key(&w, "id");
		jw_u64(&w, (uint64_t)i);
		jw_key(&w, "tags");
		jw_arr_open(&w);
		for (int k = 0; k < i; k++)
			jw_str(&w, "t");
		jw_arr_close(&w);
		jw_obj_close(&w);
	}
	jw_arr_close(&w);
	CHECK_EQ_STR(finish(&w), "[{\"id\":0,\"tags\":[]},{\"id\":1,\"tags\":[\"t\"]},"
				 "{\"id\":2,\"tags\":[\"t\",\"t\"]}]\n");
}

/* Nesting between two members of an object: every depth the writer
 * supports (31 levels in all) gives valid JSON; anything deeper is refused
 * as overflow, never written wrong. */
static void test_json_deep_nesting(void)
{
	char buf[512];
	struct jw w;

	for (int depth = 1; depth <= 70; depth++) {
		jw_init(&w, buf, sizeof(buf));
		jw_obj_open(&w);
		jw_key(&w, "a");
		jw_u64(&w, 1);
		jw_key(&w, "deep");
		for (int i = 0; i < depth; i++)
			jw_arr_open(&w);
		for (int i = 0; i < depth; i++)
			jw_arr_close(&w);
		jw_key(&w, "b");
		jw_u64(&w, 2);
		jw_obj_close(&w);
		if (depth > 30) {
			CHECK(w.overflow);
			CHECK_EQ_INT(jw_finish(&w), 0);
			continue;
		}
		CHECK(jw_finish(&w) > 0);
		if (!json_valid(buf, strlen(buf)) || !strstr(buf, "],\"b\":2}")) {
			printf("  depth %d: %s", depth, buf);
			CHECK(json_valid(buf, strlen(buf)));
		}
	}
}

/* jw_strn(in) at top level must give exactly `want` (without newline). */
static int esc_is(const char *in, size_t n, const char *want)
{
	char buf[1024];
	struct jw w;

	jw_init(&w, buf, sizeof(buf));
	jw_strn(&w, in, n);
	if (w.overflow || strcmp(buf, want) != 0) {
		printf("  escaped to %s, want %s\n", buf, want);
		return 0;
	}
	return json_valid(buf, w.len);
}

#define ESC_IS(lit, want) CHECK(esc_is((lit), sizeof(lit) - 1, (want)))

static void test_json_escapes(void)
{
	ESC_IS("plain", "\"plain\"");
	ESC_IS("", "\"\"");
	ESC_IS("\"", "\"\\\"\"");
	ESC_IS("\\", "\"\\\\\"");
	ESC_IS("a/b", "\"a/b\"");
	ESC_IS("\n\t\r", "\"\\n\\t\\r\"");
	ESC_IS("\b\f", "\"\\u0008\\u000c\"");
	ESC_IS("\x01\x1f\x1b", "\"\\u0001\\u001f\\u001b\"");
	ESC_IS("\x7f", "\"\\u007f\"");
	ESC_IS("a\0b", "\"a\\u0000b\"");
	ESC_IS(" ~", "\" ~\"");

	/* Every control byte comes out as an escape, never raw. */
	for (int c = 0; c < 0x20; c++) {
		char in = (char)c, buf[32];
		struct jw w;
		jw_init(&w, buf, sizeof(buf));
		jw_strn(&w, &in, 1);
		CHECK(json_valid(buf, w.len));
		CHECK(buf[1] == '\\');
	}

	/* Keys are escaped the same way. */
	char buf[64];
	struct jw w;
	jw_init(&w, buf, sizeof(buf));
	jw_obj_open(&w);
	jw_key(&w, "k\"\n\x01");
	jw_u64(&w, 1);
	jw_obj_close(&w);
	CHECK_EQ_STR(finish(&w), "{\"k\\\"\\n\\u0001\":1}\n");
}

static void test_json_invalid_utf8(void)
{
#define FFFD "\\ufffd"
	ESC_IS("\x80", "\"" FFFD "\""); /* lone continuation */
	ESC_IS("\xbf", "\"" FFFD "\"");
	ESC_IS("\xc0\x80", "\"" FFFD FFFD "\"");		   /* overlong NUL */
	ESC_IS("\xc1\xbf", "\"" FFFD FFFD "\"");		   /* overlong DEL */
	ESC_IS("\xe0\x80\x80", "\"" FFFD FFFD FFFD "\"");	   /* overlong 3 */
	ESC_IS("\xe0\x9f\xbf", "\"" FFFD FFFD FFFD "\"");	   /* overlong U+07FF */
	ESC_IS("\xf0\x80\x80\x80", "\"" FFFD FFFD FFFD FFFD "\""); /* overlong 4 */
	ESC_IS("\xf0\x8f\xbf\xbf", "\"" FFFD FFFD FFFD FFFD "\""); /* overlong U+FFFF */
	ESC_IS("\xed\xa0\x80", "\"" FFFD FFFD FFFD "\"");	   /* U+D800 */
	ESC_IS("\xed\xbf\xbf", "\"" FFFD FFFD FFFD "\"");	   /* U+DFFF */
	ESC_IS("\xed\xa0\xbd\xed\xb8\x80", "\"" FFFD FFFD FFFD FFFD FFFD FFFD "\""); /* CESU */
	ESC_IS("\xf4\x90\x80\x80", "\"" FFFD FFFD FFFD FFFD "\"");		     /* U+110000 */
	ESC_IS("\xf5\x80\x80\x80", "\"" FFFD FFFD FFFD FFFD "\"");
	ESC_IS("\xf8\x88\x80\x80\x80", "\"" FFFD FFFD FFFD FFFD FFFD "\""); /* 5-byte form */
	ESC_IS("\xfe\xff", "\"" FFFD FFFD "\"");
	ESC_IS("\xe2\x82", "\"" FFFD FFFD "\"");   /* truncated at end */
	ESC_IS("\xe2\x82x", "\"" FFFD FFFD "x\""); /* truncated by ASCII */
	ESC_IS("\xf0\x9f\x98", "\"" FFFD FFFD FFFD "\"");
	ESC_IS("\xc3", "\"" FFFD "\"");
	ESC_IS("\xc3\"", "\"" FFFD "\\\"\""); /* cut by a quote */
	ESC_IS("\xc3\n", "\"" FFFD "\\n\"");
	ESC_IS("\xe2\x82\xac\xe2\x82", "\"\xe2\x82\xac" FFFD FFFD "\"");
	/* A valid sequence that ends exactly at n is kept... */
	CHECK(esc_is("\xe2\x82\xac", 3, "\"\xe2\x82\xac\""));
	/* ...and one that n cuts is not. */
	CHECK(esc_is("\xe2\x82\xac", 2, "\"" FFFD FFFD "\""));
#undef FFFD
}

static void test_json_valid_utf8_passes(void)
{
	static const char *const ok[] = {
	    "\xc2\x80",		/* U+0080 */
	    "\xdf\xbf",		/* U+07FF */
	    "\xe0\xa0\x80",	/* U+0800 */
	    "caf\xc3\xa9",	/* é */
	    "\xe2\x82\xac",	/* € */
	    "\xed\x9f\xbf",	/* U+D7FF */
	    "\xee\x80\x80",	/* U+E000 */
	    "\xef\xbf\xbd",	/* U+FFFD itself */
	    "\xef\xbf\xbf",	/* U+FFFF */
	    "\xf0\x90\x80\x80", /* U+10000 */
	    "\xf0\x9f\x98\x80", /* 😀 */
	    "\xf4\x8f\xbf\xbf", /* U+10FFFF */
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		char want[32];
		snprintf(want, sizeof(want), "\"%s\"", ok[i]);
		CHECK(esc_is(ok[i], strlen(ok[i]), want));
	}
}

/* Decoding the writer's output gives back the input, with every invalid
 * byte replaced by U+FFFD; request_parse gives it back too. Checked for
 * every one- and two-byte input and for longer structured ones. */
static int round_trip(const unsigned char *in, size_t n)
{
	char enc[256], dec[256], want[256];
	size_t want_len = 0, dec_len = 0, i = 0;
	int valid = 1, has_nul = 0;
	struct jw w;

	while (i < n) {
		uint32_t cp;
		size_t k = jc_utf8(in + i, in + n, &cp);
		if (!k) {
			memcpy(want + want_len, "\xef\xbf\xbd", 3);
			want_len += 3;
			valid = 0;
			i++;
			continue;
		}
		has_nul |= in[i] == 0;
		memcpy(want + want_len, in + i, k);
		want_len += k;
		i += k;
	}
	jw_init(&w, enc, sizeof(enc));
	jw_strn(&w, (const char *)in, n);
	if (w.overflow || !json_decode_string(enc, w.len, dec, &dec_len))
		return 0;
	if (dec_len != want_len || memcmp(dec, want, want_len) != 0)
		return 0;
	if (valid && !has_nul) {
		char line[256], *argv[2];
		const char *err;
		memcpy(line, enc, w.len);
		if (request_parse(line, w.len, argv, 2, &err) != 1)
			return 0;
		if (strlen(argv[0]) != n || memcmp(argv[0], in, n) != 0)
			return 0;
	}
	return 1;
}

static void test_json_round_trip(void)
{
	unsigned char in[8];
	int bad = 0;

	for (int a = 0; a < 256; a++) {
		in[0] = (unsigned char)a;
		bad += !round_trip(in, 1);
		for (int b = 0; b < 256; b++) {
			in[1] = (unsigned char)b;
			bad += !round_trip(in, 2);
		}
	}
	CHECK_EQ_INT(bad, 0);
	/* Every three-byte lead with every continuation pattern. */
	bad = 0;
	for (int a = 0xe0; a < 0x100; a++)
		for (int b = 0x70; b < 0xd0; b++)
			for (int c = 0x70; c < 0xd0; c += 3) {
				in[0] = (unsigned char)a;
				in[1] = (unsigned char)b;
				in[2] = (unsigned char)c;
				in[3] = 0x90;
				bad += !round_trip(in, 3);
				bad += !round_trip(in, 4);
			}
	CHECK_EQ_INT(bad, 0);
}

/* A reply with every kind of member, used for the capacity sweep. */
static void build_reply(struct jw *w)
{
	jw_obj_open(w);
	jw_key(w, "ok");
	jw_bool(w, true);
	jw_key(w, "n");
	jw_u64(w, 1234567);
	jw_key(w, "neg");
	jw_i64(w, -42);
	jw_key(w, "s");
	jw_strn(w, "a\"b\\c\n\x01\x7f\xff\xe2\x82\xac", 12);
	jw_key(w, "list");
	jw_arr_open(w);
	jw_null(w);
	jw_obj_open(w);
	jw_obj_close(w);
	jw_bool(w, false);
	jw_arr_close(w);
	jw_obj_close(w);
}

static void test_json_overflow_every_capacity(void)
{
	enum { CANARY = 64 };
	char full[512];
	struct jw w;

	jw_init(&w, full, sizeof(full));
	build_reply(&w);
	size_t L = jw_finish(&w);
	CHECK(L > 0);
	CHECK(json_valid(full, L));

	for (size_t cap = 0; cap <= L + 4; cap++) {
		unsigned char *mem = malloc(cap + CANARY);
		memset(mem, 0xa5, cap + CANARY);
		jw_init(&w, (char *)mem, cap);
		build_reply(&w);
		size_t r = jw_finish(&w);
		int canary_ok = 1;
		for (size_t i = cap; i < cap + CANARY; i++)
			canary_ok &= mem[i] == 0xa5;
		CHECK(canary_ok);
		if (cap >= L + 1) {
			CHECK_EQ_INT(r, L);
			CHECK(!w.overflow);
			CHECK(memcmp(mem, full, L + 1) == 0);
		} else {
			if (r != 0)
				printf("  cap %zu: jw_finish returned %zu\n", cap, r);
			CHECK_EQ_INT(r, 0);
			/* What was written is a NUL-terminated prefix. */
			if (cap) {
				CHECK(memchr(mem, 0, cap) != NULL);
				CHECK(strncmp((char *)mem, full, strlen((char *)mem)) == 0);
			}
		}
		free(mem);

		/* Exactly cap bytes on the heap: ASan sees any write past it. */
		char *exact = malloc(cap ? cap : 1);
		jw_init(&w, exact, cap);
		build_reply(&w);
		CHECK_EQ_INT(jw_finish(&w), cap >= L + 1 ? L : 0);
		free(exact);
	}
}

static void test_json_finish_twice_and_after_overflow(void)
{
	char buf[8];
	struct jw w;

	/* "{}\n" needs 4 bytes with the NUL. */
	jw_init(&w, buf, 4);
	jw_obj_open(&w);
	jw_obj_close(&w);
	CHECK_EQ_INT(jw_finish(&w), 3);
	CHECK_EQ_STR(buf, "{}\n");
	jw_init(&w, buf, 3);
	jw_obj_open(&w);
	jw_obj_close(&w);
	CHECK_EQ_INT(jw_finish(&w), 0);
	/* Once overflowed, later small writes do not resume output. */
	jw_init(&w, buf, 8);
	jw_str(&w, "0123456789");
	CHECK(w.overflow);
	jw_u64(&w, 1);
	CHECK(w.overflow);
	CHECK_EQ_INT(jw_finish(&w), 0);
	CHECK(memchr(buf, 0, sizeof(buf)) != NULL);
}

static void test_json_error_line(void)
{
	char buf[256];
	size_t n;

	n = jw_error_line(buf, sizeof(buf), "bad_request", "unknown verb \"x\"\n");
	CHECK_EQ_STR(buf, "{\"ok\":false,\"error\":\"bad_request\",\"message\":"
			  "\"unknown verb \\\"x\\\"\\n\"}\n");
	CHECK_EQ_INT(n, strlen(buf));
	CHECK(json_valid(buf, n));

	n = jw_error_line(buf, sizeof(buf), "", "");
	CHECK_EQ_STR(buf, "{\"ok\":false,\"error\":\"\",\"message\":\"\"}\n");
	CHECK_EQ_INT(n, strlen(buf));

	/* Invalid UTF-8 in a message (an echoed request) stays valid JSON. */
	n = jw_error_line(buf, sizeof(buf), "bad_request", "got \xff\xc0\x80");
	CHECK(n > 0 && json_valid(buf, n));
	CHECK(strstr(buf, "got \\ufffd\\ufffd\\ufffd") != NULL);

	/* Too small: 0, nothing past cap. */
	char full[256];
	size_t L = jw_error_line(full, sizeof(full), "too_long", "line too long");
	CHECK(L > 0);
	for (size_t cap = 0; cap <= L + 1; cap++) {
		memset(buf, 0x5a, sizeof(buf));
		n = jw_error_line(buf, cap, "too_long", "line too long");
		CHECK_EQ_INT(n, cap > L ? L : 0);
		for (size_t i = cap; i < sizeof(buf); i++)
			if (buf[i] != 0x5a) {
				CHECK(buf[i] == 0x5a);
				break;
			}
	}
}

/* The checker itself must refuse what is not JSON, or the tests above
 * prove nothing. */
static void test_checker_self_test(void)
{
	static const char *const good[] = {"{}",
					   "[]",
					   "0",
					   "-0",
					   "1.5e+3",
					   "\"\"",
					   "true",
					   " null ",
					   "{\"a\":[1,{\"b\":\"\"}]}\n",
					   "\"\\ud83d\\ude00\"",
					   "\"\xf4\x8f\xbf\xbf\"",
					   "[1,2]"};
	static const char *const bad[] = {"",
					  "{",
					  "{\"a\"}",
					  "{\"a\":1,}",
					  "[1,]",
					  "[1 2]",
					  "{\"a\":1 \"b\":2}",
					  "01",
					  "1.",
					  "-",
					  "+1",
					  ".5",
					  "tru",
					  "nul",
					  "\"a",
					  "\"\\x\"",
					  "\"\\u12\"",
					  "\"\\ud800\"",
					  "\"\\udc00\"",
					  "\"\x01\"",
					  "\"\xff\"",
					  "\"\xc0\x80\"",
					  "\"\xed\xa0\x80\"",
					  "\"\xf4\x90\x80\x80\"",
					  "{} {}",
					  "[1]]",
					  "{1:2}",
					  "\"a\"\"b\""};

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		CHECK(json_valid(good[i], strlen(good[i])));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (json_valid(bad[i], strlen(bad[i])))
			printf("  checker accepted %s\n", bad[i]);
		CHECK(!json_valid(bad[i], strlen(bad[i])));
	}
	char out[16];
	size_t n;
	CHECK(json_decode_string("\"a\\u00e9\\n\"", 11, out, &n));
	CHECK_EQ_INT(n, 4);
	CHECK(memcmp(out, "a\xc3\xa9\n", 4) == 0);
}

int main(void)
{
	RUN(test_bare_words);
	RUN(test_blank_lines);
	RUN(test_cr);
	RUN(test_strings);
	RUN(test_escapes);
	RUN(test_surrogates);
	RUN(test_nul_escape_refused);
	RUN(test_unterminated);
	RUN(test_text_after_quote);
	RUN(test_quote_inside_bare_word);
	RUN(test_max_args);
	RUN(test_control_bytes);
	RUN(test_nul_bytes);
	RUN(test_long_line);
	RUN(test_checker_self_test);
	RUN(test_json_flat);
	RUN(test_json_nested);
	RUN(test_json_deep_nesting);
	RUN(test_json_escapes);
	RUN(test_json_invalid_utf8);
	RUN(test_json_valid_utf8_passes);
	RUN(test_json_round_trip);
	RUN(test_json_overflow_every_capacity);
	RUN(test_json_finish_twice_and_after_overflow);
	RUN(test_json_error_line);
	return check_summary();
}
