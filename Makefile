# The two commands a new user needs: `make demo` and `make test`. Each installs
# its own dependencies first, so either works alone on a fresh Debian machine.
BUILD_DIR ?= build
BUILD_TYPE ?= Release
JOBS ?= $(shell nproc)
CMAKE_ARGS ?=

.PHONY: deps configure build test stress demo bench clean

deps:
	bash scripts/install-deps.sh

$(BUILD_DIR)/CMakeCache.txt:
	cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) $(CMAKE_ARGS)

configure: $(BUILD_DIR)/CMakeCache.txt

build: deps configure
	cmake --build $(BUILD_DIR) -j $(JOBS)

# The doctest suite, then the cluster path on a throwaway real Slurm (tests/slurm/run.sh,
# under a minute; reported skipped, never passed, where Slurm cannot start).
test: build
	bash scripts/run-tests.sh $(BUILD_DIR)/lowbit_tests
	bash tests/slurm/run.sh $(BUILD_DIR)

# The reliability suite (tests/stress, docs/RELIABILITY.md): kills, signals, concurrency,
# storage faults, malformed input, fuzzing. About 6 minutes; CI runs it after make test.
stress: build
	bash tests/stress/run.sh $(BUILD_DIR)

demo: build
	bash scripts/demo.sh

bench: build
	bash bench/run.sh

clean:
	rm -rf $(BUILD_DIR)
