/* PUT /cpu-config and the configuration file's "cpu-config": Firecracker's
 * CustomCpuTemplate (x86_64), with its serde rules and messages ("An error
 * occurred when deserializing the json body of a request: ..."), serde's
 * line and column left out. leaf, subleaf and addr are strings with a 0x or
 * 0b prefix (a JSON number is serde's "invalid type"); bitmaps are strings
 * of '0', '1', 'x' and '_' after an optional 0b, at most 32 (CPUID) or 64
 * (MSR) bits, the missing high bits 'x'. Volt's own limits (the array sizes
 * of struct custom_cpu_template) answer in volt's words ("cpu-config: ..."). */
#ifndef VOLT_API_CPU_CONFIG_JSON_H
#define VOLT_API_CPU_CONFIG_JSON_H

#include <jansson.h>
#include <stddef.h>

#include "arch/x86/custom_template.h"

/* All or nothing: *t is only written on success. */
int api_parse_cpu_config(json_t *j, struct custom_cpu_template *t, char *why, size_t why_size);

#endif
