/* Firecracker's "mmds" metrics section (its MmdsMetrics, same names): the
 * network stack (mmds_stack.c) counts frames and connections, the HTTP side
 * counts the V2 token failures. Process-wide, aggregated over interfaces;
 * every counter is a delta (reset by each flush). The device table registers
 * the section with the other devices' ones. */
#ifndef VOLT_DEVICES_MMDS_MMDS_METRICS_H
#define VOLT_DEVICES_MMDS_MMDS_METRICS_H

#include "core/metrics.h"

struct mmds_metrics {
	metric_t rx_accepted;	      /* frames the stack took from the guest */
	metric_t rx_accepted_err;     /* ... and dropped as malformed */
	metric_t rx_accepted_unusual; /* ... IPv4 to the MMDS that is not TCP */
	metric_t rx_bad_eth;	      /* ARP for the MMDS that is not an Ethernet/IPv4 request */
	metric_t rx_invalid_token;    /* V2 requests with a token that is not valid */
	metric_t rx_no_token;	      /* V2 requests without a token */
	metric_t rx_count;	      /* TCP segments handled */
	metric_t tx_bytes;	      /* bytes of the frames given to the guest */
	metric_t tx_count;	      /* frames given to the guest */
	metric_t tx_errors;	      /* frames that did not fit the device's buffer */
	metric_t tx_frames;	      /* TCP segments carrying answer bytes */
	metric_t connections_created;
	metric_t connections_destroyed;
};

extern struct mmds_metrics mmds_metrics;
extern const struct metrics_section mmds_metrics_section;

#endif
