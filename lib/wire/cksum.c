#include "wire/cksum.h"

#include <string.h>

/*
 * Words are loaded in host order with memcpy (any alignment) and summed
 * without byte swapping: the one's-complement sum is byte-order independent
 * and the folded result, stored back with memcpy, is the network-order value
 * (RFC 1071 2(B)). Summing 32-bit words instead of 16-bit ones gives the same
 * folded sum, since 2^16 = 1 modulo 2^16 - 1 (RFC 1071 2(C)); 32-bit words
 * added into 64-bit accumulators need no carry handling until 2^32 additions.
 * Four independent accumulators, 16 bytes a step: 1460 bytes in 135-200 TSC
 * cycles, against 255-340 for one 64-bit add-with-carry chain (docs/design.md).
 */

static uint32_t fold64(uint64_t acc)
{
	acc = (acc & 0xffffffff) + (acc >> 32);
	acc = (acc & 0xffffffff) + (acc >> 32);
	return (uint32_t)acc;
}

uint32_t cksum_add(uint32_t sum, const void *data, size_t len)
{
	const uint8_t *p = data;
	uint64_t a0 = sum, a1 = 0, a2 = 0, a3 = 0;
	uint32_t w[4];
	uint16_t w16;

	for (; len >= 16; p += 16, len -= 16) {
		memcpy(w, p, 16);
		a0 += w[0];
		a1 += w[1];
		a2 += w[2];
		a3 += w[3];
	}
	a0 += a1 + a2 + a3;
	for (; len >= 4; p += 4, len -= 4) {
		memcpy(w, p, 4);
		a0 += w[0];
	}
	if (len >= 2) {
		memcpy(&w16, p, 2);
		a0 += w16;
		p += 2;
		len -= 2;
	}
	if (len) {
		/* The odd byte is the high-order byte of a zero-padded word. */
		const uint8_t last[2] = {p[0], 0};

		memcpy(&w16, last, 2);
		a0 += w16;
	}
	return fold64(a0);
}

uint16_t cksum_finish(uint32_t sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

uint16_t cksum_ipv4_header(const void *hdr, size_t hdr_len)
{
	return cksum_finish(cksum_add(0, hdr, hdr_len));
}

uint16_t cksum_tcp_ipv4(const uint8_t src[4], const uint8_t dst[4], const void *seg, size_t seg_len)
{
	/* RFC 9293 3.1: zero, protocol, TCP length (16 bits). */
	const uint8_t tail[4] = {0, 6, (uint8_t)(seg_len >> 8), (uint8_t)seg_len};
	uint32_t sum = cksum_add(0, src, 4);

	sum = cksum_add(sum, dst, 4);
	sum = cksum_add(sum, tail, sizeof(tail));
	return cksum_finish(cksum_add(sum, seg, seg_len));
}

uint16_t cksum_tcp_ipv6(const uint8_t src[16], const uint8_t dst[16], const void *seg,
                        size_t seg_len)
{
	/* RFC 8200 8.1: upper-layer length (32 bits), three zero bytes, next header. */
	uint8_t tail[8] = {0, 0, 0, 0, 0, 0, 0, 6};
	uint32_t sum;

	for (int i = 0; i < 4; i++)
		tail[i] = (uint8_t)(seg_len >> (24 - 8 * i));
	sum = cksum_add(0, src, 16);
	sum = cksum_add(sum, dst, 16);
	sum = cksum_add(sum, tail, sizeof(tail));
	return cksum_finish(cksum_add(sum, seg, seg_len));
}

uint16_t cksum_update16(uint16_t stored, uint16_t old_value, uint16_t new_value)
{
	/* RFC 1624 eqn. 3, HC' = ~(~HC + ~m + m'): eqn. 2 (RFC 1141's) can
	 * give -0 where a full recompute gives +0 (RFC 1624 3). */
	uint32_t sum = (uint16_t)~stored + (uint32_t)(uint16_t)~old_value + new_value;

	return cksum_finish(sum);
}
