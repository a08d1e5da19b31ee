#!/usr/bin/env bash
# Prints the sanitizer log files that a test run wrote to DIR and exits 1
# if any of them contains a report. `make test-sanitize` and
# `make test-tsan` set the sanitizers' log_path into DIR, so this also
# catches a report from a child process (a `vouch serve` that a test
# starts) whose exit status the test does not check.
#
#   scripts/sanitizers/check-reports.sh DIR
set -euo pipefail

dir="$1"
shopt -s nullglob
files=("$dir"/*)

# Every ASan, LSan, UBSan and TSan report ends with a SUMMARY line. Other
# sanitizer output in a log file is printed but does not fail the run.
reports=()
for f in "${files[@]}"; do
  echo "==== $f"
  cat "$f"
  if grep -qE '^SUMMARY: [A-Za-z]*Sanitizer|runtime error:' "$f"; then
    reports+=("$f")
  fi
done

if [ ${#reports[@]} -gt 0 ]; then
  echo "sanitizers: ${#reports[@]} process(es) reported findings: ${reports[*]}"
  exit 1
fi
echo "sanitizers: no report in $dir (${#files[@]} log file(s))"
