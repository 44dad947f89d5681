/* banlist_rcu: replacing the banned list while reader threads judge HELOs.
 * Run under ThreadSanitizer and AddressSanitizer too: a list freed while a
 * reader still holds it is a report there, and a wrong verdict here. */
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

#include "judge/banlist.h"
#include "judge/banlist_rcu.h"
#include "judge/suffix.h"
#include "judge/verdict.h"

#define READERS 4
#define REPLACEMENTS 200
#define FILLER_NAMES 2000
#define MAX_SECONDS 120

static struct suffix_list *suffixes;

/* Each probe's verdict under list A and under list B. */
static const struct probe {
	const char *helo;
	enum verdict_reason in_a, in_b;
} probes[] = {
    {"only-a.com", VERDICT_BANNED, VERDICT_OK},
    {"mx.only-a.com", VERDICT_BANNED, VERDICT_OK},
    {"only-b.net", VERDICT_OK, VERDICT_BANNED},
    {"MAIL.Only-B.net.", VERDICT_OK, VERDICT_BANNED},
    {"smtp.a-filler-1234.org", VERDICT_BANNED, VERDICT_OK},
    {"smtp.b-filler-1234.org", VERDICT_OK, VERDICT_BANNED},
    {"relay.both.info", VERDICT_BANNED, VERDICT_BANNED},
    {"fakeboth.info", VERDICT_OK, VERDICT_OK},
    {"mail.example.org", VERDICT_OK, VERDICT_OK},
    {"localhost", VERDICT_LOCALHOST, VERDICT_LOCALHOST},
    {"[192.0.2.1]", VERDICT_IP_LITERAL, VERDICT_IP_LITERAL},
    {"pc.lan", VERDICT_NOT_FQDN, VERDICT_NOT_FQDN},
    {"mypc", VERDICT_NOT_FQDN, VERDICT_NOT_FQDN},
    {"bad..name", VERDICT_INVALID, VERDICT_INVALID},
};
#define N_PROBES (sizeof(probes) / sizeof(probes[0]))

/* List A or B, built fresh: FILLER_NAMES names of its own plus the
 * probes' names. */
static struct banlist *build_list(bool a)
{
	static const char *const fixed_a[] = {"only-a.com", "both.info"};
	static const char *const fixed_b[] = {"only-b.net", "both.info"};
	const char *const *fixed = a ? fixed_a : fixed_b;
	char **names = calloc(FILLER_NAMES + 2, sizeof(*names));
	char err[256] = "";
	struct banlist *list;

	assert_non_null(names);
	for (unsigned i = 0; i < FILLER_NAMES; i++) {
		names[i] = malloc(32);
		assert_non_null(names[i]);
		snprintf(names[i], 32, "%c-filler-%u.org", a ? 'a' : 'b', i);
	}
	names[FILLER_NAMES] = (char *)fixed[0];
	names[FILLER_NAMES + 1] = (char *)fixed[1];
	list = banlist_build((const char *const *)names, FILLER_NAMES + 2, err, sizeof(err));
	if (list == NULL)
		fail_msg("build: %s", err);
	for (unsigned i = 0; i < FILLER_NAMES; i++)
		free(names[i]);
	free(names);
	return list;
}

struct reader {
	pthread_t thread;
	struct banlist_rcu *rcu;
	unsigned id;
	const bool *stop;
	/* Written by the reader; iterations and saw_* read atomically by the
	 * writer while it runs, the rest only after join. */
	unsigned long iterations, saw_a, saw_b;
	unsigned long failures;
	char failure[256];
};

static void *reader_main(void *arg)
{
	struct reader *r = arg;

	if (banlist_rcu_reader_register(r->rcu, r->id) != 0) {
		snprintf(r->failure, sizeof(r->failure), "reader %u: register failed", r->id);
		r->failures++;
		return NULL;
	}
	banlist_rcu_reader_online(r->rcu, r->id);
	while (!__atomic_load_n(r->stop, __ATOMIC_ACQUIRE)) {
		struct verdict_context ctx = {.banlist = banlist_rcu_get(r->rcu),
		                              .suffixes = suffixes};
		bool like_a = true, like_b = true;

		for (size_t i = 0; i < N_PROBES; i++) {
			const struct probe *p = &probes[i];
			enum verdict_reason got =
			    verdict_judge_helo(p->helo, strlen(p->helo), &ctx);

			if (got != p->in_a && got != p->in_b && r->failures++ == 0)
				snprintf(r->failure, sizeof(r->failure),
				         "'%s': got %s, expected %s or %s", p->helo,
				         verdict_reason_name(got), verdict_reason_name(p->in_a),
				         verdict_reason_name(p->in_b));
			like_a = like_a && got == p->in_a;
			like_b = like_b && got == p->in_b;
		}
		if (like_a)
			__atomic_store_n(&r->saw_a, r->saw_a + 1, __ATOMIC_RELAXED);
		else if (like_b)
			__atomic_store_n(&r->saw_b, r->saw_b + 1, __ATOMIC_RELAXED);
		else if (r->failures++ == 0)
			snprintf(r->failure, sizeof(r->failure),
			         "one pointer gave verdicts of both list A and list B");
		__atomic_store_n(&r->iterations, r->iterations + 1, __ATOMIC_RELAXED);
		banlist_rcu_quiescent(r->rcu, r->id);
	}
	banlist_rcu_reader_offline(r->rcu, r->id);
	banlist_rcu_reader_unregister(r->rcu, r->id);
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

static double seconds_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

static void test_readers_see_list_a_or_list_b_never_a_mix(void **state)
{
	struct banlist_rcu *rcu = banlist_rcu_create(READERS);
	struct reader readers[READERS];
	bool stop = false;
	unsigned replaced = 0;
	struct timespec t0;
	(void)state;

	assert_non_null(rcu);
	assert_int_equal(banlist_rcu_replace(rcu, build_list(true)), 0);
	memset(readers, 0, sizeof(readers));
	for (unsigned i = 0; i < READERS; i++) {
		readers[i].rcu = rcu;
		readers[i].id = i;
		readers[i].stop = &stop;
		assert_int_equal(pthread_create(&readers[i].thread, NULL, reader_main, &readers[i]),
		                 0);
	}
	/* Alternate B, A, B, ... at least REPLACEMENTS times, and until every
	 * reader has judged against both lists. */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while ((replaced < REPLACEMENTS || !every_reader_saw_both(readers)) &&
	       seconds_since(&t0) < MAX_SECONDS) {
		assert_int_equal(banlist_rcu_replace(rcu, build_list(replaced % 2 == 1)), 0);
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
		assert_true(r->saw_a > 0);
		assert_true(r->saw_b > 0);
	}
	assert_true(replaced >= REPLACEMENTS);
	banlist_rcu_destroy(rcu);
}

struct holder {
	struct banlist_rcu *rcu;
	int held;          /* 1 once the reader holds the list */
	int release;       /* 1 when the reader may go quiescent */
	bool still_banned; /* the held list still answered after the writer started */
	int replaced;      /* 1 once banlist_rcu_replace() returned */
};

static void *holder_main(void *arg)
{
	struct holder *h = arg;
	const struct banlist *list;

	banlist_rcu_reader_register(h->rcu, 0);
	banlist_rcu_reader_online(h->rcu, 0);
	list = banlist_rcu_get(h->rcu);
	__atomic_store_n(&h->held, 1, __ATOMIC_RELEASE);
	while (!__atomic_load_n(&h->release, __ATOMIC_ACQUIRE))
		sched_yield();
	h->still_banned = banlist_contains(list, "old.example", strlen("old.example"));
	banlist_rcu_quiescent(h->rcu, 0);
	banlist_rcu_reader_offline(h->rcu, 0);
	banlist_rcu_reader_unregister(h->rcu, 0);
	return NULL;
}

static void *replacer_main(void *arg)
{
	struct holder *h = arg;
	static const char *const fresh[] = {"new.example"};
	struct banlist *list = banlist_build(fresh, 1, NULL, 0);

	banlist_rcu_replace(h->rcu, list);
	__atomic_store_n(&h->replaced, 1, __ATOMIC_RELEASE);
	return NULL;
}

static void test_replace_waits_until_an_online_reader_is_quiescent(void **state)
{
	static const char *const old[] = {"old.example"};
	struct holder h = {.rcu = banlist_rcu_create(2)};
	const struct timespec wait = {.tv_sec = 0, .tv_nsec = 200 * 1000 * 1000};
	pthread_t reader, writer;
	(void)state;

	assert_non_null(h.rcu);
	assert_int_equal(banlist_rcu_replace(h.rcu, banlist_build(old, 1, NULL, 0)), 0);
	assert_int_equal(pthread_create(&reader, NULL, holder_main, &h), 0);
	while (!__atomic_load_n(&h.held, __ATOMIC_ACQUIRE))
		sched_yield();
	assert_int_equal(pthread_create(&writer, NULL, replacer_main, &h), 0);
	nanosleep(&wait, NULL);
	assert_int_equal(__atomic_load_n(&h.replaced, __ATOMIC_ACQUIRE), 0);
	__atomic_store_n(&h.release, 1, __ATOMIC_RELEASE);
	assert_int_equal(pthread_join(writer, NULL), 0);
	assert_int_equal(pthread_join(reader, NULL), 0);
	assert_true(h.still_banned);
	assert_true(banlist_contains(banlist_rcu_get(h.rcu), "new.example", 11));
	assert_false(banlist_contains(banlist_rcu_get(h.rcu), "old.example", 11));
	banlist_rcu_destroy(h.rcu);
}

static void test_offline_or_unregistered_readers_do_not_block_the_writer(void **state)
{
	static const char *const names[] = {"x.example"};
	struct banlist_rcu *rcu = banlist_rcu_create(3);
	(void)state;

	assert_non_null(rcu);
	assert_int_equal(banlist_rcu_reader_register(rcu, 0), 0);
	assert_int_equal(banlist_rcu_reader_register(rcu, 2), 0);
	banlist_rcu_reader_online(rcu, 0);
	banlist_rcu_reader_offline(rcu, 0);
	/* Reader 2 registered but never went online. */
	assert_int_equal(banlist_rcu_replace(rcu, banlist_build(names, 1, NULL, 0)), 0);
	assert_int_equal(banlist_size(banlist_rcu_get(rcu)), 1);
	/* An online reader that reports a quiescent point lets it through too. */
	banlist_rcu_reader_online(rcu, 0);
	banlist_rcu_quiescent(rcu, 0);
	banlist_rcu_reader_offline(rcu, 0);
	assert_int_equal(banlist_rcu_replace(rcu, NULL), 0);
	assert_null(banlist_rcu_get(rcu));
	assert_int_equal(banlist_rcu_reader_unregister(rcu, 0), 0);
	assert_int_equal(banlist_rcu_reader_unregister(rcu, 2), 0);
	banlist_rcu_destroy(rcu);
}

static void test_reader_ids_are_bounded(void **state)
{
	struct banlist_rcu *rcu = banlist_rcu_create(2);
	char err[128] = "";
	(void)state;

	assert_null(banlist_rcu_create(0));
	assert_non_null(rcu);
	assert_null(banlist_rcu_get(rcu));
	assert_int_equal(banlist_rcu_reader_register(rcu, 1), 0);
	assert_int_equal(banlist_rcu_reader_register(rcu, 2), -1);
	assert_int_equal(banlist_rcu_reader_unregister(rcu, 2), -1);
	assert_int_equal(banlist_rcu_reader_unregister(rcu, 1), 0);
	assert_int_equal(banlist_rcu_replace(NULL, NULL), -1);
	assert_int_equal(banlist_rcu_reload_file(NULL, "/x", err, sizeof(err)), -1);
	assert_string_equal(err, "/x: no shared banned list to load into");
	banlist_rcu_destroy(rcu);
	banlist_rcu_destroy(NULL);
}

static char *write_temp(const char *content)
{
	const char *dir = getenv("TMPDIR");
	char *path = malloc(512);
	FILE *f;
	int fd;

	assert_non_null(path);
	snprintf(path, 512, "%s/test_banlist_rcu_XXXXXX", dir != NULL ? dir : "/tmp");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	assert_non_null(f);
	assert_int_equal(fputs(content, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
	return path;
}

static void test_failed_reload_keeps_the_old_list(void **state)
{
	struct banlist_rcu *rcu = banlist_rcu_create(1);
	char *good = write_temp("# v1\nspam.example\nbad.net\n");
	char *bad = write_temp("other.example\nbad..name\n");
	char err[512] = "", expected[600];
	const struct banlist *before;
	(void)state;

	assert_non_null(rcu);
	if (banlist_rcu_reload_file(rcu, good, err, sizeof(err)) != 0)
		fail_msg("reload: %s", err);
	before = banlist_rcu_get(rcu);
	assert_int_equal(banlist_size(before), 2);

	assert_int_equal(banlist_rcu_reload_file(rcu, bad, err, sizeof(err)), -1);
	snprintf(expected, sizeof(expected), "%s:2: invalid name 'bad..name'", bad);
	assert_string_equal(err, expected);
	assert_ptr_equal(banlist_rcu_get(rcu), before);
	assert_true(banlist_contains(banlist_rcu_get(rcu), "mx.spam.example", 15));
	assert_false(banlist_contains(banlist_rcu_get(rcu), "other.example", 13));

	assert_int_equal(banlist_rcu_reload_file(rcu, "/nonexistent/banned", err, sizeof(err)), -1);
	assert_string_equal(err, "/nonexistent/banned: cannot open: No such file or directory");
	assert_ptr_equal(banlist_rcu_get(rcu), before);

	unlink(good);
	unlink(bad);
	free(good);
	free(bad);
	banlist_rcu_destroy(rcu);
}

static int setup(void **state)
{
	char err[512] = "";
	(void)state;

	suffixes = suffix_list_load(NULL, err, sizeof(err));
	if (suffixes == NULL) {
		fprintf(stderr, "suffix list: %s\n", err);
		return -1;
	}
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	suffix_list_free(suffixes);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_reader_ids_are_bounded),
	    cmocka_unit_test(test_offline_or_unregistered_readers_do_not_block_the_writer),
	    cmocka_unit_test(test_replace_waits_until_an_online_reader_is_quiescent),
	    cmocka_unit_test(test_failed_reload_keeps_the_old_list),
	    cmocka_unit_test(test_readers_see_list_a_or_list_b_never_a_mix),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
