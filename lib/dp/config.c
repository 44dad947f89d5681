#include "dp/config.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <hs/hs.h>
#include <rte_version.h>

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
	memset(cfg->actions, -1, sizeof(cfg->actions));
	cfg->frag_flows = 256;
	cfg->frag_timeout_ms = 30 * 1000;
	takeover_texts_default(&cfg->replies);
	if (gethostname(cfg->sensor_name, sizeof(cfg->sensor_name)) != 0)
		cfg->sensor_name[0] = '\0';
	cfg->sensor_name[sizeof(cfg->sensor_name) - 1] = '\0';
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
	KEY_DISTRIBUTE,
	KEY_MBUFS,
	KEY_EXIT_IDLE,
	KEY_STATS_INTERVAL,
	KEY_STATS_PERIOD,
	KEY_INTERACTIVE,
	KEY_VERIFY_CHECKSUMS,
	KEY_REPLY,
	KEY_TAKEOVER_WAIT,
	KEY_SENSOR_NAME,
	KEY_ALLOW_CLIENTS,
	KEY_ALLOW_HELOS,
	KEY_ACTION,
	KEY_LOCAL_NAME,
	KEY_FRAG_FLOWS,
	KEY_FRAG_TIMEOUT,
	KEY_HELP,
	KEY_VERSION,
	KEY_CHECK_CONFIG,
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
    {"distribute", required_argument, NULL, KEY_DISTRIBUTE},
    {"mbufs", required_argument, NULL, KEY_MBUFS},
    {"exit-idle", required_argument, NULL, KEY_EXIT_IDLE},
    {"stats-interval", required_argument, NULL, KEY_STATS_INTERVAL},
    {"stats-period", required_argument, NULL, KEY_STATS_PERIOD},
    {"interactive", no_argument, NULL, KEY_INTERACTIVE},
    {"verify-checksums", required_argument, NULL, KEY_VERIFY_CHECKSUMS},
    {"reply", required_argument, NULL, KEY_REPLY},
    {"takeover-wait", required_argument, NULL, KEY_TAKEOVER_WAIT},
    {"sensor-name", required_argument, NULL, KEY_SENSOR_NAME},
    {"allow-clients", required_argument, NULL, KEY_ALLOW_CLIENTS},
    {"allow-helos", required_argument, NULL, KEY_ALLOW_HELOS},
    {"action", required_argument, NULL, KEY_ACTION},
    {"local-name", required_argument, NULL, KEY_LOCAL_NAME},
    {"frag-flows", required_argument, NULL, KEY_FRAG_FLOWS},
    {"frag-timeout", required_argument, NULL, KEY_FRAG_TIMEOUT},
    {"help", no_argument, NULL, KEY_HELP},
    {"version", no_argument, NULL, KEY_VERSION},
    {"check-config", no_argument, NULL, KEY_CHECK_CONFIG},
    {NULL, 0, NULL, 0},
};

void config_print_version(void)
{
	printf("helogate %s\n%s\nHyperscan %s\n", HG_VERSION, rte_version(), hs_version());
}

void config_print_usage(const char *prog)
{
	printf(
	    "usage: %s [EAL options] -- [options]\n"
	    "       %s --help | --version | --check-config [options]   (no EAL, no traffic)\n"
	    "EAL options (cores, devices, memory) come before '--': see DPDK's\n"
	    "\"EAL parameters\" guide; e.g. -l 0,1 -a 0000:01:00.0 -a 0000:01:00.1\n"
	    "ports:\n"
	    "  --outside P            port towards the clients (inline mode; default 0)\n"
	    "  --inside P             port towards the mail servers (inline mode; default 1)\n"
	    "  --single-port P        lab mode: both directions arrive on P and leave by P\n"
	    "  --smtp-port N          TCP port of SMTP servers (default 25; repeatable)\n"
	    "filter:\n"
	    "  --mode enforce|detect  enforce (default): answer a bogus session's RCPT with 550\n"
	    "                         and reset the server side; detect: only write events.\n"
	    "                         Both modes drop what the end host would drop (bad\n"
	    "                         checksums, malformed IP/TCP, no ACK bit, an ACK of unsent\n"
	    "                         data, an unnegotiated MD5/AO option, RSTs and data outside\n"
	    "                         the window, a copy conflicting with bytes already sent,\n"
	    "                         tiny or overlapping fragments, IPv6 chains over 8\n"
	    "                         headers), strip data from SYNs, clear URG, and hold\n"
	    "                         (drop; the client resends) client bytes whose reading\n"
	    "                         waits for a reply (after DATA, BDAT, AUTH, STARTTLS)\n"
	    "  --reply REASON=TEXT    the 550 reply for a reason (%%a address, %%h HELO address)\n"
	    "  --takeover-wait MS     longest wait for a quiet point before a takeover (2000)\n"
	    "  --action REASON=A      enforce, detect or off for one reason (repeatable;\n"
	    "                         --mode is the default of every reason)\n"
	    "  --allow-clients FILE   exempt clients: addresses and CIDR prefixes, one per line\n"
	    "  --allow-helos FILE     exempt HELO names (a parent domain exempts its subdomains)\n"
	    "  --local-name NAME      a name of the mail servers themselves (repeatable; the name\n"
	    "                         in their 220 greeting and EHLO reply is learned anyway)\n"
	    "  --banlist FILE         banned HELO names, one per line\n"
	    "  --banned-patterns FILE banned-name regular expressions (Hyperscan), one per line\n"
	    "  --psl FILE             public suffix list (default %s)\n"
	    "  --local-domain NAME    a domain the servers receive mail for (repeatable)\n"
	    "  --local-ip ADDR        an address of the mail servers (repeatable)\n"
	    "  --events FILE|-        JSON Lines verdict events (- = stdout)\n"
	    "  --stats FILE|-         counters as JSON at exit (- = stdout)\n"
	    "  --sensor-name NAME     the events' \"host\" (default: this host's name)\n"
	    "  --stats-interval S     print a counters line to stderr every S seconds\n"
	    "  --stats-period S       every S seconds, rates and levels per worker and in\n"
	    "                         total on stdout (rx/tx pps, sessions/s, judged/s, ...)\n"
	    "  -i, --interactive      a console on stdin/stdout: show stats|workers|verdicts|\n"
	    "                         config, clear stats, reload, set mode, set action, quit\n"
	    "  --config FILE          INI file, section [helogate], same keys as these options;\n"
	    "                         list options on the command line replace the file's list\n"
	    "                         (SIGHUP reloads it and every list: the whole policy)\n"
	    "  --check-config         load the configuration, lists, patterns and suffix list,\n"
	    "                         report, and exit 0 (valid) or 2 without starting traffic\n"
	    "  --version              helogate's, DPDK's and Hyperscan's versions\n"
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
	    "workers (one per EAL worker lcore, set before '--'):\n"
	    "  --distribute auto|yes|no  yes: the first worker lcore reads every port and\n"
	    "                         spreads sessions over the others by a symmetric hash\n"
	    "                         of the IP addresses (ports without RSS: net_pcap,\n"
	    "                         single-queue devices); no: each worker reads its own\n"
	    "                         queue of each port (RSS); auto (default): no where\n"
	    "                         every port has a queue per worker, else yes\n"
	    "  --mbufs N              mbuf pool size (default 16383)\n"
	    "  --verify-checksums yes|no  check TCP checksums in software when the port did not\n"
	    "  --exit-idle MS         stop after MS milliseconds without a packet (replays)\n"
	    "exit status: 0; 1 when an event was lost; 2 for a configuration or start-up error\n",
	    prog, prog, HG_DEFAULT_PSL_FILE);
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
		if (key == KEY_OUTSIDE) {
			cfg->outside_port = (uint16_t)v;
			cfg->inline_ports_set = true;
		} else if (key == KEY_INSIDE) {
			cfg->inside_port = (uint16_t)v;
			cfg->inline_ports_set = true;
		} else {
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
			return fail(err, err_size, where, key, "must be detect or enforce, not",
			            value);
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
	case KEY_ALLOW_CLIENTS:
		return copy_path(cfg->allow_clients_path, value, err, err_size, where, key);
	case KEY_ALLOW_HELOS:
		return copy_path(cfg->allow_helos_path, value, err, err_size, where, key);
	case KEY_ACTION: {
		const char *eq = strchr(value, '=');
		char name[32];
		enum verdict_reason reason;
		enum policy_action action;
		if (eq == NULL || (size_t)(eq - value) >= sizeof(name))
			return fail(err, err_size, where, key,
			            "must be REASON=enforce|detect|off, not", value);
		memcpy(name, value, (size_t)(eq - value));
		name[eq - value] = '\0';
		if (!verdict_reason_from_name(name, &reason) || reason == VERDICT_OK ||
		    reason == VERDICT_ALLOWED)
			return fail(err, err_size, where, key, "unknown bogus reason", name);
		if (!policy_action_from_name(eq + 1, &action))
			return fail(err, err_size, where, key,
			            "must be enforce, detect or off, not", eq + 1);
		cfg->actions[reason] = (int8_t)action;
		return 0;
	}
	case KEY_LOCAL_NAME:
	case KEY_LOCAL_DOMAIN: {
		struct hostname h;
		if (hostname_parse(value, strlen(value), &h) != HOSTNAME_DOMAIN)
			return fail(err, err_size, where, key, "not a domain name", value);
		if (cfg->n_local_domains + cfg->n_local_names == CONFIG_MAX_LOCAL_DOMAINS)
			return fail(err, err_size, where, key, "too many domains at", value);
		if (key == KEY_LOCAL_NAME)
			snprintf(cfg->local_names[cfg->n_local_names++], CONFIG_NAME_MAX, "%s",
			         h.name);
		else
			snprintf(cfg->local_domains[cfg->n_local_domains++], CONFIG_NAME_MAX, "%s",
			         h.name);
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
			return fail(err, err_size, where, key, "must be 1..86400 seconds, not",
			            value);
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
	case KEY_DISTRIBUTE:
		if (strcmp(value, "auto") == 0)
			cfg->distribute = CONFIG_DISTRIBUTE_AUTO;
		else if (strcmp(value, "yes") == 0)
			cfg->distribute = CONFIG_DISTRIBUTE_YES;
		else if (strcmp(value, "no") == 0)
			cfg->distribute = CONFIG_DISTRIBUTE_NO;
		else
			return fail(err, err_size, where, key, "must be auto, yes or no, not",
			            value);
		return 0;
	case KEY_MBUFS:
		if (!parse_uint(value, 1u << 26, &v) || v < 1023)
			return fail(err, err_size, where, key, "must be 1023..67108864, not",
			            value);
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
	case KEY_STATS_PERIOD:
		if (!parse_uint(value, 86400, &v))
			return fail(err, err_size, where, key, "must be seconds, not", value);
		cfg->stats_period_ms = (uint32_t)v * 1000;
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
		if (!verdict_reason_from_name(name, &reason) || reason == VERDICT_OK ||
		    reason == VERDICT_ALLOWED)
			return fail(err, err_size, where, key, "unknown bogus reason", name);
		char why[128];
		if (takeover_template_check(eq + 1, why, sizeof(why)) != 0)
			return fail(err, err_size, where, key, why, eq + 1);
		snprintf(cfg->replies.rcpt[reason], TAKEOVER_TEMPLATE_MAX, "%s", eq + 1);
		return 0;
	}
	case KEY_SENSOR_NAME:
		if (value[0] == '\0' || strlen(value) >= CONFIG_NAME_MAX)
			return fail(err, err_size, where, key, "must be 1..255 characters, not",
			            value);
		for (const char *p = value; *p; p++)
			if (*p < 0x21 || *p > 0x7e || *p == '"' || *p == '\\')
				return fail(err, err_size, where, key,
				            "must be printable ASCII without blanks or quotes, not",
				            value);
		strcpy(cfg->sensor_name, value);
		return 0;
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

/* Keys that hold a list (comma-separated in the file; repeatable options).
 * On the command line the first occurrence replaces the file's list. */
static bool is_list_key(int key)
{
	return key == KEY_SMTP_PORT || key == KEY_LOCAL_DOMAIN || key == KEY_LOCAL_IP ||
	       key == KEY_ACTION || key == KEY_LOCAL_NAME;
}

/* --action is a map, not a list: comma-separated in the file, and each
 * REASON=ACTION on the command line replaces only that reason's action. */
static void clear_list(struct config *cfg, int key)
{
	if (key == KEY_SMTP_PORT)
		cfg->n_smtp_ports = 0;
	else if (key == KEY_LOCAL_DOMAIN)
		cfg->n_local_domains = 0;
	else if (key == KEY_LOCAL_NAME)
		cfg->n_local_names = 0;
	else if (key == KEY_LOCAL_IP)
		cfg->n_local_ips = 0;
}

/* A key the file may set: every option that takes a value, except those
 * that only make sense on the command line. */
static const struct option *file_key(const char *name)
{
	for (const struct option *o = long_options; o->name != NULL; o++)
		if (strcmp(o->name, name) == 0)
			return o->has_arg == required_argument && o->val != KEY_CONFIG ? o : NULL;
	return NULL;
}

#define CONFIG_LINE_MAX 4096

static int file_error(char *err, size_t err_size, const char *path, unsigned line, const char *fmt,
                      const char *detail)
{
	int n = snprintf(err, err_size, "%s:%u: ", path, line);
	if (n >= 0 && (size_t)n < err_size)
		snprintf(err + n, err_size - (size_t)n, fmt, detail);
	return -1;
}

/* One "key = value" line of section [helogate]. */
static int load_entry(struct config *cfg, const char *path, unsigned line, char *text,
                      unsigned *first_line, char *err, size_t err_size)
{
	char *eq = strchr(text, '=');

	if (eq == NULL)
		return file_error(err, err_size, path, line, "expected 'key = value', not '%s'",
		                  text);
	*eq = '\0';
	char *name = trim(text), *value = trim(eq + 1);
	if (name[0] == '\0')
		return file_error(err, err_size, path, line, "%s", "a value without a key");
	const struct option *o = file_key(name);
	if (o == NULL)
		return file_error(err, err_size, path, line, "unknown key '%s'", name);
	size_t index = (size_t)(o - long_options);
	if (first_line[index] != 0) {
		char what[96];
		snprintf(what, sizeof(what), "%.40s' (first set at line %u)", name,
		         first_line[index]);
		return file_error(err, err_size, path, line, "duplicate key '%s", what);
	}
	first_line[index] = line;
	char where[PATH_MAX + 16];
	snprintf(where, sizeof(where), "%s:%u", path, line);
	/* List keys take comma-separated values; any other value is one
	 * value (a reply text may hold commas). */
	if (!is_list_key(o->val))
		return config_set(cfg, o->val, value, err, err_size, where);
	char *save = NULL;
	for (char *item = strtok_r(value, ",", &save); item != NULL;
	     item = strtok_r(NULL, ",", &save))
		if (config_set(cfg, o->val, trim(item), err, err_size, where) != 0)
			return -1;
	return 0;
}

int config_load_file(struct config *cfg, const char *path, char *err, size_t err_size)
{
	unsigned first_line[sizeof(long_options) / sizeof(long_options[0])] = {0};
	struct stat st;
	bool in_section = false;
	unsigned line = 0;
	char *text = NULL;
	size_t cap = 0;
	ssize_t len;
	int rc = 0;

	FILE *f = fopen(path, "r");
	if (f == NULL)
		return file_error(err, err_size, path, 0, "%s", strerror(errno));
	if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
		bool dir = S_ISDIR(st.st_mode);
		fclose(f);
		return file_error(err, err_size, path, 0, "%s",
		                  dir ? "is a directory, not a file" : "not a regular file");
	}
	errno = 0;
	while (rc == 0 && (len = getline(&text, &cap, f)) >= 0) {
		line++;
		if (len > CONFIG_LINE_MAX) {
			rc = file_error(err, err_size, path, line, "line longer than %s bytes",
			                "4096");
			break;
		}
		if (memchr(text, '\0', (size_t)len) != NULL) {
			rc = file_error(err, err_size, path, line, "%s", "a NUL byte in the line");
			break;
		}
		while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r'))
			text[--len] = '\0';
		char *t = trim(text);
		if (t[0] == '\0' || t[0] == '#' || t[0] == ';')
			continue;
		if (t[0] == '[') {
			if (t[strlen(t) - 1] != ']')
				rc = file_error(err, err_size, path, line,
				                "malformed section header '%s'", t);
			else if (strcmp(t, "[helogate]") != 0)
				rc = file_error(err, err_size, path, line,
				                "unknown section %s (expected [helogate])", t);
			else if (in_section)
				rc = file_error(err, err_size, path, line, "%s",
				                "duplicate section [helogate]");
			in_section = true;
			continue;
		}
		if (!in_section) {
			rc = file_error(err, err_size, path, line, "'%s' before [helogate]", t);
			break;
		}
		rc = load_entry(cfg, path, line, t, first_line, err, err_size);
	}
	if (rc == 0 && ferror(f))
		rc = file_error(err, err_size, path, line + 1, "%s", strerror(errno ? errno : EIO));
	free(text);
	fclose(f);
	return rc;
}

/* Two output paths name the same file: equal text, or one existing inode. */
static bool same_output(const char *a, const char *b)
{
	struct stat sa, sb;

	if (a[0] == '\0' || b[0] == '\0')
		return false;
	if (strcmp(a, b) == 0)
		return true;
	return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
	       sa.st_ino == sb.st_ino;
}

static int config_check_conflicts(const struct config *cfg, char *err, size_t err_size)
{
	if (same_output(cfg->events_path, cfg->stats_path)) {
		snprintf(err, err_size, "--events and --stats must not name the same file ('%s')",
		         strcmp(cfg->events_path, "-") == 0 ? "-" : cfg->stats_path);
		return -1;
	}
	if (strcmp(cfg->events_path, "-") == 0 && (cfg->interactive || cfg->stats_period_ms)) {
		snprintf(err, err_size,
		         "--events - conflicts with %s (both write to standard output)",
		         cfg->interactive ? "--interactive" : "--stats-period");
		return -1;
	}
	if (cfg->single_port && cfg->inline_ports_set) {
		snprintf(err, err_size,
		         "--single-port (lab layout) conflicts with --outside/--inside "
		         "(inline layout)");
		return -1;
	}
	for (unsigned i = 0; i < cfg->n_smtp_ports; i++)
		for (unsigned j = 0; j < i; j++)
			if (cfg->smtp_ports[i] == cfg->smtp_ports[j]) {
				snprintf(err, err_size, "--smtp-port %u given twice",
				         cfg->smtp_ports[i]);
				return -1;
			}
	return 0;
}

int config_parse_args(struct config *cfg, int argc, char **argv, char *err, size_t err_size)
{
	int c;
	bool list_from_cli[KEY_CHECK_CONFIG + 1] = {false};

	/* First pass: the config file only, so the command line overrides it. */
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":i", long_options, NULL)) != -1) {
		if (c == KEY_CONFIG && config_load_file(cfg, optarg, err, err_size) != 0)
			return -1;
	}
	optind = 1;
	while ((c = getopt_long(argc, argv, ":i", long_options, NULL)) != -1) {
		switch (c) {
		case KEY_CONFIG:
			break;
		case KEY_HELP:
			config_print_usage(argv[0]);
			return 1;
		case KEY_VERSION:
			config_print_version();
			return 1;
		case KEY_CHECK_CONFIG:
			cfg->check_only = true;
			break;
		case KEY_INTERACTIVE:
		case 'i':
			cfg->interactive = true;
			break;
		case ':':
			snprintf(err, err_size, "option '%s' needs a value", argv[optind - 1]);
			return -1;
		case '?':
			snprintf(err, err_size, "unknown option '%s' (try --help)",
			         argv[optind - 1]);
			return -1;
		default:
			/* A list on the command line replaces the file's list. */
			if (is_list_key(c) && !list_from_cli[c]) {
				clear_list(cfg, c);
				list_from_cli[c] = true;
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
	return config_check_conflicts(cfg, err, err_size);
}

void config_policy_settings(const struct config *cfg, const char **name_ptrs,
                            struct policy_settings *s, unsigned n_readers)
{
	memset(s, 0, sizeof(*s));
	s->psl_path = cfg->psl_path;
	s->banlist_path = cfg->banlist_path;
	s->patterns_path = cfg->patterns_path;
	s->allow_clients_path = cfg->allow_clients_path;
	s->allow_helos_path = cfg->allow_helos_path;
	unsigned n = 0;
	for (unsigned i = 0; i < cfg->n_local_names; i++)
		name_ptrs[n++] = cfg->local_names[i];
	for (unsigned i = 0; i < cfg->n_local_domains; i++)
		name_ptrs[n++] = cfg->local_domains[i];
	s->local_names = name_ptrs;
	s->n_local_names = n;
	s->local_ips = cfg->local_ips;
	s->n_local_ips = cfg->n_local_ips;
	for (int r = 0; r < VERDICT_COUNT; r++)
		s->actions[r] = cfg->actions[r] >= 0 ? (enum policy_action)cfg->actions[r]
		                : cfg->mode == CONFIG_MODE_DETECT ? POLICY_DETECT
		                                                  : POLICY_ENFORCE;
	s->n_readers = n_readers;
}
