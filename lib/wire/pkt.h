/*
 * pkt: parse one Ethernet frame (L2 tags, IPv4/IPv6, TCP) into a small
 * descriptor, so that no later stage parses headers again.
 *
 * Owns no state; never allocates, never writes the frame, never reads a byte
 * at or past frame_len (fuzzed under ASan). The frame may have any alignment.
 * It does not verify checksums (the NIC may have); pkt_ipv4_checksum_ok()
 * and pkt_tcp_checksum_ok() do that in software when the caller wants it.
 * It does not judge flag combinations or sequence numbers (the flow and
 * stream modules do), and knows nothing of mbufs, flows or SMTP.
 */
#ifndef HG_PKT_H
#define HG_PKT_H

#include <stdbool.h>
#include <stdint.h>

#include "wire/addr.h"

/*
 * Every parse result, defined once. Columns: symbol (PKT_<sym>), counter
 * name, one-line description. The action the worker takes for each is given
 * by pkt_result_action() and listed here (reliability rules 1 and 3):
 *
 *   TCP                      inspect: every field of struct pkt_info is valid
 *   NOT_IP                   forward untouched, fast path
 *   NOT_TCP                  forward untouched, fast path
 *   FRAGMENT                 reassemble (dp/reassembly; wire/frag judges it first)
 *   IPV6_ROUTED              forward untouched, fast path
 *   TOO_MANY_VLANS           forward untouched, fast path
 *   TRUNCATED_L2             forward untouched, fast path
 *   TRUNCATED_L3             forward untouched, fast path
 *   BAD_IP_VERSION           forward untouched, fast path
 *   BAD_IP_HEADER_LEN        drop (a TCP datagram the end host drops too)
 *   BAD_IP_TOTAL_LEN         drop (idem)
 *   TRUNCATED_L4             drop (idem)
 *   BAD_TCP_DATA_OFFSET      drop (idem)
 *   IPV6_EXT_CHAIN_TOO_LONG  drop, whatever it carries (no end host needs 9)
 *   BAD_TCP_OPTIONS          inspect, with the options before the malformed one
 *                            (Linux's tcp_parse_options stops there and accepts
 *                            the segment)
 *
 * A drop result is returned only once the datagram is known to carry TCP;
 * anything malformed before that point is forwarded (fail open). The one
 * exception is an IPv6 chain longer than the walk: what it carries cannot be
 * known without walking further, so it is dropped whatever it carries.
 */
#define PKT_RESULTS(X)                                                                             \
	X(TCP, "tcp", "a TCP segment, fully parsed")                                               \
	X(NOT_IP, "not-ip", "an ethertype other than IPv4 or IPv6 (ARP, LLDP, 802.3 length)")      \
	X(NOT_TCP, "not-tcp", "an IP datagram carrying another protocol (UDP, ICMP, ESP, none)")   \
	X(FRAGMENT, "fragment", "an IPv4 or IPv6 fragment; its TCP header is not examined")        \
	X(IPV6_ROUTED, "ipv6-routed",                                                              \
	  "an IPv6 routing header with segments left: the destination is not the final one")       \
	X(TOO_MANY_VLANS, "too-many-vlans", "more than two VLAN tags")                             \
	X(TRUNCATED_L2, "truncated-l2", "the frame ends inside the Ethernet header or a VLAN tag") \
	X(TRUNCATED_L3, "truncated-l3",                                                            \
	  "the IP fixed header or an IPv6 extension header does not fit in the frame/datagram")    \
	X(BAD_IP_VERSION, "bad-ip-version", "the IP version field does not match the ethertype")   \
	X(IPV6_EXT_CHAIN_TOO_LONG, "ipv6-ext-chain-too-long",                                      \
	  "more than 8 IPv6 extension headers before the upper-layer header")                      \
	X(BAD_IP_HEADER_LEN, "bad-ip-header-len",                                                  \
	  "IPv4 IHL below 5, or a header longer than the datagram")                                \
	X(BAD_IP_TOTAL_LEN, "bad-ip-total-len",                                                    \
	  "the IP length claims more bytes than the frame holds, or fewer than 20 (IPv4)")         \
	X(TRUNCATED_L4, "truncated-l4", "the IP datagram is too short for a 20-byte TCP header")   \
	X(BAD_TCP_DATA_OFFSET, "bad-tcp-data-offset",                                              \
	  "TCP data offset below 5 or past the end of the IP datagram")                            \
	X(BAD_TCP_OPTIONS, "bad-tcp-options",                                                      \
	  "a TCP option length of 0 or 1, or overrunning the header")

enum pkt_result {
#define PKT_RESULT_ENUM(sym, name, desc) PKT_##sym,
	PKT_RESULTS(PKT_RESULT_ENUM)
#undef PKT_RESULT_ENUM
	    PKT_RESULT_COUNT
};

/* What the worker does with a frame, by result (see the table above). */
enum pkt_action {
	PKT_ACTION_INSPECT,    /* track the flow and look at the segment */
	PKT_ACTION_FORWARD,    /* forward untouched without a flow lookup, count */
	PKT_ACTION_DROP,       /* drop and count */
	PKT_ACTION_REASSEMBLE, /* a fragment: reassemble, then handle the datagram */
};

#define TCP_FLAG_FIN 0x01
#define TCP_FLAG_SYN 0x02
#define TCP_FLAG_RST 0x04
#define TCP_FLAG_PSH 0x08
#define TCP_FLAG_ACK 0x10
#define TCP_FLAG_URG 0x20
#define TCP_FLAG_ECE 0x40
#define TCP_FLAG_CWR 0x80

/* Bits of tcp_options.present. */
#define TCP_OPT_MSS 0x01
#define TCP_OPT_WSCALE 0x02
#define TCP_OPT_SACK_PERM 0x04
#define TCP_OPT_TIMESTAMP 0x08
#define TCP_OPT_MD5 0x10 /* TCP MD5 signature (kind 19, RFC 2385) */
#define TCP_OPT_AO 0x20  /* TCP authentication option (kind 29, RFC 5925) */

/* The TCP options helogate uses. A field is meaningful only when its bit is
 * in present. Options are reported whatever the flags say; the caller decides
 * whether they count (MSS, WS and SACK-permitted mean something only on a
 * SYN: RFC 9293 3.7.1, RFC 7323 2.2, RFC 2018 2). An option with the wrong
 * length for its kind is ignored, as Linux and the BSDs do; of a repeated
 * option the last one wins. */
struct tcp_options {
	uint8_t present; /* TCP_OPT_* */
	uint8_t wscale;  /* shift count, already clamped to 14 (RFC 7323 2.3) */
	uint16_t mss;
	uint32_t tsval, tsecr;
};

/*
 * The parsed frame. All multi-byte numbers are in host order; offsets count
 * bytes from the start of the frame. What is valid depends on the result:
 *   PKT_TCP, PKT_BAD_TCP_OPTIONS: everything (for BAD_TCP_OPTIONS, opts has
 *     only the options before the malformed one), with
 *     l3_offset < l4_offset < payload_offset <= ip_end <= frame_len.
 *   PKT_NOT_TCP, PKT_FRAGMENT, PKT_IPV6_ROUTED, PKT_IPV6_EXT_CHAIN_TOO_LONG,
 *   the drop results and TRUNCATED_L3 after the fixed header: the L2 fields,
 *     l3_offset, ip_version, ttl, src, dst.
 *   Other results: the L2 fields as far as they were parsed.
 * Every field not valid for the result is zero.
 * The first 64 bytes hold what every TCP segment needs (flow key, sequence
 * numbers, flags, payload); tags, TTL and options follow. Header offsets fit
 * 16 bits (all headers end within 16.5 KiB of the frame start: 8 extension
 * headers of at most 2 KiB); ip_end and payload_len need 32.
 */
struct pkt_info {
	struct ip_addr src;
	struct ip_addr dst;
	uint8_t ip_version; /* 4 or 6 */
	uint8_t tcp_flags;  /* TCP_FLAG_* */
	uint16_t src_port;
	uint16_t dst_port;
	uint32_t seq;
	uint32_t ack;
	uint16_t window; /* as on the wire, not scaled */
	uint16_t payload_offset;
	uint32_t payload_len; /* from the IP length: Ethernet padding excluded */
	uint16_t l3_offset;
	uint16_t l4_offset;
	uint32_t ip_end; /* where the IP datagram ends; padding may follow */
	uint8_t ttl;     /* IPv4 TTL or IPv6 hop limit */
	uint8_t vlan_count;
	uint16_t vlan_tci[2]; /* outer first */
	uint16_t urgent;
	struct tcp_options opts;
};

/*
 * Parse frame[0..frame_len) and fill *out (always fully written: fields not
 * valid for the result are zero). Returns the result; see PKT_RESULTS.
 * Never reads frame[frame_len] or beyond, whatever the headers claim.
 * Pure and thread-safe; out must not overlap frame.
 */
enum pkt_result pkt_parse(const uint8_t *frame, uint32_t frame_len, struct pkt_info *out);

/* True when the stored TCP checksum is correct over [l4_offset, ip_end) with
 * the IPv4 or IPv6 pseudo-header. info must come from pkt_parse() of the same
 * frame with result PKT_TCP or PKT_BAD_TCP_OPTIONS. */
bool pkt_tcp_checksum_ok(const uint8_t *frame, const struct pkt_info *info);

/* True when the IPv4 header checksum over [l3_offset, l4_offset) is correct.
 * Same precondition as pkt_tcp_checksum_ok(), and ip_version 4. */
bool pkt_ipv4_checksum_ok(const uint8_t *frame, const struct pkt_info *info);

/* The counter name ("tcp", "not-ip", ...); "unknown" when out of range. */
const char *pkt_result_name(enum pkt_result result);

/* The one-line description; "unknown result" when out of range. */
const char *pkt_result_description(enum pkt_result result);

/* The defined action for a result; PKT_ACTION_FORWARD when out of range. */
enum pkt_action pkt_result_action(enum pkt_result result);

/*
 * Clear the URG flag and the urgent pointer of a parsed TCP segment in
 * place, updating its checksum incrementally (RFC 1624), so that the
 * receiver reads every byte inline (RFC 6093 4: hosts differ on urgent
 * data).
 */
void pkt_clear_urgent(uint8_t *frame, const struct pkt_info *info);

/*
 * Rewrite a parsed TCP segment in place to carry only its first keep payload
 * bytes (keep <= info->payload_len) and no FIN: IP length, IPv4 header
 * checksum and TCP checksum are recomputed. Returns the frame's new length
 * (info->payload_offset + keep); the caller trims the buffer to it.
 */
uint32_t pkt_cut_payload(uint8_t *frame, const struct pkt_info *info, uint32_t keep);

#endif
