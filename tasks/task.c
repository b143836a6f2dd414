/* The task table: spawning, capture into rings, reaping and exit records. */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "init/init.h"
#include "tasks/internal.h"

#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

/* Bytes read from one pipe per wakeup, so one chatty task cannot starve
 * the loop; level-triggered epoll brings us back for the rest. */
#define READ_BUDGET (1 << 20)

struct task_pipe {
	struct watch w;
	struct task *task;
	unsigned stream;
	bool open;
	bool held; /* not watched: a lossless reader has not read the ring */
};

/* capture_once: a lossless reader leaves no room in the ring. */
#define CAPTURE_HELD (-2)

struct task_private {
	struct task_pipe out, err;
	struct timer drain;
	struct watch tomb;    /* fd -1: frees the task after the current batch */
	struct watch stdin_w; /* a dup of stdin_fd, watched while stdin is full */
	bool stdin_watched;
	size_t meta_bytes; /* what the task's record costs the ring budget */
};

struct task_table {
	struct task *head, *tail;
	struct tasks_listener *listeners;
	uint64_t next_id;
	unsigned live;
	struct ringlog_pool pool;
	/* The records of listed tasks (argv included), counted against the
	 * ring budget with the rings: an exited task with a small ring and a
	 * long command line would otherwise be nearly free to keep. */
	size_t meta_used;
	struct spawner spawner;
	struct seccomp_cache seccomp;
	int devnull;
	struct timer prepare; /* idle: make the next task's cgroup */
};

static void unwatch_stdin(struct agent *a, struct task *t);

static struct task_table *table(struct agent *a)
{
	return a->tasks;
}

static void on_idle_prepare(struct agent *a, struct timer *t)
{
	(void)t;
	cg_prepare(a, table(a)->next_id);
}

static void prepare_next(struct agent *a)
{
	if (a->cgroup)
		timer_when_idle(a, &table(a)->prepare);
}

int tasks_init(struct agent *a)
{
	a->tasks = calloc(1, sizeof(*a->tasks));
	if (!a->tasks)
		return -1;
	a->tasks->next_id = 1;
	a->tasks->devnull = -1;
	spawner_init(&a->tasks->spawner);
	ringlog_pool_init(&a->tasks->pool, a->cfg.ring_budget);
	a->tasks->prepare.on_fire = on_idle_prepare;
	/* A child subreaper runs in somebody else's system: task groups under
	 * the default base would land at the top of the host's hierarchy. */
	if (a->mode == MODE_SUBREAPER && !a->cfg.cgroup_set)
		log_msg(a, LL_INFO,
			"cgroup: a child subreaper makes task groups only under a "
			"task.cgroup it is given");
	else if (strcmp(a->cfg.cgroup, "none") != 0)
		cg_init(a, a->cfg.cgroup);
	prepare_next(a);
	return 0;
}

struct task *tasks_first(struct agent *a)
{
	return table(a)->head;
}

const char *task_state_name(enum task_state s)
{
	switch (s) {
	case TASK_STARTING:
		return "starting";
	case TASK_RUNNING:
		return "running";
	case TASK_EXITED:
		return "exiting";
	default:
		return "exited";
	}
}

static struct ringlog_stamp stamp_now(void)
{
	struct timespec ts;
	struct ringlog_stamp s;

	s.boot_ns = (int64_t)now_ns();
	clock_gettime(CLOCK_REALTIME, &ts);
	s.real_ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
	return s;
}

/* ---- observers ---- */

void task_observe(struct task *t, struct task_observer *o)
{
	o->task = t;
	o->prev = NULL;
	o->next = t->observers;
	if (o->next)
		o->next->prev = o;
	t->observers = o;
}

void task_unobserve(struct task_observer *o)
{
	if (!o->task)
		return;
	if (o->prev)
		o->prev->next = o->next;
	else
		o->task->observers = o->next;
	if (o->next)
		o->next->prev = o->prev;
	o->task = NULL;
	o->next = o->prev = NULL;
}

/* An observer may unobserve itself (or be freed) from its callback. */
void tasks_listen(struct agent *a, struct tasks_listener *l)
{
	struct task_table *tt = table(a);

	l->prev = NULL;
	l->next = tt->listeners;
	if (l->next)
		l->next->prev = l;
	tt->listeners = l;
	l->listening = true;
}

void tasks_unlisten(struct agent *a, struct tasks_listener *l)
{
	if (!l->listening)
		return;
	if (l->prev)
		l->prev->next = l->next;
	else
		table(a)->listeners = l->next;
	if (l->next)
		l->next->prev = l->prev;
	l->listening = false;
}

void tasks_ring_budget(struct agent *a, size_t *used, size_t *limit, size_t *rings)
{
	*used = ringlog_pool_used(&table(a)->pool) + table(a)->meta_used;
	*limit = ringlog_pool_limit(&table(a)->pool);
	*rings = ringlog_pool_rings(&table(a)->pool);
}

/* An observer or listener may remove itself (or be freed) from its callback. */
static void notify(struct agent *a, struct task *t, enum task_event ev)
{
	struct task_observer *o = t->observers;

	while (o) {
		struct task_observer *next = o->next;
		o->notify(a, o, ev);
		o = next;
	}
	if (ev == TASK_EV_OUTPUT || ev == TASK_EV_STDIN_READY)
		return; /* listeners hear lifecycle events only */
	for (struct tasks_listener *l = table(a)->listeners, *next; l; l = next) {
		next = l->next;
		l->event(a, l, t, ev);
	}
}

/* ---- lookup ---- */

static bool is_live(const struct task *t)
{
	return t->state != TASK_DONE;
}

struct task *task_find(struct agent *a, const char *ref)
{
	char *end;
	struct task *best = NULL;

	if (*ref >= '0' && *ref <= '9') {
		unsigned long long id = strtoull(ref, &end, 10);
		if (*end)
			return NULL;
		for (struct task *t = table(a)->head; t; t = t->next)
			if (t->id == id)
				return t;
		return NULL;
	}
	for (struct task *t = table(a)->head; t; t = t->next) {
		if (strcmp(t->name, ref) != 0)
			continue;
		if (is_live(t))
			return t;
		best = t; /* the newest exited one, the list being in creation order */
	}
	return best;
}

/* ---- exit publication ---- */

static bool pipes_closed(const struct task *t)
{
	return !t->priv->out.open && !t->priv->err.open;
}

static void publish_exit(struct agent *a, struct task *t)
{
	struct ringlog_stamp now = stamp_now();

	timer_cancel(a, &t->priv->drain);
	t->state = TASK_DONE;
	t->exit.end_boot_ns = (uint64_t)now.boot_ns;
	t->exit.end_real_ns = (uint64_t)now.real_ns;
	table(a)->live--;
	log_msg(a, LL_INFO, "task %llu (%s) exited with status %d%s", (unsigned long long)t->id,
		t->name, t->exit.status,
		t->exit.descendant_holds_pipes ? " (a descendant still holds its output)" : "");
	if (t->exit.oom_killed)
		notify(a, t, TASK_EV_OOM);
	notify(a, t, TASK_EV_EXITED);
	if (t == a->main_task)
		main_task_done(a, t);
}

/* Published once the child is reaped and its output pipes reached EOF — or
 * the drain window ran out. */
static void maybe_publish(struct agent *a, struct task *t)
{
	if (t->state != TASK_EXITED)
		return;
	if (pipes_closed(t)) {
		publish_exit(a, t);
		return;
	}
	if (!t->priv->drain.armed)
		timer_arm(a, &t->priv->drain, a->cfg.drain_ms);
}

static void on_drain_over(struct agent *a, struct timer *tm)
{
	struct task_private *p = container_of(tm, struct task_private, drain);
	struct task *t = p->out.task;

	if (t->state != TASK_EXITED)
		return;
	/* Output we chose not to read yet is not a descendant's. */
	if (p->out.held || p->err.held) {
		timer_arm(a, tm, a->cfg.drain_ms);
		return;
	}
	t->exit.descendant_holds_pipes = true;
	publish_exit(a, t);
}

static uint64_t tv_ns(struct timeval tv)
{
	return (uint64_t)tv.tv_sec * 1000000000u + (uint64_t)tv.tv_usec * 1000u;
}

bool tasks_on_reaped(struct agent *a, pid_t pid, int st, const struct rusage *ru)
{
	struct task *t;

	for (t = table(a)->head; t; t = t->next)
		if (t->pid == pid && !t->reaped)
			break;
	if (!t)
		return false;
	t->reaped = true;
	t->state = TASK_EXITED;
	t->exit.oom_killed = cg_oom_kills(a, t->id) > 0;
	if (ru) {
		t->exit.user_ns = tv_ns(ru->ru_utime);
		t->exit.sys_ns = tv_ns(ru->ru_stime);
		t->exit.max_rss_kib = (uint64_t)ru->ru_maxrss;
	}
	if (WIFSIGNALED(st)) {
		t->exit.signal = WTERMSIG(st);
		t->exit.code = -1;
		t->exit.status = 128 + t->exit.signal;
		t->exit.core_dumped = WCOREDUMP(st);
	} else {
		t->exit.code = WEXITSTATUS(st);
		t->exit.status = t->exit.code;
	}
	maybe_publish(a, t);
	return true;
}

/* ---- capture ---- */

static void close_pipe(struct agent *a, struct task_pipe *p)
{
	if (!p->open)
		return;
	p->open = false;
	loop_release(a, &p->w);
}

static void echo_to_console(struct agent *a, struct iovec *iov, size_t n)
{
	struct iovec v[2] = {iov[0], iov[1]};

	if (v[0].iov_len >= n) {
		v[0].iov_len = n;
		v[1].iov_len = 0;
	} else {
		v[1].iov_len = n - v[0].iov_len;
	}
	/* Best effort: the console must never hold up capture. */
	(void)!writev(a->logfd >= 0 ? a->logfd : 2, v, v[1].iov_len ? 2 : 1);
}

/* Payload bytes one record can take without dropping a record a lossless
 * reader has not read (SIZE_MAX without such readers; 0: none). One
 * record, so that no split into several records adds headers. */
static size_t hold_room(const struct task *t)
{
	size_t room = SIZE_MAX;
	bool held = false;

	for (const struct task_observer *o = t->observers; o; o = o->next)
		if (o->hold) {
			size_t r = ringlog_room_before(t->ring, o->hold);
			room = r < room ? r : room;
			held = true;
		}
	if (!held)
		return SIZE_MAX;
	if (room <= RINGLOG_HEADER_SIZE)
		return 0;
	struct ringlog_stats st;
	ringlog_get_stats(t->ring, &st);
	room -= RINGLOG_HEADER_SIZE;
	return room < st.max_record ? room : st.max_record;
}

void task_reader_moved(struct agent *a, struct task *t)
{
	struct task_pipe *pipes[] = {&t->priv->out, &t->priv->err};
	struct ringlog_stats st;

	if (!t->priv->out.held && !t->priv->err.held)
		return;
	/* Not for every byte read: once a useful chunk fits again. */
	ringlog_get_stats(t->ring, &st);
	size_t want = st.max_record < 16384 ? st.max_record : 16384;
	if (hold_room(t) < want)
		return;
	for (size_t i = 0; i < 2; i++)
		if (pipes[i]->open && pipes[i]->held) {
			pipes[i]->held = false;
			loop_add(a, &pipes[i]->w, EPOLLIN);
		}
}

/* Returns bytes read, 0 at EOF, -1 when nothing is there now, CAPTURE_HELD. */
static ssize_t capture_once(struct agent *a, struct task_pipe *p)
{
	struct task *t = p->task;
	struct iovec iov[2];
	int avail = 0;
	size_t most = hold_room(t);

	if (!most)
		return CAPTURE_HELD;
	if (ioctl(p->w.fd, FIONREAD, &avail) < 0 || avail <= 0) {
		/* Nothing buffered: EOF, or a race with the writer. */
		char tmp[4096];
		ssize_t n = read(p->w.fd, tmp, sizeof(tmp) < most ? sizeof(tmp) : most);
		if (n < 0 && errno == EIO)
			return 0; /* a pty master once every slave fd is closed */
		if (n > 0) {
			ringlog_append(t->ring, p->stream, tmp, (size_t)n, stamp_now());
			if (t->echo_console) {
				struct iovec v[2] = {{tmp, (size_t)n}, {NULL, 0}};
				echo_to_console(a, v, (size_t)n);
			}
		}
		return n < 0 ? -1 : n;
	}
	/* Reserving only what is there keeps the ring from dropping old
	 * records for space that would not be used. */
	if ((size_t)avail > most)
		avail = (int)most;
	ssize_t got = ringlog_reserve(t->ring, p->stream, (size_t)avail, iov);
	if (got <= 0)
		return -1;
	ssize_t n = readv(p->w.fd, iov, iov[1].iov_len ? 2 : 1);
	if (n <= 0) {
		ringlog_cancel(t->ring);
		return n < 0 && errno != EIO ? -1 : 0;
	}
	ringlog_commit(t->ring, (size_t)n, stamp_now());
	if (t->echo_console)
		echo_to_console(a, iov, (size_t)n);
	return n;
}

static void on_output(struct agent *a, struct watch *w, uint32_t events)
{
	struct task_pipe *p = container_of(w, struct task_pipe, w);
	struct task *t = p->task;
	size_t got = 0;
	bool eof = false;

	/* A hangup with nothing to read is the end: no FIONREAD, no read. */
	if ((events & (EPOLLHUP | EPOLLIN)) == EPOLLHUP)
		eof = true;
	while (!eof && got < READ_BUDGET) {
		ssize_t n = capture_once(a, p);
		if (n == CAPTURE_HELD && !p->held) {
			/* Unwatched until the reader reads: a hangup would keep
			 * waking the loop otherwise. */
			loop_del(a, &p->w);
			p->held = true;
		}
		if (n < 0)
			break;
		if (n == 0) {
			eof = true;
			break;
		}
		got += (size_t)n;
	}
	if (got)
		notify(a, t, TASK_EV_OUTPUT);
	if (eof) {
		close_pipe(a, p);
		maybe_publish(a, t);
	}
}

/* ---- exec status ---- */

/* spawn_child returns once the child has exec'd for good or exited, with
 * any failure of a step before exec in the plan's report. */
static void take_exec_report(struct agent *a, struct task *t, const struct spawn_plan *plan)
{
	const struct exec_report *r = &plan->report;

	t->state = TASK_RUNNING; /* until the reaper says it exited */
	if (plan->report_late)
		log_msg(a, LL_WARN, "task %llu (%s): no exec status after %d ms",
			(unsigned long long)t->id, t->name, EXEC_STATUS_WAIT_MS);
	if (!r->stage[0]) {
		notify(a, t, TASK_EV_STARTED);
		return;
	}
	snprintf(t->exec_stage, sizeof(t->exec_stage), "%s", r->stage);
	t->exec_errno = r->err;
	log_msg(a, LL_WARN, "task %llu (%s): %s %s: %s", (unsigned long long)t->id, t->name,
		r->stage, t->argv[0], strerror(r->err));
	notify(a, t, TASK_EV_EXEC_FAILED);
}

/* ---- creation ---- */

static bool name_taken(struct agent *a, const char *name)
{
	for (struct task *t = table(a)->head; t; t = t->next)
		if (is_live(t) && !strcmp(t->name, name))
			return true;
	return false;
}

static void free_task(struct watch *w)
{
	struct task_private *p = container_of(w, struct task_private, tomb);
	struct task *t = p->out.task;

	if (t->argv)
		for (char **v = t->argv; *v; v++)
			free(*v);
	free(t->argv);
	free(t->priv);
	free(t);
}

static void unlink_task(struct agent *a, struct task *t)
{
	struct task_table *tt = table(a);
	struct task *prev = NULL;

	for (struct task *x = tt->head; x; prev = x, x = x->next) {
		if (x != t)
			continue;
		if (prev)
			prev->next = t->next;
		else
			tt->head = t->next;
		if (tt->tail == t)
			tt->tail = prev;
		return;
	}
}

static void destroy_task(struct agent *a, struct task *t)
{
	notify(a, t, TASK_EV_REMOVED);
	while (t->observers)
		task_unobserve(t->observers);
	close_pipe(a, &t->priv->out);
	close_pipe(a, &t->priv->err);
	timer_cancel(a, &t->priv->drain);
	unwatch_stdin(a, t);
	if (t->stdin_fd >= 0)
		close(t->stdin_fd);
	ringlog_destroy(t->ring);
	t->ring = NULL;
	table(a)->meta_used -= t->priv->meta_bytes;
	cg_remove(a, t->id);
	if (t == a->main_task)
		a->main_task = NULL; /* its status is kept in a->main_status */
	unlink_task(a, t);
	loop_release(a, &t->priv->tomb);
}

int task_remove(struct agent *a, struct task *t)
{
	if (t->state != TASK_DONE)
		return -EBUSY;
	log_msg(a, LL_DEBUG, "task %llu (%s) removed", (unsigned long long)t->id, t->name);
	destroy_task(a, t);
	return 0;
}

/* Whether a ring of `size` and a record of `meta` bytes fit the budget. */
static bool budget_fits(struct task_table *tt, size_t size, size_t meta)
{
	size_t used = ringlog_pool_used(&tt->pool) + tt->meta_used;
	size_t limit = ringlog_pool_limit(&tt->pool);
	size_t need = ringlog_footprint(size);

	/* Written as subtractions so nothing near SIZE_MAX overflows. */
	return used <= limit && need <= limit - used && meta <= limit - used - need;
}

static bool evictable(struct agent *a, const struct task *t)
{
	return t->state == TASK_DONE && t != a->main_task;
}

/* Whether the ring and record would fit once every exited task is gone,
 * so that a request that cannot fit anyway evicts nothing. */
static bool budget_fits_without_evictable(struct agent *a, size_t size, size_t meta)
{
	struct task_table *tt = table(a);
	size_t kept = ringlog_pool_used(&tt->pool) + tt->meta_used;
	size_t limit = ringlog_pool_limit(&tt->pool);
	size_t need = ringlog_footprint(size);
	struct ringlog_stats st;

	for (const struct task *t = tt->head; t; t = t->next) {
		if (!evictable(a, t))
			continue;
		ringlog_get_stats(t->ring, &st);
		kept -= ringlog_footprint(st.capacity) + t->priv->meta_bytes;
	}
	return kept <= limit && need <= limit - kept && meta <= limit - kept - need;
}

/* The budget is shared by every ring and task record: make room by
 * evicting the oldest exited tasks, never a live one. */
static int make_ring(struct agent *a, size_t size, size_t meta, struct ringlog **out)
{
	struct task_table *tt = table(a);

	if (!ringlog_footprint(size))
		return -EINVAL;
	/* Walked only when eviction looms, not on every run. */
	if (!budget_fits(tt, size, meta) && !budget_fits_without_evictable(a, size, meta))
		return -ENOSPC; /* evicting every exited task would not be enough */
	while (!budget_fits(tt, size, meta)) {
		struct task *victim = NULL;
		for (struct task *t = tt->head; t; t = t->next)
			if (evictable(a, t)) {
				victim = t;
				break;
			}
		if (!victim)
			return -ENOSPC;
		log_msg(a, LL_INFO, "ring budget: evicting exited task %llu (%s)",
			(unsigned long long)victim->id, victim->name);
		destroy_task(a, victim);
	}
	return ringlog_create(out, &tt->pool, size, 0);
}

static char **copy_argv(char *const *argv)
{
	int n = 0;

	while (argv[n])
		n++;
	char **v = calloc((size_t)n + 1, sizeof(*v));
	if (!v)
		return NULL;
	for (int i = 0; i < n; i++) {
		v[i] = strdup(argv[i]);
		if (!v[i]) {
			while (i--)
				free(v[i]);
			free(v);
			return NULL;
		}
	}
	return v;
}

extern char **environ;

static bool env_key_matches(const char *entry, const char *key, size_t klen)
{
	return !strncmp(entry, key, klen) && entry[klen] == '=';
}

/* init's environment (or none), then the spec's sets and unsets, then HOME
 * for a user that has one. Strings are borrowed, only the array is new. */
static char **build_env(const struct task_spec *s, const struct creds *c, char *home_buf,
			size_t home_cap)
{
	size_t base = 0;

	if (!s->clean_env)
		while (environ[base])
			base++;
	char **env = calloc(base + (size_t)s->n_env + 2, sizeof(*env));
	if (!env)
		return NULL;
	size_t n = 0;
	for (size_t i = 0; i < base; i++)
		if (strncmp(environ[i], "task.", 5) != 0)
			env[n++] = environ[i];
	bool home_set = false;
	for (int i = 0; i < s->n_env; i++) {
		const char *e = s->env[i], *eq = strchr(e, '=');
		size_t klen = eq ? (size_t)(eq - e) : strlen(e);
		size_t w = 0;
		for (size_t r = 0; r < n; r++)
			if (!env_key_matches(env[r], e, klen))
				env[w++] = env[r];
		n = w;
		if (eq)
			env[n++] = (char *)e;
		if (klen == 4 && !strncmp(e, "HOME", 4))
			home_set = true;
	}
	if (c->have_home && !home_set) {
		size_t w = 0;
		for (size_t r = 0; r < n; r++)
			if (!env_key_matches(env[r], "HOME", 4))
				env[w++] = env[r];
		n = w;
		snprintf(home_buf, home_cap, "HOME=%s", c->home);
		env[n++] = home_buf;
	}
	env[n] = NULL;
	return env;
}

/* Roughly what the task's record holds in the agent: malloc's own
 * overhead is not counted. */
static void record_meta_bytes(struct task *t)
{
	size_t n = sizeof(*t) + sizeof(*t->priv) + sizeof(char *);

	for (char **v = t->argv; *v; v++)
		n += sizeof(char *) + strlen(*v) + 1;
	t->priv->meta_bytes = n;
}

static struct task *alloc_task(struct agent *a, const struct task_spec *s)
{
	struct task *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->priv = calloc(1, sizeof(*t->priv));
	t->argv = copy_argv(s->argv);
	if (!t->priv || !t->argv) {
		free(t->priv);
		free(t);
		return NULL;
	}
	t->id = table(a)->next_id++;
	record_meta_bytes(t);
	if (s->name)
		snprintf(t->name, sizeof(t->name), "%s", s->name);
	else
		snprintf(t->name, sizeof(t->name), "task-%llu", (unsigned long long)t->id);
	t->stdin_fd = -1;
	t->pty = s->stdin_mode == STDIN_PTY;
	t->echo_console = s->echo_console;
	struct task_private *p = t->priv;
	p->out.task = p->err.task = t;
	p->out.stream = RINGLOG_STDOUT;
	p->err.stream = RINGLOG_STDERR;
	p->out.w.fd = p->err.w.fd = -1;
	p->tomb.fd = -1;
	p->tomb.release = free_task;
	p->drain.on_fire = on_drain_over;
	return t;
}

struct fds {
	int in_r, in_w, out_r, out_w, err_r, err_w;
	int borrowed; /* the table's /dev/null: close_fds leaves it open */
};

static void close_fds(struct fds *f)
{
	int *all[] = {&f->in_r, &f->in_w, &f->out_r, &f->out_w, &f->err_r, &f->err_w};
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		if (*all[i] >= 0 && *all[i] != f->borrowed)
			close(*all[i]);
		*all[i] = -1;
	}
}

/* The master stays with the agent (output in, input out); the child gets
 * the slave on 0-2. */
static int open_pty(const struct task_spec *s, struct fds *f)
{
	char path[64];
	struct winsize ws = {.ws_row = s->pty_rows ? s->pty_rows : 24,
			     .ws_col = s->pty_cols ? s->pty_cols : 80};
	int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);

	if (m < 0)
		return -1;
	f->out_r = m;
	if (grantpt(m) < 0 || unlockpt(m) < 0 || ptsname_r(m, path, sizeof(path)) != 0)
		return -1;
	ioctl(m, TIOCSWINSZ, &ws);
	fcntl(m, F_SETFL, O_NONBLOCK);
	f->in_r = open(path, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (f->in_r < 0)
		return -1;
	f->out_w = fcntl(f->in_r, F_DUPFD_CLOEXEC, 3);
	f->err_w = fcntl(f->in_r, F_DUPFD_CLOEXEC, 3);
	f->in_w = fcntl(m, F_DUPFD_CLOEXEC, 3);
	return f->out_w < 0 || f->err_w < 0 || f->in_w < 0 ? -1 : 0;
}

/* One /dev/null for every task's stdin, opened once: the child dup2s it. */
static int dev_null(struct task_table *tt)
{
	if (tt->devnull < 0)
		tt->devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
	return tt->devnull;
}

static int open_fds(struct task_table *tt, const struct task_spec *s, struct fds *f)
{
	int p[2];

	f->in_r = f->in_w = f->out_r = f->out_w = f->err_r = f->err_w = -1;
	f->borrowed = -1;
	if (s->stdin_mode == STDIN_PTY)
		return open_pty(s, f);
	if (s->stdin_mode == STDIN_PIPE) {
		if (pipe2(p, O_CLOEXEC) < 0)
			return -1;
		f->in_r = p[0], f->in_w = p[1];
		fcntl(f->in_w, F_SETFL, O_NONBLOCK);
	} else if ((f->in_r = f->borrowed = dev_null(tt)) < 0) {
		return -1;
	}
	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	f->out_r = p[0], f->out_w = p[1];
	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	f->err_r = p[0], f->err_w = p[1];
	fcntl(f->out_r, F_SETFL, O_NONBLOCK);
	fcntl(f->err_r, F_SETFL, O_NONBLOCK);
	return 0;
}

static void watch_pipe(struct agent *a, struct task_pipe *p, int fd)
{
	p->w.fd = fd;
	p->w.on_event = on_output;
	p->w.release = NULL;
	p->open = loop_add(a, &p->w, EPOLLIN) == 0;
}

static void attach_fds(struct agent *a, struct task *t, struct fds *f)
{
	struct task_private *p = t->priv;

	if (t->pty)
		p->out.stream = RINGLOG_PTY;
	watch_pipe(a, &p->out, f->out_r);
	if (f->err_r >= 0)
		watch_pipe(a, &p->err, f->err_r);
	t->stdin_fd = f->in_w;
	f->out_r = f->err_r = f->in_w = -1; /* owned by the task now */
}

static void append_task(struct agent *a, struct task *t)
{
	struct task_table *tt = table(a);

	if (tt->tail)
		tt->tail->next = t;
	else
		tt->head = t;
	tt->tail = t;
	tt->live++;
	tt->meta_used += t->priv->meta_bytes;
}

static int check_spec(struct agent *a, const struct task_spec *s, char *err, size_t errlen)
{
	if (s->argc < 1 || !s->argv[0] || !*s->argv[0]) {
		snprintf(err, errlen, "no command given");
		return -1;
	}
	if (s->name && !task_name_valid(s->name)) {
		snprintf(err, errlen,
			 "bad task name \"%.64s\": 1-63 of [A-Za-z0-9._-], not all digits",
			 s->name);
		return -1;
	}
	if (s->name && name_taken(a, s->name)) {
		snprintf(err, errlen, "a live task is already named \"%s\"", s->name);
		return -1;
	}
	return 0;
}

struct task *task_run(struct agent *a, const struct task_spec *s, const char **code, char *err,
		      size_t errlen)
{
	struct creds creds;
	struct fds f;
	char home[300];
	struct task *t;

	*code = "bad_argument";
	if (check_spec(a, s, err, errlen) < 0)
		return NULL;
	*code = "bad_user";
	if (creds_resolve(s, &creds, err, errlen) < 0)
		return NULL;
	const struct seccomp_prog *filter = NULL;
	*code = "bad_argument";
	if (s->seccomp.enabled &&
	    !(filter = seccomp_prog_for(&table(a)->seccomp, &s->seccomp, err, errlen)))
		return NULL;
	*code = "no_memory";
	t = alloc_task(a, s);
	if (!t) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	size_t ring = s->ring_size ? s->ring_size : a->cfg.ring_size;
	int r = make_ring(a, ring, t->priv->meta_bytes, &t->ring);
	if (r < 0) {
		*code = r == -ENOSPC ? "ring_budget" : r == -EINVAL ? "bad_argument" : "no_memory";
		size_t whole = ringlog_footprint(ring) + t->priv->meta_bytes;
		snprintf(err, errlen, "cannot make a %zu-byte ring: %s", ring,
			 r != -ENOSPC ? strerror(-r)
			 : whole > ringlog_pool_limit(&table(a)->pool)
			     ? "with the task's record it is more than the whole ring budget"
			     : "the ring budget is used by live tasks");
		t->priv->tomb.release(&t->priv->tomb);
		prepare_next(a); /* the id is used up: a spare for the next */
		return NULL;
	}
	int cgdir = cg_create(a, t->id, &s->cgroup, err, errlen);
	if (cgdir == -1) {
		*code = "cgroup";
		ringlog_destroy(t->ring);
		t->priv->tomb.release(&t->priv->tomb);
		prepare_next(a); /* the id is used up: a spare for the next */
		return NULL;
	}
	char **envp = build_env(s, &creds, home, sizeof(home));
	*code = "spawn_failed";
	if (!envp || open_fds(table(a), s, &f) < 0) {
		snprintf(err, errlen, "cannot set up the task: %s", strerror(errno));
		if (envp)
			close_fds(&f);
		free(envp);
		if (cgdir >= 0)
			close(cgdir);
		cg_remove(a, t->id);
		ringlog_destroy(t->ring);
		t->priv->tomb.release(&t->priv->tomb);
		prepare_next(a); /* the id is used up: a spare for the next */
		return NULL;
	}
	struct spawn_plan plan = {
	    .argv = t->argv,
	    .envp = envp,
	    .cwd = s->cwd,
	    .umask = s->umask,
	    .spec = s,
	    .creds = &creds,
	    .stdin_fd = f.in_r,
	    .stdout_fd = f.out_w,
	    .stderr_fd = f.err_w,
	    .seccomp = filter,
	    .pty = s->stdin_mode == STDIN_PTY,
	    .cgroup_fd = cgdir,
	};
	struct ringlog_stamp start = stamp_now();
	t->pid = spawn_child(&table(a)->spawner, &plan);
	free(envp);
	if (cgdir >= 0)
		close(cgdir);
	if (t->pid < 0) {
		snprintf(err, errlen, "spawn: %s", strerror(errno));
		close_fds(&f);
		cg_remove(a, t->id);
		ringlog_destroy(t->ring);
		t->priv->tomb.release(&t->priv->tomb);
		prepare_next(a); /* the id is used up: a spare for the next */
		return NULL;
	}
	t->start_boot_ns = (uint64_t)start.boot_ns;
	t->start_real_ns = (uint64_t)start.real_ns;
	attach_fds(a, t, &f);
	close_fds(&f); /* the child's ends */
	append_task(a, t);
	log_msg(a, LL_INFO, "task %llu (%s) started: %s, pid %d", (unsigned long long)t->id,
		t->name, t->argv[0], t->pid);
	take_exec_report(a, t, &plan);
	prepare_next(a);
	return t;
}

int task_kill(struct agent *a, struct task *t, int sig, bool group)
{
	(void)a;
	if (t->reaped)
		return -ESRCH;
	/* The task leads its own session and group (setsid), so its pgid is
	 * its pid; a task that changed group is still reached through its pid. */
	if (group && kill(-t->pid, sig) == 0)
		return 0;
	return kill(t->pid, sig) < 0 ? -errno : 0;
}

int task_cgroup_stats(struct agent *a, const struct task *t, struct cg_stats *st)
{
	return cg_read_stats(a, t->id, st);
}

void tasks_cleanup(struct agent *a)
{
	if (a->tasks) {
		spawner_free(&table(a)->spawner);
		seccomp_cache_free(&table(a)->seccomp);
	}
	if (!a->cgroup || !a->tasks)
		return;
	cg_drop_spare(a);
	for (struct task *t = table(a)->head; t; t = t->next)
		cg_remove(a, t->id);
	rmdir(a->cfg.cgroup);
}

int task_resize(struct task *t, unsigned short cols, unsigned short rows)
{
	struct winsize ws = {.ws_row = rows, .ws_col = cols};

	if (!t->pty || t->stdin_fd < 0)
		return -ENOTTY;
	return ioctl(t->stdin_fd, TIOCSWINSZ, &ws) < 0 ? -errno : 0;
}

static void unwatch_stdin(struct agent *a, struct task *t)
{
	if (!t->priv->stdin_watched)
		return;
	t->priv->stdin_watched = false;
	loop_release(a, &t->priv->stdin_w);
}

static void on_stdin_ready(struct agent *a, struct watch *w, uint32_t events)
{
	struct task_private *p = container_of(w, struct task_private, stdin_w);

	(void)events;
	unwatch_stdin(a, p->out.task);
	notify(a, p->out.task, TASK_EV_STDIN_READY);
}

ssize_t task_stdin_write(struct agent *a, struct task *t, const void *buf, size_t n)
{
	struct task_private *p = t->priv;

	if (t->stdin_fd < 0)
		return -EBADF;
	ssize_t w = write(t->stdin_fd, buf, n);
	if (w >= 0)
		return w;
	if (errno != EAGAIN)
		return -errno;
	if (!p->stdin_watched) {
		/* A dup, so that releasing the watch never closes stdin itself. */
		p->stdin_w.fd = fcntl(t->stdin_fd, F_DUPFD_CLOEXEC, 3);
		p->stdin_w.on_event = on_stdin_ready;
		p->stdin_w.release = NULL;
		if (p->stdin_w.fd >= 0 && loop_add(a, &p->stdin_w, EPOLLOUT) == 0)
			p->stdin_watched = true;
		else if (p->stdin_w.fd >= 0)
			close(p->stdin_w.fd);
	}
	return -EAGAIN;
}

int task_close_stdin(struct agent *a, struct task *t)
{
	if (t->stdin_fd < 0)
		return -EBADF;
	unwatch_stdin(a, t); /* its dup would keep the pipe open */
	if (t->pty) {
		/* The master stays (resize, output); the line discipline turns
		 * ^D at the start of a line into end-of-file for the reader. */
		return write(t->stdin_fd, "\004", 1) == 1 ? 0 : -errno;
	}
	close(t->stdin_fd);
	t->stdin_fd = -1;
	return 0;
}

void tasks_signal_all(struct agent *a, int sig)
{
	for (struct task *t = table(a)->head; t; t = t->next)
		if (!t->reaped)
			task_kill(a, t, sig, true);
}
