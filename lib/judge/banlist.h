/*
 * banlist: an immutable hashed set of banned domain names.
 *
 * Built once (from a file or an array), then only read: any number of threads
 * may call banlist_contains() on the same list concurrently without locks.
 * Replacing the list while readers run is policy_rcu's job (the list is
 * part of the policy), not this one's.
 * A lookup never allocates. Holds at least several million names.
 */
#ifndef HG_BANLIST_H
#define HG_BANLIST_H

#include <stdbool.h>
#include <stddef.h>

struct banlist;

/* Load a banned-names file: one name per line; '#' starts a comment (whole
 * line or after the name); blank lines ignored; case-insensitive; one
 * trailing dot ignored; CRLF accepted. Any line that is not a valid domain
 * name fails the whole load. Returns NULL on failure and writes a one-line
 * message "FILE:LINE: problem" (or "FILE: problem") into err.
 *
 * Each name must be HOSTNAME_DOMAIN for hostname_parse() (an IP address is
 * refused): "FILE:LINE: invalid name 'TEXT'", TEXT cut at 64 bytes and any
 * unprintable byte shown as '?'. Duplicates collapse into one entry. A file
 * with no name at all gives an empty list, not an error. The caller owns the
 * result (banlist_free). err may be NULL. */
struct banlist *banlist_load_file(const char *path, char *err, size_t err_size);

/* Build a list from names (same normalization as the file: each entry is
 * treated as one line, so a blank or comment-only entry is skipped). NULL on
 * an invalid name or memory exhaustion, with a one-line message such as
 * "names[3]: invalid name 'a..b'" in err. The strings are copied: the caller
 * keeps ownership of names. */
struct banlist *banlist_build(const char *const *names, size_t count, char *err, size_t err_size);

/* Frees the list; NULL is a no-op. No reader may still use it. */
void banlist_free(struct banlist *list);

/* Number of distinct names held (0 for NULL). */
size_t banlist_size(const struct banlist *list);

/* Bytes of memory the list holds: hash table, name arena and header
 * (0 for NULL). */
size_t banlist_memory(const struct banlist *list);

/* True when name, or any parent domain of it, is in the list: banning
 * "fakedomain.xyz" bans "mx.fakedomain.xyz" too. name must already be
 * normalized (lower case, no trailing dot), as hostname_parse() produces.
 * list may be NULL (empty list). Never allocates, never locks. */
bool banlist_contains(const struct banlist *list, const char *name, size_t len);

#endif
