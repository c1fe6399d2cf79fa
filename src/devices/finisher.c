/* sifive_test finisher (see finisher.h). */
#include "devices/finisher.h"

#include "machine/machine.h"

#define FINISHER_FAIL  0x3333u
#define FINISHER_PASS  0x5555u
#define FINISHER_RESET 0x7777u

static int fin_read(void *opaque, uint64_t off, unsigned size, uint64_t *out)
{
	(void)opaque;
	(void)off;
	(void)size;
	*out = 0;
	return 0;
}

static int fin_write(void *opaque, uint64_t off, unsigned size, uint64_t val)
{
	struct vm *vm = opaque;
	unsigned status = (unsigned)val & 0xffff, code = (unsigned)(val >> 16) & 0xffff;

	(void)size;
	if (off != 0)
		return 0;
	if (status == FINISHER_PASS)
		vm_request_stop(vm, VM_STOP_EXIT, 0);
	else if (status == FINISHER_RESET)
		vm_request_stop(vm, VM_STOP_REBOOT, 0);
	else if (status == FINISHER_FAIL)
		vm_request_stop(vm, VM_STOP_EXIT, (int)code);
	return 0;
}

int finisher_init(struct vm *vm, uint64_t base)
{
	struct bus_region r = {.base = base,
			       .size = 0x1000,
			       .name = "finisher",
			       .opaque = vm,
			       .read = fin_read,
			       .write = fin_write};

	return bus_add(&vm->bus, &r);
}
