/*
 * helogate-smtp-load: a persistent, concurrent SMTP client that counts
 * sessions judged per second by a real server (Postfix smtpd, or Postfix
 * behind helogate). One process, one thread, epoll, K sessions in flight;
 * no process per session and no message bodies, so what it measures is the
 * server's judging, not the client.
 *
 * Each session: connect, 220, EHLO (or HELO) NAME, MAIL FROM, RCPT TO, the
 * RCPT reply (the verdict: 250 accepted, 5xx rejected), QUIT, close. Every
 * command waits for its reply (no pipelining). The session is judged when
 * its RCPT reply arrives.
 *
 * The HELO mix is helogate-bench's smtp-commands mix: a session is bogus with
 * probability --bogus (default 0.3), its reason then uniform over the seven
 * bogus reasons, its name drawn from lib/synth's table for that reason
 * (synth_helo_table), so the share of each reason is the harness's. The
 * server-ip names are the --server address (bare and as a literal); a
 * matches-rcpt name sends its RCPT to itself (lab-mail.net: to any
 * recipient domain). Expected verdict = the table's reason; the report
 * counts, per reason, RCPTs accepted, rejected and sessions lost, and
 * mismatches (bogus accepted, good rejected).
 *
 * Bounded by --sessions and --seconds (no new session after either), each
 * session by --timeout; it always stops by itself.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "judge/verdict.h"
#include "synth/synth.h"

#define MAX_CONCURRENCY 20000
#define REPLY_MAX 2048

enum step { STEP_CONNECT, STEP_BANNER, STEP_GREET, STEP_MAIL, STEP_RCPT, STEP_QUIT };

enum fail {
	FAIL_CONNECT, /* connect() failed or was refused */
	FAIL_BANNER,  /* a greeting other than 220 */
	FAIL_CLOSED,  /* the server closed or reset before the RCPT reply */
	FAIL_TIMEOUT, /* no RCPT reply within --timeout */
	FAIL_PROTO,   /* a reply line that is not a reply, or too long */
	FAIL_COUNT
};
static const char *const fail_names[FAIL_COUNT] = {"connect", "banner", "closed", "timeout",
                                                   "protocol"};

struct options {
	struct sockaddr_in server;
	const char *server_text, *local_domain, *json, *label;
	uint32_t concurrency, sessions;
	double seconds, timeout, bogus, ehlo;
	uint64_t seed;
};

struct conn {
	int fd;
	enum step step;
	enum verdict_reason reason;
	bool ehlo, judged;
	double deadline;
	uint32_t len;
	char helo[300], rcpt[320];
	char buf[REPLY_MAX];
};

/* A HELO name whose verdict differed from the expected one. */
struct mismatch {
	char helo[64];
	int code;
	uint64_t count;
};
#define MISMATCH_NAMES 16

struct tally {
	uint64_t started, judged, accepted, rejected, other_code;
	struct mismatch mism[MISMATCH_NAMES];
	uint64_t by_reason[VERDICT_COUNT][3]; /* accepted, rejected, lost */
	uint64_t fails[FAIL_COUNT];
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* splitmix64: the client's own generator; session i depends on seed and i. */
static uint64_t rnd_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static double rnd_unit(uint64_t *s)
{
	return (double)(rnd_next(s) >> 11) / 9007199254740992.0;
}

static uint32_t rnd_below(uint64_t *s, uint32_t n)
{
	return (uint32_t)(rnd_next(s) % n);
}

/* Session index's HELO name, greeting verb and recipient, as described at
 * the top. Returns the expected reason. */
static enum verdict_reason session_make(const struct options *o, uint64_t index, struct conn *c,
                                        bool *ehlo)
{
	uint64_t s = o->seed * 0x100000001b3ull + index;
	enum verdict_reason reason = VERDICT_OK;
	size_t n, nd;

	if (rnd_unit(&s) < o->bogus)
		reason = (enum verdict_reason)(VERDICT_INVALID +
		                               rnd_below(&s, VERDICT_COUNT - VERDICT_INVALID));
	const char *const *table = synth_helo_table(reason, 4, &n);
	const char *name = table[rnd_below(&s, (uint32_t)n)];
	const char *const *domains = synth_rcpt_domains(&nd);
	const char *domain = domains[rnd_below(&s, (uint32_t)nd)];

	if (reason == VERDICT_SERVER_IP) {
		/* The table's names are the synthetic server's address; this
		 * server's address in the same two forms. */
		snprintf(c->helo, sizeof(c->helo), name[0] == '[' ? "[%s]" : "%s", o->server_text);
	} else {
		snprintf(c->helo, sizeof(c->helo), "%s", name);
	}
	if (reason == VERDICT_MATCHES_RCPT && strcmp(name, o->local_domain) != 0)
		domain = name;
	snprintf(c->rcpt, sizeof(c->rcpt), "user%u@%s", rnd_below(&s, 100000), domain);
	*ehlo = rnd_unit(&s) < o->ehlo;
	return reason;
}

/* Format one command line and write it whole; -1 if it could not be. */
static int send_line(struct conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int send_line(struct conn *c, const char *fmt, ...)
{
	char line[400];
	va_list ap;

	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);

	if (n < 0 || (size_t)n >= sizeof(line))
		return -1;
	return write(c->fd, line, (size_t)n) == n ? 0 : -1;
}

/* Start session index in c; false (and a counted failure) if the socket
 * cannot even be opened. */
static bool conn_start(const struct options *o, int ep, struct conn *c, uint64_t index,
                       struct tally *t)
{
	c->reason = session_make(o, index, c, &c->ehlo);
	c->judged = false;
	c->len = 0;
	c->step = STEP_CONNECT;
	c->deadline = now() + o->timeout;
	t->started++;
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
	if (c->fd < 0)
		goto fail;
	int one = 1;
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(c->fd, (const struct sockaddr *)&o->server, sizeof(o->server)) != 0 &&
	    errno != EINPROGRESS)
		goto fail;
	struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP, .data.ptr = c};
	if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) != 0)
		goto fail;
	return true;
fail:
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	t->fails[FAIL_CONNECT]++;
	t->by_reason[c->reason][2]++;
	return false;
}

static void conn_end(struct conn *c, struct tally *t, int fail)
{
	if (fail >= 0) {
		t->fails[fail]++;
		if (!c->judged)
			t->by_reason[c->reason][2]++;
	}
	close(c->fd); /* also takes it out of the epoll set */
	c->fd = -1;
}

static void mismatch_count(struct tally *t, const char *helo, int code)
{
	for (int i = 0; i < MISMATCH_NAMES; i++) {
		struct mismatch *m = &t->mism[i];
		if (m->count == 0) {
			snprintf(m->helo, sizeof(m->helo), "%s", helo);
			m->code = code;
		} else if (m->code != code || strncmp(m->helo, helo, sizeof(m->helo) - 1) != 0) {
			continue;
		}
		m->count++;
		return;
	}
}

/* One complete reply (its last line's code) arrived: the next command.
 * Returns -1 to go on, a fail value, or FAIL_COUNT when done. */
static int conn_reply(struct conn *c, int code, struct tally *t)
{
	switch (c->step) {
	case STEP_BANNER:
		if (code != 220)
			return FAIL_BANNER;
		c->step = STEP_GREET;
		/* An empty name is sent as the bare verb (helogate's 'invalid'). */
		return send_line(c, "%s%s%s\r\n", c->ehlo ? "EHLO" : "HELO", c->helo[0] ? " " : "",
		                 c->helo)
		           ? FAIL_CLOSED
		           : -1;
	case STEP_GREET:
		/* Whatever the greeting's reply (a 501 for an invalid name
		 * included): the verdict is read at RCPT. */
		c->step = STEP_MAIL;
		return send_line(c, "MAIL FROM:<%s>\r\n", "load@example.net") ? FAIL_CLOSED : -1;
	case STEP_MAIL:
		c->step = STEP_RCPT;
		return send_line(c, "RCPT TO:<%s>\r\n", c->rcpt) ? FAIL_CLOSED : -1;
	case STEP_RCPT:
		c->judged = true;
		t->judged++;
		if (code >= 200 && code < 300) {
			t->accepted++;
			t->by_reason[c->reason][0]++;
			if (c->reason != VERDICT_OK)
				mismatch_count(t, c->helo, code);
		} else if (code >= 500 && code < 600) {
			t->rejected++;
			t->by_reason[c->reason][1]++;
			if (c->reason == VERDICT_OK)
				mismatch_count(t, c->helo, code);
		} else {
			t->other_code++;
			t->by_reason[c->reason][2]++;
		}
		c->step = STEP_QUIT;
		return send_line(c, "QUIT\r\n") ? FAIL_COUNT : -1;
	case STEP_QUIT:
		return FAIL_COUNT;
	default:
		return FAIL_PROTO;
	}
}

/* Read what is there; feed complete replies. Same return as conn_reply. */
static int conn_read(struct conn *c, struct tally *t)
{
	for (;;) {
		ssize_t n = read(c->fd, c->buf + c->len, sizeof(c->buf) - 1 - c->len);
		if (n == 0)
			return c->step == STEP_QUIT ? FAIL_COUNT : FAIL_CLOSED;
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return -1;
			if (errno == EINTR)
				continue;
			return c->step == STEP_QUIT ? FAIL_COUNT : FAIL_CLOSED;
		}
		c->len += (uint32_t)n;
		for (;;) {
			char *nl = memchr(c->buf, '\n', c->len);
			if (!nl) {
				if (c->len >= sizeof(c->buf) - 1)
					return FAIL_PROTO;
				break;
			}
			size_t llen = (size_t)(nl - c->buf) + 1;
			bool last = llen < 5 || c->buf[3] != '-';
			int code = -1;
			if (llen >= 4 && c->buf[0] >= '1' && c->buf[0] <= '5' && c->buf[1] >= '0' &&
			    c->buf[1] <= '9' && c->buf[2] >= '0' && c->buf[2] <= '9')
				code = (c->buf[0] - '0') * 100 + (c->buf[1] - '0') * 10 +
				       (c->buf[2] - '0');
			memmove(c->buf, nl + 1, c->len - llen);
			c->len -= (uint32_t)llen;
			if (code < 0)
				return FAIL_PROTO;
			if (last) {
				int r = conn_reply(c, code, t);
				if (r >= 0)
					return r;
			}
		}
	}
}

static void conn_event(int ep, struct conn *c, uint32_t events, struct tally *t)
{
	int r = -1;

	if (c->step == STEP_CONNECT) {
		int err = 0;
		socklen_t len = sizeof(err);
		getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
		if (err != 0 || (events & (EPOLLERR | EPOLLHUP))) {
			conn_end(c, t, FAIL_CONNECT);
			return;
		}
		if (!(events & EPOLLOUT) && !(events & EPOLLIN))
			return;
		struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = c};
		epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
		c->step = STEP_BANNER;
	}
	if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
		r = conn_read(c, t);
	if (r == FAIL_COUNT)
		conn_end(c, t, -1);
	else if (r >= 0)
		conn_end(c, t, c->judged ? -1 : r);
}

static void usage(FILE *f)
{
	fputs(
	    "usage: helogate-smtp-load --server IPV4 [--port N] [--concurrency K] [--sessions N]\n"
	    "         [--seconds S] [--timeout S] [--bogus R] [--ehlo R] [--seed N]\n"
	    "         [--local-domain D] [--label TEXT] [--json FILE]\n"
	    "  --concurrency K  sessions in flight at once (default 64)\n"
	    "  --sessions N     most sessions started (default 20000)\n"
	    "  --seconds S      no new session after S seconds (default 20)\n"
	    "  --timeout S      one session's limit (default 10)\n"
	    "  --bogus R        share of bogus HELOs (default 0.3, as smtp-commands)\n"
	    "  --ehlo R         share of sessions greeting with EHLO (default 0.9)\n"
	    "  --local-domain D the server's local domain (default lab-mail.net)\n"
	    "  --json FILE      append one JSON line with the result\n",
	    f);
}

static int parse_options(int argc, char **argv, struct options *o)
{
	static const struct option longs[] = {
	    {"server", required_argument, NULL, 'S'},
	    {"port", required_argument, NULL, 'p'},
	    {"concurrency", required_argument, NULL, 'k'},
	    {"sessions", required_argument, NULL, 'n'},
	    {"seconds", required_argument, NULL, 's'},
	    {"timeout", required_argument, NULL, 't'},
	    {"bogus", required_argument, NULL, 'b'},
	    {"ehlo", required_argument, NULL, 'e'},
	    {"seed", required_argument, NULL, 'r'},
	    {"local-domain", required_argument, NULL, 'd'},
	    {"label", required_argument, NULL, 'l'},
	    {"json", required_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	long port = 25;
	int opt;

	memset(o, 0, sizeof(*o));
	o->concurrency = 64;
	o->sessions = 20000;
	o->seconds = 20;
	o->timeout = 10;
	o->bogus = 0.3;
	o->ehlo = 0.9;
	o->seed = 1;
	o->local_domain = SYNTH_LAB_LOCAL_DOMAIN;
	o->label = "server";
	while ((opt = getopt_long(argc, argv, "", longs, NULL)) != -1) {
		switch (opt) {
		case 'S':
			o->server_text = optarg;
			break;
		case 'p':
			port = strtol(optarg, NULL, 10);
			break;
		case 'k':
			o->concurrency = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		case 'n':
			o->sessions = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		case 's':
			o->seconds = strtod(optarg, NULL);
			break;
		case 't':
			o->timeout = strtod(optarg, NULL);
			break;
		case 'b':
			o->bogus = strtod(optarg, NULL);
			break;
		case 'e':
			o->ehlo = strtod(optarg, NULL);
			break;
		case 'r':
			o->seed = strtoull(optarg, NULL, 10);
			break;
		case 'd':
			o->local_domain = optarg;
			break;
		case 'l':
			o->label = optarg;
			break;
		case 'j':
			o->json = optarg;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -1;
		}
	}
	o->server.sin_family = AF_INET;
	o->server.sin_port = htons((uint16_t)port);
	if (!o->server_text || inet_pton(AF_INET, o->server_text, &o->server.sin_addr) != 1) {
		fprintf(stderr, "helogate-smtp-load: --server needs an IPv4 address\n");
		return -1;
	}
	if (port < 1 || port > 65535 || o->concurrency < 1 || o->concurrency > MAX_CONCURRENCY ||
	    o->sessions < 1 || !(o->seconds > 0) || !(o->timeout > 0) || !(o->bogus >= 0) ||
	    o->bogus > 1 || !(o->ehlo >= 0) || o->ehlo > 1) {
		fprintf(stderr, "helogate-smtp-load: an option is out of range (--help)\n");
		return -1;
	}
	return 0;
}

static double cpu_seconds(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec +
	       ru.ru_stime.tv_usec / 1e6;
}

static void report(const struct options *o, const struct tally *t, double wall, double cpu)
{
	uint64_t bogus_sent = 0, bogus_accepted = 0, good_rejected = 0, lost = 0;
	double rate = wall > 0 ? t->judged / wall : 0;

	for (int r = 0; r < VERDICT_COUNT; r++) {
		lost += t->by_reason[r][2];
		if (r == VERDICT_OK) {
			good_rejected += t->by_reason[r][1];
			continue;
		}
		bogus_sent += t->by_reason[r][0] + t->by_reason[r][1] + t->by_reason[r][2];
		bogus_accepted += t->by_reason[r][0];
	}
	printf("%s: %" PRIu64 " sessions judged in %.2f s = %.0f/s (K=%u); RCPT accepted %" PRIu64
	       ", rejected %" PRIu64 ", other %" PRIu64 "; lost %" PRIu64 " (",
	       o->label, t->judged, wall, rate, o->concurrency, t->accepted, t->rejected,
	       t->other_code, lost);
	for (int f = 0; f < FAIL_COUNT; f++)
		printf("%s%s %" PRIu64, f ? ", " : "", fail_names[f], t->fails[f]);
	printf("); client CPU %.2f s (%.0f%% of one core)\n", cpu, wall > 0 ? 100 * cpu / wall : 0);
	printf("  %-13s %9s %9s %9s\n", "expected", "accepted", "rejected", "lost");
	for (int r = 0; r < VERDICT_COUNT; r++) {
		if (r == VERDICT_ALLOWED)
			continue;
		printf("  %-13s %9" PRIu64 " %9" PRIu64 " %9" PRIu64 "\n",
		       verdict_reason_name((enum verdict_reason)r), t->by_reason[r][0],
		       t->by_reason[r][1], t->by_reason[r][2]);
	}
	printf("  mismatches: %" PRIu64 " bogus accepted (of %" PRIu64 " bogus), %" PRIu64
	       " good rejected\n",
	       bogus_accepted, bogus_sent, good_rejected);
	for (int i = 0; i < MISMATCH_NAMES && t->mism[i].count; i++)
		printf("    HELO \"%s\": %d to RCPT, %" PRIu64 " times\n", t->mism[i].helo,
		       t->mism[i].code, t->mism[i].count);
	if (!o->json)
		return;
	FILE *f = fopen(o->json, "a");
	if (!f) {
		fprintf(stderr, "helogate-smtp-load: %s: %s\n", o->json, strerror(errno));
		return;
	}
	fprintf(f,
	        "{\"label\":\"%s\",\"server\":\"%s:%u\",\"concurrency\":%u,\"seconds\":%.3f,"
	        "\"started\":%" PRIu64 ",\"judged\":%" PRIu64 ",\"judged_per_s\":%.1f,"
	        "\"accepted\":%" PRIu64 ",\"rejected\":%" PRIu64 ",\"other_code\":%" PRIu64
	        ",\"lost\":%" PRIu64 ",\"bogus_accepted\":%" PRIu64 ",\"good_rejected\":%" PRIu64
	        ",\"client_cpu_s\":%.3f,\"by_reason\":{",
	        o->label, o->server_text, ntohs(o->server.sin_port), o->concurrency, wall,
	        t->started, t->judged, rate, t->accepted, t->rejected, t->other_code, lost,
	        bogus_accepted, good_rejected, cpu);
	for (int r = 0, first = 1; r < VERDICT_COUNT; r++) {
		if (r == VERDICT_ALLOWED)
			continue;
		fprintf(f, "%s\"%s\":[%" PRIu64 ",%" PRIu64 ",%" PRIu64 "]", first ? "" : ",",
		        verdict_reason_name((enum verdict_reason)r), t->by_reason[r][0],
		        t->by_reason[r][1], t->by_reason[r][2]);
		first = 0;
	}
	fprintf(f, "},\"fails\":{");
	for (int i = 0; i < FAIL_COUNT; i++)
		fprintf(f, "%s\"%s\":%" PRIu64, i ? "," : "", fail_names[i], t->fails[i]);
	fprintf(f, "}}\n");
	fclose(f);
}

int main(int argc, char **argv)
{
	struct options o;
	struct tally t;

	if (parse_options(argc, argv, &o) != 0)
		return 2;
	memset(&t, 0, sizeof(t));
	struct conn *conns = calloc(o.concurrency, sizeof(*conns));
	struct epoll_event *evs = calloc(o.concurrency, sizeof(*evs));
	int ep = epoll_create1(EPOLL_CLOEXEC);
	if (!conns || !evs || ep < 0) {
		fprintf(stderr, "helogate-smtp-load: out of memory or epoll: %s\n",
		        strerror(errno));
		return 1;
	}
	double start = now(), stop_new = start + o.seconds, last_scan = start;
	double cpu0 = cpu_seconds();
	uint64_t next = 0;
	uint32_t active = 0;

	for (uint32_t i = 0; i < o.concurrency; i++)
		conns[i].fd = -1;
	for (;;) {
		double t_now = now();
		bool may_start = next < o.sessions && t_now < stop_new;
		for (uint32_t i = 0; i < o.concurrency && may_start; i++) {
			if (conns[i].fd >= 0)
				continue;
			if (next >= o.sessions)
				break;
			if (conn_start(&o, ep, &conns[i], next++, &t))
				active++;
		}
		if (active == 0 && !(next < o.sessions && now() < stop_new))
			break;
		int n = epoll_wait(ep, evs, (int)o.concurrency, 50);
		for (int i = 0; i < n; i++) {
			struct conn *c = evs[i].data.ptr;
			conn_event(ep, c, evs[i].events, &t);
			if (c->fd < 0)
				active--;
		}
		t_now = now();
		if (t_now - last_scan >= 0.1) {
			last_scan = t_now;
			for (uint32_t i = 0; i < o.concurrency; i++) {
				struct conn *c = &conns[i];
				if (c->fd >= 0 && t_now > c->deadline) {
					conn_end(c, &t, c->judged ? -1 : FAIL_TIMEOUT);
					active--;
				}
			}
		}
	}
	double wall = now() - start;
	report(&o, &t, wall, cpu_seconds() - cpu0);
	close(ep);
	free(conns);
	free(evs);
	return t.judged > 0 ? 0 : 1;
}
