#!/bin/bash
# dracut module: open the root LUKS2 volume with a key that a vouch server
# releases after attestation. Needs network in the initramfs (rd.neednet=1
# on the kernel command line) and /etc/vouch/unlock/root.conf.

check() {
  require_binaries /usr/local/bin/vouch cryptsetup || return 1
  [ -r /etc/vouch/unlock/root.conf ] || return 255
  return 0
}

depends() {
  echo crypt network
}

installkernel() {
  hostonly='' instmods sev-guest tdx-guest tsm
}

install() {
  inst_binary /usr/local/bin/vouch /usr/bin/vouch
  inst_simple /etc/vouch/unlock/root.conf
  # shellcheck disable=SC1091
  . /etc/vouch/unlock/root.conf
  if [ -n "${VOUCH_CA_CERT:-}" ]; then
    inst_simple "$VOUCH_CA_CERT"
  fi
  inst_hook initqueue/online 90 "$moddir/vouch-unlock.sh"
}
