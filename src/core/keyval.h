/*
 * key=value option lists, as --disk, --net and the other device options take them:
 * "path,format=qcow2,readonly=on". Shared by the devices, the machine's snapshot and
 * migration code (which rewrite disk options) and the daemon (which writes them).
 */
#ifndef LODGE_CORE_KEYVAL_H
#define LODGE_CORE_KEYVAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* key=value lists as devices (and disk options) take them: "path,format=qcow2,readonly=on". The
 * first item may be a bare value (returned for key ""). A value's ',' is written ",," (as in QEMU's
 * options); a key ends at the item's first '=', so later ones belong to the value. */
struct keyval {
	char *buf;
	unsigned n;
	struct {
		const char *key, *val;
		bool used;
	} kv[16];
};

/* Parses `args` (NULL = empty). -EINVAL with `err` filled for more than 16 items. */
int keyval_parse(struct keyval *a, const char *args, char *err, size_t errlen);
void keyval_fini(struct keyval *a);
/* `val` as a value in such a list: each ',' doubled. Writes at most len bytes with the
 * NUL, as snprintf, and returns the length the whole would take. */
size_t keyval_escape(char *out, size_t len, const char *val);
/* The value of `key` (marks it used), or NULL. Keys may repeat: `nth` counts them. */
const char *keyval_get(struct keyval *a, const char *key, unsigned nth);
/* The value of `key` as a count with an optional K, M or G suffix (powers of 1024) into
 * *out, which stays as it was when the key is absent. A key given twice, an empty or
 * negative value, or one that is not a number: -EINVAL with `err` naming `who`. */
int keyval_get_count(struct keyval *a, const char *key, const char *who, uint64_t *out, char *err,
		     size_t errlen);
/* After a device took its keys: -EINVAL and `err` naming the first key nobody used (or
 * saying it was given twice, when the device took the key once). */
int keyval_check_unused(const struct keyval *a, const char *devname, char *err, size_t errlen);

#endif
