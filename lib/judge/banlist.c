#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "judge/banlist.h"
#include "judge/hostname.h"

/* A table slot: the high half of the name's hash and the name's offset in
 * the arena (0: empty slot). 8 bytes, so a probe run usually stays within one
 * cache line; a tag match is confirmed against the arena. */
struct banlist_slot {
	uint32_t tag;
	uint32_t offset;
};

struct banlist {
	size_t count;
	size_t mask; /* slots - 1; the slot count is a power of two */
	struct banlist_slot *slots;
	unsigned char *arena; /* per name: one length byte, then the name; byte 0 unused */
	size_t arena_len;
	unsigned max_labels;
	uint64_t label_counts[2]; /* bit n - 1 set: some name has n labels */
};

struct builder {
	unsigned char *arena;
	size_t len, cap;
	size_t entries; /* names appended, duplicates included */
	unsigned max_labels;
	uint64_t label_counts[2];
};

#define HASH_BASIS 0xcbf29ce484222325ULL
#define HASH_PRIME 0x100000001b3ULL
#define MIN_SLOTS 16

/* FNV-1a fed from the last byte backwards: the state reached at a dot is
 * the state of the parent domain after it, so one pass over a name yields
 * the hash of every parent domain. */
static inline uint64_t hash_step(uint64_t h, unsigned char c)
{
	return (h ^ c) * HASH_PRIME;
}

/* MurmurHash3's 64-bit finalizer: FNV leaves the low bits (the slot index)
 * poorly mixed. */
static inline uint64_t hash_final(uint64_t h, size_t len)
{
	h ^= len;
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return h;
}

static uint64_t hash_name(const unsigned char *s, size_t len)
{
	uint64_t h = HASH_BASIS;

	for (size_t i = len; i-- > 0;)
		h = hash_step(h, s[i]);
	return hash_final(h, len);
}

static bool has_label_count(const uint64_t counts[2], unsigned labels)
{
	return labels >= 1 && labels <= 128 &&
	       (counts[(labels - 1) / 64] >> ((labels - 1) % 64)) & 1;
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

/* The offending text for a one-line message: at most 64 bytes, anything
 * unprintable shown as '?'. */
static void quote_text(char *out, size_t out_size, const char *text, size_t len)
{
	size_t n = 0;

	for (size_t i = 0; i < len && n + 4 < out_size; i++) {
		if (n == 64) {
			memcpy(out + n, "...", 3);
			n += 3;
			break;
		}
		out[n++] = text[i] >= 0x20 && text[i] < 0x7f ? text[i] : '?';
	}
	out[n] = '\0';
}

static size_t table_slots(size_t count)
{
	size_t slots = MIN_SLOTS;

	/* Load factor at most 0.7: linear probing stays short. */
	while (slots / 10 * 7 < count)
		slots *= 2;
	return slots;
}

static bool table_find(const struct banlist *list, const char *name, size_t len, uint64_t h)
{
	uint32_t tag = (uint32_t)(h >> 32);

	for (size_t i = h & list->mask;; i = (i + 1) & list->mask) {
		const struct banlist_slot *slot = &list->slots[i];
		const unsigned char *entry;

		if (slot->offset == 0)
			return false;
		if (slot->tag != tag)
			continue;
		entry = list->arena + slot->offset;
		if (entry[0] == len && memcmp(entry + 1, name, len) == 0)
			return true;
	}
}

/* Inserts the arena entry at offset; false when an equal name is there. */
static bool table_insert(struct banlist *list, uint32_t offset)
{
	const unsigned char *entry = list->arena + offset;
	uint64_t h = hash_name(entry + 1, entry[0]);
	uint32_t tag = (uint32_t)(h >> 32);
	size_t i = h & list->mask;

	for (;; i = (i + 1) & list->mask) {
		struct banlist_slot *slot = &list->slots[i];

		if (slot->offset == 0)
			break;
		if (slot->tag == tag && list->arena[slot->offset] == entry[0] &&
		    memcmp(list->arena + slot->offset + 1, entry + 1, entry[0]) == 0)
			return false;
	}
	list->slots[i].tag = tag;
	list->slots[i].offset = offset;
	return true;
}

static bool builder_reserve(struct builder *b, size_t more)
{
	size_t cap = b->cap ? b->cap : 4096;
	unsigned char *arena;

	if (b->len + more <= b->cap)
		return true;
	while (cap < b->len + more)
		cap *= 2;
	arena = realloc(b->arena, cap);
	if (arena == NULL)
		return false;
	b->arena = arena;
	b->cap = cap;
	return true;
}

/* Appends a normalized name; -ENOMEM, or -E2BIG when offsets would no
 * longer fit the table's 32 bits. */
static int builder_append(struct builder *b, const char *name, size_t len)
{
	unsigned labels = 1;

	if (b->len + 1 + len > UINT32_MAX)
		return -E2BIG;
	if (!builder_reserve(b, 1 + len))
		return -ENOMEM;
	if (b->len == 0)
		b->len = 1; /* offset 0 marks an empty slot */
	b->arena[b->len] = (unsigned char)len;
	memcpy(b->arena + b->len + 1, name, len);
	b->len += 1 + len;
	b->entries++;
	for (size_t i = 0; i < len; i++)
		labels += name[i] == '.';
	b->label_counts[(labels - 1) / 64] |= 1ULL << ((labels - 1) % 64);
	if (labels > b->max_labels)
		b->max_labels = labels;
	return 0;
}

enum line_status { LINE_BLANK, LINE_NAME, LINE_INVALID };

/* Strips a '#' comment, line ending and surrounding blanks, then validates
 * what is left. On LINE_INVALID, *text and *len hold the trimmed text. */
static enum line_status parse_line(const char **text, size_t *len, struct hostname *host)
{
	const char *s = *text;
	size_t n = *len;
	const char *hash = memchr(s, '#', n);

	if (hash != NULL)
		n = (size_t)(hash - s);
	while (n > 0 && (s[0] == ' ' || s[0] == '\t')) {
		s++;
		n--;
	}
	while (n > 0 &&
	       (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
		n--;
	*text = s;
	*len = n;
	if (n == 0)
		return LINE_BLANK;
	return hostname_parse(s, n, host) == HOSTNAME_DOMAIN ? LINE_NAME : LINE_INVALID;
}

static void builder_discard(struct builder *b)
{
	free(b->arena);
	b->arena = NULL;
}

static struct banlist *list_alloc(size_t count, size_t arena_len)
{
	struct banlist *list = calloc(1, sizeof(*list));
	size_t slots = table_slots(count);

	if (list == NULL)
		return NULL;
	list->slots = calloc(slots, sizeof(*list->slots));
	if (list->slots == NULL) {
		free(list);
		return NULL;
	}
	list->mask = slots - 1;
	list->arena_len = arena_len;
	return list;
}

/* Turns the builder's arena into a list, dropping duplicates. Consumes the
 * builder, success or not. */
static struct banlist *builder_finish(struct builder *b)
{
	struct banlist *list = list_alloc(b->entries, b->len);
	uint8_t *dup = NULL;
	size_t k = 0;

	if (list == NULL) {
		builder_discard(b);
		return NULL;
	}
	list->arena = b->arena;
	b->arena = NULL;
	list->max_labels = b->max_labels;
	memcpy(list->label_counts, b->label_counts, sizeof(list->label_counts));
	for (size_t off = 1; off < b->len; off += 1 + (size_t)list->arena[off], k++) {
		if (table_insert(list, (uint32_t)off)) {
			list->count++;
			continue;
		}
		if (dup == NULL && (dup = calloc(b->entries / 8 + 1, 1)) == NULL) {
			banlist_free(list);
			return NULL;
		}
		dup[k / 8] |= (uint8_t)(1u << (k % 8));
	}
	if (dup != NULL) {
		/* Rebuild without the duplicates: a file that repeats itself
		 * should not cost memory for it. */
		struct banlist *compact = list_alloc(list->count, 0);
		size_t w = 1;

		if (compact == NULL) {
			free(dup);
			banlist_free(list);
			return NULL;
		}
		compact->arena = list->arena;
		compact->max_labels = list->max_labels;
		memcpy(compact->label_counts, list->label_counts, sizeof(compact->label_counts));
		k = 0;
		for (size_t off = 1; off < b->len; k++) {
			size_t n = compact->arena[off];

			if (!(dup[k / 8] >> (k % 8) & 1)) {
				memmove(compact->arena + w, compact->arena + off, 1 + n);
				table_insert(compact, (uint32_t)w);
				compact->count++;
				w += 1 + n;
			}
			off += 1 + n;
		}
		compact->arena_len = w;
		free(dup);
		free(list->slots);
		free(list);
		list = compact;
	}
	if (list->arena == NULL) {
		/* No name at all: keep a valid arena so that every list owns one. */
		list->arena = calloc(1, 1);
		list->arena_len = 1;
		if (list->arena == NULL) {
			banlist_free(list);
			return NULL;
		}
	} else if (list->arena_len < b->cap) {
		unsigned char *shrunk = realloc(list->arena, list->arena_len);

		if (shrunk != NULL)
			list->arena = shrunk;
	}
	return list;
}

struct banlist *banlist_load_file(const char *path, char *err, size_t err_size)
{
	struct builder b = {0};
	struct banlist *list;
	char *line = NULL;
	size_t line_cap = 0, lineno = 0;
	ssize_t got;
	FILE *f;

	if (path == NULL) {
		set_error(err, err_size, "banned list: no file name");
		return NULL;
	}
	f = fopen(path, "r");
	if (f == NULL) {
		set_error(err, err_size, "%s: cannot open: %s", path, strerror(errno));
		return NULL;
	}
	while ((got = getline(&line, &line_cap, f)) >= 0) {
		const char *text = line;
		size_t len = (size_t)got;
		struct hostname host;
		char quoted[80];
		int rc;

		lineno++;
		switch (parse_line(&text, &len, &host)) {
		case LINE_BLANK:
			continue;
		case LINE_INVALID:
			quote_text(quoted, sizeof(quoted), text, len);
			set_error(err, err_size, "%s:%zu: invalid name '%s'", path, lineno, quoted);
			goto fail;
		case LINE_NAME:
			break;
		}
		rc = builder_append(&b, host.name, host.len);
		if (rc != 0) {
			set_error(err, err_size, "%s:%zu: %s", path, lineno,
			          rc == -E2BIG ? "too many names" : "out of memory");
			goto fail;
		}
	}
	if (ferror(f)) {
		set_error(err, err_size, "%s: read error: %s", path, strerror(errno));
		goto fail;
	}
	free(line);
	fclose(f);
	list = builder_finish(&b);
	if (list == NULL)
		set_error(err, err_size, "%s: out of memory", path);
	return list;
fail:
	free(line);
	fclose(f);
	builder_discard(&b);
	return NULL;
}

struct banlist *banlist_build(const char *const *names, size_t count, char *err, size_t err_size)
{
	struct builder b = {0};
	struct banlist *list;

	if (names == NULL && count > 0) {
		set_error(err, err_size, "banned list: no names");
		return NULL;
	}
	for (size_t i = 0; i < count; i++) {
		const char *text = names[i];
		size_t len = text != NULL ? strlen(text) : 0;
		struct hostname host;
		char quoted[80];
		int rc;

		if (text == NULL) {
			set_error(err, err_size, "names[%zu]: invalid name (null)", i);
			builder_discard(&b);
			return NULL;
		}
		switch (parse_line(&text, &len, &host)) {
		case LINE_BLANK:
			continue;
		case LINE_INVALID:
			quote_text(quoted, sizeof(quoted), text, len);
			set_error(err, err_size, "names[%zu]: invalid name '%s'", i, quoted);
			builder_discard(&b);
			return NULL;
		case LINE_NAME:
			break;
		}
		rc = builder_append(&b, host.name, host.len);
		if (rc != 0) {
			set_error(err, err_size, "names[%zu]: %s", i,
			          rc == -E2BIG ? "too many names" : "out of memory");
			builder_discard(&b);
			return NULL;
		}
	}
	list = builder_finish(&b);
	if (list == NULL)
		set_error(err, err_size, "banned list: out of memory");
	return list;
}

void banlist_free(struct banlist *list)
{
	if (list == NULL)
		return;
	free(list->slots);
	free(list->arena);
	free(list);
}

size_t banlist_size(const struct banlist *list)
{
	return list != NULL ? list->count : 0;
}

size_t banlist_memory(const struct banlist *list)
{
	if (list == NULL)
		return 0;
	return sizeof(*list) + (list->mask + 1) * sizeof(*list->slots) + list->arena_len;
}

bool banlist_contains(const struct banlist *list, const char *name, size_t len)
{
	uint64_t h = HASH_BASIS;
	unsigned labels = 1; /* labels of the parent domain right of position i */

	if (list == NULL || list->count == 0 || name == NULL)
		return false;
	/* Right to left: each dot ends a parent domain whose hash is the state
	 * so far; no name in the list has more than max_labels labels. */
	for (size_t i = len; i-- > 0;) {
		if (name[i] == '.') {
			size_t n = len - i - 1;

			if (has_label_count(list->label_counts, labels) &&
			    table_find(list, name + i + 1, n, hash_final(h, n)))
				return true;
			if (++labels > list->max_labels)
				return false;
		}
		h = hash_step(h, (unsigned char)name[i]);
	}
	return has_label_count(list->label_counts, labels) &&
	       table_find(list, name, len, hash_final(h, len));
}
