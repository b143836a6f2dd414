/* Switch root (task.root=DEVICE): from the initramfs, mount a disk, make
 * it the root and exec its /sbin/init, so the disk's own taskinit (or any
 * init) runs as PID 1 with the disk's binaries, modules and tests. The
 * steps, and why exec rather than carrying on, are in docs/image.md
 * ("Disk roots: task.root").
 *
 * Everything before the MS_MOVE onto / is undone when a step fails, and
 * the boot goes on from the initramfs with an error on the console: a
 * missing or broken disk never costs the guest its agent. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>

#include "init/init.h"

#define NEW_ROOT "/sysroot"
/* Deeper trees are left alone rather than risking the stack. */
#define DELETE_DEPTH 64
#define RAMFS_MAGIC_ 0x858458f6
#define TMPFS_MAGIC_ 0x01021994

/* The mounts that outlive the initramfs, in the order they are moved. */
static const char *const moved_mounts[] = {"/dev", "/proc", "/sys", "/run"};
#define N_MOVED (sizeof(moved_mounts) / sizeof(moved_mounts[0]))

static bool fs_is_initramfs(long type)
{
	return type == RAMFS_MAGIC_ || type == TMPFS_MAGIC_;
}

static bool is_block_device(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISBLK(st.st_mode);
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Bounded: the boot has not started serving yet, and the disk is what the
 * guest is for. The virtio disk drivers are loaded the first time the node
 * is missing; anything else comes from task.modules (loaded before). */
static bool wait_for_device(struct agent *a, const char *dev)
{
	if (is_block_device(dev))
		return true;
	log_msg(a, LL_INFO,
		"switch root: no %s yet; loading the virtio disk drivers, waiting up to %us", dev,
		a->cfg.root_wait_s);
	modules_load(a, "virtio_pci");
	modules_load(a, "virtio_blk");
	uint64_t deadline = now_ns() + (uint64_t)a->cfg.root_wait_s * 1000000000u;
	for (;;) {
		if (is_block_device(dev))
			return true;
		if (now_ns() >= deadline)
			return false;
		sleep_ms(10);
	}
}

/* "ext4" in /proc/filesystems, else its module. */
static void ensure_fstype(struct agent *a, const char *type)
{
	FILE *f = fopen("/proc/filesystems", "re");
	char line[128];
	bool found = false;

	while (f && !found && fgets(line, sizeof(line), f)) {
		char *name = strchr(line, '\t');
		name = name ? name + 1 : line;
		name[strcspn(name, "\n")] = 0;
		found = !strcmp(name, type);
	}
	if (f)
		fclose(f);
	if (!found)
		modules_load(a, type);
}

static int mount_new_root(struct agent *a)
{
	const struct config *c = &a->cfg;
	unsigned long flags;
	char data[sizeof(c->rootflags)];
	const char *why;

	if (mount_options_parse(c->rootflags, &flags, data, sizeof(data), &why) < 0) {
		log_msg(a, LL_ERROR, "switch root: task.rootflags=%s: %s", c->rootflags, why);
		return -1;
	}
	if (mkdir(NEW_ROOT, 0755) < 0 && errno != EEXIST) {
		log_msg(a, LL_ERROR, "switch root: mkdir %s: %s", NEW_ROOT, strerror(errno));
		return -1;
	}
	ensure_fstype(a, c->rootfstype);
	if (mount(c->root, NEW_ROOT, c->rootfstype, flags, data[0] ? data : NULL) < 0) {
		log_msg(a, LL_ERROR, "switch root: mount %s (%s%s%s) on %s: %s", c->root,
			c->rootfstype, c->rootflags[0] ? "," : "", c->rootflags, NEW_ROOT,
			strerror(errno));
		return -1;
	}
	log_msg(a, LL_INFO, "switch root: mounted %s (%s%s%s) on %s", c->root, c->rootfstype,
		c->rootflags[0] ? "," : "", c->rootflags, NEW_ROOT);
	return 0;
}

static bool is_mount_of_its_own(const char *path)
{
	struct stat st, root;

	return stat(path, &st) == 0 && stat("/", &root) == 0 && st.st_dev != root.st_dev;
}

/* Moves the first n of moved_mounts back out of the new root. */
static void move_back(struct agent *a, const bool *moved, size_t n)
{
	char under[64];

	while (n--) {
		if (!moved[n])
			continue;
		snprintf(under, sizeof(under), NEW_ROOT "%s", moved_mounts[n]);
		if (mount(under, moved_mounts[n], NULL, MS_MOVE, NULL) < 0)
			log_msg(a, LL_ERROR, "switch root: moving %s back: %s", moved_mounts[n],
				strerror(errno));
	}
}

/* /dev (with /dev/pts and /dev/shm), /proc, /sys (with the cgroup
 * tree) and /run go under the new root, where its init expects them. */
static int move_mounts(struct agent *a, bool *moved)
{
	char under[64];

	for (size_t i = 0; i < N_MOVED; i++) {
		moved[i] = false;
		if (!is_mount_of_its_own(moved_mounts[i]))
			continue;
		snprintf(under, sizeof(under), NEW_ROOT "%s", moved_mounts[i]);
		if ((mkdir(under, 0755) < 0 && errno != EEXIST) ||
		    mount(moved_mounts[i], under, NULL, MS_MOVE, NULL) < 0) {
			log_msg(a, LL_ERROR, "switch root: move %s to %s: %s", moved_mounts[i],
				under, strerror(errno));
			move_back(a, moved, i);
			return -1;
		}
		moved[i] = true;
	}
	return 0;
}

/* Removes everything under dirfd that lives on dev; a directory of
 * another file system (a mount point) is left alone, and so is everything
 * below DELETE_DEPTH. Adds the bytes of the files it removed to *freed. */
static void delete_children(int dirfd, dev_t dev, unsigned depth, uint64_t *freed)
{
	DIR *d;
	struct dirent *e;
	int fd = dup(dirfd);

	if (fd < 0 || !(d = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		return;
	}
	while ((e = readdir(d))) {
		struct stat st;

		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (fstatat(dirfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || st.st_dev != dev)
			continue;
		if (S_ISDIR(st.st_mode)) {
			if (depth >= DELETE_DEPTH)
				continue;
			int sub = openat(dirfd, e->d_name,
					 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sub < 0)
				continue;
			struct stat sst;
			if (fstat(sub, &sst) == 0 && sst.st_dev == dev)
				delete_children(sub, dev, depth + 1, freed);
			close(sub);
			unlinkat(dirfd, e->d_name, AT_REMOVEDIR);
		} else if (unlinkat(dirfd, e->d_name, 0) == 0 && S_ISREG(st.st_mode)) {
			*freed += (uint64_t)st.st_size;
		}
	}
	closedir(d);
}

/* The initramfs files take memory for as long as they exist. Only ever on
 * a ramfs or tmpfs, checked again here on the descriptor itself. */
static void free_initramfs(struct agent *a, int oldroot)
{
	struct statfs sfs;
	struct stat st;
	uint64_t freed = 0;

	if (fstatfs(oldroot, &sfs) < 0 || !fs_is_initramfs((long)sfs.f_type) ||
	    fstat(oldroot, &st) < 0) {
		log_msg(a, LL_WARN, "switch root: old root is not an initramfs; not deleting it");
		return;
	}
	delete_children(oldroot, st.st_dev, 0, &freed);
	log_msg(a, LL_INFO, "switch root: freed the initramfs (%llu KiB of files)",
		(unsigned long long)(freed / 1024));
}

/* Past the MS_MOVE onto / there is no way back: what fails from here is
 * logged and the boot goes on from wherever we are. */
static void enter_new_root(struct agent *a, int oldroot, char **argv, uint64_t t0)
{
	if (chroot(".") < 0 || chdir("/") < 0) {
		/* Our root is still the initramfs (under the disk's mount):
		 * deleting it would take every file PID 1 can reach. */
		log_msg(a, LL_ERROR, "switch root: chroot: %s; keeping the initramfs",
			strerror(errno));
		close(oldroot);
		return;
	}
	free_initramfs(a, oldroot);
	close(oldroot);
	log_msg(a, LL_INFO, "switch root: %s is / (%llu ms); exec /sbin/init", a->cfg.root,
		(unsigned long long)((now_ns() - t0) / 1000000u));
	if (access("/sbin/init", X_OK) == 0) {
		/* The next init gets the signal mask a fresh boot gives: empty. */
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		argv[0] = "/sbin/init";
		execv("/sbin/init", argv);
		int err = errno;
		signals_block();
		log_msg(a, LL_ERROR, "switch root: exec /sbin/init: %s", strerror(err));
	} else {
		log_msg(a, LL_ERROR, "switch root: /sbin/init: %s", strerror(errno));
	}
	log_msg(a, LL_ERROR, "switch root: booting on from %s in this process", a->cfg.root);
}

void switch_root(struct agent *a, char **argv)
{
	const struct config *c = &a->cfg;
	struct statfs sfs;
	bool moved[N_MOVED];
	uint64_t t0 = now_ns();
	int oldroot;

	if (!c->root[0])
		return;
	if (a->mode != MODE_VM) {
		log_msg(a, LL_WARN, "switch root: task.root=%s ignored: not a VM's PID 1", c->root);
		return;
	}
	if (statfs("/", &sfs) < 0 || !fs_is_initramfs((long)sfs.f_type)) {
		/* The disk's own init, after the switch, or a disk boot. */
		log_msg(a, LL_INFO, "switch root: / is not an initramfs; task.root=%s already done",
			c->root);
		return;
	}
	if (!wait_for_device(a, c->root)) {
		log_msg(a, LL_ERROR,
			"switch root: %s did not appear within %us; staying on the initramfs",
			c->root, c->root_wait_s);
		return;
	}
	if (mount_new_root(a) < 0)
		goto stay;
	if (move_mounts(a, moved) < 0)
		goto unmount;
	oldroot = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (oldroot < 0 || chdir(NEW_ROOT) < 0 || mount(".", "/", NULL, MS_MOVE, NULL) < 0) {
		log_msg(a, LL_ERROR, "switch root: move %s to /: %s", NEW_ROOT, strerror(errno));
		if (oldroot >= 0)
			close(oldroot);
		if (chdir("/") < 0)
			log_msg(a, LL_WARN, "chdir /: %s", strerror(errno));
		move_back(a, moved, N_MOVED);
		goto unmount;
	}
	enter_new_root(a, oldroot, argv, t0);
	return;
unmount:
	if (umount2(NEW_ROOT, MNT_DETACH) < 0)
		log_msg(a, LL_WARN, "switch root: umount %s: %s", NEW_ROOT, strerror(errno));
stay:
	log_msg(a, LL_ERROR, "switch root: staying on the initramfs");
}
