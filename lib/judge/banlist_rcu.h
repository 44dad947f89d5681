/*
 * banlist_rcu: the banned list shared by the workers, replaceable while they
 * run.
 *
 * Quiescent-state-based reclamation with DPDK's rte_rcu_qsbr: readers take
 * no lock and write nothing shared on a lookup; the writer publishes a new
 * list with one atomic release store, waits until every registered online
 * reader has passed a quiescent point, then frees the old list. Chosen over
 * reference counts (a shared atomic written per lookup bounces a cache line
 * between cores) and over a reader-writer lock (readers would write too, and
 * a reload would stall the data path). rte_rcu_qsbr's memory is plain
 * aligned_alloc memory, so this works without rte_eal_init() (unit tests,
 * helogate-check); only the writer ever sleeps.
 *
 * THE READER RULE: a reader may use the pointer banlist_rcu_get() returned
 * only until its next banlist_rcu_quiescent() or banlist_rcu_reader_offline()
 * call. A worker calls banlist_rcu_quiescent() once per loop, between packet
 * bursts, holding no list pointer at that moment.
 *
 * Never blocks a reader; never allocates on the read path.
 */
#ifndef HG_BANLIST_RCU_H
#define HG_BANLIST_RCU_H

#include <stddef.h>

struct banlist;
struct banlist_rcu;

/* Create an empty shared list (banlist_rcu_get() returns NULL, which bans
 * nothing) for reader ids 0 .. max_readers - 1. NULL when max_readers is 0
 * or on memory exhaustion. */
struct banlist_rcu *banlist_rcu_create(unsigned max_readers);

/* Free rcu and the list it holds. Every reader must be offline or gone and
 * no writer may be running. NULL is a no-op. */
void banlist_rcu_destroy(struct banlist_rcu *rcu);

/* Reader side. id < max_readers, one thread per id; register once, before
 * the first online. A registered reader starts offline; unregister takes it
 * offline first. register and unregister return 0, or -1 for an id out of
 * range. The calls below ignore an id out of range. */
int banlist_rcu_reader_register(struct banlist_rcu *rcu, unsigned id);
int banlist_rcu_reader_unregister(struct banlist_rcu *rcu, unsigned id);

/* Online: from now on the writer waits for this reader's quiescent points.
 * Go offline before blocking (sleep, a long wait on I/O) so that a writer
 * never waits for it; an offline reader must not hold a list pointer. */
void banlist_rcu_reader_online(struct banlist_rcu *rcu, unsigned id);
void banlist_rcu_reader_offline(struct banlist_rcu *rcu, unsigned id);

/* The current list (NULL: nothing banned), for an online reader. An atomic
 * acquire load: everything the writer built before publishing is visible.
 * Valid until the caller's next quiescent or offline call (the reader
 * rule). Two calls between quiescent points may return different lists. */
const struct banlist *banlist_rcu_get(const struct banlist_rcu *rcu);

/* Report a quiescent point: the reader holds no list pointer now. Cheap (one
 * load, at most one store to the reader's own cache line); call it between
 * bursts. */
void banlist_rcu_quiescent(struct banlist_rcu *rcu, unsigned id);

/* Writer side (control path: reload, ban, tests). Publish new_list (NULL:
 * ban nothing), taking ownership of it, then wait until every registered
 * online reader has passed a quiescent point (polling with short sleeps) and
 * free the previous list. Writers are serialized by a mutex. A registered
 * reader must be offline while it calls this, or it waits for itself
 * forever. Returns 0; -1 only when rcu is NULL (new_list is then freed). */
int banlist_rcu_replace(struct banlist_rcu *rcu, struct banlist *new_list);

/* banlist_load_file(path) then banlist_rcu_replace(). On failure the list in
 * force stays in force, -1 is returned and err holds banlist_load_file()'s
 * one-line message. 0 on success. */
int banlist_rcu_reload_file(struct banlist_rcu *rcu, const char *path, char *err, size_t err_size);

#endif
