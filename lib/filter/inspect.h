/*
 * inspect: the per-packet path of a tracked SMTP session. For one segment
 * of a session (its record, the parsed view, the frame's bytes) it runs the
 * TCP rules (conn), reassembly (stream), the SMTP tracker (smtp) and the
 * verdict (session_judge), writes the events, hands bogus sessions to the
 * takeover (enforce) in enforce mode, and says what must happen to the
 * segment and the session.
 *
 * Owns:    nothing beyond the session record it is given.
 * Never:   sees an mbuf, a port or struct worker; forwards, drops or frees a
 *          packet; frees or passes a record (it returns DISPOSE_FLOW_*, the
 *          worker acts); allocates beyond env's pool.
 * Threads: one worker.
 * Counts:  flows_*, syn_retransmitted, urgent_passthrough, flows_tainted,
 *          commands, replies, helos, stream_verdicts[], smtp_stops[]; the
 *          packet's own counter is its disposition's cause.
 */
#ifndef HG_INSPECT_H
#define HG_INSPECT_H

#include <stdbool.h>
#include <stdint.h>

#include "wire/disposition.h"
#include "wire/pkt.h"
#include "tcp/flow_table.h"
#include "filter/session.h"

/* True when a packet of a session without a record opens one: a client's
 * SYN without ACK (its data, if any, is stripped: inspect_start). */
bool inspect_opens_session(const struct pkt_info *pi, bool c2s);

/* Start the record s (just inserted) from the client's SYN: counts
 * flows_created; out->deadline is the SYN timeout. */
struct disposition inspect_start(const struct session_env *env, struct session *s,
                                 const struct pkt_info *syn, uint64_t now_ms,
                                 struct session_out *out);

/*
 * One segment (checksum already verified) of the session s (key: its
 * 5-tuple; c2s: sent by the client). frame: the whole frame, pi its parse.
 * out->deadline, when set, is the record's next timer; out->seg are the
 * segments to send (a takeover). The disposition's flow field says whether
 * the session goes on, stops being inspected, or ends.
 */
struct disposition inspect_segment(struct session_env *env, struct session *s,
                                   const struct flow_key *key, const struct pkt_info *pi,
                                   const uint8_t *frame, bool c2s, uint64_t now_ms,
                                   struct session_out *out);

/* The record's timer ran out: a takeover's timers first, otherwise the
 * session ends (flows_expired). */
enum dispose_flow inspect_timer(struct session_env *env, struct session *s,
                                const struct flow_key *key, uint64_t now_ms,
                                struct session_out *out);

#endif
