/* taskctl's one-reply commands and their output for people: a ps table, a
 * task's details, the boot timeline, `key: value` for the rest. With
 * --json every command prints the agent's reply line as it came. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vsock/taskctl.h"

/* ---- pieces ---- */

/* Every string of the guest's (names, argv, messages, file names, keys)
 * reaches the human output here: escaped, so a guest cannot drive the
 * operator's terminal (tc_escape_text). --json output and the raw
 * streams of exec, logs and attach never pass here. */
static void put_text(const char *s, size_t len)
{
	char small[512];
	size_t need = tc_escape_text(s, len, small, sizeof(small));

	if (need < sizeof(small)) {
		fwrite(small, 1, need, stdout);
		return;
	}
	char *big = malloc(need + 1);
	if (big)
		tc_escape_text(s, len, big, need + 1);
	fputs(big ? big : small, stdout);
	free(big);
}

static void put_str(const char *s)
{
	put_text(s, strlen(s));
}

/* Escaped, then padded with spaces to width. */
static void put_padded(const char *s, size_t len, int width)
{
	size_t shown = tc_escape_text(s, len, NULL, 0);

	put_text(s, len);
	for (size_t i = shown; (int)i < width; i++)
		putchar(' ');
}

/* A string value (or dflt when v is none), escaped and padded. */
static void put_field(const struct tj *v, const char *dflt, int width)
{
	if (v && v->type == TJ_STR)
		put_padded(v->str, v->len, width);
	else
		put_padded(dflt, strlen(dflt), width);
}

static int shown_width(const struct tj *v)
{
	size_t n = v && v->type == TJ_STR ? tc_escape_text(v->str, v->len, NULL, 0) : 0;

	return n > 255 ? 255 : (int)n;
}

static void print_scalar(const struct tj *v)
{

	switch (v->type) {
	case TJ_NULL:
		fputs("-", stdout);
		break;
	case TJ_BOOL:
		fputs(v->b ? "yes" : "no", stdout);
		break;
	case TJ_NUM:
		if (v->is_int)
			printf("%" PRId64, v->i);
		else
			printf("%g", v->num);
		break;
	case TJ_STR:
		put_text(v->str, v->len);
		break;
	default:
		break;
	}
}

static bool all_scalars(const struct tj *arr)
{
	for (const struct tj *m = arr->child; m; m = m->next)
		if (m->type == TJ_OBJ || m->type == TJ_ARR)
			return false;
	return true;
}

/* key: value for every leaf, nested keys joined with dots. */
static void print_flat(const struct tj *v, const char *prefix)
{
	char key[256];
	int i = 0;

	for (const struct tj *m = v->child; m; m = m->next, i++) {
		if (v->type == TJ_OBJ && !*prefix && !strcmp(m->key, "ok"))
			continue;
		if (v->type == TJ_OBJ)
			snprintf(key, sizeof(key), "%s%s%s", prefix, *prefix ? "." : "", m->key);
		else
			snprintf(key, sizeof(key), "%s[%d]", prefix, i);
		if (m->type == TJ_OBJ) {
			print_flat(m, key);
		} else if (m->type == TJ_ARR && all_scalars(m)) {
			put_str(key);
			putchar(':');
			for (const struct tj *e = m->child; e; e = e->next) {
				putchar(' ');
				print_scalar(e);
			}
			putchar('\n');
		} else if (m->type == TJ_ARR) {
			print_flat(m, key);
		} else {
			put_str(key);
			fputs(": ", stdout);
			print_scalar(m);
			putchar('\n');
		}
	}
}

/* The command line of a task, words joined by spaces, escaped; with max,
 * cut to at most max bytes of it, then "...". */
static void print_argv(const struct tj *task, size_t max)
{
	size_t shown = 0;

	for (const struct tj *a = tj_get(task, "argv") ? tj_get(task, "argv")->child : NULL; a;
	     a = a->next) {
		if (a->type != TJ_STR)
			continue;
		if (shown)
			putchar(' '), shown++;
		size_t need = tc_escape_text(a->str, a->len, NULL, 0);
		if (max && shown + need > max) {
			size_t room = max > shown ? max - shown : 0;
			char *cut = malloc(room + 1);
			if (cut) {
				/* whole escapes and characters only */
				tc_escape_text(a->str, a->len, cut, room + 1);
				fputs(cut, stdout);
				free(cut);
			}
			fputs("...", stdout);
			return;
		}
		put_text(a->str, a->len);
		shown += need;
	}
}

/* "exited with code 3", "killed by signal TERM (status 143)", ... */
static void describe_exit(const struct tj *task, char *out, size_t cap)
{
	const struct tj *e = tj_get(task, "exit"), *ee = tj_get(task, "exec_error");
	int64_t status = tj_int(tj_get(e, "status"), -1);

	if (!e || e->type != TJ_OBJ)
		snprintf(out, cap, "%s", tj_str(tj_get(task, "state"), "?"));
	else if (ee)
		snprintf(out, cap, "exec failed: %s (status %" PRId64 ")",
			 tj_str(tj_get(ee, "message"), "?"), status);
	else if (tj_get(e, "signal") && tj_get(e, "signal")->type == TJ_NUM)
		snprintf(out, cap, "killed by signal %s (status %" PRId64 ")%s%s",
			 tj_str(tj_get(e, "signal_name"), "?"), status,
			 tj_is_true(tj_get(e, "core_dumped")) ? ", core dumped" : "",
			 tj_is_true(tj_get(e, "oom_killed")) ? ", OOM-killed" : "");
	else
		snprintf(out, cap, "exited with code %" PRId64 "%s", status,
			 tj_is_true(tj_get(e, "oom_killed")) ? ", OOM-killed" : "");
}

/* The short form for the ps table. */
static void short_status(const struct tj *task, char *out, size_t cap)
{
	const struct tj *e = tj_get(task, "exit");

	if (!e || e->type != TJ_OBJ)
		snprintf(out, cap, "-");
	else if (tj_get(e, "signal") && tj_get(e, "signal")->type == TJ_NUM)
		snprintf(out, cap, "SIG%s", tj_str(tj_get(e, "signal_name"), "?"));
	else
		snprintf(out, cap, "%" PRId64, tj_int(tj_get(e, "status"), -1));
}

static void print_duration_ns(int64_t ns)
{
	if (ns < 1000000000)
		printf("%.3f ms", (double)ns / 1e6);
	else
		printf("%.3f s", (double)ns / 1e9);
}

static void print_utc(int64_t ns)
{
	time_t s = (time_t)(ns / 1000000000);
	struct tm tm;
	char buf[64];

	if (gmtime_r(&s, &tm) && strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S", &tm))
		printf("%s.%03d UTC", buf, (int)(ns / 1000000 % 1000));
	else
		printf("%" PRId64 " ns", ns);
}

/* ---- ps ---- */

static void print_ps_table(const struct tj *tasks)
{
	int wname = 4;

	for (const struct tj *t = tasks ? tasks->child : NULL; t; t = t->next) {
		int n = shown_width(tj_get(t, "name"));
		wname = n > wname ? n : wname;
	}
	printf("%-5s %-*s %-8s %-7s %-8s %s\n", "ID", wname, "NAME", "STATE", "PID", "STATUS",
	       "COMMAND");
	for (const struct tj *t = tasks ? tasks->child : NULL; t; t = t->next) {
		char status[64];
		short_status(t, status, sizeof(status));
		printf("%-5" PRId64 " ", tj_int(tj_get(t, "id"), 0));
		put_field(tj_get(t, "name"), "", wname);
		putchar(' ');
		put_field(tj_get(t, "state"), "", 8);
		printf(" %-7" PRId64 " ", tj_int(tj_get(t, "pid"), 0));
		put_padded(status, strlen(status), 8);
		putchar(' ');
		print_argv(t, 60);
		putchar('\n');
	}
}

static void print_task(const struct tj *t)
{
	const struct tj *e = tj_get(t, "exit"), *ring = tj_get(t, "ring");
	char what[256];

	printf("id: %" PRId64 "\nname: ", tj_int(tj_get(t, "id"), 0));
	put_field(tj_get(t, "name"), "", 0);
	fputs("\nstate: ", stdout);
	put_field(tj_get(t, "state"), "", 0);
	printf("\npid: %" PRId64 "\ncommand: ", tj_int(tj_get(t, "pid"), 0));
	print_argv(t, 0);
	describe_exit(t, what, sizeof(what));
	fputs("\nstatus: ", stdout);
	put_str(what);
	fputs("\nstarted: ", stdout);
	print_utc(tj_int(tj_get(t, "start_real_ns"), 0));
	putchar('\n');
	if (e && e->type == TJ_OBJ) {
		printf("ran: ");
		print_duration_ns(tj_int(tj_get(e, "end_boot_ns"), 0) -
				  tj_int(tj_get(t, "start_boot_ns"), 0));
		printf("\ncpu: user ");
		print_duration_ns(tj_int(tj_get(e, "cpu_user_ns"), 0));
		printf(", sys ");
		print_duration_ns(tj_int(tj_get(e, "cpu_sys_ns"), 0));
		printf("\nmax rss: %" PRId64 " KiB\n", tj_int(tj_get(e, "max_rss_kib"), 0));
	}
	printf("output:");
	for (const struct tj *o = tj_get(t, "offsets") ? tj_get(t, "offsets")->child : NULL; o;
	     o = o->next) {
		putchar(' ');
		put_str(o->key);
		printf(" %" PRId64 " bytes%s", tj_int(o, 0), o->next ? "," : "");
	}
	printf("\nring: %" PRId64 " of %" PRId64 " bytes used, %" PRId64 " bytes dropped\n",
	       tj_int(tj_get(ring, "used"), 0), tj_int(tj_get(ring, "capacity"), 0),
	       tj_int(tj_get(ring, "dropped_bytes"), 0));
}

/* ---- per verb ---- */

static int show_wait(const struct tj *reply)
{
	const struct tj *t = tj_get(reply, "task");
	char what[256];

	describe_exit(t, what, sizeof(what));
	put_field(tj_get(t, "name"), "", 0);
	printf(" (%" PRId64 "): ", tj_int(tj_get(t, "id"), 0));
	put_str(what);
	putchar('\n');
	return tj_int(tj_get(tj_get(t, "exit"), "status"), 1) == 0 ? TC_EXIT_OK
								   : TC_EXIT_TASK_FAILED;
}

static void show_boot(const struct tj *reply)
{
	int64_t exec_ns = tj_int(tj_get(reply, "exec_ns"), 0);
	const struct tj *ev = tj_get(reply, "events");

	printf("taskinit started %.3f ms after the kernel\n", (double)exec_ns / 1e6);
	for (const struct tj *e = ev ? ev->child : NULL; e; e = e->next) {
		printf("%10.3f ms  +%8.3f ms  ", (double)tj_int(tj_get(e, "t_ns"), 0) / 1e6,
		       (double)(tj_int(tj_get(e, "t_ns"), 0) - exec_ns) / 1e6);
		put_field(tj_get(e, "what"), "", 0);
		putchar('\n');
	}
}

static double mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void show(const char *verb, int nargs, const struct tj *reply, double ms)
{
	if (!strcmp(verb, "ps") && nargs == 0) {
		print_ps_table(tj_get(reply, "tasks"));
	} else if (!strcmp(verb, "ps")) {
		print_task(tj_get(reply, "task"));
	} else if (!strcmp(verb, "boot")) {
		show_boot(reply);
	} else if (!strcmp(verb, "ping")) {
		printf("pong (%.3f ms)\n", ms);
	} else if (!strcmp(verb, "help")) {
		const struct tj *v = tj_get(reply, "verbs");
		for (const struct tj *e = v ? v->child : NULL; e; e = e->next) {
			put_field(e, "", 0);
			putchar('\n');
		}
	} else if (!strcmp(verb, "version")) {
		printf("taskctl: %s\n", TASKINIT_VERSION);
		print_flat(reply, "");
	} else {
		/* kill, rm, resize, stdin --close answer a bare ok: nothing to say */
		print_flat(reply, "");
	}
}

int tc_command(struct tc *t, const char *verb, char **args, int nargs)
{
	struct tj *reply;
	char *raw = NULL;
	double t0 = mono_ms();
	int rc = tc_call(t, verb, args, nargs, &reply, &raw);
	double ms = mono_ms() - t0;

	if (rc)
		return rc;
	if (t->json && raw)
		printf("%s\n", raw);
	const char *error = tj_str(tj_get(reply, "error"), NULL);
	if (!tj_is_true(tj_get(reply, "ok"))) {
		/* run's exec failure is the task failing, not a refusal */
		rc = error && !strcmp(error, "exec_failed")
			 ? tc_fail(TC_EXIT_TASK_FAILED, "%s",
				   tj_str(tj_get(reply, "message"), "exec failed"))
			 : tc_reply_error(reply);
	} else if (!strcmp(verb, "wait")) {
		rc = t->json
			 ? (tj_int(tj_get(tj_get(tj_get(reply, "task"), "exit"), "status"), 1) == 0
				? TC_EXIT_OK
				: TC_EXIT_TASK_FAILED)
			 : show_wait(reply);
	} else if (!t->json) {
		show(verb, nargs, reply, ms);
	}
	fflush(stdout);
	free(raw);
	tj_free(reply);
	return rc;
}

/* ---- events ---- */

static void print_event(const struct tj *e)
{
	const char *what = tj_str(tj_get(e, "event"), NULL);

	if (!what)
		what = "?";

	if (!strcmp(what, "missed")) {
		printf("missed %" PRId64 " events (this client read too slowly)\n",
		       tj_int(tj_get(e, "count"), 0));
		return;
	}
	put_field(tj_get(e, "event"), "?", 11);
	printf(" %-5" PRId64 " ", tj_int(tj_get(e, "id"), 0));
	put_field(tj_get(e, "name"), "", 0);
	printf(" pid %" PRId64, tj_int(tj_get(e, "pid"), 0));
	if (!strcmp(what, "exited")) {
		char d[256];
		describe_exit(e, d, sizeof(d));
		fputs(": ", stdout);
		put_str(d);
	} else if (tj_get(e, "exec_error")) {
		fputs(": ", stdout);
		put_field(tj_get(tj_get(e, "exec_error"), "message"), "?", 0);
	}
	putchar('\n');
}

int tc_events(struct tc *t)
{
	struct tc_conn c;
	int rc = tc_connect(t, &t->addr, &c);

	if (rc)
		return rc;
	if (tc_send_request(&c, "events", NULL, 0) < 0) {
		tc_close(&c);
		return TC_EXIT_CONNECT;
	}
	for (bool first = true;; first = false) {
		size_t len;
		const char *err;
		char *line = tc_read_line(&c, &len);
		if (!line) {
			rc = tc_fail(TC_EXIT_CONNECT, "the event stream ended (connection lost)");
			break;
		}
		struct tj *e = tj_parse(line, len, &err);
		if (!e) {
			rc = tc_fail(TC_EXIT_CONNECT, "unreadable event (%s)", err);
			break;
		}
		if (t->json)
			printf("%s\n", line);
		if (first && !tj_is_true(tj_get(e, "ok"))) {
			rc = tc_reply_error(e);
			tj_free(e);
			break;
		}
		if (!first && !t->json)
			print_event(e);
		fflush(stdout);
		tj_free(e);
	}
	tc_close(&c);
	return rc;
}
