#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include <rte_common.h>
#include <rte_rcu_qsbr.h>

#include "judge/policy.h"
#include "dp/policy_rcu.h"

struct policy_rcu {
	struct policy *current; /* __atomic builtins only */
	unsigned max_readers;
	pthread_mutex_t writer_lock;
	struct rte_rcu_qsbr *qsbr;
};

struct policy_rcu *policy_rcu_create(unsigned max_readers)
{
	struct policy_rcu *rcu;
	size_t size;

	if (max_readers == 0)
		return NULL;
	rcu = calloc(1, sizeof(*rcu));
	if (rcu == NULL)
		return NULL;
	rcu->max_readers = max_readers;
	size = RTE_ALIGN_CEIL(rte_rcu_qsbr_get_memsize(max_readers), RTE_CACHE_LINE_SIZE);
	/* Plain memory, not rte_zmalloc: no EAL needed (tests, bench). */
	rcu->qsbr = aligned_alloc(RTE_CACHE_LINE_SIZE, size);
	if (rcu->qsbr == NULL || rte_rcu_qsbr_init(rcu->qsbr, max_readers) != 0 ||
	    pthread_mutex_init(&rcu->writer_lock, NULL) != 0) {
		free(rcu->qsbr);
		free(rcu);
		return NULL;
	}
	return rcu;
}

void policy_rcu_destroy(struct policy_rcu *rcu)
{
	if (rcu == NULL)
		return;
	policy_free(__atomic_load_n(&rcu->current, __ATOMIC_ACQUIRE));
	pthread_mutex_destroy(&rcu->writer_lock);
	free(rcu->qsbr);
	free(rcu);
}

int policy_rcu_reader_register(struct policy_rcu *rcu, unsigned id)
{
	if (id >= rcu->max_readers)
		return -1;
	return rte_rcu_qsbr_thread_register(rcu->qsbr, id) == 0 ? 0 : -1;
}

void policy_rcu_reader_online(struct policy_rcu *rcu, unsigned id)
{
	if (id < rcu->max_readers)
		rte_rcu_qsbr_thread_online(rcu->qsbr, id);
}

void policy_rcu_reader_offline(struct policy_rcu *rcu, unsigned id)
{
	if (id < rcu->max_readers)
		rte_rcu_qsbr_thread_offline(rcu->qsbr, id);
}

void policy_rcu_quiescent(struct policy_rcu *rcu, unsigned id)
{
	if (id < rcu->max_readers)
		rte_rcu_qsbr_quiescent(rcu->qsbr, id);
}

const struct policy *policy_rcu_get(const struct policy_rcu *rcu)
{
	return __atomic_load_n(&rcu->current, __ATOMIC_ACQUIRE);
}

void policy_rcu_replace(struct policy_rcu *rcu, struct policy *p)
{
	const struct timespec pause = {.tv_sec = 0, .tv_nsec = 50 * 1000};
	struct policy *old;

	pthread_mutex_lock(&rcu->writer_lock);
	old = __atomic_load_n(&rcu->current, __ATOMIC_RELAXED);
	__atomic_store_n(&rcu->current, p, __ATOMIC_RELEASE);
	uint64_t token = rte_rcu_qsbr_start(rcu->qsbr);
	/* Either the check sees a reader coming online, or
	 * that reader loads the new policy (store-load ordering). */
	rte_atomic_thread_fence(__ATOMIC_SEQ_CST);
	/* Poll with sleeps, not rte_rcu_qsbr_synchronize()'s spin: a reload
	 * must not take a core from a worker on a small machine. */
	for (unsigned tries = 0; rte_rcu_qsbr_check(rcu->qsbr, token, false) == 0; tries++) {
		if (tries < 16)
			sched_yield();
		else
			nanosleep(&pause, NULL);
	}
	pthread_mutex_unlock(&rcu->writer_lock);
	policy_free(old);
}
