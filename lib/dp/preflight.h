/*
 * preflight: everything helogate loads before traffic, loaded once to see
 * that it loads (helogate --check-config, like `suricata -T` and
 * `postfix check`): the public-suffix list, the banned list, the banned
 * patterns, the SMTP command database, and the places the events and
 * stats go.
 *
 * Never:    needs EAL, opens a port, creates or truncates a file.
 * Threads:  any; allocates and frees everything it loads.
 */
#ifndef HG_PREFLIGHT_H
#define HG_PREFLIGHT_H

#include <stddef.h>
#include <stdio.h>

#include "dp/config.h"

/* Load and free everything cfg names; write one line per item to report
 * (NULL: none). Returns 0, or -1 with the first problem as one line in err
 * ("FILE:LINE: reason" where the loader gives a line). */
int preflight_check(const struct config *cfg, FILE *report, char *err, size_t err_size);

/* Whether path ("" or "-" always can) could be opened for appending without
 * creating anything: an existing writable regular file or device, or a new
 * name in a writable directory. 0, or -1 with "PATH: reason" in err. */
int preflight_output(const char *path, char *err, size_t err_size);

#endif
