/* Private to tasks/: what the parent prepares for a child, and the child's
 * side of spawning. */
#ifndef TASKINIT_TASKS_INTERNAL_H
#define TASKINIT_TASKS_INTERNAL_H

#include <stdbool.h>
#include <sys/types.h>

#include "tasks/tasks.h"

/* Who the child becomes; resolved in the parent so that a bad user or
 * group is an error of the request, not of a forked child. */
struct creds {
	uid_t uid;
	gid_t gid;
	int ngroups;
	gid_t groups[TASK_MAX_GROUPS];
	char home[256];
	bool have_home;
};

int creds_resolve(const struct task_spec *s, struct creds *c, char *err, size_t errlen);

/* Written by a child whose step before exec failed. */
struct exec_report {
	char stage[16]; /* "exec", "cwd", "user", ...; empty when the exec succeeded */
	int err;
};

/* Everything the child needs, prepared before fork. */
struct spawn_plan {
	char *const *argv;
	char **envp;
	const char *cwd;
	int umask;
	const struct task_spec *spec;
	const struct creds *creds;
	int stdin_fd; /* the child's fd 0: /dev/null or a pipe's read end */
	int stdout_fd, stderr_fd;
	const struct seccomp_prog *seccomp; /* compiled in the parent, or NULL */
	bool pty;      /* fds 0-2 are a pty slave: make it the controlling terminal */
	int cgroup_fd; /* the task group's directory, or -1 */
	/* Filled by spawn_child: how the child's steps before exec ended, and
	 * whether the outcome was still unknown after EXEC_STATUS_WAIT_MS. */
	struct exec_report report;
	bool report_late;
	/* Private to spawn.c. */
	const struct spawner *spawner;
	int status_fd; /* -1, or a pipe for a child that does not share memory */
	bool born_in_cgroup;
	volatile bool child_shared_memory;
};

/* How long spawn_child waits for a child that runs as a fork (valgrind's
 * vfork) to exec or report. */
#define EXEC_STATUS_WAIT_MS 5000

/* What spawning keeps between tasks: a stack for clone3 children, whether
 * clone3 works here, and the agent's own credentials (a task that is to
 * have the same is spared the system calls that set them). */
struct spawner {
	void *stack;
	size_t stack_size;
	bool no_clone3;
	bool self_known;
	struct creds self;
};

void spawner_init(struct spawner *sp);
/* Starts a child that runs the plan, and returns once it has exec'd or
 * exited (vfork semantics): the pid, or -1 with errno. p->report says
 * whether a step before exec failed (the child then exits 126 or 127). */
pid_t spawn_child(struct spawner *sp, struct spawn_plan *p);
void spawner_free(struct spawner *sp);
/* The exit code a failed stage ends the child with: 127 not found, else 126. */
int exec_failure_code(const char *stage, int err);

#endif
