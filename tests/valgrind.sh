#!/bin/sh
# Runs the CLI on every reference generation once under valgrind memcheck and
# requires zero errors and exit status 0. The output must equal that of the
# same command without valgrind. valgrind 3.19 does not decode AVX-512, so on
# x86-64 the runs use the AVX2 kernels. Ends with "N passed, N failed".
set -u
shared=${PINFER_SHARED:-../shared}
kernels=""
case "$(uname -m)" in x86_64) kernels="--kernels avx2" ;; esac
passed=0
failed=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

for json in "$shared"/reference/generation/*.json; do
    base=$(basename "$json" .json)
    model=${base%%.*}
    prompt=${base#*.}
    n=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["greedy_tokens"]))' "$json")
    set -- -m "$shared/models/$model.gguf" -f "$shared/reference/prompts/$prompt.txt" -n "$n" --temp 0 \
        --no-display-prompt -t 2 $kernels
    build/pinfer "$@" >"$tmp/plain.out" 2>/dev/null
    valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
        build/pinfer "$@" >"$tmp/vg.out" 2>"$tmp/vg.err"
    code=$?
    if [ "$code" -eq 0 ] && cmp -s "$tmp/plain.out" "$tmp/vg.out"; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        echo "FAIL valgrind $model/$prompt: exit $code"
        grep -v '^#' "$tmp/vg.err" | head -n 20
    fi
done
echo "valgrind: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
