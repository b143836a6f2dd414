/* taskctl's pure parsing: addresses, the hybrid handshake answer, request
 * quoting and a small JSON reader for replies. No I/O; fuzzed by
 * tests/fuzz/fuzz_taskctl.c. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vsock/taskctl.h"
#include "vsock/vsock.h"

/* ---- addresses ---- */

/* Digits only, 0 .. 2^32-1. */
static int parse_u32(const char *s, size_t n, uint32_t *out)
{
	uint64_t v = 0;

	if (n == 0 || n > 10)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v > UINT32_MAX)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

static int set_path(struct tc_addr *a, const char *p, size_t n, char *err, size_t cap)
{
	if (n == 0) {
		snprintf(err, cap, "the address has no socket path");
		return -1;
	}
	if (n >= sizeof(a->path)) {
		snprintf(err, cap, "socket path longer than %zu bytes", sizeof(a->path) - 1);
		return -1;
	}
	if (memchr(p, 0, n)) {
		snprintf(err, cap, "socket path holds a NUL byte");
		return -1;
	}
	memcpy(a->path, p, n);
	a->path[n] = 0;
	return 0;
}

int tc_parse_addr(const char *s, uint32_t default_port, struct tc_addr *a, char *err, size_t cap)
{
	memset(a, 0, sizeof(*a));
	a->port = default_port;
	if (!strncmp(s, "vsock:", 6)) {
		const char *cid = s + 6, *colon = strchr(cid, ':');
		size_t n = colon ? (size_t)(colon - cid) : strlen(cid);
		a->kind = TC_VSOCK;
		if (parse_u32(cid, n, &a->cid) < 0) {
			snprintf(err, cap, "vsock address wants a CID number: vsock:CID[:PORT]");
			return -1;
		}
		if (colon) {
			if (parse_u32(colon + 1, strlen(colon + 1), &a->port) < 0) {
				snprintf(err, cap, "bad vsock port in %.64s", s);
				return -1;
			}
			a->has_port = true;
		}
		return 0;
	}
	if (!strncmp(s, "hybrid:", 7)) {
		const char *p = s + 7, *colon = strrchr(p, ':');
		size_t n = strlen(p);
		uint32_t port;
		a->kind = TC_HYBRID;
		/* PATH:PORT when what follows the last colon is a number. */
		if (colon && parse_u32(colon + 1, strlen(colon + 1), &port) == 0) {
			n = (size_t)(colon - p);
			a->port = port;
			a->has_port = true;
		}
		return set_path(a, p, n, err, cap);
	}
	if (!strncmp(s, "unix:", 5)) {
		a->kind = TC_UNIX;
		return set_path(a, s + 5, strlen(s + 5), err, cap);
	}
	if (s[0] == '/') {
		a->kind = TC_UNIX;
		return set_path(a, s, strlen(s), err, cap);
	}
	snprintf(err, cap,
		 "unknown address \"%.64s\" (vsock:CID[:PORT], hybrid:PATH[:PORT], unix:PATH)", s);
	return -1;
}

void tc_format_addr(const struct tc_addr *a, char *out, size_t cap)
{
	if (a->kind == TC_VSOCK)
		snprintf(out, cap, "vsock:%u:%u", a->cid, a->port);
	else if (a->kind == TC_HYBRID)
		snprintf(out, cap, "hybrid:%s:%u", a->path, a->port);
	else
		snprintf(out, cap, "unix:%s", a->path);
}

int tc_parse_hybrid_reply(const char *line, size_t len, uint32_t *hostport)
{
	if (len && line[len - 1] == '\r')
		len--;
	if (len < 4 || memcmp(line, "OK ", 3) != 0)
		return -1;
	return parse_u32(line + 3, len - 3, hostport);
}

/* ---- request words ---- */

/* A word the agent's request parser gives back unchanged: not empty, no
 * blank or control byte, not starting with a quote. */
static bool bare_ok(const char *s)
{
	if (!*s || *s == '"')
		return false;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p <= 0x20 || *p == 0x7f)
			return false;
	return true;
}

size_t tc_quote_word(const char *arg, char *out, size_t cap)
{
	size_t n = 0;

#define PUT(ch)                                                                                    \
	do {                                                                                       \
		if (n + 1 < cap)                                                                   \
			out[n] = (ch);                                                             \
		n++;                                                                               \
	} while (0)

	if (bare_ok(arg)) {
		for (const char *p = arg; *p; p++)
			PUT(*p);
	} else {
		PUT('"');
		for (const unsigned char *p = (const unsigned char *)arg; *p; p++) {
			if (*p == '"' || *p == '\\') {
				PUT('\\');
				PUT((char)*p);
			} else if (*p < 0x20) {
				static const char hex[] = "0123456789abcdef";
				PUT('\\');
				PUT('u');
				PUT('0');
				PUT('0');
				PUT(hex[*p >> 4]);
				PUT(hex[*p & 15]);
			} else {
				/* Bytes >= 0x80 go raw: the agent keeps them as they are. */
				PUT((char)*p);
			}
		}
		PUT('"');
	}
#undef PUT
	if (cap)
		out[n < cap ? n : cap - 1] = 0;
	return n;
}

/* ---- text for a terminal ---- */

/* Length of the well-formed UTF-8 sequence at s (RFC 3629: no overlongs,
 * no surrogates, nothing above U+10FFFF), or 0. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t k;

	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		k = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		k = 3, lo = s[0] == 0xe0 ? 0xa0 : 0x80, hi = s[0] == 0xed ? 0x9f : 0xbf;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		k = 4, lo = s[0] == 0xf0 ? 0x90 : 0x80, hi = s[0] == 0xf4 ? 0x8f : 0xbf;
	else
		return 0;
	if (n < k || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < k; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return k;
}

size_t tc_escape_text(const char *text, size_t len, char *out, size_t cap)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *s = (const unsigned char *)text;
	size_t n = 0, w = 0; /* needed, written (whole units only) */

	for (size_t i = 0, k; i < len; i += k) {
		char unit[8];
		size_t u = 0;
		unsigned ch = s[i];
		k = 1;
		if (ch == '\t' || ch == '\n' || ch == '\r') {
			unit[u++] = '\\';
			unit[u++] = ch == '\t' ? 't' : ch == '\n' ? 'n' : 'r';
		} else if (ch < 0x20 || ch == 0x7f) {
			memcpy(unit, "\\x", 2), u = 2;
			unit[u++] = hex[ch >> 4], unit[u++] = hex[ch & 15];
		} else if (ch < 0x80) {
			unit[u++] = (char)ch;
		} else if ((k = utf8_len(s + i, len - i)) == 0) {
			/* Not UTF-8: a lone 0x9b would be CSI to an 8-bit terminal. */
			k = 1;
			memcpy(unit, "\\x", 2), u = 2;
			unit[u++] = hex[ch >> 4], unit[u++] = hex[ch & 15];
		} else if (ch == 0xc2 && s[i + 1] <= 0x9f) {
			/* U+0080-U+009F: the C1 controls, CSI (U+009B) among them. */
			memcpy(unit, "\\u00", 4), u = 4;
			unit[u++] = hex[s[i + 1] >> 4], unit[u++] = hex[s[i + 1] & 15];
		} else {
			memcpy(unit, s + i, k), u = k;
		}
		if (w == n && n + u < cap) {
			memcpy(out + n, unit, u);
			w += u;
		}
		n += u;
	}
	if (cap)
		out[w] = 0;
	return n;
}

/* ---- JSON ---- */

struct tjp {
	const unsigned char *p, *end;
	unsigned depth;
	const char *err;
};

static void skip_ws(struct tjp *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
		j->p++;
}

static struct tj *new_node(struct tjp *j, enum tj_type type)
{
	struct tj *v = calloc(1, sizeof(*v));

	if (!v)
		j->err = "out of memory";
	else
		v->type = type;
	return v;
}

static int hex4(struct tjp *j, uint32_t *out)
{
	uint32_t v = 0;

	if (j->end - j->p < 4)
		return -1;
	for (int i = 0; i < 4; i++) {
		unsigned char c = j->p[i];
		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (uint32_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (uint32_t)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (uint32_t)(c - 'A' + 10);
		else
			return -1;
	}
	j->p += 4;
	*out = v;
	return 0;
}

static int unicode_escape(struct tjp *j, char *dst, size_t *n)
{
	uint32_t cp, lo;

	if (hex4(j, &cp) < 0)
		return -1;
	if (cp >= 0xdc00 && cp <= 0xdfff)
		return -1;
	if (cp >= 0xd800 && cp <= 0xdbff) {
		if (j->end - j->p < 2 || j->p[0] != '\\' || j->p[1] != 'u')
			return -1;
		j->p += 2;
		if (hex4(j, &lo) < 0 || lo < 0xdc00 || lo > 0xdfff)
			return -1;
		cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
	}
	*n += utf8_put(dst + *n, cp);
	return 0;
}

/* A string at j->p (the opening quote). The decoded form is never longer
 * than the encoded one, so one allocation of that size is enough. */
static char *parse_string(struct tjp *j, size_t *out_len)
{
	const unsigned char *q = ++j->p;

	while (q < j->end && *q != '"')
		q += *q == '\\' && q + 1 < j->end ? 2 : 1;
	char *s = malloc((size_t)(q - j->p) + 1);
	size_t n = 0;

	if (!s) {
		j->err = "out of memory";
		return NULL;
	}
	for (;;) {
		if (j->p >= j->end)
			goto bad;
		unsigned char c = *j->p++;
		if (c == '"')
			break;
		if (c < 0x20)
			goto bad;
		if (c != '\\') {
			s[n++] = (char)c;
			continue;
		}
		if (j->p >= j->end)
			goto bad;
		c = *j->p++;
		if (c == 'u') {
			if (unicode_escape(j, s, &n) < 0)
				goto bad;
		} else if (json_escape_char(c)) {
			s[n++] = json_escape_char(c);
		} else {
			goto bad;
		}
	}
	s[n] = 0;
	*out_len = n;
	return s;
bad:
	free(s);
	j->err = "bad string";
	return NULL;
}

static int digits(struct tjp *j)
{
	const unsigned char *s = j->p;

	while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
		j->p++;
	return j->p > s ? 0 : -1;
}

static struct tj *parse_number(struct tjp *j)
{
	const unsigned char *s = j->p;
	bool integer = true;
	char tmp[64];

	if (j->p < j->end && *j->p == '-')
		j->p++;
	if (j->p < j->end && *j->p == '0')
		j->p++;
	else if (j->p >= j->end || *j->p < '1' || *j->p > '9' || digits(j) < 0)
		goto bad;
	if (j->p < j->end && *j->p == '.') {
		j->p++;
		integer = false;
		if (digits(j) < 0)
			goto bad;
	}
	if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
		j->p++;
		integer = false;
		if (j->p < j->end && (*j->p == '+' || *j->p == '-'))
			j->p++;
		if (digits(j) < 0)
			goto bad;
	}
	struct tj *v = new_node(j, TJ_NUM);
	if (!v)
		return NULL;
	size_t n = (size_t)(j->p - s);
	if (n >= sizeof(tmp))
		n = sizeof(tmp) - 1; /* only the value's precision suffers */
	memcpy(tmp, s, n);
	tmp[n] = 0;
	v->num = strtod(tmp, NULL);
	if (integer && n == (size_t)(j->p - s)) {
		errno = 0;
		long long i = strtoll(tmp, NULL, 10);
		if (!errno) {
			v->is_int = true;
			v->i = i;
		}
	}
	return v;
bad:
	j->err = "bad number";
	return NULL;
}

static int literal(struct tjp *j, const char *lit)
{
	size_t n = strlen(lit);

	if ((size_t)(j->end - j->p) < n || memcmp(j->p, lit, n) != 0) {
		j->err = "bad literal";
		return -1;
	}
	j->p += n;
	return 0;
}

static struct tj *parse_value(struct tjp *j);

static struct tj *parse_members(struct tjp *j, bool keyed)
{
	char close = keyed ? '}' : ']';
	struct tj *v = new_node(j, keyed ? TJ_OBJ : TJ_ARR), **tail;

	if (!v)
		return NULL;
	if (++j->depth > TJ_MAX_DEPTH) {
		j->err = "nested too deep";
		free(v);
		return NULL;
	}
	tail = &v->child;
	j->p++;
	skip_ws(j);
	if (j->p < j->end && *j->p == close) {
		j->p++;
		j->depth--;
		return v;
	}
	for (;;) {
		char *key = NULL;
		size_t klen;
		skip_ws(j);
		if (keyed) {
			if (j->p >= j->end || *j->p != '"' || !(key = parse_string(j, &klen)))
				goto bad;
			skip_ws(j);
			if (j->p >= j->end || *j->p++ != ':') {
				free(key);
				goto bad;
			}
		}
		struct tj *m = parse_value(j);
		if (!m) {
			free(key);
			goto bad;
		}
		m->key = key;
		*tail = m;
		tail = &m->next;
		skip_ws(j);
		if (j->p >= j->end)
			goto bad;
		if (*j->p == ',') {
			j->p++;
			continue;
		}
		if (*j->p++ != close)
			goto bad;
		j->depth--;
		return v;
	}
bad:
	if (!j->err)
		j->err = keyed ? "bad object" : "bad array";
	tj_free(v);
	return NULL;
}

static struct tj *parse_value(struct tjp *j)
{
	struct tj *v;

	skip_ws(j);
	if (j->p >= j->end) {
		j->err = "no value";
		return NULL;
	}
	switch (*j->p) {
	case '{':
		return parse_members(j, true);
	case '[':
		return parse_members(j, false);
	case '"': {
		size_t n;
		char *s = parse_string(j, &n);
		if (!s)
			return NULL;
		if (!(v = new_node(j, TJ_STR))) {
			free(s);
			return NULL;
		}
		v->str = s;
		v->len = n;
		return v;
	}
	case 't':
	case 'f': {
		bool truth = *j->p == 't';
		if (literal(j, truth ? "true" : "false") < 0)
			return NULL;
		if ((v = new_node(j, TJ_BOOL)))
			v->b = truth;
		return v;
	}
	case 'n':
		if (literal(j, "null") < 0)
			return NULL;
		return new_node(j, TJ_NULL);
	default:
		return parse_number(j);
	}
}

struct tj *tj_parse(const char *text, size_t len, const char **err)
{
	struct tjp j = {(const unsigned char *)text, (const unsigned char *)text + len, 0, NULL};
	struct tj *v = parse_value(&j);

	if (v) {
		skip_ws(&j);
		if (j.p != j.end) {
			tj_free(v);
			v = NULL;
			j.err = "text after the value";
		}
	}
	if (!v && err)
		*err = j.err ? j.err : "bad JSON";
	return v;
}

void tj_free(struct tj *v)
{
	/* Siblings iteratively; depth is bounded by TJ_MAX_DEPTH. */
	while (v) {
		struct tj *next = v->next;
		tj_free(v->child);
		free(v->str);
		free(v->key);
		free(v);
		v = next;
	}
}

const struct tj *tj_get(const struct tj *v, const char *key)
{
	if (!v || v->type != TJ_OBJ)
		return NULL;
	for (const struct tj *m = v->child; m; m = m->next)
		if (!strcmp(m->key, key))
			return m;
	return NULL;
}

int64_t tj_int(const struct tj *v, int64_t dflt)
{
	return v && v->type == TJ_NUM && v->is_int ? v->i : dflt;
}

const char *tj_str(const struct tj *v, const char *dflt)
{
	return v && v->type == TJ_STR ? v->str : dflt;
}

bool tj_is_true(const struct tj *v)
{
	return v && v->type == TJ_BOOL && v->b;
}

/* ---- cp's command line ---- */

/* 1-5 octal digits, at most 07777 (the agent's own limit). */
static bool mode_ok(const char *s)
{
	size_t n = strlen(s);
	unsigned long v = 0;

	if (n == 0 || n > 5)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '7')
			return false;
		v = v * 8 + (unsigned long)(s[i] - '0');
	}
	return v <= 07777;
}

/* UID or UID:GID, each digits fitting 32 bits. */
static bool owner_ok(const char *s)
{
	const char *colon = strchr(s, ':');
	uint32_t id;

	if (!colon)
		return parse_u32(s, strlen(s), &id) == 0;
	return parse_u32(s, (size_t)(colon - s), &id) == 0 &&
	       parse_u32(colon + 1, strlen(colon + 1), &id) == 0;
}

int tc_parse_cp(char **argv, int argc, struct tc_cp *o, char *err, size_t cap)
{
	const char *pos[2];
	int npos = 0;
	bool opts_done = false;

	memset(o, 0, sizeof(*o));
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		if (!opts_done && !strcmp(a, "--")) {
			opts_done = true;
		} else if (!opts_done && (!strcmp(a, "--mode") || !strcmp(a, "--owner"))) {
			if (i + 1 >= argc) {
				snprintf(err, cap, "cp: %s needs a value", a);
				return -1;
			}
			*(a[2] == 'm' ? &o->mode : &o->owner) = argv[++i];
		} else if (!opts_done && a[0] == '-' && a[1]) {
			snprintf(err, cap, "cp: unknown option %.64s (a file named so: after --)",
				 a);
			return -1;
		} else if (npos == 2) {
			snprintf(err, cap, "cp copies one file: SRC DST, and then what is %.64s?",
				 a);
			return -1;
		} else {
			pos[npos++] = a;
		}
	}
	if (npos < 2) {
		snprintf(err, cap, "cp needs SRC and DST (the guest's side as :/PATH)");
		return -1;
	}
	if ((pos[0][0] == ':') == (pos[1][0] == ':')) {
		snprintf(err, cap,
			 "cp copies between here and the guest: exactly one of SRC and "
			 "DST is the guest's, written :/PATH");
		return -1;
	}
	o->upload = pos[1][0] == ':';
	o->local = o->upload ? pos[0] : pos[1];
	o->remote = (o->upload ? pos[1] : pos[0]) + 1;
	if (o->remote[0] != '/') {
		snprintf(err, cap, "guest paths are absolute: :/%.64s, not :%.64s", o->remote,
			 o->remote);
		return -1;
	}
	if (!o->local[0]) {
		snprintf(err, cap, "cp: an empty local path");
		return -1;
	}
	if (o->mode && !mode_ok(o->mode)) {
		snprintf(err, cap, "cp: --mode takes octal up to 07777, not %.64s", o->mode);
		return -1;
	}
	if (o->owner && !o->upload) {
		snprintf(err, cap, "cp: --owner is for copies into the guest");
		return -1;
	}
	if (o->owner && !owner_ok(o->owner)) {
		snprintf(err, cap, "cp: --owner takes UID[:GID] as numbers, not %.64s", o->owner);
		return -1;
	}
	if (!o->upload && o->mode && !strcmp(o->local, "-")) {
		snprintf(err, cap, "cp: --mode means nothing for stdout");
		return -1;
	}
	size_t n = strlen(o->remote);
	o->remote_dir = o->upload && o->remote[n - 1] == '/';
	if (o->remote_dir && !strcmp(o->local, "-")) {
		snprintf(err, cap, "cp from stdin needs a file name, not the directory %.64s",
			 o->remote);
		return -1;
	}
	return 0;
}

int tc_join_base(const char *dir, const char *path, char *out, size_t cap)
{
	size_t end = strlen(path), start;

	while (end && path[end - 1] == '/')
		end--;
	for (start = end; start && path[start - 1] != '/'; start--)
		;
	size_t n = end - start, d = strlen(dir);
	if (n == 0 || (n == 1 && path[start] == '.') ||
	    (n == 2 && path[start] == '.' && path[start + 1] == '.'))
		return -1;
	bool slash = d && dir[d - 1] != '/';
	if (d + slash + n + 1 > cap)
		return -1;
	memcpy(out, dir, d);
	if (slash)
		out[d++] = '/';
	memcpy(out + d, path + start, n);
	out[d + n] = 0;
	return 0;
}
