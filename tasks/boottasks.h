/* Boot tasks (private to tasks/): the boot file's parser and the runtime
 * that starts and supervises what it declares. Format: docs/boottasks.md.
 *
 * The parser (tasks/boottasks.c) is pure: no I/O, no agent. It takes the
 * file's text, fills a bt_file and reports every problem with its line
 * number through a callback. A bad line never stops the parse: a task with
 * an invalid value or no command is dropped, an unknown key is ignored, and
 * every other task is kept.
 *
 * The runtime (tasks/bootrun.c) reads the file named by task.boot_tasks at
 * boot, starts each task with task_run() and restarts it per its policy
 * with exponential backoff and a start rate limit. It never restarts during
 * shutdown. Its state hangs off the agent as a->boottasks. */
#ifndef TASKINIT_TASKS_BOOTTASKS_H
#define TASKINIT_TASKS_BOOTTASKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tasks/tasks.h"

#define BT_MAX_TASKS	   64
#define BT_MAX_FILE	   (64 * 1024) /* bytes the runtime reads at most */
#define BT_MAX_START_LIMIT 100

enum bt_restart { BT_NEVER, BT_ON_FAILURE, BT_ALWAYS };

/* One [name] section. Every string is owned by the task (bt_file_free). */
struct bt_task {
	char name[TASK_NAME_MAX];
	unsigned line; /* of the [name] header */
	int argc;
	char **argv; /* argc words, NULL-terminated */
	int n_env;
	char *env[TASK_MAX_ENV]; /* "K=V" sets, "K" unsets */
	bool clean_env;
	char *cwd, *user, *group; /* NULL when not given */
	enum bt_restart restart;
	size_t ring_size;	 /* 0: task.ring_size */
	unsigned backoff_ms;	 /* first restart delay; doubles each time */
	unsigned backoff_max_ms; /* the cap */
	unsigned reset_after_s;	 /* up this long: the delay starts over */
	unsigned start_limit;	 /* at most this many starts ... */
	unsigned start_window_s; /* ... within this many seconds */
};

struct bt_file {
	int n;
	struct bt_task tasks[BT_MAX_TASKS];
};

/* Called for each problem: line (1-based; 0 for the file as a whole),
 * task_dropped tells whether the task around it is not started. */
typedef void (*bt_error_fn)(void *ctx, unsigned line, bool task_dropped, const char *msg);

/* Parses len bytes of text (need not be NUL-terminated; a NUL byte is an
 * error on its line). Fills f (which needs no initialisation) with the
 * valid tasks in file order. Returns the number of problems reported. Call
 * bt_file_free afterwards whatever it returned. */
unsigned bt_parse(const char *text, size_t len, struct bt_file *f, bt_error_fn err, void *ctx);
void bt_file_free(struct bt_file *f);

/* Splits a command into argv words (the rules of docs/boottasks.md).
 * Returns the word count (0..max) with every word malloc'd into argv and
 * argv[count] = NULL, or -1 with *why set and nothing allocated. */
int bt_split_command(const char *s, char **argv, int max, const char **why);
const char *bt_restart_name(enum bt_restart r);

/* ---- the backoff and rate-limit policy (pure; used by the runtime) ---- */

struct bt_policy_state {
	unsigned next_delay_ms;			/* 0 before the first restart */
	unsigned n_starts;			/* how many of starts[] are used (<= start_limit) */
	uint64_t starts_ns[BT_MAX_START_LIMIT]; /* most recent last */
};

/* Records a start at now_ns. */
void bt_policy_started(const struct bt_task *t, struct bt_policy_state *s, uint64_t now_ns);
/* After an exit with status (0 = success) at now_ns of an incarnation that
 * started at start_ns: returns -1 for "do not restart" (policy), -2 for
 * "the start limit is reached: give up", else the delay in ms. */
long bt_policy_on_exit(const struct bt_task *t, struct bt_policy_state *s, int status,
		       uint64_t start_ns, uint64_t now_ns);

/* ---- the runtime (tasks/bootrun.c) ---- */

struct agent;
struct boottasks;
/* Reads a->cfg.boot_tasks and starts every task in it; problems are
 * warnings in the init log, never fatal. Call once, after the main task. */
void boottasks_start(struct agent *a);

#endif
