--- Start the fake HubSoft server (hubsoft.fake_server) in a child process and
-- control it over HTTP: faults, recorded requests, credentials, seed data.
--
-- This is what a user's own tests (and lua-hubsoft's specs) call; the server
-- runs in its own process because it serves until it is stopped.
--
--   local fake = require "hubsoft.fake_server"   -- its start() is this module's
--   local srv = fake.start { seed_tickets = 20 }
--   local api = hubsoft.new(srv:config())
--   srv:fault { kind = "status", status = 503, match = "/api/", times = 1 }
--   ... srv:requests("/api/") ...
--   srv:stop()
--
-- Needs LuaSocket (the server and these controls both use it). Works under
-- Lua 5.1 to 5.4 and LuaJIT.
-- @module hubsoft.fake_control

local socket = require "socket"
local http = require "socket.http"
local ltn12 = require "ltn12"
local cjson = require "cjson"

local M = {}

local CONTROL_TIMEOUT = 5

local function quote(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

local function sh(cmd)
  local a, _, c = os.execute(cmd)
  if type(a) == "number" then return a == 0 end -- Lua 5.1 / LuaJIT without 5.2 compat
  return a == true and (c == nil or c == 0)
end

local function read_file(path)
  local f = io.open(path, "rb")
  if not f then return "" end
  local s = f:read("*a")
  f:close()
  return s or ""
end

local function copy(t)
  local c = {}
  for k, v in pairs(t or {}) do c[k] = v end
  return c
end

local function accepts(port, host)
  local c = socket.tcp()
  c:settimeout(0.5)
  local ok = c:connect(host, port)
  c:close()
  return ok ~= nil
end

local function wait_until(deadline, fn)
  while true do
    if fn() then return true end
    if socket.gettime() > deadline then return false end
    socket.sleep(0.01)
  end
end

-- The file of module `name` on package.path (package.searchpath is 5.2+).
local function find_module(name)
  if package.searchpath then return package.searchpath(name, package.path) end
  local file = name:gsub("%.", "/")
  for template in package.path:gmatch("[^;]+") do
    local f = template:gsub("%?", file)
    local h = io.open(f)
    if h then h:close(); return f end
  end
end

-- The command that started this process (arg[-1] or further left), else a guess.
local function running_interpreter()
  local a = rawget(_G, "arg")
  if type(a) == "table" then
    local i = -1
    while a[i - 1] ~= nil do i = i - 1 end
    if type(a[i]) == "string" and a[i]:match("lua") then return a[i] end
  end
  if rawget(_G, "jit") then return "luajit" end
  return "lua" .. _VERSION:match("%d+%.%d+")
end

--- The credentials a freshly started (or reset) server accepts.
M.CREDENTIALS = {
  client_id = "3",
  client_secret = "fake-client-secret-XYZ",
  username = "bot@provedor.com.br",
  password = "s3nh@-Secreta!",
}

local Server = {}
Server.__index = Server

--- True while the server process exists.
function Server:alive()
  if self.pid == nil then return false end
  -- an exited server may linger as a zombie until its parent reaps it: that is dead
  local stat = io.open("/proc/" .. self.pid .. "/stat")
  if stat then
    local s = stat:read("*a")
    stat:close()
    return not s:match("^%d+ %b() Z")
  end
  return sh("kill -0 " .. self.pid .. " 2>/dev/null")
end

--- Low-level HTTP call. Returns status, body text, headers, or nil and an
-- error message when no response arrived. A table body is sent as JSON.
function Server:http(method, path, body, headers)
  local chunks = {}
  headers = copy(headers)
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

--- A control call (`/__control/<path>`): the decoded answer; raises when the
-- server does not answer 2xx with JSON.
function Server:control(method, path, body)
  local code, text = self:http(method, "/__control/" .. path, body)
  if not code then error("fake server: " .. method .. " /__control/" .. path .. ": " .. text, 2) end
  local ok, decoded = pcall(cjson.decode, text)
  if code < 200 or code > 299 or not ok then
    error("fake server: " .. method .. " /__control/" .. path .. " -> HTTP " .. tostring(code) .. ": " .. text, 2)
  end
  return decoded
end

--- Back to the start state: seed tickets, default credentials, no records,
-- stats, faults or tokens.
function Server:reset()
  local r = self:control("POST", "reset", {})
  self.credentials = copy(M.CREDENTIALS)
  return r
end

--- Counters: logins, requests, connections, faults applied, ...
function Server:stats() return self:control("GET", "stats") end
--- The tickets as the server holds them.
function Server:state() return self:control("GET", "state") end
--- The faults still queued.
function Server:faults() return self:control("GET", "faults") end
--- Invalidates every token issued so far (the next API call gets a 401).
function Server:revoke() return self:control("POST", "revoke", {}) end

--- Recorded requests (not /__control/ ones), oldest first; `prefix` keeps
-- those whose path starts with it. Each is `{id, method, path, query,
-- headers, body, json, ...}`, secrets included: it is your own test traffic.
function Server:requests(prefix)
  local all = self:control("GET", "requests")
  if not prefix then return all end
  local out = {}
  for _, r in ipairs(all) do
    if r.path:sub(1, #prefix) == prefix then out[#out + 1] = r end
  end
  return out
end

--- Queues a fault, e.g. `{kind = "status", status = 503, match = "/api/", times = 2}`
-- (kinds and fields: README, "Testing your own scripts").
function Server:fault(f) return self:control("POST", "fault", f) end

--- Replaces the tickets: `{tickets = N, data_inicio = "YYYY-MM-DD", data_fim = "YYYY-MM-DD"}`.
function Server:seed(t) return self:control("POST", "seed", t or {}) end

--- Replaces the support desk's seeded data: {clientes=N (besides the three
-- fixed ones), ordens_servico=N (besides the tickets' own), data_inicio=,
-- data_fim=} (registration dates spread over that range).
function Server:seed_suporte(t) return self:control("POST", "seed_suporte", t or {}) end

--- What the support routes did: {ligacoes, desbloqueios, desconexoes,
-- resets_mac, ordens_servico, clientes}.
function Server:suporte() return self:control("GET", "suporte") end

--- Changes the credentials, `expires_in` or the fixed clock (`now`).
function Server:set(t)
  local view = self:control("POST", "config", t)
  for k in pairs(M.CREDENTIALS) do
    if type(view[k]) == "string" then self.credentials[k] = view[k] end
  end
  return view
end

--- A table ready for hubsoft.new (base_url and the credentials).
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
      sh("kill " .. self.pid .. " 2>/dev/null")
      if not wait_until(socket.gettime() + 2, function() return not me:alive() end) then
        sh("kill -9 " .. self.pid .. " 2>/dev/null")
      end
    end
  end
  os.remove(self.log_path)
end

--- Server output so far (the PORT line, then any diagnostics on stderr).
function Server:log() return read_file(self.log_path) end

--- Starts a server in a child process and waits until it accepts connections.
-- opts: seed_tickets (0), port (0 = any free port), host ("127.0.0.1"),
-- idle_exit (600 s without a request, then it exits), lua (the interpreter
-- command; default $HUBSOFT_FAKE_LUA, else the running one), script (the
-- server file; default hubsoft.fake_server's on package.path), start_timeout (5 s).
-- @return the server controls; raises when it does not start
function M.start(opts)
  opts = opts or {}
  local host = opts.host or "127.0.0.1"
  local lua = opts.lua or os.getenv("HUBSOFT_FAKE_LUA") or running_interpreter()
  local script = opts.script or find_module("hubsoft.fake_server")
  if not script then error("fake server: hubsoft.fake_server is not on package.path", 2) end
  local log_path = os.tmpname()
  local cmd = string.format(
    "%s %s --host %s --port %d --seed-tickets %d --idle-exit %d </dev/null >%s 2>&1 & echo $!",
    lua, quote(script), quote(host), opts.port or 0,
    opts.seed_tickets or 0, opts.idle_exit or 600, quote(log_path))
  local p = assert(io.popen(cmd, "r"))
  local pid = tonumber(p:read("*l") or "")
  p:close()
  if not pid then error("fake server: could not start: " .. cmd, 2) end

  local self = setmetatable({
    pid = pid, host = host, log_path = log_path, lua = lua,
    credentials = copy(M.CREDENTIALS),
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
  if not wait_until(deadline, function() return accepts(port, host) end) then
    local log = read_file(log_path)
    self:stop()
    error("fake server does not accept connections: " .. log, 2)
  end
  return self
end

return M
