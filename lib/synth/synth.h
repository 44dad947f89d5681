/*
 * synth: synthesize captures of complete SMTP sessions, both directions,
 * with correct TCP (handshake, sequence and acknowledgement numbers,
 * windows, options, checksums, teardown), and the verdict events helogate
 * must report for them under the standard lab context
 * (tests/data/lab-context.md). docs/design.md has the reasoning.
 *
 * Pure core: frames are built in the generator's own memory and handed to a
 * callback; no libpcap, no DPDK, no files (app/helogate-synth writes pcaps;
 * the benchmark keeps frames in memory). Deterministic: the same spec,
 * parameters and seed give the same bytes (own PRNG, no rand(), no clock,
 * no libm). The expected reasons come from fixed HELO tables, never from
 * helogate's verdict engine, so a test comparing the two can fail.
 * Reentrant: no global state; a sink is used by one thread at a time.
 */
#ifndef HG_SYNTH_H
#define HG_SYNTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wire/addr.h"
#include "judge/verdict.h"

/* ---- the standard lab context ------------------------------------------------------------ */

/* Server addresses (RFC 2544 / RFC 5180 benchmarking ranges), the SMTP port
 * and the local domain helogate is run with (--local-domain). Clients come
 * from 198.19.0.0/16 and 2001:2:0:2::/64, ports 1024-65535. MACs are locally
 * administered: 02:00:00:00:00:01 client side, 02:00:00:00:00:02 server side. */
#define SYNTH_LAB_SERVER4 "198.18.1.25"
#define SYNTH_LAB_SERVER6 "2001:2:0:1::25"
#define SYNTH_LAB_LOCAL_DOMAIN "lab-mail.net"
#define SYNTH_SMTP_PORT 25

/* The lab server's address for family 4 or 6. */
void synth_lab_server(uint8_t family, struct ip_addr *out);

/* Client number index (any value) of the lab: a distinct (address, port) for
 * every index below 65534 * 64512. */
void synth_lab_client(uint8_t family, uint32_t index, struct ip_addr *addr, uint16_t *port);

/*
 * The HELO names the synthesizer uses for each expected reason under the lab
 * context (tests/data/banlist.txt, --local-domain lab-mail.net, the flow's
 * server address). server-ip depends on the server's family; matches-rcpt
 * lists the recipient domains: a session using one of them as HELO sends
 * every RCPT to that domain, except lab-mail.net (a local domain, which
 * matches whatever the recipient). Returns the table and its size in *count
 * (0 and NULL for an unknown reason).
 */
const char *const *synth_helo_table(enum verdict_reason reason, uint8_t family, size_t *count);

/* The recipient domains of the lab (example.com, example.org, lab-mail.net). */
const char *const *synth_rcpt_domains(size_t *count);

/* ---- output ------------------------------------------------------------------------------ */

/* Limits. HELO arguments and mailboxes are byte strings of explicit length
 * (NUL and 8-bit bytes allowed) of at most SYNTH_TEXT_MAX bytes; that stays
 * below helogate's event text limit (256), so no expected event is cut. */
#define SYNTH_TEXT_MAX 255
#define SYNTH_RCPT_MAX 8
#define SYNTH_MESSAGES_MAX 4
#define SYNTH_MSS_MAX 8960
/* Largest frame: QinQ, IPv6 + hop-by-hop header, 60-byte TCP header. */
#define SYNTH_FRAME_MAX (22 + 40 + 8 + 60 + SYNTH_MSS_MAX)
/* Frames are stamped this far apart, in emission order; captures made by
 * helogate-synth and synth_generate() start at 2026-01-01T00:00:00Z. */
#define SYNTH_FRAME_GAP_NS 10000u
#define SYNTH_CAPTURE_START_NS (1767225600ull * 1000000000ull)

/* Errors the generators return (a non-zero value from emit is returned as is). */
#define SYNTH_ENOMEM (-1)
#define SYNTH_EINVAL (-2)

/* A frame, in capture order: len bytes (60 to SYNTH_FRAME_MAX, except the
 * deliberately runt frames of scenario truncated-ipv4). Valid only during the
 * call. Return non-zero to stop the generator, which then returns it. */
typedef int synth_emit_fn(void *arg, const uint8_t *frame, uint32_t len, uint64_t ts_ns);

/*
 * An event helogate must report in detect mode under the lab context: one at
 * each RCPT TO of a session whose current HELO is bogus, and one at STARTTLS
 * (rcpt empty). Reported right after the frame that completes the command
 * line, so events come in the order their commands appear in the capture.
 * Pointers are valid only during the callback.
 */
struct synth_event {
	struct ip_addr client, server;
	uint16_t client_port, server_port;
	const char *command; /* "RCPT" or "STARTTLS" */
	const uint8_t *helo; /* the HELO/EHLO argument as sent */
	uint16_t helo_len;
	const uint8_t *rcpt; /* the mailbox: no brackets, source route or parameters */
	uint16_t rcpt_len;
	enum verdict_reason reason; /* never VERDICT_OK */
	uint64_t frame;             /* index of that frame in the sink's output */
};
typedef void synth_event_fn(void *arg, const struct synth_event *e);

/* Where generated frames and events go. Initialize emit, event (NULL: no
 * events wanted), arg and ts_ns (the first frame's timestamp); the generators
 * advance ts_ns by SYNTH_FRAME_GAP_NS per frame and count frames, their bytes
 * and events, so consecutive calls on one sink continue one capture. */
struct synth_sink {
	synth_emit_fn *emit;
	synth_event_fn *event;
	void *arg;
	uint64_t ts_ns;
	uint64_t frames, bytes, events;
};

/* Longest line synth_event_json() writes, with its '\n' and NUL. */
#define SYNTH_EVENT_JSON_MAX (256 + 6 * 2 * SYNTH_TEXT_MAX)

/* One JSON object and '\n' with the keys client, server, command, helo,
 * reason, rcpt, in helogate's event format: endpoints "198.19.0.10:40000" or
 * "[2001:2:0:2::a]:40000"; '"' and '\\' escaped; bytes below 0x20 and above
 * 0x7e as \u00XX. Returns the length without the NUL, or 0 when size is too
 * small (SYNTH_EVENT_JSON_MAX always suffices). */
size_t synth_event_json(const struct synth_event *e, char *buf, size_t size);

/* ---- one session ------------------------------------------------------------------------- */

/* TCP options the client's SYN offers; the server's SYN-ACK agrees to each
 * one offered (window scale, SACK-permitted and timestamps only when offered,
 * RFC 7323 1.3, RFC 2018 2; MSS whenever the bit is set). */
#define SYNTH_OPT_MSS 0x01
#define SYNTH_OPT_WSCALE 0x02
#define SYNTH_OPT_SACK_PERM 0x04
#define SYNTH_OPT_TIMESTAMPS 0x08
#define SYNTH_OPT_ALL 0x0f

enum synth_body {
	SYNTH_BODY_NONE, /* MAIL and RCPTs only, no message */
	SYNTH_BODY_DATA, /* DATA, 354, dot-stuffed body, CRLF.CRLF */
	SYNTH_BODY_BDAT, /* BDAT chunks (RFC 3030), no stuffing, no terminator */
};

enum synth_starttls {
	SYNTH_STARTTLS_NONE,
	SYNTH_STARTTLS_ACCEPTED, /* 220, then opaque pseudo-TLS records both ways, then close */
	SYNTH_STARTTLS_REFUSED,  /* 454, the session goes on in the clear */
};

enum synth_end {
	SYNTH_END_QUIT, /* QUIT, 221, server FIN, client FIN, last ACK */
	SYNTH_END_RST,  /* after the last reply the client aborts with RST|ACK */
};

/* A byte string of explicit length. */
struct synth_text {
	uint16_t len;
	uint8_t bytes[SYNTH_TEXT_MAX];
};

/*
 * One session. synth_session_spec_default() fills a valid good IPv4 session;
 * change what a test needs. The client side:
 *   SYN, banner, HELO/EHLO [, STARTTLS] [, MAIL + RCPTs + RSET, HELO/EHLO helo2]
 *   then `messages` transactions (MAIL, RCPTs, body), then QUIT or RST.
 * The server accepts everything (detect mode): 250 to each command, 354 to
 * DATA, 220 or 454 to STARTTLS as asked, 221 to QUIT.
 * TCP: each side segments its writes at the peer's MSS (the client at
 * seg_size when smaller), never beyond the peer's window; each receiver ACKs
 * every ack_every-th data segment, and its replies carry the ACK otherwise
 * (delayed ACK, RFC 9293 3.8.6.3). With timestamps, every segment carries
 * TSval (one tick per segment sent: increasing) and TSecr (TS.Recent, RFC
 * 7323 4.3). IPv4: DF, TTL 64, ID increasing per side. IPv6: hop limit 64.
 */
struct synth_session_spec {
	/* Link and network layer, the same in both directions. */
	uint8_t family;       /* 4 or 6 */
	uint8_t n_vlans;      /* 0, 1 or 2 tags */
	uint16_t outer_tpid;  /* with 2 tags: 0x88a8 (802.1ad) or 0x8100; inner tag 0x8100 */
	uint16_t vlan_tci[2]; /* outer first */
	bool ipv6_hbh;        /* an 8-byte hop-by-hop header (PadN) in every IPv6 packet */
	struct ip_addr client, server;
	uint16_t client_port, server_port;

	/* TCP. */
	uint32_t client_isn, server_isn;
	uint8_t options;                       /* SYNTH_OPT_* offered */
	uint8_t client_wscale, server_wscale;  /* shift counts, 0..14 */
	uint16_t mss;                          /* MSS both announce: 64..SYNTH_MSS_MAX */
	uint32_t client_window, server_window; /* receive windows, bytes, >= mss */
	uint16_t seg_size;      /* most payload bytes per client segment; 0: the MSS */
	uint16_t helo_seg_size; /* for the HELO/EHLO line only; 0: seg_size (1: byte by byte) */
	uint8_t ack_every;      /* 1 or 2 */
	bool midstream;         /* no handshake in the capture: it starts at the banner */
	enum synth_end end;

	/* SMTP. reason/reason2: what helogate must report for helo/helo2 at
	 * each RCPT of this session, VERDICT_OK meaning no event: normally the
	 * lab context's verdict of the name (synth_helo_table); OK for a bogus
	 * name helogate cannot see (a midstream session). The generator never
	 * judges names itself. At STARTTLS there is no recipient, so
	 * matches-rcpt there holds only for the local domain and is otherwise
	 * expected as ok (every matches-rcpt name of the tables is a fully
	 * qualified name). */
	bool ehlo;    /* EHLO (multi-line reply announcing PIPELINING, ...) or HELO */
	bool bare_lf; /* end command lines with LF alone (the message body keeps CRLF) */
	struct synth_text helo;
	enum verdict_reason reason;
	enum synth_starttls starttls; /* needs ehlo */
	bool rset_new_helo;           /* MAIL + RCPTs, RSET, then HELO/EHLO helo2 */
	struct synth_text helo2;
	enum verdict_reason reason2;
	struct synth_text mail_from;            /* mailbox without brackets */
	uint8_t n_rcpts;                        /* 1..SYNTH_RCPT_MAX when there is a transaction */
	struct synth_text rcpt[SYNTH_RCPT_MAX]; /* mailboxes without brackets */
	uint8_t messages;                       /* transactions, 0..SYNTH_MESSAGES_MAX */
	bool pipelining; /* RFC 2920: MAIL, RCPTs, DATA or every BDAT in one write; needs ehlo */
	enum synth_body body;
	uint32_t body_size;      /* message bytes before dot-stuffing, >= prefix + 2 */
	uint32_t bdat_chunk;     /* BDAT chunk size; 0: one LAST chunk */
	const char *body_prefix; /* CRLF-ended lines opening the body, or NULL; stuffed for DATA */
	uint32_t tls_bytes; /* after an accepted STARTTLS: client application data (the server sends
	                       1/16) */
	uint64_t seed;      /* body and TLS bytes, IPv4 IDs, TSval origins, flow label */
};

/* Command-like lines for body_prefix: each must stay message content. The
 * '.' lines are stuffed under DATA ("..", "..foo") and sent as they are under
 * BDAT, where a lone "." line ends nothing. */
#define SYNTH_BODY_COMMANDS                                                                        \
	"RCPT TO:<x@y.example>\r\nHELO localhost\r\n.foo\r\nMAIL FROM:<>\r\n.\r\n"                 \
	"RCPT TO:<body@example.com>\r\nQUIT\r\n"

/* A good IPv4 session of the lab: client 198.19.0.10:40000, EHLO
 * mail.example.org, one message of 2000 bytes to bob@example.com, every TCP
 * option, MSS 1460, ack_every 1, QUIT. */
void synth_session_spec_default(struct synth_session_spec *spec);

/* Copy text (NUL-terminated) or bytes into a synth_text; false when longer
 * than SYNTH_TEXT_MAX (t is then untouched). */
bool synth_text_set(struct synth_text *t, const char *text);
bool synth_text_set_bytes(struct synth_text *t, const void *bytes, size_t len);

/* 0 when spec is valid, else SYNTH_EINVAL (family, VLAN count, MSS and window
 * bounds, ack_every, wscale, counts, STARTTLS/pipelining without EHLO, body
 * size below prefix + 2, text lengths). */
int synth_session_spec_check(const struct synth_session_spec *spec);

/* Generate one session into sink. Returns 0, SYNTH_EINVAL, SYNTH_ENOMEM, or
 * the non-zero value emit returned (the session is then cut short). */
int synth_session(const struct synth_session_spec *spec, struct synth_sink *sink);

/* ---- mixes of sessions ------------------------------------------------------------------- */

enum synth_profile {
	SYNTH_PROFILE_SMTP_MIX,      /* realistic sessions with bodies, bogus_ratio bogus */
	SYNTH_PROFILE_SMTP_COMMANDS, /* short sessions, no body: the worst case per packet */
	SYNTH_PROFILE_BOGUS_FLOOD,   /* every session bogus, no body */
	SYNTH_PROFILE_NON_SMTP,      /* UDP, TCP to port 443, ARP: the fast path; no events */
	SYNTH_PROFILE_COUNT
};

/* "smtp-mix", "smtp-commands", "bogus-flood", "non-smtp"; NULL when out of range. */
const char *synth_profile_name(enum synth_profile profile);
bool synth_profile_from_name(const char *name, enum synth_profile *out);

/*
 * Body sizes of smtp-mix: log-normal (median body_median bytes, shape
 * body_sigma), clamped to [min(body_min, body_max), body_max]. Two presets:
 *   small:     median 2 KiB, sigma 1.0, 256 B..32 KiB (tests: 10,000
 *              sessions make a 68 MB capture in under a second);
 *   realistic: median 24 KiB, sigma 1.5, 512 B..10 MiB (the benchmark: about
 *              100 KB of capture per session).
 * The figures are assumptions; docs/design.md says what they rest on.
 */
#define SYNTH_BODY_SMALL_MEDIAN 2048u
#define SYNTH_BODY_SMALL_SIGMA 1.0
#define SYNTH_BODY_SMALL_MIN 256u
#define SYNTH_BODY_SMALL_MAX 32768u
#define SYNTH_BODY_REALISTIC_MEDIAN 24576u
#define SYNTH_BODY_REALISTIC_SIGMA 1.5
#define SYNTH_BODY_REALISTIC_MIN 512u
#define SYNTH_BODY_REALISTIC_MAX (10u << 20)

struct synth_params {
	enum synth_profile profile;
	uint32_t sessions; /* sessions (non-smtp: flows) */
	uint64_t seed;
	double bogus_ratio;   /* smtp-mix, smtp-commands: share of bogus sessions, 0..1 */
	uint32_t concurrency; /* K >= 1: sessions in progress, interleaved packet by packet */
	uint32_t body_median, body_min, body_max;
	double body_sigma;
	/* smtp-mix shares, 0..1, each drawn per session. */
	double ipv6_ratio, vlan_ratio, pipelining_ratio, starttls_ratio, bdat_ratio;
	uint32_t client_offset; /* first lab client index (to keep several mixes apart) */
};

/* Defaults: smtp-mix, 1000 sessions, seed 1, bogus 0.3, K = 32, small
 * bodies, IPv6 0.1, VLAN 0.1, pipelining 0.4 (of EHLO sessions), STARTTLS
 * 0.1, BDAT 0.05. */
void synth_params_default(struct synth_params *p);

/* Set body_median/sigma/min/max to a preset; false for an unknown name
 * ("small", "realistic"). */
bool synth_params_bodies(struct synth_params *p, const char *preset);

/* 0 when p is valid, else SYNTH_EINVAL: unknown profile, concurrency 0, a
 * ratio outside 0..1, body_min or body_max below 2, body_median 0,
 * body_sigma outside 0..4. */
int synth_params_check(const struct synth_params *p);

/* What a mix generated. Sessions count by the reason of their HELO. */
struct synth_mix_stats {
	uint64_t sessions, frames, bytes, events;
	uint64_t by_reason[VERDICT_COUNT];
	uint64_t ipv6, vlan, pipelining, starttls, bdat, body_bytes;
};

/*
 * Generate p->sessions sessions of the profile: at most K in progress at
 * once; each frame is taken from one of them at random (deterministic), so
 * sessions overlap as on a real link. Session i's content depends only on
 * the seed and i. Bogus sessions spread uniformly over the 7 bogus reasons.
 * stats may be NULL. Returns 0, SYNTH_EINVAL (synth_params_check), SYNTH_ENOMEM,
 * or emit's non-zero value.
 */
int synth_mix(const struct synth_params *p, struct synth_sink *sink, struct synth_mix_stats *stats);

/* synth_mix() without a sink: frames to emit(emit_arg), events to
 * on_event(event_arg) (NULL: none), the first frame stamped
 * SYNTH_CAPTURE_START_NS. */
int synth_generate(const struct synth_params *p, synth_emit_fn *emit, void *emit_arg,
                   synth_event_fn *on_event, void *event_arg);

/* ---- scenarios --------------------------------------------------------------------------- */

/*
 * Named captures for the adversarial and feature tests, each with its
 * defined outcome (expected events through the sink; the packets helogate
 * must drop are listed in docs/design.md). The seed changes ports,
 * ISNs and body bytes, never the outcome.
 */
size_t synth_scenario_count(void);
const char *synth_scenario_name(size_t i); /* NULL when out of range */
bool synth_scenario_exists(const char *name);
int synth_scenario(const char *name, uint64_t seed, struct synth_sink *sink);

#endif
