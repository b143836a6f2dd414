/* Task verbs: run, ps, wait, kill, logs, stdin, rm. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tasks/tasks.h"
#include "vsock/conn.h"

static const char *const stream_names[] = {"stdout", "stderr", "pty"};

#define TASK_STREAMS                                                                               \
	(RINGLOG_MASK(RINGLOG_STDOUT) | RINGLOG_MASK(RINGLOG_STDERR) | RINGLOG_MASK(RINGLOG_PTY))

static struct task *find_or_error(struct conn *c, const char *ref)
{
	char msg[128];
	struct task *t = task_find(c->a, ref);

	if (!t) {
		snprintf(msg, sizeof(msg), "no task \"%.64s\"", ref);
		conn_queue_error(c, "unknown_task", msg);
	}
	return t;
}

/* ---- JSON pieces ---- */

static void put_offsets(struct jw *w, const struct task *t)
{
	struct ringlog_stats st;

	ringlog_get_stats(t->ring, &st);
	jw_key(w, "offsets");
	jw_obj_open(w);
	for (unsigned s = 0; s < 3; s++) {
		if (s == RINGLOG_PTY && !t->pty)
			continue;
		jw_key(w, stream_names[s]);
		jw_u64(w, st.next_off[s]);
	}
	jw_obj_close(w);
	jw_key(w, "next_seq");
	jw_u64(w, st.next_seq);
}

static void put_exit(struct jw *w, const struct task *t)
{
	const struct task_exit *e = &t->exit;

	jw_key(w, "exit");
	if (t->state != TASK_DONE) {
		jw_null(w);
		return;
	}
	jw_obj_open(w);
	jw_key(w, "status");
	jw_i64(w, e->status);
	jw_key(w, "code");
	if (e->signal)
		jw_null(w);
	else
		jw_i64(w, e->code);
	jw_key(w, "signal");
	if (e->signal)
		jw_i64(w, e->signal);
	else
		jw_null(w);
	if (e->signal && signal_name(e->signal)) {
		jw_key(w, "signal_name");
		jw_str(w, signal_name(e->signal));
	}
	jw_key(w, "core_dumped");
	jw_bool(w, e->core_dumped);
	jw_key(w, "oom_killed");
	jw_bool(w, e->oom_killed);
	jw_key(w, "descendant_holds_pipes");
	jw_bool(w, e->descendant_holds_pipes);
	jw_key(w, "end_boot_ns");
	jw_u64(w, e->end_boot_ns);
	jw_key(w, "end_real_ns");
	jw_u64(w, e->end_real_ns);
	jw_key(w, "cpu_user_ns");
	jw_u64(w, e->user_ns);
	jw_key(w, "cpu_sys_ns");
	jw_u64(w, e->sys_ns);
	jw_key(w, "max_rss_kib");
	jw_u64(w, e->max_rss_kib);
	jw_obj_close(w);
}

static void put_exec_error(struct jw *w, const struct task *t)
{
	if (!t->exec_stage[0])
		return;
	jw_key(w, "exec_error");
	jw_obj_open(w);
	jw_key(w, "stage");
	jw_str(w, t->exec_stage);
	jw_key(w, "errno");
	jw_i64(w, t->exec_errno);
	jw_key(w, "message");
	jw_str(w, strerror(t->exec_errno));
	jw_obj_close(w);
}

static void put_ring(struct jw *w, const struct task *t)
{
	struct ringlog_stats st;
	uint64_t dropped = 0;

	ringlog_get_stats(t->ring, &st);
	for (unsigned s = 0; s < RINGLOG_STREAMS; s++)
		dropped += st.first_off[s];
	jw_key(w, "ring");
	jw_obj_open(w);
	jw_key(w, "capacity");
	jw_u64(w, st.capacity);
	jw_key(w, "used");
	jw_u64(w, st.used);
	jw_key(w, "dropped_bytes");
	jw_u64(w, dropped);
	jw_key(w, "dropped_records");
	jw_u64(w, st.first_seq);
	jw_obj_close(w);
}

/* Long command lines are cut in listings; the task keeps them whole. */
#define ARGV_SHOWN 1024

static void put_task(struct jw *w, const struct task *t, bool full)
{
	size_t shown = 0;

	jw_obj_open(w);
	jw_key(w, "id");
	jw_u64(w, t->id);
	jw_key(w, "name");
	jw_str(w, t->name);
	jw_key(w, "state");
	jw_str(w, task_state_name(t->state));
	jw_key(w, "pid");
	jw_i64(w, t->pid);
	jw_key(w, "argv");
	jw_arr_open(w);
	for (char **v = t->argv; *v && (full || shown < ARGV_SHOWN); v++) {
		size_t n = strlen(*v);
		if (!full && n > ARGV_SHOWN - shown)
			n = ARGV_SHOWN - shown;
		jw_strn(w, *v, n);
		shown += n;
	}
	jw_arr_close(w);
	jw_key(w, "start_boot_ns");
	jw_u64(w, t->start_boot_ns);
	jw_key(w, "start_real_ns");
	jw_u64(w, t->start_real_ns);
	put_exit(w, t);
	put_exec_error(w, t);
	put_offsets(w, t);
	put_ring(w, t);
	jw_obj_close(w);
}

/* ---- run ---- */

/* What every task operation (run, wait, logs) starts with: it follows one
 * task for one connection. */
struct task_op {
	struct task_observer obs;
	struct conn *c;
};

/* Frees any operation whose state starts with struct task_op. */
static void task_op_release(struct conn *c)
{
	struct task_op *op = c->op_state;
	struct task *t = op->obs.task;

	task_unobserve(&op->obs);
	if (t && op->obs.hold)
		task_reader_moved(c->a, t); /* a held task may go on */
	free(op);
}

static void reply_started(struct conn *c, struct task *t)
{
	char buf[256];
	struct jw w;

	jw_init(&w, buf, sizeof(buf));
	reply_ok_open(&w);
	jw_key(&w, "id");
	jw_u64(&w, t->id);
	jw_key(&w, "name");
	jw_str(&w, t->name);
	jw_key(&w, "pid");
	jw_i64(&w, t->pid);
	jw_obj_close(&w);
	conn_queue_reply(c, &w);
}

static const char *exec_reason(const struct task *t)
{
	if (!strcmp(t->exec_stage, "exec"))
		return t->exec_errno == ENOENT || t->exec_errno == ENOTDIR ? "not_found"
		       : t->exec_errno == EACCES			   ? "permission"
									   : "exec";
	if (!strcmp(t->exec_stage, "cwd"))
		return "bad_cwd";
	if (!strcmp(t->exec_stage, "user"))
		return "bad_user";
	return t->exec_stage;
}

static void reply_exec_failed(struct conn *c, struct task *t)
{
	char buf[1024], msg[512];
	struct jw w;

	snprintf(msg, sizeof(msg), "%s %s: %s", t->exec_stage, t->argv[0], strerror(t->exec_errno));
	jw_init(&w, buf, sizeof(buf));
	jw_error_open(&w, "exec_failed", msg);
	jw_key(&w, "reason");
	jw_str(&w, exec_reason(t));
	jw_key(&w, "id");
	jw_u64(&w, t->id);
	jw_key(&w, "name");
	jw_str(&w, t->name);
	jw_key(&w, "exit_code");
	jw_i64(&w, !strcmp(exec_reason(t), "not_found") ? 127 : 126);
	put_exec_error(&w, t);
	jw_obj_close(&w);
	conn_queue_reply(c, &w);
}

/* wait produces its reply from the task's events, not here. */
static void nothing_to_pump(struct conn *c)
{
	(void)c;
}

static const struct conn_op_ops event_reply_ops = {.pump = nothing_to_pump,
						   .release = task_op_release};

static int parse_stdin_mode(const char *v, struct task_spec *s)
{
	if (!strcmp(v, "null"))
		s->stdin_mode = STDIN_NULL;
	else if (!strcmp(v, "pipe"))
		s->stdin_mode = STDIN_PIPE;
	else if (!strcmp(v, "pty"))
		s->stdin_mode = STDIN_PTY;
	else
		return -1;
	return 0;
}

/* A ring size for --ring-size: 4 KiB to 1 GiB. */
static int parse_ring_size(const char *v, size_t *out)
{
	uint64_t n;

	if (parse_size(v, &n) < 0 || n < 4096 || n > (1ull << 30))
		return -1;
	*out = (size_t)n;
	return 0;
}

/* One option with its value; returns 0, or -1 with msg set. */
static int run_option(struct task_spec *s, const char *opt, const char *v, char *msg, size_t cap)
{
	const char *why = NULL;
	char *end;

	if (!strcmp(opt, "--name"))
		s->name = v;
	else if (!strcmp(opt, "--env") || !strcmp(opt, "--unset")) {
		if (s->n_env == TASK_MAX_ENV)
			why = "too many --env/--unset";
		else if (!strcmp(opt, "--env") && (!strchr(v, '=') || *v == '='))
			why = "--env takes KEY=VALUE";
		else if (!strcmp(opt, "--unset") && (strchr(v, '=') || !*v))
			why = "--unset takes a KEY";
		else
			s->env[s->n_env++] = v;
	} else if (!strcmp(opt, "--cwd"))
		s->cwd = v;
	else if (!strcmp(opt, "--user"))
		s->user = v;
	else if (!strcmp(opt, "--group"))
		s->group = v;
	else if (!strcmp(opt, "--groups"))
		s->groups = v;
	else if (!strcmp(opt, "--umask")) {
		long m = strtol(v, &end, 8);
		if (*end || !*v || m < 0 || m > 0777)
			why = "--umask takes an octal mode";
		else
			s->umask = (int)m;
	} else if (!strcmp(opt, "--rlimit")) {
		if (task_spec_add_rlimit(s, v, &why) == 0)
			why = NULL;
	} else if (!strcmp(opt, "--stdin")) {
		if (parse_stdin_mode(v, s) < 0)
			why = "--stdin takes null, pipe or pty";
	} else if (!strcmp(opt, "--pty-size")) {
		unsigned cols, rows;
		char tail;
		if (sscanf(v, "%ux%u%c", &cols, &rows, &tail) != 2 || !cols || !rows ||
		    cols > 65535 || rows > 65535)
			why = "--pty-size takes COLSxROWS";
		else
			s->pty_cols = (unsigned short)cols, s->pty_rows = (unsigned short)rows;
	} else if (!strcmp(opt, "--ring-size")) {
		if (parse_ring_size(v, &s->ring_size) < 0)
			why = "--ring-size takes 4096..1G bytes (K, M suffixes)";
	} else {
		int r = task_spec_add_cgroup(s, opt, v, &why);
		if (r < 0) {
			snprintf(msg, cap, "%s", why);
			return -1;
		}
		if (r == 0)
			return 0;
		r = task_spec_add_seccomp(s, opt, v, msg, cap);
		if (r < 0)
			return -1;
		if (r > 0) {
			snprintf(msg, cap, "unknown option %.64s", opt);
			return -1;
		}
	}
	if (why) {
		snprintf(msg, cap, "%s: %s", opt, why);
		return -1;
	}
	return 0;
}

static const char *const flag_options[] = {"--clean-env", "--no-new-privs", NULL};

static int parse_run(int argc, char **argv, struct task_spec *s, char *msg, size_t cap)
{
	int i = 0;

	memset(s, 0, sizeof(*s));
	s->umask = -1;
	while (i < argc && !strncmp(argv[i], "--", 2)) {
		const char *opt = argv[i];
		if (!strcmp(opt, "--")) {
			i++;
			break;
		}
		if (!strcmp(opt, flag_options[0]) || !strcmp(opt, flag_options[1])) {
			if (!strcmp(opt, "--clean-env"))
				s->clean_env = true;
			else
				s->no_new_privs = true;
			i++;
			continue;
		}
		if (i + 1 >= argc) {
			snprintf(msg, cap, "%.64s needs a value", opt);
			return -1;
		}
		if (run_option(s, opt, argv[i + 1], msg, cap) < 0)
			return -1;
		i += 2;
	}
	if (i >= argc) {
		snprintf(msg, cap, "usage: run [options] [--] command [args...]");
		return -1;
	}
	for (; i < argc && s->argc < TASK_MAX_ARGS; i++)
		s->argv[s->argc++] = argv[i];
	s->argv[s->argc] = NULL;
	return 0;
}

static void verb_run(struct conn *c, int argc, char **argv)
{
	/* On the stack: a heap block this size is mapped and unmapped per
	 * request by musl's allocator. */
	struct task_spec spec, *s = &spec;
	char msg[256];
	const char *code;

	if (parse_run(argc, argv, s, msg, sizeof(msg)) < 0) {
		conn_queue_error(c, "bad_argument", msg);
		return;
	}
	struct task *t = task_run(c->a, s, &code, msg, sizeof(msg));
	if (!t) {
		conn_queue_error(c, code, msg);
		return;
	}
	/* The exec outcome is known when task_run returns (tasks/spawn.c). */
	if (t->exec_stage[0])
		reply_exec_failed(c, t);
	else
		reply_started(c, t);
}

/* ---- ps ---- */

/* `ps` lists every task in one line of any length, streamed as the client
 * takes it: the agent holds one task's JSON at a time, never the list. The
 * observer sits on the next task to list, so a task removed meanwhile
 * moves it on to that task's successor instead of leaving it dangling.
 * Tasks are kept in creation order (increasing ids), and only those that
 * existed when the ps began are listed, so it always ends. */
struct ps_op {
	struct task_observer obs; /* on the next task to list; none: the list is done */
	struct conn *c;
	uint64_t last_id; /* the newest task when the ps began */
	bool first;
	char entry[REPLY_MAX];
};

/* Moves the observer on to the task after t, or off the list. */
static void ps_advance(struct ps_op *p, struct task *t)
{
	struct task *next = t->next;

	task_unobserve(&p->obs);
	if (next && next->id <= p->last_id)
		task_observe(next, &p->obs);
}

static void ps_notify(struct agent *a, struct task_observer *o, enum task_event ev)
{
	struct ps_op *p = container_of(o, struct ps_op, obs);

	(void)a;
	if (ev != TASK_EV_REMOVED)
		return;
	/* Still linked while its removal is announced: its successor is valid. */
	ps_advance(p, o->task);
	conn_kick_later(p->c);
}

/* One task's object, cut down to what always fits should it not. */
static size_t ps_entry(struct ps_op *p, const struct task *t)
{
	struct jw w;

	jw_init(&w, p->entry, sizeof(p->entry));
	put_task(&w, t, false);
	if (!w.overflow)
		return w.len;
	jw_init(&w, p->entry, sizeof(p->entry));
	jw_obj_open(&w);
	jw_key(&w, "id");
	jw_u64(&w, t->id);
	jw_key(&w, "name");
	jw_str(&w, t->name);
	jw_key(&w, "state");
	jw_str(&w, task_state_name(t->state));
	jw_obj_close(&w);
	return w.len;
}

static void ps_pump(struct conn *c)
{
	struct ps_op *p = c->op_state;

	while (p->obs.task && conn_alive(c) && conn_room(c) > sizeof(p->entry) + 1) {
		struct task *t = p->obs.task;
		size_t n = ps_entry(p, t);
		if (!p->first)
			conn_queue(c, ",", 1);
		p->first = false;
		conn_queue(c, p->entry, n);
		ps_advance(p, t);
	}
	if (!p->obs.task && conn_alive(c)) {
		conn_queue(c, "]}\n", 3);
		conn_op_end(c);
		conn_kick_later(c);
	}
}

static void ps_release(struct conn *c)
{
	struct ps_op *p = c->op_state;

	task_unobserve(&p->obs);
	free(p);
}

static const struct conn_op_ops ps_ops = {.pump = ps_pump, .release = ps_release};

static void list_tasks(struct conn *c)
{
	static const char head[] = "{\"ok\":true,\"tasks\":[";
	struct task *first = tasks_first(c->a), *last = first;

	if (!first) {
		static const char none[] = "{\"ok\":true,\"tasks\":[]}\n";
		conn_queue(c, none, sizeof(none) - 1);
		return;
	}
	struct ps_op *p = malloc(sizeof(*p));
	if (!p) {
		conn_queue_error(c, "no_memory", "out of memory");
		return;
	}
	memset(&p->obs, 0, sizeof(p->obs));
	while (last->next)
		last = last->next;
	p->c = c;
	p->last_id = last->id;
	p->first = true;
	p->obs.notify = ps_notify;
	task_observe(first, &p->obs);
	conn_queue(c, head, sizeof(head) - 1);
	conn_op_begin(c, &ps_ops, p);
}

static void fill_one(struct conn *c, struct jw *w, void *ctx)
{
	(void)c;
	reply_ok_open(w);
	jw_key(w, "task");
	put_task(w, ctx, true);
	jw_obj_close(w);
}

static void verb_ps(struct conn *c, int argc, char **argv)
{
	if (argc == 1) {
		struct task *t = find_or_error(c, argv[0]);
		if (t)
			conn_queue_big_reply(c, fill_one, t);
		return;
	}
	list_tasks(c);
}

/* ---- wait ---- */

static void wait_notify(struct agent *a, struct task_observer *o, enum task_event ev)
{
	struct task_op *r = container_of(o, struct task_op, obs);
	struct conn *c = r->c;

	(void)a;
	if (ev == TASK_EV_EXITED)
		conn_queue_big_reply(c, fill_one, o->task);
	else if (ev == TASK_EV_REMOVED)
		conn_queue_error(c, "unknown_task", "the task was removed");
	else
		return;
	conn_op_end(c);
	conn_kick_later(c);
}

static void verb_wait(struct conn *c, int argc, char **argv)
{
	struct task *t = find_or_error(c, argv[0]);

	(void)argc;
	if (!t)
		return;
	if (t->state == TASK_DONE) {
		conn_queue_big_reply(c, fill_one, t);
		return;
	}
	struct task_op *r = calloc(1, sizeof(*r));
	if (!r) {
		conn_queue_error(c, "no_memory", "out of memory");
		return;
	}
	r->c = c;
	r->obs.notify = wait_notify;
	task_observe(t, &r->obs);
	conn_op_begin(c, &event_reply_ops, r);
}

/* ---- kill, rm, stdin ---- */

static void reply_plain_ok(struct conn *c)
{
	static const char ok[] = "{\"ok\":true}\n";
	conn_queue(c, ok, sizeof(ok) - 1);
}

static void verb_kill(struct conn *c, int argc, char **argv)
{
	int sig = SIGTERM;
	bool group = true;
	char msg[128];

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--pid")) {
			group = false;
		} else if ((sig = signal_from_name(argv[i])) < 0) {
			snprintf(msg, sizeof(msg), "unknown signal \"%.32s\"", argv[i]);
			conn_queue_error(c, "bad_argument", msg);
			return;
		}
	}
	struct task *t = find_or_error(c, argv[0]);
	if (!t)
		return;
	int r = task_kill(c->a, t, sig, group);
	if (r == -ESRCH) {
		conn_queue_error(c, "not_running", "the task has exited");
		return;
	}
	if (r < 0) {
		snprintf(msg, sizeof(msg), "kill: %s", strerror(-r));
		conn_queue_error(c, "kill_failed", msg);
		return;
	}
	reply_plain_ok(c);
}

static void verb_rm(struct conn *c, int argc, char **argv)
{
	struct task *t = find_or_error(c, argv[0]);

	(void)argc;
	if (!t)
		return;
	if (task_remove(c->a, t) < 0) {
		conn_queue_error(c, "busy", "the task is still running (kill it, then rm)");
		return;
	}
	reply_plain_ok(c);
}

static void verb_stdin(struct conn *c, int argc, char **argv)
{
	char buf[64];
	struct jw w;
	struct task *t = find_or_error(c, argv[0]);

	if (!t)
		return;
	if (t->stdin_fd < 0) {
		conn_queue_error(c, "no_stdin",
				 "the task's stdin is not an open pipe (run --stdin pipe)");
		return;
	}
	if (!strcmp(argv[1], "--close") && argc == 2) {
		task_close_stdin(c->a, t);
		reply_plain_ok(c);
		return;
	}
	size_t len = strlen(argv[1]);
	ssize_t n = write(t->stdin_fd, argv[1], len);
	if (n < 0 && errno != EAGAIN) {
		snprintf(buf, sizeof(buf), "write: %s", strerror(errno));
		conn_queue_error(c, "stdin_failed", buf);
		return;
	}
	/* Never blocks: what the pipe cannot take now is reported, not queued. */
	jw_init(&w, buf, sizeof(buf));
	reply_ok_open(&w);
	jw_key(&w, "written");
	jw_u64(&w, n < 0 ? 0 : (uint64_t)n);
	jw_obj_close(&w);
	conn_queue_reply(c, &w);
}

/* ---- logs ---- */

struct logs_op {
	struct task_op op; /* first: task_op_release frees it */
	struct ringlog_cursor cur;
	bool follow, framed;
};

static void logs_gap(struct conn *c, struct logs_op *l, const struct ringlog_gap *g)
{
	char buf[1024];
	struct jw w;

	if (!l->framed) {
		for (unsigned s = 0; s < 3; s++) {
			uint64_t lost = ringlog_gap_bytes(g, s);
			if (lost && lost != RINGLOG_UNKNOWN) {
				int n = snprintf(buf, sizeof(buf),
						 "\n[taskinit: %llu bytes of %s lost]\n",
						 (unsigned long long)lost, stream_names[s]);
				conn_queue(c, buf, (size_t)n);
			}
		}
		return;
	}
	jw_init(&w, buf, sizeof(buf));
	jw_obj_open(&w);
	jw_key(&w, "gap");
	jw_obj_open(&w);
	jw_key(&w, "from_seq");
	jw_u64(&w, g->from_seq);
	jw_key(&w, "to_seq");
	jw_u64(&w, g->to_seq);
	for (unsigned s = 0; s < 3; s++) {
		if (!(l->cur.mask & RINGLOG_MASK(s)))
			continue;
		jw_key(&w, stream_names[s]);
		jw_obj_open(&w);
		jw_key(&w, "from_off");
		jw_u64(&w, g->from_off[s]);
		jw_key(&w, "to_off");
		jw_u64(&w, g->to_off[s]);
		jw_obj_close(&w);
	}
	jw_obj_close(&w);
	jw_obj_close(&w);
	conn_queue_reply(c, &w);
}

static void logs_end(struct conn *c, struct task *t, const char *error)
{
	char buf[2048];
	struct jw w;

	jw_init(&w, buf, sizeof(buf));
	if (error) {
		conn_queue_error(c, "unknown_task", error);
		return;
	}
	reply_ok_open(&w);
	jw_key(&w, "end");
	jw_bool(&w, true);
	jw_key(&w, "id");
	jw_u64(&w, t->id);
	jw_key(&w, "state");
	jw_str(&w, task_state_name(t->state));
	put_offsets(&w, t);
	put_exit(&w, t);
	jw_obj_close(&w);
	conn_queue_reply(c, &w);
}

static void logs_data(struct conn *c, struct logs_op *l, const struct ringlog_chunk *ch,
		      struct iovec *iov, size_t n)
{
	if (l->framed) {
		char buf[256];
		struct jw w;
		jw_init(&w, buf, sizeof(buf));
		jw_obj_open(&w);
		jw_key(&w, "stream");
		jw_str(&w, ch->stream < 3 ? stream_names[ch->stream] : "?");
		jw_key(&w, "seq");
		jw_u64(&w, ch->seq);
		jw_key(&w, "off");
		jw_u64(&w, ch->off);
		jw_key(&w, "len");
		jw_u64(&w, n);
		jw_key(&w, "t_ns");
		jw_i64(&w, ch->when.boot_ns);
		jw_obj_close(&w);
		conn_queue_reply(c, &w);
	}
	size_t first = n < iov[0].iov_len ? n : iov[0].iov_len;
	conn_queue(c, iov[0].iov_base, first);
	if (n > first)
		conn_queue(c, iov[1].iov_base, n - first);
}

/* Moves what the cursor has into the reply buffer while there is room. */
static void logs_pump(struct conn *c)
{
	struct logs_op *l = c->op_state;
	struct task *t = l->op.obs.task;

	while (conn_alive(c) && conn_room(c) > 512) {
		struct ringlog_chunk ch;
		struct ringlog_gap g;
		struct iovec iov[2];
		int r = ringlog_peek(t->ring, &l->cur, &ch, iov, &g);
		if (r == RINGLOG_GAP) {
			logs_gap(c, l, &g);
			if (l->op.obs.hold)
				task_reader_moved(c->a, t);
			continue;
		}
		if (r != RINGLOG_DATA) {
			/* Peek may have moved the cursor past other streams'
			 * records: a task held for this reader may go on. */
			if (l->op.obs.hold)
				task_reader_moved(c->a, t);
			if (!l->follow || t->state == TASK_DONE) {
				logs_end(c, t, NULL);
				conn_op_end(c);
			}
			return;
		}
		size_t room = conn_room(c) - 256;
		size_t n = ch.len < room ? ch.len : room;
		logs_data(c, l, &ch, iov, n);
		ringlog_consume(t->ring, &l->cur, n);
		if (l->op.obs.hold)
			task_reader_moved(c->a, t);
	}
}

static void logs_notify(struct agent *a, struct task_observer *o, enum task_event ev)
{
	struct logs_op *l = container_of(o, struct logs_op, op.obs);
	struct conn *c = l->op.c;

	(void)a;
	if (ev == TASK_EV_REMOVED) {
		/* The ring goes with the task: stop reading it now. */
		logs_end(c, o->task, "the task was removed");
		conn_op_end(c);
	}
	conn_kick_later(c);
}

static const struct conn_op_ops logs_ops = {.pump = logs_pump, .release = task_op_release};

static int stream_mask(const char *v, unsigned *mask, unsigned *stream)
{
	if (!strcmp(v, "all"))
		*mask = TASK_STREAMS;
	else if (!strcmp(v, "stdout"))
		*mask = RINGLOG_MASK(*stream = RINGLOG_STDOUT);
	else if (!strcmp(v, "stderr"))
		*mask = RINGLOG_MASK(*stream = RINGLOG_STDERR);
	else if (!strcmp(v, "pty"))
		*mask = RINGLOG_MASK(*stream = RINGLOG_PTY);
	else
		return -1;
	return 0;
}

static int parse_u64(const char *v, uint64_t *out)
{
	char *end;

	if (*v < '0' || *v > '9')
		return -1;
	errno = 0;
	*out = strtoull(v, &end, 10);
	return errno || *end ? -1 : 0;
}

struct logs_args {
	unsigned mask, stream;
	bool single, follow, framed, lossless, have_from, have_seq;
	uint64_t from, seq;
};

static int parse_logs(int argc, char **argv, struct logs_args *la, char *msg, size_t cap)
{
	memset(la, 0, sizeof(*la));
	la->mask = TASK_STREAMS;
	for (int i = 1; i < argc; i++) {
		const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(o, "--follow") || !strcmp(o, "-f")) {
			la->follow = true;
			continue;
		}
		if (!strcmp(o, "--framed")) {
			la->framed = true;
			continue;
		}
		if (!strcmp(o, "--lossless")) {
			la->lossless = true;
			continue;
		}
		if (!v) {
			snprintf(msg, cap, "%.32s needs a value", o);
			return -1;
		}
		i++;
		if (!strcmp(o, "--stream")) {
			if (stream_mask(v, &la->mask, &la->stream) < 0) {
				snprintf(msg, cap, "--stream takes stdout, stderr, pty or all");
				return -1;
			}
			la->single = strcmp(v, "all") != 0;
		} else if (!strcmp(o, "--from") && parse_u64(v, &la->from) == 0) {
			la->have_from = true;
		} else if (!strcmp(o, "--seq") && parse_u64(v, &la->seq) == 0) {
			la->have_seq = true;
		} else {
			snprintf(msg, cap, "bad option %.32s %.32s", o, v);
			return -1;
		}
	}
	if (la->have_from && !la->single) {
		snprintf(msg, cap, "--from is a byte offset of one stream: add --stream");
		return -1;
	}
	if (la->have_from && la->have_seq) {
		snprintf(msg, cap, "--from and --seq exclude each other");
		return -1;
	}
	return 0;
}

static void verb_logs(struct conn *c, int argc, char **argv)
{
	struct logs_args la;
	char msg[160];
	int r;

	if (parse_logs(argc, argv, &la, msg, sizeof(msg)) < 0) {
		conn_queue_error(c, "bad_argument", msg);
		return;
	}
	struct task *t = find_or_error(c, argv[0]);
	if (!t)
		return;
	struct logs_op *l = calloc(1, sizeof(*l));
	if (!l) {
		conn_queue_error(c, "no_memory", "out of memory");
		return;
	}
	if (la.have_from)
		r = ringlog_seek_offset(t->ring, &l->cur, la.stream, la.from);
	else if (la.have_seq)
		r = ringlog_seek_seq(t->ring, &l->cur, la.mask, la.seq);
	else
		r = ringlog_seek_oldest(t->ring, &l->cur, la.mask);
	if (r < 0) {
		free(l);
		conn_queue_error(c, "bad_argument",
				 r == -ERANGE ? "that position has not been written yet"
					      : "bad position");
		return;
	}
	l->op.c = c;
	l->follow = la.follow;
	l->framed = la.framed;
	l->op.obs.notify = logs_notify;
	/* Holding only makes sense while following: a history read ends. */
	l->op.obs.hold = la.lossless && la.follow ? &l->cur : NULL;
	task_observe(t, &l->op.obs);
	if (conn_op_begin(c, &logs_ops, l))
		logs_pump(c);
}

static void verb_resize(struct conn *c, int argc, char **argv)
{
	unsigned cols, rows;
	char tail;
	struct task *t;

	(void)argc;
	if (sscanf(argv[1], "%u%c", &cols, &tail) != 1 ||
	    sscanf(argv[2], "%u%c", &rows, &tail) != 1 || !cols || !rows || cols > 65535 ||
	    rows > 65535) {
		conn_queue_error(c, "bad_argument", "usage: resize TASK COLS ROWS");
		return;
	}
	if (!(t = find_or_error(c, argv[0])))
		return;
	if (task_resize(t, (unsigned short)cols, (unsigned short)rows) < 0) {
		conn_queue_error(c, "no_pty", "the task has no terminal (run --stdin pty)");
		return;
	}
	reply_plain_ok(c);
}

/* ---- events ---- */

struct events_op {
	struct tasks_listener l;
	struct conn *c;
	uint64_t missed; /* events that found the reply buffer full */
};

static const char *event_name(enum task_event ev)
{
	switch (ev) {
	case TASK_EV_STARTED:
		return "started";
	case TASK_EV_EXEC_FAILED:
		return "exec_failed";
	case TASK_EV_EXITED:
		return "exited";
	case TASK_EV_REMOVED:
		return "removed";
	case TASK_EV_OOM:
		return "oom";
	default:
		return "output";
	}
}

static void queue_missed(struct conn *c, struct events_op *e)
{
	char buf[96];
	int n;

	if (!e->missed)
		return;
	n = snprintf(buf, sizeof(buf), "{\"event\":\"missed\",\"count\":%llu}\n",
		     (unsigned long long)e->missed);
	conn_queue(c, buf, (size_t)n);
	e->missed = 0;
}

static void events_event(struct agent *a, struct tasks_listener *l, struct task *t,
			 enum task_event ev)
{
	struct events_op *e = container_of(l, struct events_op, l);
	struct conn *c = e->c;
	char buf[1024];
	struct jw w;

	(void)a;
	/* A client that does not read its events loses some, counted, rather
	 * than holding memory or slowing anyone. */
	if (conn_room(c) < sizeof(buf) + 96) {
		e->missed++;
		return;
	}
	queue_missed(c, e);
	jw_init(&w, buf, sizeof(buf));
	jw_obj_open(&w);
	jw_key(&w, "event");
	jw_str(&w, event_name(ev));
	jw_key(&w, "id");
	jw_u64(&w, t->id);
	jw_key(&w, "name");
	jw_str(&w, t->name);
	jw_key(&w, "pid");
	jw_i64(&w, t->pid);
	jw_key(&w, "t_ns");
	jw_u64(&w, now_ns());
	if (ev == TASK_EV_EXITED)
		put_exit(&w, t);
	if (ev == TASK_EV_EXEC_FAILED)
		put_exec_error(&w, t);
	jw_obj_close(&w);
	conn_queue_reply(c, &w);
	conn_kick_later(c);
}

static void events_pump(struct conn *c)
{
	struct events_op *e = c->op_state;

	if (conn_room(c) > 96)
		queue_missed(c, e);
}

static void events_release(struct conn *c)
{
	struct events_op *e = c->op_state;

	tasks_unlisten(c->a, &e->l);
	free(e);
}

static const struct conn_op_ops events_ops = {.pump = events_pump, .release = events_release};

/* Never ends: the client closes the connection when it is done. */
static void verb_events(struct conn *c, int argc, char **argv)
{
	struct events_op *e = calloc(1, sizeof(*e));

	(void)argc, (void)argv;
	if (!e) {
		conn_queue_error(c, "no_memory", "out of memory");
		return;
	}
	static const char ack[] = "{\"ok\":true,\"events\":true}\n";
	conn_queue(c, ack, sizeof(ack) - 1);
	e->c = c;
	e->l.event = events_event;
	tasks_listen(c->a, &e->l);
	conn_op_begin(c, &events_ops, e);
}

/* ---- stats ---- */

static uint64_t status_kib(const char *path, const char *key)
{
	char line[256];
	size_t klen = strlen(key);
	unsigned long long v = 0;
	FILE *f = fopen(path, "re");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, klen) && line[klen] == ':')
			sscanf(line + klen + 1, "%llu", &v);
	fclose(f);
	return v;
}

/* utime and stime of a live process, from /proc/PID/stat, in ns. */
static void proc_cpu(pid_t pid, uint64_t *user, uint64_t *sys)
{
	char path[64], buf[1024];
	unsigned long long ut = 0, st = 0;
	long hz = sysconf(_SC_CLK_TCK);
	FILE *f;

	*user = *sys = 0;
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if (!(f = fopen(path, "re")))
		return;
	if (fgets(buf, sizeof(buf), f)) {
		char *p = strrchr(buf, ')');
		/* state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime
		 */
		if (p &&
		    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut,
			   &st) == 2 &&
		    hz > 0) {
			*user = ut * (1000000000ull / (unsigned long long)hz);
			*sys = st * (1000000000ull / (unsigned long long)hz);
		}
	}
	fclose(f);
}

static void put_task_stats(struct agent *a, struct jw *w, struct task *t)
{
	uint64_t user = t->exit.user_ns, sys = t->exit.sys_ns, rss = 0;
	char path[64];

	if (!t->reaped) {
		proc_cpu(t->pid, &user, &sys);
		snprintf(path, sizeof(path), "/proc/%d/status", t->pid);
		rss = status_kib(path, "VmRSS");
	}
	jw_obj_open(w);
	jw_key(w, "id");
	jw_u64(w, t->id);
	jw_key(w, "name");
	jw_str(w, t->name);
	jw_key(w, "state");
	jw_str(w, task_state_name(t->state));
	jw_key(w, "cpu_user_ns");
	jw_u64(w, user);
	jw_key(w, "cpu_sys_ns");
	jw_u64(w, sys);
	jw_key(w, "rss_kib");
	jw_u64(w, rss);
	struct cg_stats cs;
	jw_key(w, "cgroup");
	if (task_cgroup_stats(a, t, &cs) < 0) {
		jw_null(w);
	} else {
		jw_obj_open(w);
		jw_key(w, "cpu_usage_us");
		jw_u64(w, cs.cpu_usage_us);
		jw_key(w, "cpu_user_us");
		jw_u64(w, cs.cpu_user_us);
		jw_key(w, "cpu_system_us");
		jw_u64(w, cs.cpu_system_us);
		if (cs.have_memory) {
			jw_key(w, "memory_current");
			jw_u64(w, cs.memory_current);
			jw_key(w, "memory_peak");
			jw_u64(w, cs.memory_peak);
			jw_key(w, "oom_kills");
			jw_u64(w, cs.oom_kills);
		}
		if (cs.have_pids) {
			jw_key(w, "pids_current");
			jw_u64(w, cs.pids_current);
		}
		jw_obj_close(w);
	}
	put_ring(w, t);
	jw_obj_close(w);
}

static void fill_stats(struct conn *c, struct jw *w, void *ctx)
{
	struct agent *a = c->a;
	size_t used, limit, rings;
	unsigned n = 0, live = 0;

	reply_ok_open(w);
	jw_key(w, "agent");
	jw_obj_open(w);
	jw_key(w, "pid");
	jw_i64(w, a->pid);
	jw_key(w, "rss_kib");
	jw_u64(w, status_kib("/proc/self/status", "VmRSS"));
	jw_key(w, "peak_rss_kib");
	jw_u64(w, status_kib("/proc/self/status", "VmHWM"));
	jw_key(w, "uptime_ns");
	jw_u64(w, now_ns() - a->t_exec_ns);
	for (struct task *t = tasks_first(a); t; t = t->next, n++)
		live += t->state != TASK_DONE;
	jw_key(w, "tasks");
	jw_u64(w, n);
	jw_key(w, "live_tasks");
	jw_u64(w, live);
	jw_obj_close(w);
	tasks_ring_budget(a, &used, &limit, &rings);
	jw_key(w, "ring_budget");
	jw_obj_open(w);
	jw_key(w, "used");
	jw_u64(w, used);
	jw_key(w, "limit");
	jw_u64(w, limit);
	jw_key(w, "rings");
	jw_u64(w, rings);
	jw_obj_close(w);
	if (ctx) {
		jw_key(w, "task");
		put_task_stats(a, w, ctx);
	}
	jw_obj_close(w);
}

static void verb_stats(struct conn *c, int argc, char **argv)
{
	struct task *t = NULL;

	if (argc == 1 && !(t = find_or_error(c, argv[0])))
		return;
	conn_queue_big_reply(c, fill_stats, t);
}

/* ---- attach: stdin in, output out ---- */

struct attach_op {
	struct logs_op l; /* first: logs_pump and logs_notify work on it */
	bool stdin_closed;
};

/* Raw bytes from the client go to the task's stdin as fast as it takes
 * them; what it does not take yet stays in the connection's buffer, which
 * stops being read from when full. */
static void attach_input(struct conn *c)
{
	struct attach_op *at = c->op_state;
	struct task *t = at->l.op.obs.task;

	while (c->in_len && !at->stdin_closed) {
		ssize_t n = task_stdin_write(c->a, t, c->in, c->in_len);
		if (n == -EAGAIN)
			return; /* TASK_EV_STDIN_READY kicks us */
		if (n <= 0) {
			c->in_len = 0; /* the task closed its stdin, or has none */
			break;
		}
		memmove(c->in, c->in + n, c->in_len - (size_t)n);
		c->in_len -= (size_t)n;
	}
	c->in_len = at->stdin_closed ? 0 : c->in_len;
	if (c->eof && c->in_len == 0 && !at->stdin_closed) {
		at->stdin_closed = true;
		task_close_stdin(c->a, t);
	}
}

/* The peer is gone: hand on what the task's stdin takes now, drop the
 * rest, and end the task's input, as a writer that goes away ends a pipe's. */
static void attach_drop_input(struct conn *c)
{
	struct attach_op *at = c->op_state;

	attach_input(c);
	if (c->in_len && !at->stdin_closed)
		log_msg(c->a, LL_INFO,
			"attach: %s hung up; %zu bytes of stdin for task %llu dropped", c->peer,
			c->in_len, (unsigned long long)at->l.op.obs.task->id);
	c->in_len = 0;
	c->eof = true;
	attach_input(c);
}

/* Nobody reads the output any more: the connection ends (the output stays
 * in the ring). */
static bool attach_hangup(struct conn *c, bool may_keep)
{
	(void)may_keep;
	attach_drop_input(c);
	return false;
}

/* An input-only peer's close means "every byte, then end of input" (it may
 * not be able to half-close): handed on while the agent may keep it. */
static bool input_only_hangup(struct conn *c, bool may_keep)
{
	if (may_keep)
		return true;
	attach_drop_input(c);
	return false;
}

/* After an attach the connection carries raw input: it ends with it. Its
 * writer gone however it went (a socket error, a reset, a close while the
 * agent's output to it was blocked), the task's stdin ends too, as a pipe's
 * does: a task that reads to the end would otherwise wait for ever. */
static void attach_release(struct conn *c)
{
	struct attach_op *at = c->op_state;
	struct task *t = at->l.op.obs.task;

	if (t && !at->stdin_closed) {
		at->stdin_closed = true;
		task_close_stdin(c->a, t);
	}
	c->closing = true;
	c->in_len = 0;
	task_op_release(c);
}

static const struct conn_op_ops attach_ops = {
    .pump = logs_pump, .release = attach_release, .input = attach_input, .hangup = attach_hangup};

/* attach --input-only: no output; done once the task's stdin is closed. */
static void input_only_pump(struct conn *c)
{
	struct attach_op *at = c->op_state;

	if (at->stdin_closed)
		conn_op_end(c);
}

static void input_only_notify(struct agent *a, struct task_observer *o, enum task_event ev)
{
	struct attach_op *at = container_of(o, struct attach_op, l.op.obs);

	(void)a;
	if (ev == TASK_EV_REMOVED)
		conn_op_end(at->l.op.c); /* stdin goes with the task */
	conn_kick_later(at->l.op.c);
}

static const struct conn_op_ops input_only_ops = {.pump = input_only_pump,
						  .release = attach_release,
						  .input = attach_input,
						  .hangup = input_only_hangup};

static void verb_attach(struct conn *c, int argc, char **argv)
{
	bool framed = false, from_start = false, lossless = false, input_only = false;
	char buf[128];
	struct jw w;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--framed"))
			framed = true;
		else if (!strcmp(argv[i], "--from-start"))
			from_start = true;
		else if (!strcmp(argv[i], "--lossless"))
			lossless = true;
		else if (!strcmp(argv[i], "--input-only"))
			input_only = true;
		else {
			conn_queue_error(
			    c, "bad_argument",
			    "usage: attach TASK [--framed] [--from-start] [--lossless] "
			    "[--input-only]");
			return;
		}
	}
	struct task *t = find_or_error(c, argv[0]);
	if (!t)
		return;
	struct attach_op *at = calloc(1, sizeof(*at));
	if (!at) {
		conn_queue_error(c, "no_memory", "out of memory");
		return;
	}
	if (from_start)
		ringlog_seek_oldest(t->ring, &at->l.cur, TASK_STREAMS);
	else
		ringlog_seek_newest(t->ring, &at->l.cur, TASK_STREAMS);
	jw_init(&w, buf, sizeof(buf));
	reply_ok_open(&w);
	jw_key(&w, "attached");
	jw_u64(&w, t->id);
	jw_obj_close(&w);
	conn_queue_reply(c, &w);
	at->l.op.c = c;
	at->l.follow = true;
	at->l.framed = framed;
	at->l.op.obs.notify = input_only ? input_only_notify : logs_notify;
	at->l.op.obs.hold = lossless && !input_only ? &at->l.cur : NULL;
	task_observe(t, &at->l.op.obs);
	conn_op_begin(c, input_only ? &input_only_ops : &attach_ops, at);
}

static const struct verb verbs[] = {
    {"run",
     "run [--name N] [--env K=V] [--unset K] [--clean-env] [--cwd DIR] [--user U] [--group G] "
     "[--groups G,G] [--umask 022] [--rlimit NAME=SOFT[:HARD]] [--no-new-privs] "
     "[--stdin null|pipe|pty] [--pty-size COLSxROWS] [--ring-size BYTES] [--seccomp default] "
     "[--seccomp-allow S,S] "
     "[--seccomp-deny S,S] [--memory-max BYTES] [--pids-max N] [--cpu-max QUOTA[/PERIOD]] "
     "[--] COMMAND [ARGS...]",
     1, REQUEST_MAX_ARGS - 1, true, verb_run},
    {"ps", "ps [TASK]", 0, 1, false, verb_ps},
    {"wait", "wait TASK  (replies when the exit is published)", 1, 1, false, verb_wait},
    {"kill", "kill TASK [SIGNAL] [--pid]  (default TERM, to the process group)", 1, 3, false,
     verb_kill},
    {"logs",
     "logs TASK [--stream stdout|stderr|pty|all] [--from OFFSET | --seq SEQ] [--follow] "
     "[--framed] [--lossless]",
     1, 9, false, verb_logs},
    {"stdin", "stdin TASK DATA | stdin TASK --close", 2, 2, false, verb_stdin},
    {"rm", "rm TASK  (an exited task and its output)", 1, 1, false, verb_rm},
    {"events", "events  (a stream of task started/exited/removed events; never ends)", 0, 0, false,
     verb_events},
    {"stats", "stats [TASK]  (agent memory, ring budget, a task's CPU and memory)", 0, 1, false,
     verb_stats},
    {"attach",
     "attach TASK [--framed] [--from-start] [--lossless] [--input-only]  (then: raw bytes in "
     "go to its stdin, its output comes out, until it exits)",
     1, 5, true, verb_attach},
    {"resize", "resize TASK COLS ROWS  (a pty task's window)", 3, 3, false, verb_resize},
};

const struct verb *task_verbs(size_t *n)
{
	*n = sizeof(verbs) / sizeof(verbs[0]);
	return verbs;
}
