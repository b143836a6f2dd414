/* ringlog: see ringlog.h for what it promises and docs/ringlog.md for why it
 * is built this way.
 *
 * Layout: one byte buffer used as a circle. Records sit back to back, each a
 * fixed header followed by its payload; either may be split by the end of
 * the buffer, so no byte is wasted on padding and any capacity works. Live
 * records run from tail_pos (seq tail_seq) to head_pos (seq head_seq). A
 * record's seq and stream offset are not stored: both are implied by its
 * place in the chain and the tail counters, which keeps the header small. */
#include "ringlog/ringlog.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct rec_hdr {
	int64_t boot_ns;
	int64_t real_ns;
	uint32_t len;
	uint8_t stream;
	uint8_t zero[3];
};

_Static_assert(sizeof(struct rec_hdr) == RINGLOG_HEADER_SIZE, "header size is part of the API");
_Static_assert(RINGLOG_STREAMS <= 8, "cursor masks are 8 bits");

#define HDR RINGLOG_HEADER_SIZE

struct ringlog {
	struct ringlog_pool *pool;
	size_t footprint;
	size_t cap;
	size_t max_record;
	size_t head_pos;
	size_t tail_pos;
	size_t used;
	uint64_t head_seq;
	uint64_t tail_seq;
	uint64_t head_off[RINGLOG_STREAMS];
	uint64_t tail_off[RINGLOG_STREAMS];
	size_t resv_len; /* payload bytes of the open reservation; 0: none */
	uint8_t resv_stream;
	unsigned char buf[];
};

/* --- pool --- */

void ringlog_pool_init(struct ringlog_pool *pool, size_t limit)
{
	if (!pool)
		return;
	pool->limit = limit;
	pool->used = 0;
	pool->rings = 0;
}

size_t ringlog_pool_used(const struct ringlog_pool *pool)
{
	return pool ? pool->used : 0;
}

size_t ringlog_pool_limit(const struct ringlog_pool *pool)
{
	return pool ? pool->limit : 0;
}

size_t ringlog_pool_rings(const struct ringlog_pool *pool)
{
	return pool ? pool->rings : 0;
}

static bool capacity_valid(size_t capacity)
{
	return capacity >= RINGLOG_MIN_CAPACITY && capacity <= RINGLOG_MAX_CAPACITY;
}

size_t ringlog_footprint(size_t capacity)
{
	if (!capacity_valid(capacity))
		return 0;
	return sizeof(struct ringlog) + capacity;
}

bool ringlog_pool_fits(const struct ringlog_pool *pool, size_t capacity)
{
	size_t need = ringlog_footprint(capacity);

	if (!need)
		return false;
	if (!pool)
		return true;
	/* Written as a subtraction so a limit near SIZE_MAX cannot overflow. */
	return pool->used <= pool->limit && need <= pool->limit - pool->used;
}

/* --- lifetime --- */

static size_t default_max_record(size_t capacity)
{
	size_t quarter = capacity / 4;

	return quarter < RINGLOG_DEFAULT_MAX_RECORD ? quarter : RINGLOG_DEFAULT_MAX_RECORD;
}

int ringlog_create(struct ringlog **out, struct ringlog_pool *pool, size_t capacity,
		   size_t max_record)
{
	struct ringlog *r;

	if (!out || !capacity_valid(capacity))
		return -EINVAL;
	if (max_record == 0)
		max_record = default_max_record(capacity);
	/* One record must always fit in an empty ring, or make_room could not end. */
	if (max_record > capacity - HDR)
		return -EINVAL;
	if (!ringlog_pool_fits(pool, capacity))
		return -ENOSPC;
	r = calloc(1, ringlog_footprint(capacity));
	if (!r)
		return -ENOMEM;
	r->pool = pool;
	r->footprint = ringlog_footprint(capacity);
	r->cap = capacity;
	r->max_record = max_record;
	if (pool) {
		pool->used += r->footprint;
		pool->rings++;
	}
	*out = r;
	return 0;
}

void ringlog_destroy(struct ringlog *r)
{
	if (!r)
		return;
	if (r->pool) {
		r->pool->used -= r->footprint;
		r->pool->rings--;
	}
	free(r);
}

/* --- the circle --- */

static size_t ring_advance(const struct ringlog *r, size_t pos, size_t n)
{
	/* n <= cap, so one subtraction wraps; cheaper than % for any capacity. */
	pos += n;
	return pos >= r->cap ? pos - r->cap : pos;
}

static void ring_put(struct ringlog *r, size_t pos, const void *src, size_t n)
{
	size_t first = r->cap - pos < n ? r->cap - pos : n;

	memcpy(r->buf + pos, src, first);
	memcpy(r->buf, (const unsigned char *)src + first, n - first);
}

static void ring_get(const struct ringlog *r, size_t pos, void *dst, size_t n)
{
	size_t first = r->cap - pos < n ? r->cap - pos : n;

	memcpy(dst, r->buf + pos, first);
	memcpy((unsigned char *)dst + first, r->buf, n - first);
}

/* The n bytes at pos as up to two segments. */
static void ring_span(const struct ringlog *r, size_t pos, size_t n, struct iovec iov[2])
{
	size_t first = r->cap - pos < n ? r->cap - pos : n;

	iov[0].iov_base = (void *)(r->buf + pos);
	iov[0].iov_len = first;
	iov[1].iov_base = (void *)r->buf;
	iov[1].iov_len = n - first;
}

static void load_hdr(const struct ringlog *r, size_t pos, struct rec_hdr *h)
{
	ring_get(r, pos, h, HDR);
}

/* --- writing --- */

static void drop_oldest(struct ringlog *r)
{
	struct rec_hdr h;

	load_hdr(r, r->tail_pos, &h);
	r->tail_off[h.stream] += h.len;
	r->tail_seq++;
	r->tail_pos = ring_advance(r, r->tail_pos, HDR + h.len);
	r->used -= HDR + h.len;
}

static void make_room(struct ringlog *r, size_t need)
{
	while (r->cap - r->used < need)
		drop_oldest(r);
}

/* The payload is already in place after head_pos's header slot. */
static void publish(struct ringlog *r, unsigned stream, size_t len, struct ringlog_stamp when)
{
	struct rec_hdr h = {
	    .boot_ns = when.boot_ns,
	    .real_ns = when.real_ns,
	    .len = (uint32_t)len,
	    .stream = (uint8_t)stream,
	};

	ring_put(r, r->head_pos, &h, HDR);
	r->head_pos = ring_advance(r, r->head_pos, HDR + len);
	r->used += HDR + len;
	r->head_off[stream] += len;
	r->head_seq++;
}

static void append_record(struct ringlog *r, unsigned stream, const unsigned char *data, size_t len,
			  struct ringlog_stamp when)
{
	make_room(r, HDR + len);
	ring_put(r, ring_advance(r, r->head_pos, HDR), data, len);
	publish(r, stream, len, when);
}

int ringlog_append(struct ringlog *r, unsigned stream, const void *data, size_t len,
		   struct ringlog_stamp when)
{
	const unsigned char *p = data;

	if (!r || stream >= RINGLOG_STREAMS || (!data && len))
		return -EINVAL;
	if (r->resv_len)
		return -EBUSY;
	while (len) {
		size_t n = len < r->max_record ? len : r->max_record;

		append_record(r, stream, p, n, when);
		p += n;
		len -= n;
	}
	return 0;
}

ssize_t ringlog_reserve(struct ringlog *r, unsigned stream, size_t want, struct iovec iov[2])
{
	size_t n;

	if (!r || stream >= RINGLOG_STREAMS || !want || !iov)
		return -EINVAL;
	n = want < r->max_record ? want : r->max_record;
	make_room(r, HDR + n);
	r->resv_len = n;
	r->resv_stream = (uint8_t)stream;
	ring_span(r, ring_advance(r, r->head_pos, HDR), n, iov);
	return (ssize_t)n;
}

int ringlog_commit(struct ringlog *r, size_t len, struct ringlog_stamp when)
{
	if (!r || !r->resv_len || len > r->resv_len)
		return -EINVAL;
	if (len)
		publish(r, r->resv_stream, len, when);
	r->resv_len = 0;
	return 0;
}

void ringlog_cancel(struct ringlog *r)
{
	if (r)
		r->resv_len = 0;
}

void ringlog_get_stats(const struct ringlog *r, struct ringlog_stats *st)
{
	if (!r || !st)
		return;
	st->capacity = r->cap;
	st->max_record = r->max_record;
	st->used = r->used;
	st->first_seq = r->tail_seq;
	st->next_seq = r->head_seq;
	memcpy(st->first_off, r->tail_off, sizeof(st->first_off));
	memcpy(st->next_off, r->head_off, sizeof(st->next_off));
	st->reserved = r->resv_len != 0;
}

/* --- cursors --- */

static bool mask_valid(unsigned mask)
{
	return mask != 0 && (mask & ~(unsigned)RINGLOG_ALL) == 0;
}

static void cursor_at_tail(const struct ringlog *r, struct ringlog_cursor *c, unsigned mask)
{
	c->ring = r;
	c->seq = r->tail_seq;
	memcpy(c->off, r->tail_off, sizeof(c->off));
	c->pos = r->tail_pos;
	c->skip = 0;
	c->mask = (uint8_t)mask;
	c->lost = 0;
}

static void cursor_at_head(const struct ringlog *r, struct ringlog_cursor *c, unsigned mask)
{
	cursor_at_tail(r, c, mask);
	c->seq = r->head_seq;
	memcpy(c->off, r->head_off, sizeof(c->off));
	c->pos = r->head_pos;
}

/* A position in history that is gone: what is known is kept, the rest is
 * RINGLOG_UNKNOWN, and the first peek turns it into a gap report. */
static void cursor_in_lost(const struct ringlog *r, struct ringlog_cursor *c, unsigned mask,
			   uint64_t seq)
{
	cursor_at_tail(r, c, mask);
	c->seq = seq;
	for (unsigned s = 0; s < RINGLOG_STREAMS; s++)
		c->off[s] = RINGLOG_UNKNOWN;
	c->lost = 1;
}

/* Moves past the whole record at the cursor. */
static void cursor_step(const struct ringlog *r, struct ringlog_cursor *c, const struct rec_hdr *h)
{
	c->off[h->stream] += h->len - c->skip;
	c->seq++;
	c->pos = ring_advance(r, c->pos, HDR + h->len);
	c->skip = 0;
}

int ringlog_seek_oldest(const struct ringlog *r, struct ringlog_cursor *c, unsigned mask)
{
	if (!r || !c || !mask_valid(mask))
		return -EINVAL;
	cursor_at_tail(r, c, mask);
	return 0;
}

int ringlog_seek_newest(const struct ringlog *r, struct ringlog_cursor *c, unsigned mask)
{
	if (!r || !c || !mask_valid(mask))
		return -EINVAL;
	cursor_at_head(r, c, mask);
	return 0;
}

int ringlog_seek_seq(const struct ringlog *r, struct ringlog_cursor *c, unsigned mask, uint64_t seq)
{
	struct rec_hdr h;

	if (!r || !c || !mask_valid(mask))
		return -EINVAL;
	if (seq > r->head_seq)
		return -ERANGE;
	if (seq < r->tail_seq) {
		cursor_in_lost(r, c, mask, seq);
		return 0;
	}
	if (seq == r->head_seq) {
		cursor_at_head(r, c, mask);
		return 0;
	}
	cursor_at_tail(r, c, mask);
	while (c->seq < seq) {
		load_hdr(r, c->pos, &h);
		cursor_step(r, c, &h);
	}
	return 0;
}

int ringlog_seek_offset(const struct ringlog *r, struct ringlog_cursor *c, unsigned stream,
			uint64_t off)
{
	struct rec_hdr h;

	if (!r || !c || stream >= RINGLOG_STREAMS)
		return -EINVAL;
	if (off > r->head_off[stream])
		return -ERANGE;
	if (off < r->tail_off[stream]) {
		cursor_in_lost(r, c, RINGLOG_MASK(stream), RINGLOG_UNKNOWN);
		c->off[stream] = off;
		return 0;
	}
	if (off == r->head_off[stream]) {
		cursor_at_head(r, c, RINGLOG_MASK(stream));
		return 0;
	}
	/* off is retained, so a record of stream holding it lies ahead. */
	cursor_at_tail(r, c, RINGLOG_MASK(stream));
	for (;;) {
		load_hdr(r, c->pos, &h);
		if (h.stream == stream && off - c->off[stream] < h.len)
			break;
		cursor_step(r, c, &h);
	}
	c->skip = (uint32_t)(off - c->off[stream]);
	c->off[stream] = off;
	return 0;
}

static bool cursor_fell_behind(const struct ringlog *r, const struct ringlog_cursor *c)
{
	return c->lost || c->seq < r->tail_seq;
}

/* Fills *gap from the cursor's place to the oldest retained record and moves
 * the cursor there. Returns whether a stream in its mask lost (or may have
 * lost) bytes. */
static bool cursor_resync(const struct ringlog *r, struct ringlog_cursor *c,
			  struct ringlog_gap *gap)
{
	bool lost = false;

	gap->from_seq = c->seq;
	gap->to_seq = r->tail_seq;
	for (unsigned s = 0; s < RINGLOG_STREAMS; s++) {
		uint64_t from = c->off[s];

		/* Nothing of s was ever dropped, so no reader can have lost any. */
		if (from == RINGLOG_UNKNOWN && r->tail_off[s] == 0)
			from = 0;
		gap->from_off[s] = from;
		gap->to_off[s] = r->tail_off[s];
		if ((c->mask & RINGLOG_MASK(s)) && from != r->tail_off[s])
			lost = true;
	}
	cursor_at_tail(r, c, c->mask);
	return lost;
}

/* Cheap sanity checks so that a stale, foreign or scribbled cursor yields
 * -EINVAL rather than nonsense; it can never touch the ring either way. */
static bool cursor_valid(const struct ringlog *r, const struct ringlog_cursor *c)
{
	if (!r || !c || c->ring != r || !mask_valid(c->mask))
		return false;
	if (c->lost)
		return true;
	return c->seq <= r->head_seq && c->pos < r->cap;
}

size_t ringlog_room_before(const struct ringlog *r, const struct ringlog_cursor *c)
{
	if (!cursor_valid(r, c))
		return 0;
	size_t room = r->cap - r->used;
	if (cursor_fell_behind(r, c))
		return room;
	/* Records between the oldest and the cursor's may go for new ones. */
	if (c->seq == r->head_seq)
		return r->cap;
	return room + (c->pos + r->cap - r->tail_pos) % r->cap;
}

static bool hdr_valid(const struct ringlog *r, const struct rec_hdr *h, uint32_t skip)
{
	return h->stream < RINGLOG_STREAMS && h->len > 0 && h->len <= r->max_record &&
	       skip < h->len;
}

static void fill_chunk(const struct ringlog_cursor *c, const struct rec_hdr *h,
		       struct ringlog_chunk *chunk)
{
	chunk->seq = c->seq;
	chunk->off = c->off[h->stream];
	chunk->when.boot_ns = h->boot_ns;
	chunk->when.real_ns = h->real_ns;
	chunk->len = h->len - c->skip;
	chunk->start = c->skip;
	chunk->rec_len = h->len;
	chunk->stream = h->stream;
}

/* Skips records outside the mask; stops at one inside it (1) or at the
 * head (0); -EINVAL if the cursor turns out not to follow the chain. */
static int cursor_find(const struct ringlog *r, struct ringlog_cursor *c, struct rec_hdr *h)
{
	while (c->seq < r->head_seq) {
		load_hdr(r, c->pos, h);
		if (!hdr_valid(r, h, c->skip))
			return -EINVAL;
		if (c->mask & RINGLOG_MASK(h->stream))
			return 1;
		cursor_step(r, c, h);
	}
	return c->pos == r->head_pos ? 0 : -EINVAL;
}

/* The common case: the cursor sits on a record it follows, so peek moves
 * nothing and there is nothing to undo. */
static bool cursor_on_match(const struct ringlog *r, const struct ringlog_cursor *c,
			    struct rec_hdr *h)
{
	if (cursor_fell_behind(r, c) || c->seq >= r->head_seq)
		return false;
	load_hdr(r, c->pos, h);
	return hdr_valid(r, h, c->skip) && (c->mask & RINGLOG_MASK(h->stream));
}

/* Resyncs after a loss and skips unfollowed records, on a copy so that a
 * cursor found bad half-way stays as it was. */
static int cursor_seek_data(const struct ringlog *r, struct ringlog_cursor *c, struct rec_hdr *h,
			    struct ringlog_gap *gap)
{
	struct ringlog_gap scratch;
	struct ringlog_cursor t = *c;
	int found;

	if (cursor_fell_behind(r, &t) && cursor_resync(r, &t, gap ? gap : &scratch)) {
		*c = t;
		return RINGLOG_GAP;
	}
	found = cursor_find(r, &t, h);
	if (found < 0)
		return found;
	*c = t;
	return found ? RINGLOG_DATA : RINGLOG_EMPTY;
}

int ringlog_peek(const struct ringlog *r, struct ringlog_cursor *c, struct ringlog_chunk *chunk,
		 struct iovec iov[2], struct ringlog_gap *gap)
{
	struct rec_hdr h;

	if (!cursor_valid(r, c) || !chunk || !iov)
		return -EINVAL;
	if (!cursor_on_match(r, c, &h)) {
		int rc = cursor_seek_data(r, c, &h, gap);

		if (rc != RINGLOG_DATA)
			return rc;
	}
	fill_chunk(c, &h, chunk);
	ring_span(r, ring_advance(r, c->pos, HDR + c->skip), chunk->len, iov);
	return RINGLOG_DATA;
}

int ringlog_consume(const struct ringlog *r, struct ringlog_cursor *c, size_t n)
{
	struct rec_hdr h;

	if (!cursor_valid(r, c) || cursor_fell_behind(r, c) || c->seq == r->head_seq)
		return -EINVAL;
	load_hdr(r, c->pos, &h);
	if (!hdr_valid(r, &h, c->skip) || !(c->mask & RINGLOG_MASK(h.stream)) ||
	    n > h.len - c->skip)
		return -EINVAL;
	if (n == h.len - c->skip) {
		cursor_step(r, c, &h);
		return 0;
	}
	c->skip += (uint32_t)n;
	c->off[h.stream] += n;
	return 0;
}

int ringlog_read(const struct ringlog *r, struct ringlog_cursor *c, void *buf, size_t size,
		 struct ringlog_chunk *chunk, struct ringlog_gap *gap)
{
	struct iovec iov[2];
	size_t first;
	int rc;

	if (!buf || !size)
		return -EINVAL;
	rc = ringlog_peek(r, c, chunk, iov, gap);
	if (rc != RINGLOG_DATA)
		return rc;
	if (chunk->len > size)
		chunk->len = (uint32_t)size;
	first = iov[0].iov_len < chunk->len ? iov[0].iov_len : chunk->len;
	memcpy(buf, iov[0].iov_base, first);
	memcpy((unsigned char *)buf + first, iov[1].iov_base, chunk->len - first);
	return ringlog_consume(r, c, chunk->len) ? -EINVAL : RINGLOG_DATA;
}

uint64_t ringlog_gap_bytes(const struct ringlog_gap *gap, unsigned stream)
{
	if (!gap || stream >= RINGLOG_STREAMS || gap->from_off[stream] == RINGLOG_UNKNOWN)
		return RINGLOG_UNKNOWN;
	return gap->to_off[stream] - gap->from_off[stream];
}

uint64_t ringlog_gap_records(const struct ringlog_gap *gap)
{
	if (!gap || gap->from_seq == RINGLOG_UNKNOWN)
		return RINGLOG_UNKNOWN;
	return gap->to_seq - gap->from_seq;
}
