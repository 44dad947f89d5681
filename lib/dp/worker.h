/*
 * worker: one poll-mode worker lcore, run to completion, shared-nothing.
 *
 * A worker owns everything it writes: its flow table, its byte-block pool,
 * its Hyperscan scratch, its event ring, its counters and its transmit
 * batches. It shares only read-only data (struct worker_shared): the
 * configuration, the compiled command database, and the verdict policy
 * behind policy_rcu (lists, exemptions, actions, reply texts).
 *
 * RCU rule: a worker may hold a pointer obtained from policy_rcu_get() only
 * until its next policy_rcu_quiescent() call, made once per loop iteration.
 *
 * The data path never allocates, never locks, never blocks and never logs:
 * every outcome is a counter (filter/counters.h). The stages below the
 * worker (filter/inspect, filter/enforce) only decide; the worker alone
 * forwards, trims, drops, injects and frees (wire/disposition.h).
 */
#ifndef HG_WORKER_H
#define HG_WORKER_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_mbuf.h>

#include "dp/config.h"
#include "filter/counters.h"

struct policy_rcu;
struct scan_commands;
struct event_ring;
struct distributor_lane;

/* Read-only state shared by every worker. */
struct worker_shared {
	const struct config *cfg;             /* the start-up configuration (ports, sizes) */
	struct policy_rcu *policy;            /* never NULL; holds a policy before traffic */
	const struct scan_commands *commands; /* the SMTP command database */
	struct rte_mempool *mbufs;            /* where injected segments come from */
	/* The live mode (enum config_mode), changed by the console's `set
	 * mode` with an atomic store; each worker loads it once per burst,
	 * so a burst is handled in one mode. NULL: cfg->mode, fixed. */
	const uint32_t *mode;
	/* Live per-reason actions (enum control_action, VERDICT_COUNT bytes),
	 * set by the console's `set action`; 0 (CONTROL_ACTION_MODE) leaves a
	 * reason to the policy and the live mode. NULL: none. */
	const uint8_t *actions;
};

/* Where a packet came from or goes to. Inline mode uses OUTSIDE (clients)
 * and INSIDE (mail servers); single-port lab mode uses LAB for both. */
enum worker_side { WORKER_SIDE_OUTSIDE, WORKER_SIDE_INSIDE, WORKER_SIDE_LAB, WORKER_SIDE_COUNT };

#define WORKER_TX_MAX 1024

/* Packets a burst produced for one output side, in order. */
struct worker_tx {
	uint16_t count;
	struct rte_mbuf *pkts[WORKER_TX_MAX];
};

struct worker;

/* Allocate a worker and all its memory (flow table, pool, ring, scratch).
 * id: 0..n-1, also the RCU reader id and the queue index on every port.
 * NULL with a one-line message in err on failure. */
struct worker *worker_create(unsigned id, const struct worker_shared *shared, char *err,
                             size_t err_size);
void worker_free(struct worker *w);

/* Process pkts[0..n) received from side `from`. Each packet either joins
 * the transmit batch of the output side (worker_tx()) or is freed, and is
 * counted under exactly one cause. now_ms: the worker's clock, sampled once
 * per loop. */
void worker_handle_burst(struct worker *w, struct rte_mbuf **pkts, uint16_t n,
                         enum worker_side from, uint64_t now_ms);

/* The pending transmit batch for a side; the caller sends and empties it. */
struct worker_tx *worker_tx(struct worker *w, enum worker_side side);

/* Free flows whose timers ran out (bounded work per call). */
void worker_expire(struct worker *w, uint64_t now_ms);

/* Mark a quiescent point for RCU (call between bursts, never inside one). */
void worker_quiescent(struct worker *w);

/* The poll loop for rte_eal_remote_launch(): receive, process, transmit,
 * expire, quiescent; until *stop becomes true. arg: struct worker *. */
int worker_run(void *arg);
void worker_set_stop_flag(struct worker *w, volatile bool *stop);

/* Software distribution (dp/distributor): receive from the lane's rings
 * instead of queue `id` of each port, and transmit through the lane (its
 * transmit rings, or queue `id`). NULL (the default): the ports' queues. */
void worker_set_lane(struct worker *w, struct distributor_lane *lane);

/* Count cycles per stage (counters.h, WORKER_STAGES) from now on; costs a
 * few rdtsc per packet, so only the benchmark turns it on. pkt_cycles
 * (optional, NULL: none; owned by the caller, at least as many entries as
 * the largest burst): while on, each worker_handle_burst() call writes
 * there the cycles of each of its packets, in order: the packet's own
 * second pass plus an equal share of its group's first pass. */
void worker_set_profiling(struct worker *w, bool on, uint64_t *pkt_cycles);

const struct worker_counters *worker_counters(const struct worker *w);
struct event_ring *worker_events(struct worker *w);
unsigned worker_id(const struct worker *w);
uint32_t worker_flow_count(const struct worker *w);
/* Byte blocks in use (partial lines, held segments, long HELOs). */
uint32_t worker_blocks_in_use(const struct worker *w);
/* Packets received or injected and not yet transmitted or freed: those in
 * the transmit batches and the fragments waiting for their datagram (the
 * accounting identity's "held"; readable from any thread, a few packets
 * old). worker_run() frees the fragments when it stops. */
uint32_t worker_held(const struct worker *w);

/* Iterations of the poll loop so far (readable from any thread): a worker
 * whose count stops moving is stuck (the systemd watchdog check). */
uint64_t worker_loops(const struct worker *w);

/* Milliseconds since an arbitrary epoch, from the TSC. */
uint64_t worker_clock_ms(void);

#endif
