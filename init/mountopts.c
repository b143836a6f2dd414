/* Mount option strings as mount(8) and the kernel's rootflags= take them:
 * the generic words become MS_* flags, the rest is the file system's data.
 * Pure: no I/O, no agent (unit-tested and fuzzed). */
#include <string.h>
#include <sys/mount.h>

#include "init/init.h"

struct flag_word {
	const char *word;
	unsigned long set, clear;
};

/* The generic options of mount(8); "defaults" sets nothing. */
static const struct flag_word words[] = {
    {"defaults", 0, 0},
    {"ro", MS_RDONLY, 0},
    {"rw", 0, MS_RDONLY},
    {"nosuid", MS_NOSUID, 0},
    {"suid", 0, MS_NOSUID},
    {"nodev", MS_NODEV, 0},
    {"dev", 0, MS_NODEV},
    {"noexec", MS_NOEXEC, 0},
    {"exec", 0, MS_NOEXEC},
    {"sync", MS_SYNCHRONOUS, 0},
    {"async", 0, MS_SYNCHRONOUS},
    {"dirsync", MS_DIRSYNC, 0},
    {"noatime", MS_NOATIME, 0},
    {"atime", 0, MS_NOATIME},
    {"nodiratime", MS_NODIRATIME, 0},
    {"diratime", 0, MS_NODIRATIME},
    {"relatime", MS_RELATIME, 0},
    {"norelatime", 0, MS_RELATIME},
    {"strictatime", MS_STRICTATIME, 0},
    {"lazytime", MS_LAZYTIME, 0},
    {"nolazytime", 0, MS_LAZYTIME},
    {"silent", MS_SILENT, 0},
    {"loud", 0, MS_SILENT},
};

static const struct flag_word *find_word(const char *s, size_t n)
{
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (strlen(words[i].word) == n && !memcmp(words[i].word, s, n))
			return &words[i];
	return NULL;
}

int mount_options_parse(const char *opts, unsigned long *flags, char *data, size_t cap,
			const char **why)
{
	unsigned long f = 0;
	size_t used = 0;

	*why = NULL;
	if (!cap) {
		*why = "no room for file system options";
		return -1;
	}
	data[0] = 0;
	for (const char *p = opts ? opts : ""; *p;) {
		size_t n = strcspn(p, ",");
		const struct flag_word *w = find_word(p, n);

		if (w) {
			f = (f | w->set) & ~w->clear;
		} else if (n) {
			/* Anything else belongs to the file system, as given. */
			if (used + (used ? 1 : 0) + n + 1 > cap) {
				*why = "file system options too long";
				data[0] = 0;
				return -1;
			}
			if (used)
				data[used++] = ',';
			memcpy(data + used, p, n);
			used += n;
			data[used] = 0;
		}
		p += n;
		if (*p == ',')
			p++;
	}
	*flags = f;
	return 0;
}
