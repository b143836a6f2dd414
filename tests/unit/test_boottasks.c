/* Unit tests for the boot file parser, the command splitter and the
 * restart policy (tasks/boottasks.c). */
#include "tasks/boottasks.h"

#include <stdlib.h>
#include <string.h>

#include "tests/unit/check.h"

#define MAX_ERRS 64

struct errs {
	int n;
	unsigned line[MAX_ERRS];
	bool dropped[MAX_ERRS];
	char msg[MAX_ERRS][256];
};

static void on_err(void *ctx, unsigned line, bool dropped, const char *msg)
{
	struct errs *e = ctx;

	if (e->n >= MAX_ERRS)
		return;
	e->line[e->n] = line;
	e->dropped[e->n] = dropped;
	snprintf(e->msg[e->n], sizeof(e->msg[0]), "%s", msg);
	e->n++;
}

static unsigned parse(const char *text, struct bt_file *f, struct errs *e)
{
	memset(e, 0, sizeof(*e));
	return bt_parse(text, strlen(text), f, on_err, e);
}

static int split(const char *s, char **argv, const char **why)
{
	return bt_split_command(s, argv, TASK_MAX_ARGS, why);
}

static void free_argv(char **argv, int n)
{
	for (int i = 0; i < n; i++)
		free(argv[i]);
}

static void test_split_words_and_quotes(void)
{
	char *argv[TASK_MAX_ARGS + 1];
	const char *why;
	int n = split("  /bin/prog  -x\t'a b' \"c \\\"d\\\" \\\\ \\n\" e\\ f g'h'\"i\" '' \"\" ",
		      argv, &why);

	CHECK_EQ_INT(n, 8);
	CHECK(why == NULL);
	CHECK_EQ_STR(argv[0], "/bin/prog");
	CHECK_EQ_STR(argv[1], "-x");
	CHECK_EQ_STR(argv[2], "a b");
	CHECK_EQ_STR(argv[3], "c \"d\" \\ \\n"); /* only \" and \\ are escapes in "" */
	CHECK_EQ_STR(argv[4], "e f");
	CHECK_EQ_STR(argv[5], "ghi");
	CHECK_EQ_STR(argv[6], "");
	CHECK_EQ_STR(argv[7], "");
	CHECK(argv[8] == NULL);
	free_argv(argv, n);

	n = split("'$HOME \\x \"' # not a comment", argv, &why);
	CHECK_EQ_INT(n, 5);
	CHECK_EQ_STR(argv[0], "$HOME \\x \"");
	CHECK_EQ_STR(argv[1], "#");
	free_argv(argv, n);

	CHECK_EQ_INT(split("   ", argv, &why), 0);
	CHECK(argv[0] == NULL);
}

static void test_split_errors(void)
{
	char *argv[TASK_MAX_ARGS + 1];
	const char *why;

	CHECK_EQ_INT(split("a 'b", argv, &why), -1);
	CHECK_EQ_STR(why, "unterminated single quote");
	CHECK_EQ_INT(split("a \"b\\\"", argv, &why), -1);
	CHECK_EQ_STR(why, "unterminated double quote");
	CHECK_EQ_INT(split("a b\\", argv, &why), -1);
	CHECK_EQ_STR(why, "backslash at the end of the command");
	CHECK_EQ_INT(bt_split_command("a b c", argv, 2, &why), -1);
	CHECK_EQ_STR(why, "too many words in the command");
	CHECK_EQ_INT(bt_split_command("a b", argv, 2, &why), 2);
	free_argv(argv, 2);
}

static void test_parse_full_task(void)
{
	struct bt_file f;
	struct errs e;
	const char *text = "# boot tasks\n"
			   "; also a comment\n"
			   "\n"
			   "[web]\n"
			   "  command =  /usr/bin/web --port 8080 'x y'  \n"
			   "env = PORT=8080\n"
			   "env=EMPTY=\n"
			   "env = UNSETME\n"
			   "clean_env = yes\n"
			   "cwd = /srv/web\n"
			   "user = www-data\n"
			   "group = 33\n"
			   "restart = on-failure\n"
			   "ring_size = 64K\n"
			   "backoff_ms = 250\n"
			   "backoff_max_ms = 5000\n"
			   "reset_after_s = 0\n"
			   "start_limit = 0\n"
			   "start_window_s = 3600\n"
			   "[plain]\n"
			   "command=/bin/true";

	CHECK_EQ_INT(parse(text, &f, &e), 0);
	CHECK_EQ_INT(e.n, 0);
	CHECK_EQ_INT(f.n, 2);
	struct bt_task *t = &f.tasks[0];
	CHECK_EQ_STR(t->name, "web");
	CHECK_EQ_INT(t->line, 4);
	CHECK_EQ_INT(t->argc, 4);
	CHECK_EQ_STR(t->argv[0], "/usr/bin/web");
	CHECK_EQ_STR(t->argv[3], "x y");
	CHECK(t->argv[4] == NULL);
	CHECK_EQ_INT(t->n_env, 3);
	CHECK_EQ_STR(t->env[0], "PORT=8080");
	CHECK_EQ_STR(t->env[1], "EMPTY=");
	CHECK_EQ_STR(t->env[2], "UNSETME");
	CHECK(t->clean_env);
	CHECK_EQ_STR(t->cwd, "/srv/web");
	CHECK_EQ_STR(t->user, "www-data");
	CHECK_EQ_STR(t->group, "33");
	CHECK_EQ_INT(t->restart, BT_ON_FAILURE);
	CHECK_EQ_INT(t->ring_size, 65536);
	CHECK_EQ_INT(t->backoff_ms, 250);
	CHECK_EQ_INT(t->backoff_max_ms, 5000);
	CHECK_EQ_INT(t->reset_after_s, 0);
	CHECK_EQ_INT(t->start_limit, 0);
	CHECK_EQ_INT(t->start_window_s, 3600);

	t = &f.tasks[1];
	CHECK_EQ_STR(t->name, "plain");
	CHECK_EQ_INT(t->argc, 1);
	CHECK(!t->clean_env && !t->cwd && !t->user && !t->group && t->n_env == 0);
	CHECK_EQ_INT(t->restart, BT_NEVER);
	CHECK_EQ_INT(t->ring_size, 0);
	CHECK_EQ_INT(t->backoff_ms, 100);
	CHECK_EQ_INT(t->backoff_max_ms, 30000);
	CHECK_EQ_INT(t->reset_after_s, 10);
	CHECK_EQ_INT(t->start_limit, 5);
	CHECK_EQ_INT(t->start_window_s, 10);
	bt_file_free(&f);
	CHECK_EQ_INT(f.n, 0);
}

static void test_parse_crlf_and_empty(void)
{
	struct bt_file f;
	struct errs e;

	CHECK_EQ_INT(parse("[a]\r\ncommand = /bin/x 1\r\nrestart = always\r\n", &f, &e), 0);
	CHECK_EQ_INT(f.n, 1);
	CHECK_EQ_STR(f.tasks[0].argv[1], "1");
	CHECK_EQ_INT(f.tasks[0].restart, BT_ALWAYS);
	bt_file_free(&f);
	CHECK_EQ_INT(parse("", &f, &e), 0);
	CHECK_EQ_INT(f.n, 0);
	CHECK_EQ_INT(parse("\n\n# only comments\n", &f, &e), 0);
	CHECK_EQ_INT(f.n, 0);
}

/* Which task names survived, comma-joined. */
static const char *names(const struct bt_file *f)
{
	static char buf[1024];
	size_t n = 0;

	buf[0] = 0;
	for (int i = 0; i < f->n; i++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s%s", i ? "," : "",
				      f->tasks[i].name);
	return buf;
}

static void test_parse_errors_with_line_numbers(void)
{
	struct bt_file f;
	struct errs e;
	const char *text = "stray = 1\n"		      /* 1: outside, ignored */
			   "[ok1]\n"			      /* 2 */
			   "command = /bin/a\n"		      /* 3 */
			   "colour = blue\n"		      /* 4: unknown, kept */
			   "[badrestart]\n"		      /* 5 */
			   "command = /bin/b\n"		      /* 6 */
			   "restart = sometimes\n"	      /* 7: dropped */
			   "[nocmd]\n"			      /* 8: dropped at its end */
			   "restart = always\n"		      /* 9 */
			   "[ok1]\n"			      /* 10: duplicate */
			   "command = /bin/dup\n"	      /* 11: skipped silently */
			   "[123]\n"			      /* 12: bad name */
			   "[bad name]\n"		      /* 13: bad name */
			   "[unclosed\n"		      /* 14 */
			   "[twice]\n"			      /* 15 */
			   "command = /bin/c\n"		      /* 16 */
			   "command = /bin/d\n"		      /* 17: given twice */
			   "[garbage]\n"		      /* 18 */
			   "command = /bin/e\n"		      /* 19 */
			   "just words\n"		      /* 20: dropped */
			   "[values]\n"			      /* 21 */
			   "command = /bin/f\n"		      /* 22 */
			   "ring_size = 1000\n"		      /* 23: too small */
			   "[backoff]\n"		      /* 24: max < first */
			   "command = /bin/g\n"		      /* 25 */
			   "backoff_ms = 500\n"		      /* 26 */
			   "backoff_max_ms = 100\n"	      /* 27 */
			   "[ok2]\n"			      /* 28 */
			   "command = /bin/h 'unterminated\n" /* 29: dropped */
			   "[ok3]\n"			      /* 30 */
			   "command = /bin/ok3\n"	      /* 31 */
			   "= value\n"			      /* 32: no key */
			   "[ok4]\n"			      /* 33 */
			   "cwd = relative\n"		      /* 34 */
			   "command = /bin/ok4\n"	      /* 35 */
			   "[ok5]\n"			      /* 36 */
			   "command = /bin/ok5\n"	      /* 37 */
			   "start_limit = 101\n"	      /* 38 */
			   "[ok6]\n"			      /* 39 */
			   "command = /bin/ok6\n"	      /* 40 */
			   "start_window_s = 0\n"	      /* 41 */
			   "[last]\n"			      /* 42 */
			   "command = /bin/last\n";	      /* 43 */

	unsigned n = parse(text, &f, &e);
	CHECK_EQ_INT(n, (unsigned)e.n);
	CHECK_EQ_STR(names(&f), "ok1,last");
	static const struct {
		unsigned line;
		bool dropped;
		const char *msg;
	} want[] = {
	    {1, false, "\"stray\" outside any [name] section (ignored)"},
	    {4, false, "unknown key \"colour\" (ignored)"},
	    {7, true, "restart: expected never, on-failure or always, not \"sometimes\""},
	    {8, true, "task \"nocmd\" has no command"},
	    {10, true, "task \"ok1\" is already declared on line 2"},
	    {12, true, "bad task name \"123\": 1-63 of [A-Za-z0-9._-], not all digits"},
	    {13, true, "bad task name \"bad name\": 1-63 of [A-Za-z0-9._-], not all digits"},
	    {14, true, "section header without a closing ]"},
	    {17, true, "command given twice"},
	    {20, true, "expected key = value or [name]"},
	    {23, true, "ring_size: expected 4096 to 1G bytes (K, M, G suffixes)"},
	    {24, true, "task \"backoff\": backoff_max_ms is below backoff_ms"},
	    {29, true, "command: unterminated single quote"},
	    {32, true, "a key is missing before ="},
	    {34, true, "cwd: expected an absolute path"},
	    {38, true, "start_limit: expected 0..100"},
	    {41, true, "start_window_s: expected 1..86400"},
	};
	CHECK_EQ_INT(e.n, sizeof(want) / sizeof(want[0]));
	for (unsigned i = 0; i < sizeof(want) / sizeof(want[0]) && i < (unsigned)e.n; i++) {
		CHECK_EQ_INT(e.line[i], want[i].line);
		CHECK_EQ_INT(e.dropped[i], want[i].dropped);
		CHECK_EQ_STR(e.msg[i], want[i].msg);
	}
	bt_file_free(&f);
}

static void test_parse_nul_byte_and_limits(void)
{
	struct bt_file f;
	struct errs e;
	const char text[] = "[a]\ncommand = /bin/a\0x\n[b]\ncommand = /bin/b\n";

	memset(&e, 0, sizeof(e));
	CHECK_EQ_INT(bt_parse(text, sizeof(text) - 1, &f, on_err, &e), 1);
	CHECK_EQ_INT(e.line[0], 2);
	CHECK_EQ_STR(e.msg[0], "NUL byte in the line");
	CHECK_EQ_STR(names(&f), "b");
	bt_file_free(&f);

	/* BT_MAX_TASKS + 1 tasks: the last is refused. */
	static char big[BT_MAX_TASKS * 64];
	size_t n = 0;
	for (int i = 0; i <= BT_MAX_TASKS; i++)
		n += (size_t)snprintf(big + n, sizeof(big) - n, "[t%d]\ncommand = /bin/x\n", i);
	CHECK_EQ_INT(parse(big, &f, &e), 1);
	CHECK_EQ_INT(f.n, BT_MAX_TASKS);
	CHECK_EQ_INT(e.line[0], 2 * BT_MAX_TASKS + 1);
	bt_file_free(&f);

	/* Too many env entries, and too many words. */
	n = (size_t)snprintf(big, sizeof(big), "[e]\ncommand = /bin/x\n");
	for (int i = 0; i <= TASK_MAX_ENV; i++)
		n += (size_t)snprintf(big + n, sizeof(big) - n, "env = K%d=v\n", i);
	CHECK_EQ_INT(parse(big, &f, &e), 1);
	CHECK_EQ_INT(f.n, 0);
	CHECK_EQ_INT(e.line[0], 3 + TASK_MAX_ENV);
	bt_file_free(&f);
	n = (size_t)snprintf(big, sizeof(big), "[w]\ncommand =");
	for (int i = 0; i <= TASK_MAX_ARGS; i++)
		n += (size_t)snprintf(big + n, sizeof(big) - n, " w");
	CHECK_EQ_INT(parse(big, &f, &e), 1);
	CHECK_EQ_STR(e.msg[0], "command: too many words in the command");
	bt_file_free(&f);
	/* A NULL callback is fine. */
	CHECK_EQ_INT(bt_parse("x", 1, &f, NULL, NULL), 1);
	bt_file_free(&f);
}

#define MS 1000000ull
#define S  1000000000ull

static struct bt_task policy_task(enum bt_restart r)
{
	struct bt_file f;
	struct errs e;
	struct bt_task t;

	parse("[p]\ncommand = /bin/x\n", &f, &e);
	t = f.tasks[0];
	t.argv = NULL; /* copied by value: free through f */
	t.argc = 0;
	bt_file_free(&f);
	t.restart = r;
	return t;
}

static void test_policy_never_and_on_failure(void)
{
	struct bt_policy_state s;
	struct bt_task t = policy_task(BT_NEVER);

	memset(&s, 0, sizeof(s));
	bt_policy_started(&t, &s, 0);
	CHECK_EQ_INT(bt_policy_on_exit(&t, &s, 1, 0, 1 * S), -1);
	t.restart = BT_ON_FAILURE;
	CHECK_EQ_INT(bt_policy_on_exit(&t, &s, 0, 0, 1 * S), -1);
	CHECK_EQ_INT(bt_policy_on_exit(&t, &s, 137, 0, 1 * S), 100);
	t.restart = BT_ALWAYS;
	CHECK_EQ_INT(bt_policy_on_exit(&t, &s, 0, 0, 1 * S), 200);
}

static void test_policy_backoff_cap_and_reset(void)
{
	struct bt_policy_state s;
	struct bt_task t = policy_task(BT_ALWAYS);
	uint64_t now = 0;
	const long want[] = {100, 200, 400, 800, 1000, 1000};

	t.start_limit = 0; /* no limit */
	t.backoff_max_ms = 1000;
	memset(&s, 0, sizeof(s));
	for (unsigned i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		bt_policy_started(&t, &s, now);
		long d = bt_policy_on_exit(&t, &s, 1, now, now + 10 * MS);
		CHECK_EQ_INT(d, want[i]);
		now += 10 * MS + (uint64_t)d * MS;
	}
	/* Up for reset_after_s: the delay starts over. */
	bt_policy_started(&t, &s, now);
	CHECK_EQ_INT(bt_policy_on_exit(&t, &s, 1, now, now + 10 * S), 100);
	CHECK_EQ_INT(bt_policy_on_exit(&t, &s, 1, now, now + 10 * S - 1), 200);
	/* A cap below the first delay is not reachable through the parser but
	 * is still honoured. */
	t.backoff_ms = 5000;
	memset(&s, 0, sizeof(s));
	CHECK_EQ_INT(bt_policy_on_exit(&t, &s, 1, 0, 0), 1000);
}

static void test_policy_rate_limit(void)
{
	struct bt_policy_state s;
	struct bt_task t = policy_task(BT_ON_FAILURE);

	t.start_limit = 3;
	t.start_window_s = 10;
	t.reset_after_s = 1000;
	memset(&s, 0, sizeof(s));
	bt_policy_started(&t, &s, 0);
	CHECK(bt_policy_on_exit(&t, &s, 1, 0, 1 * S) > 0);
	bt_policy_started(&t, &s, 2 * S);
	CHECK(bt_policy_on_exit(&t, &s, 1, 2 * S, 3 * S) > 0);
	bt_policy_started(&t, &s, 4 * S);
	/* Three starts within 10 s: give up. */
	CHECK_EQ_INT(bt_policy_on_exit(&t, &s, 1, 4 * S, 5 * S), -2);
	/* The oldest start left the window: allowed again. */
	CHECK(bt_policy_on_exit(&t, &s, 1, 4 * S, 10 * S) > 0);
	bt_policy_started(&t, &s, 11 * S);
	CHECK_EQ_INT(s.n_starts, 3);
	CHECK_EQ_INT(s.starts_ns[0], 2 * S);
	CHECK_EQ_INT(bt_policy_on_exit(&t, &s, 1, 11 * S, 11 * S + 1), -2);
	CHECK(bt_policy_on_exit(&t, &s, 1, 11 * S, 12 * S) > 0);
	/* A clean exit under on-failure is "not restarted", not "give up". */
	CHECK_EQ_INT(bt_policy_on_exit(&t, &s, 0, 11 * S, 11 * S + 1), -1);
}

static void test_restart_names(void)
{
	CHECK_EQ_STR(bt_restart_name(BT_NEVER), "never");
	CHECK_EQ_STR(bt_restart_name(BT_ON_FAILURE), "on-failure");
	CHECK_EQ_STR(bt_restart_name(BT_ALWAYS), "always");
}

int main(void)
{
	RUN(test_split_words_and_quotes);
	RUN(test_split_errors);
	RUN(test_parse_full_task);
	RUN(test_parse_crlf_and_empty);
	RUN(test_parse_errors_with_line_numbers);
	RUN(test_parse_nul_byte_and_limits);
	RUN(test_policy_never_and_on_failure);
	RUN(test_policy_backoff_cap_and_reset);
	RUN(test_policy_rate_limit);
	RUN(test_restart_names);
	return check_summary();
}
