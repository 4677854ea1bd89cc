#!/bin/sh
# Runs the test suites with the release build, then with the sanitizer build,
# then the generation suite with each SIMD kernel table. Then come the WASI
# build (tests/wasi.sh), the aarch64 build under qemu (tests/arm64.sh) and
# the browser build in Chromium (tests/web/run.sh).
# The last line sums every run: "N passed, N failed".
set -u
status=0
total_passed=0
total_failed=0

run() {
    label=$1
    shift
    echo "## $label"
    "$@" >build/test-$label.log 2>&1
    code=$?
    cat build/test-$label.log
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' build/test-$label.log | tail -n 1)
    if [ -z "$line" ]; then
        echo "## $label: the runner stopped before its summary (exit status $code)"
        total_failed=$((total_failed + 1))
        status=1
        return
    fi
    total_passed=$((total_passed + $(echo "$line" | cut -d' ' -f1)))
    total_failed=$((total_failed + $(echo "$line" | cut -d' ' -f3)))
    [ "$code" -eq 0 ] || status=1
}

PINFER_CLI=build/pinfer run release build/run_tests "$@"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 \
    PINFER_CLI=build/asan/pinfer run sanitizers build/asan/run_tests "$@"

# The generation suite once more with each faster kernel table this CPU
# runs, as listed by the kernels suite of the release run.
case " ${*:-generation} " in
*" generation "*)
    for table in $(sed -n 's/^# kernel tables on this CPU: //p' build/test-release.log); do
        [ "$table" = scalar ] && continue
        PINFER_KERNELS=$table PINFER_CLI=build/pinfer run "generation-$table" build/run_tests generation
    done
    ;;
esac

# The WASI build under wasmtime and Node, checked against build/pinfer.
case " ${*:-wasi} " in
*" wasi "*) PINFER_CLI=build/pinfer run wasi sh tests/wasi.sh ;;
esac

# The aarch64 build under qemu-aarch64 with the NEON table. make test builds
# it only when aarch64-linux-gnu-gcc and qemu-aarch64 are installed.
case " ${*:-arm64} " in
*" arm64 "*)
    if [ -x build/arm64/run_tests ] && [ -x build/arm64/pinfer-qemu ]; then
        run arm64 sh tests/arm64.sh
    else
        echo "## arm64: skipped, build/arm64 not built (install gcc-aarch64-linux-gnu, libc6-dev-arm64-cross and qemu-user)"
    fi
    ;;
esac

# The browser build in headless Chromium. make test builds build/web only
# when emcc is installed; tests/web/run.sh needs Chromium and npm as well.
case " ${*:-web} " in
*" web "*)
    if [ -f build/web/pinfer-mt.js ] && [ -x "${PINFER_CHROMIUM:-/usr/bin/chromium}" ]; then
        run web sh tests/web/run.sh
    else
        echo "## web: skipped, build/web or Chromium missing (install emscripten and chromium)"
    fi
    ;;
esac

echo "$total_passed passed, $total_failed failed"
exit $status
