#include "tcp/syn_queue.h"

#include <stdlib.h>
#include <string.h>

int syn_queue_init(struct syn_queue *q, uint32_t capacity)
{
	uint32_t n = 2;

	memset(q, 0, sizeof(*q));
	while (n < capacity && n < (1u << 30))
		n <<= 1;
	q->idx = calloc(n, sizeof(*q->idx));
	q->isn = calloc(n, sizeof(*q->isn));
	if (q->idx == NULL || q->isn == NULL) {
		syn_queue_free(q);
		return -1;
	}
	q->mask = n - 1;
	return 0;
}

void syn_queue_free(struct syn_queue *q)
{
	free(q->idx);
	free(q->isn);
	memset(q, 0, sizeof(*q));
}

void syn_queue_push(struct syn_queue *q, int32_t idx, uint32_t isn)
{
	if (q->tail - q->head > q->mask)
		q->head++; /* full: forget the oldest */
	q->idx[q->tail & q->mask] = idx;
	q->isn[q->tail & q->mask] = isn;
	q->tail++;
}

bool syn_queue_pop(struct syn_queue *q, int32_t *idx, uint32_t *isn)
{
	if (q->head == q->tail)
		return false;
	*idx = q->idx[q->head & q->mask];
	*isn = q->isn[q->head & q->mask];
	q->head++;
	return true;
}
