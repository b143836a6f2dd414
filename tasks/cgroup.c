/* One cgroup v2 group per task. See cgroup.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "init/init.h"
#include "tasks/cgroup.h"

#define CGROUP2_SUPER_MAGIC 0x63677270 /* include/uapi/linux/magic.h */

struct cgroup_state {
	char base[CONFIG_PATH_MAX];
	bool memory, pids, cpu; /* controllers the task groups get */
	/* The group of the next task, made while the agent was idle (see
	 * cg_prepare), and its directory; -1 when there is none. */
	uint64_t spare_id;
	int spare_fd;
};

static int write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = write(fd, text, strlen(text));
	int err = errno;
	close(fd);
	errno = err;
	return n == (ssize_t)strlen(text) ? 0 : -1;
}

static bool has_word(const char *path, const char *word)
{
	char buf[512];
	FILE *f = fopen(path, "re");
	bool found = false;

	if (!f)
		return false;
	while (!found && fscanf(f, "%511s", buf) == 1)
		found = !strcmp(buf, word);
	fclose(f);
	return found;
}

/* Delegates a controller from dir to its children, if dir has it. */
static bool delegate(const char *dir, const char *ctl)
{
	char path[CONFIG_PATH_MAX + 32], cmd[32];

	snprintf(path, sizeof(path), "%s/cgroup.subtree_control", dir);
	if (has_word(path, ctl))
		return true;
	snprintf(cmd, sizeof(cmd), "+%s", ctl);
	return write_file(path, cmd) == 0;
}

bool cg_init(struct agent *a, const char *base)
{
	struct statfs sfs;
	char parent[CONFIG_PATH_MAX];
	struct cgroup_state *cg;

	snprintf(parent, sizeof(parent), "%s", base);
	char *slash = strrchr(parent, '/');
	if (!slash || slash == parent) {
		log_msg(a, LL_WARN, "cgroup: %s: not a group below a cgroup2 mount", base);
		return false;
	}
	*slash = 0;
	if (statfs(parent, &sfs) < 0 || sfs.f_type != CGROUP2_SUPER_MAGIC) {
		log_msg(a, LL_INFO, "cgroup: %s is not cgroup2; tasks run without cgroups", parent);
		return false;
	}
	if (mkdir(base, 0755) < 0 && errno != EEXIST) {
		log_msg(a, LL_WARN, "cgroup: mkdir %s: %s", base, strerror(errno));
		return false;
	}
	cg = calloc(1, sizeof(*cg));
	if (!cg)
		return false;
	snprintf(cg->base, sizeof(cg->base), "%s", base);
	cg->spare_fd = -1;
	cg->memory = delegate(parent, "memory") && delegate(base, "memory");
	cg->pids = delegate(parent, "pids") && delegate(base, "pids");
	cg->cpu = delegate(parent, "cpu") && delegate(base, "cpu");
	a->cgroup = cg;
	log_msg(a, LL_INFO, "cgroup: tasks in %s (memory %s, pids %s, cpu %s)", base,
		cg->memory ? "yes" : "no", cg->pids ? "yes" : "no", cg->cpu ? "yes" : "no");
	return true;
}

static void group_path(const struct cgroup_state *cg, uint64_t id, const char *file, char *out,
		       size_t cap)
{
	snprintf(out, cap, "%s/task-%llu%s%s", cg->base, (unsigned long long)id, file ? "/" : "",
		 file ? file : "");
}

static int set_limit(const struct cgroup_state *cg, uint64_t id, bool have, const char *file,
		     const char *value, char *err, size_t errlen)
{
	char path[CONFIG_PATH_MAX + 64];

	if (!have) {
		snprintf(err, errlen, "%s: the controller is not available here", file);
		return -1;
	}
	group_path(cg, id, file, path, sizeof(path));
	if (write_file(path, value) < 0) {
		snprintf(err, errlen, "%s %s: %s", file, value, strerror(errno));
		return -1;
	}
	return 0;
}

static bool any_limit(const struct cg_limits *l)
{
	return l->memory_max || l->pids_max || l->cpu_quota_us;
}

static int apply_limits(const struct cgroup_state *cg, uint64_t id, const struct cg_limits *l,
			char *err, size_t errlen)
{
	char v[64];

	if (l->memory_max) {
		snprintf(v, sizeof(v), "%llu", (unsigned long long)l->memory_max);
		if (set_limit(cg, id, cg->memory, "memory.max", v, err, errlen) < 0)
			return -1;
		/* Without this an OOM kill may take only one process of the task. */
		set_limit(cg, id, cg->memory, "memory.oom.group", "1", err, errlen);
	}
	if (l->pids_max) {
		snprintf(v, sizeof(v), "%llu", (unsigned long long)l->pids_max);
		if (set_limit(cg, id, cg->pids, "pids.max", v, err, errlen) < 0)
			return -1;
	}
	if (l->cpu_quota_us) {
		snprintf(v, sizeof(v), "%llu %llu", (unsigned long long)l->cpu_quota_us,
			 (unsigned long long)(l->cpu_period_us ? l->cpu_period_us : 100000));
		if (set_limit(cg, id, cg->cpu, "cpu.max", v, err, errlen) < 0)
			return -1;
	}
	return 0;
}

/* mkdir, then the directory's fd. openat: musl's open() adds an fcntl for
 * O_CLOEXEC, for kernels older than any that has cgroup v2. */
static int make_group(const struct cgroup_state *cg, uint64_t id, char *err, size_t errlen)
{
	char path[CONFIG_PATH_MAX + 64];

	group_path(cg, id, NULL, path, sizeof(path));
	if (mkdir(path, 0755) < 0 && errno != EEXIST) {
		snprintf(err, errlen, "mkdir %s: %s", path, strerror(errno));
		return -1;
	}
	int fd = openat(AT_FDCWD, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "open %s: %s", path, strerror(errno));
		rmdir(path);
	}
	return fd;
}

void cg_drop_spare(struct agent *a)
{
	struct cgroup_state *cg = a->cgroup;

	if (!cg || cg->spare_fd < 0)
		return;
	close(cg->spare_fd);
	cg->spare_fd = -1;
	cg_remove(a, cg->spare_id);
}

void cg_prepare(struct agent *a, uint64_t id)
{
	struct cgroup_state *cg = a->cgroup;
	char err[CONFIG_PATH_MAX + 128];

	if (!cg || (cg->spare_fd >= 0 && cg->spare_id == id))
		return;
	cg_drop_spare(a);
	cg->spare_fd = make_group(cg, id, err, sizeof(err));
	cg->spare_id = id;
	if (cg->spare_fd < 0)
		log_msg(a, LL_DEBUG, "cgroup: %s", err);
}

int cg_create(struct agent *a, uint64_t id, const struct cg_limits *l, char *err, size_t errlen)
{
	struct cgroup_state *cg = a->cgroup;
	int fd;

	if (!cg) {
		if (!any_limit(l))
			return -2;
		snprintf(err, errlen, "cgroup limits need a cgroup2 hierarchy (none here)");
		return -1;
	}
	if (cg->spare_fd >= 0 && cg->spare_id == id) {
		fd = cg->spare_fd;
		cg->spare_fd = -1;
	} else {
		cg_drop_spare(a); /* made for an id a failed request used up */
		fd = make_group(cg, id, err, errlen);
		if (fd < 0)
			return -1;
	}
	if (apply_limits(cg, id, l, err, errlen) < 0) {
		close(fd);
		cg_remove(a, id);
		return -1;
	}
	return fd;
}

int cg_enter(int dir_fd)
{
	int fd = openat(dir_fd, "cgroup.procs", O_WRONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	/* "0" is the writing process itself. */
	int r = write(fd, "0", 1) == 1 ? 0 : -1;
	close(fd);
	return r;
}

static uint64_t keyed(const char *path, const char *key, bool *found)
{
	char k[64];
	unsigned long long v;
	uint64_t out = 0;
	FILE *f = fopen(path, "re");

	if (found)
		*found = false;
	if (!f)
		return 0;
	while (fscanf(f, "%63s %llu", k, &v) == 2) {
		if (!strcmp(k, key)) {
			out = v;
			if (found)
				*found = true;
		}
	}
	fclose(f);
	return out;
}

static uint64_t single(const char *path, bool *found)
{
	unsigned long long v = 0;
	FILE *f = fopen(path, "re");

	*found = f && fscanf(f, "%llu", &v) == 1;
	if (f)
		fclose(f);
	return v;
}

int cg_read_stats(struct agent *a, uint64_t id, struct cg_stats *st)
{
	const struct cgroup_state *cg = a->cgroup;
	char path[CONFIG_PATH_MAX + 64];
	bool found;

	memset(st, 0, sizeof(*st));
	if (!cg)
		return -1;
	group_path(cg, id, "cpu.stat", path, sizeof(path));
	st->cpu_usage_us = keyed(path, "usage_usec", &found);
	if (!found)
		return -1;
	st->cpu_user_us = keyed(path, "user_usec", NULL);
	st->cpu_system_us = keyed(path, "system_usec", NULL);
	group_path(cg, id, "memory.current", path, sizeof(path));
	st->memory_current = single(path, &st->have_memory);
	group_path(cg, id, "memory.peak", path, sizeof(path));
	st->memory_peak = single(path, &found);
	group_path(cg, id, "memory.events", path, sizeof(path));
	st->oom_kills = keyed(path, "oom_kill", NULL);
	group_path(cg, id, "pids.current", path, sizeof(path));
	st->pids_current = single(path, &st->have_pids);
	return 0;
}

uint64_t cg_oom_kills(struct agent *a, uint64_t id)
{
	const struct cgroup_state *cg = a->cgroup;
	char path[CONFIG_PATH_MAX + 64];

	if (!cg || !cg->memory)
		return 0;
	group_path(cg, id, "memory.events", path, sizeof(path));
	return keyed(path, "oom_kill", NULL);
}

void cg_remove(struct agent *a, uint64_t id)
{
	const struct cgroup_state *cg = a->cgroup;
	char path[CONFIG_PATH_MAX + 64];

	if (!cg)
		return;
	group_path(cg, id, NULL, path, sizeof(path));
	if (rmdir(path) < 0 && errno != ENOENT)
		log_msg(a, LL_DEBUG, "cgroup: rmdir %s: %s", path, strerror(errno));
}

static int parse_nonzero(const char *v, uint64_t *out)
{
	return parse_size(v, out) < 0 || *out == 0 ? -1 : 0;
}

int cg_limits_option(struct cg_limits *l, const char *opt, const char *v, const char **why)
{
	char *end;

	if (!strcmp(opt, "--memory-max")) {
		if (parse_nonzero(v, &l->memory_max) < 0)
			*why = "--memory-max takes bytes (K, M, G suffixes)";
	} else if (!strcmp(opt, "--pids-max")) {
		if (parse_nonzero(v, &l->pids_max) < 0)
			*why = "--pids-max takes a number";
	} else if (!strcmp(opt, "--cpu-max")) {
		unsigned long long q = strtoull(v, &end, 10), p = 100000;
		if (end != v && *end == '/')
			p = strtoull(end + 1, &end, 10);
		if (*v == '-' || end == v || *end || q < 1000 || p < 1000 || p > 1000000)
			*why = "--cpu-max takes QUOTA[/PERIOD] in microseconds (>= 1000)";
		else
			l->cpu_quota_us = q, l->cpu_period_us = p;
	} else {
		return 1;
	}
	return *why ? -1 : 0;
}
