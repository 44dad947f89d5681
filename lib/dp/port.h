/*
 * port: bring up an ethdev port for the workers: one RX and one TX queue per
 * worker, symmetric RSS when there is more than one RX queue, promiscuous
 * mode; or, with software distribution (dp/distributor), one RX queue and
 * one TX queue per worker or just one. Control path only (before the
 * workers start, and at shutdown).
 */
#ifndef HG_PORT_H
#define HG_PORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct rte_mempool;

/* What a port can give the workers. */
struct port_capacity {
	uint16_t max_rx_queues, max_tx_queues;
	/* Its RX queues split TCP sessions symmetrically (both directions on
	 * one queue): RSS with the symmetric key, or net_af_packet, whose
	 * queues are sockets of one PACKET_FANOUT_HASH group (the kernel's
	 * symmetric flow hash). */
	bool spreads;
	char driver[32];
};

/* Read port_id's capacity. 0, or -1 with a one-line message in err. */
int port_capacity(uint16_t port_id, struct port_capacity *cap, char *err, size_t err_size);

/* Configure and start port_id with n_rx RX and n_tx TX queues (RSS when
 * n_rx > 1). Returns 0, or -1 with a one-line message in err (no such port,
 * too few queues...). */
int port_start(uint16_t port_id, uint16_t n_rx, uint16_t n_tx, struct rte_mempool *pool, char *err,
               size_t err_size);

/* Stop and close the port; a net_pcap port flushes its output file here. */
void port_stop(uint16_t port_id);

#endif
