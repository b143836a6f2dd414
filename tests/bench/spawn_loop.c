/* Bare spawn loop: the baseline for task_bench.py's exec round trip.
 * Spawns PROGRAM (no arguments) N times with each of fork+execve,
 * vfork+execve and posix_spawn, waiting for each child with waitpid, and
 * prints the median and p90 of each method. Two more rows, fork+setup and
 * vfork+setup, add the syscalls taskinit's child makes before exec
 * (tasks/spawn.c), to split taskinit's cost into fork, child setup and the
 * rest. Rounds interleave the methods
 * (fork, vfork, posix_spawn, fork, ...) so all see the same machine.
 *
 *     spawn_loop [-b MIB] [-r] N PROGRAM
 *
 * -r also prints every sample, one line per method:
 *     raw fork 412.3 399.0 ...
 * -b MIB first touches MIB MiB of heap, so fork has a parent that size to
 * copy page tables for (as an agent with full rings would); vfork and
 * posix_spawn do not care.
 *
 *     spawn_loop --sink
 *
 * reads stdin to EOF into a 4 MiB buffer (advancing through it as a ring
 * would) and throws it away: the consumer of the raw-pipe baseline of the
 * capture benchmark.
 *
 * Output lines (one per method):
 *     spawn fork n 1000 ballast_mib 0 median_us 412.3 p90_us 480.9 min_us 390.0
 */
#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef SYS_close_range
#define SYS_close_range 436
#endif

extern char **environ;

enum { M_FORK, M_VFORK, M_POSIX_SPAWN, M_FORK_SETUP, M_VFORK_SETUP, M_COUNT };
static const char *const method_name[M_COUNT] = {"fork", "vfork", "posix_spawn", "fork+setup",
						 "vfork+setup"};

/* What taskinit's child does between fork and exec (tasks/spawn.c) for a
 * task with no options: no signal blocked (dispositions are already the
 * default in taskinit), its own session, stdio, fds closed, umask,
 * credentials (to root, as root). Only syscalls, so it is safe in a vfork
 * child too. */
static void taskinit_setup(void)
{
	unsigned long long none = 0;
	gid_t g = 0;

	syscall(SYS_rt_sigprocmask, SIG_SETMASK, &none, NULL, 8);
	syscall(SYS_setsid);
	syscall(SYS_dup2, 0, 10);
	syscall(SYS_dup2, 1, 11);
	syscall(SYS_dup2, 2, 12);
	syscall(SYS_close_range, 3u, ~0u, 0u);
	syscall(SYS_umask, 022);
	syscall(SYS_setgroups, 1, &g);
	syscall(SYS_setresgid, 0, 0, 0);
	syscall(SYS_setresuid, 0, 0, 0);
}

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int sink(void)
{
	enum { CAP = 4 << 20, CHUNK = 1 << 20 };
	char *buf = malloc(CAP);
	size_t pos = 0;
	unsigned long long total = 0;

	if (!buf)
		return 1;
	for (;;) {
		size_t want = CAP - pos < CHUNK ? CAP - pos : CHUNK;
		ssize_t n = read(0, buf + pos, want);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return 1;
		if (n == 0)
			break;
		total += (unsigned long long)n;
		pos = (pos + (size_t)n) % CAP;
	}
	fprintf(stderr, "sink: %llu bytes\n", total);
	free(buf);
	return 0;
}

static pid_t spawn_one(int m, char *const argv[])
{
	pid_t pid;

	switch (m) {
	case M_FORK:
		pid = fork();
		if (pid == 0) {
			execve(argv[0], argv, environ);
			_exit(127);
		}
		return pid;
	case M_VFORK:
		pid = vfork();
		if (pid == 0) {
			execve(argv[0], argv, environ);
			_exit(127);
		}
		return pid;
	case M_FORK_SETUP:
		pid = fork();
		if (pid == 0) {
			taskinit_setup();
			execve(argv[0], argv, environ);
			_exit(127);
		}
		return pid;
	case M_VFORK_SETUP:
		pid = vfork();
		if (pid == 0) {
			taskinit_setup();
			execve(argv[0], argv, environ);
			_exit(127);
		}
		return pid;
	default:
		if (posix_spawn(&pid, argv[0], NULL, NULL, argv, environ) != 0)
			return -1;
		return pid;
	}
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	long ballast_mib = 0;
	int opt, raw = 0;

	if (argc == 2 && !strcmp(argv[1], "--sink"))
		return sink();
	while ((opt = getopt(argc, argv, "b:r")) != -1) {
		if (opt == 'r') {
			raw = 1;
			continue;
		}
		if (opt != 'b') {
			fprintf(stderr,
				"usage: spawn_loop [-b MIB] [-r] N PROGRAM | spawn_loop --sink\n");
			return 2;
		}
		ballast_mib = atol(optarg);
	}
	if (argc - optind != 2) {
		fprintf(stderr, "usage: spawn_loop [-b MIB] [-r] N PROGRAM | spawn_loop --sink\n");
		return 2;
	}
	int n = atoi(argv[optind]);
	char *child[] = {argv[optind + 1], NULL};
	if (n < 1)
		return 2;
	if (ballast_mib > 0) {
		size_t sz = (size_t)ballast_mib << 20;
		char *b = malloc(sz);
		if (!b)
			return 1;
		memset(b, 1, sz); /* touched, so the pages are mapped */
		__asm__ volatile("" : : "r"(b) : "memory");
	}
	/* As PID 1 of a namespace, default SIGCHLD handling is fine: children
	 * are waited for by pid. */
	double *t[M_COUNT];
	for (int m = 0; m < M_COUNT; m++)
		if (!(t[m] = calloc((size_t)n, sizeof(double))))
			return 1;
	int warm = n / 20 + 5;
	for (int i = -warm; i < n; i++) {
		for (int m = 0; m < M_COUNT; m++) {
			int st;
			double t0 = now_us();
			pid_t pid = spawn_one(m, child);
			if (pid < 0) {
				perror(method_name[m]);
				return 1;
			}
			while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
				;
			double dt = now_us() - t0;
			if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
				fprintf(stderr, "%s: child status %d\n", method_name[m], st);
				return 1;
			}
			if (i >= 0)
				t[m][i] = dt;
		}
	}
	for (int m = 0; raw && m < M_COUNT; m++) {
		printf("raw %s", method_name[m]);
		for (int i = 0; i < n; i++)
			printf(" %.1f", t[m][i]);
		printf("\n");
	}
	for (int m = 0; m < M_COUNT; m++) {
		qsort(t[m], (size_t)n, sizeof(double), cmp_double);
		printf("spawn %s n %d ballast_mib %ld median_us %.1f p90_us %.1f min_us %.1f\n",
		       method_name[m], n, ballast_mib, t[m][n / 2], t[m][(n * 9) / 10], t[m][0]);
	}
	return 0;
}
