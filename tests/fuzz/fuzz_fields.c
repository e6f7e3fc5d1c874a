/* libFuzzer target: the field engine (core/fields.c) through every kind of
 * the device table, without a VM.
 *
 * Input: one byte choosing the kind (modulo the table) and the syntax (bit 7:
 * JSON, else a CLI spec), then the text. Checked: a spec or object that
 * parses renders to JSON (unless a value is not UTF-8) that parses back to
 * the same configuration; a
 * rewrite of a spec's paths that keeps every value gives the spec back. */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devices/device_table.h"
#include "util/id_pool.h"

static const char *keep(void *ctx, const struct field *f, const char *value, int *err)
{
	(void)ctx;
	(void)f;
	(void)value;
	(void)err;
	return NULL;
}

/* A field the CLI has and JSON does not (virtio-mem's requested=): it does
 * not survive JSON, by design (Firecracker's body has no such key). A CLI
 * bucket shares its storage with the JSON rate limiter. */
static bool cli_only_fields(const struct device_kind *k)
{
	size_t i;

	for (i = 0; k->fields && i < k->fields->n; i++) {
		const struct field *f = &k->fields->fields[i];

		if (f->cli && f->cli[0] && !f->json && f->type != FIELD_BUCKET)
			return true;
	}
	return false;
}

static void round_trip(const struct device_config *c)
{
	static struct device_config back;
	char why[256];
	json_t *j = device_config_to_json(c), *again;
	bool same;

	/* A CLI value may be any bytes; JSON strings are UTF-8. */
	if (!j)
		return;
	if (device_config_from_json(c->kind, "x", j, NULL, &back, why, sizeof(why))) {
		fprintf(stderr, "emitted JSON does not parse back: %s\n", why);
		abort();
	}
	if (cli_only_fields(c->kind)) {
		again = device_config_to_json(&back);
		same = again && json_equal(again, j);
		json_decref(again);
	} else {
		same = !memcmp(back.data, c->data, sizeof(c->data));
	}
	if (!same) {
		fprintf(stderr, "the configuration changed on its way through JSON\n");
		abort();
	}
	json_decref(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct device_config c;
	const struct device_kind *k;
	char why[256], *text, out[8192];
	json_t *j;

	if (size < 1 || size > 6000)
		return 0;
	k = device_table[data[0] % device_table_len];
	text = malloc(size);
	if (!text)
		return 0;
	memcpy(text, data + 1, size - 1);
	text[size - 1] = '\0';
	if (data[0] & 0x80) {
		j = json_loads(text, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, NULL);
		if (j && !device_config_from_json(k, "x", j, NULL, &c, why, sizeof(why)))
			round_trip(&c);
		if (j && device_rewrite_json(k, j, keep, NULL))
			abort();
		json_decref(j);
	} else {
		if (!device_config_from_spec(k, text, &c, why, sizeof(why)))
			round_trip(&c);
		if (!device_rewrite_spec(k, text, keep, NULL, out, sizeof(out)) &&
		    strcmp(out, text)) {
			fprintf(stderr, "a rewrite that kept every path changed the spec\n");
			abort();
		}
	}
	free(text);
	/* Each input's ids go (util/id_pool.h), as the API's sweep does. */
	id_pool_clear();
	return 0;
}
