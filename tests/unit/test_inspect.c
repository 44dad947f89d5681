/*
 * Unit tests for lib/filter/inspect: the per-packet path normalizes as the
 * end host (Linux, RFC 9293, RFC 5961) would, and keeps inspecting. Each
 * case is a packet a client or a third party can send with one ordinary
 * socket or raw packet (issue 9), checked for its disposition and for the
 * session going on being judged.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "wire/disposition.h"
#include "wire/pkt.h"
#include "filter/event.h"
#include "filter/inspect.h"
#include "filter/session.h"
#include "session_fx.h"

/* After the trigger, the RCPT of a bogus session must still be taken over. */
static void assert_still_judged(struct fx *fx)
{
	assert_disposition(client_says(fx, "RCPT TO:<bob@example.net>\r\n"), DISPOSE_DROP,
	                   CAUSE_TAKEOVER_AFTER_CUT, DISPOSE_FLOW_KEEP);
	assert_int_equal(fx->counters.takeovers, 1);
}

static void test_data_without_ack_bit_is_dropped_and_never_parsed(void **state)
{
	struct fx *fx = *state;

	fx_open(fx, "mail.example.org"); /* a good session */
	/* A third party inserts "EHLO localhost" without the ACK bit: the
	 * server drops it (RFC 9293 3.10.7.4), so must helogate. */
	struct disposition d =
	    run(fx, true, seg_at(fx, true, TCP_FLAG_PSH, fx->cseq, 0, "EHLO localhost\r\n", 16));
	assert_disposition(d, DISPOSE_DROP, CAUSE_NO_ACK, DISPOSE_FLOW_KEEP);
	/* The real client's bytes at that sequence number are accepted, and
	 * the good session is not judged bogus. */
	assert_disposition(client_says(fx, "RCPT TO:<bob@example.net>\r\n"), DISPOSE_FORWARD,
	                   CAUSE_INSPECTED, DISPOSE_FLOW_KEEP);
	assert_null(event_ring_peek(fx->env.events));
	assert_int_equal(fx->counters.helos, 1);
	fx_release(fx);
}

static void test_ack_of_unsent_data_is_dropped_and_inspection_goes_on(void **state)
{
	struct fx *fx = *state;

	fx_open(fx, "localhost");
	struct disposition d =
	    run(fx, true, seg_at(fx, true, TCP_FLAG_ACK, fx->cseq, fx->sseq + 5000, NULL, 0));
	assert_disposition(d, DISPOSE_DROP, CAUSE_ACK_UNSENT, DISPOSE_FLOW_KEEP);
	assert_int_equal(fx->s.state, SESSION_INSPECTING);
	assert_still_judged(fx);
	fx_release(fx);
}

static void test_new_syn_on_live_session_is_forwarded_and_ignored(void **state)
{
	struct fx *fx = *state;

	fx_open(fx, "localhost");
	struct disposition d = run(fx, true, seg_at(fx, true, TCP_FLAG_SYN, 12345, 0, NULL, 0));
	assert_disposition(d, DISPOSE_FORWARD, CAUSE_HANDSHAKE_OTHER, DISPOSE_FLOW_KEEP);
	assert_int_equal(fx->s.state, SESSION_INSPECTING);
	assert_int_equal(fx->counters.new_syns_ignored, 1);
	/* The server answers with a challenge ACK (a plain ACK): nothing changes. */
	run(fx, false, seg_at(fx, false, TCP_FLAG_ACK, fx->sseq, fx->cseq, NULL, 0));
	assert_still_judged(fx);
	fx_release(fx);
}

static void test_new_syn_accepted_by_server_replaces_the_session(void **state)
{
	struct fx *fx = *state;

	fx_open(fx, "localhost");
	run(fx, true, seg_at(fx, true, TCP_FLAG_SYN, 12345, 0, NULL, 0));
	struct disposition d =
	    run(fx, false, seg_at(fx, false, TCP_FLAG_SYN | TCP_FLAG_ACK, 999, 12346, NULL, 0));
	assert_disposition(d, DISPOSE_FORWARD, CAUSE_HANDSHAKE, DISPOSE_FLOW_KEEP);
	assert_int_equal(fx->counters.flows_replaced, 1);
	assert_int_equal(fx->s.tcp.client_isn, 12345);
	assert_int_equal(fx->s.tcp.server_isn, 999);
	assert_false(fx->s.flags & SESSION_F_HELO); /* a new session: no HELO yet */
	fx_release(fx);
}

static void test_syn_data_is_stripped_and_the_session_tracked(void **state)
{
	struct fx *fx = *state;

	const struct pkt_info *syn =
	    seg_at(fx, true, TCP_FLAG_SYN, CLIENT_ISN, 0, "EHLO localhost\r\n", 16);
	struct disposition d = inspect_start(&fx->env, &fx->s, syn, fx->now, &fx->out);
	assert_int_equal(d.pkt, DISPOSE_FORWARD_CUT);
	assert_int_equal(d.cause, CAUSE_SYN_DATA);
	assert_int_equal(d.keep, 0);
	assert_int_equal(fx->s.state, SESSION_SYN_SENT);
	/* A retransmitted SYN with its data is stripped too. */
	d = run(fx, true, syn);
	assert_int_equal(d.pkt, DISPOSE_FORWARD_CUT);
	assert_int_equal(d.keep, 0);
	fx_release(fx);
}

static void test_urgent_data_is_read_inline_and_urg_cleared(void **state)
{
	struct fx *fx = *state;

	fx_open(fx, "localhost");
	/* send(fd, "NOOP\r\n!", MSG_OOB): URG set, the pointer at the '!'. */
	const struct pkt_info *pi = seg_at(fx, true, TCP_FLAG_ACK | TCP_FLAG_PSH | TCP_FLAG_URG,
	                                   fx->cseq, fx->sseq, "NOOP\r\n!", 7);
	struct disposition d = run(fx, true, pi);
	assert_int_equal(d.pkt, DISPOSE_FORWARD);
	assert_true(d.normalize & DISPOSE_CLEAR_URG);
	assert_int_equal(fx->s.state, SESSION_INSPECTING);
	fx->cseq += 7;
	/* The server reads "!" inline too: it starts the next line, which
	 * helogate parses as the server will (an unknown command). */
	server_says(fx, "250 2.0.0 Ok\r\n");
	uint64_t commands = fx->counters.commands;
	client_says(fx, "\r\n");
	assert_int_equal(fx->counters.commands, commands + 1);
	server_says(fx, "502 5.5.2 Error: command not recognized\r\n");
	client_acks(fx);
	assert_still_judged(fx);
	fx_release(fx);
}

static void test_clear_urgent_keeps_the_checksum_valid(void **state)
{
	struct fx *fx = *state;

	const struct pkt_info *pi = seg_at(fx, true, TCP_FLAG_ACK | TCP_FLAG_URG, 1, 2, "x!", 2);
	fx->frame[fx->pi.l4_offset + 19] = 2; /* an urgent pointer */
	fx->frame[fx->pi.l4_offset + 16] = 0;
	fx->frame[fx->pi.l4_offset + 17] = 0;
	/* Recompute a valid checksum over the modified header first. */
	struct pkt_info again;
	assert_int_equal(pkt_parse(fx->frame, 60 + 2, &again), PKT_TCP);
	(void)pi;
	for (unsigned fix = 0; fix < 65536 && !pkt_tcp_checksum_ok(fx->frame, &again); fix++) {
		fx->frame[again.l4_offset + 16] = (uint8_t)(fix >> 8);
		fx->frame[again.l4_offset + 17] = (uint8_t)fix;
	}
	assert_true(pkt_tcp_checksum_ok(fx->frame, &again));
	pkt_clear_urgent(fx->frame, &again);
	assert_int_equal(fx->frame[again.l4_offset + 13] & TCP_FLAG_URG, 0);
	assert_int_equal(fx->frame[again.l4_offset + 18], 0);
	assert_int_equal(fx->frame[again.l4_offset + 19], 0);
	assert_true(pkt_tcp_checksum_ok(fx->frame, &again));
}

static void test_rst_with_unnegotiated_md5_is_dropped(void **state)
{
	struct fx *fx = *state;

	fx_open(fx, "localhost");
	struct pkt_info *pi = (struct pkt_info *)seg_at(fx, true, TCP_FLAG_RST | TCP_FLAG_ACK,
	                                                fx->cseq, fx->sseq, NULL, 0);
	pi->opts.present |= TCP_OPT_MD5; /* kind 19, as pkt_parse reports it */
	assert_disposition(run(fx, true, pi), DISPOSE_DROP, CAUSE_SIGNATURE, DISPOSE_FLOW_KEEP);
	assert_still_judged(fx);
	fx_release(fx);
}

static void test_exact_rst_frees_a_passed_through_session(void **state)
{
	struct fx *fx = *state;

	fx_open(fx, "mail.example.org");
	session_pass(&fx->env, &fx->s);
	/* The client sends data the server has not acknowledged yet, then
	 * resets at the end of what it sent. */
	client_says(fx, "NOOP\r\n");
	struct disposition d = run(fx, true, seg_at(fx, true, TCP_FLAG_RST, fx->cseq, 0, NULL, 0));
	assert_disposition(d, DISPOSE_FORWARD, CAUSE_RST_ACCEPTED, DISPOSE_FLOW_FREE);
	fx_release(fx);
}

static void test_malformed_option_is_parsed_as_linux_does(void **state)
{
	struct fx *fx = *state;
	uint8_t frame[128];
	struct pkt_info pi;

	/* A segment whose options hold a timestamp and then a length-1 option. */
	seg_at(fx, true, TCP_FLAG_ACK, 1, 2, NULL, 0);
	memset(frame, 0, sizeof(frame));
	memcpy(frame, fx->frame, 54);
	frame[14 + 2] = 0;
	frame[14 + 3] = 20 + 36;      /* IPv4 total length */
	frame[14 + 20 + 12] = 9 << 4; /* data offset: 36 bytes */
	static const uint8_t opts[16] = {
	    1, 1, 8, 10, 0, 0, 0, 7,
	    0, 0, 0, 0,  5, 1, 0, 0}; /* kind 5 with the impossible length 1 */
	memcpy(frame + 54, opts, sizeof(opts));
	assert_int_equal(pkt_parse(frame, 70, &pi), PKT_BAD_TCP_OPTIONS);
	assert_int_equal(pkt_result_action(PKT_BAD_TCP_OPTIONS), PKT_ACTION_INSPECT);
	assert_true(pi.opts.present & TCP_OPT_TIMESTAMP);
	assert_int_equal(pi.opts.tsval, 7);
}

/* "DATA\r\nRCPT TO:<x>" in one segment: the bytes after DATA wait for its
 * reply (the server may read them as body or as commands); once the server
 * refuses DATA they are commands, and the RCPT is judged and taken over. */
static void test_bytes_after_data_are_held_until_its_reply(void **state)
{
	struct fx *fx = *state;
	static const char rcpt[] = "RCPT TO:<bob@example.net>\r\n";
	char both[64];

	fx_open(fx, "localhost");
	snprintf(both, sizeof(both), "DATA\r\n%s", rcpt);
	uint32_t start = fx->cseq;
	struct disposition d = run(fx, true,
	                           seg_at(fx, true, TCP_FLAG_ACK | TCP_FLAG_PSH, start, fx->sseq,
	                                  both, (uint32_t)strlen(both)));
	assert_int_equal(d.pkt, DISPOSE_FORWARD_CUT);
	assert_int_equal(d.cause, CAUSE_SMTP_HELD_CUT);
	assert_int_equal(d.keep, 6);
	fx->cseq = start + 6;
	/* The client sends the RCPT again before the reply: still held. */
	d = run(fx, true,
	        seg_at(fx, true, TCP_FLAG_ACK | TCP_FLAG_PSH, fx->cseq, fx->sseq, rcpt,
	               (uint32_t)strlen(rcpt)));
	assert_disposition(d, DISPOSE_DROP, CAUSE_SMTP_HELD, DISPOSE_FLOW_KEEP);
	assert_int_equal(fx->counters.judged, 0);
	server_says(fx, "554 5.5.1 Error: no valid recipients\r\n");
	client_acks(fx);
	/* Now the retransmission is a command: judged, taken over. */
	assert_disposition(client_says(fx, rcpt), DISPOSE_DROP, CAUSE_TAKEOVER_AFTER_CUT,
	                   DISPOSE_FLOW_KEEP);
	assert_int_equal(fx->out.n_seg, 2);
	assert_int_equal(fx->counters.takeovers, 1);
	fx_release(fx);
}

/* After a 354 the held bytes are the message body: forwarded, never judged. */
static void test_held_bytes_become_body_after_354(void **state)
{
	struct fx *fx = *state;
	static const char body[] = "RCPT TO:<bob@example.net>\r\n";

	fx_open(fx, "mail.example.org");
	client_says(fx, "RCPT TO:<bob@example.net>\r\n");
	server_says(fx, "250 2.1.5 Ok\r\n");
	client_acks(fx);
	uint32_t start = fx->cseq;
	char both[64];
	snprintf(both, sizeof(both), "DATA\r\n%s", body);
	run(fx, true,
	    seg_at(fx, true, TCP_FLAG_ACK | TCP_FLAG_PSH, start, fx->sseq, both,
	           (uint32_t)strlen(both)));
	assert_int_equal(fx->d.cause, CAUSE_SMTP_HELD_CUT);
	fx->cseq = start + 6;
	server_says(fx, "354 End data with <CR><LF>.<CR><LF>\r\n");
	uint64_t judged = fx->counters.judged;
	assert_disposition(client_says(fx, body), DISPOSE_FORWARD, CAUSE_INSPECTED,
	                   DISPOSE_FLOW_KEEP);
	assert_int_equal(fx->counters.judged, judged);
	assert_true(smtp_in_body(&fx->s.smtp));
	fx_release(fx);
}

/* SMTP smuggling (CVE-2023-51764): a good session's body ends with a bare
 * "\n.\n", which Postfix before 3.9 takes as the end of the message, and
 * smuggles a second transaction with EHLO localhost. helogate reads the
 * bytes after the ambiguous end as commands too: the smuggled RCPT is judged
 * with the smuggled HELO and taken over once the server has answered. */
static void test_smuggled_transaction_is_judged_and_taken_over(void **state)
{
	struct fx *fx = *state;
	static const char victim[] = "RCPT TO:<victim@example.net>\r\n";

	fx_open(fx, "mail.example.org");
	client_says(fx, "RCPT TO:<first@example.net>\r\n");
	server_says(fx, "250 2.1.5 Ok\r\n");
	client_says(fx, "DATA\r\n");
	server_says(fx, "354 End data with <CR><LF>.<CR><LF>\r\n");
	client_acks(fx);
	client_says(fx, "Subject: hi\r\n\r\nhello\n.\nEHLO localhost\r\n"
	                "MAIL FROM:<e@example.org>\r\n");
	assert_int_equal(fx->d.pkt, DISPOSE_FORWARD);
	/* The server took "\n.\n" as the end: it answers the message, EHLO, MAIL. */
	server_says(fx, "250 2.0.0 Ok: queued as 1\r\n250-mx.example.net\r\n250 PIPELINING\r\n"
	                "250 2.1.0 Ok\r\n");
	client_acks(fx);
	uint32_t cut = fx->cseq;
	struct disposition d = client_says(fx, victim);
	if (d.pkt != DISPOSE_DROP || fx->out.n_seg != 2)
		fail_msg("smuggled RCPT: disposition %u %s, %u segments, judged %llu", d.pkt,
		         packet_cause_name((enum packet_cause)d.cause), fx->out.n_seg,
		         (unsigned long long)fx->counters.judged);
	assert_server_rst(fx, 0, cut);
	assert_client_seg(fx, 1, "550 5.7.1 victim@example.net... Access denied - bogus HELO\r\n",
	                  TCP_FLAG_ACK | TCP_FLAG_PSH);
	fx_release(fx);
}

/* The same smuggling in one write, as an attacker sends it: the smuggled
 * RCPT is judged when its line is read, the takeover waits for the server's
 * replies to the message, EHLO and MAIL, then goes. */
static void test_smuggled_transaction_in_one_write_is_taken_over(void **state)
{
	struct fx *fx = *state;
	static const char tail[] = "Subject: hi\r\n\r\nhello\n.\nEHLO localhost\r\n"
	                           "MAIL FROM:<e@example.org>\r\nRCPT TO:<victim@example.net>\r\n"
	                           "DATA\r\n";

	fx_open(fx, "mail.example.org");
	client_says(fx, "RCPT TO:<first@example.net>\r\n");
	server_says(fx, "250 2.1.5 Ok\r\n");
	client_says(fx, "DATA\r\n");
	server_says(fx, "354 End data with <CR><LF>.<CR><LF>\r\n");
	client_acks(fx);
	uint32_t start = fx->cseq;
	struct disposition d = client_says(fx, tail);
	const char *rcpt = strstr(tail, "RCPT");
	uint32_t keep = (uint32_t)(rcpt - tail);
	if (d.pkt != DISPOSE_FORWARD_CUT || d.keep != keep)
		fail_msg("one write: disposition %u %s keep %u (want cut %u), judged %llu", d.pkt,
		         packet_cause_name((enum packet_cause)d.cause), d.keep, keep,
		         (unsigned long long)fx->counters.judged);
	fx->cseq = start + keep;
	/* Postfix answers each in its own segment, as the lab shows. */
	server_says(fx, "250 2.0.0 Ok: queued as 1\r\n");
	server_says(fx, "250-mx.example.net\r\n250 PIPELINING\r\n");
	server_says(fx, "250 2.1.0 Ok\r\n");
	client_acks(fx);
	if (fx->out.n_seg != 2)
		fail_msg("not taken over: pending %u, state %s, status %d, server_ack %u cut %u, "
		         "client_ack %u s2c %u, last %s",
		         smtp_pending_replies(&fx->s.smtp),
		         smtp_state_name(smtp_session_state(&fx->s.smtp)),
		         smtp_session_status(&fx->s.smtp), fx->s.tcp.server_ack, start + keep,
		         fx->s.tcp.client_ack, stream_dir_next_seq(&fx->s.s2c),
		         packet_cause_name((enum packet_cause)fx->d.cause));
	assert_server_rst(fx, 0, start + keep);
	fx_release(fx);
}

/*
 * Property: a client stream cut into random segments, sent out of order,
 * with duplicates and later conflicting copies, gives the same verdict and
 * the same server-side bytes as the plain stream (detect mode, so every
 * byte reaches the server). Server-side bytes: every forwarded segment's
 * payload must equal the plain stream at its sequence number, and together
 * they must cover it.
 */
static void test_random_segmentation_gives_the_same_verdict_and_bytes(void **state)
{
	struct fx *fx = *state;
	static const char plain[] = "MAIL FROM:<p@example.org>\r\nRCPT TO:<q@example.net>\r\n"
	                            "RCPT TO:<r@example.net>\r\nNOOP\r\n";
	const uint32_t len = (uint32_t)strlen(plain);
	uint64_t rnd = 0x9e3779b97f4a7c15ull;

	for (int iter = 0; iter < 300; iter++) {
		struct {
			uint32_t off, len;
			bool conflict;
		} segs[96];
		unsigned n = 0;
		bool covered[128] = {false};

		fx->env.policy = fx->detect_policy;
		fx_open(fx, "localhost");
		uint32_t base = fx->cseq;
		for (uint32_t off = 0; off < len && n < 60;) {
			rnd = rnd * 6364136223846793005ull + 1442695040888963407ull;
			uint32_t l = 1 + (uint32_t)(rnd >> 33) % 12;
			if (l > len - off)
				l = len - off;
			segs[n++] = (typeof(segs[0])){off, l, false};
			off += l;
		}
		/* Shuffle nearby segments, add duplicates and conflicting copies
		 * (a conflict only after its original, so the server's copy is
		 * the plain byte). */
		for (unsigned i = 0; i + 1 < n; i++) {
			rnd = rnd * 6364136223846793005ull + 1442695040888963407ull;
			if ((rnd >> 40) % 3 == 0) {
				typeof(segs[0]) t = segs[i];
				segs[i] = segs[i + 1];
				segs[i + 1] = t;
			}
		}
		unsigned total = n;
		for (unsigned i = 0; i < n && total < 94; i++) {
			rnd = rnd * 6364136223846793005ull + 1442695040888963407ull;
			if ((rnd >> 41) % 4 == 0)
				segs[total++] = (typeof(segs[0])){segs[i].off, segs[i].len, false};
			else if ((rnd >> 41) % 4 == 1)
				segs[total++] = (typeof(segs[0])){segs[i].off, segs[i].len, true};
		}
		for (unsigned i = 0; i < total; i++) {
			char bytes[16];
			memcpy(bytes, plain + segs[i].off, segs[i].len);
			if (segs[i].conflict)
				bytes[0] ^= 0x20;
			struct disposition d =
			    run(fx, true,
			        seg_at(fx, true, TCP_FLAG_ACK | TCP_FLAG_PSH, base + segs[i].off,
			               fx->sseq, bytes, segs[i].len));
			if (d.pkt == DISPOSE_FORWARD || d.pkt == DISPOSE_FORWARD_CUT) {
				uint32_t kept = d.pkt == DISPOSE_FORWARD ? segs[i].len : d.keep;
				if (memcmp(bytes, plain + segs[i].off, kept) != 0)
					fail_msg("iteration %d: forwarded bytes differ at %u", iter,
					         segs[i].off);
				for (uint32_t k = 0; k < kept; k++)
					covered[segs[i].off + k] = true;
			}
		}
		for (uint32_t k = 0; k < len; k++)
			if (!covered[k])
				fail_msg("iteration %d: byte %u never reached the server", iter, k);
		unsigned events = 0;
		const struct event *e;
		while ((e = event_ring_peek(fx->env.events)) != NULL) {
			assert_int_equal(e->reason, VERDICT_LOCALHOST);
			assert_int_equal(e->action, EVENT_ACTION_DETECTED);
			events++;
			event_ring_release(fx->env.events);
		}
		if (events != 2 || fx->counters.judged != 2)
			fail_msg("iteration %d: %u events, %llu judged", iter, events,
			         (unsigned long long)fx->counters.judged);
		fx_release(fx);
	}
	fx->env.policy = fx->enforce_policy;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_data_without_ack_bit_is_dropped_and_never_parsed),
	    cmocka_unit_test(test_ack_of_unsent_data_is_dropped_and_inspection_goes_on),
	    cmocka_unit_test(test_new_syn_on_live_session_is_forwarded_and_ignored),
	    cmocka_unit_test(test_new_syn_accepted_by_server_replaces_the_session),
	    cmocka_unit_test(test_syn_data_is_stripped_and_the_session_tracked),
	    cmocka_unit_test(test_urgent_data_is_read_inline_and_urg_cleared),
	    cmocka_unit_test(test_clear_urgent_keeps_the_checksum_valid),
	    cmocka_unit_test(test_rst_with_unnegotiated_md5_is_dropped),
	    cmocka_unit_test(test_exact_rst_frees_a_passed_through_session),
	    cmocka_unit_test(test_malformed_option_is_parsed_as_linux_does),
	    cmocka_unit_test(test_bytes_after_data_are_held_until_its_reply),
	    cmocka_unit_test(test_held_bytes_become_body_after_354),
	    cmocka_unit_test(test_random_segmentation_gives_the_same_verdict_and_bytes),
	    cmocka_unit_test(test_smuggled_transaction_is_judged_and_taken_over),
	    cmocka_unit_test(test_smuggled_transaction_in_one_write_is_taken_over),
	};

	return cmocka_run_group_tests(tests, fx_setup, fx_teardown);
}
