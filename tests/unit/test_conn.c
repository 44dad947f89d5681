/* Unit tests for lib/tcp/conn: the handshake, windows, timestamps and the
 * RFC 5961 rules for RSTs, as a Linux receiver applies them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "tcp/conn.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static struct pkt_info segment(uint8_t flags, uint32_t seq, uint32_t ack, uint16_t window)
{
	struct pkt_info pi;

	memset(&pi, 0, sizeof(pi));
	pi.tcp_flags = flags;
	pi.seq = seq;
	pi.ack = ack;
	pi.window = window;
	return pi;
}

/* A connection whose SYNs both offered scale 7 and timestamps. */
static void established(struct conn *c)
{
	struct pkt_info syn = segment(TCP_FLAG_SYN, 0xfffffff0u, 0, 64240);
	syn.opts.present = TCP_OPT_WSCALE | TCP_OPT_TIMESTAMP | TCP_OPT_MSS;
	syn.opts.wscale = 7;
	syn.opts.tsval = 100;
	syn.opts.mss = 1460;
	conn_start(c, &syn);
	struct pkt_info synack = segment(TCP_FLAG_SYN | TCP_FLAG_ACK, 5000, 0xfffffff1u, 65160);
	synack.opts = syn.opts;
	synack.opts.tsval = 9000;
	assert_true(conn_synack_matches(c, &synack));
	conn_establish(c, &synack, 50);
}

static void test_scaling_needs_both_syns(void **state)
{
	struct conn c;
	(void)state;

	struct pkt_info syn = segment(TCP_FLAG_SYN, 1, 0, 64240);
	syn.opts.present = TCP_OPT_WSCALE;
	syn.opts.wscale = 7;
	conn_start(&c, &syn);
	struct pkt_info synack = segment(TCP_FLAG_SYN | TCP_FLAG_ACK, 5000, 2, 65160);
	conn_establish(&c, &synack, 0);
	struct pkt_info ack = segment(TCP_FLAG_ACK, 2, 5001, 1000);
	conn_note(&c, &ack, true, 0);
	assert_int_equal(c.client_wnd, 1000); /* RFC 7323 2.2: not scaled */
	assert_int_equal(c.client_mss, 536);  /* RFC 9293 3.7.1: no option */
	assert_false(c.flags & CONN_F_TS);
}

static void test_windows_scale_and_server_clock_continues(void **state)
{
	struct conn c;
	(void)state;

	established(&c);
	assert_true(c.flags & CONN_F_TS);
	struct pkt_info ack = segment(TCP_FLAG_ACK, 5001, 0xfffffff1u, 100);
	conn_note(&c, &ack, false, 60);
	assert_int_equal(c.server_wnd, 100u << 7);
	assert_int_equal(c.server_wnd_raw, 100);
	assert_int_equal(conn_server_tsval(&c, 70),
	                 9000 + 20); /* 1 kHz since the SYN-ACK at 50 ms */
	assert_int_equal(c.client_mss, 1460);
}

static void test_synack_must_acknowledge_the_syn(void **state)
{
	struct conn c;
	(void)state;

	struct pkt_info syn = segment(TCP_FLAG_SYN, 77, 0, 64240);
	conn_start(&c, &syn);
	struct pkt_info wrong = segment(TCP_FLAG_SYN | TCP_FLAG_ACK, 5000, 77, 65160);
	assert_false(conn_synack_matches(&c, &wrong));
	wrong.ack = 78;
	wrong.payload_len = 1;
	assert_false(conn_synack_matches(&c, &wrong));
}

static const struct rst_case {
	const char *name;
	bool c2s, synchronized;
	int32_t offset; /* the RST's sequence number, relative to the expected one */
	enum conn_rst want;
} rst_cases[] = {
    {"exact sequence number: accepted", true, true, 0, CONN_RST_ACCEPT},
    {"in the window: challenge ACK", true, true, 100, CONN_RST_CHALLENGE},
    {"just before the expected byte: ignored", true, true, -1, CONN_RST_IGNORE},
    {"beyond the window: ignored", false, true, 70000 << 7, CONN_RST_IGNORE},
    {"server exact: accepted", false, true, 0, CONN_RST_ACCEPT},
};

static void test_rst_acceptance_follows_rfc5961(void **state)
{
	struct conn c;
	(void)state;

	established(&c);
	struct pkt_info ack = segment(TCP_FLAG_ACK, 0, 0, 512);
	conn_note(&c, &ack, true, 0);
	conn_note(&c, &ack, false, 0);
	for (size_t i = 0; i < ARRAY_LEN(rst_cases); i++) {
		const struct rst_case *t = &rst_cases[i];
		uint32_t expected = 0xfffffffau; /* wraps inside the window */
		struct pkt_info rst = segment(TCP_FLAG_RST, expected + (uint32_t)t->offset, 0, 0);
		enum conn_rst got = conn_judge_rst(&c, &rst, t->c2s, t->synchronized, expected);
		if (got != t->want)
			fail_msg("%s: got %d", t->name, got);
	}
}

static void test_rst_before_handshake(void **state)
{
	struct conn c;
	(void)state;

	struct pkt_info syn = segment(TCP_FLAG_SYN, 1000, 0, 64240);
	conn_start(&c, &syn);
	struct pkt_info refusal = segment(TCP_FLAG_RST | TCP_FLAG_ACK, 0, 1001, 0);
	assert_int_equal(conn_judge_rst(&c, &refusal, false, false, 0), CONN_RST_ACCEPT);
	refusal.ack = 1002;
	assert_int_equal(conn_judge_rst(&c, &refusal, false, false, 0), CONN_RST_IGNORE);
	struct pkt_info abandon = segment(TCP_FLAG_RST, 1001, 0, 0);
	assert_int_equal(conn_judge_rst(&c, &abandon, true, false, 0), CONN_RST_ACCEPT);
}

static void test_fin_flags(void **state)
{
	struct conn c;
	(void)state;

	established(&c);
	assert_false(conn_closing(&c));
	conn_note_fin(&c, true);
	assert_true(conn_closing(&c));
	assert_false(conn_closed(&c));
	conn_note_fin(&c, false);
	assert_true(conn_closed(&c));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_scaling_needs_both_syns),
	    cmocka_unit_test(test_windows_scale_and_server_clock_continues),
	    cmocka_unit_test(test_synack_must_acknowledge_the_syn),
	    cmocka_unit_test(test_rst_acceptance_follows_rfc5961),
	    cmocka_unit_test(test_rst_before_handshake),
	    cmocka_unit_test(test_fin_flags),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
