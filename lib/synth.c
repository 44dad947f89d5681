#include "synth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inject.h"
#include "pkt.h"

/* ---- deterministic randomness (splitmix64) ---------------------------------------------- */

static uint64_t rnd_next(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint32_t rnd_below(uint64_t *state, uint32_t n)
{
	return n ? (uint32_t)(rnd_next(state) % n) : 0;
}

static bool rnd_chance(uint64_t *state, double p)
{
	return (double)(rnd_next(state) >> 11) / (double)(1ull << 53) < p;
}

/* ---- HELO tables per expected reason, under the lab context -------------------------------
 * tests/data/lab-context.md: server 198.18.1.25 / 2001:2:0:1::25, banned list
 * tests/data/banlist.txt, local domain lab-mail.net. "%s" in server-ip
 * entries is replaced by the flow's server address. */

static const char *const helo_ok[] = {"mail.example.org", "smtp.exampledomain.com",
				      "mta-gw1.infomaniak.ch", "mx1.mail.example.co.uk",
				      "out.relay.example.net"};
static const char *const helo_invalid[] = {"-bad.example.com", "a..b.example.com", "[1.2.3]",
					   "host name.example.com", "bad!char.example.com"};
static const char *const helo_ip_literal[] = {"127.0.0.1", "[127.0.0.1]", "[192.168.1.1]",
					      "[IPv6:2001:db8::1]", "203.0.113.7"};
static const char *const helo_localhost[] = {"localhost", "localhost.localdomain", "LOCALHOST."};
static const char *const helo_banned[] = {"fakedomain.xyz", "mx.fakedomain.xyz",
					  "spam-cannon.example.com"};
static const char *const helo_not_fqdn[] = {"www", "server", "mon-serveur", "rad.internal",
					    "host.local", "pc.lan", "mail.example"};
static const char *const rcpt_domains[] = {"example.com", "example.org", "lab-mail.net"};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* ---- one TCP connection, built frame by frame ------------------------------------------- */

#define RCPT_MAX 5
#define TEXT_MAX 300

struct plan {
	bool ehlo;
	char helo[TEXT_MAX];
	uint32_t helo_len;
	enum verdict_reason reason;
	char helo2[TEXT_MAX]; /* after RSET, when rset_new_helo */
	enum verdict_reason reason2;
	bool rset_new_helo;
	char mail_from[TEXT_MAX];
	char rcpts[RCPT_MAX][TEXT_MAX]; /* mailboxes, without brackets */
	unsigned n_rcpts;
	uint32_t body_size; /* 0: no message */
	bool bdat;
	bool body_commands;
	bool pipelining;
	bool starttls;
	bool bare_lf;
	bool one_byte_helo;
	bool end_with_rst;
	bool no_handshake; /* midstream: the capture starts after the handshake */
};

struct conn {
	uint64_t *rnd;
	struct inject_template tpl;
	bool hbh;
	uint32_t cseq, sseq;
	uint32_t cts, sts;
	uint16_t cid, sid;
	uint16_t swindow; /* the server's advertised window field */
	uint16_t mss;
	/* frames, each stored as [len:4][bytes] */
	uint8_t *buf;
	size_t len, cap;
	size_t read; /* next frame to hand out */
	bool failed;
};

static void conn_reserve(struct conn *c, size_t more)
{
	if (c->len + more <= c->cap)
		return;
	size_t cap = c->cap ? c->cap * 2 : 65536;
	while (cap < c->len + more)
		cap *= 2;
	uint8_t *b = realloc(c->buf, cap);
	if (b == NULL) {
		c->failed = true;
		return;
	}
	c->buf = b;
	c->cap = cap;
}

static void conn_add_frame(struct conn *c, const uint8_t *frame, uint32_t len)
{
	conn_reserve(c, len + 4);
	if (c->failed)
		return;
	memcpy(c->buf + c->len, &len, 4);
	memcpy(c->buf + c->len + 4, frame, len);
	c->len += 4 + len;
}

/* Insert an IPv6 hop-by-hop header (PadN only) right after the IPv6
 * header; the TCP checksum does not change (RFC 8200 8.1: the
 * upper-layer length is the TCP length). */
static uint32_t add_hop_by_hop(uint8_t *frame, uint32_t len, uint32_t l3)
{
	uint8_t *ip = frame + l3;
	uint32_t plen = ((uint32_t)ip[4] << 8 | ip[5]) + 8;
	memmove(ip + 48, ip + 40, len - l3 - 40);
	ip[40] = ip[6];
	ip[41] = 0;
	ip[42] = 1; /* PadN */
	ip[43] = 4;
	memset(ip + 44, 0, 4);
	ip[6] = 0;
	ip[4] = (uint8_t)(plen >> 8);
	ip[5] = (uint8_t)plen;
	return len + 8;
}

static void conn_packet(struct conn *c, bool from_client, uint8_t flags, const void *payload,
			uint32_t len)
{
	uint8_t frame[INJECT_FRAME_MAX(1500) + 8];
	struct inject_segment seg = {
		.to_client = !from_client,
		.flags = flags,
		.seq = from_client ? c->cseq : c->sseq,
		.ack = (flags & TCP_FLAG_ACK) ? (from_client ? c->sseq : c->cseq) : 0,
		.window = from_client ? 502 : c->swindow,
		.timestamps = true,
		.tsval = from_client ? c->cts : c->sts,
		.tsecr = (flags & TCP_FLAG_ACK) ? (from_client ? c->sts : c->cts) : 0,
		.ip_id = from_client ? c->cid++ : c->sid++,
		.payload = payload,
		.payload_len = (uint16_t)len,
	};
	if (flags & TCP_FLAG_SYN) {
		seg.mss = 1460;
		seg.wscale = 7;
		seg.window = 64240;
	}
	uint32_t n = inject_build(&c->tpl, &seg, frame, sizeof(frame) - 8);
	if (c->hbh && c->tpl.ip_version == 6)
		n = add_hop_by_hop(frame, n, c->tpl.l2_len);
	conn_add_frame(c, frame, n);
	uint32_t adv = len + ((flags & (TCP_FLAG_SYN | TCP_FLAG_FIN)) ? 1u : 0u);
	if (from_client) {
		c->cseq += adv;
		c->cts += 1;
	} else {
		c->sseq += adv;
		c->sts += 1;
	}
}

/* Data from one side in segments of at most mss bytes, each acknowledged
 * by the other side. */
static void conn_send(struct conn *c, bool from_client, const void *data, uint32_t len,
		      uint32_t mss)
{
	const uint8_t *p = data;

	while (len > 0) {
		uint32_t n = len < mss ? len : mss;
		conn_packet(c, from_client, TCP_FLAG_ACK | TCP_FLAG_PSH, p, n);
		conn_packet(c, !from_client, TCP_FLAG_ACK, NULL, 0);
		p += n;
		len -= n;
	}
}

static void conn_text(struct conn *c, bool from_client, const char *text)
{
	conn_send(c, from_client, text, (uint32_t)strlen(text), c->mss);
}

static void conn_init(struct conn *c, uint64_t *rnd, uint8_t family, const struct ip_addr *client,
		      uint16_t client_port, const struct ip_addr *server, uint16_t server_port,
		      unsigned vlans)
{
	memset(c, 0, sizeof(*c));
	c->rnd = rnd;
	static const uint8_t server_mac[6] = {2, 0, 0, 0, 0, 2}, client_mac[6] = {2, 0, 0, 0, 0, 1};
	uint8_t *l2 = c->tpl.l2;
	memcpy(l2, server_mac, 6);
	memcpy(l2 + 6, client_mac, 6);
	uint32_t n = 12;
	if (vlans == 2) { /* QinQ: 802.1ad outer tag, 802.1Q inner */
		l2[n++] = 0x88, l2[n++] = 0xa8, l2[n++] = 0x00, l2[n++] = 100;
	}
	if (vlans >= 1) {
		l2[n++] = 0x81, l2[n++] = 0x00, l2[n++] = 0x00, l2[n++] = 25;
	}
	l2[n++] = family == 4 ? 0x08 : 0x86;
	l2[n++] = family == 4 ? 0x00 : 0xdd;
	c->tpl.l2_len = (uint8_t)n;
	c->tpl.ip_version = family;
	c->tpl.client = *client;
	c->tpl.server = *server;
	c->tpl.client_port = client_port;
	c->tpl.server_port = server_port;
	c->cseq = (uint32_t)rnd_next(rnd);
	c->sseq = (uint32_t)rnd_next(rnd);
	c->cts = (uint32_t)rnd_next(rnd) >> 8;
	c->sts = (uint32_t)rnd_next(rnd) >> 8;
	c->swindow = 502;
	c->mss = 1460;
}

static void conn_handshake(struct conn *c)
{
	conn_packet(c, true, TCP_FLAG_SYN, NULL, 0);
	conn_packet(c, false, TCP_FLAG_SYN | TCP_FLAG_ACK, NULL, 0);
	conn_packet(c, true, TCP_FLAG_ACK, NULL, 0);
}

static void conn_close(struct conn *c)
{
	conn_packet(c, false, TCP_FLAG_FIN | TCP_FLAG_ACK, NULL, 0);
	conn_packet(c, true, TCP_FLAG_FIN | TCP_FLAG_ACK, NULL, 0);
	conn_packet(c, false, TCP_FLAG_ACK, NULL, 0);
}

/* ---- the SMTP dialogue ------------------------------------------------------------------ */

struct gen {
	uint64_t rnd;
	synth_emit_fn *emit;
	void *emit_arg;
	synth_event_fn *on_event;
	void *event_arg;
	uint64_t ts_ns;
	uint32_t body_max;
};

static void event(struct gen *g, const struct conn *c, const char *command, const char *helo,
		  uint32_t helo_len, enum verdict_reason reason, const char *rcpt)
{
	if (g->on_event == NULL || reason == VERDICT_OK)
		return;
	struct synth_event e = {
		.client = c->tpl.client,
		.server = c->tpl.server,
		.client_port = c->tpl.client_port,
		.server_port = c->tpl.server_port,
		.command = command,
		.helo = helo,
		.helo_len = helo_len,
		.reason = reason,
		.rcpt = rcpt,
	};
	g->on_event(g->event_arg, &e);
}

static const char EHLO_REPLY[] = "250-mx.lab-mail.net\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n"
				 "250-STARTTLS\r\n250-CHUNKING\r\n250-8BITMIME\r\n"
				 "250 ENHANCEDSTATUSCODES\r\n";

static void send_line(struct conn *c, const struct plan *pl, const char *verb, const char *arg,
		      uint32_t arg_len)
{
	char line[TEXT_MAX + 32];
	size_t n = (size_t)snprintf(line, sizeof(line), "%s", verb);
	memcpy(line + n, arg, arg_len);
	n += arg_len;
	if (!pl->bare_lf)
		line[n++] = '\r';
	line[n++] = '\n';
	conn_send(c, true, line, (uint32_t)n, c->mss);
}

static void greet(struct conn *c, const struct plan *pl, const char *helo, uint32_t len)
{
	if (pl->one_byte_helo) {
		char line[TEXT_MAX + 8];
		size_t n = (size_t)snprintf(line, sizeof(line), "%s ", pl->ehlo ? "EHLO" : "HELO");
		memcpy(line + n, helo, len);
		n += len;
		line[n++] = '\r';
		line[n++] = '\n';
		conn_send(c, true, line, (uint32_t)n, 1);
	} else {
		send_line(c, pl, pl->ehlo ? "EHLO " : "HELO ", helo, len);
	}
	conn_text(c, false, pl->ehlo ? EHLO_REPLY : "250 mx.lab-mail.net\r\n");
}

/* A message body of size bytes: 76-character lines, optionally opening
 * with lines that look like commands (which must never be parsed). */
static uint32_t make_body(uint64_t *rnd, char *out, uint32_t size, bool commands)
{
	static const char special[] = "RCPT TO:<x@y.example>\r\nHELO localhost\r\n..leading dot\r\n"
				      "MAIL FROM:<z@y.example>\r\nQUIT\r\n";
	uint32_t n = 0;

	if (commands) {
		memcpy(out, special, sizeof(special) - 1);
		n = sizeof(special) - 1;
	}
	while (n + 78 <= size || n == 0) {
		for (int i = 0; i < 76; i++)
			out[n++] = (char)('a' + rnd_below(rnd, 26));
		out[n++] = '\r';
		out[n++] = '\n';
	}
	return n;
}

static void send_message(struct gen *g, struct conn *c, const struct plan *pl)
{
	uint32_t size = pl->body_size;
	char *body = malloc(size + 256);

	if (body == NULL) {
		c->failed = true;
		return;
	}
	uint32_t n = make_body(&g->rnd, body, size, pl->body_commands);
	if (pl->bdat) {
		uint32_t first = n / 2;
		char cmd[64];
		snprintf(cmd, sizeof(cmd), "BDAT %u\r\n", first);
		conn_text(c, true, cmd);
		conn_send(c, true, body, first, c->mss);
		conn_text(c, false, "250 2.0.0 Ok: 1 chunk\r\n");
		snprintf(cmd, sizeof(cmd), "BDAT %u LAST\r\n", n - first);
		conn_text(c, true, cmd);
		conn_send(c, true, body + first, n - first, c->mss);
		conn_text(c, false, "250 2.0.0 Ok: queued as 4F3A2B1C\r\n");
	} else {
		if (!pl->pipelining) {
			conn_text(c, true, "DATA\r\n");
			conn_text(c, false, "354 End data with <CR><LF>.<CR><LF>\r\n");
		}
		memcpy(body + n, ".\r\n", 3);
		conn_send(c, true, body, n + 3, c->mss);
		conn_text(c, false, "250 2.0.0 Ok: queued as 4F3A2B1C\r\n");
	}
	free(body);
}

static void session(struct gen *g, struct conn *c, const struct plan *pl)
{
	const char *helo = pl->helo;
	uint32_t helo_len = pl->helo_len;
	enum verdict_reason reason = pl->reason;

	if (!pl->no_handshake)
		conn_handshake(c);
	conn_text(c, false, "220 mx.lab-mail.net ESMTP\r\n");
	greet(c, pl, pl->helo, pl->helo_len);
	if (pl->starttls) {
		send_line(c, pl, "STARTTLS", "", 0);
		/* Judged without a recipient: "matches-rcpt" then holds only for
		 * the configured local domain. */
		enum verdict_reason at_tls = reason;
		if (reason == VERDICT_MATCHES_RCPT && strcmp(helo, "lab-mail.net") != 0)
			at_tls = VERDICT_OK;
		event(g, c, "STARTTLS", helo, helo_len, at_tls, "");
		conn_text(c, false, "220 2.0.0 Ready to start TLS\r\n");
		uint8_t tls[600];
		for (size_t i = 0; i < sizeof(tls); i++)
			tls[i] = (uint8_t)rnd_next(&g->rnd);
		tls[0] = 0x16, tls[1] = 0x03, tls[2] = 0x01; /* a TLS handshake record */
		conn_send(c, true, tls, 300, c->mss);
		conn_send(c, false, tls + 300, 300, c->mss);
		conn_close(c);
		return;
	}
	if (pl->rset_new_helo) {
		conn_text(c, true, "RSET\r\n");
		conn_text(c, false, "250 2.0.0 Ok\r\n");
		greet(c, pl, pl->helo2, (uint32_t)strlen(pl->helo2));
		helo = pl->helo2;
		helo_len = (uint32_t)strlen(pl->helo2);
		reason = pl->reason2;
	}
	if (pl->pipelining && pl->body_size > 0 && !pl->bdat) {
		char group[(RCPT_MAX + 2) * (TEXT_MAX + 16)];
		size_t n = (size_t)snprintf(group, sizeof(group), "MAIL FROM:<%s>\r\n", pl->mail_from);
		for (unsigned i = 0; i < pl->n_rcpts; i++)
			n += (size_t)snprintf(group + n, sizeof(group) - n, "RCPT TO:<%s>\r\n",
					      pl->rcpts[i]);
		n += (size_t)snprintf(group + n, sizeof(group) - n, "DATA\r\n");
		conn_send(c, true, group, (uint32_t)n, c->mss);
		for (unsigned i = 0; i < pl->n_rcpts; i++)
			event(g, c, "RCPT", helo, helo_len, reason, pl->rcpts[i]);
		char replies[512];
		n = (size_t)snprintf(replies, sizeof(replies), "250 2.1.0 Ok\r\n");
		for (unsigned i = 0; i < pl->n_rcpts; i++)
			n += (size_t)snprintf(replies + n, sizeof(replies) - n, "250 2.1.5 Ok\r\n");
		snprintf(replies + n, sizeof(replies) - n, "354 End data with <CR><LF>.<CR><LF>\r\n");
		conn_text(c, false, replies);
	} else {
		char arg[TEXT_MAX + 4];
		int n = snprintf(arg, sizeof(arg), "<%s>", pl->mail_from);
		send_line(c, pl, "MAIL FROM:", arg, (uint32_t)n);
		conn_text(c, false, "250 2.1.0 Ok\r\n");
		for (unsigned i = 0; i < pl->n_rcpts; i++) {
			n = snprintf(arg, sizeof(arg), "<%s>", pl->rcpts[i]);
			send_line(c, pl, "RCPT TO:", arg, (uint32_t)n);
			event(g, c, "RCPT", helo, helo_len, reason, pl->rcpts[i]);
			conn_text(c, false, "250 2.1.5 Ok\r\n");
		}
	}
	if (pl->body_size > 0)
		send_message(g, c, pl);
	if (pl->end_with_rst) {
		conn_packet(c, true, TCP_FLAG_RST | TCP_FLAG_ACK, NULL, 0);
		return;
	}
	send_line(c, pl, "QUIT", "", 0);
	conn_text(c, false, "221 2.0.0 Bye\r\n");
	conn_close(c);
}

/* ---- plans ------------------------------------------------------------------------------ */

static void set_text(char *dst, const char *src)
{
	snprintf(dst, TEXT_MAX, "%s", src);
}

static const char *pick(uint64_t *rnd, const char *const *table, size_t n)
{
	return table[rnd_below(rnd, (uint32_t)n)];
}

/* A HELO for a reason, given the session's server and recipient domain. */
static void choose_helo(uint64_t *rnd, enum verdict_reason reason, const struct ip_addr *server,
			const char *rcpt_domain, char *out)
{
	char addr[IP_ADDR_TEXT_MAX];

	switch (reason) {
	case VERDICT_INVALID:
		set_text(out, pick(rnd, helo_invalid, COUNT(helo_invalid)));
		break;
	case VERDICT_SERVER_IP:
		ip_addr_format(server, addr, sizeof(addr));
		if (server->family == 6)
			snprintf(out, TEXT_MAX, "[IPv6:%s]", addr);
		else if (rnd_chance(rnd, 0.5))
			snprintf(out, TEXT_MAX, "[%s]", addr);
		else
			snprintf(out, TEXT_MAX, "%s", addr);
		break;
	case VERDICT_IP_LITERAL:
		set_text(out, pick(rnd, helo_ip_literal, COUNT(helo_ip_literal)));
		break;
	case VERDICT_LOCALHOST:
		set_text(out, pick(rnd, helo_localhost, COUNT(helo_localhost)));
		break;
	case VERDICT_BANNED:
		set_text(out, pick(rnd, helo_banned, COUNT(helo_banned)));
		break;
	case VERDICT_MATCHES_RCPT:
		set_text(out, rcpt_domain);
		break;
	case VERDICT_NOT_FQDN:
		set_text(out, pick(rnd, helo_not_fqdn, COUNT(helo_not_fqdn)));
		break;
	default:
		set_text(out, pick(rnd, helo_ok, COUNT(helo_ok)));
		break;
	}
}

/* Body sizes (an assumption, not a measurement: most mail is small text
 * with a tail of attachments): 50% 1-4 KB, 30% 4-16 KB, 15% 16-64 KB,
 * 5% 64-256 KB; median about 4 KB. */
static uint32_t body_size(uint64_t *rnd, uint32_t cap)
{
	uint32_t r = rnd_below(rnd, 100), lo, hi;

	if (r < 50)
		lo = 1024, hi = 4096;
	else if (r < 80)
		lo = 4096, hi = 16384;
	else if (r < 95)
		lo = 16384, hi = 65536;
	else
		lo = 65536, hi = 262144;
	uint32_t size = lo + rnd_below(rnd, hi - lo);
	return cap && size > cap ? cap : size;
}

static void plan_session(uint64_t *rnd, struct plan *pl, enum verdict_reason reason,
			 const struct ip_addr *server, bool with_body, uint32_t body_cap)
{
	memset(pl, 0, sizeof(*pl));
	pl->ehlo = rnd_chance(rnd, 0.9);
	const char *domain = pick(rnd, rcpt_domains, COUNT(rcpt_domains));
	pl->n_rcpts = 1 + rnd_below(rnd, RCPT_MAX);
	for (unsigned i = 0; i < pl->n_rcpts; i++)
		snprintf(pl->rcpts[i], TEXT_MAX, "user%u@%s", (unsigned)rnd_below(rnd, 10000),
			 domain);
	snprintf(pl->mail_from, TEXT_MAX, "sender%u@example.net", (unsigned)rnd_below(rnd, 1000));
	choose_helo(rnd, reason, server, domain, pl->helo);
	pl->helo_len = (uint32_t)strlen(pl->helo);
	pl->reason = reason;
	if (with_body) {
		pl->body_size = body_size(rnd, body_cap);
		pl->bdat = rnd_chance(rnd, 0.05);
		pl->pipelining = !pl->bdat && pl->ehlo && rnd_chance(rnd, 0.2);
		pl->starttls = pl->ehlo && rnd_chance(rnd, 0.1);
		pl->body_commands = rnd_chance(rnd, 0.05);
	}
}

static enum verdict_reason pick_reason(uint64_t *rnd, double bogus_ratio)
{
	if (!rnd_chance(rnd, bogus_ratio))
		return VERDICT_OK;
	return (enum verdict_reason)(VERDICT_INVALID + rnd_below(rnd, VERDICT_COUNT - 1));
}

/* ---- endpoints -------------------------------------------------------------------------- */

static void v4(struct ip_addr *a, uint8_t b0, uint8_t b1, uint8_t b2, uint8_t b3)
{
	memset(a, 0, sizeof(*a));
	a->family = 4;
	a->bytes[0] = b0, a->bytes[1] = b1, a->bytes[2] = b2, a->bytes[3] = b3;
}

static void v6(struct ip_addr *a, uint16_t group4, uint16_t low)
{
	memset(a, 0, sizeof(*a));
	a->family = 6;
	a->bytes[0] = 0x20, a->bytes[1] = 0x01, a->bytes[3] = 2; /* 2001:2::/48, RFC 5180 */
	a->bytes[6] = (uint8_t)(group4 >> 8), a->bytes[7] = (uint8_t)group4;
	a->bytes[14] = (uint8_t)(low >> 8), a->bytes[15] = (uint8_t)low;
}

static void endpoints(uint32_t index, uint8_t family, struct ip_addr *client, uint16_t *port,
		      struct ip_addr *server)
{
	if (family == 6) {
		v6(client, 2, (uint16_t)(index + 1));
		v6(server, 1, 0x25);
	} else {
		v4(client, 198, 19, (uint8_t)(index >> 8), (uint8_t)index);
		v4(server, 198, 18, 1, 25);
	}
	*port = (uint16_t)(1024 + (index * 7919u + index / 65536u) % 64000u);
}

/* ---- emitting: K connections interleaved ------------------------------------------------ */

static bool conn_next_frame(struct conn *c, const uint8_t **frame, uint32_t *len)
{
	if (c->read >= c->len)
		return false;
	memcpy(len, c->buf + c->read, 4);
	*frame = c->buf + c->read + 4;
	c->read += 4 + *len;
	return true;
}

static int emit_frame(struct gen *g, const uint8_t *frame, uint32_t len)
{
	g->ts_ns += 20000; /* 20 us apart */
	return g->emit(g->emit_arg, frame, len, g->ts_ns);
}

static int emit_all(struct gen *g, struct conn *c)
{
	const uint8_t *f;
	uint32_t len;
	int rc = c->failed ? -1 : 0;

	while (rc == 0 && conn_next_frame(c, &f, &len))
		rc = emit_frame(g, f, len);
	free(c->buf);
	c->buf = NULL;
	return rc;
}

/* A non-SMTP flow: UDP, TCP to port 443, or ARP. */
static void non_smtp_flow(struct gen *g, struct conn *c, uint32_t index)
{
	struct ip_addr client, server;
	uint16_t port;
	uint8_t frame[128];

	endpoints(index, 4, &client, &port, &server);
	switch (index % 3) {
	case 0: { /* DNS-like UDP query to 198.18.2.53:53 */
		memset(frame, 0, 74);
		memcpy(frame, "\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01\x08\x00", 14);
		uint8_t *ip = frame + 14;
		ip[0] = 0x45, ip[3] = 60, ip[8] = 64, ip[9] = 17;
		memcpy(ip + 12, client.bytes, 4);
		ip[16] = 198, ip[17] = 18, ip[18] = 2, ip[19] = 53;
		uint8_t *udp = ip + 20;
		udp[0] = (uint8_t)(port >> 8), udp[1] = (uint8_t)port, udp[3] = 53, udp[5] = 40;
		conn_add_frame(c, frame, 74);
		break;
	}
	case 1: /* a short HTTPS-like TCP exchange */
		v4(&server, 198, 18, 1, 44);
		conn_init(c, &g->rnd, 4, &client, port, &server, 443, 0);
		conn_handshake(c);
		conn_send(c, true, "\x16\x03\x01 client hello....", 24, 1460);
		conn_send(c, false, "\x16\x03\x03 server hello....", 24, 1460);
		conn_close(c);
		return;
	default: /* ARP request */
		memset(frame, 0, 60);
		memcpy(frame, "\xff\xff\xff\xff\xff\xff\x02\x00\x00\x00\x00\x01\x08\x06", 14);
		memcpy(frame + 14, "\x00\x01\x08\x00\x06\x04\x00\x01", 8);
		memcpy(frame + 28, client.bytes, 4);
		frame[38] = 198, frame[39] = 18, frame[40] = 1, frame[41] = 25;
		conn_add_frame(c, frame, 60);
		break;
	}
}

void synth_params_default(struct synth_params *p)
{
	memset(p, 0, sizeof(*p));
	p->profile = SYNTH_SMTP_MIX;
	p->sessions = 1000;
	p->seed = 1;
	p->bogus_ratio = 0.3;
	p->concurrency = 32;
}

bool synth_profile_from_name(const char *name, enum synth_profile *out)
{
	static const char *const names[] = {"smtp-mix", "smtp-commands", "bogus-flood", "non-smtp"};

	for (int i = 0; i < 4; i++)
		if (strcmp(name, names[i]) == 0) {
			*out = (enum synth_profile)i;
			return true;
		}
	return false;
}

/* Build session index's frames into c. */
static void build_session(struct gen *g, const struct synth_params *p, uint32_t index,
			  struct conn *c)
{
	if (p->profile == SYNTH_NON_SMTP) {
		memset(c, 0, sizeof(*c));
		non_smtp_flow(g, c, p->client_base + index);
		return;
	}
	uint8_t family = p->profile == SYNTH_SMTP_MIX && rnd_chance(&g->rnd, 0.1) ? 6 : 4;
	unsigned vlans = p->profile == SYNTH_SMTP_MIX && rnd_chance(&g->rnd, 0.1) ? 1 : 0;
	struct ip_addr client, server;
	uint16_t port;
	endpoints(p->client_base + index, family, &client, &port, &server);
	conn_init(c, &g->rnd, family, &client, port, &server, 25, vlans);
	enum verdict_reason reason =
		p->profile == SYNTH_BOGUS_FLOOD
			? (enum verdict_reason)(VERDICT_INVALID + index % (VERDICT_COUNT - 1))
			: pick_reason(&g->rnd, p->bogus_ratio);
	struct plan pl;
	plan_session(&g->rnd, &pl, reason, &server, p->profile == SYNTH_SMTP_MIX, p->body_max);
	session(g, c, &pl);
}

int synth_generate(const struct synth_params *p, synth_emit_fn *emit, void *emit_arg,
		   synth_event_fn *on_event, void *event_arg)
{
	struct gen g = {.rnd = p->seed, .emit = emit, .emit_arg = emit_arg,
			.on_event = on_event, .event_arg = event_arg, .ts_ns = 1795392000ull * 1000000000ull};
	uint32_t k = p->concurrency ? p->concurrency : 1;
	struct conn *active = calloc(k, sizeof(*active));
	bool *busy = calloc(k, sizeof(*busy));
	uint32_t started = 0, live = 0;
	int rc = 0;

	if (active == NULL || busy == NULL) {
		free(active);
		free(busy);
		return -1;
	}
	/* Round robin over k live sessions, one frame each per turn: the
	 * sessions overlap as on a real link. Events are reported when a
	 * session is built, so they are in session start order. */
	for (;;) {
		for (uint32_t i = 0; i < k && started < p->sessions; i++) {
			if (!busy[i]) {
				build_session(&g, p, started++, &active[i]);
				if (active[i].failed) {
					rc = -1;
					goto out;
				}
				busy[i] = true;
				live++;
			}
		}
		if (live == 0)
			break;
		for (uint32_t i = 0; i < k && rc == 0; i++) {
			const uint8_t *f;
			uint32_t len;
			if (!busy[i])
				continue;
			if (conn_next_frame(&active[i], &f, &len)) {
				rc = emit_frame(&g, f, len);
			} else {
				free(active[i].buf);
				active[i].buf = NULL;
				busy[i] = false;
				live--;
			}
		}
		if (rc != 0)
			break;
	}
out:
	for (uint32_t i = 0; i < k; i++)
		free(active[i].buf);
	free(active);
	free(busy);
	return rc;
}

/* ---- scenarios -------------------------------------------------------------------------- */

const char *const synth_scenario_names[] = {
	"pipelining", "body-with-commands", "bdat", "starttls", "rset-new-helo", "ipv6", "vlan",
	"qinq", "ipv6-hbh", "helo-one-byte-per-segment", "seq-wrap", "nul-8bit", "bare-lf",
	"long-line", "syn-flood", "third-party-rst", "conflicting-retransmit", "beyond-window",
	"zero-window-probe", "truncated-ipv4", "ipv4-total-length-too-big", "tcp-offset-past-end",
	"midstream", NULL,
};

bool synth_scenario_exists(const char *name)
{
	for (int i = 0; synth_scenario_names[i]; i++)
		if (strcmp(synth_scenario_names[i], name) == 0)
			return true;
	return false;
}

/* A plan with a fixed HELO and reason, one recipient at example.com. */
static void fixed_plan(struct plan *pl, const char *helo, enum verdict_reason reason,
		       uint32_t body)
{
	memset(pl, 0, sizeof(*pl));
	pl->ehlo = true;
	set_text(pl->helo, helo);
	pl->helo_len = (uint32_t)strlen(helo);
	pl->reason = reason;
	set_text(pl->mail_from, "sender@example.net");
	set_text(pl->rcpts[0], "bob@example.com");
	set_text(pl->rcpts[1], "carol@example.com");
	pl->n_rcpts = 2;
	pl->body_size = body;
}

static int run_plan(struct gen *g, uint32_t index, uint8_t family, unsigned vlans, bool hbh,
		    const struct plan *pl)
{
	struct conn c;
	struct ip_addr client, server;
	uint16_t port;

	endpoints(index, family, &client, &port, &server);
	conn_init(&c, &g->rnd, family, &client, port, &server, 25, vlans);
	c.hbh = hbh;
	session(g, &c, pl);
	return emit_all(g, &c);
}

/* Variations on a frame: copy the last frame of c with a modification. */
static void extra_frame_from(struct conn *c, uint32_t (*mutate)(uint8_t *, uint32_t, uint32_t))
{
	size_t off = 0, last = 0;
	uint32_t len = 0;
	while (off < c->len) {
		last = off;
		memcpy(&len, c->buf + off, 4);
		off += 4 + len;
	}
	uint8_t copy[2048];
	memcpy(&len, c->buf + last, 4);
	memcpy(copy, c->buf + last + 4, len);
	len = mutate(copy, len, c->tpl.l2_len);
	conn_add_frame(c, copy, len);
}

static uint32_t mutate_total_length(uint8_t *f, uint32_t len, uint32_t l3)
{
	uint16_t total = (uint16_t)(((f[l3 + 2] << 8) | f[l3 + 3]) + 100);
	f[l3 + 2] = (uint8_t)(total >> 8);
	f[l3 + 3] = (uint8_t)total;
	return len;
}

static uint32_t mutate_data_offset(uint8_t *f, uint32_t len, uint32_t l3)
{
	f[l3 + 20 + 12] = 0xf0; /* 60 bytes of header in a 20-byte segment */
	return len;
}

static uint32_t mutate_truncate_ip(uint8_t *f, uint32_t len, uint32_t l3)
{
	(void)f;
	(void)len;
	return l3 + 10;
}

int synth_scenario(const char *name, uint64_t seed, synth_emit_fn *emit, void *emit_arg,
		   synth_event_fn *on_event, void *event_arg)
{
	struct gen g = {.rnd = seed, .emit = emit, .emit_arg = emit_arg, .on_event = on_event,
			.event_arg = event_arg, .ts_ns = 1795392000ull * 1000000000ull};
	struct plan pl;
	struct conn c;
	struct ip_addr client, server;
	uint16_t port;
	int rc = 0;

	if (strcmp(name, "pipelining") == 0) {
		fixed_plan(&pl, "localhost", VERDICT_LOCALHOST, 2000);
		pl.pipelining = true;
		rc = run_plan(&g, 1, 4, 0, false, &pl);
		fixed_plan(&pl, "mail.example.org", VERDICT_OK, 2000);
		pl.pipelining = true;
		return rc ? rc : run_plan(&g, 2, 4, 0, false, &pl);
	}
	if (strcmp(name, "body-with-commands") == 0) {
		fixed_plan(&pl, "mail.example.org", VERDICT_OK, 5000);
		pl.body_commands = true;
		rc = run_plan(&g, 1, 4, 0, false, &pl);
		fixed_plan(&pl, "www", VERDICT_NOT_FQDN, 5000);
		pl.body_commands = true;
		return rc ? rc : run_plan(&g, 2, 4, 0, false, &pl);
	}
	if (strcmp(name, "bdat") == 0) {
		fixed_plan(&pl, "mail.example.org", VERDICT_OK, 6000);
		pl.bdat = pl.body_commands = true;
		rc = run_plan(&g, 1, 4, 0, false, &pl);
		fixed_plan(&pl, "fakedomain.xyz", VERDICT_BANNED, 6000);
		pl.bdat = pl.body_commands = true;
		return rc ? rc : run_plan(&g, 2, 4, 0, false, &pl);
	}
	if (strcmp(name, "starttls") == 0) {
		fixed_plan(&pl, "rad.internal", VERDICT_NOT_FQDN, 0);
		pl.starttls = true;
		rc = run_plan(&g, 1, 4, 0, false, &pl);
		fixed_plan(&pl, "mail.example.org", VERDICT_OK, 0);
		pl.starttls = true;
		return rc ? rc : run_plan(&g, 2, 4, 0, false, &pl);
	}
	if (strcmp(name, "rset-new-helo") == 0) {
		fixed_plan(&pl, "localhost", VERDICT_LOCALHOST, 1000);
		pl.rset_new_helo = true;
		set_text(pl.helo2, "mail.example.org");
		pl.reason2 = VERDICT_OK;
		rc = run_plan(&g, 1, 4, 0, false, &pl);
		fixed_plan(&pl, "mail.example.org", VERDICT_OK, 1000);
		pl.rset_new_helo = true;
		set_text(pl.helo2, "[127.0.0.1]");
		pl.reason2 = VERDICT_IP_LITERAL;
		return rc ? rc : run_plan(&g, 2, 4, 0, false, &pl);
	}
	if (strcmp(name, "ipv6") == 0 || strcmp(name, "ipv6-hbh") == 0) {
		bool hbh = strcmp(name, "ipv6-hbh") == 0;
		fixed_plan(&pl, "[IPv6:2001:2:0:1::25]", VERDICT_SERVER_IP, 3000);
		rc = run_plan(&g, 1, 6, 0, hbh, &pl);
		fixed_plan(&pl, "mail.example.org", VERDICT_OK, 3000);
		return rc ? rc : run_plan(&g, 2, 6, 0, hbh, &pl);
	}
	if (strcmp(name, "vlan") == 0 || strcmp(name, "qinq") == 0) {
		unsigned vlans = strcmp(name, "vlan") == 0 ? 1 : 2;
		fixed_plan(&pl, "[192.168.1.1]", VERDICT_IP_LITERAL, 3000);
		rc = run_plan(&g, 1, 4, vlans, false, &pl);
		fixed_plan(&pl, "mail.example.org", VERDICT_OK, 3000);
		return rc ? rc : run_plan(&g, 2, 4, vlans, false, &pl);
	}
	if (strcmp(name, "helo-one-byte-per-segment") == 0) {
		fixed_plan(&pl, "mon-serveur", VERDICT_NOT_FQDN, 0);
		pl.one_byte_helo = true;
		return run_plan(&g, 1, 4, 0, false, &pl);
	}
	if (strcmp(name, "bare-lf") == 0) {
		fixed_plan(&pl, "localhost", VERDICT_LOCALHOST, 0);
		pl.bare_lf = true;
		return run_plan(&g, 1, 4, 0, false, &pl);
	}
	if (strcmp(name, "nul-8bit") == 0) {
		fixed_plan(&pl, "", VERDICT_INVALID, 0);
		memcpy(pl.helo, "bad\0name\xe9.example.com", 21);
		pl.helo_len = 21;
		set_text(pl.rcpts[0], "b\xe9" "b@example.com");
		pl.n_rcpts = 1;
		return run_plan(&g, 1, 4, 0, false, &pl);
	}
	/* The rest drive a connection by hand. */
	endpoints(1, 4, &client, &port, &server);
	conn_init(&c, &g.rnd, 4, &client, port, &server, 25, 0);
	if (strcmp(name, "seq-wrap") == 0) {
		/* The first data byte is 2^32 - 4: "EHLO localhost" wraps after "EHLO". */
		fixed_plan(&pl, "localhost", VERDICT_LOCALHOST, 1000);
		c.cseq = 0xfffffffbu;
		session(&g, &c, &pl);
		return emit_all(&g, &c);
	}
	if (strcmp(name, "midstream") == 0) {
		fixed_plan(&pl, "localhost", VERDICT_LOCALHOST, 1000);
		pl.no_handshake = true;
		pl.reason = VERDICT_OK; /* never tracked: no event */
		session(&g, &c, &pl);
		return emit_all(&g, &c);
	}
	if (strcmp(name, "long-line") == 0) {
		conn_handshake(&c);
		conn_text(&c, false, "220 mx.lab-mail.net ESMTP\r\n");
		conn_text(&c, true, "EHLO localhost\r\n");
		conn_text(&c, false, EHLO_REPLY);
		char *line = malloc(100 * 1024);
		if (line == NULL)
			return -1;
		memset(line, 'A', 100 * 1024);
		conn_send(&c, true, line, 100 * 1024, 1460);
		free(line);
		conn_text(&c, true, "\r\nRCPT TO:<bob@example.com>\r\n"); /* no longer parsed */
		conn_text(&c, false, "500 5.5.2 Error: line too long\r\n");
		conn_close(&c);
		return emit_all(&g, &c);
	}
	if (strcmp(name, "syn-flood") == 0) {
		/* Session A is tracked before the flood fills the table (run with
		 * --flows 1024): it is still judged. Session B arrives while the
		 * table is full: it passes untracked, no event (fail open). */
		fixed_plan(&pl, "localhost", VERDICT_LOCALHOST, 0);
		conn_handshake(&c);
		conn_text(&c, false, "220 mx.lab-mail.net ESMTP\r\n");
		conn_text(&c, true, "EHLO localhost\r\n");
		conn_text(&c, false, EHLO_REPLY);
		rc = emit_all(&g, &c);
		for (uint32_t i = 0; i < 2000 && rc == 0; i++) {
			struct conn s;
			endpoints(1000 + i, 4, &client, &port, &server);
			conn_init(&s, &g.rnd, 4, &client, port, &server, 25, 0);
			conn_packet(&s, true, TCP_FLAG_SYN, NULL, 0);
			rc = emit_all(&g, &s);
		}
		/* Session B, while the table is full. */
		fixed_plan(&pl, "www", VERDICT_OK /* untracked: no event */, 0);
		if (rc == 0)
			rc = run_plan(&g, 5000, 4, 0, false, &pl);
		if (rc)
			return rc;
		c.buf = NULL, c.len = c.cap = c.read = 0;
		conn_text(&c, true, "MAIL FROM:<a@example.net>\r\n");
		conn_text(&c, false, "250 2.1.0 Ok\r\n");
		conn_text(&c, true, "RCPT TO:<bob@example.com>\r\n");
		event(&g, &c, "RCPT", "localhost", 9, VERDICT_LOCALHOST, "bob@example.com");
		conn_text(&c, false, "250 2.1.5 Ok\r\n");
		conn_text(&c, true, "QUIT\r\n");
		conn_text(&c, false, "221 2.0.0 Bye\r\n");
		conn_close(&c);
		return emit_all(&g, &c);
	}
	conn_handshake(&c);
	conn_text(&c, false, "220 mx.lab-mail.net ESMTP\r\n");
	if (strcmp(name, "conflicting-retransmit") == 0) {
		/* Two copies of the EHLO at one sequence number, different bytes,
		 * before the server acknowledges: the second never reaches it. */
		uint32_t seq = c.cseq;
		conn_packet(&c, true, TCP_FLAG_ACK | TCP_FLAG_PSH, "EHLO localhost\r\n", 16);
		c.cseq = seq;
		conn_packet(&c, true, TCP_FLAG_ACK | TCP_FLAG_PSH, "EHLO abcdefghi\r\n", 16);
		conn_text(&c, false, EHLO_REPLY);
	} else {
		conn_text(&c, true, "EHLO localhost\r\n");
		conn_text(&c, false, EHLO_REPLY);
	}
	if (strcmp(name, "third-party-rst") == 0) {
		uint32_t seq = c.cseq;
		c.cseq += 0x40000000u; /* far outside any window */
		conn_packet(&c, true, TCP_FLAG_RST, NULL, 0);
		c.cseq = seq;
	} else if (strcmp(name, "beyond-window") == 0) {
		uint32_t seq = c.cseq;
		c.cseq += 0x2000000u; /* 32 MiB ahead: the window is 502 << 7 */
		conn_packet(&c, true, TCP_FLAG_ACK | TCP_FLAG_PSH, "RCPT TO:<evil@example.com>\r\n", 28);
		c.cseq = seq;
	} else if (strcmp(name, "truncated-ipv4") == 0) {
		extra_frame_from(&c, mutate_truncate_ip);
	} else if (strcmp(name, "ipv4-total-length-too-big") == 0) {
		extra_frame_from(&c, mutate_total_length);
	} else if (strcmp(name, "tcp-offset-past-end") == 0) {
		extra_frame_from(&c, mutate_data_offset);
	} else if (strcmp(name, "conflicting-retransmit") != 0 &&
		   strcmp(name, "zero-window-probe") != 0) {
		free(c.buf);
		return -2; /* unknown scenario */
	}
	conn_text(&c, true, "MAIL FROM:<a@example.net>\r\n");
	if (strcmp(name, "zero-window-probe") == 0) {
		/* The server's window closes; the client probes with one byte of
		 * its next command, then sends the rest once the window opens. */
		c.swindow = 0;
		conn_text(&c, false, "250 2.1.0 Ok\r\n");
		conn_packet(&c, true, TCP_FLAG_ACK, "R", 1);
		conn_packet(&c, false, TCP_FLAG_ACK, NULL, 0);
		c.swindow = 502;
		conn_packet(&c, false, TCP_FLAG_ACK, NULL, 0);
		conn_text(&c, true, "CPT TO:<bob@example.com>\r\n");
	} else {
		conn_text(&c, false, "250 2.1.0 Ok\r\n");
		conn_text(&c, true, "RCPT TO:<bob@example.com>\r\n");
	}
	event(&g, &c, "RCPT", "localhost", 9, VERDICT_LOCALHOST, "bob@example.com");
	conn_text(&c, false, "250 2.1.5 Ok\r\n");
	conn_text(&c, true, "QUIT\r\n");
	conn_text(&c, false, "221 2.0.0 Bye\r\n");
	conn_close(&c);
	return emit_all(&g, &c);
}
