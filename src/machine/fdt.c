/*
 * Device tree generation (devicetree bindings: riscv/cpus.yaml, sifive,plic-1.0.0,
 * sifive,clint0, ns16550a, google,goldfish-rtc, syscon-poweroff/-reboot, virtio,mmio).
 * Written with libfdt's sequential-write API, then expanded with free space.
 */
#include "machine/fdt.h"

#include <errno.h>
#include <libfdt.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "core/alloc.h"
#include "machine/machine.h"

#define FDT_BUILD_SIZE FDT_MAX_SIZE
#define FDT_SLACK      (64u * 1024) /* room for OpenSBI's reserved-memory nodes */

enum { PH_PLIC = VM_FDT_PH_PLIC, PH_CPU_INTC = VM_FDT_PH_CPU_INTC };

static const char isa_string[] = "rv64imafdc_zicntr_zicsr_zifencei_sstc";
static const char *const isa_exts[] = {"i", "m",      "a",     "f",	   "d",
				       "c", "zicntr", "zicsr", "zifencei", "sstc"};

/* A property holding a list of strings (each NUL-terminated). */
static int prop_strings(void *fdt, const char *name, const char *const *s, unsigned n)
{
	char buf[256];
	size_t len = 0;

	for (unsigned i = 0; i < n; i++) {
		size_t l = strlen(s[i]) + 1;
		if (len + l > sizeof(buf))
			return -FDT_ERR_NOSPACE;
		memcpy(buf + len, s[i], l);
		len += l;
	}
	return fdt_property(fdt, name, buf, (int)len);
}

static int prop_reg(void *fdt, uint64_t base, uint64_t size)
{
	fdt64_t v[2] = {cpu_to_fdt64(base), cpu_to_fdt64(size)};

	return fdt_property(fdt, "reg", v, sizeof(v));
}

static int add_cpus(void *fdt, const struct vm *vm)
{
	int r = fdt_begin_node(fdt, "cpus");

	r = r ?: fdt_property_u32(fdt, "#address-cells", 1);
	r = r ?: fdt_property_u32(fdt, "#size-cells", 0);
	r = r ?: fdt_property_u32(fdt, "timebase-frequency", VIRT_TIMEBASE_HZ);
	for (unsigned h = 0; h < vm->nharts && !r; h++) {
		char name[32];
		snprintf(name, sizeof(name), "cpu@%u", h);
		r = fdt_begin_node(fdt, name);
		r = r ?: fdt_property_string(fdt, "device_type", "cpu");
		r = r ?: fdt_property_u32(fdt, "reg", h);
		r = r ?: fdt_property_string(fdt, "status", "okay");
		r = r ?: fdt_property_string(fdt, "compatible", "riscv");
		r = r ?: fdt_property_string(fdt, "riscv,isa", isa_string);
		r = r ?: fdt_property_string(fdt, "riscv,isa-base", "rv64i");
		r = r
			    ?: prop_strings(fdt, "riscv,isa-extensions", isa_exts,
					    sizeof(isa_exts) / sizeof(isa_exts[0]));
		r = r ?: fdt_property_string(fdt, "mmu-type", "riscv,sv48");
		r = r ?: fdt_begin_node(fdt, "interrupt-controller");
		r = r ?: fdt_property_u32(fdt, "#interrupt-cells", 1);
		r = r ?: fdt_property(fdt, "interrupt-controller", NULL, 0);
		r = r ?: fdt_property_string(fdt, "compatible", "riscv,cpu-intc");
		r = r ?: fdt_property_u32(fdt, "phandle", PH_CPU_INTC + h);
		r = r ?: fdt_end_node(fdt);
		r = r ?: fdt_end_node(fdt);
	}
	return r ?: fdt_end_node(fdt);
}

static int add_simple_dev(void *fdt, const char *name, const char *compat, uint64_t base,
			  uint64_t size, uint32_t irq)
{
	int r = fdt_begin_node(fdt, name);

	r = r ?: fdt_property_string(fdt, "compatible", compat);
	r = r ?: prop_reg(fdt, base, size);
	if (irq) {
		r = r ?: fdt_property_u32(fdt, "interrupts", irq);
		r = r ?: fdt_property_u32(fdt, "interrupt-parent", PH_PLIC);
	}
	return r;
}

/* /soc holds every device's node (each device writes its own), then the empty virtio
 * slots, as QEMU lists them: drivers probe them and find no device. */
static int add_soc(void *fdt, const struct vm *vm)
{
	int r = fdt_begin_node(fdt, "soc");

	r = r ?: fdt_property_u32(fdt, "#address-cells", 2);
	r = r ?: fdt_property_u32(fdt, "#size-cells", 2);
	r = r ?: fdt_property_string(fdt, "compatible", "simple-bus");
	r = r ?: fdt_property(fdt, "ranges", NULL, 0);
	for (struct device *d = vm->devices; d && !r; d = d->next)
		if (d->ops->fdt)
			r = d->ops->fdt(d, fdt, &vm->board);
	for (unsigned i = vm->virtio_used; i < VM_VIRTIO_SLOTS && !r; i++) {
		char name[40];
		uint64_t base = VIRT_VIRTIO_BASE + 0x1000ull * i;
		snprintf(name, sizeof(name), "virtio_mmio@%llx", (unsigned long long)base);
		r = add_simple_dev(fdt, name, "virtio,mmio", base, 0x1000, vm_virtio_slot_irq(i));
		r = r ?: fdt_end_node(fdt);
	}
	return r ?: fdt_end_node(fdt);
}

static int add_chosen(void *fdt, const struct fdt_params *p)
{
	uint8_t seed[32];
	int r = fdt_begin_node(fdt, "chosen");

	r = r
		    ?: fdt_property_string(fdt, "stdout-path",
					   "/soc/serial@10000000" /* VIRT_UART_BASE */);
	if (p->bootargs)
		r = r ?: fdt_property_string(fdt, "bootargs", p->bootargs);
	if (p->initrd_end > p->initrd_start) {
		r = r ?: fdt_property_u64(fdt, "linux,initrd-start", p->initrd_start);
		r = r ?: fdt_property_u64(fdt, "linux,initrd-end", p->initrd_end);
	}
	if (getrandom(seed, sizeof(seed), 0) == (ssize_t)sizeof(seed))
		r = r ?: fdt_property(fdt, "rng-seed", seed, sizeof(seed));
	return r ?: fdt_end_node(fdt);
}

static int build(void *fdt, const struct vm *vm, const struct fdt_params *p)
{
	char mem[40];
	int r = fdt_create(fdt, FDT_BUILD_SIZE);

	r = r ?: fdt_finish_reservemap(fdt);
	r = r ?: fdt_begin_node(fdt, "");
	r = r ?: fdt_property_u32(fdt, "#address-cells", 2);
	r = r ?: fdt_property_u32(fdt, "#size-cells", 2);
	r = r ?: fdt_property_string(fdt, "compatible", "riscv-virtio");
	r = r ?: fdt_property_string(fdt, "model", "lodge,virt");
	r = r ?: add_chosen(fdt, p);
	snprintf(mem, sizeof(mem), "memory@%llx", (unsigned long long)vm->mem.base);
	r = r ?: fdt_begin_node(fdt, mem);
	r = r ?: fdt_property_string(fdt, "device_type", "memory");
	r = r ?: prop_reg(fdt, vm->mem.base, vm->mem.size);
	r = r ?: fdt_end_node(fdt);
	r = r ?: add_cpus(fdt, vm);
	r = r ?: add_soc(fdt, vm);
	r = r ?: fdt_end_node(fdt);
	return r ?: fdt_finish(fdt);
}

int vm_fdt_build(const struct vm *vm, const struct fdt_params *p, void **blob, size_t *size)
{
	void *tmp = core_alloc(FDT_BUILD_SIZE), *out;
	int r;

	if (!tmp)
		return -ENOMEM;
	r = build(tmp, vm, p);
	if (r) {
		core_free(tmp);
		return r == -FDT_ERR_NOSPACE ? -E2BIG : -EINVAL;
	}
	*size = fdt_totalsize(tmp) + FDT_SLACK;
	out = core_alloc(*size);
	if (!out) {
		core_free(tmp);
		return -ENOMEM;
	}
	r = fdt_open_into(tmp, out, (int)*size);
	core_free(tmp);
	if (r) {
		core_free(out);
		return -EINVAL;
	}
	*blob = out;
	return 0;
}
