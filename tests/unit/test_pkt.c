/* Unit tests for lib/pkt (frame parsing, checksum checks) and lib/tcp_seq. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "wire/pkt.h"
#include "wire/tcp_seq.h"

/* ---- frame builder: the tests build every frame they parse ---- */

struct frame {
	uint8_t b[4096];
	uint32_t len;
	uint32_t l3;       /* where the IP header starts */
	uint32_t l4;       /* where the TCP (or other L4) header starts */
	int version;       /* 4 or 6 */
	uint8_t *nh_field; /* IPv6: the next-header byte to patch when appending */
};

static const uint8_t SRC4[4] = {192, 0, 2, 10};
static const uint8_t DST4[4] = {198, 51, 100, 25};
static const uint8_t SRC6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x0a};
static const uint8_t DST6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x19};

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

static uint8_t *append(struct frame *f, size_t n)
{
	uint8_t *p = f->b + f->len;

	assert_true(f->len + n <= sizeof(f->b));
	memset(p, 0, n);
	f->len += (uint32_t)n;
	return p;
}

/* Ethernet header with tags[i] = {tpid, tci} and the final ethertype. */
static void eth(struct frame *f, const uint16_t (*tags)[2], int ntags, uint16_t type)
{
	memset(f, 0, sizeof(*f));
	uint8_t *p = append(f, 12);

	for (int i = 0; i < 6; i++) {
		p[i] = (uint8_t)(0x02 + i);
		p[6 + i] = (uint8_t)(0x0a + i);
	}
	for (int i = 0; i < ntags; i++) {
		p = append(f, 4);
		put16(p, tags[i][0]);
		put16(p + 2, tags[i][1]);
	}
	put16(append(f, 2), type);
}

/* IPv4 header with opts_len bytes of NOP options; lengths set by finish(). */
static void ipv4(struct frame *f, uint8_t proto, size_t opts_len)
{
	f->l3 = f->len;
	f->version = 4;
	uint8_t *p = append(f, 20 + opts_len);

	p[0] = (uint8_t)(0x40 | (20 + opts_len) / 4);
	put16(p + 4, 0x1234); /* identification */
	put16(p + 6, 0x4000); /* DF */
	p[8] = 64;
	p[9] = proto;
	memcpy(p + 12, SRC4, 4);
	memcpy(p + 16, DST4, 4);
	memset(p + 20, 1, opts_len);
}

static void ipv6(struct frame *f, uint8_t nh)
{
	f->l3 = f->len;
	f->version = 6;
	uint8_t *p = append(f, 40);

	p[0] = 0x60;
	p[6] = nh;
	p[7] = 57;
	memcpy(p + 8, SRC6, 16);
	memcpy(p + 24, DST6, 16);
}

/* An IPv6 extension header of total length len; returns it for patching. */
static uint8_t *ext(struct frame *f, uint8_t type, uint8_t nh, size_t len)
{
	uint8_t *p = append(f, len);

	p[0] = nh;
	if (type == 51)
		p[1] = (uint8_t)(len / 4 - 2);
	else if (type != 44)
		p[1] = (uint8_t)(len / 8 - 1);
	if (type == 0 || type == 60) {
		p[2] = 1; /* PadN over the rest */
		p[3] = (uint8_t)(len - 4);
	}
	return p;
}

static void tcp(struct frame *f, uint8_t flags, const uint8_t *opts, size_t opts_len)
{
	size_t padded = (opts_len + 3) & ~(size_t)3;

	f->l4 = f->len;
	uint8_t *p = append(f, 20 + padded);

	put16(p, 40001);
	put16(p + 2, 25);
	put32(p + 4, 0xfffffff0u);
	put32(p + 8, 0x01020304u);
	p[12] = (uint8_t)((20 + padded) / 4 << 4);
	p[13] = flags;
	put16(p + 14, 29200);
	put16(p + 18, 7);
	if (opts_len)
		memcpy(p + 20, opts, opts_len);
}

static void payload(struct frame *f, size_t n)
{
	uint8_t *p = append(f, n);

	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)('a' + i % 26);
}

static uint16_t ref_sum(const uint8_t *p, size_t len, uint32_t sum)
{
	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

/* Fix IP lengths and both checksums (computed here, not with lib/cksum). */
static void finish(struct frame *f)
{
	uint8_t *ip = f->b + f->l3, *th = f->b + f->l4;
	uint32_t seg_len = f->len - f->l4, sum;

	if (f->version == 4) {
		size_t ihl = (size_t)(ip[0] & 0xf) * 4;

		put16(ip + 2, (uint16_t)(f->len - f->l3));
		put16(ip + 10, 0);
		put16(ip + 10, (uint16_t)~ref_sum(ip, ihl, 0));
		sum = ref_sum(ip + 12, 8, 6 + seg_len);
	} else {
		put16(ip + 4, (uint16_t)(f->len - f->l3 - 40));
		sum = ref_sum(ip + 8, 32, 6 + seg_len);
	}
	if (f->l4 && seg_len >= 20) {
		put16(th + 16, 0);
		put16(th + 16, (uint16_t)~ref_sum(th, seg_len, sum));
	}
}

/* The common case: IPv4 or IPv6, TCP with the given options and payload. */
static void tcp_frame(struct frame *f, int version, const uint8_t *opts, size_t opts_len, size_t n)
{
	eth(f, NULL, 0, version == 4 ? 0x0800 : 0x86dd);
	if (version == 4)
		ipv4(f, 6, 0);
	else
		ipv6(f, 6);
	tcp(f, TCP_FLAG_ACK | TCP_FLAG_PSH, opts, opts_len);
	payload(f, n);
	finish(f);
}

/* Parse from a heap copy of exactly len bytes, so ASan sees any overread. */
static enum pkt_result parse(const struct frame *f, struct pkt_info *info)
{
	uint8_t *copy = malloc(f->len ? f->len : 1);
	enum pkt_result r;

	assert_non_null(copy);
	memcpy(copy, f->b, f->len);
	r = pkt_parse(copy, f->len, info);
	free(copy);
	return r;
}

static enum pkt_result parse_only(const struct frame *f)
{
	struct pkt_info info;

	return parse(f, &info);
}

#define assert_result(f, expected)                                                                 \
	assert_string_equal(pkt_result_name(parse_only(f)), pkt_result_name(expected))

/* ---- L2 ---- */

static void test_plain_ipv4_tcp_is_parsed(void **state)
{
	(void)state;
	struct frame f;
	struct pkt_info i;

	tcp_frame(&f, 4, NULL, 0, 10);
	assert_int_equal(parse(&f, &i), PKT_TCP);
	assert_int_equal(i.vlan_count, 0);
	assert_int_equal(i.ip_version, 4);
	assert_int_equal(i.l3_offset, 14);
	assert_int_equal(i.l4_offset, 34);
	assert_int_equal(i.payload_offset, 54);
	assert_int_equal(i.payload_len, 10);
	assert_int_equal(i.ip_end, 64);
	assert_int_equal(i.ttl, 64);
	assert_int_equal(i.src.family, 4);
	assert_memory_equal(i.src.bytes, SRC4, 4);
	assert_int_equal(i.dst.family, 4);
	assert_memory_equal(i.dst.bytes, DST4, 4);
	assert_int_equal(i.src_port, 40001);
	assert_int_equal(i.dst_port, 25);
	assert_int_equal(i.seq, 0xfffffff0u);
	assert_int_equal(i.ack, 0x01020304u);
	assert_int_equal(i.window, 29200);
	assert_int_equal(i.urgent, 7);
	assert_int_equal(i.tcp_flags, TCP_FLAG_ACK | TCP_FLAG_PSH);
	assert_int_equal(i.opts.present, 0);
}

static void test_ipv4_address_bytes_past_four_are_zero(void **state)
{
	(void)state;
	struct frame f;
	struct pkt_info i;
	const uint8_t zero[12] = {0};

	tcp_frame(&f, 4, NULL, 0, 0);
	memset(&i, 0xaa, sizeof(i));
	assert_int_equal(parse(&f, &i), PKT_TCP);
	assert_memory_equal(i.src.bytes + 4, zero, 12);
	assert_memory_equal(i.dst.bytes + 4, zero, 12);
}

static void test_all_eight_tcp_flags_are_reported(void **state)
{
	(void)state;
	struct frame f;
	struct pkt_info i;

	eth(&f, NULL, 0, 0x0800);
	ipv4(&f, 6, 0);
	tcp(&f, 0xff, NULL, 0);
	finish(&f);
	assert_int_equal(parse(&f, &i), PKT_TCP);
	assert_int_equal(i.tcp_flags, TCP_FLAG_FIN | TCP_FLAG_SYN | TCP_FLAG_RST | TCP_FLAG_PSH |
	                                  TCP_FLAG_ACK | TCP_FLAG_URG | TCP_FLAG_ECE |
	                                  TCP_FLAG_CWR);
}

static void test_ipv4_options_are_skipped(void **state)
{
	(void)state;
	struct frame f;
	struct pkt_info i;

	eth(&f, NULL, 0, 0x0800);
	ipv4(&f, 6, 40); /* IHL 15, the maximum */
	tcp(&f, TCP_FLAG_SYN, NULL, 0);
	finish(&f);
	assert_int_equal(parse(&f, &i), PKT_TCP);
	assert_int_equal(i.l4_offset, 14 + 60);
	assert_int_equal(i.src_port, 40001);
	assert_int_equal(i.payload_len, 0);
}

static void test_ethernet_padding_is_excluded_from_payload(void **state)
{
	(void)state;
	struct frame f;
	struct pkt_info i;

	tcp_frame(&f, 4, NULL, 0, 2); /* 56 bytes: a NIC pads it to 60 */
	append(&f, 4);
	assert_int_equal(parse(&f, &i), PKT_TCP);
	assert_int_equal(i.payload_len, 2);
	assert_int_equal(i.ip_end, 56);
	assert_true(pkt_tcp_checksum_ok(f.b, &i));
}

static void test_frame_shorter_than_ethernet_is_truncated_l2(void **state)
{
	(void)state;
	struct frame f;

	eth(&f, NULL, 0, 0x0800);
	for (f.len = 0; f.len < 14; f.len++)
		assert_result(&f, PKT_TRUNCATED_L2);
}

static void test_non_ip_ethertypes_are_not_ip(void **state)
{
	(void)state;
	static const uint16_t types[] = {0x0806 /* ARP */, 0x88cc /* LLDP */, 0x0050 /* 802.3 */,
	                                 0x8847 /* MPLS */};

	for (size_t k = 0; k < sizeof(types) / sizeof(types[0]); k++) {
		struct frame f;

		eth(&f, NULL, 0, types[k]);
		payload(&f, 28);
		assert_result(&f, PKT_NOT_IP);
	}
}

static void test_vlan_tags_are_recorded_outer_first(void **state)
{
	(void)state;
	static const uint16_t cases[][2][2] = {
	    {{0x8100, 0x0064}, {0, 0}},
	    {{0x88a8, 0x2005}, {0x8100, 0x0064}},
	    {{0x9100, 0x0fff}, {0x8100, 0xe001}},
	    {{0x8100, 0x0001}, {0x8100, 0x0002}},
	};
	static const int ntags[] = {1, 2, 2, 2};

	for (size_t k = 0; k < 4; k++) {
		struct frame f;
		struct pkt_info i;

		eth(&f, cases[k], ntags[k], 0x0800);
		ipv4(&f, 6, 0);
		tcp(&f, TCP_FLAG_ACK, NULL, 0);
		finish(&f);
		assert_int_equal(parse(&f, &i), PKT_TCP);
		assert_int_equal(i.vlan_count, ntags[k]);
		assert_int_equal(i.l3_offset, 14 + 4 * ntags[k]);
		for (int t = 0; t < ntags[k]; t++)
			assert_int_equal(i.vlan_tci[t], cases[k][t][1]);
		assert_int_equal(i.dst_port, 25);
	}
}

static void test_three_vlan_tags_are_too_many(void **state)
{
	(void)state;
	static const uint16_t tags[3][2] = {{0x88a8, 1}, {0x8100, 2}, {0x8100, 3}};
	struct frame f;

	eth(&f, tags, 3, 0x0800);
	ipv4(&f, 6, 0);
	tcp(&f, TCP_FLAG_ACK, NULL, 0);
	finish(&f);
	assert_result(&f, PKT_TOO_MANY_VLANS);
}

static void test_frame_ending_inside_a_vlan_tag_is_truncated_l2(void **state)
{
	(void)state;
	static const uint16_t tags[2][2] = {{0x88a8, 1}, {0x8100, 2}};
	struct frame f;

	eth(&f, tags, 2, 0x0800);
	for (f.len = 14; f.len < 22; f.len++)
		assert_result(&f, PKT_TRUNCATED_L2);
}

/* ---- IPv4 ---- */

static void test_truncated_ipv4_header_is_truncated_l3(void **state)
{
	(void)state;
	struct frame f;

	tcp_frame(&f, 4, NULL, 0, 0);
	for (f.len = 14; f.len < 34; f.len++)
		assert_result(&f, PKT_TRUNCATED_L3);
}

static void test_ipv4_total_length_larger_than_frame_is_bad_total_len(void **state)
{
	(void)state;
	struct frame f;

	tcp_frame(&f, 4, NULL, 0, 10);
	put16(f.b + 14 + 2, 51);
	assert_result(&f, PKT_BAD_IP_TOTAL_LEN);
}

static void test_frame_cut_inside_ipv4_payload_is_bad_total_len(void **state)
{
	(void)state;
	struct frame f;

	tcp_frame(&f, 4, NULL, 0, 10);
	f.len -= 1;
	assert_result(&f, PKT_BAD_IP_TOTAL_LEN);
}

static void test_ipv4_total_length_below_20_is_bad_total_len(void **state)
{
	(void)state;
	struct frame f;

	tcp_frame(&f, 4, NULL, 0, 10);
	put16(f.b + 14 + 2, 19);
	assert_result(&f, PKT_BAD_IP_TOTAL_LEN);
}

static void test_ipv4_ihl_below_5_is_bad_header_len(void **state)
{
	(void)state;
	for (uint8_t ihl = 0; ihl < 5; ihl++) {
		struct frame f;

		tcp_frame(&f, 4, NULL, 0, 10);
		f.b[14] = (uint8_t)(0x40 | ihl);
		assert_result(&f, PKT_BAD_IP_HEADER_LEN);
	}
}

static void test_ipv4_header_longer_than_total_length_is_bad_header_len(void **state)
{
	(void)state;
	struct frame f;

	tcp_frame(&f, 4, NULL, 0, 0);
	f.b[14] = 0x4f; /* 60-byte header in a 40-byte datagram */
	assert_result(&f, PKT_BAD_IP_HEADER_LEN);
}

static void test_ip_version_not_matching_ethertype_is_bad_version(void **state)
{
	(void)state;
	struct frame f;

	tcp_frame(&f, 4, NULL, 0, 0);
	f.b[14] = 0x65;
	assert_result(&f, PKT_BAD_IP_VERSION);
	tcp_frame(&f, 6, NULL, 0, 0);
	f.b[14] = 0x40;
	assert_result(&f, PKT_BAD_IP_VERSION);
}

static void test_udp_and_icmp_are_not_tcp(void **state)
{
	(void)state;
	static const uint8_t protos[] = {17, 1, 132};

	for (size_t k = 0; k < sizeof(protos); k++) {
		struct frame f;
		struct pkt_info i;

		eth(&f, NULL, 0, 0x0800);
		ipv4(&f, protos[k], 0);
		payload(&f, 28);
		finish(&f);
		assert_int_equal(parse(&f, &i), PKT_NOT_TCP);
		assert_memory_equal(i.src.bytes, SRC4, 4);
		assert_int_equal(i.src_port, 0);
	}
}

static void test_malformed_non_tcp_ipv4_is_not_tcp(void **state)
{
	(void)state;
	struct frame f;

	eth(&f, NULL, 0, 0x0800);
	ipv4(&f, 17, 0);
	payload(&f, 8);
	finish(&f);
	f.b[14] = 0x43;        /* IHL 3 */
	put16(f.b + 16, 9999); /* total length past the frame */
	assert_result(&f, PKT_NOT_TCP);
}

static void test_ipv4_fragments_are_fragment(void **state)
{
	(void)state;
	static const uint16_t frag[] = {0x2000 /* MF */, 0x0001 /* offset 8 */,
	                                0x2010 /* MF and offset */, 0x6000 /* DF and MF */};

	for (size_t k = 0; k < 4; k++) {
		struct frame f;

		tcp_frame(&f, 4, NULL, 0, 16);
		put16(f.b + 14 + 6, frag[k]);
		assert_result(&f, PKT_FRAGMENT);
	}
}

static void test_ipv4_fragment_reports_addresses_but_no_ports(void **state)
{
	(void)state;
	struct frame f;
	struct pkt_info i;

	tcp_frame(&f, 4, NULL, 0, 16);
	put16(f.b + 14 + 6, 0x2000);
	assert_int_equal(parse(&f, &i), PKT_FRAGMENT);
	assert_memory_equal(i.dst.bytes, DST4, 4);
	assert_int_equal(i.l3_offset, 14);
	assert_int_equal(i.src_port, 0);
	assert_int_equal(i.dst_port, 0);
	assert_int_equal(i.l4_offset, 0);
	assert_int_equal(i.payload_len, 0);
}

static void test_ipv4_dont_fragment_alone_is_not_a_fragment(void **state)
{
	(void)state;
	struct frame f;

	tcp_frame(&f, 4, NULL, 0, 16); /* the builder sets DF */
	assert_result(&f, PKT_TCP);
}

/* ---- IPv6 ---- */

static void test_plain_ipv6_tcp_is_parsed(void **state)
{
	(void)state;
	struct frame f;
	struct pkt_info i;

	tcp_frame(&f, 6, NULL, 0, 5);
	assert_int_equal(parse(&f, &i), PKT_TCP);
	assert_int_equal(i.ip_version, 6);
	assert_int_equal(i.ttl, 57);
	assert_int_equal(i.src.family, 6);
	assert_memory_equal(i.src.bytes, SRC6, 16);
	assert_memory_equal(i.dst.bytes, DST6, 16);
	assert_int_equal(i.l4_offset, 54);
	assert_int_equal(i.payload_offset, 74);
	assert_int_equal(i.payload_len, 5);
	assert_int_equal(i.ip_end, 79);
	assert_int_equal(i.dst_port, 25);
}

static void test_ipv6_hop_by_hop_and_destination_options_are_walked(void **state)
{
	(void)state;
	struct frame f;
	struct pkt_info i;

	eth(&f, NULL, 0, 0x86dd);
	ipv6(&f, 0);
	ext(&f, 0, 60, 8);
	ext(&f, 60, 6, 24);
	tcp(&f, TCP_FLAG_SYN, NULL, 0);
	payload(&f, 3);
	finish(&f);
	assert_int_equal(parse(&f, &i), PKT_TCP);
	assert_int_equal(i.l4_offset, 14 + 40 + 8 + 24);
	assert_int_equal(i.payload_len, 3);
	assert_true(pkt_tcp_checksum_ok(f.b, &i));
}

static void test_ipv6_routing_header_without_segments_left_is_walked(void **state)
{
	(void)state;
	struct frame f;

	eth(&f, NULL, 0, 0x86dd);
	ipv6(&f, 43);
	ext(&f, 43, 6, 24)[3] = 0;
	tcp(&f, TCP_FLAG_ACK, NULL, 0);
	finish(&f);
	assert_result(&f, PKT_TCP);
}

static void test_ipv6_routing_header_with_segments_left_is_routed(void **state)
{
	(void)state;
	struct frame f;

	eth(&f, NULL, 0, 0x86dd);
	ipv6(&f, 43);
	ext(&f, 43, 6, 24)[3] = 1;
	tcp(&f, TCP_FLAG_ACK, NULL, 0);
	finish(&f);
	assert_result(&f, PKT_IPV6_ROUTED);
}

static void test_ipv6_authentication_header_length_is_in_32_bit_words(void **state)
{
	(void)state;
	struct frame f;
	struct pkt_info i;

	eth(&f, NULL, 0, 0x86dd);
	ipv6(&f, 51);
	ext(&f, 51, 6, 24); /* payload len 4: (4 + 2) * 4 bytes */
	tcp(&f, TCP_FLAG_ACK, NULL, 0);
	finish(&f);
	assert_int_equal(parse(&f, &i), PKT_TCP);
	assert_int_equal(i.l4_offset, 14 + 40 + 24);
}

static void test_ipv6_fragments_are_fragment(void **state)
{
	(void)state;
	static const uint16_t frag[] = {0x0001 /* M */, 0x0009 /* offset 8, M */,
	                                0x0008 /* offset 8, last */};

	for (size_t k = 0; k < 3; k++) {
		struct frame f;
		struct pkt_info i;

		eth(&f, NULL, 0, 0x86dd);
		ipv6(&f, 44);
		put16(ext(&f, 44, 6, 8) + 2, frag[k]);
		tcp(&f, TCP_FLAG_ACK, NULL, 0);
		finish(&f);
		assert_int_equal(parse(&f, &i), PKT_FRAGMENT);
		assert_memory_equal(i.src.bytes, SRC6, 16);
		assert_int_equal(i.src_port, 0);
	}
}

static void test_ipv6_atomic_fragment_is_parsed_as_a_whole_packet(void **state)
{
	(void)state;
	struct frame f;
	struct pkt_info i;

	eth(&f, NULL, 0, 0x86dd);
	ipv6(&f, 44);
	put16(ext(&f, 44, 6, 8) + 2, 0x0006); /* reserved bits set, offset 0, M clear */
	tcp(&f, TCP_FLAG_ACK, NULL, 0);
	finish(&f);
	assert_int_equal(parse(&f, &i), PKT_TCP);
	assert_int_equal(i.l4_offset, 14 + 48);
}

static void test_ipv6_esp_no_next_header_and_udp_are_not_tcp(void **state)
{
	(void)state;
	static const uint8_t nh[] = {50, 59, 17, 58};

	for (size_t k = 0; k < sizeof(nh); k++) {
		struct frame f;

		eth(&f, NULL, 0, 0x86dd);
		ipv6(&f, nh[k]);
		payload(&f, 20);
		finish(&f);
		assert_result(&f, PKT_NOT_TCP);
	}
}

static void test_ipv6_not_tcp_after_extension_headers(void **state)
{
	(void)state;
	struct frame f;

	eth(&f, NULL, 0, 0x86dd);
	ipv6(&f, 0);
	ext(&f, 0, 59, 8);
	payload(&f, 20);
	finish(&f);
	assert_result(&f, PKT_NOT_TCP);
}

static void ipv6_chain(struct frame *f, int n)
{
	eth(f, NULL, 0, 0x86dd);
	ipv6(f, n ? 60 : 6);
	for (int k = 0; k < n; k++)
		ext(f, 60, k + 1 < n ? 60 : 6, 8);
	tcp(f, TCP_FLAG_ACK, NULL, 0);
	finish(f);
}

static void test_ipv6_chain_of_eight_extension_headers_is_parsed(void **state)
{
	(void)state;
	struct frame f;

	ipv6_chain(&f, 8);
	assert_result(&f, PKT_TCP);
}

static void test_ipv6_chain_of_nine_extension_headers_is_too_long(void **state)
{
	(void)state;
	struct frame f;

	ipv6_chain(&f, 9);
	assert_result(&f, PKT_IPV6_EXT_CHAIN_TOO_LONG);
}

static void test_truncated_ipv6_header_is_truncated_l3(void **state)
{
	(void)state;
	struct frame f;

	tcp_frame(&f, 6, NULL, 0, 0);
	for (f.len = 14; f.len < 54; f.len++)
		assert_result(&f, PKT_TRUNCATED_L3);
}

static void test_ipv6_extension_header_past_frame_is_truncated_l3(void **state)
{
	(void)state;
	struct frame f;

	eth(&f, NULL, 0, 0x86dd);
	ipv6(&f, 0);
	ext(&f, 0, 6, 16);
	finish(&f);
	f.len -= 4; /* the payload length still says 16 */
	assert_result(&f, PKT_TRUNCATED_L3);
}

static void test_ipv6_extension_header_past_payload_length_is_truncated_l3(void **state)
{
	(void)state;
	struct frame f;

	eth(&f, NULL, 0, 0x86dd);
	ipv6(&f, 60);
	ext(&f, 60, 6, 16);
	tcp(&f, TCP_FLAG_ACK, NULL, 0);
	finish(&f);
	put16(f.b + 14 + 4, 8); /* the datagram ends inside the 16-byte header */
	assert_result(&f, PKT_TRUNCATED_L3);
}

static void test_ipv6_payload_length_larger_than_frame_is_bad_total_len(void **state)
{
	(void)state;
	struct frame f;

	tcp_frame(&f, 6, NULL, 0, 10);
	put16(f.b + 14 + 4, 31);
	assert_result(&f, PKT_BAD_IP_TOTAL_LEN);
}

/* ---- TCP header ---- */

static void test_ip_datagram_shorter_than_tcp_header_is_truncated_l4(void **state)
{
	(void)state;
	for (int v = 4; v <= 6; v += 2) {
		struct frame f;

		eth(&f, NULL, 0, v == 4 ? 0x0800 : 0x86dd);
		if (v == 4)
			ipv4(&f, 6, 0);
		else
			ipv6(&f, 6);
		f.l4 = f.len;
		payload(&f, 19);
		finish(&f);
		assert_result(&f, PKT_TRUNCATED_L4);
	}
}

static void test_tcp_data_offset_past_end_is_bad_data_offset(void **state)
{
	(void)state;
	struct frame f;

	tcp_frame(&f, 4, NULL, 0, 3);
	f.b[34 + 12] = 6 << 4; /* 24 bytes in a 23-byte segment */
	assert_result(&f, PKT_BAD_TCP_DATA_OFFSET);
}

static void test_tcp_data_offset_counting_ethernet_padding_is_bad_data_offset(void **state)
{
	(void)state;
	struct frame f;

	tcp_frame(&f, 4, NULL, 0, 0);
	append(&f, 6);
	f.b[34 + 12] = 6 << 4; /* the header would end in the padding */
	assert_result(&f, PKT_BAD_TCP_DATA_OFFSET);
}

static void test_tcp_data_offset_below_5_is_bad_data_offset(void **state)
{
	(void)state;
	for (uint8_t doff = 0; doff < 5; doff++) {
		struct frame f;

		tcp_frame(&f, 6, NULL, 0, 30);
		f.b[54 + 12] = (uint8_t)(doff << 4);
		assert_result(&f, PKT_BAD_TCP_DATA_OFFSET);
	}
}

/* ---- TCP options ---- */

struct option_case {
	const char *name;
	uint8_t bytes[40];
	size_t len;
	uint8_t present;
	uint16_t mss;
	uint8_t wscale;
	uint32_t tsval, tsecr;
};

static const struct option_case option_cases[] = {
    {.name = "mss", .bytes = {2, 4, 0x05, 0xb4}, .len = 4, .present = TCP_OPT_MSS, .mss = 1460},
    {.name = "wscale", .bytes = {1, 3, 3, 7}, .len = 4, .present = TCP_OPT_WSCALE, .wscale = 7},
    {.name = "sack-permitted", .bytes = {1, 1, 4, 2}, .len = 4, .present = TCP_OPT_SACK_PERM},
    {.name = "timestamp",
     .bytes = {1, 1, 8, 10, 0xde, 0xad, 0xbe, 0xef, 0, 0, 0, 9},
     .len = 12,
     .present = TCP_OPT_TIMESTAMP,
     .tsval = 0xdeadbeef,
     .tsecr = 9},
    {.name = "linux syn: all four together",
     .bytes = {2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0x10, 0, 0, 0, 0, 0, 1, 3, 3, 7},
     .len = 20,
     .present = TCP_OPT_MSS | TCP_OPT_WSCALE | TCP_OPT_SACK_PERM | TCP_OPT_TIMESTAMP,
     .mss = 1460,
     .wscale = 7,
     .tsval = 0x1000},
    {.name = "wscale above 14 is clamped",
     .bytes = {3, 3, 15, 0},
     .len = 4,
     .present = TCP_OPT_WSCALE,
     .wscale = 14},
    {.name = "wrong length for its kind is ignored",
     .bytes = {2, 6, 5, 0xb4, 0, 0, 8, 6, 1, 2, 3, 4},
     .len = 12},
    {.name = "unknown kind is skipped",
     .bytes = {30, 6, 1, 2, 3, 4, 2, 4, 0x02, 0x18},
     .len = 10,
     .present = TCP_OPT_MSS,
     .mss = 536},
    {.name = "nothing after eol is read", .bytes = {0, 2, 0, 0x05, 0xb4}, .len = 5},
    {.name = "last of a repeated option wins",
     .bytes = {2, 4, 0, 1, 2, 4, 0, 2},
     .len = 8,
     .present = TCP_OPT_MSS,
     .mss = 2},
};

static void test_tcp_options_are_parsed(void **state)
{
	(void)state;
	for (size_t k = 0; k < sizeof(option_cases) / sizeof(option_cases[0]); k++) {
		const struct option_case *c = &option_cases[k];
		struct frame f;
		struct pkt_info i;

		print_message("case: %s\n", c->name);
		tcp_frame(&f, 4, c->bytes, c->len, 4);
		assert_int_equal(parse(&f, &i), PKT_TCP);
		assert_int_equal(i.opts.present, c->present);
		assert_int_equal(i.opts.mss, c->mss);
		assert_int_equal(i.opts.wscale, c->wscale);
		assert_int_equal(i.opts.tsval, c->tsval);
		assert_int_equal(i.opts.tsecr, c->tsecr);
		assert_int_equal(i.payload_len, 4);
	}
}

static const struct option_case bad_option_cases[] = {
    {.name = "length 0", .bytes = {2, 0, 0, 0}, .len = 4},
    {.name = "length 1", .bytes = {1, 1, 30, 1}, .len = 4},
    {.name = "overrunning the header", .bytes = {1, 1, 8, 10, 0, 0, 0, 1}, .len = 8},
    {.name = "kind without a length byte", .bytes = {1, 1, 1, 2}, .len = 4},
    {.name = "after a good one",
     .bytes = {2, 4, 0x05, 0xb4, 3, 0, 0, 0},
     .len = 8,
     .present = TCP_OPT_MSS,
     .mss = 1460},
};

static void test_malformed_tcp_option_lengths_are_bad_options(void **state)
{
	(void)state;
	for (size_t k = 0; k < sizeof(bad_option_cases) / sizeof(bad_option_cases[0]); k++) {
		const struct option_case *c = &bad_option_cases[k];
		struct frame f;
		struct pkt_info i;

		print_message("case: %s\n", c->name);
		tcp_frame(&f, 6, c->bytes, c->len, 4);
		assert_int_equal(parse(&f, &i), PKT_BAD_TCP_OPTIONS);
		assert_int_equal(i.opts.present, c->present);
		assert_int_equal(i.opts.mss, c->mss);
	}
}

static void test_bad_tcp_options_still_report_the_fixed_header(void **state)
{
	(void)state;
	const uint8_t opts[] = {1, 1, 2, 0};
	struct frame f;
	struct pkt_info i;

	tcp_frame(&f, 4, opts, sizeof(opts), 9);
	assert_int_equal(parse(&f, &i), PKT_BAD_TCP_OPTIONS);
	assert_int_equal(i.src_port, 40001);
	assert_int_equal(i.seq, 0xfffffff0u);
	assert_int_equal(i.payload_offset, 14 + 20 + 24);
	assert_int_equal(i.payload_len, 9);
}

static void test_option_overrun_into_payload_is_bad_options(void **state)
{
	(void)state;
	/* A timestamp whose 10 bytes would end in the payload (all 'a'..'z'). */
	const uint8_t opts[] = {1, 1, 8, 10};
	struct frame f;
	struct pkt_info i;

	tcp_frame(&f, 4, opts, sizeof(opts), 40);
	assert_int_equal(parse(&f, &i), PKT_BAD_TCP_OPTIONS);
	assert_int_equal(i.opts.present, 0);
}

/* ---- checksums ---- */

static void test_tcp_checksum_is_verified(void **state)
{
	(void)state;
	static const size_t lengths[] = {0, 1, 7, 100, 1001};

	for (int v = 4; v <= 6; v += 2)
		for (size_t k = 0; k < sizeof(lengths) / sizeof(lengths[0]); k++) {
			const uint8_t opts[] = {2, 4, 0x05, 0xb4};
			struct frame f;
			struct pkt_info i;

			tcp_frame(&f, v, opts, sizeof(opts), lengths[k]);
			assert_int_equal(parse(&f, &i), PKT_TCP);
			assert_true(pkt_tcp_checksum_ok(f.b, &i));
		}
}

static void test_tcp_checksum_detects_a_flipped_bit(void **state)
{
	(void)state;
	for (int v = 4; v <= 6; v += 2) {
		struct frame f;
		struct pkt_info i;

		tcp_frame(&f, v, NULL, 0, 33); /* odd length: the last byte counts too */
		f.b[f.len - 1] ^= 0x01;
		assert_int_equal(parse(&f, &i), PKT_TCP);
		assert_false(pkt_tcp_checksum_ok(f.b, &i));
	}
}

static void test_tcp_checksum_covers_the_pseudo_header(void **state)
{
	(void)state;
	for (int v = 4; v <= 6; v += 2) {
		struct frame f;
		struct pkt_info i;

		tcp_frame(&f, v, NULL, 0, 12);
		f.b[v == 4 ? 14 + 19 : 14 + 39] ^= 0x80; /* last byte of the destination */
		assert_int_equal(parse(&f, &i), PKT_TCP);
		assert_false(pkt_tcp_checksum_ok(f.b, &i));
	}
}

static void test_tcp_checksum_ignores_ethernet_padding(void **state)
{
	(void)state;
	struct frame f;
	struct pkt_info i;

	tcp_frame(&f, 4, NULL, 0, 1);
	memset(append(&f, 5), 0x5a, 5);
	assert_int_equal(parse(&f, &i), PKT_TCP);
	assert_true(pkt_tcp_checksum_ok(f.b, &i));
}

static void test_tcp_checksum_of_an_unaligned_frame_is_verified(void **state)
{
	(void)state;
	static uint8_t buf[2048];
	struct frame f;
	struct pkt_info i;

	tcp_frame(&f, 6, NULL, 0, 77);
	memcpy(buf + 3, f.b, f.len);
	assert_int_equal(pkt_parse(buf + 3, f.len, &i), PKT_TCP);
	assert_true(pkt_tcp_checksum_ok(buf + 3, &i));
}

static void test_ipv4_header_checksum_is_verified(void **state)
{
	(void)state;
	struct frame f;
	struct pkt_info i;

	eth(&f, NULL, 0, 0x0800);
	ipv4(&f, 6, 8);
	tcp(&f, TCP_FLAG_ACK, NULL, 0);
	finish(&f);
	assert_int_equal(parse(&f, &i), PKT_TCP);
	assert_true(pkt_ipv4_checksum_ok(f.b, &i));
	f.b[14 + 8] -= 1; /* TTL */
	assert_false(pkt_ipv4_checksum_ok(f.b, &i));
}

/* ---- robustness and the result list ---- */

static void test_every_prefix_of_a_frame_parses_within_bounds(void **state)
{
	(void)state;
	static const uint16_t tags[2][2] = {{0x88a8, 1}, {0x8100, 2}};
	const uint8_t opts[] = {2, 4, 0x05, 0xb4, 1, 3, 3, 7, 8, 10, 1, 2, 3, 4, 5, 6, 7, 8, 1, 0};
	struct frame f;
	uint32_t full;

	eth(&f, tags, 2, 0x86dd);
	ipv6(&f, 0);
	ext(&f, 0, 51, 16);
	ext(&f, 51, 6, 12);
	tcp(&f, TCP_FLAG_SYN, opts, sizeof(opts));
	payload(&f, 9);
	finish(&f);
	full = f.len;
	for (f.len = 0; f.len < full; f.len++)
		assert_int_not_equal(parse_only(&f), PKT_TCP);
	assert_result(&f, PKT_TCP);
}

static void test_fields_not_valid_for_the_result_are_zero(void **state)
{
	(void)state;
	static const uint16_t tag[1][2] = {{0x8100, 42}};
	struct frame f;
	struct pkt_info i, expected;

	eth(&f, tag, 1, 0x0806);
	payload(&f, 28);
	memset(&i, 0xaa, sizeof(i));
	memset(&expected, 0, sizeof(expected));
	expected.vlan_count = 1;
	expected.vlan_tci[0] = 42;
	assert_int_equal(parse(&f, &i), PKT_NOT_IP);
	assert_memory_equal(&i, &expected, sizeof(i));
}

static void test_result_names_are_unique_and_described(void **state)
{
	(void)state;
	for (int a = 0; a < PKT_RESULT_COUNT; a++) {
		assert_true(strlen(pkt_result_name((enum pkt_result)a)) > 0);
		assert_true(strlen(pkt_result_description((enum pkt_result)a)) > 0);
		for (int b = a + 1; b < PKT_RESULT_COUNT; b++)
			assert_string_not_equal(pkt_result_name((enum pkt_result)a),
			                        pkt_result_name((enum pkt_result)b));
	}
	assert_string_equal(pkt_result_name(PKT_TCP), "tcp");
	assert_string_equal(pkt_result_name(PKT_RESULT_COUNT), "unknown");
	assert_string_equal(pkt_result_name((enum pkt_result) - 1), "unknown");
}

static void test_result_actions_follow_the_documented_table(void **state)
{
	(void)state;
	static const struct {
		enum pkt_result result;
		enum pkt_action action;
	} table[] = {
	    {PKT_TCP, PKT_ACTION_INSPECT},
	    {PKT_NOT_IP, PKT_ACTION_FORWARD},
	    {PKT_NOT_TCP, PKT_ACTION_FORWARD},
	    {PKT_FRAGMENT, PKT_ACTION_REASSEMBLE},
	    {PKT_IPV6_ROUTED, PKT_ACTION_FORWARD},
	    {PKT_TOO_MANY_VLANS, PKT_ACTION_FORWARD},
	    {PKT_TRUNCATED_L2, PKT_ACTION_FORWARD},
	    {PKT_TRUNCATED_L3, PKT_ACTION_FORWARD},
	    {PKT_BAD_IP_VERSION, PKT_ACTION_FORWARD},
	    {PKT_IPV6_EXT_CHAIN_TOO_LONG, PKT_ACTION_DROP},
	    {PKT_BAD_IP_HEADER_LEN, PKT_ACTION_DROP},
	    {PKT_BAD_IP_TOTAL_LEN, PKT_ACTION_DROP},
	    {PKT_TRUNCATED_L4, PKT_ACTION_DROP},
	    {PKT_BAD_TCP_DATA_OFFSET, PKT_ACTION_DROP},
	    {PKT_BAD_TCP_OPTIONS, PKT_ACTION_INSPECT},
	};

	assert_int_equal(sizeof(table) / sizeof(table[0]), PKT_RESULT_COUNT);
	for (size_t k = 0; k < PKT_RESULT_COUNT; k++)
		assert_int_equal(pkt_result_action(table[k].result), table[k].action);
}

/* ---- sequence arithmetic (lib/tcp_seq.h) ---- */

static void test_seq_comparisons_hold_across_the_wrap(void **state)
{
	(void)state;
	assert_true(seq_lt(0xfffffff0u, 0x10));
	assert_false(seq_lt(0x10, 0xfffffff0u));
	assert_true(seq_gt(0x10, 0xfffffff0u));
	assert_true(seq_leq(0xffffffffu, 0));
	assert_true(seq_geq(0, 0xffffffffu));
	assert_true(seq_leq(7, 7));
	assert_true(seq_geq(7, 7));
	assert_false(seq_lt(7, 7));
	assert_false(seq_gt(7, 7));
}

static void test_seq_diff_is_signed_across_the_wrap(void **state)
{
	(void)state;
	assert_int_equal(seq_diff(0x10, 0xfffffff0u), 0x20);
	assert_int_equal(seq_diff(0xfffffff0u, 0x10), -0x20);
	assert_int_equal(seq_diff(0x7fffffffu, 0), 0x7fffffff);
	assert_int_equal(seq_diff(0, 1), -1);
}

static void test_seq_in_range_is_half_open_across_the_wrap(void **state)
{
	(void)state;
	const uint32_t start = 0xfffffff0u, end = 0x10;

	assert_true(seq_in_range(start, start, end));
	assert_true(seq_in_range(0xffffffffu, start, end));
	assert_true(seq_in_range(0, start, end));
	assert_true(seq_in_range(0xf, start, end));
	assert_false(seq_in_range(end, start, end));
	assert_false(seq_in_range(start - 1, start, end));
	assert_false(seq_in_range(0x80000000u, start, end));
}

static void test_seq_in_empty_range_is_false(void **state)
{
	(void)state;
	assert_false(seq_in_range(5, 5, 5));
	assert_false(seq_in_range(0, 0xffffffffu, 0xffffffffu));
}

static void test_seq_max_picks_the_later_across_the_wrap(void **state)
{
	(void)state;
	assert_int_equal(seq_max(0xfffffff0u, 0x10), 0x10);
	assert_int_equal(seq_max(0x10, 0xfffffff0u), 0x10);
	assert_int_equal(seq_max(3, 9), 9);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_plain_ipv4_tcp_is_parsed),
	    cmocka_unit_test(test_ipv4_address_bytes_past_four_are_zero),
	    cmocka_unit_test(test_all_eight_tcp_flags_are_reported),
	    cmocka_unit_test(test_ipv4_options_are_skipped),
	    cmocka_unit_test(test_ethernet_padding_is_excluded_from_payload),
	    cmocka_unit_test(test_frame_shorter_than_ethernet_is_truncated_l2),
	    cmocka_unit_test(test_non_ip_ethertypes_are_not_ip),
	    cmocka_unit_test(test_vlan_tags_are_recorded_outer_first),
	    cmocka_unit_test(test_three_vlan_tags_are_too_many),
	    cmocka_unit_test(test_frame_ending_inside_a_vlan_tag_is_truncated_l2),
	    cmocka_unit_test(test_truncated_ipv4_header_is_truncated_l3),
	    cmocka_unit_test(test_ipv4_total_length_larger_than_frame_is_bad_total_len),
	    cmocka_unit_test(test_frame_cut_inside_ipv4_payload_is_bad_total_len),
	    cmocka_unit_test(test_ipv4_total_length_below_20_is_bad_total_len),
	    cmocka_unit_test(test_ipv4_ihl_below_5_is_bad_header_len),
	    cmocka_unit_test(test_ipv4_header_longer_than_total_length_is_bad_header_len),
	    cmocka_unit_test(test_ip_version_not_matching_ethertype_is_bad_version),
	    cmocka_unit_test(test_udp_and_icmp_are_not_tcp),
	    cmocka_unit_test(test_malformed_non_tcp_ipv4_is_not_tcp),
	    cmocka_unit_test(test_ipv4_fragments_are_fragment),
	    cmocka_unit_test(test_ipv4_fragment_reports_addresses_but_no_ports),
	    cmocka_unit_test(test_ipv4_dont_fragment_alone_is_not_a_fragment),
	    cmocka_unit_test(test_plain_ipv6_tcp_is_parsed),
	    cmocka_unit_test(test_ipv6_hop_by_hop_and_destination_options_are_walked),
	    cmocka_unit_test(test_ipv6_routing_header_without_segments_left_is_walked),
	    cmocka_unit_test(test_ipv6_routing_header_with_segments_left_is_routed),
	    cmocka_unit_test(test_ipv6_authentication_header_length_is_in_32_bit_words),
	    cmocka_unit_test(test_ipv6_fragments_are_fragment),
	    cmocka_unit_test(test_ipv6_atomic_fragment_is_parsed_as_a_whole_packet),
	    cmocka_unit_test(test_ipv6_esp_no_next_header_and_udp_are_not_tcp),
	    cmocka_unit_test(test_ipv6_not_tcp_after_extension_headers),
	    cmocka_unit_test(test_ipv6_chain_of_eight_extension_headers_is_parsed),
	    cmocka_unit_test(test_ipv6_chain_of_nine_extension_headers_is_too_long),
	    cmocka_unit_test(test_truncated_ipv6_header_is_truncated_l3),
	    cmocka_unit_test(test_ipv6_extension_header_past_frame_is_truncated_l3),
	    cmocka_unit_test(test_ipv6_extension_header_past_payload_length_is_truncated_l3),
	    cmocka_unit_test(test_ipv6_payload_length_larger_than_frame_is_bad_total_len),
	    cmocka_unit_test(test_ip_datagram_shorter_than_tcp_header_is_truncated_l4),
	    cmocka_unit_test(test_tcp_data_offset_past_end_is_bad_data_offset),
	    cmocka_unit_test(test_tcp_data_offset_counting_ethernet_padding_is_bad_data_offset),
	    cmocka_unit_test(test_tcp_data_offset_below_5_is_bad_data_offset),
	    cmocka_unit_test(test_tcp_options_are_parsed),
	    cmocka_unit_test(test_malformed_tcp_option_lengths_are_bad_options),
	    cmocka_unit_test(test_bad_tcp_options_still_report_the_fixed_header),
	    cmocka_unit_test(test_option_overrun_into_payload_is_bad_options),
	    cmocka_unit_test(test_tcp_checksum_is_verified),
	    cmocka_unit_test(test_tcp_checksum_detects_a_flipped_bit),
	    cmocka_unit_test(test_tcp_checksum_covers_the_pseudo_header),
	    cmocka_unit_test(test_tcp_checksum_ignores_ethernet_padding),
	    cmocka_unit_test(test_tcp_checksum_of_an_unaligned_frame_is_verified),
	    cmocka_unit_test(test_ipv4_header_checksum_is_verified),
	    cmocka_unit_test(test_every_prefix_of_a_frame_parses_within_bounds),
	    cmocka_unit_test(test_fields_not_valid_for_the_result_are_zero),
	    cmocka_unit_test(test_result_names_are_unique_and_described),
	    cmocka_unit_test(test_result_actions_follow_the_documented_table),
	    cmocka_unit_test(test_seq_comparisons_hold_across_the_wrap),
	    cmocka_unit_test(test_seq_diff_is_signed_across_the_wrap),
	    cmocka_unit_test(test_seq_in_range_is_half_open_across_the_wrap),
	    cmocka_unit_test(test_seq_in_empty_range_is_false),
	    cmocka_unit_test(test_seq_max_picks_the_later_across_the_wrap),
	};

	return cmocka_run_group_tests_name("pkt", tests, NULL, NULL);
}
