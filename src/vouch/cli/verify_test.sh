#!/usr/bin/env bash
# `vouch verify` on real SEV-SNP evidence: exit status 0 for evidence that
# verifies, 1 for rejected evidence (with the failed check on stderr), 2 for
# usage and I/O errors.
#
# Usage: verify_test.sh VOUCH_BINARY VECTORS_DIR
set -uo pipefail

vouch=$1
vectors=${VOUCH_VECTORS:-$2}
if [ ! -d "$vectors" ]; then
  echo "real-evidence vectors folder not found at $vectors (set VOUCH_VECTORS to its path)"
  if [ "${VOUCH_REQUIRE_VECTORS:-0}" = "1" ]; then exit 1; fi
  exit 77  # CTest SKIP_RETURN_CODE
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
passed=0
failed=0

# collateral NAME FILE...: a folder holding the given certificate files.
collateral() {
  local dir="$work/$1"
  shift
  mkdir -p "$dir"
  for f in "$@"; do cp "$vectors/$f" "$dir/"; done
  echo "$dir"
}

# expect STATUS STDERR_PATTERN -- ARGS...: runs vouch verify and checks both.
expect() {
  local want=$1 pattern=$2
  shift 3
  "$vouch" verify "$@" > "$work/out" 2> "$work/err"
  local got=$?
  if [ "$got" -ne "$want" ] || ! grep -Eq -- "$pattern" "$work/out" "$work/err"; then
    echo "FAIL: vouch verify $* -> exit $got (want $want), output lacks /$pattern/"
    sed 's/^/  stdout: /' "$work/out" | head -n 5
    sed 's/^/  stderr: /' "$work/err" | head -n 5
    failed=$((failed + 1))
    return
  fi
  passed=$((passed + 1))
}

milan=$(collateral milan sev-snp/trustee-milan-v2-vcek.der amd-certs/milan_chain.pem)
expect 0 "sevsnpvm" -- --collateral "$milan" --at 2025-06-01T00:00:00Z \
  "$vectors/sev-snp/trustee-milan-v2.bin"
expect 0 '"x-ms-sevsnpvm-vmpl"' -- --json --collateral "$milan" --at 2025-06-01T00:00:00Z \
  "$vectors/sev-snp/trustee-milan-v2.bin"
# Outside the VCEK's validity window.
expect 1 "valid|validity|expired|not yet" -- --collateral "$milan" --at 2031-01-01T00:00:00Z \
  "$vectors/sev-snp/trustee-milan-v2.bin"
# A VCEK of another chip: the report's chip id or TCB does not match it.
other=$(collateral other sev-snp/virtee-milan-vcek.der amd-certs/milan_chain.pem)
expect 1 "chip|hwid|hwID|tcb|TCB|no VCEK|vcek" -- --collateral "$other" --at 2025-06-01T00:00:00Z \
  "$vectors/sev-snp/trustee-milan-v2.bin"

genoa=$(collateral genoa sev-snp/oak-genoa-vcek.der amd-certs/genoa_chain.pem)
expect 0 "sevsnpvm" -- --collateral "$genoa" --at 2026-01-01T00:00:00Z \
  "$vectors/sev-snp/oak-genoa-v5.bin"

# Debug-enabled guest: rejected by the default appraisal, accepted when allowed.
debug=$(collateral debug sev-snp/gosevguest-milan-vcek.der amd-certs/milan_chain.pem)
expect 1 "debug" -- --collateral "$debug" --at 2025-06-01T00:00:00Z \
  "$vectors/sev-snp/gosevguest-milan-v2.bin"
expect 0 "sevsnpvm" -- --allow-debug --collateral "$debug" --at 2025-06-01T00:00:00Z \
  "$vectors/sev-snp/gosevguest-milan-v2.bin"

# VLEK-signed report at VMPL 1 (AWS): rejected by default, accepted with --max-vmpl 1.
vlek=$(collateral vlek sev-snp/trustee-aws-milan-vlek-v3-vlek.der amd-certs/milan_vlek_chain.pem)
expect 1 "vmpl" -- --collateral "$vlek" --at 2025-06-01T00:00:00Z \
  "$vectors/sev-snp/trustee-aws-milan-vlek-v3.bin"
expect 0 "sevsnpvm" -- --max-vmpl 1 --collateral "$vlek" --at 2025-06-01T00:00:00Z \
  "$vectors/sev-snp/trustee-aws-milan-vlek-v3.bin"
# The same report with only the VCEK chain available.
expect 1 "VLEK|vlek|ASVK|asvk" -- --max-vmpl 1 --collateral "$milan" --at 2025-06-01T00:00:00Z \
  "$vectors/sev-snp/trustee-aws-milan-vlek-v3.bin"

# A real VLEK that did not sign this report.
mismatch=$(collateral mismatch sev-snp/negative/constellation-vlek-unrelated.pem \
  amd-certs/milan_vlek_chain.pem)
expect 1 "signature" -- --collateral "$mismatch" --at 2024-01-01T00:00:00Z \
  "$vectors/sev-snp/negative/constellation-vlek-report-v2-mismatched.bin"

# Usage and I/O errors.
expect 2 "." -- --collateral "$milan" "$work/does-not-exist.bin"
expect 2 "." -- --at not-a-time "$vectors/sev-snp/trustee-milan-v2.bin"
head -c 100 "$vectors/sev-snp/trustee-milan-v2.bin" > "$work/short.bin"
expect 2 "." -- --collateral "$milan" "$work/short.bin"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
