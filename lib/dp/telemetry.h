/*
 * telemetry: helogate's commands on DPDK's telemetry socket
 * (/var/run/dpdk/PREFIX/dpdk_telemetry.v2; dpdk-telemetry.py -f PREFIX):
 *
 *   /helogate/stats       totals: every counter, every cause, the accounting
 *                         object "packets" {received, injected, transmitted,
 *                         held, dropped {cause: N}}, mbufs_in_use,
 *                         events_write_failed, workers, mode
 *   /helogate/workers     per worker (columns of equal length, "worker" the
 *                         ids): packets, transmitted, flows, blocks, events,
 *                         events_dropped, drops; ",N": worker N as one object
 *   /helogate/verdicts    per reason ("reason" the names): judged, rejected;
 *                         ",REASON": that reason as one object
 *   /helogate/config      the running configuration, the live mode included
 *   /helogate/distributor software distribution (--distribute): "active" 0
 *                         or 1; its counters (received, transmitted,
 *                         tx_failed, ring_full_dropped, flushed_dropped,
 *                         rx_paused, in_rings) and per-worker columns
 *                         enqueued, ring_full, returned
 *   /helogate/mode        the live mode; ",enforce" or ",detect" sets it, as
 *                         the console's set mode does (the only command that
 *                         writes; the socket is root's, mode 0700 directory)
 *
 * Counters count from the start (monitoring expects them never to go
 * back): the console's "clear stats" does not touch them.
 *
 * Owns:     a pointer to the control state, behind a mutex that only
 *           telemetry threads and telemetry_detach() take.
 * Never:    stops or slows a worker: counters are relaxed loads.
 * Threads:  callbacks on DPDK's telemetry threads; register and detach on
 *           the control thread.
 */
#ifndef HG_TELEMETRY_H
#define HG_TELEMETRY_H

struct control;

/* Register the commands (once, after rte_eal_init). 0, or -1 when DPDK
 * refused a command (telemetry disabled with --no-telemetry is not an
 * error: the commands are simply never called). */
int telemetry_register(struct control *c);

/* Before the workers are freed: later calls answer null. */
void telemetry_detach(void);

#endif
