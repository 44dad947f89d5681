/* banlist: loading banned names and matching names and their parent domains. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "judge/banlist.h"

#define MILLION 1000000u

static bool contains(const struct banlist *list, const char *name)
{
	return banlist_contains(list, name, strlen(name));
}

static void expect_banned(const struct banlist *list, const char *name, bool banned)
{
	if (contains(list, name) != banned)
		fail_msg("'%s' should %sbe banned", name, banned ? "" : "not ");
}

/* Writes content to a fresh temporary file; the caller unlinks it. */
static char *write_temp(const char *content, size_t len)
{
	const char *dir = getenv("TMPDIR");
	char *path = malloc(512);
	FILE *f;
	int fd;

	assert_non_null(path);
	snprintf(path, 512, "%s/test_banlist_XXXXXX", dir != NULL ? dir : "/tmp");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(content, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
	return path;
}

static struct banlist *load_text(const char *content)
{
	char err[512] = "";
	char *path = write_temp(content, strlen(content));
	struct banlist *list = banlist_load_file(path, err, sizeof(err));

	unlink(path);
	free(path);
	if (list == NULL)
		fail_msg("load failed: %s", err);
	return list;
}

/* Loads content expecting failure; the message must be "PATH" + suffix. */
static void expect_load_error(const char *content, size_t len, const char *suffix)
{
	char err[512] = "";
	char expected[1024];
	char *path = write_temp(content, len);
	struct banlist *list = banlist_load_file(path, err, sizeof(err));

	snprintf(expected, sizeof(expected), "%s%s", path, suffix);
	unlink(path);
	free(path);
	if (list != NULL) {
		banlist_free(list);
		fail_msg("'%s' should not load", content);
	}
	assert_null(strchr(err, '\n'));
	if (strcmp(err, expected) != 0)
		fail_msg("got '%s', expected '%s'", err, expected);
}

static void test_exact_name_is_banned(void **state)
{
	struct banlist *list = load_text("spam.example.com\nbad.net\n");
	(void)state;

	assert_int_equal(banlist_size(list), 2);
	expect_banned(list, "spam.example.com", true);
	expect_banned(list, "bad.net", true);
	expect_banned(list, "example.com", false);
	expect_banned(list, "good.net", false);
	banlist_free(list);
}

static void test_parent_domain_bans_every_subdomain(void **state)
{
	struct banlist *list = load_text("fakedomain.xyz\n");
	(void)state;

	expect_banned(list, "fakedomain.xyz", true);
	expect_banned(list, "mx.fakedomain.xyz", true);
	expect_banned(list, "a.b.c.mx1.fakedomain.xyz", true);
	expect_banned(list, "_dmarc.fakedomain.xyz", true);
	banlist_free(list);
}

static void test_sibling_and_suffix_tricks_are_not_banned(void **state)
{
	struct banlist *list = load_text("domain.xyz\nmx.other.org\n");
	(void)state;

	expect_banned(list, "fakedomain.xyz", false);
	expect_banned(list, "mx.fakedomain.xyz", false);
	expect_banned(list, "omain.xyz", false);
	expect_banned(list, "xyz", false);
	expect_banned(list, "domain.xyz.evil.com", false);
	expect_banned(list, "domain.xy", false);
	expect_banned(list, "domain.xyzz", false);
	expect_banned(list, "domain-xyz", false);
	/* A banned subdomain does not ban its parent or siblings. */
	expect_banned(list, "other.org", false);
	expect_banned(list, "mx2.other.org", false);
	expect_banned(list, "amx.other.org", false);
	expect_banned(list, "a.mx.other.org", true);
	banlist_free(list);
}

static void test_top_level_name_bans_everything_under_it(void **state)
{
	struct banlist *list = load_text("zip\n");
	(void)state;

	expect_banned(list, "zip", true);
	expect_banned(list, "evil.zip", true);
	expect_banned(list, "a.evil.zip", true);
	expect_banned(list, "zip.com", false);
	expect_banned(list, "zipp", false);
	banlist_free(list);
}

static void test_names_are_loaded_case_insensitively(void **state)
{
	struct banlist *list = load_text("MX.Example.COM\nBAD.Net\n");
	(void)state;

	expect_banned(list, "mx.example.com", true);
	expect_banned(list, "smtp.bad.net", true);
	banlist_free(list);
}

static void test_one_trailing_dot_is_ignored(void **state)
{
	struct banlist *list = load_text("example.com.\nother.org\n");
	(void)state;

	assert_int_equal(banlist_size(list), 2);
	expect_banned(list, "example.com", true);
	expect_banned(list, "mail.example.com", true);
	banlist_free(list);
	expect_load_error("a.b..\n", 6, ":1: invalid name 'a.b..'");
}

static void test_comments_and_blank_lines_are_skipped(void **state)
{
	struct banlist *list = load_text("# banned senders\n"
	                                 "\n"
	                                 "   \n"
	                                 "\t\n"
	                                 "spam.example   # seen 2024-05-01\n"
	                                 "  bad.net\t#trailing\n"
	                                 "tight.org#no space\n"
	                                 "    # indented comment\n"
	                                 "last.info");
	(void)state;

	assert_int_equal(banlist_size(list), 4);
	expect_banned(list, "spam.example", true);
	expect_banned(list, "bad.net", true);
	expect_banned(list, "tight.org", true);
	expect_banned(list, "last.info", true);
	banlist_free(list);
}

static void test_crlf_lines_are_accepted(void **state)
{
	struct banlist *list =
	    load_text("# windows file\r\none.com\r\n\r\ntwo.net # c\r\nthree.org\r\n");
	(void)state;

	assert_int_equal(banlist_size(list), 3);
	expect_banned(list, "one.com", true);
	expect_banned(list, "two.net", true);
	expect_banned(list, "three.org", true);
	banlist_free(list);
	expect_load_error("one.com\r\ntw\ro.net\r\n", 19, ":2: invalid name 'tw?o.net'");
}

static void test_duplicates_collapse(void **state)
{
	struct banlist *once = load_text("a.com\nb.net\nc.org\n");
	struct banlist *repeated = load_text("a.com\nB.NET\na.com.\nc.org\nA.Com\nb.net\nc.org\n");
	(void)state;

	assert_int_equal(banlist_size(repeated), 3);
	assert_int_equal(banlist_memory(repeated), banlist_memory(once));
	expect_banned(repeated, "a.com", true);
	expect_banned(repeated, "mx.b.net", true);
	expect_banned(repeated, "c.org", true);
	expect_banned(repeated, "d.org", false);
	banlist_free(once);
	banlist_free(repeated);
}

static void test_bad_line_fails_the_whole_load_naming_file_and_line(void **state)
{
	static const char text[] = "good.com\n# comment\nbad..name\nalso-good.net\n";
	(void)state;

	expect_load_error(text, sizeof(text) - 1, ":3: invalid name 'bad..name'");
	expect_load_error("ok.com\n-dash.com\n", 17, ":2: invalid name '-dash.com'");
	expect_load_error("ok.com\ntwo words.com\n", 21, ":2: invalid name 'two words.com'");
}

static void test_address_is_not_a_banned_name(void **state)
{
	(void)state;

	expect_load_error("ok.com\n192.0.2.1\n", 17, ":2: invalid name '192.0.2.1'");
	expect_load_error("[192.0.2.1]\n", 12, ":1: invalid name '[192.0.2.1]'");
	expect_load_error("2001:db8::1\n", 12, ":1: invalid name '2001:db8::1'");
}

static void test_error_text_is_one_printable_line(void **state)
{
	char long_name[300];
	char expected[128];
	(void)state;

	expect_load_error("a\001b.com\n", 8, ":1: invalid name 'a?b.com'");
	expect_load_error("nul\0byte.com\n", 13, ":1: invalid name 'nul?byte.com'");
	expect_load_error("caf\xc3\xa9.fr\n", 9, ":1: invalid name 'caf??.fr'");
	memset(long_name, 'a', sizeof(long_name) - 2);
	long_name[sizeof(long_name) - 2] = '\n';
	long_name[sizeof(long_name) - 1] = '\0';
	snprintf(expected, sizeof(expected), ":1: invalid name '%.64s...'", long_name);
	expect_load_error(long_name, strlen(long_name), expected);
}

static void test_missing_file_names_the_file_and_the_cause(void **state)
{
	char err[512] = "";
	struct banlist *list =
	    banlist_load_file("/nonexistent/helogate/banned.txt", err, sizeof(err));
	(void)state;

	assert_null(list);
	assert_string_equal(err, "/nonexistent/helogate/banned.txt: cannot open: "
	                         "No such file or directory");
}

static void test_directory_is_a_read_error(void **state)
{
	char err[512] = "";
	struct banlist *list = banlist_load_file("/", err, sizeof(err));
	(void)state;

	assert_null(list);
	assert_string_equal(err, "/: read error: Is a directory");
}

static void test_empty_lists_ban_nothing(void **state)
{
	char err[128] = "";
	struct banlist *empty_file = load_text("");
	struct banlist *comments_only = load_text("# nothing yet\n\n# really\n");
	struct banlist *built = banlist_build(NULL, 0, err, sizeof(err));
	(void)state;

	assert_non_null(built);
	assert_int_equal(banlist_size(empty_file), 0);
	assert_int_equal(banlist_size(comments_only), 0);
	assert_int_equal(banlist_size(built), 0);
	expect_banned(empty_file, "example.com", false);
	expect_banned(comments_only, "example.com", false);
	expect_banned(built, "example.com", false);
	expect_banned(NULL, "example.com", false);
	assert_int_equal(banlist_size(NULL), 0);
	banlist_free(empty_file);
	banlist_free(comments_only);
	banlist_free(built);
	banlist_free(NULL);
}

static void test_build_normalizes_like_the_file(void **state)
{
	static const char *const names[] = {"Spam.Example.", " bad.net ", "# comment", "",
	                                    "x.org # c"};
	char err[128] = "";
	struct banlist *list = banlist_build(names, 5, err, sizeof(err));
	(void)state;

	assert_non_null(list);
	assert_int_equal(banlist_size(list), 3);
	expect_banned(list, "spam.example", true);
	expect_banned(list, "mx.bad.net", true);
	expect_banned(list, "x.org", true);
	banlist_free(list);
}

static void test_build_names_the_bad_entry(void **state)
{
	static const char *const names[] = {"ok.com", "fine.net", "bad..org"};
	static const char *const with_null[] = {"ok.com", NULL};
	char err[128] = "";
	(void)state;

	assert_null(banlist_build(names, 3, err, sizeof(err)));
	assert_string_equal(err, "names[2]: invalid name 'bad..org'");
	assert_null(banlist_build(with_null, 2, err, sizeof(err)));
	assert_string_equal(err, "names[1]: invalid name (null)");
	assert_null(banlist_build(names, 3, NULL, 0));
}

static void test_lookup_of_unnormalized_or_odd_input_is_safe(void **state)
{
	struct banlist *list = load_text("example.com\n");
	char huge[600];
	(void)state;

	expect_banned(list, "", false);
	expect_banned(list, ".", false);
	expect_banned(list, "..example.com", true);
	expect_banned(list, "example.com.", false);
	memset(huge, 'a', sizeof(huge));
	memcpy(huge + sizeof(huge) - 13, ".example.com", 12);
	huge[sizeof(huge) - 1] = '\0';
	expect_banned(list, huge, true);
	memset(huge, '.', sizeof(huge) - 1);
	expect_banned(list, huge, false);
	/* Only len bytes are read: the NUL is not where the name ends. */
	assert_true(banlist_contains(list, "example.comXYZ", 11));
	banlist_free(list);
}

/* The i-th generated name: distinct for every i, 2 to 4 labels, 8 to 40
 * octets, lower case. */
static int million_name(char *buf, size_t size, uint32_t i)
{
	static const char *const tlds[] = {"com", "net", "org", "de", "co.uk", "info", "xyz"};
	uint64_t x = (uint64_t)i * 0x9e3779b97f4a7c15ULL;
	char word[16];
	size_t wlen = 3 + (size_t)(x >> 60) % 10;

	for (size_t j = 0; j < wlen; j++)
		word[j] = (char)('a' + (x >> (j * 5)) % 26);
	word[wlen] = '\0';
	if (i % 3 == 0)
		return snprintf(buf, size, "%s%x.%s", word, i, tlds[i % 7]);
	return snprintf(buf, size, "mx%u.%s-%x.%s", i % 10, word, i, tlds[i % 7]);
}

static void test_a_million_names_are_all_found(void **state)
{
	char *text = malloc((size_t)MILLION * 48);
	size_t len = 0;
	char name[64], sub[80], err[512] = "";
	struct timespec t0, t1;
	struct banlist *list;
	char *path;
	(void)state;

	assert_non_null(text);
	for (uint32_t i = 0; i < MILLION; i++) {
		len += (size_t)million_name(text + len, 48, i);
		text[len++] = '\n';
	}
	path = write_temp(text, len);
	free(text);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	list = banlist_load_file(path, err, sizeof(err));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	unlink(path);
	free(path);
	if (list == NULL)
		fail_msg("load failed: %s", err);
	print_message("1M names: loaded in %.3f s, %zu bytes (%.1f per name)\n",
	              (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9,
	              banlist_memory(list), (double)banlist_memory(list) / MILLION);
	assert_int_equal(banlist_size(list), MILLION);
	for (uint32_t i = 0; i < MILLION; i++) {
		million_name(name, sizeof(name), i);
		if (!contains(list, name))
			fail_msg("'%s' (#%u) not found", name, i);
		snprintf(sub, sizeof(sub), "www.%s", name);
		if (!contains(list, sub))
			fail_msg("'%s' not found", sub);
	}
	/* Non-members: names past the generated range, and the parents that
	 * "mx<d>." names hang under. */
	for (uint32_t i = MILLION; i < 2 * MILLION; i++) {
		million_name(name, sizeof(name), i);
		if (contains(list, name))
			fail_msg("'%s' should not be banned", name);
		if (i % 3 != 0 && contains(list, strchr(name, '.') + 1))
			fail_msg("'%s' should not be banned", strchr(name, '.') + 1);
	}
	banlist_free(list);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_exact_name_is_banned),
	    cmocka_unit_test(test_parent_domain_bans_every_subdomain),
	    cmocka_unit_test(test_sibling_and_suffix_tricks_are_not_banned),
	    cmocka_unit_test(test_top_level_name_bans_everything_under_it),
	    cmocka_unit_test(test_names_are_loaded_case_insensitively),
	    cmocka_unit_test(test_one_trailing_dot_is_ignored),
	    cmocka_unit_test(test_comments_and_blank_lines_are_skipped),
	    cmocka_unit_test(test_crlf_lines_are_accepted),
	    cmocka_unit_test(test_duplicates_collapse),
	    cmocka_unit_test(test_bad_line_fails_the_whole_load_naming_file_and_line),
	    cmocka_unit_test(test_address_is_not_a_banned_name),
	    cmocka_unit_test(test_error_text_is_one_printable_line),
	    cmocka_unit_test(test_missing_file_names_the_file_and_the_cause),
	    cmocka_unit_test(test_directory_is_a_read_error),
	    cmocka_unit_test(test_empty_lists_ban_nothing),
	    cmocka_unit_test(test_build_normalizes_like_the_file),
	    cmocka_unit_test(test_build_names_the_bad_entry),
	    cmocka_unit_test(test_lookup_of_unnormalized_or_odd_input_is_safe),
	    cmocka_unit_test(test_a_million_names_are_all_found),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
