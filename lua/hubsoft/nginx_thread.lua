--- What runs inside nginx's thread pool for `hubsoft.nginx`.
--
-- `ngx.run_worker_thread(pool, "hubsoft.nginx_thread", "run", ...)` calls
-- `run` in one of the worker's thread VMs. A VM runs one call at a time and
-- keeps its modules between calls, so each VM keeps one blocking client per
-- configuration (and with it libcurl's open connection) for all later calls.
-- The token lives in the shared dict (`hubsoft.shared_dict_store`).
--
-- Nothing here raises: every outcome comes back as plain values, since
-- ngx_lua turns an error table raised in the thread into an empty string.
-- @module hubsoft.nginx_thread

local hubsoft = require "hubsoft"
local core = require "hubsoft.core"
local values = require "hubsoft.thread_values"
local shared_dict_store = require "hubsoft.shared_dict_store"

local M = {}

-- More distinct configurations than this in one VM (a client made per
-- request with changing settings) and the VM starts over.
local MAX_CLIENTS = 16

local clients, nclients = {}, 0 -- key -> {api =, store =}
local records -- the on_request records of the call in progress

local MARK = { array = core.array, object = core.object }

local function record(info)
  records[#records + 1] = info
end

local function strip(err)
  -- the metatable does not cross (the caller puts it back); a copy keeps
  -- the client's own table untouched
  local t = {}
  for k, v in pairs(err) do
    t[k] = v
  end
  return t
end

local function client_for(key, config, dict_name, token_key)
  local c = clients[key]
  if c then
    return c
  end
  if nclients >= MAX_CLIENTS then
    for _, old in pairs(clients) do
      old.api:close()
    end
    clients, nclients = {}, 0
  end
  local dict = ngx.shared[dict_name]
  local cfg = {}
  for k, v in pairs(config) do
    cfg[k] = v
  end
  local timeout = cfg.timeout or 30
  local retries = cfg.retries or 2
  local store = shared_dict_store.new(dict, {
    key = token_key,
    -- a login, with its retries and their backoff
    lock_seconds = timeout * (retries + 1) + (cfg.retry_max_delay or 8) * retries + 1,
    encode = core.encode,
    decode = core.decode,
  })
  cfg.token_store = store
  if cfg.on_request then
    cfg.on_request = record
  end
  c = { api = hubsoft.new(cfg), store = store }
  clients[key] = c
  nclients = nclients + 1
  return c
end

-- The outcome of one call as values that can cross back.
local function outcome(ok, r, e)
  if not ok then
    if core.is_error(r) then
      return "raise", strip(r)
    end
    return "raise", tostring(r)
  end
  if e ~= nil and core.is_error(e) then
    e = strip(e)
  end
  -- ngx_lua copies at most 100 levels: a deeper answer crosses as JSON text
  if type(r) == "table" and values.depth(r, values.MAX_DEPTH) > values.MAX_DEPTH then
    return "json", core.encode(r), e
  end
  if type(e) == "table" and values.depth(e, values.MAX_DEPTH) > values.MAX_DEPTH then
    e.errors = nil -- the server's own list, too deep to cross
  end
  return "ok", r, e
end

--- Run one call of a client (the pool's entry point).
-- @tparam string key identifies the configuration (one client per key in this VM)
-- @tparam table config `hubsoft.new`'s configuration, `on_request = true` when
--   the caller wants the records
-- @tparam string dict_name the `lua_shared_dict` holding the token
-- @tparam string token_key the dict key of this account's token
-- @param cancel_key a dict key that, once set, means "skip this call" (or nil)
-- @tparam string what "request" or "authenticate"
-- @tparam boolean marked whether the arguments carry packed marks
-- @tparam number nargs how many arguments follow
-- @param ... the arguments
-- @return status ("ok", "json", "raise", "cancelled"), result, error, records
function M.run(key, config, dict_name, token_key, cancel_key, what, marked, nargs, ...)
  local dict = ngx.shared[dict_name]
  if cancel_key and dict and dict:get(cancel_key) then
    return "cancelled"
  end
  records = {}
  local args = { ... }
  if marked then
    for i = 1, nargs do
      values.unpack(args[i], core.null, MARK)
    end
  end
  local made, c = pcall(client_for, key, config, dict_name, token_key)
  if not made then
    return "raise", tostring(c)
  end
  local api = c.api
  local status, r, e = outcome(pcall(api[what], api, unpack(args, 1, nargs)))
  c.store.release()
  local recs = records
  records = nil
  return status, r, e, recs
end

return M
