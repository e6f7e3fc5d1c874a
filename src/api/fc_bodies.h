/* Firecracker's request body types (its vmm_config and api_server structs),
 * as api/serde_body.h describes them: field names in Firecracker's order,
 * each field's Rust type, which fields have a serde default, which structs
 * refuse unknown fields. One per body the API reads; the router checks a
 * body against its endpoint's before anything else reads it. */
#ifndef VOLT_API_FC_BODIES_H
#define VOLT_API_FC_BODIES_H

#include "api/serde_body.h"

extern const struct serde_type fc_boot_source, fc_machine_config, fc_machine_config_update,
	fc_drive, fc_drive_update, fc_net, fc_net_update, fc_vsock, fc_balloon, fc_balloon_update,
	fc_balloon_stats_update, fc_balloon_hint_start, fc_entropy, fc_serial, fc_pmem,
	fc_pmem_update, fc_memory_hotplug, fc_memory_hotplug_update, fc_logger, fc_metrics,
	fc_action, fc_vm_state, fc_snapshot_create, fc_snapshot_load, fc_mmds_config;

#endif
