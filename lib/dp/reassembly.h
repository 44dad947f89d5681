/*
 * reassembly: IP fragments of TCP datagrams put back together before
 * inspection, with DPDK's rte_ip_frag (IPv4 and IPv6); one table per worker.
 *
 * Owns:     the worker's fragment table and death row, and every mbuf that
 *           waits in them (reassembly_held()).
 * Never:    judges a fragment alone (wire/frag does, before), parses TCP,
 *           forwards; frees an mbuf without counting it under its cause.
 * Bounds:   max_datagrams datagrams at once, each of at most
 *           RTE_LIBRTE_IP_FRAG_MAX_FRAG (8) fragments, each for timeout_ms.
 * Threads:  one worker; reassembly_held() may be read from any thread.
 * Counts:   every fragment it frees, in the counters given (causes[] and
 *           dropped[], wire/disposition.h): fragments_merged (N-1 of a
 *           datagram of N), fragment_timeout_dropped, fragment_overlap_dropped,
 *           fragment_table_full_dropped, fragment_unsupported_dropped (a
 *           datagram too long for one mbuf), fragment_flushed_dropped.
 */
#ifndef HG_REASSEMBLY_H
#define HG_REASSEMBLY_H

#include <stddef.h>
#include <stdint.h>

#include <rte_mbuf.h>

#include "wire/frag.h"
#include "filter/counters.h"

struct reassembly;

/* A table for max_datagrams datagrams (1..) whose fragments wait at most
 * timeout_ms. NULL with a one-line message in err on failure. */
struct reassembly *reassembly_create(uint32_t max_datagrams, uint32_t timeout_ms, char *err,
                                     size_t err_size);

/* Free the table; call reassembly_flush() first, or the mbufs still held
 * are freed uncounted. NULL is allowed. */
void reassembly_free(struct reassembly *r);

/*
 * Add fragment m (one segment; fi from frag_check() of its frame, FRAG_HOLD).
 * Returns the whole datagram as one contiguous mbuf, its IP header rewritten
 * (lengths, no fragment fields, IPv4 checksum) and its receive checksum
 * flags cleared, to be parsed and handled like any received packet in m's
 * place; or NULL: m waits in the table, or was freed and counted. Fragments
 * of other datagrams whose time ran out are freed first (counted).
 */
struct rte_mbuf *reassembly_add(struct reassembly *r, struct rte_mbuf *m,
                                const struct frag_info *fi, uint64_t now_ms,
                                struct worker_counters *counters);

/* Free the fragments of datagrams older than the timeout (counted). */
void reassembly_expire(struct reassembly *r, uint64_t now_ms, struct worker_counters *counters);

/* Free every fragment still waiting (fragment_flushed_dropped): at worker stop. */
void reassembly_flush(struct reassembly *r, struct worker_counters *counters);

/* Fragments waiting in the table (part of the accounting identity's held). */
uint32_t reassembly_held(const struct reassembly *r);

#endif
