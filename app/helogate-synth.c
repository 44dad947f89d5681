/*
 * helogate-synth: write a classic pcap of synthesized SMTP sessions
 * (lib/synth) and, with --expect, the events helogate must report for it
 * under the lab context (tests/data/lab-context.md), one JSON object per
 * line in capture order.
 *
 * usage: helogate-synth -o OUT.pcap [--expect EVENTS.jsonl]
 *          [--profile smtp-mix|smtp-commands|bogus-flood|non-smtp]
 *          [--sessions N] [--seed S] [--bogus-ratio R] [--concurrency K]
 *          [--bodies small|realistic] [--body-median BYTES] [--body-max BYTES]
 *          [--scenario NAME]... [--list-scenarios]
 * With --scenario (repeatable) the named scenarios are written in order and
 * the profile options are ignored. A bad option: one line on stderr, exit 2;
 * a failure while writing: one line, exit 1.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pcap/pcap.h>

#include "synth/synth.h"

#define SCENARIOS_MAX 64

struct output {
	pcap_dumper_t *dumper;
	FILE *expect;
	bool expect_failed;
};

static int write_frame(void *arg, const uint8_t *frame, uint32_t len, uint64_t ts_ns)
{
	struct output *out = arg;
	struct pcap_pkthdr h = {
	    .ts = {.tv_sec = (time_t)(ts_ns / 1000000000u),
	           .tv_usec = (suseconds_t)(ts_ns % 1000000000u / 1000u)},
	    .caplen = len,
	    .len = len,
	};

	pcap_dump((u_char *)out->dumper, &h, frame);
	return 0;
}

static void write_event(void *arg, const struct synth_event *e)
{
	struct output *out = arg;
	char line[SYNTH_EVENT_JSON_MAX];
	size_t n;

	if (out->expect == NULL)
		return;
	n = synth_event_json(e, line, sizeof(line));
	if (n == 0 || fwrite(line, 1, n, out->expect) != n)
		out->expect_failed = true;
}

static int usage_error(const char *fmt, const char *arg)
{
	fputs("helogate-synth: ", stderr);
	fprintf(stderr, fmt, arg);
	fputs("\n", stderr);
	return 2;
}

static void usage(void)
{
	printf("usage: helogate-synth -o OUT.pcap [--expect EVENTS.jsonl]\n"
	       "         [--profile smtp-mix|smtp-commands|bogus-flood|non-smtp]\n"
	       "         [--sessions N] [--seed S] [--bogus-ratio R] [--concurrency K]\n"
	       "         [--bodies small|realistic] [--body-median BYTES] [--body-max BYTES]\n"
	       "         [--scenario NAME]... [--list-scenarios]\n");
}

/* Decimal digits only (no sign, no blanks), at most max. */
static bool parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	char *end;

	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || v > max)
		return false;
	*out = v;
	return true;
}

static bool parse_ratio(const char *s, double *out)
{
	char *end;

	if ((*s < '0' || *s > '9') && *s != '.')
		return false;
	double v = strtod(s, &end);
	if (*end != '\0' || !(v >= 0 && v <= 1))
		return false;
	*out = v;
	return true;
}

int main(int argc, char **argv)
{
	enum {
		OPT_EXPECT = 256,
		OPT_PROFILE,
		OPT_SESSIONS,
		OPT_SEED,
		OPT_BOGUS,
		OPT_K,
		OPT_BODIES,
		OPT_MEDIAN,
		OPT_MAX,
		OPT_SCENARIO,
		OPT_LIST
	};
	static const struct option options[] = {
	    {"output", required_argument, NULL, 'o'},
	    {"expect", required_argument, NULL, OPT_EXPECT},
	    {"profile", required_argument, NULL, OPT_PROFILE},
	    {"sessions", required_argument, NULL, OPT_SESSIONS},
	    {"seed", required_argument, NULL, OPT_SEED},
	    {"bogus-ratio", required_argument, NULL, OPT_BOGUS},
	    {"concurrency", required_argument, NULL, OPT_K},
	    {"bodies", required_argument, NULL, OPT_BODIES},
	    {"body-median", required_argument, NULL, OPT_MEDIAN},
	    {"body-max", required_argument, NULL, OPT_MAX},
	    {"scenario", required_argument, NULL, OPT_SCENARIO},
	    {"list-scenarios", no_argument, NULL, OPT_LIST},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct synth_params p;
	const char *out_path = NULL, *expect_path = NULL;
	const char *scenarios[SCENARIOS_MAX];
	int n_scenarios = 0, c;
	uint64_t v;

	synth_params_default(&p);
	opterr = 0; /* our own one-line messages */
	while ((c = getopt_long(argc, argv, ":o:h", options, NULL)) != -1) {
		switch (c) {
		case 'o':
			out_path = optarg;
			break;
		case OPT_EXPECT:
			expect_path = optarg;
			break;
		case OPT_PROFILE:
			if (!synth_profile_from_name(optarg, &p.profile))
				return usage_error("unknown --profile '%s'", optarg);
			break;
		case OPT_SESSIONS:
			if (!parse_u64(optarg, 100000000, &v))
				return usage_error("bad --sessions '%s' (0..100000000)", optarg);
			p.sessions = (uint32_t)v;
			break;
		case OPT_SEED:
			if (!parse_u64(optarg, UINT64_MAX, &v))
				return usage_error("bad --seed '%s' (a decimal number)", optarg);
			p.seed = v;
			break;
		case OPT_BOGUS:
			if (!parse_ratio(optarg, &p.bogus_ratio))
				return usage_error("bad --bogus-ratio '%s' (0..1)", optarg);
			break;
		case OPT_K:
			if (!parse_u64(optarg, 1000000, &v) || v == 0)
				return usage_error("bad --concurrency '%s' (1..1000000)", optarg);
			p.concurrency = (uint32_t)v;
			break;
		case OPT_BODIES:
			if (!synth_params_bodies(&p, optarg))
				return usage_error("unknown --bodies '%s' (small, realistic)",
				                   optarg);
			break;
		case OPT_MEDIAN:
			if (!parse_u64(optarg, SYNTH_BODY_REALISTIC_MAX, &v) || v < 2)
				return usage_error("bad --body-median '%s' (2..10485760)", optarg);
			p.body_median = (uint32_t)v;
			break;
		case OPT_MAX:
			if (!parse_u64(optarg, UINT32_MAX, &v) || v < 2)
				return usage_error("bad --body-max '%s' (bytes, at least 2)",
				                   optarg);
			p.body_max = (uint32_t)v;
			break;
		case OPT_SCENARIO:
			if (!synth_scenario_exists(optarg))
				return usage_error("unknown --scenario '%s' (see --list-scenarios)",
				                   optarg);
			if (n_scenarios == SCENARIOS_MAX)
				return usage_error("more than 64 --scenario options at '%s'",
				                   optarg);
			scenarios[n_scenarios++] = optarg;
			break;
		case OPT_LIST:
			for (size_t i = 0; i < synth_scenario_count(); i++)
				puts(synth_scenario_name(i));
			return 0;
		case 'h':
			usage();
			return 0;
		case ':':
			return usage_error("option '%s' needs a value", argv[optind - 1]);
		default:
			return usage_error("unknown option '%s' (see --help)", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return usage_error("unexpected argument '%s'", argv[optind]);
	if (out_path == NULL)
		return usage_error("%s", "-o OUT.pcap is required (see --help)");
	if (synth_params_check(&p) != 0)
		return usage_error("%s",
		                   "inconsistent body size options (--body-median, --body-max)");

	struct output out = {0};
	pcap_t *dead = pcap_open_dead(DLT_EN10MB, 65535);
	if (dead == NULL) {
		fprintf(stderr, "helogate-synth: cannot set up libpcap\n");
		return 1;
	}
	out.dumper = pcap_dump_open(dead, out_path);
	if (out.dumper == NULL) {
		fprintf(stderr, "helogate-synth: %s\n", pcap_geterr(dead));
		pcap_close(dead);
		return 1;
	}
	if (expect_path != NULL && (out.expect = fopen(expect_path, "w")) == NULL) {
		fprintf(stderr, "helogate-synth: %s: %s\n", expect_path, strerror(errno));
		pcap_dump_close(out.dumper);
		pcap_close(dead);
		return 1;
	}

	struct synth_sink sink = {.emit = write_frame,
	                          .event = write_event,
	                          .arg = &out,
	                          .ts_ns = SYNTH_CAPTURE_START_NS};
	struct synth_mix_stats st;
	int rc = 0;
	if (n_scenarios > 0) {
		for (int i = 0; i < n_scenarios && rc == 0; i++)
			rc = synth_scenario(scenarios[i], p.seed, &sink);
	} else {
		rc = synth_mix(&p, &sink, &st);
	}

	bool write_failed = pcap_dump_flush(out.dumper) != 0 || ferror(pcap_dump_file(out.dumper));
	pcap_dump_close(out.dumper);
	pcap_close(dead);
	if (out.expect != NULL && fclose(out.expect) != 0)
		out.expect_failed = true;
	if (rc != 0) {
		fprintf(stderr, "helogate-synth: generation failed (%s)\n",
		        rc == SYNTH_ENOMEM ? "out of memory" : "error");
		return 1;
	}
	if (write_failed || out.expect_failed) {
		fprintf(stderr, "helogate-synth: write error on %s\n",
		        write_failed ? out_path : expect_path);
		return 1;
	}
	printf("helogate-synth: %llu frames, %llu bytes, %llu expected events\n",
	       (unsigned long long)sink.frames, (unsigned long long)sink.bytes,
	       (unsigned long long)sink.events);
	return 0;
}
