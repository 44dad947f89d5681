/*
 * bench: what helogate-bench's files share.
 *
 * bench_profile loads a profile (lib/synth, or a pcap) once, groups its
 * frames by session and notes where each frame's client tuple lies and
 * which verdict events must follow it. bench_replay keeps one worker's copy
 * of those frames in mbufs and replays them as C concurrent sessions
 * (slots), rotating the client tuple of every new session, and times either
 * the real worker (worker_handle_burst) or a null pipeline on them.
 * Neither file parses options or prints tables: helogate-bench.c does.
 */
#ifndef HG_BENCH_H
#define HG_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <rte_mbuf.h>

#include "dp/config.h"
#include "judge/verdict.h"
#include "dp/worker.h"

/* ---- profiles (bench_profile.c) ---------------------------------------------------------- */

/* What a frame is, for the per-class table: its TCP flags, its direction
 * and, for client payload, whether it starts inside a message body. */
#define BENCH_CLASSES(X)                                                                           \
	X(ACK, "ack", "pure ACK: no payload, no SYN, FIN or RST")                                  \
	X(SERVER_DATA, "server-data", "server-to-client payload")                                  \
	X(CLIENT_COMMAND, "client-command", "client payload outside a message body")               \
	X(CLIENT_BODY, "client-body", "client payload inside a DATA or BDAT body")                 \
	X(HANDSHAKE, "handshake", "SYN or SYN-ACK")                                                \
	X(FIN_RST, "fin-rst", "FIN or RST")                                                        \
	X(OTHER, "other", "not TCP to or from an SMTP port")

enum bench_class {
#define BENCH_CLASS_ENUM(sym, name, desc) BENCH_CLASS_##sym,
	BENCH_CLASSES(BENCH_CLASS_ENUM)
#undef BENCH_CLASS_ENUM
	    BENCH_CLASS_COUNT
};

const char *bench_class_name(enum bench_class c);

/* One frame, and where its client tuple lies (offsets from the frame start). */
struct bench_frame {
	uint32_t offset; /* of its bytes in bench_profile.bytes */
	uint16_t len;
	uint16_t hdr_len;     /* up to the TCP payload (what a takeover may rewrite) */
	uint16_t addr_off;    /* the client address's last 4 bytes; 0: not rotated */
	uint16_t port_off;    /* the client port */
	uint16_t ipck_off;    /* IPv4 header checksum; 0: none */
	uint16_t l4ck_off;    /* TCP checksum */
	uint8_t events;       /* verdict events right after this frame (detect mode) */
	uint8_t reason;       /* their reason */
	uint8_t first_events; /* of them, those the session's first bogus command gives */
	uint8_t c2s;          /* sent by the client */
	uint8_t class;        /* enum bench_class */
};

/* A session: its frames are frames[first .. first + count), in capture order. */
struct bench_session {
	uint32_t first, count;
	uint8_t family;     /* 4 or 6; 0: not rotated (not TCP: ARP, UDP) */
	uint8_t client[16]; /* the capture's client and server */
	uint8_t server[16];
	uint16_t server_port;
};

struct bench_profile {
	char name[64];
	uint8_t *bytes;
	struct bench_frame *frames; /* grouped by session */
	struct bench_session *sessions;
	uint32_t n_frames, n_sessions;
	uint64_t n_bytes;
	uint16_t max_len;
	bool has_events; /* expected verdicts known (synthesized profiles) */
};

/* Synthesize profile name (smtp-mix, smtp-commands, bogus-flood, non-smtp)
 * with `sessions` sessions, at most `interleave` in progress at once in the
 * generated capture, bodies up to body_max bytes; seed 1. */
int bench_profile_synth(struct bench_profile *p, const char *name, uint32_t sessions,
                        uint32_t interleave, uint32_t body_max, const struct config *cfg, char *err,
                        size_t err_size);

/* Read a pcap (any TCP session is a session; other frames stand alone). No
 * expected verdicts. */
int bench_profile_pcap(struct bench_profile *p, const char *path, const struct config *cfg,
                       char *err, size_t err_size);

/* For enforce mode: end every session that has an event after its first
 * bogus command, its server's next segment, and a RST|ACK from the client
 * (a rejected client that leaves). A replayed client cannot react to what
 * helogate injects: the rest of its capture would talk to a reset server,
 * and each such session would linger in retransmission for minutes. */
int bench_profile_cut_at_takeover(struct bench_profile *p, char *err, size_t err_size);

void bench_profile_free(struct bench_profile *p);

/* ---- replay (bench_replay.c) ------------------------------------------------------------- */

/* One concurrent session: which frame of its template comes next, and the
 * client port of its current incarnation. Slot j of worker w replays
 * template session (j + gen * C) mod S (C slots, S templates) with client
 * address 10.0.0.0 + (j * N + w + 1) (IPv6: the template's /96 and that
 * number), so its tuple is unique. */
struct bench_slot {
	uint32_t gen;  /* sessions this slot has started */
	uint16_t pos;  /* next frame of the template */
	uint16_t port; /* client port of the current session */
};

/* Packets per worker_handle_burst() call. */
#define BENCH_BURST 32

enum bench_pass {
	BENCH_WARM_UP,  /* start the slots, staggered (not timed) */
	BENCH_HELOGATE, /* worker_handle_burst, timed */
	BENCH_NULL,     /* testpmd's macswap, timed */
};

struct bench_replay {
	/* set by the caller before bench_replay_init() */
	const struct bench_profile *p;
	struct worker *w;
	unsigned id, n_workers;
	uint32_t n_slots; /* concurrent sessions on this worker */
	uint32_t batch;   /* packets prepared, then handed in */
	uint32_t stagger; /* warm-up rounds: slot j starts at a round below this */
	enum config_mode mode;
	/* state */
	struct rte_mbuf **m; /* this worker's copy of every frame */
	uint32_t *stamp;     /* per frame: the batch that holds it */
	uint32_t batch_id;
	struct bench_slot *slots;
	uint8_t *wait;     /* warm-up rounds left before a slot starts */
	uint8_t *deferred; /* the slot waits in defer[] */
	uint32_t *defer, n_defer;
	struct rte_mbuf **pkts;
	uint8_t *cls;          /* per packet of pkts: enum bench_class */
	uint64_t step, offset; /* this round's order: slot (k * step + offset) mod n_slots */
	uint32_t k;            /* visits made this round */
	uint64_t rng;
	uint32_t bursts;
	uint64_t expected[VERDICT_COUNT]; /* verdicts the frames handed in so far must give */
	uint64_t sessions_started, sessions_done, deferrals;
	/* the last pass */
	uint64_t cycles, packets, bytes;
	/* The profiled pass (worker_set_profiling with pkt_cycles): per class,
	 * packets and the cycles worker_handle_burst() spent on them. */
	bool profiling; /* the worker writes pkt_cycles (set with worker_set_profiling) */
	uint64_t pkt_cycles[BENCH_BURST];
	uint64_t class_packets[BENCH_CLASS_COUNT], class_cycles[BENCH_CLASS_COUNT];
};

int bench_replay_init(struct bench_replay *r, struct rte_mempool *pool, char *err, size_t err_size);
void bench_replay_free(struct bench_replay *r);

/* One pass: BENCH_WARM_UP runs `stagger` rounds over every slot; the timed
 * passes run until `budget` cycles of timed work (or max_wall_cycles of wall
 * time) are spent. cycles/packets/bytes describe the pass. The timed work
 * is what helogate's poll loop does: worker_handle_burst(), taking the
 * transmit batches back, worker_expire() every 16 bursts, the quiescent
 * point; preparing the packets is not timed. While the worker profiles
 * into r->pkt_cycles, the helogate pass adds to class_packets/cycles. */
void bench_replay_run(struct bench_replay *r, enum bench_pass pass, uint64_t budget,
                      uint64_t max_wall_cycles);

/* The symmetric Toeplitz hash (key 0x6d5a repeated) of a client/server
 * tuple, as symmetric RSS computes it, and the queue a 128-entry
 * round-robin redirection table gives it. */
uint32_t bench_rss_hash(uint8_t family, const uint8_t *client, const uint8_t *server,
                        uint16_t client_port, uint16_t server_port);
static inline unsigned bench_rss_queue(uint32_t hash, unsigned n_queues)
{
	return (hash & 127u) % n_queues;
}

#endif
