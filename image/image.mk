# image/image.mk: the guest initramfs and the guest test tier (issue 6).
# docs/image.md says how the image is built and how guest tests are written.
#
# Included before the Makefile's own variables: at parse time only BUILD,
# MUSL_CC, CLANG and KINC are set, so HELPERS and the like are used in
# recipes only (expanded when they run).

# The rules below would become make's default goal; put back what was there.
image_saved_goal := $(.DEFAULT_GOAL)

DEB_PKGS += busybox-static cpio linux-image-cloud-amd64 qemu-system-x86

IMAGE_DIR   := $(BUILD)/image
INITRAMFS   := $(IMAGE_DIR)/initramfs.cpio.gz
# The guest kernel: Debian's cloud kernel, the newest installed one, unless
# KERNEL=/path/to/vmlinuz is given. KVER is taken from the file name
# (vmlinuz-VERSION) and picks /lib/modules/KVER; KVER= overrides it.
KERNEL      ?= $(lastword $(sort $(wildcard /boot/vmlinuz-*-cloud-amd64)))
KVER        ?= $(patsubst vmlinuz-%,%,$(notdir $(KERNEL)))
# Seconds per boot before the runner gives up on it.
GUEST_TIMEOUT ?= 60
# Only these guest tests (names without .sh); empty: all of tests/guest/cases.
GUEST_TESTS ?=

.PHONY: image guest-test

# Always rebuilt (about a second): cheaper than tracking busybox, the
# kernel's modules and the test scripts as prerequisites.
image: deps
	@+$(MAKE) --no-print-directory $(BUILD)/taskinit $(HELPERS)
	@[ -n "$(KERNEL)" ] && [ -f "$(KERNEL)" ] || { \
		echo "image: no kernel: install linux-image-cloud-amd64 (make deps) or pass KERNEL=" >&2; exit 1; }
	image/mkinitramfs.sh $(INITRAMFS) $(IMAGE_DIR)/root $(KVER) $(BUILD)/taskinit $(HELPERS)
	@echo "$(KERNEL)" >$(IMAGE_DIR)/kernel

guest-test: image
	tests/guest/run.sh -k $(KERNEL) -i $(INITRAMFS) -t $(GUEST_TIMEOUT) -o $(BUILD)/guest-logs $(GUEST_TESTS)

.DEFAULT_GOAL := $(image_saved_goal)
