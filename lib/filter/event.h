/*
 * event: verdict events, their lock-free hand-off from a worker to the
 * writer thread, and their JSON Lines form.
 *
 * One event_ring per worker: a single-producer single-consumer ring of
 * fixed-size slots, allocated once. The worker (producer) never blocks: when
 * the ring is full the event is dropped and counted by the ring. The writer
 * thread (consumer) drains every worker's ring and writes one JSON object per
 * line. Never allocates after event_ring_create().
 */
#ifndef HG_EVENT_H
#define HG_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wire/addr.h"

/* Longest HELO / recipient text an event carries; longer ones are cut and
 * flagged with "truncated": true (a HELO that long is invalid anyway). */
#define EVENT_TEXT_MAX 256

#define EVENT_ACTIONS(X)                                                                           \
	X(DETECTED, "detected", "the session was judged bogus and let through (detect mode)")      \
	X(REJECTED, "rejected", "helogate answered the command itself (enforce mode)")

enum event_action {
#define EVENT_ACTION_ENUM(sym, name, desc) EVENT_ACTION_##sym,
	EVENT_ACTIONS(EVENT_ACTION_ENUM)
#undef EVENT_ACTION_ENUM
	    EVENT_ACTION_COUNT
};

enum event_helo_verb { EVENT_HELO_NONE, EVENT_HELO_HELO, EVENT_HELO_EHLO };

struct event {
	uint64_t ts_ns; /* the packet's time where the port gives one, else
	                 * CLOCK_REALTIME at the event; nanoseconds since 1970 */
	struct ip_addr client, server;
	uint16_t client_port, server_port;
	uint16_t worker;
	uint8_t action;      /* enum event_action */
	uint8_t reason;      /* enum verdict_reason */
	uint8_t helo_verb;   /* enum event_helo_verb */
	uint8_t vlan_count;  /* 0..2 */
	uint16_t vlan[2];    /* VLAN ids, outer first */
	uint32_t client_isn; /* the client's initial sequence number (flow_id) */
	char command[12];    /* "RCPT", "STARTTLS", NUL-terminated */
	uint16_t helo_len, rcpt_len;
	bool truncated;
	char helo[EVENT_TEXT_MAX]; /* raw bytes as sent, not NUL-terminated */
	char rcpt[EVENT_TEXT_MAX]; /* the mailbox, without brackets */
};

/* Copy text into one of the event's fixed fields; sets e->truncated when cut. */
void event_set_helo(struct event *e, const void *text, size_t len);
void event_set_rcpt(struct event *e, const void *text, size_t len);

struct event_ring;

/* capacity: rounded up to a power of two. NULL on allocation failure. */
struct event_ring *event_ring_create(uint32_t capacity);
void event_ring_free(struct event_ring *ring);

/* Producer side (one thread). Returns a slot to fill, or NULL when the ring
 * is full (the drop is counted); then event_ring_commit() publishes it. */
struct event *event_ring_reserve(struct event_ring *ring);
void event_ring_commit(struct event_ring *ring);

/* Consumer side (one thread): the oldest published event or NULL; then
 * event_ring_release() frees its slot. */
const struct event *event_ring_peek(struct event_ring *ring);
void event_ring_release(struct event_ring *ring);

/* Events dropped because the ring was full (readable from any thread). */
uint64_t event_ring_dropped(const struct event_ring *ring);

/* What the writer adds to every event: the sensor's name ("host"; NULL or
 * "" to leave it out) and the reply texts, to show the reply a rejected
 * RCPT was given (NULL: no "reply"). */
struct takeover_texts;
struct event_format {
	const char *host;
	const struct takeover_texts *replies;
};

/* The flow's id: the same for every event of one TCP session, different for
 * a new session on the same addresses and ports (the client's ISN takes
 * part); below 2^53, so JSON readers that use doubles keep it exact. */
uint64_t event_flow_id(const struct event *e);

/* Write e as one JSON object followed by '\n' into buf, in Suricata EVE's
 * conventions (docs/events.md), then the original keys for compatibility.
 * Returns the length (without NUL), or 0 if size is too small;
 * EVENT_JSON_MAX always suffices. fmt may be NULL.
 * Keys in order: timestamp, flow_id, event_type ("smtp_helo"), src_ip,
 * src_port, dest_ip, dest_port, proto ("TCP"), vlan (when tagged), host,
 * smtp {helo, helo_verb (when a HELO/EHLO was seen), rcpt_to [..]},
 * verdict {reason, action, command, reply (rejected RCPT only)}; then the
 * compatible keys ts, worker, client, server, command, helo, reason, rcpt,
 * action (and "truncated": true when a text was cut). Strings escape '"',
 * '\\' and every byte below 0x20 or above 0x7e as \u00XX, so 8-bit and NUL
 * bytes survive as their Latin-1 code points and the line is valid JSON. */
#define EVENT_JSON_MAX (2048 + 6 * 4 * EVENT_TEXT_MAX)
size_t event_format_json(const struct event *e, const struct event_format *fmt, char *buf,
                         size_t size);

#endif
