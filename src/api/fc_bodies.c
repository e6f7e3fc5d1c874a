/* Firecracker's body types (api/fc_bodies.h), read off its sources:
 * src/vmm/src/vmm_config/, request/actions.rs, logging.rs, mac.rs. */
#include "api/fc_bodies.h"
#include "api/mmds_api.h"
#include "util/log.h"

#include <ctype.h>
#include <string.h>

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define STRUCT(r, f)                                                                          \
	{                                                                                     \
		.kind = SERDE_STRUCT, .name = r, .fields = f, .n = N(f), .deny_unknown = true \
	}
#define LOOSE(r, f)                                                     \
	{                                                               \
		.kind = SERDE_STRUCT, .name = r, .fields = f, .n = N(f) \
	}
#define ENUM(v)                                              \
	{                                                    \
		.kind = SERDE_ENUM, .variants = v, .n = N(v) \
	}
#define OPTION(t)                                   \
	{                                           \
		.kind = SERDE_OPTION, .inner = &(t) \
	}
#define F(name, t)                \
	{                         \
		name, &(t), false \
	}
#define DEFAULT(n, t)         \
	{                     \
		n, &(t), true \
	}

static const struct serde_type t_bool = { .kind = SERDE_BOOL }, t_u16 = { .kind = SERDE_U16 },
			       t_u32 = { .kind = SERDE_U32 }, t_u64 = { .kind = SERDE_U64 },
			       t_u8 = { .kind = SERDE_U8 }, t_usize = { .kind = SERDE_USIZE },
			       t_string = { .kind = SERDE_STRING }, t_path = { .kind = SERDE_PATH };
static const struct serde_type o_bool = OPTION(t_bool), o_u8 = OPTION(t_u8), o_u16 = OPTION(t_u16),
			       o_u64 = OPTION(t_u64), o_usize = OPTION(t_usize),
			       o_string = OPTION(t_string), o_path = OPTION(t_path);

/* MacAddr's FromStr: six parts of two hex digits (u8::from_str_radix, which
 * takes a '+' sign too). */
static bool mac_ok(const char *s, size_t len)
{
	size_t i;

	if (len != 17 || strlen(s) != len)
		return false;
	for (i = 0; i < 6; i++) {
		const char *p = s + 3 * i;

		if ((i < 5 && p[2] != ':') || !isxdigit((unsigned char)p[1]) ||
		    !(isxdigit((unsigned char)p[0]) || p[0] == '+'))
			return false;
	}
	return true;
}

/* LevelFilter's Deserialize: off, trace, debug, info, warn (or warning),
 * error, in any case - the names log_level_parse() takes. */
static bool level_ok(const char *s, size_t len)
{
	enum log_level level;

	return strlen(s) == len && !log_level_parse(s, &level);
}

static const struct serde_type t_mac = { .kind = SERDE_CUSTOM,
					 .accept = mac_ok,
					 .custom = "The provided MAC address is invalid." },
			       o_mac = OPTION(t_mac);
static const struct serde_type t_level = { .kind = SERDE_CUSTOM,
					   .accept = level_ok,
					   .custom = "Invalid LevelFilter" },
			       o_level = OPTION(t_level);

/* vmm_config/mod.rs */
static const struct serde_field bucket_f[] = {
	F("size", t_u64),
	F("one_time_burst", o_u64),
	F("refill_time", t_u64),
};
static const struct serde_type t_bucket = LOOSE("TokenBucketConfig", bucket_f),
			       o_bucket = OPTION(t_bucket);
static const struct serde_field rl_f[] = {
	F("bandwidth", o_bucket),
	F("ops", o_bucket),
};
static const struct serde_type t_rl = STRUCT("RateLimiterConfig", rl_f), o_rl = OPTION(t_rl);

static const struct serde_field boot_f[] = {
	F("kernel_image_path", t_string),
	F("initrd_path", o_string),
	F("boot_args", o_string),
};
const struct serde_type fc_boot_source = STRUCT("BootSourceConfig", boot_f);

static const char *const cpu_templates[] = { "C3", "T2", "T2S", "None", "T2CL", "T2A" };
static const char *const huge_pages[] = { "None", "Transparent", "2M" };
static const struct serde_type t_template = ENUM(cpu_templates), o_template = OPTION(t_template),
			       t_huge = ENUM(huge_pages), o_huge = OPTION(t_huge);
static const struct serde_field machine_f[] = {
	F("vcpu_count", t_u8),
	F("mem_size_mib", t_usize),
	DEFAULT("smt", t_bool),
	DEFAULT("cpu_template", o_template),
	DEFAULT("track_dirty_pages", t_bool),
	DEFAULT("huge_pages", t_huge),
};
const struct serde_type fc_machine_config = STRUCT("MachineConfig", machine_f);
static const struct serde_field machine_update_f[] = {
	DEFAULT("vcpu_count", o_u8),
	DEFAULT("mem_size_mib", o_usize),
	DEFAULT("smt", o_bool),
	DEFAULT("cpu_template", o_template),
	DEFAULT("track_dirty_pages", o_bool),
	DEFAULT("huge_pages", o_huge),
};
const struct serde_type fc_machine_config_update = STRUCT("MachineConfigUpdate", machine_update_f);

static const char *const cache_types[] = { "Unsafe", "Writeback" };
static const char *const engines[] = { "Async", "Sync" };
static const struct serde_type t_cache = ENUM(cache_types), t_engine = ENUM(engines),
			       o_engine = OPTION(t_engine);
static const struct serde_field drive_f[] = {
	F("drive_id", t_string),	F("partuuid", o_string),   F("is_root_device", t_bool),
	DEFAULT("cache_type", t_cache), F("is_read_only", o_bool), F("path_on_host", o_string),
	F("rate_limiter", o_rl),	F("io_engine", o_engine),  F("socket", o_string),
};
const struct serde_type fc_drive = STRUCT("BlockDeviceConfig", drive_f);
static const struct serde_field drive_update_f[] = {
	F("drive_id", t_string),
	F("path_on_host", o_string),
	F("rate_limiter", o_rl),
};
const struct serde_type fc_drive_update = STRUCT("BlockDeviceUpdateConfig", drive_update_f);

static const struct serde_field net_f[] = {
	F("iface_id", t_string), F("host_dev_name", t_string), F("guest_mac", o_mac),
	F("mtu", o_u16),	 F("rx_rate_limiter", o_rl),   F("tx_rate_limiter", o_rl),
};
const struct serde_type fc_net = STRUCT("NetworkInterfaceConfig", net_f);
static const struct serde_field net_update_f[] = {
	F("iface_id", t_string),
	F("rx_rate_limiter", o_rl),
	F("tx_rate_limiter", o_rl),
};
const struct serde_type fc_net_update = STRUCT("NetworkInterfaceUpdateConfig", net_update_f);

static const struct serde_field vsock_f[] = {
	DEFAULT("vsock_id", o_string),
	F("guest_cid", t_u32),
	F("uds_path", t_string),
};
const struct serde_type fc_vsock = STRUCT("VsockDeviceConfig", vsock_f);

static const struct serde_field balloon_f[] = {
	F("amount_mib", t_u32),
	F("deflate_on_oom", t_bool),
	DEFAULT("stats_polling_interval_s", t_u16),
	DEFAULT("free_page_hinting", t_bool),
	DEFAULT("free_page_reporting", t_bool),
};
const struct serde_type fc_balloon = STRUCT("BalloonDeviceConfig", balloon_f);
static const struct serde_field balloon_update_f[] = { F("amount_mib", t_u32) };
const struct serde_type fc_balloon_update = STRUCT("BalloonUpdateConfig", balloon_update_f);
static const struct serde_field balloon_stats_f[] = { F("stats_polling_interval_s", t_u16) };
const struct serde_type fc_balloon_stats_update =
	STRUCT("BalloonUpdateStatsConfig", balloon_stats_f);
static const struct serde_field hint_start_f[] = { DEFAULT("acknowledge_on_stop", t_bool) };
const struct serde_type fc_balloon_hint_start = LOOSE("StartHintingCmd", hint_start_f);

static const struct serde_field entropy_f[] = { F("rate_limiter", o_rl) };
const struct serde_type fc_entropy = STRUCT("EntropyDeviceConfig", entropy_f);

static const struct serde_field serial_f[] = {
	F("serial_out_path", o_path),
	F("rate_limiter", o_bucket),
};
const struct serde_type fc_serial = STRUCT("SerialConfig", serial_f);

static const struct serde_field pmem_f[] = {
	F("id", t_string),
	F("path_on_host", t_string),
	DEFAULT("root_device", t_bool),
	DEFAULT("read_only", t_bool),
	F("rate_limiter", o_rl),
};
const struct serde_type fc_pmem = STRUCT("PmemConfig", pmem_f);
static const struct serde_field pmem_update_f[] = {
	F("id", t_string),
	F("rate_limiter", o_rl),
};
const struct serde_type fc_pmem_update = STRUCT("PmemDeviceUpdateConfig", pmem_update_f);

static const struct serde_field hotplug_f[] = {
	F("total_size_mib", t_u32),
	DEFAULT("block_size_mib", t_u32),
	DEFAULT("slot_size_mib", t_u32),
};
const struct serde_type fc_memory_hotplug = STRUCT("MemoryHotplugConfig", hotplug_f);
static const struct serde_field hotplug_update_f[] = { F("requested_size_mib", t_u32) };
const struct serde_type fc_memory_hotplug_update =
	STRUCT("MemoryHotplugSizeUpdate", hotplug_update_f);

static const struct serde_field logger_f[] = {
	F("log_path", o_path),	      F("level", o_level),   F("show_level", o_bool),
	F("show_log_origin", o_bool), F("module", o_string),
};
const struct serde_type fc_logger = STRUCT("LoggerConfig", logger_f);

static const struct serde_type t_props = { .kind = SERDE_MAP, .inner = &t_string },
			       o_props = OPTION(t_props);
static const struct serde_field metrics_f[] = {
	F("metrics_path", t_path),
	DEFAULT("emit_id", t_bool),
	DEFAULT("properties", o_props),
};
const struct serde_type fc_metrics = LOOSE("MetricsConfig", metrics_f);

static const char *const actions[] = { "FlushMetrics", "InstanceStart", "SendCtrlAltDel" };
static const struct serde_type t_action = ENUM(actions);
static const struct serde_field action_f[] = { F("action_type", t_action) };
const struct serde_type fc_action = STRUCT("ActionBody", action_f);

static const char *const vm_states[] = { "Paused", "Resumed" };
static const struct serde_type t_vm_state = ENUM(vm_states);
static const struct serde_field vm_f[] = { F("state", t_vm_state) };
const struct serde_type fc_vm_state = STRUCT("Vm", vm_f);

/* vmm_config/mmds.rs; Ipv4Addr's Deserialize is a FromStr visitor's */
static bool ipv4_ok(const char *s, size_t len)
{
	uint32_t a;

	return strlen(s) == len && api_ipv4_parse(s, &a);
}

static const char *const mmds_versions[] = { "V1", "V2" };
static const struct serde_type t_mmds_version = ENUM(mmds_versions),
			       t_ifaces = { .kind = SERDE_SEQ, .inner = &t_string },
			       t_ipv4 = { .kind = SERDE_CUSTOM,
					  .accept = ipv4_ok,
					  .custom = "invalid IPv4 address syntax",
					  .expect = "IPv4 address",
					  .custom_in_str = true },
			       o_ipv4 = OPTION(t_ipv4);
static const struct serde_field mmds_f[] = {
	DEFAULT("version", t_mmds_version),
	F("network_interfaces", t_ifaces),
	F("ipv4_address", o_ipv4),
	DEFAULT("imds_compat", t_bool),
};
const struct serde_type fc_mmds_config = STRUCT("MmdsConfig", mmds_f);

/* vmm_config/snapshot.rs */
static const char *const snapshot_types[] = { "Diff", "Full" };
static const struct serde_type t_snapshot_type = ENUM(snapshot_types);
static const struct serde_field create_f[] = {
	DEFAULT("snapshot_type", t_snapshot_type),
	F("snapshot_path", t_path),
	F("mem_file_path", t_path),
};
const struct serde_type fc_snapshot_create = STRUCT("CreateSnapshotParams", create_f);

static const char *const backends[] = { "File", "Uffd" };
static const struct serde_type t_backend_type = ENUM(backends);
static const struct serde_field backend_f[] = {
	F("backend_path", t_path),
	F("backend_type", t_backend_type),
};
static const struct serde_type t_backend = STRUCT("MemBackendConfig", backend_f),
			       o_backend = OPTION(t_backend);
static const struct serde_field net_override_f[] = {
	F("iface_id", t_string),
	F("host_dev_name", t_string),
};
static const struct serde_type t_net_override = LOOSE("NetworkOverride", net_override_f),
			       t_net_overrides = { .kind = SERDE_SEQ, .inner = &t_net_override };
static const struct serde_field vsock_override_f[] = { F("uds_path", t_string) };
static const struct serde_type t_vsock_override = LOOSE("VsockOverride", vsock_override_f),
			       o_vsock_override = OPTION(t_vsock_override);
static const char *const load_huge_pages[] = { "Snapshot", "None", "Transparent", "2M" };
static const struct serde_type t_load_huge = ENUM(load_huge_pages);
static const struct serde_field load_f[] = {
	F("snapshot_path", t_path),
	F("mem_file_path", o_path),
	F("mem_backend", o_backend),
	DEFAULT("enable_diff_snapshots", t_bool),
	DEFAULT("track_dirty_pages", t_bool),
	DEFAULT("resume_vm", t_bool),
	DEFAULT("network_overrides", t_net_overrides),
	F("vsock_override", o_vsock_override),
	DEFAULT("clock_realtime", t_bool),
	DEFAULT("huge_pages", t_load_huge),
};
const struct serde_type fc_snapshot_load = STRUCT("LoadSnapshotConfig", load_f);
