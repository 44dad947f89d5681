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
};

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
 * not-fqdn. Returns the number of rules, or -1 with the message in err. */
static long check_text_format(FILE *fp, const char *path, char *err, size_t err_size)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	long rules = 0;
	unsigned long lineno = 0;

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
		if (i == len || (len - i >= 2 && line[i] == '/' && line[i + 1] == '/'))
			continue;
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
	struct suffix_list *list;
	psl_ctx_t *psl;
	FILE *fp;
	size_t got;

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
	if (got != sizeof(head) || memcmp(head, dafsa_magic, sizeof(head)) != 0) {
		if (check_text_format(fp, path, err, err_size) < 0) {
			fclose(fp);
			return NULL;
		}
		rewind(fp);
	}
	psl = psl_load_fp(fp);
	fclose(fp);
	if (psl == NULL) {
		snprintf(err, err_size, "%s: not a usable public suffix list", path);
		return NULL;
	}
	list = malloc(sizeof(*list));
	if (list == NULL) {
		psl_free(psl);
		snprintf(err, err_size, "%s: out of memory", path);
		return NULL;
	}
	list->psl = psl;
	return list;
}

void suffix_list_free(struct suffix_list *list)
{
	if (list == NULL)
		return;
	psl_free(list->psl);
	free(list);
}

bool suffix_list_is_fqdn(const struct suffix_list *list, const char *name)
{
	/* Without the implicit "*" rule an unknown TLD ("internal", "lan",
	 * "local", "example") is not a public suffix; explicit wildcard rules
	 * ("*.ck") still apply. ANY includes the private section ("github.io"). */
	const int type = PSL_TYPE_ANY | PSL_TYPE_NO_STAR_RULE;
	const char *tld;

	if (list == NULL || name == NULL || name[0] == '\0')
		return false;
	tld = strrchr(name, '.');
	tld = tld != NULL ? tld + 1 : name;
	if (tld == name || *tld == '\0')
		return false;
	if (!psl_is_public_suffix2(list->psl, tld, type))
		return false;
	return !psl_is_public_suffix2(list->psl, name, type);
}
