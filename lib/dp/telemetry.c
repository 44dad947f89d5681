#include "dp/telemetry.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <rte_telemetry.h>
#include <rte_version.h>

#include "dp/control.h"
#include "dp/distributor.h"
#include "dp/worker.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static const struct control *ctl;

/* Run one answer with the control state held; -1 (null) once detached. */
#define WITH_CONTROL(body)                                                                         \
	do {                                                                                       \
		int rc_ = -1;                                                                      \
		pthread_mutex_lock(&lock);                                                         \
		if (ctl != NULL)                                                                   \
			rc_ = (body);                                                              \
		pthread_mutex_unlock(&lock);                                                       \
		return rc_;                                                                        \
	} while (0)

static const char *mode_name(enum config_mode m)
{
	return m == CONFIG_MODE_ENFORCE ? "enforce" : "detect";
}

static int stats_answer(struct rte_tel_data *d)
{
	struct worker_counters t;
	uint64_t held = 0;

	control_read_total(ctl, false, &t);
	for (unsigned i = 0; i < ctl->n_workers; i++)
		held += worker_held(ctl->workers[i]);
	rte_tel_data_start_dict(d);
#define COUNTER_TEL(name, desc) rte_tel_data_add_dict_u64(d, #name, t.name);
	WORKER_COUNTERS(COUNTER_TEL)
#undef COUNTER_TEL
	for (int i = 0; i < CAUSE_COUNT; i++)
		rte_tel_data_add_dict_u64(d, packet_cause_name((enum packet_cause)i),
		                          t.causes[i] + (i == CAUSE_TX_FAILED ? t.dropped[i] : 0));
	struct rte_tel_data *packets = rte_tel_data_alloc();
	struct rte_tel_data *dropped = rte_tel_data_alloc();
	if (packets == NULL || dropped == NULL) {
		rte_tel_data_free(packets);
		rte_tel_data_free(dropped);
		return -1;
	}
	rte_tel_data_start_dict(packets);
	rte_tel_data_add_dict_u64(packets, "received", t.rx_packets);
	rte_tel_data_add_dict_u64(packets, "injected", t.injected_packets);
	rte_tel_data_add_dict_u64(packets, "transmitted", t.tx_packets);
	rte_tel_data_add_dict_u64(packets, "held", held);
	rte_tel_data_start_dict(dropped);
	for (int i = 0; i < CAUSE_COUNT; i++)
		if (packet_cause_is_drop((enum packet_cause)i))
			rte_tel_data_add_dict_u64(dropped, packet_cause_name((enum packet_cause)i),
			                          t.dropped[i]);
	rte_tel_data_add_dict_container(packets, "dropped", dropped, 0);
	rte_tel_data_add_dict_container(d, "packets", packets, 0);
	rte_tel_data_add_dict_u64(d, "mbufs_in_use", control_mbufs_in_use(ctl));
	rte_tel_data_add_dict_u64(d, "events_write_failed", control_events_write_failed(ctl));
	rte_tel_data_add_dict_u64(d, "workers", ctl->n_workers);
	rte_tel_data_add_dict_string(d, "mode", mode_name(control_mode(ctl)));
	return 0;
}

static int tel_stats(const char *cmd, const char *params, struct rte_tel_data *d)
{
	(void)cmd;
	(void)params;
	WITH_CONTROL(stats_answer(d));
}

static void worker_dict(struct rte_tel_data *d, unsigned i)
{
	struct control_worker_view v;

	control_worker_view(ctl, i, false, &v);
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_int(d, "worker", (int)i);
#define VIEW_TEL(name, desc) rte_tel_data_add_dict_u64(d, #name, v.name);
	CONTROL_WORKER_FIELDS(VIEW_TEL)
#undef VIEW_TEL
}

/* An index parameter: digits only, below n. */
static int parse_index(const char *params, unsigned n)
{
	char *end;

	if (params == NULL || params[0] < '0' || params[0] > '9')
		return -1;
	unsigned long v = strtoul(params, &end, 10);
	return *end == '\0' && v < n ? (int)v : -1;
}

static int workers_answer(const char *params, struct rte_tel_data *d)
{
	unsigned n = ctl->n_workers;

	if (params != NULL && params[0] != '\0') {
		int i = parse_index(params, n);
		if (i < 0)
			return -1;
		worker_dict(d, (unsigned)i);
		return 0;
	}
	struct control_worker_view *v = calloc(n ? n : 1, sizeof(*v));
	struct rte_tel_data *ids = rte_tel_data_alloc();
	if (v == NULL || ids == NULL) {
		free(v);
		rte_tel_data_free(ids);
		return -1;
	}
	rte_tel_data_start_dict(d);
	rte_tel_data_start_array(ids, RTE_TEL_INT_VAL);
	for (unsigned i = 0; i < n; i++) {
		control_worker_view(ctl, i, false, &v[i]);
		rte_tel_data_add_array_int(ids, (int)i);
	}
	rte_tel_data_add_dict_container(d, "worker", ids, 0);
#define VIEW_COLUMN(name, desc)                                                                    \
	do {                                                                                       \
		struct rte_tel_data *col = rte_tel_data_alloc();                                   \
		if (col == NULL)                                                                   \
			break;                                                                     \
		rte_tel_data_start_array(col, RTE_TEL_U64_VAL);                                    \
		for (unsigned i = 0; i < n; i++)                                                   \
			rte_tel_data_add_array_u64(col, v[i].name);                                \
		rte_tel_data_add_dict_container(d, #name, col, 0);                                 \
	} while (0);
	CONTROL_WORKER_FIELDS(VIEW_COLUMN)
#undef VIEW_COLUMN
	free(v);
	return 0;
}

static int tel_workers(const char *cmd, const char *params, struct rte_tel_data *d)
{
	(void)cmd;
	WITH_CONTROL(workers_answer(params, d));
}

static int verdicts_answer(const char *params, struct rte_tel_data *d)
{
	struct worker_counters t;

	control_read_total(ctl, false, &t);
	rte_tel_data_start_dict(d);
	if (params != NULL && params[0] != '\0') {
		enum verdict_reason r;
		if (!verdict_reason_from_name(params, &r))
			return -1;
		rte_tel_data_add_dict_string(d, "reason", verdict_reason_name(r));
		for (int c = 0; c < CONTROL_COLUMN_COUNT; c++)
			rte_tel_data_add_dict_u64(
			    d, control_column_name((enum control_column)c),
			    control_verdict_column(&t, (enum control_column)c, r));
		return 0;
	}
	struct rte_tel_data *names = rte_tel_data_alloc();
	if (names == NULL)
		return -1;
	rte_tel_data_start_array(names, RTE_TEL_STRING_VAL);
	for (int r = 0; r < VERDICT_COUNT; r++)
		rte_tel_data_add_array_string(names, verdict_reason_name((enum verdict_reason)r));
	rte_tel_data_add_dict_container(d, "reason", names, 0);
	for (int c = 0; c < CONTROL_COLUMN_COUNT; c++) {
		struct rte_tel_data *col = rte_tel_data_alloc();
		if (col == NULL)
			return -1;
		rte_tel_data_start_array(col, RTE_TEL_U64_VAL);
		for (int r = 0; r < VERDICT_COUNT; r++)
			rte_tel_data_add_array_u64(
			    col, control_verdict_column(&t, (enum control_column)c,
			                                (enum verdict_reason)r));
		rte_tel_data_add_dict_container(d, control_column_name((enum control_column)c), col,
		                                0);
	}
	return 0;
}

static int tel_verdicts(const char *cmd, const char *params, struct rte_tel_data *d)
{
	(void)cmd;
	WITH_CONTROL(verdicts_answer(params, d));
}

static struct rte_tel_data *string_array(void)
{
	struct rte_tel_data *a = rte_tel_data_alloc();

	if (a != NULL)
		rte_tel_data_start_array(a, RTE_TEL_STRING_VAL);
	return a;
}

static int config_answer(struct rte_tel_data *d)
{
	const struct config *cfg = ctl->cfg;
	char text[64];

	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_string(d, "version", HG_VERSION);
	rte_tel_data_add_dict_string(d, "dpdk", rte_version());
	rte_tel_data_add_dict_string(d, "mode", mode_name(control_mode(ctl)));
	rte_tel_data_add_dict_string(d, "configured_mode", mode_name(cfg->mode));
	rte_tel_data_add_dict_string(d, "layout", cfg->single_port ? "single-port" : "inline");
	if (cfg->single_port) {
		rte_tel_data_add_dict_int(d, "single_port", cfg->lab_port);
	} else {
		rte_tel_data_add_dict_int(d, "outside", cfg->outside_port);
		rte_tel_data_add_dict_int(d, "inside", cfg->inside_port);
	}
	rte_tel_data_add_dict_int(d, "workers", (int)ctl->n_workers);
	struct rte_tel_data *ports = rte_tel_data_alloc(), *domains = string_array(),
	                    *ips = string_array();
	if (ports == NULL || domains == NULL || ips == NULL) {
		rte_tel_data_free(ports);
		rte_tel_data_free(domains);
		rte_tel_data_free(ips);
		return -1;
	}
	rte_tel_data_start_array(ports, RTE_TEL_INT_VAL);
	for (unsigned i = 0; i < cfg->n_smtp_ports; i++)
		rte_tel_data_add_array_int(ports, cfg->smtp_ports[i]);
	rte_tel_data_add_dict_container(d, "smtp_port", ports, 0);
	for (unsigned i = 0; i < cfg->n_local_domains; i++)
		rte_tel_data_add_array_string(domains, cfg->local_domains[i]);
	rte_tel_data_add_dict_container(d, "local_domain", domains, 0);
	for (unsigned i = 0; i < cfg->n_local_ips; i++) {
		ip_addr_format(&cfg->local_ips[i], text, sizeof(text));
		rte_tel_data_add_array_string(ips, text);
	}
	rte_tel_data_add_dict_container(d, "local_ip", ips, 0);
	rte_tel_data_add_dict_string(d, "banlist", cfg->banlist_path);
	rte_tel_data_add_dict_string(d, "banned_patterns", cfg->patterns_path);
	rte_tel_data_add_dict_string(d, "psl",
	                             cfg->psl_path[0] ? cfg->psl_path : HG_DEFAULT_PSL_FILE);
	rte_tel_data_add_dict_string(d, "events", cfg->events_path);
	rte_tel_data_add_dict_string(d, "stats", cfg->stats_path);
	rte_tel_data_add_dict_string(d, "sensor_name", cfg->sensor_name);
	rte_tel_data_add_dict_u64(d, "flows", cfg->flows_per_worker);
	rte_tel_data_add_dict_u64(d, "blocks", cfg->blocks_per_worker);
	rte_tel_data_add_dict_u64(d, "event_ring", cfg->event_ring_size);
	rte_tel_data_add_dict_u64(d, "line_max", cfg->line_max);
	rte_tel_data_add_dict_u64(d, "timeout_syn", cfg->timeout_syn_ms / 1000);
	rte_tel_data_add_dict_u64(d, "timeout_idle", cfg->timeout_idle_ms / 1000);
	rte_tel_data_add_dict_u64(d, "timeout_closing", cfg->timeout_closing_ms / 1000);
	rte_tel_data_add_dict_u64(d, "takeover_wait", cfg->takeover_wait_ms);
	rte_tel_data_add_dict_u64(d, "burst", cfg->rx_burst);
	rte_tel_data_add_dict_string(d, "distribute",
	                             cfg->distribute == CONFIG_DISTRIBUTE_YES  ? "yes"
	                             : cfg->distribute == CONFIG_DISTRIBUTE_NO ? "no"
	                                                                       : "auto");
	rte_tel_data_add_dict_u64(d, "mbufs", cfg->mbufs);
	rte_tel_data_add_dict_string(d, "verify_checksums", cfg->verify_checksums ? "yes" : "no");
	return 0;
}

static int tel_config(const char *cmd, const char *params, struct rte_tel_data *d)
{
	(void)cmd;
	(void)params;
	WITH_CONTROL(config_answer(d));
}

static int distributor_answer(struct rte_tel_data *d)
{
	struct distributor_worker_counters pw[DISTRIBUTOR_MAX_WORKERS];
	struct distributor_counters c;
	const struct distributor *dist = ctl->dist;

	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_u64(d, "active", dist != NULL);
	if (dist == NULL)
		return 0;
	unsigned n = distributor_workers(dist);
	uint64_t ring_full = 0, in_rings = 0;
	distributor_read(dist, &c, pw);
	for (unsigned w = 0; w < n; w++) {
		ring_full += pw[w].ring_full_dropped;
		in_rings += distributor_in_rings(dist, w);
	}
	rte_tel_data_add_dict_u64(d, "tx_rings", distributor_has_tx_rings(dist));
	rte_tel_data_add_dict_u64(d, "received", c.received);
	rte_tel_data_add_dict_u64(d, "transmitted", c.transmitted);
	rte_tel_data_add_dict_u64(d, "tx_failed", c.tx_failed);
	rte_tel_data_add_dict_u64(d, "ring_full_dropped", ring_full);
	rte_tel_data_add_dict_u64(d, "flushed_dropped", c.flushed_dropped);
	rte_tel_data_add_dict_u64(d, "rx_paused", c.rx_paused);
	rte_tel_data_add_dict_u64(d, "in_rings", in_rings);
	/* Per worker, columns as /helogate/workers. */
	static const char *const names[] = {"enqueued", "ring_full", "returned"};
	for (int k = 0; k < 3; k++) {
		struct rte_tel_data *col = rte_tel_data_alloc();
		if (col == NULL)
			return -1;
		rte_tel_data_start_array(col, RTE_TEL_U64_VAL);
		for (unsigned w = 0; w < n; w++)
			rte_tel_data_add_array_u64(col, k == 0   ? pw[w].enqueued
			                                : k == 1 ? pw[w].ring_full_dropped
			                                         : pw[w].returned);
		rte_tel_data_add_dict_container(d, names[k], col, 0);
	}
	return 0;
}

static int tel_distributor(const char *cmd, const char *params, struct rte_tel_data *d)
{
	(void)cmd;
	(void)params;
	WITH_CONTROL(distributor_answer(d));
}

/* The one command that writes: the live mode, as the console's set mode
 * (an atomic store; the mutex only guards against a detached control). */
static int mode_answer(const char *params, struct rte_tel_data *d)
{
	struct control *c = (struct control *)ctl;

	if (params != NULL && params[0] != '\0') {
		if (strcmp(params, "enforce") == 0)
			control_set_mode(c, CONFIG_MODE_ENFORCE);
		else if (strcmp(params, "detect") == 0)
			control_set_mode(c, CONFIG_MODE_DETECT);
		else
			return -1;
	}
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_string(d, "mode", mode_name(control_mode(c)));
	rte_tel_data_add_dict_string(d, "configured_mode", mode_name(c->cfg->mode));
	return 0;
}

static int tel_mode(const char *cmd, const char *params, struct rte_tel_data *d)
{
	(void)cmd;
	WITH_CONTROL(mode_answer(params, d));
}

int telemetry_register(struct control *c)
{
	pthread_mutex_lock(&lock);
	ctl = c;
	pthread_mutex_unlock(&lock);
	if (rte_telemetry_register_cmd("/helogate/stats", tel_stats,
	                               "helogate's counters, totals. No parameters") != 0 ||
	    rte_telemetry_register_cmd("/helogate/workers", tel_workers,
	                               "Per-worker figures. Parameter: a worker id (optional)") !=
	        0 ||
	    rte_telemetry_register_cmd(
	        "/helogate/verdicts", tel_verdicts,
	        "Per-reason verdict counts. Parameter: a reason (optional)") != 0 ||
	    rte_telemetry_register_cmd("/helogate/config", tel_config,
	                               "The running configuration. No parameters") != 0 ||
	    rte_telemetry_register_cmd("/helogate/mode", tel_mode,
	                               "The live mode. Parameter: detect or enforce, to set it") !=
	        0 ||
	    rte_telemetry_register_cmd(
	        "/helogate/distributor", tel_distributor,
	        "Software distribution: counters, per worker. No parameters") != 0)
		return -1;
	return 0;
}

void telemetry_detach(void)
{
	pthread_mutex_lock(&lock);
	ctl = NULL;
	pthread_mutex_unlock(&lock);
}
