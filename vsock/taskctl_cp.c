/* taskctl cp: one file between here and the guest, over the agent's write
 * and read verbs (docs/files.md), on every transport.
 *
 * Upload: `write PATH SIZE [--mode M] [--owner O]` and the bytes in one go,
 * then one reply. The size must be known before the first byte, so input
 * that is not a regular file (stdin from a pipe, a FIFO) is first spooled
 * to an unlinked temporary file in $TMPDIR: memory stays bounded whatever
 * the size. The guest's file appears atomically (the agent's temp+rename);
 * a taskctl that dies or is interrupted mid-way closes the connection and
 * the agent drops its temporary file.
 *
 * Download: `stat PATH --follow` and `read PATH` pipelined in one write
 * (the stat only supplies the mode of a new local file), then exactly the
 * header's len bytes into `.NAME.taskctl-XXXXXX` beside the target, fsync,
 * rename. SIGINT/TERM/HUP/QUIT are taken through a signalfd while that
 * temporary file exists, so an interrupted download leaves nothing behind.
 *
 * Every copy moves CHUNK bytes at a time; nothing holds the whole file. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <linux/magic.h>

#include "vsock/taskctl.h"

#define CHUNK (256u << 10)

static int local_fail(const char *path, const char *what)
{
	return tc_fail(TC_EXIT_LOCAL, "cp: %s%s%s: %s", what, *what ? " " : "", path,
		       strerror(errno));
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* ---- upload ---- */

/* Copies in to an unlinked file in $TMPDIR (or /tmp), rewound; its size in
 * *size. Returns the fd, or -1 after printing why. */
static int spool(int in, const char *name, char *buf, uint64_t *size)
{
	const char *dir = getenv("TMPDIR");
	char path[PATH_MAX];
	int fd;

	if (!dir || !*dir)
		dir = "/tmp";
	fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd < 0) {
		/* A file system without O_TMPFILE: a named file, unlinked at once. */
		snprintf(path, sizeof(path), "%s/taskctl-cp-XXXXXX", dir);
		fd = mkostemp(path, O_CLOEXEC);
		if (fd < 0) {
			local_fail(dir, "spooling input: a temporary file in");
			return -1;
		}
		unlink(path);
	}
	*size = 0;
	for (;;) {
		ssize_t r = read(in, buf, CHUNK);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			local_fail(name, "reading");
			break;
		}
		if (r == 0) {
			if (lseek(fd, 0, SEEK_SET) == 0)
				return fd;
			local_fail(dir, "rewinding the spool file in");
			break;
		}
		if (write_all(fd, buf, (size_t)r) < 0) {
			local_fail(dir, "spooling input into");
			break;
		}
		*size += (uint64_t)r;
	}
	close(fd);
	return -1;
}

/* Whether st_size tells how much read() will give: not for procfs and
 * sysfs (0 or 4096 whatever the content), nor for an empty file, which is
 * what those look like elsewhere (debugfs, configfs, ...). Spooling a
 * truly empty file costs one read. */
static bool size_is_content(int fd, const struct stat *st)
{
	struct statfs fs;

	if (st->st_size == 0)
		return false;
	if (fstatfs(fd, &fs) == 0 && (fs.f_type == PROC_SUPER_MAGIC || fs.f_type == SYSFS_MAGIC))
		return false;
	return true;
}

/* The source's fd and how many bytes to send. Regular files are sent from
 * where they are (stdin from its current offset); anything else, and
 * files whose size says nothing (size_is_content), are spooled. Returns
 * the fd or -1 after printing why. */
static int open_source(const char *local, char *buf, uint64_t *size)
{
	bool is_stdin = !strcmp(local, "-");
	const char *name = is_stdin ? "stdin" : local;
	int fd = is_stdin ? 0 : open(local, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	struct stat st;

	if (fd < 0 || fstat(fd, &st) < 0) {
		local_fail(local, "");
		if (fd > 0)
			close(fd);
		return -1;
	}
	if (S_ISDIR(st.st_mode)) {
		tc_fail(TC_EXIT_LOCAL, "cp: %s is a directory (cp copies one file)", local);
		close(fd);
		return -1;
	}
	if (S_ISREG(st.st_mode) && size_is_content(fd, &st)) {
		off_t at = lseek(fd, 0, SEEK_CUR);
		if (at >= 0 && at <= st.st_size) {
			*size = (uint64_t)(st.st_size - at);
			return fd;
		}
	}
	int sp = spool(fd, name, buf, size);
	if (fd > 0)
		close(fd);
	return sp;
}

/* Sends size bytes of fd after the request line already sent. Returns 0,
 * SEND_CONN_FAILED when the connection failed (the reply may say why), or
 * an exit code after printing why (the caller then drops the connection:
 * the agent discards a write it did not get in full). */
#define SEND_CONN_FAILED (-1)
static int send_body(int fd, const char *local, uint64_t size, struct tc_conn *c, char *buf)
{
	uint64_t sent = 0;

	while (sent < size) {
		size_t want = size - sent < CHUNK ? (size_t)(size - sent) : CHUNK;
		ssize_t r = read(fd, buf, want);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return local_fail(local, "reading");
		if (r == 0)
			return tc_fail(TC_EXIT_LOCAL,
				       "cp: %s shrank while being sent (%" PRIu64 " of %" PRIu64
				       " bytes): nothing was written in the guest",
				       local, sent, size);
		if (tc_send_all(c->fd, buf, (size_t)r) < 0)
			return SEND_CONN_FAILED;
		sent += (uint64_t)r;
	}
	return 0;
}

static int upload(struct tc *t, const struct tc_cp *o)
{
	char remote[PATH_MAX + 1], sizebuf[24];
	char *args[6];
	int nargs = 0, rc;
	uint64_t size;
	struct tc_conn c;
	char *buf = malloc(CHUNK);

	if (!buf)
		return tc_fail(TC_EXIT_LOCAL, "out of memory");
	if (o->remote_dir) {
		if (tc_join_base(o->remote, o->local, remote, sizeof(remote)) < 0) {
			free(buf);
			return tc_fail(TC_EXIT_USAGE, "cp: %s names no file to put in %s", o->local,
				       o->remote);
		}
	} else {
		snprintf(remote, sizeof(remote), "%s", o->remote);
	}
	int fd = open_source(o->local, buf, &size);
	if (fd < 0) {
		free(buf);
		return TC_EXIT_LOCAL;
	}
	snprintf(sizebuf, sizeof(sizebuf), "%" PRIu64, size);
	args[nargs++] = remote;
	args[nargs++] = sizebuf;
	if (o->mode)
		args[nargs++] = "--mode", args[nargs++] = (char *)o->mode;
	if (o->owner)
		args[nargs++] = "--owner", args[nargs++] = (char *)o->owner;

	if ((rc = tc_connect(t, &t->addr, &c)) != 0)
		goto out;
	if (tc_send_request(&c, "write", args, nargs) < 0) {
		rc = TC_EXIT_CONNECT;
		goto out;
	}
	int sent = send_body(fd, strcmp(o->local, "-") ? o->local : "stdin", size, &c, buf);
	int send_errno = errno;
	if (sent > 0) {
		rc = sent; /* a local failure: the connection is dropped */
		goto out;
	}
	/* After a failed send the agent may still have said why (a size it
	 * refused before closing): read that before calling it a lost line. */
	size_t len;
	const char *err;
	char *line = tc_read_line(&c, &len);
	if (!line) {
		rc = sent ? tc_fail(TC_EXIT_CONNECT, "connection lost while sending %s: %s",
				    o->local, strerror(send_errno))
			  : tc_fail(TC_EXIT_CONNECT, "connection lost before the reply to write");
		goto out;
	}
	struct tj *reply = tj_parse(line, len, &err);
	if (!reply) {
		rc = tc_fail(TC_EXIT_CONNECT, "unreadable reply to write (%s)", err);
		goto out;
	}
	if (t->json)
		printf("%s\n", line);
	rc = tj_is_true(tj_get(reply, "ok")) ? TC_EXIT_OK : tc_reply_error(reply);
	tj_free(reply);
out:
	fflush(stdout);
	tc_close(&c);
	if (fd > 0)
		close(fd);
	free(buf);
	return rc;
}

/* ---- download ---- */

struct dest {
	char path[PATH_MAX];
	char dir[PATH_MAX];
	char tmp[PATH_MAX];
	bool exists;
	mode_t mode; /* of the existing file */
};

/* Where the file goes: LOCAL, or LOCAL/NAME when LOCAL is a directory.
 * Fails early (before any transfer) when that directory is not there or
 * not writable. Returns 0 or an exit code after printing why. */
static int resolve_dest(const struct tc_cp *o, struct dest *d)
{
	struct stat st;
	size_t n = strlen(o->local);

	memset(d, 0, sizeof(*d));
	if (stat(o->local, &st) == 0 && S_ISDIR(st.st_mode)) {
		if (tc_join_base(o->local, o->remote, d->path, sizeof(d->path)) < 0)
			return tc_fail(TC_EXIT_USAGE, "cp: :%s names no file to put in %s",
				       o->remote, o->local);
	} else if (o->local[n - 1] == '/') {
		errno = ENOENT;
		return local_fail(o->local, "no such directory:");
	} else if (n >= sizeof(d->path)) {
		errno = ENAMETOOLONG;
		return local_fail(o->local, "");
	} else {
		memcpy(d->path, o->local, n + 1);
	}
	const char *slash = strrchr(d->path, '/');
	if (!slash)
		snprintf(d->dir, sizeof(d->dir), ".");
	else if (slash == d->path)
		snprintf(d->dir, sizeof(d->dir), "/");
	else
		snprintf(d->dir, sizeof(d->dir), "%.*s", (int)(slash - d->path), d->path);
	if (stat(d->path, &st) == 0) {
		if (S_ISDIR(st.st_mode)) {
			errno = EISDIR;
			return local_fail(d->path, "");
		}
		d->exists = true;
		d->mode = st.st_mode & 07777;
	}
	if (access(d->dir, W_OK | X_OK) < 0)
		return local_fail(d->dir, "cannot create files in");
	/* NAME_MAX bounds the temporary name: keep at most 200 bytes of NAME. */
	const char *name = slash ? slash + 1 : d->path;
	if (snprintf(d->tmp, sizeof(d->tmp), "%s/.%.200s.taskctl-XXXXXX", d->dir, name) >=
	    (int)sizeof(d->tmp)) {
		errno = ENAMETOOLONG;
		return local_fail(d->path, "");
	}
	return 0;
}

/* The local file's mode: --mode exactly; an existing file keeps its own
 * (as cp does); a new one gets the guest's permission bits less the umask
 * (as cp without -p), or 0666 less the umask when the guest gave none. */
static mode_t dest_mode(const struct tc_cp *o, const struct dest *d, long remote_mode)
{
	mode_t mask = umask(0);

	umask(mask);
	if (o->mode)
		return (mode_t)strtoul(o->mode, NULL, 8);
	if (d->exists)
		return d->mode;
	return (remote_mode >= 0 ? (mode_t)remote_mode & 0777 : 0666) & ~mask;
}

/* The guest's permission bits from a stat reply, or -1. */
static long stat_mode(const char *line, size_t len)
{
	const char *err;
	struct tj *st = tj_parse(line, len, &err);
	long mode = -1;

	if (st && tj_is_true(tj_get(st, "ok")) && !strcmp(tj_str(tj_get(st, "type"), ""), "file")) {
		char *end;
		const char *m = tj_str(tj_get(st, "mode"), "");
		long v = strtol(m, &end, 8);
		if (*m && !*end)
			mode = v;
	}
	tj_free(st);
	return mode;
}

/* Blocks the signals that would end taskctl, so they can be taken in the
 * copy loop and the temporary file removed first. */
static int signals_to_fd(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGQUIT);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -1;
	return signalfd(-1, &set, SFD_CLOEXEC);
}

/* Copies len bytes from the connection (what is buffered first) to out.
 * Returns 0, or an exit code after printing why; *sig is the signal that
 * came through sfd, if one did. */
static int receive(struct tc_conn *c, uint64_t len, int out, const char *name, int sfd, char *buf,
		   int *sig)
{
	uint64_t got = 0;

	if (c->len) {
		size_t n = c->len < len ? c->len : (size_t)len;
		if (write_all(out, c->buf + c->start, n) < 0)
			return local_fail(name, "writing");
		got = n;
	}
	while (got < len) {
		struct pollfd p[2] = {{.fd = c->fd, .events = POLLIN},
				      {.fd = sfd, .events = POLLIN}};
		if (poll(p, sfd >= 0 ? 2 : 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			return tc_fail(TC_EXIT_CONNECT, "poll: %s", strerror(errno));
		}
		if (sfd >= 0 && (p[1].revents & POLLIN)) {
			struct signalfd_siginfo si;
			if (read(sfd, &si, sizeof(si)) == sizeof(si)) {
				*sig = (int)si.ssi_signo;
				return 128 + *sig;
			}
		}
		if (!p[0].revents)
			continue;
		size_t want = len - got < CHUNK ? (size_t)(len - got) : CHUNK;
		ssize_t r = recv(c->fd, buf, want, MSG_DONTWAIT);
		if (r < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (r <= 0)
			return tc_fail(TC_EXIT_CONNECT,
				       "connection lost after %" PRIu64 " of %" PRIu64 " bytes%s%s",
				       got, len, r < 0 ? ": " : "", r < 0 ? strerror(errno) : "");
		if (write_all(out, buf, (size_t)r) < 0)
			return local_fail(name, "writing");
		got += (uint64_t)r;
	}
	return 0;
}

/* Sends stat and read together; returns the parsed read header (its line
 * in *raw when asked) with the guest's mode in *remote_mode, or NULL with
 * *rc set after printing why. */
static struct tj *request_read(struct tc_conn *c, const char *remote, long *remote_mode, char **raw,
			       int *rc)
{
	char *stat_args[2] = {(char *)remote, "--follow"}, *read_args[1] = {(char *)remote};
	size_t n1, n2, len;
	char *l1 = tc_request_line("stat", stat_args, 2, &n1);
	char *l2 = tc_request_line("read", read_args, 1, &n2);
	char *both = l1 && l2 ? malloc(n1 + n2) : NULL;
	const char *err;
	struct tj *head = NULL;

	*rc = 0;
	if (!both) {
		*rc = tc_fail(TC_EXIT_LOCAL, "out of memory");
		goto out;
	}
	memcpy(both, l1, n1);
	memcpy(both + n1, l2, n2);
	if (tc_send_all(c->fd, both, n1 + n2) < 0) {
		*rc = tc_fail(TC_EXIT_CONNECT, "connection lost: %s", strerror(errno));
		goto out;
	}
	char *line = tc_read_line(c, &len);
	if (line) {
		*remote_mode = stat_mode(line, len);
		line = tc_read_line(c, &len);
	}
	if (!line) {
		*rc = tc_fail(TC_EXIT_CONNECT, "connection lost before the reply to read");
		goto out;
	}
	if (!(head = tj_parse(line, len, &err))) {
		*rc = tc_fail(TC_EXIT_CONNECT, "unreadable reply to read (%s)", err);
		goto out;
	}
	if (raw)
		*raw = strdup(line);
out:
	free(l1);
	free(l2);
	free(both);
	return head;
}

/* Moves the finished temporary file into place. 0 or an exit code. */
static int install(int fd, const struct dest *d, mode_t mode)
{
	if (fchmod(fd, mode) < 0)
		return local_fail(d->tmp, "chmod");
	if (fsync(fd) < 0)
		return local_fail(d->tmp, "fsync");
	if (rename(d->tmp, d->path) < 0)
		return local_fail(d->path, "rename to");
	return 0;
}

static int download(struct tc *t, const struct tc_cp *o)
{
	bool to_stdout = !strcmp(o->local, "-");
	struct dest d;
	struct tc_conn c;
	struct tj *head = NULL;
	char *raw = NULL, *buf = NULL;
	long remote_mode = -1;
	int rc, out = 1, sfd = -1;

	if (!to_stdout && (rc = resolve_dest(o, &d)) != 0)
		return rc;
	if ((rc = tc_connect(t, &t->addr, &c)) != 0)
		return rc;
	head = request_read(&c, o->remote, &remote_mode, t->json && !to_stdout ? &raw : NULL, &rc);
	if (!head)
		goto out;
	if (raw)
		printf("%s\n", raw);
	if (!tj_is_true(tj_get(head, "ok"))) {
		rc = tc_reply_error(head);
		goto out;
	}
	int64_t len = tj_int(tj_get(head, "len"), -1);
	if (len < 0) {
		rc = tc_fail(TC_EXIT_CONNECT, "a read header without its length");
		goto out;
	}
	if (!(buf = malloc(CHUNK))) {
		rc = tc_fail(TC_EXIT_LOCAL, "out of memory");
		goto out;
	}
	if (!to_stdout) {
		if ((sfd = signals_to_fd()) < 0) {
			rc = tc_fail(TC_EXIT_LOCAL, "signalfd: %s", strerror(errno));
			goto out;
		}
		if ((out = mkostemp(d.tmp, O_CLOEXEC)) < 0) {
			rc = local_fail(d.tmp, "creating");
			goto out;
		}
	}
	int sig = 0;
	rc = receive(&c, (uint64_t)len, out, to_stdout ? "stdout" : d.tmp, sfd, buf, &sig);
	if (sig)
		tc_fail(rc, "cp interrupted by %s: %s left as it was", strsignal(sig), d.path);
	else if (!rc && !to_stdout)
		rc = install(out, &d, dest_mode(o, &d, remote_mode));
	if (!to_stdout) {
		close(out);
		if (rc)
			unlink(d.tmp);
	}
out:
	fflush(stdout);
	if (sfd >= 0)
		close(sfd);
	free(buf);
	free(raw);
	tj_free(head);
	tc_close(&c);
	return rc;
}

int tc_cp(struct tc *t, const struct tc_cp *o)
{
	return o->upload ? upload(t, o) : download(t, o);
}
