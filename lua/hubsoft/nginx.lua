--- The client for OpenResty / nginx + ngx_lua that never blocks the event loop.
--
-- Same methods, arguments, results and errors as `hubsoft.new`'s client, but
-- every HTTP exchange runs on an nginx thread pool (`ngx.run_worker_thread`),
-- so the worker keeps serving other requests while a call waits for HubSoft:
--
--     thread_pool hubsoft threads=16;          # main context
--     http { lua_shared_dict hubsoft 1m; ... } # the token, for every worker and thread
--
--     local api = require("hubsoft.nginx").new(config [, {pool = "hubsoft", shared_dict = "hubsoft"}])
--     local r, err = api:abrir_atendimento{...}
--     for at in api:each("todos_atendimentos", filtros) do ... end
--
-- How it is built: the named methods and the iterators are the blocking
-- client's own Lua code (`hubsoft.endpoints`, `hubsoft.paginate`) installed on
-- this client, so each row of the endpoint table is a method here too and
-- validation errors are the same, found in the caller before any thread is
-- used. What they call underneath (`request`, `authenticate`, and the pages
-- in flight of `_prefetch`) goes to the pool, where each thread VM keeps one
-- blocking client (`hubsoft.nginx_thread`). Values that cannot cross between
-- VMs are refused as validation errors (`hubsoft.thread_values`); the
-- `on_request` records made in the thread are replayed in the caller.
-- @module hubsoft.nginx

local hubsoft = require "hubsoft"
local core = require "hubsoft.core"
local endpoints = require "hubsoft.endpoints"
local paginate = require "hubsoft.paginate"
local values = require "hubsoft.thread_values"

local M = {}

local THREAD_MODULE = "hubsoft.nginx_thread"
local DEFAULTS = { pool = "hubsoft", shared_dict = "hubsoft" }

local MARKS = {
  [getmetatable(core.array {})] = "array",
  [getmetatable(core.object {})] = "object",
}

local newproxy = rawget(_G, "newproxy")
-- A client's state is its proxy's environment, not the value of a weak-keyed
-- table: LuaJIT's weak keys are not ephemerons, so an on_request that refers
-- to its own client would keep both alive for the worker's life.
local getfenv, setfenv = debug.getfenv, debug.setfenv
local unpack = rawget(_G, "unpack") or table.unpack

local methods = {}
-- page walks started in this worker, and when it started: together with its
-- pid they name each walk's cancel key in the dict all workers share
local walks, worker_started = 0, nil

-- errors --------------------------------------------------------------

local function crossing_error(field, why, method, url)
  return core.error {
    kind = "validation",
    field = field,
    message = field .. ": " .. why,
    method = method,
    url = url,
    retryable = false,
    attempts = 0,
  }
end

-- A hook's error message without the secrets it might quote (the core's
-- scrubber: raw and URL-encoded, overlapping ones leave no fragment).
local function scrub(st, msg)
  local secrets = {}
  local function add(v)
    if type(v) == "string" then secrets[#secrets + 1] = v end
  end
  add(st.secrets.password)
  add(st.secrets.client_secret)
  add(st.secrets.access_token)
  local s = st.dict:get(st.token_key)
  local token = type(s) == "string" and core.decode(s)
  if type(token) == "table" then
    add(token.access_token)
    add(token.refresh_token)
  end
  return core.scrub(msg, secrets)
end

-- the pool --------------------------------------------------------------

local function directive_error(st, msg)
  if msg:find("not found", 1, true) and msg:find("thread", 1, true) then
    return ("hubsoft.nginx: there is no thread_pool %q: add `thread_pool %s threads=16;` to the main"
      .. " context of nginx.conf (outside http {})"):format(st.pool, st.pool)
  end
  return "hubsoft.nginx: the thread pool call failed: " .. msg
end

-- Send one call to the pool and wait for it. `marked`: whether the
-- arguments (already checked by `check_args`) hold hubsoft.array/object
-- marks to carry across. Returns what the thread's `run` returned (status,
-- result, error, records), or "busy" when no thread VM became free in time.
-- Raises for a setup mistake (no thread_pool, a phase where ngx_lua cannot wait).
local function dispatch(st, what, cancel_key, marked, ...)
  local n = select("#", ...)
  local args = { ... }
  if marked then
    for i = 1, n do
      args[i] = values.pack(args[i], core.null, MARKS)
    end
  end
  local pause, waited = 0.002, 0
  while true do
    local called, ok, status, r, e, recs = pcall(ngx.run_worker_thread, st.pool, THREAD_MODULE, "run",
      st.key, st.config, st.dict_name, st.token_key, cancel_key, what, marked, n, unpack(args, 1, n))
    if not called then
      error(("hubsoft.nginx: calls run on the nginx thread pool, which ngx_lua offers only where a"
        .. " request can wait (rewrite, access, content, ngx.timer), not in %s: %s")
        :format(tostring(ngx.get_phase()), tostring(ok)), 0)
    end
    if ok then
      return status, r, e, recs
    end
    if status ~= "no available Lua vm" then
      error(directive_error(st, tostring(status)), 0)
    end
    -- every thread VM is in use (lua_worker_thread_vm_pool_size): nothing
    -- was sent, wait for one to come back
    if waited >= st.timeout then
      return "busy"
    end
    ngx.sleep(pause)
    waited = waited + pause
    pause = math.min(pause * 2, 0.05)
  end
end

-- Turn what the thread answered into the blocking client's result.
local function finish(st, what, status, r, e, recs)
  local hook = st.on_request
  if hook and recs then
    for i = 1, #recs do
      local ok, msg = pcall(hook, recs[i])
      if not ok then
        ngx.log(ngx.ERR, "lua-hubsoft: on_request hook failed: ", scrub(st, tostring(msg)))
      end
    end
  end
  if status == "ok" or status == "json" then
    if status == "json" then
      r = core.decode(r, st.keep_nulls)
    end
    if type(e) == "table" then
      core.error(e)
    end
    return r, e
  elseif status == "raise" then
    if type(r) == "table" then
      error(core.error(r), 0)
    end
    error(r, 0)
  elseif status == "busy" then
    return nil, core.error {
      kind = "timeout",
      message = ("no Lua VM for the nginx thread pool became free within %s s: raise"
        .. " lua_worker_thread_vm_pool_size or lower the calls waiting at once"):format(st.timeout),
      retryable = true,
      attempts = 0,
    }
  end
  error("hubsoft.nginx: unexpected answer from the thread pool to " .. what .. ": " .. tostring(status), 0)
end

-- Whether `request`'s arguments can cross to a thread: nil and whether they
-- hold marks, or a validation error naming the first that cannot.
local function check_args(method, path, opts)
  local args = { method = method, path = path, opts = opts }
  local marked = false
  for _, name in ipairs { "method", "path", "opts" } do
    local field, why = values.check(args[name], core.null, MARKS, name)
    if field then
      local m = type(method) == "string" and method:upper() or nil
      return crossing_error(field, why, m, type(path) == "string" and path or nil)
    end
    marked = marked or why
  end
  return nil, marked
end

local TEMPLATE, CLIENT_MT -- every client's proxy is made from TEMPLATE and shares its metatable

local function client_state(api, name)
  local st = CLIENT_MT ~= nil and getmetatable(api) == CLIENT_MT and getfenv(api)
  if not st then
    error("hubsoft: call it with a colon: api:" .. name .. "(...)", 3)
  end
  return st
end

-- methods --------------------------------------------------------------

-- Any endpoint under base_url, run on the thread pool: `api:request(method, path, opts)`.
-- Arguments, results and errors as the blocking client's `request`.
function methods.request(api, method, path, opts)
  local st = client_state(api, "request")
  if st.closed then
    return st.probe:request(method, path, opts)
  end
  local err, marked = check_args(method, path, opts)
  if err then
    return nil, err
  end
  return finish(st, "request", dispatch(st, "request", nil, marked, method, path, opts))
end

-- Log in now on the thread pool; returns the token table, or nil, err.
function methods.authenticate(api)
  local st = client_state(api, "authenticate")
  if st.closed then
    return st.probe:authenticate()
  end
  return finish(st, "authenticate", dispatch(st, "authenticate", nil, false))
end

-- Close the client: later calls answer `nil, err` with `err.kind == "closed"`.
-- The thread VMs keep their clients for other callers with the same configuration.
function methods.close(api)
  client_state(api, "close").closed = true
end

function methods.is_closed(api)
  return client_state(api, "is_closed").closed
end

-- A set of pages in flight for `hubsoft.paginate` (the protocol of the C
-- core's `_prefetch`: add, await, wait, close): each page is one request on
-- the pool, started in its own light thread so several overlap. `close`
-- kills the light threads and marks the walk cancelled in the shared dict, so
-- the pages still queued in the pool are skipped without being sent.
local function transfers(st)
  local threads, arrived = {}, {}
  local last_id, outstanding = 0, 0
  local cancel_key

  local set = {}

  function set.add(_, method, path, opts)
    local err, marked = check_args(method, path, opts)
    if err then
      return nil, err
    end
    if not cancel_key then
      walks = walks + 1
      worker_started = worker_started or ngx.now()
      cancel_key = ("hubsoft:cancel:%d:%.3f:%d"):format(ngx.worker.pid(), worker_started, walks)
    end
    last_id = last_id + 1
    local id = last_id
    threads[id] = ngx.thread.spawn(function()
      return { dispatch(st, "request", cancel_key, marked, method, path, opts) }
    end)
    outstanding = outstanding + 1
    return id
  end

  function set.await(_, id)
    if arrived[id] == nil and threads[id] then
      local ok, res = ngx.thread.wait(threads[id])
      threads[id] = nil
      outstanding = outstanding - 1
      arrived[id] = ok and res or { error = res }
    end
  end

  function set.wait(self, id)
    set.await(self, id)
    local res = arrived[id]
    arrived[id] = nil
    if res == nil then
      error("hubsoft.nginx: no such transfer " .. tostring(id), 2)
    end
    if res.error then
      error(res.error, 0)
    end
    return finish(st, "request", res[1], res[2], res[3], res[4])
  end

  function set.close()
    if outstanding > 0 then
      st.dict:set(cancel_key, true, st.cancel_ttl)
      for id, th in pairs(threads) do
        pcall(ngx.thread.kill, th)
        threads[id] = nil
      end
      outstanding = 0
    end
    arrived = {}
  end

  -- LuaJIT has no __close: a `break` leaves the set to the garbage collector
  local proxy = newproxy(true)
  local mt = getmetatable(proxy)
  mt.__index = set
  mt.__gc = function()
    if outstanding > 0 and cancel_key then
      st.dict:set(cancel_key, true, st.cancel_ttl)
    end
  end
  return proxy
end

function methods._prefetch(api, n)
  local st = client_state(api, "_prefetch")
  if st.closed then
    return st.probe:_prefetch(n)
  end
  return transfers(st)
end

-- The named methods (one per row of the endpoint table) and the iterators:
-- the blocking client's own code, calling the methods above.
endpoints.install(methods, core)
paginate.install(methods, core)

-- new --------------------------------------------------------------

local function serialize(t)
  local keys = {}
  for k in pairs(t) do
    keys[#keys + 1] = k
  end
  table.sort(keys)
  local parts = {}
  for _, k in ipairs(keys) do
    parts[#parts + 1] = k .. "=" .. type(t[k]) .. ":" .. tostring(t[k])
  end
  return table.concat(parts, "\n")
end


--- Create a client whose calls run on the nginx thread pool.
-- Raises a Lua error for a malformed configuration (as `hubsoft.new`), for
-- `config.token_store` (the token lives in the shared dict), and when the
-- `lua_shared_dict` is missing. A missing `thread_pool` raises at the first
-- call (it cannot be looked up before).
-- @tparam table config `hubsoft.new`'s configuration, without `token_store`
-- @tparam[opt] table opts `{pool = "hubsoft", shared_dict = "hubsoft"}`: the
--   names given to `thread_pool` and `lua_shared_dict`
-- @return the client
-- @usage local api = require("hubsoft.nginx").new {base_url = ..., client_id = ...,
--   client_secret = ..., username = ..., password = ..., timeout = 10}
function M.new(config, opts)
  if type(ngx) ~= "table" or type(ngx.run_worker_thread) ~= "function" then
    error("hubsoft.nginx: needs nginx with ngx_lua 0.10.21 or later (ngx.run_worker_thread);"
      .. " elsewhere use hubsoft.new", 2)
  end
  if type(config) ~= "table" then
    error("hubsoft.nginx.new: config must be a table", 2)
  end
  if opts ~= nil and type(opts) ~= "table" then
    error("hubsoft.nginx.new: opts must be a table", 2)
  end
  opts = opts or {}
  for k, v in pairs(opts) do
    if DEFAULTS[k] == nil then
      error("hubsoft.nginx.new: unknown option " .. tostring(k) .. " (allowed: pool, shared_dict)", 2)
    end
    if type(v) ~= "string" or v == "" then
      error("hubsoft.nginx.new: opts." .. k .. " must be a non-empty string", 2)
    end
  end
  if config.token_store ~= nil then
    error("hubsoft.nginx.new: config.token_store is not accepted: the token lives in the"
      .. " lua_shared_dict (opts.shared_dict), shared by every worker and thread", 2)
  end
  local pool = opts.pool or DEFAULTS.pool
  local dict_name = opts.shared_dict or DEFAULTS.shared_dict
  local dict = ngx.shared[dict_name]
  if not dict then
    error(("hubsoft.nginx: there is no lua_shared_dict %q: add `lua_shared_dict %s 1m;` to the http"
      .. " block of nginx.conf"):format(dict_name, dict_name), 2)
  end

  -- the same checks as hubsoft.new, by hubsoft.new itself (with a store
  -- standing in for the dict, as in the threads)
  local thread_config, check = {}, {}
  for k, v in pairs(config) do
    check[k] = v
    thread_config[k] = v
  end
  check.token_store = { load = function() end, save = function() end }
  local made, probe = pcall(hubsoft.new, check)
  if not made then
    error(probe, 2)
  end
  probe:close() -- kept closed: it answers for this client once closed
  if thread_config.on_request ~= nil then
    thread_config.on_request = true
  end

  local token_key = ("hubsoft:token:%s:%s:%s"):format(tostring(config.base_url),
    tostring(config.client_id or ""), tostring(config.username or ""))
  local timeout = config.timeout or 30
  local retries = config.retries or 2
  local st = {
    pool = pool,
    dict = dict,
    dict_name = dict_name,
    token_key = token_key,
    config = thread_config,
    key = ngx.md5(dict_name .. "\n" .. serialize(thread_config)),
    on_request = config.on_request,
    keep_nulls = config.keep_nulls and true or false,
    timeout = timeout,
    -- a cancelled walk's mark outlives every page it could have queued
    cancel_ttl = (timeout * (retries + 1) + (config.retry_max_delay or 8) * retries) * 4 + 60,
    secrets = {
      password = config.password,
      client_secret = config.client_secret,
      access_token = config.access_token,
    },
    probe = probe,
    closed = false,
  }
  if not TEMPLATE then
    TEMPLATE = newproxy(true)
    CLIENT_MT = getmetatable(TEMPLATE)
    CLIENT_MT.__index = methods
    CLIENT_MT.__tostring = function(api)
      return "hubsoft.nginx client" .. (getfenv(api).closed and " (closed)" or "")
    end
  end
  local api = newproxy(TEMPLATE)
  setfenv(api, st)
  return api
end

return M
