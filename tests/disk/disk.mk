# The disk suite's test driver (tests/disk/disktool.c), linked against liblodge.a with the
# MODE's compiler and sanitizers; `make unit` builds it. Included by the Makefile.

$(BUILD)/disk/disktool: tests/disk/disktool.c $(BUILD)/liblodge.a
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	@$(CC) $(CFLAGS) -o $@ $< $(BUILD)/liblodge.a $(LDFLAGS) $(LIBS)

unit: $(BUILD)/disk/disktool
