/* Verbs for clock and entropy (issue 7): what a guest restored from a
 * snapshot needs from the host before anything else. docs/protocol.md. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include <linux/random.h>

#include "vsock/conn.h"
#include "vsock/sysfile.h"

#ifndef RNDRESEEDCRNG
#define RNDRESEEDCRNG _IO('R', 0x07) /* Linux 4.17; older headers lack it */
#endif

static int64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	if (clock_gettime(id, &ts) < 0)
		return 0;
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void put_realtime(struct jw *w, int64_t ns)
{
	char when[48];

	jw_key(w, "realtime_ns");
	jw_i64(w, ns);
	jw_key(w, "realtime");
	if (fx_format_time(ns, when, sizeof(when)))
		jw_str(w, when);
	else
		jw_null(w);
}

static void verb_clock(struct conn *c, int argc, char **argv)
{
	char buf[256];
	struct jw w;

	(void)argc, (void)argv;
	jw_init(&w, buf, sizeof(buf));
	reply_ok_open(&w);
	put_realtime(&w, clock_ns(CLOCK_REALTIME));
	jw_key(&w, "monotonic_ns");
	jw_i64(&w, clock_ns(CLOCK_MONOTONIC));
	jw_key(&w, "boottime_ns");
	jw_i64(&w, clock_ns(CLOCK_BOOTTIME));
	jw_obj_close(&w);
	conn_queue_reply(c, &w);
}

static void verb_setclock(struct conn *c, int argc, char **argv)
{
	char buf[256], msg[256];
	int64_t want, before;
	struct jw w;

	(void)argc;
	int r = fx_parse_time(argv[0], &want, msg, sizeof(msg));
	if (r < 0) {
		conn_queue_error(c, r == -2 ? "out_of_range" : "bad_argument", msg);
		return;
	}
	struct timespec ts = {.tv_sec = want / 1000000000, .tv_nsec = want % 1000000000};
	before = clock_ns(CLOCK_REALTIME);
	if (clock_settime(CLOCK_REALTIME, &ts) < 0) {
		snprintf(msg, sizeof(msg), "clock_settime: %s", strerror(errno));
		conn_queue_error(c, errno == EPERM ? "permission" : "clock_failed", msg);
		return;
	}
	int64_t now = clock_ns(CLOCK_REALTIME);
	log_msg(c->a, LL_INFO, "control: %s stepped the realtime clock by %lld ns", c->peer,
		(long long)(want - before));
	jw_init(&w, buf, sizeof(buf));
	reply_ok_open(&w);
	put_realtime(&w, now);
	jw_key(&w, "previous_ns");
	jw_i64(&w, before);
	jw_key(&w, "step_ns");
	jw_i64(&w, want - before);
	jw_obj_close(&w);
	conn_queue_reply(c, &w);
}

/* /proc/sys/kernel/random/entropy_avail, or -1. */
static long entropy_avail(void)
{
	char buf[32];
	int fd = open("/proc/sys/kernel/random/entropy_avail", O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	return strtol(buf, NULL, 10);
}

struct entropy_args {
	bool base64, have_credit;
	uint64_t credit;
	const char *data;
};

static int parse_entropy(int argc, char **argv, struct entropy_args *ea, char *msg, size_t cap)
{
	memset(ea, 0, sizeof(*ea));
	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--base64")) {
			ea->base64 = true;
		} else if (!strcmp(argv[i], "--credit")) {
			if (i + 1 >= argc || fx_parse_u64(argv[i + 1], &ea->credit) < 0) {
				snprintf(msg, cap, "--credit takes a number of bits");
				return -1;
			}
			ea->have_credit = true;
			i++;
		} else if (!ea->data && strncmp(argv[i], "--", 2) != 0) {
			ea->data = argv[i];
		} else {
			snprintf(msg, cap, "usage: entropy [--base64] [--credit BITS] DATA");
			return -1;
		}
	}
	if (!ea->data) {
		snprintf(msg, cap, "usage: entropy [--base64] [--credit BITS] DATA");
		return -1;
	}
	return 0;
}

static void verb_entropy(struct conn *c, int argc, char **argv)
{
	/* struct rand_pool_info ends in the bytes: room for the largest. */
	_Alignas(struct rand_pool_info)
	    uint8_t pool[sizeof(struct rand_pool_info) + FX_ENTROPY_MAX];
	struct rand_pool_info *info = (struct rand_pool_info *)pool;
	struct entropy_args ea;
	char buf[256], msg[160];
	struct jw w;
	long n;

	if (parse_entropy(argc, argv, &ea, msg, sizeof(msg)) < 0) {
		conn_queue_error(c, "bad_argument", msg);
		return;
	}
	uint8_t *data = pool + sizeof(*info);
	n = ea.base64 ? fx_decode_base64(ea.data, data, FX_ENTROPY_MAX)
		      : fx_decode_hex(ea.data, data, FX_ENTROPY_MAX);
	if (n <= 0) {
		snprintf(msg, sizeof(msg), "DATA must be 1 to %d bytes of %s", FX_ENTROPY_MAX,
			 ea.base64 ? "base64" : "hex (or --base64)");
		conn_queue_error(c, "bad_argument", msg);
		return;
	}
	uint64_t credit = ea.have_credit ? ea.credit : (uint64_t)n * 8;
	if (credit > (uint64_t)n * 8) {
		snprintf(msg, sizeof(msg), "--credit %llu: at most 8 bits per byte (%ld)",
			 (unsigned long long)credit, n * 8);
		conn_queue_error(c, "bad_argument", msg);
		return;
	}
	info->entropy_count = (int)credit;
	info->buf_size = (int)n;
	int fd = open("/dev/urandom", O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		fd = open("/dev/random", O_WRONLY | O_CLOEXEC);
	if (fd < 0 || ioctl(fd, RNDADDENTROPY, info) < 0) {
		snprintf(msg, sizeof(msg), "%s: %s", fd < 0 ? "open /dev/urandom" : "RNDADDENTROPY",
			 strerror(errno));
		conn_queue_error(c, errno == EPERM ? "permission" : "entropy_failed", msg);
		if (fd >= 0)
			close(fd);
		explicit_bzero(&pool, sizeof(pool));
		return;
	}
	/* Older kernels (before 4.17) lack the ioctl: the bytes are in the
	 * pool all the same, and the reply says the reseed did not happen. */
	bool reseeded = ioctl(fd, RNDRESEEDCRNG) == 0;
	close(fd);
	explicit_bzero(&pool, sizeof(pool));
	log_msg(c->a, LL_INFO, "control: %s added %ld bytes of entropy (%llu bits credited)",
		c->peer, n, (unsigned long long)credit);
	jw_init(&w, buf, sizeof(buf));
	reply_ok_open(&w);
	jw_key(&w, "bytes");
	jw_i64(&w, n);
	jw_key(&w, "credited_bits");
	jw_u64(&w, credit);
	jw_key(&w, "reseeded");
	jw_bool(&w, reseeded);
	jw_key(&w, "entropy_avail");
	long avail = entropy_avail();
	if (avail >= 0)
		jw_i64(&w, avail);
	else
		jw_null(&w);
	jw_obj_close(&w);
	conn_queue_reply(c, &w);
}

static const struct verb verbs[] = {
    {"clock", "clock  (realtime, monotonic and boottime clocks)", 0, 0, false, verb_clock},
    {"setclock",
     "setclock TIME  (ns since the epoch, SEC.FRAC, or RFC 3339 UTC: sets CLOCK_REALTIME)", 1, 1,
     false, verb_setclock},
    {"entropy",
     "entropy [--base64] [--credit BITS] DATA  (hex or base64 bytes into the kernel pool, "
     "then reseed)",
     1, 4, false, verb_entropy},
};

const struct verb *sys_verbs(size_t *n)
{
	*n = sizeof(verbs) / sizeof(verbs[0]);
	return verbs;
}
