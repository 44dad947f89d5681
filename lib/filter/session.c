#include "filter/session.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "tcp/block_pool.h"
#include "smtp/rcpt.h"

void session_start(struct session *s, const struct pkt_info *syn)
{
	memset(s, 0, offsetof(struct session, helo));
	s->state = SESSION_SYN_SENT;
	s->helo_block = BLOCK_POOL_NONE;
	s->takeover_block = BLOCK_POOL_NONE;
	/* Both directions and the SMTP session start out holding no block, so
	 * freeing a record before its SYN-ACK (RST, SYN timeout, a session
	 * passed through early) returns nothing: a zeroed record would name
	 * block 0. */
	stream_dir_init(&s->c2s, syn->seq + 1, false);
	stream_dir_init(&s->s2c, 0, false);
	smtp_session_init(&s->smtp);
	conn_start(&s->tcp, syn);
}

void session_establish(struct session *s, const struct pkt_info *synack, uint64_t now_ms)
{
	conn_establish(&s->tcp, synack, now_ms);
	stream_dir_init(&s->c2s, s->tcp.client_isn + 1, true);
	stream_dir_init(&s->s2c, s->tcp.server_isn + 1, false);
	smtp_session_init(&s->smtp);
	s->state = SESSION_INSPECTING;
}

void session_release(const struct session_env *env, struct session *s)
{
	stream_dir_release(&s->c2s, env->pool);
	stream_dir_release(&s->s2c, env->pool);
	smtp_session_release(&s->smtp, env->pool);
	if (s->flags & SESSION_F_TAKEOVER) {
		block_pool_put(env->pool, s->takeover_block);
		s->takeover_block = BLOCK_POOL_NONE;
		s->flags &= (uint8_t)~SESSION_F_TAKEOVER;
	}
	if (s->flags & SESSION_F_HELO_BLOCK) {
		block_pool_put(env->pool, s->helo_block);
		s->helo_block = BLOCK_POOL_NONE;
		s->flags &= (uint8_t)~SESSION_F_HELO_BLOCK;
	}
}

/* Stop inspecting: the session is forwarded untouched until it ends, and is
 * never taken over. Its memory is returned now. */
void session_pass(const struct session_env *env, struct session *s)
{
	if (s->state == SESSION_PASSTHROUGH)
		return;
	session_release(env, s);
	s->state = SESSION_PASSTHROUGH;
	env->counters->flows_passed++;
}

const char *session_helo(const struct session_env *env, const struct session *s)
{
	if (s->flags & SESSION_F_HELO_BLOCK)
		return (const char *)block_pool_data(env->pool, s->helo_block);
	return s->helo;
}

bool session_store_helo(const struct session_env *env, struct session *s, const uint8_t *arg,
                        uint32_t len)
{
	if (s->flags & SESSION_F_HELO_BLOCK) {
		block_pool_put(env->pool, s->helo_block);
		s->helo_block = BLOCK_POOL_NONE;
		s->flags &= (uint8_t)~SESSION_F_HELO_BLOCK;
	}
	if (len > SESSION_HELO_INLINE_MAX) {
		uint32_t block = block_pool_get(env->pool);
		if (block == BLOCK_POOL_NONE)
			return false;
		if (len > block_pool_block_size(env->pool))
			len = block_pool_block_size(
			    env->pool); /* line_max <= block size: cannot happen */
		memcpy(block_pool_data(env->pool, block), arg, len);
		s->helo_block = block;
		s->flags |= SESSION_F_HELO_BLOCK;
	} else {
		memcpy(s->helo, arg, len);
	}
	s->helo_len = (uint16_t)len;
	s->flags |= SESSION_F_HELO;
	s->helo_memo = (struct policy_memo){0};
	return true;
}

/* A session that never said HELO/EHLO is judged on an empty name, which is
 * `invalid` (RFC 5321 4.1.4: a session starts with EHLO or HELO). */
enum verdict_reason session_judge(struct session_env *env, struct session *s,
                                  const struct flow_key *key, const uint8_t *rcpt,
                                  uint32_t rcpt_len)
{
	struct ip_addr client = {.family = key->family}, server = {.family = key->family};

	memcpy(client.bytes, key->client, 16);
	memcpy(server.bytes, key->server, 16);
	struct policy_input in = {
	    .client = &client,
	    .server = &server,
	    .helo = session_helo(env, s),
	    .helo_len = s->helo_len,
	    .rcpt = (const char *)rcpt,
	    .rcpt_len = rcpt_len,
	    .server_name = s->server_name,
	    .reader = env->worker_id,
	};
	uint64_t t0 = session_prof_start(env);
	enum verdict_reason reason = policy_judge_memo(env->policy, &in, &s->helo_memo);
	session_prof_add(env, WORKER_STAGE_VERDICT, t0);
	env->counters->judged++;
	env->counters->verdicts[reason]++;
	if (reason == VERDICT_ALLOWED)
		env->counters->allowed++;
	return reason;
}

enum policy_action session_action(const struct session_env *env, enum verdict_reason reason)
{
	enum policy_action action = policy_action(env->policy, reason);

	if (reason == VERDICT_OK || reason == VERDICT_ALLOWED)
		return POLICY_OFF;
	if (env->action_override[reason] != 0)
		return (enum policy_action)(env->action_override[reason] - 1);
	if (env->mode_override == SESSION_MODE_DETECT && action == POLICY_ENFORCE)
		return POLICY_DETECT;
	if (env->mode_override == SESSION_MODE_ENFORCE && action == POLICY_DETECT)
		return POLICY_ENFORCE;
	return action;
}

/* The recipient an event names: the mailbox rcpt_parse() finds, else (NUL
 * bytes, broken quoting) the text between the angle brackets or all of it,
 * bytes as they are. */
static void event_rcpt(struct event *e, const uint8_t *rcpt, uint32_t len)
{
	struct rcpt_address addr;

	if (rcpt_parse((const char *)rcpt, len, &addr)) {
		event_set_rcpt(e, addr.mailbox, addr.mailbox_len);
		return;
	}
	const uint8_t *a = rcpt, *end = rcpt + len;
	while (a < end && (*a == ' ' || *a == '\t'))
		a++;
	if (a < end && *a == '<') {
		const uint8_t *close = memchr(a + 1, '>', (size_t)(end - a - 1));
		if (close != NULL) {
			end = close;
			a++;
		}
	}
	event_set_rcpt(e, a, (size_t)(end - a));
}

void session_event(const struct session_env *env, const struct session *s,
                   const struct flow_key *key, const char *command, enum verdict_reason reason,
                   enum event_action action, const uint8_t *rcpt, uint32_t rcpt_len)
{
	struct event *e = event_ring_reserve(env->events);
	struct timespec now;

	if (e == NULL) {
		env->counters->events_dropped++;
		return;
	}
	if (env->pkt_time_ns != 0) {
		e->ts_ns = env->pkt_time_ns;
	} else {
		clock_gettime(CLOCK_REALTIME, &now);
		e->ts_ns = (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
	}
	if (env->pkt_info != NULL) {
		e->vlan_count = env->pkt_info->vlan_count > 2 ? 2 : env->pkt_info->vlan_count;
		for (unsigned i = 0; i < e->vlan_count; i++)
			e->vlan[i] = env->pkt_info->vlan_tci[i] & 0x0fff;
	}
	if (s->flags & SESSION_F_HELO)
		e->helo_verb = (s->flags & SESSION_F_EHLO) ? EVENT_HELO_EHLO : EVENT_HELO_HELO;
	e->client_isn = s->tcp.client_isn;
	e->worker = env->worker_id;
	e->action = (uint8_t)action;
	e->reason = (uint8_t)reason;
	memcpy(e->client.bytes, key->client, 16);
	memcpy(e->server.bytes, key->server, 16);
	e->client.family = e->server.family = key->family;
	e->client_port = key->client_port;
	e->server_port = key->server_port;
	snprintf(e->command, sizeof(e->command), "%s", command);
	event_set_helo(e, session_helo(env, s), s->helo_len);
	if (rcpt != NULL)
		event_rcpt(e, rcpt, rcpt_len);
	event_ring_commit(env->events);
	env->counters->events_written++;
}
