/*
 * event_log: the events file as operations need it. Opened with
 * O_WRONLY|O_APPEND|O_CREAT (never truncated: a restart, even a failed one,
 * keeps the audit trail), reopened by name on request (after logrotate
 * moved it: SIGHUP), written with write(2) in whole lines, and every line
 * that could not be written is counted, never silently lost.
 *
 * Owns:     one file descriptor (standard output for "-", never closed) and
 *           a line buffer.
 * Never:    truncates, seeks, retries a failed line, or raises SIGPIPE by
 *           itself (the process ignores SIGPIPE; EPIPE is a write error).
 * Threads:  one writer (the control thread). The counters are plain fields
 *           read by that same thread.
 */
#ifndef HG_EVENT_LOG_H
#define HG_EVENT_LOG_H

#include <stddef.h>
#include <stdint.h>

#define EVENT_LOG_BUFFER (64 * 1024)

struct event_log {
	char path[4096];
	int fd;                  /* -1 once closed */
	int last_errno;          /* the last write or reopen error, 0 if none */
	uint64_t lines_written;  /* lines that reached the file */
	uint64_t write_failed;   /* lines lost to write errors (events_write_failed) */
	uint64_t reopened;       /* successful reopens */
	size_t used;             /* bytes in buf */
	uint32_t lines_buffered; /* complete lines in buf */
	char buf[EVENT_LOG_BUFFER];
};

/* Open path for appending ("-" = standard output), creating it with mode
 * 0640. Returns 0, or -1 with "PATH: reason" in err (nothing opened). */
int event_log_open(struct event_log *log, const char *path, char *err, size_t err_size);

/* Queue one complete line (ending in '\n', at most EVENT_LOG_BUFFER bytes);
 * writes the buffer first when the line does not fit. */
void event_log_append(struct event_log *log, const char *line, size_t len);

/* Write every queued line. Lines not written in full are counted in
 * write_failed (a line cut by a short write counts as lost). Returns the
 * number of lines lost by this call. */
uint64_t event_log_flush(struct event_log *log);

/* Open the path again (logrotate moved the file) and switch to the new
 * descriptor after flushing to the old one. On failure the old descriptor
 * stays in use; returns -1 with "PATH: reason" in err. Standard output is
 * never reopened (returns 0). */
int event_log_reopen(struct event_log *log, char *err, size_t err_size);

/* Flush and close (standard output is flushed only). */
void event_log_close(struct event_log *log);

#endif
