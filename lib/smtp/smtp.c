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

/* Server reply parser: the position in the line, in the top bits of reply. */
enum { REPLY_DIGIT0, REPLY_DIGIT1, REPLY_DIGIT2, REPLY_SEP, REPLY_SKIP_CONT, REPLY_SKIP_FINAL };
#define REPLY_POS_SHIFT 12
#define REPLY_CODE_MASK 0x0fffu

/* Body scanner, in aux: the classes of the last two body bytes before the
 * next feed (bits 0-1: the last, 2-3: the one before) and a dot that may end
 * the data, waiting for the bytes after it (bits 4-5). */
enum { CLASS_OTHER, CLASS_CR, CLASS_LF };
enum { DOT_NONE, DOT_CLEAN, DOT_CLEAN_CR, DOT_BARE };

static const uint8_t keyword_len[] = {
#define SMTP_VERB_KLEN(sym, keyword, name) [SMTP_VERB_##sym] = sizeof(keyword) - 1,
    SMTP_VERBS(SMTP_VERB_KLEN)
#undef SMTP_VERB_KLEN
};

/* Postfix's smtpd_token splits words on ISSPACE(), C's isspace() on ASCII:
 * SP, HT, LF, VT, FF, CR (LF cannot occur inside a line). */
static inline bool is_blank(uint8_t c)
{
	return c == ' ' || (c >= '\t' && c <= '\r');
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

static inline unsigned reply_pos(const struct smtp_session *s)
{
	return s->reply >> REPLY_POS_SHIFT;
}

static inline uint16_t reply_code(const struct smtp_session *s)
{
	return s->reply & REPLY_CODE_MASK;
}

static inline void reply_set(struct smtp_session *s, unsigned pos, unsigned code)
{
	s->reply = (uint16_t)((pos << REPLY_POS_SHIFT) | code);
}

/* True while the client side waits for a reply before it may read on: a
 * command that ends a pipelined group, or a full queue. */
static bool waiting(const struct smtp_session *s)
{
	switch (s->state) {
	case SMTP_STATE_DATA_WAIT:
	case SMTP_STATE_STARTTLS_WAIT:
	case SMTP_STATE_AUTH_WAIT:
		return true;
	case SMTP_STATE_COMMAND:
	case SMTP_STATE_AUTH_RESPONSE:
		return s->npending >= SMTP_PIPELINE_MAX;
	default:
		return false;
	}
}

static enum smtp_status status_of(const struct smtp_session *s)
{
	if (s->state == SMTP_STATE_STOPPED)
		return SMTP_STATUS_STOPPED;
	if (s->state == SMTP_STATE_PASSTHROUGH)
		return SMTP_STATUS_PASSTHROUGH;
	if ((s->flags & SMTP_F_HELD) && waiting(s))
		return SMTP_STATUS_HOLD;
	return SMTP_STATUS_CONTINUE;
}

static void drop_line(struct smtp_session *s, const struct smtp_env *env)
{
	if (s->line_block != BLOCK_POOL_NONE)
		block_pool_put(env->pool, s->line_block);
	s->line_block = BLOCK_POOL_NONE;
	s->line_len = 0;
	s->flags &= (uint8_t)~SMTP_F_SKIP;
}

static enum smtp_status stop_tracking(struct smtp_session *s, const struct smtp_env *env,
                                      enum smtp_stop why)
{
	drop_line(s, env);
	s->state = SMTP_STATE_PASSTHROUGH;
	s->flags = 0;
	s->aux = (uint8_t)why;
	return SMTP_STATUS_PASSTHROUGH;
}

/* Stop before the line starting at sequence number at (reliability rule 2). */
static enum smtp_status hold(struct smtp_session *s, uint32_t at)
{
	s->flags |= SMTP_F_HELD;
	s->u.hold_seq = at;
	return SMTP_STATUS_HOLD;
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

static void queue_clear(struct smtp_session *s)
{
	s->pending[0] = s->pending[1] = 0;
	s->npending = 0;
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
	s->flags &= (uint8_t)~SMTP_F_SKIP;
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

/* A complete client line as the server reads it. */
struct line {
	const uint8_t *ptr;
	uint32_t len;
	uint32_t seq, end_seq;
};

enum line_result { LINE_MORE, LINE_DONE, LINE_NO_POOL };

/* The command of a line of n bytes before its LF, as Postfix's smtp_get()
 * with a bound of line_max and SMTP_GET_FLAG_SKIP reads it: a line that
 * fits loses every CR before its LF; a longer one keeps its first line_max
 * bytes as they are. */
static uint32_t line_command_len(const uint8_t *p, uint32_t kept, uint32_t n, uint32_t line_max)
{
	if (n > line_max)
		return line_max;
	while (kept > 0 && p[kept - 1] == '\r')
		kept--;
	return kept;
}

/*
 * The next line from *pp. LINE_DONE: *out is the line (valid until
 * drop_line), *pp is past its LF. LINE_MORE: the feed ended inside the
 * line; its first line_max bytes are in the block, the rest is skipped.
 */
static enum line_result next_line(struct smtp_session *s, const struct smtp_env *env, uint32_t seq,
                                  const uint8_t *data, const uint8_t **pp, const uint8_t *end,
                                  struct line *out)
{
	const uint8_t *p = *pp;
	size_t avail = (size_t)(end - p);
	const uint8_t *lf = memchr(p, '\n', avail);
	uint32_t p_seq = seq + (uint32_t)(p - data);
	uint32_t max = env->line_max;

	if (s->line_block == BLOCK_POOL_NONE) {
		if (lf != NULL) {
			uint32_t n = (uint32_t)(lf - p);
			out->ptr = p;
			out->len = line_command_len(p, n, n, max);
			out->seq = p_seq;
			out->end_seq = p_seq + n + 1;
			*pp = lf + 1;
			return LINE_DONE;
		}
		uint32_t b = block_pool_get(env->pool);
		if (b == BLOCK_POOL_NONE)
			return LINE_NO_POOL;
		size_t keep = avail < max ? avail : max;
		memcpy(block_pool_data(env->pool, b), p, keep);
		s->line_block = b;
		s->line_len = (uint16_t)keep;
		s->u.line_seq = p_seq;
		if (avail > keep)
			s->flags |= SMTP_F_SKIP;
		*pp = end;
		return LINE_MORE;
	}
	uint8_t *buf = block_pool_data(env->pool, s->line_block);
	size_t n = lf != NULL ? (size_t)(lf - p) : avail;
	size_t room = max - s->line_len;
	size_t keep = n < room ? n : room;

	memcpy(buf + s->line_len, p, keep);
	s->line_len = (uint16_t)(s->line_len + keep);
	if (n > keep)
		s->flags |= SMTP_F_SKIP;
	if (lf == NULL) {
		*pp = end;
		return LINE_MORE;
	}
	out->ptr = buf;
	out->len = line_command_len(buf, s->line_len,
	                            (s->flags & SMTP_F_SKIP) ? max + 1 : s->line_len, max);
	out->seq = s->u.line_seq;
	out->end_seq = seq + (uint32_t)(lf + 1 - data);
	*pp = lf + 1;
	return LINE_DONE;
}

/* A complete client line in command or SASL state. */
static enum smtp_status on_line(struct smtp_session *s, const struct smtp_env *env,
                                const struct smtp_handler *h, void *arg, const struct line *ln)
{
	if (s->state == SMTP_STATE_AUTH_RESPONSE) {
		/* RFC 4954 4: after 334 the line is SASL data, answered like AUTH.
		 * The queue has room: lines start only when it has. */
		queue_push(s, SMTP_VERB_AUTH);
		s->state = SMTP_STATE_AUTH_WAIT;
		return SMTP_STATUS_CONTINUE;
	}

	struct smtp_command cmd;
	uint32_t bdat_size = 0;

	parse_command(env, ln->ptr, ln->len, &cmd);
	if (cmd.verb == SMTP_VERB_COUNT)
		return stop_tracking(s, env, SMTP_STOP_SCAN_ERROR);
	if (cmd.verb == SMTP_VERB_BDAT && !parse_bdat(cmd.arg, cmd.arg_len, &bdat_size))
		return stop_tracking(s, env, SMTP_STOP_BAD_BDAT_SIZE);
	cmd.seq = ln->seq;
	cmd.end_seq = ln->end_seq;
	cmd.shadow = false;
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

/* Command lines from *pp while the state reads lines. */
static enum smtp_status read_lines(struct smtp_session *s, const struct smtp_env *env,
                                   const struct smtp_handler *h, void *arg, uint32_t seq,
                                   const uint8_t *data, const uint8_t **pp, const uint8_t *end)
{
	while (*pp < end &&
	       (s->state == SMTP_STATE_COMMAND || s->state == SMTP_STATE_AUTH_RESPONSE)) {
		/* A line that starts while the queue is full waits for a reply
		 * (RFC 2920: the server answers in order; room comes back). Only
		 * here: the queue cannot grow while a line is incomplete. */
		if (s->line_block == BLOCK_POOL_NONE && s->npending >= SMTP_PIPELINE_MAX)
			return hold(s, seq + (uint32_t)(*pp - data));

		struct line ln;
		enum line_result r = next_line(s, env, seq, data, pp, end, &ln);
		if (r == LINE_MORE)
			break;
		if (r == LINE_NO_POOL)
			return stop_tracking(s, env, SMTP_STOP_POOL_EXHAUSTED);
		enum smtp_status st = on_line(s, env, h, arg, &ln);
		drop_line(s, env);
		if (st != SMTP_STATUS_CONTINUE)
			return st;
	}
	return SMTP_STATUS_CONTINUE;
}

/* Body lines read as commands after an ambiguous end-of-data, in [*pp, end). */
static enum smtp_status shadow_lines(struct smtp_session *s, const struct smtp_env *env,
                                     const struct smtp_handler *h, void *arg, uint32_t seq,
                                     const uint8_t *data, const uint8_t *p, const uint8_t *end)
{
	while (p < end) {
		struct line ln;
		enum line_result r = next_line(s, env, seq, data, &p, end, &ln);
		if (r == LINE_MORE)
			break;
		if (r == LINE_NO_POOL)
			return stop_tracking(s, env, SMTP_STOP_POOL_EXHAUSTED);
		/* An empty line or a lone dot is no command a smuggler can use
		 * (the dot is an end-of-data form itself). */
		if (ln.len == 0 || (ln.len == 1 && ln.ptr[0] == '.')) {
			drop_line(s, env);
			continue;
		}
		struct smtp_command cmd;
		parse_command(env, ln.ptr, ln.len, &cmd);
		if (cmd.verb == SMTP_VERB_COUNT)
			return stop_tracking(s, env, SMTP_STOP_SCAN_ERROR);
		cmd.seq = ln.seq;
		cmd.end_seq = ln.end_seq;
		cmd.shadow = true;
		bool stop =
		    h != NULL && h->on_command != NULL && h->on_command(arg, &cmd) == SMTP_STOP;
		drop_line(s, env);
		if (stop) {
			s->state = SMTP_STATE_STOPPED;
			return SMTP_STATUS_STOPPED;
		}
		/* Remembered (bounded) in the otherwise empty queue, in case the
		 * server shows it read them as commands (end_reply). */
		queue_push(s, cmd.verb);
	}
	return SMTP_STATUS_CONTINUE;
}
static inline uint8_t byte_class(uint8_t c)
{
	return c == '\r' ? CLASS_CR : c == '\n' ? CLASS_LF : CLASS_OTHER;
}

static inline unsigned body_dot(const struct smtp_session *s)
{
	return (s->aux >> 4) & 3;
}

static inline void body_set_dot(struct smtp_session *s, unsigned dot)
{
	s->aux = (uint8_t)((s->aux & 0x0f) | (dot << 4));
}

/* The body starts at a line start, as after CRLF. */
static void body_init(struct smtp_session *s)
{
	s->aux = (uint8_t)(CLASS_LF | (CLASS_CR << 2) | (DOT_NONE << 4));
	s->flags &= (uint8_t)~SMTP_F_SHADOW;
}

/* Keep the classes of the last two bytes of [start, at) for the next scan. */
static void body_keep_tail(struct smtp_session *s, const uint8_t *start, const uint8_t *at)
{
	unsigned last = s->aux & 3, before = (s->aux >> 2) & 3;

	if (at - start >= 2) {
		before = byte_class(at[-2]);
		last = byte_class(at[-1]);
	} else if (at - start == 1) {
		before = last;
		last = byte_class(at[-1]);
	}
	s->aux = (uint8_t)((s->aux & 0x30) | last | (before << 2));
}

enum body_event { BODY_MORE, BODY_END, BODY_AMBIGUOUS };

/*
 * Scan body bytes [p, end) (at least one) for an end of data (RFC 5321
 * 4.1.1.4). Only dots are examined (memchr): a dot is a possible end when
 * the byte before it is CR or LF and the byte after it is CR or LF. It ends
 * the data only as CRLF . CRLF (BODY_END, *at past the LF); any other shape
 * (LF . LF, CRLF . LF, LF . CRLF, CR . CR, ...) is what some servers take as
 * the end and others as content, the SMTP smuggling ambiguity
 * (CVE-2023-51764, -51765, -51766): BODY_AMBIGUOUS, *at past the dot's first
 * CR or LF. BODY_MORE: *at = end.
 */
static enum body_event body_scan(struct smtp_session *s, const uint8_t *p, const uint8_t *end,
                                 const uint8_t **at)
{
	const uint8_t *start = p;
	enum body_event ev = BODY_MORE;
	unsigned dot = body_dot(s);

	body_set_dot(s, DOT_NONE);
	switch (dot) {
	case DOT_BARE:
		if (is_crlf(p[0])) {
			*at = p + 1;
			ev = BODY_AMBIGUOUS;
			goto found;
		}
		break;
	case DOT_CLEAN:
		if (p[0] == '\n') {
			*at = p + 1;
			ev = BODY_AMBIGUOUS;
			goto found;
		}
		if (p[0] != '\r')
			break;
		if (p + 1 == end) {
			body_set_dot(s, DOT_CLEAN_CR);
			goto more;
		}
		*at = p[1] == '\n' ? p + 2 : p + 1;
		ev = p[1] == '\n' ? BODY_END : BODY_AMBIGUOUS;
		goto found;
	case DOT_CLEAN_CR:
		/* CRLF . CR was the end of the last feed. */
		*at = p[0] == '\n' ? p + 1 : p;
		ev = p[0] == '\n' ? BODY_END : BODY_AMBIGUOUS;
		goto found;
	default:
		break;
	}
	for (;;) {
		const uint8_t *d = memchr(p, '.', (size_t)(end - p));
		if (d == NULL)
			break;
		p = d + 1;
		size_t off = (size_t)(d - start);
		unsigned c1 = off >= 1 ? byte_class(d[-1]) : s->aux & 3;
		if (c1 == CLASS_OTHER)
			continue;
		unsigned c2 = off >= 2   ? byte_class(d[-2])
		              : off == 1 ? s->aux & 3
		                         : (s->aux >> 2) & 3;
		bool clean = c1 == CLASS_LF && c2 == CLASS_CR;
		if (p == end) {
			body_set_dot(s, clean ? DOT_CLEAN : DOT_BARE);
			break;
		}
		if (!is_crlf(d[1]))
			continue;
		if (!clean || d[1] == '\n') {
			*at = d + 2;
			ev = BODY_AMBIGUOUS;
			goto found;
		}
		if (d + 2 == end) {
			body_set_dot(s, DOT_CLEAN_CR);
			break;
		}
		*at = d[2] == '\n' ? d + 3 : d + 2;
		ev = d[2] == '\n' ? BODY_END : BODY_AMBIGUOUS;
		goto found;
	}
more:
	*at = end;
found:
	body_keep_tail(s, start, *at);
	return ev;
}

/*
 * Body bytes from *pp. After an ambiguous end-of-data the lines that follow
 * are also read as commands (shadow lines), so whatever a server that took
 * it as the end would read next is judged, while the body goes on to the
 * real CRLF.CRLF untouched (docs/design.md, "Bare LF and SMTP smuggling").
 */
static enum smtp_status read_body(struct smtp_session *s, const struct smtp_env *env,
                                  const struct smtp_handler *h, void *arg, uint32_t seq,
                                  const uint8_t *data, const uint8_t **pp, const uint8_t *end)
{
	const uint8_t *at;
	enum body_event ev = body_scan(s, *pp, end, &at);

	if (s->flags & SMTP_F_SHADOW) {
		enum smtp_status st = shadow_lines(s, env, h, arg, seq, data, *pp, at);
		if (st != SMTP_STATUS_CONTINUE)
			return st;
	}
	*pp = at;
	switch (ev) {
	case BODY_MORE:
		break;
	case BODY_AMBIGUOUS:
		/* Shadow lines start (again) right after it. A server that takes
		 * the first ambiguous form as the end answers the message first:
		 * that reply heads the queue, before the shadow lines' own. */
		drop_line(s, env);
		if (!(s->flags & SMTP_F_SHADOW)) {
			queue_clear(s);
			queue_push(s, SMTP_VERB_DATA);
		}
		s->flags |= SMTP_F_SHADOW;
		break;
	case BODY_END:
		drop_line(s, env);
		s->flags &= (uint8_t)~SMTP_F_SHADOW;
		/* The server answers the whole message after the terminator; the
		 * shadow lines were body to it. */
		queue_clear(s);
		queue_push(s, SMTP_VERB_DATA);
		s->state = SMTP_STATE_COMMAND;
		s->u.bdat_left = 0;
		break;
	}
	return SMTP_STATUS_CONTINUE;
}

enum smtp_status smtp_feed_client(struct smtp_session *s, const struct smtp_env *env,
                                  const struct smtp_handler *h, void *arg, uint32_t seq,
                                  const uint8_t *data, uint32_t len)
{
	enum smtp_status st = SMTP_STATUS_CONTINUE;

	if (s->state >= SMTP_STATE_STOPPED || len == 0)
		return status_of(s);
	if (s->flags & SMTP_F_HELD) {
		/* The caller feeds the held bytes again from the hold point. */
		uint32_t skip = s->u.hold_seq - seq;
		if (skip > INT32_MAX) /* starts beyond the hold point: a gap */
			return SMTP_STATUS_HOLD;
		if (skip >= len) /* only bytes already consumed */
			return status_of(s);
		if (waiting(s))
			return SMTP_STATUS_HOLD;
		s->flags &= (uint8_t)~SMTP_F_HELD;
		if (s->state == SMTP_STATE_BODY)
			body_init(s);
		data += skip;
		len -= skip;
		seq += skip;
	}

	const uint8_t *p = data;
	const uint8_t *end = data + len;
	while (p < end && st == SMTP_STATUS_CONTINUE) {
		switch (s->state) {
		case SMTP_STATE_COMMAND:
		case SMTP_STATE_AUTH_RESPONSE:
			st = read_lines(s, env, h, arg, seq, data, &p, end);
			break;
		case SMTP_STATE_BODY:
			st = read_body(s, env, h, arg, seq, data, &p, end);
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
		/* RFC 2920 3.1: DATA, STARTTLS and AUTH end a pipelined group. What
		 * follows is body, TLS, SASL or commands depending on the reply:
		 * hold it until the reply says which (reliability rule 2). */
		case SMTP_STATE_DATA_WAIT:
		case SMTP_STATE_STARTTLS_WAIT:
		case SMTP_STATE_AUTH_WAIT:
			return hold(s, seq + (uint32_t)(p - data));
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
	uint16_t code = reply_code(s);

	reply_set(s, REPLY_DIGIT0, 0);
	if (s->state == SMTP_STATE_BODY && (s->flags & SMTP_F_SHADOW)) {
		/* A server answers in a body only once it ended the message: it
		 * took an ambiguous end-of-data as the end and reads the shadow
		 * lines (queued after the message's DATA by read_body and
		 * shadow_lines) as commands. Follow it: this reply is DATA's. */
		s->state = SMTP_STATE_COMMAND;
		s->flags &= (uint8_t)~SMTP_F_SHADOW;
	}
	if (s->npending == 0)
		return stop_tracking(s, env, SMTP_STOP_REPLY_WITHOUT_COMMAND);
	/* In a wait state the command waited for is the newest one queued (no
	 * client byte may follow it), so it is answered when it is the last. */
	bool last = s->npending == 1;
	enum smtp_verb verb = queue_pop(s);

	if (h != NULL && h->on_reply != NULL) {
		struct smtp_reply r = {.verb = verb,
		                       .code = code,
		                       .end_seq = end_seq,
		                       .text = text,
		                       .text_len = text_len};
		h->on_reply(arg, &r);
	}
	switch (s->state) {
	case SMTP_STATE_DATA_WAIT:
		if (last && verb == SMTP_VERB_DATA) {
			if (code == 354) {
				s->state = SMTP_STATE_BODY;
				/* Held bytes: the scanner starts with the feed that resumes. */
				if (!(s->flags & SMTP_F_HELD))
					body_init(s);
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
	/* A BDAT refused (non-2xx) changes nothing here: its chunk was skipped
	 * by its size, as a server that announces CHUNKING reads and discards
	 * it (RFC 3030 2). */
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
	 * when the code is 0: a continuation line keeps the previous code
	 * until its own first digit. */
	const uint8_t *first = NULL, *text = NULL;
	uint32_t text_len = 0;
	while (p < end) {
		unsigned pos = reply_pos(s);
		if (pos >= REPLY_SKIP_CONT) {
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
			if (pos == REPLY_SKIP_CONT) {
				reply_set(s, REPLY_DIGIT0, reply_code(s));
				continue;
			}
			st = end_reply(s, env, h, arg, seq + (uint32_t)(p - data), text, text_len);
			text = NULL;
			text_len = 0;
			if (st == SMTP_STATUS_PASSTHROUGH)
				return st;
			continue;
		}
		if (pos == REPLY_DIGIT0 && reply_code(s) == 0) {
			first = p;
			text = NULL;
			text_len = 0;
		}
		uint8_t c = *p++;
		if (pos < REPLY_SEP) {
			/* RFC 5321 4.2.1: the first digit is 2 to 5. */
			if (c < (pos == REPLY_DIGIT0 ? '2' : '0') ||
			    c > (pos == REPLY_DIGIT0 ? '5' : '9'))
				return stop_tracking(s, env, SMTP_STOP_BAD_REPLY);
			/* The first digit replaces a continuation line's code. */
			reply_set(s, pos + 1,
			          (pos == REPLY_DIGIT0 ? 0u : reply_code(s) * 10u) +
			              (unsigned)(c - '0'));
		} else if (c == '-') {
			reply_set(s, REPLY_SKIP_CONT, reply_code(s));
		} else if (c == ' ' || c == '\r') {
			reply_set(s, REPLY_SKIP_FINAL, reply_code(s));
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
	/* aux is the body scanner outside a passthrough. */
	return (enum smtp_stop)(s->state == SMTP_STATE_PASSTHROUGH ? s->aux : 0);
}

uint32_t smtp_session_hold_seq(const struct smtp_session *s)
{
	return s->u.hold_seq;
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
