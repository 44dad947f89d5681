/*
 * stream: one direction of a TCP session as an in-order byte stream, with
 * out-of-order hold and overlap normalization for an inline box.
 *
 * The caller hands over every segment of the direction (payload and FIN)
 * before forwarding it; the stream answers what to do with the packet and
 * passes the NEW in-order bytes, exactly once each and in order, to a
 * callback (the SMTP parser). Because helogate is inline and drops any later
 * copy of a byte that differs from the one it delivered (while it holds a
 * copy), the receiver can only ever accept the bytes the callback saw.
 *
 * Never allocates: byte copies live in blocks of the caller's block_pool
 * (one block per direction at most, returned as soon as it holds nothing).
 * Never looks at SMTP, packets or mbufs. Single-threaded, like the pool.
 * Sequence numbers may wrap around 2^32 anywhere.
 *
 * Policy (docs/design.md has the reasoning):
 *  - in order: delivered; with holding on, a copy is kept until the peer
 *    acknowledges it (at most one ring of STREAM_RING_MAX bytes or the block
 *    size if smaller: the oldest copies give way to the newest).
 *  - bytes below next_seq: compared with the held copy (different: drop and
 *    taint); without a copy, accepted if already acknowledged (the receiver
 *    discards them whatever they hold), else the stream gives up tracking
 *    (unverifiable, fail open).
 *  - beyond a gap and inside the window: copied (at most STREAM_OOO_RANGES
 *    disjoint ranges inside the same ring) and forwarded; delivered when the
 *    gap fills. No room or no block: dropped, the sender retransmits.
 *  - new bytes starting at or beyond the receiver's window edge: dropped,
 *    except a one-byte zero-window probe at next_seq, which is delivered and
 *    whose copy is kept until acknowledged even with holding off.
 */
#ifndef HG_STREAM_H
#define HG_STREAM_H

#include <stdbool.h>
#include <stdint.h>

struct block_pool;

/* What the caller does with the packet, by verdict. */
enum stream_action {
	STREAM_ACTION_FORWARD,   /* forward it */
	STREAM_ACTION_FAIL_OPEN, /* forward it and stop inspecting the flow (rule 1) */
	STREAM_ACTION_DROP,      /* drop it; the sender retransmits */
	STREAM_ACTION_CALLER,    /* the deliver callback asked to stop: the caller decides */
};

/*
 * Every verdict of stream_dir_segment(). Columns: symbol (STREAM_<sym>),
 * counter name, one-line description, action (STREAM_ACTION_<action>).
 */
#define STREAM_VERDICTS(X)                                                                         \
	X(IN_ORDER, "in-order",                                                                    \
	  "new bytes or a FIN at the next sequence number, after any repeated bytes that matched", \
	  FORWARD)                                                                                 \
	X(OUT_OF_ORDER, "out-of-order",                                                            \
	  "new bytes beyond a gap, inside the window: copied, delivered once the gap fills",       \
	  FORWARD)                                                                                 \
	X(RETRANSMIT, "retransmit",                                                                \
	  "only bytes already seen, identical to the copy held (or already acknowledged)",         \
	  FORWARD)                                                                                 \
	X(RETRANSMIT_ACKED, "retransmit-acked",                                                    \
	  "only bytes the receiver has acknowledged and no copy is held: it discards them "        \
	  "whatever they hold (RFC 9293 3.10.7.4)",                                                \
	  FORWARD)                                                                                 \
	X(ZERO_WINDOW_PROBE, "zero-window-probe",                                                  \
	  "one new byte at the next sequence number while the receiver's window is closed: "       \
	  "delivered, and its copy held until acknowledged",                                       \
	  FORWARD)                                                                                 \
	X(EMPTY, "empty", "no payload and no FIN: nothing to check", FORWARD)                      \
	X(STOPPED, "stopped",                                                                      \
	  "the deliver callback asked to stop: later bytes are tracked but never delivered",       \
	  CALLER)                                                                                  \
	X(UNVERIFIABLE, "unverifiable",                                                            \
	  "repeats unacknowledged bytes of which no copy is held (holding off, copy overflowed, "  \
	  "pool empty): the stream stops tracking",                                                \
	  FAIL_OPEN)                                                                               \
	X(PASSTHROUGH, "passthrough",                                                              \
	  "the stream stopped tracking (after an unverifiable segment or an acknowledgement of "   \
	  "bytes it never saw)",                                                                   \
	  FAIL_OPEN)                                                                               \
	X(DROP_CONFLICT, "drop-conflict",                                                          \
	  "repeats bytes or a FIN position already forwarded, with different content", DROP)       \
	X(DROP_OOO_FULL, "drop-ooo-full",                                                          \
	  "out of order but the flow's ranges or ring, or the pool, are full", DROP)               \
	X(DROP_OUT_OF_WINDOW, "drop-out-of-window",                                                \
	  "new bytes start at or beyond the receiver's window edge (RFC 9293 3.10.7.4)", DROP)

enum stream_verdict {
#define STREAM_VERDICT_ENUM(sym, name, desc, action) STREAM_##sym,
	STREAM_VERDICTS(STREAM_VERDICT_ENUM)
#undef STREAM_VERDICT_ENUM
	    STREAM_VERDICT_COUNT
};

/* The counter name ("in-order", ...); "unknown" when out of range. */
const char *stream_verdict_name(enum stream_verdict verdict);

/* The one-line description; "unknown verdict" when out of range. */
const char *stream_verdict_description(enum stream_verdict verdict);

/* The action for a verdict; STREAM_ACTION_FAIL_OPEN when out of range. */
enum stream_action stream_verdict_action(enum stream_verdict verdict);

/* Bounds per direction. The ring is the first STREAM_RING_MAX bytes of one
 * pool block, rounded down to a power of two, so a 2048-byte block gives a
 * 2048-byte ring holding both the unacknowledged copies and the out-of-order
 * ranges. */
#define STREAM_RING_MAX 32768u
#define STREAM_OOO_RANGES 3

/* window_end value meaning "the receiver's window is not known: don't check". */
#define STREAM_WINDOW_UNKNOWN UINT64_MAX

/* An out-of-order range [next_seq + start, next_seq + end); start >= 1. */
struct stream_range {
	uint16_t start, end;
};

/*
 * One direction, 32 bytes, meant to be embedded in the flow record. Read it
 * only through the functions below.
 */
struct stream_dir {
	uint32_t next_seq; /* next data byte expected; a FIN reached sits here */
	uint32_t acked;    /* highest acknowledgement given to stream_dir_ack() */
	uint32_t block;    /* the ring's block, or BLOCK_POOL_NONE */
	uint16_t held;     /* copies held: [next_seq - held, next_seq) */
	uint16_t fin_off;  /* FIN out of order at next_seq + fin_off; 0: none */
	struct stream_range ooo[STREAM_OOO_RANGES]; /* sorted, disjoint, not touching */
	uint8_t n_ooo;
	uint8_t flags;
};

/*
 * The deliver callback: data[0..len) are the stream bytes starting at
 * sequence number seq, new and in order. Called 0..n times per
 * stream_dir_segment(). Return true to go on; false asks the stream to stop
 * delivering: this call's bytes count as delivered, no later call is made for
 * this direction (the stream keeps tracking and verifying, see STOPPED).
 * It may call stream_dir_set_hold() on its own direction and anything on
 * other directions; nothing else on its own.
 */
typedef bool stream_deliver_fn(void *arg, uint32_t seq, const uint8_t *data, uint32_t len);

/* Start a direction. next_seq: the first data byte (ISN + 1). hold: keep
 * copies of forwarded, unacknowledged bytes so retransmissions are verified.
 * Holds no block. Bytes before next_seq count as acknowledged. */
void stream_dir_init(struct stream_dir *d, uint32_t next_seq, bool hold);

/*
 * One segment of this direction: data[0..len) at sequence number seq, and a
 * FIN after them when fin (the FIN occupies seq + len). window_end: the
 * receiver's right window edge as the caller tracks it (its last ACK plus its
 * window shifted by its scale), or STREAM_WINDOW_UNKNOWN. deliver may be NULL
 * (track and verify only). Returns the verdict; the caller acts on it as its
 * action says and counts it. A segment of 2^30 bytes or more is
 * DROP_OUT_OF_WINDOW (no TCP window is that large, RFC 7323 2.3). Nothing in
 * the direction changes on a DROP verdict.
 */
enum stream_verdict stream_dir_segment(struct stream_dir *d, struct block_pool *pool, uint32_t seq,
                                       const uint8_t *data, uint32_t len, bool fin,
                                       uint64_t window_end, stream_deliver_fn *deliver, void *arg);

/*
 * The receiver acknowledged every byte before ack: copies below it are
 * released (and the block, once it holds nothing). Older or repeated
 * acknowledgements are ignored. Returns false when ack covers bytes this
 * stream never delivered: helogate's view is behind the receiver's, so the
 * stream stops tracking (every later segment is PASSTHROUGH) and the caller
 * stops inspecting (rule 1). True otherwise, and always once the stream
 * no longer tracks. The caller has already dropped acknowledgements of data
 * never sent (rule 3); this is the remaining case.
 */
bool stream_dir_ack(struct stream_dir *d, struct block_pool *pool, uint32_t ack);

/*
 * Turn holding on or off for bytes delivered from now on (the SMTP layer
 * turns it off during a message body and on after it). Copies already held
 * stay until acknowledged or until the next in-order byte arrives with
 * holding off (copies always end at next_seq), so a retransmission of the
 * command that turned holding off is still verified. It only sets a flag
 * (no pool argument: it never frees), so it is safe inside the deliver
 * callback.
 */
void stream_dir_set_hold(struct stream_dir *d, bool hold);

/*
 * The receiver of the bytes delivered by the last stream_dir_segment() took
 * them only up to seq (its reader holds the rest until a reply: the SMTP
 * tracker's hold). Move next_seq back to seq so that the sender's
 * retransmission of [seq, ...) is new again, and delivery resumes. seg_end:
 * the end of that segment's own data. Bytes beyond seg_end that became
 * contiguous from out-of-order copies stay known as out-of-order copies.
 * Returns false, changing nothing, when seq is not before the bytes the
 * segment made contiguous from out-of-order copies (those were forwarded
 * already and would reach the receiver unparsed), or lies outside what the
 * segment delivered.
 */
bool stream_dir_rewind(struct stream_dir *d, uint32_t seq, uint32_t seg_end);

/* The flow is freed: return the block. The direction then tracks nothing
 * (PASSTHROUGH); call stream_dir_init() to use it again. Idempotent. */
void stream_dir_release(struct stream_dir *d, struct block_pool *pool);

/* The next sequence number the receiver expects, FIN included once reached. */
uint32_t stream_dir_next_seq(const struct stream_dir *d);

/* True once the FIN is in order: every byte before it was delivered. */
bool stream_dir_fin_reached(const struct stream_dir *d);

/* True after the deliver callback returned false. */
bool stream_dir_stopped(const struct stream_dir *d);

/* True when the stream stopped tracking (UNVERIFIABLE, stream_dir_ack()
 * returned false, or released). */
bool stream_dir_passthrough(const struct stream_dir *d);

/* Bytes held (acknowledgement pending plus out of order): for tests and stats. */
uint32_t stream_dir_bytes_held(const struct stream_dir *d);

#endif
