#!/bin/sh
# The benchmarks in one command: builds kpa in Release with the bench programs, then prints
# the results table (Markdown) on stdout; progress goes to stderr. About 6 minutes.
#   bench/run.sh                 all four sections
#   bench/run.sh --quick         shorter runs (checks that the bench itself works)
#   bench/run.sh --only checks   one section: probes, checks, init or tls
# Needs wrk, kcat and the openssl CLI besides the build dependencies (tests/install-deps.sh).
# Section 6 (the gate's overhead on real brokers) is bench/real_readiness.py: root and the
# real-Kafka harness, against a baseline build (docs/benchmarks.md).
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
build="${KPA_BENCH_BUILD:-$here/build-bench}"
for tool in wrk kcat openssl; do
        command -v "$tool" >/dev/null 2>&1 || { echo "bench/run.sh: $tool is not installed" >&2; exit 2; }
done
cmake -S "$here" -B "$build" -DCMAKE_BUILD_TYPE=Release -DKPA_BUILD_TESTS=OFF -DKPA_BUILD_BENCH=ON >/dev/null
cmake --build "$build" -j "$(nproc 2>/dev/null || echo 2)" >/dev/null
exec "$build/bench/kpa-bench" "$build" "$here" "$@"
