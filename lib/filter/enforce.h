/*
 * enforce: the TCP side of a takeover (enforce mode). For a bogus session
 * and one of its segments (or its timer) it says what happens to the
 * segment and which segments helogate sends in the server's place.
 *
 * At the first bogus RCPT (or STARTTLS) no byte of that command, nor any
 * later client byte, reaches the server. Once the session is quiet (the
 * server acknowledged every client byte before the command and answered
 * every earlier command, the client acknowledged every server byte:
 * reliability rule 6), the server is reset at its next expected sequence
 * number and the client is answered in the server's sequence space
 * (takeover.h writes the replies) until QUIT, the client's FIN or RST, or a
 * timeout. docs/design.md ("The takeover") has the state machine.
 *
 * Owns:    the takeover state, in one block of env's pool (session's
 *          takeover_block; session_release() returns it).
 * Never:   sees an mbuf, a port, the flow table or struct worker; frees a
 *          record; allocates; sends anything itself (segments come back in
 *          struct session_out, at most SESSION_SEGS_MAX; the rest wait for
 *          the retransmission timer).
 * Threads: one worker.
 * Counts:  takeovers, takeover_* and injected_retransmits (counters.h);
 *          the packet's own counter is its disposition's cause.
 */
#ifndef HG_ENFORCE_H
#define HG_ENFORCE_H

#include <stdbool.h>
#include <stdint.h>

#include "wire/disposition.h"
#include "wire/pkt.h"
#include "tcp/flow_table.h"
#include "smtp/smtp.h"
#include "judge/verdict.h"
#include "filter/session.h"

/* RFC 6298 2.1 starts at 1 s; a takeover's peer is usually close, and a
 * lost reply should not stall a rejected client long. Doubles per try. */
#define ENFORCE_RTO_INITIAL_MS 400u
#define ENFORCE_RTO_RETRIES 6u
#define ENFORCE_SERVER_RSTS_MAX 4u /* the first RST plus answers to challenge ACKs */
#define ENFORCE_SEGMENT_MAX 1200u  /* below every path MTU helogate meets: never fragment */

/*
 * At a bogus RCPT or STARTTLS (cmd) inside segment pi of frame: take the
 * session over. Returns false, and the caller lets the session through with
 * a `detected` event, when it cannot be taken over (tainted, no block, the
 * line ended in held out-of-order bytes, an L2 header too long); each case
 * has its counter. Called from inside the SMTP feed: touches only the
 * takeover block and the session's flags.
 */
bool enforce_begin(const struct session_env *env, struct session *s, const struct pkt_info *pi,
                   const uint8_t *frame, const struct smtp_command *cmd, enum verdict_reason reason,
                   uint64_t now_ms);

/*
 * After the segment whose bytes started the takeover: its part before the
 * command is forwarded (trimmed) or, when the command starts the segment,
 * the segment is dropped; the takeover starts at once if the session is
 * quiet, else waits (out->deadline: the waiting limit).
 */
struct disposition enforce_started(const struct session_env *env, struct session *s,
                                   const struct flow_key *key, const struct pkt_info *pi,
                                   uint64_t now_ms, struct session_out *out);

/* True while the takeover waits for quiet: the server's segments then take
 * the ordinary path (its owed replies must reach the client). */
bool enforce_waiting(const struct session_env *env, const struct session *s);

/* After the ordinary path handled a server segment of a waiting takeover:
 * take over now if the session became quiet. */
void enforce_check_quiet(const struct session_env *env, struct session *s,
                         const struct flow_key *key, uint64_t now_ms, struct session_out *out);

/*
 * Any other segment of a session with a takeover: a client segment while it
 * waits, any segment once active. DISPOSE_FLOW_FREE ends the session after
 * out's segments are sent.
 */
struct disposition enforce_segment(const struct session_env *env, struct session *s,
                                   const struct flow_key *key, const struct pkt_info *pi,
                                   const uint8_t *frame, bool c2s, uint64_t now_ms,
                                   struct session_out *out);

/*
 * The record's timer ran out. Returns DISPOSE_FLOW_KEEP with out->deadline
 * set (retransmission, waiting, lifetime), DISPOSE_FLOW_PASS (no quiet point
 * in time: let through, `detected` event written; out->deadline set) or
 * DISPOSE_FLOW_FREE (the takeover is over).
 */
enum dispose_flow enforce_timer(const struct session_env *env, struct session *s,
                                const struct flow_key *key, uint64_t now_ms,
                                struct session_out *out);

#endif
