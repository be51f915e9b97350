# pgboot: plain Makefile. `make` builds ./pgboot, `make check` runs every test.
# Variables: PREFIX, DESTDIR, CC, CFLAGS, SANITIZE=address,undefined, V=1 (verbose).

VERSION   := 0.1.0
PREFIX    ?= /usr/local
DESTDIR   ?=
CC        ?= cc
CFLAGS    ?= -O2 -g
BUILD     ?= build

WARN      := -std=c11 -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes \
             -Wmissing-prototypes -Wformat=2 -Wvla -fno-common -Werror
HARDEN    := -D_FORTIFY_SOURCE=2 -fstack-protector-strong -fPIE
PG_INC    := $(shell pg_config --includedir 2>/dev/null || echo /usr/include/postgresql)
ALL_CPPFLAGS = -D_GNU_SOURCE -DPGBOOT_VERSION='"$(VERSION)"' -I$(PG_INC) -Isrc $(CPPFLAGS)
ALL_CFLAGS   = $(WARN) $(HARDEN) $(CFLAGS) $(SAN_FLAGS)
ALL_LDFLAGS  = -pie -Wl,-z,relro,-z,now $(LDFLAGS) $(SAN_FLAGS)
LDLIBS      ?= -lpq -linih -lcjson -lcrypto

ifneq ($(SANITIZE),)
SAN_FLAGS := -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
BUILD     := $(BUILD)/san
endif

ifeq ($(V),1)
Q :=
else
Q := @
endif

SRCS      := $(wildcard src/*.c)
LIB_SRCS  := $(filter-out src/main.c,$(SRCS))
OBJS      := $(SRCS:src/%.c=$(BUILD)/%.o)
LIB_OBJS  := $(LIB_SRCS:src/%.c=$(BUILD)/%.o)
UNIT_SRCS := $(wildcard tests/unit/*.c)
UNIT_OBJS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/unit/%.o)

.PHONY: all check unit integration deps install uninstall clean demo bench

all: pgboot

pgboot: $(OBJS)
	@echo "  LD      $@"
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $(OBJS) $(LDLIBS)

$(BUILD)/%.o: src/%.c
	@mkdir -p $(@D)
	@echo "  CC      $<"
	$(Q)$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/unit/%.o: tests/unit/%.c
	@mkdir -p $(@D)
	@echo "  CC      $<"
	$(Q)$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

tests/unit/unit_tests: $(UNIT_OBJS) $(LIB_OBJS)
	@echo "  LD      $@"
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $(UNIT_OBJS) $(LIB_OBJS) $(LDLIBS)

# Installs the Debian packages the build and the tests need (as root), or
# prints the apt-get line to run.
deps:
	$(Q)scripts/install-deps.sh

unit: tests/unit/unit_tests
	$(Q)tests/unit/unit_tests

# The whole suite runs twice: with ./pgboot-static (and in a chroot), then the dynamic pass
# with ./pgboot-asan (ASan + UBSan: the same code as ./pgboot, so a plain dynamic pass would
# only repeat it; `tests/run` alone still runs both plain passes); before them, the static
# analysis, the replay of every fuzz input under ASan + UBSan and a few seconds of each
# fuzzer; after them, the unit tests, badinput.sh and faults.sh under valgrind
# (mk/quality.mk), and the container engines (tests/containers). Each part prints its wall time (mk/timed.sh).
check: deps
	$(Q)mk/timed.sh build $(MAKE) --no-print-directory pgboot tests/unit/unit_tests static
	$(Q)mk/timed.sh lint $(MAKE) --no-print-directory lint
	$(Q)mk/timed.sh fuzz-replay $(MAKE) --no-print-directory fuzz-replay
	$(Q)mk/timed.sh fuzz-smoke $(MAKE) --no-print-directory fuzz-smoke
	$(Q)mk/timed.sh lint-docker scripts/lint-docker.sh
	$(Q)UNIT_TESTS=tests/unit/unit_tests PGBOOT_STATIC=$(CURDIR)/pgboot-static PGB_PASSES=static \
		mk/timed.sh tests tests/run
	$(Q)mk/timed.sh check-asan $(MAKE) --no-print-directory check-asan
	$(Q)mk/timed.sh check-memcheck $(MAKE) --no-print-directory check-memcheck
	$(Q)mk/timed.sh check-containers $(MAKE) --no-print-directory check-containers

# Real container engines (tests/containers/run, as root): builds docker/Dockerfile and the
# example images in a dockerd of its own, runs them, plays k8s/ with podman kube play and
# docker/compose.yaml with docker-compose; installs the engines (scripts/container-deps.sh).
.PHONY: check-containers
check-containers: deps
	$(Q)tests/containers/run

demo: deps pgboot
	$(Q)scripts/demo.sh

# Benchmarks against the tools users would pick instead (not part of check): bench/run.
bench: deps pgboot static
	$(Q)bench/run

install: pgboot
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 0755 pgboot $(DESTDIR)$(PREFIX)/bin/pgboot

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/pgboot

clean: clean-static clean-quality
	rm -rf $(BUILD) pgboot tests/unit/unit_tests

# make static: ./pgboot-static, musl, fully static with TLS (static.mk, scripts/static-deps.sh).
STATIC_EXTRA_CPPFLAGS = -D_GNU_SOURCE -DPGBOOT_VERSION='"$(VERSION)"' -Isrc
include static.mk
# make check-asan, check-valgrind, fuzz, fuzz-replay, lint (mk/quality.mk, tests/fuzz/).
include mk/quality.mk

-include $(OBJS:.o=.d) $(UNIT_OBJS:.o=.d)
