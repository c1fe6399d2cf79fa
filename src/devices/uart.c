/*
 * ns16550a UART model. Registers (offset, DLAB=0): 0 RBR/THR, 1 IER, 2 IIR/FCR, 3 LCR,
 * 4 MCR, 5 LSR, 6 MSR, 7 SCR; with DLAB=1, 0/1 are the divisor latch. Transmission is
 * immediate (THR always empty), so THRE interrupts fire as soon as they are enabled.
 * Received bytes stay in the console backend until the guest reads RBR (see uart.h for
 * when the guest is ready to receive). State is protected by a mutex: harts and the
 * backend's input thread both touch it. Lock order: UART, then the backend's buffer.
 */
#include "devices/uart.h"

#include <errno.h>
#include <libfdt.h>
#include <pthread.h>
#include <stdio.h>

#include "core/alloc.h"
#include "core/bus.h"
#include "core/sbuf.h"
#include "core/util.h"
#include "devices/chardev.h"
#include "devices/device.h"
#include "devices/virt.h"

#define IER_RDI	 1u
#define IER_THRI 2u
#define FCR_FIFO 0x01u
#define MCR_RTS	 0x02u
#define LSR_DR	 0x01u
#define LSR_THRE 0x20u
#define LSR_TEMT 0x40u
#define LCR_DLAB 0x80u
#define IIR_NONE 0x01u
#define IIR_THRI 0x02u
#define IIR_RDI	 0x04u
#define IIR_FIFO 0xc0u

struct uart {
	pthread_mutex_t lock;
	struct chardev *con; /* NULL: no console */
	bool no_input;	     /* another device reads con */
	uint8_t ier, lcr, mcr, scr, fcr, dll, dlm;
	bool thri_pending; /* THR-empty interrupt not yet acknowledged by reading IIR */
	uart_irq_fn irq;
	void *irq_opaque;
	uart_tx_fn tx_hook;
	void *tx_opaque;
	bool irq_level;
};

/* Whether the guest is ready to receive (uart.h): only then does it see the input. */
static bool rx_ready(const struct uart *u)
{
	return (u->ier & IER_RDI) || ((u->fcr & FCR_FIFO) && (u->mcr & MCR_RTS));
}

/* Data ready (LSR bit 0); called with the lock held. */
static bool data_ready(struct uart *u)
{
	return u->con && !u->no_input && rx_ready(u) && chardev_input_available(u->con) > 0;
}

/* The interrupt line's level; called with the lock held. */
static bool irq_level_now(struct uart *u)
{
	return ((u->ier & IER_RDI) && data_ready(u)) || ((u->ier & IER_THRI) && u->thri_pending);
}

/* Recomputes the interrupt line; called with the lock held. */
static void update_irq(struct uart *u)
{
	bool level = irq_level_now(u);

	if (level != u->irq_level) {
		u->irq_level = level;
		if (u->irq)
			u->irq(u->irq_opaque, level);
	}
}

static uint8_t read_iir(struct uart *u)
{
	uint8_t iir = IIR_NONE;

	if ((u->ier & IER_RDI) && data_ready(u)) {
		iir = IIR_RDI;
	} else if ((u->ier & IER_THRI) && u->thri_pending) {
		iir = IIR_THRI;
		u->thri_pending = false; /* reading IIR acknowledges THRE */
	}
	return (uint8_t)(iir | ((u->fcr & 1) ? IIR_FIFO : 0));
}

static int uart_read(void *opaque, uint64_t off, unsigned size, uint64_t *out)
{
	struct uart *u = opaque;
	uint8_t v = 0;

	(void)size;
	pthread_mutex_lock(&u->lock);
	switch (off) {
	case 0:
		if (u->lcr & LCR_DLAB) {
			v = u->dll;
		} else if (data_ready(u) && chardev_read(u->con, &v, 1) != 1) {
			v = 0; /* not reached: only this thread takes input, under the lock */
		}
		break;
	case 1:
		v = (u->lcr & LCR_DLAB) ? u->dlm : u->ier;
		break;
	case 2:
		v = read_iir(u);
		break;
	case 3:
		v = u->lcr;
		break;
	case 4:
		v = u->mcr;
		break;
	case 5:
		v = (uint8_t)(LSR_THRE | LSR_TEMT | (data_ready(u) ? LSR_DR : 0));
		break;
	case 6:
		v = 0xb0;
		break; /* DCD, DSR, CTS: a connected line */
	case 7:
		v = u->scr;
		break;
	}
	update_irq(u);
	pthread_mutex_unlock(&u->lock);
	*out = v;
	return 0;
}

static void transmit(struct uart *u, uint8_t c)
{
	if (u->tx_hook)
		u->tx_hook(u->tx_opaque, c);
	/* A console that went away (closed pipe) is not the guest's problem: the backend
	 * discards the output and tells its owner. */
	if (u->con && chardev_write(u->con, &c, 1) < 0)
		return;
}

static int uart_write(void *opaque, uint64_t off, unsigned size, uint64_t val)
{
	struct uart *u = opaque;
	uint8_t v = (uint8_t)val;

	(void)size;
	pthread_mutex_lock(&u->lock);
	switch (off) {
	case 0:
		if (u->lcr & LCR_DLAB) {
			u->dll = v;
		} else {
			transmit(u, v);
			u->thri_pending = true;
		}
		break;
	case 1:
		if (u->lcr & LCR_DLAB) {
			u->dlm = v;
		} else {
			if ((v & IER_THRI) && !(u->ier & IER_THRI))
				u->thri_pending = true;
			u->ier = v & 0x0f;
		}
		break;
	case 2:
		/* Bit 1 (reset the receive FIFO) discards nothing: drivers reset it while
		 * setting the port up, before they read, and the input is the user's. */
		u->fcr = v;
		break;
	case 3:
		u->lcr = v;
		break;
	case 4:
		u->mcr = v & 0x1f;
		break;
	case 7:
		u->scr = v;
		break;
	}
	update_irq(u);
	pthread_mutex_unlock(&u->lock);
	return 0;
}

/* The backend's input callback (its input thread): raise the interrupt if enabled. */
static void input_ready(void *opaque)
{
	struct uart *u = opaque;

	pthread_mutex_lock(&u->lock);
	update_irq(u);
	pthread_mutex_unlock(&u->lock);
}

int uart_create(struct bus *bus, uint64_t base, struct chardev *con, struct uart **out)
{
	struct uart *u = core_calloc(1, sizeof(*u));
	struct bus_region r = {.base = base,
			       .size = 0x100,
			       .name = "uart0",
			       .read = uart_read,
			       .write = uart_write};
	int err;

	if (!u)
		return -ENOMEM;
	pthread_mutex_init(&u->lock, NULL);
	u->con = con;
	r.opaque = u;
	err = bus_add(bus, &r);
	if (err < 0) {
		pthread_mutex_destroy(&u->lock);
		core_free(u);
		return err;
	}
	if (con)
		chardev_set_input_handler(con, input_ready, u);
	*out = u;
	return 0;
}

void uart_disable_input(struct uart *u)
{
	if (u->con && !u->no_input)
		chardev_set_input_handler(u->con, NULL, NULL);
	pthread_mutex_lock(&u->lock);
	u->no_input = true;
	update_irq(u);
	pthread_mutex_unlock(&u->lock);
}

void uart_destroy(struct uart *u)
{
	if (!u)
		return;
	if (u->con && !u->no_input)
		chardev_set_input_handler(u->con, NULL, NULL);
	pthread_mutex_destroy(&u->lock);
	core_free(u);
}

void uart_set_irq(struct uart *u, uart_irq_fn fn, void *opaque)
{
	pthread_mutex_lock(&u->lock); /* the input thread may be in update_irq already */
	u->irq = fn;
	u->irq_opaque = opaque;
	u->irq_level = false;
	update_irq(u);
	pthread_mutex_unlock(&u->lock);
}

void uart_set_tx_hook(struct uart *u, uart_tx_fn fn, void *opaque)
{
	u->tx_hook = fn;
	u->tx_opaque = opaque;
}

/* ---- the device type "uart": uart0 at VIRT_UART_BASE on the machine's console ---- */

#define SAVE_VERSION 1

struct uart_dev {
	struct device dev;
	struct board *board;
	struct irq_line line;
	struct uart *u;
};

static struct uart_dev *to_ud(struct device *dev)
{
	return container_of(dev, struct uart_dev, dev);
}

static void ud_irq(void *opaque, bool level)
{
	struct uart_dev *ud = opaque;

	irq_set(&ud->line, level);
}

static void ud_tx(void *opaque, uint8_t c)
{
	struct uart_dev *ud = opaque;

	ud->board->console_output(ud->board, &c, 1);
}

static void ud_reset(struct device *dev)
{
	struct uart *u = to_ud(dev)->u;

	pthread_mutex_lock(&u->lock);
	u->ier = u->lcr = u->mcr = u->scr = u->fcr = u->dll = u->dlm = 0;
	u->thri_pending = false;
	update_irq(u);
	pthread_mutex_unlock(&u->lock);
}

static int ud_save(struct device *dev, struct sbuf *out)
{
	struct uart *u = to_ud(dev)->u;
	uint8_t regs[7];

	pthread_mutex_lock(&u->lock);
	regs[0] = u->ier, regs[1] = u->lcr, regs[2] = u->mcr, regs[3] = u->scr;
	regs[4] = u->fcr, regs[5] = u->dll, regs[6] = u->dlm;
	sbuf_put_u32(out, SAVE_VERSION);
	sbuf_put(out, regs, sizeof(regs));
	sbuf_put_u8(out, u->thri_pending);
	pthread_mutex_unlock(&u->lock);
	return out->err;
}

static int ud_load(struct device *dev, struct sreader *in)
{
	struct uart *u = to_ud(dev)->u;
	uint8_t regs[7];
	bool thri;

	if (sread_u32(in) != SAVE_VERSION)
		return -EINVAL;
	sread(in, regs, sizeof(regs));
	thri = sread_u8(in) & 1;
	if (in->err)
		return in->err;
	pthread_mutex_lock(&u->lock);
	u->ier = regs[0] & 0x0f, u->lcr = regs[1], u->mcr = regs[2], u->scr = regs[3];
	u->fcr = regs[4], u->dll = regs[5], u->dlm = regs[6];
	u->thri_pending = thri;
	u->irq_level = !irq_level_now(u); /* drive the line again whatever it was */
	update_irq(u);
	pthread_mutex_unlock(&u->lock);
	return 0;
}

static int ud_fdt(struct device *dev, void *fdt, const struct board *b)
{
	fdt64_t reg[2] = {cpu_to_fdt64(VIRT_UART_BASE), cpu_to_fdt64(0x100)};
	char name[40];
	int r;

	(void)dev;
	snprintf(name, sizeof(name), "serial@%llx", (unsigned long long)VIRT_UART_BASE);
	r = fdt_begin_node(fdt, name);
	r = r ?: fdt_property_string(fdt, "compatible", "ns16550a");
	r = r ?: fdt_property(fdt, "reg", reg, sizeof(reg));
	r = r ?: fdt_property_u32(fdt, "interrupts", VIRT_UART_IRQ);
	r = r ?: fdt_property_u32(fdt, "interrupt-parent", b->plic_phandle);
	r = r ?: fdt_property_u32(fdt, "clock-frequency", 3686400);
	return r ?: fdt_end_node(fdt);
}

static void ud_destroy(struct device *dev)
{
	struct uart_dev *ud = to_ud(dev);

	uart_destroy(ud->u);
	core_free(ud);
}

static const struct device_ops uart_ops = {
	.reset = ud_reset,
	.save = ud_save,
	.load = ud_load,
	.fdt = ud_fdt,
	.destroy = ud_destroy,
};

static int ud_create(struct board *b, const char *args, struct device **out, char *err,
		     size_t errlen)
{
	struct uart_dev *ud = core_calloc(1, sizeof(*ud));
	int r;

	(void)args;
	(void)err;
	(void)errlen;
	if (!ud)
		return -ENOMEM;
	ud->board = b;
	ud->line = b->plic_line(b, VIRT_UART_IRQ);
	r = uart_create(b->bus, VIRT_UART_BASE, b->console, &ud->u);
	if (r < 0) {
		core_free(ud);
		return r;
	}
	if (b->console_input_taken)
		uart_disable_input(ud->u);
	uart_set_irq(ud->u, ud_irq, ud);
	uart_set_tx_hook(ud->u, ud_tx, ud);
	ud->dev.ops = &uart_ops;
	snprintf(ud->dev.name, sizeof(ud->dev.name), "uart0");
	*out = &ud->dev;
	return 0;
}

static const struct device_type uart_type = {
	.name = "uart",
	.help = "ns16550a serial port on the console (always present)",
	.order = 10,
	.always = true,
	.bare = true,
	.create = ud_create,
};
DEVICE_TYPE(uart_type)
