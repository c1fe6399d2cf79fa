/*
 * ELF64 loader for bare-metal programs. The file is read whole into memory and every
 * offset and size from it is checked against the file size before use; headers and symbols
 * are copied out (their offsets need not suit the host's alignment).
 */
#include "machine/boot.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/log.h"
#include "cpu/hart.h"
#include "machine/fdt.h"
#include "machine/machine.h"

#define ELF_MAX_SIZE (1ull << 32)
#define MiB	     (1ull << 20)

/* What a non-regular file is, for messages. */
static const char *file_kind(mode_t m)
{
	if (S_ISDIR(m))
		return "a directory";
	if (S_ISCHR(m))
		return "a character device";
	if (S_ISBLK(m))
		return "a block device";
	if (S_ISFIFO(m))
		return "a FIFO";
	if (S_ISSOCK(m))
		return "a socket";
	return "not a regular file";
}

/* Maps the whole regular file `path` read-only (released with unmap_file); `what` names
 * it in the one error message logged on failure ("kernel", "initrd", ...), `hint` is
 * appended to it when the file cannot be opened (may be ""). Only regular, non-empty files
 * up to 4 GiB are accepted: a device or FIFO could block or never end. Mapping rather than
 * reading keeps a large kernel or initrd from pinning heap memory after loading. */
static int read_file(const char *what, const char *path, const char *hint, uint8_t **buf,
		     size_t *len)
{
	struct stat st;
	void *p;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK), r = 0;

	if (fd < 0) {
		r = -errno;
		log_err("%s: cannot open %s: %s%s", what, path, strerror(-r), hint);
		return r;
	}
	if (fstat(fd, &st) < 0) {
		r = -errno;
		log_err("%s: cannot stat %s: %s", what, path, strerror(-r));
		goto out_close;
	}
	if (!S_ISREG(st.st_mode)) {
		log_err("%s: %s is %s, not a regular file", what, path, file_kind(st.st_mode));
		r = S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
		goto out_close;
	}
	if (st.st_size == 0) {
		log_err("%s: %s is empty", what, path);
		r = -ENOEXEC;
		goto out_close;
	}
	if ((uint64_t)st.st_size > ELF_MAX_SIZE) {
		log_err("%s: %s is larger than 4 GiB (%llu bytes)", what, path,
			(unsigned long long)st.st_size);
		r = -EFBIG;
		goto out_close;
	}
	*len = (size_t)st.st_size;
	p = mmap(NULL, *len, PROT_READ, MAP_PRIVATE, fd, 0);
	if (p == MAP_FAILED) {
		r = -errno;
		log_err("%s: cannot read %s: %s", what, path, strerror(-r));
		goto out_close;
	}
	*buf = p;
out_close:
	close(fd);
	return r;
}

static void unmap_file(uint8_t *buf, size_t len)
{
	if (buf)
		munmap(buf, len);
}

static bool range_ok(size_t len, uint64_t off, uint64_t size)
{
	return off <= len && size <= len - off;
}

/* ELF structures are copied out of the file before use: their offsets come from the file
 * and need not be aligned for the host's struct layout. */
static void get_ehdr(const uint8_t *buf, Elf64_Ehdr *eh)
{
	memcpy(eh, buf, sizeof(*eh));
}

static void get_phdr(const uint8_t *buf, const Elf64_Ehdr *eh, unsigned i, Elf64_Phdr *ph)
{
	memcpy(ph, buf + eh->e_phoff + (uint64_t)i * sizeof(*ph), sizeof(*ph));
}

static void get_shdr(const uint8_t *buf, const Elf64_Ehdr *eh, unsigned i, Elf64_Shdr *sh)
{
	memcpy(sh, buf + eh->e_shoff + (uint64_t)i * sizeof(*sh), sizeof(*sh));
}

static int check_header(const char *path, const uint8_t *buf, size_t len)
{
	Elf64_Ehdr eh;

	if (len < EI_NIDENT || memcmp(buf, ELFMAG, SELFMAG) != 0) {
		log_err("%s: not an ELF file", path);
		return -ENOEXEC;
	}
	if (buf[EI_CLASS] != ELFCLASS64) {
		log_err("%s: is a 32-bit ELF; lodge runs RV64 programs only (build with "
			"-march=rv64...)",
			path);
		return -ENOEXEC;
	}
	if (len < sizeof(eh) || buf[EI_DATA] != ELFDATA2LSB) {
		log_err("%s: truncated or big-endian ELF header", path);
		return -ENOEXEC;
	}
	get_ehdr(buf, &eh);
	if (eh.e_machine != EM_RISCV) {
		log_err("%s: ELF is for machine %u, not RISC-V (%u)", path, eh.e_machine, EM_RISCV);
		return -ENOEXEC;
	}
	if (eh.e_phentsize != sizeof(Elf64_Phdr) ||
	    !range_ok(len, eh.e_phoff, (uint64_t)eh.e_phnum * sizeof(Elf64_Phdr))) {
		log_err("%s: corrupt ELF program header table", path);
		return -ENOEXEC;
	}
	return 0;
}

/* Loads one PT_LOAD segment (index i, for messages). */
static int load_segment(struct vm *vm, const char *path, const uint8_t *buf, size_t len, unsigned i,
			const Elf64_Phdr *ph)
{
	uint8_t *dst;

	if (ph->p_filesz > ph->p_memsz || !range_ok(len, ph->p_offset, ph->p_filesz)) {
		log_err("%s: segment %u: corrupt sizes or offset", path, i);
		return -ENOEXEC;
	}
	dst = vm_ram_ptr(vm, ph->p_paddr, ph->p_memsz);
	if (!dst && ph->p_paddr + ph->p_memsz < ph->p_paddr) {
		log_err("%s: segment %u at 0x%llx wraps past the end of the address space", path, i,
			(unsigned long long)ph->p_paddr);
		return -ERANGE;
	}
	if (!dst) {
		log_err("%s: segment %u at 0x%llx-0x%llx lies outside RAM 0x%llx-0x%llx "
			"(link it inside RAM, or raise --mem)",
			path, i, (unsigned long long)ph->p_paddr,
			(unsigned long long)(ph->p_paddr + ph->p_memsz - 1),
			(unsigned long long)vm->mem.base,
			(unsigned long long)(vm->mem.base + vm->mem.size - 1));
		return -ERANGE;
	}
	memcpy(dst, buf + ph->p_offset, ph->p_filesz);
	memset(dst + ph->p_filesz, 0, ph->p_memsz - ph->p_filesz);
	vm_ram_written(vm, ph->p_paddr, ph->p_memsz);
	return 0;
}

static int load_segments(struct vm *vm, const char *path, const uint8_t *buf, size_t len)
{
	Elf64_Ehdr eh;
	unsigned loaded = 0;

	get_ehdr(buf, &eh);
	for (unsigned i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;
		int r;

		get_phdr(buf, &eh, i, &ph);
		if (ph.p_type != PT_LOAD || ph.p_memsz == 0)
			continue;
		r = load_segment(vm, path, buf, len, i, &ph);
		if (r)
			return r;
		loaded++;
	}
	if (!loaded) {
		log_err("%s: ELF has no loadable segments", path);
		return -ENOEXEC;
	}
	return 0;
}

/* Looks for tohost/fromhost in the symbol table `symtab` whose strings are in `strtab`. */
static void scan_symtab(struct vm *vm, const uint8_t *buf, const Elf64_Shdr *symtab,
			const Elf64_Shdr *strtab)
{
	const char *str = (const char *)buf + strtab->sh_offset;
	uint64_t nsym = symtab->sh_size / sizeof(Elf64_Sym), strsz = strtab->sh_size;

	for (uint64_t s = 0; s < nsym; s++) {
		Elf64_Sym sym;
		const char *name;

		memcpy(&sym, buf + symtab->sh_offset + s * sizeof(sym), sizeof(sym));
		name = str + sym.st_name;
		if (sym.st_name >= strsz || !memchr(name, 0, strsz - sym.st_name))
			continue;
		if (!strcmp(name, "tohost"))
			vm->tohost_pa = sym.st_value;
		else if (!strcmp(name, "fromhost"))
			vm->fromhost_pa = sym.st_value;
	}
}

/* Finds tohost/fromhost in the symbol table, if there is one (optional). */
static void find_htif(struct vm *vm, const uint8_t *buf, size_t len)
{
	Elf64_Ehdr eh;

	get_ehdr(buf, &eh);
	if (eh.e_shentsize != sizeof(Elf64_Shdr) ||
	    !range_ok(len, eh.e_shoff, (uint64_t)eh.e_shnum * sizeof(Elf64_Shdr)))
		return;
	for (unsigned i = 0; i < eh.e_shnum; i++) {
		Elf64_Shdr sh, link;

		get_shdr(buf, &eh, i, &sh);
		if (sh.sh_type != SHT_SYMTAB || sh.sh_link >= eh.e_shnum)
			continue;
		get_shdr(buf, &eh, sh.sh_link, &link);
		if (range_ok(len, sh.sh_offset, sh.sh_size) &&
		    range_ok(len, link.sh_offset, link.sh_size))
			scan_symtab(vm, buf, &sh, &link);
	}
}

int boot_load_elf(struct vm *vm, const char *path, uint64_t *entry)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	int r = read_file("program", path, "", &buf, &len);

	if (r < 0)
		return r;
	r = check_header(path, buf, len);
	if (!r)
		r = load_segments(vm, path, buf, len);
	if (!r) {
		Elf64_Ehdr eh;

		get_ehdr(buf, &eh);
		*entry = eh.e_entry;
		find_htif(vm, buf, len);
		if (vm->tohost_pa && vm_ram_ptr(vm, vm->tohost_pa, 8) && !(vm->tohost_pa & 7))
			vm->mem.page_flags[(vm->tohost_pa - vm->mem.base) >> 12] |= PAGE_WATCH;
		else
			vm->tohost_pa = 0;
	}
	unmap_file(buf, len);
	return r;
}

/* ---- Linux ---- */

/* RISC-V Linux Image header (Documentation/arch/riscv/boot-image-header.rst). */
struct image_header {
	uint32_t code0, code1;
	uint64_t text_offset, image_size, flags;
	uint32_t version, res1;
	uint64_t res2;
	uint64_t magic;	 /* "RISCV\0\0\0" (deprecated) */
	uint32_t magic2; /* "RSC\x05" */
	uint32_t res3;
};

#define IMAGE_MAGIC2 0x05435352u

/* OpenSBI's struct fw_dynamic_info (version 2). */
struct fw_dynamic_info {
	uint64_t magic, version, next_addr, next_mode, options, boot_hart;
};

#define FW_DYNAMIC_MAGIC 0x4942534full
#define FW_NEXT_MODE_S	 1

static uint64_t align_down(uint64_t v, uint64_t a)
{
	return v & ~(a - 1);
}

static uint64_t align_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) & ~(a - 1);
}

/* Copies a whole file to guest physical pa; `what` names it in messages. */
static int place_file(struct vm *vm, const char *what, const char *path, const uint8_t *buf,
		      size_t len, uint64_t pa)
{
	uint8_t *dst = vm_ram_ptr(vm, pa, len);

	if (!dst) {
		log_err("%s: %s (%zu bytes) does not fit in RAM at 0x%llx (raise --mem)", what,
			path, len, (unsigned long long)pa);
		return -E2BIG;
	}
	memcpy(dst, buf, len);
	vm_ram_written(vm, pa, len);
	return 0;
}

static int load_firmware(struct vm *vm, const char *path, uint64_t *fw_end)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	int r = read_file("firmware", path, " (run make guest, or pass --firmware)", &buf, &len);

	if (r < 0)
		return r;
	if (len >= SELFMAG && !memcmp(buf, ELFMAG, SELFMAG)) {
		r = check_header(path, buf, len);
		r = r ?: load_segments(vm, path, buf, len);
		*fw_end = vm->mem.base + 2 * MiB;
	} else {
		r = place_file(vm, "firmware", path, buf, len, vm->mem.base);
		*fw_end = vm->mem.base + len;
	}
	unmap_file(buf, len);
	return r;
}

static int load_kernel(struct vm *vm, const char *path, uint64_t *entry, uint64_t *end)
{
	struct image_header ih;
	uint8_t *buf = NULL;
	size_t len = 0;
	uint64_t size;
	int r = read_file("kernel", path, "", &buf, &len);

	if (r < 0)
		return r;
	memset(&ih, 0, sizeof(ih)); /* a file shorter than the header has no magic */
	memcpy(&ih, buf, len < sizeof(ih) ? len : sizeof(ih));
	if (ih.magic2 != IMAGE_MAGIC2) {
		log_err("kernel: %s is not a RISC-V Linux Image (no RSC\\x05 magic at offset 0x38)",
			path);
		unmap_file(buf, len);
		return -ENOEXEC;
	}
	*entry = vm->mem.base + (ih.text_offset ? ih.text_offset : 2 * MiB);
	size = ih.image_size > len ? ih.image_size : len;
	if (size > vm->mem.size || *entry - vm->mem.base > vm->mem.size - size) {
		log_err("kernel: %s needs %llu MiB from 0x%llx: more than --mem %llu MiB gives",
			path, (unsigned long long)(size >> 20), (unsigned long long)*entry,
			(unsigned long long)(vm->mem.size >> 20));
		unmap_file(buf, len);
		return -E2BIG;
	}
	r = place_file(vm, "kernel", path, buf, len, *entry);
	*end = *entry + size;
	unmap_file(buf, len);
	return r;
}

/* Places the initrd just below `top`, above the kernel's end. */
static int load_initrd(struct vm *vm, const char *path, uint64_t kernel_end, uint64_t top,
		       uint64_t *start, uint64_t *end)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	int r = read_file("initrd", path, "", &buf, &len);

	if (r < 0)
		return r;
	if (len > top - kernel_end || align_down(top - len, 4096) < align_up(kernel_end, 2 * MiB)) {
		log_err("initrd: %s (%zu MiB) does not fit in RAM beside the kernel (raise --mem)",
			path, len >> 20);
		unmap_file(buf, len);
		return -E2BIG;
	}
	*start = align_down(top - len, 4096);
	*end = *start + len;
	r = place_file(vm, "initrd", path, buf, len, *start);
	unmap_file(buf, len);
	return r;
}

static int dump_dtb(const char *path, const void *blob, size_t size)
{
	FILE *f = fopen(path, "wb");
	int ok;

	if (!f) {
		log_err("--dump-dtb: cannot create %s: %s", path, strerror(errno));
		return -errno;
	}
	ok = fwrite(blob, 1, size, f) == size;
	ok = (fclose(f) == 0) && ok;
	if (!ok) {
		log_err("--dump-dtb: cannot write %s", path);
		return -EIO;
	}
	return 0;
}

/* Builds the device tree and copies it to a 2 MiB-aligned address near the top of RAM
 * (as QEMU does); the fw_dynamic info goes just below it. */
static int place_dtb(struct vm *vm, const struct boot_linux *b, const struct fdt_params *fp,
		     uint64_t dtb_pa)
{
	void *blob = NULL;
	size_t size = 0;
	int r = vm_fdt_build(vm, fp, &blob, &size);

	if (r == -E2BIG) {
		log_err("device tree: larger than %u KiB (the command line is %zu bytes)",
			FDT_MAX_SIZE >> 10, b->cmdline ? strlen(b->cmdline) : 0);
		return r;
	}
	if (r < 0) {
		log_err("device tree: cannot build it: %s", strerror(-r));
		return r;
	}
	if (b->dump_dtb)
		r = dump_dtb(b->dump_dtb, blob, size);
	r = r ?: place_file(vm, "device tree", "(generated)", blob, size, dtb_pa);
	core_free(blob);
	return r;
}

/* A riscv64 Linux kernel (5.17 on, SPARSEMEM_EXTREME) allocates the root table of its
 * memory map in one block early in boot (mm/sparse.c memblocks_present): a pointer per
 * root, for 2^(56-27) sections of 128 MiB at 4096 / sizeof(struct mem_section) a root,
 * so 32 MiB when CONFIG_PAGE_EXTENSION makes that struct 32 bytes (Debian's kernel), 16
 * MiB otherwise. Where the RAM after the kernel's image is too small for it and the
 * kernel's other early allocations, it panics in sparse_init before its console starts:
 * nothing is printed and the hart spins for good, so this is said before it runs (a
 * warning: other kernels may need less). Debian's 6.12 failed so with 27 and 35 MiB
 * after its image (--mem 64M, 72M) and got past it with 43 (80M; docs/INTERNALS.md). */
#define LINUX_EARLY_NEED (40 * MiB)
static void warn_small_ram(const struct vm *vm, uint64_t kernel_end, uint64_t next_used)
{
	uint64_t room = next_used > kernel_end ? next_used - kernel_end : 0;

	if (room < LINUX_EARLY_NEED)
		log_warn("--mem %llu MiB leaves %llu MiB after the kernel: a riscv64 Linux kernel "
			 "takes 32 MiB of it for its memory map at boot, and panics before "
			 "printing anything without it (Debian's kernel wants --mem 96M or more)",
			 (unsigned long long)(vm->mem.size >> 20),
			 (unsigned long long)(room >> 20));
}

int boot_load_linux(struct vm *vm, const struct boot_linux *b)
{
	struct fdt_params fp = {.bootargs = b->cmdline};
	uint64_t top = vm->mem.base + vm->mem.size, fw_end = 0, kentry = 0, kend = 0;
	uint64_t dtb_pa, info_pa, initrd_top;
	struct fw_dynamic_info *info;
	int r;

	if (vm->mem.size < 16 * MiB) {
		log_err("--mem: %llu KiB is too small to boot Linux (give at least 64M)",
			(unsigned long long)(vm->mem.size >> 10));
		return -E2BIG;
	}
	dtb_pa = align_down(top - 2 * MiB, 2 * MiB);
	info_pa = dtb_pa - 4096;
	initrd_top = info_pa;
	r = load_firmware(vm, b->firmware, &fw_end);
	r = r ?: load_kernel(vm, b->kernel, &kentry, &kend);
	if (!r && fw_end > kentry) {
		log_err("firmware: %s (%llu KiB) overlaps the kernel at 0x%llx", b->firmware,
			(unsigned long long)((fw_end - vm->mem.base) >> 10),
			(unsigned long long)kentry);
		r = -E2BIG;
	}
	if (!r && kend > initrd_top) {
		log_err("kernel: %s leaves no room for the device tree (raise --mem)", b->kernel);
		r = -E2BIG;
	}
	if (!r && b->initrd)
		r = load_initrd(vm, b->initrd, kend, initrd_top, &fp.initrd_start, &fp.initrd_end);
	r = r ?: place_dtb(vm, b, &fp, dtb_pa);
	if (r)
		return r;
	warn_small_ram(vm, kend, b->initrd ? fp.initrd_start : info_pa);
	info = vm_ram_ptr(vm, info_pa, sizeof(*info));
	*info = (struct fw_dynamic_info){.magic = FW_DYNAMIC_MAGIC,
					 .version = 2,
					 .next_addr = kentry,
					 .next_mode = FW_NEXT_MODE_S,
					 .options = 0,
					 .boot_hart = ~0ull};
	for (unsigned i = 0; i < vm->nharts; i++) {
		struct hart *h = vm->harts[i];
		h->pc = vm->mem.base;
		h->x[10] = i;
		h->x[11] = dtb_pa;
		h->x[12] = info_pa;
	}
	return 0;
}
