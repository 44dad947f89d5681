/* hostname: HELO argument syntax (RFC 5321 4.1.2 / 4.1.3) and normalization. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "judge/hostname.h"

/* Parse from a heap copy of exactly len bytes, without a NUL, so that
 * AddressSanitizer catches any read past the end. */
static enum hostname_form parse_exact(const char *text, size_t len, struct hostname *out)
{
	char *copy = malloc(len > 0 ? len : 1);
	enum hostname_form form;

	assert_non_null(copy);
	memcpy(copy, text, len);
	form = hostname_parse(copy, len, out);
	free(copy);
	return form;
}

static enum hostname_form parse_str(const char *text, struct hostname *out)
{
	return parse_exact(text, strlen(text), out);
}

/* A name of exactly total octets: 50-octet labels of 'a', then ".com". */
static char *make_name(size_t total)
{
	char *s = malloc(total + 1);

	assert_non_null(s);
	assert_true(total >= 6);
	for (size_t j = 0; j < total - 4; j++)
		s[j] = j % 51 == 50 ? '.' : 'a';
	assert_true(s[total - 5] != '.');
	memcpy(s + total - 4, ".com", 5);
	return s;
}

static void test_valid_domains_are_lowercased_without_trailing_dot(void **state)
{
	static const struct {
		const char *in, *name;
	} cases[] = {
	    {"mail.example.com", "mail.example.com"},
	    {"MAIL.Example.COM", "mail.example.com"},
	    {"mail.example.com.", "mail.example.com"},
	    {"  mail.example.com\t", "mail.example.com"},
	    {" \t Mail.Example.Com. \t", "mail.example.com"},
	    {"my_pc.example.com", "my_pc.example.com"},
	    {"_dmarc.example.com", "_dmarc.example.com"},
	    {"xn--80ak6aa92e.xn--p1ai", "xn--80ak6aa92e.xn--p1ai"},
	    {"a", "a"},
	    {"www", "www"},
	    {"a-b.c-d", "a-b.c-d"},
	    {"1a.com", "1a.com"},
	    {"123.example.com", "123.example.com"},
	    {"1.2.3.com", "1.2.3.com"},
	    {"host.123a", "host.123a"},
	    {"mon-serveur", "mon-serveur"},
	};
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct hostname h;

		if (parse_str(cases[i].in, &h) != HOSTNAME_DOMAIN)
			fail_msg("'%s' should be a domain", cases[i].in);
		assert_int_equal(h.form, HOSTNAME_DOMAIN);
		assert_string_equal(h.name, cases[i].name);
		assert_int_equal(h.len, strlen(cases[i].name));
	}
}

static void test_malformed_arguments_are_invalid(void **state)
{
	static const char *const cases[] = {
	    "",
	    "   ",
	    "\t",
	    ".",
	    "..",
	    "a..b",
	    ".a",
	    ".a.com",
	    "a.b..",
	    "-a.com",
	    "a-.com",
	    "a.-b",
	    "a.b-",
	    "a b.com",
	    "a\tb.com",
	    "a/b.com",
	    "a@b.com",
	    "a,b.com",
	    "a:b",
	    "host:25",
	    /* RFC 1123 2.1: an all-numeric top-level label is no host name. */
	    "1.2.3",
	    "300.1.1.1",
	    "1.2.3.4.5",
	    "example.123",
	    "12345",
	    "[1.2.3]",
	    "[IPv6:zzz]",
	    "[foo]",
	    "[1.2.3.4",
	    "1.2.3.4]",
	    "[]",
	    "[IPv6:]",
	    "[IPv6:1.2.3.4]",
	    "[[1.2.3.4]]",
	    "[1.2.3.4].",
	    "[ 1.2.3.4]",
	    "[1.2.3.4 ]",
	    "[foo:bar]",
	    "[IPv4:1.2.3.4]",
	    "[IPv6 :2001:db8::1]",
	    "[example.com]",
	    "fe80::1%eth0",
	    "2001:db8::1..",
	    "127.0.0.1..",
	    "a\x7f.com",
	    "caf\xc3\xa9.example.com",
	    "\x80",
	    "a\001b.com",
	    "a\r.com",
	    "mail.example.com\n",
	    "\"mail.example.com\"",
	    "<mail.example.com>",
	};
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct hostname h;

		if (parse_str(cases[i], &h) != HOSTNAME_INVALID)
			fail_msg("'%s' should be invalid", cases[i]);
		assert_int_equal(h.form, HOSTNAME_INVALID);
	}
}

static void test_nul_bytes_make_the_argument_invalid(void **state)
{
	struct hostname h;
	(void)state;

	assert_int_equal(parse_exact("exa\0mple.com", 12, &h), HOSTNAME_INVALID);
	assert_int_equal(parse_exact("example.com\0", 12, &h), HOSTNAME_INVALID);
	assert_int_equal(parse_exact("\0example.com", 12, &h), HOSTNAME_INVALID);
	assert_int_equal(parse_exact("127.0.0.1\0", 10, &h), HOSTNAME_INVALID);
	assert_int_equal(parse_exact("[127.0.0.1]\0", 12, &h), HOSTNAME_INVALID);
	assert_int_equal(parse_exact("\0", 1, &h), HOSTNAME_INVALID);
}

static void test_null_text_is_invalid(void **state)
{
	struct hostname h;
	(void)state;

	assert_int_equal(hostname_parse(NULL, 0, &h), HOSTNAME_INVALID);
	assert_int_equal(hostname_parse(NULL, 5, &h), HOSTNAME_INVALID);
}

static void test_addresses_keep_their_text_and_value(void **state)
{
	static const struct {
		const char *in, *name;
		uint8_t family;
		uint8_t bytes[16];
	} cases[] = {
	    {"127.0.0.1", "127.0.0.1", 4, {127, 0, 0, 1}},
	    {"127.0.0.1.", "127.0.0.1.", 4, {127, 0, 0, 1}},
	    {" 192.0.2.1 ", "192.0.2.1", 4, {192, 0, 2, 1}},
	    {"[127.0.0.1]", "[127.0.0.1]", 4, {127, 0, 0, 1}},
	    {"[192.168.1.1]", "[192.168.1.1]", 4, {192, 168, 1, 1}},
	    {"[IPv6:2001:db8::1]", "[IPv6:2001:db8::1]", 6, {0x20, 0x01, 0x0d, 0xb8, [15] = 1}},
	    {"[ipv6:2001:DB8::1]", "[ipv6:2001:DB8::1]", 6, {0x20, 0x01, 0x0d, 0xb8, [15] = 1}},
	    {"[IPV6:::1]", "[IPV6:::1]", 6, {[15] = 1}},
	    {"[IPv6:::ffff:192.0.2.1]",
	     "[IPv6:::ffff:192.0.2.1]",
	     6,
	     {[10] = 0xff, [11] = 0xff, [12] = 192, [13] = 0, [14] = 2, [15] = 1}},
	    {"2001:db8::1", "2001:db8::1", 6, {0x20, 0x01, 0x0d, 0xb8, [15] = 1}},
	    {"2001:db8::1.", "2001:db8::1.", 6, {0x20, 0x01, 0x0d, 0xb8, [15] = 1}},
	    {"::1", "::1", 6, {[15] = 1}},
	    /* Untagged IPv6 in brackets, accepted as Postfix does. */
	    {"[2001:db8::1]", "[2001:db8::1]", 6, {0x20, 0x01, 0x0d, 0xb8, [15] = 1}},
	    {"[IPv6:0000:0000:0000:0000:0000:ffff:255.255.255.255]",
	     "[IPv6:0000:0000:0000:0000:0000:ffff:255.255.255.255]",
	     6,
	     {[10] = 0xff, [11] = 0xff, [12] = 255, [13] = 255, [14] = 255, [15] = 255}},
	};
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct hostname h;

		if (parse_str(cases[i].in, &h) != HOSTNAME_ADDRESS)
			fail_msg("'%s' should be an address", cases[i].in);
		assert_string_equal(h.name, cases[i].name);
		assert_int_equal(h.len, strlen(cases[i].name));
		assert_int_equal(h.addr.family, cases[i].family);
		assert_memory_equal(h.addr.bytes, cases[i].bytes, 16);
	}
}

static void test_label_of_63_octets_is_valid_and_64_is_not(void **state)
{
	char text[80];
	struct hostname h;
	(void)state;

	memset(text, 'a', 63);
	memcpy(text + 63, ".com", 5);
	assert_int_equal(parse_str(text, &h), HOSTNAME_DOMAIN);
	assert_int_equal(h.len, 67);

	memset(text, 'a', 64);
	memcpy(text + 64, ".com", 5);
	assert_int_equal(parse_str(text, &h), HOSTNAME_INVALID);

	memcpy(text, "mail.", 5);
	memset(text + 5, 'b', 64);
	text[69] = '\0';
	assert_int_equal(parse_str(text, &h), HOSTNAME_INVALID);
	text[68] = '\0';
	assert_int_equal(parse_str(text, &h), HOSTNAME_DOMAIN);
}

static void test_name_of_253_octets_is_valid_and_254_is_not(void **state)
{
	char *n253 = make_name(253);
	char *n254 = make_name(254);
	char with_dot[256];
	struct hostname h;
	(void)state;

	assert_int_equal(parse_str(n253, &h), HOSTNAME_DOMAIN);
	assert_int_equal(h.len, 253);
	assert_string_equal(h.name, n253);

	/* The trailing root dot does not count. */
	snprintf(with_dot, sizeof(with_dot), "%s.", n253);
	assert_int_equal(parse_str(with_dot, &h), HOSTNAME_DOMAIN);
	assert_int_equal(h.len, 253);
	assert_string_equal(h.name, n253);

	assert_int_equal(parse_str(n254, &h), HOSTNAME_INVALID);
	snprintf(with_dot, sizeof(with_dot), "%s.", n254);
	assert_int_equal(parse_str(with_dot, &h), HOSTNAME_INVALID);
	free(n253);
	free(n254);
}

static void test_surrounding_blanks_do_not_count_toward_length(void **state)
{
	char *n253 = make_name(253);
	char text[300];
	struct hostname h;
	(void)state;

	snprintf(text, sizeof(text), " \t  %s.\t\t ", n253);
	assert_int_equal(parse_str(text, &h), HOSTNAME_DOMAIN);
	assert_string_equal(h.name, n253);
	free(n253);
}

static void test_very_long_argument_is_invalid_without_overflow(void **state)
{
	size_t len = 100000;
	char *text = malloc(len);
	struct hostname h;
	(void)state;

	assert_non_null(text);
	memset(text, 'a', len);
	assert_int_equal(parse_exact(text, len, &h), HOSTNAME_INVALID);
	for (size_t i = 0; i < len; i += 2)
		text[i] = '.';
	assert_int_equal(parse_exact(text, len, &h), HOSTNAME_INVALID);
	text[0] = '[';
	text[len - 1] = ']';
	assert_int_equal(parse_exact(text, len, &h), HOSTNAME_INVALID);
	free(text);
}

static void test_parse_reads_only_the_given_length(void **state)
{
	struct hostname h;
	(void)state;

	assert_int_equal(hostname_parse("example.comX", 11, &h), HOSTNAME_DOMAIN);
	assert_string_equal(h.name, "example.com");
	assert_int_equal(hostname_parse("[127.0.0.1]]", 11, &h), HOSTNAME_ADDRESS);
	assert_int_equal(hostname_parse("example.com", 0, &h), HOSTNAME_INVALID);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_valid_domains_are_lowercased_without_trailing_dot),
	    cmocka_unit_test(test_malformed_arguments_are_invalid),
	    cmocka_unit_test(test_nul_bytes_make_the_argument_invalid),
	    cmocka_unit_test(test_null_text_is_invalid),
	    cmocka_unit_test(test_addresses_keep_their_text_and_value),
	    cmocka_unit_test(test_label_of_63_octets_is_valid_and_64_is_not),
	    cmocka_unit_test(test_name_of_253_octets_is_valid_and_254_is_not),
	    cmocka_unit_test(test_surrounding_blanks_do_not_count_toward_length),
	    cmocka_unit_test(test_very_long_argument_is_invalid_without_overflow),
	    cmocka_unit_test(test_parse_reads_only_the_given_length),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
