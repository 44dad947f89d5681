/*
 * port: bring up an ethdev port for the workers: one RX and one TX queue per
 * worker, symmetric RSS when there is more than one queue, promiscuous mode.
 * Control path only (before the workers start, and at shutdown).
 */
#ifndef HG_PORT_H
#define HG_PORT_H

#include <stddef.h>
#include <stdint.h>

struct rte_mempool;

/* Configure and start port_id with n_queues RX/TX queue pairs. Returns 0,
 * or -1 with a one-line message in err (no such port, too few queues...). */
int port_start(uint16_t port_id, uint16_t n_queues, struct rte_mempool *pool, char *err,
               size_t err_size);

/* Stop and close the port; a net_pcap port flushes its output file here. */
void port_stop(uint16_t port_id);

#endif
