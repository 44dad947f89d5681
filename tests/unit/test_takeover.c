/* Unit tests for lib/takeover: the replies to a taken-over client. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "smtp/scan.h"
#include "filter/takeover.h"

struct fixture {
	struct scan_commands *db;
	hs_scratch_t *scratch;
	struct takeover_texts texts;
	struct takeover_session s;
	struct takeover_dialogue d;
	char out[4096];
	struct takeover_output o;
	int rejected_events;
	char last_rcpt[64];
};

static void on_rcpt(void *arg, const uint8_t *rcpt, uint32_t len)
{
	struct fixture *f = arg;

	f->rejected_events++;
	snprintf(f->last_rcpt, sizeof(f->last_rcpt), "%.*s", (int)len, (const char *)rcpt);
}

static int setup_reason(void **state, enum verdict_reason reason, const char *helo)
{
	static struct fixture f;
	char err[256];

	memset(&f, 0, sizeof(f));
	f.db = scan_commands_compile(err, sizeof(err));
	f.scratch = scan_scratch_alloc(f.db, err, sizeof(err));
	if (f.db == NULL || f.scratch == NULL)
		return -1;
	takeover_texts_default(&f.texts);
	f.s = (struct takeover_session){.reason = reason,
	                                .helo = helo,
	                                .helo_len = strlen(helo),
	                                .texts = &f.texts,
	                                .commands = f.db,
	                                .scratch = f.scratch,
	                                .on_rejected_rcpt = on_rcpt,
	                                .arg = &f};
	takeover_dialogue_init(&f.d, reason);
	*state = &f;
	return 0;
}

static int setup(void **state)
{
	return setup_reason(state, VERDICT_LOCALHOST, "localhost");
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	scan_scratch_free(f->scratch);
	scan_commands_free(f->db);
	return 0;
}

/* Feed text and return the replies produced, NUL-terminated. */
static const char *feed(struct fixture *f, const char *text)
{
	memset(&f->o, 0, sizeof(f->o));
	uint32_t used = takeover_feed(&f->d, &f->s, (const uint8_t *)text, (uint32_t)strlen(text),
	                              f->out, sizeof(f->out) - 1, &f->o);
	assert_int_equal(used, strlen(text));
	f->out[f->o.len] = '\0';
	return f->out;
}

static void test_rcpt_gets_the_seed_reply_without_angle_brackets(void **state)
{
	struct fixture *f = *state;

	assert_string_equal(feed(f, "RCPT TO:<user123@infomaniak.ch>\r\n"),
	                    "550 5.7.1 user123@infomaniak.ch... Access denied - bogus HELO\r\n");
	assert_int_equal(f->o.rejected, 1);
	assert_int_equal(f->rejected_events, 1);
	assert_string_equal(f->last_rcpt, "<user123@infomaniak.ch>");
	assert_false(f->o.close);
}

static void test_server_ip_reply_names_the_helo_address(void **state)
{
	struct fixture *f;

	assert_int_equal(setup_reason(state, VERDICT_SERVER_IP, "[198.18.0.25]"), 0);
	f = *state;
	assert_string_equal(
	    feed(f, "RCPT TO:<bob@example.com>\r\n"),
	    "550 5.7.1 bob@example.com... Access denied - bogus HELO (198.18.0.25)\r\n");
	teardown(state);
}

static void test_matches_rcpt_reply(void **state)
{
	struct fixture *f;

	assert_int_equal(setup_reason(state, VERDICT_MATCHES_RCPT, "example.com"), 0);
	f = *state;
	assert_string_equal(
	    feed(f, "rcpt to: <bob@example.com> NOTIFY=NEVER\r\n"),
	    "550 5.7.1 bob@example.com... Access denied - bogus HELO matches RCPT\r\n");
	teardown(state);
}

static void test_every_command_gets_its_postscreen_reply(void **state)
{
	struct fixture *f = *state;

	assert_string_equal(feed(f, "MAIL FROM:<a@example.org> SIZE=100\r\n"),
	                    "250 2.1.0 a@example.org... Sender ok\r\n");
	assert_string_equal(feed(f, "RSET\r\n"), "250 2.0.0 Ok\r\n");
	assert_string_equal(feed(f, "NOOP\r\n"), "250 2.0.0 Ok\r\n");
	assert_string_equal(feed(f, "EHLO mail.example.org\r\n"), "250 2.0.0 Ok\r\n");
	assert_string_equal(feed(f, "VRFY root\r\n"),
	                    "502 5.5.2 Error: command not recognized\r\n");
	assert_string_equal(feed(f, "XYZZY\r\n"), "502 5.5.2 Error: command not recognized\r\n");
	assert_string_equal(feed(f, "STARTTLS\r\n"),
	                    "554 5.7.1 Error: TLS not available - bogus HELO\r\n");
	assert_false(f->o.close);
	assert_string_equal(feed(f, "QUIT\r\n"), "221 2.0.0 Bye\r\n");
	assert_true(f->o.close);
	assert_string_equal(feed(f, "NOOP\r\n"), ""); /* closed: nothing more */
}

static void test_null_sender_is_shown_as_empty_path(void **state)
{
	struct fixture *f = *state;

	assert_string_equal(feed(f, "MAIL FROM:<>\r\n"), "250 2.1.0 <>... Sender ok\r\n");
}

static void test_data_gets_554_and_the_session_stays_open(void **state)
{
	struct fixture *f = *state;

	assert_string_equal(feed(f, "DATA\r\n"), "554 5.5.1 Error: no valid recipients\r\n");
	assert_false(f->o.close);
	assert_string_equal(feed(f, "RSET\r\n"), "250 2.0.0 Ok\r\n");
	assert_string_equal(feed(f, "RCPT TO:<a@x.example>\r\n"),
	                    "550 5.7.1 a@x.example... Access denied - bogus HELO\r\n");
	assert_string_equal(feed(f, "QUIT\r\n"), "221 2.0.0 Bye\r\n");
	assert_true(f->o.close);
}

static void test_body_without_354_ends_the_session(void **state)
{
	struct fixture *f = *state;

	assert_string_equal(feed(f, "DATA\r\nSubject: hi\r\n"),
	                    "554 5.5.1 Error: no valid recipients\r\n"
	                    "421 4.7.0 Error: message body sent without a 354 go-ahead\r\n");
	assert_true(f->o.close);
}

static void test_refused_bdat_chunk_is_read_and_discarded(void **state)
{
	struct fixture *f = *state;

	/* The chunk holds what looks like commands: they are not answered. */
	assert_string_equal(feed(f, "BDAT 12\r\nQUIT\r\nNOOP\r\nNOOP\r\n"),
	                    "554 5.5.1 Error: no valid recipients\r\n"
	                    "250 2.0.0 Ok\r\n");
	assert_false(f->o.close);
	takeover_dialogue_init(&f->d, VERDICT_LOCALHOST);
	assert_string_equal(feed(f, "BDAT many\r\n"), "554 5.5.1 Error: no valid recipients\r\n");
	assert_true(f->o.close);
}

static void test_pipelined_commands_are_answered_once_in_order(void **state)
{
	struct fixture *f = *state;

	assert_string_equal(feed(f, "RCPT TO:<a@x.example>\r\nRCPT TO:<b@x.example>\r\nDATA\r\n"),
	                    "550 5.7.1 a@x.example... Access denied - bogus HELO\r\n"
	                    "550 5.7.1 b@x.example... Access denied - bogus HELO\r\n"
	                    "554 5.5.1 Error: no valid recipients\r\n");
	assert_int_equal(f->o.rejected, 2);
}

static void test_command_split_across_feeds_and_bare_lf(void **state)
{
	struct fixture *f = *state;

	assert_string_equal(feed(f, "NO"), "");
	assert_string_equal(feed(f, "OP\r"), "");
	assert_string_equal(feed(f, "\nRSET\n"), "250 2.0.0 Ok\r\n250 2.0.0 Ok\r\n");
}

static void test_twenty_first_command_gets_421_and_close(void **state)
{
	struct fixture *f = *state;

	for (int i = 0; i < TAKEOVER_COMMANDS_MAX; i++)
		assert_string_equal(feed(f, "NOOP\r\n"), "250 2.0.0 Ok\r\n");
	assert_string_equal(feed(f, "NOOP\r\n"), "421 4.7.0 Error: too many commands\r\n");
	assert_true(f->o.close);
}

static void test_line_over_the_bound_gets_500_and_close(void **state)
{
	struct fixture *f = *state;
	char big[TAKEOVER_LINE_MAX + 10];

	memset(big, 'A', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_string_equal(feed(f, big), "500 5.5.2 Error: line too long\r\n");
	assert_true(f->o.close);
}

static void test_hostile_address_cannot_inject_a_second_line(void **state)
{
	struct fixture *f = *state;
	const uint8_t arg[] = "<a\rb\x01@x.example>";
	char out[TAKEOVER_REPLY_MAX];

	memset(&f->o, 0, sizeof(f->o));
	takeover_answer(&f->d, &f->s, SMTP_VERB_RCPT, arg, sizeof(arg) - 1, out, &f->o);
	out[f->o.len] = '\0';
	assert_string_equal(out, "550 5.7.1 a?b?@x.example... Access denied - bogus HELO\r\n");
}

static void test_feed_stops_when_the_output_is_full(void **state)
{
	struct fixture *f = *state;
	const char *text = "NOOP\r\nNOOP\r\n";
	char small[TAKEOVER_REPLY_MAX + 10];

	memset(&f->o, 0, sizeof(f->o));
	uint32_t used = takeover_feed(&f->d, &f->s, (const uint8_t *)text, (uint32_t)strlen(text),
	                              small, sizeof(small), &f->o);
	assert_int_equal(used, 6); /* one line answered, the other left for later */
	assert_int_equal(f->o.len, strlen("250 2.0.0 Ok\r\n"));
}

static void test_templates_are_checked(void **state)
{
	(void)state;
	char err[128];

	assert_int_equal(takeover_template_check("550 5.7.1 %a... go away (%h) 100%%", err, 128),
	                 0);
	assert_int_equal(takeover_template_check("250 fine", err, 128), -1);
	assert_int_equal(takeover_template_check("550 bad %x", err, 128), -1);
	assert_int_equal(takeover_template_check("550 bad\r\n", err, 128), -1);
	assert_int_equal(takeover_template_check("550", err, 128), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_rcpt_gets_the_seed_reply_without_angle_brackets,
	                                    setup, teardown),
	    cmocka_unit_test(test_server_ip_reply_names_the_helo_address),
	    cmocka_unit_test(test_matches_rcpt_reply),
	    cmocka_unit_test_setup_teardown(test_every_command_gets_its_postscreen_reply, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_null_sender_is_shown_as_empty_path, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_data_gets_554_and_the_session_stays_open, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_body_without_354_ends_the_session, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_refused_bdat_chunk_is_read_and_discarded, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_pipelined_commands_are_answered_once_in_order,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_command_split_across_feeds_and_bare_lf, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_twenty_first_command_gets_421_and_close, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_line_over_the_bound_gets_500_and_close, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_hostile_address_cannot_inject_a_second_line, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_feed_stops_when_the_output_is_full, setup,
	                                    teardown),
	    cmocka_unit_test(test_templates_are_checked),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
