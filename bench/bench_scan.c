/*
 * helogate-bench-scan: Hyperscan block mode on complete command lines
 * versus stream mode over the client byte stream, and the whole SMTP
 * tracker, on a synthetic but realistic client stream (pipelined commands,
 * DATA bodies of text and base64, BDAT-free), cut like TCP segments.
 *
 *   helogate-bench-scan [SESSIONS [REPS]]     (defaults 400 and 7)
 *
 * Prints one table; each figure is the best of REPS runs, in TSC cycles on
 * x86 (rdtsc), nanoseconds elsewhere. The decision it backs is in
 * docs/design.md.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hs.h>

#include "tcp/block_pool.h"
#include "smtp/scan.h"
#include "smtp/smtp.h"

#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#define UNIT "cycles"
static inline uint64_t now(void)
{
	return __rdtsc();
}
#else
#define UNIT "ns"
static inline uint64_t now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
#endif

#define SEGMENT 1448 /* TCP payload of a 1500-byte MTU with timestamps */

/* ---- the synthetic conversation ---- */

struct seg {
	uint8_t server; /* 1: server to client */
	uint8_t body;   /* 1: message content (DATA body) */
	uint32_t off;   /* in the direction's buffer */
	uint32_t len;
	uint32_t session;
};

struct line {
	uint32_t off;
	uint32_t len; /* without CRLF */
};

struct buf {
	uint8_t *p;
	size_t len, cap;
};

struct convo {
	struct buf client, server;
	struct seg *segs;
	size_t nsegs, capsegs;
	struct line *lines; /* every command line of the client stream */
	size_t nlines, caplines;
	uint32_t sessions;
	size_t body_bytes;
};

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint32_t rnd(uint32_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)((rng >> 11) % n);
}

static void *grow(void *p, size_t *cap, size_t need, size_t elem)
{
	if (need <= *cap)
		return p;
	size_t cap2 = *cap ? *cap : 64;
	while (cap2 < need)
		cap2 *= 2;
	p = realloc(p, cap2 * elem);
	if (p == NULL) {
		fprintf(stderr, "out of memory\n");
		exit(1);
	}
	*cap = cap2;
	return p;
}

static void put(struct buf *b, const void *p, size_t n)
{
	b->p = grow(b->p, &b->cap, b->len + n, 1);
	memcpy(b->p + b->len, p, n);
	b->len += n;
}

static void putf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(struct buf *b, const char *fmt, ...)
{
	char tmp[512];
	va_list ap;

	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	put(b, tmp, (size_t)n);
}

static void add_seg(struct convo *c, int server, int body, size_t off, size_t len, uint32_t s)
{
	c->segs = grow(c->segs, &c->capsegs, c->nsegs + 1, sizeof(*c->segs));
	c->segs[c->nsegs++] = (struct seg){.server = (uint8_t)server,
	                                   .body = (uint8_t)body,
	                                   .off = (uint32_t)off,
	                                   .len = (uint32_t)len,
	                                   .session = s};
}

/* Client command lines, sent as one segment (pipelined), noted line by line. */
static void client_cmds(struct convo *c, uint32_t s, const char *text)
{
	size_t start = c->client.len;

	put(&c->client, text, strlen(text));
	for (size_t i = start; i < c->client.len;) {
		uint8_t *lf = memchr(c->client.p + i, '\n', c->client.len - i);
		size_t end = (size_t)(lf - c->client.p);
		c->lines = grow(c->lines, &c->caplines, c->nlines + 1, sizeof(*c->lines));
		c->lines[c->nlines++] = (struct line){(uint32_t)i, (uint32_t)(end - i - 1)};
		i = end + 1;
	}
	add_seg(c, 0, 0, start, c->client.len - start, s);
}

static void server_reply(struct convo *c, uint32_t s, const char *text)
{
	size_t start = c->server.len;

	put(&c->server, text, strlen(text));
	add_seg(c, 1, 0, start, c->server.len - start, s);
}

static const char *const words[] = {
    "the",     "meeting",  "is",       "moved", "to",      "Thursday", "please",
    "find",    "attached", "report",   "for",   "Q3",      "numbers",  "and",
    "let",     "me",       "know",     "if",    "you",     "have",     "questions",
    "regards", "invoice",  "shipment", "order", "account", "update",   "www.example.com",
    "v2.1",
};

static void body_text(struct buf *b, size_t target)
{
	size_t col = 0;
	size_t start = b->len;

	while (b->len - start < target) {
		const char *w = words[rnd(sizeof(words) / sizeof(words[0]))];
		size_t n = strlen(w);
		if (col + n + 2 > 72) {
			put(b, "\r\n", 2);
			col = 0;
		}
		put(b, w, n);
		col += n;
		if (rnd(9) == 0) {
			put(b, ".", 1);
			col++;
		}
		put(b, " ", 1);
		col++;
	}
	put(b, "\r\n", 2);
}

static void body_base64(struct buf *b, size_t target)
{
	static const char alphabet[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char line[78];

	for (size_t done = 0; done < target; done += 78) {
		for (int i = 0; i < 76; i++)
			line[i] = alphabet[rnd(64)];
		line[76] = '\r';
		line[77] = '\n';
		put(b, line, 78);
	}
}

static void build(struct convo *c, uint32_t sessions)
{
	memset(c, 0, sizeof(*c));
	c->sessions = sessions;
	for (uint32_t s = 0; s < sessions; s++) {
		char cmd[1024];
		int n;

		server_reply(c, s, "220 mx.example.net ESMTP\r\n");
		snprintf(cmd, sizeof(cmd), "EHLO host-%u.client%u.example.org\r\n", s, rnd(1000));
		client_cmds(c, s, cmd);
		server_reply(c, s,
		             "250-mx.example.net\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n"
		             "250-8BITMIME\r\n250 SMTPUTF8\r\n");
		unsigned rcpts = 1 + rnd(4);
		n = snprintf(cmd, sizeof(cmd), "MAIL FROM:<sender%u@example.org> SIZE=%u\r\n", s,
		             rnd(100000));
		for (unsigned r = 0; r < rcpts; r++)
			n += snprintf(cmd + n, sizeof(cmd) - (size_t)n,
			              "RCPT TO:<user%u@example.net>\r\n", rnd(100000));
		snprintf(cmd + n, sizeof(cmd) - (size_t)n, "DATA\r\n");
		client_cmds(c, s, cmd);
		n = snprintf(cmd, sizeof(cmd), "250 2.1.0 Ok\r\n");
		for (unsigned r = 0; r < rcpts; r++)
			n += snprintf(cmd + n, sizeof(cmd) - (size_t)n, "250 2.1.5 Ok\r\n");
		snprintf(cmd + n, sizeof(cmd) - (size_t)n,
		         "354 End data with <CR><LF>.<CR><LF>\r\n");
		server_reply(c, s, cmd);

		/* The message: headers, text, sometimes a base64 attachment. */
		struct buf body = {0};
		putf(&body, "From: Sender <sender%u@example.org>\r\nTo: <user@example.net>\r\n", s);
		putf(&body, "Subject: report %u\r\nDate: Mon, 2 Oct 2023 10:00:00 +0000\r\n", s);
		putf(&body, "Message-ID: <%u.%u@example.org>\r\nMIME-Version: 1.0\r\n", s,
		     rnd(1u << 30));
		putf(&body, "Content-Type: text/plain; charset=utf-8\r\n\r\n");
		body_text(&body, 1000 + rnd(6000));
		if (rnd(10) < 3)
			body_base64(&body, 4000 + rnd(40000));
		put(&body, ".\r\n", 3);
		size_t start = c->client.len;
		put(&c->client, body.p, body.len);
		for (size_t off = 0; off < body.len; off += SEGMENT) {
			size_t len = body.len - off < SEGMENT ? body.len - off : SEGMENT;
			add_seg(c, 0, 1, start + off, len, s);
		}
		c->body_bytes += body.len;
		free(body.p);
		server_reply(c, s, "250 2.0.0 Ok: queued as ABC123\r\n");
		client_cmds(c, s, "QUIT\r\n");
		server_reply(c, s, "221 2.0.0 Bye\r\n");
	}
}

/* ---- measurements ---- */

static hs_database_t *compile_commands(unsigned mode, unsigned extra_flags, const char *fmt)
{
	char exprs[SMTP_VERB_COUNT][32];
	const char *ptrs[SMTP_VERB_COUNT];
	unsigned flags[SMTP_VERB_COUNT], ids[SMTP_VERB_COUNT];
	unsigned n = 0;
	hs_database_t *db = NULL;
	hs_compile_error_t *err = NULL;

	for (unsigned v = 0; v < SMTP_VERB_COUNT; v++) {
		const char *kw = smtp_verb_keyword((enum smtp_verb)v);
		if (kw == NULL)
			continue;
		snprintf(exprs[n], sizeof(exprs[n]), fmt, kw);
		ptrs[n] = exprs[n];
		flags[n] = HS_FLAG_CASELESS | extra_flags;
		ids[n] = v;
		n++;
	}
	if (hs_compile_multi(ptrs, flags, ids, n, mode, NULL, &db, &err) != HS_SUCCESS) {
		fprintf(stderr, "hyperscan: %s\n", err->message);
		exit(1);
	}
	return db;
}

static int count_match(unsigned int id, unsigned long long from, unsigned long long to,
                       unsigned int flags, void *ctx)
{
	(void)id;
	(void)from;
	(void)to;
	(void)flags;
	++*(unsigned long *)ctx;
	return 0;
}

static void check_hs(hs_error_t rc, const char *what)
{
	if (rc != HS_SUCCESS) {
		fprintf(stderr, "hyperscan: %s failed (%d)\n", what, rc);
		exit(1);
	}
}

static unsigned reps = 7;

#define BEST_OF(result, body)                                                                      \
	do {                                                                                       \
		uint64_t best_ = UINT64_MAX;                                                       \
		for (unsigned r_ = 0; r_ < reps; r_++) {                                           \
			uint64_t t0_ = now();                                                      \
			body;                                                                      \
			uint64_t t_ = now() - t0_;                                                 \
			if (t_ < best_)                                                            \
				best_ = t_;                                                        \
		}                                                                                  \
		(result) = best_;                                                                  \
	} while (0)

static unsigned long sink;

struct tracker_ctx {
	unsigned long commands, replies;
};

static enum smtp_action on_command(void *arg, const struct smtp_command *cmd)
{
	struct tracker_ctx *t = arg;
	t->commands++;
	sink += cmd->arg_len;
	return SMTP_CONTINUE;
}

static void on_reply(void *arg, const struct smtp_reply *reply)
{
	struct tracker_ctx *t = arg;
	t->replies++;
	sink += reply->code;
}

int main(int argc, char **argv)
{
	uint32_t sessions = argc > 1 ? (uint32_t)strtoul(argv[1], NULL, 10) : 400;
	char err[256];
	struct convo c;

	if (argc > 2)
		reps = (unsigned)strtoul(argv[2], NULL, 10);
	if (sessions == 0 || reps == 0) {
		fprintf(stderr, "usage: helogate-bench-scan [SESSIONS [REPS]]\n");
		return 2;
	}
	build(&c, sessions);

	size_t cmd_bytes = 0;
	for (size_t i = 0; i < c.nsegs; i++)
		if (!c.segs[i].server && !c.segs[i].body)
			cmd_bytes += c.segs[i].len;

	struct scan_commands *commands = scan_commands_compile(err, sizeof(err));
	if (commands == NULL) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	hs_scratch_t *scratch = scan_scratch_alloc(commands, err, sizeof(err));
	if (scratch == NULL) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	hs_database_t *block_db =
	    compile_commands(HS_MODE_BLOCK, HS_FLAG_SINGLEMATCH, SCAN_COMMAND_PATTERN_FMT);
	/* Stream mode must find verbs at every line start: ^ after any LF. */
	hs_database_t *stream_db =
	    compile_commands(HS_MODE_STREAM, HS_FLAG_MULTILINE, "^%s([ \\t\\r]|$)");
	hs_scratch_t *sscratch = NULL;
	check_hs(hs_alloc_scratch(block_db, &scratch), "hs_alloc_scratch");
	check_hs(hs_alloc_scratch(stream_db, &sscratch), "hs_alloc_scratch");
	size_t stream_state = 0;
	check_hs(hs_stream_size(stream_db, &stream_state), "hs_stream_size");

	/* Lines that are not commands (SASL data, junk, short lines): the prefilter's case. */
	static const char *const junk[] = {
	    "dXNlcm5hbWU=", "*",     "",   "GET / HTTP/1.1", "Host: example",
	    "\x16\x03\x01", "12345", "..."};
	const size_t njunk = sizeof(junk) / sizeof(junk[0]);

	uint64_t t_block_hs, t_block_verb, t_junk_hs, t_junk_verb, t_stream_all, t_stream_cmd,
	    t_tracker, t_body;
	unsigned long matches = 0;

	BEST_OF(t_block_hs, {
		for (size_t i = 0; i < c.nlines; i++)
			check_hs(hs_scan(block_db, (const char *)c.client.p + c.lines[i].off,
			                 c.lines[i].len, 0, scratch, count_match, &matches),
			         "hs_scan");
	});
	BEST_OF(t_block_verb, {
		for (size_t i = 0; i < c.nlines; i++)
			sink += scan_command_verb(commands, scratch, c.client.p + c.lines[i].off,
			                          c.lines[i].len);
	});
	const size_t junk_rounds = c.nlines / njunk + 1;
	BEST_OF(t_junk_hs, {
		for (size_t k = 0; k < junk_rounds; k++)
			for (size_t i = 0; i < njunk; i++)
				check_hs(hs_scan(block_db, junk[i], (unsigned)strlen(junk[i]), 0,
				                 scratch, count_match, &matches),
				         "hs_scan");
	});
	BEST_OF(t_junk_verb, {
		for (size_t k = 0; k < junk_rounds; k++)
			for (size_t i = 0; i < njunk; i++)
				sink +=
				    scan_command_verb(commands, scratch, (const uint8_t *)junk[i],
				                      (uint32_t)strlen(junk[i]));
	});

	hs_stream_t **streams = calloc(sessions, sizeof(*streams));
	BEST_OF(t_stream_all, {
		for (size_t i = 0; i < c.nsegs; i++) {
			const struct seg *g = &c.segs[i];
			if (g->server)
				continue;
			if (streams[g->session] == NULL)
				check_hs(hs_open_stream(stream_db, 0, &streams[g->session]),
				         "hs_open_stream");
			check_hs(hs_scan_stream(streams[g->session],
			                        (const char *)c.client.p + g->off, g->len, 0,
			                        sscratch, count_match, &matches),
			         "hs_scan_stream");
		}
		for (uint32_t s = 0; s < sessions; s++) {
			check_hs(hs_close_stream(streams[s], sscratch, count_match, &matches),
			         "hs_close_stream");
			streams[s] = NULL;
		}
	});
	BEST_OF(t_stream_cmd, {
		for (size_t i = 0; i < c.nsegs; i++) {
			const struct seg *g = &c.segs[i];
			if (g->server || g->body)
				continue;
			if (streams[g->session] == NULL)
				check_hs(hs_open_stream(stream_db, 0, &streams[g->session]),
				         "hs_open_stream");
			check_hs(hs_scan_stream(streams[g->session],
			                        (const char *)c.client.p + g->off, g->len, 0,
			                        sscratch, count_match, &matches),
			         "hs_scan_stream");
		}
		for (uint32_t s = 0; s < sessions; s++) {
			check_hs(hs_close_stream(streams[s], sscratch, count_match, &matches),
			         "hs_close_stream");
			streams[s] = NULL;
		}
	});

	/* The whole tracker: both directions, in conversation order. */
	struct block_pool *pool = block_pool_create(2048, 64);
	struct smtp_env env;
	if (pool == NULL ||
	    smtp_env_init(&env, pool, commands, scratch, 0, err, sizeof(err)) != 0) {
		fprintf(stderr, "smtp env: %s\n", err);
		return 1;
	}
	struct smtp_session *ss = calloc(sessions, sizeof(*ss));
	uint32_t *cseq = calloc(sessions, sizeof(*cseq));
	uint32_t *sseq = calloc(sessions, sizeof(*sseq));
	const struct smtp_handler h = {.on_command = on_command, .on_reply = on_reply};
	struct tracker_ctx tc = {0};
	unsigned long bad = 0;
	BEST_OF(t_tracker, {
		memset(&tc, 0, sizeof(tc));
		for (uint32_t s = 0; s < sessions; s++) {
			smtp_session_init(&ss[s]);
			cseq[s] = sseq[s] = s * 7919u;
		}
		for (size_t i = 0; i < c.nsegs; i++) {
			const struct seg *g = &c.segs[i];
			enum smtp_status st;
			if (g->server) {
				st =
				    smtp_feed_server(&ss[g->session], &env, &h, &tc,
				                     sseq[g->session], c.server.p + g->off, g->len);
				sseq[g->session] += g->len;
			} else {
				st =
				    smtp_feed_client(&ss[g->session], &env, &h, &tc,
				                     cseq[g->session], c.client.p + g->off, g->len);
				cseq[g->session] += g->len;
			}
			bad += st != SMTP_STATUS_CONTINUE;
		}
		for (uint32_t s = 0; s < sessions; s++)
			smtp_session_release(&ss[s], pool);
	});
	/* The tracker without bodies: each message is just its terminator. */
	uint64_t t_tracker_cmd;
	struct tracker_ctx tk = {0};
	BEST_OF(t_tracker_cmd, {
		memset(&tk, 0, sizeof(tk));
		for (uint32_t s = 0; s < sessions; s++) {
			smtp_session_init(&ss[s]);
			cseq[s] = sseq[s] = s * 7919u;
		}
		for (size_t i = 0; i < c.nsegs; i++) {
			const struct seg *g = &c.segs[i];
			enum smtp_status st;
			if (g->server) {
				st =
				    smtp_feed_server(&ss[g->session], &env, &h, &tk,
				                     sseq[g->session], c.server.p + g->off, g->len);
				sseq[g->session] += g->len;
			} else if (g->body) {
				if (c.segs[i - 1].body)
					continue;
				st =
				    smtp_feed_client(&ss[g->session], &env, &h, &tk,
				                     cseq[g->session], (const uint8_t *)".\r\n", 3);
				cseq[g->session] += 3;
			} else {
				st =
				    smtp_feed_client(&ss[g->session], &env, &h, &tk,
				                     cseq[g->session], c.client.p + g->off, g->len);
				cseq[g->session] += g->len;
			}
			bad += st != SMTP_STATUS_CONTINUE;
		}
		for (uint32_t s = 0; s < sessions; s++)
			smtp_session_release(&ss[s], pool);
	});
	if (tk.commands != c.nlines)
		bad++;

	/* Body bytes alone, in BODY state (what a DATA segment costs). */
	struct tracker_ctx tb = {0};
	BEST_OF(t_body, {
		for (size_t i = 0; i < c.nsegs; i++) {
			const struct seg *g = &c.segs[i];
			if (g->server || !g->body)
				continue;
			struct smtp_session *s = &ss[g->session];
			/* Reset to a body at the first segment of each message. */
			if (i == 0 || !c.segs[i - 1].body || c.segs[i - 1].server) {
				smtp_session_init(s);
				smtp_feed_server(s, &env, &h, &tb, 0, (const uint8_t *)"220 x\r\n",
				                 7);
				smtp_feed_client(s, &env, &h, &tb, 0, (const uint8_t *)"DATA\r\n",
				                 6);
				smtp_feed_server(s, &env, &h, &tb, 7, (const uint8_t *)"354 go\r\n",
				                 8);
			}
			bad += smtp_feed_client(s, &env, &h, &tb, 6, c.client.p + g->off, g->len) !=
			       SMTP_STATUS_CONTINUE;
		}
	});
	if (bad != 0 || tc.commands != c.nlines) {
		fprintf(stderr, "tracker disagreed: %lu bad feeds, %lu of %zu commands\n", bad,
		        tc.commands, c.nlines);
		return 1;
	}

	size_t client_bytes = c.client.len;
	printf(
	    "helogate-bench-scan: %u sessions, %zu client bytes: %zu command lines in %zu bytes, "
	    "%zu body bytes; best of %u runs, %s (Hyperscan %s)\n",
	    sessions, client_bytes, c.nlines, cmd_bytes, c.body_bytes, reps, UNIT, hs_version());
	printf("%-58s %12s %12s %10s\n", "mode", UNIT "/line", UNIT "/byte", "state/flow");
	printf("%-58s %12.1f %12s %10s\n", "block: hs_scan per command line (no prefilter)",
	       (double)t_block_hs / c.nlines, "-", "0 B");
	printf("%-58s %12.1f %12s %10s\n", "block: scan_command_verb per command line",
	       (double)t_block_verb / c.nlines, "-", "0 B");
	printf("%-58s %12.1f %12s %10s\n", "block: hs_scan per non-command line (no prefilter)",
	       (double)t_junk_hs / (junk_rounds * njunk), "-", "0 B");
	printf("%-58s %12.1f %12s %10s\n", "block: scan_command_verb per non-command line",
	       (double)t_junk_verb / (junk_rounds * njunk), "-", "0 B");
	printf("%-58s %12.1f %12.2f %8zu B\n", "stream: every client byte, bodies included",
	       (double)t_stream_all / c.nlines, (double)t_stream_all / client_bytes, stream_state);
	printf("%-58s %12.1f %12.2f %8zu B\n", "stream: command segments only (paused in bodies)",
	       (double)t_stream_cmd / c.nlines, (double)t_stream_cmd / cmd_bytes, stream_state);
	printf("%-58s %12.1f %12.2f %8zu B\n",
	       "tracker: smtp_feed_client/server, whole conversation", (double)t_tracker / c.nlines,
	       (double)t_tracker / client_bytes, sizeof(struct smtp_session));
	printf("%-58s %12s %12.2f %10s\n", "tracker: DATA body bytes alone (memchr dot scan)", "-",
	       (double)t_body / c.body_bytes, "");
	printf("%-58s %12.1f %12.2f %10s\n", "tracker: commands and replies only (bodies left out)",
	       (double)t_tracker_cmd / c.nlines, (double)t_tracker_cmd / cmd_bytes, "");
	if (sink == 42)
		printf("%lu\n", matches);

	free(ss);
	free(cseq);
	free(sseq);
	free(streams);
	block_pool_free(pool);
	hs_free_scratch(sscratch);
	scan_scratch_free(scratch);
	hs_free_database(block_db);
	hs_free_database(stream_db);
	scan_commands_free(commands);
	free(c.client.p);
	free(c.server.p);
	free(c.segs);
	free(c.lines);
	return 0;
}
