/*
 * ELF64 loader for bare-metal programs. The file is read whole into memory and every
 * offset and size from it is checked against the file size before use.
 */
#include "machine/boot.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/log.h"
#include "cpu/hart.h"
#include "machine/machine.h"

#define ELF_MAX_SIZE (1ull << 32)

static int read_file(const char *path, uint8_t **buf, size_t *len)
{
	struct stat st;
	size_t got = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC), r = 0;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		r = -errno;
		goto out_close;
	}
	if (!S_ISREG(st.st_mode)) {
		r = -EISDIR;
		goto out_close;
	}
	if ((uint64_t)st.st_size > ELF_MAX_SIZE) {
		r = -EFBIG;
		goto out_close;
	}
	*len = (size_t)st.st_size;
	*buf = core_alloc(*len ? *len : 1);
	if (!*buf) {
		r = -ENOMEM;
		goto out_close;
	}
	while (got < *len) {
		ssize_t n = read(fd, *buf + got, *len - got);
		if (n <= 0) {
			r = n < 0 ? -errno : -EIO;
			core_free(*buf);
			goto out_close;
		}
		got += (size_t)n;
	}
out_close:
	close(fd);
	return r;
}

static bool range_ok(size_t len, uint64_t off, uint64_t size)
{
	return off <= len && size <= len - off;
}

static int check_header(const char *path, const uint8_t *buf, size_t len)
{
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)(const void *)buf;

	if (len < EI_NIDENT || memcmp(buf, ELFMAG, SELFMAG) != 0) {
		log_err("%s: not an ELF file", path);
		return -ENOEXEC;
	}
	if (buf[EI_CLASS] != ELFCLASS64) {
		log_err("%s: is a 32-bit ELF; lodge runs RV64 programs only (build with -march=rv64...)",
			path);
		return -ENOEXEC;
	}
	if (len < sizeof(*eh) || buf[EI_DATA] != ELFDATA2LSB) {
		log_err("%s: truncated or big-endian ELF header", path);
		return -ENOEXEC;
	}
	if (eh->e_machine != EM_RISCV) {
		log_err("%s: ELF is for machine %u, not RISC-V (%u)", path, eh->e_machine, EM_RISCV);
		return -ENOEXEC;
	}
	if (eh->e_phentsize != sizeof(Elf64_Phdr) ||
	    !range_ok(len, eh->e_phoff, (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr))) {
		log_err("%s: corrupt ELF program header table", path);
		return -ENOEXEC;
	}
	return 0;
}

static int load_segments(struct vm *vm, const char *path, const uint8_t *buf, size_t len)
{
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)(const void *)buf;
	const Elf64_Phdr *ph = (const Elf64_Phdr *)(const void *)(buf + eh->e_phoff);
	unsigned loaded = 0;

	for (unsigned i = 0; i < eh->e_phnum; i++) {
		uint8_t *dst;

		if (ph[i].p_type != PT_LOAD || ph[i].p_memsz == 0)
			continue;
		if (ph[i].p_filesz > ph[i].p_memsz || !range_ok(len, ph[i].p_offset, ph[i].p_filesz)) {
			log_err("%s: segment %u: corrupt sizes or offset", path, i);
			return -ENOEXEC;
		}
		dst = vm_ram_ptr(vm, ph[i].p_paddr, ph[i].p_memsz);
		if (!dst) {
			log_err("%s: segment %u at 0x%llx-0x%llx lies outside RAM 0x%llx-0x%llx "
				"(link it inside RAM, or raise --mem)",
				path, i, (unsigned long long)ph[i].p_paddr,
				(unsigned long long)(ph[i].p_paddr + ph[i].p_memsz - 1),
				(unsigned long long)vm->ram_base,
				(unsigned long long)(vm->ram_base + vm->ram_size - 1));
			return -ERANGE;
		}
		memcpy(dst, buf + ph[i].p_offset, ph[i].p_filesz);
		memset(dst + ph[i].p_filesz, 0, ph[i].p_memsz - ph[i].p_filesz);
		vm_ram_written(vm, ph[i].p_paddr, ph[i].p_memsz);
		loaded++;
	}
	if (!loaded) {
		log_err("%s: ELF has no loadable segments", path);
		return -ENOEXEC;
	}
	return 0;
}

/* Finds tohost/fromhost in the symbol table, if there is one (optional). */
static void find_htif(struct vm *vm, const uint8_t *buf, size_t len)
{
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)(const void *)buf;
	const Elf64_Shdr *sh;

	if (eh->e_shentsize != sizeof(Elf64_Shdr) ||
	    !range_ok(len, eh->e_shoff, (uint64_t)eh->e_shnum * sizeof(Elf64_Shdr)))
		return;
	sh = (const Elf64_Shdr *)(const void *)(buf + eh->e_shoff);
	for (unsigned i = 0; i < eh->e_shnum; i++) {
		const Elf64_Sym *sym;
		const char *str;
		uint64_t nsym, strsz;

		if (sh[i].sh_type != SHT_SYMTAB || sh[i].sh_link >= eh->e_shnum ||
		    !range_ok(len, sh[i].sh_offset, sh[i].sh_size) ||
		    !range_ok(len, sh[sh[i].sh_link].sh_offset, sh[sh[i].sh_link].sh_size))
			continue;
		sym = (const Elf64_Sym *)(const void *)(buf + sh[i].sh_offset);
		nsym = sh[i].sh_size / sizeof(Elf64_Sym);
		str = (const char *)buf + sh[sh[i].sh_link].sh_offset;
		strsz = sh[sh[i].sh_link].sh_size;
		for (uint64_t s = 0; s < nsym; s++) {
			const char *name = str + sym[s].st_name;
			if (sym[s].st_name >= strsz || !memchr(name, 0, strsz - sym[s].st_name))
				continue;
			if (!strcmp(name, "tohost"))
				vm->tohost_pa = sym[s].st_value;
			else if (!strcmp(name, "fromhost"))
				vm->fromhost_pa = sym[s].st_value;
		}
	}
}

int boot_load_elf(struct vm *vm, const char *path, uint64_t *entry)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	int r = read_file(path, &buf, &len);

	if (r < 0) {
		log_err("%s: cannot read: %s", path, strerror(-r));
		return r;
	}
	r = check_header(path, buf, len);
	if (!r)
		r = load_segments(vm, path, buf, len);
	if (!r) {
		*entry = ((const Elf64_Ehdr *)(const void *)buf)->e_entry;
		find_htif(vm, buf, len);
		if (vm->tohost_pa && vm_ram_ptr(vm, vm->tohost_pa, 8) && !(vm->tohost_pa & 7))
			vm->code_pages[(vm->tohost_pa - vm->ram_base) >> 12] |= PAGE_WATCH;
		else
			vm->tohost_pa = 0;
	}
	core_free(buf);
	return r;
}
