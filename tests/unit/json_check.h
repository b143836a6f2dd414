/* A strict RFC 8259 JSON checker and string decoder, with its own UTF-8
 * decoder, shared by tests/unit/test_proto.c and tests/fuzz/fuzz_proto.c to
 * check what the writer in vsock/json.c produces. Everything is static. */
#ifndef TASKINIT_TESTS_JSON_CHECK_H
#define TASKINIT_TESTS_JSON_CHECK_H

#include <stddef.h>
#include <stdint.h>

struct jc {
	const unsigned char *p, *end;
	unsigned depth;
};

/* Length (1..4) of the well-formed UTF-8 sequence at p, or 0. */
static size_t jc_utf8(const unsigned char *p, const unsigned char *end, uint32_t *cp)
{
	size_t n = (size_t)(end - p), len;
	uint32_t v, min;

	if (p[0] < 0x80) {
		*cp = p[0];
		return 1;
	}
	if ((p[0] & 0xe0) == 0xc0)
		len = 2, v = p[0] & 0x1fu, min = 0x80;
	else if ((p[0] & 0xf0) == 0xe0)
		len = 3, v = p[0] & 0x0fu, min = 0x800;
	else if ((p[0] & 0xf8) == 0xf0)
		len = 4, v = p[0] & 0x07u, min = 0x10000;
	else
		return 0;
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		v = v << 6 | (p[i] & 0x3fu);
	}
	if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
		return 0;
	*cp = v;
	return len;
}

static size_t jc_put_utf8(unsigned char *d, uint32_t cp)
{
	if (cp < 0x80) {
		d[0] = (unsigned char)cp;
		return 1;
	}
	if (cp < 0x800) {
		d[0] = (unsigned char)(0xc0 | cp >> 6);
		d[1] = (unsigned char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		d[0] = (unsigned char)(0xe0 | cp >> 12);
		d[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
		d[2] = (unsigned char)(0x80 | (cp & 0x3f));
		return 3;
	}
	d[0] = (unsigned char)(0xf0 | cp >> 18);
	d[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3f));
	d[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
	d[3] = (unsigned char)(0x80 | (cp & 0x3f));
	return 4;
}

static void jc_ws(struct jc *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
		j->p++;
}

static int jc_hex4(struct jc *j, uint32_t *out)
{
	uint32_t v = 0;

	if (j->end - j->p < 4)
		return 0;
	for (int i = 0; i < 4; i++) {
		unsigned char c = j->p[i];
		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= c - '0';
		else if (c >= 'a' && c <= 'f')
			v |= c - 'a' + 10u;
		else if (c >= 'A' && c <= 'F')
			v |= c - 'A' + 10u;
		else
			return 0;
	}
	j->p += 4;
	*out = v;
	return 1;
}

/* A string at j->p; decoded bytes go to out (when not NULL; never longer
 * than the encoded form). Lone surrogate escapes are refused: the writer
 * never produces them. */
static int jc_string(struct jc *j, unsigned char *out, size_t *out_len)
{
	size_t n = 0;

	if (j->p >= j->end || *j->p != '"')
		return 0;
	j->p++;
	for (;;) {
		unsigned char tmp[4];
		size_t k;
		uint32_t cp;

		if (j->p >= j->end)
			return 0;
		unsigned char c = *j->p;
		if (c == '"') {
			j->p++;
			break;
		}
		if (c < 0x20)
			return 0;
		if (c != '\\') {
			k = jc_utf8(j->p, j->end, &cp);
			if (!k)
				return 0;
			memcpy(tmp, j->p, k);
			j->p += k;
		} else {
			if (++j->p >= j->end)
				return 0;
			c = *j->p++;
			switch (c) {
			case '"':
			case '\\':
			case '/':
				tmp[0] = c;
				k = 1;
				break;
			case 'b':
				tmp[0] = '\b', k = 1;
				break;
			case 'f':
				tmp[0] = '\f', k = 1;
				break;
			case 'n':
				tmp[0] = '\n', k = 1;
				break;
			case 'r':
				tmp[0] = '\r', k = 1;
				break;
			case 't':
				tmp[0] = '\t', k = 1;
				break;
			case 'u':
				if (!jc_hex4(j, &cp))
					return 0;
				if (cp >= 0xdc00 && cp <= 0xdfff)
					return 0;
				if (cp >= 0xd800 && cp <= 0xdbff) {
					uint32_t lo;
					if (j->end - j->p < 2 || j->p[0] != '\\' || j->p[1] != 'u')
						return 0;
					j->p += 2;
					if (!jc_hex4(j, &lo) || lo < 0xdc00 || lo > 0xdfff)
						return 0;
					cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
				}
				k = jc_put_utf8(tmp, cp);
				break;
			default:
				return 0;
			}
		}
		if (out)
			memcpy(out + n, tmp, k);
		n += k;
	}
	if (out_len)
		*out_len = n;
	return 1;
}

static int jc_digits(struct jc *j)
{
	const unsigned char *s = j->p;

	while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
		j->p++;
	return j->p > s;
}

static int jc_number(struct jc *j)
{
	if (j->p < j->end && *j->p == '-')
		j->p++;
	if (j->p < j->end && *j->p == '0')
		j->p++;
	else if (!(j->p < j->end && *j->p >= '1' && *j->p <= '9' && jc_digits(j)))
		return 0;
	if (j->p < j->end && *j->p == '.') {
		j->p++;
		if (!jc_digits(j))
			return 0;
	}
	if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
		j->p++;
		if (j->p < j->end && (*j->p == '+' || *j->p == '-'))
			j->p++;
		if (!jc_digits(j))
			return 0;
	}
	return 1;
}

static int jc_lit(struct jc *j, const char *lit)
{
	size_t n = strlen(lit);

	if ((size_t)(j->end - j->p) < n || memcmp(j->p, lit, n) != 0)
		return 0;
	j->p += n;
	return 1;
}

static int jc_value(struct jc *j);

static int jc_members(struct jc *j, char close, int keyed)
{
	if (++j->depth > 512)
		return 0;
	j->p++;
	jc_ws(j);
	if (j->p < j->end && *j->p == close) {
		j->p++;
		j->depth--;
		return 1;
	}
	for (;;) {
		jc_ws(j);
		if (keyed) {
			if (!jc_string(j, NULL, NULL))
				return 0;
			jc_ws(j);
			if (j->p >= j->end || *j->p++ != ':')
				return 0;
		}
		if (!jc_value(j))
			return 0;
		jc_ws(j);
		if (j->p >= j->end)
			return 0;
		if (*j->p == ',') {
			j->p++;
			continue;
		}
		if (*j->p++ != close)
			return 0;
		j->depth--;
		return 1;
	}
}

static int jc_value(struct jc *j)
{
	jc_ws(j);
	if (j->p >= j->end)
		return 0;
	switch (*j->p) {
	case '{':
		return jc_members(j, '}', 1);
	case '[':
		return jc_members(j, ']', 0);
	case '"':
		return jc_string(j, NULL, NULL);
	case 't':
		return jc_lit(j, "true");
	case 'f':
		return jc_lit(j, "false");
	case 'n':
		return jc_lit(j, "null");
	default:
		return jc_number(j);
	}
}

/* 1 when s[0..n) is exactly one JSON value (whitespace around allowed). */
static int json_valid(const char *s, size_t n)
{
	struct jc j = {(const unsigned char *)s, (const unsigned char *)s + n, 0};

	if (!jc_value(&j))
		return 0;
	jc_ws(&j);
	return j.p == j.end;
}

/* Decodes s[0..n), which must be exactly one JSON string, into out. */
static int json_decode_string(const char *s, size_t n, char *out, size_t *out_len)
{
	struct jc j = {(const unsigned char *)s, (const unsigned char *)s + n, 0};

	return jc_string(&j, (unsigned char *)out, out_len) && j.p == j.end;
}

#endif
