#include <string.h>

#include "wire/addr.h"

/* Longest bare IPv6 text RFC 4291 2.2 allows: six 4-digit groups, six
 * colons and a 15-character dotted quad. */
#define IPV6_TEXT_MAX 45

static const uint8_t v4_mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* RFC 5321 4.1.3: Snum = 1*3DIGIT, decimal 0..255. Leading zeros are thus
 * allowed and decimal ("010" is ten), unlike inet_aton's octal. */
static bool parse_ipv4(const char *s, size_t len, uint8_t out[4])
{
	size_t i = 0;

	for (int part = 0; part < 4; part++) {
		unsigned value = 0;
		size_t digits = 0;

		if (part > 0) {
			if (i >= len || s[i] != '.')
				return false;
			i++;
		}
		while (i < len && s[i] >= '0' && s[i] <= '9' && digits < 3) {
			value = value * 10 + (unsigned)(s[i] - '0');
			i++;
			digits++;
		}
		if (digits == 0 || value > 255)
			return false;
		out[part] = (uint8_t)value;
	}
	return i == len;
}

static bool parse_ipv6(const char *s, size_t len, uint8_t out[16])
{
	uint16_t groups[8];
	size_t n = 0;
	size_t i = 0;
	int gap = -1; /* index in groups where "::" stands */

	if (len < 2 || len > IPV6_TEXT_MAX)
		return false;
	if (s[0] == ':') {
		if (s[1] != ':')
			return false;
		gap = 0;
		i = 2;
	}
	while (i < len) {
		size_t start = i;
		unsigned value = 0;

		while (i < len && i - start < 4 && hex_value(s[i]) >= 0)
			value = value * 16 + (unsigned)hex_value(s[i++]);
		if (i < len && s[i] == '.') {
			uint8_t v4[4];

			if (n > 6 || !parse_ipv4(s + start, len - start, v4))
				return false;
			groups[n++] = (uint16_t)(v4[0] << 8 | v4[1]);
			groups[n++] = (uint16_t)(v4[2] << 8 | v4[3]);
			break;
		}
		if (i == start || n == 8)
			return false;
		groups[n++] = (uint16_t)value;
		if (i == len)
			break;
		if (s[i] != ':')
			return false;
		i++;
		if (i < len && s[i] == ':') {
			if (gap >= 0)
				return false;
			gap = (int)n;
			i++;
		} else if (i == len) {
			return false;
		}
	}
	/* RFC 4291 2.2: "::" stands for one or more zero groups. */
	if (gap < 0 ? n != 8 : n > 7)
		return false;

	memset(out, 0, 16);
	size_t tail = gap < 0 ? 0 : n - (size_t)gap;
	size_t head = n - tail;
	for (size_t k = 0; k < head; k++) {
		out[2 * k] = (uint8_t)(groups[k] >> 8);
		out[2 * k + 1] = (uint8_t)groups[k];
	}
	for (size_t k = 0; k < tail; k++) {
		size_t pos = 8 - tail + k;
		out[2 * pos] = (uint8_t)(groups[head + k] >> 8);
		out[2 * pos + 1] = (uint8_t)groups[head + k];
	}
	return true;
}

bool ip_addr_parse(const char *text, size_t len, struct ip_addr *out)
{
	struct ip_addr addr;

	if (text == NULL)
		return false;
	memset(&addr, 0, sizeof(addr));
	if (memchr(text, ':', len) != NULL) {
		if (!parse_ipv6(text, len, addr.bytes))
			return false;
		addr.family = 6;
	} else {
		if (!parse_ipv4(text, len, addr.bytes))
			return false;
		addr.family = 4;
	}
	*out = addr;
	return true;
}

/* Reduce an IPv4-mapped IPv6 address (RFC 4291 2.5.5.2) to its IPv4 value. */
static struct ip_addr unmap(const struct ip_addr *a)
{
	struct ip_addr r = *a;

	if (a->family == 6 && memcmp(a->bytes, v4_mapped_prefix, sizeof(v4_mapped_prefix)) == 0) {
		memset(&r, 0, sizeof(r));
		r.family = 4;
		memcpy(r.bytes, a->bytes + 12, 4);
	}
	return r;
}

bool ip_addr_equal(const struct ip_addr *a, const struct ip_addr *b)
{
	struct ip_addr x = unmap(a);
	struct ip_addr y = unmap(b);

	if (x.family != y.family || (x.family != 4 && x.family != 6))
		return false;
	return memcmp(x.bytes, y.bytes, x.family == 4 ? 4 : 16) == 0;
}

static size_t put_str(char *buf, size_t pos, const char *s)
{
	size_t n = strlen(s);

	memcpy(buf + pos, s, n);
	return pos + n;
}

static size_t put_dec(char *buf, size_t pos, unsigned v)
{
	if (v >= 100)
		buf[pos++] = (char)('0' + v / 100);
	if (v >= 10)
		buf[pos++] = (char)('0' + v / 10 % 10);
	buf[pos++] = (char)('0' + v % 10);
	return pos;
}

static size_t put_ipv4(char *buf, size_t pos, const uint8_t *b)
{
	for (int k = 0; k < 4; k++) {
		if (k > 0)
			buf[pos++] = '.';
		pos = put_dec(buf, pos, b[k]);
	}
	return pos;
}

static size_t put_hex16(char *buf, size_t pos, unsigned v)
{
	static const char digits[] = "0123456789abcdef";
	bool started = false;

	for (int shift = 12; shift >= 0; shift -= 4) {
		unsigned d = (v >> shift) & 0xf;

		if (d != 0 || started || shift == 0) {
			buf[pos++] = digits[d];
			started = true;
		}
	}
	return pos;
}

/* RFC 5952 4: lower case, no leading zeros, the longest run (first on a tie)
 * of two or more zero groups as "::"; 5: mapped addresses in mixed form. */
static size_t put_ipv6(char *buf, size_t pos, const uint8_t *b)
{
	unsigned g[8];
	int best = -1, best_len = 0;

	if (memcmp(b, v4_mapped_prefix, sizeof(v4_mapped_prefix)) == 0) {
		pos = put_str(buf, pos, "::ffff:");
		return put_ipv4(buf, pos, b + 12);
	}
	for (int k = 0; k < 8; k++)
		g[k] = (unsigned)b[2 * k] << 8 | b[2 * k + 1];
	for (int k = 0; k < 8;) {
		int run = 0;

		while (k + run < 8 && g[k + run] == 0)
			run++;
		if (run > best_len) {
			best = k;
			best_len = run;
		}
		k += run > 0 ? run : 1;
	}
	if (best_len < 2)
		best = -1;
	for (int k = 0; k < 8; k++) {
		if (k == best) {
			pos = put_str(buf, pos, "::");
			k += best_len - 1;
			continue;
		}
		if (k > 0 && k != best + best_len)
			buf[pos++] = ':';
		pos = put_hex16(buf, pos, g[k]);
	}
	return pos;
}

size_t ip_addr_format(const struct ip_addr *addr, char *buf, size_t size)
{
	char text[IP_ADDR_TEXT_MAX];
	size_t n = 0;

	if (buf == NULL || size == 0)
		return 0;
	if (addr->family == 4)
		n = put_ipv4(text, 0, addr->bytes);
	else if (addr->family == 6)
		n = put_ipv6(text, 0, addr->bytes);
	if (n > size - 1)
		n = size - 1;
	memcpy(buf, text, n);
	buf[n] = '\0';
	return n;
}
