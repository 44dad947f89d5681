/*
 * A session fixture for the per-packet path's unit tests (test_enforce,
 * test_inspect): a real session_env (pool, event ring, Hyperscan commands,
 * counters), and helpers that build real frames from the client or the
 * server, parse them and run them through inspect_segment() as the worker
 * would. No EAL, no mbufs.
 */
#ifndef HG_TEST_SESSION_FX_H
#define HG_TEST_SESSION_FX_H

#include <stdbool.h>
#include <stdint.h>

#include "wire/disposition.h"
#include "wire/inject.h"
#include "wire/pkt.h"
#include "tcp/flow_table.h"
#include "smtp/scan.h"
#include "filter/session.h"
#include "filter/takeover.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* ISNs near the wrap, so every comparison crosses 2^32 (reliability.md). */
#define CLIENT_ISN 0xfffffff0u
#define SERVER_ISN 0x7ffffffeu

struct fx {
	struct scan_commands *db;
	hs_scratch_t *scratch;
	struct takeover_texts texts;
	struct worker_counters counters;
	struct session_env env;
	struct policy *enforce_policy, *detect_policy; /* env.policy is one of them */
	struct session s;
	struct flow_key key;
	struct inject_template tpl; /* builds the test's own client and server frames */
	uint32_t cseq, sseq;        /* next client / server sequence numbers */
	uint64_t now;
	struct session_out out;
	struct disposition d;
	uint8_t frame[2048];
	struct pkt_info pi;
};

/* cmocka group setup and teardown: *state is the struct fx. */
int fx_setup(void **state);
int fx_teardown(void **state);

/* Build a segment from the client (c2s) or the server and parse it. */
const struct pkt_info *seg_at(struct fx *fx, bool c2s, uint8_t flags, uint32_t seq, uint32_t ack,
                              const char *payload, uint32_t len);
/* Run one segment through the per-packet path, as the worker would. */
struct disposition run(struct fx *fx, bool c2s, const struct pkt_info *pi);
/* The client (server) sends text at its next sequence number, acknowledging
 * everything the other side sent. */
struct disposition client_says(struct fx *fx, const char *text);
struct disposition server_says(struct fx *fx, const char *text);
/* A pure ACK from the client of everything the server sent. */
struct disposition client_acks(struct fx *fx);
void assert_disposition(const struct disposition d, enum dispose_pkt pkt, enum packet_cause cause,
                        enum dispose_flow flow);
/* Handshake, greeting, EHLO helo, MAIL with their replies, each acknowledged. */
void fx_open(struct fx *fx, const char *helo);
/* Free the session as the worker would; every block must come back. */
void fx_release(struct fx *fx);
/* The n-th segment out must go to the client with this payload and flags. */
void assert_client_seg(const struct fx *fx, unsigned n, const char *payload, uint8_t flags);
/* The n-th segment out must be a RST|ACK to the server at seq. */
void assert_server_rst(const struct fx *fx, unsigned n, uint32_t seq);

#endif
