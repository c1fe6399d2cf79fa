/*
 * The device model: every device of a machine (interrupt controllers, UART, RTC, the
 * finisher, virtio devices) is a struct device with one operations table (reset, save and
 * load of its whole state, destroy, its device-tree node), and every device type
 * registers itself in a table the board reads (kvmtool's init levels): the board asks each
 * type to create its instances from the machine's configuration, so no central list names
 * them.
 *
 * Devices see the machine only through struct board (below): the MMIO bus, guest RAM,
 * the I/O event loop, interrupt lines, the console backend, and a way to stop the machine. They
 * never include machine/ or cpu/.
 *
 * Saved state is a host-independent byte string (core/sbuf.h): fixed-width little-endian
 * fields, no host pointers, a version number first so that old snapshots are recognised.
 */
#ifndef LODGE_DEVICES_DEVICE_H
#define LODGE_DEVICES_DEVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/irq.h"

struct disk_backing_check;

struct board;
struct bus;
struct chardev;
struct device;
struct evloop;
struct gmem;
struct sbuf;
struct sreader;

struct device_ops {
	/* Machine reset (a reboot): back to the power-on state. Harts are stopped. */
	void (*reset)(struct device *dev);
	/* Appends the device's whole state / restores it (the machine is paused; for
	 * virtio devices, no request is in flight: see quiesce). Return 0 or -errno;
	 * load returns -EINVAL for a record it does not understand, and a disk's
	 * -EMEDIUMTYPE for a record of a disk of another size than its image. */
	int (*save)(struct device *dev, struct sbuf *out);
	int (*load)(struct device *dev, struct sreader *in);
	/* Optional: stop starting host I/O and wait for what is in flight to complete
	 * (before a snapshot); resume undoes it. Called on the main thread. */
	void (*quiesce)(struct device *dev);
	void (*resume)(struct device *dev);
	/* Optional: adds the device's node(s) under /soc with libfdt's sequential-write
	 * API. Returns 0 or a negative libfdt error. */
	int (*fdt)(struct device *dev, void *fdt, const struct board *b);
	/* Frees everything create() made. */
	void (*destroy)(struct device *dev);
};

/* Embedded in each device's own struct (container_of gets back to it). */
struct device {
	const struct device_ops *ops;
	char name[32];	     /* instance name for logs and snapshots: "uart0", "virtio-blk1" */
	struct device *next; /* the board's list, in creation order */
};

/* What a device may ask of the machine it is added to. Filled by the board. */
struct board {
	struct bus *bus;
	struct gmem *mem;
	struct evloop *loop;	  /* the machine's I/O thread */
	struct chardev *console;  /* the machine's console backend, or NULL */
	bool console_input_taken; /* a device with `console` set reads it, not the UART */
	bool defer_disks;	  /* writable virtio-blk images open only at vblk_attach (the
				   * destination of a migration on shared storage) */
	/* Asked before a disk's backing file opens (a migration's destination: what its
	 * stream may name); NULL: none */
	const struct disk_backing_check *disk_check;
	unsigned nharts;
	uint32_t plic_phandle;	    /* for interrupt-parent in device-tree nodes */
	uint32_t cpu_intc_phandle0; /* hart h's interrupt controller: + h */
	/* Reserves a 0x1000-byte virtio-mmio slot and its interrupt: the slot's base and a
	 * line to its PLIC source (number in *irq_out). -ENOSPC when none is left. */
	int (*virtio_slot)(struct board *b, uint64_t *base_out, struct irq_line *line_out,
			   unsigned *irq_out);
	/* A line to PLIC source `n` (fixed devices such as the UART). */
	struct irq_line (*plic_line)(struct board *b, unsigned n);
	/* Set by the interrupt controller's create() (it comes first, see `order`): the
	 * input plic_line() connects to. */
	irq_fn irqchip_set;
	void *irqchip;
	/* A line to hart h's local interrupt `irq` (IRQ_MSI, IRQ_MTI, IRQ_MEI, IRQ_SEI). */
	struct irq_line (*hart_line)(struct board *b, unsigned hart, unsigned irq);
	/* Sets hart h's machine timer comparator (CLINT mtimecmp): the hart raises MTIP itself
	 * when its time reaches it, so no host timer is needed. Any thread. */
	void (*hart_set_timecmp)(struct board *b, unsigned hart, uint64_t cmp);
	/* The machine's time base (CLINT mtime, 10 MHz). Any thread. */
	uint64_t (*time)(struct board *b);
	/* Guest console output a device passed to `console`: the board watches it (a kernel
	 * panic banner stops the machine). Any thread. */
	void (*console_output)(struct board *b, const uint8_t *buf, size_t len);
	/* Stops the machine: poweroff with status `code`, or reboot (finisher, SRST). */
	void (*power)(struct board *b, bool reboot, int code);
	/* The devices made so far, a list through `next`: what a device may check its
	 * arguments against (virtio-blk: one image given to two --disk options). */
	struct device *const *devices;
	void *opaque; /* the board's own */
};

/* A host resource a device's options name (device_type.host_names). */
enum device_host_kind {
	DEVICE_HOST_FILE,   /* a file opened by path (a disk image) */
	DEVICE_HOST_SOCKET, /* a unix socket made or reached there (it may not exist yet) */
	DEVICE_HOST_TAP,    /* a host network interface by name */
	DEVICE_HOST_PORT,   /* a host port bound for the guest (a port forward) */
};
/* Gets one resource: `key` is the option's key for messages ("path", "ifname"), `name`
 * the resource. Returns 0 to go on, or a negative errno that ends the walk. */
typedef int (*device_host_fn)(void *ctx, enum device_host_kind kind, const char *key,
			      const char *name);

/* How a device type is configured: from an option (`--disk ARGS`, once per use) or always
 * present. `create` parses `args` (NULL for always-present devices), adds the device's
 * bus regions, and returns it; on a configuration error it fills `err` with one line that
 * says what is wrong with which argument and returns -EINVAL (or -errno of a failed host
 * call such as opening a file). */
struct device_type {
	const char *name;   /* "virtio-blk" */
	const char *option; /* command-line option without dashes ("disk"), NULL if none */
	const char *usage;  /* "PATH[,format=raw|qcow2][,readonly=on]" for --help */
	const char *help;   /* one line for --help */
	int order;	    /* creation order: lower first (interrupt controllers before users) */
	bool always;	    /* created once with args = NULL on every Linux machine */
	bool bare;	    /* always-present on --bare machines too */
	bool arg_optional;  /* the option may be given without a value (`--balloon`) */
	/* The guest's console device when this device reads the machine's console backend
	 * ("hvc0"): at most one such device per machine, and the UART then only writes
	 * (chardev_set_input_handler has one owner). NULL for every other device. */
	const char *console;
	int (*create)(struct board *b, const char *args, struct device **out, char *err,
		      size_t errlen);
	/* Every host resource `args` names, through `fn`, without opening anything: what
	 * the destination of a migration checks before it creates devices from options a
	 * stream brought (machine/hostallow.h). Returns 0, fn's error, or -EINVAL with one
	 * line in err for options create would refuse. NULL: the type names none. A type
	 * whose options name a path or another host resource must have it. */
	int (*host_names)(const char *args, device_host_fn fn, void *ctx, char *err, size_t errlen);
};

/* Registers a device type (from a constructor, before main). */
void device_type_register(const struct device_type *t);

/* The registered types, in `order`, then name order. */
const struct device_type *const *device_types(unsigned *n);
const struct device_type *device_type_find_option(const char *option);

#define DEVICE_TYPE(var)                                                                           \
	static void __attribute__((constructor)) device_type_register_##var(void)                  \
	{                                                                                          \
		device_type_register(&var);                                                        \
	}

#endif
