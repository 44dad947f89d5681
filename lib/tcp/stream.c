#include "tcp/stream.h"

#include <string.h>

#include "tcp/block_pool.h"
#include "wire/tcp_seq.h"

_Static_assert(sizeof(struct stream_dir) <= 32, "struct stream_dir must stay within 32 bytes");
_Static_assert(STREAM_RING_MAX <= UINT16_MAX + 1u, "ring offsets are uint16_t");

#define F_HOLD 0x01
#define F_FIN 0x02 /* the FIN is in order: it sits at next_seq */
#define F_STOPPED 0x04
#define F_PASSTHROUGH 0x08

/* No TCP window reaches 2^30 (RFC 7323 2.3); a longer segment is bogus and
 * would break the 2^31 limit of sequence comparisons. */
#define SEGMENT_MAX (1u << 30)

static const char *const verdict_names[] = {
#define STREAM_VERDICT_NAME(sym, name, desc, action) [STREAM_##sym] = name,
    STREAM_VERDICTS(STREAM_VERDICT_NAME)
#undef STREAM_VERDICT_NAME
};

static const char *const verdict_descriptions[] = {
#define STREAM_VERDICT_DESC(sym, name, desc, action) [STREAM_##sym] = desc,
    STREAM_VERDICTS(STREAM_VERDICT_DESC)
#undef STREAM_VERDICT_DESC
};

static const enum stream_action verdict_actions[] = {
#define STREAM_VERDICT_ACTION(sym, name, desc, action) [STREAM_##sym] = STREAM_ACTION_##action,
    STREAM_VERDICTS(STREAM_VERDICT_ACTION)
#undef STREAM_VERDICT_ACTION
};

const char *stream_verdict_name(enum stream_verdict verdict)
{
	return (unsigned)verdict < STREAM_VERDICT_COUNT ? verdict_names[verdict] : "unknown";
}

const char *stream_verdict_description(enum stream_verdict verdict)
{
	return (unsigned)verdict < STREAM_VERDICT_COUNT ? verdict_descriptions[verdict]
	                                                : "unknown verdict";
}

enum stream_action stream_verdict_action(enum stream_verdict verdict)
{
	return (unsigned)verdict < STREAM_VERDICT_COUNT ? verdict_actions[verdict]
	                                                : STREAM_ACTION_FAIL_OPEN;
}

/* The ring: a power of two so that a byte's place is its sequence number
 * modulo the size, which stays right across the 2^32 wrap. */
static uint32_t ring_size(const struct block_pool *pool)
{
	uint32_t size = block_pool_block_size(pool);

	if (size > STREAM_RING_MAX)
		size = STREAM_RING_MAX;
	return 1u << (31 - __builtin_clz(size));
}

static void ring_write(uint8_t *ring, uint32_t size, uint32_t seq, const uint8_t *src, uint32_t len)
{
	uint32_t pos = seq & (size - 1);
	uint32_t first = size - pos < len ? size - pos : len;

	memcpy(ring + pos, src, first);
	memcpy(ring, src + first, len - first);
}

static bool ring_equal(const uint8_t *ring, uint32_t size, uint32_t seq, const uint8_t *src,
                       uint32_t len)
{
	uint32_t pos = seq & (size - 1);
	uint32_t first = size - pos < len ? size - pos : len;

	return memcmp(ring + pos, src, first) == 0 && memcmp(ring, src + first, len - first) == 0;
}

static void put_block_if_empty(struct stream_dir *d, struct block_pool *pool)
{
	if (d->held == 0 && d->n_ooo == 0 && d->block != BLOCK_POOL_NONE) {
		block_pool_put(pool, d->block);
		d->block = BLOCK_POOL_NONE;
	}
}

static void stop_tracking(struct stream_dir *d, struct block_pool *pool)
{
	block_pool_put(pool, d->block);
	d->block = BLOCK_POOL_NONE;
	d->held = 0;
	d->n_ooo = 0;
	d->fin_off = 0;
	d->flags |= F_PASSTHROUGH;
}

static bool has_block(struct stream_dir *d, struct block_pool *pool)
{
	if (d->block == BLOCK_POOL_NONE)
		d->block = block_pool_get(pool);
	return d->block != BLOCK_POOL_NONE;
}

static bool fin_known(const struct stream_dir *d)
{
	return (d->flags & F_FIN) || d->fin_off;
}

/* Calls deliver unless delivery stopped; records a stop. */
static void deliver_bytes(struct stream_dir *d, stream_deliver_fn *deliver, void *arg, uint32_t seq,
                          const uint8_t *data, uint32_t len)
{
	if (!deliver || len == 0 || (d->flags & F_STOPPED))
		return;
	if (!deliver(arg, seq, data, len))
		d->flags |= F_STOPPED;
}

/* next_seq moved forward by `by`: rebase the ranges (those now covered go,
 * one now reached starts at 0) and the pending FIN. */
static void advance(struct stream_dir *d, uint32_t by)
{
	unsigned k = 0;

	d->next_seq += by;
	for (unsigned i = 0; i < d->n_ooo; i++) {
		struct stream_range r = d->ooo[i];

		if (r.end <= by)
			continue;
		r.start = r.start > by ? (uint16_t)(r.start - by) : 0;
		r.end = (uint16_t)(r.end - by);
		d->ooo[k++] = r;
	}
	d->n_ooo = (uint8_t)k;
	if (d->fin_off) {
		if (d->fin_off <= by) {
			d->fin_off = 0;
			d->flags |= F_FIN;
		} else {
			d->fin_off = (uint16_t)(d->fin_off - by);
		}
	}
}

/* Deliver the ranges that became contiguous; their bytes are already in the
 * ring, in place, so with holding on they simply become held copies. */
static void deliver_ready_ranges(struct stream_dir *d, struct block_pool *pool, uint32_t size,
                                 stream_deliver_fn *deliver, void *arg)
{
	while (d->n_ooo && d->ooo[0].start == 0) {
		const uint8_t *ring = block_pool_data(pool, d->block);
		uint32_t len = d->ooo[0].end, seq = d->next_seq;
		uint32_t pos = seq & (size - 1);
		uint32_t first = size - pos < len ? size - pos : len;

		deliver_bytes(d, deliver, arg, seq, ring + pos, first);
		deliver_bytes(d, deliver, arg, seq + first, ring, len - first);
		/* Re-read the flag: the callback may have changed it. */
		d->held = (d->flags & F_HOLD) ? (uint16_t)(d->held + len) : 0;
		advance(d, len);
	}
}

/* The ranges after adding [start, end) (offsets from next_seq), merging
 * overlapping or touching ones; false when more than STREAM_OOO_RANGES. */
static bool ooo_merge(const struct stream_dir *d, uint32_t start, uint32_t end,
                      struct stream_range *out, uint8_t *n_out)
{
	unsigned k = 0;
	bool placed = false;

	for (unsigned i = 0; i < d->n_ooo; i++) {
		struct stream_range r = d->ooo[i];

		if (r.end < start) {
			out[k++] = r;
			continue;
		}
		if (r.start > end) {
			if (!placed) {
				if (k == STREAM_OOO_RANGES)
					return false;
				out[k++] = (struct stream_range){(uint16_t)start, (uint16_t)end};
				placed = true;
			}
			if (k == STREAM_OOO_RANGES)
				return false;
			out[k++] = r;
			continue;
		}
		start = r.start < start ? r.start : start;
		end = r.end > end ? r.end : end;
	}
	if (!placed) {
		if (k == STREAM_OOO_RANGES)
			return false;
		out[k++] = (struct stream_range){(uint16_t)start, (uint16_t)end};
	}
	*n_out = (uint8_t)k;
	return true;
}

/* A FIN-only segment (len 0) that passed the FIN checks. */
static enum stream_verdict lone_fin(struct stream_dir *d, struct block_pool *pool, uint32_t fin_seq,
                                    uint64_t window_end, uint32_t size)
{
	uint32_t n = d->next_seq, off = fin_seq - n;

	if (d->flags & F_FIN)
		return STREAM_RETRANSMIT;
	if (fin_seq == n) {
		/* In order: accepted even with the window closed, as Linux
		 * does; a different later copy at that place is a conflict. */
		d->flags |= F_FIN;
		d->fin_off = 0;
		put_block_if_empty(d, pool);
		return STREAM_IN_ORDER;
	}
	if (d->fin_off)
		return STREAM_RETRANSMIT; /* the same out-of-order FIN again */
	if (window_end != STREAM_WINDOW_UNKNOWN && seq_geq(fin_seq, (uint32_t)window_end))
		return STREAM_DROP_OUT_OF_WINDOW;
	if (off > size)
		return STREAM_DROP_OOO_FULL;
	d->fin_off = (uint16_t)off;
	return STREAM_OUT_OF_ORDER;
}

void stream_dir_init(struct stream_dir *d, uint32_t next_seq, bool hold)
{
	memset(d, 0, sizeof(*d));
	d->next_seq = next_seq;
	d->acked = next_seq;
	d->block = BLOCK_POOL_NONE;
	d->flags = hold ? F_HOLD : 0;
}

enum stream_verdict stream_dir_segment(struct stream_dir *d, struct block_pool *pool, uint32_t seq,
                                       const uint8_t *data, uint32_t len, bool fin,
                                       uint64_t window_end, stream_deliver_fn *deliver, void *arg)
{
	uint32_t n = d->next_seq, end = seq + len, size;
	uint32_t new_start, held_lo;
	bool verified = false, unverifiable = false, probe = false, was_stopped;
	const uint8_t *ring;

	if (d->flags & F_PASSTHROUGH)
		return STREAM_PASSTHROUGH;
	if (len >= SEGMENT_MAX)
		return STREAM_DROP_OUT_OF_WINDOW;
	if (len == 0 && !fin)
		return STREAM_EMPTY;
	size = ring_size(pool);
	ring = d->block != BLOCK_POOL_NONE ? block_pool_data(pool, d->block) : NULL;

	/* The end of the stream is a place in sequence space like a byte:
	 * once a FIN is known, a FIN elsewhere or data past it is a
	 * conflicting copy, unless it is an acknowledged old duplicate that
	 * the receiver ignores whole (RFC 9293 3.10.7.4). */
	if (fin) {
		if (fin_known(d) ? end != n + d->fin_off : seq_lt(end, n)) {
			if (!seq_lt(end, d->acked))
				return STREAM_DROP_CONFLICT;
			fin = false;
		} else if (!fin_known(d) && d->n_ooo && d->ooo[d->n_ooo - 1].end > end - n) {
			return STREAM_DROP_CONFLICT;
		}
	}
	if (len && fin_known(d) && seq_gt(end, n + d->fin_off))
		return STREAM_DROP_CONFLICT;
	if (len == 0)
		return fin ? lone_fin(d, pool, end, window_end, size) : STREAM_RETRANSMIT_ACKED;

	new_start = seq_gt(seq, n) ? seq : n;
	if (seq_gt(end, n) && window_end != STREAM_WINDOW_UNKNOWN &&
	    seq_geq(new_start, (uint32_t)window_end)) {
		/* A closed window: the receiver may or may not take a probe
		 * (its window may have opened unseen), so a one-byte probe
		 * is delivered and its copy kept; a different later copy is
		 * then a conflict whichever it did. Anything else there the
		 * receiver drops (RFC 9293 3.10.7.4; rule 3). */
		if (new_start != n || end - n != 1)
			return STREAM_DROP_OUT_OF_WINDOW;
		probe = true;
	}

	/* Bytes below next_seq: compare with the held copy; without one,
	 * acknowledged bytes pass (the receiver drops them unread), others
	 * make the view ambiguous (rule 1) unless a conflict shows first. */
	held_lo = n - d->held;
	if (seq_lt(seq, n)) {
		uint32_t old_end = seq_lt(end, n) ? end : n;
		uint32_t acked = seq_lt(d->acked, n) ? d->acked : n;
		uint32_t from = seq_max(seq, held_lo);
		uint32_t gap_from = seq_max(seq, acked);
		uint32_t gap_to = seq_lt(old_end, held_lo) ? old_end : held_lo;

		if (seq_lt(from, old_end)) {
			if (!ring_equal(ring, size, from, data + (from - seq), old_end - from))
				return STREAM_DROP_CONFLICT;
			verified = true;
		}
		unverifiable = seq_lt(gap_from, gap_to);
	}
	/* New bytes overlapping out-of-order copies must match them. */
	for (unsigned i = 0; i < d->n_ooo && seq_gt(end, n); i++) {
		uint32_t a = seq_max(new_start, n + d->ooo[i].start);
		uint32_t b = n + d->ooo[i].end;

		b = seq_lt(end, b) ? end : b;
		if (seq_lt(a, b) && !ring_equal(ring, size, a, data + (a - seq), b - a))
			return STREAM_DROP_CONFLICT;
	}
	if (unverifiable) {
		stop_tracking(d, pool);
		return STREAM_UNVERIFIABLE;
	}
	if (!seq_gt(end, n)) {
		if (fin && end == n && !(d->flags & F_FIN)) {
			d->flags |= F_FIN;
			return STREAM_IN_ORDER;
		}
		return verified ? STREAM_RETRANSMIT : STREAM_RETRANSMIT_ACKED;
	}

	if (seq_gt(seq, n)) {
		struct stream_range merged[STREAM_OOO_RANGES];
		uint8_t n_merged;

		/* Out of order: room must be left for the held copies, which
		 * are never evicted for it (a drop only delays; a lost copy
		 * can cost the inspection of the flow). */
		if (end - n > size - d->held ||
		    !ooo_merge(d, seq - n, end - n, merged, &n_merged) || !has_block(d, pool))
			return STREAM_DROP_OOO_FULL;
		ring_write(block_pool_data(pool, d->block), size, seq, data, len);
		memcpy(d->ooo, merged, sizeof(merged[0]) * n_merged);
		d->n_ooo = n_merged;
		if (fin)
			d->fin_off = (uint16_t)(end - n);
		return STREAM_OUT_OF_ORDER;
	}

	/* In order. Copy the new bytes first (the callback may stop or switch
	 * holding), keeping at most one ring: the oldest copies give way. All
	 * out-of-order ranges lie below held_lo + size, so when the segment
	 * reaches past that it covers them all and nothing live is
	 * overwritten. */
	was_stopped = d->flags & F_STOPPED;
	if (((d->flags & F_HOLD) || probe) && has_block(d, pool)) {
		uint32_t from;

		if (end - held_lo > size)
			held_lo = end - size;
		from = seq_max(n, held_lo);
		ring_write(block_pool_data(pool, d->block), size, from, data + (from - seq),
		           end - from);
		d->held = (uint16_t)(end - held_lo);
	} else {
		d->held = 0;
	}
	advance(d, end - n);
	deliver_bytes(d, deliver, arg, n, data + (n - seq), end - n);
	if (d->n_ooo)
		deliver_ready_ranges(d, pool, size, deliver, arg);
	if (fin)
		d->flags |= F_FIN;
	put_block_if_empty(d, pool);
	if (d->flags & F_STOPPED && !was_stopped)
		return STREAM_STOPPED;
	return probe ? STREAM_ZERO_WINDOW_PROBE : STREAM_IN_ORDER;
}

bool stream_dir_ack(struct stream_dir *d, struct block_pool *pool, uint32_t ack)
{
	uint32_t n = d->next_seq, held_lo = n - d->held, upto;

	if (d->flags & F_PASSTHROUGH)
		return true;
	if (seq_gt(ack, n + ((d->flags & F_FIN) ? 1 : 0))) {
		stop_tracking(d, pool);
		return false;
	}
	if (!seq_gt(ack, d->acked))
		return true;
	d->acked = ack;
	upto = seq_lt(ack, n) ? ack : n;
	if (seq_gt(upto, held_lo))
		d->held = (uint16_t)(d->held - (upto - held_lo));
	put_block_if_empty(d, pool);
	return true;
}

bool stream_dir_rewind(struct stream_dir *d, uint32_t seq, uint32_t seg_end)
{
	uint32_t n = d->next_seq;
	uint32_t back = n - seq;

	if (d->flags & F_PASSTHROUGH)
		return false;
	if (seq_gt(seq, seg_end) || seq_gt(seq, n) || seq_lt(seq, d->acked) ||
	    back >= STREAM_RING_MAX || d->n_ooo == STREAM_OOO_RANGES)
		return false;
	/* Bytes from seq on that were forwarded out of order would follow
	 * the segment's kept part into the receiver: too late to hold. */
	if (seq_lt(seg_end, n) && !seq_lt(seq, seg_end))
		return false;
	/* Rebase what lies ahead: the ranges still out of order, the pending
	 * FIN, then the bytes between seg_end and n (in the ring, forwarded
	 * out of order earlier) as one more range. */
	for (unsigned i = 0; i < d->n_ooo; i++) {
		d->ooo[i].start = (uint16_t)(d->ooo[i].start + back);
		d->ooo[i].end = (uint16_t)(d->ooo[i].end + back);
	}
	if (seq_lt(seg_end, n)) {
		memmove(d->ooo + 1, d->ooo, d->n_ooo * sizeof(d->ooo[0]));
		d->ooo[0] = (struct stream_range){(uint16_t)(seg_end - seq), (uint16_t)back};
		d->n_ooo++;
	}
	if (d->flags & F_FIN) {
		d->flags &= (uint8_t)~F_FIN;
		d->fin_off = (uint16_t)back;
	} else if (d->fin_off) {
		d->fin_off = (uint16_t)(d->fin_off + back);
	}
	d->held = d->held > back ? (uint16_t)(d->held - back) : 0;
	d->next_seq = seq;
	d->flags &= (uint8_t)~F_STOPPED;
	return true;
}

void stream_dir_set_hold(struct stream_dir *d, bool hold)
{
	if (hold)
		d->flags |= F_HOLD;
	else
		d->flags &= (uint8_t)~F_HOLD;
}

void stream_dir_release(struct stream_dir *d, struct block_pool *pool)
{
	stop_tracking(d, pool);
}

uint32_t stream_dir_next_seq(const struct stream_dir *d)
{
	return d->next_seq + ((d->flags & F_FIN) ? 1 : 0);
}

bool stream_dir_fin_reached(const struct stream_dir *d)
{
	return d->flags & F_FIN;
}

bool stream_dir_stopped(const struct stream_dir *d)
{
	return d->flags & F_STOPPED;
}

bool stream_dir_passthrough(const struct stream_dir *d)
{
	return d->flags & F_PASSTHROUGH;
}

uint32_t stream_dir_bytes_held(const struct stream_dir *d)
{
	uint32_t bytes = d->held;

	for (unsigned i = 0; i < d->n_ooo; i++)
		bytes += (uint32_t)(d->ooo[i].end - d->ooo[i].start);
	return bytes;
}
