/* addr: parsing, comparison by value and RFC 5952 formatting. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <arpa/inet.h>

#include "wire/addr.h"

/* Parse from a heap copy of exactly len bytes, without a NUL, so that
 * AddressSanitizer catches any read past the end. */
static bool parse_exact(const char *text, size_t len, struct ip_addr *out)
{
	char *copy = malloc(len > 0 ? len : 1);
	bool ok;

	assert_non_null(copy);
	memcpy(copy, text, len);
	ok = ip_addr_parse(copy, len, out);
	free(copy);
	return ok;
}

static bool parse_str(const char *text, struct ip_addr *out)
{
	return parse_exact(text, strlen(text), out);
}

static struct ip_addr must_parse(const char *text)
{
	struct ip_addr a;

	if (!parse_str(text, &a))
		fail_msg("'%s' should parse", text);
	return a;
}

static void test_ipv4_dotted_quads_parse_to_their_bytes(void **state)
{
	static const struct {
		const char *text;
		uint8_t bytes[4];
	} cases[] = {
	    {"192.0.2.1", {192, 0, 2, 1}},
	    {"0.0.0.0", {0, 0, 0, 0}},
	    {"255.255.255.255", {255, 255, 255, 255}},
	    {"127.0.0.1", {127, 0, 0, 1}},
	    /* RFC 5321 Snum: up to three decimal digits, never octal. */
	    {"010.001.000.001", {10, 1, 0, 1}},
	    {"192.000.002.001", {192, 0, 2, 1}},
	};
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ip_addr a = must_parse(cases[i].text);
		static const uint8_t zero[12];

		assert_int_equal(a.family, 4);
		assert_memory_equal(a.bytes, cases[i].bytes, 4);
		assert_memory_equal(a.bytes + 4, zero, sizeof(zero));
	}
}

static void test_malformed_ipv4_is_refused(void **state)
{
	static const char *const cases[] = {
	    "",           "1.2.3",    "1.2.3.4.5", "256.1.1.1",       "1.2.3.256",
	    "1.2.3.4 ",   " 1.2.3.4", "1..2.3",    "1.2.3.",          ".1.2.3",
	    "0001.2.3.4", "1.2.3.-4", "a.b.c.d",   "1.2.3.4/24",      "127.1",
	    "0x7f.0.0.1", "1.2.3.4.", "1,2,3,4",   "999.999.999.999", "4294967295",
	};
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ip_addr a;

		if (parse_str(cases[i], &a))
			fail_msg("'%s' should be refused", cases[i]);
	}
}

/* Every valid IPv6 form gives the bytes inet_pton gives. */
static void test_ipv6_forms_parse_like_inet_pton(void **state)
{
	static const char *const cases[] = {
	    "::",
	    "::1",
	    "2001:db8::1",
	    "2001:0db8:0000:0000:0000:0000:0000:0001",
	    "2001:DB8::1",
	    "2001:db8:0:0:0:0:0:1",
	    "::ffff:192.0.2.1",
	    "::ffff:c000:201",
	    "64:ff9b::192.0.2.1",
	    "1::",
	    "1:2:3:4:5:6:7:8",
	    "1:2:3:4:5:6:1.2.3.4",
	    "::1.2.3.4",
	    "fe80::",
	    "1:2:3:4:5:6:7::",
	    "::2:3:4:5:6:7:8",
	    "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255",
	    "0000:0000:0000:0000:0000:ffff:255.255.255.255",
	};
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ip_addr a = must_parse(cases[i]);
		uint8_t expect[16];

		assert_int_equal(inet_pton(AF_INET6, cases[i], expect), 1);
		assert_int_equal(a.family, 6);
		assert_memory_equal(a.bytes, expect, 16);
	}
}

static void test_malformed_ipv6_is_refused(void **state)
{
	static const char *const cases[] = {
	    ":",
	    ":::",
	    "1:::2",
	    "1::2::3",
	    "12345::",
	    "1:2:3:4:5:6:7:8:9",
	    "1:2:3:4:5:6:7",
	    ":1::2",
	    "1::2:",
	    "1:2:3:4:5:6:7:1.2.3.4",
	    "::1.2.3",
	    "::1.2.3.4.5",
	    "fe80::1%eth0",
	    "g::1",
	    "1:2:3:4:5:6:7:8::",
	    "::ffff:256.0.0.1",
	    "[::1]",
	    "1.2.3.4::",
	    "::1.2.3.4:5",
	    "1:2:3:4:5:6:7:8 ",
	    "IPv6:::1",
	    "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255:1",
	};
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ip_addr a;

		if (parse_str(cases[i], &a))
			fail_msg("'%s' should be refused", cases[i]);
	}
}

static void test_parse_reads_only_the_given_length(void **state)
{
	struct ip_addr a;
	(void)state;

	/* "192.0.2.10" cut to nine bytes is 192.0.2.1. */
	assert_true(ip_addr_parse("192.0.2.10", 9, &a));
	assert_true(ip_addr_equal(&a, &(struct ip_addr){.family = 4, .bytes = {192, 0, 2, 1}}));
	assert_true(ip_addr_parse("::1:2", 3, &a));
	assert_true(ip_addr_equal(&a, &(struct ip_addr){.family = 6, .bytes = {[15] = 1}}));
	assert_false(ip_addr_parse("1.2.3.4", 0, &a));
}

static void test_failed_parse_leaves_output_untouched(void **state)
{
	struct ip_addr a, before;
	(void)state;

	memset(&a, 0xa5, sizeof(a));
	before = a;
	assert_false(parse_str("1.2.3", &a));
	assert_memory_equal(&a, &before, sizeof(a));
	assert_false(parse_str("1::2::3", &a));
	assert_memory_equal(&a, &before, sizeof(a));
}

static void test_equal_compares_values_not_text(void **state)
{
	static const struct {
		const char *a, *b;
		bool equal;
	} cases[] = {
	    {"2001:db8::1", "2001:0DB8:0:0:0:0:0:0001", true},
	    {"192.0.2.1", "::ffff:192.0.2.1", true},
	    {"::ffff:c000:201", "192.0.2.1", true},
	    {"192.0.2.1", "192.000.002.001", true},
	    {"::ffff:192.0.2.1", "::ffff:192.0.2.1", true},
	    {"192.0.2.1", "192.0.2.2", false},
	    /* The deprecated IPv4-compatible form is another address. */
	    {"192.0.2.1", "::192.0.2.1", false},
	    {"192.0.2.1", "64:ff9b::192.0.2.1", false},
	    {"::1", "127.0.0.1", false},
	    {"::", "0.0.0.0", false},
	    {"2001:db8::1", "2001:db8::2", false},
	};
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ip_addr a = must_parse(cases[i].a);
		struct ip_addr b = must_parse(cases[i].b);

		if (ip_addr_equal(&a, &b) != cases[i].equal ||
		    ip_addr_equal(&b, &a) != cases[i].equal)
			fail_msg("'%s' vs '%s': expected %s", cases[i].a, cases[i].b,
			         cases[i].equal ? "equal" : "different");
	}
}

static void test_equal_refuses_unknown_families(void **state)
{
	struct ip_addr none = {0};
	struct ip_addr v4 = must_parse("0.0.0.0");
	(void)state;

	assert_false(ip_addr_equal(&none, &none));
	assert_false(ip_addr_equal(&none, &v4));
}

static void test_format_writes_rfc5952_text(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
	    {"192.0.2.1", "192.0.2.1"},
	    {"010.000.000.001", "10.0.0.1"},
	    {"2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1"},
	    {"::", "::"},
	    {"::1", "::1"},
	    {"1::", "1::"},
	    {"2001:DB8::ABCD", "2001:db8::abcd"},
	    /* 4.2.2: a single zero group is not compressed. */
	    {"2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"},
	    /* 4.2.3: the longest run, the first of equal runs. */
	    {"2001:0:0:1:0:0:0:1", "2001:0:0:1::1"},
	    {"2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"},
	    /* 5: IPv4-mapped in mixed notation. */
	    {"::ffff:c000:201", "::ffff:192.0.2.1"},
	    {"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"},
	};
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ip_addr a = must_parse(cases[i].in);
		char buf[IP_ADDR_TEXT_MAX];
		size_t n = ip_addr_format(&a, buf, sizeof(buf));

		assert_string_equal(buf, cases[i].out);
		assert_int_equal(n, strlen(cases[i].out));
	}
}

/* Pseudo-random addresses, zero-heavy so that "::" runs occur, format as
 * glibc's inet_ntop does (it follows RFC 5952 too) and parse back equal. */
static void test_format_matches_inet_ntop_and_round_trips(void **state)
{
	uint32_t seed = 12345;
	(void)state;

	for (int round = 0; round < 20000; round++) {
		struct ip_addr a = {.family = 6}, back;
		char mine[IP_ADDR_TEXT_MAX], theirs[INET6_ADDRSTRLEN];
		static const uint8_t zero12[12];

		for (int g = 0; g < 8; g++) {
			seed = seed * 1103515245u + 12345u;
			if ((seed >> 16) % 3 != 0) {
				a.bytes[2 * g] = (uint8_t)(seed >> 8);
				a.bytes[2 * g + 1] = (uint8_t)(seed >> 24);
			}
		}
		ip_addr_format(&a, mine, sizeof(mine));
		assert_true(parse_str(mine, &back));
		assert_memory_equal(back.bytes, a.bytes, 16);
		/* glibc writes ::a.b.c.d for the deprecated compatible form. */
		if (memcmp(a.bytes, zero12, sizeof(zero12)) == 0)
			continue;
		assert_non_null(inet_ntop(AF_INET6, a.bytes, theirs, sizeof(theirs)));
		assert_string_equal(mine, theirs);
	}
}

static void test_format_truncates_to_a_small_buffer(void **state)
{
	struct ip_addr a = must_parse("192.0.2.1");
	char buf[5];
	(void)state;

	assert_int_equal(ip_addr_format(&a, buf, sizeof(buf)), 4);
	assert_string_equal(buf, "192.");
	assert_int_equal(ip_addr_format(&a, buf, 0), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ipv4_dotted_quads_parse_to_their_bytes),
	    cmocka_unit_test(test_malformed_ipv4_is_refused),
	    cmocka_unit_test(test_ipv6_forms_parse_like_inet_pton),
	    cmocka_unit_test(test_malformed_ipv6_is_refused),
	    cmocka_unit_test(test_parse_reads_only_the_given_length),
	    cmocka_unit_test(test_failed_parse_leaves_output_untouched),
	    cmocka_unit_test(test_equal_compares_values_not_text),
	    cmocka_unit_test(test_equal_refuses_unknown_families),
	    cmocka_unit_test(test_format_writes_rfc5952_text),
	    cmocka_unit_test(test_format_matches_inet_ntop_and_round_trips),
	    cmocka_unit_test(test_format_truncates_to_a_small_buffer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
