/* Unit tests for init/cmdline.c: config_defaults, config_set, the kernel
 * command line, init's argv and environment, CID lists. Every expected
 * value is written out here from docs/cmdline.md and init/init.h; a bad
 * value must warn and leave the whole config byte-for-byte unchanged. */
#include "init/init.h"
#include "tests/unit/check.h"

#include <stdarg.h>
#include <stdlib.h>

/* ---- helpers ---- */

struct warns {
	int n;
	char word[256];
	char why[256];
};

static struct warns W;

static void rec_warn(void *ctx, const char *word, const char *why)
{
	struct warns *w = ctx;

	w->n++;
	snprintf(w->word, sizeof(w->word), "%s", word ? word : "(null)");
	snprintf(w->why, sizeof(w->why), "%s", why ? why : "(null)");
}

/* Parses a command line; returns the number of warnings. */
static int cmdline(struct config *c, const char *line)
{
	memset(&W, 0, sizeof(W));
	config_parse_cmdline(c, line, rec_warn, &W);
	return W.n;
}

/* config_parse_argv over the NULL-terminated words (argv[0] included). */
static int argvp(struct config *c, ...)
{
	char *av[200];
	int ac = 0;
	va_list ap;

	va_start(ap, c);
	for (char *s; (s = va_arg(ap, char *)) != NULL && ac < 199;)
		av[ac++] = s;
	va_end(ap);
	av[ac] = NULL;
	memset(&W, 0, sizeof(W));
	config_parse_argv(c, ac, av, rec_warn, &W);
	return W.n;
}

/* Applies one word through config_parse_env (no splitting, no quotes). */
static int env1(struct config *c, const char *word)
{
	char *envp[2] = {(char *)word, NULL};

	memset(&W, 0, sizeof(W));
	config_parse_env(c, envp, rec_warn, &W);
	return W.n;
}

/* The main argv invariants: NULL-terminated, every string inside main_buf. */
static int main_sane(const struct config *c)
{
	if (c->main_argc < 0 || c->main_argc > CONFIG_MAX_MAIN_ARGS)
		return 0;
	if (c->main_argv[c->main_argc] != NULL)
		return 0;
	if (c->main_buf_used > CONFIG_MAIN_BUF)
		return 0;
	for (int i = 0; i < c->main_argc; i++) {
		const char *s = c->main_argv[i];
		if (!s || s < c->main_buf || s >= c->main_buf + c->main_buf_used)
			return 0;
		if (!memchr(s, 0, (size_t)(c->main_buf + c->main_buf_used - s)))
			return 0;
	}
	return 1;
}

static int main_eq(const struct config *c, const char *const *want)
{
	int n = 0;

	while (want[n])
		n++;
	int ok = main_sane(c) && c->main_argc == n;
	for (int i = 0; ok && i < n; i++)
		ok = strcmp(c->main_argv[i], want[i]) == 0;
	if (!ok) {
		printf("  main argv is [");
		for (int i = 0; i < c->main_argc && i <= CONFIG_MAX_MAIN_ARGS; i++)
			printf("%s\"%s\"", i ? ", " : "", c->main_argv[i] ? c->main_argv[i] : "?");
		printf("] (argc %d)\n", c->main_argc);
	}
	return ok;
}

#define CHECK_MAIN(c, ...)                                                                         \
	do {                                                                                       \
		const char *want_[] = {__VA_ARGS__, NULL};                                         \
		CHECK(main_eq((c), want_));                                                        \
	} while (0)

#define CHECK_NO_MAIN(c)                                                                           \
	do {                                                                                       \
		CHECK(main_sane(c));                                                               \
		CHECK_EQ_INT((c)->main_argc, 0);                                                   \
		CHECK((c)->main_argv[0] == NULL);                                                  \
	} while (0)

#define CHECK_UNCHANGED(c, snap) CHECK(memcmp((c), (snap), sizeof(struct config)) == 0)

/* A config with a non-default value in every field, so that a bad value
 * that resets a field to its default is noticed too. */
static void config_custom(struct config *c)
{
	const char *why;

	config_defaults(c);
	CHECK_EQ_INT(config_set(c, "task.debug", NULL, &why), 0);
	CHECK_EQ_INT(config_set(c, "task.log_level", "debug", &why), 0);
	CHECK_EQ_INT(config_set(c, "task.hostname", "good-host", &why), 0);
	CHECK_EQ_INT(config_set(c, "task.control_port", "5000", &why), 0);
	CHECK_EQ_INT(config_set(c, "task.debug_port", "5001", &why), 0);
	CHECK_EQ_INT(config_set(c, "task.allow_cid", "3,4", &why), 0);
	CHECK_EQ_INT(config_set(c, "task.grace", "7", &why), 0);
	CHECK_EQ_INT(config_set(c, "task.control_unix", "/run/ctl.sock", &why), 0);
	CHECK_EQ_INT(config_set(c, "task.main", "/bin/app -x", &why), 0);
	CHECK_EQ_INT(config_set(c, "task.main_exit", "stay", &why), 0);
	CHECK_EQ_INT(config_set(c, "task.max_conns", "9", &why), 0);
	CHECK_EQ_INT(config_set(c, "task.idle_timeout", "99", &why), 0);
	CHECK_EQ_INT(config_set(c, "task.max_line", "1000", &why), 0);
}

static char *repeat(char *dst, char ch, size_t n)
{
	memset(dst, ch, n);
	dst[n] = 0;
	return dst;
}

/* "w w w ..." with n words. */
static char *words(char *dst, const char *prefix, int n)
{
	size_t len = strlen(prefix);

	memcpy(dst, prefix, len);
	for (int i = 0; i < n; i++)
		len += (size_t)sprintf(dst + len, "%sw%d", i ? " " : "", i);
	dst[len] = 0;
	return dst;
}

/* ---- defaults and names ---- */

static void test_defaults(void)
{
	struct config c;

	memset(&c, 0x5a, sizeof(c));
	config_defaults(&c);
	CHECK(!c.debug);
	CHECK_EQ_INT(c.log_level, LL_INFO);
	CHECK_EQ_STR(c.hostname, "");
	CHECK_EQ_INT(c.control_port, 1024);
	CHECK_EQ_INT(c.debug_port, 1025);
	CHECK(!c.allow_any_cid);
	CHECK_EQ_INT(c.n_allow_cids, 1);
	CHECK_EQ_INT(c.allow_cids[0], 2);
	CHECK_EQ_INT(c.grace_s, 5);
	CHECK_EQ_STR(c.control_unix, "");
	CHECK_EQ_INT(c.main_action, MAIN_POWEROFF);
	CHECK_EQ_INT(c.max_conns, 64);
	CHECK_EQ_INT(c.idle_timeout_s, 300);
	CHECK_EQ_INT(c.max_line, 65536);
	CHECK_NO_MAIN(&c);
	CHECK_EQ_INT(c.main_buf_used, 0);
	CHECK(config_cid_allowed(&c, 2));
	CHECK(!config_cid_allowed(&c, 3));
	CHECK(!config_cid_allowed(&c, 0));
	CHECK(!config_cid_allowed(&c, 1));
	CHECK(!config_cid_allowed(&c, 0xffffffffu));
}

static void test_log_level_name(void)
{
	CHECK_EQ_STR(log_level_name(LL_ERROR), "error");
	CHECK_EQ_STR(log_level_name(LL_WARN), "warn");
	CHECK_EQ_STR(log_level_name(LL_INFO), "info");
	CHECK_EQ_STR(log_level_name(LL_DEBUG), "debug");
	CHECK_EQ_STR(log_level_name((enum log_level)4), "?");
	CHECK_EQ_STR(log_level_name((enum log_level) - 1), "?");
}

/* ---- config_set return values ---- */

static void test_config_set_returns(void)
{
	struct config c;
	const char *why = "stale";

	config_defaults(&c);
	CHECK_EQ_INT(config_set(&c, "task.grace", "9", &why), 0);
	CHECK(why == NULL);
	CHECK_EQ_INT(c.grace_s, 9);

	why = "stale";
	CHECK_EQ_INT(config_set(&c, "task.grace", "x", &why), -1);
	CHECK(why != NULL && *why);

	why = "stale";
	CHECK_EQ_INT(config_set(&c, "task.nope", "1", &why), 1);
	CHECK_EQ_INT(config_set(&c, "console", "ttyS0", &why), 1);
	CHECK_EQ_INT(config_set(&c, "grace", "1", &why), 1);
	CHECK_EQ_INT(config_set(&c, "task.", NULL, &why), 1);
	CHECK_EQ_INT(config_set(&c, "task", NULL, &why), 1);
	CHECK_EQ_INT(config_set(&c, "", NULL, &why), 1);
	CHECK_EQ_INT(config_set(&c, "task.GRACE", "1", &why), 1);
	CHECK_EQ_INT(config_set(&c, "Task.grace", "1", &why), 1);
	CHECK_EQ_INT(config_set(&c, "task.grace ", "1", &why), 1);
	CHECK_EQ_INT(c.grace_s, 9);
}

/* ---- every key, good values ---- */

static void test_debug_key(void)
{
	static const char *const on[] = {"task.debug", "task.debug=1", "task.debug=yes",
					 "task.debug=true", "task.debug=on"};
	static const char *const off[] = {"task.debug=0", "task.debug=no", "task.debug=false",
					  "task.debug=off"};
	struct config c;

	for (size_t i = 0; i < sizeof(on) / sizeof(on[0]); i++) {
		config_defaults(&c);
		CHECK_EQ_INT(cmdline(&c, on[i]), 0);
		CHECK(c.debug);
		/* ...and off again. */
		CHECK_EQ_INT(cmdline(&c, off[i % 4]), 0);
		CHECK(!c.debug);
	}
	config_defaults(&c);
	CHECK_EQ_INT(cmdline(&c, "task.debug task.debug=off task.debug=on"), 0);
	CHECK(c.debug);
}

static void test_log_level_key(void)
{
	struct config c;

	config_defaults(&c);
	CHECK_EQ_INT(cmdline(&c, "task.log_level=error"), 0);
	CHECK_EQ_INT(c.log_level, LL_ERROR);
	CHECK_EQ_INT(cmdline(&c, "task.log_level=warn"), 0);
	CHECK_EQ_INT(c.log_level, LL_WARN);
	CHECK_EQ_INT(cmdline(&c, "task.log_level=debug"), 0);
	CHECK_EQ_INT(c.log_level, LL_DEBUG);
	CHECK_EQ_INT(cmdline(&c, "task.log_level=info"), 0);
	CHECK_EQ_INT(c.log_level, LL_INFO);
}

static void test_hostname_key(void)
{
	struct config c;
	char line[200], h64[65];

	config_defaults(&c);
	CHECK_EQ_INT(cmdline(&c, "task.hostname=vm-1.example.org"), 0);
	CHECK_EQ_STR(c.hostname, "vm-1.example.org");
	CHECK_EQ_INT(cmdline(&c, "task.hostname=A9"), 0);
	CHECK_EQ_STR(c.hostname, "A9");
	/* 64 characters is the longest hostname. */
	repeat(h64, 'h', 64);
	snprintf(line, sizeof(line), "task.hostname=%s", h64);
	CHECK_EQ_INT(cmdline(&c, line), 0);
	CHECK_EQ_STR(c.hostname, h64);
}

static void test_port_keys(void)
{
	struct config c;

	config_defaults(&c);
	CHECK_EQ_INT(cmdline(&c, "task.control_port=0 task.debug_port=0"), 0);
	CHECK_EQ_INT(c.control_port, 0);
	CHECK_EQ_INT(c.debug_port, 0);
	CHECK_EQ_INT(cmdline(&c, "task.control_port=5000 task.debug_port=05001"), 0);
	CHECK_EQ_INT(c.control_port, 5000);
	CHECK_EQ_INT(c.debug_port, 5001);
	/* The largest port that is not VMADDR_PORT_ANY. */
	CHECK_EQ_INT(cmdline(&c, "task.control_port=4294967294 task.debug_port=4294967294"), 0);
	CHECK_EQ_INT(c.control_port, 4294967294u);
	CHECK_EQ_INT(c.debug_port, 4294967294u);
}

static void test_number_keys(void)
{
	struct config c;

	config_defaults(&c);
	CHECK_EQ_INT(cmdline(&c, "task.grace=0 task.max_conns=1 task.idle_timeout=1 "
				 "task.max_line=256"),
		     0);
	CHECK_EQ_INT(c.grace_s, 0);
	CHECK_EQ_INT(c.max_conns, 1);
	CHECK_EQ_INT(c.idle_timeout_s, 1);
	CHECK_EQ_INT(c.max_line, 256);
	CHECK_EQ_INT(cmdline(&c, "task.grace=3600 task.max_conns=4096 task.idle_timeout=86400 "
				 "task.max_line=16777216"),
		     0);
	CHECK_EQ_INT(c.grace_s, 3600);
	CHECK_EQ_INT(c.max_conns, 4096);
	CHECK_EQ_INT(c.idle_timeout_s, 86400);
	CHECK_EQ_INT(c.max_line, 16777216);
	/* The last value of a key wins. */
	CHECK_EQ_INT(cmdline(&c, "task.grace=1 task.grace=2"), 0);
	CHECK_EQ_INT(c.grace_s, 2);
}

static void test_main_exit_key(void)
{
	struct config c;

	config_defaults(&c);
	CHECK_EQ_INT(cmdline(&c, "task.main_exit=reboot"), 0);
	CHECK_EQ_INT(c.main_action, MAIN_REBOOT);
	CHECK_EQ_INT(cmdline(&c, "task.main_exit=stay"), 0);
	CHECK_EQ_INT(c.main_action, MAIN_STAY);
	CHECK_EQ_INT(cmdline(&c, "task.main_exit=poweroff"), 0);
	CHECK_EQ_INT(c.main_action, MAIN_POWEROFF);
}

static void test_control_unix_key(void)
{
	struct config c;
	char path[CONFIG_PATH_MAX + 1], line[CONFIG_PATH_MAX + 40];

	config_defaults(&c);
	CHECK_EQ_INT(cmdline(&c, "task.control_unix=/run/taskinit.sock"), 0);
	CHECK_EQ_STR(c.control_unix, "/run/taskinit.sock");
	/* 107 bytes plus the NUL fill sun_path exactly. */
	repeat(path, 'p', CONFIG_PATH_MAX - 1);
	path[0] = '/';
	snprintf(line, sizeof(line), "task.control_unix=%s", path);
	CHECK_EQ_INT(cmdline(&c, line), 0);
	CHECK_EQ_STR(c.control_unix, path);
}

/* The debug shell's keys (docs/debug-shell.md). */
static void test_debug_keys(void)
{
	struct config c;
	const char *why;

	config_defaults(&c);
	CHECK(!c.debug);
	CHECK_EQ_INT(c.debug_max, 4);
	CHECK_EQ_STR(c.debug_unix, "");
	CHECK_EQ_STR(c.debug_shell, "");
	CHECK_EQ_INT(cmdline(&c, "task.debug task.debug_unix=/io/debug.sock "
				 "task.debug_shell=/bin/ash task.debug_max=64"),
		     0);
	CHECK(c.debug);
	CHECK_EQ_STR(c.debug_unix, "/io/debug.sock");
	CHECK_EQ_STR(c.debug_shell, "/bin/ash");
	CHECK_EQ_INT(c.debug_max, 64);
	CHECK_EQ_INT(config_set(&c, "task.debug_max", "0", &why), -1);
	CHECK_EQ_INT(config_set(&c, "task.debug_max", "65", &why), -1);
	CHECK_EQ_INT(config_set(&c, "task.debug_shell", "", &why), -1);
	CHECK_EQ_INT(config_set(&c, "task.debug_unix", NULL, &why), -1);
	CHECK_EQ_INT(c.debug_max, 64);
	CHECK_EQ_STR(c.debug_shell, "/bin/ash");
}

static void test_main_key(void)
{
	struct config c;

	config_defaults(&c);
	CHECK_EQ_INT(cmdline(&c, "task.main=/bin/true"), 0);
	CHECK_MAIN(&c, "/bin/true");
	CHECK_EQ_INT(cmdline(&c, "task.main=\"/bin/app -x y\""), 0);
	CHECK_MAIN(&c, "/bin/app", "-x", "y");
	/* Tabs and runs of blanks inside the quotes split too; no shell. */
	CHECK_EQ_INT(cmdline(&c, "task.main=\"  /bin/sh\t-c   'echo hi'  \""), 0);
	CHECK_MAIN(&c, "/bin/sh", "-c", "'echo", "hi'");
	/* A later task.main replaces the earlier one entirely. */
	CHECK_EQ_INT(cmdline(&c, "task.main=/bin/a task.main=/bin/b"), 0);
	CHECK_MAIN(&c, "/bin/b");
	CHECK_EQ_INT(c.main_buf_used, strlen("/bin/b") + 1);

	/* 64 arguments fit. */
	char buf[1024];
	const char *why;
	config_defaults(&c);
	CHECK_EQ_INT(config_set(&c, "task.main", words(buf, "", 64), &why), 0);
	CHECK_EQ_INT(c.main_argc, 64);
	CHECK(main_sane(&c));
	CHECK_EQ_STR(c.main_argv[0], "w0");
	CHECK_EQ_STR(c.main_argv[63], "w63");
}

/* ---- every key, bad values: warn, and change nothing ---- */

struct bad {
	const char *key, *val;
};

static void test_bad_values_change_nothing(void)
{
	static char h65[66], u108[CONFIG_PATH_MAX + 1], w65[1024], cid17[128], cidlong[32];
	repeat(h65, 'h', 65);
	repeat(u108, 'u', CONFIG_PATH_MAX);
	words(w65, "", 65);
	strcpy(cid17, "1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17");
	strcpy(cidlong, "0000000000000002"); /* 16 characters */
	const struct bad bad[] = {
	    {"task.debug", "maybe"},
	    {"task.debug", ""},
	    {"task.debug", "2"},
	    {"task.log_level", NULL},
	    {"task.log_level", ""},
	    {"task.log_level", "verbose"},
	    {"task.log_level", "INFO"},
	    {"task.log_level", "3"},
	    {"task.hostname", NULL},
	    {"task.hostname", ""},
	    {"task.hostname", h65},
	    {"task.hostname", "bad_host"},
	    {"task.hostname", "has space"},
	    {"task.hostname", "a/b"},
	    {"task.hostname", "caf\xc3\xa9"},
	    {"task.control_port", NULL},
	    {"task.control_port", ""},
	    {"task.control_port", "-1"},
	    {"task.control_port", "+5"},
	    {"task.control_port", " 5"},
	    {"task.control_port", "5 "},
	    {"task.control_port", "0x10"},
	    {"task.control_port", "1e3"},
	    {"task.control_port", "4294967295"},
	    {"task.control_port", "99999999999999999999999"},
	    {"task.debug_port", "abc"},
	    {"task.debug_port", "4294967295"},
	    {"task.allow_cid", NULL},
	    {"task.allow_cid", ""},
	    {"task.allow_cid", "x"},
	    {"task.allow_cid", "2,x"},
	    {"task.allow_cid", ",2"},
	    {"task.allow_cid", "2,,3"},
	    {"task.allow_cid", "-1"},
	    {"task.allow_cid", "4294967296"},
	    {"task.allow_cid", "ANY"},
	    {"task.allow_cid", "anyx"},
	    {"task.allow_cid", "2 3"},
	    {"task.allow_cid", cid17},
	    {"task.allow_cid", cidlong},
	    {"task.grace", NULL},
	    {"task.grace", "3601"},
	    {"task.grace", "-1"},
	    {"task.grace", "5s"},
	    {"task.control_unix", NULL},
	    {"task.control_unix", ""},
	    {"task.control_unix", u108},
	    {"task.main", NULL},
	    {"task.main", ""},
	    {"task.main", "  \t "},
	    {"task.main", w65},
	    {"task.main_exit", NULL},
	    {"task.main_exit", ""},
	    {"task.main_exit", "halt"},
	    {"task.main_exit", "Poweroff"},
	    {"task.max_conns", NULL},
	    {"task.max_conns", "0"},
	    {"task.max_conns", "4097"},
	    {"task.idle_timeout", "0"},
	    {"task.idle_timeout", "86401"},
	    {"task.max_line", "255"},
	    {"task.max_line", "16777217"},
	    {"task.max_line", "0"},
	};
	struct config c, snap;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *why = NULL;
		int before = check_failed_in_test;

		config_custom(&c);
		memcpy(&snap, &c, sizeof(c));
		CHECK_EQ_INT(config_set(&c, bad[i].key, bad[i].val, &why), -1);
		CHECK(why != NULL && *why);
		CHECK_UNCHANGED(&c, &snap);
		if (check_failed_in_test != before)
			printf("    ^ config_set(\"%s\", %s%.40s%s)\n", bad[i].key,
			       bad[i].val ? "\"" : "", bad[i].val ? bad[i].val : "NULL",
			       bad[i].val ? "\"" : "");
	}
}

/* The same through the command line: one warning naming the word. */
static void test_bad_values_warn(void)
{
	struct config c, snap;

	config_custom(&c);
	memcpy(&snap, &c, sizeof(c));
	CHECK_EQ_INT(cmdline(&c, "task.grace=forever"), 1);
	CHECK_EQ_STR(W.word, "task.grace=forever");
	CHECK(strcmp(W.why, "unknown key") != 0 && W.why[0]);
	CHECK_EQ_INT(cmdline(&c, "task.log_level task.debug=maybe task.max_conns=0 "
				 "task.allow_cid=2,x task.main_exit=halt task.control_port=-1"),
		     6);
	CHECK_EQ_STR(W.word, "task.control_port=-1");
	CHECK_UNCHANGED(&c, &snap);
	/* The same from argv and environment. */
	CHECK_EQ_INT(argvp(&c, "init", "task.grace=forever", "task.max_line=1", NULL), 2);
	CHECK_EQ_STR(W.word, "task.max_line=1");
	CHECK_EQ_INT(env1(&c, "task.idle_timeout=0"), 1);
	CHECK_EQ_STR(W.word, "task.idle_timeout=0");
	CHECK_UNCHANGED(&c, &snap);
}

/* Bad values that a careless implementation applies before checking. */
static void test_bad_hostname_keeps_previous(void)
{
	struct config c;

	config_defaults(&c);
	CHECK_EQ_INT(cmdline(&c, "task.hostname=good-host"), 0);
	CHECK_EQ_INT(cmdline(&c, "task.hostname=bad_host"), 1);
	CHECK_EQ_STR(c.hostname, "good-host");
}

static void test_bad_main_keeps_previous(void)
{
	struct config c;
	char line[1024];

	config_defaults(&c);
	CHECK_EQ_INT(cmdline(&c, "task.main=\"/bin/app -x\""), 0);
	CHECK_EQ_INT(cmdline(&c, "task.main="), 1);
	CHECK_MAIN(&c, "/bin/app", "-x");
	CHECK_EQ_INT(cmdline(&c, "task.main=\"   \""), 1);
	CHECK_MAIN(&c, "/bin/app", "-x");
	/* 65 words: one more than CONFIG_MAX_MAIN_ARGS. */
	words(line, "task.main=\"", 65);
	strcat(line, "\"");
	CHECK_EQ_INT(cmdline(&c, line), 1);
	CHECK_MAIN(&c, "/bin/app", "-x");
}

/* ---- CID lists ---- */

static void test_allow_cid(void)
{
	struct config c;

	config_defaults(&c);
	CHECK_EQ_INT(cmdline(&c, "task.allow_cid=2,3"), 0);
	CHECK(!c.allow_any_cid);
	CHECK_EQ_INT(c.n_allow_cids, 2);
	CHECK_EQ_INT(c.allow_cids[0], 2);
	CHECK_EQ_INT(c.allow_cids[1], 3);
	CHECK(config_cid_allowed(&c, 2));
	CHECK(config_cid_allowed(&c, 3));
	CHECK(!config_cid_allowed(&c, 4));

	/* A new list replaces the old one (2 is no longer allowed). */
	CHECK_EQ_INT(cmdline(&c, "task.allow_cid=7"), 0);
	CHECK_EQ_INT(c.n_allow_cids, 1);
	CHECK(!config_cid_allowed(&c, 2));
	CHECK(config_cid_allowed(&c, 7));

	CHECK_EQ_INT(cmdline(&c, "task.allow_cid=any"), 0);
	CHECK(c.allow_any_cid);
	CHECK_EQ_INT(c.n_allow_cids, 0);
	CHECK(config_cid_allowed(&c, 0));
	CHECK(config_cid_allowed(&c, 12345));
	CHECK(config_cid_allowed(&c, 0xffffffffu));

	/* `any` is dropped again by a list without it. */
	CHECK_EQ_INT(cmdline(&c, "task.allow_cid=3"), 0);
	CHECK(!c.allow_any_cid);
	CHECK(!config_cid_allowed(&c, 12345));

	CHECK_EQ_INT(cmdline(&c, "task.allow_cid=any,5"), 0);
	CHECK(c.allow_any_cid);
	CHECK_EQ_INT(c.n_allow_cids, 1);
	CHECK_EQ_INT(c.allow_cids[0], 5);
	CHECK(config_cid_allowed(&c, 99));

	CHECK_EQ_INT(cmdline(&c, "task.allow_cid=0,4294967295"), 0);
	CHECK(!c.allow_any_cid);
	CHECK(config_cid_allowed(&c, 0));
	CHECK(config_cid_allowed(&c, 0xffffffffu));
	CHECK(!config_cid_allowed(&c, 2));

	/* 16 CIDs fit. */
	CHECK_EQ_INT(cmdline(&c, "task.allow_cid=10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25"),
		     0);
	CHECK_EQ_INT(c.n_allow_cids, 16);
	CHECK_EQ_INT(c.allow_cids[15], 25);
	CHECK(config_cid_allowed(&c, 25));
	CHECK(!config_cid_allowed(&c, 26));

	/* 17 do not: the previous 16 stay. */
	CHECK_EQ_INT(cmdline(&c, "task.allow_cid=1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17"), 1);
	CHECK_EQ_INT(c.n_allow_cids, 16);
	CHECK_EQ_INT(c.allow_cids[0], 10);
	CHECK(!config_cid_allowed(&c, 1));

	/* Junk: warned, nothing changes. */
	static const char *const junk[] = {
	    "task.allow_cid",	  "task.allow_cid=",	       "task.allow_cid=x",
	    "task.allow_cid=2,x", "task.allow_cid=,",	       "task.allow_cid=2,,3",
	    "task.allow_cid=-2",  "task.allow_cid=4294967296", "task.allow_cid=any;2",
	    "task.allow_cid=0x2"};
	for (size_t i = 0; i < sizeof(junk) / sizeof(junk[0]); i++) {
		struct config snap;
		config_defaults(&c);
		memcpy(&snap, &c, sizeof(c));
		CHECK_EQ_INT(cmdline(&c, junk[i]), 1);
		CHECK_UNCHANGED(&c, &snap);
		CHECK(config_cid_allowed(&c, 2));
	}

	/* A trailing comma is accepted as the end of the list (current
	 * behaviour, lenient like the kernel's own list parsers). */
	config_defaults(&c);
	CHECK_EQ_INT(cmdline(&c, "task.allow_cid=3,"), 0);
	CHECK_EQ_INT(c.n_allow_cids, 1);
	CHECK_EQ_INT(c.allow_cids[0], 3);
}

/* ---- quotes, words, whitespace ---- */

static void test_quotes(void)
{
	struct config c;

	config_defaults(&c);
	CHECK_EQ_INT(cmdline(&c, "task.hostname=\"quoted\""), 0);
	CHECK_EQ_STR(c.hostname, "quoted");
	/* Quotes are removed wherever they are in the word. */
	CHECK_EQ_INT(cmdline(&c, "\"task.hostname=whole\""), 0);
	CHECK_EQ_STR(c.hostname, "whole");
	CHECK_EQ_INT(cmdline(&c, "task.host\"name=mid\"dle"), 0);
	CHECK_EQ_STR(c.hostname, "middle");
	CHECK_EQ_INT(cmdline(&c, "task.hostname=a\"\"b"), 0);
	CHECK_EQ_STR(c.hostname, "ab");
	/* A quoted space keeps a non-task word whole: task.debug inside it
	 * is not a word of its own. */
	CHECK_EQ_INT(cmdline(&c, "dyndbg=\"file x task.debug\" quiet"), 0);
	CHECK(!c.debug);
	/* A quoted value with spaces for a key that does not split is one
	 * bad value. */
	CHECK_EQ_INT(cmdline(&c, "task.hostname=\"a b\""), 1);
	CHECK_EQ_STR(W.word, "task.hostname=a b");
	/* An unterminated quote runs to the end of the line. */
	config_defaults(&c);
	CHECK_EQ_INT(cmdline(&c, "task.main=\"/bin/app one two"), 0);
	CHECK_MAIN(&c, "/bin/app", "one", "two");
	config_defaults(&c);
	CHECK_EQ_INT(cmdline(&c, "\"task.debug"), 0);
	CHECK(c.debug);
}

static void test_whitespace(void)
{
	struct config c, snap;

	config_defaults(&c);
	memcpy(&snap, &c, sizeof(c));
	CHECK_EQ_INT(cmdline(&c, ""), 0);
	CHECK_EQ_INT(cmdline(&c, "   \t\n"), 0);
	CHECK_UNCHANGED(&c, &snap);
	/* /proc/cmdline ends in a newline; tabs separate too. */
	CHECK_EQ_INT(cmdline(&c, "  task.grace=3\ttask.max_conns=4\n"), 0);
	CHECK_EQ_INT(c.grace_s, 3);
	CHECK_EQ_INT(c.max_conns, 4);
	/* A NULL warn callback is allowed. */
	config_parse_cmdline(&c, "task.nope task.grace=x task.grace=8", NULL, NULL);
	CHECK_EQ_INT(c.grace_s, 8);
	config_parse_env(&c, NULL, rec_warn, &W);
}

static void test_non_task_words_ignored(void)
{
	struct config c, snap;

	config_defaults(&c);
	memcpy(&snap, &c, sizeof(c));
	CHECK_EQ_INT(cmdline(&c, "BOOT_IMAGE=/vmlinuz console=ttyS0,115200 root=/dev/vda rw "
				 "quiet init=/sbin/init panic=-1 vsock.debug=1 tasks.debug "
				 "xtask.debug TASK.debug Task.grace=1 task =1 = task"),
		     0);
	CHECK_UNCHANGED(&c, &snap);
	CHECK_EQ_INT(argvp(&c, "task.debug", "console=ttyS0", "single", "-s", NULL), 0);
	CHECK_UNCHANGED(&c, &snap); /* argv[0] is not an option */
	char *envp[] = {"HOME=/", "TERM=linux", "PATH=/bin", "debug=1", NULL};
	memset(&W, 0, sizeof(W));
	config_parse_env(&c, envp, rec_warn, &W);
	CHECK_EQ_INT(W.n, 0);
	CHECK_UNCHANGED(&c, &snap);
}

static void test_unknown_task_keys_warn(void)
{
	struct config c, snap;
	char line[300], key[100];

	config_defaults(&c);
	memcpy(&snap, &c, sizeof(c));
	CHECK_EQ_INT(cmdline(&c, "task.nope"), 1);
	CHECK_EQ_STR(W.word, "task.nope");
	CHECK_EQ_STR(W.why, "unknown key");
	CHECK_EQ_INT(cmdline(&c, "task.nope=1 task.DEBUG task.debug_shel=1 task."), 4);
	CHECK_EQ_STR(W.word, "task.");
	CHECK_EQ_STR(W.why, "unknown key");
	/* A key longer than any known one (64+ characters). */
	repeat(key, 'k', 80);
	snprintf(line, sizeof(line), "task.%s=1", key);
	CHECK_EQ_INT(cmdline(&c, line), 1);
	CHECK_EQ_STR(W.why, "unknown key");
	snprintf(line, sizeof(line), "task.%s", key);
	CHECK_EQ_INT(cmdline(&c, line), 1);
	CHECK_UNCHANGED(&c, &snap);
	/* From argv and environment as well. */
	CHECK_EQ_INT(argvp(&c, "init", "task.nope=2", NULL), 1);
	CHECK_EQ_STR(W.word, "task.nope=2");
	CHECK_EQ_INT(env1(&c, "task.nope=3"), 1);
	CHECK_EQ_STR(W.why, "unknown key");
	CHECK_UNCHANGED(&c, &snap);
}

static void test_overlong_words(void)
{
	struct config c, snap;
	char *line = malloc(3 * CONFIG_MAIN_BUF);

	/* A 4096-character word is too long for the word buffer: warned,
	 * ignored, and the words after it still count. */
	config_defaults(&c);
	memcpy(&snap, &c, sizeof(c));
	strcpy(line, "task.hostname=");
	repeat(line + strlen(line), 'a', CONFIG_MAIN_BUF - strlen(line));
	CHECK_EQ_INT(strlen(line), CONFIG_MAIN_BUF);
	CHECK_EQ_INT(cmdline(&c, line), 1);
	CHECK_EQ_STR(W.word, "(long word)");
	CHECK_UNCHANGED(&c, &snap);
	strcat(line, " task.grace=1");
	CHECK_EQ_INT(cmdline(&c, line), 1);
	CHECK_EQ_INT(c.grace_s, 1);
	CHECK_EQ_STR(c.hostname, "");

	/* 4095 characters still fit: a non-task word is silently ignored,
	 * an over-long hostname value is a bad value. */
	config_defaults(&c);
	repeat(line, 'x', CONFIG_MAIN_BUF - 1);
	CHECK_EQ_INT(cmdline(&c, line), 0);
	memcpy(line, "task.hostname=", 14);
	CHECK_EQ_INT(cmdline(&c, line), 1);
	CHECK(strcmp(W.word, "(long word)") != 0);
	CHECK_EQ_STR(c.hostname, "");

	/* Quotes do not count towards the length. */
	config_defaults(&c);
	strcpy(line, "\"task.main=");
	repeat(line + strlen(line), 'm', CONFIG_MAIN_BUF - 1 - strlen("task.main="));
	strcat(line, "\"");
	CHECK_EQ_INT(cmdline(&c, line), 0);
	CHECK_EQ_INT(c.main_argc, 1);
	CHECK_EQ_INT(strlen(c.main_argv[0]), CONFIG_MAIN_BUF - 1 - strlen("task.main="));
	CHECK(main_sane(&c));
	free(line);
}

/* ---- `--` and the main argv ---- */

static void test_cmdline_dashes(void)
{
	struct config c;

	config_defaults(&c);
	CHECK_EQ_INT(cmdline(&c, "console=ttyS0 task.grace=2 -- /bin/app -x \"a b\" task.grace=9"),
		     0);
	CHECK_MAIN(&c, "/bin/app", "-x", "a b", "task.grace=9");
	CHECK_EQ_INT(c.grace_s, 2); /* words after -- are not options */
	/* A second -- is an ordinary argument. */
	config_defaults(&c);
	CHECK_EQ_INT(cmdline(&c, "-- /bin/app -- x"), 0);
	CHECK_MAIN(&c, "/bin/app", "--", "x");
	/* `--` must be a whole word to count. */
	config_defaults(&c);
	CHECK_EQ_INT(cmdline(&c, "--x task.grace=4 ---"), 0);
	CHECK_NO_MAIN(&c);
	CHECK_EQ_INT(c.grace_s, 4);
	/* A quoted "--" is the bare word -- after quote removal. */
	config_defaults(&c);
	CHECK_EQ_INT(cmdline(&c, "\"--\" /bin/q"), 0);
	CHECK_MAIN(&c, "/bin/q");
	/* Nothing after --: no main. */
	config_defaults(&c);
	CHECK_EQ_INT(cmdline(&c, "task.debug --"), 0);
	CHECK(c.debug);
	CHECK_NO_MAIN(&c);
	CHECK_EQ_INT(cmdline(&c, "-- \t "), 0);
	CHECK_NO_MAIN(&c);
}

static void test_cmdline_dashes_keep_main_set_before(void)
{
	struct config c;
	const char *why;

	/* A main set before the call (from argv, say) is kept; the words
	 * after -- are dropped without warnings. */
	config_defaults(&c);
	CHECK_EQ_INT(config_set(&c, "task.main", "/bin/first arg", &why), 0);
	CHECK_EQ_INT(cmdline(&c, "task.grace=1 -- /bin/second x y"), 0);
	CHECK_MAIN(&c, "/bin/first", "arg");
	CHECK_EQ_INT(c.grace_s, 1);
}

static void test_cmdline_dashes_keep_main_set_earlier_in_line(void)
{
	struct config c;

	/* init.h: "everything after a bare `--` becomes the main task's argv
	 * unless one is already set" -- a task.main earlier on the same line
	 * has already set it. */
	config_defaults(&c);
	CHECK_EQ_INT(cmdline(&c, "task.main=/bin/first -- /bin/second x"), 0);
	CHECK_MAIN(&c, "/bin/first");
}

static void test_cmdline_dashes_too_many_args(void)
{
	struct config c;
	char line[1024];

	/* 64 words after -- fit. */
	config_defaults(&c);
	CHECK_EQ_INT(cmdline(&c, words(line, "-- ", 64)), 0);
	CHECK_EQ_INT(c.main_argc, 64);
	CHECK_EQ_STR(c.main_argv[63], "w63");
	CHECK(main_sane(&c));
	/* 66 words: one warning, and no main task at all rather than one
	 * with arguments missing. */
	config_defaults(&c);
	CHECK_EQ_INT(cmdline(&c, words(line, "-- ", 66)), 1);
	CHECK_EQ_STR(W.word, "--");
	CHECK_EQ_STR(W.why, "main command too long: no main task");
	CHECK(main_sane(&c));
	CHECK_EQ_INT(c.main_argc, 0);
}

static void test_argv(void)
{
	struct config c;

	config_defaults(&c);
	CHECK_EQ_INT(argvp(&c, "/sbin/init", "task.debug", "task.log_level=debug", "single",
			   "task.hostname=argv-host", "--", "/bin/app", "-x", "two words",
			   "task.grace=9", "--", NULL),
		     0);
	CHECK(c.debug);
	CHECK_EQ_INT(c.log_level, LL_DEBUG);
	CHECK_EQ_STR(c.hostname, "argv-host");
	CHECK_EQ_INT(c.grace_s, 5);
	CHECK_MAIN(&c, "/bin/app", "-x", "two words", "task.grace=9", "--");

	/* Quotes in argv are not removed: the kernel already did that. */
	config_defaults(&c);
	CHECK_EQ_INT(argvp(&c, "init", "task.hostname=\"x\"", NULL), 1);
	CHECK_EQ_STR(c.hostname, "");

	/* No --: an earlier main stays. */
	config_defaults(&c);
	CHECK_EQ_INT(cmdline(&c, "task.main=/bin/keep"), 0);
	CHECK_EQ_INT(argvp(&c, "init", "task.grace=1", NULL), 0);
	CHECK_MAIN(&c, "/bin/keep");
	/* argv's -- replaces it (argv wins over the command line). */
	CHECK_EQ_INT(argvp(&c, "init", "--", "/bin/new", NULL), 0);
	CHECK_MAIN(&c, "/bin/new");
	CHECK_EQ_INT(c.main_buf_used, strlen("/bin/new") + 1);

	/* Only argv[0]: nothing happens. */
	config_defaults(&c);
	CHECK_EQ_INT(argvp(&c, "task.debug", NULL), 0);
	CHECK(!c.debug);
	config_parse_argv(&c, 0, NULL, rec_warn, &W);
	CHECK_NO_MAIN(&c);
}

static void test_argv_too_many_args(void)
{
	struct config c;
	char *av[70];
	char names[70][8];

	av[0] = "init";
	av[1] = "--";
	for (int i = 2; i < 70; i++) {
		snprintf(names[i], sizeof(names[i]), "a%d", i - 2);
		av[i] = names[i];
	}
	/* 64 arguments fit. */
	config_defaults(&c);
	memset(&W, 0, sizeof(W));
	config_parse_argv(&c, 2 + 64, av, rec_warn, &W);
	CHECK_EQ_INT(W.n, 0);
	CHECK_EQ_INT(c.main_argc, 64);
	CHECK_EQ_STR(c.main_argv[63], "a63");
	CHECK(main_sane(&c));
	/* 65 do not: one warning, and no truncated command is kept. */
	memset(&W, 0, sizeof(W));
	config_parse_argv(&c, 2 + 65, av, rec_warn, &W);
	CHECK_EQ_INT(W.n, 1);
	CHECK_EQ_STR(W.word, "a64");
	CHECK_NO_MAIN(&c);

	/* Too many bytes for main_buf: 2 x 2500 bytes. */
	char *big = malloc(2501);
	repeat(big, 'b', 2500);
	char *av2[] = {"init", "--", big, big, NULL};
	config_defaults(&c);
	memset(&W, 0, sizeof(W));
	config_parse_argv(&c, 4, av2, rec_warn, &W);
	CHECK_EQ_INT(W.n, 1);
	CHECK_NO_MAIN(&c);
	/* ...while one of them fits. */
	config_parse_argv(&c, 3, av2, rec_warn, &W);
	CHECK_EQ_INT(c.main_argc, 1);
	CHECK_EQ_INT(strlen(c.main_argv[0]), 2500);
	CHECK(main_sane(&c));
	free(big);
}

static void test_env(void)
{
	struct config c;
	char *envp[] = {"HOME=/",	 "task.debug=1",     "TERM=linux",
			"task.grace=11", "task.main=/bin/e", "task.hostname=env-host",
			"task.nope=1",	 "task.grace=oops",  NULL};

	config_defaults(&c);
	memset(&W, 0, sizeof(W));
	config_parse_env(&c, envp, rec_warn, &W);
	CHECK_EQ_INT(W.n, 2);
	CHECK_EQ_STR(W.word, "task.grace=oops");
	CHECK(c.debug);
	CHECK_EQ_INT(c.grace_s, 11);
	CHECK_EQ_STR(c.hostname, "env-host");
	CHECK_MAIN(&c, "/bin/e");
	/* In the environment the value keeps its spaces and quotes. */
	CHECK_EQ_INT(env1(&c, "task.main=/bin/sh -c \"x\""), 0);
	CHECK_MAIN(&c, "/bin/sh", "-c", "\"x\"");
}

/* The order main.c uses: argv's main first, then the command line with
 * its own --, which must not replace it. */
static void test_boot_order(void)
{
	struct config c;

	config_defaults(&c);
	CHECK_EQ_INT(argvp(&c, "/init", "--", "/bin/app", "arg", NULL), 0);
	CHECK_EQ_INT(cmdline(&c, "console=ttyS0 task.debug -- /bin/app arg\n"), 0);
	CHECK(c.debug);
	CHECK_MAIN(&c, "/bin/app", "arg");
	CHECK_EQ_INT(c.main_buf_used, strlen("/bin/app") + strlen("arg") + 2);
}

int main(void)
{
	RUN(test_defaults);
	RUN(test_log_level_name);
	RUN(test_config_set_returns);
	RUN(test_debug_key);
	RUN(test_log_level_key);
	RUN(test_hostname_key);
	RUN(test_port_keys);
	RUN(test_number_keys);
	RUN(test_main_exit_key);
	RUN(test_control_unix_key);
	RUN(test_main_key);
	RUN(test_bad_values_change_nothing);
	RUN(test_bad_values_warn);
	RUN(test_bad_hostname_keeps_previous);
	RUN(test_bad_main_keeps_previous);
	RUN(test_allow_cid);
	RUN(test_quotes);
	RUN(test_whitespace);
	RUN(test_non_task_words_ignored);
	RUN(test_unknown_task_keys_warn);
	RUN(test_overlong_words);
	RUN(test_cmdline_dashes);
	RUN(test_cmdline_dashes_keep_main_set_before);
	RUN(test_cmdline_dashes_keep_main_set_earlier_in_line);
	RUN(test_cmdline_dashes_too_many_args);
	RUN(test_argv);
	RUN(test_argv_too_many_args);
	RUN(test_env);
	RUN(test_debug_keys);
	RUN(test_boot_order);
	return check_summary();
}
