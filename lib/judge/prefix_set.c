#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "judge/prefix_set.h"

typedef unsigned __int128 u128;

struct range {
	u128 lo, hi; /* inclusive */
};

struct prefix_set {
	struct range *ranges; /* sorted by lo, disjoint, not adjacent */
	size_t n_ranges;
	size_t entries;
};

struct builder {
	struct range *ranges;
	size_t n, cap;
};

static u128 addr_value(const struct ip_addr *a)
{
	u128 v = 0;

	if (a->family == 4) {
		/* IPv4 in ip_addr's bytes[0..3]; stored as ::ffff:a.b.c.d */
		v = (u128)0xffff << 32;
		for (int i = 0; i < 4; i++)
			v |= (u128)a->bytes[i] << (8 * (3 - i));
		return v;
	}
	for (int i = 0; i < 16; i++)
		v = (v << 8) | a->bytes[i];
	return v;
}

static void set_error(char *err, size_t err_size, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || err_size == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, err_size, fmt, ap);
	va_end(ap);
}

static bool builder_add(struct builder *b, u128 lo, u128 hi)
{
	if (b->n == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 64;
		struct range *grown = realloc(b->ranges, cap * sizeof(*grown));
		if (grown == NULL)
			return false;
		b->ranges = grown;
		b->cap = cap;
	}
	b->ranges[b->n++] = (struct range){lo, hi};
	return true;
}

/* Parse one entry (text[0..len), comment and blanks included). Returns 1
 * for an entry (added), 0 for nothing on the line, -1 with why set. */
static int parse_entry(struct builder *b, const char *text, size_t len, const char **why)
{
	const char *hash = memchr(text, '#', len);
	char buf[64];
	struct ip_addr a;
	unsigned long plen;
	unsigned max;
	char *end;

	if (hash != NULL)
		len = (size_t)(hash - text);
	while (len > 0 && (text[len - 1] == ' ' || text[len - 1] == '\t' || text[len - 1] == '\r' ||
	                   text[len - 1] == '\n'))
		len--;
	while (len > 0 && (*text == ' ' || *text == '\t')) {
		text++;
		len--;
	}
	if (len == 0)
		return 0;
	if (len >= sizeof(buf)) {
		*why = "not an address or prefix";
		return -1;
	}
	memcpy(buf, text, len);
	buf[len] = '\0';
	char *slash = strchr(buf, '/');
	if (slash != NULL)
		*slash = '\0';
	if (!ip_addr_parse(buf, strlen(buf), &a)) {
		*why = "not an address or prefix";
		return -1;
	}
	max = a.family == 4 ? 32 : 128;
	plen = max;
	if (slash != NULL) {
		errno = 0;
		if (slash[1] < '0' || slash[1] > '9' ||
		    ((plen = strtoul(slash + 1, &end, 10)), errno != 0) || *end != '\0' ||
		    plen > max) {
			*why = a.family == 4 ? "prefix length must be 0..32"
			                     : "prefix length must be 0..128";
			return -1;
		}
	}
	u128 v = addr_value(&a);
	unsigned host_bits = (unsigned)(max - plen);
	u128 mask = host_bits == 128 ? ~(u128)0 : (((u128)1 << host_bits) - 1);
	if ((v & mask) != 0) {
		*why = "bits set past the prefix length";
		return -1;
	}
	if (!builder_add(b, v, v | mask)) {
		*why = "out of memory";
		return -1;
	}
	return 1;
}

static int compare_ranges(const void *x, const void *y)
{
	const struct range *a = x, *b = y;

	return a->lo < b->lo ? -1 : a->lo > b->lo;
}

static struct prefix_set *builder_finish(struct builder *b, size_t entries)
{
	struct prefix_set *set = calloc(1, sizeof(*set));
	size_t out = 0;

	if (set == NULL) {
		free(b->ranges);
		return NULL;
	}
	if (b->n > 0)
		qsort(b->ranges, b->n, sizeof(*b->ranges), compare_ranges);
	for (size_t i = 0; i < b->n; i++) {
		struct range *last = out > 0 ? &b->ranges[out - 1] : NULL;
		/* merge overlapping or adjacent ranges (hi + 1 cannot wrap
		 * unless hi is all ones, which already covers the rest) */
		if (last != NULL && (last->hi == ~(u128)0 || b->ranges[i].lo <= last->hi + 1)) {
			if (b->ranges[i].hi > last->hi)
				last->hi = b->ranges[i].hi;
			continue;
		}
		b->ranges[out++] = b->ranges[i];
	}
	set->ranges = b->ranges;
	set->n_ranges = out;
	set->entries = entries;
	return set;
}

struct prefix_set *prefix_set_load_file(const char *path, char *err, size_t err_size)
{
	struct builder b = {0};
	FILE *fp = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0, entries = 0;
	unsigned long lineno = 0;
	ssize_t n;

	if (fp == NULL) {
		set_error(err, err_size, "%s: %s", path, strerror(errno));
		return NULL;
	}
	errno = 0;
	while ((n = getline(&line, &cap, fp)) >= 0) {
		const char *why = NULL;
		int rc;

		lineno++;
		if (memchr(line, '\0', (size_t)n) != NULL) {
			why = "not an address or prefix";
			rc = -1;
		} else {
			rc = parse_entry(&b, line, (size_t)n, &why);
		}
		if (rc < 0) {
			set_error(err, err_size, "%s:%lu: %s", path, lineno, why);
			goto fail;
		}
		entries += (size_t)rc;
	}
	if (ferror(fp)) {
		set_error(err, err_size, "%s: %s", path, strerror(errno ? errno : EIO));
		goto fail;
	}
	free(line);
	fclose(fp);
	struct prefix_set *set = builder_finish(&b, entries);
	if (set == NULL)
		set_error(err, err_size, "%s: out of memory", path);
	return set;
fail:
	free(line);
	free(b.ranges);
	fclose(fp);
	return NULL;
}

struct prefix_set *prefix_set_build(const char *const *entries, size_t count, char *err,
                                    size_t err_size)
{
	struct builder b = {0};
	size_t added = 0;

	for (size_t i = 0; i < count; i++) {
		const char *why = NULL;
		int rc = parse_entry(&b, entries[i], strlen(entries[i]), &why);
		if (rc < 0) {
			set_error(err, err_size, "entries[%zu]: %s", i, why);
			free(b.ranges);
			return NULL;
		}
		added += (size_t)rc;
	}
	struct prefix_set *set = builder_finish(&b, added);
	if (set == NULL)
		set_error(err, err_size, "out of memory");
	return set;
}

void prefix_set_free(struct prefix_set *set)
{
	if (set == NULL)
		return;
	free(set->ranges);
	free(set);
}

size_t prefix_set_entries(const struct prefix_set *set)
{
	return set != NULL ? set->entries : 0;
}

bool prefix_set_contains(const struct prefix_set *set, const struct ip_addr *addr)
{
	size_t lo = 0, hi;
	u128 v;

	if (set == NULL || addr == NULL || set->n_ranges == 0)
		return false;
	v = addr_value(addr);
	hi = set->n_ranges;
	/* the last range starting at or below v */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (set->ranges[mid].lo <= v)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo > 0 && v <= set->ranges[lo - 1].hi;
}
