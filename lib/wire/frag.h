/*
 * frag: what one IP fragment is and whether it may wait for reassembly
 * (RFC 791, RFC 8200 4.5, RFC 1858 3.1, RFC 7112, RFC 5722).
 *
 * Owns no state; never allocates, never writes the frame, never reads a byte
 * at or past frame_len. It judges one fragment alone: overlaps between
 * fragments, the table that holds them and their timeout are dp/reassembly's.
 * Knows nothing of mbufs, flows or SMTP.
 */
#ifndef HG_FRAG_H
#define HG_FRAG_H

#include <stdbool.h>
#include <stdint.h>

#include "wire/pkt.h"

/*
 * Every verdict, defined once: symbol (FRAG_<sym>), name, description. The
 * worker's action for each is given in docs/design.md ("IP fragments").
 */
#define FRAG_VERDICTS(X)                                                                           \
	X(HOLD, "hold", "a fragment of a datagram that may carry TCP: reassemble it")              \
	X(NOT_TCP, "not-tcp", "an IPv6 fragment of another protocol (UDP, ICMPv6, ESP)")           \
	X(TINY, "tiny",                                                                            \
	  "a first fragment without the whole header chain and TCP header, or a TCP fragment at "  \
	  "offset 8 (RFC 1858 3.1, RFC 8200 4.5)")                                                 \
	X(MALFORMED, "malformed",                                                                  \
	  "no data, a non-last fragment not a multiple of 8 bytes, a datagram past 65535 bytes, "  \
	  "or a length past the frame")                                                            \
	X(UNSUPPORTED, "unsupported",                                                              \
	  "an IPv6 fragment header after other extension headers, or inside a fragment")

enum frag_verdict {
#define FRAG_VERDICT_ENUM(sym, name, desc) FRAG_##sym,
	FRAG_VERDICTS(FRAG_VERDICT_ENUM)
#undef FRAG_VERDICT_ENUM
	    FRAG_VERDICT_COUNT
};

/* Where a fragment's data lies. Valid for FRAG_HOLD, FRAG_TINY and
 * FRAG_MALFORMED (as far as it was read); zero otherwise. */
struct frag_info {
	uint16_t l2_len;    /* bytes before the IP header */
	uint16_t l3_len;    /* the IPv4 header, or the IPv6 header and the fragment header */
	uint32_t offset;    /* of this fragment's data in the datagram, in bytes */
	uint32_t len;       /* data bytes in this fragment (padding excluded) */
	bool more;          /* more fragments follow (IPv4 MF, IPv6 M) */
	uint8_t ip_version; /* 4 or 6 */
};

/*
 * Judge one fragment. pi must come from pkt_parse() of the same frame with
 * result PKT_FRAGMENT. Fills *out (always fully written). A FRAG_HOLD
 * fragment has l3_len, offset and len as DPDK's rte_ip_frag expects them:
 * an IPv6 one has its fragment header right after the fixed header.
 */
enum frag_verdict frag_check(const uint8_t *frame, uint32_t frame_len, const struct pkt_info *pi,
                             struct frag_info *out);

/* True when the IPv4 header checksum of a fragment judged by frag_check()
 * is correct. */
bool frag_ipv4_header_ok(const uint8_t *frame, const struct frag_info *fi);

/* The name ("hold", ...); "unknown" when out of range. */
const char *frag_verdict_name(enum frag_verdict v);

#endif
