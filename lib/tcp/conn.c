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
