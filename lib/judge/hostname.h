/*
 * hostname: syntax of a HELO/EHLO argument (RFC 5321 4.1.2 / 4.1.3).
 *
 * Decides whether an argument is a domain name, an address literal, a bare
 * IP address, or invalid, and produces its normalized form (lower case, one
 * trailing dot removed). Pure: no state, no allocation, no I/O.
 */
#ifndef HG_HOSTNAME_H
#define HG_HOSTNAME_H

#include <stdbool.h>
#include <stddef.h>

#include "wire/addr.h"

#define HOSTNAME_MAX 253 /* RFC 1035 2.3.4, without the trailing dot */
#define HOSTNAME_LABEL_MAX 63

enum hostname_form {
	HOSTNAME_INVALID = 0, /* not a domain nor an address (rules: hostname_parse) */
	HOSTNAME_DOMAIN,      /* a syntactically valid domain name */
	HOSTNAME_ADDRESS,     /* a bare IPv4/IPv6 address, or an address literal [..] / [IPv6:..] */
};

struct hostname {
	enum hostname_form form;
	size_t len; /* length of name, without NUL */
	char name[HOSTNAME_MAX +
	          3]; /* normalized text, NUL-terminated (for ADDRESS: as written, brackets kept) */
	struct ip_addr addr; /* valid when form == HOSTNAME_ADDRESS */
};

/* Classify text[0..len) after trimming surrounding spaces and tabs. Never
 * reads outside the given bytes; NUL bytes inside make the text invalid.
 * Always fills out->form; the rest of *out is meaningful only when the form
 * is not HOSTNAME_INVALID.
 *
 * HOSTNAME_ADDRESS: "[a.b.c.d]", "[IPv6:...]" (tag in any case), an untagged
 *   "[2001:db8::1]" (accepted as Postfix does), or a bare address as
 *   ip_addr_parse() reads it, with one trailing dot allowed after a bare one.
 *   name holds the trimmed text as written.
 * HOSTNAME_DOMAIN: labels of letters, digits, '-' and '_' (underscore
 *   accepted as Postfix does), 1..63 octets, no '-' at either end of a label,
 *   at most HOSTNAME_MAX octets after dropping one trailing dot, and a
 *   top-level label that is not all digits (RFC 1123 2.1). name is lower
 *   case without the trailing dot.
 * HOSTNAME_INVALID: everything else, including controls, spaces inside,
 *   bytes >= 0x7f, an empty label ("a..b", "a.b.."), and malformed literals
 *   ("[1.2.3]", "[foo]", "[1.2.3.4", "[IPv6:1.2.3.4]"). */
enum hostname_form hostname_parse(const char *text, size_t len, struct hostname *out);

#endif
