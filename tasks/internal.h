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
	int status_fd; /* close-on-exec; an exec failure report is written here */
	const struct seccomp_prog *seccomp; /* compiled in the parent, or NULL */
	bool pty;	     /* fds 0-2 are a pty slave: make it the controlling terminal */
	int cgroup_fd;	     /* the task group's directory, or -1 */
	bool born_in_cgroup; /* set by spawn_child: clone3 put the child there */
	/* Set by the child first thing: it runs in the agent's memory, so when
	 * spawn_child returns it has exec'd for good or exited (see
	 * read_exec_status). Stays false where "vfork" is a fork (valgrind). */
	volatile bool child_shared_memory;
};

/* What spawning keeps between tasks: a stack for clone3 children, and
 * whether the kernel takes clone3 with CLONE_INTO_CGROUP. */
struct spawner {
	void *stack;
	size_t stack_size;
	bool no_clone3;
};

/* Written to the status pipe when a step before exec fails. */
struct exec_report {
	char stage[16];
	int err;
};

/* Starts a child that runs the plan, and returns once it has exec'd or
 * exited (vfork semantics): the pid, or -1 with errno. */
pid_t spawn_child(struct spawner *sp, struct spawn_plan *p);
void spawner_free(struct spawner *sp);
/* The exit code a failed stage ends the child with: 127 not found, else 126. */
int exec_failure_code(const char *stage, int err);

#endif
