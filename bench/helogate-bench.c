/*
 * helogate-bench: packets per second of the real worker code (the same
 * worker_handle_burst() helogate runs), from memory, against a null
 * pipeline on the same packets and cores, in the same run.
 *
 * usage: helogate-bench [EAL options] -- [--profile NAME|all] [--pcap FILE]
 *        [--concurrent C] [--sessions S] [--seconds T] [--batch B] ...
 *        (--help lists every option)
 *
 * A profile (lib/synth, or a pcap) is loaded into mbufs once per worker and
 * replayed as C concurrent sessions spread over the EAL worker lcores by a
 * symmetric RSS hash of their tuples; every session a slot starts is a new
 * tuple (bench_replay.c says how). By default all C sessions are active
 * and their packets interleave across all of them, so the flow state is
 * cold as on a real edge; --warm keeps only 64 per worker active and opens
 * the rest as idle sessions: the index holds C flows while the records
 * touched stay in cache. Passes, each on every worker at once: warm-up
 * (start the sessions, staggered), helogate (timed), helogate with
 * worker_set_profiling (timed, for the stage split and the per-class table
 * only), null pipeline (testpmd's macswap, timed). Meanwhile the main lcore
 * takes the events off the workers' rings as helogate's control thread
 * does. The verdict counts of the helogate passes must equal what the
 * profile's expected events say for the frames handed in; otherwise the
 * run is reported FAILED, whatever its speed.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_memory.h>

#include "dp/policy_rcu.h"
#include "judge/policy.h"
#include "bench.h"
#include "filter/event.h"
#include "filter/session.h"
#include "wire/inject.h"
#include "smtp/scan.h"
#include "synth/synth.h"

#define MAX_WORKERS 64
/* --warm: sessions active per worker (the rest of --concurrent is idle). */
#define WARM_ACTIVE 64

struct options {
	const char *profile, *pcap, *json, *banlist;
	uint32_t concurrent, idle, sessions, interleave, body_max, batch, stagger, flows, blocks;
	uint16_t smtp_port;
	double seconds;
	int mode; /* -1: by profile (bogus-flood enforce, others detect) */
	bool profile_pass, sw_checksum, baseline, warm;
};

/* What one worker lcore runs for a pass. */
struct job {
	struct bench_replay *r;
	enum bench_pass pass;
	uint64_t budget, max_wall;
};

static struct job jobs[MAX_WORKERS];
static struct bench_replay replays[MAX_WORKERS];
static struct worker *workers[MAX_WORKERS];
static unsigned n_workers;
static atomic_uint jobs_done;

static int job_main(void *arg)
{
	struct job *j = arg;

	bench_replay_run(j->r, j->pass, j->budget, j->max_wall);
	atomic_fetch_add_explicit(&jobs_done, 1, memory_order_release);
	return 0;
}

/* The control thread's part, as app/helogate.c's drain_events() does it:
 * read every event the workers published, format it as the events file's
 * line (thrown away here: the file's I/O is the control thread's own cost)
 * and release it, so the event lines move between the caches as they do
 * in helogate and the workers pay for events as they would. Returns how
 * many were taken. */
static unsigned drain_events(void)
{
	static const struct event_format fmt = {.host = "bench", .replies = NULL};
	char line[EVENT_JSON_MAX];
	unsigned taken = 0;

	for (unsigned i = 0; i < n_workers; i++) {
		struct event_ring *ring = worker_events(workers[i]);
		const struct event *e;
		while ((e = event_ring_peek(ring)) != NULL) {
			event_format_json(e, &fmt, line, sizeof(line));
			event_ring_release(ring);
			taken++;
		}
	}
	return taken;
}

static void run_pass(enum bench_pass pass, double seconds)
{
	uint64_t hz = rte_get_tsc_hz();
	unsigned i = 0, lcore;

	atomic_store(&jobs_done, 0);
	RTE_LCORE_FOREACH_WORKER(lcore)
	{
		jobs[i] = (struct job){.r = &replays[i],
		                       .pass = pass,
		                       .budget = (uint64_t)(seconds * (double)hz),
		                       .max_wall = (uint64_t)((seconds * 20 + 120) * (double)hz)};
		rte_eal_remote_launch(job_main, &jobs[i], lcore);
		if (++i == n_workers)
			break;
	}
	/* helogate's control loop: drain, sleep 1 ms only when nothing came. */
	while (atomic_load_explicit(&jobs_done, memory_order_acquire) < n_workers)
		if (drain_events() == 0)
			usleep(1000);
	rte_eal_mp_wait_lcore();
	drain_events();
}

/* Open count idle sessions (handshake only), each on the worker RSS picks. */
static int open_idle_sessions(struct rte_mempool *pool, uint32_t count)
{
	struct rte_mbuf *pkts[3];
	struct inject_template t;

	memset(&t, 0, sizeof(t));
	memcpy(t.l2, "\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01\x08\x00", 14);
	t.l2_len = 14;
	t.ip_version = 4;
	t.server.family = t.client.family = 4;
	memcpy(t.server.bytes, "\xc6\x12\x01\x19", 4);
	t.server_port = 25;
	for (uint32_t s = 0; s < count; s++) {
		/* 198.18.128.0/17, apart from the lab's and the replay's clients */
		t.client.bytes[0] = 198, t.client.bytes[1] = 18;
		t.client.bytes[2] = (uint8_t)(128 | ((s >> 8) & 0x7f));
		t.client.bytes[3] = (uint8_t)s;
		t.client_port = (uint16_t)(10000 + (s >> 15));
		struct inject_segment seg[3] = {
		    {.to_client = false,
		     .flags = 0x02,
		     .seq = s,
		     .mss = 1460,
		     .wscale = 7,
		     .window = 64240},
		    {.to_client = true,
		     .flags = 0x12,
		     .seq = ~s,
		     .ack = s + 1,
		     .mss = 1460,
		     .wscale = 7,
		     .window = 64240},
		    {.to_client = false, .flags = 0x10, .seq = s + 1, .ack = ~s + 1, .window = 502},
		};
		for (int k = 0; k < 3; k++) {
			pkts[k] = rte_pktmbuf_alloc(pool);
			if (pkts[k] == NULL)
				return -1;
			uint8_t *d = (uint8_t *)rte_pktmbuf_append(pkts[k], 128);
			uint32_t len = inject_build(&t, &seg[k], d, 128);
			rte_pktmbuf_trim(pkts[k], (uint16_t)(128 - len));
			pkts[k]->ol_flags |=
			    RTE_MBUF_F_RX_L4_CKSUM_GOOD | RTE_MBUF_F_RX_IP_CKSUM_GOOD;
		}
		uint32_t h = bench_rss_hash(4, t.client.bytes, t.server.bytes, t.client_port, 25);
		struct worker *w = workers[bench_rss_queue(h, n_workers)];
		worker_handle_burst(w, pkts, 3, WORKER_SIDE_LAB, worker_clock_ms());
		for (int side = 0; side < WORKER_SIDE_COUNT; side++) {
			struct worker_tx *tx = worker_tx(w, (enum worker_side)side);
			rte_pktmbuf_free_bulk(tx->pkts, tx->count);
			tx->count = 0;
		}
		if ((s & 1023) == 0)
			worker_quiescent(w);
	}
	return 0;
}

static void usage(FILE *out)
{
	fprintf(
	    out,
	    "usage: helogate-bench [EAL options] -- [options]\n"
	    "  --profile NAME      smtp-mix, smtp-commands, bogus-flood, non-smtp, enforce (the\n"
	    "                      bogus flood taken over) or all (default all)\n"
	    "  --pcap FILE         replay a capture instead (no expected verdicts)\n"
	    "  --concurrent C      sessions open at once, over all workers, all active: their\n"
	    "                      packets interleave, flow state cold (default 10000)\n"
	    "  --warm              only 64 sessions per worker active, the rest of C idle: a\n"
	    "                      C-flow index with the touched records in cache (the old mode)\n"
	    "  --sessions S        template sessions synthesized (default 4096; at most C per "
	    "worker)\n"
	    "  --idle I            also open I idle sessions (handshake only) first\n"
	    "  --seconds T         timed work per pass and worker (default 2)\n"
	    "  --batch B           frames prepared, then handed in (default 1024, at most S)\n"
	    "  --stagger R         warm-up rounds over which the sessions start (default 32, <= "
	    "255)\n"
	    "  --mode M            detect or enforce (default: enforce for the enforce profile, "
	    "else detect)\n"
	    "  --interleave K      sessions in progress at once inside the synthesized capture "
	    "(32)\n"
	    "  --body-max N        largest smtp-mix body in bytes (default 16384)\n"
	    "  --banlist FILE      banned HELO names (default: the lab's three)\n"
	    "  --flows N           flow-table capacity per worker (default: sized from C and I)\n"
	    "  --blocks N          2 KiB blocks per worker (default 65536; enforce: + C per "
	    "worker,\n"
	    "                      one per taken-over session)\n"
	    "  --smtp-port N       the SMTP port of a --pcap capture (default 25)\n"
	    "  --sw-checksum       verify TCP checksums in software (default: marked good, as "
	    "offload does)\n"
	    "  --no-profile-pass   skip the profiled pass (stage cycles)\n"
	    "  --no-baseline       skip the null pipeline (e.g. under perf)\n"
	    "  --json FILE         append one JSON line per profile\n");
}

static int parse_options(int argc, char **argv, struct options *o)
{
	static const struct option long_options[] = {
	    {"profile", required_argument, NULL, 'p'},
	    {"pcap", required_argument, NULL, 'f'},
	    {"concurrent", required_argument, NULL, 'c'},
	    {"sessions", required_argument, NULL, 'n'},
	    {"idle", required_argument, NULL, 'i'},
	    {"seconds", required_argument, NULL, 's'},
	    {"batch", required_argument, NULL, 'B'},
	    {"stagger", required_argument, NULL, 'R'},
	    {"mode", required_argument, NULL, 'M'},
	    {"interleave", required_argument, NULL, 'k'},
	    {"body-max", required_argument, NULL, 'b'},
	    {"banlist", required_argument, NULL, 'L'},
	    {"flows", required_argument, NULL, 'F'},
	    {"blocks", required_argument, NULL, 'K'},
	    {"smtp-port", required_argument, NULL, 't'},
	    {"sw-checksum", no_argument, NULL, 'C'},
	    {"no-profile-pass", no_argument, NULL, 'P'},
	    {"no-baseline", no_argument, NULL, 'N'},
	    {"json", required_argument, NULL, 'j'},
	    {"warm", no_argument, NULL, 'W'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	*o = (struct options){.profile = "all",
	                      .concurrent = 10000,
	                      .sessions = 4096,
	                      .interleave = 32,
	                      .body_max = 16384,
	                      .batch = 1024,
	                      .stagger = 32,
	                      .smtp_port = 25,
	                      .seconds = 2.0,
	                      .mode = -1,
	                      .profile_pass = true,
	                      .baseline = true};
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", long_options, NULL)) != -1) {
		switch (c) {
		case 'p':
			o->profile = optarg;
			break;
		case 'f':
			o->pcap = optarg;
			break;
		case 'c':
			o->concurrent = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		case 'n':
			o->sessions = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		case 'i':
			o->idle = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		case 's':
			o->seconds = strtod(optarg, NULL);
			break;
		case 'B':
			o->batch = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		case 'R':
			o->stagger = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		case 'k':
			o->interleave = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		case 'b':
			o->body_max = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		case 'L':
			o->banlist = optarg;
			break;
		case 'F':
			o->flows = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		case 'K':
			o->blocks = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		case 't':
			o->smtp_port = (uint16_t)strtoul(optarg, NULL, 10);
			break;
		case 'C':
			o->sw_checksum = true;
			break;
		case 'P':
			o->profile_pass = false;
			break;
		case 'N':
			o->baseline = false;
			break;
		case 'j':
			o->json = optarg;
			break;
		case 'W':
			o->warm = true;
			break;
		case 'M':
			if (strcmp(optarg, "detect") == 0)
				o->mode = CONFIG_MODE_DETECT;
			else if (strcmp(optarg, "enforce") == 0)
				o->mode = CONFIG_MODE_ENFORCE;
			else {
				fprintf(stderr, "helogate-bench: --mode is detect or enforce\n");
				return 2;
			}
			break;
		case 'h':
			usage(stdout);
			return 1;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (o->concurrent == 0 || o->sessions == 0 || o->interleave == 0 || o->seconds <= 0 ||
	    o->batch == 0 || o->stagger == 0 || o->stagger > 255) {
		fprintf(stderr,
		        "helogate-bench: --concurrent, --sessions, --interleave, --seconds, "
		        "--batch must be positive, --stagger 1..255\n");
		return 2;
	}
	return 0;
}

/* ---- one profile ------------------------------------------------------------------------ */

struct totals {
	double seconds; /* the slowest worker's timed seconds */
	double pps, bps, cycles_per_pkt;
	uint64_t packets, cycles;
	double pps_w[MAX_WORKERS];
	uint64_t packets_w[MAX_WORKERS];
};

static void sum_pass(struct totals *t)
{
	double hz = (double)rte_get_tsc_hz();

	memset(t, 0, sizeof(*t));
	for (unsigned i = 0; i < n_workers; i++) {
		const struct bench_replay *r = &replays[i];
		double s = (double)r->cycles / hz;
		t->pps_w[i] = s > 0 ? (double)r->packets / s : 0;
		t->packets_w[i] = r->packets;
		t->pps += t->pps_w[i];
		t->bps += s > 0 ? (double)r->bytes * 8.0 / s : 0;
		t->packets += r->packets;
		t->cycles += r->cycles;
		if (s > t->seconds)
			t->seconds = s;
	}
	t->cycles_per_pkt = t->packets ? (double)t->cycles / (double)t->packets : 0;
}

static void sum_counters(struct worker_counters *out)
{
	memset(out, 0, sizeof(*out));
	uint64_t *o = (uint64_t *)out;
	for (unsigned i = 0; i < n_workers; i++) {
		const uint64_t *c = (const uint64_t *)worker_counters(workers[i]);
		for (size_t k = 0; k < sizeof(*out) / sizeof(uint64_t); k++)
			o[k] += c[k];
	}
}

static struct rte_mempool *make_pool(const struct bench_profile *p, uint32_t per_worker_extra)
{
	static unsigned serial;
	char name[32];
	uint32_t room = RTE_PKTMBUF_HEADROOM + (uint32_t)p->max_len;
	if (room < RTE_MBUF_DEFAULT_BUF_SIZE)
		room = RTE_MBUF_DEFAULT_BUF_SIZE;
	room = (room + 63) & ~63u;
	uint64_t n = ((uint64_t)p->n_frames + per_worker_extra) * n_workers + 4096;
	snprintf(name, sizeof(name), "bench%u", serial++);
	return rte_pktmbuf_pool_create(name, (unsigned)n, 256, 0, (uint16_t)room,
	                               (int)rte_socket_id());
}

/* What the run's memory is: the page size under the mbufs and every rte_*
 * allocation ("4k" with --no-huge, "2m" with 2 MiB hugepages). */
static const char *pages_name;

static const char *find_pages(void)
{
	void *probe = rte_malloc(NULL, 64, 0);
	const struct rte_memseg_list *msl = probe ? rte_mem_virt2memseg_list(probe) : NULL;
	uint64_t sz = msl ? msl->page_sz : (rte_eal_has_hugepages() ? RTE_PGSIZE_2M : 4096);

	rte_free(probe);
	if (!rte_eal_has_hugepages() || sz <= 4096)
		return "4k";
	return sz == RTE_PGSIZE_2M ? "2m" : sz == RTE_PGSIZE_1G ? "1g" : "huge";
}

/* The last-level cache's size in bytes (sysfs), 0 when unknown. */
static uint64_t llc_bytes(void)
{
	uint64_t best = 0;
	for (int i = 0; i < 8; i++) {
		char path[96];
		snprintf(path, sizeof(path), "/sys/devices/system/cpu/cpu0/cache/index%d/size", i);
		FILE *f = fopen(path, "r");
		if (f == NULL)
			break;
		unsigned long v = 0;
		char unit = 0;
		if (fscanf(f, "%lu%c", &v, &unit) >= 1) {
			uint64_t b = unit == 'M'   ? (uint64_t)v << 20
			             : unit == 'K' ? (uint64_t)v << 10
			                           : v;
			if (b > best)
				best = b;
		}
		fclose(f);
	}
	return best;
}

static int run_profile(const char *name, const struct options *o, struct config *cfg,
                       const struct worker_shared *shared_in, FILE *json)
{
	char err[512];
	struct bench_profile prof;
	uint32_t per_worker = (o->concurrent + n_workers - 1) / n_workers;
	/* --warm: a few active sessions per worker, the rest idle. */
	uint32_t active = o->warm
	                      ? (per_worker < WARM_ACTIVE ? per_worker : WARM_ACTIVE) * n_workers
	                      : o->concurrent;
	if (active > o->concurrent)
		active = o->concurrent;
	uint32_t idle = o->idle + (o->concurrent - active);
	int rc;

	if (o->pcap)
		rc = bench_profile_pcap(&prof, o->pcap, cfg, err, sizeof(err));
	else
		rc = bench_profile_synth(&prof, name,
		                         o->sessions < per_worker ? o->sessions : per_worker,
		                         o->interleave, o->body_max, cfg, err, sizeof(err));
	if (rc != 0) {
		fprintf(stderr, "helogate-bench: %s\n", err);
		return 2;
	}
	enum config_mode mode = o->mode >= 0                   ? (enum config_mode)o->mode
	                        : strcmp(name, "enforce") == 0 ? CONFIG_MODE_ENFORCE
	                                                       : CONFIG_MODE_DETECT;
	if (mode == CONFIG_MODE_ENFORCE && prof.has_events &&
	    bench_profile_cut_at_takeover(&prof, err, sizeof(err)) != 0) {
		fprintf(stderr, "helogate-bench: %s\n", err);
		return 2;
	}
	cfg->mode = mode;
	/* The policy's actions follow the mode: publish one built for it
	 * (every worker is offline here). */
	{
		const char *names[CONFIG_MAX_LOCAL_DOMAINS];
		struct policy_settings ps;
		config_policy_settings(cfg, names, &ps, n_workers);
		struct policy *pol = policy_build(&ps, err, sizeof(err));
		if (pol == NULL) {
			fprintf(stderr, "helogate-bench: %s\n", err);
			bench_profile_free(&prof);
			return 2;
		}
		policy_rcu_replace(shared_in->policy, pol);
	}
	/* The idle sessions are not spread exactly evenly (RSS): room for 25% more. */
	uint64_t flows = o->flows ? o->flows
	                          : (uint64_t)per_worker + per_worker / 4 +
	                                (uint64_t)o->idle / n_workers * 5 / 4 + 65536;
	if (flows > UINT32_MAX / 2) {
		fprintf(stderr, "helogate-bench: too many flows per worker\n");
		return 2;
	}
	cfg->flows_per_worker = (uint32_t)flows;
	/* A takeover holds a block for its session's life: every concurrent
	 * bogus session may need one. */
	cfg->blocks_per_worker = o->blocks                     ? o->blocks
	                         : mode == CONFIG_MODE_ENFORCE ? per_worker + 65536u
	                                                       : 65536u;
	struct rte_mempool *pool = make_pool(&prof, 16384);
	if (pool == NULL) {
		fprintf(stderr,
		        "helogate-bench: cannot create the mbuf pool for %u frames (more -m)\n",
		        prof.n_frames);
		bench_profile_free(&prof);
		return 2;
	}
	struct worker_shared shared = *shared_in;
	shared.mbufs = pool;
	for (unsigned i = 0; i < n_workers; i++) {
		workers[i] = worker_create(i, &shared, err, sizeof(err));
		if (workers[i] == NULL) {
			fprintf(stderr, "helogate-bench: %s\n", err);
			return 2;
		}
		policy_rcu_reader_online(shared.policy, i);
	}
	uint64_t hz = rte_get_tsc_hz();
	if (idle > 0) {
		uint64_t t0 = rte_rdtsc();
		if (open_idle_sessions(pool, idle) != 0) {
			fprintf(stderr, "helogate-bench: out of mbufs opening idle sessions\n");
			return 2;
		}
		fprintf(stderr, "helogate-bench: %u idle sessions opened in %.1f s\n", idle,
		        (double)(rte_rdtsc() - t0) / (double)hz);
	}
	for (unsigned i = 0; i < n_workers; i++) {
		struct bench_replay *r = &replays[i];
		memset(r, 0, sizeof(*r));
		r->p = &prof;
		r->w = workers[i];
		r->id = i;
		r->n_workers = n_workers;
		r->n_slots = active / n_workers + (i < active % n_workers);
		r->batch = o->batch;
		r->stagger = o->stagger;
		r->mode = mode;
		if (bench_replay_init(r, pool, err, sizeof(err)) != 0) {
			fprintf(stderr, "helogate-bench: %s\n", err);
			return 2;
		}
		if (!o->sw_checksum)
			for (uint32_t f = 0; f < prof.n_frames; f++)
				r->m[f]->ol_flags |=
				    RTE_MBUF_F_RX_L4_CKSUM_GOOD | RTE_MBUF_F_RX_IP_CKSUM_GOOD;
	}

	/* Warm-up: every slot starts its first session. */
	uint64_t t0 = rte_rdtsc();
	run_pass(BENCH_WARM_UP, 0);
	uint64_t warm_packets = 0;
	for (unsigned i = 0; i < n_workers; i++)
		warm_packets += replays[i].packets;
	uint32_t open = 0;
	for (unsigned i = 0; i < n_workers; i++)
		open += worker_flow_count(workers[i]);
	fprintf(stderr,
	        "helogate-bench: %s: %u frames in %u template sessions; warm-up %" PRIu64
	        " packets in %.1f s, %u sessions tracked\n",
	        prof.name, prof.n_frames, prof.n_sessions, warm_packets,
	        (double)(rte_rdtsc() - t0) / (double)hz, open);
	/* Is the flow state cold? Each round hands in one packet of every active
	 * session, so between two packets of a session every other active
	 * session's record is touched, with its key line and index bucket, and
	 * the round's packets and everything else the worker reads pass through
	 * the same caches. Records alone in less than half the LLC may stay
	 * there (not cold); beyond twice the LLC the record a packet needs has
	 * been evicted since the session's previous packet. Measured on a 32 MiB
	 * LLC (docs/performance.md): a pure ACK costs ~400 cycles at 10,000
	 * sessions (2.4 MiB of records), ~1,200 from 100,000 (24 MiB) on. */
	uint64_t record_bytes = (sizeof(struct session) + 63) & ~(uint64_t)63;
	double flow_mb = (double)(active / n_workers) * (double)record_bytes / 1048576.0;
	uint64_t llc = llc_bytes();
	double llc_mb = (double)llc / 1048576.0;
	const char *coldness =
	    o->warm || llc == 0    ? ""
	    : flow_mb < llc_mb / 2 ? ": NOT cold, the records fit in the LLC (raise --concurrent)"
	    : flow_mb < 2 * llc_mb ? ": partly cold (records near the LLC's size)"
	                           : "";
	fprintf(stderr,
	        "helogate-bench: %s flow state: %u active sessions per worker touch %.1f MiB of "
	        "%" PRIu64 "-byte records per round (LLC %.0f MiB)%s\n",
	        o->warm ? "warm" : "cold", active / n_workers, flow_mb, record_bytes, llc_mb,
	        coldness);

	/* The measured pass. */
	struct worker_counters c0, c1, c2;
	uint64_t done0 = 0, done1 = 0;
	sum_counters(&c0);
	for (unsigned i = 0; i < n_workers; i++)
		done0 += replays[i].sessions_done;
	run_pass(BENCH_HELOGATE, o->seconds);
	struct totals hg;
	sum_pass(&hg);
	sum_counters(&c1);
	for (unsigned i = 0; i < n_workers; i++)
		done1 += replays[i].sessions_done;
	/* Per worker: over the slowest worker's timed seconds. */
	double judged_w =
	    hg.seconds > 0 ? (double)(c1.judged - c0.judged) / hg.seconds / n_workers : 0;
	double sessions_w = hg.seconds > 0 ? (double)(done1 - done0) / hg.seconds / n_workers : 0;

	/* The profiled pass: stage cycles only. */
	double stage[WORKER_STAGE_COUNT] = {0}, prof_total = 0;
	uint64_t class_pk[BENCH_CLASS_COUNT] = {0}, class_cy[BENCH_CLASS_COUNT] = {0};
	bool have_stages = false;
	if (o->profile_pass) {
		for (unsigned i = 0; i < n_workers; i++) {
			struct bench_replay *r = &replays[i];
			memset(r->class_packets, 0, sizeof(r->class_packets));
			memset(r->class_cycles, 0, sizeof(r->class_cycles));
			r->profiling = true;
			worker_set_profiling(workers[i], true, r->pkt_cycles);
		}
		run_pass(BENCH_HELOGATE, o->seconds / 2);
		for (unsigned i = 0; i < n_workers; i++) {
			worker_set_profiling(workers[i], false, NULL);
			replays[i].profiling = false;
			for (int k = 0; k < BENCH_CLASS_COUNT; k++) {
				class_pk[k] += replays[i].class_packets[k];
				class_cy[k] += replays[i].class_cycles[k];
			}
		}
		struct totals pt;
		sum_pass(&pt);
		sum_counters(&c2);
		for (int s = 0; s < WORKER_STAGE_COUNT; s++)
			stage[s] = pt.packets ? (double)(c2.stage_cycles[s] - c1.stage_cycles[s]) /
			                            (double)pt.packets
			                      : 0;
		prof_total = pt.cycles_per_pkt;
		have_stages = true;
	} else {
		c2 = c1;
	}

	/* Verdicts: exactly what the frames handed in must give. */
	bool ok = true;
	char detail[512] = "";
	size_t dl = 0;
	uint64_t expected[VERDICT_COUNT] = {0};
	for (unsigned i = 0; i < n_workers; i++)
		for (int v = 0; v < VERDICT_COUNT; v++)
			expected[v] += replays[i].expected[v];
	if (prof.has_events) {
		for (int v = 1; v < VERDICT_COUNT; v++) {
			if (c2.verdicts[v] == expected[v])
				continue;
			ok = false;
			dl += (size_t)snprintf(detail + dl,
			                       dl < sizeof(detail) ? sizeof(detail) - dl : 0,
			                       "%s %" PRIu64 "/%" PRIu64 " ",
			                       verdict_reason_name((enum verdict_reason)v),
			                       c2.verdicts[v], expected[v]);
		}
	}
	uint64_t bogus = 0;
	for (int v = 1; v < VERDICT_COUNT; v++)
		bogus += c2.verdicts[v];

	/* The null pipeline, on the same slots and cores. Its rate is steady
	 * within a fraction of a second, while preparing its packets (not
	 * timed) takes several times longer than handing them in: a quarter
	 * of the budget keeps the wall time down. */
	struct totals base;
	memset(&base, 0, sizeof(base));
	if (o->baseline) {
		run_pass(BENCH_NULL, o->seconds / 4);
		sum_pass(&base);
	}

	const char *mode_name = mode == CONFIG_MODE_ENFORCE ? "enforce" : "detect";
	const char *verdict_text = !prof.has_events ? "n/a(pcap)" : ok ? "ok" : "FAILED";
	const char *flow_state = o->warm ? "warm" : "cold";
	printf("%-14s %-7s %3u %10u %-4s %-5s %9.2f %8.2f %7.2f %7.0f %9.2f %7.0f %6.0f%% %11.0f "
	       "%10.0f %s\n",
	       prof.name, mode_name, n_workers, o->concurrent, flow_state, pages_name, hg.pps / 1e6,
	       hg.pps / 1e6 / n_workers, hg.bps / 1e9, hg.cycles_per_pkt, base.pps / 1e6,
	       base.cycles_per_pkt, base.pps > 0 ? 100.0 * hg.pps / base.pps : 0, judged_w,
	       sessions_w, verdict_text);
	if (n_workers > 1) {
		printf("    Mpps per worker:");
		for (unsigned i = 0; i < n_workers; i++)
			printf(" %.2f", hg.pps_w[i] / 1e6);
		printf(" (total %.2f)\n", hg.pps / 1e6);
	}
	if (!ok)
		printf("    verdicts differ (got/expected): %s\n", detail);
	if (c2.flows_table_full || c2.events_dropped || c2.helo_no_memory ||
	    c2.dropped[CAUSE_BAD_CHECKSUM])
		printf("    note: flows_table_full %" PRIu64 ", events_dropped %" PRIu64
		       ", helo_no_memory %" PRIu64 ", bad_checksum_dropped %" PRIu64 "\n",
		       c2.flows_table_full, c2.events_dropped, c2.helo_no_memory,
		       c2.dropped[CAUSE_BAD_CHECKSUM]);
	if (mode == CONFIG_MODE_ENFORCE)
		printf("    enforce: takeovers %" PRIu64 ", not quiet %" PRIu64
		       ", no memory %" PRIu64 ", injected %" PRIu64 " segments + %" PRIu64
		       " RSTs, %" PRIu64 " retransmits, rejected RCPTs %" PRIu64 "\n",
		       c2.takeovers, c2.takeover_not_quiet, c2.takeover_no_memory,
		       c2.injected_segments, c2.injected_rsts, c2.injected_retransmits,
		       c2.takeover_rejected_rcpts);
	char stages[512] = "";
	if (have_stages) {
		double parse = stage[WORKER_STAGE_PARSE], flow = stage[WORKER_STAGE_FLOW];
		double reasm = stage[WORKER_STAGE_REASSEMBLY], smtp = stage[WORKER_STAGE_SMTP];
		double verdict = stage[WORKER_STAGE_VERDICT], inject = stage[WORKER_STAGE_INJECT];
		double total = stage[WORKER_STAGE_TOTAL];
		double other = total - parse - flow - reasm - inject;
		snprintf(stages, sizeof(stages),
		         ",\"stage_cycles\":{\"parse\":%.1f,\"flow\":%.1f,\"reassembly\":%.1f,"
		         "\"smtp_scan\":%.1f,\"verdict\":%.1f,\"inject\":%.1f,\"other\":%.1f,"
		         "\"total\":%.1f},\"profiled_cycles_per_packet\":%.1f",
		         parse, flow, reasm - smtp, smtp - verdict, verdict, inject, other, total,
		         prof_total);
		printf("    cycles/packet by stage (profiled pass, %.0f cycles/packet there, "
		       "%+.0f%%): "
		       "parse %.0f, flow %.0f, reassembly %.0f, smtp+scan %.0f, verdict %.0f, "
		       "inject %.0f, other %.0f; worker total %.0f\n",
		       prof_total, 100.0 * (prof_total / hg.cycles_per_pkt - 1), parse, flow,
		       reasm - smtp, smtp - verdict, verdict, inject, other, total);
	}
	/* Per class, from the profiled pass: share of packets, cycles per
	 * packet in worker_handle_burst(); the rest of the timed loop (taking
	 * the transmit batches back, expiry, quiescent points, refreshing the
	 * policy) is spread over all packets as "outside". */
	char classes[1536] = "";
	uint64_t class_total = 0, class_cycles_total = 0;
	for (int k = 0; k < BENCH_CLASS_COUNT; k++) {
		class_total += class_pk[k];
		class_cycles_total += class_cy[k];
	}
	if (have_stages && class_total > 0) {
		double outside = prof_total - (double)class_cycles_total / (double)class_total;
		size_t cl = (size_t)snprintf(classes, sizeof(classes), ",\"classes\":{");
		printf("    per class (profiled pass): %-15s %7s %8s\n", "class", "packets",
		       "cyc/pkt");
		for (int k = 0; k < BENCH_CLASS_COUNT; k++) {
			double share = (double)class_pk[k] / (double)class_total;
			double cyc = class_pk[k] ? (double)class_cy[k] / (double)class_pk[k] : 0;
			printf("    %27s%-15s %6.1f%% %8.0f\n", "",
			       bench_class_name((enum bench_class)k), 100 * share, cyc);
			cl += (size_t)snprintf(
			    classes + cl, cl < sizeof(classes) ? sizeof(classes) - cl : 0,
			    "%s\"%s\":{\"share\":%.4f,\"cycles_per_packet\":%.1f}", k ? "," : "",
			    bench_class_name((enum bench_class)k), share, cyc);
		}
		printf("    %27s%-15s %7s %8.0f  (expiry, tx take-back, quiescent; every packet)\n",
		       "", "outside", "", outside);
		snprintf(classes + cl, cl < sizeof(classes) ? sizeof(classes) - cl : 0,
		         "},\"class_outside_cycles_per_packet\":%.1f", outside);
	}
	char workers_json[1536];
	size_t pw = (size_t)snprintf(workers_json, sizeof(workers_json), ",\"pps_workers\":[");
	for (unsigned i = 0; i < n_workers; i++)
		pw += (size_t)snprintf(workers_json + pw,
		                       pw < sizeof(workers_json) ? sizeof(workers_json) - pw : 0,
		                       "%s%.0f", i ? "," : "", hg.pps_w[i]);
	pw += (size_t)snprintf(workers_json + pw,
	                       pw < sizeof(workers_json) ? sizeof(workers_json) - pw : 0,
	                       "],\"packets_workers\":[");
	for (unsigned i = 0; i < n_workers; i++)
		pw += (size_t)snprintf(workers_json + pw,
		                       pw < sizeof(workers_json) ? sizeof(workers_json) - pw : 0,
		                       "%s%" PRIu64, i ? "," : "", hg.packets_w[i]);
	snprintf(workers_json + pw, pw < sizeof(workers_json) ? sizeof(workers_json) - pw : 0, "]");
	char line[8192];
	int len = snprintf(
	    line, sizeof(line),
	    "{\"profile\":\"%s\",\"mode\":\"%s\",\"workers\":%u,\"concurrent\":%u,\"idle\":%u,"
	    "\"flow_state\":\"%s\",\"pages\":\"%s\",\"active_sessions\":%u,"
	    "\"flow_record_mib_per_worker\":%.1f,\"llc_mib\":%.0f,"
	    "\"template_sessions\":%u,\"template_frames\":%u,\"batch\":%u,\"seconds\":%.3f,"
	    "\"packets\":%" PRIu64 ",\"pps\":%.0f,\"pps_per_worker\":%.0f,\"bps\":%.0f,"
	    "\"bps_per_worker\":%.0f,\"cycles_per_packet\":%.1f,\"baseline_pps\":%.0f,"
	    "\"baseline_cycles_per_packet\":%.1f,\"ratio\":%.3f,\"judged_per_s_per_worker\":%.0f,"
	    "\"sessions_per_s_per_worker\":%.0f,\"verdicts_ok\":%s,\"bogus_verdicts\":%" PRIu64
	    ",\"flows_table_full\":%" PRIu64 ",\"events_dropped\":%" PRIu64 "%s%s%s}",
	    prof.name, mode_name, n_workers, o->concurrent, o->idle, flow_state, pages_name, active,
	    flow_mb, (double)llc / 1048576.0, prof.n_sessions, prof.n_frames, replays[0].batch,
	    hg.seconds, hg.packets, hg.pps, hg.pps / n_workers, hg.bps, hg.bps / n_workers,
	    hg.cycles_per_pkt, base.pps, base.cycles_per_pkt, base.pps > 0 ? hg.pps / base.pps : 0,
	    judged_w, sessions_w,
	    !prof.has_events ? "null"
	    : ok             ? "true"
	                     : "false",
	    bogus, c2.flows_table_full, c2.events_dropped, workers_json, stages, classes);
	(void)len;
	printf("JSON %s\n", line);
	if (json)
		fprintf(json, "%s\n", line);
	fflush(stdout);

	for (unsigned i = 0; i < n_workers; i++) {
		bench_replay_free(&replays[i]);
		policy_rcu_reader_offline(shared.policy, i);
		worker_free(workers[i]);
		workers[i] = NULL;
	}
	rte_mempool_free(pool);
	bench_profile_free(&prof);
	return ok ? 0 : 1;
}

int main(int argc, char **argv)
{
	int eal = rte_eal_init(argc, argv);
	if (eal < 0) {
		fprintf(stderr, "helogate-bench: EAL initialization failed\n");
		return 2;
	}
	argc -= eal;
	argv += eal;
	struct options o;
	int rc = parse_options(argc, argv, &o);
	if (rc != 0)
		return rc == 1 ? 0 : rc;
	n_workers = rte_lcore_count() - 1;
	if (n_workers == 0 || n_workers > MAX_WORKERS) {
		fprintf(stderr,
		        "helogate-bench: need 1..%d worker lcores besides the main one (-l 0,1)\n",
		        MAX_WORKERS);
		return 2;
	}

	/* The shared state helogate builds (app/helogate.c), in the lab context. */
	static struct config cfg;
	char err[512];
	config_defaults(&cfg);
	cfg.single_port = true;
	cfg.lab_port = 0;
	cfg.smtp_ports[0] = o.smtp_port;
	cfg.n_smtp_ports = 1;
	snprintf(cfg.local_domains[0], CONFIG_NAME_MAX, "%s", SYNTH_LAB_LOCAL_DOMAIN);
	cfg.n_local_domains = 1;
	struct policy_rcu *policy = policy_rcu_create(n_workers);
	struct scan_commands *commands = scan_commands_compile(err, sizeof(err));
	if (policy == NULL || commands == NULL) {
		fprintf(stderr, "helogate-bench: %s\n", policy ? err : "out of memory");
		return 2;
	}
	/* The banned list: --banlist, or the lab context's three names
	 * (tests/data/banlist.txt) in a temporary file; each profile's policy
	 * is built from it (run_profile). */
	static char banned_tmp[] = "/tmp/hg-bench-banned-XXXXXX";
	if (o.banlist) {
		snprintf(cfg.banlist_path, sizeof(cfg.banlist_path), "%s", o.banlist);
	} else {
		int fd = mkstemp(banned_tmp);
		static const char banned[] =
		    "fakedomain.xyz\nspam-cannon.example.com\nbulk-sender.example.net\n";
		if (fd < 0 ||
		    write(fd, banned, sizeof(banned) - 1) != (ssize_t)sizeof(banned) - 1) {
			fprintf(stderr, "helogate-bench: %s: %s\n", banned_tmp, strerror(errno));
			return 2;
		}
		close(fd);
		snprintf(cfg.banlist_path, sizeof(cfg.banlist_path), "%s", banned_tmp);
	}
	struct worker_shared shared = {
	    .cfg = &cfg, .policy = policy, .commands = commands, .mbufs = NULL};

	FILE *json = o.json ? fopen(o.json, "a") : NULL;
	if (o.json && json == NULL) {
		fprintf(stderr, "helogate-bench: %s: %s\n", o.json, strerror(errno));
		return 2;
	}
	static const char *const all[] = {"smtp-mix", "smtp-commands", "bogus-flood", "non-smtp",
	                                  "enforce"};
	const char *names[5];
	int n_names = 0;
	if (o.pcap)
		names[n_names++] = o.pcap;
	else if (strcmp(o.profile, "all") == 0)
		for (int i = 0; i < 5; i++)
			names[n_names++] = all[i];
	else
		names[n_names++] = o.profile;

	pages_name = find_pages();
	printf("%-14s %-7s %3s %10s %-4s %-5s %9s %8s %7s %7s %9s %7s %7s %11s %10s %s\n",
	       "profile", "mode", "wrk", "concurrent", "flow", "pages", "Mpps", "Mpps/wk", "Gbit/s",
	       "cyc/pkt", "null Mpps", "null cyc", "ratio", "judged/s/wk", "sess/s/wk", "verdicts");
	int worst = 0;
	for (int i = 0; i < n_names; i++) {
		rc = run_profile(names[i], &o, &cfg, &shared, json);
		if (rc > worst)
			worst = rc;
		if (rc == 2)
			break;
	}
	if (json)
		fclose(json);
	fflush(stdout);
	if (!o.banlist)
		unlink(banned_tmp);
	policy_rcu_destroy(policy);
	return worst;
}
