# mk/quality.mk: memory, undefined-behaviour and static checks (docs/reliability.md).
# Included from the top Makefile after its variables (SRCS, LIB_SRCS, UNIT_SRCS, WARN,
# HARDEN, ALL_CPPFLAGS, LDLIBS, Q). Every variable here starts with ASAN_, VALGRIND_, FUZZ_,
# LINT_ or QUALITY_. The sanitized and fuzzing builds have objects of their own
# (build/asan, build/fuzz): ./pgboot and build/*.o are never built with other flags.
#
#   make check-asan                 unit + integration (dynamic pass) under ASan and UBSan
#   make check-valgrind             unit + the integration tests that are not timing-bound, under
#                                   memcheck
#   make check-memcheck             unit + badinput.sh + faults.sh under memcheck (in make check)
#   make fuzz FUZZ_SECONDS=N        every libFuzzer target for N seconds (default 30)
#   make fuzz-smoke                 every libFuzzer target for FUZZ_SMOKE_SECONDS (in make check)
#   make fuzz-replay                the seed corpora and tests/fuzz/regressions/, without libFuzzer
#   make lint                       cppcheck, clang-tidy and shellcheck
#   make quality-deps               the Debian packages these targets need (installs as root)
#   make clean-quality              removes what they build

.PHONY: check-asan check-valgrind check-memcheck valgrind-unit fuzz fuzz-build fuzz-smoke fuzz-replay lint lint-cppcheck lint-clang-tidy \
	lint-shellcheck quality-deps clean-quality

QUALITY_PACKAGES := clang-14 libclang-rt-14-dev clang-tidy-14 cppcheck valgrind shellcheck

# --- ASan + UBSan build: ./pgboot-asan and build/asan/unit_tests --------------------------
# Objects of their own, so ./pgboot and build/*.o are never rebuilt with sanitizers. The
# fortified libc wrappers are turned off so that ASan sees the real memcpy/strcpy calls.
# clang rather than gcc: its -fsanitize=undefined also has float-cast-overflow, and its
# UBSan honours log_path (gcc 12's libubsan prints to stderr whatever UBSAN_OPTIONS says).
# clang warns about the positional initializers of the settings table (src/config.c), gcc
# does not: -Wextra's missing-field-initializers is off for clang builds only.
ASAN_CC       ?= clang-14
QUALITY_CLANG_WARN := -Wno-missing-field-initializers
ASAN_DIR      := build/asan
ASAN_SAN      := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
ASAN_CFLAGS    = $(WARN) $(QUALITY_CLANG_WARN) $(HARDEN) -U_FORTIFY_SOURCE $(CFLAGS) $(ASAN_SAN)
ASAN_LDFLAGS   = -pie -Wl,-z,relro,-z,now $(LDFLAGS) $(ASAN_SAN)
ASAN_OBJS     := $(SRCS:src/%.c=$(ASAN_DIR)/%.o)
ASAN_LIB_OBJS := $(LIB_SRCS:src/%.c=$(ASAN_DIR)/%.o)
ASAN_UNIT_OBJS := $(UNIT_SRCS:tests/unit/%.c=$(ASAN_DIR)/unit/%.o)
# Every report fails the process with status 98 (no pgboot exit code uses it) and is also
# written to a file of its own under ASAN_REPORTS: an exec'd application hides pgboot's
# status, and a test that expects a failure may not look at the code.
ASAN_REPORTS  := $(ASAN_DIR)/reports
ASAN_COMMON   := halt_on_error=1:abort_on_error=0:exitcode=98:print_stacktrace=1
# ASan fills only the first 4 KB of each allocation (with 0xbe); filling all of it makes a
# read past the bytes a buffer was given (a missing NUL) run into its redzone and be reported,
# instead of stopping at a zero byte that happened to be there.
ASAN_FILL     := malloc_fill_byte=190:max_malloc_fill_size=2147483647
ASAN_ENV       = ASAN_OPTIONS=$(ASAN_COMMON):$(ASAN_FILL):detect_leaks=1:detect_stack_use_after_return=1:check_initialization_order=1:strict_init_order=1:log_path=$(CURDIR)/$(ASAN_REPORTS)/asan \
		 UBSAN_OPTIONS=$(ASAN_COMMON):log_path=$(CURDIR)/$(ASAN_REPORTS)/ubsan

pgboot-asan: $(ASAN_OBJS)
	@echo "  LD      $@"
	$(Q)$(ASAN_CC) $(ASAN_LDFLAGS) -o $@ $(ASAN_OBJS) $(LDLIBS)

$(ASAN_DIR)/unit_tests: $(ASAN_UNIT_OBJS) $(ASAN_LIB_OBJS)
	@echo "  LD      $@"
	$(Q)$(ASAN_CC) $(ASAN_LDFLAGS) -o $@ $(ASAN_UNIT_OBJS) $(ASAN_LIB_OBJS) $(LDLIBS)

$(ASAN_DIR)/%.o: src/%.c
	@mkdir -p $(@D)
	@echo "  CC      $< (asan)"
	$(Q)$(ASAN_CC) $(ALL_CPPFLAGS) $(ASAN_CFLAGS) -MMD -MP -c -o $@ $<

$(ASAN_DIR)/unit/%.o: tests/unit/%.c
	@mkdir -p $(@D)
	@echo "  CC      $< (asan)"
	$(Q)$(ASAN_CC) $(ALL_CPPFLAGS) $(ASAN_CFLAGS) -MMD -MP -c -o $@ $<

check-asan: deps quality-deps
	$(Q)$(MAKE) --no-print-directory pgboot-asan $(ASAN_DIR)/unit_tests
	$(Q)rm -rf $(ASAN_REPORTS) && mkdir -p $(ASAN_REPORTS)
	$(Q)$(ASAN_ENV) PGBOOT=$(CURDIR)/pgboot-asan UNIT_TESTS=$(CURDIR)/$(ASAN_DIR)/unit_tests \
		mk/run-checked.sh asan $(ASAN_REPORTS) $(ASAN_DIR)/check.log mk/asan-skip

# --- valgrind memcheck -------------------------------------------------------------------
# mk/valgrind-pgboot stands in for the binary: it execs valgrind on the ordinary ./pgboot
# (-O2 -g), one log per process under VALGRIND_REPORTS. The tests whose result depends on
# time (signals within a deadline, timeouts, backoff, peak RSS) are listed with the reason
# in mk/valgrind-skip and docs/reliability.md; mk/run-checked.sh runs all the others.
# The unit tests run under memcheck first, on their own (--error-exitcode: an error fails).
# PGB_TIME_SCALE stretches the bounds of badinput.sh on refusals and the wait timeouts they
# are told apart from alike (tests/integration/badinput.sh).
# make check runs check-memcheck: the unit tests and VALGRIND_CHECK_FILES only.
VALGRIND_DIR     := build/valgrind
VALGRIND_REPORTS := $(VALGRIND_DIR)/reports
VALGRIND_UNIT    := valgrind --tool=memcheck --leak-check=full --errors-for-leak-kinds=definite \
	--show-leak-kinds=definite --error-exitcode=99 --num-callers=30 \
	--suppressions=mk/valgrind.supp --log-file=$(VALGRIND_DIR)/unit.log
VALGRIND_CHECK_FILES := badinput.sh faults.sh
VALGRIND_RUN     = VALGRIND_LOG_DIR=$(CURDIR)/$(VALGRIND_REPORTS) VALGRIND_PGBOOT=$(CURDIR)/pgboot \
	PGBOOT=$(CURDIR)/mk/valgrind-pgboot PGB_TEST_TIMEOUT=600 PGB_TIME_SCALE=10 \
	mk/run-checked.sh valgrind $(VALGRIND_REPORTS)

valgrind-unit: tests/unit/unit_tests
	$(Q)mkdir -p $(VALGRIND_DIR)
	$(Q)$(VALGRIND_UNIT) tests/unit/unit_tests >$(VALGRIND_DIR)/unit.out 2>&1; rc=$$?; \
		grep -c '^ok' $(VALGRIND_DIR)/unit.out | sed 's/^/valgrind: unit: /; s/$$/ ok/'; \
		if [ $$rc -ne 0 ]; then cat $(VALGRIND_DIR)/unit.out $(VALGRIND_DIR)/unit.log; \
		echo "valgrind: unit tests failed (status $$rc)"; exit 1; fi

check-valgrind: deps quality-deps
	$(Q)$(MAKE) --no-print-directory pgboot valgrind-unit
	$(Q)rm -rf $(VALGRIND_REPORTS) && mkdir -p $(VALGRIND_REPORTS)
	$(Q)$(VALGRIND_RUN) $(VALGRIND_DIR)/check.log mk/valgrind-skip

check-memcheck: deps quality-deps
	$(Q)$(MAKE) --no-print-directory pgboot valgrind-unit
	$(Q)rm -rf $(VALGRIND_REPORTS) && mkdir -p $(VALGRIND_REPORTS)
	$(Q)$(VALGRIND_RUN) $(VALGRIND_DIR)/check-memcheck.log mk/valgrind-skip $(VALGRIND_CHECK_FILES)

# --- libFuzzer targets: tests/fuzz/ ------------------------------------------------------
# build/fuzz/fuzz_<name>: the target with libFuzzer, ASan and UBSan (clang-14, package
# libclang-rt-14-dev), over objects of its own. tests/fuzz/run.sh runs each for
# FUZZ_SECONDS, with its seeds (tests/fuzz/corpus/<name>, read-only) and dictionary; the
# corpus it grows stays in build/fuzz/corpus/<name>. A crash, leak, timeout or failed
# property is saved to tests/fuzz/regressions/<name>/ and fails the run.
# build/fuzz/replay/fuzz_<name>: the same target without libFuzzer (the ASan objects and
# tests/fuzz/replay.c), which `make fuzz-replay` runs over the seeds and regressions.
FUZZ_CC       ?= clang-14
FUZZ_SECONDS  ?= 30
# make check's run of each target: enough to catch a crash on the seeds after a change.
FUZZ_SMOKE_SECONDS ?= 5
FUZZ_TARGETS  := config number split position redact expand secret markers lint
FUZZ_DIR      := build/fuzz
FUZZ_SAN      := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_CFLAGS    = $(WARN) $(QUALITY_CLANG_WARN) -O1 -g $(FUZZ_SAN)
FUZZ_LIB_OBJS := $(LIB_SRCS:src/%.c=$(FUZZ_DIR)/obj/%.o)
FUZZ_BINS     := $(FUZZ_TARGETS:%=$(FUZZ_DIR)/fuzz_%)
FUZZ_REPLAYS  := $(FUZZ_TARGETS:%=$(FUZZ_DIR)/replay/fuzz_%)
FUZZ_COMMON   := tests/fuzz/fuzz.c tests/fuzz/fuzz.h
# fuzz_config reads files only from its own directory (tests/fuzz/fuzz_config.c).
FUZZ_LDFLAGS_config := -Wl,--wrap=read_file

$(FUZZ_DIR)/obj/%.o: src/%.c
	@mkdir -p $(@D)
	@echo "  CC      $< (fuzz)"
	$(Q)$(FUZZ_CC) $(ALL_CPPFLAGS) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c -o $@ $<

$(FUZZ_DIR)/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_COMMON) $(FUZZ_LIB_OBJS)
	@mkdir -p $(@D)
	@echo "  LD      $@"
	$(Q)$(FUZZ_CC) $(ALL_CPPFLAGS) $(FUZZ_CFLAGS) -fsanitize=fuzzer $(FUZZ_LDFLAGS_$*) -o $@ \
		$< tests/fuzz/fuzz.c $(FUZZ_LIB_OBJS) $(LDLIBS)

$(FUZZ_DIR)/replay/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/replay.c $(FUZZ_COMMON) $(ASAN_LIB_OBJS)
	@mkdir -p $(@D)
	@echo "  LD      $@"
	$(Q)$(ASAN_CC) $(ALL_CPPFLAGS) $(ASAN_CFLAGS) $(ASAN_LDFLAGS) $(FUZZ_LDFLAGS_$*) -o $@ $< \
		tests/fuzz/fuzz.c tests/fuzz/replay.c $(ASAN_LIB_OBJS) $(LDLIBS)

# Kept between builds: make would delete them as intermediate files of the pattern rules.
.SECONDARY: $(FUZZ_LIB_OBJS)

fuzz-build: $(FUZZ_BINS)

fuzz: deps quality-deps
	$(Q)$(MAKE) --no-print-directory fuzz-build
	$(Q)tests/fuzz/run.sh $(FUZZ_SECONDS) $(FUZZ_TARGETS)

fuzz-smoke: quality-deps
	$(Q)$(MAKE) --no-print-directory fuzz-build
	$(Q)tests/fuzz/run.sh $(FUZZ_SMOKE_SECONDS) $(FUZZ_TARGETS)

# Every seed and every saved crash, in an ordinary ASan + UBSan build: for `make check`.
fuzz-replay: quality-deps $(FUZZ_REPLAYS)
	$(Q)fail=0; for t in $(FUZZ_TARGETS); do \
		ASAN_OPTIONS=$(ASAN_COMMON):$(ASAN_FILL):detect_leaks=1 UBSAN_OPTIONS=$(ASAN_COMMON) \
		$(FUZZ_DIR)/replay/fuzz_$$t tests/fuzz/corpus/$$t \
			$$(test -d tests/fuzz/regressions/$$t && echo tests/fuzz/regressions/$$t) || fail=1; \
	done; exit $$fail

# --- static analysis ----------------------------------------------------------------------
# cppcheck: variableScope is off because the house style declares at the top of a block
# (STYLE.md: git and PostgreSQL); readdirCalled is off because readdir_r is deprecated
# (glibc 2.24) and pgboot is single-threaded. clang-tidy: the checks and the reasons for
# those left out are in .clang-tidy.
LINT_CPPCHECK  := cppcheck --enable=warning,style,performance,portability --error-exitcode=1 \
	--std=c11 --library=posix --inline-suppr --quiet --suppress=variableScope \
	--suppress=readdirCalled -D_GNU_SOURCE -DPGBOOT_VERSION='"lint"' -Isrc
LINT_TIDY      := clang-tidy-14
LINT_SHELL     := $(wildcard tests/*.sh scripts/*.sh tests/integration/*.sh tests/containers/*.sh) tests/run bench/run \
	k8s/sync.sh tests/fuzz/run.sh mk/run-checked.sh mk/valgrind-pgboot mk/timed.sh \
	tests/containers/run tests/containers/app/server tests/containers/postgres/docker-entrypoint.sh bench/init

lint: quality-deps
	$(Q)$(MAKE) --no-print-directory -k lint-cppcheck lint-clang-tidy lint-shellcheck

lint-cppcheck:
	@echo "  CPPCHECK src/"
	$(Q)$(LINT_CPPCHECK) src/

lint-clang-tidy:
	@echo "  TIDY    src/*.c"
	$(Q)out=$$($(LINT_TIDY) --quiet $(SRCS) -- -std=c11 $(ALL_CPPFLAGS) 2>&1); rc=$$?; \
		printf '%s\n' "$$out" | grep -v ' warnings generated\.$$'; exit $$rc

lint-shellcheck:
	@echo "  SHCHECK $(words $(LINT_SHELL)) scripts"
	$(Q)shellcheck -x $(LINT_SHELL)

quality-deps:
	$(Q)missing=; for p in $(QUALITY_PACKAGES); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || \
			missing="$$missing $$p"; \
	done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" -ne 0 ]; then \
		echo "pgboot: missing Debian packages; run as root:" >&2; \
		echo "  apt-get install -y --no-install-recommends$$missing" >&2; exit 1; \
	fi; \
	echo "installing:$$missing" >&2; \
	export DEBIAN_FRONTEND=noninteractive; apt-get update -qq && apt-get install -y -qq --no-install-recommends $$missing >/dev/null

# Everything the targets above build (the fuzzers' grown corpora too); the top Makefile's
# clean calls it.
clean-quality:
	rm -rf $(ASAN_DIR) $(VALGRIND_DIR) $(FUZZ_DIR) pgboot-asan

-include $(ASAN_OBJS:.o=.d) $(ASAN_UNIT_OBJS:.o=.d) $(FUZZ_LIB_OBJS:.o=.d)
