/* Where serde_json stands when it reports an error about a request body.
 * Firecracker ends such an answer with "at line L column C"; volt parses with
 * jansson, which keeps no positions. json_pos_index() walks the body's text
 * beside the tree jansson made of it (same members, same order) and keeps,
 * for each member, where its key and its value lie. The lookups answer
 * serde's position for an error it raises at that member: the unknown field
 * (after the key), the value of a wrong type (after a scalar, before a map or
 * a sequence), the missing field (after the object's closing brace).
 *
 * One body at a time (the last one indexed, held referenced so that no other
 * tree can reuse its addresses, until the next index; json_pos_index(NULL,
 * NULL, 0) lets it go); a lookup for anything else finds nothing, and the
 * caller leaves the position out. */
#ifndef VOLT_API_JSON_POS_H
#define VOLT_API_JSON_POS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

struct json_pos {
	int line, column; /* serde_json's: line from 1, column = bytes before it */
};

enum json_pos_at {
	JSON_POS_KEY,	 /* after the member's key and the blanks after it: an unknown field */
	JSON_POS_VALUE,	 /* an invalid type or value: after a scalar, at a map or a sequence */
	JSON_POS_PEEK,	 /* the value's first byte, counted from 1: serde's "expected value" */
	JSON_POS_END,	 /* after the value: for an object, its missing fields */
	JSON_POS_CUSTOM, /* a custom error about the value (a Deserialize impl's): where
			  * its container's end left serde (json_pos.c: custom_end) */
};

/* Indexes root, parsed by jansson from buf[0..len). Never fails for the
 * caller: a text it cannot follow (or no memory) leaves nothing indexed. */
void json_pos_index(json_t *root, const char *buf, size_t len);

/* j is the root of the body indexed now. */
bool json_pos_is_root(const json_t *j);

/* Where member key of object obj, element i of array arr, or container c
 * (the root, whatever its type, or any object or array in it) is: false when
 * not indexed. */
bool json_pos_member(const json_t *obj, const char *key, enum json_pos_at at, struct json_pos *p);
bool json_pos_element(const json_t *arr, size_t i, enum json_pos_at at, struct json_pos *p);
bool json_pos_container(const json_t *c, enum json_pos_at at, struct json_pos *p);

/* The same as serde's tail " at line L column C" into buf ("" where not
 * indexed), for a message. */
const char *json_pos_member_text(const json_t *obj, const char *key, enum json_pos_at at, char *buf,
				 size_t size);
const char *json_pos_element_text(const json_t *arr, size_t i, enum json_pos_at at, char *buf,
				  size_t size);
const char *json_pos_container_text(const json_t *c, enum json_pos_at at, char *buf, size_t size);

#endif
