/* tasks — the task table: spawn, capture, supervise, exit records.
 *
 * Promises:
 * - Task ids are never reused within a boot. Names are unique among live
 *   tasks (not all digits, so "7" always means id 7).
 * - A task starts with an empty signal mask, every disposition at SIG_DFL,
 *   only fds 0-2 open, in a session and process group of its own, with the
 *   environment, cwd, user, umask and rlimits its spec asked for.
 * - Exec failures are reported with a stage (cwd, user, exec, ...) and the
 *   errno, and the task's exit code is 127 (not found) or 126 (anything
 *   else), as shells and tini do.
 * - Every byte a task writes to stdout or stderr lands in its ring, read
 *   straight in with reserve/commit; spawning never blocks PID 1.
 * - The exit is published (TASK_EV_EXITED) only after both pipes reached EOF,
 *   or after the drain window (task.drain_ms) when a descendant still holds
 *   them: then the record says so and later output still lands in the ring.
 * - Exited tasks stay with their output until removed, or until the ring
 *   budget needs their memory for a new task (oldest exited first).
 */
#ifndef TASKINIT_TASKS_H
#define TASKINIT_TASKS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/types.h>

#include "ringlog/ringlog.h"
#include "tasks/cgroup.h"
#include "tasks/seccomp.h"

struct agent;
struct task;

#define TASK_NAME_MAX	 64
#define TASK_MAX_ARGS	 256
#define TASK_MAX_ENV	 128
#define TASK_MAX_RLIMITS 16
#define TASK_MAX_GROUPS	 32

/* STDIN_PTY: stdin, stdout and stderr are one pseudo-terminal, the task's
 * controlling terminal; its output is the ring's pty stream. */
enum stdin_mode { STDIN_NULL, STDIN_PIPE, STDIN_PTY };

/* What `run` asks for. Strings point at memory the caller owns until
 * task_run returns; the task keeps copies. */
struct task_spec {
	int argc;
	char *argv[TASK_MAX_ARGS + 1];
	const char *name; /* NULL: "task-<id>" */
	bool clean_env;	  /* start from an empty environment instead of init's */
	int n_env;
	const char *env[TASK_MAX_ENV]; /* "K=V" sets, "K" unsets */
	const char *cwd;
	const char *user;   /* name or number; NULL: root */
	const char *group;  /* name or number; NULL: the user's primary group */
	const char *groups; /* comma list of supplementary groups; NULL: the user's */
	int umask;	    /* -1: 022 */
	int n_rlimits;
	struct {
		int resource;
		struct rlimit lim;
	} rlimits[TASK_MAX_RLIMITS];
	bool no_new_privs;
	enum stdin_mode stdin_mode;
	unsigned short pty_cols, pty_rows; /* 0: 80x24 */
	size_t ring_size;		   /* 0: task.ring_size */
	bool echo_console;		   /* copy output to the console too (the main task) */
	struct seccomp_spec seccomp;	   /* fill with task_spec_add_seccomp */
	struct cg_limits cgroup;	   /* fill with task_spec_add_cgroup */
};

/* Applies --seccomp PROFILE, --seccomp-allow LIST or --seccomp-deny LIST
 * (docs/seccomp.md). Returns 0, 1 when opt is none of them, -1 with err. */
int task_spec_add_seccomp(struct task_spec *s, const char *opt, const char *value, char *err,
			  size_t errlen);
/* Applies --memory-max, --pids-max or --cpu-max. Returns 0, 1 when opt
 * is none of them, -1 with why. */
int task_spec_add_cgroup(struct task_spec *s, const char *opt, const char *value, const char **why);
/* The task's cgroup figures; -1 when it has no group. */
int task_cgroup_stats(struct agent *a, const struct task *t, struct cg_stats *st);
/* Removes what tasks leave outside the agent (their cgroups) at the end. */
void tasks_cleanup(struct agent *a);
/* Parses one `--rlimit name=soft[:hard]` value into the spec. */
int task_spec_add_rlimit(struct task_spec *s, const char *arg, const char **why);

enum task_state {
	TASK_STARTING, /* being set up: task_run returns it running or failed */
	TASK_RUNNING,
	TASK_EXITED, /* reaped, output still draining */
	TASK_DONE,   /* exit published */
};

enum task_event {
	TASK_EV_STARTED,     /* exec succeeded */
	TASK_EV_EXEC_FAILED, /* exec failed: t->exec_error says how */
	TASK_EV_OUTPUT,	     /* new bytes in the ring */
	TASK_EV_OOM,	     /* the kernel OOM-killed in its cgroup (before EXITED) */
	TASK_EV_EXITED,	     /* the exit record is published */
	TASK_EV_REMOVED,     /* the task is going away: drop every reference */
	TASK_EV_STDIN_READY, /* stdin takes bytes again after task_stdin_write said EAGAIN */
};

struct task;

/* Something that follows a task (a connection waiting or streaming). */
struct task_observer {
	void (*notify)(struct agent *a, struct task_observer *o, enum task_event ev);
	/* Set for a reader that must lose nothing (`--lossless`): while it
	 * observes, capture stops reading the task's output rather than drop a
	 * record this cursor has not read, and the task waits on its full pipe
	 * as it would on a plain one. Call task_reader_moved after the cursor
	 * advances and after unobserving. */
	const struct ringlog_cursor *hold;
	struct task *task;
	struct task_observer *next, *prev;
};

/* Something that hears every task's lifecycle events (the events verb):
 * STARTED, EXEC_FAILED, EXITED and REMOVED, never OUTPUT. */
struct tasks_listener {
	void (*event)(struct agent *a, struct tasks_listener *l, struct task *t,
		      enum task_event ev);
	struct tasks_listener *next, *prev;
	bool listening;
};

struct task_exit {
	int status; /* code, or 128 + signal */
	int code;   /* -1 when killed by a signal */
	int signal; /* 0 when it exited */
	bool core_dumped;
	bool descendant_holds_pipes; /* published at the end of the drain window */
	bool oom_killed;	     /* the kernel OOM-killed a process of its cgroup */
	uint64_t user_ns, sys_ns;    /* CPU time of the task and its waited-for children */
	uint64_t max_rss_kib;
	uint64_t end_boot_ns, end_real_ns;
};

struct task {
	uint64_t id;
	char name[TASK_NAME_MAX];
	pid_t pid;
	enum task_state state;
	char **argv; /* copies, NULL-terminated */
	uint64_t start_boot_ns, start_real_ns;
	struct ringlog *ring;
	bool reaped;
	struct task_exit exit;
	/* An exec failure: what failed ("exec", "cwd", "user", ...) and errno. */
	char exec_stage[16];
	int exec_errno;
	int stdin_fd; /* write end when stdin is a pipe, the pty master for a pty; else -1 */
	bool pty;
	bool echo_console;
	struct task_observer *observers;
	struct task *next;
	struct task_private *priv;
};

int tasks_init(struct agent *a);
/* Starts a task. Returns NULL with *code (a protocol error code) and a
 * message in err when it cannot even be forked: bad spec, unknown user or
 * group, duplicate name, ring budget. Exec failures come later, as events. */
struct task *task_run(struct agent *a, const struct task_spec *spec, const char **code, char *err,
		      size_t errlen);
/* 1-63 of [A-Za-z0-9._-], not all digits (tasks/boottasks.c). */
bool task_name_valid(const char *name);
/* By id ("7") or name; a live task wins over exited ones of the same name. */
struct task *task_find(struct agent *a, const char *ref);
struct task *tasks_first(struct agent *a);
/* Sets a pty task's window size (the kernel sends SIGWINCH). 0 or -errno. */
int task_resize(struct task *t, unsigned short cols, unsigned short rows);
/* Writes what the task's stdin takes now: bytes written, -EAGAIN (then
 * TASK_EV_STDIN_READY follows when it takes more), or -errno. */
ssize_t task_stdin_write(struct agent *a, struct task *t, const void *buf, size_t n);
/* Ends a task's input: closes the pipe, or sends end-of-file on a pty. */
int task_close_stdin(struct agent *a, struct task *t);
/* Signals the task's process group (or only its pid). Returns 0 or -errno. */
int task_kill(struct agent *a, struct task *t, int sig, bool group);
/* Frees a task that is done. Returns 0, or -EBUSY while it runs. */
int task_remove(struct agent *a, struct task *t);
/* Called for every reaped child; returns false when it is no task's. */
bool tasks_on_reaped(struct agent *a, pid_t pid, int wstatus, const struct rusage *ru);
void tasks_listen(struct agent *a, struct tasks_listener *l);
void tasks_unlisten(struct agent *a, struct tasks_listener *l);
/* Ring budget figures for stats. */
void tasks_ring_budget(struct agent *a, size_t *used, size_t *limit, size_t *rings);
/* Signals every task's process group (shutdown). */
void tasks_signal_all(struct agent *a, int sig);
void task_observe(struct task *t, struct task_observer *o);
void task_unobserve(struct task_observer *o);
/* A holding reader read on, or left: capture may go on. */
void task_reader_moved(struct agent *a, struct task *t);
const char *task_state_name(enum task_state s);
/* Signal by name ("TERM", "SIGTERM") or number; -1 when unknown. */
int signal_from_name(const char *s);
const char *signal_name(int sig);
/* Starts the boot tasks of task.boot_tasks (tasks/bootrun.c). */
void boottasks_start(struct agent *a);

#endif
