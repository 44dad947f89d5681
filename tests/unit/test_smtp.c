/* Unit tests for lib/smtp: command lines, replies, DATA/BDAT, STARTTLS, AUTH,
 * holding, over-long lines, shadow lines after ambiguous end-of-data. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tcp/block_pool.h"
#include "smtp/scan.h"
#include "smtp/smtp.h"

#define MAX_RECORDS 160
#define LINE_COPY 256

/* ---- shared per-run state: one pool, one database, one scratch ---- */

static struct block_pool *g_pool;
static struct scan_commands *g_db;
static hs_scratch_t *g_scratch;
static struct smtp_env g_env;

static int group_setup(void **state)
{
	char err[256];

	(void)state;
	g_pool = block_pool_create(2048, 16);
	g_db = scan_commands_compile(err, sizeof(err));
	if (g_pool == NULL || g_db == NULL)
		return -1;
	g_scratch = scan_scratch_alloc(g_db, err, sizeof(err));
	if (g_scratch == NULL)
		return -1;
	return smtp_env_init(&g_env, g_pool, g_db, g_scratch, 0, err, sizeof(err));
}

static int group_teardown(void **state)
{
	(void)state;
	scan_scratch_free(g_scratch);
	scan_commands_free(g_db);
	block_pool_free(g_pool);
	return 0;
}

/* ---- a recording handler ---- */

struct rec_cmd {
	enum smtp_verb verb;
	uint8_t line[LINE_COPY];
	uint32_t line_len;
	uint8_t arg[LINE_COPY];
	uint32_t arg_len;
	uint32_t seq;
	uint32_t end_seq;
	bool shadow;
};

struct rec {
	struct rec_cmd cmds[MAX_RECORDS];
	unsigned ncmds;
	struct smtp_reply replies[MAX_RECORDS];
	char texts[MAX_RECORDS]
	          [LINE_COPY + 1]; /* each reply's first-line text, "(null)" when NULL */
	unsigned nreplies;
	int stop_at; /* index of the command to answer SMTP_STOP, -1: never */
};

static enum smtp_action rec_command(void *arg, const struct smtp_command *cmd)
{
	struct rec *r = arg;

	assert_non_null(cmd->arg);
	assert_true(cmd->arg >= cmd->line);
	assert_true(cmd->arg + cmd->arg_len == cmd->line + cmd->line_len);
	assert_true(r->ncmds < MAX_RECORDS);
	struct rec_cmd *c = &r->cmds[r->ncmds];
	c->verb = cmd->verb;
	c->line_len = cmd->line_len;
	memcpy(c->line, cmd->line, cmd->line_len < LINE_COPY ? cmd->line_len : LINE_COPY);
	c->arg_len = cmd->arg_len;
	memcpy(c->arg, cmd->arg, cmd->arg_len < LINE_COPY ? cmd->arg_len : LINE_COPY);
	c->seq = cmd->seq;
	c->end_seq = cmd->end_seq;
	c->shadow = cmd->shadow;
	return (int)r->ncmds++ == r->stop_at ? SMTP_STOP : SMTP_CONTINUE;
}

static void rec_reply(void *arg, const struct smtp_reply *reply)
{
	struct rec *r = arg;

	assert_true(r->nreplies < MAX_RECORDS);
	if (reply->text == NULL) {
		assert_int_equal(reply->text_len, 0);
		snprintf(r->texts[r->nreplies], LINE_COPY + 1, "(null)");
	} else {
		assert_true(reply->text_len <= LINE_COPY);
		memcpy(r->texts[r->nreplies], reply->text, reply->text_len);
		r->texts[r->nreplies][reply->text_len] = '\0';
	}
	r->replies[r->nreplies] = *reply;
	r->replies[r->nreplies++].text = NULL; /* the feed's data is gone after the call */
}

static const struct smtp_handler handler = {.on_command = rec_command, .on_reply = rec_reply};

/* ---- per-test fixture: a session, its records, both sequence counters ---- */

struct fx {
	struct smtp_session s;
	struct rec r;
	uint32_t cseq; /* sequence number of the next client byte */
	uint32_t sseq; /* ... of the next server byte */
};

static void fx_reset(struct fx *f, uint32_t cseq, uint32_t sseq)
{
	smtp_session_release(&f->s, g_pool);
	memset(f, 0, sizeof(*f));
	smtp_session_init(&f->s);
	f->r.stop_at = -1;
	f->cseq = cseq;
	f->sseq = sseq;
}

static int fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	smtp_session_init(&f->s);
	f->r.stop_at = -1;
	f->cseq = 1000;
	f->sseq = 5000;
	*state = f;
	return 0;
}

/* Every test ends with every block back in the pool. */
static int fx_teardown(void **state)
{
	struct fx *f = *state;

	smtp_session_release(&f->s, g_pool);
	free(f);
	assert_int_equal(block_pool_in_use(g_pool), 0);
	return 0;
}

static enum smtp_status client_n(struct fx *f, const void *data, size_t len)
{
	enum smtp_status st =
	    smtp_feed_client(&f->s, &g_env, &handler, &f->r, f->cseq, data, (uint32_t)len);
	f->cseq += (uint32_t)len;
	return st;
}

static enum smtp_status server_n(struct fx *f, const void *data, size_t len)
{
	enum smtp_status st =
	    smtp_feed_server(&f->s, &g_env, &handler, &f->r, f->sseq, data, (uint32_t)len);
	f->sseq += (uint32_t)len;
	return st;
}

/* String literals, NUL bytes included. */
#define CLIENT(f, lit) client_n((f), (lit), sizeof(lit) - 1)
#define SERVER(f, lit) server_n((f), (lit), sizeof(lit) - 1)

/* Feed data cut at the sorted offsets cuts[0..ncuts); the last status. */
static enum smtp_status client_cut(struct fx *f, const void *data, size_t len, const size_t *cuts,
                                   size_t ncuts)
{
	const uint8_t *p = data;
	size_t from = 0;
	enum smtp_status st = smtp_session_status(&f->s);

	for (size_t i = 0; i <= ncuts; i++) {
		size_t to = i < ncuts ? cuts[i] : len;
		st = client_n(f, p + from, to - from);
		from = to;
	}
	return st;
}

static enum smtp_status client_bytewise(struct fx *f, const void *data, size_t len)
{
	const uint8_t *p = data;
	enum smtp_status st = smtp_session_status(&f->s);

	for (size_t i = 0; i < len; i++)
		st = client_n(f, p + i, 1);
	return st;
}

/*
 * The worker's side of a hold: all[0..) is the client stream from sequence
 * number base; feed [*next, to) and move *next to the first byte the
 * tracker did not consume (the hold point, where the client's
 * retransmission will start).
 */
static enum smtp_status feed_from(struct fx *f, const void *all, uint32_t base, size_t *next,
                                  size_t to)
{
	const uint8_t *p = all;

	if (*next >= to)
		return smtp_session_status(&f->s);
	enum smtp_status st =
	    smtp_feed_client(&f->s, &g_env, &handler, &f->r, base + (uint32_t)*next, p + *next,
	                     (uint32_t)(to - *next));
	if (st == SMTP_STATUS_HOLD) {
		size_t at = smtp_session_hold_seq(&f->s) - base;
		assert_true(at >= *next && at <= to);
		assert_true(at == 0 || p[at - 1] == '\n'); /* a line boundary */
		*next = at;
	} else {
		*next = to;
	}
	f->cseq = base + (uint32_t)*next;
	return st;
}

static void assert_cmd(const struct fx *f, unsigned i, enum smtp_verb verb, const char *line,
                       const char *arg)
{
	assert_true(i < f->r.ncmds);
	const struct rec_cmd *c = &f->r.cmds[i];
	assert_string_equal(smtp_verb_name(c->verb), smtp_verb_name(verb));
	assert_int_equal(c->line_len, strlen(line));
	assert_memory_equal(c->line, line, c->line_len);
	assert_int_equal(c->arg_len, strlen(arg));
	assert_memory_equal(c->arg, arg, c->arg_len);
}

static void assert_reply(const struct fx *f, unsigned i, enum smtp_verb verb, uint16_t code)
{
	assert_true(i < f->r.nreplies);
	assert_string_equal(smtp_verb_name(f->r.replies[i].verb), smtp_verb_name(verb));
	assert_int_equal(f->r.replies[i].code, code);
}

static void assert_passthrough(const struct fx *f, enum smtp_stop why)
{
	assert_int_equal(smtp_session_state(&f->s), SMTP_STATE_PASSTHROUGH);
	assert_string_equal(smtp_stop_name(smtp_session_stop_reason(&f->s)), smtp_stop_name(why));
	assert_int_equal(block_pool_in_use(g_pool), 0);
}

static void assert_same_commands(const struct rec *a, const struct rec *b)
{
	assert_int_equal(a->ncmds, b->ncmds);
	for (unsigned i = 0; i < a->ncmds; i++) {
		assert_int_equal(a->cmds[i].verb, b->cmds[i].verb);
		assert_int_equal(a->cmds[i].line_len, b->cmds[i].line_len);
		assert_memory_equal(a->cmds[i].line, b->cmds[i].line, a->cmds[i].line_len);
		assert_int_equal(a->cmds[i].arg_len, b->cmds[i].arg_len);
		assert_memory_equal(a->cmds[i].arg, b->cmds[i].arg, a->cmds[i].arg_len);
		assert_int_equal(a->cmds[i].seq, b->cmds[i].seq);
		assert_int_equal(a->cmds[i].end_seq, b->cmds[i].end_seq);
		assert_int_equal(a->cmds[i].shadow, b->cmds[i].shadow);
	}
}

/* Greeting and EHLO answered: the usual start of a test. */
static void start_session(struct fx *f)
{
	assert_int_equal(SERVER(f, "220 mx.example.net ESMTP\r\n"), SMTP_STATUS_CONTINUE);
	assert_int_equal(CLIENT(f, "EHLO client.example.org\r\n"), SMTP_STATUS_CONTINUE);
	assert_int_equal(SERVER(f, "250-mx.example.net\r\n250-PIPELINING\r\n250-CHUNKING\r\n"
	                           "250 STARTTLS\r\n"),
	                 SMTP_STATUS_CONTINUE);
	assert_int_equal(smtp_pending_replies(&f->s), 0);
	f->r.ncmds = 0;
	f->r.nreplies = 0;
}

/* MAIL, RCPT, DATA answered up to 354: the body comes next. */
static void start_body(struct fx *f)
{
	start_session(f);
	assert_int_equal(
	    CLIENT(f, "MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nDATA\r\n"),
	    SMTP_STATUS_CONTINUE);
	assert_int_equal(smtp_session_state(&f->s), SMTP_STATE_DATA_WAIT);
	assert_int_equal(SERVER(f, "250 ok\r\n250 ok\r\n354 go ahead\r\n"), SMTP_STATUS_CONTINUE);
	assert_int_equal(smtp_session_state(&f->s), SMTP_STATE_BODY);
	assert_true(smtp_in_body(&f->s));
	f->r.ncmds = 0;
	f->r.nreplies = 0;
}

/* ---- verbs and arguments ---- */

static void test_each_verb_is_recognized_case_insensitively(void **state)
{
	struct fx *f = *state;
	static const struct {
		const char *line;
		enum smtp_verb verb;
	} cases[] = {
	    {"HELO a.example", SMTP_VERB_HELO},
	    {"helo a.example", SMTP_VERB_HELO},
	    {"HeLo a.example", SMTP_VERB_HELO},
	    {"HELO", SMTP_VERB_HELO},
	    {"EHLO a.example", SMTP_VERB_EHLO},
	    {"ehlo\ta.example", SMTP_VERB_EHLO},
	    {"MAIL FROM:<a@b>", SMTP_VERB_MAIL},
	    {"mail from:<a@b>", SMTP_VERB_MAIL},
	    {"RCPT TO:<a@b>", SMTP_VERB_RCPT},
	    {"rCpT tO:<a@b>", SMTP_VERB_RCPT},
	    {"DATA", SMTP_VERB_DATA},
	    {"data", SMTP_VERB_DATA},
	    {"BDAT 0 LAST", SMTP_VERB_BDAT},
	    {"bdat 0 last", SMTP_VERB_BDAT},
	    {"RSET", SMTP_VERB_RSET},
	    {"rset", SMTP_VERB_RSET},
	    {"NOOP", SMTP_VERB_NOOP},
	    {"noop hello", SMTP_VERB_NOOP},
	    {"QUIT", SMTP_VERB_QUIT},
	    {"Quit", SMTP_VERB_QUIT},
	    {"STARTTLS", SMTP_VERB_STARTTLS},
	    {"starttls", SMTP_VERB_STARTTLS},
	    {"VRFY postmaster", SMTP_VERB_VRFY},
	    {"EXPN list", SMTP_VERB_EXPN},
	    {"HELP", SMTP_VERB_HELP},
	    {"help me", SMTP_VERB_HELP},
	    {"AUTH PLAIN AGEAYg==", SMTP_VERB_AUTH},
	    {"auth login", SMTP_VERB_AUTH},
	    {" HELO leading.blank", SMTP_VERB_HELO},
	    {"\t EHLO leading.blanks", SMTP_VERB_EHLO},
	    {"HELOx", SMTP_VERB_UNKNOWN},
	    {"HELO:x", SMTP_VERB_UNKNOWN},
	    {"XHELO a", SMTP_VERB_UNKNOWN},
	    {"HEL", SMTP_VERB_UNKNOWN},
	    {"", SMTP_VERB_UNKNOWN},
	    {"   ", SMTP_VERB_UNKNOWN},
	    {"ETRN example.org", SMTP_VERB_UNKNOWN},
	    {"GET / HTTP/1.1", SMTP_VERB_UNKNOWN},
	    {"STARTTLSX", SMTP_VERB_UNKNOWN},
	    {"DATAX", SMTP_VERB_UNKNOWN},
	    {"H\xc3\x89LO a", SMTP_VERB_UNKNOWN},
	    /* Postfix's smtpd_token splits words on isspace(): SP HT VT FF CR. */
	    {"RCPT\x0bTO:<x@y>", SMTP_VERB_RCPT},
	    {"HELO\x0c"
	     "a.example",
	     SMTP_VERB_HELO},
	    {"EHLO\ra.example", SMTP_VERB_EHLO},
	    {"\x0b\x0c\r HELO lead", SMTP_VERB_HELO},
	    {"DATA\x0b", SMTP_VERB_DATA},
	    {"HELO\x85x", SMTP_VERB_UNKNOWN}, /* NEL is no isspace() byte in C */
	    {"HELO\xa0x", SMTP_VERB_UNKNOWN},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char buf[128];
		int n = snprintf(buf, sizeof(buf), "%s\r\n", cases[i].line);

		fx_reset(f, 1, 1);
		assert_int_equal(client_n(f, buf, (size_t)n), SMTP_STATUS_CONTINUE);
		assert_int_equal(f->r.ncmds, 1);
		if (f->r.cmds[0].verb != cases[i].verb)
			fail_msg("\"%s\": got %s, want %s", cases[i].line,
			         smtp_verb_name(f->r.cmds[0].verb), smtp_verb_name(cases[i].verb));
		assert_int_equal(smtp_pending_replies(&f->s), 2);
	}
}

struct arg_case {
	const char *line;
	const char *arg;
};

static void check_args(struct fx *f, const struct arg_case *cases, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char buf[256];
		int len = snprintf(buf, sizeof(buf), "%s\r\n", cases[i].line);

		fx_reset(f, 1, 1);
		client_n(f, buf, (size_t)len);
		assert_int_equal(f->r.ncmds, 1);
		if (f->r.cmds[0].arg_len != strlen(cases[i].arg) ||
		    memcmp(f->r.cmds[0].arg, cases[i].arg, f->r.cmds[0].arg_len) != 0)
			fail_msg("\"%s\": argument \"%.*s\", want \"%s\"", cases[i].line,
			         (int)f->r.cmds[0].arg_len, (const char *)f->r.cmds[0].arg,
			         cases[i].arg);
		assert_int_equal(f->r.cmds[0].line_len, strlen(cases[i].line));
	}
}

static void test_helo_ehlo_argument_is_rest_of_line_after_blanks(void **state)
{
	static const struct arg_case cases[] = {
	    {"HELO mail.example.org", "mail.example.org"},
	    {"HELO    mail.example.org", "mail.example.org"},
	    {"EHLO\t \tmail.example.org", "mail.example.org"},
	    {"EHLO foo bar ", "foo bar "},
	    {"ehlo [192.0.2.1]", "[192.0.2.1]"},
	    {"HELO", ""},
	    {"HELO   ", ""},
	    {"  EHLO x.example", "x.example"},
	    {"VRFY postmaster", "postmaster"},
	    {"BDAT 12 LAST", "12 LAST"},
	    {"DATA", ""},
	    {"XYZZY plugh", ""},
	};

	check_args(*state, cases, sizeof(cases) / sizeof(cases[0]));
}

static void test_mail_rcpt_argument_with_and_without_space_after_colon(void **state)
{
	static const struct arg_case cases[] = {
	    {"MAIL FROM:<a@example.org>", "<a@example.org>"},
	    {"MAIL FROM: <a@example.org>", "<a@example.org>"},
	    {"MAIL FROM:   <a@example.org> SIZE=100", "<a@example.org> SIZE=100"},
	    {"mail from:<>", "<>"},
	    {"MAIL  FROM:<a@example.org>", "<a@example.org>"},
	    {"MAIL FROM:", ""},
	    {"MAIL <a@example.org>", "<a@example.org>"},
	    {"RCPT TO:<b@example.net>", "<b@example.net>"},
	    {"RCPT TO: <b@example.net>", "<b@example.net>"},
	    {"rcpt to:\t<b@example.net> NOTIFY=NEVER", "<b@example.net> NOTIFY=NEVER"},
	    {"RCPT\tTO:<b@example.net>", "<b@example.net>"},
	    {"RCPT TO:", ""},
	    {"RCPT <b@example.net>", "<b@example.net>"},
	    {"RCPT T", "T"},
	};

	check_args(*state, cases, sizeof(cases) / sizeof(cases[0]));
}

static void test_nul_and_8bit_bytes_reach_the_callback_with_exact_lengths(void **state)
{
	struct fx *f = *state;

	assert_int_equal(CLIENT(f, "HELO a\0b\xff\x80.example\r\nRCPT TO:<\0x\xe9@y>\r\n"),
	                 SMTP_STATUS_CONTINUE);
	assert_int_equal(f->r.ncmds, 2);
	assert_int_equal(f->r.cmds[0].verb, SMTP_VERB_HELO);
	assert_int_equal(f->r.cmds[0].line_len, 18);
	assert_int_equal(f->r.cmds[0].arg_len, 13);
	assert_memory_equal(f->r.cmds[0].arg, "a\0b\xff\x80.example", 13);
	assert_int_equal(f->r.cmds[1].verb, SMTP_VERB_RCPT);
	assert_int_equal(f->r.cmds[1].arg_len, 7);
	assert_memory_equal(f->r.cmds[1].arg, "<\0x\xe9@y>", 7);
}

static void test_nul_inside_keyword_is_unknown(void **state)
{
	struct fx *f = *state;

	assert_int_equal(CLIENT(f, "HE\0LO a\r\nHELO\0 a\r\n"), SMTP_STATUS_CONTINUE);
	assert_int_equal(f->r.ncmds, 2);
	assert_int_equal(f->r.cmds[0].verb, SMTP_VERB_UNKNOWN);
	assert_int_equal(f->r.cmds[1].verb, SMTP_VERB_UNKNOWN);
	assert_int_equal(f->r.cmds[1].line_len, 7);
}

/* ---- line endings ---- */

static void test_bare_lf_ends_command_lines(void **state)
{
	struct fx *f = *state;

	assert_int_equal(CLIENT(f, "EHLO a.example\nMAIL FROM:<x@y>\nRCPT TO:<z@w>\r\n"),
	                 SMTP_STATUS_CONTINUE);
	assert_int_equal(f->r.ncmds, 3);
	assert_cmd(f, 0, SMTP_VERB_EHLO, "EHLO a.example", "a.example");
	assert_cmd(f, 1, SMTP_VERB_MAIL, "MAIL FROM:<x@y>", "<x@y>");
	assert_cmd(f, 2, SMTP_VERB_RCPT, "RCPT TO:<z@w>", "<z@w>");
	assert_int_equal(f->r.cmds[0].end_seq - f->r.cmds[0].seq, 15);
	assert_int_equal(f->r.cmds[2].end_seq - f->r.cmds[2].seq, 15);
}

static void test_bare_cr_is_not_a_line_terminator(void **state)
{
	struct fx *f = *state;

	assert_int_equal(CLIENT(f, "HELO a\rb\r\nNOOP\rQUIT\r\nQUIT\r\r\n"), SMTP_STATUS_CONTINUE);
	assert_int_equal(f->r.ncmds, 3);
	assert_cmd(f, 0, SMTP_VERB_HELO, "HELO a\rb", "a\rb");
	/* A CR inside a line separates words, as every isspace() byte does for
	 * Postfix's tokenizer; every CR right before the LF is dropped. */
	assert_cmd(f, 1, SMTP_VERB_NOOP, "NOOP\rQUIT", "QUIT");
	assert_cmd(f, 2, SMTP_VERB_QUIT, "QUIT", "");
}

/* ---- pipelining and splitting ---- */

static const char PIPELINED[] = "EHLO mx.example.org\r\nMAIL FROM:<a@b.example>\r\n"
                                "RCPT TO:<c@d.example>\r\nRCPT TO:<e@f.example>\n";

static void test_pipelined_commands_in_one_feed_are_reported_in_order(void **state)
{
	struct fx *f = *state;

	assert_int_equal(CLIENT(f, PIPELINED), SMTP_STATUS_CONTINUE);
	assert_int_equal(f->r.ncmds, 4);
	assert_cmd(f, 0, SMTP_VERB_EHLO, "EHLO mx.example.org", "mx.example.org");
	assert_cmd(f, 1, SMTP_VERB_MAIL, "MAIL FROM:<a@b.example>", "<a@b.example>");
	assert_cmd(f, 2, SMTP_VERB_RCPT, "RCPT TO:<c@d.example>", "<c@d.example>");
	assert_cmd(f, 3, SMTP_VERB_RCPT, "RCPT TO:<e@f.example>", "<e@f.example>");
	assert_int_equal(f->r.cmds[0].seq, 1000);
	assert_int_equal(f->r.cmds[0].end_seq, 1021);
	assert_int_equal(f->r.cmds[1].seq, 1021);
	assert_int_equal(f->r.cmds[3].end_seq, 1000 + sizeof(PIPELINED) - 1);
	assert_int_equal(smtp_pending_replies(&f->s), 5);
}

static void test_command_split_at_every_pair_of_positions_gives_the_same_commands(void **state)
{
	struct fx *f = *state;
	struct rec *want = malloc(sizeof(*want));
	const size_t len = sizeof(PIPELINED) - 1;

	assert_non_null(want);
	fx_reset(f, 1000, 5000);
	CLIENT(f, PIPELINED);
	*want = f->r;
	for (size_t i = 0; i <= len; i++) {
		for (size_t j = i; j <= len; j++) {
			size_t cuts[2] = {i, j};
			fx_reset(f, 1000, 5000);
			assert_int_equal(client_cut(f, PIPELINED, len, cuts, 2),
			                 SMTP_STATUS_CONTINUE);
			assert_same_commands(want, &f->r);
			assert_int_equal(block_pool_in_use(g_pool), 0);
		}
	}
	free(want);
}

static void test_one_byte_per_feed_gives_the_same_commands(void **state)
{
	struct fx *f = *state;
	struct rec *want = malloc(sizeof(*want));

	assert_non_null(want);
	fx_reset(f, 1000, 5000);
	CLIENT(f, PIPELINED);
	*want = f->r;
	fx_reset(f, 1000, 5000);
	assert_int_equal(client_bytewise(f, PIPELINED, sizeof(PIPELINED) - 1),
	                 SMTP_STATUS_CONTINUE);
	assert_same_commands(want, &f->r);
	free(want);
}

static void test_incomplete_line_holds_one_block_until_its_lf(void **state)
{
	struct fx *f = *state;

	assert_int_equal(CLIENT(f, "HELO a.exa"), SMTP_STATUS_CONTINUE);
	assert_int_equal(block_pool_in_use(g_pool), 1);
	assert_int_equal(CLIENT(f, "mple\r"), SMTP_STATUS_CONTINUE);
	assert_int_equal(block_pool_in_use(g_pool), 1);
	assert_int_equal(f->r.ncmds, 0);
	assert_int_equal(CLIENT(f, "\nNOOP\r\n"), SMTP_STATUS_CONTINUE);
	assert_int_equal(block_pool_in_use(g_pool), 0);
	assert_int_equal(f->r.ncmds, 2);
	assert_cmd(f, 0, SMTP_VERB_HELO, "HELO a.example", "a.example");
	assert_int_equal(f->r.cmds[0].seq, 1000);
	assert_int_equal(f->r.cmds[0].end_seq, 1016);
}

static void test_seq_values_are_correct_across_the_2_32_wrap(void **state)
{
	struct fx *f = *state;
	static const uint32_t isns[] = {0, 1, 0x7fffffffu, 0xfffffff0u, 0xfffffffeu, 0xffffffffu};
	static const char stream[] = "EHLO a.example\r\nMAIL FROM:<x@y>\r\nRCPT TO:<z@w>\r\n";

	for (size_t k = 0; k < sizeof(isns) / sizeof(isns[0]); k++) {
		for (size_t cut = 0; cut < sizeof(stream); cut++) {
			fx_reset(f, isns[k], isns[k]);
			client_cut(f, stream, sizeof(stream) - 1, &cut, 1);
			assert_int_equal(f->r.ncmds, 3);
			assert_int_equal(f->r.cmds[0].seq, isns[k]);
			assert_int_equal(f->r.cmds[0].end_seq, (uint32_t)(isns[k] + 16));
			assert_int_equal(f->r.cmds[1].seq, (uint32_t)(isns[k] + 16));
			assert_int_equal(f->r.cmds[1].end_seq, (uint32_t)(isns[k] + 33));
			assert_int_equal(f->r.cmds[2].seq, (uint32_t)(isns[k] + 33));
			assert_int_equal(f->r.cmds[2].end_seq, (uint32_t)(isns[k] + 48));
		}
		/* Replies too. */
		SERVER(f, "220 hi\r\n250-a\r\n250 b\r\n");
		assert_int_equal(f->r.nreplies, 2);
		assert_int_equal(f->r.replies[0].end_seq, (uint32_t)(isns[k] + 8));
		assert_int_equal(f->r.replies[1].end_seq, (uint32_t)(isns[k] + 22));
	}
}

static void test_a_line_beyond_a_full_queue_is_held_until_a_reply(void **state)
{
	struct fx *f = *state;
	static const char more[] = "RCPT TO:<a@b>\r\nQUIT\r\n";
	size_t next = 0;

	/* The greeting plus 31 commands fill the queue. */
	for (unsigned i = 0; i < SMTP_PIPELINE_MAX - 1; i++)
		assert_int_equal(CLIENT(f, "RCPT TO:<a@b>\r\n"), SMTP_STATUS_CONTINUE);
	assert_int_equal(smtp_pending_replies(&f->s), SMTP_PIPELINE_MAX);
	uint32_t base = f->cseq;
	/* The next line is not even started: no block, nothing consumed. */
	assert_int_equal(feed_from(f, more, base, &next, 4), SMTP_STATUS_HOLD);
	assert_int_equal(next, 0);
	assert_int_equal(smtp_session_hold_seq(&f->s), base);
	assert_int_equal(block_pool_in_use(g_pool), 0);
	/* Fed again before any reply: held again at once. */
	assert_int_equal(feed_from(f, more, base, &next, sizeof(more) - 1), SMTP_STATUS_HOLD);
	assert_int_equal(next, 0);
	assert_int_equal(smtp_session_status(&f->s), SMTP_STATUS_HOLD);
	assert_int_equal(f->r.ncmds, SMTP_PIPELINE_MAX - 1);
	/* The banner makes room for one line; QUIT waits for the next reply. */
	assert_int_equal(SERVER(f, "220 hi\r\n"), SMTP_STATUS_CONTINUE);
	assert_int_equal(smtp_session_status(&f->s), SMTP_STATUS_CONTINUE);
	assert_int_equal(feed_from(f, more, base, &next, sizeof(more) - 1), SMTP_STATUS_HOLD);
	assert_int_equal(next, 15);
	assert_int_equal(f->r.ncmds, SMTP_PIPELINE_MAX);
	assert_int_equal(f->r.cmds[SMTP_PIPELINE_MAX - 1].seq, base);
	assert_int_equal(SERVER(f, "250 ok\r\n"), SMTP_STATUS_CONTINUE);
	assert_int_equal(feed_from(f, more, base, &next, sizeof(more) - 1), SMTP_STATUS_CONTINUE);
	assert_int_equal(f->r.ncmds, SMTP_PIPELINE_MAX + 1);
	assert_cmd(f, SMTP_PIPELINE_MAX, SMTP_VERB_QUIT, "QUIT", "");
	assert_int_equal(f->r.cmds[SMTP_PIPELINE_MAX].seq, base + 15);
}

static void test_33_pipelined_rsets_are_all_parsed_in_order(void **state)
{
	struct fx *f = *state;
	char all[64 * 6 + 32];
	size_t len = 0, next = 0;

	for (int i = 0; i < 33; i++)
		len += (size_t)snprintf(all + len, sizeof(all) - len, "RSET\r\n");
	len += (size_t)snprintf(all + len, sizeof(all) - len, "RCPT TO:<x@y>\r\n");
	uint32_t base = f->cseq;
	assert_int_equal(feed_from(f, all, base, &next, len), SMTP_STATUS_HOLD);
	assert_int_equal(f->r.ncmds, SMTP_PIPELINE_MAX - 1); /* the banner is owed too */
	for (int round = 0; next < len && round < 8; round++) {
		if (round == 0)
			SERVER(f, "220 hi\r\n");
		else
			SERVER(f, "250 ok\r\n250 ok\r\n");
		feed_from(f, all, base, &next, len);
	}
	assert_int_equal(next, len);
	assert_int_equal(f->r.ncmds, 34);
	assert_cmd(f, 33, SMTP_VERB_RCPT, "RCPT TO:<x@y>", "<x@y>");
	for (unsigned i = 0; i < 34; i++)
		assert_int_equal(f->r.cmds[i].seq, base + 6 * i);
}

static void test_answered_commands_make_room_in_the_queue(void **state)
{
	struct fx *f = *state;

	static const char *const lines[] = {"NOOP\r\n", "RSET\r\n",   "VRFY x\r\n",
	                                    "HELP\r\n", "EXPN y\r\n", "MAIL FROM:<>\r\n",
	                                    "XYZ\r\n"};
	static const enum smtp_verb verbs[] = {SMTP_VERB_NOOP,   SMTP_VERB_RSET, SMTP_VERB_VRFY,
	                                       SMTP_VERB_HELP,   SMTP_VERB_EXPN, SMTP_VERB_MAIL,
	                                       SMTP_VERB_UNKNOWN};
	unsigned sent = 0;

	SERVER(f, "220 hi\r\n");
	for (unsigned round = 0; round < 4; round++) {
		unsigned first = sent;
		for (unsigned i = 0; i < SMTP_PIPELINE_MAX; i++, sent++) {
			const char *line = lines[sent % 7];
			assert_int_equal(client_n(f, line, strlen(line)), SMTP_STATUS_CONTINUE);
		}
		assert_int_equal(smtp_pending_replies(&f->s), SMTP_PIPELINE_MAX);
		f->r.nreplies = 0;
		for (unsigned i = 0; i < SMTP_PIPELINE_MAX; i++)
			assert_int_equal(SERVER(f, "250 ok\r\n"), SMTP_STATUS_CONTINUE);
		assert_int_equal(smtp_pending_replies(&f->s), 0);
		assert_int_equal(f->r.nreplies, SMTP_PIPELINE_MAX);
		for (unsigned i = 0; i < SMTP_PIPELINE_MAX; i++)
			assert_reply(f, i, verbs[(first + i) % 7], 250);
	}
}

/* ---- replies ---- */

static void test_greeting_is_matched_to_the_banner(void **state)
{
	struct fx *f = *state;

	assert_int_equal(smtp_pending_replies(&f->s), 1);
	static const char banner[] = "220-mx.example.net ESMTP\r\n220 welcome\r\n";

	assert_int_equal(SERVER(f, banner), SMTP_STATUS_CONTINUE);
	assert_int_equal(f->r.nreplies, 1);
	assert_reply(f, 0, SMTP_VERB_GREETING, 220);
	assert_int_equal(f->r.replies[0].end_seq, 5000 + sizeof(banner) - 1);
	assert_int_equal(smtp_pending_replies(&f->s), 0);
}

static const char REPLIES[] = "220 mx ESMTP\r\n"
                              "250-mx.example.net\r\n250-PIPELINING\r\n250 8BITMIME\r\n"
                              "250 2.1.0 ok\r\n"
                              "550-5.1.1 no such\r\n550 5.1.1 user\r\n"
                              "250\r\n"
                              "221\n";

static void expect_reply_sequence(const struct fx *f)
{
	assert_int_equal(f->r.nreplies, 5);
	assert_reply(f, 0, SMTP_VERB_GREETING, 220);
	assert_reply(f, 1, SMTP_VERB_EHLO, 250);
	assert_reply(f, 2, SMTP_VERB_MAIL, 250);
	assert_reply(f, 3, SMTP_VERB_RCPT, 550);
	assert_reply(f, 4, SMTP_VERB_RCPT, 250);
	assert_int_equal(f->r.replies[4].end_seq, 5000 + sizeof(REPLIES) - 1 - 4);
	assert_int_equal(smtp_pending_replies(&f->s), 1);
}

static void test_multiline_replies_are_matched_to_commands_in_order(void **state)
{
	struct fx *f = *state;

	CLIENT(f,
	       "EHLO a.example\r\nMAIL FROM:<a@b>\r\nRCPT TO:<x@y>\r\nRCPT TO:<z@y>\r\nQUIT\r\n");
	assert_int_equal(smtp_pending_replies(&f->s), 6);
	assert_int_equal(server_n(f, REPLIES, sizeof(REPLIES) - 1 - 4), SMTP_STATUS_CONTINUE);
	expect_reply_sequence(f);
	assert_int_equal(SERVER(f, ""), SMTP_STATUS_CONTINUE);
	assert_int_equal(SERVER(f, "221\n"), SMTP_STATUS_CONTINUE);
	assert_reply(f, 5, SMTP_VERB_QUIT, 221);
	assert_int_equal(smtp_pending_replies(&f->s), 0);
}

static void test_replies_split_at_every_position_give_the_same_matches(void **state)
{
	struct fx *f = *state;
	const size_t len = sizeof(REPLIES) - 1 - 4; /* without the 221 */

	for (size_t cut = 0; cut <= len; cut++) {
		fx_reset(f, 1000, 5000);
		CLIENT(f, "EHLO a.example\r\nMAIL FROM:<a@b>\r\nRCPT TO:<x@y>\r\nRCPT TO:<z@y>\r\n"
		          "QUIT\r\n");
		server_n(f, REPLIES, cut);
		assert_int_equal(server_n(f, REPLIES + cut, len - cut), SMTP_STATUS_CONTINUE);
		expect_reply_sequence(f);
	}
	fx_reset(f, 1000, 5000);
	CLIENT(f,
	       "EHLO a.example\r\nMAIL FROM:<a@b>\r\nRCPT TO:<x@y>\r\nRCPT TO:<z@y>\r\nQUIT\r\n");
	for (size_t i = 0; i < len; i++)
		assert_int_equal(server_n(f, REPLIES + i, 1), SMTP_STATUS_CONTINUE);
	expect_reply_sequence(f);
}

/* The first line's text, which tells the server's own name (issue 10):
 * whole replies in one feed give it, a first line split from the final
 * line does not. */
static void test_reply_gives_its_first_line_text(void **state)
{
	struct fx *f = *state;

	CLIENT(f, "EHLO a.example\r\nMAIL FROM:<a@b>\r\nRCPT TO:<x@y>\r\nRCPT TO:<z@y>\r\n"
	          "QUIT\r\n");
	assert_int_equal(SERVER(f, REPLIES), SMTP_STATUS_CONTINUE);
	assert_int_equal(f->r.nreplies, 6);
	assert_string_equal(f->r.texts[0], "mx ESMTP");
	assert_string_equal(f->r.texts[1], "mx.example.net");
	assert_string_equal(f->r.texts[2], "2.1.0 ok");
	assert_string_equal(f->r.texts[3], "5.1.1 no such");
	assert_string_equal(f->r.texts[4], "");
	assert_string_equal(f->r.texts[5], "");

	/* cut anywhere: either the whole text or none, never a wrong one */
	const size_t len = sizeof(REPLIES) - 1 - 4;
	for (size_t cut = 0; cut <= len; cut++) {
		fx_reset(f, 1000, 5000);
		CLIENT(f, "EHLO a.example\r\nMAIL FROM:<a@b>\r\nRCPT TO:<x@y>\r\n"
		          "RCPT TO:<z@y>\r\nQUIT\r\n");
		server_n(f, REPLIES, cut);
		server_n(f, REPLIES + cut, len - cut);
		assert_int_equal(f->r.nreplies, 5);
		if (strcmp(f->r.texts[1], "(null)") != 0)
			assert_string_equal(f->r.texts[1], "mx.example.net");
		if (cut == 0 || cut >= 14 + 20 + 17 + 13)
			assert_string_equal(f->r.texts[1], "mx.example.net");
		if (cut > 14 && cut < 14 + 20)
			assert_string_equal(f->r.texts[1], "(null)");
	}
	/* a greeting split in two segments: no text */
	fx_reset(f, 1000, 5000);
	SERVER(f, "220 mx.exa");
	SERVER(f, "mple.net ESMTP\r\n");
	assert_int_equal(f->r.nreplies, 1);
	assert_string_equal(f->r.texts[0], "(null)");
	/* bare LF and no text at all */
	fx_reset(f, 1000, 5000);
	SERVER(f, "220 mx.example.net\n");
	assert_string_equal(f->r.texts[0], "mx.example.net");
	fx_reset(f, 1000, 5000);
	SERVER(f, "220\r\n");
	assert_string_equal(f->r.texts[0], "");
}

static void test_reply_without_pending_command_passes_through(void **state)
{
	struct fx *f = *state;

	SERVER(f, "220 hi\r\n");
	assert_int_equal(SERVER(f, "421 closing\r\n"), SMTP_STATUS_PASSTHROUGH);
	assert_passthrough(f, SMTP_STOP_REPLY_WITHOUT_COMMAND);
	assert_int_equal(f->r.nreplies, 1);
}

static void test_malformed_reply_lines_pass_through(void **state)
{
	struct fx *f = *state;
	static const char *const lines[] = {
	    "hello\r\n",   "25 ok\r\n",  "2x0 ok\r\n", "2500 ok\r\n", "250_ok\r\n",
	    " 250 ok\r\n", "199 ok\r\n", "600 ok\r\n", "000\r\n",     "\r\n",
	};

	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		fx_reset(f, 1, 1);
		assert_int_equal(server_n(f, lines[i], strlen(lines[i])), SMTP_STATUS_PASSTHROUGH);
		assert_passthrough(f, SMTP_STOP_BAD_REPLY);
		assert_int_equal(f->r.nreplies, 0);
	}
}

/* ---- DATA ---- */

static const char BODY[] = "From: a@example.org\r\n"
                           "Subject: pipelined lookalikes\r\n"
                           "\r\n"
                           "RCPT TO:<x@y>\r\n"
                           "HELO localhost\r\n"
                           "..foo\r\n"
                           "..\r\n"
                           "Mr. Smith went to Washington.\r\n"
                           ".hidden\r\n"
                           "\r\n"
                           ".\r\n"
                           "MAIL FROM:<next@example.org>\r\nQUIT\r\n";

static void expect_body_then_commands(const struct fx *f)
{
	assert_int_equal(f->r.ncmds, 2);
	assert_cmd(f, 0, SMTP_VERB_MAIL, "MAIL FROM:<next@example.org>", "<next@example.org>");
	assert_cmd(f, 1, SMTP_VERB_QUIT, "QUIT", "");
	assert_int_equal(smtp_session_state(&f->s), SMTP_STATE_COMMAND);
	assert_false(smtp_in_body(&f->s));
	/* The message's own reply, then MAIL and QUIT. */
	assert_int_equal(smtp_pending_replies(&f->s), 3);
}

static void test_data_354_body_is_skipped_and_commands_after_terminator_reported(void **state)
{
	struct fx *f = *state;

	start_body(f);
	assert_int_equal(CLIENT(f, BODY), SMTP_STATUS_CONTINUE);
	expect_body_then_commands(f);
	assert_int_equal(SERVER(f, "250 2.0.0 queued\r\n250 ok\r\n221 bye\r\n"),
	                 SMTP_STATUS_CONTINUE);
	assert_reply(f, 0, SMTP_VERB_DATA, 250);
	assert_reply(f, 1, SMTP_VERB_MAIL, 250);
	assert_reply(f, 2, SMTP_VERB_QUIT, 221);
}

static void test_data_terminator_split_at_every_position(void **state)
{
	struct fx *f = *state;
	const size_t len = sizeof(BODY) - 1;

	for (size_t cut = 0; cut <= len; cut++) {
		fx_reset(f, 1000, 5000);
		start_body(f);
		assert_int_equal(client_cut(f, BODY, len, &cut, 1), SMTP_STATUS_CONTINUE);
		expect_body_then_commands(f);
	}
	for (size_t i = 0; i + 1 < len; i++) {
		size_t cuts[2] = {i, i + 2};
		fx_reset(f, 1000, 5000);
		start_body(f);
		assert_int_equal(client_cut(f, BODY, len, cuts, 2), SMTP_STATUS_CONTINUE);
		expect_body_then_commands(f);
	}
	fx_reset(f, 1000, 5000);
	start_body(f);
	assert_int_equal(client_bytewise(f, BODY, len), SMTP_STATUS_CONTINUE);
	expect_body_then_commands(f);
}

static void test_empty_body_ends_at_first_dot_line(void **state)
{
	struct fx *f = *state;

	start_body(f);
	assert_int_equal(CLIENT(f, ".\r\nQUIT\r\n"), SMTP_STATUS_CONTINUE);
	assert_int_equal(f->r.ncmds, 1);
	assert_cmd(f, 0, SMTP_VERB_QUIT, "QUIT", "");
}

static void test_body_with_dots_next_to_text_is_content(void **state)
{
	struct fx *f = *state;
	static const char body[] = "a.b\r\n.a\r\nx.\r\n\r\n..\r\n...\r\n. \r\n.\t\r\n\r\n.x.\r\n";

	start_body(f);
	assert_int_equal(CLIENT(f, body), SMTP_STATUS_CONTINUE);
	assert_int_equal(smtp_session_state(&f->s), SMTP_STATE_BODY);
	assert_int_equal(CLIENT(f, "HELO localhost\r\n"), SMTP_STATUS_CONTINUE);
	assert_int_equal(f->r.ncmds, 0);
	assert_int_equal(CLIENT(f, ".\r\n"), SMTP_STATUS_CONTINUE);
	assert_int_equal(smtp_session_state(&f->s), SMTP_STATE_COMMAND);
}

static void test_data_rejected_554_commands_continue(void **state)
{
	struct fx *f = *state;

	start_session(f);
	CLIENT(f, "MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n");
	assert_int_equal(SERVER(f, "250 ok\r\n550 no\r\n554 no valid recipients\r\n"),
	                 SMTP_STATUS_CONTINUE);
	assert_int_equal(smtp_session_state(&f->s), SMTP_STATE_COMMAND);
	assert_reply(f, 2, SMTP_VERB_DATA, 554);
	assert_int_equal(CLIENT(f, "RSET\r\nQUIT\r\n"), SMTP_STATUS_CONTINUE);
	assert_int_equal(f->r.ncmds, 5);
	assert_cmd(f, 3, SMTP_VERB_RSET, "RSET", "");
	assert_cmd(f, 4, SMTP_VERB_QUIT, "QUIT", "");
}

/* Bytes after DATA wait for its reply; the reply says how they are read. */
static void check_data_hold(struct fx *f, size_t cut, const char *reply, bool body)
{
	static const char all[] = "MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n"
	                          "RCPT TO:<e@f>\r\n.\r\nQUIT\r\n";
	const size_t len = sizeof(all) - 1, held_at = 38;
	size_t next = 0;

	fx_reset(f, 0xfffffff0u, 5000); /* across the 2^32 wrap */
	start_session(f);
	uint32_t base = f->cseq;
	feed_from(f, all, base, &next, cut);
	assert_int_equal(feed_from(f, all, base, &next, len), SMTP_STATUS_HOLD);
	assert_int_equal(next, held_at);
	assert_int_equal(f->r.ncmds, 3);
	assert_int_equal(smtp_pending_replies(&f->s), 3);
	assert_int_equal(block_pool_in_use(g_pool), 0);
	/* Replies to MAIL and RCPT do not resolve the wait. */
	assert_int_equal(SERVER(f, "250 ok\r\n250 ok\r\n"), SMTP_STATUS_HOLD);
	assert_int_equal(feed_from(f, all, base, &next, len), SMTP_STATUS_HOLD);
	assert_int_equal(next, held_at);
	assert_int_equal(server_n(f, reply, strlen(reply)), SMTP_STATUS_CONTINUE);
	/* A retransmission starting before the hold point is read from it. */
	next -= 6;
	assert_int_equal(feed_from(f, all, base, &next, len), SMTP_STATUS_CONTINUE);
	assert_int_equal(smtp_session_state(&f->s), SMTP_STATE_COMMAND);
	if (body) {
		assert_int_equal(f->r.ncmds, 4);
		assert_cmd(f, 3, SMTP_VERB_QUIT, "QUIT", "");
		assert_int_equal(smtp_pending_replies(&f->s), 2); /* the message, QUIT */
	} else {
		assert_int_equal(f->r.ncmds, 6);
		assert_cmd(f, 3, SMTP_VERB_RCPT, "RCPT TO:<e@f>", "<e@f>");
		assert_int_equal(f->r.cmds[3].seq, base + held_at);
		assert_cmd(f, 4, SMTP_VERB_UNKNOWN, ".", "");
		assert_int_equal(smtp_pending_replies(&f->s), 3);
	}
}

static void test_bytes_after_data_are_held_until_its_reply_however_cut(void **state)
{
	for (size_t cut = 0; cut <= 60; cut++) {
		check_data_hold(*state, cut, "354 go\r\n", true);
		check_data_hold(*state, cut, "554 no valid recipients\r\n", false);
	}
}

static void test_message_reply_is_not_taken_for_a_pipelined_data_reply(void **state)
{
	struct fx *f = *state;

	start_body(f);
	/* The next transaction is pipelined right after the terminator (RFC 2920 3.1). */
	assert_int_equal(CLIENT(f, "hello\r\n.\r\nMAIL FROM:<b@c>\r\nRCPT TO:<d@e>\r\nDATA\r\n"),
	                 SMTP_STATUS_CONTINUE);
	assert_int_equal(smtp_session_state(&f->s), SMTP_STATE_DATA_WAIT);
	assert_int_equal(smtp_pending_replies(&f->s), 4);
	/* The message's reply must not be taken for the reply to the new DATA. */
	SERVER(f, "250 queued\r\n");
	assert_int_equal(smtp_session_state(&f->s), SMTP_STATE_DATA_WAIT);
	SERVER(f, "250 ok\r\n250 ok\r\n");
	assert_int_equal(smtp_session_state(&f->s), SMTP_STATE_DATA_WAIT);
	SERVER(f, "354 go\r\n");
	assert_int_equal(smtp_session_state(&f->s), SMTP_STATE_BODY);
	assert_reply(f, 0, SMTP_VERB_DATA, 250);
	assert_reply(f, 1, SMTP_VERB_MAIL, 250);
	assert_reply(f, 2, SMTP_VERB_RCPT, 250);
	assert_reply(f, 3, SMTP_VERB_DATA, 354);
}

/* ---- SMTP smuggling (CVE-2023-51764, -51765, -51766) ---- */

static const char *const SMUGGLED[] = {
    "text\n.\nMAIL FROM:<evil@x>\r\n",         /* LF . LF */
    "text\n.\r\nMAIL FROM:<evil@x>\r\n",       /* LF . CRLF */
    "text\r\n.\nMAIL FROM:<evil@x>\r\n",       /* CRLF . LF */
    "text\r.\rMAIL FROM:<evil@x>\r\n",         /* CR . CR */
    "text\r.\r\nMAIL FROM:<evil@x>\r\n",       /* CR . CRLF */
    "text\r.\nMAIL FROM:<evil@x>\r\n",         /* CR . LF */
    "text\n.\rMAIL FROM:<evil@x>\r\n",         /* LF . CR */
    "text\r\n.\rMAIL FROM:<evil@x>\r\n",       /* CRLF . CR */
    "text\r\n.\r\rMAIL FROM:<evil@x>\r\n",     /* CRLF . CR CR */
    "text\r\r\n.\n\r\nMAIL FROM:<evil@x>\r\n", /* CR CRLF . LF */
    "\n.\r\nMAIL FROM:<evil@x>\r\n",           /* an empty bare-LF line first */
    ".\nMAIL FROM:<evil@x>\r\n",               /* at the body start: (CRLF) . LF */
};

/* After an ambiguous end-of-data the smuggled command is reported as a
 * shadow line, the body goes on, and the real CRLF.CRLF ends it. */
static void check_smuggled(struct fx *f, const char *body, const size_t *cuts, size_t ncuts)
{
	fx_reset(f, 1000, 5000);
	start_body(f);
	assert_int_equal(client_cut(f, body, strlen(body), cuts, ncuts), SMTP_STATUS_CONTINUE);
	assert_int_equal(smtp_session_state(&f->s), SMTP_STATE_BODY);
	assert_false(smtp_in_body(&f->s)); /* its bytes are parsed: keep their copies */
	assert_int_equal(smtp_pending_replies(&f->s), 0);
	assert_int_equal(f->r.ncmds, 1);
	assert_int_equal(f->r.cmds[0].verb, SMTP_VERB_MAIL);
	assert_int_equal(f->r.cmds[0].arg_len, 8);
	assert_memory_equal(f->r.cmds[0].arg, "<evil@x>", 8);
	assert_true(f->r.cmds[0].shadow);
	assert_int_equal(f->r.cmds[0].end_seq, f->cseq);
	assert_int_equal(CLIENT(f, "RCPT TO:<more@x>\r\n.\r\nQUIT\r\n"), SMTP_STATUS_CONTINUE);
	assert_int_equal(f->r.ncmds, 3);
	assert_cmd(f, 1, SMTP_VERB_RCPT, "RCPT TO:<more@x>", "<more@x>");
	assert_true(f->r.cmds[1].shadow);
	assert_cmd(f, 2, SMTP_VERB_QUIT, "QUIT", "");
	assert_false(f->r.cmds[2].shadow);
	assert_int_equal(smtp_session_state(&f->s), SMTP_STATE_COMMAND);
	assert_int_equal(smtp_pending_replies(&f->s), 2); /* the message, QUIT */
	assert_int_equal(block_pool_in_use(g_pool), 0);
}

static void test_every_smuggling_variant_is_read_as_shadow_commands(void **state)
{
	struct fx *f = *state;

	for (size_t i = 0; i < sizeof(SMUGGLED) / sizeof(SMUGGLED[0]); i++) {
		check_smuggled(f, SMUGGLED[i], NULL, 0);
		for (size_t cut = 0; cut <= strlen(SMUGGLED[i]); cut++)
			check_smuggled(f, SMUGGLED[i], &cut, 1);
		for (size_t cut = 0; cut + 1 <= strlen(SMUGGLED[i]); cut++) {
			size_t cuts[2] = {cut, cut + 1};
			check_smuggled(f, SMUGGLED[i], cuts, 2);
		}
	}
}

static void test_ambiguous_end_right_before_the_real_one_adds_no_command(void **state)
{
	struct fx *f = *state;
	static const char body[] = "text\n\n.\n\r\n.\r\nQUIT\r\n";

	for (size_t cut = 0; cut <= sizeof(body) - 1; cut++) {
		fx_reset(f, 1, 1);
		start_body(f);
		assert_int_equal(client_cut(f, body, sizeof(body) - 1, &cut, 1),
		                 SMTP_STATUS_CONTINUE);
		assert_int_equal(f->r.ncmds, 1);
		assert_cmd(f, 0, SMTP_VERB_QUIT, "QUIT", "");
		assert_false(f->r.cmds[0].shadow);
	}
}

static void test_server_that_ends_data_early_is_followed_into_commands(void **state)
{
	struct fx *f = *state;

	start_body(f);
	/* The smuggled MAIL is pipelined; the next line is incomplete. */
	assert_int_equal(CLIENT(f, "hi\n.\nMAIL FROM:<e@x>\r\nRCPT TO:<v"), SMTP_STATUS_CONTINUE);
	uint32_t rcpt_seq = f->cseq - 10;
	assert_int_equal(smtp_pending_replies(&f->s), 0);
	/* A server that took LF.LF as the end answers the message, then MAIL. */
	assert_int_equal(SERVER(f, "250 queued\r\n"), SMTP_STATUS_CONTINUE);
	assert_int_equal(smtp_session_state(&f->s), SMTP_STATE_COMMAND);
	assert_reply(f, 0, SMTP_VERB_DATA, 250);
	assert_int_equal(smtp_pending_replies(&f->s), 1);
	assert_int_equal(SERVER(f, "250 ok\r\n"), SMTP_STATUS_CONTINUE);
	assert_reply(f, 1, SMTP_VERB_MAIL, 250);
	/* The incomplete shadow line goes on as a command. */
	assert_int_equal(CLIENT(f, "@x>\r\n"), SMTP_STATUS_CONTINUE);
	assert_int_equal(f->r.ncmds, 2);
	assert_cmd(f, 1, SMTP_VERB_RCPT, "RCPT TO:<v@x>", "<v@x>");
	assert_false(f->r.cmds[1].shadow);
	assert_int_equal(f->r.cmds[1].seq, rcpt_seq);
	assert_int_equal(smtp_pending_replies(&f->s), 1);
}

static void test_legitimate_body_bytes_never_become_shadow_lines(void **state)
{
	struct fx *f = *state;
	static const char body[] = "..leading dot\r\n.x\r\nx.\r\n...\r\na\r\n. \r\n"
	                           "RCPT TO:<not@cmd>\r\n\r\n.\r\n";

	for (size_t cut = 0; cut <= sizeof(body) - 1; cut++) {
		fx_reset(f, 1, 1);
		start_body(f);
		assert_int_equal(client_cut(f, body, sizeof(body) - 1, &cut, 1),
		                 SMTP_STATUS_CONTINUE);
		assert_int_equal(f->r.ncmds, 0);
		assert_int_equal(smtp_session_state(&f->s), SMTP_STATE_COMMAND);
	}
}

/* ---- BDAT ---- */

static void test_bdat_skips_exactly_the_chunk_even_split(void **state)
{
	struct fx *f = *state;
	/* The 30-octet chunk holds command lookalikes and a BDAT-like line. */
	static const char stream[] = "BDAT 30\r\n"
	                             "RCPT TO:<x@y>\r\nBDAT 99\r\nHELO\r\n"
	                             "BDAT 0 LAST\r\nQUIT\r\n";
	const size_t len = sizeof(stream) - 1;

	for (size_t cut = 0; cut <= len; cut++) {
		fx_reset(f, 1000, 5000);
		start_session(f);
		assert_int_equal(client_cut(f, stream, len, &cut, 1), SMTP_STATUS_CONTINUE);
		assert_int_equal(f->r.ncmds, 3);
		assert_cmd(f, 0, SMTP_VERB_BDAT, "BDAT 30", "30");
		assert_cmd(f, 1, SMTP_VERB_BDAT, "BDAT 0 LAST", "0 LAST");
		assert_cmd(f, 2, SMTP_VERB_QUIT, "QUIT", "");
		assert_int_equal(f->r.cmds[1].seq - f->r.cmds[0].end_seq, 30);
	}
	fx_reset(f, 1000, 5000);
	start_session(f);
	assert_int_equal(client_bytewise(f, stream, len), SMTP_STATUS_CONTINUE);
	assert_int_equal(f->r.ncmds, 3);
	assert_int_equal(SERVER(f, "250 30 octets\r\n250 queued\r\n221 bye\r\n"),
	                 SMTP_STATUS_CONTINUE);
	assert_reply(f, 0, SMTP_VERB_BDAT, 250);
	assert_reply(f, 1, SMTP_VERB_BDAT, 250);
	assert_reply(f, 2, SMTP_VERB_QUIT, 221);
}

static void test_bdat_chunk_is_skipped_across_many_feeds(void **state)
{
	struct fx *f = *state;
	uint8_t chunk[1000];

	memset(chunk, '\n', sizeof(chunk));
	start_session(f);
	assert_int_equal(CLIENT(f, "BDAT 3000 LAST\r\n"), SMTP_STATUS_CONTINUE);
	for (int i = 0; i < 3; i++) {
		assert_true(smtp_in_body(&f->s));
		assert_int_equal(client_n(f, chunk, sizeof(chunk)), SMTP_STATUS_CONTINUE);
	}
	assert_false(smtp_in_body(&f->s));
	assert_int_equal(CLIENT(f, "QUIT\r\n"), SMTP_STATUS_CONTINUE);
	assert_int_equal(f->r.ncmds, 2);
	assert_int_equal(f->r.cmds[1].verb, SMTP_VERB_QUIT);
}

static void test_bdat_0_last_has_no_chunk(void **state)
{
	struct fx *f = *state;

	start_session(f);
	assert_int_equal(CLIENT(f, "BDAT 0 LAST\r\nQUIT\r\n"), SMTP_STATUS_CONTINUE);
	assert_int_equal(f->r.ncmds, 2);
	assert_cmd(f, 0, SMTP_VERB_BDAT, "BDAT 0 LAST", "0 LAST");
	assert_cmd(f, 1, SMTP_VERB_QUIT, "QUIT", "");
}

static void test_bdat_sizes(void **state)
{
	struct fx *f = *state;
	static const struct {
		const char *line;
		bool ok;
	} cases[] = {
	    {"BDAT 4294967295", true},
	    {"bdat 007 last", true},
	    {"BDAT 1\tLAST  ", true},
	    {"BDAT 000000000000000001", true},
	    {"BDAT", false},
	    {"BDAT ", false},
	    {"BDAT x", false},
	    {"BDAT -1", false},
	    {"BDAT +1", false},
	    {"BDAT 4294967296", false},
	    {"BDAT 99999999999999999999", false},
	    {"BDAT 10LAST", false},
	    {"BDAT 10 LASTX", false},
	    {"BDAT 10 LAST extra", false},
	    {"BDAT 10 FIRST", false},
	    {"BDAT 1 0", false},
	    {"BDAT 0x10", false},
	    {"BDAT \xd9\xa1", false},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char buf[128];
		int n = snprintf(buf, sizeof(buf), "%s\r\n", cases[i].line);

		fx_reset(f, 1, 1);
		enum smtp_status st = client_n(f, buf, (size_t)n);
		if (cases[i].ok) {
			assert_int_equal(st, SMTP_STATUS_CONTINUE);
			assert_int_equal(f->r.ncmds, 1);
		} else {
			if (st != SMTP_STATUS_PASSTHROUGH)
				fail_msg("\"%s\" accepted", cases[i].line);
			assert_passthrough(f, SMTP_STOP_BAD_BDAT_SIZE);
			assert_int_equal(f->r.ncmds, 0);
		}
	}
}

static void test_bdat_refused_goes_on_in_command_state(void **state)
{
	struct fx *f = *state;
	static const uint16_t codes[] = {500, 452, 554, 354};

	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		char reply[32];
		int n = snprintf(reply, sizeof(reply), "%u no\r\n", codes[i]);

		fx_reset(f, 1, 1);
		start_session(f);
		/* The chunk "RCPT " was skipped by its size, as the server reads it. */
		CLIENT(f, "MAIL FROM:<a@b>\r\nBDAT 5\r\nRCPT QUIT\r\n");
		assert_int_equal(f->r.ncmds, 3);
		assert_int_equal(SERVER(f, "250 ok\r\n"), SMTP_STATUS_CONTINUE);
		assert_int_equal(server_n(f, reply, (size_t)n), SMTP_STATUS_CONTINUE);
		assert_reply(f, 1, SMTP_VERB_BDAT, codes[i]);
		assert_int_equal(CLIENT(f, "RCPT TO:<c@d>\r\n"), SMTP_STATUS_CONTINUE);
		assert_int_equal(f->r.ncmds, 4);
		assert_cmd(f, 3, SMTP_VERB_RCPT, "RCPT TO:<c@d>", "<c@d>");
		assert_int_equal(smtp_session_state(&f->s), SMTP_STATE_COMMAND);
	}
}

/* ---- STARTTLS ---- */

static void test_starttls_220_is_tls_started_and_later_bytes_are_ignored(void **state)
{
	struct fx *f = *state;

	start_session(f);
	assert_int_equal(CLIENT(f, "STARTTLS\r\n"), SMTP_STATUS_CONTINUE);
	assert_int_equal(smtp_session_state(&f->s), SMTP_STATE_STARTTLS_WAIT);
	assert_int_equal(SERVER(f, "220 2.0.0 ready\r\n"), SMTP_STATUS_PASSTHROUGH);
	assert_passthrough(f, SMTP_STOP_TLS_STARTED);
	assert_reply(f, 0, SMTP_VERB_STARTTLS, 220);
	assert_int_equal(CLIENT(f, "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03HELO x\r\n"),
	                 SMTP_STATUS_PASSTHROUGH);
	assert_int_equal(SERVER(f, "\x16\x03\x03\x00\x7a\x02\x00\x00\x76\r\n250 ok\r\n"),
	                 SMTP_STATUS_PASSTHROUGH);
	assert_int_equal(f->r.ncmds, 1);
	assert_int_equal(f->r.nreplies, 1);
	assert_passthrough(f, SMTP_STOP_TLS_STARTED);
}

static void test_starttls_454_commands_continue(void **state)
{
	struct fx *f = *state;

	start_session(f);
	CLIENT(f, "STARTTLS\r\n");
	assert_int_equal(SERVER(f, "454 4.7.0 TLS not available\r\n"), SMTP_STATUS_CONTINUE);
	assert_int_equal(smtp_session_state(&f->s), SMTP_STATE_COMMAND);
	assert_int_equal(CLIENT(f, "MAIL FROM:<a@b>\r\n"), SMTP_STATUS_CONTINUE);
	assert_int_equal(f->r.ncmds, 2);
	assert_cmd(f, 1, SMTP_VERB_MAIL, "MAIL FROM:<a@b>", "<a@b>");
}

struct wait_case {
	const char *reply;
	enum smtp_state state; /* SMTP_STATE_PASSTHROUGH: with reason `why` */
	enum smtp_stop why;
};

static void check_wait_replies(struct fx *f, const char *command, const struct wait_case *cases,
                               size_t n)
{
	for (size_t i = 0; i < n; i++) {
		fx_reset(f, 1, 1);
		start_session(f);
		client_n(f, command, strlen(command));
		server_n(f, cases[i].reply, strlen(cases[i].reply));
		if (smtp_session_state(&f->s) != cases[i].state)
			fail_msg("%s answered \"%s\": state %s, want %s", command, cases[i].reply,
			         smtp_state_name(smtp_session_state(&f->s)),
			         smtp_state_name(cases[i].state));
		if (cases[i].state == SMTP_STATE_PASSTHROUGH)
			assert_passthrough(f, cases[i].why);
	}
}

static void test_starttls_reply_codes(void **state)
{
	static const struct wait_case cases[] = {
	    {"220 go ahead\r\n", SMTP_STATE_PASSTHROUGH, SMTP_STOP_TLS_STARTED},
	    {"220-go\r\n220 ahead\r\n", SMTP_STATE_PASSTHROUGH, SMTP_STOP_TLS_STARTED},
	    {"454 not now\r\n", SMTP_STATE_COMMAND, 0},
	    {"501 syntax\r\n", SMTP_STATE_COMMAND, 0},
	    {"502 not implemented\r\n", SMTP_STATE_COMMAND, 0},
	    {"250 ok?\r\n", SMTP_STATE_PASSTHROUGH, SMTP_STOP_UNEXPECTED_REPLY},
	    {"354 what\r\n", SMTP_STATE_PASSTHROUGH, SMTP_STOP_UNEXPECTED_REPLY},
	};

	check_wait_replies(*state, "STARTTLS\r\n", cases, sizeof(cases) / sizeof(cases[0]));
}

static void test_data_reply_codes(void **state)
{
	static const struct wait_case cases[] = {
	    {"354 go ahead\r\n", SMTP_STATE_BODY, 0},
	    {"354-go\r\n354 ahead\r\n", SMTP_STATE_BODY, 0},
	    {"554 no valid recipients\r\n", SMTP_STATE_COMMAND, 0},
	    {"451 try later\r\n", SMTP_STATE_COMMAND, 0},
	    {"503 bad sequence\r\n", SMTP_STATE_COMMAND, 0},
	    {"250 ok?\r\n", SMTP_STATE_PASSTHROUGH, SMTP_STOP_UNEXPECTED_REPLY},
	    {"334 what\r\n", SMTP_STATE_PASSTHROUGH, SMTP_STOP_UNEXPECTED_REPLY},
	};

	check_wait_replies(*state, "DATA\r\n", cases, sizeof(cases) / sizeof(cases[0]));
}

static void test_auth_reply_codes(void **state)
{
	static const struct wait_case cases[] = {
	    {"334 \r\n", SMTP_STATE_AUTH_RESPONSE, 0},
	    {"334\r\n", SMTP_STATE_AUTH_RESPONSE, 0},
	    {"235 ok\r\n", SMTP_STATE_COMMAND, 0},
	    {"504 unknown mechanism\r\n", SMTP_STATE_COMMAND, 0},
	    {"454 temporary\r\n", SMTP_STATE_COMMAND, 0},
	};

	check_wait_replies(*state, "AUTH X\r\n", cases, sizeof(cases) / sizeof(cases[0]));
}

static void test_bytes_after_starttls_are_held_then_read_as_the_reply_says(void **state)
{
	struct fx *f = *state;
	static const char all[] = "STARTTLS\r\nRCPT TO:<x@y>\r\n";
	size_t next = 0;

	/* Refused: the held line is a command. */
	start_session(f);
	uint32_t base = f->cseq;
	assert_int_equal(feed_from(f, all, base, &next, sizeof(all) - 1), SMTP_STATUS_HOLD);
	assert_int_equal(next, 10);
	assert_int_equal(f->r.ncmds, 1);
	assert_int_equal(SERVER(f, "454 no\r\n"), SMTP_STATUS_CONTINUE);
	assert_int_equal(feed_from(f, all, base, &next, sizeof(all) - 1), SMTP_STATUS_CONTINUE);
	assert_int_equal(f->r.ncmds, 2);
	assert_cmd(f, 1, SMTP_VERB_RCPT, "RCPT TO:<x@y>", "<x@y>");

	/* Accepted: TLS from here on, the held bytes are never read. */
	fx_reset(f, 1, 1);
	next = 0;
	start_session(f);
	base = f->cseq;
	assert_int_equal(feed_from(f, all, base, &next, sizeof(all) - 1), SMTP_STATUS_HOLD);
	assert_int_equal(SERVER(f, "220 go ahead\r\n"), SMTP_STATUS_PASSTHROUGH);
	assert_passthrough(f, SMTP_STOP_TLS_STARTED);
	assert_int_equal(feed_from(f, all, base, &next, sizeof(all) - 1), SMTP_STATUS_PASSTHROUGH);
	assert_int_equal(f->r.ncmds, 1);
}

/* ---- AUTH (RFC 4954) ---- */

static void test_auth_exchange_lines_are_not_commands(void **state)
{
	struct fx *f = *state;

	start_session(f);
	assert_int_equal(CLIENT(f, "AUTH LOGIN\r\n"), SMTP_STATUS_CONTINUE);
	assert_int_equal(SERVER(f, "334 VXNlcm5hbWU6\r\n"), SMTP_STATUS_CONTINUE);
	assert_int_equal(smtp_session_state(&f->s), SMTP_STATE_AUTH_RESPONSE);
	/* SASL data that happens to look like a command. */
	assert_int_equal(CLIENT(f, "HELO localhost\r\n"), SMTP_STATUS_CONTINUE);
	assert_int_equal(SERVER(f, "334 UGFzc3dvcmQ6\r\n"), SMTP_STATUS_CONTINUE);
	assert_int_equal(CLIENT(f, "cGFzcw==\r\n"), SMTP_STATUS_CONTINUE);
	assert_int_equal(SERVER(f, "235 2.7.0 ok\r\n"), SMTP_STATUS_CONTINUE);
	assert_int_equal(CLIENT(f, "MAIL FROM:<a@b>\r\n"), SMTP_STATUS_CONTINUE);
	assert_int_equal(f->r.ncmds, 2);
	assert_cmd(f, 0, SMTP_VERB_AUTH, "AUTH LOGIN", "LOGIN");
	assert_cmd(f, 1, SMTP_VERB_MAIL, "MAIL FROM:<a@b>", "<a@b>");
	assert_int_equal(f->r.nreplies, 3);
	assert_reply(f, 0, SMTP_VERB_AUTH, 334);
	assert_reply(f, 1, SMTP_VERB_AUTH, 334);
	assert_reply(f, 2, SMTP_VERB_AUTH, 235);
}

static void test_bytes_after_auth_are_held_then_read_as_the_reply_says(void **state)
{
	struct fx *f = *state;
	static const char all[] = "AUTH LOGIN\r\ndXNlcg==\r\nMAIL FROM:<a@b>\r\n";
	size_t next = 0;

	start_session(f);
	uint32_t base = f->cseq;
	assert_int_equal(feed_from(f, all, base, &next, sizeof(all) - 1), SMTP_STATUS_HOLD);
	assert_int_equal(next, 12);
	/* 334: the held line is SASL data, not a command, and waits again. */
	assert_int_equal(SERVER(f, "334 VXNlcm5hbWU6\r\n"), SMTP_STATUS_CONTINUE);
	assert_int_equal(feed_from(f, all, base, &next, sizeof(all) - 1), SMTP_STATUS_HOLD);
	assert_int_equal(next, 22);
	assert_int_equal(f->r.ncmds, 1);
	assert_int_equal(smtp_pending_replies(&f->s), 1);
	/* 235: what follows is a command. */
	assert_int_equal(SERVER(f, "235 ok\r\n"), SMTP_STATUS_CONTINUE);
	assert_int_equal(feed_from(f, all, base, &next, sizeof(all) - 1), SMTP_STATUS_CONTINUE);
	assert_int_equal(f->r.ncmds, 2);
	assert_cmd(f, 1, SMTP_VERB_MAIL, "MAIL FROM:<a@b>", "<a@b>");

	/* AUTH PLAIN with its initial response, a command pipelined behind it. */
	fx_reset(f, 1, 1);
	start_session(f);
	assert_int_equal(CLIENT(f, "AUTH PLAIN AGEAYg==\r\nRCPT TO:<x@y>\r\n"), SMTP_STATUS_HOLD);
	assert_int_equal(smtp_session_hold_seq(&f->s), f->cseq - 15);
	assert_int_equal(f->r.ncmds, 1);
}

/* ---- RSET ---- */

static void test_rset_then_new_ehlo_is_reported(void **state)
{
	struct fx *f = *state;

	start_session(f);
	CLIENT(f, "MAIL FROM:<a@b>\r\nRSET\r\nEHLO other.example\r\n");
	SERVER(f, "250 ok\r\n250 reset\r\n250-mx\r\n250 SIZE\r\n");
	assert_int_equal(f->r.ncmds, 3);
	assert_cmd(f, 1, SMTP_VERB_RSET, "RSET", "");
	assert_cmd(f, 2, SMTP_VERB_EHLO, "EHLO other.example", "other.example");
	assert_reply(f, 2, SMTP_VERB_EHLO, 250);
	assert_int_equal(smtp_pending_replies(&f->s), 0);
}

/* ---- the line bound ---- */

static void test_an_over_long_line_is_cut_at_the_bound_and_skipped_to_its_lf(void **state)
{
	struct fx *f = *state;
	const uint32_t max = g_env.line_max;
	const size_t noop = 5000, len = noop + 15;
	uint8_t *all = malloc(len);

	/* A 5,000-byte NOOP line, then RCPT: Postfix keeps 2,048 bytes of the
	 * first, skips the rest to its LF, and reads RCPT in sync. */
	assert_non_null(all);
	memset(all, 'x', noop);
	memcpy(all, "NOOP ", 5);
	memcpy(all + noop - 2, "\r\nRCPT TO:<a@b>\r\n", 17);
	for (size_t cut = 0; cut <= len; cut++) {
		fx_reset(f, 1, 1);
		enum smtp_status st = client_cut(f, all, len, &cut, 1);
		assert_int_equal(st, SMTP_STATUS_CONTINUE);
		assert_int_equal(f->r.ncmds, 2);
		assert_int_equal(f->r.cmds[0].verb, SMTP_VERB_NOOP);
		assert_int_equal(f->r.cmds[0].line_len, max);
		assert_int_equal(f->r.cmds[0].seq, 1);
		assert_int_equal(f->r.cmds[0].end_seq, 1 + noop);
		assert_cmd(f, 1, SMTP_VERB_RCPT, "RCPT TO:<a@b>", "<a@b>");
		assert_int_equal(f->r.cmds[1].seq, 1 + noop);
		assert_int_equal(smtp_pending_replies(&f->s), 3);
		assert_int_equal(block_pool_in_use(g_pool), 0);
	}
	fx_reset(f, 1, 1);
	assert_int_equal(client_bytewise(f, all, len), SMTP_STATUS_CONTINUE);
	assert_int_equal(f->r.ncmds, 2);
	assert_int_equal(f->r.cmds[1].verb, SMTP_VERB_RCPT);
	free(all);

	/* 100 KB without a LF, cut like TCP segments: one block throughout. */
	uint8_t *big = malloc(100000);
	assert_non_null(big);
	memset(big, 'A', 100000);
	memcpy(big, "HELO ", 5);
	fx_reset(f, 1, 1);
	for (size_t off = 0; off < 100000; off += 1460) {
		size_t n = 100000 - off < 1460 ? 100000 - off : 1460;
		assert_int_equal(client_n(f, big + off, n), SMTP_STATUS_CONTINUE);
		assert_int_equal(block_pool_in_use(g_pool), 1);
	}
	assert_int_equal(f->r.ncmds, 0);
	assert_int_equal(CLIENT(f, "\r\nQUIT\r\n"), SMTP_STATUS_CONTINUE);
	assert_int_equal(block_pool_in_use(g_pool), 0);
	assert_int_equal(f->r.ncmds, 2);
	assert_int_equal(f->r.cmds[0].verb, SMTP_VERB_HELO);
	assert_int_equal(f->r.cmds[0].line_len, max);
	assert_memory_equal(f->r.cmds[0].line, big, LINE_COPY);
	assert_int_equal(f->r.cmds[0].end_seq, 100003);
	assert_cmd(f, 1, SMTP_VERB_QUIT, "QUIT", "");
	free(big);
}

static void test_line_bound_does_not_depend_on_segmentation(void **state)
{
	struct fx *f = *state;
	const uint32_t max = g_env.line_max;
	uint8_t *line = malloc(max + 2);

	assert_non_null(line);
	/* max bytes before the LF, CR included: whole, its CR dropped. */
	memset(line, 'x', max + 2);
	memcpy(line, "HELO ", 5);
	line[max - 1] = '\r';
	line[max] = '\n';
	for (size_t cut = 0; cut <= max + 1; cut = cut + 97 < max - 1 ? cut + 97 : cut + 1) {
		fx_reset(f, 1, 1);
		assert_int_equal(client_cut(f, line, max + 1, &cut, 1), SMTP_STATUS_CONTINUE);
		assert_int_equal(f->r.ncmds, 1);
		assert_int_equal(f->r.cmds[0].line_len, max - 1);
	}
	/* One byte more: the first max bytes, as they are (the CR is skipped). */
	line[max - 1] = 'x';
	line[max] = '\r';
	line[max + 1] = '\n';
	for (size_t cut = 0; cut <= max + 2; cut = cut + 97 < max - 1 ? cut + 97 : cut + 1) {
		fx_reset(f, 1, 1);
		assert_int_equal(client_cut(f, line, max + 2, &cut, 1), SMTP_STATUS_CONTINUE);
		assert_int_equal(f->r.ncmds, 1);
		assert_int_equal(f->r.cmds[0].line_len, max);
		assert_int_equal(f->r.cmds[0].end_seq, 1 + max + 2);
	}
	/* Exactly max bytes, the last a CR of a longer run: Postfix keeps it. */
	line[max - 1] = '\r';
	size_t last[2] = {max, max + 1};
	fx_reset(f, 1, 1);
	assert_int_equal(client_cut(f, line, max + 2, last, 2), SMTP_STATUS_CONTINUE);
	assert_int_equal(f->r.cmds[0].line_len, max);
	free(line);
}

static void test_every_cr_before_the_lf_is_dropped(void **state)
{
	struct fx *f = *state;

	assert_int_equal(CLIENT(f, "HELO x.example\r\r\r\nRCPT TO:<a@b>\r\r\n"),
	                 SMTP_STATUS_CONTINUE);
	assert_int_equal(f->r.ncmds, 2);
	assert_cmd(f, 0, SMTP_VERB_HELO, "HELO x.example", "x.example");
	assert_cmd(f, 1, SMTP_VERB_RCPT, "RCPT TO:<a@b>", "<a@b>");
}

static void test_pool_exhausted_passes_through_and_other_sessions_keep_their_blocks(void **state)
{
	struct fx *f = *state;
	char err[128];
	struct block_pool *one = block_pool_create(2048, 1);
	struct smtp_env env;
	struct smtp_session a, b;
	struct rec *r = calloc(1, sizeof(*r));

	assert_non_null(one);
	assert_non_null(r);
	(void)f;
	r->stop_at = -1;
	assert_int_equal(smtp_env_init(&env, one, g_db, g_scratch, 0, err, sizeof(err)), 0);
	smtp_session_init(&a);
	smtp_session_init(&b);
	assert_int_equal(smtp_feed_client(&a, &env, &handler, r, 1, (const uint8_t *)"HELO a", 6),
	                 SMTP_STATUS_CONTINUE);
	assert_int_equal(smtp_feed_client(&b, &env, &handler, r, 1, (const uint8_t *)"HELO b", 6),
	                 SMTP_STATUS_PASSTHROUGH);
	assert_int_equal(smtp_session_stop_reason(&b), SMTP_STOP_POOL_EXHAUSTED);
	assert_int_equal(smtp_feed_client(&a, &env, &handler, r, 7, (const uint8_t *)"\r\n", 2),
	                 SMTP_STATUS_CONTINUE);
	assert_int_equal(r->ncmds, 1);
	assert_int_equal(r->cmds[0].arg_len, 1);
	assert_int_equal(block_pool_in_use(one), 0);
	smtp_session_release(&a, one);
	smtp_session_release(&b, one);
	assert_int_equal(block_pool_in_use(one), 0);
	block_pool_free(one);
	free(r);
}

static void test_env_init_checks_the_line_bound(void **state)
{
	char err[128];
	struct smtp_env env;
	struct block_pool *small = block_pool_create(1024, 1);

	(void)state;
	assert_non_null(small);
	assert_int_equal(smtp_env_init(&env, g_pool, g_db, g_scratch, 0, err, sizeof(err)), 0);
	assert_int_equal(env.line_max, SMTP_LINE_MAX_DEFAULT);
	assert_int_equal(smtp_env_init(&env, g_pool, g_db, g_scratch, 511, err, sizeof(err)), -1);
	assert_int_equal(smtp_env_init(&env, g_pool, g_db, g_scratch, 512, err, sizeof(err)), 0);
	assert_int_equal(smtp_env_init(&env, small, g_db, g_scratch, 2048, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "block size"));
	assert_int_equal(smtp_env_init(&env, small, g_db, g_scratch, 1024, err, sizeof(err)), 0);
	assert_int_equal(smtp_env_init(&env, NULL, g_db, g_scratch, 0, err, sizeof(err)), -1);
	block_pool_free(small);
}

/* ---- stopping ---- */

static void test_on_command_stop_stops_parsing_and_later_feeds_report_stopped(void **state)
{
	struct fx *f = *state;

	start_session(f);
	f->r.stop_at = 1; /* the first RCPT */
	assert_int_equal(CLIENT(f, "MAIL FROM:<a@b>\r\nRCPT TO:<x@y>\r\nRCPT TO:<z@y>\r\nDATA\r\n"),
	                 SMTP_STATUS_STOPPED);
	assert_int_equal(f->r.ncmds, 2);
	assert_int_equal(smtp_session_state(&f->s), SMTP_STATE_STOPPED);
	/* The stopped line counts as not consumed: only MAIL awaits a reply. */
	assert_int_equal(smtp_pending_replies(&f->s), 1);
	assert_int_equal(CLIENT(f, "QUIT\r\n"), SMTP_STATUS_STOPPED);
	assert_int_equal(f->r.ncmds, 2);
	/* The server side still matches what was owed before the stop. */
	assert_int_equal(SERVER(f, "250 ok\r\n"), SMTP_STATUS_STOPPED);
	assert_reply(f, 0, SMTP_VERB_MAIL, 250);
	assert_int_equal(smtp_pending_replies(&f->s), 0);
	assert_int_equal(SERVER(f, "250 ok\r\n"), SMTP_STATUS_PASSTHROUGH);
	assert_passthrough(f, SMTP_STOP_REPLY_WITHOUT_COMMAND);
}

static void test_stop_on_a_line_completed_from_the_block_returns_the_block(void **state)
{
	struct fx *f = *state;

	start_session(f);
	f->r.stop_at = 0;
	assert_int_equal(CLIENT(f, "RCPT TO:<x"), SMTP_STATUS_CONTINUE);
	assert_int_equal(block_pool_in_use(g_pool), 1);
	assert_int_equal(CLIENT(f, "@y>\r\nQUIT\r\n"), SMTP_STATUS_STOPPED);
	assert_int_equal(block_pool_in_use(g_pool), 0);
	assert_int_equal(f->r.cmds[0].seq, f->cseq - 21);
	assert_int_equal(f->r.cmds[0].end_seq, f->cseq - 6);
	assert_cmd(f, 0, SMTP_VERB_RCPT, "RCPT TO:<x@y>", "<x@y>");
}

static void test_feeds_after_passthrough_are_ignored(void **state)
{
	struct fx *f = *state;

	start_session(f);
	CLIENT(f, "STARTTLS\r\n");
	SERVER(f, "220 go\r\n");
	assert_int_equal(CLIENT(f, "HELO a\r\n"), SMTP_STATUS_PASSTHROUGH);
	assert_int_equal(CLIENT(f, "HELO partial"), SMTP_STATUS_PASSTHROUGH);
	assert_int_equal(block_pool_in_use(g_pool), 0);
	assert_int_equal(SERVER(f, "250 x\r\n"), SMTP_STATUS_PASSTHROUGH);
	assert_int_equal(f->r.ncmds, 1);
	assert_int_equal(f->r.nreplies, 1);
}

static void test_empty_feeds_change_nothing(void **state)
{
	struct fx *f = *state;

	assert_int_equal(smtp_feed_client(&f->s, &g_env, &handler, &f->r, 1, NULL, 0),
	                 SMTP_STATUS_CONTINUE);
	assert_int_equal(smtp_feed_server(&f->s, &g_env, &handler, &f->r, 1, NULL, 0),
	                 SMTP_STATUS_CONTINUE);
	assert_int_equal(f->r.ncmds + f->r.nreplies, 0);
	assert_int_equal(smtp_pending_replies(&f->s), 1);
	assert_int_equal(smtp_session_state(&f->s), SMTP_STATE_COMMAND);
}

static void test_hyperscan_error_passes_through(void **state)
{
	struct fx *f = *state;
	char err[256];
	struct smtp_env env;
	hs_database_t *tiny = NULL;
	hs_compile_error_t *cerr = NULL;
	hs_scratch_t *small = NULL;

	assert_int_equal(hs_compile("x", 0, HS_MODE_BLOCK, NULL, &tiny, &cerr), HS_SUCCESS);
	assert_int_equal(hs_alloc_scratch(tiny, &small), HS_SUCCESS);
	/* A scratch sized for a one-literal database: Hyperscan refuses it. */
	if (scan_command_verb(g_db, small, (const uint8_t *)"HELO x", 6) != SMTP_VERB_COUNT) {
		hs_free_scratch(small);
		hs_free_database(tiny);
		skip();
	}
	assert_int_equal(smtp_env_init(&env, g_pool, g_db, small, 0, err, sizeof(err)), 0);
	assert_int_equal(
	    smtp_feed_client(&f->s, &env, &handler, &f->r, 1, (const uint8_t *)"HELO x\r\n", 8),
	    SMTP_STATUS_PASSTHROUGH);
	assert_passthrough(f, SMTP_STOP_SCAN_ERROR);
	assert_int_equal(f->r.ncmds, 0);
	hs_free_scratch(small);
	hs_free_database(tiny);
}

/* ---- names and sizes ---- */

static void test_names_are_defined_once_and_distinct(void **state)
{
	(void)state;
	for (int i = 0; i < SMTP_STOP_COUNT; i++) {
		assert_true(strlen(smtp_stop_name((enum smtp_stop)i)) > 0);
		assert_true(strlen(smtp_stop_description((enum smtp_stop)i)) > 0);
		for (int j = 0; j < i; j++)
			assert_string_not_equal(smtp_stop_name((enum smtp_stop)i),
			                        smtp_stop_name((enum smtp_stop)j));
	}
	for (int i = 0; i < SMTP_VERB_COUNT; i++)
		for (int j = 0; j < i; j++)
			assert_string_not_equal(smtp_verb_name((enum smtp_verb)i),
			                        smtp_verb_name((enum smtp_verb)j));
	for (int i = 0; i < SMTP_STATE_COUNT; i++)
		assert_string_not_equal(smtp_state_name((enum smtp_state)i), "unknown");
	assert_string_equal(smtp_stop_name(SMTP_STOP_COUNT), "unknown");
	assert_null(smtp_verb_keyword(SMTP_VERB_GREETING));
	assert_null(smtp_verb_keyword(SMTP_VERB_UNKNOWN));
	assert_string_equal(smtp_verb_keyword(SMTP_VERB_STARTTLS), "STARTTLS");
	assert_true(sizeof(struct smtp_session) <= 32);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)
	    T(test_each_verb_is_recognized_case_insensitively),
	    T(test_helo_ehlo_argument_is_rest_of_line_after_blanks),
	    T(test_mail_rcpt_argument_with_and_without_space_after_colon),
	    T(test_nul_and_8bit_bytes_reach_the_callback_with_exact_lengths),
	    T(test_nul_inside_keyword_is_unknown),
	    T(test_bare_lf_ends_command_lines),
	    T(test_bare_cr_is_not_a_line_terminator),
	    T(test_pipelined_commands_in_one_feed_are_reported_in_order),
	    T(test_command_split_at_every_pair_of_positions_gives_the_same_commands),
	    T(test_one_byte_per_feed_gives_the_same_commands),
	    T(test_incomplete_line_holds_one_block_until_its_lf),
	    T(test_seq_values_are_correct_across_the_2_32_wrap),
	    T(test_a_line_beyond_a_full_queue_is_held_until_a_reply),
	    T(test_33_pipelined_rsets_are_all_parsed_in_order),
	    T(test_answered_commands_make_room_in_the_queue),
	    T(test_greeting_is_matched_to_the_banner),
	    T(test_multiline_replies_are_matched_to_commands_in_order),
	    T(test_replies_split_at_every_position_give_the_same_matches),
	    T(test_reply_gives_its_first_line_text),
	    T(test_reply_without_pending_command_passes_through),
	    T(test_malformed_reply_lines_pass_through),
	    T(test_data_354_body_is_skipped_and_commands_after_terminator_reported),
	    T(test_data_terminator_split_at_every_position),
	    T(test_empty_body_ends_at_first_dot_line),
	    T(test_body_with_dots_next_to_text_is_content),
	    T(test_data_rejected_554_commands_continue),
	    T(test_bytes_after_data_are_held_until_its_reply_however_cut),
	    T(test_message_reply_is_not_taken_for_a_pipelined_data_reply),
	    T(test_every_smuggling_variant_is_read_as_shadow_commands),
	    T(test_ambiguous_end_right_before_the_real_one_adds_no_command),
	    T(test_server_that_ends_data_early_is_followed_into_commands),
	    T(test_legitimate_body_bytes_never_become_shadow_lines),
	    T(test_bdat_skips_exactly_the_chunk_even_split),
	    T(test_bdat_chunk_is_skipped_across_many_feeds),
	    T(test_bdat_0_last_has_no_chunk),
	    T(test_bdat_sizes),
	    T(test_bdat_refused_goes_on_in_command_state),
	    T(test_starttls_220_is_tls_started_and_later_bytes_are_ignored),
	    T(test_starttls_454_commands_continue),
	    T(test_starttls_reply_codes),
	    T(test_data_reply_codes),
	    T(test_auth_reply_codes),
	    T(test_bytes_after_starttls_are_held_then_read_as_the_reply_says),
	    T(test_auth_exchange_lines_are_not_commands),
	    T(test_bytes_after_auth_are_held_then_read_as_the_reply_says),
	    T(test_rset_then_new_ehlo_is_reported),
	    T(test_an_over_long_line_is_cut_at_the_bound_and_skipped_to_its_lf),
	    T(test_line_bound_does_not_depend_on_segmentation),
	    T(test_every_cr_before_the_lf_is_dropped),
	    T(test_pool_exhausted_passes_through_and_other_sessions_keep_their_blocks),
	    T(test_env_init_checks_the_line_bound),
	    T(test_on_command_stop_stops_parsing_and_later_feeds_report_stopped),
	    T(test_stop_on_a_line_completed_from_the_block_returns_the_block),
	    T(test_feeds_after_passthrough_are_ignored),
	    T(test_empty_feeds_change_nothing),
	    T(test_hyperscan_error_passes_through),
	    T(test_names_are_defined_once_and_distinct),
#undef T
	};

	return cmocka_run_group_tests_name("smtp", tests, group_setup, group_teardown);
}
