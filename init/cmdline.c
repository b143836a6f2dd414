/* Kernel command line and task.* keys. Pure: no I/O, no agent. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "init/init.h"

static const char *const level_names[] = {"error", "warn", "info", "debug"};

const char *log_level_name(enum log_level l)
{
	return (unsigned)l < 4 ? level_names[l] : "?";
}

void config_defaults(struct config *c)
{
	memset(c, 0, sizeof(*c));
	c->log_level = LL_INFO;
	c->control_port = 1024;
	c->debug_port = 1025;
	c->debug_max = 4;
	c->n_allow_cids = 1;
	c->allow_cids[0] = 2; /* VMADDR_CID_HOST */
	c->grace_s = 5;
	c->main_action = MAIN_POWEROFF;
	c->max_conns = 64;
	c->idle_timeout_s = 300;
	c->max_line = 65536;
	c->ring_size = 1 << 20;
	c->ring_budget = 64 << 20;
	c->drain_ms = 250;
	strcpy(c->cgroup, "/sys/fs/cgroup/taskinit");
	strcpy(c->boot_tasks, "/etc/taskinit/tasks");
	strcpy(c->rootfstype, "ext4");
	c->root_wait_s = 10;
	net_config_defaults(&c->net);
}

static int parse_uint(const char *s, unsigned long min, unsigned long max, unsigned long *out)
{
	char *end;

	if (!s || !*s || !isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

static int parse_bool(const char *val, bool *out)
{
	if (!val || !strcmp(val, "1") || !strcmp(val, "yes") || !strcmp(val, "true") ||
	    !strcmp(val, "on")) {
		*out = true;
		return 0;
	}
	if (!strcmp(val, "0") || !strcmp(val, "no") || !strcmp(val, "false") ||
	    !strcmp(val, "off")) {
		*out = false;
		return 0;
	}
	return -1;
}

static int parse_cid_list(struct config *c, const char *val, const char **why)
{
	struct config tmp = *c;
	const char *p = val;

	if (!val || !*val) {
		*why = "expected a CID list or 'any'";
		return -1;
	}
	tmp.allow_any_cid = false;
	tmp.n_allow_cids = 0;
	while (*p) {
		size_t n = strcspn(p, ",");
		char word[16];
		unsigned long cid;

		if (n == 0 || n >= sizeof(word)) {
			*why = "bad CID list";
			return -1;
		}
		memcpy(word, p, n);
		word[n] = 0;
		if (!strcmp(word, "any")) {
			tmp.allow_any_cid = true;
		} else if (parse_uint(word, 0, 0xffffffffUL, &cid) == 0) {
			if (tmp.n_allow_cids == CONFIG_MAX_CIDS) {
				*why = "too many CIDs (max 16)";
				return -1;
			}
			tmp.allow_cids[tmp.n_allow_cids++] = (uint32_t)cid;
		} else {
			*why = "CIDs are numbers, or 'any'";
			return -1;
		}
		p += n;
		if (*p == ',')
			p++;
	}
	c->allow_any_cid = tmp.allow_any_cid;
	c->n_allow_cids = tmp.n_allow_cids;
	memcpy(c->allow_cids, tmp.allow_cids, sizeof(c->allow_cids));
	return 0;
}

bool config_cid_allowed(const struct config *c, uint32_t cid)
{
	if (c->allow_any_cid)
		return true;
	for (unsigned i = 0; i < c->n_allow_cids; i++)
		if (c->allow_cids[i] == cid)
			return true;
	return false;
}

static void main_argv_reset(struct config *c)
{
	c->main_argc = 0;
	c->main_argv[0] = NULL;
	c->main_buf_used = 0;
}

static int main_argv_push(struct config *c, const char *s, size_t n)
{
	if (c->main_argc >= CONFIG_MAX_MAIN_ARGS || c->main_buf_used + n + 1 > CONFIG_MAIN_BUF)
		return -1;
	char *dst = c->main_buf + c->main_buf_used;
	memcpy(dst, s, n);
	dst[n] = 0;
	c->main_buf_used += n + 1;
	c->main_argv[c->main_argc++] = dst;
	c->main_argv[c->main_argc] = NULL;
	return 0;
}

/* task.main="prog arg1 arg2": split on whitespace; no shell is involved.
 * Parsed into a copy so that a bad value leaves the previous one intact. */
static int set_main_from_string(struct config *c, const char *val, const char **why)
{
	static const struct config empty;
	struct config tmp = empty;
	const char *p = val;

	while (*p) {
		while (*p == ' ' || *p == '\t')
			p++;
		size_t n = strcspn(p, " \t");
		if (n == 0)
			break;
		if (main_argv_push(&tmp, p, n) < 0) {
			*why = "main command too long";
			return -1;
		}
		p += n;
	}
	if (tmp.main_argc == 0) {
		*why = "empty main command";
		return -1;
	}
	main_argv_reset(c);
	for (int i = 0; i < tmp.main_argc; i++)
		main_argv_push(c, tmp.main_argv[i], strlen(tmp.main_argv[i]));
	return 0;
}

static int set_string(char *dst, size_t cap, const char *val, const char **why)
{
	if (!val || !*val) {
		*why = "expected a value";
		return -1;
	}
	if (strlen(val) >= cap) {
		*why = "value too long";
		return -1;
	}
	strcpy(dst, val);
	return 0;
}

static int set_hostname(struct config *c, const char *val, const char **why)
{
	char tmp[sizeof(c->hostname)];

	if (set_string(tmp, sizeof(tmp), val, why) < 0)
		return -1;
	for (const char *p = val; *p; p++) {
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '.') {
			*why = "hostname may hold letters, digits, '-' and '.' only";
			return -1;
		}
	}
	memcpy(c->hostname, tmp, sizeof(tmp));
	return 0;
}

static int set_uint_key(unsigned *dst, const char *val, unsigned long min, unsigned long max,
			const char **why, const char *range_msg)
{
	unsigned long v;

	if (parse_uint(val, min, max, &v) < 0) {
		*why = range_msg;
		return -1;
	}
	*dst = (unsigned)v;
	return 0;
}

int parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long x;
	int shift = 0;

	if (!s || !isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	x = strtoull(s, &end, 10);
	if (*end == 'K' || *end == 'k')
		shift = 10, end++;
	else if (*end == 'M' || *end == 'm')
		shift = 20, end++;
	else if (*end == 'G' || *end == 'g')
		shift = 30, end++;
	if (errno || *end || x > (ULLONG_MAX >> shift))
		return -1;
	*out = (uint64_t)x << shift;
	return 0;
}

static int set_size_key(size_t *dst, const char *val, size_t min, size_t max, const char **why)
{
	uint64_t v;

	if (parse_size(val, &v) < 0) {
		*why = "expected a size (bytes, or with K, M or G)";
		return -1;
	}
	if (v < min || v > max) {
		*why = "size out of range";
		return -1;
	}
	*dst = (size_t)v;
	return 0;
}

static int set_log_level(struct config *c, const char *val, const char **why)
{
	for (unsigned i = 0; i < 4; i++) {
		if (val && !strcmp(val, level_names[i])) {
			c->log_level = (enum log_level)i;
			return 0;
		}
	}
	*why = "expected error, warn, info or debug";
	return -1;
}

static int set_main_action(struct config *c, const char *val, const char **why)
{
	if (val && !strcmp(val, "poweroff"))
		c->main_action = MAIN_POWEROFF;
	else if (val && !strcmp(val, "reboot"))
		c->main_action = MAIN_REBOOT;
	else if (val && !strcmp(val, "stay"))
		c->main_action = MAIN_STAY;
	else {
		*why = "expected poweroff, reboot or stay";
		return -1;
	}
	return 0;
}

int config_set(struct config *c, const char *key, const char *val, const char **why)
{
	*why = NULL;
	if (strncmp(key, "task.", 5) != 0)
		return 1;
	const char *k = key + 5;

	if (!strncmp(k, "net.", 4))
		return net_config_set(&c->net, k + 4, val, why);
	if (!strcmp(k, "debug")) {
		if (parse_bool(val, &c->debug) < 0) {
			*why = "expected a boolean";
			return -1;
		}
		return 0;
	}
	if (!strcmp(k, "log_level"))
		return set_log_level(c, val, why);
	if (!strcmp(k, "hostname"))
		return set_hostname(c, val, why);
	if (!strcmp(k, "control_port"))
		return set_uint_key(&c->control_port, val, 0, 0xffffffffUL - 1, why,
				    "expected a port number (0: no vsock listener)");
	if (!strcmp(k, "debug_port"))
		return set_uint_key(&c->debug_port, val, 0, 0xffffffffUL - 1, why,
				    "expected a port number (0: no debug listener)");
	if (!strcmp(k, "allow_cid"))
		return parse_cid_list(c, val, why);
	if (!strcmp(k, "grace"))
		return set_uint_key(&c->grace_s, val, 0, 3600, why, "expected 0..3600 seconds");
	if (!strcmp(k, "control_unix"))
		return set_string(c->control_unix, sizeof(c->control_unix), val, why);
	if (!strcmp(k, "debug_unix"))
		return set_string(c->debug_unix, sizeof(c->debug_unix), val, why);
	if (!strcmp(k, "debug_shell"))
		return set_string(c->debug_shell, sizeof(c->debug_shell), val, why);
	if (!strcmp(k, "debug_max"))
		return set_uint_key(&c->debug_max, val, 1, 64, why, "expected 1..64 sessions");
	if (!strcmp(k, "main")) {
		if (!val) {
			*why = "expected a command";
			return -1;
		}
		return set_main_from_string(c, val, why);
	}
	if (!strcmp(k, "main_exit"))
		return set_main_action(c, val, why);
	if (!strcmp(k, "max_conns"))
		return set_uint_key(&c->max_conns, val, 1, 4096, why, "expected 1..4096");
	if (!strcmp(k, "idle_timeout"))
		return set_uint_key(&c->idle_timeout_s, val, 1, 86400, why,
				    "expected 1..86400 seconds");
	if (!strcmp(k, "ring_size"))
		return set_size_key(&c->ring_size, val, 4096, (size_t)1 << 30, why);
	if (!strcmp(k, "ring_budget"))
		return set_size_key(&c->ring_budget, val, 65536, (size_t)16 << 30, why);
	if (!strcmp(k, "drain_ms"))
		return set_uint_key(&c->drain_ms, val, 0, 60000, why, "expected 0..60000 ms");
	if (!strcmp(k, "modules"))
		return set_string(c->modules, sizeof(c->modules), val, why);
	if (!strcmp(k, "root"))
		return set_string(c->root, sizeof(c->root), val, why);
	if (!strcmp(k, "rootfstype"))
		return set_string(c->rootfstype, sizeof(c->rootfstype), val, why);
	if (!strcmp(k, "rootflags"))
		return set_string(c->rootflags, sizeof(c->rootflags), val, why);
	if (!strcmp(k, "root_wait"))
		return set_uint_key(&c->root_wait_s, val, 0, 300, why, "expected 0..300 seconds");
	if (!strcmp(k, "cgroup")) {
		int r = set_string(c->cgroup, sizeof(c->cgroup), val, why);
		c->cgroup_set |= r == 0;
		return r;
	}
	if (!strcmp(k, "boot_tasks"))
		return set_string(c->boot_tasks, sizeof(c->boot_tasks), val, why);
	if (!strcmp(k, "max_line"))
		return set_uint_key(&c->max_line, val, 256, 16 << 20, why,
				    "expected 256..16777216 bytes");
	return 1;
}

/* Applies "key=value" or a bare "key"; only task.* words are looked at. */
static void apply_word(struct config *c, const char *word, config_warn_fn warn, void *ctx)
{
	char key[64];
	const char *eq = strchr(word, '=');
	size_t klen = eq ? (size_t)(eq - word) : strlen(word);
	const char *why;

	if (strncmp(word, "task.", 5) != 0)
		return;
	if (klen >= sizeof(key)) {
		if (warn)
			warn(ctx, word, "unknown key");
		return;
	}
	memcpy(key, word, klen);
	key[klen] = 0;
	int r = config_set(c, key, eq ? eq + 1 : NULL, &why);
	if (r != 0 && warn)
		warn(ctx, word, r > 0 ? "unknown key" : why);
}

/* Next kernel-style word: spaces separate, double quotes group and are
 * removed. Returns the length written to out, or -1 at the end. */
static int next_word(const char **pp, char *out, size_t cap, size_t *full_len)
{
	const char *p = *pp;
	bool quoted = false;
	size_t n = 0, full = 0;

	while (*p && isspace((unsigned char)*p))
		p++;
	if (!*p)
		return -1;
	for (; *p && (quoted || !isspace((unsigned char)*p)); p++) {
		if (*p == '"') {
			quoted = !quoted;
			continue;
		}
		if (n + 1 < cap)
			out[n++] = *p;
		full++;
	}
	out[n] = 0;
	*pp = p;
	*full_len = full;
	return (int)n;
}

/* A main command that does not fit is dropped whole: running it with
 * arguments missing would be worse than running nothing. */
void config_parse_cmdline(struct config *c, const char *line, config_warn_fn warn, void *ctx)
{
	char word[CONFIG_MAIN_BUF];
	size_t full;
	bool after_dashes = false, collecting = false;

	while (next_word(&line, word, sizeof(word), &full) >= 0) {
		bool too_long = full >= sizeof(word);
		if (!after_dashes && !too_long && !strcmp(word, "--")) {
			after_dashes = true;
			collecting = c->main_argc == 0;
			continue;
		}
		if (after_dashes) {
			if (collecting && (too_long || main_argv_push(c, word, strlen(word)) < 0)) {
				if (warn)
					warn(ctx, "--", "main command too long: no main task");
				main_argv_reset(c);
				collecting = false;
			}
			continue;
		}
		if (too_long) {
			if (warn)
				warn(ctx, "(long word)", "word too long, ignored");
			continue;
		}
		apply_word(c, word, warn, ctx);
	}
}

void config_parse_argv(struct config *c, int argc, char **argv, config_warn_fn warn, void *ctx)
{
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--")) {
			main_argv_reset(c);
			for (i++; i < argc; i++) {
				if (main_argv_push(c, argv[i], strlen(argv[i])) < 0) {
					if (warn)
						warn(ctx, argv[i], "main command too long");
					main_argv_reset(c);
					return;
				}
			}
			return;
		}
		apply_word(c, argv[i], warn, ctx);
	}
}

void config_parse_env(struct config *c, char **envp, config_warn_fn warn, void *ctx)
{
	for (; envp && *envp; envp++)
		if (!strncmp(*envp, "task.", 5))
			apply_word(c, *envp, warn, ctx);
}
