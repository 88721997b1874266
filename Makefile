# The two commands of the README, and the builds they use.
#   make demo   install what is missing, build, run httpa -> nginx (TLS) ->
#               httpa-gateway (simulated TEE) -> an application, and show
#               what each hop sees
#   make check  install what is missing, then the whole test suite: unit and
#               vector tests, the same under ASan+UBSan, and each fuzz target
#               for a short time
BUILD ?= build
JOBS ?= $(shell nproc)
FUZZ_SECONDS ?= 20

.PHONY: all deps demo check test test-asan test-fuzz bench clean

all: deps
	cmake -S . -B $(BUILD)/release -DCMAKE_BUILD_TYPE=Release >/dev/null
	cmake --build $(BUILD)/release -j $(JOBS)

deps:
	@sh scripts/install-deps.sh

demo: all
	$(BUILD)/release/examples/httpa-demo --quiet
	sh scripts/demo.sh $(BUILD)/release

check: deps test test-asan test-fuzz

test:
	cmake -S . -B $(BUILD)/debug -DCMAKE_BUILD_TYPE=Debug >/dev/null
	cmake --build $(BUILD)/debug -j $(JOBS)
	cd $(BUILD)/debug && ctest --output-on-failure -j $(JOBS) -LE fuzz

test-asan:
	cmake -S . -B $(BUILD)/asan -DCMAKE_BUILD_TYPE=Debug -DHTTPA_SANITIZE=ON >/dev/null
	cmake --build $(BUILD)/asan -j $(JOBS)
	cd $(BUILD)/asan && HTTPA_SANITIZE_BUILD=1 ctest --output-on-failure -j $(JOBS) -LE fuzz

test-fuzz:
	CC=clang cmake -S . -B $(BUILD)/fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DHTTPA_FUZZ=ON \
	    -DHTTPA_FUZZ_SECONDS=$(FUZZ_SECONDS) >/dev/null
	cmake --build $(BUILD)/fuzz -j $(JOBS)
	cd $(BUILD)/fuzz && ctest --output-on-failure -L fuzz

bench: all
	sh bench/run-micro.sh

clean:
	rm -rf $(BUILD)
