#!/bin/sh
# Tests the WASI build: build/pinfer.wasm under wasmtime (the PyPI package,
# through wasi/run_wasmtime.py) and under Node's node:wasi (wasi/run_node.mjs).
# build/pinfer-relaxed.wasm, the same CLI with the wasm-relaxed-simd kernels,
# runs the reference generations and the unit suites too.
#
#   - every reference generation: stdout byte for byte and the statistics
#     lines (timings masked) equal those of the native $PINFER_CLI;
#   - bad flags: the same message and exit status as the native CLI;
#   - a missing preopen, a model too big for wasm32 memory and a context too
#     big for what is left (on a synthetic 1B model that build/gen_model
#     writes once into build/wasi): exit status 1 and one line naming the
#     numbers, and the -c it suggests runs;
#   - build/wasi/run_tests.wasm, the unit suites built for wasm32-wasi,
#     which include the wasm-simd128 kernels against the scalar reference,
#     and build/wasi-relaxed/run_tests.wasm, which adds wasm-relaxed-simd.
#
# Prints failures and one summary line per part, and ends with
# "N passed, N failed". Run from the repository root (make test-wasi).
set -u

SHARED=$(cd "${PINFER_SHARED:-../shared}" && pwd) || exit 1
NATIVE=${PINFER_CLI:-build/pinfer}
WASM=build/pinfer.wasm
WASM_RELAXED=build/pinfer-relaxed.wasm
TESTS_WASM=build/wasi/run_tests.wasm
TESTS_WASM_RELAXED=build/wasi-relaxed/run_tests.wasm
passed=0
failed=0
tmp=$(mktemp -d "${TMPDIR:-/tmp}/pinfer-wasi.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT

check() {
    # check NAME CONDITION_STATUS DETAIL: counts a check, prints it when it failed.
    if [ "$2" -eq 0 ]; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        echo "FAIL $1: $3"
    fi
}

run_in() {
    # run_in RUNTIME ARG...: runs build/pinfer.wasm (or another module) under RUNTIME.
    runtime=$1
    shift
    case $runtime in
    wasmtime) python3 wasi/run_wasmtime.py "$@" ;;
    node) node wasi/run_node.mjs "$@" ;;
    esac
}

# Timings, the seed and the kernel table name differ from run to run and from
# native to wasm; everything else on stderr must match.
mask_stats() {
    sed -E -e 's/kernels [^,]+/kernels K/' -e 's/load: [0-9.]+ ms/load: T ms/' -e 's/seed [0-9]+/seed S/' \
        -e 's/in [0-9.]+ ms \([0-9.]+ tok\/s\)/in T ms (R tok\/s)/g' "$1"
}

runtimes=""
if python3 -c 'import wasmtime' 2>/dev/null; then
    runtimes="wasmtime"
else
    check "wasmtime present" 1 "python3 cannot import wasmtime (pip install wasmtime)"
fi
if node -e 'require("node:wasi")' 2>/dev/null; then
    runtimes="$runtimes node"
else
    check "node present" 1 "node with node:wasi is missing (Node 20 or later)"
fi
for f in "$NATIVE" "$WASM" "$TESTS_WASM" "$WASM_RELAXED" "$TESTS_WASM_RELAXED"; do
    if [ ! -f "$f" ]; then
        check "build present" 1 "$f is missing (make test-wasi builds it)"
        runtimes=""
    fi
done

# ------------------------------------------------ reference generations
# Native and wasm run the same flags; the reference's greedy length sets -n.
python3 - "$SHARED/reference/generation" >"$tmp/cases" <<'EOF'
import json, os, sys
folder = sys.argv[1]
for name in sorted(os.listdir(folder)):
    if name.endswith(".json"):
        with open(os.path.join(folder, name)) as f:
            print(name[:-len(".json")], len(json.load(f)["greedy_tokens"]))
EOF
n_cases=0
before=$failed
while read -r case_name n_predict; do
    [ -n "$runtimes" ] || break
    model=${case_name%%.*}
    prompt=${case_name#*.}
    set -- -m "$SHARED/models/$model.gguf" -f "$SHARED/reference/prompts/$prompt.txt" -n "$n_predict" \
        --temp 0 --no-display-prompt -t 1
    "$NATIVE" "$@" >"$tmp/native.out" 2>"$tmp/native.err"
    native_status=$?
    mask_stats "$tmp/native.err" >"$tmp/native.stats"
    for runtime in $runtimes; do
        for module in "$WASM" "$WASM_RELAXED"; do
            label="$runtime $(basename "$module")"
            run_in "$runtime" --dir "$SHARED" "$module" "$@" >"$tmp/wasm.out" 2>"$tmp/wasm.err"
            status=$?
            mask_stats "$tmp/wasm.err" >"$tmp/wasm.stats"
            cmp -s "$tmp/native.out" "$tmp/wasm.out" && [ "$status" -eq "$native_status" ]
            check "$label $case_name stdout" $? \
                "exit $status (native $native_status), stdout '$(head -c 200 "$tmp/wasm.out")', native '$(head -c 200 "$tmp/native.out")'"
            cmp -s "$tmp/native.stats" "$tmp/wasm.stats"
            check "$label $case_name stats" $? "$(diff "$tmp/native.stats" "$tmp/wasm.stats" | head -n 6)"
        done
    done
    n_cases=$((n_cases + 1))
done <"$tmp/cases"
echo "# reference generations: $n_cases cases under [$runtimes ] with both modules, $((failed - before)) checks failed"

# ----------------------------------------------------- flags and errors
before=$failed
# A synthetic Llama 3.2 1B model at Q3_K_L (0.7 GiB), written once by build/gen_model.
big_dir=build/wasi
big_model=$big_dir/llama-1b-Q3_K_L.gguf
if [ -n "$runtimes" ] && [ ! -f "$big_model" ]; then
    build/gen_model --preset 1b --type Q3_K_L --seed 1 --vocab "$SHARED/models/llama3-tiny-q3kl.gguf" \
        -o "$big_model" >/dev/null 2>&1
    check "1B model written" $? "build/gen_model could not write $big_model"
fi
printf 'Once upon a time' >"$tmp/prompt.txt"
for runtime in $runtimes; do
    # Bad command lines fail before any file is opened, with the native message.
    for args in "--bogus" "-m" "-p hi" "-m m.gguf -n abc" "-m m.gguf -p a -f b" "-m m.gguf --top-p 2" "--help"; do
        # shellcheck disable=SC2086 # the flags are meant to split
        "$NATIVE" $args >"$tmp/native.out" 2>"$tmp/native.err"
        native_status=$?
        # shellcheck disable=SC2086
        run_in "$runtime" "$WASM" $args >"$tmp/wasm.out" 2>"$tmp/wasm.err"
        status=$?
        cmp -s "$tmp/native.err" "$tmp/wasm.err" && cmp -s "$tmp/native.out" "$tmp/wasm.out" &&
            [ "$status" -eq "$native_status" ]
        check "$runtime flags '$args'" $? "exit $status (native $native_status), stderr '$(cat "$tmp/wasm.err")', native '$(cat "$tmp/native.err")'"
    done

    # No --dir: the message shows the --dir the user forgot.
    run_in "$runtime" "$WASM" -m stories.gguf -p hi >"$tmp/wasm.out" 2>"$tmp/wasm.err"
    status=$?
    [ "$status" -eq 1 ] && [ ! -s "$tmp/wasm.out" ] && [ "$(wc -l <"$tmp/wasm.err")" -eq 1 ] &&
        grep -q "cannot open 'stories.gguf': no such file in the directories this WASI module can see" "$tmp/wasm.err" &&
        grep -qF 'wasmtime run --dir . build/pinfer.wasm -m stories.gguf' "$tmp/wasm.err"
    check "$runtime missing preopen" $? "exit $status, stderr '$(cat "$tmp/wasm.err")'"

    # The same for a prompt file outside every preopen.
    run_in "$runtime" --dir "$SHARED" "$WASM" -m "$SHARED/models/stories260K.gguf" -f "$tmp/prompt.txt" \
        >"$tmp/wasm.out" 2>"$tmp/wasm.err"
    status=$?
    [ "$status" -eq 1 ] && grep -qF -- "--dir $tmp build/pinfer.wasm" "$tmp/wasm.err"
    check "$runtime prompt outside preopens" $? "exit $status, stderr '$(cat "$tmp/wasm.err")'"

    # A missing file inside a preopened directory: the native message.
    "$NATIVE" -m "$tmp/missing.gguf" >/dev/null 2>"$tmp/native.err"
    run_in "$runtime" --dir "$tmp" "$WASM" -m "$tmp/missing.gguf" >/dev/null 2>"$tmp/wasm.err"
    status=$?
    [ "$status" -eq 1 ] && cmp -s "$tmp/native.err" "$tmp/wasm.err"
    check "$runtime missing file" $? "exit $status, stderr '$(cat "$tmp/wasm.err")', native '$(cat "$tmp/native.err")'"

    # A 5 GiB model (a sparse file) is rejected before any byte is read.
    mkdir -p "$tmp/big"
    truncate -s 5G "$tmp/big/huge.gguf"
    run_in "$runtime" --dir "$tmp/big" "$WASM" -m "$tmp/big/huge.gguf" -p hi >"$tmp/wasm.out" 2>"$tmp/wasm.err"
    status=$?
    [ "$status" -eq 1 ] && [ "$(wc -l <"$tmp/wasm.err")" -eq 1 ] &&
        grep -q "the model has 5.00 GiB but at most [0-9.]* GiB of wasm32 memory is left for it" "$tmp/wasm.err" &&
        grep -q "smaller quantization" "$tmp/wasm.err"
    check "$runtime model too big" $? "exit $status, stderr '$(cat "$tmp/wasm.err")'"

    # A context beyond the training context: the core's message.
    run_in "$runtime" --dir "$SHARED" "$WASM" -m "$SHARED/models/stories260K.gguf" -p hi -c 100000000 \
        >"$tmp/wasm.out" 2>"$tmp/wasm.err"
    status=$?
    [ "$status" -eq 1 ] && [ "$(wc -l <"$tmp/wasm.err")" -eq 1 ] &&
        grep -qF "context of 100000000 tokens requested but the model was trained for 2048 (use -c 2048 or less)" \
            "$tmp/wasm.err"
    check "$runtime context over training" $? "exit $status, stderr '$(cat "$tmp/wasm.err")'"

    # A context too big for the memory left next to a 0.7 GiB model: the
    # message names the largest -c that fits, and that -c runs.
    run_in "$runtime" --dir "$big_dir" "$WASM" -m "$big_model" -p hi -n 1 -c 131072 >"$tmp/wasm.out" 2>"$tmp/wasm.err"
    status=$?
    fits=$(sed -n 's/.*use -c \([0-9]*\) or less.*/\1/p' "$tmp/wasm.err")
    [ "$status" -eq 1 ] && grep -q "a context of 131072 tokens needs" "$tmp/wasm.err" && [ -n "$fits" ]
    check "$runtime context too big" $? "exit $status, stderr '$(grep pinfer: "$tmp/wasm.err")'"
    if [ -n "$fits" ]; then
        run_in "$runtime" --dir "$big_dir" "$WASM" -m "$big_model" -p hi -n 1 -c "$fits" >"$tmp/wasm.out" 2>"$tmp/wasm.err"
        status=$?
        [ "$status" -eq 0 ]
        check "$runtime suggested context runs" $? "-c $fits: exit $status, stderr '$(grep pinfer: "$tmp/wasm.err")'"
    fi

    # One thread only: -t 2 is rejected as threads that cannot start.
    run_in "$runtime" --dir "$SHARED" "$WASM" -m "$SHARED/models/stories260K.gguf" -p hi -t 2 \
        >"$tmp/wasm.out" 2>"$tmp/wasm.err"
    status=$?
    [ "$status" -eq 1 ] && grep -q "cannot start 2 threads" "$tmp/wasm.err"
    check "$runtime two threads" $? "exit $status, stderr '$(cat "$tmp/wasm.err")'"
done
echo "# flags and errors under [$runtimes ]: $((failed - before)) checks failed"

# ------------------------------------------------- unit suites as wasm
for runtime in $runtimes; do
    for runner in "$TESTS_WASM" "$TESTS_WASM_RELAXED"; do
        run_in "$runtime" --dir "$SHARED::/shared" --env PINFER_SHARED=/shared "$runner" \
            gguf quant kernels model vocab sampler >"$tmp/units.log" 2>&1
        status=$?
        grep -E '^(FAIL|# kernel tables)' "$tmp/units.log"
        line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$tmp/units.log" | tail -n 1)
        if [ -z "$line" ]; then
            tail -n 5 "$tmp/units.log"
            check "$runtime $runner" 1 "the runner stopped before its summary (exit status $status)"
            continue
        fi
        echo "# $runner under $runtime: $line"
        passed=$((passed + $(echo "$line" | cut -d' ' -f1)))
        failed=$((failed + $(echo "$line" | cut -d' ' -f3)))
        [ "$status" -eq 0 ] || [ "$(echo "$line" | cut -d' ' -f3)" -ne 0 ] ||
            check "$runtime $runner exit" 1 "exit status $status with no failed check"
    done
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
