-- Peer: LuaSocket's socket.http + lua-cjson, as a script would use them.
-- socket.http opens a connection per request (it sends Connection: close)
-- and does not offer gzip.
--
--   lua5.4 bench/peers/luasocket.lua bulk    BASE_URL RECORDS
--   lua5.4 bench/peers/luasocket.lua latency BASE_URL CALLS
--   lua5.4 bench/peers/luasocket.lua create  BASE_URL CALLS TOKEN
local socket = require "socket"
local http = require "socket.http"
local ltn12 = require "ltn12"
local cjson = require "cjson"
local common = require "bench.common"

local workload, base, n, token = arg[1], arg[2], tonumber(arg[3]), arg[4] or "bench-access-token-0123456789abcdef"
local auth = "Bearer " .. token

local function call(method, path, body)
  local chunks = {}
  local headers = { authorization = auth, accept = "application/json" }
  local source
  if body then
    headers["content-type"] = "application/json"
    headers["content-length"] = tostring(#body)
    source = ltn12.source.string(body)
  end
  local ok, code = http.request {
    url = base .. path, method = method, headers = headers,
    source = source, sink = ltn12.sink.table(chunks),
  }
  if not ok or code ~= 200 then
    error(("%s %s: %s"):format(method, path, tostring(code)))
  end
  return cjson.decode(table.concat(chunks))
end

local base_kb = common.rss_kb()
local t0 = socket.gettime()
local count = 0
if workload == "bulk" then
  count = common.walk_pages(function(k)
    return call("GET", "/api/v1/integracao/atendimento/todos?itens_por_pagina=500&pagina=" .. k)
  end, n)
elseif workload == "latency" then
  for _ = 1, n do
    common.check_small(call("GET", "/api/v1/integracao/configuracao/status_atendimento"))
    count = count + 1
  end
elseif workload == "create" then
  local body = cjson.encode(common.create_body())
  for _ = 1, n do
    common.check_created(call("POST", "/api/v1/integracao/atendimento", body))
    count = count + 1
  end
else
  error("unknown workload " .. tostring(workload))
end
common.result(socket.gettime() - t0, count, base_kb)
