/*
 * JSON helpers (see json.h). cJSON parses; this file decides what is acceptable. cJSON
 * turns the escape \u0000 into a NUL that silently truncates the string, so the raw text is
 * scanned for it first.
 */
#include "api/json.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JSON_MAX_UINT 9007199254740992.0 /* 2^53 */

/* True if the text holds the escape \u0000 inside a string. */
static bool has_nul_escape(const char *s, size_t len)
{
	for (size_t i = 0; i + 1 < len; i++) {
		if (s[i] != '\\')
			continue;
		if (s[i + 1] == 'u' && len - i >= 6 && !memcmp(s + i + 2, "0000", 4))
			return true;
		i++; /* skip the escaped character (so "\\u0000" is not an escape) */
	}
	return false;
}

static const char *type_name(enum json_type t)
{
	switch (t) {
	case JSON_STRING:
		return "a string";
	case JSON_NUMBER:
		return "a number";
	case JSON_UINT:
		return "an integer from 0 to 2^53";
	case JSON_BOOL:
		return "true or false";
	case JSON_STRING_ARRAY:
		return "an array of strings";
	case JSON_OBJECT:
		return "an object";
	case JSON_OBJECT_ARRAY:
		return "an array of objects";
	}
	return "?";
}

static bool type_ok(const cJSON *v, enum json_type t)
{
	double d;

	switch (t) {
	case JSON_STRING:
		return cJSON_IsString(v);
	case JSON_NUMBER:
		return cJSON_IsNumber(v) && isfinite(v->valuedouble);
	case JSON_UINT:
		d = v->valuedouble;
		return cJSON_IsNumber(v) && isfinite(d) && d >= 0 && d <= JSON_MAX_UINT &&
		       floor(d) == d;
	case JSON_BOOL:
		return cJSON_IsBool(v);
	case JSON_STRING_ARRAY:
		if (!cJSON_IsArray(v))
			return false;
		for (const cJSON *e = v->child; e; e = e->next)
			if (!cJSON_IsString(e))
				return false;
		return true;
	case JSON_OBJECT:
		return cJSON_IsObject(v);
	case JSON_OBJECT_ARRAY:
		if (!cJSON_IsArray(v))
			return false;
		for (const cJSON *e = v->child; e; e = e->next)
			if (!cJSON_IsObject(e))
				return false;
		return true;
	}
	return false;
}

static const struct json_field *find_field(const struct json_schema *s, const char *name)
{
	for (unsigned i = 0; i < s->nfields; i++)
		if (!strcmp(s->fields[i].name, name))
			return &s->fields[i];
	return NULL;
}

static int check_sub(const cJSON *v, const struct json_field *f, const char *path, char *err,
		     size_t errlen)
{
	if (!f->sub)
		return 0;
	if (f->type == JSON_OBJECT)
		return json_check(v, f->sub, path, err, errlen);
	for (const cJSON *e = v->child; e; e = e->next)
		if (json_check(e, f->sub, path, err, errlen))
			return -EINVAL;
	return 0;
}

int json_check(const cJSON *obj, const struct json_schema *s, const char *where, char *err,
	       size_t errlen)
{
	char path[128];

	if (!cJSON_IsObject(obj)) {
		snprintf(err, errlen, "%s must be a JSON object", where);
		return -EINVAL;
	}
	for (const cJSON *v = obj->child; v; v = v->next) {
		const struct json_field *f = find_field(s, v->string);
		if (!f) {
			snprintf(err, errlen, "unknown field '%.64s' in %s", v->string, where);
			return -EINVAL;
		}
		for (const cJSON *w = obj->child; w != v; w = w->next)
			if (!strcmp(w->string, v->string)) {
				snprintf(err, errlen, "field '%.64s' given twice in %s", v->string,
					 where);
				return -EINVAL;
			}
		if (!type_ok(v, f->type)) {
			snprintf(err, errlen, "field '%s' in %s must be %s", f->name, where,
				 type_name(f->type));
			return -EINVAL;
		}
		snprintf(path, sizeof(path), "'%s'", f->name);
		if (check_sub(v, f, path, err, errlen))
			return -EINVAL;
	}
	for (unsigned i = 0; i < s->nfields; i++)
		if (s->fields[i].required &&
		    !cJSON_GetObjectItemCaseSensitive(obj, s->fields[i].name)) {
			snprintf(err, errlen, "field '%s' is required in %s", s->fields[i].name,
				 where);
			return -EINVAL;
		}
	return 0;
}

/* Whether text[0..n) opens more arrays and objects at once than cJSON parses (its
 * CJSON_NESTING_LIMIT): what stopped a parse there, rather than a syntax error. */
static bool too_deep(const char *text, size_t n)
{
	bool in_str = false;
	int depth = 0;

	for (size_t i = 0; i < n; i++) {
		char c = text[i];
		if (in_str) {
			if (c == '\\')
				i++;
			else if (c == '"')
				in_str = false;
		} else if (c == '"') {
			in_str = true;
		} else if (c == '[' || c == '{') {
			if (++depth > CJSON_NESTING_LIMIT)
				return true;
		} else if (c == ']' || c == '}') {
			depth--;
		}
	}
	return false;
}

int json_parse_object(const uint8_t *body, size_t len, const struct json_schema *schema,
		      cJSON **out, char *err, size_t errlen)
{
	char *text;
	const char *end = NULL;
	cJSON *root;

	if (!body || !len) {
		snprintf(err, errlen, "the request needs a JSON body");
		return -EINVAL;
	}
	if (memchr(body, 0, len) || has_nul_escape((const char *)body, len)) {
		snprintf(err, errlen, "the body holds a NUL character");
		return -EINVAL;
	}
	text = malloc(len + 1);
	if (!text) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	memcpy(text, body, len);
	text[len] = 0;
	root = cJSON_ParseWithOpts(text, &end, 1);
	if (!root) {
		size_t at = end && end >= text && end <= text + len ? (size_t)(end - text) : 0;
		if (too_deep(text, at < len ? at + 1 : len))
			snprintf(err, errlen,
				 "JSON nested too deep near byte %zu: at most %d levels of arrays "
				 "and objects",
				 at, CJSON_NESTING_LIMIT);
		else
			snprintf(err, errlen, "malformed JSON near byte %zu", at);
		free(text);
		return -EINVAL;
	}
	free(text);
	if (json_check(root, schema, "the body", err, errlen)) {
		cJSON_Delete(root);
		return -EINVAL;
	}
	*out = root;
	return 0;
}

const char *json_str(const cJSON *obj, const char *name, const char *def)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);

	return cJSON_IsString(v) ? v->valuestring : def;
}

uint64_t json_uint(const cJSON *obj, const char *name, uint64_t def)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);

	if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0) || v->valuedouble > JSON_MAX_UINT)
		return def;
	return (uint64_t)v->valuedouble;
}

double json_num(const cJSON *obj, const char *name, double def)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);

	return cJSON_IsNumber(v) ? v->valuedouble : def;
}

bool json_bool(const cJSON *obj, const char *name, bool def)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);

	return cJSON_IsBool(v) ? cJSON_IsTrue(v) : def;
}

char *json_print(const cJSON *obj)
{
	return cJSON_PrintUnformatted(obj);
}

cJSON *json_add_uint(cJSON *obj, const char *name, uint64_t v)
{
	return cJSON_AddNumberToObject(obj, name, (double)v);
}
