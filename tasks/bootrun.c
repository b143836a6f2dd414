/* Boot tasks: the runtime. Reads the boot file named by task.boot_tasks,
 * starts each task it declares and restarts it per its policy, with
 * exponential backoff and a start rate limit (docs/boottasks.md). Problems
 * are warnings in the init log, never fatal. */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "init/init.h"
#include "tasks/boottasks.h"
#include "tasks/tasks.h"

#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

/* One declared task across its incarnations. */
struct bt_run {
	const struct bt_task *cfg;
	struct task_observer obs; /* on the live incarnation */
	struct timer timer;	  /* the backoff before the next start */
	struct bt_policy_state pol;
	uint64_t start_ns;	  /* of the current incarnation (CLOCK_BOOTTIME) */
	uint64_t cur_id, prev_id; /* live or last incarnation, and the one before */
	unsigned starts;	  /* incarnations started so far */
};

struct boottasks {
	struct bt_file file;
	struct bt_run run[BT_MAX_TASKS];
};

static void ended(struct agent *a, struct bt_run *r, int status);

static void on_task_event(struct agent *a, struct task_observer *o, enum task_event ev)
{
	struct bt_run *r = container_of(o, struct bt_run, obs);

	if (ev == TASK_EV_REMOVED) {
		task_unobserve(o);
		return;
	}
	if (ev != TASK_EV_EXITED)
		return;
	int status = o->task->exit.status;
	task_unobserve(o);
	ended(a, r, status);
}

/* Keeps the live incarnation and the last exited one: older ones go, so a
 * task that keeps restarting does not push other tasks' history out of
 * the ring budget. */
static void drop_older(struct agent *a, struct bt_run *r)
{
	char ref[24];

	if (r->prev_id) {
		snprintf(ref, sizeof(ref), "%llu", (unsigned long long)r->prev_id);
		struct task *old = task_find(a, ref);
		if (old && old->state == TASK_DONE)
			task_remove(a, old);
	}
	r->prev_id = r->cur_id;
	r->cur_id = 0;
}

static void launch(struct agent *a, struct bt_run *r)
{
	const struct bt_task *c = r->cfg;
	struct task_spec spec;
	const char *code;
	char err[256];

	memset(&spec, 0, sizeof(spec));
	spec.argc = c->argc;
	for (int i = 0; i < c->argc; i++)
		spec.argv[i] = c->argv[i];
	spec.name = c->name;
	spec.clean_env = c->clean_env;
	spec.n_env = c->n_env;
	for (int i = 0; i < c->n_env; i++)
		spec.env[i] = c->env[i];
	spec.cwd = c->cwd;
	spec.user = c->user;
	spec.group = c->group;
	spec.umask = -1;
	spec.stdin_mode = STDIN_NULL;
	spec.ring_size = c->ring_size;

	drop_older(a, r);
	r->start_ns = now_ns();
	r->starts++;
	bt_policy_started(c, &r->pol, r->start_ns);
	struct task *t = task_run(a, &spec, &code, err, sizeof(err));
	if (!t) {
		log_msg(a, LL_WARN, "boot task %s: cannot start (%s): %s", c->name, code, err);
		ended(a, r, 126);
		return;
	}
	r->cur_id = t->id;
	log_msg(a, LL_INFO, "boot task %s: start %u is task %llu", c->name, r->starts,
		(unsigned long long)t->id);
	task_observe(t, &r->obs);
}

static void on_backoff_over(struct agent *a, struct timer *tm)
{
	struct bt_run *r = container_of(tm, struct bt_run, timer);

	if (a->sd_phase != SD_NONE)
		return;
	launch(a, r);
}

static void ended(struct agent *a, struct bt_run *r, int status)
{
	const struct bt_task *c = r->cfg;

	if (a->sd_phase != SD_NONE) {
		log_msg(a, LL_DEBUG, "boot task %s: not restarted during shutdown", c->name);
		return;
	}
	long d = bt_policy_on_exit(c, &r->pol, status, r->start_ns, now_ns());
	if (d == -1) {
		log_msg(a, LL_INFO, "boot task %s: status %d, restart=%s: not restarted", c->name,
			status, bt_restart_name(c->restart));
		return;
	}
	if (d == -2) {
		log_msg(a, LL_WARN,
			"boot task %s: status %d; started %u times within %u s: giving up", c->name,
			status, c->start_limit, c->start_window_s);
		return;
	}
	log_msg(a, LL_INFO, "boot task %s: status %d, restart=%s: restarting in %ld ms", c->name,
		status, bt_restart_name(c->restart), d);
	timer_arm(a, &r->timer, (uint64_t)d);
}

struct warn_ctx {
	struct agent *a;
	const char *path;
};

static void warn_line(void *ctx, unsigned line, bool dropped, const char *msg)
{
	struct warn_ctx *w = ctx;

	log_msg(w->a, LL_WARN, "boot tasks: %s:%u: %s%s", w->path, line, msg,
		dropped ? " (task not started)" : "");
}

/* Reads the whole file, at most BT_MAX_FILE bytes. Returns the length, or
 * -1 with errno (EFBIG when too large). */
static ssize_t read_file(const char *path, char *buf, size_t cap)
{
	struct stat st;
	size_t n = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		int e = S_ISDIR(st.st_mode) ? EISDIR : EINVAL;
		close(fd);
		errno = e;
		return -1;
	}
	for (;;) {
		ssize_t k = read(fd, buf + n, cap - n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			int e = errno;
			close(fd);
			errno = e;
			return -1;
		}
		if (k == 0)
			break;
		n += (size_t)k;
		if (n == cap) {
			close(fd);
			errno = EFBIG;
			return -1;
		}
	}
	close(fd);
	return (ssize_t)n;
}

void boottasks_start(struct agent *a)
{
	const char *path = a->cfg.boot_tasks;

	if (!*path || !strcmp(path, "none") || a->sd_phase != SD_NONE)
		return;
	char *buf = malloc(BT_MAX_FILE + 1);
	if (!buf) {
		log_msg(a, LL_WARN, "boot tasks: out of memory");
		return;
	}
	ssize_t len = read_file(path, buf, BT_MAX_FILE + 1);
	if (len < 0) {
		if (errno == ENOENT)
			log_msg(a, LL_INFO, "boot tasks: no %s", path);
		else
			log_msg(a, LL_WARN, "boot tasks: cannot read %s: %s", path,
				errno == EFBIG ? "larger than 64 KiB" : strerror(errno));
		free(buf);
		return;
	}
	struct boottasks *bt = calloc(1, sizeof(*bt));
	if (!bt) {
		log_msg(a, LL_WARN, "boot tasks: out of memory");
		free(buf);
		return;
	}
	struct warn_ctx w = {a, path};
	bt_parse(buf, (size_t)len, &bt->file, warn_line, &w);
	free(buf);
	a->boottasks = bt;
	log_msg(a, LL_INFO, "boot tasks: %d from %s", bt->file.n, path);
	for (int i = 0; i < bt->file.n; i++) {
		struct bt_run *r = &bt->run[i];
		r->cfg = &bt->file.tasks[i];
		r->obs.notify = on_task_event;
		r->timer.on_fire = on_backoff_over;
		launch(a, r);
	}
	boot_mark(a, "boot tasks started");
}
