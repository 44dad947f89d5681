#include "filter/takeover.h"

#include <stdio.h>
#include <string.h>

#include "judge/hostname.h"
#include "smtp/rcpt.h"
#include "smtp/scan.h"

void takeover_texts_default(struct takeover_texts *texts)
{
	for (int r = 0; r < VERDICT_COUNT; r++)
		snprintf(texts->rcpt[r], TAKEOVER_TEMPLATE_MAX,
		         "550 5.7.1 %%a... Access denied - bogus HELO");
	snprintf(texts->rcpt[VERDICT_SERVER_IP], TAKEOVER_TEMPLATE_MAX,
	         "550 5.7.1 %%a... Access denied - bogus HELO (%%h)");
	snprintf(texts->rcpt[VERDICT_MATCHES_RCPT], TAKEOVER_TEMPLATE_MAX,
	         "550 5.7.1 %%a... Access denied - bogus HELO matches RCPT");
}

int takeover_template_check(const char *text, char *err, size_t err_size)
{
	size_t n = strlen(text);

	if (n < 4 || n >= TAKEOVER_TEMPLATE_MAX || text[0] != '5' || text[1] < '0' ||
	    text[1] > '9' || text[2] < '0' || text[2] > '9' || text[3] != ' ') {
		snprintf(err, err_size,
		         "a reply must start with a 5xx code and a space, and be "
		         "shorter than %d bytes",
		         TAKEOVER_TEMPLATE_MAX);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		if (text[i] < 0x20 || text[i] > 0x7e) {
			snprintf(err, err_size, "a reply must be printable ASCII");
			return -1;
		}
		if (text[i] == '%') {
			char c = text[i + 1];
			if (c != 'a' && c != 'h' && c != '%') {
				snprintf(err, err_size,
				         "unknown escape in reply (use %%a, %%h, %%%%)");
				return -1;
			}
			i++;
		}
	}
	return 0;
}

void takeover_dialogue_init(struct takeover_dialogue *d, enum verdict_reason reason)
{
	d->line_len = 0;
	d->commands = 0;
	d->reason = (uint8_t)reason;
	d->closed = false;
	d->data_refused = false;
	d->skip = 0;
}

/* BDAT's chunk size (RFC 3030 2: "BDAT" SP chunk-size [SP "LAST"]), or
 * false when it is not a number below 2^32. */
static bool bdat_size(const uint8_t *arg, uint32_t len, uint32_t *size)
{
	uint64_t v = 0;
	uint32_t i = 0;

	while (i < len && arg[i] >= '0' && arg[i] <= '9' && v <= UINT32_MAX)
		v = v * 10 + (uint64_t)(arg[i++] - '0');
	if (i == 0 || v > UINT32_MAX || (i < len && arg[i] != ' ' && arg[i] != '\t'))
		return false;
	*size = (uint32_t)v;
	return true;
}

/* Copy text[0..len) keeping only printable ASCII, so a hostile address
 * cannot break the reply line or inject a second one. */
static size_t put_safe(char *out, const char *text, size_t len, size_t room)
{
	size_t n = 0;

	for (size_t i = 0; i < len && n < room; i++) {
		unsigned char c = (unsigned char)text[i];
		out[n++] = (c >= 0x20 && c <= 0x7e) ? (char)c : '?';
	}
	return n;
}

/* The address argument of MAIL/RCPT, without brackets; "<>" for the null
 * path, the raw text when it does not parse. */
static void address_of(const uint8_t *arg, uint32_t arg_len, const char **addr, size_t *len)
{
	struct rcpt_address a;

	if (rcpt_parse((const char *)arg, arg_len, &a) && a.mailbox_len > 0) {
		*addr = a.mailbox;
		*len = a.mailbox_len;
	} else if (arg_len >= 2 && arg[0] == '<' && arg[1] == '>') {
		*addr = "<>";
		*len = 2;
	} else {
		*addr = (const char *)arg;
		*len = arg_len > 256 ? 256 : arg_len;
	}
}

/* The HELO address for "%h": a literal's address in canonical text. */
static size_t helo_address(const struct takeover_session *s, char *out, size_t room)
{
	struct hostname h;

	if (hostname_parse(s->helo, s->helo_len, &h) == HOSTNAME_ADDRESS) {
		char text[IP_ADDR_TEXT_MAX];
		size_t n = ip_addr_format(&h.addr, text, sizeof(text));
		return put_safe(out, text, n, room);
	}
	return put_safe(out, s->helo, s->helo_len > 255 ? 255 : s->helo_len, room);
}

size_t takeover_format_rcpt_reply(const struct takeover_session *s, const uint8_t *arg,
                                  uint32_t arg_len, char *out)
{
	const char *tpl = s->texts->rcpt[s->reason < VERDICT_COUNT ? s->reason : 0];
	size_t n = 0, room = TAKEOVER_REPLY_MAX - 2;

	for (const char *p = tpl; *p && n < room; p++) {
		if (*p != '%') {
			out[n++] = *p;
			continue;
		}
		p++;
		if (*p == 'a') {
			const char *addr;
			size_t len;
			address_of(arg, arg_len, &addr, &len);
			n += put_safe(out + n, addr, len, room - n);
		} else if (*p == 'h') {
			n += helo_address(s, out + n, room - n);
		} else if (*p == '%') {
			out[n++] = '%';
		} else {
			break; /* checked by takeover_template_check */
		}
	}
	out[n++] = '\r';
	out[n++] = '\n';
	return n;
}

static size_t put_line(char *out, const char *line)
{
	size_t n = strlen(line);

	memcpy(out, line, n);
	return n;
}

void takeover_answer(struct takeover_dialogue *d, const struct takeover_session *s,
                     enum smtp_verb verb, const uint8_t *arg, uint32_t arg_len, char *out,
                     struct takeover_output *o)
{
	size_t n = 0;

	if (d->closed)
		return;
	if (d->data_refused && verb == SMTP_VERB_UNKNOWN) {
		/* The client sends its message although DATA got no 354: it
		 * would read our replies out of step; end the session. */
		n = put_line(out, "421 4.7.0 Error: message body sent without a 354 go-ahead\r\n");
		o->close = true;
		d->closed = true;
		o->len += (uint32_t)n;
		return;
	}
	d->data_refused = false;
	if (++d->commands > TAKEOVER_COMMANDS_MAX) {
		n = put_line(out, "421 4.7.0 Error: too many commands\r\n");
		o->close = true;
		d->closed = true;
		o->len += (uint32_t)n;
		return;
	}
	switch (verb) {
	case SMTP_VERB_RCPT:
		n = takeover_format_rcpt_reply(s, arg, arg_len, out);
		o->rejected++;
		if (s->on_rejected_rcpt != NULL)
			s->on_rejected_rcpt(s->arg, arg, arg_len);
		break;
	case SMTP_VERB_MAIL: {
		const char *addr;
		size_t len;
		address_of(arg, arg_len, &addr, &len);
		n = put_line(out, "250 2.1.0 ");
		n += put_safe(out + n, addr, len, 300);
		n += put_line(out + n, "... Sender ok\r\n");
		break;
	}
	case SMTP_VERB_DATA:
		/* No recipient was accepted: no body is read, and the session
		 * stays open, as Postfix's smtpd keeps it. */
		n = put_line(out, "554 5.5.1 Error: no valid recipients\r\n");
		d->data_refused = true;
		break;
	case SMTP_VERB_BDAT: {
		/* The chunk follows the command at once (RFC 3030 2): Postfix
		 * reads and discards it; without a size nobody knows where it
		 * ends, so the session closes. */
		uint32_t size;
		n = put_line(out, "554 5.5.1 Error: no valid recipients\r\n");
		if (bdat_size(arg, arg_len, &size))
			d->skip = size;
		else
			o->close = true;
		break;
	}
	case SMTP_VERB_RSET:
	case SMTP_VERB_NOOP:
		n = put_line(out, "250 2.0.0 Ok\r\n");
		break;
	case SMTP_VERB_HELO:
	case SMTP_VERB_EHLO:
		/* A new greeting does not lift the rejection. */
		n = put_line(out, "250 2.0.0 Ok\r\n");
		break;
	case SMTP_VERB_QUIT:
		n = put_line(out, "221 2.0.0 Bye\r\n");
		o->close = true;
		break;
	case SMTP_VERB_STARTTLS:
		/* A 5xx lets an opportunistic client go on in plain text, where
		 * it meets the 550 at RCPT (RFC 3207 4: the client may then
		 * continue or quit). */
		n = put_line(out, "554 5.7.1 Error: TLS not available - bogus HELO\r\n");
		break;
	default:
		n = put_line(out, "502 5.5.2 Error: command not recognized\r\n");
		break;
	}
	if (o->close)
		d->closed = true;
	o->len += (uint32_t)n;
}

uint32_t takeover_feed(struct takeover_dialogue *d, const struct takeover_session *s,
                       const uint8_t *data, uint32_t len, char *out, uint32_t out_size,
                       struct takeover_output *o)
{
	uint32_t used = 0;

	if (d->closed)
		return len; /* after a closing reply, input is read and discarded */
	while (used < len && !d->closed) {
		if (d->skip > 0) {
			uint32_t take = len - used < d->skip ? len - used : d->skip;
			d->skip -= take;
			used += take;
			continue;
		}
		if (out_size - o->len < TAKEOVER_REPLY_MAX)
			break; /* the rest waits for room; its bytes are not acknowledged */
		const uint8_t *lf = memchr(data + used, '\n', len - used);
		uint32_t take = lf ? (uint32_t)(lf - (data + used)) + 1 : len - used;
		if (d->line_len + take > TAKEOVER_LINE_MAX) {
			o->len +=
			    (uint32_t)put_line(out + o->len, "500 5.5.2 Error: line too long\r\n");
			o->close = true;
			d->closed = true;
			return len;
		}
		memcpy(d->line + d->line_len, data + used, take);
		d->line_len = (uint16_t)(d->line_len + take);
		used += take;
		if (lf == NULL)
			break;
		uint32_t n = d->line_len - 1; /* without the LF */
		if (n > 0 && d->line[n - 1] == '\r')
			n--;
		const uint8_t *line = d->line;
		while (n > 0 && (line[0] == ' ' || line[0] == '\t')) {
			line++;
			n--;
		}
		enum smtp_verb verb = scan_command_verb(s->commands, s->scratch, line, n);
		const char *kw = smtp_verb_keyword(verb);
		uint32_t skip = kw ? (uint32_t)strlen(kw) : n;
		/* The argument as smtp gives it: after "FROM:"/"TO:" for MAIL/RCPT. */
		const uint8_t *arg = line + (skip < n ? skip : n);
		uint32_t arg_len = n - (uint32_t)(arg - line);
		while (arg_len > 0 && (arg[0] == ' ' || arg[0] == '\t')) {
			arg++;
			arg_len--;
		}
		if ((verb == SMTP_VERB_MAIL || verb == SMTP_VERB_RCPT) && arg_len > 0) {
			const uint8_t *colon = memchr(arg, ':', arg_len);
			if (colon != NULL) {
				arg_len -= (uint32_t)(colon + 1 - arg);
				arg = colon + 1;
			}
		}
		takeover_answer(d, s, verb == SMTP_VERB_COUNT ? SMTP_VERB_UNKNOWN : verb, arg,
		                arg_len, out + o->len, o);
		d->line_len = 0;
	}
	return used;
}

uint32_t takeover_timeout_reply(char *out, uint32_t out_size)
{
	static const char text[] = "421 4.4.2 Error: timeout exceeded\r\n";

	if (out_size < sizeof(text) - 1)
		return 0;
	memcpy(out, text, sizeof(text) - 1);
	return sizeof(text) - 1;
}
