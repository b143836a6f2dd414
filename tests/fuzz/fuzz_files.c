/* libFuzzer target for the file, clock and entropy verbs' parsers
 * (vsock/sysfile.c).
 *
 * The input is split at NUL bytes into words, used as:
 * 1. argv of `write` and `read`: never a crash; what is accepted satisfies
 *    the documented rules (absolute path, SIZE <= the limit, mode <= 07777,
 *    an owner below 2^32 - 1), and a word accepted as mode or owner prints
 *    back to a word that parses to the same value.
 * 2. a path: fx_check_path agrees with a reference checker.
 * 3. a setclock TIME: whatever is accepted lies in [floor, ceil) and,
 *    formatted as RFC 3339, parses back to the same nanosecond; the first
 *    8 input bytes as a nanosecond count in range do the same.
 * 4. entropy DATA: hex and base64 decoding never write past cap, and the
 *    data's own bytes encoded by a reference encoder decode back exactly.
 * Every violation aborts. Runs with no corpus and no options. */
#include "vsock/sysfile.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/fuzz/require.h"

#define MAX_WORDS 16

static int ref_path_ok(const char *p, int need_name)
{
	size_t len = strlen(p), comp = 0;

	if (!len || p[0] != '/' || len > 4095)
		return 0;
	for (size_t i = 0; i < len; i++) {
		comp = p[i] == '/' ? 0 : comp + 1;
		if (comp > 255)
			return 0;
	}
	if (need_name) {
		const char *last = strrchr(p, '/') + 1;
		if (!*last || !strcmp(last, ".") || !strcmp(last, ".."))
			return 0;
	}
	return 1;
}

static void check_args(int argc, char **argv)
{
	struct fx_write_args wa;
	struct fx_read_args ra;
	char msg[256];

	enum fx_write_status st = fx_parse_write(argc, argv, &wa, msg, sizeof(msg));
	REQUIRE(st >= FX_WRITE_OK && st <= FX_WRITE_TOOBIG);
	if (st == FX_WRITE_OK) {
		REQUIRE(ref_path_ok(wa.path, 1));
		REQUIRE(wa.size <= FX_WRITE_MAX);
		REQUIRE(!wa.have_mode || wa.mode <= 07777);
		REQUIRE(!wa.have_owner || (wa.uid < UINT32_MAX && wa.gid < UINT32_MAX));
	} else {
		REQUIRE(msg[0]);
	}
	if (fx_parse_read(argc, argv, &ra, msg, sizeof(msg)) == 0)
		REQUIRE(ref_path_ok(ra.path, 0));
	else
		REQUIRE(msg[0]);
}

static void check_word(const char *s)
{
	const char *why = NULL;
	unsigned mode, mode2;
	uint32_t uid, gid, uid2, gid2;
	char buf[64];

	REQUIRE((fx_check_path(s, false, &why) == 0) == ref_path_ok(s, 0));
	REQUIRE((fx_check_path(s, true, &why) == 0) == ref_path_ok(s, 1));
	if (fx_parse_mode(s, &mode) == 0) {
		REQUIRE(mode <= 07777);
		snprintf(buf, sizeof(buf), "%o", mode);
		REQUIRE(fx_parse_mode(buf, &mode2) == 0 && mode2 == mode);
	}
	if (fx_parse_owner(s, &uid, &gid) == 0) {
		snprintf(buf, sizeof(buf), "%u:%u", uid, gid);
		REQUIRE(fx_parse_owner(buf, &uid2, &gid2) == 0 && uid2 == uid && gid2 == gid);
	}
}

static void check_time_ns(int64_t ns)
{
	char when[48], msg[256];
	int64_t back;

	size_t n = fx_format_time(ns, when, sizeof(when));
	REQUIRE(n > 0 && n < sizeof(when) && strlen(when) == n);
	REQUIRE(fx_parse_time(when, &back, msg, sizeof(msg)) == 0);
	REQUIRE(back == ns);
}

static void check_time(const char *s)
{
	char msg[256];
	int64_t ns;
	int r = fx_parse_time(s, &ns, msg, sizeof(msg));

	REQUIRE(r == 0 || r == -1 || r == -2);
	if (r < 0) {
		REQUIRE(msg[0]);
		return;
	}
	REQUIRE(ns >= FX_CLOCK_FLOOR_S * 1000000000 && ns < FX_CLOCK_CEIL_S * 1000000000);
	check_time_ns(ns);
}

static void b64_encode(const uint8_t *in, size_t n, char *out)
{
	static const char tab[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t o = 0;

	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16;
		if (i + 1 < n)
			v |= (uint32_t)in[i + 1] << 8;
		if (i + 2 < n)
			v |= in[i + 2];
		out[o++] = tab[v >> 18 & 63];
		out[o++] = tab[v >> 12 & 63];
		out[o++] = i + 1 < n ? tab[v >> 6 & 63] : '=';
		out[o++] = i + 2 < n ? tab[v & 63] : '=';
	}
	out[o] = 0;
}

static void check_decoders(const char *s, const uint8_t *data, size_t size)
{
	uint8_t out[64 + 1];
	char enc[2 * 64 + 8]; /* hex; base64 needs less */
	size_t cap = size % 65;

	/* Any string, any capacity: the guard byte past cap is never touched. */
	out[cap] = 0xa5;
	long n = fx_decode_hex(s, out, cap);
	REQUIRE(n == -1 || (n >= 0 && (size_t)n <= cap && (size_t)n * 2 == strlen(s)));
	REQUIRE(out[cap] == 0xa5);
	n = fx_decode_base64(s, out, cap);
	REQUIRE(n >= -1 && n <= (long)cap);
	REQUIRE(out[cap] == 0xa5);

	/* The reference encodings of up to 64 of the input bytes decode back. */
	size_t m = size < 64 ? size : 64;
	for (size_t i = 0; i < m; i++)
		snprintf(enc + 2 * i, 3, "%02x", data[i]);
	enc[2 * m] = 0;
	REQUIRE(fx_decode_hex(enc, out, 64) == (long)m && !memcmp(out, data, m));
	b64_encode(data, m, enc);
	REQUIRE(fx_decode_base64(enc, out, 64) == (long)m && !memcmp(out, data, m));
	/* Without padding too. */
	char *eq = strchr(enc, '=');
	if (eq)
		*eq = 0;
	REQUIRE(fx_decode_base64(enc, out, 64) == (long)m && !memcmp(out, data, m));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size + 1), *argv[MAX_WORDS];
	int argc = 0;

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	buf[size] = 0;
	for (char *p = buf; argc < MAX_WORDS && p <= buf + size; p += strlen(p) + 1)
		argv[argc++] = p;
	check_args(argc, argv);
	for (int i = 0; i < argc; i++) {
		check_word(argv[i]);
		check_time(argv[i]);
	}
	check_decoders(argv[0], data, size);
	if (size >= 8) {
		uint64_t v;
		memcpy(&v, data, 8);
		int64_t span = (FX_CLOCK_CEIL_S - FX_CLOCK_FLOOR_S) * 1000000000;
		check_time_ns(FX_CLOCK_FLOOR_S * 1000000000 + (int64_t)(v % (uint64_t)span));
	}
	free(buf);
	return 0;
}
