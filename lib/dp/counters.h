/*
 * counters: every per-worker counter, defined once.
 *
 * Each worker writes only its own struct worker_counters (plain increments,
 * one writer); the control thread reads them while the workers run (relaxed
 * 64-bit loads: a value may be a few packets old, never torn on x86-64 and
 * AArch64). The names below are the names in the stats JSON and telemetry;
 * every packet that is not forwarded untouched ends in exactly one named
 * counter. Arrays indexed by other modules' enums (parse results, stream
 * verdicts, SMTP stop reasons, verdict reasons) take their names from those
 * modules' X-macro lists.
 */
#ifndef HG_COUNTERS_H
#define HG_COUNTERS_H

#include <stdint.h>

#include "wire/pkt.h"
#include "smtp/smtp.h"
#include "tcp/stream.h"
#include "judge/verdict.h"

#define WORKER_COUNTERS(X)                                                                         \
	X(rx_packets, "packets received")                                                            \
	X(rx_bytes, "bytes received")                                                                \
	X(tx_packets, "packets transmitted")                                                         \
	X(tx_failed, "packets the port would not take after retries (freed)")                        \
	X(fast_path, "packets that are not TCP to or from an SMTP port: forwarded untouched")        \
	X(malformed_dropped, "malformed IP/TCP packets dropped (the end host would drop them)")      \
	X(multiseg_forwarded, "multi-segment mbufs: forwarded untracked")                            \
	X(bad_checksum_dropped, "SMTP segments with a bad TCP checksum: dropped")                    \
	X(untracked_forwarded, "SMTP packets of sessions not tracked (no SYN seen, or after a free): forwarded") \
	X(passthrough_forwarded, "packets of sessions no longer inspected: forwarded untouched")     \
	X(flows_created, "sessions tracked from their SYN")                                          \
	X(flows_table_full, "new sessions not tracked because the flow table was full (fail open)")  \
	X(flows_closed, "sessions freed after FIN in both directions")                               \
	X(flows_reset, "sessions freed by an acceptable RST")                                        \
	X(flows_expired, "sessions freed by a timer")                                                \
	X(syn_retransmitted, "SYN or SYN-ACK retransmissions")                                       \
	X(rst_out_of_window_dropped, "RSTs outside the receive window: dropped (RFC 5961 3.2)")      \
	X(rst_in_window_forwarded, "in-window RSTs that do not match exactly: forwarded, session kept (RFC 5961 3.2)") \
	X(urgent_passthrough, "sessions given up because of urgent data")                            \
	X(flows_tainted, "sessions with conflicting retransmissions: never taken over")              \
	X(helo_no_memory, "HELOs too long to store inline with no free block: session given up")    \
	X(commands, "SMTP command lines parsed")                                                     \
	X(replies, "SMTP replies parsed")                                                            \
	X(helos, "HELO/EHLO commands seen")                                                          \
	X(judged, "HELO verdicts taken (at RCPT TO or STARTTLS)")                                    \
	X(allowed, "verdicts 'allowed': exempt client or HELO, never rejected")                      \
	X(events_written, "events handed to the writer")                                             \
	X(takeovers, "bogus sessions taken over: server reset, client answered by helogate")         \
	X(takeover_tainted, "bogus sessions not taken over because they were tainted: let through")  \
	X(takeover_no_memory, "bogus sessions not taken over for want of a block or template: let through") \
	X(takeover_not_quiet, "bogus sessions let through: no quiet point within --takeover-wait")  \
	X(takeover_rejected_rcpts, "RCPT commands answered with the 550 reply")                     \
	X(takeover_closed, "taken-over sessions ended cleanly (QUIT, DATA, client FIN)")             \
	X(takeover_client_reset, "taken-over sessions ended by RST: client gone or unresponsive")   \
	X(takeover_timeouts, "taken-over sessions closed with 421 after their lifetime")             \
	X(takeover_dropped, "client segments of taken-over sessions not accepted (out of order, no room)") \
	X(injected_segments, "segments helogate sent to clients")                                    \
	X(injected_rsts, "RSTs helogate sent to servers (challenge ACKs answered included)")         \
	X(injected_retransmits, "segments helogate sent again after a timeout or a duplicate")       \
	X(inject_no_mbuf, "segments not sent: the mbuf pool was empty (retried by the timer)")        \
	X(events_dropped, "events lost because the event ring was full")

/* Cycle counts per stage, taken only when profiling is on
 * (worker_set_profiling; the benchmark turns it on). Stages nest, and each
 * counts inclusively: reassembly includes the SMTP parsing its callback
 * does, smtp includes the verdicts taken from its callbacks, total is the
 * whole packet. Subtract to get exclusive times. */
#define WORKER_STAGES(X)                                                                           \
	X(PARSE, "parse", "pkt_parse")                                                               \
	X(FLOW, "flow", "flow key, hash and table lookup")                                           \
	X(REASSEMBLY, "reassembly", "stream_dir_segment, including the SMTP callbacks")            \
	X(SMTP, "smtp", "smtp_feed_* and Hyperscan, including verdicts")                           \
	X(VERDICT, "verdict", "verdict_judge_helo")                                                  \
	X(INJECT, "inject", "building and queueing injected segments")                              \
	X(TOTAL, "total", "the whole packet")

enum worker_stage {
#define WORKER_STAGE_ENUM(sym, name, desc) WORKER_STAGE_##sym,
	WORKER_STAGES(WORKER_STAGE_ENUM)
#undef WORKER_STAGE_ENUM
	WORKER_STAGE_COUNT
};

struct worker_counters {
#define COUNTER_FIELD(name, desc) uint64_t name;
	WORKER_COUNTERS(COUNTER_FIELD)
#undef COUNTER_FIELD
	uint64_t pkt_results[PKT_RESULT_COUNT];     /* by pkt_parse() result */
	uint64_t stream_verdicts[STREAM_VERDICT_COUNT];
	uint64_t smtp_stops[SMTP_STOP_COUNT];     /* sessions given up, by reason */
	uint64_t verdicts[VERDICT_COUNT];         /* judgments by reason */
	uint64_t rejected[VERDICT_COUNT];         /* RCPTs rejected by reason */
	uint64_t detected[VERDICT_COUNT];         /* detected events (--action REASON=detect, or no takeover) */
	uint64_t stage_cycles[WORKER_STAGE_COUNT]; /* only while profiling */
} __attribute__((aligned(64)));

#endif
