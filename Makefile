# Thin wrapper over Meson/Ninja offering the README's commands.
#   make run    boot the default microVM (guest kit built and cached on first use)
#   make test   unit tests (also against the ASan + UBSan build) + integration tests
BUILD   ?= build
DBUILD  ?= build-debug
PYTHON  ?= /usr/bin/python3
VOLT     = $(BUILD)/volt
ARGS    ?=
FUZZ_SECONDS ?= 60

.PHONY: all deps build build-debug run test test-unit test-unit-debug test-integration test-nested test-debug guest-kit bench bench-quick bench-extra fuzz format lint clean

all: build

deps:
	@./scripts/install-deps.sh

$(BUILD)/build.ninja: | deps
	meson setup $(BUILD)

build: deps $(BUILD)/build.ninja
	@ninja -C $(BUILD)

guest-kit: build
	@$(VOLT) kernel build
	@$(VOLT) rootfs build

run: guest-kit
	@if [ -x "$(VOLT)" ] && $(VOLT) run --help >/dev/null 2>&1; then \
		exec $(VOLT) run $(ARGS); \
	else \
		echo "volt: the guest kit is built; 'volt run' arrives with the core VMM"; \
	fi

test-unit: build
	meson test -C $(BUILD) --print-errorlogs

test-integration: guest-kit
	VOLT=$(abspath $(VOLT)) $(PYTHON) -m pytest -ra --durations=30 tests/integration

test: test-unit test-unit-debug test-integration

$(DBUILD)/build.ninja: | deps
	meson setup $(DBUILD) -Dsanitizers=true --buildtype=debug

# ASan + UBSan, with the same seccomp filters in kill mode plus what the
# sanitizer runtimes need (docs/security.md, "Sanitizer builds").
build-debug: deps $(DBUILD)/build.ninja
	@ninja -C $(DBUILD)

# The unit suites against the ASan + UBSan build (part of make test).
test-unit-debug: build-debug
	meson test -C $(DBUILD) --print-errorlogs

# The integration suite on a VT host's KVM emulated by QEMU (TCG, nested SVM), for
# machines without /dev/kvm or with PVM's (scripts/nested-kvm.sh): slow (about an hour on two
# cores), not in `make test`. -v names each result as it comes, should the time run out.
# Its kit is a VT host's: the generic kernel and a gzip'd initramfs, built here first.
test-nested: build
	@./scripts/install-deps.sh --bench
	$(VOLT) kernel build --config microvm --variant generic
	$(VOLT) rootfs build --compress gzip --applet-links all
	VOLT=$(abspath $(VOLT)) ./scripts/nested-kvm.sh --timeout 5400 -- $(PYTHON) -m pytest -v -ra \
		$(shell $(PYTHON) -c 'import xdist' 2>/dev/null && echo "-n 3") \
		$(shell $(PYTHON) -c 'import pytest_timeout' 2>/dev/null && echo "--timeout 600") \
		tests/integration

# Unit and integration suites against the ASan + UBSan build.
test-debug: test-unit-debug guest-kit
	VOLT=$(abspath $(DBUILD)/volt) $(PYTHON) -m pytest -ra --durations=30 tests/integration

# One table (bench/run.sh, docs/benchmarks.md): the hello guest against a
# bare-KVM floor and QEMU, start -> API socket, volt's start-up steps, then the
# guest kit's cold boots (1 and 2 vCPUs, profiled) and the VMM's own memory
# with Linux booted. bench-quick: the first part only (about a minute).
# bench-extra: the other comparisons (hello.sh, startup.sh, snapshot.sh, virtio.sh).
bench: guest-kit
	@./scripts/install-deps.sh --bench
	@./bench/run.sh

bench-quick: build
	@./scripts/install-deps.sh --bench
	@./bench/run.sh --quick

bench-extra: guest-kit
	@./scripts/install-deps.sh --bench
	@set -e; for b in hello startup snapshot virtio; do "bench/$$b.sh"; done

# libFuzzer targets (clang, ASan + UBSan) in build-fuzz, one per directory of
# tests/fuzz/corpus, each run for FUZZ_SECONDS on
# a copy of its seed corpus; a crash fails and leaves its reproducer in build-fuzz/.
fuzz: deps
	@if [ -f build-fuzz/build.ninja ]; then meson configure build-fuzz -Dfuzz=true; \
	else CC=clang meson setup build-fuzz -Dfuzz=true; fi
	ninja -C build-fuzz
	@failed=""; for t in $$(ls tests/fuzz/corpus); do \
		work=$$(mktemp -d); cp -r tests/fuzz/corpus/$$t/. $$work/; \
		echo "fuzz_$$t: $(FUZZ_SECONDS) s"; \
		if build-fuzz/tests/fuzz/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -timeout=10 \
			-print_final_stats=1 -artifact_prefix=build-fuzz/$$t- \
			$$work >build-fuzz/fuzz_$$t.log 2>&1; then \
			grep -E '^stat::number_of_executed_units' build-fuzz/fuzz_$$t.log; \
		else \
			tail -n 40 build-fuzz/fuzz_$$t.log; failed="$$failed $$t"; \
		fi; \
		rm -rf $$work; \
	done; \
	if [ -n "$$failed" ]; then \
		echo "fuzz: FAILED:$$failed (reproducers: build-fuzz/<target>-crash-*, -timeout-*)"; \
		exit 1; \
	fi

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

lint: build
	$(PYTHON) scripts/check-layers.py src
	clang-format --dry-run -Werror $$(git ls-files '*.c' '*.h')
	cppcheck --quiet --error-exitcode=1 --enable=warning,portability --inline-suppr \
		-I src -I $(BUILD) --suppress=missingIncludeSystem $$(git ls-files 'src/*.c')
	clang-tidy --quiet -p $(BUILD) $$(git ls-files 'src/*.c')

clean:
	rm -rf $(BUILD) $(DBUILD)
