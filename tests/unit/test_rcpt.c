/* rcpt: the mailbox and domain of a RCPT TO argument (RFC 5321 4.1.2). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "smtp/rcpt.h"

struct parsed {
	bool ok;
	char mailbox[256];
	char domain[256];
};

/* Parse a heap copy of exactly len bytes (AddressSanitizer catches reads
 * past the end), check that the results point inside it, and copy them out. */
static struct parsed parse_exact(const char *text, size_t len)
{
	struct parsed p = {0};
	struct rcpt_address out;
	char *copy = malloc(len > 0 ? len : 1);

	assert_non_null(copy);
	memcpy(copy, text, len);
	p.ok = rcpt_parse(copy, len, &out);
	if (p.ok) {
		assert_true(out.mailbox >= copy && out.mailbox + out.mailbox_len <= copy + len);
		assert_true(out.domain >= out.mailbox &&
		            out.domain + out.domain_len <= out.mailbox + out.mailbox_len);
		assert_true(out.mailbox_len > 0 && out.mailbox_len < sizeof(p.mailbox));
		memcpy(p.mailbox, out.mailbox, out.mailbox_len);
		memcpy(p.domain, out.domain, out.domain_len);
	} else {
		static const struct rcpt_address zero;

		assert_memory_equal(&out, &zero, sizeof(out));
	}
	free(copy);
	return p;
}

static struct parsed parse_str(const char *text)
{
	return parse_exact(text, strlen(text));
}

static void expect_parsed(const char *text, const char *mailbox, const char *domain)
{
	struct parsed p = parse_str(text);

	if (!p.ok)
		fail_msg("'%s' should parse", text);
	if (strcmp(p.mailbox, mailbox) != 0 || strcmp(p.domain, domain) != 0)
		fail_msg("'%s': got mailbox '%s' domain '%s', expected '%s' '%s'", text, p.mailbox,
		         p.domain, mailbox, domain);
}

static void test_angle_brackets_enclose_the_mailbox(void **state)
{
	(void)state;
	expect_parsed("<bob@example.com>", "bob@example.com", "example.com");
	expect_parsed("<bob@Example.COM.>", "bob@Example.COM.", "Example.COM.");
}

static void test_blanks_after_the_colon_are_skipped(void **state)
{
	(void)state;
	expect_parsed(" <bob@example.com>", "bob@example.com", "example.com");
	expect_parsed(" \t <bob@example.com>", "bob@example.com", "example.com");
}

static void test_source_route_is_ignored(void **state)
{
	(void)state;
	expect_parsed("<@relay.example:bob@example.com>", "bob@example.com", "example.com");
	expect_parsed("<@a.example,@b.example:bob@example.com>", "bob@example.com", "example.com");
	expect_parsed("<@[IPv6:2001:db8::2]:bob@example.com>", "bob@example.com", "example.com");
}

static void test_quoted_local_part_containing_at(void **state)
{
	(void)state;
	expect_parsed("<\"a@b\"@example.com>", "\"a@b\"@example.com", "example.com");
	expect_parsed("<\"bob@relay.example\"@example.com>", "\"bob@relay.example\"@example.com",
	              "example.com");
	expect_parsed("<\"a\\\"@b\"@example.com>", "\"a\\\"@b\"@example.com", "example.com");
	expect_parsed("<\"a> b\"@example.com>", "\"a> b\"@example.com", "example.com");
	expect_parsed("\"a b@c\"@example.com", "\"a b@c\"@example.com", "example.com");
}

static void test_esmtp_parameters_after_the_path_are_ignored(void **state)
{
	(void)state;
	expect_parsed("<bob@example.com> NOTIFY=NEVER", "bob@example.com", "example.com");
	expect_parsed("<bob@example.com> NOTIFY=SUCCESS ORCPT=rfc822;bob@other.example",
	              "bob@example.com", "example.com");
	expect_parsed("<bob@example.com>\r\n", "bob@example.com", "example.com");
}

static void test_bare_mailbox_without_brackets(void **state)
{
	(void)state;
	expect_parsed("bob@example.com", "bob@example.com", "example.com");
	expect_parsed(" bob@example.com", "bob@example.com", "example.com");
	expect_parsed("bob@example.com NOTIFY=NEVER", "bob@example.com", "example.com");
	expect_parsed("bob@example.com\r\n", "bob@example.com", "example.com");
	expect_parsed("@relay.example:bob@example.com", "bob@example.com", "example.com");
}

static void test_postmaster_has_no_domain(void **state)
{
	(void)state;
	expect_parsed("<Postmaster>", "Postmaster", "");
	expect_parsed("<postmaster>", "postmaster", "");
	expect_parsed("Postmaster", "Postmaster", "");
}

static void test_domain_literal_is_the_domain(void **state)
{
	(void)state;
	expect_parsed("<bob@[192.0.2.1]>", "bob@[192.0.2.1]", "[192.0.2.1]");
	expect_parsed("<bob@[IPv6:2001:db8::1]>", "bob@[IPv6:2001:db8::1]", "[IPv6:2001:db8::1]");
}

static void test_empty_domain_after_at_is_kept_empty(void **state)
{
	(void)state;
	expect_parsed("<bob@>", "bob@", "");
}

static void test_unparseable_arguments_are_refused(void **state)
{
	static const char *const cases[] = {
	    "",
	    "   ",
	    "<>",
	    "<> NOTIFY=NEVER",
	    "<bob@example.com",
	    "bob@example.com>",
	    "<\"bob@example.com>",
	    "\"bob@example.com",
	    "<@relay.example>",
	    "<@relay.example:>",
	    "<@example.com>",
	    "<@a:@b>",
	    "<@a:@b@example.com>",
	    "<<bob@example.com>>",
	    "<bob@[192.0.2.1>",
	    "<\"a\\",
	    "<bob@example.com<",
	    "bob<@example.com",
	};
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (parse_str(cases[i]).ok)
			fail_msg("'%s' should be refused", cases[i]);
}

static void test_nul_bytes_are_refused(void **state)
{
	(void)state;
	assert_false(parse_exact("<bob\0@example.com>", 18).ok);
	assert_false(parse_exact("<bob@example.com>\0", 18).ok);
	assert_false(parse_exact("\0", 1).ok);
}

static void test_null_text_is_refused(void **state)
{
	struct rcpt_address out;
	(void)state;

	assert_false(rcpt_parse(NULL, 0, &out));
	assert_null(out.mailbox);
	assert_int_equal(out.mailbox_len, 0);
}

static void test_parse_reads_only_the_given_length(void **state)
{
	struct rcpt_address out;
	(void)state;

	assert_true(rcpt_parse("bob@example.comX", 15, &out));
	assert_int_equal(out.domain_len, 11);
	assert_false(rcpt_parse("<bob@example.com>", 16, &out));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_angle_brackets_enclose_the_mailbox),
	    cmocka_unit_test(test_blanks_after_the_colon_are_skipped),
	    cmocka_unit_test(test_source_route_is_ignored),
	    cmocka_unit_test(test_quoted_local_part_containing_at),
	    cmocka_unit_test(test_esmtp_parameters_after_the_path_are_ignored),
	    cmocka_unit_test(test_bare_mailbox_without_brackets),
	    cmocka_unit_test(test_postmaster_has_no_domain),
	    cmocka_unit_test(test_domain_literal_is_the_domain),
	    cmocka_unit_test(test_empty_domain_after_at_is_kept_empty),
	    cmocka_unit_test(test_unparseable_arguments_are_refused),
	    cmocka_unit_test(test_nul_bytes_are_refused),
	    cmocka_unit_test(test_null_text_is_refused),
	    cmocka_unit_test(test_parse_reads_only_the_given_length),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
