/* libFuzzer target for init/cmdline.c.
 *
 * The first input byte picks options; the rest is used three ways:
 * 1. as a kernel command line (NUL bytes read as spaces) for
 *    config_parse_cmdline, optionally over a main set beforehand (which a
 *    `--` on the line must never replace);
 * 2. split at NUL bytes into argv words for config_parse_argv, and the same
 *    words as an environment for config_parse_env;
 * 3. as the value of one known key for config_set: a refused value must
 *    leave the config unchanged, an accepted one must be stored as given.
 * After every step the config invariants hold: main_argv NULL-terminated
 * with main_argc strings laid out in main_buf, at most 16 CIDs, strings
 * NUL-terminated, every number in its documented range. Every violation
 * aborts. Runs with no corpus and no options. */
#include "init/init.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/fuzz/require.h"

#define MAX_WORDS 256

static unsigned n_warns;

static void warn_cb(void *ctx, const char *word, const char *why)
{
	REQUIRE(ctx == &n_warns);
	REQUIRE(word != NULL && why != NULL && *why);
	/* Both must be readable, NUL-terminated strings (ASan checks). */
	volatile size_t n = strlen(word) + strlen(why);
	(void)n;
	n_warns++;
}

static void check_config(const struct config *c)
{
	size_t used = 0;

	REQUIRE(c->main_argc >= 0 && c->main_argc <= CONFIG_MAX_MAIN_ARGS);
	REQUIRE(c->main_argv[c->main_argc] == NULL);
	REQUIRE(c->main_buf_used <= CONFIG_MAIN_BUF);
	for (int i = 0; i < c->main_argc; i++) {
		const char *s = c->main_argv[i];
		/* Laid out one after another in main_buf. */
		REQUIRE(s == c->main_buf + used);
		const char *nul = memchr(s, 0, c->main_buf_used - used);
		REQUIRE(nul != NULL);
		used += (size_t)(nul - s) + 1;
	}
	REQUIRE(used == c->main_buf_used);

	REQUIRE(c->n_allow_cids <= CONFIG_MAX_CIDS);
	for (unsigned i = 0; i < c->n_allow_cids; i++)
		REQUIRE(config_cid_allowed(c, c->allow_cids[i]));
	/* CIDs not in the list are refused unless `any` is set. */
	for (uint32_t cid = 0; cid <= CONFIG_MAX_CIDS + 1; cid++) {
		int listed = 0;
		for (unsigned i = 0; i < c->n_allow_cids; i++)
			listed |= c->allow_cids[i] == cid;
		REQUIRE(config_cid_allowed(c, cid) == (c->allow_any_cid || listed));
	}

	REQUIRE(memchr(c->hostname, 0, sizeof(c->hostname)) != NULL);
	for (const char *p = c->hostname; *p; p++)
		REQUIRE(isalnum((unsigned char)*p) || *p == '-' || *p == '.');
	REQUIRE(memchr(c->control_unix, 0, sizeof(c->control_unix)) != NULL);

	REQUIRE((unsigned)c->log_level <= LL_DEBUG);
	REQUIRE(strcmp(log_level_name(c->log_level), "?") != 0);
	REQUIRE((unsigned)c->main_action <= MAIN_STAY);
	REQUIRE(c->control_port != 0xffffffffu && c->debug_port != 0xffffffffu);
	REQUIRE(c->grace_s <= 3600);
	REQUIRE(c->max_conns >= 1 && c->max_conns <= 4096);
	REQUIRE(c->idle_timeout_s >= 1 && c->idle_timeout_s <= 86400);
	REQUIRE(c->max_line >= 256 && c->max_line <= 16u << 20);
	REQUIRE(c->debug_max >= 1 && c->debug_max <= 64);
	REQUIRE(memchr(c->debug_unix, 0, sizeof(c->debug_unix)) != NULL);
	REQUIRE(memchr(c->debug_shell, 0, sizeof(c->debug_shell)) != NULL);
}

/* No string the command line produced can hold a double quote: the word
 * splitter removes them all. */
static void check_no_quotes(const struct config *c)
{
	REQUIRE(!strchr(c->hostname, '"'));
	REQUIRE(!strchr(c->control_unix, '"'));
	for (int i = 0; i < c->main_argc; i++)
		REQUIRE(!strchr(c->main_argv[i], '"'));
}

static const char *const keys[] = {
    "task.debug",      "task.log_level", "task.hostname",  "task.control_port",
    "task.debug_port", "task.allow_cid", "task.grace",	   "task.control_unix",
    "task.main",       "task.main_exit", "task.max_conns", "task.idle_timeout",
    "task.max_line",   "task.nope",	 "console",	   "task.",
};

static void fuzz_config_set(const char *key, const char *val)
{
	struct config c, snap;
	const char *why = "stale";
	unsigned long v;
	char *end;

	config_defaults(&c);
	REQUIRE(config_set(&c, "task.hostname", "pre-set", &why) == 0);
	REQUIRE(config_set(&c, "task.main", "/bin/pre x", &why) == 0);
	REQUIRE(config_set(&c, "task.allow_cid", "3,4", &why) == 0);
	memcpy(&snap, &c, sizeof(c));
	int r = config_set(&c, key, val, &why);
	REQUIRE(r >= -1 && r <= 1);
	check_config(&c);
	if (r == -1)
		REQUIRE(why != NULL && *why);
	else
		REQUIRE(why == NULL);
	if (r != 0)
		REQUIRE(memcmp(&c, &snap, sizeof(c)) == 0);
	if (r != 0 || !val)
		return;
	/* Accepted: the value is stored as given. */
	if (!strcmp(key, "task.hostname"))
		REQUIRE(!strcmp(c.hostname, val));
	if (!strcmp(key, "task.control_unix"))
		REQUIRE(!strcmp(c.control_unix, val));
	if (!strcmp(key, "task.log_level"))
		REQUIRE(!strcmp(log_level_name(c.log_level), val));
	if (!strcmp(key, "task.grace") || !strcmp(key, "task.max_conns") ||
	    !strcmp(key, "task.control_port")) {
		REQUIRE(isdigit((unsigned char)val[0]));
		v = strtoul(val, &end, 10);
		REQUIRE(*end == 0);
		REQUIRE(v == (!strcmp(key, "task.grace")       ? c.grace_s
			      : !strcmp(key, "task.max_conns") ? c.max_conns
							       : c.control_port));
	}
	if (!strcmp(key, "task.main")) {
		REQUIRE(c.main_argc > 0);
		for (int i = 0; i < c.main_argc; i++)
			REQUIRE(*c.main_argv[i] && !strpbrk(c.main_argv[i], " \t"));
	}
}

static void run(unsigned flags, const uint8_t *data, size_t size)
{
	struct config c;
	char *line, *words, *argv[MAX_WORDS + 2], *envp[MAX_WORDS + 1];
	int argc = 0;

	/* 1. The command line. */
	line = malloc(size + 1);
	for (size_t i = 0; i < size; i++)
		line[i] = data[i] ? (char)data[i] : ' ';
	line[size] = 0;
	config_defaults(&c);
	if (flags & 1) {
		const char *why;
		REQUIRE(config_set(&c, "task.main", "/bin/pre x", &why) == 0);
	}
	n_warns = 0;
	config_parse_cmdline(&c, line, (flags & 2) ? NULL : warn_cb, &n_warns);
	check_config(&c);
	check_no_quotes(&c);
	if (flags & 1) {
		/* Without a task.main word, the main set before stays. */
		char *unquoted = malloc(size + 1);
		size_t n = 0;
		for (size_t i = 0; i < size; i++)
			if (line[i] != '"')
				unquoted[n++] = line[i];
		unquoted[n] = 0;
		if (!strstr(unquoted, "task.main")) {
			REQUIRE(c.main_argc == 2);
			REQUIRE(!strcmp(c.main_argv[0], "/bin/pre"));
			REQUIRE(!strcmp(c.main_argv[1], "x"));
		}
		free(unquoted);
	}

	/* 2. argv and environment: words split at NUL bytes. */
	words = malloc(size + 1);
	memcpy(words, data, size);
	words[size] = 0;
	argv[argc++] = "init";
	for (size_t i = 0; i < size && argc < MAX_WORDS + 1;) {
		argv[argc++] = words + i;
		i += strlen(words + i) + 1;
	}
	argv[argc] = NULL;
	if (!(flags & 4))
		config_defaults(&c); /* else on top of the command line's result */
	config_parse_argv(&c, argc, argv, warn_cb, &n_warns);
	check_config(&c);
	for (int i = 0; i < argc - 1; i++)
		envp[i] = argv[i + 1];
	envp[argc - 1] = NULL;
	config_parse_env(&c, envp, warn_cb, &n_warns);
	check_config(&c);

	/* 3. One key with the first word (or nothing) as its value. */
	const char *key = keys[(flags >> 3) % (sizeof(keys) / sizeof(keys[0]))];
	fuzz_config_set(key, (flags & 0x80) ? NULL : words);

	free(words);
	free(line);
}

/* Random bytes seldom spell a key, so each byte also picks a token; the
 * expanded text goes through the same steps ("\x01" becomes a NUL, which
 * separates argv words). */
static const char *const tokens[] = {
    "task.",
    "task.main=",
    "task.debug",
    "=",
    "\"",
    " ",
    " ",
    "\t",
    "\n",
    "--",
    "debug",
    "hostname",
    "allow_cid",
    "any",
    ",",
    "2",
    "3",
    "0",
    "4294967295",
    "poweroff",
    "stay",
    "reboot",
    "main_exit",
    "log_level",
    "warn",
    "control_port",
    "debug_port",
    "grace",
    "control_unix",
    "max_conns",
    "idle_timeout",
    "max_line",
    "main",
    "/bin/sh",
    "-c",
    "x",
    "_",
    ".",
    "a-b",
    "\x01",
    "1",
    "65536",
    "LONG",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char long_tok[1025];
	unsigned flags = size ? data[0] : 0;

	if (size) {
		data++;
		size--;
	}
	run(flags, data, size);

	if (!long_tok[0])
		memset(long_tok, 'L', sizeof(long_tok) - 1);
	char *text = malloc(size * (sizeof(long_tok) - 1) + 1);
	size_t n = 0;
	for (size_t i = 0; i < size; i++) {
		const char *t = tokens[data[i] % (sizeof(tokens) / sizeof(tokens[0]))];
		if (!strcmp(t, "LONG"))
			t = long_tok;
		size_t k = strlen(t);
		memcpy(text + n, t, k);
		n += k;
	}
	for (size_t i = 0; i < n; i++)
		if (text[i] == 1)
			text[i] = 0;
	run(flags, (const uint8_t *)text, n);
	free(text);
	return 0;
}
