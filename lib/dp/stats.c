#include "dp/stats.h"

#include <string.h>

#include "dp/distributor.h"
#include "dp/worker.h"

static uint64_t read_counter(const uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

/* The counters struct is an array of uint64_t in effect (every member is a
 * uint64_t or an array of them; the tail padding is zero): summing it word
 * by word keeps this independent of the list of counters. */
static void add_counters(struct worker_counters *total, const struct worker_counters *c)
{
	uint64_t *t = (uint64_t *)total;
	const uint64_t *src = (const uint64_t *)c;

	for (size_t i = 0; i < sizeof(*total) / sizeof(uint64_t); i++)
		t[i] += read_counter(&src[i]);
}

void stats_sum(struct worker *const *workers, unsigned n, struct worker_counters *total)
{
	memset(total, 0, sizeof(*total));
	for (unsigned i = 0; i < n; i++)
		add_counters(total, worker_counters(workers[i]));
}

/* The accounting identity's terms: every packet received or injected is
 * transmitted, dropped under one cause, or still held. */
static void write_packets(FILE *out, const struct worker_counters *c, uint64_t held)
{
	fprintf(out,
	        "\"packets\":{\"received\":%llu,\"injected\":%llu,\"transmitted\":%llu,"
	        "\"held\":%llu,\"dropped\":{",
	        (unsigned long long)read_counter(&c->rx_packets),
	        (unsigned long long)read_counter(&c->injected_packets),
	        (unsigned long long)read_counter(&c->tx_packets), (unsigned long long)held);
	const char *sep = "";
	for (int i = 0; i < CAUSE_COUNT; i++) {
		if (!packet_cause_is_drop((enum packet_cause)i))
			continue;
		fprintf(out, "%s\"%s\":%llu", sep, packet_cause_name((enum packet_cause)i),
		        (unsigned long long)read_counter(&c->dropped[i]));
		sep = ",";
	}
	fprintf(out, "}}");
}

static void write_object(FILE *out, const struct worker_counters *c, uint64_t held)
{
	const char *sep = "";

	fputc('{', out);
#define COUNTER_JSON(name, desc)                                                                   \
	fprintf(out, "%s\"%s\":%llu", sep, #name, (unsigned long long)read_counter(&c->name));     \
	sep = ",";
	WORKER_COUNTERS(COUNTER_JSON)
#undef COUNTER_JSON
	/* Each cause also under its own name, as the counters of the same
	 * name were before causes existed (scripts read them). */
	for (int i = 0; i < CAUSE_COUNT; i++)
		fprintf(out, ",\"%s\":%llu", packet_cause_name((enum packet_cause)i),
		        (unsigned long long)read_counter(&c->causes[i]) +
		            (i == CAUSE_TX_FAILED ? read_counter(&c->dropped[i]) : 0));
	fputc(',', out);
	write_packets(out, c, held);
	fprintf(out, ",\"parse\":{");
	for (int i = 0; i < PKT_RESULT_COUNT; i++)
		fprintf(out, "%s\"%s\":%llu", i ? "," : "", pkt_result_name((enum pkt_result)i),
		        (unsigned long long)read_counter(&c->pkt_results[i]));
	fprintf(out, "},\"stream\":{");
	for (int i = 0; i < STREAM_VERDICT_COUNT; i++)
		fprintf(out, "%s\"%s\":%llu", i ? "," : "",
		        stream_verdict_name((enum stream_verdict)i),
		        (unsigned long long)read_counter(&c->stream_verdicts[i]));
	fprintf(out, "},\"passthrough\":{");
	for (int i = 0; i < SMTP_STOP_COUNT; i++)
		fprintf(out, "%s\"%s\":%llu", i ? "," : "", smtp_stop_name((enum smtp_stop)i),
		        (unsigned long long)read_counter(&c->smtp_stops[i]));
	fprintf(out, "},\"verdicts\":{");
	for (int i = 0; i < VERDICT_COUNT; i++)
		fprintf(out, "%s\"%s\":%llu", i ? "," : "",
		        verdict_reason_name((enum verdict_reason)i),
		        (unsigned long long)read_counter(&c->verdicts[i]));
	fprintf(out, "},\"rejected\":{");
	for (int i = 0; i < VERDICT_COUNT; i++)
		fprintf(out, "%s\"%s\":%llu", i ? "," : "",
		        verdict_reason_name((enum verdict_reason)i),
		        (unsigned long long)read_counter(&c->rejected[i]));
	fprintf(out, "},\"detected\":{");
	for (int i = 0; i < VERDICT_COUNT; i++)
		fprintf(out, "%s\"%s\":%llu", i ? "," : "",
		        verdict_reason_name((enum verdict_reason)i),
		        (unsigned long long)read_counter(&c->detected[i]));
	static const char *const stage_names[] = {
#define STAGE_NAME(sym, name, desc) name,
	    WORKER_STAGES(STAGE_NAME)
#undef STAGE_NAME
	};
	fprintf(out, "},\"stage_cycles\":{");
	for (int i = 0; i < WORKER_STAGE_COUNT; i++)
		fprintf(out, "%s\"%s\":%llu", i ? "," : "", stage_names[i],
		        (unsigned long long)read_counter(&c->stage_cycles[i]));
	fprintf(out, "}}");
}

void stats_write_json(FILE *out, struct worker *const *workers, unsigned n,
                      const struct distributor *dist, uint64_t mbufs_in_use,
                      uint64_t events_write_failed)
{
	struct worker_counters total;

	uint64_t held = 0;

	stats_sum(workers, n, &total);
	for (unsigned i = 0; i < n; i++)
		held += worker_held(workers[i]);
	fprintf(out, "{\"total\":");
	write_object(out, &total, held);
	fprintf(out, ",\"workers\":[");
	for (unsigned i = 0; i < n; i++) {
		if (i)
			fputc(',', out);
		write_object(out, worker_counters(workers[i]), worker_held(workers[i]));
	}
	fputc(']', out);
	if (dist != NULL) {
		fputc(',', out);
		distributor_write_json(out, dist, &total, held);
	}
	fprintf(out, ",\"mbufs_in_use\":%llu,\"events_write_failed\":%llu}\n",
	        (unsigned long long)mbufs_in_use, (unsigned long long)events_write_failed);
	fflush(out);
}

void stats_write_line(FILE *out, struct worker *const *workers, unsigned n)
{
	struct worker_counters t;
	uint64_t bogus = 0;
	uint32_t flows = 0;

	stats_sum(workers, n, &t);
	for (int i = VERDICT_INVALID; i < VERDICT_COUNT; i++)
		bogus += t.verdicts[i];
	for (unsigned i = 0; i < n; i++)
		flows += worker_flow_count(workers[i]);
	fprintf(
	    out,
	    "helogate: rx %llu tx %llu | flows %u created %llu full %llu | judged %llu bogus %llu "
	    "| events %llu dropped %llu\n",
	    (unsigned long long)t.rx_packets, (unsigned long long)t.tx_packets, flows,
	    (unsigned long long)t.flows_created, (unsigned long long)t.flows_table_full,
	    (unsigned long long)t.judged, (unsigned long long)bogus,
	    (unsigned long long)t.events_written, (unsigned long long)t.events_dropped);
	fflush(out);
}
