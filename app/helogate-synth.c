/*
 * helogate-synth: write a capture of synthesized SMTP sessions (lib/synth)
 * and the events helogate must report for it.
 *
 * usage: helogate-synth -o OUT.pcap [--expect EVENTS.jsonl] [--profile NAME]
 *        [--sessions N] [--seed S] [--bogus-ratio R] [--concurrency K]
 *        [--body-max BYTES] [--scenario NAME]... [--list-scenarios]
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pcap/pcap.h>

#include "event.h"
#include "synth.h"

struct output {
	pcap_dumper_t *dumper;
	FILE *expect;
	unsigned long frames, events;
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
	out->frames++;
	return 0;
}

/* The expected events use helogate's own JSON form (event_format_json),
 * so a test compares like with like; ts, worker and action are ignored. */
static void write_event(void *arg, const struct synth_event *se)
{
	struct output *out = arg;
	struct event e;
	char line[EVENT_JSON_MAX];

	out->events++;
	if (out->expect == NULL)
		return;
	memset(&e, 0, sizeof(e));
	e.client = se->client;
	e.server = se->server;
	e.client_port = se->client_port;
	e.server_port = se->server_port;
	e.reason = (uint8_t)se->reason;
	e.action = EVENT_ACTION_DETECTED;
	snprintf(e.command, sizeof(e.command), "%s", se->command);
	event_set_helo(&e, se->helo, se->helo_len);
	event_set_rcpt(&e, se->rcpt, strlen(se->rcpt));
	size_t n = event_format_json(&e, line, sizeof(line));
	fwrite(line, 1, n, out->expect);
}

static void usage(FILE *f)
{
	fprintf(f, "usage: helogate-synth -o OUT.pcap [--expect EVENTS.jsonl] [--profile "
		   "smtp-mix|smtp-commands|bogus-flood|non-smtp]\n"
		   "       [--sessions N] [--seed S] [--bogus-ratio R] [--concurrency K] "
		   "[--body-max BYTES]\n"
		   "       [--scenario NAME]... [--list-scenarios]\n");
}

static int fail(const char *what, const char *value)
{
	fprintf(stderr, "helogate-synth: %s '%s'\n", what, value);
	return 2;
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{"output", required_argument, NULL, 'o'},
		{"expect", required_argument, NULL, 'e'},
		{"profile", required_argument, NULL, 'p'},
		{"sessions", required_argument, NULL, 'n'},
		{"seed", required_argument, NULL, 's'},
		{"bogus-ratio", required_argument, NULL, 'r'},
		{"concurrency", required_argument, NULL, 'k'},
		{"body-max", required_argument, NULL, 'b'},
		{"scenario", required_argument, NULL, 'S'},
		{"list-scenarios", no_argument, NULL, 'L'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct synth_params p;
	const char *out_path = NULL, *expect_path = NULL;
	const char *scenarios[64];
	int n_scenarios = 0, c;
	char *end;

	synth_params_default(&p);
	while ((c = getopt_long(argc, argv, "o:h", options, NULL)) != -1) {
		switch (c) {
		case 'o':
			out_path = optarg;
			break;
		case 'e':
			expect_path = optarg;
			break;
		case 'p':
			if (!synth_profile_from_name(optarg, &p.profile))
				return fail("unknown profile", optarg);
			break;
		case 'n':
			p.sessions = (uint32_t)strtoul(optarg, &end, 10);
			if (*end || !*optarg || p.sessions > 50000000)
				return fail("bad --sessions", optarg);
			break;
		case 's':
			p.seed = strtoull(optarg, &end, 10);
			if (*end || !*optarg)
				return fail("bad --seed", optarg);
			break;
		case 'r':
			p.bogus_ratio = strtod(optarg, &end);
			if (*end || !*optarg || p.bogus_ratio < 0 || p.bogus_ratio > 1)
				return fail("bad --bogus-ratio (0..1)", optarg);
			break;
		case 'k':
			p.concurrency = (uint32_t)strtoul(optarg, &end, 10);
			if (*end || !*optarg || p.concurrency < 1 || p.concurrency > 1000000)
				return fail("bad --concurrency", optarg);
			break;
		case 'b':
			p.body_max = (uint32_t)strtoul(optarg, &end, 10);
			if (*end || !*optarg)
				return fail("bad --body-max", optarg);
			break;
		case 'S':
			if (!synth_scenario_exists(optarg))
				return fail("unknown scenario (see --list-scenarios)", optarg);
			if (n_scenarios == 64)
				return fail("too many scenarios at", optarg);
			scenarios[n_scenarios++] = optarg;
			break;
		case 'L':
			for (int i = 0; synth_scenario_names[i]; i++)
				puts(synth_scenario_names[i]);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc)
		return fail("unexpected argument", argv[optind]);
	if (out_path == NULL) {
		usage(stderr);
		return 2;
	}
	struct output out = {0};
	pcap_t *dead = pcap_open_dead(DLT_EN10MB, 65535);
	out.dumper = dead ? pcap_dump_open(dead, out_path) : NULL;
	if (out.dumper == NULL)
		return fail(dead ? pcap_geterr(dead) : "cannot open pcap", out_path);
	if (expect_path != NULL && (out.expect = fopen(expect_path, "w")) == NULL)
		return fail(strerror(errno), expect_path);
	int rc = 0;
	if (n_scenarios > 0) {
		for (int i = 0; i < n_scenarios && rc == 0; i++)
			rc = synth_scenario(scenarios[i], p.seed, write_frame, &out, write_event, &out);
	} else {
		rc = synth_generate(&p, write_frame, &out, write_event, &out);
	}
	pcap_dump_close(out.dumper);
	pcap_close(dead);
	if (out.expect != NULL && fclose(out.expect) != 0)
		rc = -1;
	if (rc != 0) {
		fprintf(stderr, "helogate-synth: generation failed (%d)\n", rc);
		return 1;
	}
	fprintf(stderr, "helogate-synth: %lu frames, %lu expected events\n", out.frames, out.events);
	return 0;
}
