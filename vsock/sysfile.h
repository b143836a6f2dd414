/* Private to vsock/: the pure parsing and formatting behind the file verbs
 * (file_verbs.c) and the clock and entropy verbs (sys_verbs.c).
 *
 * Promises: no I/O, no agent state, no allocation; every function accepts
 * any NUL-terminated input (and any argv) without crashing, and on failure
 * leaves a human message that says what was expected. Fuzzed by
 * tests/fuzz/fuzz_files.c, unit-tested by tests/unit/test_sysfile.c. */
#ifndef TASKINIT_VSOCK_SYSFILE_H
#define TASKINIT_VSOCK_SYSFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FX_PATH_MAX    4095 /* bytes, as PATH_MAX less its NUL */
#define FX_NAME_MAX    255  /* bytes per component */
#define FX_WRITE_MAX   (64ull << 30)
#define FX_ENTROPY_MAX 4096 /* bytes per entropy request */

/* setclock accepts [FLOOR, CEIL): 2024-01-01T00:00:00Z to 2200-01-01T00:00:00Z. */
#define FX_CLOCK_FLOOR_S 1704067200ll
#define FX_CLOCK_CEIL_S	 7258118400ll

/* An absolute path: starts with '/', at most FX_PATH_MAX bytes, no
 * component over FX_NAME_MAX. need_name: the last component must be a
 * name (not "/", ".", ".." or a trailing '/'), as for write and mkdir.
 * Returns 0, or -1 with *why set. */
int fx_check_path(const char *path, bool need_name, const char **why);

/* Octal permission bits, "644", "0644" up to "07777". Returns 0 or -1. */
int fx_parse_mode(const char *s, unsigned *mode);

/* "UID" or "UID:GID", decimal, each below 2^32 - 1 (which means "no
 * change" to chown). A missing GID is 0. Returns 0 or -1. */
int fx_parse_owner(const char *s, uint32_t *uid, uint32_t *gid);

/* Decimal digits only, no sign, no overflow. Returns 0 or -1. */
int fx_parse_u64(const char *s, uint64_t *out);

struct fx_write_args {
	const char *path;
	uint64_t size;
	bool have_mode, have_owner;
	unsigned mode;
	uint32_t uid, gid;
};

enum fx_write_status {
	FX_WRITE_OK,
	FX_WRITE_BAD,	 /* a bad path or option: SIZE bytes follow and are discarded */
	FX_WRITE_NOSIZE, /* SIZE is not a byte count: the data cannot be skipped */
	FX_WRITE_TOOBIG, /* SIZE is over FX_WRITE_MAX: the data is not skipped */
};

/* write PATH SIZE [--mode MODE] [--owner UID[:GID]] (argv without the
 * verb). On any status but OK, msg says why; wa->size is valid for
 * FX_WRITE_OK and FX_WRITE_BAD. */
enum fx_write_status fx_parse_write(int argc, char **argv, struct fx_write_args *wa, char *msg,
				    size_t cap);

struct fx_read_args {
	const char *path;
	uint64_t offset, length;
	bool have_length;
};

/* read PATH [--offset N] [--length N]. Returns 0, or -1 with msg. */
int fx_parse_read(int argc, char **argv, struct fx_read_args *ra, char *msg, size_t cap);

/* A setclock TIME: nanoseconds since the epoch (digits only), seconds with
 * a 1-9 digit fraction ("1795000000.5"), or RFC 3339 ("2026-11-23T12:09:00Z",
 * with an optional fraction and a Z or +HH:MM offset). Returns 0 with *ns
 * set, -1 when the form is wrong, -2 when the time is outside
 * [FX_CLOCK_FLOOR_S, FX_CLOCK_CEIL_S); msg says which. */
int fx_parse_time(const char *s, int64_t *ns, char *msg, size_t cap);

/* ns since the epoch as RFC 3339 UTC: "2026-11-23T12:09:00.123456789Z",
 * the fraction without trailing zeros (none when whole). Negative times
 * and years past 9999 are written too ("-" years are not RFC 3339, but
 * never come from the clocks this serves). Returns the length, or 0 when
 * cap is too small (at least 40 is always enough). */
size_t fx_format_time(int64_t ns, char *buf, size_t cap);

/* Hex ("00ff..", either case, even length) or standard base64 (with or
 * without '=' padding) into out. Returns the byte count, or -1 for a bad
 * form or more than cap bytes. */
long fx_decode_hex(const char *s, uint8_t *out, size_t cap);
long fx_decode_base64(const char *s, uint8_t *out, size_t cap);

#endif
