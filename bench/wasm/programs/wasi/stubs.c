/*
 * What wasi-libc lacks for Lua's os and io libraries (bench/wasm builds Lua for
 * wasm32-wasi): no shell and no anonymous temporary files in WASI. The benchmark script
 * uses neither.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

int system(const char *command)
{
	if (!command)
		return 0; /* no command processor */
	errno = ENOSYS;
	return -1;
}

FILE *tmpfile(void)
{
	errno = ENOSYS;
	return NULL;
}
