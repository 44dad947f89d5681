/*
 * scan: the Hyperscan databases, compiled once at start and shared
 * read-only by every worker, and the per-worker scratch they need.
 *
 * Two databases, both block mode:
 *  - the SMTP command set (one anchored, caseless pattern per verb of
 *    SMTP_VERBS, id = verb), scanned once per complete command line;
 *  - banned-name patterns from a file, scanned once per judged HELO.
 * Compiling and scratch allocation allocate; scanning never does. A
 * database is immutable after compilation and may be scanned from any
 * number of threads, each with its own scratch (hs_scratch_t is not
 * thread-safe). Only the API common to Hyperscan 5.4 and Vectorscan is
 * used. Never sees a packet, never sees a message body.
 */
#ifndef HG_SCAN_H
#define HG_SCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hs.h>

#include "smtp/smtp.h"

struct scan_commands;
struct scan_patterns;

/*
 * Compile the command set: for each verb with a keyword K in SMTP_VERBS,
 * the pattern ^K([ \t\v\f\r]|$) (SCAN_COMMAND_PATTERN_FMT: the keyword
 * then an isspace() byte or the end, as Postfix's smtpd_token splits words)
 * with SCAN_COMMAND_FLAGS and id = the verb. NULL with "hyperscan: <message>" in err on failure.
 */
#define SCAN_COMMAND_PATTERN_FMT "^%s([ \\t\\x0b\\x0c\\r]|$)"
#define SCAN_COMMAND_FLAGS (HS_FLAG_CASELESS | HS_FLAG_SINGLEMATCH)
struct scan_commands *scan_commands_compile(char *err, size_t err_size);
void scan_commands_free(struct scan_commands *db); /* NULL: no-op */

/*
 * The verb of one command line (no line ending, leading blanks already
 * skipped). Lines shorter than 4 bytes or starting with a byte no keyword
 * starts with are UNKNOWN without calling Hyperscan (measured in
 * bench_scan). When several patterns match (not possible with the built-in
 * set, where keywords are followed by a blank or the end), the longest
 * match wins, then the lowest verb. Returns SMTP_VERB_COUNT if Hyperscan
 * fails (scratch too small for db, or used by two threads at once).
 */
enum smtp_verb scan_command_verb(const struct scan_commands *db, hs_scratch_t *scratch,
                                 const uint8_t *line, uint32_t len);

/* The same answer from Hyperscan alone. scan_command_verb() first compares
 * a line's first word with the four-letter keywords (every command but
 * STARTTLS), which costs a few cycles against Hyperscan's ~100 per call,
 * and asks Hyperscan for the rest; tests and bench_scan check that both
 * give the same verb. */
enum smtp_verb scan_command_verb_hyperscan(const struct scan_commands *db, hs_scratch_t *scratch,
                                           const uint8_t *line, uint32_t len);

/* A new scratch for db; NULL with a message in err on failure. */
hs_scratch_t *scan_scratch_alloc(const struct scan_commands *db, char *err, size_t err_size);

/*
 * Grow *scratch (allocating it when NULL) so that it also serves the
 * pattern database p, so one scratch per worker serves both databases.
 * p NULL or empty: nothing to do. Returns 0, or -1 with a message in err
 * (*scratch is then unchanged and still valid).
 */
int scan_scratch_grow(hs_scratch_t **scratch, const struct scan_patterns *p, char *err,
                      size_t err_size);
void scan_scratch_free(hs_scratch_t *scratch); /* NULL: no-op */

/*
 * Load banned-name patterns: one regular expression (Hyperscan/PCRE
 * syntax) per line; blank lines and lines whose first non-blank byte is '#'
 * are skipped; blanks around a pattern are dropped. Each compiles with
 * HS_FLAG_CASELESS | HS_FLAG_SINGLEMATCH. A pattern matches if it matches
 * anywhere in the name unless anchored with ^ and/or $ (so "dyn" matches
 * "a.dyn.example"; "^dyn[-.]" only names starting with "dyn-" or "dyn.").
 * A file with no pattern gives an empty set that matches nothing.
 * NULL on error, with "FILE:LINE: hyperscan: <message>" for a bad
 * pattern, "FILE: <strerror>" when the file cannot be read.
 */
struct scan_patterns *scan_patterns_load_file(const char *path, char *err, size_t err_size);
void scan_patterns_free(struct scan_patterns *p); /* NULL: no-op */

/* Patterns in the set. */
uint32_t scan_patterns_count(const struct scan_patterns *p);

/*
 * True if some pattern matches name[0..len) (any bytes). scratch must have
 * been grown for p (scan_scratch_grow). p NULL or empty: false. A Hyperscan
 * error also gives false (fail open: never ban on an error).
 */
bool scan_patterns_match(const struct scan_patterns *p, hs_scratch_t *scratch, const char *name,
                         size_t len);

#endif
