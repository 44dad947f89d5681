#include "wire/frag.h"

#include <string.h>

#include "wire/cksum.h"

#define IPV6_HLEN 40
#define FRAG_HLEN 8
#define TCP_HLEN 20
#define IP_PROTO_TCP 6
#define IP_PROTO_FRAGMENT 44
#define IPV6_EXT_MAX 8 /* as pkt_parse() walks */
#define IP_MAX_LEN 65535

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* RFC 1858 3.1 (and RFC 8200 4.5 for IPv6): the first fragment holds the
 * whole TCP header, options included, so no later fragment can rewrite the
 * ports or flags that inspection read. */
static bool tcp_header_fits(const uint8_t *p, uint32_t len)
{
	return len >= TCP_HLEN && len >= (uint32_t)(p[12] >> 4) * 4;
}

/* The extension headers pkt_parse() walks (RFC 8200 4.3-4.6, RFC 4302). */
static bool ext_walkable(uint8_t nh)
{
	return nh == 0 || nh == 43 || nh == 60 || nh == 51;
}

static uint32_t ext_len(uint8_t nh, const uint8_t *h)
{
	return nh == 51 ? ((uint32_t)h[1] + 2) * 4 : ((uint32_t)h[1] + 1) * 8;
}

/* RFC 791 and RFC 8200 4.5: every fragment but the last holds a multiple
 * of 8 bytes, and none reaches past the largest datagram. max_end is where
 * the data may end at most. */
static bool lengths_ok(const struct frag_info *fi, uint32_t max_end)
{
	if (fi->len == 0 || (fi->more && fi->len % 8 != 0))
		return false;
	return fi->offset + fi->len <= max_end;
}

static enum frag_verdict check_ipv4(const uint8_t *frame, const struct pkt_info *pi,
                                    struct frag_info *out)
{
	/* pkt_parse() checked IHL, the total length and the protocol (TCP). */
	const uint8_t *ip = frame + pi->l3_offset;
	uint32_t ihl = (uint32_t)(ip[0] & 0x0f) * 4;
	uint16_t fo = rd16(ip + 6);

	out->l2_len = pi->l3_offset;
	out->l3_len = (uint16_t)ihl;
	out->offset = (uint32_t)(fo & 0x1fff) * 8;
	out->len = rd16(ip + 2) - ihl;
	out->more = (fo & 0x2000) != 0;
	if (!lengths_ok(out, IP_MAX_LEN - ihl))
		return FRAG_MALFORMED;
	if (out->offset == 8) /* RFC 1858 3.1: could rewrite the TCP flags */
		return FRAG_TINY;
	if (out->offset == 0 && !tcp_header_fits(ip + ihl, out->len))
		return FRAG_TINY;
	return FRAG_HOLD;
}

/* The first fragment's data p[0..len), whose first header is nh: true when
 * it holds every extension header and the whole TCP header (RFC 8200 4.5,
 * RFC 7112), or carries another protocol. n: headers walked so far. */
static bool ipv6_first_fragment_ok(const uint8_t *p, uint32_t len, uint8_t nh, unsigned n)
{
	uint32_t off = 0;

	while (nh != IP_PROTO_TCP) {
		if (!ext_walkable(nh) || n == IPV6_EXT_MAX)
			return true; /* not TCP, or a chain the parse drops after reassembly */
		if (len - off < 8)
			return false;
		uint32_t l = ext_len(nh, p + off);
		if (len - off < l)
			return false;
		nh = p[off];
		off += l;
		n++;
	}
	return tcp_header_fits(p + off, len - off);
}

static enum frag_verdict check_ipv6(const uint8_t *frame, uint32_t frame_len,
                                    const struct pkt_info *pi, struct frag_info *out)
{
	const uint8_t *ip = frame + pi->l3_offset;
	uint32_t first = pi->l3_offset + IPV6_HLEN;
	uint32_t declared_end = first + rd16(ip + 4);
	uint32_t end = declared_end < frame_len ? declared_end : frame_len;
	uint32_t off = first;
	uint8_t nh = ip[6];
	unsigned n = 0;

	/* pkt_parse() walked this chain to the fragment header; walk it again
	 * (defensively) to find where that header is. */
	while (nh != IP_PROTO_FRAGMENT) {
		if (!ext_walkable(nh) || n == IPV6_EXT_MAX || end - off < 8)
			return FRAG_MALFORMED;
		uint32_t l = ext_len(nh, frame + off);
		if (end - off < l)
			return FRAG_MALFORMED;
		nh = frame[off];
		off += l;
		n++;
	}
	if (end - off < FRAG_HLEN)
		return FRAG_MALFORMED;
	const uint8_t *fh = frame + off;
	uint8_t upper = fh[0];
	uint16_t fo = rd16(fh + 2);

	if (upper == IP_PROTO_FRAGMENT)
		return FRAG_UNSUPPORTED;
	if (upper != IP_PROTO_TCP && !ext_walkable(upper))
		return FRAG_NOT_TCP;
	/* rte_ip_frag rewrites the fixed header's next-header field: it
	 * reassembles only a fragment header right after it. */
	if (off != first)
		return FRAG_UNSUPPORTED;
	if (declared_end > frame_len || declared_end < off + FRAG_HLEN)
		return FRAG_MALFORMED;
	out->l2_len = pi->l3_offset;
	out->l3_len = IPV6_HLEN + FRAG_HLEN;
	out->offset = fo & 0xfff8u;
	out->len = declared_end - off - FRAG_HLEN;
	out->more = (fo & 1) != 0;
	if (!lengths_ok(out, IP_MAX_LEN))
		return FRAG_MALFORMED;
	if (out->offset == 8)
		return FRAG_TINY;
	if (out->offset == 0 && !ipv6_first_fragment_ok(fh + FRAG_HLEN, out->len, upper, n + 1))
		return FRAG_TINY;
	return FRAG_HOLD;
}

enum frag_verdict frag_check(const uint8_t *frame, uint32_t frame_len, const struct pkt_info *pi,
                             struct frag_info *out)
{
	memset(out, 0, sizeof(*out));
	out->ip_version = pi->ip_version;
	if (pi->ip_version == 4)
		return check_ipv4(frame, pi, out);
	return check_ipv6(frame, frame_len, pi, out);
}

bool frag_ipv4_header_ok(const uint8_t *frame, const struct frag_info *fi)
{
	return cksum_ipv4_header(frame + fi->l2_len, fi->l3_len) == 0;
}

static const char *const verdict_names[] = {
#define FRAG_VERDICT_NAME(sym, name, desc) [FRAG_##sym] = name,
    FRAG_VERDICTS(FRAG_VERDICT_NAME)
#undef FRAG_VERDICT_NAME
};

const char *frag_verdict_name(enum frag_verdict v)
{
	if ((unsigned)v >= FRAG_VERDICT_COUNT)
		return "unknown";
	return verdict_names[v];
}
