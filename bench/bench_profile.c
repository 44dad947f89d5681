/*
 * bench_profile: a profile's frames in memory, grouped by session, with the
 * offsets the tuple rotation rewrites and the verdict events each frame
 * must give (bench.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pcap/pcap.h>

#include "bench.h"
#include "wire/cksum.h"
#include "wire/pkt.h"
#include "synth/synth.h"

struct session_key {
	uint8_t family;
	uint8_t client[16];
	uint16_t client_port, server_port;
};

/* Where a session's client stream is, to tell commands from body: after
 * a DATA line, the body starts once the server's 354 came (a refused DATA
 * has none; the client's next bytes are commands again) and ends at
 * CRLF.CRLF (or LF.LF, for the synthesizer's bare-LF clients); after
 * BDAT n, the next n bytes are body. */
enum body_mode { BODY_NONE, BODY_WAIT_354, BODY_DATA, BODY_BDAT };

struct body_tracker {
	uint8_t mode;       /* enum body_mode */
	uint8_t line_len;   /* bytes of the current command line in line[] */
	bool server_bol;    /* the server's next byte starts a line */
	char line[24];      /* the current command line's start */
	uint32_t window;    /* DATA: the last 4 client bytes */
	uint32_t bdat_left; /* BDAT: chunk bytes still to come */
};

/* What the loader keeps per session besides struct bench_session. */
struct session_aux {
	struct session_key key;
	bool had_event;       /* for the enforce-mode expectations: first event seen */
	uint64_t first_frame; /* the frame of the first event */
	struct body_tracker body;
};

static const char *const class_names[] = {
#define BENCH_CLASS_NAME(sym, name, desc) name,
    BENCH_CLASSES(BENCH_CLASS_NAME)
#undef BENCH_CLASS_NAME
};

const char *bench_class_name(enum bench_class c)
{
	return c < BENCH_CLASS_COUNT ? class_names[c] : "?";
}

/* A complete client command line: does it open a body? */
static void body_command(struct body_tracker *b)
{
	char l[sizeof(b->line) + 1];
	size_t n = b->line_len;

	for (size_t i = 0; i < n; i++)
		l[i] =
		    (char)(b->line[i] >= 'a' && b->line[i] <= 'z' ? b->line[i] - 32 : b->line[i]);
	while (n > 0 && (l[n - 1] == '\n' || l[n - 1] == '\r' || l[n - 1] == ' '))
		n--;
	l[n] = '\0';
	b->line_len = 0;
	if (strcmp(l, "DATA") == 0) {
		b->mode = BODY_WAIT_354;
	} else if (strncmp(l, "BDAT ", 5) == 0) {
		b->bdat_left = (uint32_t)strtoul(l + 5, NULL, 10);
		if (b->bdat_left > 0)
			b->mode = BODY_BDAT;
	}
}

/* Follow the client's bytes; returns the class of a segment starting here. */
static enum bench_class body_client(struct body_tracker *b, const uint8_t *d, uint32_t len)
{
	if (b->mode == BODY_WAIT_354)
		b->mode = BODY_NONE; /* no 354 came: DATA was refused */
	enum bench_class c =
	    b->mode == BODY_NONE ? BENCH_CLASS_CLIENT_COMMAND : BENCH_CLASS_CLIENT_BODY;
	for (uint32_t i = 0; i < len; i++) {
		switch ((enum body_mode)b->mode) {
		case BODY_BDAT:
			b->bdat_left--;
			if (b->bdat_left == 0)
				b->mode = BODY_NONE;
			break;
		case BODY_DATA:
			/* CR LF . CR, now LF; or a client of bare LFs' LF . LF */
			if (d[i] == '\n' &&
			    (b->window == 0x0d0a2e0du || (b->window & 0xffffu) == 0x0a2eu))
				b->mode = BODY_NONE;
			b->window = b->window << 8 | d[i];
			break;
		case BODY_NONE:
		case BODY_WAIT_354:
			if (b->line_len < sizeof(b->line))
				b->line[b->line_len++] = (char)d[i];
			if (d[i] == '\n')
				body_command(b);
			break;
		}
	}
	return c;
}

/* Follow the server's bytes: a 354 line starts the body DATA asked for. */
static void body_server(struct body_tracker *b, const uint8_t *d, uint32_t len)
{
	for (uint32_t i = 0; i < len; i++) {
		if (b->server_bol && b->mode == BODY_WAIT_354 && len - i >= 3 &&
		    memcmp(d + i, "354", 3) == 0) {
			b->mode = BODY_DATA;
			b->window = 0x0d0a; /* the DATA line's CRLF: ".CRLF" ends an empty body */
		}
		b->server_bol = d[i] == '\n';
	}
}

static enum bench_class classify_tcp(const struct config *cfg, struct body_tracker *b,
                                     const uint8_t *data, const struct pkt_info *pi, bool c2s)
{
	uint16_t server_port = c2s ? pi->dst_port : pi->src_port;

	if (!config_is_smtp_port(cfg, server_port))
		return BENCH_CLASS_OTHER;
	if (pi->tcp_flags & TCP_FLAG_SYN)
		return BENCH_CLASS_HANDSHAKE;
	if (pi->tcp_flags & (TCP_FLAG_FIN | TCP_FLAG_RST))
		return BENCH_CLASS_FIN_RST;
	if (pi->payload_len == 0)
		return BENCH_CLASS_ACK;
	if (!c2s) {
		body_server(b, data + pi->payload_offset, pi->payload_len);
		return BENCH_CLASS_SERVER_DATA;
	}
	return body_client(b, data + pi->payload_offset, pi->payload_len);
}

struct loader {
	struct bench_profile *p;
	const struct config *cfg;
	/* frames in capture order, before grouping */
	struct bench_frame *frames;
	uint32_t *session_of; /* per frame */
	uint32_t frames_cap, session_of_cap;
	size_t bytes_len, bytes_cap;
	/* sessions found so far */
	struct bench_session *sessions;
	struct session_aux *aux;
	uint32_t n_sessions, sessions_cap, aux_cap;
	/* (tuple hash -> session + 1), open addressing */
	uint32_t *map;
	uint32_t map_cap;
	bool failed;
	char *err;
	size_t err_size;
};

static bool grow(void **ptr, uint32_t *cap, uint32_t need, size_t elem)
{
	if (need <= *cap)
		return true;
	uint32_t n = *cap ? *cap : 1024;
	while (n < need)
		n *= 2;
	void *q = realloc(*ptr, (size_t)n * elem);
	if (q == NULL)
		return false;
	*ptr = q;
	*cap = n;
	return true;
}

static uint32_t key_hash(const struct session_key *k)
{
	uint64_t h = 0x9e3779b97f4a7c15ull * (k->family + 1);
	for (int i = 0; i < 16; i += 4) {
		uint32_t v;
		memcpy(&v, k->client + i, 4);
		h = (h ^ v) * 0xff51afd7ed558ccdull;
	}
	h = (h ^ ((uint32_t)k->client_port << 16 | k->server_port)) * 0xc4ceb9fe1a85ec53ull;
	return (uint32_t)(h >> 32);
}

static bool rehash(struct loader *l, uint32_t cap)
{
	uint32_t *map = calloc(cap, sizeof(uint32_t));
	if (map == NULL)
		return false;
	for (uint32_t s = 0; s < l->n_sessions; s++) {
		uint32_t h = key_hash(&l->aux[s].key) & (cap - 1);
		while (map[h] != 0)
			h = (h + 1) & (cap - 1);
		map[h] = s + 1;
	}
	free(l->map);
	l->map = map;
	l->map_cap = cap;
	return true;
}

/* The session of a TCP frame's tuple, created on first sight; UINT32_MAX
 * when memory runs out. */
static uint32_t find_session(struct loader *l, const struct session_key *k)
{
	if ((l->n_sessions + 1) * 2 > l->map_cap && !rehash(l, l->map_cap ? l->map_cap * 2 : 4096))
		return UINT32_MAX;
	uint32_t h = key_hash(k) & (l->map_cap - 1);
	while (l->map[h] != 0) {
		if (memcmp(&l->aux[l->map[h] - 1].key, k, sizeof(*k)) == 0)
			return l->map[h] - 1;
		h = (h + 1) & (l->map_cap - 1);
	}
	if (!grow((void **)&l->sessions, &l->sessions_cap, l->n_sessions + 1,
	          sizeof(*l->sessions)) ||
	    !grow((void **)&l->aux, &l->aux_cap, l->n_sessions + 1, sizeof(*l->aux)))
		return UINT32_MAX;
	l->map[h] = l->n_sessions + 1;
	l->aux[l->n_sessions].key = *k;
	l->aux[l->n_sessions].had_event = false;
	memset(&l->aux[l->n_sessions].body, 0, sizeof(l->aux[0].body));
	l->aux[l->n_sessions].body.server_bol = true;
	memset(&l->sessions[l->n_sessions], 0, sizeof(l->sessions[0]));
	return l->n_sessions++;
}

/* A frame that is not rotated stands alone as its own session. */
static uint32_t lone_session(struct loader *l)
{
	struct session_key k;
	memset(&k, 0, sizeof(k));
	k.family = 0xff;
	memcpy(k.client, &l->n_sessions, sizeof(l->n_sessions)); /* unique */
	return find_session(l, &k);
}

static bool is_service_port(const struct config *cfg, uint16_t port)
{
	return config_is_smtp_port(cfg, port) || port == 443;
}

static int add_frame(void *arg, const uint8_t *data, uint32_t len, uint64_t ts_ns)
{
	struct loader *l = arg;
	struct pkt_info pi;

	(void)ts_ns;
	if (len > UINT16_MAX || len == 0)
		return 0; /* nothing an mbuf holds: left out */
	uint32_t n = l->p->n_frames;
	if (!grow((void **)&l->frames, &l->frames_cap, n + 1, sizeof(*l->frames)) ||
	    !grow((void **)&l->session_of, &l->session_of_cap, n + 1, sizeof(*l->session_of))) {
		l->failed = true;
		return -1;
	}
	if (l->bytes_len + len > l->bytes_cap) {
		size_t c = l->bytes_cap ? l->bytes_cap * 2 : (1u << 20);
		while (c < l->bytes_len + len)
			c *= 2;
		uint8_t *b = realloc(l->p->bytes, c);
		if (b == NULL) {
			l->failed = true;
			return -1;
		}
		l->p->bytes = b;
		l->bytes_cap = c;
	}
	struct bench_frame *f = &l->frames[n];
	memset(f, 0, sizeof(*f));
	f->offset = (uint32_t)l->bytes_len;
	f->len = (uint16_t)len;
	memcpy(l->p->bytes + l->bytes_len, data, len);
	l->bytes_len += len;
	l->p->n_bytes += len;
	if (len > l->p->max_len)
		l->p->max_len = (uint16_t)len;

	uint32_t s = UINT32_MAX;
	if (pkt_parse(data, len, &pi) == PKT_TCP) {
		/* The client is the side talking to the service port. */
		bool c2s = is_service_port(l->cfg, pi.dst_port)   ? true
		           : is_service_port(l->cfg, pi.src_port) ? false
		                                                  : pi.dst_port < pi.src_port;
		const struct ip_addr *client = c2s ? &pi.src : &pi.dst;
		const struct ip_addr *server = c2s ? &pi.dst : &pi.src;
		struct session_key k;
		memset(&k, 0, sizeof(k));
		k.family = pi.ip_version;
		memcpy(k.client, client->bytes, 16);
		k.client_port = c2s ? pi.src_port : pi.dst_port;
		k.server_port = c2s ? pi.dst_port : pi.src_port;
		s = find_session(l, &k);
		if (s == UINT32_MAX) {
			l->failed = true;
			return -1;
		}
		struct bench_session *bs = &l->sessions[s];
		if (bs->family == 0) {
			bs->family = pi.ip_version;
			memcpy(bs->client, client->bytes, 16);
			memcpy(bs->server, server->bytes, 16);
			bs->server_port = k.server_port;
		}
		uint32_t alen = pi.ip_version == 4 ? 4 : 16;
		uint32_t aoff = pi.ip_version == 4 ? (c2s ? 12 : 16) : (c2s ? 8 : 24);
		f->addr_off = (uint16_t)(pi.l3_offset + aoff + alen - 4);
		f->port_off = (uint16_t)(pi.l4_offset + (c2s ? 0 : 2));
		f->ipck_off = pi.ip_version == 4 ? (uint16_t)(pi.l3_offset + 10) : 0;
		f->l4ck_off = (uint16_t)(pi.l4_offset + 16);
		f->hdr_len = pi.payload_offset;
		f->c2s = c2s;
		f->class = (uint8_t)classify_tcp(l->cfg, &l->aux[s].body, data, &pi, c2s);
	} else {
		f->class = BENCH_CLASS_OTHER;
		s = lone_session(l);
		if (s == UINT32_MAX) {
			l->failed = true;
			return -1;
		}
	}
	l->session_of[n] = s;
	l->sessions[s].count++;
	l->p->n_frames++;
	return 0;
}

static void add_event(void *arg, const struct synth_event *e)
{
	struct loader *l = arg;

	if (e->frame >= l->p->n_frames) {
		l->failed = true;
		snprintf(l->err, l->err_size, "an event names frame %llu of %u",
		         (unsigned long long)e->frame, l->p->n_frames);
		return;
	}
	struct bench_frame *f = &l->frames[e->frame];
	if (f->events > 0 && f->reason != e->reason) {
		l->failed = true;
		snprintf(l->err, l->err_size, "frame %llu has events of two reasons",
		         (unsigned long long)e->frame);
		return;
	}
	if (f->events == UINT8_MAX) {
		l->failed = true;
		snprintf(l->err, l->err_size, "frame %llu has too many events",
		         (unsigned long long)e->frame);
		return;
	}
	f->events++;
	f->reason = (uint8_t)e->reason;
	uint32_t s = l->session_of[e->frame];
	if (!l->aux[s].had_event || l->aux[s].first_frame == e->frame) {
		l->aux[s].had_event = true;
		l->aux[s].first_frame = e->frame;
		f->first_events++;
	}
}

/* Group the frames by session, keeping capture order within each. */
static int finish(struct loader *l)
{
	struct bench_profile *p = l->p;
	uint32_t next = 0;

	for (uint32_t s = 0; s < l->n_sessions; s++) {
		l->sessions[s].first = next;
		next += l->sessions[s].count;
		l->sessions[s].count = 0;
	}
	p->frames = malloc((size_t)p->n_frames * sizeof(*p->frames));
	if (p->frames == NULL)
		return -1;
	for (uint32_t i = 0; i < p->n_frames; i++) {
		struct bench_session *bs = &l->sessions[l->session_of[i]];
		p->frames[bs->first + bs->count++] = l->frames[i];
	}
	p->sessions = l->sessions;
	p->n_sessions = l->n_sessions;
	l->sessions = NULL;
	return 0;
}

static void loader_free(struct loader *l)
{
	free(l->frames);
	free(l->session_of);
	free(l->sessions);
	free(l->aux);
	free(l->map);
}

int bench_profile_synth(struct bench_profile *p, const char *name, uint32_t sessions,
                        uint32_t interleave, uint32_t body_max, const struct config *cfg, char *err,
                        size_t err_size)
{
	struct synth_params sp;
	struct loader l = {.p = p, .cfg = cfg, .err = err, .err_size = err_size};
	int rc = -1;

	memset(p, 0, sizeof(*p));
	snprintf(p->name, sizeof(p->name), "%s", name);
	synth_params_default(&sp);
	/* "enforce" is the bogus flood, taken over (the caller sets the mode). */
	const char *synth_name = strcmp(name, "enforce") == 0 ? "bogus-flood" : name;
	if (!synth_profile_from_name(synth_name, &sp.profile)) {
		snprintf(err, err_size, "unknown profile '%s'", name);
		return -1;
	}
	sp.sessions = sessions;
	sp.concurrency = interleave;
	sp.body_max = body_max;
	if (sp.body_min > body_max)
		sp.body_min = body_max;
	sp.seed = 1;
	err[0] = '\0';
	int s = synth_generate(&sp, add_frame, &l, add_event, &l);
	if (s != 0 || l.failed) {
		if (err[0] == '\0')
			snprintf(err, err_size, "synthesizing %s failed (%d)", name, s);
		goto out;
	}
	if (finish(&l) != 0) {
		snprintf(err, err_size, "out of memory");
		goto out;
	}
	p->has_events = true;
	rc = 0;
out:
	loader_free(&l);
	if (rc != 0)
		bench_profile_free(p);
	return rc;
}

int bench_profile_pcap(struct bench_profile *p, const char *path, const struct config *cfg,
                       char *err, size_t err_size)
{
	char errbuf[PCAP_ERRBUF_SIZE];
	struct loader l = {.p = p, .cfg = cfg, .err = err, .err_size = err_size};
	struct pcap_pkthdr *h;
	const u_char *data;
	int rc;

	memset(p, 0, sizeof(*p));
	snprintf(p->name, sizeof(p->name), "%s",
	         strrchr(path, '/') ? strrchr(path, '/') + 1 : path);
	pcap_t *pc = pcap_open_offline(path, errbuf);
	if (pc == NULL) {
		snprintf(err, err_size, "%s", errbuf);
		return -1;
	}
	if (pcap_datalink(pc) != DLT_EN10MB) {
		snprintf(err, err_size, "%s: not an Ethernet capture", path);
		pcap_close(pc);
		return -1;
	}
	while ((rc = pcap_next_ex(pc, &h, &data)) == 1)
		if (add_frame(&l, data, h->caplen, 0) != 0)
			break;
	pcap_close(pc);
	if (l.failed || finish(&l) != 0) {
		snprintf(err, err_size, "out of memory reading %s", path);
		loader_free(&l);
		bench_profile_free(p);
		return -1;
	}
	loader_free(&l);
	if (p->n_frames == 0) {
		snprintf(err, err_size, "%s: no frames", path);
		bench_profile_free(p);
		return -1;
	}
	return 0;
}

/* A client RST|ACK right after client frame `from`: same headers, no payload. */
static uint32_t build_rst(const uint8_t *from, uint32_t len, uint8_t *out)
{
	struct pkt_info pi;

	if (pkt_parse(from, len, &pi) != PKT_TCP)
		return 0;
	uint32_t hdr = pi.payload_offset;
	memcpy(out, from, hdr);
	uint8_t *ip = out + pi.l3_offset, *tcp = out + pi.l4_offset;
	uint32_t tcp_len = hdr - pi.l4_offset;
	uint32_t seq = pi.seq + pi.payload_len + ((pi.tcp_flags & TCP_FLAG_FIN) ? 1u : 0u);
	tcp[4] = (uint8_t)(seq >> 24), tcp[5] = (uint8_t)(seq >> 16);
	tcp[6] = (uint8_t)(seq >> 8), tcp[7] = (uint8_t)seq;
	tcp[13] = TCP_FLAG_RST | TCP_FLAG_ACK;
	tcp[16] = tcp[17] = 0;
	uint16_t c;
	if (pi.ip_version == 4) {
		uint32_t total = pi.l4_offset - pi.l3_offset + tcp_len;
		ip[2] = (uint8_t)(total >> 8), ip[3] = (uint8_t)total;
		ip[10] = ip[11] = 0;
		c = cksum_ipv4_header(ip, pi.l4_offset - pi.l3_offset);
		memcpy(ip + 10, &c, 2);
		c = cksum_tcp_ipv4(ip + 12, ip + 16, tcp, tcp_len);
	} else {
		uint32_t plen = pi.l4_offset - pi.l3_offset - 40 + tcp_len;
		ip[4] = (uint8_t)(plen >> 8), ip[5] = (uint8_t)plen;
		c = cksum_tcp_ipv6(ip + 8, ip + 24, tcp, tcp_len);
	}
	memcpy(tcp + 16, &c, 2);
	if (hdr < 60) {
		memset(out + hdr, 0, 60 - hdr); /* Ethernet padding */
		hdr = 60;
	}
	return hdr;
}

int bench_profile_cut_at_takeover(struct bench_profile *p, char *err, size_t err_size)
{
	struct bench_frame *frames =
	    malloc(((size_t)p->n_frames + p->n_sessions) * sizeof(*frames));
	size_t extra = (size_t)p->n_sessions * 256, used = 0;
	uint64_t base = p->n_bytes;
	uint8_t *bytes = realloc(p->bytes, base + extra);
	uint32_t n = 0;

	if (frames == NULL || bytes == NULL || base + extra > UINT32_MAX) {
		free(frames);
		if (bytes)
			p->bytes = bytes;
		snprintf(err, err_size, "out of memory cutting sessions");
		return -1;
	}
	p->bytes = bytes;
	for (uint32_t s = 0; s < p->n_sessions; s++) {
		struct bench_session *t = &p->sessions[s];
		uint32_t first = n, cut = t->count, last_client = UINT32_MAX;
		for (uint32_t i = 0; i < t->count; i++) {
			const struct bench_frame *f = &p->frames[t->first + i];
			if (f->first_events) {
				cut = i;
				break;
			}
		}
		for (uint32_t i = 0; i < t->count; i++) {
			const struct bench_frame *f = &p->frames[t->first + i];
			frames[n++] = *f;
			if (f->c2s)
				last_client = t->first + i;
			if (cut < t->count && i > cut && !f->c2s)
				break; /* the server's next segment after the command */
		}
		if (cut < t->count && last_client != UINT32_MAX) {
			const struct bench_frame *lc = &p->frames[last_client];
			uint32_t len =
			    build_rst(p->bytes + lc->offset, lc->len, bytes + base + used);
			if (len > 0) {
				struct bench_frame *f = &frames[n++];
				*f = *lc;
				f->offset = (uint32_t)(base + used);
				f->len = (uint16_t)len;
				f->events = f->first_events = 0;
				f->class = BENCH_CLASS_FIN_RST;
				used += len;
			}
		}
		t->first = first;
		t->count = n - first;
	}
	free(p->frames);
	p->frames = frames;
	p->n_frames = n;
	p->n_bytes = base + used;
	return 0;
}

void bench_profile_free(struct bench_profile *p)
{
	free(p->bytes);
	free(p->frames);
	free(p->sessions);
	memset(p, 0, sizeof(*p));
}
