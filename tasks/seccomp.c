/* tasks/seccomp — per-task seccomp filters built with libseccomp.
 * What the profile denies and why: docs/seccomp.md. */
#include "tasks/seccomp.h"

#include <errno.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/filter.h>
#include <linux/seccomp.h>

#include <seccomp.h>

/* The "default" profile. Grouped as docs/seccomp.md explains them; names
 * that exist only on another ABI (umount, stime, vm86, the *64 clock calls)
 * are here because the filter also covers the i386 and x32 ABIs, through
 * which an x86_64 process can make syscalls too. */
static const char *const default_profile[] = {
    /* rebooting the guest or replacing its kernel */
    "reboot", "kexec_load", "kexec_file_load",
    /* kernel modules */
    "init_module", "finit_module", "delete_module", "create_module", "query_module",
    "get_kernel_syms",
    /* the mount table, old and new API */
    "mount", "umount", "umount2", "pivot_root", "fsopen", "fsconfig", "fsmount", "fspick",
    "move_mount", "open_tree", "mount_setattr",
    /* swap */
    "swapon", "swapoff",
    /* leaving or making namespaces; clone only with CLONE_NEW* flags */
    "setns", "unshare", "clone", "clone3",
    /* loading code into the kernel, tracing it */
    "bpf", "perf_event_open", "lookup_dcookie",
    /* the kernel keyring, which is not namespaced */
    "add_key", "request_key", "keyctl",
    /* reading or changing other processes */
    "ptrace", "process_vm_readv", "process_vm_writev", "pidfd_getfd", "kcmp",
    /* opening files by handle bypasses path checks */
    "open_by_handle_at", "name_to_handle_at",
    /* a classic exploit primitive */
    "userfaultfd",
    /* the guest's clocks */
    "settimeofday", "clock_settime", "clock_settime64", "clock_adjtime", "clock_adjtime64",
    "adjtimex", "stime",
    /* guest-wide state: accounting, quotas, kernel log, identity, ttys */
    "acct", "quotactl", "quotactl_fd", "syslog", "vhangup", "sethostname", "setdomainname",
    /* raw port I/O and CPU emulation */
    "iopl", "ioperm", "modify_ldt", "vm86", "vm86old",
    /* obsolete interfaces nothing current needs */
    "nfsservctl", "_sysctl", "uselib", "ustat", "sysfs", NULL};

const char *const *seccomp_profile_names(const char *profile)
{
	if (profile && strcmp(profile, "default") == 0)
		return default_profile;
	return NULL;
}

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* Whether name is in s's allow (or deny) list. */
static bool spec_has(const struct seccomp_spec *s, bool allow, const char *name)
{
	unsigned n = allow ? s->n_allow : s->n_deny;

	for (unsigned i = 0; i < n; i++)
		if (strcmp(allow ? s->allow[i] : s->deny[i], name) == 0)
			return true;
	return false;
}

/* Adds the comma-separated names in value to list (of t), refusing names
 * the kernel ABI does not know and names already in the opposite list. */
static int add_names(struct seccomp_spec *t, bool allow, const char *value, char *err,
		     size_t errlen)
{
	const char *opt = allow ? "--seccomp-allow" : "--seccomp-deny";
	char(*list)[SECCOMP_NAME_MAX] = allow ? t->allow : t->deny;
	unsigned *n = allow ? &t->n_allow : &t->n_deny;
	const char *p = value;

	for (;;) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);
		char name[SECCOMP_NAME_MAX];

		if (len == 0) {
			set_err(err, errlen, "%s: empty syscall name in \"%s\"", opt, value);
			return -1;
		}
		if (len >= sizeof(name)) {
			set_err(err, errlen, "%s: syscall name too long: \"%.*s\"", opt, (int)len,
				p);
			return -1;
		}
		memcpy(name, p, len);
		name[len] = '\0';
		/* libseccomp knows every ABI's names: this is the check that
		 * makes a typo fail the run request instead of the child. */
		if (seccomp_syscall_resolve_name(name) == __NR_SCMP_ERROR) {
			set_err(err, errlen, "%s: unknown syscall \"%s\"", opt, name);
			return -1;
		}
		if (spec_has(t, !allow, name)) {
			set_err(err, errlen, "%s: \"%s\" is both allowed and denied", opt, name);
			return -1;
		}
		if (!spec_has(t, allow, name)) {
			if (*n >= SECCOMP_MAX_NAMES) {
				set_err(err, errlen, "%s: at most %d syscall names", opt,
					SECCOMP_MAX_NAMES);
				return -1;
			}
			memcpy(list[(*n)++], name, len + 1);
		}
		if (!comma)
			return 0;
		p = comma + 1;
	}
}

int seccomp_spec_add(struct seccomp_spec *s, const char *opt, const char *value, char *err,
		     size_t errlen)
{
	struct seccomp_spec t;
	int which;

	if (!opt)
		return 1;
	if (opt[0] == '-' && opt[1] == '-')
		opt += 2;
	if (strcmp(opt, "seccomp") == 0)
		which = 0;
	else if (strcmp(opt, "seccomp-allow") == 0)
		which = 1;
	else if (strcmp(opt, "seccomp-deny") == 0)
		which = 2;
	else
		return 1;
	if (!value || !*value) {
		set_err(err, errlen, "--%s needs a value", opt);
		return -1;
	}
	/* Work on a copy so that a bad option leaves the spec as it was. */
	t = *s;
	if (which == 0) {
		if (!seccomp_profile_names(value)) {
			set_err(err, errlen, "--seccomp: unknown profile \"%s\" (known: default)",
				value);
			return -1;
		}
		if (t.profile[0] && strcmp(t.profile, value) != 0) {
			set_err(err, errlen, "--seccomp: profile already set to \"%s\"", t.profile);
			return -1;
		}
		snprintf(t.profile, sizeof(t.profile), "%s", value);
	} else if (add_names(&t, which == 1, value, err, errlen) != 0) {
		return -1;
	}
	t.enabled = true;
	*s = t;
	return 0;
}

/* The i386/x32 (or arm) ABIs the kernel also accepts from a native
 * process. Rules are added for them too, so that a task cannot step around
 * the deny list by making the same call through the compat entry point.
 * Any ABI not in the filter kills the process (see compile). */
static void add_compat_arches(scmp_filter_ctx ctx)
{
	uint32_t native = seccomp_arch_native();

	if (native == SCMP_ARCH_X86_64) {
		seccomp_arch_add(ctx, SCMP_ARCH_X86);
		seccomp_arch_add(ctx, SCMP_ARCH_X32);
	} else if (native == SCMP_ARCH_AARCH64) {
		seccomp_arch_add(ctx, SCMP_ARCH_ARM);
	}
}

/* clone itself stays allowed (fork and threads use it); only its namespace
 * flags are denied. One rule per flag: libseccomp ORs rules of one action,
 * and a masked compare can only test for "all bits of the mask set". */
static int deny_clone_namespaces(scmp_filter_ctx ctx)
{
	static const unsigned long flags[] = {CLONE_NEWNS,  CLONE_NEWCGROUP, CLONE_NEWUTS,
					      CLONE_NEWIPC, CLONE_NEWUSER,   CLONE_NEWPID,
					      CLONE_NEWNET};

	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
#if defined(__s390__) || defined(__s390x__)
		/* s390 swaps clone's first two arguments. */
		struct scmp_arg_cmp cmp = SCMP_A1(SCMP_CMP_MASKED_EQ, flags[i], flags[i]);
#else
		struct scmp_arg_cmp cmp = SCMP_A0(SCMP_CMP_MASKED_EQ, flags[i], flags[i]);
#endif
		int rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1, cmp);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int add_profile_rule(scmp_filter_ctx ctx, const char *name)
{
	int nr = seccomp_syscall_resolve_name(name);

	if (nr == __NR_SCMP_ERROR)
		return -ENOENT;
	if (strcmp(name, "clone") == 0)
		return deny_clone_namespaces(ctx);
	/* clone3 passes its flags in memory, where a filter cannot look: make
	 * it look absent, and glibc and others fall back to clone(). EPERM
	 * would not trigger that fallback and would break pthread_create. */
	if (strcmp(name, "clone3") == 0)
		return seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), nr, 0);
	return seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 0);
}

/* libseccomp 2.5 can only export the program to a file descriptor; a
 * memfd keeps it off the file system and has no size limit to block on. */
static int export_prog(scmp_filter_ctx ctx, struct seccomp_prog *p, char *err, size_t errlen)
{
	int fd = memfd_create("taskinit-seccomp", MFD_CLOEXEC);
	struct stat st;
	int rc;

	if (fd < 0) {
		int e = errno;
		set_err(err, errlen, "seccomp: memfd_create: %s", strerror(e));
		errno = e;
		return -1;
	}
	rc = seccomp_export_bpf(ctx, fd);
	if (rc < 0) {
		close(fd);
		errno = -rc;
		set_err(err, errlen, "seccomp: export: %s", strerror(-rc));
		return -1;
	}
	if (fstat(fd, &st) != 0 || st.st_size <= 0 || st.st_size % sizeof(struct sock_filter) ||
	    st.st_size / sizeof(struct sock_filter) > BPF_MAXINSNS) {
		close(fd);
		errno = E2BIG;
		set_err(err, errlen, "seccomp: exported filter has a bad size");
		return -1;
	}
	p->insns = malloc((size_t)st.st_size);
	if (!p->insns || pread(fd, p->insns, (size_t)st.st_size, 0) != st.st_size) {
		int e = p->insns ? EIO : ENOMEM;
		free(p->insns);
		p->insns = NULL;
		close(fd);
		errno = e;
		set_err(err, errlen, "seccomp: reading exported filter: %s", strerror(e));
		return -1;
	}
	p->len = (unsigned short)(st.st_size / sizeof(struct sock_filter));
	close(fd);
	return 0;
}

int seccomp_compile(const struct seccomp_spec *s, struct seccomp_prog *p, char *err, size_t errlen)
{
	const char *const *profile = NULL;
	scmp_filter_ctx ctx;
	int rc;

	p->len = 0;
	p->insns = NULL;
	if (s->profile[0]) {
		profile = seccomp_profile_names(s->profile);
		if (!profile) {
			errno = EINVAL;
			set_err(err, errlen, "seccomp: unknown profile \"%s\"", s->profile);
			return -1;
		}
	}
	ctx = seccomp_init(SCMP_ACT_ALLOW);
	if (!ctx) {
		errno = ENOMEM;
		set_err(err, errlen, "seccomp: seccomp_init failed");
		return -1;
	}
	/* no_new_privs is the task's own option; install() only falls back
	 * to it when the kernel demands it (see seccomp.h). */
	seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
	/* A syscall through an ABI the filter does not cover ends the whole
	 * process (libseccomp's default kills only the thread, which leaves a
	 * half-dead multi-threaded task). Kernels before 4.14 lack it: keep
	 * the default there. */
	seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
	add_compat_arches(ctx);

	for (size_t i = 0; profile && profile[i]; i++) {
		const char *name = profile[i];
		/* allow removes from the profile; deny wins as a plain EPERM
		 * below, also over the special clone/clone3 rules. */
		if (spec_has(s, true, name) || spec_has(s, false, name))
			continue;
		rc = add_profile_rule(ctx, name);
		if (rc < 0) {
			set_err(err, errlen, "seccomp: rule for %s: %s", name, strerror(-rc));
			goto fail;
		}
	}
	for (unsigned i = 0; i < s->n_deny; i++) {
		int nr = seccomp_syscall_resolve_name(s->deny[i]);
		rc = nr == __NR_SCMP_ERROR ? -ENOENT
					   : seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 0);
		if (rc < 0) {
			set_err(err, errlen, "seccomp: rule for %s: %s", s->deny[i], strerror(-rc));
			goto fail;
		}
	}
	if (export_prog(ctx, p, err, errlen) != 0) {
		seccomp_release(ctx);
		return -1;
	}
	seccomp_release(ctx);
	return 0;
fail:
	seccomp_release(ctx);
	errno = -rc;
	return -1;
}

const struct seccomp_prog *seccomp_prog_for(struct seccomp_cache *c, const struct seccomp_spec *s,
					    char *err, size_t errlen)
{
	struct seccomp_prog p;
	size_t victim = 0;

	/* Whole-struct compare: bytes after a name's NUL are zero in specs
	 * filled by seccomp_spec_add; anything else only costs a miss. */
	for (size_t i = 0; i < SECCOMP_CACHE_SLOTS; i++) {
		if (c->slot[i].prog.len && memcmp(&c->slot[i].key, s, sizeof(*s)) == 0) {
			c->slot[i].used = ++c->clock;
			return &c->slot[i].prog;
		}
		if (c->slot[i].used < c->slot[victim].used)
			victim = i;
	}
	if (seccomp_compile(s, &p, err, errlen) != 0)
		return NULL;
	seccomp_prog_free(&c->slot[victim].prog);
	c->slot[victim].key = *s;
	c->slot[victim].prog = p;
	c->slot[victim].used = ++c->clock;
	return &c->slot[victim].prog;
}

void seccomp_cache_free(struct seccomp_cache *c)
{
	for (size_t i = 0; i < SECCOMP_CACHE_SLOTS; i++)
		seccomp_prog_free(&c->slot[i].prog);
	memset(c, 0, sizeof(*c));
}

int seccomp_install(const struct seccomp_prog *p)
{
	struct sock_fprog fprog = {.len = p->len, .filter = p->insns};

	if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &fprog, 0, 0) == 0)
		return 0;
	/* The kernel wants CAP_SYS_ADMIN or no_new_privs (so that a filter
	 * cannot mislead a setuid program). Without the capability, set
	 * no_new_privs rather than run the task unfiltered. */
	if (errno != EACCES)
		return -1;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
		return -1;
	return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &fprog, 0, 0);
}

void seccomp_prog_free(struct seccomp_prog *p)
{
	free(p->insns);
	p->insns = NULL;
	p->len = 0;
}

int seccomp_apply(const struct seccomp_spec *s, char *err, size_t errlen)
{
	struct seccomp_prog p;
	int e;

	if (!s->enabled)
		return 0;
	if (seccomp_compile(s, &p, err, errlen) != 0)
		return -1;
	if (seccomp_install(&p) == 0) {
		seccomp_prog_free(&p);
		return 0;
	}
	e = errno;
	seccomp_prog_free(&p);
	if (e == EINVAL)
		set_err(err, errlen,
			"seccomp: the kernel refused the filter (%s): is "
			"CONFIG_SECCOMP_FILTER set?",
			strerror(e));
	else
		set_err(err, errlen, "seccomp: loading the filter: %s", strerror(e));
	errno = e;
	return -1;
}
