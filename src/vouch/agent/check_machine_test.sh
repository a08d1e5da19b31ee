#!/bin/sh
# Runs the real `vouch check` on this machine. Build and CI machines have no
# TEE, so it must say so and exit 1; a run inside a confidential VM must
# exit 0. Either way the JSON output must agree with the exit status.
#
# Usage: check_machine_test.sh VOUCH_BINARY
set -u

VOUCH=${1:?usage: check_machine_test.sh VOUCH_BINARY}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/vouch-check.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

"$VOUCH" check >"$TMP/out.txt" 2>"$TMP/err.txt"
status=$?
cat "$TMP/out.txt"
"$VOUCH" check --json >"$TMP/out.json" 2>>"$TMP/err.txt"
json_status=$?

case $status in
  0)
    grep -q '"confidential": true' "$TMP/out.json" || { echo "FAIL: exit 0 without confidential: true" >&2; exit 1; }
    ;;
  1)
    grep -q "NOT a confidential VM" "$TMP/out.txt" || { echo "FAIL: exit 1 without the NOT line" >&2; exit 1; }
    grep -q '^FAIL' "$TMP/out.txt" || { echo "FAIL: exit 1 without a FAIL line" >&2; exit 1; }
    grep -q '"confidential": false' "$TMP/out.json" || { echo "FAIL: JSON does not say confidential: false" >&2; exit 1; }
    ;;
  *)
    cat "$TMP/err.txt" >&2
    echo "FAIL: vouch check exited $status, want 0 or 1" >&2
    exit 1
    ;;
esac
if [ "$json_status" != "$status" ]; then
  echo "FAIL: --json exited $json_status, text exited $status" >&2
  exit 1
fi

# A fake tree of an SEV-SNP guest whose device answers no ioctl: the TEE is
# found, but fetching a report fails, so the check still exits 1.
mkdir -p "$TMP/root/proc" "$TMP/root/dev"
echo "flags		: fpu sev sev_es sev_snp hypervisor" >"$TMP/root/proc/cpuinfo"
echo "6,1,0,-;Memory Encryption Features active: AMD SEV SEV-ES SEV-SNP" >"$TMP/root/dev/kmsg"
: >"$TMP/root/dev/sev-guest"
"$VOUCH" check --root "$TMP/root" >"$TMP/fake.txt" 2>&1
fake_status=$?
cat "$TMP/fake.txt"
if [ "$fake_status" != 1 ] || ! grep -q "^OK *tee *sev-snp" "$TMP/fake.txt" ||
   ! grep -q "SNP_GET_EXT_REPORT" "$TMP/fake.txt"; then
  echo "FAIL: fake SEV-SNP tree: want tee sev-snp found and the report request failing" >&2
  exit 1
fi
echo "vouch check OK (exit $status on this machine)"
