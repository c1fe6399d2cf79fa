/*
 * The board: assembles a machine from guest RAM, harts and devices, and runs it. Every
 * device comes from the device-type registry (devices/device.h), in each type's order:
 * interrupt controllers first, then fixed devices, then what the command line asked for.
 * Devices see the machine through struct board, harts through struct hart_env; both are
 * filled here and are the only ways back into the machine. Also: the I/O thread, stop
 * requests, the guest-panic watch, HTIF tohost.
 */
#include "machine/machine.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sysinfo.h>
#include <time.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/clock.h"
#include "core/evloop.h"
#include "core/log.h"
#include "core/util.h"
#include "cpu/block.h"
#include "cpu/hart.h"
#include "devices/chardev.h"
#include "devices/virtio/input.h"
#include "machine/migrate.h"
#include "snapshot/snapshot.h"

#define PANIC_BANNER   "Kernel panic - not syncing"
#define PANIC_GRACE_NS 1000000000ull /* let the panic text reach the console */

uint64_t vm_now_ns(void)
{
	return core_now_ns();
}

/* The most guest RAM this host can back: physical memory plus swap. */
static uint64_t host_mem_limit(void)
{
	struct sysinfo si;

	if (sysinfo(&si) < 0)
		return ~0ull;
	return ((uint64_t)si.totalram + si.totalswap) * si.mem_unit;
}

/* An unpopulated virtio-mmio slot, as on QEMU virt: the magic and version registers
 * answer and DeviceID reads 0, which tells the driver there is no device. */
static int empty_slot_read(void *opaque, uint64_t off, unsigned size, uint64_t *out)
{
	(void)opaque;
	(void)size;
	*out = off == 0 ? 0x74726976 : off == 4 ? 2 : off == 0xc ? 0x554d4551 : 0;
	return 0;
}

static int empty_slot_write(void *opaque, uint64_t off, unsigned size, uint64_t val)
{
	(void)opaque;
	(void)off;
	(void)size;
	(void)val;
	return 0;
}

/* Feeds one console byte to a panic-banner matcher (`match`: bytes matched so far). */
static void watch_panic(struct vm *vm, unsigned *match, uint8_t c)
{
	static const char banner[] = PANIC_BANNER;

	if (__atomic_load_n(&vm->panic_ns, __ATOMIC_RELAXED))
		return;
	if (c == (uint8_t)banner[*match])
		(*match)++;
	else
		*match = c == (uint8_t)banner[0];
	if (*match == sizeof(banner) - 1)
		__atomic_store_n(&vm->panic_ns, vm_now_ns(), __ATOMIC_RELAXED);
}

unsigned vm_virtio_slot_irq(unsigned slot)
{
	return slot < 8 ? VM_VIRTIO_IRQ + slot : 12 + (slot - 8);
}

/* ---- the board: what devices see of the machine (devices/device.h) ---- */

static int board_virtio_slot(struct board *b, uint64_t *base, struct irq_line *line, unsigned *irq)
{
	struct vm *vm = b->opaque;
	unsigned slot = vm->virtio_used;

	if (slot == VM_VIRTIO_SLOTS)
		return -ENOSPC;
	vm->virtio_used++;
	*base = VIRT_VIRTIO_BASE + 0x1000ull * slot;
	*irq = vm_virtio_slot_irq(slot);
	*line = b->plic_line(b, *irq);
	return 0;
}

/* The interrupt controller (the PLIC device) registered itself in irqchip_set/irqchip
 * when it was created, which is before any device that asks for a line. */
static struct irq_line board_plic_line(struct board *b, unsigned n)
{
	return (struct irq_line){.fn = b->irqchip_set, .opaque = b->irqchip, .n = n};
}

static void hart_line_fn(void *opaque, unsigned n, bool level)
{
	hart_set_irq(opaque, 1ull << n, level);
}

static struct irq_line board_hart_line(struct board *b, unsigned hart, unsigned irq)
{
	struct vm *vm = b->opaque;

	return (struct irq_line){.fn = hart_line_fn, .opaque = vm->harts[hart], .n = irq};
}

static void board_set_timecmp(struct board *b, unsigned hart, uint64_t cmp)
{
	struct vm *vm = b->opaque;

	hart_set_timecmp(vm->harts[hart], cmp);
}

static uint64_t board_time(struct board *b)
{
	return vm_time(b->opaque);
}

/* Console output from devices (the UART on hart threads, virtio-console on the I/O
 * thread) goes through one panic matcher under a lock. */
static void board_console_output(struct board *b, const uint8_t *buf, size_t len)
{
	struct vm *vm = b->opaque;

	pthread_mutex_lock(&vm->dev_console_lock);
	for (size_t i = 0; i < len; i++)
		watch_panic(vm, &vm->panic_match, buf[i]);
	pthread_mutex_unlock(&vm->dev_console_lock);
}

static void board_power(struct board *b, bool reboot, int code)
{
	vm_request_stop(b->opaque, reboot ? VM_STOP_REBOOT : VM_STOP_EXIT, code);
}

static void init_board(struct vm *vm)
{
	vm->board = (struct board){.bus = &vm->bus,
				   .mem = &vm->mem,
				   .loop = vm->loop,
				   .console = vm->console,
				   .nharts = vm->nharts,
				   .plic_phandle = VM_FDT_PH_PLIC,
				   .cpu_intc_phandle0 = VM_FDT_PH_CPU_INTC,
				   .virtio_slot = board_virtio_slot,
				   .plic_line = board_plic_line,
				   .hart_line = board_hart_line,
				   .hart_set_timecmp = board_set_timecmp,
				   .time = board_time,
				   .console_output = board_console_output,
				   .power = board_power,
				   .devices = &vm->devices,
				   .opaque = vm};
}

static void __attribute__((format(printf, 2, 3)))
dev_error(const struct vm_config *cfg, const char *fmt, ...)
{
	va_list ap;

	if (!cfg->err || !cfg->errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(cfg->err, cfg->errlen, fmt, ap);
	va_end(ap);
}

static int add_one(struct vm *vm, const struct vm_config *cfg, const struct device_type *t,
		   const char *args, struct device ***tail)
{
	char err[512] = ""; /* a --disk error names up to three paths */
	struct device *dev = NULL;
	int r = t->create(&vm->board, args, &dev, err, sizeof(err));

	if (r < 0) {
		if (err[0])
			dev_error(cfg, "%s", err);
		else if (r == -ENOSPC)
			dev_error(cfg, "%s: no free device slot (at most %d virtio devices)",
				  t->name, VM_VIRTIO_SLOTS);
		else
			dev_error(cfg, "%s: cannot create the device: %s", t->name, strerror(-r));
		return r;
	}
	**tail = dev;
	*tail = &dev->next;
	return 0;
}

/* Checks the options the user gave; *console_out: the one device among them that reads
 * the console (device_type.console), or NULL. */
static int check_device_options(const struct vm_config *cfg, const struct device_type **console_out)
{
	*console_out = NULL;
	for (unsigned i = 0; i < cfg->ndevices; i++) {
		const struct device_type *t = device_type_find_option(cfg->devices[i].option);
		if (!t) {
			dev_error(cfg, "unknown device option '--%s'", cfg->devices[i].option);
			return -EINVAL;
		}
		if (!t->console)
			continue;
		if (*console_out) {
			dev_error(cfg,
				  "--%s: given with --%s, but only one device can take the "
				  "console's input (pass one of them)",
				  t->option, (*console_out)->option);
			return -EINVAL;
		}
		*console_out = t;
	}
	return 0;
}

/* Every registered type: the always-present ones, then those the user asked for. The
 * table is in each type's `order`, so interrupt controllers come before their users. */
static int add_registered(struct vm *vm, const struct vm_config *cfg)
{
	unsigned n;
	const struct device_type *const *types = device_types(&n);
	struct device **tail = &vm->devices;
	int r = 0;

	for (unsigned i = 0; i < n && !r; i++) {
		const struct device_type *t = types[i];
		if (t->always && (!cfg->bare || t->bare))
			r = add_one(vm, cfg, t, NULL, &tail);
		for (unsigned j = 0; j < cfg->ndevices && !r; j++)
			if (t->option && !strcmp(cfg->devices[j].option, t->option))
				r = add_one(vm, cfg, t, cfg->devices[j].args, &tail);
	}
	return r;
}

static int add_devices(struct vm *vm, const struct vm_config *cfg)
{
	const struct device_type *console_dev = NULL;
	int r = evloop_create(&vm->loop);

	r = r ?: check_device_options(cfg, &console_dev);
	if (r)
		return r;
	init_board(vm);
	/* Another device reads the console: the UART keeps printing (firmware, early boot)
	 * but must not take the input from it. */
	vm->board.console_input_taken = console_dev != NULL;
	vm->board.defer_disks = cfg->defer_disks;
	vm->board.disk_check = cfg->disk_check;
	r = add_registered(vm, cfg);
	/* Unused slots answer as QEMU's do: "no device here". */
	for (unsigned i = vm->virtio_used; i < VM_VIRTIO_SLOTS && !r; i++) {
		struct bus_region slot = {.base = VIRT_VIRTIO_BASE + 0x1000ull * i,
					  .size = 0x1000,
					  .name = "virtio-mmio (empty)",
					  .read = empty_slot_read,
					  .write = empty_slot_write};
		r = bus_add(&vm->bus, &slot);
	}
	return r;
}

static bool env_poll(struct hart_env *env, struct hart *h, uint64_t now);
static void env_watch_hit(struct hart_env *env, uint64_t pa);

/* --jit-cache's default, which the daemon counts in a guest's memory limit, is the
 * caches' own */
_Static_assert(VM_JIT_CACHE_DEFAULT == ARENA_BUDGET && VM_JIT_CACHE_DEFAULT == JIT_BUDGET,
	       "VM_JIT_CACHE_DEFAULT is the code caches' default budget");

static void init_env(struct vm *vm, const struct vm_config *cfg)
{
	vm->env = (struct hart_env){.mem = &vm->mem,
				    .bus = &vm->bus,
				    .nharts = cfg->nharts,
				    .jit_hot = cfg->jit_hot,
				    .jit_cache = cfg->jit_cache,
				    .poll = env_poll,
				    .watch_hit = env_watch_hit};
	hart_env_clock_set(&vm->env, vm_now_ns(), 0);
	if (cfg->timeout_sec > 0)
		vm->env.deadline_ns = vm->env.clock.start_ns + (uint64_t)(cfg->timeout_sec * 1e9);
}

static int add_harts(struct vm *vm, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		struct hart *h = core_alloc(sizeof(*h));
		int r;

		if (!h)
			return -ENOMEM;
		r = hart_init(h, &vm->env, i, VM_RAM_BASE);
		vm->harts[vm->nharts++] = h;
		if (r < 0)
			return r;
	}
	return 0;
}

static char *dup_str(const char *s)
{
	char *d = s ? core_alloc(strlen(s) + 1) : NULL;

	if (d)
		strcpy(d, s);
	return d;
}

static int copy_dev_args(struct vm *vm, const struct vm_config *cfg)
{
	if (!cfg->ndevices)
		return 0;
	vm->dev_args = core_calloc(cfg->ndevices, sizeof(*vm->dev_args));
	if (!vm->dev_args)
		return -ENOMEM;
	vm->ndev_args = cfg->ndevices;
	for (unsigned i = 0; i < cfg->ndevices; i++) {
		vm->dev_args[i].option = dup_str(cfg->devices[i].option);
		vm->dev_args[i].args = dup_str(cfg->devices[i].args);
		if (!vm->dev_args[i].option || (cfg->devices[i].args && !vm->dev_args[i].args))
			return -ENOMEM;
	}
	return 0;
}

static void free_dev_args(struct vm *vm)
{
	for (unsigned i = 0; i < vm->ndev_args; i++) {
		core_free((char *)vm->dev_args[i].option);
		core_free((char *)vm->dev_args[i].args);
	}
	core_free(vm->dev_args);
}

int vm_create(const struct vm_config *cfg, struct vm **out)
{
	struct vm *vm;
	int r;

	if (cfg->ram_size < 4096 || (cfg->ram_size & 0xfff) || cfg->nharts < 1 ||
	    cfg->nharts > VM_MAX_HARTS)
		return -EINVAL;
	if (cfg->ram_size > host_mem_limit())
		return -E2BIG;
	vm = core_calloc(1, sizeof(*vm));
	if (!vm)
		return -ENOMEM;
	pthread_mutex_init(&vm->dev_console_lock, NULL);
	pthread_mutex_init(&vm->pause_lock, NULL);
	pthread_cond_init(&vm->pause_cond, NULL);
	vm->console = cfg->console;
	vm->bare = cfg->bare;
	init_env(vm, cfg);
	r = copy_dev_args(vm, cfg);
	if (r < 0) {
		vm_destroy(vm);
		return r;
	}
	r = gmem_init(&vm->mem, VM_RAM_BASE, cfg->ram_size, cfg->hugepages);
	if (!r)
		r = add_harts(vm, cfg->nharts);
	if (!r)
		r = add_devices(vm, cfg);
	if (r < 0) {
		vm_destroy(vm);
		return r;
	}
	*out = vm;
	return 0;
}

void vm_destroy(struct vm *vm)
{
	if (!vm)
		return;
	vm_postcopy_fini(vm);
	for (unsigned i = 0; i < vm->nharts; i++) {
		hart_fini(vm->harts[i]);
		core_free(vm->harts[i]);
	}
	evloop_stop(vm->loop); /* no device callback runs from here on */
	while (vm->devices) {
		struct device *d = vm->devices;
		vm->devices = d->next;
		d->ops->destroy(d);
	}
	evloop_destroy(vm->loop);
	snap_ram_lease_end(vm->mem.ram); /* RAM restored lazily from a snapshot file */
	gmem_fini(&vm->mem);
	free_dev_args(vm);
	core_free(vm->snap_parent_path);
	pthread_mutex_destroy(&vm->dev_console_lock);
	pthread_mutex_destroy(&vm->pause_lock);
	pthread_cond_destroy(&vm->pause_cond);
	core_free(vm);
}

void vm_request_stop(struct vm *vm, enum vm_stop_reason reason, int code)
{
	int expected = 0;

	/* The first request wins; later ones (e.g. a timeout racing an exit) are dropped. */
	if (!__atomic_compare_exchange_n(&vm->stopping, &expected, 1, false, __ATOMIC_ACQ_REL,
					 __ATOMIC_ACQUIRE))
		return;
	vm->exit_code = code;
	__atomic_store_n(&vm->stop_reason, (int)reason, __ATOMIC_RELEASE);
	for (unsigned i = 0; i < vm->nharts; i++)
		hart_kick(vm->harts[i]);
	pthread_mutex_lock(&vm->pause_lock); /* parked harts must see the stop */
	pthread_cond_broadcast(&vm->pause_cond);
	pthread_mutex_unlock(&vm->pause_lock);
}

/* hart_run, counted in vm->running so that vm_pause knows whom to wait for. */
static void run_hart(struct hart *h)
{
	struct vm *vm = container_of(h->env, struct vm, env);

	pthread_mutex_lock(&vm->pause_lock);
	vm->running++;
	pthread_mutex_unlock(&vm->pause_lock);
	hart_run(h);
	pthread_mutex_lock(&vm->pause_lock);
	vm->running--;
	pthread_cond_broadcast(&vm->pause_cond);
	pthread_mutex_unlock(&vm->pause_lock);
}

static void *hart_thread(void *arg)
{
	run_hart(arg);
	return NULL;
}

enum vm_stop_reason vm_run(struct vm *vm)
{
	pthread_t threads[VM_MAX_HARTS];
	unsigned started = 1;
	int r = evloop_start(vm->loop, "lodge-io");

	if (r < 0) {
		log_err("cannot start the I/O thread: %s", strerror(-r));
		vm_request_stop(vm, VM_STOP_ERROR, 1);
		return VM_STOP_ERROR;
	}
	for (unsigned i = 1; i < vm->nharts; i++) {
		if (pthread_create(&threads[i], NULL, hart_thread, vm->harts[i]) != 0) {
			log_err("cannot start a thread for hart %u", i);
			vm_request_stop(vm, VM_STOP_ERROR, 1);
			break;
		}
		started++;
	}
	run_hart(vm->harts[0]);
	for (unsigned i = 1; i < started; i++)
		pthread_join(threads[i], NULL);
	evloop_stop(vm->loop);
	return (enum vm_stop_reason)__atomic_load_n(&vm->stop_reason, __ATOMIC_ACQUIRE);
}

/* HTIF (spike): tohost = 1 passes, (code << 1) | 1 fails with code; device 1 command 1
 * prints the low byte (console), acknowledged through fromhost. */
static void env_watch_hit(struct hart_env *env, uint64_t pa)
{
	struct vm *vm = container_of(env, struct vm, env);
	uint64_t *to = vm_ram_ptr(vm, vm->tohost_pa, 8), *from, v;
	unsigned dev, cmd;

	(void)pa;
	if (!to || !(v = __atomic_load_n(to, __ATOMIC_ACQUIRE)))
		return;
	dev = (unsigned)(v >> 56);
	cmd = (unsigned)(v >> 48) & 0xff;
	if (dev == 0 && (v & 1)) {
		vm_request_stop(vm, VM_STOP_EXIT, (int)((v << 16) >> 17));
	} else if (dev == 1 && cmd == 1) {
		uint8_t c = (uint8_t)v;
		if (vm->console && chardev_write(vm->console, &c, 1) < 0)
			log_debug("htif: console write failed");
		from = vm_ram_ptr(vm, vm->fromhost_pa, 8);
		if (from)
			__atomic_store_n(from, (1ull << 56) | (1ull << 48), __ATOMIC_RELEASE);
	} else {
		log_warn("htif: unsupported tohost request 0x%llx ignored", (unsigned long long)v);
	}
	__atomic_store_n(to, 0, __ATOMIC_RELEASE);
}

void vm_ram_written(struct vm *vm, uint64_t pa, uint64_t len)
{
	gmem_written(&vm->mem, pa, len);
}

/* A hart's side of vm_pause: wait, using no CPU, until resumed or stopped. */
static void park(struct vm *vm)
{
	pthread_mutex_lock(&vm->pause_lock);
	vm->parked++;
	pthread_cond_broadcast(&vm->pause_cond);
	while (__atomic_load_n(&vm->pause_req, __ATOMIC_ACQUIRE) && !vm_should_stop(vm))
		pthread_cond_wait(&vm->pause_cond, &vm->pause_lock);
	vm->parked--;
	pthread_mutex_unlock(&vm->pause_lock);
}

static bool env_poll(struct hart_env *env, struct hart *h, uint64_t now)
{
	struct vm *vm = container_of(env, struct vm, env);
	uint64_t panic_ns = __atomic_load_n(&vm->panic_ns, __ATOMIC_RELAXED);

	(void)h;
	if (__atomic_load_n(&vm->pause_req, __ATOMIC_ACQUIRE)) {
		park(vm);
		now = vm_now_ns();
	}
	if (env->deadline_ns && now >= env->deadline_ns)
		vm_request_stop(vm, VM_STOP_TIMEOUT, 0);
	else if (panic_ns && now - panic_ns > PANIC_GRACE_NS)
		vm_request_stop(vm, VM_STOP_PANIC, 1); /* the panic text had time to print */
	return vm_should_stop(vm);
}

/* ---- the clock and pausing ---- */

uint64_t vm_time(const struct vm *vm)
{
	return hart_env_time(&vm->env);
}

uint64_t vm_time_to_host(const struct vm *vm, uint64_t ticks)
{
	return hart_env_time_to_host(&vm->env, ticks);
}

int vm_pause(struct vm *vm)
{
	int r = 0;

	pthread_mutex_lock(&vm->pause_lock);
	if (!__atomic_load_n(&vm->pause_req, __ATOMIC_RELAXED)) {
		hart_env_clock_set(&vm->env, vm->env.clock.start_ns, vm_now_ns());
		__atomic_store_n(&vm->pause_req, 1, __ATOMIC_RELEASE);
		for (unsigned i = 0; i < vm->nharts; i++)
			hart_kick(vm->harts[i]);
	}
	while (vm->parked < vm->running && !vm_should_stop(vm))
		pthread_cond_wait(&vm->pause_cond, &vm->pause_lock);
	if (vm_should_stop(vm))
		r = -ESHUTDOWN;
	pthread_mutex_unlock(&vm->pause_lock);
	return r;
}

static void resume_locked(struct vm *vm)
{
	/* The time spent paused is taken out of the machine's clock. */
	hart_env_clock_set(&vm->env,
			   vm->env.clock.start_ns + (vm_now_ns() - vm->env.clock.paused_ns), 0);
	__atomic_store_n(&vm->pause_req, 0, __ATOMIC_RELEASE);
	pthread_cond_broadcast(&vm->pause_cond);
}

int vm_pause_hold(struct vm *vm, bool *was_paused)
{
	int r;

	pthread_mutex_lock(&vm->pause_lock);
	*was_paused = __atomic_load_n(&vm->pause_req, __ATOMIC_RELAXED) != 0;
	vm->pause_holds++;
	pthread_mutex_unlock(&vm->pause_lock);
	r = vm_pause(vm);
	if (r)
		vm_pause_release(vm, true);
	return r;
}

void vm_pause_release(struct vm *vm, bool was_paused)
{
	pthread_mutex_lock(&vm->pause_lock);
	if (!--vm->pause_holds && (vm->resume_held || !was_paused) &&
	    __atomic_load_n(&vm->pause_req, __ATOMIC_RELAXED))
		resume_locked(vm);
	if (!vm->pause_holds)
		vm->resume_held = false;
	pthread_mutex_unlock(&vm->pause_lock);
}

int vm_resume(struct vm *vm)
{
	pthread_mutex_lock(&vm->pause_lock);
	if (!__atomic_load_n(&vm->pause_req, __ATOMIC_RELAXED)) {
		pthread_mutex_unlock(&vm->pause_lock);
		return -EALREADY;
	}
	if (vm->pause_holds) { /* the holder resumes it (vm_pause_release) */
		vm->resume_held = true;
		pthread_mutex_unlock(&vm->pause_lock);
		return 0;
	}
	resume_locked(vm);
	pthread_mutex_unlock(&vm->pause_lock);
	return 0;
}

bool vm_paused(const struct vm *vm)
{
	return __atomic_load_n(&vm->pause_req, __ATOMIC_ACQUIRE) != 0;
}

int vm_press_power_button(struct vm *vm)
{
	for (struct device *d = vm->devices; d; d = d->next)
		if (vinput_is_power_button(d))
			return vinput_press_power(d);
	return -ENODEV;
}

uint64_t vm_instret(const struct vm *vm)
{
	uint64_t n = 0;

	for (unsigned i = 0; i < vm->nharts; i++)
		n += __atomic_load_n(&vm->harts[i]->instret_seen, __ATOMIC_RELAXED);
	return n;
}
