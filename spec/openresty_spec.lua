-- examples/openresty under a real nginx (Debian nginx-light + libnginx-mod-http-lua, LuaJIT):
-- two workers, one client each, one HubSoft login shared through lua_shared_dict,
-- real HTTP from LuaSocket to nginx and from nginx (libcurl) to the fake server.
-- Pending (skipped) when nginx, its lua module or build-luajit cannot be had.

local socket = require "socket"
local cjson = require "cjson"
local fake = require "spec.support.server"
local util = require "spec.support.util"

local WORKERS = 2
local CPF = "12345678901"          -- fake customer 24931 (BIANCA), service 12345
local SERVICE = 12345
local LOOKUP = "/api/v1/integracao/cliente/atendimento"

local sh, capture, quote, read_file, exists = util.sh, util.capture, util.quote, util.read_file, util.exists
local wait_until = util.wait_until

local ROOT = capture("pwd")
local TEMPLATE = ROOT .. "/examples/openresty/nginx.conf"

local function find_nginx()
  for _, p in ipairs { capture("command -v nginx"), "/usr/sbin/nginx", "/usr/local/openresty/nginx/sbin/nginx" } do
    if p ~= "" and exists(p) then return p end
  end
end

-- Why this spec cannot run here, or nil. Builds build-luajit when it is missing.
local function why_skip(nginx)
  if not nginx then return "nginx is not installed" end
  local template = read_file(TEMPLATE)
  if not template then return "examples/openresty/nginx.conf is missing" end
  for mod in template:gmatch("\nload_module%s+([^;%s]+);") do
    if not exists(mod) then return mod .. " is not installed (libnginx-mod-http-lua)" end
  end
  return util.core_missing("luajit")
end

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
  local nginx = find_nginx()
  local reason = why_skip(nginx)
  if reason then
    pending("skipped: " .. reason)
    return
  end

  local srv, prefix, port, master, watchdog

  local function nginx_log()
    return (read_file(prefix .. "/error.log") or "") .. (read_file(prefix .. "/startup.log") or "")
  end

  -- pids of the workers the master started ("start worker process N" in error.log)
  local function worker_pids()
    local pids = {}
    for pid in nginx_log():gmatch("start worker process (%d+)") do pids[#pids + 1] = tonumber(pid) end
    return pids
  end

  -- pids of the workers that served logged requests (log_format ... pid=$pid)
  local function serving_pids()
    local pids, n = {}, 0
    for pid in (read_file(prefix .. "/access.log") or ""):gmatch("pid=(%d+)") do
      if not pids[pid] then pids[pid] = true; n = n + 1 end
    end
    return n, pids
  end

  setup(function()
    srv = fake.start { seed_tickets = 0 }
    prefix = util.tmpdir()
    -- workers of a root master run as nobody: they must reach their prefix
    assert(sh("chmod 755 " .. quote(prefix)))
    port = util.free_port()
    local conf = read_file(TEMPLATE)
      :gsub("{{PREFIX}}", (prefix:gsub("%%", "%%%%")))
      :gsub("{{ROOT}}", (ROOT:gsub("%%", "%%%%")))
      :gsub("{{PORT}}", tostring(port))
      :gsub("{{WORKERS}}", tostring(WORKERS))
    assert(not conf:match("{{%u+}}"), "unfilled template field " .. tostring(conf:match("{{%u+}}")))
    util.write_file(prefix .. "/nginx.conf", conf)

    local c = srv:config()
    local env = ("HUBSOFT_URL=%s HUBSOFT_CLIENT_ID=%s HUBSOFT_CLIENT_SECRET=%s HUBSOFT_USERNAME=%s HUBSOFT_PASSWORD=%s")
      :format(quote(c.base_url), quote(c.client_id), quote(c.client_secret), quote(c.username), quote(c.password))
    -- daemon on: the command returns once the master has forked
    local ok = sh(("env %s %s -p %s -c %s -e %s >%s 2>&1"):format(env, quote(nginx), quote(prefix),
      quote(prefix .. "/nginx.conf"), quote(prefix .. "/startup.log"), quote(prefix .. "/startup.log")))
    assert(ok, "nginx did not start:\n" .. nginx_log())
    assert(wait_until(5, function()
      master = tonumber(read_file(prefix .. "/nginx.pid") or "")
      return master ~= nil
    end), "nginx wrote no pid file:\n" .. nginx_log())
    -- if this process dies before teardown, nginx does not outlive it by long
    -- (TERM from teardown stops it and its sleep)
    local guard = [[sh -c 'trap "kill \$s 2>/dev/null; exit 0" TERM; sleep 300 & s=$!; wait $s; kill -QUIT %d']]
    watchdog = tonumber(capture(guard:format(master) .. " >/dev/null 2>&1 </dev/null & echo $!"))
    assert(wait_until(5, function() return util.accepts(port) end),
      "nginx does not accept connections:\n" .. nginx_log())
    -- every worker up
    wait_until(3, function() return #worker_pids() >= WORKERS end)
  end)

  teardown(function()
    if master then
      sh("kill -QUIT " .. master .. " 2>/dev/null") -- graceful: the workers finish, then exit
      if not wait_until(5, function() return not util.alive(master) end) then
        for _, pid in ipairs(worker_pids()) do sh("kill -KILL " .. pid .. " 2>/dev/null") end
        sh("kill -KILL " .. master .. " 2>/dev/null")
      end
    end
    if watchdog then sh("kill " .. watchdog .. " 2>/dev/null") end
    if srv then srv:stop() end
    util.rm_tmpdir(prefix)
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
