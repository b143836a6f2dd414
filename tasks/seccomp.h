/* tasks/seccomp — per-task seccomp filters (private to tasks/).
 *
 * A task's filter is described by a seccomp_spec that the control protocol
 * fills from the run options
 *     --seccomp default          the built-in profile (docs/seccomp.md)
 *     --seccomp-allow a,b,...    take these out of the profile's deny list
 *     --seccomp-deny  a,b,...    deny these as well
 * Every denied syscall fails with EPERM; everything else is allowed. Names
 * are checked in the parent (seccomp_spec_add), so a typo is an error of the
 * run request, never a child that dies after fork.
 *
 * Two ways to put the filter on the child:
 * - seccomp_prog_for() (or seccomp_compile()) in the parent,
 *   seccomp_install() in the child: the child makes one or two syscalls and
 *   touches no heap, so it is safe after vfork() or clone(CLONE_VM). This is
 *   the path the spawn code should use.
 * - seccomp_apply() in a fork()ed child: compile and install in one call.
 *   It allocates, which is fine after fork() of the single-threaded agent.
 *
 * Ordering in the child: install while the child still has the agent's
 * privileges (before setgroups/setgid/setuid), after every setup step that
 * could need a denied call. A privileged installer does not need
 * no_new_privs, so the filter does not switch it on behind the task's back;
 * only when the kernel refuses (no CAP_SYS_ADMIN) does install set
 * no_new_privs and retry. The filter stays across setuid() and execve().
 */
#ifndef TASKINIT_TASKS_SECCOMP_H
#define TASKINIT_TASKS_SECCOMP_H

#include <stdbool.h>
#include <stddef.h>

#define SECCOMP_MAX_NAMES 32 /* per list, per task */
#define SECCOMP_NAME_MAX  32 /* with the NUL; the longest syscall name is 23 */

/* All zero means "no filter". Fill only through seccomp_spec_add. */
struct seccomp_spec {
	bool enabled;	  /* any --seccomp* option was given */
	char profile[16]; /* "default", or "" for deny-list only */
	unsigned n_allow, n_deny;
	char allow[SECCOMP_MAX_NAMES][SECCOMP_NAME_MAX];
	char deny[SECCOMP_MAX_NAMES][SECCOMP_NAME_MAX];
};

/* Applies one run option to s. opt is "seccomp", "seccomp-allow" or
 * "seccomp-deny" (a leading "--" is accepted); value is the option's
 * argument. Options combine in any order; a name may not be both allowed
 * and denied; duplicates count once.
 * Returns 0 on success, 1 if opt is not a seccomp option (s untouched), -1
 * on a bad value with a one-line reason in err (s untouched). */
int seccomp_spec_add(struct seccomp_spec *s, const char *opt, const char *value, char *err,
		     size_t errlen);

/* The syscalls a built-in profile denies: a NULL-terminated list, or NULL
 * for an unknown profile. Arg-filtered entries are listed too (clone only
 * with namespace flags; clone3 fails with ENOSYS so libcs fall back to
 * clone, whose flags a filter can see). */
const char *const *seccomp_profile_names(const char *profile);

/* A compiled filter: classic BPF, ready for the kernel. */
struct seccomp_prog {
	unsigned short len; /* instructions */
	void *insns;	    /* struct sock_filter[len], malloc'ed */
};

/* Builds the filter for s (which must be enabled). Allocates; parent side.
 * Returns 0, or -1 with errno and a reason in err. */
int seccomp_compile(const struct seccomp_spec *s, struct seccomp_prog *p, char *err, size_t errlen);

/* The last SECCOMP_CACHE_SLOTS distinct specs and their programs: the
 * default profile takes about 2 ms to compile with the static musl
 * libseccomp (three ABIs), and a repeated spec then costs a memcmp. Fields
 * are private; zero-initialise, and seccomp_cache_free when done. */
#define SECCOMP_CACHE_SLOTS 4
struct seccomp_cache {
	struct {
		struct seccomp_spec key;
		struct seccomp_prog prog; /* len 0: an empty slot */
		unsigned long used;	  /* least recently used goes first */
	} slot[SECCOMP_CACHE_SLOTS];
	unsigned long clock;
};

/* seccomp_compile behind the cache. The program belongs to the cache: do
 * not free it; it stays valid at least until the next call. NULL with errno
 * and a reason in err on failure. */
const struct seccomp_prog *seccomp_prog_for(struct seccomp_cache *c, const struct seccomp_spec *s,
					    char *err, size_t errlen);
void seccomp_cache_free(struct seccomp_cache *c);

/* Loads p on the calling thread. No allocation, no libc state: safe in a
 * vfork child. Returns 0 or -1 with errno (EINVAL: kernel without
 * CONFIG_SECCOMP_FILTER). */
int seccomp_install(const struct seccomp_prog *p);

void seccomp_prog_free(struct seccomp_prog *p);

/* compile + install + free, for a fork()ed child. Does nothing and returns
 * 0 when s is not enabled. Returns -1 with errno and a reason in err. */
int seccomp_apply(const struct seccomp_spec *s, char *err, size_t errlen);

#endif
