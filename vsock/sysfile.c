/* Pure parsing and formatting for the file, clock and entropy verbs. */
#include <stdio.h>
#include <string.h>

#include "init/init.h"
#include "vsock/sysfile.h"
#include "vsock/vsock.h"

int fx_check_path(const char *path, bool need_name, const char **why)
{
	size_t len = strlen(path), comp = 0;

	if (!len) {
		*why = "empty path";
		return -1;
	}
	if (path[0] != '/') {
		*why = "not an absolute path (it must start with /)";
		return -1;
	}
	if (len > FX_PATH_MAX) {
		*why = "path longer than 4095 bytes";
		return -1;
	}
	for (size_t i = 0; i < len; i++) {
		if (path[i] == '/') {
			comp = 0;
		} else if (++comp > FX_NAME_MAX) {
			*why = "a path component is longer than 255 bytes";
			return -1;
		}
	}
	if (need_name) {
		const char *last = strrchr(path, '/') + 1;
		if (!*last || !strcmp(last, ".") || !strcmp(last, "..")) {
			*why = "the path must end in a name (not /, . or ..)";
			return -1;
		}
	}
	return 0;
}

int fx_parse_u64(const char *s, uint64_t *out)
{
	uint64_t v = 0;

	if (!*s)
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		unsigned d = (unsigned)(*s - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

int fx_parse_mode(const char *s, unsigned *mode)
{
	unsigned v = 0;
	size_t n = strlen(s);

	if (!n || n > 5)
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '7')
			return -1;
		v = v * 8 + (unsigned)(*s - '0');
	}
	if (v > 07777)
		return -1;
	*mode = v;
	return 0;
}

static int parse_id(const char *s, size_t n, uint32_t *out)
{
	char buf[16];
	uint64_t v;

	if (!n || n >= sizeof(buf))
		return -1;
	memcpy(buf, s, n);
	buf[n] = 0;
	if (fx_parse_u64(buf, &v) < 0 || v >= UINT32_MAX)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

int fx_parse_owner(const char *s, uint32_t *uid, uint32_t *gid)
{
	const char *colon = strchr(s, ':');

	if (!colon) {
		*gid = 0;
		return parse_id(s, strlen(s), uid);
	}
	if (parse_id(s, (size_t)(colon - s), uid) < 0)
		return -1;
	return parse_id(colon + 1, strlen(colon + 1), gid);
}

enum fx_write_status fx_parse_write(int argc, char **argv, struct fx_write_args *wa, char *msg,
				    size_t cap)
{
	const char *why;

	memset(wa, 0, sizeof(*wa));
	if (argc < 2 || parse_size(argv[1], &wa->size) < 0) {
		snprintf(msg, cap, "write PATH SIZE: SIZE must be a byte count (digits, K, M, G)");
		return FX_WRITE_NOSIZE;
	}
	if (wa->size > FX_WRITE_MAX) {
		snprintf(msg, cap, "write of %llu bytes: the limit is %llu (64 GiB)",
			 (unsigned long long)wa->size, (unsigned long long)FX_WRITE_MAX);
		return FX_WRITE_TOOBIG;
	}
	wa->path = argv[0];
	if (fx_check_path(argv[0], true, &why) < 0) {
		snprintf(msg, cap, "%s", why);
		return FX_WRITE_BAD;
	}
	for (int i = 2; i < argc; i += 2) {
		const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!v) {
			snprintf(msg, cap, "%.32s needs a value", o);
			return FX_WRITE_BAD;
		}
		if (!strcmp(o, "--mode")) {
			if (fx_parse_mode(v, &wa->mode) < 0) {
				snprintf(msg, cap, "--mode takes octal permission bits (0644)");
				return FX_WRITE_BAD;
			}
			wa->have_mode = true;
		} else if (!strcmp(o, "--owner")) {
			if (fx_parse_owner(v, &wa->uid, &wa->gid) < 0) {
				snprintf(msg, cap, "--owner takes UID or UID:GID (numbers)");
				return FX_WRITE_BAD;
			}
			wa->have_owner = true;
		} else {
			snprintf(msg, cap, "unknown option %.32s (--mode, --owner)", o);
			return FX_WRITE_BAD;
		}
	}
	return FX_WRITE_OK;
}

int fx_parse_read(int argc, char **argv, struct fx_read_args *ra, char *msg, size_t cap)
{
	const char *why;

	memset(ra, 0, sizeof(*ra));
	if (argc < 1) {
		snprintf(msg, cap, "usage: read PATH [--offset N] [--length N]");
		return -1;
	}
	ra->path = argv[0];
	if (fx_check_path(argv[0], false, &why) < 0) {
		snprintf(msg, cap, "%s", why);
		return -1;
	}
	for (int i = 1; i < argc; i += 2) {
		const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		uint64_t n;
		if (!v || fx_parse_u64(v, &n) < 0) {
			snprintf(msg, cap, "%.32s takes a byte count (digits)", o);
			return -1;
		}
		if (!strcmp(o, "--offset")) {
			ra->offset = n;
		} else if (!strcmp(o, "--length")) {
			ra->length = n;
			ra->have_length = true;
		} else {
			snprintf(msg, cap, "unknown option %.32s (--offset, --length)", o);
			return -1;
		}
	}
	return 0;
}

/* ---- time ---- */

/* Days since 1970-01-01 of a proleptic Gregorian date (month 1-12). Years
 * are counted from March so the leap day ends a year. */
static int64_t days_from_date(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);			/* 0..399 */
	unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1; /* 0..365 */
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;		/* 0..146096 */
	return era * 146097 + (int64_t)doe - 719468;
}

static void date_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;

	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static bool is_leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static unsigned month_days(int64_t y, unsigned m)
{
	static const unsigned char days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

/* Exactly n decimal digits at *p; advances *p. */
static int digits(const char **p, unsigned n, unsigned *out)
{
	unsigned v = 0;

	for (unsigned i = 0; i < n; i++) {
		char ch = (*p)[i];
		if (ch < '0' || ch > '9')
			return -1;
		v = v * 10 + (unsigned)(ch - '0');
	}
	*p += n;
	*out = v;
	return 0;
}

/* ".123" after a seconds field: 1-9 digits as nanoseconds. */
static int fraction(const char **p, int64_t *ns)
{
	const char *s = *p;
	int64_t v = 0, scale = 100000000;
	unsigned n = 0;

	*ns = 0;
	if (*s != '.')
		return 0;
	for (s++; *s >= '0' && *s <= '9'; s++, n++) {
		if (n == 9)
			return -1;
		v += (*s - '0') * scale;
		scale /= 10;
	}
	if (!n)
		return -1;
	*p = s;
	*ns = v;
	return 0;
}

static int parse_rfc3339(const char *s, int64_t *sec, int64_t *ns)
{
	unsigned y, mo, d, h, mi, se, oh = 0, om = 0;
	int sign = 0;

	if (digits(&s, 4, &y) || *s++ != '-' || digits(&s, 2, &mo) || *s++ != '-' ||
	    digits(&s, 2, &d))
		return -1;
	if (*s != 'T' && *s != 't' && *s != ' ')
		return -1;
	s++;
	if (digits(&s, 2, &h) || *s++ != ':' || digits(&s, 2, &mi) || *s++ != ':' ||
	    digits(&s, 2, &se) || fraction(&s, ns))
		return -1;
	if (*s == 'Z' || *s == 'z') {
		s++;
	} else if (*s == '+' || *s == '-') {
		sign = *s++ == '-' ? -1 : 1;
		if (digits(&s, 2, &oh) || *s++ != ':' || digits(&s, 2, &om) || oh > 23 || om > 59)
			return -1;
	} else {
		return -1;
	}
	if (*s || mo < 1 || mo > 12 || d < 1 || d > month_days(y, mo) || h > 23 || mi > 59 ||
	    se > 59)
		return -1;
	*sec = days_from_date(y, mo, d) * 86400 + h * 3600 + mi * 60 + se -
	       sign * (int64_t)(oh * 3600 + om * 60);
	return 0;
}

/* "SEC.FRAC" (the fraction is required, so plain digits stay ns). */
static int parse_sec_frac(const char *s, int64_t *sec, int64_t *ns)
{
	const char *dot = strchr(s, '.');
	char buf[24];
	uint64_t v;

	if (!dot || dot == s || (size_t)(dot - s) >= sizeof(buf))
		return -1;
	memcpy(buf, s, (size_t)(dot - s));
	buf[dot - s] = 0;
	if (fx_parse_u64(buf, &v) < 0 || v > (uint64_t)FX_CLOCK_CEIL_S * 4)
		return -1;
	if (fraction(&dot, ns) < 0 || *dot)
		return -1;
	*sec = (int64_t)v;
	return 0;
}

int fx_parse_time(const char *s, int64_t *ns, char *msg, size_t cap)
{
	static const char forms[] = "TIME is ns since the epoch (digits), SEC.FRAC "
				    "(1795000000.5) or RFC 3339 (2026-11-23T12:09:00Z)";
	int64_t sec = 0, frac = 0;
	uint64_t v;
	char when[48];

	if (fx_parse_u64(s, &v) == 0) {
		if (v >= (uint64_t)FX_CLOCK_CEIL_S * 1000000000ull) {
			snprintf(msg, cap, "%.24s ns is after 2200-01-01T00:00:00Z", s);
			return -2;
		}
		sec = (int64_t)(v / 1000000000u);
		frac = (int64_t)(v % 1000000000u);
	} else if (strchr(s, '-') && s[0] != '-') {
		if (parse_rfc3339(s, &sec, &frac) < 0) {
			snprintf(msg, cap, "not an RFC 3339 time in UTC: %s", forms);
			return -1;
		}
	} else if (parse_sec_frac(s, &sec, &frac) < 0) {
		snprintf(msg, cap, "%s", s[0] == '-' ? "negative time" : forms);
		return -1;
	}
	if (sec < FX_CLOCK_FLOOR_S || sec >= FX_CLOCK_CEIL_S) {
		if (sec > -FX_CLOCK_CEIL_S && sec < FX_CLOCK_CEIL_S)
			fx_format_time(sec * 1000000000 + frac, when, sizeof(when));
		else
			snprintf(when, sizeof(when), "%.24s", s);
		snprintf(
		    msg, cap, "%s is outside 2024-01-01T00:00:00Z..2200-01-01T00:00:00Z%s", when,
		    sec < FX_CLOCK_FLOOR_S && !strchr(s, '.') && !strchr(s, '-')
			? " (plain digits are nanoseconds: seconds need a fraction, 1795000000.0)"
			: "");
		return -2;
	}
	*ns = sec * 1000000000 + frac;
	return 0;
}

size_t fx_format_time(int64_t ns, char *buf, size_t cap)
{
	int64_t sec = ns / 1000000000, frac = ns % 1000000000, y;
	unsigned m, d;
	char fr[16] = "";

	if (frac < 0) {
		frac += 1000000000;
		sec--;
	}
	int64_t days = sec / 86400, rem = sec % 86400;
	if (rem < 0) {
		rem += 86400;
		days--;
	}
	date_from_days(days, &y, &m, &d);
	if (frac) {
		snprintf(fr, sizeof(fr), ".%09lld", (long long)frac);
		for (size_t n = strlen(fr); fr[n - 1] == '0'; n--)
			fr[n - 1] = 0;
	}
	int n =
	    snprintf(buf, cap, "%04lld-%02u-%02uT%02u:%02u:%02u%sZ", (long long)y, m, d,
		     (unsigned)(rem / 3600), (unsigned)(rem / 60 % 60), (unsigned)(rem % 60), fr);
	return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

/* ---- entropy data ---- */

long fx_decode_hex(const char *s, uint8_t *out, size_t cap)
{
	size_t len = strlen(s);

	if (len % 2 || len / 2 > cap)
		return -1;
	for (size_t i = 0; i < len; i += 2) {
		int hi = hex_digit((unsigned char)s[i]), lo = hex_digit((unsigned char)s[i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		out[i / 2] = (uint8_t)(hi << 4 | lo);
	}
	return (long)(len / 2);
}

static int b64_value(char ch)
{
	if (ch >= 'A' && ch <= 'Z')
		return ch - 'A';
	if (ch >= 'a' && ch <= 'z')
		return ch - 'a' + 26;
	if (ch >= '0' && ch <= '9')
		return ch - '0' + 52;
	return ch == '+' ? 62 : ch == '/' ? 63 : -1;
}

long fx_decode_base64(const char *s, uint8_t *out, size_t cap)
{
	size_t len = strlen(s), n = 0;
	uint32_t acc = 0;
	unsigned bits = 0;

	/* Padding: up to two '=' at the end, and only to a multiple of 4. */
	size_t pad = 0;
	while (len && s[len - 1] == '=' && pad < 3)
		len--, pad++;
	if (pad && ((len + pad) % 4 || pad > 2))
		return -1;
	if (len % 4 == 1)
		return -1;
	for (size_t i = 0; i < len; i++) {
		int v = b64_value(s[i]);
		if (v < 0)
			return -1;
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (n == cap)
				return -1;
			out[n++] = (uint8_t)(acc >> bits);
		}
	}
	/* Leftover bits must be zero (canonical form). */
	if (acc & ((1u << bits) - 1))
		return -1;
	return (long)n;
}
