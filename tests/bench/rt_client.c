/* The exec round trip client of task_bench.py: run PROGRAM as a task over
 * the control socket and wait for its exit record, N times, timing each
 * from sending `run` to the `wait` reply. A C client, so that the figure is
 * taskinit's and not an interpreter's.
 *
 *     rt_client SOCKET N PROGRAM
 *
 * Prints `raw rt US...` (run, then wait: two round trips) and
 * `raw piped US...` (`run --name rt` and `wait rt` in one write). Each task
 * is removed after it is timed, untimed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "tests/bench/rt_common.h"

static char buf[65536];
static size_t have;

static void send_all(int fd, const char *s)
{
	size_t n = strlen(s);

	while (n) {
		ssize_t w = write(fd, s, n);
		if (w <= 0)
			die("write to the control socket failed");
		s += w;
		n -= (size_t)w;
	}
}

/* One reply line into line (NUL-terminated); dies on a closed socket. */
static void read_line(int fd, char *line, size_t cap)
{
	char *nl;

	while (!(nl = memchr(buf, '\n', have))) {
		if (have == sizeof(buf))
			die("reply line too long");
		ssize_t r = read(fd, buf + have, sizeof(buf) - have);
		if (r <= 0)
			die("control socket closed");
		have += (size_t)r;
	}
	size_t n = (size_t)(nl - buf);
	if (n >= cap)
		die("reply line too long");
	memcpy(line, buf, n);
	line[n] = 0;
	have -= n + 1;
	memmove(buf, nl + 1, have);
}

static void expect_ok(const char *line, const char *what)
{
	if (strncmp(line, "{\"ok\":true", 10) != 0) {
		fprintf(stderr, "rt_client: %s: %s\n", what, line);
		exit(1);
	}
}

static unsigned long task_id(const char *line)
{
	const char *p = strstr(line, "\"id\":");

	if (!p)
		die("no id in the run reply");
	return strtoul(p + 5, NULL, 10);
}

static void expect_exit_zero(const char *line)
{
	expect_ok(line, "wait");
	if (!strstr(line, "\"status\":0"))
		die("the task did not exit 0");
}

int main(int argc, char **argv)
{
	static char line[65536];
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char req[4096];

	if (argc != 4)
		die("usage: rt_client SOCKET N PROGRAM");
	int n = atoi(argv[2]);
	double *rt = calloc((size_t)n, sizeof(double));
	double *piped = calloc((size_t)n, sizeof(double));
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (!rt || !piped || fd < 0)
		die("setup failed");
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", argv[1]);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		die("cannot connect");
	for (int i = 0; i < n; i++) {
		double t0 = now_us();
		snprintf(req, sizeof(req), "run --ring-size 1M -- %s\n", argv[3]);
		send_all(fd, req);
		read_line(fd, line, sizeof(line));
		expect_ok(line, "run");
		unsigned long id = task_id(line);
		snprintf(req, sizeof(req), "wait %lu\n", id);
		send_all(fd, req);
		read_line(fd, line, sizeof(line));
		rt[i] = now_us() - t0;
		expect_exit_zero(line);
		snprintf(req, sizeof(req), "rm %lu\n", id);
		send_all(fd, req);
		read_line(fd, line, sizeof(line));

		t0 = now_us();
		snprintf(req, sizeof(req), "run --name rt --ring-size 1M -- %s\nwait rt\n",
			 argv[3]);
		send_all(fd, req);
		read_line(fd, line, sizeof(line));
		expect_ok(line, "run");
		id = task_id(line);
		read_line(fd, line, sizeof(line));
		piped[i] = now_us() - t0;
		expect_exit_zero(line);
		snprintf(req, sizeof(req), "rm %lu\n", id);
		send_all(fd, req);
		read_line(fd, line, sizeof(line));
	}
	print_raw("rt", rt, n);
	print_raw("piped", piped, n);
	return 0;
}
