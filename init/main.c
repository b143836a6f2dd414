/* taskinit: PID 1 for microVM guests. The one agent struct lives here. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "init/init.h"
#include "tasks/tasks.h"
#include "vsock/vsock.h"

extern char **environ;

static struct agent the_agent;

static void warn_word(void *ctx, const char *word, const char *why)
{
	log_msg(ctx, LL_WARN, "cmdline: %.200s: %s (ignored)", word, why);
}

/* Kernel command line first, then the environment, then argv: in a VM the
 * kernel keeps dotted task.* keys out of init's argv and environment, so
 * /proc/cmdline is where they are; in a namespace or container argv is. */
static void read_config(struct agent *a, int argc, char **argv)
{
	config_defaults(&a->cfg);
	/* The log level must be known before boot logs anything. */
	config_parse_env(&a->cfg, environ, NULL, NULL);
	config_parse_argv(&a->cfg, argc, argv, NULL, NULL);
}

static void read_kernel_cmdline(struct agent *a, int argc, char **argv)
{
	char line[4096];
	FILE *f;

	if (a->mode != MODE_VM)
		goto rest;
	f = fopen("/proc/cmdline", "re");
	if (!f) {
		log_msg(a, LL_WARN, "cannot read /proc/cmdline: %s", strerror(errno));
		goto rest;
	}
	if (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = 0;
		log_msg(a, LL_INFO, "kernel command line: %s", line);
		config_parse_cmdline(&a->cfg, line, warn_word, a);
	}
	fclose(f);
rest:
	/* Environment and argv again, now with warnings, and winning. */
	config_parse_env(&a->cfg, environ, warn_word, a);
	if (argc > 1)
		config_parse_argv(&a->cfg, argc, argv, warn_word, a);
}

static void start_mode(struct agent *a)
{
	if (a->mode == MODE_SUBREAPER && prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
		log_msg(a, LL_WARN, "PR_SET_CHILD_SUBREAPER: %s", strerror(errno));
	log_msg(a, LL_INFO, "taskinit %s starting as %s (pid %d)", TASKINIT_VERSION,
		a->mode == MODE_VM	    ? "PID 1"
		: a->mode == MODE_NAMESPACE ? "PID 1 of a PID namespace"
					    : "a child subreaper",
		a->pid);
}

/* `taskinit --version` and `--help` answer and exit before anything boots:
 * run by hand on a host, taskinit would otherwise start as a subreaper. */
static void answer_and_exit(int argc, char **argv)
{
	/* Never as PID 1: the kernel hands init the words of its command line
	 * it does not know, and an init that exits panics the kernel. */
	if (argc != 2 || getpid() == 1)
		return;
	if (!strcmp(argv[1], "--version")) {
		printf("taskinit %s\n", TASKINIT_VERSION);
		exit(0);
	}
	if (!strcmp(argv[1], "--help")) {
		printf("usage: taskinit [task.KEY=VALUE...] [-- COMMAND [ARGS...]]\n"
		       "PID 1 for microVM guests: mounts the guest's filesystems, runs and\n"
		       "supervises tasks, captures their output and serves them over vsock.\n"
		       "As PID 1 of a VM or of a PID namespace it boots; as any other process\n"
		       "it runs COMMAND as a child subreaper and mounts nothing.\n"
		       "Keys: docs/cmdline.md. taskinit --version prints the version.\n");
		exit(0);
	}
}

int main(int argc, char **argv)
{
	struct agent *a = &the_agent;

	answer_and_exit(argc, argv);

	a->t_exec_ns = now_ns();
	a->logfd = -1;
	a->epfd = -1;
	signals_block();
	boot_fds();
	read_config(a, argc, argv);
	log_open(a);
	a->pid = getpid();
	/* Provisional until /proc is mounted and the PID namespace is known. */
	a->mode = a->pid == 1 ? MODE_VM : MODE_SUBREAPER;
	boot_mark(a, "exec");
	boot_mounts(a);
	log_open(a); /* now /proc exists: a non-blocking description of our own */
	a->mode = detect_mode();
	start_mode(a);
	read_kernel_cmdline(a, argc, argv);
	boot_system(a);
	boot_modules(a);
	switch_root(a, argv); /* returns only when it did not exec the disk's init */
	if (loop_init(a) < 0 || tasks_init(a) < 0 || signals_watch(a) < 0)
		agent_fatal(a, "event loop setup");
	net_boot(a);
	control_start(a);
	main_task_start(a);
	boottasks_start(a);
	boot_mark(a, "boot done");
	loop_run(a);
}
