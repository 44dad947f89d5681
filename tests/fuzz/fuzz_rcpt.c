/*
 * libFuzzer target for rcpt_parse(). The input is copied to a buffer of
 * exactly its size so ASan reports any read past it; the results must point
 * inside the input, the domain inside the mailbox, and the mailbox put back
 * between angle brackets must parse to the same mailbox and domain.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtp/rcpt.h"

static void check(int ok)
{
	if (!ok)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct rcpt_address zero;
	struct rcpt_address out, again;
	char *text = malloc(size > 0 ? size : 1);
	char *wrapped;

	check(text != NULL);
	memcpy(text, data, size);
	if (!rcpt_parse(text, size, &out)) {
		check(memcmp(&out, &zero, sizeof(out)) == 0);
		free(text);
		return 0;
	}
	check(out.mailbox >= text && out.mailbox_len > 0 &&
	      out.mailbox_len <= size - (size_t)(out.mailbox - text));
	check(out.domain >= out.mailbox &&
	      out.domain + out.domain_len <= out.mailbox + out.mailbox_len);
	check(memchr(out.mailbox, '\0', out.mailbox_len) == NULL);

	wrapped = malloc(out.mailbox_len + 2);
	check(wrapped != NULL);
	wrapped[0] = '<';
	memcpy(wrapped + 1, out.mailbox, out.mailbox_len);
	wrapped[out.mailbox_len + 1] = '>';
	check(rcpt_parse(wrapped, out.mailbox_len + 2, &again));
	check(again.mailbox_len == out.mailbox_len &&
	      memcmp(again.mailbox, out.mailbox, out.mailbox_len) == 0);
	check(again.domain_len == out.domain_len &&
	      again.domain - again.mailbox == out.domain - out.mailbox);
	free(wrapped);
	free(text);
	return 0;
}
