/*
 * tcp_seq: TCP sequence-number arithmetic modulo 2^32 (RFC 9293 3.4,
 * RFC 1982 serial-number style).
 *
 * Header only, pure, no state. Two numbers compare by the sign of their
 * 32-bit difference, so comparisons stay correct across the 2^32 wrap as long
 * as the values are less than 2^31 apart. Exactly 2^31 apart is undefined by
 * RFC 1982; here seq_lt(a, b) and seq_lt(b, a) are then both true, so callers
 * must keep windows below 2^31 (TCP's are at most 2^30, RFC 7323 2.3).
 */
#ifndef HG_TCP_SEQ_H
#define HG_TCP_SEQ_H

#include <stdbool.h>
#include <stdint.h>

/* a - b as a signed distance: negative when a is before b. The conversion
 * of a difference >= 2^31 to int32_t wraps modulo 2^32 on gcc and clang. */
static inline int32_t seq_diff(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b);
}

static inline bool seq_lt(uint32_t a, uint32_t b)
{
	return seq_diff(a, b) < 0;
}

static inline bool seq_leq(uint32_t a, uint32_t b)
{
	return seq_diff(a, b) <= 0;
}

static inline bool seq_gt(uint32_t a, uint32_t b)
{
	return seq_diff(a, b) > 0;
}

static inline bool seq_geq(uint32_t a, uint32_t b)
{
	return seq_diff(a, b) >= 0;
}

/* start <= x < end, with the range taken forward from start (so any range
 * shorter than 2^32 works across the wrap). An empty range (start == end)
 * contains nothing. */
static inline bool seq_in_range(uint32_t x, uint32_t start, uint32_t end)
{
	return x - start < end - start;
}

/* The later of a and b. */
static inline uint32_t seq_max(uint32_t a, uint32_t b)
{
	return seq_gt(a, b) ? a : b;
}

#endif
