-- Peer: Debian's lua-curl (0.3.0, the libcurl binding packaged for Lua 5.1
-- and 5.2; run with lua5.2) + lua-cjson. One easy handle reused for every
-- request (keep-alive), the body gathered into a table, gzip offered.
--
--   lua5.2 bench/peers/luacurl.lua bulk    BASE_URL RECORDS
--   lua5.2 bench/peers/luacurl.lua latency BASE_URL CALLS
--   lua5.2 bench/peers/luacurl.lua create  BASE_URL CALLS TOKEN
local socket = require "socket"
local curl = require "curl"
local cjson = require "cjson"
local common = require "bench.common"

local workload, base, n, token = arg[1], arg[2], tonumber(arg[3]), arg[4] or "bench-access-token-0123456789abcdef"

local base_kb = common.rss_kb()
local t0 = socket.gettime()
local h = curl.easy_init()
local plain = { "Authorization: Bearer " .. token, "Accept: application/json" }
h:setopt(curl.OPT_HTTPHEADER, plain)
h:setopt(curl.OPT_ACCEPT_ENCODING, "")
h:setopt(curl.OPT_NOSIGNAL, 1)

h:setopt(curl.OPT_FAILONERROR, 1) -- the binding has no getinfo: an HTTP error fails perform

local chunks, nchunks
h:setopt(curl.OPT_WRITEFUNCTION, function(s)
  nchunks = nchunks + 1
  chunks[nchunks] = s
  return #s
end)
local function perform(url)
  chunks, nchunks = {}, 0
  h:setopt(curl.OPT_URL, url)
  local rc, err = h:perform()
  if rc ~= 0 then
    error(url .. ": " .. tostring(rc) .. " " .. tostring(err))
  end
  return cjson.decode(table.concat(chunks))
end

local count = 0
if workload == "bulk" then
  count = common.walk_pages(function(k)
    return perform(base .. "/api/v1/integracao/atendimento/todos?itens_por_pagina=500&pagina=" .. k)
  end, n)
elseif workload == "latency" then
  local url = base .. "/api/v1/integracao/configuracao/status_atendimento"
  for _ = 1, n do
    common.check_small(perform(url))
    count = count + 1
  end
elseif workload == "create" then
  local body = cjson.encode(common.create_body())
  h:setopt(curl.OPT_HTTPHEADER, { plain[1], plain[2], "Content-Type: application/json" })
  h:setopt(curl.OPT_POSTFIELDS, body)
  h:setopt(curl.OPT_POSTFIELDSIZE, #body)
  local url = base .. "/api/v1/integracao/atendimento"
  for _ = 1, n do
    common.check_created(perform(url))
    count = count + 1
  end
else
  error("unknown workload " .. tostring(workload))
end
common.result(socket.gettime() - t0, count, base_kb)
