#!/usr/bin/env bash
# The benchmark, in one command: bash bench/run.sh (or make bench).
#
# Installs what it needs (bench/deps.sh), builds the client (build/) and the C
# peer, generates the pages once (bench/data/, kept between runs while
# bench/gen.lua is unchanged), starts nginx and the fake server on 127.0.0.1
# under a temporary prefix, runs bench/driver.lua, and stops everything it
# started on the way out, failure or Ctrl-C included.
#
# Environment (defaults in brackets):
#   BENCH_RUNS [5]        runs of each cell; BENCH_LINK_RUNS, BENCH_MEM_RUNS [BENCH_RUNS]
#   BENCH_RECORDS [20000] records of the bulk and link workloads (pages of 500)
#   BENCH_BIG_RECORDS [100000] records of the memory workload
#   BENCH_CALLS [2000]    calls of the latency workload; BENCH_CREATES [1000] of create
#   BENCH_ONLY            comma list of workloads to run (bulk,latency,create,link,memory)
# Results: bench/README.md (generated section) and bench/results/latest.json.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
t_start=$(date +%s)
loadavg_start=$(cut -d' ' -f1-3 /proc/loadavg)

bash bench/deps.sh
bash scripts/build.sh 5.4 build
mkdir -p bench/out bench/data bench/results
gcc -O2 -Wall -o bench/out/c_loop bench/peers/c_loop.c -lcurl

export LUA_PATH="$root/lua/?.lua;$root/lua/?/init.lua;$root/?.lua;;"
export LUA_CPATH="$root/build/?.so;;"

records=${BENCH_RECORDS:-20000}
big=${BENCH_BIG_RECORDS:-100000}

# Pages, generated again only when the generator or the sizes change.
gen() { # dir records
  local dir=$1 n=$2 stamp
  stamp="$(sha256sum bench/gen.lua | cut -c1-16) $n 500"
  if [ "$(cat "$dir/.stamp" 2>/dev/null)" != "$stamp" ]; then
    rm -rf "$dir"
    mkdir -p "$dir"
    lua5.4 bench/gen.lua "$dir" "$n" 500
    echo "$stamp" >"$dir/.stamp"
  fi
}
gen "bench/data/p$records" "$records"
gen "bench/data/p$big" "$big"

tmp=$(mktemp -d /tmp/hubsoft-bench.XXXXXX)
chmod 755 "$tmp"
nginx_pid="" fake_pid="" driver_pid=""
stop() { # pid: TERM, then KILL if it lingers
  local pid=$1 i
  [ -n "$pid" ] || return 0
  kill "$pid" 2>/dev/null || return 0
  for i in $(seq 50); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
}
cleanup() {
  if [ -n "$driver_pid" ] && kill -0 "$driver_pid" 2>/dev/null; then
    kill -- "-$driver_pid" 2>/dev/null || true # the driver's process group: it and the run in progress
  fi
  stop "$fake_pid"
  stop "$nginx_pid"
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Free ports on loopback, chosen by the kernel.
read -r port_plain port_big port_link < <(lua5.4 -e '
  local socket = require "socket"
  local s, ports = {}, {}
  for i = 1, 3 do s[i] = assert(socket.bind("127.0.0.1", 0)); ports[i] = select(2, s[i]:getsockname()) end
  for i = 1, 3 do s[i]:close() end
  print(table.concat(ports, " "))')

user_line=""
[ "$(id -u)" -ne 0 ] || user_line="user root;" # the workers read the pages where they are
sed -e "s#@PREFIX@#$tmp#g" -e "s#@USER@#$user_line#" -e "s#@PORT_PLAIN@#$port_plain#" \
    -e "s#@PORT_BIG@#$port_big#" -e "s#@PORT_LINK@#$port_link#" \
    -e "s#@DATA20@#$root/bench/data/p$records#g" -e "s#@DATA100@#$root/bench/data/p$big#g" \
    bench/nginx.conf.in >"$tmp/nginx.conf"
nginx -p "$tmp" -c "$tmp/nginx.conf" -e "$tmp/error.log" &
nginx_pid=$!

lua5.4 lua/hubsoft/fake_server.lua --host 127.0.0.1 --port 0 --seed-tickets 0 --idle-exit 1800 \
  </dev/null >"$tmp/fake.log" 2>&1 &
fake_pid=$!

port_fake=""
for _ in $(seq 100); do
  port_fake=$(sed -n 's/^PORT \([0-9]*\)$/\1/p' "$tmp/fake.log")
  if [ -n "$port_fake" ] && curl -sf -o /dev/null -X POST "http://127.0.0.1:$port_plain/oauth/token"; then
    break
  fi
  sleep 0.1
done
if [ -z "$port_fake" ] || ! curl -sf -o /dev/null -X POST "http://127.0.0.1:$port_plain/oauth/token"; then
  echo "bench/run.sh: nginx or the fake server did not start" >&2
  cat "$tmp/error.log" "$tmp/fake.log" >&2 || true
  exit 1
fi

export BENCH_PORT_PLAIN=$port_plain BENCH_PORT_BIG=$port_big BENCH_PORT_LINK=$port_link
export BENCH_PORT_FAKE=$port_fake BENCH_TMP=$tmp BENCH_C_LOOP=$root/bench/out/c_loop
export BENCH_DATA20=$root/bench/data/p$records BENCH_DATA100=$root/bench/data/p$big
export BENCH_LOADAVG_START=$loadavg_start BENCH_SETUP_SECONDS=$(( $(date +%s) - t_start ))
echo "bench: nginx on 127.0.0.1:$port_plain/$port_big/$port_link, fake server on 127.0.0.1:$port_fake"

set -m # the driver gets its own process group, so cleanup can stop the run in progress too
lua5.4 bench/driver.lua &
driver_pid=$!
set +m
rc=0
wait "$driver_pid" || rc=$?
driver_pid=""
echo "bench: total $(( $(date +%s) - t_start )) s"
exit "$rc"
