/* Resolving and parsing what a run request asks for: users and groups,
 * rlimits, signal names. */
#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tasks/internal.h"

static bool all_digits(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!isdigit((unsigned char)*s))
			return false;
	return true;
}

static int parse_id(const char *s, unsigned long *out)
{
	char *end;

	if (!all_digits(s) || strlen(s) > 10)
		return -1;
	errno = 0;
	*out = strtoul(s, &end, 10);
	return errno || *out > 0xfffffffeUL ? -1 : 0;
}

static int resolve_group(const char *name, gid_t *gid)
{
	unsigned long n;

	if (parse_id(name, &n) == 0) {
		*gid = (gid_t)n;
		return 0;
	}
	struct group *gr = getgrnam(name);
	if (!gr)
		return -1;
	*gid = gr->gr_gid;
	return 0;
}

static int resolve_group_list(const char *list, struct creds *c, char *err, size_t errlen)
{
	const char *p = list;

	c->ngroups = 0;
	while (*p) {
		char name[64];
		size_t n = strcspn(p, ",");
		if (n == 0 || n >= sizeof(name)) {
			snprintf(err, errlen, "bad group list \"%s\"", list);
			return -1;
		}
		memcpy(name, p, n);
		name[n] = 0;
		if (c->ngroups == TASK_MAX_GROUPS) {
			snprintf(err, errlen, "too many groups (max %d)", TASK_MAX_GROUPS);
			return -1;
		}
		if (resolve_group(name, &c->groups[c->ngroups]) < 0) {
			snprintf(err, errlen, "unknown group \"%s\"", name);
			return -1;
		}
		c->ngroups++;
		p += n;
		if (*p == ',')
			p++;
	}
	return 0;
}

static void take_passwd(struct creds *c, const struct passwd *pw)
{
	c->uid = pw->pw_uid;
	c->gid = pw->pw_gid;
	snprintf(c->home, sizeof(c->home), "%s", pw->pw_dir ? pw->pw_dir : "/");
	c->have_home = true;
}

int creds_resolve(const struct task_spec *s, struct creds *c, char *err, size_t errlen)
{
	const struct passwd *pw = NULL;
	unsigned long n;

	memset(c, 0, sizeof(*c));
	if (s->user) {
		if (parse_id(s->user, &n) == 0) {
			pw = getpwuid((uid_t)n);
			c->uid = (uid_t)n;
			c->gid = 0; /* a uid with no passwd entry gets group 0, as Docker does */
		} else {
			pw = getpwnam(s->user);
			if (!pw) {
				snprintf(err, errlen, "unknown user \"%s\"", s->user);
				return -1;
			}
		}
		if (pw)
			take_passwd(c, pw);
	}
	if (s->group && resolve_group(s->group, &c->gid) < 0) {
		snprintf(err, errlen, "unknown group \"%s\"", s->group);
		return -1;
	}
	if (s->groups)
		return resolve_group_list(s->groups, c, err, errlen);
	if (pw && pw->pw_name) {
		int ng = TASK_MAX_GROUPS;
		if (getgrouplist(pw->pw_name, c->gid, c->groups, &ng) < 0)
			ng = 0;
		c->ngroups = ng;
	}
	return 0;
}

static const struct {
	const char *name;
	int resource;
} rlimit_names[] = {
    {"core", RLIMIT_CORE},
    {"cpu", RLIMIT_CPU},
    {"data", RLIMIT_DATA},
    {"fsize", RLIMIT_FSIZE},
    {"nofile", RLIMIT_NOFILE},
    {"nproc", RLIMIT_NPROC},
    {"stack", RLIMIT_STACK},
    {"as", RLIMIT_AS},
    {"memlock", RLIMIT_MEMLOCK},
    {"msgqueue", RLIMIT_MSGQUEUE},
    {"nice", RLIMIT_NICE},
    {"rtprio", RLIMIT_RTPRIO},
    {"sigpending", RLIMIT_SIGPENDING},
    {"locks", RLIMIT_LOCKS},
    {"rss", RLIMIT_RSS},
};

static int parse_limit(const char *s, size_t n, rlim_t *out)
{
	char buf[24];
	char *end;

	if (n == 0 || n >= sizeof(buf))
		return -1;
	memcpy(buf, s, n);
	buf[n] = 0;
	if (!strcmp(buf, "unlimited") || !strcmp(buf, "inf")) {
		*out = RLIM_INFINITY;
		return 0;
	}
	if (!all_digits(buf))
		return -1;
	errno = 0;
	unsigned long long v = strtoull(buf, &end, 10);
	if (errno)
		return -1;
	*out = (rlim_t)v;
	return 0;
}

/* name=soft[:hard]; one number sets both. */
int task_spec_add_rlimit(struct task_spec *s, const char *arg, const char **why)
{
	const char *eq = strchr(arg, '=');
	int res = -1;

	if (!eq) {
		*why = "expected name=soft[:hard]";
		return -1;
	}
	for (size_t i = 0; i < sizeof(rlimit_names) / sizeof(rlimit_names[0]); i++)
		if (strlen(rlimit_names[i].name) == (size_t)(eq - arg) &&
		    !strncmp(rlimit_names[i].name, arg, (size_t)(eq - arg)))
			res = rlimit_names[i].resource;
	if (res < 0) {
		*why = "unknown rlimit (core, cpu, data, fsize, nofile, nproc, stack, as, memlock, "
		       "msgqueue, nice, rtprio, sigpending, locks, rss)";
		return -1;
	}
	const char *v = eq + 1, *colon = strchr(v, ':');
	struct rlimit lim;
	if (parse_limit(v, colon ? (size_t)(colon - v) : strlen(v), &lim.rlim_cur) < 0 ||
	    parse_limit(colon ? colon + 1 : v, strlen(colon ? colon + 1 : v), &lim.rlim_max) < 0) {
		*why = "limits are numbers or 'unlimited'";
		return -1;
	}
	if (lim.rlim_cur > lim.rlim_max) {
		*why = "soft limit above hard limit";
		return -1;
	}
	if (s->n_rlimits == TASK_MAX_RLIMITS) {
		*why = "too many rlimits";
		return -1;
	}
	s->rlimits[s->n_rlimits].resource = res;
	s->rlimits[s->n_rlimits].lim = lim;
	s->n_rlimits++;
	return 0;
}

static const struct {
	const char *name;
	int sig;
} signal_names[] = {
    {"HUP", SIGHUP},	   {"INT", SIGINT},   {"QUIT", SIGQUIT},   {"ILL", SIGILL},
    {"TRAP", SIGTRAP},	   {"ABRT", SIGABRT}, {"BUS", SIGBUS},	   {"FPE", SIGFPE},
    {"KILL", SIGKILL},	   {"USR1", SIGUSR1}, {"SEGV", SIGSEGV},   {"USR2", SIGUSR2},
    {"PIPE", SIGPIPE},	   {"ALRM", SIGALRM}, {"TERM", SIGTERM},   {"CHLD", SIGCHLD},
    {"CONT", SIGCONT},	   {"STOP", SIGSTOP}, {"TSTP", SIGTSTP},   {"TTIN", SIGTTIN},
    {"TTOU", SIGTTOU},	   {"URG", SIGURG},   {"XCPU", SIGXCPU},   {"XFSZ", SIGXFSZ},
    {"VTALRM", SIGVTALRM}, {"PROF", SIGPROF}, {"WINCH", SIGWINCH}, {"IO", SIGIO},
    {"PWR", SIGPWR},	   {"SYS", SIGSYS},
};

int signal_from_name(const char *s)
{
	unsigned long n;

	if (parse_id(s, &n) == 0)
		return n >= 1 && n <= 64 ? (int)n : -1;
	if (!strncasecmp(s, "SIG", 3))
		s += 3;
	for (size_t i = 0; i < sizeof(signal_names) / sizeof(signal_names[0]); i++)
		if (!strcasecmp(s, signal_names[i].name))
			return signal_names[i].sig;
	return -1;
}

const char *signal_name(int sig)
{
	for (size_t i = 0; i < sizeof(signal_names) / sizeof(signal_names[0]); i++)
		if (signal_names[i].sig == sig)
			return signal_names[i].name;
	return NULL;
}

int task_spec_add_cgroup(struct task_spec *s, const char *opt, const char *value, const char **why)
{
	*why = NULL;
	return cg_limits_option(&s->cgroup, opt, value, why);
}

int task_spec_add_seccomp(struct task_spec *s, const char *opt, const char *value, char *err,
			  size_t errlen)
{
	return seccomp_spec_add(&s->seccomp, opt, value, err, errlen);
}
