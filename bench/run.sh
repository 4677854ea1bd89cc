#!/bin/sh
# make bench: pinfer against llama.cpp on synthetic Llama 3.1 8B and 3.2 1B
# models at Q3_K_L. Writes the models once into $PINFER_BENCH_CACHE
# (build/bench-models), installs llama.cpp's prebuilt CPU build from npm once
# into $PINFER_BENCH_NODE (build/bench-node), then runs bench/bench.mjs,
# which writes build/bench.json and prints the table for BENCH.md. Last,
# bench/wasi.mjs compares pinfer.wasm under wasmtime with the native pinfer
# on the 1B model (build/bench-wasi.json).
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
