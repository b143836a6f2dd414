/* Unit tests for tasks/seccomp: option parsing, the profile, and, in forked
 * children, that the kernel enforces the filters.
 *
 * Built twice (tasks/seccomp.mk): test_seccomp with clang, ASan and glibc's
 * libseccomp; test_seccomp_static (-DTEST_SECCOMP_STATIC) with musl-gcc
 * -static and the musl libseccomp the agent links, which also checks that
 * it is itself a static binary. The second is the proof that the static
 * agent's filters work.
 *
 * Every filter goes on a forked child, never on the test process. Children
 * end with _exit: LeakSanitizer's exit-time check needs ptrace, which the
 * default profile denies. Probes are calls that do nothing even when a
 * filter fails to stop them (bad magic, bad flags, missing paths), because
 * this runs as root on a developer's machine. */
#include "tasks/seccomp.h"
#include "tests/unit/check.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/timex.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <seccomp.h>

#if defined(TEST_SECCOMP_STATIC) && defined(__GLIBC__)
#error "test_seccomp_static must be built with musl-gcc"
#endif

static char err[256];

/* ---- parsing ---------------------------------------------------------- */

static void test_empty_spec_is_disabled(void)
{
	struct seccomp_spec s = {0};

	CHECK(!s.enabled);
	/* A disabled spec loads nothing, so this is safe in the test process. */
	CHECK_EQ_INT(seccomp_apply(&s, err, sizeof(err)), 0);
}

static void test_profile_option(void)
{
	struct seccomp_spec s = {0};

	CHECK_EQ_INT(seccomp_spec_add(&s, "--seccomp", "default", err, sizeof(err)), 0);
	CHECK(s.enabled);
	CHECK_EQ_STR(s.profile, "default");
	/* Without dashes, and repeated: both fine. */
	CHECK_EQ_INT(seccomp_spec_add(&s, "seccomp", "default", err, sizeof(err)), 0);
	CHECK_EQ_STR(s.profile, "default");
}

static void test_unknown_profile(void)
{
	struct seccomp_spec s = {0}, before;

	before = s;
	CHECK_EQ_INT(seccomp_spec_add(&s, "--seccomp", "strict", err, sizeof(err)), -1);
	CHECK(strstr(err, "unknown profile") != NULL);
	CHECK(strstr(err, "strict") != NULL);
	CHECK(memcmp(&s, &before, sizeof(s)) == 0);
}

static void test_not_a_seccomp_option(void)
{
	struct seccomp_spec s = {0};

	CHECK_EQ_INT(seccomp_spec_add(&s, "--cwd", "/tmp", err, sizeof(err)), 1);
	CHECK_EQ_INT(seccomp_spec_add(&s, "--seccompx", "default", err, sizeof(err)), 1);
	CHECK_EQ_INT(seccomp_spec_add(&s, NULL, "default", err, sizeof(err)), 1);
	CHECK(!s.enabled);
}

static void test_missing_value(void)
{
	struct seccomp_spec s = {0};

	CHECK_EQ_INT(seccomp_spec_add(&s, "--seccomp", NULL, err, sizeof(err)), -1);
	CHECK(strstr(err, "needs a value") != NULL);
	CHECK_EQ_INT(seccomp_spec_add(&s, "--seccomp-deny", "", err, sizeof(err)), -1);
	CHECK(!s.enabled);
}

static void test_lists(void)
{
	struct seccomp_spec s = {0};

	CHECK_EQ_INT(seccomp_spec_add(&s, "--seccomp-allow", "reboot,mount", err, sizeof(err)), 0);
	CHECK_EQ_INT(seccomp_spec_add(&s, "--seccomp-deny", "uname", err, sizeof(err)), 0);
	CHECK(s.enabled);
	CHECK_EQ_STR(s.profile, ""); /* lists alone: no profile */
	CHECK_EQ_INT(s.n_allow, 2);
	CHECK_EQ_STR(s.allow[0], "reboot");
	CHECK_EQ_STR(s.allow[1], "mount");
	CHECK_EQ_INT(s.n_deny, 1);
	CHECK_EQ_STR(s.deny[0], "uname");
	/* Duplicates count once, across calls too. */
	CHECK_EQ_INT(seccomp_spec_add(&s, "--seccomp-deny", "uname,uname", err, sizeof(err)), 0);
	CHECK_EQ_INT(s.n_deny, 1);
	/* Names of other ABIs are known too (umount is i386 only). */
	CHECK_EQ_INT(seccomp_spec_add(&s, "--seccomp-deny", "umount", err, sizeof(err)), 0);
}

static void test_bad_names(void)
{
	static const char *const bad[] = {"notasyscall", "reboot,notasyscall", "reboot,",
					  ",reboot",	 "reboot,,mount",      "REBOOT",
					  "reboot mount"};
	struct seccomp_spec s = {0}, before;

	CHECK_EQ_INT(seccomp_spec_add(&s, "--seccomp-deny", "uname", err, sizeof(err)), 0);
	before = s;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		int rc = seccomp_spec_add(&s, "--seccomp-allow", bad[i], err, sizeof(err));
		if (rc != -1)
			printf("  accepted bad list \"%s\"\n", bad[i]);
		CHECK_EQ_INT(rc, -1);
		CHECK(err[0] != '\0');
		/* A bad option leaves the spec as it was, even when names
		 * before the bad one were fine. */
		CHECK(memcmp(&s, &before, sizeof(s)) == 0);
	}
	CHECK_EQ_INT(seccomp_spec_add(&s, "--seccomp-deny", "notasyscall", err, sizeof(err)), -1);
	CHECK_EQ_STR(err, "--seccomp-deny: unknown syscall \"notasyscall\"");
	CHECK_EQ_INT(seccomp_spec_add(&s, "--seccomp-deny", "a_name_much_longer_than_any_syscall",
				      err, sizeof(err)),
		     -1);
	CHECK(strstr(err, "too long") != NULL);
	CHECK_EQ_INT(seccomp_spec_add(&s, "--seccomp-deny", "reboot,,mount", err, sizeof(err)), -1);
	CHECK(strstr(err, "empty syscall name") != NULL);
}

static void test_allow_and_deny_conflict(void)
{
	struct seccomp_spec s = {0};

	CHECK_EQ_INT(seccomp_spec_add(&s, "--seccomp-allow", "reboot", err, sizeof(err)), 0);
	CHECK_EQ_INT(seccomp_spec_add(&s, "--seccomp-deny", "mount,reboot", err, sizeof(err)), -1);
	CHECK(strstr(err, "both allowed and denied") != NULL);
	CHECK_EQ_INT(s.n_deny, 0);
	CHECK_EQ_INT(seccomp_spec_add(&s, "--seccomp-deny", "mount", err, sizeof(err)), 0);
	CHECK_EQ_INT(seccomp_spec_add(&s, "--seccomp-allow", "mount", err, sizeof(err)), -1);
}

static void test_list_limit(void)
{
	/* 33 distinct names that every ABI has. */
	static const char *const names[] = {
	    "read",	   "write",  "close",	  "fstat",   "lseek",	 "mmap",   "mprotect",
	    "munmap",	   "brk",    "ioctl",	  "pread64", "pwrite64", "readv",  "writev",
	    "sched_yield", "mremap", "msync",	  "mincore", "madvise",	 "shmget", "shmat",
	    "shmctl",	   "dup",    "nanosleep", "getpid",  "sendfile", "socket", "connect",
	    "accept",	   "sendto", "recvfrom",  "sendmsg", "recvmsg"};
	struct seccomp_spec s = {0};

	CHECK_EQ_INT(sizeof(names) / sizeof(names[0]), SECCOMP_MAX_NAMES + 1);
	for (int i = 0; i < SECCOMP_MAX_NAMES; i++)
		CHECK_EQ_INT(seccomp_spec_add(&s, "--seccomp-deny", names[i], err, sizeof(err)), 0);
	CHECK_EQ_INT(s.n_deny, SECCOMP_MAX_NAMES);
	/* A repeat still fits; one more does not. */
	CHECK_EQ_INT(seccomp_spec_add(&s, "--seccomp-deny", "read", err, sizeof(err)), 0);
	CHECK_EQ_INT(
	    seccomp_spec_add(&s, "--seccomp-deny", names[SECCOMP_MAX_NAMES], err, sizeof(err)), -1);
	CHECK(strstr(err, "at most 32") != NULL);
	CHECK_EQ_INT(s.n_deny, SECCOMP_MAX_NAMES);
}

static void test_small_error_buffer(void)
{
	struct seccomp_spec s = {0};
	char small[8];

	memset(small, 'x', sizeof(small));
	CHECK_EQ_INT(seccomp_spec_add(&s, "--seccomp", "nope", small, sizeof(small)), -1);
	CHECK_EQ_INT(strlen(small), sizeof(small) - 1);
	CHECK_EQ_INT(seccomp_spec_add(&s, "--seccomp", "nope", NULL, 0), -1);
}

static void test_default_profile_names(void)
{
	const char *const *names = seccomp_profile_names("default");
	static const char *const must[] = {
	    "reboot",  "kexec_load", "kexec_file_load", "init_module", "finit_module", "mount",
	    "umount2", "bpf",	     "perf_event_open", "ptrace",      "keyctl",       "setns",
	    "unshare", "swapon",     "settimeofday"};
	size_t n = 0;

	CHECK(names != NULL);
	CHECK(seccomp_profile_names("nope") == NULL);
	CHECK(seccomp_profile_names(NULL) == NULL);
	for (; names && names[n]; n++) {
		if (seccomp_syscall_resolve_name(names[n]) == __NR_SCMP_ERROR)
			printf("  profile name unknown to libseccomp: %s\n", names[n]);
		CHECK(seccomp_syscall_resolve_name(names[n]) != __NR_SCMP_ERROR);
		for (size_t j = 0; j < n; j++)
			CHECK(strcmp(names[j], names[n]) != 0);
	}
	for (size_t i = 0; i < sizeof(must) / sizeof(must[0]); i++) {
		bool found = false;
		for (size_t j = 0; j < n; j++)
			found = found || strcmp(names[j], must[i]) == 0;
		if (!found)
			printf("  default profile lacks %s\n", must[i]);
		CHECK(found);
	}
	printf("info: default profile: %zu syscalls\n", n);
}

static void test_compile(void)
{
	struct seccomp_spec s = {0};
	struct seccomp_prog p;

	CHECK_EQ_INT(seccomp_spec_add(&s, "--seccomp", "default", err, sizeof(err)), 0);
	CHECK_EQ_INT(seccomp_compile(&s, &p, err, sizeof(err)), 0);
	CHECK(p.len > 0 && p.len <= 4096);
	CHECK(p.insns != NULL);
	printf("info: default profile compiles to %u BPF instructions\n", p.len);
	seccomp_prog_free(&p);
	CHECK(p.insns == NULL);
}

/* ---- enforcement ------------------------------------------------------ */

/* Returns 0 when the call succeeded, else its errno. */
static int res(long r)
{
	return r == -1 ? errno : 0;
}

static int p_reboot(void)
{
	return res(syscall(SYS_reboot, 0L, 0L, 0L, 0L)); /* bad magic: EINVAL at worst */
}
static int p_mount(void)
{
	return res(
	    syscall(SYS_mount, NULL, "/nonexistent-taskinit-seccomp", NULL, (long)MS_BIND, NULL));
}
static int p_umount2(void)
{
	return res(syscall(SYS_umount2, "/nonexistent-taskinit-seccomp", 0L));
}
static int p_pivot_root(void)
{
	return res(syscall(SYS_pivot_root, "/nonexistent-taskinit-seccomp",
			   "/nonexistent-taskinit-seccomp"));
}
static int p_kexec_load(void)
{
	/* 17 segments (over the limit) and an unknown flag: EINVAL. */
	return res(syscall(SYS_kexec_load, 0L, 17L, NULL, 0x8000L));
}
static int p_init_module(void)
{
	return res(syscall(SYS_init_module, NULL, 0L, ""));
}
static int p_finit_module(void)
{
	return res(syscall(SYS_finit_module, -1L, "", 0L));
}
static int p_delete_module(void)
{
	return res(syscall(SYS_delete_module, "taskinit_no_such_module", (long)O_NONBLOCK));
}
static int p_bpf(void)
{
	return res(syscall(SYS_bpf, 0x7fffL, NULL, 0L)); /* no such command */
}
static int p_perf_event_open(void)
{
	return res(syscall(SYS_perf_event_open, NULL, 0L, -1L, -1L, 0L));
}
static int p_ptrace(void)
{
	return res(syscall(SYS_ptrace, (long)PTRACE_PEEKDATA, (long)getppid(), 0L, 0L));
}
static int p_process_vm_readv(void)
{
	return res(syscall(SYS_process_vm_readv, (long)getppid(), NULL, 0L, NULL, 0L, 0L));
}
static int p_keyctl(void)
{
	return res(syscall(SYS_keyctl, 0L /* GET_KEYRING_ID */, -2L /* process */, 0L));
}
static int p_swapoff(void)
{
	return res(syscall(SYS_swapoff, "/nonexistent-taskinit-seccomp"));
}
static int p_settimeofday(void)
{
	return res(syscall(SYS_settimeofday, NULL, NULL)); /* sets nothing */
}
static int p_clock_settime(void)
{
	struct timespec ts = {0, 0};
	return res(syscall(SYS_clock_settime, (long)CLOCK_MONOTONIC, &ts)); /* EINVAL */
}
static int p_adjtimex(void)
{
	struct timex tx = {0}; /* modes 0: only reads */
	return res(syscall(SYS_adjtimex, &tx));
}
static int p_syslog(void)
{
	return res(syscall(SYS_syslog, 10L /* SIZE_BUFFER */, NULL, 0L));
}
static int p_open_by_handle_at(void)
{
	return res(syscall(SYS_open_by_handle_at, -1L, NULL, 0L));
}
static int p_userfaultfd(void)
{
	return res(syscall(SYS_userfaultfd, -1L)); /* all flags: EINVAL */
}
static int p_setns(void)
{
	return res(syscall(SYS_setns, -1L, 0L));
}
static int p_unshare(void)
{
	return res(syscall(SYS_unshare, 0L)); /* a no-op anyone may do */
}
static int p_clone_newuser(void)
{
	/* A real fork into a new user namespace if nothing stops it: the
	 * child leaves at once. */
	long r = syscall(SYS_clone, (long)(CLONE_NEWUSER | SIGCHLD), 0L, 0L, 0L, 0L);
	if (r == 0)
		_exit(0);
	if (r > 0) {
		waitpid((pid_t)r, NULL, 0);
		return 0;
	}
	return errno;
}
#ifdef SYS_clone3
static int p_clone3(void)
{
	return res(syscall(SYS_clone3, NULL, 0L)); /* too small: EINVAL */
}
#endif
#ifdef SYS_fsopen
static int p_fsopen(void)
{
	return res(syscall(SYS_fsopen, "taskinit_no_such_fs", 0L));
}
#endif
#ifdef SYS_iopl
static int p_iopl(void)
{
	return res(syscall(SYS_iopl, 0L)); /* level 0: no change */
}
#endif

struct probe {
	const char *name;
	int (*fn)(void);
	int want; /* errno under the default profile */
};

static const struct probe probes[] = {
    {"reboot", p_reboot, EPERM},
    {"mount", p_mount, EPERM},
    {"umount2", p_umount2, EPERM},
    {"pivot_root", p_pivot_root, EPERM},
    {"kexec_load", p_kexec_load, EPERM},
    {"init_module", p_init_module, EPERM},
    {"finit_module", p_finit_module, EPERM},
    {"delete_module", p_delete_module, EPERM},
    {"bpf", p_bpf, EPERM},
    {"perf_event_open", p_perf_event_open, EPERM},
    {"ptrace", p_ptrace, EPERM},
    {"process_vm_readv", p_process_vm_readv, EPERM},
    {"keyctl", p_keyctl, EPERM},
    {"swapoff", p_swapoff, EPERM},
    {"settimeofday", p_settimeofday, EPERM},
    {"clock_settime", p_clock_settime, EPERM},
    {"adjtimex", p_adjtimex, EPERM},
    {"syslog", p_syslog, EPERM},
    {"open_by_handle_at", p_open_by_handle_at, EPERM},
    {"userfaultfd", p_userfaultfd, EPERM},
    {"setns", p_setns, EPERM},
    {"unshare", p_unshare, EPERM},
    {"clone(CLONE_NEWUSER)", p_clone_newuser, EPERM},
#ifdef SYS_clone3
    {"clone3", p_clone3, ENOSYS},
#endif
#ifdef SYS_fsopen
    {"fsopen", p_fsopen, EPERM},
#endif
#ifdef SYS_iopl
    {"iopl", p_iopl, EPERM},
#endif
};
#define N_PROBES (sizeof(probes) / sizeof(probes[0]))

static int seccomp_mode(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	int mode = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Seccomp: %d", &mode) == 1)
			break;
	fclose(f);
	return mode;
}

static int uname_errno(void)
{
	struct utsname u;
	return res(syscall(SYS_uname, &u));
}

static void apply_or_fail(const char *const opts[][2], size_t n)
{
	struct seccomp_spec s = {0};

	for (size_t i = 0; i < n; i++)
		if (seccomp_spec_add(&s, opts[i][0], opts[i][1], err, sizeof(err)) != 0) {
			printf("  %s %s: %s\n", opts[i][0], opts[i][1], err);
			CHECK(0);
			return;
		}
	if (seccomp_apply(&s, err, sizeof(err)) != 0) {
		printf("  seccomp_apply: %s\n", err);
		CHECK(0);
	}
}

/* Runs fn in a forked child; the child's failed checks fail the test. */
static void in_child(void (*fn)(void))
{
	int st = 0;
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		check_failed_in_test = 0;
		fn();
		fflush(stdout);
		_exit(check_failed_in_test ? 1 : 0);
	}
	CHECK(pid > 0);
	if (pid <= 0)
		return;
	CHECK_EQ_INT(waitpid(pid, &st, 0), pid);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		printf("  child ended with status 0x%x (signal %d)\n", st,
		       WIFSIGNALED(st) ? WTERMSIG(st) : 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static void *thread_fn(void *arg)
{
	return arg;
}

/* What a workload needs still works under the default profile. */
static void check_ordinary_calls_work(void)
{
	int fds[2];
	pid_t pid;
	int st = -1;
	static int token;
	pthread_t t;
	void *ret = NULL;

	CHECK(getpid() > 0);
	CHECK_EQ_INT(uname_errno(), 0);
	CHECK_EQ_INT(pipe(fds), 0);
	CHECK_EQ_INT(write(fds[1], "x", 1), 1);
	close(fds[0]);
	close(fds[1]);
	/* fork: clone without namespace flags. */
	pid = fork();
	if (pid == 0)
		_exit(7);
	CHECK(pid > 0);
	waitpid(pid, &st, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 7);
	/* threads: glibc tries clone3 first and must fall back on ENOSYS. */
	CHECK_EQ_INT(pthread_create(&t, NULL, thread_fn, &token), 0);
	CHECK_EQ_INT(pthread_join(t, &ret), 0);
	CHECK(ret == &token);
}

static void child_default_profile(void)
{
	static const char *const opts[][2] = {{"--seccomp", "default"}};
	int before[N_PROBES];

	for (size_t i = 0; i < N_PROBES; i++) {
		before[i] = probes[i].fn();
		/* unshare(0) needs no privilege, so only a filter can stop
		 * it: the probe that shows enforcement on any machine. */
		if (strcmp(probes[i].name, "unshare") == 0)
			CHECK_EQ_INT(before[i], 0);
	}
	CHECK_EQ_INT(seccomp_mode(), 0);
	apply_or_fail(opts, 1);
	CHECK_EQ_INT(seccomp_mode(), 2);
	for (size_t i = 0; i < N_PROBES; i++) {
		int got = probes[i].fn();
		printf("info: %-20s unfiltered: %-26s filtered: %s%s\n", probes[i].name,
		       before[i] ? strerror(before[i]) : "ok", got ? strerror(got) : "ok",
		       before[i] == probes[i].want ? " (same without the filter here)" : "");
		if (got != probes[i].want) {
			printf("  %s: got %s, want %s\n", probes[i].name, strerror(got),
			       strerror(probes[i].want));
			CHECK(0);
		}
	}
	check_ordinary_calls_work();
}

static void test_default_profile_enforced(void)
{
	in_child(child_default_profile);
}

static void child_allow_exception(void)
{
	static const char *const opts[][2] = {{"--seccomp-allow", "unshare,reboot"},
					      {"--seccomp", "default"}};
	int reboot_before = p_reboot();

	apply_or_fail(opts, 2);
	CHECK_EQ_INT(seccomp_mode(), 2);
	CHECK_EQ_INT(p_unshare(), 0);
	CHECK_EQ_INT(p_reboot(), reboot_before);
	CHECK_EQ_INT(p_mount(), EPERM); /* the rest of the profile still holds */
}

static void test_allow_exception(void)
{
	in_child(child_allow_exception);
}

static void child_deny_addition(void)
{
	static const char *const opts[][2] = {{"--seccomp", "default"},
					      {"--seccomp-deny", "uname"}};

	CHECK_EQ_INT(uname_errno(), 0);
	apply_or_fail(opts, 2);
	CHECK_EQ_INT(uname_errno(), EPERM);
	CHECK_EQ_INT(p_reboot(), EPERM);
	CHECK(getpid() > 0);
}

static void test_deny_addition(void)
{
	in_child(child_deny_addition);
}

static void child_deny_only(void)
{
	static const char *const opts[][2] = {{"--seccomp-deny", "uname"}};

	apply_or_fail(opts, 1);
	CHECK_EQ_INT(seccomp_mode(), 2);
	CHECK_EQ_INT(uname_errno(), EPERM);
	CHECK_EQ_INT(p_unshare(), 0); /* no profile was asked for */
}

static void test_deny_list_without_profile(void)
{
	in_child(child_deny_only);
}

static int exec_probe(void)
{
	int bad = 0;

	bad += seccomp_mode() != 2;
	bad += uname_errno() != EPERM;
	bad += p_unshare() != EPERM;
	bad += getpid() <= 0;
	_exit(bad ? 1 : 0);
}

static void child_exec(void)
{
	static const char *const opts[][2] = {{"--seccomp", "default"},
					      {"--seccomp-deny", "uname"}};
	char *const argv[] = {(char *)"test_seccomp", (char *)"--exec-probe", NULL};

	apply_or_fail(opts, 2);
	if (check_failed_in_test)
		return;
	execv("/proc/self/exe", argv);
	printf("  execv: %s\n", strerror(errno));
	CHECK(0);
}

/* execve works under the filter, and the filter outlives it. */
static void test_filter_survives_exec(void)
{
	in_child(child_exec);
}

static int nnp(void)
{
	return prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0);
}

static void child_privilege_drop(void)
{
	static const char *const opts[][2] = {{"--seccomp", "default"}};
	static const char *const opts2[][2] = {{"--seccomp-deny", "uname"}};

	/* Installed while privileged: no_new_privs is left alone. */
	apply_or_fail(opts, 1);
	CHECK_EQ_INT(nnp(), 0);
	CHECK_EQ_INT(setgroups(0, NULL), 0);
	CHECK_EQ_INT(setresgid(65534, 65534, 65534), 0);
	CHECK_EQ_INT(setresuid(65534, 65534, 65534), 0);
	CHECK_EQ_INT(p_unshare(), EPERM);
	/* Unprivileged now: the kernel wants no_new_privs, install sets it. */
	apply_or_fail(opts2, 1);
	CHECK_EQ_INT(nnp(), 1);
	CHECK_EQ_INT(uname_errno(), EPERM);
	CHECK_EQ_INT(p_unshare(), EPERM);
}

static void test_privilege_drop(void)
{
	if (geteuid() != 0) {
		printf("info: not root: privilege-drop test skipped\n");
		return;
	}
	in_child(child_privilege_drop);
}

/* The spawn path: compile in the parent, install in a vfork child that
 * shares the parent's memory. The parent stays unfiltered. */
static void test_compile_then_install_after_vfork(void)
{
	struct seccomp_spec s = {0};
	struct seccomp_prog p;
	volatile int installed = -1;
	int st = -1;
	pid_t pid;

	CHECK_EQ_INT(seccomp_spec_add(&s, "--seccomp", "default", err, sizeof(err)), 0);
	CHECK_EQ_INT(seccomp_compile(&s, &p, err, sizeof(err)), 0);
	fflush(stdout);
	pid = vfork();
	if (pid == 0) {
		installed = seccomp_install(&p);
		_exit(installed == 0 && syscall(SYS_unshare, 0L) == -1 && errno == EPERM ? 0 : 1);
	}
	CHECK(pid > 0);
	CHECK_EQ_INT(waitpid(pid, &st, 0), pid);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	CHECK_EQ_INT(installed, 0);
	seccomp_prog_free(&p);
	CHECK_EQ_INT(seccomp_mode(), 0);
	CHECK_EQ_INT(p_unshare(), 0);
}

static double now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static const struct seccomp_prog *cached_a, *cached_b;

static void child_install_a(void)
{
	CHECK_EQ_INT(seccomp_install(cached_a), 0);
	CHECK_EQ_INT(p_unshare(), EPERM);
	CHECK_EQ_INT(uname_errno(), 0);
}

static void child_install_b(void)
{
	CHECK_EQ_INT(seccomp_install(cached_b), 0);
	CHECK_EQ_INT(p_unshare(), 0);
	CHECK_EQ_INT(uname_errno(), EPERM);
}

/* The cache returns the program of the spec asked for, compiles a spec
 * once, and survives eviction of older specs. */
static void test_prog_cache(void)
{
	static struct seccomp_cache cache;
	struct seccomp_spec a = {0}, b = {0}, other[SECCOMP_CACHE_SLOTS];
	double t0, t1, t2;

	CHECK_EQ_INT(seccomp_spec_add(&a, "--seccomp", "default", err, sizeof(err)), 0);
	CHECK_EQ_INT(seccomp_spec_add(&b, "--seccomp-deny", "uname", err, sizeof(err)), 0);
	t0 = now_us();
	cached_a = seccomp_prog_for(&cache, &a, err, sizeof(err));
	t1 = now_us();
	CHECK(seccomp_prog_for(&cache, &a, err, sizeof(err)) == cached_a);
	t2 = now_us();
	printf("info: default profile: compile %.0f us, cache hit %.1f us\n", t1 - t0, t2 - t1);
	cached_b = seccomp_prog_for(&cache, &b, err, sizeof(err));
	CHECK(cached_a != NULL && cached_b != NULL && cached_a != cached_b);
	CHECK(seccomp_prog_for(&cache, &a, err, sizeof(err)) == cached_a);
	in_child(child_install_a);
	in_child(child_install_b);
	/* Enough other specs to evict both; then a and b compile afresh
	 * and still mean what they meant. */
	for (int i = 0; i < SECCOMP_CACHE_SLOTS; i++) {
		static const char *const names[] = {"getppid", "getpgrp", "getsid", "times"};
		memset(&other[i], 0, sizeof(other[i]));
		CHECK_EQ_INT(
		    seccomp_spec_add(&other[i], "--seccomp-deny", names[i % 4], err, sizeof(err)),
		    0);
		CHECK(seccomp_prog_for(&cache, &other[i], err, sizeof(err)) != NULL);
	}
	cached_a = seccomp_prog_for(&cache, &a, err, sizeof(err));
	cached_b = seccomp_prog_for(&cache, &b, err, sizeof(err));
	CHECK(cached_a != NULL && cached_b != NULL);
	in_child(child_install_a);
	in_child(child_install_b);
	/* A bad spec is an error, not a cached empty program. */
	struct seccomp_spec bad = {.enabled = true, .profile = "nope"};
	CHECK(seccomp_prog_for(&cache, &bad, err, sizeof(err)) == NULL);
	CHECK(strstr(err, "unknown profile") != NULL);
}

#if defined(__x86_64__)
/* An x86_64 process can also enter the kernel through the i386 ABI
 * (int $0x80) and the x32 ABI (syscall with bit 30 set), with other
 * syscall numbers. The filter must deny there too, not just natively. */
static long i386_syscall1(long nr, long a1)
{
	long ret;
	__asm__ volatile("int $0x80"
			 : "=a"(ret)
			 : "a"(nr), "b"(a1), "c"(0L), "d"(0L)
			 : "r8", "r9", "r10", "r11", "memory");
	return ret;
}

static long x32_syscall1(long nr, long a1)
{
	long ret;
	__asm__ volatile("syscall" : "=a"(ret) : "a"(nr), "D"(a1) : "rcx", "r11", "memory");
	return ret;
}

#define I386_NR_UNSHARE 310
#define X32_NR_UNSHARE	(0x40000000L | 272)

/* Whether this kernel has the i386 ABI: without it int $0x80 faults. */
static bool have_i386_abi(void)
{
	int st = 0;
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		signal(SIGSEGV, SIG_DFL); /* die quietly, also under ASan */
		i386_syscall1(I386_NR_UNSHARE, 0);
		_exit(0);
	}
	if (pid < 0 || waitpid(pid, &st, 0) != pid)
		return false;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

static void child_compat_abis(void)
{
	static const char *const opts[][2] = {{"--seccomp", "default"}};
	bool i386 = have_i386_abi();
	long x32_before = x32_syscall1(X32_NR_UNSHARE, 0);

	if (i386)
		CHECK_EQ_INT(i386_syscall1(I386_NR_UNSHARE, 0), 0);
	apply_or_fail(opts, 1);
	if (i386)
		CHECK_EQ_INT(i386_syscall1(I386_NR_UNSHARE, 0), -EPERM);
	else
		printf("info: kernel without the i386 ABI: int $0x80 not checked\n");
	/* Kernels mostly run with x32 off (-ENOSYS before the filter); the
	 * filter sees the call first either way. */
	printf("info: x32 unshare(0) unfiltered: %ld\n", x32_before);
	CHECK_EQ_INT(x32_syscall1(X32_NR_UNSHARE, 0), -EPERM);
	CHECK_EQ_INT(p_unshare(), EPERM);
}

static void test_compat_abis_covered(void)
{
	in_child(child_compat_abis);
}
#endif

#ifdef TEST_SECCOMP_STATIC
/* This binary is the proof for the static agent, so it must itself be
 * static: no program interpreter in its ELF headers. */
static void test_is_static_binary(void)
{
	FILE *f = fopen("/proc/self/exe", "rb");
	Elf64_Ehdr eh;
	int interp = 0, loads = 0;

	CHECK(f != NULL);
	if (!f)
		return;
	CHECK_EQ_INT(fread(&eh, sizeof(eh), 1, f), 1);
	CHECK(memcmp(eh.e_ident, ELFMAG, SELFMAG) == 0);
	for (unsigned i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;
		if (fseek(f, (long)(eh.e_phoff + (Elf64_Off)i * eh.e_phentsize), SEEK_SET) != 0 ||
		    fread(&ph, sizeof(ph), 1, f) != 1)
			break;
		interp += ph.p_type == PT_INTERP;
		loads += ph.p_type == PT_LOAD;
	}
	fclose(f);
	CHECK_EQ_INT(interp, 0);
	CHECK(loads > 0);
	const struct scmp_version *v = seccomp_version();
	printf("info: static musl binary, libseccomp %u.%u.%u\n", v->major, v->minor, v->micro);
}
#endif

int main(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "--exec-probe") == 0)
		return exec_probe();
#ifdef TEST_SECCOMP_STATIC
	RUN(test_is_static_binary);
#endif
	RUN(test_empty_spec_is_disabled);
	RUN(test_profile_option);
	RUN(test_unknown_profile);
	RUN(test_not_a_seccomp_option);
	RUN(test_missing_value);
	RUN(test_lists);
	RUN(test_bad_names);
	RUN(test_allow_and_deny_conflict);
	RUN(test_list_limit);
	RUN(test_small_error_buffer);
	RUN(test_default_profile_names);
	RUN(test_compile);
	RUN(test_default_profile_enforced);
	RUN(test_allow_exception);
	RUN(test_deny_addition);
	RUN(test_deny_list_without_profile);
	RUN(test_filter_survives_exec);
	RUN(test_privilege_drop);
	RUN(test_compile_then_install_after_vfork);
	RUN(test_prog_cache);
#if defined(__x86_64__)
	RUN(test_compat_abis_covered);
#endif
	return check_summary();
}
