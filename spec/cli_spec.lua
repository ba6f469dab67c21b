-- The `hubsoft` command (bin/hubsoft), run as a child process with the
-- suite's interpreter against the fake server, as an operator runs it.

local cjson = require "cjson"
local fake = require "spec.support.server"
local util = require "spec.support.util"
local csv = require "spec.support.csv"

local BIN = "bin/hubsoft"

-- Runs `LUA bin/hubsoft args...` with exactly the HUBSOFT_* variables of env
-- (the caller's are cleared); returns status, stdout, stderr.
local function hubsoft(args, env)
  local e = {
    HUBSOFT_BASE_URL = "", HUBSOFT_CLIENT_ID = "", HUBSOFT_CLIENT_SECRET = "",
    HUBSOFT_USERNAME = "", HUBSOFT_PASSWORD = "",
  }
  for k, v in pairs(env or {}) do e[k] = v end
  return util.run_lua(BIN, args, e)
end

-- "K='v' K2='v2'" for `env` on a shell command line
local function env_words(e)
  local words = {}
  for k, v in pairs(e) do words[#words + 1] = k .. "=" .. util.quote(v) end
  return table.concat(words, " ")
end

local function lines(s)
  local out = {}
  for l in s:gmatch("([^\n]*)\n") do out[#out + 1] = l end
  return out
end

local function decode_lines(s)
  local out = {}
  for i, l in ipairs(lines(s)) do
    local ok, v = pcall(cjson.decode, l)
    assert(ok, "line " .. i .. " is not JSON: " .. l)
    out[i] = v
  end
  return out
end

describe("hubsoft help", function()
  it("lists every endpoint row with its class, and the paginated ones as exportable", function()
    local status, out = hubsoft { "help" }
    assert.equals(0, status)
    local ok, hs = pcall(require, "hubsoft")
    assert(ok, hs)
    for _, row in ipairs(require("hubsoft.endpoints").rows) do
      local line = out:match("\n  " .. row.name .. " +[^\n]*")
      assert.is_not_nil(line, row.name .. " missing from help")
      assert.matches(row.method .. " +" .. row.path:gsub("%p", "%%%0"), line)
      assert.matches(row.retry == "read" and "%(read" or "%(write", line)
    end
    assert.matches("todos_atendimentos [^\n]*%(read, export%)", out)
    assert.matches("abrir_atendimento [^\n]*%(write%)\n", out)
  end)

  it("describes one method's parameters from its rules", function()
    local status, out = hubsoft { "help", "atendimentos_do_cliente" }
    assert.equals(0, status)
    assert.matches("GET /api/v1/integracao/cliente/atendimento", out, 1, true)
    assert.matches("class: read", out, 1, true)
    assert.matches("paginated: no", out, 1, true)
    assert.matches("--busca  (required)\n        must be one of: codigo_cliente, cpf_cnpj", out, 1, true)
    assert.matches("--limit\n        must be an integer from 1 to 50", out, 1, true)
    status, out = hubsoft { "help", "fechar_atendimento" }
    assert.equals(0, status)
    assert.matches("class: write", out, 1, true)
    assert.matches("--fechar_atendimento  (always true (set by the method))", out, 1, true)
  end)

  it("states the rules across parameters, so a call with none of them is not a surprise", function()
    local status, out = hubsoft { "help", "notificar_ligacao" }
    assert.equals(0, status)
    assert.matches("\n  across parameters:\n    ramal: is required when identificador_interno is absent "
      .. "(give ramal or identificador_interno)\n", out, 1, true)
    status, out = hubsoft { "help", "reagendar_ordem_servico" }
    assert.equals(0, status)
    assert.matches("\n    id_usuario_novo: is required when id_usuario_antigo is given (send both or neither)\n",
      out, 1, true)
    status, out = hubsoft { "help", "adicionar_mensagem" }
    assert.equals(0, status)
    assert.is_nil(out:find("across parameters", 1, true))
  end)

  it("brackets in the usage line every parameter the call can go without, positional ones too", function()
    local status, out = hubsoft { "help", "configuracao" }
    assert.equals(0, status)
    assert.matches("usage: hubsoft configuracao --recurso V [--filtros V]\n", out, 1, true)
    status, out = hubsoft { "help", "desbloqueio_confianca" }
    assert.equals(0, status)
    assert.matches("usage: hubsoft desbloqueio_confianca --id_cliente_servico V [--dias_desbloqueio V]\n", out, 1, true)
    status, out = hubsoft { "help", "adicionar_mensagem" }
    assert.equals(0, status)
    assert.matches("usage: hubsoft adicionar_mensagem --id_atendimento V --mensagem V\n", out, 1, true)
  end)

  it("shows a row added to the endpoint table, with no other change", function()
    -- a new row, written the way endpoints.lua writes them, appended at run time
    local script = util.tmpname()
    util.write_file(script, [[
      local V = require "hubsoft.validate"
      table.insert(require("hubsoft.endpoints").rows, {
        name = "consultar_planos", method = "GET", path = "/api/v1/integracao/plano/todos",
        body = "query", retry = "read", options = "filtros",
        paging = { records = "planos", page = "pagina" },
        params = {
          { "pagina", rules = { V.integer(0) } },
          { "id_plano", required = true, rules = { V.id } },
        },
      })
      local main = require "hubsoft.cli.main"
      io.write("--list--\n"); main.run { "help" }
      io.write("--one--\n"); os.exit(main.run { "help", "consultar_planos" })
    ]])
    local status, out, err = util.run_lua(script)
    os.remove(script)
    assert.equals(0, status, err)
    assert.matches("\n  consultar_planos +GET +/api/v1/integracao/plano/todos +%(read, export%)", out)
    assert.matches("--one--\nconsultar_planos: GET /api/v1/integracao/plano/todos", out, 1, true)
    assert.matches("paginated: yes", out, 1, true)
    assert.matches("--id_plano  (required)\n        must be a positive integer id", out, 1, true)
  end)

  it("matches the README's session", function()
    local readme = util.read_file("README.md")
    local shown = readme:match("\n%$ hubsoft help adicionar_anexos\n(.-\n)\n")
    assert.is_not_nil(shown)
    local status, out = hubsoft { "help", "adicionar_anexos" }
    assert.equals(0, status)
    assert.equals(shown, out)
  end)

  it("refuses an unknown method and prints usage without arguments (status 2)", function()
    local status, _, err = hubsoft { "help", "nao_existe" }
    assert.equals(2, status)
    assert.matches("hubsoft: unknown method nao_existe", err, 1, true)
    status, _, err = hubsoft {}
    assert.equals(2, status)
    assert.matches("Usage:", err, 1, true)
  end)
end)

describe("hubsoft METODO", function()
  local srv, cache

  setup(function() srv = fake.start { seed_tickets = 30 } end)
  teardown(function() srv:stop() end)
  before_each(function()
    srv:reset()
    cache = util.tmpdir()
  end)
  after_each(function() util.rm_tmpdir(cache) end)

  local function env(extra)
    local c = srv:config()
    local e = {
      HUBSOFT_BASE_URL = c.base_url, HUBSOFT_CLIENT_ID = c.client_id, HUBSOFT_CLIENT_SECRET = c.client_secret,
      HUBSOFT_USERNAME = c.username, HUBSOFT_PASSWORD = c.password, XDG_CACHE_HOME = cache,
    }
    for k, v in pairs(extra or {}) do e[k] = v end
    return e
  end

  it("prints the response as JSON on stdout and exits 0", function()
    local status, out, err = hubsoft({ "configuracao", "--recurso", "status_atendimento" }, env())
    assert.equals(0, status, err)
    assert.equals("", err)
    local r = decode_lines(out)
    assert.equals(1, #r)
    assert.equals("success", r[1].status)
    assert.is_true(#r[1].status_atendimento > 0)
  end)

  it("takes positional parameters by name or in order, numbers as numbers", function()
    local status, out, err = hubsoft({ "adicionar_mensagem", "--id_atendimento", "5003",
                                       "--mensagem", "Cliente pediu retorno às 15h" }, env())
    assert.equals(0, status, err)
    assert.equals("success", decode_lines(out)[1].status)
    status, out, err = hubsoft({ "adicionar_mensagem", "5004", "Segunda mensagem" }, env())
    assert.equals(0, status, err)
    assert.equals("Segunda mensagem", decode_lines(out)[1].mensagem.mensagem)
    local reqs = srv:requests("/api/v1/integracao/atendimento/adicionar_mensagem/")
    assert.equals(2, #reqs)
    assert.equals("/api/v1/integracao/atendimento/adicionar_mensagem/5003", reqs[1].path)
    assert.same({ mensagem = "Cliente pediu retorno às 15h" }, cjson.decode(reqs[1].body))
    assert.equals("/api/v1/integracao/atendimento/adicionar_mensagem/5004", reqs[2].path)
  end)

  it("reads JSON values, keeps digit strings with a leading zero, and makes a repeated parameter a list", function()
    local dir = util.tmpdir()
    util.write_file(dir .. "/a.txt", "primeiro anexo")
    util.write_file(dir .. "/b.txt", "segundo anexo")
    local status, _, err = hubsoft({ "adicionar_anexos", "--id_atendimento", "5002",
                                     "--arquivos", dir .. "/a.txt", "--arquivos", dir .. "/b.txt" }, env())
    assert.equals(0, status, err)
    local req = srv:requests("/api/v1/integracao/atendimento/adicionar_anexo/5002")[1]
    assert.equals("files[0]", req.body.parts[1].name)
    assert.equals("a.txt", req.body.parts[1].filename)
    assert.equals("files[1]", req.body.parts[2].name)
    assert.equals("b.txt", req.body.parts[2].filename)

    status, _, err = hubsoft({ "abrir_atendimento", "--id_cliente_servico", "17812", "--nome", "Maria",
      "--telefone", "081987654321", "--descricao", "Sem sinal", "--abrir_os", "true",
      "--parametros", '{"origem":"cli","prioridade":2}' }, env())
    -- 12 digits is not a phone: refused before sending, the value kept as typed
    assert.equals(2, status)
    assert.matches("telefone: must be 10 or 11 digits", err, 1, true)
    status, _, err = hubsoft({ "abrir_atendimento", "--id_cliente_servico", "17812", "--nome", "Maria",
      "--telefone", "81987654321", "--descricao", "Sem sinal", "--abrir_os", "true",
      "--parametros", '{"origem":"cli","prioridade":2}' }, env())
    assert.equals(0, status, err)
    local sent
    for _, r in ipairs(srv:requests("/api/v1/integracao/atendimento")) do
      if r.path == "/api/v1/integracao/atendimento" then sent = r end
    end
    local body = cjson.decode(sent.body)
    assert.equals(17812, body.id_cliente_servico)
    assert.equals("81987654321", body.telefone)
    assert.equals(true, body.abrir_os)
    assert.same({ { origem = "cli", prioridade = 2 } }, body.parametros)
    util.rm_tmpdir(dir)
  end)

  it("sends text that only starts with a bracket as text where text is what the parameter takes", function()
    local status, _, err = hubsoft({ "adicionar_mensagem", "5004", "[URGENTE] cliente sem sinal" }, env())
    assert.equals(0, status, err)
    local req = srv:requests("/api/v1/integracao/atendimento/adicionar_mensagem/5004")[1]
    assert.equals("[URGENTE] cliente sem sinal", cjson.decode(req.body).mensagem)
    status, _, err = hubsoft({ "consultar_clientes", "nome_razaosocial", "{ACME} Telecom" }, env())
    assert.equals(0, status, err)
    assert.matches("termo_busca=%%7BACME%%7D", srv:requests("/api/v1/integracao/cliente")[1].query)
    -- a block that needs JSON still says its JSON is broken
    status, _, err = hubsoft({ "notificar_ligacao", "--ramal", "1001", "--ligacao_params", "{fila: suporte}" }, env())
    assert.equals(2, status)
    assert.matches("--ligacao_params: the value starts with { but is not valid JSON", err, 1, true)
  end)

  it("takes one attachment given as a JSON object as a list of that one file, like a path", function()
    local status, _, err = hubsoft({ "adicionar_anexos", "5003", "--arquivos",
      '{"data":"conteúdo do anexo","filename":"relato.txt","content_type":"text/plain"}' }, env())
    assert.equals(0, status, err)
    local req = srv:requests("/api/v1/integracao/atendimento/adicionar_anexo/5003")[1]
    assert.equals(1, #req.body.parts)
    assert.equals("files[0]", req.body.parts[1].name)
    assert.equals("relato.txt", req.body.parts[1].filename)
    assert.equals(#"conteúdo do anexo", req.body.parts[1].size)
  end)

  describe("exit status", function()
    it("is 1 for an API error (status error)", function()
      srv:fault { kind = "error", match = "/api/" }
      local status, out, err = hubsoft({ "configuracao", "status_atendimento" }, env())
      assert.equals(1, status)
      assert.equals("", out)
      assert.matches("^hubsoft: [^\n]*api error", err)
    end)

    it("is 1 for an HTTP error without an API body", function()
      srv:fault { kind = "html502", match = "/api/", times = 5 }
      local status, _, err = hubsoft({ "configuracao", "status_atendimento" }, util.with(env(), {}))
      assert.equals(1, status)
      assert.matches("^hubsoft: [^\n]*http error", err)
    end)

    it("is 1 for a response that is not JSON", function()
      srv:fault { kind = "body", body = "<html>oops</html>", content_type = "application/json", match = "/api/" }
      local status, _, err = hubsoft({ "configuracao", "status_atendimento" }, env())
      assert.equals(1, status)
      assert.matches("^hubsoft: [^\n]*decode error", err)
    end)

    it("is 2 for a validation error, with nothing sent", function()
      local status, _, err = hubsoft({ "editar_atendimento", "--id_atendimento", "12a",
                                       "--descricao", "x" }, env())
      assert.equals(2, status)
      assert.matches("^hubsoft: [^\n]*id_atendimento: must be a positive integer id", err)
      assert.same({}, srv:requests("/"))
    end)

    it("is 2 for a usage error: unknown method, unknown parameter, bad JSON", function()
      local status, _, err = hubsoft({ "abrir_chamado" }, env())
      assert.equals(2, status)
      assert.matches("unknown method abrir_chamado", err, 1, true)
      status, _, err = hubsoft({ "configuracao", "--recurso", "x", "--filtro", "1" }, env())
      assert.equals(2, status)
      assert.matches("--filtro: unknown parameter for configuracao (allowed: recurso, filtros)", err, 1, true)
      status, _, err = hubsoft({ "editar_atendimento", "5001", "--parametros", "{nope" }, env())
      assert.equals(2, status)
      assert.matches("--parametros: the value starts with { but is not valid JSON", err, 1, true)
      assert.same({}, srv:requests("/"))
    end)

    it("is 2 without a configured server", function()
      local status, _, err = hubsoft({ "configuracao", "status_atendimento" }, { XDG_CACHE_HOME = cache })
      assert.equals(2, status)
      assert.matches("HUBSOFT_BASE_URL", err, 1, true)
    end)

    it("is 3 when the login is refused", function()
      local status, _, err = hubsoft({ "configuracao", "status_atendimento" },
                                     env { HUBSOFT_PASSWORD = "senha-errada" })
      assert.equals(3, status)
      assert.matches("^hubsoft: [^\n]*auth error", err)
      assert.not_matches("senha%-errada", err)
    end)

    it("is 4 when the server cannot be reached", function()
      local status, _, err = hubsoft({ "configuracao", "status_atendimento" },
                                     env { HUBSOFT_BASE_URL = "http://127.0.0.1:" .. util.free_port() })
      assert.equals(4, status)
      assert.matches("^hubsoft: [^\n]*network error", err)
    end)

    it("is 4 when the answer does not come in time", function()
      local cfg = util.tmpname()
      util.write_file(cfg, cjson.encode { timeout = 1, retries = 0 })
      srv:fault { kind = "delay", seconds = 3, match = "/api/" }
      local status, _, err = hubsoft({ "--config", cfg, "configuracao", "status_atendimento" }, env())
      os.remove(cfg)
      assert.equals(4, status)
      assert.matches("^hubsoft: [^\n]*timeout", err)
    end)

    it("is 4 when TLS fails (a certificate nobody vouches for)", function()
      if not util.command_exists("openssl") then pending("openssl is not installed") return end
      local dir, port = util.tmpdir(), util.free_port()
      assert.is_true(util.sh("cd " .. util.quote(dir) .. " && openssl req -x509 -newkey ec"
        .. " -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout k.pem -out c.pem -days 1"
        .. " -subj /CN=localhost >/dev/null 2>&1"))
      local p = assert(io.popen("openssl s_server -accept 127.0.0.1:" .. port .. " -cert " .. dir
        .. "/c.pem -key " .. dir .. "/k.pem -www -quiet </dev/null >/dev/null 2>&1 & echo $!"))
      local pid = tonumber(p:read("*l"))
      p:close()
      assert.is_true(util.wait_until(5, function() return util.accepts(port) end))
      local status, _, err = hubsoft({ "configuracao", "status_atendimento" },
                                     env { HUBSOFT_BASE_URL = "https://127.0.0.1:" .. port })
      util.sh("kill " .. pid)
      util.rm_tmpdir(dir)
      assert.equals(4, status)
      assert.matches("^hubsoft: [^\n]*tls error", err)
    end)

    it("is 130 on Ctrl-C, and an interrupted write says it may already be done", function()
      -- the server holds its answer; Ctrl-C while the command waits for it
      srv:fault { kind = "delay", seconds = 1, match = "/api/v1/integracao/atendimento", method = "POST" }
      local errf = util.tmpname()
      local p = assert(io.popen("env " .. env_words(env()) .. " " .. util.LUA .. " " .. BIN
        .. " abrir_atendimento --id_cliente_servico 17812 --nome Maria --telefone 81987654321"
        .. " --descricao 'Sem sinal' 2>" .. util.quote(errf) .. " & pid=$!; echo $pid; wait $pid; echo $?"))
      local pid = tonumber(p:read("*l"))
      assert.is_true(util.wait_until(10, function()
        return #srv:requests("/api/v1/integracao/atendimento") >= 1
      end))
      util.sh("kill -INT " .. pid)
      local out = p:read("*a")
      p:close()
      local err = util.read_file(errf)
      os.remove(errf)
      assert.equals("130", out:match("(%d+)%s*$"), err)
      assert.matches("^hubsoft: interrupted; abrir_atendimento may already be done at the server: "
        .. "check before sending it again\n$", err)
      assert.equals(30 + 1, #srv:state().atendimentos) -- it was done: the 30 seeded and this one
    end)
  end)

  describe("configuration", function()
    it("takes hubsoft.new's keys from --config, the rest from the environment", function()
      local cfg = util.tmpname()
      util.write_file(cfg, cjson.encode { base_url = srv.url, password = srv.credentials.password })
      local e = env()
      e.HUBSOFT_BASE_URL, e.HUBSOFT_PASSWORD = "http://127.0.0.1:1", ""
      local status, _, err = hubsoft({ "--config", cfg, "configuracao", "disponibilidade" }, e)
      assert.equals(0, status, err)
      util.write_file(cfg, "{not json")
      status, _, err = hubsoft({ "--config", cfg, "configuracao", "disponibilidade" }, e)
      assert.equals(2, status)
      assert.matches("not a JSON object", err, 1, true)
      util.write_file(cfg, cjson.encode { base_url = srv.url, colour = "blue" })
      status, _, err = hubsoft({ "--config", cfg, "configuracao", "disponibilidade" }, e)
      assert.equals(2, status)
      assert.matches("colour", err, 1, true)
      os.remove(cfg)
    end)

    it("keeps the token in a 0600 file under XDG_CACHE_HOME, so repeated commands log in once", function()
      for _ = 1, 3 do
        local status, _, err = hubsoft({ "configuracao", "status_atendimento" }, env())
        assert.equals(0, status, err)
      end
      assert.equals(1, srv:stats().logins)
      local files = util.capture("ls " .. util.quote(cache .. "/hubsoft"))
      assert.matches("^token%-%x+%.json$", files)
      local path = cache .. "/hubsoft/" .. files
      assert.equals("600", util.capture("stat -c %a " .. util.quote(path)))
      assert.equals("700", util.capture("stat -c %a " .. util.quote(cache .. "/hubsoft")))
    end)

    it("falls back to ~/.cache and to HUBSOFT_TOKEN_FILE when given", function()
      local e = env { HOME = cache, XDG_CACHE_HOME = "" }
      assert.equals(0, (hubsoft({ "configuracao", "status_atendimento" }, e)))
      assert.matches("^token%-%x+%.json$", util.capture("ls " .. util.quote(cache .. "/.cache/hubsoft")))
      local file = cache .. "/mine.json"
      assert.equals(0, (hubsoft({ "configuracao", "status_atendimento" }, env { HUBSOFT_TOKEN_FILE = file })))
      assert.equals(0, (hubsoft({ "configuracao", "status_atendimento" }, env { HUBSOFT_TOKEN_FILE = file })))
      assert.is_true(util.exists(file))
      assert.equals(2, srv:stats().logins) -- one per token file
    end)

    it("never prints a secret, not even with --verbose", function()
      local status, out, err = hubsoft({ "--verbose", "configuracao", "status_atendimento" }, env())
      assert.equals(0, status, err)
      assert.matches("hubsoft: config [^\n]*password=%(set%)", err)
      assert.matches("POST [^\n]*/oauth/token %-> 200", err)
      assert.matches("GET [^\n]*/configuracao/status_atendimento %-> 200", err)
      local token = cjson.decode(util.read_file(cache .. "/hubsoft/"
        .. util.capture("ls " .. util.quote(cache .. "/hubsoft")))).access_token
      local c = srv.credentials
      for _, secret in ipairs { c.password, c.client_secret, token } do
        assert.is_nil((out .. err):find(secret, 1, true), "a secret was printed")
      end
      -- and on failure
      status, out, err = hubsoft({ "-v", "configuracao", "status_atendimento" },
                                 env { HUBSOFT_PASSWORD = "outra-senha-123", HUBSOFT_TOKEN_FILE = "" })
      assert.equals(3, status)
      assert.is_nil((out .. err):find("outra-senha-123", 1, true))
      assert.is_nil((out .. err):find(c.client_secret, 1, true))
    end)

    it("says with --verbose when the token cannot be kept, so repeated logins are explained", function()
      local dir = cache .. "/not-a-file"
      assert(util.capture("mkdir " .. util.quote(dir) .. " && echo ok") == "ok")
      local status, out, err = hubsoft({ "-v", "configuracao", "status_atendimento" },
                                       env { HUBSOFT_TOKEN_FILE = dir })
      assert.equals(0, status, err)
      assert.matches("hubsoft: the token could not be kept in " .. dir .. " (", err, 1, true)
      assert.matches("the next command logs in again\n", err, 1, true)
      local c = srv.credentials
      assert.is_nil((out .. err):find("tok-", 1, true), "a token was printed")
      assert.is_nil((out .. err):find(c.password, 1, true))
    end)

    it("never prints the credentials or query values inside a URL with --verbose", function()
      -- a proxy and a base_url with a login in them: hubsoft.new refuses both,
      -- after --verbose has shown the configuration
      local cfg = util.tmpname()
      util.write_file(cfg, cjson.encode { proxy = "http://proxyuser:pr0xy-Senha@127.0.0.1:1" })
      local status, out, err = hubsoft({ "-v", "--config", cfg, "configuracao", "disponibilidade" },
                                       env { HUBSOFT_TOKEN_FILE = "" })
      os.remove(cfg)
      assert.equals(2, status, err)
      assert.matches("proxy=http://(credentials)@127.0.0.1:1", err, 1, true)
      assert.is_nil((out .. err):find("pr0xy-Senha", 1, true), "the proxy's password was printed")
      status, out, err = hubsoft({ "-v", "configuracao", "disponibilidade" },
                                 env { HUBSOFT_BASE_URL = "https://bot:url-Senha1@h.example/?senha=url-Senha2" })
      assert.equals(2, status, err)
      assert.matches("must not contain credentials", err, 1, true)
      assert.is_nil((out .. err):find("url-Senha", 1, true), "a password inside base_url was printed")
    end)
  end)
end)

describe("hubsoft export", function()
  local srv, cache, dir
  local TOTAL = 45

  setup(function() srv = fake.start { seed_tickets = TOTAL } end)
  teardown(function() srv:stop() end)
  before_each(function()
    srv:reset()
    cache, dir = util.tmpdir(), util.tmpdir()
  end)
  after_each(function()
    util.rm_tmpdir(cache)
    util.rm_tmpdir(dir)
  end)

  local function env()
    local c = srv:config()
    return {
      HUBSOFT_BASE_URL = c.base_url, HUBSOFT_CLIENT_ID = c.client_id, HUBSOFT_CLIENT_SECRET = c.client_secret,
      HUBSOFT_USERNAME = c.username, HUBSOFT_PASSWORD = c.password, XDG_CACHE_HOME = cache,
    }
  end

  -- What the library itself reads, for comparison (the command keeps the nulls).
  local function expected()
    local cfg = srv:config()
    cfg.keep_nulls = true
    local api = require("hubsoft").new(cfg)
    local out = {}
    for r in api:each("todos_atendimentos", { itens_por_pagina = 10 }) do out[#out + 1] = r end
    api:close()
    return out
  end

  it("writes every record once, in order, as JSON lines, for 1, 2 and 4 pages in flight", function()
    local want = expected()
    assert.equals(TOTAL, #want)
    for _, n in ipairs { 1, 2, 4 } do
      local out = dir .. "/todos-" .. n .. ".jsonl"
      local status, stdout, err = hubsoft({ "export", "todos_atendimentos", "--itens_por_pagina", "10",
                                            "--concurrency", tostring(n), "--output", out }, env())
      assert.equals(0, status, err)
      assert.equals("", stdout)
      local got = decode_lines(util.read_file(out))
      assert.equals(TOTAL, #got)
      for i = 1, TOTAL do
        assert.equals(want[i].id_atendimento, got[i].id_atendimento)
        assert.equals(want[i].protocolo, got[i].protocolo)
      end
      assert.same(want[7], got[7])
    end
  end)

  it("writes JSON lines to stdout without --output, and walks consultar_atendimentos too", function()
    local status, out, err = hubsoft({ "export", "consultar_atendimentos", "--itens_por_pagina", "7",
                                        "--data_inicio", "2025-01-01", "--data_fim", "2025-12-31" }, env())
    assert.equals(0, status, err)
    local got = decode_lines(out)
    assert.equals(TOTAL, #got)
    local seen = {}
    for _, r in ipairs(got) do
      assert.is_nil(seen[r.id_atendimento])
      seen[r.id_atendimento] = true
    end
  end)

  it("writes CSV with a header and dotted columns that parse back to the records", function()
    local want = expected()
    local out = dir .. "/todos.csv"
    local status, _, err = hubsoft({ "export", "todos_atendimentos", "--itens_por_pagina", "10",
                                     "--format", "csv", "--output", out }, env())
    assert.equals(0, status, err)
    local rows = csv.parse(util.read_file(out))
    assert.equals(TOTAL + 1, #rows)
    local header = rows[1]
    local col = {}
    for i, name in ipairs(header) do col[name] = i end
    assert.is_not_nil(col["status.descricao"], "nested field flattened with a dot")
    assert.is_not_nil(col.protocolo)
    for i = 1, TOTAL do
      local row = rows[i + 1]
      assert.equals(#header, #row)
      assert.equals(tostring(want[i].id_atendimento), row[col.id_atendimento])
      assert.equals(want[i].status.descricao, row[col["status.descricao"]])
      assert.equals(want[i].protocolo, row[col.protocolo])
    end
  end)

  it("takes the CSV columns from the first record as sent, its null fields included", function()
    -- the first ticket is open (data_fechamento null); closed ones come later
    local want = expected()
    assert.equals(require("hubsoft").null, want[1].data_fechamento)
    local closed
    for i = 2, TOTAL do
      if type(want[i].data_fechamento) == "string" then closed = closed or i end
    end
    assert.is_not_nil(closed, "the seed holds a closed ticket")
    local status, out, err = hubsoft({ "export", "todos_atendimentos", "--itens_por_pagina", "10",
                                       "--format", "csv" }, env())
    assert.equals(0, status, err)
    local rows = csv.parse(out)
    local col = {}
    for i, name in ipairs(rows[1]) do col[name] = i end
    assert.is_not_nil(col.data_fechamento, "a column null in the first record was dropped")
    assert.equals("", rows[2][col.data_fechamento])
    assert.equals(want[closed].data_fechamento, rows[closed + 1][col.data_fechamento])
    -- and a call prints the nulls the server sent
    status, out, err = hubsoft({ "todos_atendimentos", "--itens_por_pagina", "1" }, env())
    assert.equals(0, status, err)
    assert.matches('"data_fechamento":null', out, 1, true)
  end)

  it("writes the chosen --columns, in that order", function()
    local want = expected()
    local status, out, err = hubsoft({ "export", "todos_atendimentos", "--itens_por_pagina", "10",
      "--format", "csv", "--columns", "protocolo,status.descricao,tipo_atendimento.descricao,nao_existe" }, env())
    assert.equals(0, status, err)
    local rows = csv.parse(out)
    assert.same({ "protocolo", "status.descricao", "tipo_atendimento.descricao", "nao_existe" }, rows[1])
    assert.equals(TOTAL + 1, #rows)
    assert.same({ want[3].protocolo, want[3].status.descricao, want[3].tipo_atendimento.descricao, "" }, rows[4])
  end)

  it("exits with the failure's status, keeping the records written before it", function()
    -- the first two pages pass (a fault that changes nothing), the third is an API error
    srv:fault { kind = "delay", seconds = 0, match = "/api/v1/integracao/atendimento/todos", times = 2 }
    srv:fault { kind = "error", match = "/api/v1/integracao/atendimento/todos" }
    local out = dir .. "/partial.jsonl"
    local status, _, err = hubsoft({ "export", "todos_atendimentos", "--itens_por_pagina", "10",
                                     "--concurrency", "1", "--output", out }, env())
    assert.equals(1, status)
    assert.matches("hubsoft: failed after 20 records from 2 pages", err, 1, true)
    assert.matches("\nhubsoft: [^\n]*api error", err)
    assert.equals(20, #decode_lines(util.read_file(out)))
  end)

  it("fails (status 1) when the output cannot be written, instead of passing for done", function()
    if not util.exists("/dev/full") then pending("no /dev/full") return end
    local status, _, err = hubsoft({ "export", "todos_atendimentos", "--itens_por_pagina", "10",
                                     "--output", "/dev/full" }, env())
    assert.equals(1, status)
    assert.matches("hubsoft: cannot write the output: No space left on device", err, 1, true)
    status, _, err = util.run("env " .. env_words(env()) .. " " .. util.LUA .. " " .. BIN
      .. " configuracao disponibilidade >/dev/full")
    assert.equals(1, status)
    assert.matches("hubsoft: cannot write the output: No space left on device", err, 1, true)
  end)

  it("refuses a method that is not paginated and bad options (status 2)", function()
    local status, _, err = hubsoft({ "export", "configuracao", "--recurso", "disponibilidade" }, env())
    assert.equals(2, status)
    assert.matches("not paginated", err, 1, true)
    status, _, err = hubsoft({ "export", "todos_atendimentos", "--format", "xml" }, env())
    assert.equals(2, status)
    assert.matches("--format must be jsonl or csv", err, 1, true)
    status, _, err = hubsoft({ "export", "todos_atendimentos", "--concurrency", "9" }, env())
    assert.equals(2, status)
    assert.matches("--concurrency must be an integer from 1 to 8", err, 1, true)
    status, _, err = hubsoft({ "export", "todos_atendimentos", "--data_inicio", "2025-13-01" }, env())
    assert.equals(2, status)
    assert.matches("data_inicio: must be a real calendar date", err, 1, true)
    assert.same({}, srv:requests("/api/"))
  end)

  describe("progress", function()
    local has_script = util.command_exists("script")

    it("is one plain summary line when stderr is not a terminal", function()
      local status, _, err = hubsoft({ "export", "todos_atendimentos", "--itens_por_pagina", "10",
                                       "--output", dir .. "/x.jsonl" }, env())
      assert.equals(0, status, err)
      assert.matches("^hubsoft: exported 45 records from 5 pages in [%d.]+ s[^\n]*\n$", err)
      assert.is_nil(err:find("\27", 1, true))
      assert.is_nil(err:find("\r", 1, true))
    end)

    -- script(1) runs the command on a pseudo-terminal and copies what it
    -- wrote there to its own stdout.
    local function on_tty(args)
      local words = { util.LUA, BIN }
      for _, a in ipairs(args) do words[#words + 1] = util.quote(a) end
      return util.run("env " .. env_words(env()) .. " script -qec "
        .. util.quote(table.concat(words, " ")) .. " /dev/null")
    end

    it("is a line redrawn in place on a terminal, with totals, rate and time left, erased at the end", function()
      if not has_script then pending("script(1) from util-linux is not installed") return end
      local out = dir .. "/tty.jsonl"
      local status, tty = on_tty { "export", "todos_atendimentos", "--itens_por_pagina", "10",
                                   "--concurrency", "1", "--output", out }
      assert.equals(0, status, tty)
      assert.equals(TOTAL, #decode_lines(util.read_file(out)))
      -- the first page always draws: its totals come from that page's metadata
      assert.matches("^\r%[#+%.+%]  10/45 records  1/5 pages  %d+ rec/s  ETA %d+:%d%d\27%[K", tty)
      -- then the line is erased and the summary written
      assert.matches("\r\27%[Khubsoft: exported 45 records from 5 pages in [%d.]+ s[^\n]*\r?\n$", tty)
      local _, newlines = tty:gsub("\n", "")
      assert.equals(1, newlines, "one line redrawn in place, then the summary")
    end)

    it("is not drawn when the records go to that same terminal, so none lands after the bar", function()
      if not has_script then pending("script(1) from util-linux is not installed") return end
      local status, tty = on_tty { "export", "todos_atendimentos", "--itens_por_pagina", "10",
                                   "--concurrency", "1", "--format", "csv", "--columns", "protocolo" }
      assert.equals(0, status, tty)
      assert.is_nil(tty:find("\27[K", 1, true), "an escape sequence among the records")
      assert.is_nil(tty:find("records  ", 1, true), "a progress line among the records")
      local _, newlines = tty:gsub("\n", "")
      assert.equals(1 + TOTAL + 1, newlines) -- header, records, summary
      assert.matches("\nhubsoft: exported " .. TOTAL .. " records from 5 pages in [%d.]+ s[^\n]*\r?\n$", tty)
    end)

    -- `verbose`: with --verbose the interrupt usually lands in the on_request
    -- hook, which the C core reports ("on_request hook failed") instead of raising
    local function ctrl_c_mid_export(verbose)
      -- slow pages, so the interrupt lands mid-walk
      srv:fault { kind = "delay", seconds = 0.3, match = "/atendimento/todos", times = 100 }
      local out, errf = dir .. "/int.jsonl", dir .. "/int.err"
      local p = assert(io.popen("env " .. env_words(env()) .. " " .. util.LUA .. " " .. BIN
        .. (verbose and " --verbose" or "")
        .. " export todos_atendimentos --itens_por_pagina 5 --concurrency 1 --output " .. util.quote(out)
        .. " 2>" .. util.quote(errf) .. " & pid=$!; echo $pid; wait $pid; echo $?"))
      local pid = tonumber(p:read("*l"))
      -- wait until the first page is written and the second asked for
      assert.is_true(util.wait_until(10, function()
        return #srv:requests("/api/v1/integracao/atendimento/todos") >= 2
      end))
      util.sh("kill -INT " .. pid)
      local status = tonumber(p:read("*l"))
      p:close()
      local err = util.read_file(errf)
      assert.equals(130, status, err)
      assert.matches("\nhubsoft: interrupted after %d+ records from %d+ pages?", "\n" .. err)
      local records, pages = err:match("interrupted after (%d+) records from (%d+) page")
      local got = decode_lines(util.read_file(out))
      assert.equals(tonumber(records), #got)
      assert.equals(tonumber(pages) * 5, #got)
      assert.is_true(#got >= 5 and #got < TOTAL)
      for i, r in ipairs(got) do assert.equals(5000 + i, r.id_atendimento) end
    end

    it("stops cleanly on Ctrl-C with the pages written so far flushed (status 130)", function()
      ctrl_c_mid_export(false)
    end)

    it("stops on Ctrl-C with --verbose too, where the interrupt lands in the request hook", function()
      ctrl_c_mid_export(true)
    end)
  end)
end)

describe("hubsoft fake-server", function()
  it("prints the variables that point the command at it, serves it, stops on Ctrl-C", function()
    local log = util.tmpname()
    local p = assert(io.popen(util.LUA .. " " .. BIN .. " fake-server --port 0 --seed-tickets 12 >"
      .. util.quote(log) .. " 2>&1 & pid=$!; echo $pid; wait $pid; echo $?"))
    local pid = tonumber(p:read("*l"))
    local first
    assert.is_true(util.wait_until(10, function()
      first = (util.read_file(log) or ""):match("^([^\n]*)\n")
      return first ~= nil
    end), util.read_file(log))
    local vars = {}
    for k, v in first:gmatch("(HUBSOFT_[%u_]+)=(%S+)") do vars[k] = v:gsub("^'(.*)'$", "%1") end
    assert.matches("^http://127%.0%.0%.1:%d+$", vars.HUBSOFT_BASE_URL)
    assert.same(fake.DEFAULT_CREDENTIALS, {
      client_id = vars.HUBSOFT_CLIENT_ID, client_secret = vars.HUBSOFT_CLIENT_SECRET,
      username = vars.HUBSOFT_USERNAME, password = vars.HUBSOFT_PASSWORD,
    })
    local cache = util.tmpdir()
    vars.XDG_CACHE_HOME = cache
    local status, out, err = hubsoft({ "export", "todos_atendimentos" }, vars)
    assert.equals(0, status, err)
    assert.equals(12, #decode_lines(out))
    status, out, err = hubsoft({ "configuracao", "tipo_atendimento" }, vars)
    assert.equals(0, status, err)
    assert.equals("success", decode_lines(out)[1].status)
    -- Ctrl-C stops it quietly (bounded: a server that swallows the interrupt
    -- must fail this spec, not hang the suite)
    util.sh("kill -INT " .. pid)
    local stopped = util.wait_until(10, function() return not util.sh("kill -0 " .. pid .. " 2>/dev/null") end)
    if not stopped then util.sh("kill -9 " .. pid) end
    assert.is_true(stopped, "fake-server still serving 10 s after Ctrl-C: " .. util.read_file(log))
    local exit = tonumber(p:read("*l"))
    p:close()
    assert.equals(130, exit)
    assert.not_matches("traceback", util.read_file(log))
    util.rm_tmpdir(cache)
    os.remove(log)
  end)

  it("stops serving when Ctrl-C lands inside a connection's coroutine (LuaJIT's global hook)", function()
    -- Under LuaJIT the interpreter's "interrupted!" can be raised in whatever
    -- coroutine runs next; simulated here on any Lua by a hook on each
    -- connection's coroutine. The server must stop, not log and serve on.
    local script = util.tmpname()
    util.write_file(script, ([[
      local create = coroutine.create
      coroutine.create = function(f)
        local co = create(f)
        debug.sethook(co, function() debug.sethook(co); error("interrupted!") end, "l")
        return co
      end
      local fake = require "hubsoft.fake_server"
      local ok, err = pcall(fake.serve, { idle_exit = 3, on_listen = function(port)
        os.execute(%q .. " -e 'local s = require(\"socket\").tcp(); s:connect(\"127.0.0.1\", "
          .. port .. "); s:send(\"GET / HTTP/1.1\\r\\n\\r\\n\"); s:receive(\"*a\"); s:close()' &")
      end })
      print(ok and "still serving until idle" or tostring(err))
    ]]):format(util.LUA))
    local status, out, err = util.run_lua(script)
    os.remove(script)
    assert.equals(0, status, err)
    assert.matches("^[^\n]*interrupted!\n$", out)
    assert.is_nil(out:find("still serving", 1, true), err)
  end)

  it("is a module a user's tests start, and a script", function()
    local script = util.tmpname()
    util.write_file(script, [[
      local hubsoft = require "hubsoft"
      local fake = require "hubsoft.fake_server"
      local srv = fake.start { seed_tickets = 3 }
      local api = hubsoft.new(srv:config())
      local n = 0
      for _ in api:each("todos_atendimentos", {}) do n = n + 1 end
      srv:fault { kind = "status", status = 503, match = "/api/", times = 10 }
      local _, err = api:configuracao("disponibilidade")
      io.write(n, " ", err.kind, " ", #srv:requests("/api/"), "\n")
      api:close()
      srv:stop()
    ]])
    local status, out, err = util.run_lua(script)
    os.remove(script)
    assert.equals(0, status, err)
    assert.equals("3 http 4\n", out) -- 3 records; then a 503 sent 3 times (2 retries), each recorded
  end)
end)

describe("hubsoft.cli.export.page_parts", function()
  local core = require "hubsoft.core"
  local page_parts = require("hubsoft.cli.export").page_parts

  it("finds the records beside a paginacao block under the row's key", function()
    local clientes = { { id_cliente = 1 }, { id_cliente = 2 } }
    local records, total, pages = page_parts({
      status = "success", msg = "ok", clientes = clientes,
      paginacao = { primeira_pagina = 0, ultima_pagina = 13, pagina_atual = 0, total_registros = "27" },
    }, core.null, "clientes")
    assert.equals(clientes, records)
    assert.equals(27, total)
    assert.equals(14, pages)
  end)

  it("finds the records of a Laravel paginator", function()
    local data = { { id_atendimento = 7 } }
    local records, total, pages = page_parts({
      status = "success",
      atendimentos = { current_page = 1, data = data, last_page = 3, per_page = 1, total = 3,
                       next_page_url = "https://elsewhere.example/?page=2" },
    }, core.null, "atendimentos")
    assert.equals(data, records)
    assert.equals(3, total)
    assert.equals(3, pages)
  end)

  it("says so when a page holds no list", function()
    assert.is_nil(page_parts({ status = "success", msg = "ok" }, core.null, "clientes"))
    assert.is_nil(page_parts({ status = "success", clientes = "x", paginacao = {} }, core.null, "clientes"))
    assert.is_nil(page_parts("text", core.null, "clientes"))
  end)
end)

describe("hubsoft.cli.writers", function()
  local core = require "hubsoft.core"
  local writers = require "hubsoft.cli.writers"

  local function written(records, columns)
    local chunks = {}
    local out = {
      write = function(self, ...)
        for i = 1, select("#", ...) do chunks[#chunks + 1] = select(i, ...) end
        return self
      end,
      flush = function(self) return self end,
    }
    local w = writers.csv(core, out, columns)
    for _, r in ipairs(records) do w.write(r) end
    w.close()
    return table.concat(chunks)
  end

  it("CSV: quotes what RFC 4180 says, flattens objects, lists as JSON, null as empty", function()
    local text = written {
      { id = 5448, nome = 'Silva, "Zé"', obs = "linha 1\r\nlinha 2", vazio = core.null,
        status = { descricao = "Pendente", cor = "amber" }, ids = { 1, 2 }, ok = true, valor = 99.5 },
    }
    local rows = csv.parse(text)
    assert.same({ "id", "ids", "nome", "obs", "ok", "status.cor", "status.descricao", "valor", "vazio" }, rows[1])
    assert.same({ "5448", "[1,2]", 'Silva, "Zé"', "linha 1\r\nlinha 2", "true", "amber", "Pendente", "99.5", "" },
                rows[2])
  end)

  it("CSV: a text a spreadsheet would run as a formula is written as text", function()
    local text = written({
      { a = "=HYPERLINK(\"http://x\",\"ok\")", b = "+55 11 98888-7777", c = "-1+2", d = "@SUM(A1)",
        e = "\tx", f = "nome=ok", g = -3, h = "" },
    }, { "a", "b", "c", "d", "e", "f", "g", "h" })
    local rows = csv.parse(text)
    assert.same({ "'=HYPERLINK(\"http://x\",\"ok\")", "'+55 11 98888-7777", "'-1+2", "'@SUM(A1)", "'\tx",
                  "nome=ok", "-3", "" }, rows[2])
  end)

  it("fails loudly when the output refuses a write", function()
    local out = { write = function() return nil, "No space left on device" end, flush = function() return true end }
    local w = writers.jsonl(core, out)
    local ok, err = pcall(w.write, { id = 1 })
    assert.is_false(ok)
    assert.same({ write_error = "No space left on device" }, err)
  end)
end)
