/* synth: frames parse, checksums (recomputed here, independently of
 * lib/cksum), TCP sequence/ACK/window/timestamp accounting per direction,
 * the reassembled dialogue, expected events, mixes and scenarios. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "wire/addr.h"
#include "judge/banlist.h"
#include "wire/pkt.h"
#include "judge/suffix.h"
#include "synth/synth.h"
#include "judge/verdict.h"

#define BANLIST HG_TEST_DATA_DIR "/../../data/banlist.txt"

/* ---- a capture in memory ---------------------------------------------------------------- */

struct frame {
	uint8_t *data;
	uint32_t len;
	uint64_t ts;
};

struct ev {
	struct synth_event e; /* helo and rcpt point into the copies below */
	uint8_t helo[SYNTH_TEXT_MAX], rcpt[SYNTH_TEXT_MAX];
};

struct capture {
	struct frame *frames;
	size_t n, cap;
	struct ev *events;
	size_t n_events, cap_events;
	size_t stop_at; /* emit returns 7 at this frame index when non-zero */
};

static int cap_emit(void *arg, const uint8_t *frame, uint32_t len, uint64_t ts)
{
	struct capture *c = arg;

	if (c->stop_at && c->n == c->stop_at)
		return 7;
	if (c->n == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 256;
		c->frames = realloc(c->frames, c->cap * sizeof(*c->frames));
		assert_non_null(c->frames);
	}
	struct frame *f = &c->frames[c->n++];
	f->data = malloc(len);
	assert_non_null(f->data);
	memcpy(f->data, frame, len);
	f->len = len;
	f->ts = ts;
	return 0;
}

static void cap_event(void *arg, const struct synth_event *e)
{
	struct capture *c = arg;

	if (c->n_events == c->cap_events) {
		c->cap_events = c->cap_events ? c->cap_events * 2 : 16;
		c->events = realloc(c->events, c->cap_events * sizeof(*c->events));
		assert_non_null(c->events);
	}
	struct ev *v = &c->events[c->n_events++];
	v->e = *e;
	memcpy(v->helo, e->helo, e->helo_len);
	memcpy(v->rcpt, e->rcpt, e->rcpt_len);
}

static void cap_fix_pointers(struct capture *c)
{
	for (size_t i = 0; i < c->n_events; i++) {
		c->events[i].e.helo = c->events[i].helo;
		c->events[i].e.rcpt = c->events[i].rcpt;
	}
}

static void cap_free(struct capture *c)
{
	for (size_t i = 0; i < c->n; i++)
		free(c->frames[i].data);
	free(c->frames);
	free(c->events);
	memset(c, 0, sizeof(*c));
}

static struct synth_sink cap_sink(struct capture *c)
{
	return (struct synth_sink){.emit = cap_emit, .event = cap_event, .arg = c, .ts_ns = 1000};
}

static void run_session(const struct synth_session_spec *sp, struct capture *c)
{
	struct synth_sink sink = cap_sink(c);

	assert_int_equal(synth_session(sp, &sink), 0);
	cap_fix_pointers(c);
	assert_int_equal(sink.frames, c->n);
	assert_int_equal(sink.events, c->n_events);
}

/* ---- independent checks ----------------------------------------------------------------- */

static uint32_t get16(const uint8_t *p)
{
	return (uint32_t)p[0] << 8 | p[1];
}

/* RFC 1071, big-endian words; a region holding its own checksum sums to 0xffff. */
static uint32_t sum16(uint32_t sum, const uint8_t *p, size_t len)
{
	for (size_t i = 0; i + 1 < len; i += 2)
		sum += get16(p + i);
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	return sum;
}

static uint16_t fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

static bool tcp_checksum_valid(const uint8_t *frame, const struct pkt_info *pi)
{
	uint32_t tcp_len = pi->ip_end - pi->l4_offset, sum = 0;
	uint8_t pseudo[40];

	if (pi->ip_version == 4) {
		memcpy(pseudo, pi->src.bytes, 4);
		memcpy(pseudo + 4, pi->dst.bytes, 4);
		pseudo[8] = 0;
		pseudo[9] = 6;
		pseudo[10] = (uint8_t)(tcp_len >> 8);
		pseudo[11] = (uint8_t)tcp_len;
		sum = sum16(0, pseudo, 12);
	} else {
		memcpy(pseudo, pi->src.bytes, 16);
		memcpy(pseudo + 16, pi->dst.bytes, 16);
		memset(pseudo + 32, 0, 8);
		pseudo[34] = (uint8_t)(tcp_len >> 8);
		pseudo[35] = (uint8_t)tcp_len;
		pseudo[39] = 6;
		sum = sum16(0, pseudo, 40);
	}
	return fold(sum16(sum, frame + pi->l4_offset, tcp_len)) == 0xffff;
}

/* One direction of a flow as the test sees it. */
struct dir {
	bool started;
	uint32_t next;      /* next sequence number this side must use */
	uint32_t acked;     /* the last ACK this side received */
	uint16_t win_field; /* the last window field this side sent */
	uint8_t wscale;
	bool syn_ws;
	uint32_t last_tsval, last_tsecr;
	bool have_ts;
	uint16_t ip_id;
	bool have_id;
	uint8_t *stream; /* its payload, in order */
	size_t stream_len, stream_cap;
	unsigned data_segments, pure_acks;
};

struct flow {
	struct ip_addr client, server;
	uint16_t client_port, server_port;
	struct dir d[2]; /* 0: client to server */
	bool ts;         /* both SYNs carried timestamps */
	bool ws;
	bool midstream;
	bool closed;
};

struct flows {
	struct flow *v;
	size_t n;
	unsigned anomalies; /* the first is reported with print_error unless quiet */
	bool quiet;
};

static struct flow *flow_find(struct flows *fs, const struct pkt_info *pi, int *dir)
{
	bool to_server = pi->dst_port == SYNTH_SMTP_PORT || pi->dst_port == 443;
	const struct ip_addr *c = to_server ? &pi->src : &pi->dst;
	uint16_t cport = to_server ? pi->src_port : pi->dst_port;

	*dir = to_server ? 0 : 1;
	for (size_t i = 0; i < fs->n; i++)
		if (ip_addr_equal(&fs->v[i].client, c) && fs->v[i].client_port == cport)
			return &fs->v[i];
	fs->v = realloc(fs->v, (fs->n + 1) * sizeof(*fs->v));
	assert_non_null(fs->v);
	struct flow *f = &fs->v[fs->n++];
	memset(f, 0, sizeof(*f));
	f->client = *c;
	f->client_port = cport;
	f->server = to_server ? pi->dst : pi->src;
	f->server_port = to_server ? pi->dst_port : pi->src_port;
	return f;
}

static void anomaly(struct flows *fs, size_t frame, const char *what)
{
	if (fs->anomalies++ == 0 && !fs->quiet)
		print_error("frame %zu: %s\n", frame, what);
}

static void dir_append(struct dir *d, const uint8_t *p, uint32_t len)
{
	if (len == 0)
		return;
	if (d->stream_len + len > d->stream_cap) {
		d->stream_cap = (d->stream_len + len) * 2;
		d->stream = realloc(d->stream, d->stream_cap);
		assert_non_null(d->stream);
	}
	memcpy(d->stream + d->stream_len, p, len);
	d->stream_len += len;
}

/* Check one TCP frame against its flow. */
static void flow_check(struct flows *fs, size_t index, const uint8_t *frame, uint32_t len,
                       const struct pkt_info *pi)
{
	int di;
	struct flow *f = flow_find(fs, pi, &di);
	struct dir *d = &f->d[di], *peer = &f->d[!di];
	uint8_t flags = pi->tcp_flags;

	if (len < 60)
		anomaly(fs, index, "frame shorter than 60 bytes");
	for (uint32_t i = pi->ip_end; i < len; i++)
		if (frame[i] != 0)
			anomaly(fs, index, "non-zero padding");
	if (!tcp_checksum_valid(frame, pi))
		anomaly(fs, index, "TCP checksum");
	if (pi->ttl != 64)
		anomaly(fs, index, "TTL/hop limit not 64");
	if (pi->ip_version == 4) {
		const uint8_t *ip = frame + pi->l3_offset;
		if (fold(sum16(0, ip, pi->l4_offset - pi->l3_offset)) != 0xffff)
			anomaly(fs, index, "IPv4 header checksum");
		if ((ip[6] & 0x40) == 0)
			anomaly(fs, index, "DF not set");
		uint16_t id = (uint16_t)get16(ip + 4);
		if (d->have_id && id != (uint16_t)(d->ip_id + 1))
			anomaly(fs, index, "IPv4 ID not increasing by one");
		d->ip_id = id;
		d->have_id = true;
	}
	if (flags & TCP_FLAG_SYN) {
		d->started = true;
		d->next = pi->seq;
		d->syn_ws = pi->opts.present & TCP_OPT_WSCALE;
		d->wscale = pi->opts.wscale;
		if (di == 1) {
			f->ts = (pi->opts.present & TCP_OPT_TIMESTAMP) && f->d[0].have_ts;
			f->ws = d->syn_ws && f->d[0].syn_ws;
		}
	} else if (!d->started) {
		/* midstream: the first segment of each direction sets its count,
		 * the first of the flow tells whether timestamps are in use; the
		 * window scale is unknown */
		d->started = true;
		d->next = pi->seq;
		if (!peer->started) {
			f->midstream = true;
			f->ts = pi->opts.present & TCP_OPT_TIMESTAMP;
		}
	}
	bool has_ts = pi->opts.present & TCP_OPT_TIMESTAMP;
	if (has_ts && d->have_ts && (int32_t)(pi->opts.tsval - d->last_tsval) <= 0)
		anomaly(fs, index, "TSval not increasing");
	if (pi->seq != d->next) {
		/* out of the sequence: reported, and kept out of the model */
		anomaly(fs, index, "sequence number is not the end of the previous segment");
		return;
	}
	if ((flags & TCP_FLAG_ACK) && peer->started && pi->ack != peer->next)
		anomaly(fs, index, "ACK is not everything the peer sent");
	if (pi->payload_len > 0 && peer->win_field && !(flags & TCP_FLAG_SYN) && !f->midstream) {
		uint64_t window = (uint64_t)peer->win_field << (f->ws ? peer->wscale : 0);
		if ((uint32_t)(pi->seq + pi->payload_len - d->acked) > window)
			anomaly(fs, index, "data beyond the peer's window");
	}
	if (flags & TCP_FLAG_SYN) {
		if (has_ts && di == 1 && pi->opts.tsecr != f->d[0].last_tsval)
			anomaly(fs, index, "SYN-ACK TSecr is not the SYN's TSval");
	} else if (f->ts && !(flags & TCP_FLAG_RST)) {
		if (!has_ts)
			anomaly(fs, index, "timestamps negotiated but missing");
		else if (peer->have_ts && ((int32_t)(pi->opts.tsecr - peer->last_tsval) > 0 ||
		                           (int32_t)(pi->opts.tsecr - d->last_tsecr) < 0))
			anomaly(fs, index, "TSecr is not a TSval the peer sent, or went back");
	} else if (has_ts && !f->ts) {
		anomaly(fs, index, "timestamps without negotiation");
	}
	if (has_ts) {
		d->have_ts = true;
		d->last_tsval = pi->opts.tsval;
		if (!(flags & TCP_FLAG_SYN))
			d->last_tsecr = pi->opts.tsecr;
	}
	if (flags & TCP_FLAG_ACK)
		peer->acked = pi->ack;
	if (flags & (TCP_FLAG_ACK | TCP_FLAG_SYN))
		d->win_field = pi->window;
	dir_append(d, frame + pi->payload_offset, pi->payload_len);
	if (pi->payload_len)
		d->data_segments++;
	else if (flags == TCP_FLAG_ACK)
		d->pure_acks++;
	d->next = pi->seq + pi->payload_len + ((flags & (TCP_FLAG_SYN | TCP_FLAG_FIN)) ? 1 : 0);
	if (flags & TCP_FLAG_FIN)
		f->closed = true;
}

/* Parse and check every frame; returns how many frames were not PKT_TCP. */
static size_t check_capture_quiet(const struct capture *c, struct flows *fs, bool quiet)
{
	size_t not_tcp = 0;

	memset(fs, 0, sizeof(*fs));
	fs->quiet = quiet;
	for (size_t i = 0; i < c->n; i++) {
		struct pkt_info pi;
		if (i > 0 && c->frames[i].ts <= c->frames[i - 1].ts)
			anomaly(fs, i, "timestamps not increasing");
		if (pkt_parse(c->frames[i].data, c->frames[i].len, &pi) != PKT_TCP) {
			not_tcp++;
			continue;
		}
		flow_check(fs, i, c->frames[i].data, c->frames[i].len, &pi);
	}
	return not_tcp;
}

static size_t check_capture(const struct capture *c, struct flows *fs)
{
	return check_capture_quiet(c, fs, false);
}

static void flows_free(struct flows *fs)
{
	for (size_t i = 0; i < fs->n; i++) {
		free(fs->v[i].d[0].stream);
		free(fs->v[i].d[1].stream);
	}
	free(fs->v);
}

/* Check a one-session capture; returns its one flow (fs to free). */
static struct flow *check_one(const struct capture *c, struct flows *fs)
{
	assert_int_equal(check_capture(c, fs), 0);
	assert_int_equal(fs->anomalies, 0);
	assert_int_equal(fs->n, 1);
	return &fs->v[0];
}

static void assert_stream(const struct dir *d, const char *expected)
{
	size_t n = strlen(expected);

	if (d->stream_len != n || memcmp(d->stream, expected, n) != 0)
		fail_msg("stream differs:\n got [%.*s]\nwant [%s]", (int)d->stream_len,
		         (const char *)d->stream, expected);
}

static bool contains(const uint8_t *hay, size_t n, const char *needle)
{
	return memmem(hay, n, needle, strlen(needle)) != NULL;
}

/* ---- sessions: frames and TCP ----------------------------------------------------------- */

static void test_default_session_is_valid_tcp_both_ways(void **state)
{
	struct synth_session_spec sp;
	struct capture c = {0};
	struct flows fs;
	(void)state;

	synth_session_spec_default(&sp);
	run_session(&sp, &c);
	struct flow *f = check_one(&c, &fs);
	assert_true(f->ts && f->ws);
	assert_int_equal(f->d[0].wscale, 7);
	/* handshake first, the last ACK of the FIN exchange last */
	struct pkt_info pi;
	assert_int_equal(pkt_parse(c.frames[0].data, c.frames[0].len, &pi), PKT_TCP);
	assert_int_equal(pi.tcp_flags, TCP_FLAG_SYN);
	assert_int_equal(pi.seq, sp.client_isn);
	assert_int_equal(pi.opts.mss, 1460);
	assert_true(pi.opts.present & TCP_OPT_SACK_PERM);
	assert_int_equal(pkt_parse(c.frames[1].data, c.frames[1].len, &pi), PKT_TCP);
	assert_int_equal(pi.tcp_flags, TCP_FLAG_SYN | TCP_FLAG_ACK);
	assert_int_equal(pi.ack, sp.client_isn + 1);
	assert_int_equal(pkt_parse(c.frames[c.n - 1].data, c.frames[c.n - 1].len, &pi), PKT_TCP);
	assert_int_equal(pi.tcp_flags, TCP_FLAG_ACK);
	assert_int_equal(pi.src_port, 25);
	assert_true(f->closed);
	flows_free(&fs);
	cap_free(&c);
}

/* The checks above can fail: damage a copy of a good capture. */
static void test_checker_catches_damaged_frames(void **state)
{
	struct synth_session_spec sp;
	struct capture c = {0};
	struct flows fs;
	struct pkt_info pi;
	(void)state;

	synth_session_spec_default(&sp);
	run_session(&sp, &c);
	uint8_t *f = c.frames[5].data;
	assert_int_equal(pkt_parse(f, c.frames[5].len, &pi), PKT_TCP);
	assert_true(pi.payload_len > 0);
	f[pi.payload_offset] ^= 0x20; /* TCP checksum */
	check_capture_quiet(&c, &fs, true);
	assert_int_equal(fs.anomalies, 1);
	flows_free(&fs);
	f[pi.payload_offset] ^= 0x20;
	f[pi.l3_offset + 8] = 63; /* TTL, and so the IPv4 header checksum */
	check_capture_quiet(&c, &fs, true);
	assert_int_equal(fs.anomalies, 2);
	flows_free(&fs);
	f[pi.l3_offset + 8] = 64;
	check_capture(&c, &fs);
	assert_int_equal(fs.anomalies, 0);
	flows_free(&fs);
	/* a frame left out: the next one's sequence number or ACK is off */
	free(c.frames[5].data);
	memmove(&c.frames[5], &c.frames[6], (c.n - 6) * sizeof(c.frames[0]));
	c.n--;
	check_capture_quiet(&c, &fs, true);
	assert_true(fs.anomalies >= 1);
	flows_free(&fs);
	cap_free(&c);
}

static void test_dialogue_without_body_is_the_expected_text(void **state)
{
	struct synth_session_spec sp;
	struct capture c = {0};
	struct flows fs;
	(void)state;

	synth_session_spec_default(&sp);
	sp.body = SYNTH_BODY_NONE;
	sp.n_rcpts = 2;
	synth_text_set(&sp.rcpt[1], "carol@example.org");
	run_session(&sp, &c);
	struct flow *f = check_one(&c, &fs);
	assert_stream(&f->d[0],
	              "EHLO mail.example.org\r\nMAIL FROM:<alice@example.net>\r\n"
	              "RCPT TO:<bob@example.com>\r\nRCPT TO:<carol@example.org>\r\nQUIT\r\n");
	assert_stream(&f->d[1], "220 mx.lab-mail.net ESMTP ready\r\n"
	                        "250-mx.lab-mail.net\r\n250-PIPELINING\r\n250-SIZE 52428800\r\n"
	                        "250-STARTTLS\r\n250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n"
	                        "250 CHUNKING\r\n250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.1.5 Ok\r\n"
	                        "221 2.0.0 Bye\r\n");
	assert_int_equal(c.n_events, 0);
	flows_free(&fs);
	cap_free(&c);
}

static void test_helo_verb_bare_lf_and_rst_end(void **state)
{
	struct synth_session_spec sp;
	struct capture c = {0};
	struct flows fs;
	(void)state;

	synth_session_spec_default(&sp);
	sp.ehlo = false;
	sp.bare_lf = true;
	sp.body = SYNTH_BODY_NONE;
	sp.end = SYNTH_END_RST;
	run_session(&sp, &c);
	struct flow *f = check_one(&c, &fs);
	assert_stream(&f->d[0], "HELO mail.example.org\nMAIL FROM:<alice@example.net>\n"
	                        "RCPT TO:<bob@example.com>\n");
	struct pkt_info pi;
	assert_int_equal(pkt_parse(c.frames[c.n - 1].data, c.frames[c.n - 1].len, &pi), PKT_TCP);
	assert_int_equal(pi.tcp_flags, TCP_FLAG_RST | TCP_FLAG_ACK);
	assert_false(f->closed);
	flows_free(&fs);
	cap_free(&c);
}

static void test_data_body_is_stuffed_sized_and_terminated(void **state)
{
	struct synth_session_spec sp;
	struct capture c = {0};
	struct flows fs;
	(void)state;

	synth_session_spec_default(&sp);
	sp.body_prefix = SYNTH_BODY_COMMANDS;
	sp.body_size = 10000;
	run_session(&sp, &c);
	struct flow *f = check_one(&c, &fs);
	const char *head = "EHLO mail.example.org\r\nMAIL FROM:<alice@example.net>\r\n"
	                   "RCPT TO:<bob@example.com>\r\nDATA\r\n";
	const char *tail = ".\r\nQUIT\r\n";
	const uint8_t *s = f->d[0].stream;
	size_t n = f->d[0].stream_len;
	assert_memory_equal(s, head, strlen(head));
	assert_memory_equal(s + n - strlen(tail), tail, strlen(tail));
	const uint8_t *body = s + strlen(head);
	size_t body_len = n - strlen(head) - strlen(tail);
	/* the prefix's two '.' lines got one more dot each */
	assert_int_equal(body_len, 10000 + 2);
	assert_memory_equal(body, "RCPT TO:<x@y.example>\r\nHELO localhost\r\n..foo\r\n", 44);
	assert_true(contains(body, body_len, "\r\n..\r\n"));
	assert_memory_equal(body + body_len - 2, "\r\n", 2);
	/* every line is CRLF-ended and no line is a lone "." */
	for (size_t i = 0; i < body_len; i++) {
		if (body[i] == '\n')
			assert_int_equal(body[i - 1], '\r');
		if (body[i] == '\r')
			assert_int_equal(body[i + 1], '\n');
	}
	assert_false(contains(body, body_len, "\r\n.\r\n"));
	flows_free(&fs);
	cap_free(&c);
}

static void test_bdat_chunks_add_up_and_are_not_stuffed(void **state)
{
	struct synth_session_spec sp;
	struct capture c = {0};
	struct flows fs;
	(void)state;

	synth_session_spec_default(&sp);
	sp.body = SYNTH_BODY_BDAT;
	sp.body_prefix = SYNTH_BODY_COMMANDS;
	sp.body_size = 2500;
	sp.bdat_chunk = 1000;
	run_session(&sp, &c);
	struct flow *f = check_one(&c, &fs);
	const uint8_t *s = f->d[0].stream;
	size_t n = f->d[0].stream_len;
	const uint8_t *p = memmem(s, n, "BDAT 1000\r\n", 11);
	assert_non_null(p);
	assert_memory_equal(p + 11, SYNTH_BODY_COMMANDS, strlen(SYNTH_BODY_COMMANDS));
	assert_non_null(memmem(p + 11 + 1000, 11, "BDAT 1000\r\n", 11));
	assert_non_null(memmem(p + 22 + 2000, 16, "BDAT 500 LAST\r\n", 15));
	assert_memory_equal(s + n - 6, "QUIT\r\n", 6);
	assert_int_equal(n - (size_t)(p - s), 11 + 1000 + 11 + 1000 + 15 + 500 + 6);
	assert_true(contains(f->d[1].stream, f->d[1].stream_len, "250 2.0.0 Ok: 1000 octets\r\n"));
	flows_free(&fs);
	cap_free(&c);
}

static void test_pipelining_sends_the_group_in_one_segment(void **state)
{
	struct synth_session_spec sp;
	struct capture c = {0};
	struct flows fs;
	(void)state;

	synth_session_spec_default(&sp);
	sp.pipelining = true;
	sp.n_rcpts = 3;
	synth_text_set(&sp.rcpt[1], "carol@example.com");
	synth_text_set(&sp.rcpt[2], "dave@example.com");
	run_session(&sp, &c);
	check_one(&c, &fs);
	const char *group = "MAIL FROM:<alice@example.net>\r\nRCPT TO:<bob@example.com>\r\n"
	                    "RCPT TO:<carol@example.com>\r\nRCPT TO:<dave@example.com>\r\nDATA\r\n";
	const char *replies = "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.1.5 Ok\r\n250 2.1.5 Ok\r\n"
	                      "354 End data with <CR><LF>.<CR><LF>\r\n";
	bool saw_group = false, saw_replies = false;
	for (size_t i = 0; i < c.n; i++) {
		struct pkt_info pi;
		assert_int_equal(pkt_parse(c.frames[i].data, c.frames[i].len, &pi), PKT_TCP);
		const uint8_t *pay = c.frames[i].data + pi.payload_offset;
		if (pi.payload_len == strlen(group) && memcmp(pay, group, pi.payload_len) == 0)
			saw_group = true;
		if (pi.payload_len == strlen(replies) && memcmp(pay, replies, pi.payload_len) == 0)
			saw_replies = saw_group;
	}
	assert_true(saw_group);
	assert_true(saw_replies);
	flows_free(&fs);
	cap_free(&c);
}

static void test_segments_respect_seg_size_and_helo_seg_size(void **state)
{
	struct synth_session_spec sp;
	struct capture c = {0};
	struct flows fs;
	(void)state;

	synth_session_spec_default(&sp);
	sp.helo_seg_size = 1;
	sp.seg_size = 100;
	sp.body_size = 3000;
	run_session(&sp, &c);
	struct flow *f = check_one(&c, &fs);
	/* "EHLO mail.example.org\r\n" is 23 one-byte segments */
	unsigned ones = 0, max = 0;
	for (size_t i = 0; i < c.n; i++) {
		struct pkt_info pi;
		pkt_parse(c.frames[i].data, c.frames[i].len, &pi);
		if (pi.dst_port != 25)
			continue;
		ones += pi.payload_len == 1;
		if (pi.payload_len > max)
			max = pi.payload_len;
	}
	assert_int_equal(ones, 23);
	assert_int_equal(max, 100);
	assert_memory_equal(f->d[0].stream, "EHLO mail.example.org\r\nMAIL", 27);
	flows_free(&fs);
	cap_free(&c);
}

static void test_large_writes_use_mss_less_timestamps_and_ack_every_other(void **state)
{
	struct synth_session_spec sp;
	struct capture c = {0};
	struct flows fs;
	(void)state;

	synth_session_spec_default(&sp);
	sp.ack_every = 2;
	sp.body_size = 100000;
	run_session(&sp, &c);
	struct flow *f = check_one(&c, &fs);
	unsigned full = 0;
	for (size_t i = 0; i < c.n; i++) {
		struct pkt_info pi;
		pkt_parse(c.frames[i].data, c.frames[i].len, &pi);
		assert_true(pi.payload_len <= 1448);
		full += pi.payload_len == 1448;
	}
	assert_true(full >= 69);
	/* every other body segment is acknowledged on its own */
	assert_true(f->d[1].pure_acks >= full / 2 - 2 && f->d[1].pure_acks <= full / 2 + 4);
	flows_free(&fs);
	cap_free(&c);
}

static void test_small_window_is_never_overrun(void **state)
{
	struct synth_session_spec sp;
	struct capture c = {0};
	struct flows fs;
	(void)state;

	synth_session_spec_default(&sp);
	sp.options = SYNTH_OPT_MSS | SYNTH_OPT_TIMESTAMPS; /* no scaling */
	sp.mss = 1000;
	sp.server_window = 2500;
	sp.ack_every = 2;
	sp.body_size = 20000;
	run_session(&sp, &c);
	struct flow *f = check_one(&c, &fs); /* includes the window check */
	assert_false(f->ws);
	flows_free(&fs);
	cap_free(&c);
}

static void test_without_options_short_frames_are_padded_with_zeros(void **state)
{
	struct synth_session_spec sp;
	struct capture c = {0};
	struct flows fs;
	(void)state;

	synth_session_spec_default(&sp);
	sp.options = 0;
	run_session(&sp, &c);
	struct flow *f = check_one(&c, &fs); /* includes the zero-padding check */
	assert_false(f->ts);
	size_t padded = 0;
	for (size_t i = 0; i < c.n; i++) {
		struct pkt_info pi;
		pkt_parse(c.frames[i].data, c.frames[i].len, &pi);
		assert_int_equal(pi.opts.present, 0);
		if (pi.payload_len == 0) {
			assert_int_equal(c.frames[i].len, 60);
			assert_int_equal(pi.ip_end, 54);
			padded++;
		}
		/* without the MSS option the peer's default (536) applies */
		assert_true(pi.payload_len <= 536);
	}
	assert_true(padded > 5);
	flows_free(&fs);
	cap_free(&c);
}

static void test_sequence_numbers_wrap_inside_the_ehlo_line(void **state)
{
	struct synth_session_spec sp;
	struct capture c = {0};
	struct flows fs;
	(void)state;

	synth_session_spec_default(&sp);
	synth_text_set(&sp.helo, "localhost");
	sp.reason = VERDICT_LOCALHOST;
	sp.client_isn = 0xfffffffbu;
	sp.server_isn = 0xfffffff0u;
	sp.helo_seg_size = 1;
	run_session(&sp, &c);
	struct flow *f = check_one(&c, &fs);
	assert_memory_equal(f->d[0].stream, "EHLO localhost\r\n", 16);
	/* the byte after "EHLO" has sequence number 0 */
	bool saw = false;
	for (size_t i = 0; i < c.n; i++) {
		struct pkt_info pi;
		pkt_parse(c.frames[i].data, c.frames[i].len, &pi);
		if (pi.dst_port == 25 && pi.payload_len == 1 && pi.seq == 0) {
			assert_int_equal(c.frames[i].data[pi.payload_offset], ' ');
			saw = true;
		}
	}
	assert_true(saw);
	assert_int_equal(c.n_events, 1);
	flows_free(&fs);
	cap_free(&c);
}

static void test_vlan_tags_qinq_and_ipv6_hop_by_hop(void **state)
{
	struct synth_session_spec sp;
	struct capture c = {0};
	struct flows fs;
	struct pkt_info pi;
	(void)state;

	synth_session_spec_default(&sp);
	sp.family = 6;
	synth_lab_server(6, &sp.server);
	synth_lab_client(6, 5, &sp.client, &sp.client_port);
	sp.mss = 1440;
	sp.ipv6_hbh = true;
	sp.n_vlans = 2;
	sp.vlan_tci[0] = 100;
	sp.vlan_tci[1] = 0x2019;
	run_session(&sp, &c);
	check_one(&c, &fs);
	for (size_t i = 0; i < c.n; i++) {
		const uint8_t *f = c.frames[i].data;
		assert_int_equal(get16(f + 12), 0x88a8);
		assert_int_equal(get16(f + 14), 100);
		assert_int_equal(get16(f + 16), 0x8100);
		assert_int_equal(get16(f + 18), 0x2019);
		assert_int_equal(get16(f + 20), 0x86dd);
		assert_int_equal(f[22 + 6], 0); /* next header: hop-by-hop */
		assert_int_equal(pkt_parse(f, c.frames[i].len, &pi), PKT_TCP);
		assert_int_equal(pi.vlan_count, 2);
		assert_int_equal(pi.l4_offset, 22 + 40 + 8);
	}
	flows_free(&fs);
	cap_free(&c);
}

static void test_midstream_session_starts_at_the_banner(void **state)
{
	struct synth_session_spec sp;
	struct capture c = {0};
	struct flows fs;
	struct pkt_info pi;
	(void)state;

	synth_session_spec_default(&sp);
	sp.midstream = true;
	run_session(&sp, &c);
	check_one(&c, &fs);
	assert_int_equal(pkt_parse(c.frames[0].data, c.frames[0].len, &pi), PKT_TCP);
	assert_int_equal(pi.src_port, 25);
	assert_int_equal(pi.seq, sp.server_isn + 1);
	assert_int_equal(pi.ack, sp.client_isn + 1);
	for (size_t i = 0; i < c.n; i++) {
		pkt_parse(c.frames[i].data, c.frames[i].len, &pi);
		assert_false(pi.tcp_flags & TCP_FLAG_SYN);
	}
	flows_free(&fs);
	cap_free(&c);
}

static void test_emit_error_stops_generation(void **state)
{
	struct synth_session_spec sp;
	struct capture c = {.stop_at = 5};
	struct synth_sink sink = cap_sink(&c);
	(void)state;

	synth_session_spec_default(&sp);
	assert_int_equal(synth_session(&sp, &sink), 7);
	assert_int_equal(c.n, 5);
	cap_free(&c);
}

static void test_spec_check_refuses_inconsistent_specs(void **state)
{
	struct synth_session_spec sp;
	struct synth_sink sink = {0};
	(void)state;

#define REFUSED(change)                                                                            \
	do {                                                                                       \
		synth_session_spec_default(&sp);                                                   \
		change;                                                                            \
		assert_int_equal(synth_session_spec_check(&sp), SYNTH_EINVAL);                     \
		assert_int_equal(synth_session(&sp, &sink), SYNTH_EINVAL);                         \
	} while (0)
	synth_session_spec_default(&sp);
	assert_int_equal(synth_session_spec_check(&sp), 0);
	REFUSED(sp.family = 5);
	REFUSED(sp.family = 6);      /* addresses still IPv4 */
	REFUSED(sp.ipv6_hbh = true); /* on IPv4 */
	REFUSED(sp.n_vlans = 3);
	REFUSED((sp.n_vlans = 2, sp.outer_tpid = 0x0800));
	REFUSED(sp.mss = 0);
	REFUSED(sp.server_window = 100);
	REFUSED(sp.ack_every = 3);
	REFUSED(sp.client_wscale = 15);
	REFUSED((sp.ehlo = false, sp.pipelining = true));
	REFUSED((sp.ehlo = false, sp.starttls = SYNTH_STARTTLS_ACCEPTED));
	REFUSED((sp.ehlo = false, sp.body = SYNTH_BODY_BDAT));
	REFUSED(sp.n_rcpts = 0);
	REFUSED(sp.n_rcpts = SYNTH_RCPT_MAX + 1);
	REFUSED(sp.messages = SYNTH_MESSAGES_MAX + 1);
	REFUSED((sp.body_prefix = SYNTH_BODY_COMMANDS, sp.body_size = 10));
	REFUSED(sp.body_prefix = "no line end");
	REFUSED(sp.body_size = 1);
#undef REFUSED
	assert_false(
	    synth_text_set(&sp.helo, (char[SYNTH_TEXT_MAX + 2]){[0 ... SYNTH_TEXT_MAX] = 'a'}));
}

/* ---- expected events -------------------------------------------------------------------- */

static void assert_event(const struct capture *c, size_t i, const struct synth_session_spec *sp,
                         const char *command, const char *helo, enum verdict_reason reason,
                         const char *rcpt)
{
	const struct synth_event *e = &c->events[i].e;

	assert_true(ip_addr_equal(&e->client, &sp->client));
	assert_true(ip_addr_equal(&e->server, &sp->server));
	assert_int_equal(e->client_port, sp->client_port);
	assert_int_equal(e->server_port, sp->server_port);
	assert_string_equal(e->command, command);
	assert_int_equal(e->helo_len, strlen(helo));
	assert_memory_equal(e->helo, helo, e->helo_len);
	assert_int_equal(e->reason, reason);
	assert_int_equal(e->rcpt_len, strlen(rcpt));
	assert_memory_equal(e->rcpt, rcpt, e->rcpt_len);
	/* reported after the frame that ends the command line */
	struct pkt_info pi;
	const struct frame *f = &c->frames[e->frame];
	assert_int_equal(pkt_parse(f->data, f->len, &pi), PKT_TCP);
	assert_int_equal(pi.dst_port, 25);
	char line[300];
	snprintf(line, sizeof(line), *rcpt ? "RCPT TO:<%s>\r\n" : "STARTTLS\r\n", rcpt);
	size_t n = strlen(line);
	assert_true(pi.payload_len >= n);
	assert_memory_equal(f->data + pi.payload_offset + pi.payload_len - n, line, n);
}

static void test_bogus_session_has_one_event_per_rcpt(void **state)
{
	struct synth_session_spec sp;
	struct capture c = {0};
	(void)state;

	synth_session_spec_default(&sp);
	synth_text_set(&sp.helo, "localhost");
	sp.reason = VERDICT_LOCALHOST;
	sp.n_rcpts = 3;
	synth_text_set(&sp.rcpt[1], "carol@example.org");
	synth_text_set(&sp.rcpt[2], "dave@lab-mail.net");
	sp.messages = 2;
	run_session(&sp, &c);
	assert_int_equal(c.n_events, 6);
	const char *rcpts[] = {"bob@example.com", "carol@example.org", "dave@lab-mail.net"};
	for (size_t i = 0; i < 6; i++)
		assert_event(&c, i, &sp, "RCPT", "localhost", VERDICT_LOCALHOST, rcpts[i % 3]);
	for (size_t i = 1; i < 6; i++)
		assert_true(c.events[i].e.frame > c.events[i - 1].e.frame);
	cap_free(&c);
}

static void test_pipelined_rcpts_report_after_their_shared_segment(void **state)
{
	struct synth_session_spec sp;
	struct capture c = {0};
	(void)state;

	synth_session_spec_default(&sp);
	synth_text_set(&sp.helo, "www");
	sp.reason = VERDICT_NOT_FQDN;
	sp.pipelining = true;
	sp.n_rcpts = 2;
	synth_text_set(&sp.rcpt[1], "carol@example.com");
	run_session(&sp, &c);
	assert_int_equal(c.n_events, 2);
	assert_int_equal(c.events[0].e.frame, c.events[1].e.frame);
	/* the shared segment ends with DATA, after the last RCPT */
	struct pkt_info pi;
	const struct frame *f = &c.frames[c.events[1].e.frame];
	pkt_parse(f->data, f->len, &pi);
	assert_true(contains(f->data + pi.payload_offset, pi.payload_len,
	                     "RCPT TO:<carol@example.com>\r\nDATA\r\n"));
	cap_free(&c);
}

static void test_starttls_accepted_reports_once_then_nothing(void **state)
{
	struct synth_session_spec sp;
	struct capture c = {0};
	struct flows fs;
	(void)state;

	synth_session_spec_default(&sp);
	synth_text_set(&sp.helo, "[127.0.0.1]");
	sp.reason = VERDICT_IP_LITERAL;
	sp.starttls = SYNTH_STARTTLS_ACCEPTED;
	sp.tls_bytes = 5000;
	run_session(&sp, &c);
	assert_int_equal(c.n_events, 1);
	assert_event(&c, 0, &sp, "STARTTLS", "[127.0.0.1]", VERDICT_IP_LITERAL, "");
	struct flow *f = check_one(&c, &fs);
	const uint8_t *s = f->d[0].stream;
	assert_memory_equal(s, "EHLO [127.0.0.1]\r\nSTARTTLS\r\n\x16\x03\x03", 31);
	/* no MAIL in the clear; the TLS bytes are opaque */
	assert_false(contains(s, 28, "MAIL FROM"));
	assert_true(f->closed);
	assert_true(
	    contains(f->d[1].stream, f->d[1].stream_len, "220 2.0.0 Ready to start TLS\r\n"));
	flows_free(&fs);
	cap_free(&c);
}

static void test_starttls_matches_rcpt_only_for_the_local_domain(void **state)
{
	struct synth_session_spec sp;
	struct capture c = {0};
	(void)state;

	synth_session_spec_default(&sp);
	synth_text_set(&sp.helo, "example.com");
	sp.reason = VERDICT_MATCHES_RCPT;
	sp.starttls = SYNTH_STARTTLS_ACCEPTED;
	run_session(&sp, &c);
	assert_int_equal(c.n_events, 0);
	cap_free(&c);

	synth_text_set(&sp.helo, "LAB-MAIL.NET.");
	run_session(&sp, &c);
	assert_int_equal(c.n_events, 1);
	assert_event(&c, 0, &sp, "STARTTLS", "LAB-MAIL.NET.", VERDICT_MATCHES_RCPT, "");
	cap_free(&c);
}

static void test_starttls_refused_keeps_judging_rcpts(void **state)
{
	struct synth_session_spec sp;
	struct capture c = {0};
	(void)state;

	synth_session_spec_default(&sp);
	synth_text_set(&sp.helo, "fakedomain.xyz");
	sp.reason = VERDICT_BANNED;
	sp.starttls = SYNTH_STARTTLS_REFUSED;
	run_session(&sp, &c);
	assert_int_equal(c.n_events, 2);
	assert_event(&c, 0, &sp, "STARTTLS", "fakedomain.xyz", VERDICT_BANNED, "");
	assert_event(&c, 1, &sp, "RCPT", "fakedomain.xyz", VERDICT_BANNED, "bob@example.com");
	cap_free(&c);
}

static void test_rset_and_new_helo_switch_the_verdict(void **state)
{
	struct synth_session_spec sp;
	struct capture c = {0};
	struct flows fs;
	(void)state;

	synth_session_spec_default(&sp);
	synth_text_set(&sp.helo, "localhost");
	sp.reason = VERDICT_LOCALHOST;
	sp.rset_new_helo = true;
	synth_text_set(&sp.helo2, "mail.example.org");
	sp.reason2 = VERDICT_OK;
	sp.body = SYNTH_BODY_NONE;
	run_session(&sp, &c);
	struct flow *f = check_one(&c, &fs);
	assert_stream(&f->d[0],
	              "EHLO localhost\r\nMAIL FROM:<alice@example.net>\r\n"
	              "RCPT TO:<bob@example.com>\r\nRSET\r\nEHLO mail.example.org\r\n"
	              "MAIL FROM:<alice@example.net>\r\nRCPT TO:<bob@example.com>\r\nQUIT\r\n");
	assert_int_equal(c.n_events, 1);
	assert_event(&c, 0, &sp, "RCPT", "localhost", VERDICT_LOCALHOST, "bob@example.com");
	flows_free(&fs);
	cap_free(&c);

	/* and the other way round */
	synth_text_set(&sp.helo, "mail.example.org");
	sp.reason = VERDICT_OK;
	synth_text_set(&sp.helo2, "www");
	sp.reason2 = VERDICT_NOT_FQDN;
	run_session(&sp, &c);
	assert_int_equal(c.n_events, 1);
	assert_event(&c, 0, &sp, "RCPT", "www", VERDICT_NOT_FQDN, "bob@example.com");
	cap_free(&c);
}

static void test_event_json_matches_the_event_contract(void **state)
{
	static const uint8_t helo[] = "a\"b\\c\0d\x7f\xe9 e";
	struct synth_event e = {
	    .command = "RCPT",
	    .helo = helo,
	    .helo_len = sizeof(helo) - 1,
	    .rcpt = (const uint8_t *)"bob@example.com",
	    .rcpt_len = 15,
	    .reason = VERDICT_INVALID,
	    .client_port = 40000,
	    .server_port = 25,
	};
	char buf[SYNTH_EVENT_JSON_MAX];
	(void)state;

	synth_lab_client(4, 9, &e.client, &(uint16_t){0});
	synth_lab_server(4, &e.server);
	size_t n = synth_event_json(&e, buf, sizeof(buf));
	const char *want = "{\"client\":\"198.19.0.10:40000\",\"server\":\"198.18.1.25:25\","
	                   "\"command\":\"RCPT\",\"helo\":\"a\\\"b\\\\c\\u0000d\\u007f\\u00e9 e\","
	                   "\"reason\":\"invalid\",\"rcpt\":\"bob@example.com\"}\n";
	assert_string_equal(buf, want);
	assert_int_equal(n, strlen(want));
	assert_int_equal(synth_event_json(&e, buf, n), 0); /* no room for the NUL */

	synth_lab_client(6, 9, &e.client, &(uint16_t){0});
	synth_lab_server(6, &e.server);
	e.command = "STARTTLS";
	e.rcpt_len = 0;
	synth_event_json(&e, buf, sizeof(buf));
	assert_non_null(strstr(buf, "{\"client\":\"[2001:2:0:2::a]:40000\","
	                            "\"server\":\"[2001:2:0:1::25]:25\",\"command\":\"STARTTLS\""));
	assert_non_null(strstr(buf, "\"rcpt\":\"\"}\n"));
}

/* ---- the HELO tables against the verdict engine under the lab context ------------------- */

static void test_helo_tables_give_their_reason_under_the_lab_context(void **state)
{
	char err[512] = "";
	struct suffix_list *psl = suffix_list_load(NULL, err, sizeof(err));
	struct banlist *ban = banlist_load_file(BANLIST, err, sizeof(err));
	static const char *const local[] = {SYNTH_LAB_LOCAL_DOMAIN};
	size_t n_domains;
	const char *const *domains = synth_rcpt_domains(&n_domains);
	(void)state;

	if (psl == NULL || ban == NULL)
		fail_msg("lab context: %s", err);
	for (uint8_t family = 4; family <= 6; family += 2) {
		struct ip_addr server;
		synth_lab_server(family, &server);
		struct verdict_context ctx = {
		    .server_ips = &server,
		    .n_server_ips = 1,
		    .local_domains = local,
		    .n_local_domains = 1,
		    .banlist = ban,
		    .suffixes = psl,
		};
		for (int r = 0; r < VERDICT_COUNT; r++) {
			size_t n;
			if (r == VERDICT_ALLOWED)
				continue; /* no allowlist in the lab context */
			const char *const *t = synth_helo_table((enum verdict_reason)r, family, &n);
			assert_true(n >= 2);
			for (size_t i = 0; i < n; i++) {
				/* with each recipient domain the session may use */
				for (size_t d = 0; d < n_domains; d++) {
					bool matches = r == VERDICT_MATCHES_RCPT;
					if (matches && strcmp(t[i], SYNTH_LAB_LOCAL_DOMAIN) != 0 &&
					    strcmp(t[i], domains[d]) != 0)
						continue;
					char rcpt[128];
					snprintf(rcpt, sizeof(rcpt), "<user@%s>", domains[d]);
					ctx.rcpt = rcpt;
					ctx.rcpt_len = strlen(rcpt);
					enum verdict_reason got =
					    verdict_judge_helo(t[i], strlen(t[i]), &ctx);
					if (got != (enum verdict_reason)r)
						fail_msg("IPv%u HELO '%s' RCPT %s: table says %s, "
						         "engine %s",
						         family, t[i], rcpt, verdict_reason_name(r),
						         verdict_reason_name(got));
				}
				/* at STARTTLS: no recipient */
				ctx.rcpt = NULL;
				ctx.rcpt_len = 0;
				enum verdict_reason want = (enum verdict_reason)r;
				if (r == VERDICT_MATCHES_RCPT &&
				    strcmp(t[i], SYNTH_LAB_LOCAL_DOMAIN) != 0)
					want = VERDICT_OK;
				assert_int_equal(verdict_judge_helo(t[i], strlen(t[i]), &ctx),
				                 want);
			}
		}
	}
	banlist_free(ban);
	suffix_list_free(psl);
}

/* ---- mixes ------------------------------------------------------------------------------ */

static uint64_t capture_hash(const struct capture *c)
{
	uint64_t h = 1469598103934665603ull;

	for (size_t i = 0; i < c->n; i++)
		for (uint32_t j = 0; j < c->frames[i].len; j++)
			h = (h ^ c->frames[i].data[j]) * 1099511628211ull;
	for (size_t i = 0; i < c->n_events; i++) {
		char buf[SYNTH_EVENT_JSON_MAX];
		size_t n = synth_event_json(&c->events[i].e, buf, sizeof(buf));
		for (size_t j = 0; j < n; j++)
			h = (h ^ (uint8_t)buf[j]) * 1099511628211ull;
	}
	return h;
}

static void run_mix(const struct synth_params *p, struct capture *c, struct synth_mix_stats *st)
{
	struct synth_sink sink = cap_sink(c);

	assert_int_equal(synth_mix(p, &sink, st), 0);
	cap_fix_pointers(c);
	assert_int_equal(st->frames, c->n);
	assert_int_equal(st->events, c->n_events);
}

static void test_mix_is_valid_tcp_and_events_match_sessions(void **state)
{
	struct synth_params p;
	struct synth_mix_stats st;
	struct capture c = {0};
	struct flows fs;
	(void)state;

	synth_params_default(&p);
	p.sessions = 300;
	p.seed = 11;
	p.concurrency = 16;
	p.ipv6_ratio = p.vlan_ratio = p.starttls_ratio = p.bdat_ratio = 0.2;
	run_mix(&p, &c, &st);
	assert_int_equal(check_capture(&c, &fs), 0);
	assert_int_equal(fs.anomalies, 0);
	assert_int_equal(fs.n, 300);
	assert_int_equal(st.sessions, 300);
	assert_true(st.ipv6 > 30 && st.vlan > 30 && st.starttls > 20 && st.bdat > 10);
	/* each event's frame belongs to the event's flow and ends its command */
	for (size_t i = 0; i < c.n_events; i++) {
		const struct synth_event *e = &c.events[i].e;
		struct pkt_info pi;
		const struct frame *f = &c.frames[e->frame];
		assert_int_equal(pkt_parse(f->data, f->len, &pi), PKT_TCP);
		assert_true(ip_addr_equal(&pi.src, &e->client));
		assert_int_equal(pi.src_port, e->client_port);
		assert_int_not_equal(e->reason, VERDICT_OK);
		if (i > 0)
			assert_true(e->frame >= c.events[i - 1].e.frame);
	}
	/* every flow ends closed or reset */
	for (size_t i = 0; i < fs.n; i++)
		assert_true(fs.v[i].d[0].stream_len > 0);
	flows_free(&fs);
	cap_free(&c);
}

static void test_mix_is_deterministic_per_seed(void **state)
{
	struct synth_params p;
	struct synth_mix_stats st;
	struct capture a = {0}, b = {0}, other = {0};
	(void)state;

	synth_params_default(&p);
	p.sessions = 200;
	p.seed = 42;
	run_mix(&p, &a, &st);
	run_mix(&p, &b, &st);
	assert_int_equal(a.n, b.n);
	assert_true(capture_hash(&a) == capture_hash(&b));
	p.seed = 43;
	run_mix(&p, &other, &st);
	assert_true(capture_hash(&a) != capture_hash(&other));
	cap_free(&a);
	cap_free(&b);
	cap_free(&other);
}

static void test_mix_reason_histogram_follows_the_ratio(void **state)
{
	struct synth_params p;
	struct synth_mix_stats st;
	struct synth_sink sink = {.emit = cap_emit};
	(void)state;

	synth_params_default(&p);
	p.profile = SYNTH_PROFILE_SMTP_COMMANDS;
	p.sessions = 7000;
	p.seed = 5;
	for (int round = 0; round < 2; round++) {
		p.bogus_ratio = round ? 0.6 : 0.3;
		struct capture c = {0};
		sink.arg = &c;
		assert_int_equal(synth_mix(&p, &sink, &st), 0);
		double bogus = 1.0 - (double)st.by_reason[VERDICT_OK] / (double)st.sessions;
		assert_true(bogus > p.bogus_ratio - 0.025 && bogus < p.bogus_ratio + 0.025);
		for (int r = VERDICT_INVALID; r < VERDICT_COUNT; r++) {
			double share = (double)st.by_reason[r] / (double)st.sessions;
			double want = p.bogus_ratio / (VERDICT_COUNT - VERDICT_INVALID);
			if (share < want * 0.75 || share > want * 1.25)
				fail_msg("reason %s: %.4f of sessions, want %.4f",
				         verdict_reason_name(r), share, want);
		}
		cap_free(&c);
	}
}

static void test_mix_profiles_bogus_flood_none_bogus_and_non_smtp(void **state)
{
	struct synth_params p;
	struct synth_mix_stats st;
	struct capture c = {0};
	struct flows fs;
	(void)state;

	synth_params_default(&p);
	p.profile = SYNTH_PROFILE_BOGUS_FLOOD;
	p.sessions = 500;
	run_mix(&p, &c, &st);
	assert_int_equal(st.by_reason[VERDICT_OK], 0);
	assert_true(st.events >= 500 - st.by_reason[VERDICT_MATCHES_RCPT]);
	assert_int_equal(st.body_bytes, 0);
	cap_free(&c);

	p.profile = SYNTH_PROFILE_SMTP_MIX;
	p.bogus_ratio = 0;
	run_mix(&p, &c, &st);
	assert_int_equal(st.events, 0);
	assert_true(st.body_bytes > 0);
	cap_free(&c);

	/* non-smtp: nothing for helogate to inspect, no events */
	p.profile = SYNTH_PROFILE_NON_SMTP;
	p.bogus_ratio = 1;
	run_mix(&p, &c, &st);
	assert_int_equal(st.events, 0);
	size_t not_tcp = check_capture(&c, &fs);
	assert_int_equal(fs.anomalies, 0);
	assert_true(not_tcp > 0 && not_tcp < c.n);
	for (size_t i = 0; i < c.n; i++) {
		struct pkt_info pi;
		if (pkt_parse(c.frames[i].data, c.frames[i].len, &pi) == PKT_TCP)
			assert_true(pi.src_port == 443 || pi.dst_port == 443);
		assert_true(c.frames[i].len >= 60);
	}
	flows_free(&fs);
	cap_free(&c);
}

/* Frames of one flow followed by another flow's before it ends: interleaving. */
static size_t flow_switches(const struct capture *c)
{
	size_t switches = 0;
	uint16_t prev = 0;

	for (size_t i = 0; i < c->n; i++) {
		struct pkt_info pi;
		pkt_parse(c->frames[i].data, c->frames[i].len, &pi);
		uint16_t port = pi.dst_port == 25 ? pi.src_port : pi.dst_port;
		switches += i > 0 && port != prev;
		prev = port;
	}
	return switches;
}

static void test_mix_concurrency_interleaves_sessions(void **state)
{
	struct synth_params p;
	struct synth_mix_stats st;
	struct capture c = {0};
	(void)state;

	synth_params_default(&p);
	p.profile = SYNTH_PROFILE_SMTP_COMMANDS;
	p.sessions = 50;
	p.concurrency = 1;
	run_mix(&p, &c, &st);
	assert_int_equal(flow_switches(&c), 49); /* one after the other */
	cap_free(&c);
	p.concurrency = 10;
	run_mix(&p, &c, &st);
	assert_true(flow_switches(&c) > c.n / 2);
	cap_free(&c);
}

static void test_mix_parameters_are_checked(void **state)
{
	struct synth_params p;
	struct synth_sink sink = {0};
	(void)state;

	synth_params_default(&p);
	assert_int_equal(synth_params_check(&p), 0);
	assert_true(synth_params_bodies(&p, "realistic"));
	assert_int_equal(p.body_median, SYNTH_BODY_REALISTIC_MEDIAN);
	assert_false(synth_params_bodies(&p, "huge"));
	p.concurrency = 0;
	assert_int_equal(synth_mix(&p, &sink, NULL), SYNTH_EINVAL);
	synth_params_default(&p);
	p.bogus_ratio = 1.5;
	assert_int_equal(synth_params_check(&p), SYNTH_EINVAL);
	synth_params_default(&p);
	p.body_max = 1;
	assert_int_equal(synth_params_check(&p), SYNTH_EINVAL);
	enum synth_profile prof;
	assert_true(synth_profile_from_name("bogus-flood", &prof));
	assert_int_equal(prof, SYNTH_PROFILE_BOGUS_FLOOD);
	assert_string_equal(synth_profile_name(SYNTH_PROFILE_NON_SMTP), "non-smtp");
	assert_false(synth_profile_from_name("smtp", &prof));
}

static void test_mix_body_sizes_follow_the_preset(void **state)
{
	struct synth_params p;
	struct synth_mix_stats st;
	struct capture c = {0};
	(void)state;

	synth_params_default(&p);
	p.sessions = 2000;
	p.starttls_ratio = 0;
	run_mix(&p, &c, &st);
	/* log-normal, median 2 KiB, sigma 1, clamped at 32 KiB: mean ~3.3 KiB */
	double mean = (double)st.body_bytes / (double)st.sessions;
	assert_true(mean > 2600 && mean < 4200);
	cap_free(&c);
	/* a cap below the preset's minimum: every body is the cap (one or
	 * two messages per session) */
	p.body_max = 100;
	p.sessions = 100;
	run_mix(&p, &c, &st);
	assert_true(st.body_bytes >= 100 * 100 && st.body_bytes <= 100 * 100 * 2);
	cap_free(&c);
}

static int count_frames(void *arg, const uint8_t *frame, uint32_t len, uint64_t ts)
{
	(void)frame;
	(void)len;
	assert_true(ts >= SYNTH_CAPTURE_START_NS);
	(*(size_t *)arg)++;
	return 0;
}

static void count_reasons(void *arg, const struct synth_event *e)
{
	((size_t *)arg)[e->reason]++;
}

static void test_generate_is_the_mix_without_a_sink(void **state)
{
	struct synth_params p;
	struct synth_mix_stats st;
	struct capture c = {0};
	size_t frames = 0, reasons[VERDICT_COUNT] = {0};
	(void)state;

	synth_params_default(&p);
	p.sessions = 100;
	run_mix(&p, &c, &st);
	assert_int_equal(synth_generate(&p, count_frames, &frames, count_reasons, reasons), 0);
	assert_int_equal(frames, c.n);
	size_t total = 0;
	for (int r = 0; r < VERDICT_COUNT; r++)
		total += reasons[r];
	assert_int_equal(total, c.n_events);
	assert_int_equal(reasons[VERDICT_OK], 0);
	frames = 0;
	assert_int_equal(synth_generate(&p, count_frames, &frames, NULL, NULL), 0);
	assert_int_equal(frames, c.n);
	cap_free(&c);
}

/* ---- scenarios -------------------------------------------------------------------------- */

static void test_every_scenario_generates_valid_tcp_apart_from_its_faults(void **state)
{
	(void)state;

	assert_int_equal(synth_scenario_count(), 23);
	for (size_t i = 0; i < synth_scenario_count(); i++) {
		const char *name = synth_scenario_name(i);
		struct capture c = {0};
		struct synth_sink sink = cap_sink(&c);
		struct flows fs;
		assert_true(synth_scenario_exists(name));
		if (synth_scenario(name, 3, &sink) != 0)
			fail_msg("scenario %s fails", name);
		cap_fix_pointers(&c);
		bool irregular = strcmp(name, "third-party-rst") == 0 ||
		                 strcmp(name, "conflicting-retransmit") == 0 ||
		                 strcmp(name, "beyond-window") == 0 ||
		                 strcmp(name, "zero-window-probe") == 0;
		size_t not_tcp = check_capture_quiet(&c, &fs, irregular);
		/* The faults a scenario injects on purpose (one malformed frame,
		 * or irregular segments: tested one by one below), and no other. */
		bool malformed = strcmp(name, "truncated-ipv4") == 0 ||
		                 strcmp(name, "ipv4-total-length-too-big") == 0 ||
		                 strcmp(name, "tcp-offset-past-end") == 0;
		if (not_tcp != (malformed ? 1u : 0u))
			fail_msg("scenario %s: %zu frames not TCP", name, not_tcp);
		if (irregular != (fs.anomalies != 0))
			fail_msg("scenario %s: %u TCP anomalies", name, fs.anomalies);
		flows_free(&fs);
		cap_free(&c);
	}
	assert_false(synth_scenario_exists("no-such-scenario"));
	assert_null(synth_scenario_name(23));
	struct synth_sink sink = {0};
	assert_int_equal(synth_scenario("no-such-scenario", 1, &sink), SYNTH_EINVAL);
}

/* Scenario outcomes: event counts by command and reason. */
static void scenario_events(const char *name, struct capture *c)
{
	struct synth_sink sink = cap_sink(c);

	assert_int_equal(synth_scenario(name, 1, &sink), 0);
	cap_fix_pointers(c);
}

static size_t count_events(const struct capture *c, const char *command, enum verdict_reason r)
{
	size_t n = 0;

	for (size_t i = 0; i < c->n_events; i++)
		n += strcmp(c->events[i].e.command, command) == 0 && c->events[i].e.reason == r;
	return n;
}

static void test_scenario_outcomes(void **state)
{
	static const struct {
		const char *name;
		const char *command;
		enum verdict_reason reason;
		size_t count, total;
	} cases[] = {
	    {"pipelining", "RCPT", VERDICT_LOCALHOST, 3, 5},
	    {"body-with-commands", "RCPT", VERDICT_NOT_FQDN, 4, 6},
	    {"bdat", "RCPT", VERDICT_BANNED, 4, 4},
	    {"starttls", "STARTTLS", VERDICT_MATCHES_RCPT, 1, 5},
	    {"rset-new-helo", "RCPT", VERDICT_IP_LITERAL, 2, 4},
	    {"ipv6", "RCPT", VERDICT_SERVER_IP, 2, 4},
	    {"qinq", "RCPT", VERDICT_IP_LITERAL, 2, 4},
	    {"helo-one-byte-per-segment", "RCPT", VERDICT_NOT_FQDN, 2, 4},
	    {"nul-8bit", "RCPT", VERDICT_INVALID, 4, 4},
	    {"long-line", "RCPT", VERDICT_LOCALHOST, 2, 2},
	    {"syn-flood", "RCPT", VERDICT_LOCALHOST, 2, 4}, /* and B: 2 not-fqdn */
	    {"conflicting-retransmit", "RCPT", VERDICT_LOCALHOST, 2, 2},
	    {"zero-window-probe", "RCPT", VERDICT_LOCALHOST, 1, 1},
	    {"midstream", "RCPT", VERDICT_LOCALHOST, 0, 0},
	};
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct capture c = {0};
		scenario_events(cases[i].name, &c);
		if (c.n_events != cases[i].total ||
		    count_events(&c, cases[i].command, cases[i].reason) != cases[i].count)
			fail_msg("%s: %zu events", cases[i].name, c.n_events);
		cap_free(&c);
	}
}

static void test_scenario_syn_flood_has_2000_unanswered_syns(void **state)
{
	struct capture c = {0};
	size_t syns = 0, synacks = 0;
	(void)state;

	scenario_events("syn-flood", &c);
	for (size_t i = 0; i < c.n; i++) {
		struct pkt_info pi;
		pkt_parse(c.frames[i].data, c.frames[i].len, &pi);
		syns += pi.tcp_flags == TCP_FLAG_SYN;
		synacks += pi.tcp_flags == (TCP_FLAG_SYN | TCP_FLAG_ACK);
	}
	assert_int_equal(syns, 2002);
	assert_int_equal(synacks, 2);
	cap_free(&c);
}

static void test_scenario_faults_are_the_named_ones(void **state)
{
	static const struct {
		const char *name;
		enum pkt_result result;
	} cases[] = {
	    {"truncated-ipv4", PKT_TRUNCATED_L3},
	    {"ipv4-total-length-too-big", PKT_BAD_IP_TOTAL_LEN},
	    {"tcp-offset-past-end", PKT_BAD_TCP_DATA_OFFSET},
	};
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct capture c = {0};
		size_t found = 0;
		scenario_events(cases[i].name, &c);
		for (size_t j = 0; j < c.n; j++) {
			struct pkt_info pi;
			enum pkt_result r = pkt_parse(c.frames[j].data, c.frames[j].len, &pi);
			if (r == PKT_TCP)
				continue;
			assert_int_equal(r, cases[i].result);
			found++;
			if (r != PKT_TRUNCATED_L3) {
				/* the one fault: the IPv4 header checksum is right */
				const uint8_t *ip = c.frames[j].data + 14;
				assert_int_equal(fold(sum16(0, ip, 20)), 0xffff);
			}
		}
		assert_int_equal(found, 1);
		cap_free(&c);
	}
}

/* The client segments of a one-flow scenario capture, parsed. */
struct seglist {
	struct pkt_info pi[4096];
	const uint8_t *frame[4096];
	size_t n;
};

static void segments(const struct capture *c, struct seglist *l)
{
	l->n = 0;
	for (size_t i = 0; i < c->n && l->n < 4096; i++) {
		if (pkt_parse(c->frames[i].data, c->frames[i].len, &l->pi[l->n]) != PKT_TCP)
			continue;
		l->frame[l->n++] = c->frames[i].data;
	}
}

static bool payload_is(const struct seglist *l, size_t i, const char *text)
{
	return l->pi[i].payload_len == strlen(text) &&
	       memcmp(l->frame[i] + l->pi[i].payload_offset, text, strlen(text)) == 0;
}

static void test_scenario_conflicting_retransmit_repeats_the_ehlo_range(void **state)
{
	struct capture c = {0};
	static struct seglist l;
	size_t pairs = 0;
	(void)state;

	scenario_events("conflicting-retransmit", &c);
	segments(&c, &l);
	for (size_t i = 0; i + 1 < l.n; i++) {
		if (!payload_is(&l, i, "EHLO localhost\r\n") &&
		    !payload_is(&l, i, "EHLO mail.example.org\r\n"))
			continue;
		/* the next segment: same sequence number, same length, other bytes,
		 * before any server ACK of it */
		assert_int_equal(l.pi[i + 1].seq, l.pi[i].seq);
		assert_int_equal(l.pi[i + 1].payload_len, l.pi[i].payload_len);
		assert_memory_not_equal(l.frame[i + 1] + l.pi[i + 1].payload_offset,
		                        l.frame[i] + l.pi[i].payload_offset, l.pi[i].payload_len);
		pairs++;
	}
	assert_int_equal(pairs, 2);
	cap_free(&c);
}

static void test_scenario_beyond_window_has_one_segment_past_the_edge(void **state)
{
	struct capture c = {0};
	static struct seglist l;
	uint32_t ack = 0, win = 0;
	size_t beyond = 0;
	(void)state;

	scenario_events("beyond-window", &c);
	segments(&c, &l);
	for (size_t i = 0; i < l.n; i++) {
		const struct pkt_info *pi = &l.pi[i];
		if (pi->src_port == 25 && (pi->tcp_flags & TCP_FLAG_ACK) &&
		    !(pi->tcp_flags & TCP_FLAG_SYN)) {
			ack = pi->ack;
			win = (uint32_t)pi->window << 7;
		} else if (pi->dst_port == 25 && pi->payload_len && win &&
		           (int32_t)(pi->seq - (ack + win)) >= 0) {
			assert_true(payload_is(&l, i, "RCPT TO:<evil@example.com>\r\n"));
			beyond++;
		}
	}
	assert_int_equal(beyond, 1);
	cap_free(&c);
}

static void test_scenario_zero_window_probe_probes_then_resends(void **state)
{
	struct capture c = {0};
	static struct seglist l;
	size_t i = 0;
	(void)state;

	scenario_events("zero-window-probe", &c);
	segments(&c, &l);
	/* the server's reply closes its window */
	while (i < l.n && !(l.pi[i].src_port == 25 && l.pi[i].payload_len && l.pi[i].window == 0))
		i++;
	assert_true(i < l.n);
	assert_true(payload_is(&l, i, "250 2.1.0 Ok\r\n"));
	uint32_t edge = l.pi[i].ack;
	i += 2; /* the client's ACK of it */
	for (int probe = 0; probe < 2; probe++, i += 2) {
		assert_true(payload_is(&l, i - 1 + 1, "R"));
		assert_int_equal(l.pi[i].seq, edge);
		/* refused: the server's ACK stays at the edge, window closed */
		assert_int_equal(l.pi[i + 1].ack, edge);
		assert_int_equal(l.pi[i + 1].window, 0);
	}
	/* the window update, then the whole line from the probe's byte */
	assert_int_equal(l.pi[i].src_port, 25);
	assert_true(l.pi[i].window > 0);
	assert_int_equal(l.pi[i + 1].seq, edge);
	assert_true(payload_is(&l, i + 1, "RCPT TO:<bob@example.com>\r\n"));
	cap_free(&c);
}

static void test_scenario_third_party_rst_outside_and_inside_the_window(void **state)
{
	struct capture c = {0};
	static struct seglist l;
	size_t rsts = 0;
	uint32_t client_next = 0, server_next = 0;
	(void)state;

	scenario_events("third-party-rst", &c);
	segments(&c, &l);
	for (size_t i = 0; i < l.n; i++) {
		const struct pkt_info *pi = &l.pi[i];
		bool from_client = pi->dst_port == 25;
		if (pi->tcp_flags == TCP_FLAG_RST) {
			if (from_client) {
				/* to the server, 2^30 past what it expects */
				assert_int_equal(pi->seq - client_next, 0x40000000u);
			} else {
				/* to the client, inside its window, not at RCV.NXT; a
				 * challenge ACK follows */
				assert_int_equal(pi->seq - server_next, 1000);
				assert_int_equal(l.pi[i + 1].tcp_flags, TCP_FLAG_ACK);
				assert_int_equal(l.pi[i + 1].ack, server_next);
			}
			rsts++;
			continue;
		}
		uint32_t end = pi->seq + pi->payload_len + ((pi->tcp_flags & TCP_FLAG_SYN) ? 1 : 0);
		if (from_client)
			client_next = end;
		else
			server_next = end;
	}
	assert_int_equal(rsts, 2);
	assert_int_equal(c.n_events, 2);
	cap_free(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_default_session_is_valid_tcp_both_ways),
	    cmocka_unit_test(test_checker_catches_damaged_frames),
	    cmocka_unit_test(test_dialogue_without_body_is_the_expected_text),
	    cmocka_unit_test(test_helo_verb_bare_lf_and_rst_end),
	    cmocka_unit_test(test_data_body_is_stuffed_sized_and_terminated),
	    cmocka_unit_test(test_bdat_chunks_add_up_and_are_not_stuffed),
	    cmocka_unit_test(test_pipelining_sends_the_group_in_one_segment),
	    cmocka_unit_test(test_segments_respect_seg_size_and_helo_seg_size),
	    cmocka_unit_test(test_large_writes_use_mss_less_timestamps_and_ack_every_other),
	    cmocka_unit_test(test_small_window_is_never_overrun),
	    cmocka_unit_test(test_without_options_short_frames_are_padded_with_zeros),
	    cmocka_unit_test(test_sequence_numbers_wrap_inside_the_ehlo_line),
	    cmocka_unit_test(test_vlan_tags_qinq_and_ipv6_hop_by_hop),
	    cmocka_unit_test(test_midstream_session_starts_at_the_banner),
	    cmocka_unit_test(test_emit_error_stops_generation),
	    cmocka_unit_test(test_spec_check_refuses_inconsistent_specs),
	    cmocka_unit_test(test_bogus_session_has_one_event_per_rcpt),
	    cmocka_unit_test(test_pipelined_rcpts_report_after_their_shared_segment),
	    cmocka_unit_test(test_starttls_accepted_reports_once_then_nothing),
	    cmocka_unit_test(test_starttls_matches_rcpt_only_for_the_local_domain),
	    cmocka_unit_test(test_starttls_refused_keeps_judging_rcpts),
	    cmocka_unit_test(test_rset_and_new_helo_switch_the_verdict),
	    cmocka_unit_test(test_event_json_matches_the_event_contract),
	    cmocka_unit_test(test_helo_tables_give_their_reason_under_the_lab_context),
	    cmocka_unit_test(test_mix_is_valid_tcp_and_events_match_sessions),
	    cmocka_unit_test(test_mix_is_deterministic_per_seed),
	    cmocka_unit_test(test_mix_reason_histogram_follows_the_ratio),
	    cmocka_unit_test(test_mix_profiles_bogus_flood_none_bogus_and_non_smtp),
	    cmocka_unit_test(test_mix_concurrency_interleaves_sessions),
	    cmocka_unit_test(test_mix_parameters_are_checked),
	    cmocka_unit_test(test_mix_body_sizes_follow_the_preset),
	    cmocka_unit_test(test_generate_is_the_mix_without_a_sink),
	    cmocka_unit_test(test_every_scenario_generates_valid_tcp_apart_from_its_faults),
	    cmocka_unit_test(test_scenario_outcomes),
	    cmocka_unit_test(test_scenario_syn_flood_has_2000_unanswered_syns),
	    cmocka_unit_test(test_scenario_faults_are_the_named_ones),
	    cmocka_unit_test(test_scenario_conflicting_retransmit_repeats_the_ehlo_range),
	    cmocka_unit_test(test_scenario_beyond_window_has_one_segment_past_the_edge),
	    cmocka_unit_test(test_scenario_zero_window_probe_probes_then_resends),
	    cmocka_unit_test(test_scenario_third_party_rst_outside_and_inside_the_window),
	};
	return cmocka_run_group_tests_name("synth", tests, NULL, NULL);
}
