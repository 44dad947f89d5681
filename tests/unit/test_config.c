/* Unit tests for lib/config: options, the INI file, and their errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "dp/config.h"

static int parse(struct config *cfg, char *err, const char *const *args)
{
	char *argv[32];
	int argc = 0;

	argv[argc++] = (char *)"helogate";
	for (; *args; args++)
		argv[argc++] = (char *)*args;
	argv[argc] = NULL;
	config_defaults(cfg);
	return config_parse_args(cfg, argc, argv, err, 256);
}

static const char *write_file(const char *text)
{
	static char path[64];
	strcpy(path, "/tmp/hg-config-test-XXXXXX");
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

static void test_defaults_are_enforce_inline_port_25(void **state)
{
	(void)state;
	struct config cfg;
	char err[256];

	assert_int_equal(parse(&cfg, err, (const char *[]){NULL}), 0);
	assert_int_equal(cfg.mode, CONFIG_MODE_ENFORCE);
	assert_false(cfg.single_port);
	assert_int_equal(cfg.outside_port, 0);
	assert_int_equal(cfg.inside_port, 1);
	assert_int_equal(cfg.n_smtp_ports, 1);
	assert_int_equal(cfg.smtp_ports[0], 25);
	assert_true(cfg.flows_per_worker >= 1000000);
	assert_int_equal(cfg.frag_flows, 256);
	assert_int_equal(cfg.frag_timeout_ms, 30000);
	assert_string_equal(cfg.replies.rcpt[VERDICT_LOCALHOST],
	                    "550 5.7.1 %a... Access denied - bogus HELO");
}

static void test_options_are_applied(void **state)
{
	(void)state;
	struct config cfg;
	char err[256];

	assert_int_equal(
	    parse(&cfg, err,
	          (const char *[]){"--single-port", "2", "--smtp-port", "25", "--smtp-port", "587",
	                           "--mode", "detect", "--local-domain", "Example.NET.",
	                           "--local-ip", "2001:db8::25", "--reply",
	                           "not-fqdn=554 5.7.1 %a: use a real name", "--frag-flows", "64",
	                           "--frag-timeout", "500", NULL}),
	    0);
	assert_true(cfg.single_port);
	assert_int_equal(cfg.lab_port, 2);
	assert_int_equal(cfg.n_smtp_ports, 2);
	assert_true(config_is_smtp_port(&cfg, 587));
	assert_false(config_is_smtp_port(&cfg, 26));
	assert_int_equal(cfg.mode, CONFIG_MODE_DETECT);
	assert_string_equal(cfg.local_domains[0], "example.net");
	assert_int_equal(cfg.local_ips[0].family, 6);
	assert_string_equal(cfg.replies.rcpt[VERDICT_NOT_FQDN], "554 5.7.1 %a: use a real name");
	assert_int_equal(cfg.frag_flows, 64);
	assert_int_equal(cfg.frag_timeout_ms, 500);
}

static void test_each_bad_option_gets_one_clear_message(void **state)
{
	(void)state;
	struct config cfg;
	char err[256];
	static const struct {
		const char *args[4];
		const char *needle;
	} cases[] = {
	    {{"--bogus", NULL}, "unknown option"},
	    {{"--mode", "audit", NULL}, "mode"},
	    {{"--smtp-port", "0", NULL}, "smtp-port"},
	    {{"--smtp-port", "70000", NULL}, "smtp-port"},
	    {{"--local-ip", "1.2.3", NULL}, "local-ip"},
	    {{"--local-domain", "a..b", NULL}, "local-domain"},
	    {{"--flows", "ten", NULL}, "flows"},
	    {{"--line-max", "100", NULL}, "line-max"},
	    {{"--frag-flows", "0", NULL}, "frag-flows"},
	    {{"--frag-timeout", "5", NULL}, "frag-timeout"},
	    {{"--reply", "ok=550 x", NULL}, "reply"},
	    {{"--reply", "localhost=250 fine", NULL}, "reply"},
	    {{"--outside", "1", NULL}, "different ports"},
	    {{"--banlist", NULL}, "needs a value"},
	    {{"stray", NULL}, "unexpected argument"},
	    {{"--config", "/nonexistent/hg.ini", NULL}, "/nonexistent/hg.ini"},
	    {{"--action", "not-fqdn", NULL}, "REASON=enforce|detect|off"},
	    {{"--action", "not-fqdn=audit", NULL}, "must be enforce, detect or off, not 'audit'"},
	    {{"--action", "ok=detect", NULL}, "unknown bogus reason 'ok'"},
	    {{"--action", "allowed=off", NULL}, "unknown bogus reason 'allowed'"},
	    {{"--reply", "allowed=550 x", NULL}, "unknown bogus reason 'allowed'"},
	    {{"--local-name", "[192.0.2.1]", NULL}, "local-name: not a domain name"},
	    {{"--allow-clients", "", NULL}, "allow-clients: bad path"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		err[0] = '\0';
		assert_int_equal(parse(&cfg, err, cases[i].args), -1);
		assert_non_null(strstr(err, cases[i].needle));
		assert_null(strchr(err, '\n'));
	}
}

static void test_config_file_sets_keys_and_the_command_line_overrides(void **state)
{
	(void)state;
	struct config cfg;
	char err[256];
	const char *path = write_file("[helogate]\n"
	                              "mode = detect\n"
	                              "smtp-port = 25, 2525\n"
	                              "local-domain = lab-mail.net, example.net\n"
	                              "reply = banned=550 5.7.1 %a... banned, sorry\n"
	                              "flows = 5000\n");

	assert_int_equal(
	    parse(&cfg, err, (const char *[]){"--config", path, "--flows", "7000", NULL}), 0);
	assert_int_equal(cfg.mode, CONFIG_MODE_DETECT);
	assert_int_equal(cfg.n_smtp_ports, 2);
	assert_int_equal(cfg.smtp_ports[1], 2525);
	assert_int_equal(cfg.n_local_domains, 2);
	assert_string_equal(cfg.local_domains[1], "example.net");
	assert_string_equal(cfg.replies.rcpt[VERDICT_BANNED], "550 5.7.1 %a... banned, sorry");
	assert_int_equal(cfg.flows_per_worker, 7000);
	unlink(path);
}

/* --action per reason, --mode for the rest; the file takes the same keys. */
static void test_actions_resolve_per_reason_over_the_mode(void **state)
{
	(void)state;
	static struct config cfg;
	struct policy_settings s;
	const char *names[CONFIG_MAX_LOCAL_DOMAINS];
	char err[256] = "";
	const char *path =
	    write_file("[helogate]\naction = banned=off, localhost=enforce\n"
	               "allow-clients = /etc/hg/clients\nallow-helos = /etc/hg/helos\n"
	               "local-name = MX.Example.NET.\n");
	const char *args[] = {"--config",       path,          "--mode",
	                      "detect",         "--action",    "not-fqdn=off",
	                      "--local-domain", "example.net", NULL};

	assert_int_equal(parse(&cfg, err, args), 0);
	unlink(path);
	config_policy_settings(&cfg, names, &s, 3);
	assert_int_equal(s.actions[VERDICT_BANNED], POLICY_OFF);
	assert_int_equal(s.actions[VERDICT_LOCALHOST], POLICY_ENFORCE);
	assert_int_equal(s.actions[VERDICT_NOT_FQDN], POLICY_OFF);
	assert_int_equal(s.actions[VERDICT_INVALID], POLICY_DETECT);
	assert_string_equal(s.allow_clients_path, "/etc/hg/clients");
	assert_string_equal(s.allow_helos_path, "/etc/hg/helos");
	assert_int_equal(s.n_local_names, 2);
	assert_string_equal(s.local_names[0], "mx.example.net");
	assert_string_equal(s.local_names[1], "example.net");
	assert_int_equal(s.n_readers, 3);
	const char *enforce[] = {NULL};
	assert_int_equal(parse(&cfg, err, enforce), 0);
	config_policy_settings(&cfg, names, &s, 1);
	assert_int_equal(s.actions[VERDICT_NOT_FQDN], POLICY_ENFORCE);
}

static void test_config_file_errors_name_the_file(void **state)
{
	(void)state;
	struct config cfg;
	char err[256];
	const char *path = write_file("[helogate]\nflows = lots\n");

	assert_int_equal(parse(&cfg, err, (const char *[]){"--config", path, NULL}), -1);
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, "flows"));
	unlink(path);
	path = write_file("[other]\nflows = 10\n");
	assert_int_equal(parse(&cfg, err, (const char *[]){"--config", path, NULL}), -1);
	assert_non_null(strstr(err, "unknown section"));
	unlink(path);
	path = write_file("[helogate]\nfrobnicate = 1\n");
	assert_int_equal(parse(&cfg, err, (const char *[]){"--config", path, NULL}), -1);
	assert_non_null(strstr(err, "unknown key 'frobnicate'"));
	unlink(path);
}

/* A file whose problem is on one line: "FILE:LINE: reason". */
static void test_config_file_problems_name_the_file_and_line(void **state)
{
	(void)state;
	struct config cfg;
	char err[256], want[128];
	static const struct {
		const char *text;
		unsigned line;
		const char *reason;
	} cases[] = {
	    {"[helogate]\nmode = detect\nflows 100\n", 3,
	     "expected 'key = value', not 'flows 100'"},
	    {"[helogate]\nmode = detect\n# again\nmode = enforce\n", 4,
	     "duplicate key 'mode' (first set at line 2)"},
	    {"[helogate]\n\nfrobnicate = 1\n", 3, "unknown key 'frobnicate'"},
	    {"mode = detect\n[helogate]\n", 1, "'mode = detect' before [helogate]"},
	    {"[helogate\n", 1, "malformed section header '[helogate'"},
	    {"; comment\n[other]\n", 2, "unknown section [other] (expected [helogate])"},
	    {"[helogate]\n[helogate]\n", 2, "duplicate section [helogate]"},
	    {"[helogate]\n = detect\n", 2, "a value without a key"},
	    {"[helogate]\nconfig = /etc/x.ini\n", 2, "unknown key 'config'"},
	    {"[helogate]\ncheck-config = yes\n", 2, "unknown key 'check-config'"},
	    {"[helogate]\nhelp = 1\n", 2, "unknown key 'help'"},
	    {"[helogate]\r\nflows = 100\r\nflows = lots\r\n", 3, "duplicate key 'flows'"},
	    {"[helogate]\nlocal-ip = 192.0.2.1, bogus\n", 2, "local-ip: not an IP address 'bogus'"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *path = write_file(cases[i].text);
		err[0] = '\0';
		assert_int_equal(parse(&cfg, err, (const char *[]){"--config", path, NULL}), -1);
		snprintf(want, sizeof(want), "%s:%u: %s", path, cases[i].line, cases[i].reason);
		if (strncmp(err, want, strlen(want)) != 0)
			fail_msg("case %zu: got '%s', want '%s...'", i, err, want);
		assert_null(strchr(err, '\n'));
		unlink(path);
	}
}

static void test_config_file_with_a_nul_byte_is_refused(void **state)
{
	(void)state;
	struct config cfg;
	char err[256];
	const char *path = write_file("[helogate]\nmode = detect\n");
	FILE *f = fopen(path, "a");

	assert_non_null(f);
	fwrite("flows = 1\0000\n", 1, 12, f);
	fclose(f);
	assert_int_equal(parse(&cfg, err, (const char *[]){"--config", path, NULL}), -1);
	assert_non_null(strstr(err, ":3: a NUL byte"));
	unlink(path);
}

static void test_a_directory_or_missing_file_is_line_0(void **state)
{
	(void)state;
	struct config cfg;
	char err[256];

	assert_int_equal(parse(&cfg, err, (const char *[]){"--config", "/tmp", NULL}), -1);
	assert_string_equal(err, "/tmp:0: is a directory, not a file");
	const char *missing[] = {"--config", "/nonexistent/hg.ini", NULL};
	assert_int_equal(parse(&cfg, err, missing), -1);
	assert_string_equal(err, "/nonexistent/hg.ini:0: No such file or directory");
}

static void test_comments_blank_lines_and_crlf_are_accepted(void **state)
{
	(void)state;
	struct config cfg;
	char err[256];
	const char *path = write_file("# helogate\r\n\r\n; detect first\r\n[helogate]\r\n"
	                              "  mode   =   detect  \r\n# flows = 1\r\n");

	assert_int_equal(parse(&cfg, err, (const char *[]){"--config", path, NULL}), 0);
	assert_int_equal(cfg.mode, CONFIG_MODE_DETECT);
	unlink(path);
}

static void test_command_line_lists_replace_the_files_lists(void **state)
{
	(void)state;
	struct config cfg;
	char err[256];
	const char *path = write_file("[helogate]\nsmtp-port = 25, 587\n"
	                              "local-domain = a.example, b.example\n"
	                              "local-ip = 192.0.2.1, 192.0.2.2\n");

	assert_int_equal(parse(&cfg, err,
	                       (const char *[]){"--config", path, "--local-domain", "c.example",
	                                        "--local-domain", "d.example", "--local-ip",
	                                        "198.18.0.25", NULL}),
	                 0);
	assert_int_equal(cfg.n_local_domains, 2);
	assert_string_equal(cfg.local_domains[0], "c.example");
	assert_string_equal(cfg.local_domains[1], "d.example");
	assert_int_equal(cfg.n_local_ips, 1);
	assert_int_equal(cfg.n_smtp_ports, 2); /* not given on the command line: the file's */
	unlink(path);
}

static void test_conflicting_options_are_refused(void **state)
{
	(void)state;
	struct config cfg;
	char err[256];
	static const struct {
		const char *args[6];
		const char *needle;
	} cases[] = {
	    {{"--events", "/tmp/hg-same", "--stats", "/tmp/hg-same", NULL},
	     "--events and --stats must not name the same file ('/tmp/hg-same')"},
	    {{"--events", "-", "--stats", "-", NULL},
	     "--events and --stats must not name the same file ('-')"},
	    {{"--single-port", "0", "--outside", "2", NULL},
	     "--single-port (lab layout) conflicts"},
	    {{"--smtp-port", "25", "--smtp-port", "25", NULL}, "--smtp-port 25 given twice"},
	    {{"-i", "--events", "-", NULL}, "--events - conflicts with --interactive"},
	    {{"--stats-period", "5", "--events", "-", NULL},
	     "--events - conflicts with --stats-period"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		err[0] = '\0';
		assert_int_equal(parse(&cfg, err, cases[i].args), -1);
		if (strstr(err, cases[i].needle) == NULL)
			fail_msg("case %zu: got '%s'", i, err);
	}
	const char *apart[] = {"--events", "/tmp/hg-events", "--stats", "-", NULL};
	assert_int_equal(parse(&cfg, err, apart), 0);
}

static void test_console_options(void **state)
{
	(void)state;
	struct config cfg;
	char err[256];

	assert_int_equal(parse(&cfg, err, (const char *[]){"-i", "--stats-period", "5", NULL}), 0);
	assert_true(cfg.interactive);
	assert_int_equal(cfg.stats_period_ms, 5000);
	assert_int_equal(parse(&cfg, err, (const char *[]){"--interactive", NULL}), 0);
	assert_true(cfg.interactive);
	assert_int_equal(cfg.stats_period_ms, 0);
	assert_int_equal(parse(&cfg, err, (const char *[]){"--stats-period", "x", NULL}), -1);
	assert_non_null(strstr(err, "stats-period: must be seconds"));
}

static void test_version_and_check_config(void **state)
{
	(void)state;
	struct config cfg;
	char err[256];

	assert_int_equal(parse(&cfg, err, (const char *[]){"--version", NULL}), 1);
	assert_int_equal(parse(&cfg, err, (const char *[]){"--check-config", NULL}), 0);
	assert_true(cfg.check_only);
	assert_int_equal(parse(&cfg, err, (const char *[]){NULL}), 0);
	assert_false(cfg.check_only);
}

static void test_distribute_is_auto_unless_yes_or_no(void **state)
{
	struct config cfg;
	char err[256];
	(void)state;
	const char *none[] = {NULL};
	assert_int_equal(parse(&cfg, err, none), 0);
	assert_int_equal(cfg.distribute, CONFIG_DISTRIBUTE_AUTO);
	const char *yes[] = {"--distribute", "yes", NULL};
	assert_int_equal(parse(&cfg, err, yes), 0);
	assert_int_equal(cfg.distribute, CONFIG_DISTRIBUTE_YES);
	const char *no[] = {"--distribute", "no", NULL};
	assert_int_equal(parse(&cfg, err, no), 0);
	assert_int_equal(cfg.distribute, CONFIG_DISTRIBUTE_NO);
	const char *bad[] = {"--distribute", "rss", NULL};
	assert_int_equal(parse(&cfg, err, bad), -1);
	assert_string_equal(err, "distribute: must be auto, yes or no, not 'rss'");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_defaults_are_enforce_inline_port_25),
	    cmocka_unit_test(test_distribute_is_auto_unless_yes_or_no),
	    cmocka_unit_test(test_options_are_applied),
	    cmocka_unit_test(test_each_bad_option_gets_one_clear_message),
	    cmocka_unit_test(test_config_file_sets_keys_and_the_command_line_overrides),
	    cmocka_unit_test(test_config_file_errors_name_the_file),
	    cmocka_unit_test(test_config_file_problems_name_the_file_and_line),
	    cmocka_unit_test(test_config_file_with_a_nul_byte_is_refused),
	    cmocka_unit_test(test_a_directory_or_missing_file_is_line_0),
	    cmocka_unit_test(test_comments_blank_lines_and_crlf_are_accepted),
	    cmocka_unit_test(test_command_line_lists_replace_the_files_lists),
	    cmocka_unit_test(test_conflicting_options_are_refused),
	    cmocka_unit_test(test_console_options),
	    cmocka_unit_test(test_version_and_check_config),
	    cmocka_unit_test(test_actions_resolve_per_reason_over_the_mode),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
