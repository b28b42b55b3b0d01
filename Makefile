# Silvertine's front door. `make run` and `make test` install what is missing, build, and go.
BUILD      ?= build
BUILD_ASAN ?= build-asan
JOBS       ?= 2

.PHONY: all deps build run test bench fuzz format lint clean

all: build

deps:
	@scripts/install-deps.sh

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release >/dev/null

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

run: build
	$(BUILD)/silvertine backtest -c config/environments/backtest.yaml

test: deps
	@scripts/test.sh

bench: build
	@scripts/bench.sh $(BUILD)

# longer fuzzing than `make test` does: FUZZ_SECONDS per fuzzer, FUZZ_SEED to vary it
fuzz: build
	@for f in $(BUILD)/fuzz_*; do $$f -t $${FUZZ_SECONDS:-300} -s $${FUZZ_SEED:-5} -o $(BUILD)/$$(basename $$f)-failure.lua || exit 1; done

format:
	clang-format -i engine/*.c engine/*.h tests/unit/*.c bench/*.c

lint: $(BUILD)/CMakeCache.txt
	clang-tidy -p $(BUILD) --quiet engine/*.c
	cppcheck --quiet --enable=warning,performance,portability --std=c11 --error-exitcode=1 -I engine engine

clean:
	rm -rf $(BUILD) $(BUILD_ASAN)
