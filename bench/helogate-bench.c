/*
 * helogate-bench: packets per second of the real worker code (the same
 * worker_handle_burst() helogate runs), from memory, against a null
 * pipeline on the same packets and cores.
 *
 * usage: helogate-bench [EAL options] -- [--profile NAME|all] [--pcap FILE]
 *        [--sessions N] [--interleave K] [--concurrent C] [--seconds S]
 *        [--body-max B] [--json FILE] [--no-profile-pass] [--smtp-port N]
 *        [--mbufs N] [--sw-checksum]
 *
 * Each profile (lib/synth, or a pcap) is loaded into mbufs once and replayed
 * in loops; every loop rewrites the client address and port of every
 * session (tuple rotation, checksums fixed incrementally), so each loop is
 * new sessions, as TRex multiplies flows. --concurrent C first opens C idle
 * sessions (handshakes only) so the flow tables hold C sessions while the
 * profile runs. Workers are the EAL worker lcores; sessions go to workers by
 * a symmetric hash of their tuple, as symmetric RSS would. Rotation happens
 * between loops and is not timed; the timed part is worker_handle_burst()
 * plus giving the transmitted mbufs back, exactly what the null pipeline
 * does with its own work. A run whose verdict counts differ from the
 * profile's expected counts times the loops is reported as FAILED.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pcap/pcap.h>
#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>

#include "banlist.h"
#include "banlist_rcu.h"
#include "cksum.h"
#include "config.h"
#include "inject.h"
#include "pkt.h"
#include "scan.h"
#include "suffix.h"
#include "synth.h"
#include "worker.h"

#define BURST 32
#define MAX_WORKERS 64

struct frame {
	struct rte_mbuf *m;
	uint32_t session;
	uint16_t addr_off; /* last two bytes of the client address; 0: not rotated */
	uint16_t port_off; /* the client port */
	uint16_t ipck_off; /* IPv4 header checksum, 0 when none */
	uint16_t l4ck_off; /* TCP/UDP checksum, 0 when none */
};

struct profile {
	const char *name;
	struct frame *frames;
	uint32_t n_frames;
	uint32_t n_sessions;
	uint64_t bytes;
	uint64_t expected[VERDICT_COUNT]; /* bogus verdicts per loop */
};

struct bench_worker {
	struct worker *w;
	unsigned id;
	uint32_t *idx; /* this worker's frames, in capture order */
	uint32_t n;
	/* results of the last run */
	uint64_t cycles, packets, bytes, loops;
	bool null_pipeline;
	bool warm_up; /* run a single loop: the warm-up before measuring */
};

static struct {
	struct profile *profile;
	struct bench_worker workers[MAX_WORKERS];
	unsigned n_workers;
	double seconds;
	uint32_t loop_base; /* rotation offset of the next loop */
} run;

/* ---- loading ----------------------------------------------------------------------------- */

struct loader {
	struct profile *p;
	struct rte_mempool *pool;
	uint32_t cap;
	bool failed;
	/* client (addr low 32 bits ^ port) -> session index */
	uint64_t *keys;
	uint32_t *vals;
	uint32_t map_cap;
	const struct config *cfg;
	bool sw_checksum;
};

static uint32_t session_of(struct loader *l, uint64_t key)
{
	uint32_t h = (uint32_t)((key * 0x9e3779b97f4a7c15ull) >> 32) & (l->map_cap - 1);

	while (l->keys[h] != 0 && l->keys[h] != key)
		h = (h + 1) & (l->map_cap - 1);
	if (l->keys[h] == 0) {
		l->keys[h] = key;
		l->vals[h] = l->p->n_sessions++;
	}
	return l->vals[h];
}

static int load_frame(void *arg, const uint8_t *data, uint32_t len, uint64_t ts_ns)
{
	struct loader *l = arg;
	struct profile *p = l->p;
	struct pkt_info pi;

	(void)ts_ns;
	if (p->n_frames == l->cap) {
		uint32_t cap = l->cap ? l->cap * 2 : 65536;
		struct frame *f = realloc(p->frames, cap * sizeof(*f));
		if (f == NULL) {
			l->failed = true;
			return -1;
		}
		p->frames = f;
		l->cap = cap;
	}
	struct frame *f = &p->frames[p->n_frames];
	memset(f, 0, sizeof(*f));
	f->m = rte_pktmbuf_alloc(l->pool);
	if (f->m == NULL || len > rte_pktmbuf_tailroom(f->m)) {
		fprintf(stderr, "helogate-bench: out of mbufs (try a larger -m)\n");
		l->failed = true;
		return -1;
	}
	memcpy(rte_pktmbuf_append(f->m, (uint16_t)len), data, len);
	/* A NIC with receive checksum offload marks good segments; without
	 * --sw-checksum the bench models that, as on the real ports helogate
	 * is built for (net_pcap and net_af_packet mark nothing). */
	if (!l->sw_checksum)
		f->m->ol_flags |= RTE_MBUF_F_RX_L4_CKSUM_GOOD | RTE_MBUF_F_RX_IP_CKSUM_GOOD;
	p->bytes += len;
	enum pkt_result r = pkt_parse(data, len, &pi);
	if (r == PKT_TCP || (r == PKT_NOT_TCP && pi.l4_offset == 0)) {
		bool c2s = config_is_smtp_port(l->cfg, pi.dst_port) || pi.dst_port == 443;
		const struct ip_addr *client = c2s ? &pi.src : &pi.dst;
		uint16_t port = c2s ? pi.src_port : pi.dst_port;
		uint32_t alen = pi.ip_version == 4 ? 4 : 16;
		uint32_t aoff = pi.ip_version == 4 ? (c2s ? 12 : 16) : (c2s ? 8 : 24);
		if (r == PKT_TCP) {
			uint64_t key = 1;
			memcpy(&key, client->bytes + alen - 4, 4);
			key = (key << 16 | port) ^ ((uint64_t)pi.ip_version << 60);
			f->session = session_of(l, key);
			f->addr_off = (uint16_t)(pi.l3_offset + aoff + alen - 2);
			f->port_off = (uint16_t)(pi.l4_offset + (c2s ? 0 : 2));
			f->ipck_off = pi.ip_version == 4 ? (uint16_t)(pi.l3_offset + 10) : 0;
			f->l4ck_off = (uint16_t)(pi.l4_offset + 16);
		}
	}
	if (f->addr_off == 0)
		f->session = p->n_sessions++; /* not rotated: one "session" per frame */
	p->n_frames++;
	return 0;
}

static void count_event(void *arg, const struct synth_event *e)
{
	struct profile *p = arg;

	p->expected[e->reason]++;
}

static int load_pcap(const char *path, synth_emit_fn *emit, void *arg)
{
	char errbuf[PCAP_ERRBUF_SIZE];
	pcap_t *pc = pcap_open_offline(path, errbuf);
	struct pcap_pkthdr *h;
	const u_char *data;
	int rc;

	if (pc == NULL) {
		fprintf(stderr, "helogate-bench: %s\n", errbuf);
		return -1;
	}
	while ((rc = pcap_next_ex(pc, &h, &data)) == 1)
		if (emit(arg, data, h->caplen, 0) != 0)
			break;
	pcap_close(pc);
	return 0;
}

/* ---- tuple rotation --------------------------------------------------------------------- */

static void rewrite16(struct rte_mbuf *m, const struct frame *f, uint16_t off, uint16_t value)
{
	uint8_t *d = rte_pktmbuf_mtod(m, uint8_t *);
	uint16_t old, neu, ck;

	memcpy(&old, d + off, 2);
	neu = rte_cpu_to_be_16(value);
	if (old == neu)
		return;
	memcpy(d + off, &neu, 2);
	if (f->l4ck_off) {
		memcpy(&ck, d + f->l4ck_off, 2);
		ck = cksum_update16(ck, old, neu);
		memcpy(d + f->l4ck_off, &ck, 2);
	}
	if (f->ipck_off && off == f->addr_off) {
		memcpy(&ck, d + f->ipck_off, 2);
		ck = cksum_update16(ck, old, neu);
		memcpy(d + f->ipck_off, &ck, 2);
	}
}

/* Loop L: the session's client becomes base address + L (low 16 bits), with
 * its own port: unique per (loop, session) while the profile's ports are. */
static void rotate(const struct profile *p, const struct bench_worker *bw, uint32_t loop)
{
	for (uint32_t i = 0; i < bw->n; i++) {
		const struct frame *f = &p->frames[bw->idx[i]];
		if (f->addr_off == 0)
			continue;
		uint32_t s = f->session;
		uint16_t addr = (uint16_t)(s + loop * 7919u);
		uint16_t port = (uint16_t)(1024 + (s * 7919u + loop * 31u) % 64000u);
		rewrite16(f->m, f, f->addr_off, addr);
		rewrite16(f->m, f, f->port_off, port);
	}
}

/* ---- the timed loops -------------------------------------------------------------------- */

/* testpmd's macswap: touch the Ethernet header, transmit (here: give back). */
static void null_burst(struct rte_mbuf **pkts, uint16_t n)
{
	for (uint16_t i = 0; i < n; i++) {
		uint8_t *d = rte_pktmbuf_mtod(pkts[i], uint8_t *);
		uint8_t tmp[6];
		memcpy(tmp, d, 6);
		memcpy(d, d + 6, 6);
		memcpy(d + 6, tmp, 6);
	}
	rte_pktmbuf_free_bulk(pkts, n);
}

static void give_back(struct worker *w)
{
	for (int s = 0; s < WORKER_SIDE_COUNT; s++) {
		struct worker_tx *tx = worker_tx(w, (enum worker_side)s);
		if (tx->count) {
			rte_pktmbuf_free_bulk(tx->pkts, tx->count);
			tx->count = 0;
		}
	}
}

static uint64_t one_loop(struct bench_worker *bw, const struct profile *p)
{
	struct rte_mbuf *pkts[BURST];
	uint64_t cycles = 0;

	for (uint32_t i = 0; i < bw->n; i += BURST) {
		uint16_t n = (uint16_t)(bw->n - i < BURST ? bw->n - i : BURST);
		for (uint16_t k = 0; k < n; k++) {
			pkts[k] = p->frames[bw->idx[i + k]].m;
			/* The worker frees or transmits it; our reference keeps it. */
			rte_mbuf_refcnt_update(pkts[k], 1);
		}
		uint64_t t0 = rte_rdtsc();
		if (bw->null_pipeline) {
			null_burst(pkts, n);
		} else {
			worker_handle_burst(bw->w, pkts, n, WORKER_SIDE_LAB, worker_clock_ms());
			give_back(bw->w);
		}
		cycles += rte_rdtsc() - t0;
	}
	if (!bw->null_pipeline) {
		worker_expire(bw->w, worker_clock_ms());
		worker_quiescent(bw->w);
	}
	return cycles;
}

static int worker_main(void *arg)
{
	struct bench_worker *bw = arg;
	const struct profile *p = run.profile;
	uint64_t hz = rte_get_tsc_hz();
	uint64_t budget = (uint64_t)(run.seconds * (double)hz);
	uint32_t loop = run.loop_base;

	bw->cycles = bw->packets = bw->bytes = bw->loops = 0;
	if (bw->n == 0)
		return 0;
	do {
		rotate(p, bw, loop++);
		bw->cycles += one_loop(bw, p);
		bw->packets += bw->n;
		bw->loops++;
		if (bw->warm_up)
			break;
	} while (bw->cycles < budget);
	for (uint32_t i = 0; i < bw->n; i++)
		bw->bytes += p->frames[bw->idx[i]].m->pkt_len;
	bw->bytes *= bw->loops;
	return 0;
}

static void run_all(bool null_pipeline, bool warm_up)
{
	unsigned i = 0, lcore;

	RTE_LCORE_FOREACH_WORKER(lcore)
	{
		struct bench_worker *bw = &run.workers[i++];
		bw->null_pipeline = null_pipeline;
		bw->warm_up = warm_up;
		rte_eal_remote_launch(worker_main, bw, lcore);
		if (i == run.n_workers)
			break;
	}
	rte_eal_mp_wait_lcore();
	uint64_t max_loops = 0;
	for (i = 0; i < run.n_workers; i++)
		if (run.workers[i].loops > max_loops)
			max_loops = run.workers[i].loops;
	run.loop_base += (uint32_t)max_loops + 1;
}

/* Open count idle sessions (handshake only) spread over the workers. */
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
		/* 198.18.128.0/17 (RFC 2544 range, apart from the profile's clients) */
		t.client.bytes[0] = 198, t.client.bytes[1] = 18;
		t.client.bytes[2] = (uint8_t)(128 | ((s >> 8) & 0x7f));
		t.client.bytes[3] = (uint8_t)s;
		t.client_port = (uint16_t)(10000 + (s >> 15));
		struct inject_segment seg[3] = {
			{.to_client = false, .flags = 0x02, .seq = s, .mss = 1460, .wscale = 7, .window = 64240},
			{.to_client = true, .flags = 0x12, .seq = ~s, .ack = s + 1, .mss = 1460, .wscale = 7, .window = 64240},
			{.to_client = false, .flags = 0x10, .seq = s + 1, .ack = ~s + 1, .window = 502},
		};
		for (int k = 0; k < 3; k++) {
			pkts[k] = rte_pktmbuf_alloc(pool);
			if (pkts[k] == NULL)
				return -1;
			uint8_t *d = (uint8_t *)rte_pktmbuf_append(pkts[k], 128);
			uint32_t len = inject_build(&t, &seg[k], d, 128);
			rte_pktmbuf_trim(pkts[k], (uint16_t)(128 - len));
		}
		struct bench_worker *bw = &run.workers[s % run.n_workers];
		worker_handle_burst(bw->w, pkts, 3, WORKER_SIDE_LAB, worker_clock_ms());
		give_back(bw->w);
		if ((s & 1023) == 0)
			worker_quiescent(bw->w);
	}
	return 0;
}

/* ---- reporting -------------------------------------------------------------------------- */

struct result {
	double seconds, pps, bps, cycles_per_pkt, judged_per_s;
	uint64_t packets, loops;
	bool verdicts_ok;
	char detail[256];
};

static void measure(bool null_pipeline, struct worker_counters *before, struct worker_counters *after,
		    struct result *r)
{
	memset(r, 0, sizeof(*r));
	for (unsigned i = 0; before && i < run.n_workers; i++)
		memcpy(&before[i], worker_counters(run.workers[i].w), sizeof(before[i]));
	run_all(null_pipeline, false);
	uint64_t hz = rte_get_tsc_hz(), cycles = 0, judged = 0;
	for (unsigned i = 0; i < run.n_workers; i++) {
		struct bench_worker *bw = &run.workers[i];
		r->packets += bw->packets;
		r->loops += bw->loops;
		r->bps += (double)bw->bytes * 8.0;
		if (bw->cycles > cycles)
			cycles = bw->cycles;
		r->cycles_per_pkt += bw->packets ? (double)bw->cycles / (double)bw->packets : 0;
		if (after) {
			memcpy(&after[i], worker_counters(bw->w), sizeof(after[i]));
			judged += after[i].judged - before[i].judged;
		}
	}
	r->cycles_per_pkt /= run.n_workers;
	r->seconds = (double)cycles / (double)hz;
	r->pps = (double)r->packets / r->seconds;
	r->bps /= r->seconds;
	r->judged_per_s = (double)judged / r->seconds;
	if (after == NULL)
		return;
	/* Verdicts must be exactly the profile's, loop after loop. */
	r->verdicts_ok = true;
	size_t n = 0;
	for (int v = 1; v < VERDICT_COUNT; v++) {
		uint64_t got = 0;
		for (unsigned i = 0; i < run.n_workers; i++)
			got += after[i].verdicts[v] - before[i].verdicts[v];
		/* Exact when every worker ran the same number of loops (always
		 * with one worker); with several, each runs its own share of the
		 * sessions for the same time, and the check is skipped. */
		uint64_t loops = run.workers[0].loops;
		bool same = true;
		for (unsigned i = 1; i < run.n_workers; i++)
			same = same && run.workers[i].loops == loops;
		uint64_t want = run.profile->expected[v] * loops;
		if (same && got != want) {
			r->verdicts_ok = false;
			n += (size_t)snprintf(r->detail + n, sizeof(r->detail) - n, "%s %" PRIu64 "/%" PRIu64 " ",
					      verdict_reason_name((enum verdict_reason)v), got, want);
		}
	}
}

static double per_pkt(const struct worker_counters *b, const struct worker_counters *a, int stage,
		      uint64_t packets)
{
	return packets ? (double)(a->stage_cycles[stage] - b->stage_cycles[stage]) / (double)packets : 0;
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

	static const struct option options[] = {
		{"profile", required_argument, NULL, 'p'}, {"pcap", required_argument, NULL, 'f'},
		{"sessions", required_argument, NULL, 'n'}, {"interleave", required_argument, NULL, 'k'},
		{"concurrent", required_argument, NULL, 'c'}, {"seconds", required_argument, NULL, 's'},
		{"body-max", required_argument, NULL, 'b'}, {"json", required_argument, NULL, 'j'},
		{"no-profile-pass", no_argument, NULL, 'P'}, {"smtp-port", required_argument, NULL, 't'},
		{"mbufs", required_argument, NULL, 'm'},
		{"sw-checksum", no_argument, NULL, 'C'},
		{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0},
	};
	const char *profile_arg = "all", *pcap_path = NULL, *json_path = NULL;
	uint32_t sessions = 1000, interleave = 64, concurrent = 0, body_max = 16384;
	uint32_t mbufs = 262143;
	uint16_t smtp_port = 25;
	double seconds = 2.0;
	bool profile_pass = true, sw_checksum = false;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (c) {
		case 'p': profile_arg = optarg; break;
		case 'f': pcap_path = optarg; break;
		case 'n': sessions = (uint32_t)strtoul(optarg, NULL, 10); break;
		case 'k': interleave = (uint32_t)strtoul(optarg, NULL, 10); break;
		case 'c': concurrent = (uint32_t)strtoul(optarg, NULL, 10); break;
		case 's': seconds = strtod(optarg, NULL); break;
		case 'b': body_max = (uint32_t)strtoul(optarg, NULL, 10); break;
		case 'j': json_path = optarg; break;
		case 'P': profile_pass = false; break;
		case 't': smtp_port = (uint16_t)strtoul(optarg, NULL, 10); break;
		case 'm': mbufs = (uint32_t)strtoul(optarg, NULL, 10); break;
		case 'C': sw_checksum = true; break;
		default:
			fprintf(stderr, "usage: helogate-bench [EAL] -- [--profile smtp-mix|smtp-commands|"
					"bogus-flood|non-smtp|all] [--pcap FILE] [--sessions N]\n"
					"  [--interleave K] [--concurrent C] [--seconds S] [--body-max B] "
					"[--json FILE] [--no-profile-pass] [--smtp-port N] [--mbufs N] [--sw-checksum]\n");
			return c == 'h' ? 0 : 2;
		}
	}
	if (sessions == 0 || interleave == 0 || seconds <= 0) {
		fprintf(stderr, "helogate-bench: --sessions, --interleave and --seconds must be positive\n");
		return 2;
	}
	run.n_workers = rte_lcore_count() - 1;
	if (run.n_workers == 0 || run.n_workers > MAX_WORKERS) {
		fprintf(stderr, "helogate-bench: need 1..%d worker lcores besides the main one (-l 0,1)\n",
			MAX_WORKERS);
		return 2;
	}
	run.seconds = seconds;

	/* The same shared state helogate builds, in detect mode. */
	static struct config cfg;
	char err[512];
	config_defaults(&cfg);
	cfg.mode = CONFIG_MODE_DETECT;
	cfg.single_port = true;
	cfg.lab_port = 0;
	cfg.smtp_ports[0] = smtp_port;
	cfg.n_smtp_ports = 1;
	cfg.flows_per_worker = concurrent / run.n_workers + 8 * interleave + 65536;
	cfg.event_ring_size = 1024;
	snprintf(cfg.local_domains[0], CONFIG_NAME_MAX, "lab-mail.net");
	cfg.n_local_domains = 1;
	struct suffix_list *suffixes = suffix_list_load(NULL, err, sizeof(err));
	struct banlist_rcu *banlist = banlist_rcu_create(run.n_workers);
	struct scan_commands *commands = scan_commands_compile(err, sizeof(err));
	if (suffixes == NULL || banlist == NULL || commands == NULL) {
		fprintf(stderr, "helogate-bench: %s\n", err);
		return 2;
	}
	const char *banned[] = {"fakedomain.xyz", "spam-cannon.example.com", "bulk-sender.example.net"};
	banlist_rcu_replace(banlist, banlist_build(banned, 3, err, sizeof(err)));
	struct rte_mempool *pool = rte_pktmbuf_pool_create("bench", mbufs, 512, 0,
							   RTE_MBUF_DEFAULT_BUF_SIZE,
							   (int)rte_socket_id());
	if (pool == NULL) {
		fprintf(stderr, "helogate-bench: cannot create the mbuf pool (more -m, or fewer --mbufs)\n");
		return 2;
	}
	struct worker_shared shared = {.cfg = &cfg, .suffixes = suffixes, .banlist = banlist,
				       .commands = commands, .patterns = NULL, .mbufs = pool};
	for (unsigned i = 0; i < run.n_workers; i++) {
		run.workers[i].id = i;
		run.workers[i].w = worker_create(i, &shared, err, sizeof(err));
		if (run.workers[i].w == NULL) {
			fprintf(stderr, "helogate-bench: %s\n", err);
			return 2;
		}
		banlist_rcu_reader_online(banlist, i);
	}
	if (concurrent > 0) {
		uint64_t t0 = rte_rdtsc();
		if (open_idle_sessions(pool, concurrent) != 0) {
			fprintf(stderr, "helogate-bench: out of mbufs opening idle sessions\n");
			return 2;
		}
		uint32_t open = 0;
		for (unsigned i = 0; i < run.n_workers; i++)
			open += worker_flow_count(run.workers[i].w);
		fprintf(stderr, "helogate-bench: %u idle sessions open (%u tracked) in %.1f s\n",
			concurrent, open, (double)(rte_rdtsc() - t0) / (double)rte_get_tsc_hz());
	}

	FILE *json = json_path ? fopen(json_path, "a") : NULL;
	if (json_path && json == NULL) {
		fprintf(stderr, "helogate-bench: %s: %s\n", json_path, strerror(errno));
		return 2;
	}
	static const char *const all[] = {"smtp-mix", "smtp-commands", "bogus-flood", "non-smtp"};
	const char *names[4];
	int n_names = 0;
	if (pcap_path)
		names[n_names++] = pcap_path;
	else if (strcmp(profile_arg, "all") == 0)
		for (int i = 0; i < 4; i++)
			names[n_names++] = all[i];
	else
		names[n_names++] = profile_arg;

	printf("%-14s %3s %9s %8s %9s %8s %8s %7s %9s %7s %11s %s\n", "profile", "wrk", "concurrent",
	       "pkts/lp", "Mpps", "Mpps/wk", "Gbit/s", "cyc/pkt", "null Mpps", "ratio",
	       "judged/s/wk", "verdicts");
	int failed = 0;
	for (int pi = 0; pi < n_names; pi++) {
		struct profile prof = {.name = names[pi]};
		struct loader l = {.p = &prof, .pool = pool, .cfg = &cfg, .map_cap = 1u << 22,
				   .sw_checksum = sw_checksum};
		l.keys = calloc(l.map_cap, sizeof(uint64_t));
		l.vals = calloc(l.map_cap, sizeof(uint32_t));
		if (pcap_path) {
			load_pcap(pcap_path, load_frame, &l);
		} else {
			struct synth_params sp;
			synth_params_default(&sp);
			if (!synth_profile_from_name(names[pi], &sp.profile)) {
				fprintf(stderr, "helogate-bench: unknown profile '%s'\n", names[pi]);
				return 2;
			}
			sp.sessions = sessions;
			sp.concurrency = interleave;
			sp.body_max = body_max;
			sp.seed = 1;
			synth_generate(&sp, load_frame, &l, count_event, &prof);
		}
		free(l.keys);
		free(l.vals);
		if (l.failed || prof.n_frames == 0)
			return 2;
		/* Sessions to workers by a symmetric hash of the base tuple:
		 * session numbers stand for it (both directions share one). */
		for (unsigned i = 0; i < run.n_workers; i++) {
			run.workers[i].idx = malloc(prof.n_frames * sizeof(uint32_t));
			run.workers[i].n = 0;
		}
		for (uint32_t f = 0; f < prof.n_frames; f++) {
			uint32_t h = prof.frames[f].session * 0x9e3779b1u;
			struct bench_worker *bw = &run.workers[(h >> 16) % run.n_workers];
			bw->idx[bw->n++] = f;
		}
		run.profile = &prof;

		struct worker_counters before[MAX_WORKERS], after[MAX_WORKERS];
		struct result hg, base;
		run_all(false, true); /* warm-up loop: caches, flow table pages */
		measure(false, before, after, &hg);
		measure(true, NULL, NULL, &base);
		bool ok = pcap_path != NULL || hg.verdicts_ok;
		failed += !ok;
		printf("%-14s %3u %9u %8u %9.2f %8.2f %8.2f %7.0f %9.2f %6.0f%% %11.0f %s\n", prof.name,
		       run.n_workers, concurrent, prof.n_frames, hg.pps / 1e6,
		       hg.pps / 1e6 / run.n_workers, hg.bps / 1e9, hg.cycles_per_pkt, base.pps / 1e6,
		       100.0 * hg.pps / base.pps, hg.judged_per_s / run.n_workers,
		       pcap_path ? "n/a (pcap)" : ok ? "ok" : "FAILED");
		if (!ok)
			printf("    verdicts differ: %s\n", hg.detail);
		char stages[512] = "";
		if (profile_pass) {
			for (unsigned i = 0; i < run.n_workers; i++) {
				worker_set_profiling(run.workers[i].w, true);
				memcpy(&before[i], worker_counters(run.workers[i].w), sizeof(before[i]));
			}
			run_all(false, false);
			uint64_t pk = 0;
			struct worker_counters sb = {0}, sa = {0};
			for (unsigned i = 0; i < run.n_workers; i++) {
				worker_set_profiling(run.workers[i].w, false);
				const struct worker_counters *a = worker_counters(run.workers[i].w);
				pk += run.workers[i].packets;
				for (int s = 0; s < WORKER_STAGE_COUNT; s++) {
					sb.stage_cycles[s] += before[i].stage_cycles[s];
					sa.stage_cycles[s] += a->stage_cycles[s];
				}
			}
			double parse = per_pkt(&sb, &sa, WORKER_STAGE_PARSE, pk);
			double flow = per_pkt(&sb, &sa, WORKER_STAGE_FLOW, pk);
			double reasm = per_pkt(&sb, &sa, WORKER_STAGE_REASSEMBLY, pk);
			double smtp = per_pkt(&sb, &sa, WORKER_STAGE_SMTP, pk);
			double verdict = per_pkt(&sb, &sa, WORKER_STAGE_VERDICT, pk);
			double inject = per_pkt(&sb, &sa, WORKER_STAGE_INJECT, pk);
			double total = per_pkt(&sb, &sa, WORKER_STAGE_TOTAL, pk);
			snprintf(stages, sizeof(stages),
				 "\"parse\":%.1f,\"flow\":%.1f,\"reassembly\":%.1f,\"smtp_scan\":%.1f,"
				 "\"verdict\":%.1f,\"inject\":%.1f,\"other\":%.1f,\"total\":%.1f",
				 parse, flow, reasm - smtp, smtp - verdict, verdict, inject,
				 total - parse - flow - reasm - inject, total);
			printf("    cycles/packet by stage (profiled pass): parse %.0f, flow %.0f, "
			       "reassembly %.0f, smtp+scan %.0f, verdict %.0f, inject %.0f, other %.0f "
			       "(total %.0f)\n",
			       parse, flow, reasm - smtp, smtp - verdict, verdict, inject,
			       total - parse - flow - reasm - inject, total);
		}
		char line[2048];
		snprintf(line, sizeof(line),
			 "{\"profile\":\"%s\",\"workers\":%u,\"concurrent\":%u,\"sessions_per_loop\":%u,"
			 "\"packets_per_loop\":%u,\"loops\":%" PRIu64 ",\"seconds\":%.3f,\"pps\":%.0f,"
			 "\"pps_per_worker\":%.0f,\"bps\":%.0f,\"cycles_per_packet\":%.1f,"
			 "\"baseline_pps\":%.0f,\"ratio\":%.3f,\"judged_per_s_per_worker\":%.0f,"
			 "\"verdicts_ok\":%s,\"stage_cycles\":{%s}}",
			 prof.name, run.n_workers, concurrent, prof.n_sessions, prof.n_frames, hg.loops,
			 hg.seconds, hg.pps, hg.pps / run.n_workers, hg.bps, hg.cycles_per_pkt, base.pps,
			 hg.pps / base.pps, hg.judged_per_s / run.n_workers, ok ? "true" : "false",
			 stages);
		printf("JSON %s\n", line);
		if (json)
			fprintf(json, "%s\n", line);
		for (uint32_t f = 0; f < prof.n_frames; f++)
			rte_pktmbuf_free(prof.frames[f].m);
		free(prof.frames);
		for (unsigned i = 0; i < run.n_workers; i++)
			free(run.workers[i].idx);
	}
	if (json)
		fclose(json);
	fflush(stdout);
	return failed ? 1 : 0;
}
