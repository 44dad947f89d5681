#include "synth/synth.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wire/cksum.h"
#include "wire/tcp_seq.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

#define CLIENT 0
#define SERVER 1

#define F_FIN 0x01
#define F_SYN 0x02
#define F_RST 0x04
#define F_PSH 0x08
#define F_ACK 0x10

/* ---- deterministic randomness: splitmix64 ---------------------------------------------- */

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

static double rnd_unit(uint64_t *state)
{
	return (double)(rnd_next(state) >> 11) / (double)(1ull << 53);
}

static bool rnd_chance(uint64_t *state, double p)
{
	return rnd_unit(state) < p;
}

/* A stream of its own for item index, so that item i does not depend on how
 * much randomness the items before it used. */
static uint64_t rnd_fork(uint64_t seed, uint64_t index)
{
	uint64_t s = seed ^ (index * 0xd1342543de82ef95ull);
	return rnd_next(&s);
}

/* e^x without libm (results then do not depend on the libm version):
 * x = n ln 2 + r with |r| <= ln 2 / 2, and a Taylor series for e^r. */
static double exp_nolibm(double x)
{
	const double ln2 = 0.69314718055994530942;
	if (x > 40)
		x = 40;
	if (x < -40)
		x = -40;
	int n = (int)(x / ln2 + (x < 0 ? -0.5 : 0.5));
	double r = x - n * ln2, term = 1, sum = 1;

	for (int i = 1; i < 18; i++) {
		term *= r / i;
		sum += term;
	}
	for (; n > 0; n--)
		sum *= 2;
	for (; n < 0; n++)
		sum /= 2;
	return sum;
}

/* A standard normal variate, Irwin-Hall: the sum of 12 uniforms minus 6
 * (tails end at 6 sigma, beyond any clamp we apply). */
static double rnd_normal(uint64_t *state)
{
	double s = 0;

	for (int i = 0; i < 12; i++)
		s += rnd_unit(state);
	return s - 6;
}

/* ---- the lab context ------------------------------------------------------------------- */

static const char *const helo_ok[] = {
    "mail.example.org",       "smtp.exampledomain.com", "mta-gw1.infomaniak.ch",
    "mx1.mail.example.co.uk", "relay_out.example.net",  "MX2.Example.ORG.",
};
static const char *const helo_invalid[] = {
    "-bad.example.com", "a..b.example.com", "[1.2.3]", "host...", "host name.example.com", "",
};
static const char *const helo_server_ip4[] = {"198.18.1.25", "[198.18.1.25]"};
static const char *const helo_server_ip6[] = {"[IPv6:2001:2:0:1::25]",
                                              "[IPv6:2001:0002:0000:0001:0:0:0:0025]"};
static const char *const helo_ip_literal[] = {
    "127.0.0.1", "[127.0.0.1]", "[192.168.1.1]", "[IPv6:2001:db8::1]", "203.0.113.7",
};
static const char *const helo_localhost[] = {
    "localhost",
    "localhost.localdomain",
    "LOCALHOST.",
    "mail.localhost",
};
static const char *const helo_banned[] = {
    "fakedomain.xyz",
    "mx.fakedomain.xyz",
    "spam-cannon.example.com",
    "BULK-SENDER.example.net",
};
static const char *const rcpt_domains[] = {"example.com", "example.org", SYNTH_LAB_LOCAL_DOMAIN};
static const char *const helo_not_fqdn[] = {
    "www", "server", "mon-serveur", "rad.internal", "host.local", "pc.lan", "mail.example",
};

const char *const *synth_helo_table(enum verdict_reason reason, uint8_t family, size_t *count)
{
	const char *const *t = NULL;
	size_t n = 0;

#define TABLE(a) (t = (a), n = COUNT(a))
	switch (reason) {
	case VERDICT_OK:
		TABLE(helo_ok);
		break;
	case VERDICT_INVALID:
		TABLE(helo_invalid);
		break;
	case VERDICT_SERVER_IP:
		if (family == 6)
			TABLE(helo_server_ip6);
		else
			TABLE(helo_server_ip4);
		break;
	case VERDICT_IP_LITERAL:
		TABLE(helo_ip_literal);
		break;
	case VERDICT_LOCALHOST:
		TABLE(helo_localhost);
		break;
	case VERDICT_BANNED:
		TABLE(helo_banned);
		break;
	case VERDICT_MATCHES_RCPT:
		TABLE(rcpt_domains);
		break;
	case VERDICT_NOT_FQDN:
		TABLE(helo_not_fqdn);
		break;
	default:
		break;
	}
#undef TABLE
	*count = n;
	return t;
}

const char *const *synth_rcpt_domains(size_t *count)
{
	*count = COUNT(rcpt_domains);
	return rcpt_domains;
}

void synth_lab_server(uint8_t family, struct ip_addr *out)
{
	memset(out, 0, sizeof(*out));
	if (family == 6) {
		static const uint8_t a[16] = {0x20, 0x01, 0, 2, 0, 0, 0, 1,
		                              0,    0,    0, 0, 0, 0, 0, 0x25};
		out->family = 6;
		memcpy(out->bytes, a, 16);
	} else {
		static const uint8_t a[4] = {198, 18, 1, 25};
		out->family = 4;
		memcpy(out->bytes, a, 4);
	}
}

void synth_lab_client(uint8_t family, uint32_t index, struct ip_addr *addr, uint16_t *port)
{
	uint32_t host = index % 65534u + 1, round = index / 65534u;

	memset(addr, 0, sizeof(*addr));
	if (family == 6) {
		static const uint8_t p[8] = {0x20, 0x01, 0, 2, 0, 0, 0, 2}; /* 2001:2:0:2::/64 */
		addr->family = 6;
		memcpy(addr->bytes, p, 8);
		addr->bytes[12] = (uint8_t)(round >> 8);
		addr->bytes[13] = (uint8_t)round;
		addr->bytes[14] = (uint8_t)(host >> 8);
		addr->bytes[15] = (uint8_t)host;
	} else {
		addr->family = 4;
		addr->bytes[0] = 198;
		addr->bytes[1] = 19;
		addr->bytes[2] = (uint8_t)(host >> 8);
		addr->bytes[3] = (uint8_t)host;
	}
	/* 7919 is prime to 64512, so (host, round) pairs never share a port
	 * while round < 64512. */
	*port = (uint16_t)(1024 + (round * 7919u + host * 31u) % 64512u);
}

static bool is_local_domain(const struct synth_text *t)
{
	size_t n = strlen(SYNTH_LAB_LOCAL_DOMAIN), len = t->len;

	if (len == n + 1 && t->bytes[n] == '.')
		len = n;
	if (len != n)
		return false;
	for (size_t i = 0; i < n; i++) {
		uint8_t c = t->bytes[i];
		if (c >= 'A' && c <= 'Z')
			c = (uint8_t)(c + 32);
		if (c != (uint8_t)SYNTH_LAB_LOCAL_DOMAIN[i])
			return false;
	}
	return true;
}

/* ---- growable bytes --------------------------------------------------------------------- */

struct bytes {
	uint8_t *p;
	size_t len, cap;
	bool failed;
};

static bool bytes_reserve(struct bytes *b, size_t more)
{
	if (b->failed)
		return false;
	if (b->len + more <= b->cap)
		return true;
	size_t cap = b->cap ? b->cap : 4096;
	while (cap < b->len + more)
		cap *= 2;
	uint8_t *p = realloc(b->p, cap);
	if (p == NULL) {
		b->failed = true;
		return false;
	}
	b->p = p;
	b->cap = cap;
	return true;
}

static void bytes_put(struct bytes *b, const void *data, size_t len)
{
	if (len == 0 || !bytes_reserve(b, len))
		return;
	memcpy(b->p + b->len, data, len);
	b->len += len;
}

static void bytes_str(struct bytes *b, const char *s)
{
	bytes_put(b, s, strlen(s));
}

static void bytes_free(struct bytes *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

/* ---- where frames and events go: the sink, or a session's record buffer (mixes) ------- */

enum { REC_FRAME = 1, REC_EVENT = 2 };

struct event_rec {
	struct ip_addr client, server;
	uint16_t client_port, server_port;
	uint16_t helo_len, rcpt_len;
	uint8_t starttls;
	uint8_t reason;
};

struct out {
	struct synth_sink *sink; /* direct */
	struct bytes *rec;       /* or recorded, replayed later by the mixer */
	int rc;
};

static void sink_frame(struct synth_sink *sink, const uint8_t *f, uint32_t len, int *rc)
{
	if (*rc != 0)
		return;
	*rc = sink->emit(sink->arg, f, len, sink->ts_ns);
	sink->ts_ns += SYNTH_FRAME_GAP_NS;
	sink->frames++;
	sink->bytes += len;
}

static void sink_event(struct synth_sink *sink, struct synth_event *e, int rc)
{
	if (rc != 0)
		return;
	e->frame = sink->frames - 1;
	sink->events++;
	if (sink->event != NULL)
		sink->event(sink->arg, e);
}

static void out_frame(struct out *o, const uint8_t *f, uint32_t len)
{
	if (o->sink != NULL) {
		sink_frame(o->sink, f, len, &o->rc);
		return;
	}
	uint8_t kind = REC_FRAME;
	bytes_put(o->rec, &kind, 1);
	bytes_put(o->rec, &len, 4);
	bytes_put(o->rec, f, len);
	if (o->rec->failed)
		o->rc = SYNTH_ENOMEM;
}

static void out_event(struct out *o, struct synth_event *e)
{
	if (o->sink != NULL) {
		sink_event(o->sink, e, o->rc);
		return;
	}
	struct event_rec r = {
	    .client = e->client,
	    .server = e->server,
	    .client_port = e->client_port,
	    .server_port = e->server_port,
	    .helo_len = e->helo_len,
	    .rcpt_len = e->rcpt_len,
	    .starttls = strcmp(e->command, "STARTTLS") == 0,
	    .reason = (uint8_t)e->reason,
	};
	uint32_t len = (uint32_t)sizeof(r) + e->helo_len + e->rcpt_len;
	uint8_t kind = REC_EVENT;
	bytes_put(o->rec, &kind, 1);
	bytes_put(o->rec, &len, 4);
	bytes_put(o->rec, &r, sizeof(r));
	bytes_put(o->rec, e->helo, e->helo_len);
	bytes_put(o->rec, e->rcpt, e->rcpt_len);
	if (o->rec->failed)
		o->rc = SYNTH_ENOMEM;
}

/* Replay one frame record at *pos and the event records right after it. */
static int rec_replay_frame(const struct bytes *rec, size_t *pos, struct synth_sink *sink)
{
	int rc = 0;
	bool frame_done = false;

	while (*pos < rec->len && rc == 0) {
		uint8_t kind = rec->p[*pos];
		uint32_t len;
		memcpy(&len, rec->p + *pos + 1, 4);
		const uint8_t *data = rec->p + *pos + 5;
		if (kind == REC_FRAME) {
			if (frame_done)
				break;
			sink_frame(sink, data, len, &rc);
			frame_done = true;
		} else {
			struct event_rec r;
			memcpy(&r, data, sizeof(r));
			struct synth_event e = {
			    .client = r.client,
			    .server = r.server,
			    .client_port = r.client_port,
			    .server_port = r.server_port,
			    .command = r.starttls ? "STARTTLS" : "RCPT",
			    .helo = data + sizeof(r),
			    .helo_len = r.helo_len,
			    .rcpt = data + sizeof(r) + r.helo_len,
			    .rcpt_len = r.rcpt_len,
			    .reason = (enum verdict_reason)r.reason,
			};
			sink_event(sink, &e, rc);
		}
		*pos += 5 + len;
	}
	return rc;
}

/* ---- one TCP connection, frame by frame ------------------------------------------------- */

static const uint8_t mac_client[6] = {2, 0, 0, 0, 0, 1};
static const uint8_t mac_server[6] = {2, 0, 0, 0, 0, 2};

struct side {
	uint32_t nxt;           /* SND.NXT */
	uint32_t una;           /* the highest ACK the peer sent */
	uint32_t rcv_nxt;       /* what its next ACK acknowledges */
	uint32_t last_ack_sent; /* RFC 7323 4.3 Last.ACK.sent */
	uint32_t ts_val, ts_recent;
	uint32_t window;    /* bytes it offers */
	uint16_t win_field; /* the window field it last sent */
	uint16_t mss;       /* what it announced: the peer's largest segment */
	uint16_t ip_id;
	uint8_t wscale;
	uint8_t unacked; /* segments with data, SYN or FIN received since its last ACK */
	uint32_t flow_label;
};

struct conn {
	const struct synth_session_spec *spec;
	struct out *out;
	struct side side[2];
	bool ws, ts, sack; /* negotiated */
	uint8_t frame[SYNTH_FRAME_MAX];
};

static void put16(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

struct seg {
	int from;
	uint8_t flags;
	uint32_t seq, ack;
	uint16_t window;
	const uint8_t *data;
	uint32_t len;
	uint8_t opts[40];
	uint8_t opts_len;
};

/* Build g into k->frame; returns the frame length. */
static uint32_t conn_build(struct conn *k, const struct seg *g)
{
	const struct synth_session_spec *sp = k->spec;
	const struct ip_addr *src = g->from == CLIENT ? &sp->client : &sp->server;
	const struct ip_addr *dst = g->from == CLIENT ? &sp->server : &sp->client;
	uint16_t sport = g->from == CLIENT ? sp->client_port : sp->server_port;
	uint16_t dport = g->from == CLIENT ? sp->server_port : sp->client_port;
	uint8_t *f = k->frame;
	uint32_t n = 12;

	memcpy(f, g->from == CLIENT ? mac_server : mac_client, 6);
	memcpy(f + 6, g->from == CLIENT ? mac_client : mac_server, 6);
	for (unsigned i = 0; i < sp->n_vlans; i++) {
		put16(f + n, i == 0 && sp->n_vlans == 2 ? sp->outer_tpid : 0x8100);
		put16(f + n + 2, sp->vlan_tci[i]);
		n += 4;
	}
	put16(f + n, sp->family == 6 ? 0x86dd : 0x0800);
	n += 2;

	uint8_t *ip = f + n;
	uint32_t tcp_len = 20u + g->opts_len + g->len;
	uint8_t *tcp;
	if (sp->family == 6) {
		uint32_t ext = sp->ipv6_hbh ? 8 : 0;
		put32(ip, 0x60000000u | k->side[g->from].flow_label);
		put16(ip + 4, tcp_len + ext);
		ip[6] = sp->ipv6_hbh ? 0 : 6;
		ip[7] = 64;
		memcpy(ip + 8, src->bytes, 16);
		memcpy(ip + 24, dst->bytes, 16);
		if (sp->ipv6_hbh) {
			static const uint8_t hbh[8] = {6, 0, 1, 4, 0, 0, 0, 0}; /* PadN, 4 bytes */
			memcpy(ip + 40, hbh, 8);
		}
		tcp = ip + 40 + ext;
	} else {
		memset(ip, 0, 20);
		ip[0] = 0x45;
		put16(ip + 2, 20 + tcp_len);
		put16(ip + 4, k->side[g->from].ip_id++);
		ip[6] = 0x40; /* DF, as Linux sends TCP */
		ip[8] = 64;
		ip[9] = 6;
		memcpy(ip + 12, src->bytes, 4);
		memcpy(ip + 16, dst->bytes, 4);
		uint16_t c = cksum_ipv4_header(ip, 20);
		memcpy(ip + 10, &c, 2);
		tcp = ip + 20;
	}
	put16(tcp, sport);
	put16(tcp + 2, dport);
	put32(tcp + 4, g->seq);
	put32(tcp + 8, g->ack);
	tcp[12] = (uint8_t)((5 + g->opts_len / 4) << 4);
	tcp[13] = g->flags;
	put16(tcp + 14, g->window);
	memset(tcp + 16, 0, 4);
	memcpy(tcp + 20, g->opts, g->opts_len);
	if (g->len)
		memcpy(tcp + 20 + g->opts_len, g->data, g->len);
	uint16_t c = sp->family == 6 ? cksum_tcp_ipv6(src->bytes, dst->bytes, tcp, tcp_len)
	                             : cksum_tcp_ipv4(src->bytes, dst->bytes, tcp, tcp_len);
	memcpy(tcp + 16, &c, 2);
	n = (uint32_t)(tcp - f) + tcp_len;
	/* A NIC pads a short frame to the 60-byte minimum (without FCS) with
	 * zeros beyond the IP datagram. */
	if (n < 60) {
		memset(f + n, 0, 60 - n);
		n = 60;
	}
	return n;
}

static uint8_t opts_timestamps(uint8_t *o, uint32_t tsval, uint32_t tsecr, bool sack_perm)
{
	o[0] = sack_perm ? 4 : 1;
	o[1] = sack_perm ? 2 : 1;
	o[2] = 8;
	o[3] = 10;
	put32(o + 4, tsval);
	put32(o + 8, tsecr);
	return 12;
}

/* SYN and SYN-ACK options in Linux's order: MSS, SACK-permitted + TS, WS. */
static uint8_t opts_syn(struct conn *k, int from, uint8_t *o)
{
	const struct synth_session_spec *sp = k->spec;
	const struct side *s = &k->side[from];
	uint8_t n = 0;

	if (sp->options & SYNTH_OPT_MSS) {
		o[n] = 2;
		o[n + 1] = 4;
		put16(o + n + 2, sp->mss);
		n += 4;
	}
	if (k->ts) {
		n += opts_timestamps(o + n, s->ts_val, from == CLIENT ? 0 : s->ts_recent, k->sack);
	} else if (k->sack) {
		static const uint8_t sp_only[4] = {1, 1, 4, 2};
		memcpy(o + n, sp_only, 4);
		n += 4;
	}
	if (k->ws) {
		o[n] = 1;
		o[n + 1] = 3;
		o[n + 2] = 3;
		o[n + 3] = s->wscale;
		n += 4;
	}
	return n;
}

static uint16_t window_field(const struct conn *k, const struct side *s, bool syn)
{
	uint32_t w = s->window;

	/* RFC 7323 2.2: the window of a SYN is never scaled. */
	if (k->ws && !syn)
		w >>= s->wscale;
	return (uint16_t)(w > 65535 ? 65535 : w);
}

/* Send one segment from side `from` at its SND.NXT, and let the peer
 * receive it in order. */
static void conn_send(struct conn *k, int from, uint8_t flags, const uint8_t *data, uint32_t len)
{
	struct side *s = &k->side[from], *p = &k->side[!from];
	struct seg g = {.from = from, .flags = flags, .seq = s->nxt, .data = data, .len = len};

	if (flags & F_ACK) {
		g.ack = s->rcv_nxt;
		s->last_ack_sent = s->rcv_nxt;
		s->unacked = 0;
	}
	g.window = window_field(k, s, flags & F_SYN);
	s->win_field = g.window;
	uint32_t tsval = s->ts_val;
	if (flags & F_SYN)
		g.opts_len = opts_syn(k, from, g.opts);
	else if (k->ts)
		g.opts_len = opts_timestamps(g.opts, tsval, s->ts_recent, false);
	s->ts_val++;
	out_frame(k->out, k->frame, conn_build(k, &g));

	if (k->ts && seq_leq(g.seq, p->last_ack_sent))
		p->ts_recent = tsval;
	uint32_t adv = len + ((flags & F_SYN) ? 1u : 0u) + ((flags & F_FIN) ? 1u : 0u);
	s->nxt += adv;
	p->rcv_nxt = s->nxt;
	if ((flags & F_ACK) && seq_gt(g.ack, p->una))
		p->una = g.ack;
	if (adv)
		p->unacked++;
}

/* A segment outside the connection's state (third parties, retransmissions
 * with other bytes, malformed copies): built into k->frame, not emitted, no
 * state changes. Carries timestamps when negotiated and ts is set. */
static uint32_t conn_build_raw(struct conn *k, int from, uint8_t flags, uint32_t seq, uint32_t ack,
                               const void *data, uint32_t len, bool ts)
{
	struct side *s = &k->side[from];
	struct seg g = {.from = from,
	                .flags = flags,
	                .seq = seq,
	                .ack = ack,
	                .data = data,
	                .len = len,
	                .window = s->win_field};

	if (ts && k->ts)
		g.opts_len = opts_timestamps(g.opts, s->ts_val++, s->ts_recent, false);
	if (flags & F_RST)
		g.window = 0;
	return conn_build(k, &g);
}

static void conn_ack(struct conn *k, int who)
{
	if (k->side[who].unacked)
		conn_send(k, who, F_ACK, NULL, 0);
}

/* Bytes side `from` may still send: the peer's window from its last ACK. */
static uint32_t conn_room(const struct conn *k, int from)
{
	const struct side *s = &k->side[from], *p = &k->side[!from];
	uint32_t edge = s->una + ((uint32_t)p->win_field << (k->ws ? p->wscale : 0));
	int32_t room = seq_diff(edge, s->nxt);

	return room > 0 ? (uint32_t)room : 0;
}

/* Largest payload side `from` puts in a segment: the peer's MSS, less the
 * timestamp option (as Linux counts it). */
static uint32_t conn_max_payload(const struct conn *k, int from)
{
	return k->side[!from].mss - (k->ts ? 12u : 0u);
}

/* An event to report once the byte before `end` of a write has been sent. */
struct mark {
	uint32_t end;
	struct synth_event event;
};

/* Side `from` writes data: segments of at most seg bytes within the peer's
 * window, PSH on the last; the peer ACKs every ack_every-th segment (its
 * next data carries the ACK otherwise). Marks fire after their segment. */
static int conn_write(struct conn *k, int from, const uint8_t *data, uint32_t len, uint32_t seg,
                      struct mark *marks, size_t n_marks)
{
	uint32_t off = 0, limit = conn_max_payload(k, from);
	size_t m = 0;

	if (seg == 0 || seg > limit)
		seg = limit;
	while (off < len) {
		uint32_t n = len - off < seg ? len - off : seg;
		if (conn_room(k, from) < n)
			conn_ack(k, !from);
		uint32_t room = conn_room(k, from);
		if (room == 0)
			return SYNTH_EINVAL; /* the peer's window is closed */
		if (n > room)
			n = room;
		conn_send(k, from, F_ACK | (off + n == len ? F_PSH : 0), data + off, n);
		off += n;
		for (; m < n_marks && marks[m].end <= off; m++)
			out_event(k->out, &marks[m].event);
		if (k->side[!from].unacked >= k->spec->ack_every)
			conn_ack(k, !from);
	}
	return k->out->rc;
}

static void conn_init(struct conn *k, const struct synth_session_spec *sp, struct out *o,
                      uint64_t *rnd)
{
	memset(k, 0, sizeof(*k) - sizeof(k->frame));
	k->spec = sp;
	k->out = o;
	k->ws = sp->options & SYNTH_OPT_WSCALE;
	k->ts = sp->options & SYNTH_OPT_TIMESTAMPS;
	k->sack = sp->options & SYNTH_OPT_SACK_PERM;
	uint32_t isn[2] = {sp->client_isn, sp->server_isn};
	for (int i = 0; i < 2; i++) {
		struct side *s = &k->side[i];
		s->nxt = s->una = isn[i];
		s->rcv_nxt = s->last_ack_sent = isn[!i];
		s->ts_val = (uint32_t)rnd_next(rnd) >> 1;
		s->ip_id = (uint16_t)rnd_next(rnd);
		s->flow_label = (uint32_t)rnd_next(rnd) & 0xfffff;
		s->window = i == CLIENT ? sp->client_window : sp->server_window;
		s->wscale = i == CLIENT ? sp->client_wscale : sp->server_wscale;
		/* RFC 9293 3.7.1: without the option the peer assumes 536 (IPv4)
		 * or 1220 (IPv6, RFC 8200 5). */
		s->mss = (sp->options & SYNTH_OPT_MSS) ? sp->mss : (sp->family == 6 ? 1220 : 536);
	}
}

static void conn_handshake(struct conn *k)
{
	conn_send(k, CLIENT, F_SYN, NULL, 0);
	conn_send(k, SERVER, F_SYN | F_ACK, NULL, 0);
	conn_send(k, CLIENT, F_ACK, NULL, 0);
}

/* The capture starts after a handshake it does not show. */
static void conn_established(struct conn *k)
{
	for (int i = 0; i < 2; i++) {
		struct side *s = &k->side[i], *p = &k->side[!i];
		s->nxt++;
		s->una = s->nxt;
		s->last_ack_sent = s->rcv_nxt = p->nxt + (i == CLIENT ? 1 : 0);
		s->win_field = window_field(k, s, false);
		s->ts_recent = p->ts_val - 1;
	}
}

/* Postfix closes after 221: server FIN, the client's FIN, the last ACK. */
static void conn_close(struct conn *k)
{
	conn_send(k, SERVER, F_FIN | F_ACK, NULL, 0);
	conn_send(k, CLIENT, F_FIN | F_ACK, NULL, 0);
	conn_send(k, SERVER, F_ACK, NULL, 0);
}

/* ---- the SMTP dialogue ------------------------------------------------------------------ */

#define BANNER "220 mx.lab-mail.net ESMTP ready\r\n"
#define EHLO_REPLY                                                                                 \
	"250-mx.lab-mail.net\r\n250-PIPELINING\r\n250-SIZE 52428800\r\n250-STARTTLS\r\n"           \
	"250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n250 CHUNKING\r\n"
#define HELO_REPLY "250 mx.lab-mail.net\r\n"
#define MAIL_REPLY "250 2.1.0 Ok\r\n"
#define RCPT_REPLY "250 2.1.5 Ok\r\n"
#define DATA_REPLY "354 End data with <CR><LF>.<CR><LF>\r\n"
#define RSET_REPLY "250 2.0.0 Ok\r\n"
#define QUIT_REPLY "221 2.0.0 Bye\r\n"
#define TLS_GO_REPLY "220 2.0.0 Ready to start TLS\r\n"
#define TLS_NO_REPLY "454 4.7.0 TLS not available due to local problem\r\n"

struct sess {
	const struct synth_session_spec *sp;
	const struct synth_text *helo; /* the current HELO and its expected verdict */
	enum verdict_reason reason;
	uint64_t rnd;
	struct bytes w; /* the write being assembled */
	uint32_t queue_id;
	struct conn k; /* last: its frame buffer is not cleared */
};

static int sess_rc(const struct sess *x)
{
	return x->w.failed ? SYNTH_ENOMEM : x->k.out->rc;
}

static void sess_event(struct sess *x, struct mark *m, uint32_t end, const char *command,
                       enum verdict_reason reason, const struct synth_text *rcpt)
{
	const struct synth_session_spec *sp = x->sp;

	m->end = end;
	m->event = (struct synth_event){
	    .client = sp->client,
	    .server = sp->server,
	    .client_port = sp->client_port,
	    .server_port = sp->server_port,
	    .command = command,
	    .helo = x->helo->bytes,
	    .helo_len = x->helo->len,
	    .rcpt = rcpt ? rcpt->bytes : (const uint8_t *)"",
	    .rcpt_len = rcpt ? rcpt->len : 0,
	    .reason = reason,
	};
}

/* Append a command line: verb, then the argument parts, then CRLF or LF. */
static void line(struct sess *x, const char *verb, const char *pre, const struct synth_text *arg,
                 const char *post)
{
	bytes_str(&x->w, verb);
	if (pre)
		bytes_str(&x->w, pre);
	if (arg)
		bytes_put(&x->w, arg->bytes, arg->len);
	if (post)
		bytes_str(&x->w, post);
	bytes_str(&x->w, x->sp->bare_lf ? "\n" : "\r\n");
}

static int client_write(struct sess *x, uint32_t seg, struct mark *marks, size_t n_marks)
{
	if (x->w.failed)
		return SYNTH_ENOMEM;
	int rc = conn_write(&x->k, CLIENT, x->w.p, (uint32_t)x->w.len, seg, marks, n_marks);
	x->w.len = 0;
	return rc ? rc : sess_rc(x);
}

static int server_write(struct sess *x, const char *text)
{
	return conn_write(&x->k, SERVER, (const uint8_t *)text, (uint32_t)strlen(text), 0, NULL, 0);
}

static int client_line(struct sess *x, const char *verb, const char *pre,
                       const struct synth_text *arg, const char *post, uint32_t seg)
{
	line(x, verb, pre, arg, post);
	return client_write(x, seg ? seg : x->sp->seg_size, NULL, 0);
}

static int sess_greet(struct sess *x, const struct synth_text *helo, enum verdict_reason reason)
{
	const struct synth_session_spec *sp = x->sp;
	uint32_t seg = sp->helo_seg_size ? sp->helo_seg_size : sp->seg_size;

	x->helo = helo;
	x->reason = reason;
	line(x, sp->ehlo ? "EHLO" : "HELO", helo->len ? " " : NULL, helo, NULL);
	int rc = client_write(x, seg, NULL, 0);
	return rc ? rc : server_write(x, sp->ehlo ? EHLO_REPLY : HELO_REPLY);
}

/* RCPT lines into x->w, with an event mark each when the HELO is bogus. */
static size_t rcpt_lines(struct sess *x, struct mark *marks)
{
	size_t n = 0;

	for (unsigned i = 0; i < x->sp->n_rcpts; i++) {
		line(x, "RCPT TO:<", NULL, &x->sp->rcpt[i], ">");
		if (x->reason != VERDICT_OK)
			sess_event(x, &marks[n++], (uint32_t)x->w.len, "RCPT", x->reason,
			           &x->sp->rcpt[i]);
	}
	return n;
}

/* The message content (before stuffing): body_prefix, a few header lines
 * when there is room, then 76-character base64-like lines, body_size bytes
 * in all, ending with CRLF. */
static void make_body(struct sess *x, struct bytes *b)
{
	const struct synth_session_spec *sp = x->sp;
	static const char alphabet[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	uint32_t rem = sp->body_size;
	char head[160];

	if (sp->body_prefix) {
		bytes_str(b, sp->body_prefix);
		rem -= (uint32_t)strlen(sp->body_prefix);
	}
	int h = snprintf(head, sizeof(head),
	                 "Subject: synthetic message %u\r\nMessage-ID: <%016llx@lab-mail.net>\r\n"
	                 "MIME-Version: 1.0\r\n\r\n",
	                 x->queue_id, (unsigned long long)rnd_next(&x->rnd));
	if ((uint32_t)h + 2 <= rem) {
		bytes_put(b, head, (size_t)h);
		rem -= (uint32_t)h;
	}
	if (!bytes_reserve(b, rem))
		return;
	while (rem > 0) {
		uint32_t n = rem >= 78 ? 78 : rem;
		if (rem - n == 1)
			n--;
		uint8_t *p = b->p + b->len;
		uint64_t bits = 0;
		for (uint32_t i = 0; i + 2 < n; i++) {
			if (i % 10 == 0)
				bits = rnd_next(&x->rnd);
			p[i] = (uint8_t)alphabet[bits & 63];
			bits >>= 6;
		}
		p[n - 2] = '\r';
		p[n - 1] = '\n';
		b->len += n;
		rem -= n;
	}
}

/* RFC 5321 4.5.2: a line starting with '.' gets one more. */
static void dot_stuff(const struct bytes *in, struct bytes *out)
{
	size_t i = 0;

	while (i < in->len) {
		const uint8_t *nl = memchr(in->p + i, '\n', in->len - i);
		size_t end = nl ? (size_t)(nl - in->p) + 1 : in->len;
		if (in->p[i] == '.')
			bytes_put(out, ".", 1);
		bytes_put(out, in->p + i, end - i);
		i = end;
	}
}

static int sess_body(struct sess *x, struct bytes *content)
{
	const struct synth_session_spec *sp = x->sp;
	char reply[64];
	int rc;

	snprintf(reply, sizeof(reply), "250 2.0.0 Ok: queued as %08X\r\n", x->queue_id++);
	if (sp->body == SYNTH_BODY_DATA) {
		struct bytes stuffed = {0};
		dot_stuff(content, &stuffed);
		bytes_str(&stuffed, ".\r\n");
		if (stuffed.failed) {
			bytes_free(&stuffed);
			return SYNTH_ENOMEM;
		}
		rc = conn_write(&x->k, CLIENT, stuffed.p, (uint32_t)stuffed.len, sp->seg_size, NULL,
		                0);
		bytes_free(&stuffed);
		return rc ? rc : server_write(x, reply);
	}
	/* Not pipelined: one chunk per write, each answered. */
	uint32_t chunk = sp->bdat_chunk ? sp->bdat_chunk : (uint32_t)content->len;
	for (uint32_t off = 0; off < content->len; off += chunk) {
		uint32_t n =
		    (uint32_t)content->len - off < chunk ? (uint32_t)content->len - off : chunk;
		bool last = off + n == content->len;
		char cmd[48];
		snprintf(cmd, sizeof(cmd), "BDAT %u%s%s", n, last ? " LAST" : "",
		         sp->bare_lf ? "\n" : "\r\n");
		bytes_str(&x->w, cmd);
		bytes_put(&x->w, content->p + off, n);
		if ((rc = client_write(x, sp->seg_size, NULL, 0)) != 0)
			return rc;
		if (!last) {
			char r[64];
			snprintf(r, sizeof(r), "250 2.0.0 Ok: %u octets\r\n", n);
			rc = server_write(x, r);
		} else {
			rc = server_write(x, reply);
		}
		if (rc)
			return rc;
	}
	return 0;
}

/* One transaction: MAIL, RCPTs, then the body, or RSET when rset. */
static int sess_transaction(struct sess *x, bool rset)
{
	const struct synth_session_spec *sp = x->sp;
	struct mark marks[SYNTH_RCPT_MAX];
	struct bytes content = {0};
	bool body = !rset && sp->body != SYNTH_BODY_NONE;
	int rc;

	if (body) {
		make_body(x, &content);
		if (content.failed) {
			bytes_free(&content);
			return SYNTH_ENOMEM;
		}
	}
	if (sp->pipelining && !rset) {
		/* RFC 2920: the whole group in one write, the replies in one. */
		struct bytes replies = {0};
		line(x, "MAIL FROM:<", NULL, &sp->mail_from, ">");
		bytes_str(&replies, MAIL_REPLY);
		size_t n = rcpt_lines(x, marks);
		for (unsigned i = 0; i < sp->n_rcpts; i++)
			bytes_str(&replies, RCPT_REPLY);
		if (body && sp->body == SYNTH_BODY_DATA) {
			line(x, "DATA", NULL, NULL, NULL);
			bytes_str(&replies, DATA_REPLY);
		} else if (body) {
			/* RFC 3030 4.2: BDAT chunks may be pipelined, data and all. */
			uint32_t chunk = sp->bdat_chunk ? sp->bdat_chunk : (uint32_t)content.len;
			for (uint32_t off = 0; off < content.len; off += chunk) {
				uint32_t c = (uint32_t)content.len - off < chunk
				                 ? (uint32_t)content.len - off
				                 : chunk;
				bool last = off + c == content.len;
				char cmd[48], r[64];
				snprintf(cmd, sizeof(cmd), "BDAT %u%s%s", c, last ? " LAST" : "",
				         sp->bare_lf ? "\n" : "\r\n");
				bytes_str(&x->w, cmd);
				bytes_put(&x->w, content.p + off, c);
				if (last)
					snprintf(r, sizeof(r), "250 2.0.0 Ok: queued as %08X\r\n",
					         x->queue_id++);
				else
					snprintf(r, sizeof(r), "250 2.0.0 Ok: %u octets\r\n", c);
				bytes_str(&replies, r);
			}
		}
		bytes_put(&replies, "", 1);
		rc = replies.failed ? SYNTH_ENOMEM : client_write(x, sp->seg_size, marks, n);
		if (rc == 0)
			rc = server_write(x, (const char *)replies.p);
		bytes_free(&replies);
		if (rc == 0 && body && sp->body == SYNTH_BODY_DATA)
			rc = sess_body(x, &content);
		bytes_free(&content);
		return rc;
	}
	rc = client_line(x, "MAIL FROM:<", NULL, &sp->mail_from, ">", 0);
	if (rc == 0)
		rc = server_write(x, MAIL_REPLY);
	for (unsigned i = 0; i < sp->n_rcpts && rc == 0; i++) {
		line(x, "RCPT TO:<", NULL, &sp->rcpt[i], ">");
		size_t n = 0;
		if (x->reason != VERDICT_OK)
			sess_event(x, &marks[n++], (uint32_t)x->w.len, "RCPT", x->reason,
			           &sp->rcpt[i]);
		rc = client_write(x, sp->seg_size, marks, n);
		if (rc == 0)
			rc = server_write(x, RCPT_REPLY);
	}
	if (rc == 0 && rset) {
		rc = client_line(x, "RSET", NULL, NULL, NULL, 0);
		if (rc == 0)
			rc = server_write(x, RSET_REPLY);
	} else if (rc == 0 && body) {
		if (sp->body == SYNTH_BODY_DATA) {
			rc = client_line(x, "DATA", NULL, NULL, NULL, 0);
			if (rc == 0)
				rc = server_write(x, DATA_REPLY);
		}
		if (rc == 0)
			rc = sess_body(x, &content);
	}
	bytes_free(&content);
	return rc;
}

/* A TLS record header and len bytes that look encrypted. */
static void tls_record(struct sess *x, struct bytes *b, uint8_t type, uint32_t len)
{
	uint8_t h[5] = {type, 3, 3, (uint8_t)(len >> 8), (uint8_t)len};

	bytes_put(b, h, 5);
	if (!bytes_reserve(b, len))
		return;
	for (uint32_t i = 0; i < len; i++)
		b->p[b->len + i] = (uint8_t)rnd_next(&x->rnd);
	b->len += len;
}

/* After 220 to STARTTLS: a TLS 1.3-shaped exchange, opaque to helogate.
 * The first application record hides command-looking bytes in the clear,
 * which must never be parsed (RFC 3207: nothing after the 220 is SMTP). */
static int sess_tls(struct sess *x)
{
	static const char hidden[] = "\r\nEHLO localhost\r\nRCPT TO:<hidden@example.com>\r\n";
	uint32_t total = x->sp->tls_bytes;
	struct bytes b = {0};
	int rc;

	tls_record(x, &b, 0x16, 512); /* ClientHello */
	rc = conn_write(&x->k, CLIENT, b.p, (uint32_t)b.len, 0, NULL, 0);
	b.len = 0;
	tls_record(x, &b, 0x16, 122); /* ServerHello */
	tls_record(x, &b, 0x14, 1);   /* ChangeCipherSpec */
	tls_record(x, &b, 0x17, 2800);
	if (rc == 0)
		rc = conn_write(&x->k, SERVER, b.p, (uint32_t)b.len, 0, NULL, 0);
	b.len = 0;
	tls_record(x, &b, 0x14, 1);
	tls_record(x, &b, 0x17, 53); /* Finished */
	for (uint32_t done = 0; done < total;) {
		uint32_t n = total - done < 16384 ? total - done : 16384;
		size_t at = b.len;
		tls_record(x, &b, 0x17, n);
		if (done == 0 && n > sizeof(hidden) && !b.failed)
			memcpy(b.p + at + 5, hidden, sizeof(hidden) - 1);
		done += n;
	}
	if (rc == 0)
		rc = b.failed ? SYNTH_ENOMEM
		              : conn_write(&x->k, CLIENT, b.p, (uint32_t)b.len, 0, NULL, 0);
	b.len = 0;
	tls_record(x, &b, 0x17, 40 + total / 16);
	if (rc == 0)
		rc = b.failed ? SYNTH_ENOMEM
		              : conn_write(&x->k, SERVER, b.p, (uint32_t)b.len, 0, NULL, 0);
	b.len = 0;
	tls_record(x, &b, 0x15, 26); /* close_notify */
	if (rc == 0)
		rc = b.failed ? SYNTH_ENOMEM
		              : conn_write(&x->k, CLIENT, b.p, (uint32_t)b.len, 0, NULL, 0);
	bytes_free(&b);
	return rc;
}

/* The verdict at STARTTLS: judged without a recipient. */
static enum verdict_reason reason_at_starttls(const struct sess *x)
{
	if (x->reason == VERDICT_MATCHES_RCPT && !is_local_domain(x->helo))
		return VERDICT_OK;
	return x->reason;
}

static int sess_starttls(struct sess *x, bool *opaque)
{
	struct mark m;
	size_t n = 0;
	enum verdict_reason r = reason_at_starttls(x);

	line(x, "STARTTLS", NULL, NULL, NULL);
	if (r != VERDICT_OK) {
		sess_event(x, &m, (uint32_t)x->w.len, "STARTTLS", r, NULL);
		n = 1;
	}
	int rc = client_write(x, x->sp->seg_size, &m, n);
	if (rc)
		return rc;
	*opaque = x->sp->starttls == SYNTH_STARTTLS_ACCEPTED;
	if (!*opaque)
		return server_write(x, TLS_NO_REPLY);
	rc = server_write(x, TLS_GO_REPLY);
	return rc ? rc : sess_tls(x);
}

/* QUIT in the clear, or (opaque: it was inside TLS) only the close. */
static int sess_end(struct sess *x, bool opaque)
{
	int rc;

	if (x->sp->end == SYNTH_END_RST) {
		conn_send(&x->k, CLIENT, F_RST | F_ACK, NULL, 0);
		return sess_rc(x);
	}
	if (opaque) {
		conn_close(&x->k);
		return sess_rc(x);
	}
	rc = client_line(x, "QUIT", NULL, NULL, NULL, 0);
	if (rc == 0)
		rc = server_write(x, QUIT_REPLY);
	if (rc == 0)
		conn_close(&x->k);
	return rc ? rc : sess_rc(x);
}

static void sess_init(struct sess *x, const struct synth_session_spec *sp, struct out *o)
{
	memset(x, 0, offsetof(struct sess, k));
	x->sp = sp;
	x->rnd = sp->seed;
	x->helo = &sp->helo;
	x->reason = sp->reason;
	x->queue_id = (uint32_t)rnd_next(&x->rnd);
	conn_init(&x->k, sp, o, &x->rnd);
}

/* Handshake (or not) and the banner. */
static int sess_open(struct sess *x)
{
	if (x->sp->midstream)
		conn_established(&x->k);
	else
		conn_handshake(&x->k);
	return server_write(x, BANNER);
}

static int sess_run(struct sess *x)
{
	const struct synth_session_spec *sp = x->sp;
	bool opaque = false;
	int rc = sess_open(x);

	if (rc == 0)
		rc = sess_greet(x, &sp->helo, sp->reason);
	if (rc == 0 && sp->starttls != SYNTH_STARTTLS_NONE)
		rc = sess_starttls(x, &opaque);
	if (rc == 0 && !opaque && sp->rset_new_helo) {
		rc = sess_transaction(x, true);
		if (rc == 0)
			rc = sess_greet(x, &sp->helo2, sp->reason2);
	}
	for (unsigned m = 0; rc == 0 && !opaque && m < sp->messages; m++)
		rc = sess_transaction(x, false);
	if (rc == 0)
		rc = sess_end(x, opaque);
	bytes_free(&x->w);
	return rc;
}

/* ---- the public session API ------------------------------------------------------------- */

bool synth_text_set_bytes(struct synth_text *t, const void *bytes, size_t len)
{
	if (len > SYNTH_TEXT_MAX)
		return false;
	memcpy(t->bytes, bytes, len);
	t->len = (uint16_t)len;
	return true;
}

bool synth_text_set(struct synth_text *t, const char *text)
{
	return synth_text_set_bytes(t, text, strlen(text));
}

void synth_session_spec_default(struct synth_session_spec *sp)
{
	memset(sp, 0, sizeof(*sp));
	sp->family = 4;
	sp->outer_tpid = 0x88a8;
	synth_lab_server(4, &sp->server);
	synth_lab_client(4, 9, &sp->client, &sp->client_port);
	sp->client_port = 40000;
	sp->server_port = SYNTH_SMTP_PORT;
	sp->client_isn = 0x1a2b3c4d;
	sp->server_isn = 0x5e6f7081;
	sp->options = SYNTH_OPT_ALL;
	sp->client_wscale = 7;
	sp->server_wscale = 7;
	sp->mss = 1460;
	sp->client_window = 64240; /* Linux's initial receive windows */
	sp->server_window = 65160;
	sp->ack_every = 1;
	sp->ehlo = true;
	synth_text_set(&sp->helo, "mail.example.org");
	sp->reason = VERDICT_OK;
	synth_text_set(&sp->mail_from, "alice@example.net");
	sp->n_rcpts = 1;
	synth_text_set(&sp->rcpt[0], "bob@example.com");
	sp->messages = 1;
	sp->body = SYNTH_BODY_DATA;
	sp->body_size = 2000;
	sp->tls_bytes = 1024;
	sp->seed = 1;
}

static bool text_ok(const struct synth_text *t)
{
	return t->len <= SYNTH_TEXT_MAX;
}

int synth_session_spec_check(const struct synth_session_spec *sp)
{
	bool ok = (sp->family == 4 || sp->family == 6) && sp->client.family == sp->family &&
	          sp->server.family == sp->family && sp->n_vlans <= 2 &&
	          (sp->n_vlans < 2 || sp->outer_tpid == 0x88a8 || sp->outer_tpid == 0x8100) &&
	          !(sp->ipv6_hbh && sp->family != 6) && sp->mss >= 64 && sp->mss <= SYNTH_MSS_MAX &&
	          sp->client_window >= sp->mss && sp->server_window >= sp->mss &&
	          sp->client_wscale <= 14 && sp->server_wscale <= 14 &&
	          (sp->ack_every == 1 || sp->ack_every == 2) && sp->n_rcpts <= SYNTH_RCPT_MAX &&
	          sp->messages <= SYNTH_MESSAGES_MAX && sp->reason < VERDICT_COUNT &&
	          sp->reason2 < VERDICT_COUNT && text_ok(&sp->helo) && text_ok(&sp->helo2) &&
	          text_ok(&sp->mail_from) && sp->body <= SYNTH_BODY_BDAT &&
	          sp->starttls <= SYNTH_STARTTLS_REFUSED && sp->end <= SYNTH_END_RST;
	if (!ok)
		return SYNTH_EINVAL;
	/* RFC 2920, 3207 and 3030 are EHLO extensions. */
	if (!sp->ehlo && (sp->pipelining || sp->starttls || sp->body == SYNTH_BODY_BDAT))
		return SYNTH_EINVAL;
	if ((sp->messages > 0 || sp->rset_new_helo) && sp->n_rcpts == 0)
		return SYNTH_EINVAL;
	for (unsigned i = 0; i < sp->n_rcpts; i++)
		if (!text_ok(&sp->rcpt[i]))
			return SYNTH_EINVAL;
	size_t prefix = sp->body_prefix ? strlen(sp->body_prefix) : 0;
	if (prefix > 0 && (prefix < 2 || memcmp(sp->body_prefix + prefix - 2, "\r\n", 2) != 0))
		return SYNTH_EINVAL;
	if (sp->body != SYNTH_BODY_NONE && sp->body_size < prefix + 2)
		return SYNTH_EINVAL;
	return 0;
}

int synth_session(const struct synth_session_spec *spec, struct synth_sink *sink)
{
	struct out o = {.sink = sink};
	int rc = synth_session_spec_check(spec);

	if (rc)
		return rc;
	struct sess *x = malloc(sizeof(*x));
	if (x == NULL)
		return SYNTH_ENOMEM;
	sess_init(x, spec, &o);
	rc = sess_run(x);
	free(x);
	return rc;
}

/* ---- events as JSON --------------------------------------------------------------------- */

static size_t json_text(char *out, const uint8_t *s, size_t len)
{
	size_t n = 0;

	out[n++] = '"';
	for (size_t i = 0; i < len; i++) {
		uint8_t c = s[i];
		if (c == '"' || c == '\\') {
			out[n++] = '\\';
			out[n++] = (char)c;
		} else if (c < 0x20 || c > 0x7e) {
			n += (size_t)sprintf(out + n, "\\u%04x", c);
		} else {
			out[n++] = (char)c;
		}
	}
	out[n++] = '"';
	return n;
}

static size_t json_endpoint(char *out, const struct ip_addr *a, uint16_t port)
{
	char addr[IP_ADDR_TEXT_MAX];

	ip_addr_format(a, addr, sizeof(addr));
	return (size_t)sprintf(out, a->family == 6 ? "\"[%s]:%u\"" : "\"%s:%u\"", addr, port);
}

size_t synth_event_json(const struct synth_event *e, char *buf, size_t size)
{
	char tmp[SYNTH_EVENT_JSON_MAX];
	size_t n = 0;

	if (e->helo_len > SYNTH_TEXT_MAX || e->rcpt_len > SYNTH_TEXT_MAX)
		return 0;
	n += (size_t)sprintf(tmp + n, "{\"client\":");
	n += json_endpoint(tmp + n, &e->client, e->client_port);
	n += (size_t)sprintf(tmp + n, ",\"server\":");
	n += json_endpoint(tmp + n, &e->server, e->server_port);
	n += (size_t)sprintf(tmp + n, ",\"command\":\"%s\",\"helo\":", e->command);
	n += json_text(tmp + n, e->helo, e->helo_len);
	n += (size_t)sprintf(tmp + n,
	                     ",\"reason\":\"%s\",\"rcpt\":", verdict_reason_name(e->reason));
	n += json_text(tmp + n, e->rcpt, e->rcpt_len);
	n += (size_t)sprintf(tmp + n, "}\n");
	if (n + 1 > size)
		return 0;
	memcpy(buf, tmp, n + 1);
	return n;
}

/* ---- mixes ------------------------------------------------------------------------------ */

static const char *const profile_names[SYNTH_PROFILE_COUNT] = {
    "smtp-mix",
    "smtp-commands",
    "bogus-flood",
    "non-smtp",
};

const char *synth_profile_name(enum synth_profile profile)
{
	return (unsigned)profile < SYNTH_PROFILE_COUNT ? profile_names[profile] : NULL;
}

bool synth_profile_from_name(const char *name, enum synth_profile *out)
{
	for (unsigned i = 0; i < SYNTH_PROFILE_COUNT; i++)
		if (strcmp(name, profile_names[i]) == 0) {
			*out = (enum synth_profile)i;
			return true;
		}
	return false;
}

bool synth_params_bodies(struct synth_params *p, const char *preset)
{
	if (strcmp(preset, "small") == 0) {
		p->body_median = SYNTH_BODY_SMALL_MEDIAN;
		p->body_sigma = SYNTH_BODY_SMALL_SIGMA;
		p->body_min = SYNTH_BODY_SMALL_MIN;
		p->body_max = SYNTH_BODY_SMALL_MAX;
	} else if (strcmp(preset, "realistic") == 0) {
		p->body_median = SYNTH_BODY_REALISTIC_MEDIAN;
		p->body_sigma = SYNTH_BODY_REALISTIC_SIGMA;
		p->body_min = SYNTH_BODY_REALISTIC_MIN;
		p->body_max = SYNTH_BODY_REALISTIC_MAX;
	} else {
		return false;
	}
	return true;
}

void synth_params_default(struct synth_params *p)
{
	memset(p, 0, sizeof(*p));
	p->profile = SYNTH_PROFILE_SMTP_MIX;
	p->sessions = 1000;
	p->seed = 1;
	p->bogus_ratio = 0.3;
	p->concurrency = 32;
	synth_params_bodies(p, "small");
	p->ipv6_ratio = 0.1;
	p->vlan_ratio = 0.1;
	p->pipelining_ratio = 0.4;
	p->starttls_ratio = 0.1;
	p->bdat_ratio = 0.05;
}

static bool ratio_ok(double r)
{
	return r >= 0 && r <= 1;
}

static uint32_t body_size(const struct synth_params *p, uint64_t *rnd)
{
	double s = p->body_median * exp_nolibm(p->body_sigma * rnd_normal(rnd));
	uint32_t min = p->body_min < p->body_max ? p->body_min : p->body_max;

	if (s < min)
		return min;
	if (s > p->body_max)
		return p->body_max;
	return (uint32_t)s;
}

static const char *pick(uint64_t *rnd, const char *const *t, size_t n)
{
	return t[rnd_below(rnd, (uint32_t)n)];
}

/* Session index of a mix: its spec, from its own random stream. */
static void mix_spec(const struct synth_params *p, uint32_t index, struct synth_session_spec *sp)
{
	uint64_t rnd = rnd_fork(p->seed, index);
	bool mix = p->profile == SYNTH_PROFILE_SMTP_MIX;
	char text[64];
	size_t n;

	synth_session_spec_default(sp);
	sp->seed = rnd_next(&rnd);
	sp->family = mix && rnd_chance(&rnd, p->ipv6_ratio) ? 6 : 4;
	synth_lab_server(sp->family, &sp->server);
	synth_lab_client(sp->family, p->client_offset + index, &sp->client, &sp->client_port);
	sp->mss = sp->family == 6 ? 1440 : 1460;
	if (mix && rnd_chance(&rnd, p->vlan_ratio)) {
		sp->n_vlans = rnd_chance(&rnd, 0.1) ? 2 : 1;
		sp->vlan_tci[0] = (uint16_t)(100 + index % 16);
		sp->vlan_tci[1] = (uint16_t)(200 + index % 64);
	}
	sp->client_isn = (uint32_t)rnd_next(&rnd);
	sp->server_isn = (uint32_t)rnd_next(&rnd);
	/* Stacks seen on the wire: Linux (every option), Windows (no
	 * timestamps, scale 8), and old ones (MSS only). */
	uint32_t stack = rnd_below(&rnd, 100);
	if (stack >= 95) {
		sp->options = SYNTH_OPT_MSS;
	} else if (stack >= 80) {
		sp->options = SYNTH_OPT_MSS | SYNTH_OPT_WSCALE | SYNTH_OPT_SACK_PERM;
		sp->client_wscale = 8;
		sp->client_window = 65535;
	}
	sp->ack_every = rnd_chance(&rnd, 0.5) ? 2 : 1;

	if (p->profile == SYNTH_PROFILE_BOGUS_FLOOD || rnd_chance(&rnd, p->bogus_ratio))
		sp->reason = (enum verdict_reason)(
		    VERDICT_INVALID + rnd_below(&rnd, VERDICT_COUNT - VERDICT_INVALID));
	else
		sp->reason = VERDICT_OK;
	const char *const *table = synth_helo_table(sp->reason, sp->family, &n);
	const char *helo = pick(&rnd, table, n);
	synth_text_set(&sp->helo, helo);
	sp->ehlo = rnd_chance(&rnd, 0.9);

	/* Recipients: a matches-rcpt HELO names their one domain (a local
	 * domain matches them all). */
	const char *only = NULL;
	if (sp->reason == VERDICT_MATCHES_RCPT && strcmp(helo, SYNTH_LAB_LOCAL_DOMAIN) != 0)
		only = helo;
	sp->n_rcpts = (uint8_t)(1 + rnd_below(&rnd, 5));
	for (unsigned i = 0; i < sp->n_rcpts; i++) {
		snprintf(text, sizeof(text), "user%u@%s", rnd_below(&rnd, 100000),
		         only ? only : pick(&rnd, rcpt_domains, COUNT(rcpt_domains)));
		synth_text_set(&sp->rcpt[i], text);
	}
	snprintf(text, sizeof(text), "sender%u@example.net", rnd_below(&rnd, 10000));
	synth_text_set(&sp->mail_from, text);

	sp->end = rnd_chance(&rnd, 0.03) ? SYNTH_END_RST : SYNTH_END_QUIT;
	if (!mix) {
		/* Short sessions: one transaction without a body, each command
		 * in its own segment. */
		sp->body = SYNTH_BODY_NONE;
		return;
	}
	sp->body_size = body_size(p, &rnd);
	sp->messages = rnd_chance(&rnd, 0.05) ? 2 : 1;
	sp->body = sp->ehlo && rnd_chance(&rnd, p->bdat_ratio) ? SYNTH_BODY_BDAT : SYNTH_BODY_DATA;
	if (sp->body == SYNTH_BODY_BDAT && sp->body_size > 65536 && rnd_chance(&rnd, 0.5))
		sp->bdat_chunk = 65536;
	sp->pipelining = sp->ehlo && rnd_chance(&rnd, p->pipelining_ratio);
	if (sp->ehlo && rnd_chance(&rnd, p->starttls_ratio)) {
		sp->starttls = SYNTH_STARTTLS_ACCEPTED;
		sp->tls_bytes = sp->body_size;
	}
	if (rnd_chance(&rnd, 0.02) && sp->body_size >= sizeof(SYNTH_BODY_COMMANDS) + 1)
		sp->body_prefix = SYNTH_BODY_COMMANDS;
}

/* Non-SMTP flow index: UDP (DNS-like, IPv4 and IPv6), TCP to port 443
 * (IPv4 and IPv6), or an ARP request and reply. */
static int non_smtp_flow(const struct synth_params *p, uint32_t index, struct out *o)
{
	uint64_t rnd = rnd_fork(p->seed, index);
	uint8_t family = index % 5 >= 3 ? 6 : 4;
	struct synth_session_spec sp;
	uint8_t f[128];

	synth_session_spec_default(&sp);
	sp.family = family;
	synth_lab_client(family, p->client_offset + index, &sp.client, &sp.client_port);
	synth_lab_server(family, &sp.server);
	sp.server.bytes[family == 6 ? 15 : 3] = 0x53;
	sp.seed = rnd_next(&rnd);
	sp.client_isn = (uint32_t)rnd_next(&rnd);
	sp.server_isn = (uint32_t)rnd_next(&rnd);
	/* DNS: "MX example.com?" and its answer "10 mail.example.com". */
	static const uint8_t query[] = {0x01, 0x00, 0,   1,   0,   0,   0,   0,   0,
	                                0,    7,    'e', 'x', 'a', 'm', 'p', 'l', 'e',
	                                3,    'c',  'o', 'm', 0,   0,   15,  0,   1};
	static const uint8_t answer[] = {
	    0x81, 0x80, 0, 1,    0,    1,   0, 0, 0,  0, 7,   'e',  'x', 'a', 'm',  'p',
	    'l',  'e',  3, 'c',  'o',  'm', 0, 0, 15, 0, 1,   0xc0, 12,  0,   15,   0,
	    1,    0,    0, 0x0e, 0x10, 0,   9, 0, 10, 4, 'm', 'a',  'i', 'l', 0xc0, 12};
	uint16_t dns_id = (uint16_t)rnd_next(&rnd);

	switch (index % 5) {
	case 0:
	case 3: {
		/* A query and its answer. */
		for (int dir = 0; dir < 2; dir++) {
			const struct ip_addr *src = dir ? &sp.server : &sp.client;
			const struct ip_addr *dst = dir ? &sp.client : &sp.server;
			const uint8_t *msg = dir ? answer : query;
			uint32_t pay = 2 + (uint32_t)(dir ? sizeof(answer) : sizeof(query));
			uint32_t l3 = 14, ulen = 8 + pay;
			uint32_t len = l3 + (family == 6 ? 40 : 20) + ulen;
			memset(f, 0, sizeof(f));
			memcpy(f, dir ? mac_client : mac_server, 6);
			memcpy(f + 6, dir ? mac_server : mac_client, 6);
			put16(f + 12, family == 6 ? 0x86dd : 0x0800);
			uint8_t *ip = f + l3, *udp;
			uint32_t sum = 0;
			if (family == 6) {
				put32(ip, 0x60000000u);
				put16(ip + 4, ulen);
				ip[6] = 17;
				ip[7] = 64;
				memcpy(ip + 8, src->bytes, 16);
				memcpy(ip + 24, dst->bytes, 16);
				udp = ip + 40;
				sum = cksum_add(sum, ip + 8, 32);
			} else {
				ip[0] = 0x45;
				put16(ip + 2, 20 + ulen);
				put16(ip + 4, (uint16_t)index);
				ip[8] = 64;
				ip[9] = 17;
				memcpy(ip + 12, src->bytes, 4);
				memcpy(ip + 16, dst->bytes, 4);
				uint16_t c = cksum_ipv4_header(ip, 20);
				memcpy(ip + 10, &c, 2);
				udp = ip + 20;
				sum = cksum_add(sum, ip + 12, 8);
			}
			put16(udp, dir ? 53 : sp.client_port);
			put16(udp + 2, dir ? sp.client_port : 53);
			put16(udp + 4, ulen);
			put16(udp + 8, dns_id);
			memcpy(udp + 10, msg, pay - 2);
			uint8_t pseudo[4] = {0, 17, (uint8_t)(ulen >> 8), (uint8_t)ulen};
			sum = cksum_add(sum, pseudo, 4);
			uint16_t c = cksum_finish(cksum_add(sum, udp, ulen));
			if (c == 0)
				c = 0xffff; /* RFC 768: zero means no checksum */
			memcpy(udp + 6, &c, 2);
			out_frame(o, f, len < 60 ? 60 : len);
		}
		return o->rc;
	}
	case 1:
	case 4: {
		/* An HTTPS-like connection: handshake, records, close. */
		struct sess x;
		sp.server_port = 443;
		sp.mss = family == 6 ? 1440 : 1460;
		sess_init(&x, &sp, o);
		conn_handshake(&x.k);
		struct bytes b = {0};
		tls_record(&x, &b, 0x16, 512);
		int rc = conn_write(&x.k, CLIENT, b.p, (uint32_t)b.len, 0, NULL, 0);
		b.len = 0;
		tls_record(&x, &b, 0x16, 3000);
		if (rc == 0)
			rc = conn_write(&x.k, SERVER, b.p, (uint32_t)b.len, 0, NULL, 0);
		if (b.failed)
			rc = SYNTH_ENOMEM;
		bytes_free(&b);
		if (rc == 0)
			conn_close(&x.k);
		return rc ? rc : o->rc;
	}
	default: {
		/* "Who has 198.18.1.25?" and its answer. */
		for (int dir = 0; dir < 2; dir++) {
			memset(f, 0, 60);
			memcpy(f, dir ? mac_client : (const uint8_t *)"\xff\xff\xff\xff\xff\xff",
			       6);
			memcpy(f + 6, dir ? mac_server : mac_client, 6);
			put16(f + 12, 0x0806);
			static const uint8_t arp[8] = {0, 1, 8, 0, 6, 4, 0, 0};
			memcpy(f + 14, arp, 8);
			f[21] = dir ? 2 : 1;
			synth_lab_server(4, &sp.server);
			synth_lab_client(4, p->client_offset + index, &sp.client, &sp.client_port);
			memcpy(f + 22, dir ? mac_server : mac_client, 6);
			memcpy(f + 28, dir ? sp.server.bytes : sp.client.bytes, 4);
			if (dir)
				memcpy(f + 32, mac_client, 6);
			memcpy(f + 38, dir ? sp.client.bytes : sp.server.bytes, 4);
			out_frame(o, f, 60);
		}
		return o->rc;
	}
	}
}

struct slot {
	struct bytes rec;
	size_t pos;
};

static int mix_build(const struct synth_params *p, uint32_t index, struct slot *s,
                     struct synth_mix_stats *st)
{
	struct out o = {.rec = &s->rec};
	struct {
		struct synth_session_spec sp;
		struct sess x;
	} * m;
	int rc;

	s->rec.len = 0;
	s->pos = 0;
	if (p->profile == SYNTH_PROFILE_NON_SMTP) {
		st->sessions++;
		return non_smtp_flow(p, index, &o);
	}
	if ((m = malloc(sizeof(*m))) == NULL)
		return SYNTH_ENOMEM;
	struct synth_session_spec *sp = &m->sp;
	mix_spec(p, index, sp);
	rc = synth_session_spec_check(sp);
	if (rc == 0) {
		sess_init(&m->x, sp, &o);
		rc = sess_run(&m->x);
	}
	st->sessions++;
	st->by_reason[sp->reason]++;
	st->ipv6 += sp->family == 6;
	st->vlan += sp->n_vlans > 0;
	st->pipelining += sp->pipelining;
	st->starttls += sp->starttls != SYNTH_STARTTLS_NONE;
	st->bdat += sp->body == SYNTH_BODY_BDAT;
	st->body_bytes += sp->body == SYNTH_BODY_NONE ? 0 : (uint64_t)sp->body_size * sp->messages;
	free(m);
	return rc;
}

int synth_params_check(const struct synth_params *p)
{
	if ((unsigned)p->profile >= SYNTH_PROFILE_COUNT || p->concurrency == 0 ||
	    !ratio_ok(p->bogus_ratio) || !ratio_ok(p->ipv6_ratio) || !ratio_ok(p->vlan_ratio) ||
	    !ratio_ok(p->pipelining_ratio) || !ratio_ok(p->starttls_ratio) ||
	    !ratio_ok(p->bdat_ratio) || p->body_min < 2 || p->body_max < 2 || p->body_median == 0 ||
	    !(p->body_sigma >= 0 && p->body_sigma <= 4))
		return SYNTH_EINVAL;
	return 0;
}

int synth_mix(const struct synth_params *p, struct synth_sink *sink, struct synth_mix_stats *stats)
{
	struct synth_mix_stats st = {0};
	uint64_t frames0 = sink->frames, bytes0 = sink->bytes, events0 = sink->events;

	if (synth_params_check(p) != 0)
		return SYNTH_EINVAL;
	uint32_t k = p->concurrency < p->sessions ? p->concurrency : p->sessions;
	struct slot *slots = calloc(k ? k : 1, sizeof(*slots));
	uint32_t *live = calloc(k ? k : 1, sizeof(*live));
	uint64_t rnd = rnd_fork(p->seed, UINT64_MAX);
	uint32_t started = 0, n_live = 0;
	int rc = 0;

	if (slots == NULL || live == NULL)
		rc = SYNTH_ENOMEM;
	for (uint32_t i = 0; i < k && rc == 0; i++) {
		rc = mix_build(p, started++, &slots[i], &st);
		live[n_live++] = i;
	}
	/* Each frame comes from one of the sessions in progress, chosen at
	 * random; a session that ends gives its place to the next one. */
	while (rc == 0 && n_live > 0) {
		uint32_t r = rnd_below(&rnd, n_live);
		struct slot *s = &slots[live[r]];
		rc = rec_replay_frame(&s->rec, &s->pos, sink);
		if (rc == 0 && s->pos >= s->rec.len) {
			if (started < p->sessions)
				rc = mix_build(p, started++, s, &st);
			else
				live[r] = live[--n_live];
		}
	}
	for (uint32_t i = 0; slots && i < k; i++)
		bytes_free(&slots[i].rec);
	free(slots);
	free(live);
	st.frames = sink->frames - frames0;
	st.bytes = sink->bytes - bytes0;
	st.events = sink->events - events0;
	if (stats)
		*stats = st;
	return rc;
}

/* Only a convenience: the events' sink and emit's may differ. */
struct split_sink {
	synth_emit_fn *emit;
	void *emit_arg;
	synth_event_fn *on_event;
	void *event_arg;
};

static int split_emit(void *arg, const uint8_t *frame, uint32_t len, uint64_t ts_ns)
{
	const struct split_sink *s = arg;

	return s->emit(s->emit_arg, frame, len, ts_ns);
}

static void split_event(void *arg, const struct synth_event *e)
{
	const struct split_sink *s = arg;

	if (s->on_event)
		s->on_event(s->event_arg, e);
}

int synth_generate(const struct synth_params *p, synth_emit_fn *emit, void *emit_arg,
                   synth_event_fn *on_event, void *event_arg)
{
	struct split_sink split = {emit, emit_arg, on_event, event_arg};
	struct synth_sink sink = {.emit = split_emit,
	                          .event = split_event,
	                          .arg = &split,
	                          .ts_ns = SYNTH_CAPTURE_START_NS};

	return synth_mix(p, &sink, NULL);
}

/* ---- scenarios -------------------------------------------------------------------------- */

struct scen {
	uint64_t rnd;
	struct synth_sink *sink;
	uint32_t client; /* next lab client index */
};

/* A default session of the scenario with its own client, ports, ISNs and seed. */
static void scen_spec(struct scen *s, struct synth_session_spec *sp, uint8_t family,
                      const char *helo, enum verdict_reason reason)
{
	synth_session_spec_default(sp);
	sp->family = family;
	synth_lab_server(family, &sp->server);
	synth_lab_client(family, 10 + s->client++, &sp->client, &sp->client_port);
	sp->client_port = (uint16_t)(1024 + rnd_below(&s->rnd, 64512));
	sp->client_isn = (uint32_t)rnd_next(&s->rnd);
	sp->server_isn = (uint32_t)rnd_next(&s->rnd);
	sp->seed = rnd_next(&s->rnd);
	if (family == 6)
		sp->mss = 1440;
	synth_text_set(&sp->helo, helo);
	sp->reason = reason;
	sp->n_rcpts = 2;
	synth_text_set(&sp->rcpt[1], "carol@example.com");
}

static int scen_pipelining(struct scen *s)
{
	struct synth_session_spec sp;
	int rc;

	scen_spec(s, &sp, 4, "localhost", VERDICT_LOCALHOST);
	sp.pipelining = true;
	sp.n_rcpts = 3;
	synth_text_set(&sp.rcpt[2], "dave@example.com");
	sp.ack_every = 2;
	if ((rc = synth_session(&sp, s->sink)) != 0)
		return rc;
	scen_spec(s, &sp, 4, "mail.example.org", VERDICT_OK);
	sp.pipelining = true;
	sp.messages = 2;
	if ((rc = synth_session(&sp, s->sink)) != 0)
		return rc;
	/* MAIL, RCPTs and every BDAT chunk with its data, in one write. */
	scen_spec(s, &sp, 4, "[192.168.1.1]", VERDICT_IP_LITERAL);
	sp.pipelining = true;
	sp.body = SYNTH_BODY_BDAT;
	sp.body_size = 5000;
	sp.bdat_chunk = 2000;
	return synth_session(&sp, s->sink);
}

static int scen_body_with_commands(struct scen *s)
{
	struct synth_session_spec sp;
	int rc;

	scen_spec(s, &sp, 4, "mail.example.org", VERDICT_OK);
	sp.body_prefix = SYNTH_BODY_COMMANDS;
	sp.body_size = 5000;
	if ((rc = synth_session(&sp, s->sink)) != 0)
		return rc;
	/* Bogus: the events are the real RCPTs of both transactions, never
	 * the body's; the second transaction shows the tracker found the end. */
	scen_spec(s, &sp, 4, "www", VERDICT_NOT_FQDN);
	sp.body_prefix = SYNTH_BODY_COMMANDS;
	sp.body_size = 5000;
	sp.messages = 2;
	sp.seg_size = 7; /* body lines and the final dot cut across segments */
	if ((rc = synth_session(&sp, s->sink)) != 0)
		return rc;
	scen_spec(s, &sp, 4, "fakedomain.xyz", VERDICT_BANNED);
	sp.body_prefix = SYNTH_BODY_COMMANDS;
	sp.body_size = 300;
	sp.pipelining = true;
	return synth_session(&sp, s->sink);
}

static int scen_bdat(struct scen *s)
{
	struct synth_session_spec sp;
	int rc;

	scen_spec(s, &sp, 4, "mail.example.org", VERDICT_OK);
	sp.body = SYNTH_BODY_BDAT;
	sp.body_prefix = SYNTH_BODY_COMMANDS;
	sp.body_size = 6000;
	sp.bdat_chunk = 2500;
	if ((rc = synth_session(&sp, s->sink)) != 0)
		return rc;
	/* A chunk holding "\r\n.\r\n" and command lines, then a second
	 * transaction whose RCPTs are judged. */
	scen_spec(s, &sp, 4, "fakedomain.xyz", VERDICT_BANNED);
	sp.body = SYNTH_BODY_BDAT;
	sp.body_prefix = SYNTH_BODY_COMMANDS;
	sp.body_size = 6000;
	sp.bdat_chunk = 100;
	sp.messages = 2;
	return synth_session(&sp, s->sink);
}

static int scen_starttls(struct scen *s)
{
	struct synth_session_spec sp;
	int rc;

	/* Bogus, accepted: one STARTTLS event, then opaque. */
	scen_spec(s, &sp, 4, "rad.internal", VERDICT_NOT_FQDN);
	sp.starttls = SYNTH_STARTTLS_ACCEPTED;
	sp.tls_bytes = 3000;
	if ((rc = synth_session(&sp, s->sink)) != 0)
		return rc;
	/* Good, accepted: nothing. */
	scen_spec(s, &sp, 4, "mail.example.org", VERDICT_OK);
	sp.starttls = SYNTH_STARTTLS_ACCEPTED;
	if ((rc = synth_session(&sp, s->sink)) != 0)
		return rc;
	/* matches-rcpt needs a recipient: at STARTTLS example.com is ok. */
	scen_spec(s, &sp, 4, "example.com", VERDICT_MATCHES_RCPT);
	sp.starttls = SYNTH_STARTTLS_ACCEPTED;
	if ((rc = synth_session(&sp, s->sink)) != 0)
		return rc;
	/* The local domain matches without one. */
	scen_spec(s, &sp, 4, "lab-mail.net", VERDICT_MATCHES_RCPT);
	sp.starttls = SYNTH_STARTTLS_ACCEPTED;
	if ((rc = synth_session(&sp, s->sink)) != 0)
		return rc;
	/* Refused (454): the session goes on in the clear and is judged. */
	scen_spec(s, &sp, 4, "localhost", VERDICT_LOCALHOST);
	sp.starttls = SYNTH_STARTTLS_REFUSED;
	return synth_session(&sp, s->sink);
}

static int scen_rset_new_helo(struct scen *s)
{
	struct synth_session_spec sp;
	int rc;

	scen_spec(s, &sp, 4, "localhost", VERDICT_LOCALHOST);
	sp.rset_new_helo = true;
	synth_text_set(&sp.helo2, "mail.example.org");
	sp.reason2 = VERDICT_OK;
	if ((rc = synth_session(&sp, s->sink)) != 0)
		return rc;
	scen_spec(s, &sp, 4, "mail.example.org", VERDICT_OK);
	sp.rset_new_helo = true;
	synth_text_set(&sp.helo2, "[127.0.0.1]");
	sp.reason2 = VERDICT_IP_LITERAL;
	return synth_session(&sp, s->sink);
}

static int scen_ipv6(struct scen *s, bool hbh)
{
	struct synth_session_spec sp;
	int rc;

	scen_spec(s, &sp, 6, "[IPv6:2001:2:0:1::25]", VERDICT_SERVER_IP);
	sp.ipv6_hbh = hbh;
	if ((rc = synth_session(&sp, s->sink)) != 0)
		return rc;
	/* The server's IPv4 address is not this flow's server: ip-literal. */
	scen_spec(s, &sp, 6, "[198.18.1.25]", VERDICT_IP_LITERAL);
	sp.ipv6_hbh = hbh;
	sp.pipelining = true;
	if ((rc = synth_session(&sp, s->sink)) != 0)
		return rc;
	scen_spec(s, &sp, 6, "mail.example.org", VERDICT_OK);
	sp.ipv6_hbh = hbh;
	sp.body_size = 20000;
	return synth_session(&sp, s->sink);
}

static int scen_vlan(struct scen *s, unsigned tags)
{
	struct synth_session_spec sp;
	int rc;

	scen_spec(s, &sp, 4, "[192.168.1.1]", VERDICT_IP_LITERAL);
	sp.n_vlans = (uint8_t)tags;
	sp.vlan_tci[0] = 0x2064; /* priority 1, VID 100 */
	sp.vlan_tci[1] = 25;
	if ((rc = synth_session(&sp, s->sink)) != 0)
		return rc;
	scen_spec(s, &sp, 6, "[IPv6:2001:2:0:1::25]", VERDICT_SERVER_IP);
	sp.n_vlans = (uint8_t)tags;
	sp.vlan_tci[0] = 100;
	sp.vlan_tci[1] = 26;
	if ((rc = synth_session(&sp, s->sink)) != 0)
		return rc;
	/* Two 0x8100 tags: the pre-802.1ad stacking still seen in the field. */
	scen_spec(s, &sp, 4, "mail.example.org", VERDICT_OK);
	sp.n_vlans = (uint8_t)tags;
	sp.outer_tpid = 0x8100;
	sp.vlan_tci[0] = 101;
	sp.vlan_tci[1] = 27;
	return synth_session(&sp, s->sink);
}

static int scen_helo_bytewise(struct scen *s)
{
	struct synth_session_spec sp;
	int rc;

	scen_spec(s, &sp, 4, "mon-serveur", VERDICT_NOT_FQDN);
	sp.helo_seg_size = 1;
	if ((rc = synth_session(&sp, s->sink)) != 0)
		return rc;
	/* Every client byte in its own segment, acknowledged every other one. */
	scen_spec(s, &sp, 4, "localhost.localdomain", VERDICT_LOCALHOST);
	sp.seg_size = 1;
	sp.ack_every = 2;
	sp.body_size = 200;
	return synth_session(&sp, s->sink);
}

static int scen_seq_wrap(struct scen *s)
{
	struct synth_session_spec sp;
	int rc;

	/* The first data byte is 2^32 - 4: "EHLO" ends at 2^32 - 1 and the
	 * name starts after the wrap. The server's wrap falls inside its EHLO
	 * reply, 20 bytes in. */
	scen_spec(s, &sp, 4, "localhost", VERDICT_LOCALHOST);
	sp.client_isn = 0xfffffffbu;
	sp.server_isn = (uint32_t)(0u - 1u - (uint32_t)strlen(BANNER) - 20u);
	if ((rc = synth_session(&sp, s->sink)) != 0)
		return rc;
	/* One byte per segment across the wrap. */
	scen_spec(s, &sp, 4, "mail.example.org", VERDICT_OK);
	sp.client_isn = 0xfffffffbu;
	sp.helo_seg_size = 1;
	if ((rc = synth_session(&sp, s->sink)) != 0)
		return rc;
	scen_spec(s, &sp, 6, "www", VERDICT_NOT_FQDN);
	sp.client_isn = 0xffffffffu; /* the SYN takes the last number: data starts at 0 */
	sp.server_isn = 0xffffffffu;
	return synth_session(&sp, s->sink);
}

static int scen_nul_8bit(struct scen *s)
{
	static const uint8_t helo[] = "bad\0name\xe9.example.com";
	static const uint8_t rcpt_nul[] = "nu\0l@example.com";
	struct synth_session_spec sp;

	scen_spec(s, &sp, 4, "", VERDICT_INVALID);
	synth_text_set_bytes(&sp.helo, helo, sizeof(helo) - 1);
	sp.n_rcpts = 3;
	synth_text_set(&sp.rcpt[0], "j\xc3\xb6rg@example.com"); /* UTF-8 (RFC 6531) */
	synth_text_set(&sp.rcpt[1], "b\xe9"
	                            "b@example.org"); /* Latin-1 */
	synth_text_set_bytes(&sp.rcpt[2], rcpt_nul, sizeof(rcpt_nul) - 1);
	int rc = synth_session(&sp, s->sink);
	if (rc)
		return rc;
	/* A NUL and a DEL before a good name: still invalid. */
	static const uint8_t helo2[] = "mail.example.org\0\x7f";
	scen_spec(s, &sp, 6, "", VERDICT_INVALID);
	synth_text_set_bytes(&sp.helo, helo2, sizeof(helo2) - 1);
	sp.n_rcpts = 1;
	return synth_session(&sp, s->sink);
}

static int scen_bare_lf(struct scen *s)
{
	struct synth_session_spec sp;
	int rc;

	scen_spec(s, &sp, 4, "localhost", VERDICT_LOCALHOST);
	sp.bare_lf = true;
	sp.body = SYNTH_BODY_NONE;
	if ((rc = synth_session(&sp, s->sink)) != 0)
		return rc;
	/* Bare LF commands, then DATA whose body keeps CRLF. */
	scen_spec(s, &sp, 4, "pc.lan", VERDICT_NOT_FQDN);
	sp.bare_lf = true;
	sp.pipelining = true;
	return synth_session(&sp, s->sink);
}

/* Open a session by hand: handshake, banner, HELO and its reply. */
static int scen_open(struct sess *x, struct synth_session_spec *sp, struct out *o)
{
	sess_init(x, sp, o);
	int rc = sess_open(x);
	return rc ? rc : sess_greet(x, &sp->helo, sp->reason);
}

/* The rest of a session opened by hand: its transaction and QUIT. */
static int scen_finish(struct sess *x)
{
	int rc = sess_transaction(x, false);

	if (rc == 0)
		rc = sess_end(x, false);
	bytes_free(&x->w);
	return rc;
}

static int scen_long_line(struct scen *s)
{
	struct synth_session_spec sp;
	struct out o = {.sink = s->sink};
	struct sess x;

	/* A 100 KB line: the server (Postfix) keeps its first line_length_limit
	 * bytes as the command and skips the rest to the LF, and so does
	 * helogate, which stays in sync and judges the RCPTs that follow. */
	scen_spec(s, &sp, 4, "localhost", VERDICT_LOCALHOST);
	int rc = scen_open(&x, &sp, &o);
	if (rc)
		return rc;
	for (uint32_t i = 0; i < 100 * 1024; i++)
		bytes_put(&x.w, &"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"[i % 36], 1);
	if ((rc = client_write(&x, 0, NULL, 0)) != 0)
		return rc;
	if ((rc = client_line(&x, "", NULL, NULL, NULL, 0)) != 0) /* its end */
		return rc;
	if ((rc = server_write(&x, "500 5.5.2 Error: line too long\r\n")) != 0)
		return rc;
	return scen_finish(&x);
}

static int scen_syn_flood(struct scen *s)
{
	struct synth_session_spec a, b, f;
	struct out o = {.sink = s->sink};
	struct sess x;

	/* Session A opens before the flood and finishes after it. With
	 * --flows 1024 (one worker) A holds one entry and 1023 of the 2000
	 * SYNs the rest: 977 SYNs, then session B, find the table full and
	 * each evicts the oldest SYN-only flow (A, established, stays). */
	scen_spec(s, &a, 4, "localhost", VERDICT_LOCALHOST);
	int rc = scen_open(&x, &a, &o);
	if (rc)
		return rc;
	for (uint32_t i = 0; i < 2000 && rc == 0; i++) {
		struct sess y;
		synth_session_spec_default(&f);
		synth_lab_client(4, 20000 + i, &f.client, &f.client_port);
		f.client_isn = (uint32_t)rnd_next(&s->rnd);
		f.seed = rnd_next(&s->rnd);
		sess_init(&y, &f, &o);
		conn_send(&y.k, CLIENT, F_SYN, NULL, 0);
		rc = o.rc;
	}
	/* B: bogus; its SYN finds the table full of embryonic flows and
	 * evicts the oldest: tracked and judged like any session. */
	scen_spec(s, &b, 4, "www", VERDICT_NOT_FQDN);
	if (rc == 0)
		rc = synth_session(&b, s->sink);
	return rc ? rc : scen_finish(&x);
}

static int scen_third_party_rst(struct scen *s)
{
	struct synth_session_spec sp;
	struct out o = {.sink = s->sink};
	struct sess x;

	scen_spec(s, &sp, 4, "localhost", VERDICT_LOCALHOST);
	int rc = scen_open(&x, &sp, &o);
	if (rc)
		return rc;
	struct side *c = &x.k.side[CLIENT], *sv = &x.k.side[SERVER];
	/* To the server, 2^30 beyond its window: helogate and the server drop
	 * it (RFC 5961 3.2), so the server never reacts. */
	uint32_t n = conn_build_raw(&x.k, CLIENT, F_RST, c->nxt + 0x40000000u, 0, NULL, 0, false);
	out_frame(&o, x.k.frame, n);
	/* To the client, inside its window but not at RCV.NXT: forwarded; the
	 * client answers with a challenge ACK and the session goes on. */
	n = conn_build_raw(&x.k, SERVER, F_RST, sv->nxt + 1000, 0, NULL, 0, false);
	out_frame(&o, x.k.frame, n);
	conn_send(&x.k, CLIENT, F_ACK, NULL, 0);
	return o.rc ? o.rc : scen_finish(&x);
}

static int scen_conflicting_retransmit(struct scen *s)
{
	static const struct {
		const char *helo, *other;
		enum verdict_reason reason;
	} cases[] = {
	    /* The first copy is what the server receives; the different
	     * copy is dropped and the flow tainted (never taken over). */
	    {"localhost", "mx.ex.com", VERDICT_LOCALHOST},
	    /* A third party racing a bogus copy into a good session gets
	     * nothing judged: the server took the first. */
	    {"mail.example.org", "localhost.xy.com", VERDICT_OK},
	};
	int rc = 0;

	for (size_t i = 0; i < COUNT(cases) && rc == 0; i++) {
		struct synth_session_spec sp;
		struct out o = {.sink = s->sink};
		struct sess x;
		scen_spec(s, &sp, 4, cases[i].helo, cases[i].reason);
		sp.ack_every = 2; /* the retransmission precedes the server's ACK */
		sess_init(&x, &sp, &o);
		if ((rc = sess_open(&x)) != 0)
			break;
		x.helo = &sp.helo;
		x.reason = sp.reason;
		uint32_t seq = x.k.side[CLIENT].nxt;
		char other[64];
		int len = snprintf(other, sizeof(other), "EHLO %s\r\n", cases[i].other);
		line(&x, "EHLO", " ", &sp.helo, NULL);
		if ((rc = client_write(&x, 0, NULL, 0)) != 0)
			break;
		uint32_t n = conn_build_raw(&x.k, CLIENT, F_ACK | F_PSH, seq,
		                            x.k.side[CLIENT].rcv_nxt, other, (uint32_t)len, true);
		out_frame(&o, x.k.frame, n);
		rc = server_write(&x, EHLO_REPLY);
		if (rc == 0)
			rc = scen_finish(&x);
	}
	return rc;
}

/* A client data segment `text` at the next sequence number, malformed by
 * fault after building (IPv4 header checksum and TCP checksum kept right,
 * so the one fault is the one named). */
enum fault { FAULT_TOTAL_LENGTH, FAULT_DATA_OFFSET, FAULT_TRUNCATE };

static void emit_faulty(struct sess *x, struct out *o, const char *text, enum fault fault)
{
	struct conn *k = &x->k;
	/* A damaged duplicate of the next packet: the same IPv4 ID and TSval. */
	uint16_t ip_id = k->side[CLIENT].ip_id;
	uint32_t ts_val = k->side[CLIENT].ts_val;
	uint32_t n = conn_build_raw(k, CLIENT, F_ACK | F_PSH, k->side[CLIENT].nxt,
	                            k->side[CLIENT].rcv_nxt, text, (uint32_t)strlen(text), true);
	uint8_t *ip = k->frame + 14, *tcp = ip + 20;
	uint32_t tcp_len = ((uint32_t)ip[2] << 8 | ip[3]) - 20;

	switch (fault) {
	case FAULT_TOTAL_LENGTH:
		put16(ip + 2, ((uint32_t)ip[2] << 8 | ip[3]) + 100);
		break;
	case FAULT_DATA_OFFSET:
		tcp[12] = 0xf0; /* 60 header bytes in a shorter segment */
		break;
	case FAULT_TRUNCATE:
		n = 14 + 10; /* the frame ends inside the IPv4 header */
		break;
	}
	if (fault != FAULT_TRUNCATE) {
		memset(ip + 10, 0, 2);
		uint16_t c = cksum_ipv4_header(ip, 20);
		memcpy(ip + 10, &c, 2);
		memset(tcp + 16, 0, 2);
		c = cksum_tcp_ipv4(ip + 12, ip + 16, tcp, tcp_len);
		memcpy(tcp + 16, &c, 2);
	}
	out_frame(o, k->frame, n);
	k->side[CLIENT].ip_id = ip_id;
	k->side[CLIENT].ts_val = ts_val;
}

static int scen_faulty(struct scen *s, enum fault fault)
{
	struct synth_session_spec sp;
	struct out o = {.sink = s->sink};
	struct sess x;

	/* The faulty copy carries a RCPT helogate must never judge; the real
	 * transaction follows at the same sequence numbers. */
	scen_spec(s, &sp, 4, "localhost", VERDICT_LOCALHOST);
	int rc = scen_open(&x, &sp, &o);
	if (rc)
		return rc;
	emit_faulty(&x, &o,
	            fault == FAULT_DATA_OFFSET ? "RCPT TO:<e@example.com>\r\n"
	                                       : "RCPT TO:<evil@example.com>\r\n",
	            fault);
	return o.rc ? o.rc : scen_finish(&x);
}

static int scen_beyond_window(struct scen *s)
{
	struct synth_session_spec sp;
	struct out o = {.sink = s->sink};
	struct sess x;

	scen_spec(s, &sp, 4, "localhost", VERDICT_LOCALHOST);
	int rc = scen_open(&x, &sp, &o);
	if (rc)
		return rc;
	/* Starts 1000 bytes past the server's window edge: dropped by
	 * helogate (and the server), so the server never answers it. */
	static const char text[] = "RCPT TO:<evil@example.com>\r\n";
	struct conn *k = &x.k;
	uint32_t seq = k->side[CLIENT].nxt + conn_room(k, CLIENT) + 1000;
	uint32_t n = conn_build_raw(k, CLIENT, F_ACK | F_PSH, seq, k->side[CLIENT].rcv_nxt, text,
	                            sizeof(text) - 1, true);
	out_frame(&o, k->frame, n);
	return o.rc ? o.rc : scen_finish(&x);
}

static int scen_zero_window_probe(struct scen *s)
{
	struct synth_session_spec sp;
	struct out o = {.sink = s->sink};
	struct sess x;

	scen_spec(s, &sp, 4, "localhost", VERDICT_LOCALHOST);
	sp.n_rcpts = 1;
	sp.body = SYNTH_BODY_NONE;
	int rc = scen_open(&x, &sp, &o);
	if (rc)
		return rc;
	struct conn *k = &x.k;
	struct side *sv = &k->side[SERVER];
	rc = client_line(&x, "MAIL FROM:<", NULL, &sp.mail_from, ">", 0);
	/* The server's application stops reading: its reply closes the window. */
	uint32_t open = sv->window;
	sv->window = 0;
	if (rc == 0)
		rc = server_write(&x, MAIL_REPLY);
	conn_ack(k, CLIENT);
	/* Two one-byte probes (RFC 9293 3.8.6.1); the server keeps the
	 * window closed and acknowledges neither byte. */
	line(&x, "RCPT TO:<", NULL, &sp.rcpt[0], ">");
	for (int i = 0; i < 2 && rc == 0; i++) {
		uint32_t n = conn_build_raw(k, CLIENT, F_ACK, k->side[CLIENT].nxt,
		                            k->side[CLIENT].rcv_nxt, x.w.p, 1, true);
		out_frame(&o, k->frame, n);
		conn_send(k, SERVER, F_ACK, NULL, 0);
	}
	/* The window opens (a window update); the client sends the line. */
	sv->window = open;
	conn_send(k, SERVER, F_ACK, NULL, 0);
	struct mark m;
	sess_event(&x, &m, (uint32_t)x.w.len, "RCPT", VERDICT_LOCALHOST, &sp.rcpt[0]);
	if (rc == 0)
		rc = client_write(&x, 0, &m, 1);
	if (rc == 0)
		rc = server_write(&x, RCPT_REPLY);
	if (rc == 0)
		rc = sess_end(&x, false);
	bytes_free(&x.w);
	return rc ? rc : o.rc;
}

static int scen_midstream(struct scen *s)
{
	struct synth_session_spec sp;

	/* The capture starts after the handshake: helogate never tracks the
	 * session, so its bogus HELO gives no event. */
	scen_spec(s, &sp, 4, "localhost", VERDICT_OK);
	sp.midstream = true;
	sp.n_rcpts = 3;
	synth_text_set(&sp.rcpt[2], "dave@example.com");
	sp.body_size = 6000;
	return synth_session(&sp, s->sink);
}

static int scen_truncated_ipv4(struct scen *s)
{
	return scen_faulty(s, FAULT_TRUNCATE);
}

static int scen_total_length(struct scen *s)
{
	return scen_faulty(s, FAULT_TOTAL_LENGTH);
}

static int scen_data_offset(struct scen *s)
{
	return scen_faulty(s, FAULT_DATA_OFFSET);
}

static int scen_ipv6_plain(struct scen *s)
{
	return scen_ipv6(s, false);
}

static int scen_ipv6_hbh(struct scen *s)
{
	return scen_ipv6(s, true);
}

static int scen_vlan1(struct scen *s)
{
	return scen_vlan(s, 1);
}

static int scen_qinq(struct scen *s)
{
	return scen_vlan(s, 2);
}

static const struct {
	const char *name;
	int (*run)(struct scen *s);
} scenarios[] = {
    {"pipelining", scen_pipelining},
    {"body-with-commands", scen_body_with_commands},
    {"bdat", scen_bdat},
    {"starttls", scen_starttls},
    {"rset-new-helo", scen_rset_new_helo},
    {"ipv6", scen_ipv6_plain},
    {"vlan", scen_vlan1},
    {"qinq", scen_qinq},
    {"ipv6-hbh", scen_ipv6_hbh},
    {"helo-one-byte-per-segment", scen_helo_bytewise},
    {"seq-wrap", scen_seq_wrap},
    {"nul-8bit", scen_nul_8bit},
    {"bare-lf", scen_bare_lf},
    {"long-line", scen_long_line},
    {"syn-flood", scen_syn_flood},
    {"third-party-rst", scen_third_party_rst},
    {"conflicting-retransmit", scen_conflicting_retransmit},
    {"beyond-window", scen_beyond_window},
    {"zero-window-probe", scen_zero_window_probe},
    {"truncated-ipv4", scen_truncated_ipv4},
    {"ipv4-total-length-too-big", scen_total_length},
    {"tcp-offset-past-end", scen_data_offset},
    {"midstream", scen_midstream},
};

size_t synth_scenario_count(void)
{
	return COUNT(scenarios);
}

const char *synth_scenario_name(size_t i)
{
	return i < COUNT(scenarios) ? scenarios[i].name : NULL;
}

bool synth_scenario_exists(const char *name)
{
	for (size_t i = 0; i < COUNT(scenarios); i++)
		if (strcmp(scenarios[i].name, name) == 0)
			return true;
	return false;
}

int synth_scenario(const char *name, uint64_t seed, struct synth_sink *sink)
{
	for (size_t i = 0; i < COUNT(scenarios); i++) {
		if (strcmp(scenarios[i].name, name) != 0)
			continue;
		struct scen s = {.rnd = rnd_fork(seed, i), .sink = sink};
		return scenarios[i].run(&s);
	}
	return SYNTH_EINVAL;
}
