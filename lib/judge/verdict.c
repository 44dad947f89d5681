#include <string.h>
#include <strings.h>

#include "judge/banlist.h"
#include "judge/hostname.h"
#include "smtp/rcpt.h"
#include "judge/suffix.h"
#include "judge/verdict.h"

static const char *const reason_names[VERDICT_COUNT] = {
#define VERDICT_NAME(sym, name, desc) [VERDICT_##sym] = name,
    VERDICT_REASONS(VERDICT_NAME)
#undef VERDICT_NAME
};

static const char *const reason_descriptions[VERDICT_COUNT] = {
#define VERDICT_DESC(sym, name, desc) [VERDICT_##sym] = desc,
    VERDICT_REASONS(VERDICT_DESC)
#undef VERDICT_DESC
};

/* The loopback names of Debian's and Red Hat's /etc/hosts; any name under
 * the reserved TLD "localhost" is matched separately (RFC 6761 6.3). */
static const char *const loopback_names[] = {
    "localhost.localdomain",   "localhost4",    "localhost6",   "localhost4.localdomain4",
    "localhost6.localdomain6", "ip6-localhost", "ip6-loopback",
};

static bool has_suffix(const char *name, size_t len, const char *suffix)
{
	size_t n = strlen(suffix);

	return len >= n && memcmp(name + len - n, suffix, n) == 0;
}

static bool is_loopback_name(const char *name, size_t len)
{
	if (has_suffix(name, len, "localhost") &&
	    (len == sizeof("localhost") - 1 || name[len - sizeof("localhost")] == '.'))
		return true;
	for (size_t i = 0; i < sizeof(loopback_names) / sizeof(loopback_names[0]); i++)
		if (strlen(loopback_names[i]) == len && memcmp(loopback_names[i], name, len) == 0)
			return true;
	return false;
}

/* name is normalized; other is compared without case and one trailing dot. */
static bool same_domain(const char *name, size_t len, const char *other, size_t other_len)
{
	if (other_len > 0 && other[other_len - 1] == '.')
		other_len--;
	return other_len == len && strncasecmp(name, other, len) == 0;
}

static bool matches_rcpt(const char *name, size_t len, const struct verdict_context *ctx)
{
	struct rcpt_address rcpt;

	if (ctx->rcpt != NULL && rcpt_parse(ctx->rcpt, ctx->rcpt_len, &rcpt) &&
	    same_domain(name, len, rcpt.domain, rcpt.domain_len))
		return true;
	for (size_t i = 0; i < ctx->n_local_domains; i++) {
		const char *local = ctx->local_domains[i];

		if (local != NULL && same_domain(name, len, local, strlen(local)))
			return true;
	}
	return false;
}

static bool is_fqdn(const char *name, size_t len, const struct verdict_context *ctx)
{
	if (ctx->suffixes == NULL)
		return memchr(name, '.', len) != NULL;
	return suffix_list_is_fqdn(ctx->suffixes, name);
}

enum verdict_reason verdict_judge_helo(const char *helo, size_t len,
                                       const struct verdict_context *ctx)
{
	static const struct verdict_context empty;
	struct hostname host;

	if (ctx == NULL)
		ctx = &empty;
	switch (hostname_parse(helo, len, &host)) {
	case HOSTNAME_INVALID:
		return VERDICT_INVALID;
	case HOSTNAME_ADDRESS:
		for (size_t i = 0; i < ctx->n_server_ips; i++)
			if (ip_addr_equal(&host.addr, &ctx->server_ips[i]))
				return VERDICT_SERVER_IP;
		return VERDICT_IP_LITERAL;
	case HOSTNAME_DOMAIN:
		break;
	}
	if (is_loopback_name(host.name, host.len))
		return VERDICT_LOCALHOST;
	if ((ctx->banlist != NULL && banlist_contains(ctx->banlist, host.name, host.len)) ||
	    (ctx->banned_pattern != NULL &&
	     ctx->banned_pattern(ctx->banned_pattern_arg, host.name, host.len)))
		return VERDICT_BANNED;
	if (matches_rcpt(host.name, host.len, ctx))
		return VERDICT_MATCHES_RCPT;
	if (!is_fqdn(host.name, host.len, ctx))
		return VERDICT_NOT_FQDN;
	return VERDICT_OK;
}

const char *verdict_reason_name(enum verdict_reason reason)
{
	if ((unsigned)reason >= VERDICT_COUNT)
		return "unknown";
	return reason_names[reason];
}

const char *verdict_reason_description(enum verdict_reason reason)
{
	if ((unsigned)reason >= VERDICT_COUNT)
		return "unknown";
	return reason_descriptions[reason];
}

bool verdict_reason_from_name(const char *name, enum verdict_reason *out)
{
	if (name == NULL)
		return false;
	for (unsigned i = 0; i < VERDICT_COUNT; i++) {
		if (strcmp(reason_names[i], name) == 0) {
			*out = (enum verdict_reason)i;
			return true;
		}
	}
	return false;
}
