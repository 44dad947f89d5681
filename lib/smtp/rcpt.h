/*
 * rcpt: parse the argument of RCPT TO (and MAIL FROM) as RFC 5321 4.1.2
 * allows: "<bob@example.com>", a source route "<@relay.example:bob@example.com>",
 * a quoted local part that may itself hold '@' ("<\"a@b\"@example.com>"),
 * ESMTP parameters after the path ("<bob@example.com> NOTIFY=NEVER"), the
 * bare "bob@example.com" of sloppy clients, and "<Postmaster>".
 *
 * Pure; the result points into the caller's buffer.
 */
#ifndef HG_RCPT_H
#define HG_RCPT_H

#include <stdbool.h>
#include <stddef.h>

struct rcpt_address {
	const char *mailbox; /* local-part@domain, no brackets, no source route */
	size_t mailbox_len;
	const char *domain; /* the part after the last '@' outside quotes; may be empty */
	size_t domain_len;
};

/* Parse text[0..len): the text after "RCPT TO:" (leading blanks allowed).
 * '@', ':', '>' and blanks inside a quoted string (with backslash pairs) or
 * an address literal "[...]" are data. A bare mailbox ends at the first
 * blank, CR or LF. Both pointers point into text; the domain is as written
 * (case and any trailing dot kept) and has length 0 when the mailbox has no
 * '@' ("<Postmaster>"). Returns false when no mailbox can be found (empty,
 * "<>", unbalanced '<', quotes or brackets, NUL bytes anywhere, a source
 * route without its ':', no local part before the '@'); *out is then
 * zeroed. Never allocates. */
bool rcpt_parse(const char *text, size_t len, struct rcpt_address *out);

#endif
