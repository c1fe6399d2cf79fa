/*
 * The test finisher / syscon at VIRT_FINISHER_BASE (QEMU virt's sifive_test): a 32-bit
 * write of 0x5555 powers the machine off with status 0, 0x3333 | code << 16 with `code`
 * (a failing test), 0x7777 asks for a reboot. Linux reaches it through the syscon-poweroff
 * and syscon-reboot nodes. Device type "finisher", on every machine.
 */
#include <errno.h>
#include <libfdt.h>
#include <stdio.h>

#include "core/alloc.h"
#include "core/bus.h"
#include "core/sbuf.h"
#include "core/util.h"
#include "devices/device.h"
#include "devices/virt.h"

#define FINISHER_FAIL  0x3333u
#define FINISHER_PASS  0x5555u
#define FINISHER_RESET 0x7777u
#define PH_SYSCON      2 /* device-tree phandle of the syscon node */

struct finisher {
	struct device dev;
	struct board *board;
};

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
	struct finisher *f = opaque;
	unsigned status = (unsigned)val & 0xffff, code = (unsigned)(val >> 16) & 0xffff;

	(void)size;
	if (off != 0)
		return 0;
	if (status == FINISHER_PASS)
		f->board->power(f->board, false, 0);
	else if (status == FINISHER_RESET)
		f->board->power(f->board, true, 0);
	else if (status == FINISHER_FAIL)
		f->board->power(f->board, false, (int)code);
	return 0;
}

static void fin_reset(struct device *dev)
{
	(void)dev; /* no state */
}

static int fin_save(struct device *dev, struct sbuf *out)
{
	(void)dev;
	sbuf_put_u32(out, 1);
	return out->err;
}

static int fin_load(struct device *dev, struct sreader *in)
{
	(void)dev;
	return sread_u32(in) == 1 && !in->err ? 0 : -EINVAL;
}

static int syscon_action(void *fdt, const char *name, const char *compat, uint32_t value)
{
	int r = fdt_begin_node(fdt, name);

	r = r ?: fdt_property_string(fdt, "compatible", compat);
	r = r ?: fdt_property_u32(fdt, "regmap", PH_SYSCON);
	r = r ?: fdt_property_u32(fdt, "offset", 0);
	r = r ?: fdt_property_u32(fdt, "value", value);
	return r ?: fdt_end_node(fdt);
}

static int fin_fdt(struct device *dev, void *fdt, const struct board *b)
{
	static const char compat[] = "sifive,test1\0sifive,test0\0syscon";
	fdt64_t reg[2] = {cpu_to_fdt64(VIRT_FINISHER_BASE), cpu_to_fdt64(0x1000)};
	char name[40];
	int r;

	(void)dev;
	(void)b;
	snprintf(name, sizeof(name), "test@%llx", (unsigned long long)VIRT_FINISHER_BASE);
	r = fdt_begin_node(fdt, name);
	r = r ?: fdt_property(fdt, "compatible", compat, sizeof(compat));
	r = r ?: fdt_property(fdt, "reg", reg, sizeof(reg));
	r = r ?: fdt_property_u32(fdt, "phandle", PH_SYSCON);
	r = r ?: fdt_end_node(fdt);
	r = r ?: syscon_action(fdt, "poweroff", "syscon-poweroff", FINISHER_PASS);
	return r ?: syscon_action(fdt, "reboot", "syscon-reboot", FINISHER_RESET);
}

static void fin_destroy(struct device *dev)
{
	core_free(container_of(dev, struct finisher, dev));
}

static const struct device_ops fin_ops = {
	.reset = fin_reset,
	.save = fin_save,
	.load = fin_load,
	.fdt = fin_fdt,
	.destroy = fin_destroy,
};

static int fin_create(struct board *b, const char *args, struct device **out, char *err,
		      size_t errlen)
{
	struct finisher *f = core_calloc(1, sizeof(*f));
	struct bus_region r = {.base = VIRT_FINISHER_BASE,
			       .size = 0x1000,
			       .name = "finisher",
			       .read = fin_read,
			       .write = fin_write};
	int e;

	(void)args;
	(void)err;
	(void)errlen;
	if (!f)
		return -ENOMEM;
	f->board = b;
	f->dev.ops = &fin_ops;
	snprintf(f->dev.name, sizeof(f->dev.name), "finisher");
	r.opaque = f;
	e = bus_add(b->bus, &r);
	if (e < 0) {
		core_free(f);
		return e;
	}
	*out = &f->dev;
	return 0;
}

static const struct device_type fin_type = {
	.name = "finisher",
	.help = "test finisher and syscon poweroff/reboot (always present)",
	.order = 12,
	.always = true,
	.bare = true,
	.create = fin_create,
};
DEVICE_TYPE(fin_type)
