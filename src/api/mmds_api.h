/* The API's side of MMDS (devices/mmds/mmds.h) with Firecracker 1.16's
 * rules: the store of a configuration (struct api_config.mmds, created when
 * first needed, as Firecracker's locked_mmds_or_default), PUT /mmds/config
 * (the configuration file's "mmds-config") and its part of GET /vm/config.
 * Main thread only. */
#ifndef VOLT_API_MMDS_API_H
#define VOLT_API_MMDS_API_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>

struct api_config;
struct mmds;

/* Firecracker's messages (its VmmActionError and MmdsDatastoreError). */
#define API_MMDS_NOT_INITIALIZED "MMDS error: The MMDS data store is not initialized."
#define API_MMDS_TOO_LARGE	 "MMDS limit exceeded error: The MMDS patch request doesn't fit."
#define API_MMDS_CONFIG_ERR	 "MMMDS config error: " /* sic: Firecracker's three Ms */

/* c's store, created (empty, c->mmds_size_limit) when there is none; NULL
 * when it cannot be created (out of memory, no randomness: logged). */
struct mmds *api_mmds_store(struct api_config *c);

/* Some network interface serves MMDS: after boot, Firecracker has a store
 * only then (Vmm::get_mmds()). */
bool api_mmds_enabled(const struct api_config *c);

/* Rust's Ipv4Addr::from_str: four decimal octets, no leading zero. */
bool api_ipv4_parse(const char *s, uint32_t *out);

/* PUT /mmds/config's body, as Firecracker's serde reads MmdsConfig (its
 * messages after SERDE_PREFIX); *v1 says whether the version is V1 (the
 * default, deprecated: "Deprecation: true"). Nothing is changed. */
int api_mmds_config_parse(json_t *j, bool *v1, char *why, size_t why_size);
/* Parses and applies it: Firecracker's checks (a link-local address, a
 * non-empty list of existing interface ids) with its messages, then the
 * listed interfaces serve MMDS, the others stop, and the store takes the
 * version, address and imds_compat. The configuration is unchanged on error;
 * -API_EVMM when the body parsed and those checks refused it. */
int api_mmds_config_put(struct api_config *c, json_t *j, bool *v1, char *why, size_t why_size);

/* GET /vm/config's "mmds-config": null when no interface serves MMDS. */
json_t *api_mmds_config_to_json(const struct api_config *c);

#endif
