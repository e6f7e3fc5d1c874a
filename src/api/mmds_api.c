/* PUT /mmds/config, the "mmds-config" section and the configuration's store
 * (api/mmds_api.h), with Firecracker's serde messages and checks. */
#include "api/mmds_api.h"

#include "api/fc_bodies.h"
#include "api/json_pos.h"
#include "api/vm_config_json.h"
#include "devices/mmds/mmds.h"
#include "devices/virtio/virtio_net.h"
#include "util/log.h"
#include "util/why.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

struct mmds *api_mmds_store(struct api_config *c)
{
	int err;

	if (c->mmds)
		return c->mmds;
	err = mmds_create(&c->mmds, c->mmds_size_limit);
	if (err)
		pr_err("MMDS: cannot create the data store: %s", strerror(-err));
	return c->mmds;
}

static struct net_config *net_of(const struct api_device *d)
{
	return d->dev.kind == &virtio_net_kind ? (struct net_config *)(void *)d->dev.data : NULL;
}

bool api_mmds_enabled(const struct api_config *c)
{
	for (int i = 0; c->mmds && i < c->ndevices; i++)
		if (net_of(&c->devices[i]) && net_of(&c->devices[i])->mmds)
			return true;
	return false;
}

bool api_ipv4_parse(const char *s, uint32_t *out)
{
	uint32_t a = 0;

	for (int part = 0; part < 4; part++) {
		unsigned int v = 0, digits = 0;

		if (part && *s++ != '.')
			return false;
		if (s[0] == '0' && s[1] >= '0' && s[1] <= '9')
			return false;
		while (*s >= '0' && *s <= '9' && digits < 3) {
			v = v * 10 + (unsigned int)(*s++ - '0');
			digits++;
		}
		if (!digits || v > 255)
			return false;
		a = a << 8 | v;
	}
	if (*s)
		return false;
	*out = a;
	return true;
}

/* Firecracker's is_link_local_valid(): 169.254.0.0/16 without its first
 * and last 256 addresses (RFC 3927). */
static bool link_local_valid(uint32_t a)
{
	uint32_t third = (a >> 8) & 0xff;

	return (a >> 16) == 0xa9fe && third != 0 && third != 255;
}

struct parsed {
	enum mmds_version version;
	json_t *ifaces;
	bool has_ipv4;
	uint32_t ipv4;
	bool imds_compat;
};

/* j read as Firecracker's MmdsConfig (serde), then its values. */
static int parse(json_t *j, struct parsed *p, char *why, size_t why_size)
{
	json_t *held = json_incref(j), *v;
	const char *version;
	int err = serde_check(&fc_mmds_config, &held, NULL, why, why_size);

	*p = (struct parsed){ .version = MMDS_V1 };
	if (!err) {
		version = json_string_value(json_object_get(held, "version"));
		p->version = version && !strcmp(version, "V2") ? MMDS_V2 : MMDS_V1;
		/* the body's own (a sequence form's elements are): valid while it is */
		p->ifaces = json_object_get(held, "network_interfaces");
		v = json_object_get(held, "ipv4_address");
		p->has_ipv4 = json_is_string(v) && api_ipv4_parse(json_string_value(v), &p->ipv4);
		p->imds_compat = json_is_true(json_object_get(held, "imds_compat"));
	}
	json_decref(held);
	return err;
}

int api_mmds_config_parse(json_t *j, bool *v1, char *why, size_t why_size)
{
	struct parsed p;
	int err = parse(j, &p, why, why_size);

	*v1 = !err && p.version == MMDS_V1;
	return err;
}

static bool iface_exists(const struct api_config *c, const char *id)
{
	for (int i = 0; i < c->ndevices; i++)
		if (net_of(&c->devices[i]) && !strcmp(id_str(c->devices[i].id), id))
			return true;
	return false;
}

static bool listed(json_t *ifaces, const char *id)
{
	size_t i;
	json_t *v;

	json_array_foreach(ifaces, i, v)
	{
		if (!strcmp(json_string_value(v), id))
			return true;
	}
	return false;
}

int api_mmds_config_put(struct api_config *c, json_t *j, bool *v1, char *why, size_t why_size)
{
	struct mmds_config mc;
	struct parsed p;
	struct mmds *m;
	size_t i;
	json_t *v;
	int err = parse(j, &p, why, why_size);

	*v1 = !err && p.version == MMDS_V1;
	if (err)
		return err;
	/* Firecracker's order: the address, an empty list, unknown ids. */
	if (p.has_ipv4 && !link_local_valid(p.ipv4))
		return why_fail(why, why_size, -API_EVMM,
				API_MMDS_CONFIG_ERR "The MMDS IPv4 address is not link local.");
	if (!json_array_size(p.ifaces))
		return why_fail(why, why_size, -API_EVMM,
				API_MMDS_CONFIG_ERR "The list of network interface IDs that "
						    "allow forwarding MMDS requests is empty.");
	json_array_foreach(p.ifaces, i, v)
	{
		if (!iface_exists(c, json_string_value(v)))
			return why_fail(why, why_size, -API_EVMM,
					API_MMDS_CONFIG_ERR
					"The list of network interface IDs provided contains at "
					"least one ID that does not correspond to any existing "
					"network interface.");
	}
	m = api_mmds_store(c);
	if (!m)
		return why_fail(why, why_size, -ENOMEM,
				"mmds-config: the MMDS data store cannot be created");
	for (int d = 0; d < c->ndevices; d++)
		if (net_of(&c->devices[d]))
			net_of(&c->devices[d])->mmds = listed(p.ifaces, id_str(c->devices[d].id));
	mc = (struct mmds_config){ .version = p.version,
				   .ipv4 = p.has_ipv4 ? p.ipv4 : MMDS_DEFAULT_IPV4,
				   .imds_compat = p.imds_compat };
	mmds_set_config(m, &mc);
	return 0;
}

json_t *api_mmds_config_to_json(const struct api_config *c)
{
	struct mmds_config mc;
	json_t *o, *ifaces;
	char ip[16];

	if (!api_mmds_enabled(c))
		return json_null();
	mmds_get_config(c->mmds, &mc);
	ifaces = json_array();
	for (int i = 0; ifaces && i < c->ndevices; i++)
		if (net_of(&c->devices[i]) && net_of(&c->devices[i])->mmds)
			json_array_append_new(ifaces, json_string(id_str(c->devices[i].id)));
	snprintf(ip, sizeof(ip), "%u.%u.%u.%u", mc.ipv4 >> 24, (mc.ipv4 >> 16) & 0xff,
		 (mc.ipv4 >> 8) & 0xff, mc.ipv4 & 0xff);
	o = json_pack("{s:s, s:o, s:s, s:b}", "version", mc.version == MMDS_V2 ? "V2" : "V1",
		      "network_interfaces", ifaces, "ipv4_address", ip, "imds_compat",
		      mc.imds_compat);
	return o;
}
