/* The init log: levelled, timestamped lines on the console, and the boot
 * timeline. Writes never block: the log fd is a non-blocking file
 * description of its own, and what the console cannot take is counted. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "init/init.h"

uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* A separate open of a console, tty or pipe gives a file description
 * whose O_NONBLOCK does not leak into tasks sharing fd 2. A regular file is
 * shared instead: a new description would write from offset 0 over what
 * others wrote, and regular files never block anyway. */
void log_open(struct agent *a)
{
	struct stat st;
	int fd = -1;

	if (fstat(2, &st) == 0 && (S_ISCHR(st.st_mode) || S_ISFIFO(st.st_mode)))
		fd = open("/proc/self/fd/2", O_WRONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		fd = fcntl(2, F_DUPFD_CLOEXEC, 3);
	if (fd >= 0 && a->logfd > 2)
		close(a->logfd);
	if (fd >= 0)
		a->logfd = fd;
}

static void write_line(struct agent *a, const char *buf, size_t len)
{
	int fd = a->logfd >= 0 ? a->logfd : 2;

	while (len) {
		ssize_t n = write(fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			a->log_dropped += len;
			return;
		}
		buf += n;
		len -= (size_t)n;
	}
}

static void vlog_line(struct agent *a, const char *level, const char *fmt, va_list ap)
{
	char line[1024];
	uint64_t t = now_ns();
	int n = snprintf(line, sizeof(line),
			 "[%5llu.%06llu] taskinit %s: ", (unsigned long long)(t / 1000000000u),
			 (unsigned long long)(t % 1000000000u / 1000u), level);

	if (a->log_dropped && n > 0 && (size_t)n < sizeof(line)) {
		n += snprintf(line + n, sizeof(line) - (size_t)n, "(%llu log bytes dropped) ",
			      (unsigned long long)a->log_dropped);
		a->log_dropped = 0;
	}
	if (n < 0 || (size_t)n >= sizeof(line))
		return;
	int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	if (m < 0)
		return;
	size_t len = (size_t)n + (size_t)m;
	if (len > sizeof(line) - 2)
		len = sizeof(line) - 2;
	line[len++] = '\n';
	write_line(a, line, len);
}

void log_msg(struct agent *a, enum log_level l, const char *fmt, ...)
{
	va_list ap;

	if (l > a->cfg.log_level)
		return;
	va_start(ap, fmt);
	vlog_line(a, log_level_name(l), fmt, ap);
	va_end(ap);
}

void console_line(struct agent *a, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	size_t len = (size_t)n < sizeof(line) - 2 ? (size_t)n : sizeof(line) - 2;
	line[len++] = '\n';
	write_line(a, line, len);
}

void boot_mark(struct agent *a, const char *fmt, ...)
{
	va_list ap;
	struct boot_event *e;

	if (a->n_boot >= BOOT_EVENTS_MAX)
		return;
	e = &a->boot[a->n_boot++];
	e->t_ns = now_ns();
	va_start(ap, fmt);
	vsnprintf(e->what, sizeof(e->what), fmt, ap);
	va_end(ap);
	log_msg(a, LL_DEBUG, "boot: %s", e->what);
}
