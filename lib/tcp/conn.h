/*
 * conn: the TCP state of both endpoints of one tracked session, as a
 * receiver would keep it: the ISNs, each side's latest acknowledgement and
 * window (scaled per RFC 7323 2.2), timestamps (RFC 7323 3), the client's
 * MSS, which side sent a FIN, and the RFC 5961 rules for accepting a RST.
 *
 * Owns:    struct conn, inside the session record.
 * Never:   sees an mbuf or a byte stream; allocates; decides what happens
 *          to a packet (it answers questions, inspect and enforce decide).
 * Threads: one worker.
 */
#ifndef HG_CONN_H
#define HG_CONN_H

#include <stdbool.h>
#include <stdint.h>

#include "wire/pkt.h"
#include "wire/tcp_seq.h"

#define CONN_F_CLIENT_WS 0x01 /* the client's SYN offered window scaling */
#define CONN_F_CLIENT_TS 0x02 /* the client's SYN offered timestamps */
#define CONN_F_TS 0x04        /* both SYNs carried timestamps: segments carry them (RFC 7323 3.2) */
#define CONN_F_FIN_C2S 0x08   /* the client sent its FIN */
#define CONN_F_FIN_S2C 0x10   /* the server sent its FIN */
#define CONN_F_SIGNED 0x20    /* the client's SYN carried TCP-MD5 or TCP-AO */
#define CONN_F_NEW_SYN 0x40   /* a SYN with another ISN arrived on the synchronized connection */

struct conn {
	uint32_t client_isn, server_isn;
	uint32_t client_ack, server_ack;     /* left edges of each side's receive window */
	uint32_t client_wnd, server_wnd;     /* windows, already scaled */
	uint32_t client_tsval, server_tsval; /* latest TSval of each side */
	uint32_t server_ts_ms;               /* worker clock (ms) when server_tsval was seen */
	uint16_t server_wnd_raw;             /* the server's last window field, unscaled */
	uint16_t client_mss;
	uint8_t client_wscale, server_wscale; /* negotiated shifts (RFC 7323 2.2) */
	uint8_t flags;                        /* CONN_F_* */
	/* The end of the highest byte (or FIN) each side has sent through
	 * helogate: what an acknowledgement may cover, where an exact RST sits. */
	uint32_t client_snd_max, server_snd_max;
	/* CONN_F_NEW_SYN: that SYN, kept until the server answers it. */
	uint32_t new_isn;
	uint16_t new_mss;
	uint8_t new_wscale, new_opts; /* new_opts: TCP_OPT_* of that SYN */
	uint32_t new_tsval;
};

/* A client SYN opens the connection. */
void conn_start(struct conn *c, const struct pkt_info *syn);

/* A client SYN with another ISN on a synchronized connection: the end host
 * answers it with a challenge ACK and keeps the connection (RFC 5961 4.2);
 * it is kept aside in case the server accepts it as a new connection. */
void conn_note_new_syn(struct conn *c, const struct pkt_info *syn);

/* True when a SYN-ACK accepts the SYN kept by conn_note_new_syn(). */
bool conn_new_syn_accepted(const struct conn *c, const struct pkt_info *synack);

/* The kept SYN as a parsed view, to start the connection again from it
 * (the server accepted it). */
void conn_new_syn_view(const struct conn *c, struct pkt_info *syn);

/* A segment the receiver keeps: its data and FIN extend what its sender
 * has sent. */
static inline void conn_note_sent(struct conn *c, const struct pkt_info *pi, bool c2s)
{
	uint32_t end = pi->seq + pi->payload_len + ((pi->tcp_flags & TCP_FLAG_FIN) ? 1u : 0u);
	uint32_t *max = c2s ? &c->client_snd_max : &c->server_snd_max;

	if (seq_gt(end, *max))
		*max = end;
}

/* True when the segment acknowledges bytes the other side never sent. */
static inline bool conn_acks_unsent(const struct conn *c, const struct pkt_info *pi, bool c2s)
{
	return (pi->tcp_flags & TCP_FLAG_ACK) &&
	       seq_gt(pi->ack, c2s ? c->server_snd_max : c->client_snd_max);
}

/* True when a SYN-ACK from the server answers this connection's SYN. */
bool conn_synack_matches(const struct conn *c, const struct pkt_info *synack);

/* The server's SYN-ACK: both ISNs known, options negotiated. */
void conn_establish(struct conn *c, const struct pkt_info *synack, uint64_t now_ms);

/* The acknowledgement, window and timestamp a segment carries about its
 * sender (c2s: from the client). Inline: every segment calls it. */
static inline void conn_note(struct conn *c, const struct pkt_info *pi, bool c2s, uint64_t now_ms)
{
	bool ts = (pi->opts.present & TCP_OPT_TIMESTAMP) != 0;
	bool ack = (pi->tcp_flags & TCP_FLAG_ACK) != 0;

	if (c2s) {
		if (ack) {
			c->client_ack = pi->ack;
			c->client_wnd = (uint32_t)pi->window << c->client_wscale;
		}
		if (ts)
			c->client_tsval = pi->opts.tsval;
	} else {
		if (ack) {
			c->server_ack = pi->ack;
			c->server_wnd = (uint32_t)pi->window << c->server_wscale;
			c->server_wnd_raw = pi->window;
		}
		if (ts) {
			c->server_tsval = pi->opts.tsval;
			c->server_ts_ms = (uint32_t)now_ms;
		}
	}
}

/* A FIN from the client (c2s) or the server was accepted and forwarded. */
static inline void conn_note_fin(struct conn *c, bool c2s)
{
	c->flags |= c2s ? CONN_F_FIN_C2S : CONN_F_FIN_S2C;
}

/* Both sides sent their FIN. */
static inline bool conn_closed(const struct conn *c)
{
	return (c->flags & (CONN_F_FIN_C2S | CONN_F_FIN_S2C)) == (CONN_F_FIN_C2S | CONN_F_FIN_S2C);
}

/* Either side sent its FIN. */
static inline bool conn_closing(const struct conn *c)
{
	return (c->flags & (CONN_F_FIN_C2S | CONN_F_FIN_S2C)) != 0;
}

/* What the receiver of a RST does with it (RFC 5961 3.2, RFC 9293 3.10.7). */
enum conn_rst {
	CONN_RST_ACCEPT,    /* exactly the next expected sequence number: the connection ends */
	CONN_RST_CHALLENGE, /* inside the window: the receiver answers with a challenge ACK */
	CONN_RST_IGNORE,    /* outside the window: ignored */
};

/*
 * Judge a RST from the client (c2s) or the server. synchronized: the
 * handshake completed; expected: then, the receiver's next expected
 * sequence number (the stream's when tracked, else the last
 * acknowledgement). Before the handshake only the server's refusal
 * (RST+ACK of the SYN) or the client's RST at ISN+1 are accepted.
 */
enum conn_rst conn_judge_rst(const struct conn *c, const struct pkt_info *rst, bool c2s,
                             bool synchronized, uint32_t expected);

/* True when a segment carries a TCP-MD5 or TCP-AO option that the
 * connection did not negotiate: the end host drops it. */
static inline bool conn_unexpected_signature(const struct conn *c, const struct pkt_info *pi)
{
	return (pi->opts.present & (TCP_OPT_MD5 | TCP_OPT_AO)) && !(c->flags & CONN_F_SIGNED);
}

/* The server's TSval now, continuing its clock at 1 kHz (Linux's and the
 * BSDs' rate) from the last one seen. */
static inline uint32_t conn_server_tsval(const struct conn *c, uint64_t now_ms)
{
	return c->server_tsval + (uint32_t)(now_ms - c->server_ts_ms);
}

#endif
