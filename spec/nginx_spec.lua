-- hubsoft.nginx under a real nginx (Debian nginx-light + libnginx-mod-http-lua, LuaJIT):
-- calls run on nginx's thread pool, so the worker keeps serving while HubSoft is slow;
-- results and errors equal the blocking client's (run here, in the spec's own Lua).
-- Pending (skipped) when nginx, its lua module or build-luajit cannot be had.

local socket = require "socket"
local cjson = require "cjson"
local hubsoft = require "hubsoft"
local fake = require "spec.support.server"
local util = require "spec.support.util"
local nginx = require "spec.support.nginx"

local TEMPLATE = [[
load_module /usr/lib/nginx/modules/ndk_http_module.so;
load_module /usr/lib/nginx/modules/ngx_http_lua_module.so;
worker_processes {{WORKERS}};
master_process on;
daemon on;
pid {{PREFIX}}/nginx.pid;
error_log {{PREFIX}}/error.log notice;
thread_pool hubsoft threads=8;
thread_pool one threads=1;
env HUBSOFT_URL;
env HUBSOFT_CLIENT_ID;
env HUBSOFT_CLIENT_SECRET;
env HUBSOFT_USERNAME;
env HUBSOFT_PASSWORD;
events { worker_connections 256; }
http {
    log_format pids '$request $status pid=$pid';
    access_log {{PREFIX}}/access.log pids;
    client_body_temp_path {{PREFIX}}/client_body_temp;
    proxy_temp_path {{PREFIX}}/proxy_temp;
    fastcgi_temp_path {{PREFIX}}/fastcgi_temp;
    uwsgi_temp_path {{PREFIX}}/uwsgi_temp;
    scgi_temp_path {{PREFIX}}/scgi_temp;
    lua_shared_dict hubsoft 1m;
    lua_shared_dict results 1m;
    # fewer thread VMs than calls at once in one spec below (the default is 100)
    lua_worker_thread_vm_pool_size 10;
    lua_package_path "{{ROOT}}/lua/?.lua;{{ROOT}}/lua/?/init.lua;{{ROOT}}/?.lua;;";
    lua_package_cpath "{{ROOT}}/build-luajit/?.so;;";
    server {
        listen 127.0.0.1:{{PORT}};
        location = /ping { return 200 "pong\n"; }
        location = /phases {
            access_by_lua_block { require("spec.support.nginx_app").access() }
            content_by_lua_block { ngx.say(ngx.ctx.access) }
            header_filter_by_lua_block { require("spec.support.nginx_app").header_filter() }
        }
        location /run/ {
            client_body_buffer_size 64k;
            content_by_lua_block { require("spec.support.nginx_app").run() }
        }
    }
}
]]

local unpack = table.unpack or unpack -- luacheck: ignore

local TICKETS = "/api/v1/integracao/atendimento"
local CONFIG = "/api/v1/integracao/configuracao/"

--- Send a request on its own connection (HTTP/1.0); returns the socket.
local function send(port, path, body)
  local c = assert(socket.connect("127.0.0.1", port))
  c:settimeout(30)
  local data = body and cjson.encode(body) or ""
  assert(c:send(("POST %s HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    .. "Content-Length: %d\r\n\r\n%s"):format(path, #data, data)))
  return c
end

local function receive(c)
  local data, err, partial = c:receive("*a")
  c:close()
  data = data or partial
  assert(data and data ~= "", "no answer from nginx: " .. tostring(err))
  local status = tonumber(data:match("^HTTP/%d%.%d (%d%d%d)"))
  local text = data:match("\r\n\r\n(.*)$") or ""
  local ok, decoded = pcall(cjson.decode, text)
  return status, ok and decoded or text, text
end

local function post(port, path, body)
  local status, decoded, text = receive(send(port, path, body))
  assert(status == 200, "HTTP " .. tostring(status) .. ": " .. text)
  return decoded, text
end

-- What the blocking client gives for the same call: plain tables, as JSON would carry them.
local function blocking(srv, extra, method, args, n)
  local cfg = util.with(srv:config(), {
    retry_delay = 0.01, retry_max_delay = 0.05, timeout = 5, connect_timeout = 2,
  }, extra)
  local hooks = {}
  cfg.on_request = function(info) hooks[#hooks + 1] = info end
  local api = hubsoft.new(cfg)
  local r, err = api[method](api, unpack(args, 1, n or #args))
  api:close()
  local view
  if err then
    view = { text = tostring(err), is_error = true }
    for k, v in pairs(err) do view[k] = v end
  end
  return cjson.decode(cjson.encode { r = r, err = view }), hooks
end

-- The fields of hook records that do not depend on timing. The blocking client
-- made here logs in; nginx's clients share a token already there, so logins
-- are left out unless `logins`.
local function hook_view(list, logins)
  local out = {}
  for _, h in ipairs(list) do
    if logins or not h.url:find("/oauth/token", 1, true) then
      out[#out + 1] = { method = h.method, url = h.url, status = h.status ~= cjson.null and h.status or nil,
        attempt = h.attempt, bytes = h.bytes }
    end
  end
  return out
end

-- An error with libcurl's elapsed time ("after 1004 milliseconds") left out.
local function untimed(err)
  if type(err) ~= "table" then return err end
  local t = {}
  for k, v in pairs(err) do
    t[k] = type(v) == "string" and v:gsub("after %d+ milliseconds", "after N milliseconds") or v
  end
  return t
end

local function env_for(srv)
  local c = srv:config()
  return { HUBSOFT_URL = c.base_url, HUBSOFT_CLIENT_ID = c.client_id, HUBSOFT_CLIENT_SECRET = c.client_secret,
    HUBSOFT_USERNAME = c.username, HUBSOFT_PASSWORD = c.password }
end

describe("hubsoft.nginx outside nginx", function()
  it("raises at new, naming what it needs", function()
    local ok, msg = pcall(require("hubsoft.nginx").new, { base_url = "http://127.0.0.1:1" })
    assert.is_false(ok)
    assert.truthy(tostring(msg):find("ngx.run_worker_thread", 1, true), msg)
  end)
end)

describe("hubsoft.nginx (calls on nginx's thread pool)", function()
  local reason = nginx.why_skip(TEMPLATE)
  if reason then
    pending("skipped: " .. reason)
    return
  end

  describe("one worker", function()
    local srv, ngx1

    setup(function()
      srv = fake.start { seed_tickets = 23 }
      ngx1 = nginx.start(TEMPLATE, { WORKERS = 1 }, env_for(srv))
    end)

    teardown(function()
      if ngx1 then ngx1:stop() end
      if srv then srv:stop() end
    end)

    it("answers another location at once while calls wait for a slow HubSoft", function()
      post(ngx1.port, "/run/call", { method = "configuracao", args = { "status_atendimento" } }) -- logged in
      srv:fault { kind = "delay", seconds = 1.5, match = CONFIG, times = 2 }
      local slow = {
        send(ngx1.port, "/run/call", { method = "configuracao", args = { "status_atendimento" } }),
        send(ngx1.port, "/run/call", { method = "configuracao", args = { "tipo_atendimento" } }),
      }
      socket.sleep(0.2)
      for _ = 1, 5 do
        local t0 = socket.gettime()
        local c = assert(socket.connect("127.0.0.1", ngx1.port))
        c:settimeout(5)
        c:send("GET /ping HTTP/1.0\r\n\r\n")
        local data = c:receive("*a")
        c:close()
        assert.truthy(data and data:find("pong", 1, true))
        -- the calls still wait 1.3 s more: answering within a third of that is not waiting for them
        assert.is_true(socket.gettime() - t0 < 0.45, "the worker was blocked")
      end
      for _, c in ipairs(slow) do
        local status, b = receive(c)
        assert.are.equal(200, status)
        assert.is_nil(b.err)
        assert.is_true(b.ms >= 1400, "the call did wait for HubSoft")
      end
    end)

    it("keeps each thread VM's client, and its connection, from call to call", function()
      local before = #srv:requests(CONFIG)
      for _ = 1, 6 do
        local b = post(ngx1.port, "/run/call", { method = "configuracao", args = { "status_atendimento" } })
        assert.is_nil(b.err)
      end
      local conns, n = {}, 0
      local reqs = srv:requests(CONFIG)
      for i = before + 1, #reqs do
        local id = reqs[i].connection_id
        if not conns[id] then conns[id] = true; n = n + 1 end
      end
      -- a client made per call would open 6 connections; the VMs are reused one after another
      assert.is_true(n <= 2, n .. " connections for 6 calls one after the other")
    end)

    it("runs N calls at once in about one call's time, not N", function()
      local N, DELAY = 6, 1
      srv:fault { kind = "delay", seconds = DELAY, match = CONFIG, times = N }
      local t0 = socket.gettime()
      local conns = {}
      for i = 1, N do
        conns[i] = send(ngx1.port, "/run/call", { method = "configuracao", args = { "status_atendimento" } })
      end
      for i = 1, N do
        local status, b = receive(conns[i])
        assert.are.equal(200, status)
        assert.is_nil(b.err)
        assert.are.equal("table", type(b.r.status_atendimento))
      end
      local elapsed = socket.gettime() - t0
      assert.is_true(elapsed >= DELAY)
      -- one after the other would take N s; 3x one call's time is the margin
      assert.is_true(elapsed < 3 * DELAY, ("%d calls took %.2f s"):format(N, elapsed))
    end)

    it("waits for a thread VM when every one is in use, instead of failing", function()
      -- 14 calls at once, 10 VMs (lua_worker_thread_vm_pool_size): 4 calls find none free
      local N = 14
      srv:fault { kind = "delay", seconds = 0.5, match = CONFIG, times = N }
      local conns = {}
      for i = 1, N do
        conns[i] = send(ngx1.port, "/run/call", { method = "configuracao", args = { "status_atendimento" } })
      end
      for i = 1, N do
        local status, b, text = receive(conns[i])
        assert.are.equal(200, status, text)
        assert.is_nil(b.err)
        assert.are.equal("table", type(b.r.status_atendimento))
      end
    end)

    it("gives the blocking client's results, errors and hook records", function()
      local cases = {
        { "configuracao", { "status_atendimento" } },
        { "todos_atendimentos", { { itens_por_pagina = 5, pagina = 1 } } },
        -- a JSON body built by the endpoint rows (marked as an object)
        { "consultar_atendimentos", { { itens_por_pagina = 5, data_inicio = "2025-01-01" } } },
        { "atendimentos_do_cliente", { "cpf_cnpj", "12345678901", { apenas_pendente = false } } },
        -- validation: refused before anything is sent
        { "abrir_atendimento", { { id_cliente_servico = 12345, descricao = "x", nome = "y", telefone = "12" } } },
        { "atendimentos_do_cliente", { "telefone", "1" } },
        -- the server says no ("status":"error")
        { "abrir_atendimento", { { id_cliente_servico = 999999, descricao = "Serviço inexistente",
          nome = "Fulano", telefone = "81987654321" } } },
        -- HTTP 404 through request
        { "request", { "GET", "/api/v1/integracao/nada" } },
        -- request's own checks
        { "request", { "FETCH", "/x" } },
        { "authenticate", {} },
      }
      for _, case in ipairs(cases) do
        local method, args = case[1], case[2]
        local want, want_hooks = blocking(srv, {}, method, args)
        local got = post(ngx1.port, "/run/call", { method = method, args = args, n = #args })
        local label = method .. " " .. cjson.encode(args)
        if method == "authenticate" then
          -- a new token each time: compare its shape
          assert.are.equal("string", type(got.r.access_token), label)
          assert.are.same(want.r.token_type, got.r.token_type, label)
        else
          assert.are.same(want.r, got.r, label)
        end
        if want.err then
          assert.is_true(got.err.is_error, label .. ": err keeps its metatable")
        end
        assert.are.same(want.err, got.err, label)
        local logins = method == "authenticate"
        assert.are.same(hook_view(want_hooks, logins), hook_view(got.hooks, logins), label)
      end
    end)

    it("gives the blocking client's errors for faults: timeout, a write whose answer was lost, retries", function()
      local cases = {
        { fault = { kind = "delay", seconds = 2, match = CONFIG, times = 3 }, config = { timeout = 1 },
          method = "configuracao", args = { "status_atendimento" } },
        { fault = { kind = "drop_after", match = TICKETS, method = "POST", times = 1 },
          method = "abrir_atendimento", args = { { id_cliente_servico = 12345, descricao = "Sem conexão",
            nome = "Bia", telefone = "81987654321" } } },
        { fault = { kind = "status", status = 503, match = CONFIG, times = 3 },
          method = "configuracao", args = { "tipo_atendimento" } },
      }
      for _, case in ipairs(cases) do
        srv:fault(case.fault)
        local want, want_hooks = blocking(srv, case.config, case.method, case.args)
        srv:fault(case.fault)
        local got = post(ngx1.port, "/run/call", { config = case.config, method = case.method,
          args = case.args, n = #case.args })
        local label = case.fault.kind
        assert.is_table(want.err, label)
        assert.is_true(got.err.is_error, label)
        assert.are.same(untimed(want.err), untimed(got.err), label)
        assert.are.same(hook_view(want_hooks), hook_view(got.hooks), label)
      end
    end)

    it("keeps hubsoft.null in answers with keep_nulls", function()
      local args = { "cpf_cnpj", "12345678901", { apenas_pendente = false } }
      local want = blocking(srv, { keep_nulls = true }, "atendimentos_do_cliente", args)
      local got = post(ngx1.port, "/run/call", { config = { keep_nulls = true },
        method = "atendimentos_do_cliente", args = args })
      assert.are.same(want.r, got.r)
      -- count the nulls the blocking client kept, in this process
      local api = hubsoft.new(util.with(srv:config(), { keep_nulls = true }))
      local r = assert(api:atendimentos_do_cliente(unpack(args)))
      api:close()
      local function nulls(t)
        if t == hubsoft.null then return 1 end
        if type(t) ~= "table" then return 0 end
        local n = 0
        for _, v in pairs(t) do n = n + nulls(v) end
        return n
      end
      assert.is_true(nulls(r) > 0, "the fake answers some nulls")
      assert.are.equal(nulls(r), got.nulls)
    end)

    it("sends hubsoft.null, hubsoft.array{} and hubsoft.object{} as the blocking client does", function()
      local before = #srv:requests(TICKETS)
      post(ngx1.port, "/run/marks")
      local reqs = srv:requests(TICKETS)
      assert.are.equal(before + 1, #reqs)
      local sent = reqs[#reqs].body
      sent = type(sent) == "string" and sent or cjson.encode(sent)
      assert.truthy(sent:find('"lista":[]', 1, true), sent)
      assert.truthy(sent:find('"bloco":{}', 1, true), sent)
      assert.truthy(sent:find('"id_usuario_responsavel":null', 1, true), sent)
    end)

    it("refuses a value that cannot cross to a thread, naming it, with nothing sent", function()
      local before = #srv:requests("/api/")
      local b = post(ngx1.port, "/run/uncrossable")
      assert.is_nil(b.r)
      assert.are.equal("validation", b.err.kind)
      assert.are.equal("opts.json.parametros.f", b.err.field)
      assert.truthy(b.err.message:find("function", 1, true), b.err.message)
      assert.are.equal(0, b.err.attempts)
      assert.are.equal(before, #srv:requests("/api/"))
    end)

    it("attaches files from a path and from a data string", function()
      local path = util.tmpname()
      util.write_file(path, "velocidade: 300 Mbps\n")
      os.execute("chmod 644 " .. util.quote(path))
      local open = post(ngx1.port, "/run/call", { method = "abrir_atendimento", args = { {
        id_cliente_servico = 12345, descricao = "Lento", nome = "Bia", telefone = "81987654321" } } })
      local id = open.r.atendimento.id_atendimento
      local b = post(ngx1.port, "/run/attachments", { id = id, path = path, data = "ping 25 ms\n" })
      os.remove(path)
      assert.is_nil(b.err)
      local reqs = srv:requests(TICKETS .. "/adicionar_anexo/")
      local parts = reqs[#reqs].body.parts
      assert.are.equal(2, #parts)
      assert.are.equal(#"velocidade: 300 Mbps\n", parts[1].size)
      assert.are.equal("log.txt", parts[2].filename)
      assert.are.equal(#"ping 25 ms\n", parts[2].size)
    end)

    it("walks every page, each record once and in order, for every concurrency", function()
      local api = hubsoft.new(srv:config())
      local want = {}
      for at in api:each("todos_atendimentos", { itens_por_pagina = 4 }, { concurrency = 1 }) do
        want[#want + 1] = at.id_atendimento
      end
      api:close()
      assert.is_true(#want > 20)
      for _, n in ipairs { 1, 2, 4, 8 } do
        local b = post(ngx1.port, "/run/each", { method = "todos_atendimentos",
          filtros = { itens_por_pagina = 4 }, iter = { concurrency = n } })
        assert.is_true(b.ok, cjson.encode(b.err))
        assert.are.same(want, b.ids, "concurrency " .. n)
      end
    end)

    it("keeps `concurrency` pages downloading at once", function()
      -- every page answers 0.5 s late: pages 1 to 4 are sent together once page 0 said
      -- where the pages end, not one 0.5 s after the other
      local pages = math.ceil(srv:state().total / 4)
      assert.is_true(pages >= 6)
      srv:fault { kind = "delay", seconds = 0.5, match = TICKETS .. "/todos", times = pages }
      local before = #srv:requests(TICKETS .. "/todos")
      local b = post(ngx1.port, "/run/each", { method = "todos_atendimentos",
        filtros = { itens_por_pagina = 4 }, iter = { concurrency = 4 } })
      assert.is_true(b.ok, cjson.encode(b.err))
      local reqs = srv:requests(TICKETS .. "/todos")
      local times = {}
      for i = before + 2, before + 5 do times[#times + 1] = reqs[i].time end
      table.sort(times)
      assert.is_true(times[4] - times[1] < 0.25, ("pages 1-4 sent over %.2f s"):format(times[4] - times[1]))
    end)

    it("walks every page from an ngx.timer job", function()
      local api = hubsoft.new(srv:config())
      local want = {}
      for at in api:each("todos_atendimentos", { itens_por_pagina = 5 }) do want[#want + 1] = at.id_atendimento end
      api:close()
      local started = post(ngx1.port, "/run/timer_walk", { tag = "t1", method = "todos_atendimentos",
        filtros = { itens_por_pagina = 5 }, iter = { concurrency = 3 } })
      assert.truthy(started.started, cjson.encode(started))
      local result
      assert.is_true(util.wait_until(10, function()
        result = post(ngx1.port, "/run/result", { tag = "t1" })
        return result.done
      end), "the timer job did not finish")
      assert.is_true(result.result.ok, cjson.encode(result.result.err))
      assert.are.same(want, result.result.ids)
    end)

    it("raises an iterator's error as the blocking client's error", function()
      srv:fault { kind = "status", status = 404, match = TICKETS .. "/todos", times = 1 }
      local b = post(ngx1.port, "/run/each", { method = "todos_atendimentos", filtros = { itens_por_pagina = 4 } })
      assert.is_false(b.ok)
      assert.is_true(b.err.is_error)
      assert.are.equal("http", b.err.kind)
      assert.are.equal(404, b.err.status)
    end)

    it("after a break, pages queued behind a busy pool are never sent", function()
      -- pool "one" has a single thread. Page 0 alone (it says where the pages end), then
      -- pages 1 to 4 are added at once and page 5 when page 1 arrives; the loop breaks at
      -- page 1's first record. Page 2 starts as soon as page 1 is done (racing with the
      -- break); pages 3 to 5 wait in the pool's queue behind it.
      srv:fault { kind = "delay", seconds = 0.3, match = TICKETS .. "/todos", times = 6 }
      local before = #srv:requests(TICKETS .. "/todos")
      local b = post(ngx1.port, "/run/each", { opts = { pool = "one" }, method = "todos_atendimentos",
        filtros = { itens_por_pagina = 4 }, iter = { concurrency = 4 }, stop_after = 5, collect = true })
      assert.is_true(b.ok, cjson.encode(b.err))
      assert.are.equal(5, #b.ids)
      socket.sleep(1.5) -- anything still queued would be sent by now
      local reqs = srv:requests(TICKETS .. "/todos")
      local sent = {}
      for i = before + 1, #reqs do sent[#sent + 1] = tonumber(util.parse_query(reqs[i].query).pagina) end
      table.sort(sent)
      assert.are.same({ 0, 1 }, { sent[1], sent[2] })
      assert.is_true(#sent <= 3 and (sent[3] == nil or sent[3] == 2),
        "pages 3 to 5 were queued and must not be sent; sent: " .. table.concat(sent, ","))
      -- (up to 4 delays are left over: no later spec of this server reads /todos)
    end)

    it("a break cancels only its own walk: another client's next walk reads every page", function()
      -- a client that has not walked yet (its own configuration), after the break above
      local b = post(ngx1.port, "/run/each", { config = { keep_nulls = true }, method = "todos_atendimentos",
        filtros = { itens_por_pagina = 4 }, iter = { concurrency = 2 } })
      assert.is_true(b.ok, cjson.encode(b.err))
      assert.are.equal(srv:state().total, #b.ids)
    end)

    it("works in the access phase and names the phase where it cannot wait", function()
      local c = assert(socket.connect("127.0.0.1", ngx1.port))
      c:settimeout(10)
      c:send("GET /phases HTTP/1.0\r\n\r\n")
      local data = c:receive("*a")
      c:close()
      assert.truthy(data:find("\r\n\r\nstatus_atendimento\n", 1, true), data)
      local header = data:match("X%-Hubsoft%-Error: ([^\r\n]*)")
      assert.truthy(header and header:find("not in header_filter", 1, true), data)
    end)

    it("reports a failing hook in the error log without the secrets it quotes, and the call succeeds", function()
      local b = post(ngx1.port, "/run/hook_error")
      assert.is_nil(b.err)
      assert.are.equal("table", type(b.r.status_atendimento))
      local log = ngx1:log()
      assert.truthy(log:find("lua-hubsoft: on_request hook failed: ", 1, true), log)
      assert.truthy(log:find("hook saw *** in ?senha=***", 1, true), log)
      assert.falsy(log:find(srv:config().password, 1, true), "the password reached the log")
    end)

    it("a closed client answers as a closed blocking client does", function()
      local api = hubsoft.new(srv:config())
      api:close()
      local r, err = api:configuracao("status_atendimento")
      local walked, werr = pcall(function() for _ in api:each("todos_atendimentos", {}) do end end)
      local b = post(ngx1.port, "/run/closed")
      assert.is_nil(r)
      assert.is_nil(b.r)
      assert.is_true(b.closed)
      local want = cjson.decode(cjson.encode(util.with(err, { text = tostring(err), is_error = true })))
      assert.are.same(want, b.err)
      assert.are.equal(walked, b.walked)
      assert.are.same(cjson.decode(cjson.encode(util.with(werr, { text = tostring(werr), is_error = true }))),
        b.walk_err)
    end)

    it("lets the collector free a client whose on_request refers to it", function()
      assert.are.same({ alive = 0 }, post(ngx1.port, "/run/self_referring"))
    end)

    it("names the directive to add when the thread_pool or the lua_shared_dict is missing", function()
      local b = post(ngx1.port, "/run/missing", { opts = { pool = "nenhum" } })
      assert.is_false(b.ok)
      assert.truthy(b.message:find("thread_pool nenhum threads=", 1, true), b.message)
      b = post(ngx1.port, "/run/missing", { opts = { shared_dict = "nenhum" } })
      assert.is_false(b.ok)
      assert.truthy(b.message:find("lua_shared_dict nenhum 1m;", 1, true), b.message)
    end)
  end)

  describe("two workers", function()
    local srv, ngx2

    setup(function()
      srv = fake.start { seed_tickets = 0 }
      ngx2 = nginx.start(TEMPLATE, { WORKERS = 2 }, env_for(srv))
    end)

    teardown(function()
      if ngx2 then ngx2:stop() end
      if srv then srv:stop() end
    end)

    local function burst(n)
      local conns = {}
      for i = 1, n do
        conns[i] = send(ngx2.port, "/run/call", { method = "configuracao", args = { "status_atendimento" } })
      end
      for i = 1, n do
        local status, b = receive(conns[i])
        assert.are.equal(200, status)
        assert.is_nil(b.err)
      end
    end

    it("logs in once for every worker and thread, and repairs a revoked token once", function()
      -- a slow login: every call of the burst arrives while it is pending
      srv:fault { kind = "delay", seconds = 0.5, match = "/oauth/token", times = 1 }
      burst(12)
      assert.are.equal(1, srv:stats().logins)
      local function workers_served()
        local pids, n = {}, 0
        for pid in (util.read_file(ngx2.prefix .. "/access.log") or ""):gmatch("pid=(%d+)") do
          if not pids[pid] then pids[pid] = true; n = n + 1 end
        end
        return n
      end
      -- the kernel may hand one burst to one worker: more bursts until both served
      for _ = 1, 5 do
        if workers_served() >= 2 then break end
        burst(12)
      end
      assert.are.equal(2, workers_served(), "both workers served calls")
      assert.are.equal(1, srv:stats().logins)

      srv:revoke()
      srv:fault { kind = "delay", seconds = 0.5, match = "/oauth/token", times = 1 }
      burst(12)
      assert.are.equal(2, srv:stats().logins, "one more login after the 401s")
    end)
  end)
end)
