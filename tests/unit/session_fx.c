#include "session_fx.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "tcp/block_pool.h"
#include "filter/event.h"
#include "filter/inspect.h"

int fx_setup(void **state)
{
	static struct fx fx;
	char err[256];

	memset(&fx, 0, sizeof(fx));
	fx.db = scan_commands_compile(err, sizeof(err));
	fx.scratch = scan_scratch_alloc(fx.db, err, sizeof(err));
	if (fx.db == NULL || fx.scratch == NULL)
		return -1;
	takeover_texts_default(&fx.texts);
	fx.env.pool = block_pool_create(2048, 64);
	fx.env.events = event_ring_create(64);
	if (fx.env.pool == NULL || fx.env.events == NULL ||
	    smtp_env_init(&fx.env.smtp, fx.env.pool, fx.db, fx.scratch, 0, err, sizeof(err)) != 0)
		return -1;
	fx.env.counters = &fx.counters;
	fx.env.params = (struct session_params){
	    .timeout_syn_ms = 5000,
	    .timeout_idle_ms = 300000,
	    .timeout_closing_ms = 10000,
	    .takeover_wait_ms = 2000,
	    .takeover_session_ms = 300000,
	    .replies = &fx.texts,
	};
	fx.env.commands = fx.db;
	fx.env.scratch = fx.scratch;
	/* The production policy code, with every bogus reason enforced (and a
	 * twin that only detects). */
	struct policy_settings ps = {.n_readers = 1};
	for (int r = 0; r < VERDICT_COUNT; r++)
		ps.actions[r] = POLICY_ENFORCE;
	fx.enforce_policy = policy_build(&ps, err, sizeof(err));
	for (int r = 0; r < VERDICT_COUNT; r++)
		ps.actions[r] = POLICY_DETECT;
	fx.detect_policy = policy_build(&ps, err, sizeof(err));
	if (fx.enforce_policy == NULL || fx.detect_policy == NULL)
		return -1;
	fx.env.policy = fx.enforce_policy;

	static const uint8_t l2[14] = {2, 0, 0, 0, 0, 0x25, 2, 0, 0, 0, 0, 0x10, 0x08, 0x00};
	memcpy(fx.tpl.l2, l2, sizeof(l2));
	fx.tpl.l2_len = 14;
	fx.tpl.ip_version = 4;
	fx.tpl.client = (struct ip_addr){.family = 4, .bytes = {198, 18, 0, 10}};
	fx.tpl.server = (struct ip_addr){.family = 4, .bytes = {198, 18, 0, 25}};
	fx.tpl.client_port = 40000;
	fx.tpl.server_port = 25;
	fx.key.family = 4;
	memcpy(fx.key.client, fx.tpl.client.bytes, 16);
	memcpy(fx.key.server, fx.tpl.server.bytes, 16);
	fx.key.client_port = 40000;
	fx.key.server_port = 25;
	fx.now = 1000;
	*state = &fx;
	return 0;
}

int fx_teardown(void **state)
{
	struct fx *fx = *state;

	policy_free(fx->enforce_policy);
	policy_free(fx->detect_policy);
	event_ring_free(fx->env.events);
	block_pool_free(fx->env.pool);
	scan_scratch_free(fx->scratch);
	scan_commands_free(fx->db);
	return 0;
}

/* ---- building and feeding segments ----------------------------------------------------- */

/* Build a segment from the client (c2s) or the server and parse it. */
const struct pkt_info *seg_at(struct fx *fx, bool c2s, uint8_t flags, uint32_t seq, uint32_t ack,
                              const char *payload, uint32_t len)
{
	struct inject_segment seg = {
	    .to_client = !c2s,
	    .flags = flags,
	    .seq = seq,
	    .ack = ack,
	    .window = 65535,
	    .payload = (const uint8_t *)payload,
	    .payload_len = (uint16_t)len,
	};
	if (flags & TCP_FLAG_SYN)
		seg.mss = 1460;
	uint32_t n = inject_build(&fx->tpl, &seg, fx->frame, sizeof(fx->frame));
	assert_true(n > 0);
	assert_int_equal(pkt_parse(fx->frame, n, &fx->pi), PKT_TCP);
	return &fx->pi;
}

/* Run one segment through the per-packet path, as the worker would. */
struct disposition run(struct fx *fx, bool c2s, const struct pkt_info *pi)
{
	fx->out.n_seg = 0;
	fx->out.deadline = 0;
	fx->d = inspect_segment(&fx->env, &fx->s, &fx->key, pi, fx->frame, c2s, fx->now, &fx->out);
	return fx->d;
}

/* The client sends text at its next sequence number, acknowledging the server. */
struct disposition client_says(struct fx *fx, const char *text)
{
	uint32_t len = (uint32_t)strlen(text);
	const struct pkt_info *pi =
	    seg_at(fx, true, TCP_FLAG_ACK | TCP_FLAG_PSH, fx->cseq, fx->sseq, text, len);
	struct disposition d = run(fx, true, pi);
	fx->cseq += len;
	return d;
}

/* The server sends text, acknowledging everything the client sent. */
struct disposition server_says(struct fx *fx, const char *text)
{
	uint32_t len = (uint32_t)strlen(text);
	const struct pkt_info *pi =
	    seg_at(fx, false, TCP_FLAG_ACK | TCP_FLAG_PSH, fx->sseq, fx->cseq, text, len);
	struct disposition d = run(fx, false, pi);
	fx->sseq += len;
	return d;
}

/* A pure ACK from the client of everything the server sent. */
struct disposition client_acks(struct fx *fx)
{
	return run(fx, true, seg_at(fx, true, TCP_FLAG_ACK, fx->cseq, fx->sseq, NULL, 0));
}

void assert_disposition(const struct disposition d, enum dispose_pkt pkt, enum packet_cause cause,
                        enum dispose_flow flow)
{
	if (d.pkt != pkt || d.cause != cause || d.flow != flow)
		fail_msg("disposition %u/%s/%u, expected %u/%s/%u", d.pkt,
		         packet_cause_name((enum packet_cause)d.cause), d.flow, pkt,
		         packet_cause_name(cause), flow);
}

/* Handshake, greeting, EHLO, MAIL with their replies, each acknowledged. */
void fx_open(struct fx *fx, const char *helo)
{
	char line[128];

	fx->cseq = CLIENT_ISN;
	fx->sseq = SERVER_ISN;
	const struct pkt_info *syn = seg_at(fx, true, TCP_FLAG_SYN, fx->cseq, 0, NULL, 0);
	inspect_start(&fx->env, &fx->s, syn, fx->now, &fx->out);
	fx->cseq++;
	assert_disposition(
	    run(fx, false,
	        seg_at(fx, false, TCP_FLAG_SYN | TCP_FLAG_ACK, fx->sseq, fx->cseq, NULL, 0)),
	    DISPOSE_FORWARD, CAUSE_HANDSHAKE, DISPOSE_FLOW_KEEP);
	fx->sseq++;
	assert_int_equal(fx->s.state, SESSION_INSPECTING);
	client_acks(fx);
	server_says(fx, "220 mx.example.net ESMTP\r\n");
	snprintf(line, sizeof(line), "EHLO %s\r\n", helo);
	client_says(fx, line);
	server_says(fx, "250-mx.example.net\r\n250 PIPELINING\r\n");
	client_says(fx, "MAIL FROM:<a@example.org>\r\n");
	server_says(fx, "250 2.1.0 Ok\r\n");
	client_acks(fx);
}

/* Free the session as the worker would and check every block came back. */
void fx_release(struct fx *fx)
{
	session_release(&fx->env, &fx->s);
	assert_int_equal(block_pool_in_use(fx->env.pool), 0);
	while (event_ring_peek(fx->env.events) != NULL)
		event_ring_release(fx->env.events);
	memset(&fx->counters, 0, sizeof(fx->counters));
	memset(&fx->s, 0, sizeof(fx->s));
	fx->now = 1000;
}

/* The n-th segment out must be towards the client with this payload. */
void assert_client_seg(const struct fx *fx, unsigned n, const char *payload, uint8_t flags)
{
	assert_true(n < fx->out.n_seg);
	const struct inject_segment *seg = &fx->out.seg[n];
	assert_true(seg->to_client);
	if (seg->payload_len != strlen(payload) ||
	    memcmp(seg->payload, payload, seg->payload_len) != 0)
		fail_msg("segment %u: '%.*s', expected '%s'", n, seg->payload_len,
		         (const char *)seg->payload, payload);
	assert_int_equal(seg->flags, flags);
}

void assert_server_rst(const struct fx *fx, unsigned n, uint32_t seq)
{
	assert_true(n < fx->out.n_seg);
	const struct inject_segment *seg = &fx->out.seg[n];
	assert_false(seg->to_client);
	assert_int_equal(seg->flags, TCP_FLAG_RST | TCP_FLAG_ACK);
	assert_int_equal(seg->seq, seq);
}
