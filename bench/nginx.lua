--- The hubsoft.nginx workload (bash bench/nginx.sh): K concurrent ticket opens through
-- nginx (one worker), each against a fake HubSoft that takes 200 ms to answer, with the
-- blocking client and with hubsoft.nginx; then what a thread VM costs in memory.
-- Prints a Markdown table for bench/README.md.

local socket = require "socket"
local fake = require "spec.support.server"
local nginx = require "spec.support.nginx"

local THREADS = tonumber(os.getenv("BENCH_THREADS") or "16")
local DELAY = tonumber(os.getenv("BENCH_DELAY") or "0.2")
local KS = {}
for k in (os.getenv("BENCH_K") or "1,4,16,32"):gmatch("%d+") do KS[#KS + 1] = tonumber(k) end
local ROUNDS = tonumber(os.getenv("BENCH_ROUNDS") or "3")

local TEMPLATE = [[
load_module /usr/lib/nginx/modules/ndk_http_module.so;
load_module /usr/lib/nginx/modules/ngx_http_lua_module.so;
worker_processes 1;
daemon on;
pid {{PREFIX}}/nginx.pid;
error_log {{PREFIX}}/error.log notice;
thread_pool hubsoft threads={{THREADS}};
env HUBSOFT_URL;
env HUBSOFT_CLIENT_ID;
env HUBSOFT_CLIENT_SECRET;
env HUBSOFT_USERNAME;
env HUBSOFT_PASSWORD;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path {{PREFIX}}/client_body_temp;
    lua_shared_dict hubsoft 1m;
    lua_package_path "{{ROOT}}/lua/?.lua;{{ROOT}}/lua/?/init.lua;{{ROOT}}/?.lua;;";
    lua_package_cpath "{{ROOT}}/build-luajit/?.so;;";
    server {
        listen 127.0.0.1:{{PORT}};
        location = /blocking { content_by_lua_block { require("bench.nginx_app").run("blocking") } }
        location = /pooled { content_by_lua_block { require("bench.nginx_app").run("pooled") } }
    }
}
]]

local function send(port, path)
  local c = assert(socket.connect("127.0.0.1", port))
  c:settimeout(120)
  assert(c:send("GET " .. path .. " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n"))
  return c
end

local function receive(c)
  local data, _, partial = c:receive("*a")
  c:close()
  data = data or partial or ""
  local status = tonumber(data:match("^HTTP/%d%.%d (%d%d%d)"))
  assert(status == 200, "request failed: " .. data)
end

-- K requests at once, ROUNDS times; returns requests per second.
local function burst(port, path, k)
  local t0 = socket.gettime()
  for _ = 1, ROUNDS do
    local conns = {}
    for i = 1, k do conns[i] = send(port, path) end
    for i = 1, k do receive(conns[i]) end
  end
  return k * ROUNDS / (socket.gettime() - t0)
end

local function rss_kb(pid)
  for line in io.lines("/proc/" .. pid .. "/status") do
    local v = line:match("^VmRSS:%s*(%d+)")
    if v then return tonumber(v) end
  end
end

local why = nginx.why_skip(TEMPLATE)
if why then
  io.stderr:write("bench/nginx.lua: cannot run: ", why, "\n")
  os.exit(1)
end

local srv = fake.start { seed_tickets = 0 }
local c = srv:config()
local ok, err = pcall(function()
  local n = nginx.start(TEMPLATE, { THREADS = THREADS }, {
    HUBSOFT_URL = c.base_url, HUBSOFT_CLIENT_ID = c.client_id, HUBSOFT_CLIENT_SECRET = c.client_secret,
    HUBSOFT_USERNAME = c.username, HUBSOFT_PASSWORD = c.password,
  })
  local worker = n:worker_pids()[1]
  local ok2, err2 = pcall(function()
    -- warm up without delay: both clients log in, the pooled one loads one VM
    burst(n.port, "/blocking", 1)
    local rss0 = rss_kb(worker)
    burst(n.port, "/pooled", 1)
    local rss1 = rss_kb(worker)
    srv:fault { kind = "delay", seconds = DELAY, match = "/api/v1/integracao/atendimento", times = 1000000 }
    local rows = {}
    local rss_by_k = {}
    for _, k in ipairs(KS) do
      local b = burst(n.port, "/blocking", k)
      local p = burst(n.port, "/pooled", k)
      rss_by_k[k] = rss_kb(worker)
      rows[#rows + 1] = ("| %d | %.1f | %.1f | %.1fx |"):format(k, b, p, p / b)
      io.stderr:write(rows[#rows], "\n")
    end
    print(("K concurrent `abrir_atendimento` through nginx (1 worker, `thread_pool threads=%d`), "
      .. "fake HubSoft answering in %d ms, %d rounds of K; requests per second:"):format(THREADS, DELAY * 1000, ROUNDS))
    print("")
    print("| K | blocking client | hubsoft.nginx | ratio |")
    print("|---|---|---|---|")
    for _, r in ipairs(rows) do print(r) end
    print("")
    local kmax = KS[#KS]
    print(("Worker RSS: %d kB after the blocking client's first call; %d kB after the first pooled call"
      .. " (one thread VM); %d kB after %d pooled calls at once (%d VMs): %.0f kB per VM with its client.")
      :format(rss0, rss1, rss_by_k[kmax], kmax, kmax, (rss_by_k[kmax] - rss1) / (kmax - 1)))
  end)
  n:stop()
  assert(ok2, err2)
  -- what the pool's threads cost by themselves: an idle worker with 1 and with 64
  local idle = {}
  for _, threads in ipairs { 1, 64 } do
    local m = nginx.start(TEMPLATE, { THREADS = threads }, {})
    socket.sleep(0.5)
    idle[threads] = rss_kb(m:worker_pids()[1])
    m:stop()
  end
  print(("Idle worker RSS: %d kB with `threads=1`, %d kB with `threads=64`: %.0f kB per pool thread.")
    :format(idle[1], idle[64], (idle[64] - idle[1]) / 63))
end)
srv:stop()
assert(ok, err)
