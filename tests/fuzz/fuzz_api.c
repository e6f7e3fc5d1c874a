/* libFuzzer target: the API's request router and JSON layer (src/api/router.c,
 * vm_config_json.c) without a VM or a socket.
 *
 * Input: up to 16 requests separated by "\n--\n"; each is "METHOD PATH\n"
 * followed by its body. The method "FILE" feeds the body to the configuration
 * file parser instead. A fresh state per input; the fake VM operations
 * succeed, except InstanceStart with 3 vCPUs (the failure path).
 *
 * Checked after every request: the status is one of 200/204/400/404, a body
 * is valid JSON (a fault carries a string fault_message), and GET /vm/config
 * of any bootable configuration parses back as a configuration file that
 * renders to the same JSON. */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/router.h"
#include "devices/mmds/mmds.h"
#include "util/log.h"

static bool paused;

static int fake_start(void *ctx, const struct api_config *cfg, bool *undone, char *why,
		      size_t why_size)
{
	(void)ctx;
	*undone = cfg->vcpus == 5; /* a start that can be sent again */
	if (cfg->vcpus == 3 || cfg->vcpus == 5) {
		snprintf(why, why_size, "fake failure");
		return -5;
	}
	return 0;
}

static int fake_pause(void *ctx)
{
	(void)ctx;
	paused = true;
	return 0;
}

static int fake_resume(void *ctx)
{
	(void)ctx;
	paused = false;
	return 0;
}

static bool fake_is_paused(void *ctx)
{
	(void)ctx;
	return paused;
}

static int fake_ok(void *ctx)
{
	(void)ctx;
	return 0;
}

static int fake_balloon_set(void *ctx, unsigned int mib)
{
	(void)ctx;
	return mib == 7 ? -22 : 0;
}

static int fake_balloon_stats(void *ctx, struct balloon_stats *s)
{
	(void)ctx;
	memset(s, 0, sizeof(*s));
	s->target_pages = 1024;
	s->actual_pages = 512;
	s->valid = 0x3ff;
	s->val[4] = 12345;
	return 0;
}

static int fake_interval(void *ctx, unsigned int s)
{
	(void)ctx;
	return s == 5 ? 0 : -95;
}

static int fake_logger(void *ctx, const struct api_logger *l, char *why, size_t why_size)
{
	(void)ctx;
	(void)l;
	(void)why;
	(void)why_size;
	return 0;
}

static int fake_metrics(void *ctx, const struct api_metrics *m, char *why, size_t why_size)
{
	(void)ctx;
	(void)why;
	(void)why_size;
	return m->path[0] == 'x' ? -2 : 0;
}

static int fake_flush(void *ctx)
{
	(void)ctx;
	return -2;
}

static const struct api_ops ops = {
	.instance_start = fake_start,
	.pause = fake_pause,
	.resume = fake_resume,
	.is_paused = fake_is_paused,
	.ctrl_alt_del = fake_ok,
	.balloon_set = fake_balloon_set,
	.balloon_stats = fake_balloon_stats,
	.balloon_stats_interval = fake_interval,
	.logger = fake_logger,
	.metrics = fake_metrics,
	.flush_metrics = fake_flush,
};

static void check_response(const struct api_response *r)
{
	json_t *j, *m;

	if (r->status != 200 && r->status != 204 && r->status != 400 && r->status != 404)
		abort();
	if (r->status == 204) {
		if (r->body)
			abort();
		return;
	}
	if (!r->body)
		abort();
	j = json_loads(r->body, 0, NULL);
	if (!j)
		abort();
	m = json_object_get(j, "fault_message");
	if (r->status >= 400 && !json_is_string(m))
		abort();
	json_decref(j);
}

/* GET /vm/config must be a configuration file that renders the same. */
static void check_round_trip(const struct api_config *c)
{
	static struct api_config back;
	char why[512], *a, *b;
	json_t *j, *k;

	if (!c->has_boot)
		return;
	j = api_config_to_json(c);
	if (!j)
		abort();
	if (api_config_from_json(&back, j, why, sizeof(why))) {
		fprintf(stderr, "round trip refused: %s\n", why);
		abort();
	}
	k = api_config_to_json(&back);
	a = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	b = json_dumps(k, JSON_COMPACT | JSON_SORT_KEYS);
	if (!a || !b || strcmp(a, b)) {
		fprintf(stderr, "round trip differs:\n%s\n%s\n", a, b);
		abort();
	}
	free(a);
	free(b);
	json_decref(j);
	json_decref(k);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct api_state st;
	static bool quiet;
	const char *p = (const char *)data, *end = p + size;
	int n;

	if (!quiet) {
		log_set_level(LOG_OFF);
		quiet = true;
	}
	paused = false;
	api_state_init(&st, &ops, NULL, "fuzz");
	for (n = 0; n < 16 && p < end; n++) {
		const char *sep = memmem(p, (size_t)(end - p), "\n--\n", 4);
		const char *rend = sep ? sep : end;
		const char *nl = memchr(p, '\n', (size_t)(rend - p));
		char line[512], *sp;
		struct api_response r;

		if (nl && (size_t)(nl - p) < sizeof(line)) {
			memcpy(line, p, (size_t)(nl - p));
			line[nl - p] = '\0';
			sp = strchr(line, ' ');
			if (sp) {
				*sp = '\0';
				if (!strcmp(line, "FILE")) {
					char why[512];
					json_t *j = api_json_parse(nl + 1, (size_t)(rend - nl - 1),
								   why, sizeof(why));

					if (j &&
					    !api_config_from_json(&st.cfg, j, why, sizeof(why)))
						check_round_trip(&st.cfg);
					json_decref(j);
				} else {
					api_handle(&st, line, sp + 1, nl + 1,
						   (size_t)(rend - nl - 1), &r);
					check_response(&r);
					free(r.body);
				}
			}
		}
		p = sep ? sep + 4 : end;
	}
	check_round_trip(&st.cfg);
	/* The front end keeps the MMDS store for the process's life; here each
	 * input starts a fresh state. */
	mmds_destroy(st.cfg.mmds);
	return 0;
}
