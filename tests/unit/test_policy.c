/* policy: exemptions, actions, the server's announced name, building it
 * all or nothing. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "wire/addr.h"
#include "judge/policy.h"

#define DATA(name) HG_TEST_DATA_DIR "/" name

static const char *const local_names[] = {"lab-mail.net", "MX.Lab-Mail.NET."};

static void settings_default(struct policy_settings *s)
{
	memset(s, 0, sizeof(*s));
	s->banlist_path = DATA("check_seeds.banlist");
	s->patterns_path = DATA("banned-patterns.txt");
	s->allow_clients_path = DATA("allow_clients.txt");
	s->allow_helos_path = DATA("allow_helos.txt");
	s->local_names = local_names;
	s->n_local_names = 2;
	s->n_readers = 2;
}

static struct policy *build(const struct policy_settings *s)
{
	char err[512] = "";
	struct policy *p = policy_build(s, err, sizeof(err));

	if (p == NULL)
		fail_msg("policy_build: %s", err);
	return p;
}

static enum verdict_reason judge(const struct policy *p, const char *client, const char *helo)
{
	struct ip_addr addr;
	struct policy_input in = {.helo = helo, .helo_len = strlen(helo), .reader = 1};

	if (client != NULL) {
		assert_true(ip_addr_parse(client, strlen(client), &addr));
		in.client = &addr;
	}
	return policy_judge(p, &in);
}

static void test_exempt_client_is_never_judged(void **state)
{
	struct policy_settings s;
	(void)state;

	settings_default(&s);
	struct policy *p = build(&s);
	assert_int_equal(judge(p, "198.51.100.7", "localhost"), VERDICT_ALLOWED);
	assert_int_equal(judge(p, "203.0.113.9", "[203.0.113.9]"), VERDICT_ALLOWED);
	assert_int_equal(judge(p, "2001:db8:1::5", "not a name at all"), VERDICT_ALLOWED);
	assert_int_equal(judge(p, "198.51.100.8", "localhost"), VERDICT_LOCALHOST);
	assert_int_equal(judge(p, NULL, "localhost"), VERDICT_LOCALHOST);
	assert_true(
	    policy_client_allowed(p, &(struct ip_addr){.family = 4, .bytes = {198, 51, 100, 7}}));
	policy_free(p);
}

static void test_exempt_helo_and_its_subdomains_are_allowed(void **state)
{
	struct policy_settings s;
	(void)state;

	settings_default(&s);
	struct policy *p = build(&s);
	assert_int_equal(judge(p, "192.0.2.99", "za-smtp-delivery-132.mimecast.co.za"),
	                 VERDICT_ALLOWED);
	assert_int_equal(judge(p, "192.0.2.99", "rad.internal"), VERDICT_ALLOWED);
	assert_int_equal(judge(p, "192.0.2.99", "other.internal"), VERDICT_NOT_FQDN);
	/* the lists still apply to everybody else */
	assert_int_equal(judge(p, "192.0.2.99", "fakedomain.xyz"), VERDICT_BANNED);
	assert_int_equal(judge(p, "192.0.2.99", "MX.lab-mail.net"), VERDICT_MATCHES_RCPT);
	assert_int_equal(judge(p, "192.0.2.99", "lab-mail.net"), VERDICT_MATCHES_RCPT);
	assert_int_equal(judge(p, "192.0.2.99", "mail.example.org"), VERDICT_OK);
	policy_free(p);
}

static void test_patterns_work_from_every_reader(void **state)
{
	struct policy_settings s;
	struct policy_input in = {.helo = "dyn-1-2-3-4.example.com", .helo_len = 23};
	(void)state;

	settings_default(&s);
	struct policy *p = build(&s);
	for (in.reader = 0; in.reader < 3; in.reader++) /* 2: out of range, reader 0's */
		assert_int_equal(policy_judge(p, &in), VERDICT_BANNED);
	policy_free(p);
}

/* Judging a HELO once (policy_judge_memo) gives what judging it in full at
 * every RCPT gives, for every HELO, recipient, server name and client of a
 * mix that crosses every reason and the comparisons it skips: case, a
 * trailing dot, a subdomain that is not the domain, quoting. */
static void test_memo_judges_as_the_full_judgement_at_every_rcpt(void **state)
{
	static const char *const helos[] = {"mail.example.org",
	                                    "MAIL.Example.ORG.",
	                                    "example.org",
	                                    "lab-mail.net",
	                                    "localhost",
	                                    "[198.18.1.25]",
	                                    "198.18.7.7",
	                                    "server",
	                                    "rad.internal",
	                                    "fakedomain.xyz",
	                                    "dyn-1-2-3-4.example.com",
	                                    "mx.lab-mail.org",
	                                    "rad.internal.",
	                                    "a..b",
	                                    "",
	                                    " mail.example.org ",
	                                    "za-smtp-delivery-132.mimecast.co.za",
	                                    "co.za",
	                                    "x.co.za"};
	static const char *const rcpts[] = {"<bob@example.org>",
	                                    "<bob@EXAMPLE.org.>",
	                                    "<bob@mail.example.org>",
	                                    "<bob@sub.mail.example.org>",
	                                    "<\"a@b\"@server>",
	                                    "<bob@lab-mail.net>",
	                                    "<bob@x.co.za> SIZE=100",
	                                    "<bob@>",
	                                    "garbage",
	                                    "<bob@mx.lab-mail.org>",
	                                    "<bob@mail.example.org.>",
	                                    "<postmaster>"};
	static const char *const names[] = {NULL, "mx.lab-mail.org ESMTP", "MAIL.EXAMPLE.ORG",
	                                    "example.org Hello"};
	static const char *const clients[] = {NULL, "198.51.100.7", "192.0.2.99"};
	struct policy_settings st;
	(void)state;

	settings_default(&st);
	struct policy *p = build(&st);
	unsigned checked = 0, matched = 0;
	for (size_t c = 0; c < sizeof(clients) / sizeof(clients[0]); c++) {
		struct ip_addr client;
		if (clients[c] != NULL)
			assert_true(ip_addr_parse(clients[c], strlen(clients[c]), &client));
		for (size_t h = 0; h < sizeof(helos) / sizeof(helos[0]); h++) {
			struct policy_memo memo = {0};
			for (size_t n = 0; n < sizeof(names) / sizeof(names[0]); n++)
				for (size_t r = 0; r <= sizeof(rcpts) / sizeof(rcpts[0]); r++) {
					const char *rcpt =
					    r < sizeof(rcpts) / sizeof(rcpts[0]) ? rcpts[r] : NULL;
					struct policy_input in = {
					    .client = clients[c] != NULL ? &client : NULL,
					    .helo = helos[h],
					    .helo_len = strlen(helos[h]),
					    .rcpt = rcpt,
					    .rcpt_len = rcpt != NULL ? strlen(rcpt) : 0,
					    .server_name =
					        names[n] != NULL
					            ? policy_server_name((const uint8_t *)names[n],
					                                 strlen(names[n]))
					            : 0,
					    .reader = 0};
					enum verdict_reason full = policy_judge(p, &in);
					enum verdict_reason memo_reason =
					    policy_judge_memo(p, &in, &memo);
					if (full != memo_reason)
						fail_msg("client %s helo '%s' rcpt '%s' name '%s': "
						         "full %s, memo %s",
						         clients[c] ? clients[c] : "-", helos[h],
						         rcpt ? rcpt : "-",
						         names[n] ? names[n] : "-",
						         verdict_reason_name(full),
						         verdict_reason_name(memo_reason));
					checked++;
					matched += full == VERDICT_MATCHES_RCPT;
				}
		}
	}
	assert_true(checked > 2000);
	assert_true(matched > 50); /* the recipient and name comparisons were exercised */
	policy_free(p);
}

/* A memo made by one policy is not trusted by the next (a reload): the HELO
 * is judged again with the new lists. */
static void test_memo_is_judged_again_after_a_reload(void **state)
{
	struct policy_settings st;
	struct policy_memo memo = {0};
	struct policy_input in = {
	    .helo = "fakedomain.xyz", .helo_len = 14, .rcpt = "<a@b.org>", .rcpt_len = 9};
	(void)state;

	settings_default(&st);
	struct policy *banned = build(&st);
	st.banlist_path = NULL;
	struct policy *reloaded = build(&st);
	assert_int_equal(policy_judge_memo(banned, &in, &memo), VERDICT_BANNED);
	assert_int_equal(policy_judge_memo(banned, &in, &memo), VERDICT_BANNED);
	assert_int_equal(policy_judge_memo(reloaded, &in, &memo), VERDICT_OK);
	assert_int_equal(policy_judge_memo(reloaded, &in, &memo), VERDICT_OK);
	assert_int_equal(policy_judge_memo(NULL, &in, &memo), VERDICT_OK);
	policy_free(banned);
	policy_free(reloaded);
}

static void test_server_name_from_greeting_and_ehlo_reply(void **state)
{
	struct policy_settings s;
	struct policy_input in = {.helo = "mx.lab-mail.org", .helo_len = 15};
	static const char greeting[] = "mx.lab-mail.org ESMTP Postfix (Debian/GNU)";
	(void)state;

	settings_default(&s);
	struct policy *p = build(&s);
	in.server_name = policy_server_name((const uint8_t *)greeting, strlen(greeting));
	assert_int_not_equal(in.server_name, 0);
	assert_int_equal(policy_judge(p, &in), VERDICT_MATCHES_RCPT);
	in.server_name = policy_server_name((const uint8_t *)"MX.LAB-MAIL.ORG", 15);
	assert_int_equal(policy_judge(p, &in), VERDICT_MATCHES_RCPT);
	in.server_name = policy_server_name((const uint8_t *)"mx2.lab-mail.org Hello", 22);
	assert_int_equal(policy_judge(p, &in), VERDICT_OK);
	assert_int_equal(policy_server_name((const uint8_t *)"[192.0.2.25] ESMTP", 18), 0);
	assert_int_equal(policy_server_name((const uint8_t *)"", 0), 0);
	assert_int_equal(policy_server_name((const uint8_t *)" mx.example.com", 15), 0);
	assert_int_equal(policy_server_name(NULL, 4), 0);
	assert_int_not_equal(policy_server_name((const uint8_t *)"mx.example.com\r\n", 16), 0);
	policy_free(p);
}

static void test_actions_per_reason_default_to_enforce(void **state)
{
	struct policy_settings s;
	char line[1024];
	(void)state;

	settings_default(&s);
	s.actions[VERDICT_NOT_FQDN] = POLICY_DETECT;
	s.actions[VERDICT_BANNED] = POLICY_OFF;
	struct policy *p = build(&s);
	assert_int_equal(policy_action(p, VERDICT_NOT_FQDN), POLICY_DETECT);
	assert_int_equal(policy_action(p, VERDICT_BANNED), POLICY_OFF);
	assert_int_equal(policy_action(p, VERDICT_LOCALHOST), POLICY_ENFORCE);
	assert_int_equal(policy_action(p, VERDICT_OK), POLICY_OFF);
	assert_int_equal(policy_action(p, VERDICT_ALLOWED), POLICY_OFF);
	assert_int_equal(policy_action(p, VERDICT_COUNT), POLICY_OFF);
	assert_int_equal(policy_action(NULL, VERDICT_LOCALHOST), POLICY_OFF);
	policy_describe(p, line, sizeof(line));
	if (strstr(line, "5 allowed clients, 2 allowed names, 2 local names") == NULL ||
	    strstr(line, "actions: banned=off,not-fqdn=detect") == NULL ||
	    strstr(line, " rules)") == NULL)
		fail_msg("describe: %s", line);
	policy_free(p);
}

static void test_a_bad_file_builds_nothing_and_names_its_line(void **state)
{
	struct policy_settings s;
	char err[512] = "";
	(void)state;

	settings_default(&s);
	s.allow_clients_path = DATA("allow_clients_bad.txt");
	assert_null(policy_build(&s, err, sizeof(err)));
	assert_string_equal(err,
	                    DATA("allow_clients_bad.txt") ":3: bits set past the prefix length");
	settings_default(&s);
	s.allow_helos_path = DATA("allow_helos_bad.txt");
	assert_null(policy_build(&s, err, sizeof(err)));
	assert_string_equal(err, DATA("allow_helos_bad.txt") ":2: invalid name 'bad..name'");
	settings_default(&s);
	s.psl_path = DATA("psl_bad_rule.dat");
	assert_null(policy_build(&s, err, sizeof(err)));
	assert_non_null(strstr(err, "psl_bad_rule.dat:"));
	settings_default(&s);
	static const char *const bad_local[] = {"lab-mail.net", "[192.0.2.1]"};
	s.local_names = bad_local;
	assert_null(policy_build(&s, err, sizeof(err)));
	assert_string_equal(err, "local name '[192.0.2.1]': not a domain name");
}

static void test_action_names_round_trip(void **state)
{
	enum policy_action a;
	(void)state;

	for (int i = 0; i < POLICY_ACTION_COUNT; i++) {
		assert_true(policy_action_from_name(policy_action_name((enum policy_action)i), &a));
		assert_int_equal(a, i);
	}
	assert_false(policy_action_from_name("Enforce", &a));
	assert_false(policy_action_from_name(NULL, &a));
	assert_string_equal(policy_action_name(POLICY_ACTION_COUNT), "unknown");
}

static void test_null_policy_judges_everything_ok(void **state)
{
	(void)state;
	assert_int_equal(judge(NULL, "192.0.2.1", "localhost"), VERDICT_OK);
	policy_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_exempt_client_is_never_judged),
	    cmocka_unit_test(test_exempt_helo_and_its_subdomains_are_allowed),
	    cmocka_unit_test(test_patterns_work_from_every_reader),
	    cmocka_unit_test(test_server_name_from_greeting_and_ehlo_reply),
	    cmocka_unit_test(test_memo_judges_as_the_full_judgement_at_every_rcpt),
	    cmocka_unit_test(test_memo_is_judged_again_after_a_reload),
	    cmocka_unit_test(test_actions_per_reason_default_to_enforce),
	    cmocka_unit_test(test_a_bad_file_builds_nothing_and_names_its_line),
	    cmocka_unit_test(test_action_names_round_trip),
	    cmocka_unit_test(test_null_policy_judges_everything_ok),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
