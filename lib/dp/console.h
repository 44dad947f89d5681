/*
 * console: the operator's live view, testpmd style.
 *
 *   --stats-period S   every S seconds one timestamped block: a line per
 *                      worker and one in total with rates (rx/tx pps,
 *                      sessions/s, judged/s, bogus/s, events/s) and
 *                      levels (flows, blocks; mbufs in total)
 *   -i                 a prompt on standard input (DPDK's cmdline library):
 *                      show stats|workers|verdicts|config, clear stats,
 *                      reload, set mode detect|enforce,
 *                      set action REASON enforce|detect|off, help, quit
 *
 * Owns:     the previous period's counters (for rates) and the cmdline
 *           instance (the terminal is in raw mode while it runs).
 * Never:    writes to a worker: every command goes through control.
 * Threads:  the control thread only; the prompt is polled, never blocks.
 */
#ifndef HG_CONSOLE_H
#define HG_CONSOLE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "filter/counters.h"

struct control;

/* Rates between two periodic blocks. */
struct console_period {
	uint64_t last_ms;
	struct worker_counters *last; /* n_workers + 1 (the total last) */
};

int console_period_init(struct console_period *p, const struct control *c, uint64_t now_ms);
void console_period_free(struct console_period *p);

/* One block: a header with the wall-clock time and the period, a line
 * per worker, a total line. */
void console_period_print(FILE *out, struct console_period *p, const struct control *c,
                          uint64_t now_ms);

/* The console's views (what the prompt's "show" commands print). */
void console_show_stats(FILE *out, const struct control *c);
void console_show_workers(FILE *out, const struct control *c);
void console_show_verdicts(FILE *out, const struct control *c);
void console_show_config(FILE *out, const struct control *c);

/* Start the prompt on standard input and output. 0, or -1 when it could
 * not be created. */
int console_start(struct control *c);

/* Read what the operator typed so far and run complete commands. Returns
 * false once the console ended (quit, ^D, end of input); quit and end of
 * input also ask helogate to stop. */
bool console_poll(void);

/* Restore the terminal. */
void console_stop(void);

#endif
