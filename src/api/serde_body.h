/* Firecracker's request bodies as serde reads them. Firecracker deserializes
 * each body into a Rust struct (serde_derive over serde_json) before its VMM
 * sees it, and a body that does not fit is answered with serde's words and
 * position. A serde_type describes such a Rust type as data (api/fc_bodies.h
 * has Firecracker's); serde_check() walks a body jansson parsed as serde would
 * read it: members in the body's order, the first error serde meets is the
 * answer, in its words, with serde_json's "at line L column C" where the body
 * is the one api/json_pos.h indexed.
 *
 * What serde accepts in another shape than a JSON object of the fields is
 * rewritten in place into that shape, so that volt's own parsers see one form:
 * a struct given as a sequence of its fields' values, and a unit variant given
 * as a map {"Variant": null}. volt's own rules (lengths, ranges its VMM
 * refuses) come after, in volt's parsers. */
#ifndef VOLT_API_SERDE_BODY_H
#define VOLT_API_SERDE_BODY_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "api/json_pos.h"

/* Firecracker's answer to a body serde could not read starts with this. */
#define SERDE_PREFIX "An error occurred when deserializing the json body of a request: "

/* A serde error as Firecracker words it: -EINVAL, the reason in why. */
#define serde_fail(why, why_size, fmt, ...) \
	why_fail(why, why_size, -EINVAL, SERDE_PREFIX fmt ".", ##__VA_ARGS__)

enum serde_kind {
	SERDE_BOOL,
	SERDE_U8,
	SERDE_U16,
	SERDE_U32,
	SERDE_U64,
	SERDE_USIZE,
	SERDE_STRING,
	SERDE_PATH,   /* PathBuf: a string, "path string" in messages */
	SERDE_OPTION, /* Option<inner>: null is None */
	SERDE_STRUCT, /* fields[n], deny_unknown or not */
	SERDE_ENUM,   /* unit variants only: variants[n] */
	SERDE_SEQ,    /* Vec<inner> */
	SERDE_MAP,    /* a map of strings to inner (BTreeMap<String, _>) */
	SERDE_CUSTOM, /* a string a Deserialize impl then reads: accept() or custom */
};

struct serde_type;

struct serde_field {
	const char *name;
	const struct serde_type *type;
	bool dflt; /* #[serde(default)]: absent is the default (an Option is None anyway) */
};

struct serde_type {
	enum serde_kind kind;
	const char *name; /* STRUCT: the Rust name, for "expected struct Name" */
	const struct serde_field *fields;
	size_t n; /* fields or variants */
	bool deny_unknown;
	const char *const *variants;
	const struct serde_type *inner;
	bool (*accept)(const char *s, size_t len); /* CUSTOM */
	const char *custom;			   /* CUSTOM: the impl's error */
	const char *expect;			   /* CUSTOM: what it expects (NULL: "a string") */
	/* CUSTOM: the error is raised inside serde_json's deserialize_str (a
	 * FromStr visitor's: after the string), not after it (where the
	 * container's end left serde_json) */
	bool custom_in_str;
};

/* Where a value of the body is: member key of parent, element index of
 * parent, or (parent NULL) the body itself, value. */
struct serde_loc {
	const json_t *parent;
	const char *key; /* NULL: an element (or the body) */
	size_t index;
	const json_t *value;
};

/* Checks *v against t, as serde would deserialize it; may replace *v (a
 * reference passed in is dropped, the new one is the caller's) when it is
 * in another accepted shape (above). 0, -ENOMEM, or -EINVAL with serde's
 * message (SERDE_PREFIX ... ".") in why. The body itself: loc NULL. */
int serde_check(const struct serde_type *t, json_t **v, const struct serde_loc *loc, char *why,
		size_t why_size);

/* serde_json's " at line L column C" for the value at loc, or "". */
const char *serde_at(const struct serde_loc *loc, enum json_pos_at at, char *buf, size_t size);
/* What serde calls a JSON value in "invalid type: ..." ("integer `1`",
 * "floating point `1.5`", "string \"a\"", "map", "null"...). */
void serde_unexpected(const json_t *v, char *buf, size_t size);
/* serde's list of what it expected: "`a`", "`a` or `b`", "one of `a`, `b`, `c`". */
void serde_one_of(const char *const *names, size_t n, char *buf, size_t size);

#endif
