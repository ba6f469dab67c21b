--- lua-hubsoft inside nginx (ngx_lua / OpenResty): one client per worker, one
-- token for all the workers, and no call ever blocks the event loop.
--
--   thread_pool hubsoft threads=16;                     (main context)
--   lua_shared_dict hubsoft 1m;                         (http)
--   init_worker_by_lua_block { require("hubsoft_gateway").init_worker() }
--   location = /atendimentos { content_by_lua_file .../atendimentos.lua; }
--
-- Configuration comes from the environment of the nginx master (declare each
-- variable with `env NAME;` in nginx.conf, or nginx clears it): HUBSOFT_BASE_URL (or HUBSOFT_URL),
-- HUBSOFT_CLIENT_ID, HUBSOFT_CLIENT_SECRET, HUBSOFT_USERNAME, HUBSOFT_PASSWORD.
--
-- The client is `hubsoft.nginx`: every HubSoft call runs on nginx's thread
-- pool, so while one waits for HubSoft this worker keeps serving everything
-- else. The token lives in the shared dict: the first call of any worker logs
-- in, the others (and every later call) use it. See README.md.

local hubsoft_nginx = require "hubsoft.nginx"
local cjson = require "cjson.safe"

local M = {}

local TIMEOUT, CONNECT_TIMEOUT = 10, 3

local api                        -- this worker's client (module-level cache)
local init_error                 -- why it could not be created

--- init_worker_by_lua: create this worker's client. Nothing is sent here
-- (the client logs in lazily, on the pool, at the first call).
function M.init_worker()
  local ok, client = pcall(hubsoft_nginx.new, {
    base_url = os.getenv("HUBSOFT_BASE_URL") or os.getenv("HUBSOFT_URL"),
    client_id = os.getenv("HUBSOFT_CLIENT_ID"),
    client_secret = os.getenv("HUBSOFT_CLIENT_SECRET"),
    username = os.getenv("HUBSOFT_USERNAME"),
    password = os.getenv("HUBSOFT_PASSWORD"),
    timeout = TIMEOUT,
    connect_timeout = CONNECT_TIMEOUT,
  }, { pool = "hubsoft", shared_dict = "hubsoft" })
  if not ok then
    init_error = tostring(client) -- names the key or the directive, never a value
    ngx.log(ngx.ERR, "hubsoft: cannot create the client: ", init_error)
    return
  end
  api = client
end

--- The worker's client, or nil and a message.
function M.client()
  if not api then return nil, init_error or "not initialised (init_worker_by_lua missing)" end
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
