/* Request dispatch and the agent-wide verbs. Task verbs: task_verbs.c. */
#include <stdio.h>
#include <string.h>

#include "vsock/conn.h"

void reply_ok_open(struct jw *w)
{
	jw_obj_open(w);
	jw_key(w, "ok");
	jw_bool(w, true);
}

static void verb_ping(struct conn *c, int argc, char **argv)
{
	char buf[64];
	struct jw w;

	(void)argc, (void)argv;
	jw_init(&w, buf, sizeof(buf));
	reply_ok_open(&w);
	jw_key(&w, "pong");
	jw_bool(&w, true);
	jw_obj_close(&w);
	conn_queue_reply(c, &w);
}

static const char *mode_name(enum agent_mode m)
{
	return m == MODE_VM ? "vm" : m == MODE_NAMESPACE ? "namespace" : "subreaper";
}

static void verb_version(struct conn *c, int argc, char **argv)
{
	char buf[256];
	struct jw w;

	(void)argc, (void)argv;
	jw_init(&w, buf, sizeof(buf));
	reply_ok_open(&w);
	jw_key(&w, "version");
	jw_str(&w, TASKINIT_VERSION);
	jw_key(&w, "protocol");
	jw_u64(&w, PROTOCOL_VERSION);
	jw_key(&w, "mode");
	jw_str(&w, mode_name(c->a->mode));
	jw_obj_close(&w);
	conn_queue_reply(c, &w);
}

static void verb_boot(struct conn *c, int argc, char **argv)
{
	struct agent *a = c->a;
	char buf[REPLY_MAX];
	struct jw w;

	(void)argc, (void)argv;
	jw_init(&w, buf, sizeof(buf));
	reply_ok_open(&w);
	jw_key(&w, "exec_ns");
	jw_u64(&w, a->t_exec_ns);
	jw_key(&w, "events");
	jw_arr_open(&w);
	for (unsigned i = 0; i < a->n_boot; i++) {
		jw_obj_open(&w);
		jw_key(&w, "t_ns");
		jw_u64(&w, a->boot[i].t_ns);
		jw_key(&w, "what");
		jw_str(&w, a->boot[i].what);
		jw_obj_close(&w);
	}
	jw_arr_close(&w);
	jw_obj_close(&w);
	conn_queue_reply(c, &w);
}

static void verb_shutdown(struct conn *c, int argc, char **argv)
{
	enum shutdown_action act = SD_POWEROFF;
	char buf[128], why[96];
	struct jw w;

	if (argc == 1 && !strcmp(argv[0], "--reboot")) {
		act = SD_REBOOT;
	} else if (argc == 1 && strcmp(argv[0], "--poweroff") != 0) {
		conn_queue_error(c, "bad_argument", "usage: shutdown [--reboot|--poweroff]");
		return;
	}
	jw_init(&w, buf, sizeof(buf));
	reply_ok_open(&w);
	jw_key(&w, "action");
	jw_str(&w, shutdown_action_name(act));
	jw_obj_close(&w);
	conn_queue_reply(c, &w);
	/* The reply goes out before the shutdown starts closing things. */
	if (conn_flush(c) < 0)
		return;
	snprintf(why, sizeof(why), "shutdown requested by %s", c->peer);
	agent_shutdown(c->a, act, why);
}

static void verb_help(struct conn *c, int argc, char **argv);

static const struct verb core_verbs[] = {
    {"help", "help", 0, 0, false, verb_help},
    {"ping", "ping", 0, 0, false, verb_ping},
    {"version", "version", 0, 0, false, verb_version},
    {"boot", "boot  (the boot timeline, CLOCK_BOOTTIME ns)", 0, 0, false, verb_boot},
    {"shutdown", "shutdown [--reboot|--poweroff]", 0, 1, true, verb_shutdown},
};

#define N_CORE (sizeof(core_verbs) / sizeof(core_verbs[0]))

static const struct verb *core_table(size_t *n)
{
	*n = N_CORE;
	return core_verbs;
}

/* Each verb module hands out its table; help lists them in this order. */
static const struct verb *(*const verb_tables[])(size_t *n) = {
    core_table, task_verbs, file_verbs, sys_verbs, net_verbs,
};

#define N_TABLES (sizeof(verb_tables) / sizeof(verb_tables[0]))

static void verb_help(struct conn *c, int argc, char **argv)
{
	char buf[REPLY_MAX];
	struct jw w;

	(void)argc, (void)argv;
	jw_init(&w, buf, sizeof(buf));
	reply_ok_open(&w);
	jw_key(&w, "verbs");
	jw_arr_open(&w);
	for (size_t t = 0; t < N_TABLES; t++) {
		size_t n;
		const struct verb *v = verb_tables[t](&n);

		for (size_t i = 0; i < n; i++)
			jw_str(&w, v[i].usage);
	}
	jw_arr_close(&w);
	jw_obj_close(&w);
	conn_queue_reply(c, &w);
}

static const struct verb *find_verb(const char *name)
{
	for (size_t t = 0; t < N_TABLES; t++) {
		size_t n;
		const struct verb *v = verb_tables[t](&n);

		for (size_t i = 0; i < n; i++)
			if (!strcmp(v[i].name, name))
				return &v[i];
	}
	return NULL;
}

void verbs_handle_line(struct conn *c, char *line, size_t len)
{
	char *argv[REQUEST_MAX_ARGS];
	const char *err;
	char msg[160];
	int argc = request_parse(line, len, argv, REQUEST_MAX_ARGS, &err);

	if (argc == 0)
		return;
	c->requests++;
	if (argc < 0) {
		conn_queue_error(c, "bad_request", err);
		return;
	}
	const struct verb *v = find_verb(argv[0]);
	if (!v) {
		snprintf(msg, sizeof(msg), "unknown verb \"%.64s\" (try: help)", argv[0]);
		conn_queue_error(c, "unknown_verb", msg);
		return;
	}
	if (argc - 1 < v->min_args || argc - 1 > v->max_args) {
		snprintf(msg, sizeof(msg), "usage: %s", v->usage);
		conn_queue_error(c, "bad_argument", msg);
		return;
	}
	if (v->starts_work && c->a->sd_phase != SD_NONE) {
		conn_queue_error(c, "shutting_down", "shutdown in progress");
		return;
	}
	v->fn(c, argc - 1, argv + 1);
}
