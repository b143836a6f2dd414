/* Private to tasks/: one cgroup v2 group per task, under task.cgroup
 * (default /sys/fs/cgroup/taskinit), with optional memory.max, pids.max and
 * cpu.max. The agent itself stays where it is (the root group in a VM), so
 * the parent of the task groups holds no process and may delegate
 * controllers (cgroup v2's "no internal processes" rule). */
#ifndef TASKINIT_TASKS_CGROUP_H
#define TASKINIT_TASKS_CGROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct agent;

/* What `run` asked for; 0 means "no limit set". */
struct cg_limits {
	uint64_t memory_max; /* bytes */
	uint64_t pids_max;
	uint64_t cpu_quota_us, cpu_period_us;
};

struct cg_stats {
	uint64_t cpu_usage_us, cpu_user_us, cpu_system_us;
	uint64_t memory_current, memory_peak;
	uint64_t pids_current;
	uint64_t oom_kills;
	bool have_memory, have_pids;
};

/* Finds the cgroup2 hierarchy and prepares the base group. Returns false
 * (and logs why) when tasks will run without cgroups. */
bool cg_init(struct agent *a, const char *base);
/* Creates the group of task `id` with its limits. Returns an fd of its
 * directory (close-on-exec) for the child to be born in (clone3's
 * CLONE_INTO_CGROUP) or to join through (cg_enter), -1 with a message when
 * a limit cannot be applied, or -2 when cgroups are off and no limit was
 * asked for (the task runs without a group). */
int cg_create(struct agent *a, uint64_t id, const struct cg_limits *l, char *err, size_t errlen);
/* Makes the group of the task that will get `id` ahead of time, for
 * cg_create to take: called when the agent is idle, so that the mkdir
 * (tens of microseconds for the kernel's files of a group) is not on the
 * way from `run` to the task's exec. The group is visible, empty, until
 * then. Without effect when it exists or cgroups are off. */
void cg_prepare(struct agent *a, uint64_t id);
/* Removes a group cg_prepare made that no task took. */
void cg_drop_spare(struct agent *a);
/* The calling process joins the group (system calls only: safe in a vfork
 * child). */
int cg_enter(int dir_fd);
int cg_read_stats(struct agent *a, uint64_t id, struct cg_stats *st);
/* memory.events oom_kill of a task's group (one file read; 0 without). */
uint64_t cg_oom_kills(struct agent *a, uint64_t id);
/* Removes the (empty) group of a task. */
void cg_remove(struct agent *a, uint64_t id);
/* Parses `--memory-max 256M`, `--pids-max 64`, `--cpu-max QUOTA[/PERIOD]`
 * (microseconds, or `max`). Returns 0, 1 when opt is none of them, -1. */
int cg_limits_option(struct cg_limits *l, const char *opt, const char *v, const char **why);

#endif
