# Thin wrapper over Meson/Ninja offering the README's commands.
#   make run    boot the default microVM (guest kit built and cached on first use)
#   make test   unit + integration tests
BUILD   ?= build
DBUILD  ?= build-debug
PYTHON  ?= /usr/bin/python3
VOLT     = $(BUILD)/volt
ARGS    ?=

.PHONY: all deps build run test test-unit test-integration test-debug guest-kit bench fuzz format lint clean

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
	VOLT=$(abspath $(VOLT)) $(PYTHON) -m pytest -ra tests/integration

test: test-unit test-integration

$(DBUILD)/build.ninja: | deps
	meson setup $(DBUILD) -Dsanitizers=true --buildtype=debug

# The same suites against an ASan + UBSan build.
test-debug: deps $(DBUILD)/build.ninja guest-kit
	ninja -C $(DBUILD)
	meson test -C $(DBUILD) --print-errorlogs
	VOLT=$(abspath $(DBUILD)/volt) $(PYTHON) -m pytest -ra tests/integration

bench: guest-kit
	@./scripts/install-deps.sh --bench
	@set -e; for b in bench/*.sh; do "$$b"; done

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

lint: build
	clang-format --dry-run -Werror $$(git ls-files '*.c' '*.h')
	cppcheck --quiet --error-exitcode=1 --enable=warning,portability --inline-suppr \
		-I src -I $(BUILD) --suppress=missingIncludeSystem $$(git ls-files 'src/*.c')
	clang-tidy --quiet -p $(BUILD) $$(git ls-files 'src/*.c')

clean:
	rm -rf $(BUILD) $(DBUILD)
