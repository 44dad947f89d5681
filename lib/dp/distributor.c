#include "dp/distributor.h"

#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include <rte_ethdev.h>
#include <rte_prefetch.h>
#include <rte_ring.h>

#define TX_RETRIES 8
#define BURST_MAX 512

/* What a worker reads: fixed once created (no line here is written while
 * the workers run, so reading it shares nothing). */
struct distributor_lane {
	struct rte_ring *rx[WORKER_SIDE_COUNT];
	struct rte_ring *tx[WORKER_SIDE_COUNT]; /* NULL: the worker's own queue */
	uint16_t ports[WORKER_SIDE_COUNT];
	uint16_t queue;   /* the worker's transmit queue without rings */
	uint32_t tx_room; /* free transmit-ring entries a worker needs to read on */
	bool yield;       /* lcores share CPUs: give the CPU up when idle */
} __rte_cache_aligned;

/* What the distributor writes per worker: its staging batch and counters. */
struct lane_state {
	struct distributor_worker_counters c;
	uint16_t staged;
	struct rte_mbuf *stage[BURST_MAX];
} __rte_cache_aligned;

struct distributor {
	unsigned n_workers;
	unsigned n_sides;
	enum worker_side sides[2];
	uint16_t ports[WORKER_SIDE_COUNT];
	uint16_t burst;
	bool tx_rings;
	bool yield; /* lcores share CPUs: give the CPU up when idle */
	bool stop;
	struct distributor_lane *lanes; /* n_workers, read by the workers */
	struct lane_state *state;       /* n_workers, written by the distributor */
	struct distributor_counters c __rte_cache_aligned;
};

/* A 32-bit word of the frame, in whatever byte order: the hash only needs
 * the same value for the same bytes. */
static inline uint32_t word_at(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

/* The murmur3 finalizer: every input bit moves every output bit, so
 * addresses that differ in a few low bits still spread over the workers. */
static inline uint32_t mix32(uint32_t h)
{
	h ^= h >> 16;
	h *= 0x85ebca6bu;
	h ^= h >> 13;
	h *= 0xc2b2ae35u;
	h ^= h >> 16;
	return h;
}

uint32_t distributor_flow_hash(const uint8_t *frame, uint32_t len)
{
	uint32_t off = 12;

	if (len < 14)
		return 0;
	uint16_t type = (uint16_t)(frame[12] << 8 | frame[13]);
	/* The tag types pkt_parse() reads: 802.1Q, 802.1ad, pre-standard 0x9100. */
	for (int tags = 0; tags < 2 && (type == 0x8100 || type == 0x88a8 || type == 0x9100);
	     tags++) {
		off += 4;
		if (len < off + 2)
			return 0;
		type = (uint16_t)(frame[off] << 8 | frame[off + 1]);
	}
	off += 2;
	if (type == 0x0800 && len >= off + 20)
		/* XOR is symmetric: (a, b) and (b, a) give one value. */
		return mix32(word_at(frame + off + 12) ^ word_at(frame + off + 16));
	if (type == 0x86dd && len >= off + 40) {
		const uint8_t *src = frame + off + 8, *dst = frame + off + 24;
		uint32_t h = 0;
		/* Word by word, each pair XORed (symmetric), each word weighted
		 * apart so that equal words in other places do not cancel. */
		static const uint32_t weight[4] = {0x9e3779b1u, 0x85ebca77u, 0xc2b2ae3du,
		                                   0x27d4eb2fu};
		for (int i = 0; i < 4; i++)
			h += (word_at(src + 4 * i) ^ word_at(dst + 4 * i)) * weight[i];
		return mix32(h);
	}
	return 0;
}

static struct rte_ring *ring(const char *kind, unsigned worker, unsigned side, uint32_t size,
                             char *err, size_t err_size)
{
	char name[RTE_RING_NAMESIZE];

	snprintf(name, sizeof(name), "hg_%s_%u_%u", kind, worker, side);
	struct rte_ring *r =
	    rte_ring_create(name, size, (int)rte_socket_id(), RING_F_SP_ENQ | RING_F_SC_DEQ);
	if (r == NULL)
		snprintf(err, err_size, "distributor: cannot create ring %s (%u entries): %s", name,
		         size, rte_strerror(rte_errno));
	return r;
}

struct distributor *distributor_create(const struct config *cfg, unsigned n_workers, bool tx_rings,
                                       uint32_t ring_size, char *err, size_t err_size)
{
	if (n_workers == 0 || n_workers > DISTRIBUTOR_MAX_WORKERS) {
		snprintf(err, err_size, "distributor: %u workers (1..%u)", n_workers,
		         DISTRIBUTOR_MAX_WORKERS);
		return NULL;
	}
	if (ring_size < 2 * cfg->rx_burst) {
		snprintf(err, err_size, "distributor: rings of %u entries for bursts of %u",
		         ring_size, cfg->rx_burst);
		return NULL;
	}
	struct distributor *d = aligned_alloc(RTE_CACHE_LINE_SIZE, sizeof(*d));
	size_t lanes_size = RTE_ALIGN_CEIL(n_workers * sizeof(*d->lanes), RTE_CACHE_LINE_SIZE);
	size_t state_size = RTE_ALIGN_CEIL(n_workers * sizeof(*d->state), RTE_CACHE_LINE_SIZE);
	if (d == NULL) {
		snprintf(err, err_size, "distributor: out of memory");
		return NULL;
	}
	memset(d, 0, sizeof(*d));
	d->lanes = aligned_alloc(RTE_CACHE_LINE_SIZE, lanes_size);
	d->state = aligned_alloc(RTE_CACHE_LINE_SIZE, state_size);
	if (d->lanes == NULL || d->state == NULL) {
		snprintf(err, err_size, "distributor: out of memory");
		distributor_free(d);
		return NULL;
	}
	memset(d->lanes, 0, lanes_size);
	memset(d->state, 0, state_size);
	d->n_workers = n_workers;
	d->burst = (uint16_t)cfg->rx_burst;
	d->tx_rings = tx_rings;
	if (cfg->single_port) {
		d->sides[0] = WORKER_SIDE_LAB;
		d->n_sides = 1;
		d->ports[WORKER_SIDE_LAB] = cfg->lab_port;
	} else {
		d->sides[0] = WORKER_SIDE_OUTSIDE;
		d->sides[1] = WORKER_SIDE_INSIDE;
		d->n_sides = 2;
		d->ports[WORKER_SIDE_OUTSIDE] = cfg->outside_port;
		d->ports[WORKER_SIDE_INSIDE] = cfg->inside_port;
	}
	for (unsigned w = 0; w < n_workers; w++) {
		struct distributor_lane *l = &d->lanes[w];
		memcpy(l->ports, d->ports, sizeof(l->ports));
		l->queue = (uint16_t)w;
		/* A burst in may send a burst out plus what the takeovers inject. */
		l->tx_room = 2u * cfg->rx_burst;
		for (unsigned s = 0; s < d->n_sides; s++) {
			enum worker_side side = d->sides[s];
			l->rx[side] = ring("rx", w, side, ring_size, err, err_size);
			if (l->rx[side] == NULL)
				goto fail;
			if (!tx_rings)
				continue;
			l->tx[side] = ring("tx", w, side, ring_size, err, err_size);
			if (l->tx[side] == NULL)
				goto fail;
		}
	}
	return d;
fail:
	distributor_free(d);
	return NULL;
}

void distributor_free(struct distributor *d)
{
	if (d == NULL)
		return;
	if (d->lanes != NULL)
		for (unsigned w = 0; w < d->n_workers; w++)
			for (unsigned s = 0; s < WORKER_SIDE_COUNT; s++) {
				rte_ring_free(d->lanes[w].rx[s]);
				rte_ring_free(d->lanes[w].tx[s]);
			}
	free(d->lanes);
	free(d->state);
	free(d);
}

struct distributor_lane *distributor_lane(struct distributor *d, unsigned worker)
{
	return &d->lanes[worker];
}

/* Read one port and put each packet on its worker's ring; returns how many. The port is not
 * read while any of the side's rings could not take a whole burst: the
 * port's own queue holds the excess (and counts what it must drop), as it
 * does in front of a single worker. */
static unsigned spread(struct distributor *d, enum worker_side side)
{
	struct rte_mbuf *pkts[BURST_MAX];

	for (unsigned w = 0; w < d->n_workers; w++)
		if (rte_ring_free_count(d->lanes[w].rx[side]) < d->burst) {
			d->c.rx_paused++;
			return 0;
		}
	uint16_t n = rte_eth_rx_burst(d->ports[side], 0, pkts, d->burst);
	if (n == 0)
		return 0;
	d->c.received += n;
	for (uint16_t i = 0; i < n; i++)
		rte_prefetch0(rte_pktmbuf_mtod(pkts[i], void *));
	for (uint16_t i = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i];
		uint32_t h =
		    distributor_flow_hash(rte_pktmbuf_mtod(m, const uint8_t *), m->data_len);
		struct lane_state *st = &d->state[distributor_pick(h, d->n_workers)];
		st->stage[st->staged++] = m;
	}
	for (unsigned w = 0; w < d->n_workers; w++) {
		struct lane_state *st = &d->state[w];
		if (st->staged == 0)
			continue;
		unsigned k = rte_ring_enqueue_burst(d->lanes[w].rx[side], (void **)st->stage,
		                                    st->staged, NULL);
		st->c.enqueued += k;
		if (k < st->staged) { /* cannot happen after the room check; counted */
			st->c.ring_full_dropped += st->staged - k;
			rte_pktmbuf_free_bulk(st->stage + k, st->staged - k);
		}
		st->staged = 0;
	}
	return n;
}

/* Send what the workers handed back for one side; returns how many. */
static unsigned send_back(struct distributor *d, enum worker_side side)
{
	struct rte_mbuf *pkts[BURST_MAX];
	unsigned total = 0;

	for (unsigned w = 0; w < d->n_workers; w++) {
		unsigned n =
		    rte_ring_dequeue_burst(d->lanes[w].tx[side], (void **)pkts, BURST_MAX, NULL);
		if (n == 0)
			continue;
		d->state[w].c.returned += n;
		total += n;
		uint16_t sent = 0;
		for (int tries = 0; sent < n && tries < TX_RETRIES; tries++)
			sent +=
			    rte_eth_tx_burst(d->ports[side], 0, pkts + sent, (uint16_t)(n - sent));
		d->c.transmitted += sent;
		if (sent < n) {
			d->c.tx_failed += n - sent;
			rte_pktmbuf_free_bulk(pkts + sent, n - sent);
		}
	}
	return total;
}

int distributor_run(void *arg)
{
	struct distributor *d = arg;

	while (!__atomic_load_n(&d->stop, __ATOMIC_RELAXED)) {
		unsigned moved = 0;
		for (unsigned s = 0; s < d->n_sides; s++)
			moved += spread(d, d->sides[s]);
		if (d->tx_rings)
			for (unsigned s = 0; s < d->n_sides; s++)
				moved += send_back(d, d->sides[s]);
		if (moved == 0 && d->yield)
			sched_yield();
		__atomic_store_n(&d->c.loops, d->c.loops + 1, __ATOMIC_RELAXED);
	}
	/* The workers have returned: what they handed back leaves, what they
	 * never read is freed and counted. */
	for (unsigned s = 0; s < d->n_sides && d->tx_rings; s++)
		while (send_back(d, d->sides[s]) > 0)
			;
	for (unsigned w = 0; w < d->n_workers; w++)
		for (unsigned s = 0; s < d->n_sides; s++) {
			struct rte_mbuf *pkts[BURST_MAX];
			unsigned n;
			while ((n = rte_ring_dequeue_burst(d->lanes[w].rx[d->sides[s]],
			                                   (void **)pkts, BURST_MAX, NULL)) > 0) {
				d->c.flushed_dropped += n;
				rte_pktmbuf_free_bulk(pkts, n);
			}
		}
	return 0;
}

void distributor_stop(struct distributor *d)
{
	__atomic_store_n(&d->stop, true, __ATOMIC_RELEASE);
}

uint16_t distributor_lane_rx(struct distributor_lane *l, enum worker_side side,
                             struct rte_mbuf **pkts, uint16_t n)
{
	/* Read on only when what this burst sends can go back: forwarded
	 * packets leave by the other side, takeovers inject towards both. */
	for (unsigned s = 0; s < WORKER_SIDE_COUNT; s++)
		if (l->tx[s] != NULL && rte_ring_free_count(l->tx[s]) < l->tx_room)
			return 0;
	uint16_t got = (uint16_t)rte_ring_dequeue_burst(l->rx[side], (void **)pkts, n, NULL);
	if (got == 0 && l->yield)
		sched_yield();
	return got;
}

uint16_t distributor_lane_tx(struct distributor_lane *l, enum worker_side side,
                             struct rte_mbuf **pkts, uint16_t n)
{
	if (l->tx[side] == NULL)
		return rte_eth_tx_burst(l->ports[side], l->queue, pkts, n);
	return (uint16_t)rte_ring_enqueue_burst(l->tx[side], (void **)pkts, n, NULL);
}

void distributor_set_yield(struct distributor *d, bool on)
{
	d->yield = on;
	for (unsigned w = 0; w < d->n_workers; w++)
		d->lanes[w].yield = on;
}

unsigned distributor_workers(const struct distributor *d)
{
	return d->n_workers;
}

bool distributor_has_tx_rings(const struct distributor *d)
{
	return d->tx_rings;
}

static uint64_t load(const uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

void distributor_read(const struct distributor *d, struct distributor_counters *c,
                      struct distributor_worker_counters *per_worker)
{
	c->received = load(&d->c.received);
	c->transmitted = load(&d->c.transmitted);
	c->tx_failed = load(&d->c.tx_failed);
	c->flushed_dropped = load(&d->c.flushed_dropped);
	c->rx_paused = load(&d->c.rx_paused);
	c->loops = load(&d->c.loops);
	for (unsigned w = 0; per_worker != NULL && w < d->n_workers; w++) {
		per_worker[w].enqueued = load(&d->state[w].c.enqueued);
		per_worker[w].ring_full_dropped = load(&d->state[w].c.ring_full_dropped);
		per_worker[w].returned = load(&d->state[w].c.returned);
	}
}

uint32_t distributor_in_rings(const struct distributor *d, unsigned worker)
{
	const struct distributor_lane *l = &d->lanes[worker];
	uint32_t n = 0;

	for (unsigned s = 0; s < WORKER_SIDE_COUNT; s++) {
		if (l->rx[s] != NULL)
			n += rte_ring_count(l->rx[s]);
		if (l->tx[s] != NULL)
			n += rte_ring_count(l->tx[s]);
	}
	return n;
}

void distributor_write_json(FILE *out, const struct distributor *d,
                            const struct worker_counters *total, uint64_t workers_held)
{
	struct distributor_worker_counters pw[DISTRIBUTOR_MAX_WORKERS];
	struct distributor_counters c;
	uint64_t ring_full = 0, in_rings = 0;

	distributor_read(d, &c, pw);
	for (unsigned w = 0; w < d->n_workers; w++) {
		ring_full += pw[w].ring_full_dropped;
		in_rings += distributor_in_rings(d, w);
	}
	fprintf(out,
	        "\"distributor\":{\"workers_fed\":%u,\"tx_rings\":%s,\"received\":%llu,"
	        "\"transmitted\":%llu,\"tx_failed\":%llu,\"ring_full_dropped\":%llu,"
	        "\"flushed_dropped\":%llu,\"rx_paused\":%llu,\"in_rings\":%llu,\"lanes\":[",
	        d->n_workers, d->tx_rings ? "true" : "false", (unsigned long long)c.received,
	        (unsigned long long)c.transmitted, (unsigned long long)c.tx_failed,
	        (unsigned long long)ring_full, (unsigned long long)c.flushed_dropped,
	        (unsigned long long)c.rx_paused, (unsigned long long)in_rings);
	for (unsigned w = 0; w < d->n_workers; w++)
		fprintf(out, "%s{\"enqueued\":%llu,\"ring_full_dropped\":%llu,\"returned\":%llu}",
		        w ? "," : "", (unsigned long long)pw[w].enqueued,
		        (unsigned long long)pw[w].ring_full_dropped,
		        (unsigned long long)pw[w].returned);
	/* The accounting identity at the ports: what the ports gave plus what
	 * the workers built equals what the ports took, what anyone freed
	 * (the workers' causes and the distributor's), and what is still held
	 * (workers' batches and fragments, the rings). Without transmit rings
	 * the workers send themselves: their count is the ports'. */
	uint64_t transmitted = d->tx_rings ? c.transmitted : load(&total->tx_packets);
	fprintf(out,
	        "],\"packets\":{\"received\":%llu,\"injected\":%llu,\"transmitted\":%llu,"
	        "\"held\":%llu,\"dropped\":{",
	        (unsigned long long)c.received, (unsigned long long)load(&total->injected_packets),
	        (unsigned long long)transmitted, (unsigned long long)(workers_held + in_rings));
	for (int i = 0; i < CAUSE_COUNT; i++)
		if (packet_cause_is_drop((enum packet_cause)i))
			fprintf(out, "\"%s\":%llu,", packet_cause_name((enum packet_cause)i),
			        (unsigned long long)load(&total->dropped[i]));
	fprintf(out,
	        "\"distributor_ring_full\":%llu,\"distributor_tx_failed\":%llu,"
	        "\"distributor_flushed\":%llu}}}",
	        (unsigned long long)ring_full, (unsigned long long)c.tx_failed,
	        (unsigned long long)c.flushed_dropped);
}
