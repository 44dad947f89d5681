/* scan: Hyperscan databases and scratch (contract in scan.h). */
#include "smtp/scan.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct scan_commands {
	hs_database_t *db;
	uint32_t min_len;   /* the shortest keyword: shorter lines cannot match */
	uint8_t first[256]; /* 1 where a keyword starts with this byte (either case) */
	/* The four-letter keywords as words (the bytes in memory order), and
	 * their verbs: the common commands are found without Hyperscan. */
	uint32_t word4[SMTP_VERB_COUNT];
	uint8_t verb4[SMTP_VERB_COUNT];
	unsigned n_word4;
};

struct scan_patterns {
	hs_database_t *db; /* NULL when the file held no pattern */
	uint32_t count;
};

static const char *const command_keywords[] = {
#define SCAN_KEYWORD(sym, keyword, name) [SMTP_VERB_##sym] = keyword,
    SMTP_VERBS(SCAN_KEYWORD)
#undef SCAN_KEYWORD
};

struct scan_commands *scan_commands_compile(char *err, size_t err_size)
{
	struct scan_commands *c = calloc(1, sizeof(*c));
	char exprs[SMTP_VERB_COUNT][32];
	const char *ptrs[SMTP_VERB_COUNT];
	unsigned flags[SMTP_VERB_COUNT];
	unsigned ids[SMTP_VERB_COUNT];
	unsigned n = 0;

	if (c == NULL) {
		snprintf(err, err_size, "scan: out of memory");
		return NULL;
	}
	c->min_len = UINT32_MAX;
	for (unsigned v = 0; v < SMTP_VERB_COUNT; v++) {
		const char *kw = command_keywords[v];
		size_t kl = strlen(kw);
		if (kl == 0)
			continue;
		snprintf(exprs[n], sizeof(exprs[n]), SCAN_COMMAND_PATTERN_FMT, kw);
		ptrs[n] = exprs[n];
		flags[n] = SCAN_COMMAND_FLAGS;
		ids[n] = v;
		n++;
		if (kl < c->min_len)
			c->min_len = (uint32_t)kl;
		c->first[(uint8_t)kw[0]] = 1;
		c->first[(uint8_t)kw[0] | 0x20] = 1; /* keywords are upper-case letters */
		if (kl == 4) {
			memcpy(&c->word4[c->n_word4], kw, 4);
			c->verb4[c->n_word4++] = (uint8_t)v;
		}
	}

	hs_compile_error_t *cerr = NULL;
	if (hs_compile_multi(ptrs, flags, ids, n, HS_MODE_BLOCK, NULL, &c->db, &cerr) !=
	    HS_SUCCESS) {
		snprintf(err, err_size, "hyperscan: command set: %s",
		         cerr != NULL ? cerr->message : "unknown error");
		hs_free_compile_error(cerr);
		free(c);
		return NULL;
	}
	return c;
}

void scan_commands_free(struct scan_commands *db)
{
	if (db == NULL)
		return;
	if (db->db != NULL)
		hs_free_database(db->db);
	free(db);
}

struct command_match {
	unsigned id;
	unsigned long long to;
};

static int on_command_match(unsigned int id, unsigned long long from, unsigned long long to,
                            unsigned int flags, void *ctx)
{
	struct command_match *m = ctx;

	(void)from;
	(void)flags;
	if (to > m->to || (to == m->to && id < m->id)) {
		m->id = id;
		m->to = to;
	}
	return 0;
}

/* The bytes SCAN_COMMAND_PATTERN_FMT accepts after a keyword. */
static bool ends_keyword(uint8_t c)
{
	return c == ' ' || c == '\t' || c == 0x0b || c == 0x0c || c == '\r';
}

/* A four-letter keyword followed by a blank or the end, compared as one
 * word: clearing bit 5 of each byte folds a-z onto A-Z and maps no other
 * byte onto a letter, so this accepts exactly what the caseless pattern
 * accepts. */
static enum smtp_verb verb_by_word(const struct scan_commands *db, const uint8_t *line,
                                   uint32_t len)
{
	uint32_t w;

	if (len < 4 || (len > 4 && !ends_keyword(line[4])))
		return SMTP_VERB_COUNT;
	memcpy(&w, line, 4);
	w &= 0xdfdfdfdfu;
	for (unsigned i = 0; i < db->n_word4; i++)
		if (w == db->word4[i])
			return (enum smtp_verb)db->verb4[i];
	return SMTP_VERB_COUNT;
}

enum smtp_verb scan_command_verb(const struct scan_commands *db, hs_scratch_t *scratch,
                                 const uint8_t *line, uint32_t len)
{
	/* Measured in bench_scan: this test costs a few cycles, Hyperscan ~100. */
	if (len < db->min_len || !db->first[line[0]])
		return SMTP_VERB_UNKNOWN;
	enum smtp_verb v = verb_by_word(db, line, len);
	if (v != SMTP_VERB_COUNT)
		return v;
	return scan_command_verb_hyperscan(db, scratch, line, len);
}

enum smtp_verb scan_command_verb_hyperscan(const struct scan_commands *db, hs_scratch_t *scratch,
                                           const uint8_t *line, uint32_t len)
{
	struct command_match m = {.id = SMTP_VERB_UNKNOWN, .to = 0};
	if (hs_scan(db->db, (const char *)line, len, 0, scratch, on_command_match, &m) !=
	    HS_SUCCESS)
		return SMTP_VERB_COUNT;
	return (enum smtp_verb)m.id;
}

hs_scratch_t *scan_scratch_alloc(const struct scan_commands *db, char *err, size_t err_size)
{
	hs_scratch_t *scratch = NULL;
	hs_error_t rc = hs_alloc_scratch(db->db, &scratch);

	if (rc != HS_SUCCESS) {
		snprintf(err, err_size, "hyperscan: cannot allocate scratch (error %d)", rc);
		return NULL;
	}
	return scratch;
}

int scan_scratch_grow(hs_scratch_t **scratch, const struct scan_patterns *p, char *err,
                      size_t err_size)
{
	if (p == NULL || p->db == NULL)
		return 0;

	hs_scratch_t *s = *scratch;
	hs_error_t rc = hs_alloc_scratch(p->db, &s);
	if (rc != HS_SUCCESS) {
		snprintf(err, err_size, "hyperscan: cannot grow scratch (error %d)", rc);
		return -1;
	}
	*scratch = s;
	return 0;
}

void scan_scratch_free(hs_scratch_t *scratch)
{
	if (scratch != NULL)
		hs_free_scratch(scratch);
}

struct pattern_list {
	char **exprs;
	unsigned *lines;
	uint32_t count;
	uint32_t cap;
};

static void pattern_list_free(struct pattern_list *l)
{
	for (uint32_t i = 0; i < l->count; i++)
		free(l->exprs[i]);
	free(l->exprs);
	free(l->lines);
}

static int pattern_list_add(struct pattern_list *l, const char *expr, size_t len, unsigned line)
{
	if (l->count == l->cap) {
		uint32_t cap = l->cap ? l->cap * 2 : 16;
		char **e = realloc(l->exprs, cap * sizeof(*e));
		if (e == NULL)
			return -1;
		l->exprs = e;
		unsigned *ln = realloc(l->lines, cap * sizeof(*ln));
		if (ln == NULL)
			return -1;
		l->lines = ln;
		l->cap = cap;
	}
	char *copy = strndup(expr, len);
	if (copy == NULL)
		return -1;
	l->exprs[l->count] = copy;
	l->lines[l->count] = line;
	l->count++;
	return 0;
}

/* Read path into l; 0, or -1 with err set. */
static int read_patterns(const char *path, struct pattern_list *l, char *err, size_t err_size)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t cap = 0;
	ssize_t got;
	unsigned line = 0;
	int rc = 0;

	if (f == NULL) {
		snprintf(err, err_size, "%s: %s", path, strerror(errno));
		return -1;
	}
	while ((got = getline(&buf, &cap, f)) >= 0) {
		size_t len = (size_t)got;
		size_t i = 0;

		line++;
		while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r' ||
		                   buf[len - 1] == ' ' || buf[len - 1] == '\t'))
			len--;
		while (i < len && (buf[i] == ' ' || buf[i] == '\t'))
			i++;
		if (i == len || buf[i] == '#')
			continue;
		if (memchr(buf + i, '\0', len - i) != NULL) {
			snprintf(err, err_size, "%s:%u: NUL byte in pattern", path, line);
			rc = -1;
			break;
		}
		if (pattern_list_add(l, buf + i, len - i, line) != 0) {
			snprintf(err, err_size, "%s:%u: out of memory", path, line);
			rc = -1;
			break;
		}
	}
	if (rc == 0 && ferror(f)) {
		snprintf(err, err_size, "%s: %s", path, strerror(errno));
		rc = -1;
	}
	free(buf);
	fclose(f);
	return rc;
}

struct scan_patterns *scan_patterns_load_file(const char *path, char *err, size_t err_size)
{
	struct pattern_list l = {0};
	struct scan_patterns *p = NULL;
	unsigned *flags = NULL;
	unsigned *ids = NULL;

	if (read_patterns(path, &l, err, err_size) != 0)
		goto out;
	p = calloc(1, sizeof(*p));
	if (p == NULL) {
		snprintf(err, err_size, "%s: out of memory", path);
		goto out;
	}
	p->count = l.count;
	if (l.count == 0)
		goto out;
	flags = malloc(l.count * sizeof(*flags));
	ids = malloc(l.count * sizeof(*ids));
	if (flags == NULL || ids == NULL) {
		snprintf(err, err_size, "%s: out of memory", path);
		free(p);
		p = NULL;
		goto out;
	}
	for (uint32_t i = 0; i < l.count; i++) {
		flags[i] = HS_FLAG_CASELESS | HS_FLAG_SINGLEMATCH;
		ids[i] = i;
	}

	hs_compile_error_t *cerr = NULL;
	if (hs_compile_multi((const char *const *)l.exprs, flags, ids, l.count, HS_MODE_BLOCK, NULL,
	                     &p->db, &cerr) != HS_SUCCESS) {
		const char *msg = cerr != NULL ? cerr->message : "unknown error";
		if (cerr != NULL && cerr->expression >= 0 && (uint32_t)cerr->expression < l.count)
			snprintf(err, err_size, "%s:%u: hyperscan: %s", path,
			         l.lines[cerr->expression], msg);
		else
			snprintf(err, err_size, "%s: hyperscan: %s", path, msg);
		hs_free_compile_error(cerr);
		free(p);
		p = NULL;
	}
out:
	free(flags);
	free(ids);
	pattern_list_free(&l);
	return p;
}

void scan_patterns_free(struct scan_patterns *p)
{
	if (p == NULL)
		return;
	if (p->db != NULL)
		hs_free_database(p->db);
	free(p);
}

uint32_t scan_patterns_count(const struct scan_patterns *p)
{
	return p != NULL ? p->count : 0;
}

static int on_pattern_match(unsigned int id, unsigned long long from, unsigned long long to,
                            unsigned int flags, void *ctx)
{
	(void)id;
	(void)from;
	(void)to;
	(void)flags;
	(void)ctx;
	return 1; /* one match is enough: stop the scan */
}

bool scan_patterns_match(const struct scan_patterns *p, hs_scratch_t *scratch, const char *name,
                         size_t len)
{
	if (p == NULL || p->db == NULL || len > UINT_MAX)
		return false;
	return hs_scan(p->db, name, (unsigned)len, 0, scratch, on_pattern_match, NULL) ==
	       HS_SCAN_TERMINATED;
}
