/* Signals through a signalfd, reaping, and the main task. */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "init/init.h"
#include "tasks/tasks.h"
#include "vsock/vsock.h"

/* Faults must stay deliverable: blocked, they would kill PID 1 silently. */
static const int sync_signals[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGTRAP, SIGSYS};

static void blocked_set(sigset_t *set)
{
	sigfillset(set);
	for (size_t i = 0; i < sizeof(sync_signals) / sizeof(sync_signals[0]); i++)
		sigdelset(set, sync_signals[i]);
}

/* The kernel's struct for rt_sigaction(2), which libc wrappers hide. */
struct kernel_sigaction {
	void (*handler)(int);
	unsigned long flags;
	void (*restorer)(void);
	uint64_t mask;
};

/* Whoever started taskinit may have left signals ignored, and an ignored
 * disposition survives exec. Resetting them once here, with the raw system
 * call because libc refuses the signals it reserves (32-34), is what lets
 * a task's child reset only its signal mask (tasks/spawn.c). */
static void reset_dispositions(void)
{
	struct kernel_sigaction dfl = {.handler = SIG_DFL};

	for (int sig = 1; sig <= 64; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			syscall(SYS_rt_sigaction, sig, &dfl, NULL, sizeof(uint64_t));
}

void signals_block(void)
{
	sigset_t set;

	reset_dispositions();
	blocked_set(&set);
	sigprocmask(SIG_SETMASK, &set, NULL);
}

static int exit_status(int st)
{
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	if (WIFSIGNALED(st))
		return 128 + WTERMSIG(st);
	return 255;
}

/* task.main_exit: what the end of the main task (or its failure to start)
 * leads to. */
static void after_main(struct agent *a, const char *why)
{
	switch (a->cfg.main_action) {
	case MAIN_POWEROFF:
		agent_shutdown(a, SD_POWEROFF, why);
		break;
	case MAIN_REBOOT:
		agent_shutdown(a, SD_REBOOT, why);
		break;
	case MAIN_STAY:
		log_msg(a, LL_INFO, "%s; staying up (task.main_exit=stay)", why);
		break;
	}
}

void main_task_done(struct agent *a, const struct task *t)
{
	const struct task_exit *e = &t->exit;

	a->main_exited = true;
	a->main_status = e->status;
	/* One machine-readable line, whatever the log level. */
	if (e->signal)
		console_line(a,
			     "TASKINIT_EXIT {\"pid\":%d,\"status\":%d,\"code\":null,\"signal\":%d,"
			     "\"core_dumped\":%s}",
			     t->pid, e->status, e->signal, e->core_dumped ? "true" : "false");
	else
		console_line(a,
			     "TASKINIT_EXIT {\"pid\":%d,\"status\":%d,\"code\":%d,\"signal\":null,"
			     "\"core_dumped\":false}",
			     t->pid, e->status, e->code);
	boot_mark(a, "main task exited %d", e->status);
	if (a->sd_phase != SD_NONE) {
		shutdown_on_reaped(a);
		return;
	}
	after_main(a, "main task exited");
}

/* Drains every exited child, orphans included, until none is left. */
static void reap_children(struct agent *a)
{
	int st;
	pid_t pid;

	struct rusage ru;

	while ((pid = wait4(-1, &st, WNOHANG, &ru)) > 0) {
		a->reaped++;
		if (!tasks_on_reaped(a, pid, st, &ru) && !debug_on_reaped(a, pid, st))
			log_msg(a, LL_DEBUG, "reaped pid %d (status %d)", pid, exit_status(st));
	}
	if (a->sd_phase != SD_NONE)
		shutdown_on_reaped(a);
}

static void on_signal(struct agent *a, int sig)
{
	switch (sig) {
	case SIGCHLD:
		reap_children(a);
		break;
	case SIGTERM:
	case SIGPWR:
	case SIGUSR2:
		agent_shutdown(a, SD_POWEROFF, strsignal(sig));
		break;
	case SIGINT: /* Ctrl-Alt-Del */
		agent_shutdown(a, SD_REBOOT, "Ctrl-Alt-Del (SIGINT)");
		break;
	case SIGUSR1:
		agent_shutdown(a, SD_HALT, strsignal(sig));
		break;
	default:
		log_msg(a, LL_INFO, "signal %d (%s) ignored", sig, strsignal(sig));
		break;
	}
}

static void on_signalfd(struct agent *a, struct watch *w, uint32_t events)
{
	struct signalfd_siginfo si[16];

	(void)events;
	for (;;) {
		ssize_t n = read(w->fd, si, sizeof(si));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		for (size_t i = 0; i < (size_t)n / sizeof(si[0]); i++)
			on_signal(a, (int)si[i].ssi_signo);
		/* A short read took all there was; epoll brings us back for more. */
		if ((size_t)n < sizeof(si))
			return;
	}
}

int signals_watch(struct agent *a)
{
	sigset_t set;

	blocked_set(&set);
	a->sig_watch.fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (a->sig_watch.fd < 0)
		return -1;
	a->sig_watch.on_event = on_signalfd;
	a->sig_watch.release = NULL;
	if (loop_add(a, &a->sig_watch, EPOLLIN) < 0)
		return -1;
	/* Children that exited before the signalfd existed. */
	reap_children(a);
	return 0;
}

void main_task_start(struct agent *a)
{
	struct task_spec spec;
	const char *code;
	char err[256];

	if (a->cfg.main_argc == 0) {
		log_msg(a, LL_INFO, "no main task");
		return;
	}
	memset(&spec, 0, sizeof(spec));
	spec.argc = a->cfg.main_argc;
	for (int i = 0; i < a->cfg.main_argc; i++)
		spec.argv[i] = a->cfg.main_argv[i];
	spec.name = "main";
	spec.umask = -1;
	spec.echo_console = true;
	a->main_task = task_run(a, &spec, &code, err, sizeof(err));
	if (!a->main_task) {
		log_msg(a, LL_ERROR, "main task: %s", err);
		a->main_exited = true;
		a->main_status = 127;
		console_line(a, "TASKINIT_EXIT {\"pid\":null,\"status\":127,\"code\":127,"
				"\"signal\":null,\"core_dumped\":false}");
		after_main(a, "main task could not start");
		return;
	}
	boot_mark(a, "main task started");
}
