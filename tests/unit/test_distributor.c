/* Unit tests for lib/dp/distributor's flow hash: both directions, every
 * fragment and every tag of a session pick one worker; clients spread. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "dp/distributor.h"

/* Ethernet (with `tags` VLAN tags), then an IPv4 header src -> dst carrying
 * TCP ports sport -> dport; frag_offset != 0 makes it a later fragment (no
 * ports in it). Returns the frame length. */
static uint32_t ipv4_frame(uint8_t *f, int tags, const uint8_t src[4], const uint8_t dst[4],
                           uint16_t sport, uint16_t dport, uint16_t frag_offset)
{
	uint32_t off = 12;

	memset(f, 0, 128);
	for (int i = 0; i < tags; i++, off += 4) {
		f[off] = i == 0 && tags == 2 ? 0x88 : 0x81;
		f[off + 1] = i == 0 && tags == 2 ? 0xa8 : 0x00;
		f[off + 3] = 7;
	}
	f[off] = 0x08;
	f[off + 1] = 0x00;
	uint8_t *ip = f + off + 2;
	ip[0] = 0x45;
	ip[6] = (uint8_t)(frag_offset >> 8);
	ip[7] = (uint8_t)frag_offset;
	ip[9] = 6;
	memcpy(ip + 12, src, 4);
	memcpy(ip + 16, dst, 4);
	ip[20] = (uint8_t)(sport >> 8);
	ip[21] = (uint8_t)sport;
	ip[22] = (uint8_t)(dport >> 8);
	ip[23] = (uint8_t)dport;
	return off + 2 + 40;
}

static uint32_t ipv6_frame(uint8_t *f, const uint8_t src[16], const uint8_t dst[16])
{
	memset(f, 0, 128);
	f[12] = 0x86;
	f[13] = 0xdd;
	f[14] = 0x60;
	f[20] = 6;
	memcpy(f + 22, src, 16);
	memcpy(f + 38, dst, 16);
	return 14 + 40 + 20;
}

static const uint8_t client4[4] = {198, 19, 7, 1}, server4[4] = {198, 18, 1, 25};

static void test_both_directions_of_an_ipv4_session_hash_alike(void **state)
{
	uint8_t a[128], b[128];
	(void)state;
	uint32_t la = ipv4_frame(a, 0, client4, server4, 40000, 25, 0);
	uint32_t lb = ipv4_frame(b, 0, server4, client4, 25, 40000, 0);
	assert_int_equal(distributor_flow_hash(a, la), distributor_flow_hash(b, lb));
	assert_int_not_equal(distributor_flow_hash(a, la), 0);
}

static void test_a_later_fragment_meets_its_session(void **state)
{
	uint8_t seg[128], frag[128];
	(void)state;
	uint32_t ls = ipv4_frame(seg, 0, client4, server4, 40000, 25, 0);
	/* Offset 24 bytes, no TCP header: what sits where the ports were is
	 * payload, and the hash must not read it. */
	uint32_t lf = ipv4_frame(frag, 0, server4, client4, 0x4142, 0x4344, 3);
	assert_int_equal(distributor_flow_hash(seg, ls), distributor_flow_hash(frag, lf));
}

static void test_vlan_and_qinq_tags_do_not_change_the_worker(void **state)
{
	uint8_t plain[128], one[128], two[128];
	(void)state;
	uint32_t l0 = ipv4_frame(plain, 0, client4, server4, 40000, 25, 0);
	uint32_t l1 = ipv4_frame(one, 1, server4, client4, 25, 40000, 0);
	uint32_t l2 = ipv4_frame(two, 2, client4, server4, 40000, 25, 0);
	assert_int_equal(distributor_flow_hash(plain, l0), distributor_flow_hash(one, l1));
	assert_int_equal(distributor_flow_hash(plain, l0), distributor_flow_hash(two, l2));
	/* The pre-standard 0x9100 outer tag, which pkt_parse() accepts too. */
	two[12] = 0x91;
	two[13] = 0x00;
	assert_int_equal(distributor_flow_hash(plain, l0), distributor_flow_hash(two, l2));
}

static void test_both_directions_of_an_ipv6_session_hash_alike(void **state)
{
	uint8_t c[16] = {0x20, 0x01, 0, 2, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 9};
	uint8_t s[16] = {0x20, 0x01, 0, 2, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0x25};
	uint8_t a[128], b[128];
	(void)state;
	uint32_t la = ipv6_frame(a, c, s), lb = ipv6_frame(b, s, c);
	assert_int_equal(distributor_flow_hash(a, la), distributor_flow_hash(b, lb));
	/* Equal words in other places must not cancel out. */
	uint8_t c2[16];
	memcpy(c2, c, 16);
	c2[3] ^= 1;
	c2[7] ^= 1;
	uint32_t lc = ipv6_frame(b, c2, s);
	assert_int_not_equal(distributor_flow_hash(a, la), distributor_flow_hash(b, lc));
}

static void test_non_ip_and_short_frames_hash_to_zero(void **state)
{
	uint8_t f[128];
	(void)state;
	uint32_t l = ipv4_frame(f, 0, client4, server4, 40000, 25, 0);
	assert_int_equal(distributor_flow_hash(f, 10), 0);
	assert_int_equal(distributor_flow_hash(f, 14 + 19), 0); /* IPv4 header cut */
	f[12] = 0x08;
	f[13] = 0x06; /* ARP */
	assert_int_equal(distributor_flow_hash(f, l), 0);
}

static void test_many_clients_spread_evenly_over_two_and_three_workers(void **state)
{
	uint8_t f[128];
	(void)state;
	for (unsigned n = 2; n <= 3; n++) {
		unsigned count[3] = {0};
		for (unsigned i = 0; i < 30000; i++) {
			/* The synthesizer's clients: 198.19.x.y, one server. */
			uint8_t c[4] = {198, 19, (uint8_t)(i >> 8), (uint8_t)i};
			uint32_t l = ipv4_frame(f, 0, c, server4, 40000, 25, 0);
			unsigned w = distributor_pick(distributor_flow_hash(f, l), n);
			assert_true(w < n);
			count[w]++;
		}
		for (unsigned w = 0; w < n; w++) {
			assert_true(count[w] > 30000 / n * 95 / 100);
			assert_true(count[w] < 30000 / n * 105 / 100);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_both_directions_of_an_ipv4_session_hash_alike),
	    cmocka_unit_test(test_a_later_fragment_meets_its_session),
	    cmocka_unit_test(test_vlan_and_qinq_tags_do_not_change_the_worker),
	    cmocka_unit_test(test_both_directions_of_an_ipv6_session_hash_alike),
	    cmocka_unit_test(test_non_ip_and_short_frames_hash_to_zero),
	    cmocka_unit_test(test_many_clients_spread_evenly_over_two_and_three_workers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
