/* Unit tests for lib/inject: injected frames parse back and are valid. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "wire/inject.h"
#include "wire/pkt.h"

/* A client->server SYN-less data frame with one VLAN tag, IPv4 or IPv6. */
static uint32_t client_frame(uint8_t *f, int version, bool vlan)
{
	static const uint8_t server_mac[6] = {2, 0, 0, 0, 0, 2}, client_mac[6] = {2, 0, 0, 0, 0, 1};
	uint32_t n = 0;

	memcpy(f, server_mac, 6);
	memcpy(f + 6, client_mac, 6);
	n = 12;
	if (vlan) {
		f[n++] = 0x81, f[n++] = 0x00, f[n++] = 0x00, f[n++] = 42;
	}
	if (version == 4) {
		f[n++] = 0x08, f[n++] = 0x00;
		uint8_t ip[20] = {0x45, 0, 0,   40, 0, 1,  0x40, 0,  64, 6,
		                  0,    0, 198, 19, 0, 10, 198,  18, 1,  25};
		memcpy(f + n, ip, 20);
		n += 20;
	} else {
		f[n++] = 0x86, f[n++] = 0xdd;
		uint8_t ip[40] = {0x60, 0, 0, 0, 0, 20, 6, 64};
		ip[8] = 0x20, ip[9] = 0x01, ip[11] = 2, ip[15] = 2, ip[23] = 0x0a;
		ip[24] = 0x20, ip[25] = 0x01, ip[27] = 2, ip[31] = 1, ip[39] = 0x25;
		memcpy(f + n, ip, 40);
		n += 40;
	}
	uint8_t tcp[20] = {0x9c, 0x40, 0, 25, 0, 0, 0, 1, 0, 0, 0, 1, 0x50, 0x10, 0xff, 0xff};
	memcpy(f + n, tcp, 20);
	return n + 20;
}

static void build_and_parse(int version, bool vlan, bool to_client, bool timestamps)
{
	uint8_t in[128], out[512];
	struct pkt_info pi, po;
	struct inject_template t;
	uint32_t n = client_frame(in, version, vlan);

	assert_int_equal(pkt_parse(in, n, &pi), PKT_TCP);
	assert_true(inject_template_init(&t, in, &pi));
	const char *reply = "550 5.7.1 bob@example.com... Access denied - bogus HELO\r\n";
	struct inject_segment seg = {
	    .to_client = to_client,
	    .flags = TCP_FLAG_ACK | TCP_FLAG_PSH,
	    .seq = 0xfffffff0u,
	    .ack = 1234,
	    .window = 502,
	    .timestamps = timestamps,
	    .tsval = 777,
	    .tsecr = 888,
	    .payload = (const uint8_t *)reply,
	    .payload_len = (uint16_t)strlen(reply),
	};
	uint32_t len = inject_build(&t, &seg, out, sizeof(out));
	assert_true(len >= 60);
	assert_int_equal(pkt_parse(out, len, &po), PKT_TCP);
	assert_true(pkt_tcp_checksum_ok(out, &po));
	if (version == 4)
		assert_true(pkt_ipv4_checksum_ok(out, &po));
	assert_int_equal(po.vlan_count, vlan ? 1 : 0);
	if (vlan)
		assert_int_equal(po.vlan_tci[0], 42);
	assert_int_equal(po.seq, 0xfffffff0u);
	assert_int_equal(po.ack, 1234);
	assert_int_equal(po.window, 502);
	assert_int_equal(po.tcp_flags, TCP_FLAG_ACK | TCP_FLAG_PSH);
	assert_int_equal(po.payload_len, strlen(reply));
	assert_memory_equal(out + po.payload_offset, reply, strlen(reply));
	if (to_client) {
		assert_true(ip_addr_equal(&po.src, &pi.dst) && ip_addr_equal(&po.dst, &pi.src));
		assert_int_equal(po.src_port, 25);
		assert_int_equal(po.dst_port, 40000);
		assert_memory_equal(out, in + 6, 6); /* back to the client's MAC */
		assert_memory_equal(out + 6, in, 6);
	} else {
		assert_true(ip_addr_equal(&po.src, &pi.src) && ip_addr_equal(&po.dst, &pi.dst));
		assert_memory_equal(out, in, 12);
	}
	assert_int_equal((po.opts.present & TCP_OPT_TIMESTAMP) != 0, timestamps);
	if (timestamps) {
		assert_int_equal(po.opts.tsval, 777);
		assert_int_equal(po.opts.tsecr, 888);
	}
}

static void test_reply_to_client_ipv4_parses_with_valid_checksums(void **state)
{
	(void)state;
	build_and_parse(4, false, true, false);
	build_and_parse(4, false, true, true);
}

static void test_reply_to_client_ipv6_with_vlan_keeps_the_tag(void **state)
{
	(void)state;
	build_and_parse(6, true, true, true);
}

static void test_rst_to_server_keeps_the_client_packet_direction(void **state)
{
	(void)state;
	build_and_parse(4, true, false, false);
	build_and_parse(6, false, false, false);
}

static void test_short_frame_is_padded_to_the_ethernet_minimum(void **state)
{
	(void)state;
	uint8_t in[128], out[128];
	struct pkt_info pi, po;
	struct inject_template t;
	uint32_t n = client_frame(in, 4, false);

	pkt_parse(in, n, &pi);
	inject_template_init(&t, in, &pi);
	struct inject_segment rst = {.flags = TCP_FLAG_RST | TCP_FLAG_ACK, .seq = 5};
	uint32_t len = inject_build(&t, &rst, out, sizeof(out));
	assert_int_equal(len, 60);
	assert_int_equal(pkt_parse(out, len, &po), PKT_TCP);
	assert_int_equal(po.payload_len, 0); /* the padding is not payload */
	assert_true(pkt_tcp_checksum_ok(out, &po));
	assert_int_equal(inject_build(&t, &rst, out, 59), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_reply_to_client_ipv4_parses_with_valid_checksums),
	    cmocka_unit_test(test_reply_to_client_ipv6_with_vlan_keeps_the_tag),
	    cmocka_unit_test(test_rst_to_server_keeps_the_client_packet_direction),
	    cmocka_unit_test(test_short_frame_is_padded_to_the_ethernet_minimum),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
