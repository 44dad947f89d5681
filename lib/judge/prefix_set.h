/*
 * prefix_set: an immutable set of IPv4 and IPv6 addresses and CIDR
 * prefixes (--allow-clients), asked "does it hold this address?".
 *
 * Owns:    one sorted array of disjoint 128-bit address ranges.
 * Never:   changes after it is built; allocates, locks or writes on a lookup.
 * Threads: any number of concurrent readers; replacing a set while readers
 *          run is the caller's RCU (policy_rcu).
 *
 * IPv4 entries are stored as IPv4-mapped IPv6 ranges (::ffff:0:0/96, RFC
 * 4291 2.5.5.2), so a client seen as ::ffff:a.b.c.d matches an IPv4 entry,
 * as ip_addr_equal() treats them. Overlapping and adjacent entries merge,
 * so a lookup is one binary search whatever the mix of prefix lengths.
 * (DPDK's rte_lpm/rte_lpm6 need EAL memory; this needs nothing, so
 * helogate-check and the unit tests use the very same structure.)
 */
#ifndef HG_PREFIX_SET_H
#define HG_PREFIX_SET_H

#include <stdbool.h>
#include <stddef.h>

#include "wire/addr.h"

struct prefix_set;

/* Load a file: one address or ADDR/LEN per line (LEN 0..32 for IPv4, 0..128
 * for IPv6; bits past LEN must be zero, as in a route: "192.0.2.1/24" is
 * refused as a likely typo); '#' starts a comment, anywhere; blank lines
 * and surrounding blanks ignored; CRLF accepted. NULL on failure with one
 * line "FILE:LINE: problem" or "FILE: problem" in err. An empty file gives
 * an empty set. The caller owns the result (prefix_set_free). */
struct prefix_set *prefix_set_load_file(const char *path, char *err, size_t err_size);

/* Build from entries in the same syntax (a blank or comment entry is
 * skipped); errors read "entries[I]: problem". */
struct prefix_set *prefix_set_build(const char *const *entries, size_t count, char *err,
                                    size_t err_size);

void prefix_set_free(struct prefix_set *set); /* NULL: no-op */

/* Entries read (before merging); 0 for NULL. */
size_t prefix_set_entries(const struct prefix_set *set);

/* True when addr lies in one of the set's prefixes; false for a NULL set. */
bool prefix_set_contains(const struct prefix_set *set, const struct ip_addr *addr);

#endif
