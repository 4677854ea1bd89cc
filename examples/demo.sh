#!/bin/sh
# Generates a short story with build/pinfer and a tiny TinyStories model.
#
# Looks for stories260K-32h-Q3_K_L.gguf (the engine's test model, in the
# Q3_K_L type mix of Llama 3.1 8B) in $PINFER_MODELS, then in
# ${PINFER_SHARED:-../shared}/models; failing both, downloads the original
# stories260K.gguf (1.2 MB, F32) into build/models/.
set -u

url=https://huggingface.co/ggml-org/models/resolve/main/tinyllamas/stories260K.gguf
shared=${PINFER_SHARED:-../shared}
tried=""
model=""

for dir in ${PINFER_MODELS:-} "$shared/models"; do
    for name in stories260K-32h-Q3_K_L.gguf stories260K.gguf; do
        tried="$tried $dir/$name"
        if [ -f "$dir/$name" ]; then
            model=$dir/$name
            break 2
        fi
    done
done

if [ -z "$model" ] && [ -f build/models/stories260K.gguf ]; then
    model=build/models/stories260K.gguf
fi

if [ -z "$model" ]; then
    mkdir -p build/models
    echo "demo: no local model found; downloading $url" >&2
    if command -v curl >/dev/null 2>&1; then
        curl -fL --retry 2 -o build/models/stories260K.gguf.part "$url"
    elif command -v wget >/dev/null 2>&1; then
        wget -O build/models/stories260K.gguf.part "$url"
    else
        false
    fi
    if [ $? -eq 0 ]; then
        mv build/models/stories260K.gguf.part build/models/stories260K.gguf
        model=build/models/stories260K.gguf
    else
        rm -f build/models/stories260K.gguf.part
        echo "demo: no model to run. Looked for:$tried" >&2
        echo "demo: and the download of $url failed (no curl or wget, or no network)." >&2
        echo "demo: put a GGUF model in a folder and run: PINFER_MODELS=/that/folder make demo" >&2
        exit 1
    fi
fi

echo "demo: $model" >&2
exec build/pinfer -m "$model" -p "Once upon a time" -n 200 --temp 0
