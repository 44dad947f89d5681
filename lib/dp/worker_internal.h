/*
 * worker_internal: what the worker's two source files share. worker.c is
 * the packet pipeline (parse, flows, TCP, reassembly, SMTP, verdicts);
 * enforce.c is the takeover of bogus sessions (enforce mode). Nothing
 * outside these two files includes this header.
 */
#ifndef HG_WORKER_INTERNAL_H
#define HG_WORKER_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_mbuf.h>

#include "dp/policy_rcu.h"
#include "judge/policy.h"
#include "tcp/block_pool.h"
#include "filter/event.h"
#include "tcp/flow_table.h"
#include "wire/pkt.h"
#include "smtp/scan.h"
#include "smtp/smtp.h"
#include "tcp/stream.h"
#include "judge/verdict.h"
#include "dp/worker.h"

/* HELO arguments up to this length live in the flow record; longer ones
 * (rare: a valid name is at most 253 octets) take a pool block. */
#define HELO_INLINE_MAX 64
/* Flows expired per loop at most, so the loop never stalls on a timer storm. */
#define EXPIRE_BATCH 64
#define TX_RETRIES 8

enum flow_state {
	FLOW_SYN_SENT,    /* client SYN seen, waiting for the server's SYN-ACK */
	FLOW_ESTABLISHED, /* both ISNs known: inspecting */
	FLOW_PASSTHROUGH, /* no longer inspected; kept only to free it on FIN/RST/timer */
};

#define FLOW_F_TAINTED 0x01  /* a conflicting retransmission was dropped: never take over */
#define FLOW_F_FIN_C2S 0x02
#define FLOW_F_FIN_S2C 0x04
#define FLOW_F_HELO 0x08       /* a HELO/EHLO has been seen */
#define FLOW_F_HELO_BLOCK 0x10 /* the HELO lives in helo_block */
#define FLOW_F_CLIENT_WS 0x20  /* the client's SYN offered window scaling */
#define FLOW_F_CLIENT_TS 0x40  /* the client's SYN offered timestamps */
#define FLOW_F_TS 0x80         /* both SYNs carried timestamps: segments carry them (RFC 7323 3.2) */
#define FLOW_F_TAKEOVER 0x100  /* takeover_block holds a takeover (enforce.c) */

/* One tracked session, the flow table's record (one per concurrent session;
 * docs/design.md gives the memory per flow). */
struct flow {
	struct stream_dir c2s; /* client to server bytes */
	struct stream_dir s2c; /* server to client bytes */
	struct smtp_session smtp;
	uint32_t client_isn, server_isn;
	uint32_t client_ack, server_ack; /* left edges of each side's receive window */
	uint32_t client_wnd, server_wnd; /* windows, already scaled */
	uint32_t helo_block;
	uint16_t helo_len;
	uint8_t state;
	uint16_t flags;
	uint8_t client_wscale, server_wscale; /* negotiated shifts (RFC 7323 2.2) */
	uint32_t takeover_block;  /* struct takeover_state, while FLOW_F_TAKEOVER */
	uint32_t client_tsval, server_tsval; /* latest TSval of each side (RFC 7323) */
	uint32_t server_ts_ms;    /* worker clock (ms) when server_tsval was seen */
	uint16_t server_wnd_raw;  /* the server's last window field, unscaled */
	uint16_t client_mss;
	char helo[HELO_INLINE_MAX];
	uint64_t server_name; /* policy_server_name() of the server's greeting/EHLO reply, 0: none */
};

struct worker {
	unsigned id;
	struct worker_shared shared;
	struct flow_table *flows;
	struct block_pool *pool;
	hs_scratch_t *scratch;
	struct smtp_env smtp_env;
	struct event_ring *events;
	volatile bool *stop;
	bool profiling;
	const struct policy *policy; /* valid until the next quiescent point */
	struct worker_counters counters;
	struct worker_tx tx[WORKER_SIDE_COUNT];
};

/* What the stream and SMTP callbacks need to know about the packet at hand. */
struct flow_ctx {
	struct worker *w;
	struct flow *f;
	const struct flow_key *key;
	const struct pkt_info *pi; /* the segment being processed */
	const uint8_t *frame;
	uint64_t now;
	bool takeover_started; /* enforce_begin() succeeded during this segment */
};

/* Shared by worker.c and enforce.c. */
void worker_forward(struct worker *w, struct rte_mbuf *m, enum worker_side from);
void worker_flow_pass(struct worker *w, struct flow *f);
void worker_flow_free(struct worker *w, int32_t idx, struct flow *f);
const char *worker_flow_helo(struct worker *w, const struct flow *f);
void worker_emit_event(struct worker *w, const struct flow_key *key, const struct flow *f,
		       const char *command, enum verdict_reason reason, enum event_action action,
		       const uint8_t *rcpt_arg, uint32_t rcpt_len);

/* enforce.c: the takeover of bogus sessions. */

/* At a bogus RCPT or STARTTLS in enforce mode: start a takeover at this
 * command. Returns false (the caller lets the session through) when the
 * session cannot be taken over (tainted, no block, the line ended in held
 * out-of-order bytes, an L2 header too long). */
bool enforce_begin(struct worker *w, struct flow_ctx *ctx, const struct smtp_command *cmd,
		   enum verdict_reason reason);
/* After the segment that started a takeover: forward the part before the
 * command (trimmed) or drop it, then take over if the session is quiet. */
void enforce_after_start(struct worker *w, struct rte_mbuf *m, enum worker_side from, int32_t idx,
			 struct flow *f, const struct flow_key *key, const struct pkt_info *pi,
			 uint64_t now);
/* Any segment of a flow with FLOW_F_TAKEOVER. Returns true when it consumed
 * (forwarded, dropped or answered) the packet, false when the ordinary path
 * must process it (server segments while the takeover waits). */
bool enforce_packet(struct worker *w, struct rte_mbuf *m, enum worker_side from, int32_t idx,
		    struct flow *f, const struct flow_key *key, const struct pkt_info *pi,
		    const uint8_t *frame, bool c2s, uint64_t now);
/* After the ordinary path handled a server segment of a waiting takeover. */
void enforce_check_quiet(struct worker *w, int32_t idx, struct flow *f, const struct flow_key *key,
			 uint64_t now);
/* The flow's timer ran out; returns true to keep the flow (new deadline set). */
bool enforce_timer(struct worker *w, int32_t idx, struct flow *f, uint64_t now);
/* Return the takeover's block (flow freed or passed through). */
void enforce_release(struct worker *w, struct flow *f);

#endif
