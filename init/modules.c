/* Kernel modules at boot: the vsock transports taskinit serves on, plus
 * task.modules, each after the modules it depends on (modules.dep). Only in
 * a VM: in a namespace they would load into the host's kernel. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "init/init.h"

#ifndef MODULE_INIT_COMPRESSED_FILE
#define MODULE_INIT_COMPRESSED_FILE 4 /* include/uapi/linux/module.h, Linux 6.4 */
#endif

/* virtio-vsock serves QEMU, Firecracker and Cloud Hypervisor hosts;
 * vsock_loopback lets clients inside the guest reach us over CID 1;
 * virtio_pci binds QEMU's virtio devices (vsock, disks, network): nothing
 * else would load it in a guest without udev. */
static const char *const default_modules[] = {"vmw_vsock_virtio_transport", "vsock_loopback",
					      "virtio_pci"};

#define DEP_DEPTH 8

struct moddb {
	char dir[128];
	char *dep; /* modules.dep, NUL-terminated */
};

/* "kernel/net/vmw_vsock/vsock.ko.xz" -> "vsock"; '-' and '_' are the same. */
static void module_name(const char *path, size_t len, char *out, size_t cap)
{
	const char *base = path;
	size_t i, n = 0;

	for (i = 0; i < len; i++)
		if (path[i] == '/')
			base = path + i + 1;
	for (i = 0; base + i < path + len && base[i] != '.' && n + 1 < cap; i++)
		out[n++] = base[i] == '-' ? '_' : base[i];
	out[n] = 0;
}

/* The modules.dep line of a module: "path: dep dep ...", or NULL. */
static const char *find_line(const struct moddb *db, const char *name, size_t *path_len)
{
	const char *line = db->dep;
	char got[64];

	while (line && *line) {
		const char *colon = strchr(line, ':');
		const char *eol = strchr(line, '\n');
		if (!colon || (eol && colon > eol))
			return NULL;
		module_name(line, (size_t)(colon - line), got, sizeof(got));
		if (!strcmp(got, name)) {
			*path_len = (size_t)(colon - line);
			return line;
		}
		line = eol ? eol + 1 : NULL;
	}
	return NULL;
}

static bool loaded(const char *name)
{
	char path[96];
	struct stat st;

	snprintf(path, sizeof(path), "/sys/module/%s", name);
	return stat(path, &st) == 0;
}

static int insert(struct agent *a, const struct moddb *db, const char *rel, size_t len)
{
	char path[512];
	int flags = 0;

	snprintf(path, sizeof(path), "%s/%.*s", db->dir, (int)len, rel);
	if (len > 3 && strcmp(path + strlen(path) - 3, ".ko") != 0)
		flags = MODULE_INIT_COMPRESSED_FILE;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		log_msg(a, LL_WARN, "modules: %s: %s", path, strerror(errno));
		return -1;
	}
	long r = syscall(SYS_finit_module, fd, "", flags);
	int err = errno;
	close(fd);
	if (r < 0 && err != EEXIST) {
		log_msg(a, LL_WARN, "modules: load %s: %s", path, strerror(err));
		return -1;
	}
	return 0;
}

static int load(struct agent *a, const struct moddb *db, const char *name, int depth)
{
	size_t plen;
	char dep[64];

	if (loaded(name))
		return 0;
	const char *line = find_line(db, name, &plen);
	if (!line) {
		log_msg(a, LL_INFO, "modules: %s is neither built in nor in modules.dep", name);
		return -1;
	}
	if (depth > DEP_DEPTH)
		return -1;
	/* modules.dep lists every dependency, nearest first: load them in
	 * reverse so each one's own dependencies are in before it. */
	const char *deps = line + plen + 1, *eol = strchr(deps, '\n');
	const char *end = eol ? eol : deps + strlen(deps);
	const char *starts[32];
	size_t lens[32], n = 0;
	for (const char *p = deps; p < end && n < 32;) {
		while (p < end && *p == ' ')
			p++;
		const char *q = p;
		while (q < end && *q != ' ')
			q++;
		if (q > p) {
			starts[n] = p;
			lens[n++] = (size_t)(q - p);
		}
		p = q;
	}
	while (n--) {
		module_name(starts[n], lens[n], dep, sizeof(dep));
		load(a, db, dep, depth + 1);
	}
	if (insert(a, db, line, plen) < 0)
		return -1;
	log_msg(a, LL_INFO, "modules: loaded %s", name);
	return 0;
}

static char *read_all(const char *path)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	size_t len = 0, cap = 0, n;

	if (!f)
		return NULL;
	do {
		if (len + 4096 + 1 > cap) {
			char *p = realloc(buf, cap = cap ? cap * 2 : 65536);
			if (!p) {
				free(buf);
				fclose(f);
				return NULL;
			}
			buf = p;
		}
		n = fread(buf + len, 1, 4096, f);
		len += n;
	} while (n > 0 && len < (8u << 20));
	fclose(f);
	buf[len] = 0;
	return buf;
}

void boot_modules(struct agent *a)
{
	struct moddb db;
	struct utsname u;
	char path[192];

	if (a->mode != MODE_VM || uname(&u) < 0)
		return;
	snprintf(db.dir, sizeof(db.dir), "/lib/modules/%s", u.release);
	snprintf(path, sizeof(path), "%s/modules.dep", db.dir);
	db.dep = read_all(path);
	if (!db.dep)
		log_msg(a, LL_INFO, "modules: no %s; only built-in drivers", path);
	for (size_t i = 0; i < sizeof(default_modules) / sizeof(default_modules[0]); i++)
		if (db.dep || !loaded(default_modules[i]))
			load(a, &db, default_modules[i], 0);
	for (const char *p = a->cfg.modules; *p;) {
		char name[64];
		size_t n = strcspn(p, ",");
		if (n && n < sizeof(name)) {
			module_name(p, n, name, sizeof(name));
			if (db.dep)
				load(a, &db, name, 0);
		}
		p += n;
		if (*p == ',')
			p++;
	}
	free(db.dep);
	boot_mark(a, "modules loaded");
}

int modules_load(struct agent *a, const char *name)
{
	struct moddb db;
	struct utsname u;
	char path[192];
	int r;

	if (a->mode != MODE_VM || uname(&u) < 0)
		return -1;
	if (loaded(name))
		return 0;
	snprintf(db.dir, sizeof(db.dir), "/lib/modules/%s", u.release);
	snprintf(path, sizeof(path), "%s/modules.dep", db.dir);
	db.dep = read_all(path);
	if (!db.dep) {
		log_msg(a, LL_INFO, "modules: no %s; cannot load %s", path, name);
		return -1;
	}
	r = load(a, &db, name, 0);
	free(db.dep);
	return r;
}
