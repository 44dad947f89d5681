/* Unit tests for lib/cksum: RFC 1071 sums against a naive reference. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "wire/cksum.h"

/* The textbook algorithm: big-endian 16-bit words, odd byte padded. */
static uint16_t ref_checksum(const uint8_t *p, size_t len, uint32_t start)
{
	uint64_t sum = start;

	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* The value cksum_* returns, as the two bytes it stores, read big-endian. */
static uint16_t stored_be(uint16_t stored)
{
	uint8_t b[2];

	memcpy(b, &stored, 2);
	return (uint16_t)(b[0] << 8 | b[1]);
}

static uint16_t be_as_stored(uint16_t be)
{
	uint8_t b[2] = {(uint8_t)(be >> 8), (uint8_t)be};
	uint16_t v;

	memcpy(&v, b, 2);
	return v;
}

static void fill(uint8_t *p, size_t len, uint32_t seed)
{
	for (size_t i = 0; i < len; i++) {
		seed = seed * 1103515245u + 12345u;
		p[i] = (uint8_t)(seed >> 16);
	}
}

static void test_rfc1071_example_sums_to_ddf2(void **state)
{
	(void)state;
	const uint8_t data[] = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};

	assert_int_equal(stored_be(cksum_finish(cksum_add(0, data, sizeof(data)))),
	                 (uint16_t)~0xddf2);
}

static void test_known_ipv4_header_checksum(void **state)
{
	(void)state;
	uint8_t hdr[] = {0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
	                 0x00, 0x00, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7};

	assert_int_equal(stored_be(cksum_ipv4_header(hdr, sizeof(hdr))), 0xb861);
}

static void test_ipv4_header_with_its_checksum_sums_to_zero(void **state)
{
	(void)state;
	uint8_t hdr[] = {0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
	                 0xb8, 0x61, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7};

	assert_int_equal(cksum_ipv4_header(hdr, sizeof(hdr)), 0);
}

static void test_empty_buffer_checksum_is_ffff(void **state)
{
	(void)state;
	assert_int_equal(cksum_finish(cksum_add(0, "", 0)), 0xffff);
}

/* Every length 0..200 at every start alignment 0..7 against the reference:
 * covers the 32-, 8-, 4-, 2- and 1-byte paths and odd lengths. */
static void test_sum_matches_reference_for_all_lengths_and_alignments(void **state)
{
	(void)state;
	uint8_t buf[256];

	fill(buf, sizeof(buf), 7);
	for (size_t align = 0; align < 8; align++)
		for (size_t len = 0; len <= 200; len++) {
			uint16_t got = cksum_finish(cksum_add(0, buf + align, len));

			assert_int_equal(stored_be(got), ref_checksum(buf + align, len, 0));
		}
}

static void test_odd_length_pads_last_byte_as_high_order(void **state)
{
	(void)state;
	const uint8_t one[] = {0xab};

	assert_int_equal(stored_be(cksum_finish(cksum_add(0, one, 1))), (uint16_t)~0xab00);
}

static void test_all_ones_buffer_carries_fold_correctly(void **state)
{
	(void)state;
	static uint8_t buf[65535];

	memset(buf, 0xff, sizeof(buf));
	assert_int_equal(stored_be(cksum_finish(cksum_add(0, buf, sizeof(buf)))),
	                 ref_checksum(buf, sizeof(buf), 0));
}

static void test_initial_sum_is_added(void **state)
{
	(void)state;
	uint8_t buf[37];

	fill(buf, sizeof(buf), 3);
	/* 0x1234 as stored is the big-endian word 0x1234 in memory. */
	uint32_t start = be_as_stored(0x1234);

	assert_int_equal(stored_be(cksum_finish(cksum_add(start, buf, sizeof(buf)))),
	                 ref_checksum(buf, sizeof(buf), 0x1234));
}

static void test_sum_in_even_chunks_equals_sum_in_one(void **state)
{
	(void)state;
	uint8_t buf[301];

	fill(buf, sizeof(buf), 11);
	for (size_t cut = 0; cut <= sizeof(buf); cut += 2) {
		uint32_t s = cksum_add(cksum_add(0, buf, cut), buf + cut, sizeof(buf) - cut);

		assert_int_equal(cksum_finish(s), cksum_finish(cksum_add(0, buf, sizeof(buf))));
	}
}

static void test_finish_folds_a_sum_with_high_bits(void **state)
{
	(void)state;
	/* 0xffff0001 folds to 0x0001 + 0xffff = 0x10000 -> 0x0001. */
	assert_int_equal(cksum_finish(0xffff0001u), (uint16_t)~0x0001);
}

static void test_tcp_ipv4_checksum_matches_reference(void **state)
{
	(void)state;
	const uint8_t src[4] = {192, 0, 2, 1}, dst[4] = {198, 51, 100, 7};
	uint8_t pseudo[12 + 41];

	memcpy(pseudo, src, 4);
	memcpy(pseudo + 4, dst, 4);
	pseudo[8] = 0;
	pseudo[9] = 6;
	pseudo[10] = 0;
	pseudo[11] = 41;
	fill(pseudo + 12, 41, 5);
	assert_int_equal(stored_be(cksum_tcp_ipv4(src, dst, pseudo + 12, 41)),
	                 ref_checksum(pseudo, sizeof(pseudo), 0));
}

static void test_tcp_ipv6_checksum_matches_reference(void **state)
{
	(void)state;
	uint8_t pseudo[40 + 333];

	fill(pseudo, 32, 9);
	memset(pseudo + 32, 0, 8);
	pseudo[34] = 333 >> 8;
	pseudo[35] = 333 & 0xff;
	pseudo[39] = 6;
	fill(pseudo + 40, 333, 13);
	assert_int_equal(stored_be(cksum_tcp_ipv6(pseudo, pseudo + 16, pseudo + 40, 333)),
	                 ref_checksum(pseudo, sizeof(pseudo), 0));
}

static void test_update16_rfc1624_example_gives_zero_not_ffff(void **state)
{
	(void)state;
	/* RFC 1624 3: HC 0xdd2f, m 0x5555 -> m' 0x3285; the answer is 0x0000. */
	assert_int_equal(
	    cksum_update16(be_as_stored(0xdd2f), be_as_stored(0x5555), be_as_stored(0x3285)),
	    0x0000);
}

static void test_update16_matches_full_recompute(void **state)
{
	(void)state;
	uint8_t hdr[20];

	for (uint32_t seed = 1; seed <= 2000; seed++) {
		uint16_t stored, old_value, new_value;
		size_t field = (seed % 9) * 2; /* any word but the checksum's */

		if (field == 10)
			field = 18;
		fill(hdr, sizeof(hdr), seed);
		memset(hdr + 10, 0, 2);
		stored = cksum_ipv4_header(hdr, sizeof(hdr));
		memcpy(&old_value, hdr + field, 2);
		fill((uint8_t *)&new_value, 2, seed * 31);
		memcpy(hdr + field, &new_value, 2);
		assert_int_equal(cksum_update16(stored, old_value, new_value),
		                 cksum_ipv4_header(hdr, sizeof(hdr)));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rfc1071_example_sums_to_ddf2),
	    cmocka_unit_test(test_known_ipv4_header_checksum),
	    cmocka_unit_test(test_ipv4_header_with_its_checksum_sums_to_zero),
	    cmocka_unit_test(test_empty_buffer_checksum_is_ffff),
	    cmocka_unit_test(test_sum_matches_reference_for_all_lengths_and_alignments),
	    cmocka_unit_test(test_odd_length_pads_last_byte_as_high_order),
	    cmocka_unit_test(test_all_ones_buffer_carries_fold_correctly),
	    cmocka_unit_test(test_initial_sum_is_added),
	    cmocka_unit_test(test_sum_in_even_chunks_equals_sum_in_one),
	    cmocka_unit_test(test_finish_folds_a_sum_with_high_bits),
	    cmocka_unit_test(test_tcp_ipv4_checksum_matches_reference),
	    cmocka_unit_test(test_tcp_ipv6_checksum_matches_reference),
	    cmocka_unit_test(test_update16_rfc1624_example_gives_zero_not_ffff),
	    cmocka_unit_test(test_update16_matches_full_recompute),
	};

	return cmocka_run_group_tests_name("cksum", tests, NULL, NULL);
}
