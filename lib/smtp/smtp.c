/* smtp: the per-flow SMTP session tracker (contract in smtp.h). */
#include "smtp/smtp.h"

#include <stdio.h>
#include <string.h>

#include "tcp/block_pool.h"
#include "smtp/scan.h"

_Static_assert(SMTP_VERB_COUNT <= 16, "the pending queue stores a verb in 4 bits");
_Static_assert(SMTP_PIPELINE_MAX <= 32, "the pending queue holds 32 verbs");
_Static_assert(sizeof(struct smtp_session) <= 32, "struct smtp_session grew past 32 bytes");
_Static_assert(SMTP_STATE_COUNT <= 256 && SMTP_STOP_COUNT <= 256, "stored in a uint8_t");

/* Server reply parser: reply_pos. */
enum { REPLY_DIGIT0, REPLY_DIGIT1, REPLY_DIGIT2, REPLY_SEP, REPLY_SKIP_CONT, REPLY_SKIP_FINAL };

/* Body scanner: a dot that may end the data, waiting for the bytes after it. */
enum { DOT_NONE, DOT_CLEAN, DOT_CLEAN_CR, DOT_BARE };

static const uint8_t keyword_len[] = {
#define SMTP_VERB_KLEN(sym, keyword, name) [SMTP_VERB_##sym] = sizeof(keyword) - 1,
    SMTP_VERBS(SMTP_VERB_KLEN)
#undef SMTP_VERB_KLEN
};

static inline bool is_blank(uint8_t c)
{
	return c == ' ' || c == '\t';
}

static inline bool is_crlf(uint8_t c)
{
	return c == '\r' || c == '\n';
}

static uint32_t skip_blanks(const uint8_t *p, uint32_t i, uint32_t len)
{
	while (i < len && is_blank(p[i]))
		i++;
	return i;
}

/* ASCII case-insensitive compare of p[0..n) with upper-case text. */
static bool ascii_ieq(const uint8_t *p, const char *upper, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		uint8_t c = p[i];
		if (c >= 'a' && c <= 'z')
			c = (uint8_t)(c - 'a' + 'A');
		if (c != (uint8_t)upper[i])
			return false;
	}
	return true;
}

/* 4yz and 5yz: the command was refused, nothing changed (RFC 5321 4.2.1). */
static inline bool is_refusal(uint16_t code)
{
	return code >= 400 && code < 600;
}

static enum smtp_status status_of(const struct smtp_session *s)
{
	if (s->state == SMTP_STATE_STOPPED)
		return SMTP_STATUS_STOPPED;
	if (s->state == SMTP_STATE_PASSTHROUGH)
		return SMTP_STATUS_PASSTHROUGH;
	return SMTP_STATUS_CONTINUE;
}

static void drop_line(struct smtp_session *s, const struct smtp_env *env)
{
	if (s->line_block != BLOCK_POOL_NONE)
		block_pool_put(env->pool, s->line_block);
	s->line_block = BLOCK_POOL_NONE;
	s->line_len = 0;
}

static enum smtp_status stop_tracking(struct smtp_session *s, const struct smtp_env *env,
                                enum smtp_stop why)
{
	drop_line(s, env);
	s->state = SMTP_STATE_PASSTHROUGH;
	s->stop_reason = (uint8_t)why;
	return SMTP_STATUS_PASSTHROUGH;
}

static bool queue_push(struct smtp_session *s, enum smtp_verb verb)
{
	if (s->npending >= SMTP_PIPELINE_MAX)
		return false;
	unsigned i = s->npending++;
	s->pending[i >> 4] |= (uint64_t)verb << ((i & 15) * 4);
	return true;
}

static enum smtp_verb queue_pop(struct smtp_session *s)
{
	enum smtp_verb verb = (enum smtp_verb)(s->pending[0] & 15);

	s->pending[0] = (s->pending[0] >> 4) | (s->pending[1] << 60);
	s->pending[1] >>= 4;
	s->npending--;
	return verb;
}

int smtp_env_init(struct smtp_env *env, struct block_pool *pool,
                  const struct scan_commands *commands, struct hs_scratch *scratch,
                  uint32_t line_max, char *err, size_t err_size)
{
	if (line_max == 0)
		line_max = SMTP_LINE_MAX_DEFAULT;
	if (pool == NULL || commands == NULL || scratch == NULL) {
		snprintf(err, err_size,
		         "smtp: block pool, command database and scratch are required");
		return -1;
	}
	if (line_max < SMTP_LINE_MAX_MIN || line_max > SMTP_LINE_MAX_MAX) {
		snprintf(err, err_size, "smtp: line bound %u outside [%u, %u]", line_max,
		         SMTP_LINE_MAX_MIN, SMTP_LINE_MAX_MAX);
		return -1;
	}
	if (line_max > block_pool_block_size(pool)) {
		snprintf(err, err_size, "smtp: line bound %u exceeds the block size %u", line_max,
		         block_pool_block_size(pool));
		return -1;
	}
	env->pool = pool;
	env->commands = commands;
	env->scratch = scratch;
	env->line_max = line_max;
	return 0;
}

void smtp_session_init(struct smtp_session *s)
{
	memset(s, 0, sizeof(*s));
	s->line_block = BLOCK_POOL_NONE;
	s->state = SMTP_STATE_COMMAND;
	queue_push(s, SMTP_VERB_GREETING);
}

void smtp_session_release(struct smtp_session *s, struct block_pool *pool)
{
	if (s->line_block != BLOCK_POOL_NONE)
		block_pool_put(pool, s->line_block);
	s->line_block = BLOCK_POOL_NONE;
	s->line_len = 0;
}

/* BDAT's argument: chunk-size [SP "LAST"] (RFC 3030 2), blanks as Postfix. */
static bool parse_bdat(const uint8_t *a, uint32_t n, uint32_t *size)
{
	uint64_t v = 0;
	uint32_t i = 0;

	while (i < n && a[i] >= '0' && a[i] <= '9') {
		v = v * 10 + (uint32_t)(a[i] - '0');
		if (v > UINT32_MAX)
			return false;
		i++;
	}
	if (i == 0)
		return false;
	uint32_t j = skip_blanks(a, i, n);
	if (j < n) {
		if (j == i || n - j < 4 || !ascii_ieq(a + j, "LAST", 4))
			return false;
		if (skip_blanks(a, j + 4, n) < n)
			return false;
	}
	*size = (uint32_t)v;
	return true;
}

/* Verb and argument of line[0..len) (no line ending). */
static void parse_command(const struct smtp_env *env, const uint8_t *line, uint32_t len,
                          struct smtp_command *cmd)
{
	uint32_t i = skip_blanks(line, 0, len);
	enum smtp_verb verb = scan_command_verb(env->commands, env->scratch, line + i, len - i);

	cmd->verb = verb;
	cmd->line = line;
	cmd->line_len = len;
	cmd->arg = line + len;
	cmd->arg_len = 0;
	if (verb >= SMTP_VERB_UNKNOWN)
		return;
	i = skip_blanks(line, i + keyword_len[verb], len);
	/* Postfix tokenizes on blanks: "MAIL  FROM: <a>" is accepted as MAIL FROM:<a>. */
	if (verb == SMTP_VERB_MAIL && len - i >= 5 && ascii_ieq(line + i, "FROM:", 5))
		i = skip_blanks(line, i + 5, len);
	else if (verb == SMTP_VERB_RCPT && len - i >= 3 && ascii_ieq(line + i, "TO:", 3))
		i = skip_blanks(line, i + 3, len);
	cmd->arg = line + i;
	cmd->arg_len = len - i;
}

/* A complete client line line[0..raw_len) (without its LF). */
static enum smtp_status on_line(struct smtp_session *s, const struct smtp_env *env,
                                const struct smtp_handler *h, void *arg, const uint8_t *line,
                                uint32_t raw_len, uint32_t seq, uint32_t end_seq)
{
	uint32_t len = raw_len;

	if (len > 0 && line[len - 1] == '\r')
		len--;
	if (s->state == SMTP_STATE_AUTH_RESPONSE) {
		/* RFC 4954 4: after 334 the line is SASL data, answered like AUTH. */
		if (!queue_push(s, SMTP_VERB_AUTH))
			return stop_tracking(s, env, SMTP_STOP_PIPELINE_OVERFLOW);
		s->state = SMTP_STATE_AUTH_WAIT;
		return SMTP_STATUS_CONTINUE;
	}

	struct smtp_command cmd;
	uint32_t bdat_size = 0;

	parse_command(env, line, len, &cmd);
	if (cmd.verb == SMTP_VERB_COUNT)
		return stop_tracking(s, env, SMTP_STOP_SCAN_ERROR);
	if (cmd.verb == SMTP_VERB_BDAT && !parse_bdat(cmd.arg, cmd.arg_len, &bdat_size))
		return stop_tracking(s, env, SMTP_STOP_BAD_BDAT_SIZE);
	if (s->npending >= SMTP_PIPELINE_MAX)
		return stop_tracking(s, env, SMTP_STOP_PIPELINE_OVERFLOW);
	cmd.seq = seq;
	cmd.end_seq = end_seq;
	if (h != NULL && h->on_command != NULL && h->on_command(arg, &cmd) == SMTP_STOP) {
		s->state = SMTP_STATE_STOPPED;
		return SMTP_STATUS_STOPPED;
	}
	queue_push(s, cmd.verb);
	switch (cmd.verb) {
	case SMTP_VERB_DATA:
		s->state = SMTP_STATE_DATA_WAIT;
		break;
	case SMTP_VERB_STARTTLS:
		s->state = SMTP_STATE_STARTTLS_WAIT;
		break;
	case SMTP_VERB_AUTH:
		s->state = SMTP_STATE_AUTH_WAIT;
		break;
	case SMTP_VERB_BDAT:
		/* RFC 3030 2: the chunk follows the line at once, reply or not. */
		if (bdat_size > 0) {
			s->state = SMTP_STATE_BDAT;
			s->u.bdat_left = bdat_size;
		}
		break;
	default:
		break;
	}
	return SMTP_STATUS_CONTINUE;
}

/*
 * Command lines from *pp while the state reads lines. An incomplete line
 * can only be pending at the start of a feed (*pp == data): it is completed
 * from the block; complete lines in data are parsed in place.
 */
static enum smtp_status read_lines(struct smtp_session *s, const struct smtp_env *env,
                                   const struct smtp_handler *h, void *arg, uint32_t seq,
                                   const uint8_t *data, const uint8_t **pp, const uint8_t *end)
{
	const uint8_t *p = *pp;
	enum smtp_status st;

	if (s->line_block != BLOCK_POOL_NONE) {
		size_t room = env->line_max - s->line_len;
		size_t avail = (size_t)(end - p);
		const uint8_t *lf = memchr(p, '\n', avail < room + 1 ? avail : room + 1);
		uint8_t *buf = block_pool_data(env->pool, s->line_block);

		if (lf == NULL) {
			if (avail > room)
				return stop_tracking(s, env, SMTP_STOP_LINE_TOO_LONG);
			memcpy(buf + s->line_len, p, avail);
			s->line_len = (uint16_t)(s->line_len + avail);
			*pp = end;
			return SMTP_STATUS_CONTINUE;
		}
		uint32_t n = (uint32_t)(lf - p);
		uint32_t line_seq = seq + (uint32_t)(p - data) - s->line_len;

		memcpy(buf + s->line_len, p, n);
		p = lf + 1;
		*pp = p;
		st = on_line(s, env, h, arg, buf, s->line_len + n, line_seq,
		             seq + (uint32_t)(p - data));
		drop_line(s, env);
		if (st != SMTP_STATUS_CONTINUE)
			return st;
	}
	while (p < end &&
	       (s->state == SMTP_STATE_COMMAND || s->state == SMTP_STATE_AUTH_RESPONSE)) {
		size_t avail = (size_t)(end - p);
		size_t window = avail < env->line_max + 1u ? avail : env->line_max + 1u;
		const uint8_t *lf = memchr(p, '\n', window);

		if (lf == NULL) {
			if (avail > env->line_max)
				return stop_tracking(s, env, SMTP_STOP_LINE_TOO_LONG);
			uint32_t b = block_pool_get(env->pool);
			if (b == BLOCK_POOL_NONE)
				return stop_tracking(s, env, SMTP_STOP_POOL_EXHAUSTED);
			memcpy(block_pool_data(env->pool, b), p, avail);
			s->line_block = b;
			s->line_len = (uint16_t)avail;
			p = end;
			break;
		}
		const uint8_t *next = lf + 1;

		st = on_line(s, env, h, arg, p, (uint32_t)(lf - p), seq + (uint32_t)(p - data),
		             seq + (uint32_t)(next - data));
		if (st != SMTP_STATUS_CONTINUE) {
			*pp = p;
			return st;
		}
		p = next;
	}
	*pp = p;
	return SMTP_STATUS_CONTINUE;
}

static void body_keep_tail(struct smtp_session *s, const uint8_t *start, const uint8_t *end)
{
	if (end - start >= 2) {
		s->u.body.tail[0] = end[-2];
	} else {
		s->u.body.tail[0] = s->u.body.tail[1];
	}
	s->u.body.tail[1] = end[-1];
}

/*
 * Skip DATA body bytes from *pp (at least one) up to and including
 * CRLF.CRLF (RFC 5321 4.1.1.4). Only dots are examined (memchr): a dot is
 * a possible end when the byte before it is CR or LF and the byte after it
 * is CR or LF. It ends the data only as CRLF . CRLF; any other shape
 * (LF . LF, CRLF . LF, LF . CRLF, CR . CR, ...) is what some servers take
 * as the end and others as content: the SMTP smuggling ambiguity
 * (CVE-2023-51764, -51765, -51766), so the flow is given up.
 */
static enum smtp_status skip_body(struct smtp_session *s, const struct smtp_env *env,
                                  const uint8_t **pp, const uint8_t *end)
{
	const uint8_t *start = *pp;
	const uint8_t *p = start;
	const uint8_t *after;

	switch (s->u.body.dot) {
	case DOT_BARE:
		if (is_crlf(p[0]))
			return stop_tracking(s, env, SMTP_STOP_SMUGGLING_SUSPECT);
		s->u.body.dot = DOT_NONE;
		break;
	case DOT_CLEAN:
		if (p[0] == '\n')
			return stop_tracking(s, env, SMTP_STOP_SMUGGLING_SUSPECT);
		if (p[0] != '\r') {
			s->u.body.dot = DOT_NONE;
			break;
		}
		if (p + 1 == end) {
			s->u.body.dot = DOT_CLEAN_CR;
			goto more;
		}
		if (p[1] != '\n')
			return stop_tracking(s, env, SMTP_STOP_SMUGGLING_SUSPECT);
		after = p + 2;
		goto done;
	case DOT_CLEAN_CR:
		if (p[0] != '\n')
			return stop_tracking(s, env, SMTP_STOP_SMUGGLING_SUSPECT);
		after = p + 1;
		goto done;
	default:
		break;
	}
	for (;;) {
		const uint8_t *d = memchr(p, '.', (size_t)(end - p));
		if (d == NULL)
			break;
		p = d + 1;
		size_t off = (size_t)(d - start);
		uint8_t p1 = off >= 1 ? d[-1] : s->u.body.tail[1];
		if (!is_crlf(p1))
			continue;
		uint8_t p2 = off >= 2 ? d[-2] : off == 1 ? s->u.body.tail[1] : s->u.body.tail[0];
		bool clean = p1 == '\n' && p2 == '\r';
		if (p == end) {
			s->u.body.dot = clean ? DOT_CLEAN : DOT_BARE;
			break;
		}
		if (!is_crlf(d[1]))
			continue;
		if (!clean || d[1] == '\n')
			return stop_tracking(s, env, SMTP_STOP_SMUGGLING_SUSPECT);
		if (d + 2 == end) {
			s->u.body.dot = DOT_CLEAN_CR;
			break;
		}
		if (d[2] != '\n')
			return stop_tracking(s, env, SMTP_STOP_SMUGGLING_SUSPECT);
		after = d + 3;
		goto done;
	}
more:
	body_keep_tail(s, start, end);
	*pp = end;
	return SMTP_STATUS_CONTINUE;
done:
	/* The server answers the whole message after the terminator. */
	if (!queue_push(s, SMTP_VERB_DATA))
		return stop_tracking(s, env, SMTP_STOP_PIPELINE_OVERFLOW);
	s->state = SMTP_STATE_COMMAND;
	s->u.bdat_left = 0;
	*pp = after;
	return SMTP_STATUS_CONTINUE;
}

enum smtp_status smtp_feed_client(struct smtp_session *s, const struct smtp_env *env,
                                  const struct smtp_handler *h, void *arg, uint32_t seq,
                                  const uint8_t *data, uint32_t len)
{
	enum smtp_status st = SMTP_STATUS_CONTINUE;

	if (s->state >= SMTP_STATE_STOPPED || len == 0)
		return status_of(s);

	const uint8_t *p = data;
	const uint8_t *end = data + len;
	while (p < end && st == SMTP_STATUS_CONTINUE) {
		switch (s->state) {
		case SMTP_STATE_COMMAND:
		case SMTP_STATE_AUTH_RESPONSE:
			st = read_lines(s, env, h, arg, seq, data, &p, end);
			break;
		case SMTP_STATE_BODY:
			st = skip_body(s, env, &p, end);
			break;
		case SMTP_STATE_BDAT: {
			uint32_t n = (uint32_t)(end - p);
			if (n >= s->u.bdat_left) {
				n = s->u.bdat_left;
				s->state = SMTP_STATE_COMMAND;
			}
			s->u.bdat_left -= n;
			p += n;
			break;
		}
		/* RFC 2920 3.1: DATA, STARTTLS and AUTH end a pipelined group. Bytes
		 * before their reply may be body, TLS or SASL for the server: give up. */
		case SMTP_STATE_DATA_WAIT:
			return stop_tracking(s, env, SMTP_STOP_BYTES_BEFORE_DATA_REPLY);
		case SMTP_STATE_STARTTLS_WAIT:
			return stop_tracking(s, env, SMTP_STOP_BYTES_AFTER_STARTTLS);
		case SMTP_STATE_AUTH_WAIT:
			return stop_tracking(s, env, SMTP_STOP_BYTES_BEFORE_AUTH_REPLY);
		default:
			return status_of(s);
		}
	}
	return st;
}

/* The final line of a reply ended at end_seq: match it to the oldest command. */
static enum smtp_status end_reply(struct smtp_session *s, const struct smtp_env *env,
                                  const struct smtp_handler *h, void *arg, uint32_t end_seq,
                                  const uint8_t *text, uint32_t text_len)
{
	uint16_t code = s->reply_code;

	s->reply_code = 0;
	s->reply_pos = REPLY_DIGIT0;
	if (s->npending == 0)
		return stop_tracking(s, env, SMTP_STOP_REPLY_WITHOUT_COMMAND);
	/* In a wait state the command waited for is the newest one queued (no
	 * client byte may follow it), so it is answered when it is the last. */
	bool last = s->npending == 1;
	enum smtp_verb verb = queue_pop(s);

	if (h != NULL && h->on_reply != NULL) {
		struct smtp_reply r = {.verb = verb, .code = code, .end_seq = end_seq,
		                       .text = text, .text_len = text_len};
		h->on_reply(arg, &r);
	}
	switch (s->state) {
	case SMTP_STATE_DATA_WAIT:
		if (last && verb == SMTP_VERB_DATA) {
			if (code == 354) {
				s->state = SMTP_STATE_BODY;
				/* The body starts at a line start, as after CRLF. */
				s->u.body.tail[0] = '\r';
				s->u.body.tail[1] = '\n';
				s->u.body.dot = DOT_NONE;
			} else if (is_refusal(code)) {
				s->state = SMTP_STATE_COMMAND;
			} else {
				return stop_tracking(s, env, SMTP_STOP_UNEXPECTED_REPLY);
			}
		}
		break;
	case SMTP_STATE_STARTTLS_WAIT:
		if (last && verb == SMTP_VERB_STARTTLS) {
			if (code == 220)
				return stop_tracking(s, env, SMTP_STOP_TLS_STARTED);
			if (!is_refusal(code))
				return stop_tracking(s, env, SMTP_STOP_UNEXPECTED_REPLY);
			s->state = SMTP_STATE_COMMAND;
		}
		break;
	case SMTP_STATE_AUTH_WAIT:
		if (last && verb == SMTP_VERB_AUTH)
			s->state = code == 334 ? SMTP_STATE_AUTH_RESPONSE : SMTP_STATE_COMMAND;
		break;
	default:
		break;
	}
	/* RFC 3030 2 obliges a server that supports BDAT to read a chunk it
	 * rejects; one that does not know BDAT reads the chunk as commands. */
	if (verb == SMTP_VERB_BDAT && code / 100 != 2)
		return stop_tracking(s, env, SMTP_STOP_BDAT_REJECTED);
	return status_of(s);
}

enum smtp_status smtp_feed_server(struct smtp_session *s, const struct smtp_env *env,
                                  const struct smtp_handler *h, void *arg, uint32_t seq,
                                  const uint8_t *data, uint32_t len)
{
	enum smtp_status st;

	if (s->state == SMTP_STATE_PASSTHROUGH || len == 0)
		return status_of(s);

	const uint8_t *p = data;
	const uint8_t *end = data + len;
	/* The first line of the reply at hand, when it began in this feed: its
	 * start, then (once its LF is seen) its text. A line starts a reply
	 * when reply_code is 0: a continuation line keeps the previous code
	 * until its own first digit. */
	const uint8_t *first = NULL, *text = NULL;
	uint32_t text_len = 0;
	while (p < end) {
		if (s->reply_pos >= REPLY_SKIP_CONT) {
			const uint8_t *lf = memchr(p, '\n', (size_t)(end - p));
			if (lf == NULL)
				break;
			p = lf + 1;
			if (first != NULL) {
				text = first + 4 < lf ? first + 4 : lf;
				text_len = (uint32_t)(lf - text);
				if (text_len > 0 && text[text_len - 1] == '\r')
					text_len--;
				first = NULL;
			}
			if (s->reply_pos == REPLY_SKIP_CONT) {
				s->reply_pos = REPLY_DIGIT0;
				continue;
			}
			st = end_reply(s, env, h, arg, seq + (uint32_t)(p - data), text, text_len);
			text = NULL;
			text_len = 0;
			if (st == SMTP_STATUS_PASSTHROUGH)
				return st;
			continue;
		}
		if (s->reply_pos == REPLY_DIGIT0 && s->reply_code == 0) {
			first = p;
			text = NULL;
			text_len = 0;
		}
		uint8_t c = *p++;
		if (s->reply_pos < REPLY_SEP) {
			/* RFC 5321 4.2.1: the first digit is 2 to 5. */
			if (c < (s->reply_pos == REPLY_DIGIT0 ? '2' : '0') ||
			    c > (s->reply_pos == REPLY_DIGIT0 ? '5' : '9'))
				return stop_tracking(s, env, SMTP_STOP_BAD_REPLY);
			/* The first digit replaces a continuation line's code. */
			s->reply_code = (uint16_t)((s->reply_pos == REPLY_DIGIT0 ? 0 : s->reply_code * 10) +
			                           (c - '0'));
			s->reply_pos++;
		} else if (c == '-') {
			s->reply_pos = REPLY_SKIP_CONT;
		} else if (c == ' ' || c == '\r') {
			s->reply_pos = REPLY_SKIP_FINAL;
		} else if (c == '\n') {
			/* "250\n": a first line without text */
			if (first != NULL) {
				text = p - 1;
				text_len = 0;
				first = NULL;
			}
			st = end_reply(s, env, h, arg, seq + (uint32_t)(p - data), text, text_len);
			text = NULL;
			if (st == SMTP_STATUS_PASSTHROUGH)
				return st;
		} else {
			return stop_tracking(s, env, SMTP_STOP_BAD_REPLY);
		}
	}
	return status_of(s);
}

enum smtp_state smtp_session_state(const struct smtp_session *s)
{
	return (enum smtp_state)s->state;
}

enum smtp_status smtp_session_status(const struct smtp_session *s)
{
	return status_of(s);
}

enum smtp_stop smtp_session_stop_reason(const struct smtp_session *s)
{
	return (enum smtp_stop)s->stop_reason;
}

static const char *const verb_names[] = {
#define SMTP_VERB_NAME(sym, keyword, name) [SMTP_VERB_##sym] = name,
    SMTP_VERBS(SMTP_VERB_NAME)
#undef SMTP_VERB_NAME
};

static const char *const verb_keywords[] = {
#define SMTP_VERB_KEYWORD(sym, keyword, name) [SMTP_VERB_##sym] = keyword,
    SMTP_VERBS(SMTP_VERB_KEYWORD)
#undef SMTP_VERB_KEYWORD
};

static const char *const stop_names[] = {
#define SMTP_STOP_NAME(sym, name, desc) [SMTP_STOP_##sym] = name,
    SMTP_STOP_REASONS(SMTP_STOP_NAME)
#undef SMTP_STOP_NAME
};

static const char *const stop_descriptions[] = {
#define SMTP_STOP_DESC(sym, name, desc) [SMTP_STOP_##sym] = desc,
    SMTP_STOP_REASONS(SMTP_STOP_DESC)
#undef SMTP_STOP_DESC
};

static const char *const state_names[] = {
    [SMTP_STATE_COMMAND] = "command",
    [SMTP_STATE_DATA_WAIT] = "data-wait",
    [SMTP_STATE_BODY] = "body",
    [SMTP_STATE_BDAT] = "bdat",
    [SMTP_STATE_STARTTLS_WAIT] = "starttls-wait",
    [SMTP_STATE_AUTH_WAIT] = "auth-wait",
    [SMTP_STATE_AUTH_RESPONSE] = "auth-response",
    [SMTP_STATE_STOPPED] = "stopped",
    [SMTP_STATE_PASSTHROUGH] = "passthrough",
};

const char *smtp_verb_name(enum smtp_verb verb)
{
	if ((unsigned)verb >= SMTP_VERB_COUNT)
		return "?";
	return verb_names[verb];
}

const char *smtp_verb_keyword(enum smtp_verb verb)
{
	if ((unsigned)verb >= SMTP_VERB_COUNT || verb_keywords[verb][0] == '\0')
		return NULL;
	return verb_keywords[verb];
}

const char *smtp_stop_name(enum smtp_stop reason)
{
	if ((unsigned)reason >= SMTP_STOP_COUNT)
		return "unknown";
	return stop_names[reason];
}

const char *smtp_stop_description(enum smtp_stop reason)
{
	if ((unsigned)reason >= SMTP_STOP_COUNT)
		return "unknown";
	return stop_descriptions[reason];
}

const char *smtp_state_name(enum smtp_state state)
{
	if ((unsigned)state >= SMTP_STATE_COUNT)
		return "unknown";
	return state_names[state];
}
