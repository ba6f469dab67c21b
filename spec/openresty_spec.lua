-- examples/openresty under a real nginx (Debian nginx-light + libnginx-mod-http-lua, LuaJIT):
-- two workers, one client each, one HubSoft login shared through lua_shared_dict,
-- real HTTP from LuaSocket to nginx and from nginx (libcurl) to the fake server.
-- Pending (skipped) when nginx, its lua module or build-luajit cannot be had.

local socket = require "socket"
local cjson = require "cjson"
local fake = require "spec.support.server"
local util = require "spec.support.util"
local nginx = require "spec.support.nginx"

local WORKERS = 2
local CPF = "12345678901"          -- fake customer 24931 (BIANCA), service 12345
local SERVICE = 12345
local LOOKUP = "/api/v1/integracao/cliente/atendimento"

local read_file = util.read_file

local TEMPLATE = read_file("examples/openresty/nginx.conf")

--- One request on its own connection (HTTP/1.0: no chunking, closed after).
local function send_raw(port, method, path, body)
  local c = assert(socket.connect("127.0.0.1", port))
  c:settimeout(15)
  local req = method .. " " .. path .. " HTTP/1.0\r\nHost: 127.0.0.1\r\n"
  if body then
    req = req .. "Content-Type: application/json\r\nContent-Length: " .. #body .. "\r\n"
  end
  assert(c:send(req .. "\r\n" .. (body or "")))
  return c
end

local function read_raw(c)
  local data, err, partial = c:receive("*a")
  c:close()
  data = data or partial
  assert(data and data ~= "", "no answer from nginx: " .. tostring(err))
  local status = tonumber(data:match("^HTTP/%d%.%d (%d%d%d)"))
  local body = data:match("\r\n\r\n(.*)$") or ""
  local ok, decoded = pcall(cjson.decode, body)
  return status, ok and decoded or body, body
end

local function request(port, method, path, body)
  return read_raw(send_raw(port, method, path, body))
end

describe("examples/openresty (nginx + ngx_lua, " .. WORKERS .. " workers)", function()
  local reason = "examples/openresty/nginx.conf is missing"
  if TEMPLATE then reason = nginx.why_skip(TEMPLATE) end
  if reason then
    pending("skipped: " .. reason)
    return
  end

  local srv, gateway, port

  local function nginx_log()
    return gateway:log()
  end

  -- pids of the workers that served logged requests (log_format ... pid=$pid)
  local function serving_pids()
    local pids, count = {}, 0
    for pid in (read_file(gateway.prefix .. "/access.log") or ""):gmatch("pid=(%d+)") do
      if not pids[pid] then pids[pid] = true; count = count + 1 end
    end
    return count, pids
  end

  setup(function()
    srv = fake.start { seed_tickets = 0 }
    local c = srv:config()
    gateway = nginx.start(TEMPLATE, { WORKERS = WORKERS }, {
      HUBSOFT_URL = c.base_url, HUBSOFT_CLIENT_ID = c.client_id, HUBSOFT_CLIENT_SECRET = c.client_secret,
      HUBSOFT_USERNAME = c.username, HUBSOFT_PASSWORD = c.password,
    })
    port = gateway.port
  end)

  teardown(function()
    if gateway then gateway:stop() end
    if srv then srv:stop() end
  end)

  it("logs in once for all workers, even when the first requests arrive together", function()
    -- several lookups in flight at once, before any token exists
    local conns = {}
    for i = 1, 6 do conns[i] = send_raw(port, "GET", "/atendimentos?cpf=" .. CPF) end
    for i = 1, #conns do
      local status, body, raw = read_raw(conns[i])
      assert.are.equal(200, status, raw)
      assert.are.equal(CPF, body.cpf_cnpj)
      assert.are.equal(0, body.total)
      assert.are.equal("table", type(body.atendimentos))
      assert.truthy(raw:find('"atendimentos":[]', 1, true), "an empty list is a JSON array: " .. raw)
    end
    assert.are.equal(1, srv:stats().logins, nginx_log())
  end)

  it("opens a ticket (POST, JSON in and out) and finds it from every worker", function()
    local status, body, raw = request(port, "POST", "/atendimentos", cjson.encode {
      id_cliente_servico = SERVICE, descricao = "Sem conexão desde ontem (via nginx)",
      nome = "Bianca Couto", telefone = "81987654321",
    })
    assert.are.equal(201, status, raw)
    assert.truthy(tonumber(body.id_atendimento), raw)
    assert.are.equal("string", type(body.protocolo))
    local state = srv:state()
    assert.are.equal(1, state.total)

    -- a lookup held up (the fake server answers it 1 s late) waits on the thread pool;
    -- the lookups sent meanwhile are served quickly, whichever worker takes them
    srv:fault { kind = "delay", seconds = 1, match = LOOKUP, times = 1 }
    local slow = send_raw(port, "GET", "/atendimentos?cpf=" .. CPF)
    socket.sleep(0.3)
    for _ = 1, 8 do
      local t0 = socket.gettime()
      local s2, b2, raw2 = request(port, "GET", "/atendimentos?cpf=123.456.789-01")
      assert.are.equal(200, s2, raw2)
      assert.is_true(socket.gettime() - t0 < 0.6, "waited for the slow lookup")
      assert.are.equal(1, b2.total)
      assert.are.equal(body.protocolo, b2.atendimentos[1].protocolo)
      assert.are.equal(body.id_atendimento, b2.atendimentos[1].id_atendimento)
      assert.are.equal(SERVICE, b2.atendimentos[1].id_cliente_servico)
    end
    local s3, b3, raw3 = read_raw(slow)
    assert.are.equal(200, s3, raw3)
    assert.are.equal(body.protocolo, b3.atendimentos[1].protocolo)
    -- more lookups, each on its own connection
    for _ = 1, 10 do
      local s4, b4 = request(port, "GET", "/atendimentos?cpf=" .. CPF)
      assert.are.equal(200, s4)
      assert.are.equal(body.protocolo, b4.atendimentos[1].protocolo)
    end

    local n = serving_pids()
    assert.is_true(n >= 2, "requests were served by " .. n .. " worker(s)")
    assert.are.equal(1, srv:stats().logins, "one login in total across the workers")
  end)

  it("refuses bad input with 400 and names the field, without calling HubSoft", function()
    local before = #srv:requests("/api/")
    local status, body = request(port, "GET", "/atendimentos")
    assert.are.equal(400, status)
    assert.are.equal("cpf", body.field)
    status, body = request(port, "GET", "/atendimentos?cpf=123")
    assert.are.equal(400, status)
    assert.are.equal("cpf", body.field)
    -- the client's own validation: nothing sent
    status, body = request(port, "POST", "/atendimentos", cjson.encode {
      id_cliente_servico = SERVICE, descricao = "x", nome = "y", telefone = "12-34",
    })
    assert.are.equal(400, status)
    assert.are.equal("validation", body.kind)
    assert.are.equal("telefone", body.field)
    status, body = request(port, "POST", "/atendimentos", cjson.encode { senha = "x" })
    assert.are.equal(400, status)
    assert.are.equal("senha", body.field)
    status = request(port, "POST", "/atendimentos", "{not json")
    assert.are.equal(400, status)
    status = request(port, "DELETE", "/atendimentos")
    assert.are.equal(405, status)
    assert.are.equal(before, #srv:requests("/api/"))
  end)

  it("passes HubSoft's own refusals on as 422 with its messages", function()
    local status, body, raw = request(port, "POST", "/atendimentos", cjson.encode {
      id_cliente_servico = 999999, descricao = "Serviço inexistente", nome = "Fulano",
      telefone = "81987654321",
    })
    assert.are.equal(422, status, raw)
    assert.are.equal("api", body.kind)
    assert.are.equal("table", type(body.errors))
    -- no secret leaks into the answer
    local c = srv:config()
    assert.falsy(raw:find(c.password, 1, true))
    assert.falsy(raw:find(c.client_secret, 1, true))
    assert.are.equal(1, srv:stats().logins)
  end)

  it("keeps the shared token across a revocation: one new login, saved for every worker", function()
    srv:revoke()
    for _ = 1, 6 do
      local status = request(port, "GET", "/atendimentos?cpf=" .. CPF)
      assert.are.equal(200, status)
    end
    -- the worker that hit the 401 logs in again and saves to the dict; the other
    -- one may hit the 401 too before it reloads, so at most one login per worker
    local logins = srv:stats().logins
    assert.is_true(logins >= 2 and logins <= 1 + WORKERS, "logins: " .. logins)
    assert.falsy(nginx_log():find("[emerg]", 1, true), nginx_log())
  end)
end)
