#!/bin/sh
# The whole test suite: installs dependencies, then builds and runs every Check suite twice,
# once plainly and once under AddressSanitizer + UndefinedBehaviorSanitizer, runs each
# libFuzzer target briefly, then the real-Kafka suites (tests/kafka/run.sh). Each part prints
# how long it took.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
t0=$(date +%s)
t=$t0
took() { now=$(date +%s); echo "== $1: $((now - t))s =="; t=$now; }
"$here/tests/install-deps.sh"
took "dependencies"
jobs=$(nproc 2>/dev/null || echo 2)
for variant in plain asan; do
        dir="$here/build/test-$variant"
        # The plain build is optimised (-O2 finds warnings -O0 does not), the sanitizer
        # build is not (clearer reports).
        flag=OFF type=RelWithDebInfo
        [ "$variant" = asan ] && flag=ON type=Debug
        cmake -S "$here" -B "$dir" -DCMAKE_BUILD_TYPE=$type -DKPA_SANITIZE=$flag >/dev/null
        cmake --build "$dir" -j "$jobs" >/dev/null
        echo "== $variant =="
        ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
                ctest --test-dir "$dir" --output-on-failure -j "$jobs"
        took "$variant build and suites"
done

# Fuzzing: every libFuzzer target for a few seconds (clang; a sanitizer build folder of its
# own). KPA_FUZZ_SECONDS=60 tests/run.sh runs them longer; tests/fuzz/run.sh for hours.
dir="$here/build/test-fuzz"
CC=clang cmake -S "$here" -B "$dir" -DCMAKE_BUILD_TYPE=Debug -DKPA_FUZZ=ON -DKPA_BUILD_TESTS=OFF \
        -DKPA_FUZZ_SECONDS="${KPA_FUZZ_SECONDS:-5}" >/dev/null
cmake --build "$dir" -j "$jobs" --target fuzz >/dev/null
echo "== fuzz =="
ctest --test-dir "$dir" --output-on-failure
took "fuzz"

# Real Apache Kafka (Maven Central), every topology and verdict; needs root.
"$here/tests/kafka/run.sh"
took "real Kafka"
echo "== whole suite: $(( $(date +%s) - t0 ))s =="
