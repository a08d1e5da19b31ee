#!/usr/bin/env bash
# Runs the benchmarks of bench/ against the build folder $1 (default: build)
# and writes docs/benchmarks.md (`make bench`). Needs python3, wrk and
# heaptrack (Debian packages python3, wrk, heaptrack). Takes about 5 minutes;
# VOUCH_BENCH_SECONDS sets the length of each wrk run (default 5).
set -euo pipefail
cd "$(dirname "$0")/.."
build="${1:-build}"
for binary in src/vouch/cli/vouch bench/vouch_verify_benchmark bench/vouch_bench_client \
    bench/vouch_bench_fill; do
  if [[ ! -x "$build/$binary" ]]; then
    echo "bench: $build/$binary not found: build first (make build)" >&2
    exit 1
  fi
done
for tool in python3 wrk heaptrack; do
  if ! command -v "$tool" >/dev/null; then
    echo "bench: $tool not found: install the Debian package $tool" >&2
    exit 1
  fi
done
exec python3 bench/run_bench.py "$build" "${2:-docs/benchmarks.md}"
