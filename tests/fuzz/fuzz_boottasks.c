/* libFuzzer target for the boot file parser, the command splitter and the
 * restart policy (tasks/boottasks.c).
 *
 * The input is used three ways, both raw and expanded through a token table
 * (random bytes seldom spell a key):
 * 1. as a boot file for bt_parse: every kept task has a valid, unique name,
 *    a command, NUL-terminated strings, values in their documented ranges;
 *    the return value equals the number of reported problems, each with a
 *    line number inside the file and a non-empty message;
 * 2. as a command for bt_split_command: accepted words, re-quoted with
 *    single quotes and split again, come back the same;
 * 3. as a schedule of exits for the restart policy: delays stay between
 *    backoff_ms and backoff_max_ms, and no start_window_s window ever holds
 *    more than start_limit starts.
 * Every violation aborts. Runs with no corpus and no options. */
#include "tasks/boottasks.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/fuzz/require.h"

struct ctx {
	unsigned n, lines;
};

static void on_err(void *c, unsigned line, bool dropped, const char *msg)
{
	struct ctx *x = c;

	(void)dropped;
	REQUIRE(line >= 1 && line <= x->lines);
	REQUIRE(msg && *msg && strlen(msg) < 256);
	x->n++;
}

static bool name_ok(const char *s)
{
	size_t n = strlen(s);
	bool digits = true;

	if (n == 0 || n >= TASK_NAME_MAX)
		return false;
	for (; *s; s++) {
		if (!(strchr("-_.", *s) || (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9')))
			return false;
		if (*s < '0' || *s > '9')
			digits = false;
	}
	return !digits;
}

static void fuzz_parse(const char *text, size_t len)
{
	static struct bt_file f;
	struct ctx c = {0, 0};

	for (size_t i = 0; i < len; i++)
		c.lines += text[i] == '\n';
	if (len && text[len - 1] != '\n')
		c.lines++;
	unsigned n = bt_parse(text, len, &f, on_err, &c);
	REQUIRE(n == c.n);
	REQUIRE(f.n >= 0 && f.n <= BT_MAX_TASKS);
	for (int i = 0; i < f.n; i++) {
		const struct bt_task *t = &f.tasks[i];
		REQUIRE(name_ok(t->name));
		for (int j = 0; j < i; j++)
			REQUIRE(strcmp(f.tasks[j].name, t->name) != 0 && f.tasks[j].line < t->line);
		REQUIRE(t->line >= 1 && t->line <= c.lines);
		REQUIRE(t->argc >= 1 && t->argc <= TASK_MAX_ARGS && t->argv[t->argc] == NULL);
		for (int j = 0; j < t->argc; j++)
			(void)strlen(t->argv[j]);
		REQUIRE(t->n_env >= 0 && t->n_env <= TASK_MAX_ENV);
		for (int j = 0; j < t->n_env; j++)
			REQUIRE(t->env[j][0] && t->env[j][0] != '=');
		REQUIRE(!t->cwd || t->cwd[0] == '/');
		REQUIRE(!t->user || *t->user);
		REQUIRE(!t->group || *t->group);
		REQUIRE((unsigned)t->restart <= BT_ALWAYS);
		REQUIRE(strcmp(bt_restart_name(t->restart), "?") != 0);
		REQUIRE(t->ring_size == 0 || (t->ring_size >= 4096 && t->ring_size <= (1u << 30)));
		REQUIRE(t->backoff_ms >= 1 && t->backoff_ms <= t->backoff_max_ms);
		REQUIRE(t->backoff_max_ms <= 3600000);
		REQUIRE(t->reset_after_s <= 86400);
		REQUIRE(t->start_limit <= BT_MAX_START_LIMIT);
		REQUIRE(t->start_window_s >= 1 && t->start_window_s <= 86400);
	}
	bt_file_free(&f);
	REQUIRE(f.n == 0);
}

static void fuzz_split(const char *s)
{
	static char *argv[TASK_MAX_ARGS + 1], *again[TASK_MAX_ARGS + 1];
	const char *why;
	int n = bt_split_command(s, argv, TASK_MAX_ARGS, &why);

	if (n < 0) {
		REQUIRE(why && *why);
		return;
	}
	REQUIRE(why == NULL && argv[n] == NULL);
	/* Re-quote: 'word' with each ' written as '\'' */
	size_t cap = 1;
	for (int i = 0; i < n; i++)
		cap += 4 * strlen(argv[i]) + 3;
	char *q = malloc(cap), *p = q;
	for (int i = 0; i < n; i++) {
		*p++ = '\'';
		for (const char *c = argv[i]; *c; c++) {
			if (*c == '\'') {
				memcpy(p, "'\\''", 4);
				p += 4;
			} else {
				*p++ = *c;
			}
		}
		*p++ = '\'';
		*p++ = ' ';
	}
	*p = 0;
	int m = bt_split_command(q, again, TASK_MAX_ARGS, &why);
	REQUIRE(m == n);
	for (int i = 0; i < n; i++) {
		REQUIRE(!strcmp(argv[i], again[i]));
		free(argv[i]);
		free(again[i]);
	}
	free(q);
}

static void fuzz_policy(const uint8_t *d, size_t len)
{
	struct bt_task t;
	struct bt_policy_state s;
	static uint64_t starts[4096];
	unsigned n = 0;
	uint64_t now = 0;

	if (len < 6)
		return;
	memset(&t, 0, sizeof(t));
	memset(&s, 0, sizeof(s));
	t.restart = (enum bt_restart)(d[0] % 3);
	t.backoff_ms = 1 + d[1] * 10u;
	t.backoff_max_ms = t.backoff_ms + d[2] * 100u;
	t.reset_after_s = d[3] % 20;
	t.start_limit = d[4] % (BT_MAX_START_LIMIT + 1);
	t.start_window_s = 1 + d[5] % 30;
	for (size_t i = 6; i < len && n < 4096; i++) {
		bt_policy_started(&t, &s, now);
		starts[n++] = now;
		REQUIRE(s.n_starts >= 1 && s.n_starts <= (t.start_limit ? t.start_limit : 1));
		uint64_t up = (uint64_t)(d[i] >> 1) * 100000000ull; /* 0..12.7 s */
		long delay = bt_policy_on_exit(&t, &s, d[i] & 1, now, now + up);
		if (t.restart == BT_NEVER || (t.restart == BT_ON_FAILURE && !(d[i] & 1)))
			REQUIRE(delay == -1);
		if (delay < 0)
			break;
		REQUIRE(delay >= (long)t.backoff_ms && delay <= (long)t.backoff_max_ms);
		now += up + (uint64_t)delay * 1000000ull;
	}
	if (!t.start_limit)
		return;
	for (unsigned i = 0; i + t.start_limit < n + 0u; i++)
		REQUIRE(starts[i + t.start_limit] - starts[i] >=
			(uint64_t)t.start_window_s * 1000000000ull);
}

static void run(const uint8_t *data, size_t size)
{
	fuzz_parse((const char *)data, size);
	char *s = malloc(size + 1);
	memcpy(s, data, size);
	s[size] = 0;
	fuzz_split(s);
	free(s);
	fuzz_policy(data, size);
}

static const char *const tokens[] = {
    "\n",
    "[",
    "]",
    "[t]\n",
    "[u]\n",
    "=",
    " ",
    "\t",
    "'",
    "\"",
    "\\",
    "#",
    "command = ",
    "/bin/x",
    "env = ",
    "K=V",
    "cwd = ",
    "/",
    "user = ",
    "group = ",
    "restart = ",
    "never",
    "on-failure",
    "always",
    "ring_size = ",
    "4096",
    "64K",
    "1G",
    "2G",
    "clean_env = ",
    "yes",
    "backoff_ms = ",
    "backoff_max_ms = ",
    "reset_after_s = ",
    "start_limit = ",
    "start_window_s = ",
    "0",
    "1",
    "100",
    "99999999999999999999",
    "\r",
    "a",
    "-",
    "\0",
    "LONG",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char long_tok[301];
	const size_t n_tok = sizeof(tokens) / sizeof(tokens[0]);

	run(data, size);
	if (!long_tok[0])
		memset(long_tok, 'L', sizeof(long_tok) - 1);
	char *text = malloc(size * (sizeof(long_tok) - 1) + 1);
	size_t n = 0;
	for (size_t i = 0; i < size; i++) {
		const char *t = tokens[data[i] % n_tok];
		size_t k = strlen(t);
		if (!strcmp(t, "LONG"))
			t = long_tok, k = sizeof(long_tok) - 1;
		else if (!k)
			k = 1; /* the NUL token */
		memcpy(text + n, t, k);
		n += k;
	}
	run((const uint8_t *)text, n);
	free(text);
	return 0;
}
