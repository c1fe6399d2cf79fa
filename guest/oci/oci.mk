# The OCI container guest (issue 13): `lodge oci` boots the default guest's kernel with
# guest-cache/out/oci-initrd.img (Lodge's init for bundles and the vsock modules) plus an
# archive of the container's rootfs. `make oci-guest` builds it; needs the riscv64 cross
# compiler and C library (scripts/install-deps.sh) and the default guest (make guest).

OCI_INIT	:= $(GUEST_OUT)/oci-init
OCI_INITRD	:= $(GUEST_OUT)/oci-initrd.img

.PHONY: oci-guest
oci-guest: $(OCI_INITRD) $(GUEST_OUT)/Image $(GUEST_OUT)/fw_dynamic.bin

# After the fetch, which makes $(GUEST_OUT) afresh (and so deletes an oci-init built before it).
$(OCI_INIT): guest/oci/oci-init.c src/host/oci_proto.h $(GUEST_OUT)/modules/modules.load
	@mkdir -p $(GUEST_OUT)
	riscv64-linux-gnu-gcc -std=gnu11 -O2 -Wall -Wextra -Werror -static -s -Isrc -o $@ $<

$(OCI_INITRD): $(OCI_INIT) guest/oci/mkinitrd.sh $(GUEST_OUT)/modules/modules.load
	@guest/oci/mkinitrd.sh $(OCI_INIT) $(GUEST_OUT)/modules $@
