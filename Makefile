# Entry points: `make demo` runs the whole attest -> token -> release ->
# unlock flow on the embedded defaults; `make test` builds and runs every test.

BUILD ?= build
JOBS ?= $(shell nproc)

.PHONY: all deps configure build test demo clean

all: build

deps:
	scripts/install-deps.sh

configure: deps
	cmake -S . -B $(BUILD) -G Ninja

build: configure
	cmake --build $(BUILD) -j $(JOBS)

test: build
	ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS)

demo: build
	scripts/demo.sh $(BUILD)/src/vouch/cli/vouch

clean:
	rm -rf $(BUILD)
