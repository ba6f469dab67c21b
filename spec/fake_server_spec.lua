-- Specs for the fake HubSoft server itself (lua/hubsoft/fake_server.lua),
-- driven with LuaSocket only, never with the project's client.

local socket = require "socket"
local http = require "socket.http"
local ltn12 = require "ltn12"
local cjson = require "cjson"
local fake = require "spec.support.server"

local API = "/api/v1/integracao"

local srv

-- socket.http request; returns status, decoded JSON (or nil), raw body, headers.
local function call(method, path, opts)
  opts = opts or {}
  local headers = {}
  for k, v in pairs(opts.headers or {}) do headers[k] = v end
  if opts.token then headers["authorization"] = "Bearer " .. opts.token end
  headers["accept"] = headers["accept"] or "application/json"
  local body = opts.raw
  if opts.json ~= nil then
    body = cjson.encode(opts.json)
    headers["content-type"] = "application/json"
  elseif opts.form then
    local parts = {}
    for k, v in pairs(opts.form) do parts[#parts + 1] = k .. "=" .. tostring(v):gsub("[^%w%-_%.~]", function(c)
      return string.format("%%%02X", c:byte())
    end) end
    body = table.concat(parts, "&")
    headers["content-type"] = "application/x-www-form-urlencoded"
  end
  if body then headers["content-length"] = tostring(#body) end
  local chunks = {}
  local ok, code, rh = http.request {
    url = srv.url .. path, method = method, headers = headers,
    source = body and ltn12.source.string(body) or nil,
    sink = ltn12.sink.table(chunks),
  }
  assert(ok, code)
  local text = table.concat(chunks)
  local okj, decoded = pcall(cjson.decode, text)
  return code, okj and decoded or nil, text, rh
end

local function login()
  local c = srv.credentials
  local code, body = call("POST", "/oauth/token", { json = {
    grant_type = "password", client_id = c.client_id, client_secret = c.client_secret,
    username = c.username, password = c.password,
  } })
  assert.equal(200, code)
  return body.access_token
end

-- Raw HTTP/1.1 over one socket, to see exactly what goes over the wire.
local function raw_connect()
  local s = assert(socket.connect("127.0.0.1", srv.port))
  s:settimeout(5)
  return s
end

local function raw_send(s, method, path, headers, body)
  local lines = { method .. " " .. path .. " HTTP/1.1", "Host: 127.0.0.1:" .. srv.port }
  for k, v in pairs(headers or {}) do lines[#lines + 1] = k .. ": " .. v end
  if body then lines[#lines + 1] = "Content-Length: " .. #body end
  assert(s:send(table.concat(lines, "\r\n") .. "\r\n\r\n" .. (body or "")))
end

-- Reads one response: {status, headers, body, err} (err set when cut short).
local function raw_read(s)
  local line, err = s:receive("*l")
  if not line then return { err = err } end
  local r = { status = tonumber(line:match("^HTTP/1%.1 (%d+)")), headers = {} }
  while true do
    local h = assert(s:receive("*l"))
    if h == "" then break end
    local k, v = h:match("^([^:]+):%s*(.*)$")
    r.headers[k:lower()] = v
  end
  local n = tonumber(r.headers["content-length"])
  local body, berr, partial = s:receive(n)
  r.body = body or partial
  r.err = berr
  return r
end

local function raw_exchange(method, path, headers, body)
  local s = raw_connect()
  raw_send(s, method, path, headers, body)
  local r = raw_read(s)
  s:close()
  return r
end

-- cjson decodes numbers as floats on Lua 5.3+: ids go into paths as "%d".
local function id(n) return string.format("%d", n) end

local function new_ticket(token, extra)
  local t = { id_cliente_servico = 12345, descricao = "Sem conexão à internet", nome = "João da Silva", telefone = "81987654321" }
  for k, v in pairs(extra or {}) do t[k] = v end
  local code, body = call("POST", API .. "/atendimento", { token = token, json = t })
  assert.equal(200, code)
  assert.equal("success", body.status)
  return body.atendimento
end

describe("fake HubSoft server", function()
  setup(function() srv = fake.start { seed_tickets = 0 } end)
  teardown(function() if srv then srv:stop() end end)
  before_each(function() srv:reset() end)

  describe("auth", function()
    it("issues a Bearer token for the right credentials (JSON and form bodies)", function()
      local c = srv.credentials
      local creds = { grant_type = "password", client_id = c.client_id, client_secret = c.client_secret, username = c.username, password = c.password }
      local code, body = call("POST", "/oauth/token", { json = creds })
      assert.equal(200, code)
      assert.equal("Bearer", body.token_type)
      assert.equal(2592000, body.expires_in)
      assert.truthy(body.access_token:match("^tok%-%d+%-%x+$"))
      assert.truthy(body.refresh_token:match("^ref%-"))
      local code2, body2 = call("POST", "/oauth/token", { form = creds })
      assert.equal(200, code2)
      assert.not_equal(body.access_token, body2.access_token)
    end)

    it("answers 401 invalid_credentials and 400 invalid_request", function()
      local c = srv.credentials
      local code, body = call("POST", "/oauth/token", { json = {
        grant_type = "password", client_id = c.client_id, client_secret = c.client_secret, username = c.username, password = "errada" } })
      assert.equal(401, code)
      assert.equal("invalid_credentials", body.error)
      assert.equal("The user credentials were incorrect.", body.message)
      code, body = call("POST", "/oauth/token", { json = { grant_type = "password", username = c.username } })
      assert.equal(400, code)
      assert.equal("invalid_request", body.error)
      local st = srv:stats()
      assert.equal(2, st.logins)
      assert.equal(0, st.logins_ok)
    end)

    it("refuses API calls without a valid token", function()
      local code, body = call("GET", API .. "/configuracao/status_atendimento")
      assert.equal(401, code)
      assert.equal("Unauthenticated.", body.message)
      code = call("GET", API .. "/configuracao/status_atendimento", { token = "tok-1-bogus" })
      assert.equal(401, code)
    end)

    it("revoke invalidates issued tokens", function()
      local tok = login()
      assert.equal(200, (call("GET", API .. "/configuracao/tecnico", { token = tok })))
      srv:revoke()
      assert.equal(401, (call("GET", API .. "/configuracao/tecnico", { token = tok })))
      assert.equal(200, (call("GET", API .. "/configuracao/tecnico", { token = login() })))
    end)

    it("config changes the password and expires_in; reset restores them", function()
      srv:set { password = "nova", expires_in = 0 }
      assert.equal("nova", srv.credentials.password)
      local tok = login()
      assert.equal(401, (call("GET", API .. "/configuracao/tecnico", { token = tok })))  -- expired at once
      srv:reset()
      assert.equal("s3nh@-Secreta!", srv.credentials.password)
      assert.equal(200, (call("GET", API .. "/configuracao/tecnico", { token = login() })))
    end)

    it("records requests with lower-cased headers and the Accept flag", function()
      local tok = login()
      call("GET", API .. "/configuracao/tecnico?x=1", { token = tok })
      local recs = srv:requests(API)
      assert.equal(1, #recs)
      assert.equal("GET", recs[1].method)
      assert.equal("x=1", recs[1].query)
      assert.equal("Bearer " .. tok, recs[1].headers.authorization)
      assert.is_true(recs[1].accept_json)
      assert.is_number(recs[1].connection_id)
    end)
  end)

  describe("tickets", function()
    local tok
    before_each(function() tok = login() end)

    it("validates a create like the vendor", function()
      local code, body = call("POST", API .. "/atendimento", { token = tok, json = { id_cliente_servico = 12345, descricao = "x", telefone = "81987654321" } })
      assert.equal(200, code)
      assert.equal("error", body.status)
      assert.equal("Favor preencher os campos obrigatórios de acordo com as especificações", body.msg)
      assert.same({ "O campo nome é obrigatório." }, body.errors)
      code, body = call("POST", API .. "/atendimento", { token = tok, json = { id_cliente_servico = 999, descricao = "x", nome = "n", telefone = "81987654321" } })
      assert.equal(200, code)
      assert.equal("error", body.status)
      assert.same({ "O campo id_cliente_servico selecionado é inválido." }, body.errors)
    end)

    it("a created ticket appears in todos, paginado and cliente/atendimento", function()
      local a = new_ticket(tok)
      assert.equal(20, #a.protocolo)
      assert.equal("Aguardando Análise", a.status)
      assert.equal("BIANCA COUTO ARAÚJO", a.cliente.nome_razaosocial)

      local _, todos = call("GET", API .. "/atendimento/todos", { token = tok })
      assert.equal(1, todos.paginacao.total_registros)
      assert.equal(a.id_atendimento, todos.atendimentos[1].id_atendimento)
      assert.equal("aguardando_analise", todos.atendimentos[1].status.prefixo)
      assert.equal(a.protocolo, todos.atendimentos[1].protocolo)

      local _, pg = call("GET", API .. "/atendimento/paginado/10?data_inicio=2000-01-01&data_fim=2100-12-31&relacoes=cliente_servico", { token = tok })
      assert.equal(1, pg.atendimentos.total)
      assert.equal(a.id_atendimento, pg.atendimentos.data[1].id_atendimento)
      assert.equal(1204, pg.atendimentos.data[1].cliente_servico.cliente.codigo_cliente)

      for _, q in ipairs { "busca=cpf_cnpj&termo_busca=12345678901", "busca=protocolo&termo_busca=" .. a.protocolo,
                           "busca=id_cliente_servico&termo_busca=12345", "busca=codigo_cliente&termo_busca=1204" } do
        local _, cl = call("GET", API .. "/cliente/atendimento?" .. q, { token = tok })
        assert.equal("suscess", cl.status)
        assert.equal(1, #cl.atendimentos, q)
        assert.equal("12345", cl.atendimentos[1].servico.id_cliente_servico)
      end
      local _, bad = call("GET", API .. "/cliente/atendimento?busca=nome&termo_busca=x", { token = tok })
      assert.equal("error", bad.status)
    end)

    it("abrir_os opens a service order; closing closes it; vendor edit rules", function()
      local a = new_ticket(tok, { abrir_os = true, parametros = { { origem_bot = "telegram" } } })
      assert.equal("Pendente", a.status)
      assert.equal("aguardando_agendamento", a.ordens_servico[1].status)
      local path = API .. "/atendimento/" .. id(a.id_atendimento)

      local _, r = call("PUT", path, { token = tok, json = { fechar_atendimento = true, id_atendimento_status = 3 } })
      assert.equal("error", r.status)
      _, r = call("PUT", path, { token = tok, json = { fechar_atendimento = false, id_tipo_atendimento = 150, descricao = "nova" } })
      assert.equal("success", r.status)
      assert.equal(150, r.atendimento.id_tipo_atendimento)
      _, r = call("PUT", path, { token = tok, json = { fechar_atendimento = true, parametros_fechamento = { id_motivo_fechamento = 108, status_fechamento = "concluido" } } })
      assert.equal("success", r.status)
      assert.equal("Atendimento finalizado via API", r.atendimento.descricao_fechamento)
      assert.is_string(r.atendimento.data_fechamento)
      _, r = call("PUT", path, { token = tok, json = { fechar_atendimento = true } })
      assert.equal("error", r.status)
      _, r = call("PUT", API .. "/atendimento/abc", { token = tok, json = { fechar_atendimento = false } })
      assert.equal("error", r.status)

      local st = srv:state().atendimentos[1]
      assert.is_true(st.fechado)
      assert.equal("finalizado", st.ordens_servico[1].status)
      assert.equal("telegram", st.parametros[1].origem_bot)
      local _, cl = call("GET", API .. "/cliente/atendimento?busca=id_cliente_servico&termo_busca=12345", { token = tok })
      assert.equal(0, #cl.atendimentos)   -- apenas_pendente defaults to sim
      _, cl = call("GET", API .. "/cliente/atendimento?busca=id_cliente_servico&termo_busca=12345&apenas_pendente=nao", { token = tok })
      assert.equal(1, #cl.atendimentos)
    end)

    it("adds messages", function()
      local a = new_ticket(tok)
      local _, r = call("POST", API .. "/atendimento/adicionar_mensagem/" .. id(a.id_atendimento), { token = tok, json = { mensagem = "Olá, técnico" } })
      assert.equal("success", r.status)
      assert.equal("Olá, técnico", r.mensagem.mensagem)
      assert.equal("America/Recife", r.mensagem.data_cadastro.timezone)
      _, r = call("POST", API .. "/atendimento/adicionar_mensagem/" .. id(a.id_atendimento), { token = tok, json = { mensagem = "" } })
      assert.equal("error", r.status)
      assert.equal("Olá, técnico", srv:state().atendimentos[1].mensagens[1].mensagem)
    end)

    it("parses binary multipart parts (NUL, CRLF, boundary look-alikes)", function()
      local a = new_ticket(tok)
      local bin = "\0\1\2\r\n--XyZb\r\n\r\n\0" .. string.rep("\255\0\r\n", 100) .. "end"
      local big = string.rep("0123456789abcdef", 200000)  -- 3.2 MB
      local b = "XyZbOUNDARY"
      local body = table.concat {
        "--", b, "\r\n", 'Content-Disposition: form-data; name="files[0]"; filename="a.bin"\r\n',
        "Content-Type: application/octet-stream\r\n\r\n", bin, "\r\n",
        "--", b, "\r\n", 'Content-Disposition: form-data; name="files[1]"; filename="big.txt"\r\n',
        "Content-Type: text/plain\r\n\r\n", big, "\r\n--", b, "--\r\n",
      }
      local _, r = call("POST", API .. "/atendimento/adicionar_anexo/" .. id(a.id_atendimento), { token = tok, raw = body,
        headers = { ["content-type"] = "multipart/form-data; boundary=" .. b } })
      assert.equal("success", r.status)
      assert.equal("Anexo Adicionado com sucesso", r.msg)
      assert.same({ campo = "files[0]", nome = "a.bin", tipo = "application/octet-stream", tamanho = #bin }, r.anexos[1])
      assert.equal(#big, r.anexos[2].tamanho)
      local anexos = srv:state().atendimentos[1].anexos
      assert.equal((bin:gsub(".", function(c) return string.format("%02x", c:byte()) end)), anexos[1].data_hex)
      assert.equal(cjson.null, anexos[2].data_hex)   -- only files <= 64 KiB keep their bytes
      assert.equal(#big .. ":30313233343536373839616263646566:30313233343536373839616263646566", anexos[2].checksum)
      local rec = srv:requests(API .. "/atendimento/adicionar_anexo")[1]
      assert.is_true(rec.body.multipart)
      assert.equal("big.txt", rec.body.parts[2].filename)
      _, r = call("POST", API .. "/atendimento/adicionar_anexo/" .. id(a.id_atendimento), { token = tok, json = {} })
      assert.equal("error", r.status)
    end)

    it("configuracao lists and 404s", function()
      local _, r = call("GET", API .. "/configuracao/status_atendimento", { token = tok })
      local found
      for _, s in ipairs(r.status_atendimento) do if s.id_atendimento_status == 23 then found = s end end
      assert.equal("Aguardando Análise", found.descricao)
      _, r = call("GET", API .. "/configuracao/tecnico", { token = tok })
      assert.is_string(r.tecnicos[1].name)
      _, r = call("GET", API .. "/configuracao/motivo_fechamento_atendimento", { token = tok })
      assert.truthy(#r.motivos_fechamento > 0)
      assert.equal(404, (call("GET", API .. "/configuracao/nada", { token = tok })))
      local code, body = call("GET", "/nada/aqui", { token = tok })
      assert.equal(404, code)
      assert.equal("Not Found", body.message)
    end)
  end)

  describe("pagination", function()
    local tok
    before_each(function()
      srv:seed { tickets = 45, data_inicio = "2025-09-01", data_fim = "2025-09-30" }
      tok = login()
    end)

    it("todos: pages from 0, ids ascending, totals right", function()
      local seen, last_id = {}, 0
      for p = 0, 2 do
        local _, r = call("GET", API .. "/atendimento/todos?itens_por_pagina=20&data_inicio=2025-09-01&data_fim=2025-09-30&pagina=" .. p, { token = tok })
        assert.same({ primeira_pagina = 0, ultima_pagina = 2, pagina_atual = p, total_registros = 45 }, r.paginacao)
        assert.equal(p == 2 and 5 or 20, #r.atendimentos)
        for _, a in ipairs(r.atendimentos) do
          assert.truthy(a.id_atendimento > last_id)
          last_id = a.id_atendimento
          seen[#seen + 1] = a.id_atendimento
          assert.equal("2025-09", a.data_cadastro:sub(1, 7))
        end
      end
      assert.equal(45, #seen)
      local _, r = call("GET", API .. "/atendimento/todos?data_inicio=2025-09-10&data_fim=2025-09-10", { token = tok })
      assert.truthy(r.paginacao.total_registros > 0 and r.paginacao.total_registros < 45)
      local _, _, text = call("GET", API .. "/atendimento/todos?data_inicio=2024-01-01&data_fim=2024-01-31", { token = tok })
      assert.truthy(text:find('"atendimentos":[]', 1, true))
      assert.truthy(text:find('"ultima_pagina":0', 1, true))
    end)

    it("paginado: Laravel paginator from page 1, next_page_url on another host", function()
      local total = 0
      for p = 1, 3 do
        -- as the vendor's server: the page only from ?page=N; `pagina` is ignored
        local _, r = call("POST", API .. "/atendimento/paginado/20?page=" .. p, { token = tok,
          json = { pagina = 3 - p, data_inicio = "2025-09-01", data_fim = "2025-09-30" } })
        local a = r.atendimentos
        assert.equal(p, a.current_page)
        assert.equal(3, a.last_page)
        assert.equal(45, a.total)
        assert.equal(20, a.per_page)
        assert.equal((p - 1) * 20 + 1, a.from)
        total = total + #a.data
        if p < 3 then
          assert.truthy(a.next_page_url:find("^http://outro%-host%.invalid/"))
        else
          assert.equal(cjson.null, a.next_page_url)
          assert.equal(45, a.to)
        end
      end
      assert.equal(45, total)
      local _, r = call("GET", API .. "/atendimento/paginado/20?pagina=2&data_inicio=2025-09-01&data_fim=2025-09-30&status_atendimento=23", { token = tok })
      assert.equal(1, r.atendimentos.current_page) -- pagina=2 is not read
      assert.equal(18, r.atendimentos.total)   -- i % 5 in {1, 4}
      _, r = call("GET", API .. "/atendimento/paginado/20?page=0&data_inicio=2025-09-01&data_fim=2025-09-30", { token = tok })
      assert.equal(1, r.atendimentos.current_page) -- Laravel reads a page below 1 as 1
      local _, _, text = call("GET", API .. "/atendimento/paginado/20?data_inicio=2024-01-01&data_fim=2024-01-02", { token = tok })
      assert.truthy(text:find('"data":[]', 1, true))
      _, r = call("GET", API .. "/atendimento/paginado/501?data_inicio=2025-09-01&data_fim=2025-09-30", { token = tok })
      assert.equal("error", r.status)
    end)
  end)

  describe("HTTP behaviour", function()
    it("keeps a connection alive across requests and counts connections", function()
      local tok = login()
      local s = raw_connect()
      for _ = 1, 3 do
        raw_send(s, "GET", API .. "/configuracao/tecnico", { Authorization = "Bearer " .. tok })
        local r = raw_read(s)
        assert.equal(200, r.status)
        assert.equal("keep-alive", r.headers.connection)
      end
      s:close()
      local recs = srv:requests(API)
      assert.equal(3, #recs)
      assert.equal(recs[1].connection_id, recs[3].connection_id)
      local st = srv:stats()
      assert.equal(2, st.connections)   -- the login's and the raw one
      assert.equal(4, st.requests)
      assert.equal(1, st.logins_ok)
    end)

    it("answers Expect: 100-continue and reads chunked bodies", function()
      local s = raw_connect()
      local c = srv.credentials
      local json = cjson.encode { grant_type = "password", client_id = c.client_id, client_secret = c.client_secret, username = c.username, password = c.password }
      assert(s:send("POST /oauth/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n"))
      assert.equal("HTTP/1.1 100 Continue", s:receive("*l"))
      assert.equal("", s:receive("*l"))
      local half = math.floor(#json / 2)
      assert(s:send(string.format("%x\r\n%s\r\n%x\r\n%s\r\n0\r\n\r\n", half, json:sub(1, half), #json - half, json:sub(half + 1))))
      local r = raw_read(s)
      s:close()
      assert.equal(200, r.status)
      assert.truthy(cjson.decode(r.body).access_token)
    end)

    it("survives malformed requests", function()
      local s = raw_connect()
      assert(s:send("THIS IS NOT HTTP\r\n\r\n"))
      assert.equal(400, raw_read(s).status)
      s:close()
      s = raw_connect()
      assert(s:send("POST /oauth/token HTTP/1.1\r\nContent-Length: abc\r\n\r\n"))
      assert.equal(400, raw_read(s).status)
      s:close()
      s = raw_connect()
      assert(s:send("GET /x HTTP/1.1\r\nHost"))
      s:close()
      assert.is_number(srv:stats().requests)
    end)

    it("honours Connection: close", function()
      local s = raw_connect()
      raw_send(s, "GET", "/nada", { Connection = "close" })
      local r = raw_read(s)
      assert.equal(404, r.status)
      assert.equal("close", r.headers.connection)
      assert.equal("closed", select(2, s:receive(1)))
      s:close()
    end)
  end)

  describe("faults", function()
    local tok
    local cfg = API .. "/configuracao/tipo_atendimento"
    before_each(function() tok = login() end)
    local function auth() return { Authorization = "Bearer " .. tok } end

    it("status with headers, for the matching method only, `times` times", function()
      srv:fault { kind = "status", status = 503, match = cfg, method = "GET", times = 2, body = "fora", content_type = "text/plain", headers = { ["Retry-After"] = "1" } }
      assert.equal(1, #srv:faults())
      for _ = 1, 2 do
        local r = raw_exchange("GET", cfg, auth())
        assert.equal(503, r.status)
        assert.equal("1", r.headers["retry-after"])
        assert.equal("fora", r.body)
      end
      assert.equal(200, raw_exchange("GET", cfg, auth()).status)
      assert.equal(0, #srv:faults())
      srv:fault { kind = "status", status = 503, match = cfg, method = "POST" }
      assert.equal(200, raw_exchange("GET", cfg, auth()).status)
    end)

    it("html500, html502, error, body, stack, big", function()
      srv:fault { kind = "html500", match = cfg }
      local r = raw_exchange("GET", cfg, auth())
      assert.equal(500, r.status)
      assert.truthy(r.body:find("<h1>500 Internal Server Error</h1>", 1, true))
      srv:fault { kind = "html502", match = cfg }
      r = raw_exchange("GET", cfg, auth())
      assert.equal(502, r.status)
      assert.truthy(r.headers["content-type"]:find("text/html"))
      srv:fault { kind = "error", match = cfg }
      r = raw_exchange("GET", cfg, auth())
      assert.equal(200, r.status)
      assert.same({ status = "error", msg = "Erro simulado", errors = { "Falha simulada." } }, cjson.decode(r.body))
      srv:fault { kind = "body", match = cfg, body = "{\"status\":\"ok\"", status = 200 }
      assert.equal("{\"status\":\"ok\"", raw_exchange("GET", cfg, auth()).body)
      srv:fault { kind = "stack", match = cfg }
      r = raw_exchange("GET", cfg, auth())
      assert.equal(500, r.status)
      local j = cjson.decode(r.body)
      assert.equal("/var/www/app/Http/Controller.php", j.file)
      assert.equal(42, j.line)
      assert.is_table(j.trace)
      srv:fault { kind = "big", match = cfg, bytes = 2000000 }
      r = raw_exchange("GET", cfg, auth())
      assert.truthy(math.abs(#r.body - 2000000) < 2048)
      assert.equal("success", cjson.decode(r.body).status)
    end)

    it("truncate sends half the body under the full Content-Length and closes", function()
      srv:fault { kind = "truncate", match = cfg }
      local r = raw_exchange("GET", cfg, auth())
      assert.equal(200, r.status)
      assert.equal("closed", r.err)
      assert.equal(math.floor(tonumber(r.headers["content-length"]) / 2), #r.body)
    end)

    it("truncate_json sends a complete response whose JSON is cut", function()
      srv:fault { kind = "truncate_json", match = cfg }
      local r = raw_exchange("GET", cfg, auth())
      assert.equal(200, r.status)
      assert.is_nil(r.err)
      assert.equal(tonumber(r.headers["content-length"]), #r.body)
      assert.is_false(pcall(cjson.decode, r.body))
    end)

    it("drop_before closes without running the route; drop_after runs it", function()
      local t = { id_cliente_servico = 12345, descricao = "d", nome = "n", telefone = "81987654321" }
      local h = auth()
      h["Content-Type"] = "application/json"
      srv:fault { kind = "drop_before", match = API .. "/atendimento$", method = "POST" }
      local r = raw_exchange("POST", API .. "/atendimento", h, cjson.encode(t))
      assert.equal("closed", r.err)
      assert.equal(0, srv:state().total)
      srv:fault { kind = "drop_after", match = API .. "/atendimento$", method = "POST" }
      r = raw_exchange("POST", API .. "/atendimento", h, cjson.encode(t))
      assert.equal("closed", r.err)
      assert.equal(1, srv:state().total)
      local recs = srv:requests(API .. "/atendimento")
      assert.equal("drop_before", recs[1].fault)
      assert.equal("drop_after", recs[2].fault)
    end)

    it("delay holds one answer without blocking other connections", function()
      srv:fault { kind = "delay", match = cfg, seconds = 0.4 }
      local t0 = socket.gettime()
      local slow = raw_connect()
      raw_send(slow, "GET", cfg, auth())
      local r = raw_exchange("GET", API .. "/configuracao/tecnico", auth())
      local fast = socket.gettime() - t0
      assert.equal(200, r.status)
      assert.truthy(fast < 0.3, "other connection waited " .. fast)
      local r2 = raw_read(slow)
      slow:close()
      assert.equal(200, r2.status)
      assert.truthy(socket.gettime() - t0 >= 0.39)
    end)

    it("slow_body sends headers first and the rest later", function()
      srv:fault { kind = "slow_body", match = cfg, seconds = 0.3 }
      local s = raw_connect()
      local t0 = socket.gettime()
      raw_send(s, "GET", cfg, auth())
      assert.truthy(s:receive("*l"):find("200"))
      local t_head = socket.gettime() - t0
      s:settimeout(5)
      local r = { headers = {} }
      while true do
        local h = s:receive("*l")
        if h == "" then break end
        local k, v = h:match("^([^:]+):%s*(.*)$")
        r.headers[k:lower()] = v
      end
      local body = s:receive(tonumber(r.headers["content-length"]))
      s:close()
      assert.truthy(t_head < 0.25)
      assert.truthy(socket.gettime() - t0 >= 0.29)
      assert.truthy(cjson.decode(body).tipos_atendimento)
    end)

    it("revoke answers 401 and invalidates the token", function()
      srv:fault { kind = "revoke", match = cfg }
      assert.equal(401, raw_exchange("GET", cfg, auth()).status)
      assert.equal(401, raw_exchange("GET", API .. "/configuracao/tecnico", auth()).status)
    end)

    it("matches Lua patterns and rejects unknown kinds", function()
      srv:fault { kind = "error", match = "/configuracao/t%a+$" }
      assert.equal("error", cjson.decode(raw_exchange("GET", API .. "/configuracao/tecnico", auth()).body).status)
      local code = srv:http("POST", "/__control/fault", { kind = "nope" })
      assert.equal(400, code)
    end)
  end)
end)
