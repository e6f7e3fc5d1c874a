/* api/serde_body: a body read as serde_derive and serde_json read it into
 * Firecracker's types: the words, the order, the positions, and the shapes
 * serde takes besides an object (a struct's sequence, a unit variant's map). */
#include <criterion/criterion.h>
#include <errno.h>
#include <float.h>
#include <stdio.h>
#include <string.h>

#include "api/fc_bodies.h"
#include "api/serde_body.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static const struct serde_type t_u8 = { .kind = SERDE_U8 }, t_bool = { .kind = SERDE_BOOL },
			       t_str = { .kind = SERDE_STRING },
			       o_str = { .kind = SERDE_OPTION, .inner = &t_str };
static const char *const colours[] = { "Red", "Green" };
static const struct serde_type t_colour = { .kind = SERDE_ENUM, .variants = colours, .n = 2 };
static const struct serde_field inner_f[] = { { "a", &t_u8, false } };
static const struct serde_type t_inner = {
	.kind = SERDE_STRUCT, .name = "Inner", .fields = inner_f, .n = 1, .deny_unknown = false
};
static const struct serde_field thing_f[] = {
	{ "id", &t_str, false },       { "count", &t_u8, false }, { "on", &t_bool, true },
	{ "colour", &t_colour, true }, { "note", &o_str, false }, { "inner", &t_inner, true },
};
static const struct serde_type t_thing = { .kind = SERDE_STRUCT,
					   .name = "Thing",
					   .fields = thing_f,
					   .n = N(thing_f),
					   .deny_unknown = true };
static const struct serde_type t_nothing = {
	.kind = SERDE_STRUCT, .name = "Nothing", .fields = NULL, .n = 0, .deny_unknown = true
};

static json_t *body;

/* Parses and indexes text as a request's body, then checks it against t:
 * 0 or serde's message in why (without Firecracker's prefix). */
static int check(const struct serde_type *t, const char *text, char *why, size_t size)
{
	json_error_t e;
	int err;

	json_decref(body);
	body = json_loads(text, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY | JSON_ALLOW_NUL, &e);
	cr_assert(body, "%s: %s", text, e.text);
	json_pos_index(body, text, strlen(text));
	why[0] = '\0';
	err = serde_check(t, &body, NULL, why, size);
	if (err && !strncmp(why, SERDE_PREFIX, strlen(SERDE_PREFIX)))
		memmove(why, why + strlen(SERDE_PREFIX), strlen(why + strlen(SERDE_PREFIX)) + 1);
	return err;
}

static void refused(const struct serde_type *t, const char *text, const char *want)
{
	char why[512];

	char w[512];

	snprintf(w, sizeof(w), "%s.", want);
	cr_assert_eq(check(t, text, why, sizeof(why)), -EINVAL, "%s: taken", text);
	cr_assert_str_eq(why, w, "%s:\n got %s\nwant %s", text, why, w);
}

static void taken(const struct serde_type *t, const char *text)
{
	char why[512];

	cr_assert_eq(check(t, text, why, sizeof(why)), 0, "%s: %s", text, why);
}

static void fini(void)
{
	json_decref(body);
	body = NULL;
	json_pos_index(NULL, NULL, 0);
}

TestSuite(serde_body, .fini = fini);

static void float_is(double d, const char *want)
{
	json_t *v = json_real(d);
	char got[96], w[96];

	serde_unexpected(v, got, sizeof(got));
	snprintf(w, sizeof(w), "floating point `%s`", want);
	cr_assert_str_eq(got, w);
	json_decref(v);
}

Test(serde_body, floats_as_serde_json_writes_them)
{
	/* serde_json's and zmij's own tests, and each side of the fixed range. */
	float_is(3.0, "3.0");
	float_is(3.1, "3.1");
	float_is(-1.5, "-1.5");
	float_is(0.5, "0.5");
	float_is(0.1, "0.1");
	float_is(-0.0, "-0.0");
	float_is(12e40, "1.2e+41");
	float_is(DBL_MAX, "1.7976931348623157e+308");
	float_is(-DBL_MAX, "-1.7976931348623157e+308");
	float_is(DBL_EPSILON, "2.220446049250313e-16");
	float_is(6.62607015e-34, "6.62607015e-34");
	float_is(5e-324, "5e-324");
	float_is(1e15, "1000000000000000.0");
	float_is(1.5e15, "1500000000000000.0");
	float_is(1e16, "1e+16");
	float_is(123.456, "123.456");
	float_is(0.00001, "0.00001");
	float_is(0.000012, "0.000012");
	float_is(1e-6, "1e-6");
}

Test(serde_body, other_values_as_serde_names_them)
{
	static const char *const cases[][2] = {
		{ "\"a\\\"b\\n\\t\\\\\\u0001\\u007f'\"",
		  "string \"a\\\"b\\n\\t\\\\\\u{1}\\u{7f}'\"" },
		{ "-7", "integer `-7`" },
		{ "true", "boolean `true`" },
		{ "null", "null" },
		{ "[]", "sequence" },
		{ "{}", "map" },
	};
	char got[128];

	for (size_t i = 0; i < N(cases); i++) {
		json_t *v = json_loads(cases[i][0], JSON_DECODE_ANY, NULL);

		cr_assert(v, "%s", cases[i][0]);
		serde_unexpected(v, got, sizeof(got));
		cr_assert_str_eq(got, cases[i][1]);
		json_decref(v);
	}
}

Test(serde_body, expected_lists)
{
	static const char *const names[] = { "a", "b", "c" };
	char buf[64];

	serde_one_of(names, 1, buf, sizeof(buf));
	cr_assert_str_eq(buf, "`a`");
	serde_one_of(names, 2, buf, sizeof(buf));
	cr_assert_str_eq(buf, "`a` or `b`");
	serde_one_of(names, 3, buf, sizeof(buf));
	cr_assert_str_eq(buf, "one of `a`, `b`, `c`");
}

Test(serde_body, members_in_the_bodys_order)
{
	taken(&t_thing, "{\"id\": \"x\", \"count\": 3}");
	taken(&t_thing, "{\"count\": 3, \"note\": null, \"id\": \"x\", \"on\": true, "
			"\"colour\": \"Green\", \"inner\": {\"a\": 1, \"zzz\": [1]}}");
	/* the first error in the text, not in the struct's order */
	refused(&t_thing, "{\"on\": 1, \"id\": 5}",
		"invalid type: integer `1`, expected a boolean at line 1 column 8");
	refused(&t_thing, "{\"id\": \"x\", \"bogus\": 1, \"count\": \"a\"}",
		"unknown field `bogus`, expected one of `id`, `count`, `on`, `colour`, `note`, "
		"`inner` at line 1 column 19");
	refused(&t_nothing, "{\"x\": 1}",
		"unknown field `x`, there are no fields at line 1 column 4");
	/* missing fields: after the map, in the struct's order */
	refused(&t_thing, "{\"on\": true}", "missing field `id` at line 1 column 12");
	refused(&t_thing, "{\"id\": \"x\"}", "missing field `count` at line 1 column 11");
	refused(&t_thing, "{\"id\": \"x\", \"count\": 3, \"inner\": {\n  \"b\": 1\n}}",
		"missing field `a` at line 3 column 1");
	/* null: an Option's None, any other type's wrong type */
	refused(&t_thing, "{\"id\": null}",
		"invalid type: null, expected a string at line 1 column 11");
	refused(&t_thing, "{\"id\": \"x\", \"count\": 256}",
		"invalid value: integer `256`, expected u8 at line 1 column 24");
	refused(&t_thing, "{\"id\": \"x\", \"count\": -1}",
		"invalid value: integer `-1`, expected u8 at line 1 column 23");
	refused(&t_thing, "{\"id\": \"x\", \"count\": 1.0}",
		"invalid type: floating point `1.0`, expected u8 at line 1 column 24");
	refused(&t_thing, "{\"id\": \"x\", \"count\": [1]}",
		"invalid type: sequence, expected u8 at line 1 column 21");
	refused(&t_thing, "5",
		"invalid type: integer `5`, expected struct Thing at line 1 column 1");
}

Test(serde_body, unit_variants)
{
	taken(&t_thing, "{\"id\": \"x\", \"count\": 1, \"colour\": \"Red\"}");
	refused(&t_thing, "{\"id\": \"x\", \"count\": 1, \"colour\": \"Blue\"}",
		"unknown variant `Blue`, expected `Red` or `Green` at line 1 column 40");
	refused(&t_thing, "{\"colour\": \"Red\\u0000\"}",
		"unknown variant `Red`, expected `Red` or `Green` at line 1 column 22");
	/* serde_json's deserialize_enum peeks at anything but a string or a map */
	refused(&t_thing, "{\"colour\": 1}", "expected value at line 1 column 12");
	refused(&t_thing, "{\"colour\": null}", "expected value at line 1 column 12");
	/* {"Variant": null} is the variant: made the string */
	taken(&t_thing, "{\"id\": \"x\", \"count\": 1, \"colour\": {\"Green\": null}}");
	cr_assert_str_eq(json_string_value(json_object_get(body, "colour")), "Green");
	refused(&t_thing, "{\"colour\": {\"Green\": 1}}",
		"invalid type: integer `1`, expected unit at line 1 column 22");
}

Test(serde_body, a_struct_as_a_sequence)
{
	/* serde_derive's visit_seq: the fields' values in order; defaults may be
	 * left off the end, other fields not */
	taken(&t_thing, "[\"x\", 2, true, \"Red\", null]");
	cr_assert(json_is_object(body));
	cr_assert_str_eq(json_string_value(json_object_get(body, "id")), "x");
	cr_assert_eq(json_integer_value(json_object_get(body, "count")), 2);
	taken(&t_thing, "[\"x\", 2, true, {\"Red\": null}, null, [7]]");
	cr_assert_str_eq(json_string_value(json_object_get(body, "colour")), "Red");
	cr_assert_eq(json_integer_value(json_object_get(json_object_get(body, "inner"), "a")), 7);
	/* note is an Option without a serde default: not left off */
	refused(&t_thing, "[\"x\", 2]",
		"invalid length 4, expected struct Thing with 6 elements at line 1 column 8");
	refused(&t_thing, "[\"x\"]",
		"invalid length 1, expected struct Thing with 6 elements at line 1 column 5");
	refused(&t_thing, "[1]", "invalid type: integer `1`, expected a string at line 1 column 2");
	refused(&t_thing, "[\"x\", 2, true, \"Red\", null, [1], 0]",
		"trailing characters at line 1 column 34");
	/* Firecracker's machine config: [vcpu_count, mem_size_mib] */
	taken(&fc_machine_config, "[2, 256]");
	cr_assert_eq(json_integer_value(json_object_get(body, "mem_size_mib")), 256);
}

Test(serde_body, firecrackers_types)
{
	refused(&fc_drive, "{\"drive_id\": \"d\", \"is_root_device\": false, \"bogus\": 1}",
		"unknown field `bogus`, expected one of `drive_id`, `partuuid`, `is_root_device`, "
		"`cache_type`, `is_read_only`, `path_on_host`, `rate_limiter`, `io_engine`, "
		"`socket` at line 1 column 50");
	/* a TokenBucketConfig ignores what it does not know; RateLimiterConfig does not */
	taken(&fc_drive, "{\"drive_id\": \"d\", \"is_root_device\": false, \"rate_limiter\": "
			 "{\"ops\": {\"size\": 1, \"refill_time\": 1, \"x\": 2}}}");
	refused(&fc_drive,
		"{\"drive_id\": \"d\", \"is_root_device\": false, \"rate_limiter\": {\"x\": {}}}",
		"unknown field `x`, expected `bandwidth` or `ops` at line 1 column 63");
	refused(&fc_net,
		"{\"iface_id\": \"e\", \"host_dev_name\": \"t\", \"guest_mac\": \"aa:bb\"}",
		"The provided MAC address is invalid. at line 1 column 61");
	taken(&fc_net, "{\"iface_id\": \"e\", \"host_dev_name\": \"t\", \"guest_mac\": "
		       "\"AA:bb:0c:+d:00:01\"}");
	refused(&fc_logger, "{\"level\": \"Verbose\"}", "Invalid LevelFilter at line 1 column 20");
	taken(&fc_logger, "{\"level\": \"WARNING\"}");
	refused(&fc_vsock, "{\"guest_cid\": 4294967296, \"uds_path\": \"/v\"}",
		"invalid value: integer `4294967296`, expected u32 at line 1 column 24");
	refused(&fc_metrics, "{\"metrics_path\": \"/m\", \"properties\": {\"a\": 1}}",
		"invalid type: integer `1`, expected a string at line 1 column 44");
	taken(&fc_metrics, "{\"metrics_path\": \"/m\", \"anything\": [1, {}]}");
	refused(&fc_snapshot_load, "{\"snapshot_path\": \"/s\", \"network_overrides\": [{}]}",
		"missing field `iface_id` at line 1 column 48");
	/* Ipv4Addr's FromStr visitor errs inside deserialize_str: after the string */
	refused(&fc_mmds_config, "{\"network_interfaces\": [], \"ipv4_address\": \"1.2.3\"}",
		"invalid IPv4 address syntax at line 1 column 50");
	refused(&fc_mmds_config, "{\"network_interfaces\": [], \"ipv4_address\": 7}",
		"invalid type: integer `7`, expected IPv4 address at line 1 column 44");
	taken(&fc_mmds_config, "[\"V2\", [\"eth0\"], \"169.254.169.254\", false]");
	cr_assert_str_eq(json_string_value(json_object_get(body, "version")), "V2");
}
