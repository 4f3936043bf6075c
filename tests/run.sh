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
