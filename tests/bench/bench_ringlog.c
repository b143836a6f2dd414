/* ringlog throughput, each figure beside memcpy measured the same way in the
 * same run (the physical limit for a copy-in/copy-out ring):
 *   append   ringlog_append of one record, vs memcpy of the same bytes into a
 *            buffer as big as the ring, advancing through it by the record
 *            stride (payload + header), so both copy to the same alignments;
 *   reserve  reserve + memcpy into the span + commit (the read(2) path, with
 *            memcpy standing in for the kernel's copy);
 *   read     ringlog_read of every retained record, vs memcpy out of a
 *            buffer as big as the ring.
 * Plus the cost of a seek by seq or by offset into the middle of a ring full
 * of small records (the O(retained) walk).
 * The baseline and the ringlog runs alternate, REPEATS times each, and the
 * best of each is kept. Prints figures only; nothing here passes or fails on
 * a time.
 *
 * Usage: bench_ringlog [capacity_MiB ...]   (default: 1 64) */
#include "ringlog/ringlog.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define REPEATS 5
#define RUN_NS	100000000LL /* each repeat runs at least this long */
#define MIB	(1024 * 1024)

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Keeps the compiler from dropping copies whose result is never read. */
static void clobber(void *p)
{
	__asm__ volatile("" : : "r"(p) : "memory");
}

static void *xmalloc(size_t n)
{
	void *p = malloc(n);

	if (!p) {
		fprintf(stderr, "bench_ringlog: out of memory\n");
		exit(1);
	}
	memset(p, 0x5a, n);
	return p;
}

/* One measured workload: does `batch` operations of `len` bytes per call. */
struct work {
	struct ringlog *ring;
	struct ringlog_cursor cur;
	unsigned char *big; /* ring-sized buffer for the memcpy baselines */
	size_t big_size;
	size_t pos;
	unsigned char *small; /* one record's bytes */
	size_t len;
};

typedef void (*work_fn)(struct work *w, long batch);

static void memcpy_in(struct work *w, long batch)
{
	for (long i = 0; i < batch; i++) {
		if (w->pos + w->len > w->big_size)
			w->pos = 0;
		memcpy(w->big + w->pos, w->small, w->len);
		clobber(w->big);
		w->pos += w->len + RINGLOG_HEADER_SIZE;
	}
}

static void memcpy_out(struct work *w, long batch)
{
	for (long i = 0; i < batch; i++) {
		if (w->pos + w->len > w->big_size)
			w->pos = 0;
		memcpy(w->small, w->big + w->pos, w->len);
		clobber(w->small);
		w->pos += w->len + RINGLOG_HEADER_SIZE;
	}
}

static void append(struct work *w, long batch)
{
	struct ringlog_stamp when = {1, 2};

	for (long i = 0; i < batch; i++)
		ringlog_append(w->ring, RINGLOG_STDOUT, w->small, w->len, when);
}

static void reserve_commit(struct work *w, long batch)
{
	struct ringlog_stamp when = {1, 2};
	struct iovec iov[2];

	for (long i = 0; i < batch; i++) {
		ringlog_reserve(w->ring, RINGLOG_STDOUT, w->len, iov);
		memcpy(iov[0].iov_base, w->small, iov[0].iov_len);
		memcpy(iov[1].iov_base, w->small + iov[0].iov_len, iov[1].iov_len);
		ringlog_commit(w->ring, w->len, when);
	}
}

static void read_records(struct work *w, long batch)
{
	struct ringlog_chunk ch;

	for (long i = 0; i < batch; i++) {
		if (ringlog_read(w->ring, &w->cur, w->small, w->len, &ch, NULL) != RINGLOG_DATA)
			ringlog_seek_oldest(w->ring, &w->cur, RINGLOG_ALL);
		clobber(w->small);
	}
}

/* Operations per second of one timed run of at least RUN_NS. */
static double timed_run(work_fn fn, struct work *w, long *batch)
{
	long ops = 0;
	int64_t t0 = now_ns(), t;

	do {
		fn(w, *batch);
		ops += *batch;
		t = now_ns() - t0;
	} while (t < RUN_NS);
	if (t < RUN_NS * 2 && *batch < (1L << 20))
		*batch *= 2;
	return ops / (t / 1e9);
}

/* Best operations per second of fn and of its memcpy baseline, their runs
 * alternating so that both see the same machine (this one is shared). */
static void measure(work_fn fn, work_fn base_fn, struct work *w, double *ops, double *base)
{
	long batch = 64, base_batch = 64;

	*ops = *base = 0;
	fn(w, batch); /* warm the caches and the page tables */
	base_fn(w, base_batch);
	for (int r = 0; r < REPEATS; r++) {
		double b = timed_run(base_fn, w, &base_batch);
		double o = timed_run(fn, w, &batch);

		*base = b > *base ? b : *base;
		*ops = o > *ops ? o : *ops;
	}
}

static void fill(struct work *w)
{
	struct ringlog_stats st;

	ringlog_get_stats(w->ring, &st);
	for (size_t n = 0; n < 2 * st.capacity / (w->len + RINGLOG_HEADER_SIZE) + 1; n++)
		append(w, 1);
	ringlog_seek_oldest(w->ring, &w->cur, RINGLOG_ALL);
}

static void row(const char *what, size_t len, double ops, double base)
{
	double mbs = ops * (double)len / 1e6;
	char size[32];

	if (len >= 1024)
		snprintf(size, sizeof(size), "%zu KiB", len / 1024);
	else
		snprintf(size, sizeof(size), "%zu B", len);
	printf("  %-8s %7s  %9.2f M rec/s  %8.0f MB/s   memcpy %8.0f MB/s   %5.2fx\n", what, size,
	       ops / 1e6, mbs, base * (double)len / 1e6, ops / base);
}

static void bench_size(size_t capacity, size_t len, double *append_ops, double *append_ratio)
{
	struct work w = {.big_size = capacity, .len = len};
	double base, ops;

	w.big = xmalloc(capacity);
	w.small = xmalloc(len);
	if (ringlog_create(&w.ring, NULL, capacity, RINGLOG_DEFAULT_MAX_RECORD)) {
		fprintf(stderr, "bench_ringlog: cannot create a %zu-byte ring\n", capacity);
		exit(1);
	}
	measure(append, memcpy_in, &w, &ops, &base);
	row("append", len, ops, base);
	*append_ops = ops;
	*append_ratio = ops / base;
	measure(reserve_commit, memcpy_in, &w, &ops, &base);
	row("reserve", len, ops, base);
	fill(&w);
	measure(read_records, memcpy_out, &w, &ops, &base);
	row("read", len, ops, base);
	ringlog_destroy(w.ring);
	free(w.big);
	free(w.small);
}

/* Average cost of seeking to the middle of a ring full of 64-byte records
 * of two interleaved streams. */
static void bench_seek(size_t capacity)
{
	struct ringlog *r;
	struct ringlog_cursor c;
	struct ringlog_stats st;
	unsigned char line[64];
	struct ringlog_stamp when = {1, 2};
	int64_t t0;
	int n = 200;

	memset(line, 'x', sizeof(line));
	if (ringlog_create(&r, NULL, capacity, 0))
		exit(1);
	for (size_t i = 0; i < 2 * capacity / (64 + RINGLOG_HEADER_SIZE); i++)
		ringlog_append(r, (unsigned)(i & 1), line, sizeof(line), when);
	ringlog_get_stats(r, &st);
	uint64_t mid_seq = st.first_seq + (st.next_seq - st.first_seq) / 2;
	uint64_t mid_off = st.first_off[0] + (st.next_off[0] - st.first_off[0]) / 2;

	t0 = now_ns();
	for (int i = 0; i < n; i++)
		ringlog_seek_seq(r, &c, RINGLOG_ALL, mid_seq);
	double seq_us = (double)(now_ns() - t0) / n / 1e3;
	t0 = now_ns();
	for (int i = 0; i < n; i++)
		ringlog_seek_offset(r, &c, 0, mid_off);
	double off_us = (double)(now_ns() - t0) / n / 1e3;
	printf("  seek to the middle of %llu records: by seq %.1f us, by offset %.1f us\n",
	       (unsigned long long)(st.next_seq - st.first_seq), seq_us, off_us);
	ringlog_destroy(r);
}

int main(int argc, char **argv)
{
	static const size_t lens[] = {64, 4096, 65536};
	size_t caps[8] = {1, 64};
	int ncaps = 2;

	if (argc > 1) {
		ncaps = 0;
		for (int i = 1; i < argc && ncaps < 8; i++)
			caps[ncaps++] = strtoul(argv[i], NULL, 10);
	}
	for (int c = 0; c < ncaps; c++) {
		size_t capacity = caps[c] * MIB;
		double ops[3], ratio[3];

		printf("ringlog: capacity %zu MiB, header %d B, best of %d alternating runs of >= "
		       "%lld ms\n",
		       caps[c], RINGLOG_HEADER_SIZE, REPEATS, RUN_NS / 1000000);
		for (int i = 0; i < 3; i++)
			bench_size(capacity, lens[i], &ops[i], &ratio[i]);
		bench_seek(capacity);
		printf(
		    "  goals: 64 B appends %.1f M rec/s (> 20 M: %s), 64 KiB appends %.2fx memcpy "
		    "(>= 0.70x: %s)\n",
		    ops[0] / 1e6, ops[0] > 20e6 ? "met" : "MISSED", ratio[2],
		    ratio[2] >= 0.7 ? "met" : "MISSED");
	}
	return 0;
}
