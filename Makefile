# pinfer - portable LLM inference in C.
#
#   make            build the native CLI as build/pinfer
#   make test       build and run every test suite, then the same suites under
#                   AddressSanitizer and UndefinedBehaviorSanitizer
#   make demo       build, find or download stories260K, and generate a story
#   make wasi       build the same CLI as a WASI command, build/pinfer.wasm, and
#                   build/pinfer-relaxed.wasm with the relaxed SIMD kernels
#   make test-wasi  run pinfer.wasm under wasmtime and Node against build/pinfer
#   make arm64      cross-build build/arm64/pinfer and run_tests for aarch64 (NEON)
#   make test-arm64 run the kernels, quant and generation suites under qemu-aarch64
#   make web        build the browser page and its engine into build/web/ (web/web.mk)
#   make serve      serve build/web/ and the fixture models on 127.0.0.1:8080
#   make test-web   the page and its JavaScript API in headless Chromium
#   make fuzz       run each libFuzzer target for FUZZ_SECONDS (60) with clang
#   make bench      pinfer against llama.cpp on synthetic 8B and 1B models (BENCH.md)
#   make clean      remove build/
#
# Fixtures are read from $(PINFER_SHARED), ../shared by default.

CC      ?= cc
CFLAGS  ?= -O2 -g
WARN     = -std=c99 -Wall -Wextra -Werror -pedantic
CPPFLAGS = -D_POSIX_C_SOURCE=200809L -Icore -Iplatform
LDLIBS   = -lm -lpthread

# Each SIMD kernel file is built only when $(CC) targets its architecture:
# the x86-64 files for x86_64, quant_neon.c for aarch64 (arm64 on macOS), where
# NEON is baseline and needs no flag. Only the x86 files get ISA flags;
# -ffp-contract=off stops the compiler fusing a multiply and an add that the
# scalar twin rounds separately. WASM_SRC is built only by make wasi.
X86_SRC      = core/quant_avx2.c core/quant_avx512.c
ARM_SRC      = core/quant_neon.c
WASM_SRC     = core/quant_wasm.c
CORE_SRC     = $(filter-out $(X86_SRC) $(ARM_SRC) $(WASM_SRC),$(wildcard core/*.c))
CC_MACHINE  := $(shell $(CC) -dumpmachine)
ifneq ($(filter x86_64%,$(CC_MACHINE)),)
CORE_SRC    += $(X86_SRC)
endif
ifneq ($(filter aarch64% arm64%,$(CC_MACHINE)),)
CORE_SRC    += $(ARM_SRC)
endif
PLATFORM_SRC = platform/platform_posix.c
NATIVE_SRC   = $(wildcard native/*.c)
TEST_SRC     = $(wildcard tests/*.c)

# Objects for one build flavour live under build/<flavour>/.
objs = $(patsubst %.c,build/$(1)/%.o,$(2))

REL_OBJ  = $(call objs,rel,$(CORE_SRC) $(PLATFORM_SRC))
ASAN_OBJ = $(call objs,asan,$(CORE_SRC) $(PLATFORM_SRC))
SAN      = -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
AVX512_FLAGS = -mavx512f -mavx512bw -mavx512vl -mavx512vnni -mavx2 -mfma -mf16c -ffp-contract=off

build/rel/core/quant_avx2.o build/asan/core/quant_avx2.o: ISA_FLAGS = -mavx2 -mfma -mf16c -ffp-contract=off
build/rel/core/quant_avx512.o build/asan/core/quant_avx512.o: ISA_FLAGS = $(AVX512_FLAGS)

.PHONY: all test demo bench clean
all: build/pinfer

build/rel/%.o: %.c $(wildcard core/*.h platform/*.h tests/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(WARN) $(CPPFLAGS) $(CFLAGS) $(ISA_FLAGS) -c $< -o $@

build/asan/%.o: %.c $(wildcard core/*.h platform/*.h tests/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(WARN) $(CPPFLAGS) -O1 -g $(SAN) $(ISA_FLAGS) -c $< -o $@

build/pinfer: $(REL_OBJ) $(call objs,rel,$(NATIVE_SRC))
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)

build/asan/pinfer: $(ASAN_OBJ) $(call objs,asan,$(NATIVE_SRC))
	$(CC) $(SAN) $^ -o $@ $(LDLIBS)

# Writes synthetic Llama 3.x GGUF files for the benchmark.
build/gen_model: $(REL_OBJ) build/rel/tools/gen_model.o
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)

build/membw: tools/membw.c
	@mkdir -p $(dir $@)
	$(CC) $(WARN) $(CPPFLAGS) -O2 $< -o $@ $(LDLIBS)

build/run_tests: $(REL_OBJ) $(call objs,rel,$(TEST_SRC))
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)

build/asan/run_tests: $(ASAN_OBJ) $(call objs,asan,$(TEST_SRC))
	$(CC) $(SAN) $^ -o $@ $(LDLIBS)

# tests/run.sh runs both builds and prints the combined "N passed, N failed" last.
test: build/pinfer build/run_tests build/asan/pinfer build/asan/run_tests build/pinfer.wasm build/wasi/run_tests.wasm build/gen_model \
      build/pinfer-relaxed.wasm build/wasi-relaxed/run_tests.wasm
	sh tests/run.sh

demo: build/pinfer
	sh examples/demo.sh

# Not part of test: it writes about 5 GiB of models and runs for about 15 minutes.
bench: build/pinfer build/gen_model build/membw build/pinfer.wasm build/pinfer-relaxed.wasm
	sh bench/run.sh

# WASI: the CLI as a wasm32-wasi command. Debian's clang-19, lld-19, wasi-libc
# and libclang-rt-19-dev-wasm32 need no sysroot flag; for wasi-sdk set
# WASI_CC=/opt/wasi-sdk/bin/clang WASI_SYSROOT=/opt/wasi-sdk/share/wasi-sysroot.
# Memory may grow to 4 GiB, all that wasm32 can address.
WASI_CC       ?= clang-19
WASI_SYSROOT  ?=
WASI_TARGET    = --target=wasm32-wasi $(if $(WASI_SYSROOT),--sysroot=$(WASI_SYSROOT))
WASI_CFLAGS    = $(WASI_TARGET) -O2 -msimd128 -Inative
WASI_LDFLAGS   = $(WASI_TARGET) -Wl,--max-memory=4294967296
WASI_LDLIBS    = -lm
WASI_CORE_SRC  = $(filter-out $(wildcard core/quant_avx*.c core/quant_neon.c),$(wildcard core/*.c))
WASI_OBJ       = $(call objs,wasi,$(WASI_CORE_SRC) platform/platform_wasi.c)

build/wasi/%.o: %.c $(wildcard core/*.h platform/*.h native/*.h tests/*.h)
	@mkdir -p $(dir $@)
	$(WASI_CC) $(WARN) $(CPPFLAGS) $(WASI_CFLAGS) $(WASI_EXTRA_FLAGS) -c $< -o $@

build/pinfer.wasm: $(WASI_OBJ) build/wasi/native/cli.o build/wasi/wasi/main.o
	$(WASI_CC) $(WASI_LDFLAGS) $^ -o $@ $(WASI_LDLIBS)

# The unit suites as a wasm32-wasi runner. The generation and cli suites
# start build/pinfer as a child process, so wasi/test_skipped.c stands in.
WASI_TEST_SRC  = $(filter-out tests/test_cli.c tests/test_generation.c,$(wildcard tests/*.c)) wasi/test_skipped.c

# clang warns about string literals that the test tables concatenate on purpose.
build/wasi/tests/%.o: WASI_EXTRA_FLAGS = -Wno-string-concatenation

build/wasi/run_tests.wasm: $(WASI_OBJ) $(call objs,wasi,$(WASI_TEST_SRC))
	$(WASI_CC) $(WASI_LDFLAGS) $^ -o $@ $(WASI_LDLIBS)

# build/pinfer-relaxed.wasm and its test runner add the wasm-relaxed-simd
# kernel table: quant_wasm.c and kernels.c compiled with -mrelaxed-simd. A
# runtime without relaxed SIMD rejects such a module as a whole, so the table
# comes in a second module rather than being chosen at run time.
WASI_RELAXED_OBJ = $(filter-out build/wasi/core/quant_wasm.o build/wasi/core/kernels.o,$(WASI_OBJ)) \
                   build/wasi-relaxed/core/quant_wasm.o build/wasi-relaxed/core/kernels.o

build/wasi-relaxed/%.o: %.c $(wildcard core/*.h)
	@mkdir -p $(dir $@)
	$(WASI_CC) $(WARN) $(CPPFLAGS) $(WASI_CFLAGS) -mrelaxed-simd -c $< -o $@

build/pinfer-relaxed.wasm: $(WASI_RELAXED_OBJ) build/wasi/native/cli.o build/wasi/wasi/main.o
	$(WASI_CC) $(WASI_LDFLAGS) $^ -o $@ $(WASI_LDLIBS)

build/wasi-relaxed/run_tests.wasm: $(WASI_RELAXED_OBJ) $(call objs,wasi,$(WASI_TEST_SRC))
	$(WASI_CC) $(WASI_LDFLAGS) $^ -o $@ $(WASI_LDLIBS)

.PHONY: wasi test-wasi
wasi: build/pinfer.wasm build/pinfer-relaxed.wasm

# Needs python3 with the wasmtime package (pip install wasmtime) and Node 20 or later.
test-wasi: build/pinfer build/gen_model build/pinfer.wasm build/wasi/run_tests.wasm build/pinfer-relaxed.wasm \
           build/wasi-relaxed/run_tests.wasm
	sh tests/wasi.sh

# arm64: the CLI and the test runner cross-compiled for aarch64 Linux and
# linked statically, so qemu-aarch64 runs them without an aarch64 sysroot.
# Debian's gcc-aarch64-linux-gnu, libc6-dev-arm64-cross and qemu-user provide
# both tools. The generation suite starts the CLI through build/arm64/pinfer-qemu,
# because no binfmt handler may be registered to run aarch64 files directly.
# make test runs these suites too whenever both tools are installed.
ARM64_CC       ?= aarch64-linux-gnu-gcc
QEMU_AARCH64   ?= qemu-aarch64
ARM64_CORE_SRC  = $(filter-out $(X86_SRC) $(ARM_SRC) $(WASM_SRC),$(wildcard core/*.c)) $(ARM_SRC)
ARM64_OBJ       = $(call objs,arm64,$(ARM64_CORE_SRC) $(PLATFORM_SRC))
ARM64_TEST_BIN  = build/arm64/pinfer build/arm64/pinfer-qemu build/arm64/run_tests
HAVE_ARM64     := $(shell command -v $(ARM64_CC) >/dev/null 2>&1 && command -v $(QEMU_AARCH64) >/dev/null 2>&1 && echo yes)

build/arm64/%.o: %.c $(wildcard core/*.h platform/*.h tests/*.h)
	@mkdir -p $(dir $@)
	$(ARM64_CC) $(WARN) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

build/arm64/pinfer: $(ARM64_OBJ) $(call objs,arm64,$(NATIVE_SRC))
	$(ARM64_CC) $(CFLAGS) -static $^ -o $@ $(LDLIBS)

build/arm64/run_tests: $(ARM64_OBJ) $(call objs,arm64,$(TEST_SRC))
	$(ARM64_CC) $(CFLAGS) -static $^ -o $@ $(LDLIBS)

build/arm64/pinfer-qemu: build/arm64/pinfer
	printf '#!/bin/sh\nexec $(QEMU_AARCH64) "$$(dirname "$$0")/pinfer" "$$@"\n' >$@
	chmod +x $@

.PHONY: arm64 test-arm64
arm64: build/arm64/pinfer build/arm64/run_tests

# Only the stories260K generation cases by default; ARM64_GENERATION=all runs every case (tests/arm64.sh).
test-arm64: $(ARM64_TEST_BIN)
	QEMU_AARCH64=$(QEMU_AARCH64) sh tests/arm64.sh

test: $(if $(HAVE_ARM64),$(ARM64_TEST_BIN))

# Fuzzing: libFuzzer with clang, the core instrumented for coverage, ASan and UBSan.
FUZZ_CC     ?= clang-19
FUZZ_SAN     = -fsanitize=address,undefined -fno-sanitize-recover=all
FUZZ_OBJ     = $(call objs,fuzz,$(CORE_SRC))
FUZZ_TARGETS = build/fuzz/fuzz_model build/fuzz/fuzz_vocab build/fuzz/fuzz_prompt

build/fuzz/core/quant_avx2.o: ISA_FLAGS = -mavx2 -mfma -mf16c -ffp-contract=off
build/fuzz/core/quant_avx512.o: ISA_FLAGS = $(AVX512_FLAGS)

# Coverage feedback comes from the parsers; the kernels' inner loops only slow each run down.
FUZZ_COV = -fsanitize=fuzzer-no-link
build/fuzz/core/quant_ref.o build/fuzz/core/quant_avx2.o build/fuzz/core/quant_avx512.o: FUZZ_COV =

build/fuzz/%.o: %.c $(wildcard core/*.h)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(WARN) $(CPPFLAGS) -g -O1 $(FUZZ_COV) $(FUZZ_SAN) $(ISA_FLAGS) -c $< -o $@

.SECONDARY: $(FUZZ_OBJ)

build/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_OBJ)
	$(FUZZ_CC) $(CPPFLAGS) -g -O1 -fsanitize=fuzzer $(FUZZ_SAN) $^ -o $@ -lm

.PHONY: fuzz
fuzz: $(FUZZ_TARGETS)
	sh tests/fuzz/run.sh

clean:
	rm -rf build

include web/web.mk
