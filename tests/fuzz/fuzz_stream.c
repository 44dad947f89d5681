/*
 * libFuzzer target for lib/stream: one stream_dir on a small pool driven by
 * a sequence of operations read from the input, checked against a model.
 *
 * Input: 4 bytes ISN, 1 byte setup (block size, holding), then 6-byte
 * operations: kind/flags, 16-bit offset from ISN + 1, 16-bit length, one
 * spare byte. Segment bytes come from a fixed reference stream, optionally
 * with one byte flipped, so that both agreeing and conflicting copies occur.
 *
 * Invariants (abort() on violation):
 *  - delivery: every call carries the next sequence number, nothing is
 *    delivered after the callback returned false;
 *  - inspect exactly what is forwarded (rule 2): every byte of a forwarded
 *    segment at or above the acknowledgement equals any earlier forwarded
 *    copy of that byte and, where delivered, the delivered byte, unless the
 *    stream gave up tracking (fail open);
 *  - a drop changes nothing; next_seq matches what was delivered;
 *  - at most one block in use, held bytes within the ring, and every block
 *    back in the pool after stream_dir_release().
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tcp/block_pool.h"
#include "tcp/stream.h"
#include "wire/tcp_seq.h"

#define MODEL_MAX (65536u + 4096u)

struct model {
	uint32_t base;
	uint8_t delivered[MODEL_MAX];
	uint32_t n_delivered;
	uint8_t fwd[MODEL_MAX];
	uint8_t fwd_valid[MODEL_MAX];
	uint32_t acked; /* offset from base */
	unsigned calls, stop_at;
	bool stopped;
};

static struct model m;

static void check(int ok)
{
	if (!ok)
		abort();
}

static uint8_t ref_byte(uint32_t off)
{
	return (uint8_t)((off * 2654435761u) >> 13);
}

static bool sink(void *arg, uint32_t seq, const uint8_t *data, uint32_t len)
{
	(void)arg;
	check(!m.stopped);
	check(len > 0);
	check(seq == m.base + m.n_delivered);
	check(m.n_delivered + len <= MODEL_MAX);
	memcpy(m.delivered + m.n_delivered, data, len);
	m.n_delivered += len;
	m.calls++;
	if (m.stop_at && m.calls >= m.stop_at) {
		m.stopped = true;
		return false;
	}
	return true;
}

static bool forwarded_and_tracked(enum stream_verdict v)
{
	return v == STREAM_IN_ORDER || v == STREAM_OUT_OF_ORDER || v == STREAM_RETRANSMIT ||
	       v == STREAM_ZERO_WINDOW_PROBE || v == STREAM_STOPPED;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint32_t block_sizes[4] = {64, 100, 256, 2048};
	static uint8_t buf[4096];
	struct block_pool *pool;
	struct stream_dir d;
	uint64_t window_end = STREAM_WINDOW_UNKNOWN;
	uint32_t isn, ring;
	bool fail_open = false;

	if (size < 5)
		return 0;
	memcpy(&isn, data, 4);
	pool = block_pool_create(block_sizes[data[4] & 3], 2);
	if (!pool)
		abort();
	ring = block_sizes[data[4] & 3] == 100 ? 64 : block_sizes[data[4] & 3];
	memset(&m, 0, sizeof(m));
	m.base = isn + 1;
	stream_dir_init(&d, m.base, (data[4] & 4) == 0);
	data += 5;
	size -= 5;

	for (unsigned ops = 0; size >= 6 && ops < 4000; ops++, data += 6, size -= 6) {
		uint8_t kind = data[0];
		uint32_t off = (uint32_t)data[1] | (uint32_t)data[2] << 8;
		uint32_t len = ((uint32_t)data[3] | (uint32_t)data[4] << 8) % sizeof(buf);
		bool fin = kind & 0x10;

		switch (kind & 7) {
		case 0:
		case 1:
		case 2: {
			uint32_t before_next = stream_dir_next_seq(&d);
			uint32_t before_held = stream_dir_bytes_held(&d);
			uint32_t before_delivered = m.n_delivered;
			enum stream_verdict v;

			if (kind & 0x20)
				len %= 8; /* mostly small segments */
			for (uint32_t k = 0; k < len; k++)
				buf[k] = ref_byte(off + k);
			if ((kind & 0x40) && len)
				buf[data[5] % len] ^= 1 + (data[5] >> 7);
			v = stream_dir_segment(&d, pool, m.base + off, buf, len, fin, window_end,
			                       sink, NULL);
			check((unsigned)v < STREAM_VERDICT_COUNT);
			if (stream_verdict_action(v) == STREAM_ACTION_DROP) {
				check(stream_dir_next_seq(&d) == before_next);
				check(stream_dir_bytes_held(&d) == before_held);
				check(m.n_delivered == before_delivered);
			}
			if (stream_verdict_action(v) == STREAM_ACTION_FAIL_OPEN)
				fail_open = true;
			if (fail_open)
				break;
			check(forwarded_and_tracked(v) || v == STREAM_RETRANSMIT_ACKED ||
			      v == STREAM_EMPTY || stream_verdict_action(v) == STREAM_ACTION_DROP);
			/* Forwarded bytes above the acknowledgement are bytes the
			 * receiver may take: record them and compare with what
			 * was (or now is) delivered there. */
			if (forwarded_and_tracked(v)) {
				for (uint32_t k = 0; k < len; k++) {
					uint32_t o = off + k;

					if (o < m.acked)
						continue;
					/* Two unacknowledged copies that differ: the
					 * receiver might take either. */
					check(!m.fwd_valid[o] || m.fwd[o] == buf[k]);
					m.fwd[o] = buf[k];
					m.fwd_valid[o] = 1;
					if (o < m.n_delivered)
						check(m.delivered[o] == buf[k]);
				}
			}
			for (uint32_t o = before_delivered > m.acked ? before_delivered : m.acked;
			     o < m.n_delivered; o++)
				check(!m.fwd_valid[o] || m.fwd[o] == m.delivered[o]);
			break;
		}
		case 3:
		case 4:
			if (!stream_dir_ack(&d, pool, m.base + off)) {
				check(seq_gt(m.base + off, stream_dir_next_seq(&d)) ||
				      stream_dir_passthrough(&d));
				fail_open = true;
			} else if (!fail_open && off > m.acked) {
				m.acked = off;
			}
			break;
		case 5:
			window_end =
			    (kind & 0x08) ? STREAM_WINDOW_UNKNOWN : (uint64_t)(m.base + off);
			break;
		case 6:
			stream_dir_set_hold(&d, kind & 0x08);
			break;
		case 7:
			if (!m.stop_at)
				m.stop_at = m.calls + 1 + data[5] % 8;
			break;
		}
		check(block_pool_in_use(pool) <= 1);
		check(stream_dir_bytes_held(&d) <= ring);
		if (!fail_open) {
			uint32_t tracked =
			    stream_dir_next_seq(&d) - m.base - (stream_dir_fin_reached(&d) ? 1 : 0);

			check(m.stopped ? tracked >= m.n_delivered : tracked == m.n_delivered);
		}
	}
	stream_dir_release(&d, pool);
	check(block_pool_in_use(pool) == 0);
	block_pool_free(pool);
	return 0;
}
