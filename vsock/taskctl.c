/* taskctl: the command line. Picks the address (-c or TASKCTL_ADDR), the
 * command, and hands over to the transports (taskctl_net.c), the streaming
 * commands (taskctl_stream.c) or the one-reply ones (taskctl_cmds.c). */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vsock/taskctl.h"

static const char usage_text[] =
    "usage: taskctl [-c ADDR] [--json] [--wait SECONDS] COMMAND [ARGS...]\n"
    "\n"
    "The host-side client of taskinit. ADDR (or $TASKCTL_ADDR) is one of\n"
    "  vsock:CID[:PORT]      AF_VSOCK (QEMU vhost-vsock): vsock:3\n"
    "  hybrid:PATH[:PORT]    a Firecracker / Cloud Hypervisor vsock socket: hybrid:/tmp/v.sock\n"
    "  unix:PATH             the agent's task.control_unix socket\n"
    "PORT defaults to 1024 (the shell: 1025). Connecting is retried for --wait\n"
    "seconds ($TASKCTL_WAIT, default 3), so taskctl can wait for a guest to boot.\n"
    "\n"
    "Commands:\n"
    "  exec [-t] [-n] [--rm] [RUN-OPTIONS] [--] CMD [ARGS...]\n"
    "        run CMD, copy its stdout and stderr to ours and our stdin to it; exit\n"
    "        with its status (128+signal when killed). -t: a pty, local terminal raw,\n"
    "        window size kept in step. -n: no stdin. --rm: remove the task after.\n"
    "        SIGINT/TERM/HUP/QUIT are passed to the task; a third one gives up.\n"
    "  shell [--port N] [ADDR]   the debug shell (task.debug); on unix give its ADDR\n"
    "  run [RUN-OPTIONS] [--] CMD [ARGS...]   start a task, print its id\n"
    "  ps [TASK]              the task table, or one task in detail\n"
    "  wait TASK              wait for the exit (exit 0, or 1 when it failed)\n"
    "  kill TASK [SIGNAL] [--pid]\n"
    "  logs TASK [-f] [--stream S] [--from OFFSET | --seq SEQ]\n"
    "                         stdout to stdout, stderr to stderr; -f follows\n"
    "  attach [--from-start] [--no-stdin] TASK   stdin in, output out, until it exits\n"
    "  stdin TASK DATA | stdin TASK --close\n"
    "  cp [--mode M] [--owner UID[:GID]] LOCAL :/PATH   copy a file into the guest\n"
    "  cp [--mode M] :/PATH LOCAL   copy a file out (LOCAL a directory: into it);\n"
    "                         '-' is stdin/stdout; a :/DIR/ target takes LOCAL's name\n"
    "  resize TASK COLS ROWS  rm TASK  stats [TASK]  events  boot  ping  version\n"
    "  shutdown [--reboot|--poweroff]  help (the agent's verbs)\n"
    "Other words are sent to the agent as a verb, and the reply printed.\n"
    "RUN-OPTIONS are the agent's run options (--env K=V, --cwd DIR, --user U, ...).\n"
    "\n"
    "Exit codes: 0 ok; 1 the task failed (run: exec failed, wait: non-zero status),\n"
    "or cp could not read or write a local file;\n"
    "253 usage; 254 refused (an error reply, a port nobody listens on, a VMM\n"
    "refusal); 255 cannot connect or the connection was lost. exec and attach\n"
    "exit with the task's status (126/127 when exec fails), and only taskctl's\n"
    "own failures print a `taskctl:` line. See docs/taskctl.md.\n";

static int usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, "taskctl: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, " (taskctl --help)\n");
	return TC_EXIT_USAGE;
}

/* Argument counts of the commands that are one request and one reply. */
static const struct {
	const char *verb;
	int min, max;
	const char *usage;
} simple[] = {
    {"run", 1, 1000, "run [RUN-OPTIONS] [--] CMD [ARGS...]"},
    {"ps", 0, 1, "ps [TASK]"},
    {"wait", 1, 1, "wait TASK"},
    {"kill", 1, 3, "kill TASK [SIGNAL] [--pid]"},
    {"stdin", 2, 2, "stdin TASK DATA | stdin TASK --close"},
    {"resize", 3, 3, "resize TASK COLS ROWS"},
    {"stats", 0, 1, "stats [TASK]"},
    {"rm", 1, 1, "rm TASK"},
    {"shutdown", 0, 1, "shutdown [--reboot|--poweroff]"},
    {"boot", 0, 0, "boot"},
    {"ping", 0, 0, "ping"},
    {"version", 0, 0, "version"},
    {"help", 0, 0, "help"},
};

static bool is_flag_option(const char *o)
{
	return !strcmp(o, "--clean-env") || !strcmp(o, "--no-new-privs");
}

static int cmd_exec(struct tc *t, char **argv, int argc)
{
	struct tc_exec_opts o = {0};
	int i = 0;

	for (; i < argc && argv[i][0] == '-'; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "-t") || !strcmp(a, "-it") || !strcmp(a, "-ti"))
			o.tty = true;
		else if (!strcmp(a, "-i"))
			; /* stdin is always forwarded; accepted for docker's habit */
		else if (!strcmp(a, "-n"))
			o.no_stdin = true;
		else if (!strcmp(a, "--rm"))
			o.rm = true;
		else if (!strcmp(a, "--")) {
			i++;
			break;
		} else if (!strcmp(a, "--stdin") || !strcmp(a, "--pty-size"))
			return usage_error("exec sets %s itself (use -t or -n)", a);
		else if (!strncmp(a, "--", 2)) {
			if (!o.run_opts)
				o.run_opts = argv + i;
			if (!is_flag_option(a)) {
				if (i + 1 >= argc)
					return usage_error("%s needs a value", a);
				i++;
				o.n_run_opts++;
			}
			o.n_run_opts++;
		} else
			return usage_error("unknown exec option %s", a);
		if (o.run_opts && o.run_opts + o.n_run_opts != argv + i + 1)
			return usage_error("put exec's own options (%s) before the run options", a);
	}
	if (i >= argc)
		return usage_error("%s", "exec needs a command");
	if (o.tty && o.no_stdin)
		return usage_error("%s", "-t and -n exclude each other");
	o.argv = argv + i;
	o.argc = argc - i;
	return tc_exec(t, &o);
}

static int cmd_attach(struct tc *t, char **argv, int argc)
{
	bool from_start = false, no_stdin = false;
	const char *task = NULL;

	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--from-start"))
			from_start = true;
		else if (!strcmp(argv[i], "--no-stdin"))
			no_stdin = true;
		else if (argv[i][0] == '-' || task)
			return usage_error("attach [--from-start] [--no-stdin] TASK: what is %s?",
					   argv[i]);
		else
			task = argv[i];
	}
	if (!task)
		return usage_error("%s", "attach needs a TASK");
	return tc_attach(t, task, from_start, no_stdin);
}

static int cmd_logs(struct tc *t, char **argv, int argc)
{
	if (argc < 1 || argv[0][0] == '-')
		return usage_error("%s", "logs TASK [-f] [--stream S] [--from OFFSET | --seq SEQ]");
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "-f"))
			argv[i] = "--follow";
		else if (!strcmp(argv[i], "--framed"))
			return usage_error("%s",
					   "logs: --framed is taskctl's to ask for (see --json)");
	return tc_logs(t, argv, argc);
}

static int cmd_shell(struct tc *t, char **argv, int argc)
{
	struct tc_addr debug;
	const char *addr = NULL;
	char err[160];
	long port = -1;

	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--port") && i + 1 < argc) {
			char *end;
			port = strtol(argv[++i], &end, 10);
			if (*end || port < 0 || port > 0xffffffffL)
				return usage_error("bad --port %s", argv[i]);
		} else if (argv[i][0] != '-' && !addr) {
			addr = argv[i];
		} else {
			return usage_error("shell [--port N] [ADDR]: what is %s?", argv[i]);
		}
	}
	if (addr) {
		if (tc_parse_addr(addr, TC_DEFAULT_DEBUG_PORT, &debug, err, sizeof(err)) < 0)
			return usage_error("%s", err);
	} else {
		if (!t->addr_set)
			return usage_error("%s", "no address: -c ADDR or $TASKCTL_ADDR");
		debug = t->addr;
		if (debug.kind == TC_UNIX)
			return usage_error("%s", "shell over unix needs the debug socket: taskctl "
						 "shell unix:PATH (task.debug_unix)");
		debug.port = TC_DEFAULT_DEBUG_PORT;
	}
	if (port >= 0)
		debug.port = (uint32_t)port;
	return tc_shell(t, &debug);
}

static int cmd_cp(struct tc *t, char **argv, int argc)
{
	struct tc_cp o;
	char err[256];

	if (tc_parse_cp(argv, argc, &o, err, sizeof(err)) < 0)
		return usage_error("%s", err);
	return tc_cp(t, &o);
}

static int dispatch(struct tc *t, const char *cmd, char **argv, int argc)
{
	if (!strcmp(cmd, "shell"))
		return cmd_shell(t, argv, argc);
	if (!t->addr_set)
		return usage_error("%s", "no address: -c ADDR or $TASKCTL_ADDR");
	if (!strcmp(cmd, "exec"))
		return cmd_exec(t, argv, argc);
	if (!strcmp(cmd, "attach"))
		return cmd_attach(t, argv, argc);
	if (!strcmp(cmd, "logs"))
		return cmd_logs(t, argv, argc);
	if (!strcmp(cmd, "events"))
		return argc ? usage_error("%s", "events takes no arguments") : tc_events(t);
	if (!strcmp(cmd, "cp"))
		return cmd_cp(t, argv, argc);
	if (!strcmp(cmd, "read") || !strcmp(cmd, "write"))
		return usage_error("%s carries raw file data: use taskctl cp", cmd);
	for (size_t i = 0; i < sizeof(simple) / sizeof(simple[0]); i++)
		if (!strcmp(cmd, simple[i].verb) && (argc < simple[i].min || argc > simple[i].max))
			return usage_error("usage: %s", simple[i].usage);
	return tc_command(t, cmd, argv, argc);
}

int main(int argc, char **argv)
{
	struct tc t = {.wait_s = 3};
	const char *addr = getenv("TASKCTL_ADDR"), *wait = getenv("TASKCTL_WAIT");
	char err[160];
	int i = 1;

	/* With fd 0, 1 or 2 closed, a socket would take its number and be
	 * read as stdin or written as output. */
	int fd = open("/dev/null", O_RDWR);
	while (fd >= 0 && fd <= 2)
		fd = open("/dev/null", O_RDWR);
	if (fd > 2)
		close(fd);
	/* A closed stdout is EPIPE from write, not a death that would leave
	 * the local terminal raw. */
	signal(SIGPIPE, SIG_IGN);

	for (; i < argc && argv[i][0] == '-'; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			fputs(usage_text, stdout);
			return 0;
		}
		if (!strcmp(a, "-V") || !strcmp(a, "--version")) {
			printf("taskctl %s\n", TASKINIT_VERSION);
			return 0;
		}
		if (!strcmp(a, "--json")) {
			t.json = true;
		} else if ((!strcmp(a, "-c") || !strcmp(a, "--connect")) && i + 1 < argc) {
			addr = argv[++i];
		} else if ((!strcmp(a, "-w") || !strcmp(a, "--wait")) && i + 1 < argc) {
			wait = argv[++i];
		} else {
			return usage_error("unknown option %s", a);
		}
	}
	if (wait) {
		char *end;
		t.wait_s = strtod(wait, &end);
		if (*end || end == wait || t.wait_s < 0 || t.wait_s > 86400)
			return usage_error("--wait takes seconds, not \"%s\"", wait);
	}
	if (addr && *addr) {
		if (tc_parse_addr(addr, TC_DEFAULT_PORT, &t.addr, err, sizeof(err)) < 0)
			return usage_error("%s", err);
		t.addr_set = true;
	}
	if (i >= argc) {
		fputs(usage_text, stderr);
		return TC_EXIT_USAGE;
	}
	int rc = dispatch(&t, argv[i], argv + i + 1, argc - i - 1);
	tc_restore_terminal(&t);
	return rc;
}
