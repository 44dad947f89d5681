/* Unit tests for lib/filter/event_log: append-only, reopen, counted losses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "filter/event_log.h"

struct fx {
	char dir[64];
	char path[128];
	struct event_log log;
};

static int setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));

	assert_non_null(fx);
	strcpy(fx->dir, "/tmp/hg-event-log-XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	snprintf(fx->path, sizeof(fx->path), "%s/events.jsonl", fx->dir);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fx *fx = *state;
	char moved[160];

	snprintf(moved, sizeof(moved), "%s.1", fx->path);
	unlink(fx->path);
	unlink(moved);
	rmdir(fx->dir);
	free(fx);
	return 0;
}

static char *read_all(const char *path)
{
	static char buf[4096];
	FILE *f = fopen(path, "r");

	assert_non_null(f);
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static void put(struct event_log *log, const char *line)
{
	event_log_append(log, line, strlen(line));
}

static void test_an_existing_file_is_appended_to_never_truncated(void **state)
{
	struct fx *fx = *state;
	char err[256];
	FILE *f = fopen(fx->path, "w");

	assert_non_null(f);
	fputs("{\"old\":1}\n", f);
	fclose(f);
	assert_int_equal(event_log_open(&fx->log, fx->path, err, sizeof(err)), 0);
	put(&fx->log, "{\"new\":2}\n");
	assert_int_equal(event_log_flush(&fx->log), 0);
	event_log_close(&fx->log);
	assert_string_equal(read_all(fx->path), "{\"old\":1}\n{\"new\":2}\n");
	assert_int_equal(fx->log.lines_written, 1);
	assert_int_equal(fx->log.write_failed, 0);
}

static void test_a_new_file_is_created_private_to_the_group(void **state)
{
	struct fx *fx = *state;
	char err[256];
	struct stat st;

	assert_int_equal(event_log_open(&fx->log, fx->path, err, sizeof(err)), 0);
	event_log_close(&fx->log);
	assert_int_equal(stat(fx->path, &st), 0);
	assert_int_equal(st.st_mode & 0007, 0);
}

static void test_reopen_follows_a_moved_file(void **state)
{
	struct fx *fx = *state;
	char err[256], moved[160];

	snprintf(moved, sizeof(moved), "%s.1", fx->path);
	assert_int_equal(event_log_open(&fx->log, fx->path, err, sizeof(err)), 0);
	put(&fx->log, "a\n");
	event_log_flush(&fx->log);
	assert_int_equal(rename(fx->path, moved), 0);
	put(&fx->log, "b\n"); /* queued before the reopen: still goes to the old file */
	assert_int_equal(event_log_reopen(&fx->log, err, sizeof(err)), 0);
	put(&fx->log, "c\n");
	event_log_close(&fx->log);
	assert_string_equal(read_all(moved), "a\nb\n");
	assert_string_equal(read_all(fx->path), "c\n");
	assert_int_equal(fx->log.reopened, 1);
	assert_int_equal(fx->log.lines_written, 3);
}

static void test_a_failed_reopen_keeps_the_old_file(void **state)
{
	struct fx *fx = *state;
	char err[256];

	assert_int_equal(event_log_open(&fx->log, fx->path, err, sizeof(err)), 0);
	unlink(fx->path);
	assert_int_equal(mkdir(fx->path, 0700), 0); /* the name is now a directory */
	assert_int_equal(event_log_reopen(&fx->log, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "events.jsonl: Is a directory"));
	put(&fx->log, "x\n");
	assert_int_equal(event_log_flush(&fx->log), 0); /* into the unlinked old file */
	event_log_close(&fx->log);
	rmdir(fx->path);
}

static void test_every_line_lost_to_a_full_device_is_counted(void **state)
{
	(void)state;
	struct event_log *log = malloc(sizeof(*log));
	char err[256];

	assert_non_null(log);
	assert_int_equal(event_log_open(log, "/dev/full", err, sizeof(err)), 0);
	put(log, "one\n");
	put(log, "two\n");
	assert_int_equal(event_log_flush(log), 2);
	put(log, "three\n");
	event_log_close(log);
	assert_int_equal(log->write_failed, 3);
	assert_int_equal(log->lines_written, 0);
	assert_int_not_equal(log->last_errno, 0);
	free(log);
}

static void test_a_full_buffer_is_written_before_the_next_line(void **state)
{
	struct fx *fx = *state;
	char err[256], line[1000];

	memset(line, 'x', sizeof(line) - 1);
	line[sizeof(line) - 1] = '\n';
	assert_int_equal(event_log_open(&fx->log, fx->path, err, sizeof(err)), 0);
	for (int i = 0; i < 200; i++) /* 200 kB through a 64 KiB buffer */
		event_log_append(&fx->log, line, sizeof(line));
	event_log_close(&fx->log);
	assert_int_equal(fx->log.lines_written, 200);
	struct stat st;
	assert_int_equal(stat(fx->path, &st), 0);
	assert_int_equal(st.st_size, 200 * (off_t)sizeof(line));
}

static void test_an_unwritable_path_is_one_line_naming_it(void **state)
{
	struct fx *fx = *state;
	char err[256], path[160];

	snprintf(path, sizeof(path), "%s/no/such/dir", fx->dir);
	assert_int_equal(event_log_open(&fx->log, path, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "/no/such/dir: No such file or directory"));
	assert_int_equal(fx->log.fd, -1);
}

int main(void)
{
#define WITH_DIR(t) cmocka_unit_test_setup_teardown(t, setup, teardown)
	const struct CMUnitTest tests[] = {
	    WITH_DIR(test_an_existing_file_is_appended_to_never_truncated),
	    WITH_DIR(test_a_new_file_is_created_private_to_the_group),
	    WITH_DIR(test_reopen_follows_a_moved_file),
	    WITH_DIR(test_a_failed_reopen_keeps_the_old_file),
	    cmocka_unit_test(test_every_line_lost_to_a_full_device_is_counted),
	    WITH_DIR(test_a_full_buffer_is_written_before_the_next_line),
	    WITH_DIR(test_an_unwritable_path_is_one_line_naming_it),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
