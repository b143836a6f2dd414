/* libFuzzer target for init/mountopts.c (task.rootflags).
 *
 * The input (NUL bytes read as commas) is parsed into a buffer whose size
 * the first byte picks. Invariants: on success the data is NUL-terminated
 * inside the buffer, holds no empty word, no leading or trailing comma and
 * no generic flag word, and its words are the input's non-flag words in
 * order; parsing the data again gives the same data and no flags. On
 * failure the data is "" and the flags are untouched. Violations abort. */
#include "init/init.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tests/fuzz/require.h"

static const char *const flag_words[] = {
    "defaults",	   "ro",       "rw",	     "nosuid",	 "suid",     "nodev",
    "dev",	   "noexec",   "exec",	     "sync",	 "async",    "dirsync",
    "noatime",	   "atime",    "nodiratime", "diratime", "relatime", "norelatime",
    "strictatime", "lazytime", "nolazytime", "silent",	 "loud",
};

static int is_flag_word(const char *s, size_t n)
{
	for (size_t i = 0; i < sizeof(flag_words) / sizeof(flag_words[0]); i++)
		if (strlen(flag_words[i]) == n && !memcmp(flag_words[i], s, n))
			return 1;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t cap = size ? (size_t)data[0] % 80 + 1 : 16;
	char *in = malloc(size + 1), *out = malloc(cap), *again = malloc(cap);
	unsigned long flags = 0x5a5a, flags2;
	const char *why = "stale";

	if (size) {
		data++;
		size--;
	}
	for (size_t i = 0; i < size; i++)
		in[i] = data[i] ? (char)data[i] : ',';
	in[size] = 0;
	int r = mount_options_parse(in, &flags, out, cap, &why);
	REQUIRE(r == 0 || r == -1);
	REQUIRE(memchr(out, 0, cap) != NULL);
	if (r < 0) {
		REQUIRE(why && *why);
		REQUIRE(out[0] == 0);
		REQUIRE(flags == 0x5a5a);
		goto done;
	}
	REQUIRE(why == NULL);
	size_t len = strlen(out);
	REQUIRE(len == 0 || (out[0] != ',' && out[len - 1] != ','));
	REQUIRE(!strstr(out, ",,"));
	/* The data is the input's non-flag words, in order. */
	{
		char *expect = malloc(size + 1);
		size_t n = 0;
		for (const char *p = in; *p;) {
			size_t w = strcspn(p, ",");
			if (w && !is_flag_word(p, w)) {
				if (n)
					expect[n++] = ',';
				memcpy(expect + n, p, w);
				n += w;
			}
			p += w;
			if (*p == ',')
				p++;
		}
		expect[n] = 0;
		REQUIRE(!strcmp(expect, out));
		free(expect);
	}
	REQUIRE(mount_options_parse(out, &flags2, again, cap, &why) == 0);
	REQUIRE(flags2 == 0);
	REQUIRE(!strcmp(again, out));
done:
	free(in);
	free(out);
	free(again);
	return 0;
}
