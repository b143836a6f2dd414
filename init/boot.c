/* Boot: fds 0-2, the early mounts, /dev contents, hostname, rlimits,
 * loopback. Each step is logged and stamped; none is fatal on its own. */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "init/init.h"

/* The inode number of the initial PID namespace (PROC_PID_INIT_INO in the
 * kernel's include/linux/proc_ns.h); fixed since Linux 3.8. */
#define PROC_PID_INIT_INO 0xEFFFFFFCU

enum agent_mode detect_mode(void)
{
	struct stat st;

	if (getpid() != 1)
		return MODE_SUBREAPER;
	if (stat("/proc/self/ns/pid", &st) == 0 && st.st_ino != PROC_PID_INIT_INO)
		return MODE_NAMESPACE;
	return MODE_VM;
}

static bool fd_is_open(int fd)
{
	return fcntl(fd, F_GETFD) >= 0;
}

/* The kernel starts init with /dev/console on 0-2 only when the image has
 * one; without them, the first files we open would become stdout. */
void boot_fds(void)
{
	for (int fd = 0; fd < 3; fd++) {
		if (fd_is_open(fd))
			continue;
		int nfd = open("/dev/console", O_RDWR | O_NOCTTY);
		if (nfd < 0)
			nfd = open("/dev/null", O_RDWR);
		if (nfd < 0)
			nfd = open("/", O_RDONLY | O_DIRECTORY);
		if (nfd >= 0 && nfd != fd) {
			dup2(nfd, fd);
			close(nfd);
		}
	}
}

/* After /dev exists: fds that were placeholders become the console. */
static void console_on_stdio(struct agent *a)
{
	struct stat st;
	int fd;

	for (int i = 0; i < 3; i++) {
		if (fstat(i, &st) == 0 && (S_ISCHR(st.st_mode) || S_ISFIFO(st.st_mode) ||
					   S_ISREG(st.st_mode) || S_ISSOCK(st.st_mode)))
			continue;
		fd = open("/dev/console", O_RDWR | O_NOCTTY);
		if (fd < 0)
			fd = open("/dev/null", O_RDWR);
		if (fd < 0)
			continue;
		dup2(fd, i);
		if (fd > 2)
			close(fd);
		log_msg(a, LL_INFO, "fd %d now on %s", i, "the console");
	}
}

static bool is_mountpoint(const char *path)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char line[1024];
	bool found = false;

	if (!f) {
		/* Without /proc: a mount point has another device than its parent. */
		struct stat st, parent;
		char up[256];
		snprintf(up, sizeof(up), "%s/..", path);
		return stat(path, &st) == 0 && stat(up, &parent) == 0 && st.st_dev != parent.st_dev;
	}
	while (!found && fgets(line, sizeof(line), f)) {
		char mp[512];
		/* id parent major:minor root mountpoint ... */
		if (sscanf(line, "%*s %*s %*s %*s %511s", mp) == 1 && !strcmp(mp, path))
			found = true;
	}
	fclose(f);
	return found;
}

struct mount_spec {
	const char *source, *target, *fstype;
	unsigned long flags;
	const char *data;
};

static const char *flag_words(unsigned long flags, char *buf, size_t cap)
{
	snprintf(buf, cap, "%s%s%s", flags & MS_NOSUID ? "nosuid," : "",
		 flags & MS_NODEV ? "nodev," : "", flags & MS_NOEXEC ? "noexec," : "");
	size_t n = strlen(buf);
	if (n)
		buf[n - 1] = 0;
	return buf;
}

/* Returns 1 mounted, 0 already there, -1 failed. */
static int mount_one(struct agent *a, const struct mount_spec *m)
{
	char flags[32];

	if (is_mountpoint(m->target)) {
		log_msg(a, LL_INFO, "mount %s: already mounted, skipped", m->target);
		return 0;
	}
	if (mkdir(m->target, 0755) < 0 && errno != EEXIST)
		log_msg(a, LL_WARN, "mkdir %s: %s", m->target, strerror(errno));
	if (mount(m->source, m->target, m->fstype, m->flags, m->data) < 0) {
		log_msg(a, LL_WARN, "mount %s on %s: %s", m->fstype, m->target, strerror(errno));
		return -1;
	}
	log_msg(a, LL_INFO, "mounted %s on %s (%s%s%s)", m->fstype, m->target,
		flag_words(m->flags, flags, sizeof(flags)), m->data ? "," : "",
		m->data ? m->data : "");
	boot_mark(a, "mounted %s", m->target);
	return 1;
}

struct dev_node {
	const char *name;
	mode_t mode;
	unsigned major, minor;
};

/* What a tmpfs /dev needs when the kernel has no devtmpfs. */
static const struct dev_node basic_nodes[] = {
    {"/dev/null", S_IFCHR | 0666, 1, 3},    {"/dev/zero", S_IFCHR | 0666, 1, 5},
    {"/dev/full", S_IFCHR | 0666, 1, 7},    {"/dev/random", S_IFCHR | 0666, 1, 8},
    {"/dev/urandom", S_IFCHR | 0666, 1, 9}, {"/dev/kmsg", S_IFCHR | 0644, 1, 11},
    {"/dev/tty", S_IFCHR | 0666, 5, 0},	    {"/dev/console", S_IFCHR | 0600, 5, 1},
};

static void make_basic_nodes(struct agent *a)
{
	for (size_t i = 0; i < sizeof(basic_nodes) / sizeof(basic_nodes[0]); i++) {
		const struct dev_node *n = &basic_nodes[i];
		if (mknod(n->name, n->mode, makedev(n->major, n->minor)) < 0 && errno != EEXIST)
			log_msg(a, LL_WARN, "mknod %s: %s", n->name, strerror(errno));
	}
	log_msg(a, LL_INFO, "created basic device nodes in /dev");
}

static void mount_dev(struct agent *a)
{
	static const struct mount_spec devtmpfs = {"devtmpfs", "/dev", "devtmpfs",
						   MS_NOSUID | MS_NOEXEC, "mode=0755"};
	static const struct mount_spec devtmp = {"tmpfs", "/dev", "tmpfs", MS_NOSUID | MS_NOEXEC,
						 "mode=0755,size=4m"};

	if (mount_one(a, &devtmpfs) >= 0)
		return;
	if (mount_one(a, &devtmp) > 0)
		make_basic_nodes(a);
}

static void link_if_missing(struct agent *a, const char *target, const char *path)
{
	struct stat st;

	if (lstat(path, &st) == 0)
		return;
	if (symlink(target, path) < 0)
		log_msg(a, LL_WARN, "symlink %s -> %s: %s", path, target, strerror(errno));
	else
		log_msg(a, LL_DEBUG, "linked %s -> %s", path, target);
}

/* With a private devpts instance, /dev/ptmx must open that instance's
 * multiplexer. A bind mount (not an unlink) keeps a shared devtmpfs, as
 * in a test namespace, untouched. */
static void point_ptmx(struct agent *a)
{
	struct stat st;

	if (lstat("/dev/ptmx", &st) == 0 && S_ISLNK(st.st_mode))
		return;
	if (lstat("/dev/ptmx", &st) < 0) {
		link_if_missing(a, "pts/ptmx", "/dev/ptmx");
		return;
	}
	if (is_mountpoint("/dev/ptmx"))
		return;
	if (mount("/dev/pts/ptmx", "/dev/ptmx", "none", MS_BIND, NULL) < 0) {
		log_msg(a, LL_WARN, "bind /dev/pts/ptmx on /dev/ptmx: %s", strerror(errno));
		return;
	}
	log_msg(a, LL_INFO, "bound /dev/pts/ptmx on /dev/ptmx");
}

void boot_mounts(struct agent *a)
{
	static const struct mount_spec proc = {"proc", "/proc", "proc",
					       MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL};
	static const struct mount_spec later[] = {
	    {"devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC,
	     "newinstance,ptmxmode=0666,mode=0620,gid=5"},
	    {"shm", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777"},
	    {"tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755"},
	    {"cgroup2", "/sys/fs/cgroup", "cgroup2", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL},
	};
	static const struct mount_spec sys = {"sysfs", "/sys", "sysfs",
					      MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL};
	int pts;

	/* A child subreaper (taskinit run as any process but PID 1) lives in
	 * somebody else's system: its filesystems are not ours to mount. */
	if (a->pid != 1) {
		log_msg(a, LL_INFO, "not PID 1: a child subreaper mounts nothing");
		return;
	}
	mount_one(a, &proc);
	mount_one(a, &sys);
	mount_dev(a);
	console_on_stdio(a);
	pts = mount_one(a, &later[0]);
	if (pts > 0)
		point_ptmx(a);
	for (size_t i = 1; i < sizeof(later) / sizeof(later[0]); i++)
		mount_one(a, &later[i]);
	link_if_missing(a, "/proc/self/fd", "/dev/fd");
	link_if_missing(a, "/proc/self/fd/0", "/dev/stdin");
	link_if_missing(a, "/proc/self/fd/1", "/dev/stdout");
	link_if_missing(a, "/proc/self/fd/2", "/dev/stderr");
	boot_mark(a, "mounts done");
}

static void set_hostname(struct agent *a)
{
	char cur[65] = "";
	const char *want = a->cfg.hostname;

	gethostname(cur, sizeof(cur) - 1);
	/* An unset kernel hostname reads "(none)"; give it a usable one. */
	if (!*want && (!*cur || !strcmp(cur, "(none)")))
		want = "localhost";
	if (!*want || !strcmp(cur, want))
		return;
	if (sethostname(want, strlen(want)) < 0)
		log_msg(a, LL_WARN, "sethostname %s: %s", want, strerror(errno));
	else
		log_msg(a, LL_INFO, "hostname %s", want);
}

/* fs.nr_open bounds RLIMIT_NOFILE; PID 1 serves many clients and tasks. */
static void raise_nofile(struct agent *a)
{
	struct rlimit rl;
	unsigned long nr_open = 1048576;
	FILE *f = fopen("/proc/sys/fs/nr_open", "re");

	if (f) {
		if (fscanf(f, "%lu", &nr_open) != 1)
			nr_open = 1048576;
		fclose(f);
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return;
	struct rlimit want = {nr_open, nr_open};
	if (setrlimit(RLIMIT_NOFILE, &want) < 0) {
		want.rlim_cur = want.rlim_max = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &want);
	}
	getrlimit(RLIMIT_NOFILE, &rl);
	log_msg(a, LL_INFO, "RLIMIT_NOFILE %llu", (unsigned long long)rl.rlim_cur);
}

static void loopback_up(struct agent *a)
{
	struct ifreq ifr;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0) {
		log_msg(a, LL_WARN, "loopback: socket: %s", strerror(errno));
		return;
	}
	memset(&ifr, 0, sizeof(ifr));
	strcpy(ifr.ifr_name, "lo");
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0) {
		log_msg(a, LL_WARN, "loopback: %s", strerror(errno));
	} else if (!(ifr.ifr_flags & IFF_UP)) {
		ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
		if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
			log_msg(a, LL_WARN, "loopback up: %s", strerror(errno));
		else
			log_msg(a, LL_INFO, "loopback up");
	}
	close(fd);
}

void boot_system(struct agent *a)
{
	umask(022);
	/* Tasks inherit PATH; the kernel gives init none. */
	setenv("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", 0);
	set_hostname(a);
	raise_nofile(a);
	if (a->mode != MODE_SUBREAPER) /* a subreaper's network is somebody else's */
		loopback_up(a);
	if (a->mode == MODE_VM) {
		/* Ctrl-Alt-Del becomes SIGINT to PID 1 instead of an instant reboot. */
		if (reboot(RB_DISABLE_CAD) < 0)
			log_msg(a, LL_WARN, "disable Ctrl-Alt-Del: %s", strerror(errno));
	}
	boot_mark(a, "system set up");
}
