/* policy_rcu: replacing the whole policy while reader threads judge HELOs
 * with it (what SIGHUP does under traffic). Run under ThreadSanitizer too: a
 * policy freed while a reader still holds it is a report there, and a wrong
 * verdict here. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sched.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "dp/policy_rcu.h"
#include "judge/policy.h"
#include "judge/verdict.h"

#define READERS 3
#define REPLACEMENTS 40
#define FILLER_NAMES 500
#define MAX_SECONDS 120

static char list_a[64], list_b[64]; /* banned-name files */

/* Each probe's verdict under policy A and under policy B. */
static const struct probe {
	const char *helo;
	enum verdict_reason in_a, in_b;
} probes[] = {
    {"only-a.com", VERDICT_BANNED, VERDICT_OK},
    {"mx.only-a.com", VERDICT_BANNED, VERDICT_OK},
    {"only-b.net", VERDICT_OK, VERDICT_BANNED},
    {"smtp.a-filler-123.org", VERDICT_BANNED, VERDICT_OK},
    {"smtp.b-filler-123.org", VERDICT_OK, VERDICT_BANNED},
    {"relay.both.info", VERDICT_BANNED, VERDICT_BANNED},
    {"mail.example.org", VERDICT_OK, VERDICT_OK},
    {"localhost", VERDICT_LOCALHOST, VERDICT_LOCALHOST},
    {"mypc", VERDICT_NOT_FQDN, VERDICT_NOT_FQDN},
};
#define N_PROBES (sizeof(probes) / sizeof(probes[0]))

static void write_list(char *path, const char *fixed, char prefix)
{
	strcpy(path, "/tmp/hg-policy-rcu-XXXXXX");
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	FILE *f = fdopen(fd, "w");
	assert_non_null(f);
	fprintf(f, "%s\nboth.info\n", fixed);
	for (int i = 0; i < FILLER_NAMES; i++)
		fprintf(f, "%c-filler-%d.org\n", prefix, i);
	fclose(f);
}

static struct policy *build(bool a)
{
	char err[256] = "";
	struct policy_settings s = {.banlist_path = a ? list_a : list_b, .n_readers = READERS};

	for (int r = 0; r < VERDICT_COUNT; r++)
		s.actions[r] = POLICY_ENFORCE;
	struct policy *p = policy_build(&s, err, sizeof(err));
	if (p == NULL)
		fail_msg("policy_build: %s", err);
	return p;
}

struct reader {
	pthread_t thread;
	struct policy_rcu *rcu;
	unsigned id;
	bool *stop;
	unsigned long iterations, saw_a, saw_b, failures;
	char failure[256];
};

static void *reader_main(void *arg)
{
	struct reader *r = arg;

	if (policy_rcu_reader_register(r->rcu, r->id) != 0) {
		snprintf(r->failure, sizeof(r->failure), "reader %u: register failed", r->id);
		r->failures++;
		return NULL;
	}
	policy_rcu_reader_online(r->rcu, r->id);
	while (!__atomic_load_n(r->stop, __ATOMIC_ACQUIRE)) {
		const struct policy *p = policy_rcu_get(r->rcu);
		bool like_a = true, like_b = true;

		for (size_t i = 0; i < N_PROBES; i++) {
			const struct probe *pr = &probes[i];
			struct policy_input in = {
			    .helo = pr->helo, .helo_len = strlen(pr->helo), .reader = r->id};
			enum verdict_reason got = policy_judge(p, &in);

			if (got != pr->in_a && got != pr->in_b && r->failures++ == 0)
				snprintf(r->failure, sizeof(r->failure), "'%s': got %s", pr->helo,
				         verdict_reason_name(got));
			like_a = like_a && got == pr->in_a;
			like_b = like_b && got == pr->in_b;
		}
		if (like_a)
			__atomic_store_n(&r->saw_a, r->saw_a + 1, __ATOMIC_RELAXED);
		else if (like_b)
			__atomic_store_n(&r->saw_b, r->saw_b + 1, __ATOMIC_RELAXED);
		else if (r->failures++ == 0)
			snprintf(r->failure, sizeof(r->failure),
			         "one pointer gave verdicts of both policy A and policy B");
		__atomic_store_n(&r->iterations, r->iterations + 1, __ATOMIC_RELAXED);
		policy_rcu_quiescent(r->rcu, r->id);
	}
	policy_rcu_reader_offline(r->rcu, r->id);
	return NULL;
}

static bool every_reader_saw_both(struct reader *readers)
{
	for (unsigned i = 0; i < READERS; i++)
		if (__atomic_load_n(&readers[i].saw_a, __ATOMIC_RELAXED) == 0 ||
		    __atomic_load_n(&readers[i].saw_b, __ATOMIC_RELAXED) == 0)
			return false;
	return true;
}

static void test_readers_see_policy_a_or_b_never_a_mix(void **state)
{
	struct policy_rcu *rcu = policy_rcu_create(READERS);
	struct reader readers[READERS];
	bool stop = false;
	unsigned replaced = 0;
	time_t t0 = time(NULL);
	(void)state;

	assert_non_null(rcu);
	policy_rcu_replace(rcu, build(true));
	memset(readers, 0, sizeof(readers));
	for (unsigned i = 0; i < READERS; i++) {
		readers[i].rcu = rcu;
		readers[i].id = i;
		readers[i].stop = &stop;
		assert_int_equal(pthread_create(&readers[i].thread, NULL, reader_main, &readers[i]),
		                 0);
	}
	while ((replaced < REPLACEMENTS || !every_reader_saw_both(readers)) &&
	       time(NULL) - t0 < MAX_SECONDS) {
		policy_rcu_replace(rcu, build(replaced % 2 == 1));
		replaced++;
	}
	__atomic_store_n(&stop, true, __ATOMIC_RELEASE);
	for (unsigned i = 0; i < READERS; i++)
		assert_int_equal(pthread_join(readers[i].thread, NULL), 0);
	for (unsigned i = 0; i < READERS; i++) {
		const struct reader *r = &readers[i];
		print_message("reader %u: %lu iterations, %lu on A, %lu on B\n", i, r->iterations,
		              r->saw_a, r->saw_b);
		if (r->failures > 0)
			fail_msg("reader %u: %lu failures, first: %s", i, r->failures, r->failure);
		assert_true(r->saw_a > 0 && r->saw_b > 0);
	}
	assert_true(replaced >= REPLACEMENTS);
	policy_rcu_destroy(rcu);
}

/* The writer frees the old policy only after an online reader that holds
 * it passed a quiescent point. */
struct holder {
	struct policy_rcu *rcu;
	int held, release, replaced;
	enum verdict_reason still;
};

static void *holder_main(void *arg)
{
	struct holder *h = arg;
	struct policy_input in = {.helo = "only-a.com", .helo_len = 10};

	policy_rcu_reader_register(h->rcu, 0);
	policy_rcu_reader_online(h->rcu, 0);
	const struct policy *p = policy_rcu_get(h->rcu);
	__atomic_store_n(&h->held, 1, __ATOMIC_RELEASE);
	while (!__atomic_load_n(&h->release, __ATOMIC_ACQUIRE))
		sched_yield();
	h->still = policy_judge(p, &in); /* still policy A, not freed */
	policy_rcu_quiescent(h->rcu, 0);
	policy_rcu_reader_offline(h->rcu, 0);
	return NULL;
}

static void *replacer_main(void *arg)
{
	struct holder *h = arg;

	policy_rcu_replace(h->rcu, build(false));
	__atomic_store_n(&h->replaced, 1, __ATOMIC_RELEASE);
	return NULL;
}

static void test_replace_waits_until_an_online_reader_is_quiescent(void **state)
{
	struct holder h = {.rcu = policy_rcu_create(READERS)};
	const struct timespec wait = {.tv_sec = 0, .tv_nsec = 200 * 1000 * 1000};
	pthread_t reader, writer;
	(void)state;

	assert_non_null(h.rcu);
	policy_rcu_replace(h.rcu, build(true));
	assert_int_equal(pthread_create(&reader, NULL, holder_main, &h), 0);
	while (!__atomic_load_n(&h.held, __ATOMIC_ACQUIRE))
		sched_yield();
	assert_int_equal(pthread_create(&writer, NULL, replacer_main, &h), 0);
	nanosleep(&wait, NULL);
	assert_int_equal(__atomic_load_n(&h.replaced, __ATOMIC_ACQUIRE), 0);
	__atomic_store_n(&h.release, 1, __ATOMIC_RELEASE);
	assert_int_equal(pthread_join(writer, NULL), 0);
	assert_int_equal(pthread_join(reader, NULL), 0);
	assert_int_equal(h.still, VERDICT_BANNED);
	struct policy_input in = {.helo = "only-a.com", .helo_len = 10};
	assert_int_equal(policy_judge(policy_rcu_get(h.rcu), &in), VERDICT_OK);
	policy_rcu_destroy(h.rcu);
}

static int setup(void **state)
{
	(void)state;
	write_list(list_a, "only-a.com", 'a');
	write_list(list_b, "only-b.net", 'b');
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unlink(list_a);
	unlink(list_b);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_readers_see_policy_a_or_b_never_a_mix),
	    cmocka_unit_test(test_replace_waits_until_an_online_reader_is_quiescent),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
