#!/bin/sh
# The whole test suite: installs dependencies, then builds and runs every Check suite twice,
# once plainly and once under AddressSanitizer + UndefinedBehaviorSanitizer.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
"$here/tests/install-deps.sh"
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
done

# Fuzzing: every libFuzzer target for a few seconds (clang; a sanitizer build folder of its
# own). KPA_FUZZ_SECONDS=60 tests/run.sh runs them longer; tests/fuzz/run.sh for hours.
dir="$here/build/test-fuzz"
CC=clang cmake -S "$here" -B "$dir" -DCMAKE_BUILD_TYPE=Debug -DKPA_FUZZ=ON -DKPA_BUILD_TESTS=OFF \
        -DKPA_FUZZ_SECONDS="${KPA_FUZZ_SECONDS:-5}" >/dev/null
cmake --build "$dir" -j "$jobs" --target fuzz >/dev/null
echo "== fuzz =="
ctest --test-dir "$dir" --output-on-failure
