/* Model test: random operation sequences run against ringlog and against a
 * naive reference that keeps every record ever written in a growing array.
 *
 * The reference shares no code or representation with ringlog: no circular
 * buffer, no incremental offset counters, no cursor positions. It states the
 * promises of ringlog.h directly — a record's offsets are the prefix sums of
 * all earlier records of its stream, the ring holds the most recent records
 * that fit, a gap is the difference between what a reader had and what is
 * still there — and every reply of ringlog is compared with it, field by
 * field and byte by byte.
 *
 * The operations are decoded from a byte string, so the same driver serves
 * this test (bytes from a seeded PRNG) and tests/fuzz/fuzz_ringlog.c (bytes
 * from libFuzzer), which includes this file with RINGLOG_MODEL_NO_MAIN. */
#include "ringlog/ringlog.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define M_HDR	  RINGLOG_HEADER_SIZE
#define M_CURSORS 4
/* Keeps one run's memory bounded whatever the input says. */
#define M_MAX_RECORDS (1u << 19)

/* --- the reference --- */

struct m_rec {
	uint64_t before[RINGLOG_STREAMS]; /* bytes of each stream written before it */
	struct ringlog_stamp when;
	uint32_t len;
	uint8_t stream;
};

struct model {
	size_t cap;
	size_t max_record;
	struct m_rec *rec; /* every record ever written; index = seq */
	size_t n;
	size_t alloc;
	size_t tail; /* first retained record */
	size_t used;
	uint64_t total[RINGLOG_STREAMS];
	size_t resv; /* open reservation's size; 0: none */
	uint8_t resv_stream;
};

/* A reader in the reference: a place in the record sequence, or a place in
 * overwritten history described only by what the seek call knew. */
struct m_cur {
	bool lost;
	uint64_t seq;
	uint32_t skip;
	unsigned mask;
	uint64_t lost_off[RINGLOG_STREAMS];
};

/* Payload bytes are a function of where they are, so the reference never
 * stores them and any misplaced byte is noticed. */
static unsigned char m_byte(uint64_t seq, unsigned stream, uint64_t i)
{
	uint64_t x = seq * 0x9e3779b97f4a7c15ULL ^ (i + 1) * 0xbf58476d1ce4e5b9ULL ^ stream;

	x ^= x >> 31;
	x *= 0x94d049bb133111ebULL;
	return (unsigned char)(x >> 56);
}

static uint64_t m_before(const struct model *m, uint64_t seq, unsigned s)
{
	return seq < m->n ? m->rec[seq].before[s] : m->total[s];
}

/* The offset of the first retained byte of stream s. */
static uint64_t m_first_off(const struct model *m, unsigned s)
{
	return m_before(m, m->tail, s);
}

static void m_make_room(struct model *m, size_t need)
{
	while (m->cap - m->used < need)
		m->used -= M_HDR + m->rec[m->tail++].len;
}

static bool m_push(struct model *m, unsigned stream, size_t len, struct ringlog_stamp when)
{
	struct m_rec *r;

	if (m->n == m->alloc) {
		size_t alloc = m->alloc ? 2 * m->alloc : 64;
		struct m_rec *p = realloc(m->rec, alloc * sizeof(*p));

		if (!p)
			return false;
		m->rec = p;
		m->alloc = alloc;
	}
	m_make_room(m, M_HDR + len);
	r = &m->rec[m->n++];
	memcpy(r->before, m->total, sizeof(r->before));
	r->when = when;
	r->len = (uint32_t)len;
	r->stream = (uint8_t)stream;
	m->total[stream] += len;
	m->used += M_HDR + len;
	return true;
}

/* The next byte of each stream for a reader at (seq, skip). */
static uint64_t m_cur_off(const struct model *m, const struct m_cur *c, unsigned s)
{
	uint64_t off = m_before(m, c->seq, s);

	if (c->seq < m->n && m->rec[c->seq].stream == s)
		off += c->skip;
	return off;
}

static void m_gap(const struct model *m, const struct m_cur *c, struct ringlog_gap *g)
{
	g->from_seq = c->seq;
	g->to_seq = m->tail;
	for (unsigned s = 0; s < RINGLOG_STREAMS; s++) {
		uint64_t from = c->lost ? c->lost_off[s] : m_cur_off(m, c, s);

		/* The only unknown a reader may be spared: a stream that never
		 * lost a byte lost none of it. */
		if (from == RINGLOG_UNKNOWN && m_first_off(m, s) == 0)
			from = 0;
		g->from_off[s] = from;
		g->to_off[s] = m_first_off(m, s);
	}
}

static int m_peek(const struct model *m, struct m_cur *c, struct ringlog_chunk *ch,
		  struct ringlog_gap *g)
{
	if (c->lost || c->seq < m->tail) {
		bool lost = false;

		m_gap(m, c, g);
		for (unsigned s = 0; s < RINGLOG_STREAMS; s++)
			if ((c->mask >> s & 1) && g->from_off[s] != g->to_off[s])
				lost = true;
		c->lost = false;
		c->seq = m->tail;
		c->skip = 0;
		if (lost)
			return RINGLOG_GAP;
	}
	while (c->seq < m->n && !(c->mask >> m->rec[c->seq].stream & 1)) {
		c->seq++;
		c->skip = 0;
	}
	if (c->seq == m->n)
		return RINGLOG_EMPTY;
	const struct m_rec *r = &m->rec[c->seq];
	ch->seq = c->seq;
	ch->stream = r->stream;
	ch->off = r->before[r->stream] + c->skip;
	ch->when = r->when;
	ch->rec_len = r->len;
	ch->start = c->skip;
	ch->len = r->len - c->skip;
	return RINGLOG_DATA;
}

static int m_consume(const struct model *m, struct m_cur *c, size_t n)
{
	if (c->lost || c->seq < m->tail || c->seq >= m->n)
		return -EINVAL;
	const struct m_rec *r = &m->rec[c->seq];
	if (!(c->mask >> r->stream & 1) || n > r->len - c->skip)
		return -EINVAL;
	c->skip += (uint32_t)n;
	if (c->skip == r->len) {
		c->seq++;
		c->skip = 0;
	}
	return 0;
}

/* --- the driver --- */

/* How often the interesting cases came up, so a test can insist they did. */
struct m_counts {
	uint64_t ops;
	uint64_t data;
	uint64_t empty;
	uint64_t gaps;
	uint64_t gaps_unknown;
	uint64_t wrapped_reads;
	uint64_t wrapped_reserves;
	uint64_t splits;
	uint64_t refused;
};

struct driver {
	const uint8_t *in;
	size_t len;
	size_t at;
	uint64_t op;
	uint64_t clock;
	struct ringlog *r;
	struct model m;
	struct ringlog_cursor cur[M_CURSORS];
	struct m_cur mc[M_CURSORS];
	unsigned char *buf; /* payload staging and read target */
	size_t buf_size;
	bool failed;
	bool quiet; /* for the tests that make it fail on purpose */
	struct m_counts n;
};

static void fail(struct driver *d, const char *fmt, ...)
{
	va_list ap;

	if (d->failed)
		return;
	d->failed = true;
	if (d->quiet)
		return;
	fprintf(stderr, "ringlog model: op %llu (input byte %zu, capacity %zu, max_record %zu): ",
		(unsigned long long)d->op, d->at, d->m.cap, d->m.max_record);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

#define EXPECT_EQ(d, what, got, want)                                                              \
	do {                                                                                       \
		unsigned long long got_ = (unsigned long long)(got);                               \
		unsigned long long want_ = (unsigned long long)(want);                             \
		if (got_ != want_)                                                                 \
			fail(d, "%s: ringlog %llu, model %llu (line %d)", what, got_, want_,       \
			     __LINE__);                                                            \
	} while (0)

static unsigned next_u8(struct driver *d)
{
	return d->at < d->len ? d->in[d->at++] : 0;
}

static unsigned next_u16(struct driver *d)
{
	unsigned lo = next_u8(d);

	return lo | next_u8(d) << 8;
}

static unsigned pick_stream(struct driver *d)
{
	static const unsigned streams[4] = {RINGLOG_STDOUT, RINGLOG_STDERR, RINGLOG_PTY, 7};

	return streams[next_u8(d) & 3];
}

static unsigned pick_mask(struct driver *d)
{
	unsigned b = next_u8(d);

	return b ? b : RINGLOG_ALL;
}

static struct ringlog_stamp tick(struct driver *d)
{
	d->clock += 1 + next_u8(d);
	return (struct ringlog_stamp){.boot_ns = (int64_t)d->clock,
				      .real_ns = (int64_t)(d->clock * 7919) - 5000};
}

static void compare_stats(struct driver *d)
{
	struct ringlog_stats st;
	const struct model *m = &d->m;

	ringlog_get_stats(d->r, &st);
	EXPECT_EQ(d, "capacity", st.capacity, m->cap);
	EXPECT_EQ(d, "max_record", st.max_record, m->max_record);
	EXPECT_EQ(d, "used", st.used, m->used);
	EXPECT_EQ(d, "first_seq", st.first_seq, m->tail);
	EXPECT_EQ(d, "next_seq", st.next_seq, m->n);
	EXPECT_EQ(d, "reserved", st.reserved, m->resv != 0);
	/* ringlog.h's fill guarantee, once anything has been dropped */
	if (m->tail > 0 && m->used + 2 * (M_HDR + m->max_record) <= m->cap)
		fail(d, "a wrapped ring holds only %zu of %zu bytes", m->used, m->cap);
	for (unsigned s = 0; s < RINGLOG_STREAMS; s++) {
		EXPECT_EQ(d, "first_off", st.first_off[s], m_first_off(m, s));
		EXPECT_EQ(d, "next_off", st.next_off[s], m->total[s]);
	}
}

/* Stages len bytes as append would split them: chunk k becomes seq n+k. */
static void stage_append(struct driver *d, unsigned stream, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		size_t k = i / d->m.max_record;

		d->buf[i] = m_byte(d->m.n + k, stream, i - k * d->m.max_record);
	}
}

static void op_append(struct driver *d, size_t len)
{
	unsigned stream = pick_stream(d);
	struct ringlog_stamp when = tick(d);
	int want = d->m.resv ? -EBUSY : 0;

	if (len > d->buf_size)
		len = d->buf_size;
	stage_append(d, stream, len);
	EXPECT_EQ(d, "append rc", ringlog_append(d->r, stream, d->buf, len, when), want);
	if (want)
		return;
	d->n.splits += len > d->m.max_record;
	for (size_t done = 0; done < len;) {
		size_t n = len - done < d->m.max_record ? len - done : d->m.max_record;

		if (!m_push(&d->m, stream, n, when)) {
			fail(d, "out of memory");
			return;
		}
		done += n;
	}
}

/* Fills the whole span, not just what will be committed, so a span that
 * overlapped live data would show up as corrupt reads later. */
static void fill_span(struct driver *d, const struct iovec iov[2], unsigned stream)
{
	size_t i = 0;

	for (int k = 0; k < 2; k++)
		for (size_t j = 0; j < iov[k].iov_len; j++, i++)
			((unsigned char *)iov[k].iov_base)[j] = m_byte(d->m.n, stream, i);
}

static void op_reserve(struct driver *d)
{
	unsigned stream = pick_stream(d);
	size_t want = next_u16(d) % (d->m.max_record + 8);
	struct iovec iov[2];
	ssize_t got = ringlog_reserve(d->r, stream, want, iov);

	if (want == 0) {
		EXPECT_EQ(d, "reserve 0", got, -EINVAL);
		return;
	}
	size_t span = want < d->m.max_record ? want : d->m.max_record;
	EXPECT_EQ(d, "reserve size", got, span);
	if (got < 0)
		return;
	EXPECT_EQ(d, "reserve iov", iov[0].iov_len + iov[1].iov_len, span);
	if (iov[0].iov_len + iov[1].iov_len != span)
		return;
	d->n.wrapped_reserves += iov[1].iov_len > 0;
	m_make_room(&d->m, M_HDR + span);
	d->m.resv = span;
	d->m.resv_stream = (uint8_t)stream;
	fill_span(d, iov, stream);
}

static void op_commit(struct driver *d)
{
	size_t n = next_u16(d) % (d->m.max_record + 2);
	struct ringlog_stamp when = tick(d);
	int rc = ringlog_commit(d->r, n, when);

	if (!d->m.resv || n > d->m.resv) {
		EXPECT_EQ(d, "bad commit", rc, -EINVAL);
		return;
	}
	EXPECT_EQ(d, "commit", rc, 0);
	if (n && !m_push(&d->m, d->m.resv_stream, n, when))
		fail(d, "out of memory");
	d->m.resv = 0;
}

static void op_cancel(struct driver *d)
{
	ringlog_cancel(d->r);
	d->m.resv = 0;
}

static void compare_gap(struct driver *d, const struct ringlog_gap *got,
			const struct ringlog_gap *want)
{
	EXPECT_EQ(d, "gap from_seq", got->from_seq, want->from_seq);
	EXPECT_EQ(d, "gap to_seq", got->to_seq, want->to_seq);
	for (unsigned s = 0; s < RINGLOG_STREAMS; s++) {
		EXPECT_EQ(d, "gap from_off", got->from_off[s], want->from_off[s]);
		EXPECT_EQ(d, "gap to_off", got->to_off[s], want->to_off[s]);
	}
}

static void compare_chunk(struct driver *d, const struct ringlog_chunk *got,
			  const struct ringlog_chunk *want)
{
	EXPECT_EQ(d, "chunk seq", got->seq, want->seq);
	EXPECT_EQ(d, "chunk stream", got->stream, want->stream);
	EXPECT_EQ(d, "chunk off", got->off, want->off);
	EXPECT_EQ(d, "chunk boot_ns", got->when.boot_ns, want->when.boot_ns);
	EXPECT_EQ(d, "chunk real_ns", got->when.real_ns, want->when.real_ns);
	EXPECT_EQ(d, "chunk rec_len", got->rec_len, want->rec_len);
	EXPECT_EQ(d, "chunk start", got->start, want->start);
}

static void compare_bytes(struct driver *d, const struct ringlog_chunk *ch, const void *p0,
			  size_t n0, const void *p1, size_t n1)
{
	for (size_t i = 0; i < n0 + n1; i++) {
		unsigned char got =
		    i < n0 ? ((const unsigned char *)p0)[i] : ((const unsigned char *)p1)[i - n0];

		if (got != m_byte(ch->seq, ch->stream, ch->start + i)) {
			fail(d, "byte %zu of seq %llu differs", ch->start + i,
			     (unsigned long long)ch->seq);
			return;
		}
	}
}

/* Returns the status both agreed on (or -1 after a mismatch). */
static void count_status(struct driver *d, int rc, const struct ringlog_gap *g)
{
	if (rc == RINGLOG_DATA)
		d->n.data++;
	else if (rc == RINGLOG_EMPTY)
		d->n.empty++;
	else if (rc == RINGLOG_GAP) {
		d->n.gaps++;
		if (g->from_seq == RINGLOG_UNKNOWN || ringlog_gap_bytes(g, 0) == RINGLOG_UNKNOWN)
			d->n.gaps_unknown++;
	}
}

static int op_read(struct driver *d, unsigned k, size_t size)
{
	struct ringlog_chunk got, want;
	struct ringlog_gap ggot, gwant;
	int rc, mrc;

	if (size > d->buf_size)
		size = d->buf_size;
	rc = ringlog_read(d->r, &d->cur[k], d->buf, size, &got, &ggot);
	mrc = m_peek(&d->m, &d->mc[k], &want, &gwant);
	EXPECT_EQ(d, "read status", rc, mrc);
	if (rc != mrc)
		return -1;
	count_status(d, rc, &gwant);
	if (rc == RINGLOG_GAP)
		compare_gap(d, &ggot, &gwant);
	if (rc != RINGLOG_DATA)
		return rc;
	if (want.len > size)
		want.len = (uint32_t)size;
	EXPECT_EQ(d, "read len", got.len, want.len);
	compare_chunk(d, &got, &want);
	compare_bytes(d, &got, d->buf, got.len, NULL, 0);
	EXPECT_EQ(d, "model consume", m_consume(&d->m, &d->mc[k], want.len), 0);
	return rc;
}

static void op_peek_consume(struct driver *d, unsigned k)
{
	struct ringlog_chunk got, want;
	struct ringlog_gap ggot, gwant;
	struct iovec iov[2];
	int rc = ringlog_peek(d->r, &d->cur[k], &got, iov, &ggot);
	int mrc = m_peek(&d->m, &d->mc[k], &want, &gwant);
	size_t n;

	EXPECT_EQ(d, "peek status", rc, mrc);
	if (rc != mrc)
		return;
	count_status(d, rc, &gwant);
	if (rc == RINGLOG_GAP)
		compare_gap(d, &ggot, &gwant);
	if (rc == RINGLOG_DATA) {
		d->n.wrapped_reads += iov[1].iov_len > 0;
		EXPECT_EQ(d, "peek len", got.len, want.len);
		EXPECT_EQ(d, "peek iov", iov[0].iov_len + iov[1].iov_len, want.len);
		compare_chunk(d, &got, &want);
		if (d->failed)
			return;
		compare_bytes(d, &got, iov[0].iov_base, iov[0].iov_len, iov[1].iov_base,
			      iov[1].iov_len);
	}
	/* Sometimes more than is left, to check the refusal. */
	n = next_u16(d) % (d->m.max_record + 2);
	EXPECT_EQ(d, "consume", ringlog_consume(d->r, &d->cur[k], n),
		  m_consume(&d->m, &d->mc[k], n));
}

static void op_drain(struct driver *d, unsigned k, size_t size)
{
	int rc;

	do
		rc = op_read(d, k, size);
	while (rc > 0 && !d->failed);
}

static void m_seek_at(struct m_cur *c, unsigned mask, uint64_t seq)
{
	memset(c, 0, sizeof(*c));
	c->mask = mask;
	c->seq = seq;
}

static void m_seek_lost(struct m_cur *c, unsigned mask, uint64_t seq)
{
	m_seek_at(c, mask, seq);
	c->lost = true;
	for (unsigned s = 0; s < RINGLOG_STREAMS; s++)
		c->lost_off[s] = RINGLOG_UNKNOWN;
}

static void op_seek_ends(struct driver *d, unsigned k, bool newest)
{
	unsigned mask = pick_mask(d);
	int rc = newest ? ringlog_seek_newest(d->r, &d->cur[k], mask)
			: ringlog_seek_oldest(d->r, &d->cur[k], mask);

	EXPECT_EQ(d, "seek end", rc, 0);
	m_seek_at(&d->mc[k], mask, newest ? d->m.n : d->m.tail);
}

static void op_seek_seq(struct driver *d, unsigned k)
{
	unsigned mask = pick_mask(d);
	uint64_t back = d->m.n - d->m.tail + 4;
	uint64_t seq = d->m.n + 1 - next_u16(d) % (back + 1);
	int rc;

	if (seq > d->m.n + 1) /* wrapped below zero */
		seq = next_u8(d) & 1 ? 0 : d->m.n + 5;
	rc = ringlog_seek_seq(d->r, &d->cur[k], mask, seq);
	if (seq > d->m.n) {
		EXPECT_EQ(d, "seek_seq past head", rc, -ERANGE);
		return; /* the cursor is unchanged: keep the model's too */
	}
	EXPECT_EQ(d, "seek_seq", rc, 0);
	if (seq < d->m.tail)
		m_seek_lost(&d->mc[k], mask, seq);
	else
		m_seek_at(&d->mc[k], mask, seq);
}

/* The reference finds the record holding off by scanning the full history
 * of prefix sums, not by walking a ring. */
static void m_seek_offset(const struct model *m, struct m_cur *c, unsigned s, uint64_t off)
{
	if (off < m_first_off(m, s)) {
		m_seek_lost(c, RINGLOG_MASK(s), RINGLOG_UNKNOWN);
		c->lost_off[s] = off;
		return;
	}
	m_seek_at(c, RINGLOG_MASK(s), m->n);
	for (size_t i = m->tail; i < m->n; i++) {
		const struct m_rec *r = &m->rec[i];

		if (r->stream == s && off < r->before[s] + r->len) {
			c->seq = i;
			c->skip = (uint32_t)(off - r->before[s]);
			return;
		}
	}
}

static void op_seek_offset(struct driver *d, unsigned k)
{
	unsigned s = pick_stream(d);
	uint64_t lo = m_first_off(&d->m, s), hi = d->m.total[s];
	uint64_t span = hi - lo + 8;
	uint64_t off = hi + 1 - next_u16(d) % (span + 1);
	int rc;

	if (off > hi + 1)
		off = next_u8(d) & 1 ? 0 : hi + 3;
	rc = ringlog_seek_offset(d->r, &d->cur[k], s, off);
	if (off > hi) {
		EXPECT_EQ(d, "seek_offset past head", rc, -ERANGE);
		return;
	}
	EXPECT_EQ(d, "seek_offset", rc, 0);
	m_seek_offset(&d->m, &d->mc[k], s, off);
}

/* Calls that must be refused; compare_stats afterwards shows nothing moved. */
static void op_misuse(struct driver *d, unsigned k)
{
	struct ringlog_chunk ch;
	struct iovec iov[2];

	switch (next_u8(d) % 6) {
	case 0:
		EXPECT_EQ(d, "bad stream", ringlog_append(d->r, RINGLOG_STREAMS, "x", 1, tick(d)),
			  -EINVAL);
		break;
	case 1:
		EXPECT_EQ(d, "null data", ringlog_append(d->r, 0, NULL, 1, tick(d)), -EINVAL);
		break;
	case 2:
		EXPECT_EQ(d, "zero mask", ringlog_seek_oldest(d->r, &d->cur[k], 0), -EINVAL);
		break;
	case 3:
		EXPECT_EQ(d, "bad reserve", ringlog_reserve(d->r, RINGLOG_STREAMS, 8, iov),
			  -EINVAL);
		break;
	case 4:
		EXPECT_EQ(d, "zero read", ringlog_read(d->r, &d->cur[k], d->buf, 0, &ch, NULL),
			  -EINVAL);
		break;
	default:
		EXPECT_EQ(d, "null chunk", ringlog_peek(d->r, &d->cur[k], NULL, iov, NULL),
			  -EINVAL);
		break;
	}
	d->n.refused++;
}

static void run_op(struct driver *d)
{
	unsigned op = next_u8(d);
	unsigned k = op >> 5 & (M_CURSORS - 1);
	size_t max = d->m.max_record;

	switch (op & 31) {
	case 0 ... 5:
		op_append(d, 1 + next_u16(d) % max);
		break;
	case 6:
		op_append(d, next_u16(d) % (3 * max + 2));
		break;
	case 7:
		/* empty, or enough to overwrite the whole ring at once */
		op_append(d, (next_u8(d) & 1) ? 0 : d->m.cap + max);
		break;
	case 8 ... 11:
		op_reserve(d);
		op_commit(d);
		break;
	case 12:
		op_reserve(d);
		break;
	case 13:
		op_commit(d);
		break;
	case 14:
		op_cancel(d);
		break;
	case 15 ... 20:
		op_read(d, k, 1 + next_u16(d) % (max + 8));
		break;
	case 21 ... 22:
		op_peek_consume(d, k);
		break;
	case 23:
		op_drain(d, k, 1 + next_u16(d) % (max + 8));
		break;
	case 24:
	case 25:
		op_seek_ends(d, k, op & 1);
		break;
	case 26 ... 27:
		op_seek_seq(d, k);
		break;
	case 28 ... 29:
		op_seek_offset(d, k);
		break;
	default:
		op_misuse(d, k);
		break;
	}
}

static const size_t model_capacities[] = {64, 65, 100, 128, 200, 255, 256, 257, 1000, 1024, 4099};

static bool driver_setup(struct driver *d)
{
	size_t ncap = sizeof(model_capacities) / sizeof(model_capacities[0]);
	size_t cap = model_capacities[next_u8(d) % ncap];
	unsigned b = next_u16(d);
	size_t max_record = (b & 3) == 0 ? 0 : 1 + (b >> 2) % (cap - M_HDR);
	int rc = ringlog_create(&d->r, NULL, cap, max_record);

	if (rc) {
		fail(d, "create(%zu, %zu) = %d", cap, max_record, rc);
		return false;
	}
	d->m.cap = cap;
	d->m.max_record = max_record ? max_record : (cap / 4 < 65536 ? cap / 4 : 65536);
	d->buf_size = cap + 3 * d->m.max_record + 8;
	d->buf = malloc(d->buf_size);
	if (!d->buf) {
		fail(d, "out of memory");
		return false;
	}
	for (unsigned k = 0; k < M_CURSORS; k++) {
		ringlog_seek_oldest(d->r, &d->cur[k], RINGLOG_ALL);
		m_seek_at(&d->mc[k], RINGLOG_ALL, 0);
	}
	return true;
}

static void add_counts(struct m_counts *to, const struct m_counts *from)
{
	to->ops += from->ops;
	to->data += from->data;
	to->empty += from->empty;
	to->gaps += from->gaps;
	to->gaps_unknown += from->gaps_unknown;
	to->wrapped_reads += from->wrapped_reads;
	to->wrapped_reserves += from->wrapped_reserves;
	to->splits += from->splits;
	to->refused += from->refused;
}

/* Runs the operations encoded in data; returns false (after printing why) at
 * the first disagreement. Adds what happened to *counts, if given. */
static bool model_run(const uint8_t *data, size_t len, struct m_counts *counts)
{
	struct driver d = {.in = data, .len = len};

	if (driver_setup(&d)) {
		while (d.at < d.len && !d.failed && d.m.n < M_MAX_RECORDS) {
			run_op(&d);
			compare_stats(&d);
			d.op++;
		}
		d.n.ops = d.op;
		/* Every reader must end exactly where the reference says. */
		for (unsigned k = 0; k < M_CURSORS && !d.failed; k++)
			op_drain(&d, k, d.buf_size);
	}
	if (counts)
		add_counts(counts, &d.n);
	ringlog_destroy(d.r);
	free(d.m.rec);
	free(d.buf);
	return !d.failed;
}

#ifndef RINGLOG_MODEL_NO_MAIN
#include "tests/unit/check.h"

static uint64_t splitmix(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static struct m_counts seen;

static void random_bytes(uint8_t *p, size_t n, uint64_t seed)
{
	for (size_t i = 0; i + 8 <= n; i += 8) {
		uint64_t x = splitmix(&seed);
		memcpy(p + i, &x, 8);
	}
}

/* Random byte strings, each one run: about 5 million operations. */
static void test_random_sequences_match_reference(void)
{
	static uint8_t bytes[48 * 1024];
	uint64_t seed = 0x72696e67ULL;

	for (int run = 0; run < 400; run++) {
		uint64_t run_seed = splitmix(&seed);
		uint64_t s = run_seed;
		random_bytes(bytes, sizeof(bytes), s);
		if (!model_run(bytes, sizeof(bytes), &seen)) {
			printf("  seed %#llx failed\n", (unsigned long long)run_seed);
			CHECK(!"ringlog disagrees with the reference model");
			return;
		}
	}
	CHECK(seen.ops > 4000000);
	/* every kind of event the reference judges must actually have happened */
	CHECK(seen.data > 100000);
	CHECK(seen.empty > 1000);
	CHECK(seen.gaps > 1000);
	CHECK(seen.gaps_unknown > 100);
	CHECK(seen.wrapped_reads > 1000);
	CHECK(seen.wrapped_reserves > 1000);
	CHECK(seen.splits > 1000);
	CHECK(seen.refused > 1000);
}

/* The checks themselves must bite, or the test above proves nothing. */
static void test_model_notices_a_corrupted_byte(void)
{
	uint8_t bytes[256];
	struct driver d = {.in = bytes, .len = sizeof(bytes), .quiet = true};
	struct ringlog_cursor spy;
	struct ringlog_chunk ch;
	struct iovec iov[2];

	random_bytes(bytes, sizeof(bytes), 1);
	bytes[0] = 2; /* capacity 100 */
	CHECK(driver_setup(&d));
	op_append(&d, 10);
	CHECK_EQ_INT(ringlog_seek_oldest(d.r, &spy, RINGLOG_ALL), 0);
	CHECK_EQ_INT(ringlog_peek(d.r, &spy, &ch, iov, NULL), RINGLOG_DATA);
	((unsigned char *)iov[0].iov_base)[ch.len / 2] ^= 0x20;
	op_drain(&d, 0, 64);
	CHECK(d.failed);
	ringlog_destroy(d.r);
	free(d.m.rec);
	free(d.buf);
}

static void test_model_notices_a_reader_out_of_place(void)
{
	uint8_t bytes[256];
	struct driver d = {.in = bytes, .len = sizeof(bytes), .quiet = true};

	random_bytes(bytes, sizeof(bytes), 2);
	bytes[0] = 8; /* capacity 1000 */
	CHECK(driver_setup(&d));
	for (int i = 0; i < 3; i++)
		op_append(&d, 5);
	d.mc[1].seq = 1; /* the reference's reader skips a record the ring's does not */
	op_drain(&d, 1, 64);
	CHECK(d.failed);
	ringlog_destroy(d.r);
	free(d.m.rec);
	free(d.buf);
}

int main(void)
{
	RUN(test_random_sequences_match_reference);
	RUN(test_model_notices_a_corrupted_byte);
	RUN(test_model_notices_a_reader_out_of_place);
	printf("model: %llu operations: %llu data, %llu empty, %llu gaps (%llu with unknowns), "
	       "%llu wrapped reads, %llu wrapped reservations, %llu split writes, %llu refused\n",
	       (unsigned long long)seen.ops, (unsigned long long)seen.data,
	       (unsigned long long)seen.empty, (unsigned long long)seen.gaps,
	       (unsigned long long)seen.gaps_unknown, (unsigned long long)seen.wrapped_reads,
	       (unsigned long long)seen.wrapped_reserves, (unsigned long long)seen.splits,
	       (unsigned long long)seen.refused);
	return check_summary();
}
#endif
