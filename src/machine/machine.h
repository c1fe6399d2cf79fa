/*
 * A RISC-V machine laid out like QEMU's `virt` board: RAM, harts, and the MMIO bus with
 * its devices. Owns guest RAM (one anonymous mapping), the per-page code flags the harts'
 * decoded-block caches rely on, and the stop/exit state. Created and configured on the main
 * thread; harts then run on their own threads (one per hart) until vm_request_stop().
 */
#ifndef LODGE_MACHINE_MACHINE_H
#define LODGE_MACHINE_MACHINE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/bus.h"
#include "core/gmem.h"
#include "cpu/env.h"
#include "devices/device.h"
#include "devices/virt.h"

struct chardev;
struct evloop;
struct hart;

#define VM_RAM_BASE	   VIRT_RAM_BASE
#define VM_VIRTIO_SLOTS	   16 /* slots 0-7 as on QEMU virt, 8-15 after them */
#define VM_VIRTIO_IRQ	   1  /* PLIC source of slot i < 8: 1 + i; slot i >= 8: 12 + i - 8 */
#define VM_MAX_HARTS	   32
#define VM_MAX_DEVICE_ARGS 32	/* device options per machine */
#define VM_MAX_CMDLINE	   4096 /* bytes of --append: more than any Linux keeps (RISC-V: 1024) */

/* Device-tree phandles of the interrupt controllers (hart h's: VM_FDT_PH_CPU_INTC + h). */
#define VM_FDT_PH_PLIC	   1
#define VM_FDT_PH_CPU_INTC 16

/* Why the machine stopped. */
enum vm_stop_reason {
	VM_RUNNING = 0,
	VM_STOP_EXIT,	  /* the guest finished (finisher, HTIF, poweroff) with exit_code */
	VM_STOP_TIMEOUT,  /* --timeout expired */
	VM_STOP_ERROR,	  /* lodge stopped the guest because of a host-side error */
	VM_STOP_REBOOT,	  /* the guest asked for a reboot */
	VM_STOP_PANIC,	  /* the guest kernel panicked (seen on the console) */
	VM_STOP_USER,	  /* the user quit from the console (Ctrl-A X) */
	VM_STOP_MIGRATED, /* the machine runs on in another process (machine/migrate.h) */
};

/* A device the user asked for: the registered type's option and its arguments. */
struct vm_device_arg {
	const char *option; /* "disk", "net", ... (struct device_type.option) */
	const char *args;   /* may be NULL for types with arg_optional */
};

/* --jit-cache (struct vm_config's jit_cache): its range and default (ARENA_BUDGET and
 * JIT_BUDGET in cpu/block.h, which a jit_cache of 0 means). */
#define VM_JIT_CACHE_MIN     (1ull << 20)
#define VM_JIT_CACHE_MAX     (1ull << 30)
#define VM_JIT_CACHE_DEFAULT (2ull << 20)

struct vm_config {
	uint64_t ram_size;
	unsigned nharts;
	double timeout_sec; /* 0 = none */
	unsigned jit_hot;   /* translate a block after this many entries; 0 = no JIT */
	uint64_t jit_cache; /* the code caches' budget (struct hart_env); 0 = the default */
	bool bare;	    /* a bare-metal program: always-present devices only if `bare` */
	bool hugepages;	    /* ask for transparent huge pages on guest RAM (gmem_init) */
	const struct vm_device_arg *devices;
	unsigned ndevices;
	char *err; /* receives one line when a device cannot be created (may be NULL) */
	size_t errlen;
	struct chardev *console; /* the console of the UART, HTIF and a device that takes
				  * it (virtio-console); NULL = none. Not owned: it
				  * outlives the machine (a reboot keeps the input) */
	bool defer_disks; /* writable disks open only at vblk_attach (devices/virtio/blk.h) */
	/* asked before a disk's backing file opens (board.disk_check); NULL: none */
	const struct disk_backing_check *disk_check;
	/* vm_incoming_fd (machine/migrate.h): this host's images for the source's writable
	 * disks, in order; none: the same files (shared storage). */
	const char *const *disk_paths;
	unsigned ndisk_paths;
	/* vm_incoming_fd, vm_standby_run: the host resources the stream's device options may
	 * name (machine/hostallow.h); NULL: none */
	const struct vm_host_allow *allow;
};

struct vm {
	struct gmem mem;     /* guest RAM, code-page tracking, dirty log */
	struct bus bus;	     /* MMIO regions */
	struct hart_env env; /* what the harts see of the machine */
	struct hart *harts[VM_MAX_HARTS];
	unsigned nharts;
	struct chardev *console;	  /* cfg->console */
	struct evloop *loop;		  /* the I/O thread: host side of devices */
	struct board board;		  /* what devices see of this machine */
	struct device *devices;		  /* every device, in creation order */
	unsigned virtio_used;		  /* virtio-mmio slots taken */
	unsigned panic_match;		  /* console bytes of the panic banner matched so far */
	pthread_mutex_t dev_console_lock; /* guards panic_match */
	uint64_t panic_ns;		  /* when the panic banner was seen (0 = not seen) */
	uint64_t tohost_pa, fromhost_pa;  /* HTIF words, 0 when the program has none */
	int stopping;			  /* atomic: set once by the first stop request */
	int stop_reason;		  /* atomic enum vm_stop_reason */
	int exit_code;

	/* Pause (vm_pause): harts park at their next poll while pause_req is set; the clock
	 * (env.clock) stands still meanwhile. Clock changes happen under pause_lock. */
	pthread_mutex_t pause_lock;
	pthread_cond_t pause_cond;
	int pause_req;	      /* atomic */
	unsigned parked;      /* harts parked (pause_lock) */
	unsigned running;     /* harts inside hart_run (pause_lock) */
	unsigned pause_holds; /* vm_pause_hold: vm_resume waits for the last release */
	bool resume_held;     /* a vm_resume came meanwhile (pause_lock) */

	/* The configuration a snapshot records (machine/snapshot.h): a copy of the device
	 * options the machine was made from (strings owned; a disk's path changes when a
	 * snapshot moves the running machine onto an overlay). */
	struct vm_device_arg *dev_args;
	unsigned ndev_args;
	bool bare;

	/* The last snapshot taken or restored, the parent of the next Diff snapshot: its
	 * identity (its ID section) and absolute path (owned; NULL: none yet). The RAM
	 * written since is in mem's dirty log. Changed only with the machine paused. */
	uint8_t snap_parent_id[16];
	char *snap_parent_path;
	struct vm_postcopy *postcopy; /* pages still arriving (machine/migrate.c) */
};

/* Creates a machine with RAM, harts (not yet running), the base devices (UART, CLINT,
 * PLIC, RTC, finisher) and every registered device type the configuration asks for.
 * Returns 0, -EINVAL (bad size or hart count; or a device's arguments, explained in
 * cfg->err), -ENOMEM, or a device's -errno (also explained in cfg->err). */
int vm_create(const struct vm_config *cfg, struct vm **out) __attribute__((warn_unused_result));
void vm_destroy(struct vm *vm);

/* Runs the I/O thread and all harts (one thread each, hart 0 on the calling thread)
 * until the machine stops; returns the stop reason. */
enum vm_stop_reason vm_run(struct vm *vm);

/* Any thread: stops the machine with `reason` and exit code (first caller wins). */
void vm_request_stop(struct vm *vm, enum vm_stop_reason reason, int code);

static inline bool vm_should_stop(const struct vm *vm)
{
	return __atomic_load_n(&vm->stop_reason, __ATOMIC_ACQUIRE) != VM_RUNNING;
}

/* Host pointer for guest physical [pa, pa+len) if it lies wholly in RAM, else NULL. */
static inline void *vm_ram_ptr(const struct vm *vm, uint64_t pa, uint64_t len)
{
	return gmem_ptr(&vm->mem, pa, len);
}

/* The PLIC source of virtio-mmio slot `slot`. */
unsigned vm_virtio_slot_irq(unsigned slot);

/* Host monotonic clock in ns. */
uint64_t vm_now_ns(void);

/* The machine's time base (CLINT mtime, 10 MHz ticks since creation, not counting time
 * spent paused). Any thread. */
uint64_t vm_time(const struct vm *vm);

/* The host monotonic time (ns) at which the machine's time reaches `ticks`, for sleeping
 * until a timer deadline (UINT64_MAX when out of range). Any thread. */
uint64_t vm_time_to_host(const struct vm *vm, uint64_t ticks);

/* Any thread but a hart's: stops every hart at its next poll (a block boundary) and
 * returns once all running harts are parked (they wait on a condition variable and use
 * no CPU; the I/O thread keeps serving devices). The machine's clock stands still while
 * paused, so guest time does not jump on resume. Pausing a paused machine does nothing.
 * Returns 0, or -ESHUTDOWN when the machine is stopping. */
int vm_pause(struct vm *vm);

/* Any thread: lets parked harts continue (while a vm_pause_hold holds the machine: at its
 * release). Returns 0, or -EALREADY when not paused. */
int vm_resume(struct vm *vm);

/* True while paused. Any thread. */
bool vm_paused(const struct vm *vm);

/* Any thread but a hart's: pauses the machine as vm_pause does and holds it paused: a
 * vm_resume from another thread meanwhile (replication's checkpoint, a snapshot's
 * background copy: they pause and resume on their own schedule) takes effect only at
 * vm_pause_release, which resumes the machine too when it was running at the hold. For
 * work that must not see the guest run (RAM moved off a snapshot file). 0 or -ESHUTDOWN
 * (nothing held). */
int vm_pause_hold(struct vm *vm, bool *was_paused);
void vm_pause_release(struct vm *vm, bool was_paused);

/* Any thread: presses the machine's power button (lodge run --power-button), asking the
 * guest to power off. Returns 0, -ENODEV (no power button), or the device's error. */
int vm_press_power_button(struct vm *vm);

/* Retired instructions of all harts as of their last poll. Any thread. */
uint64_t vm_instret(const struct vm *vm);

/* Marks RAM [pa, pa+len) as written by something other than a hart store (loader, DMA):
 * invalidates decoded code there. */
void vm_ram_written(struct vm *vm, uint64_t pa, uint64_t len);

#endif
