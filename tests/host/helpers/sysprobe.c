/* sysprobe: makes harmless syscalls and says how each one ended, so a host
 * test can run it as a task and see what its seccomp filter denied.
 *
 *   sysprobe NAME...     one line per NAME: "NAME: ok" or "NAME: EPERM" ...
 *   sysprobe status      "seccomp: N nnp: N" from /proc/self/status
 *
 * Every probe does nothing when the call goes through (bad magic, bad
 * flags, missing paths), because tests run it as root. Exit status: 0, or 2
 * for an unknown NAME. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

static int res(long r)
{
	return r == -1 ? errno : 0;
}

static int probe(const char *name)
{
	struct utsname u;

	if (strcmp(name, "reboot") == 0)
		return res(syscall(SYS_reboot, 0L, 0L, 0L, 0L)); /* bad magic */
	if (strcmp(name, "mount") == 0)
		return res(syscall(SYS_mount, NULL, "/nonexistent-sysprobe", NULL, 0L, NULL));
	if (strcmp(name, "kexec_load") == 0)
		return res(syscall(SYS_kexec_load, 0L, 17L, NULL, 0x8000L)); /* bad flags */
	if (strcmp(name, "init_module") == 0)
		return res(syscall(SYS_init_module, NULL, 0L, ""));
	if (strcmp(name, "bpf") == 0)
		return res(syscall(SYS_bpf, 0x7fffL, NULL, 0L)); /* no such command */
	if (strcmp(name, "unshare") == 0)
		return res(syscall(SYS_unshare, 0L)); /* a no-op anyone may do */
	if (strcmp(name, "setns") == 0)
		return res(syscall(SYS_setns, -1L, 0L));
	if (strcmp(name, "ptrace") == 0)
		return res(syscall(SYS_ptrace, 2L /* PEEKDATA */, (long)getppid(), 0L, 0L));
	if (strcmp(name, "uname") == 0)
		return res(syscall(SYS_uname, &u));
	if (strcmp(name, "getpid") == 0)
		return res(syscall(SYS_getpid));
	if (strcmp(name, "clone_newuser") == 0) {
		long r = syscall(SYS_clone, (long)(CLONE_NEWUSER | SIGCHLD), 0L, 0L, 0L, 0L);
		if (r == 0)
			_exit(0);
		if (r > 0)
			waitpid((pid_t)r, NULL, 0);
		return r == -1 ? errno : 0;
	}
	return -1;
}

static const char *errname(int e)
{
	static const struct {
		int e;
		const char *name;
	} names[] = {{EPERM, "EPERM"},	 {ENOENT, "ENOENT"}, {ESRCH, "ESRCH"},
		     {EBADF, "EBADF"},	 {EFAULT, "EFAULT"}, {EINVAL, "EINVAL"},
		     {ENOSYS, "ENOSYS"}, {EACCES, "EACCES"}, {ENODEV, "ENODEV"}};
	static char buf[32];

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].e == e)
			return names[i].name;
	snprintf(buf, sizeof(buf), "errno %d", e);
	return buf;
}

static int status(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	int mode = -1, nnp = -1;

	if (!f)
		return 1;
	while (fgets(line, sizeof(line), f)) {
		sscanf(line, "Seccomp: %d", &mode);
		sscanf(line, "NoNewPrivs: %d", &nnp);
	}
	fclose(f);
	printf("seccomp: %d nnp: %d\n", mode, nnp);
	return 0;
}

int main(int argc, char **argv)
{
	int rc = 0;

	for (int i = 1; i < argc; i++) {
		int e;

		if (strcmp(argv[i], "status") == 0) {
			rc |= status();
			continue;
		}
		e = probe(argv[i]);
		if (e < 0) {
			fprintf(stderr, "sysprobe: unknown probe %s\n", argv[i]);
			rc = 2;
			continue;
		}
		printf("%s: %s\n", argv[i], e ? errname(e) : "ok");
	}
	fflush(stdout);
	return rc;
}
