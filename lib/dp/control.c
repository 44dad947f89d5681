#include "dp/control.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_mempool.h>

#include "dp/worker.h"
#include "judge/policy.h"
#include "filter/event_log.h"

int control_init(struct control *c)
{
	c->mode = (uint32_t)c->cfg->mode;
	c->cleared_ms = 0;
	memset(c->actions, CONTROL_ACTION_MODE, sizeof(c->actions));
	c->baseline = calloc(c->n_workers ? c->n_workers : 1, sizeof(*c->baseline));
	return c->baseline == NULL ? -1 : 0;
}

void control_free(struct control *c)
{
	free(c->baseline);
	c->baseline = NULL;
}

enum config_mode control_mode(const struct control *c)
{
	return (enum config_mode)__atomic_load_n(&c->mode, __ATOMIC_RELAXED);
}

void control_set_mode(struct control *c, enum config_mode mode)
{
	__atomic_store_n(&c->mode, (uint32_t)mode, __ATOMIC_RELAXED);
}

const char *control_action_name(enum control_action action)
{
	switch (action) {
	case CONTROL_ACTION_MODE:
		return "mode";
	case CONTROL_ACTION_ENFORCE:
		return "enforce";
	case CONTROL_ACTION_DETECT:
		return "detect";
	case CONTROL_ACTION_OFF:
		return "off";
	}
	return "?";
}

/* A live per-reason action: one byte per reason that every worker loads
 * once per burst (worker_shared.actions), so it applies from the next
 * burst on and until the next `set action REASON mode` (it is not written
 * to the configuration: a restart or a reload's --action do not keep it). */
int control_set_action(struct control *c, enum verdict_reason reason, enum control_action action,
                       char *err, size_t err_size)
{
	if (reason == VERDICT_OK || reason == VERDICT_ALLOWED) {
		snprintf(err, err_size, "%s is not a bogus reason", verdict_reason_name(reason));
		return -1;
	}
	__atomic_store_n(&c->actions[reason], (uint8_t)action, __ATOMIC_RELAXED);
	return 0;
}

uint8_t control_live_action(uint8_t requested)
{
	switch ((enum control_action)requested) {
	case CONTROL_ACTION_ENFORCE:
		return (uint8_t)(POLICY_ENFORCE + 1);
	case CONTROL_ACTION_DETECT:
		return (uint8_t)(POLICY_DETECT + 1);
	case CONTROL_ACTION_OFF:
		return (uint8_t)(POLICY_OFF + 1);
	case CONTROL_ACTION_MODE:
		break;
	}
	return 0;
}

void control_request_reload(struct control *c)
{
	*c->reload = 1;
}

void control_request_stop(struct control *c)
{
	*c->stop = true;
}

/* Every member of struct worker_counters is a uint64_t or an array of them
 * (stats.c relies on the same): word by word, relaxed. */
#define COUNTER_WORDS (sizeof(struct worker_counters) / sizeof(uint64_t))

static void read_words(const struct worker_counters *src, struct worker_counters *dst)
{
	const uint64_t *s = (const uint64_t *)src;
	uint64_t *d = (uint64_t *)dst;

	for (size_t i = 0; i < COUNTER_WORDS; i++)
		d[i] = __atomic_load_n(&s[i], __ATOMIC_RELAXED);
}

void control_clear_stats(struct control *c)
{
	for (unsigned i = 0; i < c->n_workers; i++)
		read_words(worker_counters(c->workers[i]), &c->baseline[i]);
	c->cleared_ms = worker_clock_ms();
}

void control_read(const struct control *c, unsigned worker, bool since_clear,
                  struct worker_counters *out)
{
	read_words(worker_counters(c->workers[worker]), out);
	if (!since_clear)
		return;
	uint64_t *d = (uint64_t *)out;
	const uint64_t *b = (const uint64_t *)&c->baseline[worker];
	for (size_t i = 0; i < COUNTER_WORDS; i++)
		d[i] -= b[i];
}

void control_read_total(const struct control *c, bool since_clear, struct worker_counters *out)
{
	struct worker_counters one;
	uint64_t *t = (uint64_t *)out;
	const uint64_t *o = (const uint64_t *)&one;

	memset(out, 0, sizeof(*out));
	for (unsigned w = 0; w < c->n_workers; w++) {
		control_read(c, w, since_clear, &one);
		for (size_t i = 0; i < COUNTER_WORDS; i++)
			t[i] += o[i];
	}
}

void control_worker_view(const struct control *c, unsigned worker, bool since_clear,
                         struct control_worker_view *v)
{
	struct worker_counters k;
	const struct worker *w = c->workers[worker];

	control_read(c, worker, since_clear, &k);
	v->packets = k.rx_packets;
	v->transmitted = k.tx_packets;
	v->flows = worker_flow_count(w);
	v->blocks = worker_blocks_in_use(w);
	v->events = k.events_written;
	v->events_dropped = k.events_dropped;
	v->drops = 0;
	for (int i = 0; i < CAUSE_COUNT; i++)
		v->drops += k.dropped[i];
}

uint64_t control_verdict_column(const struct worker_counters *c, enum control_column col,
                                enum verdict_reason reason)
{
	switch (col) {
#define CONTROL_COLUMN_READ(name, array, desc)                                                     \
	case CONTROL_COLUMN_##name:                                                                \
		return c->array[reason];
		CONTROL_VERDICT_COLUMNS(CONTROL_COLUMN_READ)
#undef CONTROL_COLUMN_READ
	case CONTROL_COLUMN_COUNT:
		break;
	}
	return 0;
}

const char *control_column_name(enum control_column col)
{
	static const char *const names[] = {
#define CONTROL_COLUMN_NAME(name, array, desc) #name,
	    CONTROL_VERDICT_COLUMNS(CONTROL_COLUMN_NAME)
#undef CONTROL_COLUMN_NAME
	};
	return col < CONTROL_COLUMN_COUNT ? names[col] : "?";
}

uint64_t control_mbufs_in_use(const struct control *c)
{
	return c->mbufs != NULL ? rte_mempool_in_use_count(c->mbufs) : 0;
}

uint64_t control_events_write_failed(const struct control *c)
{
	/* The writer (control thread) updates it with plain stores; telemetry
	 * reads it from its own thread: a relaxed load, a value at most one
	 * drain old. */
	return c->events != NULL ? __atomic_load_n(&c->events->write_failed, __ATOMIC_RELAXED) : 0;
}
