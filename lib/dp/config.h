/*
 * config: helogate's settings, from the command line (after EAL's "--") and
 * from an INI file (--config FILE; section [helogate], the same keys as the
 * long options without "--", "#" or ";" comments). The file is validated
 * strictly: a malformed line, an unknown or duplicate key, a directory or an
 * unreadable file is an error.
 *
 * Produces one struct config that is immutable once the workers start.
 * Every problem is reported as one line: "--option: ..." for the command
 * line, "FILE:LINE: ..." for the file (LINE 0: the file as a whole); nothing
 * here touches ports or traffic, and nothing needs EAL.
 */
#ifndef HG_CONFIG_H
#define HG_CONFIG_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wire/addr.h"
#include "judge/policy.h"
#include "filter/takeover.h"

#define CONFIG_MAX_SMTP_PORTS 16
#define CONFIG_MAX_LOCAL_DOMAINS 64
#define CONFIG_MAX_LOCAL_IPS 64
#define CONFIG_NAME_MAX 256
#define CONFIG_NO_PORT UINT16_MAX

enum config_mode { CONFIG_MODE_DETECT, CONFIG_MODE_ENFORCE };

/* --distribute: how packets reach several workers. AUTO: the ports' queues
 * (RSS) where every port gives one per worker, else software distribution
 * (dp/distributor) on the first worker lcore; YES: always software; NO:
 * never (a port without enough queues is an error). */
enum config_distribute { CONFIG_DISTRIBUTE_AUTO, CONFIG_DISTRIBUTE_YES, CONFIG_DISTRIBUTE_NO };

struct config {
	enum config_mode mode;
	bool check_only;       /* --check-config: load everything, start nothing */
	bool inline_ports_set; /* --outside or --inside was given */
	bool single_port;      /* lab mode: both directions on one port */
	uint16_t outside_port; /* towards the clients (inline mode) */
	uint16_t inside_port;  /* towards the mail servers (inline mode) */
	uint16_t lab_port;     /* --single-port */
	uint16_t smtp_ports[CONFIG_MAX_SMTP_PORTS];
	unsigned n_smtp_ports;

	char banlist_path[PATH_MAX];       /* "" = none */
	char patterns_path[PATH_MAX];      /* banned-name regular expressions, "" = none */
	char psl_path[PATH_MAX];           /* "" = the build's default */
	char events_path[PATH_MAX];        /* "" = no events, "-" = stdout */
	char stats_path[PATH_MAX];         /* counters as JSON at exit; "" = none, "-" = stdout */
	char sensor_name[CONFIG_NAME_MAX]; /* events' "host" (default: the host name) */
	char allow_clients_path[PATH_MAX]; /* exempt client addresses and prefixes, "" = none */
	char allow_helos_path[PATH_MAX];   /* exempt HELO names, "" = none */
	/* --local-domain and --local-name, normalized; together at most
	 * CONFIG_MAX_LOCAL_DOMAINS. Both feed matches-rcpt. */
	char local_domains[CONFIG_MAX_LOCAL_DOMAINS][CONFIG_NAME_MAX];
	unsigned n_local_domains;
	char local_names[CONFIG_MAX_LOCAL_DOMAINS][CONFIG_NAME_MAX];
	unsigned n_local_names;
	int8_t actions[VERDICT_COUNT]; /* --action; -1: the mode's */
	struct ip_addr local_ips[CONFIG_MAX_LOCAL_IPS];
	unsigned n_local_ips;

	uint32_t flows_per_worker;  /* flow-table capacity of each worker */
	uint32_t blocks_per_worker; /* 2 KiB byte blocks for partial lines and held segments */
	uint32_t event_ring_size;   /* events buffered per worker */
	uint32_t line_max;          /* longest command line parsed (RFC 5321 says 512) */
	uint32_t timeout_syn_ms, timeout_idle_ms, timeout_closing_ms;
	uint32_t rx_burst;
	enum config_distribute distribute;
	uint32_t mbufs; /* mbuf pool size */
	uint32_t
	    exit_idle_ms; /* 0 = run until a signal; else stop after this long without packets */
	uint32_t
	    stats_interval_ms;     /* 0 = none; else print a counters line to stderr periodically */
	uint32_t stats_period_ms;  /* 0 = none; else rates and levels on stdout periodically */
	bool interactive;          /* -i: the console on standard input and output */
	bool verify_checksums;     /* verify TCP checksums in software when the port did not */
	uint32_t takeover_wait_ms; /* how long a takeover may wait for a quiet session */
	uint32_t takeover_session_ms;  /* a taken-over session's lifetime (postscreen: 300 s) */
	uint32_t frag_flows;           /* datagrams being reassembled at once, per worker */
	uint32_t frag_timeout_ms;      /* how long a datagram's fragments wait (Linux: 30 s) */
	struct takeover_texts replies; /* the 550 reply per reason (--reply REASON=TEXT) */
};

/* Fill cfg with the defaults (enforce mode, inline ports 0 and 1, port 25). */
void config_defaults(struct config *cfg);

/* Parse the application's arguments (argv[0] is the program name; EAL's own
 * arguments already removed). A --config FILE is read first, so command-line
 * options override it, and a list given on the command line (--smtp-port,
 * --local-domain, --local-ip) replaces the file's list. Conflicting options
 * are refused (--events and --stats naming one file, --single-port with
 * --outside/--inside, a repeated --smtp-port, --events - with the console
 * or --stats-period, which own standard output). Returns 0, 1 when --help or
 * --version was printed, or -1 with a one-line message in err. */
int config_parse_args(struct config *cfg, int argc, char **argv, char *err, size_t err_size);

/* Read an INI file into cfg. Returns 0 or -1 with "FILE:LINE: reason" in err. */
int config_load_file(struct config *cfg, const char *path, char *err, size_t err_size);

/* True when port is one of the configured SMTP ports. */
static inline bool config_is_smtp_port(const struct config *cfg, uint16_t port)
{
	for (unsigned i = 0; i < cfg->n_smtp_ports; i++)
		if (cfg->smtp_ports[i] == port)
			return true;
	return false;
}

/* Point s at cfg's policy sources (paths, local names and addresses) and
 * resolve the actions: --action REASON=ACTION where given, else --mode's.
 * s borrows cfg's strings: cfg must outlive policy_build(). */
void config_policy_settings(const struct config *cfg, const char **name_ptrs,
                            struct policy_settings *s, unsigned n_readers);

/* The usage text printed by --help. */
void config_print_usage(const char *prog);

/* "helogate VERSION", DPDK's and Hyperscan's versions, one per line, on
 * standard output (--version; needs no EAL). */
void config_print_version(void);

#endif
