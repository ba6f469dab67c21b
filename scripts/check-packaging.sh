#!/usr/bin/env bash
# Packaging checks, offline:
#   1. `luarocks lint` of the release and scm rockspecs (the same but for version and
#      source), their C sources == HUBSOFT_SOURCES in CMakeLists.txt, their Lua
#      modules == the files under lua/hubsoft/;
#   2. `luarocks make` into a private tree for Lua 5.4 and 5.1, the two ways that work
#      with Debian's lua-cjson and lua-socket (which are not rocks): for 5.4 a LuaRocks
#      config that declares them provided (rocks_provided), for 5.1 --deps-mode=none;
#      then `require "hubsoft"` from that tree (5.4, 5.1, and LuaJIT on the 5.1 tree),
#      and the tree's `hubsoft` command: help, `fake-server`, a call and an export
#      against it, and the installed demo example against the installed fake server;
#   3. `cmake --install --prefix` for 5.4 and 5.1, then `require "hubsoft"` and the
#      command with LUA_PATH/LUA_CPATH at <prefix>/share/lua/<v> and <prefix>/lib/lua/<v>.
# Everything is built from a copy of the working tree in a temporary folder, so the
# repository (and its build folders) are left as they are. Exits non-zero on failure.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
scm_rockspec=hubsoft-scm-0.rockspec
rockspec=${ROCKSPEC:-$(ls hubsoft-[0-9]*.rockspec | sort -V | tail -1)}
work=$(mktemp -d "${TMPDIR:-/tmp}/hubsoft-packaging.XXXXXX")
trap 'rm -rf "$work"' EXIT
failures=0
pass() { echo "ok    $*"; }
fail() { echo "FAIL  $*"; failures=$((failures + 1)); }

echo "=== rockspec: $rockspec (and $scm_rockspec)"
for r in "$rockspec" "$scm_rockspec"; do
  if luarocks lint "$r"; then pass "luarocks lint $r"; else fail "luarocks lint $r"; fi
done
if diff <(grep -v '^version = \|^  branch = \|^  tag = ' "$scm_rockspec") \
        <(grep -v '^version = \|^  branch = \|^  tag = ' "$rockspec") >/dev/null; then
  pass "$rockspec and $scm_rockspec differ only in version and source"
else
  fail "$rockspec and $scm_rockspec differ beyond version and source:"
  diff "$scm_rockspec" "$rockspec" | sed 's/^/      /' || true
fi

# The rockspec's C sources and CMake's must not drift apart.
# (HUBSOFT_SOURCES is the three layer lists: read those)
cmake_src=$(awk '/^set\(HUBSOFT_(BOTTOM|MIDDLE|BINDING) / {f=1} f {print} f && /\)/ {f=0}' CMakeLists.txt |
  grep -o 'src/[A-Za-z0-9_]*\.c' | sort)
rock_src=$(sed -n '/sources *= *{/,/}/p' "$rockspec" | grep -o 'src/[A-Za-z0-9_]*\.c' | sort)
if [ -n "$cmake_src" ] && [ "$cmake_src" = "$rock_src" ]; then
  pass "rockspec C sources match CMakeLists.txt ($(echo "$cmake_src" | wc -l) files)"
else
  fail "rockspec C sources differ from HUBSOFT_SOURCES in CMakeLists.txt:"
  diff <(echo "$cmake_src") <(echo "$rock_src") | sed 's/^/      /' || true
fi

# ... nor its Lua modules and the files under lua/hubsoft/.
tree_lua=$(cd lua && find hubsoft -name '*.lua' | sort)
rock_lua=$(grep -o '"lua/hubsoft/[A-Za-z0-9_/]*\.lua"' "$rockspec" | tr -d '"' | sed 's|^lua/||' | sort)
if [ "$tree_lua" = "$rock_lua" ]; then
  pass "rockspec Lua modules match lua/hubsoft/ ($(echo "$tree_lua" | wc -l) files)"
else
  fail "rockspec Lua modules differ from lua/hubsoft/**.lua:"
  diff <(echo "$tree_lua") <(echo "$rock_lua") | sed 's/^/      /' || true
fi

# A clean copy of the sources (tracked and new files, not the ignored build output).
mkdir -p "$work/src"
git ls-files -z --cached --others --exclude-standard | while IFS= read -r -d '' f; do
  [ -e "$f" ] && printf '%s\0' "$f"
done | tar -cf - --null -T - | tar -xf - -C "$work/src"

# require "hubsoft" with only the given folders (plus the system's, for cjson), from a
# neutral cwd, and prove that both modules came from those folders.
check_require() { # label lua luadir cmoddir
  local label=$1 lua=$2 ldir=$3 cdir=$4 out
  if out=$(cd "$work" && LUA_PATH="$ldir/?.lua;$ldir/?/init.lua;;" LUA_CPATH="$cdir/?.so;;" \
      CHECK_LDIR="$ldir" CHECK_CDIR="$cdir" LUA_INIT="$searchpath_shim" "$lua" -e '
        local ldir, cdir = os.getenv("CHECK_LDIR"), os.getenv("CHECK_CDIR")
        local hubsoft = require "hubsoft"
        local core = require "hubsoft.core"
        local lfile = package.searchpath("hubsoft", package.path)
        local cfile = package.searchpath("hubsoft.core", package.cpath)
        assert(lfile and lfile:sub(1, #ldir) == ldir, "hubsoft came from " .. tostring(lfile))
        assert(cfile and cfile:sub(1, #cdir) == cdir, "hubsoft.core came from " .. tostring(cfile))
        assert(type(hubsoft.VERSION) == "string" and hubsoft.VERSION == core.VERSION)
        local api = hubsoft.new { base_url = "http://127.0.0.1:9", access_token = "x" }
        assert(type(api.abrir_atendimento) == "function", "endpoint methods missing")
        api:close()
        io.write(hubsoft.VERSION, " ", (rawget(_G, "jit") and jit.version or _VERSION), "\n")
      ' 2>&1); then
    pass "$label: require \"hubsoft\" -> $out"
  else
    fail "$label: require \"hubsoft\" failed:"; echo "$out" | sed 's/^/      /'
  fi
}
# package.searchpath is 5.2+: give 5.1/LuaJIT a stand-in through LUA_INIT.
searchpath_shim='if not package.searchpath then function package.searchpath(n, p) n = n:gsub("%.", "/"); for t in p:gmatch("[^;]+") do local f = t:gsub("%?", n); local h = io.open(f); if h then h:close(); return f end end end end'

# The installed command: help from the rows, then `fake-server` and, against it, a
# call, an export, and (when given) an installed example. Only the folders given
# (and the system's, for cjson and socket) are on the paths; cwd is neutral.
check_command() { # label command luadir cmoddir [example lua]
  local label=$1 cmd=$2 ldir=$3 cdir=$4 example=${5:-} elua=${6:-} out fpid vars
  local run=(env -u LUA_PATH -u LUA_CPATH -u LUA_PATH_5_4 -u LUA_CPATH_5_4 LUA_PATH="$ldir/?.lua;$ldir/?/init.lua;;"
    LUA_CPATH="$cdir/?.so;;" XDG_CACHE_HOME="$work/cache")
  if ! out=$(cd "$work" && "${run[@]}" "$cmd" help 2>&1) || ! grep -q '^  todos_atendimentos .*(read, export)' <<<"$out"; then
    fail "$label: hubsoft help"; echo "$out" | sed 's/^/      /'; return
  fi
  (cd "$work" && exec "${run[@]}" "$cmd" fake-server --port 0 --seed-tickets 30 >"$work/fake.out" 2>&1) &
  fpid=$!
  for _ in $(seq 100); do [ -s "$work/fake.out" ] && break; sleep 0.05; done
  vars=$(head -1 "$work/fake.out")
  if ! grep -q '^HUBSOFT_BASE_URL=http://127.0.0.1:[0-9]* ' <<<"$vars"; then
    fail "$label: hubsoft fake-server"; sed 's/^/      /' "$work/fake.out"; kill "$fpid" 2>/dev/null; return
  fi
  # shellcheck disable=SC2086 # the line is NAME=value words, as documented
  if out=$(cd "$work" && env $vars "${run[@]}" "$cmd" configuracao status_atendimento 2>&1) &&
     grep -q '"status":"success"' <<<"$out" &&
     out=$(cd "$work" && env $vars "${run[@]}" "$cmd" export todos_atendimentos --itens_por_pagina 7 \
       --format csv 2>&1 >"$work/export.csv") && [ "$(wc -l <"$work/export.csv")" = 31 ]; then
    pass "$label: hubsoft help, fake-server, a call and a 30-record export"
  else
    fail "$label: hubsoft against its fake-server"; echo "$out" | sed 's/^/      /'
  fi
  kill "$fpid" 2>/dev/null; wait "$fpid" 2>/dev/null || true
  if [ -n "$example" ]; then
    if out=$(cd "$work" && "${run[@]}" "$elua" "$example" 2>&1) && grep -q "demo finished" <<<"$out"; then
      pass "$label: installed $(basename "$example") against the installed fake server"
    else
      fail "$label: installed example $example"; echo "$out" | tail -20 | sed 's/^/      /'
    fi
  fi
}

# For the 5.4 tree: Debian's lua-cjson and lua-socket declared as provided.
cat >"$work/luarocks-config.lua" <<'LUA'
rocks_provided = { ["lua-cjson"] = "2.1.0-1", luasocket = "3.1.0-1" }
LUA

for v in 5.4 5.1; do
  echo "=== luarocks make, Lua $v"
  tree="$work/tree-$v"
  if [ "$v" = 5.4 ]; then how=(env LUAROCKS_CONFIG="$work/luarocks-config.lua" luarocks make)
  else how=(luarocks make --deps-mode=none); fi
  if command -v "lua$v" >/dev/null 2>&1 && (cd "$work/src" && "${how[@]}" \
      --tree="$tree" --lua-version="$v" "$rockspec") >"$work/luarocks-$v.log" 2>&1; then
    pass "${how[*]} --lua-version=$v"
    check_require "luarocks tree, lua$v" "lua$v" "$tree/share/lua/$v" "$tree/lib/lua/$v"
    check_command "luarocks tree, lua$v" "$tree/bin/hubsoft" "$tree/share/lua/$v" "$tree/lib/lua/$v" \
      "$(ls "$tree"/lib/luarocks/rocks-$v/hubsoft/*/examples/demo.lua)" "lua$v"
    if [ "$v" = 5.1 ] && command -v luajit >/dev/null 2>&1; then
      check_require "luarocks tree 5.1, luajit" luajit "$tree/share/lua/$v" "$tree/lib/lua/$v"
    fi
  else
    fail "${how[*]} --lua-version=$v"; tail -30 "$work/luarocks-$v.log" | sed 's/^/      /'
  fi
  # (each make builds in the copy; clean its objects so the next version starts fresh)
  rm -rf "$work/src/hubsoft"; find "$work/src/src" -name '*.o' -delete
done

for v in 5.4 5.1; do
  echo "=== cmake --install, Lua $v"
  b="$work/cmake-build-$v"; prefix="$work/prefix-$v"
  if cmake -S "$work/src" -B "$b" -DLUA_FLAVOR="$v" >"$work/cmake-$v.log" 2>&1 &&
     cmake --build "$b" -j2 >>"$work/cmake-$v.log" 2>&1 &&
     cmake --install "$b" --prefix "$prefix" >>"$work/cmake-$v.log" 2>&1; then
    pass "cmake --install --prefix (Lua $v): $(cd "$prefix" && find . -type f | sort | tr '\n' ' ')"
    check_require "cmake prefix, lua$v" "lua$v" "$prefix/share/lua/$v" "$prefix/lib/lua/$v"
    check_command "cmake prefix, lua$v" "$prefix/bin/hubsoft" "$prefix/share/lua/$v" "$prefix/lib/lua/$v"
  else
    fail "cmake build/install for Lua $v"; tail -30 "$work/cmake-$v.log" | sed 's/^/      /'
  fi
done

echo
if [ "$failures" -ne 0 ]; then
  echo "packaging: $failures check(s) FAILED"; exit 1
fi
echo "packaging: all checks passed"
