/*
 * distributor: software flow distribution for ports that cannot give one
 * receive queue per worker (no RSS: net_pcap, net_ring, single-queue virtual
 * devices, captures). One lcore reads each port's queue 0, picks a worker by
 * a symmetric hash of the IP addresses (both directions and every fragment
 * of a session reach the same worker) and puts the packet on that worker's
 * receive ring; where a port has fewer transmit queues than workers, the
 * workers hand what they send back over transmit rings and the distributor
 * sends it (docs/design.md, "Several workers").
 *
 * Owns:     the rings (one receive ring per worker and side, one transmit
 *           ring per worker and side when needed; single producer, single
 *           consumer) and every mbuf in them; its counters.
 * Never:    parses past the IP addresses, allocates, locks or logs per
 *           packet; waits on a full ring (it stops reading the port until the
 *           worker has room, so the port's queue absorbs the burst, as with
 *           one worker); frees a packet without counting it.
 * Threads:  distributor_run() on one lcore (producer of every receive ring,
 *           consumer of every transmit ring); each worker is the consumer of
 *           its receive rings and the producer of its transmit rings
 *           (distributor_lane_*); the control thread reads the counters.
 * Counts:   received, transmitted, tx_failed, rx_paused, flushed_dropped; per
 *           worker enqueued, ring_full_dropped, returned.
 */
#ifndef HG_DISTRIBUTOR_H
#define HG_DISTRIBUTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <rte_mbuf.h>

#include "dp/worker.h"

#define DISTRIBUTOR_MAX_WORKERS 64

/* One worker's rings: what worker_run() reads and writes instead of port
 * queues. */
struct distributor_lane;

struct distributor;

/* Counters the distributor keeps per worker (the distributor lcore alone
 * writes them; relaxed loads from the control thread). */
struct distributor_worker_counters {
	uint64_t enqueued;          /* packets put on the worker's receive rings */
	uint64_t ring_full_dropped; /* freed: the receive ring had no room */
	uint64_t returned;          /* packets taken from its transmit rings */
};

/* The distributor's own counters (one writer: the distributor lcore). */
struct distributor_counters {
	uint64_t received;        /* packets read from the ports */
	uint64_t transmitted;     /* packets the ports took from the transmit rings */
	uint64_t tx_failed;       /* freed: the port would not take them after retries */
	uint64_t flushed_dropped; /* freed at stop: left on receive rings */
	uint64_t rx_paused;       /* port reads skipped: a receive ring lacked room */
	uint64_t loops;           /* iterations of the loop (liveness) */
};

/* The symmetric flow hash: the same value for (a, b) and (b, a), computed
 * on the IP addresses only, so that a session's fragments (no ports) and
 * its segments meet on one worker. Non-IP frames hash to 0. frame/len: the
 * whole frame (Ethernet, up to two VLAN tags, IPv4 or IPv6). */
uint32_t distributor_flow_hash(const uint8_t *frame, uint32_t len);

/* The worker (0..n-1) for a hash: multiply-shift, no division. */
static inline unsigned distributor_pick(uint32_t hash, unsigned n_workers)
{
	return (unsigned)(((uint64_t)hash * n_workers) >> 32);
}

/* Rings for n_workers workers on the configured ports (cfg: single port or
 * inline pair). tx_rings: workers hand back what they send (the port has
 * fewer transmit queues than workers); else each worker sends on transmit
 * queue = its id. ring_size: entries per ring (a power of two).
 * NULL with a one-line message in err. */
struct distributor *distributor_create(const struct config *cfg, unsigned n_workers, bool tx_rings,
                                       uint32_t ring_size, char *err, size_t err_size);
void distributor_free(struct distributor *d);

/* Worker i's lane, for worker_set_lane(). */
struct distributor_lane *distributor_lane(struct distributor *d, unsigned worker);

/* The distributor loop for rte_eal_remote_launch() (arg: struct
 * distributor *): read the ports, spread, send what the workers handed
 * back; until distributor_stop(). Then it sends what is left on the
 * transmit rings and frees (counts) what is left on the receive rings:
 * stop it only after the workers have returned. */
int distributor_run(void *arg);
void distributor_stop(struct distributor *d);

/* Worker side (the lane's only consumer/producer): up to n packets received
 * on side `side`, 0 while the lane's transmit ring could not take a whole
 * burst back (the worker then sends first). */
uint16_t distributor_lane_rx(struct distributor_lane *l, enum worker_side side,
                             struct rte_mbuf **pkts, uint16_t n);

/* Worker side: hand pkts[0..n) to side `side`; returns how many were
 * taken (the caller retries, then counts the rest as tx_failed). Without
 * transmit rings: rte_eth_tx_burst on the worker's own queue. */
uint16_t distributor_lane_tx(struct distributor_lane *l, enum worker_side side,
                             struct rte_mbuf **pkts, uint16_t n);

/* Lcores that share a CPU (a test or lab machine with fewer CPUs than
 * lcores): the distributor and the workers give the CPU up (sched_yield)
 * when a poll found nothing, instead of spinning out their time slice while
 * the thread they wait for cannot run. Off by default; call before launch. */
void distributor_set_yield(struct distributor *d, bool on);

unsigned distributor_workers(const struct distributor *d);
bool distributor_has_tx_rings(const struct distributor *d);
/* A snapshot (relaxed loads; any thread). */
void distributor_read(const struct distributor *d, struct distributor_counters *c,
                      struct distributor_worker_counters *per_worker);
/* Packets on worker i's rings now (receive and transmit; any thread). */
uint32_t distributor_in_rings(const struct distributor *d, unsigned worker);

/* "distributor":{...} (the counters, per worker, and the accounting at the
 * ports: "packets" {received, injected, transmitted, held, dropped}) for
 * the --stats JSON; total: the workers' summed counters, workers_held:
 * their held packets. */
void distributor_write_json(FILE *out, const struct distributor *d,
                            const struct worker_counters *total, uint64_t workers_held);

#endif
