/* Unit tests for init/mountopts.c (task.rootflags): mount(8)'s generic
 * words become MS_* flags, later words win, the rest is the file system's
 * data in order, and data that does not fit is an error, never a cut. */
#include "init/init.h"
#include "tests/unit/check.h"

#include <sys/mount.h>

static unsigned long F;
static char D[64];
static const char *WHY;

static int parse(const char *s)
{
	F = 0xdead;
	return mount_options_parse(s, &F, D, sizeof(D), &WHY);
}

static void test_empty(void)
{
	CHECK_EQ_INT(parse(""), 0);
	CHECK_EQ_INT(F, 0);
	CHECK_EQ_STR(D, "");
	CHECK_EQ_INT(parse(NULL), 0);
	CHECK_EQ_INT(F, 0);
	CHECK_EQ_INT(parse(",,,"), 0);
	CHECK_EQ_STR(D, "");
	CHECK_EQ_INT(parse("defaults"), 0);
	CHECK_EQ_INT(F, 0);
}

static void test_flags(void)
{
	CHECK_EQ_INT(parse("ro"), 0);
	CHECK_EQ_INT(F, MS_RDONLY);
	CHECK_EQ_INT(parse("ro,nosuid,nodev,noexec,noatime"), 0);
	CHECK_EQ_INT(F, MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOATIME);
	CHECK_EQ_STR(D, "");
	CHECK_EQ_INT(parse("relatime,lazytime,sync,dirsync"), 0);
	CHECK_EQ_INT(F, MS_RELATIME | MS_LAZYTIME | MS_SYNCHRONOUS | MS_DIRSYNC);
}

static void test_later_wins(void)
{
	CHECK_EQ_INT(parse("ro,rw"), 0);
	CHECK_EQ_INT(F, 0);
	CHECK_EQ_INT(parse("rw,ro"), 0);
	CHECK_EQ_INT(F, MS_RDONLY);
	CHECK_EQ_INT(parse("noexec,exec,nosuid"), 0);
	CHECK_EQ_INT(F, MS_NOSUID);
}

static void test_data(void)
{
	CHECK_EQ_INT(parse("ro,data=ordered,noatime,errors=remount-ro"), 0);
	CHECK_EQ_INT(F, MS_RDONLY | MS_NOATIME);
	CHECK_EQ_STR(D, "data=ordered,errors=remount-ro");
	/* Only whole words are flags: "rox" and "ro=1" are data. */
	CHECK_EQ_INT(parse("rox,ro=1,,x"), 0);
	CHECK_EQ_INT(F, 0);
	CHECK_EQ_STR(D, "rox,ro=1,x");
}

static void test_too_long(void)
{
	char big[200];

	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	CHECK_EQ_INT(parse(big), -1);
	CHECK(WHY && *WHY);
	CHECK_EQ_STR(D, "");
	CHECK_EQ_INT(F, 0xdead); /* untouched on error */
	/* Exactly full: 63 bytes and the NUL fit in 64. */
	big[63] = 0;
	CHECK_EQ_INT(parse(big), 0);
	CHECK_EQ_INT(strlen(D), 63);
	big[63] = 'a';
	big[64] = 0;
	CHECK_EQ_INT(parse(big), -1);
	/* The comma counts: "x,<62 a>" needs 65 bytes. */
	char two[80] = "x,";
	memset(two + 2, 'a', 62);
	two[64] = 0;
	CHECK_EQ_INT(parse(two), -1);
}

int main(void)
{
	RUN(test_empty);
	RUN(test_flags);
	RUN(test_later_wins);
	RUN(test_data);
	RUN(test_too_long);
	return check_summary();
}
