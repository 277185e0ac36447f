# posthaste - the two commands that matter: `make run` and `make test`.
# Both install missing Debian packages first (scripts/deps).

BUILD      ?= build
ASAN_BUILD ?= build-asan
PYTHON     := /usr/bin/python3
CMAKE_GEN  := -G Ninja

.PHONY: all deps build asan run test unit integration test-asan fuzz bench clean format web

all: build

deps:
	@scripts/deps

$(BUILD)/build.ninja:
	cmake -S . -B $(BUILD) $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=RelWithDebInfo

$(ASAN_BUILD)/build.ninja:
	cmake -S . -B $(ASAN_BUILD) $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=Debug -DPH_SANITIZE=ON

build: deps $(BUILD)/build.ninja
	ninja -C $(BUILD)

asan: deps $(ASAN_BUILD)/build.ninja
	ninja -C $(ASAN_BUILD)

# Start the daemon on the embedded SQLite default:
# SMTP 127.0.0.1:2525, HTTP 127.0.0.1:8025, data in ./posthaste-data.
run: build
	./$(BUILD)/posthaste serve $(ARGS)

# Unit tests (ctest) and integration tests (pytest) on the normal build,
# then again on the ASan+UBSan build.
test: build asan
	$(MAKE) --no-print-directory unit integration B=$(BUILD)
	$(MAKE) --no-print-directory unit integration B=$(ASAN_BUILD)

B ?= $(BUILD)
unit:
	cd $(B) && ctest --output-on-failure

integration:
	cd tests/integration && POSTHASTE_REQUIRE_BIN=1 POSTHASTE_BIN=$(CURDIR)/$(B)/posthaste \
		ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		$(PYTHON) -m pytest -q -p no:cacheprovider $(PYTEST_ARGS)

# The dashboard's front end: web/dist is committed (and compiled into the
# binary), so only a change under web/src needs this; the tests check that
# web/dist is what it builds.
web:
	cd web && npm ci --no-audit --no-fund && npm run build

fuzz:
	@scripts/deps fuzz
	cmake -S . -B build-fuzz $(CMAKE_GEN) -DCMAKE_C_COMPILER=clang -DPH_FUZZ=ON -DPH_SANITIZE=ON
	ninja -C build-fuzz

bench: build
	bench/inject.sh

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) build-fuzz build-bench
