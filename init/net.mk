# init/net.mk: network configuration (task.net.*, the net verbs). nlinline
# is header-only; musl-gcc sees only its two headers, from $(NLINC), the way
# it sees the kernel's through $(KINC). docs/network.md says the rest.
#
# Included before the Makefile's own variables: at parse time only BUILD,
# MUSL_CC, CLANG and KINC are set.

net_saved_goal := $(.DEFAULT_GOAL)

# iproute2: the host tests build network namespaces and veth pairs with ip
# (the agent itself never runs it).
DEB_PKGS  += nlinline-dev iproute2
NLINC     := $(BUILD)/nlinc
REL_INC   += -isystem $(NLINC)
REL_DEPS  += $(NLINC)/.stamp
PURE_SRCS += init/netconfig.c init/rtnl.c

$(NLINC)/.stamp:
	@mkdir -p $(NLINC)
	@[ -f /usr/include/nlinline+.h ] || $(MAKE) --no-print-directory deps
	ln -sfn /usr/include/nlinline.h $(NLINC)/nlinline.h
	ln -sfn /usr/include/nlinline+.h $(NLINC)/nlinline+.h
	@touch $@

# init/nlsock.c waits on sockets (not pure): its unit test links it by name
# and drives it over a socketpair standing in for the kernel.
$(BUILD)/unit/test_nlsock: tests/unit/test_nlsock.c init/nlsock.c init/net.h \
		$(BUILD)/asan/libpure.a $(wildcard tests/unit/*.h)
	@mkdir -p $(dir $@)
	$(CLANG) $(ASAN_CFLAGS) $< init/nlsock.c $(BUILD)/asan/libpure.a -lpthread -o $@

.DEFAULT_GOAL := $(net_saved_goal)
