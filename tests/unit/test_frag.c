/* Unit tests for lib/wire/frag: one fragment judged alone (RFC 791, RFC 8200
 * 4.5, RFC 1858 3.1). Frames are built here and parsed by pkt_parse() first,
 * as the worker does; each from a heap copy of exactly its length. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "wire/cksum.h"
#include "wire/frag.h"
#include "wire/pkt.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static const uint8_t SRC4[4] = {192, 0, 2, 10};
static const uint8_t DST4[4] = {198, 51, 100, 25};

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* A TCP header of doff 32-bit words, then payload bytes 'x'. */
static size_t tcp_bytes(uint8_t *p, unsigned doff, size_t total)
{
	memset(p, 'x', total);
	if (total > 12)
		memset(p, 0, total < doff * 4u ? total : doff * 4u);
	if (total > 3) {
		put16(p, 40000);
		put16(p + 2, 25);
	}
	if (total > 12)
		p[12] = (uint8_t)(doff << 4);
	return total;
}

static size_t eth(uint8_t *f, uint16_t type)
{
	memset(f, 0, 14);
	f[0] = 2;
	f[6] = 2;
	put16(f + 12, type);
	return 14;
}

/* Ethernet + IPv4 (IHL 5, TCP) with the fragment field fo (flags and
 * offset in 8-byte units) and data_len bytes of TCP data. */
static size_t ipv4_fragment(uint8_t *f, uint16_t fo, const uint8_t *data, size_t data_len)
{
	size_t l3 = eth(f, 0x0800);
	uint8_t *ip = f + l3;

	memset(ip, 0, 20);
	ip[0] = 0x45;
	put16(ip + 2, (uint16_t)(20 + data_len));
	put16(ip + 4, 0x1234);
	put16(ip + 6, fo);
	ip[8] = 64;
	ip[9] = 6;
	memcpy(ip + 12, SRC4, 4);
	memcpy(ip + 16, DST4, 4);
	uint16_t c = cksum_ipv4_header(ip, 20);
	memcpy(ip + 10, &c, 2);
	memcpy(ip + 20, data, data_len);
	return l3 + 20 + data_len;
}

/* Ethernet + IPv6; exts: extension headers before the fragment header
 * (each 8 bytes, next-header values chained), then the fragment header
 * (fo: offset in bytes | M bit, upper: its next header), then data. */
static size_t ipv6_fragment(uint8_t *f, const uint8_t *exts, int n_exts, uint16_t fo, uint8_t upper,
                            const uint8_t *data, size_t data_len)
{
	size_t l3 = eth(f, 0x86dd);
	uint8_t *ip = f + l3;
	uint8_t *nh = ip + 6;
	size_t off = l3 + 40;

	memset(ip, 0, 40);
	ip[0] = 0x60;
	ip[7] = 64;
	ip[8] = 0x20;
	ip[24] = 0x20;
	ip[23] = 1;
	ip[39] = 2;
	for (int i = 0; i < n_exts; i++) {
		*nh = exts[i];
		nh = f + off;
		memset(f + off, 0, 8);
		f[off + 2] = 1; /* PadN, so the options are well formed */
		f[off + 3] = 4;
		off += 8;
	}
	*nh = 44;
	f[off] = upper;
	f[off + 1] = 0;
	put16(f + off + 2, fo);
	put16(f + off + 4, 0xabcd);
	put16(f + off + 6, 0x0001);
	off += 8;
	memcpy(f + off, data, data_len);
	off += data_len;
	put16(ip + 4, (uint16_t)(off - l3 - 40));
	return off;
}

/* pkt_parse() then frag_check(), from an exact-length heap copy. */
static enum frag_verdict judge(const uint8_t *frame, size_t len, struct frag_info *fi)
{
	uint8_t *copy = malloc(len);
	struct pkt_info pi;

	memcpy(copy, frame, len);
	assert_int_equal(pkt_parse(copy, (uint32_t)len, &pi), PKT_FRAGMENT);
	enum frag_verdict v = frag_check(copy, (uint32_t)len, &pi, fi);
	free(copy);
	return v;
}

static const struct ipv4_case {
	const char *name;
	uint16_t fo;   /* flags | offset in 8-byte units */
	unsigned doff; /* of the TCP header in the data (first fragments) */
	size_t data_len;
	enum frag_verdict want;
	uint32_t offset, len;
} ipv4_cases[] = {
    {"a first fragment with the whole TCP header waits", 0x2000, 5, 24, FRAG_HOLD, 0, 24},
    {"a first fragment with options and payload waits", 0x2000, 8, 40, FRAG_HOLD, 0, 40},
    {"a middle fragment waits", 0x2000 | 3, 5, 16, FRAG_HOLD, 24, 16},
    {"a last fragment of any length waits", 5, 5, 5, FRAG_HOLD, 40, 5},
    {"DF with MF is still a fragment", 0x6000, 5, 24, FRAG_HOLD, 0, 24},
    {"a first fragment shorter than 20 bytes is tiny", 0x2000, 5, 16, FRAG_TINY, 0, 16},
    {"a first fragment cutting the TCP options is tiny", 0x2000, 8, 24, FRAG_TINY, 0, 24},
    {"a fragment at offset 8 is tiny (RFC 1858)", 0x2000 | 1, 5, 16, FRAG_TINY, 8, 16},
    {"a last fragment at offset 8 is tiny too", 1, 5, 3, FRAG_TINY, 8, 3},
    {"a non-last fragment not a multiple of 8 is malformed", 0x2000 | 4, 5, 12, FRAG_MALFORMED, 32,
     12},
    {"a fragment without data is malformed", 0x2000 | 4, 5, 0, FRAG_MALFORMED, 32, 0},
    {"a datagram past 65535 bytes is malformed", 8189, 5, 16, FRAG_MALFORMED, 65512, 16},
    {"a datagram ending at 65535 bytes waits", 8187, 5, 19, FRAG_HOLD, 65496, 19},
};

static void test_ipv4_fragments_are_judged_like_rfc_1858_and_791(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(ipv4_cases); i++) {
		const struct ipv4_case *c = &ipv4_cases[i];
		uint8_t data[64], frame[128];
		struct frag_info fi;

		tcp_bytes(data, c->doff, c->data_len);
		size_t len = ipv4_fragment(frame, c->fo, data, c->data_len);
		enum frag_verdict v = judge(frame, len, &fi);
		if (v != c->want || fi.offset != c->offset || fi.len != c->len)
			fail_msg("%s: %s offset %u len %u", c->name, frag_verdict_name(v),
			         fi.offset, fi.len);
		assert_int_equal(fi.ip_version, 4);
		assert_int_equal(fi.l2_len, 14);
		assert_int_equal(fi.l3_len, 20);
		assert_int_equal(fi.more, (c->fo & 0x2000) != 0);
	}
}

static void test_ipv4_padding_after_the_datagram_is_not_data(void **state)
{
	(void)state;
	uint8_t data[16], frame[128];
	struct frag_info fi;

	tcp_bytes(data, 5, 2);
	size_t len = ipv4_fragment(frame, 7, data, 2);
	memset(frame + len, 0, 60 - len);
	assert_int_equal(judge(frame, 60, &fi), FRAG_HOLD);
	assert_int_equal(fi.len, 2);
	assert_int_equal(fi.offset, 56);
}

static void test_ipv4_fragment_header_checksum_is_checked(void **state)
{
	(void)state;
	uint8_t data[32], frame[128];
	struct frag_info fi;
	size_t len = ipv4_fragment(frame, 0x2000, data, tcp_bytes(data, 5, 24));

	assert_int_equal(judge(frame, len, &fi), FRAG_HOLD);
	assert_true(frag_ipv4_header_ok(frame, &fi));
	frame[14 + 8] = 3; /* the TTL, under the checksum */
	assert_false(frag_ipv4_header_ok(frame, &fi));
}

static const struct ipv6_case {
	const char *name;
	uint8_t exts[2]; /* extension headers before the fragment header */
	int n_exts;
	uint16_t fo;   /* offset in bytes | M */
	uint8_t upper; /* the fragment header's next header */
	unsigned doff;
	size_t data_len;
	enum frag_verdict want;
} ipv6_cases[] = {
    {"a first fragment right after the fixed header waits", {0}, 0, 1, 6, 5, 24, FRAG_HOLD},
    {"a middle fragment waits", {0}, 0, 24 | 1, 6, 5, 16, FRAG_HOLD},
    {"a last fragment waits", {0}, 0, 40, 6, 5, 3, FRAG_HOLD},
    {"a UDP fragment is not ours", {0}, 0, 1, 17, 5, 24, FRAG_NOT_TCP},
    {"an ICMPv6 fragment behind hop-by-hop is not ours", {0}, 1, 1, 58, 5, 24, FRAG_NOT_TCP},
    {"a TCP fragment behind hop-by-hop cannot be reassembled",
     {0},
     1,
     1,
     6,
     5,
     24,
     FRAG_UNSUPPORTED},
    {"a TCP fragment behind destination options neither", {60}, 1, 24, 6, 5, 16, FRAG_UNSUPPORTED},
    {"a fragment in a fragment is refused", {0}, 0, 1, 44, 5, 24, FRAG_UNSUPPORTED},
    {"a first fragment shorter than the TCP header is tiny", {0}, 0, 1, 6, 5, 16, FRAG_TINY},
    {"a first fragment cutting the TCP options is tiny", {0}, 0, 1, 6, 10, 32, FRAG_TINY},
    {"a fragment at offset 8 is tiny", {0}, 0, 8 | 1, 6, 5, 16, FRAG_TINY},
    {"a non-last fragment not a multiple of 8 is malformed",
     {0},
     0,
     16 | 1,
     6,
     5,
     20,
     FRAG_MALFORMED},
    {"a fragment without data is malformed", {0}, 0, 16 | 1, 6, 5, 0, FRAG_MALFORMED},
    {"a datagram past 65535 bytes is malformed", {0}, 0, 65528 | 1, 6, 5, 16, FRAG_MALFORMED},
    {"a fragment of a datagram behind destination options waits",
     {0},
     0,
     16 | 1,
     60,
     5,
     16,
     FRAG_HOLD},
};

static void test_ipv6_fragments_are_judged_like_rfc_8200(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(ipv6_cases); i++) {
		const struct ipv6_case *c = &ipv6_cases[i];
		uint8_t data[64], frame[256];
		struct frag_info fi;

		tcp_bytes(data, c->doff, c->data_len);
		size_t len =
		    ipv6_fragment(frame, c->exts, c->n_exts, c->fo, c->upper, data, c->data_len);
		enum frag_verdict v = judge(frame, len, &fi);
		if (v != c->want)
			fail_msg("%s: %s", c->name, frag_verdict_name(v));
		if (v == FRAG_HOLD && (fi.l3_len != 48 || fi.offset != (c->fo & 0xfff8u) ||
		                       fi.len != c->data_len || fi.more != (c->fo & 1)))
			fail_msg("%s: l3_len %u offset %u len %u more %d", c->name, fi.l3_len,
			         fi.offset, fi.len, fi.more);
	}
}

/* RFC 8200 4.5: the first fragment holds every header through the TCP
 * header, destination options in the fragmentable part included. */
static void test_ipv6_first_fragment_must_hold_the_whole_chain(void **state)
{
	(void)state;
	uint8_t data[64], frame[256];
	struct frag_info fi;

	memset(data, 0, 8);
	data[0] = 6; /* destination options (8 bytes), then TCP */
	data[2] = 1;
	data[3] = 4;
	tcp_bytes(data + 8, 5, 24);
	size_t len = ipv6_fragment(frame, NULL, 0, 1, 60, data, 32);
	assert_int_equal(judge(frame, len, &fi), FRAG_HOLD);
	len = ipv6_fragment(frame, NULL, 0, 1, 60, data, 24); /* TCP cut at 16 bytes */
	assert_int_equal(judge(frame, len, &fi), FRAG_TINY);
	data[1] = 8; /* the options claim 72 bytes */
	len = ipv6_fragment(frame, NULL, 0, 1, 60, data, 32);
	assert_int_equal(judge(frame, len, &fi), FRAG_TINY);
}

static void test_ipv6_payload_length_past_the_frame_is_malformed(void **state)
{
	(void)state;
	uint8_t data[64], frame[256];
	struct frag_info fi;
	size_t len = ipv6_fragment(frame, NULL, 0, 1, 6, data, tcp_bytes(data, 5, 24));

	put16(frame + 14 + 4, (uint16_t)(len - 14 - 40 + 8));
	assert_int_equal(judge(frame, len, &fi), FRAG_MALFORMED);
}

static void test_verdict_names_are_distinct(void **state)
{
	(void)state;
	for (int a = 0; a < FRAG_VERDICT_COUNT; a++)
		for (int b = a + 1; b < FRAG_VERDICT_COUNT; b++)
			assert_string_not_equal(frag_verdict_name((enum frag_verdict)a),
			                        frag_verdict_name((enum frag_verdict)b));
	assert_string_equal(frag_verdict_name(FRAG_VERDICT_COUNT), "unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ipv4_fragments_are_judged_like_rfc_1858_and_791),
	    cmocka_unit_test(test_ipv4_padding_after_the_datagram_is_not_data),
	    cmocka_unit_test(test_ipv4_fragment_header_checksum_is_checked),
	    cmocka_unit_test(test_ipv6_fragments_are_judged_like_rfc_8200),
	    cmocka_unit_test(test_ipv6_first_fragment_must_hold_the_whole_chain),
	    cmocka_unit_test(test_ipv6_payload_length_past_the_frame_is_malformed),
	    cmocka_unit_test(test_verdict_names_are_distinct),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
