/* Request line parsing. Pure: fuzzed by tests/fuzz/fuzz_proto.c. */
#include <string.h>

#include "vsock/vsock.h"

static int read_hex4(const char *p, const char *end, unsigned *out)
{
	unsigned v = 0;

	if (end - p < 4)
		return -1;
	for (int i = 0; i < 4; i++) {
		int h = hex_digit((unsigned char)p[i]);
		if (h < 0)
			return -1;
		v = v << 4 | (unsigned)h;
	}
	*out = v;
	return 0;
}

/* Decodes the \u escape at p (just past the 'u'); a high surrogate must be
 * followed by \u and a low one. Decoded text is never longer than its
 * escape, which is what makes in-place decoding safe. */
static const char *decode_unicode(const char *p, const char *end, char **dst, const char **err)
{
	unsigned cp, lo;

	if (read_hex4(p, end, &cp) < 0) {
		*err = "bad \\u escape in string";
		return NULL;
	}
	p += 4;
	if (cp >= 0xdc00 && cp <= 0xdfff) {
		*err = "lone low surrogate in string";
		return NULL;
	}
	if (cp >= 0xd800 && cp <= 0xdbff) {
		if (end - p < 6 || p[0] != '\\' || p[1] != 'u' || read_hex4(p + 2, end, &lo) < 0 ||
		    lo < 0xdc00 || lo > 0xdfff) {
			*err = "high surrogate without low surrogate";
			return NULL;
		}
		cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
		p += 6;
	}
	if (cp == 0) {
		*err = "\\u0000 is not allowed in arguments";
		return NULL;
	}
	*dst += utf8_put(*dst, cp);
	return p;
}

/* p points at the opening quote. Decodes in place; returns the position
 * just past the closing quote, or NULL with *err. */
static char *parse_string(char *p, char *end, const char **err)
{
	char *dst = p;
	const char *src = p + 1;

	while (src < end && *src != '"') {
		unsigned char ch = (unsigned char)*src;
		if (ch < 0x20) {
			*err = "control character in string (escape it)";
			return NULL;
		}
		if (ch != '\\') {
			*dst++ = *src++;
			continue;
		}
		if (++src >= end) {
			*err = "unterminated escape in string";
			return NULL;
		}
		if (*src == 'u') {
			src = decode_unicode(src + 1, end, &dst, err);
			if (!src)
				return NULL;
			continue;
		}
		char e = json_escape_char((unsigned char)*src);
		if (!e) {
			*err = "unknown escape in string";
			return NULL;
		}
		*dst++ = e;
		src++;
	}
	if (src >= end) {
		*err = "unterminated string";
		return NULL;
	}
	*dst = 0;
	return (char *)src + 1;
}

static bool is_blank(char ch)
{
	return ch == ' ' || ch == '\t';
}

int request_parse(char *line, size_t len, char **argv, int max_args, const char **err)
{
	char *p = line, *end = line + len;
	int argc = 0;

	*err = NULL;
	if (len && end[-1] == '\r')
		end--;
	while (p < end) {
		while (p < end && is_blank(*p))
			p++;
		if (p >= end)
			break;
		if (argc >= max_args) {
			*err = "too many arguments";
			return -1;
		}
		argv[argc++] = p;
		if (*p == '"') {
			char *next = parse_string(p, end, err);
			if (!next)
				return -1;
			if (next < end && !is_blank(*next)) {
				*err = "text right after a closing quote";
				return -1;
			}
			p = next;
			if (p < end)
				p++;
			continue;
		}
		while (p < end && !is_blank(*p)) {
			unsigned char ch = (unsigned char)*p;
			if (ch < 0x20 || ch == 0x7f) {
				*err = "control character in request (quote it as a JSON string)";
				return -1;
			}
			p++;
		}
		if (p < end)
			*p++ = 0;
	}
	/* The last bare word ends at `end`, which may be the '\r' or one past
	 * the buffer: terminate within the caller's len (+1 guaranteed). */
	*end = 0;
	return argc;
}
