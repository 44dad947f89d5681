/* suffix: loading a public suffix list and telling FQDNs from the rest. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "judge/suffix.h"

#define DATA(name) HG_TEST_DATA_DIR "/" name

static void expect_fqdn(const struct suffix_list *list, const char *name, bool fqdn)
{
	if (suffix_list_is_fqdn(list, name) != fqdn)
		fail_msg("'%s' should %sbe an FQDN", name, fqdn ? "" : "not ");
}

static void expect_load_error(const char *path, const char *message)
{
	char err[512];
	struct suffix_list *list = suffix_list_load(path, err, sizeof(err));

	if (list != NULL) {
		suffix_list_free(list);
		fail_msg("'%s' should not load", path);
	}
	assert_null(strchr(err, '\n'));
	if (strcmp(err, message) != 0)
		fail_msg("got '%s', expected '%s'", err, message);
}

static void test_default_list_tells_real_tlds_from_private_ones(void **state)
{
	char err[512] = "";
	struct suffix_list *list = suffix_list_load(NULL, err, sizeof(err));
	(void)state;

	if (list == NULL)
		fail_msg("default list: %s", err);
	expect_fqdn(list, "mail.exampledomain.com", true);
	expect_fqdn(list, "mta-gw1.infomaniak.ch", true);
	expect_fqdn(list, "server.domain.xyz", true);
	expect_fqdn(list, "example.co.uk", true);
	expect_fqdn(list, "user.github.io", true);
	expect_fqdn(list, "www.ck", true);
	expect_fqdn(list, "xn--80ak6aa92e.xn--p1ai", true);
	expect_fqdn(list, "rad.internal", false);
	expect_fqdn(list, "host.local", false);
	expect_fqdn(list, "pc.lan", false);
	expect_fqdn(list, "mail.example", false);
	expect_fqdn(list, "foo.localdomain", false);
	expect_fqdn(list, "www", false);
	expect_fqdn(list, "com", false);
	expect_fqdn(list, "co.uk", false);
	expect_fqdn(list, "foo.ck", false);
	expect_fqdn(list, "", false);
	suffix_list_free(list);
}

static void test_small_list_applies_wildcards_exceptions_and_private_rules(void **state)
{
	char err[512] = "";
	struct suffix_list *list = suffix_list_load(DATA("psl_small.dat"), err, sizeof(err));
	(void)state;

	if (list == NULL)
		fail_msg("%s", err);
	expect_fqdn(list, "example.com", true);
	expect_fqdn(list, "a.b.example.co.uk", true);
	expect_fqdn(list, "www.ck", true);
	expect_fqdn(list, "foo.ck", false);
	expect_fqdn(list, "a.foo.ck", true);
	/* Private rules: a host under them is a host, the rule a name. */
	expect_fqdn(list, "github.io", true);
	expect_fqdn(list, "user.github.io", true);
	expect_fqdn(list, "rigel.uberspace.de", true);
	/* "za" has no rule of its own, but "co.za" ends in it. */
	expect_fqdn(list, "pta-smg2.csir.co.za", true);
	expect_fqdn(list, "mail.example.za", true);
	expect_fqdn(list, "co.za", false);
	/* Not in this list, though real: no implicit "*" rule. */
	expect_fqdn(list, "example.org", false);
	expect_fqdn(list, "com", false);
	suffix_list_free(list);
}

/* The names of issue 10 that real mail servers announce: a TLD without a
 * rule of its own, and hosts under private wildcard rules. */
static void test_default_list_has_no_false_positives_on_real_senders(void **state)
{
	static const char *const ok[] = {
	    "za-smtp-delivery-132.mimecast.co.za",
	    "pta-smg2.csir.co.za",
	    "spe11-1.ucebox.co.za",
	    "ec2-44-216-146-164.compute-1.amazonaws.com",
	    "rigel.uberspace.de",
	    "github.io",
	};
	static const char *const not_fqdn[] = {"za", "co.za", "com", "co.uk", "ac.za", "foo.ck"};
	char err[512] = "";
	struct suffix_list *list = suffix_list_load(NULL, err, sizeof(err));
	(void)state;

	if (list == NULL)
		fail_msg("%s", err);
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		expect_fqdn(list, ok[i], true);
	for (size_t i = 0; i < sizeof(not_fqdn) / sizeof(not_fqdn[0]); i++)
		expect_fqdn(list, not_fqdn[i], false);
	assert_true(suffix_list_is_tld(list, "za"));
	assert_true(suffix_list_is_tld(list, "com"));
	assert_false(suffix_list_is_tld(list, "internal"));
	assert_true(suffix_list_rules(list) > 5000);
	suffix_list_free(list);
}

/* Without section markers every rule is an ICANN rule. */
static void test_list_without_sections_counts_every_rule(void **state)
{
	char err[512] = "";
	struct suffix_list *list = suffix_list_load(DATA("psl_nosections.dat"), err, sizeof(err));
	(void)state;

	if (list == NULL)
		fail_msg("%s", err);
	expect_fqdn(list, "mail.example.com", true);
	expect_fqdn(list, "host.example.za", true);
	expect_fqdn(list, "co.za", false);
	expect_fqdn(list, "host.uberspace.de", false);
	assert_int_equal(suffix_list_rules(list), 3);
	suffix_list_free(list);
}

static void test_names_of_253_octets_are_judged_whole(void **state)
{
	char err[512] = "";
	struct suffix_list *list = suffix_list_load(DATA("psl_small.dat"), err, sizeof(err));
	char name[254];
	(void)state;

	assert_non_null(list);
	/* 50-octet labels: four of them and a 45-octet one, then ".foo.ck". */
	for (size_t j = 0; j < 246; j++)
		name[j] = j % 51 == 50 ? '.' : 'a';
	memcpy(name + 246, ".foo.ck", 8);
	assert_int_equal(strlen(name), 253);
	expect_fqdn(list, name, true);
	expect_fqdn(list, name + 247, false);
	memcpy(name + 246, ".xx.org", 8);
	expect_fqdn(list, name, false);
	suffix_list_free(list);
}

static void test_null_list_or_name_is_never_fqdn(void **state)
{
	char err[512] = "";
	struct suffix_list *list = suffix_list_load(DATA("psl_small.dat"), err, sizeof(err));
	(void)state;

	assert_non_null(list);
	expect_fqdn(NULL, "example.com", false);
	assert_false(suffix_list_is_fqdn(list, NULL));
	suffix_list_free(list);
	suffix_list_free(NULL);
}

static void test_missing_file_is_reported(void **state)
{
	(void)state;
	expect_load_error(DATA("no-such-file.dat"),
	                  DATA("no-such-file.dat") ": No such file or directory");
}

static void test_directory_is_reported(void **state)
{
	(void)state;
	expect_load_error(HG_TEST_DATA_DIR, HG_TEST_DATA_DIR ": Is a directory");
}

static void test_bad_rule_is_reported_with_its_line(void **state)
{
	(void)state;
	expect_load_error(DATA("psl_bad_rule.dat"),
	                  DATA("psl_bad_rule.dat") ":3: not a public suffix rule");
}

static void test_file_without_rules_is_refused(void **state)
{
	(void)state;
	expect_load_error(DATA("psl_comments_only.dat"),
	                  DATA("psl_comments_only.dat") ": no public suffix rules");
	expect_load_error(DATA("psl_empty.dat"), DATA("psl_empty.dat") ": no public suffix rules");
}

static void test_line_longer_than_libpsl_reads_is_refused(void **state)
{
	(void)state;
	expect_load_error(DATA("psl_long_line.dat"), DATA("psl_long_line.dat") ":2: line too long");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_default_list_tells_real_tlds_from_private_ones),
	    cmocka_unit_test(test_small_list_applies_wildcards_exceptions_and_private_rules),
	    cmocka_unit_test(test_default_list_has_no_false_positives_on_real_senders),
	    cmocka_unit_test(test_list_without_sections_counts_every_rule),
	    cmocka_unit_test(test_names_of_253_octets_are_judged_whole),
	    cmocka_unit_test(test_null_list_or_name_is_never_fqdn),
	    cmocka_unit_test(test_missing_file_is_reported),
	    cmocka_unit_test(test_directory_is_reported),
	    cmocka_unit_test(test_bad_rule_is_reported_with_its_line),
	    cmocka_unit_test(test_file_without_rules_is_refused),
	    cmocka_unit_test(test_line_longer_than_libpsl_reads_is_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
