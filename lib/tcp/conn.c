#include "tcp/conn.h"

#include <string.h>

#include "wire/tcp_seq.h"

void conn_start(struct conn *c, const struct pkt_info *syn)
{
	memset(c, 0, sizeof(*c));
	c->client_isn = syn->seq;
	if (syn->opts.present & TCP_OPT_WSCALE) {
		c->flags |= CONN_F_CLIENT_WS;
		c->client_wscale = syn->opts.wscale;
	}
	if (syn->opts.present & TCP_OPT_TIMESTAMP) {
		c->flags |= CONN_F_CLIENT_TS;
		c->client_tsval = syn->opts.tsval;
	}
	if (syn->opts.present & (TCP_OPT_MD5 | TCP_OPT_AO))
		c->flags |= CONN_F_SIGNED;
	/* RFC 9293 3.7.1: without the option the peer's MSS is 536 (IPv4). */
	c->client_mss = (syn->opts.present & TCP_OPT_MSS) ? syn->opts.mss : 536;
	c->client_snd_max = syn->seq + 1;
}

void conn_note_new_syn(struct conn *c, const struct pkt_info *syn)
{
	c->flags |= CONN_F_NEW_SYN;
	c->new_isn = syn->seq;
	c->new_opts = syn->opts.present;
	c->new_mss = syn->opts.mss;
	c->new_wscale = syn->opts.wscale;
	c->new_tsval = syn->opts.tsval;
}

bool conn_new_syn_accepted(const struct conn *c, const struct pkt_info *synack)
{
	return (c->flags & CONN_F_NEW_SYN) && synack->ack == c->new_isn + 1 &&
	       synack->payload_len == 0;
}

void conn_new_syn_view(const struct conn *c, struct pkt_info *syn)
{
	memset(syn, 0, sizeof(*syn));
	syn->tcp_flags = TCP_FLAG_SYN;
	syn->seq = c->new_isn;
	syn->opts.present = c->new_opts;
	syn->opts.mss = c->new_mss;
	syn->opts.wscale = c->new_wscale;
	syn->opts.tsval = c->new_tsval;
}

void conn_note_sent(struct conn *c, const struct pkt_info *pi, bool c2s)
{
	uint32_t end = pi->seq + pi->payload_len + ((pi->tcp_flags & TCP_FLAG_FIN) ? 1u : 0u);
	uint32_t *max = c2s ? &c->client_snd_max : &c->server_snd_max;

	if (seq_gt(end, *max))
		*max = end;
}

bool conn_acks_unsent(const struct conn *c, const struct pkt_info *pi, bool c2s)
{
	return (pi->tcp_flags & TCP_FLAG_ACK) &&
	       seq_gt(pi->ack, c2s ? c->server_snd_max : c->client_snd_max);
}

bool conn_synack_matches(const struct conn *c, const struct pkt_info *synack)
{
	return synack->ack == c->client_isn + 1 && synack->payload_len == 0;
}

void conn_establish(struct conn *c, const struct pkt_info *synack, uint64_t now_ms)
{
	c->server_isn = synack->seq;
	if ((c->flags & CONN_F_CLIENT_TS) && (synack->opts.present & TCP_OPT_TIMESTAMP)) {
		c->flags |= CONN_F_TS;
		c->server_tsval = synack->opts.tsval;
		c->server_ts_ms = (uint32_t)now_ms;
	}
	c->server_wnd_raw = synack->window;
	/* RFC 7323 2.2: scaling applies only when both SYNs carried the option. */
	if ((c->flags & CONN_F_CLIENT_WS) && (synack->opts.present & TCP_OPT_WSCALE)) {
		c->server_wscale = synack->opts.wscale;
	} else {
		c->client_wscale = 0;
		c->server_wscale = 0;
	}
	c->server_ack = synack->ack;
	c->server_wnd = synack->window; /* a SYN's window is never scaled (RFC 7323 2.2) */
	c->client_ack = c->server_isn + 1;
	c->client_wnd = UINT16_MAX;
	c->server_snd_max = c->server_isn + 1;
	c->flags &= (uint8_t)~CONN_F_NEW_SYN;
}

void conn_note(struct conn *c, const struct pkt_info *pi, bool c2s, uint64_t now_ms)
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

enum conn_rst conn_judge_rst(const struct conn *c, const struct pkt_info *rst, bool c2s,
                             bool synchronized, uint32_t expected)
{
	if (!synchronized) {
		/* The server refusing the connection (RFC 9293 3.10.7.3), or
		 * the client abandoning it. */
		bool refusal =
		    !c2s && (rst->tcp_flags & TCP_FLAG_ACK) && rst->ack == c->client_isn + 1;
		bool abandon = c2s && rst->seq == c->client_isn + 1;
		return refusal || abandon ? CONN_RST_ACCEPT : CONN_RST_IGNORE;
	}
	uint32_t wnd = c2s ? c->server_wnd : c->client_wnd;
	if (rst->seq == expected)
		return CONN_RST_ACCEPT;
	if (seq_in_range(rst->seq, expected, expected + (wnd ? wnd : 1)))
		return CONN_RST_CHALLENGE;
	return CONN_RST_IGNORE;
}
