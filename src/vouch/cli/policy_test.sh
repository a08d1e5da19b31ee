#!/usr/bin/env bash
# `vouch policy test` on a real SEV-SNP report: a policy that permits it, one
# that denies it, and policies rejected before any evidence is read.
#
# Usage: policy_test.sh VOUCH_BINARY VECTORS_DIR
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

mkdir -p "$work/milan"
cp "$vectors/sev-snp/trustee-milan-v2-vcek.der" "$vectors/amd-certs/milan_chain.pem" "$work/milan/"
report="$vectors/sev-snp/trustee-milan-v2.bin"

# expect STATUS PATTERN POLICY_TEXT: runs vouch policy test with the policy
# and checks the exit status and that stdout or stderr matches PATTERN.
expect() {
  local want=$1 pattern=$2 text=$3
  printf '%s' "$text" > "$work/policy.txt"
  "$vouch" policy test --kind SevSnpVm --policy "$work/policy.txt" --collateral "$work/milan" \
    --at 2025-06-01T00:00:00Z "$report" > "$work/out" 2> "$work/err"
  local got=$?
  if [ "$got" -ne "$want" ] || ! grep -Eq -- "$pattern" "$work/out" "$work/err"; then
    echo "FAIL: policy /$pattern/ -> exit $got (want $want)"
    sed 's/^/  stdout: /' "$work/out" | head -n 20
    sed 's/^/  stderr: /' "$work/err" | head -n 5
    failed=$((failed + 1))
    return
  fi
  passed=$((passed + 1))
}

permit_policy='version=1.0;
authorizationrules {
  [type=="x-ms-sevsnpvm-is-debuggable", value==true] => deny();
  c:[type=="x-ms-sevsnpvm-vmpl", value<=0] && [type=="x-ms-attestation-type", value=="sevsnpvm"] => permit();
};
issuancerules {
  c:[type=="x-ms-sevsnpvm-launchmeasurement"] => issue(type="measurement", value=c.value);
};'
expect 0 "result: PERMIT: permitted by authorizationrules rule 2 at 4:3" "$permit_policy"
expect 0 "issued claims: \{\"measurement\":\"[0-9a-f]{96}\"\}" "$permit_policy"
expect 0 "authorizationrules rule 1 \(line 3\).*" "$permit_policy"

deny_policy='version=1.0;
authorizationrules {
  [type=="x-ms-sevsnpvm-guestsvn", value>=1000] => permit();
};'
expect 1 "result: DENY: no authorization rule permitted the evidence; authorizationrules rule 1 at 3:3 did not fire: condition 1 .*not met, x-ms-sevsnpvm-guestsvn is [0-9]+" "$deny_policy"

deny_rule_policy='version=1.0;
authorizationrules {
  => permit();
  [type=="x-ms-sevsnpvm-smt-allowed"] => deny();
};'
expect 1 "denied by authorizationrules rule 2 at 4:3" "$deny_rule_policy"

expect 2 "attestation policy 3:8: '=' in a condition" 'version=1.0;
authorizationrules {
  [type="x-ms-sevsnpvm-vmpl"] => permit();
};'
expect 2 "attestation policy 3:3: unknown claim type \"x-ms-sevsnpvm-vmp\"" 'version=1.0;
authorizationrules {
  [type=="x-ms-sevsnpvm-vmp"] => permit();
};'
expect 2 "cannot compare the number claim value" 'version=1.0;
authorizationrules {
  [type=="x-ms-sevsnpvm-vmpl", value=="0"] => permit();
};'

echo "policy_test.sh: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
