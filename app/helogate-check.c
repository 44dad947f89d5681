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
#include "judge/banlist.h"
#include "judge/hostname.h"
#include "smtp/rcpt.h"
#include "judge/suffix.h"
#include "judge/verdict.h"

#define PROG "helogate-check"
#define EXIT_USAGE 2
#define ERR_MAX 512

struct check_options {
	const char *banlist_path;
	const char *psl_path;
	const char *rcpt;
	struct ip_addr *server_ips;
	size_t n_server_ips;
	char **local_domains;
	size_t n_local_domains;
};

enum {
	OPT_BANLIST = 256,
	OPT_SERVER_IP,
	OPT_RCPT,
	OPT_LOCAL_DOMAIN,
	OPT_PSL,
	OPT_HELP,
};

static const struct option long_options[] = {
    {"banlist", required_argument, NULL, OPT_BANLIST},
    {"server-ip", required_argument, NULL, OPT_SERVER_IP},
    {"rcpt", required_argument, NULL, OPT_RCPT},
    {"local-domain", required_argument, NULL, OPT_LOCAL_DOMAIN},
    {"psl", required_argument, NULL, OPT_PSL},
    {"help", no_argument, NULL, OPT_HELP},
    {NULL, 0, NULL, 0},
};

static void usage(FILE *out)
{
	fprintf(out, "Usage: " PROG " [--banlist FILE] [--server-ip ADDR]... [--rcpt ARG]\n"
	             "       [--local-domain NAME]... [--psl FILE]\n"
	             "\n"
	             "Reads one HELO/EHLO argument per line from stdin (a trailing CR is\n"
	             "stripped) and prints one line per input line: REASON<TAB>ARGUMENT.\n"
	             "\n"
	             "  --banlist FILE       banned names, one per line ('#' comments)\n"
	             "  --server-ip ADDR     an address of the receiving server (repeatable)\n"
	             "  --rcpt ARG           the text after \"RCPT TO:\" on the wire\n"
	             "  --local-domain NAME  a domain the server receives mail for (repeatable)\n"
	             "  --psl FILE           public suffix list (default " HG_DEFAULT_PSL_FILE ")\n"
	             "  -h, --help           show this help\n"
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
	for (size_t i = 0; i < opt->n_local_domains; i++)
		free(opt->local_domains[i]);
	free(opt->local_domains);
	free(opt->server_ips);
}

/* Returns -1 to go on, or the exit status. */
static int options_parse(int argc, char **argv, struct check_options *opt)
{
	struct hostname host;
	struct rcpt_address rcpt;
	int c;

	/* Each option takes one argv slot at least: argc bounds the counts. */
	opt->server_ips = calloc((size_t)argc, sizeof(*opt->server_ips));
	opt->local_domains = calloc((size_t)argc, sizeof(*opt->local_domains));
	if (opt->server_ips == NULL || opt->local_domains == NULL)
		return fail("out of memory");

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", long_options, NULL)) != -1) {
		switch (c) {
		case OPT_BANLIST:
			opt->banlist_path = optarg;
			break;
		case OPT_PSL:
			opt->psl_path = optarg;
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
			if (hostname_parse(optarg, strlen(optarg), &host) != HOSTNAME_DOMAIN)
				return fail("--local-domain: not a domain name: '%s'", optarg);
			opt->local_domains[opt->n_local_domains] = strdup(host.name);
			if (opt->local_domains[opt->n_local_domains] == NULL)
				return fail("out of memory");
			opt->n_local_domains++;
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
	return -1;
}

static int judge_lines(const struct verdict_context *ctx)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int status = EXIT_SUCCESS;

	while ((n = getline(&line, &cap, stdin)) > 0) {
		size_t len = (size_t)n;
		const char *reason;

		if (line[len - 1] == '\n')
			len--;
		if (len > 0 && line[len - 1] == '\r')
			len--;
		reason = verdict_reason_name(verdict_judge_helo(line, len, ctx));
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

int main(int argc, char **argv)
{
	struct check_options opt = {0};
	struct verdict_context ctx = {0};
	struct banlist *banlist = NULL;
	struct suffix_list *suffixes = NULL;
	char err[ERR_MAX];
	int status;

	status = options_parse(argc, argv, &opt);
	if (status >= 0)
		goto out;

	suffixes = suffix_list_load(opt.psl_path, err, sizeof(err));
	if (suffixes == NULL) {
		status = fail("%s", err);
		goto out;
	}
	if (opt.banlist_path != NULL) {
		banlist = banlist_load_file(opt.banlist_path, err, sizeof(err));
		if (banlist == NULL) {
			status = fail("%s", err);
			goto out;
		}
	}

	ctx.server_ips = opt.server_ips;
	ctx.n_server_ips = opt.n_server_ips;
	ctx.rcpt = opt.rcpt;
	ctx.rcpt_len = opt.rcpt != NULL ? strlen(opt.rcpt) : 0;
	ctx.local_domains = (const char *const *)opt.local_domains;
	ctx.n_local_domains = opt.n_local_domains;
	ctx.banlist = banlist;
	ctx.suffixes = suffixes;
	status = judge_lines(&ctx);
out:
	if (banlist != NULL)
		banlist_free(banlist);
	suffix_list_free(suffixes);
	options_free(&opt);
	return status;
}
