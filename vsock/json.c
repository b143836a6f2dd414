/* A small JSON writer into fixed buffers. Pure. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "vsock/vsock.h"

void jw_init(struct jw *w, char *buf, size_t cap)
{
	memset(w, 0, sizeof(*w));
	w->buf = buf;
	w->cap = cap;
	if (cap)
		buf[0] = 0;
}

static void put(struct jw *w, const char *s, size_t n)
{
	if (w->overflow)
		return;
	/* Keep one byte for the terminating NUL and one for the newline. */
	if (w->len + n + 2 > w->cap) {
		w->overflow = true;
		return;
	}
	memcpy(w->buf + w->len, s, n);
	w->len += n;
	w->buf[w->len] = 0;
}

static void putc_(struct jw *w, char ch)
{
	put(w, &ch, 1);
}

/* Commas between members are decided per nesting level. */
static void before_value(struct jw *w)
{
	uint32_t bit = 1u << (w->depth & 31);

	if (w->need_comma & bit)
		putc_(w, ',');
	w->need_comma |= bit;
}

/* The comma bitmask has one bit per level: deeper output is refused
 * rather than written wrong. */
#define JW_MAX_DEPTH 31

static void open_(struct jw *w, char ch)
{
	if (w->depth >= JW_MAX_DEPTH) {
		w->overflow = true;
		return;
	}
	before_value(w);
	putc_(w, ch);
	w->depth++;
	w->need_comma &= ~(1u << (w->depth & 31));
}

static void close_(struct jw *w, char ch)
{
	if (w->depth)
		w->depth--;
	putc_(w, ch);
}

void jw_obj_open(struct jw *w)
{
	open_(w, '{');
}

void jw_obj_close(struct jw *w)
{
	close_(w, '}');
}

void jw_arr_open(struct jw *w)
{
	open_(w, '[');
}

void jw_arr_close(struct jw *w)
{
	close_(w, ']');
}

/* Length of the valid UTF-8 sequence at s (1..4), or 0 when invalid. */
static size_t utf8_seq_len(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	size_t len;
	uint32_t cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2, cp = c & 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3, cp = c & 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4, cp = c & 0x07;
	else
		return 0;
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	/* Overlong forms, surrogates and values past U+10FFFF are invalid. */
	if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

static void put_escaped(struct jw *w, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	putc_(w, '"');
	while (i < n) {
		unsigned char c = p[i];
		size_t run = 0;
		char esc[8];

		if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)c;
			put(w, esc, 2);
			i++;
		} else if (c == '\n') {
			put(w, "\\n", 2), i++;
		} else if (c == '\t') {
			put(w, "\\t", 2), i++;
		} else if (c == '\r') {
			put(w, "\\r", 2), i++;
		} else if (c < 0x20 || c == 0x7f) {
			snprintf(esc, sizeof(esc), "\\u%04x", c);
			put(w, esc, 6);
			i++;
		} else if ((run = utf8_seq_len(p + i, n - i)) == 0) {
			put(w, "\\ufffd", 6);
			i++;
		} else {
			put(w, s + i, run);
			i += run;
		}
	}
	putc_(w, '"');
}

void jw_key(struct jw *w, const char *key)
{
	before_value(w);
	put_escaped(w, key, strlen(key));
	putc_(w, ':');
	/* The value that follows must not get a comma of its own. */
	w->need_comma &= ~(1u << (w->depth & 31));
}

static void value_done(struct jw *w)
{
	w->need_comma |= 1u << (w->depth & 31);
}

void jw_strn(struct jw *w, const char *s, size_t n)
{
	before_value(w);
	put_escaped(w, s ? s : "", s ? n : 0);
	value_done(w);
}

void jw_str(struct jw *w, const char *s)
{
	jw_strn(w, s, s ? strlen(s) : 0);
}

void jw_u64(struct jw *w, uint64_t v)
{
	char num[24];
	int n = snprintf(num, sizeof(num), "%" PRIu64, v);

	before_value(w);
	put(w, num, (size_t)n);
}

void jw_i64(struct jw *w, int64_t v)
{
	char num[24];
	int n = snprintf(num, sizeof(num), "%" PRId64, v);

	before_value(w);
	put(w, num, (size_t)n);
}

void jw_bool(struct jw *w, bool v)
{
	before_value(w);
	if (v)
		put(w, "true", 4);
	else
		put(w, "false", 5);
}

void jw_null(struct jw *w)
{
	before_value(w);
	put(w, "null", 4);
}

size_t jw_finish(struct jw *w)
{
	if (w->overflow || w->len + 1 >= w->cap)
		return 0;
	w->buf[w->len++] = '\n';
	w->buf[w->len] = 0;
	return w->len;
}

void jw_error_open(struct jw *w, const char *code, const char *msg)
{
	jw_obj_open(w);
	jw_key(w, "ok");
	jw_bool(w, false);
	jw_key(w, "error");
	jw_str(w, code);
	jw_key(w, "message");
	jw_str(w, msg);
}

size_t jw_error_line(char *buf, size_t cap, const char *code, const char *msg)
{
	struct jw w;

	jw_init(&w, buf, cap);
	jw_error_open(&w, code, msg);
	jw_obj_close(&w);
	return jw_finish(&w);
}

int hex_digit(int ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

size_t utf8_put(char *dst, uint32_t cp)
{
	if (cp < 0x80) {
		dst[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		dst[0] = (char)(0xc0 | cp >> 6);
		dst[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		dst[0] = (char)(0xe0 | cp >> 12);
		dst[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		dst[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	dst[0] = (char)(0xf0 | cp >> 18);
	dst[1] = (char)(0x80 | (cp >> 12 & 0x3f));
	dst[2] = (char)(0x80 | (cp >> 6 & 0x3f));
	dst[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

char json_escape_char(int ch)
{
	switch (ch) {
	case '"':
	case '\\':
	case '/':
		return (char)ch;
	case 'b':
		return '\b';
	case 'f':
		return '\f';
	case 'n':
		return '\n';
	case 'r':
		return '\r';
	case 't':
		return '\t';
	default:
		return 0;
	}
}
