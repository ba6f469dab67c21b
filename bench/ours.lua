-- lua-hubsoft in the benchmark's workloads.
--
--   lua5.4 bench/ours.lua bulk    BASE_URL RECORDS [CONCURRENCY]   (also the link workload)
--   lua5.4 bench/ours.lua latency BASE_URL CALLS
--   lua5.4 bench/ours.lua create  BASE_URL CALLS
--
-- Prints "RESULT work=<seconds> count=<n>": the wall time of the work itself
-- (client creation and login included, interpreter start-up and `require`
-- excluded) and how many records / calls it checked. Exits non-zero when a
-- record is missing, doubled or out of order, or a call fails.

local hubsoft = require "hubsoft"
local socket = require "socket"
local common = require "bench.common"

local workload, base_url, n = arg[1], arg[2], tonumber(arg[3])
local concurrency = tonumber(arg[4])

local base_kb = common.rss_kb()
local t0 = socket.gettime()
local api = hubsoft.new {
  base_url = base_url,
  client_id = "3",
  client_secret = "fake-client-secret-XYZ",
  username = "bot@provedor.com.br",
  password = "s3nh@-Secreta!",
  retries = 0, -- a benchmark must see failures, not hide them
}

local count = 0
if workload == "bulk" then
  local check = common.order_checker(n)
  for a in api:each("todos_atendimentos", { itens_por_pagina = 500 },
                    concurrency and { concurrency = concurrency } or nil) do
    check(a.id_atendimento)
  end
  count = check()
elseif workload == "latency" then
  for _ = 1, n do
    local r = assert(api:configuracao("status_atendimento"))
    common.check_small(r)
    count = count + 1
  end
elseif workload == "create" then
  local body = common.create_body()
  for _ = 1, n do
    local r = assert(api:abrir_atendimento(body))
    common.check_created(r)
    count = count + 1
  end
else
  error("unknown workload " .. tostring(workload))
end
api:close()
common.result(socket.gettime() - t0, count, base_kb)
