# tasks/seccomp.mk: libseccomp built with musl-gcc for the static agent, and
# the seccomp unit tests. docs/seccomp.md says why and how.
#
# The Makefile includes this fragment before its own variables, so at parse
# time only BUILD, MUSL_CC, CLANG and KINC are set; recipes (expanded when
# they run) may use everything, COMMON and ASAN_CFLAGS included.

# The rules below would become make's default goal; put back what was
# there before (empty: the Makefile's `all`, defined later, takes it).
seccomp_saved_goal := $(.DEFAULT_GOAL)

# Debian's libseccomp.a is compiled against glibc: musl cannot link it
# (__fprintf_chk is glibc-only) and should not (glibc struct layouts and
# macros are baked into it). So the same Debian source is built with
# musl-gcc. Pinned for reproducible builds; a newer Debian revision is used,
# with a warning, only when the archive no longer has this one.
SECCOMP_DEB_VER := 2.5.4-1+deb12u1
SECCOMP_DIR     := $(BUILD)/seccomp-musl
SECCOMP_LIB     := $(SECCOMP_DIR)/lib/libseccomp.a
SECCOMP_INC     := $(SECCOMP_DIR)/include
# The release build's code-size flags.
SECCOMP_CFLAGS  := -Os -ffunction-sections -fdata-sections -fno-asynchronous-unwind-tables \
                   -fno-stack-protector
# gperf: Debian's patch updates the syscall table, which is then regenerated.
# dpkg-dev: dpkg-source unpacks and patches the source package.
# libseccomp-dev: the glibc library for the ASan and valgrind agents.
DEB_PKGS   += libseccomp-dev gperf dpkg-dev
REL_INC    += -I$(SECCOMP_INC)
REL_LIBS   += $(SECCOMP_LIB)
REL_DEPS   += $(SECCOMP_LIB)
ASAN_LIBS  += -lseccomp
UNIT_TESTS += $(BUILD)/unit/test_seccomp_static

# Relink the agent when the library changes ($^ drops the duplicate, and an
# archive listed before the objects as well as after them is harmless).
$(BUILD)/taskinit: $(SECCOMP_LIB)

# A private apt state under $(SECCOMP_DIR)/apt: deb-src entries made from
# the machine's own Debian entries (same mirror, same suites), and lists of
# their own, so the system's apt configuration is never touched.
SECCOMP_APT      = $(abspath $(SECCOMP_DIR))/apt
SECCOMP_APT_OPTS = -qq -o Dir::Etc::SourceList=$(SECCOMP_APT)/sources.list \
	-o Dir::Etc::SourceParts=$(SECCOMP_APT)/sources.list.d \
	-o Dir::State::Lists=$(SECCOMP_APT)/lists -o Dir::Cache=$(SECCOMP_APT)/cache \
	-o Dir::Cache::pkgcache= -o Dir::Cache::srcpkgcache= -o APT::Sandbox::User=root

# Rewritten only when the version or the flags change, so that such a change
# rebuilds the library and nothing else does.
$(SECCOMP_DIR)/config: seccomp-force
	@mkdir -p $(@D)
	@echo '$(SECCOMP_DEB_VER) $(MUSL_CC) $(SECCOMP_CFLAGS)' | cmp -s - $@ 2>/dev/null || \
		echo '$(SECCOMP_DEB_VER) $(MUSL_CC) $(SECCOMP_CFLAGS)' >$@

.PHONY: seccomp-force
seccomp-force:

# Quiet on success: each step logs to $(SECCOMP_LOG), shown when it fails.
SECCOMP_LOG = $(abspath $(SECCOMP_DIR))/build.log
seccomp_step = >>$(SECCOMP_LOG) 2>&1 || { tail -n 40 $(SECCOMP_LOG); \
	echo "seccomp: $(1) failed; full log: $(SECCOMP_LOG)"; exit 1; }

$(SECCOMP_LIB): $(SECCOMP_DIR)/config | $(KINC)/.stamp
	@command -v gperf >/dev/null && command -v dpkg-source >/dev/null && \
		command -v $(MUSL_CC) >/dev/null || $(MAKE) --no-print-directory deps
	@echo "seccomp: libseccomp $(SECCOMP_DEB_VER), Debian's source package, built with $(MUSL_CC)"
	@rm -rf $(SECCOMP_DIR)/src $(SECCOMP_DIR)/lib $(SECCOMP_INC) $(SECCOMP_APT)/sources.list.d
	@mkdir -p $(SECCOMP_APT)/lists/partial $(SECCOMP_APT)/cache/archives/partial \
		$(SECCOMP_APT)/sources.list.d $(SECCOMP_DIR)/dl $(SECCOMP_DIR)/lib $(SECCOMP_INC)
	@: >$(SECCOMP_LOG)
	@# deb-src twins of the one-line entries (sources.list, *.list) ...
	@cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null | \
		sed -n 's/^[[:space:]]*deb[[:space:]]\(.*debian.*\)/deb-src \1/p' \
		>$(SECCOMP_APT)/sources.list
	@# ... and of the deb822 ones (*.sources)
	@for f in /etc/apt/sources.list.d/*.sources; do \
		[ -f "$$f" ] && grep -q '^URIs:.*debian' "$$f" || continue; \
		sed 's/^Types:.*/Types: deb-src/' "$$f" >$(SECCOMP_APT)/sources.list.d/$${f##*/}; \
	done
	@# neither: nothing to derive deb-src entries from
	@if [ ! -s $(SECCOMP_APT)/sources.list ] && [ -z "$$(ls $(SECCOMP_APT)/sources.list.d)" ]; then \
		echo "seccomp: no Debian apt source configured to fetch libseccomp's source from" >&2; \
		exit 1; \
	fi
	@apt-get $(SECCOMP_APT_OPTS) update $(call seccomp_step,apt-get update)
	@# Files already in dl/ with the right hashes are not fetched again.
	@cd $(SECCOMP_DIR)/dl && rm -f *.dsc && \
		{ apt-get $(SECCOMP_APT_OPTS) --download-only source libseccomp=$(SECCOMP_DEB_VER) || \
		  apt-get $(SECCOMP_APT_OPTS) --download-only source libseccomp; } \
		$(call seccomp_step,apt-get source)
	@[ -f $(SECCOMP_DIR)/dl/libseccomp_$(SECCOMP_DEB_VER).dsc ] || \
		echo "seccomp: WARNING: Debian no longer has libseccomp $(SECCOMP_DEB_VER);" \
			"using its current version: update SECCOMP_DEB_VER in tasks/seccomp.mk" >&2
	@# apt checked the files against the signed Sources index; dpkg-source's
	@# own signature check only warns (no maintainer keyring installed).
	@dpkg-source -x $(SECCOMP_DIR)/dl/libseccomp_*.dsc $(SECCOMP_DIR)/src \
		$(call seccomp_step,dpkg-source -x)
	@# musl-gcc has no kernel headers: the agent's linux/, asm/, asm-generic/
	@cd $(SECCOMP_DIR)/src && CC=$(MUSL_CC) \
		CFLAGS="$(SECCOMP_CFLAGS) -isystem $(abspath $(KINC))" \
		./configure --enable-static --disable-shared --disable-python \
		--disable-dependency-tracking $(call seccomp_step,configure)
	@+$(MAKE) --no-print-directory -C $(SECCOMP_DIR)/src/src V=0 libseccomp.la \
		$(call seccomp_step,make)
	@cp $(SECCOMP_DIR)/src/include/seccomp.h $(SECCOMP_DIR)/src/include/seccomp-syscalls.h \
		$(SECCOMP_INC)/
	@cp $(SECCOMP_DIR)/src/src/.libs/libseccomp.a $@
	@echo "seccomp: built $@ (Debian $$(sed -n '1s/.*(\(.*\)).*/\1/p' $(SECCOMP_DIR)/src/debian/changelog))"

# Unit tests: the same test source twice.
# - test_seccomp: clang, ASan+UBSan, glibc and Debian's libseccomp.
# - test_seccomp_static: musl-gcc -static with the library above: the proof
#   that the static agent's libseccomp builds filters the kernel enforces.
SECCOMP_TEST_DEPS := tests/unit/test_seccomp.c tasks/seccomp.c tasks/seccomp.h tests/unit/check.h

$(BUILD)/unit/test_seccomp: $(SECCOMP_TEST_DEPS)
	@mkdir -p $(dir $@)
	$(CLANG) $(ASAN_CFLAGS) tests/unit/test_seccomp.c tasks/seccomp.c $(ASAN_LIBS) -o $@

$(BUILD)/unit/test_seccomp_static: $(SECCOMP_TEST_DEPS) $(SECCOMP_LIB) $(KINC)/.stamp
	@mkdir -p $(dir $@)
	$(MUSL_CC) $(COMMON) -O1 -static -isystem $(KINC) -I$(SECCOMP_INC) \
		-DTEST_SECCOMP_STATIC tests/unit/test_seccomp.c tasks/seccomp.c $(SECCOMP_LIB) -o $@

.DEFAULT_GOAL := $(seccomp_saved_goal)
