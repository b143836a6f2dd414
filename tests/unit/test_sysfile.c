/* Unit tests for vsock/sysfile.c: the parsers of the file, clock and
 * entropy verbs. Expected values are written out from docs/protocol.md. */
#include "vsock/sysfile.h"
#include "tests/unit/check.h"

#include <stdint.h>

static char msg[256];

static void test_paths(void)
{
	const char *why;
	char longp[4200], longname[300];

	CHECK(fx_check_path("/etc/hostname", true, &why) == 0);
	CHECK(fx_check_path("/", false, &why) == 0);
	CHECK(fx_check_path("/", true, &why) < 0);
	CHECK(fx_check_path("/tmp/", true, &why) < 0);
	CHECK(fx_check_path("/tmp/..", true, &why) < 0);
	CHECK(fx_check_path("/tmp/.", true, &why) < 0);
	CHECK(fx_check_path("/tmp/.hidden", true, &why) == 0);
	CHECK(fx_check_path("", false, &why) < 0);
	CHECK_EQ_STR(why, "empty path");
	CHECK(fx_check_path("etc/hostname", false, &why) < 0);
	CHECK(fx_check_path("./x", false, &why) < 0);
	memset(longp, 'a', sizeof(longp));
	for (size_t i = 0; i < sizeof(longp); i += 100)
		longp[i] = '/';
	longp[4095] = 0;
	CHECK(fx_check_path(longp, false, &why) == 0);
	longp[4095] = 'a';
	longp[4096] = 0;
	CHECK(fx_check_path(longp, false, &why) < 0);
	longname[0] = '/';
	memset(longname + 1, 'n', 256);
	longname[257] = 0;
	CHECK(fx_check_path(longname, false, &why) < 0);
	longname[256] = 0;
	CHECK(fx_check_path(longname, true, &why) == 0);
}

static void test_mode_owner(void)
{
	unsigned m;
	uint32_t u, g;

	CHECK(fx_parse_mode("0644", &m) == 0 && m == 0644);
	CHECK(fx_parse_mode("755", &m) == 0 && m == 0755);
	CHECK(fx_parse_mode("07777", &m) == 0 && m == 07777);
	CHECK(fx_parse_mode("17777", &m) < 0);
	CHECK(fx_parse_mode("0648", &m) < 0);
	CHECK(fx_parse_mode("", &m) < 0);
	CHECK(fx_parse_mode("-644", &m) < 0);
	CHECK(fx_parse_owner("1000:100", &u, &g) == 0 && u == 1000 && g == 100);
	CHECK(fx_parse_owner("1000", &u, &g) == 0 && u == 1000 && g == 0);
	CHECK(fx_parse_owner("0:0", &u, &g) == 0 && u == 0 && g == 0);
	CHECK(fx_parse_owner("root", &u, &g) < 0);
	CHECK(fx_parse_owner("1000:", &u, &g) < 0);
	CHECK(fx_parse_owner(":1000", &u, &g) < 0);
	CHECK(fx_parse_owner("4294967295", &u, &g) < 0); /* -1: "no change" to chown */
	CHECK(fx_parse_owner("4294967294:1", &u, &g) == 0 && u == 4294967294u);
}

static void test_write_args(void)
{
	struct fx_write_args wa;
	char *ok[] = {"/a/b", "10M", "--mode", "0600", "--owner", "1:2"};
	char *nosize[] = {"/a/b", "ten"};
	char *big[] = {"/a/b", "65G"};
	char *rel[] = {"a/b", "5"};
	char *badmode[] = {"/a/b", "5", "--mode", "rw"};
	char *dangling[] = {"/a/b", "5", "--mode"};

	CHECK_EQ_INT(fx_parse_write(6, ok, &wa, msg, sizeof(msg)), FX_WRITE_OK);
	CHECK(wa.size == 10 << 20 && wa.have_mode && wa.mode == 0600 && wa.uid == 1 && wa.gid == 2);
	CHECK_EQ_INT(fx_parse_write(1, ok, &wa, msg, sizeof(msg)), FX_WRITE_NOSIZE);
	CHECK_EQ_INT(fx_parse_write(2, nosize, &wa, msg, sizeof(msg)), FX_WRITE_NOSIZE);
	CHECK_EQ_INT(fx_parse_write(2, big, &wa, msg, sizeof(msg)), FX_WRITE_TOOBIG);
	CHECK_EQ_INT(fx_parse_write(2, rel, &wa, msg, sizeof(msg)), FX_WRITE_BAD);
	CHECK(wa.size == 5);
	CHECK_EQ_INT(fx_parse_write(4, badmode, &wa, msg, sizeof(msg)), FX_WRITE_BAD);
	CHECK_EQ_INT(fx_parse_write(3, dangling, &wa, msg, sizeof(msg)), FX_WRITE_BAD);
	CHECK(wa.size == 5);
}

static void test_read_args(void)
{
	struct fx_read_args ra;
	char *ok[] = {"/f", "--offset", "10", "--length", "5"};
	char *bad[] = {"/f", "--offset", "-1"};

	CHECK(fx_parse_read(5, ok, &ra, msg, sizeof(msg)) == 0);
	CHECK(ra.offset == 10 && ra.have_length && ra.length == 5);
	CHECK(fx_parse_read(1, ok, &ra, msg, sizeof(msg)) == 0 && !ra.have_length);
	CHECK(fx_parse_read(3, bad, &ra, msg, sizeof(msg)) < 0);
}

static int64_t t(const char *s, int *r)
{
	int64_t ns = -1;
	*r = fx_parse_time(s, &ns, msg, sizeof(msg));
	return ns;
}

static void test_time_parse(void)
{
	int r;

	/* 2026-11-23T12:09:00Z is 1795435740 s. */
	CHECK(t("1795435740000000000", &r) == 1795435740000000000 && r == 0);
	CHECK(t("1795435740.5", &r) == 1795435740500000000 && r == 0);
	CHECK(t("1795435740.000000001", &r) == 1795435740000000001 && r == 0);
	CHECK(t("2026-11-23T12:09:00Z", &r) == 1795435740000000000 && r == 0);
	CHECK(t("2026-11-23T12:09:00.25Z", &r) == 1795435740250000000 && r == 0);
	CHECK(t("2026-11-23T13:09:00+01:00", &r) == 1795435740000000000 && r == 0);
	CHECK(t("2024-01-01T00:00:00Z", &r) == 1704067200000000000 && r == 0);
	t("2023-12-31T23:59:59.999999999Z", &r);
	CHECK_EQ_INT(r, -2);
	t("2200-01-01T00:00:00Z", &r);
	CHECK_EQ_INT(r, -2);
	t("2199-12-31T23:59:59Z", &r);
	CHECK_EQ_INT(r, 0);
	t("1795435740", &r); /* seconds without a fraction read as ns */
	CHECK_EQ_INT(r, -2);
	CHECK(strstr(msg, "nanoseconds") != NULL);
	t("-1795435740.0", &r);
	CHECK_EQ_INT(r, -1);
	t("-5", &r);
	CHECK_EQ_INT(r, -1);
	t("now", &r);
	CHECK_EQ_INT(r, -1);
	t("", &r);
	CHECK_EQ_INT(r, -1);
	t("1795435740.", &r);
	CHECK_EQ_INT(r, -1);
	t("1795435740.1234567891", &r);
	CHECK_EQ_INT(r, -1);
	t("99999999999999999999999", &r);
	CHECK_EQ_INT(r, -1);
	t("9999999999999999999", &r); /* fits u64, after 2200 */
	CHECK_EQ_INT(r, -2);
	t("2026-02-29T00:00:00Z", &r);
	CHECK_EQ_INT(r, -1);
	t("2028-02-29T00:00:00Z", &r);
	CHECK_EQ_INT(r, 0);
	t("2026-11-23T12:09:00", &r); /* no zone */
	CHECK_EQ_INT(r, -1);
	t("2026-11-23T24:00:00Z", &r);
	CHECK_EQ_INT(r, -1);
	t("9999-12-31T23:59:59Z", &r);
	CHECK_EQ_INT(r, -2);
}

static void test_time_format(void)
{
	char b[48];

	CHECK(fx_format_time(1795435740000000000, b, sizeof(b)) > 0);
	CHECK_EQ_STR(b, "2026-11-23T12:09:00Z");
	fx_format_time(1795435740123456789, b, sizeof(b));
	CHECK_EQ_STR(b, "2026-11-23T12:09:00.123456789Z");
	fx_format_time(1795435740500000000, b, sizeof(b));
	CHECK_EQ_STR(b, "2026-11-23T12:09:00.5Z");
	fx_format_time(0, b, sizeof(b));
	CHECK_EQ_STR(b, "1970-01-01T00:00:00Z");
	fx_format_time(-1, b, sizeof(b));
	CHECK_EQ_STR(b, "1969-12-31T23:59:59.999999999Z");
	fx_format_time(951782400000000000, b, sizeof(b));
	CHECK_EQ_STR(b, "2000-02-29T00:00:00Z");
	CHECK(fx_format_time(0, b, 10) == 0);
}

static void test_decoders(void)
{
	uint8_t out[8];

	CHECK(fx_decode_hex("00ff7A", out, 8) == 3 && out[0] == 0 && out[1] == 0xff &&
	      out[2] == 0x7a);
	CHECK(fx_decode_hex("0", out, 8) == -1);
	CHECK(fx_decode_hex("zz", out, 8) == -1);
	CHECK(fx_decode_hex("001122334455667788", out, 8) == -1);
	CHECK(fx_decode_hex("", out, 8) == 0);
	CHECK(fx_decode_base64("aGVsbG8=", out, 8) == 5 && !memcmp(out, "hello", 5));
	CHECK(fx_decode_base64("aGVsbG8", out, 8) == 5);
	CHECK(fx_decode_base64("aGVsbA==", out, 8) == 4 && !memcmp(out, "hell", 4));
	CHECK(fx_decode_base64("aGVsbA=", out, 8) == -1);
	CHECK(fx_decode_base64("aGVsbG9=", out, 8) == -1); /* non-zero leftover bits */
	CHECK(fx_decode_base64("a", out, 8) == -1);
	CHECK(fx_decode_base64("a b=", out, 8) == -1);
	CHECK(fx_decode_base64("aGVsbG8gd29ybGQ=", out, 8) == -1); /* 11 bytes, cap 8 */
}

int main(void)
{
	RUN(test_paths);
	RUN(test_mode_owner);
	RUN(test_write_args);
	RUN(test_read_args);
	RUN(test_time_parse);
	RUN(test_time_format);
	RUN(test_decoders);
	return check_summary();
}
