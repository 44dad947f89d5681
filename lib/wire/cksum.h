/*
 * cksum: the Internet checksum (RFC 1071) for IPv4 headers and TCP segments
 * over IPv4 and IPv6, and its incremental update (RFC 1624).
 *
 * Pure functions over caller buffers; no state, no allocation. Values are
 * returned ready to be stored with memcpy into the header (that is, in
 * network byte order as laid out in memory).
 */
#ifndef HG_CKSUM_H
#define HG_CKSUM_H

#include <stddef.h>
#include <stdint.h>

/* One's-complement sum of data added to sum (not folded, not inverted). */
uint32_t cksum_add(uint32_t sum, const void *data, size_t len);

/* Fold a 32-bit partial sum to 16 bits and invert it: the value to store. */
uint16_t cksum_finish(uint32_t sum);

/* Checksum of an IPv4 header of hdr_len bytes whose checksum field is zero. */
uint16_t cksum_ipv4_header(const void *hdr, size_t hdr_len);

/* TCP checksum of seg[0..seg_len) (TCP header + payload, checksum field
 * zero) with the pseudo-header of RFC 793 (IPv4) or RFC 8200 8.1 (IPv6). */
uint16_t cksum_tcp_ipv4(const uint8_t src[4], const uint8_t dst[4], const void *seg,
                        size_t seg_len);
uint16_t cksum_tcp_ipv6(const uint8_t src[16], const uint8_t dst[16], const void *seg,
                        size_t seg_len);

/* RFC 1624 eqn. 3: the new stored checksum after a 16-bit field changed
 * from old_value to new_value (all three as stored in memory). */
uint16_t cksum_update16(uint16_t stored, uint16_t old_value, uint16_t new_value);

#endif
