/*
 * notify: the service manager's side of a start, a reload and a stop
 * (systemd's Type=notify protocol through libsystemd's sd_notify()). Every
 * function is a no-op when helogate runs outside systemd ($NOTIFY_SOCKET
 * unset) or was built without libsystemd (meson -Dsystemd=disabled).
 *
 * Owns:     nothing; sd_notify() writes one datagram per call.
 * Never:    blocks, fails the caller, or runs on a worker lcore.
 * Threads:  the control thread.
 */
#ifndef HG_NOTIFY_H
#define HG_NOTIFY_H

#include <stdbool.h>
#include <stdint.h>

/* READY=1 and a STATUS= line: the ports run and the workers poll. */
void notify_ready(const char *status);

/* RELOADING=1 before a SIGHUP reload; notify_ready() again after it. */
void notify_reloading(void);

/* STOPPING=1 once a stop was requested. */
void notify_stopping(void);

/* WATCHDOG=1: call at least every notify_watchdog_ms() / 2, and only while
 * every worker makes progress. */
void notify_watchdog(void);

/* The service's WatchdogSec in milliseconds, 0 when no watchdog is armed
 * for this process. */
uint64_t notify_watchdog_ms(void);

/* Whether this build talks to systemd at all (for --version and logs). */
bool notify_available(void);

#endif
