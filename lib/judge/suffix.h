/*
 * suffix: the public-suffix list (libpsl), to tell real top-level domains
 * from private ones (".internal", ".lan", ".local") and to spot names that are
 * themselves public suffixes ("com", "co.uk").
 *
 * Owns:    the libpsl context and the sorted ICANN top labels of the list.
 * Never:   writes after load; allocates on a lookup of an ASCII name.
 * Threads: loaded once, then safe for any number of concurrent readers.
 */
#ifndef HG_SUFFIX_H
#define HG_SUFFIX_H

#include <stdbool.h>
#include <stddef.h>

struct suffix_list;

/* Load a list in the publicsuffix.org text format, or libpsl's DAFSA form
 * (path NULL: the build's default, HG_DEFAULT_PSL_FILE, Debian's
 * /usr/share/publicsuffix/public_suffix_list.dat). A text file must hold at
 * least one rule, every rule lower case, and no line over 254 bytes. NULL on
 * failure, with a one-line message "FILE: problem" or "FILE:LINE: problem"
 * in err. */
struct suffix_list *suffix_list_load(const char *path, char *err, size_t err_size);
void suffix_list_free(struct suffix_list *list);

/* True when tld (one label, lower case) is a real top-level domain: some
 * ICANN-section rule ends in it ("za": "co.za"), or it is a rule itself
 * (also in punycode for a UTF-8 rule). A text list without section markers
 * counts every rule as ICANN; a DAFSA list, whose rules cannot be listed,
 * only has the second test. Binary search, no allocation. */
bool suffix_list_is_tld(const struct suffix_list *list, const char *tld);

/* True when name (normalized: lower case, no trailing dot, NUL-terminated)
 * is a fully qualified name: its top-level label is a real TLD
 * (suffix_list_is_tld) and the name itself is not a public suffix by the
 * ICANN section's rules (no implicit "*" rule; explicit wildcards and
 * exceptions apply: "foo.ck" and "co.uk" are suffixes; a host under a
 * private-section rule such as "*.uberspace.de" or "github.io" is a
 * host). A single label is never an FQDN. False when list is NULL. Never
 * allocates for an ASCII name. */
bool suffix_list_is_fqdn(const struct suffix_list *list, const char *name);

/* Rules in a text list (0 for the DAFSA form or NULL): for the reload log. */
size_t suffix_list_rules(const struct suffix_list *list);

#endif
