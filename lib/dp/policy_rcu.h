/*
 * policy_rcu: the policy the workers judge with, replaceable as a whole
 * while they run (SIGHUP: configuration and every list, one swap).
 *
 * docs/design.md, "Replacing the list while workers read it": rte_rcu_qsbr, readers write nothing
 * shared, the writer publishes with one release store, waits for every online reader's next
 * quiescent point, then frees the old policy.
 *
 * Owns:    the published policy (and, through it, its attachment).
 * Never:   blocks or allocates on the read side.
 * Threads: readers 0..max_readers-1, one thread each; writers serialized.
 *
 * THE READER RULE: a pointer from policy_rcu_get() is valid until the
 * caller's next policy_rcu_quiescent() or policy_rcu_reader_offline().
 */
#ifndef HG_POLICY_RCU_H
#define HG_POLICY_RCU_H

struct policy;
struct policy_rcu;

/* NULL when max_readers is 0 or on memory exhaustion. Holds no policy. */
struct policy_rcu *policy_rcu_create(unsigned max_readers);
/* Frees the current policy too; every reader offline or gone. NULL: no-op. */
void policy_rcu_destroy(struct policy_rcu *rcu);

int policy_rcu_reader_register(struct policy_rcu *rcu, unsigned id);
void policy_rcu_reader_online(struct policy_rcu *rcu, unsigned id);
void policy_rcu_reader_offline(struct policy_rcu *rcu, unsigned id);
void policy_rcu_quiescent(struct policy_rcu *rcu, unsigned id);

/* The current policy (NULL before the first publish). */
const struct policy *policy_rcu_get(const struct policy_rcu *rcu);

/* Publish p (taking ownership), wait for the readers, free the old one.
 * A registered reader must be offline while it calls this. */
void policy_rcu_replace(struct policy_rcu *rcu, struct policy *p);

#endif
