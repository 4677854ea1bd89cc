#!/bin/sh
# Runs each libFuzzer target for FUZZ_SECONDS (default 60) and then replays
# the saved regression inputs. Corpora grow under build/fuzz/corpus-<target>;
# fuzz_model starts from the fixture models of at most 4 MiB.
# Prints one "fuzz:" summary line per target and exits 1 on any crash.
set -u
seconds=${FUZZ_SECONDS:-60}
shared=${PINFER_SHARED:-../shared}
export PINFER_SHARED=$shared
status=0

mkdir -p build/fuzz/corpus-fuzz_model build/fuzz/corpus-fuzz_vocab build/fuzz/corpus-fuzz_prompt
for f in "$shared"/models/*.gguf; do
    [ "$(wc -c <"$f")" -le 4194304 ] && cp -n "$f" build/fuzz/corpus-fuzz_model/ 2>/dev/null
done
for f in "$shared"/reference/prompts/*.txt; do
    cp -n "$f" build/fuzz/corpus-fuzz_prompt/ 2>/dev/null
    cp -n "$f" build/fuzz/corpus-fuzz_vocab/ 2>/dev/null
done

for target in fuzz_model fuzz_vocab fuzz_prompt; do
    log=build/fuzz/$target.log
    regressions=tests/fuzz/regressions/$target
    if [ -d "$regressions" ] && [ -n "$(ls "$regressions")" ]; then
        if ! build/fuzz/$target -runs=1 "$regressions"/* >"$log.regressions" 2>&1; then
            echo "fuzz: $target failed on a saved regression input; see $log.regressions"
            status=1
        fi
    fi
    build/fuzz/$target -max_total_time="$seconds" -max_len=4194304 -rss_limit_mb=4096 -malloc_limit_mb=2048 \
        -timeout=30 -artifact_prefix=build/fuzz/$target- build/fuzz/corpus-$target >"$log" 2>&1
    code=$?
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$')
    [ -n "$runs" ] || runs=$(grep -oE '^#[0-9]+' "$log" | tail -n 1 | tr -d '#')
    corpus=$(ls build/fuzz/corpus-$target | wc -l)
    echo "fuzz: $target ran ${seconds}s, ${runs:-?} executions, corpus $corpus inputs, exit $code"
    if [ "$code" -ne 0 ]; then
        tail -n 30 "$log"
        status=1
    fi
done
exit $status
