#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <rte_common.h>
#include <rte_rcu_qsbr.h>

#include "judge/banlist.h"
#include "judge/banlist_rcu.h"

struct banlist_rcu {
	struct banlist *current; /* read and written with __atomic builtins only */
	unsigned max_readers;
	unsigned long departures; /* readers unregistered so far (see unregister) */
	pthread_mutex_t writer_lock;
	struct rte_rcu_qsbr *qsbr;
};

struct banlist_rcu *banlist_rcu_create(unsigned max_readers)
{
	struct banlist_rcu *rcu;
	size_t size;

	if (max_readers == 0)
		return NULL;
	rcu = calloc(1, sizeof(*rcu));
	if (rcu == NULL)
		return NULL;
	rcu->max_readers = max_readers;
	size = RTE_ALIGN_CEIL(rte_rcu_qsbr_get_memsize(max_readers), RTE_CACHE_LINE_SIZE);
	/* Plain memory, not rte_zmalloc: no EAL needed. */
	rcu->qsbr = aligned_alloc(RTE_CACHE_LINE_SIZE, size);
	if (rcu->qsbr == NULL || rte_rcu_qsbr_init(rcu->qsbr, max_readers) != 0 ||
	    pthread_mutex_init(&rcu->writer_lock, NULL) != 0) {
		free(rcu->qsbr);
		free(rcu);
		return NULL;
	}
	return rcu;
}

void banlist_rcu_destroy(struct banlist_rcu *rcu)
{
	if (rcu == NULL)
		return;
	banlist_free(__atomic_load_n(&rcu->current, __ATOMIC_ACQUIRE));
	pthread_mutex_destroy(&rcu->writer_lock);
	free(rcu->qsbr);
	free(rcu);
}

int banlist_rcu_reader_register(struct banlist_rcu *rcu, unsigned id)
{
	if (id >= rcu->max_readers)
		return -1;
	return rte_rcu_qsbr_thread_register(rcu->qsbr, id) == 0 ? 0 : -1;
}

int banlist_rcu_reader_unregister(struct banlist_rcu *rcu, unsigned id)
{
	if (id >= rcu->max_readers)
		return -1;
	rte_rcu_qsbr_thread_offline(rcu->qsbr, id);
	/* librte_rcu.so clears the reader's bit with a release that the
	 * writer's check acquires, but ThreadSanitizer cannot see inside the
	 * uninstrumented library; this counter carries the same edge where it
	 * can (the writer acquires it after every check). */
	__atomic_fetch_add(&rcu->departures, 1, __ATOMIC_RELEASE);
	return rte_rcu_qsbr_thread_unregister(rcu->qsbr, id) == 0 ? 0 : -1;
}

void banlist_rcu_reader_online(struct banlist_rcu *rcu, unsigned id)
{
	if (id < rcu->max_readers)
		rte_rcu_qsbr_thread_online(rcu->qsbr, id);
}

void banlist_rcu_reader_offline(struct banlist_rcu *rcu, unsigned id)
{
	if (id < rcu->max_readers)
		rte_rcu_qsbr_thread_offline(rcu->qsbr, id);
}

const struct banlist *banlist_rcu_get(const struct banlist_rcu *rcu)
{
	return __atomic_load_n(&rcu->current, __ATOMIC_ACQUIRE);
}

void banlist_rcu_quiescent(struct banlist_rcu *rcu, unsigned id)
{
	if (id < rcu->max_readers)
		rte_rcu_qsbr_quiescent(rcu->qsbr, id);
}

/* Poll rather than rte_rcu_qsbr_synchronize(): it spins with rte_pause(),
 * and a reload must not take a whole core from a worker on a 2-core box. */
static void wait_for_readers(struct banlist_rcu *rcu)
{
	const struct timespec pause = {.tv_sec = 0, .tv_nsec = 50 * 1000};
	uint64_t token = rte_rcu_qsbr_start(rcu->qsbr);

	/* Pairs with the same fence in rte_rcu_qsbr_thread_online(): either
	 * the check below sees a reader coming online, or that reader loads
	 * the new list (store-load ordering, which a release alone does not
	 * give). DPDK's form, which TSan accepts. */
	rte_atomic_thread_fence(__ATOMIC_SEQ_CST);
	for (unsigned tries = 0; rte_rcu_qsbr_check(rcu->qsbr, token, false) == 0; tries++) {
		if (tries < 16)
			sched_yield();
		else
			nanosleep(&pause, NULL);
	}
	(void)__atomic_load_n(&rcu->departures, __ATOMIC_ACQUIRE);
}

int banlist_rcu_replace(struct banlist_rcu *rcu, struct banlist *new_list)
{
	struct banlist *old;

	if (rcu == NULL) {
		banlist_free(new_list);
		return -1;
	}
	pthread_mutex_lock(&rcu->writer_lock);
	old = __atomic_load_n(&rcu->current, __ATOMIC_RELAXED);
	__atomic_store_n(&rcu->current, new_list, __ATOMIC_RELEASE);
	/* The token increment in rte_rcu_qsbr_start() is a release too: a
	 * reader that reports the new token has already seen new_list. */
	wait_for_readers(rcu);
	pthread_mutex_unlock(&rcu->writer_lock);
	banlist_free(old);
	return 0;
}

int banlist_rcu_reload_file(struct banlist_rcu *rcu, const char *path, char *err, size_t err_size)
{
	struct banlist *list;

	if (rcu == NULL) {
		if (err != NULL && err_size > 0)
			snprintf(err, err_size, "%s: no shared banned list to load into",
			         path != NULL ? path : "banned list");
		return -1;
	}
	list = banlist_load_file(path, err, err_size);
	if (list == NULL)
		return -1;
	return banlist_rcu_replace(rcu, list);
}
