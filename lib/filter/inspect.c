#include "filter/inspect.h"

#include <string.h>

#include "wire/tcp_seq.h"
#include "tcp/stream.h"
#include "smtp/smtp.h"
#include "filter/enforce.h"

/* What the stream and SMTP callbacks need to know about the segment at
 * hand, and what they ask the caller to do after the feed. */
struct feed_ctx {
	struct session_env *env;
	struct session *s;
	const struct flow_key *key;
	const struct pkt_info *pi;
	const uint8_t *frame;
	uint64_t now;
	bool takeover_started; /* enforce_begin() succeeded during this segment */
	bool helo_lost;        /* a HELO could not be stored: stop inspecting */
};

bool inspect_opens_session(const struct pkt_info *pi, bool c2s)
{
	return c2s &&
	       (pi->tcp_flags & (TCP_FLAG_SYN | TCP_FLAG_ACK | TCP_FLAG_RST)) == TCP_FLAG_SYN;
}

/* A client SYN goes on without its data (TCP Fast Open, RFC 7413): a server
 * that did not acknowledge it never had it, so the client sends it again
 * after the handshake (RFC 7413 3) and it is parsed then like any data. */
static struct disposition forward_syn(const struct pkt_info *syn, enum packet_cause cause)
{
	return syn->payload_len > 0 ? dispose_cut(CAUSE_SYN_DATA, 0) : dispose_forward(cause);
}

struct disposition inspect_start(const struct session_env *env, struct session *s,
                                 const struct pkt_info *syn, uint64_t now_ms,
                                 struct session_out *out)
{
	session_start(s, syn);
	env->counters->flows_created++;
	out->deadline = now_ms + env->params.timeout_syn_ms;
	return forward_syn(syn, CAUSE_HANDSHAKE);
}

static struct disposition with_urgent_cleared(const struct session_env *env,
                                              const struct pkt_info *pi, struct disposition d);

/* ---- SMTP callbacks -------------------------------------------------------------------- */

static enum smtp_action on_command(void *arg, const struct smtp_command *cmd)
{
	struct feed_ctx *ctx = arg;
	struct session_env *env = ctx->env;
	struct session *s = ctx->s;

	env->counters->commands++;
	switch (cmd->verb) {
	case SMTP_VERB_HELO:
	case SMTP_VERB_EHLO:
		env->counters->helos++;
		if (cmd->verb == SMTP_VERB_EHLO)
			s->flags |= SESSION_F_EHLO;
		else
			s->flags &= (uint8_t)~SESSION_F_EHLO;
		if (!session_store_helo(env, s, cmd->arg, cmd->arg_len)) {
			env->counters->helo_no_memory++;
			ctx->helo_lost = true;
			return SMTP_STOP;
		}
		return SMTP_CONTINUE;
	case SMTP_VERB_RCPT:
	case SMTP_VERB_STARTTLS: {
		/* At STARTTLS nothing more can be seen after a 220: judge now,
		 * without a recipient. */
		bool rcpt = cmd->verb == SMTP_VERB_RCPT;
		enum verdict_reason reason = session_judge(env, s, ctx->key, rcpt ? cmd->arg : NULL,
		                                           rcpt ? cmd->arg_len : 0);
		enum policy_action action = session_action(env, reason);
		if (action == POLICY_OFF) /* ok, allowed, or --action REASON=off */
			return SMTP_CONTINUE;
		if (action == POLICY_ENFORCE &&
		    enforce_begin(env, s, ctx->pi, ctx->frame, cmd, reason, ctx->now)) {
			ctx->takeover_started = true;
			return SMTP_STOP;
		}
		env->counters->detected[reason]++;
		session_event(env, s, ctx->key, rcpt ? "RCPT" : "STARTTLS", reason,
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
	struct feed_ctx *ctx = arg;

	ctx->env->counters->replies++;
	/* The server's own name, from its greeting or HELO/EHLO reply:
	 * "Hello, I'm you" by name needs no configuration. */
	if ((reply->verb == SMTP_VERB_GREETING && reply->code == 220) ||
	    ((reply->verb == SMTP_VERB_EHLO || reply->verb == SMTP_VERB_HELO) &&
	     reply->code == 250)) {
		uint64_t name = policy_server_name(reply->text, reply->text_len);
		if (name != 0)
			ctx->s->server_name = name;
	}
}

static const struct smtp_handler smtp_handler = {
    .on_command = on_command,
    .on_reply = on_reply,
};

static bool deliver(struct feed_ctx *ctx, bool c2s, uint32_t seq, const uint8_t *data, uint32_t len)
{
	struct session *s = ctx->s;

	if (s->state != SESSION_INSPECTING || ctx->helo_lost)
		return false;
	uint64_t t0 = session_prof_start(ctx->env);
	enum smtp_status st =
	    c2s ? smtp_feed_client(&s->smtp, &ctx->env->smtp, &smtp_handler, ctx, seq, data, len)
	        : smtp_feed_server(&s->smtp, &ctx->env->smtp, &smtp_handler, ctx, seq, data, len);
	session_prof_add(ctx->env, WORKER_STAGE_SMTP, t0);
	/* A message body is not inspected, so its copies need not be held. */
	stream_dir_set_hold(&s->c2s, !smtp_in_body(&s->smtp));
	/* The server's replies are read on after the client side stopped (a
	 * takeover waits for every reply it owes: reliability rule 6); only a
	 * session given up stops them. The client side stops at STOPPED and
	 * HOLD (hold() rewinds its stream). */
	if (!c2s)
		return st != SMTP_STATUS_PASSTHROUGH;
	return st == SMTP_STATUS_CONTINUE;
}

static bool deliver_client(void *arg, uint32_t seq, const uint8_t *data, uint32_t len)
{
	return deliver(arg, true, seq, data, len);
}

static bool deliver_server(void *arg, uint32_t seq, const uint8_t *data, uint32_t len)
{
	return deliver(arg, false, seq, data, len);
}

/* ---- TCP ------------------------------------------------------------------------------- */

/* The packet leaves: note its FIN, end the session when both sides closed,
 * else set its timer. d's flow field may already say PASS. */
static struct disposition leave(const struct session_env *env, struct session *s,
                                const struct pkt_info *pi, bool c2s, uint64_t now,
                                struct disposition d, struct session_out *out)
{
	if (pi->tcp_flags & TCP_FLAG_FIN)
		conn_note_fin(&s->tcp, c2s);
	if (conn_closed(&s->tcp)) {
		/* Both sides closed: the last ACK needs no state (it is forwarded
		 * untracked). */
		env->counters->flows_closed++;
		return dispose_with_flow(d, DISPOSE_FLOW_FREE);
	}
	out->deadline = now + (conn_closing(&s->tcp) ? env->params.timeout_closing_ms
	                                             : env->params.timeout_idle_ms);
	return d;
}

/* RFC 5961 3.2: a RST is acceptable only at exactly the next expected
 * sequence number; elsewhere in the window the receiver answers with a
 * challenge ACK and stays; outside the window it ignores the RST. */
static struct disposition segment_rst(const struct session_env *env, const struct session *s,
                                      const struct pkt_info *pi, bool c2s)
{
	bool synchronized = s->state != SESSION_SYN_SENT;
	uint32_t expected = 0;
	enum conn_rst verdict;

	if (s->state == SESSION_INSPECTING) {
		expected = stream_dir_next_seq(c2s ? &s->c2s : &s->s2c);
		verdict = conn_judge_rst(&s->tcp, pi, c2s, true, expected);
	} else if (synchronized) {
		/* Not inspected: the receiver expects either what it last
		 * acknowledged or, once in-flight bytes arrive, the end of what
		 * the RST's sender has sent (tracked while passing). */
		uint32_t sent = c2s ? s->tcp.client_snd_max : s->tcp.server_snd_max;
		verdict = conn_judge_rst(&s->tcp, pi, c2s, true, sent);
		if (verdict != CONN_RST_ACCEPT)
			verdict = conn_judge_rst(&s->tcp, pi, c2s, true,
			                         c2s ? s->tcp.server_ack : s->tcp.client_ack);
	} else {
		verdict = conn_judge_rst(&s->tcp, pi, c2s, false, 0);
	}
	switch (verdict) {
	case CONN_RST_ACCEPT:
		env->counters->flows_reset++;
		return dispose_with_flow(dispose_forward(CAUSE_RST_ACCEPTED), DISPOSE_FLOW_FREE);
	case CONN_RST_CHALLENGE:
		return dispose_forward(CAUSE_RST_IN_WINDOW);
	case CONN_RST_IGNORE:
		break;
	}
	return dispose_drop(CAUSE_RST_OUT_OF_WINDOW);
}

static struct disposition segment_syn(const struct session_env *env, struct session *s,
                                      const struct pkt_info *pi, bool c2s, uint64_t now,
                                      struct session_out *out)
{
	bool ack = (pi->tcp_flags & TCP_FLAG_ACK) != 0;

	if (c2s && !ack) {
		if (s->state == SESSION_SYN_SENT) {
			if (pi->seq == s->tcp.client_isn) {
				env->counters->syn_retransmitted++;
			} else {
				/* Not synchronized yet: the new SYN replaces the old. */
				session_release(env, s);
				session_start(s, pi);
				env->counters->flows_created++;
			}
			out->deadline = now + env->params.timeout_syn_ms;
			return forward_syn(pi, CAUSE_HANDSHAKE);
		}
		/* RFC 5961 4.2 (Linux: tcp_validate_incoming): a SYN on a
		 * synchronized connection is answered with a challenge ACK and
		 * changes nothing. It goes on so the server can answer; the
		 * session is replaced only if the server accepts it with a
		 * SYN-ACK of its own (a port reused after TIME-WAIT). */
		if (pi->seq != s->tcp.client_isn) {
			conn_note_new_syn(&s->tcp, pi);
			env->counters->new_syns_ignored++;
		}
		return forward_syn(pi, CAUSE_HANDSHAKE_OTHER);
	}
	if (!c2s && ack) {
		if (s->state == SESSION_SYN_SENT && conn_synack_matches(&s->tcp, pi)) {
			session_establish(s, pi, now);
			out->deadline = now + env->params.timeout_idle_ms;
			return dispose_forward(CAUSE_HANDSHAKE);
		}
		if (s->state != SESSION_SYN_SENT && conn_new_syn_accepted(&s->tcp, pi)) {
			struct pkt_info syn;
			conn_new_syn_view(&s->tcp, &syn);
			session_release(env, s);
			session_start(s, &syn);
			session_establish(s, pi, now);
			env->counters->flows_replaced++;
			out->deadline = now + env->params.timeout_idle_ms;
			return dispose_forward(CAUSE_HANDSHAKE);
		}
		if (s->state != SESSION_SYN_SENT && pi->seq == s->tcp.server_isn) {
			env->counters->syn_retransmitted++;
			return dispose_forward(CAUSE_HANDSHAKE);
		}
	}
	return dispose_forward(CAUSE_HANDSHAKE_OTHER);
}

/* What a forwarded segment (or its kept part) adds to what its sender has
 * sent through helogate: the bound for acknowledgements and exact RSTs. */
static void note_forwarded(struct session *s, const struct pkt_info *pi, bool c2s,
                           struct disposition d)
{
	struct pkt_info kept;

	if (pi->tcp_flags & (TCP_FLAG_SYN | TCP_FLAG_RST))
		return;
	switch ((enum dispose_pkt)d.pkt) {
	case DISPOSE_FORWARD:
		conn_note_sent(&s->tcp, pi, c2s);
		return;
	case DISPOSE_FORWARD_CUT:
		kept = *pi;
		kept.payload_len = d.keep;
		kept.tcp_flags &= (uint8_t)~TCP_FLAG_FIN;
		conn_note_sent(&s->tcp, &kept, c2s);
		return;
	case DISPOSE_DROP:
	case DISPOSE_ANSWERED:
		return;
	}
}

static enum packet_cause drop_cause(enum stream_verdict v)
{
	switch (v) {
	case STREAM_DROP_CONFLICT:
		return CAUSE_STREAM_CONFLICT;
	case STREAM_DROP_OUT_OF_WINDOW:
		return CAUSE_STREAM_OUT_OF_WINDOW;
	default:
		return CAUSE_STREAM_OOO_FULL;
	}
}

/*
 * The tracker consumed the client's bytes only up to its hold point: the
 * rest must wait for the server's reply (after DATA, BDAT, AUTH, STARTTLS,
 * or a full pipeline) before anyone can say how to read it (reliability
 * rule 2). The segment leaves cut at that point, or is dropped when the
 * point is its start; the stream is rewound there, so the client's
 * retransmission (RFC 6298) is parsed once the reply has come.
 */
static struct disposition hold(const struct session_env *env, struct session *s,
                               const struct pkt_info *pi, uint64_t now, struct disposition pass,
                               struct session_out *out)
{
	uint32_t at = smtp_session_hold_seq(&s->smtp);
	uint32_t seg_end = pi->seq + pi->payload_len;

	if (!stream_dir_rewind(&s->c2s, at, seg_end)) {
		/* The point lies in bytes forwarded out of order earlier. */
		env->counters->hold_too_late++;
		return leave(env, s, pi, true, now, pass, out);
	}
	out->deadline = now + env->params.timeout_idle_ms;
	int32_t keep = seq_diff(at, pi->seq);
	if (keep <= 0)
		return dispose_drop(CAUSE_SMTP_HELD);
	if ((uint32_t)keep >= pi->payload_len)
		return leave(env, s, pi, true, now, dispose_forward(CAUSE_INSPECTED), out);
	return dispose_cut(CAUSE_SMTP_HELD_CUT, (uint32_t)keep);
}

/* A segment of an established (or passed-through) session. */
static struct disposition segment_established(struct session_env *env, struct session *s,
                                              const struct flow_key *key, const struct pkt_info *pi,
                                              const uint8_t *frame, bool c2s, uint64_t now,
                                              struct session_out *out)
{
	struct worker_counters *cnt = env->counters;
	bool fin = (pi->tcp_flags & TCP_FLAG_FIN) != 0;

	/* What the end host drops never reaches it nor the stream
	 * (RFC 9293 3.10.7.4): a segment without ACK, or acknowledging bytes
	 * never sent. The session goes on. */
	if (!(pi->tcp_flags & TCP_FLAG_ACK))
		return dispose_drop(CAUSE_NO_ACK);
	if (conn_acks_unsent(&s->tcp, pi, c2s))
		return dispose_drop(CAUSE_ACK_UNSENT);
	/* The acknowledgement and window this segment carries are about the
	 * other direction; kept even when not inspecting, to judge RSTs. */
	conn_note(&s->tcp, pi, c2s, now);
	if (s->state == SESSION_PASSTHROUGH)
		return leave(env, s, pi, c2s, now, dispose_forward(CAUSE_PASSTHROUGH), out);
	struct disposition pass =
	    dispose_with_flow(dispose_forward(CAUSE_PASSTHROUGH), DISPOSE_FLOW_PASS);
	if ((pi->tcp_flags & TCP_FLAG_ACK) &&
	    !stream_dir_ack(c2s ? &s->s2c : &s->c2s, env->pool, pi->ack)) {
		cnt->stream_verdicts[STREAM_PASSTHROUGH]++;
		return leave(env, s, pi, c2s, now, pass, out);
	}
	if (pi->payload_len == 0 && !fin) {
		cnt->stream_verdicts[STREAM_EMPTY]++;
		out->deadline = now + env->params.timeout_idle_ms;
		return dispose_forward(CAUSE_INSPECTED);
	}
	struct feed_ctx ctx = {
	    .env = env, .s = s, .key = key, .pi = pi, .frame = frame, .now = now};
	struct stream_dir *dir = c2s ? &s->c2s : &s->s2c;
	uint32_t recv_ack = c2s ? s->tcp.server_ack : s->tcp.client_ack;
	uint32_t recv_wnd = c2s ? s->tcp.server_wnd : s->tcp.client_wnd;
	uint64_t t0 = session_prof_start(env);
	enum stream_verdict v = stream_dir_segment(
	    dir, env->pool, pi->seq, frame + pi->payload_offset, pi->payload_len, fin,
	    (uint64_t)(uint32_t)(recv_ack + recv_wnd), c2s ? deliver_client : deliver_server, &ctx);
	session_prof_add(env, WORKER_STAGE_REASSEMBLY, t0);
	cnt->stream_verdicts[v]++;
	if (ctx.takeover_started)
		return with_urgent_cleared(env, pi, enforce_started(env, s, key, pi, now, out));
	if (ctx.helo_lost)
		return leave(env, s, pi, c2s, now, pass, out);
	if (c2s && smtp_session_status(&s->smtp) == SMTP_STATUS_HOLD)
		return hold(env, s, pi, now, pass, out);
	switch (stream_verdict_action(v)) {
	case STREAM_ACTION_FORWARD:
	case STREAM_ACTION_CALLER:
		break;
	case STREAM_ACTION_FAIL_OPEN:
		return leave(env, s, pi, c2s, now, pass, out);
	case STREAM_ACTION_DROP:
		return dispose_drop(drop_cause(v));
	}
	/* A session the SMTP tracker gave up is passed through. */
	if (smtp_session_status(&s->smtp) == SMTP_STATUS_PASSTHROUGH) {
		cnt->smtp_stops[smtp_session_stop_reason(&s->smtp)]++;
		return leave(env, s, pi, c2s, now, pass, out);
	}
	return leave(env, s, pi, c2s, now, dispose_forward(CAUSE_INSPECTED), out);
}

/* Hosts read urgent data differently (RFC 6093 4: inline or not, one byte
 * or more), so a forwarded segment leaves with URG and the urgent pointer
 * cleared: the receiver reads every byte inline, exactly as helogate
 * parsed it. */
static struct disposition with_urgent_cleared(const struct session_env *env,
                                              const struct pkt_info *pi, struct disposition d)
{
	if ((pi->tcp_flags & TCP_FLAG_URG) &&
	    (d.pkt == DISPOSE_FORWARD || d.pkt == DISPOSE_FORWARD_CUT)) {
		d.normalize |= DISPOSE_CLEAR_URG;
		env->counters->urgent_cleared++;
	}
	return d;
}

struct disposition inspect_segment(struct session_env *env, struct session *s,
                                   const struct flow_key *key, const struct pkt_info *pi,
                                   const uint8_t *frame, bool c2s, uint64_t now_ms,
                                   struct session_out *out)
{
	uint8_t flags = pi->tcp_flags;
	bool takeover = (s->flags & SESSION_F_TAKEOVER) != 0;

	/* A signature the SYN did not negotiate: the end host drops the
	 * segment, RSTs included (RFC 2385 2.0, RFC 5925 7.3; Linux's
	 * tcp_inbound_hash). */
	if (conn_unexpected_signature(&s->tcp, pi))
		return dispose_drop(CAUSE_SIGNATURE);
	struct disposition d;
	/* A takeover owns its session's segments, except the server's owed
	 * replies while it waits for quiet: they take the ordinary path. */
	if (takeover && (c2s || (flags & TCP_FLAG_RST) || !enforce_waiting(env, s))) {
		d = enforce_segment(env, s, key, pi, frame, c2s, now_ms, out);
	} else if (flags & TCP_FLAG_RST) {
		d = segment_rst(env, s, pi, c2s);
	} else if (flags & TCP_FLAG_SYN) {
		d = segment_syn(env, s, pi, c2s, now_ms, out);
	} else if (s->state == SESSION_SYN_SENT) {
		/* Nothing but SYN, SYN-ACK and RST belongs before the handshake. */
		d = dispose_forward(CAUSE_HANDSHAKE_OTHER);
	} else {
		d = with_urgent_cleared(
		    env, pi, segment_established(env, s, key, pi, frame, c2s, now_ms, out));
		/* A takeover waiting for the server's owed replies may go now. */
		if (takeover && d.flow == DISPOSE_FLOW_KEEP)
			enforce_check_quiet(env, s, key, now_ms, out);
	}
	note_forwarded(s, pi, c2s, d);
	return d;
}

enum dispose_flow inspect_timer(struct session_env *env, struct session *s,
                                const struct flow_key *key, uint64_t now_ms,
                                struct session_out *out)
{
	if (s->flags & SESSION_F_TAKEOVER)
		return enforce_timer(env, s, key, now_ms, out);
	env->counters->flows_expired++;
	return DISPOSE_FLOW_FREE;
}
