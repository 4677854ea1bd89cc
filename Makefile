# pinfer - portable LLM inference in C.
#
#   make            build the native CLI as build/pinfer
#   make test       build and run every test suite, then the same suites under
#                   AddressSanitizer and UndefinedBehaviorSanitizer
#   make demo       build, find or download stories260K, and generate a story
#   make clean      remove build/
#
# Fixtures are read from $(PINFER_SHARED), ../shared by default.

CC      ?= cc
CFLAGS  ?= -O2 -g
WARN     = -std=c99 -Wall -Wextra -Werror -pedantic
CPPFLAGS = -D_POSIX_C_SOURCE=200809L -Icore -Iplatform
LDLIBS   = -lm -lpthread

CORE_SRC     = $(wildcard core/*.c)
PLATFORM_SRC = platform/platform_posix.c
NATIVE_SRC   = $(wildcard native/*.c)
TEST_SRC     = $(wildcard tests/*.c)

# Objects for one build flavour live under build/<flavour>/.
objs = $(patsubst %.c,build/$(1)/%.o,$(2))

REL_OBJ  = $(call objs,rel,$(CORE_SRC) $(PLATFORM_SRC))
ASAN_OBJ = $(call objs,asan,$(CORE_SRC) $(PLATFORM_SRC))
SAN      = -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer

.PHONY: all test demo clean
all: build/pinfer

build/rel/%.o: %.c $(wildcard core/*.h platform/*.h tests/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(WARN) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

build/asan/%.o: %.c $(wildcard core/*.h platform/*.h tests/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(WARN) $(CPPFLAGS) -O1 -g $(SAN) -c $< -o $@

build/pinfer: $(REL_OBJ) $(call objs,rel,$(NATIVE_SRC))
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)

build/asan/pinfer: $(ASAN_OBJ) $(call objs,asan,$(NATIVE_SRC))
	$(CC) $(SAN) $^ -o $@ $(LDLIBS)

# Writes synthetic Llama 3.x GGUF files for the benchmark.
build/gen_model: $(REL_OBJ) build/rel/tools/gen_model.o
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)

build/run_tests: $(REL_OBJ) $(call objs,rel,$(TEST_SRC))
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)

build/asan/run_tests: $(ASAN_OBJ) $(call objs,asan,$(TEST_SRC))
	$(CC) $(SAN) $^ -o $@ $(LDLIBS)

# tests/run.sh runs both builds and prints the combined "N passed, N failed" last.
test: build/pinfer build/run_tests build/asan/pinfer build/asan/run_tests
	sh tests/run.sh

demo: build/pinfer
	sh examples/demo.sh

clean:
	rm -rf build
