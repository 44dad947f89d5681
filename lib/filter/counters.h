/*
 * counters: every per-worker counter, defined once.
 *
 * Each worker writes only its own struct worker_counters (plain increments,
 * one writer); the control thread reads them while the workers run (relaxed
 * 64-bit loads: a value may be a few packets old, never torn on x86-64 and
 * AArch64). The names below are the names in the stats JSON and telemetry;
 * every packet ends in exactly one cause (wire/disposition.h), counted in
 * causes[] and, when freed, dropped[]. Arrays indexed by other modules' enums (parse results,
 * stream verdicts, SMTP stop reasons, verdict reasons) take their names from those modules' X-macro
 * lists.
 */
#ifndef HG_COUNTERS_H
#define HG_COUNTERS_H

#include <stdint.h>

#include "wire/disposition.h"
#include "wire/pkt.h"
#include "smtp/smtp.h"
#include "tcp/stream.h"
#include "judge/verdict.h"

#define WORKER_COUNTERS(X)                                                                         \
	X(rx_packets, "packets received")                                                          \
	X(rx_bytes, "bytes received")                                                              \
	X(tx_packets, "packets transmitted (forwarded and injected)")                              \
	X(injected_packets, "segments helogate built and queued (to clients and servers)")         \
	X(flows_created, "sessions tracked from their SYN")                                        \
	X(flows_table_full, "new sessions not tracked because the flow table was full of "         \
	                    "established sessions (fail open)")                                    \
	X(flows_evicted_syn,                                                                       \
	  "sessions still in their handshake evicted to make room for a new one")                  \
	X(flows_closed, "sessions freed after FIN in both directions")                             \
	X(flows_reset, "sessions freed by an acceptable RST")                                      \
	X(flows_expired, "sessions freed by a timer")                                              \
	X(flows_passed,                                                                            \
	  "sessions no longer inspected (reason: passthrough, stream or urgent counters)")         \
	X(syn_retransmitted, "SYN or SYN-ACK retransmissions")                                     \
	X(urgent_cleared,                                                                          \
	  "segments whose URG flag and urgent pointer helogate cleared (all bytes inline)")        \
	X(new_syns_ignored, "SYNs with another ISN on a synchronized session: forwarded for the "  \
	                    "server's challenge ACK, session kept (RFC 5961 4.2)")                 \
	X(flows_replaced,                                                                          \
	  "sessions restarted because the server accepted a new SYN on their tuple")               \
	X(hold_too_late, "sessions given up: the SMTP tracker's hold point lay in bytes already "  \
	                 "forwarded out of order")                                                 \
	X(helo_no_memory, "HELOs too long to store inline with no free block: session given up")   \
	X(commands, "SMTP command lines parsed")                                                   \
	X(replies, "SMTP replies parsed")                                                          \
	X(helos, "HELO/EHLO commands seen")                                                        \
	X(judged, "HELO verdicts taken (at RCPT TO or STARTTLS)")                                  \
	X(allowed, "verdicts 'allowed': exempt client or HELO, never rejected")                    \
	X(events_written, "events handed to the writer")                                           \
	X(takeovers, "bogus sessions taken over: server reset, client answered by helogate")       \
	X(takeover_no_memory,                                                                      \
	  "bogus sessions not taken over for want of a pool block: let through")                   \
	X(takeover_unsupported, "bogus sessions not taken over: the line ended in held "           \
	                        "out-of-order bytes, or the L2 header is too long")                \
	X(takeover_not_quiet, "bogus sessions let through: no quiet point within --takeover-wait") \
	X(takeover_rejected_rcpts, "RCPT commands answered with the 550 reply")                    \
	X(takeover_closed, "taken-over sessions ended cleanly (QUIT, DATA, client FIN or RST)")    \
	X(takeover_client_reset,                                                                   \
	  "taken-over sessions ended by helogate's RST: client unresponsive")                      \
	X(takeover_timeouts, "taken-over sessions closed with 421 after their lifetime")           \
	X(takeover_unread,                                                                         \
	  "client bytes of taken-over sessions not read (out of order, or no room for the reply)") \
	X(injected_segments, "segments helogate sent to clients")                                  \
	X(injected_rsts, "RSTs helogate sent to servers (challenge ACKs answered included)")       \
	X(injected_retransmits, "segments helogate sent again after a timeout or a duplicate")     \
	X(inject_no_mbuf,                                                                          \
	  "segments not sent: the mbuf pool was empty or the batch full (retried by the timer)")   \
	X(events_dropped, "events lost because the event ring was full")

/* Cycle counts per stage, taken only when profiling is on
 * (worker_set_profiling; the benchmark turns it on). Stages nest, and each
 * counts inclusively: reassembly includes the SMTP parsing its callback
 * does, smtp includes the verdicts taken from its callbacks, total is the
 * whole packet. Subtract to get exclusive times. */
#define WORKER_STAGES(X)                                                                           \
	X(PARSE, "parse", "pkt_parse")                                                             \
	X(FLOW, "flow", "flow key, hash and table lookup")                                         \
	X(REASSEMBLY, "reassembly", "stream_dir_segment, including the SMTP callbacks")            \
	X(SMTP, "smtp", "smtp_feed_* and Hyperscan, including verdicts")                           \
	X(VERDICT, "verdict", "verdict_judge_helo")                                                \
	X(INJECT, "inject", "building and queueing injected segments")                             \
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
	uint64_t causes[CAUSE_COUNT];           /* every packet, by its disposition's cause */
	uint64_t dropped[CAUSE_COUNT];          /* packets freed, by cause */
	uint64_t pkt_results[PKT_RESULT_COUNT]; /* by pkt_parse() result */
	uint64_t stream_verdicts[STREAM_VERDICT_COUNT];
	uint64_t smtp_stops[SMTP_STOP_COUNT]; /* sessions given up, by reason */
	uint64_t verdicts[VERDICT_COUNT];     /* judgments by reason */
	uint64_t rejected[VERDICT_COUNT];     /* RCPTs rejected by reason */
	uint64_t
	    detected[VERDICT_COUNT]; /* detected events (--action REASON=detect, or no takeover) */
	uint64_t stage_cycles[WORKER_STAGE_COUNT]; /* only while profiling */
} __attribute__((aligned(64)));

/* Stage timing, only while profiling: the time-stamp counter where the CPU
 * has one readable from user space, else nothing. */
static inline uint64_t counters_cycles(void)
{
#if defined(__x86_64__) || defined(__i386__)
	return __builtin_ia32_rdtsc();
#elif defined(__aarch64__)
	uint64_t v;
	__asm__ volatile("mrs %0, cntvct_el0" : "=r"(v));
	return v;
#else
	return 0;
#endif
}

#endif
