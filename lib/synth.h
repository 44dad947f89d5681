/*
 * synth: synthesize captures of complete SMTP sessions, both directions,
 * with correct TCP (handshake, sequence and acknowledgement numbers,
 * options, checksums, teardown), and the verdict events helogate must
 * report for them under the standard lab context (tests/data/lab-context.md).
 *
 * Pure: frames go to a callback, nothing is written to files here
 * (app/helogate-synth writes pcaps; the benchmark keeps frames in memory).
 * Deterministic: the same parameters and seed give the same bytes.
 */
#ifndef HG_SYNTH_H
#define HG_SYNTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "verdict.h"

/* A frame: called in capture order. Return non-zero to stop. */
typedef int synth_emit_fn(void *arg, const uint8_t *frame, uint32_t len, uint64_t ts_ns);

/* An event helogate must report (detect mode): at each RCPT of a session
 * whose current HELO is bogus, and at STARTTLS (rcpt empty). */
struct synth_event {
	struct ip_addr client, server;
	uint16_t client_port, server_port;
	const char *command; /* "RCPT" or "STARTTLS" */
	const char *helo;    /* the HELO argument as sent */
	uint32_t helo_len;
	enum verdict_reason reason;
	const char *rcpt; /* the mailbox, "" at STARTTLS */
};
typedef void synth_event_fn(void *arg, const struct synth_event *e);

enum synth_profile {
	SYNTH_SMTP_MIX,      /* realistic sessions, 30% bogus (all reasons), bodies */
	SYNTH_SMTP_COMMANDS, /* short sessions without bodies: the worst case per packet */
	SYNTH_BOGUS_FLOOD,   /* every session bogus, no bodies */
	SYNTH_NON_SMTP,      /* traffic that must take the fast path */
};

struct synth_params {
	enum synth_profile profile;
	uint32_t sessions;    /* sessions (or non-SMTP flows) to generate */
	uint64_t seed;
	double bogus_ratio;   /* share of bogus sessions (smtp-mix, smtp-commands) */
	uint32_t concurrency; /* sessions interleaved packet by packet */
	uint32_t body_max;    /* cap on a DATA body, bytes (0: the profile's own) */
	uint32_t client_base; /* first client address offset in 198.19.0.0/16 */
};

void synth_params_default(struct synth_params *p);

/* Names for the CLI: "smtp-mix", ...; false when unknown. */
bool synth_profile_from_name(const char *name, enum synth_profile *out);

/* Generate a profile. on_event may be NULL. Returns 0, or the non-zero
 * value emit returned, or -1 when memory is short. */
int synth_generate(const struct synth_params *p, synth_emit_fn *emit, void *emit_arg,
		   synth_event_fn *on_event, void *event_arg);

/* The named adversarial and feature scenarios (docs/parts/synth.md lists
 * each one's defined outcome). */
extern const char *const synth_scenario_names[];
bool synth_scenario_exists(const char *name);
int synth_scenario(const char *name, uint64_t seed, synth_emit_fn *emit, void *emit_arg,
		   synth_event_fn *on_event, void *event_arg);

#endif
