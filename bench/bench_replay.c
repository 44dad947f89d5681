/*
 * bench_replay: one worker's share of the replay (bench.h).
 *
 * The worker's C concurrent sessions are slots. A round hands in one frame
 * of every slot, so C sessions are open at once and consecutive packets of
 * one session are about C packets apart: the flow table is read at C
 * places, as with C sessions interleaved on a link. Each round visits the
 * slots in a new pseudo-random order (slot (k * step + offset) mod C), so
 * that where a flow's record lies (which follows the order sessions
 * started in) tells nothing about when its next packet comes; in a fixed
 * order, records of consecutive packets would sit side by side and the
 * table would look far cheaper than it is. When a slot's session ends,
 * the slot starts its template again with a new client port (tuple
 * rotation: new sessions every time, as TRex multiplies flows from one
 * profile); the port is chosen so that symmetric RSS sends the tuple to
 * this worker.
 *
 * Each batch is first prepared (not timed): the frames' client tuples are
 * rewritten in place with incremental checksum updates, every line of each
 * frame is read, and each mbuf's reference count is raised so that the
 * worker's frees and our transmit leave it to us. Batches of about a
 * thousand frames end up in L2 and L3, as a NIC's DDIO leaves received
 * frames in the last-level cache. A frame (one mbuf) can be in a batch only
 * once: a slot whose next frame is already there (another slot replaying
 * the same template frame) waits for the next batch. Then the batch is
 * handed in bursts of 32 to worker_handle_burst() (or the null pipeline)
 * and timed, with what the real poll loop does around it: take the
 * transmit batches back, expire timers every 16 bursts, pass a quiescent
 * point.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_prefetch.h>
#include <rte_thash.h>

#include "bench.h"
#include "wire/cksum.h"

#define PREFETCH_AHEAD 8

static const uint8_t rss_key[52] = {
    0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d,
    0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a,
    0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d,
    0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a,
};

static uint32_t be32(const uint8_t *b)
{
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

uint32_t bench_rss_hash(uint8_t family, const uint8_t *client, const uint8_t *server,
                        uint16_t client_port, uint16_t server_port)
{
	uint32_t t[9];
	unsigned n = 0;

	/* As the NIC sees a client-to-server packet: source, destination,
	 * ports, in host order (rte_softrss's input). */
	for (unsigned i = 0; i < (family == 4 ? 4u : 16u); i += 4)
		t[n++] = be32(client + i);
	for (unsigned i = 0; i < (family == 4 ? 4u : 16u); i += 4)
		t[n++] = be32(server + i);
	t[n++] = (uint32_t)client_port << 16 | server_port;
	return rte_softrss(t, n, rss_key);
}

/* The 32-bit number that ends the client address of slot j. */
static uint32_t client_tail(const struct bench_replay *r, uint32_t j, uint8_t family)
{
	uint32_t v = j * r->n_workers + r->id + 1;
	return family == 4 ? (0x0a000000u | v) : v;
}

/* A client port for the slot's next session, that RSS sends to this worker. */
static uint16_t pick_port(const struct bench_replay *r, const struct bench_session *t, uint32_t j,
                          uint32_t gen)
{
	uint32_t base = j * 7919u + gen * 4099u;
	uint8_t client[16];
	uint16_t port = 0;

	memcpy(client, t->client, 16);
	uint32_t tail = client_tail(r, j, t->family);
	uint8_t *end = client + (t->family == 4 ? 0 : 12);
	end[0] = (uint8_t)(tail >> 24), end[1] = (uint8_t)(tail >> 16);
	end[2] = (uint8_t)(tail >> 8), end[3] = (uint8_t)tail;
	for (uint32_t k = 0; k < 64512; k++) {
		port = (uint16_t)(1024 + (base + k) % 64512);
		if (r->n_workers == 1 ||
		    bench_rss_queue(
		        bench_rss_hash(t->family, client, t->server, port, t->server_port),
		        r->n_workers) == r->id)
			break;
	}
	return port;
}

/* Store a 16-bit field (as laid out in memory) and fix the checksums that
 * cover it (RFC 1624). */
static inline void put16(uint8_t *d, const struct bench_frame *f, uint16_t off, uint16_t neu,
                         bool in_ip_header)
{
	uint16_t old, ck;

	memcpy(&old, d + off, 2);
	if (old == neu)
		return;
	memcpy(d + off, &neu, 2);
	memcpy(&ck, d + f->l4ck_off, 2);
	ck = cksum_update16(ck, old, neu);
	memcpy(d + f->l4ck_off, &ck, 2);
	if (in_ip_header && f->ipck_off) {
		memcpy(&ck, d + f->ipck_off, 2);
		ck = cksum_update16(ck, old, neu);
		memcpy(d + f->ipck_off, &ck, 2);
	}
}

static void rewrite_tuple(uint8_t *d, const struct bench_frame *f, uint32_t tail, uint16_t port)
{
	put16(d, f, f->addr_off, rte_cpu_to_be_16((uint16_t)(tail >> 16)), true);
	put16(d, f, (uint16_t)(f->addr_off + 2), rte_cpu_to_be_16((uint16_t)tail), true);
	put16(d, f, f->port_off, rte_cpu_to_be_16(port), false);
}

static uint64_t touch_sink;

static uint64_t gcd(uint64_t a, uint64_t b)
{
	while (b != 0) {
		uint64_t t = a % b;
		a = b;
		b = t;
	}
	return a;
}

/* A new visiting order for the next round: slot (k * step + offset) mod C.
 * Changing it every round keeps the flow table's memory order (which
 * follows the order sessions started in) apart from the order packets
 * arrive in, as on a real link. */
static void new_round(struct bench_replay *r)
{
	uint64_t c = r->n_slots;

	r->k = 0;
	r->rng = r->rng * 6364136223846793005ull + 1442695040888963407ull;
	r->offset = (r->rng >> 33) % c;
	r->rng = r->rng * 6364136223846793005ull + 1442695040888963407ull;
	r->step = c > 2 ? 1 + (r->rng >> 33) % (c - 1) : 1;
	while (gcd(r->step, c) != 1)
		r->step = r->step + 1 == c ? 1 : r->step + 1;
}

static inline uint32_t slot_at(const struct bench_replay *r, uint32_t k)
{
	return (uint32_t)(((uint64_t)k * r->step + r->offset) % r->n_slots);
}

/* The template slot j replays now: each session it starts is the next
 * template after the last slot's, so a few slots (--warm) still walk
 * through every template. */
static inline const struct bench_session *slot_template(const struct bench_replay *r, uint32_t j)
{
	uint64_t t = (uint64_t)j + (uint64_t)r->slots[j].gen * r->n_slots;
	return &r->p->sessions[t % r->p->n_sessions];
}

/* Put slot j's next frame into the batch; false when that frame (mbuf) is
 * already in it (another slot replaying the same template frame). */
static bool add_slot(struct bench_replay *r, uint32_t j, bool account, uint32_t *n, uint64_t *sink)
{
	const struct bench_profile *p = r->p;
	struct bench_slot *s = &r->slots[j];
	const struct bench_session *t = slot_template(r, j);
	uint32_t fi = t->first + s->pos;

	if (r->stamp[fi] == r->batch_id)
		return false;
	r->stamp[fi] = r->batch_id;
	const struct bench_frame *f = &p->frames[fi];
	struct rte_mbuf *m = r->m[fi];
	uint8_t *d = rte_pktmbuf_mtod(m, uint8_t *);
	if (r->mode == CONFIG_MODE_ENFORCE && f->hdr_len) {
		/* A takeover may have trimmed this frame in place. */
		memcpy(d, p->bytes + f->offset, f->hdr_len);
		m->data_len = m->pkt_len = f->len;
	}
	if (s->pos == 0) {
		if (t->family)
			s->port = pick_port(r, t, j, s->gen);
		if (account)
			r->sessions_started++;
	}
	if (f->addr_off)
		rewrite_tuple(d, f, client_tail(r, j, t->family), s->port);
	/* The rest of the frame, as DDIO would have put it in cache. */
	for (uint32_t o = 64; o < f->len; o += 64)
		*sink += d[o];
	rte_mbuf_refcnt_update(m, 1);
	if (account)
		r->expected[f->reason] +=
		    r->mode == CONFIG_MODE_ENFORCE ? f->first_events : f->events;
	r->cls[*n] = f->class;
	r->pkts[(*n)++] = m;
	if (++s->pos == t->count) {
		s->pos = 0;
		s->gen++;
		if (account)
			r->sessions_done++;
	}
	return true;
}

/* Prepare the next batch: the slots deferred last time, then up to
 * r->batch slots in this round's order, one frame each. Returns the number
 * of packets in r->pkts; *round_end says the round is complete. */
static uint32_t prepare(struct bench_replay *r, bool warm_up, bool account, bool *round_end)
{
	uint32_t n = 0, keep = 0;
	uint64_t sink = 0;

	r->batch_id++;
	for (uint32_t i = 0; i < r->n_defer; i++) {
		uint32_t j = r->defer[i];
		if (add_slot(r, j, account, &n, &sink))
			r->deferred[j] = 0;
		else
			r->defer[keep++] = j;
	}
	r->n_defer = keep;
	*round_end = false;
	while (n < r->batch) {
		if (r->k == r->n_slots) {
			new_round(r);
			*round_end = true;
			break;
		}
		if (r->k + PREFETCH_AHEAD < r->n_slots) {
			/* The frames' lines are cold (all the templates are far
			 * larger than the caches): ask for them ahead. A pktmbuf
			 * pool's data starts right after the mbuf and its headroom. */
			uint32_t a = slot_at(r, r->k + PREFETCH_AHEAD);
			const struct bench_session *ta = slot_template(r, a);
			const uint8_t *ma = (const uint8_t *)r->m[ta->first + r->slots[a].pos];
			rte_prefetch0(ma);
			rte_prefetch0(ma + sizeof(struct rte_mbuf) + RTE_PKTMBUF_HEADROOM);
			rte_prefetch0(ma + sizeof(struct rte_mbuf) + RTE_PKTMBUF_HEADROOM + 64);
		}
		uint32_t j = slot_at(r, r->k++);
		if (r->deferred[j])
			continue; /* still waiting from an earlier batch */
		if (warm_up && r->wait[j] > 0) {
			r->wait[j]--;
			continue;
		}
		if (add_slot(r, j, account, &n, &sink))
			continue;
		if (r->n_defer < r->batch) {
			r->defer[r->n_defer++] = j;
			r->deferred[j] = 1;
			r->deferrals++;
		}
	}
	touch_sink += sink;
	return n;
}

/* testpmd's macswap: swap the Ethernet addresses, transmit (here: give back). */
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

/* Take the worker's transmit batches back: the replay's frames drop to one
 * reference again, injected segments go back to the pool. */
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

static void process(struct bench_replay *r, uint32_t n, bool null_pipeline)
{
	for (uint32_t i = 0; i < n; i += BENCH_BURST) {
		uint16_t k = (uint16_t)(n - i < BENCH_BURST ? n - i : BENCH_BURST);
		if (null_pipeline) {
			null_burst(r->pkts + i, k);
			continue;
		}
		uint64_t now = worker_clock_ms();
		worker_handle_burst(r->w, r->pkts + i, k, WORKER_SIDE_LAB, now);
		if (r->profiling)
			for (uint16_t q = 0; q < k; q++) {
				r->class_packets[r->cls[i + q]]++;
				r->class_cycles[r->cls[i + q]] += r->pkt_cycles[q];
			}
		give_back(r->w);
		if ((++r->bursts & 15) == 0)
			worker_expire(r->w, now);
		worker_quiescent(r->w);
	}
}

void bench_replay_run(struct bench_replay *r, enum bench_pass pass, uint64_t budget,
                      uint64_t max_wall_cycles)
{
	uint64_t start = rte_rdtsc();
	uint32_t rounds = 0;
	bool round_end;

	r->cycles = r->packets = r->bytes = 0;
	if (r->n_slots == 0)
		return;
	if (pass == BENCH_WARM_UP) {
		while (rounds < r->stagger) {
			uint32_t n = prepare(r, true, true, &round_end);
			process(r, n, false);
			r->packets += n;
			rounds += round_end;
		}
		return;
	}
	bool null_pipeline = pass == BENCH_NULL;
	while (r->cycles < budget && rte_rdtsc() - start < max_wall_cycles) {
		uint32_t n = prepare(r, false, !null_pipeline, &round_end);
		for (uint32_t i = 0; i < n; i++)
			r->bytes += r->pkts[i]->pkt_len;
		uint64_t t0 = rte_rdtsc();
		process(r, n, null_pipeline);
		r->cycles += rte_rdtsc() - t0;
		r->packets += n;
	}
}

int bench_replay_init(struct bench_replay *r, struct rte_mempool *pool, char *err, size_t err_size)
{
	const struct bench_profile *p = r->p;

	size_t slots = r->n_slots ? r->n_slots : 1;

	if (r->batch == 0)
		r->batch = 1;
	r->m = calloc(p->n_frames, sizeof(*r->m));
	r->stamp = calloc(p->n_frames, sizeof(*r->stamp));
	r->slots = calloc(slots, sizeof(*r->slots));
	r->wait = calloc(slots, 1);
	r->deferred = calloc(slots, 1);
	r->defer = calloc(r->batch, sizeof(*r->defer));
	r->pkts = calloc((size_t)r->batch * 2, sizeof(*r->pkts)); /* deferred + new */
	r->cls = calloc((size_t)r->batch * 2, 1);
	if (r->m == NULL || r->stamp == NULL || r->slots == NULL || r->wait == NULL ||
	    r->deferred == NULL || r->defer == NULL || r->pkts == NULL || r->cls == NULL) {
		snprintf(err, err_size, "out of memory for %u slots", r->n_slots);
		return -1;
	}
	for (uint32_t i = 0; i < p->n_frames; i++) {
		const struct bench_frame *f = &p->frames[i];
		struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
		if (m == NULL || f->len > rte_pktmbuf_tailroom(m)) {
			rte_pktmbuf_free(m);
			snprintf(err, err_size,
			         "out of mbufs for the profile's %u frames (more -m, or fewer "
			         "--sessions)",
			         p->n_frames);
			return -1;
		}
		memcpy(rte_pktmbuf_append(m, f->len), p->bytes + f->offset, f->len);
		r->m[i] = m;
	}
	/* Stagger the starts, so that a round holds every stage of a session. */
	for (uint32_t j = 0; j < r->n_slots; j++) {
		const struct bench_session *t = slot_template(r, j);
		uint32_t span = t->count < r->stagger ? t->count : r->stagger;
		uint32_t h = (j * 0x9e3779b1u) ^ (j >> 7);
		r->wait[j] = (uint8_t)(span ? (h >> 8) % span : 0);
	}
	r->rng = 0x853c49e6748fea9bull + r->id;
	new_round(r);
	return 0;
}

void bench_replay_free(struct bench_replay *r)
{
	if (r->m)
		for (uint32_t i = 0; i < r->p->n_frames; i++)
			rte_pktmbuf_free(r->m[i]);
	free(r->m);
	free(r->stamp);
	free(r->slots);
	free(r->wait);
	free(r->deferred);
	free(r->defer);
	free(r->pkts);
	free(r->cls);
	r->cls = NULL;
	r->m = NULL;
	r->stamp = NULL;
	r->slots = NULL;
	r->wait = NULL;
	r->deferred = NULL;
	r->defer = NULL;
	r->pkts = NULL;
}
