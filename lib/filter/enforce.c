#include "filter/enforce.h"

#include <stddef.h>
#include <string.h>

#include "wire/inject.h"
#include "wire/tcp_seq.h"
#include "tcp/block_pool.h"
#include "filter/takeover.h"

#define OUT_MAX 880u
#define TRIGGER_ARG_MAX 192u
/* Complete command lines pipelined behind the trigger in its segment, kept
 * to be answered at once (RFC 2920 3.1: replies in order) instead of after
 * the client's retransmission timeout. */
#define TAIL_MAX 256u

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
	uint32_t server_seq; /* the server's next expected byte: the cut, and our RST's sequence */
	uint32_t snd_una;    /* our first unacknowledged byte, in the server's sequence space */
	uint32_t rcv_nxt;    /* the client bytes consumed (what we acknowledge) */
	uint32_t rto_ms;
	uint64_t wait_until; /* waiting: let through then */
	uint64_t end_at;     /* active: 421 and close then */
	uint64_t rto_at;     /* active: retransmit then, when something is unacknowledged */
	struct inject_template tpl;
	uint16_t tail_len;
	uint8_t trigger_arg[TRIGGER_ARG_MAX];
	uint8_t tail[TAIL_MAX];
	struct takeover_dialogue dialogue;
	char out[OUT_MAX];
};

_Static_assert(sizeof(struct takeover_state) <= 2048, "a takeover fits one pool block");

static struct takeover_state *state_of(const struct session_env *env, const struct session *s)
{
	return (struct takeover_state *)block_pool_data(env->pool, s->takeover_block);
}

bool enforce_waiting(const struct session_env *env, const struct session *s)
{
	return (s->flags & SESSION_F_TAKEOVER) && state_of(env, s)->phase == PHASE_WAITING;
}

/* Describe one segment for the worker to build; false when out is full
 * (the retransmission timer sends it later). */
static bool emit(struct session_out *out, const struct takeover_state *ts,
                 const struct inject_segment *seg)
{
	if (out->n_seg == SESSION_SEGS_MAX)
		return false;
	out->tpl = &ts->tpl;
	out->seg[out->n_seg++] = *seg;
	return true;
}

/* A segment to the client as the server would send it: the server's last
 * window, timestamps continuing the server's clock and echoing the
 * client's latest (RFC 7323 4.3). */
static void client_segment(const struct conn *c, struct takeover_state *ts,
                           struct inject_segment *seg, uint32_t seq, uint8_t flags, uint64_t now)
{
	memset(seg, 0, sizeof(*seg));
	seg->to_client = true;
	seg->flags = flags;
	seg->seq = seq;
	seg->ack = ts->rcv_nxt + (ts->client_fin ? 1u : 0u);
	seg->window = c->server_wnd_raw ? c->server_wnd_raw : 1024;
	seg->ip_id = ts->ip_id++;
	if (c->flags & CONN_F_TS) {
		seg->timestamps = true;
		seg->tsval = conn_server_tsval(c, now);
		seg->tsecr = c->client_tsval;
	}
}

static void reset_server(const struct session_env *env, const struct conn *c,
                         struct takeover_state *ts, uint32_t seq, struct session_out *out)
{
	struct inject_segment seg = {
	    .to_client = false,
	    .flags = TCP_FLAG_RST | TCP_FLAG_ACK,
	    .seq = seq,
	    .ack = c->client_ack,
	    .window = 0,
	    .ip_id = ts->ip_id++,
	};

	(void)env;
	if (emit(out, ts, &seg))
		ts->rsts++;
}

/* The record's next timer: the lifetime, or the retransmission when
 * something is unacknowledged. */
static void arm_timer(struct takeover_state *ts, uint64_t now, struct session_out *out)
{
	uint64_t at = ts->end_at;

	if (ts->out_len > 0 || (ts->fin_sent && !ts->fin_acked)) {
		if (ts->rto_at == 0)
			ts->rto_at = now + ts->rto_ms;
		if (ts->rto_at < at)
			at = ts->rto_at;
	}
	out->deadline = at;
}

/* Send what is queued and not yet sent, within the client's window, then
 * our FIN when it is due. */
static void transmit(const struct session_env *env, struct session *s, struct takeover_state *ts,
                     uint64_t now, struct session_out *out)
{
	const struct conn *c = &s->tcp;
	uint32_t mss = c->client_mss < ENFORCE_SEGMENT_MAX ? c->client_mss : ENFORCE_SEGMENT_MAX;
	uint32_t window_end = c->client_ack + (c->client_wnd ? c->client_wnd : 1);
	struct inject_segment seg;

	(void)env;
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
		client_segment(c, ts, &seg, seq, flags, now);
		seg.payload = (const uint8_t *)ts->out + ts->out_sent;
		seg.payload_len = (uint16_t)n;
		if (!emit(out, ts, &seg))
			break;
		ts->out_sent = (uint16_t)(ts->out_sent + n);
		if (flags & TCP_FLAG_FIN)
			ts->fin_sent = true;
	}
	if (ts->out_sent == ts->out_len && ts->fin_queued && !ts->fin_sent) {
		client_segment(c, ts, &seg, ts->snd_una + ts->out_len, TCP_FLAG_ACK | TCP_FLAG_FIN,
		               now);
		if (emit(out, ts, &seg))
			ts->fin_sent = true;
	}
	arm_timer(ts, now, out);
}

static void send_ack(struct session *s, struct takeover_state *ts, uint64_t now,
                     struct session_out *out)
{
	struct inject_segment seg;

	client_segment(&s->tcp, ts, &seg, ts->snd_una + ts->out_sent + (ts->fin_sent ? 1u : 0u),
	               TCP_FLAG_ACK, now);
	emit(out, ts, &seg);
}

/* Everything unacknowledged goes again, from snd_una. */
static void retransmit(const struct session_env *env, struct session *s, struct takeover_state *ts,
                       uint64_t now, struct session_out *out)
{
	ts->out_sent = 0;
	ts->fin_sent = false;
	ts->rto_at = 0;
	env->counters->injected_retransmits++;
	transmit(env, s, ts, now, out);
}

struct rejected_ctx {
	const struct session_env *env;
	const struct flow_key *key;
	const struct session *s;
	enum verdict_reason reason;
};

static void on_rejected_rcpt(void *arg, const uint8_t *rcpt, uint32_t len)
{
	struct rejected_ctx *c = arg;

	c->env->counters->takeover_rejected_rcpts++;
	c->env->counters->rejected[c->reason]++;
	session_event(c->env, c->s, c->key, "RCPT", c->reason, EVENT_ACTION_REJECTED, rcpt, len);
}

static void dialogue_session(const struct session_env *env, const struct session *s,
                             const struct takeover_state *ts, struct takeover_session *d,
                             struct rejected_ctx *rc)
{
	d->reason = (enum verdict_reason)ts->reason;
	d->helo = session_helo(env, s);
	d->helo_len = s->helo_len;
	d->texts = env->params.replies;
	d->commands = env->commands;
	d->scratch = env->scratch;
	d->on_rejected_rcpt = on_rejected_rcpt;
	d->arg = rc;
}

bool enforce_begin(const struct session_env *env, struct session *s, const struct pkt_info *pi,
                   const uint8_t *frame, const struct smtp_command *cmd, enum verdict_reason reason,
                   uint64_t now_ms)
{
	if (s->flags & SESSION_F_TAKEOVER) {
		env->counters->takeover_unsupported++;
		return false;
	}
	uint32_t block = block_pool_get(env->pool);
	if (block == BLOCK_POOL_NONE) {
		env->counters->takeover_no_memory++;
		return false;
	}
	struct takeover_state *ts = (struct takeover_state *)block_pool_data(env->pool, block);
	memset(ts, 0, offsetof(struct takeover_state, trigger_arg));
	if (!inject_template_init(&ts->tpl, frame, pi)) {
		block_pool_put(env->pool, block);
		env->counters->takeover_unsupported++;
		return false;
	}
	ts->phase = PHASE_WAITING;
	ts->trigger = (uint8_t)cmd->verb;
	ts->reason = (uint8_t)reason;
	ts->trigger_len =
	    (uint16_t)(cmd->arg_len < TRIGGER_ARG_MAX ? cmd->arg_len : TRIGGER_ARG_MAX);
	memcpy(ts->trigger_arg, cmd->arg, ts->trigger_len);
	/* The server already has the bytes before this segment, so a command
	 * that began in an earlier segment is cut where this one starts (the
	 * server never gets its line ending, and is reset anyway). A line
	 * completed by out-of-order bytes is cut the same way, at the gap this
	 * segment fills: the server holds the later bytes out of order and
	 * never delivers them, since the gap is never filled before the RST. */
	ts->server_seq = seq_geq(cmd->seq, pi->seq) ? cmd->seq : pi->seq;
	ts->rcv_nxt = cmd->end_seq;
	/* Complete lines pipelined behind the trigger in this segment are
	 * answered with it; anything after them the client sends again. */
	int32_t tail_off = seq_diff(cmd->end_seq, pi->seq);
	if (tail_off >= 0 && (uint32_t)tail_off < pi->payload_len) {
		const uint8_t *tail = frame + pi->payload_offset + tail_off;
		uint32_t n = pi->payload_len - (uint32_t)tail_off;
		if (n > TAIL_MAX)
			n = TAIL_MAX;
		while (n > 0 && tail[n - 1] != '\n')
			n--;
		memcpy(ts->tail, tail, n);
		ts->tail_len = (uint16_t)n;
	}
	ts->rto_ms = ENFORCE_RTO_INITIAL_MS;
	ts->wait_until = now_ms + env->params.takeover_wait_ms;
	takeover_dialogue_init(&ts->dialogue, reason);
	s->takeover_block = block;
	s->flags |= SESSION_F_TAKEOVER;
	return true;
}

/* Quiet (reliability rule 6): no client byte before the cut is unacknowledged
 * by the server, no command before it is unanswered, no server byte is
 * unacknowledged by the client. */
static bool quiet(const struct session *s, const struct takeover_state *ts)
{
	return s->tcp.server_ack == ts->server_seq && smtp_pending_replies(&s->smtp) == 0 &&
	       s->tcp.client_ack == stream_dir_next_seq(&s->s2c);
}

static void activate(const struct session_env *env, struct session *s, const struct flow_key *key,
                     struct takeover_state *ts, uint64_t now, struct session_out *out)
{
	struct takeover_session d;
	struct rejected_ctx rc = {.env = env, .key = key, .s = s, .reason = ts->reason};
	struct takeover_output o = {0};

	ts->phase = PHASE_ACTIVE;
	ts->snd_una = stream_dir_next_seq(&s->s2c);
	ts->end_at = now + env->params.takeover_session_ms;
	env->counters->takeovers++;
	reset_server(env, &s->tcp, ts, ts->server_seq, out);
	/* The server side is gone: no stream or SMTP state is needed any more. */
	stream_dir_release(&s->c2s, env->pool);
	stream_dir_release(&s->s2c, env->pool);
	smtp_session_release(&s->smtp, env->pool);
	dialogue_session(env, s, ts, &d, &rc);
	if (ts->trigger == SMTP_VERB_STARTTLS) {
		env->counters->rejected[ts->reason]++;
		session_event(env, s, key, "STARTTLS", ts->reason, EVENT_ACTION_REJECTED, NULL, 0);
	}
	takeover_answer(&ts->dialogue, &d, (enum smtp_verb)ts->trigger, ts->trigger_arg,
	                ts->trigger_len, ts->out, &o);
	if (ts->tail_len > 0) {
		/* takeover_feed() appends at out + o.len. */
		ts->rcv_nxt +=
		    takeover_feed(&ts->dialogue, &d, ts->tail, ts->tail_len, ts->out, OUT_MAX, &o);
		ts->tail_len = 0;
	}
	ts->out_len = (uint16_t)o.len;
	ts->fin_queued = o.close;
	transmit(env, s, ts, now, out);
}

/* No quiet point in time: let the session through after all, with a
 * `detected` event (reliability rule 6: never cut a session mid-reply). */
static void let_through(const struct session_env *env, struct session *s,
                        const struct flow_key *key, const struct takeover_state *ts)
{
	bool rcpt = ts->trigger == SMTP_VERB_RCPT;

	env->counters->takeover_not_quiet++;
	env->counters->detected[ts->reason]++;
	session_event(env, s, key, rcpt ? "RCPT" : "STARTTLS", ts->reason, EVENT_ACTION_DETECTED,
	              rcpt ? ts->trigger_arg : NULL, ts->trigger_len);
}

void enforce_check_quiet(const struct session_env *env, struct session *s,
                         const struct flow_key *key, uint64_t now_ms, struct session_out *out)
{
	if (!(s->flags & SESSION_F_TAKEOVER))
		return;
	struct takeover_state *ts = state_of(env, s);
	if (ts->phase == PHASE_WAITING && quiet(s, ts))
		activate(env, s, key, ts, now_ms, out);
}

struct disposition enforce_started(const struct session_env *env, struct session *s,
                                   const struct flow_key *key, const struct pkt_info *pi,
                                   uint64_t now_ms, struct session_out *out)
{
	struct takeover_state *ts = state_of(env, s);
	uint32_t keep = (uint32_t)seq_diff(ts->server_seq, pi->seq);
	struct disposition d = keep > 0 && keep <= pi->payload_len
	                           ? dispose_cut(CAUSE_TAKEOVER_CUT, keep)
	                           : dispose_drop(CAUSE_TAKEOVER_AFTER_CUT);

	if (quiet(s, ts))
		activate(env, s, key, ts, now_ms, out);
	else
		out->deadline = ts->wait_until;
	return d;
}

/* A client segment while waiting: bytes before the cut may still go to the
 * server (a retransmission), nothing from the cut on does. */
static struct disposition waiting_client(const struct session_env *env, struct session *s,
                                         const struct takeover_state *ts, const struct pkt_info *pi,
                                         uint64_t now)
{
	uint32_t end = pi->seq + pi->payload_len + ((pi->tcp_flags & TCP_FLAG_FIN) ? 1u : 0u);

	conn_note(&s->tcp, pi, true, now);
	if (pi->tcp_flags & TCP_FLAG_ACK)
		stream_dir_ack(&s->s2c, env->pool, pi->ack);
	if (pi->payload_len == 0 && !(pi->tcp_flags & TCP_FLAG_FIN))
		return dispose_forward(
		    CAUSE_TAKEOVER_BEFORE_CUT); /* a pure ACK: the server needs it */
	if (seq_leq(end, ts->server_seq))
		return dispose_forward(CAUSE_TAKEOVER_BEFORE_CUT);
	if (seq_lt(pi->seq, ts->server_seq))
		return dispose_cut(CAUSE_TAKEOVER_CUT, (uint32_t)seq_diff(ts->server_seq, pi->seq));
	return dispose_drop(CAUSE_TAKEOVER_AFTER_CUT);
}

/* The client acknowledged some of our bytes (or our FIN). */
static void take_ack(struct takeover_state *ts, uint32_t ack)
{
	uint32_t fin_seq = ts->snd_una + ts->out_len;
	int32_t acked = seq_diff(ack, ts->snd_una);

	if (acked <= 0 || acked > (int32_t)ts->out_len + (ts->fin_sent ? 1 : 0))
		return;
	uint32_t data = (uint32_t)acked > ts->out_len ? ts->out_len : (uint32_t)acked;
	memmove(ts->out, ts->out + data, ts->out_len - data);
	ts->out_len = (uint16_t)(ts->out_len - data);
	ts->out_sent = (uint16_t)(ts->out_sent > data ? ts->out_sent - data : 0);
	ts->snd_una += data;
	if (ts->fin_sent && seq_geq(ack, fin_seq + 1))
		ts->fin_acked = true;
	ts->retries = 0;
	ts->rto_ms = ENFORCE_RTO_INITIAL_MS;
	ts->rto_at = 0;
}

/* A client segment of an active takeover: we are its receiver now. */
static struct disposition active_client(const struct session_env *env, struct session *s,
                                        const struct flow_key *key, struct takeover_state *ts,
                                        const struct pkt_info *pi, const uint8_t *frame,
                                        uint64_t now, struct session_out *out)
{
	struct conn *c = &s->tcp;
	struct disposition answered = dispose(DISPOSE_ANSWERED, CAUSE_TAKEOVER_ANSWERED);

	if (pi->opts.present & TCP_OPT_TIMESTAMP)
		c->client_tsval = pi->opts.tsval;
	if (pi->tcp_flags & TCP_FLAG_ACK) {
		c->client_wnd = (uint32_t)pi->window << c->client_wscale;
		take_ack(ts, pi->ack);
		c->client_ack = pi->ack;
	}
	bool fin = (pi->tcp_flags & TCP_FLAG_FIN) != 0;
	bool need_ack = false;
	if (pi->payload_len > 0 || fin) {
		if (pi->seq == ts->rcv_nxt && !ts->client_fin) {
			struct takeover_session d;
			struct rejected_ctx rc = {
			    .env = env, .key = key, .s = s, .reason = ts->reason};
			struct takeover_output o = {0};
			dialogue_session(env, s, ts, &d, &rc);
			uint32_t used = takeover_feed(&ts->dialogue, &d, frame + pi->payload_offset,
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
				env->counters->takeover_unread++;
		} else if (seq_lt(pi->seq, ts->rcv_nxt)) {
			/* A repeat of bytes already answered: the same answer again
			 * (our unacknowledged bytes), never a second reply. */
			if (ts->out_len > 0 || ts->fin_sent) {
				retransmit(env, s, ts, now, out);
				return answered;
			}
			send_ack(s, ts, now, out);
		} else {
			env->counters->takeover_unread++;
			send_ack(s, ts, now,
			         out); /* out of order: a duplicate ACK asks for the gap */
		}
	}
	/* What transmit() sends carries the acknowledgement; when it has
	 * nothing to send, a pure ACK does (a FIN must always be answered). */
	bool sends = ts->out_sent < ts->out_len || (ts->fin_queued && !ts->fin_sent);
	if (need_ack && !sends)
		send_ack(s, ts, now, out);
	if (ts->client_fin && ts->fin_acked) {
		env->counters->takeover_closed++;
		return dispose_with_flow(answered, DISPOSE_FLOW_FREE);
	}
	transmit(env, s, ts, now, out);
	return answered;
}

struct disposition enforce_segment(const struct session_env *env, struct session *s,
                                   const struct flow_key *key, const struct pkt_info *pi,
                                   const uint8_t *frame, bool c2s, uint64_t now_ms,
                                   struct session_out *out)
{
	struct takeover_state *ts = state_of(env, s);
	bool rst = (pi->tcp_flags & TCP_FLAG_RST) != 0;

	if (ts->phase == PHASE_WAITING) {
		if (rst) {
			/* Either side aborting ends everything; the RST goes on. */
			env->counters->flows_reset++;
			return dispose_with_flow(dispose_forward(CAUSE_RST_ACCEPTED),
			                         DISPOSE_FLOW_FREE);
		}
		struct disposition d = waiting_client(env, s, ts, pi, now_ms);
		if (quiet(s, ts))
			activate(env, s, key, ts, now_ms, out);
		return d;
	}
	/* Active: nothing of this session crosses helogate any more. */
	if (!c2s) {
		/* After our RST the server may answer with a challenge ACK
		 * (RFC 5961 3.2) naming the sequence number it expects: reset
		 * again there. */
		if (!rst && (pi->tcp_flags & TCP_FLAG_ACK) && ts->rsts < ENFORCE_SERVER_RSTS_MAX)
			reset_server(env, &s->tcp, ts, pi->ack, out);
		return dispose_drop(CAUSE_TAKEOVER_SERVER);
	}
	if (rst) {
		env->counters->takeover_closed++;
		return dispose_with_flow(dispose(DISPOSE_ANSWERED, CAUSE_TAKEOVER_CLIENT_RST),
		                         DISPOSE_FLOW_FREE);
	}
	return active_client(env, s, key, ts, pi, frame, now_ms, out);
}

enum dispose_flow enforce_timer(const struct session_env *env, struct session *s,
                                const struct flow_key *key, uint64_t now_ms,
                                struct session_out *out)
{
	struct takeover_state *ts = state_of(env, s);

	if (ts->phase == PHASE_WAITING) {
		if (now_ms < ts->wait_until) {
			out->deadline = ts->wait_until;
			return DISPOSE_FLOW_KEEP;
		}
		let_through(env, s, key, ts);
		out->deadline = now_ms + env->params.timeout_idle_ms;
		return DISPOSE_FLOW_PASS;
	}
	if (now_ms >= ts->end_at && !ts->timed_out) {
		/* Postscreen's bound on a rejected client: 421, then close. */
		ts->timed_out = true;
		env->counters->takeover_timeouts++;
		if (!ts->fin_queued && OUT_MAX - ts->out_len >= 64) {
			ts->out_len =
			    (uint16_t)(ts->out_len + takeover_timeout_reply(ts->out + ts->out_len,
			                                                    OUT_MAX - ts->out_len));
			ts->fin_queued = true;
			ts->dialogue.closed = true;
		}
		ts->end_at = now_ms + env->params.timeout_closing_ms;
		transmit(env, s, ts, now_ms, out);
		return DISPOSE_FLOW_KEEP;
	}
	bool unacked = ts->out_len > 0 || (ts->fin_sent && !ts->fin_acked) ||
	               (ts->fin_queued && !ts->fin_sent);
	if (unacked && ts->rto_at != 0 && now_ms >= ts->rto_at) {
		if (++ts->retries > ENFORCE_RTO_RETRIES) {
			/* The client is gone: reset its side and forget the session. */
			struct inject_segment seg;
			client_segment(&s->tcp, ts, &seg, ts->snd_una, TCP_FLAG_RST | TCP_FLAG_ACK,
			               now_ms);
			emit(out, ts, &seg);
			env->counters->takeover_client_reset++;
			return DISPOSE_FLOW_FREE;
		}
		ts->rto_ms *= 2;
		retransmit(env, s, ts, now_ms, out);
		return DISPOSE_FLOW_KEEP;
	}
	if (now_ms >= ts->end_at) {
		/* Closed (or closing) and quiet past the closing time. */
		env->counters->takeover_closed++;
		return DISPOSE_FLOW_FREE;
	}
	arm_timer(ts, now_ms, out);
	return DISPOSE_FLOW_KEEP;
}
