/*
 * helogate: the inline SMTP filter. Wires the library together and nothing
 * more: EAL, configuration, shared read-only state, ports, worker lcores,
 * and the control loop on the main lcore (event writer, stats, signals,
 * whole-policy reload and events-file reopen on SIGHUP, exit when a replay
 * is drained). Exit status: 0, 1 when an event was lost (not written, or
 * dropped on a full ring), 2 on a configuration or start-up error.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_pdump.h>

#include "dp/config.h"
#include "dp/policy_rcu.h"
#include "judge/policy.h"
#include "dp/console.h"
#include "dp/control.h"
#include "dp/distributor.h"
#include "filter/event.h"
#include "filter/event_log.h"
#include "dp/notify.h"
#include "dp/port.h"
#include "dp/preflight.h"
#include "smtp/scan.h"
#include "dp/stats.h"
#include "dp/telemetry.h"
#include "dp/worker.h"

/* Every worker reads the stop flag in every loop: alone on its cache
 * line, so that the control thread's and the console's other variables
 * (written while traffic flows) never invalidate it (docs/design.md,
 * "Several workers": what two threads write). */
static struct {
	volatile bool requested;
	char pad[RTE_CACHE_LINE_SIZE - sizeof(bool)];
} stop_line __rte_cache_aligned;
static volatile sig_atomic_t reload_requested;
static volatile sig_atomic_t stats_requested;

static void on_signal(int sig)
{
	if (sig == SIGHUP)
		reload_requested = 1;
	else if (sig == SIGUSR1)
		stats_requested = 1;
	else
		stop_line.requested = true;
}

static void die(const char *fmt, const char *detail)
{
	fprintf(stderr, "helogate: ");
	fprintf(stderr, fmt, detail);
	fputc('\n', stderr);
	exit(2);
}

static FILE *open_output(const char *path)
{
	if (path[0] == '\0')
		return NULL;
	if (strcmp(path, "-") == 0)
		return stdout;
	FILE *f = fopen(path, "w");
	if (f == NULL) {
		fprintf(stderr, "helogate: %s: %s\n", path, strerror(errno));
		exit(2);
	}
	return f;
}

/* Write every event the workers have published; returns how many. */
static unsigned drain_events(struct worker *const *workers, unsigned n, struct event_log *out,
                             const struct event_format *fmt)
{
	char line[EVENT_JSON_MAX];
	unsigned written = 0;

	for (unsigned i = 0; i < n; i++) {
		struct event_ring *ring = worker_events(workers[i]);
		const struct event *e;
		while ((e = event_ring_peek(ring)) != NULL) {
			size_t len = event_format_json(e, fmt, line, sizeof(line));
			event_ring_release(ring);
			if (out != NULL && len > 0)
				event_log_append(out, line, len);
			written++;
		}
	}
	if (written > 0 && out != NULL)
		event_log_flush(out);
	return written;
}

/* Events lost to write errors since the last report: one line on stderr,
 * at most once per interval. */
static void report_event_losses(const struct event_log *log, uint64_t *reported)
{
	if (log == NULL || log->write_failed == *reported)
		return;
	fprintf(stderr,
	        "helogate: %llu event(s) not written to %s (%s); events_write_failed %llu\n",
	        (unsigned long long)(log->write_failed - *reported), log->path,
	        strerror(log->last_errno), (unsigned long long)log->write_failed);
	*reported = log->write_failed;
}

/* EAL's -h prints helogate's options first. */
static void usage_hook(const char *prog)
{
	config_print_usage(prog);
}

/* The application's arguments, before EAL sees any: those after "--", or
 * all of them when the first is --help, --version or --check-config (which
 * need no EAL). app[0] is the program name. Returns their count; *eal_args
 * tells whether EAL options were given before "--". */
static int split_args(int argc, char **argv, char **app, bool *eal_args)
{
	int n = 0;

	app[n++] = "helogate";
	*eal_args = false;
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--") == 0) {
			*eal_args = i > 1;
			for (int j = i + 1; j < argc; j++)
				app[n++] = argv[j];
			return n;
		}
	if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "--version") == 0 ||
	                 strcmp(argv[1], "--check-config") == 0))
		for (int j = 1; j < argc; j++)
			app[n++] = argv[j];
	else
		*eal_args = argc > 1;
	return n;
}

/* --check-config with EAL options: the ports must exist. */
static int check_ports(const struct config *cfg)
{
	uint16_t ports[2] = {cfg->single_port ? cfg->lab_port : cfg->outside_port,
	                     cfg->inside_port};
	unsigned n = cfg->single_port ? 1 : 2;
	char name[RTE_ETH_NAME_MAX_LEN];

	for (unsigned i = 0; i < n; i++) {
		if (!rte_eth_dev_is_valid_port(ports[i])) {
			fprintf(stderr, "helogate: port %u does not exist (%u port(s) found)\n",
			        ports[i], rte_eth_dev_count_avail());
			return -1;
		}
		rte_eth_dev_get_name_by_port(ports[i], name);
		fprintf(stderr, "helogate: %-16s %u: %s\n",
		        cfg->single_port ? "port (lab)"
		        : i == 0         ? "outside port"
		                         : "inside port",
		        ports[i], name);
	}
	return 0;
}

/* Read the configuration again (file and command line, as at start) and
 * build the whole policy from it: every list, the actions, the replies
 * (the configuration rides along as the policy's attachment). NULL with
 * "FILE:LINE: reason" in err; nothing is half built. */
static struct policy *load_policy(int argc, char **argv, unsigned n_readers, char *err,
                                  size_t err_size)
{
	struct config *cfg = malloc(sizeof(*cfg));
	const char *names[CONFIG_MAX_LOCAL_DOMAINS];
	struct policy_settings s;
	struct policy *p;

	if (cfg == NULL) {
		snprintf(err, err_size, "out of memory");
		return NULL;
	}
	config_defaults(cfg);
	if (config_parse_args(cfg, argc, argv, err, err_size) != 0) {
		free(cfg);
		return NULL;
	}
	config_policy_settings(cfg, names, &s, n_readers);
	p = policy_build(&s, err, err_size);
	if (p == NULL) {
		free(cfg);
		return NULL;
	}
	policy_attach(p, cfg, free);
	return p;
}

/* One line per (re)load: when, and what the policy holds. */
static void log_policy(const char *what, const struct policy *p)
{
	char line[1024], stamp[32];
	struct timespec now;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
	policy_describe(p, line, sizeof(line));
	fprintf(stderr, "helogate: %s %s: %s\n", stamp, what, line);
}

/* The watchdog is fed only while every worker's poll loop moves: a stuck
 * lcore stops the pings and systemd restarts the service. */
static bool workers_alive(struct worker *const *workers, unsigned n, uint64_t *last_loops)
{
	bool alive = true;

	for (unsigned i = 0; i < n; i++) {
		uint64_t loops = worker_loops(workers[i]);
		if (loops == last_loops[i])
			alive = false;
		last_loops[i] = loops;
	}
	return alive;
}

/* Whether two lcores may run on one CPU (--lcores 1@1,2@1): handing
 * packets from one busy-polling thread to another then waits for the
 * scheduler's time slices. */
static bool lcores_share_cpus(void)
{
	rte_cpuset_t seen, set;
	unsigned lcore;

	CPU_ZERO(&seen);
	RTE_LCORE_FOREACH_WORKER(lcore)
	{
		set = rte_lcore_cpuset(lcore);
		rte_cpuset_t both;
		CPU_AND(&both, &seen, &set);
		if (CPU_COUNT(&both) > 0)
			return true;
		CPU_OR(&seen, &seen, &set);
	}
	return false;
}

/* The distributor's loop moves too (NULL: none to watch). */
static bool distributor_alive(const struct distributor *d, uint64_t *last_loops)
{
	struct distributor_counters c;

	if (d == NULL)
		return true;
	distributor_read(d, &c, NULL);
	bool alive = c.loops != *last_loops;
	*last_loops = c.loops;
	return alive;
}

static uint64_t total_rx(struct worker *const *workers, unsigned n)
{
	uint64_t rx = 0;

	for (unsigned i = 0; i < n; i++)
		rx += __atomic_load_n(&worker_counters(workers[i])->rx_packets, __ATOMIC_RELAXED);
	return rx;
}

/* Ring entries per worker and side with software distribution: 32 bursts
 * of 32, so a worker's short stall does not pause the port. */
#define DISTRIBUTOR_RING_SIZE 1024

/* How the worker lcores share the ports (docs/design.md, "Several
 * workers"): each reads its own queue of every port (RSS, or the kernel's
 * fanout for net_af_packet), or the first one distributes in software. */
struct layout {
	unsigned n_workers; /* lcores that inspect */
	bool distribute;    /* the first worker lcore distributes */
	bool tx_rings;      /* with distribution: workers hand back what they send */
};

static struct layout choose_layout(const struct config *cfg, const uint16_t *ports,
                                   unsigned n_ports, unsigned n_lcores)
{
	struct layout l = {.n_workers = n_lcores};
	struct port_capacity cap;
	bool queues_ok = true, tx_ok = true;
	unsigned short_port = 0;
	char err[256];

	for (unsigned i = 0; i < n_ports; i++) {
		if (port_capacity(ports[i], &cap, err, sizeof(err)) != 0)
			die("%s", err);
		if (cap.max_rx_queues < n_lcores || cap.max_tx_queues < n_lcores ||
		    (n_lcores > 1 && !cap.spreads)) {
			if (queues_ok)
				short_port = i;
			queues_ok = false;
		}
		if (cap.max_tx_queues < n_lcores - 1)
			tx_ok = false;
	}
	l.distribute = cfg->distribute == CONFIG_DISTRIBUTE_YES ||
	               (cfg->distribute == CONFIG_DISTRIBUTE_AUTO && !queues_ok && n_lcores > 1);
	if (!l.distribute)
		return l;
	if (n_lcores < 2)
		die("%s", "--distribute yes needs two worker lcores besides the main one: one "
		          "distributes, the others inspect (e.g. -l 0,1,2)");
	l.n_workers = n_lcores - 1;
	l.tx_rings = !tx_ok;
	if (cfg->distribute == CONFIG_DISTRIBUTE_AUTO) {
		port_capacity(ports[short_port], &cap, err, sizeof(err));
		fprintf(stderr,
		        "helogate: port %u (%s) has %u RX queue(s)%s for %u worker lcores: "
		        "software distribution (--distribute auto)\n",
		        ports[short_port], cap.driver, cap.max_rx_queues,
		        cap.spreads ? "" : " and no RSS", n_lcores);
	}
	return l;
}

int main(int argc, char **argv)
{
	static struct config cfg;
	char err[512];

	/* The configuration first, without EAL: --help, --version and
	 * --check-config work on any host, and a bad option is one line. */
	char **app_argv = calloc((size_t)argc + 1, sizeof(*app_argv));
	bool with_eal;
	if (app_argv == NULL)
		die("%s", "out of memory");
	int app_argc = split_args(argc, argv, app_argv, &with_eal);
	config_defaults(&cfg);
	/* app_argv lives as long as the process: SIGHUP parses it again. */
	int rc = config_parse_args(&cfg, app_argc, app_argv, err, sizeof(err));
	if (rc == 1)
		return 0;
	if (rc != 0)
		die("%s", err);
	if (cfg.check_only) {
		if (preflight_check(&cfg, stderr, err, sizeof(err)) != 0)
			die("%s", err);
		if (!with_eal) {
			fprintf(stderr, "helogate: configuration OK (ports not checked: no EAL "
			                "options before '--')\n");
			return 0;
		}
	}

	rte_set_application_usage_hook(usage_hook);
	int eal_args = rte_eal_init(argc, argv);
	if (eal_args < 0)
		die("EAL initialization failed: %s (see the EAL message above)",
		    rte_strerror(rte_errno));
	if (cfg.check_only) {
		rc = check_ports(&cfg);
		rte_eal_cleanup();
		if (rc != 0)
			return 2;
		fprintf(stderr, "helogate: configuration OK\n");
		return 0;
	}

	/* Shared read-only state, all loaded before any traffic flows. */
	if (rte_lcore_count() < 2)
		die("%s", "need at least one worker lcore besides the main one (e.g. -l 0,1)");
	uint16_t ports[2];
	unsigned n_ports = 0;
	if (cfg.single_port) {
		ports[n_ports++] = cfg.lab_port;
	} else {
		ports[n_ports++] = cfg.outside_port;
		ports[n_ports++] = cfg.inside_port;
	}
	struct layout layout = choose_layout(&cfg, ports, n_ports, rte_lcore_count() - 1);
	unsigned n_workers = layout.n_workers;
	struct policy_rcu *policy = policy_rcu_create(n_workers);
	if (policy == NULL)
		die("%s", "cannot allocate the policy's RCU state");
	struct policy *first = load_policy(app_argc, app_argv, n_workers, err, sizeof(err));
	if (first == NULL)
		die("%s", err);
	policy_rcu_replace(policy, first);
	struct scan_commands *commands = scan_commands_compile(err, sizeof(err));
	if (commands == NULL)
		die("%s", err);
	static struct event_log events_log;
	struct event_log *events_out = NULL;
	if (cfg.events_path[0] != '\0') {
		if (event_log_open(&events_log, cfg.events_path, err, sizeof(err)) != 0)
			die("%s", err);
		events_out = &events_log;
	}
	FILE *stats_out = open_output(cfg.stats_path);

	struct rte_mempool *pool = rte_pktmbuf_pool_create(
	    "helogate_mbufs", cfg.mbufs, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE, (int)rte_socket_id());
	if (pool == NULL)
		die("cannot create the mbuf pool: %s (try -m with more memory or --mbufs)",
		    rte_strerror(rte_errno));
	static struct control control;
	struct worker_shared shared = {
	    .cfg = &cfg,
	    .policy = policy,
	    .mode = &control.mode,
	    .actions = control.actions,
	    .commands = commands,
	    .mbufs = pool,
	};
	struct worker **workers = calloc(n_workers, sizeof(*workers));
	if (workers == NULL)
		die("%s", "out of memory");
	for (unsigned i = 0; i < n_workers; i++) {
		workers[i] = worker_create(i, &shared, err, sizeof(err));
		if (workers[i] == NULL)
			die("%s", err);
		worker_set_stop_flag(workers[i], &stop_line.requested);
	}
	struct distributor *dist = NULL;
	if (layout.distribute) {
		dist = distributor_create(&cfg, n_workers, layout.tx_rings, DISTRIBUTOR_RING_SIZE,
		                          err, sizeof(err));
		if (dist == NULL)
			die("%s", err);
		for (unsigned i = 0; i < n_workers; i++)
			worker_set_lane(workers[i], distributor_lane(dist, i));
		if (lcores_share_cpus()) {
			distributor_set_yield(dist, true);
			fprintf(stderr,
			        "helogate: lcores share CPUs: the distributor and the workers "
			        "yield the CPU when idle\n");
		}
	}

	control.cfg = &cfg;
	control.workers = workers;
	control.n_workers = n_workers;
	control.mbufs = pool;
	control.events = events_out;
	control.reload = &reload_requested;
	control.stop = &stop_line.requested;
	control.dist = dist;
	if (control_init(&control) != 0)
		die("%s", "out of memory");
	if (telemetry_register(&control) != 0)
		fprintf(stderr, "helogate: telemetry commands not registered\n");
	/* dpdk-dumpcap attaches as a secondary process: it needs the shared
	 * configuration (not --no-shconf, which replays and the lab use:
	 * ENOTSUP then, silently) and memory it can map (hugepages). */
	bool pdump = rte_pdump_init() == 0;
	if (!pdump && rte_errno != ENOTSUP)
		fprintf(stderr, "helogate: packet capture (dpdk-dumpcap) unavailable: %s\n",
		        rte_strerror(rte_errno));

	for (unsigned i = 0; i < n_ports; i++) {
		uint16_t n_rx = layout.distribute ? 1 : (uint16_t)n_workers;
		uint16_t n_tx = layout.tx_rings ? 1 : (uint16_t)n_workers;
		if (port_start(ports[i], n_rx, n_tx, pool, err, sizeof(err)) != 0)
			die("%s", err);
	}

	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGHUP, on_signal);
	signal(SIGUSR1, on_signal);
	signal(SIGPIPE, SIG_IGN); /* a closed events reader is a write error, counted */

	unsigned next = 0;
	unsigned lcore, dist_lcore = RTE_MAX_LCORE;
	RTE_LCORE_FOREACH_WORKER(lcore)
	{
		int rc;
		if (dist != NULL && dist_lcore == RTE_MAX_LCORE) {
			dist_lcore = lcore;
			rc = rte_eal_remote_launch(distributor_run, dist, lcore);
		} else {
			rc = rte_eal_remote_launch(worker_run, workers[next++], lcore);
		}
		if (rc != 0)
			die("%s", "cannot launch a worker lcore");
	}
	char run_status[192], spread[80] = "";
	if (dist != NULL)
		snprintf(spread, sizeof(spread), ", distributed by lcore %u (transmit by %s)",
		         dist_lcore, layout.tx_rings ? "the distributor" : "each worker");
	snprintf(run_status, sizeof(run_status), "%u worker(s), %s mode, %s%s", n_workers,
	         cfg.mode == CONFIG_MODE_DETECT ? "detect" : "enforce",
	         cfg.single_port ? "single-port lab layout" : "inline layout", spread);
	fprintf(stderr, "helogate: %s\n", run_status);
	log_policy("policy loaded", first);
	notify_ready(run_status);
	uint64_t watchdog_ms = notify_watchdog_ms() / 2, last_watchdog_ms = worker_clock_ms();
	uint64_t *last_loops = calloc(n_workers, sizeof(*last_loops)), dist_last_loops = 0;
	if (last_loops == NULL)
		die("%s", "out of memory");
	struct console_period period = {0};
	if (cfg.stats_period_ms && console_period_init(&period, &control, worker_clock_ms()) != 0)
		die("%s", "out of memory");
	bool console_on = false;
	if (cfg.interactive) {
		console_on = console_start(&control) == 0;
		if (!console_on)
			fprintf(stderr, "helogate: the console could not start\n");
	}

	/* The control loop: never on the data path, so it may sleep and do I/O. */
	const struct event_format event_fmt = {.host = cfg.sensor_name, .replies = &cfg.replies};
	uint64_t last_rx = 0, last_change_ms = worker_clock_ms(), last_stats_ms = last_change_ms;
	uint64_t last_loss_report_ms = last_change_ms, losses_reported = 0;
	uint64_t loss_report_ms = cfg.stats_interval_ms ? cfg.stats_interval_ms : 10000;
	while (!stop_line.requested) {
		unsigned written = drain_events(workers, n_workers, events_out, &event_fmt);
		uint64_t now = worker_clock_ms();
		if (reload_requested) {
			reload_requested = 0;
			notify_reloading();
			/* All or nothing: built completely, then one swap. */
			struct policy *next =
			    load_policy(app_argc, app_argv, n_workers, err, sizeof(err));
			if (next == NULL) {
				fprintf(stderr,
				        "helogate: reload failed, the whole old policy kept: %s\n",
				        err);
			} else {
				policy_rcu_replace(policy, next);
				log_policy("policy reloaded", next);
			}
			if (events_out != NULL &&
			    event_log_reopen(events_out, err, sizeof(err)) != 0)
				fprintf(stderr,
				        "helogate: events file not reopened, "
				        "still writing the old one: %s\n",
				        err);
			notify_ready(run_status);
		}
		if (watchdog_ms && now - last_watchdog_ms >= watchdog_ms) {
			last_watchdog_ms = now;
			bool dist_alive = distributor_alive(dist, &dist_last_loops);
			if (workers_alive(workers, n_workers, last_loops) && dist_alive)
				notify_watchdog();
			else
				fprintf(stderr, "helogate: a worker lcore is not polling: "
				                "watchdog not fed\n");
		}
		if (console_on)
			console_on = console_poll();
		if (cfg.stats_period_ms && now - period.last_ms >= cfg.stats_period_ms)
			console_period_print(stdout, &period, &control, now);
		if (now - last_loss_report_ms >= loss_report_ms) {
			last_loss_report_ms = now;
			report_event_losses(events_out, &losses_reported);
		}
		if (stats_requested ||
		    (cfg.stats_interval_ms && now - last_stats_ms >= cfg.stats_interval_ms)) {
			stats_requested = 0;
			last_stats_ms = now;
			stats_write_line(stderr, workers, n_workers);
		}
		uint64_t rx = total_rx(workers, n_workers);
		if (rx != last_rx) {
			last_rx = rx;
			last_change_ms = now;
		} else if (cfg.exit_idle_ms && now - last_change_ms >= cfg.exit_idle_ms) {
			break;
		}
		if (written == 0)
			usleep(1000);
	}
	stop_line.requested = true;
	console_stop(); /* the terminal back in its mode before anything is printed */
	notify_stopping();
	/* The workers first: the distributor then sends what they handed
	 * back and counts what they never read. */
	RTE_LCORE_FOREACH_WORKER(lcore)
	if (lcore != dist_lcore)
		rte_eal_wait_lcore(lcore);
	if (dist != NULL)
		distributor_stop(dist);
	rte_eal_mp_wait_lcore();
	telemetry_detach();
	if (pdump)
		rte_pdump_uninit();
	drain_events(workers, n_workers, events_out, &event_fmt);
	for (unsigned i = 0; i < n_ports; i++)
		port_stop(ports[i]);

	if (events_out != NULL)
		event_log_close(events_out);
	uint64_t write_failed = events_out != NULL ? events_out->write_failed : 0;
	if (stats_out != NULL)
		stats_write_json(stats_out, workers, n_workers, dist,
		                 rte_mempool_in_use_count(pool), write_failed);
	stats_write_line(stderr, workers, n_workers);
	report_event_losses(events_out, &losses_reported);
	struct worker_counters total;
	stats_sum(workers, n_workers, &total);
	int status = 0;
	if (write_failed > 0 || total.events_dropped > 0) {
		fprintf(stderr,
		        "helogate: events were lost: %llu not written (events_write_failed), "
		        "%llu dropped on a full ring (events_dropped)\n",
		        (unsigned long long)write_failed, (unsigned long long)total.events_dropped);
		status = 1;
	}
	if (stats_out != NULL && stats_out != stdout)
		fclose(stats_out);
	for (unsigned i = 0; i < n_workers; i++)
		worker_free(workers[i]);
	free(workers);
	distributor_free(dist);
	free(last_loops);
	control_free(&control);
	console_period_free(&period);
	scan_commands_free(commands);
	policy_rcu_destroy(policy);
	free(app_argv);
	rte_mempool_free(pool);
	rte_eal_cleanup();
	return status;
}
