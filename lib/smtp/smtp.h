/*
 * smtp: the per-flow SMTP session tracker. Client bytes in, commands out;
 * server bytes in, replies out, matched to the commands in order.
 *
 * Never sees a packet: the worker hands it the in-order, reassembled bytes
 * of each direction, cut anywhere. Allocates nothing after init; 32 bytes
 * per session plus one block of the worker's block_pool at most, held only
 * while a command line is incomplete and returned as soon as its LF arrives
 * (or the session stops). Message bodies (DATA, BDAT) are skipped with
 * memchr, never copied and never given to Hyperscan. Single-threaded: a
 * session is used only by the worker that owns its flow. The rules below
 * are the contract, each with its RFC; docs/design.md gives the reasons.
 *
 * The tracker reads the client's bytes as the server (Postfix) does, and
 * never consumes a command byte whose meaning depends on a reply it has not
 * seen: it stops at the line boundary and returns SMTP_STATUS_HOLD (the
 * worker drops those bytes and feeds them again, from
 * smtp_session_hold_seq(), once the reply came: reliability rule 2). It
 * gives a flow up (PASSTHROUGH, one reason of SMTP_STOP_REASONS) only where
 * inspection legitimately ends (TLS), the server says something it cannot
 * follow, or memory runs out (reliability rule 3).
 */
#ifndef HG_SMTP_H
#define HG_SMTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct block_pool;
struct scan_commands;
struct hs_scratch;

/*
 * Every verb, defined once. Columns: symbol (SMTP_VERB_<sym>), the keyword
 * the line starts with ("": none), name on output. GREETING is the
 * pseudo-command the server's banner answers; UNKNOWN is any other line.
 * At most 16 entries: the pending-reply queue stores a verb in 4 bits.
 */
#define SMTP_VERBS(X)                                                                              \
	X(GREETING, "", "greeting")                                                                \
	X(HELO, "HELO", "helo")                                                                    \
	X(EHLO, "EHLO", "ehlo")                                                                    \
	X(MAIL, "MAIL", "mail")                                                                    \
	X(RCPT, "RCPT", "rcpt")                                                                    \
	X(DATA, "DATA", "data")                                                                    \
	X(BDAT, "BDAT", "bdat")                                                                    \
	X(RSET, "RSET", "rset")                                                                    \
	X(NOOP, "NOOP", "noop")                                                                    \
	X(QUIT, "QUIT", "quit")                                                                    \
	X(STARTTLS, "STARTTLS", "starttls")                                                        \
	X(VRFY, "VRFY", "vrfy")                                                                    \
	X(EXPN, "EXPN", "expn")                                                                    \
	X(HELP, "HELP", "help")                                                                    \
	X(AUTH, "AUTH", "auth")                                                                    \
	X(UNKNOWN, "", "unknown")

enum smtp_verb {
#define SMTP_VERB_ENUM(sym, keyword, name) SMTP_VERB_##sym,
	SMTP_VERBS(SMTP_VERB_ENUM)
#undef SMTP_VERB_ENUM
	    SMTP_VERB_COUNT
};

/*
 * Why a session was given up (PASSTHROUGH), defined once. Columns: symbol
 * (SMTP_STOP_<sym>), counter name, description. The worker counts each
 * session once, in smtp_stops[reason], when a feed first returns
 * SMTP_STATUS_PASSTHROUGH. No client byte alone leads here except a BDAT
 * line whose size cannot be read (the server's own reading of what follows
 * is then unknown) and a full block pool.
 */
#define SMTP_STOP_REASONS(X)                                                                       \
	X(TLS_STARTED, "tls-started", "STARTTLS answered 220: the rest is TLS, opaque (RFC 3207)") \
	X(POOL_EXHAUSTED, "pool-exhausted", "no free block to hold an incomplete command line")    \
	X(REPLY_WITHOUT_COMMAND, "reply-without-command",                                          \
	  "a server reply with no command pending (RFC 5321 4.2, RFC 2920)")                       \
	X(BAD_REPLY, "bad-reply",                                                                  \
	  "a server line that does not start with a reply code 200-599 (RFC 5321 4.2)")            \
	X(UNEXPECTED_REPLY, "unexpected-reply",                                                    \
	  "DATA or STARTTLS answered neither with its go-ahead (354, 220) nor with 4xx/5xx")       \
	X(BAD_BDAT_SIZE, "bad-bdat-size",                                                          \
	  "BDAT without a chunk size that fits 32 bits, or with words besides LAST (RFC 3030 2)")  \
	X(SCAN_ERROR, "scan-error", "Hyperscan failed on a command line (scratch misuse)")

enum smtp_stop {
#define SMTP_STOP_ENUM(sym, name, desc) SMTP_STOP_##sym,
	SMTP_STOP_REASONS(SMTP_STOP_ENUM)
#undef SMTP_STOP_ENUM
	    SMTP_STOP_COUNT
};

/* Where the client side of a session is. */
enum smtp_state {
	SMTP_STATE_COMMAND,       /* reading command lines */
	SMTP_STATE_DATA_WAIT,     /* DATA sent, its reply not yet seen */
	SMTP_STATE_BODY,          /* DATA answered 354: skipping the body up to CRLF.CRLF */
	SMTP_STATE_BDAT,          /* skipping the octets of a BDAT chunk */
	SMTP_STATE_STARTTLS_WAIT, /* STARTTLS sent, its reply not yet seen */
	SMTP_STATE_AUTH_WAIT,     /* AUTH (or an AUTH response line) sent, reply not yet seen */
	SMTP_STATE_AUTH_RESPONSE, /* AUTH answered 334: the next line is SASL data */
	SMTP_STATE_STOPPED,       /* on_command returned SMTP_STOP */
	SMTP_STATE_PASSTHROUGH,   /* given up; smtp_session_stop_reason() says why */
	SMTP_STATE_COUNT
};

/* What a feed returns. */
enum smtp_status {
	SMTP_STATUS_CONTINUE,    /* keep feeding */
	SMTP_STATUS_STOPPED,     /* on_command returned SMTP_STOP, now or earlier */
	SMTP_STATUS_PASSTHROUGH, /* given up: forward the flow untouched from now on */
	/* The client bytes from smtp_session_hold_seq() on were not parsed: they
	 * wait for a server reply. Do not forward them; feed them again from
	 * exactly that sequence number (the client retransmits what is dropped). */
	SMTP_STATUS_HOLD,
};

/* What on_command tells the tracker. */
enum smtp_action {
	SMTP_CONTINUE,
	/* Stop parsing the client side here: this line's bytes count as not
	 * consumed (the worker takes over or gives up from cmd->seq). */
	SMTP_STOP,
};

/*
 * A command line, valid only during on_command. Lengths are explicit: NUL
 * and 8-bit bytes are ordinary bytes. arg points into line and is never
 * NULL (an empty argument points at the end of the line):
 *   HELO, EHLO   the rest of the line after the keyword and its blanks;
 *   MAIL, RCPT   the rest after "FROM:" / "TO:" (blanks allowed between
 *                keyword and "FROM:", and after the colon, as Postfix does);
 *                when "FROM:"/"TO:" is missing, the rest after the keyword
 *                and its blanks (the server will answer 501);
 *   other verbs  the rest after the keyword and its blanks (BDAT: "N [LAST]");
 *   UNKNOWN      empty.
 * "Blanks" are the bytes C's isspace() accepts (SP, HT, VT, FF, CR): the
 * delimiters of Postfix's command tokenizer (smtpd_token.c).
 */
struct smtp_command {
	enum smtp_verb verb;
	const uint8_t *line; /* the command: see smtp_feed_client for what is kept */
	uint32_t line_len;
	const uint8_t *arg;
	uint32_t arg_len;
	uint32_t seq;     /* TCP sequence number of the line's first byte */
	uint32_t end_seq; /* sequence number just past the line's LF */
	/* A line of a message body read as a command, because the body held an
	 * end-of-data form that some servers accept and others do not (see
	 * smtp_feed_client). Judge it; it is not on the pending-reply queue and
	 * its bytes stay body bytes for this tracker. */
	bool shadow;
};

/* A complete server reply (its final line). */
struct smtp_reply {
	enum smtp_verb verb; /* the command it answers; SMTP_VERB_GREETING for the banner */
	uint16_t code;       /* the final line's 3-digit code */
	uint32_t end_seq;    /* server sequence number just past the final line's LF */
	/* The reply's first line after its code and separator, without CR LF
	 * ("mx.example.com ESMTP" of "220 mx.example.com ESMTP"), when that
	 * whole line and the final line came in the same server feed; else
	 * NULL and 0. Points into that feed's data: valid in the callback. */
	const uint8_t *text;
	uint32_t text_len;
};

/* Callbacks; either may be NULL. Called synchronously from the feeds. */
struct smtp_handler {
	enum smtp_action (*on_command)(void *arg, const struct smtp_command *cmd);
	void (*on_reply)(void *arg, const struct smtp_reply *reply);
};

/* RFC 5321 4.5.3.1.4: 512 octets; Postfix's line_length_limit default is 2048. */
#define SMTP_LINE_MAX_MIN 512u
#define SMTP_LINE_MAX_DEFAULT 2048u
#define SMTP_LINE_MAX_MAX 65535u
/* Commands sent and not yet answered that a session can track. */
#define SMTP_PIPELINE_MAX 32u

/* Per-worker things the feeds need. Set up with smtp_env_init(). */
struct smtp_env {
	struct block_pool *pool;              /* partial command lines */
	const struct scan_commands *commands; /* the compiled command set */
	struct hs_scratch *scratch;           /* this worker's scratch for commands */
	uint32_t line_max;                    /* see smtp_env_init() */
};

/*
 * Fill env. line_max: the longest command line accepted, counting every
 * byte before the LF (a CR included); 0 means SMTP_LINE_MAX_DEFAULT. It
 * must lie in [SMTP_LINE_MAX_MIN, SMTP_LINE_MAX_MAX] and fit in one block
 * of pool. Returns 0, or -1 with a one-line message in err.
 */
int smtp_env_init(struct smtp_env *env, struct block_pool *pool,
                  const struct scan_commands *commands, struct hs_scratch *scratch,
                  uint32_t line_max, char *err, size_t err_size);

/*
 * Per-flow state: 32 bytes, opaque (fields are private to smtp.c).
 * pending: the verbs awaiting a reply, 4 bits each, oldest in the low bits
 * of pending[0]. line_block/line_len: the incomplete (or over-long) line.
 * u: the BDAT octets still to skip, the hold point, or the sequence number
 * of the line in the block. reply: the reply parser (code and position).
 * aux: the body scanner in a body, the stop reason after a passthrough.
 */
struct smtp_session {
	uint64_t pending[2];
	uint32_t line_block;
	union {
		uint32_t bdat_left; /* SMTP_STATE_BDAT */
		uint32_t hold_seq;  /* while held, until the feed that resumes */
		uint32_t line_seq;  /* a line in line_block, or one being skipped */
	} u;
	uint16_t line_len;
	uint16_t reply;
	uint8_t state;
	uint8_t flags;
	uint8_t npending;
	uint8_t aux;
};

/* A fresh session at the start of a connection: command state, the
 * server's greeting pending, no block held. */
void smtp_session_init(struct smtp_session *s);

/* Give back the session's block, if any (pool: the env's pool). The
 * session must be initialized again before reuse. */
void smtp_session_release(struct smtp_session *s, struct block_pool *pool);

/*
 * Client-to-server bytes data[0..len), in order and contiguous with the
 * previous client feed (after a HOLD: starting at or before the hold point,
 * see below); seq is the sequence number of data[0] (any value: arithmetic
 * is modulo 2^32). Calls h->on_command for each complete command line, in
 * order. Rules:
 *  - A line ends at LF (a bare LF too, as Postfix's smtp_get reads it).
 *    Up to env->line_max bytes before the LF, the command is the line
 *    without the CRs right before the LF; a CR elsewhere is an ordinary
 *    byte. A longer line's command is its first env->line_max bytes, kept
 *    as they are, and the rest up to the LF is skipped (Postfix's
 *    line_length_limit with SMTP_GET_FLAG_SKIP): the line is reported when
 *    its LF arrives, end_seq just past that LF.
 *  - Blanks (isspace(): SP, HT, VT, FF, CR) before the keyword are
 *    skipped; the keyword matches case-insensitively (RFC 5321 2.4) and
 *    must be followed by a blank or the end of the line; anything else is
 *    UNKNOWN (Postfix's smtpd_token splits words on isspace()). The
 *    keyword is found by Hyperscan (scan_command_verb).
 *  - PIPELINING (RFC 2920): each command goes on the pending-reply queue
 *    (SMTP_PIPELINE_MAX entries). A line that starts while the queue is
 *    full is held until a reply makes room.
 *  - DATA, STARTTLS, AUTH and each SASL line end a pipelined group (RFC
 *    2920 3.1, RFC 3207 6, RFC 4954 4): bytes after them and before their
 *    reply are held. The reply says how they are read: after 354 as the
 *    body, after 334 as a SASL line, after 4xx/5xx as commands; after 220
 *    to STARTTLS the session is TLS_STARTED.
 *  - Body (after 354): skipped until CRLF.CRLF (RFC 5321 4.1.1.4); the
 *    server's reply to it is queued as DATA. A dot next to a bare CR or LF
 *    (LF.LF, CRLF.LF, LF.CRLF, CR.CR: what some servers take as the end,
 *    CVE-2023-51764/51765/51766) does not end it, but from there on every
 *    body line is also reported as a command with shadow set (not queued,
 *    smtp_pending_replies() unchanged), until the real CRLF.CRLF. If the
 *    server answers before that (it took such a form as the end), the
 *    session goes on in command state from where the shadow lines are.
 *  - BDAT N [LAST] (RFC 3030): the next N octets are skipped at once, with
 *    no wait for the reply, whatever the reply (a server that announces
 *    CHUNKING reads and discards a chunk it refuses, RFC 3030 2); N must be
 *    digits with a value below 2^32 and the only other word "LAST", else
 *    BAD_BDAT_SIZE (line not reported).
 *  - AUTH (RFC 4954 4): after a 334 the next line is SASL data, not a
 *    command: it is not reported and its reply is queued as AUTH.
 * Hold: the feed returns SMTP_STATUS_HOLD when it stopped at the start of
 * a line it may not read yet; it consumed the bytes before
 * smtp_session_hold_seq() and none from it. Until the server's reply
 * resolves the wait, a feed that reaches the hold point returns HOLD at
 * once, consuming nothing. Afterwards the next feed must start at or before
 * the hold point (bytes before it are skipped, already consumed) and is
 * parsed in the new state; one that starts beyond it returns HOLD.
 * Returns the session's status; once STOPPED or PASSTHROUGH, feeds return
 * at once.
 */
enum smtp_status smtp_feed_client(struct smtp_session *s, const struct smtp_env *env,
                                  const struct smtp_handler *h, void *arg, uint32_t seq,
                                  const uint8_t *data, uint32_t len);

/*
 * Server-to-client bytes data[0..len), in order and contiguous with the
 * previous server feed; seq is the sequence number of data[0]. A reply is
 * one or more lines "ddd-text" ending with "ddd text" or a bare "ddd"
 * (RFC 5321 4.2.1), each ending at LF (CR before it ignored). For each
 * final line, h->on_reply gets the oldest pending verb and the code.
 * Anything but a code 200-599 then '-', SP, CR or LF at a line start is
 * BAD_REPLY; a final line with nothing pending is REPLY_WITHOUT_COMMAND.
 * 354 to DATA enters the body, 220 to STARTTLS is TLS_STARTED, and a 4xx
 * or 5xx to either returns to commands; any other code to either is
 * UNEXPECTED_REPLY (will the server read a body, start TLS? ambiguous).
 * 334 to AUTH expects SASL data, any other code ends the exchange. A reply
 * that ends a wait turns HOLD into CONTINUE. A reply during a body after a
 * shadow line start is the server's answer to a message it ended early: it
 * is reported as DATA's and the session returns to commands (see
 * smtp_feed_client). The code of the final line is
 * reported (RFC 5321 4.2.1 says every line carries the same). No line
 * buffer: a few bytes of state.
 * After SMTP_STOP the server side keeps matching replies to the commands
 * queued before the stop (so the worker sees smtp_pending_replies() fall
 * to 0) and returns SMTP_STATUS_STOPPED; it can still turn to PASSTHROUGH.
 */
enum smtp_status smtp_feed_server(struct smtp_session *s, const struct smtp_env *env,
                                  const struct smtp_handler *h, void *arg, uint32_t seq,
                                  const uint8_t *data, uint32_t len);

enum smtp_state smtp_session_state(const struct smtp_session *s);

/* The current status: STOPPED, PASSTHROUGH, HOLD while a held session still
 * waits for its reply, else CONTINUE. */
enum smtp_status smtp_session_status(const struct smtp_session *s);

/* Where the bytes the tracker has not parsed begin: meaningful after a feed
 * returned SMTP_STATUS_HOLD, until the feed that resumes there. Always the
 * start of a command line (after a LF, a BDAT chunk or a message). */
uint32_t smtp_session_hold_seq(const struct smtp_session *s);

/* Why the session was given up; meaningful only in SMTP_STATE_PASSTHROUGH. */
enum smtp_stop smtp_session_stop_reason(const struct smtp_session *s);

/* Session flags (private to smtp.c, here for the inline helpers). */
#define SMTP_F_HELD 0x01   /* bytes from u.hold_seq on were not parsed */
#define SMTP_F_SKIP 0x02   /* the line in line_block is over-long: skipping to its LF */
#define SMTP_F_SHADOW 0x04 /* in a body, after an ambiguous end-of-data: lines are shadows */

/* Commands (greeting included) sent and not yet answered. In a body it is
 * 0: the DATA was answered (354) and shadow lines are no commands unless
 * the server shows it read them so. */
static inline uint32_t smtp_pending_replies(const struct smtp_session *s)
{
	return s->state == SMTP_STATE_BODY ? 0 : s->npending;
}

/* True while message content flows that the tracker does not parse (a DATA
 * body before any ambiguous end-of-data, a BDAT chunk): the worker need not
 * hold those segments. */
static inline bool smtp_in_body(const struct smtp_session *s)
{
	return (s->state == SMTP_STATE_BODY && !(s->flags & SMTP_F_SHADOW)) ||
	       s->state == SMTP_STATE_BDAT;
}

/* Names for output; "unknown"/"?" when out of range. */
const char *smtp_verb_name(enum smtp_verb verb);
/* The keyword of a verb ("HELO"), NULL for GREETING, UNKNOWN or out of range. */
const char *smtp_verb_keyword(enum smtp_verb verb);
const char *smtp_stop_name(enum smtp_stop reason);
const char *smtp_stop_description(enum smtp_stop reason);
const char *smtp_state_name(enum smtp_state state);

#endif
