/*
 * libFuzzer target for ip_addr_parse() and ip_addr_format(), checked
 * against glibc's inet_pton: both must agree on every text, except that
 * RFC 5321's Snum allows leading zeros in dotted quads, which inet_pton
 * refuses. Whatever parses must format and parse back to the same value.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>

#include "wire/addr.h"

static void check(int ok)
{
	if (!ok)
		abort();
}

/* True when a dotted-quad part in text starts with a '0' followed by a digit. */
static bool has_leading_zero_octet(const char *text)
{
	if (strchr(text, '.') == NULL)
		return false;
	for (const char *p = text; *p != '\0'; p++) {
		bool starts_part = p == text || p[-1] == '.' || p[-1] == ':';

		if (starts_part && p[0] == '0' && p[1] >= '0' && p[1] <= '9')
			return true;
	}
	return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ip_addr addr, back;
	uint8_t ref[16];
	char *text;
	bool mine, theirs;
	int family;

	if (size > 256)
		return 0;
	text = malloc(size + 1);
	check(text != NULL);
	memcpy(text, data, size);
	mine = ip_addr_parse(text, size, &addr);
	text[size] = '\0';

	if (memchr(text, '\0', size) == NULL) {
		family = memchr(text, ':', size) != NULL ? AF_INET6 : AF_INET;
		theirs = inet_pton(family, text, ref) == 1;
		if (mine && theirs)
			check(memcmp(addr.bytes, ref, family == AF_INET6 ? 16 : 4) == 0);
		else if (mine != theirs)
			check(mine && has_leading_zero_octet(text));
	}
	if (mine) {
		char out[IP_ADDR_TEXT_MAX];
		size_t n = ip_addr_format(&addr, out, sizeof(out));

		check(n == strlen(out));
		check(ip_addr_parse(out, n, &back) && ip_addr_equal(&back, &addr));
		check(back.family == addr.family && memcmp(back.bytes, addr.bytes, 16) == 0);
	}
	free(text);
	return 0;
}
