# image/image.mk: the guest initramfs and the guest test tier (issue 6).
# docs/image.md says how the image is built and how guest tests are written.
#
# Included before the Makefile's own variables: at parse time only BUILD,
# MUSL_CC, CLANG and KINC are set, so HELPERS and the like are used in
# recipes only (expanded when they run).

# The rules below would become make's default goal; put back what was there.
image_saved_goal := $(.DEFAULT_GOAL)

DEB_PKGS += busybox-static cpio linux-image-cloud-amd64 qemu-system-x86 ncat socat e2fsprogs

IMAGE_DIR   := $(BUILD)/image
INITRAMFS   := $(IMAGE_DIR)/initramfs.cpio.gz
# The same tree as an ext4 disk, for task.root= and root= boots.
ROOTFS      := $(IMAGE_DIR)/rootfs.ext4
# The guest kernel: Debian's cloud kernel, the newest installed one, unless
# KERNEL=/path/to/vmlinuz is given. KVER is taken from the file name
# (vmlinuz-VERSION) and picks /lib/modules/KVER; KVER= overrides it.
KERNEL      ?= $(lastword $(sort $(wildcard /boot/vmlinuz-*-cloud-amd64)))
KVER        ?= $(patsubst vmlinuz-%,%,$(notdir $(KERNEL)))
# Seconds per boot before the runner gives up on it.
GUEST_TIMEOUT ?= 60
# Only these guest tests (names without .sh); empty: all of tests/guest/cases.
GUEST_TESTS ?=

# `make bench`: the guest's boot timeline (it needs the image first).
BENCH_BINS += image
BENCH_CMDS += tests/bench/guest_boot_bench.py

.PHONY: image guest-test run run-test

# The test image's clients: ncat and socat from the host (with their shared
# libraries), and taskctl once vsock/taskctl.mk builds it.
IMAGE_TASKCTL = $(if $(wildcard vsock/taskctl.mk),$(BUILD)/taskctl)

# Always rebuilt (several seconds, mostly gzip): cheaper than tracking
# busybox, the kernel's modules, the clients and the test scripts as
# prerequisites. The initramfs and the ext4 rootfs hold the same tree.
image: deps
	@+$(MAKE) --no-print-directory $(BUILD)/taskinit $(HELPERS) $(IMAGE_TASKCTL)
	@[ -n "$(KERNEL)" ] && [ -f "$(KERNEL)" ] || { \
		echo "image: no kernel: install linux-image-cloud-amd64 (make deps) or pass KERNEL=" >&2; exit 1; }
	BINS="$$(command -v ncat) $$(command -v socat) $$([ -f $(BUILD)/taskctl ] && echo $(BUILD)/taskctl)" \
		image/mkinitramfs.sh $(INITRAMFS) $(IMAGE_DIR)/root $(KVER) $(BUILD)/taskinit $(HELPERS)
	image/mkrootfs.sh $(ROOTFS) $(IMAGE_DIR)/root
	@echo "$(KERNEL)" >$(IMAGE_DIR)/kernel

guest-test: image
	tests/guest/run.sh -k $(KERNEL) -i $(INITRAMFS) -d $(ROOTFS) -t $(GUEST_TIMEOUT) -o $(BUILD)/guest-logs $(GUEST_TESTS)

# The guest in QEMU with a shell on this terminal (image/run.sh).
run: image
	image/run.sh $(KERNEL) $(INITRAMFS) $(BUILD)/taskctl

# `make run` driven without a terminal: the shell answers, `exit` powers off.
run-test:
	BUILD=$(BUILD) tests/guest/make_run_test.py

.DEFAULT_GOAL := $(image_saved_goal)
