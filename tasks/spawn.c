/* The child's side of spawning: from vfork to exec.
 *
 * vfork because fork copies the agent's page tables, and the agent grows
 * with its rings: with the default 64 MiB ring budget full, fork+exec costs
 * 4-5x vfork+exec here (docs/benchmarks.md, "tasks"). The price is that the
 * child borrows the agent's memory and stack until it execs or exits, and
 * the agent is suspended meanwhile. So the child:
 * - changes no memory the agent uses: no environ assignment, no libc call
 *   that takes libc locks or tells other threads (musl's setrlimit and
 *   set*id broadcast with __synccall); those are raw system calls here;
 * - only makes local system calls that do not block, then execs or
 *   _exits; a failed step is written into the plan's report, which the
 *   agent reads as soon as the spawn returns (the memory is shared, so no
 *   pipe is needed);
 * - skips the set*id calls when the task is to have the agent's own
 *   credentials (recorded by spawner_init): they would change nothing.
 *
 * The child is made with clone3(CLONE_VM | CLONE_VFORK) on a stack of its
 * own, and a task with a cgroup is born in it (CLONE_INTO_CGROUP): moving
 * a process into a group afterwards (a write to cgroup.procs) takes the
 * cgroup core's process-wide lock for writing, which costs more than the
 * spawn itself here. Kernels before 5.7 (5.3 without a cgroup), other
 * architectures and valgrind (no clone3) get vfork and that write instead,
 * with the report on a close-on-exec pipe: under valgrind, vfork is a fork
 * and shares nothing. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/sched.h>

#include "tasks/internal.h"

#ifndef SYS_close_range
#define SYS_close_range 436
#endif

/* Dispositions need no reset: the agent keeps them all SIG_DFL
 * (signals_block in init/), and exec resets handlers anyway. The mask is
 * the agent's (nearly everything blocked) and is inherited: clear it. */
static void reset_signal_mask(void)
{
	uint64_t none = 0;

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

/* The report goes into the plan, which the agent sees if the memory is
 * shared, and down the status pipe if there is one. */
static __attribute__((noreturn)) void fail(struct spawn_plan *p, int status_fd, const char *stage,
					   int err)
{
	struct exec_report *r = &p->report;

	strncpy(r->stage, stage, sizeof(r->stage) - 1);
	r->err = err;
	if (status_fd >= 0)
		(void)!write(status_fd, r, sizeof(*r));
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

static bool same_creds(const struct creds *a, const struct creds *b)
{
	return a->uid == b->uid && a->gid == b->gid && a->ngroups == b->ngroups &&
	       !memcmp(a->groups, b->groups, (size_t)a->ngroups * sizeof(a->groups[0]));
}

static int become_user(const struct spawner *sp, const struct creds *c)
{
	if (sp->self_known && same_creds(c, &sp->self))
		return 0;
	if (syscall(SYS_setgroups, (long)c->ngroups, c->groups) < 0)
		return -1;
	if (syscall(SYS_setresgid, (long)c->gid, (long)c->gid, (long)c->gid) < 0)
		return -1;
	return (int)syscall(SYS_setresuid, (long)c->uid, (long)c->uid, (long)c->uid);
}

static int set_rlimits(const struct task_spec *s)
{
	for (int i = 0; i < s->n_rlimits; i++)
		if (syscall(SYS_prlimit64, 0L, (long)s->rlimits[i].resource, &s->rlimits[i].lim,
			    NULL) < 0)
			return -1;
	return 0;
}

static const char *env_path(char **envp)
{
	for (; envp && *envp; envp++)
		if (!strncmp(*envp, "PATH=", 5))
			return *envp + 5;
	return "/usr/local/bin:/bin:/usr/bin";
}

/* execvp's search, with the task's PATH rather than the agent's environ and
 * with the candidate path built on the stack. Returns the errno to report:
 * EACCES if some candidate was not executable, else the last error. */
static int exec_search(char *const *argv, char **envp)
{
	const char *file = argv[0];
	char path[4096];
	int err = ENOENT;
	bool denied = false;

	if (strchr(file, '/')) {
		execve(file, argv, envp);
		return errno;
	}
	size_t flen = strlen(file);
	for (const char *dir = env_path(envp);; dir++) {
		const char *end = strchrnul(dir, ':');
		size_t dlen = (size_t)(end - dir);
		if (dlen + 1 + flen < sizeof(path)) {
			memcpy(path, dir, dlen);
			path[dlen] = '/';
			memcpy(path + dlen + 1, file, flen + 1);
			/* An empty PATH element means the current directory. */
			execve(dlen ? path : path + 1, argv, envp);
			err = errno;
			if (err == EACCES)
				denied = true;
			else if (err != ENOENT && err != ENOTDIR)
				return err;
		}
		if (!*end)
			break;
		dir = end;
	}
	return denied ? EACCES : err;
}

static __attribute__((noreturn)) void run_child(struct spawn_plan *p)
{
	const struct task_spec *s = p->spec;
	int status = p->status_fd;

	p->child_shared_memory = true;
	reset_signal_mask();
	/* First, so everything the child does is accounted to its group. */
	if (p->cgroup_fd >= 0 && !p->born_in_cgroup && cg_enter(p->cgroup_fd) < 0)
		fail(p, status, "cgroup", errno);
	setsid();
	set_stdio(p);
	if (p->pty && ioctl(0, TIOCSCTTY, 0) < 0)
		fail(p, status, "pty", errno);
	if (status >= 0 && status != 3 && dup3(status, 3, O_CLOEXEC) == 3)
		status = 3;
	close_fds_from(status >= 3 ? status + 1 : 3);
	umask((mode_t)(p->umask >= 0 ? p->umask : 022));
	if (set_rlimits(s) < 0)
		fail(p, status, "rlimit", errno);
	if (p->cwd && chdir(p->cwd) < 0)
		fail(p, status, "cwd", errno);
	/* Installed while still privileged, so no_new_privs is not forced on
	 * the task; the filter stays across the user switch and exec. */
	if (p->seccomp && seccomp_install(p->seccomp) < 0)
		fail(p, status, "seccomp", errno);
	if (become_user(p->spawner, p->creds) < 0)
		fail(p, status, "user", errno);
	if (s->no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		fail(p, status, "no_new_privs", errno);
	fail(p, status, "exec", exec_search(p->argv, p->envp));
}

static void run_child_entry(void *plan)
{
	run_child(plan);
}

#if defined(__x86_64__)
enum { SPAWN_STACK = 256 << 10 }; /* room for sanitizer builds too */

/* clone3 with CLONE_VM continues the child on the new stack, where no C
 * frame of this function exists: the child's side must be assembly that
 * calls straight into the plan and never returns. */
static long clone3_run(struct clone_args *ca, void (*fn)(void *), void *arg)
{
	register long rax __asm__("rax") = SYS_clone3;
	register void (*r12)(void *) __asm__("r12") = fn;
	register void *r13 __asm__("r13") = arg;

	__asm__ volatile("syscall\n\t"
			 "test %%rax, %%rax\n\t"
			 "jnz 1f\n\t"
			 "xor %%ebp, %%ebp\n\t"
			 "mov %%r13, %%rdi\n\t"
			 "call *%%r12\n\t"
			 "hlt\n"
			 "1:"
			 : "+r"(rax)
			 : "D"(ca), "S"(sizeof(*ca)), "r"(r12), "r"(r13)
			 : "rcx", "r11", "memory");
	return rax;
}

/* -1 with errno when clone3 or its stack fails: spawn_child decides
 * whether vfork is worth a try. */
static pid_t clone_vm(struct spawner *sp, struct spawn_plan *p)
{
	if (!sp->stack) {
		void *st = mmap(NULL, SPAWN_STACK, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
		if (st == MAP_FAILED)
			return -1;
		sp->stack = st;
		sp->stack_size = SPAWN_STACK;
	}
	bool into = p->cgroup_fd >= 0;
	struct clone_args ca = {
	    .flags = CLONE_VM | CLONE_VFORK | (into ? CLONE_INTO_CGROUP : 0),
	    .exit_signal = SIGCHLD,
	    .stack = (uint64_t)(uintptr_t)sp->stack,
	    .stack_size = sp->stack_size,
	    .cgroup = into ? (uint64_t)p->cgroup_fd : 0,
	};
	p->born_in_cgroup = into;
	long r = clone3_run(&ca, run_child_entry, p);
	if (r >= 0)
		return (pid_t)r;
	p->born_in_cgroup = false;
	errno = (int)-r;
	return -1;
}
#else
static pid_t clone_vm(struct spawner *sp, struct spawn_plan *p)
{
	(void)p;
	sp->no_clone3 = true;
	errno = ENOSYS;
	return -1;
}
#endif

/* Where vfork shares the agent's memory the child's report is already in
 * the plan. Where it is a fork (valgrind), wait a bounded while for the
 * report or for the EOF that close-on-exec gives: the child only makes
 * local system calls. */
static void read_status_pipe(struct spawn_plan *p, int fd)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	struct exec_report r;

	if (p->child_shared_memory)
		return;
	for (;;) {
		int n = poll(&pfd, 1, EXEC_STATUS_WAIT_MS);
		if (n > 0)
			break;
		if (n < 0 && errno == EINTR)
			continue;
		p->report_late = true; /* never a read that could block */
		return;
	}
	ssize_t got;
	do
		got = read(fd, &r, sizeof(r));
	while (got < 0 && errno == EINTR);
	if (got == (ssize_t)sizeof(r)) {
		r.stage[sizeof(r.stage) - 1] = 0;
		p->report = r;
	}
}

static pid_t vfork_with_status_pipe(struct spawn_plan *p)
{
	int fds[2];

	if (pipe2(fds, O_CLOEXEC) < 0)
		return -1;
	p->status_fd = fds[1];
	pid_t pid = vfork();
	if (pid == 0)
		run_child(p);
	int err = errno;
	close(fds[1]);
	p->status_fd = -1;
	if (pid > 0)
		read_status_pipe(p, fds[0]);
	close(fds[0]);
	errno = err;
	return pid;
}

/* clone3 can fail where vfork works: before Linux 5.3 (5.7 for
 * CLONE_INTO_CGROUP) and under valgrind (ENOSYS, E2BIG, EINVAL), in
 * sandboxes whose seccomp filter refuses it (EPERM: older container
 * profiles, systemd's allow-lists), or when its stack cannot be mapped.
 * Then vfork; and vfork from now on when clone3 itself is what is missing.
 * Out of processes (EAGAIN: pids.max, RLIMIT_NPROC), vfork would fail the
 * same way. */
static bool vfork_may_work(int err)
{
	return err != EAGAIN;
}

static bool clone3_unusable(int err)
{
	return err == ENOSYS || err == E2BIG || err == EINVAL || err == EPERM;
}

pid_t spawn_child(struct spawner *sp, struct spawn_plan *p)
{
	memset(&p->report, 0, sizeof(p->report));
	p->report_late = false;
	p->spawner = sp;
	p->status_fd = -1;
	p->born_in_cgroup = false;
	p->child_shared_memory = false;
	if (!sp->no_clone3) {
		pid_t pid = clone_vm(sp, p);
		int err = errno;
		if (pid >= 0 || !vfork_may_work(err))
			return pid;
		pid = vfork_with_status_pipe(p);
		if (pid >= 0 && clone3_unusable(err))
			sp->no_clone3 = true;
		return pid;
	}
	return vfork_with_status_pipe(p);
}

void spawner_init(struct spawner *sp)
{
	uid_t ru = 0, eu = 0, su = 0;
	gid_t rg = 0, eg = 0, sg = 0;
	int n = getgroups(TASK_MAX_GROUPS, sp->self.groups);

	/* Only a process whose real, effective and saved ids agree is spared
	 * the set*id calls: they would change something otherwise. */
	sp->self_known = n >= 0 && getresuid(&ru, &eu, &su) == 0 && getresgid(&rg, &eg, &sg) == 0 &&
			 ru == eu && eu == su && rg == eg && eg == sg;
	sp->self.uid = eu;
	sp->self.gid = eg;
	sp->self.ngroups = n < 0 ? 0 : n;
}

void spawner_free(struct spawner *sp)
{
	if (sp->stack)
		munmap(sp->stack, sp->stack_size);
	sp->stack = NULL;
}
