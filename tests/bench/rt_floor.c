/* The floor under the exec round trip: the least a control server can do
 * to run a program for a client over a socket and report its exit, timed
 * the way rt_client times taskinit. A server process (forked from this one,
 * on a socketpair) waits in epoll; per `run` line it makes stdout and
 * stderr pipes, vforks PROGRAM with /dev/null as stdin, a new session and
 * an empty signal mask, and replies `ok`; once the child is reaped and
 * both pipes reached EOF it answers the pending `wait` with `exit`. No
 * ring, no cgroup, no parsing, no JSON: what is left is the kernel's part
 * (socket wakeups, pipes, epoll, the spawn, the exit seen through the
 * pipes' EOF and SIGCHLD), which any agent that captures output pays.
 *
 *     rt_floor N PROGRAM
 *
 * Prints `raw rt US...` (run, then wait: two round trips) and
 * `raw piped US...` (run and wait in one write), like rt_client. */
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/bench/rt_common.h"

struct child {
	pid_t pid;
	int open_pipes;
	bool reaped, waiting;
};

static void watch(int ep, int fd)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};

	if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0)
		die("epoll_ctl");
}

static pid_t spawn(char *prog, int devnull, int out, int err)
{
	char *argv[] = {prog, NULL};
	pid_t pid = vfork();

	if (pid == 0) {
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		setsid();
		dup2(devnull, 0);
		dup2(out, 1);
		dup2(err, 2);
		execve(prog, argv, environ);
		_exit(127);
	}
	return pid;
}

static void run_one(int ep, char *prog, int devnull, struct child *c)
{
	int o[2], e[2];

	if (pipe2(o, O_CLOEXEC) < 0 || pipe2(e, O_CLOEXEC) < 0)
		die("pipe2");
	fcntl(o[0], F_SETFL, O_NONBLOCK);
	fcntl(e[0], F_SETFL, O_NONBLOCK);
	c->pid = spawn(prog, devnull, o[1], e[1]);
	if (c->pid < 0)
		die("vfork");
	close(o[1]);
	close(e[1]);
	watch(ep, o[0]);
	watch(ep, e[0]);
	c->open_pipes = 2;
	c->reaped = c->waiting = false;
}

static void answer_if_done(int sock, struct child *c)
{
	if (c->waiting && c->reaped && c->open_pipes == 0) {
		c->waiting = false;
		if (write(sock, "exit\n", 5) != 5)
			die("reply");
	}
}

static void on_request(int sock, int ep, char *prog, int devnull, struct child *c)
{
	char buf[64];
	ssize_t n = read(sock, buf, sizeof(buf));

	if (n <= 0)
		exit(0);
	for (ssize_t i = 0; i < n; i++) {
		if (buf[i] == 'r') {
			run_one(ep, prog, devnull, c);
			if (write(sock, "ok\n", 3) != 3)
				die("reply");
		} else if (buf[i] == 'w') {
			c->waiting = true;
		}
	}
}

static void on_output(int ep, int fd, struct child *c)
{
	char buf[4096];
	ssize_t n = read(fd, buf, sizeof(buf));

	if (n == 0) {
		epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
		close(fd);
		c->open_pipes--;
	}
}

static void on_sigchld(int sfd, struct child *c)
{
	struct signalfd_siginfo si[8];
	int st;

	while (read(sfd, si, sizeof(si)) > 0)
		;
	while (waitpid(-1, &st, WNOHANG) > 0)
		c->reaped = true;
}

static __attribute__((noreturn)) void serve(int sock, char *prog)
{
	sigset_t chld;
	struct child c = {0};
	int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
	int ep = epoll_create1(EPOLL_CLOEXEC);

	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, NULL);
	int sfd = signalfd(-1, &chld, SFD_NONBLOCK | SFD_CLOEXEC);
	if (devnull < 0 || ep < 0 || sfd < 0)
		die("server setup");
	watch(ep, sock);
	watch(ep, sfd);
	for (;;) {
		struct epoll_event evs[8];
		int k = epoll_wait(ep, evs, 8, -1);
		for (int i = 0; i < k; i++) {
			int fd = evs[i].data.fd;
			if (fd == sock)
				on_request(sock, ep, prog, devnull, &c);
			else if (fd == sfd)
				on_sigchld(sfd, &c);
			else
				on_output(ep, fd, &c);
		}
		answer_if_done(sock, &c);
	}
}

/* Reads until `want` newlines came; dies on a closed socket. */
static void read_lines(int fd, int want)
{
	char buf[64];

	while (want > 0) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n <= 0)
			die("server went away");
		for (ssize_t i = 0; i < n; i++)
			want -= buf[i] == '\n';
	}
}

static void send_str(int fd, const char *s)
{
	if (write(fd, s, strlen(s)) != (ssize_t)strlen(s))
		die("request");
}

int main(int argc, char **argv)
{
	int sv[2];

	if (argc != 3)
		die("usage: rt_floor N PROGRAM");
	int n = atoi(argv[1]);
	double *rt = calloc((size_t)n, sizeof(double));
	double *piped = calloc((size_t)n, sizeof(double));
	if (n < 1 || !rt || !piped || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		die("setup failed");
	pid_t server = fork();
	if (server < 0)
		die("fork");
	if (server == 0) {
		close(sv[0]);
		serve(sv[1], argv[2]);
	}
	close(sv[1]);
	for (int i = 0; i < n; i++) {
		double t0 = now_us();
		send_str(sv[0], "r\n");
		read_lines(sv[0], 1);
		send_str(sv[0], "w\n");
		read_lines(sv[0], 1);
		rt[i] = now_us() - t0;
		t0 = now_us();
		send_str(sv[0], "r\nw\n");
		read_lines(sv[0], 2);
		piped[i] = now_us() - t0;
	}
	close(sv[0]);
	waitpid(server, NULL, 0);
	print_raw("rt", rt, n);
	print_raw("piped", piped, n);
	return 0;
}
