#include "filter/event.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "filter/takeover.h"
#include "judge/verdict.h"

struct event_ring {
	/* Producer and consumer indices on their own cache lines: each is
	 * written by one thread only, so they never share a line. */
	_Alignas(64) _Atomic uint64_t head; /* next slot the producer fills */
	_Alignas(64) _Atomic uint64_t tail; /* next slot the consumer reads */
	_Alignas(64) _Atomic uint64_t dropped;
	uint32_t mask;
	struct event *slots;
};

static void copy_text(char *dst, uint16_t *dst_len, bool *truncated, const void *text, size_t len)
{
	if (len > EVENT_TEXT_MAX) {
		len = EVENT_TEXT_MAX;
		*truncated = true;
	}
	if (len > 0)
		memcpy(dst, text, len);
	*dst_len = (uint16_t)len;
}

void event_set_helo(struct event *e, const void *text, size_t len)
{
	copy_text(e->helo, &e->helo_len, &e->truncated, text, len);
}

void event_set_rcpt(struct event *e, const void *text, size_t len)
{
	copy_text(e->rcpt, &e->rcpt_len, &e->truncated, text, len);
}

struct event_ring *event_ring_create(uint32_t capacity)
{
	uint32_t size = 1;

	if (capacity == 0 || capacity > (1u << 24))
		return NULL;
	while (size < capacity)
		size <<= 1;
	struct event_ring *ring = aligned_alloc(64, sizeof(*ring));
	if (ring == NULL)
		return NULL;
	memset(ring, 0, sizeof(*ring));
	ring->slots = calloc(size, sizeof(*ring->slots));
	if (ring->slots == NULL) {
		free(ring);
		return NULL;
	}
	ring->mask = size - 1;
	return ring;
}

void event_ring_free(struct event_ring *ring)
{
	if (ring == NULL)
		return;
	free(ring->slots);
	free(ring);
}

struct event *event_ring_reserve(struct event_ring *ring)
{
	uint64_t head = atomic_load_explicit(&ring->head, memory_order_relaxed);
	uint64_t tail = atomic_load_explicit(&ring->tail, memory_order_acquire);

	if (head - tail > ring->mask) {
		atomic_fetch_add_explicit(&ring->dropped, 1, memory_order_relaxed);
		return NULL;
	}
	struct event *e = &ring->slots[head & ring->mask];
	memset(e, 0, offsetof(struct event, helo));
	return e;
}

void event_ring_commit(struct event_ring *ring)
{
	uint64_t head = atomic_load_explicit(&ring->head, memory_order_relaxed);
	atomic_store_explicit(&ring->head, head + 1, memory_order_release);
}

const struct event *event_ring_peek(struct event_ring *ring)
{
	uint64_t tail = atomic_load_explicit(&ring->tail, memory_order_relaxed);
	uint64_t head = atomic_load_explicit(&ring->head, memory_order_acquire);

	if (tail == head)
		return NULL;
	return &ring->slots[tail & ring->mask];
}

void event_ring_release(struct event_ring *ring)
{
	uint64_t tail = atomic_load_explicit(&ring->tail, memory_order_relaxed);
	atomic_store_explicit(&ring->tail, tail + 1, memory_order_release);
}

uint64_t event_ring_dropped(const struct event_ring *ring)
{
	return atomic_load_explicit(&((struct event_ring *)ring)->dropped, memory_order_relaxed);
}

static size_t put_escaped(char *out, const char *text, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t n = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)text[i];
		if (c == '"' || c == '\\') {
			out[n++] = '\\';
			out[n++] = (char)c;
		} else if (c < 0x20 || c > 0x7e) {
			memcpy(out + n, "\\u00", 4);
			out[n + 4] = hex[c >> 4];
			out[n + 5] = hex[c & 15];
			n += 6;
		} else {
			out[n++] = (char)c;
		}
	}
	return n;
}

static size_t put_endpoint(char *out, const struct ip_addr *addr, uint16_t port)
{
	char text[IP_ADDR_TEXT_MAX];

	ip_addr_format(addr, text, sizeof(text));
	if (addr->family == 6)
		return (size_t)sprintf(out, "[%s]:%u", text, port);
	return (size_t)sprintf(out, "%s:%u", text, port);
}

static size_t put_ip(char *out, const struct ip_addr *addr)
{
	char text[IP_ADDR_TEXT_MAX];

	ip_addr_format(addr, text, sizeof(text));
	return (size_t)sprintf(out, "%s", text);
}

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	x ^= x >> 31;
	return x;
}

uint64_t event_flow_id(const struct event *e)
{
	uint64_t h = mix64(((uint64_t)e->client.family << 48) ^ ((uint64_t)e->client_port << 16) ^
	                   e->server_port ^ ((uint64_t)e->client_isn << 20));
	uint64_t words[4];

	memcpy(words, e->client.bytes, 16);
	memcpy(words + 2, e->server.bytes, 16);
	for (int i = 0; i < 4; i++)
		h = mix64(h ^ words[i]);
	h &= (1ull << 53) - 1;
	return h != 0 ? h : 1;
}

/* The reply a rejected RCPT was given, without CRLF; 0 when none. */
static size_t reply_text(const struct event *e, const struct event_format *fmt, char *out)
{
	if (fmt == NULL || fmt->replies == NULL || e->action != EVENT_ACTION_REJECTED ||
	    strcmp(e->command, "RCPT") != 0)
		return 0;
	struct takeover_session s = {
	    .reason = (enum verdict_reason)e->reason,
	    .helo = e->helo,
	    .helo_len = e->helo_len,
	    .texts = fmt->replies,
	};
	size_t n = takeover_format_rcpt_reply(&s, (const uint8_t *)e->rcpt, e->rcpt_len, out);
	while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == '\r'))
		n--;
	return n;
}

size_t event_format_json(const struct event *e, const struct event_format *fmt, char *buf,
                         size_t size)
{
	char tmp[EVENT_JSON_MAX];
	char reply[TAKEOVER_REPLY_MAX];
	char when[40];
	size_t n = 0;
	struct tm tm;
	time_t secs = (time_t)(e->ts_ns / 1000000000u);
	unsigned usec = (unsigned)(e->ts_ns % 1000000000u / 1000u);
	const char *action = e->action == EVENT_ACTION_REJECTED ? "rejected" : "detected";
	const char *reason = verdict_reason_name((enum verdict_reason)e->reason);
	size_t command_len = strnlen(e->command, sizeof(e->command));

	gmtime_r(&secs, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	/* EVE: the event as Suricata writes one. */
	n += (size_t)sprintf(tmp + n,
	                     "{\"timestamp\":\"%s.%06u+0000\",\"flow_id\":%llu,"
	                     "\"event_type\":\"smtp_helo\",\"src_ip\":\"",
	                     when, usec, (unsigned long long)event_flow_id(e));
	n += put_ip(tmp + n, &e->client);
	n += (size_t)sprintf(tmp + n, "\",\"src_port\":%u,\"dest_ip\":\"", e->client_port);
	n += put_ip(tmp + n, &e->server);
	n += (size_t)sprintf(tmp + n, "\",\"dest_port\":%u,\"proto\":\"TCP\"", e->server_port);
	if (e->vlan_count > 0) {
		n += (size_t)sprintf(tmp + n, ",\"vlan\":[%u", e->vlan[0]);
		if (e->vlan_count > 1)
			n += (size_t)sprintf(tmp + n, ",%u", e->vlan[1]);
		tmp[n++] = ']';
	}
	if (fmt != NULL && fmt->host != NULL && fmt->host[0] != '\0') {
		n += (size_t)sprintf(tmp + n, ",\"host\":\"");
		n += put_escaped(tmp + n, fmt->host, strnlen(fmt->host, EVENT_TEXT_MAX));
		tmp[n++] = '"';
	}
	n += (size_t)sprintf(tmp + n, ",\"smtp\":{\"helo\":\"");
	n += put_escaped(tmp + n, e->helo, e->helo_len);
	tmp[n++] = '"';
	if (e->helo_verb != EVENT_HELO_NONE)
		n += (size_t)sprintf(tmp + n, ",\"helo_verb\":\"%s\"",
		                     e->helo_verb == EVENT_HELO_EHLO ? "EHLO" : "HELO");
	n += (size_t)sprintf(tmp + n, ",\"rcpt_to\":[");
	if (e->rcpt_len > 0 || strcmp(e->command, "RCPT") == 0) {
		tmp[n++] = '"';
		n += put_escaped(tmp + n, e->rcpt, e->rcpt_len);
		tmp[n++] = '"';
	}
	n += (size_t)sprintf(tmp + n,
	                     "]},\"verdict\":{\"reason\":\"%s\",\"action\":\"%s\","
	                     "\"command\":\"",
	                     reason, action);
	n += put_escaped(tmp + n, e->command, command_len);
	tmp[n++] = '"';
	size_t reply_len = reply_text(e, fmt, reply);
	if (reply_len > 0) {
		n += (size_t)sprintf(tmp + n, ",\"reply\":\"");
		n += put_escaped(tmp + n, reply, reply_len);
		tmp[n++] = '"';
	}
	tmp[n++] = '}';
	/* The original keys, kept for existing readers. */
	n += (size_t)sprintf(tmp + n, ",\"ts\":\"%s.%06uZ\",\"worker\":%u,\"client\":\"", when,
	                     usec, e->worker);
	n += put_endpoint(tmp + n, &e->client, e->client_port);
	n += (size_t)sprintf(tmp + n, "\",\"server\":\"");
	n += put_endpoint(tmp + n, &e->server, e->server_port);
	n += (size_t)sprintf(tmp + n, "\",\"command\":\"");
	n += put_escaped(tmp + n, e->command, command_len);
	n += (size_t)sprintf(tmp + n, "\",\"helo\":\"");
	n += put_escaped(tmp + n, e->helo, e->helo_len);
	n += (size_t)sprintf(tmp + n, "\",\"reason\":\"%s\",\"rcpt\":\"", reason);
	n += put_escaped(tmp + n, e->rcpt, e->rcpt_len);
	n += (size_t)sprintf(tmp + n, "\",\"action\":\"%s\"%s}\n", action,
	                     e->truncated ? ",\"truncated\":true" : "");
	if (n + 1 > size)
		return 0;
	memcpy(buf, tmp, n + 1);
	return n;
}
