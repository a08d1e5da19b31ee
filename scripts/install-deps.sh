#!/usr/bin/env bash
# Installs the Debian 12 packages that vouch builds, tests and runs with,
# and only those that are missing, so a second run does nothing.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git
  libssl-dev libabsl-dev libboost-dev nlohmann-json3-dev
  libspdlog-dev libfmt-dev libcli11-dev libsqlite3-dev
  libcryptsetup-dev cryptsetup-bin libcurl4-openssl-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  curl openssl
  softhsm2 opensc
  swtpm swtpm-tools libtss2-dev tpm2-tools
  libpq-dev postgresql
  clang libfuzzer-14-dev libclang-rt-14-dev
  wrk heaptrack python3 systemd
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q
$sudo apt-get install -y -q "${missing[@]}"
