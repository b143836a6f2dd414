/* Verbs for files (issue 7): read, write, stat, ls, mkdir. The wire format
 * is in docs/protocol.md ("File verbs"); choices in docs/files.md.
 *
 * Bulk data never sits whole in memory: a write streams the connection's
 * raw bytes into a temporary file a bounded amount per event-loop turn, a
 * read sends the file as the client takes it (conn_room), and ls streams
 * its one reply line entry by entry. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "vsock/conn.h"
#include "vsock/sysfile.h"

enum {
	ERR_REPLY_MAX = 32768, /* a 4095-byte path escaped, twice, fits */
	XFER_BUF = 128 * 1024,
	WRITE_ROUNDS = 8,		   /* XFER_BUF reads per turn: 1 MiB at most */
	WRITEBACK_EVERY = 8 * 1024 * 1024, /* start writeback this often (see write_sink) */
	ENTRY_MAX = 2048,		   /* one ls entry, its name escaped */
	SYNC_SLOTS = 32,		   /* writes whose fsync may be under way at once */
	SYNC_HELPER_STACK = 64 * 1024,
};

/* ---- errors ---- */

static const char *errno_code(int e)
{
	switch (e) {
	case ENOENT:
		return "not_found";
	case ENOTDIR:
		return "not_a_directory";
	case EISDIR:
		return "is_a_directory";
	case EEXIST:
	case ENOTEMPTY:
		return "exists";
	case EROFS:
		return "read_only";
	case EACCES:
	case EPERM:
		return "permission";
	case ENOSPC:
	case EDQUOT:
		return "no_space";
	case EFBIG:
		return "too_large";
	case ENAMETOOLONG:
		return "bad_path";
	default:
		return "io_error";
	}
}

/* {"ok":false,"error":CODE,"message":MSG,"path":PATH[,"errno":N]}; err 0: no errno. */
static void queue_file_error(struct conn *c, const char *code, const char *msg, const char *path,
			     int err)
{
	char *buf = malloc(ERR_REPLY_MAX);
	struct jw w;

	if (!buf) {
		conn_queue_error(c, code, msg);
		return;
	}
	jw_init(&w, buf, ERR_REPLY_MAX);
	jw_error_open(&w, code, msg);
	if (path) {
		jw_key(&w, "path");
		jw_str(&w, path);
	}
	if (err) {
		jw_key(&w, "errno");
		jw_i64(&w, err);
	}
	jw_obj_close(&w);
	conn_queue_reply(c, &w);
	free(buf);
}

/* A failed system call on path: "WHAT PATH: strerror". */
static void queue_errno(struct conn *c, const char *what, const char *path, int err)
{
	char msg[1400];

	snprintf(msg, sizeof(msg), "%s %.1024s: %s", what, path, strerror(err));
	queue_file_error(c, errno_code(err), msg, path, err);
}

static bool path_ok(const char *path, bool need_name)
{
	const char *why;

	return fx_check_path(path, need_name, &why) == 0;
}

static const char *type_name(mode_t m)
{
	return S_ISREG(m)    ? "file"
	       : S_ISDIR(m)  ? "dir"
	       : S_ISLNK(m)  ? "symlink"
	       : S_ISCHR(m)  ? "char"
	       : S_ISBLK(m)  ? "block"
	       : S_ISFIFO(m) ? "fifo"
	       : S_ISSOCK(m) ? "socket"
			     : "unknown";
}

static void put_mode(struct jw *w, mode_t m)
{
	char s[8];

	snprintf(s, sizeof(s), "%04o", (unsigned)(m & 07777));
	jw_key(w, "mode");
	jw_str(w, s);
}

static int64_t mtime_ns(const struct stat *st)
{
	return (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
}

/* ---- write ---- */

/* One fsync for the helper thread: the only memory it touches. The loop
 * fills fd, hands the job's address over the request pipe and does not
 * touch the job until the address comes back on the done pipe (the pipe
 * calls order the accesses); the helper sets err in between. */
struct sync_job {
	int fd;
	int err; /* errno of the fsync, 0 when it succeeded */
};

enum write_state {
	WO_DATA,      /* taking the SIZE bytes from the connection */
	WO_WAITING,   /* all in, waiting for a sync slot */
	WO_SYNC_FILE, /* fsync of the temporary file under way */
	WO_SYNC_DIR,  /* renamed; fsync of the directory under way */
	WO_DONE,      /* answered: release frees it */
};

struct write_op {
	struct conn *c; /* NULL once the connection went while a sync ran */
	enum write_state state;
	struct sync_job job;
	int slot; /* in file_sync.busy while a sync is under way, else -1 */
	struct write_op *next_waiting;
	uint64_t size;	/* SIZE of the request */
	uint64_t left;	/* bytes still to take from the connection */
	uint64_t taken; /* bytes written to the temporary file */
	uint64_t flushed;
	int dirfd, fd; /* fd: the temporary file; -1 once discarding */
	bool have_tmp; /* the temporary file exists and is ours to remove */
	mode_t mode;
	uid_t uid;
	gid_t gid;
	/* The first error: reported once all SIZE bytes are taken. */
	const char *err_code;
	char err_msg[1400];
	int err_errno;
	char *buf;
	char name[FX_NAME_MAX + 1];
	char tmp[FX_NAME_MAX + 1];
	char path[FX_PATH_MAX + 1];
};

static void write_fail(struct write_op *wo, const char *code, int err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Records the first error and stops writing: the rest of the data is
 * taken and dropped, the temporary file removed. */
static void write_fail(struct write_op *wo, const char *code, int err, const char *fmt, ...)
{
	va_list ap;

	if (wo->err_code)
		return;
	wo->err_code = code;
	wo->err_errno = err;
	va_start(ap, fmt);
	vsnprintf(wo->err_msg, sizeof(wo->err_msg), fmt, ap);
	va_end(ap);
	if (wo->fd >= 0) {
		close(wo->fd);
		wo->fd = -1;
	}
	if (wo->have_tmp) {
		unlinkat(wo->dirfd, wo->tmp, 0);
		wo->have_tmp = false;
	}
}

static void write_fail_errno(struct write_op *wo, const char *what, int err)
{
	write_fail(wo, errno_code(err), err, "%s %.1024s: %s", what, wo->path, strerror(err));
}

static void write_sink(struct write_op *wo, const char *p, size_t n)
{
	wo->left -= n;
	while (n && wo->fd >= 0) {
		ssize_t w = write(wo->fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			write_fail_errno(wo, "write", w < 0 ? errno : EIO);
			return;
		}
		p += w;
		n -= (size_t)w;
		wo->taken += (uint64_t)w;
	}
	/* Start writeback as the data comes, so the fsync at the end finds
	 * little left to do and the reply comes soon after the data. */
	if (wo->fd >= 0 && wo->taken - wo->flushed >= WRITEBACK_EVERY) {
		sync_file_range(wo->fd, (off_t)wo->flushed, (off_t)(wo->taken - wo->flushed),
				SYNC_FILE_RANGE_WRITE);
		wo->flushed = wo->taken;
	}
}

static void write_reply_ok(struct conn *c, struct write_op *wo, uint64_t size)
{
	char *buf = malloc(ERR_REPLY_MAX);
	struct jw w;

	if (!buf) {
		conn_queue_error(c, "no_memory", "the file was written, but the reply did not fit");
		return;
	}
	jw_init(&w, buf, ERR_REPLY_MAX);
	reply_ok_open(&w);
	jw_key(&w, "path");
	jw_str(&w, wo->path);
	jw_key(&w, "size");
	jw_u64(&w, size);
	put_mode(&w, wo->mode);
	jw_key(&w, "uid");
	jw_u64(&w, wo->uid);
	jw_key(&w, "gid");
	jw_u64(&w, wo->gid);
	jw_obj_close(&w);
	conn_queue_reply(c, &w);
	free(buf);
}

/* ---- durable writes, off the loop ----
 *
 * An fsync waits for the device as long as the device takes: seconds on a
 * slow disk, for good on a stalled one. PID 1 must not wait like that, so
 * the two fsyncs of a write (the temporary file; the directory after the
 * rename) run on one helper thread, made by the first write and kept for
 * the agent's life. The helper reads a job's address from a pipe, calls
 * fsync, and writes the address back on a second pipe that the loop
 * watches. It takes no lock, allocates nothing, logs nothing and touches
 * no memory but the job, so it can never hold anything the loop (or a
 * forked child) needs. Everything else, and every decision, stays on the
 * loop: chown, chmod, rename, unlink, the reply. docs/files.md ("Durable
 * without blocking") says why it is built so.
 *
 * Once the helper exists the agent must not call libc functions that
 * stop every thread to apply a change (musl's set*id and setrlimit use
 * __synccall): they would wait for the helper's fsync. Only boot calls
 * setrlimit, before any write; tasks/spawn.c uses raw system calls. */

struct file_sync {
	struct watch done;  /* the done pipe's read end (non-blocking) */
	int req_fd;	    /* the request pipe's write end (non-blocking) */
	int helper_fds[2];  /* the helper's ends: requests in, done out */
	bool helper;	    /* the helper runs */
	unsigned in_flight; /* jobs handed to the helper and not yet back */
	/* Their writes: a detached one would otherwise be referenced only
	 * from inside a pipe, out of the agent's sight. */
	struct write_op *busy[SYNC_SLOTS];
	struct write_op *waiting, *waiting_tail; /* writes waiting for a slot, FIFO */
	struct write_op *inline_done;		 /* no helper: synced here, finished next turn */
	struct timer inline_timer;
};

static void *sync_helper(void *arg)
{
	const int *fds = arg; /* read-only once the thread runs */
	struct sync_job *job;

	for (;;) {
		ssize_t n = read(fds[0], &job, sizeof(job));
		if (n < 0 && errno == EINTR)
			continue;
		if (n != (ssize_t)sizeof(job))
			return NULL; /* the loop's end is never closed: cannot happen */
		job->err = fsync(job->fd) < 0 ? errno : 0;
		while (write(fds[1], &job, sizeof(job)) < 0 && errno == EINTR)
			;
	}
}

static void on_synced(struct agent *a, struct watch *w, uint32_t events);

/* The pipes and the thread. Without them every fsync runs on the loop,
 * as it did before the helper existed, and the next write tries again. */
static bool helper_start(struct agent *a, struct file_sync *fs)
{
	int req[2], done[2], err;
	pthread_attr_t attr;
	pthread_t t;

	if (pipe2(req, O_CLOEXEC) < 0) {
		err = errno;
		goto fail;
	}
	if (pipe2(done, O_CLOEXEC) < 0) {
		err = errno;
		close(req[0]);
		close(req[1]);
		goto fail;
	}
	/* The loop's ends never block: at most SYNC_SLOTS addresses are ever
	 * in a pipe, far below its capacity. The helper's ends block. */
	fcntl(req[1], F_SETFL, O_NONBLOCK);
	fcntl(done[0], F_SETFL, O_NONBLOCK);
	fs->done.fd = done[0];
	fs->done.on_event = on_synced;
	if (loop_add(a, &fs->done, EPOLLIN) < 0) {
		err = errno;
		goto fail_pipes;
	}
	fs->helper_fds[0] = req[0];
	fs->helper_fds[1] = done[1];
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, SYNC_HELPER_STACK);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	/* The thread inherits the loop's signal mask: every signal but the
	 * faults blocked, so signals still come through the signalfd. */
	err = pthread_create(&t, &attr, sync_helper, fs->helper_fds);
	pthread_attr_destroy(&attr);
	if (err) {
		loop_release(a, &fs->done); /* closes done[0] */
		close(done[1]);
		close(req[0]);
		close(req[1]);
		fs->helper_fds[0] = fs->helper_fds[1] = -1;
		goto fail;
	}
	fs->req_fd = req[1];
	fs->helper = true;
	log_msg(a, LL_DEBUG, "files: fsync helper thread started");
	return true;
fail_pipes:
	close(done[0]);
	close(done[1]);
	close(req[0]);
	close(req[1]);
	fs->done.fd = -1;
fail:
	log_msg(a, LL_WARN, "files: no fsync helper (%s): this write's fsync runs in the loop",
		strerror(err));
	return false;
}

void files_finish_for_shutdown(struct agent *a, unsigned wait_ms)
{
	struct file_sync *fs = a->file_sync;
	uint64_t deadline = now_ns() + (uint64_t)wait_ms * 1000000u;

	if (!fs || !fs->helper)
		return;
	while (fs->in_flight) {
		uint64_t now = now_ns();
		struct pollfd p = {.fd = fs->done.fd, .events = POLLIN};
		if (now >= deadline)
			break;
		int r = poll(&p, 1, (int)((deadline - now + 999999u) / 1000000u));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		on_synced(a, &fs->done, EPOLLIN);
	}
	if (fs->in_flight)
		log_msg(a, LL_WARN,
			"files: %u write(s) still in fsync after %u ms; left as they are",
			fs->in_flight, wait_ms);
}

static void on_inline_synced(struct agent *a, struct timer *t);

static struct file_sync *file_sync_of(struct agent *a)
{
	struct file_sync *fs = a->file_sync;

	if (!fs) {
		fs = calloc(1, sizeof(*fs));
		if (!fs)
			return NULL;
		fs->done.fd = fs->req_fd = fs->helper_fds[0] = fs->helper_fds[1] = -1;
		fs->inline_timer.on_fire = on_inline_synced;
		a->file_sync = fs;
	}
	if (!fs->helper)
		helper_start(a, fs);
	return fs;
}

/* Starts wo's next fsync, of fd. */
static void sync_submit(struct agent *a, struct file_sync *fs, struct write_op *wo, int fd)
{
	struct sync_job *job = &wo->job;

	for (int i = 0; wo->slot < 0 && i < SYNC_SLOTS; i++)
		if (!fs->busy[i])
			fs->busy[wo->slot = i] = wo;
	job->fd = fd;
	job->err = 0;
	fs->in_flight++;
	if (fs->helper && write(fs->req_fd, &job, sizeof(job)) == (ssize_t)sizeof(job))
		return;
	job->err = fsync(fd) < 0 ? errno : 0;
	wo->next_waiting = fs->inline_done;
	fs->inline_done = wo;
	timer_arm(a, &fs->inline_timer, 0);
}

static void sync_start_waiting(struct agent *a, struct file_sync *fs)
{
	while (fs->waiting && fs->in_flight < SYNC_SLOTS) {
		struct write_op *wo = fs->waiting;
		fs->waiting = wo->next_waiting;
		if (!fs->waiting)
			fs->waiting_tail = NULL;
		wo->next_waiting = NULL;
		wo->state = WO_SYNC_FILE;
		sync_submit(a, fs, wo, wo->fd);
	}
}

static void sync_unwait(struct file_sync *fs, struct write_op *wo)
{
	struct write_op *prev = NULL;

	for (struct write_op *w = fs->waiting; w; prev = w, w = w->next_waiting) {
		if (w != wo)
			continue;
		if (prev)
			prev->next_waiting = w->next_waiting;
		else
			fs->waiting = w->next_waiting;
		if (fs->waiting_tail == w)
			fs->waiting_tail = prev;
		break;
	}
	wo->next_waiting = NULL;
}

/* ---- write: the end ---- */

static void write_free(struct write_op *wo)
{
	if (wo->fd >= 0)
		close(wo->fd);
	if (wo->have_tmp)
		unlinkat(wo->dirfd, wo->tmp, 0);
	if (wo->dirfd >= 0)
		close(wo->dirfd);
	free(wo->buf);
	free(wo);
}

/* The reply (the error recorded, or ok), and the connection's next request. */
static void write_answer(struct conn *c, struct write_op *wo)
{
	/* Done before the reply is queued: a queue that cannot allocate
	 * closes the connection, whose release then frees wo. */
	wo->state = WO_DONE;
	if (wo->err_code) {
		queue_file_error(c, wo->err_code, wo->err_msg, wo->path, wo->err_errno);
	} else {
		log_msg(c->a, LL_INFO, "control: %s wrote %s (%llu bytes)", c->peer, wo->path,
			(unsigned long long)wo->taken);
		write_reply_ok(c, wo, wo->taken);
	}
	if (!conn_alive(c))
		return;
	conn_op_end(c);
	conn_kick_later(c); /* requests pipelined after the data */
}

/* The client hung up (a half-close is not that: it still reads replies). */
static bool peer_gone(const struct conn *c)
{
	return !conn_alive(c) || conn_peer_gone(c->w.fd);
}

/* The temporary file is on the device (or its fsync failed). The rename
 * happens only for a client still there to be told: one that hung up
 * leaves PATH as it was. */
static void write_file_synced(struct agent *a, struct file_sync *fs, struct write_op *wo)
{
	struct conn *c = wo->c;

	if (!c || peer_gone(c)) {
		log_msg(a, LL_INFO,
			"control: write of %s abandoned by its client; temporary file removed",
			wo->path);
		if (!c) {
			write_free(wo);
			return;
		}
		close(wo->fd);
		wo->fd = -1;
		unlinkat(wo->dirfd, wo->tmp, 0);
		wo->have_tmp = false;
		wo->state = WO_DONE;
		c->closing = true;
		conn_op_end(c);
		conn_kick_later(c);
		return;
	}
	if (wo->job.err)
		write_fail_errno(wo, "fsync", wo->job.err);
	else if (renameat(wo->dirfd, wo->tmp, wo->dirfd, wo->name) < 0)
		write_fail_errno(wo, "rename onto", errno);
	if (wo->err_code) {
		write_answer(c, wo);
		return;
	}
	wo->have_tmp = false;
	close(wo->fd);
	wo->fd = -1;
	wo->state = WO_SYNC_DIR;
	sync_submit(a, fs, wo, wo->dirfd); /* the rename itself, durable */
}

static void write_dir_synced(struct agent *a, struct write_op *wo)
{
	struct conn *c = wo->c;
	int err = wo->job.err;

	if (!c) {
		log_msg(a, LL_INFO,
			"control: wrote %s (%llu bytes); its client left before the reply",
			wo->path, (unsigned long long)wo->taken);
		write_free(wo);
		return;
	}
	/* EINVAL, EROFS: a file system that has no directory fsync to do. */
	if (err && err != EINVAL && err != EROFS)
		write_fail(wo, errno_code(err), err,
			   "fsync of the directory of %.1024s: %s (the new file is in place but "
			   "may not survive a crash)",
			   wo->path, strerror(err));
	write_answer(c, wo);
}

static void write_synced(struct agent *a, struct file_sync *fs, struct write_op *wo)
{
	fs->in_flight--;
	fs->busy[wo->slot] = NULL;
	wo->slot = -1;
	if (wo->state == WO_SYNC_FILE)
		write_file_synced(a, fs, wo);
	else
		write_dir_synced(a, wo);
}

static void on_synced(struct agent *a, struct watch *w, uint32_t events)
{
	struct file_sync *fs = container_of(w, struct file_sync, done);
	struct sync_job *jobs[SYNC_SLOTS];
	ssize_t n;

	(void)events;
	/* Each address is one 8-byte write, which a pipe never splits. */
	while ((n = read(w->fd, jobs, sizeof(jobs))) > 0) {
		for (size_t i = 0; i < (size_t)n / sizeof(jobs[0]); i++)
			write_synced(a, fs, container_of(jobs[i], struct write_op, job));
		if ((size_t)n < sizeof(jobs))
			break;
	}
	sync_start_waiting(a, fs);
}

static void on_inline_synced(struct agent *a, struct timer *t)
{
	struct file_sync *fs = container_of(t, struct file_sync, inline_timer);
	struct write_op *list = fs->inline_done;

	fs->inline_done = NULL;
	while (list) {
		struct write_op *wo = list;
		list = wo->next_waiting;
		wo->next_waiting = NULL;
		write_synced(a, fs, wo);
	}
	sync_start_waiting(a, fs);
}

/* After chown, which clears set-id bits; fchmod ignores the umask. */
static void write_set_owner_mode(struct write_op *wo)
{
	struct stat st;

	if (fstat(wo->fd, &st) == 0 && (st.st_uid != wo->uid || st.st_gid != wo->gid) &&
	    fchown(wo->fd, wo->uid, wo->gid) < 0) {
		write_fail_errno(wo, "chown", errno);
		return;
	}
	if (fchmod(wo->fd, wo->mode) < 0)
		write_fail_errno(wo, "chmod", errno);
}

/* All SIZE bytes are in: owner and mode here, then the fsyncs off the
 * loop. The operation (and the requests behind it) waits for them. */
static void write_end(struct conn *c)
{
	struct write_op *wo = c->op_state;
	struct file_sync *fs = NULL;

	free(wo->buf);
	wo->buf = NULL;
	if (!wo->err_code)
		write_set_owner_mode(wo);
	if (!wo->err_code && !(fs = file_sync_of(c->a)))
		write_fail(wo, "no_memory", ENOMEM, "out of memory for %.1024s", wo->path);
	if (wo->err_code) {
		write_answer(c, wo);
		return;
	}
	wo->state = WO_WAITING;
	if (fs->waiting_tail)
		fs->waiting_tail->next_waiting = wo;
	else
		fs->waiting = wo;
	fs->waiting_tail = wo;
	sync_start_waiting(c->a, fs);
}

/* Takes the transfer's bytes: first what the connection already read,
 * then straight from the socket into our buffer (never past the transfer,
 * so later requests stay in the socket), a bounded amount per turn. */
static void write_input(struct conn *c)
{
	struct write_op *wo = c->op_state;

	if (wo->state != WO_DATA)
		return; /* all taken: what follows is requests, for after the reply */
	size_t take = c->in_len < wo->left ? c->in_len : (size_t)wo->left;

	if (take) {
		write_sink(wo, c->in, take);
		memmove(c->in, c->in + take, c->in_len - take);
		c->in_len -= take;
	}
	for (int i = 0; wo->left && !c->eof && i < WRITE_ROUNDS; i++) {
		size_t want = wo->left < XFER_BUF ? (size_t)wo->left : XFER_BUF;
		ssize_t n = recv(c->w.fd, wo->buf, want, MSG_DONTWAIT);
		if (n == 0)
			c->eof = true;
		if (n <= 0)
			break; /* EAGAIN, or an error the connection's next event sees */
		write_sink(wo, wo->buf, (size_t)n);
	}
	if (!wo->left) {
		write_end(c);
	} else if (c->eof) {
		write_fail(wo, "incomplete", 0,
			   "the client closed its side after %llu of %llu bytes for %.1024s",
			   (unsigned long long)(wo->size - wo->left), (unsigned long long)wo->size,
			   wo->path);
		queue_file_error(c, wo->err_code, wo->err_msg, wo->path, 0);
		conn_op_end(c);
	}
}

static void write_pump(struct conn *c)
{
	(void)c; /* write_input and the fsync completions do the work */
}

/* Runs when the write ends or the connection goes: whatever was not
 * renamed into place is removed. A write whose fsync is under way is the
 * helper's until it comes back: it finishes then, without the connection
 * (write_synced), so nothing the helper uses is freed under it. */
static void write_release(struct conn *c)
{
	struct write_op *wo = c->op_state;

	if (wo->state == WO_SYNC_FILE || wo->state == WO_SYNC_DIR) {
		log_msg(c->a, LL_INFO,
			"control: %s: left during the fsync of %s; finishing without it", c->peer,
			wo->path);
		wo->c = NULL;
		return;
	}
	if (wo->state == WO_WAITING)
		sync_unwait(c->a->file_sync, wo);
	if (wo->have_tmp)
		log_msg(c->a, LL_INFO, "control: %s: write of %s abandoned; temporary file removed",
			c->peer, wo->path);
	write_free(wo);
}

static const struct conn_op_ops write_ops = {
    .pump = write_pump, .release = write_release, .input = write_input};

/* Opens the target's directory and the temporary file beside it; any
 * failure is recorded in wo (the data is then discarded). */
static void write_prepare(struct write_op *wo, const struct fx_write_args *wa)
{
	char *slash = strrchr(wo->path, '/');
	struct statvfs vfs;
	struct stat st;

	snprintf(wo->name, sizeof(wo->name), "%s", slash + 1);
	if (slash == wo->path)
		wo->dirfd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	else {
		*slash = 0;
		wo->dirfd = open(wo->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		*slash = '/';
	}
	if (wo->dirfd < 0) {
		write_fail_errno(wo, "open the directory of", errno);
		return;
	}
	wo->mode = 0644;
	wo->uid = geteuid();
	wo->gid = getegid();
	if (fstatat(wo->dirfd, wo->name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		if (S_ISDIR(st.st_mode)) {
			write_fail(wo, "is_a_directory", EISDIR, "%.1024s is a directory",
				   wo->path);
			return;
		}
		if (!S_ISLNK(st.st_mode)) {
			wo->mode = st.st_mode & 07777;
			wo->uid = st.st_uid;
			wo->gid = st.st_gid;
		}
	}
	if (wa->have_mode)
		wo->mode = wa->mode;
	if (wa->have_owner)
		wo->uid = wa->uid, wo->gid = wa->gid;
	if (fstatvfs(wo->dirfd, &vfs) == 0 && vfs.f_blocks &&
	    (uint64_t)vfs.f_bavail * vfs.f_frsize < wa->size) {
		write_fail(wo, "no_space", ENOSPC, "%.1024s: %llu bytes do not fit in %llu free",
			   wo->path, (unsigned long long)wa->size,
			   (unsigned long long)vfs.f_bavail * vfs.f_frsize);
		return;
	}
	for (int attempt = 0; attempt < 16; attempt++) {
		snprintf(
		    wo->tmp, sizeof(wo->tmp), ".%.200s.taskinit-%06llx", wo->name,
		    (unsigned long long)((now_ns() / 1000 + (uint64_t)attempt * 7919) & 0xffffff));
		wo->fd = openat(wo->dirfd, wo->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (wo->fd >= 0 || errno != EEXIST)
			break;
	}
	if (wo->fd < 0) {
		write_fail_errno(wo, "create a temporary file beside", errno);
		return;
	}
	wo->have_tmp = true;
}

static void verb_write(struct conn *c, int argc, char **argv)
{
	struct fx_write_args wa;
	char msg[256];
	enum fx_write_status st = fx_parse_write(argc, argv, &wa, msg, sizeof(msg));

	if (st == FX_WRITE_NOSIZE || st == FX_WRITE_TOOBIG) {
		/* Where the data ends is unknown: nothing after it can be read
		 * as requests. The connection ends after this error. */
		conn_queue_error(c, st == FX_WRITE_TOOBIG ? "too_large" : "bad_argument", msg);
		c->closing = true;
		return;
	}
	struct write_op *wo = calloc(1, sizeof(*wo));
	char *buf = malloc(XFER_BUF);
	if (!wo || !buf) {
		free(wo);
		free(buf);
		conn_queue_error(c, "no_memory", "out of memory");
		c->closing = true;
		return;
	}
	wo->c = c;
	wo->buf = buf;
	wo->size = wo->left = wa.size;
	wo->dirfd = wo->fd = -1;
	wo->slot = -1;
	snprintf(wo->path, sizeof(wo->path), "%s", argv[0]);
	if (st == FX_WRITE_BAD)
		write_fail(wo, !path_ok(argv[0], true) ? "bad_path" : "bad_argument", 0, "%s", msg);
	else if (c->a->sd_phase != SD_NONE)
		write_fail(wo, "shutting_down", 0, "shutdown in progress");
	else
		write_prepare(wo, &wa);
	if (!conn_op_begin(c, &write_ops, wo))
		return;
	if (!wo->left)
		write_end(c); /* SIZE 0: nothing to wait for */
	else
		conn_kick_later(c); /* the input hook takes what came, or sees an EOF
				     * that came first (a last line without newline) */
}

/* ---- read ---- */

struct read_op {
	int fd;
	uint64_t off, left;
	char *buf;
	char path[FX_PATH_MAX + 1];
};

static void read_release(struct conn *c)
{
	struct read_op *ro = c->op_state;

	close(ro->fd);
	free(ro->buf);
	free(ro);
}

static void read_pump(struct conn *c)
{
	struct read_op *ro = c->op_state;

	while (ro->left && conn_alive(c) && conn_room(c) >= 4096) {
		size_t want = conn_room(c);
		if (want > XFER_BUF)
			want = XFER_BUF;
		if (want > ro->left)
			want = (size_t)ro->left;
		ssize_t n = pread(ro->fd, ro->buf, want, (off_t)ro->off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			/* Shrunk (or failed) under us: the promised bytes cannot
			 * come. Ending the connection tells the client. */
			log_msg(c->a, LL_WARN, "control: %s: read of %s: %s with %llu bytes unsent",
				c->peer, ro->path, n < 0 ? strerror(errno) : "the file shrank",
				(unsigned long long)ro->left);
			c->closing = true;
			conn_op_end(c);
			return;
		}
		conn_queue(c, ro->buf, (size_t)n);
		ro->off += (uint64_t)n;
		ro->left -= (uint64_t)n;
	}
	if (!ro->left) {
		conn_op_end(c);
		conn_kick_later(c);
	}
}

static const struct conn_op_ops read_ops = {.pump = read_pump, .release = read_release};

static void verb_read(struct conn *c, int argc, char **argv)
{
	struct fx_read_args ra;
	char msg[256], head[ERR_REPLY_MAX];
	struct stat st;
	struct jw w;

	if (fx_parse_read(argc, argv, &ra, msg, sizeof(msg)) < 0) {
		queue_file_error(c, argc && !path_ok(argv[0], false) ? "bad_path" : "bad_argument",
				 msg, argc ? argv[0] : NULL, 0);
		return;
	}
	if (stat(ra.path, &st) < 0) {
		queue_errno(c, "stat", ra.path, errno);
		return;
	}
	if (S_ISDIR(st.st_mode)) {
		snprintf(msg, sizeof(msg), "%.200s is a directory (ls lists it)", ra.path);
		queue_file_error(c, "is_a_directory", msg, ra.path, EISDIR);
		return;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(msg, sizeof(msg), "%.200s is a %s, not a regular file", ra.path,
			 type_name(st.st_mode));
		queue_file_error(c, "not_a_file", msg, ra.path, 0);
		return;
	}
	/* O_NONBLOCK: a FIFO swapped in since the stat must not block us. */
	int fd = open(ra.path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		queue_errno(c, "open", ra.path, errno);
		return;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		queue_file_error(c, "not_a_file", "not a regular file", ra.path, 0);
		return;
	}
	uint64_t size = (uint64_t)st.st_size;
	if (ra.offset > size) {
		close(fd);
		snprintf(msg, sizeof(msg), "--offset %llu is past the end (%llu bytes)",
			 (unsigned long long)ra.offset, (unsigned long long)size);
		queue_file_error(c, "bad_argument", msg, ra.path, 0);
		return;
	}
	uint64_t len = size - ra.offset;
	if (ra.have_length && ra.length < len)
		len = ra.length;
	struct read_op *ro = calloc(1, sizeof(*ro));
	char *buf = len ? malloc(XFER_BUF) : NULL;
	if (!ro || (len && !buf)) {
		close(fd);
		free(ro);
		free(buf);
		conn_queue_error(c, "no_memory", "out of memory");
		return;
	}
	jw_init(&w, head, sizeof(head));
	reply_ok_open(&w);
	jw_key(&w, "path");
	jw_str(&w, ra.path);
	jw_key(&w, "size");
	jw_u64(&w, size);
	jw_key(&w, "offset");
	jw_u64(&w, ra.offset);
	jw_key(&w, "len");
	jw_u64(&w, len);
	jw_obj_close(&w);
	conn_queue_reply(c, &w);
	ro->fd = fd;
	ro->buf = buf;
	ro->off = ra.offset;
	ro->left = len;
	snprintf(ro->path, sizeof(ro->path), "%s", ra.path);
	conn_op_begin(c, &read_ops, ro);
}

/* ---- stat ---- */

static void fill_stat(struct conn *c, struct jw *w, void *ctx)
{
	char **args = ctx; /* path, and the link target or NULL */
	const char *path = args[0], *target = args[1];
	const struct stat *st = (const struct stat *)args[2];
	char when[48];

	(void)c;
	reply_ok_open(w);
	jw_key(w, "path");
	jw_str(w, path);
	jw_key(w, "type");
	jw_str(w, type_name(st->st_mode));
	put_mode(w, st->st_mode);
	jw_key(w, "size");
	jw_u64(w, (uint64_t)st->st_size);
	jw_key(w, "uid");
	jw_u64(w, st->st_uid);
	jw_key(w, "gid");
	jw_u64(w, st->st_gid);
	jw_key(w, "nlink");
	jw_u64(w, (uint64_t)st->st_nlink);
	jw_key(w, "mtime_ns");
	jw_i64(w, mtime_ns(st));
	jw_key(w, "mtime");
	fx_format_time(mtime_ns(st), when, sizeof(when));
	jw_str(w, when);
	if (target) {
		jw_key(w, "target");
		jw_str(w, target);
	}
	jw_obj_close(w);
}

static void verb_stat(struct conn *c, int argc, char **argv)
{
	bool follow = false;
	const char *why;
	char target[FX_PATH_MAX + 1];
	struct stat st;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--follow") != 0) {
			queue_file_error(c, "bad_argument", "usage: stat PATH [--follow]", argv[0],
					 0);
			return;
		}
		follow = true;
	}
	if (fx_check_path(argv[0], false, &why) < 0) {
		queue_file_error(c, "bad_path", why, argv[0], 0);
		return;
	}
	if ((follow ? stat(argv[0], &st) : lstat(argv[0], &st)) < 0) {
		queue_errno(c, "stat", argv[0], errno);
		return;
	}
	char *args[3] = {argv[0], NULL, (char *)&st};
	if (S_ISLNK(st.st_mode)) {
		ssize_t n = readlink(argv[0], target, sizeof(target) - 1);
		if (n >= 0) {
			target[n] = 0;
			args[1] = target;
		}
	}
	conn_queue_big_reply(c, fill_stat, args);
}

/* ---- ls ---- */

struct ls_op {
	DIR *dir;
	bool first;
	char entry[ENTRY_MAX];
};

static void ls_release(struct conn *c)
{
	struct ls_op *lo = c->op_state;

	closedir(lo->dir);
	free(lo);
}

static void ls_end(struct conn *c, int err)
{
	char buf[512];
	struct jw w;

	/* Closes the array and the reply object opened in verb_ls: the
	 * members are written as an object of their own, less its '{'. */
	jw_init(&w, buf, sizeof(buf));
	jw_obj_open(&w);
	jw_key(&w, "complete");
	jw_bool(&w, !err);
	if (err) {
		jw_key(&w, "message");
		jw_str(&w, strerror(err));
	}
	conn_queue(c, "],", 2);
	conn_queue(c, buf + 1, w.len - 1);
	conn_queue(c, "}\n", 2);
	conn_op_end(c);
	conn_kick_later(c);
}

static void ls_pump(struct conn *c)
{
	struct ls_op *lo = c->op_state;
	int dfd = dirfd(lo->dir);

	while (conn_alive(c) && conn_room(c) > ENTRY_MAX + 2) {
		struct jw w;
		struct stat st;
		errno = 0;
		struct dirent *d = readdir(lo->dir);
		if (!d) {
			ls_end(c, errno);
			return;
		}
		if (!strcmp(d->d_name, ".") || !strcmp(d->d_name, ".."))
			continue;
		if (fstatat(dfd, d->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue; /* removed since readdir saw it */
		jw_init(&w, lo->entry, sizeof(lo->entry));
		jw_obj_open(&w);
		jw_key(&w, "name");
		jw_str(&w, d->d_name);
		jw_key(&w, "type");
		jw_str(&w, type_name(st.st_mode));
		jw_key(&w, "size");
		jw_u64(&w, (uint64_t)st.st_size);
		put_mode(&w, st.st_mode);
		jw_obj_close(&w);
		if (w.overflow)
			continue; /* cannot happen with NAME_MAX names */
		if (!lo->first)
			conn_queue(c, ",", 1);
		lo->first = false;
		conn_queue(c, lo->entry, w.len);
	}
}

static const struct conn_op_ops ls_ops = {.pump = ls_pump, .release = ls_release};

static void verb_ls(struct conn *c, int argc, char **argv)
{
	const char *why;
	char head[ERR_REPLY_MAX];
	struct jw w;

	(void)argc;
	if (fx_check_path(argv[0], false, &why) < 0) {
		queue_file_error(c, "bad_path", why, argv[0], 0);
		return;
	}
	int fd = open(argv[0], O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		queue_errno(c, "open", argv[0], errno);
		return;
	}
	struct ls_op *lo = calloc(1, sizeof(*lo));
	DIR *dir = lo ? fdopendir(fd) : NULL;
	if (!dir) {
		close(fd);
		free(lo);
		conn_queue_error(c, "no_memory", "out of memory");
		return;
	}
	lo->dir = dir;
	lo->first = true;
	/* The reply's start, left open: entries follow, ls_end closes it. */
	jw_init(&w, head, sizeof(head));
	reply_ok_open(&w);
	jw_key(&w, "path");
	jw_str(&w, argv[0]);
	jw_key(&w, "entries");
	jw_arr_open(&w); /* head holds a 4095-byte path escaped: no overflow */
	conn_queue(c, head, w.len);
	conn_op_begin(c, &ls_ops, lo);
}

/* ---- mkdir ---- */

/* mkdir that is content when a directory is already there. */
static int mkdir_exist_ok(const char *path, mode_t mode, bool *created)
{
	struct stat st;

	*created = false;
	if (mkdir(path, mode) == 0) {
		*created = true;
		return 0;
	}
	if (errno != EEXIST)
		return -1;
	if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
		return 0;
	errno = EEXIST;
	return -1;
}

static void verb_mkdir(struct conn *c, int argc, char **argv)
{
	bool parents = false, created = false;
	unsigned mode = 0755;
	const char *path = NULL, *why;
	char buf[FX_PATH_MAX + 1];

	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--parents") || !strcmp(argv[i], "-p")) {
			parents = true;
		} else if (!strcmp(argv[i], "--mode") && i + 1 < argc &&
			   fx_parse_mode(argv[i + 1], &mode) == 0) {
			i++;
		} else if (!path && argv[i][0] != '-') {
			path = argv[i];
		} else {
			queue_file_error(c, "bad_argument",
					 "usage: mkdir PATH [--parents|-p] [--mode MODE]", path, 0);
			return;
		}
	}
	if (!path || fx_check_path(path, true, &why) < 0) {
		queue_file_error(c, "bad_path", path ? why : "mkdir needs a PATH", path, 0);
		return;
	}
	snprintf(buf, sizeof(buf), "%s", path);
	if (parents) {
		bool made;
		for (char *p = strchr(buf + 1, '/'); p; p = strchr(p + 1, '/')) {
			if (p[-1] == '/')
				continue; /* "//" */
			*p = 0;
			int r = mkdir_exist_ok(buf, 0755, &made);
			*p = '/';
			if (r < 0) {
				*p = 0;
				queue_errno(c, "mkdir", buf, errno);
				return;
			}
		}
	}
	if ((parents ? mkdir_exist_ok(buf, mode, &created) : mkdir(buf, mode)) < 0) {
		queue_errno(c, "mkdir", buf, errno);
		return;
	}
	if (!parents)
		created = true;
	/* The exact mode, past the umask. */
	if (created && chmod(buf, mode) < 0) {
		queue_errno(c, "chmod", buf, errno);
		return;
	}
	char *reply = malloc(ERR_REPLY_MAX);
	struct jw w;
	if (!reply) {
		conn_queue_error(c, "no_memory", "out of memory");
		return;
	}
	jw_init(&w, reply, ERR_REPLY_MAX);
	reply_ok_open(&w);
	jw_key(&w, "path");
	jw_str(&w, buf);
	jw_key(&w, "created");
	jw_bool(&w, created);
	jw_obj_close(&w);
	conn_queue_reply(c, &w);
	free(reply);
}

static const struct verb verbs[] = {
    {"read", "read PATH [--offset N] [--length N]  (a JSON header with len, then len raw bytes)", 1,
     5, false, verb_read},
    /* Arity and shutdown are checked by verb_write itself: SIZE raw bytes
     * follow the line and must be taken whatever the reply. */
    {"write",
     "write PATH SIZE [--mode MODE] [--owner UID[:GID]]  (then exactly SIZE raw bytes; "
     "atomic)",
     0, REQUEST_MAX_ARGS - 1, false, verb_write},
    {"stat", "stat PATH [--follow]", 1, 2, false, verb_stat},
    {"ls", "ls PATH  (entries with type, size and mode)", 1, 1, false, verb_ls},
    {"mkdir", "mkdir PATH [--parents|-p] [--mode MODE]", 1, 4, false, verb_mkdir},
};

const struct verb *file_verbs(size_t *n)
{
	*n = sizeof(verbs) / sizeof(verbs[0]);
	return verbs;
}
