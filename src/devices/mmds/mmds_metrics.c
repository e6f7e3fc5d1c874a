/* The "mmds" metrics section (contract in mmds_metrics.h). */
#include "devices/mmds/mmds_metrics.h"

struct mmds_metrics mmds_metrics;

static const struct metric_field mmds_metrics_fields[] = {
	METRIC_DELTA(struct mmds_metrics, rx_accepted),
	METRIC_DELTA(struct mmds_metrics, rx_accepted_err),
	METRIC_DELTA(struct mmds_metrics, rx_accepted_unusual),
	METRIC_DELTA(struct mmds_metrics, rx_bad_eth),
	METRIC_DELTA(struct mmds_metrics, rx_invalid_token),
	METRIC_DELTA(struct mmds_metrics, rx_no_token),
	METRIC_DELTA(struct mmds_metrics, rx_count),
	METRIC_DELTA(struct mmds_metrics, tx_bytes),
	METRIC_DELTA(struct mmds_metrics, tx_count),
	METRIC_DELTA(struct mmds_metrics, tx_errors),
	METRIC_DELTA(struct mmds_metrics, tx_frames),
	METRIC_DELTA(struct mmds_metrics, connections_created),
	METRIC_DELTA(struct mmds_metrics, connections_destroyed),
};

/* A counter in the struct but not in the table would never be written. */
_Static_assert(sizeof(mmds_metrics_fields) / sizeof(mmds_metrics_fields[0]) * sizeof(metric_t) ==
		       sizeof(struct mmds_metrics),
	       "every counter needs a line in the table");

const struct metrics_section mmds_metrics_section = {
	.name = "mmds",
	.base = &mmds_metrics,
	.fields = mmds_metrics_fields,
	.n = sizeof(mmds_metrics_fields) / sizeof(mmds_metrics_fields[0]),
};
