#include "filter/event_log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static bool is_stdout(const struct event_log *log)
{
	return strcmp(log->path, "-") == 0;
}

static int open_path(const char *path, char *err, size_t err_size)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0640);

	if (fd < 0) {
		int e = errno;
		snprintf(err, err_size, "%s: %s", path, strerror(e));
		errno = e;
		return -1;
	}
	return fd;
}

int event_log_open(struct event_log *log, const char *path, char *err, size_t err_size)
{
	memset(log, 0, offsetof(struct event_log, buf));
	log->fd = -1;
	if (path[0] == '\0' || strlen(path) >= sizeof(log->path)) {
		snprintf(err, err_size, "%s: bad events path", path);
		return -1;
	}
	strcpy(log->path, path);
	if (is_stdout(log)) {
		log->fd = STDOUT_FILENO;
		return 0;
	}
	log->fd = open_path(path, err, err_size);
	return log->fd < 0 ? -1 : 0;
}

/* Complete lines in buf[0..n). */
static uint32_t count_lines(const char *buf, size_t n)
{
	uint32_t lines = 0;

	for (const char *p = buf, *end = buf + n; (p = memchr(p, '\n', (size_t)(end - p))) != NULL;
	     p++)
		lines++;
	return lines;
}

uint64_t event_log_flush(struct event_log *log)
{
	size_t done = 0;

	while (done < log->used) {
		if (log->fd < 0) {
			log->last_errno = EBADF;
			break;
		}
		ssize_t n = write(log->fd, log->buf + done, log->used - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			log->last_errno = n < 0 ? errno : EIO;
			break;
		}
		done += (size_t)n;
	}
	uint32_t written = count_lines(log->buf, done);
	uint64_t lost = log->lines_buffered - written;
	log->lines_written += written;
	log->write_failed += lost;
	log->used = 0;
	log->lines_buffered = 0;
	return lost;
}

void event_log_append(struct event_log *log, const char *line, size_t len)
{
	if (len > sizeof(log->buf)) {
		log->write_failed++;
		return;
	}
	if (log->used + len > sizeof(log->buf))
		event_log_flush(log);
	memcpy(log->buf + log->used, line, len);
	log->used += len;
	log->lines_buffered++;
}

int event_log_reopen(struct event_log *log, char *err, size_t err_size)
{
	if (is_stdout(log))
		return 0;
	event_log_flush(log);
	int fd = open_path(log->path, err, err_size);
	if (fd < 0) {
		log->last_errno = errno;
		return -1;
	}
	if (log->fd >= 0)
		close(log->fd);
	log->fd = fd;
	log->reopened++;
	return 0;
}

void event_log_close(struct event_log *log)
{
	event_log_flush(log);
	if (log->fd >= 0 && !is_stdout(log) && close(log->fd) != 0)
		log->last_errno = errno;
	log->fd = -1;
}
