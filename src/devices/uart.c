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
#include <pthread.h>

#include "core/alloc.h"
#include "core/bus.h"
#include "devices/chardev.h"

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
	return u->con && rx_ready(u) && chardev_input_available(u->con) > 0;
}

/* Recomputes the interrupt line; called with the lock held. */
static void update_irq(struct uart *u)
{
	bool level =
		((u->ier & IER_RDI) && data_ready(u)) || ((u->ier & IER_THRI) && u->thri_pending);

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

void uart_destroy(struct uart *u)
{
	if (!u)
		return;
	if (u->con)
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
