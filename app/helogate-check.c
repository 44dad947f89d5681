/*
 * helogate-check: judge HELO arguments read from stdin, one per line, and
 * print "REASON<TAB>ARGUMENT" for each, exactly as helogate's workers would.
 *
 * Exit status: 0 when every line was judged, 1 on a read or write error,
 * 2 on a usage or configuration error (one "helogate-check: ..." line on
 * stderr).
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wire/addr.h"
#include "dp/config.h"
#include "judge/hostname.h"
#include "judge/policy.h"
#include "smtp/rcpt.h"
#include "judge/verdict.h"

#define PROG "helogate-check"
#define EXIT_USAGE 2
#define ERR_MAX 512

/* The options name the same sources as helogate's; --config reads
 * helogate's INI file first and the options add to it or override it, as
 * on helogate's command line. */
struct check_options {
	const char *config_path;
	const char *banlist_path;
	const char *patterns_path;
	const char *psl_path;
	const char *allow_clients_path;
	const char *allow_helos_path;
	const char *rcpt;
	bool has_client;
	struct ip_addr client;
	struct ip_addr *server_ips;
	size_t n_server_ips;
	char **local_names;
	size_t n_local_names;
};

enum {
	OPT_BANLIST = 256,
	OPT_SERVER_IP,
	OPT_RCPT,
	OPT_LOCAL_DOMAIN,
	OPT_PSL,
	OPT_PATTERNS,
	OPT_ALLOW_CLIENTS,
	OPT_CLIENT,
	OPT_ALLOW_HELOS,
	OPT_LOCAL_NAME,
	OPT_CONFIG,
	OPT_HELP,
};

static const struct option long_options[] = {
    {"banlist", required_argument, NULL, OPT_BANLIST},
    {"banned-patterns", required_argument, NULL, OPT_PATTERNS},
    {"server-ip", required_argument, NULL, OPT_SERVER_IP},
    {"rcpt", required_argument, NULL, OPT_RCPT},
    {"local-domain", required_argument, NULL, OPT_LOCAL_DOMAIN},
    {"local-name", required_argument, NULL, OPT_LOCAL_NAME},
    {"psl", required_argument, NULL, OPT_PSL},
    {"allow-clients", required_argument, NULL, OPT_ALLOW_CLIENTS},
    {"client", required_argument, NULL, OPT_CLIENT},
    {"allow-helos", required_argument, NULL, OPT_ALLOW_HELOS},
    {"config", required_argument, NULL, OPT_CONFIG},
    {"help", no_argument, NULL, OPT_HELP},
    {NULL, 0, NULL, 0},
};

static void usage(FILE *out)
{
	fprintf(out,
	        "Usage: " PROG " [--config FILE] [--banlist FILE] [--banned-patterns FILE]\n"
	        "       [--server-ip ADDR]... [--rcpt ARG] [--local-domain NAME]...\n"
	        "       [--local-name NAME]... [--psl FILE] [--allow-clients FILE --client ADDR]\n"
	        "       [--allow-helos FILE]\n"
	        "\n"
	        "Reads one HELO/EHLO argument per line from stdin (a trailing CR is\n"
	        "stripped) and prints one line per input line: REASON<TAB>ARGUMENT.\n"
	        "\n"
	        "  --config FILE          helogate's INI file: its lists, local names and\n"
	        "                         addresses (the options below add or override)\n"
	        "  --banlist FILE         banned names, one per line ('#' comments)\n"
	        "  --banned-patterns FILE banned-name regular expressions, one per line\n"
	        "  --server-ip ADDR       an address of the receiving server (repeatable)\n"
	        "  --rcpt ARG             the text after \"RCPT TO:\" on the wire\n"
	        "  --local-domain NAME    a domain the server receives mail for (repeatable)\n"
	        "  --local-name NAME      the server's own name (repeatable)\n"
	        "  --psl FILE             public suffix list (default " HG_DEFAULT_PSL_FILE ")\n"
	        "  --allow-clients FILE   exempt client addresses and prefixes\n"
	        "  --client ADDR          the client's address, for --allow-clients\n"
	        "  --allow-helos FILE     exempt HELO names (and their subdomains)\n"
	        "  -h, --help             show this help\n"
	        "\n"
	        "Reasons, in precedence order (the first that applies wins):\n");
	for (unsigned i = 1; i <= VERDICT_COUNT; i++) {
		enum verdict_reason r = (enum verdict_reason)(i % VERDICT_COUNT);

		fprintf(out, "  %-13s %s\n", verdict_reason_name(r), verdict_reason_description(r));
	}
	fprintf(out,
	        "\nExit status: 0 done, 1 read/write error, 2 usage or configuration error.\n");
}

/* Print one error line (controls in arguments or paths become '?', so it
 * stays one line) and return the usage exit status. */
static int fail(const char *fmt, ...)
{
	char msg[ERR_MAX * 2];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	for (char *p = msg; *p != '\0'; p++)
		if ((unsigned char)*p < ' ' || *p == 0x7f)
			*p = '?';
	fprintf(stderr, PROG ": %s\n", msg);
	return EXIT_USAGE;
}

static void options_free(struct check_options *opt)
{
	for (size_t i = 0; i < opt->n_local_names; i++)
		free(opt->local_names[i]);
	free(opt->local_names);
	free(opt->server_ips);
}

static int add_name(struct check_options *opt, const char *option, const char *value)
{
	struct hostname host;

	if (hostname_parse(value, strlen(value), &host) != HOSTNAME_DOMAIN)
		return fail("%s: not a domain name: '%s'", option, value);
	opt->local_names[opt->n_local_names] = strdup(host.name);
	if (opt->local_names[opt->n_local_names] == NULL)
		return fail("out of memory");
	opt->n_local_names++;
	return -1;
}

/* Returns -1 to go on, or the exit status. */
static int options_parse(int argc, char **argv, struct check_options *opt)
{
	struct rcpt_address rcpt;
	int c, rc;

	/* Each option takes one argv slot at least: argc bounds the counts. */
	opt->server_ips = calloc((size_t)argc, sizeof(*opt->server_ips));
	opt->local_names = calloc((size_t)argc, sizeof(*opt->local_names));
	if (opt->server_ips == NULL || opt->local_names == NULL)
		return fail("out of memory");

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", long_options, NULL)) != -1) {
		switch (c) {
		case OPT_CONFIG:
			opt->config_path = optarg;
			break;
		case OPT_BANLIST:
			opt->banlist_path = optarg;
			break;
		case OPT_PATTERNS:
			opt->patterns_path = optarg;
			break;
		case OPT_PSL:
			opt->psl_path = optarg;
			break;
		case OPT_ALLOW_CLIENTS:
			opt->allow_clients_path = optarg;
			break;
		case OPT_ALLOW_HELOS:
			opt->allow_helos_path = optarg;
			break;
		case OPT_CLIENT:
			if (!ip_addr_parse(optarg, strlen(optarg), &opt->client))
				return fail("--client: not an IP address: '%s'", optarg);
			opt->has_client = true;
			break;
		case OPT_RCPT:
			if (!rcpt_parse(optarg, strlen(optarg), &rcpt))
				return fail("--rcpt: no mailbox in '%s'", optarg);
			opt->rcpt = optarg;
			break;
		case OPT_SERVER_IP:
			if (!ip_addr_parse(optarg, strlen(optarg),
			                   &opt->server_ips[opt->n_server_ips]))
				return fail("--server-ip: not an IP address: '%s'", optarg);
			opt->n_server_ips++;
			break;
		case OPT_LOCAL_DOMAIN:
			if ((rc = add_name(opt, "--local-domain", optarg)) >= 0)
				return rc;
			break;
		case OPT_LOCAL_NAME:
			if ((rc = add_name(opt, "--local-name", optarg)) >= 0)
				return rc;
			break;
		case 'h':
		case OPT_HELP:
			usage(stdout);
			return fflush(stdout) == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
		case ':':
			return fail("option '%s' needs an argument (try --help)", argv[optind - 1]);
		default:
			if (optopt != 0)
				return fail("unknown option '-%c' (try --help)", optopt);
			return fail("unknown option '%s' (try --help)", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return fail("unexpected argument '%s' (try --help)", argv[optind]);
	if (opt->allow_clients_path != NULL && !opt->has_client)
		return fail("--allow-clients needs --client ADDR (the address to look up)");
	return -1;
}

static int judge_lines(const struct policy *policy, const struct policy_input *base)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int status = EXIT_SUCCESS;

	while ((n = getline(&line, &cap, stdin)) > 0) {
		size_t len = (size_t)n;
		struct policy_input in = *base;
		const char *reason;

		if (line[len - 1] == '\n')
			len--;
		if (len > 0 && line[len - 1] == '\r')
			len--;
		in.helo = line;
		in.helo_len = len;
		reason = verdict_reason_name(policy_judge(policy, &in));
		if (fputs(reason, stdout) == EOF || putchar('\t') == EOF ||
		    fwrite(line, 1, len, stdout) != len || putchar('\n') == EOF ||
		    fflush(stdout) == EOF) {
			fprintf(stderr, PROG ": write error: %s\n", strerror(errno));
			status = EXIT_FAILURE;
			break;
		}
	}
	if (status == EXIT_SUCCESS && ferror(stdin)) {
		fprintf(stderr, PROG ": read error: %s\n", strerror(errno));
		status = EXIT_FAILURE;
	}
	free(line);
	return status;
}

static void set_path(char *dst, const char *value)
{
	if (value != NULL)
		snprintf(dst, PATH_MAX, "%s", value);
}

int main(int argc, char **argv)
{
	static struct config cfg;
	struct check_options opt = {0};
	const char *names[CONFIG_MAX_LOCAL_DOMAINS + 64];
	struct ip_addr ips[CONFIG_MAX_LOCAL_IPS + 64];
	struct policy_settings s;
	struct policy *policy = NULL;
	char err[ERR_MAX];
	int status;

	status = options_parse(argc, argv, &opt);
	if (status >= 0)
		goto out;
	config_defaults(&cfg);
	if (opt.config_path != NULL &&
	    config_load_file(&cfg, opt.config_path, err, sizeof(err)) != 0) {
		status = fail("%s", err);
		goto out;
	}
	set_path(cfg.banlist_path, opt.banlist_path);
	set_path(cfg.patterns_path, opt.patterns_path);
	set_path(cfg.psl_path, opt.psl_path);
	set_path(cfg.allow_clients_path, opt.allow_clients_path);
	set_path(cfg.allow_helos_path, opt.allow_helos_path);
	if (cfg.n_local_domains + cfg.n_local_names + opt.n_local_names >
	        CONFIG_MAX_LOCAL_DOMAINS + 64 ||
	    cfg.n_local_ips + opt.n_server_ips > CONFIG_MAX_LOCAL_IPS + 64) {
		status = fail("too many local names or addresses");
		goto out;
	}
	config_policy_settings(&cfg, names, &s, 1);
	for (size_t i = 0; i < opt.n_local_names; i++)
		names[s.n_local_names++] = opt.local_names[i];
	memcpy(ips, cfg.local_ips, cfg.n_local_ips * sizeof(ips[0]));
	if (opt.n_server_ips > 0)
		memcpy(ips + cfg.n_local_ips, opt.server_ips, opt.n_server_ips * sizeof(ips[0]));
	s.local_ips = ips;
	s.n_local_ips = cfg.n_local_ips + opt.n_server_ips;
	policy = policy_build(&s, err, sizeof(err));
	if (policy == NULL) {
		status = fail("%s", err);
		goto out;
	}
	struct policy_input in = {
	    .client = opt.has_client ? &opt.client : NULL,
	    .rcpt = opt.rcpt,
	    .rcpt_len = opt.rcpt != NULL ? strlen(opt.rcpt) : 0,
	};
	status = judge_lines(policy, &in);
out:
	policy_free(policy);
	options_free(&opt);
	return status;
}
