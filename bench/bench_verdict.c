/*
 * helogate-bench-verdict: verdict_judge_helo() per second on one core, for a
 * realistic mix of HELO names, against a banned list of 1,000 and of
 * 1,000,000 generated names. Plain C, no EAL. A benchmark, not a test.
 *
 * The mix (a pool of 65,536 names, generated from --seed, judged in a loop):
 *   62 %  good FQDNs: 1 to 3 host labels under a registered domain and a real
 *         public suffix (com, net, org, de, co.uk, fr, io, nl, com.br, info),
 *         9 to about 60 octets, one in ten in mixed case
 *    6 %  IP literals: [a.b.c.d], bare a.b.c.d, [IPv6:2001:db8::n]; one in
 *         six is the server's own address (server-ip)
 *    4 %  localhost names: localhost, localhost.localdomain, x.localhost
 *    6 %  single labels: DESKTOP-XXXXXXX, mypc, WIN-XXXXXXXXXX
 *    6 %  private TLDs: .local, .lan, .internal, .home, .corp
 *    6 %  banned names, drawn from the whole list
 *    6 %  subdomains of banned names (mx1.<banned>, a.b.<banned>)
 *    2 %  the recipient's domain (matches-rcpt)
 *    2 %  invalid: empty labels, spaces, leading '-', 8-bit bytes
 * The banned list: names of 2 or 3 labels, 9 to 40 octets, under the same
 * suffixes, disjoint from the good names by construction.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#define HAVE_RDTSC 1
#else
#define HAVE_RDTSC 0
#endif

#include "judge/banlist.h"
#include "judge/suffix.h"
#include "judge/verdict.h"

#define POOL_SIZE 65536 /* a power of two */
#define NAME_CAP 96

struct helo {
	uint8_t len;
	char text[NAME_CAP];
};

static const char *const suffixes_real[] = {"com", "net", "org", "de",     "co.uk",
                                            "fr",  "io",  "nl",  "com.br", "info"};
static const char *const suffixes_private[] = {"local", "lan", "internal", "home", "corp"};
static const char *const words[] = {
    "mail",  "post",     "relay",   "exchange",  "smtp",     "mx",      "out",       "gateway",
    "acme",  "contoso",  "example", "northwind", "fabrikam", "globex",  "initech",   "umbrella",
    "hooli", "vandelay", "wayne",   "stark",     "tyrell",   "soylent", "cyberdyne", "aperture",
    "bluth", "dunder",   "mifflin", "prestige",  "wonka",    "oscorp",  "gringotts", "monarch"};
#define N_WORDS (sizeof(words) / sizeof(words[0]))

static uint64_t splitmix(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static unsigned pick(uint64_t *rng, unsigned n)
{
	return (unsigned)(splitmix(rng) % n);
}

/* A lower-case label of letters of the given length. */
static int random_label(char *out, size_t cap, uint64_t *rng, unsigned len)
{
	unsigned n = len < cap ? len : (unsigned)cap - 1;

	for (unsigned i = 0; i < n; i++)
		out[i] = (char)('a' + pick(rng, 26));
	out[n] = '\0';
	return (int)n;
}

/* The i-th banned name for a given seed: a function of (seed, i) only, so
 * the pool can draw any list entry without keeping the whole list. The hex
 * id keeps names distinct; the "b" prefix keeps them apart from good ones. */
static void banned_name(char *out, size_t cap, uint64_t seed, uint32_t i)
{
	uint64_t rng = seed ^ ((uint64_t)i << 20) ^ 0x5bd1e995ULL;
	char word[16];

	random_label(word, sizeof(word), &rng, 3 + pick(&rng, 12));
	if (i % 4 == 0)
		snprintf(out, cap, "mail.b%x%s.%s", i, word, suffixes_real[pick(&rng, 10)]);
	else
		snprintf(out, cap, "b%x%s.%s", i, word, suffixes_real[pick(&rng, 10)]);
}

static void set(struct helo *h, const char *text)
{
	size_t n = strlen(text);

	h->len = (uint8_t)n;
	memcpy(h->text, text, n + 1);
}

static void make_good(struct helo *h, uint64_t *rng)
{
	char buf[NAME_CAP], label[24];
	unsigned hosts = 1 + pick(rng, 3);
	int n = 0;

	for (unsigned i = 0; i < hosts; i++) {
		if (pick(rng, 2) == 0)
			n += snprintf(buf + n, sizeof(buf) - (size_t)n, "%s%u.",
			              words[pick(rng, N_WORDS)], pick(rng, 20));
		else {
			random_label(label, sizeof(label), rng, 2 + pick(rng, 10));
			n += snprintf(buf + n, sizeof(buf) - (size_t)n, "%s.", label);
		}
	}
	random_label(label, sizeof(label), rng, 4 + pick(rng, 12));
	snprintf(buf + n, sizeof(buf) - (size_t)n, "%s-%s.%s", words[pick(rng, N_WORDS)], label,
	         suffixes_real[pick(rng, 10)]);
	if (pick(rng, 10) == 0)
		for (char *p = buf; *p != '\0'; p++)
			if (pick(rng, 2) == 0 && *p >= 'a' && *p <= 'z')
				*p = (char)(*p - 'a' + 'A');
	set(h, buf);
}

static void make_address(struct helo *h, uint64_t *rng)
{
	char buf[NAME_CAP];

	switch (pick(rng, 6)) {
	case 0:
		set(h, "[192.0.2.25]"); /* the server's own address */
		return;
	case 1:
	case 2:
		snprintf(buf, sizeof(buf), "[%u.%u.%u.%u]", 1 + pick(rng, 223), pick(rng, 256),
		         pick(rng, 256), 1 + pick(rng, 254));
		break;
	case 3:
	case 4:
		snprintf(buf, sizeof(buf), "%u.%u.%u.%u", 1 + pick(rng, 223), pick(rng, 256),
		         pick(rng, 256), 1 + pick(rng, 254));
		break;
	default:
		snprintf(buf, sizeof(buf), "[IPv6:2001:db8::%x]", 1 + pick(rng, 0xfffe));
		break;
	}
	set(h, buf);
}

static void make_localhost(struct helo *h, uint64_t *rng)
{
	static const char *const names[] = {"localhost", "localhost.localdomain", "LOCALHOST",
	                                    "mail.localhost"};

	set(h, names[pick(rng, 4)]);
}

static void make_single_label(struct helo *h, uint64_t *rng)
{
	char buf[NAME_CAP], label[16];

	random_label(label, sizeof(label), rng, 7 + pick(rng, 4));
	switch (pick(rng, 3)) {
	case 0:
		snprintf(buf, sizeof(buf), "DESKTOP-%s", label);
		break;
	case 1:
		snprintf(buf, sizeof(buf), "%s", words[pick(rng, N_WORDS)]);
		break;
	default:
		snprintf(buf, sizeof(buf), "WIN-%s", label);
		break;
	}
	set(h, buf);
}

static void make_private(struct helo *h, uint64_t *rng)
{
	char buf[NAME_CAP], label[16];

	random_label(label, sizeof(label), rng, 3 + pick(rng, 8));
	snprintf(buf, sizeof(buf), "%s.%s.%s", label, words[pick(rng, N_WORDS)],
	         suffixes_private[pick(rng, 5)]);
	set(h, buf);
}

static void make_invalid(struct helo *h, uint64_t *rng)
{
	static const char *const names[] = {"bad..name.com", "two words.example.com",
	                                    "-dash.example.net", "caf\xc3\xa9.example.fr", ""};

	set(h, names[pick(rng, 5)]);
}

static void make_pool(struct helo *pool, uint64_t seed, uint32_t list_size)
{
	uint64_t rng = seed;
	char name[48], buf[NAME_CAP];

	for (size_t i = 0; i < POOL_SIZE; i++) {
		unsigned roll = pick(&rng, 100);
		struct helo *h = &pool[i];

		if (roll < 62) {
			make_good(h, &rng);
		} else if (roll < 68) {
			make_address(h, &rng);
		} else if (roll < 72) {
			make_localhost(h, &rng);
		} else if (roll < 78) {
			make_single_label(h, &rng);
		} else if (roll < 84) {
			make_private(h, &rng);
		} else if (roll < 90) {
			banned_name(name, sizeof(name), seed, (uint32_t)pick(&rng, list_size));
			set(h, name);
		} else if (roll < 96) {
			banned_name(name, sizeof(name), seed, (uint32_t)pick(&rng, list_size));
			snprintf(buf, sizeof(buf), "%s.%s", pick(&rng, 2) ? "mx1" : "a.b", name);
			set(h, buf);
		} else if (roll < 98) {
			set(h, "example.org");
		} else {
			make_invalid(h, &rng);
		}
	}
}

static struct banlist *make_list(uint64_t seed, uint32_t size, double *build_s)
{
	char **names = malloc(size * sizeof(*names));
	char *text = malloc((size_t)size * 48);
	char err[256] = "";
	struct timespec t0, t1;
	struct banlist *list;

	if (names == NULL || text == NULL) {
		fprintf(stderr, "helogate-bench-verdict: out of memory\n");
		exit(1);
	}
	for (uint32_t i = 0; i < size; i++) {
		names[i] = text + (size_t)i * 48;
		banned_name(names[i], 48, seed, i);
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	list = banlist_build((const char *const *)names, size, err, sizeof(err));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	free(names);
	free(text);
	if (list == NULL) {
		fprintf(stderr, "helogate-bench-verdict: %s\n", err);
		exit(1);
	}
	*build_s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	return list;
}

static uint64_t cycles(void)
{
#if HAVE_RDTSC
	return __rdtsc();
#else
	return 0;
#endif
}

static bool parse_u64(const char *text, uint64_t *out)
{
	char *end;

	errno = 0;
	*out = strtoull(text, &end, 0);
	return errno == 0 && end != text && *end == '\0' && text[0] != '-';
}

static void usage(FILE *f)
{
	fprintf(f, "usage: helogate-bench-verdict [--iterations N] [--seed S]\n"
	           "  --iterations N  verdicts timed per list size (default 4000000)\n"
	           "  --seed S        seed of the generated names (default 1)\n");
}

int main(int argc, char **argv)
{
	static const uint32_t sizes[] = {1000, 1000000};
	static struct helo pool[POOL_SIZE];
	uint64_t iterations = 4000000, seed = 1;
	struct ip_addr server_ip = {.family = 4, .bytes = {192, 0, 2, 25}};
	char err[256] = "";
	struct suffix_list *suffixes;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--iterations") == 0 && i + 1 < argc) {
			if (!parse_u64(argv[++i], &iterations) || iterations == 0) {
				fprintf(stderr, "helogate-bench-verdict: bad --iterations '%s'\n",
				        argv[i]);
				return 2;
			}
		} else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc) {
			if (!parse_u64(argv[++i], &seed)) {
				fprintf(stderr, "helogate-bench-verdict: bad --seed '%s'\n",
				        argv[i]);
				return 2;
			}
		} else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			return 0;
		} else {
			usage(stderr);
			return 2;
		}
	}
	suffixes = suffix_list_load(NULL, err, sizeof(err));
	if (suffixes == NULL) {
		fprintf(stderr, "helogate-bench-verdict: %s\n", err);
		return 1;
	}

	printf("helogate-bench-verdict: %" PRIu64 " verdicts per list size, pool of %d HELO names, "
	       "seed %" PRIu64 ", one thread\n\n",
	       iterations, POOL_SIZE, seed);
	printf("%10s %9s %9s %7s %12s %11s %15s |", "list size", "build ms", "list MiB", "B/name",
	       "verdicts/s", "ns/verdict", "cycles/verdict");
	for (unsigned r = 0; r < VERDICT_COUNT; r++)
		printf(" %*s", r == 0 ? 6 : (int)strlen(verdict_reason_name(r)),
		       verdict_reason_name(r));
	printf("\n");

	for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		double build_s, ns;
		struct banlist *list = make_list(seed, sizes[s], &build_s);
		struct verdict_context ctx = {
		    .server_ips = &server_ip,
		    .n_server_ips = 1,
		    .rcpt = "<postmaster@example.org>",
		    .rcpt_len = strlen("<postmaster@example.org>"),
		    .banlist = list,
		    .suffixes = suffixes,
		};
		uint64_t hist[VERDICT_COUNT] = {0};
		struct timespec t0, t1;
		uint64_t c0, c1;

		make_pool(pool, seed, sizes[s]);
		for (size_t i = 0; i < POOL_SIZE; i++) /* warm-up, untimed */
			hist[verdict_judge_helo(pool[i].text, pool[i].len, &ctx)]++;
		memset(hist, 0, sizeof(hist));

		clock_gettime(CLOCK_MONOTONIC, &t0);
		c0 = cycles();
		for (uint64_t i = 0; i < iterations; i++) {
			const struct helo *h = &pool[i & (POOL_SIZE - 1)];

			hist[verdict_judge_helo(h->text, h->len, &ctx)]++;
		}
		c1 = cycles();
		clock_gettime(CLOCK_MONOTONIC, &t1);

		ns = (double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec);
		printf("%10" PRIu32 " %9.1f %9.2f %7.1f %12.0f %11.1f ", sizes[s], build_s * 1e3,
		       (double)banlist_memory(list) / (1024.0 * 1024.0),
		       (double)banlist_memory(list) / (double)banlist_size(list),
		       (double)iterations * 1e9 / ns, ns / (double)iterations);
		if (HAVE_RDTSC)
			printf("%15.0f |", (double)(c1 - c0) / (double)iterations);
		else
			printf("%15s |", "n/a");
		for (unsigned r = 0; r < VERDICT_COUNT; r++)
			printf(" %*.1f%%", (r == 0 ? 6 : (int)strlen(verdict_reason_name(r))) - 1,
			       100.0 * (double)hist[r] / (double)iterations);
		printf("\n");
		banlist_free(list);
	}
	if (HAVE_RDTSC)
		printf("\ncycles are TSC ticks (constant rate, not the core clock).\n");
	suffix_list_free(suffixes);
	return 0;
}
