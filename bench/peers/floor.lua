-- The decode floor: the same page files read from disk and decoded, no HTTP.
--
--   lua5.4 bench/peers/floor.lua DIR RECORDS [cjson|core]
--
-- cjson: plain cjson.decode (the issue's floor). core: hubsoft.core.decode,
-- the client's own decode (cjson + UTF-8 check + dropping nulls + whole
-- floats to integers), to split our transport cost from our decode cost.
local socket = require "socket"
local common = require "bench.common"

local dir, n, how = arg[1], tonumber(arg[2]), arg[3] or "cjson"
local decode
if how == "core" then
  decode = require("hubsoft.core").decode
else
  decode = require("cjson").decode
end

local base_kb = common.rss_kb()
local t0 = socket.gettime()
local count = common.walk_pages(function(k)
  local f = assert(io.open(("%s/page-%d.json"):format(dir, k), "rb"))
  local text = f:read("*a")
  f:close()
  return assert(decode(text))
end, n)
common.result(socket.gettime() - t0, count, base_kb)
