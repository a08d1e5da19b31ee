#!/usr/bin/env bash
# `vouch verify` on real SEV-SNP evidence and SGX/TDX DCAP quotes, and
# `vouch collateral import|show`: exit status 0 for evidence that
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
# --snp-min-tcb: this report's REPORTED_TCB is bootloader=3,tee=0,snp=8,
# microcode=115. At that minimum it passes; one step above in any component
# rejects it and names the component. fmc applies to Turin reports only.
expect 0 "sevsnpvm" -- --snp-min-tcb bootloader=3,tee=0,snp=8,microcode=115 \
  --collateral "$milan" --at 2025-06-01T00:00:00Z "$vectors/sev-snp/trustee-milan-v2.bin"
expect 0 "sevsnpvm" -- --snp-min-tcb bootloader=2,microcode=100,fmc=255 \
  --collateral "$milan" --at 2025-06-01T00:00:00Z "$vectors/sev-snp/trustee-milan-v2.bin"
expect 1 "reported TCB microcode is 115, want at least 116" -- \
  --snp-min-tcb bootloader=3,tee=0,snp=8,microcode=116 \
  --collateral "$milan" --at 2025-06-01T00:00:00Z "$vectors/sev-snp/trustee-milan-v2.bin"
expect 1 "reported TCB snp is 8, want at least 9" -- --snp-min-tcb snp=9 \
  --collateral "$milan" --at 2025-06-01T00:00:00Z "$vectors/sev-snp/trustee-milan-v2.bin"
expect 1 "reported TCB bootloader is 3, want at least 4" -- --snp-min-tcb bootloader=4 \
  --collateral "$milan" --at 2025-06-01T00:00:00Z "$vectors/sev-snp/trustee-milan-v2.bin"
expect 1 "reported TCB tee is 0, want at least 1" -- --snp-min-tcb tee=1 \
  --collateral "$milan" --at 2025-06-01T00:00:00Z "$vectors/sev-snp/trustee-milan-v2.bin"
expect 2 "--snp-min-tcb" -- --snp-min-tcb microcode=256 \
  --collateral "$milan" --at 2025-06-01T00:00:00Z "$vectors/sev-snp/trustee-milan-v2.bin"
expect 2 "--snp-min-tcb" -- --snp-min-tcb speed=3 \
  --collateral "$milan" --at 2025-06-01T00:00:00Z "$vectors/sev-snp/trustee-milan-v2.bin"
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

# SGX and TDX DCAP quotes with Intel collateral folders (PCS files found by
# content) and the Intel certificates, at the times of the vectors' matrix.
ic="$vectors/intel-collateral"
certs="$vectors/intel-certs"
qvl="$ic/2025-06-19_dcap-qvl"
expect 0 "TDX quote version 4, TCB status UpToDate" -- --collateral "$qvl" --collateral "$certs" \
  --at 2025-06-20T12:00:00Z "$vectors/tdx/dcapqvl-v4-b0c06f.dat"
expect 0 '"attester_tcb_status": "UpToDate"' -- --json --collateral "$qvl" --collateral "$certs" \
  --at 2025-06-20T12:00:00Z "$vectors/tdx/dcapqvl-v4-b0c06f.dat"
# No matching TCB level: "TCB level not supported" rejects.
expect 1 "tcb level not supported" -- --collateral "$qvl" --collateral "$certs" \
  --at 2025-06-20T12:00:00Z "$vectors/tdx/dcapqvl-v4-b0c06f-tdxhex.dat"
# SGX ConfigurationAndSWHardeningNeeded: rejected by default, accepted when listed.
expect 1 "ConfigurationAndSWHardeningNeeded" -- --collateral "$qvl" --collateral "$certs" \
  --at 2025-06-20T12:00:00Z "$vectors/sgx/dcapqvl-v3-00a067110000.dat"
expect 0 "INTEL-SA-00289, INTEL-SA-00615" -- --accept-tcb UpToDate,ConfigurationAndSWHardeningNeeded \
  --collateral "$qvl" --collateral "$certs" --at 2025-06-20T12:00:00Z \
  "$vectors/sgx/dcapqvl-v3-00a067110000.dat"
# TDX OutOfDate with advisories (8000-byte buffer with zero padding).
expect 1 "OutOfDate" -- --collateral "$ic/2025-01-21_zkdcap" --collateral "$certs" \
  --at 2025-02-01T00:00:00Z "$vectors/tdx/zkdcap-gcp-v4-00806f05-padded.dat"
expect 0 "INTEL-SA-00960, INTEL-SA-00982, INTEL-SA-00986" -- --accept-tcb OutOfDate \
  --collateral "$ic/2025-01-21_zkdcap" --collateral "$certs" --at 2025-02-01T00:00:00Z \
  "$vectors/tdx/zkdcap-gcp-v4-00806f05-padded.dat"
expect 0 "TCB status UpToDate" -- --collateral "$ic/2025-01-21_zkdcap" --collateral "$certs" \
  --at 2025-02-01T00:00:00Z "$vectors/tdx/zkdcap-v4-00806f05.dat"
# Expired collateral names the item and its dates.
expect 1 "next update" -- --collateral "$ic/2025-01-21_zkdcap" --collateral "$certs" \
  --at 2025-03-01T00:00:00Z "$vectors/tdx/zkdcap-v4-00806f05.dat"
# trustee's TD runs with DEBUG set: rejected by default after everything
# else verified, accepted with --allow-debug.
expect 1 "DEBUG" -- --collateral "$ic/2023-06_go-tdx-guest" \
  --at 2023-07-01T01:00:00Z "$vectors/tdx/trustee-v4-50806f.dat"
expect 0 "TCB status UpToDate" -- --allow-debug --collateral "$ic/2023-06_go-tdx-guest" \
  --at 2023-07-01T01:00:00Z "$vectors/tdx/trustee-v4-50806f.dat"
expect 1 "tcb level not supported" -- --collateral "$ic/2023-06_go-tdx-guest" \
  --at 2023-07-01T01:00:00Z "$vectors/tdx/gotdxguest-spr-e4-v4-50806f.dat"
expect 0 "OutOfDate" -- --accept-tcb OutOfDate --collateral "$ic/2025-10_automata" \
  --collateral "$certs" --at 2025-10-20T00:00:00Z "$vectors/azure/trustee-az-tdx-td-quote.dat"
# The Occlum enclave is a debug enclave too.
expect 1 "DEBUG" -- --accept-tcb OutOfDate --collateral "$ic/2025-08-15_automata" \
  --collateral "$certs" --at 2025-08-20T00:00:00Z "$vectors/sgx/trustee-occlum-v3-00606a.dat"
expect 0 "SGX quote version 3, TCB status OutOfDate" -- --allow-debug --accept-tcb OutOfDate \
  --collateral "$ic/2025-08-15_automata" --collateral "$certs" --at 2025-08-20T00:00:00Z \
  "$vectors/sgx/trustee-occlum-v3-00606a.dat"
expect 2 "Revoked" -- --accept-tcb UpToDate,Revoked --collateral "$qvl" --collateral "$certs" \
  --at 2025-06-20T12:00:00Z "$vectors/tdx/dcapqvl-v4-b0c06f.dat"
expect 2 "unknown" -- --accept-tcb Fine --collateral "$qvl" \
  "$vectors/tdx/dcapqvl-v4-b0c06f.dat"

# Azure vTPM evidence in Trustee's az-snp-vtpm (v0, v1, v2) and az-tdx-vtpm
# (v0, v1) layouts. The TPM quote's qualifying data is "challenge", except in
# az-snp-vtpm v2, where it is 48 bytes of report data.
challenge=6368616c6c656e6765
snp_v2_nonce=982f5c6e45df0ed3f10b6f60b02f0c8390e281300f3805e2279c16168cd6ae9aa398f647caa2338748cd0fd9f5f819ef
amd=$(collateral amd amd-certs/milan_chain.pem)
azure="$vectors/azure"

# flip FILE MEMBER BYTE: writes $work/flipped.json, a copy of FILE with one
# byte of MEMBER's value changed near offset BYTE. MEMBER is a JSON array of
# byte values, a hex string (message, signature) or a base64url string
# (hcl_report, td_quote), where the first byte of BYTE's 3-byte group
# changes. MEMBER "pcrs" changes the first byte of PCR 0.
flip() {
  perl -0777 -pe '
    BEGIN { ($member, $byte) = splice(@ARGV, 1, 2); }
    my $changed = 0;
    if ($member eq "pcrs") {
      $changed = s/("pcrs"\s*:\s*\[\s*\[\s*)(\d+)/$1 . ($2 ^ 1)/e ||
                 s/("pcrs"\s*:\s*\[\s*")([0-9a-fA-F])/$1 . ($2 eq "0" ? "1" : "0")/e;
    } elsif (/"$member"\s*:\s*\[/) {
      $changed = s/("$member"\s*:\s*\[(?:\s*\d+\s*,){$byte}\s*)(\d+)/$1 . ($2 ^ 1)/e;
    } elsif ($member eq "message" || $member eq "signature") {
      my $skip = 2 * $byte;
      $changed = s/("$member"\s*:\s*"[0-9a-fA-F]{$skip})([0-9a-fA-F])/$1 . ($2 eq "0" ? "1" : "0")/e;
    } else {
      my $skip = 4 * int($byte / 3);
      $changed = s/("$member"\s*:\s*"[A-Za-z0-9_=-]{$skip})([A-Za-z0-9_-])/$1 . ($2 eq "A" ? "B" : "A")/e;
    }
    die "flip: $member not found\n" unless $changed;
  ' "$1" "$2" "$3" > "$work/flipped.json"
}

# HCL report offsets: the hardware report starts at byte 32 and the runtime
# claims JSON at byte 1236. Byte 176 is inside the SEV-SNP report's signed
# part (MEASUREMENT), byte 632 inside the TDREPORT's MRCONFIGID, and byte
# 1300 inside the runtime claims that REPORT_DATA binds.
for version in v0 v1 v2; do
  file="$azure/trustee-az-snp-vtpm-evidence-$version.json"
  nonce=$challenge
  if [ "$version" = v2 ]; then nonce=$snp_v2_nonce; fi
  hcl=hcl_report
  if [ "$version" = v0 ]; then hcl=report; fi
  at=(--collateral "$amd" --at 2026-01-01T00:00:00Z)
  expect 0 "Azure SEV-SNP vTPM evidence \(trustee-az-snp-vtpm-$version\)" -- --nonce "$nonce" \
    "${at[@]}" "$file"
  # Without --collateral the ASK comes from the certificates in the
  # evidence's folder.
  expect 0 "x-ms-attestation-type: azurevm" -- --nonce "$nonce" --at 2026-01-01T00:00:00Z "$file"
  expect 1 "qualifying data" -- --nonce "${challenge}00" "${at[@]}" "$file"
  expect 2 "nonce" -- "${at[@]}" "$file"
  # After the VCEK's validity (2025-01-28 to 2032-01-28).
  expect 1 "valid|expired" -- --nonce "$nonce" --collateral "$amd" --at 2033-01-01T00:00:00Z \
    "$file"
  flip "$file" message 40
  expect 1 "not signed by HCLAkPub" -- --nonce "$nonce" "${at[@]}" "$work/flipped.json"
  flip "$file" pcrs 0
  expect 1 "pcrDigest" -- --nonce "$nonce" "${at[@]}" "$work/flipped.json"
  flip "$file" "$hcl" 176
  expect 1 "SEV-SNP report.*signature" -- --nonce "$nonce" "${at[@]}" "$work/flipped.json"
  flip "$file" "$hcl" 1300
  expect 1 "runtime" -- --nonce "$nonce" "${at[@]}" "$work/flipped.json"
done

# az-tdx-vtpm: the TD quote's TCB is OutOfDate at 2025-10-20 with the
# 2025-10 collateral, which rejects by default, like a bare TD quote.
for version in v0 v1; do
  file="$azure/trustee-az-tdx-vtpm-evidence-$version.json"
  tdx_collateral=(--collateral "$ic/2025-10_automata" --collateral "$certs" \
    --at 2025-10-20T00:00:00Z)
  expect 1 "OutOfDate" -- --nonce "$challenge" "${tdx_collateral[@]}" "$file"
  expect 0 "trustee-az-tdx-vtpm-$version.*TD quote TCB status OutOfDate, advisories INTEL-SA-00960" \
    -- --accept-tcb OutOfDate --nonce "$challenge" "${tdx_collateral[@]}" "$file"
  expect 0 "TD quote TCB not evaluated" -- --nonce "$challenge" "$file"
  expect 1 "qualifying data" -- --nonce "${challenge}00" "$file"
  flip "$file" message 40
  expect 1 "not signed by HCLAkPub" -- --nonce "$challenge" "$work/flipped.json"
  flip "$file" pcrs 0
  expect 1 "pcrDigest" -- --nonce "$challenge" "$work/flipped.json"
  flip "$file" hcl_report 632
  expect 1 "differs from the HCL TDREPORT" -- --nonce "$challenge" "$work/flipped.json"
  flip "$file" hcl_report 1300
  expect 1 "runtime" -- --nonce "$challenge" "$work/flipped.json"
  flip "$file" td_quote 100
  expect 1 "TD quote" -- --nonce "$challenge" "$work/flipped.json"
done

# vouch collateral import (air-gapped) and show, then verify from the cache.
collateral_cmd() {
  "$vouch" collateral "$@" > "$work/out" 2> "$work/err"
}
if collateral_cmd import "$qvl" "$certs" --cache "$work/cache" &&
   grep -q "imported into" "$work/out" &&
   collateral_cmd show --cache "$work/cache" --at 2025-06-20T12:00:00Z &&
   grep -q "TDX tcb info fmspc b0c06f000000 v3" "$work/out"; then
  passed=$((passed + 1))
else
  echo "FAIL: vouch collateral import/show"; cat "$work/out" "$work/err" | head -n 10
  failed=$((failed + 1))
fi
expect 0 "TCB status UpToDate" -- --collateral "$work/cache" --at 2025-06-20T12:00:00Z \
  "$vectors/tdx/dcapqvl-v4-b0c06f.dat"
tampered="$work/tampered"
mkdir -p "$tampered"
sed 's/"isvprodid":2/"isvprodid":3/' "$qvl/qeidentity_tdx.json" > "$tampered/qe.json"
collateral_cmd import "$tampered" "$certs" --cache "$work/cache2"
if [ $? -eq 1 ] && grep -q "signature" "$work/err" && [ ! -e "$work/cache2" ]; then
  passed=$((passed + 1))
else
  echo "FAIL: vouch collateral import of a tampered QE identity"; cat "$work/err" | head -n 5
  failed=$((failed + 1))
fi

# Usage and I/O errors.
expect 2 "." -- --collateral "$milan" "$work/does-not-exist.bin"
expect 2 "." -- --at not-a-time "$vectors/sev-snp/trustee-milan-v2.bin"
head -c 100 "$vectors/sev-snp/trustee-milan-v2.bin" > "$work/short.bin"
expect 2 "." -- --collateral "$milan" "$work/short.bin"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
