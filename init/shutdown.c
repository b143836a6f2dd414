/* Shutdown, as a state machine in the loop: TERM everyone, wait up to
 * task.grace seconds while reaping, KILL the rest, then unmount and
 * power off (in a VM) or exit with the main task's status (otherwise). */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/wait.h>
#include <unistd.h>

#include "init/init.h"
#include "tasks/tasks.h"
#include "vsock/vsock.h"

/* How long to wait for SIGKILLed processes to be reaped (a process in
 * uninterruptible sleep cannot die until its I/O ends). */
#define KILL_WAIT_MS 2000

const char *shutdown_action_name(enum shutdown_action act)
{
	switch (act) {
	case SD_REBOOT:
		return "reboot";
	case SD_HALT:
		return "halt";
	default:
		return "poweroff";
	}
}

static bool has_children(void)
{
	siginfo_t si;

	memset(&si, 0, sizeof(si));
	/* WNOWAIT leaves a zombie for the SIGCHLD handler to account for. */
	return waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) == 0;
}

/* A subreaper must not use kill(-1): that reaches every process the user
 * may signal on the host. It signals its own children's process groups
 * and its children one by one instead. */
static void signal_descendants(struct agent *a, int sig)
{
	if (a->mode != MODE_SUBREAPER) {
		kill(-1, sig);
		return;
	}
	DIR *d = opendir("/proc");
	struct dirent *e;
	if (!d)
		return;
	while ((e = readdir(d))) {
		char path[64], buf[512];
		int pid = atoi(e->d_name), ppid = 0, pgid = 0;
		if (pid <= 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/stat", pid);
		FILE *f = fopen(path, "re");
		if (!f)
			continue;
		if (fgets(buf, sizeof(buf), f)) {
			char *close = strrchr(buf, ')');
			if (close)
				sscanf(close + 2, "%*c %d %d", &ppid, &pgid);
		}
		fclose(f);
		if (ppid == a->pid) {
			if (pgid > 1 && pgid != getpgrp())
				kill(-pgid, sig);
			kill(pid, sig);
		}
	}
	closedir(d);
}

#define UNMOUNT_MAX 128
/* How long the end of shutdown waits for writes still in their fsync. */
#define SHUTDOWN_FSYNC_WAIT_MS 1000

/* In a VM every mount goes, innermost first; what is busy is made
 * read-only so nothing is left dirty when the power goes. */
static void unmount_all(struct agent *a)
{
	char paths[UNMOUNT_MAX][128]; /* 16 KiB of stack, once, at the very end */
	unsigned n = 0;
	char line[1024];
	FILE *f = fopen("/proc/self/mountinfo", "re");

	if (f) {
		while (n < UNMOUNT_MAX && fgets(line, sizeof(line), f))
			if (sscanf(line, "%*s %*s %*s %*s %127s", paths[n]) == 1)
				n++;
		fclose(f);
	}
	while (n--) {
		if (!strcmp(paths[n], "/"))
			continue;
		if (umount2(paths[n], 0) == 0)
			continue;
		if (mount(NULL, paths[n], NULL, MS_REMOUNT | MS_RDONLY, NULL) < 0)
			log_msg(a, LL_DEBUG, "umount %s: %s", paths[n], strerror(errno));
	}
	if (mount(NULL, "/", NULL, MS_REMOUNT | MS_RDONLY, NULL) < 0)
		log_msg(a, LL_DEBUG, "remount / read-only: %s", strerror(errno));
}

static __attribute__((noreturn)) void finish(struct agent *a)
{
	a->sd_phase = SD_FINAL;
	control_close_all(a);
	tasks_cleanup(a);
	sync();
	files_finish_for_shutdown(a, SHUTDOWN_FSYNC_WAIT_MS);
	if (a->mode == MODE_VM) {
		unmount_all(a);
		log_msg(a, LL_INFO, "%s", shutdown_action_name(a->sd_action));
		int cmd = a->sd_action == SD_REBOOT ? RB_AUTOBOOT
			  : a->sd_action == SD_HALT ? RB_HALT_SYSTEM
						    : RB_POWER_OFF;
		reboot(cmd);
		log_msg(a, LL_ERROR, "reboot: %s", strerror(errno));
		for (;;)
			pause();
	}
	/* A namespace's mounts go with it; a subreaper's host keeps its own. */
	int status = a->main_exited ? a->main_status : 0;
	log_msg(a, LL_INFO, "exiting with status %d (%s)", status,
		a->mode == MODE_NAMESPACE ? "namespace PID 1" : "subreaper");
	exit(status);
}

static void on_shutdown_timer(struct agent *a, struct timer *t)
{
	(void)t;
	if (a->sd_phase == SD_TERM) {
		log_msg(a, LL_WARN, "grace period over: sending SIGKILL to what is left");
		a->sd_phase = SD_KILL;
		signal_descendants(a, SIGKILL);
		timer_arm(a, &a->sd_timer, KILL_WAIT_MS);
		return;
	}
	if (has_children())
		log_msg(a, LL_WARN, "processes survived SIGKILL; going on");
	finish(a);
}

/* The main task's exit line comes out before the end, once its output is
 * drained (tasks/ then calls main_task_done, which calls here again). */
static bool main_exit_pending(struct agent *a)
{
	return a->main_task && a->main_task->reaped && !a->main_exited;
}

void shutdown_on_reaped(struct agent *a)
{
	if (a->sd_phase == SD_FINAL || has_children() || main_exit_pending(a))
		return;
	timer_cancel(a, &a->sd_timer);
	log_msg(a, LL_INFO, "all processes gone");
	finish(a);
}

void agent_shutdown(struct agent *a, enum shutdown_action act, const char *why)
{
	if (a->sd_phase != SD_NONE) {
		log_msg(a, LL_INFO, "shutdown already in progress (%s ignored)", why);
		return;
	}
	a->sd_phase = SD_TERM;
	a->sd_action = act;
	log_msg(a, LL_INFO, "shutdown (%s): %s; SIGTERM to all, grace %us",
		shutdown_action_name(act), why, a->cfg.grace_s);
	boot_mark(a, "shutdown: %s", shutdown_action_name(act));
	control_stop_accepting(a);
	a->sd_timer.on_fire = on_shutdown_timer;
	signal_descendants(a, SIGTERM);
	signal_descendants(a, SIGCONT);
	timer_arm(a, &a->sd_timer, (uint64_t)a->cfg.grace_s * 1000u);
	shutdown_on_reaped(a);
}

void agent_fatal(struct agent *a, const char *what)
{
	log_msg(a, LL_ERROR, "fatal: %s: %s", what, strerror(errno));
	if (a->sd_phase == SD_NONE) {
		a->sd_action = SD_POWEROFF;
		signal_descendants(a, SIGTERM);
		/* The loop itself may be what failed: no grace period to wait in. */
		sleep(a->cfg.grace_s < 2 ? a->cfg.grace_s : 2);
		signal_descendants(a, SIGKILL);
	}
	finish(a);
}
