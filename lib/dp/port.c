#include "dp/port.h"

#include <stdio.h>
#include <string.h>

#include <rte_ethdev.h>

/* Symmetric RSS on DPDK 22.11 (rte_eth_rss_conf has no algorithm field): a
 * key of repeated 0x6D5A makes the Toeplitz hash of (a, b) equal that of
 * (b, a), so both directions of a session reach the same queue and worker
 * (Woo and Park, "Scalable TCP Session Monitoring with Symmetric RSS"). */
static uint8_t symmetric_rss_key[52];

/* Drivers whose queues the kernel fills by a symmetric flow hash. */
static bool kernel_fanout(const char *driver)
{
	return strcmp(driver, "net_af_packet") == 0;
}

static int port_info(uint16_t port_id, struct rte_eth_dev_info *info, char *err, size_t err_size)
{
	if (!rte_eth_dev_is_valid_port(port_id)) {
		snprintf(err, err_size,
		         "port %u does not exist (%u ports available; add --vdev or a NIC)",
		         port_id, rte_eth_dev_count_avail());
		return -1;
	}
	int rc = rte_eth_dev_info_get(port_id, info);
	if (rc != 0) {
		snprintf(err, err_size, "port %u: cannot read device info: %s", port_id,
		         strerror(-rc));
		return -1;
	}
	return 0;
}

int port_capacity(uint16_t port_id, struct port_capacity *cap, char *err, size_t err_size)
{
	struct rte_eth_dev_info info;

	if (port_info(port_id, &info, err, err_size) != 0)
		return -1;
	memset(cap, 0, sizeof(*cap));
	cap->max_rx_queues = info.max_rx_queues;
	cap->max_tx_queues = info.max_tx_queues;
	cap->spreads = kernel_fanout(info.driver_name) ||
	               ((RTE_ETH_RSS_IP | RTE_ETH_RSS_TCP) & info.flow_type_rss_offloads) != 0;
	snprintf(cap->driver, sizeof(cap->driver), "%s", info.driver_name);
	return 0;
}

int port_start(uint16_t port_id, uint16_t n_rx, uint16_t n_tx, struct rte_mempool *pool, char *err,
               size_t err_size)
{
	struct rte_eth_dev_info info;
	struct rte_eth_conf conf;
	int rc;

	if (port_info(port_id, &info, err, err_size) != 0)
		return -1;
	if (info.max_rx_queues < n_rx || info.max_tx_queues < n_tx) {
		snprintf(err, err_size,
		         "port %u (%s) has %u RX / %u TX queues, %u workers need one each; "
		         "use fewer worker lcores or --distribute yes",
		         port_id, info.driver_name, info.max_rx_queues, info.max_tx_queues,
		         n_rx > n_tx ? n_rx : n_tx);
		return -1;
	}
	/* The kernel fills every socket of the fanout group: a queue nobody
	 * reads would swallow its share of the sessions. */
	if (kernel_fanout(info.driver_name) && n_rx < info.max_rx_queues) {
		snprintf(err, err_size,
		         "port %u (%s) spreads sessions over %u queues (qpairs=%u), %u would be "
		         "read; use one worker lcore per queue pair",
		         port_id, info.driver_name, info.max_rx_queues, info.max_rx_queues, n_rx);
		return -1;
	}
	memset(&conf, 0, sizeof(conf));
	if (n_rx > 1 && !kernel_fanout(info.driver_name)) {
		for (size_t i = 0; i < sizeof(symmetric_rss_key); i += 2) {
			symmetric_rss_key[i] = 0x6d;
			symmetric_rss_key[i + 1] = 0x5a;
		}
		conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
		conf.rx_adv_conf.rss_conf.rss_key = symmetric_rss_key;
		conf.rx_adv_conf.rss_conf.rss_key_len =
		    info.hash_key_size ? info.hash_key_size : 40;
		conf.rx_adv_conf.rss_conf.rss_hf =
		    (RTE_ETH_RSS_IP | RTE_ETH_RSS_TCP) & info.flow_type_rss_offloads;
		if (conf.rx_adv_conf.rss_conf.rss_hf == 0) {
			snprintf(err, err_size,
			         "port %u (%s) cannot spread TCP flows over queues (no RSS); "
			         "use one worker lcore or --distribute yes",
			         port_id, info.driver_name);
			return -1;
		}
	}
	if (info.rx_offload_capa & RTE_ETH_RX_OFFLOAD_TCP_CKSUM)
		conf.rxmode.offloads |= RTE_ETH_RX_OFFLOAD_TCP_CKSUM;
	/* net_pcap stamps each packet with its capture time (the pcap
	 * header's): events of a replay then carry the packet's time. A NIC's
	 * timestamps count its own clock, not wall time, so they stay off. */
	if (strcmp(info.driver_name, "net_pcap") == 0 &&
	    (info.rx_offload_capa & RTE_ETH_RX_OFFLOAD_TIMESTAMP))
		conf.rxmode.offloads |= RTE_ETH_RX_OFFLOAD_TIMESTAMP;
	rc = rte_eth_dev_configure(port_id, n_rx, n_tx, &conf);
	if (rc != 0) {
		snprintf(err, err_size, "port %u: configure failed: %s", port_id, strerror(-rc));
		return -1;
	}
	uint16_t rx_desc = 1024, tx_desc = 1024;
	rte_eth_dev_adjust_nb_rx_tx_desc(port_id, &rx_desc, &tx_desc);
	int socket = rte_eth_dev_socket_id(port_id);
	for (uint16_t q = 0; q < n_rx || q < n_tx; q++) {
		rc = q < n_rx
		         ? rte_eth_rx_queue_setup(port_id, q, rx_desc, (unsigned)socket, NULL, pool)
		         : 0;
		if (rc == 0 && q < n_tx)
			rc = rte_eth_tx_queue_setup(port_id, q, tx_desc, (unsigned)socket, NULL);
		if (rc != 0) {
			snprintf(err, err_size, "port %u: queue %u setup failed: %s", port_id, q,
			         strerror(-rc));
			return -1;
		}
	}
	rc = rte_eth_dev_start(port_id);
	if (rc != 0) {
		snprintf(err, err_size, "port %u: start failed: %s", port_id, strerror(-rc));
		return -1;
	}
	/* A bump in the wire forwards frames addressed to the hosts behind it. */
	rte_eth_promiscuous_enable(port_id);
	return 0;
}

void port_stop(uint16_t port_id)
{
	rte_eth_dev_stop(port_id);
	rte_eth_dev_close(port_id);
}
