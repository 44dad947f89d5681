/*
 * control: what the operator's tools act on while helogate runs — the
 * console (-i), --stats-period, telemetry and signals call these plain
 * functions, so each action has one implementation.
 *
 * Owns:     the live mode the workers apply (an atomic word each worker
 *           loads once per burst), the console's counter baseline ("clear
 *           stats"), the requested per-reason actions.
 * Never:    writes a worker's counters or state (counters are read with
 *           relaxed loads; "clear stats" subtracts a baseline instead), or
 *           blocks a worker.
 * Threads:  the control thread for every function, except the reads marked
 *           "any thread" (telemetry serves on its own threads).
 */
#ifndef HG_CONTROL_H
#define HG_CONTROL_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "dp/config.h"
#include "filter/counters.h"

struct worker;
struct rte_mempool;
struct event_log;

/* Per-worker figures shown by `show workers`, /helogate/workers and
 * --stats-period: name, description. Levels are "now"; the rest count. */
#define CONTROL_WORKER_FIELDS(X)                                                                   \
	X(packets, "packets received")                                                             \
	X(transmitted, "packets transmitted (forwarded and injected)")                             \
	X(flows, "sessions tracked now (level)")                                                   \
	X(blocks, "byte blocks in use now (level)")                                                \
	X(events, "events handed to the writer")                                                   \
	X(events_dropped, "events lost on a full event ring")                                      \
	X(drops, "packets dropped, every cause")

struct control_worker_view {
#define CONTROL_VIEW_FIELD(name, desc) uint64_t name;
	CONTROL_WORKER_FIELDS(CONTROL_VIEW_FIELD)
#undef CONTROL_VIEW_FIELD
};

/* Per-reason columns of `show verdicts` and /helogate/verdicts: the column
 * name, the struct worker_counters array (indexed by enum verdict_reason)
 * it sums, a description. A new per-reason counter array (the policy's
 * "detected" and "allowed") is one more line here. */
#define CONTROL_VERDICT_COLUMNS(X)                                                                 \
	X(judged, verdicts, "HELO verdicts taken with this reason (at RCPT TO or STARTTLS)")       \
	X(rejected, rejected, "RCPTs answered with the 550 reply for this reason (enforce)")       \
	X(detected, detected, "bogus verdicts written as 'detected' events and let through")

enum control_column {
#define CONTROL_COLUMN_ENUM(name, array, desc) CONTROL_COLUMN_##name,
	CONTROL_VERDICT_COLUMNS(CONTROL_COLUMN_ENUM)
#undef CONTROL_COLUMN_ENUM
	    CONTROL_COLUMN_COUNT
};

/* `set action REASON ...`: what an operator asked for one reason. */
enum control_action {
	CONTROL_ACTION_MODE,
	CONTROL_ACTION_ENFORCE,
	CONTROL_ACTION_DETECT,
	CONTROL_ACTION_OFF
};

struct distributor;

struct control {
	const struct config *cfg;
	struct worker *const *workers;
	unsigned n_workers;
	struct rte_mempool *mbufs;
	const struct event_log *events;   /* NULL: no events file */
	volatile sig_atomic_t *reload;    /* the SIGHUP flag the control loop acts on */
	volatile bool *stop;              /* the workers' and the control loop's stop flag */
	uint32_t mode;                    /* enum config_mode the workers apply (atomic) */
	struct worker_counters *baseline; /* per worker, the console's "clear stats" */
	uint64_t cleared_ms;              /* when (worker_clock_ms), 0: never */
	uint8_t actions[VERDICT_COUNT];   /* enum control_action requested per reason */
	const struct distributor *dist;   /* software distribution; NULL: none */
};

/* Set up for n workers (all fields above given by the caller except mode,
 * baseline and actions). 0, or -1 when out of memory. */
int control_init(struct control *c);
void control_free(struct control *c);

/* The mode the workers apply now (any thread). */
enum config_mode control_mode(const struct control *c);

/* Switch every worker to mode from its next burst on: sessions already
 * taken over stay taken over; new verdicts follow the new mode. */
void control_set_mode(struct control *c, enum config_mode mode);

/* The worker's form of a requested action: POLICY_* + 1, or 0 for "the
 * policy's and the live mode's" (session_env.action_override). */
uint8_t control_live_action(uint8_t requested);

/* Set a reason's live action (the workers apply it from their next burst).
 * Returns 0, or -1 with the reason in err (ok and allowed cannot be set). */
int control_set_action(struct control *c, enum verdict_reason reason, enum control_action action,
                       char *err, size_t err_size);
const char *control_action_name(enum control_action action);

/* Ask the control loop for a reload (the SIGHUP path). */
void control_request_reload(struct control *c);

/* Ask everything to stop (the console's quit). */
void control_request_stop(struct control *c);

/* From now on the console's views count from zero; telemetry and the
 * exit statistics keep counting from the start. */
void control_clear_stats(struct control *c);

/* A worker's counters (relaxed loads), minus the baseline when
 * since_clear. Any thread when !since_clear. */
void control_read(const struct control *c, unsigned worker, bool since_clear,
                  struct worker_counters *out);

/* The sum over every worker. */
void control_read_total(const struct control *c, bool since_clear, struct worker_counters *out);

/* The per-worker figures, levels read now. */
void control_worker_view(const struct control *c, unsigned worker, bool since_clear,
                         struct control_worker_view *v);

/* A per-reason column summed over n counters (a worker's or the total). */
uint64_t control_verdict_column(const struct worker_counters *c, enum control_column col,
                                enum verdict_reason reason);
const char *control_column_name(enum control_column col);

/* mbufs of the pool in use now; events the writer failed to write. */
uint64_t control_mbufs_in_use(const struct control *c);
uint64_t control_events_write_failed(const struct control *c);

#endif
