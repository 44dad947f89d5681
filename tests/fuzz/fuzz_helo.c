/*
 * libFuzzer target for hostname_parse() and verdict_judge_helo(). The input
 * is split at its first NUL or newline into the HELO argument and the RCPT
 * TO text; each part is copied to a buffer of exactly its size so ASan
 * reports any read past it. The context is fixed: the default public suffix
 * list, a banlist, server addresses and a local domain.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wire/addr.h"
#include "judge/banlist.h"
#include "judge/hostname.h"
#include "judge/suffix.h"
#include "judge/verdict.h"

static struct verdict_context ctx;
static struct ip_addr server_ips[2];

static void check(int ok)
{
	if (!ok)
		abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const char *const banned[] = {"fakedomain.xyz", "bogus.lan",
	                                     "localhost.localdomain"};
	static const char *const local_domains[] = {"exampleisp.net"};
	char err[512];

	(void)argc;
	(void)argv;
	check(ip_addr_parse("192.0.2.25", 10, &server_ips[0]));
	check(ip_addr_parse("2001:db8::25", 12, &server_ips[1]));
	ctx.server_ips = server_ips;
	ctx.n_server_ips = 2;
	ctx.local_domains = local_domains;
	ctx.n_local_domains = 1;
	ctx.banlist = banlist_build(banned, 3, err, sizeof(err));
	ctx.suffixes = suffix_list_load(NULL, err, sizeof(err));
	check(ctx.banlist != NULL && ctx.suffixes != NULL);
	return 0;
}

static char *copy_exact(const uint8_t *data, size_t len)
{
	char *p = malloc(len > 0 ? len : 1);

	check(p != NULL);
	memcpy(p, data, len);
	return p;
}

static void check_domain(const struct hostname *h)
{
	check(h->len > 0 && h->len <= HOSTNAME_MAX && strlen(h->name) == h->len);
	check(h->name[h->len - 1] != '.');
	for (size_t i = 0; i < h->len; i++) {
		char c = h->name[i];

		check((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
		      c == '.');
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct verdict_context local = ctx;
	struct hostname h;
	size_t split = 0;
	char *helo, *rcpt = NULL;
	enum hostname_form form;
	enum verdict_reason reason;

	while (split < size && data[split] != '\0' && data[split] != '\n')
		split++;
	helo = copy_exact(data, split);
	if (split < size) {
		rcpt = copy_exact(data + split + 1, size - split - 1);
		local.rcpt = rcpt;
		local.rcpt_len = size - split - 1;
	}

	form = hostname_parse(helo, split, &h);
	reason = verdict_judge_helo(helo, split, &local);
	check((unsigned)reason < VERDICT_COUNT);
	check((form == HOSTNAME_INVALID) == (reason == VERDICT_INVALID));
	if (form == HOSTNAME_ADDRESS) {
		char text[IP_ADDR_TEXT_MAX];
		struct ip_addr back;
		size_t n = ip_addr_format(&h.addr, text, sizeof(text));

		check(reason == VERDICT_SERVER_IP || reason == VERDICT_IP_LITERAL);
		check(h.len == strlen(h.name) && h.len <= HOSTNAME_MAX + 2);
		check(ip_addr_parse(text, n, &back) && ip_addr_equal(&back, &h.addr));
	} else if (form == HOSTNAME_DOMAIN) {
		struct hostname again;

		check(reason != VERDICT_SERVER_IP && reason != VERDICT_IP_LITERAL);
		check_domain(&h);
		/* Normalizing is idempotent and never changes the verdict. */
		check(hostname_parse(h.name, h.len, &again) == HOSTNAME_DOMAIN);
		check(again.len == h.len && memcmp(again.name, h.name, h.len) == 0);
		check(verdict_judge_helo(h.name, h.len, &local) == reason);
	}
	free(helo);
	free(rcpt);
	return 0;
}
