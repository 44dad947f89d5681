/*
 * libFuzzer target for lib/pkt: pkt_parse() on arbitrary bytes, then the
 * checksum checks on what it accepted. The input is copied to a buffer of
 * exactly its size so ASan reports any read past frame_len; the invariants
 * pkt.h promises are checked with abort().
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wire/frag.h"
#include "wire/pkt.h"

static void check(int ok)
{
	if (!ok)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pkt_info info;
	enum pkt_result r;
	uint8_t *frame;

	if (size > 65535)
		return 0;
	frame = malloc(size ? size : 1);
	if (!frame)
		return 0;
	memcpy(frame, data, size);
	r = pkt_parse(frame, (uint32_t)size, &info);
	check((unsigned)r < PKT_RESULT_COUNT);
	check(pkt_result_name(r)[0] != '\0');
	check(info.vlan_count <= 2);
	if (r == PKT_TCP || r == PKT_BAD_TCP_OPTIONS) {
		check(info.l3_offset < info.l4_offset);
		check((uint32_t)info.l4_offset + 20 <= info.payload_offset);
		check(info.payload_offset <= info.ip_end);
		check(info.ip_end <= size);
		check(info.payload_len == info.ip_end - info.payload_offset);
		check(info.ip_version == 4 || info.ip_version == 6);
		check(info.src.family == info.ip_version);
		(void)pkt_tcp_checksum_ok(frame, &info);
		if (info.ip_version == 4)
			(void)pkt_ipv4_checksum_ok(frame, &info);
	} else {
		check(info.src_port == 0 && info.seq == 0 && info.ip_end == 0);
	}
	if (r == PKT_FRAGMENT) {
		/* A fragment to hold lies inside the frame, as rte_ip_frag reads it. */
		struct frag_info fi;
		enum frag_verdict v = frag_check(frame, (uint32_t)size, &info, &fi);
		check((unsigned)v < FRAG_VERDICT_COUNT);
		if (v == FRAG_HOLD) {
			check(fi.len > 0 && fi.offset + fi.len <= 65535);
			check((uint32_t)fi.l2_len + fi.l3_len + fi.len <= size);
			if (fi.ip_version == 4)
				(void)frag_ipv4_header_ok(frame, &fi);
		}
	}
	free(frame);
	return 0;
}
