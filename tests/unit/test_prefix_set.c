/* prefix_set: the --allow-clients file, addresses and CIDR prefixes. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "wire/addr.h"
#include "judge/prefix_set.h"

#define DATA(name) HG_TEST_DATA_DIR "/" name

static bool contains(const struct prefix_set *set, const char *text)
{
	struct ip_addr a;

	if (!ip_addr_parse(text, strlen(text), &a))
		fail_msg("test address '%s' does not parse", text);
	return prefix_set_contains(set, &a);
}

static void expect_build_error(const char *entry, const char *message)
{
	char err[256] = "";
	const char *entries[] = {"192.0.2.1", entry};
	struct prefix_set *set = prefix_set_build(entries, 2, err, sizeof(err));

	if (set != NULL) {
		prefix_set_free(set);
		fail_msg("'%s' should be refused", entry);
	}
	if (strcmp(err, message) != 0)
		fail_msg("'%s': got '%s', expected '%s'", entry, err, message);
}

static void test_file_with_addresses_prefixes_and_comments(void **state)
{
	char err[256] = "";
	struct prefix_set *set = prefix_set_load_file(DATA("allow_clients.txt"), err, sizeof(err));
	(void)state;

	if (set == NULL)
		fail_msg("%s", err);
	assert_int_equal(prefix_set_entries(set), 5);
	assert_true(contains(set, "198.51.100.7"));
	assert_false(contains(set, "198.51.100.8"));
	assert_false(contains(set, "198.51.100.6"));
	assert_true(contains(set, "203.0.113.0"));
	assert_true(contains(set, "203.0.113.127"));
	assert_false(contains(set, "203.0.113.128"));
	assert_true(contains(set, "192.0.2.128"));
	assert_true(contains(set, "192.0.2.191"));
	assert_false(contains(set, "192.0.2.192"));
	assert_false(contains(set, "192.0.2.127"));
	assert_true(contains(set, "2001:db8:1::1"));
	assert_true(contains(set, "2001:db8:1:ffff:ffff:ffff:ffff:ffff"));
	assert_false(contains(set, "2001:db8:2::"));
	assert_true(contains(set, "2001:DB8:FF:0:0:0:0:25"));
	assert_false(contains(set, "2001:db8:ff::26"));
	/* an IPv4-mapped client address is the IPv4 address */
	assert_true(contains(set, "::ffff:198.51.100.7"));
	assert_true(contains(set, "::ffff:203.0.113.5"));
	assert_false(contains(set, "::198.51.100.7"));
	prefix_set_free(set);
}

static void test_overlapping_and_adjacent_prefixes_merge(void **state)
{
	const char *entries[] = {"10.0.0.0/9",       "10.128.0.0/9", "10.1.2.3", "",
	                         "# only a comment", "0.0.0.0/0",    "::/0"};
	char err[256];
	struct prefix_set *set = prefix_set_build(entries, 3, err, sizeof(err));
	(void)state;

	assert_non_null(set);
	assert_true(contains(set, "10.0.0.0"));
	assert_true(contains(set, "10.127.255.255"));
	assert_true(contains(set, "10.128.0.0"));
	assert_true(contains(set, "10.255.255.255"));
	assert_false(contains(set, "11.0.0.0"));
	assert_false(contains(set, "9.255.255.255"));
	prefix_set_free(set);
	set = prefix_set_build(entries + 3, 3, err, sizeof(err));
	assert_non_null(set);
	assert_int_equal(prefix_set_entries(set), 1);
	assert_true(contains(set, "255.255.255.255"));
	assert_true(contains(set, "0.0.0.0"));
	assert_false(contains(set, "2001:db8::1"));
	prefix_set_free(set);
	set = prefix_set_build(entries + 6, 1, err, sizeof(err));
	assert_non_null(set);
	assert_true(contains(set, "2001:db8::1"));
	assert_true(contains(set, "192.0.2.1"));
	prefix_set_free(set);
}

static void test_empty_and_null_sets_hold_nothing(void **state)
{
	char err[256];
	struct prefix_set *set = prefix_set_build(NULL, 0, err, sizeof(err));
	(void)state;

	assert_non_null(set);
	assert_false(contains(set, "192.0.2.1"));
	assert_false(contains(NULL, "192.0.2.1"));
	assert_int_equal(prefix_set_entries(NULL), 0);
	prefix_set_free(set);
	prefix_set_free(NULL);
}

static void test_bad_entries_are_refused_with_their_reason(void **state)
{
	(void)state;
	expect_build_error("192.0.2.1/24", "entries[1]: bits set past the prefix length");
	expect_build_error("192.0.2.0/33", "entries[1]: prefix length must be 0..32");
	expect_build_error("2001:db8::/129", "entries[1]: prefix length must be 0..128");
	expect_build_error("192.0.2.0/", "entries[1]: prefix length must be 0..32");
	expect_build_error("192.0.2.0/+8", "entries[1]: prefix length must be 0..32");
	expect_build_error("mail.example.com", "entries[1]: not an address or prefix");
	expect_build_error("[192.0.2.1]", "entries[1]: not an address or prefix");
	expect_build_error("192.0.2.1 192.0.2.2", "entries[1]: not an address or prefix");
	expect_build_error("fe80::1%eth0", "entries[1]: not an address or prefix");
}

static void test_bad_file_names_its_line(void **state)
{
	char err[256] = "";
	(void)state;

	assert_null(prefix_set_load_file(DATA("allow_clients_bad.txt"), err, sizeof(err)));
	assert_string_equal(err,
	                    DATA("allow_clients_bad.txt") ":3: bits set past the prefix length");
	assert_null(prefix_set_load_file(DATA("no-such-file"), err, sizeof(err)));
	assert_string_equal(err, DATA("no-such-file") ": No such file or directory");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_file_with_addresses_prefixes_and_comments),
	    cmocka_unit_test(test_overlapping_and_adjacent_prefixes_merge),
	    cmocka_unit_test(test_empty_and_null_sets_hold_nothing),
	    cmocka_unit_test(test_bad_entries_are_refused_with_their_reason),
	    cmocka_unit_test(test_bad_file_names_its_line),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
