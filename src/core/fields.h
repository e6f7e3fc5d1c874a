/* Configuration fields as data. A struct field describes one member of a
 * device's (or any) configuration struct: its CLI key, its JSON key
 * (Firecracker's name), its type and range, its default, whether it is
 * required, and the words of its errors. Three syntaxes are driven by the
 * same descriptions:
 *   - fields_parse_spec(): "key=value,flag,..." (the CLI's --drive and co.);
 *   - fields_parse_json(): a JSON object (the API, the config file);
 *   - fields_to_json():    the struct back to a JSON object (GET /vm/config).
 * Both parsers are all-or-nothing: on -EINVAL the reason is in why, worded in
 * terms of the fields only ("tap= given twice", "drive: drive_id: ..."); the
 * front-end adds its own words ("--net '...': "). Every value is hostile:
 * lengths, ranges and NUL bytes are checked before anything is stored. */
#ifndef VOLT_CORE_FIELDS_H
#define VOLT_CORE_FIELDS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum field_type {
	FIELD_STRING, /* char[size] */
	FIELD_PATH,   /* char[size]: a host path (Landlock and the jailer look at these) */
	FIELD_ID,     /* const char *: an id handle (util/id_pool.h), parse_id_check() */
	FIELD_BOOL,   /* bool. CLI: "key" or "key=on|off|true|false|1|0" */
	FIELD_FLAG,   /* bool. CLI: "key" only, no value */
	FIELD_U32,    /* uint32_t in [min, max] */
	FIELD_U64,    /* uint64_t in [min, max] */
	FIELD_MIB,    /* uint32_t MiB at most max. CLI: a size ("64", "512M", "1G") */
	FIELD_ENUM,   /* int: one of names[] */
	FIELD_MAC,    /* uint8_t[6]: "52:54:00:12:34:56"; the CLI's unicast and non-zero */
	FIELD_NULL,   /* JSON only, no storage: accepted as null alone */
	FIELD_RL,     /* JSON only: struct rl_config (core/rate_limiter.h); null or {}: none */
	FIELD_BUCKET, /* CLI only: struct rl_bucket_config, "SIZE/MS[+BURST]" or "off" */
};

/* What a FIELD_PATH lets the VMM do with the file it names, at most. */
enum field_access {
	FIELD_ACCESS_NONE,
	FIELD_ACCESS_READ,	    /* opened read-only */
	FIELD_ACCESS_READ_WRITE,    /* opened read-write (read-only when the config says) */
	FIELD_ACCESS_SOCKET_CREATE, /* a Unix socket the VMM creates (and later removes) */
};

/* One name of a FIELD_ENUM; a list ends with { NULL }. */
struct field_name {
	const char *cli, *json;
	int value;
};

#define FIELD_NO_HAS SIZE_MAX

struct field {
	const char *
		cli; /* "key" of key=value; "" the first token (positional); NULL: not on the CLI */
	const char *json; /* the JSON key; NULL: not in JSON */
	enum field_type type;
	size_t offset;	   /* into the configuration struct */
	size_t size;	   /* strings: the buffer's size (NUL included) */
	uint64_t min, max; /* FIELD_STRING in JSON: min 1 refuses "" */
	uint64_t cli_max;  /* when not 0: the CLI's max (numbers above it are `bad`) */
	uint64_t def;	   /* numbers, bools and enums: the default (strings default to "") */
	const struct field_name *names; /* FIELD_ENUM */
	bool required;
	bool json_required; /* required in JSON only (Firecracker's serde), not on the CLI */
	/* JSON: null is refused (Firecracker's serde default of a field that is
	 * not an Option: absent is the default, null a wrong type); otherwise
	 * null is absent. */
	bool no_null;
	size_t has; /* offset of a bool set when the field is given; FIELD_NO_HAS: none */
	enum field_access access; /* FIELD_PATH */
	/* The CLI's words; "{}" stands for the value. NULL: the set's `unknown`. */
	const char *missing; /* a required field absent */
	const char *empty;   /* "key=" with no value (STRING and PATH) */
	const char *bad;     /* a value that does not parse or is out of range */
	const char *toolong; /* a STRING or PATH longer than size - 1 */
	/* A further rule: 0, or -EINVAL with the reason in why. str is the string
	 * value (STRING, PATH, ID), num the number (U32, U64, MIB). The CLI puts
	 * check_prefix in front of the reason, JSON "obj: jsonkey: ". */
	int (*check)(const char *str, uint64_t num, char *why, size_t why_size);
	const char *check_prefix;
	bool check_is_bad; /* the CLI words a failed check with `bad`, not the reason */
};

struct field_set {
	const char *name; /* the JSON object's name in messages: "drive" */
	const struct field *fields;
	size_t n;
	size_t size;	     /* sizeof the configuration struct */
	const char *unknown; /* CLI: an unknown or malformed token; "{}" is the token */
};

/* Fills cfg (set->size bytes) with the defaults. */
void fields_defaults(const struct field_set *set, void *cfg);
/* Parses a CLI spec into cfg (defaults first). Tokens are separated by ',';
 * empty tokens are skipped; a value runs to the end of its token (it may hold
 * '='). 0, -ENOMEM, or -EINVAL with the reason in why; cfg is only written on
 * success. */
int fields_parse_spec(const struct field_set *set, const char *spec, void *cfg, char *why,
		      size_t why_size);
/* Parses a JSON object into cfg, which is updated only on success: fields
 * absent or null keep cfg's values (call fields_defaults() first for a fresh
 * one). Keys in `extra` (a NULL-terminated list, may be NULL) are the
 * caller's and are allowed but ignored. Messages start with obj. */
int fields_parse_json(const struct field_set *set, const char *obj, json_t *j,
		      const char *const *extra, void *cfg, char *why, size_t why_size);
/* The JSON object of cfg's fields that have a JSON key (empty optional
 * strings and absent MACs as null); NULL when out of memory or when a string
 * is not UTF-8 (a CLI value may be any bytes). */
json_t *fields_to_json(const struct field_set *set, const void *cfg);
/* The same with the CLI-only fields too, as "cli:<key>" (virtio-mem's
 * requested=): everything that shapes the device, for a cache key. */
json_t *fields_to_json_all(const struct field_set *set, const void *cfg);

/* Stores value into the STRING, PATH or ID field whose JSON key is json
 * (api/: a drive's id, given in the API's own key). 0, -ENOENT when there is
 * none, -ENAMETOOLONG when value does not fit, -ENOMEM. Nothing is checked:
 * the caller has checked value. */
int fields_set_string(const struct field_set *set, void *cfg, const char *json, const char *value);
/* id_pool_mark()s the ids cfg's FIELD_ID fields hold (set may be NULL). */
void fields_mark_ids(const struct field_set *set, const void *cfg);
/* The field of set whose JSON key is key, or NULL. */
const struct field *fields_find_json(const struct field_set *set, const char *key);
/* How a JSON value's type is named in messages ("a string", "null"...). */
const char *fields_json_type(const json_t *v);

/* Path rewriting, for the jailer: calls fn for each FIELD_PATH value in a CLI
 * spec or a JSON object; fn returns the new value (or NULL to keep it, or
 * sets *err). fields_rewrite_spec() writes the rewritten spec into out
 * (-ENAMETOOLONG when it does not fit); fields_rewrite_json() replaces the
 * values in j in place. Tokens and keys that are not paths are kept as they
 * are; nothing is validated here (the VMM parses the result). */
typedef const char *(*field_path_fn)(void *ctx, const struct field *f, const char *value, int *err);
int fields_rewrite_spec(const struct field_set *set, const char *spec, field_path_fn fn, void *ctx,
			char *out, size_t out_size);
int fields_rewrite_json(const struct field_set *set, json_t *j, field_path_fn fn, void *ctx);

#endif
