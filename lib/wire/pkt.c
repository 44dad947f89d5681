#include "wire/pkt.h"

#include <stddef.h>
#include <string.h>

#include "wire/cksum.h"

#define ETH_HLEN 14
#define IPV4_HLEN 20
#define IPV6_HLEN 40
#define TCP_HLEN 20
#define IP_PROTO_TCP 6
#define IPV6_EXT_MAX 8

_Static_assert(sizeof(struct pkt_info) <= 96, "pkt_info is read on every packet");
_Static_assert(offsetof(struct pkt_info, ip_end) + 4 <= 64,
               "the per-segment fields share one cache line");

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void set_addr(struct ip_addr *a, uint8_t family, const uint8_t *bytes, size_t len)
{
	a->family = family;
	memcpy(a->bytes, bytes, len);
}

/* Returns false on a malformed length; options parsed so far stay in *o. */
static bool parse_tcp_options(const uint8_t *p, uint32_t len, struct tcp_options *o)
{
	uint32_t i = 0;

	/* NOP, NOP, timestamps: all a Linux or BSD peer sends after the
	 * handshake; read directly, as the loop below would read it. */
	if (len == 12 && rd32(p) == 0x0101080au) {
		o->tsval = rd32(p + 4);
		o->tsecr = rd32(p + 8);
		o->present |= TCP_OPT_TIMESTAMP;
		return true;
	}
	while (i < len) {
		uint8_t kind = p[i];
		uint8_t olen;
		const uint8_t *v;

		if (kind == 0) /* EOL: the rest is padding (RFC 9293 3.1) */
			break;
		if (kind == 1) {
			i++;
			continue;
		}
		if (len - i < 2)
			return false;
		olen = p[i + 1];
		if (olen < 2 || olen > len - i)
			return false;
		v = p + i + 2;
		switch (kind) {
		case 2:
			if (olen == 4) {
				o->mss = rd16(v);
				o->present |= TCP_OPT_MSS;
			}
			break;
		case 3:
			if (olen == 3) {
				/* RFC 7323 2.3: a shift above 14 MUST be used as 14. */
				o->wscale = v[0] > 14 ? 14 : v[0];
				o->present |= TCP_OPT_WSCALE;
			}
			break;
		case 4:
			if (olen == 2)
				o->present |= TCP_OPT_SACK_PERM;
			break;
		case 19:
			o->present |= TCP_OPT_MD5;
			break;
		case 29:
			o->present |= TCP_OPT_AO;
			break;
		case 8:
			if (olen == 10) {
				o->tsval = rd32(v);
				o->tsecr = rd32(v + 4);
				o->present |= TCP_OPT_TIMESTAMP;
			}
			break;
		default:
			break;
		}
		i += olen;
	}
	return true;
}

/* The caller guarantees l4 <= ip_end <= frame_len. */
static enum pkt_result parse_tcp(const uint8_t *frame, uint32_t l4, uint32_t ip_end,
                                 struct pkt_info *out)
{
	const uint8_t *th = frame + l4;
	uint32_t doff;
	bool opts_ok;

	if (ip_end - l4 < TCP_HLEN)
		return PKT_TRUNCATED_L4;
	doff = (uint32_t)(th[12] >> 4) * 4;
	if (doff < TCP_HLEN || doff > ip_end - l4)
		return PKT_BAD_TCP_DATA_OFFSET;

	out->src_port = rd16(th);
	out->dst_port = rd16(th + 2);
	out->seq = rd32(th + 4);
	out->ack = rd32(th + 8);
	out->tcp_flags = th[13];
	out->window = rd16(th + 14);
	out->urgent = rd16(th + 18);
	out->l4_offset = (uint16_t)l4;
	out->payload_offset = (uint16_t)(l4 + doff);
	out->payload_len = ip_end - l4 - doff;
	out->ip_end = ip_end;
	opts_ok = parse_tcp_options(th + TCP_HLEN, doff - TCP_HLEN, &out->opts);
	/* RFC 9293 3.1 (MUST-7) lets a host reset the connection on an illegal
	 * option length, while Linux and the BSDs ignore the rest of the
	 * options: the server's reading is unknown, so the flow is ambiguous. */
	return opts_ok ? PKT_TCP : PKT_BAD_TCP_OPTIONS;
}

static enum pkt_result parse_ipv4(const uint8_t *frame, uint32_t frame_len, uint32_t l3,
                                  struct pkt_info *out)
{
	const uint8_t *ip = frame + l3;
	uint32_t ihl, total;

	if (frame_len - l3 < IPV4_HLEN)
		return PKT_TRUNCATED_L3;
	if (ip[0] >> 4 != 4)
		return PKT_BAD_IP_VERSION;
	out->l3_offset = (uint16_t)l3;
	out->ip_version = 4;
	out->ttl = ip[8];
	set_addr(&out->src, 4, ip + 12, 4);
	set_addr(&out->dst, 4, ip + 16, 4);
	/* The protocol is known before any length is trusted, so a drop result
	 * is only ever given to TCP; other traffic passes however malformed. */
	if (ip[9] != IP_PROTO_TCP)
		return PKT_NOT_TCP;

	ihl = (uint32_t)(ip[0] & 0x0f) * 4;
	total = rd16(ip + 2);
	if (ihl < IPV4_HLEN)
		return PKT_BAD_IP_HEADER_LEN;
	/* RFC 791: the total length bounds the datagram; Ethernet padding after
	 * it is legal (short frames are padded to 60 bytes), a shortfall is not. */
	if (total > frame_len - l3 || total < IPV4_HLEN)
		return PKT_BAD_IP_TOTAL_LEN;
	if (total < ihl)
		return PKT_BAD_IP_HEADER_LEN;
	/* MF set or a fragment offset: only reassembly shows the segment. */
	if (rd16(ip + 6) & 0x3fff)
		return PKT_FRAGMENT;
	return parse_tcp(frame, l3 + ihl, l3 + total, out);
}

static enum pkt_result parse_ipv6(const uint8_t *frame, uint32_t frame_len, uint32_t l3,
                                  struct pkt_info *out)
{
	const uint8_t *ip = frame + l3;
	uint32_t declared_end, end, off;
	uint8_t nh;
	unsigned n;

	if (frame_len - l3 < IPV6_HLEN)
		return PKT_TRUNCATED_L3;
	if (ip[0] >> 4 != 6)
		return PKT_BAD_IP_VERSION;
	out->l3_offset = (uint16_t)l3;
	out->ip_version = 6;
	out->ttl = ip[7];
	set_addr(&out->src, 6, ip + 8, 16);
	set_addr(&out->dst, 6, ip + 24, 16);

	declared_end = l3 + IPV6_HLEN + rd16(ip + 4);
	end = declared_end < frame_len ? declared_end : frame_len;
	nh = ip[6];
	off = l3 + IPV6_HLEN;
	for (n = 0; nh != IP_PROTO_TCP; n++) {
		const uint8_t *h = frame + off;
		uint32_t len;

		if (nh != 0 && nh != 43 && nh != 60 && nh != 44 && nh != 51)
			return PKT_NOT_TCP; /* ESP (50), no next header (59), UDP, ... */
		if (n == IPV6_EXT_MAX)
			return PKT_IPV6_EXT_CHAIN_TOO_LONG;
		if (end - off < 8)
			return PKT_TRUNCATED_L3;
		/* RFC 8200 4.3-4.6: lengths in 8-octet units, not counting the
		 * first; AH (RFC 4302 2.2) in 4-octet units, minus 2. */
		if (nh == 44)
			len = 8;
		else if (nh == 51)
			len = ((uint32_t)h[1] + 2) * 4;
		else
			len = ((uint32_t)h[1] + 1) * 8;
		if (end - off < len)
			return PKT_TRUNCATED_L3;
		/* RFC 6946: an atomic fragment (offset 0, M clear) is a whole
		 * packet and is processed as one; any other is a real fragment. */
		if (nh == 44 && (rd16(h + 2) & 0xfff9))
			return PKT_FRAGMENT;
		/* RFC 8200 4.4 and 8.1: with segments left, the destination is a
		 * waypoint, the flow key and the pseudo-header would be wrong. */
		if (nh == 43 && h[3] != 0)
			return PKT_IPV6_ROUTED;
		nh = h[0];
		off += len;
	}
	if (declared_end > frame_len)
		return PKT_BAD_IP_TOTAL_LEN;
	return parse_tcp(frame, off, declared_end, out);
}

enum pkt_result pkt_parse(const uint8_t *frame, uint32_t frame_len, struct pkt_info *out)
{
	uint32_t off = 12; /* the EtherType after the two MAC addresses */
	uint16_t type;

	memset(out, 0, sizeof(*out));
	if (frame_len < ETH_HLEN)
		return PKT_TRUNCATED_L2;
	type = rd16(frame + off);
	/* 802.1Q, 802.1ad and the pre-standard 0x9100, in any order. */
	while (type == 0x8100 || type == 0x88a8 || type == 0x9100) {
		if (out->vlan_count == 2)
			return PKT_TOO_MANY_VLANS;
		if (frame_len - off < 6)
			return PKT_TRUNCATED_L2;
		out->vlan_tci[out->vlan_count++] = rd16(frame + off + 2);
		off += 4;
		type = rd16(frame + off);
	}
	off += 2;
	if (type == 0x0800)
		return parse_ipv4(frame, frame_len, off, out);
	if (type == 0x86dd)
		return parse_ipv6(frame, frame_len, off, out);
	return PKT_NOT_IP;
}

bool pkt_tcp_checksum_ok(const uint8_t *frame, const struct pkt_info *info)
{
	const uint8_t *seg = frame + info->l4_offset;
	size_t len = info->ip_end - info->l4_offset;

	/* Summing over a correct checksum field gives -0, whose inverse is 0. */
	if (info->ip_version == 4)
		return cksum_tcp_ipv4(info->src.bytes, info->dst.bytes, seg, len) == 0;
	return cksum_tcp_ipv6(info->src.bytes, info->dst.bytes, seg, len) == 0;
}

bool pkt_ipv4_checksum_ok(const uint8_t *frame, const struct pkt_info *info)
{
	return cksum_ipv4_header(frame + info->l3_offset,
	                         (size_t)info->l4_offset - info->l3_offset) == 0;
}

static const char *const result_names[] = {
#define PKT_RESULT_NAME(sym, name, desc) [PKT_##sym] = name,
    PKT_RESULTS(PKT_RESULT_NAME)
#undef PKT_RESULT_NAME
};

static const char *const result_descriptions[] = {
#define PKT_RESULT_DESC(sym, name, desc) [PKT_##sym] = desc,
    PKT_RESULTS(PKT_RESULT_DESC)
#undef PKT_RESULT_DESC
};

const char *pkt_result_name(enum pkt_result result)
{
	if ((unsigned)result >= PKT_RESULT_COUNT)
		return "unknown";
	return result_names[result];
}

const char *pkt_result_description(enum pkt_result result)
{
	if ((unsigned)result >= PKT_RESULT_COUNT)
		return "unknown result";
	return result_descriptions[result];
}

enum pkt_action pkt_result_action(enum pkt_result result)
{
	/* No default: -Wswitch makes a new result without an action an error. */
	switch (result) {
	case PKT_TCP:
		return PKT_ACTION_INSPECT;
	case PKT_NOT_IP:
	case PKT_NOT_TCP:
	case PKT_IPV6_ROUTED:
	case PKT_TOO_MANY_VLANS:
	case PKT_TRUNCATED_L2:
	case PKT_TRUNCATED_L3:
	case PKT_BAD_IP_VERSION:
		return PKT_ACTION_FORWARD;
	case PKT_FRAGMENT:
		return PKT_ACTION_REASSEMBLE;
	case PKT_IPV6_EXT_CHAIN_TOO_LONG:
	case PKT_BAD_IP_HEADER_LEN:
	case PKT_BAD_IP_TOTAL_LEN:
	case PKT_TRUNCATED_L4:
	case PKT_BAD_TCP_DATA_OFFSET:
		return PKT_ACTION_DROP;
	case PKT_BAD_TCP_OPTIONS:
		return PKT_ACTION_INSPECT;
	case PKT_RESULT_COUNT:
		break;
	}
	return PKT_ACTION_FORWARD;
}

uint32_t pkt_cut_payload(uint8_t *frame, const struct pkt_info *info, uint32_t keep)
{
	uint8_t *ip = frame + info->l3_offset;
	uint8_t *tcp = frame + info->l4_offset;
	uint32_t tcp_len = info->payload_offset - info->l4_offset + keep;

	if (info->ip_version == 4) {
		uint32_t total = info->l4_offset - info->l3_offset + tcp_len;
		ip[2] = (uint8_t)(total >> 8);
		ip[3] = (uint8_t)total;
		ip[10] = ip[11] = 0;
		uint16_t c = cksum_ipv4_header(ip, info->l4_offset - info->l3_offset);
		memcpy(ip + 10, &c, 2);
	} else {
		/* The payload length counts the extension headers too. */
		uint32_t plen = info->l4_offset - info->l3_offset - 40 + tcp_len;
		ip[4] = (uint8_t)(plen >> 8);
		ip[5] = (uint8_t)plen;
	}
	tcp[13] &= (uint8_t)~TCP_FLAG_FIN;
	tcp[16] = tcp[17] = 0;
	uint16_t c = info->ip_version == 4 ? cksum_tcp_ipv4(ip + 12, ip + 16, tcp, tcp_len)
	                                   : cksum_tcp_ipv6(ip + 8, ip + 24, tcp, tcp_len);
	memcpy(tcp + 16, &c, 2);
	return info->payload_offset + keep;
}

void pkt_clear_urgent(uint8_t *frame, const struct pkt_info *info)
{
	uint8_t *tcp = frame + info->l4_offset;
	uint16_t cksum, old_flags, new_flags, old_ptr, zero = 0;

	memcpy(&cksum, tcp + 16, 2);
	memcpy(&old_flags, tcp + 12, 2);
	memcpy(&old_ptr, tcp + 18, 2);
	tcp[13] &= (uint8_t)~TCP_FLAG_URG;
	memcpy(&new_flags, tcp + 12, 2);
	memset(tcp + 18, 0, 2);
	cksum = cksum_update16(cksum, old_flags, new_flags);
	cksum = cksum_update16(cksum, old_ptr, zero);
	memcpy(tcp + 16, &cksum, 2);
}
