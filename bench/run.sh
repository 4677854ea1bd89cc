#!/bin/sh
# make bench: pinfer against llama.cpp on synthetic Llama 3.1 8B and 3.2 1B
# models at Q3_K_L. Writes the models once into $PINFER_BENCH_CACHE
# (build/bench-models), installs llama.cpp's prebuilt CPU build from npm once
# into $PINFER_BENCH_NODE (build/bench-node), then runs bench/bench.mjs,
# which writes build/bench.json and prints the table for BENCH.md. Last,
# bench/wasi.mjs compares pinfer.wasm under wasmtime with the native pinfer
# on the 1B model (build/bench-wasi.json), and bench/web.mjs compares
# pinfer's browser build with wllama in Debian's Chromium on the 1B model
# (build/bench-web.json).
set -eu
cd "$(dirname "$0")/.."

shared=${PINFER_SHARED:-../shared}
vocab=${PINFER_BENCH_VOCAB:-$shared/models/llama3-tiny-q3kl.gguf}
cache=${PINFER_BENCH_CACHE:-build/bench-models}
node_prefix=${PINFER_BENCH_NODE:-build/bench-node}
# node-llama-cpp 3.22.1 bundles llama.cpp's prebuilt Linux x64 CPU libraries
# in @node-llama-cpp/linux-x64. --ignore-scripts skips its postinstall, which
# would try to download llama.cpp's source and build it when no prebuilt
# binary fits; --omit=optional skips the CUDA and Vulkan builds.
node_llama_cpp_version=3.22.1

if [ ! -f "$vocab" ]; then
    echo "bench: $vocab not found; set PINFER_SHARED or PINFER_BENCH_VOCAB to a GGUF with the Llama 3 vocabulary" >&2
    exit 1
fi
for tool in node npm /usr/bin/time; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "bench: $tool not found (Debian: apt-get install nodejs npm time)" >&2
        exit 1
    fi
done

mkdir -p "$cache"
for preset in 8b 1b; do
    out="$cache/llama-$preset-Q3_K_L.gguf"
    if [ ! -f "$out" ]; then
        build/gen_model --preset "$preset" --type Q3_K_L --seed 1 --vocab "$vocab" -o "$out"
    fi
done

if [ ! -f "$node_prefix/node_modules/node-llama-cpp/package.json" ] ||
    ! grep -q "\"version\": \"$node_llama_cpp_version\"" "$node_prefix/node_modules/node-llama-cpp/package.json"; then
    mkdir -p "$node_prefix"
    [ -f "$node_prefix/package.json" ] || echo '{"name": "pinfer-bench", "private": true}' >"$node_prefix/package.json"
    npm install --prefix "$node_prefix" --no-audit --no-fund --ignore-scripts --omit=optional \
        "node-llama-cpp@$node_llama_cpp_version" "@node-llama-cpp/linux-x64@$node_llama_cpp_version"
fi

PINFER_BENCH_CACHE=$cache PINFER_BENCH_NODE=$node_prefix node bench/bench.mjs

# pinfer.wasm under wasmtime against the native pinfer on the 1B model, one thread each.
if python3 -c 'import wasmtime' 2>/dev/null; then
    PINFER_BENCH_CACHE=$cache node bench/wasi.mjs
else
    echo "bench: skipping pinfer.wasm, because python3 cannot import wasmtime (pip install wasmtime)" >&2
fi

# pinfer's browser build (make web) against wllama in headless Chromium on the 1B model, 1 and 2
# threads. @wllama/wllama 3.8.1 ships its wasm prebuilt and has no install scripts. The flags are
# those of the install above, so npm runs no script of any package in the prefix and leaves
# node-llama-cpp's optional builds out. playwright-core is the version that tests/web/run.sh
# uses, and it drives the installed Chromium without downloading a browser.
wllama_version=3.8.1
playwright_version=1.65.2
chromium=${PINFER_CHROMIUM:-/usr/bin/chromium}
if [ ! -f build/web/pinfer-mt.js ]; then
    echo "bench: skipping the browser comparison, because build/web/pinfer-mt.js is missing (make web)" >&2
elif [ ! -x "$chromium" ]; then
    echo "bench: skipping the browser comparison, because $chromium is missing (apt-get install chromium, or set PINFER_CHROMIUM)" >&2
else
    if ! grep -qs "\"version\": \"$wllama_version\"" "$node_prefix/node_modules/@wllama/wllama/package.json" ||
        ! grep -qs "\"version\": \"$playwright_version\"" "$node_prefix/node_modules/playwright-core/package.json"; then
        npm install --prefix "$node_prefix" --no-audit --no-fund --ignore-scripts --omit=optional \
            "@wllama/wllama@$wllama_version" "playwright-core@$playwright_version"
    fi
    PINFER_BENCH_CACHE=$cache PINFER_BENCH_NODE=$node_prefix PINFER_CHROMIUM=$chromium node bench/web.mjs
fi
