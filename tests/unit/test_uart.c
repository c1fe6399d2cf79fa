/*
 * Unit tests for the ns16550a model (devices/uart.c) on a fake console backend: input
 * stays in the backend through the register sequences OpenSBI and Linux's 8250 driver
 * run while setting the port up (blind RBR reads, FIFO resets), reaches the guest once
 * it is ready to receive, in order, and raises the interrupt; output reaches the backend.
 */
#include "devices/uart.h"

#include <string.h>

#include "core/util.h"
#include "devices/chardev.h"
#include "harness.h"
#include "core/bus.h"

#define BASE 0x10000000ull

enum { RBR = 0, IER = 1, IIR = 2, FCR = 2, LCR = 3, MCR = 4, LSR = 5 };

struct fake_con {
	struct chardev cd;
	uint8_t in[64];
	size_t in_head, in_len;
	uint8_t out[64];
	size_t out_len;
};

static int fake_write(struct chardev *cd, const uint8_t *buf, size_t len)
{
	struct fake_con *f = container_of(cd, struct fake_con, cd);

	for (size_t i = 0; i < len && f->out_len < sizeof(f->out); i++)
		f->out[f->out_len++] = buf[i];
	return 0;
}

static size_t fake_available(struct chardev *cd)
{
	return container_of(cd, struct fake_con, cd)->in_len;
}

static size_t fake_read(struct chardev *cd, uint8_t *buf, size_t len)
{
	struct fake_con *f = container_of(cd, struct fake_con, cd);
	size_t n = 0;

	while (n < len && f->in_len) {
		buf[n++] = f->in[f->in_head++];
		f->in_len--;
	}
	return n;
}

static void fake_close(struct chardev *cd)
{
	(void)cd;
}

static const struct chardev_ops fake_ops = {
	.write = fake_write,
	.input_available = fake_available,
	.read = fake_read,
	.close = fake_close,
};

static struct fake_con con;
static struct bus bus;
static struct uart *uart;
static int irq_level, irq_changes;

static void on_irq(void *opaque, bool level)
{
	(void)opaque;
	irq_level = level;
	irq_changes++;
}

/* A fresh UART on a backend holding `input` (typed before the guest ran). */
static int setup(const char *input)
{
	uart_destroy(uart);
	uart = NULL;
	if (con.cd.ops)
		chardev_fini(&con.cd);
	memset(&bus, 0, sizeof(bus));
	memset(&con, 0, sizeof(con));
	chardev_init(&con.cd, &fake_ops);
	con.in_len = strlen(input);
	memcpy(con.in, input, con.in_len);
	irq_level = 0;
	irq_changes = 0;
	if (uart_create(&bus, BASE, &con.cd, &uart) < 0)
		return -1;
	uart_set_irq(uart, on_irq, NULL);
	return 0;
}

static uint8_t rd(unsigned reg)
{
	uint64_t v = 0xdead;

	if (bus_read(&bus, BASE + reg, 1, &v) < 0)
		return 0xee;
	return (uint8_t)v;
}

static void wr(unsigned reg, uint8_t v)
{
	if (bus_write(&bus, BASE + reg, 1, v) < 0)
		irq_changes = -1000; /* makes the caller's checks fail */
}

/* OpenSBI's uart8250_init: no interrupts, FIFO on, no RTS, then a blind LSR and RBR
 * read. The RBR read used to eat the first byte typed. */
static int t_opensbi_init_keeps_input(void)
{
	CHECK(setup("echo hi\n") == 0);
	wr(IER, 0);
	wr(LCR, 0x80);
	wr(0, 1);
	wr(1, 0);
	wr(LCR, 0x03);
	wr(FCR, 0x01);
	wr(MCR, 0x00);
	CHECK_EQ(rd(LSR) & 1, 0); /* not ready to receive: no data shown */
	CHECK_EQ(rd(RBR), 0);
	CHECK_EQ(con.in_len, 8);
	CHECK_EQ(irq_level, 0);
	return 0;
}

/* Linux's serial8250_do_startup: clear and disable the FIFOs, blind reads of LSR, RBR,
 * IIR, MSR (twice), then the receive interrupt on. The FIFO reset used to discard
 * everything typed before the console was opened. */
static int t_linux_startup_keeps_input(void)
{
	char got[16] = {0};

	CHECK(setup("uname -a\n") == 0);
	wr(FCR, 0x01);
	wr(FCR, 0x07);
	wr(FCR, 0x00);
	for (int i = 0; i < 2; i++) {
		rd(LSR);
		rd(RBR);
		rd(IIR);
		rd(6);
	}
	wr(MCR, 0x09);
	CHECK_EQ(con.in_len, 9);
	CHECK_EQ(irq_level, 0);
	wr(IER, 0x05); /* receive data + line status interrupts */
	CHECK_EQ(irq_level, 1);
	CHECK_EQ(rd(IIR) & 0x0f, 0x04); /* received data available */
	wr(FCR, 0x81);			/* set_termios: FIFO on, no reset */
	wr(FCR, 0x07);			/* even a reset now keeps the input */
	for (int i = 0; i < 9; i++) {
		CHECK_EQ(rd(LSR) & 1, 1);
		got[i] = (char)rd(RBR);
	}
	CHECK(strcmp(got, "uname -a\n") == 0);
	CHECK_EQ(rd(LSR) & 1, 0);
	CHECK_EQ(irq_level, 0);
	CHECK_EQ(rd(IIR) & 0x0f, 0x01); /* nothing pending */
	return 0;
}

/* Input arriving later raises the line through the backend's callback; the console
 * write path (IER cleared around it) hides the data without consuming it. */
static int t_input_interrupt(void)
{
	CHECK(setup("") == 0);
	wr(IER, 0x05);
	CHECK_EQ(irq_level, 0);
	con.in[0] = 'k';
	con.in_len = 1;
	chardev_input_ready(&con.cd);
	CHECK_EQ(irq_level, 1);
	wr(IER, 0x00);
	CHECK_EQ(irq_level, 0);
	CHECK_EQ(rd(RBR), 0);
	CHECK_EQ(con.in_len, 1);
	wr(IER, 0x05);
	CHECK_EQ(irq_level, 1);
	CHECK_EQ(rd(RBR), 'k');
	CHECK_EQ(irq_level, 0);
	return 0;
}

/* A polling driver (no interrupts) receives once it enables the FIFO and asserts RTS. */
static int t_polled_receive(void)
{
	CHECK(setup("ab") == 0);
	wr(FCR, 0x01);
	CHECK_EQ(rd(LSR) & 1, 0);
	wr(MCR, 0x02);
	CHECK_EQ(rd(LSR) & 1, 1);
	CHECK_EQ(rd(RBR), 'a');
	CHECK_EQ(rd(RBR), 'b');
	CHECK_EQ(rd(LSR) & 1, 0);
	CHECK_EQ(irq_level, 0); /* no interrupt without IER */
	return 0;
}

static int t_output_to_backend(void)
{
	CHECK(setup("") == 0);
	wr(0, 'O');
	wr(0, 'K');
	CHECK_EQ(con.out_len, 2);
	CHECK(memcmp(con.out, "OK", 2) == 0);
	CHECK_EQ(rd(LSR) & 0x60, 0x60); /* transmitter always empty */
	wr(LCR, 0x80);			/* DLAB: writes go to the divisor */
	wr(0, 'X');
	CHECK_EQ(con.out_len, 2);
	return 0;
}

/* Without a backend: output vanishes, no data ever shows. */
static int t_no_backend(void)
{
	struct bus b = {0};
	struct uart *u = NULL;
	uint64_t v = 0;

	CHECK(uart_create(&b, BASE, NULL, &u) == 0);
	CHECK(bus_write(&b, BASE, 1, 'x') == 0);
	CHECK(bus_write(&b, BASE + IER, 1, 1) == 0);
	CHECK(bus_read(&b, BASE + LSR, 1, &v) == 0);
	CHECK_EQ(v & 1, 0);
	uart_destroy(u);
	return 0;
}

static int t_detach_on_destroy(void)
{
	CHECK(setup("z") == 0);
	uart_destroy(uart);
	uart = NULL;
	CHECK(con.cd.input_fn == NULL);
	chardev_input_ready(&con.cd); /* nobody attached: nothing happens */
	CHECK_EQ(con.in_len, 1);
	return 0;
}

static const struct unit_test tests[] = {
	{"opensbi_init_keeps_input", t_opensbi_init_keeps_input},
	{"linux_startup_keeps_input", t_linux_startup_keeps_input},
	{"input_interrupt", t_input_interrupt},
	{"polled_receive", t_polled_receive},
	{"output_to_backend", t_output_to_backend},
	{"no_backend", t_no_backend},
	{"detach_on_destroy", t_detach_on_destroy},
};

UNIT_MAIN("uart", tests)
