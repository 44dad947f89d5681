/*
 * worker: the poll loop (receive, handle, transmit, expire, quiescent), the
 * first pass over a group of packets (parse, classify, prefetch the flow's
 * bucket), and worker_apply(), the one place that acts on a disposition.
 * Everything a tracked segment needs decided is in filter/inspect.c.
 */
#include "dp/worker.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_mbuf_dyn.h>
#include <rte_prefetch.h>

#include "wire/disposition.h"
#include "wire/inject.h"
#include "wire/frag.h"
#include "wire/pkt.h"
#include "tcp/block_pool.h"
#include "tcp/flow_table.h"
#include "tcp/syn_queue.h"
#include "smtp/scan.h"
#include "dp/control.h"
#include "dp/policy_rcu.h"
#include "filter/event.h"
#include "filter/inspect.h"
#include "filter/session.h"
#include "dp/reassembly.h"
#include "dp/distributor.h"

/* Flows expired per loop at most, so the loop never stalls on a timer storm. */
#define EXPIRE_BATCH 64
#define TX_RETRIES 8

struct worker {
	unsigned id;
	struct worker_shared shared;
	struct flow_table *flows;
	struct syn_queue syns;    /* flows in their handshake, oldest first: evicted when full */
	struct reassembly *frags; /* IP fragments waiting for their datagram */
	struct session_env env;   /* what the stages share: pool, counters, ring, scratch */
	volatile bool *stop;
	struct distributor_lane *lane; /* NULL: the ports' queues */
	struct worker_counters counters;
	struct session_out out; /* the segments and timer of the packet at hand */
	struct worker_tx tx[WORKER_SIDE_COUNT];
	int rx_ts_offset;    /* the mbuf's receive-timestamp field, -1: none */
	uint64_t rx_ts_flag; /* its ol_flags bit, 0: none */
	uint64_t loops;      /* poll-loop iterations: the control thread's liveness check */

	/* Profiling (the benchmark): cycles per packet of the last burst, or NULL. */
	uint64_t *pkt_cycles;
};

uint64_t worker_clock_ms(void)
{
	static uint64_t hz_per_ms;

	if (hz_per_ms == 0)
		hz_per_ms = rte_get_tsc_hz() / 1000;
	return rte_get_tsc_cycles() / hz_per_ms;
}

static int worker_env_init(struct worker *w, const struct config *cfg, char *err, size_t err_size)
{
	struct session_env *env = &w->env;

	env->pool = block_pool_create(2048, cfg->blocks_per_worker);
	env->events = event_ring_create(cfg->event_ring_size);
	if (env->pool == NULL || env->events == NULL) {
		snprintf(err, err_size, "worker %u: cannot allocate %u blocks and %u events", w->id,
		         cfg->blocks_per_worker, cfg->event_ring_size);
		return -1;
	}
	env->scratch = scan_scratch_alloc(w->shared.commands, err, err_size);
	if (env->scratch == NULL)
		return -1;
	if (smtp_env_init(&env->smtp, env->pool, w->shared.commands, env->scratch, cfg->line_max,
	                  err, err_size) != 0)
		return -1;
	env->counters = &w->counters;
	env->params = (struct session_params){
	    .timeout_syn_ms = cfg->timeout_syn_ms,
	    .timeout_idle_ms = cfg->timeout_idle_ms,
	    .timeout_closing_ms = cfg->timeout_closing_ms,
	    .takeover_wait_ms = cfg->takeover_wait_ms,
	    .takeover_session_ms = cfg->takeover_session_ms,
	    .replies = &cfg->replies,
	};
	env->commands = w->shared.commands;
	env->worker_id = (uint16_t)w->id;
	return 0;
}

struct worker *worker_create(unsigned id, const struct worker_shared *shared, char *err,
                             size_t err_size)
{
	const struct config *cfg = shared->cfg;
	struct worker *w = aligned_alloc(64, sizeof(*w));

	if (w == NULL) {
		snprintf(err, err_size, "worker %u: out of memory", id);
		return NULL;
	}
	memset(w, 0, sizeof(*w));
	w->id = id;
	w->shared = *shared;
	w->flows = flow_table_create(cfg->flows_per_worker, sizeof(struct session), err, err_size);
	if (w->flows == NULL || worker_env_init(w, cfg, err, err_size) != 0)
		goto fail;
	w->frags = reassembly_create(cfg->frag_flows, cfg->frag_timeout_ms, err, err_size);
	if (w->frags == NULL)
		goto fail;
	if (syn_queue_init(&w->syns, cfg->flows_per_worker) != 0) {
		snprintf(err, err_size, "worker %u: out of memory for the SYN queue", id);
		goto fail;
	}
	if (policy_rcu_reader_register(shared->policy, id) != 0) {
		snprintf(err, err_size, "worker %u: cannot register as an RCU reader", id);
		goto fail;
	}
	return w;
fail:
	worker_free(w);
	return NULL;
}

void worker_free(struct worker *w)
{
	if (w == NULL)
		return;
	flow_table_free(w->flows);
	syn_queue_free(&w->syns);
	reassembly_free(w->frags);
	block_pool_free(w->env.pool);
	event_ring_free(w->env.events);
	scan_scratch_free(w->env.scratch);
	free(w);
}

/* The policy the stages judge with, and the reply texts of the
 * configuration it carries (a reload may change them). */
static void refresh_policy(struct worker *w)
{
	const struct policy *p = policy_rcu_get(w->shared.policy);
	const struct config *live = policy_attachment(p);

	w->env.policy = p;
	w->env.params.replies = live != NULL ? &live->replies : &w->shared.cfg->replies;
	/* The operator's live overrides (relaxed loads: a burst sees one value). */
	if (w->shared.mode != NULL) {
		enum config_mode configured = live != NULL ? live->mode : w->shared.cfg->mode;
		uint32_t mode = __atomic_load_n(w->shared.mode, __ATOMIC_RELAXED);
		w->env.mode_override = mode == (uint32_t)configured ? SESSION_MODE_AS_CONFIGURED
		                       : mode == CONFIG_MODE_DETECT ? SESSION_MODE_DETECT
		                                                    : SESSION_MODE_ENFORCE;
	}
	if (w->shared.actions != NULL)
		for (int r = 0; r < VERDICT_COUNT; r++)
			w->env.action_override[r] = control_live_action(
			    __atomic_load_n(&w->shared.actions[r], __ATOMIC_RELAXED));
}

/* ---- acting on dispositions ------------------------------------------------------------ */

static enum worker_side output_side(enum worker_side from)
{
	switch (from) {
	case WORKER_SIDE_OUTSIDE:
		return WORKER_SIDE_INSIDE;
	case WORKER_SIDE_INSIDE:
		return WORKER_SIDE_OUTSIDE;
	default:
		return WORKER_SIDE_LAB;
	}
}

static bool tx_add(struct worker *w, enum worker_side side, struct rte_mbuf *m)
{
	struct worker_tx *tx = &w->tx[side];

	/* Cannot fill with bursts below WORKER_TX_MAX: the caller drains
	 * after every burst. Counted rather than assumed. */
	if (tx->count == WORKER_TX_MAX)
		return false;
	tx->pkts[tx->count++] = m;
	return true;
}

/* Build one segment a stage described and queue it towards its side. */
static void send_injected(struct worker *w, const struct inject_template *tpl,
                          const struct inject_segment *seg)
{
	bool lab = w->shared.cfg->single_port;
	enum worker_side side = lab              ? WORKER_SIDE_LAB
	                        : seg->to_client ? WORKER_SIDE_OUTSIDE
	                                         : WORKER_SIDE_INSIDE;
	uint64_t t0 = session_prof_start(&w->env);

	if (w->tx[side].count == WORKER_TX_MAX) {
		w->counters.inject_no_mbuf++;
		return;
	}
	struct rte_mbuf *m = rte_pktmbuf_alloc(w->shared.mbufs);
	if (m == NULL) {
		w->counters.inject_no_mbuf++;
		return;
	}
	uint32_t room = INJECT_FRAME_MAX(seg->payload_len);
	uint8_t *buf = (uint8_t *)rte_pktmbuf_append(m, (uint16_t)room);
	uint32_t len = buf ? inject_build(tpl, seg, buf, room) : 0;
	if (len == 0) {
		rte_pktmbuf_free(m);
		w->counters.inject_no_mbuf++;
		return;
	}
	rte_pktmbuf_trim(m, (uint16_t)(room - len));
	tx_add(w, side, m);
	w->counters.injected_packets++;
	if (seg->to_client)
		w->counters.injected_segments++;
	else
		w->counters.injected_rsts++;
	session_prof_add(&w->env, WORKER_STAGE_INJECT, t0);
}

/* Send what a stage described and set the record's timer; then the flow's
 * fate. idx < 0: no record. */
static void apply_flow(struct worker *w, int32_t idx, enum dispose_flow flow,
                       struct session_out *out)
{
	for (unsigned i = 0; i < out->n_seg; i++)
		send_injected(w, out->tpl,
		              &out->seg[i]); /* before the record: payloads live there */
	out->n_seg = 0;
	if (idx < 0)
		return;
	struct session *s = flow_table_record(w->flows, idx);
	switch ((enum dispose_flow)flow) {
	case DISPOSE_FLOW_FREE:
		session_release(&w->env, s);
		flow_table_remove(w->flows, idx);
		out->deadline = 0;
		return;
	case DISPOSE_FLOW_PASS:
		session_pass(&w->env, s);
		break;
	case DISPOSE_FLOW_KEEP:
		break;
	}
	if (out->deadline != 0)
		flow_table_set_expiry(w->flows, idx, out->deadline);
	out->deadline = 0;
}

/*
 * Carry out one packet's disposition: the only code that forwards, trims or
 * frees a received mbuf, queues an injected one, or frees or passes a flow.
 * The switch has no default: a new disposition nobody applies fails the
 * build (-Wswitch).
 */
static void worker_apply(struct worker *w, struct rte_mbuf *m, const struct pkt_info *pi,
                         enum worker_side from, int32_t idx, struct disposition d)
{
	enum packet_cause cause = (enum packet_cause)d.cause;

	if (d.normalize & DISPOSE_CLEAR_URG)
		pkt_clear_urgent(rte_pktmbuf_mtod(m, uint8_t *), pi);
	switch ((enum dispose_pkt)d.pkt) {
	case DISPOSE_FORWARD_CUT: {
		uint32_t len = pkt_cut_payload(rte_pktmbuf_mtod(m, uint8_t *), pi, d.keep);
		rte_pktmbuf_trim(m, (uint16_t)(m->data_len - len));
	}
		/* fall through */
	case DISPOSE_FORWARD:
		if (tx_add(w, output_side(from), m))
			break;
		cause = CAUSE_TX_FULL;
		/* fall through */
	case DISPOSE_DROP:
	case DISPOSE_ANSWERED:
		w->counters.dropped[cause]++;
		rte_pktmbuf_free(m);
		break;
	}
	w->counters.causes[cause]++;
	/* The fast path (no flow, nothing to send) stops here. */
	if (idx >= 0 || w->out.n_seg > 0)
		apply_flow(w, idx, (enum dispose_flow)d.flow, &w->out);
}

/* ---- timers ---------------------------------------------------------------------------- */

struct expire_ctx {
	struct worker *w;
	uint64_t now;
};

static bool on_expire(void *arg, int32_t idx, void *record)
{
	struct expire_ctx *ctx = arg;
	struct worker *w = ctx->w;
	struct session *s = record;
	enum dispose_flow flow =
	    inspect_timer(&w->env, s, flow_table_key(w->flows, idx), ctx->now, &w->out);

	if (flow != DISPOSE_FLOW_FREE) {
		apply_flow(w, idx, flow, &w->out);
		return true;
	}
	/* The table removes the record itself when this returns false. */
	apply_flow(w, -1, flow, &w->out);
	session_release(&w->env, s);
	return false;
}

void worker_expire(struct worker *w, uint64_t now_ms)
{
	struct expire_ctx ctx = {.w = w, .now = now_ms};

	flow_table_expire(w->flows, now_ms, EXPIRE_BATCH, on_expire, &ctx);
	reassembly_expire(w->frags, now_ms, &w->counters);
}

/* ---- the first pass -------------------------------------------------------------------- */

/* Checksums: trust the port when it checked; otherwise verify in software
 * (the end host would drop a bad segment: reliability rule 1). */
static bool checksum_ok(const struct worker *w, const struct rte_mbuf *m, const uint8_t *frame,
                        const struct pkt_info *pi)
{
	uint64_t l4 = m->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK;

	if (l4 == RTE_MBUF_F_RX_L4_CKSUM_GOOD)
		return true;
	if (l4 == RTE_MBUF_F_RX_L4_CKSUM_BAD)
		return false;
	if (!w->shared.cfg->verify_checksums)
		return true;
	if (pi->ip_version == 4 && !pkt_ipv4_checksum_ok(frame, pi))
		return false;
	return pkt_tcp_checksum_ok(frame, pi);
}

/* What the first pass learns about a packet. */
struct classified {
	struct pkt_info pi;
	struct flow_key key;
	uint32_t hash;
	enum pkt_action action;
	bool c2s;
	bool tracked;         /* TCP to or from an SMTP port: the second pass needs its flow */
	int32_t idx;          /* tracked: its flow as the group's bulk lookup found it */
	bool taken;           /* a fragment the fragment table took (it waits, or it was freed and
	                       * counted there): nothing to apply */
	struct disposition d; /* when neither tracked nor taken: what happens to it */
};

/* An IPv4 fragment's header checksum, as checksum_ok() judges a segment's. */
static bool fragment_checksum_ok(const struct worker *w, const struct rte_mbuf *m,
                                 const uint8_t *frame, const struct frag_info *fi)
{
	uint64_t ip = m->ol_flags & RTE_MBUF_F_RX_IP_CKSUM_MASK;

	if (fi->ip_version != 4 || ip == RTE_MBUF_F_RX_IP_CKSUM_GOOD)
		return true;
	if (ip == RTE_MBUF_F_RX_IP_CKSUM_BAD)
		return false;
	return !w->shared.cfg->verify_checksums || frag_ipv4_header_ok(frame, fi);
}

/* A fragment (docs/design.md, "IP fragments"): judged alone, then added to
 * the fragment table. Returns the whole datagram, to be handled in the
 * fragment's place, or NULL: the table took the fragment (c->taken) or c->d
 * says what happens to it. */
static struct rte_mbuf *classify_fragment(struct worker *w, struct rte_mbuf *m, uint64_t now,
                                          struct classified *c)
{
	const uint8_t *frame = rte_pktmbuf_mtod(m, const uint8_t *);
	struct frag_info fi;

	switch (frag_check(frame, m->data_len, &c->pi, &fi)) {
	case FRAG_HOLD:
		break;
	case FRAG_NOT_TCP:
		c->d = dispose_forward(CAUSE_FAST_PATH);
		return NULL;
	case FRAG_TINY:
		c->d = dispose_drop(CAUSE_FRAGMENT_TINY);
		return NULL;
	case FRAG_UNSUPPORTED:
		c->d = dispose_drop(CAUSE_FRAGMENT_UNSUPPORTED);
		return NULL;
	case FRAG_MALFORMED:
	case FRAG_VERDICT_COUNT:
		c->d = dispose_drop(CAUSE_MALFORMED);
		return NULL;
	}
	if (!fragment_checksum_ok(w, m, frame, &fi)) {
		c->d = dispose_drop(CAUSE_BAD_CHECKSUM);
		return NULL;
	}
	struct rte_mbuf *d = reassembly_add(w->frags, m, &fi, now, &w->counters);
	c->taken = d == NULL;
	return d;
}

/* First pass: parse, count, and for SMTP segments build the flow key and
 * its hash (find_group_flows() finds the flows). Decides only; packets leave in the
 * order they came. A fragment goes to the fragment table; the datagram it
 * completes replaces it in *mp and is classified like a received packet. */
static void classify_packet(struct worker *w, struct rte_mbuf **mp, enum worker_side from,
                            uint64_t now, struct classified *c)
{
	const struct config *cfg = w->shared.cfg;
	struct pkt_info *pi = &c->pi;
	struct rte_mbuf *m = *mp;

	c->tracked = false;
	c->taken = false;
	w->counters.rx_packets++;
	w->counters.rx_bytes += m->pkt_len;
	if (m->nb_segs > 1) {
		c->d = dispose_forward(CAUSE_MULTISEG);
		return;
	}
	const uint8_t *frame = rte_pktmbuf_mtod(m, const uint8_t *);
	uint64_t t0 = session_prof_start(&w->env);
	enum pkt_result r = pkt_parse(frame, m->data_len, pi);
	session_prof_add(&w->env, WORKER_STAGE_PARSE, t0);
	w->counters.pkt_results[r]++;
	c->action = pkt_result_action(r);
	if (c->action == PKT_ACTION_REASSEMBLE) {
		m = classify_fragment(w, m, now, c);
		if (m == NULL)
			return;
		*mp = m;
		frame = rte_pktmbuf_mtod(m, const uint8_t *);
		r = pkt_parse(frame, m->data_len, pi);
		w->counters.pkt_results[r]++;
		c->action = pkt_result_action(r);
	}
	switch (c->action) {
	case PKT_ACTION_FORWARD:
		c->d = dispose_forward(CAUSE_FAST_PATH);
		return;
	case PKT_ACTION_DROP:
		c->d = dispose_drop(r == PKT_IPV6_EXT_CHAIN_TOO_LONG ? CAUSE_IPV6_CHAIN_TOO_LONG
		                                                     : CAUSE_MALFORMED);
		return;
	case PKT_ACTION_REASSEMBLE: /* a reassembled datagram never is a fragment */
		c->d = dispose_drop(CAUSE_MALFORMED);
		return;
	case PKT_ACTION_INSPECT:
		break;
	}
	/* Which side is the client: the side talking to an SMTP port. From the
	 * outside only clients are expected, from the inside only servers. */
	if (from != WORKER_SIDE_INSIDE && config_is_smtp_port(cfg, pi->dst_port)) {
		c->c2s = true;
	} else if (from != WORKER_SIDE_OUTSIDE && config_is_smtp_port(cfg, pi->src_port)) {
		c->c2s = false;
	} else {
		c->d = dispose_forward(CAUSE_FAST_PATH);
		return;
	}
	t0 = session_prof_start(&w->env);
	struct flow_key *key = &c->key;
	memset(key, 0, sizeof(*key));
	key->family = pi->ip_version;
	memcpy(key->client, (c->c2s ? &pi->src : &pi->dst)->bytes, 16);
	memcpy(key->server, (c->c2s ? &pi->dst : &pi->src)->bytes, 16);
	key->client_port = c->c2s ? pi->src_port : pi->dst_port;
	key->server_port = c->c2s ? pi->dst_port : pi->src_port;
	c->hash = flow_key_hash(key);
	/* No bucket prefetch here: the bulk lookup issues the group's right
	 * after, and an earlier one only competed with the header prefetches
	 * for the core's outstanding-miss slots (removing it: -4 to -10% per
	 * SMTP packet at 1M cold sessions, docs/performance.md). */
	session_prof_add(&w->env, WORKER_STAGE_FLOW, t0);
	c->tracked = true;
}

/* ---- the second pass ------------------------------------------------------------------- */

/* The table is full: free the oldest flow still in its handshake, if any
 * (a few stale queue entries are skipped; bounded work per SYN). */
static bool evict_embryonic(struct worker *w)
{
	int32_t idx;
	uint32_t isn;

	for (int tries = 0; tries < 8 && syn_queue_pop(&w->syns, &idx, &isn); tries++) {
		if (!flow_table_in_use(w->flows, idx))
			continue;
		struct session *s = flow_table_record(w->flows, idx);
		if (s->state != SESSION_SYN_SENT || s->tcp.client_isn != isn)
			continue;
		session_release(&w->env, s);
		flow_table_remove(w->flows, idx);
		w->counters.flows_evicted_syn++;
		return true;
	}
	return false;
}

/* A segment with no record: it may open one. */
static void handle_new(struct worker *w, struct rte_mbuf *m, enum worker_side from, uint64_t now,
                       const struct classified *c)
{
	if (!inspect_opens_session(&c->pi, c->c2s)) {
		worker_apply(w, m, &c->pi, from, -1, dispose_forward(CAUSE_UNTRACKED));
		return;
	}
	int32_t idx = flow_table_insert(w->flows, &c->key, c->hash);
	if (idx < 0 && evict_embryonic(w))
		idx = flow_table_insert(w->flows, &c->key, c->hash);
	if (idx < 0) {
		w->counters.flows_table_full++;
		worker_apply(w, m, &c->pi, from, -1, dispose_forward(CAUSE_TABLE_FULL));
		return;
	}
	struct disposition d =
	    inspect_start(&w->env, flow_table_record(w->flows, idx), &c->pi, now, &w->out);
	syn_queue_push(&w->syns, idx, c->pi.seq);
	worker_apply(w, m, &c->pi, from, idx, d);
}

/* Second pass: everything that needs the flow. */
static void handle_tracked(struct worker *w, struct rte_mbuf *m, enum worker_side from,
                           uint64_t now, const struct classified *c, uint32_t changes)
{
	const struct pkt_info *pi = &c->pi;
	const uint8_t *frame = rte_pktmbuf_mtod(m, const uint8_t *);
	uint64_t t0 = session_prof_start(&w->env);
	/* An earlier segment of the group may have opened or ended a flow:
	 * then the bulk answer may be stale, and this one is looked up again
	 * (its lines are in cache by now). */
	int32_t idx = changes == flow_table_changes(w->flows)
	                  ? c->idx
	                  : flow_table_lookup(w->flows, &c->key, c->hash);
	struct session *s = idx >= 0 ? flow_table_record(w->flows, idx) : NULL;
	session_prof_add(&w->env, WORKER_STAGE_FLOW, t0);

	if (!checksum_ok(w, m, frame, pi)) {
		worker_apply(w, m, pi, from, -1, dispose_drop(CAUSE_BAD_CHECKSUM));
		return;
	}
	if (s == NULL) {
		handle_new(w, m, from, now, c);
		return;
	}
	struct disposition d =
	    inspect_segment(&w->env, s, &c->key, pi, frame, c->c2s, now, &w->out);
	worker_apply(w, m, pi, from, idx, d);
}

/* Packets are handled in groups: a first pass parses each one, then the
 * group's flows are found and their records requested together, so the
 * table's cache misses overlap instead of stalling one packet after
 * another (docs/performance.md). A
 * group is a whole default burst: 32 beat 16 by 11.6% per SMTP packet at
 * 1M cold sessions (bench-ab, 3 alternated rounds), the bulk lookup's own
 * best size (design.md, "Bulk lookups"). */
#define WORKER_GROUP 32

/*
 * The group's flows, found together: the bulk lookup overlaps the misses on
 * the buckets and keys, then every record found is requested at once, so
 * that with many sessions (records in DRAM) the group pays about one
 * memory latency instead of two per segment (docs/performance.md). All of a
 * record's lines are requested: a segment reads its streams, its TCP state,
 * its SMTP state and, at a verdict, its HELO. Returns the table's change
 * count the answers hold for.
 */
static uint32_t find_group_flows(struct worker *w, struct rte_mbuf *const *pkts,
                                 struct classified *c, uint16_t g)
{
	const struct flow_key *keys[WORKER_GROUP];
	uint32_t hashes[WORKER_GROUP];
	int32_t found[WORKER_GROUP];
	uint16_t which[WORKER_GROUP];
	unsigned n = 0;
	uint64_t t0 = session_prof_start(&w->env);

	for (uint16_t i = 0; i < g; i++) {
		if (!c[i].tracked || c[i].taken)
			continue;
		/* The payload's first lines, which the stream and the tracker
		 * read next (the hardware prefetcher follows on from there). */
		if (c[i].pi.payload_len > 0) {
			const uint8_t *payload =
			    rte_pktmbuf_mtod(pkts[i], const uint8_t *) + c[i].pi.payload_offset;
			rte_prefetch0(payload);
			rte_prefetch0(payload + RTE_CACHE_LINE_SIZE);
		}
		keys[n] = &c[i].key;
		hashes[n] = c[i].hash;
		which[n++] = i;
	}
	if (n > 0)
		flow_table_lookup_bulk(w->flows, keys, hashes, n, found);
	for (unsigned k = 0; k < n; k++) {
		c[which[k]].idx = found[k];
		if (found[k] < 0)
			continue;
		const uint8_t *rec = flow_table_record(w->flows, found[k]);
		for (size_t off = 0; off < sizeof(struct session); off += RTE_CACHE_LINE_SIZE)
			rte_prefetch0(rec + off);
	}
	session_prof_add(&w->env, WORKER_STAGE_FLOW, t0);
	return flow_table_changes(w->flows);
}

void worker_handle_burst(struct worker *w, struct rte_mbuf **pkts, uint16_t n,
                         enum worker_side from, uint64_t now_ms)
{
	struct classified c[WORKER_GROUP];
	uint64_t *pkt_cycles = w->env.profiling ? w->pkt_cycles : NULL;

	refresh_policy(w);
	for (uint16_t base = 0; base < n; base += WORKER_GROUP) {
		uint16_t g = (uint16_t)(n - base < WORKER_GROUP ? n - base : WORKER_GROUP);
		uint64_t t0 = session_prof_start(&w->env);
		/* Every header of the group is requested at once: their misses
		 * overlap (a header not in cache costs hundreds of cycles). */
		for (uint16_t i = 0; i < g; i++) {
			const uint8_t *frame = rte_pktmbuf_mtod(pkts[base + i], const uint8_t *);
			rte_prefetch0(frame);
			/* A TCP header with the timestamp option ends past byte 64
			 * (14 + 20 + 32 = 66): its second line is read too. */
			rte_prefetch0(frame + RTE_CACHE_LINE_SIZE);
		}
		for (uint16_t i = 0; i < g; i++)
			classify_packet(w, &pkts[base + i], from, now_ms, &c[i]);
		uint32_t changes = find_group_flows(w, pkts + base, c, g);
		/* Per-packet cycles (benchmark only): the first pass and the
		 * group's lookup shared equally, then each packet's second
		 * pass on its own. */
		uint64_t t1 = pkt_cycles ? counters_cycles() : 0;
		uint64_t share = pkt_cycles ? (t1 - t0) / g : 0;
		for (uint16_t i = 0; i < g; i++) {
			if (c[i].taken) {
				/* nothing to apply */
			} else if (c[i].tracked) {
				struct rte_mbuf *m = pkts[base + i];
				/* net_pcap, the only port whose stamps port.c turns
				 * on, gives microseconds since 1970. */
				if (w->rx_ts_flag != 0 && (m->ol_flags & w->rx_ts_flag))
					w->env.pkt_time_ns =
					    1000 * *RTE_MBUF_DYNFIELD(m, w->rx_ts_offset,
					                              rte_mbuf_timestamp_t *);
				w->env.pkt_info = &c[i].pi;
				handle_tracked(w, m, from, now_ms, &c[i], changes);
				w->env.pkt_info = NULL;
				w->env.pkt_time_ns = 0;
			} else
				worker_apply(w, pkts[base + i], &c[i].pi, from, -1, c[i].d);
			if (pkt_cycles) {
				uint64_t t2 = counters_cycles();
				pkt_cycles[base + i] = share + (t2 - t1);
				t1 = t2;
			}
		}
		session_prof_add(&w->env, WORKER_STAGE_TOTAL, t0);
	}
}

uint32_t worker_held(const struct worker *w)
{
	uint32_t held = 0;

	for (int s = 0; s < WORKER_SIDE_COUNT; s++)
		held += __atomic_load_n(&w->tx[s].count, __ATOMIC_RELAXED);
	return held + reassembly_held(w->frags);
}

struct worker_tx *worker_tx(struct worker *w, enum worker_side side)
{
	return &w->tx[side];
}

void worker_quiescent(struct worker *w)
{
	w->env.policy = NULL;
	policy_rcu_quiescent(w->shared.policy, w->id);
	/* Valid until the next quiescent point: timers (enforce) use it too. */
	refresh_policy(w);
}

void worker_set_stop_flag(struct worker *w, volatile bool *stop)
{
	w->stop = stop;
}

void worker_set_lane(struct worker *w, struct distributor_lane *lane)
{
	w->lane = lane;
}

static void flush_tx(struct worker *w, enum worker_side side, uint16_t port)
{
	struct worker_tx *tx = &w->tx[side];
	uint16_t sent = 0;

	for (int tries = 0; sent < tx->count && tries < TX_RETRIES; tries++)
		sent += w->lane != NULL ? distributor_lane_tx(w->lane, side, tx->pkts + sent,
		                                              (uint16_t)(tx->count - sent))
		                        : rte_eth_tx_burst(port, (uint16_t)w->id, tx->pkts + sent,
		                                           (uint16_t)(tx->count - sent));
	w->counters.tx_packets += sent;
	if (sent < tx->count) {
		w->counters.dropped[CAUSE_TX_FAILED] += (uint64_t)(tx->count - sent);
		rte_pktmbuf_free_bulk(tx->pkts + sent, (unsigned)(tx->count - sent));
	}
	tx->count = 0;
}

static void flush_all(struct worker *w, const uint16_t *ports)
{
	for (unsigned o = 0; o < WORKER_SIDE_COUNT; o++)
		if (w->tx[o].count)
			flush_tx(w, (enum worker_side)o, ports[o]);
}

int worker_run(void *arg)
{
	struct worker *w = arg;
	const struct config *cfg = w->shared.cfg;
	struct rte_mbuf *pkts[512];
	uint16_t ports[WORKER_SIDE_COUNT] = {0};
	enum worker_side sides[2];
	unsigned n_sides;
	uint16_t queue = (uint16_t)w->id;

	if (cfg->single_port) {
		sides[0] = WORKER_SIDE_LAB;
		n_sides = 1;
		ports[WORKER_SIDE_LAB] = cfg->lab_port;
	} else {
		sides[0] = WORKER_SIDE_OUTSIDE;
		sides[1] = WORKER_SIDE_INSIDE;
		n_sides = 2;
		ports[WORKER_SIDE_OUTSIDE] = cfg->outside_port;
		ports[WORKER_SIDE_INSIDE] = cfg->inside_port;
	}
	/* A port that stamps packets (net_pcap in a replay) registered the
	 * receive-timestamp field when it started: events then carry the
	 * packet's time. */
	int ts_flag_bit = rte_mbuf_dynflag_lookup(RTE_MBUF_DYNFLAG_RX_TIMESTAMP_NAME, NULL);
	w->rx_ts_offset = rte_mbuf_dynfield_lookup(RTE_MBUF_DYNFIELD_TIMESTAMP_NAME, NULL);
	w->rx_ts_flag = ts_flag_bit >= 0 && w->rx_ts_offset >= 0 ? RTE_BIT64(ts_flag_bit) : 0;
	policy_rcu_reader_online(w->shared.policy, w->id);
	refresh_policy(w);
	while (!*w->stop) {
		uint64_t now = worker_clock_ms();
		for (unsigned s = 0; s < n_sides; s++) {
			uint16_t n = w->lane != NULL
			                 ? distributor_lane_rx(w->lane, sides[s], pkts,
			                                       (uint16_t)cfg->rx_burst)
			                 : rte_eth_rx_burst(ports[sides[s]], queue, pkts,
			                                    (uint16_t)cfg->rx_burst);
			if (n == 0)
				continue;
			worker_handle_burst(w, pkts, n, sides[s], now);
			flush_all(w, ports);
		}
		uint64_t loops = w->loops + 1;
		__atomic_store_n(&w->loops, loops, __ATOMIC_RELAXED); /* read by worker_loops() */
		if ((loops & 15) == 0) {
			worker_expire(w, now);
			/* Timers inject too (retransmissions, 421, RSTs): they
			 * leave now, not with the next received burst. */
			flush_all(w, ports);
		}
		worker_quiescent(w);
	}
	reassembly_flush(w->frags, &w->counters); /* every mbuf back in its pool */
	flush_all(w, ports);
	w->env.policy = NULL;
	policy_rcu_reader_offline(w->shared.policy, w->id);
	return 0;
}

void worker_set_profiling(struct worker *w, bool on, uint64_t *pkt_cycles)
{
	w->env.profiling = on;
	w->pkt_cycles = on ? pkt_cycles : NULL;
}

const struct worker_counters *worker_counters(const struct worker *w)
{
	return &w->counters;
}

struct event_ring *worker_events(struct worker *w)
{
	return w->env.events;
}

unsigned worker_id(const struct worker *w)
{
	return w->id;
}

uint32_t worker_flow_count(const struct worker *w)
{
	return flow_table_count(w->flows);
}

uint64_t worker_loops(const struct worker *w)
{
	return __atomic_load_n(&w->loops, __ATOMIC_RELAXED);
}

uint32_t worker_blocks_in_use(const struct worker *w)
{
	return block_pool_in_use(w->env.pool);
}
