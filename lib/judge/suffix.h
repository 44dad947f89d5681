/*
 * suffix: the public-suffix list (libpsl), to tell real top-level domains
 * from private ones (".internal", ".lan", ".local") and to spot names that are
 * themselves public suffixes ("com", "co.uk").
 *
 * Loaded once; read-only afterwards and safe for concurrent readers.
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

/* True when name (normalized: lower case, no trailing dot, NUL-terminated)
 * is a fully qualified name: its top-level label is explicitly listed as a
 * public suffix (no implicit "*" rule) and the name itself is not a public
 * suffix (explicit wildcard and private-section rules apply: "foo.ck" and
 * "github.io" are suffixes). A single label is never an FQDN. False when list
 * is NULL. Never allocates for an ASCII name. */
bool suffix_list_is_fqdn(const struct suffix_list *list, const char *name);

#endif
