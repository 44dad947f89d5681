/* rte_ip_frag_table_del_expired_entries() is still experimental in 22.11. */
#define ALLOW_EXPERIMENTAL_API 1

#include "dp/reassembly.h"

#include <stdio.h>
#include <stdlib.h>

#include <rte_ip.h>
#include <rte_ip_frag.h>
#include <rte_memory.h>

/* Slots per bucket; every datagram may live in one of two buckets. */
#define BUCKET_ENTRIES 8

struct reassembly {
	struct rte_ip_frag_tbl *tbl;
	uint32_t held; /* fragments in the table; one writer, read by the control thread */
	struct rte_ip_frag_death_row dr;
};

struct reassembly *reassembly_create(uint32_t max_datagrams, uint32_t timeout_ms, char *err,
                                     size_t err_size)
{
	struct reassembly *r = calloc(1, sizeof(*r));
	/* Twice as many slots as datagrams, in buckets of 8 with two choices
	 * each: a new datagram finds no slot only when the table is full. */
	uint32_t buckets = rte_align32pow2(max_datagrams) / BUCKET_ENTRIES;

	if (r == NULL) {
		snprintf(err, err_size, "out of memory for the fragment table");
		return NULL;
	}
	/* The clock is the worker's milliseconds: the table's "cycles". */
	r->tbl = rte_ip_frag_table_create(buckets ? buckets : 1, BUCKET_ENTRIES, max_datagrams,
	                                  timeout_ms, SOCKET_ID_ANY);
	if (r->tbl == NULL) {
		snprintf(err, err_size, "cannot allocate a fragment table for %u datagrams",
		         max_datagrams);
		free(r);
		return NULL;
	}
	return r;
}

void reassembly_free(struct reassembly *r)
{
	if (r == NULL)
		return;
	rte_ip_frag_table_destroy(r->tbl);
	free(r);
}

uint32_t reassembly_held(const struct reassembly *r)
{
	return __atomic_load_n(&r->held, __ATOMIC_RELAXED);
}

static void held_add(struct reassembly *r, int32_t n)
{
	__atomic_store_n(&r->held, (uint32_t)((int32_t)r->held + n), __ATOMIC_RELAXED);
}

static void count(struct worker_counters *c, enum packet_cause cause, uint32_t n)
{
	c->causes[cause] += n;
	c->dropped[cause] += n;
}

/* Free the death row: n fragments that were held, counted under cause. */
static void free_held(struct reassembly *r, struct worker_counters *c, enum packet_cause cause)
{
	uint32_t n = r->dr.cnt;

	if (n == 0)
		return;
	rte_ip_frag_free_death_row(&r->dr, 0);
	held_add(r, -(int32_t)n);
	count(c, cause, n);
}

/* Delete entries older than tms, however many: each call deletes entries as
 * long as the death row has room, and the row is emptied between calls. */
static void delete_before(struct reassembly *r, uint64_t tms, struct worker_counters *c,
                          enum packet_cause cause)
{
	while (reassembly_held(r) > 0) {
		rte_ip_frag_table_del_expired_entries(r->tbl, &r->dr, tms);
		if (r->dr.cnt == 0)
			return;
		free_held(r, c, cause);
	}
}

void reassembly_expire(struct reassembly *r, uint64_t now_ms, struct worker_counters *c)
{
	delete_before(r, now_ms, c, CAUSE_FRAGMENT_TIMEOUT);
}

void reassembly_flush(struct reassembly *r, struct worker_counters *c)
{
	delete_before(r, UINT64_MAX, c, CAUSE_FRAGMENT_FLUSHED);
}

/*
 * What the library put on the death row while adding m. rte_ip_frag returns
 * NULL both when m waits and when it freed it, so the row tells: expired
 * entries were deleted just before (reassembly_expire at the same time), and
 * a fragment judged alone by wire/frag is never refused alone, so
 *   - m not on the row: m waits or completed the datagram; anything on the
 *     row timed out (a stale entry reused);
 *   - m alone: no slot for a new datagram (the table is full);
 *   - m and others: the datagram was invalid (overlapping or repeated
 *     fragments, or more than RTE_LIBRTE_IP_FRAG_MAX_FRAG): all of it goes.
 * Returns whether m is still live.
 */
static bool settle_death_row(struct reassembly *r, const struct rte_mbuf *m,
                             struct worker_counters *c)
{
	bool m_freed = false;

	for (uint32_t i = 0; i < r->dr.cnt; i++)
		m_freed |= r->dr.row[i] == m;
	if (!m_freed) {
		free_held(r, c, CAUSE_FRAGMENT_TIMEOUT);
		return true;
	}
	enum packet_cause cause =
	    r->dr.cnt == 1 ? CAUSE_FRAGMENT_TABLE_FULL : CAUSE_FRAGMENT_OVERLAP;
	held_add(r, 1); /* m is on the row: free_held() takes it off with the others */
	free_held(r, c, cause);
	return false;
}

/* The datagram in one buffer, its headers as a received packet's would be.
 * NULL when it does not fit in the first fragment's buffer (freed, counted). */
static struct rte_mbuf *finish(struct rte_mbuf *d, const struct frag_info *fi,
                               struct worker_counters *c)
{
	/* The fragments' own receive flags say nothing about the datagram. */
	d->ol_flags &= ~(RTE_MBUF_F_RX_IP_CKSUM_MASK | RTE_MBUF_F_RX_L4_CKSUM_MASK);
	if (rte_pktmbuf_linearize(d) != 0) {
		rte_pktmbuf_free(d);
		count(c, CAUSE_FRAGMENT_UNSUPPORTED, 1);
		return NULL;
	}
	if (fi->ip_version == 4) {
		/* rte_ip_frag leaves the header checksum zero for the NIC to fill. */
		struct rte_ipv4_hdr *ip =
		    rte_pktmbuf_mtod_offset(d, struct rte_ipv4_hdr *, fi->l2_len);
		ip->hdr_checksum = 0;
		ip->hdr_checksum = rte_ipv4_cksum(ip);
	}
	return d;
}

struct rte_mbuf *reassembly_add(struct reassembly *r, struct rte_mbuf *m,
                                const struct frag_info *fi, uint64_t now_ms,
                                struct worker_counters *c)
{
	uint8_t *l3 = rte_pktmbuf_mtod_offset(m, uint8_t *, fi->l2_len);
	struct rte_mbuf *d;

	reassembly_expire(r, now_ms, c);
	m->l2_len = fi->l2_len;
	m->l3_len = fi->l3_len;
	if (fi->ip_version == 4)
		d = rte_ipv4_frag_reassemble_packet(r->tbl, &r->dr, m, now_ms,
		                                    (struct rte_ipv4_hdr *)l3);
	else
		d = rte_ipv6_frag_reassemble_packet(
		    r->tbl, &r->dr, m, now_ms, (struct rte_ipv6_hdr *)l3,
		    (struct rte_ipv6_fragment_ext *)(l3 + sizeof(struct rte_ipv6_hdr)));
	if (!settle_death_row(r, m, c))
		return NULL;
	if (d == NULL) {
		held_add(r, 1);
		return NULL;
	}
	/* One segment per fragment: m and nb_segs - 1 that were held. */
	uint32_t merged = (uint32_t)d->nb_segs - 1;
	held_add(r, -(int32_t)merged);
	count(c, CAUSE_FRAGMENTS_MERGED, merged);
	return finish(d, fi, c);
}
