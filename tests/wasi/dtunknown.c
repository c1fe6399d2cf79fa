/*
 * dtunknown.so, LD_PRELOADed by suite.sh: readdir answers DT_UNKNOWN for every entry, as
 * file systems that do not keep types in directories do, so that fd_readdir has to find
 * the types itself.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <stddef.h>

struct dirent *readdir(DIR *d)
{
	static struct dirent *(*real)(DIR *);
	struct dirent *e;

	if (!real)
		real = (struct dirent * (*)(DIR *)) dlsym(RTLD_NEXT, "readdir");
	e = real ? real(d) : NULL;
	if (e)
		e->d_type = DT_UNKNOWN;
	return e;
}

struct dirent64 *readdir64(DIR *d)
{
	static struct dirent64 *(*real)(DIR *);
	struct dirent64 *e;

	if (!real)
		real = (struct dirent64 * (*)(DIR *)) dlsym(RTLD_NEXT, "readdir64");
	e = real ? real(d) : NULL;
	if (e)
		e->d_type = DT_UNKNOWN;
	return e;
}
