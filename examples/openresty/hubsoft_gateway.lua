--- lua-hubsoft inside nginx (ngx_lua / OpenResty): one client per worker, one
-- token for all the workers.
--
--   init_worker_by_lua_block { require("hubsoft_gateway").init_worker() }
--   location = /atendimentos { content_by_lua_file .../atendimentos.lua; }
--
-- Configuration comes from the environment of the nginx master (declare each
-- variable with `env NAME;` in nginx.conf, or nginx clears it): HUBSOFT_URL,
-- HUBSOFT_CLIENT_ID, HUBSOFT_CLIENT_SECRET, HUBSOFT_USERNAME, HUBSOFT_PASSWORD.
--
-- IMPORTANT: a call into the client runs libcurl synchronously, so it BLOCKS
-- this nginx worker (every connection it serves) until it returns. Use it
-- only where blocking is tolerable -- content/access handlers with short
-- timeouts, or ngx.timer.at background jobs -- never in init_by_lua, header
-- or body filters, log or balancer phases. See README.md.

local hubsoft = require "hubsoft"
local cjson = require "cjson.safe"

local M = {}

local DICT_NAME = "hubsoft"      -- lua_shared_dict hubsoft 1m;
local TOKEN_KEY = "token"
local LOCK_KEY = "login_lock"
local MARGIN = 60                -- a token this close to expiry is not handed out
local TIMEOUT, CONNECT_TIMEOUT = 5, 2

local api                        -- this worker's client (module-level cache)
local init_error                 -- why it could not be created
local token_until = 0            -- this worker's client holds a token valid until then

--- A token_store over ngx.shared.hubsoft: every worker sees the token the
-- first one obtained. load/save are plain functions (no yielding: they run
-- inside the C client, so no ngx.sleep or cosockets in them).
local function shared_dict_store(dict)
  local store = {}

  function store.load()
    local s = dict:get(TOKEN_KEY)
    if not s then return nil end
    local t = cjson.decode(s)
    if type(t) ~= "table" or type(t.access_token) ~= "string" then return nil end
    local expires_at = tonumber(t.expires_at)
    if not expires_at or expires_at <= ngx.time() + MARGIN then return nil end
    return t
  end

  function store.save(token)
    local s = cjson.encode(token)
    if not s then return nil, "cannot encode the token" end
    local expires_at = tonumber(token.expires_at)
    -- the dict forgets the entry when the token expires (0 = never, when unknown)
    local ttl = expires_at and math.max(expires_at - ngx.time(), 1) or 0
    local ok, err = dict:set(TOKEN_KEY, s, ttl)
    if not ok then return nil, err end
    return true
  end

  return store
end

local store

--- init_worker_by_lua: create this worker's client. Nothing is sent here
-- (the client logs in lazily), so this phase never blocks.
function M.init_worker()
  local dict = ngx.shared[DICT_NAME]
  if not dict then
    init_error = "lua_shared_dict " .. DICT_NAME .. " is not declared"
    ngx.log(ngx.ERR, "hubsoft: ", init_error)
    return
  end
  store = shared_dict_store(dict)
  local ok, client = pcall(hubsoft.new, {
    base_url = os.getenv("HUBSOFT_URL"),
    client_id = os.getenv("HUBSOFT_CLIENT_ID"),
    client_secret = os.getenv("HUBSOFT_CLIENT_SECRET"),
    username = os.getenv("HUBSOFT_USERNAME"),
    password = os.getenv("HUBSOFT_PASSWORD"),
    token_store = store,
    timeout = TIMEOUT,
    connect_timeout = CONNECT_TIMEOUT,
    retries = 1,              -- every retry keeps the worker blocked longer
    retry_max_delay = 1,
  })
  if not ok then
    init_error = tostring(client) -- names the key and the rule, never a value
    ngx.log(ngx.ERR, "hubsoft: cannot create the client: ", init_error)
    return
  end
  api = client
end

--- Make sure a token is in the shared dict before this worker's first call,
-- with a single login across all workers: one takes the lock and logs in, the
-- others wait (ngx.sleep yields, so they do not block their worker) and then
-- find the token in the dict. Runs in the handler's own Lua code, where
-- yielding is allowed (it is not, inside token_store.load/save).
local function ensure_token()
  if token_until > ngx.time() + MARGIN then return end
  local t = store.load()
  if t then token_until = tonumber(t.expires_at); return end
  local dict = ngx.shared[DICT_NAME]
  local deadline = ngx.now() + TIMEOUT + 1
  repeat
    if dict:add(LOCK_KEY, ngx.worker.pid(), TIMEOUT + 1) then
      local tok, err
      t = store.load() -- someone may have finished just before we took the lock
      if t then
        tok = t
      else
        tok, err = api:authenticate() -- blocks this worker for at most TIMEOUT
      end
      dict:delete(LOCK_KEY)
      if tok then token_until = tonumber(tok.expires_at) or 0 end
      if err then ngx.log(ngx.WARN, "hubsoft: login failed: ", tostring(err)) end
      return -- on failure, the call itself reports the error
    end
    ngx.sleep(0.02)
    t = store.load()
    if t then token_until = tonumber(t.expires_at); return end
  until ngx.now() > deadline
end

--- The worker's client, or nil and a message.
function M.client()
  if not api then return nil, init_error or "not initialised (init_worker_by_lua missing)" end
  ensure_token()
  return api
end

local STATUS_FOR_KIND = {
  validation = 400, api = 422, timeout = 504, closed = 503,
}

--- Send a JSON answer and finish the request. `body` is a JSON string or a table.
function M.reply(status, body)
  ngx.status = status
  ngx.header["Content-Type"] = "application/json; charset=utf-8"
  ngx.header["Cache-Control"] = "no-store"
  if type(body) ~= "string" then body = cjson.encode(body) end
  ngx.say(body)
  return ngx.exit(ngx.HTTP_OK) -- the status is set; this finishes the request
end

--- Answer with a client error (`err` from lua-hubsoft: its message never holds
-- a secret). Validation -> 400, API refusal -> 422, timeout -> 504, else 502.
function M.reply_error(err)
  local status = STATUS_FOR_KIND[err.kind] or 502
  ngx.log(status >= 500 and ngx.ERR or ngx.INFO, "hubsoft: ", tostring(err))
  return M.reply(status, {
    error = err.message, kind = err.kind, field = err.field, errors = err.errors,
  })
end

--- A JSON array, also when empty (lua-cjson 2.1.0 encodes {} as an object).
function M.json_array(list)
  local parts = {}
  for i = 1, #list do parts[i] = cjson.encode(list[i]) end
  return "[" .. table.concat(parts, ",") .. "]"
end

M.cjson = cjson
return M
