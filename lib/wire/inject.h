/*
 * inject: build the TCP segments helogate sends itself in a taken-over
 * session: replies and FIN towards the client (continuing the server's
 * sequence space), RSTs towards the server.
 *
 * Pure: writes a complete Ethernet frame into a caller buffer. The L2 header
 * is the one of the session's client packets (VLAN tags kept), with the
 * MAC addresses swapped for segments to the client; the IP header is built
 * fresh (no IPv6 extension headers, TTL/hop limit 64); IPv4 and TCP
 * checksums are computed in software.
 */
#ifndef HG_INJECT_H
#define HG_INJECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wire/addr.h"
#include "wire/pkt.h"

#define INJECT_L2_MAX 22 /* Ethernet + two VLAN tags */
/* Largest frame inject_build() writes for payload_len bytes of payload. */
#define INJECT_FRAME_MAX(payload_len) (INJECT_L2_MAX + 40 + 40 + (payload_len) + 60)

/* What a session's injected segments share, taken from one client packet. */
struct inject_template {
	uint8_t l2[INJECT_L2_MAX]; /* as in the client's packet: dst MAC = server side */
	uint8_t l2_len;
	uint8_t ip_version;
	uint16_t client_port, server_port;
	struct ip_addr client, server;
};

/* Fill t from a client-to-server frame parsed by pkt_parse(). Returns false
 * when its L2 header is longer than INJECT_L2_MAX. */
bool inject_template_init(struct inject_template *t, const uint8_t *frame,
                          const struct pkt_info *client_packet);

struct inject_segment {
	bool to_client; /* true: server -> client; false: client -> server */
	uint8_t flags;  /* TCP_FLAG_* */
	uint32_t seq, ack;
	uint16_t window; /* as on the wire (already shifted by the sender's scale) */
	bool timestamps; /* add NOP, NOP, TS option (RFC 7323 3) */
	uint32_t tsval, tsecr;
	/* SYN options (for handshakes that tests and the synthesizer build;
	 * helogate itself never sends a SYN): when mss is non-zero the
	 * segment carries MSS, SACK-permitted, timestamps and window scale
	 * (wscale) in Linux's layout, 20 bytes, instead of the option above. */
	uint16_t mss;
	uint8_t wscale;
	uint16_t ip_id; /* IPv4 identification */
	const uint8_t *payload;
	uint16_t payload_len;
};

/* Write the frame into buf (size bytes); returns its length (padded to the
 * Ethernet minimum of 60 bytes), or 0 when buf is too small. */
uint32_t inject_build(const struct inject_template *t, const struct inject_segment *seg,
                      uint8_t *buf, uint32_t size);

#endif
