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

	assert_int_equal(parse(&cfg, err,
			       (const char *[]){"--single-port", "2", "--smtp-port", "25",
						"--smtp-port", "587", "--mode", "detect",
						"--local-domain", "Example.NET.", "--local-ip",
						"2001:db8::25", "--reply",
						"not-fqdn=554 5.7.1 %a: use a real name",
						"--frag-flows", "64", "--frag-timeout", "500", NULL}),
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

	assert_int_equal(parse(&cfg, err, (const char *[]){"--config", path, "--flows", "7000", NULL}),
			 0);
	assert_int_equal(cfg.mode, CONFIG_MODE_DETECT);
	assert_int_equal(cfg.n_smtp_ports, 2);
	assert_int_equal(cfg.smtp_ports[1], 2525);
	assert_int_equal(cfg.n_local_domains, 2);
	assert_string_equal(cfg.local_domains[1], "example.net");
	assert_string_equal(cfg.replies.rcpt[VERDICT_BANNED], "550 5.7.1 %a... banned, sorry");
	assert_int_equal(cfg.flows_per_worker, 7000);
	unlink(path);
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults_are_enforce_inline_port_25),
		cmocka_unit_test(test_options_are_applied),
		cmocka_unit_test(test_each_bad_option_gets_one_clear_message),
		cmocka_unit_test(test_config_file_sets_keys_and_the_command_line_overrides),
		cmocka_unit_test(test_config_file_errors_name_the_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
