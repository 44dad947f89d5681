#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpsl.h>

#include "judge/suffix.h"

#ifndef HG_DEFAULT_PSL_FILE
#define HG_DEFAULT_PSL_FILE "/usr/share/publicsuffix/public_suffix_list.dat"
#endif

/* libpsl reads the text format in 255-byte fgets() chunks: a longer line
 * would be split and its tail taken as a rule. */
#define SUFFIX_LINE_MAX 254

struct suffix_list {
	psl_ctx_t *psl;
	int self_type; /* libpsl rule types for "the name is itself a suffix" */
	char **tlds;   /* sorted, distinct: the last label of every ICANN rule */
	size_t n_tlds;
	size_t rules; /* rules in a text list; 0 for the DAFSA form */
};

/* What check_text_format() learns from a text list. */
struct text_scan {
	long rules;
	bool icann_section; /* the list marks an ICANN section */
	char **tlds;        /* last labels of the ICANN rules (all rules without markers) */
	size_t n_tlds, cap_tlds;
};

static void text_scan_free(struct text_scan *ts)
{
	for (size_t i = 0; i < ts->n_tlds; i++)
		free(ts->tlds[i]);
	free(ts->tlds);
	ts->tlds = NULL;
	ts->n_tlds = ts->cap_tlds = 0;
}

static int compare_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Keep the rule's top label (rule[0..len) without '!' or '*.'). */
static bool text_scan_add_tld(struct text_scan *ts, const char *rule, size_t len)
{
	const char *dot = memrchr(rule, '.', len);
	const char *tld = dot != NULL ? dot + 1 : rule;
	char *copy;

	if (ts->n_tlds == ts->cap_tlds) {
		size_t cap = ts->cap_tlds ? ts->cap_tlds * 2 : 256;
		char **grown = realloc(ts->tlds, cap * sizeof(*grown));
		if (grown == NULL)
			return false;
		ts->tlds = grown;
		ts->cap_tlds = cap;
	}
	copy = strndup(tld, (size_t)(rule + len - tld));
	if (copy == NULL)
		return false;
	ts->tlds[ts->n_tlds++] = copy;
	return true;
}

/* Sort and drop duplicates. */
static void text_scan_finish(struct text_scan *ts)
{
	size_t out = 0;

	if (ts->n_tlds == 0)
		return;
	qsort(ts->tlds, ts->n_tlds, sizeof(*ts->tlds), compare_names);
	for (size_t i = 0; i < ts->n_tlds; i++) {
		if (out > 0 && strcmp(ts->tlds[out - 1], ts->tlds[i]) == 0)
			free(ts->tlds[i]);
		else
			ts->tlds[out++] = ts->tlds[i];
	}
	ts->n_tlds = out;
}

static bool is_rule_char(unsigned char c)
{
	/* Lower case only: libpsl compares bytes, and callers pass lower case.
	 * Bytes >= 0x80 are the UTF-8 IDN rules, which libpsl also adds in
	 * punycode. */
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
	       c >= 0x80;
}

/* Check that the rules follow the publicsuffix.org format: libpsl itself
 * accepts any text, so a wrong file would silently turn every name into
 * not-fqdn. Also collects the ICANN section's top labels (libpsl has no way
 * to enumerate its rules). Returns the number of rules, or -1 with the
 * message in err. */
static long check_text_format(FILE *fp, const char *path, struct text_scan *ts, char *err,
                              size_t err_size)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	long rules = 0;
	unsigned long lineno = 0;
	enum { OUTSIDE, ICANN, PRIVATE } section = OUTSIDE;

	errno = 0;
	while ((n = getline(&line, &cap, fp)) >= 0) {
		size_t len = (size_t)n, i = 0, end;

		lineno++;
		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			len--;
		if (len > SUFFIX_LINE_MAX) {
			snprintf(err, err_size, "%s:%lu: line too long", path, lineno);
			goto fail;
		}
		while (i < len && (line[i] == ' ' || line[i] == '\t'))
			i++;
		if (i == len)
			continue;
		if (len - i >= 2 && line[i] == '/' && line[i + 1] == '/') {
			/* The section markers libpsl itself reads. */
			line[len] = '\0';
			if (strstr(line + i, "===BEGIN ICANN DOMAINS===") != NULL) {
				section = ICANN;
				ts->icann_section = true;
			} else if (strstr(line + i, "===BEGIN PRIVATE DOMAINS===") != NULL) {
				section = PRIVATE;
			} else if (strstr(line + i, "===END ") != NULL) {
				section = OUTSIDE;
			}
			continue;
		}
		end = i;
		while (end < len && line[end] != ' ' && line[end] != '\t')
			end++;
		if (line[i] == '!')
			i++;
		else if (end - i >= 2 && line[i] == '*' && line[i + 1] == '.')
			i += 2;
		if (i == end || line[i] == '.' || line[end - 1] == '.')
			goto bad_rule;
		for (size_t k = i; k < end; k++)
			if (!is_rule_char((unsigned char)line[k]) ||
			    (line[k] == '.' && line[k - 1] == '.'))
				goto bad_rule;
		rules++;
		/* A list without section markers: libpsl gives its rules
		 * neither type, and every rule counts as ICANN here. */
		if ((section == ICANN || (section == OUTSIDE && !ts->icann_section)) &&
		    !text_scan_add_tld(ts, line + i, end - i)) {
			snprintf(err, err_size, "%s: out of memory", path);
			goto fail;
		}
	}
	if (ferror(fp)) {
		snprintf(err, err_size, "%s: %s", path, strerror(errno ? errno : EIO));
		goto fail;
	}
	free(line);
	if (rules == 0) {
		snprintf(err, err_size, "%s: no public suffix rules", path);
		return -1;
	}
	return rules;

bad_rule:
	snprintf(err, err_size, "%s:%lu: not a public suffix rule", path, lineno);
fail:
	free(line);
	return -1;
}

struct suffix_list *suffix_list_load(const char *path, char *err, size_t err_size)
{
	static const char dafsa_magic[] = ".DAFSA@PSL_";
	char head[sizeof(dafsa_magic) - 1];
	struct text_scan ts = {0};
	struct suffix_list *list;
	psl_ctx_t *psl;
	FILE *fp;
	size_t got;
	bool text;

	if (path == NULL)
		path = HG_DEFAULT_PSL_FILE;
	fp = fopen(path, "r");
	if (fp == NULL) {
		snprintf(err, err_size, "%s: %s", path, strerror(errno));
		return NULL;
	}
	/* The binary DAFSA form (psl-make-dafsa) is checked by libpsl itself. */
	got = fread(head, 1, sizeof(head), fp);
	if (ferror(fp)) {
		snprintf(err, err_size, "%s: %s", path, strerror(errno ? errno : EIO));
		fclose(fp);
		return NULL;
	}
	rewind(fp);
	text = got != sizeof(head) || memcmp(head, dafsa_magic, sizeof(head)) != 0;
	if (text) {
		ts.rules = check_text_format(fp, path, &ts, err, err_size);
		if (ts.rules < 0) {
			text_scan_free(&ts);
			fclose(fp);
			return NULL;
		}
		text_scan_finish(&ts);
		rewind(fp);
	}
	psl = psl_load_fp(fp);
	fclose(fp);
	if (psl == NULL) {
		text_scan_free(&ts);
		snprintf(err, err_size, "%s: not a usable public suffix list", path);
		return NULL;
	}
	list = malloc(sizeof(*list));
	if (list == NULL) {
		psl_free(psl);
		text_scan_free(&ts);
		snprintf(err, err_size, "%s: out of memory", path);
		return NULL;
	}
	list->psl = psl;
	list->tlds = ts.tlds;
	list->n_tlds = ts.n_tlds;
	list->rules = text ? (size_t)ts.rules : 0;
	/* Without the implicit "*" rule an unknown TLD ("internal", "lan")
	 * is not a suffix; explicit wildcards ("*.ck") still apply. Only the
	 * ICANN section decides whether a name is itself a suffix: private
	 * rules ("*.compute-1.amazonaws.com", "*.uberspace.de") name the
	 * hosts of one operator, not registries (docs/design.md, not-fqdn).
	 * A text list without markers has untyped rules in libpsl: ANY. */
	list->self_type =
	    PSL_TYPE_NO_STAR_RULE | (text && !ts.icann_section ? PSL_TYPE_ANY : PSL_TYPE_ICANN);
	return list;
}

void suffix_list_free(struct suffix_list *list)
{
	if (list == NULL)
		return;
	for (size_t i = 0; i < list->n_tlds; i++)
		free(list->tlds[i]);
	free(list->tlds);
	psl_free(list->psl);
	free(list);
}

size_t suffix_list_rules(const struct suffix_list *list)
{
	return list != NULL ? list->rules : 0;
}

bool suffix_list_is_tld(const struct suffix_list *list, const char *tld)
{
	size_t lo = 0, hi;

	if (list == NULL || tld == NULL || tld[0] == '\0')
		return false;
	hi = list->n_tlds;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(list->tlds[mid], tld);
		if (c == 0)
			return true;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	/* A rule that is the TLD itself: also the punycode form libpsl adds
	 * for a UTF-8 rule, and the only test a DAFSA list allows. */
	return psl_is_public_suffix2(list->psl, tld, list->self_type) != 0;
}

bool suffix_list_is_fqdn(const struct suffix_list *list, const char *name)
{
	const char *tld;

	if (list == NULL || name == NULL || name[0] == '\0')
		return false;
	tld = strrchr(name, '.');
	tld = tld != NULL ? tld + 1 : name;
	if (tld == name || *tld == '\0')
		return false;
	if (!suffix_list_is_tld(list, tld))
		return false;
	return !psl_is_public_suffix2(list->psl, name, list->self_type);
}
