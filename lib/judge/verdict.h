/*
 * verdict: judge a HELO/EHLO argument in its context and return one reason.
 *
 * A pure function of its inputs: no I/O, no allocation, no locks, safe to
 * call from any number of threads as long as the context's lists are not
 * freed while it runs (policy_rcu guarantees that for the workers).
 */
#ifndef HG_VERDICT_H
#define HG_VERDICT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wire/addr.h"

struct banlist;
struct suffix_list;

/* Every reason, in precedence order (the first that applies wins; ok and
 * allowed are the two that never reject, ok stays 0). The
 * second column is the name used on output (helogate-check, events,
 * counters); the third a one-line description for docs and telemetry. */
#define VERDICT_REASONS(X)                                                                         \
	X(OK, "ok", "none of the other reasons applies")                                           \
	X(ALLOWED, "allowed",                                                                      \
	  "an exempt client (--allow-clients) or HELO (--allow-helos): never judged further")      \
	X(INVALID, "invalid", "not a valid domain name or address literal (RFC 5321 4.1.2/4.1.3)") \
	X(SERVER_IP, "server-ip", "an address of the receiving server: \"Hello, I'm you\"")        \
	X(IP_LITERAL, "ip-literal", "an IP address, bare or as an address literal")                \
	X(LOCALHOST, "localhost", "a loopback name such as localhost.localdomain")                 \
	X(BANNED, "banned", "the name or a parent domain is banned (list or pattern)")             \
	X(MATCHES_RCPT, "matches-rcpt",                                                            \
	  "the recipient's domain, a local domain or the server's own name: \"Hello, I'm you\" "   \
	  "by name")                                                                               \
	X(NOT_FQDN, "not-fqdn",                                                                    \
	  "not a fully qualified name under a real public suffix, or a special-use name")

enum verdict_reason {
#define VERDICT_ENUM(sym, name, desc) VERDICT_##sym,
	VERDICT_REASONS(VERDICT_ENUM)
#undef VERDICT_ENUM
	    VERDICT_COUNT
};

/* Optional extra ban test (helogate uses it for the Hyperscan pattern
 * database). Gets the normalized name; returns true when it is banned. */
typedef bool verdict_pattern_fn(void *arg, const char *name, size_t len);

struct verdict_context {
	const struct ip_addr *server_ips; /* the receiving server's addresses */
	size_t n_server_ips;
	const struct ip_addr *server_ip; /* one more: the session's server, or NULL */
	uint64_t
	    server_name_hash; /* verdict_name_hash() of the name the server announced, 0: none */
	const struct banlist *allowed_names; /* --allow-helos; NULL: none */
	const char *rcpt;                    /* the text after "RCPT TO:" as on the wire, or NULL */
	size_t rcpt_len;
	const char *const *local_domains; /* normalized: lower case, no trailing dot */
	size_t n_local_domains;
	const struct banlist *banlist;      /* NULL: nothing banned by name */
	const struct suffix_list *suffixes; /* NULL: not-fqdn only catches single labels */
	verdict_pattern_fn *banned_pattern; /* NULL: no patterns */
	void *banned_pattern_arg;
};

/* Judge helo[0..len) (the HELO/EHLO argument, surrounding blanks allowed;
 * it may hold any bytes, NUL included). Returns the first reason of
 * VERDICT_REASONS that applies:
 *   allowed       a domain name for which banlist_contains(allowed_names)
 *                 holds (the name or a parent domain is listed); the
 *                 client allowlist is policy_judge()'s, not this function's;
 *   invalid       hostname_parse() says HOSTNAME_INVALID;
 *   server-ip     an address equal by value (ip_addr_equal) to a server_ips
 *                 entry or to server_ip;
 *   ip-literal    any other address;
 *   localhost     "localhost", any name under ".localhost" (RFC 6761 6.3),
 *                 localhost.localdomain, localhost4, localhost6,
 *                 localhost4.localdomain4, localhost6.localdomain6,
 *                 ip6-localhost, ip6-loopback;
 *   banned        banlist_contains() on the normalized name, or banned_pattern;
 *   matches-rcpt  the name equals the domain rcpt_parse() finds in rcpt, or a
 *                 local domain (case-insensitive, one trailing dot ignored),
 *                 or its verdict_name_hash() is server_name_hash;
 *   not-fqdn      verdict_is_special_use() or suffix_list_is_fqdn() is false;
 *   ok            otherwise.
 * ctx NULL is an empty context. No allocation; names up to HOSTNAME_MAX
 * octets are judged whole. */
enum verdict_reason verdict_judge_helo(const char *helo, size_t len,
                                       const struct verdict_context *ctx);

/* A session judges one HELO at every RCPT; all that changes between those
 * judgements is matches-rcpt's recipient and the server's announced name.
 * The rest is judged once and kept here (docs/design.md, "Judging a HELO
 * once"). */
struct verdict_memo {
	uint64_t name_hash; /* verdict_name_hash() of the normalized name; 0: not a domain */
	uint8_t reason;     /* the verdict without a recipient or a server name */
};

/* verdict_judge_helo(helo, len, ctx) with ctx's rcpt and server_name_hash
 * left out, and what verdict_memo_judge() needs in memo. */
enum verdict_reason verdict_memo_make(const char *helo, size_t len,
                                      const struct verdict_context *ctx, struct verdict_memo *memo);

/* verdict_judge_helo(helo, len, ctx) for the HELO memo was made from, when
 * every field of ctx but rcpt and server_name_hash is as it was then: the
 * memo's reason, unless it is ok or not-fqdn and the name is the server's
 * (hash) or the recipient's domain (then judged in full, which compares
 * the bytes). */
enum verdict_reason verdict_memo_judge(const struct verdict_memo *memo, const char *helo,
                                       size_t len, const struct verdict_context *ctx);

/* True when name (normalized) is or lies under a special-use domain that is
 * never a mail sender's global identity (docs/design.md, "Special-use
 * names", cites the source of each): local, invalid, test, onion, alt,
 * arpa (home.arpa, in-addr.arpa, ip6.arpa...), example (the TLD; the
 * registered example.com/.net/.org are ordinary names), and the private-use
 * TLDs internal, intranet, private, corp, home, lan, localdomain. */
bool verdict_is_special_use(const char *name, size_t len);

/* A 64-bit hash of a normalized name (never 0), to remember a name in 8
 * bytes: matches-rcpt compares the HELO's hash with server_name_hash. */
uint64_t verdict_name_hash(const char *name, size_t len);

/* "ok", "invalid", ... ; "unknown" for an out-of-range value. */
const char *verdict_reason_name(enum verdict_reason reason);

/* The one-line description of VERDICT_REASONS; "unknown" when out of range. */
const char *verdict_reason_description(enum verdict_reason reason);

/* Parse a name as written above; false when there is no such reason. */
bool verdict_reason_from_name(const char *name, enum verdict_reason *out);

#endif
