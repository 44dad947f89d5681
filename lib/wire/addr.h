/*
 * addr: IPv4 and IPv6 addresses as values.
 *
 * Owns no state. Parses the textual forms that appear in HELO arguments and
 * configuration, compares addresses by value (never by text), and formats
 * them back. Never allocates.
 */
#ifndef HG_ADDR_H
#define HG_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* An IP address. IPv4 uses bytes[0..3]; the remaining bytes are zero, so
 * two addresses are equal exactly when family and all 16 bytes are equal. */
struct ip_addr {
	uint8_t family; /* 4 or 6 */
	uint8_t bytes[16];
};

/* Longest text ip_addr_format() writes, with its terminating NUL. */
#define IP_ADDR_TEXT_MAX 46

/* Parse a bare dotted-quad IPv4 address or an RFC 4291 IPv6 address
 * (compressed forms and an embedded IPv4 tail accepted). No brackets, no
 * "IPv6:" tag, no zone index, no surrounding whitespace. Each IPv4 part is
 * 1 to 3 decimal digits of value 0..255 (RFC 5321 4.1.3 Snum): leading
 * zeros are decimal, never octal; "127.1" and hex parts are refused. IPv6
 * groups are 1 to 4 hex digits, either case. Returns true and fills *out on
 * success; false (and *out untouched) otherwise. */
bool ip_addr_parse(const char *text, size_t len, struct ip_addr *out);

/* True when a and b are the same address. An IPv4-mapped IPv6 address
 * (::ffff:a.b.c.d) equals the IPv4 address a.b.c.d. */
bool ip_addr_equal(const struct ip_addr *a, const struct ip_addr *b);

/* Write the canonical text (RFC 5952 for IPv6) into buf; returns the length
 * written, without the NUL. buf must hold IP_ADDR_TEXT_MAX bytes; a smaller
 * size truncates (always NUL-terminated when size > 0). IPv4-mapped IPv6
 * addresses are written "::ffff:a.b.c.d" (RFC 5952 5). */
size_t ip_addr_format(const struct ip_addr *addr, char *buf, size_t size);

#endif
