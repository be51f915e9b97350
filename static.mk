# static.mk: `make static` builds ./pgboot-static, a fully static pgboot linked with
# musl against libpq, OpenSSL (TLS) and inih from scripts/static-deps.sh, stripped.
# Included from the top Makefile; every name here starts with STATIC_ or static.
#
# Hardening notes: -fstack-protector-strong works (musl provides the canary and
# __stack_chk_fail). -D_FORTIFY_SOURCE=2 is kept for parity but is a no-op: musl's
# headers have no fortified functions. RELRO is not requested: musl's static start-up
# never mprotects the RELRO segment (a write to .data.rel.ro succeeds), so the flag
# would only claim a protection the binary does not have. Debian's musl-gcc cannot
# link static-pie.

STATIC_DEPS_SCRIPT := scripts/static-deps.sh
# Where the script caches the libraries for the pinned versions (no build here).
STATIC_DEPS := $(shell $(STATIC_DEPS_SCRIPT) --dir)
STATIC_CC := musl-gcc
STATIC_STRIP := strip
STATIC_SRCS ?= $(filter-out src/test_% src/%_test.c,$(wildcard src/*.c))
STATIC_HDRS ?= $(wildcard src/*.h)
STATIC_WARNINGS := -std=c11 -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes \
	-Wmissing-prototypes -Wformat=2 -Wvla -fno-common -Werror
# STATIC_EXTRA_CPPFLAGS: the top Makefile's own macros and -Isrc (set before or after
# the include: this variable is expanded late).
STATIC_CPPFLAGS = -DPGBOOT_STATIC=1 -I$(STATIC_DEPS)/include $(STATIC_EXTRA_CPPFLAGS)
STATIC_CFLAGS := $(STATIC_WARNINGS) -Os -ffunction-sections -fdata-sections \
	-fno-asynchronous-unwind-tables -D_FORTIFY_SOURCE=2 -fstack-protector-strong
STATIC_LDFLAGS := -static -Wl,--gc-sections -Wl,-z,noexecstack -L$(STATIC_DEPS)/lib
# libpq.a leaves pgcommon/pgport out; they come before OpenSSL, which they use.
STATIC_LIBS := -lpq -lpgcommon_shlib -lpgport_shlib -lssl -lcrypto -linih -lcjson

ifeq ($(V),1)
STATIC_Q :=
else
STATIC_Q := @
endif

.PHONY: static static-deps clean-static distclean-static

static: pgboot-static

# Only the libraries (docker/Dockerfile builds them in a layer of their own).
static-deps: $(STATIC_DEPS)/.complete

# The directory name carries the versions and build options, so a new pin or option
# set is a new target; an existing one is reused in milliseconds.
$(STATIC_DEPS)/.complete:
	@echo "  DEPS    $(notdir $(STATIC_DEPS))"
	$(STATIC_Q)$(STATIC_DEPS_SCRIPT) >/dev/null

# The top Makefile is a prerequisite too: it sets the version and STATIC_EXTRA_CPPFLAGS.
pgboot-static: $(STATIC_SRCS) $(STATIC_HDRS) $(STATIC_DEPS)/.complete \
		$(firstword $(MAKEFILE_LIST)) static.mk
	@echo "  CCLD    $@"
	$(STATIC_Q)$(STATIC_CC) $(STATIC_CPPFLAGS) $(STATIC_CFLAGS) $(STATIC_LDFLAGS) \
		-o $@.tmp $(STATIC_SRCS) $(STATIC_LIBS)
	$(STATIC_Q)$(STATIC_STRIP) --strip-all $@.tmp
	$(STATIC_Q)mv -f $@.tmp $@

clean-static:
	rm -f pgboot-static pgboot-static.tmp

# Also forgets the built libraries: the next `make static` rebuilds them (1 to 1.5 min).
distclean-static: clean-static
	rm -rf .cache/static
