#include "dp/worker.h"
#include "dp/worker_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_prefetch.h>

#include "dp/policy_rcu.h"
#include "tcp/block_pool.h"
#include "filter/event.h"
#include "tcp/flow_table.h"
#include "wire/pkt.h"
#include "smtp/rcpt.h"
#include "smtp/scan.h"
#include "smtp/smtp.h"
#include "tcp/stream.h"
#include "wire/tcp_seq.h"
#include "judge/verdict.h"

static const struct smtp_handler flow_smtp_handler;

/* Stage timing for the benchmark: free when profiling is off but a branch. */
static inline uint64_t prof_start(const struct worker *w)
{
	return w->profiling ? rte_rdtsc() : 0;
}

static inline void prof_add(struct worker *w, enum worker_stage stage, uint64_t start)
{
	if (w->profiling)
		w->counters.stage_cycles[stage] += rte_rdtsc() - start;
}

uint64_t worker_clock_ms(void)
{
	static uint64_t hz_per_ms;

	if (hz_per_ms == 0)
		hz_per_ms = rte_get_tsc_hz() / 1000;
	return rte_get_tsc_cycles() / hz_per_ms;
}

struct worker *worker_create(unsigned id, const struct worker_shared *shared, char *err,
			     size_t err_size)
{
	const struct config *cfg = shared->cfg;
	struct worker *w = aligned_alloc(64, sizeof(*w));

	if (w == NULL) {
		snprintf(err, err_size, "worker %u: out of memory", id);
		return NULL;
	}
	memset(w, 0, sizeof(*w));
	w->id = id;
	w->shared = *shared;
	w->flows = flow_table_create(cfg->flows_per_worker, sizeof(struct flow), err, err_size);
	if (w->flows == NULL)
		goto fail;
	w->pool = block_pool_create(2048, cfg->blocks_per_worker);
	w->events = event_ring_create(cfg->event_ring_size);
	if (w->pool == NULL || w->events == NULL) {
		snprintf(err, err_size, "worker %u: cannot allocate %u blocks and %u events", id,
			 cfg->blocks_per_worker, cfg->event_ring_size);
		goto fail;
	}
	w->scratch = scan_scratch_alloc(shared->commands, err, err_size);
	if (w->scratch == NULL)
		goto fail;
	if (smtp_env_init(&w->smtp_env, w->pool, shared->commands, w->scratch, cfg->line_max, err,
			  err_size) != 0)
		goto fail;
	if (policy_rcu_reader_register(shared->policy, id) != 0) {
		snprintf(err, err_size, "worker %u: cannot register as an RCU reader", id);
		goto fail;
	}
	return w;
fail:
	worker_free(w);
	return NULL;
}

void worker_free(struct worker *w)
{
	if (w == NULL)
		return;
	flow_table_free(w->flows);
	block_pool_free(w->pool);
	event_ring_free(w->events);
	scan_scratch_free(w->scratch);
	free(w);
}

/* ---- output ---------------------------------------------------------------------------- */

static enum worker_side output_side(enum worker_side from)
{
	switch (from) {
	case WORKER_SIDE_OUTSIDE:
		return WORKER_SIDE_INSIDE;
	case WORKER_SIDE_INSIDE:
		return WORKER_SIDE_OUTSIDE;
	default:
		return WORKER_SIDE_LAB;
	}
}

void worker_forward(struct worker *w, struct rte_mbuf *m, enum worker_side from)
{
	struct worker_tx *tx = &w->tx[output_side(from)];

	if (tx->count == WORKER_TX_MAX) {
		/* Cannot happen with bursts below WORKER_TX_MAX: the caller
		 * drains after every burst. Counted rather than assumed. */
		w->counters.tx_failed++;
		rte_pktmbuf_free(m);
		return;
	}
	tx->pkts[tx->count++] = m;
}

static void drop(struct rte_mbuf *m)
{
	rte_pktmbuf_free(m);
}

/* ---- flow lifetime --------------------------------------------------------------------- */

static void flow_release(struct worker *w, struct flow *f)
{
	stream_dir_release(&f->c2s, w->pool);
	stream_dir_release(&f->s2c, w->pool);
	smtp_session_release(&f->smtp, w->pool);
	enforce_release(w, f);
	if (f->flags & FLOW_F_HELO_BLOCK) {
		block_pool_put(w->pool, f->helo_block);
		f->flags &= (uint16_t)~FLOW_F_HELO_BLOCK;
	}
}

void worker_flow_free(struct worker *w, int32_t idx, struct flow *f)
{
	flow_release(w, f);
	flow_table_remove(w->flows, idx);
}

/* Stop inspecting: the session is forwarded untouched until it ends, and is
 * never taken over (reliability rule 1). Its memory is returned now. */
void worker_flow_pass(struct worker *w, struct flow *f)
{
	if (f->state == FLOW_PASSTHROUGH)
		return;
	flow_release(w, f);
	f->state = FLOW_PASSTHROUGH;
}

struct expire_ctx {
	struct worker *w;
	uint64_t now;
};

static bool on_expire(void *arg, int32_t idx, void *record)
{
	struct expire_ctx *ctx = arg;
	struct flow *f = record;

	/* A takeover's timers (retransmission, waiting, lifetime) come first. */
	if ((f->flags & FLOW_F_TAKEOVER) && enforce_timer(ctx->w, idx, f, ctx->now))
		return true;
	flow_release(ctx->w, f);
	ctx->w->counters.flows_expired++;
	return false;
}

void worker_expire(struct worker *w, uint64_t now_ms)
{
	struct expire_ctx ctx = {.w = w, .now = now_ms};

	flow_table_expire(w->flows, now_ms, EXPIRE_BATCH, on_expire, &ctx);
}

/* ---- verdicts and events --------------------------------------------------------------- */

const char *worker_flow_helo(struct worker *w, const struct flow *f)
{
	if (f->flags & FLOW_F_HELO_BLOCK)
		return (const char *)block_pool_data(w->pool, f->helo_block);
	return f->helo;
}

/* Remember the session's HELO/EHLO argument; a new one replaces the old. */
static bool flow_store_helo(struct worker *w, struct flow *f, const uint8_t *arg, uint32_t len)
{
	if (f->flags & FLOW_F_HELO_BLOCK) {
		block_pool_put(w->pool, f->helo_block);
		f->flags &= (uint16_t)~FLOW_F_HELO_BLOCK;
	}
	if (len > HELO_INLINE_MAX) {
		uint32_t block = block_pool_get(w->pool);
		if (block == BLOCK_POOL_NONE)
			return false;
		if (len > block_pool_block_size(w->pool))
			len = block_pool_block_size(w->pool); /* line_max <= block size: cannot happen */
		memcpy(block_pool_data(w->pool, block), arg, len);
		f->helo_block = block;
		f->flags |= FLOW_F_HELO_BLOCK;
	} else {
		memcpy(f->helo, arg, len);
	}
	f->helo_len = (uint16_t)len;
	f->flags |= FLOW_F_HELO;
	return true;
}

void worker_emit_event(struct worker *w, const struct flow_key *key, const struct flow *f,
		       const char *command, enum verdict_reason reason, enum event_action action,
		       const uint8_t *rcpt_arg, uint32_t rcpt_len)
{
	struct event *e = event_ring_reserve(w->events);
	struct timespec now;

	if (e == NULL) {
		w->counters.events_dropped++;
		return;
	}
	clock_gettime(CLOCK_REALTIME, &now);
	e->ts_ns = (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
	e->worker = (uint16_t)w->id;
	e->action = (uint8_t)action;
	e->reason = (uint8_t)reason;
	memcpy(e->client.bytes, key->client, 16);
	memcpy(e->server.bytes, key->server, 16);
	e->client.family = e->server.family = key->family;
	e->client_port = key->client_port;
	e->server_port = key->server_port;
	snprintf(e->command, sizeof(e->command), "%s", command);
	event_set_helo(e, worker_flow_helo(w, f), f->helo_len);
	if (rcpt_arg != NULL) {
		struct rcpt_address addr;
		if (rcpt_parse((const char *)rcpt_arg, rcpt_len, &addr)) {
			event_set_rcpt(e, addr.mailbox, addr.mailbox_len);
		} else {
			/* rcpt_parse refuses NUL bytes and broken quoting; the
			 * event still names the address: the text between the
			 * angle brackets (or all of it), bytes as they are. */
			const uint8_t *a = rcpt_arg, *end = rcpt_arg + rcpt_len;
			while (a < end && (*a == ' ' || *a == '\t'))
				a++;
			if (a < end && *a == '<') {
				const uint8_t *close = memchr(a + 1, '>', (size_t)(end - a - 1));
				if (close != NULL) {
					end = close;
					a++;
				}
			}
			event_set_rcpt(e, a, (size_t)(end - a));
		}
	}
	event_ring_commit(w->events);
	w->counters.events_written++;
}

/* Judge the session's HELO; rcpt_arg is the text after "RCPT TO:", or NULL
 * at STARTTLS. A session that never said HELO/EHLO is judged on an empty
 * name, which is `invalid` (RFC 5321 4.1.4: a session starts with EHLO or
 * HELO). */
static enum verdict_reason judge(struct worker *w, const struct flow_ctx *ctx, const struct flow *f,
				 const uint8_t *rcpt_arg, uint32_t rcpt_len)
{
	struct ip_addr client = {.family = ctx->key->family}, server = {.family = ctx->key->family};

	memcpy(client.bytes, ctx->key->client, 16);
	memcpy(server.bytes, ctx->key->server, 16);
	struct policy_input in = {
		.client = &client,
		.server = &server,
		.helo = worker_flow_helo(w, f),
		.helo_len = f->helo_len,
		.rcpt = (const char *)rcpt_arg,
		.rcpt_len = rcpt_len,
		.server_name = f->server_name,
		.reader = w->id,
	};
	uint64_t t0 = prof_start(w);
	enum verdict_reason reason = policy_judge(w->policy, &in);
	prof_add(w, WORKER_STAGE_VERDICT, t0);
	w->counters.judged++;
	w->counters.verdicts[reason]++;
	if (reason == VERDICT_ALLOWED)
		w->counters.allowed++;
	return reason;
}

static enum smtp_action on_command(void *arg, const struct smtp_command *cmd)
{
	struct flow_ctx *ctx = arg;
	struct worker *w = ctx->w;
	struct flow *f = ctx->f;

	w->counters.commands++;
	switch (cmd->verb) {
	case SMTP_VERB_HELO:
	case SMTP_VERB_EHLO:
		w->counters.helos++;
		if (!flow_store_helo(w, f, cmd->arg, cmd->arg_len)) {
			w->counters.helo_no_memory++;
			worker_flow_pass(w, f);
			return SMTP_STOP;
		}
		return SMTP_CONTINUE;
	case SMTP_VERB_RCPT:
	case SMTP_VERB_STARTTLS: {
		/* At STARTTLS nothing more can be seen after a 220: judge now,
		 * without a recipient. */
		bool rcpt = cmd->verb == SMTP_VERB_RCPT;
		enum verdict_reason reason =
			judge(w, ctx, f, rcpt ? cmd->arg : NULL, rcpt ? cmd->arg_len : 0);
		enum policy_action action = policy_action(w->policy, reason);
		if (action == POLICY_OFF) /* ok, allowed, or --action REASON=off */
			return SMTP_CONTINUE;
		if (action == POLICY_ENFORCE && enforce_begin(w, ctx, cmd, reason))
			return SMTP_STOP;
		w->counters.detected[reason]++;
		worker_emit_event(w, ctx->key, f, rcpt ? "RCPT" : "STARTTLS", reason,
				  EVENT_ACTION_DETECTED, rcpt ? cmd->arg : NULL,
				  rcpt ? cmd->arg_len : 0);
		return SMTP_CONTINUE;
	}
	default:
		return SMTP_CONTINUE;
	}
}

static void on_reply(void *arg, const struct smtp_reply *reply)
{
	struct flow_ctx *ctx = arg;

	ctx->w->counters.replies++;
	/* The server's own name, from its greeting or HELO/EHLO reply:
	 * "Hello, I'm you" by name needs no configuration. */
	if ((reply->verb == SMTP_VERB_GREETING && reply->code == 220) ||
	    ((reply->verb == SMTP_VERB_EHLO || reply->verb == SMTP_VERB_HELO) && reply->code == 250)) {
		uint64_t name = policy_server_name(reply->text, reply->text_len);
		if (name != 0)
			ctx->f->server_name = name;
	}
}

static const struct smtp_handler flow_smtp_handler = {
	.on_command = on_command,
	.on_reply = on_reply,
};

static bool deliver_client(void *arg, uint32_t seq, const uint8_t *data, uint32_t len)
{
	struct flow_ctx *ctx = arg;
	struct flow *f = ctx->f;

	if (f->state != FLOW_ESTABLISHED)
		return false;
	uint64_t t0 = prof_start(ctx->w);
	enum smtp_status st = smtp_feed_client(&f->smtp, &ctx->w->smtp_env, &flow_smtp_handler, ctx,
					       seq, data, len);
	prof_add(ctx->w, WORKER_STAGE_SMTP, t0);
	/* A message body is not inspected, so its copies need not be held. */
	stream_dir_set_hold(&f->c2s, !smtp_in_body(&f->smtp));
	return st == SMTP_STATUS_CONTINUE;
}

static bool deliver_server(void *arg, uint32_t seq, const uint8_t *data, uint32_t len)
{
	struct flow_ctx *ctx = arg;
	struct flow *f = ctx->f;

	if (f->state != FLOW_ESTABLISHED)
		return false;
	uint64_t t0 = prof_start(ctx->w);
	enum smtp_status st = smtp_feed_server(&f->smtp, &ctx->w->smtp_env, &flow_smtp_handler, ctx,
					       seq, data, len);
	prof_add(ctx->w, WORKER_STAGE_SMTP, t0);
	stream_dir_set_hold(&f->c2s, !smtp_in_body(&f->smtp));
	return st == SMTP_STATUS_CONTINUE;
}

/* After a feed: a session the SMTP layer gave up is passed through. */
static void check_smtp(struct worker *w, struct flow *f)
{
	if (f->state == FLOW_ESTABLISHED &&
	    smtp_session_status(&f->smtp) == SMTP_STATUS_PASSTHROUGH) {
		w->counters.smtp_stops[smtp_session_stop_reason(&f->smtp)]++;
		worker_flow_pass(w, f);
	}
}

/* ---- TCP --------------------------------------------------------------------------------- */

static void flow_start(struct flow *f, const struct pkt_info *pi)
{
	memset(f, 0, sizeof(*f));
	f->state = FLOW_SYN_SENT;
	f->client_isn = pi->seq;
	f->helo_block = BLOCK_POOL_NONE;
	f->takeover_block = BLOCK_POOL_NONE;
	/* Both directions and the SMTP session start out holding no block, so
	 * freeing a flow before its SYN-ACK (RST, SYN timeout, a flow passed
	 * through early) returns nothing: a zeroed record would name block 0. */
	stream_dir_init(&f->c2s, pi->seq + 1, false);
	stream_dir_init(&f->s2c, 0, false);
	smtp_session_init(&f->smtp);
	if (pi->opts.present & TCP_OPT_WSCALE) {
		f->flags |= FLOW_F_CLIENT_WS;
		f->client_wscale = pi->opts.wscale;
	}
	if (pi->opts.present & TCP_OPT_TIMESTAMP) {
		f->flags |= FLOW_F_CLIENT_TS;
		f->client_tsval = pi->opts.tsval;
	}
	/* RFC 9293 3.7.1: without the option the peer's MSS is 536 (IPv4). */
	f->client_mss = (pi->opts.present & TCP_OPT_MSS) ? pi->opts.mss : 536;
}

/* The server's SYN-ACK: both ISNs known, both streams start. */
static void flow_established(struct flow *f, const struct pkt_info *pi, uint64_t now)
{
	f->server_isn = pi->seq;
	if ((f->flags & FLOW_F_CLIENT_TS) && (pi->opts.present & TCP_OPT_TIMESTAMP)) {
		f->flags |= FLOW_F_TS;
		f->server_tsval = pi->opts.tsval;
		f->server_ts_ms = (uint32_t)now;
	}
	f->server_wnd_raw = pi->window;
	/* RFC 7323 2.2: scaling applies only when both SYNs carried the option. */
	if ((f->flags & FLOW_F_CLIENT_WS) && (pi->opts.present & TCP_OPT_WSCALE)) {
		f->server_wscale = pi->opts.wscale;
	} else {
		f->client_wscale = 0;
		f->server_wscale = 0;
	}
	stream_dir_init(&f->c2s, f->client_isn + 1, true);
	stream_dir_init(&f->s2c, f->server_isn + 1, false);
	smtp_session_init(&f->smtp);
	f->server_ack = pi->ack;
	f->server_wnd = pi->window; /* a SYN's window is never scaled (RFC 7323 2.2) */
	f->client_ack = f->server_isn + 1;
	f->client_wnd = UINT16_MAX;
	f->state = FLOW_ESTABLISHED;
}

/* The acknowledgement, window and timestamp a segment carries about its
 * sender; kept even when not inspecting (RSTs are judged with them) and
 * needed to impersonate the server after a takeover. */
static void flow_note_peer_state(struct flow *f, const struct pkt_info *pi, bool c2s, uint64_t now)
{
	bool ts = (pi->opts.present & TCP_OPT_TIMESTAMP) != 0;

	if (c2s) {
		if (pi->tcp_flags & TCP_FLAG_ACK) {
			f->client_ack = pi->ack;
			f->client_wnd = (uint32_t)pi->window << f->client_wscale;
		}
		if (ts)
			f->client_tsval = pi->opts.tsval;
	} else {
		if (pi->tcp_flags & TCP_FLAG_ACK) {
			f->server_ack = pi->ack;
			f->server_wnd = (uint32_t)pi->window << f->server_wscale;
			f->server_wnd_raw = pi->window;
		}
		if (ts) {
			f->server_tsval = pi->opts.tsval;
			f->server_ts_ms = (uint32_t)now;
		}
	}
}

/* RFC 5961 3.2: a RST is acceptable only at exactly the next expected
 * sequence number; elsewhere in the window the receiver answers with a
 * challenge ACK and stays; outside the window it ignores the RST. */
static void handle_rst(struct worker *w, struct rte_mbuf *m, enum worker_side from, int32_t idx,
		       struct flow *f, const struct pkt_info *pi, bool c2s)
{
	if (f->state == FLOW_SYN_SENT) {
		/* The server refusing the connection (RFC 9293 3.10.7.3), or
		 * the client abandoning it. */
		bool refusal = !c2s && (pi->tcp_flags & TCP_FLAG_ACK) && pi->ack == f->client_isn + 1;
		if (refusal || (c2s && pi->seq == f->client_isn + 1)) {
			w->counters.flows_reset++;
			worker_flow_free(w, idx, f);
			worker_forward(w, m, from);
		} else {
			w->counters.rst_out_of_window_dropped++;
			drop(m);
		}
		return;
	}
	uint32_t expected, wnd;
	if (f->state == FLOW_ESTABLISHED) {
		expected = stream_dir_next_seq(c2s ? &f->c2s : &f->s2c);
	} else {
		expected = c2s ? f->server_ack : f->client_ack;
	}
	wnd = c2s ? f->server_wnd : f->client_wnd;
	if (pi->seq == expected) {
		w->counters.flows_reset++;
		worker_flow_free(w, idx, f);
		worker_forward(w, m, from);
	} else if (seq_in_range(pi->seq, expected, expected + (wnd ? wnd : 1))) {
		w->counters.rst_in_window_forwarded++;
		worker_forward(w, m, from);
	} else {
		w->counters.rst_out_of_window_dropped++;
		drop(m);
	}
}

/* A segment of an established (or passed-through) session. */
static void handle_established(struct worker *w, struct rte_mbuf *m, enum worker_side from,
			       int32_t idx, struct flow *f, const struct flow_key *key,
			       const struct pkt_info *pi, const uint8_t *frame, bool c2s, uint64_t now)
{
	struct flow_ctx ctx = {.w = w, .f = f, .key = key, .pi = pi, .frame = frame, .now = now};
	bool fin = (pi->tcp_flags & TCP_FLAG_FIN) != 0;

	/* The acknowledgement and window this segment carries are about the
	 * other direction; kept even when not inspecting, to judge RSTs. */
	flow_note_peer_state(f, pi, c2s, now);
	if (f->state == FLOW_PASSTHROUGH) {
		w->counters.passthrough_forwarded++;
		goto forward_and_track_end;
	}
	if ((pi->tcp_flags & TCP_FLAG_URG) && pi->payload_len > 0) {
		/* Urgent data may or may not be inline at the receiver
		 * (RFC 6093): its stream is ambiguous. */
		w->counters.urgent_passthrough++;
		worker_flow_pass(w, f);
		w->counters.passthrough_forwarded++;
		goto forward_and_track_end;
	}
	if (pi->tcp_flags & TCP_FLAG_ACK) {
		if (!stream_dir_ack(c2s ? &f->s2c : &f->c2s, w->pool, pi->ack)) {
			w->counters.stream_verdicts[STREAM_PASSTHROUGH]++;
			worker_flow_pass(w, f);
			w->counters.passthrough_forwarded++;
			goto forward_and_track_end;
		}
	}
	if (pi->payload_len == 0 && !fin) {
		w->counters.stream_verdicts[STREAM_EMPTY]++;
		worker_forward(w, m, from);
		flow_table_set_expiry(w->flows, idx, now + w->shared.cfg->timeout_idle_ms);
		return;
	}
	struct stream_dir *dir = c2s ? &f->c2s : &f->s2c;
	uint32_t recv_ack = c2s ? f->server_ack : f->client_ack;
	uint32_t recv_wnd = c2s ? f->server_wnd : f->client_wnd;
	uint64_t t0 = prof_start(w);
	enum stream_verdict v = stream_dir_segment(dir, w->pool, pi->seq, frame + pi->payload_offset,
						   pi->payload_len, fin,
						   (uint64_t)(uint32_t)(recv_ack + recv_wnd),
						   c2s ? deliver_client : deliver_server, &ctx);
	prof_add(w, WORKER_STAGE_REASSEMBLY, t0);
	w->counters.stream_verdicts[v]++;
	if (ctx.takeover_started) {
		enforce_after_start(w, m, from, idx, f, key, pi, now);
		return;
	}
	switch (stream_verdict_action(v)) {
	case STREAM_ACTION_FORWARD:
		break;
	case STREAM_ACTION_CALLER:
		check_smtp(w, f);
		break;
	case STREAM_ACTION_FAIL_OPEN:
		worker_flow_pass(w, f);
		break;
	case STREAM_ACTION_DROP_TAINT:
		if (!(f->flags & FLOW_F_TAINTED))
			w->counters.flows_tainted++;
		f->flags |= FLOW_F_TAINTED;
		/* fall through */
	case STREAM_ACTION_DROP:
		drop(m);
		return;
	}
	check_smtp(w, f);
forward_and_track_end:
	if (fin)
		f->flags |= c2s ? FLOW_F_FIN_C2S : FLOW_F_FIN_S2C;
	worker_forward(w, m, from);
	if ((f->flags & (FLOW_F_FIN_C2S | FLOW_F_FIN_S2C)) == (FLOW_F_FIN_C2S | FLOW_F_FIN_S2C)) {
		/* Both sides closed: the last ACK needs no state (it is forwarded
		 * untracked). */
		w->counters.flows_closed++;
		worker_flow_free(w, idx, f);
		return;
	}
	uint32_t timeout = (f->flags & (FLOW_F_FIN_C2S | FLOW_F_FIN_S2C))
				   ? w->shared.cfg->timeout_closing_ms
				   : w->shared.cfg->timeout_idle_ms;
	flow_table_set_expiry(w->flows, idx, now + timeout);
}

/* Checksums: trust the port when it checked; otherwise verify in software
 * (the end host would drop a bad segment: reliability rule 3). */
static bool checksum_ok(const struct worker *w, const struct rte_mbuf *m, const uint8_t *frame,
			const struct pkt_info *pi)
{
	uint64_t l4 = m->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK;

	if (l4 == RTE_MBUF_F_RX_L4_CKSUM_GOOD)
		return true;
	if (l4 == RTE_MBUF_F_RX_L4_CKSUM_BAD)
		return false;
	if (!w->shared.cfg->verify_checksums)
		return true;
	if (pi->ip_version == 4 && !pkt_ipv4_checksum_ok(frame, pi))
		return false;
	return pkt_tcp_checksum_ok(frame, pi);
}

/* What the first pass over a burst learns about a packet. */
struct classified {
	struct pkt_info pi;
	struct flow_key key;
	uint32_t hash;
	enum pkt_action action;
	bool c2s;
	bool tracked; /* TCP to or from an SMTP port: needs its flow */
};

/* What the second pass does with a packet; the first pass only decides,
 * so packets leave in the order they came. */
enum disposition { DISPOSE_FORWARD, DISPOSE_DROP, DISPOSE_TRACK };

/* First pass: parse, count, and for SMTP segments build the flow key and
 * hash and prefetch the flow's bucket. */
static enum disposition classify_packet(struct worker *w, struct rte_mbuf *m,
					enum worker_side from, struct classified *c)
{
	const struct config *cfg = w->shared.cfg;
	struct pkt_info *pi = &c->pi;

	w->counters.rx_packets++;
	w->counters.rx_bytes += m->pkt_len;
	if (m->nb_segs > 1) {
		w->counters.multiseg_forwarded++;
		return DISPOSE_FORWARD;
	}
	const uint8_t *frame = rte_pktmbuf_mtod(m, const uint8_t *);
	uint64_t t0 = prof_start(w);
	enum pkt_result r = pkt_parse(frame, m->data_len, pi);
	prof_add(w, WORKER_STAGE_PARSE, t0);
	w->counters.pkt_results[r]++;
	c->action = pkt_result_action(r);
	if (c->action == PKT_ACTION_FORWARD) {
		w->counters.fast_path++;
		return DISPOSE_FORWARD;
	}
	if (c->action == PKT_ACTION_DROP) {
		w->counters.malformed_dropped++;
		return DISPOSE_DROP;
	}
	/* Which side is the client: the side talking to an SMTP port. From the
	 * outside only clients are expected, from the inside only servers. */
	if (from != WORKER_SIDE_INSIDE && config_is_smtp_port(cfg, pi->dst_port))
		c->c2s = true;
	else if (from != WORKER_SIDE_OUTSIDE && config_is_smtp_port(cfg, pi->src_port))
		c->c2s = false;
	else {
		w->counters.fast_path++;
		return DISPOSE_FORWARD;
	}
	t0 = prof_start(w);
	struct flow_key *key = &c->key;
	memset(key, 0, sizeof(*key));
	key->family = pi->ip_version;
	memcpy(key->client, (c->c2s ? &pi->src : &pi->dst)->bytes, 16);
	memcpy(key->server, (c->c2s ? &pi->dst : &pi->src)->bytes, 16);
	key->client_port = c->c2s ? pi->src_port : pi->dst_port;
	key->server_port = c->c2s ? pi->dst_port : pi->src_port;
	c->hash = flow_key_hash(key);
	flow_table_prefetch(w->flows, c->hash);
	prof_add(w, WORKER_STAGE_FLOW, t0);
	return DISPOSE_TRACK;
}

/* Second pass: everything that needs the flow. */
static void handle_packet(struct worker *w, struct rte_mbuf *m, enum worker_side from, uint64_t now,
			  struct classified *c)
{
	const struct config *cfg = w->shared.cfg;
	const struct pkt_info *pi = &c->pi;
	const uint8_t *frame = rte_pktmbuf_mtod(m, const uint8_t *);
	enum pkt_action action = c->action;
	bool c2s = c->c2s;
	const struct flow_key *key = &c->key;
	uint32_t hash = c->hash;
	uint64_t t0 = prof_start(w);
	int32_t idx = flow_table_lookup(w->flows, key, hash);
	prof_add(w, WORKER_STAGE_FLOW, t0);
	if (action == PKT_ACTION_PASS_FLOW) {
		/* Unparseable TCP options: forwarded, and its session no longer
		 * inspected. */
		if (idx >= 0)
			worker_flow_pass(w, flow_table_record(w->flows, idx));
		w->counters.passthrough_forwarded++;
		worker_forward(w, m, from);
		return;
	}
	if (!checksum_ok(w, m, frame, pi)) {
		w->counters.bad_checksum_dropped++;
		drop(m);
		return;
	}
	uint8_t flags = pi->tcp_flags;
	bool syn = (flags & TCP_FLAG_SYN) != 0;

	if (idx < 0) {
		if (!(c2s && syn && !(flags & TCP_FLAG_ACK))) {
			w->counters.untracked_forwarded++;
			worker_forward(w, m, from);
			return;
		}
		if (pi->payload_len > 0) {
			/* Data on a SYN (TCP Fast Open) is not tracked: fail open. */
			w->counters.untracked_forwarded++;
			worker_forward(w, m, from);
			return;
		}
		idx = flow_table_insert(w->flows, key, hash);
		if (idx < 0) {
			w->counters.flows_table_full++;
			worker_forward(w, m, from);
			return;
		}
		flow_start(flow_table_record(w->flows, idx), pi);
		flow_table_set_expiry(w->flows, idx, now + cfg->timeout_syn_ms);
		w->counters.flows_created++;
		worker_forward(w, m, from);
		return;
	}

	struct flow *f = flow_table_record(w->flows, idx);
	if ((f->flags & FLOW_F_TAKEOVER) && enforce_packet(w, m, from, idx, f, key, pi, frame, c2s, now))
		return;
	if (flags & TCP_FLAG_RST) {
		handle_rst(w, m, from, idx, f, pi, c2s);
		return;
	}
	if (syn) {
		if (c2s && !(flags & TCP_FLAG_ACK)) {
			if (f->state == FLOW_SYN_SENT && pi->seq == f->client_isn) {
				w->counters.syn_retransmitted++;
			} else {
				/* A new connection on a reused tuple replaces the old state. */
				flow_release(w, f);
				flow_start(f, pi);
				w->counters.flows_created++;
			}
			flow_table_set_expiry(w->flows, idx, now + cfg->timeout_syn_ms);
		} else if (!c2s && (flags & TCP_FLAG_ACK)) {
			if (f->state == FLOW_SYN_SENT && pi->ack == f->client_isn + 1 &&
			    pi->payload_len == 0) {
				flow_established(f, pi, now);
				flow_table_set_expiry(w->flows, idx, now + cfg->timeout_idle_ms);
			} else if (f->state != FLOW_SYN_SENT && pi->seq == f->server_isn) {
				w->counters.syn_retransmitted++;
			} else {
				w->counters.untracked_forwarded++;
			}
		} else {
			w->counters.untracked_forwarded++;
		}
		worker_forward(w, m, from);
		return;
	}
	if (f->state == FLOW_SYN_SENT) {
		/* Nothing but SYN, SYN-ACK and RST belongs before the handshake. */
		w->counters.untracked_forwarded++;
		worker_forward(w, m, from);
		return;
	}
	handle_established(w, m, from, idx, f, key, pi, frame, c2s, now);
	/* A takeover waiting for the server's owed replies may go now. Only a
	 * surviving flow can be checked: look it up again (FIN/RST free it). */
	if (!c2s && (f->flags & FLOW_F_TAKEOVER) && flow_table_lookup(w->flows, key, hash) == idx)
		enforce_check_quiet(w, idx, f, key, now);
}

/* Packets are handled in groups: a first pass parses each one and
 * prefetches its flow's bucket, so the table's cache misses overlap
 * instead of stalling one packet after another (docs/performance.md). */
#define WORKER_GROUP 16

void worker_handle_burst(struct worker *w, struct rte_mbuf **pkts, uint16_t n,
			 enum worker_side from, uint64_t now_ms)
{
	struct classified c[WORKER_GROUP];
	enum disposition d[WORKER_GROUP];

	w->policy = policy_rcu_get(w->shared.policy);
	for (uint16_t base = 0; base < n; base += WORKER_GROUP) {
		uint16_t g = (uint16_t)(n - base < WORKER_GROUP ? n - base : WORKER_GROUP);
		uint64_t t0 = prof_start(w);
		/* Every header of the group is requested at once: their misses
		 * overlap (a header not in cache costs hundreds of cycles). */
		for (uint16_t i = 0; i < g; i++)
			rte_prefetch0(rte_pktmbuf_mtod(pkts[base + i], void *));
		for (uint16_t i = 0; i < g; i++)
			d[i] = classify_packet(w, pkts[base + i], from, &c[i]);
		for (uint16_t i = 0; i < g; i++) {
			if (d[i] == DISPOSE_TRACK)
				handle_packet(w, pkts[base + i], from, now_ms, &c[i]);
			else if (d[i] == DISPOSE_FORWARD)
				worker_forward(w, pkts[base + i], from);
			else
				drop(pkts[base + i]);
		}
		prof_add(w, WORKER_STAGE_TOTAL, t0);
	}
}

struct worker_tx *worker_tx(struct worker *w, enum worker_side side)
{
	return &w->tx[side];
}

void worker_quiescent(struct worker *w)
{
	w->policy = NULL;
	policy_rcu_quiescent(w->shared.policy, w->id);
	/* Valid until the next quiescent point: timers (enforce) use it too. */
	w->policy = policy_rcu_get(w->shared.policy);
}

void worker_set_stop_flag(struct worker *w, volatile bool *stop)
{
	w->stop = stop;
}

static void flush_tx(struct worker *w, enum worker_side side, uint16_t port)
{
	struct worker_tx *tx = &w->tx[side];
	uint16_t sent = 0;

	for (int tries = 0; sent < tx->count && tries < TX_RETRIES; tries++)
		sent += rte_eth_tx_burst(port, (uint16_t)w->id, tx->pkts + sent,
					 (uint16_t)(tx->count - sent));
	w->counters.tx_packets += sent;
	if (sent < tx->count) {
		w->counters.tx_failed += (uint64_t)(tx->count - sent);
		rte_pktmbuf_free_bulk(tx->pkts + sent, (unsigned)(tx->count - sent));
	}
	tx->count = 0;
}

int worker_run(void *arg)
{
	struct worker *w = arg;
	const struct config *cfg = w->shared.cfg;
	struct rte_mbuf *pkts[512];
	uint16_t ports[WORKER_SIDE_COUNT] = {0};
	enum worker_side sides[2];
	unsigned n_sides;
	uint16_t queue = (uint16_t)w->id;
	uint32_t loops = 0;

	if (cfg->single_port) {
		sides[0] = WORKER_SIDE_LAB;
		n_sides = 1;
		ports[WORKER_SIDE_LAB] = cfg->lab_port;
	} else {
		sides[0] = WORKER_SIDE_OUTSIDE;
		sides[1] = WORKER_SIDE_INSIDE;
		n_sides = 2;
		ports[WORKER_SIDE_OUTSIDE] = cfg->outside_port;
		ports[WORKER_SIDE_INSIDE] = cfg->inside_port;
	}
	policy_rcu_reader_online(w->shared.policy, w->id);
	w->policy = policy_rcu_get(w->shared.policy);
	while (!*w->stop) {
		uint64_t now = worker_clock_ms();
		for (unsigned s = 0; s < n_sides; s++) {
			uint16_t n = rte_eth_rx_burst(ports[sides[s]], queue, pkts,
						      (uint16_t)cfg->rx_burst);
			if (n == 0)
				continue;
			worker_handle_burst(w, pkts, n, sides[s], now);
			for (unsigned o = 0; o < WORKER_SIDE_COUNT; o++)
				if (w->tx[o].count)
					flush_tx(w, (enum worker_side)o, ports[o]);
		}
		if ((++loops & 15) == 0)
			worker_expire(w, now);
		worker_quiescent(w);
	}
	w->policy = NULL;
	policy_rcu_reader_offline(w->shared.policy, w->id);
	return 0;
}

void worker_set_profiling(struct worker *w, bool on)
{
	w->profiling = on;
}

const struct worker_counters *worker_counters(const struct worker *w)
{
	return &w->counters;
}

struct event_ring *worker_events(struct worker *w)
{
	return w->events;
}

unsigned worker_id(const struct worker *w)
{
	return w->id;
}

uint32_t worker_flow_count(const struct worker *w)
{
	return flow_table_count(w->flows);
}

uint32_t worker_blocks_in_use(const struct worker *w)
{
	return block_pool_in_use(w->pool);
}
