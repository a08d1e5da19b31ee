#!/bin/sh
# Checks the files under deploy/: systemd-analyze verify on the unit (with
# ExecStart pointed at the built vouch binary, in a temporary unit folder),
# and `sh -n` on every shell script.
#
# Usage: verify_units.sh VOUCH_BINARY
set -eu

VOUCH=${1:?usage: verify_units.sh VOUCH_BINARY}
DEPLOY=$(cd "$(dirname "$0")/.." && pwd)

if ! command -v systemd-analyze >/dev/null 2>&1; then
  echo "FAIL: systemd-analyze is missing; install the Debian package systemd" >&2
  exit 1
fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/vouch-units.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

sed "s#/usr/local/bin/vouch#$VOUCH#" "$DEPLOY/systemd/vouch-unlock@.service" \
  >"$TMP/vouch-unlock@.service"
# The instance name of a data disk; verify loads the template from the
# unit path.
cp "$TMP/vouch-unlock@.service" "$TMP/vouch-unlock@data.service"

# systemd-analyze prints warnings about the host's own units when it runs
# outside a booted system; only lines naming our unit count.
if ! SYSTEMD_UNIT_PATH="$TMP:" systemd-analyze verify --man=no \
    "$TMP/vouch-unlock@data.service" >"$TMP/verify.log" 2>&1; then
  if grep -q "vouch-unlock" "$TMP/verify.log"; then
    cat "$TMP/verify.log" >&2
    echo "FAIL: systemd-analyze verify rejected vouch-unlock@.service" >&2
    exit 1
  fi
fi
if grep "vouch-unlock" "$TMP/verify.log"; then
  echo "FAIL: systemd-analyze verify warns about vouch-unlock@.service" >&2
  exit 1
fi

for script in "$DEPLOY/initramfs-tools/hooks/vouch" \
              "$DEPLOY/initramfs-tools/scripts/local-top/vouch" \
              "$DEPLOY/dracut/90vouch/vouch-unlock.sh"; do
  sh -n "$script"
done
bash -n "$DEPLOY/dracut/90vouch/module-setup.sh"
# The example configuration must be valid shell (the initramfs scripts
# source it) and set every variable the unit uses.
(
  . "$DEPLOY/config/unlock.conf.example"
  for var in VOUCH_SERVER VOUCH_KEY VOUCH_VOLUME VOUCH_VOLUME_UUID VOUCH_PLATFORM VOUCH_RETRY_FOR; do
    eval "value=\${$var:-}"
    if [ -z "$value" ]; then
      echo "FAIL: unlock.conf.example does not set $var" >&2
      exit 1
    fi
  done
)
echo "deploy files OK"
