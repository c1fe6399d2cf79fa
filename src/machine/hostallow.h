/*
 * What a migration's or replication's stream may make this host give its guest. The
 * stream's device options name host resources (disk images and sockets by path, tap
 * interfaces, ports user networking binds); the destination creates a device from them
 * only if each is one it allowed (lodge run --incoming-allow DIR, --incoming-allow-tap
 * NAME, --incoming-allow-hostfwd), so whoever can connect to its port does not choose
 * which of this host's files the guest gets. Paths are resolved (realpath: symlinks and
 * "..") before they are compared. docs/SNAPSHOT.md "Host resources a stream names".
 */
#ifndef LODGE_MACHINE_HOSTALLOW_H
#define LODGE_MACHINE_HOSTALLOW_H

#include <stdbool.h>
#include <stddef.h>

struct vm_host_allow {
	/* A DIR (anything below it) or a FILE (that one): what paths must resolve to */
	const char *const *paths;
	unsigned npaths;
	const char *const *taps; /* tap interfaces by name */
	unsigned ntaps;
	bool hostfwd; /* user networking's port forwards may bind here */
	/* how this destination pins a writable disk itself, for the hint ("--incoming-disk
	 * PATH"); NULL when every writable disk is pinned already */
	const char *pin_hint;
};

/* Checks the host resources of one device option (`option` as in struct vm_device_arg,
 * "disk", and its `args`) against `allow` (NULL: none allowed), without opening any.
 * Returns 0; -EPERM with one line in err naming the resource, the option that carried it
 * and what to give to allow it; or -EINVAL (one line) for options the device would
 * refuse. Any thread. */
int vm_host_allow_check(const struct vm_host_allow *allow, const char *option, const char *args,
			char *err, size_t errlen) __attribute__((warn_unused_result));

/* The same for a file a device's host resource leads to (a disk image's backing file,
 * named by the image): `what` says how ("backing file"). Returns 0 or -EPERM with one
 * line in err. */
int vm_host_allow_file(const struct vm_host_allow *allow, const char *option, const char *what,
		       const char *path, char *err, size_t errlen)
	__attribute__((warn_unused_result));

#endif
