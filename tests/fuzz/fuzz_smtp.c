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

	if (cmd->line_len > env.line_max || cmd->arg < cmd->line ||
	    cmd->arg + cmd->arg_len != cmd->line + cmd->line_len ||
	    (unsigned)cmd->verb >= SMTP_VERB_COUNT || cmd->end_seq - cmd->seq < cmd->line_len + 1 ||
	    cmd->end_seq - cmd->seq > cmd->line_len + 2)
		abort();
	mix(t, &cmd->verb, sizeof(cmd->verb));
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

static struct trace run(const uint8_t *data, size_t size, int bytewise)
{
	struct trace t = {.hash = 0xcbf29ce484222325ull};
	struct smtp_session s;
	uint32_t cseq, sseq;

	memcpy(&cseq, data, 4);
	memcpy(&sseq, data + 4, 4);
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
		} else if (!bytewise) {
			smtp_feed_client(&s, &env, &handler, &t, cseq, data + i, (uint32_t)n);
			cseq += (uint32_t)n;
		} else {
			for (size_t k = 0; k < n; k++) {
				smtp_feed_client(&s, &env, &handler, &t, cseq, data + i + k, 1);
				cseq++;
				check(&s);
			}
		}
		check(&s);
		i += n;
	}
	uint8_t end[4] = {(uint8_t)smtp_session_state(&s), (uint8_t)smtp_session_status(&s),
	                  (uint8_t)smtp_session_stop_reason(&s), (uint8_t)smtp_pending_replies(&s)};
	mix(&t, end, sizeof(end));
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
	struct trace a = run(data, size, 0);
	struct trace b = run(data, size, 1);
	if (a.hash != b.hash || a.commands != b.commands || a.replies != b.replies) {
		fprintf(
		    stderr,
		    "fuzz_smtp: segmentation changed the parse: %u/%u commands, %u/%u replies\n",
		    a.commands, b.commands, a.replies, b.replies);
		abort();
	}
	return 0;
}
