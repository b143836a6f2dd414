/* Unit tests for ringlog: hand-worked scenarios whose expected values are
 * computed here from the record sizes (header 24 bytes + payload). The
 * randomised model test is test_ringlog_model.c. */
#include "ringlog/ringlog.h"
#include "tests/unit/check.h"

#include <errno.h>
#include <stdlib.h>

#define H RINGLOG_HEADER_SIZE

static struct ringlog_stamp at(int64_t n)
{
	return (struct ringlog_stamp){.boot_ns = n, .real_ns = 1700000000000000000LL + n};
}

static struct ringlog *new_ring(size_t capacity, size_t max_record)
{
	struct ringlog *r = NULL;

	CHECK_EQ_INT(ringlog_create(&r, NULL, capacity, max_record), 0);
	return r;
}

static void put(struct ringlog *r, unsigned stream, const char *s)
{
	CHECK_EQ_INT(ringlog_append(r, stream, s, strlen(s), at(0)), 0);
}

/* Appends a record of len bytes, all equal to the low byte of its seq. */
static void put_fill(struct ringlog *r, unsigned stream, size_t len)
{
	struct ringlog_stats st;
	char buf[4096];

	ringlog_get_stats(r, &st);
	memset(buf, (char)('a' + st.next_seq % 26), len);
	CHECK_EQ_INT(ringlog_append(r, stream, buf, len, at((int64_t)st.next_seq)), 0);
}

static struct ringlog_stats stats_of(const struct ringlog *r)
{
	struct ringlog_stats st;

	memset(&st, 0xee, sizeof(st));
	ringlog_get_stats(r, &st);
	return st;
}

/* Reads one chunk (up to size bytes) and returns it as a NUL-terminated string. */
static const char *read_str(const struct ringlog *r, struct ringlog_cursor *c, size_t size,
			    struct ringlog_chunk *chunk)
{
	static char out[8192];
	int rc = ringlog_read(r, c, out, size, chunk, NULL);

	if (rc != RINGLOG_DATA) {
		snprintf(out, sizeof(out), "<rc %d>", rc);
		return out;
	}
	out[chunk->len] = 0;
	return out;
}

/* Reads until EMPTY, concatenating; a gap or error shows up in the text. */
static const char *read_all(const struct ringlog *r, struct ringlog_cursor *c)
{
	static char all[16384];
	struct ringlog_chunk ch;
	size_t n = 0;
	int rc;

	all[0] = 0;
	while (n < sizeof(all) - 64 && (rc = ringlog_read(r, c, all + n, sizeof(all) - 64 - n, &ch,
							  NULL)) != RINGLOG_EMPTY) {
		if (rc != RINGLOG_DATA) {
			n += (size_t)sprintf(all + n, "<rc %d>", rc);
			break;
		}
		n += ch.len;
	}
	all[n] = 0;
	return all;
}

static void test_create_validates_arguments(void)
{
	struct ringlog *r = (struct ringlog *)&r;

	CHECK_EQ_INT(ringlog_create(NULL, NULL, 1024, 0), -EINVAL);
	CHECK_EQ_INT(ringlog_create(&r, NULL, RINGLOG_MIN_CAPACITY - 1, 0), -EINVAL);
	CHECK_EQ_INT(ringlog_create(&r, NULL, RINGLOG_MAX_CAPACITY + 1, 0), -EINVAL);
	CHECK_EQ_INT(ringlog_create(&r, NULL, 1024, 1024 - H + 1), -EINVAL);
	CHECK(r == (struct ringlog *)&r); /* untouched on error */
	CHECK_EQ_INT(ringlog_create(&r, NULL, 1024, 1024 - H), 0);
	CHECK_EQ_INT(stats_of(r).max_record, 1024 - H);
	ringlog_destroy(r);
	ringlog_destroy(NULL);
}

static void test_default_max_record(void)
{
	struct ringlog *small = new_ring(1000, 0), *big = new_ring(1 << 20, 0);

	CHECK_EQ_INT(stats_of(small).max_record, 250);
	CHECK_EQ_INT(stats_of(big).max_record, RINGLOG_DEFAULT_MAX_RECORD);
	CHECK_EQ_INT(stats_of(small).capacity, 1000);
	ringlog_destroy(small);
	ringlog_destroy(big);
}

static void test_pool_budget(void)
{
	struct ringlog_pool pool;
	struct ringlog *a = NULL, *b = NULL, *c = NULL;
	size_t fp = ringlog_footprint(4096);

	CHECK(fp >= 4096);
	CHECK_EQ_INT(ringlog_footprint(10), 0);
	ringlog_pool_init(&pool, 2 * fp + fp / 2);
	CHECK(ringlog_pool_fits(&pool, 4096));
	CHECK_EQ_INT(ringlog_create(&a, &pool, 4096, 0), 0);
	CHECK_EQ_INT(ringlog_create(&b, &pool, 4096, 0), 0);
	CHECK_EQ_INT(ringlog_pool_used(&pool), 2 * fp);
	CHECK_EQ_INT(ringlog_pool_rings(&pool), 2);
	CHECK(!ringlog_pool_fits(&pool, 4096));
	CHECK(ringlog_pool_fits(&pool, 1024));
	CHECK_EQ_INT(ringlog_create(&c, &pool, 4096, 0), -ENOSPC);
	CHECK(c == NULL);
	CHECK_EQ_INT(ringlog_pool_used(&pool), 2 * fp);
	ringlog_destroy(a);
	CHECK_EQ_INT(ringlog_pool_used(&pool), fp);
	CHECK_EQ_INT(ringlog_create(&c, &pool, 4096, 0), 0);
	ringlog_destroy(b);
	ringlog_destroy(c);
	CHECK_EQ_INT(ringlog_pool_used(&pool), 0);
	CHECK_EQ_INT(ringlog_pool_rings(&pool), 0);
	CHECK_EQ_INT(ringlog_pool_limit(&pool), 2 * fp + fp / 2);
}

static void test_append_then_read_back(void)
{
	struct ringlog *r = new_ring(1024, 0);
	struct ringlog_cursor c;
	struct ringlog_chunk ch;
	char buf[64];

	CHECK_EQ_INT(ringlog_append(r, RINGLOG_STDERR, "hello", 5, at(42)), 0);
	CHECK_EQ_INT(ringlog_seek_oldest(r, &c, RINGLOG_ALL), 0);
	CHECK_EQ_INT(ringlog_read(r, &c, buf, sizeof(buf), &ch, NULL), RINGLOG_DATA);
	CHECK_EQ_INT(ch.len, 5);
	CHECK(memcmp(buf, "hello", 5) == 0);
	CHECK_EQ_INT(ch.seq, 0);
	CHECK_EQ_INT(ch.off, 0);
	CHECK_EQ_INT(ch.stream, RINGLOG_STDERR);
	CHECK_EQ_INT(ch.when.boot_ns, 42);
	CHECK_EQ_INT(ch.when.real_ns, 1700000000000000042LL);
	CHECK_EQ_INT(ch.rec_len, 5);
	CHECK_EQ_INT(ch.start, 0);
	CHECK_EQ_INT(ringlog_read(r, &c, buf, sizeof(buf), &ch, NULL), RINGLOG_EMPTY);
	CHECK_EQ_INT(stats_of(r).used, H + 5);
	ringlog_destroy(r);
}

static void test_sequence_numbers_count_records(void)
{
	struct ringlog *r = new_ring(4096, 0);
	struct ringlog_cursor c;
	struct ringlog_chunk ch;

	for (int i = 0; i < 10; i++)
		put(r, (unsigned)(i % 3), "x");
	CHECK_EQ_INT(stats_of(r).next_seq, 10);
	CHECK_EQ_INT(stats_of(r).first_seq, 0);
	ringlog_seek_oldest(r, &c, RINGLOG_ALL);
	for (uint64_t i = 0; i < 10; i++) {
		CHECK_EQ_STR(read_str(r, &c, 100, &ch), "x");
		CHECK_EQ_INT(ch.seq, i);
		CHECK_EQ_INT(ch.stream, i % 3);
		CHECK_EQ_INT(ch.off, i / 3);
	}
	ringlog_destroy(r);
}

static void test_streams_interleave_with_own_offsets(void)
{
	struct ringlog *r = new_ring(4096, 0);
	struct ringlog_cursor all, out, err;
	struct ringlog_chunk ch;

	put(r, RINGLOG_STDOUT, "ab");
	put(r, RINGLOG_STDERR, "xyz");
	put(r, RINGLOG_STDOUT, "cd");
	put(r, RINGLOG_STDERR, "!");

	CHECK_EQ_INT(ringlog_seek_oldest(r, &all, RINGLOG_ALL), 0);
	CHECK_EQ_STR(read_all(r, &all), "abxyzcd!");

	CHECK_EQ_INT(ringlog_seek_oldest(r, &out, RINGLOG_MASK(RINGLOG_STDOUT)), 0);
	CHECK_EQ_STR(read_str(r, &out, 100, &ch), "ab");
	CHECK_EQ_INT(ch.off, 0);
	CHECK_EQ_INT(ch.seq, 0);
	CHECK_EQ_STR(read_str(r, &out, 100, &ch), "cd");
	CHECK_EQ_INT(ch.off, 2);
	CHECK_EQ_INT(ch.seq, 2);
	CHECK_EQ_INT(ringlog_read(r, &out, (char[8]){0}, 8, &ch, NULL), RINGLOG_EMPTY);

	CHECK_EQ_INT(ringlog_seek_oldest(r, &err, RINGLOG_MASK(RINGLOG_STDERR)), 0);
	CHECK_EQ_STR(read_str(r, &err, 100, &ch), "xyz");
	CHECK_EQ_INT(ch.off, 0);
	CHECK_EQ_STR(read_str(r, &err, 100, &ch), "!");
	CHECK_EQ_INT(ch.off, 3);
	CHECK_EQ_INT(ch.seq, 3);

	CHECK_EQ_INT(stats_of(r).next_off[RINGLOG_STDOUT], 4);
	CHECK_EQ_INT(stats_of(r).next_off[RINGLOG_STDERR], 4);
	CHECK_EQ_INT(stats_of(r).next_off[RINGLOG_PTY], 0);
	ringlog_destroy(r);
}

/* Capacity 100: a 10-byte record costs 34, so two fit (68) and a third
 * drops the oldest. */
static void test_wraparound_drops_oldest_whole_records(void)
{
	struct ringlog *r = new_ring(100, 0);
	struct ringlog_cursor c;
	struct ringlog_chunk ch;
	struct ringlog_stats st;

	for (int i = 0; i < 5; i++)
		put_fill(r, RINGLOG_STDOUT, 10);
	st = stats_of(r);
	CHECK_EQ_INT(st.first_seq, 3);
	CHECK_EQ_INT(st.next_seq, 5);
	CHECK_EQ_INT(st.first_off[RINGLOG_STDOUT], 30);
	CHECK_EQ_INT(st.next_off[RINGLOG_STDOUT], 50);
	CHECK_EQ_INT(st.used, 2 * (H + 10));
	ringlog_seek_oldest(r, &c, RINGLOG_ALL);
	CHECK_EQ_STR(read_str(r, &c, 100, &ch), "dddddddddd");
	CHECK_EQ_INT(ch.seq, 3);
	CHECK_EQ_INT(ch.off, 30);
	CHECK_EQ_STR(read_str(r, &c, 100, &ch), "eeeeeeeeee");
	CHECK_EQ_INT(ch.when.boot_ns, 4);
	ringlog_destroy(r);
}

/* Records that fill the buffer to the last byte all stay; one byte more
 * drops exactly the oldest. */
static void test_exact_fit_keeps_everything(void)
{
	struct ringlog *r = new_ring(100, 0);
	struct ringlog_cursor c;

	put(r, RINGLOG_STDOUT, "0123456789"); /* 34 */
	put(r, RINGLOG_STDOUT, "abcdefghij"); /* 34 */
	put(r, RINGLOG_STDERR, "ABCDEFGH");   /* 32: 100 exactly */
	CHECK_EQ_INT(stats_of(r).used, 100);
	CHECK_EQ_INT(stats_of(r).first_seq, 0);
	ringlog_seek_oldest(r, &c, RINGLOG_ALL);
	CHECK_EQ_STR(read_all(r, &c), "0123456789abcdefghijABCDEFGH");
	put(r, RINGLOG_PTY, "x");
	CHECK_EQ_INT(stats_of(r).first_seq, 1);
	CHECK_EQ_INT(stats_of(r).used, 100 - 34 + 25);
	ringlog_destroy(r);
}

/* Places a record's payload, then a header, across the end of a 100-byte
 * buffer and checks both read back intact. */
static void test_record_across_the_wrap(void)
{
	struct ringlog *r = new_ring(100, 60);
	struct ringlog_cursor c;
	struct ringlog_chunk ch;
	struct iovec iov[2];

	put_fill(r, RINGLOG_STDOUT, 10); /* [0,34) */
	put_fill(r, RINGLOG_STDOUT, 10); /* [34,68) */
	/* header [68,92), payload [92,100)+[0,12): drops seq 0 */
	put(r, RINGLOG_STDERR, "0123456789ABCDEFGHIJ");
	CHECK_EQ_INT(stats_of(r).first_seq, 1);
	CHECK_EQ_INT(ringlog_seek_seq(r, &c, RINGLOG_ALL, 2), 0);
	CHECK_EQ_INT(ringlog_peek(r, &c, &ch, iov, NULL), RINGLOG_DATA);
	CHECK_EQ_INT(iov[0].iov_len, 8);
	CHECK_EQ_INT(iov[1].iov_len, 12);
	CHECK(memcmp(iov[0].iov_base, "01234567", 8) == 0);
	CHECK(memcmp(iov[1].iov_base, "89ABCDEFGHIJ", 12) == 0);
	CHECK_EQ_STR(read_str(r, &c, 100, &ch), "0123456789ABCDEFGHIJ");
	ringlog_destroy(r);

	r = new_ring(100, 60);
	put_fill(r, RINGLOG_STDOUT, 30); /* [0,54) */
	put_fill(r, RINGLOG_STDOUT, 10); /* [54,88) */
	put(r, RINGLOG_STDERR, "hello"); /* header [88,100)+[0,12), payload [12,17) */
	CHECK_EQ_INT(stats_of(r).first_seq, 1);
	ringlog_seek_oldest(r, &c, RINGLOG_ALL);
	CHECK_EQ_STR(read_str(r, &c, 100, &ch), "bbbbbbbbbb");
	CHECK_EQ_STR(read_str(r, &c, 100, &ch), "hello");
	CHECK_EQ_INT(ch.seq, 2);
	CHECK_EQ_INT(ch.stream, RINGLOG_STDERR);
	CHECK_EQ_INT(ch.when.boot_ns, 0);
	CHECK_EQ_INT(ch.when.real_ns, 1700000000000000000LL);
	ringlog_destroy(r);
}

static void test_gap_reports_exact_loss(void)
{
	struct ringlog *r = new_ring(100, 0);
	struct ringlog_cursor c;
	struct ringlog_chunk ch;
	struct ringlog_gap g;
	char buf[64];

	ringlog_seek_oldest(r, &c, RINGLOG_ALL);
	put(r, RINGLOG_STDOUT, "aaaaaaaaaa");		/* seq 0, 34 bytes */
	put(r, RINGLOG_STDERR, "bbbbbbbbbbb");		/* seq 1, 35 bytes */
	CHECK_EQ_STR(read_str(r, &c, 4, &ch), "aaaa");	/* 4 of seq 0 delivered */
	put(r, RINGLOG_STDOUT, "cc");			/* 26: fits (95) */
	put(r, RINGLOG_STDOUT, "dddddddddddddddddddd"); /* 44: drops seq 0 and 1 */
	CHECK_EQ_INT(stats_of(r).first_seq, 2);

	memset(&g, 0, sizeof(g));
	CHECK_EQ_INT(ringlog_read(r, &c, buf, sizeof(buf), &ch, &g), RINGLOG_GAP);
	CHECK_EQ_INT(g.from_seq, 0);
	CHECK_EQ_INT(g.to_seq, 2);
	CHECK_EQ_INT(ringlog_gap_records(&g), 2);
	CHECK_EQ_INT(g.from_off[RINGLOG_STDOUT], 4);
	CHECK_EQ_INT(g.to_off[RINGLOG_STDOUT], 10);
	CHECK_EQ_INT(ringlog_gap_bytes(&g, RINGLOG_STDOUT), 6);
	CHECK_EQ_INT(g.from_off[RINGLOG_STDERR], 0);
	CHECK_EQ_INT(ringlog_gap_bytes(&g, RINGLOG_STDERR), 11);
	CHECK_EQ_INT(ringlog_gap_bytes(&g, RINGLOG_PTY), 0);
	/* reported once, then reading carries on where the report said */
	CHECK_EQ_STR(read_str(r, &c, 64, &ch), "cc");
	CHECK_EQ_INT(ch.seq, 2);
	CHECK_EQ_INT(ch.off, 10);
	CHECK_EQ_STR(read_str(r, &c, 64, &ch), "dddddddddddddddddddd");
	CHECK_EQ_INT(ringlog_read(r, &c, buf, sizeof(buf), &ch, &g), RINGLOG_EMPTY);
	ringlog_destroy(r);
}

static void test_gap_only_for_streams_the_reader_follows(void)
{
	struct ringlog *r = new_ring(100, 0);
	struct ringlog_cursor out, err;
	struct ringlog_chunk ch;
	struct ringlog_gap g;

	put(r, RINGLOG_STDERR, "eeeeeeeeee"); /* seq 0 */
	ringlog_seek_oldest(r, &out, RINGLOG_MASK(RINGLOG_STDOUT));
	ringlog_seek_oldest(r, &err, RINGLOG_MASK(RINGLOG_STDERR));
	put(r, RINGLOG_STDOUT, "oooooooooo"); /* seq 1 */
	put(r, RINGLOG_STDOUT, "pppppppppp"); /* seq 2: drops seq 0 (stderr) */
	CHECK_EQ_INT(stats_of(r).first_seq, 1);
	/* stdout lost nothing: no gap, straight to data */
	CHECK_EQ_STR(read_str(r, &out, 64, &ch), "oooooooooo");
	CHECK_EQ_INT(ch.off, 0);
	CHECK_EQ_INT(ringlog_read(r, &err, (char[64]){0}, 64, &ch, &g), RINGLOG_GAP);
	CHECK_EQ_INT(ringlog_gap_bytes(&g, RINGLOG_STDERR), 10);
	CHECK_EQ_INT(ringlog_read(r, &err, (char[64]){0}, 64, &ch, &g), RINGLOG_EMPTY);
	ringlog_destroy(r);
}

static void test_many_readers_at_different_places(void)
{
	struct ringlog *r = new_ring(1000, 0);
	struct ringlog_cursor oldest, mid, byoff, newest, copy;
	struct ringlog_chunk ch;

	put(r, RINGLOG_STDOUT, "one ");
	put(r, RINGLOG_STDERR, "ERR ");
	put(r, RINGLOG_STDOUT, "two ");
	ringlog_seek_oldest(r, &oldest, RINGLOG_ALL);
	CHECK_EQ_INT(ringlog_seek_seq(r, &mid, RINGLOG_ALL, 1), 0);
	CHECK_EQ_INT(ringlog_seek_offset(r, &byoff, RINGLOG_STDOUT, 5), 0);
	ringlog_seek_newest(r, &newest, RINGLOG_ALL);
	put(r, RINGLOG_STDOUT, "three");

	copy = mid; /* a cursor is a value: copies read independently */
	CHECK_EQ_STR(read_all(r, &oldest), "one ERR two three");
	CHECK_EQ_STR(read_all(r, &mid), "ERR two three");
	CHECK_EQ_STR(read_str(r, &byoff, 64, &ch), "wo ");
	CHECK_EQ_INT(ch.off, 5);
	CHECK_EQ_INT(ch.start, 1);
	CHECK_EQ_INT(ch.seq, 2);
	CHECK_EQ_STR(read_all(r, &byoff), "three");
	CHECK_EQ_STR(read_all(r, &newest), "three");
	CHECK_EQ_STR(read_all(r, &copy), "ERR two three");
	ringlog_destroy(r);
}

static void test_reader_at_head_sees_nothing_new_then_live(void)
{
	struct ringlog *r = new_ring(256, 0);
	struct ringlog_cursor c;
	struct ringlog_chunk ch;
	struct iovec iov[2];

	put(r, RINGLOG_STDOUT, "old");
	ringlog_seek_newest(r, &c, RINGLOG_ALL);
	CHECK_EQ_INT(ringlog_peek(r, &c, &ch, iov, NULL), RINGLOG_EMPTY);
	put(r, RINGLOG_STDOUT, "new");
	CHECK_EQ_STR(read_str(r, &c, 64, &ch), "new");
	CHECK_EQ_INT(ch.off, 3);
	CHECK_EQ_INT(ch.seq, 1);
	CHECK_EQ_INT(ringlog_peek(r, &c, &ch, iov, NULL), RINGLOG_EMPTY);
	/* a live reader that is lapped gets a gap, not stale bytes */
	for (int i = 0; i < 20; i++)
		put(r, RINGLOG_STDOUT, "0123456789");
	CHECK_EQ_INT(ringlog_peek(r, &c, &ch, iov, NULL), RINGLOG_GAP);
	ringlog_destroy(r);
}

static void test_reserve_commit_writes_in_place(void)
{
	struct ringlog *r = new_ring(100, 60);
	struct ringlog_cursor c;
	struct ringlog_chunk ch;
	struct iovec iov[2];

	ringlog_seek_oldest(r, &c, RINGLOG_ALL);
	CHECK_EQ_INT(ringlog_reserve(r, RINGLOG_PTY, 16, iov), 16);
	CHECK_EQ_INT(iov[0].iov_len + iov[1].iov_len, 16);
	CHECK(stats_of(r).reserved);
	memcpy(iov[0].iov_base, "read(2) data....", 16);
	/* nothing is visible before commit */
	CHECK_EQ_INT(ringlog_peek(r, &c, &ch, (struct iovec[2]){0}, NULL), RINGLOG_EMPTY);
	CHECK_EQ_INT(ringlog_commit(r, 12, at(7)), 0);
	CHECK(!stats_of(r).reserved);
	CHECK_EQ_STR(read_str(r, &c, 64, &ch), "read(2) data");
	CHECK_EQ_INT(ch.stream, RINGLOG_PTY);
	CHECK_EQ_INT(ch.when.boot_ns, 7);
	CHECK_EQ_INT(stats_of(r).next_off[RINGLOG_PTY], 12);
	CHECK_EQ_INT(stats_of(r).used, H + 12);

	/* head at 36: a 50-byte reservation starts at 60 and wraps after 40 */
	CHECK_EQ_INT(ringlog_reserve(r, RINGLOG_STDOUT, 50, iov), 50);
	CHECK_EQ_INT(iov[0].iov_len, 40);
	CHECK_EQ_INT(iov[1].iov_len, 10);
	memset(iov[0].iov_base, 'x', 40);
	memset(iov[1].iov_base, 'y', 10);
	/* 36 + 24 + 50 > 100: the pty record was dropped to make room */
	CHECK_EQ_INT(stats_of(r).first_seq, 1);
	CHECK_EQ_INT(stats_of(r).used, 0);
	CHECK_EQ_INT(ringlog_commit(r, 45, at(8)), 0);
	CHECK_EQ_INT(stats_of(r).used, H + 45);
	CHECK_EQ_INT(ringlog_read(r, &c, (char[64]){0}, 64, &ch, NULL), RINGLOG_DATA);
	CHECK_EQ_INT(ch.len, 45);
	CHECK_EQ_INT(ch.off, 0);
	ringlog_destroy(r);
}

static void test_reserve_larger_than_record_is_clipped(void)
{
	struct ringlog *r = new_ring(1000, 100);
	struct iovec iov[2];

	CHECK_EQ_INT(ringlog_reserve(r, RINGLOG_STDOUT, 5000, iov), 100);
	CHECK_EQ_INT(ringlog_commit(r, 101, at(0)), -EINVAL);
	CHECK(stats_of(r).reserved); /* a refused commit leaves it open */
	CHECK_EQ_INT(ringlog_commit(r, 100, at(0)), 0);
	CHECK_EQ_INT(stats_of(r).next_off[RINGLOG_STDOUT], 100);
	ringlog_destroy(r);
}

static void test_reserve_misuse_is_safe(void)
{
	struct ringlog *r = new_ring(200, 0);
	struct ringlog_cursor c;
	struct iovec iov[2];

	CHECK_EQ_INT(ringlog_commit(r, 1, at(0)), -EINVAL); /* no reservation */
	CHECK_EQ_INT(ringlog_reserve(r, RINGLOG_STDOUT, 0, iov), -EINVAL);
	CHECK_EQ_INT(ringlog_reserve(r, RINGLOG_STREAMS, 4, iov), -EINVAL);
	CHECK_EQ_INT(ringlog_reserve(r, RINGLOG_STDOUT, 4, NULL), -EINVAL);
	CHECK(!stats_of(r).reserved);

	CHECK_EQ_INT(ringlog_reserve(r, RINGLOG_STDOUT, 4, iov), 4);
	CHECK_EQ_INT(ringlog_append(r, RINGLOG_STDOUT, "zz", 2, at(0)), -EBUSY);
	memcpy(iov[0].iov_base, "abcd", 4);
	CHECK_EQ_INT(ringlog_commit(r, 4, at(0)), 0);
	CHECK_EQ_INT(ringlog_commit(r, 4, at(0)), -EINVAL); /* double commit */
	CHECK_EQ_INT(stats_of(r).next_seq, 1);

	/* a second reserve replaces the first, at the same place */
	CHECK_EQ_INT(ringlog_reserve(r, RINGLOG_STDOUT, 8, iov), 8);
	void *first = iov[0].iov_base;
	CHECK_EQ_INT(ringlog_reserve(r, RINGLOG_STDERR, 3, iov), 3);
	CHECK(iov[0].iov_base == first);
	memcpy(iov[0].iov_base, "err", 3);
	CHECK_EQ_INT(ringlog_commit(r, 3, at(0)), 0);

	/* commit 0 and cancel both close without a record */
	CHECK_EQ_INT(ringlog_reserve(r, RINGLOG_STDOUT, 8, iov), 8);
	CHECK_EQ_INT(ringlog_commit(r, 0, at(0)), 0);
	CHECK(!stats_of(r).reserved);
	CHECK_EQ_INT(ringlog_reserve(r, RINGLOG_STDOUT, 8, iov), 8);
	memset(iov[0].iov_base, '#', iov[0].iov_len);
	ringlog_cancel(r);
	ringlog_cancel(r);
	CHECK_EQ_INT(ringlog_commit(r, 1, at(0)), -EINVAL);
	CHECK_EQ_INT(stats_of(r).next_seq, 2);

	ringlog_seek_oldest(r, &c, RINGLOG_ALL);
	CHECK_EQ_STR(read_all(r, &c), "abcderr");
	ringlog_destroy(r);
}

static void test_large_write_is_split_into_bounded_records(void)
{
	struct ringlog *r = new_ring(4096, 100);
	struct ringlog_cursor c;
	struct ringlog_chunk ch;
	char big[250];

	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (char)('A' + i % 26);
	CHECK_EQ_INT(ringlog_append(r, RINGLOG_STDOUT, big, sizeof(big), at(5)), 0);
	CHECK_EQ_INT(stats_of(r).next_seq, 3);
	ringlog_seek_oldest(r, &c, RINGLOG_ALL);
	const uint32_t lens[] = {100, 100, 50};
	for (int i = 0; i < 3; i++) {
		char out[128];
		CHECK_EQ_INT(ringlog_read(r, &c, out, sizeof(out), &ch, NULL), RINGLOG_DATA);
		CHECK_EQ_INT(ch.len, lens[i]);
		CHECK_EQ_INT(ch.off, 100 * i);
		CHECK_EQ_INT(ch.seq, i);
		CHECK_EQ_INT(ch.when.boot_ns, 5);
		CHECK(memcmp(out, big + 100 * i, lens[i]) == 0);
	}
	ringlog_destroy(r);
}

static void test_zero_length_write_is_ignored(void)
{
	struct ringlog *r = new_ring(256, 0);

	CHECK_EQ_INT(ringlog_append(r, RINGLOG_STDOUT, NULL, 0, at(0)), 0);
	CHECK_EQ_INT(ringlog_append(r, RINGLOG_STDOUT, "x", 0, at(0)), 0);
	CHECK_EQ_INT(stats_of(r).next_seq, 0);
	CHECK_EQ_INT(stats_of(r).used, 0);
	ringlog_destroy(r);
}

static void test_bad_arguments_change_nothing(void)
{
	struct ringlog *r = new_ring(256, 0), *other = new_ring(256, 0);
	struct ringlog_cursor c, foreign;
	struct ringlog_chunk ch;
	struct iovec iov[2];
	char buf[8];

	put(r, RINGLOG_STDOUT, "keep");
	CHECK_EQ_INT(ringlog_append(NULL, 0, "x", 1, at(0)), -EINVAL);
	CHECK_EQ_INT(ringlog_append(r, RINGLOG_STREAMS, "x", 1, at(0)), -EINVAL);
	CHECK_EQ_INT(ringlog_append(r, 0, NULL, 1, at(0)), -EINVAL);
	CHECK_EQ_INT(ringlog_seek_oldest(r, &c, 0), -EINVAL);
	CHECK_EQ_INT(ringlog_seek_oldest(r, &c, RINGLOG_ALL + 1), -EINVAL);
	CHECK_EQ_INT(ringlog_seek_seq(r, &c, RINGLOG_ALL, 2), -ERANGE);
	CHECK_EQ_INT(ringlog_seek_offset(r, &c, RINGLOG_STDOUT, 5), -ERANGE);
	CHECK_EQ_INT(ringlog_seek_offset(r, &c, RINGLOG_STREAMS, 0), -EINVAL);
	CHECK_EQ_INT(ringlog_seek_oldest(other, &foreign, RINGLOG_ALL), 0);
	CHECK_EQ_INT(ringlog_peek(r, &foreign, &ch, iov, NULL), -EINVAL);
	CHECK_EQ_INT(ringlog_seek_oldest(r, &c, RINGLOG_ALL), 0);
	CHECK_EQ_INT(ringlog_read(r, &c, buf, 0, &ch, NULL), -EINVAL);
	CHECK_EQ_INT(ringlog_read(r, &c, NULL, 8, &ch, NULL), -EINVAL);
	CHECK_EQ_INT(ringlog_read(r, &c, buf, 8, NULL, NULL), -EINVAL);
	CHECK_EQ_INT(ringlog_consume(r, &c, 1), 0); /* "keep" -> "eep" */
	CHECK_EQ_INT(ringlog_consume(r, &c, 4), -EINVAL);
	CHECK_EQ_INT(ringlog_consume(r, &c, 3), 0);
	CHECK_EQ_INT(ringlog_consume(r, &c, 1), -EINVAL); /* at the head */
	/* a scribbled cursor is refused rather than followed */
	CHECK_EQ_INT(ringlog_seek_oldest(r, &c, RINGLOG_ALL), 0);
	c.seq = 99;
	CHECK_EQ_INT(ringlog_peek(r, &c, &ch, iov, NULL), -EINVAL);
	CHECK_EQ_INT(ringlog_seek_oldest(r, &c, RINGLOG_ALL), 0);
	c.skip = 4;
	CHECK_EQ_INT(ringlog_peek(r, &c, &ch, iov, NULL), -EINVAL);
	CHECK_EQ_INT(stats_of(r).next_seq, 1);
	CHECK_EQ_INT(stats_of(r).used, H + 4);
	CHECK_EQ_INT(ringlog_gap_bytes(NULL, 0), RINGLOG_UNKNOWN);

	/* a cursor found bad only after skipping records is left as it was */
	put(r, RINGLOG_STDERR, "skip");
	CHECK_EQ_INT(ringlog_seek_oldest(r, &c, RINGLOG_MASK(RINGLOG_PTY)), 0);
	c.pos = H + 4; /* one record late: the walk runs off the chain */
	struct ringlog_cursor saved = c;
	CHECK_EQ_INT(ringlog_peek(r, &c, &ch, iov, NULL), -EINVAL);
	CHECK(memcmp(&saved, &c, sizeof(c)) == 0);
	ringlog_destroy(r);
	ringlog_destroy(other);
}

static void test_seek_seq_middle_end_and_overwritten(void)
{
	struct ringlog *r = new_ring(200, 0);
	struct ringlog_cursor c;
	struct ringlog_chunk ch;
	struct ringlog_gap g;

	for (int i = 0; i < 10; i++)
		put_fill(r, RINGLOG_STDOUT, 10); /* 34 each: 5 fit in 200 */
	put(r, RINGLOG_STDERR, "eeeeeeeeee");	 /* seq 10 drops seq 5 */
	CHECK_EQ_INT(stats_of(r).first_seq, 6);
	CHECK_EQ_INT(ringlog_seek_seq(r, &c, RINGLOG_ALL, 8), 0);
	CHECK_EQ_STR(read_str(r, &c, 64, &ch), "iiiiiiiiii");
	CHECK_EQ_INT(ch.seq, 8);
	CHECK_EQ_INT(ch.off, 80);
	CHECK_EQ_INT(ringlog_seek_seq(r, &c, RINGLOG_ALL, 11), 0);
	CHECK_EQ_INT(ringlog_read(r, &c, (char[8]){0}, 8, &ch, NULL), RINGLOG_EMPTY);

	CHECK_EQ_INT(ringlog_seek_seq(r, &c, RINGLOG_ALL, 2), 0);
	CHECK_EQ_INT(ringlog_read(r, &c, (char[8]){0}, 8, &ch, &g), RINGLOG_GAP);
	CHECK_EQ_INT(g.from_seq, 2);
	CHECK_EQ_INT(g.to_seq, 6);
	/* which stdout bytes seq 2 started at is gone; stderr never lost any */
	CHECK_EQ_INT(g.from_off[RINGLOG_STDOUT], RINGLOG_UNKNOWN);
	CHECK_EQ_INT(ringlog_gap_bytes(&g, RINGLOG_STDOUT), RINGLOG_UNKNOWN);
	CHECK_EQ_INT(g.to_off[RINGLOG_STDOUT], 60);
	CHECK_EQ_INT(ringlog_gap_bytes(&g, RINGLOG_STDERR), 0);
	CHECK_EQ_STR(read_str(r, &c, 64, &ch), "gggggggggg");
	CHECK_EQ_INT(ch.seq, 6);
	ringlog_destroy(r);
}

static void test_seek_offset_inside_record_and_overwritten(void)
{
	struct ringlog *r = new_ring(200, 0);
	struct ringlog_cursor c;
	struct ringlog_chunk ch;
	struct ringlog_gap g;

	put(r, RINGLOG_STDOUT, "0123456789");
	put(r, RINGLOG_STDERR, "ERR");
	put(r, RINGLOG_STDOUT, "abcdefghij");
	CHECK_EQ_INT(ringlog_seek_offset(r, &c, RINGLOG_STDOUT, 13), 0);
	CHECK_EQ_STR(read_str(r, &c, 64, &ch), "defghij");
	CHECK_EQ_INT(ch.off, 13);
	CHECK_EQ_INT(ch.seq, 2);
	CHECK_EQ_INT(ch.start, 3);
	CHECK_EQ_INT(ringlog_seek_offset(r, &c, RINGLOG_STDOUT, 10), 0);
	CHECK_EQ_STR(read_str(r, &c, 64, &ch), "abcdefghij");
	CHECK_EQ_INT(ringlog_seek_offset(r, &c, RINGLOG_STDERR, 1), 0);
	CHECK_EQ_STR(read_all(r, &c), "RR");
	CHECK_EQ_INT(ringlog_seek_offset(r, &c, RINGLOG_STDOUT, 20), 0);
	CHECK_EQ_INT(ringlog_read(r, &c, (char[8]){0}, 8, &ch, NULL), RINGLOG_EMPTY);
	put(r, RINGLOG_STDOUT, "live");
	CHECK_EQ_STR(read_str(r, &c, 64, &ch), "live");
	CHECK_EQ_INT(ch.off, 20);

	/* sizes 34, 27, 34, 28 ("live"), then 5 x 34 = 170: the longest suffix
	 * that fits 200 bytes starts at "live" (198) */
	for (int i = 0; i < 5; i++)
		put(r, RINGLOG_STDOUT, "KLMNOPQRST");
	CHECK_EQ_INT(stats_of(r).first_seq, 3);
	CHECK_EQ_INT(stats_of(r).first_off[RINGLOG_STDOUT], 20);
	CHECK_EQ_INT(ringlog_seek_offset(r, &c, RINGLOG_STDOUT, 5), 0);
	CHECK_EQ_INT(ringlog_read(r, &c, (char[8]){0}, 8, &ch, &g), RINGLOG_GAP);
	CHECK_EQ_INT(g.from_seq, RINGLOG_UNKNOWN);
	CHECK_EQ_INT(ringlog_gap_records(&g), RINGLOG_UNKNOWN);
	CHECK_EQ_INT(g.to_seq, 3);
	CHECK_EQ_INT(ringlog_gap_bytes(&g, RINGLOG_STDOUT), 15);
	CHECK_EQ_STR(read_str(r, &c, 64, &ch), "live");
	CHECK_EQ_INT(ch.off, 20);
	CHECK_EQ_STR(read_str(r, &c, 64, &ch), "KLMNOPQRST");
	CHECK_EQ_INT(ch.off, 24);
	ringlog_destroy(r);
}

static void test_peek_and_partial_consume(void)
{
	struct ringlog *r = new_ring(256, 0);
	struct ringlog_cursor c;
	struct ringlog_chunk ch;
	struct iovec iov[2];

	put(r, RINGLOG_STDOUT, "abcdef");
	put(r, RINGLOG_STDOUT, "gh");
	ringlog_seek_oldest(r, &c, RINGLOG_ALL);
	CHECK_EQ_INT(ringlog_peek(r, &c, &ch, iov, NULL), RINGLOG_DATA);
	CHECK_EQ_INT(ch.len, 6);
	CHECK_EQ_INT(ringlog_peek(r, &c, &ch, iov, NULL), RINGLOG_DATA); /* peek is idempotent */
	CHECK_EQ_INT(ch.len, 6);
	CHECK_EQ_INT(ringlog_consume(r, &c, 2), 0);
	CHECK_EQ_INT(ringlog_peek(r, &c, &ch, iov, NULL), RINGLOG_DATA);
	CHECK_EQ_INT(ch.len, 4);
	CHECK_EQ_INT(ch.off, 2);
	CHECK_EQ_INT(ch.start, 2);
	CHECK(memcmp(iov[0].iov_base, "cdef", 4) == 0);
	CHECK_EQ_STR(read_str(r, &c, 3, &ch), "cde");
	CHECK_EQ_STR(read_str(r, &c, 3, &ch), "f");
	CHECK_EQ_STR(read_str(r, &c, 3, &ch), "gh");
	CHECK_EQ_INT(ch.off, 6);
	ringlog_destroy(r);
}

/* A writer that must not overwrite a reader's unread records can write
 * exactly ringlog_room_before bytes, and one more record would drop one. */
static void test_room_before_a_reader(void)
{
	struct ringlog *r = new_ring(256, 232); /* records as large as the ring allows */
	struct ringlog_cursor c, behind;
	struct ringlog_chunk ch;
	struct ringlog_stats st;

	ringlog_seek_oldest(r, &c, RINGLOG_ALL);
	CHECK_EQ_INT(ringlog_room_before(r, &c), 256); /* read all there is */
	put(r, RINGLOG_STDOUT, "0123456789");	       /* 34 bytes with the header */
	CHECK_EQ_INT(ringlog_room_before(r, &c), 256 - 34);
	put(r, RINGLOG_STDERR, "abcdef"); /* 30 */
	CHECK_EQ_INT(ringlog_room_before(r, &c), 256 - 64);
	CHECK_EQ_INT(ringlog_consume(r, &c, 4), 0); /* partly read: still unread */
	CHECK_EQ_INT(ringlog_room_before(r, &c), 256 - 64);
	CHECK_EQ_INT(ringlog_consume(r, &c, 6), 0); /* the first record is done */
	CHECK_EQ_INT(ringlog_room_before(r, &c), 256 - 30);
	/* Fill exactly the room: nothing the reader has not read is dropped. */
	size_t room = ringlog_room_before(r, &c);
	char fill[256];
	memset(fill, 'x', sizeof(fill));
	ringlog_append(r, RINGLOG_STDOUT, fill, room - 24 - 40, (struct ringlog_stamp){0, 0});
	ringlog_append(r, RINGLOG_STDOUT, fill, 40 - 24, (struct ringlog_stamp){0, 0});
	ringlog_get_stats(r, &st);
	CHECK_EQ_INT(st.first_seq, 1); /* only the record already read went */
	CHECK_EQ_INT(ringlog_room_before(r, &c), 0);
	CHECK_EQ_STR(read_str(r, &c, 16, &ch), "abcdef");
	CHECK_EQ_INT(ringlog_room_before(r, &c), 256 - (256 - 30)); /* behind it: 30 */
	/* A reader that already lost data protects nothing behind it. */
	ringlog_seek_oldest(r, &behind, RINGLOG_ALL);
	ringlog_append(r, RINGLOG_STDOUT, fill, 100, (struct ringlog_stamp){0, 0});
	ringlog_get_stats(r, &st);
	CHECK_EQ_INT(ringlog_room_before(r, &behind), 256 - st.used);
	CHECK_EQ_INT(ringlog_room_before(NULL, &c), 0);
	ringlog_destroy(r);
}

/* Log rings tag records with the syslog level; each level counts its own
 * offsets and a reader can follow a set of levels. */
static void test_log_levels_as_streams(void)
{
	struct ringlog *r = new_ring(1024, 0);
	struct ringlog_cursor warn;

	put(r, 6, "info1 ");
	put(r, 4, "warn1 ");
	put(r, 3, "err1 ");
	put(r, 7, "debug ");
	put(r, 4, "warn2");
	CHECK_EQ_INT(ringlog_seek_oldest(r, &warn,
					 RINGLOG_MASK(0) | RINGLOG_MASK(1) | RINGLOG_MASK(2) |
					     RINGLOG_MASK(3) | RINGLOG_MASK(4)),
		     0);
	CHECK_EQ_STR(read_all(r, &warn), "warn1 err1 warn2");
	CHECK_EQ_INT(stats_of(r).next_off[4], 11);
	CHECK_EQ_INT(stats_of(r).next_off[7], 6);
	ringlog_destroy(r);
}

/* Independent check of the retention rule: after any run of appends the ring
 * holds the longest suffix of all records whose sizes fit the capacity. */
static void check_retention(size_t capacity, unsigned seed)
{
	struct ringlog *r = new_ring(capacity, capacity / 3);
	size_t lens[600];
	uint64_t start[600];
	uint64_t total = 0;
	struct ringlog_cursor c;
	struct ringlog_chunk ch;
	size_t n = 0;

	for (; n < 600; n++) {
		seed = seed * 1103515245u + 12345u;
		lens[n] = 1 + (seed >> 8) % (capacity / 3);
		start[n] = total;
		total += lens[n];
		put_fill(r, RINGLOG_STDOUT, lens[n]);
	}
	size_t used = 0, first = n;
	while (first > 0 && used + H + lens[first - 1] <= capacity)
		used += H + lens[--first];
	CHECK_EQ_INT(stats_of(r).first_seq, first);
	CHECK_EQ_INT(stats_of(r).used, used);
	CHECK_EQ_INT(stats_of(r).first_off[RINGLOG_STDOUT], start[first]);
	ringlog_seek_oldest(r, &c, RINGLOG_ALL);
	for (size_t i = first; i < n; i++) {
		char buf[4096], want[4096];
		CHECK_EQ_INT(ringlog_read(r, &c, buf, sizeof(buf), &ch, NULL), RINGLOG_DATA);
		memset(want, (char)('a' + i % 26), lens[i]);
		CHECK_EQ_INT(ch.seq, i);
		CHECK_EQ_INT(ch.len, lens[i]);
		CHECK_EQ_INT(ch.off, start[i]);
		CHECK(memcmp(buf, want, lens[i]) == 0);
	}
	CHECK_EQ_INT(ringlog_read(r, &c, (char[8]){0}, 8, &ch, NULL), RINGLOG_EMPTY);
	ringlog_destroy(r);
}

static void test_capacities_power_of_two_and_not(void)
{
	const size_t caps[] = {64, 100, 128, 257, 1000, 1024, 4096, 4099, 12288};

	for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++)
		for (unsigned seed = 1; seed <= 5; seed++)
			check_retention(caps[i], seed * 7919u + (unsigned)i);
}

int main(void)
{
	RUN(test_create_validates_arguments);
	RUN(test_default_max_record);
	RUN(test_pool_budget);
	RUN(test_append_then_read_back);
	RUN(test_sequence_numbers_count_records);
	RUN(test_streams_interleave_with_own_offsets);
	RUN(test_wraparound_drops_oldest_whole_records);
	RUN(test_exact_fit_keeps_everything);
	RUN(test_record_across_the_wrap);
	RUN(test_gap_reports_exact_loss);
	RUN(test_gap_only_for_streams_the_reader_follows);
	RUN(test_many_readers_at_different_places);
	RUN(test_reader_at_head_sees_nothing_new_then_live);
	RUN(test_reserve_commit_writes_in_place);
	RUN(test_reserve_larger_than_record_is_clipped);
	RUN(test_reserve_misuse_is_safe);
	RUN(test_large_write_is_split_into_bounded_records);
	RUN(test_zero_length_write_is_ignored);
	RUN(test_bad_arguments_change_nothing);
	RUN(test_seek_seq_middle_end_and_overwritten);
	RUN(test_seek_offset_inside_record_and_overwritten);
	RUN(test_peek_and_partial_consume);
	RUN(test_room_before_a_reader);
	RUN(test_log_levels_as_streams);
	RUN(test_capacities_power_of_two_and_not);
	return check_summary();
}
