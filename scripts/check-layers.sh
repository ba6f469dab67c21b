#!/usr/bin/env bash
# The C core's layers (docs/INTERNALS.md), as CMakeLists.txt lists them:
# bottom and middle files (and their headers) include no Lua header, the
# bottom includes nothing of the middle, and no header above the transport
# shows a libcurl type. Prints what breaks a rule; exits 1 if anything does.
set -euo pipefail
cd "$(dirname "$0")/.."
layer() { awk -v s="^set\\(HUBSOFT_$1 " '$0 ~ s {f=1} f {print} f && /\)/ {exit}' CMakeLists.txt |
  grep -o 'src/[a-z_]*\.c'; }
headers() { for f in "$@"; do h=${f%.c}.h; [ -f "$h" ] && echo "$h"; done; }
bottom=$(layer BOTTOM); middle=$(layer MIDDLE)
bad=0
# 1. no Lua header below the binding (a lua*.h, or a binding header that includes one)
lua_re='#include *[<"](lua|lauxlib|lualib|luajit|compat|client|json)\.h[>"]'
if grep -nE "$lua_re" $bottom $middle $(headers $bottom $middle) src/transport_curl.h; then bad=1; fi
# 2. the bottom includes no middle header
mid_re="#include *\"($(for f in $middle; do basename "${f%.c}"; done | paste -sd'|'))\.h\""
if grep -nE "$mid_re" $bottom $(headers $bottom) src/transport_curl.h; then bad=1; fi
# 3. libcurl only behind the transport seam
if grep -nE '#include *<curl/' src/*.c src/*.h | grep -vE '^src/(transport_curl\.h|transport\.c|multipart\.c):'; then
  bad=1
fi
[ $bad = 0 ] && echo "layers: bottom ($(echo $bottom | wc -w) files) and middle ($(echo $middle | wc -w)) include no Lua header; libcurl stays behind transport.h"
exit $bad
