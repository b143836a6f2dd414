/* Boot tasks: the parser of the boot file and the restart policy. Pure: no
 * I/O, no agent state (see tasks/boottasks.h, docs/boottasks.md). */
#include "tasks/boottasks.h"
#include "init/init.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the command splitter ---- */

static void free_words(char **argv, int n)
{
	for (int i = 0; i < n; i++) {
		free(argv[i]);
		argv[i] = NULL;
	}
}

int bt_split_command(const char *s, char **argv, int max, const char **why)
{
	size_t len = strlen(s);
	char *word = malloc(len + 1);
	int n = 0;

	*why = NULL;
	if (!word) {
		*why = "out of memory";
		return -1;
	}
	const char *p = s;
	for (;;) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (!*p)
			break;
		size_t w = 0;
		while (*p && *p != ' ' && *p != '\t') {
			if (*p == '\'') {
				const char *q = strchr(p + 1, '\'');
				if (!q) {
					*why = "unterminated single quote";
					goto fail;
				}
				memcpy(word + w, p + 1, (size_t)(q - p - 1));
				w += (size_t)(q - p - 1);
				p = q + 1;
			} else if (*p == '"') {
				p++;
				while (*p && *p != '"') {
					if (*p == '\\' && (p[1] == '"' || p[1] == '\\'))
						p++;
					word[w++] = *p++;
				}
				if (!*p) {
					*why = "unterminated double quote";
					goto fail;
				}
				p++;
			} else if (*p == '\\') {
				if (!p[1]) {
					*why = "backslash at the end of the command";
					goto fail;
				}
				word[w++] = p[1];
				p += 2;
			} else {
				word[w++] = *p++;
			}
		}
		if (n >= max) {
			*why = "too many words in the command";
			goto fail;
		}
		word[w] = 0;
		argv[n] = strdup(word);
		if (!argv[n]) {
			*why = "out of memory";
			goto fail;
		}
		n++;
	}
	free(word);
	argv[n] = NULL;
	return n;
fail:
	free(word);
	free_words(argv, n);
	return -1;
}

const char *bt_restart_name(enum bt_restart r)
{
	switch (r) {
	case BT_NEVER:
		return "never";
	case BT_ON_FAILURE:
		return "on-failure";
	case BT_ALWAYS:
		return "always";
	}
	return "?";
}

/* ---- the parser ---- */

struct parser {
	struct bt_file *f;
	bt_error_fn err;
	void *ctx;
	unsigned problems;
	unsigned line;
	struct bt_task *cur; /* the section being read, or NULL */
	bool cur_bad;	     /* drop it at its end */
	bool skipping;	     /* inside a section that was refused at its header */
	unsigned seen;	     /* keys given in the current section (bits) */
};

static void report(struct parser *ps, unsigned line, bool dropped, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void report(struct parser *ps, unsigned line, bool dropped, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ps->problems++;
	if (ps->err)
		ps->err(ps->ctx, line, dropped, msg);
}

static void task_free(struct bt_task *t)
{
	if (t->argv) {
		free_words(t->argv, t->argc);
		free(t->argv);
	}
	for (int i = 0; i < t->n_env; i++)
		free(t->env[i]);
	free(t->cwd);
	free(t->user);
	free(t->group);
	memset(t, 0, sizeof(*t));
}

void bt_file_free(struct bt_file *f)
{
	for (int i = 0; i < f->n; i++)
		task_free(&f->tasks[i]);
	f->n = 0;
}

/* Pure, so it lives here with the parser; the task table uses it too. */
bool task_name_valid(const char *name)
{
	size_t n = strlen(name);
	bool digits = true;

	if (n == 0 || n >= TASK_NAME_MAX)
		return false;
	for (const char *p = name; *p; p++) {
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '.'))
			return false;
		if (*p < '0' || *p > '9')
			digits = false;
	}
	return !digits;
}

static void task_defaults(struct bt_task *t)
{
	memset(t, 0, sizeof(*t));
	t->restart = BT_NEVER;
	t->backoff_ms = 100;
	t->backoff_max_ms = 30000;
	t->reset_after_s = 10;
	t->start_limit = 5;
	t->start_window_s = 10;
}

/* Ends the current section: keeps the task when it is whole. */
static void finish_section(struct parser *ps)
{
	struct bt_task *t = ps->cur;

	ps->cur = NULL;
	ps->skipping = false;
	if (!t)
		return;
	if (!ps->cur_bad && t->argc == 0) {
		report(ps, t->line, true, "task \"%s\" has no command", t->name);
		ps->cur_bad = true;
	}
	if (!ps->cur_bad && t->backoff_max_ms < t->backoff_ms) {
		report(ps, t->line, true, "task \"%s\": backoff_max_ms is below backoff_ms",
		       t->name);
		ps->cur_bad = true;
	}
	if (ps->cur_bad) {
		task_free(t);
		return;
	}
	ps->f->n++;
}

static void start_section(struct parser *ps, char *name)
{
	finish_section(ps);
	if (!task_name_valid(name)) {
		report(ps, ps->line, true,
		       "bad task name \"%.64s\": 1-63 of [A-Za-z0-9._-], not all digits", name);
		ps->skipping = true;
		return;
	}
	for (int i = 0; i < ps->f->n; i++) {
		if (!strcmp(ps->f->tasks[i].name, name)) {
			report(ps, ps->line, true, "task \"%s\" is already declared on line %u",
			       name, ps->f->tasks[i].line);
			ps->skipping = true;
			return;
		}
	}
	if (ps->f->n >= BT_MAX_TASKS) {
		report(ps, ps->line, true, "more than %d tasks: \"%s\" and later ones ignored",
		       BT_MAX_TASKS, name);
		ps->skipping = true;
		return;
	}
	ps->cur = &ps->f->tasks[ps->f->n];
	task_defaults(ps->cur);
	strcpy(ps->cur->name, name);
	ps->cur->line = ps->line;
	ps->cur_bad = false;
	ps->seen = 0;
}

static int parse_uint(const char *v, unsigned long long *out)
{
	char *end;

	if (*v < '0' || *v > '9')
		return -1;
	errno = 0;
	*out = strtoull(v, &end, 10);
	return errno || *end ? -1 : 0;
}

static int parse_bool(const char *v, bool *out)
{
	static const char *const yes[] = {"true", "yes", "on", "1"};
	static const char *const no[] = {"false", "no", "off", "0"};

	for (unsigned i = 0; i < 4; i++) {
		if (!strcmp(v, yes[i]))
			return *out = true, 0;
		if (!strcmp(v, no[i]))
			return *out = false, 0;
	}
	return -1;
}

struct uint_key {
	const char *key;
	size_t off;
	unsigned long long min, max;
};

static const struct uint_key uint_keys[] = {
    {"backoff_ms", offsetof(struct bt_task, backoff_ms), 1, 3600000},
    {"backoff_max_ms", offsetof(struct bt_task, backoff_max_ms), 1, 3600000},
    {"reset_after_s", offsetof(struct bt_task, reset_after_s), 0, 86400},
    {"start_limit", offsetof(struct bt_task, start_limit), 0, BT_MAX_START_LIMIT},
    {"start_window_s", offsetof(struct bt_task, start_window_s), 1, 86400},
};

enum {
	K_COMMAND,
	K_CWD,
	K_USER,
	K_GROUP,
	K_RESTART,
	K_RING,
	K_CLEAN_ENV,
	K_UINT0, /* + index in uint_keys */
};

/* Returns false when the value is bad (the task is dropped). */
static bool set_key(struct parser *ps, struct bt_task *t, const char *k, const char *v)
{
	int bit = -1;
	unsigned long long x;
	uint64_t size;
	const char *why;

	if (!strcmp(k, "env")) {
		if (!*v || *v == '=') {
			report(ps, ps->line, true, "env: expected NAME=VALUE or NAME");
			return false;
		}
		if (t->n_env >= TASK_MAX_ENV) {
			report(ps, ps->line, true, "env: more than %d entries", TASK_MAX_ENV);
			return false;
		}
		if (!(t->env[t->n_env] = strdup(v))) {
			report(ps, ps->line, true, "out of memory");
			return false;
		}
		t->n_env++;
		return true;
	}
	static const char *const single[] = {"command", "cwd",	     "user",	 "group",
					     "restart", "ring_size", "clean_env"};
	for (unsigned i = 0; i < sizeof(single) / sizeof(single[0]); i++)
		if (!strcmp(k, single[i]))
			bit = (int)i;
	for (unsigned i = 0; i < sizeof(uint_keys) / sizeof(uint_keys[0]); i++)
		if (!strcmp(k, uint_keys[i].key))
			bit = K_UINT0 + (int)i;
	if (bit < 0) {
		report(ps, ps->line, false, "unknown key \"%.64s\" (ignored)", k);
		return true;
	}
	if (ps->seen & (1u << bit)) {
		report(ps, ps->line, true, "%s given twice", k);
		return false;
	}
	ps->seen |= 1u << bit;
	switch (bit) {
	case K_COMMAND:
		t->argv = calloc(TASK_MAX_ARGS + 1, sizeof(*t->argv));
		if (!t->argv) {
			report(ps, ps->line, true, "out of memory");
			return false;
		}
		t->argc = bt_split_command(v, t->argv, TASK_MAX_ARGS, &why);
		if (t->argc <= 0) {
			report(ps, ps->line, true, "command: %s", t->argc < 0 ? why : "empty");
			t->argc = 0;
			return false;
		}
		return true;
	case K_CWD:
		if (*v != '/') {
			report(ps, ps->line, true, "cwd: expected an absolute path");
			return false;
		}
		return (t->cwd = strdup(v)) != NULL;
	case K_USER:
	case K_GROUP:
		if (!*v) {
			report(ps, ps->line, true, "%s: expected a name or number", k);
			return false;
		}
		return (*(bit == K_USER ? &t->user : &t->group) = strdup(v)) != NULL;
	case K_RESTART:
		if (!strcmp(v, "never"))
			t->restart = BT_NEVER;
		else if (!strcmp(v, "on-failure"))
			t->restart = BT_ON_FAILURE;
		else if (!strcmp(v, "always"))
			t->restart = BT_ALWAYS;
		else {
			report(ps, ps->line, true,
			       "restart: expected never, on-failure or always, not \"%.32s\"", v);
			return false;
		}
		return true;
	case K_RING:
		if (parse_size(v, &size) < 0 || size < 4096 || size > (1ull << 30)) {
			report(ps, ps->line, true,
			       "ring_size: expected 4096 to 1G bytes (K, M, G suffixes)");
			return false;
		}
		t->ring_size = (size_t)size;
		return true;
	case K_CLEAN_ENV:
		if (parse_bool(v, &t->clean_env) < 0) {
			report(ps, ps->line, true, "clean_env: expected true or false");
			return false;
		}
		return true;
	default: {
		const struct uint_key *u = &uint_keys[bit - K_UINT0];
		if (parse_uint(v, &x) < 0 || x < u->min || x > u->max) {
			report(ps, ps->line, true, "%s: expected %llu..%llu", k, u->min, u->max);
			return false;
		}
		*(unsigned *)(void *)((char *)t + u->off) = (unsigned)x;
		return true;
	}
	}
}

static char *trim(char *s)
{
	size_t n = strlen(s);

	while (*s == ' ' || *s == '\t')
		s++, n--;
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
		s[--n] = 0;
	return s;
}

static void parse_line(struct parser *ps, char *raw)
{
	char *s = trim(raw);

	if (!*s || *s == '#' || *s == ';')
		return;
	if (*s == '[') {
		size_t n = strlen(s);
		if (s[n - 1] != ']') {
			finish_section(ps);
			report(ps, ps->line, true, "section header without a closing ]");
			ps->skipping = true;
			return;
		}
		s[n - 1] = 0;
		start_section(ps, trim(s + 1));
		return;
	}
	if (ps->skipping)
		return;
	char *eq = strchr(s, '=');
	if (!eq) {
		report(ps, ps->line, ps->cur != NULL, "expected key = value or [name]");
		if (ps->cur)
			ps->cur_bad = true;
		return;
	}
	*eq = 0;
	char *k = trim(s), *v = trim(eq + 1);
	if (!ps->cur) {
		report(ps, ps->line, false, "\"%.64s\" outside any [name] section (ignored)", k);
		return;
	}
	if (!*k) {
		report(ps, ps->line, true, "a key is missing before =");
		ps->cur_bad = true;
		return;
	}
	if (!set_key(ps, ps->cur, k, v))
		ps->cur_bad = true;
}

unsigned bt_parse(const char *text, size_t len, struct bt_file *f, bt_error_fn err, void *ctx)
{
	struct parser ps = {.f = f, .err = err, .ctx = ctx};
	size_t i = 0;

	f->n = 0;
	while (i < len) {
		const char *nl = memchr(text + i, '\n', len - i);
		size_t n = nl ? (size_t)(nl - (text + i)) : len - i;
		ps.line++;
		if (memchr(text + i, 0, n)) {
			report(&ps, ps.line, ps.cur != NULL, "NUL byte in the line");
			if (ps.cur)
				ps.cur_bad = true;
		} else {
			char *line = malloc(n + 1);
			if (!line) {
				report(&ps, ps.line, ps.cur != NULL, "out of memory");
				if (ps.cur)
					ps.cur_bad = true;
			} else {
				memcpy(line, text + i, n);
				line[n] = 0;
				parse_line(&ps, line);
				free(line);
			}
		}
		i += n + 1;
	}
	finish_section(&ps);
	return ps.problems;
}

/* ---- the restart policy ---- */

void bt_policy_started(const struct bt_task *t, struct bt_policy_state *s, uint64_t now)
{
	unsigned cap = t->start_limit ? t->start_limit : 1;

	if (s->n_starts >= cap) {
		memmove(s->starts_ns, s->starts_ns + 1, (cap - 1) * sizeof(s->starts_ns[0]));
		s->n_starts = cap - 1;
	}
	s->starts_ns[s->n_starts++] = now;
}

long bt_policy_on_exit(const struct bt_task *t, struct bt_policy_state *s, int status,
		       uint64_t start_ns, uint64_t now)
{
	if (t->restart == BT_NEVER || (t->restart == BT_ON_FAILURE && status == 0))
		return -1;
	if (t->start_limit && s->n_starts >= t->start_limit &&
	    now - s->starts_ns[s->n_starts - t->start_limit] <
		(uint64_t)t->start_window_s * 1000000000ull)
		return -2;
	if (now >= start_ns && now - start_ns >= (uint64_t)t->reset_after_s * 1000000000ull)
		s->next_delay_ms = 0;
	unsigned delay = s->next_delay_ms ? s->next_delay_ms : t->backoff_ms;
	if (delay > t->backoff_max_ms)
		delay = t->backoff_max_ms;
	s->next_delay_ms = delay > t->backoff_max_ms / 2 ? t->backoff_max_ms : delay * 2;
	return (long)delay;
}
