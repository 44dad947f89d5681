/* Unit tests for lib/scan: the command database and banned-name patterns. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "smtp/scan.h"

#define EXAMPLE_FILE HG_TEST_DATA_DIR "/banned-patterns.txt"

struct fx {
	struct scan_commands *commands;
	hs_scratch_t *scratch;
	char tmp[64]; /* a temporary patterns file, "" when none */
};

static int fx_setup(void **state)
{
	char err[256];
	struct fx *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	f->commands = scan_commands_compile(err, sizeof(err));
	if (f->commands == NULL) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	f->scratch = scan_scratch_alloc(f->commands, err, sizeof(err));
	if (f->scratch == NULL) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	*state = f;
	return 0;
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;

	if (f->tmp[0])
		unlink(f->tmp);
	scan_scratch_free(f->scratch);
	scan_commands_free(f->commands);
	free(f);
	return 0;
}

/* Write text to a fresh temporary file; its path stays in f->tmp. */
static const char *write_tmp(struct fx *f, const char *text)
{
	snprintf(f->tmp, sizeof(f->tmp), "/tmp/hg-test-scan-XXXXXX");
	int fd = mkstemp(f->tmp);
	assert_true(fd >= 0);
	size_t len = strlen(text);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	close(fd);
	return f->tmp;
}

static enum smtp_verb verb_of(const struct fx *f, const char *line)
{
	return scan_command_verb(f->commands, f->scratch, (const uint8_t *)line,
	                         (uint32_t)strlen(line));
}

static void test_every_verb_pattern_matches_its_keyword_in_any_case(void **state)
{
	struct fx *f = *state;
	unsigned checked = 0;

	for (int v = 0; v < SMTP_VERB_COUNT; v++) {
		const char *kw = smtp_verb_keyword((enum smtp_verb)v);
		char buf[64];
		size_t n;

		if (kw == NULL)
			continue;
		n = strlen(kw);
		snprintf(buf, sizeof(buf), "%s", kw);
		assert_int_equal(verb_of(f, buf), v);
		for (size_t i = 0; i < n; i++)
			buf[i] = (char)(buf[i] | 0x20);
		assert_int_equal(verb_of(f, buf), v);
		buf[0] = (char)(buf[0] & ~0x20);
		assert_int_equal(verb_of(f, buf), v);
		snprintf(buf, sizeof(buf), "%s some argument", kw);
		assert_int_equal(verb_of(f, buf), v);
		snprintf(buf, sizeof(buf), "%s\targ", kw);
		assert_int_equal(verb_of(f, buf), v);
		/* Not a keyword: a longer word, a shorter one, another delimiter. */
		snprintf(buf, sizeof(buf), "%sX arg", kw);
		assert_int_equal(verb_of(f, buf), SMTP_VERB_UNKNOWN);
		snprintf(buf, sizeof(buf), "%s:arg", kw);
		assert_int_equal(verb_of(f, buf), SMTP_VERB_UNKNOWN);
		snprintf(buf, sizeof(buf), "%.*s", (int)n - 1, kw);
		assert_int_equal(verb_of(f, buf), SMTP_VERB_UNKNOWN);
		snprintf(buf, sizeof(buf), "X%s", kw);
		assert_int_equal(verb_of(f, buf), SMTP_VERB_UNKNOWN);
		checked++;
	}
	assert_int_equal(checked, SMTP_VERB_COUNT - 2); /* all but GREETING and UNKNOWN */
}

static void test_lines_no_keyword_can_start_are_unknown(void **state)
{
	struct fx *f = *state;
	static const char *const lines[] = {
	    "",
	    "H",
	    "HEL",
	    "QUI",
	    "ZZZZ",
	    "1234",
	    "GET / HTTP/1.0",
	    " HELO x",
	    "\x16\x03\x01",
	    "MAILFROM:<a@b>",
	};

	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
		assert_int_equal(verb_of(f, lines[i]), SMTP_VERB_UNKNOWN);
	/* Explicit lengths: bytes past len are not looked at. */
	assert_int_equal(scan_command_verb(f->commands, f->scratch, (const uint8_t *)"QUIT", 3),
	                 SMTP_VERB_UNKNOWN);
	assert_int_equal(scan_command_verb(f->commands, f->scratch, (const uint8_t *)"QUITX", 4),
	                 SMTP_VERB_QUIT);
	assert_int_equal(scan_command_verb(f->commands, f->scratch, (const uint8_t *)"HELO\0x", 6),
	                 SMTP_VERB_UNKNOWN);
}

/* The word switch and Hyperscan alone give the same verb for every keyword
 * in every case mix, followed by each of the 256 byte values or the end,
 * cut short, and for random lines built from keyword letters and blanks. */
static void test_word_switch_agrees_with_hyperscan(void **state)
{
	struct fx *f = *state;
	static const char *const keywords[] = {"HELO", "EHLO", "MAIL", "RCPT", "DATA",
	                                       "BDAT", "RSET", "NOOP", "QUIT", "STARTTLS",
	                                       "VRFY", "EXPN", "HELP", "AUTH", "STAR"};
	uint8_t line[16];
	unsigned compared = 0, known = 0;

	for (size_t k = 0; k < sizeof(keywords) / sizeof(keywords[0]); k++) {
		size_t n = strlen(keywords[k]);
		for (unsigned mask = 0; mask<(1u << n); mask += n> 4 ? 37 : 1)
			for (unsigned next = 0; next <= 256; next++) {
				for (size_t i = 0; i < n; i++)
					line[i] = (uint8_t)(keywords[k][i] |
					                    ((mask >> i) & 1 ? 0x20 : 0));
				uint32_t len = (uint32_t)n;
				if (next < 256)
					line[len++] = (uint8_t)next;
				for (uint32_t cut = 0; cut <= len; cut++) {
					enum smtp_verb a =
					    scan_command_verb(f->commands, f->scratch, line, cut);
					enum smtp_verb b = scan_command_verb_hyperscan(
					    f->commands, f->scratch, line, cut);
					if (a != b)
						fail_msg(
						    "'%.*s' (%u bytes): switch %d, hyperscan %d",
						    (int)cut, (const char *)line, cut, a, b);
					compared++;
					known += a != SMTP_VERB_UNKNOWN;
				}
			}
	}
	srand(12);
	static const char alphabet[] = "HELOMAICPTDSQURNVYXBhelomaicptdsqurnvyxb \t\v\f\r\n@:\0";
	for (int r = 0; r < 200000; r++) {
		uint32_t len = 4 + (uint32_t)(rand() % 8), i = 0;
		/* Half of the lines start with a keyword in a random case. */
		if (r & 1) {
			const char *kw =
			    keywords[rand() % (int)(sizeof(keywords) / sizeof(keywords[0]))];
			for (; kw[i] != '\0' && i < len; i++)
				line[i] = (uint8_t)(kw[i] | (rand() & 1 ? 0x20 : 0));
		}
		for (; i < len; i++)
			line[i] = (uint8_t)alphabet[rand() % (int)(sizeof(alphabet) - 1)];
		enum smtp_verb a = scan_command_verb(f->commands, f->scratch, line, len);
		enum smtp_verb b = scan_command_verb_hyperscan(f->commands, f->scratch, line, len);
		if (a != b)
			fail_msg("'%.*s': switch %d, hyperscan %d", (int)len, (const char *)line, a,
			         b);
		compared++;
	}
	assert_true(compared > 100000);
	assert_true(known > 1000);
}

static void test_example_patterns_file_loads(void **state)
{
	char err[256] = "";
	struct scan_patterns *p = scan_patterns_load_file(EXAMPLE_FILE, err, sizeof(err));

	(void)state;
	if (p == NULL)
		fail_msg("%s", err);
	assert_int_equal(scan_patterns_count(p), 3);
	scan_patterns_free(p);
}

static void test_dynamic_address_names_match_and_static_names_do_not(void **state)
{
	struct fx *f = *state;
	char err[256];
	static const struct {
		const char *name;
		bool banned;
	} cases[] = {
	    {"dsl-198-51-100-7.example.net", true},
	    {"DSL.example.net", true},
	    {"dyn.example.org", true},
	    {"ppp123.isp.example", true},
	    {"pool-10-1-2-3.example.com", true},
	    {"Cable-7.example.com", true},
	    {"dhcp.example.org", true},
	    {"host-192-0-2-1.isp.example", true},
	    {"10.0.0.1.in-addr.example", true},
	    {"192.0.2.1", true},
	    {"cpe-1.dynamic.example.net", true},
	    {"a-b.dhcp.example", true},
	    {"mail.example.org", false},
	    {"mx1.example.org", false},
	    {"dslr.example", false},
	    {"poolside.example.com", false},
	    {"cablecar.example", false},
	    {"a1-2-3.example", false},
	    {"smtp.dynamics-crm.example", false},
	    {"localhost", false},
	    {"", false},
	};
	struct scan_patterns *p = scan_patterns_load_file(EXAMPLE_FILE, err, sizeof(err));

	assert_non_null(p);
	assert_int_equal(scan_scratch_grow(&f->scratch, p, err, sizeof(err)), 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		bool got = scan_patterns_match(p, f->scratch, cases[i].name, strlen(cases[i].name));
		if (got != cases[i].banned)
			fail_msg("\"%s\": %s, want %s", cases[i].name,
			         got ? "banned" : "not banned",
			         cases[i].banned ? "banned" : "not banned");
	}
	scan_patterns_free(p);
}

static void test_unanchored_patterns_match_anywhere_and_anchors_bind(void **state)
{
	struct fx *f = *state;
	char err[256];
	struct scan_patterns *p = scan_patterns_load_file(
	    write_tmp(f, "  dyn  \r\n^mail$\n\t# indented comment\nend\\.example$\n"), err,
	    sizeof(err));

	assert_non_null(p);
	assert_int_equal(scan_patterns_count(p), 3);
	assert_int_equal(scan_scratch_grow(&f->scratch, p, err, sizeof(err)), 0);
	assert_true(scan_patterns_match(p, f->scratch, "a.DYN.example", 13));
	assert_true(scan_patterns_match(p, f->scratch, "dyn", 3));
	assert_true(scan_patterns_match(p, f->scratch, "MAIL", 4));
	assert_false(scan_patterns_match(p, f->scratch, "mail.example", 12));
	assert_false(scan_patterns_match(p, f->scratch, "xmail", 5));
	assert_true(scan_patterns_match(p, f->scratch, "the-end.example", 15));
	assert_false(scan_patterns_match(p, f->scratch, "end.example.org", 15));
	/* Explicit lengths: "dyn" past len does not count. */
	assert_false(scan_patterns_match(p, f->scratch, "abcdyn", 4));
	scan_patterns_free(p);
}

static void test_bad_pattern_error_names_file_and_line(void **state)
{
	struct fx *f = *state;
	char err[512] = "";
	const char *path = write_tmp(f, "# comment\n\n^ok$\n(unclosed\n^fine$\n");
	char want[128];

	assert_null(scan_patterns_load_file(path, err, sizeof(err)));
	snprintf(want, sizeof(want), "%s:4: hyperscan: ", path);
	if (strncmp(err, want, strlen(want)) != 0)
		fail_msg("error \"%s\" does not start with \"%s\"", err, want);
	assert_true(strlen(err) > strlen(want));
}

static void test_pattern_matching_the_empty_name_is_an_error(void **state)
{
	struct fx *f = *state;
	char err[512] = "";
	const char *path = write_tmp(f, "ok\nx*\n");
	char want[128];

	assert_null(scan_patterns_load_file(path, err, sizeof(err)));
	snprintf(want, sizeof(want), "%s:2: hyperscan: ", path);
	assert_memory_equal(err, want, strlen(want));
}

static void test_missing_file_error_names_the_file(void **state)
{
	char err[256] = "";

	(void)state;
	assert_null(scan_patterns_load_file("/nonexistent/helogate/patterns", err, sizeof(err)));
	assert_non_null(strstr(err, "/nonexistent/helogate/patterns: "));
}

static void test_file_without_patterns_matches_nothing(void **state)
{
	struct fx *f = *state;
	char err[256];
	struct scan_patterns *p =
	    scan_patterns_load_file(write_tmp(f, "# nothing here\n\n   \n"), err, sizeof(err));

	assert_non_null(p);
	assert_int_equal(scan_patterns_count(p), 0);
	assert_int_equal(scan_scratch_grow(&f->scratch, p, err, sizeof(err)), 0);
	assert_false(scan_patterns_match(p, f->scratch, "anything", 8));
	assert_false(scan_patterns_match(NULL, f->scratch, "anything", 8));
	scan_patterns_free(p);
}

static void test_one_scratch_serves_both_databases(void **state)
{
	struct fx *f = *state;
	char err[256];
	/* A pattern set big enough to need more scratch than the command set. */
	struct scan_patterns *p = scan_patterns_load_file(
	    write_tmp(f, "(a|b)[^c]{0,40}d.*e\n\\d{1,3}([-.]\\d{1,3}){3}\nfoo.{10,50}bar\n"
	                 "^(x|y|z)+q$\n"),
	    err, sizeof(err));

	assert_non_null(p);
	assert_int_equal(scan_scratch_grow(&f->scratch, p, err, sizeof(err)), 0);
	assert_non_null(f->scratch);
	for (int round = 0; round < 3; round++) {
		assert_int_equal(verb_of(f, "EHLO a.example"), SMTP_VERB_EHLO);
		assert_true(scan_patterns_match(p, f->scratch, "host-1-2-3-4.example", 20));
		assert_int_equal(verb_of(f, "RCPT TO:<a@b>"), SMTP_VERB_RCPT);
		assert_false(scan_patterns_match(p, f->scratch, "mail.example", 12));
	}
	/* Growing again for the same set is harmless. */
	assert_int_equal(scan_scratch_grow(&f->scratch, p, err, sizeof(err)), 0);
	assert_int_equal(verb_of(f, "QUIT"), SMTP_VERB_QUIT);
	scan_patterns_free(p);
}

static void test_scratch_may_be_allocated_by_grow_alone(void **state)
{
	struct fx *f = *state;
	char err[256];
	hs_scratch_t *scratch = NULL;
	struct scan_patterns *p =
	    scan_patterns_load_file(write_tmp(f, "^dyn\\.\n"), err, sizeof(err));

	assert_non_null(p);
	assert_int_equal(scan_scratch_grow(&scratch, p, err, sizeof(err)), 0);
	assert_non_null(scratch);
	assert_true(scan_patterns_match(p, scratch, "dyn.example", 11));
	scan_scratch_free(scratch);
	scan_patterns_free(p);
}

static void test_scratch_not_grown_for_patterns_fails_open(void **state)
{
	struct fx *f = *state;
	char err[256];
	struct scan_patterns *p = scan_patterns_load_file(
	    write_tmp(f, "(a|b)[^c]{0,40}d.*e\n\\d{1,3}([-.]\\d{1,3}){3}\nfoo.{10,50}bar\n"), err,
	    sizeof(err));
	hs_scratch_t *other = NULL;

	assert_non_null(p);
	/* Only meaningful where the command scratch is too small for p. */
	assert_int_equal(scan_scratch_grow(&other, p, err, sizeof(err)), 0);
	size_t need = 0, have = 0;
	assert_int_equal(hs_scratch_size(other, &need), HS_SUCCESS);
	assert_int_equal(hs_scratch_size(f->scratch, &have), HS_SUCCESS);
	scan_scratch_free(other);
	if (have >= need) {
		scan_patterns_free(p);
		skip();
	}
	assert_false(scan_patterns_match(p, f->scratch, "host-1-2-3-4.example", 20));
	assert_int_equal(scan_scratch_grow(&f->scratch, p, err, sizeof(err)), 0);
	assert_true(scan_patterns_match(p, f->scratch, "host-1-2-3-4.example", 20));
	scan_patterns_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)
	    T(test_every_verb_pattern_matches_its_keyword_in_any_case),
	    T(test_lines_no_keyword_can_start_are_unknown),
	    T(test_word_switch_agrees_with_hyperscan),
	    T(test_example_patterns_file_loads),
	    T(test_dynamic_address_names_match_and_static_names_do_not),
	    T(test_unanchored_patterns_match_anywhere_and_anchors_bind),
	    T(test_bad_pattern_error_names_file_and_line),
	    T(test_pattern_matching_the_empty_name_is_an_error),
	    T(test_missing_file_error_names_the_file),
	    T(test_file_without_patterns_matches_nothing),
	    T(test_one_scratch_serves_both_databases),
	    T(test_scratch_may_be_allocated_by_grow_alone),
	    T(test_scratch_not_grown_for_patterns_fails_open),
#undef T
	};

	return cmocka_run_group_tests_name("scan", tests, NULL, NULL);
}
