/*
 * stats: the workers' counters as JSON (one object: totals and per worker)
 * and as a one-line summary. Control thread only; reads the counters while
 * the workers run.
 */
#ifndef HG_STATS_H
#define HG_STATS_H

#include <stdint.h>
#include <stdio.h>

#include "filter/counters.h"

struct worker;
struct distributor;

/* Sum the counters of n workers into *total. */
void stats_sum(struct worker *const *workers, unsigned n, struct worker_counters *total);

/* Write {"total":{...},"workers":[{...},...],"mbufs_in_use":N,
 * "events_write_failed":N} and a newline; with software distribution (dist
 * not NULL) also "distributor":{...} (dp/distributor.h). events_write_failed:
 * events the writer could not write to the events file (the control
 * thread's count). */
void stats_write_json(FILE *out, struct worker *const *workers, unsigned n,
                      const struct distributor *dist, uint64_t mbufs_in_use,
                      uint64_t events_write_failed);

/* One human-readable line: packets, sessions, verdicts, drops. */
void stats_write_line(FILE *out, struct worker *const *workers, unsigned n);

#endif
