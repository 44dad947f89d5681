/*
 * disposition: what must happen to one received packet, and why.
 *
 * Every stage below the worker (inspect, conn, enforce) returns a struct
 * disposition; only the worker acts on it (worker_apply() in dp/worker.c):
 * it alone forwards, trims, drops or frees a packet and frees or passes a
 * flow. Each packet ends in exactly one cause from PACKET_CAUSES, so
 *
 *     received + injected = transmitted + dropped (by cause) + held
 *
 * holds in every mode (docs/design.md, "The disposition contract").
 *
 * Owns:  nothing; plain values.
 * Never: includes anything but libc headers; knows an mbuf.
 */
#ifndef HG_DISPOSITION_H
#define HG_DISPOSITION_H

#include <stdint.h>

/*
 * One list of causes: symbol, counter name (as in the stats JSON), what the
 * worker does (FORWARD: the packet leaves, possibly trimmed; DROP: it is
 * freed, the sender retransmits or the host would have dropped it; ANSWERED:
 * helogate consumed it: it answers itself, or the bytes go on inside a
 * reassembled datagram), description.
 */
#define PACKET_CAUSES(X)                                                                           \
	X(FAST_PATH, "fast_path", FORWARD, "not TCP to or from an SMTP port: forwarded untouched") \
	X(MULTISEG, "multiseg_forwarded", FORWARD, "multi-segment mbufs: forwarded untracked")     \
	X(MALFORMED, "malformed_dropped", DROP,                                                    \
	  "malformed IP/TCP packets (lengths that lie, data offset past the end): the end host "   \
	  "would drop them")                                                                       \
	X(BAD_CHECKSUM, "bad_checksum_dropped", DROP,                                              \
	  "SMTP segments with a bad TCP or IPv4 checksum: the end host would drop them")           \
	X(NO_ACK, "no_ack_dropped", DROP,                                                          \
	  "segments without ACK in a synchronized session: the end host drops them "               \
	  "(RFC 9293 3.10.7.4)")                                                                   \
	X(ACK_UNSENT, "ack_unsent_dropped", DROP,                                                  \
	  "segments acknowledging data the other side never sent: the end host drops them "        \
	  "(RFC 9293 3.10.7.4)")                                                                   \
	X(SIGNATURE, "unexpected_signature_dropped", DROP,                                         \
	  "segments with a TCP-MD5 or TCP-AO option on a session whose SYN had none: the end "     \
	  "host drops them (RFC 2385 2.0, RFC 5925 7.3)")                                          \
	X(SYN_DATA, "syn_data_stripped", FORWARD,                                                  \
	  "client SYNs carrying data (TCP Fast Open): forwarded without it, the client sends it "  \
	  "again after the handshake (RFC 7413 3)")                                                \
	X(IPV6_CHAIN_TOO_LONG, "ipv6_chain_dropped", DROP,                                         \
	  "IPv6 packets with more extension headers than helogate walks (8), whatever the port")   \
	X(FRAGMENTS_MERGED, "fragments_merged", ANSWERED,                                          \
	  "IP fragments consumed into their reassembled datagram (N fragments: N-1 here, the "     \
	  "datagram goes on under its own cause)")                                                 \
	X(FRAGMENT_TIMEOUT, "fragment_timeout_dropped", DROP,                                      \
	  "fragments of a datagram not complete within --frag-timeout")                            \
	X(FRAGMENT_OVERLAP, "fragment_overlap_dropped", DROP,                                      \
	  "every fragment of a datagram with overlapping or repeated fragments, or more than 8 "   \
	  "(RFC 5722, RFC 8200 4.5)")                                                              \
	X(FRAGMENT_TINY, "fragment_tiny_dropped", DROP,                                            \
	  "first fragments without the whole TCP header, fragments at offset 8 (RFC 1858 3.1)")    \
	X(FRAGMENT_TABLE_FULL, "fragment_table_full_dropped", DROP,                                \
	  "fragments of a new datagram with no room in the fragment table (--frag-flows)")         \
	X(FRAGMENT_UNSUPPORTED, "fragment_unsupported_dropped", DROP,                              \
	  "IPv6 fragments behind other extension headers or nested; datagrams reassembled past "   \
	  "one mbuf")                                                                              \
	X(FRAGMENT_FLUSHED, "fragment_flushed_dropped", DROP,                                      \
	  "fragments still waiting when the worker stopped")                                       \
	X(UNTRACKED, "untracked_forwarded", FORWARD,                                               \
	  "SMTP packets of sessions not tracked (no SYN seen, or after the flow ended)")           \
	X(TABLE_FULL, "table_full_forwarded", FORWARD,                                             \
	  "SYNs of sessions not tracked because the flow table was full (fail open)")              \
	X(PASSTHROUGH, "passthrough_forwarded", FORWARD,                                           \
	  "packets of sessions no longer inspected: forwarded untouched")                          \
	X(HANDSHAKE, "handshake_forwarded", FORWARD,                                               \
	  "SYN, SYN-ACK and their retransmissions of tracked sessions")                            \
	X(HANDSHAKE_OTHER, "handshake_other_forwarded", FORWARD,                                   \
	  "segments of a tracked session before its handshake completed, and SYNs that match "     \
	  "nothing: forwarded, the end host decides")                                              \
	X(INSPECTED, "inspected_forwarded", FORWARD,                                               \
	  "segments of inspected sessions: checked, parsed where new, forwarded")                  \
	X(SMTP_HELD, "smtp_held_dropped", DROP,                                                    \
	  "client segments starting at bytes the SMTP tracker holds until the server's reply "     \
	  "(after DATA, BDAT, AUTH, STARTTLS, or a full pipeline): the client sends them again")   \
	X(SMTP_HELD_CUT, "smtp_held_cut_forwarded", FORWARD,                                       \
	  "client segments cut where the SMTP tracker holds the rest until the server's reply")    \
	X(RST_ACCEPTED, "rst_forwarded", FORWARD,                                                  \
	  "RSTs at exactly the next sequence number: forwarded, the session freed")                \
	X(RST_IN_WINDOW, "rst_in_window_forwarded", FORWARD,                                       \
	  "in-window RSTs that do not match exactly: forwarded, session kept (RFC 5961 3.2)")      \
	X(RST_OUT_OF_WINDOW, "rst_out_of_window_dropped", DROP,                                    \
	  "RSTs outside the receive window: dropped (RFC 5961 3.2)")                               \
	X(STREAM_CONFLICT, "conflict_dropped", DROP,                                               \
	  "segments repeating bytes already forwarded with different content: first copy wins")    \
	X(STREAM_OOO_FULL, "ooo_full_dropped", DROP,                                               \
	  "out-of-order segments with no room to hold them: the sender retransmits")               \
	X(STREAM_OUT_OF_WINDOW, "out_of_window_dropped", DROP,                                     \
	  "segments beyond the receiver's window (RFC 9293 3.10.7.4)")                             \
	X(TAKEOVER_BEFORE_CUT, "takeover_before_cut_forwarded", FORWARD,                           \
	  "client segments of a waiting takeover that end before the rejected command, and pure "  \
	  "ACKs")                                                                                  \
	X(TAKEOVER_CUT, "takeover_cut_forwarded", FORWARD,                                         \
	  "client segments trimmed at the rejected command: the part before it forwarded")         \
	X(TAKEOVER_AFTER_CUT, "takeover_dropped", DROP,                                            \
	  "client bytes from the rejected command on, while the takeover waits for quiet: never "  \
	  "reach the server")                                                                      \
	X(TAKEOVER_SERVER, "takeover_server_dropped", DROP,                                        \
	  "server segments after helogate reset the server")                                       \
	X(TAKEOVER_ANSWERED, "takeover_answered", ANSWERED,                                        \
	  "client segments of a taken-over session: consumed, helogate answers")                   \
	X(TAKEOVER_CLIENT_RST, "takeover_client_rst", ANSWERED,                                    \
	  "client RSTs ending a taken-over session")                                               \
	X(TX_FULL, "tx_full_dropped", DROP,                                                        \
	  "packets that found their transmit batch full (cannot happen with bursts below its "     \
	  "size)")                                                                                 \
	X(TX_FAILED, "tx_failed", DROP, "packets the port would not take after retries (freed)")

enum packet_cause {
#define PACKET_CAUSE_ENUM(sym, name, kind, desc) CAUSE_##sym,
	PACKET_CAUSES(PACKET_CAUSE_ENUM)
#undef PACKET_CAUSE_ENUM
	    CAUSE_COUNT
};

/* What happens to the packet. */
enum dispose_pkt {
	DISPOSE_FORWARD,     /* to the other side, unchanged */
	DISPOSE_FORWARD_CUT, /* to the other side, payload trimmed to keep bytes, FIN cleared */
	DISPOSE_DROP,        /* freed */
	DISPOSE_ANSWERED,    /* freed: helogate consumed it (a taken-over session) */
};

/* What happens to the packet's flow, after the packet. */
enum dispose_flow {
	DISPOSE_FLOW_KEEP,
	DISPOSE_FLOW_PASS, /* stop inspecting: forwarded untouched until it ends */
	DISPOSE_FLOW_FREE, /* the session is over */
};

/* Rewrites of a forwarded segment (bits of struct disposition's normalize). */
#define DISPOSE_CLEAR_URG 0x01 /* clear URG and the urgent pointer: all bytes inline */

struct disposition {
	uint8_t pkt;       /* enum dispose_pkt */
	uint8_t flow;      /* enum dispose_flow */
	uint8_t cause;     /* enum packet_cause */
	uint8_t normalize; /* DISPOSE_CLEAR_URG, for forwarded segments */
	uint32_t keep;     /* DISPOSE_FORWARD_CUT: payload bytes kept */
};

_Static_assert(CAUSE_COUNT <= 255, "a cause fits struct disposition");

static inline struct disposition dispose(enum dispose_pkt pkt, enum packet_cause cause)
{
	return (struct disposition){.pkt = (uint8_t)pkt, .cause = (uint8_t)cause};
}

static inline struct disposition dispose_forward(enum packet_cause cause)
{
	return dispose(DISPOSE_FORWARD, cause);
}

static inline struct disposition dispose_drop(enum packet_cause cause)
{
	return dispose(DISPOSE_DROP, cause);
}

static inline struct disposition dispose_cut(enum packet_cause cause, uint32_t keep)
{
	struct disposition d = dispose(DISPOSE_FORWARD_CUT, cause);

	d.keep = keep;
	return d;
}

/* d with the flow's fate set. */
static inline struct disposition dispose_with_flow(struct disposition d, enum dispose_flow flow)
{
	d.flow = (uint8_t)flow;
	return d;
}

/* The counter name of a cause ("fast_path", ...); "unknown" out of range. */
const char *packet_cause_name(enum packet_cause cause);
const char *packet_cause_description(enum packet_cause cause);
/* True for causes whose packets are freed (DROP and ANSWERED). */
int packet_cause_is_drop(enum packet_cause cause);

#endif
