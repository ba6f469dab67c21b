#!/usr/bin/env bash
# The C core's layers (docs/INTERNALS.md), as CMakeLists.txt lists them:
# bottom and middle files (and their headers) include no Lua header, the
# bottom includes nothing of the middle, no header above the transport shows
# a libcurl type, and no circle of calls runs among the src/*.c files. Prints what breaks a rule; exits 1 if anything does.
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
# 4. no circle among src/*.c: who calls a hs_ function defined in which file
if ! lua5.4 - src/*.c <<'LUA'; then bad=1; fi
local defs, text, edges = {}, {}, {}
for _, f in ipairs(arg) do
  local s = assert(io.open(f)):read("a")
  text[f] = s
  for line in s:gmatch("[^\n]+") do
    local name = line:match("^[a-z][%w_ ]*[ %*]+(hs_[%w_]+)%(")
    if name and not line:match(";%s*$") then defs[name] = f end
  end
end
for f, s in pairs(text) do
  edges[f] = {}
  for name, df in pairs(defs) do
    if df ~= f and s:find("%f[%w_]" .. name .. "%f[^%w_]") then edges[f][df] = true end
  end
end
local state, found = {}, false
local function visit(f, path)
  if state[f] == "done" then return end
  if state[f] == "open" then
    print("circle among src files: " .. table.concat(path, " -> "))
    found = true
    return
  end
  state[f] = "open"
  for g in pairs(edges[f] or {}) do
    path[#path + 1] = g
    visit(g, path)
    path[#path] = nil
  end
  state[f] = "done"
end
for f in pairs(text) do visit(f, { f }) end
os.exit(found and 1 or 0)
LUA
[ $bad = 0 ] && echo "layers: bottom ($(echo $bottom | wc -w) files) and middle ($(echo $middle | wc -w)) include no Lua header; libcurl stays behind transport.h; no circle of calls"
exit $bad
