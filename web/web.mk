# web.mk - the browser build (included by the Makefile).
#
#   make web        build/web/: the page, pinfer.js, the worker and two engine
#                   builds, pinfer-st (one thread) and pinfer-mt (pthreads)
#   make serve      serve build/web/ and $(MODELS) on 127.0.0.1:$(PORT)
#   make test-web   the page and the API in headless Chromium (tests/web/)
#
# Emscripten from Debian's emscripten package; its JS optimizer needs
# NODE_PATH=/usr/share/nodejs with Debian's Node. The SIMD128 kernels are
# core/quant_wasm.c, the same file the WASI build uses.
EMCC          ?= emcc
EMCC_ENV       = NODE_PATH=$${NODE_PATH:-/usr/share/nodejs}
WEB_CFLAGS     = -O2 -msimd128
WEB_CORE_SRC   = $(filter-out $(wildcard core/quant_avx*.c core/quant_neon.c),$(wildcard core/*.c))
WEB_SRC        = $(WEB_CORE_SRC) platform/platform_posix.c web/engine.c
WEB_EXPORTS    = _pf_message,_pf_memory_room,_pf_peek,_pf_alloc,_pf_close,_pf_open,_pf_info,_pf_start,_pf_next,_pf_finish,_pf_text,_malloc,_free
# wasm memory may grow to 4 GiB, all that wasm32 can address; the worker
# copies the model into it, so there is no file system.
WEB_LDFLAGS    = -sMODULARIZE=1 -sEXPORT_NAME=createPinfer -sENVIRONMENT=worker -sALLOW_MEMORY_GROWTH=1 \
                 -sMAXIMUM_MEMORY=4GB -sFILESYSTEM=0 -sEXPORTED_FUNCTIONS=$(WEB_EXPORTS) \
                 -sEXPORTED_RUNTIME_METHODS=UTF8ToString,stringToUTF8,lengthBytesUTF8
# The threaded build starts its pthread workers when the module is created,
# as many as the worker asks for (Module.poolSize): the engine thread blocks
# while the pool runs, so no worker can be started later. Growing shared
# memory makes JS views go stale, which the worker handles (heap() in worker.js).
WEB_MT_FLAGS   = -pthread -Wno-pthreads-mem-growth
WEB_MT_LDFLAGS = -sPTHREAD_POOL_SIZE='Module["poolSize"]||0'
WEB_STATIC     = index.html app.js style.css pinfer.js worker.js

build/web-st/%.o: %.c $(wildcard core/*.h platform/*.h)
	@mkdir -p $(dir $@)
	$(EMCC_ENV) $(EMCC) $(WARN) $(CPPFLAGS) $(WEB_CFLAGS) -c $< -o $@

build/web-mt/%.o: %.c $(wildcard core/*.h platform/*.h)
	@mkdir -p $(dir $@)
	$(EMCC_ENV) $(EMCC) $(WARN) $(CPPFLAGS) $(WEB_CFLAGS) $(WEB_MT_FLAGS) -c $< -o $@

build/web/pinfer-st.js: $(call objs,web-st,$(WEB_SRC))
	@mkdir -p $(dir $@)
	$(EMCC_ENV) $(EMCC) $(WEB_CFLAGS) $(WEB_LDFLAGS) $^ -o $@

build/web/pinfer-mt.js: $(call objs,web-mt,$(WEB_SRC))
	@mkdir -p $(dir $@)
	$(EMCC_ENV) $(EMCC) $(WEB_CFLAGS) $(WEB_MT_FLAGS) $(WEB_LDFLAGS) $(WEB_MT_LDFLAGS) $^ -o $@

build/web/%: web/%
	@mkdir -p $(dir $@)
	cp $< $@

PORT   ?= 8080
MODELS ?= $(or $(PINFER_SHARED),../shared)/models

.PHONY: web serve test-web
web: build/web/pinfer-st.js build/web/pinfer-mt.js $(addprefix build/web/,$(WEB_STATIC))

serve: web
	node web/serve.mjs --port $(PORT) --models $(MODELS)

# The browser test compares a large model's tokens with build/pinfer's, and writes it with build/gen_model.
test-web: web build/pinfer build/gen_model
	sh tests/web/run.sh

# make test builds the page too whenever emcc is installed, and tests/run.sh
# then runs the browser tests when Chromium is there as well.
HAVE_EMCC := $(shell command -v $(EMCC) >/dev/null 2>&1 && echo yes)
test: $(if $(HAVE_EMCC),web)
bench: $(if $(HAVE_EMCC),web)
