/* The spawn primitive: a clean process for a task. */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "tasks/tasks.h"

#ifndef SYS_close_range
#define SYS_close_range 436
#endif

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

/* Everything above 2 goes, including fds inherited from whoever started
 * taskinit without close-on-exec. close_range needs Linux 5.9. */
static void close_extra_fds(void)
{
	if (syscall(SYS_close_range, 3u, ~0u, 0u) == 0)
		return;
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		return;
	int keep = dirfd(d);
	struct dirent *e;
	while ((e = readdir(d))) {
		int fd = atoi(e->d_name);
		if (fd > 2 && fd != keep)
			close(fd);
	}
	closedir(d);
}

static __attribute__((noreturn)) void exec_child(char *const argv[])
{
	reset_signals();
	setsid();
	close_extra_fds();
	execvp(argv[0], argv);
	int err = errno;
	dprintf(2, "taskinit: exec %s: %s\n", argv[0], strerror(err));
	_exit(err == ENOENT || err == ENOTDIR ? 127 : 126);
}

pid_t spawn_process(char *const argv[])
{
	pid_t pid = fork();

	if (pid == 0)
		exec_child(argv);
	return pid;
}
