#!/bin/sh
# dracut initqueue/online hook: runs once the network is up, opens the root
# volume, and leaves it locked on failure. systemd-cryptsetup then prompts
# for a passphrase, or the boot fails.
CONFIG=/etc/vouch/unlock/root.conf
[ -r "$CONFIG" ] || exit 0
. "$CONFIG"
NAME="${VOUCH_MAPPED_NAME:-cryptroot}"
[ -e "/dev/mapper/$NAME" ] && exit 0

modprobe -q sev-guest 2>/dev/null
modprobe -q tdx-guest 2>/dev/null
mkdir -p /sys/kernel/config
mount -t configfs none /sys/kernel/config 2>/dev/null

set -- --server "$VOUCH_SERVER" --key "$VOUCH_KEY" --volume "$VOUCH_VOLUME" \
  --volume-uuid "$VOUCH_VOLUME_UUID" --name "$NAME" --platform "${VOUCH_PLATFORM:-auto}" \
  --data-dir /run/vouch --retry-for "${VOUCH_RETRY_FOR:-5m}"
if [ -n "${VOUCH_CA_CERT:-}" ]; then
  set -- "$@" --ca-cert "$VOUCH_CA_CERT"
fi
if ! /usr/bin/vouch unlock "$@"; then
  warn "vouch: unlock of $VOUCH_VOLUME failed; the volume stays locked"
fi
