/*
 * enforce: taking a bogus session over (enforce mode).
 *
 * At the first bogus RCPT (or STARTTLS) no byte of that command, nor any
 * later client byte, reaches the server. Once the session is quiet (the
 * server acknowledged every client byte before the command and answered
 * every earlier command, and the client acknowledged every server byte:
 * reliability rule 5), helogate resets the server at its next expected
 * sequence number and answers the client itself, continuing the server's
 * sequence space, until QUIT, DATA, the client's FIN or RST, or a timeout.
 * docs/design.md ("The takeover") has the state machine and the arithmetic.
 */
#include <string.h>

#include <rte_mbuf.h>

#include "wire/cksum.h"
#include "wire/inject.h"
#include "filter/takeover.h"
#include "wire/tcp_seq.h"
#include "dp/worker_internal.h"

/* RFC 6298 2.1 starts at 1 s; a takeover's peer is usually close, and a
 * lost reply should not stall a rejected client long. Doubles per try. */
#define RTO_INITIAL_MS 400u
#define RTO_RETRIES 6u
#define SERVER_RSTS_MAX 4u /* the first RST plus answers to challenge ACKs */
#define OUT_MAX 880u
#define TRIGGER_ARG_MAX 192u
#define SEGMENT_MAX 1200u /* below every path MTU helogate meets: never fragment */

enum takeover_phase { PHASE_WAITING = 1, PHASE_ACTIVE };

/* One taken-over session, in a block of the worker's pool. */
struct takeover_state {
	uint8_t phase;
	uint8_t retries;
	uint8_t rsts;
	uint8_t trigger; /* enum smtp_verb: RCPT or STARTTLS */
	bool fin_queued; /* our FIN follows the queued bytes */
	bool fin_sent;
	bool fin_acked;
	bool client_fin;
	bool timed_out;
	uint8_t reason;
	uint16_t trigger_len;
	uint16_t out_len;  /* bytes in out[], from snd_una: acknowledged ones are removed */
	uint16_t out_sent; /* how many of them were sent since the last (re)transmission */
	uint16_t ip_id;
	uint32_t server_seq; /* the server's next expected byte: our RST's sequence number */
	uint32_t snd_una;    /* our first unacknowledged byte, in the server's sequence space */
	uint32_t rcv_nxt;    /* the client bytes consumed (what we acknowledge) */
	uint32_t rto_ms;
	uint64_t wait_until; /* waiting: give up then */
	uint64_t end_at;     /* active: 421 and close then */
	uint64_t rto_at;     /* active: retransmit then, when something is unacknowledged */
	struct inject_template tpl;
	uint8_t trigger_arg[TRIGGER_ARG_MAX];
	struct takeover_dialogue dialogue;
	char out[OUT_MAX];
};

_Static_assert(sizeof(struct takeover_state) <= 2048, "a takeover fits one pool block");

static struct takeover_state *state_of(struct worker *w, const struct flow *f)
{
	return (struct takeover_state *)block_pool_data(w->pool, f->takeover_block);
}

void enforce_release(struct worker *w, struct flow *f)
{
	if (!(f->flags & FLOW_F_TAKEOVER))
		return;
	block_pool_put(w->pool, f->takeover_block);
	f->takeover_block = BLOCK_POOL_NONE;
	f->flags &= (uint16_t)~FLOW_F_TAKEOVER;
}

static enum worker_side client_side(const struct worker *w)
{
	return w->shared.cfg->single_port ? WORKER_SIDE_LAB : WORKER_SIDE_OUTSIDE;
}

static enum worker_side server_side(const struct worker *w)
{
	return w->shared.cfg->single_port ? WORKER_SIDE_LAB : WORKER_SIDE_INSIDE;
}

/* Queue one built segment on a side's transmit batch. */
static bool send_segment(struct worker *w, struct takeover_state *ts,
			 const struct inject_segment *seg)
{
	enum worker_side side = seg->to_client ? client_side(w) : server_side(w);
	struct worker_tx *tx = &w->tx[side];
	uint64_t t0 = w->profiling ? rte_rdtsc() : 0;

	if (tx->count == WORKER_TX_MAX) {
		w->counters.inject_no_mbuf++;
		return false;
	}
	struct rte_mbuf *m = rte_pktmbuf_alloc(w->shared.mbufs);
	if (m == NULL) {
		w->counters.inject_no_mbuf++;
		return false;
	}
	uint32_t room = INJECT_FRAME_MAX(seg->payload_len);
	uint8_t *buf = (uint8_t *)rte_pktmbuf_append(m, (uint16_t)room);
	uint32_t len = buf ? inject_build(&ts->tpl, seg, buf, room) : 0;
	if (len == 0) {
		rte_pktmbuf_free(m);
		w->counters.inject_no_mbuf++;
		return false;
	}
	rte_pktmbuf_trim(m, (uint16_t)(room - len));
	tx->pkts[tx->count++] = m;
	if (w->profiling)
		w->counters.stage_cycles[WORKER_STAGE_INJECT] += rte_rdtsc() - t0;
	return true;
}

/* A segment to the client as the server would send it: the server's last
 * window, timestamps continuing the server's clock (assumed 1 kHz, as Linux
 * and the BSDs use) and echoing the client's latest (RFC 7323 4.3). */
static void client_segment(const struct flow *f, struct takeover_state *ts,
			   struct inject_segment *seg, uint32_t seq, uint8_t flags, uint64_t now)
{
	memset(seg, 0, sizeof(*seg));
	seg->to_client = true;
	seg->flags = flags;
	seg->seq = seq;
	seg->ack = ts->rcv_nxt + (ts->client_fin ? 1u : 0u);
	seg->window = f->server_wnd_raw ? f->server_wnd_raw : 1024;
	seg->ip_id = ts->ip_id++;
	if (f->flags & FLOW_F_TS) {
		seg->timestamps = true;
		seg->tsval = f->server_tsval + (uint32_t)(now - f->server_ts_ms);
		seg->tsecr = f->client_tsval;
	}
}

static void send_rst_to_server(struct worker *w, const struct flow *f, struct takeover_state *ts,
			       uint32_t seq)
{
	struct inject_segment seg = {
		.to_client = false,
		.flags = TCP_FLAG_RST | TCP_FLAG_ACK,
		.seq = seq,
		.ack = f->client_ack,
		.window = 0,
		.ip_id = ts->ip_id++,
	};

	if (send_segment(w, ts, &seg)) {
		ts->rsts++;
		w->counters.injected_rsts++;
	}
}

static void arm_timer(struct worker *w, int32_t idx, struct takeover_state *ts, uint64_t now)
{
	uint64_t at = ts->end_at;

	if (ts->out_len > 0 || (ts->fin_sent && !ts->fin_acked)) {
		if (ts->rto_at == 0)
			ts->rto_at = now + ts->rto_ms;
		if (ts->rto_at < at)
			at = ts->rto_at;
	}
	flow_table_set_expiry(w->flows, idx, at);
}

/* Send what is queued and not yet sent, within the client's window, then
 * our FIN when it is due. */
static void transmit(struct worker *w, int32_t idx, struct flow *f, struct takeover_state *ts,
		     uint64_t now)
{
	uint32_t mss = f->client_mss < SEGMENT_MAX ? f->client_mss : SEGMENT_MAX;
	uint32_t window_end = f->client_ack + (f->client_wnd ? f->client_wnd : 1);
	struct inject_segment seg;

	if (mss == 0)
		mss = 536;
	while (ts->out_sent < ts->out_len) {
		uint32_t seq = ts->snd_una + ts->out_sent;
		int32_t room = seq_diff(window_end, seq);
		uint32_t n = ts->out_len - ts->out_sent;
		if (room <= 0)
			break; /* the timer probes the closed window */
		if (n > mss)
			n = mss;
		if (n > (uint32_t)room)
			n = (uint32_t)room;
		bool last = ts->out_sent + n == ts->out_len;
		uint8_t flags = TCP_FLAG_ACK | TCP_FLAG_PSH;
		if (last && ts->fin_queued)
			flags |= TCP_FLAG_FIN;
		client_segment(f, ts, &seg, seq, flags, now);
		seg.payload = (const uint8_t *)ts->out + ts->out_sent;
		seg.payload_len = (uint16_t)n;
		if (!send_segment(w, ts, &seg))
			break;
		w->counters.injected_segments++;
		ts->out_sent = (uint16_t)(ts->out_sent + n);
		if (flags & TCP_FLAG_FIN)
			ts->fin_sent = true;
	}
	if (ts->out_sent == ts->out_len && ts->fin_queued && !ts->fin_sent) {
		client_segment(f, ts, &seg, ts->snd_una + ts->out_len, TCP_FLAG_ACK | TCP_FLAG_FIN,
			       now);
		if (send_segment(w, ts, &seg)) {
			w->counters.injected_segments++;
			ts->fin_sent = true;
		}
	}
	arm_timer(w, idx, ts, now);
}

static void send_ack(struct worker *w, const struct flow *f, struct takeover_state *ts,
		     uint64_t now)
{
	struct inject_segment seg;

	client_segment(f, ts, &seg, ts->snd_una + ts->out_sent + (ts->fin_sent ? 1u : 0u),
		       TCP_FLAG_ACK, now);
	if (send_segment(w, ts, &seg))
		w->counters.injected_segments++;
}

/* Everything unacknowledged goes again, from snd_una. */
static void retransmit(struct worker *w, int32_t idx, struct flow *f, struct takeover_state *ts,
		       uint64_t now)
{
	ts->out_sent = 0;
	ts->fin_sent = false;
	ts->rto_at = 0;
	w->counters.injected_retransmits++;
	transmit(w, idx, f, ts, now);
}

struct rejected_ctx {
	struct worker *w;
	const struct flow_key *key;
	const struct flow *f;
	enum verdict_reason reason;
};

static void on_rejected_rcpt(void *arg, const uint8_t *rcpt, uint32_t len)
{
	struct rejected_ctx *c = arg;

	c->w->counters.takeover_rejected_rcpts++;
	c->w->counters.rejected[c->reason]++;
	worker_emit_event(c->w, c->key, c->f, "RCPT", c->reason, EVENT_ACTION_REJECTED, rcpt, len);
}

static void session_of(struct worker *w, const struct flow *f, struct takeover_state *ts,
		       struct takeover_session *s, struct rejected_ctx *rc)
{
	s->reason = (enum verdict_reason)ts->reason;
	s->helo = worker_flow_helo(w, f);
	s->helo_len = f->helo_len;
	/* The reloaded configuration travels with the policy (policy_rcu). */
	const struct config *live = policy_attachment(w->policy);
	s->texts = live != NULL ? &live->replies : &w->shared.cfg->replies;
	s->commands = w->shared.commands;
	s->scratch = w->scratch;
	s->on_rejected_rcpt = on_rejected_rcpt;
	s->arg = rc;
}

bool enforce_begin(struct worker *w, struct flow_ctx *ctx, const struct smtp_command *cmd,
		   enum verdict_reason reason)
{
	struct flow *f = ctx->f;
	const struct pkt_info *pi = ctx->pi;

	if (f->flags & FLOW_F_TAINTED) {
		/* Someone raced conflicting bytes into this session: never
		 * let that get a sender rejected (reliability rule 2). */
		w->counters.takeover_tainted++;
		return false;
	}
	/* The command must end inside this segment (not in held out-of-order
	 * bytes): its tail is what we keep from the server. */
	if (pi == NULL || !seq_leq(cmd->end_seq, pi->seq + pi->payload_len) ||
	    (f->flags & FLOW_F_TAKEOVER)) {
		w->counters.takeover_no_memory++;
		return false;
	}
	uint32_t block = block_pool_get(w->pool);
	if (block == BLOCK_POOL_NONE) {
		w->counters.takeover_no_memory++;
		return false;
	}
	struct takeover_state *ts = (struct takeover_state *)block_pool_data(w->pool, block);
	memset(ts, 0, offsetof(struct takeover_state, trigger_arg));
	if (!inject_template_init(&ts->tpl, ctx->frame, pi)) {
		block_pool_put(w->pool, block);
		w->counters.takeover_no_memory++;
		return false;
	}
	ts->phase = PHASE_WAITING;
	ts->trigger = (uint8_t)cmd->verb;
	ts->reason = (uint8_t)reason;
	ts->trigger_len = (uint16_t)(cmd->arg_len < TRIGGER_ARG_MAX ? cmd->arg_len : TRIGGER_ARG_MAX);
	memcpy(ts->trigger_arg, cmd->arg, ts->trigger_len);
	/* The server already has the bytes before this segment, so a command
	 * that began in an earlier segment is cut where this one starts (the
	 * server never gets its line ending, and is reset anyway). */
	ts->server_seq = seq_geq(cmd->seq, pi->seq) ? cmd->seq : pi->seq;
	/* Pipelined commands after the trigger are not acknowledged now: the
	 * client sends them again once the takeover answers, and they are
	 * answered then, in order. */
	ts->rcv_nxt = cmd->end_seq;
	ts->rto_ms = RTO_INITIAL_MS;
	ts->wait_until = ctx->now + w->shared.cfg->takeover_wait_ms;
	takeover_dialogue_init(&ts->dialogue, reason);
	f->takeover_block = block;
	f->flags |= FLOW_F_TAKEOVER;
	ctx->takeover_started = true;
	return true;
}

/* Rewrite a client segment to carry only its first keep payload bytes (and
 * no FIN), with correct lengths and checksums. */
static void trim_segment(struct rte_mbuf *m, const struct pkt_info *pi, uint32_t keep)
{
	uint8_t *frame = rte_pktmbuf_mtod(m, uint8_t *);
	uint8_t *ip = frame + pi->l3_offset;
	uint8_t *tcp = frame + pi->l4_offset;
	uint32_t tcp_len = pi->payload_offset - pi->l4_offset + keep;

	if (pi->ip_version == 4) {
		uint32_t total = pi->l4_offset - pi->l3_offset + tcp_len;
		ip[2] = (uint8_t)(total >> 8);
		ip[3] = (uint8_t)total;
		ip[10] = ip[11] = 0;
		uint16_t c = cksum_ipv4_header(ip, pi->l4_offset - pi->l3_offset);
		memcpy(ip + 10, &c, 2);
	} else {
		uint32_t plen = pi->l4_offset - pi->l3_offset - 40 + tcp_len;
		ip[4] = (uint8_t)(plen >> 8);
		ip[5] = (uint8_t)plen;
	}
	tcp[13] &= (uint8_t)~TCP_FLAG_FIN;
	tcp[16] = tcp[17] = 0;
	uint16_t c = pi->ip_version == 4 ? cksum_tcp_ipv4(ip + 12, ip + 16, tcp, tcp_len)
					 : cksum_tcp_ipv6(ip + 8, ip + 24, tcp, tcp_len);
	memcpy(tcp + 16, &c, 2);
	rte_pktmbuf_trim(m, (uint16_t)(m->data_len - (pi->payload_offset + keep)));
}

/* Quiet (reliability rule 5): no client byte before the cut is unacknowledged
 * by the server, no command before it is unanswered, no server byte is
 * unacknowledged by the client. */
static bool quiet(const struct flow *f, const struct takeover_state *ts)
{
	return f->server_ack == ts->server_seq && smtp_pending_replies(&f->smtp) == 0 &&
	       f->client_ack == stream_dir_next_seq(&f->s2c);
}

static void activate(struct worker *w, int32_t idx, struct flow *f, const struct flow_key *key,
		     struct takeover_state *ts, uint64_t now)
{
	struct takeover_session s;
	struct rejected_ctx rc = {.w = w, .key = key, .f = f, .reason = ts->reason};
	struct takeover_output o = {0};

	ts->phase = PHASE_ACTIVE;
	ts->snd_una = stream_dir_next_seq(&f->s2c);
	ts->end_at = now + w->shared.cfg->takeover_session_ms;
	w->counters.takeovers++;
	send_rst_to_server(w, f, ts, ts->server_seq);
	/* The server side is gone: no stream or SMTP state is needed any more. */
	stream_dir_release(&f->c2s, w->pool);
	stream_dir_release(&f->s2c, w->pool);
	smtp_session_release(&f->smtp, w->pool);
	session_of(w, f, ts, &s, &rc);
	if (ts->trigger == SMTP_VERB_STARTTLS) {
		w->counters.rejected[ts->reason]++;
		worker_emit_event(w, key, f, "STARTTLS", ts->reason, EVENT_ACTION_REJECTED, NULL, 0);
	}
	takeover_answer(&ts->dialogue, &s, (enum smtp_verb)ts->trigger, ts->trigger_arg,
			ts->trigger_len, ts->out, &o);
	ts->out_len = (uint16_t)o.len;
	ts->fin_queued = o.close;
	transmit(w, idx, f, ts, now);
}

/* Let the session through after all (reliability rule 5: never guess). */
static void give_up(struct worker *w, struct flow *f, const struct flow_key *key,
		    struct takeover_state *ts)
{
	w->counters.takeover_not_quiet++;
	worker_emit_event(w, key, f, ts->trigger == SMTP_VERB_RCPT ? "RCPT" : "STARTTLS", ts->reason,
			  EVENT_ACTION_DETECTED, ts->trigger == SMTP_VERB_RCPT ? ts->trigger_arg : NULL,
			  ts->trigger_len);
	worker_flow_pass(w, f);
}

void enforce_check_quiet(struct worker *w, int32_t idx, struct flow *f, const struct flow_key *key,
			 uint64_t now)
{
	if (!(f->flags & FLOW_F_TAKEOVER))
		return;
	struct takeover_state *ts = state_of(w, f);
	if (ts->phase == PHASE_WAITING && quiet(f, ts))
		activate(w, idx, f, key, ts, now);
}

void enforce_after_start(struct worker *w, struct rte_mbuf *m, enum worker_side from, int32_t idx,
			 struct flow *f, const struct flow_key *key, const struct pkt_info *pi,
			 uint64_t now)
{
	struct takeover_state *ts = state_of(w, f);
	uint32_t keep = (uint32_t)seq_diff(ts->server_seq, pi->seq);

	if (keep > 0 && keep <= pi->payload_len) {
		trim_segment(m, pi, keep);
		worker_forward(w, m, from);
	} else {
		rte_pktmbuf_free(m);
	}
	if (quiet(f, ts))
		activate(w, idx, f, key, ts, now);
	else
		flow_table_set_expiry(w->flows, idx, ts->wait_until);
}

/* A client segment while waiting: bytes before the cut may still go to the
 * server (a retransmission), nothing from the cut on does. */
static void waiting_client_packet(struct worker *w, struct rte_mbuf *m, enum worker_side from,
				  struct flow *f, struct takeover_state *ts,
				  const struct pkt_info *pi)
{
	if (pi->tcp_flags & TCP_FLAG_ACK) {
		f->client_ack = pi->ack;
		f->client_wnd = (uint32_t)pi->window << f->client_wscale;
		stream_dir_ack(&f->s2c, w->pool, pi->ack);
	}
	if (pi->opts.present & TCP_OPT_TIMESTAMP)
		f->client_tsval = pi->opts.tsval;
	uint32_t end = pi->seq + pi->payload_len + ((pi->tcp_flags & TCP_FLAG_FIN) ? 1u : 0u);
	if (pi->payload_len == 0 && !(pi->tcp_flags & TCP_FLAG_FIN)) {
		worker_forward(w, m, from); /* a pure ACK: the server needs it */
	} else if (seq_leq(end, ts->server_seq)) {
		worker_forward(w, m, from);
	} else if (seq_lt(pi->seq, ts->server_seq)) {
		trim_segment(m, pi, (uint32_t)seq_diff(ts->server_seq, pi->seq));
		worker_forward(w, m, from);
	} else {
		w->counters.takeover_dropped++;
		rte_pktmbuf_free(m);
	}
}

/* A client segment of an active takeover: we are its receiver now. */
static void active_client_packet(struct worker *w, int32_t idx, struct flow *f,
				 const struct flow_key *key, struct takeover_state *ts,
				 const struct pkt_info *pi, const uint8_t *frame, uint64_t now)
{
	if (pi->opts.present & TCP_OPT_TIMESTAMP)
		f->client_tsval = pi->opts.tsval;
	if (pi->tcp_flags & TCP_FLAG_ACK) {
		f->client_wnd = (uint32_t)pi->window << f->client_wscale;
		uint32_t fin_seq = ts->snd_una + ts->out_len;
		int32_t acked = seq_diff(pi->ack, ts->snd_una);
		if (acked > 0 && acked <= (int32_t)ts->out_len + (ts->fin_sent ? 1 : 0)) {
			uint32_t data = (uint32_t)acked > ts->out_len ? ts->out_len : (uint32_t)acked;
			memmove(ts->out, ts->out + data, ts->out_len - data);
			ts->out_len = (uint16_t)(ts->out_len - data);
			ts->out_sent = (uint16_t)(ts->out_sent > data ? ts->out_sent - data : 0);
			ts->snd_una += data;
			if (ts->fin_sent && seq_geq(pi->ack, fin_seq + 1))
				ts->fin_acked = true;
			ts->retries = 0;
			ts->rto_ms = RTO_INITIAL_MS;
			ts->rto_at = 0;
		}
		f->client_ack = pi->ack;
	}
	bool fin = (pi->tcp_flags & TCP_FLAG_FIN) != 0;
	bool need_ack = false;
	if (pi->payload_len > 0 || fin) {
		if (pi->seq == ts->rcv_nxt && !ts->client_fin) {
			struct takeover_session s;
			struct rejected_ctx rc = {.w = w, .key = key, .f = f, .reason = ts->reason};
			struct takeover_output o = {0};
			session_of(w, f, ts, &s, &rc);
			uint32_t used = takeover_feed(&ts->dialogue, &s, frame + pi->payload_offset,
						      pi->payload_len, ts->out + ts->out_len,
						      OUT_MAX - ts->out_len, &o);
			ts->rcv_nxt += used;
			ts->out_len = (uint16_t)(ts->out_len + o.len);
			if (o.close)
				ts->fin_queued = true;
			if (fin && used == pi->payload_len) {
				/* The client is done: acknowledge its FIN, close ours. */
				ts->client_fin = true;
				ts->fin_queued = true;
			}
			need_ack = used > 0 || ts->client_fin;
			if (used < pi->payload_len)
				w->counters.takeover_dropped++;
		} else if (seq_lt(pi->seq, ts->rcv_nxt)) {
			/* A repeat of bytes already answered: the same answer again
			 * (our unacknowledged bytes), never a second reply. */
			if (ts->out_len > 0 || ts->fin_sent) {
				retransmit(w, idx, f, ts, now);
				return;
			}
			send_ack(w, f, ts, now);
		} else {
			w->counters.takeover_dropped++;
			send_ack(w, f, ts, now); /* out of order: a duplicate ACK asks for the gap */
		}
	}
	/* What transmit() sends carries the acknowledgement; when it has
	 * nothing to send, a pure ACK does (a FIN must always be answered). */
	bool sends = ts->out_sent < ts->out_len || (ts->fin_queued && !ts->fin_sent);
	if (need_ack && !sends)
		send_ack(w, f, ts, now);
	if (ts->client_fin && ts->fin_acked) {
		w->counters.takeover_closed++;
		worker_flow_free(w, idx, f);
		return;
	}
	transmit(w, idx, f, ts, now);
}

bool enforce_packet(struct worker *w, struct rte_mbuf *m, enum worker_side from, int32_t idx,
		    struct flow *f, const struct flow_key *key, const struct pkt_info *pi,
		    const uint8_t *frame, bool c2s, uint64_t now)
{
	struct takeover_state *ts = state_of(w, f);
	bool rst = (pi->tcp_flags & TCP_FLAG_RST) != 0;

	if (ts->phase == PHASE_WAITING) {
		if (rst) {
			/* Either side aborting ends everything; the RST goes on. */
			w->counters.flows_reset++;
			worker_flow_free(w, idx, f);
			worker_forward(w, m, from);
			return true;
		}
		if (!c2s)
			return false; /* the server's owed replies take the ordinary path */
		waiting_client_packet(w, m, from, f, ts, pi);
		if (quiet(f, ts))
			activate(w, idx, f, key, ts, now);
		return true;
	}
	/* Active: nothing of this session crosses helogate any more. */
	if (!c2s) {
		/* After our RST the server may answer with a challenge ACK
		 * (RFC 5961 3.2) naming the sequence number it expects: reset
		 * again there. */
		if (!rst && (pi->tcp_flags & TCP_FLAG_ACK) && ts->rsts < SERVER_RSTS_MAX)
			send_rst_to_server(w, f, ts, pi->ack);
		rte_pktmbuf_free(m);
		return true;
	}
	if (rst) {
		w->counters.takeover_closed++;
		rte_pktmbuf_free(m);
		worker_flow_free(w, idx, f);
		return true;
	}
	active_client_packet(w, idx, f, key, ts, pi, frame, now);
	rte_pktmbuf_free(m);
	return true;
}

bool enforce_timer(struct worker *w, int32_t idx, struct flow *f, uint64_t now)
{
	struct takeover_state *ts = state_of(w, f);

	if (ts->phase == PHASE_WAITING) {
		if (now < ts->wait_until) {
			flow_table_set_expiry(w->flows, idx, ts->wait_until);
			return true;
		}
		give_up(w, f, flow_table_key(w->flows, idx), ts);
		flow_table_set_expiry(w->flows, idx, now + w->shared.cfg->timeout_idle_ms);
		return true;
	}
	if (now >= ts->end_at && !ts->timed_out) {
		/* Postscreen's bound on a rejected client: 421, then close. */
		ts->timed_out = true;
		w->counters.takeover_timeouts++;
		if (!ts->fin_queued && OUT_MAX - ts->out_len >= 64) {
			ts->out_len = (uint16_t)(ts->out_len +
						 takeover_timeout_reply(ts->out + ts->out_len,
									OUT_MAX - ts->out_len));
			ts->fin_queued = true;
			ts->dialogue.closed = true;
		}
		ts->end_at = now + w->shared.cfg->timeout_closing_ms;
		transmit(w, idx, f, ts, now);
		return true;
	}
	bool unacked = ts->out_len > 0 || (ts->fin_sent && !ts->fin_acked) ||
		       (ts->fin_queued && !ts->fin_sent);
	if (unacked && ts->rto_at != 0 && now >= ts->rto_at) {
		if (++ts->retries > RTO_RETRIES) {
			/* The client is gone: reset its side and forget the session. */
			struct inject_segment seg;
			client_segment(f, ts, &seg, ts->snd_una, TCP_FLAG_RST | TCP_FLAG_ACK, now);
			if (send_segment(w, ts, &seg))
				w->counters.injected_segments++;
			w->counters.takeover_client_reset++;
			enforce_release(w, f);
			return false;
		}
		ts->rto_ms *= 2;
		retransmit(w, idx, f, ts, now);
		return true;
	}
	if (now >= ts->end_at) {
		/* Closed (or closing) and quiet past the closing time. */
		w->counters.takeover_closed++;
		enforce_release(w, f);
		return false;
	}
	arm_timer(w, idx, ts, now);
	return true;
}
