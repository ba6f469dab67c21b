#!/usr/bin/env bash
# Packages the benchmark needs beyond scripts/deps.sh (Debian 12). Idempotent:
# apt runs only when something is missing.
set -euo pipefail
pkgs=(build-essential cmake pkg-config lua5.4 liblua5.4-dev libcurl4-openssl-dev lua-cjson
      lua-socket lua-curl python3 python3-requests nginx-light libnginx-mod-http-lua time
      hyperfine)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "bench/deps.sh: installing ${missing[*]}" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
