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

/* Special-use and private-use domains: a name equal to one or under one is
 * never a mail sender's global identity. Sources, one per entry (IANA's
 * "Special-Use Domain Names" registry lists the RFC ones). */
static const char *const special_use_domains[] = {
    "local",       /* RFC 6762 3: link-local multicast DNS names */
    "invalid",     /* RFC 6761 6.4: guaranteed never to resolve */
    "test",        /* RFC 6761 6.2: testing, never delegated */
    "example",     /* RFC 6761 6.5: the TLD (example.com/.net/.org stay: see design.md) */
    "onion",       /* RFC 7686 2: Tor hidden services, not in the DNS */
    "alt",         /* RFC 9476 2: non-DNS name spaces */
    "arpa",        /* RFC 3172 2: infrastructure only (in-addr.arpa RFC 1035 3.5,
                    * ip6.arpa RFC 3596 2.5, home.arpa RFC 8375, ipv4only.arpa RFC 8880) */
    "internal",    /* ICANN Board resolution 2024.07.29.06: private use, never delegated */
    "intranet",    /* RFC 6762 Appendix G: TLDs used on private networks */
    "private",     /* RFC 6762 Appendix G */
    "corp",        /* RFC 6762 Appendix G; ICANN name-collision resolution 2018.02.04.12 */
    "home",        /* RFC 6762 Appendix G; ICANN name-collision resolution 2018.02.04.12 */
    "lan",         /* RFC 6762 Appendix G */
    "localdomain", /* the /etc/hosts domain of Debian and Red Hat (see localhost) */
};

static bool has_suffix(const char *name, size_t len, const char *suffix)
{
	size_t n = strlen(suffix);

	return len >= n && memcmp(name + len - n, suffix, n) == 0;
}

/* name is domain or a name under it. */
static bool in_domain(const char *name, size_t len, const char *domain)
{
	size_t n = strlen(domain);

	return has_suffix(name, len, domain) && (len == n || name[len - n - 1] == '.');
}

/* Every special-use domain above is a top-level label, so only the name's
 * last label is compared: one length test per entry, a memcmp on a match
 * of length (this runs for every name that reaches not-fqdn). */
bool verdict_is_special_use(const char *name, size_t len)
{
	const char *dot = memrchr(name, '.', len);
	const char *tld = dot != NULL ? dot + 1 : name;
	size_t n = len - (size_t)(tld - name);

	for (size_t i = 0; i < sizeof(special_use_domains) / sizeof(special_use_domains[0]); i++) {
		const char *d = special_use_domains[i];
		if (strlen(d) == n && memcmp(d, tld, n) == 0)
			return true;
	}
	return false;
}

/* FNV-1a with MurmurHash3's finalizer (as banlist.c), of the bytes lower
 * cased when fold: not keyed, which is fine, since a collision only
 * matters against the one name the session's own server announced, or
 * leads to a full comparison (verdict_memo_judge). */
static uint64_t name_hash(const char *name, size_t len, bool fold)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];
		if (fold && c >= 'A' && c <= 'Z')
			c = (unsigned char)(c - 'A' + 'a');
		h = (h ^ c) * 0x100000001b3ULL;
	}
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return h != 0 ? h : 1;
}

uint64_t verdict_name_hash(const char *name, size_t len)
{
	return name_hash(name, len, false);
}

static bool is_loopback_name(const char *name, size_t len)
{
	if (in_domain(name, len, "localhost"))
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
	return ctx->server_name_hash != 0 && verdict_name_hash(name, len) == ctx->server_name_hash;
}

static bool is_fqdn(const char *name, size_t len, const struct verdict_context *ctx)
{
	if (verdict_is_special_use(name, len))
		return false;
	if (ctx->suffixes == NULL)
		return memchr(name, '.', len) != NULL;
	return suffix_list_is_fqdn(ctx->suffixes, name);
}

static enum verdict_reason judge(const char *helo, size_t len, const struct verdict_context *ctx,
                                 uint64_t *hash)
{
	static const struct verdict_context empty;
	struct hostname host;

	*hash = 0;
	if (ctx == NULL)
		ctx = &empty;
	switch (hostname_parse(helo, len, &host)) {
	case HOSTNAME_INVALID:
		return VERDICT_INVALID;
	case HOSTNAME_ADDRESS:
		if (ctx->server_ip != NULL && ip_addr_equal(&host.addr, ctx->server_ip))
			return VERDICT_SERVER_IP;
		for (size_t i = 0; i < ctx->n_server_ips; i++)
			if (ip_addr_equal(&host.addr, &ctx->server_ips[i]))
				return VERDICT_SERVER_IP;
		return VERDICT_IP_LITERAL;
	case HOSTNAME_DOMAIN:
		break;
	}
	*hash = verdict_name_hash(host.name, host.len);
	/* The operator's exemption beats every name rule: it is how a false
	 * positive is fixed without waiting for a release. */
	if (ctx->allowed_names != NULL && banlist_contains(ctx->allowed_names, host.name, host.len))
		return VERDICT_ALLOWED;
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

enum verdict_reason verdict_judge_helo(const char *helo, size_t len,
                                       const struct verdict_context *ctx)
{
	uint64_t hash;

	return judge(helo, len, ctx, &hash);
}

enum verdict_reason verdict_memo_make(const char *helo, size_t len,
                                      const struct verdict_context *ctx, struct verdict_memo *memo)
{
	struct verdict_context base = ctx != NULL ? *ctx : (struct verdict_context){0};

	base.rcpt = NULL;
	base.rcpt_len = 0;
	base.server_name_hash = 0;
	memo->reason = (uint8_t)judge(helo, len, &base, &memo->name_hash);
	return (enum verdict_reason)memo->reason;
}

enum verdict_reason verdict_memo_judge(const struct verdict_memo *memo, const char *helo,
                                       size_t len, const struct verdict_context *ctx)
{
	struct rcpt_address rcpt;
	enum verdict_reason reason = (enum verdict_reason)memo->reason;

	/* Only ok and not-fqdn come after matches-rcpt in precedence. */
	if ((reason != VERDICT_OK && reason != VERDICT_NOT_FQDN) || memo->name_hash == 0 ||
	    ctx == NULL)
		return reason;
	if (ctx->server_name_hash != 0 && memo->name_hash == ctx->server_name_hash)
		return VERDICT_MATCHES_RCPT;
	if (ctx->rcpt != NULL && rcpt_parse(ctx->rcpt, ctx->rcpt_len, &rcpt)) {
		size_t n = rcpt.domain_len;
		if (n > 0 && rcpt.domain[n - 1] == '.')
			n--;
		/* Equal names hash equal (same_domain() folds case and one
		 * trailing dot as this does); an equal hash is confirmed. */
		if (name_hash(rcpt.domain, n, true) == memo->name_hash)
			return verdict_judge_helo(helo, len, ctx);
	}
	return reason;
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
