#!/usr/bin/env bash
# The main job of vouch, end to end, on the embedded defaults (SQLite store,
# software key store) and the simulated SEV-SNP platform:
#
#   serve -> create a data key with a release policy -> format a LUKS2 image
#   with it -> attest (simulated SEV-SNP report) -> token -> release -> unlock
#
# Usage: scripts/demo.sh [PATH_TO_VOUCH_BINARY]
# Exits 0 only when the released key opened the LUKS2 volume; otherwise it
# names the failing step and exits 1.
set -uo pipefail

vouch=${1:-build/src/vouch/cli/vouch}
if [ ! -x "$vouch" ]; then
  echo "demo: vouch binary not found at $vouch (run 'make build' first)" >&2
  exit 2
fi
vouch=$(realpath "$vouch")

work=$(mktemp -d -t vouch-demo.XXXXXX)
server_pid=""

cleanup() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null
    wait "$server_pid" 2>/dev/null
  fi
  rm -rf "$work"
}
trap cleanup EXIT

step() { printf '\n==> %s\n' "$*"; }
fail() {
  printf '\ndemo FAILED at step: %s\n' "$*" >&2
  if [ -f "$work/server.log" ]; then
    echo "--- last lines of the server log ---" >&2
    tail -n 20 "$work/server.log" >&2
  fi
  exit 1
}

data="$work/data"
mkdir -m 0700 "$data"

step "1/6 start the attestation service and key broker (SQLite store, software key store)"
# The admin credential is a random bearer token; the server keeps only its hash.
( umask 077; head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$work/admin.token" )
"$vouch" serve --listen 127.0.0.1:0 --data-dir "$data" \
  --admin-token-file "$work/admin.token" --allow-simulated-snp \
  --port-file "$work/port" > "$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 100); do
  [ -s "$work/port" ] && break
  kill -0 "$server_pid" 2>/dev/null || fail "start server (it exited; see its log)"
  sleep 0.1
done
[ -s "$work/port" ] || fail "start server (no port after 10 s)"
url="http://127.0.0.1:$(cat "$work/port")"
echo "server listening at $url (data folder $data)"

step "2/6 write a release policy: simulated SEV-SNP evidence from this service, VMPL 0, no debug"
# Tokens for simulated evidence are issued under <url>/simulated, so only a
# policy that names that authority can match them.
cat > "$work/policy.json" <<POLICY
{
  "version": "1.0.0",
  "anyOf": [
    {
      "authority": "$url/simulated",
      "allOf": [
        {"claim": "x-ms-attestation-type", "equals": "sevsnpvm"},
        {"claim": "x-ms-sevsnpvm-is-debuggable", "equals": false},
        {"claim": "x-ms-sevsnpvm-vmpl", "lessOrEquals": 0},
        {"claim": "x-vouch-simulated", "equals": true}
      ]
    }
  ]
}
POLICY
cat "$work/policy.json"

step "3/6 create a 256-bit data key with that policy and format a LUKS2 image with it"
"$vouch" keys create demo-disk \
  --server "$url" --policy "$work/policy.json" --admin-token-file "$work/admin.token" \
  --format-luks "$work/disk.img" || fail "create key and format LUKS2 image"

step "4/6 guest flow: simulated SEV-SNP report -> attestation token -> key release -> unlock"
# The simulated platform signs with the test VCEK/ASK/ARK chain that the
# server created in its data folder, and trusts only because it was started
# with --allow-simulated-snp.
"$vouch" unlock --server "$url" --key demo-disk --volume "$work/disk.img" \
  --platform simulated-snp --data-dir "$data" || fail "unlock (attest, release, open volume)"

step "5/6 a key whose policy wants another launch measurement is refused"
cat > "$work/other-policy.json" <<POLICY
{
  "version": "1.0.0",
  "anyOf": [
    {
      "authority": "$url/simulated",
      "allOf": [
        {"claim": "x-vouch-simulated", "equals": true},
        {"claim": "x-ms-sevsnpvm-launchmeasurement", "equals": "$(printf '%096d' 0)"}
      ]
    }
  ]
}
POLICY
"$vouch" keys create other-disk --server "$url" --policy "$work/other-policy.json" \
  --admin-token-file "$work/admin.token" > /dev/null || fail "create second key"
if "$vouch" unlock --server "$url" --key other-disk --volume "$work/disk.img" \
  --platform simulated-snp --data-dir "$data" > "$work/negative.log" 2>&1; then
  fail "release against a policy for another measurement was not refused"
fi
echo "refused as expected: $(tail -n 1 "$work/negative.log")"

step "6/6 stop the server"
kill -TERM "$server_pid"
wait "$server_pid"
status=$?
server_pid=""
[ "$status" -eq 0 ] || fail "stop server (exit status $status)"

printf '\ndemo OK: the released key opened the LUKS2 volume\n'
