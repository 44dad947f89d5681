/*
 * takeover: what helogate answers, as the server would, once it has taken
 * a bogus session over (enforce mode). The worker handles TCP; this module
 * turns the client's bytes into reply bytes, like Postfix's postscreen does
 * for a rejected client: a 550 per RCPT, 250 to MAIL, RSET, NOOP, HELO and
 * EHLO, 554 to DATA/BDAT with the session kept open (a BDAT chunk is read
 * and discarded; body lines sent after a refused DATA end the session with
 * 421), a refusal of STARTTLS, 221 and close on QUIT, 502 to anything else,
 * and 421 and close after too many commands.
 *
 * Pure: no packets, no allocation; the dialogue state is a small struct the
 * worker keeps in a pool block. Message bodies are never read.
 */
#ifndef HG_TAKEOVER_H
#define HG_TAKEOVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hs.h>

#include "smtp/smtp.h"
#include "judge/verdict.h"

/* Longest reply template and longest formatted reply line. */
#define TAKEOVER_TEMPLATE_MAX 200
#define TAKEOVER_REPLY_MAX 600
/* Longest command line read from a rejected client (RFC 5321 4.5.3.1.4:
 * 512 octets with CRLF; longer lines get 500 and the session is closed). */
#define TAKEOVER_LINE_MAX 512
/* Postscreen-like bounds (postscreen's defaults are 20 commands, 300 s). */
#define TAKEOVER_COMMANDS_MAX 20

/*
 * The 550 reply for a rejected RCPT, per reason, as a template: "%a" is the
 * recipient (without angle brackets), "%h" the HELO address (for server-ip:
 * the address alone, no brackets), "%%" a percent sign.
 */
struct takeover_texts {
	char rcpt[VERDICT_COUNT][TAKEOVER_TEMPLATE_MAX];
};

/* The reply helogate sends to a rejected RCPT (arg: the text after "TO:",
 * or the bare mailbox): the reason's template with its escapes filled, then
 * CRLF, at most TAKEOVER_REPLY_MAX bytes into out. Uses s->reason, s->helo
 * and s->texts only. Returns the length. */
struct takeover_session;
size_t takeover_format_rcpt_reply(const struct takeover_session *s, const uint8_t *arg,
                                  uint32_t arg_len, char *out);

/* The defaults of the enforcement issue: "550 5.7.1 %a... Access denied -
 * bogus HELO", "... bogus HELO (%h)" for server-ip, "... bogus HELO matches
 * RCPT" for matches-rcpt. */
void takeover_texts_default(struct takeover_texts *texts);

/* Check a template: printable ASCII, starts with a 5xx code and a space,
 * only the escapes above. Returns 0, or -1 with a message in err. */
int takeover_template_check(const char *text, char *err, size_t err_size);

/* The part of a session's state this module owns (in the worker's block). */
struct takeover_dialogue {
	uint16_t line_len; /* bytes of an incomplete line in line[] */
	uint16_t commands; /* commands answered so far */
	uint8_t reason;    /* enum verdict_reason of the session */
	bool closed;       /* a closing reply was produced: ignore further input */
	bool data_refused; /* the last command was DATA, refused: a body line next ends it */
	uint32_t skip;     /* octets of a refused BDAT chunk still to discard (RFC 3030 2) */
	uint8_t line[TAKEOVER_LINE_MAX];
};

/* What one feed produced. */
struct takeover_output {
	uint32_t len;      /* reply bytes written to out */
	uint16_t rejected; /* RCPT commands answered with the 550 */
	bool close;        /* send FIN after the replies: the session ends */
};

/* Per-session constants the replies need. */
struct takeover_session {
	enum verdict_reason reason;
	const char *helo; /* the HELO argument as sent */
	size_t helo_len;
	const struct takeover_texts *texts;
	const struct scan_commands *commands; /* verb recognition, as in smtp */
	hs_scratch_t *scratch;
	/* Called for each RCPT answered with the 550 (arg: the text after
	 * "TO:"), e.g. to write an event. May be NULL. */
	void (*on_rejected_rcpt)(void *arg, const uint8_t *rcpt, uint32_t len);
	void *arg;
};

void takeover_dialogue_init(struct takeover_dialogue *d, enum verdict_reason reason);

/*
 * Answer one command (the takeover starts with the command that triggered
 * it: RCPT or STARTTLS). Appends the reply line(s) to out (at most
 * TAKEOVER_REPLY_MAX bytes are needed) and fills *o.
 */
void takeover_answer(struct takeover_dialogue *d, const struct takeover_session *s,
                     enum smtp_verb verb, const uint8_t *arg, uint32_t arg_len, char *out,
                     struct takeover_output *o);

/*
 * Client bytes after the takeover: split into lines (LF ends a line, a CR
 * before it is dropped, as smtp does) and answer each complete line in
 * order. out must hold out_size bytes; lines whose reply would not fit are
 * left unread (line_len stays, *consumed says how far it got), so the
 * caller sends what it has and feeds the rest again. Returns the number of
 * input bytes consumed; after a closing reply, everything (discarded).
 */
uint32_t takeover_feed(struct takeover_dialogue *d, const struct takeover_session *s,
                       const uint8_t *data, uint32_t len, char *out, uint32_t out_size,
                       struct takeover_output *o);

/* The reply when the session's time is up: 421, then the session closes. */
uint32_t takeover_timeout_reply(char *out, uint32_t out_size);

#endif
