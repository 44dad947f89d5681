/* Unit tests for lib/stream. Most behaviours run at initial sequence numbers
 * 0, 1, 2^31 and 2^32-1 (as Suricata's overlap tests do), so every rule is
 * also exercised across the 2^32 wrap. Every test ends by releasing its
 * streams and checking that the pool has every block back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tcp/block_pool.h"
#include "tcp/stream.h"

#define BLOCK 2048u
#define SINK_MAX (256u * 1024)

static const uint32_t isns[] = {0u, 1u, 0x80000000u, 0xffffffffu};
#define N_ISNS (sizeof(isns) / sizeof(isns[0]))

/* What the deliver callback received; it checks the contract as it goes. */
struct sink {
	uint8_t *buf;
	uint32_t len;
	uint32_t next; /* the seq the next call must carry */
	unsigned calls;
	unsigned stop_at; /* return false on this call (1-based); 0: never */
	unsigned calls_after_stop;
};

struct fx {
	struct block_pool *pool;
	struct stream_dir d;
	struct sink sink;
	uint32_t base;       /* ISN + 1: offset 0 of the stream */
	uint64_t window_end; /* passed with every segment */
};

static bool sink_deliver(void *arg, uint32_t seq, const uint8_t *data, uint32_t len)
{
	struct sink *s = arg;

	if (s->stop_at && s->calls >= s->stop_at)
		s->calls_after_stop++;
	assert_int_equal(seq, s->next);
	assert_true(len > 0);
	assert_true(s->len + len <= SINK_MAX);
	memcpy(s->buf + s->len, data, len);
	s->len += len;
	s->next = seq + len;
	s->calls++;
	return !(s->stop_at && s->calls == s->stop_at);
}

static void fx_start(struct fx *f, uint32_t isn, bool hold)
{
	f->base = isn + 1;
	f->window_end = STREAM_WINDOW_UNKNOWN;
	f->sink.len = 0;
	f->sink.calls = 0;
	f->sink.stop_at = 0;
	f->sink.calls_after_stop = 0;
	f->sink.next = f->base;
	stream_dir_init(&f->d, f->base, hold);
}

/* Release the direction and check that every block came back. */
static void fx_end(struct fx *f)
{
	stream_dir_release(&f->d, f->pool);
	assert_int_equal(block_pool_in_use(f->pool), 0);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	f->pool = block_pool_create(BLOCK, 8);
	f->sink.buf = malloc(SINK_MAX);
	if (!f->pool || !f->sink.buf)
		return -1;
	fx_start(f, 0, true);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	stream_dir_release(&f->d, f->pool);
	assert_int_equal(block_pool_in_use(f->pool), 0);
	block_pool_free(f->pool);
	free(f->sink.buf);
	free(f);
	return 0;
}

/* Send bytes at stream offset off (relative to ISN + 1). */
static enum stream_verdict seg_fin(struct fx *f, uint32_t off, const void *bytes, uint32_t len,
                                   bool fin)
{
	return stream_dir_segment(&f->d, f->pool, f->base + off, bytes, len, fin, f->window_end,
	                          sink_deliver, &f->sink);
}

static enum stream_verdict seg(struct fx *f, uint32_t off, const char *text)
{
	return seg_fin(f, off, text, (uint32_t)strlen(text), false);
}

static void ack(struct fx *f, uint32_t off)
{
	assert_true(stream_dir_ack(&f->d, f->pool, f->base + off));
}

static void assert_delivered(const struct fx *f, const char *text)
{
	assert_int_equal(f->sink.len, strlen(text));
	assert_memory_equal(f->sink.buf, text, f->sink.len);
}

static void assert_next(const struct fx *f, uint32_t off)
{
	assert_int_equal(stream_dir_next_seq(&f->d), f->base + off);
}

/* ---- in order, out of order ---- */

static void test_in_order_segments_are_delivered_once_in_order(void **state)
{
	struct fx *f = *state;

	for (unsigned i = 0; i < N_ISNS; i++) {
		fx_start(f, isns[i], true);
		assert_int_equal(seg(f, 0, "EHLO "), STREAM_IN_ORDER);
		assert_int_equal(seg(f, 5, "mx.example\r\n"), STREAM_IN_ORDER);
		assert_delivered(f, "EHLO mx.example\r\n");
		assert_int_equal(f->sink.calls, 2);
		assert_next(f, 17);
		fx_end(f);
	}
}

static void test_out_of_order_then_gap_fill_delivers_in_order(void **state)
{
	struct fx *f = *state;

	for (unsigned i = 0; i < N_ISNS; i++) {
		fx_start(f, isns[i], true);
		assert_int_equal(seg(f, 10, "TO:<a@b>\r\n"), STREAM_OUT_OF_ORDER);
		assert_int_equal(seg(f, 5, "RCPT "), STREAM_OUT_OF_ORDER);
		assert_int_equal(f->sink.len, 0);
		assert_next(f, 0);
		assert_int_equal(seg(f, 0, "NOOP\n"), STREAM_IN_ORDER);
		assert_delivered(f, "NOOP\nRCPT TO:<a@b>\r\n");
		assert_next(f, 20);
		fx_end(f);
	}
}

static void test_gap_fill_with_holding_off_still_delivers_held_ranges(void **state)
{
	struct fx *f = *state;

	for (unsigned i = 0; i < N_ISNS; i++) {
		fx_start(f, isns[i], false);
		assert_int_equal(seg(f, 3, "def"), STREAM_OUT_OF_ORDER);
		assert_int_equal(seg(f, 0, "abc"), STREAM_IN_ORDER);
		assert_delivered(f, "abcdef");
		assert_int_equal(stream_dir_bytes_held(&f->d), 0);
		assert_int_equal(block_pool_in_use(f->pool), 0);
		fx_end(f);
	}
}

/* ---- retransmissions and overlaps ---- */

static void test_duplicate_identical_segment_is_forwarded_not_redelivered(void **state)
{
	struct fx *f = *state;

	for (unsigned i = 0; i < N_ISNS; i++) {
		fx_start(f, isns[i], true);
		assert_int_equal(seg(f, 0, "MAIL FROM:<>\r\n"), STREAM_IN_ORDER);
		assert_int_equal(seg(f, 0, "MAIL FROM:<>\r\n"), STREAM_RETRANSMIT);
		assert_int_equal(seg(f, 5, "FROM"), STREAM_RETRANSMIT);
		assert_delivered(f, "MAIL FROM:<>\r\n");
		assert_int_equal(f->sink.calls, 1);
		fx_end(f);
	}
}

static void test_overlap_with_same_content_is_accepted(void **state)
{
	struct fx *f = *state;

	for (unsigned i = 0; i < N_ISNS; i++) {
		fx_start(f, isns[i], true);
		assert_int_equal(seg(f, 4, "efgh"), STREAM_OUT_OF_ORDER);
		assert_int_equal(seg(f, 6, "ghij"), STREAM_OUT_OF_ORDER);
		assert_int_equal(seg(f, 2, "cdefg"), STREAM_OUT_OF_ORDER);
		assert_int_equal(f->sink.len, 0);
		assert_int_equal(seg(f, 0, "abcde"), STREAM_IN_ORDER);
		assert_delivered(f, "abcdefghij");
		assert_int_equal(seg(f, 1, "bcdefghijk"), STREAM_IN_ORDER);
		assert_delivered(f, "abcdefghijk");
		fx_end(f);
	}
}

static void test_retransmission_with_different_content_is_a_conflict(void **state)
{
	struct fx *f = *state;

	for (unsigned i = 0; i < N_ISNS; i++) {
		fx_start(f, isns[i], true);
		assert_int_equal(seg(f, 0, "RCPT TO:<a@b>\r\n"), STREAM_IN_ORDER);
		assert_int_equal(seg(f, 0, "RCPT TO:<x@b>\r\n"), STREAM_DROP_CONFLICT);
		assert_int_equal(seg(f, 9, "x"), STREAM_DROP_CONFLICT);
		assert_int_equal(stream_verdict_action(STREAM_DROP_CONFLICT), STREAM_ACTION_DROP);
		/* Nothing changed: the stream goes on. */
		assert_next(f, 15);
		assert_int_equal(seg(f, 15, "DATA\r\n"), STREAM_IN_ORDER);
		assert_delivered(f, "RCPT TO:<a@b>\r\nDATA\r\n");
		fx_end(f);
	}
}

static void test_out_of_order_overlap_with_different_content_is_a_conflict(void **state)
{
	struct fx *f = *state;

	for (unsigned i = 0; i < N_ISNS; i++) {
		fx_start(f, isns[i], true);
		assert_int_equal(seg(f, 5, "TO:<a@b>"), STREAM_OUT_OF_ORDER);
		assert_int_equal(seg(f, 8, "<z@b>"), STREAM_DROP_CONFLICT);
		/* An in-order segment that disagrees with the held range too. */
		assert_int_equal(seg(f, 0, "RCPT TO:<z@b>"), STREAM_DROP_CONFLICT);
		assert_int_equal(f->sink.len, 0);
		assert_int_equal(seg(f, 0, "RCPT "), STREAM_IN_ORDER);
		assert_delivered(f, "RCPT TO:<a@b>");
		fx_end(f);
	}
}

static void test_partial_overlap_delivers_only_the_new_bytes(void **state)
{
	struct fx *f = *state;

	for (unsigned i = 0; i < N_ISNS; i++) {
		fx_start(f, isns[i], true);
		assert_int_equal(seg(f, 0, "QUI"), STREAM_IN_ORDER);
		assert_int_equal(seg(f, 1, "UIT\r\n"), STREAM_IN_ORDER);
		assert_delivered(f, "QUIT\r\n");
		assert_int_equal(f->sink.calls, 2);
		fx_end(f);
	}
}

static void test_partial_overlap_with_different_old_bytes_drops_the_whole_segment(void **state)
{
	struct fx *f = *state;

	for (unsigned i = 0; i < N_ISNS; i++) {
		fx_start(f, isns[i], true);
		assert_int_equal(seg(f, 0, "QUI"), STREAM_IN_ORDER);
		assert_int_equal(seg(f, 1, "XIT\r\n"), STREAM_DROP_CONFLICT);
		assert_delivered(f, "QUI");
		assert_next(f, 3);
		fx_end(f);
	}
}

static void test_retransmission_of_acked_data_with_different_bytes_is_forwarded(void **state)
{
	struct fx *f = *state;

	for (unsigned i = 0; i < N_ISNS; i++) {
		fx_start(f, isns[i], true);
		assert_int_equal(seg(f, 0, "HELO a\r\n"), STREAM_IN_ORDER);
		ack(f, 8);
		assert_int_equal(block_pool_in_use(f->pool), 0);
		assert_int_equal(seg(f, 0, "HELO b\r\n"), STREAM_RETRANSMIT_ACKED);
		/* A keepalive: one garbage byte just below the acknowledgement. */
		assert_int_equal(seg_fin(f, 7, "Z", 1, false), STREAM_RETRANSMIT_ACKED);
		assert_delivered(f, "HELO a\r\n");
		fx_end(f);
	}
}

static void test_retransmission_of_partly_acked_data_checks_the_held_rest(void **state)
{
	struct fx *f = *state;

	for (unsigned i = 0; i < N_ISNS; i++) {
		fx_start(f, isns[i], true);
		assert_int_equal(seg(f, 0, "abcdefgh"), STREAM_IN_ORDER);
		ack(f, 4);
		assert_int_equal(seg(f, 0, "XXXXefgh"), STREAM_RETRANSMIT);
		assert_int_equal(seg(f, 0, "XXXXefgX"), STREAM_DROP_CONFLICT);
		fx_end(f);
	}
}

static void test_retransmission_of_unacked_data_not_held_is_unverifiable(void **state)
{
	struct fx *f = *state;

	for (unsigned i = 0; i < N_ISNS; i++) {
		fx_start(f, isns[i], false);
		assert_int_equal(seg(f, 0, "BDAT 5 LAST\r\n"), STREAM_IN_ORDER);
		assert_int_equal(seg(f, 0, "BDAT 5 LAST\r\n"), STREAM_UNVERIFIABLE);
		assert_int_equal(stream_verdict_action(STREAM_UNVERIFIABLE),
		                 STREAM_ACTION_FAIL_OPEN);
		assert_true(stream_dir_passthrough(&f->d));
		/* From then on everything passes untracked. */
		assert_int_equal(seg(f, 13, "hello"), STREAM_PASSTHROUGH);
		assert_int_equal(seg(f, 99, "x"), STREAM_PASSTHROUGH);
		assert_delivered(f, "BDAT 5 LAST\r\n");
		fx_end(f);
	}
}

static void test_retransmission_older_than_the_hold_bound_is_unverifiable(void **state)
{
	struct fx *f = *state;
	static uint8_t bytes[3000];

	memset(bytes, 'a', sizeof(bytes));
	for (unsigned i = 0; i < N_ISNS; i++) {
		fx_start(f, isns[i], true);
		assert_int_equal(seg_fin(f, 0, bytes, 1500, false), STREAM_IN_ORDER);
		assert_int_equal(seg_fin(f, 1500, bytes, 1500, false), STREAM_IN_ORDER);
		/* The newest BLOCK bytes are still verified... */
		assert_int_equal(seg_fin(f, 3000 - BLOCK, bytes, BLOCK, false), STREAM_RETRANSMIT);
		assert_int_equal(stream_dir_bytes_held(&f->d), BLOCK);
		/* ...the oldest are gone: their retransmission is ambiguous. */
		assert_int_equal(seg_fin(f, 0, bytes, 10, false), STREAM_UNVERIFIABLE);
		fx_end(f);
	}
}

static void test_conflict_wins_over_unverifiable_in_the_same_segment(void **state)
{
	struct fx *f = *state;
	static uint8_t bytes[2100];

	memset(bytes, 'a', sizeof(bytes));
	fx_start(f, 7, true);
	assert_int_equal(seg_fin(f, 0, bytes, sizeof(bytes), false), STREAM_IN_ORDER);
	bytes[sizeof(bytes) - 1] = 'b';
	/* Its first bytes are no longer held, its last one differs. */
	assert_int_equal(seg_fin(f, 0, bytes, sizeof(bytes), false), STREAM_DROP_CONFLICT);
	assert_false(stream_dir_passthrough(&f->d));
	fx_end(f);
}

/* ---- wrap, splits, tiny segments, bounds ---- */

static void test_wrap_around_in_the_middle_of_a_command(void **state)
{
	struct fx *f = *state;
	const char *cmd = "RCPT TO:<postmaster@example.org>\r\n";

	/* Offsets 0..33 straddle 2^32: the wrap falls after "RCPT ". */
	fx_start(f, 0xffffffffu - 5, true);
	assert_int_equal(f->base + 5, 0);
	assert_int_equal(seg(f, 20, cmd + 20), STREAM_OUT_OF_ORDER);
	assert_int_equal(seg(f, 3, "T TO:<"), STREAM_OUT_OF_ORDER);
	assert_int_equal(seg(f, 0, "RCP"), STREAM_IN_ORDER);
	assert_next(f, 9);
	assert_int_equal(seg(f, 4, "X"), STREAM_DROP_CONFLICT);
	assert_int_equal(seg(f, 9, "postmaster@"), STREAM_IN_ORDER);
	assert_int_equal(seg(f, 0, cmd), STREAM_RETRANSMIT);
	assert_delivered(f, cmd);
	assert_int_equal(stream_dir_next_seq(&f->d), (uint32_t)(f->base + strlen(cmd)));
	ack(f, (uint32_t)strlen(cmd));
	fx_end(f);
}

static void test_segment_split_inside_crlf_is_delivered_across_two_segments(void **state)
{
	struct fx *f = *state;

	for (unsigned i = 0; i < N_ISNS; i++) {
		fx_start(f, isns[i], true);
		assert_int_equal(seg(f, 0, "NOOP\r"), STREAM_IN_ORDER);
		assert_delivered(f, "NOOP\r");
		assert_int_equal(seg(f, 5, "\nQUIT\r\n"), STREAM_IN_ORDER);
		assert_delivered(f, "NOOP\r\nQUIT\r\n");
		fx_end(f);
	}
}

static void test_one_byte_per_segment_for_300_bytes(void **state)
{
	struct fx *f = *state;
	uint8_t bytes[300];

	for (unsigned k = 0; k < sizeof(bytes); k++)
		bytes[k] = (uint8_t)(k * 7 + 1);
	for (unsigned i = 0; i < N_ISNS; i++) {
		fx_start(f, isns[i], true);
		for (uint32_t k = 0; k < sizeof(bytes); k++)
			assert_int_equal(seg_fin(f, k, bytes + k, 1, false), STREAM_IN_ORDER);
		assert_int_equal(f->sink.len, sizeof(bytes));
		assert_memory_equal(f->sink.buf, bytes, sizeof(bytes));
		assert_int_equal(f->sink.calls, 300);
		/* Backwards, one byte at a time, every one verified. */
		for (uint32_t k = sizeof(bytes); k-- > 0;)
			assert_int_equal(seg_fin(f, k, bytes + k, 1, false), STREAM_RETRANSMIT);
		fx_end(f);
	}
}

static void test_100_kib_in_order_with_holding_keeps_one_block(void **state)
{
	struct fx *f = *state;
	static uint8_t bytes[100 * 1024];

	for (unsigned k = 0; k < sizeof(bytes); k++)
		bytes[k] = (uint8_t)(k ^ (k >> 8));
	for (unsigned i = 0; i < N_ISNS; i++) {
		fx_start(f, isns[i], true);
		for (uint32_t off = 0; off < sizeof(bytes); off += 1000) {
			uint32_t len = sizeof(bytes) - off < 1000 ? sizeof(bytes) - off : 1000;

			assert_int_equal(seg_fin(f, off, bytes + off, len, false), STREAM_IN_ORDER);
			assert_int_equal(block_pool_in_use(f->pool), 1);
			assert_true(stream_dir_bytes_held(&f->d) <= BLOCK);
		}
		assert_int_equal(f->sink.len, sizeof(bytes));
		assert_memory_equal(f->sink.buf, bytes, sizeof(bytes));
		ack(f, sizeof(bytes));
		assert_int_equal(block_pool_in_use(f->pool), 0);
		fx_end(f);
	}
}

static void test_ooo_range_bound_exceeded_is_dropped_and_in_order_still_works(void **state)
{
	struct fx *f = *state;

	for (unsigned i = 0; i < N_ISNS; i++) {
		fx_start(f, isns[i], true);
		assert_int_equal(seg(f, 2, "c"), STREAM_OUT_OF_ORDER);
		assert_int_equal(seg(f, 4, "e"), STREAM_OUT_OF_ORDER);
		assert_int_equal(seg(f, 6, "g"), STREAM_OUT_OF_ORDER);
		assert_int_equal(STREAM_OOO_RANGES, 3);
		assert_int_equal(seg(f, 8, "i"), STREAM_DROP_OOO_FULL);
		assert_int_equal(stream_verdict_action(STREAM_DROP_OOO_FULL), STREAM_ACTION_DROP);
		/* Touching an existing range merges into it: no new slot. */
		assert_int_equal(seg(f, 7, "h"), STREAM_OUT_OF_ORDER);
		assert_int_equal(seg(f, 0, "ab"), STREAM_IN_ORDER);
		assert_delivered(f, "abc");
		assert_int_equal(seg(f, 3, "d"), STREAM_IN_ORDER);
		assert_delivered(f, "abcde");
		assert_int_equal(seg(f, 5, "f"), STREAM_IN_ORDER);
		assert_delivered(f, "abcdefgh");
		/* The sender's retransmission of what was dropped now fits. */
		assert_int_equal(seg(f, 6, "ghi"), STREAM_IN_ORDER);
		assert_delivered(f, "abcdefghi");
		fx_end(f);
	}
}

static void test_ooo_beyond_the_ring_is_dropped(void **state)
{
	struct fx *f = *state;
	static uint8_t bytes[BLOCK];

	memset(bytes, 'x', sizeof(bytes));
	for (unsigned i = 0; i < N_ISNS; i++) {
		fx_start(f, isns[i], true);
		assert_int_equal(seg_fin(f, 1, bytes, BLOCK - 1, false), STREAM_OUT_OF_ORDER);
		assert_int_equal(seg_fin(f, BLOCK, bytes, 1, false), STREAM_DROP_OOO_FULL);
		assert_int_equal(seg_fin(f, 0, bytes, 1, false), STREAM_IN_ORDER);
		assert_int_equal(f->sink.len, BLOCK);
		/* The held copies now fill the ring: nothing is evicted for
		 * out-of-order bytes. */
		assert_int_equal(seg_fin(f, BLOCK + 1, bytes, 1, false), STREAM_DROP_OOO_FULL);
		ack(f, 100);
		assert_int_equal(seg_fin(f, BLOCK + 1, bytes, 1, false), STREAM_OUT_OF_ORDER);
		fx_end(f);
	}
}

static void test_pool_exhaustion_fails_open(void **state)
{
	struct fx *f = *state;
	struct block_pool *small = block_pool_create(BLOCK, 1);
	struct block_pool *saved = f->pool;
	struct stream_dir other;
	uint64_t exhausted;

	f->pool = small;
	fx_start(f, 1000, true);
	stream_dir_init(&other, 5000, true);
	assert_int_equal(stream_dir_segment(&other, small, 5000, (const uint8_t *)"x", 1, false,
	                                    STREAM_WINDOW_UNKNOWN, NULL, NULL),
	                 STREAM_IN_ORDER);
	assert_int_equal(block_pool_in_use(small), 1);
	exhausted = block_pool_exhausted(small);
	/* Out of order with no block: dropped, the sender will resend. */
	assert_int_equal(seg(f, 4, "later"), STREAM_DROP_OOO_FULL);
	/* In order with no block: delivered, just not held... */
	assert_int_equal(seg(f, 0, "EHLO x\r\n"), STREAM_IN_ORDER);
	assert_delivered(f, "EHLO x\r\n");
	assert_true(block_pool_exhausted(small) > exhausted);
	/* ...so its retransmission cannot be checked: fail open. */
	assert_int_equal(seg(f, 0, "EHLO y\r\n"), STREAM_UNVERIFIABLE);
	stream_dir_release(&other, small);
	fx_end(f);
	block_pool_free(small);
	f->pool = saved;
	fx_start(f, 0, true);
}

static void test_block_size_not_a_power_of_two_uses_the_power_of_two_below(void **state)
{
	struct fx *f = *state;
	struct block_pool *odd = block_pool_create(3000, 2);
	struct block_pool *saved = f->pool;
	static uint8_t bytes[5000];

	for (unsigned k = 0; k < sizeof(bytes); k++)
		bytes[k] = (uint8_t)(k * 13 + 5);
	f->pool = odd;
	for (unsigned i = 0; i < N_ISNS; i++) {
		fx_start(f, isns[i] - 1000, true);
		assert_int_equal(seg_fin(f, 1500, bytes + 1500, 500, false), STREAM_OUT_OF_ORDER);
		assert_int_equal(seg_fin(f, 2048, bytes + 2048, 1, false), STREAM_DROP_OOO_FULL);
		assert_int_equal(seg_fin(f, 0, bytes, 1500, false), STREAM_IN_ORDER);
		assert_int_equal(stream_dir_bytes_held(&f->d), 2000);
		assert_int_equal(seg_fin(f, 2000, bytes + 2000, 3000, false), STREAM_IN_ORDER);
		assert_int_equal(stream_dir_bytes_held(&f->d), 2048);
		assert_int_equal(seg_fin(f, 5000 - 2048, bytes + 5000 - 2048, 2048, false),
		                 STREAM_RETRANSMIT);
		assert_int_equal(f->sink.len, 5000);
		assert_memory_equal(f->sink.buf, bytes, 5000);
		fx_end(f);
	}
	block_pool_free(odd);
	f->pool = saved;
	fx_start(f, 0, true);
}

/* ---- window ---- */

static void test_beyond_the_window_is_dropped(void **state)
{
	struct fx *f = *state;

	for (unsigned i = 0; i < N_ISNS; i++) {
		fx_start(f, isns[i], true);
		f->window_end = (uint32_t)(f->base + 10);
		assert_int_equal(seg(f, 10, "x"), STREAM_DROP_OUT_OF_WINDOW);
		assert_int_equal(seg(f, 12, "xyz"), STREAM_DROP_OUT_OF_WINDOW);
		assert_int_equal(stream_verdict_action(STREAM_DROP_OUT_OF_WINDOW),
		                 STREAM_ACTION_DROP);
		assert_int_equal(stream_dir_bytes_held(&f->d), 0);
		/* Starting inside the window, a segment is taken whole (Linux
		 * queues it whole; a receiver that trims it gets the tail again
		 * and it is verified against the copy). */
		assert_int_equal(seg(f, 8, "ijkl"), STREAM_OUT_OF_ORDER);
		assert_int_equal(seg(f, 0, "abcdefgh"), STREAM_IN_ORDER);
		assert_delivered(f, "abcdefghijkl");
		/* Old bytes are never window-checked. */
		assert_int_equal(seg(f, 0, "abc"), STREAM_RETRANSMIT);
		/* Old bytes plus new ones past the edge: dropped whole. */
		assert_int_equal(seg(f, 10, "klmn"), STREAM_DROP_OUT_OF_WINDOW);
		assert_next(f, 12);
		fx_end(f);
	}
}

static void test_zero_window_probe_is_delivered_and_held_until_acked(void **state)
{
	struct fx *f = *state;

	for (unsigned i = 0; i < N_ISNS; i++) {
		/* Holding off (a message body): the probe's copy is kept anyway. */
		fx_start(f, isns[i], false);
		assert_int_equal(seg(f, 0, "line\r"), STREAM_IN_ORDER);
		ack(f, 5);
		f->window_end = (uint32_t)(f->base + 5);
		assert_int_equal(seg(f, 5, "\n"), STREAM_ZERO_WINDOW_PROBE);
		assert_int_equal(stream_verdict_action(STREAM_ZERO_WINDOW_PROBE),
		                 STREAM_ACTION_FORWARD);
		assert_delivered(f, "line\r\n");
		/* The receiver dropped it: the same byte again is verified... */
		assert_int_equal(seg(f, 5, "\n"), STREAM_RETRANSMIT);
		/* ...a different one can never reach it. */
		assert_int_equal(seg(f, 5, "X"), STREAM_DROP_CONFLICT);
		/* The window opens: the probe byte again with the next bytes. */
		f->window_end = (uint32_t)(f->base + 1000);
		assert_int_equal(seg(f, 5, "\nQUIT\r\n"), STREAM_IN_ORDER);
		assert_delivered(f, "line\r\nQUIT\r\n");
		fx_end(f);
	}
}

static void test_zero_window_probe_copy_is_released_by_its_ack(void **state)
{
	struct fx *f = *state;

	for (unsigned i = 0; i < N_ISNS; i++) {
		fx_start(f, isns[i], false);
		f->window_end = f->base;
		assert_int_equal(seg(f, 0, "Q"), STREAM_ZERO_WINDOW_PROBE);
		assert_int_equal(block_pool_in_use(f->pool), 1);
		ack(f, 1);
		assert_int_equal(block_pool_in_use(f->pool), 0);
		assert_int_equal(seg(f, 0, "Z"), STREAM_RETRANSMIT_ACKED);
		fx_end(f);
	}
}

static void test_zero_window_longer_segment_is_dropped(void **state)
{
	struct fx *f = *state;

	for (unsigned i = 0; i < N_ISNS; i++) {
		fx_start(f, isns[i], true);
		f->window_end = f->base;
		assert_int_equal(seg(f, 0, "QU"), STREAM_DROP_OUT_OF_WINDOW);
		/* A shrunk window (edge below next_seq) counts as closed. */
		f->window_end = (uint32_t)(f->base - 3);
		assert_int_equal(seg(f, 0, "QUIT"), STREAM_DROP_OUT_OF_WINDOW);
		assert_int_equal(seg(f, 0, "Q"), STREAM_ZERO_WINDOW_PROBE);
		assert_int_equal(f->sink.len, 1);
		fx_end(f);
	}
}

/* ---- the callback asks to stop ---- */

static void test_deliver_returning_false_stops_delivery(void **state)
{
	struct fx *f = *state;

	for (unsigned i = 0; i < N_ISNS; i++) {
		fx_start(f, isns[i], true);
		f->sink.stop_at = 2;
		assert_int_equal(seg(f, 8, "cc"), STREAM_OUT_OF_ORDER);
		assert_int_equal(seg(f, 0, "aaaa"), STREAM_IN_ORDER);
		/* Call 2 ("bbbb") returns false: the held "cc" is not delivered. */
		assert_int_equal(seg(f, 4, "bbbb"), STREAM_STOPPED);
		assert_int_equal(stream_verdict_action(STREAM_STOPPED), STREAM_ACTION_CALLER);
		assert_true(stream_dir_stopped(&f->d));
		assert_delivered(f, "aaaabbbb");
		/* Tracking and verification go on without delivery. */
		assert_next(f, 10);
		assert_int_equal(seg(f, 10, "dd"), STREAM_IN_ORDER);
		assert_int_equal(seg(f, 8, "xx"), STREAM_DROP_CONFLICT);
		assert_int_equal(f->sink.calls_after_stop, 0);
		assert_delivered(f, "aaaabbbb");
		fx_end(f);
	}
}

static bool stop_immediately(void *arg, uint32_t seq, const uint8_t *data, uint32_t len)
{
	unsigned *calls = arg;

	(void)seq;
	(void)data;
	(void)len;
	(*calls)++;
	return false;
}

static void test_stop_during_gap_fill_stops_before_the_held_ranges(void **state)
{
	struct fx *f = *state;
	unsigned calls = 0;

	fx_start(f, 0xfffffff0u, true);
	assert_int_equal(seg(f, 3, "def"), STREAM_OUT_OF_ORDER);
	assert_int_equal(stream_dir_segment(&f->d, f->pool, f->base, (const uint8_t *)"abc", 3,
	                                    false, STREAM_WINDOW_UNKNOWN, stop_immediately, &calls),
	                 STREAM_STOPPED);
	assert_int_equal(calls, 1);
	assert_next(f, 6);
	fx_end(f);
}

static struct fx *hold_switch_fx;

static bool turn_hold_off(void *arg, uint32_t seq, const uint8_t *data, uint32_t len)
{
	stream_dir_set_hold(&hold_switch_fx->d, false);
	return sink_deliver(arg, seq, data, len);
}

static void test_set_hold_inside_the_callback_applies_to_later_bytes(void **state)
{
	struct fx *f = *state;

	for (unsigned i = 0; i < N_ISNS; i++) {
		fx_start(f, isns[i], true);
		hold_switch_fx = f;
		assert_int_equal(stream_dir_segment(&f->d, f->pool, f->base,
		                                    (const uint8_t *)"DATA\r\n", 6, false,
		                                    STREAM_WINDOW_UNKNOWN, turn_hold_off, &f->sink),
		                 STREAM_IN_ORDER);
		/* The command that turned holding off is still verified. */
		assert_int_equal(seg(f, 0, "DATA\r\n"), STREAM_RETRANSMIT);
		assert_int_equal(seg(f, 0, "DATX\r\n"), STREAM_DROP_CONFLICT);
		/* The body is not held: the copies end at next_seq. */
		assert_int_equal(seg(f, 6, "body"), STREAM_IN_ORDER);
		assert_int_equal(stream_dir_bytes_held(&f->d), 0);
		assert_int_equal(block_pool_in_use(f->pool), 0);
		stream_dir_set_hold(&f->d, true);
		assert_int_equal(seg(f, 10, ".\r\n"), STREAM_IN_ORDER);
		assert_int_equal(stream_dir_bytes_held(&f->d), 3);
		assert_int_equal(seg(f, 10, ",\r\n"), STREAM_DROP_CONFLICT);
		fx_end(f);
	}
}

/* ---- acknowledgements and release ---- */

static void test_ack_releases_held_copies_and_then_the_block(void **state)
{
	struct fx *f = *state;

	for (unsigned i = 0; i < N_ISNS; i++) {
		fx_start(f, isns[i], true);
		assert_int_equal(seg(f, 0, "0123456789"), STREAM_IN_ORDER);
		assert_int_equal(stream_dir_bytes_held(&f->d), 10);
		ack(f, 4);
		assert_int_equal(stream_dir_bytes_held(&f->d), 6);
		ack(f, 2); /* older: ignored */
		assert_int_equal(stream_dir_bytes_held(&f->d), 6);
		assert_int_equal(block_pool_in_use(f->pool), 1);
		assert_int_equal(seg(f, 0, "XXXX"), STREAM_RETRANSMIT_ACKED);
		ack(f, 10);
		assert_int_equal(stream_dir_bytes_held(&f->d), 0);
		assert_int_equal(block_pool_in_use(f->pool), 0);
		fx_end(f);
	}
}

static void test_ack_of_bytes_never_delivered_stops_tracking(void **state)
{
	struct fx *f = *state;

	for (unsigned i = 0; i < N_ISNS; i++) {
		fx_start(f, isns[i], true);
		assert_int_equal(seg(f, 0, "abc"), STREAM_IN_ORDER);
		assert_int_equal(seg(f, 5, "fg"), STREAM_OUT_OF_ORDER);
		assert_false(stream_dir_ack(&f->d, f->pool, f->base + 4));
		assert_true(stream_dir_passthrough(&f->d));
		assert_int_equal(block_pool_in_use(f->pool), 0);
		assert_int_equal(seg(f, 3, "de"), STREAM_PASSTHROUGH);
		assert_delivered(f, "abc");
		fx_end(f);
	}
}

static void test_release_returns_every_block(void **state)
{
	struct fx *f = *state;
	struct stream_dir dirs[6];

	for (unsigned k = 0; k < 6; k++) {
		stream_dir_init(&dirs[k], 100u * k, true);
		assert_int_equal(stream_dir_segment(&dirs[k], f->pool, 100u * k + 5,
		                                    (const uint8_t *)"late", 4, false,
		                                    STREAM_WINDOW_UNKNOWN, NULL, NULL),
		                 STREAM_OUT_OF_ORDER);
		assert_int_equal(stream_dir_segment(&dirs[k], f->pool, 100u * k,
		                                    (const uint8_t *)"ab", 2, false,
		                                    STREAM_WINDOW_UNKNOWN, NULL, NULL),
		                 STREAM_IN_ORDER);
	}
	assert_int_equal(block_pool_in_use(f->pool), 6);
	for (unsigned k = 0; k < 6; k++) {
		stream_dir_release(&dirs[k], f->pool);
		stream_dir_release(&dirs[k], f->pool); /* idempotent */
	}
	assert_int_equal(block_pool_in_use(f->pool), 0);
	assert_int_equal(stream_dir_segment(&dirs[0], f->pool, 2, (const uint8_t *)"c", 1, false,
	                                    STREAM_WINDOW_UNKNOWN, NULL, NULL),
	                 STREAM_PASSTHROUGH);
}

/* ---- FIN ---- */

static void test_fin_in_order_advances_next_seq_once(void **state)
{
	struct fx *f = *state;

	for (unsigned i = 0; i < N_ISNS; i++) {
		fx_start(f, isns[i], true);
		assert_int_equal(seg_fin(f, 0, "QUIT\r\n", 6, true), STREAM_IN_ORDER);
		assert_true(stream_dir_fin_reached(&f->d));
		assert_next(f, 7);
		assert_int_equal(seg_fin(f, 0, "QUIT\r\n", 6, true), STREAM_RETRANSMIT);
		assert_int_equal(seg_fin(f, 6, NULL, 0, true), STREAM_RETRANSMIT);
		assert_next(f, 7);
		ack(f, 7);
		assert_delivered(f, "QUIT\r\n");
		fx_end(f);
	}
}

static void test_lone_fin_in_order_and_after_retransmitted_data(void **state)
{
	struct fx *f = *state;

	for (unsigned i = 0; i < N_ISNS; i++) {
		fx_start(f, isns[i], true);
		assert_int_equal(seg(f, 0, "QUIT\r\n"), STREAM_IN_ORDER);
		assert_int_equal(seg_fin(f, 6, NULL, 0, true), STREAM_IN_ORDER);
		assert_next(f, 7);
		fx_end(f);
		fx_start(f, isns[i], true);
		assert_int_equal(seg(f, 0, "QUIT\r\n"), STREAM_IN_ORDER);
		/* Old data carrying the FIN: the FIN is new. */
		assert_int_equal(seg_fin(f, 0, "QUIT\r\n", 6, true), STREAM_IN_ORDER);
		assert_true(stream_dir_fin_reached(&f->d));
		fx_end(f);
	}
}

static void test_fin_out_of_order_is_reached_when_the_gap_fills(void **state)
{
	struct fx *f = *state;

	for (unsigned i = 0; i < N_ISNS; i++) {
		fx_start(f, isns[i], true);
		assert_int_equal(seg_fin(f, 4, "\r\n", 2, true), STREAM_OUT_OF_ORDER);
		assert_false(stream_dir_fin_reached(&f->d));
		assert_next(f, 0);
		assert_int_equal(seg(f, 0, "QUI"), STREAM_IN_ORDER);
		assert_delivered(f, "QUI");
		assert_false(stream_dir_fin_reached(&f->d));
		assert_int_equal(seg(f, 3, "T"), STREAM_IN_ORDER);
		assert_delivered(f, "QUIT\r\n");
		assert_true(stream_dir_fin_reached(&f->d));
		assert_next(f, 7);
		fx_end(f);

		/* A FIN alone, after a gap. */
		fx_start(f, isns[i], true);
		assert_int_equal(seg_fin(f, 6, NULL, 0, true), STREAM_OUT_OF_ORDER);
		assert_int_equal(seg_fin(f, 6, NULL, 0, true), STREAM_RETRANSMIT);
		assert_int_equal(seg(f, 0, "QUIT\r\n"), STREAM_IN_ORDER);
		assert_true(stream_dir_fin_reached(&f->d));
		assert_next(f, 7);
		fx_end(f);
	}
}

static void test_fin_elsewhere_or_data_past_it_is_a_conflict(void **state)
{
	struct fx *f = *state;

	for (unsigned i = 0; i < N_ISNS; i++) {
		fx_start(f, isns[i], true);
		assert_int_equal(seg_fin(f, 4, "\r\n", 2, true), STREAM_OUT_OF_ORDER);
		assert_int_equal(seg(f, 5, "\nMAIL"), STREAM_DROP_CONFLICT);
		assert_int_equal(seg_fin(f, 2, "I", 1, true), STREAM_DROP_CONFLICT);
		assert_int_equal(seg_fin(f, 9, NULL, 0, true), STREAM_DROP_CONFLICT);
		assert_int_equal(seg(f, 0, "QUIT\r\n"), STREAM_IN_ORDER);
		assert_true(stream_dir_fin_reached(&f->d));
		assert_int_equal(seg(f, 7, "x"), STREAM_DROP_CONFLICT);
		/* A FIN inside unacknowledged delivered bytes. */
		assert_int_equal(seg_fin(f, 0, "QU", 2, true), STREAM_DROP_CONFLICT);
		fx_end(f);

		/* A FIN before out-of-order bytes already forwarded. */
		fx_start(f, isns[i], true);
		assert_int_equal(seg(f, 8, "zz"), STREAM_OUT_OF_ORDER);
		assert_int_equal(seg_fin(f, 0, "ab", 2, true), STREAM_DROP_CONFLICT);
		fx_end(f);
	}
}

static void test_fin_inside_acknowledged_data_is_ignored(void **state)
{
	struct fx *f = *state;

	for (unsigned i = 0; i < N_ISNS; i++) {
		fx_start(f, isns[i], true);
		assert_int_equal(seg(f, 0, "HELO x\r\n"), STREAM_IN_ORDER);
		ack(f, 8);
		assert_int_equal(seg_fin(f, 0, "HE", 2, true), STREAM_RETRANSMIT_ACKED);
		assert_false(stream_dir_fin_reached(&f->d));
		assert_next(f, 8);
		fx_end(f);
	}
}

static void test_ack_of_the_fin_is_accepted(void **state)
{
	struct fx *f = *state;

	fx_start(f, 0xffffffffu, true);
	assert_int_equal(seg_fin(f, 0, "QUIT\r\n", 6, true), STREAM_IN_ORDER);
	ack(f, 7);
	assert_false(stream_dir_passthrough(&f->d));
	assert_int_equal(block_pool_in_use(f->pool), 0);
	assert_false(stream_dir_ack(&f->d, f->pool, f->base + 8));
	fx_end(f);
}

/* ---- odds and ends ---- */

static void test_empty_segment_and_oversized_segment(void **state)
{
	struct fx *f = *state;

	fx_start(f, 42, true);
	assert_int_equal(seg_fin(f, 0, NULL, 0, false), STREAM_EMPTY);
	assert_int_equal(stream_dir_segment(&f->d, f->pool, f->base, (const uint8_t *)"x", 1u << 30,
	                                    false, STREAM_WINDOW_UNKNOWN, sink_deliver, &f->sink),
	                 STREAM_DROP_OUT_OF_WINDOW);
	assert_int_equal(f->sink.len, 0);
	fx_end(f);
}

static void test_direction_state_fits_in_32_bytes(void **state)
{
	(void)state;
	assert_true(sizeof(struct stream_dir) <= 32);
}

static void test_every_verdict_has_a_unique_name_a_description_and_an_action(void **state)
{
	(void)state;
	for (int i = 0; i < STREAM_VERDICT_COUNT; i++) {
		const char *name = stream_verdict_name((enum stream_verdict)i);

		assert_true(name[0] != '\0');
		assert_string_not_equal(name, "unknown");
		assert_true(strlen(stream_verdict_description((enum stream_verdict)i)) > 10);
		for (int j = 0; j < i; j++)
			assert_string_not_equal(name, stream_verdict_name((enum stream_verdict)j));
	}
	assert_string_equal(stream_verdict_name(STREAM_VERDICT_COUNT), "unknown");
	assert_int_equal(stream_verdict_action(STREAM_VERDICT_COUNT), STREAM_ACTION_FAIL_OPEN);
	assert_int_equal(stream_verdict_action(STREAM_IN_ORDER), STREAM_ACTION_FORWARD);
	assert_int_equal(stream_verdict_action(STREAM_RETRANSMIT_ACKED), STREAM_ACTION_FORWARD);
}

/* ---- property: any segmentation delivers the same stream ---- */

static uint64_t rng_state;

static uint32_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state >> 11);
}

static uint32_t rng_below(uint32_t n)
{
	return rng() % n;
}

struct piece {
	uint32_t off, len;
};

static unsigned verdicts_seen[STREAM_VERDICT_COUNT];

/* One run: the stream cut at random, sent with bounded reordering, random
 * duplicates and random re-cut retransmissions (as a sender re-segments),
 * acknowledged as a receiver would. Returns after checking the output. */
static void run_random_segmentation(struct fx *f, uint32_t isn, uint64_t seed)
{
	enum { LEN = 20000, MAX_PIECES = LEN, REORDER = 4 };
	static uint8_t stream[LEN];
	static struct piece pending[MAX_PIECES];
	unsigned n_pending = 0;
	uint32_t sent_hi = 0, acked = 0;

	rng_state = seed * 0x9e3779b97f4a7c15ull + 1;
	for (unsigned k = 0; k < LEN; k++)
		stream[k] = (uint8_t)rng();
	for (uint32_t off = 0; off < LEN;) {
		uint32_t len = 1 + rng_below(300);

		len = len > LEN - off ? LEN - off : len;
		pending[n_pending++] = (struct piece){off, len};
		off += len;
	}
	fx_start(f, isn, true);
	while (n_pending) {
		unsigned pick = rng_below(n_pending < REORDER ? n_pending : REORDER);
		struct piece p = pending[pick];
		uint32_t dice = rng_below(10);
		enum stream_verdict v;

		if (dice == 0 && sent_hi > 0) {
			/* A re-cut retransmission from the oldest unacked byte. */
			uint32_t from = acked > 50 ? acked - 50 : 0;

			p.off = from + rng_below(sent_hi - from);
			p.len = 1 + rng_below(400);
			p.len = p.len > LEN - p.off ? LEN - p.off : p.len;
		} else {
			memmove(&pending[pick], &pending[pick + 1],
			        (n_pending - pick - 1) * sizeof(pending[0]));
			n_pending--;
		}
		v = seg_fin(f, p.off, stream + p.off, p.len, p.off + p.len == LEN);
		verdicts_seen[v]++;
		if (v == STREAM_DROP_OOO_FULL) {
			/* Dropped: the sender will send it again. */
			if (dice != 0)
				pending[n_pending++] = p;
		} else {
			assert_true(v == STREAM_IN_ORDER || v == STREAM_OUT_OF_ORDER ||
			            v == STREAM_RETRANSMIT || v == STREAM_RETRANSMIT_ACKED);
			if (p.off + p.len > sent_hi)
				sent_hi = p.off + p.len;
			if (dice == 1) /* plus an exact duplicate */
				assert_int_not_equal(
				    seg_fin(f, p.off, stream + p.off, p.len, p.off + p.len == LEN),
				    STREAM_DROP_CONFLICT);
		}
		/* Keep pending sorted so the reorder window slides forward. */
		for (unsigned k = n_pending; k-- > 1 && pending[k].off < pending[k - 1].off;) {
			struct piece t = pending[k];

			pending[k] = pending[k - 1];
			pending[k - 1] = t;
		}
		if (f->sink.len - acked > 1024 || rng_below(2)) {
			acked = f->sink.len;
			ack(f, acked);
		}
		assert_true(block_pool_in_use(f->pool) <= 1);
	}
	assert_int_equal(f->sink.len, LEN);
	assert_memory_equal(f->sink.buf, stream, LEN);
	assert_true(stream_dir_fin_reached(&f->d));
	assert_next(f, LEN + 1);
	fx_end(f);
}

static void test_any_segmentation_delivers_the_same_stream(void **state)
{
	struct fx *f = *state;

	memset(verdicts_seen, 0, sizeof(verdicts_seen));
	for (unsigned i = 0; i < N_ISNS; i++)
		for (uint64_t seed = 1; seed <= 16; seed++)
			run_random_segmentation(f, isns[i] - 7000 * (uint32_t)seed, seed);
	/* The runs did exercise reordering, repeats and the bounds. */
	assert_true(verdicts_seen[STREAM_OUT_OF_ORDER] > 100);
	assert_true(verdicts_seen[STREAM_RETRANSMIT] > 50);
	assert_true(verdicts_seen[STREAM_RETRANSMIT_ACKED] > 10);
	assert_true(verdicts_seen[STREAM_DROP_OOO_FULL] > 10);
}

/* A rewind (the reader held the rest): the next copy of those bytes is new
 * again and delivered; bytes held out of order beyond stay verified. */
static void test_rewind_makes_the_retransmission_new(void **state)
{
	struct fx *f = *state;

	for (unsigned i = 0; i < N_ISNS; i++) {
		fx_start(f, isns[i], true);
		f->sink.stop_at = 1; /* the reader stops after the first delivery */
		assert_int_equal(seg(f, 0, "DATA\r\nRCPT\r\n"), STREAM_STOPPED);
		assert_true(stream_dir_rewind(&f->d, f->base + 6, f->base + 12));
		assert_next(f, 6);
		f->sink.stop_at = 0;
		f->sink.len = 6; /* the reader took "DATA\r\n" */
		f->sink.next = f->base + 6;
		assert_int_equal(seg(f, 6, "RCPT\r\n"), STREAM_IN_ORDER);
		assert_delivered(f, "DATA\r\nRCPT\r\n");
		fx_end(f);
	}
}

static void test_rewind_refuses_bytes_forwarded_out_of_order(void **state)
{
	struct fx *f = *state;

	for (unsigned i = 0; i < N_ISNS; i++) {
		fx_start(f, isns[i], true);
		assert_int_equal(seg(f, 6, "RCPT\r\n"), STREAM_OUT_OF_ORDER);
		f->sink.stop_at = 1;
		assert_int_equal(seg(f, 0, "DATA\r\n"), STREAM_STOPPED);
		assert_next(f, 12);
		/* The hold point is where the out-of-order bytes begin: too late. */
		assert_false(stream_dir_rewind(&f->d, f->base + 6, f->base + 6));
		/* Before them it works, and they stay known (a different copy
		 * conflicts). */
		assert_true(stream_dir_rewind(&f->d, f->base + 4, f->base + 6));
		assert_next(f, 4);
		assert_int_equal(seg(f, 6, "XXXX\r\n"), STREAM_DROP_CONFLICT);
		fx_end(f);
	}
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_in_order_segments_are_delivered_once_in_order),
	    T(test_rewind_makes_the_retransmission_new),
	    T(test_rewind_refuses_bytes_forwarded_out_of_order),
	    T(test_out_of_order_then_gap_fill_delivers_in_order),
	    T(test_gap_fill_with_holding_off_still_delivers_held_ranges),
	    T(test_duplicate_identical_segment_is_forwarded_not_redelivered),
	    T(test_overlap_with_same_content_is_accepted),
	    T(test_retransmission_with_different_content_is_a_conflict),
	    T(test_out_of_order_overlap_with_different_content_is_a_conflict),
	    T(test_partial_overlap_delivers_only_the_new_bytes),
	    T(test_partial_overlap_with_different_old_bytes_drops_the_whole_segment),
	    T(test_retransmission_of_acked_data_with_different_bytes_is_forwarded),
	    T(test_retransmission_of_partly_acked_data_checks_the_held_rest),
	    T(test_retransmission_of_unacked_data_not_held_is_unverifiable),
	    T(test_retransmission_older_than_the_hold_bound_is_unverifiable),
	    T(test_conflict_wins_over_unverifiable_in_the_same_segment),
	    T(test_wrap_around_in_the_middle_of_a_command),
	    T(test_segment_split_inside_crlf_is_delivered_across_two_segments),
	    T(test_one_byte_per_segment_for_300_bytes),
	    T(test_100_kib_in_order_with_holding_keeps_one_block),
	    T(test_ooo_range_bound_exceeded_is_dropped_and_in_order_still_works),
	    T(test_ooo_beyond_the_ring_is_dropped),
	    T(test_pool_exhaustion_fails_open),
	    T(test_block_size_not_a_power_of_two_uses_the_power_of_two_below),
	    T(test_beyond_the_window_is_dropped),
	    T(test_zero_window_probe_is_delivered_and_held_until_acked),
	    T(test_zero_window_probe_copy_is_released_by_its_ack),
	    T(test_zero_window_longer_segment_is_dropped),
	    T(test_deliver_returning_false_stops_delivery),
	    T(test_stop_during_gap_fill_stops_before_the_held_ranges),
	    T(test_set_hold_inside_the_callback_applies_to_later_bytes),
	    T(test_ack_releases_held_copies_and_then_the_block),
	    T(test_ack_of_bytes_never_delivered_stops_tracking),
	    T(test_release_returns_every_block),
	    T(test_fin_in_order_advances_next_seq_once),
	    T(test_lone_fin_in_order_and_after_retransmitted_data),
	    T(test_fin_out_of_order_is_reached_when_the_gap_fills),
	    T(test_fin_elsewhere_or_data_past_it_is_a_conflict),
	    T(test_fin_inside_acknowledged_data_is_ignored),
	    T(test_ack_of_the_fin_is_accepted),
	    T(test_empty_segment_and_oversized_segment),
	    T(test_direction_state_fits_in_32_bytes),
	    T(test_every_verdict_has_a_unique_name_a_description_and_an_action),
	    T(test_any_segmentation_delivers_the_same_stream),
	};

	return cmocka_run_group_tests_name("stream", tests, NULL, NULL);
}
