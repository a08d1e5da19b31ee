#!/usr/bin/env bash
# Builds every fuzz target with clang and libFuzzer (plus AddressSanitizer
# and UndefinedBehaviorSanitizer) and runs each for FUZZ_SECONDS.
# New inputs go to build-fuzz/corpus/<target>/; crashes to
# build-fuzz/crashes/<target>/. Seeds are read in place and never written.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-${FUZZ_SECONDS:-60}}"
shift || true
build=build-fuzz

CC=clang CXX=clang++ cmake -S . -B "$build" -G Ninja -DVOUCH_FUZZ=ON \
  -DVOUCH_SANITIZE=address,undefined -DVOUCH_WERROR=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" --target vouch_fuzzers -j "${FUZZ_JOBS:-2}"

status=0
while read -r name seeds; do
  [ -n "$name" ] || continue
  if [ $# -gt 0 ] && [[ ! " $* " =~ " $name " ]]; then
    continue
  fi
  corpus="$build/corpus/$name"
  crashes="$build/crashes/$name"
  mkdir -p "$corpus" "$crashes"
  existing=()
  for dir in $seeds; do
    [ -d "$dir" ] && existing+=("$dir")
  done
  echo "fuzz: $name for ${seconds}s"
  if ! "$build/fuzz/vouch_fuzz_$name" -max_total_time="$seconds" -max_len=1048576 -timeout=25 \
      -artifact_prefix="$crashes/" -print_final_stats=1 "$corpus" "${existing[@]}" \
      > "$build/fuzz-$name.log" 2>&1; then
    echo "fuzz: $name FAILED; see $build/fuzz-$name.log and $crashes/"
    status=1
  fi
  # The three numbers that docs/security.md records for each run.
  grep -E "^Done [0-9]+ runs in|stat::number_of_executed_units|stat::peak_rss_mb" \
    "$build/fuzz-$name.log" | sed "s/^/fuzz: $name /" || true
done < "$build/fuzz/targets.txt"
exit $status
