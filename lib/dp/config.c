#include "dp/config.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_cfgfile.h>

#include "judge/hostname.h"
#include "judge/verdict.h"

void config_defaults(struct config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->outside_port = 0;
	cfg->inside_port = 1;
	cfg->lab_port = CONFIG_NO_PORT;
	cfg->flows_per_worker = 1u << 20;
	cfg->blocks_per_worker = 1u << 16;
	cfg->event_ring_size = 4096;
	cfg->line_max = 2048;
	cfg->timeout_syn_ms = 30 * 1000;
	cfg->timeout_idle_ms = 360 * 1000;
	cfg->timeout_closing_ms = 10 * 1000;
	cfg->rx_burst = 32;
	cfg->mbufs = 16383;
	cfg->verify_checksums = true;
	cfg->mode = CONFIG_MODE_ENFORCE;
	cfg->takeover_wait_ms = 2000;
	cfg->takeover_session_ms = 300 * 1000;
	cfg->frag_flows = 256;
	cfg->frag_timeout_ms = 30 * 1000;
	takeover_texts_default(&cfg->replies);
}

/* One table drives both the command line and the config file, so the two
 * can never disagree on a key's name or meaning. */
enum config_key {
	KEY_CONFIG = 256,
	KEY_OUTSIDE,
	KEY_INSIDE,
	KEY_SINGLE_PORT,
	KEY_SMTP_PORT,
	KEY_MODE,
	KEY_BANLIST,
	KEY_PATTERNS,
	KEY_PSL,
	KEY_LOCAL_DOMAIN,
	KEY_LOCAL_IP,
	KEY_EVENTS,
	KEY_STATS,
	KEY_FLOWS,
	KEY_BLOCKS,
	KEY_EVENT_RING,
	KEY_LINE_MAX,
	KEY_TIMEOUT_SYN,
	KEY_TIMEOUT_IDLE,
	KEY_TIMEOUT_CLOSING,
	KEY_BURST,
	KEY_MBUFS,
	KEY_EXIT_IDLE,
	KEY_STATS_INTERVAL,
	KEY_VERIFY_CHECKSUMS,
	KEY_REPLY,
	KEY_TAKEOVER_WAIT,
	KEY_FRAG_FLOWS,
	KEY_FRAG_TIMEOUT,
	KEY_HELP,
};

static const struct option long_options[] = {
	{"config", required_argument, NULL, KEY_CONFIG},
	{"outside", required_argument, NULL, KEY_OUTSIDE},
	{"inside", required_argument, NULL, KEY_INSIDE},
	{"single-port", required_argument, NULL, KEY_SINGLE_PORT},
	{"smtp-port", required_argument, NULL, KEY_SMTP_PORT},
	{"mode", required_argument, NULL, KEY_MODE},
	{"banlist", required_argument, NULL, KEY_BANLIST},
	{"banned-patterns", required_argument, NULL, KEY_PATTERNS},
	{"psl", required_argument, NULL, KEY_PSL},
	{"local-domain", required_argument, NULL, KEY_LOCAL_DOMAIN},
	{"local-ip", required_argument, NULL, KEY_LOCAL_IP},
	{"events", required_argument, NULL, KEY_EVENTS},
	{"stats", required_argument, NULL, KEY_STATS},
	{"flows", required_argument, NULL, KEY_FLOWS},
	{"blocks", required_argument, NULL, KEY_BLOCKS},
	{"event-ring", required_argument, NULL, KEY_EVENT_RING},
	{"line-max", required_argument, NULL, KEY_LINE_MAX},
	{"timeout-syn", required_argument, NULL, KEY_TIMEOUT_SYN},
	{"timeout-idle", required_argument, NULL, KEY_TIMEOUT_IDLE},
	{"timeout-closing", required_argument, NULL, KEY_TIMEOUT_CLOSING},
	{"burst", required_argument, NULL, KEY_BURST},
	{"mbufs", required_argument, NULL, KEY_MBUFS},
	{"exit-idle", required_argument, NULL, KEY_EXIT_IDLE},
	{"stats-interval", required_argument, NULL, KEY_STATS_INTERVAL},
	{"verify-checksums", required_argument, NULL, KEY_VERIFY_CHECKSUMS},
	{"reply", required_argument, NULL, KEY_REPLY},
	{"takeover-wait", required_argument, NULL, KEY_TAKEOVER_WAIT},
	{"frag-flows", required_argument, NULL, KEY_FRAG_FLOWS},
	{"frag-timeout", required_argument, NULL, KEY_FRAG_TIMEOUT},
	{"help", no_argument, NULL, KEY_HELP},
	{NULL, 0, NULL, 0},
};

void config_print_usage(const char *prog)
{
	printf("usage: %s [EAL options] -- [options]\n"
	       "ports:\n"
	       "  --outside P            port towards the clients (inline mode; default 0)\n"
	       "  --inside P             port towards the mail servers (inline mode; default 1)\n"
	       "  --single-port P        lab mode: both directions arrive on P and leave by P\n"
	       "  --smtp-port N          TCP port of SMTP servers (default 25; repeatable)\n"
	       "filter:\n"
	       "  --mode enforce|detect  enforce (default): answer a bogus session's RCPT with 550\n"
	       "                         and reset the server side; detect: forward everything\n"
	       "  --reply REASON=TEXT    the 550 reply for a reason (%%a address, %%h HELO address)\n"
	       "  --takeover-wait MS     longest wait for a quiet point before a takeover (2000)\n"
	       "  --banlist FILE         banned HELO names, one per line (SIGHUP reloads)\n"
	       "  --banned-patterns FILE banned-name regular expressions (Hyperscan), one per line\n"
	       "  --psl FILE             public suffix list (default %s)\n"
	       "  --local-domain NAME    a domain the servers receive mail for (repeatable)\n"
	       "  --local-ip ADDR        an address of the mail servers (repeatable)\n"
	       "  --events FILE|-        JSON Lines verdict events (- = stdout)\n"
	       "  --stats FILE|-         counters as JSON at exit (- = stdout)\n"
	       "  --stats-interval S     print a counters line to stderr every S seconds\n"
	       "  --config FILE          INI file, section [helogate], same keys as these options\n"
	       "sizing:\n"
	       "  --flows N              flow-table capacity per worker (default 1048576)\n"
	       "  --blocks N             2 KiB buffers per worker (default 65536)\n"
	       "  --event-ring N         events buffered per worker (default 4096)\n"
	       "  --line-max N           longest command line parsed (default 2048)\n"
	       "  --frag-flows N         IP datagrams reassembled at once per worker, up to 8\n"
	       "                         fragments (mbufs) each (default 256)\n"
	       "  --frag-timeout MS      how long a datagram's fragments wait (default 30000)\n"
	       "  --timeout-syn S, --timeout-idle S, --timeout-closing S   flow timers (30, 360, 10)\n"
	       "  --burst N              receive burst size (default 32)\n"
	       "  --mbufs N              mbuf pool size (default 16383)\n"
	       "  --verify-checksums yes|no  check TCP checksums in software when the port did not\n"
	       "  --exit-idle MS         stop after MS milliseconds without a packet (replays)\n",
	       prog, HG_DEFAULT_PSL_FILE);
}

static const char *key_name(int key)
{
	for (const struct option *o = long_options; o->name != NULL; o++)
		if (o->val == key)
			return o->name;
	return "?";
}

static int fail(char *err, size_t err_size, const char *where, int key, const char *what,
		const char *value)
{
	snprintf(err, err_size, "%s%s%s: %s '%s'", where, where[0] ? ": " : "", key_name(key), what,
		 value);
	return -1;
}

static bool parse_uint(const char *text, unsigned long max, unsigned long *out)
{
	char *end;

	if (!isdigit((unsigned char)text[0]))
		return false;
	errno = 0;
	unsigned long v = strtoul(text, &end, 10);
	if (errno != 0 || *end != '\0' || v > max)
		return false;
	*out = v;
	return true;
}

static int copy_path(char *dst, const char *value, char *err, size_t err_size, const char *where,
		     int key)
{
	if (value[0] == '\0' || strlen(value) >= PATH_MAX)
		return fail(err, err_size, where, key, "bad path", value);
	strcpy(dst, value);
	return 0;
}

/* Apply one key=value; lists append. where: "" for the command line, or
 * "FILE" for the config file, to name the source in messages. */
static int config_set(struct config *cfg, int key, const char *value, char *err, size_t err_size,
		      const char *where)
{
	unsigned long v;

	switch (key) {
	case KEY_OUTSIDE:
	case KEY_INSIDE:
	case KEY_SINGLE_PORT:
		if (!parse_uint(value, CONFIG_NO_PORT - 1, &v))
			return fail(err, err_size, where, key, "not a port number", value);
		if (key == KEY_OUTSIDE)
			cfg->outside_port = (uint16_t)v;
		else if (key == KEY_INSIDE)
			cfg->inside_port = (uint16_t)v;
		else {
			cfg->lab_port = (uint16_t)v;
			cfg->single_port = true;
		}
		return 0;
	case KEY_SMTP_PORT:
		if (!parse_uint(value, 65535, &v) || v == 0)
			return fail(err, err_size, where, key, "not a TCP port", value);
		if (cfg->n_smtp_ports == CONFIG_MAX_SMTP_PORTS)
			return fail(err, err_size, where, key, "too many ports at", value);
		cfg->smtp_ports[cfg->n_smtp_ports++] = (uint16_t)v;
		return 0;
	case KEY_MODE:
		if (strcmp(value, "detect") == 0)
			cfg->mode = CONFIG_MODE_DETECT;
		else if (strcmp(value, "enforce") == 0)
			cfg->mode = CONFIG_MODE_ENFORCE;
		else
			return fail(err, err_size, where, key, "must be detect or enforce, not", value);
		return 0;
	case KEY_BANLIST:
		return copy_path(cfg->banlist_path, value, err, err_size, where, key);
	case KEY_PATTERNS:
		return copy_path(cfg->patterns_path, value, err, err_size, where, key);
	case KEY_PSL:
		return copy_path(cfg->psl_path, value, err, err_size, where, key);
	case KEY_EVENTS:
		return copy_path(cfg->events_path, value, err, err_size, where, key);
	case KEY_STATS:
		return copy_path(cfg->stats_path, value, err, err_size, where, key);
	case KEY_LOCAL_DOMAIN: {
		struct hostname h;
		if (hostname_parse(value, strlen(value), &h) != HOSTNAME_DOMAIN)
			return fail(err, err_size, where, key, "not a domain name", value);
		if (cfg->n_local_domains == CONFIG_MAX_LOCAL_DOMAINS)
			return fail(err, err_size, where, key, "too many domains at", value);
		snprintf(cfg->local_domains[cfg->n_local_domains++], CONFIG_NAME_MAX, "%s", h.name);
		return 0;
	}
	case KEY_LOCAL_IP: {
		struct ip_addr a;
		if (!ip_addr_parse(value, strlen(value), &a))
			return fail(err, err_size, where, key, "not an IP address", value);
		if (cfg->n_local_ips == CONFIG_MAX_LOCAL_IPS)
			return fail(err, err_size, where, key, "too many addresses at", value);
		cfg->local_ips[cfg->n_local_ips++] = a;
		return 0;
	}
	case KEY_FLOWS:
		if (!parse_uint(value, 1u << 28, &v) || v < 16)
			return fail(err, err_size, where, key, "must be 16..268435456, not", value);
		cfg->flows_per_worker = (uint32_t)v;
		return 0;
	case KEY_BLOCKS:
		if (!parse_uint(value, 1u << 24, &v) || v < 16)
			return fail(err, err_size, where, key, "must be 16..16777216, not", value);
		cfg->blocks_per_worker = (uint32_t)v;
		return 0;
	case KEY_EVENT_RING:
		if (!parse_uint(value, 1u << 20, &v) || v < 1)
			return fail(err, err_size, where, key, "must be 1..1048576, not", value);
		cfg->event_ring_size = (uint32_t)v;
		return 0;
	case KEY_LINE_MAX:
		/* 512 is RFC 5321 4.5.3.1.4's minimum; a block (2 KiB) bounds it. */
		if (!parse_uint(value, 2048, &v) || v < 512)
			return fail(err, err_size, where, key, "must be 512..2048, not", value);
		cfg->line_max = (uint32_t)v;
		return 0;
	case KEY_TIMEOUT_SYN:
	case KEY_TIMEOUT_IDLE:
	case KEY_TIMEOUT_CLOSING:
		if (!parse_uint(value, 86400, &v) || v < 1)
			return fail(err, err_size, where, key, "must be 1..86400 seconds, not", value);
		if (key == KEY_TIMEOUT_SYN)
			cfg->timeout_syn_ms = (uint32_t)v * 1000;
		else if (key == KEY_TIMEOUT_IDLE)
			cfg->timeout_idle_ms = (uint32_t)v * 1000;
		else
			cfg->timeout_closing_ms = (uint32_t)v * 1000;
		return 0;
	case KEY_BURST:
		if (!parse_uint(value, 512, &v) || v < 1)
			return fail(err, err_size, where, key, "must be 1..512, not", value);
		cfg->rx_burst = (uint32_t)v;
		return 0;
	case KEY_MBUFS:
		if (!parse_uint(value, 1u << 26, &v) || v < 1023)
			return fail(err, err_size, where, key, "must be 1023..67108864, not", value);
		cfg->mbufs = (uint32_t)v;
		return 0;
	case KEY_EXIT_IDLE:
		if (!parse_uint(value, 86400000, &v))
			return fail(err, err_size, where, key, "must be milliseconds, not", value);
		cfg->exit_idle_ms = (uint32_t)v;
		return 0;
	case KEY_STATS_INTERVAL:
		if (!parse_uint(value, 86400, &v))
			return fail(err, err_size, where, key, "must be seconds, not", value);
		cfg->stats_interval_ms = (uint32_t)v * 1000;
		return 0;
	case KEY_VERIFY_CHECKSUMS:
		if (strcmp(value, "yes") == 0)
			cfg->verify_checksums = true;
		else if (strcmp(value, "no") == 0)
			cfg->verify_checksums = false;
		else
			return fail(err, err_size, where, key, "must be yes or no, not", value);
		return 0;
	case KEY_REPLY: {
		const char *eq = strchr(value, '=');
		char name[32];
		enum verdict_reason reason;
		if (eq == NULL || (size_t)(eq - value) >= sizeof(name))
			return fail(err, err_size, where, key, "must be REASON=TEXT, not", value);
		memcpy(name, value, (size_t)(eq - value));
		name[eq - value] = '\0';
		if (!verdict_reason_from_name(name, &reason) || reason == VERDICT_OK)
			return fail(err, err_size, where, key, "unknown bogus reason", name);
		char why[128];
		if (takeover_template_check(eq + 1, why, sizeof(why)) != 0)
			return fail(err, err_size, where, key, why, eq + 1);
		snprintf(cfg->replies.rcpt[reason], TAKEOVER_TEMPLATE_MAX, "%s", eq + 1);
		return 0;
	}
	case KEY_TAKEOVER_WAIT:
		if (!parse_uint(value, 60000, &v) || v < 10)
			return fail(err, err_size, where, key, "must be 10..60000 ms, not", value);
		cfg->takeover_wait_ms = (uint32_t)v;
		return 0;
	case KEY_FRAG_FLOWS:
		if (!parse_uint(value, 1u << 16, &v) || v < 1)
			return fail(err, err_size, where, key, "must be 1..65536, not", value);
		cfg->frag_flows = (uint32_t)v;
		return 0;
	case KEY_FRAG_TIMEOUT:
		/* RFC 8200 4.5 says 60 s; Linux waits 30 (ipfrag_time). */
		if (!parse_uint(value, 120000, &v) || v < 10)
			return fail(err, err_size, where, key, "must be 10..120000 ms, not", value);
		cfg->frag_timeout_ms = (uint32_t)v;
		return 0;
	default:
		snprintf(err, err_size, "%s: unknown key", where);
		return -1;
	}
}

static char *trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = strlen(s);
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		s[--n] = '\0';
	return s;
}

int config_load_file(struct config *cfg, const char *path, char *err, size_t err_size)
{
	struct rte_cfgfile *file = rte_cfgfile_load(path, 0);

	if (file == NULL) {
		snprintf(err, err_size, "%s: cannot read or parse the file", path);
		return -1;
	}
	int rc = 0;
	int n_sections = rte_cfgfile_num_sections(file, NULL, 0);
	for (int s = 0; s < n_sections && rc == 0; s++) {
		char section[CFG_NAME_LEN];
		int n = rte_cfgfile_section_num_entries_by_index(file, section, s);
		if (strcmp(section, "helogate") != 0) {
			snprintf(err, err_size, "%s: unknown section [%s] (expected [helogate])", path,
				 section);
			rc = -1;
			break;
		}
		struct rte_cfgfile_entry *entries = calloc((size_t)(n > 0 ? n : 1), sizeof(*entries));
		if (entries == NULL) {
			snprintf(err, err_size, "%s: out of memory", path);
			rc = -1;
			break;
		}
		rte_cfgfile_section_entries_by_index(file, s, section, entries, n);
		for (int i = 0; i < n && rc == 0; i++) {
			const struct option *o = long_options;
			while (o->name != NULL && strcmp(o->name, entries[i].name) != 0)
				o++;
			if (o->name == NULL || o->val == KEY_CONFIG || o->val == KEY_HELP) {
				snprintf(err, err_size, "%s: unknown key '%s'", path, entries[i].name);
				rc = -1;
				break;
			}
			/* List keys take comma-separated values in the file; a reply
			 * text is one value (it may hold commas). */
			if (o->val == KEY_REPLY) {
				rc = config_set(cfg, o->val, trim(entries[i].value), err, err_size, path);
				continue;
			}
			char *save = NULL;
			for (char *item = strtok_r(entries[i].value, ",", &save); item != NULL && rc == 0;
			     item = strtok_r(NULL, ",", &save))
				rc = config_set(cfg, o->val, trim(item), err, err_size, path);
		}
		free(entries);
	}
	rte_cfgfile_close(file);
	return rc;
}

int config_parse_args(struct config *cfg, int argc, char **argv, char *err, size_t err_size)
{
	int c;
	bool smtp_ports_from_cli = false;

	/* First pass: the config file only, so the command line overrides it. */
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":", long_options, NULL)) != -1) {
		if (c == KEY_CONFIG && config_load_file(cfg, optarg, err, err_size) != 0)
			return -1;
	}
	optind = 1;
	while ((c = getopt_long(argc, argv, ":", long_options, NULL)) != -1) {
		switch (c) {
		case KEY_CONFIG:
			break;
		case KEY_HELP:
			config_print_usage(argv[0]);
			return 1;
		case ':':
			snprintf(err, err_size, "option '%s' needs a value", argv[optind - 1]);
			return -1;
		case '?':
			snprintf(err, err_size, "unknown option '%s' (try --help)", argv[optind - 1]);
			return -1;
		default:
			/* --smtp-port on the command line replaces the file's list. */
			if (c == KEY_SMTP_PORT && !smtp_ports_from_cli) {
				cfg->n_smtp_ports = 0;
				smtp_ports_from_cli = true;
			}
			if (config_set(cfg, c, optarg, err, err_size, "") != 0)
				return -1;
		}
	}
	if (optind < argc) {
		snprintf(err, err_size, "unexpected argument '%s'", argv[optind]);
		return -1;
	}
	if (cfg->n_smtp_ports == 0)
		cfg->smtp_ports[cfg->n_smtp_ports++] = 25;
	if (!cfg->single_port && cfg->outside_port == cfg->inside_port) {
		snprintf(err, err_size, "--outside and --inside must be different ports (both %u)",
			 cfg->outside_port);
		return -1;
	}
	return 0;
}
