/* libFuzzer target: a request body read as Firecracker's types
 * (api/serde_body.c, api/fc_bodies.c). The first byte picks the type, the
 * rest is the body.
 *
 * Checked: an answer is 0, or -EINVAL with serde's message (Firecracker's
 * prefix, a full stop at the end); a body taken is an object of the struct
 * (the sequence and map forms made that shape), and reading it again takes
 * it as it is. */
#include <errno.h>
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/fc_bodies.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct serde_type *const types[] = {
	&fc_boot_source,
	&fc_machine_config,
	&fc_machine_config_update,
	&fc_drive,
	&fc_drive_update,
	&fc_net,
	&fc_net_update,
	&fc_vsock,
	&fc_balloon,
	&fc_balloon_update,
	&fc_balloon_stats_update,
	&fc_balloon_hint_start,
	&fc_entropy,
	&fc_serial,
	&fc_pmem,
	&fc_pmem_update,
	&fc_memory_hotplug,
	&fc_memory_hotplug_update,
	&fc_logger,
	&fc_metrics,
	&fc_action,
	&fc_vm_state,
	&fc_snapshot_create,
	&fc_snapshot_load,
	&fc_mmds_config,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const size_t ntypes = sizeof(types) / sizeof(types[0]);
	const struct serde_type *t;
	const char *text = (const char *)data + 1;
	json_error_t e;
	json_t *j, *again;
	char why[512];
	size_t n;
	int err;

	if (size < 1)
		return 0;
	t = types[data[0] % ntypes];
	j = json_loadb(text, size - 1, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &e);
	if (!j)
		return 0;
	json_pos_index(j, text, size - 1);
	err = serde_check(t, &j, NULL, why, sizeof(why));
	if (err == -EINVAL) {
		n = strlen(why);
		if (strncmp(why, SERDE_PREFIX, strlen(SERDE_PREFIX)) || !n || why[n - 1] != '.')
			abort();
	} else if (!err) {
		if (!json_is_object(j))
			abort();
		again = j;
		if (serde_check(t, &again, NULL, why, sizeof(why)) || again != j)
			abort();
	} else if (err != -ENOMEM) {
		abort();
	}
	json_decref(j);
	json_pos_index(NULL, NULL, 0);
	return 0;
}
