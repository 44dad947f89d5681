/* verdict: every reason, every precedence rule, and every seed example. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "wire/addr.h"
#include "judge/banlist.h"
#include "judge/suffix.h"
#include "judge/verdict.h"

#define DATA(name) HG_TEST_DATA_DIR "/" name

struct fixture {
	struct suffix_list *suffixes;
	struct banlist *banlist;
	struct ip_addr server_ips[3];
	struct verdict_context ctx;
};

/* The seed pages' receiving side: Infomaniak's mta-gw1.infomaniak.ch with
 * documentation addresses (RFC 5737, RFC 3849) standing in for its own. */
static const char *const banned_names[] = {
    "fakedomain.xyz",        /* seed: "a list of banned HELOs" */
    "bogus.lan",             /* banned, and not-fqdn too */
    "localhost.localdomain", /* banned, and localhost too */
    "spammer.example.net",
};

static const char *const local_domains[] = {"exampleisp.net", "intranet"};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char err[512] = "";

	assert_non_null(f);
	/* The real list: these rules are what production judges with. */
	f->suffixes = suffix_list_load(NULL, err, sizeof(err));
	if (f->suffixes == NULL)
		fail_msg("suffix list: %s", err);
	f->banlist = banlist_build(banned_names, sizeof(banned_names) / sizeof(banned_names[0]),
	                           err, sizeof(err));
	if (f->banlist == NULL)
		fail_msg("banlist: %s", err);
	assert_true(ip_addr_parse("192.0.2.25", 10, &f->server_ips[0]));
	assert_true(ip_addr_parse("2001:db8::25", 12, &f->server_ips[1]));
	assert_true(ip_addr_parse("::ffff:198.51.100.7", 19, &f->server_ips[2]));
	f->ctx.server_ips = f->server_ips;
	f->ctx.n_server_ips = 3;
	f->ctx.rcpt = "<user123@infomaniak.ch>";
	f->ctx.rcpt_len = strlen(f->ctx.rcpt);
	f->ctx.local_domains = local_domains;
	f->ctx.n_local_domains = sizeof(local_domains) / sizeof(local_domains[0]);
	f->ctx.banlist = f->banlist;
	f->ctx.suffixes = f->suffixes;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	banlist_free(f->banlist);
	suffix_list_free(f->suffixes);
	free(f);
	return 0;
}

/* Judge from a heap copy of exactly len bytes, so AddressSanitizer catches
 * any read past the end. */
static enum verdict_reason judge_exact(const char *helo, size_t len,
                                       const struct verdict_context *ctx)
{
	char *copy = malloc(len > 0 ? len : 1);
	enum verdict_reason r;

	assert_non_null(copy);
	memcpy(copy, helo, len);
	r = verdict_judge_helo(copy, len, ctx);
	free(copy);
	return r;
}

static void expect_reason(const struct verdict_context *ctx, const char *helo,
                          enum verdict_reason want)
{
	enum verdict_reason got = judge_exact(helo, strlen(helo), ctx);

	if (got != want)
		fail_msg("HELO '%s': got %s, expected %s", helo, verdict_reason_name(got),
		         verdict_reason_name(want));
}

struct helo_case {
	const char *helo;
	enum verdict_reason reason;
};

static void expect_table(const struct verdict_context *ctx, const struct helo_case *cases, size_t n)
{
	for (size_t i = 0; i < n; i++)
		expect_reason(ctx, cases[i].helo, cases[i].reason);
}

#define EXPECT_TABLE(ctx, cases) expect_table((ctx), (cases), sizeof(cases) / sizeof((cases)[0]))

static void test_seed_examples_get_the_seed_verdicts(void **state)
{
	struct fixture *f = *state;
	static const struct helo_case cases[] = {
	    {"127.0.0.1", VERDICT_IP_LITERAL},
	    {"[127.0.0.1]", VERDICT_IP_LITERAL},
	    {"[192.168.1.1]", VERDICT_IP_LITERAL},
	    {"localhost", VERDICT_LOCALHOST},
	    {"www", VERDICT_NOT_FQDN},
	    {"mon-serveur", VERDICT_NOT_FQDN},
	    {"server", VERDICT_NOT_FQDN},
	    {"servidor", VERDICT_NOT_FQDN},
	    {"rad.internal", VERDICT_NOT_FQDN},
	    {"fakedomain.xyz", VERDICT_BANNED},
	    {"192.0.2.25", VERDICT_SERVER_IP},
	    {"[192.0.2.25]", VERDICT_SERVER_IP},
	    {"infomaniak.ch", VERDICT_MATCHES_RCPT},
	    {"smtp.exampledomain.com", VERDICT_OK},
	    {"mail.exampledomain.com", VERDICT_OK},
	    {"server.domain.xyz", VERDICT_OK},
	    {"serveur.domain.xyz", VERDICT_OK},
	    {"mta-gw1.infomaniak.ch", VERDICT_OK},
	    {"mta-gw.infomaniak.ch", VERDICT_OK},
	};

	EXPECT_TABLE(&f->ctx, cases);
}

static void test_invalid_syntax_is_invalid(void **state)
{
	struct fixture *f = *state;
	static const struct helo_case cases[] = {
	    {"", VERDICT_INVALID},
	    {"   ", VERDICT_INVALID},
	    {"mail example.com", VERDICT_INVALID},
	    {"mail/example.com", VERDICT_INVALID},
	    {"a..example.com", VERDICT_INVALID},
	    {".example.com", VERDICT_INVALID},
	    {"-mail.example.com", VERDICT_INVALID},
	    {"mail-.example.com", VERDICT_INVALID},
	    {"[1.2.3]", VERDICT_INVALID},
	    {"[IPv6:zzz]", VERDICT_INVALID},
	    {"[foo]", VERDICT_INVALID},
	    {"[1.2.3.4", VERDICT_INVALID},
	    {"1.2.3.4]", VERDICT_INVALID},
	    {"[IPv6:192.0.2.25]", VERDICT_INVALID},
	    {"1.2.3", VERDICT_INVALID},
	    {"256.0.0.1", VERDICT_INVALID},
	    {"fe80::1%eth0", VERDICT_INVALID},
	    {"caf\xc3\xa9.example.com", VERDICT_INVALID},
	    {"mail.example.com\x80", VERDICT_INVALID},
	};

	EXPECT_TABLE(&f->ctx, cases);
}

static void test_underscore_is_accepted_as_postfix_does(void **state)
{
	struct fixture *f = *state;

	expect_reason(&f->ctx, "my_pc.example.com", VERDICT_OK);
	expect_reason(&f->ctx, "MY_PC", VERDICT_NOT_FQDN);
}

static void test_nul_and_8bit_bytes_are_invalid(void **state)
{
	struct fixture *f = *state;
	(void)state;

	assert_int_equal(judge_exact("mail.example.com\0", 17, &f->ctx), VERDICT_INVALID);
	assert_int_equal(judge_exact("mail\0.example.com", 17, &f->ctx), VERDICT_INVALID);
	assert_int_equal(judge_exact("\0", 1, &f->ctx), VERDICT_INVALID);
	assert_int_equal(judge_exact("192.0.2.25\0", 11, &f->ctx), VERDICT_INVALID);
	assert_int_equal(judge_exact("\xff", 1, &f->ctx), VERDICT_INVALID);
	assert_int_equal(judge_exact("fakedomain.xyz\xa0", 15, &f->ctx), VERDICT_INVALID);
}

static void test_server_addresses_in_every_form_are_server_ip(void **state)
{
	struct fixture *f = *state;
	static const struct helo_case cases[] = {
	    {"192.0.2.25", VERDICT_SERVER_IP},
	    {"192.0.2.25.", VERDICT_SERVER_IP},
	    {"[192.0.2.25]", VERDICT_SERVER_IP},
	    {"192.000.002.025", VERDICT_SERVER_IP},
	    {"2001:db8::25", VERDICT_SERVER_IP},
	    {"2001:DB8:0:0:0:0:0:25", VERDICT_SERVER_IP},
	    {"2001:0db8:0000:0000:0000:0000:0000:0025", VERDICT_SERVER_IP},
	    {"[IPv6:2001:db8::25]", VERDICT_SERVER_IP},
	    {"[ipv6:2001:DB8::0:25]", VERDICT_SERVER_IP},
	    {"[IPv6:2001:db8::0.0.0.37]", VERDICT_SERVER_IP},
	    {"[2001:db8::25]", VERDICT_SERVER_IP},
	    /* IPv4-mapped IPv6 equals the IPv4 address, both ways round. */
	    {"[IPv6:::ffff:192.0.2.25]", VERDICT_SERVER_IP},
	    {"::ffff:c000:219", VERDICT_SERVER_IP},
	    {"198.51.100.7", VERDICT_SERVER_IP},
	    {"[198.51.100.7]", VERDICT_SERVER_IP},
	    {"[IPv6:::FFFF:198.51.100.7]", VERDICT_SERVER_IP},
	};

	EXPECT_TABLE(&f->ctx, cases);
}

static void test_other_addresses_are_ip_literal(void **state)
{
	struct fixture *f = *state;
	static const struct helo_case cases[] = {
	    {"192.0.2.26", VERDICT_IP_LITERAL},
	    {"[192.0.2.26]", VERDICT_IP_LITERAL},
	    {"0.0.0.0", VERDICT_IP_LITERAL},
	    {"2001:db8::1", VERDICT_IP_LITERAL},
	    {"[IPv6:2001:db8::1]", VERDICT_IP_LITERAL},
	    {"::1", VERDICT_IP_LITERAL},
	    {"[IPv6:::1]", VERDICT_IP_LITERAL},
	    {"::ffff:127.0.0.1", VERDICT_IP_LITERAL},
	    /* The deprecated IPv4-compatible form is not the IPv4 address. */
	    {"[IPv6:::192.0.2.25]", VERDICT_IP_LITERAL},
	    {"64:ff9b::192.0.2.25", VERDICT_IP_LITERAL},
	};

	EXPECT_TABLE(&f->ctx, cases);
}

static void test_loopback_names_are_localhost(void **state)
{
	struct fixture *f = *state;
	static const struct helo_case cases[] = {
	    {"localhost", VERDICT_LOCALHOST},
	    {"localhost.", VERDICT_LOCALHOST},
	    {"LOCALHOST", VERDICT_LOCALHOST},
	    {"LocalHost.LocalDomain.", VERDICT_LOCALHOST},
	    {"localhost4", VERDICT_LOCALHOST},
	    {"localhost6", VERDICT_LOCALHOST},
	    {"localhost4.localdomain4", VERDICT_LOCALHOST},
	    {"localhost6.localdomain6", VERDICT_LOCALHOST},
	    {"ip6-localhost", VERDICT_LOCALHOST},
	    {"ip6-loopback", VERDICT_LOCALHOST},
	    /* RFC 6761 6.3: the whole reserved TLD. */
	    {"foo.localhost", VERDICT_LOCALHOST},
	    {"a.b.localhost.", VERDICT_LOCALHOST},
	    /* Not loopback names. */
	    {"mylocalhost", VERDICT_NOT_FQDN},
	    {"localhost.example.com", VERDICT_OK},
	    {"foo-localhost.com", VERDICT_OK},
	    {"localhost4.localdomain", VERDICT_NOT_FQDN},
	};

	EXPECT_TABLE(&f->ctx, cases);
}

static void test_banned_names_and_their_subdomains_are_banned(void **state)
{
	struct fixture *f = *state;
	static const struct helo_case cases[] = {
	    {"fakedomain.xyz", VERDICT_BANNED},         {"FakeDomain.XYZ.", VERDICT_BANNED},
	    {"mx.fakedomain.xyz", VERDICT_BANNED},      {"a.b.c.fakedomain.xyz", VERDICT_BANNED},
	    {"spammer.example.net", VERDICT_BANNED},    {"notfakedomain.xyz", VERDICT_OK},
	    {"fakedomain.xyz.example.com", VERDICT_OK}, {"example.net", VERDICT_OK},
	};

	EXPECT_TABLE(&f->ctx, cases);
}

static void test_rcpt_domain_and_local_domains_match_rcpt(void **state)
{
	struct fixture *f = *state;
	static const struct helo_case cases[] = {
	    {"infomaniak.ch", VERDICT_MATCHES_RCPT},
	    {"INFOMANIAK.CH.", VERDICT_MATCHES_RCPT},
	    {"exampleisp.net", VERDICT_MATCHES_RCPT},
	    {"ExampleISP.Net", VERDICT_MATCHES_RCPT},
	    /* Equality only: a host of the domain is not the domain. */
	    {"mail.exampleisp.net", VERDICT_OK},
	    {"ch", VERDICT_NOT_FQDN},
	};

	EXPECT_TABLE(&f->ctx, cases);
}

static void test_rcpt_forms_all_yield_their_domain(void **state)
{
	struct fixture *f = *state;
	static const struct {
		const char *rcpt, *helo;
		enum verdict_reason reason;
	} cases[] = {
	    {"<bob@example.com>", "example.com", VERDICT_MATCHES_RCPT},
	    {" <bob@example.com>", "example.com", VERDICT_MATCHES_RCPT},
	    {"<bob@Example.COM.>", "example.com", VERDICT_MATCHES_RCPT},
	    {"<@relay.example.org:bob@example.com>", "example.com", VERDICT_MATCHES_RCPT},
	    {"<@relay.example.org:bob@example.com>", "relay.example.org", VERDICT_OK},
	    {"<\"bob@relay.example.org\"@example.com>", "example.com", VERDICT_MATCHES_RCPT},
	    {"<\"bob@relay.example.org\"@example.com>", "relay.example.org", VERDICT_OK},
	    {"<bob@example.com> NOTIFY=NEVER", "example.com", VERDICT_MATCHES_RCPT},
	    {"<bob@example.com> ORCPT=rfc822;x@other.example.org", "other.example.org", VERDICT_OK},
	    {"bob@example.com", "example.com", VERDICT_MATCHES_RCPT},
	    {"<Postmaster>", "postmaster", VERDICT_NOT_FQDN},
	    {"<Postmaster>", "example.com", VERDICT_OK},
	    {"<bob@[192.0.2.1]>", "[192.0.2.1]", VERDICT_IP_LITERAL},
	    {"<bob@example.com", "example.com", VERDICT_OK},
	    {"", "example.com", VERDICT_OK},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct verdict_context ctx = f->ctx;

		ctx.rcpt = cases[i].rcpt;
		ctx.rcpt_len = strlen(cases[i].rcpt);
		expect_reason(&ctx, cases[i].helo, cases[i].reason);
	}
}

static void test_rcpt_length_bounds_the_rcpt_text(void **state)
{
	struct fixture *f = *state;
	struct verdict_context ctx = f->ctx;

	ctx.rcpt = "<bob@example.com>XYZ";
	ctx.rcpt_len = 17;
	expect_reason(&ctx, "example.com", VERDICT_MATCHES_RCPT);
	ctx.rcpt = "bob@example.com.org";
	ctx.rcpt_len = 15;
	expect_reason(&ctx, "example.com", VERDICT_MATCHES_RCPT);
	ctx.rcpt = NULL;
	ctx.rcpt_len = 15;
	expect_reason(&ctx, "example.com", VERDICT_OK);
}

static void test_names_outside_real_public_suffixes_are_not_fqdn(void **state)
{
	struct fixture *f = *state;
	static const struct helo_case cases[] = {
	    {"www", VERDICT_NOT_FQDN},
	    {"server", VERDICT_NOT_FQDN},
	    {"rad.internal", VERDICT_NOT_FQDN},
	    {"host.local", VERDICT_NOT_FQDN},
	    {"pc.lan", VERDICT_NOT_FQDN},
	    {"mail.example", VERDICT_NOT_FQDN},
	    {"host.localdomain", VERDICT_NOT_FQDN},
	    {"com", VERDICT_NOT_FQDN},
	    {"com.", VERDICT_NOT_FQDN},
	    {"co.uk", VERDICT_NOT_FQDN},
	    {"foo.ck", VERDICT_NOT_FQDN},
	    {"example.co.uk", VERDICT_OK},
	    {"www.ck", VERDICT_OK},
	    {"user.github.io", VERDICT_OK},
	    {"Mail.ExampleDomain.COM.", VERDICT_OK},
	    /* issue 10: real senders, wrongly not-fqdn before */
	    {"za-smtp-delivery-132.mimecast.co.za", VERDICT_OK},
	    {"pta-smg2.csir.co.za", VERDICT_OK},
	    {"spe11-1.ucebox.co.za", VERDICT_OK},
	    {"ec2-44-216-146-164.compute-1.amazonaws.com", VERDICT_OK},
	    {"rigel.uberspace.de", VERDICT_OK},
	    {"github.io", VERDICT_OK},
	};

	EXPECT_TABLE(&f->ctx, cases);
}

/* issue 10: names under special-use domains are never a sender's global
 * identity (design.md cites the source of each). */
static void test_special_use_names_are_not_fqdn(void **state)
{
	struct fixture *f = *state;
	static const struct helo_case cases[] = {
	    {"router.home.arpa", VERDICT_NOT_FQDN},
	    {"home.arpa", VERDICT_NOT_FQDN},
	    {"mail.onion", VERDICT_NOT_FQDN},
	    {"expyuzz4wqqyqhjn.onion", VERDICT_NOT_FQDN},
	    {"4.3.2.1.in-addr.arpa", VERDICT_NOT_FQDN},
	    {"1.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa", VERDICT_NOT_FQDN},
	    {"ipv4only.arpa", VERDICT_NOT_FQDN},
	    {"printer.local", VERDICT_NOT_FQDN},
	    {"mail.test", VERDICT_NOT_FQDN},
	    {"mx.invalid", VERDICT_NOT_FQDN},
	    {"gw.alt", VERDICT_NOT_FQDN},
	    {"mail.example", VERDICT_NOT_FQDN},
	    {"rad.internal", VERDICT_NOT_FQDN},
	    {"MX.Corp.", VERDICT_NOT_FQDN},
	    {"nas.home", VERDICT_NOT_FQDN},
	    {"pc.lan", VERDICT_NOT_FQDN},
	    {"dc1.intranet", VERDICT_NOT_FQDN},
	    {"box.private", VERDICT_NOT_FQDN},
	    {"host.localdomain", VERDICT_NOT_FQDN},
	    {"mx.localhost", VERDICT_LOCALHOST},
	    /* Registered domains, real DNS: RFC 6761 6.5 asks software not to
	     * treat them specially. */
	    {"mail.example.com", VERDICT_OK},
	    {"example.org", VERDICT_OK},
	    {"example.net", VERDICT_OK},
	    /* Only whole labels: these are ordinary names. */
	    {"mail.notlocal.com", VERDICT_OK},
	    {"arpa.example.com", VERDICT_OK},
	    {"mail.homearpa.net", VERDICT_OK},
	};

	EXPECT_TABLE(&f->ctx, cases);
	assert_true(verdict_is_special_use("onion", 5));
	assert_false(verdict_is_special_use("xonion", 6));
}

static void test_allowed_names_and_their_subdomains_are_allowed(void **state)
{
	struct fixture *f = *state;
	static const char *const allowed[] = {"mimecast.co.za", "pc.lan", "localhost.localdomain",
	                                      "fakedomain.xyz"};
	struct verdict_context ctx = f->ctx;
	char err[256];
	struct banlist *list = banlist_build(allowed, 4, err, sizeof(err));

	assert_non_null(list);
	ctx.allowed_names = list;
	expect_reason(&ctx, "za-smtp-delivery-132.mimecast.co.za", VERDICT_ALLOWED);
	expect_reason(&ctx, "PC.LAN.", VERDICT_ALLOWED);
	/* the exemption beats every name rule: banned, localhost, not-fqdn */
	expect_reason(&ctx, "fakedomain.xyz", VERDICT_ALLOWED);
	expect_reason(&ctx, "localhost.localdomain", VERDICT_ALLOWED);
	/* not addresses or bad syntax, which no name can match */
	expect_reason(&ctx, "[192.0.2.25]", VERDICT_SERVER_IP);
	expect_reason(&ctx, "pc..lan", VERDICT_INVALID);
	expect_reason(&ctx, "other.lan", VERDICT_NOT_FQDN);
	expect_reason(&ctx, "notmimecast.co.za", VERDICT_OK);
	banlist_free(list);
}

/* The name the server announced in its 220 greeting or EHLO reply:
 * "Hello, I'm you" by name (seeds 003/004, "bogus helo matches rcpt"). */
static void test_server_announced_name_matches_rcpt(void **state)
{
	struct fixture *f = *state;
	struct verdict_context ctx = f->ctx;
	struct ip_addr server;

	ctx.server_name_hash = verdict_name_hash("mta-gw1.infomaniak.ch", 21);
	expect_reason(&ctx, "mta-gw1.infomaniak.ch", VERDICT_MATCHES_RCPT);
	expect_reason(&ctx, "MTA-GW1.Infomaniak.CH.", VERDICT_MATCHES_RCPT);
	expect_reason(&ctx, "mta-gw2.infomaniak.ch", VERDICT_OK);
	expect_reason(&ctx, "gw1.infomaniak.ch", VERDICT_OK);
	ctx.server_name_hash = 0;
	expect_reason(&ctx, "mta-gw1.infomaniak.ch", VERDICT_OK);
	assert_int_not_equal(verdict_name_hash("", 0), 0);
	/* the session's own server address, beside the configured ones */
	assert_true(ip_addr_parse("203.0.113.9", 11, &server));
	ctx.server_ip = &server;
	expect_reason(&ctx, "[203.0.113.9]", VERDICT_SERVER_IP);
	expect_reason(&ctx, "[192.0.2.25]", VERDICT_SERVER_IP);
	expect_reason(&ctx, "[203.0.113.10]", VERDICT_IP_LITERAL);
}

/* Precedence, one rule pair per test: the first reason in the list wins. */

static void test_invalid_beats_every_other_reason(void **state)
{
	struct fixture *f = *state;

	expect_reason(&f->ctx, "[192.0.2.25", VERDICT_INVALID);
	expect_reason(&f->ctx, "fakedomain.xyz..", VERDICT_INVALID);
	expect_reason(&f->ctx, "local host", VERDICT_INVALID);
}

static void test_server_ip_beats_ip_literal(void **state)
{
	struct fixture *f = *state;
	struct verdict_context no_servers = f->ctx;

	no_servers.n_server_ips = 0;
	expect_reason(&f->ctx, "[192.0.2.25]", VERDICT_SERVER_IP);
	expect_reason(&no_servers, "[192.0.2.25]", VERDICT_IP_LITERAL);
}

static void test_ip_literal_beats_localhost(void **state)
{
	struct fixture *f = *state;

	expect_reason(&f->ctx, "[127.0.0.1]", VERDICT_IP_LITERAL);
	expect_reason(&f->ctx, "::1", VERDICT_IP_LITERAL);
}

static void test_localhost_beats_banned(void **state)
{
	struct fixture *f = *state;

	/* localhost.localdomain is on the banned list too. */
	expect_reason(&f->ctx, "localhost.localdomain", VERDICT_LOCALHOST);
}

static void test_banned_beats_matches_rcpt(void **state)
{
	struct fixture *f = *state;
	struct verdict_context ctx = f->ctx;

	ctx.rcpt = "<bob@fakedomain.xyz>";
	ctx.rcpt_len = strlen(ctx.rcpt);
	expect_reason(&ctx, "fakedomain.xyz", VERDICT_BANNED);
}

static void test_banned_beats_not_fqdn(void **state)
{
	struct fixture *f = *state;

	expect_reason(&f->ctx, "bogus.lan", VERDICT_BANNED);
	expect_reason(&f->ctx, "other.lan", VERDICT_NOT_FQDN);
}

static void test_localhost_beats_matches_rcpt(void **state)
{
	struct fixture *f = *state;
	struct verdict_context ctx = f->ctx;

	ctx.rcpt = "<root@localhost>";
	ctx.rcpt_len = strlen(ctx.rcpt);
	expect_reason(&ctx, "localhost", VERDICT_LOCALHOST);
}

static void test_matches_rcpt_beats_not_fqdn(void **state)
{
	struct fixture *f = *state;
	struct verdict_context ctx = f->ctx;

	ctx.rcpt = "<bob@mailhub>";
	ctx.rcpt_len = strlen(ctx.rcpt);
	expect_reason(&ctx, "mailhub", VERDICT_MATCHES_RCPT);
	expect_reason(&ctx, "MailHub.", VERDICT_MATCHES_RCPT);
	/* "intranet" is a configured local domain. */
	expect_reason(&f->ctx, "intranet", VERDICT_MATCHES_RCPT);
}

struct pattern_probe {
	char seen[300];
	int calls;
};

static bool ban_dynamic(void *arg, const char *name, size_t len)
{
	struct pattern_probe *probe = arg;

	probe->calls++;
	assert_true(len < sizeof(probe->seen));
	memcpy(probe->seen, name, len);
	probe->seen[len] = '\0';
	return strstr(probe->seen, ".dynamic.") != NULL;
}

static void test_banned_pattern_gets_the_normalized_name(void **state)
{
	struct fixture *f = *state;
	struct verdict_context ctx = f->ctx;
	struct pattern_probe probe = {0};

	ctx.banned_pattern = ban_dynamic;
	ctx.banned_pattern_arg = &probe;
	expect_reason(&ctx, " Host-1-2-3-4.Dynamic.Example.COM. ", VERDICT_BANNED);
	assert_string_equal(probe.seen, "host-1-2-3-4.dynamic.example.com");
	expect_reason(&ctx, "mail.example.com", VERDICT_OK);
	assert_int_equal(probe.calls, 2);
	/* Earlier reasons never reach the pattern. */
	expect_reason(&ctx, "localhost", VERDICT_LOCALHOST);
	expect_reason(&ctx, "[192.0.2.1]", VERDICT_IP_LITERAL);
	expect_reason(&ctx, "fakedomain.xyz", VERDICT_BANNED);
	assert_int_equal(probe.calls, 2);
}

static void test_banned_pattern_beats_matches_rcpt_and_not_fqdn(void **state)
{
	struct fixture *f = *state;
	struct verdict_context ctx = f->ctx;
	struct pattern_probe probe = {0};

	ctx.banned_pattern = ban_dynamic;
	ctx.banned_pattern_arg = &probe;
	ctx.rcpt = "<bob@x.dynamic.example.com>";
	ctx.rcpt_len = strlen(ctx.rcpt);
	expect_reason(&ctx, "x.dynamic.example.com", VERDICT_BANNED);
	expect_reason(&ctx, "pc.dynamic.lan", VERDICT_BANNED);
}

static void test_one_trailing_dot_is_ignored_and_two_are_invalid(void **state)
{
	struct fixture *f = *state;
	static const struct helo_case cases[] = {
	    {"mail.exampledomain.com.", VERDICT_OK},
	    {"mail.exampledomain.com..", VERDICT_INVALID},
	    {"fakedomain.xyz.", VERDICT_BANNED},
	    {"localhost.", VERDICT_LOCALHOST},
	    {"localhost..", VERDICT_INVALID},
	    {"infomaniak.ch.", VERDICT_MATCHES_RCPT},
	    {"www.", VERDICT_NOT_FQDN},
	    {"127.0.0.1.", VERDICT_IP_LITERAL},
	    {".", VERDICT_INVALID},
	};

	EXPECT_TABLE(&f->ctx, cases);
}

static void test_surrounding_blanks_are_trimmed(void **state)
{
	struct fixture *f = *state;
	static const struct helo_case cases[] = {
	    {"  mail.exampledomain.com \t", VERDICT_OK},
	    {"\t127.0.0.1", VERDICT_IP_LITERAL},
	    {" localhost ", VERDICT_LOCALHOST},
	    {" [192.0.2.25] ", VERDICT_SERVER_IP},
	};

	EXPECT_TABLE(&f->ctx, cases);
}

/* 50-octet labels of 'a', then suffix, total octets in all. */
static void make_name(char *buf, size_t total, const char *suffix)
{
	size_t slen = strlen(suffix);

	for (size_t j = 0; j < total - slen; j++)
		buf[j] = j % 51 == 50 ? '.' : 'a';
	assert_true(buf[total - slen - 1] != '.');
	memcpy(buf + total - slen, suffix, slen + 1);
}

static void test_names_up_to_253_octets_are_judged_whole(void **state)
{
	struct fixture *f = *state;
	char name[300];

	make_name(name, 253, ".exampledomain.com");
	expect_reason(&f->ctx, name, VERDICT_OK);
	make_name(name, 253, ".fakedomain.xyz");
	expect_reason(&f->ctx, name, VERDICT_BANNED);
	make_name(name, 253, ".rad.internal");
	expect_reason(&f->ctx, name, VERDICT_NOT_FQDN);
	make_name(name, 253, ".foo.localhost");
	expect_reason(&f->ctx, name, VERDICT_LOCALHOST);
	/* The root dot does not count: 253 octets and a dot are fine. */
	make_name(name, 254, ".exampledomain.com.");
	expect_reason(&f->ctx, name, VERDICT_OK);
	make_name(name, 254, ".fakedomain.xyz.");
	expect_reason(&f->ctx, name, VERDICT_BANNED);
	make_name(name, 255, ".exampledomain.com.");
	expect_reason(&f->ctx, name, VERDICT_INVALID);
	make_name(name, 254, ".exampledomain.com");
	expect_reason(&f->ctx, name, VERDICT_INVALID);
	make_name(name, 254, ".fakedomain.xyz");
	expect_reason(&f->ctx, name, VERDICT_INVALID);
}

static void test_labels_of_63_octets_are_valid_and_64_are_not(void **state)
{
	struct fixture *f = *state;
	char name[100];

	memset(name, 'a', 63);
	strcpy(name + 63, ".fakedomain.xyz");
	expect_reason(&f->ctx, name, VERDICT_BANNED);
	memset(name, 'a', 64);
	strcpy(name + 64, ".fakedomain.xyz");
	expect_reason(&f->ctx, name, VERDICT_INVALID);
}

static void test_very_long_argument_is_invalid(void **state)
{
	struct fixture *f = *state;
	size_t len = 1 << 20;
	char *text = malloc(len);

	assert_non_null(text);
	for (size_t i = 0; i < len; i++)
		text[i] = i % 10 == 9 ? '.' : 'a';
	assert_int_equal(judge_exact(text, len, &f->ctx), VERDICT_INVALID);
	free(text);
}

static void test_empty_context_judges_syntax_and_single_labels(void **state)
{
	static const struct helo_case cases[] = {
	    {"[1.2.3]", VERDICT_INVALID},
	    {"192.0.2.25", VERDICT_IP_LITERAL},
	    {"localhost", VERDICT_LOCALHOST},
	    {"fakedomain.xyz", VERDICT_OK},
	    /* Without a suffix list only single labels and special-use
	     * names (a fixed list) are not-fqdn. */
	    {"www", VERDICT_NOT_FQDN},
	    {"rad.internal", VERDICT_NOT_FQDN},
	    {"rad.unknowntld", VERDICT_OK},
	};
	static const struct verdict_context empty;
	(void)state;

	expect_table(NULL, cases, sizeof(cases) / sizeof(cases[0]));
	expect_table(&empty, cases, sizeof(cases) / sizeof(cases[0]));
}

static void test_reason_names_round_trip(void **state)
{
	static const char *const names[VERDICT_COUNT] = {
	    "ok",        "allowed", "invalid",      "server-ip", "ip-literal",
	    "localhost", "banned",  "matches-rcpt", "not-fqdn",
	};
	enum verdict_reason r;
	(void)state;

	for (unsigned i = 0; i < VERDICT_COUNT; i++) {
		assert_string_equal(verdict_reason_name((enum verdict_reason)i), names[i]);
		assert_true(verdict_reason_from_name(names[i], &r));
		assert_int_equal(r, i);
		assert_true(strlen(verdict_reason_description((enum verdict_reason)i)) > 10);
	}
	assert_string_equal(verdict_reason_name(VERDICT_COUNT), "unknown");
	assert_string_equal(verdict_reason_name((enum verdict_reason) - 1), "unknown");
	assert_string_equal(verdict_reason_description(VERDICT_COUNT), "unknown");
	assert_false(verdict_reason_from_name("bogus", &r));
	assert_false(verdict_reason_from_name("OK", &r));
	assert_false(verdict_reason_from_name("", &r));
	assert_false(verdict_reason_from_name(NULL, &r));
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
	const struct CMUnitTest tests[] = {
	    T(test_seed_examples_get_the_seed_verdicts),
	    T(test_invalid_syntax_is_invalid),
	    T(test_underscore_is_accepted_as_postfix_does),
	    T(test_nul_and_8bit_bytes_are_invalid),
	    T(test_server_addresses_in_every_form_are_server_ip),
	    T(test_other_addresses_are_ip_literal),
	    T(test_loopback_names_are_localhost),
	    T(test_banned_names_and_their_subdomains_are_banned),
	    T(test_rcpt_domain_and_local_domains_match_rcpt),
	    T(test_rcpt_forms_all_yield_their_domain),
	    T(test_rcpt_length_bounds_the_rcpt_text),
	    T(test_names_outside_real_public_suffixes_are_not_fqdn),
	    T(test_special_use_names_are_not_fqdn),
	    T(test_allowed_names_and_their_subdomains_are_allowed),
	    T(test_server_announced_name_matches_rcpt),
	    T(test_invalid_beats_every_other_reason),
	    T(test_server_ip_beats_ip_literal),
	    T(test_ip_literal_beats_localhost),
	    T(test_localhost_beats_banned),
	    T(test_banned_beats_matches_rcpt),
	    T(test_banned_beats_not_fqdn),
	    T(test_localhost_beats_matches_rcpt),
	    T(test_matches_rcpt_beats_not_fqdn),
	    T(test_banned_pattern_gets_the_normalized_name),
	    T(test_banned_pattern_beats_matches_rcpt_and_not_fqdn),
	    T(test_one_trailing_dot_is_ignored_and_two_are_invalid),
	    T(test_surrounding_blanks_are_trimmed),
	    T(test_names_up_to_253_octets_are_judged_whole),
	    T(test_labels_of_63_octets_are_valid_and_64_are_not),
	    T(test_very_long_argument_is_invalid),
	    T(test_empty_context_judges_syntax_and_single_labels),
	    T(test_reason_names_round_trip),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
