/*
 * JSON for the APIs, over cJSON: request bodies are parsed and checked against a small
 * schema (the fields an endpoint accepts, their types, which are required), so that every
 * handler sees only well-typed input. An unknown field, a field given twice, a wrong type,
 * a NUL inside a string, or a non-finite number is refused with a message that names the
 * field: the API's rule is that nothing a client sends is silently ignored.
 */
#ifndef LODGE_API_JSON_H
#define LODGE_API_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

enum json_type {
	JSON_STRING,
	JSON_NUMBER, /* any finite number */
	JSON_UINT,   /* an integer from 0 to 2^53 */
	JSON_BOOL,
	JSON_STRING_ARRAY, /* an array of strings */
	JSON_OBJECT,	   /* checked against `sub` */
	JSON_OBJECT_ARRAY, /* an array of objects, each checked against `sub` */
};

struct json_schema;

struct json_field {
	const char *name;
	enum json_type type;
	bool required;
	const struct json_schema *sub; /* JSON_OBJECT, JSON_OBJECT_ARRAY */
};

struct json_schema {
	const struct json_field *fields;
	unsigned nfields;
};

/* Parses body[0..len) (need not be NUL-terminated) as one JSON object that follows
 * `schema`. Returns 0 with the tree in *out (the caller frees it with cJSON_Delete), or
 * -EINVAL (malformed or not following the schema) / -ENOMEM, with a one-line reason in
 * err. Any thread. */
int json_parse_object(const uint8_t *body, size_t len, const struct json_schema *schema,
		      cJSON **out, char *err, size_t errlen) __attribute__((warn_unused_result));

/* Checks an already parsed object against a schema (json_parse_object does this). */
int json_check(const cJSON *obj, const struct json_schema *schema, const char *where, char *err,
	       size_t errlen) __attribute__((warn_unused_result));

/* Accessors for checked trees: the value, or `def` when the field is absent. */
const char *json_str(const cJSON *obj, const char *name, const char *def);
uint64_t json_uint(const cJSON *obj, const char *name, uint64_t def);
double json_num(const cJSON *obj, const char *name, double def);
bool json_bool(const cJSON *obj, const char *name, bool def);

/* Compact text of `obj` (malloc'd, the caller frees it with free()), or NULL when out of
 * memory. */
char *json_print(const cJSON *obj);

/* Adds a number that is an exact unsigned integer (values above 2^53 lose precision). */
cJSON *json_add_uint(cJSON *obj, const char *name, uint64_t v);

#endif
