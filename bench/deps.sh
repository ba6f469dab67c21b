#!/usr/bin/env bash
# Packages the benchmark needs beyond the base set (Debian 12), installed by
# scripts/deps.sh, which runs apt only when something is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
exec bash scripts/deps.sh lua-curl python3 python3-requests nginx-light libnginx-mod-http-lua \
  time hyperfine
