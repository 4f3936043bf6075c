#!/bin/sh
# Runs the libFuzzer targets of a KPA_FUZZ build, each for SECONDS, starting from its seed
# corpus tests/fuzz/corpus/<name>/. New corpus entries go to BUILD_DIR/fuzz/corpus/<name>/,
# crashes to BUILD_DIR/fuzz/artifacts/<name>/, logs to BUILD_DIR/fuzz/logs/; the source tree
# is never written. Exit status 1 if any target found a crash, leak or timeout.
#
#   tests/fuzz/run.sh BUILD_DIR SECONDS [NAME...]     NAME: props, opts, ... (default: all)
#
# Extra libFuzzer flags come from KPA_FUZZ_ARGS, e.g. KPA_FUZZ_ARGS="-jobs=8 -workers=8".
set -eu
if [ $# -lt 2 ]; then
        echo "usage: $0 BUILD_DIR SECONDS [NAME...]" >&2
        exit 2
fi
build=$(cd "$1" && pwd)
seconds=$2
shift 2
src=$(cd "$(dirname "$0")" && pwd)
bindir="$build/fuzz"

if [ $# -gt 0 ]; then
        names="$*"
else
        names=$(cd "$bindir" && ls fuzz_* 2>/dev/null | sed 's/^fuzz_//' | grep -v '\.' || true)
fi
if [ -z "$names" ]; then
        echo "no fuzz targets in $bindir (configure with CC=clang -DKPA_FUZZ=ON and build)" >&2
        exit 2
fi

# Leaks count as findings; a sanitizer report must end the run so libFuzzer saves the input.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

failed=""
for name in $names; do
        bin="$bindir/fuzz_$name"
        if [ ! -x "$bin" ]; then
                echo "fuzz_$name: not built" >&2
                failed="$failed $name"
                continue
        fi
        corpus="$bindir/corpus/$name"
        artifacts="$bindir/artifacts/$name"
        logs="$bindir/logs/$name"
        mkdir -p "$corpus" "$artifacts" "$logs"
        seeds=""
        [ -d "$src/corpus/$name" ] && seeds="$src/corpus/$name"
        # The first corpus folder receives what the run finds; the seeds are only read.
        # -jobs writes fuzz-<n>.log into the working folder: run from the log folder.
        # shellcheck disable=SC2086
        if (cd "$logs" && "$bin" -max_total_time="$seconds" -rss_limit_mb=1024 -timeout=5 \
                -detect_leaks=1 -print_final_stats=1 -artifact_prefix="$artifacts/" \
                ${KPA_FUZZ_ARGS:-} "$corpus" $seeds >"$logs/run.log" 2>&1); then
                runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$logs/run.log" | tail -n 1)
                echo "fuzz_$name: ok (${runs:-?} runs in ${seconds}s, corpus $corpus)"
        else
                echo "fuzz_$name: FAILED (log $logs/run.log)"
                grep -a -E "ERROR|invariant broken|SUMMARY|Test unit written" "$logs/run.log" | head -n 20 || true
                echo "  reproduce: $bin $artifacts/<crash-file>"
                failed="$failed $name"
        fi
done
if [ -n "$failed" ]; then
        echo "fuzzing found problems in:$failed" >&2
        exit 1
fi
