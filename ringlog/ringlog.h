/* ringlog — a bounded, replayable log of byte records: one per task (its
 * stdout, stderr or pty) and one each for the init and kernel logs.
 *
 * Pure data structure: no I/O, no clocks, no globals, no allocation after
 * ringlog_create(). Single-threaded: the event loop owns every ring.
 *
 * RECORDS. A record is a stream tag, two timestamps supplied by the caller and
 * 1..max_record payload bytes. It costs RINGLOG_HEADER_SIZE + payload bytes of
 * the ring. Records keep the order in which they were written, across
 * streams, so interleaving of stdout and stderr is preserved.
 *
 * SEQUENCE NUMBERS. The n-th record ever written to a ring has seq n-1. The
 * retained records are exactly seq [first_seq, next_seq) — no holes; every
 * record with seq < first_seq has been overwritten.
 *
 * OFFSETS. Each stream tag is its own byte stream. The k-th byte ever written
 * to stream S has offset k-1 in S, for the life of the ring: offsets start at
 * 0, never go back and are never reused. The retained bytes of S are exactly
 * offsets [first_off[S], next_off[S]); first_off[S] is also the number of
 * bytes of S that were overwritten.
 *
 * OVERWRITE. Writes never block and never fail for lack of space: to make
 * room, whole records are dropped oldest first, only as many as needed. So
 * the ring always holds the longest run of most recent records that fits
 * (for appends; see ringlog_reserve for the one exception). Once it has
 * dropped a record, a ring always holds more than capacity - 2 *
 * (RINGLOG_HEADER_SIZE + max_record) bytes.
 *
 * READERS. A cursor is a small value owned by the caller; any number may
 * exist, the ring does not know about them, and copying one saves its place.
 * A cursor delivers each byte of its streams at most once, in order. When the
 * ring overwrote data a cursor had not read, the next peek/read returns
 * RINGLOG_GAP once, with an exact report (struct ringlog_gap), and moves the
 * cursor to the oldest retained record; reading then carries on. A cursor
 * that has read everything gets RINGLOG_EMPTY (wait on the task's fds, not
 * on the ring). Readers take a const ring: reading can never change it.
 *
 * COST. O(1): create (one malloc), destroy, stats, seek_oldest, seek_newest,
 * consume, reserve/commit/append per record written (amortised: each record
 * is dropped once), peek/read per record delivered (amortised: each record a
 * cursor skips for its stream mask is skipped once). O(retained records):
 * seek_seq and seek_offset into the middle of the ring, which walk from the
 * oldest record (they are O(1) at either end and into overwritten history).
 * Copies are O(bytes) with memcpy.
 *
 * SAFETY. Every argument is checked; a call that returns an error changes
 * nothing. Reserve without commit, commit twice, commit without reserve,
 * append during a reservation, a cursor of another ring: each is an error or
 * a documented no-op, never a corrupt ring. */
#ifndef TASKINIT_RINGLOG_H
#define TASKINIT_RINGLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

/* Stream tags are 0..RINGLOG_STREAMS-1; the ring's owner picks a meaning.
 * Task rings use the three below; log rings use the syslog level 0 (emerg)
 * to 7 (debug) as the tag, so each level is its own offset space. */
#define RINGLOG_STREAMS 8
enum {
	RINGLOG_STDOUT = 0,
	RINGLOG_STDERR = 1,
	RINGLOG_PTY = 2,
};
#define RINGLOG_MASK(stream) (1u << (stream))
#define RINGLOG_ALL	     ((1u << RINGLOG_STREAMS) - 1)

/* A sequence number or offset that cannot be known (see struct ringlog_gap). */
#define RINGLOG_UNKNOWN UINT64_MAX

#define RINGLOG_HEADER_SIZE	   24
#define RINGLOG_MIN_CAPACITY	   64
#define RINGLOG_MAX_CAPACITY	   ((size_t)1 << 30)
#define RINGLOG_DEFAULT_MAX_RECORD 65536

/* Peek and read results (negative values are -errno). */
enum {
	RINGLOG_EMPTY = 0, /* nothing new for this cursor */
	RINGLOG_DATA = 1,  /* *chunk describes bytes of one record */
	RINGLOG_GAP = 2,   /* *gap says what was lost; the cursor moved past it */
};

/* Both clocks are read by the caller (CLOCK_BOOTTIME and CLOCK_REALTIME). */
struct ringlog_stamp {
	int64_t boot_ns;
	int64_t real_ns;
};

/* Global budget across rings. Fields are private. Each ring charges
 * ringlog_footprint(capacity) from create until destroy; which ring to
 * destroy when the budget is short is the owner's policy, not ringlog's. */
struct ringlog_pool {
	size_t limit;
	size_t used;
	size_t rings;
};

/* What a reader lost. For every stream S, the bytes [from_off[S], to_off[S])
 * of S were overwritten before this cursor delivered them, and reading S
 * resumes at to_off[S]; records [from_seq, to_seq) were not delivered in full
 * (the first may have been delivered in part), and reading resumes at record
 * to_seq. Every value is exact. A value is RINGLOG_UNKNOWN only after a seek
 * into history that was already overwritten, which cannot be known: seeking
 * by seq leaves byte offsets unknown (except for streams that never lost a
 * byte: those say 0), seeking by offset leaves from_seq unknown. A gap is
 * reported only when a stream in the cursor's mask lost bytes (or may have). */
struct ringlog_gap {
	uint64_t from_seq;
	uint64_t to_seq;
	uint64_t from_off[RINGLOG_STREAMS];
	uint64_t to_off[RINGLOG_STREAMS];
};

/* One record's bytes as delivered to a reader. */
struct ringlog_chunk {
	uint64_t seq;		   /* the record's sequence number */
	uint64_t off;		   /* stream offset of the first byte in this chunk */
	struct ringlog_stamp when; /* the record's timestamps */
	uint32_t len;		   /* bytes in this chunk */
	uint32_t start;		   /* index in the record of the chunk's first byte */
	uint32_t rec_len;	   /* payload bytes of the whole record */
	uint8_t stream;
};

/* A reader's place. Fields are private: set only by the seek functions and
 * advanced only by peek/consume/read. */
struct ringlog_cursor {
	const struct ringlog *ring;
	uint64_t seq;
	uint64_t off[RINGLOG_STREAMS];
	size_t pos;
	uint32_t skip;
	uint8_t mask;
	uint8_t lost;
};

struct ringlog_stats {
	size_t capacity;    /* buffer bytes */
	size_t max_record;  /* payload bytes per record, at most */
	size_t used;	    /* buffer bytes held by retained records, headers included */
	uint64_t first_seq; /* retained records are [first_seq, next_seq); */
	uint64_t next_seq;  /* first_seq records were dropped */
	uint64_t first_off[RINGLOG_STREAMS]; /* retained bytes of S are [first_off, */
	uint64_t next_off[RINGLOG_STREAMS];  /* next_off); first_off bytes dropped */
	bool reserved;			     /* a reservation is open */
};

struct ringlog;

/* --- pool --- */
void ringlog_pool_init(struct ringlog_pool *pool, size_t limit);
size_t ringlog_pool_used(const struct ringlog_pool *pool);
size_t ringlog_pool_limit(const struct ringlog_pool *pool);
size_t ringlog_pool_rings(const struct ringlog_pool *pool);
/* Bytes a ring of this capacity charges its pool; 0 if the capacity is invalid. */
size_t ringlog_footprint(size_t capacity);
/* Whether a ring of this capacity would be created within the budget now. */
bool ringlog_pool_fits(const struct ringlog_pool *pool, size_t capacity);

/* --- lifetime --- */
/* capacity: RINGLOG_MIN_CAPACITY..RINGLOG_MAX_CAPACITY, any value (not only a
 * power of two). max_record: payload bytes per record, 1..capacity -
 * RINGLOG_HEADER_SIZE; 0 picks min(RINGLOG_DEFAULT_MAX_RECORD, capacity/4).
 * pool may be NULL (no budget). Returns 0, -EINVAL, -ENOSPC (over budget) or
 * -ENOMEM. Cursors of a destroyed ring must not be used again. */
int ringlog_create(struct ringlog **out, struct ringlog_pool *pool, size_t capacity,
		   size_t max_record);
void ringlog_destroy(struct ringlog *ring);

/* --- writing --- */
/* Copies len bytes as records of at most max_record bytes each, all with the
 * same stamp. len 0 is ignored. Returns 0, -EINVAL, or -EBUSY while a
 * reservation is open. */
int ringlog_append(struct ringlog *ring, unsigned stream, const void *data, size_t len,
		   struct ringlog_stamp when);

/* Opens a reservation for one record of stream: space for min(want,
 * max_record) payload bytes, returned as iov[0] and iov[1] (iov[1] may be
 * empty; the space may wrap around the buffer end), so a caller can
 * readv(fd, iov, 2) straight into the ring. Returns the space's size or
 * -EINVAL. Records are dropped to make the space at once, even if fewer bytes
 * are committed: reserve about what you expect (FIONREAD, a pipe page), not
 * the most you could take. A second reserve replaces the open one (same start
 * address). The space is valid until commit, cancel or destroy. */
ssize_t ringlog_reserve(struct ringlog *ring, unsigned stream, size_t want, struct iovec iov[2]);
/* Publishes the first len bytes of the reservation as a record and closes it.
 * len 0 cancels. Returns 0, or -EINVAL (no reservation, len too big: then the
 * reservation stays open). */
int ringlog_commit(struct ringlog *ring, size_t len, struct ringlog_stamp when);
/* Closes the reservation, if any, without a record. */
void ringlog_cancel(struct ringlog *ring);

void ringlog_get_stats(const struct ringlog *ring, struct ringlog_stats *stats);

/* Ring bytes (headers included) that can be written before a record at or
 * after the cursor's place would be dropped: for a writer that must not
 * overwrite what this reader has not read. The cursor's own record counts
 * as unread even when partly consumed. A cursor that already lost data
 * protects nothing behind it: the free bytes. 0 for a bad argument. */
size_t ringlog_room_before(const struct ringlog *ring, const struct ringlog_cursor *cursor);

/* --- reading --- */
/* Each seek (re)initialises a cursor. mask: RINGLOG_MASK bits of the streams
 * to deliver (records of other streams are skipped). Return 0 or -EINVAL;
 * seek_seq and seek_offset return -ERANGE for a position not written yet. */
/* At the oldest retained record. */
int ringlog_seek_oldest(const struct ringlog *ring, struct ringlog_cursor *cur, unsigned mask);
/* After the newest record: delivers only what is written from now on. */
int ringlog_seek_newest(const struct ringlog *ring, struct ringlog_cursor *cur, unsigned mask);
/* At record seq (0..next_seq). If seq was overwritten, the first read
 * reports the gap from seq. */
int ringlog_seek_seq(const struct ringlog *ring, struct ringlog_cursor *cur, unsigned mask,
		     uint64_t seq);
/* At byte off of stream (0..next_off), delivering that stream only. If off
 * was overwritten, the first read reports the gap from off. */
int ringlog_seek_offset(const struct ringlog *ring, struct ringlog_cursor *cur, unsigned stream,
			uint64_t off);

/* The next thing for this cursor, without consuming bytes: RINGLOG_DATA with
 * the rest of the current record in iov[0..1] (read-only, valid until the
 * ring is next written) and *chunk; RINGLOG_GAP with *gap (gap may be NULL);
 * RINGLOG_EMPTY; or -EINVAL. */
int ringlog_peek(const struct ringlog *ring, struct ringlog_cursor *cur,
		 struct ringlog_chunk *chunk, struct iovec iov[2], struct ringlog_gap *gap);
/* Marks n bytes of the chunk that peek returned as delivered. Returns 0 or
 * -EINVAL (n more than is left of the record, or no current record). */
int ringlog_consume(const struct ringlog *ring, struct ringlog_cursor *cur, size_t n);
/* peek, copy up to size bytes (of one record) into buf, consume them. On
 * RINGLOG_DATA chunk->len is the number of bytes copied. */
int ringlog_read(const struct ringlog *ring, struct ringlog_cursor *cur, void *buf, size_t size,
		 struct ringlog_chunk *chunk, struct ringlog_gap *gap);

/* Bytes of stream lost in a gap, or RINGLOG_UNKNOWN. */
uint64_t ringlog_gap_bytes(const struct ringlog_gap *gap, unsigned stream);
/* Records not delivered in full, or RINGLOG_UNKNOWN. */
uint64_t ringlog_gap_records(const struct ringlog_gap *gap);

#endif
