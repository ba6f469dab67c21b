#!/usr/bin/env bash
# Instructions a latency call costs, counted with callgrind: repeatable on a
# loaded machine where wall time is not. Each program runs the latency
# workload twice under valgrind --tool=callgrind, with N calls and with 1 call;
# (Ir(N) - Ir(1)) / (N - 1) is the cost of one call, start-up and login left out.
#
#   bash bench/callgrind.sh            # BENCH_CG_CALLS [300], BENCH_CG_KEEP=1 keeps the outputs
#
# Needs bench/data/p20000 (bench/run.sh generates it) for the small answer.
# Prints one line a program, then, for this client, the inclusive cost a call
# of the functions that split it (api:request, libcurl, decode), then the cost
# of endpoints.prepare alone for three methods (bench/prepare_loop.lua).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
n=${BENCH_CG_CALLS:-300}
data=$root/bench/data/p20000
[ -f "$data/status_atendimento.json" ] || { mkdir -p "$data"; lua5.4 bench/gen.lua "$data" 20000 500; }
bash scripts/build.sh 5.4 build >/dev/null
mkdir -p bench/out
gcc -O2 -Wall -o bench/out/c_loop bench/peers/c_loop.c -lcurl
export LUA_PATH="$root/lua/?.lua;$root/lua/?/init.lua;$root/?.lua;;"
export LUA_CPATH="$root/build/?.so;;"

tmp=$(mktemp -d /tmp/hubsoft-cg.XXXXXX)
chmod 755 "$tmp"
nginx_pid=""
cleanup() {
  [ -z "$nginx_pid" ] || kill "$nginx_pid" 2>/dev/null || true
  [ -n "${BENCH_CG_KEEP:-}" ] || rm -rf "$tmp"
}
trap cleanup EXIT
read -r port port_big port_link < <(lua5.4 -e '
  local socket = require "socket"
  local s, ports = {}, {}
  for i = 1, 3 do s[i] = assert(socket.bind("127.0.0.1", 0)); ports[i] = select(2, s[i]:getsockname()) end
  for i = 1, 3 do s[i]:close() end
  print(table.concat(ports, " "))')
user_line=""
[ "$(id -u)" -ne 0 ] || user_line="user root;"
sed -e "s#@PREFIX@#$tmp#g" -e "s#@USER@#$user_line#" -e "s#@PORT_PLAIN@#$port#" \
    -e "s#@PORT_BIG@#$port_big#" -e "s#@PORT_LINK@#$port_link#" \
    -e "s#@DATA20@#$data#g" -e "s#@DATA100@#$data#g" bench/nginx.conf.in >"$tmp/nginx.conf"
nginx -p "$tmp" -c "$tmp/nginx.conf" -e "$tmp/error.log" &
nginx_pid=$!
for _ in $(seq 100); do
  kill -0 "$nginx_pid" 2>/dev/null || { echo "bench/callgrind.sh: nginx did not start" >&2; exit 1; }
  curl -sf -o /dev/null -X POST "http://127.0.0.1:$port/oauth/token" && break
  sleep 0.1
done
base=http://127.0.0.1:$port

total() { # callgrind.out file: total Ir
  callgrind_annotate "$1" 2>/dev/null | sed -n 's/^\([0-9,]*\) (100.0%).*PROGRAM TOTALS.*/\1/p' | tr -d ,
}
per_call() { # name, command...: prints instructions a call
  local name=$1
  shift
  valgrind --tool=callgrind --callgrind-out-file="$tmp/$name.1" "$@" 1 >/dev/null 2>&1
  valgrind --tool=callgrind --callgrind-out-file="$tmp/$name.n" "$@" "$n" >/dev/null 2>&1
  local a b
  a=$(total "$tmp/$name.1")
  b=$(total "$tmp/$name.n")
  printf '%-28s %8d instructions a call\n' "$name" $(((b - a) / (n - 1)))
}
per_call c_loop bench/out/c_loop latency "$base"
per_call lua-curl+cjson lua5.2 bench/peers/luacurl.lua latency "$base"
per_call lua-hubsoft lua5.4 bench/ours.lua latency "$base"

# The split of this client's call: inclusive cost of a few functions, a call.
incl() { # file, function: inclusive Ir (the symbol callgrind names first)
  callgrind_annotate --inclusive=yes --threshold=100 "$1" 2>/dev/null |
    awk -v fn="$2" -v q="'" '$0 ~ (":" fn "( |$)") && index($0, q) == 0 && !done { gsub(",", "", $1); print $1; done = 1 }'
}
cg_split() { # label, function
  local a b
  a=$(incl "$tmp/lua-hubsoft.1" "$2")
  b=$(incl "$tmp/lua-hubsoft.n" "$2")
  [ -n "$a" ] && [ -n "$b" ] && printf '  %-42s %8d\n' "$1" $(((b - a) / (n - 1)))
}
cg_split "api:request (C core, transfer, decode)" hs_l_request
cg_split "  libcurl transfer (curl_easy_perform)" curl_easy_perform
cg_split "  decode (cjson + UTF-8 check + normalise)" hs_json_decode
echo "  (the rest of the call is Lua: the method, endpoints.prepare, the check)"

# endpoints.prepare alone (validation and request building, no transfer).
for m in configuracao abrir_atendimento todos_atendimentos; do
  per_call "prepare $m" lua5.4 bench/prepare_loop.lua "$m"
done
[ -z "${BENCH_CG_KEEP:-}" ] || echo "outputs kept in $tmp"
