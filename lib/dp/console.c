#include "dp/console.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmdline.h>
#include <cmdline_parse.h>
#include <cmdline_parse_string.h>
#include <cmdline_socket.h>

#include "dp/control.h"
#include "dp/worker.h"
#include "judge/policy.h"
#include "judge/verdict.h"

/* ---- the periodic block ------------------------------------------------------------- */

int console_period_init(struct console_period *p, const struct control *c, uint64_t now_ms)
{
	p->last = calloc(c->n_workers + 1, sizeof(*p->last));
	if (p->last == NULL)
		return -1;
	for (unsigned i = 0; i < c->n_workers; i++)
		control_read(c, i, false, &p->last[i]);
	control_read_total(c, false, &p->last[c->n_workers]);
	p->last_ms = now_ms;
	return 0;
}

void console_period_free(struct console_period *p)
{
	free(p->last);
	p->last = NULL;
}

static uint64_t bogus(const struct worker_counters *k)
{
	uint64_t n = 0;

	for (int r = 0; r < VERDICT_COUNT; r++)
		if (r != VERDICT_OK)
			n += k->verdicts[r];
	return n;
}

static double rate(uint64_t now, uint64_t before, double seconds)
{
	return now >= before ? (double)(now - before) / seconds : 0;
}

static void period_line(FILE *out, const char *label, const struct worker_counters *now,
                        const struct worker_counters *before, double s)
{
	fprintf(out,
	        "  %-9s rx-pps %10.0f  tx-pps %10.0f  sessions/s %8.1f  judged/s %8.1f  "
	        "bogus/s %8.1f  events/s %8.1f",
	        label, rate(now->rx_packets, before->rx_packets, s),
	        rate(now->tx_packets, before->tx_packets, s),
	        rate(now->flows_created, before->flows_created, s),
	        rate(now->judged, before->judged, s), rate(bogus(now), bogus(before), s),
	        rate(now->events_written, before->events_written, s));
}

static void wall_clock(char *buf, size_t size)
{
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	strftime(buf, size, "%Y-%m-%dT%H:%M:%S%z", &tm);
}

void console_period_print(FILE *out, struct console_period *p, const struct control *c,
                          uint64_t now_ms)
{
	double s = now_ms > p->last_ms ? (double)(now_ms - p->last_ms) / 1000.0 : 1.0;
	struct worker_counters now;
	uint64_t flows = 0, blocks = 0;
	char when[40], label[24];

	wall_clock(when, sizeof(when));
	fprintf(out, "---- %s helogate stats, last %.1f s, %s mode ----\n", when, s,
	        control_mode(c) == CONFIG_MODE_ENFORCE ? "enforce" : "detect");
	for (unsigned i = 0; i < c->n_workers; i++) {
		struct control_worker_view v;
		control_read(c, i, false, &now);
		control_worker_view(c, i, false, &v);
		snprintf(label, sizeof(label), "worker %u", i);
		period_line(out, label, &now, &p->last[i], s);
		fprintf(out, " | flows %llu blocks %llu\n", (unsigned long long)v.flows,
		        (unsigned long long)v.blocks);
		flows += v.flows;
		blocks += v.blocks;
		p->last[i] = now;
	}
	control_read_total(c, false, &now);
	period_line(out, "total", &now, &p->last[c->n_workers], s);
	fprintf(out, " | flows %llu blocks %llu mbufs %llu\n", (unsigned long long)flows,
	        (unsigned long long)blocks, (unsigned long long)control_mbufs_in_use(c));
	p->last[c->n_workers] = now;
	p->last_ms = now_ms;
	fflush(out);
}

/* ---- the views --------------------------------------------------------------------- */

static const char *since(const struct control *c, char *buf, size_t size)
{
	if (c->cleared_ms == 0)
		return "since start";
	snprintf(buf, size, "since clear stats %.1f s ago",
	         (double)(worker_clock_ms() - c->cleared_ms) / 1000.0);
	return buf;
}

#define U(x) ((unsigned long long)(x))

void console_show_stats(FILE *out, const struct control *c)
{
	struct worker_counters t;
	uint64_t dropped = 0, held = 0, flows = 0, blocks = 0;
	char buf[64];

	control_read_total(c, true, &t);
	for (int i = 0; i < CAUSE_COUNT; i++)
		dropped += t.dropped[i];
	for (unsigned i = 0; i < c->n_workers; i++) {
		held += worker_held(c->workers[i]);
		flows += worker_flow_count(c->workers[i]);
		blocks += worker_blocks_in_use(c->workers[i]);
	}
	fprintf(out, "totals %s, %s mode\n", since(c, buf, sizeof(buf)),
	        control_mode(c) == CONFIG_MODE_ENFORCE ? "enforce" : "detect");
	fprintf(out,
	        "  packets   received %llu  injected %llu  transmitted %llu  dropped %llu  "
	        "held %llu\n",
	        U(t.rx_packets), U(t.injected_packets), U(t.tx_packets), U(dropped), U(held));
	fprintf(out,
	        "  sessions  created %llu  closed %llu  reset %llu  expired %llu  passed %llu  "
	        "table-full %llu\n",
	        U(t.flows_created), U(t.flows_closed), U(t.flows_reset), U(t.flows_expired),
	        U(t.flows_passed), U(t.flows_table_full));
	fprintf(out,
	        "  smtp      commands %llu  replies %llu  helos %llu  judged %llu  bogus %llu\n",
	        U(t.commands), U(t.replies), U(t.helos), U(t.judged), U(bogus(&t)));
	fprintf(out,
	        "  takeover  started %llu  rcpts-rejected %llu  not-quiet %llu  no-memory %llu\n",
	        U(t.takeovers), U(t.takeover_rejected_rcpts), U(t.takeover_not_quiet),
	        U(t.takeover_no_memory));
	fprintf(out, "  events    written %llu  dropped %llu  write-failed %llu (since start)\n",
	        U(t.events_written), U(t.events_dropped), U(control_events_write_failed(c)));
	fprintf(out, "  now       flows %llu  blocks %llu  mbufs %llu\n", U(flows), U(blocks),
	        U(control_mbufs_in_use(c)));
}

void console_show_workers(FILE *out, const struct control *c)
{
	char buf[64];

	fprintf(out, "workers %s\n  %-6s", since(c, buf, sizeof(buf)), "worker");
#define VIEW_HEAD(name, desc) fprintf(out, " %14s", #name);
	CONTROL_WORKER_FIELDS(VIEW_HEAD)
#undef VIEW_HEAD
	fputc('\n', out);
	for (unsigned i = 0; i < c->n_workers; i++) {
		struct control_worker_view v;
		control_worker_view(c, i, true, &v);
		fprintf(out, "  %-6u", i);
#define VIEW_CELL(name, desc) fprintf(out, " %14llu", U(v.name));
		CONTROL_WORKER_FIELDS(VIEW_CELL)
#undef VIEW_CELL
		fputc('\n', out);
	}
}

void console_show_verdicts(FILE *out, const struct control *c)
{
	struct worker_counters t;
	char buf[64];

	control_read_total(c, true, &t);
	fprintf(out, "verdicts %s\n  %-13s", since(c, buf, sizeof(buf)), "reason");
	for (int col = 0; col < CONTROL_COLUMN_COUNT; col++)
		fprintf(out, " %12s", control_column_name((enum control_column)col));
	fprintf(out, "  action\n");
	for (int r = 0; r < VERDICT_COUNT; r++) {
		fprintf(out, "  %-13s", verdict_reason_name((enum verdict_reason)r));
		for (int col = 0; col < CONTROL_COLUMN_COUNT; col++)
			fprintf(out, " %12llu",
			        U(control_verdict_column(&t, (enum control_column)col,
			                                 (enum verdict_reason)r)));
		/* What the workers apply: a live `set action`, else the
		 * configured action moved by the live mode (off stays off). */
		const char *action;
		uint8_t live = __atomic_load_n(&c->actions[r], __ATOMIC_RELAXED);
		if (r == VERDICT_OK || r == VERDICT_ALLOWED)
			action = "pass";
		else if (live != CONTROL_ACTION_MODE)
			action = control_action_name((enum control_action)live);
		else if (c->cfg->actions[r] == POLICY_OFF)
			action = "off";
		else if (c->cfg->actions[r] >= 0 && control_mode(c) == c->cfg->mode)
			action = policy_action_name((enum policy_action)c->cfg->actions[r]);
		else
			action = control_mode(c) == CONFIG_MODE_ENFORCE ? "enforce" : "detect";
		fprintf(out, "  %s", action);
		if (live != CONTROL_ACTION_MODE)
			fprintf(out, " (set live)");
		fputc('\n', out);
	}
}

void console_show_config(FILE *out, const struct control *c)
{
	const struct config *cfg = c->cfg;
	char ip[64];

	fprintf(out, "  mode            %s (configured %s)\n",
	        control_mode(c) == CONFIG_MODE_ENFORCE ? "enforce" : "detect",
	        cfg->mode == CONFIG_MODE_ENFORCE ? "enforce" : "detect");
	if (cfg->single_port)
		fprintf(out, "  layout          single-port, port %u\n", cfg->lab_port);
	else
		fprintf(out, "  layout          inline, outside port %u, inside port %u\n",
		        cfg->outside_port, cfg->inside_port);
	fprintf(out, "  workers         %u\n  smtp-port      ", c->n_workers);
	for (unsigned i = 0; i < cfg->n_smtp_ports; i++)
		fprintf(out, " %u", cfg->smtp_ports[i]);
	fprintf(out, "\n  local-domain   ");
	for (unsigned i = 0; i < cfg->n_local_domains; i++)
		fprintf(out, " %s", cfg->local_domains[i]);
	fprintf(out, "\n  local-ip       ");
	for (unsigned i = 0; i < cfg->n_local_ips; i++) {
		ip_addr_format(&cfg->local_ips[i], ip, sizeof(ip));
		fprintf(out, " %s", ip);
	}
	fprintf(out,
	        "\n  banlist         %s\n  banned-patterns %s\n  events          %s\n"
	        "  sensor-name     %s\n",
	        cfg->banlist_path[0] ? cfg->banlist_path : "(none)",
	        cfg->patterns_path[0] ? cfg->patterns_path : "(none)",
	        cfg->events_path[0] ? cfg->events_path : "(none)", cfg->sensor_name);
	fprintf(out, "  sizing          flows %u  blocks %u  event-ring %u  mbufs %u  burst %u\n",
	        cfg->flows_per_worker, cfg->blocks_per_worker, cfg->event_ring_size, cfg->mbufs,
	        cfg->rx_burst);
	fprintf(out, "  timers          syn %u s  idle %u s  closing %u s  takeover-wait %u ms\n",
	        cfg->timeout_syn_ms / 1000, cfg->timeout_idle_ms / 1000,
	        cfg->timeout_closing_ms / 1000, cfg->takeover_wait_ms);
}

/* ---- the prompt (librte_cmdline) ---------------------------------------------------- */

static struct control *ctl;
static struct cmdline *cl;
static bool ended;

static void done(void)
{
	fflush(stdout);
}

struct cmd_show_result {
	cmdline_fixed_string_t show;
	cmdline_fixed_string_t what;
};

static void cmd_show_parsed(void *parsed, struct cmdline *line, void *data)
{
	const struct cmd_show_result *r = parsed;

	(void)line;
	(void)data;
	if (strcmp(r->what, "stats") == 0)
		console_show_stats(stdout, ctl);
	else if (strcmp(r->what, "workers") == 0)
		console_show_workers(stdout, ctl);
	else if (strcmp(r->what, "verdicts") == 0)
		console_show_verdicts(stdout, ctl);
	else
		console_show_config(stdout, ctl);
	done();
}

static cmdline_parse_token_string_t cmd_show_show =
    TOKEN_STRING_INITIALIZER(struct cmd_show_result, show, "show");
static cmdline_parse_token_string_t cmd_show_what =
    TOKEN_STRING_INITIALIZER(struct cmd_show_result, what, "stats#workers#verdicts#config");
static cmdline_parse_inst_t cmd_show = {
    .f = cmd_show_parsed,
    .help_str = "show stats|workers|verdicts|config: counters, per worker, per reason, settings",
    .tokens = {(void *)&cmd_show_show, (void *)&cmd_show_what, NULL},
};

struct cmd_word2_result {
	cmdline_fixed_string_t a;
	cmdline_fixed_string_t b;
};

static void cmd_clear_parsed(void *parsed, struct cmdline *line, void *data)
{
	(void)parsed;
	(void)line;
	(void)data;
	control_clear_stats(ctl);
	printf("counters cleared for this console (telemetry and --stats count from the start)\n");
	done();
}

static cmdline_parse_token_string_t cmd_clear_clear =
    TOKEN_STRING_INITIALIZER(struct cmd_word2_result, a, "clear");
static cmdline_parse_token_string_t cmd_clear_stats =
    TOKEN_STRING_INITIALIZER(struct cmd_word2_result, b, "stats");
static cmdline_parse_inst_t cmd_clear = {
    .f = cmd_clear_parsed,
    .help_str = "clear stats: count from zero in this console's views",
    .tokens = {(void *)&cmd_clear_clear, (void *)&cmd_clear_stats, NULL},
};

struct cmd_word_result {
	cmdline_fixed_string_t word;
};

static void cmd_word_parsed(void *parsed, struct cmdline *line, void *data)
{
	const struct cmd_word_result *r = parsed;

	(void)data;
	if (strcmp(r->word, "reload") == 0) {
		control_request_reload(ctl);
		printf("reload requested (banned list, then the events file; result on stderr)\n");
	} else if (strcmp(r->word, "quit") == 0) {
		printf("stopping\n");
		control_request_stop(ctl);
		ended = true;
		cmdline_quit(line);
	} else {
		printf(
		    "show stats | show workers | show verdicts | show config\n"
		    "clear stats                          count from zero in this console\n"
		    "reload                               reload the banned list, reopen events\n"
		    "set mode detect|enforce              every reason, from the next burst on\n"
		    "set action REASON enforce|detect|off one reason (needs the policy engine)\n"
		    "quit                                 stop helogate\n");
	}
	done();
}

static cmdline_parse_token_string_t cmd_word_word =
    TOKEN_STRING_INITIALIZER(struct cmd_word_result, word, "reload#quit#help");
static cmdline_parse_inst_t cmd_word = {
    .f = cmd_word_parsed,
    .help_str = "reload | quit | help",
    .tokens = {(void *)&cmd_word_word, NULL},
};

struct cmd_set_mode_result {
	cmdline_fixed_string_t set;
	cmdline_fixed_string_t mode;
	cmdline_fixed_string_t value;
};

static void cmd_set_mode_parsed(void *parsed, struct cmdline *line, void *data)
{
	const struct cmd_set_mode_result *r = parsed;
	enum config_mode before = control_mode(ctl);
	enum config_mode after =
	    strcmp(r->value, "enforce") == 0 ? CONFIG_MODE_ENFORCE : CONFIG_MODE_DETECT;

	(void)line;
	(void)data;
	control_set_mode(ctl, after);
	printf("mode %s (was %s): new verdicts from the workers' next burst on; sessions "
	       "already taken over stay so\n",
	       r->value, before == CONFIG_MODE_ENFORCE ? "enforce" : "detect");
	done();
}

static cmdline_parse_token_string_t cmd_set_mode_set =
    TOKEN_STRING_INITIALIZER(struct cmd_set_mode_result, set, "set");
static cmdline_parse_token_string_t cmd_set_mode_mode =
    TOKEN_STRING_INITIALIZER(struct cmd_set_mode_result, mode, "mode");
static cmdline_parse_token_string_t cmd_set_mode_value =
    TOKEN_STRING_INITIALIZER(struct cmd_set_mode_result, value, "detect#enforce");
static cmdline_parse_inst_t cmd_set_mode = {
    .f = cmd_set_mode_parsed,
    .help_str = "set mode detect|enforce: the mode of every reason",
    .tokens = {(void *)&cmd_set_mode_set, (void *)&cmd_set_mode_mode, (void *)&cmd_set_mode_value,
               NULL},
};

struct cmd_set_action_result {
	cmdline_fixed_string_t set;
	cmdline_fixed_string_t action;
	cmdline_fixed_string_t reason;
	cmdline_fixed_string_t value;
};

static void cmd_set_action_parsed(void *parsed, struct cmdline *line, void *data)
{
	const struct cmd_set_action_result *r = parsed;
	enum verdict_reason reason;
	char why[256];

	(void)line;
	(void)data;
	if (!verdict_reason_from_name(r->reason, &reason) || reason == VERDICT_OK) {
		printf("set action: unknown bogus reason '%s' (", r->reason);
		for (int i = 1; i < VERDICT_COUNT; i++)
			printf("%s%s", i > 1 ? " " : "",
			       verdict_reason_name((enum verdict_reason)i));
		printf(")\n");
	} else {
		enum control_action a = strcmp(r->value, "enforce") == 0  ? CONTROL_ACTION_ENFORCE
		                        : strcmp(r->value, "detect") == 0 ? CONTROL_ACTION_DETECT
		                                                          : CONTROL_ACTION_OFF;
		if (control_set_action(ctl, reason, a, why, sizeof(why)) == 0)
			printf("action %s for %s\n", r->value, r->reason);
		else
			printf("set action %s %s: %s\n", r->reason, r->value, why);
	}
	done();
}

static cmdline_parse_token_string_t cmd_set_action_set =
    TOKEN_STRING_INITIALIZER(struct cmd_set_action_result, set, "set");
static cmdline_parse_token_string_t cmd_set_action_action =
    TOKEN_STRING_INITIALIZER(struct cmd_set_action_result, action, "action");
static cmdline_parse_token_string_t cmd_set_action_reason =
    TOKEN_STRING_INITIALIZER(struct cmd_set_action_result, reason, NULL);
static cmdline_parse_token_string_t cmd_set_action_value =
    TOKEN_STRING_INITIALIZER(struct cmd_set_action_result, value, "enforce#detect#off");
static cmdline_parse_inst_t cmd_set_action = {
    .f = cmd_set_action_parsed,
    .help_str = "set action REASON enforce|detect|off: one reason's action",
    .tokens = {(void *)&cmd_set_action_set, (void *)&cmd_set_action_action,
               (void *)&cmd_set_action_reason, (void *)&cmd_set_action_value, NULL},
};

static cmdline_parse_ctx_t commands[] = {
    (cmdline_parse_inst_t *)&cmd_show,       (cmdline_parse_inst_t *)&cmd_clear,
    (cmdline_parse_inst_t *)&cmd_word,       (cmdline_parse_inst_t *)&cmd_set_mode,
    (cmdline_parse_inst_t *)&cmd_set_action, NULL,
};

int console_start(struct control *c)
{
	ctl = c;
	ended = false;
	cl = cmdline_stdin_new(commands, "helogate> ");
	return cl == NULL ? -1 : 0;
}

bool console_poll(void)
{
	struct pollfd pfd = {.fd = STDIN_FILENO, .events = POLLIN};
	char buf[256];

	if (cl == NULL || ended)
		return false;
	/* Our own read, so the end of input is seen (cmdline_poll() reads one
	 * character and cannot tell it from a byte); cmdline_in() edits and
	 * runs complete lines. */
	while (!ended && poll(&pfd, 1, 0) == 1) {
		ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			break;
		if ((n <= 0 || cmdline_in(cl, buf, (int)n) < 0) && !ended) {
			/* End of input or ^D: the operator left; stop as quit does. */
			printf("\nend of console input: stopping\n");
			done();
			control_request_stop(ctl);
			ended = true;
		}
	}
	return !ended;
}

void console_stop(void)
{
	if (cl != NULL) {
		cmdline_stdin_exit(cl);
		cl = NULL;
	}
}
