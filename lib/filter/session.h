/*
 * session: one tracked SMTP session (the flow table's record) and what every
 * stage working on it shares (struct session_env): the worker's pool,
 * counters, event ring, Hyperscan scratch and the judging context.
 *
 * Owns:    the record's byte blocks (streams, SMTP, a long HELO, the takeover
 *          block): session_release() returns them all.
 * Never:   sees an mbuf, a port or the flow table; frees the record itself
 *          (the worker removes it from the table).
 * Threads: one worker; the env's pool, counters and ring are that worker's.
 * Counts:  helo_no_memory, judged, verdicts[], events_written, events_dropped.
 */
#ifndef HG_SESSION_H
#define HG_SESSION_H

#include <stdbool.h>
#include <stdint.h>

#include "wire/addr.h"
#include "wire/disposition.h"
#include "wire/inject.h"
#include "wire/pkt.h"
#include "tcp/conn.h"
#include "tcp/flow_table.h"
#include "tcp/stream.h"
#include "smtp/scan.h"
#include "smtp/smtp.h"
#include "judge/policy.h"
#include "judge/verdict.h"
#include "filter/counters.h"
#include "filter/event.h"
#include "filter/takeover.h"

/* HELO arguments up to this length live in the record; longer ones (rare: a
 * valid name is at most 253 octets) take a pool block. */
#define SESSION_HELO_INLINE_MAX 48

enum session_state {
	SESSION_SYN_SENT,    /* client SYN seen, waiting for the server's SYN-ACK */
	SESSION_INSPECTING,  /* both ISNs known: inspecting */
	SESSION_PASSTHROUGH, /* no longer inspected; kept only to free it on FIN/RST/timer */
};

#define SESSION_F_HELO 0x02       /* a HELO/EHLO has been seen */
#define SESSION_F_HELO_BLOCK 0x04 /* the HELO lives in helo_block */
#define SESSION_F_TAKEOVER 0x08   /* takeover_block holds a takeover (enforce) */
#define SESSION_F_EHLO 0x10       /* the last HELO/EHLO seen was EHLO (events' helo_verb) */

struct session {
	struct stream_dir c2s; /* client to server bytes */
	struct stream_dir s2c; /* server to client bytes */
	struct smtp_session smtp;
	struct conn tcp;
	uint32_t helo_block;
	uint32_t takeover_block; /* the enforce state, while SESSION_F_TAKEOVER */
	uint64_t server_name;    /* policy_server_name() of its greeting or EHLO reply; 0: none */
	struct policy_memo helo_memo; /* the HELO judged once; cleared when it changes */
	uint16_t helo_len;
	uint8_t state; /* enum session_state */
	uint8_t flags; /* SESSION_F_* */
	char helo[SESSION_HELO_INLINE_MAX];
};

/* Settings the stages need, copied from the configuration once (replies:
 * refreshed with the policy, which carries the reloaded configuration). */
struct session_params {
	uint32_t timeout_syn_ms, timeout_idle_ms, timeout_closing_ms;
	uint32_t takeover_wait_ms, takeover_session_ms;
	const struct takeover_texts *replies;
};

struct session_env {
	struct block_pool *pool;
	struct smtp_env smtp;
	struct event_ring *events;
	struct worker_counters *counters;
	struct session_params params;
	const struct scan_commands *commands;
	hs_scratch_t *scratch; /* for the command database */
	/* The verdict policy (lists, exemptions, per-reason actions): set by
	 * the worker from policy_rcu, valid until its next quiescent point. */
	const struct policy *policy;
	uint16_t worker_id; /* also the policy reader id */
	/* The operator's live overrides (console, telemetry), loaded by the
	 * worker once per burst: the mode (SESSION_MODE_*) when it differs
	 * from the configured one, and a per-reason action (POLICY_*+1; 0:
	 * none). session_action() applies them. */
	uint8_t mode_override;
	uint8_t action_override[VERDICT_COUNT];
	bool profiling;
	/* The packet at hand, for its events: receive time (ns since 1970,
	 * 0 = none: the event takes the clock) and VLAN tags (NULL outside a
	 * packet, e.g. in a timer). Set by the worker around each packet. */
	uint64_t pkt_time_ns;
	const struct pkt_info *pkt_info;
};

/* Segments a stage asks the worker to build and send, and the record's
 * next timer. The payloads live in the session's takeover block: the worker
 * builds the segments before it frees or passes the record. */
#define SESSION_SEGS_MAX 8
struct session_out {
	uint64_t deadline; /* the record's next timer (ms); 0: leave it */
	const struct inject_template *tpl;
	uint8_t n_seg;
	struct inject_segment seg[SESSION_SEGS_MAX];
};

/* A client SYN starts the record (all of it is written). */
void session_start(struct session *s, const struct pkt_info *syn);

/* The server's SYN-ACK: both streams and the SMTP tracker start. */
void session_establish(struct session *s, const struct pkt_info *synack, uint64_t now_ms);

/* Return every block the record holds; streams, SMTP and takeover are then
 * empty (a second call returns nothing). */
void session_release(const struct session_env *env, struct session *s);

/* Stop inspecting: blocks returned, state SESSION_PASSTHROUGH. */
void session_pass(const struct session_env *env, struct session *s);

/* Remember the HELO/EHLO argument (a new one replaces the old). False when
 * it needs a block and the pool is empty. */
bool session_store_helo(const struct session_env *env, struct session *s, const uint8_t *arg,
                        uint32_t len);

/* The stored HELO argument (helo_len bytes). */
const char *session_helo(const struct session_env *env, const struct session *s);

/* Judge the session's HELO with env's policy; rcpt: the text after "RCPT
 * TO:", or NULL (at STARTTLS). The HELO is judged in full once per HELO
 * and policy (s->helo_memo); later RCPTs compare only the recipient's
 * domain and the server's name. Counts judged, verdicts[] and allowed. */
enum verdict_reason session_judge(struct session_env *env, struct session *s,
                                  const struct flow_key *key, const uint8_t *rcpt,
                                  uint32_t rcpt_len);

#define SESSION_MODE_AS_CONFIGURED 0
#define SESSION_MODE_DETECT 1
#define SESSION_MODE_ENFORCE 2

/* The action for a verdict: the policy's, unless the operator overrode the
 * reason (set action) or the mode (set mode moves every reason between
 * detect and enforce; off stays off). ok and allowed are always off. */
enum policy_action session_action(const struct session_env *env, enum verdict_reason reason);

/* Write one event (command: "RCPT" or "STARTTLS"); counted as written, or
 * as dropped when the ring is full. */
void session_event(const struct session_env *env, const struct session *s,
                   const struct flow_key *key, const char *command, enum verdict_reason reason,
                   enum event_action action, const uint8_t *rcpt, uint32_t rcpt_len);

/* Profiling helpers (the benchmark turns profiling on). */
static inline uint64_t session_prof_start(const struct session_env *env)
{
	return env->profiling ? counters_cycles() : 0;
}

static inline void session_prof_add(const struct session_env *env, enum worker_stage stage,
                                    uint64_t start)
{
	if (env->profiling)
		env->counters->stage_cycles[stage] += counters_cycles() - start;
}

#endif
