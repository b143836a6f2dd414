/* init — PID 1 itself: configuration, the agent struct, the event loop,
 * the init log, boot, signals, reaping and shutdown.
 *
 * Promises:
 * - There is exactly one `struct agent`; it is the only mutable state of
 *   the process and is passed explicitly to every function that needs it.
 * - The loop is single-threaded. Handlers run to completion and must not
 *   block; every fd they own is non-blocking and close-on-exec.
 * - A watch released with loop_release() stays valid memory until the
 *   current batch of events has been dispatched, so a handler may close any
 *   connection, including one with events still pending in the batch.
 * - The config functions are pure (no I/O, no agent): unit-tested and safe
 *   to call on any input.
 * - agent_shutdown() never returns to a state where PID 1 exits early: in a
 *   VM it ends in reboot(2); in a namespace or as a subreaper it ends in
 *   exit() with the main task's status.
 */
#ifndef TASKINIT_INIT_H
#define TASKINIT_INIT_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "init/net.h"

/* ---- configuration (pure; init/cmdline.c) ---- */

enum log_level { LL_ERROR, LL_WARN, LL_INFO, LL_DEBUG };

/* What PID 1 does when the main task exits. */
enum main_action { MAIN_POWEROFF, MAIN_REBOOT, MAIN_STAY };

#define CONFIG_MAX_CIDS	     16
#define CONFIG_MAX_MAIN_ARGS 64
#define CONFIG_MAIN_BUF	     4096
#define CONFIG_PATH_MAX	     108 /* sizeof(sun_path) */

struct config {
	bool debug;
	enum log_level log_level;
	char hostname[65];
	unsigned control_port;
	unsigned debug_port;
	bool allow_any_cid;
	unsigned n_allow_cids;
	uint32_t allow_cids[CONFIG_MAX_CIDS];
	unsigned grace_s;
	char control_unix[CONFIG_PATH_MAX];
	/* The debug shell (docs/debug-shell.md): a Unix listener too, the
	 * shell to run ("": the first of /bin/bash, /bin/sh), sessions at once. */
	char debug_unix[CONFIG_PATH_MAX];
	char debug_shell[CONFIG_PATH_MAX];
	unsigned debug_max;
	enum main_action main_action;
	unsigned max_conns;
	unsigned idle_timeout_s;
	unsigned max_line;
	size_t ring_size;   /* bytes per task ring */
	size_t ring_budget; /* bytes for all rings together */
	unsigned drain_ms;  /* how long an exit waits for pipes a descendant holds */
	/* Extra kernel modules to load at boot, comma-separated. */
	char modules[256];
	/* task.root: a disk to switch the root to from the initramfs
	 * (init/switchroot.c, docs/image.md); "" stays on the initramfs. */
	char root[CONFIG_PATH_MAX];
	char rootfstype[32];
	char rootflags[256];
	unsigned root_wait_s;
	/* task.net.* (init/netconfig.c, docs/network.md). */
	struct net_config net;
	/* The parent group of the task cgroups; "none": no cgroups. */
	char cgroup[CONFIG_PATH_MAX];
	bool cgroup_set; /* task.cgroup was given (a subreaper makes none without) */
	/* The boot tasks file (docs/boottasks.md); "none": no boot tasks. */
	char boot_tasks[CONFIG_PATH_MAX];
	/* The main task's argv, NULL-terminated, strings stored in main_buf. */
	int main_argc;
	char *main_argv[CONFIG_MAX_MAIN_ARGS + 1];
	char main_buf[CONFIG_MAIN_BUF];
	size_t main_buf_used;
};

/* Called for every task.* word that is unknown or has a bad value. */
typedef void (*config_warn_fn)(void *ctx, const char *word, const char *why);

void config_defaults(struct config *c);
/* Applies one key (with or without value). Returns 0 when applied, -1 when
 * the value is invalid (why says how), 1 when the key is not a task.* key
 * taskinit knows. Keys outside the task. namespace return 1 too. */
int config_set(struct config *c, const char *key, const char *val, const char **why);
/* A kernel command line: words split on spaces, double quotes group
 * (`task.main="/bin/app -x"`), everything after a bare `--` becomes the
 * main task's argv unless one is already set. */
void config_parse_cmdline(struct config *c, const char *line, config_warn_fn warn, void *ctx);
/* init's own argv: task.* words before `--` (key=value or bare flags),
 * the main argv after it. Words that are not task.* keys are ignored. */
void config_parse_argv(struct config *c, int argc, char **argv, config_warn_fn warn, void *ctx);
/* Environment entries of the form task.key=value (the kernel hands
 * non-dotted key=value words to init as environment). */
void config_parse_env(struct config *c, char **envp, config_warn_fn warn, void *ctx);
bool config_cid_allowed(const struct config *c, uint32_t cid);
/* A byte count: digits with an optional K, M or G suffix (powers of 1024).
 * Returns 0, or -1 for anything else, overflow included. */
int parse_size(const char *s, uint64_t *out);
const char *log_level_name(enum log_level l);
/* mount(8)-style options ("ro,noatime,data=ordered"): the generic words
 * become MS_* flags, the rest is copied, comma-separated, to data (the file
 * system's options). Returns 0, or -1 when data would not fit in cap (why
 * says so; data is then ""). Pure (init/mountopts.c). */
int mount_options_parse(const char *opts, unsigned long *flags, char *data, size_t cap,
			const char **why);

/* ---- the agent ---- */

enum agent_mode {
	MODE_VM,	/* PID 1 of the initial PID namespace: a real guest */
	MODE_NAMESPACE, /* PID 1 of a child PID namespace (tests, containers) */
	MODE_SUBREAPER, /* not PID 1: a child subreaper */
};

enum shutdown_action { SD_POWEROFF, SD_REBOOT, SD_HALT };
enum shutdown_phase { SD_NONE, SD_TERM, SD_KILL, SD_FINAL };

struct agent;

struct watch {
	int fd;
	uint32_t events;
	void (*on_event)(struct agent *a, struct watch *w, uint32_t events);
	/* Frees the owner after the batch; NULL for static watches. */
	void (*release)(struct watch *w);
	struct watch *next_released;
};

struct timer {
	uint64_t deadline_ns; /* CLOCK_BOOTTIME */
	void (*on_fire)(struct agent *a, struct timer *t);
	struct timer *next;
	bool armed;
	bool idle; /* armed with timer_when_idle */
};

#define BOOT_EVENTS_MAX 64

struct boot_event {
	uint64_t t_ns; /* CLOCK_BOOTTIME */
	char what[56];
};

struct control;	     /* vsock/: listeners and connections */
struct debug_server; /* vsock/debug.c: the debug shell */
struct task_table;   /* tasks/: the task table */
struct cgroup_state; /* tasks/cgroup.c */
struct boottasks;    /* tasks/bootrun.c: boot tasks */
struct net_state;    /* init/net.c: interfaces boot still waits for */
struct file_sync;    /* vsock/file_verbs.c: the fsyncs of writes, off the loop */
struct task;

struct agent {
	struct config cfg;
	enum agent_mode mode;
	pid_t pid;
	uint64_t t_exec_ns; /* first instruction of main, CLOCK_BOOTTIME */

	int epfd;
	struct watch sig_watch;
	struct timer *timers;
	struct watch *released;
	bool in_dispatch;

	int logfd;
	uint64_t log_dropped;

	struct boot_event boot[BOOT_EVENTS_MAX];
	unsigned n_boot;

	struct task_table *tasks;
	struct cgroup_state *cgroup;
	struct task *main_task;
	bool main_exited;
	int main_status; /* code, or 128+signal */
	uint64_t reaped;

	enum shutdown_phase sd_phase;
	enum shutdown_action sd_action;
	struct timer sd_timer;

	struct control *ctl;
	struct debug_server *debug;
	struct boottasks *boottasks;
	struct net_state *net;
	struct file_sync *file_sync; /* made by the first write */
};

/* ---- clocks and the init log (init/log.c) ---- */

uint64_t now_ns(void); /* CLOCK_BOOTTIME */
void log_open(struct agent *a);
void log_msg(struct agent *a, enum log_level l, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Writes a line to the console regardless of log level. */
void console_line(struct agent *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Stamps a boot phase with CLOCK_BOOTTIME (served by the `boot` verb). */
void boot_mark(struct agent *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- the loop (init/loop.c) ---- */

int loop_init(struct agent *a);
int loop_add(struct agent *a, struct watch *w, uint32_t events);
int loop_mod(struct agent *a, struct watch *w, uint32_t events);
/* Stops watching w (even for hangups, which epoll always reports) without
 * closing it; loop_add, or loop_mod with events, watches it again. */
int loop_del(struct agent *a, struct watch *w);
/* Removes w from epoll and closes its fd; w->release runs after the batch. */
void loop_release(struct agent *a, struct watch *w);
void timer_arm(struct agent *a, struct timer *t, uint64_t delay_ms);
void timer_cancel(struct agent *a, struct timer *t);
/* Fires t once the loop finds nothing else to do (an epoll_wait that
 * returns no event): for work that prepares the next request, so that it
 * is not in the way of one. */
void timer_when_idle(struct agent *a, struct timer *t);
__attribute__((noreturn)) void loop_run(struct agent *a);

/* ---- boot (init/boot.c) ---- */

void boot_fds(void);
void boot_mounts(struct agent *a);
void boot_system(struct agent *a);
/* In a VM: the vsock transports and task.modules (init/modules.c). */
void boot_modules(struct agent *a);
/* One module and its dependencies, on demand (init/net.c: virtio_net).
 * Returns 0 when it is loaded or built in; only in a VM. */
int modules_load(struct agent *a, const char *name);
/* task.root in a VM, from the initramfs: mounts the disk, moves /dev, /proc,
 * /sys and /run onto it, frees the initramfs, makes the disk the root and
 * execs its /sbin/init (argv[1..] kept). Returns only when it did not
 * switch (no task.root, not on an initramfs, or a failure it logged);
 * init/switchroot.c. */
void switch_root(struct agent *a, char **argv);
enum agent_mode detect_mode(void);

/* ---- signals, reaping, the main task, shutdown (init/signals.c, init/shutdown.c) ---- */

/* Blocks every signal but the faults (they arrive through signals_watch)
 * and resets every disposition to SIG_DFL. The agent never ignores a
 * signal or installs a handler afterwards: tasks/spawn.c relies on that to
 * give children default dispositions by exec alone. */
void signals_block(void);
int signals_watch(struct agent *a);
void main_task_start(struct agent *a);
/* Called by tasks/ when the main task's exit is published. */
void main_task_done(struct agent *a, const struct task *t);
void agent_shutdown(struct agent *a, enum shutdown_action act, const char *why);
const char *shutdown_action_name(enum shutdown_action act);
/* Called after children were reaped while a shutdown is in progress. */
void shutdown_on_reaped(struct agent *a);
/* Internal errors that leave PID 1 unable to serve end here. */
__attribute__((noreturn)) void agent_fatal(struct agent *a, const char *what);

#endif
