#include <string.h>
#include <strings.h>

#include "judge/hostname.h"

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* RFC 5321 4.1.2 Let-dig / Ldh-str, plus '_': Postfix accepts it too, and
 * real Windows hosts announce names such as "my_pc.example.com". */
static bool is_label_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) || c == '-' ||
	       c == '_';
}

static char to_lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

static enum hostname_form set_address(const char *text, size_t len, const struct ip_addr *addr,
                                      struct hostname *out)
{
	if (len > HOSTNAME_MAX + 2)
		return HOSTNAME_INVALID;
	memcpy(out->name, text, len);
	out->name[len] = '\0';
	out->len = len;
	out->addr = *addr;
	out->form = HOSTNAME_ADDRESS;
	return out->form;
}

/* RFC 5321 4.1.3: "[" IPv4 "]" or "[IPv6:" IPv6 "]" (the tag is
 * case-insensitive, RFC 5234 2.3). An untagged "[2001:db8::1]" is accepted as
 * Postfix does, so that server-ip still catches it; any other
 * General-address-literal tag is invalid. */
static enum hostname_form parse_literal(const char *text, size_t len, struct hostname *out)
{
	const char *inner = text + 1;
	size_t inner_len;
	struct ip_addr addr;

	if (len < 3 || text[len - 1] != ']')
		return HOSTNAME_INVALID;
	inner_len = len - 2;
	if (inner_len >= 5 && strncasecmp(inner, "IPv6:", 5) == 0) {
		if (!ip_addr_parse(inner + 5, inner_len - 5, &addr) || addr.family != 6)
			return HOSTNAME_INVALID;
	} else if (!ip_addr_parse(inner, inner_len, &addr)) {
		return HOSTNAME_INVALID;
	}
	return set_address(text, len, &addr, out);
}

static enum hostname_form parse_domain(const char *text, size_t len, struct hostname *out)
{
	size_t label_start = 0;
	bool label_numeric = true;

	if (len == 0 || len > HOSTNAME_MAX)
		return HOSTNAME_INVALID;
	for (size_t i = 0; i <= len; i++) {
		if (i == len || text[i] == '.') {
			size_t label_len = i - label_start;

			if (label_len == 0 || label_len > HOSTNAME_LABEL_MAX)
				return HOSTNAME_INVALID;
			/* RFC 952 / RFC 1123 2.1: no hyphen at either end of a label. */
			if (text[label_start] == '-' || text[i - 1] == '-')
				return HOSTNAME_INVALID;
			if (i < len) {
				label_start = i + 1;
				label_numeric = true;
			}
			continue;
		}
		if (!is_label_char(text[i]))
			return HOSTNAME_INVALID;
		if (!is_digit(text[i]))
			label_numeric = false;
	}
	/* RFC 1123 2.1 and RFC 3696 2: the top-level label of a host name is
	 * never all-numeric, so "1.2.3" or "300.1.1.1" are neither names nor
	 * addresses. */
	if (label_numeric)
		return HOSTNAME_INVALID;

	for (size_t i = 0; i < len; i++)
		out->name[i] = to_lower(text[i]);
	out->name[len] = '\0';
	out->len = len;
	out->form = HOSTNAME_DOMAIN;
	return out->form;
}

enum hostname_form hostname_parse(const char *text, size_t len, struct hostname *out)
{
	struct ip_addr addr;
	size_t core_len;

	memset(out, 0, sizeof(*out));
	out->form = HOSTNAME_INVALID;
	if (text == NULL)
		return HOSTNAME_INVALID;
	while (len > 0 && is_blank(text[0])) {
		text++;
		len--;
	}
	while (len > 0 && is_blank(text[len - 1]))
		len--;
	if (len == 0)
		return HOSTNAME_INVALID;
	/* Fail fast on anything that cannot occur in either form, NUL and
	 * 8-bit bytes included (RFC 5321 4.1.2 is ASCII; SMTPUTF8 U-labels are
	 * not accepted in HELO here). */
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)text[i];

		if (c <= ' ' || c >= 0x7f)
			return HOSTNAME_INVALID;
	}

	if (text[0] == '[')
		return parse_literal(text, len, out);

	/* One trailing dot (the root) is ignored for bare forms. */
	core_len = text[len - 1] == '.' ? len - 1 : len;
	if (core_len == 0)
		return HOSTNAME_INVALID;
	if (memchr(text, ':', core_len) != NULL) {
		if (!ip_addr_parse(text, core_len, &addr))
			return HOSTNAME_INVALID;
		return set_address(text, len, &addr, out);
	}
	if (ip_addr_parse(text, core_len, &addr))
		return set_address(text, len, &addr, out);
	return parse_domain(text, core_len, out);
}
