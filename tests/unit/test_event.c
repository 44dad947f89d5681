/* Unit tests for lib/event: the SPSC ring and the JSON Lines form. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "filter/event.h"
#include "filter/takeover.h"
#include "judge/verdict.h"

static struct event sample(void)
{
	struct event e;

	memset(&e, 0, sizeof(e));
	e.ts_ns = 1795392000123456789ull; /* 2026-11-23T00:00:00.123456Z */
	e.client.family = e.server.family = 4;
	memcpy(e.client.bytes, (uint8_t[]){198, 19, 0, 10}, 4);
	memcpy(e.server.bytes, (uint8_t[]){198, 18, 1, 25}, 4);
	e.client_port = 40000;
	e.server_port = 25;
	e.worker = 1;
	e.client_isn = 123456789;
	e.reason = VERDICT_LOCALHOST;
	e.action = EVENT_ACTION_DETECTED;
	strcpy(e.command, "RCPT");
	event_set_helo(&e, "localhost", 9);
	event_set_rcpt(&e, "bob@example.com", 15);
	return e;
}

static void test_json_has_every_key_in_order(void **state)
{
	(void)state;
	struct event e = sample();
	char buf[EVENT_JSON_MAX], want[1024];
	size_t n = event_format_json(&e, NULL, buf, sizeof(buf));

	assert_int_equal(n, strlen(buf));
	snprintf(want, sizeof(want),
	         "{\"timestamp\":\"2026-11-23T00:00:00.123456+0000\",\"flow_id\":%llu,"
	         "\"event_type\":\"smtp_helo\",\"src_ip\":\"198.19.0.10\",\"src_port\":40000,"
	         "\"dest_ip\":\"198.18.1.25\",\"dest_port\":25,\"proto\":\"TCP\","
	         "\"smtp\":{\"helo\":\"localhost\",\"rcpt_to\":[\"bob@example.com\"]},"
	         "\"verdict\":{\"reason\":\"localhost\",\"action\":\"detected\","
	         "\"command\":\"RCPT\"},"
	         "\"ts\":\"2026-11-23T00:00:00.123456Z\",\"worker\":1,"
	         "\"client\":\"198.19.0.10:40000\",\"server\":\"198.18.1.25:25\","
	         "\"command\":\"RCPT\",\"helo\":\"localhost\",\"reason\":\"localhost\","
	         "\"rcpt\":\"bob@example.com\",\"action\":\"detected\"}\n",
	         (unsigned long long)event_flow_id(&e));
	assert_string_equal(buf, want);
}

static void test_eve_fields_vlan_verb_host_and_reply(void **state)
{
	(void)state;
	struct event e = sample();
	struct takeover_texts texts;
	struct event_format fmt = {.host = "edge-1", .replies = &texts};
	char buf[EVENT_JSON_MAX];

	takeover_texts_default(&texts);
	e.vlan_count = 2;
	e.vlan[0] = 100;
	e.vlan[1] = 7;
	e.helo_verb = EVENT_HELO_EHLO;
	e.action = EVENT_ACTION_REJECTED;
	event_format_json(&e, &fmt, buf, sizeof(buf));
	assert_non_null(strstr(buf, ",\"proto\":\"TCP\",\"vlan\":[100,7],\"host\":\"edge-1\","));
	assert_non_null(strstr(buf, "\"smtp\":{\"helo\":\"localhost\",\"helo_verb\":\"EHLO\","));
	assert_non_null(strstr(buf, "\"verdict\":{\"reason\":\"localhost\",\"action\":\"rejected\","
	                            "\"command\":\"RCPT\",\"reply\":\"550 5.7.1 bob@example.com... "
	                            "Access denied - bogus HELO\"}"));
	/* detect mode: nothing was sent, so no reply */
	e.action = EVENT_ACTION_DETECTED;
	event_format_json(&e, &fmt, buf, sizeof(buf));
	assert_null(strstr(buf, "\"reply\""));
	/* STARTTLS: no recipient */
	strcpy(e.command, "STARTTLS");
	e.rcpt_len = 0;
	event_format_json(&e, &fmt, buf, sizeof(buf));
	assert_non_null(strstr(buf, "\"rcpt_to\":[]"));
}

static void test_flow_id_is_per_session(void **state)
{
	(void)state;
	struct event a = sample(), b = sample();

	event_set_rcpt(&b, "other@example.com", 17); /* same session, another RCPT */
	b.ts_ns += 5000000;
	assert_int_equal(event_flow_id(&a), event_flow_id(&b));
	b.client_isn = a.client_isn + 1; /* same addresses and ports, a new session */
	assert_int_not_equal(event_flow_id(&a), event_flow_id(&b));
	b = sample();
	b.client_port++;
	assert_int_not_equal(event_flow_id(&a), event_flow_id(&b));
	assert_true(event_flow_id(&a) < (1ull << 53) && event_flow_id(&a) > 0);
}

static void test_json_escapes_quotes_backslashes_nul_and_8bit(void **state)
{
	(void)state;
	struct event e = sample();
	char buf[EVENT_JSON_MAX];

	event_set_helo(&e, "a\"b\\c\0d\xe9\n", 9);
	event_format_json(&e, NULL, buf, sizeof(buf));
	assert_non_null(strstr(buf, "\"helo\":\"a\\\"b\\\\c\\u0000d\\u00e9\\u000a\""));
}

static void test_json_ipv6_endpoints_are_bracketed(void **state)
{
	(void)state;
	struct event e = sample();
	char buf[EVENT_JSON_MAX];

	e.client.family = e.server.family = 6;
	memset(e.client.bytes, 0, 16);
	memcpy(e.client.bytes, (uint8_t[]){0x20, 0x01, 0, 2, 0, 0, 0, 2}, 8);
	e.client.bytes[15] = 0x0a;
	memset(e.server.bytes, 0, 16);
	memcpy(e.server.bytes, (uint8_t[]){0x20, 0x01, 0, 2, 0, 0, 0, 1}, 8);
	e.server.bytes[15] = 0x25;
	event_format_json(&e, NULL, buf, sizeof(buf));
	assert_non_null(strstr(buf, "\"client\":\"[2001:2:0:2::a]:40000\""));
	assert_non_null(strstr(buf, "\"server\":\"[2001:2:0:1::25]:25\""));
}

static void test_long_helo_is_cut_and_flagged(void **state)
{
	(void)state;
	struct event e = sample();
	char big[EVENT_TEXT_MAX + 50];
	char buf[EVENT_JSON_MAX];

	memset(big, 'x', sizeof(big));
	event_set_helo(&e, big, sizeof(big));
	assert_int_equal(e.helo_len, EVENT_TEXT_MAX);
	assert_true(e.truncated);
	event_format_json(&e, NULL, buf, sizeof(buf));
	assert_non_null(strstr(buf, ",\"truncated\":true}"));
}

static void test_worst_case_line_fits_event_json_max(void **state)
{
	(void)state;
	struct event e = sample();
	char text[EVENT_TEXT_MAX];
	char buf[EVENT_JSON_MAX];

	memset(text, 0x01, sizeof(text)); /* every byte escaped to 6 */
	event_set_helo(&e, text, sizeof(text));
	event_set_rcpt(&e, text, sizeof(text));
	assert_true(event_format_json(&e, NULL, buf, sizeof(buf)) > 6 * 2 * EVENT_TEXT_MAX);
	assert_int_equal(event_format_json(&e, NULL, buf, 100), 0);
}

static void test_ring_is_fifo_and_counts_drops_when_full(void **state)
{
	(void)state;
	struct event_ring *ring = event_ring_create(3); /* rounded to 4 */

	assert_non_null(ring);
	for (int i = 0; i < 4; i++) {
		struct event *e = event_ring_reserve(ring);
		assert_non_null(e);
		e->worker = (uint16_t)i;
		event_ring_commit(ring);
	}
	assert_null(event_ring_reserve(ring));
	assert_int_equal(event_ring_dropped(ring), 1);
	for (int i = 0; i < 4; i++) {
		const struct event *e = event_ring_peek(ring);
		assert_non_null(e);
		assert_int_equal(e->worker, i);
		event_ring_release(ring);
	}
	assert_null(event_ring_peek(ring));
	assert_non_null(event_ring_reserve(ring));
	event_ring_free(ring);
}

static void test_reserved_but_uncommitted_event_is_invisible(void **state)
{
	(void)state;
	struct event_ring *ring = event_ring_create(8);

	assert_non_null(event_ring_reserve(ring));
	assert_null(event_ring_peek(ring));
	event_ring_commit(ring);
	assert_non_null(event_ring_peek(ring));
	event_ring_free(ring);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_json_has_every_key_in_order),
	    cmocka_unit_test(test_eve_fields_vlan_verb_host_and_reply),
	    cmocka_unit_test(test_flow_id_is_per_session),
	    cmocka_unit_test(test_json_escapes_quotes_backslashes_nul_and_8bit),
	    cmocka_unit_test(test_json_ipv6_endpoints_are_bracketed),
	    cmocka_unit_test(test_long_helo_is_cut_and_flagged),
	    cmocka_unit_test(test_worst_case_line_fits_event_json_max),
	    cmocka_unit_test(test_ring_is_fifo_and_counts_drops_when_full),
	    cmocka_unit_test(test_reserved_but_uncommitted_event_is_invisible),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
