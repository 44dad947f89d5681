#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "judge/banlist.h"
#include "judge/hostname.h"
#include "judge/policy.h"
#include "judge/prefix_set.h"
#include "judge/suffix.h"
#include "smtp/scan.h"

struct policy {
	struct suffix_list *suffixes;
	struct banlist *banned;
	struct scan_patterns *patterns; /* NULL: none */
	hs_scratch_t **scratch;         /* one per reader, for patterns */
	unsigned n_readers;
	struct prefix_set *allow_clients; /* NULL: none */
	struct banlist *allow_helos;      /* NULL: none */
	char *local_names[POLICY_MAX_LOCAL];
	size_t n_local_names;
	struct ip_addr local_ips[POLICY_MAX_LOCAL];
	size_t n_local_ips;
	enum policy_action actions[VERDICT_COUNT];
	char psl_path[256];
	void *attachment;
	void (*attachment_free)(void *);
	uint32_t generation; /* never 0, different for every policy built */
};

static uint32_t last_generation;

/* The pattern callback's argument: the policy and the reader's scratch. */
struct pattern_arg {
	const struct policy *p;
	hs_scratch_t *scratch;
};

static const char *const action_names[POLICY_ACTION_COUNT] = {
#define POLICY_ACTION_NAME(sym, name, desc) [POLICY_##sym] = name,
    POLICY_ACTIONS(POLICY_ACTION_NAME)
#undef POLICY_ACTION_NAME
};

static bool has_path(const char *path)
{
	return path != NULL && path[0] != '\0';
}

struct policy *policy_build(const struct policy_settings *s, char *err, size_t err_size)
{
	struct policy *p = calloc(1, sizeof(*p));
	struct hostname host;

	if (p == NULL) {
		snprintf(err, err_size, "out of memory");
		return NULL;
	}
	p->n_readers = s->n_readers > 0 ? s->n_readers : 1;
	do
		p->generation = __atomic_add_fetch(&last_generation, 1, __ATOMIC_RELAXED);
	while (p->generation == 0);
	p->suffixes = suffix_list_load(has_path(s->psl_path) ? s->psl_path : NULL, err, err_size);
	if (p->suffixes == NULL)
		goto fail;
	snprintf(p->psl_path, sizeof(p->psl_path), "%s",
	         has_path(s->psl_path) ? s->psl_path : HG_DEFAULT_PSL_FILE);
	if (has_path(s->banlist_path) &&
	    (p->banned = banlist_load_file(s->banlist_path, err, err_size)) == NULL)
		goto fail;
	if (has_path(s->patterns_path)) {
		p->patterns = scan_patterns_load_file(s->patterns_path, err, err_size);
		if (p->patterns == NULL)
			goto fail;
		p->scratch = calloc(p->n_readers, sizeof(*p->scratch));
		if (p->scratch == NULL) {
			snprintf(err, err_size, "out of memory");
			goto fail;
		}
		for (unsigned i = 0; i < p->n_readers; i++)
			if (scan_scratch_grow(&p->scratch[i], p->patterns, err, err_size) != 0)
				goto fail;
	}
	if (has_path(s->allow_clients_path) &&
	    (p->allow_clients = prefix_set_load_file(s->allow_clients_path, err, err_size)) == NULL)
		goto fail;
	/* The HELO allowlist has the banned list's format and its parent-domain
	 * rule, so it is the same structure. */
	if (has_path(s->allow_helos_path) &&
	    (p->allow_helos = banlist_load_file(s->allow_helos_path, err, err_size)) == NULL)
		goto fail;
	if (s->n_local_names > POLICY_MAX_LOCAL || s->n_local_ips > POLICY_MAX_LOCAL) {
		snprintf(err, err_size, "more than %d local names or addresses", POLICY_MAX_LOCAL);
		goto fail;
	}
	for (size_t i = 0; i < s->n_local_names; i++) {
		const char *name = s->local_names[i];
		if (hostname_parse(name, strlen(name), &host) != HOSTNAME_DOMAIN) {
			snprintf(err, err_size, "local name '%.64s': not a domain name", name);
			goto fail;
		}
		p->local_names[i] = strdup(host.name);
		if (p->local_names[i] == NULL) {
			snprintf(err, err_size, "out of memory");
			goto fail;
		}
		p->n_local_names = i + 1;
	}
	if (s->n_local_ips > 0)
		memcpy(p->local_ips, s->local_ips, s->n_local_ips * sizeof(s->local_ips[0]));
	p->n_local_ips = s->n_local_ips;
	for (int r = 0; r < VERDICT_COUNT; r++)
		p->actions[r] =
		    (unsigned)s->actions[r] < POLICY_ACTION_COUNT ? s->actions[r] : POLICY_ENFORCE;
	return p;
fail:
	policy_free(p);
	return NULL;
}

void policy_free(struct policy *p)
{
	if (p == NULL)
		return;
	suffix_list_free(p->suffixes);
	banlist_free(p->banned);
	if (p->scratch != NULL)
		for (unsigned i = 0; i < p->n_readers; i++)
			scan_scratch_free(p->scratch[i]);
	free(p->scratch);
	scan_patterns_free(p->patterns);
	prefix_set_free(p->allow_clients);
	banlist_free(p->allow_helos);
	for (size_t i = 0; i < p->n_local_names; i++)
		free(p->local_names[i]);
	if (p->attachment_free != NULL)
		p->attachment_free(p->attachment);
	free(p);
}

void policy_attach(struct policy *p, void *data, void (*free_fn)(void *))
{
	p->attachment = data;
	p->attachment_free = free_fn;
}

const void *policy_attachment(const struct policy *p)
{
	return p != NULL ? p->attachment : NULL;
}

static bool pattern_banned(void *arg, const char *name, size_t len)
{
	const struct pattern_arg *a = arg;

	return scan_patterns_match(a->p->patterns, a->scratch, name, len);
}

bool policy_client_allowed(const struct policy *p, const struct ip_addr *client)
{
	return p != NULL && client != NULL && prefix_set_contains(p->allow_clients, client);
}

/* The verdict context of a judgement by p (pa: the pattern callback's). */
static void verdict_context_of(const struct policy *p, const struct policy_input *in,
                               struct pattern_arg *pa, struct verdict_context *vc)
{
	pa->p = p;
	pa->scratch =
	    p->scratch != NULL ? p->scratch[in->reader < p->n_readers ? in->reader : 0] : NULL;
	*vc = (struct verdict_context){
	    .server_ips = p->local_ips,
	    .n_server_ips = p->n_local_ips,
	    .server_ip = in->server,
	    .server_name_hash = in->server_name,
	    .allowed_names = p->allow_helos,
	    .rcpt = in->rcpt,
	    .rcpt_len = in->rcpt_len,
	    .local_domains = (const char *const *)p->local_names,
	    .n_local_domains = p->n_local_names,
	    .banlist = p->banned,
	    .suffixes = p->suffixes,
	    .banned_pattern = p->patterns != NULL ? pattern_banned : NULL,
	    .banned_pattern_arg = pa,
	};
}

enum verdict_reason policy_judge(const struct policy *p, const struct policy_input *in)
{
	struct pattern_arg pa;
	struct verdict_context vc;

	if (p == NULL)
		return VERDICT_OK;
	/* An exempt client is never judged: its HELO is not even parsed. */
	if (policy_client_allowed(p, in->client))
		return VERDICT_ALLOWED;
	verdict_context_of(p, in, &pa, &vc);
	return verdict_judge_helo(in->helo, in->helo_len, &vc);
}

enum verdict_reason policy_judge_memo(const struct policy *p, const struct policy_input *in,
                                      struct policy_memo *memo)
{
	struct pattern_arg pa;
	struct verdict_context vc;

	if (p == NULL)
		return VERDICT_OK;
	verdict_context_of(p, in, &pa, &vc);
	if (memo->generation != p->generation) {
		if (policy_client_allowed(p, in->client))
			memo->verdict = (struct verdict_memo){.reason = VERDICT_ALLOWED};
		else
			verdict_memo_make(in->helo, in->helo_len, &vc, &memo->verdict);
		memo->generation = p->generation;
	}
	return verdict_memo_judge(&memo->verdict, in->helo, in->helo_len, &vc);
}

enum policy_action policy_action(const struct policy *p, enum verdict_reason reason)
{
	if (p == NULL || reason == VERDICT_OK || reason == VERDICT_ALLOWED ||
	    (unsigned)reason >= VERDICT_COUNT)
		return POLICY_OFF;
	return p->actions[reason];
}

uint64_t policy_server_name(const uint8_t *text, size_t len)
{
	struct hostname host;
	size_t n = 0;

	if (text == NULL)
		return 0;
	while (n < len && text[n] != ' ' && text[n] != '\t' && text[n] != '\r' && text[n] != '\n')
		n++;
	/* The common greeting name (letters, digits, dots, hyphens) is
	 * normalized here without hostname_parse(), which costs a 300-byte
	 * clear per call, twice a session: lower case, one trailing dot off.
	 * A name that is not a valid domain hashes harmlessly: a HELO equal
	 * to it is judged invalid, an address or not-fqdn before matches-rcpt
	 * is looked at. Anything else takes the full parse. */
	char name[HOSTNAME_MAX + 1];
	size_t k = 0;
	bool simple = n > 0 && n <= HOSTNAME_MAX;
	for (; simple && k < n; k++) {
		unsigned char c = text[k];
		if (c >= 'A' && c <= 'Z')
			c = (unsigned char)(c - 'A' + 'a');
		else if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
		           c == '-'))
			simple = false;
		name[k] = (char)c;
	}
	if (simple) {
		if (name[n - 1] == '.')
			n--;
		return n > 0 ? verdict_name_hash(name, n) : 0;
	}
	if (n == 0 || hostname_parse((const char *)text, n, &host) != HOSTNAME_DOMAIN)
		return 0;
	return verdict_name_hash(host.name, host.len);
}

int policy_describe(const struct policy *p, char *buf, size_t size)
{
	char actions[256] = "";
	size_t used = 0;

	if (p == NULL)
		return snprintf(buf, size, "no policy");
	for (int r = VERDICT_INVALID; r < VERDICT_COUNT; r++) {
		if (p->actions[r] == POLICY_ENFORCE)
			continue;
		int n = snprintf(actions + used, sizeof(actions) - used, "%s%s=%s", used ? "," : "",
		                 verdict_reason_name((enum verdict_reason)r),
		                 policy_action_name(p->actions[r]));
		if (n < 0 || (size_t)n >= sizeof(actions) - used)
			break;
		used += (size_t)n;
	}
	return snprintf(buf, size,
	                "%zu banned names, %u patterns, %zu allowed clients, %zu allowed names, "
	                "%zu local names, %zu local addresses, suffix list %s (%zu rules), "
	                "actions: %s",
	                banlist_size(p->banned), p->patterns ? scan_patterns_count(p->patterns) : 0,
	                prefix_set_entries(p->allow_clients), banlist_size(p->allow_helos),
	                p->n_local_names, p->n_local_ips, p->psl_path,
	                suffix_list_rules(p->suffixes), used ? actions : "all enforce");
}

const char *policy_action_name(enum policy_action action)
{
	return (unsigned)action < POLICY_ACTION_COUNT ? action_names[action] : "unknown";
}

bool policy_action_from_name(const char *name, enum policy_action *out)
{
	if (name == NULL)
		return false;
	for (int i = 0; i < POLICY_ACTION_COUNT; i++) {
		if (strcmp(action_names[i], name) == 0) {
			*out = (enum policy_action)i;
			return true;
		}
	}
	return false;
}
