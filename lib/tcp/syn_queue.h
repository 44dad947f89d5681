/*
 * syn_queue: the flows still in their handshake, oldest first, so that a
 * full flow table can evict one of them instead of refusing a new session
 * (reliability rule 3; conntrack's early drop does the same). A SYN flood
 * then only replaces embryonic flows: established sessions keep their
 * inspection, and a new real session still gets an entry.
 *
 * Owns:    a ring of (flow index, client ISN) pairs, allocated once.
 * Never:   frees a flow itself (the worker checks an entry is still that
 *          embryonic flow, then frees it); allocates after init.
 * Threads: one worker.
 */
#ifndef HG_SYN_QUEUE_H
#define HG_SYN_QUEUE_H

#include <stdbool.h>
#include <stdint.h>

struct syn_queue {
	uint32_t mask; /* capacity - 1 (a power of two) */
	uint32_t head; /* next to pop */
	uint32_t tail; /* next to push */
	int32_t *idx;
	uint32_t *isn;
};

/* capacity: rounded up to a power of two (at least 2). -1 when out of memory. */
int syn_queue_init(struct syn_queue *q, uint32_t capacity);
void syn_queue_free(struct syn_queue *q);

/* A flow entered its handshake. When the ring is full the oldest pair is
 * forgotten (that flow then times out by itself). */
void syn_queue_push(struct syn_queue *q, int32_t idx, uint32_t isn);

/* The oldest pair, removed; false when empty. The pair may be stale (the
 * flow completed its handshake, ended, or its index was reused): the
 * caller checks. */
bool syn_queue_pop(struct syn_queue *q, int32_t *idx, uint32_t *isn);

#endif
