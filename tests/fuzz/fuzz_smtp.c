/*
 * libFuzzer target for lib/smtp: arbitrary bytes in both directions, cut
 * where the fuzzer says.
 *
 * Input: 8 bytes of initial sequence numbers (client, server), then chunks:
 * a header byte (bit 0: 0 client, 1 server; bits 1-7: length 0..127) and
 * up to that many bytes. The same conversation is fed twice: as cut by the
 * input, and with every client chunk cut into single bytes. Both runs must
 * report the same commands, replies and final state (the parse must not
 * depend on segmentation), and the invariants of smtp.h must hold: at most
 * one block, none after release, arguments inside their line, lines within
 * the bound, the pending queue bounded.
 *
 * The harness acts as the worker does on SMTP_STATUS_HOLD: the bytes from
 * the hold point are kept (the client retransmits what was dropped) and fed
 * again, from exactly the hold point, after every later server chunk and
 * before every later client chunk. A hold point must lie inside the bytes
 * fed, and a feed that reaches it before the reply must
 * consume nothing: a retry is at most one feed, so HOLD can never loop.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tcp/block_pool.h"
#include "smtp/scan.h"
#include "smtp/smtp.h"

static struct block_pool *pool;
static struct scan_commands *commands;
static hs_scratch_t *scratch;
static struct smtp_env env;

struct trace {
	uint64_t hash;
	uint32_t commands;
	uint32_t replies;
};

static void mix(struct trace *t, const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++)
		t->hash = (t->hash ^ b[i]) * 0x100000001b3ull;
}

static enum smtp_action on_command(void *arg, const struct smtp_command *cmd)
{
	struct trace *t = arg;

	/* A line longer than the bound is cut to it; any CRs before the LF go. */
	if (cmd->line_len > env.line_max || cmd->arg < cmd->line ||
	    cmd->arg + cmd->arg_len != cmd->line + cmd->line_len ||
	    (unsigned)cmd->verb >= SMTP_VERB_COUNT || cmd->end_seq - cmd->seq < cmd->line_len + 1 ||
	    cmd->end_seq - cmd->seq > (1u << 20))
		abort();
	mix(t, &cmd->verb, sizeof(cmd->verb));
	mix(t, &cmd->shadow, sizeof(cmd->shadow));
	mix(t, &cmd->seq, sizeof(cmd->seq));
	mix(t, &cmd->end_seq, sizeof(cmd->end_seq));
	mix(t, cmd->line, cmd->line_len);
	mix(t, &cmd->arg_len, sizeof(cmd->arg_len));
	t->commands++;
	/* Stop now and then, deterministically, to exercise SMTP_STOP. */
	return cmd->line_len == 13 ? SMTP_STOP : SMTP_CONTINUE;
}

static void on_reply(void *arg, const struct smtp_reply *reply)
{
	struct trace *t = arg;

	if ((unsigned)reply->verb >= SMTP_VERB_COUNT || reply->code > 999)
		abort();
	mix(t, &reply->verb, sizeof(reply->verb));
	mix(t, &reply->code, sizeof(reply->code));
	mix(t, &reply->end_seq, sizeof(reply->end_seq));
	t->replies++;
}

static const struct smtp_handler handler = {.on_command = on_command, .on_reply = on_reply};

static void check(const struct smtp_session *s)
{
	if (block_pool_in_use(pool) > 1 || smtp_pending_replies(s) > SMTP_PIPELINE_MAX)
		abort();
	if (smtp_session_state(s) >= SMTP_STATE_STOPPED && block_pool_in_use(pool) != 0)
		abort();
}

/* The client bytes the tracker has not consumed yet: from the hold point. */
struct held {
	uint8_t buf[1 << 16];
	uint32_t len;
	uint32_t seq; /* of buf[0] */
};

/* Feed the held bytes from their start (at once, or byte by byte) and keep
 * what the tracker did not consume. */
static void feed_held(struct smtp_session *s, struct trace *t, struct held *h, int bytewise)
{
	uint32_t done = 0;

	while (done < h->len) {
		uint32_t n = bytewise ? 1 : h->len - done;
		enum smtp_status st =
		    smtp_feed_client(s, &env, &handler, t, h->seq + done, h->buf + done, n);
		if (st == SMTP_STATUS_HOLD) {
			uint32_t at = smtp_session_hold_seq(s) - h->seq;
			if (at < done || at > done + n)
				abort();
			/* Fed again from the hold point before any reply: nothing moves. */
			if (at < h->len &&
			    (smtp_feed_client(s, &env, &handler, t, h->seq + at, h->buf + at,
			                      h->len - at) != SMTP_STATUS_HOLD ||
			     smtp_session_hold_seq(s) != h->seq + at))
				abort();
			done = at;
			break;
		}
		done += n;
		check(s);
		if (st != SMTP_STATUS_CONTINUE)
			done = h->len; /* stopped or passed: the rest is not the tracker's */
	}
	memmove(h->buf, h->buf + done, h->len - done);
	h->len -= done;
	h->seq += done;
}

static struct held held_a, held_b;

static struct trace run(const uint8_t *data, size_t size, int bytewise, struct held *h)
{
	struct trace t = {.hash = 0xcbf29ce484222325ull};
	struct smtp_session s;
	uint32_t sseq;

	memcpy(&h->seq, data, 4);
	memcpy(&sseq, data + 4, 4);
	h->len = 0;
	smtp_session_init(&s);
	size_t i = 8;
	while (i < size) {
		uint8_t hdr = data[i++];
		size_t n = hdr >> 1;
		if (n > size - i)
			n = size - i;
		if (hdr & 1) {
			smtp_feed_server(&s, &env, &handler, &t, sseq, data + i, (uint32_t)n);
			sseq += (uint32_t)n;
			check(&s);
			feed_held(&s, &t, h, bytewise);
		} else if (h->len + n <= sizeof(h->buf)) {
			memcpy(h->buf + h->len, data + i, n);
			h->len += (uint32_t)n;
			feed_held(&s, &t, h, bytewise);
		}
		check(&s);
		i += n;
	}
	uint8_t end[4] = {(uint8_t)smtp_session_state(&s), (uint8_t)smtp_session_status(&s),
	                  (uint8_t)smtp_session_stop_reason(&s), (uint8_t)smtp_pending_replies(&s)};
	mix(&t, end, sizeof(end));
	mix(&t, &h->len, sizeof(h->len));
	smtp_session_release(&s, pool);
	if (block_pool_in_use(pool) != 0)
		abort();
	return t;
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char err[256];

	(void)argc;
	(void)argv;
	pool = block_pool_create(2048, 4);
	commands = scan_commands_compile(err, sizeof(err));
	if (pool == NULL || commands == NULL) {
		fprintf(stderr, "fuzz_smtp: %s\n", commands == NULL ? err : "no pool");
		abort();
	}
	scratch = scan_scratch_alloc(commands, err, sizeof(err));
	/* The smallest bound RFC 5321 allows, so long lines are reached quickly. */
	if (scratch == NULL || smtp_env_init(&env, pool, commands, scratch, SMTP_LINE_MAX_MIN, err,
	                                     sizeof(err)) != 0) {
		fprintf(stderr, "fuzz_smtp: %s\n", err);
		abort();
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 8)
		return 0;
	struct trace a = run(data, size, 0, &held_a);
	struct trace b = run(data, size, 1, &held_b);
	if (a.hash != b.hash || a.commands != b.commands || a.replies != b.replies) {
		fprintf(
		    stderr,
		    "fuzz_smtp: segmentation changed the parse: %u/%u commands, %u/%u replies\n",
		    a.commands, b.commands, a.replies, b.replies);
		abort();
	}
	return 0;
}
