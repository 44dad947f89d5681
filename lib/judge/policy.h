/*
 * policy: everything that decides a session's fate, as one immutable value
 * that is built completely or not at all: the verdict rules' lists (banned
 * names and patterns, public suffix list), the exemptions (--allow-clients,
 * --allow-helos), the local names and addresses, and the action per reason
 * (--action, --mode). helogate publishes a whole policy with one RCU swap
 * (policy_rcu), helogate-check judges with the very same value.
 *
 * Owns:    every list it was built with, and one Hyperscan scratch per
 *          reader for the pattern database (so a reload with new patterns
 *          never needs a worker to allocate).
 * Never:   changes after policy_build() returns; allocates, locks or does
 *          I/O in policy_judge() or policy_action().
 * Threads: any number of readers; reader i (0..n_readers-1) alone uses
 *          scratch i, so two threads never pass the same reader id.
 */
#ifndef HG_POLICY_H
#define HG_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wire/addr.h"
#include "judge/verdict.h"

/* What helogate does with a session judged for a reason. */
#define POLICY_ACTIONS(X)                                                                          \
	X(ENFORCE, "enforce", "reject the RCPT (550) and take the session over")                   \
	X(DETECT, "detect", "write the event, deliver the mail")                                   \
	X(OFF, "off", "neither: count the verdict only")

enum policy_action {
#define POLICY_ACTION_ENUM(sym, name, desc) POLICY_##sym,
	POLICY_ACTIONS(POLICY_ACTION_ENUM)
#undef POLICY_ACTION_ENUM
	    POLICY_ACTION_COUNT
};

#define POLICY_MAX_LOCAL 64 /* local names and local addresses, each */

/* The sources of a policy. Paths NULL or "": none (psl_path: the build's
 * default list). Strings are read during policy_build() only. */
struct policy_settings {
	const char *psl_path;
	const char *banlist_path;       /* --banlist */
	const char *patterns_path;      /* --banned-patterns */
	const char *allow_clients_path; /* --allow-clients */
	const char *allow_helos_path;   /* --allow-helos */
	const char *const *local_names; /* --local-domain and --local-name: matches-rcpt */
	size_t n_local_names;
	const struct ip_addr *local_ips; /* --local-ip: server-ip */
	size_t n_local_ips;
	enum policy_action actions[VERDICT_COUNT]; /* per reason; ok and allowed are ignored */
	unsigned n_readers;                        /* threads that will call policy_judge (>= 1) */
};

struct policy;

/* Build a policy: load every list, then fill in the rest. NULL on any
 * failure, with the loader's one-line "FILE:LINE: problem" (or "FILE:
 * problem") in err; nothing is half built. Names are normalized (lower
 * case, no trailing dot); a local name that is not a domain name fails
 * ("local name 'TEXT': not a domain name"). */
struct policy *policy_build(const struct policy_settings *s, char *err, size_t err_size);

/* Frees the policy and everything it owns, then calls the attachment's
 * free function. NULL: no-op. No reader may still use it. */
void policy_free(struct policy *p);

/* Attach data the application publishes together with the policy (helogate:
 * its reloaded configuration, whose reply texts the takeover uses);
 * free_fn(data) runs in policy_free(). Call before publishing. */
void policy_attach(struct policy *p, void *data, void (*free_fn)(void *));
const void *policy_attachment(const struct policy *p);

/* One session at the moment it is judged. */
struct policy_input {
	const struct ip_addr *client; /* NULL: unknown, never exempt */
	const struct ip_addr *server; /* the session's server address, or NULL */
	const char *helo;             /* the HELO/EHLO argument as on the wire */
	size_t helo_len;
	const char *rcpt; /* the text after "RCPT TO:", or NULL (STARTTLS) */
	size_t rcpt_len;
	uint64_t
	    server_name; /* policy_server_name() of the server's greeting/EHLO reply, 0: none */
	unsigned reader; /* 0..n_readers-1: whose pattern scratch */
};

/* allowed when the client is in --allow-clients (nothing else is looked
 * at); otherwise verdict_judge_helo() with the policy's lists, the local
 * names and addresses, the session's server address and announced name.
 * p NULL: every session is ok. */
enum verdict_reason policy_judge(const struct policy *p, const struct policy_input *in);

/* A session's HELO judged once by a policy (policy_judge_memo). A zeroed
 * memo holds nothing; clear it whenever the session's HELO changes. */
struct policy_memo {
	struct verdict_memo verdict;
	uint32_t generation; /* the policy's that made it; 0: none */
};

/* policy_judge(p, in), judging the HELO in full only when memo was not made
 * by p (a reload publishes a new policy), then keeping it in memo: at later
 * RCPTs only the recipient's domain and the server's name are compared. in
 * must name the same client, server and HELO each time. */
enum verdict_reason policy_judge_memo(const struct policy *p, const struct policy_input *in,
                                      struct policy_memo *memo);

/* True when the client is exempt (--allow-clients). */
bool policy_client_allowed(const struct policy *p, const struct ip_addr *client);

/* The action for a reason: POLICY_OFF for ok and allowed (and for a NULL
 * policy), else the settings' action. */
enum policy_action policy_action(const struct policy *p, enum verdict_reason reason);

/* The name a server announces in its 220 greeting or its HELO/EHLO reply:
 * the first word of the reply's first line (RFC 5321 4.3.1 greeting,
 * 4.1.1.1 ehlo-ok-rsp: "Domain / address-literal" first), as
 * verdict_name_hash() of the normalized name; 0 when the word is not a
 * domain name (an address literal, nothing, junk). text: the line after
 * the code and its separator, without CR LF. */
uint64_t policy_server_name(const uint8_t *text, size_t len);

/* One line, no newline, saying what the policy holds: "N banned names, N
 * patterns, N allowed clients, N allowed names, N local names, N local
 * addresses, suffix list PATH (N rules), actions R=A,..." (only the actions
 * that differ from enforce). Returns what snprintf returns. */
int policy_describe(const struct policy *p, char *buf, size_t size);

const char *policy_action_name(enum policy_action action); /* "unknown" out of range */
bool policy_action_from_name(const char *name, enum policy_action *out);

#endif
