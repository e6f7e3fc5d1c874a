/* The jailer's pure pieces below the front-end: checks of its own option
 * values (--id, --rlimit, --cgroup) and the plan's memory. */
#include "sandbox/jail.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int jail_id_check(const char *id, char *why, size_t why_size)
{
	size_t i, n = strlen(id);

	if (!n || n > JAIL_ID_MAX) {
		snprintf(why, why_size, "must be 1 to %d characters", JAIL_ID_MAX);
		return -EINVAL;
	}
	for (i = 0; i < n; i++) {
		char c = id[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-')) {
			snprintf(why, why_size, "may hold only letters, digits and '-'");
			return -EINVAL;
		}
	}
	return 0;
}

static const struct {
	const char *name;
	int resource;
} rlimits[] = {
	{ "fsize", RLIMIT_FSIZE }, { "no-file", RLIMIT_NOFILE },  { "nofile", RLIMIT_NOFILE },
	{ "nproc", RLIMIT_NPROC }, { "memlock", RLIMIT_MEMLOCK }, { "core", RLIMIT_CORE },
};

const char *jail_rlimit_name(int resource)
{
	for (size_t i = 0; i < sizeof(rlimits) / sizeof(rlimits[0]); i++)
		if (rlimits[i].resource == resource)
			return rlimits[i].name;
	return "?";
}

int jail_rlimit_parse(const char *spec, int *resource, rlim_t *value, char *why, size_t why_size)
{
	const char *eq = strchr(spec, '=');
	unsigned long long v;
	char *end;
	size_t i;

	if (!eq) {
		snprintf(why, why_size, "expected RESOURCE=VALUE");
		return -EINVAL;
	}
	for (i = 0; i < sizeof(rlimits) / sizeof(rlimits[0]); i++)
		if (strlen(rlimits[i].name) == (size_t)(eq - spec) &&
		    !strncmp(spec, rlimits[i].name, (size_t)(eq - spec)))
			break;
	if (i == sizeof(rlimits) / sizeof(rlimits[0])) {
		snprintf(why, why_size, "unknown resource (fsize, no-file, nproc, memlock, core)");
		return -EINVAL;
	}
	*resource = rlimits[i].resource;
	if (!strcmp(eq + 1, "unlimited")) {
		*value = RLIM_INFINITY;
		return 0;
	}
	errno = 0;
	v = strtoull(eq + 1, &end, 10);
	if (eq[1] < '0' || eq[1] > '9' || *end || errno || v >= RLIM_INFINITY) {
		snprintf(why, why_size, "'%s' is not a number or 'unlimited'", eq + 1);
		return -EINVAL;
	}
	*value = (rlim_t)v;
	return 0;
}

int jail_cgroup_parse(const char *spec, struct jail_cgroup *out, char *why, size_t why_size)
{
	const char *eq = strchr(spec, '='), *dot = strchr(spec, '.'), *p;

	memset(out, 0, sizeof(*out));
	if (!eq || eq == spec) {
		snprintf(why, why_size, "expected FILE=VALUE, e.g. memory.max=256M");
		return -EINVAL;
	}
	if (!dot || dot > eq || dot == spec || dot + 1 == eq) {
		snprintf(why, why_size, "'%.*s' is not <controller>.<name>", (int)(eq - spec),
			 spec);
		return -EINVAL;
	}
	for (p = spec; p < eq; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '_' || *p == '.')) {
			snprintf(why, why_size, "'%.*s' is not a cgroup file name",
				 (int)(eq - spec), spec);
			return -EINVAL;
		}
	if ((size_t)(eq - spec) >= sizeof(out->file) ||
	    (size_t)(dot - spec) >= sizeof(out->controller) ||
	    strlen(eq + 1) >= sizeof(out->value)) {
		snprintf(why, why_size, "too long");
		return -EINVAL;
	}
	if (!eq[1] || strchr(eq + 1, '\n')) {
		snprintf(why, why_size, "the value must be one non-empty line");
		return -EINVAL;
	}
	memcpy(out->file, spec, (size_t)(eq - spec));
	memcpy(out->controller, spec, (size_t)(dot - spec));
	strcpy(out->value, eq + 1);
	return 0;
}

void jail_plan_free(struct jail_plan *p)
{
	int i;

	if (p->argv)
		for (i = 0; i < p->argc; i++)
			free(p->argv[i]);
	free(p->argv);
	for (i = 0; i < p->nfiles; i++) {
		free(p->files[i].src);
		free(p->files[i].name);
	}
	free(p->socket_name);
	free(p->config_src);
	free(p->sock);
	for (i = 0; i < p->ninside; i++)
		free(p->inside[i]);
	memset(p, 0, sizeof(*p));
}
