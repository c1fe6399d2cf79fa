/*
 * The physical memory map and interrupt numbers of Lodge's board, QEMU's `virt` layout,
 * so that kernels and firmware built for `virt` run unchanged. The board (machine/) and
 * the device types that sit at fixed places share it.
 */
#ifndef LODGE_DEVICES_VIRT_H
#define LODGE_DEVICES_VIRT_H

#define VIRT_FINISHER_BASE 0x00100000ull /* sifive_test / syscon */
#define VIRT_RTC_BASE	   0x00101000ull /* goldfish RTC */
#define VIRT_CLINT_BASE	   0x02000000ull
#define VIRT_PLIC_BASE	   0x0c000000ull
#define VIRT_UART_BASE	   0x10000000ull /* ns16550a */
#define VIRT_VIRTIO_BASE   0x10001000ull /* virtio-mmio slots, 0x1000 apart */
#define VIRT_RAM_BASE	   0x80000000ull

#define VIRT_TIMEBASE_HZ 10000000u /* mtime and the time CSR tick at 10 MHz */

#define VIRT_UART_IRQ 10
#define VIRT_RTC_IRQ  11

#endif
