# The two commands a new user needs: `make demo` and `make test`. Each installs
# its own dependencies first, so either works alone on a fresh Debian machine.
#
# TORCH=pip (`make test TORCH=pip`): the second build of the matrix, against LibTorch 2.x with
# CUDA from the pinned torch wheel (scripts/torch-pip.sh), in build-pip/. The default, TORCH=debian,
# is Debian's libtorch-dev 1.13 (CPU) in build/.
TORCH ?= debian
ifeq ($(TORCH),pip)
BUILD_DIR ?= build-pip
TORCH_PREFIX_FILE = $(BUILD_DIR)/torch-prefix.txt
CMAKE_TORCH = "-DCMAKE_PREFIX_PATH=$$(cat $(TORCH_PREFIX_FILE))"
else ifeq ($(TORCH),debian)
BUILD_DIR ?= build
CMAKE_TORCH =
else
$(error TORCH=$(TORCH): expected debian (Debian's LibTorch 1.13) or pip (the torch 2.x wheel))
endif
BUILD_TYPE ?= Release
JOBS ?= $(shell nproc)
CMAKE_ARGS ?=

.PHONY: deps configure build build-demo test stress demo bench clean

deps:
	bash scripts/install-deps.sh
ifeq ($(TORCH),pip)
	mkdir -p $(BUILD_DIR)
	bash scripts/torch-pip.sh $(BUILD_DIR)/venv > $(TORCH_PREFIX_FILE)
endif

$(BUILD_DIR)/CMakeCache.txt: | deps
	cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) $(CMAKE_TORCH) $(CMAKE_ARGS)

configure: $(BUILD_DIR)/CMakeCache.txt

build: deps configure
	cmake --build $(BUILD_DIR) -j $(JOBS)

# Only what the demo runs: the torch-free front and the torch binary, not the test suite and
# the benchmarks (about two thirds of a cold build's compile time).
build-demo: deps configure
	cmake --build $(BUILD_DIR) -j $(JOBS) --target lowbit lowbit_torch

# The doctest suite, then the cluster path on a throwaway real Slurm (tests/slurm/run.sh,
# under a minute; reported skipped, never passed, where Slurm cannot start), then lowbit serve
# in headless Chromium on a live grid (tests/browser/run.sh, about 30 s), then docs/RESULTS.md
# recomputed from its committed dump (tests/results/check.sh).
test: build
	bash scripts/run-tests.sh $(BUILD_DIR)/lowbit_tests
	bash tests/slurm/run.sh $(BUILD_DIR)
	bash tests/browser/run.sh $(BUILD_DIR)
	bash tests/results/check.sh $(BUILD_DIR)

# The reliability suite (tests/stress, docs/RELIABILITY.md): kills, signals, concurrency,
# storage faults, malformed input, fuzzing. About 9 minutes; CI runs it after make test.
stress: build
	bash tests/stress/run.sh $(BUILD_DIR)

demo: build-demo
	bash scripts/demo.sh

bench: build
	bash bench/run.sh

clean:
	rm -rf $(BUILD_DIR)
