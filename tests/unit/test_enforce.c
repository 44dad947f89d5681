/*
 * Unit tests for lib/filter/enforce (and the inspect path that starts a
 * takeover): every phase of a takeover, driven with real frames through
 * inspect_segment() and enforce_timer(), with no EAL, no mbufs and no root.
 * Each test checks the disposition of the packet, the segments helogate
 * would send, and that every pool block comes back.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "wire/disposition.h"
#include "wire/inject.h"
#include "wire/pkt.h"
#include "wire/tcp_seq.h"
#include "tcp/block_pool.h"
#include "tcp/flow_table.h"
#include "smtp/scan.h"
#include "filter/enforce.h"
#include "filter/event.h"
#include "filter/inspect.h"
#include "filter/session.h"
#include "filter/takeover.h"
#include "session_fx.h"

#define REPLY_550 "550 5.7.1 bob@example.net... Access denied - bogus HELO\r\n"

/* Take the session over at a quiet RCPT; returns the cut. */
static uint32_t fx_take_over(struct fx *fx)
{
	fx_open(fx, "localhost");
	uint32_t cut = fx->cseq;
	assert_disposition(client_says(fx, "RCPT TO:<bob@example.net>\r\n"), DISPOSE_DROP,
	                   CAUSE_TAKEOVER_AFTER_CUT, DISPOSE_FLOW_KEEP);
	return cut;
}

/* ---- starting ---------------------------------------------------------------------------- */

static void test_quiet_rcpt_resets_server_and_answers_550(void **state)
{
	struct fx *fx = *state;
	uint32_t cut = fx_take_over(fx);

	assert_int_equal(fx->out.n_seg, 2);
	assert_server_rst(fx, 0, cut); /* exactly the server's next expected byte */
	assert_client_seg(fx, 1, REPLY_550, TCP_FLAG_ACK | TCP_FLAG_PSH);
	assert_int_equal(fx->out.seg[1].seq, fx->sseq);
	assert_int_equal(fx->out.seg[1].ack, fx->cseq); /* the RCPT line is acknowledged */
	assert_ptr_not_equal(fx->out.tpl, NULL);
	assert_int_equal(fx->counters.takeovers, 1);
	assert_int_equal(fx->counters.takeover_rejected_rcpts, 1);
	const struct event *e = event_ring_peek(fx->env.events);
	assert_non_null(e);
	assert_int_equal(e->action, EVENT_ACTION_REJECTED);
	assert_int_equal(e->reason, VERDICT_LOCALHOST);
	assert_memory_equal(e->rcpt, "bob@example.net", 15);
	assert_true(fx->out.deadline > fx->now); /* the retransmission timer */
	fx_release(fx);
}

static void test_good_helo_is_never_taken_over(void **state)
{
	struct fx *fx = *state;

	fx_open(fx, "mail.example.org");
	assert_disposition(client_says(fx, "RCPT TO:<bob@example.net>\r\n"), DISPOSE_FORWARD,
	                   CAUSE_INSPECTED, DISPOSE_FLOW_KEEP);
	assert_int_equal(fx->out.n_seg, 0);
	assert_false(fx->s.flags & SESSION_F_TAKEOVER);
	assert_int_equal(fx->counters.judged, 1);
	fx_release(fx);
}

static void test_detect_mode_writes_event_and_forwards(void **state)
{
	struct fx *fx = *state;

	fx->env.policy = fx->detect_policy;
	fx_open(fx, "localhost");
	assert_disposition(client_says(fx, "RCPT TO:<bob@example.net>\r\n"), DISPOSE_FORWARD,
	                   CAUSE_INSPECTED, DISPOSE_FLOW_KEEP);
	const struct event *e = event_ring_peek(fx->env.events);
	assert_non_null(e);
	assert_int_equal(e->action, EVENT_ACTION_DETECTED);
	fx->env.policy = fx->enforce_policy;
	fx_release(fx);
}

static void test_pipelined_rcpt_is_cut_and_waits_for_owed_reply(void **state)
{
	struct fx *fx = *state;
	fx_open(fx, "localhost");
	uint32_t start = fx->cseq;
	/* RSET's reply is owed when the RCPT arrives: not quiet. */
	struct disposition d = client_says(fx, "RSET\r\nRCPT TO:<bob@example.net>\r\n");
	assert_disposition(d, DISPOSE_FORWARD_CUT, CAUSE_TAKEOVER_CUT, DISPOSE_FLOW_KEEP);
	assert_int_equal(d.keep, 6);
	assert_int_equal(fx->out.n_seg, 0);
	assert_int_equal(fx->out.deadline, fx->now + fx->env.params.takeover_wait_ms);
	/* The server answers RSET and acknowledges up to the cut: quiet now. */
	fx->cseq = start + 6;
	assert_disposition(server_says(fx, "250 2.0.0 Ok\r\n"), DISPOSE_FORWARD, CAUSE_INSPECTED,
	                   DISPOSE_FLOW_KEEP);
	assert_int_equal(fx->out.n_seg, 0); /* the client has not acknowledged that reply yet */
	assert_disposition(client_acks(fx), DISPOSE_FORWARD, CAUSE_TAKEOVER_BEFORE_CUT,
	                   DISPOSE_FLOW_KEEP);
	assert_int_equal(fx->out.n_seg, 2);
	assert_server_rst(fx, 0, start + 6);
	assert_client_seg(fx, 1, REPLY_550, TCP_FLAG_ACK | TCP_FLAG_PSH);
	fx_release(fx);
}

/* While the takeover waits, no client byte from the cut on reaches the server. */
static const struct waiting_case {
	const char *name;
	int32_t from; /* first payload byte, relative to the cut */
	uint32_t len;
	bool fin;
	enum dispose_pkt want;
	enum packet_cause cause;
	uint32_t keep;
} waiting_cases[] = {
    {"a pure ACK goes on", 0, 0, false, DISPOSE_FORWARD, CAUSE_TAKEOVER_BEFORE_CUT, 0},
    {"a retransmission before the cut goes on", -6, 6, false, DISPOSE_FORWARD,
     CAUSE_TAKEOVER_BEFORE_CUT, 0},
    {"a segment across the cut is cut at it", -4, 10, false, DISPOSE_FORWARD_CUT,
     CAUSE_TAKEOVER_CUT, 4},
    {"a segment at the cut is dropped", 0, 10, false, DISPOSE_DROP, CAUSE_TAKEOVER_AFTER_CUT, 0},
    {"a segment after the cut is dropped", 12, 4, false, DISPOSE_DROP, CAUSE_TAKEOVER_AFTER_CUT, 0},
    {"a FIN at the cut is dropped", 0, 0, true, DISPOSE_DROP, CAUSE_TAKEOVER_AFTER_CUT, 0},
};

static void test_waiting_client_segments_never_cross_the_cut(void **state)
{
	struct fx *fx = *state;
	static const char bytes[] = "RSET\r\nRCPT TO:<bob@example.net>\r\n";

	for (size_t i = 0; i < ARRAY_LEN(waiting_cases); i++) {
		const struct waiting_case *c = &waiting_cases[i];
		fx_open(fx, "localhost");
		uint32_t cut = fx->cseq + 6;
		client_says(fx, bytes); /* RSET's reply owed: the takeover waits */
		assert_int_equal(fx->d.pkt, DISPOSE_FORWARD_CUT);
		uint8_t flags = TCP_FLAG_ACK | (c->fin ? TCP_FLAG_FIN : 0);
		/* The server has not acknowledged beyond the cut: still waiting. */
		struct disposition d =
		    run(fx, true,
		        seg_at(fx, true, flags, cut + (uint32_t)c->from, fx->sseq, bytes, c->len));
		if (d.pkt != c->want || d.cause != c->cause || d.keep != c->keep)
			fail_msg("%s: disposition %u %s keep %u", c->name, d.pkt,
			         packet_cause_name((enum packet_cause)d.cause), d.keep);
		assert_int_equal(fx->out.n_seg,
		                 0); /* nothing is sent before the session is quiet */
		fx_release(fx);
	}
}

/* A RCPT line split in two at every position: the server keeps only the
 * bytes before the segment that completes the line, and is reset there. */
static void test_split_rcpt_is_cut_at_the_completing_segment(void **state)
{
	struct fx *fx = *state;
	static const char line[] = "RCPT TO:<bob@example.net>\r\n";
	const uint32_t len = (uint32_t)strlen(line);

	for (uint32_t k = 1; k < len; k++) {
		fx_open(fx, "localhost");
		const struct pkt_info *pi =
		    seg_at(fx, true, TCP_FLAG_ACK, fx->cseq, fx->sseq, line, k);
		assert_disposition(run(fx, true, pi), DISPOSE_FORWARD, CAUSE_INSPECTED,
		                   DISPOSE_FLOW_KEEP);
		fx->cseq += k;
		/* The server acknowledges the head (it holds an unfinished line). */
		run(fx, false, seg_at(fx, false, TCP_FLAG_ACK, fx->sseq, fx->cseq, NULL, 0));
		uint32_t tail_seq = fx->cseq;
		pi = seg_at(fx, true, TCP_FLAG_ACK | TCP_FLAG_PSH, tail_seq, fx->sseq, line + k,
		            len - k);
		struct disposition d = run(fx, true, pi);
		if (d.pkt != DISPOSE_DROP || fx->out.n_seg != 2)
			fail_msg("split at %u: disposition %u, %u segments", k, d.pkt,
			         fx->out.n_seg);
		assert_server_rst(fx, 0, tail_seq);
		assert_client_seg(fx, 1, REPLY_550, TCP_FLAG_ACK | TCP_FLAG_PSH);
		assert_int_equal(fx->out.seg[1].ack, tail_seq + len - k);
		fx_release(fx);
	}
}

/* An RCPT line whose tail arrives before its head is taken over like any
 * other: the server holds the tail out of order, the head (the gap) is
 * dropped, and the RST lands at the gap, the server's next expected byte. */
static void test_rcpt_completed_by_out_of_order_bytes_is_taken_over(void **state)
{
	struct fx *fx = *state;
	static const char line[] = "RCPT TO:<bob@example.net>\r\n";
	const uint32_t len = (uint32_t)strlen(line);

	fx_open(fx, "localhost");
	run(fx, true, seg_at(fx, true, TCP_FLAG_ACK, fx->cseq + 5, fx->sseq, line + 5, len - 5));
	assert_int_equal(fx->d.pkt, DISPOSE_FORWARD);
	assert_int_equal(fx->out.n_seg, 0);
	uint32_t gap = fx->cseq;
	struct disposition d =
	    run(fx, true, seg_at(fx, true, TCP_FLAG_ACK, gap, fx->sseq, line, 5));
	assert_disposition(d, DISPOSE_DROP, CAUSE_TAKEOVER_AFTER_CUT, DISPOSE_FLOW_KEEP);
	assert_int_equal(fx->out.n_seg, 2);
	assert_server_rst(fx, 0, gap);
	assert_client_seg(fx, 1, REPLY_550, TCP_FLAG_ACK | TCP_FLAG_PSH);
	assert_int_equal(fx->out.seg[1].ack, gap + len);
	assert_int_equal(fx->counters.takeover_unsupported, 0);
	fx_release(fx);
}

/* Commands pipelined behind the rejected RCPT in its segment are answered
 * with it, in order, without waiting for the client to send them again. */
static void test_pipelined_commands_behind_the_rcpt_are_answered_at_once(void **state)
{
	struct fx *fx = *state;
	static const char bytes[] = "RCPT TO:<bob@example.net>\r\nNOOP\r\nQUI";

	fx_open(fx, "localhost");
	uint32_t cut = fx->cseq;
	client_says(fx, bytes);
	assert_int_equal(fx->d.pkt, DISPOSE_DROP);
	assert_int_equal(fx->out.n_seg, 2);
	assert_server_rst(fx, 0, cut);
	assert_client_seg(fx, 1, REPLY_550 "250 2.0.0 Ok\r\n", TCP_FLAG_ACK | TCP_FLAG_PSH);
	/* The incomplete "QUI" is not acknowledged: the client sends it again. */
	assert_int_equal(fx->out.seg[1].ack, cut + strlen(bytes) - 3);
	fx_release(fx);
}

/* A conflicting copy of bytes already forwarded is dropped (first copy
 * wins: the server holds exactly what helogate parsed) and no longer stops
 * the takeover (reliability rule 4). */
static void test_conflicting_copy_is_dropped_and_takeover_goes_on(void **state)
{
	struct fx *fx = *state;

	fx_open(fx, "localhost");
	uint32_t noop = fx->cseq;
	client_says(fx, "NOOP\r\n");
	/* Before the server acknowledges it, another copy with other bytes. */
	struct disposition d = run(
	    fx, true, seg_at(fx, true, TCP_FLAG_ACK | TCP_FLAG_PSH, noop, fx->sseq, "RCPT\r\n", 6));
	assert_disposition(d, DISPOSE_DROP, CAUSE_STREAM_CONFLICT, DISPOSE_FLOW_KEEP);
	server_says(fx, "250 2.0.0 Ok\r\n");
	client_acks(fx);
	assert_disposition(client_says(fx, "RCPT TO:<bob@example.net>\r\n"), DISPOSE_DROP,
	                   CAUSE_TAKEOVER_AFTER_CUT, DISPOSE_FLOW_KEEP);
	assert_int_equal(fx->out.n_seg, 2);
	assert_int_equal(fx->counters.takeovers, 1);
	fx_release(fx);
}

static void test_no_block_means_let_through_and_counted(void **state)
{
	struct fx *fx = *state;
	uint32_t taken[64 + 1]; /* the pool holds 64: the loop writes one NONE past them */
	unsigned n = 0;

	fx_open(fx, "localhost");
	while ((taken[n] = block_pool_get(fx->env.pool)) != BLOCK_POOL_NONE)
		n++;
	assert_disposition(client_says(fx, "RCPT TO:<bob@example.net>\r\n"), DISPOSE_FORWARD,
	                   CAUSE_INSPECTED, DISPOSE_FLOW_KEEP);
	assert_int_equal(fx->counters.takeover_no_memory, 1);
	while (n > 0)
		block_pool_put(fx->env.pool, taken[--n]);
	fx_release(fx);
}

static void test_wait_without_quiet_lets_through_with_event(void **state)
{
	struct fx *fx = *state;

	fx_open(fx, "localhost");
	client_says(fx, "RSET\r\nRCPT TO:<bob@example.net>\r\n"); /* RSET's reply never comes */
	fx->now += 1000;
	assert_int_equal(enforce_timer(&fx->env, &fx->s, &fx->key, fx->now, &fx->out),
	                 DISPOSE_FLOW_KEEP);
	fx->now += 1000;
	assert_int_equal(enforce_timer(&fx->env, &fx->s, &fx->key, fx->now, &fx->out),
	                 DISPOSE_FLOW_PASS);
	assert_int_equal(fx->counters.takeover_not_quiet, 1);
	const struct event *e = event_ring_peek(fx->env.events);
	assert_non_null(e);
	assert_int_equal(e->action, EVENT_ACTION_DETECTED);
	fx_release(fx);
}

static void test_rst_while_waiting_frees_and_goes_on(void **state)
{
	struct fx *fx = *state;

	fx_open(fx, "localhost");
	client_says(fx, "RSET\r\nRCPT TO:<bob@example.net>\r\n");
	struct disposition d = run(
	    fx, false, seg_at(fx, false, TCP_FLAG_RST | TCP_FLAG_ACK, fx->sseq, fx->cseq, NULL, 0));
	assert_disposition(d, DISPOSE_FORWARD, CAUSE_RST_ACCEPTED, DISPOSE_FLOW_FREE);
	fx_release(fx);
}

/* ---- active -------------------------------------------------------------------------- */

static void test_challenge_ack_gets_the_rst_again_a_bounded_number_of_times(void **state)
{
	struct fx *fx = *state;

	fx_take_over(fx);
	unsigned rsts = 0;
	for (int i = 0; i < 8; i++) {
		uint32_t expected =
		    fx->cseq - 3 + (uint32_t)i; /* what the server says it expects */
		struct disposition d =
		    run(fx, false, seg_at(fx, false, TCP_FLAG_ACK, fx->sseq, expected, NULL, 0));
		assert_disposition(d, DISPOSE_DROP, CAUSE_TAKEOVER_SERVER, DISPOSE_FLOW_KEEP);
		if (fx->out.n_seg == 1) {
			assert_server_rst(fx, 0, expected);
			rsts++;
		}
	}
	assert_int_equal(rsts, ENFORCE_SERVER_RSTS_MAX - 1); /* the first went at the takeover */
	fx_release(fx);
}

static void test_every_reply_in_order(void **state)
{
	struct fx *fx = *state;
	static const struct {
		const char *command, *reply;
	} dialogue[] = {
	    {"RCPT TO:<carol@example.net>\r\n",
	     "550 5.7.1 carol@example.net... Access denied - bogus HELO\r\n"},
	    {"RSET\r\n", "250 2.0.0 Ok\r\n"},
	    {"NOOP\r\n", "250 2.0.0 Ok\r\n"},
	    {"MAIL FROM:<x@example.org>\r\n", "250 2.1.0 x@example.org... Sender ok\r\n"},
	};

	fx_take_over(fx);
	uint32_t our = fx->sseq + (uint32_t)strlen(REPLY_550);
	for (size_t i = 0; i < ARRAY_LEN(dialogue); i++) {
		/* The client acknowledges our last reply and sends the next command. */
		const char *cmd = dialogue[i].command;
		const struct pkt_info *pi = seg_at(fx, true, TCP_FLAG_ACK | TCP_FLAG_PSH, fx->cseq,
		                                   our, cmd, (uint32_t)strlen(cmd));
		assert_disposition(run(fx, true, pi), DISPOSE_ANSWERED, CAUSE_TAKEOVER_ANSWERED,
		                   DISPOSE_FLOW_KEEP);
		fx->cseq += (uint32_t)strlen(cmd);
		assert_int_equal(fx->out.n_seg, 1);
		assert_client_seg(fx, 0, dialogue[i].reply, TCP_FLAG_ACK | TCP_FLAG_PSH);
		assert_int_equal(fx->out.seg[0].seq, our);
		assert_int_equal(fx->out.seg[0].ack, fx->cseq);
		our += (uint32_t)strlen(dialogue[i].reply);
	}
	assert_int_equal(fx->counters.takeover_rejected_rcpts, 2);
	fx_release(fx);
}

static void test_quit_gets_221_fin_and_the_session_ends_on_the_last_ack(void **state)
{
	struct fx *fx = *state;

	fx_take_over(fx);
	uint32_t our = fx->sseq + (uint32_t)strlen(REPLY_550);
	const struct pkt_info *pi =
	    seg_at(fx, true, TCP_FLAG_ACK | TCP_FLAG_PSH, fx->cseq, our, "QUIT\r\n", 6);
	run(fx, true, pi);
	fx->cseq += 6;
	assert_int_equal(fx->out.n_seg, 1);
	assert_client_seg(fx, 0, "221 2.0.0 Bye\r\n", TCP_FLAG_ACK | TCP_FLAG_PSH | TCP_FLAG_FIN);
	our += 15;
	/* The client acknowledges our FIN and closes its side. */
	pi = seg_at(fx, true, TCP_FLAG_ACK | TCP_FLAG_FIN, fx->cseq, our + 1, NULL, 0);
	assert_disposition(run(fx, true, pi), DISPOSE_ANSWERED, CAUSE_TAKEOVER_ANSWERED,
	                   DISPOSE_FLOW_FREE);
	assert_int_equal(fx->out.n_seg, 1); /* its FIN is acknowledged */
	assert_int_equal(fx->out.seg[0].flags, TCP_FLAG_ACK);
	assert_int_equal(fx->out.seg[0].ack, fx->cseq + 1);
	assert_int_equal(fx->counters.takeover_closed, 1);
	fx_release(fx);
}

static void test_data_gets_554_and_the_session_stays_open(void **state)
{
	struct fx *fx = *state;

	fx_take_over(fx);
	uint32_t our = fx->sseq + (uint32_t)strlen(REPLY_550);
	run(fx, true, seg_at(fx, true, TCP_FLAG_ACK | TCP_FLAG_PSH, fx->cseq, our, "DATA\r\n", 6));
	fx->cseq += 6;
	assert_int_equal(fx->out.n_seg, 1);
	assert_int_equal(fx->out.seg[0].flags, TCP_FLAG_ACK | TCP_FLAG_PSH); /* no FIN */
	assert_memory_equal(fx->out.seg[0].payload, "554 ", 4);
	our += fx->out.seg[0].payload_len;
	run(fx, true, seg_at(fx, true, TCP_FLAG_ACK | TCP_FLAG_PSH, fx->cseq, our, "QUIT\r\n", 6));
	assert_client_seg(fx, 0, "221 2.0.0 Bye\r\n", TCP_FLAG_ACK | TCP_FLAG_PSH | TCP_FLAG_FIN);
	fx_release(fx);
}

static void test_repeated_rcpt_gets_the_same_answer_not_a_second_one(void **state)
{
	struct fx *fx = *state;
	uint32_t cut = fx_take_over(fx);

	/* The client did not see our 550 and sends the RCPT again. */
	const char *line = "RCPT TO:<bob@example.net>\r\n";
	run(fx, true,
	    seg_at(fx, true, TCP_FLAG_ACK | TCP_FLAG_PSH, cut, fx->sseq, line,
	           (uint32_t)strlen(line)));
	assert_int_equal(fx->d.pkt, DISPOSE_ANSWERED);
	assert_int_equal(fx->out.n_seg, 1);
	assert_client_seg(fx, 0, REPLY_550, TCP_FLAG_ACK | TCP_FLAG_PSH);
	assert_int_equal(fx->out.seg[0].seq, fx->sseq);
	assert_int_equal(fx->counters.takeover_rejected_rcpts, 1);
	assert_int_equal(fx->counters.injected_retransmits, 1);
	fx_release(fx);
}

static void test_out_of_order_client_bytes_get_a_duplicate_ack(void **state)
{
	struct fx *fx = *state;

	fx_take_over(fx);
	run(fx, true,
	    seg_at(fx, true, TCP_FLAG_ACK | TCP_FLAG_PSH, fx->cseq + 10, fx->sseq, "NOOP\r\n", 6));
	assert_int_equal(fx->d.pkt, DISPOSE_ANSWERED);
	assert_int_equal(fx->counters.takeover_unread, 1);
	assert_true(fx->out.n_seg >= 1);
	assert_int_equal(fx->out.seg[0].flags, TCP_FLAG_ACK);
	assert_int_equal(fx->out.seg[0].ack, fx->cseq); /* asks for the gap */
	fx_release(fx);
}

static void test_unacknowledged_reply_is_retransmitted_with_back_off_then_reset(void **state)
{
	struct fx *fx = *state;

	fx_take_over(fx);
	uint64_t deadline = fx->out.deadline;
	uint64_t rto = deadline - fx->now;
	assert_int_equal(rto, ENFORCE_RTO_INITIAL_MS);
	for (unsigned i = 0; i < ENFORCE_RTO_RETRIES; i++) {
		fx->now = deadline;
		fx->out.n_seg = 0;
		assert_int_equal(enforce_timer(&fx->env, &fx->s, &fx->key, fx->now, &fx->out),
		                 DISPOSE_FLOW_KEEP);
		assert_int_equal(fx->out.n_seg, 1);
		assert_client_seg(fx, 0, REPLY_550, TCP_FLAG_ACK | TCP_FLAG_PSH);
		rto *= 2;
		assert_int_equal(fx->out.deadline - fx->now, rto);
		deadline = fx->out.deadline;
	}
	fx->now = deadline;
	fx->out.n_seg = 0;
	assert_int_equal(enforce_timer(&fx->env, &fx->s, &fx->key, fx->now, &fx->out),
	                 DISPOSE_FLOW_FREE);
	assert_int_equal(fx->out.n_seg, 1);
	assert_int_equal(fx->out.seg[0].flags, TCP_FLAG_RST | TCP_FLAG_ACK);
	assert_int_equal(fx->counters.takeover_client_reset, 1);
	assert_int_equal(fx->counters.injected_retransmits, ENFORCE_RTO_RETRIES);
	fx_release(fx);
}

static void test_lifetime_ends_with_421_and_fin(void **state)
{
	struct fx *fx = *state;

	fx_take_over(fx);
	uint32_t our = fx->sseq + (uint32_t)strlen(REPLY_550);
	client_acks(fx);
	run(fx, true, seg_at(fx, true, TCP_FLAG_ACK, fx->cseq, our, NULL, 0));
	fx->now += fx->env.params.takeover_session_ms;
	fx->out.n_seg = 0;
	assert_int_equal(enforce_timer(&fx->env, &fx->s, &fx->key, fx->now, &fx->out),
	                 DISPOSE_FLOW_KEEP);
	assert_int_equal(fx->out.n_seg, 1);
	assert_memory_equal(fx->out.seg[0].payload, "421 ", 4);
	assert_true(fx->out.seg[0].flags & TCP_FLAG_FIN);
	assert_int_equal(fx->counters.takeover_timeouts, 1);
	fx_release(fx);
}

static void test_client_rst_ends_the_takeover(void **state)
{
	struct fx *fx = *state;

	fx_take_over(fx);
	struct disposition d = run(fx, true, seg_at(fx, true, TCP_FLAG_RST, fx->cseq, 0, NULL, 0));
	assert_disposition(d, DISPOSE_ANSWERED, CAUSE_TAKEOVER_CLIENT_RST, DISPOSE_FLOW_FREE);
	fx_release(fx);
}

static void test_starttls_is_refused_with_event(void **state)
{
	struct fx *fx = *state;

	fx_open(fx, "localhost");
	client_says(fx, "STARTTLS\r\n");
	assert_int_equal(fx->d.pkt, DISPOSE_DROP);
	assert_int_equal(fx->out.n_seg, 2);
	assert_memory_equal(fx->out.seg[1].payload, "554 ", 4);
	const struct event *e = event_ring_peek(fx->env.events);
	assert_non_null(e);
	assert_string_equal(e->command, "STARTTLS");
	assert_int_equal(e->action, EVENT_ACTION_REJECTED);
	fx_release(fx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_quiet_rcpt_resets_server_and_answers_550),
	    cmocka_unit_test(test_good_helo_is_never_taken_over),
	    cmocka_unit_test(test_detect_mode_writes_event_and_forwards),
	    cmocka_unit_test(test_pipelined_rcpt_is_cut_and_waits_for_owed_reply),
	    cmocka_unit_test(test_waiting_client_segments_never_cross_the_cut),
	    cmocka_unit_test(test_split_rcpt_is_cut_at_the_completing_segment),
	    cmocka_unit_test(test_rcpt_completed_by_out_of_order_bytes_is_taken_over),
	    cmocka_unit_test(test_pipelined_commands_behind_the_rcpt_are_answered_at_once),
	    cmocka_unit_test(test_conflicting_copy_is_dropped_and_takeover_goes_on),
	    cmocka_unit_test(test_no_block_means_let_through_and_counted),
	    cmocka_unit_test(test_wait_without_quiet_lets_through_with_event),
	    cmocka_unit_test(test_rst_while_waiting_frees_and_goes_on),
	    cmocka_unit_test(test_challenge_ack_gets_the_rst_again_a_bounded_number_of_times),
	    cmocka_unit_test(test_every_reply_in_order),
	    cmocka_unit_test(test_quit_gets_221_fin_and_the_session_ends_on_the_last_ack),
	    cmocka_unit_test(test_data_gets_554_and_the_session_stays_open),
	    cmocka_unit_test(test_repeated_rcpt_gets_the_same_answer_not_a_second_one),
	    cmocka_unit_test(test_out_of_order_client_bytes_get_a_duplicate_ack),
	    cmocka_unit_test(test_unacknowledged_reply_is_retransmitted_with_back_off_then_reset),
	    cmocka_unit_test(test_lifetime_ends_with_421_and_fin),
	    cmocka_unit_test(test_client_rst_ends_the_takeover),
	    cmocka_unit_test(test_starttls_is_refused_with_event),
	};

	return cmocka_run_group_tests(tests, fx_setup, fx_teardown);
}
