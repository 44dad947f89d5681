#include "wire/disposition.h"

enum cause_kind { KIND_FORWARD, KIND_DROP, KIND_ANSWERED };

static const struct {
	const char *name;
	enum cause_kind kind;
	const char *description;
} causes[CAUSE_COUNT] = {
#define PACKET_CAUSE_ROW(sym, name, kind, desc) [CAUSE_##sym] = {name, KIND_##kind, desc},
    PACKET_CAUSES(PACKET_CAUSE_ROW)
#undef PACKET_CAUSE_ROW
};

const char *packet_cause_name(enum packet_cause cause)
{
	return (unsigned)cause < CAUSE_COUNT ? causes[cause].name : "unknown";
}

const char *packet_cause_description(enum packet_cause cause)
{
	return (unsigned)cause < CAUSE_COUNT ? causes[cause].description : "unknown cause";
}

int packet_cause_is_drop(enum packet_cause cause)
{
	return (unsigned)cause < CAUSE_COUNT && causes[cause].kind != KIND_FORWARD;
}
