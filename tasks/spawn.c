/* The child's side of spawning: from fork to exec. Runs in the forked copy
 * of the single-threaded agent, so plain libc calls are safe here. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "tasks/internal.h"

#ifndef SYS_close_range
#define SYS_close_range 436
#endif

extern char **environ;

/* The kernel's struct for rt_sigaction(2), which libc wrappers hide. */
struct kernel_sigaction {
	void (*handler)(int);
	unsigned long flags;
	void (*restorer)(void);
	uint64_t mask;
};

/* The raw syscall, because glibc and musl refuse to touch the signals they
 * reserve (32-34), and an ignored disposition there is inherited too. */
static void reset_signals(void)
{
	struct kernel_sigaction dfl = {.handler = SIG_DFL};
	uint64_t none = 0;

	for (int sig = 1; sig <= 64; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			syscall(SYS_rt_sigaction, sig, &dfl, NULL, sizeof(uint64_t));
	syscall(SYS_rt_sigprocmask, SIG_SETMASK, &none, NULL, sizeof(uint64_t));
}

/* Everything from `from` up goes, including fds inherited from whoever
 * started taskinit without close-on-exec. close_range needs Linux 5.9. */
static void close_fds_from(int from)
{
	if (syscall(SYS_close_range, (unsigned)from, ~0u, 0u) == 0)
		return;
	for (int fd = from; fd < 65536; fd++)
		close(fd);
}

int exec_failure_code(const char *stage, int err)
{
	return !strcmp(stage, "exec") && (err == ENOENT || err == ENOTDIR) ? 127 : 126;
}

static __attribute__((noreturn)) void fail(int status_fd, const char *stage, int err)
{
	struct exec_report r;

	memset(&r, 0, sizeof(r));
	strncpy(r.stage, stage, sizeof(r.stage) - 1);
	r.err = err;
	(void)!write(status_fd, &r, sizeof(r));
	_exit(exec_failure_code(stage, err));
}

static void set_stdio(const struct spawn_plan *p)
{
	/* Sources are all >= 3 (PID 1 keeps 0-2 open), so no dup2 below can
	 * clobber a source another one still needs. */
	dup2(p->stdin_fd, 0);
	dup2(p->stdout_fd, 1);
	dup2(p->stderr_fd, 2);
}

static int become_user(const struct creds *c)
{
	if (setgroups((size_t)c->ngroups, c->groups) < 0)
		return -1;
	if (setresgid(c->gid, c->gid, c->gid) < 0)
		return -1;
	return setresuid(c->uid, c->uid, c->uid);
}

static __attribute__((noreturn)) void run_child(const struct spawn_plan *p)
{
	const struct task_spec *s = p->spec;
	int status = 3;

	reset_signals();
	/* First, so everything the child does is accounted to its group. */
	if (p->cgroup_fd >= 0 && cg_enter(p->cgroup_fd) < 0)
		fail(p->status_fd, "cgroup", errno);
	setsid();
	set_stdio(p);
	if (p->pty && ioctl(0, TIOCSCTTY, 0) < 0)
		fail(p->status_fd, "pty", errno);
	if (p->status_fd != status && dup3(p->status_fd, status, O_CLOEXEC) < 0)
		status = p->status_fd;
	close_fds_from(status + 1);
	umask((mode_t)(p->umask >= 0 ? p->umask : 022));
	for (int i = 0; i < s->n_rlimits; i++)
		if (setrlimit(s->rlimits[i].resource, &s->rlimits[i].lim) < 0)
			fail(status, "rlimit", errno);
	if (p->cwd && chdir(p->cwd) < 0)
		fail(status, "cwd", errno);
	/* Installed while still privileged, so no_new_privs is not forced on
	 * the task; the filter stays across the user switch and exec. */
	if (p->seccomp && seccomp_install(p->seccomp) < 0)
		fail(status, "seccomp", errno);
	if (become_user(p->creds) < 0)
		fail(status, "user", errno);
	if (s->no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		fail(status, "no_new_privs", errno);
	/* execvp searches the PATH of environ: make it the task's. */
	environ = p->envp;
	execvp(p->argv[0], p->argv);
	fail(status, "exec", errno);
}

pid_t spawn_child(const struct spawn_plan *p)
{
	pid_t pid = fork();

	if (pid == 0)
		run_child(p);
	return pid;
}
