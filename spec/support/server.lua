--- Start, control and stop the fake HubSoft server from specs, examples and
-- benchmarks.
--
--   local fake = require "spec.support.server"
--   local srv = fake.start { seed_tickets = 0 }
--   local api = hubsoft.new(srv:config())
--   srv:fault { kind = "drop_before", match = "/oauth/token" }
--   srv:stop()
--
-- Works under Lua 5.1 to 5.4 and LuaJIT. The server itself runs under
-- lua5.4 when it is installed (else the running interpreter), so every
-- interpreter's suite talks to the same server code.

local socket = require "socket"
local http = require "socket.http"
local ltn12 = require "ltn12"
local cjson = require "cjson"
local util = require "spec.support.util"

local M = {}

M.DEFAULT_CREDENTIALS = {
  client_id = "3",
  client_secret = "fake-client-secret-XYZ",
  username = "bot@provedor.com.br",
  password = "s3nh@-Secreta!",
}

local CONTROL_TIMEOUT = 5

local shell_quote, run, copy = util.quote, util.sh, util.copy

local function pick_lua()
  if util.command_exists("lua5.4") then return "lua5.4" end
  if util.command_exists(util.LUA) then return util.LUA end
  return "lua"
end

-- The server is part of the package (lua/hubsoft/fake_server.lua); the specs
-- run the checkout's copy.
local function script_path()
  local src = debug.getinfo(1, "S").source
  local dir = src:match("^@(.*)[/\\][^/\\]*$") or "."
  return dir .. "/../../lua/hubsoft/fake_server.lua"
end

-- A file's contents; "" when it cannot be read.
local function read_file(path) return util.read_file(path) or "" end

local Server = {}
Server.__index = Server

--- True while the server process exists.
function Server:alive()
  if self.pid == nil then return false end
  -- an exited server may linger as a zombie until PID 1 reaps it: that is dead
  return util.alive(self.pid)
end

--- Low-level HTTP call with LuaSocket. Returns status, body text, headers,
-- or nil, error message when no response arrived.
function Server:http(method, path, body, headers)
  local chunks = {}
  headers = headers and copy(headers) or {}
  local source
  if body ~= nil then
    if type(body) ~= "string" then
      body = cjson.encode(body)
      headers["content-type"] = headers["content-type"] or "application/json"
    end
    headers["content-length"] = tostring(#body)
    source = ltn12.source.string(body)
  end
  local old = http.TIMEOUT
  http.TIMEOUT = self.timeout or CONTROL_TIMEOUT
  local ok, r, code, rh = pcall(http.request, {
    url = self.url .. path, method = method, headers = headers,
    source = source, sink = ltn12.sink.table(chunks),
  })
  http.TIMEOUT = old
  if not ok then return nil, tostring(r) end
  if not r then return nil, tostring(code) end
  return code, table.concat(chunks), rh
end

-- A control call: raises when the server does not answer 2xx with JSON.
function Server:control(method, path, body)
  local code, text = self:http(method, "/__control/" .. path, body)
  if not code then error("fake server: " .. method .. " /__control/" .. path .. ": " .. text, 2) end
  local ok, decoded = pcall(cjson.decode, text)
  if code < 200 or code > 299 or not ok then
    error("fake server: " .. method .. " /__control/" .. path .. " -> HTTP " .. tostring(code) .. ": " .. text, 2)
  end
  return decoded
end

local function adopt_config(self, view)
  for k in pairs(M.DEFAULT_CREDENTIALS) do
    if type(view[k]) == "string" then self.credentials[k] = view[k] end
  end
end

--- Back to the start state: seed tickets, default credentials, no records,
-- stats, faults or tokens.
function Server:reset()
  local r = self:control("POST", "reset", {})
  self.credentials = copy(M.DEFAULT_CREDENTIALS)
  return r
end

function Server:stats() return self:control("GET", "stats") end
function Server:state() return self:control("GET", "state") end
function Server:faults() return self:control("GET", "faults") end
function Server:revoke() return self:control("POST", "revoke", {}) end

--- Recorded requests (not /__control/ ones); `prefix` keeps those whose path
-- starts with it.
function Server:requests(prefix)
  local all = self:control("GET", "requests")
  if not prefix then return all end
  local out = {}
  for _, r in ipairs(all) do
    if r.path:sub(1, #prefix) == prefix then out[#out + 1] = r end
  end
  return out
end

--- Queues a fault, e.g. {kind="status", status=503, match="/api/", times=2}.
function Server:fault(f) return self:control("POST", "fault", f) end

--- Replaces the tickets: {tickets=N, data_inicio="YYYY-MM-DD", data_fim="YYYY-MM-DD"}.
function Server:seed(t) return self:control("POST", "seed", t or {}) end

--- Changes credentials, expires_in or the fixed clock ("now").
function Server:set(t)
  local view = self:control("POST", "config", t)
  adopt_config(self, view)
  return view
end

--- A table ready for hubsoft.new.
function Server:config()
  local c = self.credentials
  return {
    base_url = self.url,
    client_id = c.client_id, client_secret = c.client_secret,
    username = c.username, password = c.password,
  }
end

--- Logs in directly (no client) and returns the access token.
function Server:login()
  local c = self.credentials
  local code, text = self:http("POST", "/oauth/token", {
    grant_type = "password", client_id = c.client_id, client_secret = c.client_secret,
    username = c.username, password = c.password,
  })
  if code ~= 200 then error("fake server: login failed: " .. tostring(code) .. " " .. tostring(text), 2) end
  return cjson.decode(text).access_token
end

local function wait_until(deadline, fn)
  while true do
    if fn() then return true end
    if socket.gettime() > deadline then return false end
    socket.sleep(0.01)
  end
end

--- Shuts the server down and waits for it; kills it if it lingers. Idempotent.
function Server:stop()
  if self.stopped then return end
  self.stopped = true
  if self:alive() then
    local old = self.timeout
    self.timeout = 2
    pcall(self.http, self, "POST", "/__control/shutdown", "")
    self.timeout = old
    local me = self
    if not wait_until(socket.gettime() + 3, function() return not me:alive() end) then
      run("kill " .. self.pid .. " 2>/dev/null")
      if not wait_until(socket.gettime() + 2, function() return not me:alive() end) then
        run("kill -9 " .. self.pid .. " 2>/dev/null")
      end
    end
  end
  os.remove(self.log_path)
end

--- Server output so far (the PORT line, then any diagnostics on stderr).
function Server:log() return read_file(self.log_path) end

--- Starts a server. opts: seed_tickets (0), lua (else $HUBSOFT_FAKE_LUA, else
-- lua5.4 when installed, else the running interpreter),
-- host ("127.0.0.1"), port (0 = any free port), idle_exit (600 s),
-- start_timeout (5 s).
function M.start(opts)
  opts = opts or {}
  local host = opts.host or "127.0.0.1"
  local lua = opts.lua or os.getenv("HUBSOFT_FAKE_LUA") or pick_lua()
  local log_path = os.tmpname()
  local cmd = string.format(
    "%s %s --host %s --port %d --seed-tickets %d --idle-exit %d </dev/null >%s 2>&1 & echo $!",
    lua, shell_quote(script_path()), shell_quote(host), opts.port or 0,
    opts.seed_tickets or 0, opts.idle_exit or 600, shell_quote(log_path))
  local p = assert(io.popen(cmd, "r"))
  local pid = tonumber(p:read("*l") or "")
  p:close()
  if not pid then error("fake server: could not start: " .. cmd, 2) end

  local self = setmetatable({
    pid = pid, host = host, log_path = log_path, lua = lua,
    credentials = copy(M.DEFAULT_CREDENTIALS),
  }, Server)

  local deadline = socket.gettime() + (opts.start_timeout or 5)
  local port
  local started = wait_until(deadline, function()
    port = tonumber(read_file(log_path):match("PORT (%d+)"))
    return port ~= nil or not self:alive()
  end)
  if not port then
    local log = read_file(log_path)
    self:stop()
    error("fake server did not start (" .. (started and "exited" or "timeout") .. "): " .. log, 2)
  end
  self.port = port
  self.url = "http://" .. host .. ":" .. port

  -- The PORT line comes after bind; still, prove that it accepts.
  local accepting = wait_until(deadline, function() return util.accepts(port, host, 0.5) end)
  if not accepting then
    local log = read_file(log_path)
    self:stop()
    error("fake server does not accept connections: " .. log, 2)
  end
  return self
end

return M
