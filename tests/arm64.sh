#!/bin/sh
# Runs the kernels, quant and generation suites of the aarch64 build under
# qemu-aarch64, the generation suite with the NEON table, and ends with the
# runner's "N passed, N failed". Needs make arm64 and build/arm64/pinfer-qemu.
#
# Emulation makes generation slow. Under qemu-aarch64 7.2 on a 2-core x86-64
# machine, every reference case took 7 minutes (scalar or NEON table) and the
# stories260K cases 2 to 4, depending on the other load. So by default only
# the stories260K cases run, and ARM64_GENERATION=all runs every case.
set -u
qemu=${QEMU_AARCH64:-qemu-aarch64}
shared=$(cd "${PINFER_SHARED:-../shared}" && pwd) || exit 1

if [ "${ARM64_GENERATION:-stories}" != all ]; then
    # A copy of the fixture folder made of symbolic links, whose
    # reference/generation contains only the stories260K cases.
    view=build/arm64/shared-stories
    rm -rf "$view"
    mkdir -p "$view/reference/generation" || exit 1
    ln -s "$shared/models" "$view/models"
    for entry in "$shared"/reference/*; do
        [ "$(basename "$entry")" = generation ] || ln -s "$entry" "$view/reference/"
    done
    for case_file in "$shared"/reference/generation/stories260K*; do
        ln -s "$case_file" "$view/reference/generation/"
    done
    shared=$(cd "$view" && pwd)
    echo "# generation: stories260K reference cases only (ARM64_GENERATION=all runs every case)"
fi

PINFER_SHARED=$shared PINFER_KERNELS=neon PINFER_CLI=build/arm64/pinfer-qemu \
    exec "$qemu" build/arm64/run_tests kernels quant generation
