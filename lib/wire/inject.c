#include "wire/inject.h"

#include <string.h>

#include "wire/cksum.h"

bool inject_template_init(struct inject_template *t, const uint8_t *frame,
                          const struct pkt_info *pi)
{
	if (pi->l3_offset > INJECT_L2_MAX)
		return false;
	memset(t, 0, sizeof(*t));
	memcpy(t->l2, frame, pi->l3_offset);
	t->l2_len = (uint8_t)pi->l3_offset;
	t->ip_version = pi->ip_version;
	t->client = pi->src;
	t->server = pi->dst;
	t->client_port = pi->src_port;
	t->server_port = pi->dst_port;
	return true;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

uint32_t inject_build(const struct inject_template *t, const struct inject_segment *seg,
                      uint8_t *buf, uint32_t size)
{
	uint32_t ip_len = t->ip_version == 4 ? 20 : 40;
	uint32_t tcp_len = seg->mss ? 40 : seg->timestamps ? 32 : 20;
	uint32_t len = t->l2_len + ip_len + tcp_len + seg->payload_len;
	uint32_t frame_len = len < 60 ? 60 : len;

	if (frame_len > size)
		return 0;
	memset(buf, 0, frame_len);
	memcpy(buf, t->l2, t->l2_len);
	if (seg->to_client) {
		/* The reply goes back the way the client's packet came. */
		memcpy(buf, t->l2 + 6, 6);
		memcpy(buf + 6, t->l2, 6);
	}
	const struct ip_addr *src = seg->to_client ? &t->server : &t->client;
	const struct ip_addr *dst = seg->to_client ? &t->client : &t->server;
	uint8_t *ip = buf + t->l2_len;
	uint8_t *tcp = ip + ip_len;
	if (t->ip_version == 4) {
		ip[0] = 0x45;
		put16(ip + 2, (uint16_t)(ip_len + tcp_len + seg->payload_len));
		put16(ip + 4, seg->ip_id);
		ip[6] = 0x40; /* DF */
		ip[8] = 64;
		ip[9] = 6;
		memcpy(ip + 12, src->bytes, 4);
		memcpy(ip + 16, dst->bytes, 4);
		uint16_t c = cksum_ipv4_header(ip, 20);
		memcpy(ip + 10, &c, 2);
	} else {
		ip[0] = 0x60;
		put16(ip + 4, (uint16_t)(tcp_len + seg->payload_len));
		ip[6] = 6;
		ip[7] = 64;
		memcpy(ip + 8, src->bytes, 16);
		memcpy(ip + 24, dst->bytes, 16);
	}
	put16(tcp, seg->to_client ? t->server_port : t->client_port);
	put16(tcp + 2, seg->to_client ? t->client_port : t->server_port);
	put32(tcp + 4, seg->seq);
	put32(tcp + 8, seg->ack);
	tcp[12] = (uint8_t)((tcp_len / 4) << 4);
	tcp[13] = seg->flags;
	put16(tcp + 14, seg->window);
	if (seg->mss) {
		/* MSS, SACK-permitted, TS, NOP, WS: the order Linux sends. */
		tcp[20] = 2, tcp[21] = 4;
		put16(tcp + 22, seg->mss);
		tcp[24] = 4, tcp[25] = 2;
		tcp[26] = 8, tcp[27] = 10;
		put32(tcp + 28, seg->tsval);
		put32(tcp + 32, seg->tsecr);
		tcp[36] = 1;
		tcp[37] = 3, tcp[38] = 3, tcp[39] = seg->wscale;
	} else if (seg->timestamps) {
		tcp[20] = 1; /* NOP, NOP, kind 8 length 10: RFC 7323 appendix A layout */
		tcp[21] = 1;
		tcp[22] = 8;
		tcp[23] = 10;
		put32(tcp + 24, seg->tsval);
		put32(tcp + 28, seg->tsecr);
	}
	if (seg->payload_len > 0)
		memcpy(tcp + tcp_len, seg->payload, seg->payload_len);
	uint16_t c = t->ip_version == 4
	                 ? cksum_tcp_ipv4(ip + 12, ip + 16, tcp, tcp_len + seg->payload_len)
	                 : cksum_tcp_ipv6(ip + 8, ip + 24, tcp, tcp_len + seg->payload_len);
	memcpy(tcp + 16, &c, 2);
	return frame_len;
}
